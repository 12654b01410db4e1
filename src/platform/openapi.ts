// The OpenAPI 3 document is generated from the same route schemas that validate requests. Each
// route's security requirement is derived from the permission it declares, so the document cannot
// disagree with what the server enforces.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { withIdempotencyDocumented } from './http-schemas.js';
import type { Permission } from './principal.js';

const securityFor = (permission: Permission | undefined): Record<string, string[]>[] => {
  if (permission === undefined || permission === 'public') return [];
  if (
    permission === 'api-keys:manage' ||
    permission === 'users:manage' ||
    permission === 'operator' ||
    permission === 'session'
  ) {
    return [{ bearerAuth: [] }];
  }
  return [{ bearerAuth: [] }, { apiKey: [] }];
};

export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'CustomerCore',
        version: '2.0.0',
        description:
          'The customer part of the KunaCore v2 API: partner institutions create and update their customers, ' +
          'each with a wallet. All API routes are POST with a JSON object body; a success body is `{ "data": ... }`; ' +
          'every error has the body `{ statusCode, error, code, message, requestId, details? }`. ' +
          'Write routes take an optional `Idempotency-Key` header, so that a request can be retried safely.',
      },
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description: 'Access token from /v2/auth/login',
          },
          apiKey: { type: 'apiKey', in: 'header', name: 'api-key', description: 'Institution API key' },
        },
      },
      tags: [
        { name: 'Auth' },
        { name: 'Customers' },
        { name: 'API keys' },
        { name: 'Users' },
        { name: 'Operator' },
        { name: 'Health' },
      ],
    },
    transform: ({ schema, url, route }) => {
      const permission = route.config?.permission;
      const documented = { ...schema, security: securityFor(permission) };
      return {
        schema: route.config?.idempotent === true ? withIdempotencyDocumented(documented) : documented,
        url,
      };
    },
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    // Swagger UI's own CSP (hashes of its inline assets) replaces the API's deny-all policy on
    // /docs, minus upgrade-insecure-requests, which would break the page on plain-HTTP localhost.
    staticCSP: true,
    transformStaticCSP: (header) => header.replace(/\s*upgrade-insecure-requests;?/, ''),
  });
  app.get('/openapi.json', { config: { permission: 'public' }, schema: { hide: true } }, () => app.swagger());
}
