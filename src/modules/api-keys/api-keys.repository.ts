// API keys, always scoped by their institution.
import { one, prepared, type Queryable } from '../../db/database.js';
import type { Scope } from '../../platform/principal.js';

export interface ApiKeyRow {
  id: string;
  institution_id: string;
  name: string;
  prefix: string;
  scopes: Scope[];
  /** Normalised addresses and CIDR ranges; null means any address. */
  allowed_ips: string[] | null;
  expires_at: Date | null;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const columns =
  'id, institution_id, name, prefix, scopes, allowed_ips, expires_at, created_at, last_used_at, revoked_at';

export async function insertApiKey(
  db: Queryable,
  institutionId: string,
  key: {
    name: string;
    prefix: string;
    keyHash: string;
    scopes: readonly Scope[];
    allowedIps: readonly string[] | null;
    expiresAt: string | null;
    createdBy: string;
  },
): Promise<ApiKeyRow> {
  return one(
    await db.query<ApiKeyRow & Record<string, unknown>>(
      `INSERT INTO api_keys (institution_id, name, prefix, key_hash, scopes, allowed_ips, expires_at, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${columns}`,
      [
        institutionId,
        key.name,
        key.prefix,
        key.keyHash,
        key.scopes,
        key.allowedIps,
        key.expiresAt,
        key.createdBy,
      ],
    ),
  );
}

export async function listApiKeys(db: Queryable, institutionId: string): Promise<ApiKeyRow[]> {
  return db.query<ApiKeyRow & Record<string, unknown>>(
    `SELECT ${columns} FROM api_keys WHERE institution_id = $1 ORDER BY created_at DESC, id DESC`,
    [institutionId],
  );
}

/** Revokes the key (idempotently) and returns it; undefined when the institution has no such key. */
export async function revokeApiKey(
  db: Queryable,
  institutionId: string,
  id: string,
): Promise<ApiKeyRow | undefined> {
  const rows = await db.query<ApiKeyRow & Record<string, unknown>>(
    `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
      WHERE institution_id = $1 AND id = $2 RETURNING ${columns}`,
    [institutionId, id],
  );
  return rows[0];
}

// Runs on every request made with an API key.
const activeApiKeyByHash = prepared(
  'api_key_by_hash',
  `SELECT ${columns} FROM api_keys
    WHERE key_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`,
);

/**
 * The key with this hash if it is neither revoked nor expired, by the database's clock, which every
 * instance shares. Not institution-scoped: this is how the institution is learned.
 */
export async function findActiveApiKeyByHash(db: Queryable, keyHash: string): Promise<ApiKeyRow | undefined> {
  const rows = await db.query<ApiKeyRow & Record<string, unknown>>(activeApiKeyByHash, [keyHash]);
  return rows[0];
}

export async function touchApiKey(db: Queryable, institutionId: string, id: string): Promise<void> {
  await db.query(`UPDATE api_keys SET last_used_at = now() WHERE institution_id = $1 AND id = $2`, [
    institutionId,
    id,
  ]);
}
