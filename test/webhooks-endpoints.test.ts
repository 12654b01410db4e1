// Webhook endpoints: who may manage and read them, the secret (shown once, encrypted at rest),
// and destinations that cannot be turned against the service (SSRF): every family of address is
// refused in URLs and again after DNS resolution, when connecting.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { addressProblem, urlProblem } from '../src/modules/webhooks/webhook-destinations.js';
import { engine, startTestApp, type TestApp } from './support/app.js';
import {
  createApiKey,
  createCustomer,
  createInstitution,
  loginOperator,
  post,
  unique,
} from './support/client.js';
import { startReceiver, startTestDispatcher } from './support/webhooks.js';

describe('webhook destinations (SSRF)', () => {
  const refused: [string, string][] = [
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.5', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['169.254.0.1', 'link-local'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['100.127.255.254', 'carrier-grade NAT'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.2.10', 'reserved'],
    ['198.51.100.7', 'reserved'],
    ['203.0.113.9', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['192.0.0.8', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456:789a::1', 'unique-local'],
    ['ff02::1', 'multicast'],
    ['ff05::2', 'multicast'],
    ['2001:db8::1', 'reserved'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:0:a9fe:a9fe', 'link-local'],
    ['64:ff9b::a9fe:a9fe', 'link-local'],
    ['64:ff9b::7f00:1', 'loopback'],
    ['2002:7f00:1::', 'loopback'],
    ['2002:a00:1::1', 'private'],
    ['::127.0.0.1', 'loopback'],
    ['::10.0.0.1', 'private'],
    ['2001::1', 'Teredo'],
    ['100::1', 'discard'],
  ];
  for (const [address, family] of refused) {
    it(`when a destination is ${address} (${family}), then it is refused`, () => {
      assert.notEqual(addressProblem(address), undefined, address);
    });
  }
  for (const address of [
    '93.184.216.34',
    '8.8.8.8',
    '1.1.1.1',
    '2606:4700:4700::1111',
    '2a00:1450:4001::200e',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
  ]) {
    it(`when a destination is the public address ${address}, then it is allowed`, () => {
      assert.equal(addressProblem(address), undefined);
    });
  }

  const urls: [string, RegExp][] = [
    ['http://hooks.partner.example/x', /https/],
    ['ftp://hooks.partner.example/x', /https/],
    ['file:///etc/passwd', /https/],
    ['javascript:alert(1)', /https/],
    ['https://user:pass@hooks.partner.example/x', /user name or password/],
    ['https://user@hooks.partner.example/x', /user name or password/],
    ['https://hooks.partner.example/x#frag', /fragment/],
    ['https://127.0.0.1/x', /loopback/],
    ['https://2130706433/x', /loopback/],
    ['https://0x7f.1/x', /loopback/],
    ['https://0177.0.0.1/x', /loopback/],
    ['https://[::1]/x', /loopback/],
    ['https://[::ffff:127.0.0.1]/x', /loopback/],
    ['https://[::ffff:a9fe:a9fe]/x', /link-local/],
    ['https://169.254.169.254/latest/meta-data', /link-local/],
    ['https://10.0.0.1:8443/x', /private/],
    ['https://localhost/x', /loopback/],
    ['https://api.localhost/x', /loopback/],
    ['https://LOCALHOST./x', /loopback/],
    ['not a url', /absolute URL/],
    ['/relative/path', /absolute URL/],
  ];
  for (const [url, reason] of urls) {
    it(`when an endpoint URL is ${url}, then it is refused saying why`, () => {
      assert.match(urlProblem(url, false) ?? 'allowed', reason);
    });
  }
  it('when private networks are allowed, then http:// and inside addresses pass, but other schemes and userinfo stay refused', () => {
    assert.equal(urlProblem('http://127.0.0.1:8080/hook', true), undefined);
    assert.equal(urlProblem('https://10.0.0.1/hook', true), undefined);
    assert.match(urlProblem('ftp://127.0.0.1/hook', true) ?? '', /https/);
    assert.match(urlProblem('http://a:b@127.0.0.1/hook', true) ?? '', /user name/);
    assert.equal(urlProblem('https://hooks.partner.example/x?a=1', false), undefined);
  });
});

describe(`webhook endpoints (${engine})`, () => {
  let t: TestApp;
  let operator: { token: string };

  before(async () => {
    t = await startTestApp();
    operator = await loginOperator(t);
  });

  after(async () => {
    await t.close();
  });

  it('when an endpoint is created, then its secret is shown once, never listed, and not in the database in clear', async () => {
    const institution = await createInstitution(t, operator);
    const created = await post(
      t,
      '/v2/webhook/create',
      { url: 'https://hooks.partner.example/cc', description: 'main', eventTypes: ['customer.created'] },
      institution.owner,
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const { secret, ...endpoint } = created.body.data;
    assert.match(secret, /^whsec_/);
    assert.deepEqual(Object.keys(endpoint).sort(), [
      'createdAt',
      'description',
      'disabledReason',
      'enabled',
      'eventTypes',
      'id',
      'updatedAt',
      'url',
    ]);
    assert.equal(endpoint.enabled, true);
    assert.equal(endpoint.disabledReason, null);
    const found = await post(t, '/v2/webhook/find', {}, institution.owner);
    assert.deepEqual(found.body.data, [endpoint]);
    const rows = await t.db.query('SELECT * FROM webhook_endpoints WHERE id = $1', [endpoint.id]);
    const dump = JSON.stringify(rows, (_key, value: unknown) =>
      value instanceof Uint8Array
        ? Buffer.from(value).toString('latin1') + Buffer.from(value).toString('base64')
        : value,
    );
    const raw = Buffer.from(secret.slice('whsec_'.length), 'base64');
    assert.ok(!dump.includes(secret) && !dump.includes(secret.slice(6)), 'secret in clear in the database');
    assert.ok(!dump.includes(raw.toString('latin1')), 'secret bytes in clear in the database');

    const rotated = await post(t, '/v2/webhook/rotate-secret', { id: endpoint.id }, institution.owner);
    assert.equal(rotated.status, 200);
    assert.match(rotated.body.data.secret, /^whsec_/);
    assert.notEqual(rotated.body.data.secret, secret);
    const listed = await post(t, '/v2/webhook/find', {}, institution.owner);
    assert.equal(JSON.stringify(listed.body).includes('whsec_'), false);
  });

  it('when a URL is not allowed, then create and update answer 400 VALIDATION_ERROR naming url and saying why', async () => {
    const institution = await createInstitution(t, operator);
    for (const url of [
      'http://hooks.partner.example/x',
      'https://169.254.169.254/',
      'https://u:p@hooks.partner.example/',
    ]) {
      const answer = await post(t, '/v2/webhook/create', { url }, institution.owner);
      assert.equal(answer.status, 400, url);
      assert.equal(answer.body.code, 'VALIDATION_ERROR');
      assert.equal(answer.body.details[0].field, 'url');
      assert.ok(answer.body.details[0].message.length > 10);
    }
    const created = await post(
      t,
      '/v2/webhook/create',
      { url: 'https://hooks.partner.example/x' },
      institution.owner,
    );
    const update = await post(
      t,
      '/v2/webhook/update',
      { id: created.body.data.id, url: 'https://[::ffff:10.0.0.1]/' },
      institution.owner,
    );
    assert.equal(update.status, 400);
    assert.equal(update.body.details[0].field, 'url');
  });

  it('when roles and key scopes call the webhook routes, then Owner and Admin manage, Viewer reads, webhooks:manage keys manage, customers:read keys find events only', async () => {
    const institution = await createInstitution(t, operator);
    const viewerEmail = `${unique('viewer')}@acme.test`;
    const adminEmail = `${unique('admin')}@acme.test`;
    for (const [email, role] of [
      [viewerEmail, 'Viewer'],
      [adminEmail, 'Admin'],
    ]) {
      const user = await post(
        t,
        '/v2/user/create',
        { email, role, password: 'user-password-1234' },
        institution.owner,
      );
      assert.equal(user.status, 201, JSON.stringify(user.body));
    }
    const login = async (email: string) => {
      const answer = await post(
        t,
        '/v2/auth/login',
        { token: email, password: 'user-password-1234' },
        undefined,
        {
          merchant_id: institution.id,
        },
      );
      return { token: answer.body.data.accessToken as string };
    };
    const viewer = await login(viewerEmail);
    const admin = await login(adminEmail);
    const manager = { apiKey: (await createApiKey(t, institution, ['webhooks:manage'])).apiKey };
    const reader = { apiKey: (await createApiKey(t, institution, ['customers:read'])).apiKey };
    const writer = { apiKey: (await createApiKey(t, institution, ['customers:write'])).apiKey };
    const defaultKey = await post(t, '/v2/api-key/create', { name: 'default' }, institution.owner);
    assert.deepEqual(defaultKey.body.data.scopes, ['customers:read', 'customers:write']);

    const create = (who: { token: string } | { apiKey: string }) =>
      post(t, '/v2/webhook/create', { url: 'https://hooks.partner.example/x' }, who);
    assert.equal((await create(institution.owner)).status, 201);
    assert.equal((await create(admin)).status, 201);
    const byKey = await create(manager);
    assert.equal(byKey.status, 201);
    for (const who of [viewer, reader, writer, { apiKey: defaultKey.body.data.key as string }]) {
      assert.equal((await create(who)).status, 403);
    }
    const id: string = byKey.body.data.id;
    const routes: [string, Record<string, unknown>, 'manage' | 'read' | 'events'][] = [
      ['/v2/webhook/find', {}, 'read'],
      ['/v2/webhook/deliveries', { endpointId: id }, 'read'],
      ['/v2/event/find', {}, 'events'],
      ['/v2/webhook/update', { id, description: 'x' }, 'manage'],
      ['/v2/webhook/test', { id }, 'manage'],
      ['/v2/webhook/rotate-secret', { id }, 'manage'],
      [
        '/v2/webhook/redeliver',
        { endpointId: id, since: '2020-01-01T00:00:00Z', until: '2020-01-02T00:00:00Z' },
        'manage',
      ],
    ];
    for (const [route, body, kind] of routes) {
      const expect = (who: string, status: number, answer: { status: number; body: unknown }) => {
        assert.equal(answer.status, status, `${who} on ${route}: ${JSON.stringify(answer.body)}`);
      };
      expect('owner', 200, await post(t, route, body, institution.owner));
      expect('admin', 200, await post(t, route, body, admin));
      expect('manager key', 200, await post(t, route, body, manager));
      expect('viewer', kind === 'manage' ? 403 : 200, await post(t, route, body, viewer));
      expect('customers:read key', kind === 'events' ? 200 : 403, await post(t, route, body, reader));
      expect('customers:write key', 403, await post(t, route, body, writer));
      expect('operator', 403, await post(t, route, body, operator));
    }
    const deleted = await post(t, '/v2/webhook/delete', { id }, viewer);
    assert.equal(deleted.status, 403);
    assert.equal((await post(t, '/v2/webhook/delete', { id }, manager)).status, 200);
    assert.equal((await post(t, '/v2/webhook/delete', { id }, manager)).status, 404);
  });

  it('when another institution names an endpoint or event, then it is 404 NOT_FOUND and nothing changes', async () => {
    const a = await createInstitution(t, operator);
    const b = await createInstitution(t, operator);
    const created = await post(t, '/v2/webhook/create', { url: 'https://hooks.partner.example/a' }, a.owner);
    const id: string = created.body.data.id;
    await createCustomer(t, a.owner);
    const events = await post(t, '/v2/event/find', {}, a.owner);
    const eventId: string = events.body.data[0].id;
    for (const [route, body] of [
      ['/v2/webhook/update', { id, enabled: false }],
      ['/v2/webhook/delete', { id }],
      ['/v2/webhook/rotate-secret', { id }],
      ['/v2/webhook/test', { id }],
      ['/v2/webhook/deliveries', { endpointId: id }],
      ['/v2/webhook/redeliver', { endpointId: id, eventId }],
    ] as const) {
      const answer = await post(t, route, body, b.owner);
      assert.equal(answer.status, 404, route);
      assert.equal(answer.body.code, 'NOT_FOUND');
    }
    const own = await post(t, '/v2/webhook/create', { url: 'https://hooks.partner.example/b' }, b.owner);
    const foreignEvent = await post(
      t,
      '/v2/webhook/redeliver',
      { endpointId: own.body.data.id, eventId },
      b.owner,
    );
    assert.equal(foreignEvent.status, 404);
    assert.deepEqual((await post(t, '/v2/event/find', {}, b.owner)).body.data, []);
    assert.deepEqual(
      (await post(t, '/v2/webhook/find', {}, a.owner)).body.data,
      [{ ...created.body.data, secret: undefined }].map(({ secret: _secret, ...endpoint }) => endpoint),
    );
  });

  it('when the event find filters by type, customer and time, then bounds are inclusive and pages have meta', async () => {
    const institution = await createInstitution(t, operator);
    const first = await createCustomer(t, institution.owner);
    const second = await createCustomer(t, institution.owner);
    await post(t, '/v2/customer/update', { id: second.id, walletStatus: 'Blocked' }, institution.owner);
    const all = await post(t, '/v2/event/find', {}, institution.owner);
    assert.equal(all.body.meta.total, 3);
    const byType = await post(t, '/v2/event/find', { type: 'wallet.status_changed' }, institution.owner);
    assert.deepEqual(
      byType.body.data.map((event: any) => event.data.customerId),
      [second.id],
    );
    const byCustomer = await post(t, '/v2/event/find', { customerId: first.id }, institution.owner);
    assert.equal(byCustomer.body.meta.total, 1);
    const exact = await post(
      t,
      '/v2/event/find',
      { createdFrom: first.createdAt, createdTo: first.createdAt },
      institution.owner,
    );
    assert.ok(exact.body.data.some((event: any) => event.data.customerId === first.id));
    const paged = await post(t, '/v2/event/find', { take: 1, skip: 1 }, institution.owner);
    assert.deepEqual(paged.body.meta, { total: 3, take: 1, skip: 1 });
    assert.equal(paged.body.data.length, 1);
  });
});

describe(`webhook deliveries to inside addresses (${engine})`, () => {
  it('when private networks are not allowed, then a name resolving to an inside address fails its delivery as blocked_destination without connecting', async () => {
    const t = await startTestApp();
    const receiver = await startReceiver();
    const port = new URL(receiver.url).port;
    // Names a partner could register: resolved (by the test's resolver) to inside addresses, and
    // localhost through the system's resolver, to this very receiver.
    const resolved: Record<string, string> = {
      'metadata.partner.example': '169.254.169.254',
      'intranet.partner.example': '10.0.0.5',
      'mapped.partner.example': '::ffff:127.0.0.1',
      'loop.partner.example': '127.0.0.1',
    };
    const dispatcher = await startTestDispatcher(t, {
      allowPrivateNetworks: false,
      retrySchedule: [0],
      resolver: (hostname) => {
        const address = resolved[hostname];
        if (address === undefined) {
          return Promise.reject(Object.assign(new Error('not found'), { code: 'ENOTFOUND' }));
        }
        return Promise.resolve([{ address, family: address.includes(':') ? 6 : 4 }]);
      },
    });
    try {
      const operator = await loginOperator(t);
      const institution = await createInstitution(t, operator);
      const ids: string[] = [];
      for (const host of Object.keys(resolved)) {
        const created = await post(
          t,
          '/v2/webhook/create',
          { url: `https://${host}:${port}/hook` },
          institution.owner,
        );
        assert.equal(created.status, 201, JSON.stringify(created.body));
        ids.push(created.body.data.id);
      }
      // Stored before private networks were refused (an operator switched the setting off).
      await t.db.query(
        `INSERT INTO webhook_endpoints (institution_id, id, url, event_types, secret)
         SELECT institution_id, gen_random_uuid(), $2, event_types, secret FROM webhook_endpoints WHERE id = $1`,
        [ids[0], receiver.url],
      );
      await createCustomer(t, institution.owner);
      const deadline = Date.now() + 10_000;
      let rows: { error: string | null; status: string }[] = [];
      while (Date.now() < deadline) {
        rows = await t.db.query(
          `SELECT d.status, d.last_error AS error FROM webhook_deliveries d
             JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE e.institution_id = $1`,
          [institution.id],
        );
        if (rows.length === 5 && rows.every((row) => row.status === 'failed')) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.deepEqual(
        rows.map((row) => [row.status, row.error]),
        Array.from({ length: 5 }, () => ['failed', 'blocked_destination']),
      );
      assert.equal(receiver.received.length, 0, 'a blocked destination was connected to');
    } finally {
      await dispatcher.stop(1000);
      await receiver.close();
      await t.close();
    }
  });
});
