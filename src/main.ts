// Process entry: config → database → migrations → operator bootstrap → app → listen, and a
// graceful close on SIGTERM/SIGINT: stop accepting, finish in-flight requests, exit 0 within the
// grace period (1 if it had to be cut short).
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { buildApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { lockDataDir, type DataDirLock } from './db/data-dir-lock.js';
import { openPglite, openPostgres, type Database } from './db/database.js';
import { scheduleMaintenance } from './db/maintenance.js';
import { migrate } from './db/migrate.js';
import { createAccessTokens } from './modules/auth/access-tokens.js';
import { dataDirSigningKey, signingKeyFromPem, verificationKeysFromPem } from './modules/auth/signing-key.js';
import { sealExistingCustomers } from './modules/customers/customer-upgrade.js';
import { bootstrapOperator } from './modules/users/operator-bootstrap.js';
import { webhookBacklog } from './modules/webhooks/webhook-dispatch.repository.js';
import { startWebhookDispatcher } from './modules/webhooks/webhook-dispatcher.js';
import { createSecretBox, dataDirSecretsKey } from './modules/webhooks/webhook-secrets.js';
import {
  dataDirEncryptionKey,
  decodeKey,
  KeyMismatchError,
  localKeyProvider,
} from './platform/crypto/key-provider.js';
import { openVault, type Vault } from './platform/crypto/vault.js';
import { createLogger } from './platform/logger.js';
import { createMetrics, metricsPort, serveMetrics } from './platform/metrics.js';
import { createRateLimits, defaultRateLimitOptions, rateLimitRedis } from './platform/rate-limits.js';

/** How long idle keep-alive connections stay open once shutting down has begun (see stop()). */
const IDLE_CONNECTION_LINGER_MS = 1000;

function readConfig(): Config {
  // A .env file in the working directory is read if present; real environment variables win.
  if (existsSync('.env')) process.loadEnvFile('.env');
  try {
    return loadConfig(process.env, (file) => readFileSync(file, 'utf8'));
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
}

/**
 * The personal-data vault under the configured key (or the data directory's), after the start-up
 * upgrade has sealed every customer written before encryption. A key that does not match the data
 * stops the start with exit code 78, before anything is written with it.
 */
async function openPersonalData(
  db: Database,
  config: Config,
  logger: ReturnType<typeof createLogger>,
): Promise<Vault> {
  const variable = config.encryptionKey === undefined ? 'DATA_DIR/encryption.key' : 'ENCRYPTION_KEY';
  const keys = localKeyProvider(
    decodeKey(config.encryptionKey ?? dataDirEncryptionKey(config.dataDir), variable),
    config.previousEncryptionKeys.map((key) => decodeKey(key, 'ENCRYPTION_PREVIOUS_KEYS')),
  );
  let vault: Vault;
  try {
    vault = await openVault(db, keys);
  } catch (error) {
    if (error instanceof KeyMismatchError) {
      process.stderr.write(`Invalid configuration: ${variable} does not match the data: ${error.message}\n`);
      await db.close();
      process.exit(78);
    }
    throw error;
  }
  let lastLogged = 0;
  const sealed = await sealExistingCustomers({ db, vault }, (progress) => {
    if (Date.now() - lastLogged < 2000 && progress.sealed < progress.total) return;
    lastLogged = Date.now();
    logger.info(progress, 'encrypting customers written before encryption');
  });
  if (sealed > 0) logger.info({ sealed }, 'customers written before encryption are now encrypted');
  return vault;
}

async function main(): Promise<void> {
  const config = readConfig();
  const logger = createLogger(config.logLevel);
  const metrics = config.metricsPort === undefined ? undefined : createMetrics();

  let lock: DataDirLock | undefined;
  let db: Database;
  /** The webhook dispatcher's connections (PostgreSQL), apart from the requests'. */
  let dispatcherPool: Database | undefined;
  if (config.databaseUrl === undefined) {
    lock = lockDataDir(config.dataDir);
    db = await openPglite(path.join(config.dataDir, 'pgdata'));
    logger.info({ dataDir: config.dataDir }, 'using the embedded PGlite database');
  } else {
    const connection = {
      connectionString: config.databaseUrl,
      connectTimeoutMs: config.databaseConnectTimeoutMs,
      statementTimeoutMs: config.databaseStatementTimeoutMs,
      preparedStatements: config.databasePreparedStatements,
      listenConnectionString: config.databaseListenUrl,
      onPoolError: (error: Error) => {
        logger.warn({ err: error }, 'idle database connection failed');
      },
    };
    db = openPostgres({
      ...connection,
      poolSize: config.databasePoolSize,
      onCheckout: metrics?.observeCheckout,
    });
    dispatcherPool = openPostgres({ ...connection, poolSize: config.webhookDatabasePoolSize });
    logger.info('using PostgreSQL from DATABASE_URL');
  }

  const applied = await migrate(db);
  if (applied.length > 0) logger.info({ migrations: applied }, 'applied migrations');
  const vault = await openPersonalData(db, config, logger);
  await bootstrapOperator(db, config, logger);
  // A PostgreSQL server's autovacuum keeps its statistics current; the embedded one has none.
  const maintenance =
    db.engine === 'pglite'
      ? scheduleMaintenance(db, (error) => {
          logger.warn({ err: error }, 'embedded database maintenance failed');
        })
      : undefined;

  const signingKey =
    config.jwtPrivateKeyPem === undefined
      ? await dataDirSigningKey(config.dataDir)
      : await signingKeyFromPem(config.jwtPrivateKeyPem);
  // Without the offline queue a command fails at once while Redis is unreachable, and the limits
  // fall back to per-instance memory counters instead of making requests wait.
  const redis = config.redisUrl === undefined ? undefined : rateLimitRedis(config.redisUrl, logger);
  if (redis !== undefined) logger.info('rate-limit counters shared through REDIS_URL');
  const rateLimits = createRateLimits({
    redis,
    keyPrefix: defaultRateLimitOptions.keyPrefix,
    loginFailuresPerAccount: config.rateLimitLoginFailuresPerAccount,
    loginFailuresPerAddress: config.rateLimitLoginFailuresPerAddress,
    apiKeyFailuresPerAddress: config.rateLimitApiKeyFailuresPerAddress,
    apiKeyRequestsPerMinute: config.rateLimitApiKeyPerMinute,
    apiKeyRequestsPerSecond: config.rateLimitApiKeyPerSecond,
    onRefusal: metrics?.countRefusal,
  });

  if (config.webhookAllowPrivateNetworks) {
    logger.warn(
      'WEBHOOK_ALLOW_PRIVATE_NETWORKS is set: webhooks may go to http:// and to loopback, private and link-local addresses; never set it in production',
    );
  }
  const webhooks = {
    secretBox: createSecretBox(config.webhookSecretsKey ?? dataDirSecretsKey(config.dataDir)),
    allowPrivateNetworks: config.webhookAllowPrivateNetworks,
  };

  const app = await buildApp({
    db,
    logger,
    accessTokens: await createAccessTokens({
      key: signingKey,
      previousKeys:
        config.jwtPreviousPublicKeysPem === undefined
          ? []
          : await verificationKeysFromPem(config.jwtPreviousPublicKeysPem),
      issuer: config.jwtIssuer,
      audience: config.jwtAudience,
      ttlSeconds: config.accessTokenTtlSeconds,
    }),
    refreshTokenTtlSeconds: config.refreshTokenTtlSeconds,
    trustProxy: config.trustProxy,
    corsOrigins: config.corsOrigins,
    rateLimits,
    webhooks,
    metrics,
    idempotencyLeaseMs: config.idempotencyLeaseMs,
    vault,
    console: {
      idleTimeoutSeconds: Math.ceil(config.consoleIdleTimeoutMs / 1000),
      lifetimeSeconds: Math.ceil(config.consoleSessionLifetimeMs / 1000),
    },
  });
  const dispatcher = await startWebhookDispatcher({
    db,
    ...(dispatcherPool === undefined ? {} : { pool: dispatcherPool }),
    logger,
    secretBox: webhooks.secretBox,
    timeoutMs: config.webhookTimeoutMs,
    retrySchedule: config.webhookRetrySchedule,
    disableAfterMs: config.webhookDisableAfterMs,
    allowPrivateNetworks: config.webhookAllowPrivateNetworks,
    concurrency: config.webhookConcurrency,
    ...(metrics === undefined ? {} : { metrics }),
  });
  metrics?.observeWebhookBacklog(() => webhookBacklog(db));

  // Keep-alive connections at shutdown. Node's server.close() destroys the connections that are
  // idle at that moment, and leaves the others open after their answers until the client or the
  // keep-alive timeout closes them. Both hurt: a client whose next request was already on its way
  // on an idle connection got a reset and could not tell whether its create happened, and a
  // connection whose request was in flight held the process past the grace period (exit 1).
  // Instead, every answer written once shutting down has begun closes its connection, and idle
  // connections stay open a moment, so a request on them gets the 503 answer (nothing changed,
  // retry elsewhere), before the rest are closed.
  let stopping = false;
  let metricsServer: Awaited<ReturnType<typeof serveMetrics>> | undefined;
  const unanswered = new Set<ServerResponse>();
  app.server.prependListener('request', (_request: IncomingMessage, response: ServerResponse) => {
    if (stopping) {
      response.setHeader('connection', 'close');
      return;
    }
    unanswered.add(response);
    response.on('close', () => unanswered.delete(response));
  });
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    for (const response of unanswered) {
      if (!response.headersSent) response.setHeader('connection', 'close');
    }
    logger.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down');
    // server.close() (in app.close() below) calls closeIdleConnections(): put it off until then.
    const closeIdleConnections = app.server.closeIdleConnections.bind(app.server);
    app.server.closeIdleConnections = () => undefined;
    setTimeout(closeIdleConnections, Math.min(IDLE_CONNECTION_LINGER_MS, config.shutdownGraceMs / 2)).unref();
    const timer = setTimeout(() => {
      logger.error('grace period over with requests still running; exiting');
      process.exit(1);
    }, config.shutdownGraceMs);
    timer.unref();
    // Attempts in flight get half the grace period to finish; the rest are given back untried.
    Promise.all([dispatcher.stop(config.shutdownGraceMs / 2), app.close()])
      .then(
        () =>
          new Promise<void>((resolve) => {
            if (metricsServer === undefined) {
              resolve();
              return;
            }
            metricsServer.close(() => {
              resolve();
            });
            metricsServer.closeAllConnections();
          }),
      )
      .then(() => maintenance?.stop())
      .then(() => Promise.all([db.close(), dispatcherPool?.close()]))
      .then(async () => {
        // quit() waits for pending commands but fails on a connection that is down.
        if (redis?.status === 'ready') await redis.quit();
        else redis?.disconnect();
      })
      .then(() => {
        lock?.release();
        logger.info('stopped');
        process.exit(0);
      })
      .catch((error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => {
    stop('SIGTERM');
  });
  process.on('SIGINT', () => {
    stop('SIGINT');
  });

  await app.listen({ port: config.port, host: config.host });
  // Its own server and port, so that wherever the API is exposed the metrics are not.
  if (metrics !== undefined && config.metricsPort !== undefined) {
    metricsServer = await serveMetrics(metrics, config.metricsHost, config.metricsPort);
    logger.info({ port: metricsPort(metricsServer), host: config.metricsHost }, 'serving /metrics');
  }
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`CustomerCore failed to start: ${message}\n`);
  process.exit(1);
});
