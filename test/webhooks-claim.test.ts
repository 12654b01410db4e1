// The dispatcher's two hot statements (migration 0060), called directly with no dispatcher
// running: a claim takes the due deliveries oldest first, holds them under its lease, respects the
// per-customer order, and a batch of successes is written only under the lease that claimed it.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  claimDeliveries,
  recordSuccesses,
  type AttemptOutcome,
} from '../src/modules/webhooks/webhook-dispatch.repository.js';
import { engine, startTestApp, type TestApp } from './support/app.js';
import { createCustomer, createInstitution, loginOperator, post } from './support/client.js';

describe(`webhook claims (${engine})`, () => {
  let t: TestApp;
  let operator: { token: string };

  before(async () => {
    t = await startTestApp({ webhooks: { allowPrivateNetworks: true } });
    operator = await loginOperator(t);
  });

  after(async () => {
    await t.close();
  });

  /** An institution with an endpoint and `count` customers, each with its pending delivery. */
  async function pendingDeliveries(count: number) {
    const institution = await createInstitution(t, operator);
    const created = await post(
      t,
      '/v2/webhook/create',
      { url: 'http://127.0.0.1:9/never-called' },
      institution.owner,
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const customers = [];
    for (let n = 0; n < count; n++) customers.push(await createCustomer(t, institution.owner));
    const rows = await t.db.query<{ id: string; customerId: string }>(
      `SELECT id, customer_id AS "customerId" FROM webhook_deliveries
        WHERE institution_id = $1 AND status = 'pending' ORDER BY event_seq`,
      [institution.id],
    );
    assert.equal(rows.length, count);
    return { institution, deliveries: rows };
  }

  const outcome = (): AttemptOutcome => ({
    attemptedAt: new Date(),
    responseStatus: 200,
    durationMs: 3,
    error: null,
    responsePrefix: null,
  });

  it('when deliveries fell due at different times, then claims take them oldest first, each once', async () => {
    const { institution, deliveries } = await pendingDeliveries(4);
    // Due 10, 40, 20 and 30 seconds ago, in the order written: the claim must not follow it.
    const ages = [10, 40, 20, 30];
    for (const [index, delivery] of deliveries.entries()) {
      await t.db.query(
        `UPDATE webhook_deliveries SET next_attempt_at = clock_timestamp() - $3 * interval '1 second'
          WHERE institution_id = $1 AND id = $2`,
        [institution.id, delivery.id, ages[index]],
      );
    }
    const claimed: string[] = [];
    for (let n = 0; n < 4; n++) {
      const batch = await claimDeliveries(t.db, 1, randomUUID(), 30_000);
      assert.equal(batch.length, 1);
      claimed.push(batch[0]!.id);
    }
    const oldestFirst = [1, 3, 2, 0].map((index) => deliveries[index]!.id);
    assert.deepEqual(claimed, oldestFirst);
    // All four are leased now: nothing is due until a lease runs out or an outcome is written.
    assert.deepEqual(await claimDeliveries(t.db, 10, randomUUID(), 30_000), []);
  });

  it('when a batch of successes is written, then only the deliveries leased to that lease succeed, each with its attempt', async () => {
    const { institution, deliveries } = await pendingDeliveries(3);
    const lease = randomUUID();
    const mine = await claimDeliveries(t.db, 2, lease, 30_000);
    assert.equal(mine.length, 2);
    const theirs = await claimDeliveries(t.db, 5, randomUUID(), 30_000);
    assert.equal(theirs.length, 1);

    // The other lease's delivery is in the batch too: it must be left as it is.
    await recordSuccesses(t.db, lease, [
      ...mine.map((delivery) => ({ delivery, outcome: outcome() })),
      { delivery: theirs[0]!, outcome: outcome() },
    ]);
    const rows = await t.db.query<{ id: string; status: string; attempts: number; logged: number }>(
      `SELECT d.id, d.status, d.attempts,
              (SELECT count(*)::int FROM webhook_attempts a
                WHERE a.institution_id = d.institution_id AND a.delivery_id = d.id) AS logged
         FROM webhook_deliveries d WHERE d.institution_id = $1`,
      [institution.id],
    );
    const byId = new Map(rows.map((row) => [row.id, row]));
    for (const delivery of mine) {
      assert.deepEqual(
        { ...byId.get(delivery.id) },
        { id: delivery.id, status: 'succeeded', attempts: 1, logged: 1 },
      );
    }
    assert.deepEqual(
      { ...byId.get(theirs[0]!.id) },
      { id: theirs[0]!.id, status: 'pending', attempts: 0, logged: 0 },
    );
    assert.equal(deliveries.length, 3);
  });

  it("when a customer's earlier delivery is still pending, then its later one is not claimed until the earlier succeeds", async () => {
    const { institution, deliveries } = await pendingDeliveries(1);
    const customerId = deliveries[0]!.customerId;
    const updated = await post(
      t,
      '/v2/customer/update',
      { id: customerId, comment: 'later' },
      institution.owner,
    );
    assert.equal(updated.status, 200, JSON.stringify(updated.body));

    const lease = randomUUID();
    const first = await claimDeliveries(t.db, 10, lease, 30_000);
    assert.deepEqual(
      first.map((delivery) => delivery.eventType),
      ['customer.created'],
    );
    assert.deepEqual(await claimDeliveries(t.db, 10, randomUUID(), 30_000), []);
    await recordSuccesses(t.db, lease, [{ delivery: first[0]!, outcome: outcome() }]);
    const second = await claimDeliveries(t.db, 10, randomUUID(), 30_000);
    assert.deepEqual(
      second.map((delivery) => delivery.eventType),
      ['customer.updated'],
    );
  });
});
