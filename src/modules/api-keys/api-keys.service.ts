// API keys: created by an institution's Owner or Admin, shown once, stored as a hash, revocable,
// optionally limited to some client addresses and to a lifetime.
import type { Database } from '../../db/database.js';
import { AppError, validationError } from '../../platform/errors.js';
import { defaultScopes, type Principal } from '../../platform/principal.js';
import type { CredentialCache } from '../auth/credential-cache.js';
import { generateSecret, hashSecret } from '../auth/secrets.js';
import { isAddressAllowed, normaliseAllowedIps } from './allowed-ips.js';
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
    allowedIps: row.allowed_ips,
    expiresAt: row.expires_at?.toISOString() ?? null,
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
  const allowedIps = allowedIpsOf(input);
  const expiresAt = expiresAtOf(input);
  const key = generateSecret(KEY_PREFIX);
  const row = await insertApiKey(db, creator.institutionId, {
    name: input.name,
    prefix: key.slice(0, DISPLAY_PREFIX_LENGTH),
    keyHash: hashSecret(key),
    scopes: input.scopes ?? defaultScopes,
    allowedIps,
    expiresAt,
    createdBy: creator.userId,
  });
  return { ...toApiKey(row), key };
}

/**
 * The normalised allowed list, or null for none. The route's schema has checked the shape (1-50
 * short strings); each entry is read here by the same parser that matches client addresses.
 */
function allowedIpsOf(input: CreateApiKeyBody): string[] | null {
  if (input.allowedIps === undefined || input.allowedIps === null) return null;
  const result = normaliseAllowedIps(input.allowedIps);
  if (!result.ok) {
    const quoted = result.invalid.map((entry) => JSON.stringify(entry)).join(', ');
    throw validationError(
      'allowedIps',
      `must be IPv4 or IPv6 addresses or CIDR ranges (such as 203.0.113.7 or 2001:db8::/32), not ${quoted}`,
    );
  }
  return result.allowedIps;
}

/** The expiry at millisecond precision, or null for none; it must lie in the future. */
function expiresAtOf(input: CreateApiKeyBody): string | null {
  if (input.expiresAt === undefined || input.expiresAt === null) return null;
  const expiresAt = Date.parse(input.expiresAt);
  // The schema's date-time format also admits a leap second, which has no Date.
  if (Number.isNaN(expiresAt)) {
    throw validationError('expiresAt', 'must be an ISO 8601 date-time with a time zone');
  }
  if (expiresAt <= Date.now()) throw validationError('expiresAt', 'must be in the future');
  return new Date(expiresAt).toISOString();
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
 * Authenticates API keys. A key is looked up by its hash, in the credential cache or else the
 * database; a revoked key is forgotten by every instance as the revocation commits, and an expired
 * one is not served past its expiry (by this instance's clock), so either stops working at once
 * everywhere. A key with an allowed list works only from an address on it.
 * lastUsedAt is written at most once a minute per key (per process), and only for accepted uses.
 */
export function createApiKeyAuthenticator(
  db: Database,
  credentialCache: CredentialCache,
): (secret: string, clientIp: string) => Promise<Principal | undefined> {
  const lastTouched = new Map<string, number>();
  return async (secret, clientIp) => {
    if (!secret.startsWith(KEY_PREFIX) || secret.length > 200) return undefined;
    const keyHash = hashSecret(secret);
    const row = await credentialCache.lookup(
      `api-key:${keyHash}`,
      () => findActiveApiKeyByHash(db, keyHash),
      (key) => key.expires_at?.getTime(),
    );
    if (row === undefined) return undefined;
    if (row.allowed_ips !== null && !isAddressAllowed(clientIp, row.allowed_ips)) return undefined;
    const now = Date.now();
    if (now - (lastTouched.get(row.id) ?? 0) >= LAST_USED_RESOLUTION_MS) {
      lastTouched.set(row.id, now);
      await touchApiKey(db, row.institution_id, row.id);
    }
    return {
      kind: 'api_key',
      apiKeyId: row.id,
      name: row.name,
      institutionId: row.institution_id,
      scopes: row.scopes,
    };
  };
}
