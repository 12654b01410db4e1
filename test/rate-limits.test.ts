// Brute-force and abuse limits: failed logins per account and per client address with growing
// blocks, failed API-key attempts per address, and a request budget per API key. Every rule runs
// with counters in memory and in Redis (127.0.0.1:6379, a key prefix of its own per run); with
// Redis, two app instances on one database share the counters.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { after, before, describe, it } from 'node:test';
import { createRateLimits, rateLimitRedis, type RateLimitOptions } from '../src/platform/rate-limits.js';
import { engine, openTestDatabase, startTestApp, type TestApp, type TestDatabase } from './support/app.js';
import { createApiKey, createInstitution, type Institution } from './support/client.js';

const REDIS_URL = 'redis://127.0.0.1:6379';

const limits = {
  loginFailuresPerAccount: 3,
  loginFailuresPerAddress: 5,
  apiKeyFailuresPerAddress: 3,
  apiKeyRequestsPerMinute: 5,
  apiKeyRequestsPerSecond: 1000,
} as const;

let addressCounter = 0;
/** A client address of its own for each scenario, so that address counters never mix. */
const newAddress = () => `198.51.100.${++addressCounter}`;

async function send(
  t: TestApp,
  url: string,
  body: unknown,
  options: { remoteAddress: string; headers?: Record<string, string> },
) {
  const response = await t.app.inject({
    method: 'POST',
    url,
    remoteAddress: options.remoteAddress,
    headers: { 'content-type': 'application/json', ...options.headers },
    payload: JSON.stringify(body),
  });
  return { status: response.statusCode, body: response.json(), headers: response.headers };
}

const login = (t: TestApp, institution: Institution, password: string, remoteAddress: string) =>
  send(
    t,
    '/v2/auth/login',
    { token: institution.ownerEmail, password },
    { remoteAddress, headers: { merchant_id: institution.id } },
  );

const findWithKey = (t: TestApp, apiKey: string, remoteAddress: string) =>
  send(t, '/v2/customer/find', {}, { remoteAddress, headers: { 'api-key': apiKey } });

const retryAfterOf = (response: { headers: Record<string, unknown> }): number => {
  const value = String(response.headers['retry-after']);
  assert.match(value, /^[1-9]\d*$/, 'retry-after is a whole number of seconds >= 1');
  return Number(value);
};

function assertRateLimited(response: Awaited<ReturnType<typeof send>>, maxSeconds: number): number {
  assert.equal(response.status, 429, JSON.stringify(response.body));
  assert.deepEqual(Object.keys(response.body).sort(), [
    'code',
    'error',
    'message',
    'requestId',
    'statusCode',
  ]);
  assert.equal(response.body.statusCode, 429);
  assert.equal(response.body.error, 'Too Many Requests');
  assert.equal(response.body.code, 'RATE_LIMITED');
  assert.equal(response.body.requestId, response.headers['x-request-id']);
  const seconds = retryAfterOf(response);
  assert.ok(seconds <= maxSeconds, `retry-after ${seconds} <= ${maxSeconds}`);
  return seconds;
}

