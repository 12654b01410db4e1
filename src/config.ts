// The only reader of process.env. Every variable is parsed and validated once, at start; a bad value
// stops the process with a message that names the variable (and never echoes a secret's value).
import path from 'node:path';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  readonly port: number;
  readonly host: string;
  /** Embedded PGlite data directory; used only when `databaseUrl` is not set. */
  readonly dataDir: string;
  /** PostgreSQL connection string; when set, the service runs on that server through a pool. */
  readonly databaseUrl: string | undefined;
  readonly databasePoolSize: number;
  readonly databaseConnectTimeoutMs: number;
  readonly databaseStatementTimeoutMs: number;
  /** Prepare the per-request statements on each connection (off behind a transaction-mode pooler). */
  readonly databasePreparedStatements: boolean;
  /** Where the LISTEN connection goes, when not to `databaseUrl` (past a transaction-mode pooler). */
  readonly databaseListenUrl: string | undefined;
  /** How long an idempotency key's claim may stay uncompleted before a retry may take it over. */
  readonly idempotencyLeaseMs: number;
  /** PEM (PKCS#8) Ed25519 private key; required with `databaseUrl`, generated into `dataDir` otherwise. */
  readonly jwtPrivateKeyPem: string | undefined;
  /** PEM public keys of earlier signing keys, whose tokens stay valid until they expire. */
  readonly jwtPreviousPublicKeysPem: string | undefined;
  readonly jwtIssuer: string;
  readonly jwtAudience: string;
  readonly accessTokenTtlSeconds: number;
  readonly refreshTokenTtlSeconds: number;
  readonly operatorEmail: string | undefined;
  readonly operatorPassword: string | undefined;
  readonly logLevel: LogLevel;
  readonly shutdownGraceMs: number;
  readonly trustProxy: boolean;
  /** Browser origins allowed to call the API (CORS); empty means none. */
  readonly corsOrigins: readonly string[];
  /** Redis holding the rate-limit counters shared by all instances; unset keeps them in memory. */
  readonly redisUrl: string | undefined;
  readonly rateLimitLoginFailuresPerAccount: number;
  readonly rateLimitLoginFailuresPerAddress: number;
  readonly rateLimitApiKeyFailuresPerAddress: number;
  readonly rateLimitApiKeyPerMinute: number;
  /** How long a webhook attempt may take before it counts as failed (WEBHOOK_TIMEOUT_MS). */
  readonly webhookTimeoutMs: number;
  /** The delay before each attempt of a delivery, in ms; the first is the immediate one. */
  readonly webhookRetrySchedule: readonly number[];
  /** An endpoint with no success for this long while failing is disabled (ms). */
  readonly webhookDisableAfterMs: number;
  /** Lets webhooks go to http:// and to private, loopback and link-local addresses (development, tests). */
  readonly webhookAllowPrivateNetworks: boolean;
  /** Attempts one instance makes at once. */
  readonly webhookConcurrency: number;
  /** The webhook dispatcher's own connections (PostgreSQL), beside DATABASE_POOL_SIZE. */
  readonly webhookDatabasePoolSize: number;
  /** Base64 of the 32-byte key encrypting webhook secrets at rest; generated into `dataDir` when unset. */
  readonly webhookSecretsKey: string | undefined;
  /** Base64 of the 32-byte key-encryption key of personal data; generated into `dataDir` when unset. */
  readonly encryptionKey: string | undefined;
  /** Earlier key-encryption keys, still unwrapping until `npm run keys:rotate` has re-wrapped everything. */
  readonly previousEncryptionKeys: readonly string[];
  readonly rateLimitApiKeyPerSecond: number;
  /** Port of the Prometheus /metrics endpoint, a server of its own; undefined: no metrics. */
  readonly metricsPort: number | undefined;
  readonly metricsHost: string;
  /** The console ends a session nothing was done in for this long (CONSOLE_IDLE_TIMEOUT, ms). */
  readonly consoleIdleTimeoutMs: number;
  /** And every session this long after sign-in (CONSOLE_SESSION_LIFETIME, ms). */
  readonly consoleSessionLifetimeMs: number;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`Invalid configuration: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

function text(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(name, `must be a whole number from ${min} to ${max} (got "${raw}")`);
  }
  return Number(raw);
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(name, `must be true or false (got "${raw}")`);
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `must be one of ${allowed.join(', ')} (got "${raw}")`);
  }
  return raw as T;
}

function databaseUrl(env: Env, name = 'DATABASE_URL'): string | undefined {
  const raw = text(env, name);
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, 'must be a URL such as postgres://user:password@host:5432/db');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError(name, 'must start with postgres:// or postgresql://');
  }
  return raw;
}

/** Reads NAME (PEM text, `\n` escapes allowed) or NAME_FILE (a path), not both. */
function pemSetting(
  env: Env,
  name: string,
  readFile: (file: string) => string,
  expected: { marker: string; what: string },
): string | undefined {
  const inline = text(env, name);
  const file = text(env, `${name}_FILE`);
  if (inline !== undefined && file !== undefined) {
    throw new ConfigError(`${name}_FILE`, `cannot be set together with ${name}; choose one`);
  }
  let pem: string | undefined;
  if (file !== undefined) {
    try {
      pem = readFile(file);
    } catch {
      throw new ConfigError(`${name}_FILE`, `names a file that cannot be read (${file})`);
    }
  } else if (inline !== undefined) {
    pem = inline.replace(/\\n/g, '\n');
  }
  if (pem !== undefined && !pem.includes(expected.marker)) {
    throw new ConfigError(
      file !== undefined ? `${name}_FILE` : name,
      `must hold ${expected.what} ("${expected.marker}")`,
    );
  }
  return pem;
}

function redisUrl(env: Env): string | undefined {
  const raw = text(env, 'REDIS_URL');
  if (raw === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'redis:' && url.protocol !== 'rediss:')) {
    // The value may hold a password: never echo it.
    throw new ConfigError('REDIS_URL', 'must be a URL such as redis://host:6379 or rediss://host:6380');
  }
  return raw;
}

/** CORS_ORIGINS: comma-separated exact origins such as https://app.example.com; no wildcard. */
function corsOrigins(env: Env): string[] {
  const raw = text(env, 'CORS_ORIGINS');
  if (raw === undefined) return [];
  return raw.split(',').map((entry) => {
    const origin = entry.trim();
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined || parsed.origin !== origin || !/^https?:$/.test(parsed.protocol)) {
      throw new ConfigError(
        'CORS_ORIGINS',
        `must list origins such as https://app.example.com (got "${origin}")`,
      );
    }
    return origin;
  });
}

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration such as 500ms, 5s, 5m, 2h or 1d, in milliseconds; undefined when malformed. */
function parseDuration(raw: string): number | undefined {
  const match = /^(\d{1,9})(ms|s|m|h|d)$/.exec(raw.trim());
  if (match?.[1] === undefined || match[2] === undefined) return undefined;
  return Number(match[1]) * (durationUnits[match[2]] ?? Number.NaN);
}

