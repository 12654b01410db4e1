// The console's API key and user pages, through HTTP as a browser would send it: a key created
// with chosen scopes, addresses and expiry, its secret shown once and working against the API,
// revoked after a confirmation and refused at once; the API's validation messages at the fields;
// roles (Viewer refused, Admin keys only, Owner both); a user added, signing in, deactivated and
// signed out; another institution's ids not found. (test/console-browser-keys.test.ts drives the
// same pages in Chromium.)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engine, startTestApp, type TestApp } from './support/app.js';
import { form, get, signIn, submit, type Browser } from './support/console.js';
import { createApiKey, createInstitution, post, unique, type Institution } from './support/client.js';

/** The text of the error message shown at a field (GOV.UK's error message), or undefined. */
function fieldError(html: string, field: string): string | undefined {
  const match = new RegExp(`<p class="field-message" id="${field}-error">(.*?)</p>`, 's').exec(html);
  return match?.[1]
    ?.replace(/<[^>]+>/g, '')
    .replace('&#39;', "'")
    .replaceAll('&#34;', '"');
}

const unescape = (html: string) =>
  html.replaceAll('&#34;', '"').replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&amp;', '&');

/** The value of the read-only input that shows a secret once. */
const shownOnce = (html: string) =>
  /id="secret-value"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*id="secret-value"/.exec(html);

const secretOf = (html: string): string => {
  const match = shownOnce(html);
  const value = match?.[1] ?? match?.[2];
  assert.ok(value, 'the page shows the secret');
  return unescape(value);
};

const tomorrow = () => new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);

