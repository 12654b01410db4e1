// The `customercore` command as a user runs it (the package's bin, a child process) against the
// real server over HTTP: the stored session (0600), environment credentials, --json, errors with
// code and request id, exit codes, and import: streamed, rejected rows reported, resumable after
// a crash or Ctrl-C without creating anything twice; export; migrate.
import { CustomerCore } from '@customercore/client';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { buildProgram } from '../packages/cli/src/main.js';
import { Progress } from '../packages/cli/src/progress.js';
import { openPglite } from '../src/db/database.js';
import { localKeyProvider } from '../src/platform/crypto/key-provider.js';
import { openVault } from '../src/platform/crypto/vault.js';
import { createRateLimits, defaultRateLimitOptions } from '../src/platform/rate-limits.js';
import { engine, startTestApp, type TestApp } from './support/app.js';
import { createApiKey, createInstitution, unique, type Institution } from './support/client.js';

const root = path.resolve(import.meta.dirname, '..');
const bin = path.join(root, 'packages/cli/bin/customercore.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the command; `kill` sends that signal once the output matches `when`. */
function customercore(
  args: string[],
  options: {
    env?: Record<string, string>;
    input?: string;
    kill?: { signal: NodeJS.Signals; when: RegExp };
  } = {},
): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let killed = false;
    const watch = () => {
      if (options.kill !== undefined && !killed && options.kill.when.test(stderr)) {
        killed = true;
        child.kill(options.kill.signal);
      }
    };
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      watch();
    });
    child.stdin.end(options.input ?? '');
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

