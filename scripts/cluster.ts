// `npm run cluster`: CustomerCore as it is deployed, on this machine, from real parts: three
// service instances behind HAProxy (health checks on /health/ready), sharing one PostgreSQL
// database through PgBouncer and the rate-limit counters through Redis. Instances 1 and 2 go
// through PgBouncer in transaction mode (DATABASE_PREPARED_STATEMENTS=false), instance 3 in session
// mode; every instance LISTENs straight on PostgreSQL (DATABASE_LISTEN_URL) and serves /metrics on
// a port of its own. Everything listens on 127.0.0.1 on free ports; the configuration files, logs
// and the database are created for the run and removed when it stops (Ctrl-C).
//
//   npm run cluster [-- --database-url postgres://postgres@127.0.0.1:5432/postgres --instances 3]
//
// test/cluster.test.ts drives the same cluster through startCluster().
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { generateSigningKeyPem } from '../src/modules/auth/signing-key.js';

const root = path.resolve(import.meta.dirname, '..');

export interface ClusterOptions {
  /** A PostgreSQL server URL whose user may create databases; the cluster's database is made there. */
  adminUrl: string;
  instances?: number;
  /** Extra environment for every instance (rate limits, log level). */
  env?: Record<string, string>;
}

export interface Instance {
  readonly name: string;
  readonly port: number;
  readonly metricsPort: number;
  readonly poolMode: 'transaction' | 'session';
  process: ChildProcess | undefined;
}

export interface Cluster {
  /** HAProxy's address: the one URL clients use. */
  readonly baseUrl: string;
  readonly instances: Instance[];
  readonly databaseUrl: string;
  readonly operator: { email: string; password: string };
  readonly dir: string;
  /** Starts (or restarts) an instance and waits until it answers /health/ready. */
  startInstance(instance: Instance): Promise<void>;
  /** HAProxy's view of each server: name → status (UP, DOWN, …). */
  haproxyStatus(): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

/** A port nothing listens on now (the kernel's choice). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        resolve(typeof address === 'object' && address !== null ? address.port : 0);
      });
    });
  });
}

/** Polls `check` until true; a check that throws ends the wait with its error. */
async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(100);
  }
}

