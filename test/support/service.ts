// The service as a real child process, started the way `npm start` starts it (src/main.ts through
// tsx), outside the repository so that a developer's own .env cannot leak into a test, on a free
// port. Every process's whole output and the personal values and secrets sent to it are written
// out when the test process ends, for the run's log scan.
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { lockDataDir } from '../../src/db/data-dir-lock.js';
import { openPglite, type Queryable } from '../../src/db/database.js';
import { generateSigningKeyPem } from '../../src/modules/auth/signing-key.js';
import { engine, openTestDatabase } from './app.js';
import { collectCredentialHeaders, collectSensitive, recordLogs } from './report.js';

const root = path.resolve(import.meta.dirname, '../..');

export interface ServiceProcess {
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output: () => string;
  /** The exit code; null when a signal ended the process (see `child.signalCode`). */
  exited: Promise<number | null>;
  /** Personal values and secrets sent to or received from the process. */
  sensitive: Set<string>;
}

export interface Service extends ServiceProcess {
  baseUrl: string;
}

export interface Answer {
  status: number;
  body: any;
}

const started: ServiceProcess[] = [];
process.on('exit', () => {
  for (const service of started) {
    recordLogs(
      `${process.argv[1] ?? 'test'} (service pid ${String(service.child.pid)})`,
      service.output().split('\n'),
      service.sensitive,
    );
  }
});

/** The secrets an environment hands the service: the operator's credentials and the signing key. */
function environmentSecrets(env: Record<string, string>, into: Set<string>): void {
  collectSensitive({ email: env.OPERATOR_EMAIL, password: env.OPERATOR_PASSWORD }, into);
  const pem = env.JWT_PRIVATE_KEY?.replace(/\\n/g, '\n');
  for (const line of pem?.split('\n') ?? []) {
    if (line.length >= 20 && !line.startsWith('-----')) into.add(line.trim());
  }
}

/** Spawns the service; does not wait for it to listen. */
export function runService(env: Record<string, string>, cwd: string = tmpdir()): ServiceProcess {
  const child = spawn(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), path.join(root, 'src/main.ts')],
    {
      cwd,
      env: { PATH: process.env.PATH ?? '', PORT: '0', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let text = '';
  const collect = (chunk: Buffer) => {
    text += chunk.toString();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', resolve);
  });
  const service: ServiceProcess = { child, output: () => text, exited, sensitive: new Set() };
  environmentSecrets(env, service.sensitive);
  started.push(service);
  return service;
}

/** Starts the service and waits until it listens. */
export async function startService(env: Record<string, string>, cwd?: string): Promise<Service> {
  const service = runService(env, cwd);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(service.output());
    if (match?.[1] !== undefined) return { ...service, baseUrl: match[1] };
    const code = await Promise.race([
      service.exited,
      new Promise((resolve) => setTimeout(resolve, 100, 'running')),
    ]);
    if (code !== 'running')
      throw new Error(`service exited (${String(code)}) before listening:\n${service.output()}`);
    if (Date.now() > deadline) throw new Error(`service did not listen:\n${service.output()}`);
  }
}

/** SIGTERM, then the exit code. */
export async function stopService(service: ServiceProcess): Promise<number | null> {
  service.child.kill('SIGTERM');
  return service.exited;
}

/** SIGKILL: no shutdown code runs; resolves once the process is gone. */
export async function killService(service: ServiceProcess): Promise<void> {
  service.child.kill('SIGKILL');
  await service.exited;
}

/**
 * POSTs a JSON body and returns the status and parsed body. Throws when there is no answer
 * (connection refused or reset), and after `timeoutMs` without one, so a hang becomes an error.
 */
export async function call(
  service: Service,
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<Answer> {
  collectSensitive(body, service.sensitive);
  collectCredentialHeaders(headers, service.sensitive);
  const response = await fetch(service.baseUrl + url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const answer = { status: response.status, body: (await response.json()) as any };
  collectSensitive(answer.body, service.sensitive);
  return answer;
}

/** Where a service keeps its data: a fresh embedded data directory, or a fresh PostgreSQL schema. */
export interface ServiceData {
  /** The environment that points a service at this data. */
  env: Record<string, string>;
  /** The operator account to log in with (the embedded one is read from its file once started). */
  operator: () => { email: string; password: string };
  /**
   * Runs `work` on the data directly. With the embedded database no service may be running: the
   * test takes the data-directory lock itself, as a second service would.
   */
  inspect: <T>(work: (db: Queryable) => Promise<T>) => Promise<T>;
  remove: () => Promise<void>;
}

export async function createServiceData(): Promise<ServiceData> {
  if (engine === 'pglite') {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'customercore-service-'));
    return {
      env: { DATA_DIR: dataDir },
      operator: () => {
        const text = readFileSync(path.join(dataDir, 'operator-credentials.txt'), 'utf8');
        return {
          email: /^email=(.+)$/m.exec(text)?.[1] ?? '',
          password: /^password=(.+)$/m.exec(text)?.[1] ?? '',
        };
      },
      inspect: async (work) => {
        const lock = lockDataDir(dataDir);
        try {
          const db = await openPglite(path.join(dataDir, 'pgdata'));
          try {
            return await work(db);
          } finally {
            await db.close();
          }
        } finally {
          lock.release();
        }
      },
      remove: () => {
        rmSync(dataDir, { recursive: true, force: true });
        return Promise.resolve();
      },
    };
  }
  const database = await openTestDatabase();
  const connection = database.connection!;
  const url = new URL(connection.connectionString);
  url.searchParams.set('options', `-c search_path=${connection.schema}`);
  const operator = { email: 'ops@crash.test', password: 'a-long-operator-password' };
  return {
    env: {
      DATABASE_URL: url.toString(),
      JWT_PRIVATE_KEY: generateSigningKeyPem().replace(/\n/g, '\\n'),
      WEBHOOK_SECRETS_KEY: randomBytes(32).toString('base64'),
      ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      OPERATOR_EMAIL: operator.email,
      OPERATOR_PASSWORD: operator.password,
    },
    operator: () => operator,
    inspect: (work) => work(database.db),
    remove: () => database.drop(),
  };
}

export interface Partner {
  merchantId: string;
  /** The institution owner's login (with the `merchant_id` header). */
  owner: { token: string; password: string };
  /** Headers that authenticate as the institution's API key. */
  headers: Record<string, string>;
}

let partners = 0;

/** An institution with an API key, set up through the API as a partner would. */
export async function setUpPartner(
  service: Service,
  operator: { email: string; password: string },
): Promise<Partner> {
  const login = await call(service, '/v2/auth/login', { token: operator.email, password: operator.password });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  const ownerEmail = `owner-${process.pid}-${Date.now()}-${++partners}@partner.test`;
  const ownerPassword = 'partner-owner-password';
  const created = await call(
    service,
    '/v2/admin/institution/create',
    { title: 'Partner', ownerEmail, ownerPassword },
    { authorization: `Bearer ${login.body.data.accessToken}` },
  );
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const merchantId: string = created.body.data.merchantId;
  const owner = await call(
    service,
    '/v2/auth/login',
    { token: ownerEmail, password: ownerPassword },
    { merchant_id: merchantId },
  );
  assert.equal(owner.status, 200, JSON.stringify(owner.body));
  const key = await call(
    service,
    '/v2/api-key/create',
    { name: 'load' },
    { authorization: `Bearer ${owner.body.data.accessToken}` },
  );
  assert.equal(key.status, 201, JSON.stringify(key.body));
  return {
    merchantId,
    owner: { token: ownerEmail, password: ownerPassword },
    headers: { 'api-key': key.body.data.key },
  };
}
