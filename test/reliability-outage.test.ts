// Database outage, on PostgreSQL only. The service runs as a real process whose DATABASE_URL points
// at a TCP proxy in front of the server; under load the proxy cuts the database and restores it,
// several times, in three ways:
//  - reset: open connections are reset and new ones refused at once;
//  - blackhole: packets are silently dropped (open connections freeze, new ones are accepted and
//    never answered), so only the service's own timeouts can end a request; the partition then
//    heals and the frozen connections carry on;
//  - lost: a blackhole that starts just after the service locked a customer row, after which the
//    service's old connections are gone but the server is never told (as when a firewall drops
//    its state), so the server-side sessions, and their row locks, linger.
// During a cut every request must answer the contract's 503 within a bound derived from the
// configured timeouts, and /health/ready 503; after a restore the same process must answer 2xx
// again within a few seconds. Afterwards SQL shows every acknowledged write stored as answered and
// no half-written customer.
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { generateSigningKeyPem } from '../src/modules/auth/signing-key.js';
import { engine, openTestDatabase, testDatabaseUrl, type TestDatabase } from './support/app.js';
import { customerInput, unique } from './support/client.js';
import { collectCredentialHeaders, collectSensitive, recordTrial } from './support/report.js';
import { call, startService, stopService, type Service } from './support/service.js';

// The service's timeouts, short so that the test stays quick; the bounds below follow from them.
const CONNECT_TIMEOUT_MS = 1000;
const STATEMENT_TIMEOUT_MS = 2000;
// openPostgres stops waiting for a reply one second after the server's statement timeout.
const QUERY_TIMEOUT_MS = STATEMENT_TIMEOUT_MS + 1000;
// Timers and the event loop run late on a busy 2-core machine.
const MARGIN_MS = 1500;
type CutMode = 'reset' | 'blackhole' | 'lost';
/**
 * The longest a request may take when the database goes away under it. Refused or reset
 * connections fail at once, or after the connect timeout while waiting for a pool slot; a silent
 * network can add one wait for a pool slot (connect timeout) to one unanswered statement (query
 * timeout), and nothing more: a request ends at its first database failure.
 */
const FAILURE_BOUND_MS: Readonly<Record<CutMode, number>> = {
  reset: CONNECT_TIMEOUT_MS + MARGIN_MS,
  blackhole: CONNECT_TIMEOUT_MS + QUERY_TIMEOUT_MS + MARGIN_MS,
  lost: CONNECT_TIMEOUT_MS + QUERY_TIMEOUT_MS + MARGIN_MS,
};
/** Each cut outlasts the failure bound, so some requests start and fail wholly inside it. */
const CUT_MS: Readonly<Record<CutMode, number>> = {
  reset: 3000,
  blackhole: FAILURE_BOUND_MS.blackhole + 500,
  lost: FAILURE_BOUND_MS.lost + 500,
};
/** After a restore the service must serve again within this, without a restart. */
const RECOVERY_BOUND_MS = 3000;
const WARM_UP_MS = 1500;
const AFTER_RESTORE_MS = RECOVERY_BOUND_MS + 1500;
/** No answer after this is a hang. */
const HANG_MS = 30_000;
const WORKERS = 8;
const CYCLES = 3;

const target = new URL(testDatabaseUrl ?? 'postgres://127.0.0.1:5432/test');

interface Link {
  client: net.Socket;
  upstream: net.Socket;
  /** Nothing crosses while frozen, not even a close: it waits in `pending` until the link thaws. */
  frozen: boolean;
  pending: (() => void)[];
}

/** The PostgreSQL protocol's Sync message: the end of one extended-protocol query. */
const SYNC = Buffer.from([0x53, 0, 0, 0, 4]);
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** A TCP proxy to the PostgreSQL server that can cut the database off and restore it. */
class DatabaseProxy {
  private state: 'open' | CutMode = 'open';
  private readonly links = new Set<Link>();
  /** Connections accepted during a blackhole, never answered. */
  private readonly held = new Set<net.Socket>();
  /** Server sides of connections a 'lost' cut took from the service, left open and silent. */
  private readonly orphans = new Set<net.Socket>();
  private lockTrigger: ((sent: string) => void) | undefined;

