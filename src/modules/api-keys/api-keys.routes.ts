import type { Database } from '../../db/database.js';
import type { App } from '../../platform/app-type.js';
import { institutionPrincipalOf } from '../../platform/authenticate.js';
import { forbidden } from '../../platform/errors.js';
import { errorResponses } from '../../platform/http-schemas.js';
import {
  ApiKeyCreatedResponse,
  ApiKeyIdBody,
  ApiKeyListResponse,
  ApiKeyResponse,
  CreateApiKeyBody,
  FindApiKeysBody,
} from './api-keys.schemas.js';
import { createApiKey, findApiKeys, revokeApiKeyById } from './api-keys.service.js';

export function apiKeysRoutes(app: App, deps: { db: Database }): void {
  const description =
    'Institution users with role Owner or Admin, by access token only (an API key gets 403).';

  app.post(
    '/v2/api-key/create',
    {
      config: { permission: 'api-keys:manage', idempotent: true },
      schema: {
        tags: ['API keys'],
        summary: 'Create an API key; its secret is shown only in this response',
        description,
        body: CreateApiKeyBody,
        response: { 201: ApiKeyCreatedResponse, ...errorResponses({ auth: true }) },
      },
    },
    async (request, reply) => {
      const principal = institutionPrincipalOf(request);
      if (principal.kind !== 'user') throw forbidden();
      const key = await createApiKey(
        deps.db,
        { institutionId: principal.institutionId, userId: principal.userId },
        request.body,
      );
      return reply.status(201).send({ data: key });
    },
  );

  app.post(
    '/v2/api-key/find',
    {
      config: { permission: 'api-keys:manage' },
      schema: {
        tags: ['API keys'],
        summary: "List the institution's API keys, newest first, without secrets",
        description,
        body: FindApiKeysBody,
        response: { 200: ApiKeyListResponse, ...errorResponses({ auth: true }) },
      },
    },
    async (request) => ({ data: await findApiKeys(deps.db, institutionPrincipalOf(request).institutionId) }),
  );

  app.post(
    '/v2/api-key/revoke',
    {
      config: { permission: 'api-keys:manage', revokesCredentials: true, idempotent: true },
      schema: {
        tags: ['API keys'],
        summary: 'Revoke an API key; it stops working at once',
        description,
        body: ApiKeyIdBody,
        response: { 200: ApiKeyResponse, ...errorResponses({ auth: true, codes: ['NOT_FOUND'] }) },
      },
    },
    async (request) => ({
      data: await revokeApiKeyById(deps.db, institutionPrincipalOf(request).institutionId, request.body.id),
    }),
  );
}
