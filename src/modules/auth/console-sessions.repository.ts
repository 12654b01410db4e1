// The console's browser sessions: a cookie's hash → a login session (auth_sessions), so that
// everything that ends a login session (sign-out, password change, deactivation) ends it too.
import { prepared, type Queryable } from '../../db/database.js';
import type { ActiveSession } from './sessions.repository.js';

export async function insertConsoleSession(
  db: Queryable,
  session: { tokenHash: string; sessionId: string; lifetimeSeconds: number },
): Promise<void> {
  await db.query(
    `INSERT INTO console_sessions (token_hash, session_id, expires_at)
     VALUES ($1, $2, now() + make_interval(secs => $3))`,
    [session.tokenHash, session.sessionId, session.lifetimeSeconds],
  );
}

export interface ActiveConsoleSession extends ActiveSession {
  sessionId: string;
  /** When the session ends if nothing else is done in it (idle timeout, or its lifetime's end). */
  endsAt: Date;
}

// Runs on every console request: finds the session and marks it seen, in one statement. A
// session idle for longer than the timeout, past its lifetime, revoked, or whose user was
// deactivated, is not found and not touched.
const touchConsoleSession = prepared(
  'touch_console_session',
  `UPDATE console_sessions c SET last_seen_at = now()
     FROM auth_sessions s
     JOIN users u ON u.id = s.user_id
     LEFT JOIN institutions i ON i.id = u.institution_id
    WHERE c.token_hash = $1
      AND s.id = c.session_id AND s.revoked_at IS NULL AND u.deactivated_at IS NULL
      AND c.expires_at > now() AND c.last_seen_at > now() - make_interval(secs => $2)
    RETURNING s.id AS "sessionId", u.id AS "userId", u.email, u.role,
              u.institution_id AS "institutionId", i.title AS "institutionTitle",
              least(c.expires_at, now() + make_interval(secs => $2)) AS "endsAt"`,
);

/** The open session of a cookie, marked as seen now; undefined when it has ended. */
export async function touchSession(
  db: Queryable,
  tokenHash: string,
  idleTimeoutSeconds: number,
): Promise<ActiveConsoleSession | undefined> {
  const rows = await db.query<ActiveConsoleSession & Record<string, unknown>>(touchConsoleSession, [
    tokenHash,
    idleTimeoutSeconds,
  ]);
  return rows[0];
}
