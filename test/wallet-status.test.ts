// Wallet status: who may set which status, the operator's lock, and the record of every change.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { engine, OPERATOR, startTestApp, type TestApp } from './support/app.js';
import {
  createApiKey,
  createCustomer,
  createInstitution,
  loginOperator,
  post,
  type Credentials,
  type Institution,
  type Response,
} from './support/client.js';

const UPDATE = '/v2/customer/update';
const ADMIN_STATUS = '/v2/admin/wallet/status';

type Status = 'Active' | 'Blocked' | 'Suspicious';
type SetBy = 'institution' | 'operator';

interface StoredWallet {
  status: Status;
  setBy: SetBy;
  firstName: string;
  lastName: string;
  comment: string | null;
  updatedAt: string;
}

interface RecordedChange {
  oldStatus: Status;
  newStatus: Status;
  oldSetBy: SetBy;
  newSetBy: SetBy;
  actorType: 'user' | 'api_key' | 'operator';
  actorId: string;
  reason: string | null;
  /** Milliseconds since the epoch. */
  at: number;
}

async function storedWallet(t: TestApp, walletId: string): Promise<StoredWallet> {
  const rows = await t.db.query(
    `SELECT w.status, w.status_set_by AS "setBy", c.first_name AS "firstName",
            c.last_name AS "lastName", c.comment, c.updated_at AS "updatedAt"
       FROM wallets w JOIN customers c ON c.id = w.customer_id
      WHERE w.id = $1`,
    [walletId],
  );
  const row = rows[0];
  assert.ok(row !== undefined, `wallet ${walletId} is not stored`);
  return { ...row, updatedAt: new Date(row.updatedAt as string | Date).toISOString() } as StoredWallet;
}

/** The wallet's recorded status changes, oldest first (ties in time in no particular order). */
async function recordedChanges(t: TestApp, walletId: string): Promise<RecordedChange[]> {
  const rows = await t.db.query(
    `SELECT old_status, new_status, old_set_by, new_set_by, actor_type, actor_id, reason, created_at
       FROM wallet_status_changes WHERE wallet_id = $1
      ORDER BY created_at`,
    [walletId],
  );
  return rows.map((row) => ({
    oldStatus: row.old_status as Status,
    newStatus: row.new_status as Status,
    oldSetBy: row.old_set_by as SetBy,
    newSetBy: row.new_set_by as SetBy,
    actorType: row.actor_type as RecordedChange['actorType'],
    actorId: row.actor_id as string,
    reason: row.reason as string | null,
    at: new Date(row.created_at as string | Date).getTime(),
  }));
}

/**
 * Orders recorded changes into one chain starting at `from`: by recorded time, and among changes
 * recorded in the same millisecond, in the order in which each one's old state is the previous
 * one's new state. Undefined when no such order exists (the record contradicts itself).
 */