  private constructor(private readonly server: net.Server) {}

  static async start(): Promise<DatabaseProxy> {
    const server = net.createServer({ pauseOnConnect: true });
    const proxy = new DatabaseProxy(server);
    server.on('connection', (socket) => {
      proxy.accept(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** The client ports the server sees for the orphaned sessions (pg_stat_activity.client_port). */
  get orphanPorts(): number[] {
    return [...this.orphans].flatMap((socket) => (socket.localPort === undefined ? [] : [socket.localPort]));
  }

  private accept(client: net.Socket): void {
    // Resets are this proxy's purpose; an error only means the socket is gone.
    client.on('error', () => undefined);
    if (this.state === 'reset') {
      client.resetAndDestroy();
    } else if (this.state === 'open') {
      this.connect(client);
    } else {
      this.held.add(client);
      client.once('close', () => this.held.delete(client));
    }
  }

  private connect(client: net.Socket): void {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    upstream.on('error', () => undefined);
    const link: Link = { client, upstream, frozen: false, pending: [] };
    this.links.add(link);
    // A paused socket still reports its peer's end, so everything is queued while frozen.
    const pass = (deliver: () => void) => {
      if (link.frozen) link.pending.push(deliver);
      else deliver();
    };
    client.on('data', (chunk: Buffer) => {
      pass(() => {
        upstream.write(chunk);
        this.watchForLock(chunk);
      });
    });
    upstream.on('data', (chunk: Buffer) => {
      pass(() => client.write(chunk));
    });
    client.on('end', () => {
      pass(() => upstream.end());
    });
    upstream.on('end', () => {
      pass(() => client.end());
    });
    const close = () => {
      // end(), not destroy(): bytes queued during a freeze still go out first.
      pass(() => {
        this.links.delete(link);
        client.end();
        upstream.end();
      });
    };
    client.on('close', close);
    upstream.on('close', close);
    client.resume();
  }

  private watchForLock(chunk: Buffer): void {
    if (this.lockTrigger === undefined) return;
    const sent = chunk.toString('latin1');
    // The whole query (Parse, Bind with the customer id, Sync) has gone to the server, so the
    // server takes the lock even though its answer never comes back.
    if (sent.includes('FOR UPDATE') && chunk.subarray(-SYNC.length).equals(SYNC)) this.lockTrigger(sent);
  }

  cut(mode: 'reset' | 'blackhole'): void {
    this.state = mode;
    for (const link of this.links) {
      if (mode === 'reset') {
        this.links.delete(link);
        link.client.resetAndDestroy();
        link.upstream.destroy();
      } else {
        this.freeze(link);
      }
    }
  }

  /** Blackholes the database just after the service's next row lock; resolves with the query sent. */
  cutAfterNextLock(): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.lockTrigger = undefined;
        reject(new Error('the service took no row lock within 10 s'));
      }, 10_000);
      this.lockTrigger = (sent) => {
        clearTimeout(timer);
        this.lockTrigger = undefined;
        this.state = 'lost';
        for (const link of this.links) this.freeze(link);
        resolve(sent);
      };
    });
  }

  private freeze(link: Link): void {
    link.frozen = true;
    link.client.pause();
    link.upstream.pause();
  }

  restore(): void {
    const mode = this.state;
    this.state = 'open';
    for (const client of this.held) {
      this.held.delete(client);
      // A partition that heals lets the connection attempt through; after a 'lost' cut it is gone.
      if (mode === 'blackhole' && !client.destroyed) this.connect(client);
      else client.resetAndDestroy();
    }
    for (const link of this.links) {
      if (!link.frozen) continue;
      if (mode === 'lost') {
        this.links.delete(link);
        link.client.resetAndDestroy();
        this.orphans.add(link.upstream);
        continue;
      }
      link.frozen = false;
      link.client.resume();
      link.upstream.resume();
      for (const deliver of link.pending.splice(0)) deliver();
    }
  }

  /** Closes the orphaned server sessions (the server ends them and rolls their work back). */
  dropOrphans(): void {
    for (const socket of this.orphans) socket.destroy();
    this.orphans.clear();
  }

  async close(): Promise<void> {
    this.restore();
    this.dropOrphans();
    for (const link of this.links) {
      link.client.destroy();
      link.upstream.destroy();
    }
    await new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
  }
}

