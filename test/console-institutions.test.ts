// The operator's institutions and audit log in the console, through HTTP as a browser sends it:
// the list, the creation of an institution with its Owner (the generated password shown once, and
// good for signing in), the API's validation shown at the fields, the partner refused; the audit
// log of reveals, locks and unlocks with its filters, pages and CSV, and the partner's own view.
// (test/console-browser-operator.test.ts drives the same pages in Chromium.)
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { engine, OPERATOR, startTestApp, type TestApp } from './support/app.js';
import { get, signIn, submit, type Browser } from './support/console.js';
import {
  createCustomer,
  createInstitution,
  loginOperator,
  post,
  unique,
  type Institution,
} from './support/client.js';

/** The kinds of the audit log's rows, in the page's order. */
const kindsOf = (html: string) =>
  [...html.matchAll(/<span class="tag[^"]*">(Reveal|Lock|Unlock)<\/span>/g)].map((match) => match[1]);

const today = () => new Date().toISOString().slice(0, 10);
const dayOffset = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);

describe(`console institutions (${engine})`, () => {
  let t: TestApp;
  let acme: Institution;

  before(async () => {
    t = await startTestApp();
    acme = await createInstitution(t);
  });

  after(async () => {
    await t.close();
  });

  it('the operator lists every institution with its merchant id and creation date', async () => {
    const operator = await signIn(t, OPERATOR);
    const page = await get(t, operator, '/console/institutions');
    assert.equal(page.statusCode, 200);
    assert.ok(page.body.includes(acme.id), 'the merchant id');
    const [row] = await t.db.query<{ title: string; created_at: Date }>(
      'SELECT title, created_at FROM institutions WHERE id = $1',
      [acme.id],
    );
    assert.ok(page.body.includes(row!.title));
    assert.ok(page.body.includes(`datetime="${row!.created_at.toISOString()}"`));
    assert.match(page.body, /aria-current="page"[^>]*>Institutions</);
    assert.match(page.body, /<h1>Institutions<\/h1>/);
    assert.ok(page.body.includes('href="/console/institutions/new"'));
  });

  it('creates an institution with a generated password, shown once, with which the Owner signs in', async () => {
    const operator = await signIn(t, OPERATOR);
    const newPage = await get(t, operator, '/console/institutions/new');
    assert.equal(newPage.statusCode, 200);
    for (const field of ['title', 'ownerEmail', 'ownerPassword']) {
      assert.match(newPage.body, new RegExp(`<label for="${field}">`), `${field} has a label`);
    }
    const title = unique('Fintech <b>& Co</b>');
    const ownerEmail = `${unique('owner')}@fintech.test`;
    const created = await submit(t, operator, '/console/institutions', {
      title: `  ${title} `,
      ownerEmail,
      ownerPassword: '',
    });
    assert.equal(created.statusCode, 201, created.body);
    assert.equal(created.headers['cache-control'], 'no-store');
    assert.equal(created.headers.location, undefined, 'rendered, not redirected');
    const [institution] = await t.db.query<{ id: string }>('SELECT id FROM institutions WHERE title = $1', [
      title,
    ]);
    assert.ok(institution, 'created, with the title trimmed as the API does');
    assert.ok(created.body.includes(institution.id), 'the merchant id is shown');
    assert.ok(!created.body.includes('<b>& Co</b>'), 'the title is escaped');
    assert.match(created.body, /shown only this once and will not be shown again/);
    const password = /<p class="one-time-secret">\s*<code>([^<]+)<\/code>/.exec(created.body)?.[1];
    assert.ok(password !== undefined && password.length >= 12, 'the generated password is shown');

    // Never again: not in the list, not in the log.
    const list = await get(t, operator, '/console/institutions');
    assert.ok(list.body.includes(institution.id));
    assert.ok(!list.body.includes(password));
    assert.ok(!t.logs.some((line) => line.includes(password)), 'the password is in no log line');

    // The Owner signs in with it, to the console and to the API.
    const owner = await signIn(t, { email: ownerEmail, password, merchantId: institution.id });
    assert.equal((await get(t, owner, '/console/customers')).statusCode, 200);
    const login = await post(t, '/v2/auth/login', { token: ownerEmail, password }, undefined, {
      merchant_id: institution.id,
    });
    assert.equal(login.status, 200, JSON.stringify(login.body));
  });

  it('creates an institution with the password the operator chose, and shows no password', async () => {
    const operator = await signIn(t, OPERATOR);
    const ownerEmail = `${unique('owner')}@chosen.test`;
    const created = await submit(t, operator, '/console/institutions', {
      title: unique('Chosen Bank'),
      ownerEmail,
      ownerPassword: 'a-chosen-password-1',
    });
    assert.equal(created.statusCode, 201, created.body);
    assert.doesNotMatch(created.body, /one-time-secret|a-chosen-password-1/);
    assert.match(created.body, /the password you chose/);
    const merchantId = /<dt>Merchant id<\/dt>\s*<dd>\s*<code>([0-9a-f-]{36})<\/code>/.exec(created.body)?.[1];
    assert.ok(merchantId);
    await signIn(t, { email: ownerEmail, password: 'a-chosen-password-1', merchantId });
  });

  it('shows the API’s validation problems at their fields, keeps what was typed but the password', async () => {
    const operator = await signIn(t, OPERATOR);
    const before = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM institutions'))[0]!.n;
    const refused = await submit(t, operator, '/console/institutions', {
      title: '   ',
      ownerEmail: 'not-an-email',
      ownerPassword: 'short-pw',
    });
    assert.equal(refused.statusCode, 400);
    assert.match(refused.body, /There is a problem/);
    assert.match(refused.body, /<a href="#title">The title must not be empty<\/a>/);
    assert.match(refused.body, /<a href="#ownerEmail">The owner’s email must be a valid email address<\/a>/);
    assert.match(
      refused.body,
      /<a href="#ownerPassword">The owner’s password must be at least 12 characters<\/a>/,
    );
    for (const field of ['title', 'ownerEmail', 'ownerPassword']) {
      assert.match(
        refused.body,
        new RegExp(`<div class="field field-error">\\s*<label for="${field}">`),
        `${field} is marked`,
      );
      assert.match(refused.body, new RegExp(`id="${field}-error"`), `${field} has its message`);
    }
    assert.ok(refused.body.includes('value="not-an-email"'), 'what was typed is kept');
    assert.ok(!refused.body.includes('short-pw'), 'the password is not sent back');
    const after = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM institutions'))[0]!.n;
    assert.equal(after, before, 'nothing is created');
  });

  it('shows a taken owner email at its field (USER_EMAIL_TAKEN from the database)', async () => {
    // A new institution has no users, so the per-institution rule cannot refuse its Owner; here the
    // database is made to refuse an email used in any institution, under the same constraint name,
    // as a deployment might, to see the console show the API's error where it belongs.
    await t.db.query('DROP INDEX users_institution_email_key');
    await t.db.query(
      'CREATE UNIQUE INDEX users_institution_email_key ON users (lower(email)) WHERE institution_id IS NOT NULL',
    );
    try {
      const operator = await signIn(t, OPERATOR);
      const refused = await submit(t, operator, '/console/institutions', {
        title: unique('Twice'),
        ownerEmail: acme.ownerEmail.toUpperCase(),
        ownerPassword: '',
      });
      assert.equal(refused.statusCode, 409, refused.body);
      assert.match(
        refused.body,
        /<a href="#ownerEmail">The owner’s email is already used by another user of the institution<\/a>/,
      );
      assert.match(refused.body, /<div class="field field-error">\s*<label for="ownerEmail">/);
      assert.doesNotMatch(refused.body, /one-time-secret/);
    } finally {
      await t.db.query('DROP INDEX users_institution_email_key');
      await t.db.query(
        'CREATE UNIQUE INDEX users_institution_email_key ON users (institution_id, lower(email)) WHERE institution_id IS NOT NULL',
      );
    }
  });

  it('refuses a partner’s Owner (403) on the list, the form and the creation, and creates nothing', async () => {
    const owner = await signIn(t, {
      email: acme.ownerEmail,
      password: acme.ownerPassword,
      merchantId: acme.id,
    });
    assert.equal((await get(t, owner, '/console/institutions')).statusCode, 403);
    assert.equal((await get(t, owner, '/console/institutions/new')).statusCode, 403);
    const title = unique('Not allowed');
    const refused = await submit(t, owner, '/console/institutions', {
      title,
      ownerEmail: `${unique('x')}@x.test`,
    });
    assert.equal(refused.statusCode, 403);
    assert.equal(
      (await t.db.query('SELECT 1 FROM institutions WHERE title = $1', [title])).length,
      0,
      'nothing is created',
    );
    const customers = await get(t, owner, '/console/customers');
    assert.doesNotMatch(customers.body, /href="\/console\/institutions"/, 'no link to it either');
  });

  it('refuses a creation without the session’s CSRF token', async () => {
    const operator = await signIn(t, OPERATOR);
    const refused = await submit(t, { ...operator, csrf: 'forged' }, '/console/institutions', {
      title: unique('Forged'),
      ownerEmail: `${unique('x')}@x.test`,
    });
    assert.equal(refused.statusCode, 403);
  });
});

