// Personal data at rest (contract "Personal data at rest, and erasure"; docs/decisions.md).
//
// Key hierarchy, after CipherSweet and every cloud KMS's envelope encryption:
//   KEK (KeyProvider: ENCRYPTION_KEY, rotatable)
//    ├─ wraps each customer's data key (customers.data_key): 32 random bytes, AES-256-GCM, which
//    │  encrypts that customer's fields and every old and new value of its history. Destroying
//    │  it (erasure) makes all of them unreadable for good, whoever holds the database and the KEK.
//    └─ wraps the blind-index key (encryption_keyring), 32 random bytes, from which HKDF derives
//       one HMAC key per institution and field: equal emails in two institutions do not link,
//       and the index key never changes when the KEK rotates, so no index has to be rebuilt.
//
// A sealed value is base64 of: format byte 1 · 12-byte nonce · ciphertext · 16-byte tag. Its
// associated data names the customer and the field (for history also the version and side), so
// a value copied to another row, column or entry fails to decrypt instead of reading as another's.
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import type { Database, Queryable } from '../../db/database.js';
import { gcmOpen, gcmSeal } from './aes-gcm.js';
import { KeyMismatchError, localKeyProvider, wrappedVersion, type KeyProvider } from './key-provider.js';

const FORMAT = 1;
const INDEX_KEY_PURPOSE = 'blind-index';
// One key for every instance; any constant works (migrate.ts uses another).
const KEYRING_LOCK_KEY = 727_115_013;

/** The fields with a blind index: exact find, and email's uniqueness per institution. */
export type IndexedField = 'email' | 'phoneNumber';

export interface CustomerKeyIds {
  institutionId: string;
  customerId: string;
}

export interface Vault {
  readonly keys: KeyProvider;
  /** A new customer's data key, and the same wrapped under the current KEK. */
  newDataKey(ids: CustomerKeyIds): Promise<{ key: Buffer; wrapped: Buffer }>;
  /** The customer's data key, from the cache of recently unwrapped keys when it is there. */
  openDataKey(wrapped: Uint8Array, ids: CustomerKeyIds): Promise<Buffer>;
  /** Drops the customer's data key from this process's cache (erasure). */
  forgetDataKey(ids: CustomerKeyIds): void;
  /** Re-wraps a data key under the current KEK (rotation). */
  rewrapDataKey(wrapped: Uint8Array, ids: CustomerKeyIds): Promise<Buffer>;
  seal(key: Buffer, label: string, value: string): string;
  open(key: Buffer, label: string, sealed: string): string;
  /** The blind index of a normalised value (see normalise()). */
  blindIndex(institutionId: string, field: IndexedField, value: string): Buffer;
}

/** What a blind index is computed over: equal for values the API treats as equal. */
export function normalise(field: IndexedField, value: string): string {
  // Emails compare case-insensitively (contract, Field rules); phones are already E.164.
  return field === 'email' ? value.trim().toLowerCase() : value.trim();
}

const dataKeyContext = (ids: CustomerKeyIds) =>
  `customercore:data-key:${ids.institutionId}:${ids.customerId}`;
const indexKeyContext = 'customercore:blind-index-key';

/** The associated data of a customer's field. */
export const fieldLabel = (customerId: string, field: string) => `customer:${customerId}:${field}`;
/** The associated data of one history entry's change of one field (both values, sealed together). */
export const historyLabel = (customerId: string, version: number, field: string) =>
  `history:${customerId}:${version}:${field}`;

function sealWith(key: Buffer, label: string, value: string): string {
  return Buffer.concat([Buffer.from([FORMAT]), gcmSeal(key, label, value)]).toString('base64');
}

function openWith(key: Buffer, label: string, sealed: string): string {
  const bytes = Buffer.from(sealed, 'base64');
  if (bytes[0] !== FORMAT) throw new Error('Not a sealed value');
  return gcmOpen(key, label, bytes.subarray(1)).toString('utf8');
}

