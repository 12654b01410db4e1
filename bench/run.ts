// Throughput of the service against a raw-driver baseline, measured in one run on one machine.
//   npm run bench                       the built service, run as `npm start` runs it, on PostgreSQL
//   npm run bench -- --embedded         the same on embedded PGlite (DATA_DIR)
// On PostgreSQL each run also loads a minimal Fastify + pg server (bench/minimal-server.ts) doing
// the same queries, and prints the service's throughput and CPU per request against it.
//   options: --duration 8 --warmup 3 --concurrency 1,16,64 --ops create,details,update,find,mix,webhooks
//            --rounds 3 (webhooks: alternating runs with no endpoint and with one, at 16 connections)
//            --webhook-concurrency N (the service's WEBHOOK_CONCURRENCY)
//            --auth api-key|jwt --pool 10 --seed 2000 --profile DIR (CPU profile of the service)
//            --service-flags=--a-node-flag --service-root DIR (another build) --skip-build
//            --database-url postgres://postgres@127.0.0.1:5432/postgres
// The service runs as a child process with LOG_LEVEL=info (one log line per request, as
// deployed), written to a file. Each operation is loaded over HTTP with autocannon at each
// concurrency, and the same database work (the service's own functions, so the same SQL in the
// same transactions) is run directly on the driver at the same concurrency with a pool of the
// same size: that is the baseline, and every result is printed as a ratio to it, because
// absolute figures on a shared 2-core machine mean little. Nothing here is asserted by the tests.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { Database } from '../src/db/database.js';
import { scheduleMaintenance } from '../src/db/maintenance.js';
import { migrate } from '../src/db/migrate.js';
import { generateSigningKeyPem } from '../src/modules/auth/signing-key.js';
import { createCustomer, type CustomerStore } from '../src/modules/customers/customers.service.js';
import { insertInstitution } from '../src/modules/institutions/institutions.repository.js';
import { decodeKey, localKeyProvider } from '../src/platform/crypto/key-provider.js';
import { openVault } from '../src/platform/crypto/vault.js';
import type { Actor } from '../src/platform/principal.js';
import { cpuSecondsOf, directLoad, httpLoad, peakMemoryDuring, type Figures } from './measure.js';
import { rawPglite, rawPostgres } from './raw-database.js';
import { printWebhookRounds, webhookScenario } from './webhooks.js';
import {
  createFields,
  mixDescription,
  operationNames,
  operations,
  type OperationName,
  type Seeded,
} from './workload.js';

const root = path.resolve(import.meta.dirname, '..');
const BENCH_DATABASE = 'customercore_bench_tp';

const { values: args } = parseArgs({
  options: {
    embedded: { type: 'boolean', default: false },
    duration: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '1,16,64' },
    ops: { type: 'string', default: [...operationNames, 'webhooks'].join(',') },
    rounds: { type: 'string', default: '3' },
    auth: { type: 'string', default: 'api-key' },
    pool: { type: 'string', default: '10' },
    seed: { type: 'string', default: '2000' },
    profile: { type: 'string' },
    // The service's WEBHOOK_CONCURRENCY (its default when not given).
    'webhook-concurrency': { type: 'string' },
    'service-flags': { type: 'string', default: '' },
    'log-level': { type: 'string', default: 'info' },
    // Another build of the service (a package root with dist/), to compare before and after.
    'service-root': { type: 'string', default: root },
    'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    'skip-build': { type: 'boolean', default: false },
  },
});
const engine = args.embedded ? 'pglite' : 'postgres';
const seconds = Number(args.duration);
const warmupSeconds = Number(args.warmup);
const concurrencies = args.concurrency.split(',').map(Number);
const poolSize = Number(args.pool);
const seedCount = Number(args.seed);
const auth = args.auth === 'jwt' ? 'jwt' : 'api-key';
const requested = args.ops.split(',');
// `webhooks` is a scenario of its own (bench/webhooks.ts), not an operation against a baseline.
const withWebhooks = requested.includes('webhooks');
const selected = requested
  .filter((name) => name !== 'webhooks')
  .map((name) => {
    if (!(operationNames as readonly string[]).includes(name)) throw new Error(`unknown operation ${name}`);
    return name as OperationName;
  });