type Op = 'create' | 'details' | 'find' | 'update' | 'ready' | 'unlock';

interface Outcome {
  op: Op;
  start: number;
  end: number;
  /** HTTP status, or what happened instead of an answer. */
  status: number | 'hang' | 'no answer';
  body: any;
  requestIdHeader: string | null;
}

interface SentUpdate {
  comment: string;
  walletStatus: string;
  outcome: Outcome;
}

interface Run {
  load: Load;
  cuts: Cut[];
  /** 'lost' cuts: updates of the customer whose row the vanished session locked. */
  unlocks: Outcome[];
  /** 'lost' cuts: sessions the server still held in a transaction after the recovery time. */
  orphaned: number;
}

/** What a load run sent and what was answered. */
interface Load {
  outcomes: Outcome[];
  probes: Outcome[];
  /** Each create sent, by its externalId (a clear column: the service process seals the email under its own key). */
  creates: { externalId: string; outcome: Outcome }[];
  /** Each customer's updates, in the order they were sent. */
  updates: Map<string, SentUpdate[]>;
  stop(): Promise<void>;
}

interface Cut {
  mode: CutMode;
  at: number;
  restoredAt: number;
  /** 'lost' cuts: the customer whose row the orphaned session holds locked. */
  lockedCustomerId?: string;
}

const now = (): number => performance.now();

/** The contract's 503 body, with the request id of the response header. */
function isServiceUnavailable(outcome: Outcome): boolean {
  const body = outcome.body;
  return (
    outcome.status === 503 &&
    body?.statusCode === 503 &&
    body.error === 'Service Unavailable' &&
    body.code === 'SERVICE_UNAVAILABLE' &&
    typeof body.message === 'string' &&
    typeof body.requestId === 'string' &&
    body.requestId === outcome.requestIdHeader &&
    Object.keys(body).sort().join() === 'code,error,message,requestId,statusCode'
  );
}

