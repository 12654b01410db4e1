// Optimistic concurrency: a customer's version and ETag, If-Match and expectedVersion on update
// and on the operator's wallet route, and what a stale, malformed or racing precondition gets.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { engine, startTestApp, type TestApp } from './support/app.js';
import {
  createCustomer,
  createInstitution,
  loginOperator,
  post,
  type Credentials,
  type Response,
} from './support/client.js';

const UPDATE = '/v2/customer/update';
const DETAILS = '/v2/customer/details';
const WALLET = '/v2/admin/wallet/status';

const etag = (customer: { id: string; version: number }) => `"${customer.id}:${customer.version}"`;

function assertError(response: Response, status: number, code: string, field?: string): void {
  assert.equal(response.status, status, JSON.stringify(response.body));
  assert.equal(response.body.statusCode, status);
  assert.equal(response.body.error, STATUS_CODES[status]);
  assert.equal(response.body.code, code, JSON.stringify(response.body));
  assert.equal(response.body.requestId, response.headers['x-request-id']);
  if (field !== undefined) {
    const fields = (response.body.details ?? []).map((detail: { field: string }) => detail.field);
    assert.ok(fields.includes(field), `details name ${field}: ${JSON.stringify(response.body)}`);
  }
}

describe(`customer version and ETag (${engine})`, () => {
  let t: TestApp;
  let operator: { token: string };

  before(async () => {
    t = await startTestApp();
    operator = await loginOperator(t);
  });
  after(async () => {
    await t.close();
  });

  /** The customer's stored row, wallet and history count: what a refused request must leave. */
  async function stored(id: string) {
    const rows = await t.db.query(
      `SELECT c.*, w.status, w.status_set_by,
              (SELECT count(*)::int FROM customer_history h WHERE h.customer_id = c.id) AS history
         FROM customers c JOIN wallets w ON w.customer_id = c.id WHERE c.id = $1`,
      [id],
    );
    assert.ok(rows[0] !== undefined);
    return rows[0];
  }

  async function setup() {
    const institution = await createInstitution(t, operator);
    const owner = institution.owner as Credentials;
    const customer = await createCustomer(t, owner);
    return { institution, owner, customer };
  }

  it('when a customer is created, then it has version 1 and every route answering with it carries its ETag', async () => {
    const { institution, owner } = await setup();

    const created = await post(
      t,
      '/v2/customer/create',
      {
        email: `version-${randomUUID()}@mail.com`,
        firstName: 'Vera',
        lastName: 'Version',
        country: 'FR',
        verificationDocumentId: 'VV1',
        residenceAddress: '1 Rue de la Paix, Paris',
      },
      owner,
    );

    assert.equal(created.status, 201, JSON.stringify(created.body));
    const customer = created.body.data;
    assert.equal(customer.version, 1);
    assert.equal(created.headers.etag, `"${customer.id}:1"`);
    const details = await post(t, DETAILS, { id: customer.id }, owner);
    assert.equal(details.body.data.version, 1);
    assert.equal(details.headers.etag, `"${customer.id}:1"`);
    const found = await post(t, '/v2/customer/find', { email: customer.email }, owner);
    assert.equal(found.body.data[0].version, 1);
    assert.equal(found.headers.etag, undefined, 'a page of customers has no single ETag');
    const adminDetails = await post(t, '/v2/admin/customer/details', { id: customer.id }, operator);
    assert.equal(adminDetails.headers.etag, `"${customer.id}:1"`);
    assert.equal(adminDetails.body.data.institutionId, institution.id);
    assert.equal((await stored(customer.id)).version, 1);
  });

  it('when an update changes something, then the version grows by one each time; a no-op update moves nothing', async () => {
    const { owner, customer } = await setup();

    const first = await post(t, UPDATE, { id: customer.id, firstName: 'Alexander' }, owner);
    const second = await post(t, UPDATE, { id: customer.id, comment: 'second change' }, owner);
    const noop = await post(
      t,
      UPDATE,
      { id: customer.id, firstName: 'Alexander', comment: 'second change' },
      owner,
    );
    const onlyId = await post(t, UPDATE, { id: customer.id }, owner);

    assert.equal(first.body.data.version, 2);
    assert.equal(first.headers.etag, `"${customer.id}:2"`);
    assert.equal(second.body.data.version, 3);
    assert.equal(noop.status, 200);
    assert.deepEqual(noop.body.data, second.body.data);
    assert.equal(noop.headers.etag, `"${customer.id}:3"`);
    assert.deepEqual(onlyId.body.data, second.body.data);
    const row = await stored(customer.id);
    assert.equal(row.version, 3);
    assert.equal(row.history, 3, 'create and two changes');
  });

  it('when the wallet status changes through update or the operator, then the version grows; the same status again does not', async () => {
    const { owner, customer } = await setup();

    const blocked = await post(t, UPDATE, { id: customer.id, walletStatus: 'Blocked' }, owner);
    const again = await post(t, UPDATE, { id: customer.id, walletStatus: 'Blocked' }, owner);
    const byOperator = await post(t, WALLET, { walletId: customer.walletId, status: 'Suspicious' }, operator);
    const operatorAgain = await post(
      t,
      WALLET,
      { walletId: customer.walletId, status: 'Suspicious' },
      operator,
    );

    assert.equal(blocked.body.data.version, 2);
    assert.equal(again.body.data.version, 2);
    assert.equal(byOperator.status, 200, JSON.stringify(byOperator.body));
    assert.equal(byOperator.body.data.version, 3);
    assert.equal(byOperator.headers.etag, `"${customer.id}:3"`);
    assert.equal(byOperator.body.data.walletStatus, 'Suspicious');
    assert.equal(operatorAgain.body.data.version, 3);
    assert.deepEqual(operatorAgain.body.data, byOperator.body.data);
    const details = await post(t, DETAILS, { id: customer.id }, owner);
    assert.equal(details.body.data.version, 3);
    assert.equal(details.body.data.updatedAt, byOperator.body.data.updatedAt);
  });

  it('when If-Match carries the current ETag, then the update applies; the next one with the same ETag gets 409 and changes nothing', async () => {
    const { owner, customer } = await setup();
    const read = await post(t, DETAILS, { id: customer.id }, owner);
    const tag = read.headers.etag as string;

    const applied = await post(t, UPDATE, { id: customer.id, firstName: 'First' }, owner, {
      'if-match': tag,
    });
    const before = await stored(customer.id);
    const stale = await post(
      t,
      UPDATE,
      { id: customer.id, firstName: 'Second', walletStatus: 'Blocked' },
      owner,
      {
        'if-match': tag,
      },
    );

    assert.equal(applied.status, 200, JSON.stringify(applied.body));
    assert.equal(applied.body.data.firstName, 'First');
    assert.equal(applied.headers.etag, `"${customer.id}:2"`);
    assertError(stale, 409, 'VERSION_CONFLICT');
    assert.match(stale.body.message, /version 2\b/);
    assert.ok(stale.body.message.includes(`"${customer.id}:2"`), stale.body.message);
    assert.deepEqual(await stored(customer.id), before);
    assert.equal(before.first_name, 'First');
    assert.equal(before.status, 'Active');
  });

  it('when expectedVersion is current, then the update applies; when stale, then 409 and nothing changes', async () => {
    const { owner, customer } = await setup();

    const applied = await post(
      t,
      UPDATE,
      { id: customer.id, lastName: 'Current', expectedVersion: 1 },
      owner,
    );
    const before = await stored(customer.id);
    const stale = await post(
      t,
      UPDATE,
      {
        id: customer.id,
        lastName: 'Stale',
        walletStatus: 'Suspicious',
        walletStatusReason: 'x',
        expectedVersion: 1,
      },
      owner,
    );
    const ahead = await post(t, UPDATE, { id: customer.id, lastName: 'Ahead', expectedVersion: 3 }, owner);

    assert.equal(applied.status, 200, JSON.stringify(applied.body));
    assert.equal(applied.body.data.version, 2);
    assertError(stale, 409, 'VERSION_CONFLICT');
    assertError(ahead, 409, 'VERSION_CONFLICT');
    assert.deepEqual(await stored(customer.id), before);
    const changes = await t.db.query('SELECT 1 FROM wallet_status_changes WHERE wallet_id = $1', [
      customer.walletId,
    ]);
    assert.equal(changes.length, 0);
  });

  it('when the precondition is stale, then even a request that would change nothing gets 409', async () => {
    const { owner, customer } = await setup();
    await post(t, UPDATE, { id: customer.id, comment: 'moved on' }, owner);

    const response = await post(t, UPDATE, { id: customer.id }, owner, { 'if-match': `"${customer.id}:1"` });

    assertError(response, 409, 'VERSION_CONFLICT');
  });

  it('when the wallet is locked by the operator and the version is stale, then the version conflict is reported first', async () => {
    const { owner, customer } = await setup();
    await post(t, WALLET, { walletId: customer.walletId, status: 'Blocked' }, operator);

    const stale = await post(
      t,
      UPDATE,
      { id: customer.id, walletStatus: 'Active', expectedVersion: 1 },
      owner,
    );
    const current = await post(
      t,
      UPDATE,
      { id: customer.id, walletStatus: 'Active', expectedVersion: 2 },
      owner,
    );

    assertError(stale, 409, 'VERSION_CONFLICT');
    assertError(current, 403, 'WALLET_STATUS_LOCKED');
  });

  it('when If-Match is *, then the update applies whatever the version', async () => {
    const { owner, customer } = await setup();
    await post(t, UPDATE, { id: customer.id, comment: 'one' }, owner);

    const response = await post(t, UPDATE, { id: customer.id, comment: 'two' }, owner, { 'if-match': '*' });

    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(response.body.data.version, 3);
  });

  it("when If-Match is another customer's ETag, then 409 even if the versions agree, and nothing changes", async () => {
    const { owner, customer } = await setup();
    const other = await createCustomer(t, owner);
    const before = await stored(customer.id);

    const response = await post(t, UPDATE, { id: customer.id, firstName: 'Mixed' }, owner, {
      'if-match': etag(other),
    });

    assertError(response, 409, 'VERSION_CONFLICT');
    assert.match(response.body.message, /another customer/);
    assert.deepEqual(await stored(customer.id), before);
  });

  for (const malformed of [
    '1',
    '"1"',
    'W/"{id}:1"',
    '"{id}:0"',
    '"{id}:01"',
    '"{id}:1", "{id}:2"',
    '"{id}:1',
    '"not-a-uuid:1"',
    '"{id}:12345678901"',
    '',
  ]) {
    it(`when If-Match is ${JSON.stringify(malformed)}, then 400 VALIDATION_ERROR names If-Match and nothing changes`, async () => {
      const { owner, customer } = await setup();
      const before = await stored(customer.id);

      const response = await post(t, UPDATE, { id: customer.id, firstName: 'Malformed' }, owner, {
        'if-match': malformed.replaceAll('{id}', customer.id),
      });

      assertError(response, 400, 'VALIDATION_ERROR', 'If-Match');
      assert.deepEqual(await stored(customer.id), before);
    });
  }

  for (const [label, value] of [
    ['0', 0],
    ['-1', -1],
    ['1.5', 1.5],
    ['the string "1"', '1'],
    ['null', null],
    ['2^31', 2147483648],
  ] as const) {
    it(`when expectedVersion is ${label}, then 400 VALIDATION_ERROR names expectedVersion`, async () => {
      const { owner, customer } = await setup();

      const response = await post(
        t,
        UPDATE,
        { id: customer.id, firstName: 'X', expectedVersion: value },
        owner,
      );

      assertError(response, 400, 'VALIDATION_ERROR', 'expectedVersion');
      assert.equal((await stored(customer.id)).version, 1);
    });
  }

  it('when If-Match and expectedVersion disagree, then 400 names expectedVersion; when they agree, then the update applies', async () => {
    const { owner, customer } = await setup();

    const disagree = await post(t, UPDATE, { id: customer.id, firstName: 'D', expectedVersion: 2 }, owner, {
      'if-match': `"${customer.id}:1"`,
    });
    const agree = await post(t, UPDATE, { id: customer.id, firstName: 'A', expectedVersion: 1 }, owner, {
      'if-match': `"${customer.id}:1"`,
    });
    const starWithStaleField = await post(
      t,
      UPDATE,
      { id: customer.id, firstName: 'S', expectedVersion: 1 },
      owner,
      {
        'if-match': '*',
      },
    );

    assertError(disagree, 400, 'VALIDATION_ERROR', 'expectedVersion');
    assert.equal(agree.status, 200, JSON.stringify(agree.body));
    assert.equal(agree.body.data.version, 2);
    assertError(starWithStaleField, 409, 'VERSION_CONFLICT');
  });

  it('when the customer does not exist or is another institution’s, then 404 CUSTOMER_NOT_FOUND, never 409', async () => {
    const { customer } = await setup();
    const other = await createInstitution(t, operator);

    const unknown = await post(
      t,
      UPDATE,
      { id: randomUUID(), firstName: 'X', expectedVersion: 7 },
      other.owner,
    );
    const foreign = await post(t, UPDATE, { id: customer.id, firstName: 'X' }, other.owner, {
      'if-match': `"${customer.id}:2"`,
    });

    assertError(unknown, 404, 'CUSTOMER_NOT_FOUND');
    assertError(foreign, 404, 'CUSTOMER_NOT_FOUND');
    assert.equal((await stored(customer.id)).version, 1);
  });

  it('when neither If-Match nor expectedVersion is sent, then updates apply as before, whatever happened meanwhile', async () => {
    const { owner, customer } = await setup();

    for (const [index, name] of ['One', 'Two', 'Three'].entries()) {
      const response = await post(t, UPDATE, { id: customer.id, firstName: name }, owner);
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.equal(response.body.data.version, index + 2);
    }
  });

  it('when the operator sets a wallet status with a stale or current precondition, then 409 or the change', async () => {
    const { owner, customer } = await setup();
    await post(t, UPDATE, { id: customer.id, comment: 'v2' }, owner);
    const before = await stored(customer.id);

    const stale = await post(
      t,
      WALLET,
      { walletId: customer.walletId, status: 'Blocked', expectedVersion: 1 },
      operator,
    );
    const staleTag = await post(t, WALLET, { walletId: customer.walletId, status: 'Blocked' }, operator, {
      'if-match': `"${customer.id}:1"`,
    });
    const malformed = await post(t, WALLET, { walletId: customer.walletId, status: 'Blocked' }, operator, {
      'if-match': 'v2',
    });
    assert.deepEqual(await stored(customer.id), before);
    const current = await post(t, WALLET, { walletId: customer.walletId, status: 'Blocked' }, operator, {
      'if-match': `"${customer.id}:2"`,
    });

    assertError(stale, 409, 'VERSION_CONFLICT');
    assertError(staleTag, 409, 'VERSION_CONFLICT');
    assertError(malformed, 400, 'VALIDATION_ERROR', 'If-Match');
    assert.equal(current.status, 200, JSON.stringify(current.body));
    assert.equal(current.body.data.version, 3);
    assert.equal(current.body.data.walletStatus, 'Blocked');
  });

  for (const form of ['If-Match', 'expectedVersion'] as const) {
    it(`when 12 updates race with the same ${form}, then exactly one applies and the others get 409 VERSION_CONFLICT`, async () => {
      const { owner, customer } = await setup();
      const racers = 12;

      const responses = await Promise.all(
        Array.from({ length: racers }, (_, index) =>
          form === 'If-Match'
            ? post(t, UPDATE, { id: customer.id, comment: `racer ${index}` }, owner, {
                'if-match': `"${customer.id}:1"`,
              })
            : post(t, UPDATE, { id: customer.id, comment: `racer ${index}`, expectedVersion: 1 }, owner),
        ),
      );

      const winners = responses.filter((response) => response.status === 200);
      const losers = responses.filter((response) => response.status !== 200);
      assert.equal(winners.length, 1, responses.map((response) => response.status).join(','));
      for (const loser of losers) assertError(loser, 409, 'VERSION_CONFLICT');
      const row = await stored(customer.id);
      assert.equal(row.version, 2);
      assert.equal(row.comment, winners[0]!.body.data.comment);
      assert.equal(row.history, 2, 'the creation and the one winning update');
    });
  }
});
