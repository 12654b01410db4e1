// Login, refresh and logout. A login opens a session; its refresh tokens rotate on every use, and a
// refresh token presented a second time (stolen, or replayed) revokes the whole session. Access
// tokens name their session and are accepted only while it is open and its user active.
import type { Database } from '../../db/database.js';
import { AppError, unauthorized } from '../../platform/errors.js';
import type { Principal } from '../../platform/principal.js';
import type { RateLimits } from '../../platform/rate-limits.js';
import {
  findInstitutionUserByEmail,
  findOperatorByEmail,
  findPasswordHash,
  type UserRow,
} from '../users/users.repository.js';
import type { AccessTokens, AccessTokenSubject } from './access-tokens.js';
import { insertConsoleSession, touchSession } from './console-sessions.repository.js';
import type { CredentialCache } from './credential-cache.js';
import { verifyPassword } from './passwords.js';
import { generateSecret, hashSecret } from './secrets.js';
import {
  findActiveSession,
  findRefreshTokenSession,
  insertRefreshToken,
  insertSession,
  revokeSession,
  useRefreshToken,
  type ActiveSession,
} from './sessions.repository.js';

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
}

export interface AuthDeps {
  db: Database;
  accessTokens: AccessTokens;
  refreshTokenTtlSeconds: number;
  rateLimits: RateLimits;
}

const REFRESH_TOKEN_PREFIX = 'ccr_';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const invalidCredentials = () =>
  new AppError('INVALID_CREDENTIALS', 'The email, password or merchant_id is not correct');

function subjectOf(user: ActiveSession, sessionId: string): AccessTokenSubject {
  return {
    userId: user.userId,
    sessionId,
    email: user.email,
    role: user.role,
    ...(user.institutionId === null
      ? {}
      : { institution: { id: user.institutionId, title: user.institutionTitle ?? '' } }),
  };
}

async function issuePair(
  deps: AuthDeps,
  subject: AccessTokenSubject,
  refreshToken: string,
): Promise<TokenPair> {
  const access = await deps.accessTokens.issue(subject);
  return { accessToken: access.token, refreshToken, tokenType: 'Bearer', expiresIn: access.expiresIn };
}

/**
 * Checks a login's email and password (and institution, for institution users) under the login
 * rate limits; every failure is the same INVALID_CREDENTIALS. Shared by the API's login and the
 * console's sign-in, so both refuse and count alike.
 */
async function checkCredentials(
  deps: AuthDeps,
  input: { merchantId: string | undefined; email: string; password: string; clientAddress: string },
): Promise<ActiveSession> {
  // Checked before the password: while blocked, even the right password is refused.
  const account = { merchantId: input.merchantId, email: input.email };
  await deps.rateLimits.checkLogin(account, input.clientAddress);
  let user: UserRow | undefined;
  let active: ActiveSession | undefined;
  if (input.merchantId === undefined) {
    user = await findOperatorByEmail(deps.db, input.email);
    if (user !== undefined) {
      active = {
        userId: user.id,
        email: user.email,
        role: 'Operator',
        institutionId: null,
        institutionTitle: null,
      };
    }
  } else if (uuidPattern.test(input.merchantId)) {
    const found = await findInstitutionUserByEmail(deps.db, input.merchantId, input.email);
    user = found;
    if (found !== undefined) {
      active = {
        userId: found.id,
        email: found.email,
        role: found.role,
        institutionId: found.institution_id,
        institutionTitle: found.institution_title,
      };
    }
  }
  const passwordMatches = await verifyPassword(user?.password_hash, input.password);
  if (!passwordMatches || user === undefined || active === undefined || user.deactivated_at !== null) {
    await deps.rateLimits.recordLoginFailure(account, input.clientAddress);
    throw invalidCredentials();
  }
  await deps.rateLimits.recordLoginSuccess(account);
  return active;
}

export async function login(
  deps: AuthDeps,
  input: { merchantId: string | undefined; email: string; password: string; clientAddress: string },
): Promise<TokenPair> {
  const active = await checkCredentials(deps, input);
  const refreshToken = generateSecret(REFRESH_TOKEN_PREFIX);
  const sessionId = await deps.db.transaction(async (tx) => {
    const id = await insertSession(tx, active.userId);
    await insertRefreshToken(tx, {
      sessionId: id,
      tokenHash: hashSecret(refreshToken),
      ttlSeconds: deps.refreshTokenTtlSeconds,
    });
    return id;
  });
  return issuePair(deps, subjectOf(active, sessionId), refreshToken);
}

// ---- console sessions ----

export interface ConsoleSessionSettings {
  /** Ends a session nothing was done in for this long (CONSOLE_IDLE_TIMEOUT). */
  idleTimeoutSeconds: number;
  /** Ends every session this long after sign-in, however active (CONSOLE_SESSION_LIFETIME). */
  lifetimeSeconds: number;
}

const CONSOLE_TOKEN_PREFIX = 'ccc_';

/**
 * Signs in to the console: the same check as the API's login, then a login session reached by a
 * cookie's secret (returned; only its hash is stored).
 */
export async function openConsoleSession(
  deps: AuthDeps & { console: ConsoleSessionSettings },
  input: { merchantId: string | undefined; email: string; password: string; clientAddress: string },
): Promise<{ token: string; user: ActiveSession }> {
  const active = await checkCredentials(deps, input);
  const token = generateSecret(CONSOLE_TOKEN_PREFIX);
  await deps.db.transaction(async (tx) => {
    const sessionId = await insertSession(tx, active.userId);
    await insertConsoleSession(tx, {
      tokenHash: hashSecret(token),
      sessionId,
      lifetimeSeconds: deps.console.lifetimeSeconds,
    });
  });
  return { token, user: active };
}

