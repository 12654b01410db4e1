// The JavaScript examples of the two KunaCore pages (spec/kunacore-customer-create.txt and
// spec/kunacore-customer-update.txt), sent with global fetch to the real HTTP server. The request
// bodies and options are copied verbatim (prettier-ignore keeps them so); per the contract's last
// section only the base URL, the token and the ids are replaced, and the update example's
// e-mail placeholder becomes a real address.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engine, startTestApp, type TestApp } from './support/app.js';
import { createCustomer, createInstitution, type Institution } from './support/client.js';
import { openedCustomer } from './support/stored.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_MILLIS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

// From kunacore-customer-create.txt, "Exemplary request".
// prettier-ignore
const createExampleBody = {
  email: "alexsmith@mail.com",
  phoneNumber: "+380991234567",
  firstName: "Alex",
  lastName: "Smith",
  comment: "Alex is a special client. Hi is a refferal of Denis.",
  externalId: "12124d80-dd80-4c70-aa9c-c2aa014cc29e",
  referralId: "1f44b1c7-9fd4-4d20-b9a4-7aca3646d0d5",
  country: "FR",
  verificationDocumentId: "FV633452",
  residenceAddress: "Champ de Mars, 5 Av. Anatole France, 75007 Paris, France",
  itn: "633-123-92-12",
};

// From kunacore-customer-update.txt, "Exemplary request" (the placeholder holds a no-break space, as on the page).
// prettier-ignore
const updateExampleBody = {
    id: "d0eab186-19f1-446f-8b9e-739945941b89",
    email: "[email protected]",
    firstName: "Alexander"
  };

/** The pages' `options`, verbatim; `data` is the body of the /v2/auth/login response. */
function exampleOptions(body: object, data: { accessToken: string }) {
  // prettier-ignore
  const options = {
    method: "POST",
    headers: {
      accept: "application/json",
      "Content-Type": "application/json",
      "Authorization": `Bearer ${data.accessToken}` // data.accessToken - generated a JWT token via /v2/auth/login.
    },
    body: JSON.stringify(body),
  };
  return options;
}

/** Sends a request the way the pages do, keeping the status and headers to assert on as well. */
async function sendExample(url: string, path: string, options: RequestInit) {
  let status = 0;
  let headers = new Headers();
  const showResponse: any = await fetch(url + path, options).then((response) => {
    status = response.status;
    headers = response.headers;
    return response.json();
  });
  return { status, headers, showResponse };
}