function duration(env: Env, name: string, fallback: string, minMs: number): number {
  const raw = text(env, name) ?? fallback;
  const ms = parseDuration(raw);
  if (ms === undefined || ms < minMs) {
    throw new ConfigError(
      name,
      `must be a duration such as 30s, 5m, 2h or 5d, at least ${minMs} ms (got "${raw}")`,
    );
  }
  return ms;
}

/** WEBHOOK_RETRY_SCHEDULE: comma-separated delays, one per attempt, the first usually 0s. */
function retrySchedule(env: Env): number[] {
  const raw = text(env, 'WEBHOOK_RETRY_SCHEDULE') ?? '0s,5s,5m,30m,2h,5h,10h,14h,20h,24h';
  const delays = raw.split(',').map(parseDuration);
  if (delays.length > 50 || delays.some((delay) => delay === undefined)) {
    throw new ConfigError(
      'WEBHOOK_RETRY_SCHEDULE',
      `must be 1-50 comma-separated durations such as 0s,5s,5m,30m (got "${raw}")`,
    );
  }
  return delays as number[];
}

/** NAME or NAME_FILE (not both): base64 of 32 random bytes, or several, comma- or line-separated. Never echoed. */
function base64Keys(env: Env, name: string, readFile: (file: string) => string): string[] | undefined {
  const inline = text(env, name);
  const file = text(env, `${name}_FILE`);
  if (inline !== undefined && file !== undefined) {
    throw new ConfigError(`${name}_FILE`, `cannot be set together with ${name}; choose one`);
  }
  let raw = inline;
  if (file !== undefined) {
    try {
      raw = readFile(file);
    } catch {
      throw new ConfigError(`${name}_FILE`, `names a file that cannot be read (${file})`);
    }
  }
  if (raw === undefined) return undefined;
  const keys = raw
    .split(/[,\n]/)
    .map((key) => key.trim())
    .filter((key) => key !== '');
  if (keys.length === 0 || keys.some((key) => Buffer.from(key, 'base64').length !== 32)) {
    throw new ConfigError(
      file !== undefined ? `${name}_FILE` : name,
      'must hold base64 of 32 random bytes (openssl rand -base64 32)',
    );
  }
  return keys;
}