/**
 * How long, and how many, unwrapped data keys are kept in memory. A read of a customer would
 * otherwise ask the key provider to unwrap its key every time: one AES-GCM operation of six on
 * `details` with the local provider, and a network call to the KMS with a remote one. As the AWS
 * Encryption SDK's data key cache does, entries are bounded in age and number; an erasure drops
 * its key here at once, and a key erased through another instance is never used again (its
 * wrapped key is gone from the row, and a read without one opens nothing), only kept in that
 * instance's memory until it ages out.
 */
export const DATA_KEY_CACHE = { maxAgeMs: 5 * 60_000, maxEntries: 10_000 } as const;

/** Recently unwrapped data keys, by customer, each with the wrapped form it came from. */
class DataKeyCache {
  private readonly entries = new Map<string, { wrapped: Buffer; key: Buffer; expires: number }>();

  constructor(private readonly limits: { maxAgeMs: number; maxEntries: number }) {}

  get(name: string, wrapped: Uint8Array, now = Date.now()): Buffer | undefined {
    const entry = this.entries.get(name);
    if (entry === undefined) return undefined;
    // A key re-wrapped since (a rotation) is the same key, but the entry is checked against what
    // the row holds now, so the cache can never answer for a wrapped key it did not unwrap.
    if (entry.expires <= now || !entry.wrapped.equals(wrapped)) {
      this.entries.delete(name);
      return undefined;
    }
    return entry.key;
  }

  set(name: string, wrapped: Uint8Array, key: Buffer, now = Date.now()): void {
    this.entries.delete(name);
    if (this.entries.size >= this.limits.maxEntries) {
      // The oldest entry goes first (a Map iterates in insertion order).
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(name, { wrapped: Buffer.from(wrapped), key, expires: now + this.limits.maxAgeMs });
  }

  delete(name: string): void {
    this.entries.delete(name);
  }
}

/** The vault over keys already loaded: the provider and the unwrapped blind-index key. */
export function createVault(
  keys: KeyProvider,
  indexKey: Buffer,
  cacheLimits: { maxAgeMs: number; maxEntries: number } = DATA_KEY_CACHE,
): Vault {
  const dataKeys = new DataKeyCache(cacheLimits);
  const cacheName = (ids: CustomerKeyIds) => `${ids.institutionId}:${ids.customerId}`;
  // Derived keys are cached: one HKDF per institution and field, not per request.
  const derived = new Map<string, Buffer>();
  const indexKeyOf = (institutionId: string, field: IndexedField) => {
    const name = `${institutionId}:${field}`;
    let key = derived.get(name);
    if (key === undefined) {
      key = Buffer.from(hkdfSync('sha256', indexKey, 'customercore blind index v1', name, 32));
      if (derived.size >= 10_000) derived.clear();
      derived.set(name, key);
    }
    return key;
  };
  return {
    keys,
    async newDataKey(ids) {
      const key = randomBytes(32);
      const wrapped = await keys.wrap(key, dataKeyContext(ids));
      // A customer is usually read soon after it is created.
      dataKeys.set(cacheName(ids), wrapped, key);
      return { key, wrapped };
    },
    async openDataKey(wrapped, ids) {
      const name = cacheName(ids);
      const cached = dataKeys.get(name, wrapped);
      if (cached !== undefined) return cached;
      const key = await keys.unwrap(wrapped, dataKeyContext(ids));
      dataKeys.set(name, wrapped, key);
      return key;
    },
    forgetDataKey(ids) {
      dataKeys.delete(cacheName(ids));
    },
    async rewrapDataKey(wrapped, ids) {
      return keys.wrap(await keys.unwrap(wrapped, dataKeyContext(ids)), dataKeyContext(ids));
    },
    seal: sealWith,
    open: openWith,
    blindIndex: (institutionId, field, value) =>
      createHmac('sha256', indexKeyOf(institutionId, field)).update(normalise(field, value)).digest(),
  };
}

/**
 * Loads the blind-index key from the keyring, creating it on a database that has none, and
 * refuses a KEK that does not match the data: a wrong key must never write a second generation
 * of data beside the first. Also wraps the index key under the current KEK version when only an
 * older one has it (the first start after a rotation began).
 */
export async function openVault(db: Database, keys: KeyProvider): Promise<Vault> {
  const indexKey = await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [KEYRING_LOCK_KEY]);
    const rows = await tx.query<{ key_version: string; wrapped: Uint8Array }>(
      'SELECT key_version, wrapped FROM encryption_keyring WHERE purpose = $1',
      [INDEX_KEY_PURPOSE],
    );
    if (rows.length === 0) {
      const existing = await tx.query('SELECT 1 FROM customers WHERE data_key IS NOT NULL LIMIT 1');
      if (existing.length > 0) {
        throw new KeyMismatchError(
          'the database holds encrypted customers but no keyring: it cannot be read with any key',
        );
      }
      const key = randomBytes(32);
      await storeIndexKey(tx, keys, key);
      return key;
    }
    const held = rows.find((row) => keys.versions.includes(row.key_version));
    if (held === undefined) {
      throw new KeyMismatchError(
        `the data was encrypted with key version(s) ${rows.map((row) => row.key_version).join(', ')}, ` +
          `and this key is version ${keys.currentVersion}: set the key the data was made with ` +
          '(or, while rotating, give it in ENCRYPTION_PREVIOUS_KEYS)',
      );
    }
    const key = await keys.unwrap(held.wrapped, indexKeyContext);
    if (!rows.some((row) => row.key_version === keys.currentVersion)) await storeIndexKey(tx, keys, key);
    return key;
  });
  return createVault(keys, indexKey);
}

