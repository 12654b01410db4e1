// Operator accounts: login without merchant_id, institution creation, the operator-only routes
// (and who is refused them), and customer search and details across institutions.
import assert from 'node:assert/strict';
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

const unknownId = '0d3c4b8e-8f51-4a57-b0a4-6a1f2f3c9e77';

function assertError(response: Response, status: number, code: string, field?: string): void {
  assert.equal(response.status, status, JSON.stringify(response.body));
  assert.equal(response.body.statusCode, status);
  assert.equal(response.body.error, STATUS_CODES[status]);
  assert.equal(response.body.code, code);
  if (field !== undefined) {
    const fields = (response.body.details ?? []).map((detail: { field: string }) => detail.field);
    assert.ok(fields.includes(field), `details should name ${field}: ${JSON.stringify(response.body)}`);
  }
}

/** The claims of a JWT, read without verifying it. */
function claimsOf(token: string): Record<string, unknown> {
  const [, payload] = token.split('.');
  assert.ok(payload, 'a JWT has a payload part');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
}

function headerOf(token: string): Record<string, unknown> {
  const [header] = token.split('.');
  return JSON.parse(Buffer.from(header!, 'base64url').toString('utf8'));
}

const idsOf = (response: Response): string[] =>
  response.body.data.map((customer: { id: string }) => customer.id);

