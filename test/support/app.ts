// Builds the real app on a real Postgres engine for a test file: embedded PGlite in memory by
// default, or the PostgreSQL server named by TEST_DATABASE_URL, in a schema of its own that is
// dropped afterwards (so test files can run in parallel against one server).
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { InjectOptions } from 'fastify';
import pg from 'pg';
import { buildApp } from '../../src/app.js';
import { openPglite, openPostgres, type Database, type PostgresOptions } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';
import { createAccessTokens, type AccessTokens } from '../../src/modules/auth/access-tokens.js';
import { generateSigningKeyPem, signingKeyFromPem } from '../../src/modules/auth/signing-key.js';
import { hashPassword } from '../../src/modules/auth/passwords.js';
import type { ConsoleSessionSettings } from '../../src/modules/auth/auth.service.js';
import { insertOperatorIfAbsent } from '../../src/modules/users/users.repository.js';
import { createLogger } from '../../src/platform/logger.js';
import { localKeyProvider } from '../../src/platform/crypto/key-provider.js';
import { createVault, type Vault } from '../../src/platform/crypto/vault.js';
import type { Metrics } from '../../src/platform/metrics.js';
import type { RateLimits } from '../../src/platform/rate-limits.js';
import { createSecretBox } from '../../src/modules/webhooks/webhook-secrets.js';
import type { WebhookSettings } from '../../src/modules/webhooks/webhooks.service.js';
import { collectCredentialHeaders, collectSensitive, recordLogs } from './report.js';

export const testDatabaseUrl = process.env.TEST_DATABASE_URL || undefined;
export const engine: 'pglite' | 'postgres' = testDatabaseUrl === undefined ? 'pglite' : 'postgres';

export const OPERATOR = { email: 'operator@test.local', password: 'operator-password-1' };

/**
 * The keys of every in-process test app: fixed, so that apps built on one database one after the
 * other read each other's customers, as restarted instances would. (Processes started by the tests
 * get ENCRYPTION_KEY and keep their keyring in the database, as deployed.)
 */
export const TEST_ENCRYPTION_KEY = Buffer.alloc(32, 7);
export const TEST_INDEX_KEY = Buffer.alloc(32, 9);
export const testVault = (): Vault => createVault(localKeyProvider(TEST_ENCRYPTION_KEY), TEST_INDEX_KEY);

export interface TestApp {
  app: Awaited<ReturnType<typeof buildApp>>;
  db: Database;
  accessTokens: AccessTokens;
  /** Every log line the app wrote, as text. */
  logs: string[];
  /** The app's webhook settings: its secret box (for a dispatcher) and destination rule. */
  webhooks: WebhookSettings;
  /** Its personal-data vault (testVault()). */
  vault: Vault;
  close(): Promise<void>;
}

export interface TestDatabase {
  db: Database;
  /** For PostgreSQL: options to open more pools on the same schema. */
  connection?: { connectionString: string; schema: string };
  drop(): Promise<void>;
}

