// Change history: every create, update and wallet-status change appends one entry in its own
// transaction (who, when, which request, what changed from what to what); no-op and refused
// requests append nothing; the two history routes list entries newest first, tenant-scoped; and
// the database refuses to change or delete an entry.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { engine, OPERATOR, startTestApp, type TestApp } from './support/app.js';
import {
  createApiKey,
  createCustomer,
  createInstitution,
  customerInput,
  loginOperator,
  post,
  unique,
  type Credentials,
  type Response,
} from './support/client.js';

const HISTORY = '/v2/customer/history';
const ADMIN_HISTORY = '/v2/admin/customer/history';
const UPDATE = '/v2/customer/update';
const WALLET = '/v2/admin/wallet/status';

function assertError(response: Response, status: number, code: string, field?: string): void {
  assert.equal(response.status, status, JSON.stringify(response.body));
  assert.equal(response.body.statusCode, status);
  assert.equal(response.body.error, STATUS_CODES[status]);
  assert.equal(response.body.code, code, JSON.stringify(response.body));
  if (field !== undefined) {
    const fields = (response.body.details ?? []).map((detail: { field: string }) => detail.field);
    assert.ok(fields.includes(field), `details name ${field}: ${JSON.stringify(response.body)}`);
  }
}

const entryKeys = [
  'action',
  'actor',
  'changes',
  'customerId',
  'id',
  'occurredAt',
  'reason',
  'requestId',
  'version',
];

