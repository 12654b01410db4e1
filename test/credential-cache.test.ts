// Credentials remembered in memory: a request with a known key or session costs no database round
// trip, and every change that could make a remembered credential wrong reaches every instance
// through the database's notification, including changes made by hand in SQL.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type { Database } from '../src/db/database.js';
import { createCredentialCache } from '../src/modules/auth/credential-cache.js';
import { buildAppOn, engine, startTestApp, type TestApp } from './support/app.js';
import { createApiKey, createInstitution, type Institution } from './support/client.js';

type App = Awaited<ReturnType<typeof buildAppOn>>['app'];

async function find(app: App, headers: Record<string, string>): Promise<number> {
  const response = await app.inject({
    method: 'POST',
    url: '/v2/customer/find',
    headers: { 'content-type': 'application/json', ...headers },
    payload: '{}',
  });
  return response.statusCode;
}

/**
 * How long until `app` refuses the credentials, asking every 2 ms for at most two seconds. On the
 * embedded database the notification is handled as the change commits (0 ms); on PostgreSQL it
 * comes over the listening connection a moment after.
 */
async function untilRefused(
  app: App,
  headers: Record<string, string>,
): Promise<{ ms: number; acceptedMeanwhile: number }> {
  const started = performance.now();
  for (let accepted = 0; ; accepted++) {
    const status = await find(app, headers);
    if (status === 401) return { ms: performance.now() - started, acceptedMeanwhile: accepted };
    assert.equal(status, 200);
    if (performance.now() - started > 2000) assert.fail('the change did not reach this instance within 2 s');
    await sleep(2);
  }
}

describe('the credential cache', () => {
  const clock = { now: 0 };
  const options = { ttlMs: 1000, maxEntries: 3 };

  it('when not listening, then nothing is remembered and every lookup loads', async () => {
    const cache = createCredentialCache(options, () => clock.now);
    let loads = 0;
    const load = () => Promise.resolve({ loads: ++loads });
    await cache.lookup('a', load);
    await cache.lookup('a', load);
    assert.equal(loads, 2);
    assert.equal(cache.size, 0);
  });

  it('when listening, then a found value is served from memory until its TTL or its own expiry', async () => {
    const cache = createCredentialCache(options, () => clock.now);
    cache.setListening(true);
    let loads = 0;
    const load = () => Promise.resolve({ loads: ++loads, validUntil: clock.now + 500 });
    const validUntil = (value: { validUntil: number }) => value.validUntil;
    clock.now = 0;
    await cache.lookup('a', load, validUntil);
    await cache.lookup('a', load, validUntil);
    assert.equal(loads, 1);
    clock.now = 499;
    await cache.lookup('a', load, validUntil);
    assert.equal(loads, 1);
    clock.now = 500; // its own expiry comes before the TTL
    await cache.lookup('a', load, validUntil);
    assert.equal(loads, 2);
    clock.now = 1499;
    await cache.lookup('b', load);
    clock.now = 2498;
    await cache.lookup('b', load);
    assert.equal(loads, 3);
    clock.now = 2499; // the TTL
    await cache.lookup('b', load);
    assert.equal(loads, 4);
  });

  it('when nothing is found, then nothing is remembered', async () => {
    const cache = createCredentialCache(options, () => clock.now);
    cache.setListening(true);
    let loads = 0;
    const load = () => {
      loads += 1;
      return Promise.resolve(undefined);
    };
    await cache.lookup('a', load);
    await cache.lookup('a', load);
    assert.equal(loads, 2);
  });

  it('when a change is heard while a lookup is loading, then its result is used but not remembered', async () => {
    const cache = createCredentialCache(options, () => clock.now);
    cache.setListening(true);
    let release: (value: { version: number }) => void = () => undefined;
    const pending = cache.lookup(
      'a',
      () => new Promise<{ version: number }>((resolve) => (release = resolve)),
    );
    cache.forget();
    release({ version: 1 });
    assert.deepEqual(await pending, { version: 1 });
    assert.equal(cache.size, 0);
    let loads = 0;
    await cache.lookup('a', () => Promise.resolve({ version: 2, loads: ++loads }));
    assert.equal(loads, 1);
  });

  it('when the listening stops or comes back, then everything is forgotten', async () => {
    const cache = createCredentialCache(options, () => clock.now);
    cache.setListening(true);
    await cache.lookup('a', () => Promise.resolve({}));
    assert.equal(cache.size, 1);
    cache.setListening(false);
    assert.equal(cache.size, 0);
    cache.setListening(true);
    await cache.lookup('a', () => Promise.resolve({}));
    cache.setListening(true);
    assert.equal(cache.size, 0);
  });

  it('when full, then the oldest entry makes room', async () => {
    const cache = createCredentialCache(options, () => clock.now);
    cache.setListening(true);
    for (const key of ['a', 'b', 'c', 'd']) await cache.lookup(key, () => Promise.resolve({ key }));
    assert.equal(cache.size, 3);
    let loads = 0;
    await cache.lookup('a', () => Promise.resolve({ loads: ++loads }));
    await cache.lookup('d', () => Promise.resolve({ loads: ++loads }));
    assert.equal(loads, 1, 'a was dropped, d kept');
  });
});

