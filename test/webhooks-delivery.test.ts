// Webhooks end to end, on the real app and the real dispatcher, with receivers on 127.0.0.1 that
// verify every request with the `standardwebhooks` package as a partner would.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { engine, startTestApp, type TestApp } from './support/app.js';
import {
  createCustomer,
  createInstitution,
  loginOperator,
  post,
  type Institution,
} from './support/client.js';
import {
  startReceiver,
  startTestDispatcher,
  verify,
  type Receiver,
  type Received,
} from './support/webhooks.js';

describe(`webhook deliveries (${engine})`, () => {
  let t: TestApp;
  let operator: { token: string };
  let dispatcher: Awaited<ReturnType<typeof startTestDispatcher>>;
  const receivers: Receiver[] = [];

  before(async () => {
    t = await startTestApp({ webhooks: { allowPrivateNetworks: true } });
    operator = await loginOperator(t);
    dispatcher = await startTestDispatcher(t);
  });

  after(async () => {
    await dispatcher.stop(1000);
    await Promise.all(receivers.map((receiver) => receiver.close()));
    await t.close();
  });

  async function subscribe(
    institution: Institution,
    answer?: Parameters<typeof startReceiver>[0],
    body: Record<string, unknown> = {},
  ) {
    const receiver = await startReceiver(answer);
    receivers.push(receiver);
    const created = await post(t, '/v2/webhook/create', { url: receiver.url, ...body }, institution.owner);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return { receiver, endpoint: created.body.data, secret: created.body.data.secret as string };
  }

  it('when customers are created, updated and their wallets change status, then each event type arrives signed and verifies with standardwebhooks', async () => {
    const institution = await createInstitution(t, operator);
    const { receiver, secret, endpoint } = await subscribe(institution);
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.deepEqual(endpoint.eventTypes, [
      'customer.created',
      'customer.updated',
      'wallet.status_changed',
      'customer.erased',
    ]);

    const customer = await createCustomer(t, institution.owner, { externalId: 'ext-1' });
    const updated = await post(
      t,
      '/v2/customer/update',
      {
        id: customer.id,
        firstName: 'Alexandra',
        comment: 'vip',
        walletStatus: 'Suspicious',
        walletStatusReason: 'check',
      },
      institution.owner,
    );
    assert.equal(updated.status, 200, JSON.stringify(updated.body));
    const locked = await post(
      t,
      '/v2/admin/wallet/status',
      { walletId: customer.walletId, status: 'Blocked', reason: 'AML review' },
      operator,
    );
    assert.equal(locked.status, 200, JSON.stringify(locked.body));

    const all = await receiver.waitFor((received) => received.length >= 4);
    assert.equal(all.length, 4);
    for (const received of all) {
      assert.equal(received.headers['content-type'], 'application/json');
      assert.equal(received.headers['webhook-id'], received.event.id);
      assert.deepEqual(verify(secret, received), JSON.parse(received.body));
    }
    const [created, fields, status, operatorStatus] = all.map((received) => received.event) as [
      Received['event'],
      Received['event'],
      Received['event'],
      Received['event'],
    ];
    assert.equal(created.type, 'customer.created');
    assert.deepEqual(created.data, {
      customerId: customer.id,
      walletId: customer.walletId,
      version: 1,
      externalId: 'ext-1',
    });
    assert.equal(created.timestamp, customer.createdAt);
    assert.equal(fields.type, 'customer.updated');
    assert.deepEqual(fields.data, {
      customerId: customer.id,
      walletId: customer.walletId,
      version: 2,
      changedFields: ['firstName', 'comment'],
    });
    assert.equal(status.type, 'wallet.status_changed');
    assert.deepEqual(status.data, {
      customerId: customer.id,
      walletId: customer.walletId,
      version: 2,
      previousStatus: 'Active',
      status: 'Suspicious',
      setBy: 'institution',
      locked: false,
      reason: 'check',
    });
    assert.deepEqual(operatorStatus.data, {
      customerId: customer.id,
      walletId: customer.walletId,
      version: 3,
      previousStatus: 'Suspicious',
      status: 'Blocked',
      setBy: 'operator',
      locked: true,
      reason: 'AML review',
    });
    // No personal value in any event.
    for (const received of all) {
      for (const value of [customer.email, customer.firstName, 'Alexandra', customer.residenceAddress]) {
        assert.ok(!received.body.includes(value), `event carries ${value}`);
      }
    }

    const events = await post(t, '/v2/event/find', { customerId: customer.id }, institution.owner);
    assert.equal(events.status, 200, JSON.stringify(events.body));
    assert.deepEqual(
      events.body.data.map((event: { id: string }) => event.id),
      all.map((received) => received.event.id).reverse(),
    );
    assert.deepEqual(events.body.data[0], JSON.parse(all[3]!.body));
  });

  it('when a body is tampered with or its timestamp is old, then verification fails', async () => {
    const institution = await createInstitution(t, operator);
    const { receiver, secret } = await subscribe(institution);
    await createCustomer(t, institution.owner);
    const [received] = await receiver.waitFor((all) => all.length >= 1);
    assert.ok(received !== undefined);
    assert.throws(() =>
      verify(secret, { ...received, body: received.body.replace('"version":1', '"version":2') }),
    );
    const old = Math.floor(Date.now() / 1000) - 10 * 60;
    const oldSignature = new Webhook(secret).sign(received.event.id, new Date(old * 1000), received.body);
    assert.throws(() =>
      verify(secret, {
        body: received.body,
        headers: { ...received.headers, 'webhook-timestamp': String(old), 'webhook-signature': oldSignature },
      }),
    );
    const otherSecret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    assert.throws(() => verify(otherSecret, received));
  });

  it('when a receiver answers 500 twice and then 200, then it gets the event three times with one webhook-id', async () => {
    const institution = await createInstitution(t, operator);
    const { receiver, endpoint, secret } = await subscribe(institution, (_request, index) => ({
      status: index < 2 ? 500 : 200,
      body: index < 2 ? 'x'.repeat(5000) : 'ok',
    }));
    await createCustomer(t, institution.owner);
    const all = await receiver.waitFor((received) => received.length >= 3);
    await new Promise((resolve) => setTimeout(resolve, 800));
    assert.equal(receiver.received.length, 3);
    assert.deepEqual(new Set(all.map((received) => received.headers['webhook-id'])).size, 1);
    for (const received of all) verify(secret, received);
    const deliveries = await waitForDelivery(institution, endpoint.id, (d) => d.status === 'succeeded');
    assert.equal(deliveries.attempts, 3);
    assert.equal(deliveries.lastAttempt.responseStatus, 200);
    assert.equal(deliveries.lastAttempt.error, null);
    const attempts = await t.db.query<{
      response_status: number;
      response_prefix: string | null;
      error: string | null;
    }>(
      `SELECT a.response_status, a.response_prefix, a.error FROM webhook_attempts a
         JOIN webhook_deliveries d ON d.id = a.delivery_id AND d.institution_id = a.institution_id
        WHERE d.endpoint_id = $1 ORDER BY a.attempted_at`,
      [endpoint.id],
    );
    assert.deepEqual(
      attempts.map((a) => [a.response_status, a.error, a.response_prefix?.length]),
      [
        [500, 'http_status', 256],
        [500, 'http_status', 256],
        [200, null, 2],
      ],
    );
  });

  async function waitForDelivery(
    institution: Institution,
    endpointId: string,
    predicate: (delivery: any) => boolean,
    timeoutMs = 10_000,
  ): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const answer = await post(t, '/v2/webhook/deliveries', { endpointId }, institution.owner);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const found = answer.body.data.find(predicate);
      if (found !== undefined) return found;
      if (Date.now() > deadline) assert.fail(`no such delivery: ${JSON.stringify(answer.body.data)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
});