describe(`customer history (${engine})`, () => {
  let t: TestApp;
  let operator: { token: string };

  before(async () => {
    t = await startTestApp();
    operator = await loginOperator(t);
  });
  after(async () => {
    await t.close();
  });

  async function userIdOf(email: string): Promise<string> {
    const rows = await t.db.query<{ id: string }>('SELECT id FROM users WHERE lower(email) = lower($1)', [
      email,
    ]);
    assert.ok(rows[0] !== undefined, `user ${email}`);
    return rows[0].id;
  }

  async function historyCount(customerId: string): Promise<number> {
    const rows = await t.db.query<{ count: number }>(
      'SELECT count(*)::int AS count FROM customer_history WHERE customer_id = $1',
      [customerId],
    );
    return rows[0]!.count;
  }

  async function history(customerId: string, credentials: Credentials, page: Record<string, unknown> = {}) {
    const response = await post(t, HISTORY, { id: customerId, ...page }, credentials);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body;
  }

  async function setup() {
    const institution = await createInstitution(t, operator);
    const owner = institution.owner as Credentials;
    const customer = await createCustomer(t, owner, { phoneNumber: '+380991234567', itn: 'ITN-1' });
    return { institution, owner, customer };
  }

  it('when a customer is created, then one create entry names the user, the request and every value it starts with', async () => {
    const institution = await createInstitution(t, operator);
    const input = customerInput({ phoneNumber: '+38 (099) 123-45-67', country: 'fr', comment: 'hello' });

    const created = await post(t, '/v2/customer/create', input, institution.owner, {
      'x-request-id': 'req-create-1',
    });

    assert.equal(created.status, 201, JSON.stringify(created.body));
    const customer = created.body.data;
    const body = await history(customer.id, institution.owner);
    assert.deepEqual(body.meta, { total: 1, take: 20, skip: 0 });
    const [entry] = body.data;
    assert.deepEqual(Object.keys(entry).sort(), entryKeys);
    assert.equal(entry.customerId, customer.id);
    assert.equal(entry.action, 'create');
    assert.equal(entry.version, 1);
    assert.equal(entry.occurredAt, customer.createdAt);
    assert.equal(entry.requestId, 'req-create-1');
    assert.equal(entry.reason, null);
    assert.deepEqual(entry.actor, {
      type: 'user',
      id: await userIdOf(institution.ownerEmail),
      name: institution.ownerEmail,
    });
    // The stored (normalised) values, not the raw input.
    assert.deepEqual(entry.changes, [
      { field: 'email', old: null, new: customer.email },
      { field: 'phoneNumber', old: null, new: '+380991234567' },
      { field: 'firstName', old: null, new: customer.firstName },
      { field: 'lastName', old: null, new: customer.lastName },
      { field: 'comment', old: null, new: 'hello' },
      { field: 'country', old: null, new: 'FR' },
      { field: 'verificationDocumentId', old: null, new: customer.verificationDocumentId },
      { field: 'residenceAddress', old: null, new: customer.residenceAddress },
      { field: 'walletStatus', old: null, new: 'Active' },
      { field: 'walletStatusSetBy', old: null, new: 'institution' },
    ]);
  });

  it('when an API key updates fields, then the entry names the key, the request, and only the changed fields with old and new values', async () => {
    const { institution, customer } = await setup();
    const key = await createApiKey(t, institution);

    const updated = await post(
      t,
      UPDATE,
      {
        id: customer.id,
        firstName: 'Alexander',
        lastName: customer.lastName,
        phoneNumber: null,
        itn: 'ITN-2',
      },
      { apiKey: key.apiKey },
      { 'x-request-id': 'req-update-1' },
    );

    assert.equal(updated.status, 200, JSON.stringify(updated.body));
    const body = await history(customer.id, { apiKey: key.apiKey });
    assert.equal(body.meta.total, 2);
    const [entry, first] = body.data;
    assert.equal(first.action, 'create');
    assert.equal(entry.action, 'update');
    assert.equal(entry.version, 2);
    assert.equal(entry.occurredAt, updated.body.data.updatedAt);
    assert.equal(entry.requestId, 'req-update-1');
    assert.deepEqual(entry.actor, { type: 'api_key', id: key.id, name: 'backend' });
    assert.equal(entry.reason, null);
    assert.deepEqual(entry.changes, [
      { field: 'phoneNumber', old: '+380991234567', new: null },
      { field: 'firstName', old: customer.firstName, new: 'Alexander' },
      { field: 'itn', old: 'ITN-1', new: 'ITN-2' },
    ]);
  });

  it('when an update changes nothing, then no entry is written', async () => {
    const { owner, customer } = await setup();

    for (const body of [
      { id: customer.id },
      { id: customer.id, firstName: customer.firstName, email: customer.email, comment: null },
      { id: customer.id, walletStatus: 'Active' },
    ]) {
      const response = await post(t, UPDATE, body, owner);
      assert.equal(response.status, 200, JSON.stringify(response.body));
    }

    assert.equal(await historyCount(customer.id), 1);
  });

  it('when the institution changes the wallet status, then the entry has the status, who set it, and the reason', async () => {
    const { owner, customer } = await setup();

    await post(
      t,
      UPDATE,
      { id: customer.id, walletStatus: 'Blocked', walletStatusReason: 'chargebacks' },
      owner,
    );

    const [entry] = (await history(customer.id, owner)).data;
    assert.equal(entry.action, 'update');
    assert.equal(entry.reason, 'chargebacks');
    assert.deepEqual(entry.changes, [{ field: 'walletStatus', old: 'Active', new: 'Blocked' }]);
  });

  it('when the operator changes the wallet status, then a wallet_status entry is written; partners see that the operator acted, the operator sees who', async () => {
    const { owner, customer } = await setup();
    await post(t, UPDATE, { id: customer.id, walletStatus: 'Blocked' }, owner);

    const locked = await post(
      t,
      WALLET,
      { walletId: customer.walletId, status: 'Blocked', reason: 'compliance review' },
      operator,
      { 'x-request-id': 'req-operator-1' },
    );
    const again = await post(t, WALLET, { walletId: customer.walletId, status: 'Blocked' }, operator);

    assert.equal(locked.status, 200, JSON.stringify(locked.body));
    assert.equal(again.status, 200);
    const partnerView = await history(customer.id, owner);
    assert.equal(partnerView.meta.total, 3, 'the no-op second call writes nothing');
    const [entry] = partnerView.data;
    assert.equal(entry.action, 'wallet_status');
    assert.equal(entry.version, 3);
    assert.equal(entry.requestId, 'req-operator-1');
    assert.equal(entry.reason, 'compliance review');
    assert.equal(entry.occurredAt, locked.body.data.updatedAt);
    assert.deepEqual(entry.changes, [{ field: 'walletStatusSetBy', old: 'institution', new: 'operator' }]);
    assert.deepEqual(entry.actor, { type: 'operator', id: null, name: null });

    const operatorView = await post(t, ADMIN_HISTORY, { id: customer.id }, operator);
    assert.equal(operatorView.status, 200, JSON.stringify(operatorView.body));
    assert.deepEqual(operatorView.body.data[0].actor, {
      type: 'operator',
      id: await userIdOf(OPERATOR.email),
      name: OPERATOR.email,
    });
    assert.deepEqual(
      operatorView.body.data.map((e: { id: string }) => e.id),
      partnerView.data.map((e: { id: string }) => e.id),
    );
  });

  it('when refused, then update and the operator route write no entry', async () => {
    const { institution, owner, customer } = await setup();
    const other = await createCustomer(t, owner);
    const viewerKey = await createApiKey(t, institution, ['customers:read']);

    const refusals = [
      await post(t, UPDATE, { id: customer.id, firstName: 'X', email: other.email }, owner),
      await post(t, UPDATE, { id: customer.id, firstName: 'X', expectedVersion: 5 }, owner),
      await post(t, UPDATE, { id: customer.id, firstName: 'X', referralId: other.id }, owner),
      await post(t, UPDATE, { id: customer.id, firstName: 'X' }, { apiKey: viewerKey.apiKey }),
    ];
    await post(t, WALLET, { walletId: customer.walletId, status: 'Suspicious' }, operator);
    const locked = await post(t, UPDATE, { id: customer.id, firstName: 'X', walletStatus: 'Active' }, owner);
    const staleOperator = await post(
      t,
      WALLET,
      { walletId: customer.walletId, status: 'Active', expectedVersion: 1 },
      operator,
    );

    assert.deepEqual(
      [...refusals, locked, staleOperator].map((response) => response.status),
      [409, 409, 400, 403, 403, 409],
    );
    assert.equal(await historyCount(customer.id), 2, 'the creation and the operator change');
  });

  it('when listing, then entries come newest first, paged by take and skip with the total', async () => {
    const { owner, customer } = await setup();
    for (let index = 1; index <= 6; index++) {
      const response = await post(t, UPDATE, { id: customer.id, comment: `change ${index}` }, owner);
      assert.equal(response.status, 200);
    }

    const all = await history(customer.id, owner);
    const page = await history(customer.id, owner, { take: 3, skip: 2 });
    const beyond = await history(customer.id, owner, { take: 5, skip: 7 });

    assert.deepEqual(
      all.data.map((entry: { version: number }) => entry.version),
      [7, 6, 5, 4, 3, 2, 1],
    );
    assert.equal(all.data[0].changes[0].new, 'change 6');
    assert.deepEqual(page.meta, { total: 7, take: 3, skip: 2 });
    assert.deepEqual(page.data, all.data.slice(2, 5));
    assert.deepEqual(beyond, { data: [], meta: { total: 7, take: 5, skip: 7 } });
    const times = all.data.map((entry: { occurredAt: string }) => Date.parse(entry.occurredAt));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => b - a),
    );
  });

  for (const [label, body, field] of [
    ['take 0', { take: 0 }, 'take'],
    ['take 101', { take: 101 }, 'take'],
    ['skip -1', { skip: -1 }, 'skip'],
    ['take "10"', { take: '10' }, 'take'],
    ['an unknown field', { since: 'yesterday' }, 'since'],
    ['an id that is not a UUID', { id: 'abc' }, 'id'],
  ] as const) {
    it(`when the history body has ${label}, then 400 VALIDATION_ERROR names ${field}`, async () => {
      const { owner, customer } = await setup();

      const response = await post(t, HISTORY, { id: customer.id, ...body }, owner);

      assertError(response, 400, 'VALIDATION_ERROR', field);
    });
  }

  it("when the customer is unknown or another institution's, then 404 CUSTOMER_NOT_FOUND; the operator reads any", async () => {
    const { customer } = await setup();
    const other = await createInstitution(t, operator);
    const otherKey = await createApiKey(t, other);

    assertError(await post(t, HISTORY, { id: randomUUID() }, other.owner), 404, 'CUSTOMER_NOT_FOUND');
    assertError(await post(t, HISTORY, { id: customer.id }, other.owner), 404, 'CUSTOMER_NOT_FOUND');
    assertError(
      await post(t, HISTORY, { id: customer.walletId }, { apiKey: otherKey.apiKey }),
      404,
      'CUSTOMER_NOT_FOUND',
    );
    assertError(await post(t, ADMIN_HISTORY, { id: randomUUID() }, operator), 404, 'CUSTOMER_NOT_FOUND');
    const operatorView = await post(t, ADMIN_HISTORY, { id: customer.id }, operator);
    assert.equal(operatorView.status, 200);
    assert.equal(operatorView.body.meta.total, 1);
  });

  it('when a Viewer or a read-only key asks, then it reads; the operator on the partner route and partners on the admin route get 403', async () => {
    const { institution, owner, customer } = await setup();
    const readOnly = await createApiKey(t, institution, ['customers:read']);
    const writeOnly = await createApiKey(t, institution, ['customers:write']);
    const viewerEmail = `${unique('viewer')}@acme.test`;
    const created = await post(
      t,
      '/v2/user/create',
      { email: viewerEmail, role: 'Viewer', password: 'viewer-password-1' },
      owner,
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const login = await post(
      t,
      '/v2/auth/login',
      { token: viewerEmail, password: 'viewer-password-1' },
      undefined,
      { merchant_id: institution.id },
    );
    const viewer = { token: login.body.data.accessToken as string };

    assert.equal((await history(customer.id, viewer)).meta.total, 1);
    assert.equal((await history(customer.id, { apiKey: readOnly.apiKey })).meta.total, 1);
    assertError(await post(t, HISTORY, { id: customer.id }, { apiKey: writeOnly.apiKey }), 403, 'FORBIDDEN');
    assertError(await post(t, HISTORY, { id: customer.id }, operator), 403, 'FORBIDDEN');
    assertError(await post(t, ADMIN_HISTORY, { id: customer.id }, owner), 403, 'FORBIDDEN');
    assertError(await post(t, HISTORY, { id: customer.id }), 401, 'UNAUTHORIZED');
  });

  it('when anyone updates, deletes or truncates entries directly in the database, then the database refuses', async () => {
    const { owner, customer } = await setup();
    await post(t, UPDATE, { id: customer.id, comment: 'to be kept' }, owner);
    const before = await t.db.query(
      'SELECT * FROM customer_history WHERE customer_id = $1 ORDER BY version',
      [customer.id],
    );
    assert.equal(before.length, 2);

    for (const statement of [
      "UPDATE customer_history SET actor_name = 'someone else' WHERE customer_id = $1",
      "UPDATE customer_history SET changes = '[]' WHERE customer_id = $1",
      'DELETE FROM customer_history WHERE customer_id = $1',
      'TRUNCATE customer_history',
      'DELETE FROM customers WHERE id = $1',
    ]) {
      const params = statement.includes('$1') ? [customer.id] : [];
      await assert.rejects(
        t.db.transaction((tx) => tx.query(statement, params)),
        (error: Error & { code?: string }) => {
          assert.ok(
            ['42501', '23503'].includes(error.code ?? ''),
            `${statement}: ${error.code} ${error.message}`,
          );
          return true;
        },
        statement,
      );
    }

    const afterwards = await t.db.query(
      'SELECT * FROM customer_history WHERE customer_id = $1 ORDER BY version',
      [customer.id],
    );
    assert.deepEqual(afterwards, before);
  });
});
