// The console's sessions and defences, through HTTP as a browser would send it: the cookie's
// flags, CSRF and cross-origin refusal, the timeouts, revocation by sign-out, password change and
// deactivation, step-up before a lock, the access log of reveals, roles and tenancy.
// (test/console-browser.test.ts drives the same pages in Chromium.)
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { engine, OPERATOR, startTestApp, type TestApp } from './support/app.js';
import { form, get, signIn, submit } from './support/console.js';
import { createCustomer, createInstitution, post, unique, type Institution } from './support/client.js';

describe(`console sessions and defences (${engine})`, () => {
  let t: TestApp;
  let acme: Institution;
  let other: Institution;
  let customer: any;
  let foreign: any;

  before(async () => {
    t = await startTestApp({ console: { idleTimeoutSeconds: 2, lifetimeSeconds: 3600 } });
    acme = await createInstitution(t);
    other = await createInstitution(t);
    customer = await createCustomer(t, acme.owner, {
      externalId: unique('ext'),
      phoneNumber: '+33612345678',
    });
    foreign = await createCustomer(t, other.owner);
  });

  after(async () => {
    await t.close();
  });

  it('when signed out, a console page redirects to sign-in and names the page to come back to', async () => {
    const response = await get(t, undefined, '/console/customers?q=x');
    assert.equal(response.statusCode, 303);
    assert.equal(response.headers.location, '/console/sign-in?next=%2Fconsole%2Fcustomers%3Fq%3Dx');
  });

  it('then sign-in sets a host-only, HttpOnly, Secure, SameSite=Strict cookie and no token in the page', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/console/sign-in',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: form({ email: OPERATOR.email, password: OPERATOR.password, next: '/console/customers?q=x' }),
    });
    assert.equal(response.statusCode, 303);
    assert.equal(response.headers.location, '/console/customers?q=x');
    const cookie = String(response.headers['set-cookie']);
    assert.match(
      cookie,
      /^cc_console=ccc_[A-Za-z0-9_-]+; Path=\/console; HttpOnly; Secure; SameSite=Strict$/,
    );
    assert.doesNotMatch(cookie, /Domain=/i, 'host-only');
    const stored = await t.db.query<{ token_hash: string }>('SELECT token_hash FROM console_sessions');
    const secret = cookie.split(';')[0]!.split('=')[1]!;
    assert.ok(!stored.some((row) => row.token_hash.includes(secret)), 'only a hash of the secret is stored');
  });

  it('when the password is wrong, sign-in answers the API’s failed-login message and sets no cookie', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/console/sign-in',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: form({ email: OPERATOR.email, password: 'not-the-password', next: '' }),
    });
    assert.equal(response.statusCode, 401);
    assert.equal(response.headers['set-cookie'], undefined);
    assert.match(response.body, /The email, password or merchant_id is not correct/);
  });

  it('when an address keeps failing, sign-in is refused with 429, as the API login is', async () => {
    const email = `${unique('nobody')}@acme.test`;
    let last = 0;
    for (let attempt = 0; attempt < 7; attempt++) {
      const response = await t.app.inject({
        method: 'POST',
        url: '/console/sign-in',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: form({ email, password: 'wrong-password', merchantId: acme.id }),
      });
      last = response.statusCode;
    }
    assert.equal(last, 429);
  });

  it('every page has a strict CSP: own scripts and styles only, no inline, no framing', async () => {
    const browser = await signIn(t, OPERATOR);
    for (const url of ['/console/sign-in', '/console/customers', `/console/customers/${customer.id}`]) {
      const response = await get(t, browser, url);
      const csp = String(response.headers['content-security-policy']);
      assert.match(csp, /script-src 'self'(;|$)/);
      assert.match(csp, /style-src 'self'(;|$)/);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
      assert.equal(response.headers['cache-control'], 'no-store');
      assert.doesNotMatch(response.body, /<script>|<style|style="/, `${url} has no inline script or style`);
    }
  });

  it('when a form comes from another origin, or without the session’s CSRF token, it is refused and nothing is recorded', async () => {
    const browser = await signIn(t, OPERATOR);
    const reveal = `/console/customers/${customer.id}/reveal`;
    const count = async () =>
      (
        await t.db.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM data_access_log WHERE customer_id = $1',
          [customer.id],
        )
      )[0]!.n;
    const before = await count();
    const crossOrigin = await submit(
      t,
      browser,
      reveal,
      { fields: 'email' },
      { origin: 'https://evil.example' },
    );
    assert.equal(crossOrigin.statusCode, 403);
    const crossSite = await submit(
      t,
      browser,
      reveal,
      { fields: 'email' },
      { 'sec-fetch-site': 'cross-site' },
    );
    assert.equal(crossSite.statusCode, 403);
    const noToken = await t.app.inject({
      method: 'POST',
      url: reveal,
      headers: { cookie: browser.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: form({ fields: 'email' }),
    });
    assert.equal(noToken.statusCode, 403);
    const otherSession = await signIn(t, OPERATOR);
    const wrongToken = await submit(t, { cookie: browser.cookie, csrf: otherSession.csrf }, reveal, {
      fields: 'email',
    });
    assert.equal(wrongToken.statusCode, 403, 'a token is bound to its session');
    assert.equal(await count(), before);
    assert.doesNotMatch(crossOrigin.body, new RegExp(customer.email));
  });

  it('a reveal shows the field and records who, when, which customer and which fields', async () => {
    const browser = await signIn(t, OPERATOR);
    const page = await get(t, browser, `/console/customers/${customer.id}`);
    assert.equal(page.statusCode, 200);
    for (const value of [customer.email, customer.phoneNumber, customer.verificationDocumentId]) {
      assert.ok(!page.body.includes(value), 'masked until revealed');
    }
    const revealed = await submit(t, browser, `/console/customers/${customer.id}/reveal`, {
      fields: ['email', 'phoneNumber'],
    });
    assert.equal(revealed.statusCode, 200);
    assert.ok(revealed.body.includes(customer.email));
    assert.ok(revealed.body.includes(customer.phoneNumber));
    assert.ok(!revealed.body.includes(customer.verificationDocumentId), 'only the fields asked for');
    const [entry] = await t.db.query<any>(
      `SELECT actor_type, actor_name, fields, institution_id FROM data_access_log
        WHERE customer_id = $1 ORDER BY occurred_at DESC LIMIT 1`,
      [customer.id],
    );
    assert.deepEqual(
      { ...entry, fields: [...entry.fields].sort() },
      {
        actor_type: 'operator',
        actor_name: OPERATOR.email,
        fields: ['email', 'phoneNumber'],
        institution_id: acme.id,
      },
    );
    // The institution sees that the platform looked.
    const owner = await signIn(t, {
      email: acme.ownerEmail,
      password: acme.ownerPassword,
      merchantId: acme.id,
    });
    const log = await get(t, owner, '/console/access-log');
    assert.match(log.body, new RegExp(OPERATOR.email));
    const csv = await get(t, owner, '/console/access-log.csv');
    assert.equal(csv.headers['content-type'], 'text/csv; charset=utf-8');
    assert.match(
      csv.body,
      new RegExp(`,operator,[0-9a-f-]+,${OPERATOR.email},${acme.id},${customer.id},email phoneNumber,`),
    );
    // Another institution's owner does not.
    const stranger = await signIn(t, {
      email: other.ownerEmail,
      password: other.ownerPassword,
      merchantId: other.id,
    });
    assert.doesNotMatch((await get(t, stranger, '/console/access-log.csv')).body, new RegExp(customer.id));
  });

  it('a partner sees only its own institution’s customers', async () => {
    const owner = await signIn(t, {
      email: other.ownerEmail,
      password: other.ownerPassword,
      merchantId: other.id,
    });
    assert.equal((await get(t, owner, `/console/customers/${customer.id}`)).statusCode, 404);
    assert.equal((await get(t, owner, `/console/customers/${foreign.id}`)).statusCode, 200);
    const search = await get(t, owner, `/console/customers?q=${encodeURIComponent(customer.email)}`);
    assert.match(search.body, /0 customers with this email/);
    const reveal = await submit(t, owner, `/console/customers/${customer.id}/reveal`, { fields: 'email' });
    assert.equal(reveal.statusCode, 404);
  });

  it('the search box finds a customer by email, phone, id, wallet id and externalId, and names otherwise', async () => {
    const browser = await signIn(t, OPERATOR);
    const terms: [string, RegExp][] = [
      [customer.email.toUpperCase(), /1 customer with this email/],
      ['+33 6 12 34 56 78', /1 customer with this phone number/],
      [customer.id, /1 customer with this id/],
      [customer.walletId, /1 customer with this wallet id/],
      [customer.externalId, /1 customer with this externalId/],
    ];
    for (const [term, heading] of terms) {
      const page = await get(t, browser, `/console/customers?q=${encodeURIComponent(term)}`);
      assert.match(page.body, heading, term);
      assert.ok(page.body.includes(`/console/customers/${customer.id}`), term);
    }
    const byName = await get(t, browser, `/console/customers?q=lex%20smi&institution=${acme.id}`);
    assert.match(byName.body, /whose name contains “lex smi”/);
    assert.ok(byName.body.includes(`/console/customers/${customer.id}`));
    assert.ok(!byName.body.includes(`/console/customers/${foreign.id}`), 'the institution filter applies');
    const bad = await get(t, browser, '/console/customers?from=yesterday');
    assert.equal(bad.statusCode, 400);
    assert.match(bad.body, /There is a problem/);
  });

  it('a lock needs a reason and the operator’s password again; a wrong password changes nothing', async () => {
    const browser = await signIn(t, OPERATOR);
    const target = await createCustomer(t, acme.owner);
    const noReason = await submit(t, browser, `/console/customers/${target.id}/wallet/review`, {
      status: 'Blocked',
      reason: ' ',
    });
    assert.equal(noReason.statusCode, 400);
    assert.match(noReason.body, /Give the reason/);
    const review = await submit(t, browser, `/console/customers/${target.id}/wallet/review`, {
      status: 'Blocked',
      reason: 'card fraud report',
    });
    assert.equal(review.statusCode, 200);
    assert.ok(review.body.includes(target.walletId), 'the confirmation names the wallet');
    assert.match(review.body, /Set Alex Smith’s wallet to Blocked\?/);
    const wrong = await submit(t, browser, `/console/customers/${target.id}/wallet`, {
      status: 'Blocked',
      reason: 'card fraud report',
      expectedVersion: '1',
      password: 'not-my-password',
    });
    assert.equal(wrong.statusCode, 401);
    const unchanged = await post(t, '/v2/customer/details', { id: target.id }, acme.owner);
    assert.equal(unchanged.body.data.walletStatus, 'Active');
    const locked = await submit(t, browser, `/console/customers/${target.id}/wallet`, {
      status: 'Blocked',
      reason: 'card fraud report',
      expectedVersion: '1',
      password: OPERATOR.password,
    });
    assert.equal(locked.statusCode, 303);
    const after = await post(t, '/v2/customer/details', { id: target.id }, acme.owner);
    assert.equal(after.body.data.walletStatus, 'Blocked');
    assert.equal(after.body.data.walletStatusSetBy, 'operator');
    const page = await get(t, browser, `/console/customers/${target.id}?done=wallet-locked`);
    assert.match(page.body, /set by the platform/);
    assert.match(page.body, /card fraud report/);

    // The partner cannot unlock: the control is disabled with the reason, and the server refuses.
    const owner = await signIn(t, {
      email: acme.ownerEmail,
      password: acme.ownerPassword,
      merchantId: acme.id,
    });
    const partnerPage = await get(t, owner, `/console/customers/${target.id}`);
    assert.match(partnerPage.body, /<select id="walletStatus" disabled/);
    assert.match(partnerPage.body, /only the operator can change it/);
    const unlock = await submit(t, owner, `/console/customers/${target.id}/wallet-status`, {
      walletStatus: 'Active',
      expectedVersion: '2',
    });
    assert.equal(unlock.statusCode, 403);
    assert.match(unlock.body, /WALLET_STATUS_LOCKED|cannot be changed|locked/i);
    const operatorOnly = await submit(t, owner, `/console/customers/${target.id}/wallet`, {
      status: 'Active',
      reason: 'x',
      expectedVersion: '2',
      password: acme.ownerPassword,
    });
    assert.equal(operatorOnly.statusCode, 403);
  });

  it('a Viewer sees no write controls, and the server refuses their writes', async () => {
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
    assert.doesNotMatch(page.body, /wallet-status|Save the status/);
    const write = await submit(t, viewer, `/console/customers/${customer.id}/wallet-status`, {
      walletStatus: 'Blocked',
      expectedVersion: '1',
    });
    assert.equal(write.statusCode, 403);
    const unchanged = await post(t, '/v2/customer/details', { id: customer.id }, acme.owner);
    assert.equal(unchanged.body.data.walletStatus, 'Active');
  });

  it('sign-out ends the session on the server: the old cookie no longer opens anything', async () => {
    const browser = await signIn(t, OPERATOR);
    const out = await submit(t, browser, '/console/sign-out', {});
    assert.equal(out.statusCode, 303);
    assert.match(String(out.headers['set-cookie']), /cc_console=;.*Expires=Thu, 01 Jan 1970/);
    const again = await get(t, browser, '/console/customers');
    assert.equal(again.statusCode, 303);
    assert.match(String(again.headers.location), /^\/console\/sign-in\?next=.*&notice=expired$/);
  });

  it('a password change or a deactivation ends the user’s console sessions', async () => {
    const email = `${unique('admin')}@acme.test`;
    const created = await post(
      t,
      '/v2/user/create',
      { email, role: 'Admin', password: 'admin-password-1' },
      acme.owner,
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const browser = await signIn(t, { email, password: 'admin-password-1', merchantId: acme.id });
    const login = await post(t, '/v2/auth/login', { token: email, password: 'admin-password-1' }, undefined, {
      merchant_id: acme.id,
    });
    const changed = await post(
      t,
      '/v2/user/change-password',
      { oldPassword: 'admin-password-1', newPassword: 'admin-password-2' },
      { token: login.body.data.accessToken },
    );
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.equal((await get(t, browser, '/console/customers')).statusCode, 303);

    const second = await signIn(t, { email, password: 'admin-password-2', merchantId: acme.id });
    const deactivated = await post(t, '/v2/user/deactivate', { id: created.body.data.id }, acme.owner);
    assert.equal(deactivated.status, 200, JSON.stringify(deactivated.body));
    assert.equal((await get(t, second, '/console/customers')).statusCode, 303);
  });

  it('a session idle for longer than the timeout has ended; one in use stays open', async () => {
    const browser = await signIn(t, OPERATOR);
    for (let i = 0; i < 3; i++) {
      await sleep(1000);
      assert.equal(
        (await get(t, browser, '/console/customers')).statusCode,
        200,
        'each request keeps it open',
      );
    }
    await sleep(2600);
    const idle = await get(t, browser, '/console/customers');
    assert.equal(idle.statusCode, 303);
    assert.match(String(idle.headers.location), /notice=expired/);
  });
});

describe(`console session lifetime (${engine})`, () => {
  it('a session ends at its absolute lifetime however active it is', async () => {
    const t = await startTestApp({ console: { idleTimeoutSeconds: 600, lifetimeSeconds: 2 } });
    try {
      const browser = await signIn(t, OPERATOR);
      await sleep(1000);
      assert.equal((await get(t, browser, '/console/customers')).statusCode, 200);
      await sleep(1500);
      assert.equal((await get(t, browser, '/console/customers')).statusCode, 303);
    } finally {
      await t.close();
    }
  });
});
