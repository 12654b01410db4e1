// The service as a real process, started the way `npm start` starts it: configuration checks,
// the embedded database's data-directory lock, the operator bootstrap, a signing key that
// survives restarts, and a graceful exit on SIGTERM.
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateSigningKeyPem } from '../src/modules/auth/signing-key.js';
import { engine, openTestDatabase, type TestDatabase } from './support/app.js';
import { call, runService, startService, stopService } from './support/service.js';

function readCredentials(dataDir: string): { email: string; password: string } {
  const text = readFileSync(path.join(dataDir, 'operator-credentials.txt'), 'utf8');
  return {
    email: /^email=(.+)$/m.exec(text)?.[1] ?? '',
    password: /^password=(.+)$/m.exec(text)?.[1] ?? '',
  };
}

describe('the service process with the embedded database', () => {
  let dataDir: string;
  before(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'customercore-'));
  });
  after(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('when started on a bare data directory, then it creates an operator whose password is only in an owner-only file', async () => {
    const service = await startService({ DATA_DIR: dataDir });
    try {
      const file = path.join(dataDir, 'operator-credentials.txt');
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const { email, password } = readCredentials(dataDir);
      assert.ok(password.length >= 20);
      assert.ok(!service.output().includes(password), 'the password must not be logged');
      assert.ok(service.output().includes(file), 'the log says where the credentials are');
      const login = await call(service, '/v2/auth/login', { token: email, password });
      assert.equal(login.status, 200);
      assert.equal(statSync(path.join(dataDir, 'jwt-signing-key.pem')).mode & 0o777, 0o600);
    } finally {
      assert.equal(await stopService(service), 0);
    }
  });

  it('when a second process starts on the same data directory, then it exits non-zero with a clear message and the first keeps serving and keeps its data', async () => {
    const first = await startService({ DATA_DIR: dataDir });
    try {
      const { email, password } = readCredentials(dataDir);
      const operator = await call(first, '/v2/auth/login', { token: email, password });
      const created = await call(
        first,
        '/v2/admin/institution/create',
        { title: 'Lock Test', ownerEmail: 'owner@lock.test' },
        { authorization: `Bearer ${operator.body.data.accessToken}` },
      );
      assert.equal(created.status, 201);

      const second = runService({ DATA_DIR: dataDir });
      const code = await second.exited;
      assert.notEqual(code, 0);
      assert.match(
        second.output(),
        /data directory .* is in use by another CustomerCore process \(pid \d+\)/,
      );
      assert.doesNotMatch(second.output(), /Server listening/);

      const login = await call(
        first,
        '/v2/auth/login',
        { token: 'owner@lock.test', password: created.body.data.owner.password },
        { merchant_id: created.body.data.merchantId },
      );
      assert.equal(login.status, 200);
    } finally {
      assert.equal(await stopService(first), 0);
    }
  });

  it('when restarted, then data and access tokens issued before the restart are still valid', async () => {
    const first = await startService({ DATA_DIR: dataDir });
    const { email, password } = readCredentials(dataDir);
    const operator = await call(first, '/v2/auth/login', { token: email, password });
    const created = await call(
      first,
      '/v2/admin/institution/create',
      { title: 'Restart Test', ownerEmail: 'owner@restart.test', ownerPassword: 'restart-password-1' },
      { authorization: `Bearer ${operator.body.data.accessToken}` },
    );
    const owner = await call(
      first,
      '/v2/auth/login',
      { token: 'owner@restart.test', password: 'restart-password-1' },
      { merchant_id: created.body.data.merchantId },
    );
    const auth = { authorization: `Bearer ${owner.body.data.accessToken}` };
    const customer = await call(
      first,
      '/v2/customer/create',
      {
        email: 'restart@mail.com',
        firstName: 'Re',
        lastName: 'Start',
        country: 'UA',
        verificationDocumentId: 'D1',
        residenceAddress: 'Kyiv',
      },
      auth,
    );
    assert.equal(customer.status, 201);
    assert.equal(await stopService(first), 0);

    const second = await startService({ DATA_DIR: dataDir });
    try {
      const details = await call(second, '/v2/customer/details', { id: customer.body.data.id }, auth);
      assert.equal(details.status, 200);
      assert.deepEqual(details.body.data, customer.body.data);
      assert.equal(readCredentials(dataDir).password, password, 'the bootstrap runs only once');
    } finally {
      assert.equal(await stopService(second), 0);
    }
  });
});

