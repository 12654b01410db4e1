// Login sessions and their refresh tokens (stored as SHA-256 hashes of the secrets).
import { one, prepared, type Queryable } from '../../db/database.js';

export async function insertSession(db: Queryable, userId: string): Promise<string> {
  return one(
    await db.query<{ id: string }>('INSERT INTO auth_sessions (user_id) VALUES ($1) RETURNING id', [userId]),
  ).id;
}

export async function insertRefreshToken(
  db: Queryable,
  token: { sessionId: string; tokenHash: string; ttlSeconds: number },
): Promise<void> {
  await db.query(
    `INSERT INTO refresh_tokens (session_id, token_hash, expires_at)
     VALUES ($1, $2, now() + make_interval(secs => $3))`,
    [token.sessionId, token.tokenHash, token.ttlSeconds],
  );
}

export interface RefreshTokenUse {
  sessionId: string;
  expired: boolean;
}

/**
 * Marks an unused refresh token as used and returns it; undefined when no unused token has this
 * hash. One statement, so of two concurrent exchanges of one token exactly one succeeds.
 */
export async function useRefreshToken(
  db: Queryable,
  tokenHash: string,
): Promise<RefreshTokenUse | undefined> {
  const rows = await db.query<{ sessionId: string; expired: boolean }>(
    `UPDATE refresh_tokens SET used_at = clock_timestamp()
      WHERE token_hash = $1 AND used_at IS NULL
      RETURNING session_id AS "sessionId", expires_at <= now() AS expired`,
    [tokenHash],
  );
  return rows[0];
}

/** The session of a refresh token, used or not. */
export async function findRefreshTokenSession(db: Queryable, tokenHash: string): Promise<string | undefined> {
  const rows = await db.query<{ sessionId: string }>(
    'SELECT session_id AS "sessionId" FROM refresh_tokens WHERE token_hash = $1',
    [tokenHash],
  );
  return rows[0]?.sessionId;
}

export async function revokeSession(db: Queryable, sessionId: string): Promise<void> {
  await db.query('UPDATE auth_sessions SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1', [
    sessionId,
  ]);
}

export interface ActiveSession {
  userId: string;
  email: string;
  role: 'Operator' | 'Owner' | 'Admin' | 'Viewer';
  institutionId: string | null;
  institutionTitle: string | null;
}

// Runs on every request made with an access token.
const activeSession = prepared(
  'active_session',
  `SELECT u.id AS "userId", u.email, u.role, u.institution_id AS "institutionId", i.title AS "institutionTitle"
     FROM auth_sessions s
     JOIN users u ON u.id = s.user_id
     LEFT JOIN institutions i ON i.id = u.institution_id
    WHERE s.id = $1 AND s.revoked_at IS NULL AND u.deactivated_at IS NULL`,
);

/** The session's user, when the session is not revoked and the user not deactivated. */
export async function findActiveSession(
  db: Queryable,
  sessionId: string,
): Promise<ActiveSession | undefined> {
  const rows = await db.query<ActiveSession & Record<string, unknown>>(activeSession, [sessionId]);
  return rows[0];
}

/** Revokes every open session of a user (password change, deactivation). */
export async function revokeUserSessions(db: Queryable, userId: string): Promise<void> {
  await db.query('UPDATE auth_sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL', [
    userId,
  ]);
}