const answers = async (url: string) =>
  fetch(url, { signal: AbortSignal.timeout(2000) }).then(
    (response) => response.ok,
    () => false,
  );

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'customercore-cluster-'));
  const children: ChildProcess[] = [];
  // Should this process end without stop() (an uncaught error, a test runner's exit), its children
  // end with it rather than keep ports and a database.
  const orphanGuard = () => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.on('exit', orphanGuard);
  const run = (name: string, command: string, args: string[], env: Record<string, string> = {}) => {
    const log = openSync(path.join(dir, `${name}.log`), 'a');
    const child = spawn(command, args, {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', log, log],
    });
    children.push(child);
    return child;
  };

  // PostgreSQL: a database of the cluster's own. Behind PgBouncer the client cannot send the
  // statement and idle-transaction timeouts, nor jit = off, as startup parameters (PgBouncer
  // refuses unknown ones), so they are the database's own settings here, as they should be in
  // production.
  const databaseName = `customercore_cluster_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: options.adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${databaseName}`);
  await admin.query(`ALTER DATABASE ${databaseName} SET statement_timeout = '10s'`);
  await admin.query(`ALTER DATABASE ${databaseName} SET idle_in_transaction_session_timeout = '10s'`);
  await admin.query(`ALTER DATABASE ${databaseName} SET jit = off`);
  await admin.end();
  const server = new URL(options.adminUrl);
  const direct = new URL(options.adminUrl);
  direct.pathname = `/${databaseName}`;
  const databaseUrl = direct.toString();

  const stopAll = async () => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await Promise.all(
      children.map((child) =>
        child.exitCode !== null || child.signalCode !== null
          ? Promise.resolve(undefined)
          : new Promise((resolve) => {
              const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
              child.once('exit', () => {
                clearTimeout(timer);
                resolve(undefined);
              });
            }),
      ),
    );
    const cleanup = new pg.Client({ connectionString: options.adminUrl });
    await cleanup.connect();
    await cleanup.query(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`);
    await cleanup.end();
    rmSync(dir, { recursive: true, force: true });
    process.off('exit', orphanGuard);
  };

  try {
    // Redis, in memory only.
    const redisPort = await freePort();
    run('redis', 'redis-server', [
      '--port',
      String(redisPort),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
    ]);

    // PgBouncer: one process, a transaction-mode and a session-mode database in front of the same
    // PostgreSQL database.
    const bouncerPort = await freePort();
    const upstream = `host=${server.hostname} port=${server.port || '5432'} dbname=${databaseName} user=${decodeURIComponent(server.username || 'postgres')}`;
    writeFileSync(
      path.join(dir, 'pgbouncer.ini'),
      [
        '[databases]',
        `cc_transaction = ${upstream} pool_mode=transaction`,
        `cc_session = ${upstream} pool_mode=session`,
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${bouncerPort}`,
        'unix_socket_dir =',
        // The upstream server trusts local connections here; a deployment uses auth_file/auth_query.
        'auth_type = any',
        'max_client_conn = 500',
        'default_pool_size = 20',
        'ignore_startup_parameters = statement_timeout, idle_in_transaction_session_timeout, options',
        '',
      ].join('\n'),
    );
    // PgBouncer refuses to run as root: as root (a CI container), it runs as the postgres user.
    const asUser = process.getuid?.() === 0 ? ['-u', 'postgres'] : [];
    chmodSync(dir, 0o755);
    run('pgbouncer', '/usr/sbin/pgbouncer', [...asUser, path.join(dir, 'pgbouncer.ini')]);

    const count = options.instances ?? 3;
    const instances: Instance[] = [];
    for (let index = 1; index <= count; index++) {
      instances.push({
        name: `i${index}`,
        port: await freePort(),
        metricsPort: await freePort(),
        poolMode: index === count && count > 1 ? 'session' : 'transaction',
        process: undefined,
      });
    }

    const haproxyPort = await freePort();
    const socket = path.join(dir, 'haproxy.sock');
    writeFileSync(
      path.join(dir, 'haproxy.cfg'),
      [
        'global',
        '  maxconn 2000',
        `  stats socket ${socket} mode 600 level admin`,
        'defaults',
        '  mode http',
        '  timeout connect 1s',
        '  timeout client 30s',
        '  timeout server 30s',
        // A connection refused (an instance gone) is retried on another instance: the request never
        // reached the service, so this is safe for writes. Nothing else is retried.
        '  retries 3',
        '  option redispatch 1',
        '  option http-server-close',
        'frontend api',
        `  bind 127.0.0.1:${haproxyPort}`,
        '  default_backend customercore',
        'backend customercore',
        '  balance roundrobin',
        '  option httpchk GET /health/ready',
        '  http-check expect status 200',
        '  default-server inter 500ms fall 2 rise 2',
        ...instances.map((instance) => `  server ${instance.name} 127.0.0.1:${instance.port} check`),
        '',
      ].join('\n'),
    );

    const signingKey = generateSigningKeyPem();
    // Every instance seals and opens webhook secrets with the same key, as in any deployment.
    const webhookSecretsKey = randomBytes(32).toString('base64');
    const encryptionKey = randomBytes(32).toString('base64');
    const operator = { email: 'operator@cluster.test', password: randomBytes(12).toString('base64url') };
    const bouncer = (database: string) =>
      `postgres://${encodeURIComponent(decodeURIComponent(server.username || 'postgres'))}@127.0.0.1:${bouncerPort}/${database}`;

    const startInstance = async (instance: Instance) => {
      instance.process = run(
        instance.name,
        process.execPath,
        ['--import', import.meta.resolve('tsx'), path.join(root, 'src/main.ts')],
        {
          PORT: String(instance.port),
          HOST: '127.0.0.1',
          METRICS_PORT: String(instance.metricsPort),
          DATABASE_URL: bouncer(instance.poolMode === 'transaction' ? 'cc_transaction' : 'cc_session'),
          DATABASE_PREPARED_STATEMENTS: instance.poolMode === 'transaction' ? 'false' : 'true',
          DATABASE_LISTEN_URL: databaseUrl,
          REDIS_URL: `redis://127.0.0.1:${redisPort}`,
          JWT_PRIVATE_KEY: signingKey,
          WEBHOOK_SECRETS_KEY: webhookSecretsKey,
          ENCRYPTION_KEY: encryptionKey,
          OPERATOR_EMAIL: operator.email,
          OPERATOR_PASSWORD: operator.password,
          TRUST_PROXY: 'false',
          LOG_LEVEL: 'warn',
          ...options.env,
        },
      );
      const child = instance.process;
      await waitFor(
        `${instance.name} to be ready`,
        async () => {
          if (child.exitCode !== null)
            throw new Error(`${instance.name} exited (see ${dir}/${instance.name}.log)`);
          return answers(`http://127.0.0.1:${instance.port}/health/ready`);
        },
        60_000,
      );
    };

    // The first instance applies the migrations; the others start together once they exist.
    const [first, ...others] = instances;
    if (first !== undefined) await startInstance(first);
    await Promise.all(others.map(startInstance));
    run('haproxy', '/usr/sbin/haproxy', ['-db', '-f', path.join(dir, 'haproxy.cfg')]);

    const haproxyStatus = async (): Promise<Record<string, string>> => {
      const csv = await new Promise<string>((resolve, reject) => {
        const client = connect(socket);
        let text = '';
        client.on('data', (chunk) => (text += chunk.toString()));
        client.on('end', () => {
          resolve(text);
        });
        client.on('error', reject);
        client.write('show stat\n');
      });
      const [header, ...rows] = csv.split('\n').filter((line) => line !== '');
      const columns = (header ?? '').replace(/^# /, '').split(',');
      const at = (name: string) => columns.indexOf(name);
      return Object.fromEntries(
        rows
          .map((row) => row.split(','))
          .filter(
            (fields) => fields[at('pxname')] === 'customercore' && fields[at('svname')]?.startsWith('i'),
          )
          .map((fields) => [fields[at('svname')] ?? '', fields[at('status')] ?? '']),
      );
    };
    await waitFor('HAProxy to see every instance up', async () => {
      const status: Record<string, string> = await haproxyStatus().catch(() => ({}));
      return instances.every((instance) => status[instance.name] === 'UP');
    });

    return {
      baseUrl: `http://127.0.0.1:${haproxyPort}`,
      instances,
      databaseUrl,
      operator,
      dir,
      startInstance,
      haproxyStatus,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const { values } = parseArgs({
    options: {
      'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
      instances: { type: 'string', default: '3' },
    },
  });
  const cluster = await startCluster({
    adminUrl: values['database-url'],
    instances: Number(values.instances),
  });
  process.stdout.write(
    [
      `CustomerCore cluster up: ${cluster.baseUrl} (HAProxy)`,
      ...cluster.instances.map(
        (instance) =>
          `  ${instance.name}: http://127.0.0.1:${instance.port} (PgBouncer ${instance.poolMode} mode), metrics http://127.0.0.1:${instance.metricsPort}/metrics`,
      ),
      `  operator: ${cluster.operator.email} / ${cluster.operator.password}`,
      `  database: ${cluster.databaseUrl} (dropped on exit); configuration and logs in ${cluster.dir}`,
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
  const stop = () => {
    process.stdout.write('stopping…\n');
    cluster.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
