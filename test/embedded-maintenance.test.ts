// The embedded database has no autovacuum, so the service keeps its statistics current itself:
// without them, plans cached while the tables were small made every create slower as the
// customers grew. A PostgreSQL server's own autovacuum does this there.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { maintainTables } from '../src/db/maintenance.js';
import { engine, startTestApp, type TestApp } from './support/app.js';
import { createCustomer, createInstitution, post } from './support/client.js';

const serverOnly =
  engine === 'postgres' ? 'the server runs autovacuum; the service maintains PGlite only' : false;

describe(`embedded database maintenance (${engine})`, { skip: serverOnly }, () => {
  let t: TestApp;
  let token: string;
  before(async () => {
    t = await startTestApp();
    token = (await createInstitution(t)).owner.token;
  });
  after(async () => {
    await t.close();
  });

  const plannerRows = async (table: string) =>
    (
      await t.db.query<{ rows: number }>('SELECT reltuples::int AS rows FROM pg_class WHERE relname = $1', [
        table,
      ])
    )[0]?.rows;

  it('when customers were created past the threshold, then maintenance analyses the tables and the planner knows their size', async () => {
    await maintainTables(t.db);
    const created = 120;
    for (let index = 0; index < created; index++) await createCustomer(t, { token });

    const done = await maintainTables(t.db);

    assert.ok(done.includes('analyze public.customers'), `done: ${done.join(', ')}`);
    assert.ok(done.includes('analyze public.wallets'), `done: ${done.join(', ')}`);
    const [{ count } = { count: 0 }] = await t.db.query<{ count: number }>(
      'SELECT count(*)::int AS count FROM customers',
    );
    assert.equal(await plannerRows('customers'), count);
    assert.equal(await plannerRows('wallets'), count);
  });

  it('when nothing changed since the last maintenance, then it does nothing', async () => {
    await maintainTables(t.db);

    assert.deepEqual(await maintainTables(t.db), []);
  });

  it('when many customers were updated, then their table is vacuumed of the old row versions', async () => {
    const ids = (await t.db.query<{ id: string }>('SELECT id FROM customers')).map((row) => row.id);
    for (const id of ids) {
      const response = await post(t, '/v2/customer/update', { id, comment: `updated ${id}` }, { token });
      assert.equal(response.status, 200);
    }

    const done = await maintainTables(t.db);

    assert.ok(done.includes('vacuum analyze public.customers'), `done: ${done.join(', ')}`);
    const [stats] = await t.db.query<{ dead: number }>(
      "SELECT n_dead_tup::int AS dead FROM pg_stat_user_tables WHERE relname = 'customers'",
    );
    assert.equal(stats?.dead, 0);
  });
});