describe(`console API keys and users (${engine})`, () => {
  let t: TestApp;
  let acme: Institution;
  let other: Institution;
  let owner: Browser;
  const ownerAccount = () => ({ email: acme.ownerEmail, password: acme.ownerPassword, merchantId: acme.id });

  async function addUser(role: string, institution = acme) {
    const email = `${unique(role.toLowerCase())}@acme.test`;
    const password = `${role.toLowerCase()}-password-1`;
    const created = await post(t, '/v2/user/create', { email, role, password }, institution.owner);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return { id: created.body.data.id as string, email, password, merchantId: institution.id };
  }

  before(async () => {
    t = await startTestApp();
    acme = await createInstitution(t);
    other = await createInstitution(t);
    owner = await signIn(t, ownerAccount());
  });

  after(async () => {
    await t.close();
  });

  it('lists the keys with the create form, its scopes ticked as the API defaults them', async () => {
    const existing = await createApiKey(t, acme);
    const page = await get(t, owner, '/console/api-keys');
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /<h1>API keys<\/h1>/);
    assert.match(page.body, new RegExp(existing.apiKey.slice(0, 10)), 'the prefix is listed');
    assert.doesNotMatch(page.body, new RegExp(existing.apiKey), 'never the secret');
    for (const scope of ['customers:read', 'customers:write', 'customers:erase', 'webhooks:manage']) {
      const box = new RegExp(`<input type="checkbox" id="scope-${scope.replace(':', '-')}"[^>]*>`).exec(
        page.body,
      )?.[0];
      assert.ok(box, `a checkbox for ${scope}`);
      assert.equal(
        box.includes('checked'),
        scope === 'customers:read' || scope === 'customers:write',
        `${scope} ticked as the API defaults`,
      );
    }
    assert.match(page.body, /<legend>Scopes<\/legend>/);
    assert.match(page.body, /<label for="allowedIps">/);
    assert.match(page.body, /<label for="expiresAt">/);
  });

  it('an Owner creates a key with chosen scopes, address and expiry: the secret is shown once and works; revoked after a confirmation, it fails at once', async () => {
    const name = unique('reporting');
    const expiresOn = tomorrow();
    const created = await submit(t, owner, '/console/api-keys', {
      name: `  ${name}  `,
      scopes: ['customers:read'],
      allowedIps: '127.0.0.1\r\n\r\n 10.1.2.3/8 \r\n',
      expiresOn,
    });
    assert.equal(created.statusCode, 201, created.body);
    assert.equal(created.headers.location, undefined, 'no redirect: the secret is in this answer only');
    assert.equal(created.headers['cache-control'], 'no-store');
    const secret = secretOf(created.body);
    assert.match(secret, /^cck_/);
    assert.match(created.body, /It will not be shown again/);
    assert.match(created.body, /data-copy-target="secret-value"/);
    assert.match(created.body, /readonly/);

    // As stored by the API: trimmed name, the scope asked for, the range normalised, end of day.
    const keys = await post(t, '/v2/api-key/find', {}, acme.owner);
    const key = keys.body.data.find((candidate: any) => candidate.name === name);
    assert.ok(key, 'the key is created with its trimmed name');
    assert.deepEqual(key.scopes, ['customers:read']);
    assert.deepEqual(key.allowedIps, ['127.0.0.1', '10.0.0.0/8']);
    assert.equal(key.expiresAt, `${expiresOn}T23:59:59.999Z`);

    // The list shows it, without the secret.
    const list = await get(t, owner, '/console/api-keys');
    assert.ok(list.body.includes(name));
    assert.ok(list.body.includes(key.prefix));
    assert.ok(!list.body.includes(secret), 'the secret is not shown again');
    assert.ok(!t.logs.some((line) => line.includes(secret)), 'the secret is never logged');

    // It works against the API, within its scope only.
    const find = await post(t, '/v2/customer/find', {}, { apiKey: secret });
    assert.equal(find.status, 200, JSON.stringify(find.body));
    const write = await post(t, '/v2/customer/create', { email: 'x@y.test' }, { apiKey: secret });
    assert.equal(write.status, 403, 'customers:write was not ticked');

    // Without the session's CSRF token, nothing is revoked.
    const forged = await t.app.inject({
      method: 'POST',
      url: `/console/api-keys/${key.id}/revoke`,
      headers: { cookie: owner.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: '',
    });
    assert.equal(forged.statusCode, 403);
    assert.equal((await post(t, '/v2/customer/find', {}, { apiKey: secret })).status, 200);

    // The confirmation page names the key; the key still works until confirmed.
    const confirm = await submit(t, owner, `/console/api-keys/${key.id}/confirm-revoke`, {});
    assert.equal(confirm.statusCode, 200, confirm.body);
    assert.ok(confirm.body.includes(`Revoke the API key “${name}”?`));
    assert.ok(confirm.body.includes(key.prefix));
    assert.match(confirm.body, new RegExp(`action="/console/api-keys/${key.id}/revoke"`));
    assert.equal((await post(t, '/v2/customer/find', {}, { apiKey: secret })).status, 200);

    const revoked = await submit(t, owner, `/console/api-keys/${key.id}/revoke`, {});
    assert.equal(revoked.statusCode, 303, revoked.body);
    assert.equal(revoked.headers.location, '/console/api-keys?done=key-revoked');
    assert.equal((await post(t, '/v2/customer/find', {}, { apiKey: secret })).status, 401, 'at once');
    const after = await get(t, owner, '/console/api-keys?done=key-revoked');
    assert.match(after.body, /The API key is revoked: it no longer works\./);
    assert.match(after.body, /tag-blocked">Revoked<\/span><br\/><span class="hint">\d{4}-\d{2}-\d{2}/);
  });

  it('when the input is invalid, the API’s messages are shown in the summary and at each field, and nothing is created', async () => {
    const before = (await post(t, '/v2/api-key/find', {}, acme.owner)).body.data.length;
    const api = await post(
      t,
      '/v2/api-key/create',
      { name: 'x', allowedIps: ['10.0.0.0/33'], expiresAt: '2001-01-01T23:59:59.999Z' },
      acme.owner,
    );
    assert.equal(api.status, 400);
    const badCidr = await submit(t, owner, '/console/api-keys', {
      name: 'x',
      scopes: ['customers:read'],
      allowedIps: '10.0.0.0/33',
    });
    assert.equal(badCidr.statusCode, 400);
    const ipMessage = api.body.details.find((detail: any) => detail.field === 'allowedIps').message;
    assert.equal(fieldError(badCidr.body, 'allowedIps'), `Error: Allowed addresses ${ipMessage}`);
    assert.match(badCidr.body, /There is a problem/);
    assert.match(badCidr.body, /<a href="#allowedIps">/);
    assert.match(badCidr.body, /<title>Error: API keys/);
    assert.match(badCidr.body, /10\.0\.0\.0\/33<\/textarea>/, 'what was typed is kept');
    assert.match(badCidr.body, /aria-describedby="allowedIps-hint allowedIps-error"/);

    const noName = await submit(t, owner, '/console/api-keys', { name: '   ', scopes: ['customers:read'] });
    assert.equal(noName.statusCode, 400);
    const apiNoName = await post(t, '/v2/api-key/create', { name: '  ' }, acme.owner);
    assert.equal(fieldError(noName.body, 'name'), `Error: Name ${apiNoName.body.details[0].message}`);
    assert.match(noName.body, /<a href="#name">Name must not be empty<\/a>/);

    const past = await submit(t, owner, '/console/api-keys', {
      name: 'x',
      scopes: ['customers:read'],
      expiresOn: '2001-01-01',
    });
    assert.equal(past.statusCode, 400);
    assert.equal(fieldError(past.body, 'expiresAt'), 'Error: Expiry must be in the future');

    const noScope = await submit(t, owner, '/console/api-keys', { name: 'x' });
    assert.equal(noScope.statusCode, 400, 'no scope ticked is refused, not the defaults');
    assert.ok(fieldError(noScope.body, 'scopes'));
    assert.equal((await post(t, '/v2/api-key/find', {}, acme.owner)).body.data.length, before);
  });

  it('a Viewer gets 403 on both pages and every form; an Admin manages keys but not users', async () => {
    const viewerAccount = await addUser('Viewer');
    const viewer = await signIn(t, viewerAccount);
    const key = await createApiKey(t, acme);
    for (const url of ['/console/api-keys', '/console/users']) {
      assert.equal((await get(t, viewer, url)).statusCode, 403, url);
    }
    const posts = [
      '/console/api-keys',
      `/console/api-keys/${key.id}/confirm-revoke`,
      `/console/api-keys/${key.id}/revoke`,
      '/console/users',
      `/console/users/${viewerAccount.id}/confirm-deactivate`,
      `/console/users/${viewerAccount.id}/deactivate`,
    ];
    for (const url of posts) {
      const response = await submit(t, viewer, url, { name: 'x', email: 'a@b.test', role: 'Owner' });
      assert.equal(response.statusCode, 403, url);
    }
    assert.equal((await post(t, '/v2/customer/find', {}, { apiKey: key.apiKey })).status, 200);
    assert.doesNotMatch(
      (await get(t, viewer, '/console/customers')).body,
      /href="\/console\/(api-keys|users)"/,
    );

    const admin = await signIn(t, await addUser('Admin'));
    const keysPage = await get(t, admin, '/console/api-keys');
    assert.equal(keysPage.statusCode, 200);
    assert.match(keysPage.body, /href="\/console\/api-keys"/);
    assert.doesNotMatch(keysPage.body, /href="\/console\/users"/);
    const created = await submit(t, admin, '/console/api-keys', {
      name: 'by admin',
      scopes: 'customers:read',
    });
    assert.equal(created.statusCode, 201, created.body);
    assert.equal((await get(t, admin, '/console/users')).statusCode, 403);
    const added = await submit(t, admin, '/console/users', {
      email: `${unique('x')}@acme.test`,
      role: 'Owner',
      password: 'long-enough-password',
    });
    assert.equal(added.statusCode, 403);
  });

  it('an Owner adds a user who can then sign in; deactivated after a confirmation, their console session ends', async () => {
    const page = await get(t, owner, '/console/users');
    assert.equal(page.statusCode, 200);
    assert.ok(page.body.includes(acme.ownerEmail));
    assert.match(page.body, /<legend>Role<\/legend>/);

    const email = `${unique('analyst')}@acme.test`;
    const password = 'analyst-password-1';
    const added = await submit(t, owner, '/console/users', { email: ` ${email} `, role: 'Admin', password });
    assert.equal(added.statusCode, 303, added.body);
    assert.equal(added.headers.location, '/console/users?done=user-added');
    const listed = await get(t, owner, '/console/users?done=user-added');
    assert.ok(listed.body.includes(email));
    assert.match(listed.body, /The user is added/);
    assert.ok(!listed.body.includes(password));
    const user = (await post(t, '/v2/user/find', {}, acme.owner)).body.data.find(
      (candidate: any) => candidate.email === email,
    );
    assert.equal(user.role, 'Admin');

    const session = await signIn(t, { email, password, merchantId: acme.id });
    assert.equal((await get(t, session, '/console/api-keys')).statusCode, 200, 'as an Admin');

    const confirm = await submit(t, owner, `/console/users/${user.id}/confirm-deactivate`, {});
    assert.equal(confirm.statusCode, 200, confirm.body);
    assert.ok(confirm.body.includes(`Deactivate ${email}?`));
    assert.match(confirm.body, new RegExp(`action="/console/users/${user.id}/deactivate"`));
    assert.equal((await get(t, session, '/console/customers')).statusCode, 200, 'not yet');

    const deactivated = await submit(t, owner, `/console/users/${user.id}/deactivate`, {});
    assert.equal(deactivated.statusCode, 303, deactivated.body);
    assert.equal(deactivated.headers.location, '/console/users?done=user-deactivated');
    const ended = await get(t, session, '/console/customers');
    assert.equal(ended.statusCode, 303, 'their session ended at once');
    assert.match(String(ended.headers.location), /^\/console\/sign-in\?.*notice=expired/);
    const again = await t.app.inject({
      method: 'POST',
      url: '/console/sign-in',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: form({ email, password, merchantId: acme.id, next: '' }),
    });
    assert.equal(again.statusCode, 401, 'and they cannot sign in again');
    assert.match(
      (await get(t, owner, '/console/users')).body,
      /tag-blocked">Deactivated<\/span><br\/><span class="hint">\d{4}-\d{2}-\d{2}/,
    );
  });

  it('a password left empty is generated and shown once, and works', async () => {
    const email = `${unique('generated')}@acme.test`;
    const added = await submit(t, owner, '/console/users', { email, role: 'Viewer', password: '' });
    assert.equal(added.statusCode, 201, added.body);
    const password = secretOf(added.body);
    assert.match(added.body, /It will not be shown again/);
    assert.ok(!(await get(t, owner, '/console/users')).body.includes(password));
    assert.ok(!t.logs.some((line) => line.includes(password)), 'never logged');
    const session = await signIn(t, { email, password, merchantId: acme.id });
    assert.equal((await get(t, session, '/console/customers')).statusCode, 200);
  });

  it('when the user input is invalid or the email taken, the API’s messages are shown at the fields', async () => {
    const bad = await submit(t, owner, '/console/users', {
      email: 'not-an-email',
      role: 'King',
      password: 'short',
    });
    assert.equal(bad.statusCode, 400);
    const api = await post(
      t,
      '/v2/user/create',
      { email: 'not-an-email', role: 'King', password: 'short' },
      acme.owner,
    );
    for (const [field, label] of [
      ['email', 'Email'],
      ['role', 'Role'],
      ['password', 'Password'],
    ] as const) {
      const message = api.body.details.find((detail: any) => detail.field === field).message;
      assert.equal(fieldError(bad.body, field), `Error: ${label} ${message}`, field);
    }
    assert.match(bad.body, /value="not-an-email"/, 'the email is kept');
    assert.doesNotMatch(bad.body, /value="short"/, 'a password is never sent back');

    const taken = await submit(t, owner, '/console/users', {
      email: acme.ownerEmail,
      role: 'Viewer',
      password: 'long-enough-password',
    });
    assert.equal(taken.statusCode, 409);
    assert.equal(
      fieldError(taken.body, 'email'),
      'Error: Email is already used by another user of the institution',
    );
  });

  it('an Owner cannot deactivate themselves: the API’s error is shown', async () => {
    const me = (await post(t, '/v2/user/find', {}, acme.owner)).body.data.find(
      (candidate: any) => candidate.email === acme.ownerEmail,
    );
    const list = await get(t, owner, '/console/users');
    assert.doesNotMatch(list.body, new RegExp(`/console/users/${me.id}/confirm-deactivate`), 'not offered');
    const api = await post(t, '/v2/user/deactivate', { id: me.id }, acme.owner);
    assert.equal(api.status, 400);
    const refused = await submit(t, owner, `/console/users/${me.id}/deactivate`, {});
    assert.equal(refused.statusCode, 400);
    assert.match(refused.body, /There is a problem/);
    assert.ok(refused.body.includes(api.body.message), api.body.message);
    assert.equal((await get(t, owner, '/console/users')).statusCode, 200, 'still signed in');
  });

  it('another institution’s key or user, or an id that is no UUID, is not found', async () => {
    const foreignKey = await createApiKey(t, other);
    const foreignUser = await addUser('Viewer', other);
    for (const url of [
      `/console/api-keys/${foreignKey.id}/confirm-revoke`,
      `/console/api-keys/${foreignKey.id}/revoke`,
      `/console/users/${foreignUser.id}/confirm-deactivate`,
      `/console/users/${foreignUser.id}/deactivate`,
      '/console/api-keys/not-a-uuid/revoke',
      '/console/users/not-a-uuid/deactivate',
    ]) {
      const response = await submit(t, owner, url, {});
      assert.equal(response.statusCode, 404, url);
    }
    assert.equal((await post(t, '/v2/customer/find', {}, { apiKey: foreignKey.apiKey })).status, 200);
    const session = await signIn(t, foreignUser);
    assert.equal((await get(t, session, '/console/customers')).statusCode, 200);
  });
});
