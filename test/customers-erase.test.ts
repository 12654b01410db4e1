// POST /v2/customer/erase and /v2/admin/customer/erase (contract "Personal data at rest, and
// erasure"): who may erase, what an erased customer reads as everywhere, its history, the reuse of
// its email and externalId, idempotent responses that held it, the customer.erased event, and an
// erase racing updates.
import assert from 'node:assert/strict';
import { randomInt, randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { engine, startTestApp, type TestApp } from './support/app.js';
import {
  createApiKey,
  createCustomer,
  createInstitution,
  loginOperator,
  post,
  unique,
  type Credentials,
  type Institution,
  type Response,
} from './support/client.js';
import { startReceiver, startTestDispatcher, verify, type Receiver } from './support/webhooks.js';

const ERASE = '/v2/customer/erase';
const ADMIN_ERASE = '/v2/admin/customer/erase';
const REASON = 'GDPR art. 17 request #4711';

/** Every field that reads null once the customer is erased. */
const personalFields = [
  'email',
  'phoneNumber',
  'firstName',
  'lastName',
  'comment',
  'externalId',
  'referralId',
  'verificationDocumentId',
  'residenceAddress',
  'itn',
] as const;
/** What erasure keeps. */
const keptFields = ['id', 'walletId', 'country', 'walletStatus', 'walletStatusSetBy', 'createdAt'] as const;

/** A valid French mobile number, different on each call. */
const phone = () => `+3361${String(randomInt(10_000_000)).padStart(7, '0')}`;

/** Distinctive values in every field, so that any of them found later is certainly this customer's. */
function fullInput(label: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const tag = unique(label);
  return {
    email: `${tag}@erase.test`,
    phoneNumber: phone(),
    firstName: `Zebulon${label}`,
    lastName: `Erasmus-${tag}`,
    comment: `Comment of ${tag}`,
    externalId: `ext-${tag}`,
    country: 'fr',
    verificationDocumentId: `DOC-${tag}`,
    residenceAddress: `12 Rue ${tag}, 75001 Paris`,
    itn: `ITN-${tag}`,
    ...overrides,
  };
}

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

/** `erased` is `before` erased: kept fields equal, personal fields null, erasedAt set, version + 1. */
function assertErasedFrom(erased: Record<string, unknown>, before: Record<string, unknown>): void {
  for (const field of keptFields) assert.equal(erased[field], before[field], `${field} is kept`);
  for (const field of personalFields) assert.equal(erased[field], null, `${field} reads null`);
  assert.equal(typeof erased.erasedAt, 'string', 'erasedAt is set');
  assert.equal(new Date(erased.erasedAt as string).toISOString(), erased.erasedAt);
  assert.equal(erased.version, (before.version as number) + 1);
  assert.ok(String(erased.updatedAt) >= String(before.updatedAt), 'updatedAt does not go back');
  assert.ok(String(erased.erasedAt) >= String(before.updatedAt), 'erasedAt is after the last change');
  // Every key of the customer object, always.
  assert.deepEqual(Object.keys(erased).sort(), Object.keys(before).sort());
}

describe(`customers erase (${engine})`, () => {
  let t: TestApp;
  let operator: { token: string };

  before(async () => {
    t = await startTestApp({ webhooks: { allowPrivateNetworks: true } });
    operator = await loginOperator(t);
  });

  after(async () => {
    await t.close();
  });

  async function addUser(institution: Institution, role: 'Admin' | 'Viewer'): Promise<{ token: string }> {
    const email = `${unique(role.toLowerCase())}@acme.test`;
    const password = 'a-good-long-password';
    const created = await post(t, '/v2/user/create', { email, role, password }, institution.owner);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const login = await post(t, '/v2/auth/login', { token: email, password }, undefined, {
      merchant_id: institution.id,
    });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    return { token: login.body.data.accessToken };
  }

  /** A customer with every field set (referralId too), updated once so that its history has two entries. */
  async function setup(label = 'Erase') {
    const institution = await createInstitution(t, operator);
    const referrer = await createCustomer(t, institution.owner, fullInput(`${label}Ref`));
    const input = fullInput(label, { referralId: referrer.id });
    const created = await createCustomer(t, institution.owner, input);
    const updated = await post(
      t,
      '/v2/customer/update',
      { id: created.id, comment: `Updated ${String(input.comment)}`, itn: `NEW-${String(input.itn)}` },
      institution.owner,
    );
    assert.equal(updated.status, 200, JSON.stringify(updated.body));
    return { institution, referrer, input, customer: updated.body.data as Record<string, any> };
  }

  async function erase(
    id: string,
    credentials: Credentials,
    reason = REASON,
    url = ERASE,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    return post(t, url, { id, reason }, credentials, headers);
  }

  async function details(id: string, credentials: Credentials) {
    const response = await post(t, '/v2/customer/details', { id }, credentials);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body.data as Record<string, any>;
  }

  async function history(id: string, credentials: Credentials, url = '/v2/customer/history') {
    const response = await post(t, url, { id, take: 100 }, credentials);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body as { data: Record<string, any>[]; meta: { total: number } };
  }

  async function find(filters: Record<string, unknown>, credentials: Credentials, url = '/v2/customer/find') {
    const response = await post(t, url, { take: 100, ...filters }, credentials);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body as { data: Record<string, any>[]; meta: { total: number } };
  }

  async function erasedEvents(customerId: string): Promise<number> {
    const [row] = await t.db.query<{ count: number }>(
      "SELECT count(*)::int AS count FROM events WHERE customer_id = $1 AND type = 'customer.erased'",
      [customerId],
    );
    return row!.count;
  }

  it('when a customer is created, then erasedAt is null on every customer object', async () => {
    const institution = await createInstitution(t, operator);
    const customer = await createCustomer(t, institution.owner, fullInput('Fresh'));
    assert.equal(customer.erasedAt, null);
    assert.equal((await details(customer.id, institution.owner)).erasedAt, null);
    const admin = await post(t, '/v2/admin/customer/details', { id: customer.id }, operator);
    assert.equal(admin.body.data.erasedAt, null);
  });

  it('when an Owner erases a customer, then the answer has erasedAt set, every personal field null, and id, wallet, country, status and createdAt kept, at version + 1', async () => {
    const { institution, customer } = await setup();

    const response = await erase(customer.id, institution.owner);

    assert.equal(response.status, 200, JSON.stringify(response.body));
    assertErasedFrom(response.body.data, customer);
    assert.equal(response.headers.etag, `"${customer.id}:${Number(customer.version) + 1}"`);
    // The database row is blank: clear columns, sealed columns, blind indexes and data key.
    const [row] = await t.db.query<Record<string, unknown>>(
      `SELECT email, phone_number, first_name, last_name, comment, external_id, referral_id,
              verification_document_id, residence_address, itn, email_index, phone_index, data_key,
              country, erased_at
         FROM customers WHERE id = $1`,
      [customer.id],
    );
    const { country, erased_at: erasedAt, ...blank } = row!;
    assert.equal(country, 'FR');
    assert.ok(erasedAt instanceof Date);
    for (const [column, value] of Object.entries(blank)) assert.equal(value, null, `${column} is blank`);
  });

  it("when a customer is erased, then this process's cache of unwrapped data keys drops its key", async () => {
    const { institution, customer } = await setup('Forget');
    const read = await post(t, '/v2/customer/details', { id: customer.id }, institution.owner);
    assert.equal(read.status, 200, JSON.stringify(read.body));
    // The app's own vault: record what it is told to forget, and forget it as before.
    const forgotten: unknown[] = [];
    const forget = t.vault.forgetDataKey.bind(t.vault);
    t.vault.forgetDataKey = (ids) => {
      forgotten.push(ids);
      forget(ids);
    };
    try {
      const response = await erase(customer.id, institution.owner);
      assert.equal(response.status, 200, JSON.stringify(response.body));
    } finally {
      t.vault.forgetDataKey = forget;
    }
    assert.deepEqual(forgotten, [{ institutionId: institution.id, customerId: customer.id }]);
  });

  it('when a customer is erased, then details, find, history and the operator details and find all show it erased', async () => {
    const { institution, customer, input } = await setup();
    const erased = (await erase(customer.id, institution.owner)).body.data;

    assert.deepEqual(await details(customer.id, institution.owner), erased);
    const byWallet = await find({ walletId: customer.walletId }, institution.owner);
    assert.deepEqual(byWallet.data, [erased]);
    const all = await find({}, institution.owner);
    assert.deepEqual(
      all.data.find((item) => item.id === customer.id),
      erased,
    );
    const admin = await post(t, '/v2/admin/customer/details', { id: customer.id }, operator);
    assert.equal(admin.status, 200, JSON.stringify(admin.body));
    assert.deepEqual(admin.body.data, { ...erased, institutionId: institution.id });
    const adminFound = await find({ walletId: customer.walletId }, operator, '/v2/admin/customer/find');
    assert.deepEqual(adminFound.data, [{ ...erased, institutionId: institution.id }]);
    const entries = await history(customer.id, institution.owner);
    assert.equal(entries.data[0]!.action, 'erase');

    // No find filter on a personal value matches it any more, for the institution or the operator.
    const byPersonalValue = {
      email: input.email,
      phoneNumber: input.phoneNumber,
      externalId: input.externalId,
      referralId: input.referralId,
      fullName: `${String(input.firstName)} ${String(input.lastName)}`,
      comment: String(customer.comment),
    };
    for (const [filter, value] of Object.entries(byPersonalValue)) {
      const found = await find({ [filter]: value }, institution.owner);
      assert.equal(found.meta.total, 0, `find by ${filter} matches the erased customer`);
      const adminByValue = await find({ [filter]: value }, operator, '/v2/admin/customer/find');
      assert.equal(adminByValue.meta.total, 0, `operator find by ${filter} matches the erased customer`);
    }
    // Nor on a part of its names.
    assert.equal((await find({ fullName: String(input.lastName) }, institution.owner)).meta.total, 0);
  });

  it('when a customer is erased, then its history gains an erase entry with the reason and the erased fields without values, and every earlier entry stays with its values read as null', async () => {
    const { institution, customer } = await setup();
    const before = await history(customer.id, institution.owner);
    assert.equal(before.meta.total, 2);
    assert.ok(
      before.data.some((entry) => entry.changes.some((change: any) => change.new !== null)),
      'the history holds values before the erasure',
    );
    const erasedFields = personalFields.filter((field) => customer[field] !== null);

    const erased = (await erase(customer.id, institution.owner)).body.data;

    const afterwards = await history(customer.id, institution.owner);
    assert.equal(afterwards.meta.total, 3);
    const [entry, ...earlier] = afterwards.data;
    assert.equal(entry!.action, 'erase');
    assert.equal(entry!.version, erased.version);
    assert.equal(entry!.occurredAt, erased.updatedAt);
    assert.equal(entry!.reason, REASON);
    assert.equal(entry!.customerId, customer.id);
    assert.equal(entry!.actor.type, 'user');
    assert.deepEqual(entry!.changes.map((change: any) => change.field).sort(), [...erasedFields].sort());
    for (const change of entry!.changes)
      assert.deepEqual(change, { field: change.field, old: null, new: null });
    // Earlier entries: in place, same time, actor, action, request and field names; no values.
    assert.deepEqual(
      earlier,
      before.data.map((old) => ({
        ...old,
        changes: old.changes.map((change: any) => ({ field: change.field, old: null, new: null })),
      })),
    );
    // The operator sees the same entries (with the acting user named).
    const adminHistory = await history(customer.id, operator, '/v2/admin/customer/history');
    assert.deepEqual(
      adminHistory.data.map((item) => [item.version, item.action, item.changes]),
      afterwards.data.map((item) => [item.version, item.action, item.changes]),
    );
    // As stored: the erase entry holds field names only, and no entry can be opened any more.
    const stored = await t.db.query<{ action: string; changes: Record<string, unknown>[] }>(
      'SELECT action, changes FROM customer_history WHERE customer_id = $1 ORDER BY version',
      [customer.id],
    );
    assert.deepEqual(
      stored.at(-1)!.changes,
      erasedFields.map((field) => ({ field })),
    );
    const [key] = await t.db.query<{ data_key: unknown }>('SELECT data_key FROM customers WHERE id = $1', [
      customer.id,
    ]);
    assert.equal(key!.data_key, null);
  });

  it('when an erased customer is erased again, then the answer is the same and nothing changes', async () => {
    const { institution, customer } = await setup();
    const first = await erase(customer.id, institution.owner);
    assert.equal(first.status, 200, JSON.stringify(first.body));

    const again = await erase(customer.id, institution.owner, 'a second request');

    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.deepEqual(again.body, first.body);
    assert.equal(again.headers.etag, first.headers.etag);
    assert.equal((await history(customer.id, institution.owner)).meta.total, 3);
    assert.equal(await erasedEvents(customer.id), 1);
    // The operator erasing it again answers the same too.
    const byOperator = await erase(customer.id, operator, 'operator request', ADMIN_ERASE);
    assert.equal(byOperator.status, 200, JSON.stringify(byOperator.body));
    assert.deepEqual(byOperator.body.data, { ...first.body.data, institutionId: institution.id });
    assert.equal((await history(customer.id, institution.owner)).meta.total, 3);
    assert.equal(await erasedEvents(customer.id), 1);
  });

  it('when an Admin, or an API key with customers:erase, erases a customer, then it is erased and the history names the actor', async () => {
    const { institution, customer } = await setup();
    const admin = await addUser(institution, 'Admin');
    const byAdmin = await erase(customer.id, admin);
    assert.equal(byAdmin.status, 200, JSON.stringify(byAdmin.body));
    assertErasedFrom(byAdmin.body.data, customer);

    const other = await createCustomer(t, institution.owner, fullInput('ByKey'));
    const key = await createApiKey(t, institution, ['customers:erase']);
    const byKey = await erase(other.id, { apiKey: key.apiKey });
    assert.equal(byKey.status, 200, JSON.stringify(byKey.body));
    assertErasedFrom(byKey.body.data, other);
    const [entry] = (await history(other.id, institution.owner)).data;
    assert.deepEqual([entry!.action, entry!.actor.type, entry!.actor.id], ['erase', 'api_key', key.id]);
  });

  it('when a caller may not erase (a key without customers:erase, a Viewer, the operator on the institution route, an institution on the operator route), then 403 FORBIDDEN and nothing changes', async () => {
    const { institution, customer } = await setup();
    const defaultKey = await createApiKey(t, institution);
    const allButErase = await createApiKey(t, institution, [
      'customers:read',
      'customers:write',
      'webhooks:manage',
    ]);
    const viewer = await addUser(institution, 'Viewer');

    for (const [who, response] of [
      ['a default key', await erase(customer.id, { apiKey: defaultKey.apiKey })],
      [
        'a key with every scope but customers:erase',
        await erase(customer.id, { apiKey: allButErase.apiKey }),
      ],
      ['a Viewer', await erase(customer.id, viewer)],
      ['the operator on /v2/customer/erase', await erase(customer.id, operator)],
      [
        'an Owner on /v2/admin/customer/erase',
        await erase(customer.id, institution.owner, REASON, ADMIN_ERASE),
      ],
    ] as const) {
      assert.equal(response.status, 403, `${who}: ${JSON.stringify(response.body)}`);
      assertError(response, 403, 'FORBIDDEN');
    }
    assert.deepEqual(await details(customer.id, institution.owner), customer);
    assert.equal(await erasedEvents(customer.id), 0);
  });

  it("when an institution erases another institution's customer, or one that does not exist, then 404 CUSTOMER_NOT_FOUND and nothing changes", async () => {
    const { institution, customer } = await setup();
    const other = await createInstitution(t, operator);
    const otherKey = await createApiKey(t, other, ['customers:erase']);

    assertError(await erase(customer.id, other.owner), 404, 'CUSTOMER_NOT_FOUND');
    assertError(await erase(customer.id, { apiKey: otherKey.apiKey }), 404, 'CUSTOMER_NOT_FOUND');
    assertError(await erase(randomUUID(), institution.owner), 404, 'CUSTOMER_NOT_FOUND');
    assertError(await erase(randomUUID(), operator, REASON, ADMIN_ERASE), 404, 'CUSTOMER_NOT_FOUND');
    assert.deepEqual(await details(customer.id, institution.owner), customer);
  });

  it('when the body is not valid (reason missing, empty, over 500 chars; id not a UUID; an unknown field), then 400 VALIDATION_ERROR names the field and nothing changes', async () => {
    const { institution, customer } = await setup();
    const cases: [Record<string, unknown>, string][] = [
      [{ id: customer.id }, 'reason'],
      [{ id: customer.id, reason: '' }, 'reason'],
      [{ id: customer.id, reason: '   ' }, 'reason'],
      [{ id: customer.id, reason: 'x'.repeat(501) }, 'reason'],
      [{ id: customer.id, reason: 42 }, 'reason'],
      [{ id: 'not-a-uuid', reason: REASON }, 'id'],
      [{ reason: REASON }, 'id'],
      [{ id: customer.id, reason: REASON, email: 'x@y.test' }, 'email'],
    ];
    for (const [body, field] of cases) {
      for (const [url, credentials] of [
        [ERASE, institution.owner],
        [ADMIN_ERASE, operator],
      ] as const) {
        assertError(await post(t, url, body, credentials), 400, 'VALIDATION_ERROR', field);
      }
    }
    assert.deepEqual(await details(customer.id, institution.owner), customer);
    // 500 characters is accepted.
    const longest = await erase(customer.id, institution.owner, 'r'.repeat(500));
    assert.equal(longest.status, 200, JSON.stringify(longest.body));
    assert.equal((await history(customer.id, institution.owner)).data[0]!.reason, 'r'.repeat(500));
  });

  it('when an erased customer is updated, or its wallet status changed by the institution, then 409 CUSTOMER_ERASED and nothing changes', async () => {
    const { institution, customer, input } = await setup();
    const erased = (await erase(customer.id, institution.owner)).body.data;
    const key = await createApiKey(t, institution);

    for (const body of [
      { id: customer.id, firstName: 'Revived' },
      { id: customer.id, email: input.email },
      { id: customer.id, comment: null },
      { id: customer.id, walletStatus: 'Blocked', walletStatusReason: 'fraud' },
      { id: customer.id, walletStatus: 'Suspicious' },
      { id: customer.id, firstName: 'Revived', walletStatus: 'Blocked' },
    ]) {
      assertError(await post(t, '/v2/customer/update', body, institution.owner), 409, 'CUSTOMER_ERASED');
      assertError(await post(t, '/v2/customer/update', body, { apiKey: key.apiKey }), 409, 'CUSTOMER_ERASED');
    }
    assert.deepEqual(await details(customer.id, institution.owner), erased);
    assert.equal((await history(customer.id, institution.owner)).meta.total, 3);
    const [changes] = await t.db.query<{ count: number }>(
      'SELECT count(*)::int AS count FROM wallet_status_changes WHERE wallet_id = $1',
      [customer.walletId],
    );
    assert.equal(changes!.count, 0);
  });

  it("when the operator sets an erased customer's wallet status, then it changes, the customer stays erased, and the entry has no values", async () => {
    // The contract forbids updating an erased customer; the operator's wallet route is not an
    // update of its data: the platform can still hold the wallet of an erased customer.
    const { institution, customer } = await setup();
    const erased = (await erase(customer.id, institution.owner)).body.data;

    const locked = await post(
      t,
      '/v2/admin/wallet/status',
      { walletId: customer.walletId, status: 'Blocked', reason: 'AML review' },
      operator,
    );

    assert.equal(locked.status, 200, JSON.stringify(locked.body));
    assert.deepEqual(locked.body.data, {
      ...erased,
      institutionId: institution.id,
      walletStatus: 'Blocked',
      walletStatusSetBy: 'operator',
      version: Number(erased.version) + 1,
      updatedAt: locked.body.data.updatedAt,
    });
    const [entry] = (await history(customer.id, institution.owner)).data;
    assert.equal(entry!.action, 'wallet_status');
    assert.deepEqual(entry!.changes, [
      { field: 'walletStatus', old: null, new: null },
      { field: 'walletStatusSetBy', old: null, new: null },
    ]);
    // Erasing it again still answers with the erased customer (now Blocked).
    const again = await erase(customer.id, institution.owner);
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.data.walletStatus, 'Blocked');
    assert.equal(again.body.data.erasedAt, erased.erasedAt);
  });

  for (const status of ['Blocked', 'Suspicious'] as const) {
    it(`when the operator set the wallet to ${status}, then the institution cannot erase the customer (409 CUSTOMER_ON_HOLD, nothing changes) and the operator can, through /v2/admin/customer/erase`, async () => {
      const { institution, customer } = await setup();
      const held = await post(
        t,
        '/v2/admin/wallet/status',
        { walletId: customer.walletId, status, reason: 'under review' },
        operator,
      );
      assert.equal(held.status, 200, JSON.stringify(held.body));
      const onHold = await details(customer.id, institution.owner);
      const key = await createApiKey(t, institution, ['customers:erase']);

      assertError(await erase(customer.id, institution.owner), 409, 'CUSTOMER_ON_HOLD');
      assertError(await erase(customer.id, { apiKey: key.apiKey }), 409, 'CUSTOMER_ON_HOLD');
      assert.deepEqual(await details(customer.id, institution.owner), onHold);
      assert.equal(await erasedEvents(customer.id), 0);

      const byOperator = await erase(customer.id, operator, 'court order 12/2026', ADMIN_ERASE);

      assert.equal(byOperator.status, 200, JSON.stringify(byOperator.body));
      assertErasedFrom(byOperator.body.data, { ...onHold, institutionId: institution.id });
      assert.equal(byOperator.body.data.institutionId, institution.id);
      assert.equal(byOperator.body.data.walletStatus, status);
      assert.equal(byOperator.body.data.walletStatusSetBy, 'operator');
      const { institutionId: _institution, ...asInstitutionSees } = byOperator.body.data;
      assert.deepEqual(await details(customer.id, institution.owner), asInstitutionSees);
      // The institution sees that the operator erased it, not which of its staff.
      const [entry] = (await history(customer.id, institution.owner)).data;
      assert.deepEqual(
        [entry!.action, entry!.reason, entry!.actor],
        ['erase', 'court order 12/2026', { type: 'operator', id: null, name: null }],
      );
      assert.equal(await erasedEvents(customer.id), 1);
    });
  }

  it('when the institution itself set the wallet to Blocked, or the operator lifted its lock, then the institution can erase the customer', async () => {
    const { institution, customer } = await setup();
    const blocked = await post(
      t,
      '/v2/customer/update',
      { id: customer.id, walletStatus: 'Blocked' },
      institution.owner,
    );
    assert.equal(blocked.status, 200, JSON.stringify(blocked.body));
    const byInstitution = await erase(customer.id, institution.owner);
    assert.equal(byInstitution.status, 200, JSON.stringify(byInstitution.body));
    assert.equal(byInstitution.body.data.walletStatus, 'Blocked');

    const other = await createCustomer(t, institution.owner, fullInput('Lifted'));
    for (const status of ['Suspicious', 'Active']) {
      const set = await post(t, '/v2/admin/wallet/status', { walletId: other.walletId, status }, operator);
      assert.equal(set.status, 200, JSON.stringify(set.body));
    }
    const afterLift = await erase(other.id, institution.owner);
    assert.equal(afterLift.status, 200, JSON.stringify(afterLift.body));
    assert.deepEqual(
      [afterLift.body.data.walletStatus, afterLift.body.data.walletStatusSetBy],
      ['Active', 'operator'],
    );
  });

  it('when a customer is erased, then its email and externalId can be used by a new customer at once, and find by them finds only the new one', async () => {
    const { institution, customer, input } = await setup();
    // Before: taken.
    assertError(
      await post(t, '/v2/customer/create', fullInput('Dup', { email: input.email }), institution.owner),
      409,
      'CUSTOMER_EMAIL_TAKEN',
    );
    assertError(
      await post(
        t,
        '/v2/customer/create',
        fullInput('Dup', { externalId: input.externalId }),
        institution.owner,
      ),
      409,
      'CUSTOMER_EXTERNAL_ID_TAKEN',
    );
    await erase(customer.id, institution.owner);

    const reused = await post(
      t,
      '/v2/customer/create',
      fullInput('Reuse', {
        email: String(input.email).toUpperCase(),
        externalId: input.externalId,
        phoneNumber: input.phoneNumber,
      }),
      institution.owner,
    );

    assert.equal(reused.status, 201, JSON.stringify(reused.body));
    const fresh = reused.body.data;
    for (const [filter, value] of [
      ['email', input.email],
      ['externalId', input.externalId],
      ['phoneNumber', input.phoneNumber],
    ] as const) {
      const found = await find({ [filter]: value }, institution.owner);
      assert.deepEqual(
        found.data.map((item) => item.id),
        [fresh.id],
        `find by ${filter}`,
      );
      const adminFound = await find(
        { [filter]: value, institutionId: institution.id },
        operator,
        '/v2/admin/customer/find',
      );
      assert.deepEqual(
        adminFound.data.map((item) => item.id),
        [fresh.id],
        `operator find by ${filter}`,
      );
    }
    const adminAnywhere = await find({ email: input.email }, operator, '/v2/admin/customer/find');
    assert.deepEqual(
      adminAnywhere.data.map((item) => item.id),
      [fresh.id],
    );
    // The erased customer stays erased, and the email stays unique among the living.
    assert.equal((await details(customer.id, institution.owner)).email, null);
    assertError(
      await post(t, '/v2/customer/create', fullInput('Third', { email: input.email }), institution.owner),
      409,
      'CUSTOMER_EMAIL_TAKEN',
    );
    // An update may take an erased customer's email too.
    const second = await createCustomer(t, institution.owner, fullInput('Second'));
    await erase(second.id, institution.owner);
    const mover = await createCustomer(t, institution.owner, fullInput('Mover'));
    const moved = await post(
      t,
      '/v2/customer/update',
      { id: mover.id, email: second.email, externalId: second.externalId },
      institution.owner,
    );
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
  });

  it('when several customers of one institution are erased, then each is (their blank email indexes do not collide)', async () => {
    const institution = await createInstitution(t, operator);
    const customers = await Promise.all(
      [1, 2, 3].map((n) => createCustomer(t, institution.owner, fullInput(`Many${n}`))),
    );
    for (const customer of customers) {
      const response = await erase(customer.id, institution.owner);
      assert.equal(response.status, 200, JSON.stringify(response.body));
    }
    const found = await find({}, institution.owner);
    assert.equal(found.meta.total, 3);
    for (const item of found.data) assert.notEqual(item.erasedAt, null);
  });

  it('when a create, an update and an operator status change made with Idempotency-Keys are replayed after the erasure, then 409 CUSTOMER_ERASED and the stored responses hold nothing', async () => {
    const institution = await createInstitution(t, operator);
    const input = fullInput('Idem');
    const createKey = randomUUID();
    const created = await post(t, '/v2/customer/create', input, institution.owner, {
      'idempotency-key': createKey,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const customer = created.body.data;
    const updateBody = { id: customer.id, comment: 'Idempotent comment change' };
    const updateKey = randomUUID();
    const updated = await post(t, '/v2/customer/update', updateBody, institution.owner, {
      'idempotency-key': updateKey,
    });
    assert.equal(updated.status, 200, JSON.stringify(updated.body));
    const statusBody = { walletId: customer.walletId, status: 'Suspicious' };
    const statusKey = randomUUID();
    const status = await post(t, '/v2/admin/wallet/status', statusBody, operator, {
      'idempotency-key': statusKey,
    });
    assert.equal(status.status, 200, JSON.stringify(status.body));
    const lifted = await post(t, '/v2/admin/wallet/status', { ...statusBody, status: 'Active' }, operator);
    assert.equal(lifted.status, 200, JSON.stringify(lifted.body));

    // Before the erasure, each replays its response.
    const replayed = await post(t, '/v2/customer/create', input, institution.owner, {
      'idempotency-key': createKey,
    });
    assert.equal(replayed.status, 201, JSON.stringify(replayed.body));
    assert.equal(replayed.headers['idempotent-replayed'], 'true');
    assert.deepEqual(replayed.body, created.body);
    const stored = await t.db.query<{ customer_id: string | null }>(
      'SELECT customer_id FROM idempotency_keys WHERE customer_id = $1',
      [customer.id],
    );
    assert.equal(stored.length, 3, 'each stored response names the customer it holds');

    const eraseKey = randomUUID();
    const erased = await erase(customer.id, institution.owner, REASON, ERASE, {
      'idempotency-key': eraseKey,
    });
    assert.equal(erased.status, 200, JSON.stringify(erased.body));

    const replays = [
      await post(t, '/v2/customer/create', input, institution.owner, { 'idempotency-key': createKey }),
      await post(t, '/v2/customer/update', updateBody, institution.owner, { 'idempotency-key': updateKey }),
      await post(t, '/v2/admin/wallet/status', statusBody, operator, { 'idempotency-key': statusKey }),
    ];
    for (const replay of replays) {
      assertError(replay, 409, 'CUSTOMER_ERASED');
      for (const value of [input.email, input.firstName, input.lastName, input.externalId, input.itn]) {
        assert.ok(!JSON.stringify(replay.body).includes(String(value)), `the replay holds ${String(value)}`);
      }
    }
    // The create was not run again: no second customer with that email.
    assert.equal((await find({ email: input.email }, institution.owner)).meta.total, 0);
    const rows = await t.db.query<{ body: Uint8Array | null; headers: unknown; erased: boolean }>(
      'SELECT body, headers, erased FROM idempotency_keys WHERE customer_id = $1',
      [customer.id],
    );
    assert.equal(rows.length, 3);
    for (const row of rows) {
      assert.equal(row.erased, true);
      assert.equal(row.body?.length ?? 0, 0, 'the stored body is gone');
      assert.deepEqual(row.headers, {});
    }
    // The erasure's own response holds no personal value: it replays as it was.
    const eraseReplay = await erase(customer.id, institution.owner, REASON, ERASE, {
      'idempotency-key': eraseKey,
    });
    assert.equal(eraseReplay.status, 200, JSON.stringify(eraseReplay.body));
    assert.deepEqual(eraseReplay.body, erased.body);
  });

  describe('the customer.erased event', () => {
    const receivers: Receiver[] = [];
    let dispatcher: Awaited<ReturnType<typeof startTestDispatcher>>;

    before(async () => {
      // A poll far longer than the test waits: the event must be announced when it commits.
      dispatcher = await startTestDispatcher(t, { pollIntervalMs: 60_000 });
    });

    after(async () => {
      await dispatcher.stop(1000);
      await Promise.all(receivers.map((receiver) => receiver.close()));
    });

    async function subscribe(institution: Institution, eventTypes?: string[]) {
      const receiver = await startReceiver();
      receivers.push(receiver);
      const created = await post(
        t,
        '/v2/webhook/create',
        { url: receiver.url, ...(eventTypes === undefined ? {} : { eventTypes }) },
        institution.owner,
      );
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return { receiver, secret: created.body.data.secret as string };
    }

    for (const by of ['institution', 'operator'] as const) {
      it(`when the ${by} erases a customer, then a customer.erased event with customerId, walletId and version reaches the subscribed receiver, signed, and carries no personal value`, async () => {
        const { institution, customer, input } = await setup(`Event${by}`);
        const all = await subscribe(institution);
        const erasedOnly = await subscribe(institution, ['customer.erased']);

        const erased =
          by === 'institution'
            ? await erase(customer.id, institution.owner)
            : await erase(customer.id, operator, REASON, ADMIN_ERASE);
        assert.equal(erased.status, 200, JSON.stringify(erased.body));

        for (const { receiver, secret } of [all, erasedOnly]) {
          const [received] = await receiver.waitFor((got) => got.length >= 1, 10_000);
          assert.equal(receiver.received.length, 1);
          assert.deepEqual(verify(secret, received!), JSON.parse(received!.body));
          assert.equal(received!.headers['webhook-id'], received!.event.id);
          assert.equal(received!.event.type, 'customer.erased');
          assert.deepEqual(received!.event.data, {
            customerId: customer.id,
            walletId: customer.walletId,
            version: erased.body.data.version,
          });
          for (const value of Object.values(input)) {
            if (typeof value === 'string' && value.length > 3) {
              assert.ok(!received!.body.includes(value), `the event carries ${value}`);
            }
          }
        }
        const events = await post(
          t,
          '/v2/event/find',
          { customerId: customer.id, type: 'customer.erased' },
          institution.owner,
        );
        assert.equal(events.status, 200, JSON.stringify(events.body));
        assert.deepEqual(
          events.body.data.map((event: { id: string }) => event.id),
          [all.receiver.received[0]!.event.id],
        );
        // The customer.created event no longer names the erased externalId.
        const createdEvents = await post(
          t,
          '/v2/event/find',
          { customerId: customer.id, type: 'customer.created' },
          institution.owner,
        );
        assert.deepEqual(
          createdEvents.body.data.map((event: { data: unknown }) => event.data),
          [{ customerId: customer.id, walletId: customer.walletId, version: 1, externalId: null }],
        );
      });
    }
  });

  // Rounds of 20 updates sent with the erase, then rounds of 4 with the erase a moment later, so
  // that it also lands between an update's commit and the storing of its idempotent response.
  const raceRounds = [
    ...Array.from({ length: 3 }, () => ({ updates: 20, eraseDelayMs: 0 })),
    ...Array.from({ length: 15 }, (_, n) => ({ updates: 4, eraseDelayMs: n % 5 })),
  ];

  it('when updates race an erase (20 at once, and a few with the erase a moment later), then the erase wins in the end: no personal value, blind index or data key is left, the history is whole, and no stored response replays data', async () => {
    for (const [round, { updates: count, eraseDelayMs }] of raceRounds.entries()) {
      const institution = await createInstitution(t, operator);
      const customer = await createCustomer(t, institution.owner, fullInput(`Race${round}`));
      const keys = Array.from({ length: count }, () => randomUUID());
      const bodies = keys.map((_, n) => ({
        id: customer.id,
        email: `race-${round}-${n}-${randomUUID()}@erase.test`,
        phoneNumber: phone(),
        comment: `Race comment ${round}-${n}`,
        itn: `RACE-ITN-${round}-${n}`,
      }));
      const updates = bodies.map((body, n) =>
        post(t, '/v2/customer/update', body, institution.owner, { 'idempotency-key': keys[n]! }),
      );
      const erasing = new Promise((resolve) => setTimeout(resolve, eraseDelayMs)).then(() =>
        erase(customer.id, institution.owner),
      );
      const [erased, ...results] = await Promise.all([erasing, ...updates]);

      assert.equal(erased.status, 200, JSON.stringify(erased.body));
      const succeeded = results.filter((response) => response.status === 200);
      for (const response of results) {
        if (response.status !== 200) assertError(response, 409, 'CUSTOMER_ERASED');
      }
      for (const response of succeeded) assert.ok(response.body.data.version < erased.body.data.version);
      assert.equal(erased.body.data.version, 1 + succeeded.length + 1);

      const [row] = await t.db.query<Record<string, unknown>>(
        `SELECT email, phone_number, first_name, last_name, comment, external_id, referral_id,
                verification_document_id, residence_address, itn, email_index, phone_index, data_key, erased_at
           FROM customers WHERE id = $1`,
        [customer.id],
      );
      const { erased_at: erasedAt, ...blank } = row!;
      assert.ok(erasedAt instanceof Date);
      for (const [column, value] of Object.entries(blank)) assert.equal(value, null, `${column} is blank`);
      assert.deepEqual(await details(customer.id, institution.owner), erased.body.data);

      const entries = await history(customer.id, institution.owner);
      assert.deepEqual(
        entries.data.map((entry) => entry.version),
        Array.from({ length: succeeded.length + 2 }, (_, n) => succeeded.length + 2 - n),
      );
      assert.equal(entries.data[0]!.action, 'erase');
      for (const entry of entries.data) {
        for (const change of entry.changes) assert.deepEqual([change.old, change.new], [null, null]);
      }

      // Every replay: the erasure made the data unreadable, whichever way each update went.
      const replays = await Promise.all(
        bodies.map((body, n) =>
          post(t, '/v2/customer/update', body, institution.owner, { 'idempotency-key': keys[n]! }),
        ),
      );
      for (const [n, replay] of replays.entries()) {
        assertError(replay, 409, 'CUSTOMER_ERASED');
        const text = JSON.stringify(replay.body);
        for (const value of Object.values(bodies[n]!)) {
          if (value !== customer.id) assert.ok(!text.includes(value), `replay ${n} holds ${value}`);
        }
      }
      const stored = await t.db.query<{ erased: boolean; length: number; status_code: number }>(
        `SELECT erased, coalesce(length(body), 0)::int AS length, status_code
           FROM idempotency_keys WHERE customer_id = $1`,
        [customer.id],
      );
      assert.equal(stored.length, succeeded.length, 'each stored success names the customer');
      for (const entry of stored) assert.deepEqual([entry.erased, entry.length], [true, 0]);
    }
  });
});
