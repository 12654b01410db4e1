import type { App } from '../../platform/app-type.js';
import { errorResponses } from '../../platform/http-schemas.js';
import { LoginBody, LoginHeaders, TokenPairResponse } from './auth.schemas.js';
import { login, type LoginDeps } from './auth.service.js';

export function authRoutes(app: App, deps: LoginDeps): void {
  app.post(
    '/v2/auth/login',
    {
      config: { permission: 'public' },
      schema: {
        tags: ['Auth'],
        summary: 'Log in with email and password',
        description:
          'Institution users send their institution id in the `merchant_id` header; operator accounts send none. ' +
          'Every failure is the same `401 INVALID_CREDENTIALS`.',
        headers: LoginHeaders,
        body: LoginBody,
        response: {
          200: TokenPairResponse,
          ...errorResponses({ auth: false, codes: ['INVALID_CREDENTIALS'] }),
        },
      },
    },
    async (request) => ({
      data: await login(deps, {
        merchantId: request.headers.merchant_id,
        email: request.body.token.trim(),
        password: request.body.password,
      }),
    }),
  );
}
