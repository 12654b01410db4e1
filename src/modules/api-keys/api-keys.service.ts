// API keys: created by an institution's Owner or Admin, shown once, stored as a hash, revocable.
import type { Database } from '../../db/database.js';
import { AppError } from '../../platform/errors.js';
import type { Principal } from '../../platform/principal.js';
import { generateSecret, hashSecret } from '../auth/secrets.js';
import type { ApiKey, ApiKeyWithSecret, CreateApiKeyBody } from './api-keys.schemas.js';
import {
  findActiveApiKeyByHash,
  insertApiKey,
  listApiKeys,
  revokeApiKey,
  touchApiKey,
  type ApiKeyRow,
} from './api-keys.repository.js';

const KEY_PREFIX = 'cck_';
const DISPLAY_PREFIX_LENGTH = KEY_PREFIX.length + 6;
/** lastUsedAt is refreshed at most this often per key and process, not on every request. */
const LAST_USED_RESOLUTION_MS = 60_000;

function toApiKey(row: ApiKeyRow): ApiKey {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: row.scopes,
    createdAt: row.created_at.toISOString(),
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
    revokedAt: row.revoked_at?.toISOString() ?? null,
  };
}

export async function createApiKey(
  db: Database,
  creator: { institutionId: string; userId: string },
  input: CreateApiKeyBody,
): Promise<ApiKeyWithSecret> {
  const key = generateSecret(KEY_PREFIX);
  const row = await insertApiKey(db, creator.institutionId, {
    name: input.name,
    prefix: key.slice(0, DISPLAY_PREFIX_LENGTH),
    keyHash: hashSecret(key),
    scopes: input.scopes ?? ['customers:read', 'customers:write'],
    createdBy: creator.userId,
  });
  return { ...toApiKey(row), key };
}

export async function findApiKeys(db: Database, institutionId: string): Promise<ApiKey[]> {
  return (await listApiKeys(db, institutionId)).map(toApiKey);
}

export async function revokeApiKeyById(db: Database, institutionId: string, id: string): Promise<ApiKey> {
  const row = await revokeApiKey(db, institutionId, id);
  if (row === undefined) throw new AppError('NOT_FOUND', 'API key not found');
  return toApiKey(row);
}

/**
 * Authenticates API keys. Every request looks the key up, so a revoked key stops working at once
 * on every instance. lastUsedAt is written at most once a minute per key (per process).
 */
export function createApiKeyAuthenticator(db: Database): (secret: string) => Promise<Principal | undefined> {
  const lastTouched = new Map<string, number>();
  return async (secret) => {
    if (!secret.startsWith(KEY_PREFIX) || secret.length > 200) return undefined;
    const row = await findActiveApiKeyByHash(db, hashSecret(secret));
    if (row === undefined) return undefined;
    const now = Date.now();
    if (now - (lastTouched.get(row.id) ?? 0) >= LAST_USED_RESOLUTION_MS) {
      lastTouched.set(row.id, now);
      await touchApiKey(db, row.institution_id, row.id);
    }
    return {
      kind: 'api_key',
      apiKeyId: row.id,
      institutionId: row.institution_id,
      scopes: row.scopes,
    };
  };
}
