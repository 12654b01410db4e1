// Concurrent POST /v2/customer/create: uniqueness holds under races and a customer never exists
// without its wallet (nor a wallet without its customer). On PostgreSQL the requests run at once
// through the pool; on PGlite (one connection) they serialise. Both must give the same outcome.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engine, startTestApp, type TestApp } from './support/app.js';
import {
  createInstitution,
  customerInput,
  loginOperator,
  post,
  unique,
  type Institution,
  type Response,
} from './support/client.js';
import { openedCustomers } from './support/stored.js';

const CREATE = '/v2/customer/create';
const RACERS = 20;

/** `email` with its letters' case flipped by the bits of `variant`, so each racer sends another spelling. */
function caseVariant(email: string, variant: number): string {
  let bit = 0;
  return email.replace(/[a-z]/gi, (letter) => {
    const upper = ((variant >> bit++) & 1) === 1;
    return upper ? letter.toUpperCase() : letter.toLowerCase();
  });
}

describe(`concurrent customer creates (${engine})`, () => {
  let t: TestApp;
  let operator: { token: string };

  before(async () => {
    t = await startTestApp();
    operator = await loginOperator(t);
  });
  after(() => t.close());

  const race = (institution: Institution, bodies: Record<string, unknown>[]): Promise<Response[]> =>
    Promise.all(bodies.map((body) => post(t, CREATE, body, institution.owner)));

  async function storedCounts(institutionId: string): Promise<{ customers: number; wallets: number }> {
    const [row] = await t.db.query<{ customers: number; wallets: number }>(
      `SELECT (SELECT count(*)::int FROM customers WHERE institution_id = $1) AS customers,
              (SELECT count(*)::int FROM wallets WHERE institution_id = $1) AS wallets`,
      [institutionId],
    );
    return row!;
  }

  /** Every customer has exactly one wallet of its institution and every wallet a customer, in the whole tables. */
  async function assertEveryCustomerHasOneWallet(): Promise<void> {
    const [row] = await t.db.query<{ walletless: number; orphans: number; shared: number }>(
      `SELECT
         (SELECT count(*)::int FROM customers c
           WHERE NOT EXISTS (SELECT 1 FROM wallets w WHERE w.customer_id = c.id)) AS walletless,
         (SELECT count(*)::int FROM wallets w
           WHERE NOT EXISTS (SELECT 1 FROM customers c
                              WHERE c.id = w.customer_id AND c.institution_id = w.institution_id)) AS orphans,
         (SELECT count(*)::int FROM (SELECT customer_id FROM wallets GROUP BY customer_id
                                      HAVING count(*) > 1) AS many) AS shared`,
    );
    assert.deepEqual(row, { walletless: 0, orphans: 0, shared: 0 });
  }

  /** Exactly one racer won (201); every other got `status` with `code`, naming `field`. */
  function assertOneWinner(responses: Response[], code: string, field: string): any {
    const winners = responses.filter((response) => response.status === 201);
    const losers = responses.filter((response) => response.status !== 201);
    assert.equal(winners.length, 1, JSON.stringify(responses.map((response) => response.status)));
    for (const loser of losers) {
      assert.equal(loser.status, 409, JSON.stringify(loser.body));
      assert.equal(loser.body.code, code);
      assert.deepEqual(
        loser.body.details.map((detail: { field: string }) => detail.field),
        [field],
      );
    }
    return winners[0]!.body.data;
  }

  it('when 20 creates race with one email in different letter cases, then exactly one succeeds and the rest get 409 CUSTOMER_EMAIL_TAKEN', async () => {
    const institution = await createInstitution(t, operator);
    const email = `${unique('race')}@mail.com`;
    const bodies = Array.from({ length: RACERS }, (_, index) =>
      customerInput({ email: caseVariant(email, index) }),
    );
    assert.equal(new Set(bodies.map((body) => body.email)).size, RACERS, 'each racer spells it differently');

    const winner = assertOneWinner(await race(institution, bodies), 'CUSTOMER_EMAIL_TAKEN', 'email');

    const customers = (await openedCustomers(t, 'c.institution_id = $1', [institution.id]))
      .filter((row) => String(row.email).toLowerCase() === email.toLowerCase())
      .map((row) => ({ id: row.id, email: row.email }));
    assert.deepEqual(customers, [{ id: winner.id, email: winner.email }]);
    const wallets = await t.db.query<{ id: string }>('SELECT id FROM wallets WHERE customer_id = $1', [
      winner.id,
    ]);
    assert.deepEqual(wallets, [{ id: winner.walletId }]);
    assert.deepEqual(await storedCounts(institution.id), { customers: 1, wallets: 1 });
    await assertEveryCustomerHasOneWallet();
  });

  it('when 20 creates race with one externalId, then exactly one succeeds and the rest get 409 CUSTOMER_EXTERNAL_ID_TAKEN', async () => {
    const institution = await createInstitution(t, operator);
    const externalId = unique('ext');
    const bodies = Array.from({ length: RACERS }, () => customerInput({ externalId }));

    const winner = assertOneWinner(
      await race(institution, bodies),
      'CUSTOMER_EXTERNAL_ID_TAKEN',
      'externalId',
    );

    const customers = await t.db.query<{ id: string }>(
      'SELECT id FROM customers WHERE institution_id = $1 AND external_id = $2',
      [institution.id, externalId],
    );
    assert.deepEqual(customers, [{ id: winner.id }]);
    const wallets = await t.db.query<{ id: string }>('SELECT id FROM wallets WHERE customer_id = $1', [
      winner.id,
    ]);
    assert.deepEqual(wallets, [{ id: winner.walletId }]);
    assert.deepEqual(await storedCounts(institution.id), { customers: 1, wallets: 1 });
    await assertEveryCustomerHasOneWallet();
  });

  it('when 20 creates of different customers race, then all succeed, each with its own wallet', async () => {
    const institution = await createInstitution(t, operator);
    const bodies = Array.from({ length: RACERS }, () => customerInput({ externalId: unique('ext') }));

    const responses = await race(institution, bodies);
    for (const response of responses) assert.equal(response.status, 201, JSON.stringify(response.body));
    const created = responses.map((response) => response.body.data);
    assert.deepEqual(
      created.map((customer) => customer.email),
      bodies.map((body) => body.email),
    );
    assert.equal(new Set(created.flatMap((customer) => [customer.id, customer.walletId])).size, 2 * RACERS);

    const stored = await t.db.query<{ id: string; wallet_id: string }>(
      `SELECT c.id, w.id AS wallet_id FROM customers c JOIN wallets w ON w.customer_id = c.id
        WHERE c.institution_id = $1`,
      [institution.id],
    );
    const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);
    assert.deepEqual(
      stored.sort(byId),
      created.map((customer) => ({ id: customer.id, wallet_id: customer.walletId })).sort(byId),
    );
    assert.deepEqual(await storedCounts(institution.id), { customers: RACERS, wallets: RACERS });
    await assertEveryCustomerHasOneWallet();
  });

  it('when creates race with one email in several institutions, then each institution gets exactly one customer', async () => {
    const institutions = await Promise.all(Array.from({ length: 4 }, () => createInstitution(t, operator)));
    const email = `${unique('shared')}@mail.com`;
    const attempts = institutions.flatMap((institution) =>
      Array.from({ length: RACERS / institutions.length }, (_, index) => ({
        institution,
        body: customerInput({ email: caseVariant(email, index) }),
      })),
    );

    const responses = await Promise.all(
      attempts.map(({ institution, body }) => post(t, CREATE, body, institution.owner)),
    );

    for (const institution of institutions) {
      const own = responses.filter((_, index) => attempts[index]!.institution === institution);
      const winner = assertOneWinner(own, 'CUSTOMER_EMAIL_TAKEN', 'email');
      const customers = (await openedCustomers(t, 'c.institution_id = $1', [institution.id]))
        .filter((row) => String(row.email).toLowerCase() === email.toLowerCase())
        .map((row) => ({ id: row.id }));
      assert.deepEqual(customers, [{ id: winner.id }]);
      assert.deepEqual(await storedCounts(institution.id), { customers: 1, wallets: 1 });
    }
    await assertEveryCustomerHasOneWallet();
  });
});