for (const store of ['memory', 'redis'] as const) {
  describe(`rate limits (${engine}, ${store})`, () => {
    const keyPrefix = `cctest:${randomBytes(6).toString('hex')}`;
    const redisClients: Redis[] = [];
    let database: TestDatabase;
    let t: TestApp;
    const others: TestApp[] = [];

    async function rateLimits(extra: Partial<RateLimitOptions> = {}) {
      let redis: Redis | undefined;
      if (store === 'redis') {
        redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
        await redis.connect();
        redisClients.push(redis);
      }
      return createRateLimits({ redis, keyPrefix, ...limits, ...extra });
    }

    /** Another app instance on the same database (and, with Redis, the same key prefix). */
    async function anotherInstance(extra: Partial<RateLimitOptions> = {}): Promise<TestApp> {
      const shared: TestDatabase = { db: database.db, drop: async () => {} };
      const other = await startTestApp({ database: shared, rateLimits: await rateLimits(extra) });
      others.push(other);
      return other;
    }

    before(async () => {
      database = await openTestDatabase();
      t = await startTestApp({ database, rateLimits: await rateLimits() });
    });
    after(async () => {
      for (const other of others) await other.close();
      await t.close();
      if (redisClients[0] !== undefined) {
        const keys = await redisClients[0].keys(`${keyPrefix}:*`);
        if (keys.length > 0) await redisClients[0].del(...keys);
        assert.deepEqual(await redisClients[0].keys(`${keyPrefix}:*`), []);
      }
      for (const redis of redisClients) await redis.quit();
    });

    it('when an account fails to log in N times, then it gets 429 RATE_LIMITED even with the right password, from any address', async () => {
      const institution = await createInstitution(t);
      const address = newAddress();

      for (let attempt = 1; attempt <= limits.loginFailuresPerAccount; attempt++) {
        const failed = await login(t, institution, 'wrong-password', address);
        assert.equal(failed.status, 401, `attempt ${attempt}`);
        assert.equal(failed.body.code, 'INVALID_CREDENTIALS');
      }
      const blocked = await login(t, institution, institution.ownerPassword, address);
      const fromElsewhere = await login(t, institution, institution.ownerPassword, newAddress());

      assertRateLimited(blocked, 60);
      assertRateLimited(fromElsewhere, 60);
    });

    it('when an account is blocked a second time, then the block is longer than the first', async () => {
      const growing = await anotherInstance({ firstBlockSeconds: 1 });
      const institution = await createInstitution(growing);

      // A new address each round, so that only the account's counter is at work.
      const blockAfterFailures = async () => {
        const address = newAddress();
        for (let attempt = 1; attempt <= limits.loginFailuresPerAccount; attempt++) {
          assert.equal((await login(growing, institution, 'wrong-password', address)).status, 401);
        }
        return assertRateLimited(await login(growing, institution, institution.ownerPassword, address), 60);
      };
      const first = await blockAfterFailures();
      await sleep(1200); // the first block lasts one second
      const second = await blockAfterFailures();

      assert.equal(first, 1);
      assert.ok(second > first, `second block (${second}s) is longer than the first (${first}s)`);
    });

    it('when one address fails logins on many accounts, then that address is blocked while others are not', async () => {
      const institutions: Institution[] = [];
      for (let index = 0; index <= limits.loginFailuresPerAddress; index++) {
        institutions.push(await createInstitution(t));
      }
      const attacker = newAddress();

      for (const institution of institutions.slice(0, limits.loginFailuresPerAddress)) {
        assert.equal((await login(t, institution, 'wrong-password', attacker)).status, 401);
      }
      const last = institutions[limits.loginFailuresPerAddress]!;
      const blocked = await login(t, last, last.ownerPassword, attacker);
      const elsewhere = await login(t, last, last.ownerPassword, newAddress());

      assertRateLimited(blocked, 60);
      assert.equal(elsewhere.status, 200, JSON.stringify(elsewhere.body));
    });

    it('when an account logs in successfully, then its failure count starts again', async () => {
      const institution = await createInstitution(t);
      const address = newAddress();
      const fail = async () => {
        assert.equal((await login(t, institution, 'wrong-password', address)).status, 401);
      };

      await fail();
      await fail();
      assert.equal((await login(t, institution, institution.ownerPassword, address)).status, 200);
      await fail();
      await fail();
      const response = await login(t, institution, institution.ownerPassword, address);

      assert.equal(response.status, 200, JSON.stringify(response.body));
    });

    it('when an address presents bad API keys N times, then it gets 429 even with a valid key, which still works elsewhere', async () => {
      const institution = await createInstitution(t);
      const { apiKey } = await createApiKey(t, institution);
      const attacker = newAddress();

      for (let attempt = 1; attempt <= limits.apiKeyFailuresPerAddress; attempt++) {
        const bogus = `cck_${randomBytes(32).toString('base64url')}`;
        const refused = await findWithKey(t, bogus, attacker);
        assert.equal(refused.status, 401, `attempt ${attempt}`);
        assert.equal(refused.body.code, 'UNAUTHORIZED');
      }
      const blocked = await findWithKey(t, apiKey, attacker);
      const elsewhere = await findWithKey(t, apiKey, newAddress());

      assertRateLimited(blocked, 60);
      assert.equal(elsewhere.status, 200, JSON.stringify(elsewhere.body));
    });

    it('when an API key has used its requests for the minute, then it gets 429 and another key does not', async () => {
      const institution = await createInstitution(t);
      const { apiKey } = await createApiKey(t, institution);
      const { apiKey: otherKey } = await createApiKey(t, institution);
      const address = newAddress();

      for (let request = 1; request <= limits.apiKeyRequestsPerMinute; request++) {
        assert.equal((await findWithKey(t, apiKey, address)).status, 200, `request ${request}`);
      }
      const spent = await findWithKey(t, apiKey, address);
      const other = await findWithKey(t, otherKey, address);

      assertRateLimited(spent, 60);
      assert.equal(other.status, 200, JSON.stringify(other.body));
    });

    it('when an API key sends requests, then every answer carries RateLimit-Policy and RateLimit with what is left', async () => {
      const institution = await createInstitution(t);
      const { apiKey } = await createApiKey(t, institution);
      const address = newAddress();

      const first = await findWithKey(t, apiKey, address);
      const invalid = await send(
        t,
        '/v2/customer/details',
        { id: 'not-a-uuid' },
        {
          remoteAddress: address,
          headers: { 'api-key': apiKey },
        },
      );
      const missing = await send(
        t,
        '/v2/customer/details',
        { id: randomUUID() },
        {
          remoteAddress: address,
          headers: { 'api-key': apiKey },
        },
      );

      assert.equal(first.status, 200);
      assert.equal(invalid.status, 400);
      assert.equal(missing.status, 404);
      for (const [answer, remaining] of [
        [first, 4],
        [invalid, 3],
        [missing, 2],
      ] as const) {
        assert.equal(
          answer.headers['ratelimit-policy'],
          '"burst";q=1000;w=1, "sustained";q=5;w=60',
          `status ${answer.status}`,
        );
        const match = /^"burst";r=(\d+);t=([01]), "sustained";r=(\d+);t=(\d+)$/.exec(
          String(answer.headers.ratelimit),
        );
        assert.ok(match !== null, String(answer.headers.ratelimit));
        assert.equal(Number(match[3]), remaining, `sustained remaining after status ${answer.status}`);
        assert.ok(Number(match[4]) <= 60);
      }
      // A refused key is no budget's: nothing to announce.
      const refused = await findWithKey(t, `cck_${randomBytes(32).toString('base64url')}`, newAddress());
      assert.equal(refused.status, 401);
      assert.equal(refused.headers['ratelimit-policy'], undefined);
    });

    it('when an API key spends its sustained budget, then the 429 names that budget and shows it empty', async () => {
      const institution = await createInstitution(t);
      const { apiKey } = await createApiKey(t, institution);
      const address = newAddress();
      for (let request = 1; request <= limits.apiKeyRequestsPerMinute; request++) {
        assert.equal((await findWithKey(t, apiKey, address)).status, 200, `request ${request}`);
      }

      const spent = await findWithKey(t, apiKey, address);

      const seconds = assertRateLimited(spent, 60);
      assert.match(spent.body.message, /sustained budget \(5 requests a minute\)/);
      assert.match(String(spent.headers.ratelimit), new RegExp(`"sustained";r=0;t=${seconds}$`));
    });

    it('when an API key sends more than its burst within a second, then the excess gets 429 naming the burst budget', async () => {
      const burst = await anotherInstance({ apiKeyRequestsPerSecond: 3, apiKeyRequestsPerMinute: 100 });
      const institution = await createInstitution(burst);
      const { apiKey } = await createApiKey(burst, institution);
      const address = newAddress();

      // Eight at once; on a machine so busy that they spread over more than one second the
      // windows would be two, so the round is tried again.
      let answers: Awaited<ReturnType<typeof findWithKey>>[] = [];
      for (let round = 0; round < 5; round++) {
        await sleep(1100);
        const started = Date.now();
        answers = await Promise.all(Array.from({ length: 8 }, () => findWithKey(burst, apiKey, address)));
        if (Date.now() - started < 900) break;
      }

      assert.deepEqual(
        answers.map((answer) => answer.status).sort(),
        [200, 200, 200, 429, 429, 429, 429, 429],
      );
      for (const answer of answers.filter((candidate) => candidate.status === 429)) {
        assertRateLimited(answer, 1);
        assert.match(answer.body.message, /burst budget \(3 requests a second\)/);
        assert.match(String(answer.headers.ratelimit), /^"burst";r=0;t=[01], "sustained";r=\d+;t=\d+$/);
      }
    });

    it(
      'when two instances share Redis, then failures counted on one block the other',
      { skip: store === 'memory' ? 'counters in memory are per instance by design' : false },
      async () => {
        const second = await anotherInstance();
        const institution = await createInstitution(t);
        const { apiKey } = await createApiKey(t, institution);
        const address = newAddress();

        for (let attempt = 1; attempt <= limits.loginFailuresPerAccount; attempt++) {
          const instance = attempt % 2 === 0 ? second : t;
          assert.equal((await login(instance, institution, 'wrong-password', address)).status, 401);
        }
        for (let attempt = 1; attempt <= limits.apiKeyFailuresPerAddress; attempt++) {
          assert.equal(
            (await findWithKey(t, `cck_${randomBytes(32).toString('base64url')}`, address)).status,
            401,
          );
        }

        assertRateLimited(await login(second, institution, institution.ownerPassword, address), 60);
        assertRateLimited(await findWithKey(second, apiKey, address), 60);
      },
    );
  });
}

