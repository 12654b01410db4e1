// Authentication and authorisation, checked in onRequest: before the body is read, so a request
// without valid credentials gets 401 whatever its body. Each route declares the one permission it
// needs in `config.permission`; a route that declares none is refused, so none can be forgotten.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CredentialCache } from '../modules/auth/credential-cache.js';
import { forbidden, unauthorized } from './errors.js';
import { isAllowed, type InstitutionPrincipal, type Permission, type Principal } from './principal.js';
import { RateLimitedError, rateLimitHeaders, type RateLimits } from './rate-limits.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    permission?: Permission;
    /**
     * The route can revoke credentials (or change what they allow): when it answers, this instance
     * forgets the credentials it remembers at once, before the client can send another request,
     * instead of waiting for the database's notification (which tells the other instances).
     */
    revokesCredentials?: boolean;
    /**
     * The route also serves requests that bring no credentials at all (logout with a refresh
     * token in its body): it then runs with no principal and checks what it needs itself.
     * Credentials that are sent are checked as on any route.
     */
    credentialsOptional?: boolean;
  }
  interface FastifyRequest {
    principal: Principal | undefined;
  }
}

export interface Authenticators {
  /** The principal of a valid access token, or undefined. */
  verifyAccessToken(token: string): Promise<Principal | undefined>;
  /** The principal of a valid, unrevoked, unexpired API key allowed from clientIp, or undefined. */
  verifyApiKey(secret: string, clientIp: string): Promise<Principal | undefined>;
  /** Failed API-key attempts per client address, and each key's request budget. */
  rateLimits: Pick<RateLimits, 'checkApiKeyFailures' | 'recordApiKeyFailure' | 'consumeApiKeyRequest'>;
  /** What the verifiers remember; routes that revoke credentials make it forget. */
  credentialCache: Pick<CredentialCache, 'forget'>;
}

async function authenticate(
  request: FastifyRequest,
  reply: FastifyReply,
  authenticators: Authenticators,
): Promise<Principal> {
  const authorization = request.headers.authorization;
  const apiKey = request.headers['api-key'];
  if (authorization !== undefined && apiKey !== undefined) {
    throw unauthorized('Send either an Authorization header or an api-key header, not both');
  }
  if (authorization !== undefined) {
    const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/i.exec(authorization);
    const principal = match?.[1] === undefined ? undefined : await authenticators.verifyAccessToken(match[1]);
    if (principal === undefined) throw unauthorized('The access token is invalid or expired');
    return principal;
  }
  if (typeof apiKey === 'string' && apiKey !== '') {
    // An address that keeps presenting bad keys is refused before any lookup.
    await authenticators.rateLimits.checkApiKeyFailures(request.ip);
    const principal = await authenticators.verifyApiKey(apiKey, request.ip);
    if (principal === undefined) {
      await authenticators.rateLimits.recordApiKeyFailure(request.ip);
      throw unauthorized('The API key is invalid, revoked, expired, or not allowed from this address');
    }
    if (principal.kind === 'api_key') {
      // Every answer to a key's request says what is left of its budgets, the 429 included, so
      // that clients can pace themselves instead of discovering the limit.
      try {
        reply.headers(
          rateLimitHeaders(await authenticators.rateLimits.consumeApiKeyRequest(principal.apiKeyId)),
        );
      } catch (error) {
        if (error instanceof RateLimitedError && error.budgets !== undefined) {
          reply.headers(rateLimitHeaders(error.budgets));
        }
        throw error;
      }
    }
    return principal;
  }
  throw unauthorized('Authentication required: send Authorization: Bearer <token> or an api-key header');
}

export function registerAuthentication(app: FastifyInstance, authenticators: Authenticators): void {
  app.decorateRequest('principal', undefined);
  app.addHook('onRequest', async (request, reply) => {
    // Unmatched URLs (404), the documentation routes and CORS preflights (OPTIONS, answered by
    // the CORS plugin when CORS_ORIGINS is set) have no route config of ours.
    if (!request.is404 && request.method !== 'OPTIONS' && !request.routeOptions.url?.startsWith('/docs')) {
      const permission = request.routeOptions.config.permission;
      if (permission === undefined)
        throw new Error(`Route ${request.routeOptions.url ?? ''} declares no permission`);
      if (permission === 'public') return;
      const config = request.routeOptions.config;
      const sendsCredentials =
        request.headers.authorization !== undefined || request.headers['api-key'] !== undefined;
      if (config.credentialsOptional === true && !sendsCredentials) return;
      const principal = await authenticate(request, reply, authenticators);
      if (!isAllowed(principal, permission)) throw forbidden();
      request.principal = principal;
    }
  });
  // onSend runs after the route's transaction committed and before the answer leaves. Whatever
  // the status: a refused refresh token may still have revoked its session.
  app.addHook('onSend', (request, _reply, payload, done) => {
    if (request.routeOptions.config.revokesCredentials === true) authenticators.credentialCache.forget();
    done(null, payload);
  });
}

/** The authenticated caller of a route that requires credentials. */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === undefined) throw new Error('principalOf called on a public route');
  return request.principal;
}

/** The caller of an institution route (authorisation already excluded operators). */
export function institutionPrincipalOf(request: FastifyRequest): InstitutionPrincipal {
  const principal = principalOf(request);
  if (principal.kind === 'operator') throw forbidden();
  return principal;
}