export async function openTestDatabase(
  options: Pick<PostgresOptions, 'onCheckout' | 'preparedStatements'> = {},
): Promise<TestDatabase> {
  if (testDatabaseUrl === undefined) {
    const db = await openPglite(undefined);
    return { db, drop: () => db.close() };
  }
  const schema = `test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: testDatabaseUrl });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const db = openPostgres({
    connectionString: testDatabaseUrl,
    poolSize: 10,
    connectTimeoutMs: 5000,
    statementTimeoutMs: 10_000,
    schema,
    ...options,
  });
  return {
    db,
    connection: { connectionString: testDatabaseUrl, schema },
    drop: async () => {
      await db.close();
      const cleanup = new pg.Client({ connectionString: testDatabaseUrl });
      await cleanup.connect();
      await cleanup.query(`DROP SCHEMA ${schema} CASCADE`);
      await cleanup.end();
    },
  };
}

export async function startTestApp(
  options: {
    database?: TestDatabase;
    corsOrigins?: string[];
    rateLimits?: RateLimits;
    webhooks?: Partial<WebhookSettings>;
    metrics?: Metrics;
    console?: ConsoleSessionSettings;
  } = {},
): Promise<TestApp> {
  const database = options.database ?? (await openTestDatabase());
  await migrate(database.db);
  await insertOperatorIfAbsent(database.db, {
    email: OPERATOR.email,
    passwordHash: await hashPassword(OPERATOR.password),
  });
  const webhooks: WebhookSettings = {
    secretBox: options.webhooks?.secretBox ?? createSecretBox(randomBytes(32).toString('base64')),
    allowPrivateNetworks: options.webhooks?.allowPrivateNetworks ?? false,
  };
  const { app, accessTokens, logs, vault } = await buildAppOn(database.db, { ...options, webhooks });
  return {
    app,
    db: database.db,
    accessTokens,
    logs,
    webhooks,
    vault,
    close: async () => {
      await app.close();
      await database.drop();
    },
  };
}

// Every app this test process builds: its log lines, and the personal values and secrets its
// callers sent or received, written out when the process ends for the run's log scan.
const builtApps: { lines: string[]; sensitive: Set<string> }[] = [];
process.on('exit', () => {
  const sensitive = new Set(builtApps.flatMap((built) => [...built.sensitive]));
  recordLogs(
    process.argv[1] ?? 'test',
    builtApps.flatMap((built) => built.lines),
    sensitive,
  );
});

function parsedJson(text: unknown): unknown {
  if (typeof text !== 'string') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Makes app.inject note the sensitive values of every request and response. */
function watchInjections(app: Awaited<ReturnType<typeof buildApp>>, sensitive: Set<string>): void {
  const inject = app.inject.bind(app);
  const watched = async (options: InjectOptions | string) => {
    if (typeof options === 'object') {
      collectCredentialHeaders(options.headers, sensitive);
      collectSensitive(
        typeof options.payload === 'string' ? parsedJson(options.payload) : options.payload,
        sensitive,
      );
    }
    const response = await inject(options);
    collectSensitive(parsedJson(response.body), sensitive);
    return response;
  };
  Object.assign(app, { inject: watched });
}

/**
 * The real app on a given database (migrated or not, reachable or not), with its own token issuer
 * and a log sink the test can read.
 */
export async function buildAppOn(
  db: Database,
  options: {
    corsOrigins?: string[];
    rateLimits?: RateLimits;
    accessTokens?: AccessTokens;
    webhooks?: WebhookSettings;
    metrics?: Metrics;
    vault?: Vault;
    console?: ConsoleSessionSettings;
  } = {},
): Promise<{
  app: Awaited<ReturnType<typeof buildApp>>;
  accessTokens: AccessTokens;
  logs: string[];
  vault: Vault;
}> {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(chunk.toString());
      callback();
    },
  });
  const accessTokens =
    options.accessTokens ??
    (await createAccessTokens({
      key: await signingKeyFromPem(generateSigningKeyPem()),
      issuer: 'customercore',
      audience: 'customercore-api',
      ttlSeconds: 900,
    }));
  const vault = options.vault ?? testVault();
  const app = await buildApp({
    db,
    logger: createLogger('debug', sink),
    accessTokens,
    refreshTokenTtlSeconds: 3600,
    trustProxy: false,
    vault,
    ...(options.corsOrigins === undefined ? {} : { corsOrigins: options.corsOrigins }),
    ...(options.rateLimits === undefined ? {} : { rateLimits: options.rateLimits }),
    ...(options.webhooks === undefined ? {} : { webhooks: options.webhooks }),
    ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
    ...(options.console === undefined ? {} : { console: options.console }),
  });
  const sensitive = new Set<string>();
  watchInjections(app, sensitive);
  builtApps.push({ lines: logs, sensitive });
  return { app, accessTokens, logs, vault };
}