describe(`console audit log (${engine})`, () => {
  let t: TestApp;
  let acme: Institution;
  let other: Institution;
  let customer: any;
  let foreign: any;
  let operator: Browser;

  before(async () => {
    t = await startTestApp();
    acme = await createInstitution(t);
    other = await createInstitution(t);
    customer = await createCustomer(t, acme.owner);
    foreign = await createCustomer(t, other.owner);
    operator = await signIn(t, OPERATOR);
    const token = await loginOperator(t);

    // A reveal, then a lock through the console (with the password again), then an unlock through the API.
    const revealed = await submit(t, operator, `/console/customers/${customer.id}/reveal`, {
      fields: 'email',
    });
    assert.equal(revealed.statusCode, 200);
    await sleep(5);
    const locked = await submit(t, operator, `/console/customers/${customer.id}/wallet`, {
      status: 'Blocked',
      reason: 'chargeback <script>alert(1)</script>',
      expectedVersion: String(customer.version),
      password: OPERATOR.password,
    });
    assert.equal(locked.statusCode, 303, locked.body);
    await sleep(5);
    const unlocked = await post(
      t,
      '/v2/admin/wallet/status',
      { walletId: customer.walletId, status: 'Active', reason: 'cleared' },
      token,
    );
    assert.equal(unlocked.status, 200, JSON.stringify(unlocked.body));
    // The institution's own status change (not in the audit), and its own reveal (in it: every
    // reveal is).
    const own = await post(
      t,
      '/v2/customer/update',
      { id: foreign.id, walletStatus: 'Blocked' },
      other.owner,
    );
    assert.equal(own.status, 200, JSON.stringify(own.body));
    const partner = await signIn(t, {
      email: other.ownerEmail,
      password: other.ownerPassword,
      merchantId: other.id,
    });
    assert.equal(
      (await submit(t, partner, `/console/customers/${foreign.id}/reveal`, { fields: 'email' })).statusCode,
      200,
    );
    await sleep(5);
    // An operator reveal of the other institution's customer, the newest entry.
    assert.equal(
      (await submit(t, operator, `/console/customers/${foreign.id}/reveal`, { fields: 'phoneNumber' }))
        .statusCode,
      200,
    );
  });

  after(async () => {
    await t.close();
  });

  it('lists every reveal and the operator’s locks and unlocks, newest first, not the institutions’ changes', async () => {
    const page = await get(t, operator, '/console/access-log');
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /<h1>Audit log<\/h1>/);
    assert.match(page.body, /aria-current="page"[^>]*>Audit log</);
    assert.deepEqual(kindsOf(page.body), ['Reveal', 'Reveal', 'Unlock', 'Lock', 'Reveal']);
    assert.ok(page.body.includes(`${OPERATOR.email} (operator)`));
    assert.match(page.body, /Blocked \(platform\) → Active/);
    assert.match(page.body, /Active \(institution\) → Blocked/);
    assert.ok(
      page.body.includes('Reason: chargeback &lt;script>alert(1)&lt;/script>'),
      'the reason, escaped',
    );
    assert.ok(!page.body.includes('<script>alert'), 'never as markup');
    assert.ok(page.body.includes(`${other.ownerEmail} (user)`), 'a partner user’s reveal');
    assert.equal(
      page.body.split(`/console/customers/${foreign.id}"`).length - 1,
      2,
      'two reveals of the foreign customer; its institution’s own Blocked is not there',
    );
    assert.equal(page.body.split(`/console/customers/${customer.id}"`).length - 1, 3);
  });

  it('filters by kind, institution and dates, every filter in the URL', async () => {
    const kinds = async (query: string) => {
      const page = await get(t, operator, `/console/access-log?${query}`);
      assert.equal(page.statusCode, 200, `${query}: ${page.body}`);
      return kindsOf(page.body);
    };
    assert.deepEqual(await kinds('kind=lock'), ['Lock']);
    assert.deepEqual(await kinds('kind=unlock'), ['Unlock']);
    assert.deepEqual(await kinds('kind=reveal'), ['Reveal', 'Reveal', 'Reveal']);
    assert.deepEqual(await kinds('kind=all'), ['Reveal', 'Reveal', 'Unlock', 'Lock', 'Reveal']);
    assert.deepEqual(await kinds(`institution=${acme.id}`), ['Unlock', 'Lock', 'Reveal']);
    assert.deepEqual(await kinds(`institution=${other.id}`), ['Reveal', 'Reveal']);
    assert.deepEqual(await kinds(`kind=lock&institution=${other.id}`), []);
    assert.deepEqual(await kinds(`from=${today()}&to=${today()}`), [
      'Reveal',
      'Reveal',
      'Unlock',
      'Lock',
      'Reveal',
    ]);
    assert.deepEqual(await kinds(`from=${dayOffset(1)}`), []);
    assert.deepEqual(await kinds(`to=${dayOffset(-1)}`), []);
    assert.deepEqual(await kinds(`kind=unlock&from=${dayOffset(-1)}&to=${dayOffset(1)}`), ['Unlock']);
    const filtered = await get(t, operator, `/console/access-log?kind=lock&from=${today()}`);
    assert.match(filtered.body, /<option value="lock" selected>Locks<\/option>/);
    assert.ok(filtered.body.includes(`value="${today()}"`));
    assert.ok(filtered.body.includes(`href="/console/access-log.csv?kind=lock&from=${today()}"`));
    assert.equal((await get(t, operator, '/console/access-log?kind=everything')).statusCode, 400);
    assert.equal((await get(t, operator, '/console/access-log?from=yesterday')).statusCode, 400);
  });

  it('exports the same entries and filters as CSV', async () => {
    const csv = await get(t, operator, '/console/access-log.csv');
    assert.equal(csv.statusCode, 200);
    assert.equal(csv.headers['content-type'], 'text/csv; charset=utf-8');
    assert.match(String(csv.headers['content-disposition']), /attachment; filename="audit-log.csv"/);
    const lines = csv.body.trimEnd().split('\r\n');
    assert.equal(
      lines[0],
      'occurredAt,kind,actorType,actorId,actorName,institutionId,customerId,fields,requestId,walletId,fromStatus,toStatus,reason',
    );
    assert.deepEqual(
      lines.slice(1).map((line) => line.split(',')[1]),
      ['reveal', 'reveal', 'unlock', 'lock', 'reveal'],
    );
    const operatorId = (
      await t.db.query<{ id: string }>('SELECT id FROM users WHERE lower(email) = $1', [OPERATOR.email])
    )[0]!.id;
    assert.equal(
      lines[4],
      [
        lines[4]!.split(',')[0],
        'lock',
        'operator',
        operatorId,
        OPERATOR.email,
        acme.id,
        customer.id,
        '',
        '',
        customer.walletId,
        'Active',
        'Blocked',
        'chargeback <script>alert(1)</script>',
      ].join(','),
    );
    assert.match(
      lines[5]!,
      new RegExp(`,reveal,operator,${operatorId},${OPERATOR.email},${acme.id},${customer.id},email,`),
    );
    const unlocks = await get(t, operator, `/console/access-log.csv?kind=unlock&institution=${acme.id}`);
    assert.deepEqual(
      unlocks.body
        .trimEnd()
        .split('\r\n')
        .slice(1)
        .map((line) => line.split(',')[1]),
      ['unlock'],
    );
    const none = await get(t, operator, `/console/access-log.csv?from=${dayOffset(1)}`);
    assert.equal(none.body.trimEnd().split('\r\n').length, 1, 'the header only');
  });

  it('pages through reveals and locks together, newest first, without losing or repeating one', async () => {
    const bank = await createInstitution(t);
    const target = await createCustomer(t, bank.owner);
    const token = await loginOperator(t);
    for (let i = 0; i < 12; i++) {
      assert.equal(
        (await submit(t, operator, `/console/customers/${target.id}/reveal`, { fields: 'email' })).statusCode,
        200,
      );
      const status = i % 2 === 0 ? 'Suspicious' : 'Active';
      const changed = await post(
        t,
        '/v2/admin/wallet/status',
        { walletId: target.walletId, status, reason: `step ${i}` },
        token,
      );
      assert.equal(changed.status, 200, JSON.stringify(changed.body));
    }
    const first = await get(t, operator, `/console/access-log?institution=${bank.id}`);
    assert.equal(kindsOf(first.body).length, 20);
    const next = /<a href="\/console\/access-log\?([^"]+)" rel="next">Older entries<\/a>/.exec(
      first.body,
    )?.[1];
    assert.ok(next, 'a link to the older entries');
    assert.match(next, new RegExp(`^institution=${bank.id}&before=`), 'keeping the filters');
    const second = await get(t, operator, `/console/access-log?${next}`);
    assert.equal(second.statusCode, 200);
    assert.equal(kindsOf(second.body).length, 4);
    assert.doesNotMatch(second.body, /rel="next"/);
    assert.match(second.body, /Newest entries/);
    const steps = (html: string) =>
      [...html.matchAll(/Reason: step (\d+)/g)].map((match) => Number(match[1]));
    assert.deepEqual(
      [...steps(first.body), ...steps(second.body)],
      [11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
      'each change once, newest first',
    );
    const csv = await get(t, operator, `/console/access-log.csv?institution=${bank.id}`);
    assert.equal(csv.body.trimEnd().split('\r\n').length, 25, 'the CSV has every page');
  });

  it('shows a partner only the operator’s reveals of its own customers, as page and as CSV', async () => {
    const partner = await signIn(t, {
      email: other.ownerEmail,
      password: other.ownerPassword,
      merchantId: other.id,
    });
    const page = await get(t, partner, '/console/access-log?kind=lock');
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /The platform’s access to your customers’ data/);
    assert.match(page.body, /aria-current="page"[^>]*>Platform access</);
    assert.doesNotMatch(page.body, /id="kind"|id="institution"/, 'no kind or institution filter');
    assert.ok(
      page.body.includes(`/console/customers/${foreign.id}"`),
      'the operator’s reveal of its customer',
    );
    assert.ok(page.body.includes(`${OPERATOR.email} (operator)`));
    assert.ok(page.body.includes('phoneNumber'));
    assert.ok(!page.body.includes(customer.id), 'not another institution’s customer');
    assert.ok(!page.body.includes('(user)'), 'not its own users’ reveals');
    assert.ok(!page.body.includes(other.ownerEmail + ' ('), 'its own Owner’s reveal is not listed');
    assert.doesNotMatch(page.body, /Blocked|Unlock/, 'no wallet changes');
    const csv = await get(t, partner, `/console/access-log.csv?institution=${acme.id}`);
    const lines = csv.body.trimEnd().split('\r\n');
    assert.equal(
      lines[0],
      'occurredAt,actorType,actorId,actorName,institutionId,customerId,fields,requestId',
    );
    assert.equal(lines.length, 2, 'its one entry, whatever the institution asked for');
    assert.match(
      lines[1]!,
      new RegExp(`,operator,[0-9a-f-]+,${OPERATOR.email},${other.id},${foreign.id},phoneNumber,`),
    );
  });
});
