// Access tokens: short-lived JWTs signed with EdDSA (Ed25519). Verification pins the algorithm,
// issuer and audience, and requires an unexpired token whose claims have the expected shape.
import { randomUUID } from 'node:crypto';
import { SignJWT, createLocalJWKSet, exportJWK, jwtVerify, type JWTPayload } from 'jose';
import type { InstitutionRole, Principal } from '../../platform/principal.js';
import type { SigningKey, VerificationKey } from './signing-key.js';

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
  /** The public keys tokens are checked against, as a JWK set (for /.well-known/jwks.json). */
  jwks(): PublicKeySet;
}

/** An Ed25519 JWK set (RFC 7517), as published at /.well-known/jwks.json. */
export interface PublicKeySet {
  keys: { kty: string; crv: string; x: string; kid: string; alg: string; use: string }[];
}

export interface AccessTokenOptions {
  key: SigningKey;
  /** Earlier signing keys: their tokens stay valid until they expire (key rotation). */
  previousKeys?: readonly VerificationKey[];
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

export async function createAccessTokens(options: AccessTokenOptions): Promise<AccessTokens> {
  const { key, issuer, audience, ttlSeconds } = options;
  const keys = [key, ...(options.previousKeys ?? []).filter((previous) => previous.kid !== key.kid)];
  const jwks: PublicKeySet = {
    keys: await Promise.all(
      keys.map(async ({ publicKey, kid }) => {
        const { kty = 'OKP', crv = 'Ed25519', x = '' } = await exportJWK(publicKey);
        return { kty, crv, x, kid, alg: ACCESS_TOKEN_ALGORITHM, use: 'sig' };
      }),
    ),
  };
  // Selects the key by the token's kid; a token without a kid, or with an unknown one, fails.
  const keyFor = createLocalJWKSet(jwks);
  return {
    jwks: () => jwks,
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
        const { payload, protectedHeader } = await jwtVerify<Claims>(token, keyFor, {
          algorithms: [ACCESS_TOKEN_ALGORITHM],
          issuer,
          audience,
          requiredClaims: ['exp', 'iat', 'sub', 'sid'],
        });
        if (protectedHeader.kid === undefined) return undefined;
        return principalFrom(payload);
      } catch {
        return undefined;
      }
    },
  };
}
