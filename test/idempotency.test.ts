// Idempotency keys: a write repeated with the same Idempotency-Key gets the first response again
// and changes nothing; the key is claimed in the database before the handler runs, so parallel
// retries and other instances run it once; 5xx attempts are released, abandoned claims taken over,
// expired entries ignored and deleted; read routes ignore the header.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DatabaseUnavailableError } from '../src/db/database-errors.js';
import { openPostgres, type Database, type Row } from '../src/db/database.js';
import { buildAppOn, engine, openTestDatabase, startTestApp, type TestApp } from './support/app.js';
import {
  createApiKey,
  createCustomer,
  createInstitution,
  customerInput,
  loginOperator,
  post,
  type Credentials,
  type Response,
} from './support/client.js';
import {
  call,
  createServiceData,
  setUpPartner,
  startService,
  stopService,
  type Service,
} from './support/service.js';

const keyed = (key: string): Record<string, string> => ({ 'idempotency-key': key });

const customerCount = async (db: Database, institutionId: string): Promise<number> =>
  (await db.query('SELECT id FROM customers WHERE institution_id = $1', [institutionId])).length;

const entryCount = async (db: Database): Promise<number> =>
  (await db.query('SELECT 1 FROM idempotency_keys')).length;

/** A request made through a given app instance (as another instance behind a load balancer). */
async function postOn(
  app: TestApp['app'],
  url: string,
  body: unknown,
  credentials: Credentials,
  headers: Record<string, string> = {},
): Promise<Response> {
  const response = await app.inject({
    method: 'POST',
    url,
    headers: {
      'content-type': 'application/json',
      ...(credentials === undefined
        ? {}
        : 'token' in credentials
          ? { authorization: `Bearer ${credentials.token}` }
          : { 'api-key': credentials.apiKey }),
      ...headers,
    },
    payload: JSON.stringify(body),
  });
  return { status: response.statusCode, body: response.json(), headers: response.headers };
}

/**
 * The database, except that once an idempotency key has been claimed, the next statements that
 * are not about idempotency keys (the handler's) wait for `release` if given, then fail as `fault`
 * says. Authentication before the claim, and the claim's completion or release, run normally.
 */
function faultAfterClaim(
  db: Database,
  fault: () => Error,
  gate?: Promise<void>,
): { db: Database; armed: () => boolean; disarm: () => void } {
  let state: 'waiting' | 'failing' | 'off' = 'waiting';
  const intercept = async (sql: string): Promise<void> => {
    if (state !== 'failing' || sql.includes('idempotency_keys')) return;
    await gate;
    throw fault();
  };
  const wrapped: Database = {
    engine: db.engine,
    listen: (channel, handlers) => db.listen(channel, handlers),
    signal: (channel) => {
      db.signal(channel);
    },
    async query<R extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<R[]> {
      await intercept(sql);
      const rows = await db.query<R>(sql, params);
      if (state === 'waiting' && sql.includes('INSERT INTO idempotency_keys') && rows.length === 1) {
        state = 'failing';
      }
      return rows;
    },
    async transaction(work) {
      await intercept('transaction');
      return db.transaction(work);
    },
    close: () => Promise.resolve(),
  };
  return {
    db: wrapped,
    armed: () => state === 'failing',
    disarm: () => {
      state = 'off';
    },
  };
}

