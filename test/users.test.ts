// Institution users and roles: Owners manage users; Admins manage customers and API keys;
// Viewers only read. Deactivation and password changes end sessions at once. No one reaches
// another institution's users.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engine, OPERATOR, startTestApp, type TestApp } from './support/app.js';
import {
  createApiKey,
  createCustomer,
  createInstitution,
  customerInput,
  post,
  unique,
  type Institution,
} from './support/client.js';

describe(`users and roles (${engine})`, () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t.close();
  });

  async function addUser(institution: Institution, role: string, password?: string) {
    const email = `${unique(role.toLowerCase())}@acme.test`;
    const response = await post(
      t,
      '/v2/user/create',
      { email, role, ...(password === undefined ? {} : { password }) },
      institution.owner,
    );
    assert.equal(response.status, 201, JSON.stringify(response.body));
    return { ...response.body.data, email, password: password ?? response.body.data.password };
  }

  async function login(institution: Institution, email: string, password: string) {
    return post(t, '/v2/auth/login', { token: email, password }, undefined, { merchant_id: institution.id });
  }

  async function tokensOf(institution: Institution, email: string, password: string) {
    const response = await login(institution, email, password);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body.data as { accessToken: string; refreshToken: string };
  }

  it('when an Owner creates a user without a password, then one is generated, shown once, and works', async () => {
    const institution = await createInstitution(t);

    const user = await addUser(institution, 'Viewer');

    assert.deepEqual(Object.keys(user).sort(), [
      'createdAt',
      'deactivatedAt',
      'email',
      'id',
      'password',
      'role',
    ]);
    assert.equal(user.role, 'Viewer');
    assert.equal(user.deactivatedAt, null);
    assert.ok(typeof user.password === 'string' && user.password.length >= 20);
    const [row] = await t.db.query<{ password_hash: string; institution_id: string; role: string }>(
      'SELECT password_hash, institution_id, role FROM users WHERE id = $1',
      [user.id],
    );
    assert.match(row!.password_hash, /^\$argon2id\$/);
    assert.ok(!row!.password_hash.includes(user.password));
    assert.deepEqual([row!.institution_id, row!.role], [institution.id, 'Viewer']);
    assert.equal((await login(institution, user.email, user.password)).status, 200);
  });

  it('when a password is given, then it is not returned', async () => {
    const institution = await createInstitution(t);
    const response = await post(
      t,
      '/v2/user/create',
      { email: `${unique('admin')}@acme.test`, role: 'Admin', password: 'a-good-long-password' },
      institution.owner,
    );

    assert.equal(response.status, 201);
    assert.equal(response.body.data.password, null);
  });

  it('when the email is taken in the institution in any letter case, then 409 USER_EMAIL_TAKEN; another institution may use it', async () => {
    const institution = await createInstitution(t);
    const other = await createInstitution(t);
    const user = await addUser(institution, 'Admin');

    const taken = await post(
      t,
      '/v2/user/create',
      { email: user.email.toUpperCase(), role: 'Viewer' },
      institution.owner,
    );
    const elsewhere = await post(t, '/v2/user/create', { email: user.email, role: 'Viewer' }, other.owner);

    assert.equal(taken.status, 409);
    assert.equal(taken.body.code, 'USER_EMAIL_TAKEN');
    assert.equal(taken.body.details[0].field, 'email');
    assert.equal(elsewhere.status, 201);
  });

  it('when the body is invalid, then 400 VALIDATION_ERROR names the field and no user is stored', async () => {
    const institution = await createInstitution(t);
    const cases: [Record<string, unknown>, string][] = [
      [{ email: 'not-an-email', role: 'Viewer' }, 'email'],
      [{ email: 'a@acme.test', role: 'Operator' }, 'role'],
      [{ email: 'a@acme.test', role: 'viewer' }, 'role'],
      [{ email: 'a@acme.test', role: 'Viewer', password: 'short' }, 'password'],
      [{ email: 'a@acme.test' }, 'role'],
      [{ email: 'a@acme.test', role: 'Viewer', extra: 1 }, 'extra'],
    ];
    for (const [body, field] of cases) {
      const response = await post(t, '/v2/user/create', body, institution.owner);
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.equal(response.body.details[0].field, field);
    }
    const rows = await t.db.query('SELECT id FROM users WHERE institution_id = $1', [institution.id]);
    assert.equal(rows.length, 1, 'only the owner');
  });

  it("when an Owner lists users, then it sees its institution's users without secrets, and no one else's", async () => {
    const institution = await createInstitution(t);
    const other = await createInstitution(t);
    const viewer = await addUser(institution, 'Viewer');
    await addUser(other, 'Admin');

    const response = await post(t, '/v2/user/find', {}, institution.owner);

    assert.equal(response.status, 200);
    const emails = response.body.data.map((user: { email: string }) => user.email);
    assert.deepEqual(emails, [viewer.email, institution.ownerEmail]);
    for (const user of response.body.data) {
      assert.deepEqual(Object.keys(user).sort(), ['createdAt', 'deactivatedAt', 'email', 'id', 'role']);
    }
  });

  it('when an Admin, a Viewer or an API key calls a user route, then it gets 403 FORBIDDEN', async () => {
    const institution = await createInstitution(t);
    const admin = await addUser(institution, 'Admin');
    const viewer = await addUser(institution, 'Viewer');
    const { apiKey } = await createApiKey(t, institution);
    const callers = [
      { token: (await tokensOf(institution, admin.email, admin.password)).accessToken },
      { token: (await tokensOf(institution, viewer.email, viewer.password)).accessToken },
      { apiKey },
    ];
    for (const caller of callers) {
      assert.equal(
        (await post(t, '/v2/user/create', { email: 'x@acme.test', role: 'Viewer' }, caller)).status,
        403,
      );
      assert.equal((await post(t, '/v2/user/find', {}, caller)).status, 403);
      assert.equal((await post(t, '/v2/user/deactivate', { id: viewer.id }, caller)).status, 403);
    }
    const [row] = await t.db.query<{ deactivated_at: Date | null }>(
      'SELECT deactivated_at FROM users WHERE id = $1',
      [viewer.id],
    );
    assert.equal(row!.deactivated_at, null);
  });

  it('when a Viewer works with customers, then it can read them but not change anything', async () => {
    const institution = await createInstitution(t);
    const customer = await createCustomer(t, institution.owner);
    const viewer = await addUser(institution, 'Viewer');
    const token = { token: (await tokensOf(institution, viewer.email, viewer.password)).accessToken };

    assert.equal((await post(t, '/v2/customer/details', { id: customer.id }, token)).status, 200);
    assert.equal((await post(t, '/v2/customer/find', {}, token)).status, 200);
    const create = await post(t, '/v2/customer/create', customerInput(), token);
    const update = await post(t, '/v2/customer/update', { id: customer.id, firstName: 'Changed' }, token);
    const key = await post(t, '/v2/api-key/create', { name: 'x' }, token);

    assert.deepEqual(
      [create, update, key].map((response) => [response.status, response.body.code]),
      [
        [403, 'FORBIDDEN'],
        [403, 'FORBIDDEN'],
        [403, 'FORBIDDEN'],
      ],
    );
    const [row] = await t.db.query<{ first_name: string }>('SELECT first_name FROM customers WHERE id = $1', [
      customer.id,
    ]);
    assert.equal(row!.first_name, 'Alex');
  });

  it('when an Admin works, then it can change customers and create API keys', async () => {
    const institution = await createInstitution(t);
    const admin = await addUser(institution, 'Admin');
    const token = { token: (await tokensOf(institution, admin.email, admin.password)).accessToken };

    assert.equal((await post(t, '/v2/customer/create', customerInput(), token)).status, 201);
    assert.equal((await post(t, '/v2/api-key/create', { name: 'admin key' }, token)).status, 201);
  });

  it('when an Owner deactivates a user, then their tokens and password stop working at once', async () => {
    const institution = await createInstitution(t);
    const admin = await addUser(institution, 'Admin');
    const session = await tokensOf(institution, admin.email, admin.password);

    const response = await post(t, '/v2/user/deactivate', { id: admin.id }, institution.owner);

    assert.equal(response.status, 200);
    assert.ok(typeof response.body.data.deactivatedAt === 'string');
    assert.equal((await post(t, '/v2/customer/find', {}, { token: session.accessToken })).status, 401);
    assert.equal((await post(t, '/v2/auth/refresh', { refreshToken: session.refreshToken })).status, 401);
    assert.equal((await login(institution, admin.email, admin.password)).status, 401);
    const open = await t.db.query('SELECT id FROM auth_sessions WHERE user_id = $1 AND revoked_at IS NULL', [
      admin.id,
    ]);
    assert.equal(open.length, 0);
  });

  it("when an Owner deactivates another institution's user or itself, then 404 or 400 and nothing changes", async () => {
    const institution = await createInstitution(t);
    const other = await createInstitution(t);
    const foreign = await addUser(other, 'Admin');
    const [owner] = await t.db.query<{ id: string }>('SELECT id FROM users WHERE institution_id = $1', [
      institution.id,
    ]);

    const foreignAttempt = await post(t, '/v2/user/deactivate', { id: foreign.id }, institution.owner);
    const selfAttempt = await post(t, '/v2/user/deactivate', { id: owner!.id }, institution.owner);

    assert.deepEqual([foreignAttempt.status, foreignAttempt.body.code], [404, 'NOT_FOUND']);
    assert.deepEqual([selfAttempt.status, selfAttempt.body.details[0].field], [400, 'id']);
    assert.equal((await login(other, foreign.email, foreign.password)).status, 200);
    assert.equal((await post(t, '/v2/customer/find', {}, institution.owner)).status, 200);
  });

  it('when a user changes their password with the right old one, then every session ends and only the new password works', async () => {
    const institution = await createInstitution(t);
    const viewer = await addUser(institution, 'Viewer', 'first-password-123');
    const first = await tokensOf(institution, viewer.email, 'first-password-123');
    const second = await tokensOf(institution, viewer.email, 'first-password-123');

    const response = await post(
      t,
      '/v2/user/change-password',
      { oldPassword: 'first-password-123', newPassword: 'second-password-456' },
      { token: first.accessToken },
    );

    assert.equal(response.status, 200);
    assert.deepEqual(response.body, { data: { passwordChanged: true } });
    for (const session of [first, second]) {
      assert.equal((await post(t, '/v2/customer/find', {}, { token: session.accessToken })).status, 401);
      assert.equal((await post(t, '/v2/auth/refresh', { refreshToken: session.refreshToken })).status, 401);
    }
    assert.equal((await login(institution, viewer.email, 'first-password-123')).status, 401);
    assert.equal((await login(institution, viewer.email, 'second-password-456')).status, 200);
  });

  it('when the old password is wrong or the new one too short, then nothing changes', async () => {
    const institution = await createInstitution(t);
    const wrong = await post(
      t,
      '/v2/user/change-password',
      { oldPassword: 'not-the-password', newPassword: 'second-password-456' },
      institution.owner,
    );
    const short = await post(
      t,
      '/v2/user/change-password',
      { oldPassword: institution.ownerPassword, newPassword: 'short' },
      institution.owner,
    );

    assert.deepEqual([wrong.status, wrong.body.code], [401, 'INVALID_CREDENTIALS']);
    assert.deepEqual([short.status, short.body.details[0].field], [400, 'newPassword']);
    assert.equal(
      (await post(t, '/v2/customer/find', {}, institution.owner)).status,
      200,
      'the session is intact',
    );
    assert.equal((await login(institution, institution.ownerEmail, institution.ownerPassword)).status, 200);
  });

  it('when an API key tries to change a password, then 403; an operator can change its own', async () => {
    const institution = await createInstitution(t);
    const { apiKey } = await createApiKey(t, institution);
    const keyAttempt = await post(
      t,
      '/v2/user/change-password',
      { oldPassword: 'x', newPassword: 'second-password-456' },
      { apiKey },
    );
    assert.equal(keyAttempt.status, 403);

    const operator = await post(t, '/v2/auth/login', { token: OPERATOR.email, password: OPERATOR.password });
    const changed = await post(
      t,
      '/v2/user/change-password',
      { oldPassword: OPERATOR.password, newPassword: OPERATOR.password + '-new' },
      { token: operator.body.data.accessToken },
    );
    assert.equal(changed.status, 200);
    // Put it back for the other tests of this file.
    const again = await post(t, '/v2/auth/login', {
      token: OPERATOR.email,
      password: OPERATOR.password + '-new',
    });
    const restored = await post(
      t,
      '/v2/user/change-password',
      { oldPassword: OPERATOR.password + '-new', newPassword: OPERATOR.password },
      { token: again.body.data.accessToken },
    );
    assert.equal(restored.status, 200);
  });
});
