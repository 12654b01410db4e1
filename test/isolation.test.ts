// Tenant isolation as a matrix: every institution route, called by institution B (with its owner's
// token and with its API key) on institution A's objects. B never sees, changes or references A's
// data, and A's rows and key are exactly as they were afterwards.
import assert from 'node:assert/strict';
import { STATUS_CODES } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { engine, startTestApp, type TestApp } from './support/app.js';
import {
  createApiKey,
  createCustomer,
  createInstitution,
  customerInput,
  loginOperator,
  post,
  unique,
  type Credentials,
  type Institution,
  type Response,
} from './support/client.js';

interface Side {
  institution: Institution;
  key: { id: string; apiKey: string };
}

interface World {
  /** A: a customer with every optional field, and a customer it referred. */
  a: Side & { customer: any; referred: any };
  /** B: a twin of A's customer (same email, phone, externalId, names, comment: allowed across institutions). */
  b: Side & { twin: any };
}

type Outcome =
  | { status: 200; sees: (w: World) => string[]; shows: string }
  | { status: number; code: string; field?: string };

interface Route {
  route: string;
  on: string;
  body: (w: World) => Record<string, unknown>;
  /** What B gets with its owner's token and with its API key. */
  owner: Outcome;
  apiKey: Outcome;
}

const customerNotFound: Outcome = { status: 404, code: 'CUSTOMER_NOT_FOUND' };
// An API key can never manage API keys, whoever's they are.
const keyCannotManageKeys: Outcome = { status: 403, code: 'FORBIDDEN' };
const seesTwinOnly: Outcome = { status: 200, sees: (w) => [w.b.twin.id], shows: "only B's own twin" };
const seesNothing: Outcome = { status: 200, sees: () => [], shows: 'nothing' };
const both = (outcome: Outcome) => ({ owner: outcome, apiKey: outcome });

const matrix: Route[] = [
  {
    route: '/v2/customer/details',
    on: "on A's customer",
    body: (w) => ({ id: w.a.customer.id }),
    ...both(customerNotFound),
  },
  {
    route: '/v2/customer/details',
    on: "on A's referred customer",
    body: (w) => ({ id: w.a.referred.id }),
    ...both(customerNotFound),
  },
  {
    route: '/v2/customer/update',
    on: "on A's customer's fields and wallet status",
    body: (w) => ({
      id: w.a.customer.id,
      firstName: 'Mallory',
      email: `${unique('mallory')}@mail.com`,
      comment: null,
      walletStatus: 'Blocked',
      walletStatusReason: 'taken over',
    }),
    ...both(customerNotFound),
  },
  {
    route: '/v2/customer/update',
    on: "on A's customer with only its id",
    body: (w) => ({ id: w.a.customer.id }),
    ...both(customerNotFound),
  },
  {
    route: '/v2/customer/create',
    on: "with a referralId of A's customer",
    body: (w) => customerInput({ referralId: w.a.customer.id }),
    ...both({ status: 400, code: 'REFERRAL_NOT_FOUND', field: 'referralId' }),
  },
  { route: '/v2/customer/find', on: 'with no filter', body: () => ({ take: 100 }), ...both(seesTwinOnly) },
  {
    route: '/v2/customer/find',
    on: "by A's customer's email",
    body: (w) => ({ email: w.a.customer.email }),
    ...both(seesTwinOnly),
  },
  {
    route: '/v2/customer/find',
    on: "by A's customer's walletId",
    body: (w) => ({ walletId: w.a.customer.walletId }),
    ...both(seesNothing),
  },
  {
    route: '/v2/customer/find',
    on: "by A's customer's externalId",
    body: (w) => ({ externalId: w.a.customer.externalId }),
    ...both(seesTwinOnly),
  },
  {
    route: '/v2/customer/find',
    on: "by A's customer's id as referralId",
    body: (w) => ({ referralId: w.a.customer.id }),
    ...both(seesNothing),
  },
  {
    route: '/v2/customer/find',
    on: "by A's customer's phoneNumber",
    body: (w) => ({ phoneNumber: w.a.customer.phoneNumber }),
    ...both(seesTwinOnly),
  },
  {
    route: '/v2/customer/find',
    on: "by A's customer's fullName",
    body: (w) => ({ fullName: `${w.a.customer.firstName} ${w.a.customer.lastName}` }),
    ...both(seesTwinOnly),
  },
  {
    route: '/v2/customer/find',
    on: "by A's customer's comment",
    body: (w) => ({ comment: w.a.customer.comment }),
    ...both(seesTwinOnly),
  },
  {
    route: '/v2/customer/find',
    on: "by A's referred customer's email, createdAt range and walletStatus",
    body: (w) => ({
      email: w.a.referred.email,
      createdFrom: w.a.customer.createdAt,
      createdTo: w.a.referred.createdAt,
      walletStatus: 'Active',
    }),
    ...both(seesNothing),
  },
  {
    route: '/v2/api-key/find',
    on: 'for all keys',
    body: () => ({}),
    owner: { status: 200, sees: (w) => [w.b.key.id], shows: "only B's own key" },
    apiKey: keyCannotManageKeys,
  },
  {
    route: '/v2/api-key/revoke',
    on: "on A's key",
    body: (w) => ({ id: w.a.key.id }),
    owner: { status: 404, code: 'NOT_FOUND' },
    apiKey: keyCannotManageKeys,
  },
];