function chainOf(
  changes: RecordedChange[],
  from: { status: Status; setBy: SetBy },
): RecordedChange[] | undefined {
  if (changes.length === 0) return [];
  const earliest = Math.min(...changes.map((change) => change.at));
  for (const [index, change] of changes.entries()) {
    if (change.at !== earliest || change.oldStatus !== from.status || change.oldSetBy !== from.setBy)
      continue;
    const rest = chainOf(
      changes.filter((_, other) => other !== index),
      { status: change.newStatus, setBy: change.newSetBy },
    );
    if (rest !== undefined) return [change, ...rest];
  }
  return undefined;
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

describe(`wallet status (${engine})`, () => {
  let t: TestApp;
  let operator: { token: string };
  let operatorId: string;

  before(async () => {
    t = await startTestApp();
    operator = await loginOperator(t);
    const rows = await t.db.query<{ id: string }>(
      "SELECT id FROM users WHERE role = 'Operator' AND lower(email) = lower($1)",
      [OPERATOR.email],
    );
    operatorId = rows[0]!.id;
  });

  after(async () => {
    await t.close();
  });

  async function ownerIdOf(institution: Institution): Promise<string> {
    const rows = await t.db.query<{ id: string }>(
      "SELECT id FROM users WHERE institution_id = $1 AND role = 'Owner'",
      [institution.id],
    );
    return rows[0]!.id;
  }

  /** A fresh institution with one customer whose wallet is new (Active, set by the institution). */
  async function setup() {
    const institution = await createInstitution(t, operator);
    const customer = await createCustomer(t, institution.owner, { comment: 'original' });
    return { institution, owner: institution.owner as Credentials, customer };
  }

  async function operatorSets(walletId: string, status: Status, reason?: string): Promise<Response> {
    const response = await post(
      t,
      ADMIN_STATUS,
      { walletId, status, ...(reason === undefined ? {} : { reason }) },
      operator,
    );
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response;
  }

  it('when a new customer is created, then its wallet is Active, set by the institution, with no recorded change', async () => {
    const { customer } = await setup();

    assert.equal(customer.walletStatus, 'Active');
    assert.equal(customer.walletStatusSetBy, 'institution');
    const wallet = await storedWallet(t, customer.walletId);
    assert.equal(wallet.status, 'Active');
    assert.equal(wallet.setBy, 'institution');
    assert.deepEqual(await recordedChanges(t, customer.walletId), []);
  });

  it('when an institution sets Blocked, Suspicious and Active in turn, then each is returned and stored with walletStatusSetBy institution', async () => {
    const { owner, customer } = await setup();

    for (const status of ['Blocked', 'Suspicious', 'Active', 'Suspicious', 'Blocked'] as const) {
      const response = await post(t, UPDATE, { id: customer.id, walletStatus: status }, owner);

      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.equal(response.body.data.walletStatus, status);
      assert.equal(response.body.data.walletStatusSetBy, 'institution');
      const wallet = await storedWallet(t, customer.walletId);
      assert.equal(wallet.status, status);
      assert.equal(wallet.setBy, 'institution');
    }
    assert.equal((await recordedChanges(t, customer.walletId)).length, 5);
  });

  for (const status of ['blocked', 'BLOCKED', 'active', 'suspicious', 'Frozen', '']) {
    it(`when walletStatus is ${JSON.stringify(status)}, then 400 VALIDATION_ERROR names it and nothing changes`, async () => {
      const { owner, customer } = await setup();

      const response = await post(
        t,
        UPDATE,
        { id: customer.id, walletStatus: status, firstName: 'Alexander' },
        owner,
      );

      assertError(response, 400, 'VALIDATION_ERROR', 'walletStatus');
      const wallet = await storedWallet(t, customer.walletId);
      assert.equal(wallet.status, 'Active');
      assert.equal(wallet.firstName, 'Alex');
      assert.deepEqual(await recordedChanges(t, customer.walletId), []);
    });
  }

  it("when an institution user changes the status, then the change is recorded with old and new status and set_by, the user's id, the reason and the time", async () => {
    const { institution, owner, customer } = await setup();
    const ownerId = await ownerIdOf(institution);

    const startedAt = Date.now();
    const response = await post(
      t,
      UPDATE,
      { id: customer.id, walletStatus: 'Suspicious', walletStatusReason: 'Unusual login pattern' },
      owner,
    );
    const finishedAt = Date.now();

    assert.equal(response.status, 200, JSON.stringify(response.body));
    const changes = await recordedChanges(t, customer.walletId);
    assert.equal(changes.length, 1);
    const { at, ...change } = changes[0]!;
    assert.deepEqual(change, {
      oldStatus: 'Active',
      newStatus: 'Suspicious',
      oldSetBy: 'institution',
      newSetBy: 'institution',
      actorType: 'user',
      actorId: ownerId,
      reason: 'Unusual login pattern',
    });
    // Stored at millisecond precision, so it may round up by one millisecond.
    assert.ok(
      at >= startedAt && at <= finishedAt + 1,
      `recorded at ${at}, request ran ${startedAt}-${finishedAt}`,
    );
  });

  it("when an API key changes the status without a reason, then the change is recorded with the key's id and no reason", async () => {
    const { institution, customer } = await setup();
    const key = await createApiKey(t, institution);

    const response = await post(
      t,
      UPDATE,
      { id: customer.id, walletStatus: 'Blocked' },
      { apiKey: key.apiKey },
    );

    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(response.body.data.walletStatus, 'Blocked');
    const changes = await recordedChanges(t, customer.walletId);
    assert.equal(changes.length, 1);
    assert.deepEqual(
      { ...changes[0]!, at: 0 },
      {
        oldStatus: 'Active',
        newStatus: 'Blocked',
        oldSetBy: 'institution',
        newSetBy: 'institution',
        actorType: 'api_key',
        actorId: key.id,
        reason: null,
        at: 0,
      },
    );
  });

  it('when the request sends the status the wallet already has, then nothing is recorded', async () => {
    const { owner, customer } = await setup();
    assert.equal((await post(t, UPDATE, { id: customer.id, walletStatus: 'Blocked' }, owner)).status, 200);

    for (const body of [
      { walletStatus: 'Blocked' },
      { walletStatus: 'Blocked', walletStatusReason: 'again' },
      { walletStatus: 'Blocked', firstName: 'Alexander' },
      { lastName: 'Smithson' },
    ]) {
      const response = await post(t, UPDATE, { id: customer.id, ...body }, owner);

      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.equal(response.body.data.walletStatus, 'Blocked');
    }
    const changes = await recordedChanges(t, customer.walletId);
    assert.equal(changes.length, 1, JSON.stringify(changes));
    assert.equal(changes[0]!.newStatus, 'Blocked');
    const wallet = await storedWallet(t, customer.walletId);
    assert.equal(wallet.firstName, 'Alexander');
    assert.equal(wallet.lastName, 'Smithson');
  });

  for (const status of ['Blocked', 'Suspicious'] as const) {
    it(`when the operator sets ${status}, then the wallet is ${status} set by the operator and the change is recorded with actor_type operator`, async () => {
      const { customer } = await setup();

      const response = await post(
        t,
        ADMIN_STATUS,
        { walletId: customer.walletId, status, reason: 'AML review' },
        operator,
      );

      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.equal(response.body.data.id, customer.id);
      assert.equal(response.body.data.walletId, customer.walletId);
      assert.equal(response.body.data.walletStatus, status);
      assert.equal(response.body.data.walletStatusSetBy, 'operator');
      const wallet = await storedWallet(t, customer.walletId);
      assert.equal(wallet.status, status);
      assert.equal(wallet.setBy, 'operator');
      const changes = await recordedChanges(t, customer.walletId);
      assert.equal(changes.length, 1);
      assert.deepEqual(
        { ...changes[0]!, at: 0 },
        {
          oldStatus: 'Active',
          newStatus: status,
          oldSetBy: 'institution',
          newSetBy: 'operator',
          actorType: 'operator',
          actorId: operatorId,
          reason: 'AML review',
          at: 0,
        },
      );
    });

    it(`when the operator set ${status}, then the institution's change to another status is 403 WALLET_STATUS_LOCKED and none of its fields change`, async () => {
      const { institution, owner, customer } = await setup();
      const key = await createApiKey(t, institution);
      await operatorSets(customer.walletId, status);
      const before = await storedWallet(t, customer.walletId);

      const others = (['Active', 'Blocked', 'Suspicious'] as const).filter((other) => other !== status);
      for (const credentials of [owner, { apiKey: key.apiKey }]) {
        for (const other of others) {
          const response = await post(
            t,
            UPDATE,
            {
              id: customer.id,
              walletStatus: other,
              walletStatusReason: 'customer verified',
              firstName: 'Alexander',
              comment: null,
            },
            credentials,
          );

          assertError(response, 403, 'WALLET_STATUS_LOCKED');
        }
      }
      assert.deepEqual(await storedWallet(t, customer.walletId), before);
      assert.equal((await recordedChanges(t, customer.walletId)).length, 1);
    });

    it(`when the operator set ${status}, then the institution may send that same status with other changes, which apply, and the lock stays`, async () => {
      const { owner, customer } = await setup();
      await operatorSets(customer.walletId, status);

      const response = await post(
        t,
        UPDATE,
        { id: customer.id, walletStatus: status, firstName: 'Alexander', comment: null },
        owner,
      );

      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.equal(response.body.data.walletStatus, status);
      assert.equal(response.body.data.walletStatusSetBy, 'operator');
      assert.equal(response.body.data.firstName, 'Alexander');
      assert.equal(response.body.data.comment, null);
      const wallet = await storedWallet(t, customer.walletId);
      assert.equal(wallet.status, status);
      assert.equal(wallet.setBy, 'operator');
      assert.equal(wallet.firstName, 'Alexander');
      assert.equal(wallet.comment, null);
      assert.equal((await recordedChanges(t, customer.walletId)).length, 1);

      const stillLocked = await post(t, UPDATE, { id: customer.id, walletStatus: 'Active' }, owner);
      assertError(stillLocked, 403, 'WALLET_STATUS_LOCKED');
    });

    it(`when the operator set ${status}, then the institution may still change other fields without walletStatus`, async () => {
      const { owner, customer } = await setup();
      await operatorSets(customer.walletId, status);

      const response = await post(t, UPDATE, { id: customer.id, lastName: 'Smithson' }, owner);

      assert.equal(response.status, 200, JSON.stringify(response.body));
      const wallet = await storedWallet(t, customer.walletId);
      assert.equal(wallet.lastName, 'Smithson');
      assert.equal(wallet.status, status);
      assert.equal(wallet.setBy, 'operator');
    });
  }

  it('when the operator sets Active after Blocked, then the institution can change the status again', async () => {
    const { institution, owner, customer } = await setup();
    const ownerId = await ownerIdOf(institution);
    await operatorSets(customer.walletId, 'Blocked');
    const lifted = await operatorSets(customer.walletId, 'Active', 'review passed');
    assert.equal(lifted.body.data.walletStatus, 'Active');
    assert.equal(lifted.body.data.walletStatusSetBy, 'operator');

    const response = await post(t, UPDATE, { id: customer.id, walletStatus: 'Suspicious' }, owner);

    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(response.body.data.walletStatus, 'Suspicious');
    assert.equal(response.body.data.walletStatusSetBy, 'institution');
    const wallet = await storedWallet(t, customer.walletId);
    assert.equal(wallet.status, 'Suspicious');
    assert.equal(wallet.setBy, 'institution');
    const changes = (await recordedChanges(t, customer.walletId)).map(({ at: _at, ...change }) => change);
    assert.deepEqual(changes, [
      {
        oldStatus: 'Active',
        newStatus: 'Blocked',
        oldSetBy: 'institution',
        newSetBy: 'operator',
        actorType: 'operator',
        actorId: operatorId,
        reason: null,
      },
      {
        oldStatus: 'Blocked',
        newStatus: 'Active',
        oldSetBy: 'operator',
        newSetBy: 'operator',
        actorType: 'operator',
        actorId: operatorId,
        reason: 'review passed',
      },
      {
        oldStatus: 'Active',
        newStatus: 'Suspicious',
        oldSetBy: 'operator',
        newSetBy: 'institution',
        actorType: 'user',
        actorId: ownerId,
        reason: null,
      },
    ]);
  });

  it('when the operator moves Blocked to Suspicious, then the lock stays', async () => {
    const { owner, customer } = await setup();
    await operatorSets(customer.walletId, 'Blocked');
    const moved = await operatorSets(customer.walletId, 'Suspicious');
    assert.equal(moved.body.data.walletStatus, 'Suspicious');
    assert.equal(moved.body.data.walletStatusSetBy, 'operator');

    for (const status of ['Active', 'Blocked'] as const) {
      const response = await post(
        t,
        UPDATE,
        { id: customer.id, walletStatus: status, firstName: 'Alexander' },
        owner,
      );

      assertError(response, 403, 'WALLET_STATUS_LOCKED');
    }
    const wallet = await storedWallet(t, customer.walletId);
    assert.equal(wallet.status, 'Suspicious');
    assert.equal(wallet.setBy, 'operator');
    assert.equal(wallet.firstName, 'Alex');
    assert.equal((await recordedChanges(t, customer.walletId)).length, 2);
  });

  it('when the institution had set Blocked, then the operator can still set any status', async () => {
    const { owner, customer } = await setup();
    assert.equal((await post(t, UPDATE, { id: customer.id, walletStatus: 'Blocked' }, owner)).status, 200);

    const response = await operatorSets(customer.walletId, 'Suspicious');

    assert.equal(response.body.data.walletStatus, 'Suspicious');
    assert.equal(response.body.data.walletStatusSetBy, 'operator');
    const wallet = await storedWallet(t, customer.walletId);
    assert.equal(wallet.status, 'Suspicious');
    assert.equal(wallet.setBy, 'operator');
  });

  it('when the walletId names no wallet, then the operator gets 404 NOT_FOUND', async () => {
    const { customer } = await setup();

    for (const walletId of [randomUUID(), customer.id]) {
      const response = await post(t, ADMIN_STATUS, { walletId, status: 'Blocked' }, operator);

      assertError(response, 404, 'NOT_FOUND');
    }
    const wallet = await storedWallet(t, customer.walletId);
    assert.equal(wallet.status, 'Active');
    assert.deepEqual(await recordedChanges(t, customer.walletId), []);
  });

  const badOperatorBodies: [string, Record<string, unknown>, string][] = [
    [
      'the operator sends a walletId that is not a UUID',
      { walletId: 'wallet-1', status: 'Blocked' },
      'walletId',
    ],
    ['the operator sends the status in lower case', { status: 'blocked' }, 'status'],
    ['the operator sends no status', {}, 'status'],
    [
      "the operator's reason is over 500 characters",
      { status: 'Blocked', reason: 'r'.repeat(501) },
      'reason',
    ],
    ['the operator sends an unknown field', { status: 'Blocked', note: 'x' }, 'note'],
  ];
  for (const [situation, body, field] of badOperatorBodies) {
    it(`when ${situation}, then 400 VALIDATION_ERROR names ${field} and nothing changes`, async () => {
      const { customer } = await setup();

      const response = await post(t, ADMIN_STATUS, { walletId: customer.walletId, ...body }, operator);

      assertError(response, 400, 'VALIDATION_ERROR', field);
      assert.equal((await storedWallet(t, customer.walletId)).status, 'Active');
      assert.deepEqual(await recordedChanges(t, customer.walletId), []);
    });
  }

  it('when an institution user or API key calls the admin wallet status route, then 403 FORBIDDEN and nothing changes', async () => {
    const { institution, owner, customer } = await setup();
    const key = await createApiKey(t, institution);

    for (const credentials of [owner, { apiKey: key.apiKey }]) {
      const response = await post(
        t,
        ADMIN_STATUS,
        { walletId: customer.walletId, status: 'Blocked' },
        credentials,
      );

      assertError(response, 403, 'FORBIDDEN');
    }
    const wallet = await storedWallet(t, customer.walletId);
    assert.equal(wallet.status, 'Active');
    assert.equal(wallet.setBy, 'institution');
    assert.deepEqual(await recordedChanges(t, customer.walletId), []);
  });

  /**
   * Starts ten institution status changes (Suspicious and Active in turn, by the owner and by an
   * API key) and the operator's Blocked at once, on a fresh customer, and waits for all of them.
   */
  async function race(institution: Institution, key: { apiKey: string }) {
    const customer = await createCustomer(t, institution.owner);
    let finished = 0;
    const track = (request: Promise<Response>) =>
      request.then((response) => ({ response, finishedAs: ++finished }));
    const requested = Array.from({ length: 10 }, (_, index): Status =>
      index % 2 === 0 ? 'Suspicious' : 'Active',
    );
    const institutionRequests = requested.map((walletStatus, index) =>
      track(post(t, UPDATE, { id: customer.id, walletStatus }, index % 3 === 0 ? key : institution.owner)),
    );
    // Started while the ten institution requests are still in flight; none has finished yet.
    const operatorRequest = track(
      post(t, ADMIN_STATUS, { walletId: customer.walletId, status: 'Blocked', reason: 'fraud' }, operator),
    );
    const [operatorResult, ...institutionResults] = await Promise.all([
      operatorRequest,
      ...institutionRequests,
    ]);
    return {
      customer,
      requested,
      operatorResult,
      institutionResults,
      wallet: await storedWallet(t, customer.walletId),
      changes: await recordedChanges(t, customer.walletId),
    };
  }

  it("when institution status changes race the operator's Blocked, then each is 200 or 403 and the wallet always ends Blocked by the operator", async () => {
    const { institution } = await setup();
    const ownerId = await ownerIdOf(institution);
    const key = await createApiKey(t, institution);

    for (let round = 1; round <= 5; round++) {
      const { requested, operatorResult, institutionResults, wallet, changes } = await race(institution, {
        apiKey: key.apiKey,
      });

      assert.equal(operatorResult.response.status, 200, JSON.stringify(operatorResult.response.body));
      assert.equal(operatorResult.response.body.data.walletStatus, 'Blocked');
      assert.equal(operatorResult.response.body.data.walletStatusSetBy, 'operator');
      for (const [index, { response }] of institutionResults.entries()) {
        if (response.status === 200) {
          assert.equal(response.body.data.walletStatus, requested[index], `round ${round}`);
          assert.equal(response.body.data.walletStatusSetBy, 'institution', `round ${round}`);
        } else {
          assertError(response, 403, 'WALLET_STATUS_LOCKED');
        }
      }
      // Whatever the order, only a refused request can follow the operator's Blocked, so the wallet
      // ends Blocked by the operator (in particular when the operator's request finished last).
      assert.deepEqual(
        { status: wallet.status, setBy: wallet.setBy },
        { status: 'Blocked', setBy: 'operator' },
        `round ${round}: the operator's request finished ${operatorResult.finishedAs} of 11`,
      );
      const byOperator = changes.filter((change) => change.actorType === 'operator');
      assert.equal(byOperator.length, 1, `round ${round}`);
      assert.equal(byOperator[0]!.actorId, operatorId);
      assert.equal(byOperator[0]!.reason, 'fraud');
      assert.equal(byOperator[0]!.newStatus, 'Blocked');
      assert.equal(byOperator[0]!.newSetBy, 'operator');
      const byInstitution = changes.filter((change) => change.actorType !== 'operator');
      const accepted = institutionResults.filter(({ response }) => response.status === 200).length;
      assert.ok(
        byInstitution.length <= accepted,
        `round ${round}: ${byInstitution.length} recorded, ${accepted} accepted`,
      );
      for (const change of byInstitution) {
        assert.equal(change.newSetBy, 'institution');
        assert.ok(
          (change.actorType === 'user' && change.actorId === ownerId) ||
            (change.actorType === 'api_key' && change.actorId === key.id),
          JSON.stringify(change),
        );
      }
    }
  });

  it("when institution status changes race the operator's Blocked, then the recorded changes in time order form one chain whose last change is the wallet's state", async () => {
    const { institution } = await setup();
    const key = await createApiKey(t, institution);

    // A wrong order shows only under some interleavings, so the race runs many times.
    for (let round = 1; round <= 20; round++) {
      const { wallet, changes } = await race(institution, { apiKey: key.apiKey });

      const chain = chainOf(changes, { status: 'Active', setBy: 'institution' });
      assert.ok(
        chain !== undefined,
        `round ${round}: ordered by their recorded time, the changes do not follow one another: ` +
          changes
            .map(
              (change) =>
                `${change.oldStatus}/${change.oldSetBy} -> ${change.newStatus}/${change.newSetBy} ` +
                `at ${new Date(change.at).toISOString()}`,
            )
            .join('; '),
      );
      const last = chain.at(-1)!;
      assert.deepEqual(
        { status: last.newStatus, setBy: last.newSetBy, actorType: last.actorType },
        { status: wallet.status, setBy: wallet.setBy, actorType: 'operator' },
        `round ${round}`,
      );
    }
  });
});
