// The OpenAPI 3 document is generated from the same route schemas that validate requests. Each
// route's security requirement is derived from the permission it declares, so the document cannot
// disagree with what the server enforces.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { ErrorResponse, withIdempotencyDocumented } from './http-schemas.js';
import type { Permission } from './principal.js';

/**
 * The operation's stable id, which generated clients name their methods after: the route's path
 * without its `/v2` prefix, in camel case (`/v2/customer/create` → `customerCreate`,
 * `/v2/admin/customer/find` → `adminCustomerFind`, `/v2/user/change-password` →
 * `userChangePassword`, `/health/live` → `healthLive`). A route may set `schema.operationId` to
 * override it. Derived here, for every route, so that routes added later get one too; a test
 * checks that they stay unique.
 */
export function operationIdOf(url: string): string {
  const words = url
    .replace(/^\/v\d+\//, '/')
    .split(/[^A-Za-z0-9]+/)
    .filter((word) => word !== '');
  return words
    .map((word, index) =>
      index === 0 ? word.toLowerCase() : word.charAt(0).toUpperCase() + word.slice(1).toLowerCase(),
    )
    .join('');
}

/**
 * Every operation documents at least one client error. Routes whose schemas list none (health,
 * the key set) can still answer one from the HTTP layer (a malformed URL, say), with the contract's
 * error body.
 */
function withClientErrorDocumented(schema: Record<string, unknown>): Record<string, unknown> {
  const responses = (schema.response ?? {}) as Record<string, unknown>;
  if (Object.keys(responses).some((status) => status.startsWith('4'))) return schema;
  return {
    ...schema,
    response: {
      ...responses,
      '4XX': { ...ErrorResponse, description: 'A request the HTTP layer refused (the contract error body)' },
    },
  };
}

/** The tags of the document, each with the description that tools show beside its operations. */
export const openApiTags = [
  { name: 'Auth', description: 'Log in, refresh and end sessions; the public keys that sign access tokens' },
  {
    name: 'Customers',
    description: "An institution's customers and their wallets: create, update, read, find, history",
  },
  {
    name: 'API keys',
    description: 'Keys for an institution backend (Owner or Admin, by access token only); secrets shown once',
  },
  { name: 'Users', description: "An institution's users (Owner, Admin, Viewer) and password changes" },
  {
    name: 'Operator',
    description: 'The platform operator: institutions, cross-institution customer reads, wallet locks',
  },
  { name: 'Health', description: 'Liveness and readiness probes for load balancers and orchestrators' },
  {
    name: 'Webhooks',
    description:
      'Signed events pushed to your endpoints: subscriptions, secrets, deliveries, redelivery, event find',
  },
];

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
        license: { name: 'Apache-2.0', url: 'https://www.apache.org/licenses/LICENSE-2.0' },
        description:
          'The customer part of the KunaCore v2 API: partner institutions create and update their customers, ' +
          'each with a wallet. All API routes are POST with a JSON object body; a success body is `{ "data": ... }`; ' +
          'every error has the body `{ statusCode, error, code, message, requestId, details? }`. ' +
          'Write routes take an optional `Idempotency-Key` header, so that a request can be retried safely.',
      },
      // Relative to where the document is served (OpenAPI 3.0, Server Object): the instance itself.
      servers: [{ url: '/', description: 'The instance serving this document' }],
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
      tags: openApiTags,
    },
    transform: ({ schema, url, route }) => {
      const permission = route.config?.permission;
      // An empty requirement: the operation may also be called without credentials.
      const security = [
        ...securityFor(permission),
        ...(route.config?.credentialsOptional === true ? [{}] : []),
      ];
      const operationId = (schema as { operationId?: string }).operationId ?? operationIdOf(url);
      const documented = withClientErrorDocumented({ ...schema, operationId, security });
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