const callers = [
  {
    name: "owner's token",
    outcome: (row: Route) => row.owner,
    as: (w: World): Credentials => w.b.institution.owner,
  },
  {
    name: 'API key',
    outcome: (row: Route) => row.apiKey,
    as: (w: World): Credentials => ({ apiKey: w.b.key.apiKey }),
  },
];

const describeOutcome = (outcome: Outcome): string =>
  'code' in outcome ? `${outcome.status} ${outcome.code}` : `200 listing ${outcome.shows}`;

describe(`institution isolation (${engine})`, () => {
  let t: TestApp;
  let operator: { token: string };

  before(async () => {
    t = await startTestApp();
    operator = await loginOperator(t);
  });

  after(async () => {
    await t.close();
  });

  async function buildWorld(): Promise<World> {
    const a = await createInstitution(t, operator);
    const b = await createInstitution(t, operator);
    const tag = unique('twin');
    const shared = {
      email: `Twin.${tag}@Mail.com`,
      firstName: 'Tess',
      lastName: `Twin${tag.replace(/[^A-Za-z0-9]/g, '')}`,
      phoneNumber: '+380991234567',
      externalId: `ext-${tag}`,
      comment: `note ${tag}`,
      itn: '633-123-92-12',
    };
    const customer = await createCustomer(t, a.owner, shared);
    const referred = await createCustomer(t, a.owner, { referralId: customer.id });
    const twin = await createCustomer(t, b.owner, shared);
    return {
      a: { institution: a, key: await createApiKey(t, a), customer, referred },
      b: { institution: b, key: await createApiKey(t, b), twin },
    };
  }

  /** Everything stored for an institution that a call could change (not lastUsedAt of keys). */
  async function snapshot(institutionId: string) {
    return {
      customers: await t.db.query(
        `SELECT c.*, w.id AS wallet_id, w.status, w.status_set_by, w.updated_at AS wallet_updated_at
           FROM customers c JOIN wallets w ON w.customer_id = c.id
          WHERE c.institution_id = $1 ORDER BY c.id`,
        [institutionId],
      ),
      statusChanges: await t.db.query(
        'SELECT id FROM wallet_status_changes WHERE institution_id = $1 ORDER BY id',
        [institutionId],
      ),
      apiKeys: await t.db.query(
        'SELECT id, name, scopes, revoked_at FROM api_keys WHERE institution_id = $1 ORDER BY id',
        [institutionId],
      ),
    };
  }

  function assertOutcome(response: Response, outcome: Outcome, w: World): void {
    assert.equal(response.status, outcome.status, JSON.stringify(response.body));
    if ('code' in outcome) {
      assert.equal(response.body.statusCode, outcome.status);
      assert.equal(response.body.error, STATUS_CODES[outcome.status]);
      assert.equal(response.body.code, outcome.code);
      assert.equal(response.body.data, undefined);
      if (outcome.field !== undefined) {
        const fields = (response.body.details ?? []).map((detail: { field: string }) => detail.field);
        assert.ok(fields.includes(outcome.field), JSON.stringify(response.body));
      }
      return;
    }
    const listed: string[] = response.body.data.map((item: { id: string }) => item.id);
    assert.deepEqual(listed, outcome.sees(w));
    const aIds = [w.a.customer.id, w.a.referred.id, w.a.key.id];
    assert.ok(!listed.some((id) => aIds.includes(id)), `A's objects leaked: ${JSON.stringify(listed)}`);
    if (response.body.meta !== undefined) assert.equal(response.body.meta.total, listed.length);
  }

  async function assertAStillWorks(w: World): Promise<void> {
    const details = await post(
      t,
      '/v2/customer/details',
      { id: w.a.customer.id },
      { apiKey: w.a.key.apiKey },
    );
    assert.equal(details.status, 200, `A's key should still work: ${JSON.stringify(details.body)}`);
    assert.deepEqual(details.body.data, w.a.customer);
    const keys = await post(t, '/v2/api-key/find', {}, w.a.institution.owner);
    assert.deepEqual(
      keys.body.data.map((key: { id: string; revokedAt: string | null }) => [key.id, key.revokedAt]),
      [[w.a.key.id, null]],
    );
  }

  for (const caller of callers) {
    for (const row of matrix) {
      const outcome = caller.outcome(row);
      it(`when B's ${caller.name} calls ${row.route} ${row.on}, then ${describeOutcome(outcome)} and A is untouched`, async () => {
        const w = await buildWorld();
        const aBefore = await snapshot(w.a.institution.id);
        const bBefore = await snapshot(w.b.institution.id);

        const response = await post(t, row.route, row.body(w), caller.as(w));

        assertOutcome(response, outcome, w);
        assert.deepEqual(await snapshot(w.a.institution.id), aBefore);
        assert.deepEqual(await snapshot(w.b.institution.id), bBefore);
        await assertAStillWorks(w);
      });
    }
  }
});