describe('configuration errors stop the process with a message naming the variable', () => {
  const cases: { env: Record<string, string>; variable: string }[] = [
    { env: { PORT: 'abc' }, variable: 'PORT' },
    { env: { PORT: '70000' }, variable: 'PORT' },
    { env: { DATABASE_URL: 'mysql://localhost/db' }, variable: 'DATABASE_URL' },
    { env: { DATABASE_URL: 'postgres://127.0.0.1:5432/test' }, variable: 'JWT_PRIVATE_KEY' },
    {
      env: {
        DATABASE_URL: 'postgres://127.0.0.1:5432/test',
        JWT_PRIVATE_KEY: '-----BEGIN PRIVATE KEY-----',
        WEBHOOK_SECRETS_KEY: Buffer.alloc(32, 1).toString('base64'),
      },
      variable: 'ENCRYPTION_KEY',
    },
    { env: { JWT_PRIVATE_KEY: 'not a key' }, variable: 'JWT_PRIVATE_KEY' },
    { env: { JWT_PRIVATE_KEY_FILE: '/nonexistent/jwt.pem' }, variable: 'JWT_PRIVATE_KEY_FILE' },
    {
      env: { JWT_PRIVATE_KEY: 'x', JWT_PRIVATE_KEY_FILE: '/etc/hostname' },
      variable: 'JWT_PRIVATE_KEY_FILE',
    },
    { env: { OPERATOR_EMAIL: 'ops@bank.test' }, variable: 'OPERATOR_PASSWORD' },
    { env: { OPERATOR_EMAIL: 'ops@bank.test', OPERATOR_PASSWORD: 'short' }, variable: 'OPERATOR_PASSWORD' },
    { env: { LOG_LEVEL: 'loud' }, variable: 'LOG_LEVEL' },
    { env: { REDIS_URL: 'http://127.0.0.1:6379' }, variable: 'REDIS_URL' },
    { env: { RATE_LIMIT_API_KEY_PER_MINUTE: '0' }, variable: 'RATE_LIMIT_API_KEY_PER_MINUTE' },
    { env: { RATE_LIMIT_API_KEY_PER_SECOND: '0' }, variable: 'RATE_LIMIT_API_KEY_PER_SECOND' },
    { env: { METRICS_PORT: 'abc' }, variable: 'METRICS_PORT' },
    { env: { DATABASE_PREPARED_STATEMENTS: 'maybe' }, variable: 'DATABASE_PREPARED_STATEMENTS' },
    { env: { DATABASE_LISTEN_URL: 'postgres://127.0.0.1:5432/test' }, variable: 'DATABASE_LISTEN_URL' },
    {
      env: { DATABASE_URL: 'postgres://127.0.0.1:5432/test', DATABASE_LISTEN_URL: 'redis://127.0.0.1' },
      variable: 'DATABASE_LISTEN_URL',
    },
    { env: { JWT_PREVIOUS_PUBLIC_KEYS: 'not a key' }, variable: 'JWT_PREVIOUS_PUBLIC_KEYS' },
    { env: { CORS_ORIGINS: '*' }, variable: 'CORS_ORIGINS' },
    { env: { CORS_ORIGINS: 'https://app.example.com/path' }, variable: 'CORS_ORIGINS' },
    { env: { SHUTDOWN_GRACE_MS: '-1' }, variable: 'SHUTDOWN_GRACE_MS' },
    // Shorter than a request can take to fail: a retry would run beside the request it retries.
    { env: { IDEMPOTENCY_LEASE_MS: '16000' }, variable: 'IDEMPOTENCY_LEASE_MS' },
  ];
  for (const { env, variable } of cases) {
    it(`when ${JSON.stringify(env)}, then it exits naming ${variable}`, async () => {
      const dataDir = mkdtempSync(path.join(tmpdir(), 'customercore-config-'));
      try {
        const service = runService({ DATA_DIR: dataDir, ...env });
        assert.equal(await service.exited, 78);
        assert.match(service.output(), new RegExp(`Invalid configuration: ${variable}\\b`));
        assert.doesNotMatch(service.output(), /Server listening/);
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  }
});

describe('a .env file in the working directory', () => {
  it('when it holds values, then the process reads them, and the environment wins over the file', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'customercore-dotenv-'));
    try {
      // LOG_LEVEL is also set in the environment (to info), so only SHUTDOWN_GRACE_MS can be refused.
      writeFileSync(path.join(dir, '.env'), 'LOG_LEVEL=loud\nSHUTDOWN_GRACE_MS=-1\n');
      const service = runService({ DATA_DIR: path.join(dir, 'data') }, dir);
      assert.equal(await service.exited, 78);
      assert.match(service.output(), /Invalid configuration: SHUTDOWN_GRACE_MS\b/);
      assert.doesNotMatch(service.output(), /LOG_LEVEL/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe(`the service process on PostgreSQL (${engine})`, { skip: engine !== 'postgres' }, () => {
  let database: TestDatabase;
  before(async () => {
    database = await openTestDatabase();
  });
  after(async () => {
    await database.drop();
  });

  it('when DATABASE_URL is set, then it migrates, creates the configured operator, serves, and exits 0 on SIGTERM', async () => {
    const connection = database.connection!;
    const url = new URL(connection.connectionString);
    url.searchParams.set('options', `-c search_path=${connection.schema}`);
    const env = {
      DATABASE_URL: url.toString(),
      JWT_PRIVATE_KEY: generateSigningKeyPem().replace(/\n/g, '\\n'),
      WEBHOOK_SECRETS_KEY: randomBytes(32).toString('base64'),
      ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      OPERATOR_EMAIL: 'ops@bank.test',
      OPERATOR_PASSWORD: 'a-long-operator-password',
    };
    const service = await startService(env);
    try {
      const login = await call(service, '/v2/auth/login', {
        token: 'ops@bank.test',
        password: 'a-long-operator-password',
      });
      assert.equal(login.status, 200);
      assert.ok(!service.output().includes('a-long-operator-password'));
      const ready = await fetch(`${service.baseUrl}/health/ready`);
      assert.equal(ready.status, 200);
      const operators = await database.db.query("SELECT email FROM users WHERE role = 'Operator'");
      assert.deepEqual(operators, [{ email: 'ops@bank.test' }]);
    } finally {
      assert.equal(await stopService(service), 0);
    }
    // A second instance on the same database starts fine (no data-directory lock with a server).
    const again = await startService(env);
    assert.equal(await stopService(again), 0);
  });
});