/** The principal of a console cookie whose session is still open; marks the session as used. */
export async function resumeConsoleSession(
  deps: { db: Database; console: ConsoleSessionSettings },
  token: string,
): Promise<{ principal: Principal; endsAt: Date; institutionTitle: string | null } | undefined> {
  if (!token.startsWith(CONSOLE_TOKEN_PREFIX)) return undefined;
  const session = await touchSession(deps.db, hashSecret(token), deps.console.idleTimeoutSeconds);
  if (session === undefined) return undefined;
  const { sessionId, userId, email } = session;
  const principal: Principal | undefined =
    session.role === 'Operator'
      ? { kind: 'operator', userId, email, sessionId }
      : session.institutionId === null
        ? undefined
        : {
            kind: 'user',
            userId,
            email,
            role: session.role,
            institutionId: session.institutionId,
            sessionId,
          };
  return principal === undefined
    ? undefined
    : { principal, endsAt: session.endsAt, institutionTitle: session.institutionTitle };
}

/**
 * Step-up: the signed-in user's password again, before an action that needs it (the operator's
 * lock). Wrong answers count against the account as failed logins do, so the step-up cannot be
 * used to guess a password faster than the sign-in page.
 */
export async function confirmPassword(
  deps: AuthDeps,
  input: {
    userId: string;
    account: { merchantId: string | undefined; email: string };
    password: string;
    clientAddress: string;
  },
): Promise<void> {
  await deps.rateLimits.checkLogin(input.account, input.clientAddress);
  const hash = await findPasswordHash(deps.db, input.userId);
  if (!(await verifyPassword(hash, input.password))) {
    await deps.rateLimits.recordLoginFailure(input.account, input.clientAddress);
    throw new AppError('INVALID_CREDENTIALS', 'The password is not correct', [
      { field: 'password', message: 'is not correct' },
    ]);
  }
  await deps.rateLimits.recordLoginSuccess(input.account);
}

type RefreshOutcome =
  { ok: true; user: ActiveSession; sessionId: string; refreshToken: string } | { ok: false };

/** Exchanges a refresh token for a new pair; the presented token is used up. */
export async function refresh(deps: AuthDeps, presented: string): Promise<TokenPair> {
  const tokenHash = hashSecret(presented);
  // The transaction commits in every case, so that revoking a replayed token's session sticks.
  const outcome = await deps.db.transaction(async (tx): Promise<RefreshOutcome> => {
    const used = await useRefreshToken(tx, tokenHash);
    if (used === undefined) {
      const replayedSession = await findRefreshTokenSession(tx, tokenHash);
      if (replayedSession !== undefined) await revokeSession(tx, replayedSession);
      return { ok: false };
    }
    if (used.expired) return { ok: false };
    const user = await findActiveSession(tx, used.sessionId);
    if (user === undefined) return { ok: false };
    const refreshToken = generateSecret(REFRESH_TOKEN_PREFIX);
    await insertRefreshToken(tx, {
      sessionId: used.sessionId,
      tokenHash: hashSecret(refreshToken),
      ttlSeconds: deps.refreshTokenTtlSeconds,
    });
    return { ok: true, user, sessionId: used.sessionId, refreshToken };
  });
  if (!outcome.ok) throw unauthorized('The refresh token is invalid, expired or already used');
  return issuePair(deps, subjectOf(outcome.user, outcome.sessionId), outcome.refreshToken);
}

/** Ends the caller's session: its refresh tokens and access tokens stop working at once. */
export async function logout(deps: AuthDeps, sessionId: string): Promise<void> {
  await revokeSession(deps.db, sessionId);
}

/**
 * Ends the session a refresh token belongs to, used or not (a used one still names its session,
 * and presenting it to /refresh would revoke that session anyway). A token that names no session
 * changes nothing and is no error (RFC 7009, section 2.2).
 */
export async function logoutByRefreshToken(deps: AuthDeps, presented: string): Promise<void> {
  const sessionId = await findRefreshTokenSession(deps.db, hashSecret(presented));
  if (sessionId !== undefined) await revokeSession(deps.db, sessionId);
}

/**
 * Verifies an access token: signature and claims, then that its session is open and its user
 * active. Role and institution come from the database (or what the cache remembers of it, which
 * a change makes it forget), so a change applies at once.
 */
export function createAccessTokenVerifier(
  deps: Pick<AuthDeps, 'db' | 'accessTokens'> & { credentialCache: CredentialCache },
) {
  return async (token: string): Promise<Principal | undefined> => {
    const claimed = await deps.accessTokens.verify(token);
    if (claimed === undefined || claimed.kind === 'api_key') return undefined;
    const { sessionId } = claimed;
    const user = await deps.credentialCache.lookup(`session:${sessionId}`, () =>
      findActiveSession(deps.db, sessionId),
    );
    if (user === undefined || user.userId !== claimed.userId) return undefined;
    if (user.role === 'Operator') {
      return { kind: 'operator', userId: user.userId, email: user.email, sessionId: claimed.sessionId };
    }
    if (user.institutionId === null) return undefined;
    return {
      kind: 'user',
      userId: user.userId,
      email: user.email,
      role: user.role,
      institutionId: user.institutionId,
      sessionId: claimed.sessionId,
    };
  };
}