describe(`remembered credentials (${engine})`, () => {
  let t: TestApp;
  let institution: Institution;

  before(async () => {
    t = await startTestApp();
    institution = await createInstitution(t);
  });

  after(async () => {
    await t.close();
  });

  it('when a key or an access token is used again, then authenticating it reads nothing from the database', async () => {
    const statements: string[] = [];
    const counting: Database = {
      ...t.db,
      query: (sql, params) => {
        statements.push(sql);
        return t.db.query(sql, params);
      },
    };
    const { app } = await buildAppOn(counting, { accessTokens: t.accessTokens });
    try {
      const { apiKey } = await createApiKey(t, institution);
      const credentials: Record<string, string>[] = [
        { 'api-key': apiKey },
        { authorization: `Bearer ${institution.owner.token}` },
      ];
      for (const headers of credentials) {
        assert.equal(await find(app, headers), 200);
        const firstUse = statements.length;
        for (let i = 0; i < 5; i++) assert.equal(await find(app, headers), 200);
        const lookups = statements
          .slice(firstUse)
          .filter((sql) => /FROM api_keys|FROM auth_sessions/.test(sql));
        assert.deepEqual(lookups, [], 'no credential lookups after the first use');
      }
      // The same app does look the credential up when it has not seen it yet: the filter above
      // would have caught the lookups.
      assert.ok(statements.some((sql) => sql.includes('FROM api_keys')));
      assert.ok(statements.some((sql) => sql.includes('FROM auth_sessions')));
    } finally {
      await app.close();
    }
  });

  it('when a key is revoked, restricted or expired by hand in SQL, then every instance refuses it', async (context) => {
    const other = await buildAppOn(t.db);
    try {
      const changes = [
        'UPDATE api_keys SET revoked_at = now() WHERE id = $1',
        `UPDATE api_keys SET allowed_ips = ARRAY['203.0.113.7'] WHERE id = $1`,
        `UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1`,
      ];
      const delays: { ms: number; acceptedMeanwhile: number }[] = [];
      for (const change of changes) {
        const key = await createApiKey(t, institution);
        const headers = { 'api-key': key.apiKey };
        for (const app of [t.app, other.app]) assert.equal(await find(app, headers), 200);
        await t.db.query(change, [key.id]);
        for (const app of [t.app, other.app]) delays.push(await untilRefused(app, headers));
      }
      const slowest = Math.max(...delays.map((delay) => delay.ms));
      const accepted = delays.reduce((sum, delay) => sum + delay.acceptedMeanwhile, 0);
      context.diagnostic(
        `refused within ${slowest.toFixed(1)} ms (the refusing request included); ${accepted} requests accepted meanwhile`,
      );
      if (engine === 'pglite') assert.equal(accepted, 0, 'in one process, the change is heard as it commits');
    } finally {
      await other.app.close();
    }
  });

  it('when a user is deactivated or given another role by hand in SQL, then their remembered session follows', async () => {
    const viewer = await createInstitution(t);
    const headers = { authorization: `Bearer ${viewer.owner.token}` };
    assert.equal(await find(t.app, headers), 200);
    const create = () =>
      t.app.inject({
        method: 'POST',
        url: '/v2/api-key/create',
        headers: { 'content-type': 'application/json', ...headers },
        payload: JSON.stringify({ name: 'k' }),
      });
    assert.equal((await create()).statusCode, 201);
    await t.db.query(`UPDATE users SET role = 'Viewer' WHERE institution_id = $1`, [viewer.id]);
    const started = performance.now();
    while ((await create()).statusCode !== 403) {
      if (performance.now() - started > 2000) assert.fail('the role change did not reach the instance');
      await sleep(2);
    }
    await t.db.query('UPDATE users SET deactivated_at = now() WHERE institution_id = $1', [viewer.id]);
    await untilRefused(t.app, headers);
  });

  if (engine === 'postgres') {
    it('when the listening connection is cut, then the instance stops trusting memory and hears changes again once back', async () => {
      const listeners = async () =>
        (
          await t.db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [
            `customercore-listener-${process.pid}`,
          ])
        ).map((row) => row.pid);
      const others = new Set(await listeners());
      const { app, logs } = await buildAppOn(t.db);
      try {
        const key = await createApiKey(t, institution);
        const headers = { 'api-key': key.apiKey };
        assert.equal(await find(app, headers), 200);
        // This process's other instance listens too: cut only this one's connection.
        const own = (await listeners()).filter((pid) => !others.has(pid));
        assert.equal(own.length, 1, 'the listening connection names itself');
        await t.db.query('SELECT pg_terminate_backend($1)', [own[0]]);
        // The instance notices, says so, and reconnects.
        const started = performance.now();
        while (!logs.some((line) => line.includes('hearing credential changes again'))) {
          if (performance.now() - started > 5000) assert.fail('the listener did not come back');
          await sleep(10);
        }
        assert.ok(logs.some((line) => line.includes('not hearing credential changes')));
        assert.equal(await find(app, headers), 200);
        await t.db.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [key.id]);
        await untilRefused(app, headers);
      } finally {
        await app.close();
      }
    });
  }
});
