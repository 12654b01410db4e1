import type { App } from '../../platform/app-type.js';
import { forbidden, unauthorized } from '../../platform/errors.js';
import { errorResponses } from '../../platform/http-schemas.js';
import {
  JwksResponse,
  LoginBody,
  LoginHeaders,
  LogoutBody,
  LogoutResponse,
  RefreshBody,
  TokenPairResponse,
} from './auth.schemas.js';
import { login, logout, logoutByRefreshToken, refresh, type AuthDeps } from './auth.service.js';
import { decoyHash } from './passwords.js';

export function authRoutes(app: App, deps: AuthDeps): void {
  app.addHook('onReady', async () => {
    await decoyHash();
  });
  app.post(
    '/v2/auth/login',
    {
      config: { permission: 'public' },
      schema: {
        tags: ['Auth'],
        summary: 'Log in with email and password',
        description:
          'Institution users send their institution id in the `merchant_id` header; operator accounts send none. ' +
          'Every failure is the same `401 INVALID_CREDENTIALS`. Opens a session: the refresh token renews it.',
        headers: LoginHeaders,
        body: LoginBody,
        response: {
          200: TokenPairResponse,
          ...errorResponses({ auth: false, codes: ['INVALID_CREDENTIALS', 'RATE_LIMITED'] }),
        },
      },
    },
    async (request) => ({
      data: await login(deps, {
        merchantId: request.headers.merchant_id,
        email: request.body.token.trim(),
        password: request.body.password,
        clientAddress: request.ip,
      }),
    }),
  );

  app.post(
    '/v2/auth/refresh',
    {
      config: { permission: 'public', revokesCredentials: true },
      schema: {
        tags: ['Auth'],
        summary: 'Exchange a refresh token for a new token pair',
        description:
          'Refresh tokens rotate: the one presented is used up and a new one returned. Presenting a used ' +
          'refresh token again revokes the whole session (every token descended from that login) and answers 401.',
        body: RefreshBody,
        response: { 200: TokenPairResponse, ...errorResponses({ auth: false, codes: ['UNAUTHORIZED'] }) },
      },
    },
    async (request) => ({ data: await refresh(deps, request.body.refreshToken) }),
  );

  app.post(
    '/v2/auth/logout',
    {
      config: { permission: 'session', revokesCredentials: true, credentialsOptional: true },
      schema: {
        tags: ['Auth'],
        summary: 'End a session, by its access token or its refresh token',
        description:
          "Revokes the session of the caller's access token, and the session of `refreshToken` if one is sent: " +
          'their refresh tokens and access tokens stop working. With `refreshToken` no access token is needed, ' +
          'so a client whose access token has expired can still end its session (as RFC 7009 revokes a token). ' +
          'A refresh token that names no session is answered like one that did, as RFC 7009 says: there is ' +
          'nothing left to revoke. Without either, 401; an API key gets 403; an invalid access token, 401.',
        body: LogoutBody,
        response: { 200: LogoutResponse, ...errorResponses({ auth: true }) },
      },
    },
    async (request) => {
      const principal = request.principal;
      if (principal?.kind === 'api_key') throw forbidden();
      const { refreshToken } = request.body;
      if (principal === undefined && refreshToken === undefined) {
        throw unauthorized("Send an access token, or the session's refreshToken in the body");
      }
      if (principal !== undefined) await logout(deps, principal.sessionId);
      if (refreshToken !== undefined) await logoutByRefreshToken(deps, refreshToken);
      return { data: { loggedOut: true } };
    },
  );

  app.get(
    '/.well-known/jwks.json',
    {
      config: { permission: 'public' },
      schema: {
        tags: ['Auth'],
        operationId: 'jwks',
        summary: 'The public keys that sign access tokens (JWK set)',
        description:
          'The current signing key and, during a key rotation, the previous ones whose tokens are still valid. ' +
          "Select the key by the token's `kid`.",
        response: { 200: JwksResponse },
      },
    },
    () => deps.accessTokens.jwks(),
  );
}