describe(`the KunaCore page examples over HTTP (${engine})`, () => {
  let t: TestApp;
  let url: string;

  before(async () => {
    t = await startTestApp();
    url = await t.app.listen({ port: 0, host: '127.0.0.1' });
  });
  after(() => t.close());

  /** Logs in as the institution's owner through the real server, as the pages' authentication guide does. */
  async function login(institution: Institution): Promise<{ accessToken: string }> {
    const response = await fetch(`${url}/v2/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', merchant_id: institution.id },
      body: JSON.stringify({ token: institution.ownerEmail, password: institution.ownerPassword }),
    });
    assert.equal(response.status, 200);
    const { data } = (await response.json()) as { data: { accessToken: string } };
    return data;
  }

  async function storedCustomer(id: string): Promise<Record<string, any>> {
    const row = await openedCustomer(t, id);
    assert.ok(row, `customer ${id} is stored`);
    return row;
  }

  async function storedCounts(institutionId: string): Promise<{ customers: number; wallets: number }> {
    const [row] = await t.db.query<{ customers: number; wallets: number }>(
      `SELECT (SELECT count(*)::int FROM customers WHERE institution_id = $1) AS customers,
              (SELECT count(*)::int FROM wallets WHERE institution_id = $1) AS wallets`,
      [institutionId],
    );
    return row!;
  }

  /** The create example with its referralId naming Denis, a customer created first. */
  async function createFromExample(institution: Institution, data: { accessToken: string }) {
    const denis = await createCustomer(t, institution.owner, { firstName: 'Denis' });
    const body = { ...createExampleBody, referralId: denis.id };
    const sent = await sendExample(url, '/v2/customer/create', exampleOptions(body, data));
    return { denis, ...sent };
  }

  it('when the create example is sent as written, then its unknown referralId gets 400 REFERRAL_NOT_FOUND and nothing is stored', async () => {
    const institution = await createInstitution(t);
    const data = await login(institution);

    const { status, showResponse } = await sendExample(
      url,
      '/v2/customer/create',
      exampleOptions(createExampleBody, data),
    );

    assert.equal(status, 400, JSON.stringify(showResponse));
    assert.equal(showResponse.code, 'REFERRAL_NOT_FOUND');
    assert.deepEqual(showResponse.details, [
      { field: 'referralId', message: showResponse.details[0].message },
    ]);
    assert.equal(showResponse.data, undefined);
    assert.deepEqual(await storedCounts(institution.id), { customers: 0, wallets: 0 });
  });

  it('when the create example names an existing referral, then 201 with every key of the page’s response and the rows stored', async () => {
    const institution = await createInstitution(t);
    const data = await login(institution);

    const { denis, status, headers, showResponse } = await createFromExample(institution, data);

    assert.equal(status, 201, JSON.stringify(showResponse));
    assert.match(headers.get('content-type') ?? '', /^application\/json/);
    assert.ok(headers.get('x-request-id'));
    const customer = showResponse.data;
    // Every key of the page's example response, with the value the request implies.
    assert.match(customer.id, UUID);
    assert.equal(customer.comment, 'Alex is a special client. Hi is a refferal of Denis.');
    assert.match(customer.createdAt, ISO_MILLIS);
    assert.equal(customer.email, 'alexsmith@mail.com');
    assert.equal(customer.firstName, 'Alex');
    assert.equal(customer.lastName, 'Smith');
    assert.equal(customer.phoneNumber, '+380991234567');
    assert.equal(customer.externalId, '12124d80-dd80-4c70-aa9c-c2aa014cc29e');
    assert.match(customer.walletId, UUID);
    // The page shows walletId equal to id; the contract makes them different UUIDs.
    assert.notEqual(customer.walletId, customer.id);
    assert.equal(customer.referralId, denis.id);
    // And the rest of the customer object.
    assert.equal(customer.country, 'FR');
    assert.equal(customer.verificationDocumentId, 'FV633452');
    assert.equal(customer.residenceAddress, 'Champ de Mars, 5 Av. Anatole France, 75007 Paris, France');
    assert.equal(customer.itn, '633-123-92-12');
    assert.equal(customer.walletStatus, 'Active');
    assert.equal(customer.walletStatusSetBy, 'institution');
    assert.equal(customer.updatedAt, customer.createdAt);

    const stored = await storedCustomer(customer.id);
    assert.equal(stored.institution_id, institution.id);
    assert.equal(stored.email, 'alexsmith@mail.com');
    assert.equal(stored.phone_number, '+380991234567');
    assert.equal(stored.first_name, 'Alex');
    assert.equal(stored.last_name, 'Smith');
    assert.equal(stored.comment, 'Alex is a special client. Hi is a refferal of Denis.');
    assert.equal(stored.external_id, '12124d80-dd80-4c70-aa9c-c2aa014cc29e');
    assert.equal(stored.referral_id, denis.id);
    assert.equal(stored.country, 'FR');
    assert.equal(stored.verification_document_id, 'FV633452');
    assert.equal(stored.residence_address, 'Champ de Mars, 5 Av. Anatole France, 75007 Paris, France');
    assert.equal(stored.itn, '633-123-92-12');
    assert.equal((stored.created_at as Date).toISOString(), customer.createdAt);
    const wallets = await t.db.query('SELECT id, status, status_set_by FROM wallets WHERE customer_id = $1', [
      customer.id,
    ]);
    assert.deepEqual(wallets, [{ id: customer.walletId, status: 'Active', status_set_by: 'institution' }]);
  });

  it('when the update example is sent for the created customer with a real e-mail, then 200 with every key of the page’s response and the row changed', async () => {
    const institution = await createInstitution(t);
    const data = await login(institution);
    const { denis, showResponse: created } = await createFromExample(institution, data);
    const before = created.data;
    const email = 'alexander.smith@mail.com';

    const body = { ...updateExampleBody, id: before.id, email };
    const { status, showResponse } = await sendExample(
      url,
      '/v2/customer/update',
      exampleOptions(body, data),
    );

    assert.equal(status, 200, JSON.stringify(showResponse));
    const customer = showResponse.data;
    // Every key of the page's example response. The page shows firstName "Alex", comment and
    // externalId null; this customer was just renamed and keeps the comment and externalId it
    // was created with.
    assert.equal(customer.id, before.id);
    assert.equal(customer.comment, before.comment);
    assert.equal(customer.createdAt, before.createdAt);
    assert.equal(customer.email, email);
    assert.equal(customer.firstName, 'Alexander');
    assert.equal(customer.lastName, 'Smith');
    assert.equal(customer.phoneNumber, '+380991234567');
    assert.equal(customer.externalId, before.externalId);
    assert.equal(customer.walletId, before.walletId);
    assert.equal(customer.referralId, denis.id);
    // The rest of the customer object is unchanged, except updatedAt.
    for (const key of ['country', 'verificationDocumentId', 'residenceAddress', 'itn', 'walletStatus']) {
      assert.equal(customer[key], before[key], key);
    }
    assert.match(customer.updatedAt, ISO_MILLIS);
    assert.ok(customer.updatedAt >= before.updatedAt);

    const stored = await storedCustomer(before.id);
    assert.equal(stored.email, email);
    assert.equal(stored.first_name, 'Alexander');
    assert.equal(stored.last_name, 'Smith');
    assert.equal(stored.comment, before.comment);
    assert.equal(stored.external_id, before.externalId);
    assert.equal(stored.referral_id, denis.id);
    assert.equal((stored.updated_at as Date).toISOString(), customer.updatedAt);
    assert.deepEqual(await storedCounts(institution.id), { customers: 2, wallets: 2 });
  });

  it('when the update example keeps its e-mail placeholder, then 400 VALIDATION_ERROR names email and nothing changes', async () => {
    const institution = await createInstitution(t);
    const data = await login(institution);
    const { showResponse: created } = await createFromExample(institution, data);

    const body = { ...updateExampleBody, id: created.data.id };
    const { status, showResponse } = await sendExample(
      url,
      '/v2/customer/update',
      exampleOptions(body, data),
    );

    assert.equal(status, 400, JSON.stringify(showResponse));
    assert.equal(showResponse.code, 'VALIDATION_ERROR');
    assert.deepEqual(
      showResponse.details.map((detail: { field: string }) => detail.field),
      ['email'],
    );
    const stored = await storedCustomer(created.data.id);
    assert.equal(stored.email, 'alexsmith@mail.com');
    assert.equal(stored.first_name, 'Alex');
  });

  it('when the update example keeps its own id, then 404 CUSTOMER_NOT_FOUND and nothing changes', async () => {
    const institution = await createInstitution(t);
    const data = await login(institution);
    const { showResponse: created } = await createFromExample(institution, data);

    const body = { ...updateExampleBody, email: 'alexander.smith@mail.com' };
    const { status, showResponse } = await sendExample(
      url,
      '/v2/customer/update',
      exampleOptions(body, data),
    );

    assert.equal(status, 404, JSON.stringify(showResponse));
    assert.equal(showResponse.code, 'CUSTOMER_NOT_FOUND');
    const stored = await storedCustomer(created.data.id);
    assert.equal(stored.email, 'alexsmith@mail.com');
    assert.equal(stored.first_name, 'Alex');
  });
});
