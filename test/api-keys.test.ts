// API keys: created by an institution user, shown once, stored only as a hash, listed without
// secrets, revocable at once, limited by scope, and never able to manage keys themselves.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildAppOn, engine, startTestApp, type TestApp } from './support/app.js';
import {
  createApiKey,
  createCustomer,
  createInstitution,
  customerInput,
  loginOperator,
  post,
  type Institution,
} from './support/client.js';

const isoMillis = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function apiKeyRow(t: TestApp, id: string): Promise<Record<string, unknown>> {
  const [row] = await t.db.query('SELECT * FROM api_keys WHERE id = $1', [id]);
  assert.ok(row !== undefined, `api key ${id} is stored`);
  return row;
}

const keyCount = async (t: TestApp, institutionId: string): Promise<number> =>
  (await t.db.query('SELECT id FROM api_keys WHERE institution_id = $1', [institutionId])).length;

const customerCount = async (t: TestApp, institutionId: string): Promise<number> =>
  (await t.db.query('SELECT id FROM customers WHERE institution_id = $1', [institutionId])).length;

describe(`api keys (${engine})`, () => {
  let t: TestApp;

  before(async () => {
    t = await startTestApp();
  });

  after(async () => {
    await t.close();
  });

  describe('create', () => {
    it('when an owner creates a key without scopes, then it gets 201 with the secret and both scopes', async () => {
      const institution = await createInstitution(t);

      const response = await post(t, '/v2/api-key/create', { name: 'backend' }, institution.owner);

      assert.equal(response.status, 201, JSON.stringify(response.body));
      const key = response.body.data;
      assert.deepEqual(Object.keys(key).sort(), [
        'allowedIps',
        'createdAt',
        'expiresAt',
        'id',
        'key',
        'lastUsedAt',
        'name',
        'prefix',
        'revokedAt',
        'scopes',
      ]);
      assert.match(key.id, uuid);
      assert.equal(key.name, 'backend');
      assert.deepEqual([...key.scopes].sort(), ['customers:read', 'customers:write']);
      assert.match(key.createdAt, isoMillis);
      assert.equal(key.lastUsedAt, null);
      assert.equal(key.revokedAt, null);
      assert.equal(typeof key.key, 'string');
      assert.ok(key.key.length >= 32, 'the secret is long enough to be unguessable');
      assert.equal(typeof key.prefix, 'string');
      assert.ok(key.prefix.length > 0 && key.prefix.length < key.key.length / 2);
      assert.ok(key.key.startsWith(key.prefix), 'the prefix is the start of the key');
      const row = await apiKeyRow(t, key.id);
      assert.equal(row.institution_id, institution.id);
      assert.equal(row.name, 'backend');
    });

    it('when a key is created, then no stored column contains the secret', async () => {
      const institution = await createInstitution(t);

      const { id, apiKey } = await createApiKey(t, institution);

      const row = await apiKeyRow(t, id);
      assert.equal(typeof row.key_hash, 'string');
      for (const [column, value] of Object.entries(row)) {
        const text = value instanceof Date ? value.toISOString() : JSON.stringify(value);
        assert.ok(!text.includes(apiKey), `column ${column} does not contain the secret`);
      }
      const anywhere = await t.db.query('SELECT id FROM api_keys WHERE strpos(api_keys::text, $1) > 0', [
        apiKey,
      ]);
      assert.equal(anywhere.length, 0);
    });

    it('when the scopes name only customers:read, then the key has only that scope', async () => {
      const institution = await createInstitution(t);

      const response = await post(
        t,
        '/v2/api-key/create',
        { name: 'reader', scopes: ['customers:read'] },
        institution.owner,
      );

      assert.equal(response.status, 201, JSON.stringify(response.body));
      assert.deepEqual(response.body.data.scopes, ['customers:read']);
      assert.deepEqual((await apiKeyRow(t, response.body.data.id)).scopes, ['customers:read']);
    });

    it('when the scopes are invalid, then it gets 400 VALIDATION_ERROR naming scopes and no key is stored', async () => {
      const institution = await createInstitution(t);
      const invalid: Record<string, unknown> = {
        'an unknown scope': ['customers:delete'],
        'an empty array': [],
        'a duplicate scope': ['customers:read', 'customers:read'],
        'a string instead of an array': 'customers:read',
        'a wrong letter case': ['Customers:Read'],
      };

      for (const [name, scopes] of Object.entries(invalid)) {
        const response = await post(t, '/v2/api-key/create', { name: 'backend', scopes }, institution.owner);

        assert.equal(response.status, 400, `${name}: ${JSON.stringify(response.body)}`);
        assert.equal(response.body.code, 'VALIDATION_ERROR', name);
        assert.ok(
          response.body.details.some((detail: { field: string }) => detail.field === 'scopes'),
          `${name}: ${JSON.stringify(response.body.details)}`,
        );
      }
      assert.equal(await keyCount(t, institution.id), 0);
    });

    it('when the name is missing, empty or over 100 characters, then it gets 400 naming name', async () => {
      const institution = await createInstitution(t);
      const invalid: Record<string, Record<string, unknown>> = {
        missing: {},
        empty: { name: '' },
        'only spaces': { name: '   ' },
        '101 characters': { name: 'n'.repeat(101) },
        'not a string': { name: 42 },
      };

      for (const [label, body] of Object.entries(invalid)) {
        const response = await post(t, '/v2/api-key/create', body, institution.owner);

        assert.equal(response.status, 400, `${label}: ${JSON.stringify(response.body)}`);
        assert.equal(response.body.code, 'VALIDATION_ERROR', label);
        assert.deepEqual(
          response.body.details.map((detail: { field: string }) => detail.field),
          ['name'],
          label,
        );
      }
      assert.equal(await keyCount(t, institution.id), 0);
    });

    it('when the name has exactly 100 characters, then the key is created', async () => {
      const institution = await createInstitution(t);
      const name = 'n'.repeat(100);

      const response = await post(t, '/v2/api-key/create', { name }, institution.owner);

      assert.equal(response.status, 201, JSON.stringify(response.body));
      assert.equal(response.body.data.name, name);
      assert.equal((await apiKeyRow(t, response.body.data.id)).name, name);
    });

    it('when the body has an unknown field, then it gets 400 naming that field', async () => {
      const institution = await createInstitution(t);

      const response = await post(
        t,
        '/v2/api-key/create',
        { name: 'backend', admin: true },
        institution.owner,
      );

      assert.equal(response.status, 400, JSON.stringify(response.body));
      assert.equal(response.body.code, 'VALIDATION_ERROR');
      assert.deepEqual(
        response.body.details.map((detail: { field: string }) => detail.field),
        ['admin'],
      );
      assert.equal(await keyCount(t, institution.id), 0);
    });
  });

  describe('find', () => {
    it("when an owner lists keys, then it gets its institution's keys, newest first, without any secret", async () => {
      const institution = await createInstitution(t);
      const other = await createInstitution(t);
      const first = await createApiKey(t, institution);
      const second = await createApiKey(t, institution, ['customers:read']);
      const foreign = await createApiKey(t, other);

      const response = await post(t, '/v2/api-key/find', {}, institution.owner);

      assert.equal(response.status, 200, JSON.stringify(response.body));
      const ids = response.body.data.map((key: { id: string }) => key.id);
      assert.deepEqual(new Set(ids), new Set([first.id, second.id]));
      assert.ok(!ids.includes(foreign.id), "another institution's key is not listed");
      for (const key of response.body.data) {
        assert.deepEqual(Object.keys(key).sort(), [
          'allowedIps',
          'createdAt',
          'expiresAt',
          'id',
          'lastUsedAt',
          'name',
          'prefix',
          'revokedAt',
          'scopes',
        ]);
        assert.ok(first.apiKey.startsWith(key.prefix) || second.apiKey.startsWith(key.prefix));
      }
      const text = JSON.stringify(response.body);
      assert.ok(!text.includes(first.apiKey) && !text.includes(second.apiKey), 'no secret is listed');
      const createdAts: string[] = response.body.data.map((key: { createdAt: string }) => key.createdAt);
      assert.deepEqual(createdAts, [...createdAts].sort().reverse(), 'newest first');
      const reader = response.body.data.find((key: { id: string }) => key.id === second.id);
      assert.deepEqual(reader.scopes, ['customers:read']);
    });

    it('when the find body has an unknown field, then it gets 400 naming it', async () => {
      const institution = await createInstitution(t);

      const response = await post(t, '/v2/api-key/find', { take: 10 }, institution.owner);

      assert.equal(response.status, 400, JSON.stringify(response.body));
      assert.equal(response.body.code, 'VALIDATION_ERROR');
      assert.deepEqual(
        response.body.details.map((detail: { field: string }) => detail.field),
        ['take'],
      );
    });
  });

  describe('using a key', () => {
    it('when the api-key header name has any letter case, then the key authenticates', async () => {
      const institution = await createInstitution(t);
      const { apiKey } = await createApiKey(t, institution);
      const customer = await createCustomer(t, institution.owner);

      for (const header of ['api-key', 'API-Key', 'API-KEY', 'Api-Key']) {
        const response = await post(t, '/v2/customer/details', { id: customer.id }, undefined, {
          [header]: apiKey,
        });

        assert.equal(response.status, 200, `${header}: ${JSON.stringify(response.body)}`);
        assert.equal(response.body.data.id, customer.id);
      }
    });

    it('when a key is used, then its lastUsedAt is set', async () => {
      const institution = await createInstitution(t);
      const { id, apiKey } = await createApiKey(t, institution);
      assert.equal((await apiKeyRow(t, id)).last_used_at, null);

      const used = await post(t, '/v2/customer/find', {}, { apiKey });

      assert.equal(used.status, 200, JSON.stringify(used.body));
      assert.ok((await apiKeyRow(t, id)).last_used_at instanceof Date, 'last_used_at is stored');
      const listed = await post(t, '/v2/api-key/find', {}, institution.owner);
      const key = listed.body.data.find((candidate: { id: string }) => candidate.id === id);
      assert.match(key.lastUsedAt, isoMillis);
    });

    it('when a key is used again within a minute, then lastUsedAt is not written on every request', async () => {
      const institution = await createInstitution(t);
      const { id, apiKey } = await createApiKey(t, institution);
      assert.equal((await post(t, '/v2/customer/find', {}, { apiKey })).status, 200);
      // A marker no request would write: any write by the next uses would replace it.
      const marker = new Date('2001-02-03T04:05:06.007Z');
      await t.db.query('UPDATE api_keys SET last_used_at = $2 WHERE id = $1', [id, marker]);

      for (let use = 0; use < 20; use++) {
        const response = await post(t, '/v2/customer/find', {}, { apiKey });
        assert.equal(response.status, 200, JSON.stringify(response.body));
      }

      assert.deepEqual((await apiKeyRow(t, id)).last_used_at, marker);
    });

    it('when another instance revokes a key or its expiry passes, then every instance refuses it as the change commits', async () => {
      const institution = await createInstitution(t);
      const revoked = await createApiKey(t, institution);
      const expiring = await createApiKey(t, institution);
      // A second service instance on the same database, as behind a load balancer.
      const other = await buildAppOn(t.db);
      try {
        for (const key of [revoked, expiring]) {
          const before = await post(t, '/v2/customer/find', {}, { apiKey: key.apiKey });
          assert.equal(before.status, 200, JSON.stringify(before.body));
        }

        // The owner signs in on the other instance and revokes the key there.
        const login = await other.app.inject({
          method: 'POST',
          url: '/v2/auth/login',
          headers: { 'content-type': 'application/json', merchant_id: institution.id },
          payload: JSON.stringify({ token: institution.ownerEmail, password: institution.ownerPassword }),
        });
        assert.equal(login.statusCode, 200, login.body);
        const revoke = await other.app.inject({
          method: 'POST',
          url: '/v2/api-key/revoke',
          headers: {
            authorization: `Bearer ${login.json().data.accessToken}`,
            'content-type': 'application/json',
          },
          payload: JSON.stringify({ id: revoked.id }),
        });
        assert.equal(revoke.statusCode, 200, revoke.body);
        await t.db.query(`UPDATE api_keys SET expires_at = now() - interval '1 millisecond' WHERE id = $1`, [
          expiring.id,
        ]);

        // The instance that revoked forgets at once, before it answers.
        const onOther = await other.app.inject({
          method: 'POST',
          url: '/v2/customer/find',
          headers: { 'api-key': revoked.apiKey, 'content-type': 'application/json' },
          payload: '{}',
        });
        assert.equal(onOther.statusCode, 401, onOther.body);
        // Every instance hears of each change as it commits (at once on the embedded database; a
        // moment later over PostgreSQL's notification), and from then on refuses the key.
        for (const app of [t.app, other.app]) {
          for (const key of [revoked, expiring]) {
            const started = performance.now();
            for (;;) {
              const response = await app.inject({
                method: 'POST',
                url: '/v2/customer/find',
                headers: { 'api-key': key.apiKey, 'content-type': 'application/json' },
                payload: '{}',
              });
              if (response.statusCode === 401) {
                assert.equal(response.json().code, 'UNAUTHORIZED');
                break;
              }
              assert.equal(response.statusCode, 200, response.body);
              assert.ok(performance.now() - started < 2000, 'the change reached the instance within 2 s');
              await sleep(2);
            }
          }
        }
      } finally {
        await other.app.close();
      }
    });

    it('when a key acts, then it acts on its own institution only', async () => {
      const institution = await createInstitution(t);
      const other = await createInstitution(t);
      const { apiKey } = await createApiKey(t, institution);
      const foreignCustomer = await createCustomer(t, other.owner);

      const response = await post(t, '/v2/customer/details', { id: foreignCustomer.id }, { apiKey });
      const created = await post(t, '/v2/customer/create', customerInput(), { apiKey });

      assert.equal(response.status, 404);
      assert.equal(response.body.code, 'CUSTOMER_NOT_FOUND');
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const [row] = await t.db.query('SELECT institution_id FROM customers WHERE id = $1', [
        created.body.data.id,
      ]);
      assert.equal(row?.institution_id, institution.id);
    });

    it('when a key has only customers:read, then it can read customers but gets 403 on create and update', async () => {
      const institution = await createInstitution(t);
      const { apiKey } = await createApiKey(t, institution, ['customers:read']);
      const customer = await createCustomer(t, institution.owner, { firstName: 'Original' });

      const details = await post(t, '/v2/customer/details', { id: customer.id }, { apiKey });
      const find = await post(t, '/v2/customer/find', {}, { apiKey });
      const create = await post(t, '/v2/customer/create', customerInput(), { apiKey });
      const update = await post(
        t,
        '/v2/customer/update',
        { id: customer.id, firstName: 'Changed' },
        { apiKey },
      );

      assert.equal(details.status, 200, JSON.stringify(details.body));
      assert.equal(details.body.data.id, customer.id);
      assert.equal(find.status, 200, JSON.stringify(find.body));
      assert.deepEqual(
        find.body.data.map((found: { id: string }) => found.id),
        [customer.id],
      );
      assert.equal(create.status, 403, JSON.stringify(create.body));
      assert.equal(create.body.code, 'FORBIDDEN');
      assert.equal(update.status, 403, JSON.stringify(update.body));
      assert.equal(update.body.code, 'FORBIDDEN');
      assert.equal(await customerCount(t, institution.id), 1);
      const [row] = await t.db.query('SELECT first_name FROM customers WHERE id = $1', [customer.id]);
      assert.equal(row?.first_name, 'Original');
    });

    it('when a key has only customers:write, then it can create but gets 403 on details and find', async () => {
      const institution = await createInstitution(t);
      const { apiKey } = await createApiKey(t, institution, ['customers:write']);

      const create = await post(t, '/v2/customer/create', customerInput(), { apiKey });
      const details = await post(t, '/v2/customer/details', { id: create.body.data.id }, { apiKey });
      const find = await post(t, '/v2/customer/find', {}, { apiKey });

      assert.equal(create.status, 201, JSON.stringify(create.body));
      assert.equal(details.status, 403, JSON.stringify(details.body));
      assert.equal(details.body.code, 'FORBIDDEN');
      assert.equal(find.status, 403, JSON.stringify(find.body));
      assert.equal(find.body.code, 'FORBIDDEN');
    });

    it('when an unknown or malformed key is sent, then it gets 401 UNAUTHORIZED', async () => {
      const institution = await createInstitution(t);
      const { apiKey } = await createApiKey(t, institution);

      for (const key of [`${apiKey}x`, apiKey.slice(0, -1), 'cck_unknown', 'garbage', ' ']) {
        const response = await post(t, '/v2/customer/find', {}, { apiKey: key });

        assert.equal(response.status, 401, `${key}: ${JSON.stringify(response.body)}`);
        assert.equal(response.body.code, 'UNAUTHORIZED');
      }
    });
  });

  describe('revoke', () => {
    it('when an owner revokes a key, then it gets 200 with revokedAt and the key gets 401 at once', async () => {
      const institution = await createInstitution(t);
      const { id, apiKey } = await createApiKey(t, institution);
      assert.equal((await post(t, '/v2/customer/find', {}, { apiKey })).status, 200);

      const response = await post(t, '/v2/api-key/revoke', { id }, institution.owner);

      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.equal(response.body.data.id, id);
      assert.match(response.body.data.revokedAt, isoMillis);
      assert.equal(response.body.data.key, undefined, 'the secret is not shown again');
      assert.ok(!JSON.stringify(response.body).includes(apiKey));
      assert.ok((await apiKeyRow(t, id)).revoked_at instanceof Date);
      const after = await post(t, '/v2/customer/find', {}, { apiKey });
      assert.equal(after.status, 401, JSON.stringify(after.body));
      assert.equal(after.body.code, 'UNAUTHORIZED');
      const listed = await post(t, '/v2/api-key/find', {}, institution.owner);
      const key = listed.body.data.find((candidate: { id: string }) => candidate.id === id);
      assert.equal(key.revokedAt, response.body.data.revokedAt);
    });

    it('when a key is revoked twice, then both answers are 200 with the first revocation time', async () => {
      const institution = await createInstitution(t);
      const { id } = await createApiKey(t, institution);

      const first = await post(t, '/v2/api-key/revoke', { id }, institution.owner);
      const second = await post(t, '/v2/api-key/revoke', { id }, institution.owner);

      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(second.status, 200, JSON.stringify(second.body));
      assert.equal(second.body.data.revokedAt, first.body.data.revokedAt);
      assert.equal((await apiKeyRow(t, id)).revoked_at instanceof Date, true);
    });

    it('when revoking one key, then the institution’s other keys keep working', async () => {
      const institution = await createInstitution(t);
      const revoked = await createApiKey(t, institution);
      const kept = await createApiKey(t, institution);

      await post(t, '/v2/api-key/revoke', { id: revoked.id }, institution.owner);

      assert.equal((await post(t, '/v2/customer/find', {}, { apiKey: kept.apiKey })).status, 200);
      assert.equal((await apiKeyRow(t, kept.id)).revoked_at, null);
    });

    it('when the id names no key of the institution, then it gets 404 NOT_FOUND', async () => {
      const institution = await createInstitution(t);
      const other = await createInstitution(t);
      const foreign = await createApiKey(t, other);

      const unknown = await post(t, '/v2/api-key/revoke', { id: randomUUID() }, institution.owner);
      const ofAnother = await post(t, '/v2/api-key/revoke', { id: foreign.id }, institution.owner);

      assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
      assert.equal(unknown.body.code, 'NOT_FOUND');
      assert.equal(ofAnother.status, 404, JSON.stringify(ofAnother.body));
      assert.equal(ofAnother.body.code, 'NOT_FOUND');
      assert.equal((await apiKeyRow(t, foreign.id)).revoked_at, null);
      assert.equal((await post(t, '/v2/customer/find', {}, { apiKey: foreign.apiKey })).status, 200);
    });

    it('when the id is not a UUID, then it gets 400 VALIDATION_ERROR naming id', async () => {
      const institution = await createInstitution(t);

      const response = await post(t, '/v2/api-key/revoke', { id: 'not-a-uuid' }, institution.owner);

      assert.equal(response.status, 400, JSON.stringify(response.body));
      assert.equal(response.body.code, 'VALIDATION_ERROR');
      assert.deepEqual(
        response.body.details.map((detail: { field: string }) => detail.field),
        ['id'],
      );
    });
  });

  describe('who may manage keys', () => {
    let institution: Institution;
    let key: { id: string; apiKey: string };

    before(async () => {
      institution = await createInstitution(t);
      key = await createApiKey(t, institution);
    });

    it('when an API key calls any /v2/api-key route, then it gets 403 FORBIDDEN and nothing changes', async () => {
      const keysBefore = await keyCount(t, institution.id);
      const calls: [string, Record<string, unknown>][] = [
        ['/v2/api-key/create', { name: 'by-a-key' }],
        ['/v2/api-key/find', {}],
        ['/v2/api-key/revoke', { id: key.id }],
      ];

      for (const [url, body] of calls) {
        const response = await post(t, url, body, { apiKey: key.apiKey });

        assert.equal(response.status, 403, `${url}: ${JSON.stringify(response.body)}`);
        assert.equal(response.body.code, 'FORBIDDEN', url);
      }
      assert.equal(await keyCount(t, institution.id), keysBefore);
      assert.equal((await apiKeyRow(t, key.id)).revoked_at, null);
    });

    it('when the operator calls a /v2/api-key route, then it gets 403 FORBIDDEN', async () => {
      const operator = await loginOperator(t);

      const create = await post(t, '/v2/api-key/create', { name: 'operator' }, operator);
      const find = await post(t, '/v2/api-key/find', {}, operator);

      assert.equal(create.status, 403, JSON.stringify(create.body));
      assert.equal(create.body.code, 'FORBIDDEN');
      assert.equal(find.status, 403, JSON.stringify(find.body));
      assert.equal(find.body.code, 'FORBIDDEN');
    });

    it('when no credentials are sent, then the key routes answer 401 UNAUTHORIZED', async () => {
      for (const url of ['/v2/api-key/create', '/v2/api-key/find', '/v2/api-key/revoke']) {
        const response = await post(t, url, { name: 'x', id: key.id });

        assert.equal(response.status, 401, `${url}: ${JSON.stringify(response.body)}`);
        assert.equal(response.body.code, 'UNAUTHORIZED', url);
      }
    });
  });
});
