// `npm run keys:rotate [-- --batch-size N]` re-wraps every customer's data key and the keyring under
// the current ENCRYPTION_KEY, in batches, while the service runs (docs/operations.md, "Encryption
// keys", has the whole procedure). It reads the service's own configuration (the environment, then
// .env): DATABASE_URL, or else the embedded database in DATA_DIR, whose lock it takes like the
// service does (so on the embedded database the service must be stopped), and ENCRYPTION_KEY
// (_FILE) or DATA_DIR/encryption.key, with ENCRYPTION_PREVIOUS_KEYS (_FILE) for the old versions.
// Progress goes to stderr; the result, and whether ENCRYPTION_PREVIOUS_KEYS can go, to stdout.
// Exit codes: 0 done, 78 a key or configuration problem, 1 anything else (run it again to go on).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config } from '../src/config.js';
import { DataDirLockedError, lockDataDir, type DataDirLock } from '../src/db/data-dir-lock.js';
import { openPglite, openPostgres, type Database } from '../src/db/database.js';
import {
  dataDirEncryptionKey,
  decodeKey,
  KeyMismatchError,
  localKeyProvider,
  type KeyProvider,
} from '../src/platform/crypto/key-provider.js';
import {
  keyringHasVersion,
  keysToRewrap,
  rotateKeys,
  RotationConflictError,
} from '../src/platform/crypto/key-rotation.js';
import { openVault } from '../src/platform/crypto/vault.js';
import { progressBar } from './seed.js';