describe(`rate limits while Redis cannot be reached (${engine})`, () => {
  let t: TestApp;
  let redis: Redis;
  const warnings: unknown[] = [];

  before(async () => {
    // Nothing listens on port 1: every command fails at once, as when Redis is down.
    redis = rateLimitRedis('redis://127.0.0.1:1', { warn: (entry: unknown) => warnings.push(entry) });
    t = await startTestApp({
      rateLimits: createRateLimits({
        redis,
        keyPrefix: `cctest:${randomBytes(6).toString('hex')}`,
        ...limits,
      }),
    });
  });
  after(async () => {
    await t.close();
    redis.disconnect();
  });

  it('when Redis is down, then logins and API keys still work and each instance keeps limiting in memory', async () => {
    const institution = await createInstitution(t);
    const { apiKey } = await createApiKey(t, institution);
    const address = newAddress();

    assert.equal((await findWithKey(t, apiKey, address)).status, 200);
    for (let attempt = 1; attempt <= limits.loginFailuresPerAccount; attempt++) {
      assert.equal((await login(t, institution, 'wrong-password', newAddress())).status, 401);
    }
    assertRateLimited(await login(t, institution, institution.ownerPassword, newAddress()), 60);
    for (let request = 2; request <= limits.apiKeyRequestsPerMinute; request++) {
      assert.equal((await findWithKey(t, apiKey, address)).status, 200, `request ${request}`);
    }
    assertRateLimited(await findWithKey(t, apiKey, address), 60);
    assert.ok(warnings.length > 0, 'the outage is logged');
    assert.notEqual(redis.status, 'ready');
  });
});
