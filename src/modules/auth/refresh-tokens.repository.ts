// Refresh tokens, stored as SHA-256 hashes of their secrets.
import type { Queryable } from '../../db/database.js';

export async function insertRefreshToken(
  db: Queryable,
  token: { userId: string; familyId: string; tokenHash: string; ttlSeconds: number },
): Promise<void> {
  await db.query(
    `INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at)
     VALUES ($1, $2, $3, now() + make_interval(secs => $4))`,
    [token.userId, token.familyId, token.tokenHash, token.ttlSeconds],
  );
}
