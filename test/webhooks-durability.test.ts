// The outbox under crashes and under several instances, with real service processes:
//   - SIGKILL with deliveries pending: every committed customer has exactly its event, nothing
//     rolled back has one, and after the restart every event arrives (at least once).
//   - Two instances on one PostgreSQL database sharing the dispatch: 500 customers created and
//     updated across both, every event delivered once, each customer's events in version order.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engine } from './support/app.js';
import {
  call,
  createServiceData,
  setUpPartner,
  startService,
  stopService,
  type Partner,
  type Service,
  type ServiceData,
} from './support/service.js';
import { startReceiver, type Receiver } from './support/webhooks.js';

/** Seconds-long retries, private receivers allowed, and no per-key budget in the way. */
const webhookEnv = {
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
  WEBHOOK_RETRY_SCHEDULE: '0s,1s,1s,1s,1s,1s,1s,1s,1s,1s',
  WEBHOOK_TIMEOUT_MS: '2000',
  RATE_LIMIT_API_KEY_PER_MINUTE: '1000000',
  RATE_LIMIT_API_KEY_PER_SECOND: '1000000',
};

interface Subscription {
  endpointId: string;
  /** The owner's access token, for the delivery log. */
  authorization: string;
}

async function subscribe(service: Service, partner: Partner, receiver: Receiver): Promise<Subscription> {
  const login = await call(
    service,
    '/v2/auth/login',
    { token: partner.owner.token, password: partner.owner.password },
    { merchant_id: partner.merchantId },
  );
  assert.equal(login.status, 200, JSON.stringify(login.body));
  const created = await call(
    service,
    '/v2/webhook/create',
    { url: receiver.url, description: 'durability' },
    { authorization: `Bearer ${login.body.data.accessToken}` },
  );
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return {
    endpointId: created.body.data.id as string,
    authorization: `Bearer ${login.body.data.accessToken}`,
  };
}

