// POST /v2/customer/update: what changes, what is refused, and that a refused update changes nothing.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
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
  type Response,
} from './support/client.js';
import { openedCustomer } from './support/stored.js';

const UPDATE = '/v2/customer/update';

/** The customer as stored, in the API's shape, to compare with a response body's `data`. */
async function storedCustomer(t: TestApp, id: string): Promise<Record<string, unknown>> {
  const customer = await openedCustomer(t, id);
  assert.ok(customer !== undefined, `customer ${id} is not stored`);
  const wallets = await t.db.query<{ walletId: string; walletStatus: string; walletStatusSetBy: string }>(
    `SELECT w.id AS "walletId", w.status AS "walletStatus", w.status_set_by AS "walletStatusSetBy"
       FROM wallets w WHERE w.customer_id = $1`,
    [id],
  );
  const wallet = wallets[0];
  assert.ok(wallet !== undefined, `customer ${id} has no stored wallet`);
  return {
    id: customer.id,
    walletId: wallet.walletId,
    email: customer.email,
    phoneNumber: customer.phone_number,
    firstName: customer.first_name,
    lastName: customer.last_name,
    comment: customer.comment,
    externalId: customer.external_id,
    referralId: customer.referral_id,
    country: customer.country,
    verificationDocumentId: customer.verification_document_id,
    residenceAddress: customer.residence_address,
    itn: customer.itn,
    walletStatus: wallet.walletStatus,
    walletStatusSetBy: wallet.walletStatusSetBy,
    version: customer.version,
    createdAt: new Date(customer.created_at as string | Date).toISOString(),
    updatedAt: new Date(customer.updated_at as string | Date).toISOString(),
    erasedAt:
      customer.erased_at === null ? null : new Date(customer.erased_at as string | Date).toISOString(),
  };
}

async function statusChangeCount(t: TestApp, walletId: string): Promise<number> {
  const rows = await t.db.query<{ count: number }>(
    'SELECT count(*)::int AS count FROM wallet_status_changes WHERE wallet_id = $1',
    [walletId],
  );
  return rows[0]!.count;
}

/**
 * Moves the customer's timestamps one minute into the past, so a later `updatedAt` is visibly
 * later whatever the clock's resolution. Returns the stored customer afterwards.
 */
