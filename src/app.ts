// buildApp wires the modules explicitly from the dependencies it is given; it never listens.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Database } from './db/database.js';
import { consoleRoutes } from './console/console.routes.js';
import { authRoutes } from './modules/auth/auth.routes.js';
import {
  CREDENTIALS_CHANNEL,
  createCredentialCache,
  type CredentialCache,
} from './modules/auth/credential-cache.js';
import { createAccessTokenVerifier, type ConsoleSessionSettings } from './modules/auth/auth.service.js';
import type { AccessTokens } from './modules/auth/access-tokens.js';
import { apiKeysRoutes } from './modules/api-keys/api-keys.routes.js';
import { createApiKeyAuthenticator } from './modules/api-keys/api-keys.service.js';
import { customersRoutes } from './modules/customers/customers.routes.js';
import { healthRoutes } from './modules/health/health.routes.js';
import { institutionsRoutes } from './modules/institutions/institutions.routes.js';
import { operatorRoutes } from './modules/operator/operator.routes.js';
import { usersRoutes } from './modules/users/users.routes.js';
import { createSecretBox } from './modules/webhooks/webhook-secrets.js';
import { webhooksRoutes } from './modules/webhooks/webhooks.routes.js';
import type { WebhookSettings } from './modules/webhooks/webhooks.service.js';
import { registerAuthentication } from './platform/authenticate.js';
import { registerErrorHandling, sendError } from './platform/error-handler.js';
import { randomBytes } from 'node:crypto';
import { AppError, serviceUnavailable } from './platform/errors.js';
import type { Vault } from './platform/crypto/vault.js';
import { registerIdempotency } from './platform/idempotency.js';
import { BODY_LIMIT_BYTES, registerJsonBody } from './platform/json-body.js';
import { createRateLimits, defaultRateLimitOptions, type RateLimits } from './platform/rate-limits.js';
import type { Metrics } from './platform/metrics.js';
import { registerOpenApi } from './platform/openapi.js';
import { registerSecurityHeaders } from './platform/security-headers.js';
import { requestIdOf } from './platform/request-id.js';
import { schemaKeywords } from './platform/schema-keywords.js';
import { ajvOptions } from './platform/validation.js';

export interface AppDeps {
  db: Database;
  logger: FastifyBaseLogger;
  accessTokens: AccessTokens;
  refreshTokenTtlSeconds: number;
  trustProxy: boolean;
  corsOrigins?: readonly string[];
  /** Brute-force and abuse limits; in-memory limits with the default thresholds when absent. */
  rateLimits?: RateLimits;
  /**
   * How webhook secrets are sealed and which destinations are allowed; when absent, a key of this
   * app's own (secrets then readable by this app only) and public destinations only.
   */
  webhooks?: WebhookSettings;
  /** Prometheus metrics (METRICS_PORT); nothing is measured when absent. */
  metrics?: Metrics;
  /** IDEMPOTENCY_LEASE_MS; the default lease when absent. */
  idempotencyLeaseMs?: number;
  /** Seals and opens customers' personal data (src/platform/crypto/vault.ts). */
  vault: Vault;
  /** The console's session timeouts; 15 minutes idle and 8 hours in all when absent. */
  console?: ConsoleSessionSettings;
}

export async function buildApp(appDeps: AppDeps) {
  const deps = {
    ...appDeps,
    rateLimits: appDeps.rateLimits ?? createRateLimits(defaultRateLimitOptions),
    console: appDeps.console ?? { idleTimeoutSeconds: 15 * 60, lifetimeSeconds: 8 * 3600 },
    webhooks: appDeps.webhooks ?? {
      secretBox: createSecretBox(randomBytes(32).toString('base64')),
      allowPrivateNetworks: false,
    },
  };
  const app = Fastify({
    loggerInstance: deps.logger,
    // One log line per request, written below; Fastify's own request logs are off.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    requestIdHeader: false,
    genReqId: requestIdOf,
    // Errors the router raises before any hook (a malformed URL) get the contract's body too.
    frameworkErrors: (error, request, reply) => {
      void sendError(request, reply, error);
    },
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: deps.trustProxy,
    // While closing, new requests get the contract's 503 body from the hook below instead.
    return503OnClosing: false,
    ajv: {
      customOptions: { ...ajvOptions, keywords: [...ajvOptions.keywords] },
      // Runs after ajv-formats is added, so that our formats replace its versions.
      onCreate: schemaKeywords,
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  registerJsonBody(app);
  registerErrorHandling(app);
  if (deps.metrics !== undefined) {
    deps.metrics.instrument(app);
    if (deps.db.poolStats !== undefined) deps.metrics.observePool(deps.db.poolStats.bind(deps.db));
  }

  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    if (!closing) {
      done();
      return;
    }
    reply.header('connection', 'close');
    done(serviceUnavailable('The service is shutting down; retry the request'));
  });
  app.addHook('onResponse', (request, reply, done) => {
    request.log.info(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        statusCode: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime * 10) / 10,
        principal: request.principal?.kind,
      },
      'request completed',
    );
    done();
  });
  // A POST route whose request came with no body at all: the contract wants a JSON object.
  app.addHook('preValidation', (request, _reply, done) => {
    const missing = request.routeOptions.schema?.body !== undefined && request.body === undefined;
    done(missing ? new AppError('INVALID_JSON', 'The request body must be a JSON object') : undefined);
  });

  await registerSecurityHeaders(app, { corsOrigins: deps.corsOrigins ?? [] });
  await registerOpenApi(app);
  const credentialCache = createCredentialCache();
  await listenForCredentialChanges(app, deps.db, credentialCache);
  registerAuthentication(app, {
    verifyAccessToken: createAccessTokenVerifier({ ...deps, credentialCache }),
    verifyApiKey: createApiKeyAuthenticator(deps.db, credentialCache),
    rateLimits: deps.rateLimits,
    credentialCache,
  });
  // Before the routes: it checks each route's declaration as it is added.
  registerIdempotency(app, { db: deps.db, leaseMs: deps.idempotencyLeaseMs });

  // Every route of the service, in one list.
  healthRoutes(app, deps);
  authRoutes(app, deps);
  institutionsRoutes(app, deps);
  apiKeysRoutes(app, deps);
  customersRoutes(app, deps);
  operatorRoutes(app, deps);
  usersRoutes(app, deps);
  webhooksRoutes(app, deps);
  // The second edge: the back-office console's pages, over the same services.
  await consoleRoutes(app, deps);

  await app.ready();
  return app;
}

/** Makes `cache` forget whenever the database announces a credential change, for the app's life. */
async function listenForCredentialChanges(
  app: FastifyInstance,
  db: Database,
  cache: CredentialCache,
): Promise<void> {
  let lost = false;
  const subscribing = db.listen(CREDENTIALS_CHANNEL, {
    onNotify: () => {
      cache.forget();
    },
    onListening: (listening, error) => {
      cache.setListening(listening);
      if (error !== undefined) {
        lost = true;
        app.log.warn(
          { err: error },
          'not hearing credential changes: every request is authenticated against the database until the listening connection is back',
        );
      } else if (listening && lost) {
        lost = false;
        app.log.info('hearing credential changes again');
      }
    },
  });
  // A database that cannot listen at all (the embedded one, closed) leaves the cache unused: every
  // request asks the database, which answers what it can (503 here).
  const subscription = await subscribing.catch((error: unknown) => {
    app.log.warn(
      { err: error },
      'not hearing credential changes: every request is authenticated against the database',
    );
    return undefined;
  });
  app.addHook('onClose', async () => {
    await subscription?.close();
  });
}
