// Access tokens: short-lived JWTs signed with EdDSA (Ed25519). Verification pins the algorithm,
// issuer and audience, and requires an unexpired token whose claims have the expected shape.
import { randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify, type JWTPayload } from 'jose';
import type { InstitutionRole, Principal } from '../../platform/principal.js';
import type { SigningKey } from './signing-key.js';

export const ACCESS_TOKEN_ALGORITHM = 'EdDSA';

export interface AccessTokenSubject {
  userId: string;
  sessionId: string;
  email: string;
  role: InstitutionRole | 'Operator';
  institution?: { id: string; title: string };
}

export interface AccessTokens {
  issue(subject: AccessTokenSubject): Promise<{ token: string; expiresIn: number }>;
  /** The principal a token claims, if its signature and claims are valid; the session is not checked here. */
  verify(token: string): Promise<Principal | undefined>;
}

export interface AccessTokenOptions {
  key: SigningKey;
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

interface Claims extends JWTPayload {
  id?: unknown;
  email?: unknown;
  role?: unknown;
  merchantId?: unknown;
  sid?: unknown;
}

const institutionRoles: readonly string[] = ['Owner', 'Admin', 'Viewer'];

function principalFrom(claims: Claims): Principal | undefined {
  const { sub, email, role, merchantId, sid } = claims;
  if (
    typeof sub !== 'string' ||
    typeof email !== 'string' ||
    typeof role !== 'string' ||
    typeof sid !== 'string'
  ) {
    return undefined;
  }
  if (role === 'Operator') {
    return merchantId === undefined ? { kind: 'operator', userId: sub, email, sessionId: sid } : undefined;
  }
  if (!institutionRoles.includes(role) || typeof merchantId !== 'string') return undefined;
  return {
    kind: 'user',
    userId: sub,
    email,
    role: role as InstitutionRole,
    institutionId: merchantId,
    sessionId: sid,
  };
}

export function createAccessTokens(options: AccessTokenOptions): AccessTokens {
  const { key, issuer, audience, ttlSeconds } = options;
  return {
    async issue(subject) {
      const claims: Record<string, unknown> = {
        id: subject.userId,
        sid: subject.sessionId,
        email: subject.email,
        role: subject.role,
        ...(subject.institution === undefined
          ? {}
          : { merchantId: subject.institution.id, institution: subject.institution }),
      };
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg: ACCESS_TOKEN_ALGORITHM, typ: 'JWT', kid: key.kid })
        .setSubject(subject.userId)
        .setIssuer(issuer)
        .setAudience(audience)
        .setIssuedAt()
        .setExpirationTime(`${ttlSeconds}s`)
        .setJti(randomUUID())
        .sign(key.privateKey);
      return { token, expiresIn: ttlSeconds };
    },
    async verify(token) {
      try {
        const { payload } = await jwtVerify<Claims>(token, key.publicKey, {
          algorithms: [ACCESS_TOKEN_ALGORITHM],
          issuer,
          audience,
          requiredClaims: ['exp', 'iat', 'sub', 'sid'],
        });
        return principalFrom(payload);
      } catch {
        return undefined;
      }
    },
  };
}