async function backdate(t: TestApp, id: string): Promise<Record<string, unknown>> {
  await t.db.query(
    `UPDATE customers SET created_at = created_at - interval '1 minute',
                          updated_at = updated_at - interval '1 minute'
      WHERE id = $1`,
    [id],
  );
  return storedCustomer(t, id);
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

const detailOf = (response: Response, field: string): { field: string; message: string } | undefined =>
  (response.body.details ?? []).find((detail: { field: string }) => detail.field === field);

/** A full set of optional fields, so that clearing one can be told apart from the others. */
const withOptionalFields = () => ({
  phoneNumber: '+380991234567',
  comment: 'A special client',
  externalId: unique('ext'),
  itn: '633-123-92-12',
});

describe(`customers update (${engine})`, () => {
  let t: TestApp;
  let operator: { token: string };

  before(async () => {
    t = await startTestApp();
    operator = await loginOperator(t);
  });

  after(async () => {
    await t.close();
  });

  /** A fresh institution with one customer that has every optional field set. */
  async function setup() {
    const institution = await createInstitution(t, operator);
    const customer = await createCustomer(t, institution.owner, withOptionalFields());
    const stored = await backdate(t, customer.id);
    return { institution, owner: institution.owner as Credentials, customer, stored };
  }

  it('when the body has only id, then nothing changes and the customer is returned', async () => {
    const { owner, customer, stored } = await setup();

    const response = await post(t, UPDATE, { id: customer.id }, owner);

    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.deepEqual(response.body, { data: stored });
    assert.deepEqual(await storedCustomer(t, customer.id), stored);
    assert.equal(await statusChangeCount(t, customer.walletId), 0);
  });

  it('when fields change, then the response and the database hold the new values, updatedAt moves forward and createdAt stays', async () => {
    const { owner, customer, stored } = await setup();
    const changes = {
      email: `${unique('alexander')}@mail.com`,
      phoneNumber: '+33612345678',
      firstName: 'Alexander',
      lastName: 'Smithson',
      comment: 'Moved to Kyiv',
      externalId: unique('ext-new'),
      country: 'UA',
      verificationDocumentId: 'UA000111',
      residenceAddress: 'Khreshchatyk St, 22, Kyiv, 01001, Ukraine',
      itn: '1234567890',
    };

    const response = await post(t, UPDATE, { id: customer.id, ...changes }, owner);

    assert.equal(response.status, 200, JSON.stringify(response.body));
    const data = response.body.data;
    assert.equal(data.createdAt, stored.createdAt);
    assert.match(data.updatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(
      Date.parse(data.updatedAt) > Date.parse(stored.updatedAt as string),
      `updatedAt ${data.updatedAt} is after ${String(stored.updatedAt)}`,
    );
    assert.deepEqual(data, { ...stored, ...changes, version: 2, updatedAt: data.updatedAt });
    assert.deepEqual(await storedCustomer(t, customer.id), response.body.data);
  });

  it('when one field changes, then only that field changes', async () => {
    const { owner, customer, stored } = await setup();

    const response = await post(t, UPDATE, { id: customer.id, firstName: 'Alexander' }, owner);

    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.deepEqual(response.body.data, {
      ...stored,
      firstName: 'Alexander',
      version: 2,
      updatedAt: response.body.data.updatedAt,
    });
    assert.deepEqual(await storedCustomer(t, customer.id), response.body.data);
  });

  it('when the id is written in capitals, then the update applies and the customer and its history still read back', async () => {
    const { owner, customer } = await setup();
    const email = `${unique('capitals')}@mail.com`;

    const response = await post(t, UPDATE, { id: customer.id.toUpperCase(), email, itn: '998877' }, owner);

    assert.equal(response.status, 200, JSON.stringify(response.body));
    // Every value is sealed with the customer's stored id in its associated data, whatever case
    // the request used: reads by either spelling open them.
    for (const id of [customer.id, customer.id.toUpperCase()]) {
      const details = await post(t, '/v2/customer/details', { id }, owner);
      assert.equal(details.status, 200, JSON.stringify(details.body));
      assert.deepEqual([details.body.data.email, details.body.data.itn], [email, '998877']);
      const history = await post(t, '/v2/customer/history', { id }, owner);
      assert.equal(history.status, 200, JSON.stringify(history.body));
      assert.deepEqual(
        history.body.data[0].changes.find((change: { field: string }) => change.field === 'itn'),
        { field: 'itn', old: customer.itn, new: '998877' },
      );
    }
    assert.deepEqual(await storedCustomer(t, customer.id), response.body.data);
  });

  it('when values need normalising, then update trims, upper-cases the country and writes the phone in E.164, as create does', async () => {
    const { owner, customer } = await setup();
    const email = `${unique('New.Alex')}@Mail.com`;

    const response = await post(
      t,
      UPDATE,
      {
        id: customer.id,
        email: `  ${email} `,
        firstName: '  Alexander ',
        lastName: '\tSmithson  ',
        country: ' ua',
        phoneNumber: '+38 (099) 765-43-21',
      },
      owner,
    );

    assert.equal(response.status, 200, JSON.stringify(response.body));
    const expected = {
      email,
      firstName: 'Alexander',
      lastName: 'Smithson',
      country: 'UA',
      phoneNumber: '+380997654321',
    };
    for (const [field, value] of Object.entries(expected)) {
      assert.equal(response.body.data[field], value, `response ${field}`);
    }
    const row = await storedCustomer(t, customer.id);
    for (const [field, value] of Object.entries(expected)) {
      assert.equal(row[field], value, `stored ${field}`);
    }
  });

  const ruleBreakers: [string, unknown][] = [
    ['email', 'not-an-email'],
    ['email', `${'a'.repeat(250)}@mail.com`],
    ['firstName', '   '],
    ['lastName', 'x'.repeat(101)],
    ['country', 'XX'],
    ['country', 'UK'],
    ['country', 'FRA'],
    ['phoneNumber', '+380 12'],
    ['phoneNumber', '0991234567'],
    ['comment', 'c'.repeat(1001)],
    ['externalId', ''],
    ['externalId', 'e'.repeat(256)],
    ['verificationDocumentId', ''],
    ['residenceAddress', 'r'.repeat(501)],
    ['itn', 'i'.repeat(51)],
  ];
  for (const [field, value] of ruleBreakers) {
    const shown =
      typeof value === 'string' && value.length > 20 ? `${value.slice(0, 12)}… (${value.length})` : value;
    it(`when ${field} is ${JSON.stringify(shown)}, then 400 VALIDATION_ERROR names it and nothing changes`, async () => {
      const { owner, customer, stored } = await setup();

      const response = await post(t, UPDATE, { id: customer.id, lastName: 'Changed', [field]: value }, owner);

      assertError(response, 400, 'VALIDATION_ERROR', field);
      assert.deepEqual(await storedCustomer(t, customer.id), stored);
    });
  }

  for (const field of ['phoneNumber', 'comment', 'externalId', 'itn']) {
    it(`when ${field} is null, then it is cleared in the response and the database, and the other fields stay`, async () => {
      const { owner, customer, stored } = await setup();

      const response = await post(t, UPDATE, { id: customer.id, [field]: null }, owner);

      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.deepEqual(response.body.data, {
        ...stored,
        [field]: null,
        version: 2,
        updatedAt: response.body.data.updatedAt,
      });
      assert.deepEqual(await storedCustomer(t, customer.id), response.body.data);
    });
  }

  it('when every optional field is null at once, then all are cleared', async () => {
    const { owner, customer } = await setup();

    const response = await post(
      t,
      UPDATE,
      { id: customer.id, phoneNumber: null, comment: null, externalId: null, itn: null },
      owner,
    );

    assert.equal(response.status, 200, JSON.stringify(response.body));
    const row = await storedCustomer(t, customer.id);
    for (const field of ['phoneNumber', 'comment', 'externalId', 'itn']) {
      assert.equal(response.body.data[field], null, `response ${field}`);
      assert.equal(row[field], null, `stored ${field}`);
    }
  });

  for (const field of [
    'email',
    'firstName',
    'lastName',
    'country',
    'verificationDocumentId',
    'residenceAddress',
  ]) {
    it(`when the required field ${field} is null, then 400 VALIDATION_ERROR names it and nothing changes`, async () => {
      const { owner, customer, stored } = await setup();

      const response = await post(t, UPDATE, { id: customer.id, comment: 'changed', [field]: null }, owner);

      assertError(response, 400, 'VALIDATION_ERROR', field);
      assert.deepEqual(await storedCustomer(t, customer.id), stored);
    });
  }

  for (const field of ['referralId', 'walletId', 'createdAt', 'updatedAt', 'walletStatusSetBy']) {
    it(`when the body sends ${field}, then 400 says it cannot be updated and nothing changes`, async () => {
      const { institution, owner, customer, stored } = await setup();
      const other = await createCustomer(t, institution.owner);
      const values: Record<string, unknown> = {
        referralId: other.id,
        walletId: other.walletId,
        createdAt: '2024-02-26T16:36:14.499Z',
        updatedAt: '2024-02-26T16:36:14.499Z',
        walletStatusSetBy: 'operator',
      };

      const response = await post(
        t,
        UPDATE,
        { id: customer.id, firstName: 'Alexander', [field]: values[field] },
        owner,
      );

      assertError(response, 400, 'VALIDATION_ERROR', field);
      assert.match(detailOf(response, field)!.message, /cannot be updated/i);
      assert.deepEqual(await storedCustomer(t, customer.id), stored);
    });
  }

  for (const field of ['nickname', 'institutionId', 'Email']) {
    it(`when the body has the unknown field ${field}, then 400 VALIDATION_ERROR names it and nothing changes`, async () => {
      const { owner, customer, stored } = await setup();

      const response = await post(
        t,
        UPDATE,
        { id: customer.id, firstName: 'Alexander', [field]: 'x' },
        owner,
      );

      assertError(response, 400, 'VALIDATION_ERROR', field);
      assert.deepEqual(await storedCustomer(t, customer.id), stored);
    });
  }

  const wrongTypes: [string, unknown][] = [
    ['email', 123],
    ['firstName', ['Alex']],
    ['lastName', 42],
    ['country', 33],
    ['verificationDocumentId', 633452],
    ['residenceAddress', { street: 'Champ de Mars' }],
    ['phoneNumber', 380991234567],
    ['comment', false],
    ['externalId', 12],
    ['itn', 6331239212],
    ['walletStatus', 1],
    ['walletStatus', null],
  ];
  for (const [field, value] of wrongTypes) {
    it(`when ${field} is ${JSON.stringify(value)}, then it is not coerced: 400 VALIDATION_ERROR names it`, async () => {
      const { owner, customer, stored } = await setup();

      const response = await post(
        t,
        UPDATE,
        { id: customer.id, firstName: 'Alexander', [field]: value },
        owner,
      );

      assertError(response, 400, 'VALIDATION_ERROR', field);
      assert.deepEqual(await storedCustomer(t, customer.id), stored);
      assert.equal(await statusChangeCount(t, customer.walletId), 0);
    });
  }

  it('when walletStatusReason is a number, then 400 names it and the status does not change', async () => {
    const { owner, customer, stored } = await setup();

    const response = await post(
      t,
      UPDATE,
      { id: customer.id, walletStatus: 'Blocked', walletStatusReason: 42 },
      owner,
    );

    assertError(response, 400, 'VALIDATION_ERROR', 'walletStatusReason');
    assert.deepEqual(await storedCustomer(t, customer.id), stored);
    assert.equal(await statusChangeCount(t, customer.walletId), 0);
  });

  for (const id of ['not-a-uuid', '12345', 42, null]) {
    it(`when id is ${JSON.stringify(id)}, then 400 VALIDATION_ERROR names id`, async () => {
      const { owner } = await setup();

      const response = await post(t, UPDATE, { id, firstName: 'Alexander' }, owner);

      assertError(response, 400, 'VALIDATION_ERROR', 'id');
    });
  }

  it('when id is missing, then 400 VALIDATION_ERROR names id', async () => {
    const { owner } = await setup();

    const response = await post(t, UPDATE, { firstName: 'Alexander' }, owner);

    assertError(response, 400, 'VALIDATION_ERROR', 'id');
  });

  it('when the id names no customer, then 404 CUSTOMER_NOT_FOUND', async () => {
    const { owner } = await setup();

    const response = await post(t, UPDATE, { id: randomUUID(), firstName: 'Alexander' }, owner);

    assertError(response, 404, 'CUSTOMER_NOT_FOUND');
  });

  it("when the id is the customer's walletId, then 404 CUSTOMER_NOT_FOUND", async () => {
    const { owner, customer, stored } = await setup();

    const response = await post(t, UPDATE, { id: customer.walletId, firstName: 'Alexander' }, owner);

    assertError(response, 404, 'CUSTOMER_NOT_FOUND');
    assert.deepEqual(await storedCustomer(t, customer.id), stored);
  });

  it("when the id names another institution's customer, then 404 CUSTOMER_NOT_FOUND and its row is unchanged", async () => {
    const { customer, stored } = await setup();
    const intruder = await createInstitution(t, operator);
    const intruderKey = await createApiKey(t, intruder);

    for (const credentials of [intruder.owner, { apiKey: intruderKey.apiKey }]) {
      const response = await post(
        t,
        UPDATE,
        { id: customer.id, firstName: 'Mallory', comment: null, walletStatus: 'Blocked' },
        credentials,
      );

      assertError(response, 404, 'CUSTOMER_NOT_FOUND');
    }
    assert.deepEqual(await storedCustomer(t, customer.id), stored);
    assert.equal(await statusChangeCount(t, customer.walletId), 0);
  });

  it("when the email is another customer's in any letter case, then 409 CUSTOMER_EMAIL_TAKEN and nothing in the request is applied", async () => {
    const { institution, owner, customer, stored } = await setup();
    const takenEmail = `${unique('Bob.Taken')}@Mail.com`;
    await createCustomer(t, institution.owner, { email: takenEmail });

    for (const email of [
      takenEmail,
      takenEmail.toUpperCase(),
      takenEmail.toLowerCase(),
      `  ${takenEmail.toLowerCase()} `,
    ]) {
      const response = await post(
        t,
        UPDATE,
        {
          id: customer.id,
          email,
          firstName: 'Alexander',
          comment: null,
          itn: '999',
          walletStatus: 'Blocked',
          walletStatusReason: 'fraud check',
        },
        owner,
      );

      assertError(response, 409, 'CUSTOMER_EMAIL_TAKEN');
      assert.deepEqual(await storedCustomer(t, customer.id), stored, `after ${email}`);
      assert.equal(await statusChangeCount(t, customer.walletId), 0, `after ${email}`);
    }
  });

  it("when the email is the customer's own in another letter case, then it is allowed and stored as given", async () => {
    const { owner, customer } = await setup();
    const newCase = (customer.email as string).toUpperCase();

    const response = await post(
      t,
      UPDATE,
      { id: customer.id, email: newCase, firstName: 'Alexander' },
      owner,
    );

    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(response.body.data.email, newCase);
    assert.equal(response.body.data.firstName, 'Alexander');
    const row = await storedCustomer(t, customer.id);
    assert.equal(row.email, newCase);
    assert.equal(row.firstName, 'Alexander');
  });

  it("when the externalId is another customer's, then 409 CUSTOMER_EXTERNAL_ID_TAKEN and nothing in the request is applied", async () => {
    const { institution, owner, customer, stored } = await setup();
    const takenExternalId = unique('ext-taken');
    await createCustomer(t, institution.owner, { externalId: takenExternalId });

    const response = await post(
      t,
      UPDATE,
      {
        id: customer.id,
        externalId: takenExternalId,
        email: `${unique('fresh')}@mail.com`,
        lastName: 'Smithson',
        phoneNumber: null,
        walletStatus: 'Suspicious',
      },
      owner,
    );

    assertError(response, 409, 'CUSTOMER_EXTERNAL_ID_TAKEN');
    assert.deepEqual(await storedCustomer(t, customer.id), stored);
    assert.equal(await statusChangeCount(t, customer.walletId), 0);
  });

  it('when the externalId or email is only used in another institution, then the update is allowed', async () => {
    const { owner, customer } = await setup();
    const elsewhere = await createInstitution(t, operator);
    const theirs = await createCustomer(t, elsewhere.owner, { externalId: unique('ext-elsewhere') });

    const response = await post(
      t,
      UPDATE,
      { id: customer.id, email: theirs.email, externalId: theirs.externalId },
      owner,
    );

    assert.equal(response.status, 200, JSON.stringify(response.body));
    const row = await storedCustomer(t, customer.id);
    assert.equal(row.email, theirs.email);
    assert.equal(row.externalId, theirs.externalId);
  });

  it('when an API key has customers:write, then it may update', async () => {
    const { institution, customer } = await setup();
    const key = await createApiKey(t, institution, ['customers:write']);

    const response = await post(
      t,
      UPDATE,
      { id: customer.id, firstName: 'Alexander' },
      { apiKey: key.apiKey },
    );

    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal((await storedCustomer(t, customer.id)).firstName, 'Alexander');
  });

  it('when an API key has only customers:read, then 403 FORBIDDEN and nothing changes', async () => {
    const { institution, customer, stored } = await setup();
    const readOnly = await createApiKey(t, institution, ['customers:read']);

    const response = await post(
      t,
      UPDATE,
      { id: customer.id, firstName: 'Alexander', walletStatus: 'Blocked' },
      { apiKey: readOnly.apiKey },
    );

    assertError(response, 403, 'FORBIDDEN');
    assert.deepEqual(await storedCustomer(t, customer.id), stored);
    assert.equal(await statusChangeCount(t, customer.walletId), 0);
  });

  it('when an operator account calls update, then 403 FORBIDDEN and nothing changes', async () => {
    const { customer, stored } = await setup();

    const response = await post(t, UPDATE, { id: customer.id, firstName: 'Alexander' }, operator);

    assertError(response, 403, 'FORBIDDEN');
    assert.deepEqual(await storedCustomer(t, customer.id), stored);
  });

  it('when there are no credentials, then 401 UNAUTHORIZED and nothing changes', async () => {
    const { customer, stored } = await setup();

    const response = await post(t, UPDATE, { id: customer.id, firstName: 'Alexander' });

    assertError(response, 401, 'UNAUTHORIZED');
    assert.deepEqual(await storedCustomer(t, customer.id), stored);
  });

  it('when walletStatusReason comes without walletStatus, then 400 names walletStatusReason and nothing changes', async () => {
    const { owner, customer, stored } = await setup();

    const response = await post(
      t,
      UPDATE,
      { id: customer.id, firstName: 'Alexander', walletStatusReason: 'looks odd' },
      owner,
    );

    assertError(response, 400, 'VALIDATION_ERROR', 'walletStatusReason');
    assert.deepEqual(await storedCustomer(t, customer.id), stored);
    assert.equal(await statusChangeCount(t, customer.walletId), 0);
  });

  it('when walletStatusReason is over 500 characters, then 400 names it and nothing changes', async () => {
    const { owner, customer, stored } = await setup();

    const response = await post(
      t,
      UPDATE,
      {
        id: customer.id,
        firstName: 'Alexander',
        walletStatus: 'Blocked',
        walletStatusReason: 'r'.repeat(501),
      },
      owner,
    );

    assertError(response, 400, 'VALIDATION_ERROR', 'walletStatusReason');
    assert.deepEqual(await storedCustomer(t, customer.id), stored);
    assert.equal(await statusChangeCount(t, customer.walletId), 0);
  });

  it('when walletStatusReason is 500 characters of two-byte letters, then it is accepted and recorded whole', async () => {
    const { owner, customer } = await setup();
    const reason = 'é'.repeat(500);

    const response = await post(
      t,
      UPDATE,
      { id: customer.id, walletStatus: 'Blocked', walletStatusReason: reason },
      owner,
    );

    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(response.body.data.walletStatus, 'Blocked');
    const rows = await t.db.query<{ reason: string }>(
      'SELECT reason FROM wallet_status_changes WHERE wallet_id = $1',
      [customer.walletId],
    );
    assert.deepEqual(
      rows.map((row) => row.reason),
      [reason],
    );
  });
});
