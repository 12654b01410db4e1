// Key rotation (issue 13, point 3; docs/operations.md "Encryption keys"): re-wraps every customer's
// data key, and then the keyring, under the KeyProvider's current KEK version. Only the wrapping
// changes: each data key, and so every sealed value and blind index, stays as it is.
//
// Safe while the service runs: each batch is one transaction that locks its rows with
// FOR UPDATE SKIP LOCKED (a customer being updated or erased right now is skipped and picked up by
// the next pass), and writes a row's new wrapping only while it still holds the one read, so an
// erasure (data_key NULL) is never undone. Safe to interrupt: each batch commits whole, and a run
// again goes on from the keys still under another version (a pass walks the primary key, so what
// is already done costs one index scan). Instances must all hold both versions meanwhile; that is
// the operator's procedure, which rotateKeys() checks as far as it can see (RotationConflictError).
import type { Database, Queryable } from '../../db/database.js';
import { wrappedVersion } from './key-provider.js';
import { rewrapKeyring, type Vault } from './vault.js';

export interface RotationProgress {
  /** Keys this run has re-wrapped so far. */
  rewrapped: number;
  /** Keys still under another version: counted at the start, less what was re-wrapped since. */
  remaining: number;
}

export interface RotationOptions {
  /** Customers per transaction (default 500). */
  batchSize?: number;
  onProgress?: (progress: RotationProgress) => void;
  /** How long to wait before another pass over rows that were locked (default 200 ms). */
  retryDelayMs?: number;
  /** Passes after which rows still locked make it give up (default 50; a run again goes on). */
  maxPasses?: number;
  /** Stops between batches (what is committed stays committed; a run again goes on). */
  signal?: AbortSignal;
}

export interface RotationResult {
  /** Customers' data keys re-wrapped. */
  dataKeys: number;
  /** Keyring entries (the blind-index key) re-wrapped. */
  keyring: number;
}

/**
 * A customer created after the rotation began has a data key under another version: some instance
 * still wraps new keys with an older ENCRYPTION_KEY, and may not hold the current one.
 */
export class RotationConflictError extends Error {
  constructor(version: string) {
    super(
      `a customer created after the rotation began has its data key under key version ${version}: ` +
        'an instance still runs with that key as ENCRYPTION_KEY. Restart every instance with the new ' +
        'ENCRYPTION_KEY (and the old one in ENCRYPTION_PREVIOUS_KEYS), then run the rotation again',
    );
    this.name = 'RotationConflictError';
  }
}

// Byte 0 of a wrapped key is its format, bytes 1-8 its KEK version (key-provider.ts, wrappedVersion).
const OTHER_VERSION = `data_key IS NOT NULL AND substring(data_key FROM 2 FOR 8) <> decode($1, 'hex')`;

