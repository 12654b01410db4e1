// @customercore/client against the real server over HTTP, on the test run's database: typed
// errors, sessions that refresh themselves, Idempotency-Keys on writes and retries that reuse
// them, pagination, If-Match from a customer read earlier, logout with the refresh token, and the
// webhook verifier.
import {
  CustomerCore,
  CustomerCoreError,
  signWebhook,
  verifyWebhook,
  type Session,
} from '@customercore/client';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Agent, buildConnector } from 'undici';
import { engine, startTestApp, type TestApp } from './support/app.js';
import { createApiKey, createInstitution, customerInput, type Institution } from './support/client.js';
import { startFaultProxy, type FaultProxy } from './support/fault-proxy.js';

describe(`@customercore/client against the real server (${engine})`, () => {
  let t: TestApp;
  let baseUrl: string;
  let institution: Institution;
  let apiKey: string;
  let proxy: FaultProxy;

  before(async () => {
    t = await startTestApp();
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    baseUrl = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    institution = await createInstitution(t);
    apiKey = (await createApiKey(t, institution)).apiKey;
    proxy = await startFaultProxy(baseUrl);
  });

  after(async () => {
    await proxy.close();
    await t.close();
  });

  const owner = () =>
    new CustomerCore({ baseUrl }).login({
      email: institution.ownerEmail,
      password: institution.ownerPassword,
      merchantId: institution.id,
    });

  it('when a customer is created with an API key, then the typed customer comes back and the write carried a generated Idempotency-Key', async () => {
    const cc = new CustomerCore({ baseUrl, apiKey });
    const input = customerInput({ phoneNumber: '+38 (099) 123-45-67' });

    const { body, meta } = await cc.callWithMeta('customerCreate', input as any);

    assert.equal(meta.status, 201);
    assert.equal(body.data.email, input.email);
    assert.equal(body.data.phoneNumber, '+380991234567');
    assert.equal(body.data.version, 1);
    assert.match(meta.idempotencyKey ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(meta.replayed, false);
    // The same key again is answered by the stored response: the key really reached the server.
    const again = await cc.callWithMeta('customerCreate', input as any, {
      idempotencyKey: meta.idempotencyKey!,
    });
    assert.equal(again.meta.replayed, true);
    assert.equal(again.body.data.id, body.data.id);
  });

  it('when an Owner manages a webhook endpoint through cc.webhooks, then each call answers as the contract says and a deleted one is a typed NOT_FOUND', async () => {
    const cc = new CustomerCore({ baseUrl, session: await owner() });
    const created = await cc.webhooks.create({ url: 'https://hooks.example.com/client', description: 'ops' });
    assert.match(created.secret, /^whsec_/);
    const updated = await cc.webhooks.update({ id: created.id, description: 'backend', enabled: true });
    assert.equal(updated.description, 'backend');
    assert.ok((await cc.webhooks.list()).some((endpoint) => endpoint.id === created.id));
    const ping = await cc.webhooks.test(created.id);
    assert.equal(ping.type, 'ping');
    const page = await cc.webhooks.deliveries({ endpointId: created.id, take: 5 });
    assert.deepEqual([page.meta.total, page.data.map((delivery) => delivery.eventId)], [1, [ping.id]]);
    // Redelivered to an endpoint that never had it: one delivery queued.
    const other = await cc.webhooks.create({ url: 'https://hooks.example.com/other' });
    assert.deepEqual(await cc.webhooks.redeliver({ endpointId: other.id, eventId: ping.id }), { queued: 1 });
    await cc.webhooks.delete(other.id);
    await cc.webhooks.delete(created.id);
    const gone = await cc.webhooks.test(created.id).catch((error: unknown) => error);
    assert.ok(gone instanceof CustomerCoreError);
    assert.equal(gone.code, 'NOT_FOUND');
  });

  it('when the email is taken, then a CustomerCoreError carries the code, the field, the status and the request id', async () => {
    const cc = new CustomerCore({ baseUrl, apiKey });
    const input = customerInput();
    await cc.customers.create(input as any);

    const error = await cc.customers.create(input as any).then(
      () => assert.fail('a second customer with the same email'),
      (caught: unknown) => caught,
    );

    assert.ok(error instanceof CustomerCoreError);
    assert.equal(error.statusCode, 409);
    assert.equal(error.code, 'CUSTOMER_EMAIL_TAKEN');
    assert.equal(error.field, 'email');
    assert.deepEqual(error.details[0]?.field, 'email');
    assert.equal(error.requestId, error.headers?.get('x-request-id'));
    assert.ok((error.requestId ?? '').length > 0);
  });

  it('when an update names the customer object read earlier, then If-Match makes a stale one fail with VERSION_CONFLICT', async () => {
    const cc = new CustomerCore({ baseUrl, apiKey });
    const created = await cc.customers.create(customerInput() as any);
    const read = await cc.customers.retrieve(created.id);

    const updated = await cc.customers.update({ id: read.id, comment: 'first' }, { ifMatch: read });
    assert.equal(updated.version, 2);

    const stale = await cc.customers.update({ id: read.id, comment: 'second' }, { ifMatch: read }).then(
      () => assert.fail('a stale If-Match applied'),
      (caught: unknown) => caught as CustomerCoreError,
    );
    assert.equal(stale.code, 'VERSION_CONFLICT');
    assert.equal((await cc.customers.retrieve(read.id)).comment, 'first');
  });

  it('when customers are listed with the async iterator while others are created, then every one is seen once, newest first', async () => {
    const own = await createInstitution(t);
    const key = (await createApiKey(t, own)).apiKey;
    const cc = new CustomerCore({ baseUrl, apiKey: key });
    const ids: string[] = [];
    for (let index = 0; index < 23; index++) ids.push((await cc.customers.create(customerInput() as any)).id);

    const seen: string[] = [];
    for await (const customer of cc.customers.list({}, { pageSize: 5 })) {
      seen.push(customer.id);
      // Created between pages: must neither shift the pages nor appear.
      if (seen.length % 5 === 0) await cc.customers.create(customerInput() as any);
    }

    assert.deepEqual(seen, [...ids].reverse());
  });

  it('when the access token is about to expire, then the client refreshes it first and hands over the new session', async () => {
    const sessions: (Session | undefined)[] = [];
    const logged = await owner();
    const cc = new CustomerCore({
      baseUrl,
      session: { ...logged, expiresAt: new Date(Date.now() + 5_000).toISOString() },
      refreshBeforeExpiryMs: 60_000,
      onSession: (session) => {
        sessions.push(session);
      },
    });

    await cc.customers.find({});

    assert.equal(sessions.length, 1);
    assert.notEqual(sessions[0]?.refreshToken, logged.refreshToken);
    assert.ok(Date.parse(sessions[0]!.expiresAt) > Date.now() + 600_000);
    // The old refresh token was used up by the refresh.
    const reuse = await new CustomerCore({ baseUrl })
      .call('authRefresh', { refreshToken: logged.refreshToken })
      .then(
        () => 'accepted',
        (error: unknown) => (error as CustomerCoreError).code,
      );
    assert.equal(reuse, 'UNAUTHORIZED');
  });

  it('when a request gets 401 with a session, then the client refreshes once and retries, and a dead session is a typed 401', async () => {
    const logged = await owner();
    const cc = new CustomerCore({ baseUrl, session: { ...logged, accessToken: 'not.a.valid-token' } });

    const page = await cc.customers.find({ take: 1 });
    assert.equal(page.meta.take, 1);
    assert.notEqual(cc.session?.refreshToken, logged.refreshToken);

    const dead = new CustomerCore({
      baseUrl,
      session: { ...logged, accessToken: 'not.a.valid-token', refreshToken: 'ccr_never-issued' },
    });
    const error = await dead.customers.find({}).then(
      () => assert.fail('served without a session'),
      (caught: unknown) => caught as CustomerCoreError,
    );
    assert.equal(error.statusCode, 401);
    assert.equal(error.code, 'UNAUTHORIZED');
  });

  it('when logout() is called after the access token expired, then the refresh token ends the session', async () => {
    const logged = await owner();
    const cc = new CustomerCore({ baseUrl, session: { ...logged, accessToken: 'expired.access.token' } });
    let stored: Session | undefined = logged;
    const watched = new CustomerCore({
      baseUrl,
      session: { ...logged, accessToken: 'expired.access.token' },
      onSession: (session) => {
        stored = session;
      },
    });

    await watched.logout();

    assert.equal(stored, undefined);
    assert.equal(cc.session?.refreshToken, logged.refreshToken);
    const withOldToken = new CustomerCore({ baseUrl, accessToken: logged.accessToken });
    const error = await withOldToken.customers.find({}).then(
      () => assert.fail('the session still works'),
      (caught: unknown) => caught as CustomerCoreError,
    );
    assert.equal(error.code, 'UNAUTHORIZED');
  });

  it('when the server answers 503, 429 and 409 IDEMPOTENCY_IN_PROGRESS, then the client retries with the same key and creates one customer', async () => {
    const cc = new CustomerCore({ baseUrl: proxy.baseUrl, apiKey, retryBaseDelayMs: 20 });
    proxy.inject(
      '/v2/customer/create',
      { status: 503, code: 'SERVICE_UNAVAILABLE' },
      { status: 429, code: 'RATE_LIMITED', headers: { 'retry-after': '1' } },
      { status: 409, code: 'IDEMPOTENCY_IN_PROGRESS', headers: { 'retry-after': '1' } },
    );
    const input = customerInput();
    const from = proxy.seen.length;

    const created = await cc.customers.create(input as any);

    const attempts = proxy.seen.slice(from);
    assert.deepEqual(
      attempts.map((attempt) => attempt.fault?.status ?? 201),
      [503, 429, 409, 201],
    );
    const keys = new Set(attempts.map((attempt) => attempt.headers['idempotency-key']));
    assert.equal(keys.size, 1, 'every attempt carried the same Idempotency-Key');
    assert.ok(attempts[2]!.at - attempts[1]!.at >= 1000, 'retry-after: 1 was honoured');
    const found = await cc.customers.find({ email: String(input.email) });
    assert.equal(found.meta.total, 1);
    assert.equal(found.data[0]?.id, created.id);
  });

  it('when a 429 says its RateLimit budget resets in 1 s, then the client waits for it; a contract error is not retried', async () => {
    const cc = new CustomerCore({ baseUrl: proxy.baseUrl, apiKey, retryBaseDelayMs: 10 });
    proxy.inject('/v2/customer/find', {
      status: 429,
      code: 'RATE_LIMITED',
      headers: { ratelimit: 'limit=600, remaining=0, reset=1' },
    });
    const from = proxy.seen.length;
    await cc.customers.find({});
    const waited = proxy.seen.slice(from);
    assert.equal(waited.length, 2);
    assert.ok(waited[1]!.at - waited[0]!.at >= 1000);

    const input = customerInput();
    await cc.customers.create(input as any);
    const before = proxy.seen.length;
    await assert.rejects(cc.customers.create(input as any), { code: 'CUSTOMER_EMAIL_TAKEN' });
    assert.equal(proxy.seen.length - before, 1, 'sent once');
  });

  it('when every attempt fails, then the last answer is the typed error after maxRetries retries', async () => {
    const cc = new CustomerCore({ baseUrl: proxy.baseUrl, apiKey, retryBaseDelayMs: 5, maxRetries: 2 });
    const unavailable = { status: 503, code: 'SERVICE_UNAVAILABLE' };
    proxy.inject('/v2/customer/details', unavailable, unavailable, unavailable);
    const from = proxy.seen.length;
    await assert.rejects(cc.customers.retrieve(randomUUID()), {
      code: 'SERVICE_UNAVAILABLE',
      statusCode: 503,
    });
    assert.equal(proxy.seen.length - from, 3);
  });

  it('when nothing listens, then the error is a typed CONNECTION_ERROR', async () => {
    const cc = new CustomerCore({
      baseUrl: 'http://127.0.0.1:9',
      apiKey,
      maxRetries: 1,
      retryBaseDelayMs: 5,
    });
    await assert.rejects(cc.customers.find({}), { code: 'CONNECTION_ERROR', statusCode: 0 });
  });

  it('when the server stops answering, then each attempt ends at timeoutMs and the error is CONNECTION_ERROR after the retries', async () => {
    const silent = createServer(() => {
      // Reads the request and never answers.
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    let requests = 0;
    silent.on('request', () => requests++);
    try {
      const cc = new CustomerCore({
        baseUrl: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
        apiKey,
        timeoutMs: 200,
        maxRetries: 1,
        retryBaseDelayMs: 5,
      });
      await assert.rejects(cc.customers.find({}), { code: 'CONNECTION_ERROR', statusCode: 0 });
      assert.equal(requests, 2, 'the first attempt and one retry');
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('when a dispatcher or a fetch is given, then requests go through it', async () => {
    let connections = 0;
    const dispatcher = new Agent({
      connect: (options, callback) => {
        connections++;
        buildConnector({})(options, callback);
      },
    });
    const fetched: string[] = [];
    const viaAgent = new CustomerCore({ baseUrl, apiKey, dispatcher });
    const viaFetch = new CustomerCore({
      baseUrl,
      apiKey,
      fetch: (input, init) => {
        fetched.push(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
        return fetch(input, init);
      },
    });
    try {
      const created = await viaAgent.customers.create(customerInput() as any);
      const read = await viaFetch.customers.retrieve(created.id);

      assert.equal(connections, 1);
      assert.deepEqual(read, created);
      assert.deepEqual(fetched, [`${baseUrl}/v2/customer/details`]);
    } finally {
      await dispatcher.close();
    }
  });

  it('when the openapi-fetch client is used directly, then it goes through the same auth and typing', async () => {
    const cc = new CustomerCore({ baseUrl, apiKey });
    const { data, error, response } = await cc.raw.POST('/v2/customer/find', { body: { take: 2 } });
    assert.equal(error, undefined);
    assert.equal(response.status, 200);
    assert.equal(data.meta.take, 2);
  });

  it('when a webhook is verified from its raw body, then the event comes back; tampered, stale or parsed bodies are refused', () => {
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    const previous = `whsec_${randomBytes(32).toString('base64')}`;
    const body = JSON.stringify({
      id: randomUUID(),
      type: 'customer.created',
      timestamp: new Date().toISOString(),
      data: { customerId: randomUUID(), walletId: randomUUID(), version: 1, externalId: null },
    });
    const id = randomUUID();
    const headers = signWebhook(secret, { id, timestamp: new Date(), body });

    const event = verifyWebhook(body, headers, secret);
    assert.equal(event.type, 'customer.created');
    assert.equal(verifyWebhook(Buffer.from(body), new Headers(headers), secret).id, event.id);

    // During a secret rotation both signatures are sent; either secret verifies.
    const old = signWebhook(previous, { id, timestamp: new Date(), body });
    const both = {
      ...headers,
      'webhook-signature': `${old['webhook-signature']} ${headers['webhook-signature']}`,
    };
    assert.equal(verifyWebhook(body, both, previous).id, event.id);
    assert.equal(verifyWebhook(body, both, secret).id, event.id);

    const refused = (run: () => unknown) => {
      assert.throws(
        run,
        (error: unknown) =>
          error instanceof CustomerCoreError && error.code === 'WEBHOOK_VERIFICATION_FAILED',
      );
    };
    refused(() => verifyWebhook(body.replace('customer.created', 'customer.updated'), headers, secret));
    refused(() => verifyWebhook(body, headers, previous));
    refused(() =>
      verifyWebhook(
        body,
        signWebhook(secret, { id, timestamp: new Date(Date.now() - 600_000), body }),
        secret,
      ),
    );
    refused(() => verifyWebhook(JSON.parse(body), headers, secret));
  });
});