const csvLine = (values: string[]) =>
  values.map((value) => (/[",]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value)).join(',');
const header = 'email,firstName,lastName,country,verificationDocumentId,residenceAddress,phoneNumber';
const row = (email: string, country = 'FR') =>
  csvLine([email, 'Alex', 'Smith', country, 'FV633452', 'Champ de Mars, 5 Av. Anatole France, Paris', '']);

describe(`customercore CLI against the real server (${engine})`, () => {
  let t: TestApp;
  let baseUrl: string;
  let institution: Institution;
  let apiKey: string;
  let dir: string;
  let env: Record<string, string>;

  before(async () => {
    // A key budget no test here reaches: the CLI's pacing and 429 handling are tested apart.
    t = await startTestApp({
      rateLimits: createRateLimits({ ...defaultRateLimitOptions, apiKeyRequestsPerMinute: 1_000_000 }),
    });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    baseUrl = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    institution = await createInstitution(t);
    apiKey = (await createApiKey(t, institution)).apiKey;
    dir = mkdtempSync(path.join(tmpdir(), 'customercore-cli-'));
    env = { CUSTOMERCORE_CONFIG_DIR: path.join(dir, 'config') };
  });

  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await t.close();
  });

  const keyEnv = () => ({ ...env, CUSTOMERCORE_URL: baseUrl, CUSTOMERCORE_API_KEY: apiKey });
  const total = async (filters: Record<string, unknown> = {}) =>
    (await new CustomerCore({ baseUrl, apiKey }).customers.find(filters)).meta.total;

  it('when any command is asked for --help, then it has one, and the top help lists exit codes and credentials', () => {
    let text = '';
    const io = {
      env: {},
      stdout: new Writable({
        write: (chunk: Buffer, _e, done) => {
          text += chunk.toString();
          done();
        },
      }),
      stderr: new Writable({
        write: (_c, _e, done) => {
          done();
        },
      }),
    } as any;
    const program = buildProgram(io, () => undefined);
    const visit = (command: typeof program, names: string[]) => {
      for (const sub of command.commands) {
        const help = sub.helpInformation();
        assert.match(help, /^Usage: /, [...names, sub.name()].join(' '));
        assert.ok(help.includes('--help'), `${[...names, sub.name()].join(' ')} documents --help`);
        visit(sub, [...names, sub.name()]);
      }
    };
    visit(program, []);
    const names = program.commands.map((command) => command.name());
    for (const expected of [
      'login',
      'logout',
      'institution',
      'user',
      'api-key',
      'customer',
      'import',
      'export',
      'migrate',
    ]) {
      assert.ok(names.includes(expected), expected);
    }
    program.outputHelp();
    assert.match(text, /Exit codes: 0 ok/);
    assert.match(text, /CUSTOMERCORE_API_KEY/);
  });

  it('when a user logs in, then the session is stored 0600 and used, and --json answers and errors carry code and request id', async () => {
    const login = await customercore(
      [
        'login',
        '--url',
        baseUrl,
        '--email',
        institution.ownerEmail,
        '--merchant-id',
        institution.id,
        '--password-stdin',
        '--json',
      ],
      { env, input: `${institution.ownerPassword}\n` },
    );
    assert.equal(login.code, 0, login.stderr);
    const file = JSON.parse(login.stdout).sessionFile as string;
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(path.dirname(file)).mode & 0o777, 0o700);
    assert.ok(!readFileSync(file, 'utf8').includes(institution.ownerPassword), 'no password stored');

    const email = `${unique('cli')}@mail.com`;
    const fields = [
      '--set',
      `email=${email}`,
      '--set',
      'firstName=Alex',
      '--set',
      'lastName=Smith',
      '--set',
      'country=fr',
    ];
    const more = ['--set', 'verificationDocumentId=FV1', '--set', 'residenceAddress=Paris'];
    const created = await customercore(['customer', 'create', ...fields, ...more, '--json'], { env });
    assert.equal(created.code, 0, created.stderr);
    const customer = JSON.parse(created.stdout);
    assert.equal(customer.country, 'FR');

    const again = await customercore(['customer', 'create', ...fields, ...more, '--json'], { env });
    assert.equal(again.code, 1);
    const error = JSON.parse(again.stderr).error;
    assert.equal(error.code, 'CUSTOMER_EMAIL_TAKEN');
    assert.equal(error.details[0].field, 'email');
    assert.ok(error.requestId.length > 0);

    const human = await customercore(
      ['customer', 'update', customer.id, '--set', 'comment=vip', '--if-version', '9'],
      { env },
    );
    assert.equal(human.code, 1);
    assert.match(human.stderr, /error: VERSION_CONFLICT: .*\n {2}request id: \S+/);

    const erased = await customercore(
      ['customer', 'erase', customer.id, '--reason', 'GDPR request 7', '--json'],
      { env },
    );
    assert.equal(erased.code, 0, erased.stderr);
    const gone = JSON.parse(erased.stdout);
    assert.deepEqual(
      [gone.id, gone.email, gone.firstName, typeof gone.erasedAt],
      [customer.id, null, null, 'string'],
    );
    const noReason = await customercore(['customer', 'erase', customer.id], { env });
    assert.equal(noReason.code, 2, 'a reason is required');

    const keys = await customercore(['api-key', 'create', '--name', 'cli', '--json'], { env });
    assert.equal(keys.code, 0, keys.stderr);
    const key = JSON.parse(keys.stdout);
    assert.match(key.key, /^cck_/);
    const revoked = await customercore(['api-key', 'revoke', key.id, '--json'], { env });
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.ok(JSON.parse(revoked.stdout).revokedAt !== null);

    // Webhook endpoints: the secret once, at create and rotate; a ping queued for the endpoint.
    const url = 'https://hooks.example.com/customercore';
    const hook = await customercore(
      ['webhook', 'create', url, '--event-type', 'customer.created', '--json'],
      { env },
    );
    assert.equal(hook.code, 0, hook.stderr);
    const endpoint = JSON.parse(hook.stdout);
    assert.match(endpoint.secret, /^whsec_/);
    assert.deepEqual(
      [endpoint.url, endpoint.eventTypes, endpoint.enabled],
      [url, ['customer.created'], true],
    );
    const hooks = await customercore(['webhook', 'list', '--json'], { env });
    assert.equal(hooks.code, 0, hooks.stderr);
    const listed = JSON.parse(hooks.stdout).find((item: { id: string }) => item.id === endpoint.id);
    assert.equal(listed.url, url);
    assert.equal('secret' in listed, false, 'a listed endpoint shows no secret');
    const ping = await customercore(['webhook', 'test', endpoint.id, '--json'], { env });
    assert.equal(ping.code, 0, ping.stderr);
    const event = JSON.parse(ping.stdout);
    assert.deepEqual([event.type, event.data], ['ping', { endpointId: endpoint.id }]);
    const deliveries = await customercore(['webhook', 'deliveries', endpoint.id, '--json'], { env });
    assert.equal(deliveries.code, 0, deliveries.stderr);
    assert.deepEqual(
      JSON.parse(deliveries.stdout).map((delivery: { eventId: string }) => delivery.eventId),
      [event.id],
    );
    const rotated = await customercore(['webhook', 'rotate-secret', endpoint.id, '--json'], { env });
    assert.equal(rotated.code, 0, rotated.stderr);
    const newSecret = JSON.parse(rotated.stdout).secret;
    assert.match(newSecret, /^whsec_/);
    assert.notEqual(newSecret, endpoint.secret);
    const plain = await customercore(['webhook', 'create', 'http://hooks.example.com/x'], { env });
    assert.equal(plain.code, 1, 'an http:// endpoint is refused by the API');
    assert.match(plain.stderr, /error: VALIDATION_ERROR/);
    assert.match(plain.stderr, /url/);

    const logout = await customercore(['logout'], { env });
    assert.equal(logout.code, 0, logout.stderr);
    const after = await customercore(['customer', 'get', customer.id], { env });
    assert.equal(after.code, 2, 'not logged in any more: a usage error naming login');
    assert.match(after.stderr, /customercore login/);
  });

  it('when credentials come from the environment, then they are used; a bad key exits 3 and nothing at all exits 2', async () => {
    const found = await customercore(['customer', 'find', '--take', '1', '--json'], { env: keyEnv() });
    assert.equal(found.code, 0, found.stderr);
    assert.equal(JSON.parse(found.stdout).meta.take, 1);

    const bad = await customercore(['customer', 'find'], {
      env: { ...keyEnv(), CUSTOMERCORE_API_KEY: 'cck_wrong' },
    });
    assert.equal(bad.code, 3);
    assert.match(bad.stderr, /UNAUTHORIZED/);

    const none = await customercore(['customer', 'find'], { env });
    assert.equal(none.code, 2);
    const usage = await customercore(['customer', 'frobnicate'], { env });
    assert.equal(usage.code, 2);
  });

  it('when a CSV is imported, then valid rows are created, refused ones reported with row, code, field and line, and a rerun creates nothing', async () => {
    const own = await createInstitution(t);
    const ownKey = (await createApiKey(t, own)).apiKey;
    const ownEnv = { ...env, CUSTOMERCORE_URL: baseUrl, CUSTOMERCORE_API_KEY: ownKey };
    const emails = Array.from({ length: 30 }, () => `${unique('import')}@mail.com`);
    const lines = emails.map((email) => row(email));
    lines[9] = row(`${unique('bad')}@mail.com`, 'XX');
    lines[19] = row(emails[0]!);
    const file = path.join(dir, 'customers.csv');
    writeFileSync(file, `${header}\n${lines.join('\n')}\n`);

    const first = await customercore(['import', file, '--concurrency', '4', '--json'], { env: ownEnv });
    assert.equal(first.code, 5, first.stderr);
    const summary = JSON.parse(first.stdout);
    assert.deepEqual([summary.created, summary.alreadyPresent, summary.rejected], [28, 0, 2]);
    assert.match(first.stderr, /progress: 100% 30\/30 rows/);
    const report = parse<Record<string, string>>(readFileSync(`${file}.rejected.csv`), { columns: true });
    assert.deepEqual(report.map((entry) => [entry.row, entry.code, entry.field, entry.line]).sort(), [
      ['10', 'VALIDATION_ERROR', 'country', lines[9]],
      ['20', 'CUSTOMER_EMAIL_TAKEN', 'email', lines[19]],
    ]);
    const created = await new CustomerCore({ baseUrl, apiKey: ownKey }).customers.find({ take: 100 });
    assert.equal(created.meta.total, 28);

    const rerun = await customercore(['import', file, '--json'], { env: ownEnv });
    assert.equal(rerun.code, 5);
    assert.equal(JSON.parse(rerun.stdout).skippedFromCheckpoint, 30);

    // Without the checkpoint every row goes to the server again: the keys make each a replay.
    const restart = await customercore(['import', file, '--restart', '--json'], { env: ownEnv });
    const again = JSON.parse(restart.stdout);
    assert.deepEqual([again.created, again.alreadyPresent, again.rejected], [0, 28, 2]);
    assert.equal((await new CustomerCore({ baseUrl, apiKey: ownKey }).customers.find({})).meta.total, 28);
  });

  for (const signal of ['SIGKILL', 'SIGINT'] as const) {
    it(`when an import is stopped by ${signal} and run again, then it picks up where it stopped and every row exists once`, async () => {
      const own = await createInstitution(t);
      const ownKey = (await createApiKey(t, own)).apiKey;
      const ownEnv = { ...env, CUSTOMERCORE_URL: baseUrl, CUSTOMERCORE_API_KEY: ownKey };
      const count = 60;
      const file = path.join(dir, `resume-${signal}.jsonl`);
      const rows = Array.from({ length: count }, () => ({
        email: `${unique('resume')}@mail.com`,
        firstName: 'Maria',
        lastName: 'Rossi',
        country: 'IT',
        verificationDocumentId: 'IT1',
        residenceAddress: 'Via Roma 1',
      }));
      writeFileSync(file, rows.map((entry) => JSON.stringify(entry)).join('\n') + '\n');
      // 20 rows a second, and plain progress lines: stopped a little after it began.
      const stopped = await customercore(['import', file, '--rate', '1200', '--concurrency', '2'], {
        env: ownEnv,
        kill: { signal, when: /resuming|progress: |interrupted/ },
      });
      const stoppedWith = signal === 'SIGKILL' ? null : 130;
      if (stopped.code === 0)
        assert.fail(`the import finished before it could be stopped: ${stopped.stderr}`);
      assert.equal(stopped.code, stoppedWith, stopped.stderr);
      const before = (await new CustomerCore({ baseUrl, apiKey: ownKey }).customers.find({})).meta.total;
      assert.ok(
        before > 0 && before < count,
        `some rows but not all were created before the stop (${String(before)})`,
      );

      const resumed = await customercore(['import', file, '--json'], { env: ownEnv });
      assert.equal(resumed.code, 0, resumed.stderr);
      const summary = JSON.parse(resumed.stdout);
      assert.ok(
        summary.skippedFromCheckpoint > 0 || signal === 'SIGKILL',
        'a graceful stop saved its checkpoint',
      );
      assert.equal(
        Number(summary.created) + Number(summary.alreadyPresent),
        count,
        'every row is accounted for',
      );
      const customers = await new CustomerCore({ baseUrl, apiKey: ownKey }).customers.find({ take: 100 });
      assert.equal(customers.meta.total, count, 'no row created twice, none missing');
      assert.equal(new Set(customers.data.map((customer) => customer.email)).size, count);
    });
  }

  it('when the service cannot be reached during an import, then it stops with exit 4 and says how to resume', async () => {
    const file = path.join(dir, 'unreachable.csv');
    writeFileSync(file, `${header}\n${row(`${unique('down')}@mail.com`)}\n`);
    const run = await customercore(['import', file], {
      env: { ...env, CUSTOMERCORE_URL: 'http://127.0.0.1:9', CUSTOMERCORE_API_KEY: apiKey },
    });
    assert.equal(run.code, 4, run.stderr);
    assert.match(run.stderr, /CONNECTION_ERROR/);
    assert.match(run.stderr, /run the same command again to resume/);
  });

  it('when a JSON lines file has a broken line, then that row is reported INVALID_JSON and the others are created', async () => {
    const file = path.join(dir, 'broken.jsonl');
    const good = {
      email: `${unique('jsonl')}@mail.com`,
      firstName: 'A',
      lastName: 'B',
      country: 'DE',
      verificationDocumentId: 'X',
      residenceAddress: 'Y',
    };
    writeFileSync(file, `${JSON.stringify(good)}\n{"email": oops\n`);
    const run = await customercore(['import', file, '--json'], { env: keyEnv() });
    assert.equal(run.code, 5, run.stderr);
    const report = parse<Record<string, string>>(readFileSync(`${file}.rejected.csv`), { columns: true });
    assert.deepEqual(
      report.map((entry) => [entry.row, entry.code, entry.line]),
      [['2', 'INVALID_JSON', '{"email": oops']],
    );
    assert.equal(await total({ email: good.email }), 1);
  });

  it('when customers are exported, then CSV has a header of contract field names and JSON lines one customer a line', async () => {
    const own = await createInstitution(t);
    const ownKey = (await createApiKey(t, own)).apiKey;
    const cc = new CustomerCore({ baseUrl, apiKey: ownKey });
    for (let index = 0; index < 7; index++) {
      await cc.customers.create({
        email: `${unique('export')}@mail.com`,
        firstName: 'E',
        lastName: 'X, "quoted"',
        country: 'FR',
        verificationDocumentId: 'D',
        residenceAddress: 'R',
      });
    }
    const ownEnv = { ...env, CUSTOMERCORE_URL: baseUrl, CUSTOMERCORE_API_KEY: ownKey };

    const csv = await customercore(['export'], { env: ownEnv });
    assert.equal(csv.code, 0, csv.stderr);
    const records = parse<Record<string, string>>(csv.stdout, { columns: true });
    assert.equal(records.length, 7);
    assert.equal(records[0]?.lastName, 'X, "quoted"');
    assert.ok(
      ['id', 'email', 'walletId', 'walletStatus', 'createdAt'].every((field) => field in records[0]!),
    );

    const out = path.join(dir, 'export.jsonl');
    const jsonl = await customercore(['export', '--format', 'jsonl', '--output', out, '--json'], {
      env: ownEnv,
    });
    assert.equal(jsonl.code, 0, jsonl.stderr);
    assert.equal(JSON.parse(jsonl.stdout).exported, 7);
    const lines = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.deepEqual(
      lines.map((line) => line.id),
      records.map((record) => record.id),
    );
  });

  it('when migrate runs on an embedded data directory, then it applies every migration once', async () => {
    const dataDir = path.join(dir, 'data');
    const first = await customercore(['migrate', '--json'], { env: { ...env, DATA_DIR: dataDir } });
    assert.equal(first.code, 0, first.stderr);
    const applied = JSON.parse(first.stdout);
    assert.equal(applied.database, 'embedded');
    assert.ok(applied.applied.includes('0001_institutions.sql'), first.stdout);
    const second = await customercore(['migrate', '--json'], { env: { ...env, DATA_DIR: dataDir } });
    assert.deepEqual(JSON.parse(second.stdout).applied, []);
  });

  it('when keys rotate runs on an embedded data directory, then the keys move to the new ENCRYPTION_KEY', async () => {
    const dataDir = path.join(dir, 'keys-data');
    const [oldKey, newKey] = [randomBytes(32).toString('base64'), randomBytes(32).toString('base64')];
    const none = await customercore(['keys', 'rotate'], { env: { ...env, DATA_DIR: dataDir } });
    assert.equal(none.code, 78, 'no key yet: a configuration problem');
    assert.match(none.stderr, /customercore keys rotate: .*no key to re-wrap under/);

    assert.equal((await customercore(['migrate'], { env: { ...env, DATA_DIR: dataDir } })).code, 0);
    // As the service's first start does: the keyring, its index key wrapped by the old key.
    const db = await openPglite(path.join(dataDir, 'pgdata'));
    await openVault(db, localKeyProvider(Buffer.from(oldKey, 'base64')));
    await db.close();

    const rotated = await customercore(['keys', 'rotate', '--batch-size', '10'], {
      env: { ...env, DATA_DIR: dataDir, ENCRYPTION_KEY: newKey, ENCRYPTION_PREVIOUS_KEYS: oldKey },
    });
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.match(rotated.stdout, /Re-wrapped 1 key under key version \S+ .*1 keyring entry\); 0 left/);
    assert.match(rotated.stdout, /ENCRYPTION_PREVIOUS_KEYS can now be removed/);
    const reopened = await openPglite(path.join(dataDir, 'pgdata'));
    try {
      await openVault(reopened, localKeyProvider(Buffer.from(newKey, 'base64')));
      await assert.rejects(openVault(reopened, localKeyProvider(Buffer.from(oldKey, 'base64'))));
    } finally {
      await reopened.close();
    }
  });

  it('when progress goes to a terminal, then it is one redrawn bar with rate and ETA', () => {
    let text = '';
    const stream = Object.assign(
      new Writable({
        write: (chunk: Buffer, _e, done) => {
          text += chunk.toString();
          done();
        },
      }),
      { isTTY: true },
    ) as unknown as NodeJS.WriteStream;
    const progress = new Progress(stream, 10, 0);
    progress.update(5, { created: 5, alreadyPresent: 0, rejected: 0 }, 5);
    progress.finish(10, { created: 10, alreadyPresent: 0, rejected: 0 });
    assert.ok(text.includes('\r\x1b[2K'));
    assert.match(text, /\[#{12}\.{12}\] {2}50% 5\/10 rows · \d+ rows\/s · ETA [\d:?]+/);
    assert.match(text, /\[#{24}\] 100% 10\/10 rows/);
  });
});
