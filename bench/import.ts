// `npm run bench:import`: `customercore import` of a generated file against the create route's
// own throughput at the same concurrency, on the built service (run as `npm start` runs it) on
// PostgreSQL, in one run on one machine. Not a test: nothing is asserted.
//   options: --rows 100000 --concurrency 16
//            --database-url postgres://postgres@127.0.0.1:5432/postgres --skip-build
// Both sides create the same number of customers on a database of their own, created empty for
// each: the baseline is autocannon sending --rows creates, each with its own Idempotency-Key as
// the importer sends them; then the CLI imports --rows rows of a CSV at --concurrency into a fresh
// database. (A create costs more as the tables and their indexes grow: a baseline of a few seconds
// on an empty table against an import that fills it to 100,000 rows compared two different
// loads.) The per-key rate budget is raised (RATE_LIMIT_API_KEY_PER_MINUTE and _PER_SECOND) so
// that neither is rate limited.
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID, randomBytes } from 'node:crypto';
import { closeSync, createWriteStream, mkdtempSync, openSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';
import { CustomerCore } from '@customercore/client';
import { generateSigningKeyPem } from '../src/modules/auth/signing-key.js';

const root = path.resolve(import.meta.dirname, '..');
const BENCH_DATABASE = 'customercore_bench_import';
const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000' },
    concurrency: { type: 'string', default: '16' },
    'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    'skip-build': { type: 'boolean', default: false },
  },
});
const rows = Number(args.rows);
const concurrency = Number(args.concurrency);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => {
        resolve(port);
      });
    });
  });
}

interface Bench {
  baseUrl: string;
  key: string;
  stop(): Promise<void>;
}

