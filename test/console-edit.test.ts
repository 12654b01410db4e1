// The partner's "edit a customer" form, through HTTP as a browser would send it: what the form
// shows (the plain fields, never a masked one), what a save sends to the same update the API
// runs (only what changed; an empty masked input keeps the value; Remove and an emptied optional
// field clear it), the API's errors at their fields with the typed values kept, and who may edit.
// (test/console-browser-edit.test.ts drives the same form in Chromium.)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engine, OPERATOR, startTestApp, type TestApp } from './support/app.js';
import { get, signIn, submit, type Browser } from './support/console.js';
import { createCustomer, createInstitution, post, unique, type Institution } from './support/client.js';

const unescape = (value: string) =>
  value
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');

/**
 * What a browser would send for the form in `html` untouched: every input's value (a checkbox only
 * when checked), the textarea's text (less the newline after its tag, with CRLF line ends).
 */
function formFields(html: string): Record<string, string | string[]> {
  const fields: Record<string, string | string[]> = {};
  const add = (name: string, value: string) => {
    const existing = fields[name];
    fields[name] =
      existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
  };
  const formHtml = /<form[^>]*id="customer-edit"[\s\S]*?<\/form>/.exec(html)?.[0];
  assert.ok(formHtml, 'the page has the edit form');
  for (const [tag] of formHtml.matchAll(/<input\b[^>]*>/g)) {
    const name = /\sname="([^"]*)"/.exec(tag)?.[1];
    if (name === undefined) continue;
    if (/type="checkbox"/.test(tag) && !/\schecked\b/.test(tag)) continue;
    add(name, unescape(/\svalue="([^"]*)"/.exec(tag)?.[1] ?? ''));
  }
  for (const [, name, content] of formHtml.matchAll(
    /<textarea\b[^>]*name="([^"]+)"[^>]*>([\s\S]*?)<\/textarea>/g,
  )) {
    add(name!, unescape(content!.replace(/^\r?\n/, '')).replace(/\r?\n/g, '\r\n'));
  }
  return fields;
}

const details = async (t: TestApp, institution: Institution, id: string) =>
  (await post(t, '/v2/customer/details', { id }, institution.owner)).body.data;

const history = async (t: TestApp, institution: Institution, id: string) =>
  (await post(t, '/v2/customer/history', { id, take: 100 }, institution.owner)).body;

const masked = ['email', 'phoneNumber', 'verificationDocumentId', 'residenceAddress', 'itn'] as const;

