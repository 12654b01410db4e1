// API key restrictions: an allowed list of client addresses and ranges, and an expiry. Both are
// given at creation, returned by create and find, stored normalised, and checked on every request.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { engine, startTestApp, type TestApp } from './support/app.js';
import { createInstitution, customerInput, post, type Institution, type Response } from './support/client.js';

/** A request with an API key, from the given client address (what Fastify reports as request.ip). */
async function postFrom(
  t: TestApp,
  remoteAddress: string,
  url: string,
  body: unknown,
  apiKey: string,
): Promise<Response> {
  const response = await t.app.inject({
    method: 'POST',
    url,
    remoteAddress,
    headers: { 'content-type': 'application/json', 'api-key': apiKey },
    payload: JSON.stringify(body),
  });
  return { status: response.statusCode, body: response.json(), headers: response.headers };
}

async function createKey(
  t: TestApp,
  institution: Institution,
  restrictions: Record<string, unknown>,
): Promise<{ id: string; apiKey: string; data: any }> {
  const response = await post(
    t,
    '/v2/api-key/create',
    { name: 'backend', ...restrictions },
    institution.owner,
  );
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return { id: response.body.data.id, apiKey: response.body.data.key, data: response.body.data };
}

async function apiKeyRow(t: TestApp, id: string): Promise<Record<string, unknown>> {
  const [row] = await t.db.query('SELECT * FROM api_keys WHERE id = $1', [id]);
  assert.ok(row !== undefined, `api key ${id} is stored`);
  return row;
}

const keyCount = async (t: TestApp, institutionId: string): Promise<number> =>
  (await t.db.query('SELECT id FROM api_keys WHERE institution_id = $1', [institutionId])).length;

async function listedKey(t: TestApp, institution: Institution, id: string): Promise<any> {
  const response = await post(t, '/v2/api-key/find', {}, institution.owner);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  const key = response.body.data.find((candidate: { id: string }) => candidate.id === id);
  assert.ok(key !== undefined, `key ${id} is listed`);
  return key;
}

function assertValidationError(response: Response, field: string, label: string): void {
  assert.equal(response.status, 400, `${label}: ${JSON.stringify(response.body)}`);
  assert.equal(response.body.code, 'VALIDATION_ERROR', label);
  assert.deepEqual(
    response.body.details.map((detail: { field: string }) => detail.field),
    [field],
    label,
  );
}

function assertUnauthorized(response: Response, label: string): void {
  assert.equal(response.status, 401, `${label}: ${JSON.stringify(response.body)}`);
  assert.equal(response.body.code, 'UNAUTHORIZED', label);
}

