// The cluster of real parts (scripts/cluster.ts: three instances behind HAProxy, PgBouncer in
// transaction and session mode, Redis): load through HAProxy, SIGKILL one instance mid-load, and
// HAProxy routes around it; every acknowledged write is in the database; a write whose answer was
// lost, retried with its Idempotency-Key, happens once; rate limits, idempotency keys and
// revocation hold across the instances; the killed instance rejoins. PostgreSQL only.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { startCluster, type Cluster } from '../scripts/cluster.js';
import { testDatabaseUrl } from './support/app.js';
import { recordTrial } from './support/report.js';

interface Answer {
  status: number;
  body: any;
  headers: Headers;
}

async function call(
  baseUrl: string,
  route: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const response = await fetch(`${baseUrl}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

// externalId is the tag too: the e-mail is sealed under the instances' key, external_id is clear.
const newCustomer = (tag: string) => ({
  email: `${tag}@cluster.example.com`,
  externalId: tag,
  firstName: 'Olena',
  lastName: 'Kovalenko',
  country: 'UA',
  verificationDocumentId: 'FV633452',
  residenceAddress: 'Khreshchatyk 1, Kyiv',
});

describe(
  'a cluster of three instances behind HAProxy, PgBouncer and Redis',
  {
    skip:
      testDatabaseUrl === undefined
        ? 'needs PostgreSQL (TEST_DATABASE_URL): PgBouncer and several instances share a server'
        : false,
  },
  () => {
    let cluster: Cluster;
    let apiKey: string;
    let ownerToken: string;
    let institution: { id: string; ownerEmail: string; ownerPassword: string };

    before(async () => {
      cluster = await startCluster({
        adminUrl: testDatabaseUrl ?? '',
        env: {
          // scripts/cluster.ts does not set it; every instance must seal with the same key.
          ENCRYPTION_KEY: randomBytes(32).toString('base64'),
          RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT: '4',
          RATE_LIMIT_API_KEY_PER_MINUTE: '100000',
          RATE_LIMIT_API_KEY_PER_SECOND: '100000',
          // A write in flight on the killed instance holds its key's claim for the lease: short
          // timeouts let the lease be short too, so its retry is taken over within seconds.
          DATABASE_CONNECT_TIMEOUT_MS: '2000',
          DATABASE_STATEMENT_TIMEOUT_MS: '3000',
          IDEMPOTENCY_LEASE_MS: '7000',
        },
      });
      const operator = await call(cluster.baseUrl, '/v2/auth/login', {
        token: cluster.operator.email,
        password: cluster.operator.password,
      });
      assert.equal(operator.status, 200, JSON.stringify(operator.body));
      institution = {
        id: '',
        ownerEmail: `owner-${randomUUID()}@cluster.test`,
        ownerPassword: 'cluster-owner-password',
      };
      const created = await call(
        cluster.baseUrl,
        '/v2/admin/institution/create',
        {
          title: 'Cluster Bank',
          ownerEmail: institution.ownerEmail,
          ownerPassword: institution.ownerPassword,
        },
        { authorization: `Bearer ${operator.body.data.accessToken as string}` },
      );
      assert.equal(created.status, 201, JSON.stringify(created.body));
      institution.id = created.body.data.id as string;
      const owner = await call(
        cluster.baseUrl,
        '/v2/auth/login',
        { token: institution.ownerEmail, password: institution.ownerPassword },
        { merchant_id: institution.id },
      );
      ownerToken = owner.body.data.accessToken as string;
      const key = await call(
        cluster.baseUrl,
        '/v2/api-key/create',
        { name: 'load' },
        { authorization: `Bearer ${ownerToken}` },
      );
      apiKey = key.body.data.key as string;
    });
    after(async () => {
      // before() may have failed before the cluster existed.
      if ((cluster as Cluster | undefined) !== undefined) await cluster.stop();
    });

    it('when one instance is killed mid-load, then HAProxy routes around it, every acknowledged write is stored, retried writes happen once, and it rejoins', async () => {
      const victim = cluster.instances[1]!;
      const acknowledged = new Map<string, string>(); // externalId → id
      const lost: { key: string; body: ReturnType<typeof newCustomer> }[] = [];
      let afterKill = { sent: 0, failed: 0 };
      let killed = false;
      let stopAt = Date.now() + 60_000;
      let sequence = 0;

      const worker = async () => {
        while (Date.now() < stopAt) {
          const body = newCustomer(`load-${++sequence}-${randomUUID().slice(0, 8)}`);
          const key = randomUUID();
          const killedBefore = killed;
          try {
            const answer = await call(cluster.baseUrl, '/v2/customer/create', body, {
              'api-key': apiKey,
              'idempotency-key': key,
            });
            if (answer.status === 201) acknowledged.set(body.externalId, answer.body.data.id as string);
            else lost.push({ key, body });
            if (killedBefore)
              afterKill = {
                sent: afterKill.sent + 1,
                failed: afterKill.failed + (answer.status === 201 ? 0 : 1),
              };
          } catch {
            lost.push({ key, body });
            if (killedBefore) afterKill = { sent: afterKill.sent + 1, failed: afterKill.failed + 1 };
          }
        }
      };
      const load = Promise.all(Array.from({ length: 8 }, worker));
      await sleep(4000);
      const beforeKill = acknowledged.size;
      victim.process?.kill('SIGKILL');
      killed = true;
      // Health checks every 500 ms, two failures: DOWN within about a second and a half.
      const downWithin = Date.now();
      for (;;) {
        if ((await cluster.haproxyStatus())[victim.name]?.startsWith('DOWN')) break;
        assert.ok(Date.now() - downWithin < 10_000, 'HAProxy marks the killed instance DOWN');
        await sleep(100);
      }
      const downAfterMs = Date.now() - downWithin;
      stopAt = Date.now() + 4000;
      await load;

      assert.ok(beforeKill > 0, 'writes were acknowledged before the kill');
      assert.ok(afterKill.sent > 50, `load went on after the kill (${afterKill.sent} requests)`);
      // Only the requests in flight on the killed instance can fail: at most one per worker.
      assert.ok(lost.length <= 8, `${lost.length} requests failed (8 were in flight at most)`);

      // Every acknowledged write is stored.
      const direct = new pg.Client({ connectionString: cluster.databaseUrl });
      await direct.connect();
      try {
        const rows = (
          await direct.query<{ id: string; external_id: string }>(
            'SELECT id, external_id FROM customers WHERE institution_id = $1',
            [institution.id],
          )
        ).rows;
        const stored = new Map(rows.map((row) => [row.external_id, row.id]));
        for (const [externalId, id] of acknowledged)
          assert.equal(stored.get(externalId), id, `acknowledged ${externalId}`);

        // A write whose answer was lost, retried with its key on the remaining instances, happens
        // exactly once: whether it had committed on the killed instance or not.
        // A claim the killed instance held answers 409 IDEMPOTENCY_IN_PROGRESS until its lease ends:
        // the retry waits as a client does (retry-after), then takes the claim over. If the killed
        // instance had committed the create before it died (its answer and the key's stored
        // response lost with it), the retry finds the email taken: the write still happened once.
        for (const { key, body } of lost) {
          const giveUpAt = Date.now() + 20_000;
          for (;;) {
            const retried = await call(cluster.baseUrl, '/v2/customer/create', body, {
              'api-key': apiKey,
              'idempotency-key': key,
            });
            if (retried.status === 409 && retried.body.code === 'IDEMPOTENCY_IN_PROGRESS') {
              assert.ok(Date.now() < giveUpAt, 'an abandoned claim is taken over after its lease');
              await sleep(Number(retried.headers.get('retry-after') ?? 1) * 1000);
              continue;
            }
            assert.ok(
              retried.status === 201 ||
                (retried.status === 409 && retried.body.code === 'CUSTOMER_EMAIL_TAKEN'),
              JSON.stringify(retried.body),
            );
            break;
          }
        }
        const counts = await direct.query<{ external_id: string; n: number }>(
          'SELECT external_id, count(*)::int AS n FROM customers WHERE institution_id = $1 AND external_id = ANY($2) GROUP BY external_id',
          [institution.id, lost.map((entry) => entry.body.externalId)],
        );
        assert.equal(counts.rows.length, lost.length);
        assert.ok(counts.rows.every((row) => row.n === 1));
      } finally {
        await direct.end();
      }

      // The killed instance rejoins.
      await cluster.startInstance(victim);
      const upWithin = Date.now();
      for (;;) {
        if ((await cluster.haproxyStatus())[victim.name] === 'UP') break;
        assert.ok(Date.now() - upWithin < 15_000, 'HAProxy marks the restarted instance UP');
        await sleep(100);
      }
      const before = await instanceRequests(victim.metricsPort);
      for (let request = 0; request < 9; request++) {
        assert.equal(
          (await call(cluster.baseUrl, '/v2/customer/find', {}, { 'api-key': apiKey })).status,
          200,
        );
      }
      assert.ok(
        (await instanceRequests(victim.metricsPort)) >= before + 2,
        'the rejoined instance serves its share',
      );
      recordTrial({
        suite: 'cluster',
        check: `SIGKILL under load: ${acknowledged.size} acknowledged writes stored, ${lost.length} lost answers retried once, DOWN after ${downAfterMs} ms, rejoined`,
        tried: acknowledged.size + lost.length,
        failures: 0,
      });
    });

    it('when requests land on different instances, then the rate-limit counters, idempotency keys and revocations are shared', async () => {
      // Login failures counted on every instance block the account on all of them (Redis).
      for (let attempt = 0; attempt < 4; attempt++) {
        const failed = await call(
          cluster.baseUrl,
          '/v2/auth/login',
          { token: institution.ownerEmail, password: 'wrong-password' },
          { merchant_id: institution.id },
        );
        assert.equal(failed.status, 401);
      }
      for (let attempt = 0; attempt < 3; attempt++) {
        const blocked = await call(
          cluster.baseUrl,
          '/v2/auth/login',
          { token: institution.ownerEmail, password: institution.ownerPassword },
          { merchant_id: institution.id },
        );
        assert.equal(blocked.status, 429, 'blocked on every instance');
      }

      // One key's budget is one counter: round-robin over three instances, it goes down by one each time.
      const remaining = [];
      for (let request = 0; request < 6; request++) {
        const answer = await call(cluster.baseUrl, '/v2/customer/find', { take: 1 }, { 'api-key': apiKey });
        const match = /"sustained";r=(\d+)/.exec(answer.headers.get('ratelimit') ?? '');
        remaining.push(Number(match?.[1]));
      }
      for (let index = 1; index < remaining.length; index++) {
        assert.equal(remaining[index], remaining[index - 1]! - 1, `remaining ${remaining.join(', ')}`);
      }

      // An idempotency key used on one instance replays on the others.
      const key = randomUUID();
      const body = newCustomer(`idem-${randomUUID().slice(0, 8)}`);
      const first = await call(cluster.baseUrl, '/v2/customer/create', body, {
        'api-key': apiKey,
        'idempotency-key': key,
      });
      assert.equal(first.status, 201);
      for (let replay = 0; replay < 3; replay++) {
        const again = await call(cluster.baseUrl, '/v2/customer/create', body, {
          'api-key': apiKey,
          'idempotency-key': key,
        });
        assert.equal(again.status, 201);
        assert.equal(again.headers.get('idempotent-replayed'), 'true');
        assert.equal(again.body.data.id, first.body.data.id);
      }

      // A key every instance has remembered stops working on all of them once revoked.
      const doomed = await call(
        cluster.baseUrl,
        '/v2/api-key/create',
        { name: 'doomed' },
        { authorization: `Bearer ${ownerTokenFresh()}` },
      );
      assert.equal(doomed.status, 201, JSON.stringify(doomed.body));
      for (let request = 0; request < 6; request++) {
        assert.equal(
          (
            await call(
              cluster.baseUrl,
              '/v2/customer/find',
              {},
              { 'api-key': doomed.body.data.key as string },
            )
          ).status,
          200,
        );
      }
      const revoked = await call(
        cluster.baseUrl,
        '/v2/api-key/revoke',
        { id: doomed.body.data.id },
        { authorization: `Bearer ${ownerTokenFresh()}` },
      );
      assert.equal(revoked.status, 200);
      // The other instances hear the database's notification a moment after the commit.
      await sleep(300);
      for (const instance of cluster.instances) {
        const answer = await call(
          `http://127.0.0.1:${instance.port}`,
          '/v2/customer/find',
          {},
          { 'api-key': doomed.body.data.key as string },
        );
        assert.equal(answer.status, 401, `${instance.name} refuses the revoked key`);
      }
    });

    /** The owner's token from before the login block (still valid: tokens last 15 minutes). */
    const ownerTokenFresh = () => ownerToken;
  },
);

/** How many requests an instance has answered, from its own /metrics. */
async function instanceRequests(metricsPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('customercore_http_requests_total{'))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}