describe(`operator accounts (${engine})`, () => {
  let t: TestApp;
  let operator: { token: string };

  before(async () => {
    t = await startTestApp();
    operator = await loginOperator(t);
  });

  after(async () => {
    await t.close();
  });

  const login = (email: string, password: string, merchantId?: string) =>
    post(
      t,
      '/v2/auth/login',
      { token: email, password },
      undefined,
      merchantId === undefined ? {} : { merchant_id: merchantId },
    );

  const countRows = async (sql: string, params: unknown[] = []): Promise<number> => {
    const [row] = await t.db.query<{ count: number }>(`SELECT count(*)::int AS count FROM ${sql}`, params);
    return row!.count;
  };

  describe('login', () => {
    it('when an operator logs in without merchant_id, then the token says Operator and names no institution', async () => {
      const [stored] = await t.db.query<{ id: string }>(
        `SELECT id FROM users WHERE role = 'Operator' AND lower(email) = lower($1)`,
        [OPERATOR.email],
      );

      const response = await login(OPERATOR.email, OPERATOR.password);

      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.equal(response.body.data.tokenType, 'Bearer');
      assert.equal(response.body.data.expiresIn, 900);
      const token: string = response.body.data.accessToken;
      assert.ok(['RS256', 'EdDSA'].includes(headerOf(token).alg as string));
      const claims = claimsOf(token);
      assert.equal(claims.role, 'Operator');
      assert.equal(claims.email, OPERATOR.email);
      assert.equal(claims.sub, stored!.id);
      assert.equal(claims.id, stored!.id);
      assert.equal('merchantId' in claims, false);
      assert.equal('institution' in claims, false);
    });

    it('when an operator login sends a merchant_id, then it fails with 401 INVALID_CREDENTIALS', async () => {
      const institution = await createInstitution(t, operator);
      const tokensBefore = await countRows('refresh_tokens');

      for (const merchantId of [institution.id, unknownId, 'not-a-uuid']) {
        const response = await login(OPERATOR.email, OPERATOR.password, merchantId);
        assertError(response, 401, 'INVALID_CREDENTIALS');
        assert.equal(response.body.data, undefined);
      }
      assert.equal(await countRows('refresh_tokens'), tokensBefore);
    });

    it('when an institution user logs in without merchant_id, then it fails with 401 INVALID_CREDENTIALS', async () => {
      const institution = await createInstitution(t, operator);

      const response = await login(institution.ownerEmail, institution.ownerPassword);

      assertError(response, 401, 'INVALID_CREDENTIALS');
    });
  });

  describe('institution create', () => {
    it('when the operator creates an institution with an owner password, then the owner can log in with it', async () => {
      const title = unique('Acme Pay');
      const ownerEmail = `${unique('owner')}@acme.test`;
      const ownerPassword = 'a-long-owner-password';

      const response = await post(
        t,
        '/v2/admin/institution/create',
        { title, ownerEmail, ownerPassword },
        operator,
      );

      assert.equal(response.status, 201, JSON.stringify(response.body));
      const created = response.body.data;
      assert.deepEqual(Object.keys(created).sort(), ['createdAt', 'id', 'merchantId', 'owner', 'title']);
      assert.deepEqual(Object.keys(created.owner).sort(), ['email', 'id', 'password']);
      assert.match(created.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      assert.equal(created.merchantId, created.id);
      assert.equal(created.title, title);
      assert.match(created.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.equal(created.owner.email, ownerEmail);
      assert.equal(created.owner.password, null);

      const [institution] = await t.db.query<any>(
        'SELECT id, title, created_at FROM institutions WHERE id = $1',
        [created.id],
      );
      assert.equal(institution.title, title);
      assert.equal(new Date(institution.created_at).toISOString(), created.createdAt);
      const users = await t.db.query<any>(
        'SELECT id, email, role, password_hash FROM users WHERE institution_id = $1',
        [created.id],
      );
      assert.equal(users.length, 1);
      assert.equal(users[0].id, created.owner.id);
      assert.equal(users[0].email, ownerEmail);
      assert.equal(users[0].role, 'Owner');
      assert.ok(users[0].password_hash.startsWith('$argon2id$'), users[0].password_hash);
      assert.ok(!users[0].password_hash.includes(ownerPassword));

      const ownerLogin = await login(ownerEmail, ownerPassword, created.merchantId);
      assert.equal(ownerLogin.status, 200, JSON.stringify(ownerLogin.body));
      const claims = claimsOf(ownerLogin.body.data.accessToken);
      assert.equal(claims.role, 'Owner');
      assert.equal(claims.merchantId, created.id);
      assert.deepEqual(claims.institution, { id: created.id, title });
      assert.equal(claims.sub, created.owner.id);
    });

    it('when no owner password is given, then a generated one is returned once and works for login', async () => {
      const ownerEmail = `${unique('owner')}@acme.test`;

      const response = await post(
        t,
        '/v2/admin/institution/create',
        { title: unique('Generated'), ownerEmail },
        operator,
      );

      assert.equal(response.status, 201, JSON.stringify(response.body));
      const created = response.body.data;
      const password: string = created.owner.password;
      assert.equal(typeof password, 'string');
      assert.ok(password.length >= 12, 'a generated password is at least as long as a chosen one');
      const [user] = await t.db.query<any>('SELECT password_hash FROM users WHERE id = $1', [
        created.owner.id,
      ]);
      assert.ok(user.password_hash.startsWith('$argon2id$'), user.password_hash);
      assert.ok(!user.password_hash.includespassword);

      const ownerLogin = await login(ownerEmail, password, created.merchantId);
      assert.equal(ownerLogin.status, 200, JSON.stringify(ownerLogin.body));
      const wrong = await login(ownerEmail, `${password}x`, created.merchantId);
      assertError(wrong, 401, 'INVALID_CREDENTIALS');
    });

    it('when two institutions are created without owner passwords, then each gets its own password', async () => {
      const first = await post(
        t,
        '/v2/admin/institution/create',
        { title: unique('One'), ownerEmail: `${unique('owner')}@acme.test` },
        operator,
      );
      const second = await post(
        t,
        '/v2/admin/institution/create',
        { title: unique('Two'), ownerEmail: `${unique('owner')}@acme.test` },
        operator,
      );

      assert.equal(first.status, 201);
      assert.equal(second.status, 201);
      assert.notEqual(first.body.data.owner.password, second.body.data.owner.password);
      assert.notEqual(first.body.data.id, second.body.data.id);
    });

    it('when the owner password has exactly 12 characters, then it is accepted', async () => {
      const ownerEmail = `${unique('owner')}@acme.test`;

      const response = await post(
        t,
        '/v2/admin/institution/create',
        { title: unique('Twelve'), ownerEmail, ownerPassword: '123456789012' },
        operator,
      );

      assert.equal(response.status, 201, JSON.stringify(response.body));
      assert.equal(response.body.data.owner.password, null);
      const ownerLogin = await login(ownerEmail, '123456789012', response.body.data.merchantId);
      assert.equal(ownerLogin.status, 200, JSON.stringify(ownerLogin.body));
    });

    const invalidBodies: { when: string; body: Record<string, unknown>; field: string }[] = [
      { when: 'title is missing', body: { title: undefined }, field: 'title' },
      { when: 'title is empty', body: { title: '' }, field: 'title' },
      { when: 'title is only spaces', body: { title: '   ' }, field: 'title' },
      { when: 'title is longer than 200 characters', body: { title: 'T'.repeat(201) }, field: 'title' },
      { when: 'title is a number', body: { title: 42 }, field: 'title' },
      { when: 'ownerEmail is missing', body: { ownerEmail: undefined }, field: 'ownerEmail' },
      { when: 'ownerEmail is not an address', body: { ownerEmail: 'owner-at-acme' }, field: 'ownerEmail' },
      {
        when: 'ownerEmail is longer than 254 characters',
        body: { ownerEmail: `${'o'.repeat(250)}@acme.test` },
        field: 'ownerEmail',
      },
      {
        when: 'ownerPassword has 11 characters',
        body: { ownerPassword: '12345678901' },
        field: 'ownerPassword',
      },
      { when: 'ownerPassword is empty', body: { ownerPassword: '' }, field: 'ownerPassword' },
      {
        when: 'ownerPassword is a number',
        body: { ownerPassword: 123456789012345 },
        field: 'ownerPassword',
      },
      { when: 'an unknown field is sent', body: { plan: 'gold' }, field: 'plan' },
    ];

    for (const { when, body, field } of invalidBodies) {
      it(`when ${when}, then institution create is 400 VALIDATION_ERROR naming ${field} and stores nothing`, async () => {
        const ownerEmail = `${unique('owner')}@acme.test`;
        const institutionsBefore = await countRows('institutions');

        const response = await post(
          t,
          '/v2/admin/institution/create',
          { title: unique('Invalid'), ownerEmail, ownerPassword: 'a-long-owner-password', ...body },
          operator,
        );

        assertError(response, 400, 'VALIDATION_ERROR', field);
        assert.equal(await countRows('institutions'), institutionsBefore);
        assert.equal(await countRows('users WHERE lower(email) = lower($1)', [ownerEmail]), 0);
      });
    }
  });

  describe('who may use the operator routes', () => {
    const adminRoutes: {
      route: string;
      body: (context: { walletId: string; customerId: string }) => Record<string, unknown>;
    }[] = [
      {
        route: '/v2/admin/institution/create',
        body: () => ({ title: unique('Sneaky'), ownerEmail: `${unique('sneaky')}@acme.test` }),
      },
      {
        route: '/v2/admin/wallet/status',
        body: ({ walletId }) => ({ walletId, status: 'Blocked', reason: 'not allowed' }),
      },
      { route: '/v2/admin/customer/find', body: () => ({}) },
      { route: '/v2/admin/customer/details', body: ({ customerId }) => ({ id: customerId }) },
    ];
    const institutionCallers = ['owner token', 'API key'] as const;

    for (const caller of institutionCallers) {
      for (const { route, body } of adminRoutes) {
        it(`when an institution's ${caller} calls ${route}, then it is 403 FORBIDDEN and nothing changes`, async () => {
          const institution = await createInstitution(t, operator);
          const key = await createApiKey(t, institution);
          const credentials: Credentials = caller === 'API key' ? { apiKey: key.apiKey } : institution.owner;
          const customer = await createCustomer(t, institution.owner);
          const institutionsBefore = await countRows('institutions');

          const response = await post(
            t,
            route,
            body({ walletId: customer.walletId, customerId: customer.id }),
            credentials,
          );

          assertError(response, 403, 'FORBIDDEN');
          assert.equal(response.body.data, undefined);
          assert.equal(await countRows('institutions'), institutionsBefore);
          const [wallet] = await t.db.query<any>('SELECT status, status_set_by FROM wallets WHERE id = $1', [
            customer.walletId,
          ]);
          assert.deepEqual({ ...wallet }, { status: 'Active', status_set_by: 'institution' });
          assert.equal(await countRows('wallet_status_changes WHERE wallet_id = $1', [customer.walletId]), 0);
        });
      }
    }

    const institutionRoutes: {
      route: string;
      body: (context: { customerId: string; apiKeyId: string }) => Record<string, unknown>;
    }[] = [
      { route: '/v2/customer/create', body: () => customerInput() },
      {
        route: '/v2/customer/update',
        body: ({ customerId }) => ({ id: customerId, firstName: 'Changed', walletStatus: 'Blocked' }),
      },
      { route: '/v2/customer/details', body: ({ customerId }) => ({ id: customerId }) },
      { route: '/v2/customer/find', body: () => ({}) },
      { route: '/v2/api-key/create', body: () => ({ name: 'operator-key' }) },
      { route: '/v2/api-key/find', body: () => ({}) },
      { route: '/v2/api-key/revoke', body: ({ apiKeyId }) => ({ id: apiKeyId }) },
    ];

    for (const { route, body } of institutionRoutes) {
      it(`when the operator calls ${route}, then it is 403 FORBIDDEN and nothing changes`, async () => {
        const institution = await createInstitution(t, operator);
        const customer = await createCustomer(t, institution.owner);
        const key = await createApiKey(t, institution);
        const customersBefore = await countRows('customers');
        const keysBefore = await countRows('api_keys');

        const response = await post(t, route, body({ customerId: customer.id, apiKeyId: key.id }), operator);

        assertError(response, 403, 'FORBIDDEN');
        assert.equal(response.body.data, undefined);
        assert.equal(await countRows('customers'), customersBefore);
        assert.equal(await countRows('api_keys'), keysBefore);
        const [row] = await t.db.query<any>(
          `SELECT c.first_name, w.status FROM customers c JOIN wallets w ON w.customer_id = c.id WHERE c.id = $1`,
          [customer.id],
        );
        assert.deepEqual({ ...row }, { first_name: customer.firstName, status: 'Active' });
        assert.equal(await countRows('api_keys WHERE id = $1 AND revoked_at IS NULL', [key.id]), 1);
      });
    }
  });

  describe('customers across institutions', () => {
    /** Two institutions, two customers each, all sharing a last name no other test uses. */
    async function seedTwoInstitutions() {
      const tag = unique('Across').replace(/[^A-Za-z0-9]/g, '');
      const a = await createInstitution(t, operator);
      const b = await createInstitution(t, operator);
      const sharedEmail = `shared.${tag}@Mail.com`;
      const a1 = await createCustomer(t, a.owner, {
        email: sharedEmail,
        firstName: 'Anna',
        lastName: tag,
        phoneNumber: '+380991234567',
        comment: `vip ${tag}`,
      });
      const a2 = await createCustomer(t, a.owner, { firstName: 'Artem', lastName: tag, referralId: a1.id });
      const b1 = await createCustomer(t, b.owner, {
        email: sharedEmail.toLowerCase(),
        firstName: 'Boris',
        lastName: tag,
        phoneNumber: '+380991234567',
        externalId: `ext-${tag}`,
      });
      const b2 = await createCustomer(t, b.owner, { firstName: 'Bella', lastName: tag });
      const blocked = await post(t, '/v2/customer/update', { id: b2.id, walletStatus: 'Blocked' }, b.owner);
      assert.equal(blocked.status, 200, JSON.stringify(blocked.body));
      const withInstitution = (customer: any, institutionId: string) => ({ ...customer, institutionId });
      return {
        tag,
        a,
        b,
        a1: withInstitution(a1, a.id),
        a2: withInstitution(a2, a.id),
        b1: withInstitution(b1, b.id),
        b2: withInstitution(blocked.body.data, b.id),
      };
    }

    const adminFind = async (body: Record<string, unknown>) => {
      const response = await post(t, '/v2/admin/customer/find', body, operator);
      assert.equal(response.status, 200, JSON.stringify(response.body));
      return response;
    };

    it('when the operator finds without institutionId, then customers of every institution are listed with their institutionId', async () => {
      const s = await seedTwoInstitutions();

      const response = await adminFind({ fullName: s.tag });

      assert.deepEqual(new Set(idsOf(response)), new Set([s.a1.id, s.a2.id, s.b1.id, s.b2.id]));
      assert.deepEqual(response.body.meta, { total: 4, take: 20, skip: 0, nextCursor: null });
      for (const expected of [s.a1, s.a2, s.b1, s.b2]) {
        const listed = response.body.data.find((customer: { id: string }) => customer.id === expected.id);
        assert.deepEqual(listed, expected);
      }
      const order = response.body.data.map((customer: { createdAt: string; id: string }) => [
        customer.createdAt,
        customer.id,
      ]);
      const sorted = [...order].sort((x, y) =>
        x[0] === y[0] ? (x[1] < y[1] ? 1 : -1) : x[0] < y[0] ? 1 : -1,
      );
      assert.deepEqual(order, sorted);
    });

    it('when the operator filters by institutionId, then only that institution’s customers are listed', async () => {
      const s = await seedTwoInstitutions();

      const onlyA = await adminFind({ institutionId: s.a.id });
      const onlyB = await adminFind({ institutionId: s.b.id, take: 1 });

      assert.deepEqual(new Set(idsOf(onlyA)), new Set([s.a1.id, s.a2.id]));
      assert.deepEqual(onlyA.body.meta, { total: 2, take: 20, skip: 0, nextCursor: null });
      assert.ok(
        onlyA.body.data.every((customer: { institutionId: string }) => customer.institutionId === s.a.id),
      );
      assert.equal(onlyB.body.data.length, 1);
      assert.equal(onlyB.body.data[0].institutionId, s.b.id);
      assert.deepEqual(onlyB.body.meta, { total: 2, take: 1, skip: 0, nextCursor: onlyB.body.data[0].id });
      const [stored] = await t.db.query<{ count: number }>(
        'SELECT count(*)::int AS count FROM customers WHERE institution_id = $1',
        [s.a.id],
      );
      assert.equal(stored!.count, onlyA.body.meta.total);
    });

    const adminFilterCases: {
      when: string;
      filter: (s: Awaited<ReturnType<typeof seedTwoInstitutions>>) => Record<string, unknown>;
      then: ('a1' | 'a2' | 'b1' | 'b2')[];
    }[] = [
      {
        when: 'email in another case',
        filter: (s) => ({ email: s.a1.email.toUpperCase() }),
        then: ['a1', 'b1'],
      },
      {
        when: 'email and institutionId',
        filter: (s) => ({ email: s.a1.email, institutionId: s.b.id }),
        then: ['b1'],
      },
      {
        when: 'phoneNumber written loosely',
        filter: (s) => ({ phoneNumber: '+38 (099) 123-45-67', fullName: s.tag }),
        then: ['a1', 'b1'],
      },
      { when: 'walletId', filter: (s) => ({ walletId: s.b2.walletId }), then: ['b2'] },
      {
        when: 'walletId of a customer of another institution than institutionId',
        filter: (s) => ({ walletId: s.b2.walletId, institutionId: s.a.id }),
        then: [],
      },
      { when: 'externalId', filter: (s) => ({ externalId: `ext-${s.tag}` }), then: ['b1'] },
      { when: 'referralId', filter: (s) => ({ referralId: s.a1.id }), then: ['a2'] },
      { when: 'comment', filter: (s) => ({ comment: `VIP ${s.tag}` }), then: ['a1'] },
      { when: 'walletStatus', filter: (s) => ({ walletStatus: 'Blocked', fullName: s.tag }), then: ['b2'] },
      {
        when: 'fullName across the space',
        filter: (s) => ({ fullName: `ris ${s.tag}` }),
        then: ['b1'],
      },
      {
        when: 'createdFrom and createdTo around one customer',
        filter: (s) => ({
          createdFrom: s.b1.createdAt,
          createdTo: s.b1.createdAt,
          fullName: `Boris ${s.tag}`,
        }),
        then: ['b1'],
      },
    ];

    for (const { when, filter, then } of adminFilterCases) {
      it(`when the operator filters by ${when}, then exactly the matching customers are listed`, async () => {
        const s = await seedTwoInstitutions();

        const response = await adminFind(filter(s));

        assert.deepEqual(new Set(idsOf(response)), new Set(then.map((name) => s[name].id)));
        assert.equal(response.body.meta.total, then.length);
        for (const customer of response.body.data) {
          const expected = [s.a1, s.a2, s.b1, s.b2].find((candidate) => candidate.id === customer.id);
          assert.deepEqual(customer, expected);
        }
      });
    }

    it('when the operator pages through the results, then pages do not overlap and totals hold', async () => {
      const s = await seedTwoInstitutions();

      const all = await adminFind({ fullName: s.tag });
      const pages = [];
      for (const skip of [0, 2, 4]) pages.push(await adminFind({ fullName: s.tag, take: 2, skip }));

      assert.deepEqual(
        pages.map((page) => page.body.meta),
        [0, 2, 4].map((skip) => ({
          total: 4,
          take: 2,
          skip,
          nextCursor: skip === 0 ? (idsOf(all)[1] ?? null) : null,
        })),
      );
      assert.deepEqual(pages.flatMap(idsOf), idsOf(all));
      assert.deepEqual(pages[2]!.body.data, []);
    });

    it('when the operator pages by cursor, then the pages follow each other across institutions', async () => {
      const s = await seedTwoInstitutions();

      const all = idsOf(await adminFind({ fullName: s.tag }));
      const first = await adminFind({ fullName: s.tag, take: 3 });
      const second = await adminFind({ fullName: s.tag, take: 3, startingAfter: first.body.meta.nextCursor });

      assert.deepEqual(idsOf(first), all.slice(0, 3));
      assert.equal(first.body.meta.nextCursor, all[2]);
      assert.deepEqual(idsOf(second), all.slice(3));
      assert.equal(second.body.meta.nextCursor, null);
    });

    it('when the operator lists without a term, then every institution’s newest customers merge into one order, by skip and by cursor', async () => {
      // No name or exact term: each institution's newest matches are read from its own index and
      // merged (customers.repository.ts), which these pages must not tell from one sorted list.
      const institutions = [
        await createInstitution(t, operator),
        await createInstitution(t, operator),
        await createInstitution(t, operator),
      ];
      const owners = [0, 1, 2, 0, 0, 1, 2, 2, 0].map((index) => institutions[index]!.owner);
      const created: Awaited<ReturnType<typeof createCustomer>>[] = [];
      for (const owner of owners) created.push(await createCustomer(t, owner));
      for (const index of [1, 4, 8]) {
        const update = { id: created[index]!.id, walletStatus: 'Blocked' };
        assert.equal((await post(t, '/v2/customer/update', update, owners[index])).status, 200);
      }
      const createdFrom = created[0]!.createdAt;
      const expected = async (status?: string) =>
        (
          await t.db.query<{ id: string }>(
            `SELECT c.id FROM customers c JOIN wallets w ON w.customer_id = c.id
              WHERE c.created_at >= $1 AND ($2::text IS NULL OR w.status = $2)
              ORDER BY c.created_at DESC, c.id DESC`,
            [createdFrom, status ?? null],
          )
        ).map((row) => row.id);
      const everyone = await expected();
      assert.equal(everyone.length, created.length);

      const all = await adminFind({ createdFrom });
      const bySkip = [];
      for (const skip of [0, 4, 8]) bySkip.push(...idsOf(await adminFind({ createdFrom, take: 4, skip })));
      const byCursor = [];
      let cursor: string | null = null;
      do {
        const page: Response = await adminFind({
          createdFrom,
          take: 2,
          ...(cursor ? { startingAfter: cursor } : {}),
        });
        byCursor.push(...idsOf(page));
        cursor = page.body.meta.nextCursor;
      } while (cursor !== null);

      assert.deepEqual(idsOf(all), everyone);
      assert.equal(all.body.meta.total, everyone.length);
      assert.deepEqual(bySkip, everyone);
      assert.deepEqual(byCursor, everyone);
      const blocked = await adminFind({ createdFrom, walletStatus: 'Blocked', take: 2 });
      const blockedNext = await adminFind({
        createdFrom,
        walletStatus: 'Blocked',
        take: 2,
        startingAfter: blocked.body.meta.nextCursor,
      });
      assert.deepEqual([...idsOf(blocked), ...idsOf(blockedNext)], await expected('Blocked'));
      assert.equal((await expected('Blocked')).length, 3);
    });

    it(
      'when the service talks to a PostgreSQL server, then its sessions never JIT-compile (a merged list’s estimate once set it off) and keep their schema',
      { skip: engine !== 'postgres' && 'PGlite has no JIT' },
      async () => {
        const [settings] = await t.db.query<{ jit: string; schema: string }>(
          "SELECT current_setting('jit') AS jit, current_schema() AS schema",
        );

        assert.ok(settings);
        assert.equal(settings.jit, 'off');
        assert.match(settings.schema, /^test_/);
      },
    );

    it('when the operator filters by an institution with no customers, then the total is 0', async () => {
      const empty = await createInstitution(t, operator);

      const response = await adminFind({ institutionId: empty.id });

      assert.deepEqual(response.body, { data: [], meta: { total: 0, take: 20, skip: 0, nextCursor: null } });
    });

    const invalidAdminFinds: { when: string; body: Record<string, unknown>; field: string }[] = [
      { when: 'institutionId is not a UUID', body: { institutionId: 'acme' }, field: 'institutionId' },
      { when: 'take is 101', body: { take: 101 }, field: 'take' },
      { when: 'take is the string "10"', body: { take: '10' }, field: 'take' },
      { when: 'skip is -1', body: { skip: -1 }, field: 'skip' },
      { when: 'an unknown filter is sent', body: { merchant: 'acme' }, field: 'merchant' },
    ];

    for (const { when, body, field } of invalidAdminFinds) {
      it(`when ${when}, then admin find is 400 VALIDATION_ERROR naming ${field}`, async () => {
        const response = await post(t, '/v2/admin/customer/find', body, operator);

        assertError(response, 400, 'VALIDATION_ERROR', field);
      });
    }

    it("when the operator asks for any institution's customer, then details returns it with institutionId", async () => {
      const s = await seedTwoInstitutions();

      const fromA = await post(t, '/v2/admin/customer/details', { id: s.a2.id }, operator);
      const fromB = await post(t, '/v2/admin/customer/details', { id: s.b2.id }, operator);
      const ownView = await post(t, '/v2/customer/details', { id: s.b2.id }, s.b.owner);

      assert.equal(fromA.status, 200, JSON.stringify(fromA.body));
      assert.deepEqual(fromA.body.data, s.a2);
      assert.equal(fromB.status, 200, JSON.stringify(fromB.body));
      assert.deepEqual(fromB.body.data, { ...ownView.body.data, institutionId: s.b.id });
      assert.equal(fromB.body.data.walletStatus, 'Blocked');
    });

    it('when the operator asks for an unknown customer, then details is 404 CUSTOMER_NOT_FOUND', async () => {
      const response = await post(t, '/v2/admin/customer/details', { id: unknownId }, operator);

      assertError(response, 404, 'CUSTOMER_NOT_FOUND');
    });

    it('when the operator asks for details with an id that is not a UUID, then it is 400 naming id', async () => {
      const response = await post(t, '/v2/admin/customer/details', { id: 'customer-1' }, operator);

      assertError(response, 400, 'VALIDATION_ERROR', 'id');
    });
  });
});