describe(`console: edit a customer (${engine})`, () => {
  let t: TestApp;
  let acme: Institution;
  let other: Institution;
  let owner: Browser;

  const newCustomer = (overrides: Record<string, unknown> = {}) =>
    createCustomer(t, acme.owner, {
      externalId: unique('ext'),
      phoneNumber: '+33612345678',
      itn: '633-123-92-12',
      comment: 'First line\nsecond line',
      ...overrides,
    });

  /** The edit form of `id` as the owner gets it, and what the untouched form sends. */
  async function openForm(id: string) {
    const page = await get(t, owner, `/console/customers/${id}/edit`);
    assert.equal(page.statusCode, 200, page.body);
    return { page, fields: formFields(page.body) };
  }

  before(async () => {
    t = await startTestApp();
    acme = await createInstitution(t);
    other = await createInstitution(t);
    owner = await signIn(t, { email: acme.ownerEmail, password: acme.ownerPassword, merchantId: acme.id });
  });

  after(async () => {
    await t.close();
  });

  it('the customer page links an Owner to the form, which shows the plain fields and no masked value, and records no reveal', async () => {
    const customer = await newCustomer();
    const page = await get(t, owner, `/console/customers/${customer.id}`);
    assert.match(
      page.body,
      new RegExp(`href="/console/customers/${customer.id}/edit"[^>]*>\\s*Edit details`),
    );
    const reveals = async () =>
      (
        await t.db.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM data_access_log WHERE customer_id = $1',
          [customer.id],
        )
      )[0]!.n;
    const { page: edit, fields } = await openForm(customer.id);
    assert.equal(fields.firstName, 'Alex');
    assert.equal(fields.lastName, 'Smith');
    assert.equal(fields.country, 'FR');
    assert.equal(fields.externalId, customer.externalId);
    assert.equal(fields.comment, 'First line\r\nsecond line');
    assert.equal(fields.expectedVersion, '1');
    for (const field of masked) {
      assert.equal(fields[field], '', `${field} starts empty`);
      assert.ok(!edit.body.includes(customer[field]), `${field} is not in the page`);
    }
    assert.match(edit.body, /Hidden\. Type a new value to replace it; leave empty to keep it/);
    // Remove for the optional masked fields that have a value; not for the required ones.
    assert.match(edit.body, /name="remove" value="phoneNumber"/);
    assert.match(edit.body, /name="remove" value="itn"/);
    assert.doesNotMatch(edit.body, /name="remove" value="(email|verificationDocumentId|residenceAddress)"/);
    // Every input has its label.
    for (const [, id] of edit.body.matchAll(/<(?:input|textarea)\b[^>]*\sid="([^"]+)"/g)) {
      assert.match(edit.body, new RegExp(`<label for="${id}"`), `${id} has a label`);
    }
    assert.equal(await reveals(), 0, 'showing the form is no reveal');
  });

  it('an Owner changes the name and the email: the API shows them and the history has one new entry', async () => {
    const customer = await newCustomer();
    const before = await history(t, acme, customer.id);
    const { fields } = await openForm(customer.id);
    const email = `${unique('marie')}@mail.com`;
    const saved = await submit(t, owner, `/console/customers/${customer.id}/edit`, {
      ...fields,
      firstName: 'Alexandra',
      email,
    });
    assert.equal(saved.statusCode, 303, saved.body);
    assert.equal(saved.headers.location, `/console/customers/${customer.id}?done=customer-saved`);
    const shown = await get(t, owner, saved.headers.location);
    assert.match(shown.body, /The customer is saved\./);
    const now = await details(t, acme, customer.id);
    assert.deepEqual(now, {
      ...customer,
      firstName: 'Alexandra',
      email,
      version: 2,
      updatedAt: now.updatedAt,
    });
    const after = await history(t, acme, customer.id);
    assert.equal(after.meta.total, (before.meta.total as number) + 1);
    const [entry] = after.data;
    assert.equal(entry.version, 2);
    assert.equal(entry.action, 'update');
    assert.deepEqual(entry.actor, { type: 'user', id: entry.actor.id, name: acme.ownerEmail });
    assert.deepEqual(
      [...entry.changes].sort((a: any, b: any) => a.field.localeCompare(b.field)),
      [
        { field: 'email', old: customer.email, new: email },
        { field: 'firstName', old: 'Alex', new: 'Alexandra' },
      ],
    );
  });

  it('a masked field left empty keeps its value; only the changed field is sent', async () => {
    const customer = await newCustomer();
    const { fields } = await openForm(customer.id);
    const saved = await submit(t, owner, `/console/customers/${customer.id}/edit`, {
      ...fields,
      residenceAddress: '1 Rue de Rivoli, 75001 Paris',
    });
    assert.equal(saved.statusCode, 303, saved.body);
    const now = await details(t, acme, customer.id);
    assert.equal(now.residenceAddress, '1 Rue de Rivoli, 75001 Paris');
    for (const field of ['email', 'phoneNumber', 'verificationDocumentId', 'itn', 'comment', 'externalId']) {
      assert.equal(now[field], customer[field], `${field} unchanged`);
    }
    const [entry] = (await history(t, acme, customer.id)).data;
    assert.deepEqual(
      entry.changes.map((change: any) => change.field),
      ['residenceAddress'],
    );
  });

  it('Remove clears an optional masked field, and an emptied optional field is cleared', async () => {
    const customer = await newCustomer();
    const { fields } = await openForm(customer.id);
    const saved = await submit(t, owner, `/console/customers/${customer.id}/edit`, {
      ...fields,
      remove: 'phoneNumber',
      externalId: '',
      comment: '',
    });
    assert.equal(saved.statusCode, 303, saved.body);
    const now = await details(t, acme, customer.id);
    assert.equal(now.phoneNumber, null);
    assert.equal(now.externalId, null);
    assert.equal(now.comment, null);
    assert.equal(now.itn, customer.itn, 'the other optional masked field is kept');
    assert.equal(now.version, 2);
    // A cleared masked field has no value any more: the next form offers no Remove for it.
    const again = await get(t, owner, `/console/customers/${customer.id}/edit`);
    assert.doesNotMatch(again.body, /name="remove" value="phoneNumber"/);
    assert.match(again.body, /Not set\. Type a value to set it/);
  });

  it('a value typed and Remove ticked for one field is refused at that field; nothing changes', async () => {
    const customer = await newCustomer();
    const { fields } = await openForm(customer.id);
    const refused = await submit(t, owner, `/console/customers/${customer.id}/edit`, {
      ...fields,
      itn: '999',
      remove: 'itn',
    });
    assert.equal(refused.statusCode, 400);
    assert.match(refused.body, /type a new value or remove the current one, not both/);
    assert.match(refused.body, /<input[^>]*id="itn-remove"[^>]*checked/);
    assert.equal((await details(t, acme, customer.id)).version, 1);
  });

  it('an invalid email is shown at the field with the API’s message, the typed values kept, and nothing changes', async () => {
    const customer = await newCustomer();
    const { fields } = await openForm(customer.id);
    const refused = await submit(t, owner, `/console/customers/${customer.id}/edit`, {
      ...fields,
      firstName: 'Typed name',
      email: 'not-an-email',
    });
    assert.equal(refused.statusCode, 400);
    const body = refused.body;
    // In the summary, linking to the field ...
    assert.match(
      body,
      /class="error-summary"[\s\S]*<a href="#email">Email must be a valid email address<\/a>/,
    );
    // ... and at the field: its class, the message, linked with aria-describedby.
    assert.match(body, /<div class="field field-error"><label for="email">/);
    assert.match(body, /<p class="error-message" id="email-error">[\s\S]*?must be a valid email address/);
    assert.match(
      body,
      /<input id="email" name="email" aria-describedby="email-hint email-error" aria-invalid="true"/,
    );
    const kept = formFields(body);
    assert.equal(kept.email, 'not-an-email');
    assert.equal(kept.firstName, 'Typed name');
    assert.equal(kept.expectedVersion, '1');
    assert.deepEqual(await details(t, acme, customer.id), customer);
  });

  it('an empty required field, and an unknown country, get the API’s messages', async () => {
    const customer = await newCustomer();
    const { fields } = await openForm(customer.id);
    const refused = await submit(t, owner, `/console/customers/${customer.id}/edit`, {
      ...fields,
      lastName: '',
      country: 'XX',
    });
    assert.equal(refused.statusCode, 400);
    assert.match(refused.body, /Last name must not be empty/);
    assert.match(refused.body, /Country must be an assigned ISO 3166-1 alpha-2 country code/);
    assert.deepEqual(await details(t, acme, customer.id), customer);
  });

  it('an email or an externalId another customer has is refused at its field; nothing changes', async () => {
    const customer = await newCustomer();
    const taken = await newCustomer();
    const { fields } = await openForm(customer.id);
    const email = await submit(t, owner, `/console/customers/${customer.id}/edit`, {
      ...fields,
      email: taken.email.toUpperCase(),
    });
    assert.equal(email.statusCode, 409);
    assert.match(email.body, /<a href="#email">Email is already used by another customer<\/a>/);
    assert.match(email.body, /id="email-error"/);
    const externalId = await submit(t, owner, `/console/customers/${customer.id}/edit`, {
      ...fields,
      externalId: taken.externalId,
    });
    assert.equal(externalId.statusCode, 409);
    assert.match(
      externalId.body,
      /<a href="#externalId">externalId is already used by another customer<\/a>/,
    );
    assert.match(externalId.body, /id="externalId-error"/);
    assert.deepEqual(await details(t, acme, customer.id), customer);
  });

  it('a form prepared from an older version gets the API’s VERSION_CONFLICT and changes nothing', async () => {
    const customer = await newCustomer();
    const { fields } = await openForm(customer.id);
    // Someone else changes the customer meanwhile.
    const moved = await post(t, '/v2/customer/update', { id: customer.id, lastName: 'Moved' }, acme.owner);
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    const stale = await submit(t, owner, `/console/customers/${customer.id}/edit`, {
      ...fields,
      firstName: 'Late',
    });
    assert.equal(stale.statusCode, 409);
    assert.match(stale.body, /The customer is now at version 2[^<]*, not 1: it changed since you read it/);
    assert.match(stale.body, /<a href="#customer-edit">/);
    assert.match(stale.body, /Start again from the current details/);
    assert.equal(
      formFields(stale.body).expectedVersion,
      '1',
      'the form still names the version it came from',
    );
    const now = await details(t, acme, customer.id);
    assert.equal(now.firstName, 'Alex');
    assert.equal(now.lastName, 'Moved', 'the other change is not overwritten');
    assert.equal(now.version, 2);
  });

  it('an untouched form changes nothing: no new version, no history entry', async () => {
    const customer = await newCustomer();
    const { fields } = await openForm(customer.id);
    const saved = await submit(t, owner, `/console/customers/${customer.id}/edit`, fields);
    assert.equal(saved.statusCode, 303, saved.body);
    assert.equal(saved.headers.location, `/console/customers/${customer.id}?done=customer-unchanged`);
    assert.match((await get(t, owner, saved.headers.location)).body, /Nothing was changed/);
    assert.deepEqual(await details(t, acme, customer.id), customer);
    assert.equal((await history(t, acme, customer.id)).meta.total, 1);
    // A masked value typed as it already is changes nothing either.
    const same = await submit(t, owner, `/console/customers/${customer.id}/edit`, {
      ...fields,
      email: customer.email,
    });
    assert.equal(same.headers.location, `/console/customers/${customer.id}?done=customer-unchanged`);
    assert.equal((await details(t, acme, customer.id)).version, 1);
  });

  it('an Admin may edit too', async () => {
    const customer = await newCustomer();
    const email = `${unique('admin')}@acme.test`;
    const created = await post(
      t,
      '/v2/user/create',
      { email, role: 'Admin', password: 'admin-password-1' },
      acme.owner,
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const admin = await signIn(t, { email, password: 'admin-password-1', merchantId: acme.id });
    const page = await get(t, admin, `/console/customers/${customer.id}/edit`);
    assert.equal(page.statusCode, 200);
    const saved = await submit(t, admin, `/console/customers/${customer.id}/edit`, {
      ...formFields(page.body),
      lastName: 'Curie',
    });
    assert.equal(saved.statusCode, 303, saved.body);
    assert.equal((await details(t, acme, customer.id)).lastName, 'Curie');
  });

  it('a Viewer sees no Edit link, and the form and its POST are refused with 403; nothing changes', async () => {
    const customer = await newCustomer();
    const email = `${unique('viewer')}@acme.test`;
    const created = await post(
      t,
      '/v2/user/create',
      { email, role: 'Viewer', password: 'viewer-password-1' },
      acme.owner,
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const viewer = await signIn(t, { email, password: 'viewer-password-1', merchantId: acme.id });
    const page = await get(t, viewer, `/console/customers/${customer.id}`);
    assert.equal(page.statusCode, 200);
    assert.doesNotMatch(page.body, /\/edit"|Edit details/);
    assert.equal((await get(t, viewer, `/console/customers/${customer.id}/edit`)).statusCode, 403);
    const write = await submit(t, viewer, `/console/customers/${customer.id}/edit`, {
      firstName: 'Viewer was here',
      expectedVersion: '1',
    });
    assert.equal(write.statusCode, 403);
    assert.deepEqual(await details(t, acme, customer.id), customer);
  });

  it('another institution’s user gets 404, the operator 403 and no Edit link; nothing changes', async () => {
    const customer = await newCustomer();
    const stranger = await signIn(t, {
      email: other.ownerEmail,
      password: other.ownerPassword,
      merchantId: other.id,
    });
    assert.equal((await get(t, stranger, `/console/customers/${customer.id}/edit`)).statusCode, 404);
    const foreign = await submit(t, stranger, `/console/customers/${customer.id}/edit`, {
      firstName: 'Stranger',
      expectedVersion: '1',
    });
    assert.equal(foreign.statusCode, 404);
    assert.doesNotMatch(foreign.body, new RegExp(customer.externalId));

    const operator = await signIn(t, OPERATOR);
    const page = await get(t, operator, `/console/customers/${customer.id}`);
    assert.equal(page.statusCode, 200);
    assert.doesNotMatch(page.body, /Edit details/);
    assert.equal((await get(t, operator, `/console/customers/${customer.id}/edit`)).statusCode, 403);
    const write = await submit(t, operator, `/console/customers/${customer.id}/edit`, {
      firstName: 'Operator',
      expectedVersion: '1',
    });
    assert.equal(write.statusCode, 403);
    assert.deepEqual(await details(t, acme, customer.id), customer);
  });

  it('an erased customer has no Edit link and no form; a form sent anyway gets CUSTOMER_ERASED', async () => {
    const customer = await newCustomer();
    const { fields } = await openForm(customer.id);
    const erased = await post(
      t,
      '/v2/customer/erase',
      { id: customer.id, reason: 'GDPR art. 17 request' },
      acme.owner,
    );
    assert.equal(erased.status, 200, JSON.stringify(erased.body));
    const page = await get(t, owner, `/console/customers/${customer.id}`);
    assert.doesNotMatch(page.body, /Edit details/);
    const form = await get(t, owner, `/console/customers/${customer.id}/edit`);
    assert.equal(form.statusCode, 409);
    assert.match(form.body, /This customer was erased/);
    const late = await submit(t, owner, `/console/customers/${customer.id}/edit`, {
      ...fields,
      firstName: 'Back',
    });
    assert.equal(late.statusCode, 409);
    assert.match(late.body, /<a href="#customer-edit">This customer was erased/);
    assert.equal((await details(t, acme, customer.id)).firstName, null);
  });

  it('a form without the session’s CSRF token is refused', async () => {
    const customer = await newCustomer();
    const refused = await submit(
      t,
      { cookie: owner.cookie, csrf: 'not-the-token' },
      `/console/customers/${customer.id}/edit`,
      {
        firstName: 'Forged',
        expectedVersion: '1',
      },
    );
    assert.equal(refused.statusCode, 403);
    assert.deepEqual(await details(t, acme, customer.id), customer);
  });
});