describe(`api key restrictions (${engine})`, () => {
  let t: TestApp;

  before(async () => {
    t = await startTestApp();
  });

  after(async () => {
    await t.close();
  });

  describe('creating a key', () => {
    it('when a key is created without restrictions, then allowedIps and expiresAt are null in create, find and the row', async () => {
      const institution = await createInstitution(t);

      const omitted = await createKey(t, institution, {});
      const nulls = await createKey(t, institution, { allowedIps: null, expiresAt: null });

      for (const key of [omitted, nulls]) {
        assert.equal(key.data.allowedIps, null);
        assert.equal(key.data.expiresAt, null);
        const listed = await listedKey(t, institution, key.id);
        assert.equal(listed.allowedIps, null);
        assert.equal(listed.expiresAt, null);
        const row = await apiKeyRow(t, key.id);
        assert.equal(row.allowed_ips, null);
        assert.equal(row.expires_at, null);
      }
    });

    it('when allowedIps are given, then create and find return them normalised, as they are stored', async () => {
      const institution = await createInstitution(t);
      const expected = [
        '203.0.113.7',
        '198.51.100.0/24',
        '2001:db8::/32',
        '::1',
        '192.0.2.1',
        '10.1.0.0/16',
        '255.255.255.255',
      ];

      const key = await createKey(t, institution, {
        allowedIps: [
          '203.0.113.7',
          '198.51.100.7/24', // a range is kept as its network address
          '2001:DB8:0:0::/32', // IPv6 in lower-case compressed form
          '0:0:0:0:0:0:0:1',
          '::ffff:192.0.2.1', // IPv4-mapped IPv6 as the IPv4 address
          '203.0.113.7/32', // one address is the address, here a duplicate
          ' 10.1.2.3/16 ',
          '0000:0000:0000:0000:0000:ffff:255.255.255.255/128', // the longest form, 49 characters
        ],
      });

      assert.deepEqual(key.data.allowedIps, expected);
      assert.deepEqual((await listedKey(t, institution, key.id)).allowedIps, expected);
      assert.deepEqual((await apiKeyRow(t, key.id)).allowed_ips, expected);
    });

    it('when allowedIps has exactly 50 entries, then the key is created with all of them', async () => {
      const institution = await createInstitution(t);
      const allowedIps = Array.from({ length: 50 }, (_, index) => `192.0.2.${index + 1}`);

      const key = await createKey(t, institution, { allowedIps });

      assert.deepEqual(key.data.allowedIps, allowedIps);
      assert.deepEqual((await apiKeyRow(t, key.id)).allowed_ips, allowedIps);
    });

    it('when allowedIps is malformed, then it gets 400 VALIDATION_ERROR naming allowedIps and no key is stored', async () => {
      const institution = await createInstitution(t);
      const invalid: Record<string, unknown> = {
        'a prefix longer than 32 bits': ['10.0.0.0/33'],
        'a three-part IPv4 address': ['1.2.3'],
        'a word': ['abc'],
        'a prefix longer than 128 bits': ['2001:db8::/129'],
        'an IPv4 part with a leading zero': ['010.0.0.1'],
        'a hexadecimal IPv4 part': ['0x7f.0.0.1'],
        'a prefix with a leading zero': ['10.0.0.0/08'],
        'a negative prefix': ['10.0.0.0/-1'],
        'an empty prefix': ['10.0.0.0/'],
        'two prefixes': ['10.0.0.0/8/8'],
        'an IPv6 zone': ['fe80::1%eth0'],
        'two double colons': ['2001:db8::1::2'],
        'an IPv4 octet over 255': ['256.0.0.1'],
        'an empty string': [''],
        'an entry over 49 characters': [`2001:db8::/32${' '.repeat(37)}`],
        'one bad entry among good ones': ['203.0.113.7', 'abc', '::1'],
        'an empty array': [],
        '51 entries': Array.from({ length: 51 }, (_, index) => `192.0.2.${index + 1}`),
        'a string instead of an array': '203.0.113.7',
        'a number entry': [42],
        'a null entry': [null],
      };

      for (const [label, allowedIps] of Object.entries(invalid)) {
        const response = await post(
          t,
          '/v2/api-key/create',
          { name: 'backend', allowedIps },
          institution.owner,
        );

        assertValidationError(response, 'allowedIps', label);
      }
      assert.equal(await keyCount(t, institution.id), 0);
    });

    it('when an allowedIps entry is not an address or range, then the message quotes it', async () => {
      const institution = await createInstitution(t);

      const response = await post(
        t,
        '/v2/api-key/create',
        { name: 'backend', allowedIps: ['203.0.113.7', '10.0.0.0/33'] },
        institution.owner,
      );

      assertValidationError(response, 'allowedIps', 'a bad range');
      assert.match(response.body.details[0].message, /"10\.0\.0\.0\/33"/);
      assert.ok(!response.body.details[0].message.includes('"203.0.113.7"'), 'the good entry is not blamed');
    });

    it('when expiresAt is in the future, then create and find return it in UTC at millisecond precision, as stored', async () => {
      const institution = await createInstitution(t);

      const key = await createKey(t, institution, { expiresAt: '2099-06-30T12:34:56.789+02:00' });

      assert.equal(key.data.expiresAt, '2099-06-30T10:34:56.789Z');
      assert.equal((await listedKey(t, institution, key.id)).expiresAt, '2099-06-30T10:34:56.789Z');
      const row = await apiKeyRow(t, key.id);
      assert.ok(row.expires_at instanceof Date);
      assert.equal(row.expires_at.toISOString(), '2099-06-30T10:34:56.789Z');
    });

    it('when expiresAt is not in the future, then it gets 400 VALIDATION_ERROR naming expiresAt and no key is stored', async () => {
      const institution = await createInstitution(t);
      const past = {
        'long ago': '2000-01-01T00:00:00.000Z',
        'a second ago': new Date(Date.now() - 1000).toISOString(),
      };

      for (const [label, expiresAt] of Object.entries(past)) {
        const response = await post(
          t,
          '/v2/api-key/create',
          { name: 'backend', expiresAt },
          institution.owner,
        );

        assertValidationError(response, 'expiresAt', label);
        assert.match(response.body.details[0].message, /future/, label);
      }
      assert.equal(await keyCount(t, institution.id), 0);
    });

    it('when expiresAt is not an ISO 8601 date-time with a time zone, then it gets 400 naming expiresAt', async () => {
      const institution = await createInstitution(t);
      const invalid: Record<string, unknown> = {
        'a word': 'tomorrow',
        'a date without a time': '2099-01-01',
        'no time zone': '2099-01-01T00:00:00',
        'an impossible date': '2099-02-30T00:00:00Z',
        'a leap second': '2099-01-01T23:59:60Z',
        'a number': 4_102_444_800_000,
        'an empty string': '',
      };

      for (const [label, expiresAt] of Object.entries(invalid)) {
        const response = await post(
          t,
          '/v2/api-key/create',
          { name: 'backend', expiresAt },
          institution.owner,
        );

        assertValidationError(response, 'expiresAt', label);
      }
      assert.equal(await keyCount(t, institution.id), 0);
    });
  });

  describe('using a key with allowedIps', () => {
    let institution: Institution;
    let key: { id: string; apiKey: string };

    before(async () => {
      institution = await createInstitution(t);
      key = await createKey(t, institution, {
        allowedIps: ['203.0.113.7', '198.51.100.0/24', '2001:db8::/32', '::1'],
      });
    });

    it('when the client address is on the list or in a listed range, then the key is accepted', async () => {
      for (const address of ['203.0.113.7', '198.51.100.0', '198.51.100.255', '2001:db8:abcd::42', '::1']) {
        const response = await postFrom(t, address, '/v2/customer/find', {}, key.apiKey);

        assert.equal(response.status, 200, `${address}: ${JSON.stringify(response.body)}`);
      }
      assert.ok((await apiKeyRow(t, key.id)).last_used_at instanceof Date, 'an accepted use is recorded');
    });

    it('when an IPv4 client arrives as an IPv4-mapped IPv6 address, then it matches the IPv4 entries', async () => {
      for (const address of ['::ffff:203.0.113.7', '::ffff:198.51.100.42']) {
        const response = await postFrom(t, address, '/v2/customer/find', {}, key.apiKey);

        assert.equal(response.status, 200, `${address}: ${JSON.stringify(response.body)}`);
      }
      assertUnauthorized(
        await postFrom(t, '::ffff:203.0.113.8', '/v2/customer/find', {}, key.apiKey),
        '::ffff:203.0.113.8',
      );
    });

    it('when the client address is outside the list, then it gets 401 UNAUTHORIZED and nothing is created', async () => {
      const outside = [
        '203.0.113.8',
        '198.51.101.1',
        '127.0.0.1',
        '2001:db9::1',
        '::2',
        '::ffff:127.0.0.1',
        // Written like the IPv4 entry, but an IPv6 address of its own (IPv4-compatible, not mapped).
        '::203.0.113.7',
      ];

      for (const address of outside) {
        const find = await postFrom(t, address, '/v2/customer/find', {}, key.apiKey);
        const create = await postFrom(t, address, '/v2/customer/create', customerInput(), key.apiKey);

        assertUnauthorized(find, `find from ${address}`);
        assertUnauthorized(create, `create from ${address}`);
      }
      const customers = await t.db.query('SELECT id FROM customers WHERE institution_id = $1', [
        institution.id,
      ]);
      assert.equal(customers.length, 0);
    });

    it('when a key is refused for its address, then its lastUsedAt is not set', async () => {
      const fresh = await createKey(t, institution, { allowedIps: ['192.0.2.0/24'] });

      const response = await postFrom(t, '198.51.100.1', '/v2/customer/find', {}, fresh.apiKey);

      assertUnauthorized(response, 'outside');
      assert.equal((await apiKeyRow(t, fresh.id)).last_used_at, null);
      assert.equal((await listedKey(t, institution, fresh.id)).lastUsedAt, null);
    });

    it('when a key has no allowed list, then it is accepted from any address', async () => {
      const unrestricted = await createKey(t, institution, {});

      for (const address of ['192.0.2.55', '2001:db8:1::9', '::ffff:10.0.0.1', '127.0.0.1']) {
        const response = await postFrom(t, address, '/v2/customer/find', {}, unrestricted.apiKey);

        assert.equal(response.status, 200, `${address}: ${JSON.stringify(response.body)}`);
      }
    });

    it('when only IPv6 ranges are listed, then an IPv4 client is refused and an IPv6 one accepted', async () => {
      const ipv6Only = await createKey(t, institution, { allowedIps: ['::/0'] });

      const ipv4 = await postFrom(t, '192.0.2.1', '/v2/customer/find', {}, ipv6Only.apiKey);
      const ipv6 = await postFrom(t, '2001:db8::1', '/v2/customer/find', {}, ipv6Only.apiKey);

      assertUnauthorized(ipv4, 'IPv4 client');
      assert.equal(ipv6.status, 200, JSON.stringify(ipv6.body));
    });
  });

  describe('using a key with expiresAt', () => {
    // Real time passes: the keys expire a moment after they are made, while this instance
    // remembers them (the credential cache serves a key no later than its own expiry).
    const soon = () => new Date(Date.now() + 3000).toISOString();
    const untilExpired = async (expiresAt: string) => {
      await sleep(Date.parse(expiresAt) - Date.now() + 5);
    };

    it('when the expiry passes, then the key gets 401 UNAUTHORIZED at once and find still lists it', async () => {
      const institution = await createInstitution(t);
      const key = await createKey(t, institution, {
        expiresAt: soon(),
      });
      const before = await postFrom(t, '192.0.2.1', '/v2/customer/find', {}, key.apiKey);
      assert.equal(before.status, 200, JSON.stringify(before.body));

      await untilExpired(key.data.expiresAt);

      const afterExpiry = await postFrom(t, '192.0.2.1', '/v2/customer/find', {}, key.apiKey);
      const create = await postFrom(t, '192.0.2.1', '/v2/customer/create', customerInput(), key.apiKey);
      assertUnauthorized(afterExpiry, 'find after expiry');
      assertUnauthorized(create, 'create after expiry');
      const customers = await t.db.query('SELECT id FROM customers WHERE institution_id = $1', [
        institution.id,
      ]);
      assert.equal(customers.length, 0);
      const listed = await listedKey(t, institution, key.id);
      assert.match(listed.expiresAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      assert.equal(listed.revokedAt, null);
    });

    it('when a key is expired and from an allowed address, then it still gets 401', async () => {
      const institution = await createInstitution(t);
      const key = await createKey(t, institution, {
        allowedIps: ['192.0.2.0/24'],
        expiresAt: soon(),
      });
      assert.equal((await postFrom(t, '192.0.2.1', '/v2/customer/find', {}, key.apiKey)).status, 200);

      await untilExpired(key.data.expiresAt);

      assertUnauthorized(await postFrom(t, '192.0.2.1', '/v2/customer/find', {}, key.apiKey), 'expired');
    });

    it('when one key expires, then the institution’s other keys keep working', async () => {
      const institution = await createInstitution(t);
      const expiring = await createKey(t, institution, {
        expiresAt: soon(),
      });
      const kept = await createKey(t, institution, {});

      assert.equal((await postFrom(t, '192.0.2.1', '/v2/customer/find', {}, expiring.apiKey)).status, 200);
      await untilExpired(expiring.data.expiresAt);

      assertUnauthorized(await postFrom(t, '192.0.2.1', '/v2/customer/find', {}, expiring.apiKey), 'expired');
      assert.equal((await postFrom(t, '192.0.2.1', '/v2/customer/find', {}, kept.apiKey)).status, 200);
    });
  });
});