/** The built service on a database of its own, created empty, with an institution and its API key. */
async function startBench(work: string, name: string): Promise<Bench> {
  const admin = new pg.Client({ connectionString: args['database-url'] });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${BENCH_DATABASE}`);
  await admin.query(`CREATE DATABASE ${BENCH_DATABASE}`);
  await admin.end();
  const databaseUrl = new URL(args['database-url']);
  databaseUrl.pathname = `/${BENCH_DATABASE}`;

  const port = await freePort();
  const operator = { email: 'operator@bench.test', password: 'bench-operator-password' };
  const log = openSync(path.join(work, `service-${name}.log`), 'w');
  const service = spawn(process.execPath, [path.join(root, 'dist/src/main.js')], {
    cwd: work,
    env: {
      PATH: process.env.PATH ?? '',
      PORT: String(port),
      DATABASE_URL: databaseUrl.toString(),
      JWT_PRIVATE_KEY: generateSigningKeyPem(),
      WEBHOOK_SECRETS_KEY: randomBytes(32).toString('base64'),
      ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      OPERATOR_EMAIL: operator.email,
      OPERATOR_PASSWORD: operator.password,
      LOG_LEVEL: 'info',
      RATE_LIMIT_API_KEY_PER_MINUTE: '100000000',
      RATE_LIMIT_API_KEY_PER_SECOND: '10000000',
    },
    stdio: ['ignore', log, log],
  });
  const stop = async () => {
    service.kill('SIGTERM');
    await new Promise((resolve) => service.once('exit', resolve));
    closeSync(log);
  };
  const baseUrl = `http://127.0.0.1:${String(port)}`;
  try {
    for (let tries = 0; ; tries++) {
      const ready = await fetch(`${baseUrl}/health/ready`).catch(() => undefined);
      if (ready?.ok === true) break;
      if (tries > 300) throw new Error('the service did not start');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const op = new CustomerCore({ baseUrl });
    await op.login(operator);
    const institution = await op.admin.createInstitution({
      title: 'Bench',
      ownerEmail: 'owner@bench.test',
      ownerPassword: 'bench-owner-password',
    });
    const owner = new CustomerCore({ baseUrl });
    await owner.login({
      email: 'owner@bench.test',
      password: 'bench-owner-password',
      merchantId: institution.merchantId,
    });
    const { key } = await owner.apiKeys.create({ name: 'bench' });
    return { baseUrl, key, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function main(): Promise<void> {
  if (!args['skip-build']) spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  const work = mkdtempSync(path.join(tmpdir(), 'customercore-bench-import-'));
  let bench: Bench | undefined;
  try {
    const fields = (n: number, tag: string) => ({
      email: `bench.${tag}.${String(n)}@example.test`,
      firstName: 'Alex',
      lastName: 'Smith',
      country: 'FR',
      verificationDocumentId: 'FV633452',
      residenceAddress: 'Champ de Mars, 5 Av. Anatole France, 75007 Paris, France',
    });

    // The create route's own throughput: --rows creates on an empty database.
    bench = await startBench(work, 'route');
    const { baseUrl, key } = bench;
    let n = 0;
    let failed = 0;
    const result = await new Promise<autocannon.Result>((resolve, reject) => {
      const instance = autocannon(
        {
          url: baseUrl,
          connections: concurrency,
          amount: rows,
          requests: [
            {
              method: 'POST',
              path: '/v2/customer/create',
              setupRequest: (request) => ({
                ...request,
                headers: {
                  'content-type': 'application/json',
                  'api-key': key,
                  'idempotency-key': randomUUID(),
                },
                body: JSON.stringify(fields(n++, 'route')),
              }),
            },
          ],
        },
        (error: unknown, finished) => {
          if (error === null || error === undefined) resolve(finished);
          else reject(new Error(`autocannon failed: ${JSON.stringify(error)}`));
        },
      );
      instance.on('response', (_client, statusCode) => {
        if (statusCode !== 201) failed++;
      });
    });
    const routeRps = (result.requests.total - failed) / result.duration;

    await bench.stop();
    bench = undefined;

    // The importer on a file of `rows` rows, into an empty database of its own.
    const importBench = await startBench(work, 'import');
    bench = importBench;
    const file = path.join(work, 'customers.csv');
    const out = createWriteStream(file);
    out.write('email,firstName,lastName,country,verificationDocumentId,residenceAddress\n');
    for (let row = 0; row < rows; row++) {
      const f = fields(row, 'import');
      const line = `${f.email},${f.firstName},${f.lastName},${f.country},${f.verificationDocumentId},"${f.residenceAddress}"\n`;
      if (!out.write(line))
        await new Promise<void>((resolve) =>
          out.once('drain', () => {
            resolve();
          }),
        );
    }
    await new Promise<void>((resolve) => out.end(resolve));
    const load = loadavg()[0] ?? 0;
    const imported = await new Promise<string>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [
          path.join(root, 'packages/cli/bin/customercore.js'),
          'import',
          file,
          '--concurrency',
          String(concurrency),
          '--json',
        ],
        {
          env: {
            PATH: process.env.PATH ?? '',
            CUSTOMERCORE_URL: importBench.baseUrl,
            CUSTOMERCORE_API_KEY: importBench.key,
            CUSTOMERCORE_CONFIG_DIR: path.join(work, 'config'),
          },
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.on('close', (code) => {
        if (code === 0) resolve(stdout);
        else reject(new Error(`import exited ${String(code)}`));
      });
    });
    const summary = JSON.parse(imported) as {
      created: number;
      rejected: number;
      seconds: number;
      rowsPerSecond: number;
    };
    console.log(
      JSON.stringify(
        {
          machine: `${String(cpus().length)} cores, load average ${load.toFixed(2)} (1 min, at the import's start)`,
          concurrency,
          route: {
            creates: result.requests.total - failed,
            failed,
            seconds: result.duration,
            perSecond: Math.round(routeRps),
          },
          import: summary,
          ratio: Math.round((summary.rowsPerSecond / routeRps) * 100) / 100,
        },
        null,
        2,
      ),
    );
  } finally {
    await bench?.stop();
    rmSync(work, { recursive: true, force: true });
    const cleanup = new pg.Client({ connectionString: args['database-url'] });
    await cleanup.connect();
    await cleanup.query(`DROP DATABASE IF EXISTS ${BENCH_DATABASE}`);
    await cleanup.end();
  }
}

await main();