describe(`idempotency keys (${engine})`, () => {
  let t: TestApp;
  let connection: { connectionString: string; schema: string } | undefined;

  before(async () => {
    const database = await openTestDatabase();
    connection = database.connection;
    t = await startTestApp({ database });
  });

  after(async () => {
    await t.close();
  });

  describe('replay', () => {
    it('when a create is repeated with the same key and body, then the first response comes back and nothing is created', async () => {
      const institution = await createInstitution(t);
      const body = customerInput();
      const key = randomUUID();

      const first = await post(t, '/v2/customer/create', body, institution.owner, keyed(key));
      const again = await post(t, '/v2/customer/create', body, institution.owner, keyed(key));

      assert.equal(first.status, 201, JSON.stringify(first.body));
      assert.equal(first.headers['idempotent-replayed'], undefined);
      assert.equal(again.status, 201, JSON.stringify(again.body));
      assert.deepEqual(again.body, first.body);
      assert.equal(again.headers['idempotent-replayed'], 'true');
      assert.equal(again.headers['content-type'], first.headers['content-type']);
      assert.notEqual(again.headers['x-request-id'], first.headers['x-request-id']);
      assert.equal(await customerCount(t.db, institution.id), 1);
    });

    it('when the same body comes with its fields in another order or unnormalised, then it is the same request', async () => {
      const institution = await createInstitution(t);
      const body = customerInput({ country: 'fr' });
      const reordered = Object.fromEntries(Object.entries({ ...body, country: ' FR ' }).reverse());
      const key = randomUUID();

      const first = await post(t, '/v2/customer/create', body, institution.owner, keyed(key));
      const again = await post(t, '/v2/customer/create', reordered, institution.owner, keyed(key));

      assert.equal(first.status, 201, JSON.stringify(first.body));
      assert.equal(again.headers['idempotent-replayed'], 'true');
      assert.deepEqual(again.body, first.body);
      assert.equal(await customerCount(t.db, institution.id), 1);
    });

    it('when an update is repeated after the customer changed, then the first answer is replayed and nothing is changed again', async () => {
      const institution = await createInstitution(t);
      const customer = await createCustomer(t, institution.owner);
      const key = randomUUID();

      const first = await post(
        t,
        '/v2/customer/update',
        { id: customer.id, comment: 'first' },
        institution.owner,
        keyed(key),
      );
      const other = await post(
        t,
        '/v2/customer/update',
        { id: customer.id, comment: 'second' },
        institution.owner,
      );
      const again = await post(
        t,
        '/v2/customer/update',
        { id: customer.id, comment: 'first' },
        institution.owner,
        keyed(key),
      );

      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(other.status, 200, JSON.stringify(other.body));
      assert.equal(again.status, 200);
      assert.equal(again.headers['idempotent-replayed'], 'true');
      assert.deepEqual(again.body, first.body);
      const details = await post(t, '/v2/customer/details', { id: customer.id }, institution.owner);
      assert.equal(details.body.data.comment, 'second');
    });

    it('when the first answer was a contract error (4xx), then it is stored and replayed', async () => {
      const institution = await createInstitution(t);
      const body = customerInput({ referralId: randomUUID() });
      const key = randomUUID();

      const first = await post(t, '/v2/customer/create', body, institution.owner, keyed(key));
      const again = await post(t, '/v2/customer/create', body, institution.owner, keyed(key));

      assert.equal(first.status, 400, JSON.stringify(first.body));
      assert.equal(first.body.code, 'REFERRAL_NOT_FOUND');
      assert.equal(again.status, 400);
      assert.equal(again.headers['idempotent-replayed'], 'true');
      // Every error body repeats its own response's x-request-id; the rest is the first answer.
      assert.notEqual(again.headers['x-request-id'], first.headers['x-request-id']);
      assert.deepEqual(again.body, { ...first.body, requestId: again.headers['x-request-id'] });
    });

    it('when an API key create is replayed, then the same secret comes back, and the database holds neither it nor the key', async () => {
      const institution = await createInstitution(t);
      const key = `order-${randomUUID()}`;

      const first = await post(t, '/v2/api-key/create', { name: 'backend' }, institution.owner, keyed(key));
      const again = await post(t, '/v2/api-key/create', { name: 'backend' }, institution.owner, keyed(key));

      assert.equal(first.status, 201, JSON.stringify(first.body));
      assert.equal(again.headers['idempotent-replayed'], 'true');
      assert.deepEqual(again.body, first.body);
      const keys = await t.db.query('SELECT id FROM api_keys WHERE institution_id = $1', [institution.id]);
      assert.equal(keys.length, 1);
      const rows = await t.db.query<{ text: string }>(
        'SELECT row_to_json(k)::text AS text FROM idempotency_keys k',
      );
      const stored = rows.map((row) => row.text).join('\n');
      assert.ok(!stored.includes(first.body.data.key as string), 'the secret is not stored readably');
      assert.ok(!stored.includes(key), 'the idempotency key is not stored');
      assert.ok(!stored.includes(first.body.data.id as string), 'the response body is not stored readably');
    });

    it('when an operator write is repeated, then it is replayed in the operator scope', async () => {
      const operator = await loginOperator(t);
      const body = {
        title: 'Replayed Pay',
        ownerEmail: `${randomUUID()}@replay.test`,
        ownerPassword: 'owner-password-123',
      };
      const key = randomUUID();

      const first = await post(t, '/v2/admin/institution/create', body, operator, keyed(key));
      const again = await post(t, '/v2/admin/institution/create', body, operator, keyed(key));

      assert.equal(first.status, 201, JSON.stringify(first.body));
      assert.equal(again.headers['idempotent-replayed'], 'true');
      assert.deepEqual(again.body, first.body);
      const rows = await t.db.query('SELECT id FROM institutions WHERE title = $1', [body.title]);
      assert.equal(rows.length, 1);
    });
  });

  describe('reuse and scope', () => {
    it('when the same key comes with a different body, then 422 IDEMPOTENCY_KEY_REUSED and nothing runs', async () => {
      const institution = await createInstitution(t);
      const key = randomUUID();
      const first = await post(t, '/v2/customer/create', customerInput(), institution.owner, keyed(key));

      const other = await post(t, '/v2/customer/create', customerInput(), institution.owner, keyed(key));

      assert.equal(first.status, 201, JSON.stringify(first.body));
      assert.equal(other.status, 422, JSON.stringify(other.body));
      assert.equal(other.body.code, 'IDEMPOTENCY_KEY_REUSED');
      assert.equal(other.body.error, 'Unprocessable Entity');
      assert.equal(other.body.requestId, other.headers['x-request-id']);
      assert.equal(await customerCount(t.db, institution.id), 1);
    });

    it('when the same key and body come to another route, then 422 IDEMPOTENCY_KEY_REUSED', async () => {
      const institution = await createInstitution(t);
      const key = randomUUID();
      const first = await post(t, '/v2/api-key/create', { name: 'backend' }, institution.owner, keyed(key));

      const other = await post(t, '/v2/user/create', { name: 'backend' }, institution.owner, keyed(key));
      const revoke = await post(
        t,
        '/v2/api-key/revoke',
        { id: first.body.data.id },
        institution.owner,
        keyed(key),
      );

      assert.equal(first.status, 201, JSON.stringify(first.body));
      assert.equal(other.status, 400, 'an invalid body is refused before the key is looked at');
      assert.equal(revoke.status, 422, JSON.stringify(revoke.body));
      assert.equal(revoke.body.code, 'IDEMPOTENCY_KEY_REUSED');
      const [row] = await t.db.query('SELECT revoked_at FROM api_keys WHERE id = $1', [first.body.data.id]);
      assert.equal(row?.revoked_at, null);
    });

    it("when institution B sends A's key string, then B's request is independent of A's", async () => {
      const a = await createInstitution(t);
      const b = await createInstitution(t);
      const key = randomUUID();
      const fromA = await post(t, '/v2/customer/create', customerInput(), a.owner, keyed(key));
      const { apiKey } = await createApiKey(t, b);

      const fromB = await post(t, '/v2/customer/create', customerInput(), { apiKey }, keyed(key));
      const againA = await post(t, '/v2/customer/create', customerInput(), a.owner, keyed(key));

      assert.equal(fromA.status, 201, JSON.stringify(fromA.body));
      assert.equal(fromB.status, 201, JSON.stringify(fromB.body));
      assert.equal(fromB.headers['idempotent-replayed'], undefined);
      assert.notEqual(fromB.body.data.id, fromA.body.data.id);
      assert.equal(againA.status, 422, 'A still has its own entry for the key');
      assert.equal(await customerCount(t.db, a.id), 1);
      assert.equal(await customerCount(t.db, b.id), 1);
    });

    it("when a user and the institution's API key send one key, then they share the institution's entry", async () => {
      const institution = await createInstitution(t);
      const { apiKey } = await createApiKey(t, institution);
      const body = customerInput();
      const key = randomUUID();

      const first = await post(t, '/v2/customer/create', body, institution.owner, keyed(key));
      const again = await post(t, '/v2/customer/create', body, { apiKey }, keyed(key));

      assert.equal(again.headers['idempotent-replayed'], 'true');
      assert.deepEqual(again.body, first.body);
      assert.equal(await customerCount(t.db, institution.id), 1);
    });
  });

  describe('concurrency', () => {
    async function race(
      institution: Awaited<ReturnType<typeof createInstitution>>,
      apps: TestApp['app'][],
      db: Database,
    ): Promise<void> {
      const body = customerInput();
      const key = randomUUID();

      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          postOn(apps[i % apps.length]!, '/v2/customer/create', body, institution.owner, keyed(key)),
        ),
      );

      const ran = answers.filter((a) => a.status === 201 && a.headers['idempotent-replayed'] === undefined);
      assert.equal(ran.length, 1, `exactly one request ran: ${answers.map((a) => a.status).join(',')}`);
      const stored = ran[0]!;
      for (const answer of answers) {
        if (answer === stored) continue;
        if (answer.status === 409) {
          assert.equal(answer.body.code, 'IDEMPOTENCY_IN_PROGRESS');
          assert.equal(answer.headers['retry-after'], '1');
        } else {
          assert.equal(answer.status, 201, JSON.stringify(answer.body));
          assert.equal(answer.headers['idempotent-replayed'], 'true');
          assert.deepEqual(answer.body, stored.body);
        }
      }
      assert.equal(await customerCount(db, institution.id), 1);
      for (const app of apps) {
        const retry = await postOn(app, '/v2/customer/create', body, institution.owner, keyed(key));
        assert.equal(retry.status, 201);
        assert.equal(retry.headers['idempotent-replayed'], 'true');
        assert.deepEqual(retry.body, stored.body);
      }
    }

    it('when 50 identical creates with one key arrive at once, then one customer is created and every answer is the stored one or 409', async () => {
      await race(await createInstitution(t), [t.app], t.db);
    });

    it('when 50 identical creates are spread over two instances on one database, then one customer is created', async () => {
      // On PostgreSQL the second instance has a connection pool of its own, as another process would.
      const otherDb =
        connection === undefined
          ? t.db
          : openPostgres({ ...connection, poolSize: 10, connectTimeoutMs: 5000, statementTimeoutMs: 10_000 });
      const other = await buildAppOn(otherDb, { accessTokens: t.accessTokens });
      try {
        await race(await createInstitution(t), [t.app, other.app], t.db);
      } finally {
        await other.app.close();
        if (otherDb !== t.db) await otherDb.close();
      }
    });
  });

  describe('failures', () => {
    for (const [label, fault, status] of [
      ['503 (database unavailable)', () => new DatabaseUnavailableError(new Error('cut')), 503],
      ['500 (unexpected error)', () => new Error('unexpected'), 500],
    ] as const) {
      it(`when the first attempt fails with ${label}, then the key is released and a retry runs`, async () => {
        const institution = await createInstitution(t);
        const body = customerInput();
        const key = randomUUID();
        const faulty = faultAfterClaim(t.db, fault);
        const broken = await buildAppOn(faulty.db, { accessTokens: t.accessTokens });
        try {
          const failed = await postOn(broken.app, '/v2/customer/create', body, institution.owner, keyed(key));
          assert.equal(failed.status, status, JSON.stringify(failed.body));
          assert.ok(faulty.armed(), 'the key was claimed before the handler failed');
        } finally {
          faulty.disarm();
          await broken.app.close();
        }

        const retry = await post(t, '/v2/customer/create', body, institution.owner, keyed(key));

        assert.equal(retry.status, 201, JSON.stringify(retry.body));
        assert.equal(retry.headers['idempotent-replayed'], undefined);
        assert.equal(await customerCount(t.db, institution.id), 1);
      });
    }

    it('when a request holding the key hangs, then a repeat gets 409 until the lease ends, and then a retry runs', async () => {
      const institution = await createInstitution(t);
      const body = customerInput();
      const key = randomUUID();
      let release = () => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const faulty = faultAfterClaim(t.db, () => new DatabaseUnavailableError(new Error('lost')), gate);
      const stuck = await buildAppOn(faulty.db, { accessTokens: t.accessTokens });
      try {
        const hanging = postOn(stuck.app, '/v2/customer/create', body, institution.owner, keyed(key));
        while (!faulty.armed()) await new Promise((resolve) => setImmediate(resolve));

        const during = await post(t, '/v2/customer/create', body, institution.owner, keyed(key));
        const otherBody = await post(
          t,
          '/v2/customer/create',
          customerInput(),
          institution.owner,
          keyed(key),
        );
        // The crashed-instance case: the claim is older than the lease (60 s).
        await t.db.query(
          `UPDATE idempotency_keys SET claimed_at = claimed_at - interval '61 seconds', created_at = created_at - interval '61 seconds'`,
        );
        const otherAfterLease = await post(
          t,
          '/v2/customer/create',
          customerInput(),
          institution.owner,
          keyed(key),
        );
        const taken = await post(t, '/v2/customer/create', body, institution.owner, keyed(key));
        release();
        const late = await hanging;
        const replayed = await post(t, '/v2/customer/create', body, institution.owner, keyed(key));

        assert.equal(during.status, 409, JSON.stringify(during.body));
        assert.equal(during.body.code, 'IDEMPOTENCY_IN_PROGRESS');
        assert.equal(otherBody.status, 422, 'a running claim is bound to its body too');
        assert.equal(
          otherAfterLease.status,
          422,
          'an abandoned claim is taken over by the same request only',
        );
        assert.equal(taken.status, 201, JSON.stringify(taken.body));
        assert.equal(taken.headers['idempotent-replayed'], undefined);
        assert.equal(late.status, 503, 'the hung request ends with its own failure');
        assert.equal(
          replayed.headers['idempotent-replayed'],
          'true',
          'the late failure did not release the new claim',
        );
        assert.deepEqual(replayed.body, taken.body);
        assert.equal(await customerCount(t.db, institution.id), 1);
      } finally {
        release();
        faulty.disarm();
        await stuck.app.close();
      }
    });
  });

  describe('the response cannot be stored', () => {
    it('when storing the response fails, then the client still gets it, repeats get 409 until the lease ends, and then run again', async () => {
      const institution = await createInstitution(t);
      const body = customerInput();
      const key = randomUUID();
      let failures = 0;
      const unstorable: Database = {
        engine: t.db.engine,
        listen: (channel, handlers) => t.db.listen(channel, handlers),
        signal: (channel) => {
          t.db.signal(channel);
        },
        async query<R extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<R[]> {
          if (sql.includes('UPDATE idempotency_keys')) {
            failures++;
            throw new DatabaseUnavailableError(new Error('cut after the commit'));
          }
          return t.db.query<R>(sql, params);
        },
        transaction: (work) => t.db.transaction(work),
        close: () => Promise.resolve(),
      };
      const instance = await buildAppOn(unstorable, { accessTokens: t.accessTokens });
      let first: Response;
      try {
        first = await postOn(instance.app, '/v2/customer/create', body, institution.owner, keyed(key));
      } finally {
        await instance.app.close();
      }

      const during = await post(t, '/v2/customer/create', body, institution.owner, keyed(key));
      await t.db.query(`UPDATE idempotency_keys SET claimed_at = claimed_at - interval '61 seconds'`);
      const afterLease = await post(t, '/v2/customer/create', body, institution.owner, keyed(key));

      assert.equal(failures, 1);
      assert.equal(first.status, 201, JSON.stringify(first.body));
      assert.equal(during.status, 409);
      assert.equal(during.body.code, 'IDEMPOTENCY_IN_PROGRESS');
      // The request runs again: the limit docs/decisions.md names. The email rule keeps it single.
      assert.equal(afterLease.status, 409, JSON.stringify(afterLease.body));
      assert.equal(afterLease.body.code, 'CUSTOMER_EMAIL_TAKEN');
      assert.equal(await customerCount(t.db, institution.id), 1);
    });
  });

  describe('expiry', () => {
    it('when an entry is older than 24 hours, then it is not replayed and the request runs again', async () => {
      const institution = await createInstitution(t);
      const customer = await createCustomer(t, institution.owner);
      const key = randomUUID();
      const body = { id: customer.id, comment: 'once' };
      const first = await post(t, '/v2/customer/update', body, institution.owner, keyed(key));
      await post(t, '/v2/customer/update', { id: customer.id, comment: 'changed since' }, institution.owner);

      await t.db.query(
        `UPDATE idempotency_keys SET created_at = created_at - interval '24 hours 1 second',
                completed_at = completed_at - interval '24 hours 1 second'`,
      );
      const again = await post(t, '/v2/customer/update', body, institution.owner, keyed(key));

      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.equal(again.headers['idempotent-replayed'], undefined);
      assert.notEqual(again.body.data.updatedAt, undefined);
      const details = await post(t, '/v2/customer/details', { id: customer.id }, institution.owner);
      assert.equal(details.body.data.comment, 'once', 'the update ran again');
    });

    it('when an instance handles a keyed request, then it deletes the expired entries', async () => {
      const institution = await createInstitution(t);
      for (let i = 0; i < 3; i++) {
        await post(t, '/v2/customer/create', customerInput(), institution.owner, keyed(randomUUID()));
      }
      await t.db.query(`UPDATE idempotency_keys SET created_at = now() - interval '25 hours'`);
      assert.ok((await entryCount(t.db)) >= 3);
      // A fresh instance cleans up with its first keyed request.
      const fresh = await buildAppOn(t.db, { accessTokens: t.accessTokens });
      try {
        const response = await postOn(
          fresh.app,
          '/v2/customer/create',
          customerInput(),
          institution.owner,
          keyed(randomUUID()),
        );
        assert.equal(response.status, 201, JSON.stringify(response.body));
      } finally {
        await fresh.app.close();
      }
      assert.equal(await entryCount(t.db), 1);
    });
  });

  describe('the header', () => {
    for (const [label, value] of [
      ['empty', ''],
      ['256 characters long', 'k'.repeat(256)],
      ['holding a tab', 'a\tb'],
      ['not ASCII', 'clé'],
    ] as const) {
      it(`when Idempotency-Key is ${label}, then 400 VALIDATION_ERROR naming it, and nothing runs`, async () => {
        const institution = await createInstitution(t);

        const response = await post(
          t,
          '/v2/customer/create',
          customerInput(),
          institution.owner,
          keyed(value),
        );

        assert.equal(response.status, 400, JSON.stringify(response.body));
        assert.equal(response.body.code, 'VALIDATION_ERROR');
        assert.deepEqual(
          response.body.details.map((d: { field: string }) => d.field),
          ['Idempotency-Key'],
        );
        assert.equal(await customerCount(t.db, institution.id), 0);
      });
    }

    it('when Idempotency-Key is 255 printable characters, then it is accepted', async () => {
      const institution = await createInstitution(t);
      const key = ' !~'.repeat(85);
      const body = customerInput();

      const first = await post(t, '/v2/customer/create', body, institution.owner, keyed(`x${key.slice(1)}`));
      const again = await post(t, '/v2/customer/create', body, institution.owner, keyed(`x${key.slice(1)}`));

      assert.equal(first.status, 201, JSON.stringify(first.body));
      assert.equal(again.headers['idempotent-replayed'], 'true');
    });

    it('when read routes get the header, then they ignore it and record nothing', async () => {
      const institution = await createInstitution(t);
      const customer = await createCustomer(t, institution.owner);
      const before = await entryCount(t.db);
      const key = randomUUID();

      const find = await post(t, '/v2/customer/find', {}, institution.owner, keyed(key));
      await createCustomer(t, institution.owner);
      const findAgain = await post(t, '/v2/customer/find', {}, institution.owner, keyed(key));
      const details = await post(
        t,
        '/v2/customer/details',
        { id: customer.id },
        institution.owner,
        keyed(key),
      );
      const badKey = await post(t, '/v2/api-key/find', {}, institution.owner, keyed(''));

      assert.equal(find.status, 200);
      assert.equal(find.body.meta.total, 1);
      assert.equal(findAgain.status, 200);
      assert.equal(findAgain.body.meta.total, 2, 'the second find ran');
      assert.equal(findAgain.headers['idempotent-replayed'], undefined);
      assert.equal(details.status, 200);
      assert.equal(badKey.status, 200, 'a read route does not look at the header at all');
      assert.equal(await entryCount(t.db), before);
    });

    it('when a login carries the header, then it is ignored (auth routes are not idempotent)', async () => {
      const institution = await createInstitution(t);
      const before = await entryCount(t.db);
      const login = await post(
        t,
        '/v2/auth/login',
        { token: institution.ownerEmail, password: institution.ownerPassword },
        undefined,
        { merchant_id: institution.id, ...keyed(randomUUID()) },
      );
      assert.equal(login.status, 200, JSON.stringify(login.body));
      assert.equal(await entryCount(t.db), before);
    });
  });

  describe('documentation', () => {
    const writeRoutes = [
      '/v2/customer/create',
      '/v2/customer/update',
      '/v2/customer/erase',
      '/v2/api-key/create',
      '/v2/api-key/revoke',
      '/v2/user/create',
      '/v2/user/deactivate',
      '/v2/admin/institution/create',
      '/v2/admin/wallet/status',
      '/v2/admin/customer/erase',
      '/v2/webhook/create',
      '/v2/webhook/update',
      '/v2/webhook/delete',
      '/v2/webhook/rotate-secret',
      '/v2/webhook/test',
      '/v2/webhook/redeliver',
    ];

    it('when /openapi.json is read, then every write route and no other documents Idempotency-Key, the replay header and the two codes', async () => {
      const response = await t.app.inject({ method: 'GET', url: '/openapi.json' });
      const document = response.json();
      for (const [path, operations] of Object.entries(document.paths as Record<string, any>)) {
        const operation = operations.post ?? operations.get;
        const header = (operation.parameters ?? []).find(
          (p: { in: string; name: string }) => p.in === 'header' && p.name === 'Idempotency-Key',
        );
        if (!writeRoutes.includes(path)) {
          assert.equal(header, undefined, `${path} does not take Idempotency-Key`);
          continue;
        }
        assert.ok(header !== undefined, `${path} documents Idempotency-Key`);
        assert.equal(header.required, false);
        assert.equal(header.schema.maxLength, 255);
        assert.match(operation.responses['409'].description, /IDEMPOTENCY_IN_PROGRESS/, path);
        assert.match(operation.responses['422'].description, /IDEMPOTENCY_KEY_REUSED/, path);
        const success = operation.responses['201'] ?? operation.responses['200'];
        assert.ok(
          success.headers['idempotent-replayed'] !== undefined,
          `${path} documents the replay header`,
        );
      }
    });
  });

  describe('browsers', () => {
    it('when CORS is open to an origin, then it may send Idempotency-Key and read idempotent-replayed', async () => {
      const origin = 'https://partner.example';
      const institution = await createInstitution(t);
      const withCors = await buildAppOn(t.db, { corsOrigins: [origin], accessTokens: t.accessTokens });
      try {
        const preflight = await withCors.app.inject({
          method: 'OPTIONS',
          url: '/v2/customer/create',
          headers: {
            origin,
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'authorization, content-type, idempotency-key',
          },
        });
        const key = randomUUID();
        const body = customerInput();
        await postOn(withCors.app, '/v2/customer/create', body, institution.owner, { origin, ...keyed(key) });
        const replay = await postOn(withCors.app, '/v2/customer/create', body, institution.owner, {
          origin,
          ...keyed(key),
        });

        assert.equal(preflight.statusCode, 204);
        assert.match(String(preflight.headers['access-control-allow-headers']), /idempotency-key/);
        assert.equal(replay.headers['idempotent-replayed'], 'true');
        assert.match(String(replay.headers['access-control-expose-headers']), /idempotent-replayed/);
      } finally {
        await withCors.app.close();
      }
    });
  });

  describe(
    'separate processes',
    { skip: engine === 'pglite' ? 'the embedded database is single-process' : false },
    () => {
      let services: Service[] = [];

      after(async () => {
        for (const service of services) await stopService(service);
      });

      it('when two service processes share the database, then a key claimed on one holds on the other', async () => {
        const data = await createServiceData();
        try {
          services = [await startService(data.env), await startService(data.env)];
          const [one, two] = services as [Service, Service];
          const partner = await setUpPartner(one, data.operator());
          const body = customerInput();
          const headers = { ...partner.headers, ...keyed(randomUUID()) };

          const answers = await Promise.all(
            Array.from({ length: 50 }, (_, i) =>
              call(i % 2 === 0 ? one : two, '/v2/customer/create', body, headers),
            ),
          );
          const retry = await fetch(`${two.baseUrl}/v2/customer/create`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...headers },
            body: JSON.stringify(body),
          });

          const created = answers.filter((a) => a.status === 201);
          assert.ok(created.length >= 1, answers.map((a) => a.status).join(','));
          for (const answer of answers) {
            if (answer.status === 409) assert.equal(answer.body.code, 'IDEMPOTENCY_IN_PROGRESS');
            else assert.deepEqual(answer.body, created[0]!.body);
          }
          assert.equal(retry.status, 201);
          assert.equal(retry.headers.get('idempotent-replayed'), 'true');
          assert.deepEqual(await retry.json(), created[0]!.body);
          const count = await data.inspect((db) =>
            db.query('SELECT id FROM customers WHERE institution_id = $1', [partner.merchantId]),
          );
          assert.equal(count.length, 1);
        } finally {
          for (const service of services) await stopService(service);
          services = [];
          await data.remove();
        }
      });
    },
  );
});