describe(`database outage (${engine})`, { skip: engine !== 'postgres' && 'needs TEST_DATABASE_URL' }, () => {
  let database: TestDatabase;
  let proxy: DatabaseProxy;
  let service: Service;
  let auth: Record<string, string>;
  let institutionId: string;

  const cleanups: (() => Promise<void> | void)[] = [];

  before(async () => {
    database = await openTestDatabase();
    cleanups.push(() => database.drop());
    proxy = await DatabaseProxy.start();
    cleanups.push(() => proxy.close());
    const dataDir = mkdtempSync(path.join(tmpdir(), 'customercore-outage-'));
    cleanups.push(() => {
      rmSync(dataDir, { recursive: true, force: true });
    });
    const url = new URL(target);
    url.port = String(proxy.port);
    url.searchParams.set('options', `-c search_path=${database.connection!.schema}`);
    service = await startService({
      DATA_DIR: dataDir,
      DATABASE_URL: url.toString(),
      DATABASE_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
      DATABASE_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS),
      JWT_PRIVATE_KEY: generateSigningKeyPem().replace(/\n/g, '\\n'),
      WEBHOOK_SECRETS_KEY: randomBytes(32).toString('base64'),
      ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      OPERATOR_EMAIL: 'ops@outage.test',
      OPERATOR_PASSWORD: 'an-outage-operator-password',
    });
    cleanups.push(async () => {
      assert.equal(await stopService(service), 0, 'the service exits cleanly');
    });
    const operator = await call(service, '/v2/auth/login', {
      token: 'ops@outage.test',
      password: 'an-outage-operator-password',
    });
    assert.equal(operator.status, 200, JSON.stringify(operator.body));
    const ownerEmail = `${unique('owner')}@outage.test`;
    const institution = await call(
      service,
      '/v2/admin/institution/create',
      { title: 'Outage Pay', ownerEmail, ownerPassword: 'outage-owner-password' },
      { authorization: `Bearer ${operator.body.data.accessToken}` },
    );
    assert.equal(institution.status, 201, JSON.stringify(institution.body));
    institutionId = institution.body.data.id;
    const owner = await call(
      service,
      '/v2/auth/login',
      { token: ownerEmail, password: 'outage-owner-password' },
      { merchant_id: institution.body.data.merchantId },
    );
    assert.equal(owner.status, 200, JSON.stringify(owner.body));
    auth = { authorization: `Bearer ${owner.body.data.accessToken}` };
  });

  after(async () => {
    // Whatever `before` got to set up, last first, all of it even if one step fails: a proxy left
    // listening would keep this test process from ever exiting.
    const failures: unknown[] = [];
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length > 0) throw failures[0];
  });

  async function send(op: Op, url: string, body?: unknown): Promise<Outcome> {
    const start = now();
    const headers = { 'content-type': 'application/json', ...auth };
    collectCredentialHeaders(headers, service.sensitive);
    collectSensitive(body, service.sensitive);
    try {
      const response = await fetch(
        service.baseUrl + url,
        body === undefined
          ? { signal: AbortSignal.timeout(HANG_MS) }
          : {
              method: 'POST',
              headers,
              body: JSON.stringify(body),
              signal: AbortSignal.timeout(HANG_MS),
            },
      );
      const parsed: unknown = await response.json();
      collectSensitive(parsed, service.sensitive);
      return {
        op,
        start,
        end: now(),
        status: response.status,
        body: parsed,
        requestIdHeader: response.headers.get('x-request-id'),
      };
    } catch (error) {
      const hang = error instanceof DOMException && error.name === 'TimeoutError';
      return {
        op,
        start,
        end: now(),
        status: hang ? 'hang' : 'no answer',
        body: null,
        requestIdHeader: null,
      };
    }
  }

  /** WORKERS clients creating, reading and updating customers, and a readiness prober, until stopped. */
  function startLoad(): Load {
    const load: Omit<Load, 'stop'> = { outcomes: [], probes: [], creates: [], updates: new Map() };
    const acknowledged: string[] = [];
    let running = true;

    async function worker(): Promise<void> {
      // Each worker updates only the customers it created, one request at a time, so the order of
      // a customer's updates is the order they were sent in.
      const own: string[] = [];
      while (running) {
        const roll = Math.random();
        let outcome: Outcome;
        if (own.length === 0 || roll < 0.35) {
          const externalId = unique('outage');
          const input = customerInput({ externalId });
          outcome = await send('create', '/v2/customer/create', input);
          load.creates.push({ externalId, outcome });
          if (outcome.status === 201) {
            own.push(outcome.body.data.id);
            acknowledged.push(outcome.body.data.id);
            load.updates.set(outcome.body.data.id, []);
          }
        } else if (roll < 0.55) {
          const id = acknowledged[Math.floor(Math.random() * acknowledged.length)];
          outcome = await send('details', '/v2/customer/details', { id });
        } else if (roll < 0.7) {
          outcome = await send('find', '/v2/customer/find', { take: 5 });
        } else {
          const id = own[Math.floor(Math.random() * own.length)]!;
          const comment = unique('note');
          const walletStatus = ['Active', 'Blocked', 'Suspicious'][Math.floor(Math.random() * 3)]!;
          outcome = await send('update', '/v2/customer/update', { id, comment, walletStatus });
          load.updates.get(id)!.push({ comment, walletStatus, outcome });
        }
        load.outcomes.push(outcome);
        // A short pause keeps this a load, not a flood, on a machine other tests share.
        await sleep(5 + Math.random() * 20);
      }
    }

    async function prober(): Promise<void> {
      while (running) {
        load.probes.push(await send('ready', '/health/ready'));
        await sleep(100);
      }
    }

    const tasks = [...Array.from({ length: WORKERS }, worker), prober()];
    return {
      ...load,
      stop: async () => {
        running = false;
        await Promise.all(tasks);
      },
    };
  }

  /** Runs CYCLES cuts of `mode` under load and returns what was sent and answered. */
  async function outage(mode: CutMode): Promise<Run> {
    const load = startLoad();
    const cuts: Cut[] = [];
    const unlocks: Outcome[] = [];
    let orphaned = 0;
    try {
      for (let cycle = 0; cycle < CYCLES; cycle++) {
        await sleep(WARM_UP_MS);
        const cut: Cut = { mode, at: now(), restoredAt: Number.NaN };
        if (mode === 'lost') {
          const sent = await proxy.cutAfterNextLock();
          cut.at = now();
          cut.lockedCustomerId = [...sent.matchAll(UUID)]
            .map(([id]) => id)
            .find((id) => id !== institutionId);
        } else {
          proxy.cut(mode);
        }
        cuts.push(cut);
        await sleep(CUT_MS[mode]);
        proxy.restore();
        cut.restoredAt = now();
        if (cut.lockedCustomerId !== undefined) {
          // The customer whose row the vanished session locked must become writable again.
          let unlock: Outcome;
          do {
            unlock = await send('unlock', '/v2/customer/update', {
              id: cut.lockedCustomerId,
              itn: unique('itn'),
            });
            unlocks.push(unlock);
          } while (unlock.status !== 200 && unlock.end < cut.restoredAt + RECOVERY_BOUND_MS + 2000);
        }
        await sleep(Math.max(0, cut.restoredAt + AFTER_RESTORE_MS - now()));
        if (mode === 'lost') {
          orphaned += await orphanedTransactions();
          proxy.dropOrphans();
        }
      }
    } finally {
      await load.stop();
    }
    return { load, cuts, unlocks, orphaned };
  }

  /** Sessions of the service the server still keeps in an open transaction after a 'lost' cut. */
  async function orphanedTransactions(): Promise<number> {
    const [row] = await database.db.query<{ open: number }>(
      `SELECT count(*)::int AS open FROM pg_stat_activity
        WHERE client_port = ANY($1::int[]) AND state LIKE 'idle in transaction%'`,
      [proxy.orphanPorts],
    );
    return row!.open;
  }

  /** Every rule about the answers: a list of what broke it, empty when it held. */
  function answerProblems(mode: CutMode, run: Run): string[] {
    const problems: string[] = [];
    const { load, cuts, unlocks } = run;
    const bound = FAILURE_BOUND_MS[mode];
    const success: Record<Op, number> = {
      create: 201,
      details: 200,
      find: 200,
      update: 200,
      ready: 200,
      unlock: 200,
    };
    const overlaps = (outcome: Outcome, cut: Cut, until: number) =>
      outcome.start <= until && outcome.end >= cut.at;
    const explain = (outcome: Outcome, why: string) =>
      `${outcome.op} at ${Math.round(outcome.start)} ms (${Math.round(outcome.end - outcome.start)} ms): ${why}`;

    for (const outcome of [...load.outcomes, ...load.probes, ...unlocks]) {
      if (typeof outcome.status !== 'number') {
        problems.push(explain(outcome, outcome.status));
        continue;
      }
      const duringCut = cuts.find((cut) => overlaps(outcome, cut, cut.restoredAt));
      const recovering = cuts.find((cut) => overlaps(outcome, cut, cut.restoredAt + RECOVERY_BOUND_MS));
      if (outcome.status === 503) {
        if (!isServiceUnavailable(outcome))
          problems.push(explain(outcome, `503 body ${JSON.stringify(outcome.body)}`));
        if (recovering === undefined) problems.push(explain(outcome, '503 with the database up'));
      } else if (outcome.status !== success[outcome.op]) {
        problems.push(explain(outcome, `${outcome.status} ${JSON.stringify(outcome.body)}`));
      }
      if (duringCut !== undefined && outcome.end - outcome.start > bound)
        problems.push(explain(outcome, `answered after more than ${bound} ms`));
      const insideCut = cuts.find((cut) => outcome.start >= cut.at && outcome.end <= cut.restoredAt);
      if (insideCut !== undefined && outcome.status !== 503)
        problems.push(explain(outcome, `${outcome.status} while the database was cut`));
    }
    for (let orphan = 0; orphan < run.orphaned; orphan++)
      problems.push(`a session lost ${AFTER_RESTORE_MS} ms ago still holds a transaction open`);
    // Without these the rules above could hold vacuously.
    for (const [index, cut] of cuts.entries()) {
      const answered503 = load.outcomes.some((o) => o.status === 503 && overlaps(o, cut, cut.restoredAt));
      const ready503 = load.probes.some((o) => o.status === 503 && overlaps(o, cut, cut.restoredAt));
      const next = cuts[index + 1]?.at ?? Infinity;
      const servedAgain = load.outcomes.some(
        (o) => o.start > cut.restoredAt && o.end < next && o.status === success[o.op],
      );
      const readyAgain = load.probes.some(
        (o) => o.start > cut.restoredAt && o.end < next && o.status === 200,
      );
      assert.ok(answered503 && ready503, `cut ${index + 1} was seen by the load and the probe`);
      assert.ok(servedAgain && readyAgain, `the load and the probe ran after restore ${index + 1}`);
    }
    return problems;
  }

  /** Longest time from a restore to the first success of a request sent after it. */
  function recoveryMs(run: Run): number {
    return Math.max(
      ...run.cuts.map((cut) => {
        const firstSuccess = run.load.outcomes
          .filter((o) => o.start >= cut.restoredAt && typeof o.status === 'number' && o.status < 300)
          .reduce((first, o) => Math.min(first, o.end), Infinity);
        return firstSuccess - cut.restoredAt;
      }),
    );
  }

  /** What SQL says about the writes: lost acknowledgements, half-written rows; and the ambiguous 503s. */
  async function dataProblems(
    load: Load,
  ): Promise<{ problems: string[]; checked: number; ambiguous: number }> {
    const problems: string[] = [];
    // The e-mail is sealed under the service process's key: each create is identified by the
    // externalId it was sent with, which is stored in clear.
    const rows = await database.db.query<{
      id: string;
      external_id: string | null;
      comment: string | null;
      wallet_id: string | null;
      status: string | null;
    }>(
      `SELECT c.id, c.external_id, c.comment, w.id AS wallet_id, w.status
         FROM customers c LEFT JOIN wallets w ON w.customer_id = c.id
        WHERE c.institution_id = $1`,
      [institutionId],
    );
    const byId = new Map(rows.map((row) => [row.id, row]));
    const storedExternalIds = new Set(rows.map((row) => row.external_id));
    let checked = 0;
    let ambiguous = 0;
    for (const { externalId, outcome } of load.creates) {
      if (outcome.status !== 201) {
        // The commit may have reached the server before the connection died: the client was told
        // 503 but the customer exists. A retry then gets 409 CUSTOMER_EMAIL_TAKEN.
        if (storedExternalIds.has(externalId)) ambiguous++;
        continue;
      }
      checked++;
      const row = byId.get(outcome.body.data.id);
      if (
        row?.external_id !== externalId ||
        outcome.body.data.externalId !== externalId ||
        row.wallet_id !== outcome.body.data.walletId
      )
        problems.push(`acknowledged create of ${outcome.body.data.id} is not stored as answered`);
    }
    for (const [id, sent] of load.updates) {
      const lastAcknowledged = sent.findLastIndex((update) => update.outcome.status === 200);
      checked += sent.filter((update) => update.outcome.status === 200).length;
      // The last acknowledged update, or one sent after it whose answer was lost with the database.
      const candidates = sent.slice(Math.max(0, lastAcknowledged));
      const row = byId.get(id);
      const matches = candidates.some(
        (update) => row?.comment === update.comment && row.status === update.walletStatus,
      );
      const untouched = lastAcknowledged === -1 && row?.comment === null && row.status === 'Active';
      if (!matches && !untouched)
        problems.push(`customer ${id} holds ${row?.comment}/${row?.status}, not an acknowledged update`);
    }
    const [halves] = await database.db.query<{ walletless: number; orphans: number; broken: number }>(
      `SELECT
         (SELECT count(*)::int FROM customers c
           WHERE NOT EXISTS (SELECT 1 FROM wallets w WHERE w.customer_id = c.id)) AS walletless,
         (SELECT count(*)::int FROM wallets w
           WHERE NOT EXISTS (SELECT 1 FROM customers c
                              WHERE c.id = w.customer_id AND c.institution_id = w.institution_id)) AS orphans,
         (SELECT count(*)::int FROM (
            SELECT w.status, ch.old_status, ch.new_status,
                   lag(ch.new_status, 1, 'Active') OVER (PARTITION BY ch.wallet_id ORDER BY ch.seq) AS before,
                   row_number() OVER (PARTITION BY ch.wallet_id ORDER BY ch.seq DESC) AS from_last
              FROM wallet_status_changes ch JOIN wallets w ON w.id = ch.wallet_id) AS chain
           WHERE chain.old_status <> chain.before
              OR (chain.from_last = 1 AND chain.new_status <> chain.status)) AS broken`,
    );
    if (halves!.walletless > 0) problems.push(`${halves!.walletless} customers without a wallet`);
    if (halves!.orphans > 0) problems.push(`${halves!.orphans} wallets without a customer`);
    if (halves!.broken > 0) problems.push(`${halves!.broken} wallet status changes not matching the wallet`);
    return { problems, checked, ambiguous };
  }

  const cases: { mode: CutMode; when: string }[] = [
    { mode: 'reset', when: 'the database connections are reset and refused' },
    { mode: 'blackhole', when: 'the network to the database silently drops every packet, then heals' },
    {
      mode: 'lost',
      when: 'the network drops every packet just after a row lock and the old connections never come back',
    },
  ];
  for (const { mode, when } of cases) {
    it(`when ${when} under load, then every request answers 503 within ${FAILURE_BOUND_MS[mode]} ms, the same process serves again within ${RECOVERY_BOUND_MS} ms of the restore, and no acknowledged write is lost or half-written`, async () => {
      const started = now();
      const run = await outage(mode);
      assert.equal(
        service.child.exitCode,
        null,
        `the service process is still the one started; it ended with:\n${service.output().split('\n').slice(-5).join('\n')}`,
      );
      const answers = answerProblems(mode, run);
      const data = await dataProblems(run.load);
      const failures = [...answers, ...data.problems];
      const tried = run.load.outcomes.length + run.load.probes.length + run.unlocks.length;
      recordTrial({
        suite: 'database outage',
        check: `${mode}: 503 within ${FAILURE_BOUND_MS[mode]} ms during the cut, 2xx within ${RECOVERY_BOUND_MS} ms after, acknowledged writes kept, no half rows`,
        tried,
        faults: run.cuts.length,
        failures: failures.length,
      });
      const durations503 = [...run.load.outcomes, ...run.load.probes]
        .filter((o) => o.status === 503)
        .map((o) => o.end - o.start);
      console.log(
        `${mode}: ${tried} requests, ${run.cuts.length} cuts, ${durations503.length} answered 503 ` +
          `(slowest ${Math.round(Math.max(0, ...durations503))} ms), recovery ${Math.round(recoveryMs(run))} ms, ` +
          `${data.checked} acknowledged writes checked, ${data.ambiguous} creates answered 503 yet stored, ` +
          `${Math.round((now() - started) / 1000)} s`,
      );
      assert.deepEqual(failures.slice(0, 20), [], `${failures.length} failures`);
    });
  }
});
