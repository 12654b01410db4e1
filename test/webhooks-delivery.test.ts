// Webhooks end to end, on the real app and the real dispatcher, with receivers on 127.0.0.1 that
// verify every request with the `standardwebhooks` package as a partner would.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { openPostgres } from '../src/db/database.js';
import { engine, openTestDatabase, startTestApp, type TestApp } from './support/app.js';
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

describe(`webhook delivery rules (${engine})`, () => {
  let t: TestApp;
  let operator: { token: string };
  let dispatcher: Awaited<ReturnType<typeof startTestDispatcher>>;
  const receivers: Receiver[] = [];

  before(async () => {
    t = await startTestApp({ webhooks: { allowPrivateNetworks: true } });
    operator = await loginOperator(t);
    dispatcher = await startTestDispatcher(t, { retrySchedule: [0, 300, 300, 300, 300, 300] });
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

  const endpointOf = async (institution: Institution, id: string) => {
    const found = await post(t, '/v2/webhook/find', {}, institution.owner);
    return found.body.data.find((endpoint: { id: string }) => endpoint.id === id);
  };

  const deliveriesOf = async (institution: Institution, endpointId: string, body = {}) => {
    const answer = await post(t, '/v2/webhook/deliveries', { endpointId, ...body }, institution.owner);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body.data as any[];
  };

  async function eventually<T>(read: () => Promise<T>, holds: (value: T) => boolean, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await read();
      if (holds(value)) return value;
      if (Date.now() > deadline) assert.fail(`never held: ${JSON.stringify(value)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it('when a change rolls back or changes nothing, then no event is written; fields and status together emit both with one version', async () => {
    const institution = await createInstitution(t, operator);
    const { receiver } = await subscribe(institution);
    const customer = await createCustomer(t, institution.owner);
    // Refused: the email is another customer's (the update rolls back).
    const other = await createCustomer(t, institution.owner);
    const taken = await post(
      t,
      '/v2/customer/update',
      { id: customer.id, email: other.email, walletStatus: 'Blocked' },
      institution.owner,
    );
    assert.equal(taken.status, 409, JSON.stringify(taken.body));
    const duplicate = await post(t, '/v2/customer/create', { ...other, id: undefined }, institution.owner);
    assert.notEqual(duplicate.status, 201);
    // Nothing changes.
    const same = await post(
      t,
      '/v2/customer/update',
      { id: customer.id, firstName: customer.firstName },
      institution.owner,
    );
    assert.equal(same.status, 200);
    // Locked by the operator, then refused to the institution.
    await post(t, '/v2/admin/wallet/status', { walletId: other.walletId, status: 'Blocked' }, operator);
    const refused = await post(
      t,
      '/v2/customer/update',
      { id: other.id, walletStatus: 'Active' },
      institution.owner,
    );
    assert.equal(refused.status, 403);
    // Fields and status in one update.
    const both = await post(
      t,
      '/v2/customer/update',
      { id: customer.id, lastName: 'Jones', walletStatus: 'Blocked' },
      institution.owner,
    );
    assert.equal(both.status, 200);

    const events = await post(t, '/v2/event/find', { take: 100 }, institution.owner);
    assert.deepEqual(
      events.body.data.map((event: any) => [event.type, event.data.customerId, event.data.version]).reverse(),
      [
        ['customer.created', customer.id, 1],
        ['customer.created', other.id, 1],
        ['wallet.status_changed', other.id, 2],
        ['customer.updated', customer.id, 2],
        ['wallet.status_changed', customer.id, 2],
      ],
    );
    const arrived = await receiver.waitFor((received) => received.length >= 5);
    const forCustomer = arrived.filter((received) => received.event.data.customerId === customer.id);
    assert.deepEqual(
      forCustomer.map((received) => received.event.type),
      ['customer.created', 'customer.updated', 'wallet.status_changed'],
    );
  });

  it('when a receiver answers 410, then the endpoint is disabled as gone and later events are recorded failed without an attempt', async () => {
    const institution = await createInstitution(t, operator);
    const { receiver, endpoint } = await subscribe(institution, () => ({ status: 410 }));
    await createCustomer(t, institution.owner);
    await receiver.waitFor((received) => received.length >= 1);
    const disabled = await eventually(
      () => endpointOf(institution, endpoint.id),
      (found) => found.enabled === false,
    );
    assert.equal(disabled.disabledReason, 'gone');
    await createCustomer(t, institution.owner);
    await new Promise((resolve) => setTimeout(resolve, 700));
    assert.equal(receiver.received.length, 1);
    const deliveries = await deliveriesOf(institution, endpoint.id);
    assert.deepEqual(
      deliveries.map((delivery) => [
        delivery.status,
        delivery.attempts,
        delivery.lastAttempt?.responseStatus ?? null,
      ]),
      [
        ['failed', 0, null],
        ['failed', 1, 410],
      ],
    );
    // Re-enabled: disabledReason back to null, and a redelivery by time range sends both.
    const enabled = await post(
      t,
      '/v2/webhook/update',
      { id: endpoint.id, enabled: true },
      institution.owner,
    );
    assert.equal(enabled.status, 200);
    assert.equal(enabled.body.data.disabledReason, null);
    assert.equal(enabled.body.data.enabled, true);
  });

  it('when a receiver answers 429 with retry-after, then the next attempt waits at least that long', async () => {
    const institution = await createInstitution(t, operator);
    const { receiver } = await subscribe(institution, (_request, index) =>
      index === 0 ? { status: 429, headers: { 'retry-after': '2' } } : { status: 200 },
    );
    await createCustomer(t, institution.owner);
    const [first, second] = await receiver.waitFor((received) => received.length >= 2);
    assert.ok(first !== undefined && second !== undefined);
    // The schedule alone would retry after 300 ms.
    assert.ok(second.at - first.at >= 1900, `retried after ${second.at - first.at} ms`);
    assert.equal(first.headers['webhook-id'], second.headers['webhook-id']);
  });

  it("when customer A's receiver is slow and failing, then A's later events wait in version order while B's flow", async () => {
    const institution = await createInstitution(t, operator);
    const a = await createCustomer(t, institution.owner);
    let failuresLeft = 3;
    const { receiver } = await subscribe(institution, (request) => {
      if (request.event.data.customerId === a.id && request.event.data.version === 2 && failuresLeft > 0) {
        failuresLeft--;
        return { status: 503, delayMs: 300 };
      }
      return { status: 200 };
    });
    // A: versions 2, 3, 4 (the first of them fails three times); B created meanwhile.
    for (const firstName of ['Two', 'Three', 'Four']) {
      const updated = await post(t, '/v2/customer/update', { id: a.id, firstName }, institution.owner);
      assert.equal(updated.status, 200);
    }
    const b = await createCustomer(t, institution.owner);
    await post(t, '/v2/customer/update', { id: b.id, firstName: 'Bee' }, institution.owner);
    const all = await receiver.waitFor(
      (received) =>
        received.filter((r) => r.event.data.customerId === a.id && r.headers['webhook-id'] !== undefined)
          .length >= 6,
    );
    const ofA = all.filter((received) => received.event.data.customerId === a.id);
    assert.deepEqual(
      ofA.map((received) => received.event.data.version),
      [2, 2, 2, 2, 3, 4],
    );
    const lastOfB = all.findLastIndex((received) => received.event.data.customerId === b.id);
    const firstA3 = all.findIndex(
      (received) => received.event.data.customerId === a.id && received.event.data.version === 3,
    );
    assert.ok(lastOfB < firstA3, "B's events did not wait for A's retries");
  });

  it('when the secret is rotated, then both signatures are sent and each secret verifies during the overlap', async () => {
    const institution = await createInstitution(t, operator);
    const { receiver, endpoint, secret: oldSecret } = await subscribe(institution);
    const rotated = await post(t, '/v2/webhook/rotate-secret', { id: endpoint.id }, institution.owner);
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    const newSecret: string = rotated.body.data.secret;
    assert.notEqual(newSecret, oldSecret);
    await createCustomer(t, institution.owner);
    const [received] = await receiver.waitFor((all) => all.length >= 1);
    assert.ok(received !== undefined);
    assert.equal(String(received.headers['webhook-signature']).split(' ').length, 2);
    verify(oldSecret, received);
    verify(newSecret, received);
    // When the overlap is over, only the new secret signs.
    await t.db.query(
      `UPDATE webhook_endpoints SET previous_secret_expires_at = now() - interval '1 second' WHERE id = $1`,
      [endpoint.id],
    );
    await createCustomer(t, institution.owner);
    const [, later] = await receiver.waitFor((all) => all.length >= 2);
    assert.ok(later !== undefined);
    assert.equal(String(later.headers['webhook-signature']).split(' ').length, 1);
    verify(newSecret, later);
    assert.throws(() => verify(oldSecret, later));
  });

  it('when an event is redelivered, by event or by time range, then it arrives again with the same webhook-id', async () => {
    const institution = await createInstitution(t, operator);
    let failing = true;
    const { receiver, endpoint } = await subscribe(institution, () => ({ status: failing ? 500 : 200 }));
    const customer = await createCustomer(t, institution.owner);
    // Five failed attempts, then failed for good.
    const failedOne = await eventually(
      () => deliveriesOf(institution, endpoint.id),
      (deliveries) => deliveries[0]?.status === 'failed',
      15_000,
    );
    assert.equal(failedOne[0].attempts, 6);
    failing = false;
    const byEvent = await post(
      t,
      '/v2/webhook/redeliver',
      { endpointId: endpoint.id, eventId: failedOne[0].eventId },
      institution.owner,
    );
    assert.equal(byEvent.status, 200, JSON.stringify(byEvent.body));
    assert.deepEqual(byEvent.body.data, { queued: 1 });
    await eventually(
      () => deliveriesOf(institution, endpoint.id),
      (deliveries) => deliveries[0]?.status === 'succeeded',
    );
    assert.equal(new Set(receiver.received.map((received) => received.headers['webhook-id'])).size, 1);

    // By time range: only failed deliveries in the range are queued.
    failing = true;
    await post(t, '/v2/customer/update', { id: customer.id, firstName: 'Later' }, institution.owner);
    await eventually(
      () => deliveriesOf(institution, endpoint.id, { status: 'failed' }),
      (deliveries) => deliveries.length === 1,
      15_000,
    );
    failing = false;
    const before = receiver.received.length;
    const range = await post(
      t,
      '/v2/webhook/redeliver',
      {
        endpointId: endpoint.id,
        since: customer.createdAt,
        until: new Date(Date.now() + 1000).toISOString(),
      },
      institution.owner,
    );
    assert.deepEqual(range.body.data, { queued: 1 });
    await eventually(
      () => deliveriesOf(institution, endpoint.id, { status: 'succeeded' }),
      (deliveries) => deliveries.length === 2,
    );
    assert.equal(receiver.received.length, before + 1);
    const neither = await post(t, '/v2/webhook/redeliver', { endpointId: endpoint.id }, institution.owner);
    assert.equal(neither.status, 400);
  });

  it('when the test route is called, then a ping arrives at that endpoint alone', async () => {
    const institution = await createInstitution(t, operator);
    const { receiver, endpoint, secret } = await subscribe(institution);
    const { receiver: other } = await subscribe(institution);
    const ping = await post(t, '/v2/webhook/test', { id: endpoint.id }, institution.owner);
    assert.equal(ping.status, 200, JSON.stringify(ping.body));
    assert.equal(ping.body.data.type, 'ping');
    assert.deepEqual(ping.body.data.data, { endpointId: endpoint.id });
    const [received] = await receiver.waitFor((all) => all.length >= 1);
    assert.ok(received !== undefined);
    assert.deepEqual(verify(secret, received), ping.body.data);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(other.received.length, 0);
  });

  it('when an endpoint subscribes to some types only, then only those arrive; a deleted endpoint gets nothing more', async () => {
    const institution = await createInstitution(t, operator);
    const { receiver, endpoint } = await subscribe(institution, undefined, {
      eventTypes: ['wallet.status_changed'],
    });
    const customer = await createCustomer(t, institution.owner);
    await post(t, '/v2/customer/update', { id: customer.id, walletStatus: 'Blocked' }, institution.owner);
    const [received] = await receiver.waitFor((all) => all.length >= 1);
    assert.equal(received?.event.type, 'wallet.status_changed');
    const deleted = await post(t, '/v2/webhook/delete', { id: endpoint.id }, institution.owner);
    assert.equal(deleted.status, 200);
    await post(t, '/v2/customer/update', { id: customer.id, walletStatus: 'Active' }, institution.owner);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(receiver.received.length, 1);
    const gone = await post(t, '/v2/webhook/deliveries', { endpointId: endpoint.id }, institution.owner);
    assert.equal(gone.status, 404);
  });
});

describe(`webhook auto-disable, WEBHOOK_DISABLE_AFTER (${engine})`, () => {
  let t: TestApp;
  let operator: { token: string };
  let dispatcher: Awaited<ReturnType<typeof startTestDispatcher>>;
  const receivers: Receiver[] = [];
  const disableAfterMs = 1500;

  before(async () => {
    t = await startTestApp({ webhooks: { allowPrivateNetworks: true } });
    operator = await loginOperator(t);
    // Retries every 300 ms for longer than the endpoint may fail.
    dispatcher = await startTestDispatcher(t, {
      retrySchedule: [0, ...Array<number>(30).fill(300)],
      disableAfterMs,
    });
  });

  after(async () => {
    await dispatcher.stop(1000);
    await Promise.all(receivers.map((receiver) => receiver.close()));
    await t.close();
  });

  async function subscribe(institution: Institution, answer: Parameters<typeof startReceiver>[0]) {
    const receiver = await startReceiver(answer);
    receivers.push(receiver);
    const created = await post(t, '/v2/webhook/create', { url: receiver.url }, institution.owner);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return { receiver, endpointId: created.body.data.id as string };
  }

  const endpointOf = async (institution: Institution, id: string) => {
    const found = await post(t, '/v2/webhook/find', {}, institution.owner);
    return found.body.data.find((endpoint: { id: string }) => endpoint.id === id);
  };

  it('when an endpoint fails for longer than WEBHOOK_DISABLE_AFTER, then it is disabled as failing and attempts stop', async () => {
    const institution = await createInstitution(t, operator);
    const { receiver, endpointId } = await subscribe(institution, () => ({ status: 500 }));
    await createCustomer(t, institution.owner);
    const deadline = Date.now() + 10_000;
    let endpoint = await endpointOf(institution, endpointId);
    while (endpoint.enabled === true) {
      assert.ok(Date.now() < deadline, 'the failing endpoint is disabled');
      await new Promise((resolve) => setTimeout(resolve, 100));
      endpoint = await endpointOf(institution, endpointId);
    }
    assert.equal(endpoint.disabledReason, 'failing');
    const attempts = receiver.received.length;
    const first = receiver.received[0];
    const last = receiver.received.at(-1);
    assert.ok(first !== undefined && last !== undefined);
    // Disabled at the first failure that came WEBHOOK_DISABLE_AFTER or more after the first one.
    assert.ok(last.at - first.at >= disableAfterMs - 100, `failed for ${last.at - first.at} ms`);
    assert.ok(attempts >= 3, `${attempts} attempts`);
    await new Promise((resolve) => setTimeout(resolve, 900));
    assert.equal(receiver.received.length, attempts, 'no attempt after the endpoint was disabled');
    const deliveries = await post(t, '/v2/webhook/deliveries', { endpointId }, institution.owner);
    assert.deepEqual(
      deliveries.body.data.map((delivery: { status: string }) => delivery.status),
      ['failed'],
    );
  });

  it('when a failing endpoint succeeds in between, then the clock starts again and it stays enabled', async () => {
    const institution = await createInstitution(t, operator);
    // Fails twice, succeeds, then fails the first attempt of every later event.
    const { receiver, endpointId } = await subscribe(institution, (_request, index) => ({
      status: index === 2 || index >= 4 ? 200 : 500,
    }));
    await createCustomer(t, institution.owner);
    await receiver.waitFor((received) => received.length >= 3);
    // Past WEBHOOK_DISABLE_AFTER since the first failure: a failure now would disable the endpoint
    // had the success in between not reset the clock.
    await new Promise((resolve) => setTimeout(resolve, disableAfterMs));
    await createCustomer(t, institution.owner);
    await receiver.waitFor((received) => received.length >= 5);
    const endpoint = await endpointOf(institution, endpointId);
    assert.equal(endpoint.enabled, true);
    assert.equal(endpoint.disabledReason, null);
  });
});

// The dispatchers here never poll: what they deliver, they were woken for. A change's commit wakes
// this instance's dispatcher directly (Database.signal()) and, on PostgreSQL, the other instances'
// through the NOTIFY sent after it; a broken wake-up would leave these events undelivered.
describe(`webhook wake-ups after the commit (${engine})`, () => {
  const NEVER = 3_600_000;
  let t: TestApp;
  let connection: { connectionString: string; schema: string } | undefined;
  let operator: { token: string };
  const receivers: Receiver[] = [];

  before(async () => {
    const database = await openTestDatabase();
    connection = database.connection;
    t = await startTestApp({ database, webhooks: { allowPrivateNetworks: true } });
    operator = await loginOperator(t);
  });

  after(async () => {
    await Promise.all(receivers.map((receiver) => receiver.close()));
    await t.close();
  });

  async function subscribedInstitution() {
    const institution = await createInstitution(t, operator);
    const receiver = await startReceiver();
    receivers.push(receiver);
    const created = await post(t, '/v2/webhook/create', { url: receiver.url }, institution.owner);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return { institution, receiver };
  }

  it('when a customer is created and updated, then the dispatcher of the same instance is woken for each, without polling', async () => {
    const dispatcher = await startTestDispatcher(t, { pollIntervalMs: NEVER });
    try {
      const { institution, receiver } = await subscribedInstitution();
      const customer = await createCustomer(t, institution.owner);
      await receiver.waitFor((received) => received.length >= 1);
      const updated = await post(
        t,
        '/v2/customer/update',
        { id: customer.id, comment: 'woken' },
        institution.owner,
      );
      assert.equal(updated.status, 200, JSON.stringify(updated.body));
      const all = await receiver.waitFor((received) => received.length >= 2);
      assert.deepEqual(
        all.map((received) => (JSON.parse(received.body) as { type: string }).type),
        ['customer.created', 'customer.updated'],
      );
    } finally {
      await dispatcher.stop(1000);
    }
  });

  it('when another instance commits the change, then its NOTIFY wakes this dispatcher, without polling (PostgreSQL)', async (context) => {
    if (connection === undefined) {
      context.skip('one process alone can open an embedded database');
      return;
    }
    // Another instance's database handle: its dispatcher hears nothing the app's handle tells
    // its own listeners, only PostgreSQL's notifications.
    const other = openPostgres({
      ...connection,
      poolSize: 2,
      connectTimeoutMs: 5000,
      statementTimeoutMs: 10_000,
    });
    const dispatcher = await startTestDispatcher({ ...t, db: other }, { pollIntervalMs: NEVER });
    try {
      const { institution, receiver } = await subscribedInstitution();
      await createCustomer(t, institution.owner);
      const [received] = await receiver.waitFor((all) => all.length >= 1);
      assert.equal((JSON.parse(received?.body ?? '{}') as { type: string }).type, 'customer.created');
    } finally {
      await dispatcher.stop(1000);
      await other.close();
    }
  });
});