async function dataKeysToRewrap(db: Queryable, version: string): Promise<number> {
  const [row] = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM customers WHERE ${OTHER_VERSION}`,
    [version],
  );
  return row?.n ?? 0;
}

async function keyringToRewrap(db: Queryable, version: string): Promise<number> {
  const [row] = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM encryption_keyring WHERE key_version <> $1',
    [version],
  );
  return row?.n ?? 0;
}

/**
 * How many keys (customers' data keys and keyring entries; erased customers have none) are still
 * wrapped under a version other than `currentVersion`. 0: the previous keys can be removed.
 */
export async function keysToRewrap(db: Queryable, currentVersion: string): Promise<number> {
  return (await dataKeysToRewrap(db, currentVersion)) + (await keyringToRewrap(db, currentVersion));
}

/** Whether any instance has started with `version` as its current key (openVault wrote it). */
export async function keyringHasVersion(db: Queryable, version: string): Promise<boolean> {
  const rows = await db.query('SELECT 1 FROM encryption_keyring WHERE key_version = $1', [version]);
  return rows.length > 0;
}

interface KeyRow extends Record<string, unknown> {
  id: string;
  institutionId: string;
  dataKey: Uint8Array;
  createdSinceStart: boolean;
}

/** Re-wraps one batch of data keys after the id `after`; returns the last id seen and the count. */
async function rewrapBatch(
  db: Database,
  vault: Vault,
  after: string | undefined,
  batchSize: number,
  startedAt: string,
): Promise<{ last: string | undefined; rewrapped: number }> {
  const version = vault.keys.currentVersion;
  return db.transaction(async (tx) => {
    const rows = await tx.query<KeyRow>(
      `SELECT id, institution_id AS "institutionId", data_key AS "dataKey",
              created_at > $3::timestamptz AS "createdSinceStart"
         FROM customers
        WHERE ${OTHER_VERSION} ${after === undefined ? '' : 'AND id > $4::uuid'}
        ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED`,
      after === undefined ? [version, batchSize, startedAt] : [version, batchSize, startedAt, after],
    );
    const conflict = rows.find((row) => row.createdSinceStart);
    if (conflict !== undefined) {
      throw new RotationConflictError(wrappedVersion(conflict.dataKey));
    }
    const ids: string[] = [];
    const institutions: string[] = [];
    const oldKeys: string[] = [];
    const newKeys: string[] = [];
    for (const row of rows) {
      const owner = { institutionId: row.institutionId, customerId: row.id };
      const rewrapped = await vault.rewrapDataKey(row.dataKey, owner);
      ids.push(row.id);
      institutions.push(row.institutionId);
      oldKeys.push(Buffer.from(row.dataKey).toString('hex'));
      newKeys.push(rewrapped.toString('hex'));
    }
    if (rows.length > 0) {
      // Only while the row still holds the wrapping read (it is locked, so it does: belt and braces).
      await tx.query(
        `UPDATE customers c SET data_key = decode(u.new_key, 'hex')
           FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[]) AS u(id, institution_id, old_key, new_key)
          WHERE c.id = u.id AND c.institution_id = u.institution_id AND c.data_key = decode(u.old_key, 'hex')`,
        [ids, institutions, oldKeys, newKeys],
      );
    }
    return { last: rows.at(-1)?.id, rewrapped: rows.length };
  });
}

/**
 * Re-wraps, under the vault's current KEK version, every customer data key and keyring entry
 * wrapped under another, in batches; returns how many of each it re-wrapped. On return none is
 * left under another version (unless it throws). The vault must come from openVault() with a
 * provider holding every version the data uses (the current one, and the previous ones).
 */
export async function rotateKeys(
  db: Database,
  vault: Vault,
  options: RotationOptions = {},
): Promise<RotationResult> {
  const batchSize = options.batchSize ?? 500;
  const retryDelayMs = options.retryDelayMs ?? 200;
  const maxPasses = options.maxPasses ?? 50;
  const version = vault.keys.currentVersion;
  const [clock] = await db.query<{ now: string }>('SELECT now()::text AS now');
  const startedAt = clock?.now ?? new Date().toISOString();
  let total = await keysToRewrap(db, version);
  let dataKeys = 0;
  const report = () =>
    options.onProgress?.({ rewrapped: dataKeys, remaining: Math.max(total - dataKeys, 0) });
  report();
  for (let pass = 1; ; pass++) {
    let after: string | undefined;
    for (;;) {
      options.signal?.throwIfAborted();
      const batch = await rewrapBatch(db, vault, after, batchSize, startedAt);
      if (batch.last === undefined) break;
      after = batch.last;
      dataKeys += batch.rewrapped;
      report();
    }
    const left = await dataKeysToRewrap(db, version);
    if (left === 0) break;
    // Rows locked by requests were skipped: another pass, once they are done.
    if (pass >= maxPasses) {
      throw new Error(`${left} data keys stayed locked through ${pass} passes; run the rotation again`);
    }
    total = dataKeys + left + (await keyringToRewrap(db, version));
    await new Promise((resolve) => setTimeout(resolve, retryDelayMs));
  }
  const keyring = await rewrapKeyring(db, vault.keys);
  options.onProgress?.({ rewrapped: dataKeys + keyring, remaining: 0 });
  return { dataKeys, keyring };
}