/** One key (see base64Keys). */
function base64Key(env: Env, name: string, readFile: (file: string) => string): string | undefined {
  const keys = base64Keys(env, name, readFile);
  if (keys !== undefined && keys.length > 1) {
    throw new ConfigError(text(env, name) === undefined ? `${name}_FILE` : name, 'must hold one key');
  }
  return keys?.[0];
}

export function loadConfig(env: Env, readFile: (file: string) => string): Config {
  const url = databaseUrl(env);
  const operatorEmail = text(env, 'OPERATOR_EMAIL');
  const operatorPassword = env.OPERATOR_PASSWORD === '' ? undefined : env.OPERATOR_PASSWORD;
  if ((operatorEmail === undefined) !== (operatorPassword === undefined)) {
    throw new ConfigError(
      operatorEmail === undefined ? 'OPERATOR_EMAIL' : 'OPERATOR_PASSWORD',
      'must be set together with ' + (operatorEmail === undefined ? 'OPERATOR_PASSWORD' : 'OPERATOR_EMAIL'),
    );
  }
  if (operatorEmail !== undefined && !/^[^\s@]+@[^\s@]+$/.test(operatorEmail)) {
    throw new ConfigError('OPERATOR_EMAIL', 'must be an email address');
  }
  if (operatorPassword !== undefined && Array.from(operatorPassword).length < 12) {
    throw new ConfigError('OPERATOR_PASSWORD', 'must be at least 12 characters long');
  }
  const jwtPrivateKeyPem = pemSetting(env, 'JWT_PRIVATE_KEY', readFile, {
    marker: '-----BEGIN PRIVATE KEY-----',
    what: 'a PKCS#8 PEM private key',
  });
  const jwtPreviousPublicKeysPem = pemSetting(env, 'JWT_PREVIOUS_PUBLIC_KEYS', readFile, {
    marker: '-----BEGIN PUBLIC KEY-----',
    what: 'one or more PEM public keys',
  });
  const listenUrl = databaseUrl(env, 'DATABASE_LISTEN_URL');
  if (listenUrl !== undefined && url === undefined) {
    throw new ConfigError('DATABASE_LISTEN_URL', 'can only be set together with DATABASE_URL');
  }
  if (url !== undefined && jwtPrivateKeyPem === undefined) {
    // Several instances share one PostgreSQL; each must sign with the same key, so the key is
    // configuration, never generated per instance.
    throw new ConfigError('JWT_PRIVATE_KEY', 'or JWT_PRIVATE_KEY_FILE must be set when DATABASE_URL is set');
  }
  const secretsKey = base64Key(env, 'WEBHOOK_SECRETS_KEY', readFile);
  const encryptionKey = base64Key(env, 'ENCRYPTION_KEY', readFile);
  const previousEncryptionKeys = base64Keys(env, 'ENCRYPTION_PREVIOUS_KEYS', readFile) ?? [];
  if (url !== undefined && secretsKey === undefined) {
    // Every instance must read the secrets every other one stored.
    throw new ConfigError(
      'WEBHOOK_SECRETS_KEY',
      'or WEBHOOK_SECRETS_KEY_FILE must be set when DATABASE_URL is set (openssl rand -base64 32)',
    );
  }
  if (url !== undefined && encryptionKey === undefined) {
    // Every instance must read the personal data every other one sealed.
    throw new ConfigError(
      'ENCRYPTION_KEY',
      'or ENCRYPTION_KEY_FILE must be set when DATABASE_URL is set (openssl rand -base64 32)',
    );
  }

  const connectTimeoutMs = integer(env, 'DATABASE_CONNECT_TIMEOUT_MS', 5000, 100, 600_000);
  const statementTimeoutMs = integer(env, 'DATABASE_STATEMENT_TIMEOUT_MS', 10_000, 100, 3_600_000);
  // A claim must outlive the slowest request that can still be running (docs/decisions.md,
  // Failure): a shorter lease would let a retry run beside the request it retries.
  const slowestRequestMs = connectTimeoutMs + statementTimeoutMs + 1000;
  const idempotencyLeaseMs = integer(
    env,
    'IDEMPOTENCY_LEASE_MS',
    Math.max(60_000, slowestRequestMs + 1000),
    1000,
    86_400_000,
  );
  if (idempotencyLeaseMs <= slowestRequestMs) {
    throw new ConfigError(
      'IDEMPOTENCY_LEASE_MS',
      `must be longer than DATABASE_CONNECT_TIMEOUT_MS + DATABASE_STATEMENT_TIMEOUT_MS + 1000 (${slowestRequestMs})`,
    );
  }

  return Object.freeze({
    port: integer(env, 'PORT', 3000, 0, 65535),
    host: text(env, 'HOST') ?? '127.0.0.1',
    dataDir: path.resolve(text(env, 'DATA_DIR') ?? './data'),
    databaseUrl: url,
    databasePoolSize: integer(env, 'DATABASE_POOL_SIZE', 10, 1, 1000),
    databaseConnectTimeoutMs: connectTimeoutMs,
    databaseStatementTimeoutMs: statementTimeoutMs,
    idempotencyLeaseMs,
    databasePreparedStatements: boolean(env, 'DATABASE_PREPARED_STATEMENTS', true),
    databaseListenUrl: listenUrl,
    jwtPrivateKeyPem,
    jwtPreviousPublicKeysPem,
    jwtIssuer: text(env, 'JWT_ISSUER') ?? 'customercore',
    jwtAudience: text(env, 'JWT_AUDIENCE') ?? 'customercore-api',
    accessTokenTtlSeconds: integer(env, 'ACCESS_TOKEN_TTL_SECONDS', 900, 60, 86_400),
    refreshTokenTtlSeconds: integer(env, 'REFRESH_TOKEN_TTL_SECONDS', 30 * 86_400, 300, 365 * 86_400),
    operatorEmail,
    operatorPassword,
    logLevel: oneOf<LogLevel>(env, 'LOG_LEVEL', 'info', [
      'fatal',
      'error',
      'warn',
      'info',
      'debug',
      'trace',
      'silent',
    ]),
    shutdownGraceMs: integer(env, 'SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
    trustProxy: boolean(env, 'TRUST_PROXY', false),
    corsOrigins: Object.freeze(corsOrigins(env)),
    redisUrl: redisUrl(env),
    rateLimitLoginFailuresPerAccount: integer(env, 'RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT', 5, 1, 1000),
    rateLimitLoginFailuresPerAddress: integer(env, 'RATE_LIMIT_LOGIN_FAILURES_PER_ADDRESS', 20, 1, 100_000),
    rateLimitApiKeyFailuresPerAddress: integer(
      env,
      'RATE_LIMIT_API_KEY_FAILURES_PER_ADDRESS',
      20,
      1,
      100_000,
    ),
    webhookTimeoutMs: integer(env, 'WEBHOOK_TIMEOUT_MS', 15_000, 100, 120_000),
    webhookRetrySchedule: Object.freeze(retrySchedule(env)),
    webhookDisableAfterMs: duration(env, 'WEBHOOK_DISABLE_AFTER', '5d', 1000),
    webhookAllowPrivateNetworks: boolean(env, 'WEBHOOK_ALLOW_PRIVATE_NETWORKS', false),
    webhookConcurrency: integer(env, 'WEBHOOK_CONCURRENCY', 16, 1, 1000),
    webhookDatabasePoolSize: integer(env, 'WEBHOOK_DATABASE_POOL_SIZE', 2, 1, 100),
    webhookSecretsKey: secretsKey,
    encryptionKey,
    previousEncryptionKeys: Object.freeze(previousEncryptionKeys),
    rateLimitApiKeyPerMinute: integer(env, 'RATE_LIMIT_API_KEY_PER_MINUTE', 6000, 1, 100_000_000),
    rateLimitApiKeyPerSecond: integer(env, 'RATE_LIMIT_API_KEY_PER_SECOND', 200, 1, 10_000_000),
    metricsPort:
      text(env, 'METRICS_PORT') === undefined ? undefined : integer(env, 'METRICS_PORT', 0, 0, 65535),
    metricsHost: text(env, 'METRICS_HOST') ?? '127.0.0.1',
    consoleIdleTimeoutMs: duration(env, 'CONSOLE_IDLE_TIMEOUT', '15m', 10_000),
    consoleSessionLifetimeMs: duration(env, 'CONSOLE_SESSION_LIFETIME', '8h', 60_000),
  });
}