/** Resolves once the endpoint's delivery log shows nothing pending (leases of a killed process included). */
async function settled(service: Service, subscription: Subscription, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pending = await call(
      service,
      '/v2/webhook/deliveries',
      { endpointId: subscription.endpointId, status: 'pending', take: 1 },
      { authorization: subscription.authorization },
    );
    assert.equal(pending.status, 200, JSON.stringify(pending.body));
    if (pending.body.meta.total === 0) return;
    assert.ok(Date.now() < deadline, `${pending.body.meta.total} deliveries still pending`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function customerInput(tag: string, n: number): Record<string, unknown> {
  return {
    email: `${tag}-${n}@mail.test`,
    firstName: 'Outbox',
    lastName: `Customer-${n}`,
    country: 'FR',
    verificationDocumentId: 'FV633452',
    residenceAddress: '1 Rue de Rivoli, Paris',
    externalId: `${tag}-${n}`,
  };
}

describe(`webhook outbox durability (${engine})`, () => {
  let data: ServiceData;
  let receiver: Receiver;
  before(async () => {
    data = await createServiceData();
    // Slow enough that deliveries are still pending when the process is killed.
    receiver = await startReceiver(() => ({ status: 200, delayMs: 40 }));
  });
  after(async () => {
    await receiver.close();
    await data.remove();
  });

  it('when the process is SIGKILLed with deliveries pending and restarted, then every committed customer has exactly its event and every event arrives', async () => {
    const env = { ...data.env, ...webhookEnv, WEBHOOK_CONCURRENCY: '2' };
    let service = await startService(env);
    const partner = await setUpPartner(service, data.operator());
    const subscription = await subscribe(service, partner, receiver);

    const tag = `kill-${Date.now()}`;
    const acknowledged = new Set<string>();
    let killed = false;
    let n = 0;
    const client = async () => {
      while (!killed) {
        const input = customerInput(tag, ++n);
        let answer;
        try {
          answer = await call(service, '/v2/customer/create', input, partner.headers);
        } catch {
          return; // the kill left this one unanswered: committed or not, checked below
        }
        assert.equal(answer.status, 201, JSON.stringify(answer.body));
        acknowledged.add(answer.body.data.id as string);
        if (acknowledged.size >= 150) {
          killed = true;
          service.child.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, client));
    await service.exited;
    assert.equal(service.child.signalCode, 'SIGKILL');

    const state = await data.inspect(async (db) => {
      const customers = await db.query<{ id: string }>(`SELECT id FROM customers WHERE external_id LIKE $1`, [
        `${tag}-%`,
      ]);
      const events = await db.query<{ customer_id: string; count: string }>(
        `SELECT customer_id, count(*)::text AS count FROM events WHERE type = 'customer.created' GROUP BY customer_id`,
      );
      const pending = await db.query<{ count: string }>(
        `SELECT count(*)::text AS count FROM webhook_deliveries WHERE status = 'pending'`,
      );
      return {
        customers: customers.map((row) => row.id),
        events: new Map(events.map((row) => [row.customer_id, Number(row.count)])),
        pending: Number(pending[0]!.count),
      };
    });
    for (const id of acknowledged) assert.ok(state.customers.includes(id), `acknowledged ${id} is stored`);
    for (const id of state.customers)
      assert.equal(state.events.get(id), 1, `customer ${id} has one created event`);
    assert.equal(state.events.size, state.customers.length, 'no event for a customer that was not committed');
    assert.ok(
      state.pending > 0,
      'deliveries were still pending at the kill (the test proves nothing otherwise)',
    );

    service = await startService(env);
    try {
      const expected = new Set(state.customers);
      await receiver.waitFor(
        (received) =>
          [...expected].every((id) =>
            received.some(
              (entry) => entry.event.type === 'customer.created' && entry.event.data.customerId === id,
            ),
          ),
        60_000,
      );
      const unknown = receiver.received.filter(
        (entry) =>
          entry.event.type === 'customer.created' && !expected.has(entry.event.data.customerId as string),
      );
      assert.deepEqual(unknown, [], 'nothing arrives for a customer that was not committed');
      // What the killed process held comes back when its lease runs out, and is sent again.
      await settled(service, subscription, 60_000);
    } finally {
      await stopService(service);
    }
    // Once every delivery is done (the embedded database is read with the service stopped).
    const after = await data.inspect(async (db) =>
      db.query<{ status: string; count: string }>(
        `SELECT status, count(*)::text AS count FROM webhook_deliveries GROUP BY status`,
      ),
    );
    assert.deepEqual(
      after.map((row) => [row.status, Number(row.count)]),
      [['succeeded', state.customers.length]],
    );
  });
});

describe(
  `webhook dispatch shared by two instances (${engine})`,
  { skip: engine === 'pglite' && 'the embedded database serves one process' },
  () => {
    let data: ServiceData;
    let receiver: Receiver;
    before(async () => {
      data = await createServiceData();
      receiver = await startReceiver(() => ({ status: 200 }));
    });
    after(async () => {
      await receiver.close();
      await data.remove();
    });

    it("when 500 customers are created and updated through two instances, then every event is delivered once and each customer's arrive in version order", async () => {
      const env = { ...data.env, ...webhookEnv };
      const first = await startService(env);
      const second = await startService(env);
      try {
        const partner = await setUpPartner(first, data.operator());
        await subscribe(first, partner, receiver);
        const tag = `pair-${Date.now()}`;
        let next = 0;
        const worker = async (index: number) => {
          while (next < 500) {
            const n = ++next;
            const service = (n + index) % 2 === 0 ? first : second;
            const created = await call(
              service,
              '/v2/customer/create',
              customerInput(tag, n),
              partner.headers,
            );
            assert.equal(created.status, 201, JSON.stringify(created.body));
            const other = service === first ? second : first;
            const updated = await call(
              other,
              '/v2/customer/update',
              { id: created.body.data.id, comment: `updated ${n}` },
              partner.headers,
            );
            assert.equal(updated.status, 200, JSON.stringify(updated.body));
          }
        };
        await Promise.all(Array.from({ length: 16 }, (_, index) => worker(index)));

        await receiver.waitFor((received) => received.length >= 1000, 120_000);
        // A little longer, so that a duplicate delivery would have time to show.
        await new Promise((resolve) => setTimeout(resolve, 1500));
        const received = receiver.received.filter((entry) => entry.event.type !== 'ping');
        const ids = received.map((entry) => entry.headers['webhook-id']);
        assert.equal(new Set(ids).size, 1000, 'a thousand distinct events');
        assert.equal(received.length, 1000, 'each delivered once');
        const byCustomer = new Map<string, string[]>();
        for (const entry of received) {
          const id = entry.event.data.customerId as string;
          byCustomer.set(id, [...(byCustomer.get(id) ?? []), entry.event.type]);
        }
        assert.equal(byCustomer.size, 500);
        for (const [id, types] of byCustomer) {
          assert.deepEqual(
            types,
            ['customer.created', 'customer.updated'],
            `customer ${id} in version order`,
          );
        }
        const attempts = await data.inspect((db) =>
          db.query<{ count: string }>(`SELECT count(*)::text AS count FROM webhook_attempts`),
        );
        assert.equal(Number(attempts[0]!.count), 1000, 'one attempt per delivery: no claim was made twice');
      } finally {
        await Promise.all([stopService(first), stopService(second)]);
      }
    });
  },
);