async function storeIndexKey(tx: Queryable, keys: KeyProvider, key: Buffer): Promise<void> {
  const wrapped = await keys.wrap(key, indexKeyContext);
  await tx.query(
    `INSERT INTO encryption_keyring (purpose, key_version, wrapped) VALUES ($1, $2, $3)
     ON CONFLICT (purpose, key_version) DO NOTHING`,
    [INDEX_KEY_PURPOSE, wrappedVersion(wrapped), wrapped],
  );
}

/**
 * Re-wraps the keyring under the current KEK version (the end of a rotation): makes sure the index
 * key is wrapped under it (unwrapping it from any held version), then forgets its wrappings under
 * every other version, in one transaction under the keyring's lock. Returns how many wrappings
 * under other versions it replaced. The index key itself never changes, so no blind index moves.
 */
export async function rewrapKeyring(db: Database, keys: KeyProvider): Promise<number> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [KEYRING_LOCK_KEY]);
    const rows = await tx.query<{ key_version: string; wrapped: Uint8Array }>(
      'SELECT key_version, wrapped FROM encryption_keyring WHERE purpose = $1',
      [INDEX_KEY_PURPOSE],
    );
    if (!rows.some((row) => row.key_version === keys.currentVersion)) {
      const held = rows.find((row) => keys.versions.includes(row.key_version));
      if (held === undefined) {
        throw new KeyMismatchError(
          `the keyring holds key version(s) ${rows.map((row) => row.key_version).join(', ')}, none of them held`,
        );
      }
      await storeIndexKey(tx, keys, await keys.unwrap(held.wrapped, indexKeyContext));
    }
    return dropRetiredIndexKeys(tx, keys);
  });
}

/** Forgets the index key's wrappings under versions other than the current (end of a rotation). */
export async function dropRetiredIndexKeys(db: Queryable, keys: KeyProvider): Promise<number> {
  const rows = await db.query(
    'DELETE FROM encryption_keyring WHERE purpose = $1 AND key_version <> $2 RETURNING key_version',
    [INDEX_KEY_PURPOSE, keys.currentVersion],
  );
  return rows.length;
}

/**
 * A vault with keys of its own that no one else holds: for a process whose data dies with it (the
 * OpenAPI generator, benchmarks on a scratch database). What it seals, nothing else can open.
 */
export const ephemeralVault = (): Vault => createVault(localKeyProvider(randomBytes(32)), randomBytes(32));