/** A failure with its own message and exit code (no stack trace). */
class Failure extends Error {
  constructor(
    message: string,
    readonly code = 1,
  ) {
    super(message);
  }
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

const procedure = 'see docs/operations.md, "Encryption keys"';

/** The service's keys, as src/main.ts builds them, except that a missing key file is not created. */
function keyProvider(config: Config): KeyProvider {
  let current = config.encryptionKey;
  let variable = 'ENCRYPTION_KEY';
  if (current === undefined) {
    variable = 'DATA_DIR/encryption.key';
    if (!existsSync(path.join(config.dataDir, 'encryption.key'))) {
      throw new Failure(
        `ENCRYPTION_KEY is not set and ${path.join(config.dataDir, 'encryption.key')} does not exist: ` +
          'there is no key to re-wrap under',
        78,
      );
    }
    current = dataDirEncryptionKey(config.dataDir);
  }
  try {
    return localKeyProvider(
      decodeKey(current, variable),
      config.previousEncryptionKeys.map((key) => decodeKey(key, 'ENCRYPTION_PREVIOUS_KEYS')),
    );
  } catch (error) {
    throw new Failure(`Invalid configuration: ${(error as Error).message}`, 78);
  }
}

async function openDatabase(config: Config): Promise<{ db: Database; lock?: DataDirLock }> {
  if (config.databaseUrl !== undefined) {
    const db = openPostgres({
      connectionString: config.databaseUrl,
      poolSize: 2,
      connectTimeoutMs: config.databaseConnectTimeoutMs,
      // The counts and a resumed pass's first batch read the whole table: longer than any request.
      statementTimeoutMs: Math.max(config.databaseStatementTimeoutMs, 30 * 60_000),
      preparedStatements: config.databasePreparedStatements,
    });
    process.stderr.write('Re-wrapping keys on PostgreSQL from DATABASE_URL\n');
    return { db };
  }
  const pgdata = path.join(config.dataDir, 'pgdata');
  if (!existsSync(pgdata)) throw new Failure(`There is no embedded database in ${config.dataDir}`);
  let lock: DataDirLock;
  try {
    lock = lockDataDir(config.dataDir);
  } catch (error) {
    if (!(error instanceof DataDirLockedError)) throw error;
    const pid = /\(pid (\d+)\)/.exec(error.message)?.[1];
    throw new Failure(
      `The data directory ${config.dataDir} is in use by a running CustomerCore service` +
        (pid === undefined ? '' : ` (pid ${pid})`) +
        '. The embedded database allows one process at a time: stop the service, run ' +
        '`npm run keys:rotate` again, then start the service (re-wrapping while the service runs ' +
        'needs DATABASE_URL).',
    );
  }
  process.stderr.write(`Re-wrapping keys in the embedded database in ${config.dataDir}\n`);
  return { db: await openPglite(pgdata), lock };
}

async function rotate(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { 'batch-size': { type: 'string' } } });
  const batchSize = values['batch-size'] === undefined ? 500 : Number(values['batch-size']);
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
    throw new Failure(
      '--batch-size must be a whole number from 1 to 10000\nusage: npm run keys:rotate [-- --batch-size N]',
    );
  }
  // The same sources as the service: the environment, then .env for what it does not set.
  if (existsSync('.env')) process.loadEnvFile('.env');
  let config: Config;
  try {
    config = loadConfig(process.env, (file) => readFileSync(file, 'utf8'));
  } catch (error) {
    if (error instanceof ConfigError) throw new Failure(error.message, 78);
    throw error;
  }
  const keys = keyProvider(config);
  const version = keys.currentVersion;
  const { db, lock } = await openDatabase(config);
  const interrupt = new AbortController();
  const stop = () => {
    if (interrupt.signal.aborted) process.exit(130);
    process.stderr.write('\nStopping after this batch (Ctrl-C again to stop at once)\n');
    interrupt.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    const [migrated] = await db.query<{ ok: boolean }>(
      "SELECT to_regclass('encryption_keyring') IS NOT NULL AS ok",
    );
    if (migrated?.ok !== true) {
      throw new Failure('The database has no encryption keyring yet: start the service on it once first');
    }
    // Several instances share a server: re-wrapping under a key no instance uses yet would hand
    // every instance still on the old configuration keys it cannot unwrap. openVault() records the
    // version of each current key an instance starts with, so this one must be there already.
    if (config.databaseUrl !== undefined && !(await keyringHasVersion(db, version))) {
      throw new Failure(
        `No instance has started with this ENCRYPTION_KEY (key version ${version}) yet. First restart ` +
          'every instance with it as ENCRYPTION_KEY and the old key in ENCRYPTION_PREVIOUS_KEYS, ' +
          `then run this again (${procedure}).`,
        78,
      );
    }
    let vault;
    try {
      vault = await openVault(db, keys);
    } catch (error) {
      if (error instanceof KeyMismatchError) {
        throw new Failure(`Invalid configuration: the keys do not match the data: ${error.message}`, 78);
      }
      throw error;
    }
    const total = await keysToRewrap(db, version);
    process.stderr.write(
      `${total} keys are wrapped under other versions than ${version}; batches of ${batchSize}\n`,
    );
    const bar = progressBar(total, 'keys');
    let result;
    try {
      result = await rotateKeys(db, vault, {
        batchSize,
        signal: interrupt.signal,
        onProgress: (progress) => {
          if (total > 0) bar.update(Math.min(progress.rewrapped, total));
        },
      });
    } finally {
      if (total > 0) bar.finish();
    }
    const left = await keysToRewrap(db, version);
    const rewrapped = result.dataKeys + result.keyring;
    process.stdout.write(
      `Re-wrapped ${plural(rewrapped, 'key', 'keys')} under key version ${version} ` +
        `(${plural(result.dataKeys, 'customer data key', 'customer data keys')} and ${plural(result.keyring, 'keyring entry', 'keyring entries')}); ` +
        `${left} left under other versions.\n`,
    );
    if (left === 0) {
      process.stdout.write(
        'ENCRYPTION_PREVIOUS_KEYS can now be removed: restart every instance without it. Keep the old ' +
          'key for as long as you keep backups taken before now: they hold keys wrapped by it.\n',
      );
    } else {
      throw new Failure(`${left} keys are still under other versions: run this again (${procedure})`);
    }
  } catch (error) {
    if (interrupt.signal.aborted) {
      throw new Failure('Stopped: every batch done so far is committed; run this again to go on');
    }
    if (error instanceof RotationConflictError) throw new Failure(`${error.message} (${procedure})`);
    if (error instanceof KeyMismatchError) {
      throw new Failure(
        `A key cannot be unwrapped: ${error.message}. Give every key the data still uses in ` +
          `ENCRYPTION_PREVIOUS_KEYS (${procedure})`,
        78,
      );
    }
    throw error;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await db.close();
    lock?.release();
  }
}

/**
 * Runs the command with `args` (`--batch-size N`); resolves to its exit code, having printed any
 * failure on stderr. Also `customercore keys rotate` (packages/cli).
 */
export async function keysRotate(args: string[], name = 'keys:rotate'): Promise<number> {
  try {
    await rotate(args);
    return 0;
  } catch (error) {
    const text =
      error instanceof Failure
        ? error.message
        : error instanceof Error
          ? (error.stack ?? error.message)
          : String(error);
    process.stderr.write(`${name}: ${text}\n`);
    return error instanceof Failure ? error.code : 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exit(await keysRotate(process.argv.slice(2)));
}
