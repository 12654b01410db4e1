// Login: an institution user names their institution in the merchant_id header; an operator sends
// none. Every failure gets the same answer, after the same amount of password-hashing work.
import { randomUUID } from 'node:crypto';
import type { Database } from '../../db/database.js';
import { AppError } from '../../platform/errors.js';
import { findInstitutionUserByEmail, findOperatorByEmail, type UserRow } from '../users/users.repository.js';
import type { AccessTokens, AccessTokenSubject } from './access-tokens.js';
import { verifyPassword } from './passwords.js';
import { insertRefreshToken } from './refresh-tokens.repository.js';
import { generateSecret, hashSecret } from './secrets.js';

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
}

export interface LoginDeps {
  db: Database;
  accessTokens: AccessTokens;
  refreshTokenTtlSeconds: number;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const invalidCredentials = () =>
  new AppError('INVALID_CREDENTIALS', 'The email, password or merchant_id is not correct');

export async function login(
  deps: LoginDeps,
  input: { merchantId: string | undefined; email: string; password: string },
): Promise<TokenPair> {
  let user: UserRow | undefined;
  let subject: AccessTokenSubject | undefined;
  if (input.merchantId === undefined) {
    user = await findOperatorByEmail(deps.db, input.email);
    if (user !== undefined) subject = { userId: user.id, email: user.email, role: 'Operator' };
  } else if (uuidPattern.test(input.merchantId)) {
    const found = await findInstitutionUserByEmail(deps.db, input.merchantId, input.email);
    user = found;
    if (found !== undefined) {
      subject = {
        userId: found.id,
        email: found.email,
        role: found.role,
        institution: { id: found.institution_id, title: found.institution_title },
      };
    }
  }
  const passwordMatches = await verifyPassword(user?.password_hash, input.password);
  if (!passwordMatches || user === undefined || subject === undefined || user.deactivated_at !== null) {
    throw invalidCredentials();
  }

  const refreshToken = generateSecret('ccr_');
  await insertRefreshToken(deps.db, {
    userId: user.id,
    familyId: randomUUID(),
    tokenHash: hashSecret(refreshToken),
    ttlSeconds: deps.refreshTokenTtlSeconds,
  });
  const access = await deps.accessTokens.issue(subject);
  return { accessToken: access.token, refreshToken, tokenType: 'Bearer', expiresIn: access.expiresIn };
}