/** What each operation must reach, as a share of its baseline (issue 5). */
const targets: Record<typeof engine, Partial<Record<OperationName, number>>> = {
  postgres: { create: 0.6, details: 0.6, update: 0.5 },
  pglite: { create: 0.5 },
};
const MEMORY_TARGET_MB = 200;

// ---- the service ----

interface ServiceProcess {
  pid: number;
  baseUrl: string;
  stop(): Promise<number | null>;
}

/** The minimal Fastify + pg server (bench/minimal-server.ts), through tsx like the tests run src. */
async function startMinimal(env: Record<string, string>, workDir: string): Promise<ServiceProcess> {
  return startProcess(
    ['--import', import.meta.resolve('tsx'), path.join(root, 'bench/minimal-server.ts')],
    env,
    path.join(workDir, 'minimal.log'),
  );
}

async function startService(env: Record<string, string>, workDir: string): Promise<ServiceProcess> {
  const flags = [
    // As `npm start` runs it.
    '--enable-source-maps',
    ...(args.profile === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', path.resolve(args.profile)]),
    ...args['service-flags'].split(' ').filter((flag) => flag !== ''),
  ];
  return startProcess(
    [...flags, path.join(args['service-root'], 'dist/src/main.js')],
    env,
    path.join(workDir, 'service.log'),
  );
}

async function startProcess(
  nodeArgs: string[],
  env: Record<string, string>,
  logFile: string,
): Promise<ServiceProcess> {
  const workDir = path.dirname(logFile);
  const port = await freePort();
  const log = openSync(logFile, 'a');
  // The log goes straight to a file, so reading it costs the bench process nothing.
  const child = spawn(process.execPath, nodeArgs, {
    cwd: workDir,
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: args['log-level'],
      ...env,
    },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    // Polled rather than read from the log, which says nothing below LOG_LEVEL=info.
    const live = await fetch(`${baseUrl}/health/live`).then(
      (response) => response.ok,
      () => false,
    );
    if (live && child.pid !== undefined) {
      return {
        pid: child.pid,
        baseUrl,
        stop: () => {
          child.kill('SIGTERM');
          return exited;
        },
      };
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the service did not start:\n${readFileSync(logFile, 'utf8')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A port nothing listens on at the moment. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** POSTs a JSON body and returns the answer's `data`, typed by the caller. */
async function post<T>(
  baseUrl: string,
  route: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  const response = await fetch(baseUrl + route, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const answer = (await response.json()) as { data: T };
  if (!response.ok) throw new Error(`${route}: ${response.status} ${JSON.stringify(answer)}`);
  return answer.data;
}

/** An institution with an owner and an API key, made through the API as a partner would. */
async function onboard(baseUrl: string, operator: { email: string; password: string }, name = 'bench') {
  const ownerEmail = `owner.${name}@bench.test`;
  const operatorToken = await post<{ accessToken: string }>(baseUrl, '/v2/auth/login', {
    token: operator.email,
    password: operator.password,
  });
  const ownerPassword = randomBytes(12).toString('base64url');
  const institution = await post<{ id: string; owner: { id: string } }>(
    baseUrl,
    '/v2/admin/institution/create',
    { title: `Bench Bank (${name})`, ownerEmail, ownerPassword },
    { authorization: `Bearer ${operatorToken.accessToken}` },
  );
  const owner = await post<{ accessToken: string }>(
    baseUrl,
    '/v2/auth/login',
    { token: ownerEmail, password: ownerPassword },
    { merchant_id: institution.id },
  );
  const apiKey = await post<{ id: string; key: string }>(
    baseUrl,
    '/v2/api-key/create',
    { name: 'bench', scopes: ['customers:read', 'customers:write', 'webhooks:manage'] },
    { authorization: `Bearer ${owner.accessToken}` },
  );
  const credentials: { headers: Record<string, string>; actor: Actor } =
    auth === 'jwt'
      ? {
          headers: { authorization: `Bearer ${owner.accessToken}` },
          actor: { type: 'user', id: institution.owner.id, name: ownerEmail },
        }
      : { headers: { 'api-key': apiKey.key }, actor: { type: 'api_key', id: apiKey.id, name: 'bench' } };
  return { institutionId: institution.id, ...credentials };
}

/** `count` customers made by `create`, from 16 loops. */
async function seed(count: number, create: (n: number) => Promise<{ id: string; email: string }>) {
  const seeded: Seeded[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < count) {
        const customer = await create(next++);
        seeded.push({ id: customer.id, email: customer.email });
      }
    }),
  );
  return seeded;
}

// ---- output ----

interface Row {
  operation: OperationName;
  concurrency: number;
  service: Figures;
  baseline: Figures;
  /** The minimal Fastify + pg server (PostgreSQL only). */
  minimal?: Figures;
}

/** Issue 14's targets against the minimal server: throughput share, and service CPU per request. */
const minimalTargets: Partial<Record<OperationName, { share: number; cpu: number }>> = {
  create: { share: 0.85, cpu: 1.25 },
  details: { share: 0.85, cpu: 1.25 },
};

function minimalLine(row: Row): string {
  const minimal = row.minimal;
  if (minimal === undefined) return '';
  const share = row.service.rps / minimal.rps;
  const serviceCpu = row.service.cpuMicros?.service ?? Number.NaN;
  const minimalCpu = minimal.cpuMicros?.service ?? Number.NaN;
  const cpuRatio = serviceCpu / minimalCpu;
  const target = minimalTargets[row.operation];
  const met =
    target === undefined
      ? 'none'
      : share >= target.share && cpuRatio <= target.cpu
        ? 'yes'
        : `no (${share < target.share ? `share < ${target.share * 100}%` : ''}${share < target.share && cpuRatio > target.cpu ? ', ' : ''}${cpuRatio > target.cpu ? `CPU > ${target.cpu}×` : ''})`;
  return (
    `| ${row.operation} | ${row.concurrency} | ${fixed(row.service.rps, 0)} | ${fixed(minimal.rps, 0)} | ` +
    `${fixed(share * 100, 0)}% | ${fixed(serviceCpu, 0)} | ${fixed(minimalCpu, 0)} | ${fixed(cpuRatio, 2)}× | ` +
    `${minimal.errors} | ${met} |`
  );
}

const fixed = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '-');

function verdict(row: Row): string {
  const problems: string[] = [];
  const target = targets[engine][row.operation];
  const ratio = row.service.rps / row.baseline.rps;
  if (target !== undefined && ratio < target) problems.push(`ratio < ${target * 100}%`);
  if (row.service.errors > 0 || row.baseline.errors > 0) problems.push('errors');
  if (
    engine === 'postgres' &&
    row.concurrency === 64 &&
    (row.service.peakMemoryMiB ?? 0) * 1.048576 >= MEMORY_TARGET_MB
  ) {
    problems.push(`memory ≥ ${MEMORY_TARGET_MB} MB`);
  }
  if (problems.length > 0) return `no: ${problems.join(', ')}`;
  return target === undefined ? 'yes (no ratio target)' : `yes (≥ ${target * 100}%)`;
}

function tableLine(row: Row): string {
  const { service, baseline } = row;
  const memoryMb = (service.peakMemoryMiB ?? Number.NaN) * 1.048576;
  return (
    `| ${row.operation} | ${row.concurrency} | ${fixed(service.rps, 0)} | ${fixed(service.p50Ms)} | ` +
    `${fixed(service.p99Ms)} | ${service.errors} | ${fixed(memoryMb, 0)} | ${fixed(baseline.rps, 0)} | ` +
    `${fixed(baseline.p50Ms)} | ${fixed(baseline.p99Ms)} | ${baseline.errors} | ` +
    `${fixed((service.rps / baseline.rps) * 100, 0)}% | ${verdict(row)} |`
  );
}

// ---- the run ----

async function main(): Promise<void> {
  if (!args['skip-build']) {
    const build = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
    if (build.status !== 0) throw new Error('npm run build failed');
  }
  const workDir = mkdtempSync(path.join(tmpdir(), 'customercore-bench-'));
  const operator = { email: 'operator@bench.test', password: randomBytes(12).toString('base64url') };
  const serviceEnv: Record<string, string> = {
    JWT_PRIVATE_KEY: generateSigningKeyPem(),
    WEBHOOK_SECRETS_KEY: randomBytes(32).toString('base64'),
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    OPERATOR_EMAIL: operator.email,
    OPERATOR_PASSWORD: operator.password,
    DATABASE_POOL_SIZE: String(poolSize),
    // The defaults (6,000 a minute, 200 a second) are a partner's budget; the bench is one partner
    // at full speed.
    RATE_LIMIT_API_KEY_PER_MINUTE: '100000000',
    RATE_LIMIT_API_KEY_PER_SECOND: '10000000',
    ACCESS_TOKEN_TTL_SECONDS: '3600',
    // The webhook scenario's receiver listens on 127.0.0.1 over http.
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
    ...(args['webhook-concurrency'] === undefined
      ? {}
      : { WEBHOOK_CONCURRENCY: args['webhook-concurrency'] }),
  };

  const adminUrl = args['database-url'];
  const benchUrl = Object.assign(new URL(adminUrl), { pathname: `/${BENCH_DATABASE}` }).toString();
  const admin = new pg.Client({ connectionString: adminUrl });
  if (engine === 'postgres') {
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${BENCH_DATABASE} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${BENCH_DATABASE}`);
    serviceEnv.DATABASE_URL = benchUrl;
  } else {
    serviceEnv.DATA_DIR = path.join(workDir, 'service-data');
  }

  let service: ServiceProcess | undefined;
  let minimalServer: ServiceProcess | undefined;
  let raw: Database | undefined;
  let maintenance: { stop(): Promise<void> } | undefined;
  try {
    service = await startService(serviceEnv, workDir);
    const baseUrl = service.baseUrl;
    const partner = await onboard(baseUrl, operator);
    const seededOverHttp = await seed(seedCount, (n) =>
      post<Seeded>(baseUrl, '/v2/customer/create', createFields(n, 'seed'), partner.headers),
    );

    // The baseline works on the same database and institution (PostgreSQL), or on its own
    // embedded database in this process, set up and seeded alike (PGlite is single-process).
    let baselineContext = {
      institutionId: partner.institutionId,
      actor: partner.actor,
      seeded: seededOverHttp,
    };
    // The baseline seals and opens personal data as the service does, with the service's key on
    // the service's database (its keyring), with a key of its own on its own embedded one.
    const keys = localKeyProvider(decodeKey(serviceEnv.ENCRYPTION_KEY ?? '', 'ENCRYPTION_KEY'));
    let baselineStore: CustomerStore;
    if (engine === 'postgres') {
      raw = rawPostgres(benchUrl, poolSize);
      baselineStore = { db: raw, vault: await openVault(raw, keys) };
    } else {
      const rawDb = await rawPglite(path.join(workDir, 'baseline-data'));
      raw = rawDb;
      await migrate(rawDb);
      baselineStore = { db: rawDb, vault: await openVault(rawDb, keys) };
      const store = baselineStore;
      const institution = await insertInstitution(rawDb, 'Bench Bank');
      const seeded = await seed(seedCount, async (n) => {
        const customer = await createCustomer(
          store,
          { institutionId: institution.id, actor: partner.actor, requestId: `bench-seed-${n}` },
          createFields(n, 'seed'),
        );
        return { id: customer.id, email: customer.email ?? '' };
      });
      baselineContext = { institutionId: institution.id, actor: partner.actor, seeded };
    }
    const baselineDb = raw;
    // Statistics, as autovacuum keeps them on a server: this one may have it off (the shared test
    // server does), and plans cached while the tables were small would then scan them whole on both
    // sides. The embedded baseline is maintained as the embedded service maintains itself.
    const autovacuum =
      engine === 'postgres'
        ? (await admin.query<{ autovacuum: string }>('SHOW autovacuum')).rows[0]?.autovacuum
        : 'none';
    const analyse = async () => {
      if (engine === 'postgres') await baselineDb.query('ANALYZE');
    };
    maintenance =
      engine === 'pglite'
        ? scheduleMaintenance(baselineDb, (error) => {
            console.error('baseline maintenance failed', error);
          })
        : undefined;
    const serviceOps = operations({
      institutionId: partner.institutionId,
      actor: partner.actor,
      seeded: seededOverHttp,
    });
    const baselineOps = operations(baselineContext);

    const serverVersion =
      engine === 'postgres'
        ? (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version
        : undefined;
    const startLoad = loadavg();
    console.log(
      `\nCustomerCore throughput, ${engine === 'postgres' ? `PostgreSQL ${serverVersion}` : 'embedded PGlite'}, ` +
        `auth ${auth}, pool ${poolSize}, ${seconds} s per run, ${seedCount} customers seeded, LOG_LEVEL=${args['log-level']}`,
    );
    console.log(
      `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, ` +
        `Node ${process.version}; load average at start ${startLoad.map((x) => x.toFixed(2)).join(' ')}`,
    );
    console.log(
      `mix: ${mixDescription}; autovacuum ${autovacuum ?? '?'}` +
        (engine === 'postgres'
          ? ', ANALYZE before every run'
          : ', the service and baseline analyse once a minute') +
        '\n',
    );

    // The framework's limit, on the same database and institution, with a pool of the same size.
    const minimal =
      engine === 'postgres'
        ? await startMinimal(
            {
              DATABASE_URL: benchUrl,
              DATABASE_POOL_SIZE: String(poolSize),
              INSTITUTION_ID: partner.institutionId,
              ACTOR: JSON.stringify(partner.actor),
              ENCRYPTION_KEY: serviceEnv.ENCRYPTION_KEY ?? '',
            },
            workDir,
          )
        : undefined;
    minimalServer = minimal;
    const servicePid = service.pid;
    const backendPids = async (): Promise<number[]> =>
      engine === 'postgres'
        ? // Client backends only: autovacuum runs whenever it likes, not for the run it falls in.
          (
            await admin.query<{ pid: number }>(
              `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'`,
              [BENCH_DATABASE],
            )
          ).rows.map((row) => row.pid)
        : [];
    /** `work`'s figures with the CPU time each process spent per operation. */
    const accounted = async (
      work: () => Promise<Figures>,
      withService: boolean,
      serverPid = servicePid,
    ): Promise<Figures> => {
      const backendsBefore = new Map((await backendPids()).map((pid) => [pid, cpuSecondsOf(pid)]));
      const serviceBefore = cpuSecondsOf(serverPid);
      const clientBefore = process.cpuUsage();
      const figures = await work();
      const client = process.cpuUsage(clientBefore);
      let database = 0;
      for (const pid of new Set([...backendsBefore.keys(), ...(await backendPids())])) {
        const now = cpuSecondsOf(pid);
        if (now > 0) database += now - (backendsBefore.get(pid) ?? 0);
      }
      const perOperation = (cpuSeconds: number) => (cpuSeconds * 1e6) / Math.max(1, figures.count);
      return {
        ...figures,
        cpuMicros: {
          client: perOperation((client.user + client.system) / 1e6),
          ...(engine === 'postgres' ? { database: perOperation(database) } : {}),
          ...(withService ? { service: perOperation(cpuSecondsOf(serverPid) - serviceBefore) } : {}),
        },
      };
    };

    let run = 0;
    const httpRun = async (operation: OperationName, concurrency: number, runSeconds: number) => {
      const tag = `svc${run++}`;
      const [figures, peak] = await peakMemoryDuring(servicePid, () =>
        accounted(
          () =>
            httpLoad({
              url: baseUrl,
              headers: partner.headers,
              concurrency,
              seconds: runSeconds,
              request: (n) => serviceOps[operation].request(n, tag),
            }),
          true,
        ),
      );
      return { ...figures, peakMemoryMiB: peak };
    };
    const minimalRun = async (operation: OperationName, concurrency: number, runSeconds: number) => {
      if (minimal === undefined) return undefined;
      const tag = `min${run++}`;
      return accounted(
        () =>
          httpLoad({
            url: minimal.baseUrl,
            headers: {},
            concurrency,
            seconds: runSeconds,
            request: (n) => serviceOps[operation].request(n, tag),
          }),
        true,
        minimal.pid,
      );
    };
    const directRun = (operation: OperationName, concurrency: number, runSeconds: number) => {
      const tag = `raw${run++}`;
      return accounted(
        () =>
          directLoad(concurrency, runSeconds, (n) => baselineOps[operation].direct(baselineStore, n, tag)),
        false,
      );
    };

    // JIT, connection pools and caches warm on both sides before anything counts.
    await analyse();
    await directRun('mix', 16, warmupSeconds);
    await httpRun('mix', 16, warmupSeconds);
    await minimalRun('mix', 16, warmupSeconds);

    const rows: Row[] = [];
    console.log(
      '| operation | concurrency | rps | p50 ms | p99 ms | errors | peak MB | raw rps | raw p50 ms | raw p99 ms | raw errors | ratio | target met |',
    );
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const operation of selected) {
      for (const concurrency of concurrencies) {
        await analyse();
        const baseline = await directRun(operation, concurrency, seconds);
        await analyse();
        await analyse();
        const minimalFigures = await minimalRun(operation, concurrency, seconds);
        await analyse();
        const measured = await httpRun(operation, concurrency, seconds);
        const row: Row = {
          operation,
          concurrency,
          service: measured,
          baseline,
          ...(minimalFigures === undefined ? {} : { minimal: minimalFigures }),
        };
        rows.push(row);
        console.log(tableLine(row));
      }
    }
    console.log(
      '\nCPU time per operation (µs): where it goes. The service adds HTTP, validation, ' +
        'authentication and logging; the load generator runs in the bench process.',
    );
    console.log(
      '| operation | concurrency | service | its database | load generator | baseline database | baseline driver |',
    );
    console.log('|---|---:|---:|---:|---:|---:|---:|');
    for (const row of rows) {
      const cpu = (figures: Figures, part: 'service' | 'database' | 'client') =>
        fixed(figures.cpuMicros?.[part] ?? Number.NaN, 0);
      console.log(
        `| ${row.operation} | ${row.concurrency} | ${cpu(row.service, 'service')} | ${cpu(row.service, 'database')} | ` +
          `${cpu(row.service, 'client')} | ${cpu(row.baseline, 'database')} | ${cpu(row.baseline, 'client')} |`,
      );
    }
    if (minimal !== undefined) {
      console.log(
        '\nAgainst the framework: a minimal Fastify + pg server (bench/minimal-server.ts; the same ' +
          'queries, no validation, auth, rate limits or logging). CPU is per request, of the server process (µs).',
      );
      console.log(
        '| operation | concurrency | service rps | minimal rps | share | service CPU | minimal CPU | CPU ratio | minimal errors | target (≥ 85%, ≤ 1.25×) |',
      );
      console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---|');
      for (const row of rows) console.log(minimalLine(row));
    }
    const failed = rows.filter((row) => !verdict(row).startsWith('yes'));
    const webhooksMet = withWebhooks
      ? printWebhookRounds(
          await webhookScenario({
            baseUrl,
            onboard: (name) => onboard(baseUrl, operator, name),
            concurrency: 16,
            seconds,
            warmupSeconds,
            rounds: Number(args.rounds),
            account: (work) => accounted(work, true),
          }),
          16,
        )
      : true;
    console.log(
      `\nload average at end ${loadavg()
        .map((x) => x.toFixed(2))
        .join(
          ' ',
        )}; ${failed.length === 0 ? 'every target met' : `${failed.length} of ${rows.length} rows miss a target`}` +
        (webhooksMet ? '' : '; the webhook scenario misses a target'),
    );
  } finally {
    await minimalServer?.stop();
    const code = await service?.stop();
    if (code !== undefined && code !== 0) console.error(`the service exited with ${String(code)}`);
    await maintenance?.stop();
    await raw?.close();
    if (engine === 'postgres') {
      await admin.query(`DROP DATABASE IF EXISTS ${BENCH_DATABASE} WITH (FORCE)`);
      await admin.end();
    }
    rmSync(workDir, { recursive: true, force: true });
  }
}

await main();
