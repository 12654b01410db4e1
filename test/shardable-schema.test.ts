// The schema stays shardable by institution (migrations/0030_shardable_schema.sql, and
// docs/operations.md "Past one PostgreSQL"): read from the catalog of the migrated database, every
// tenant table has its tenant column (`institution_id`, NOT NULL) in its primary key, in every
// unique index and in every foreign key, and a foreign key between tenant tables joins tenant
// column to tenant column. A table that is not per tenant says so in its comment
// ('global: <why>'), and a per-tenant table keyed by another column names it
// ('tenant key: <column>: <why>'). A global table never refers to a tenant table (a reference
// table cannot point into a distributed one). A later migration that breaks this fails here.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Queryable } from '../src/db/database.js';
import { migrate } from '../src/db/migrate.js';
import { openTestDatabase, type TestDatabase } from './support/app.js';

interface TableRow extends Record<string, unknown> {
  name: string;
  comment: string | null;
  columns: { name: string; notNull: boolean }[];
}
interface IndexRow extends Record<string, unknown> {
  table: string;
  name: string;
  primary: boolean;
  columns: (string | null)[];
}
interface ForeignKeyRow extends Record<string, unknown> {
  table: string;
  name: string;
  columns: string[];
  referenced: string;
  referencedColumns: string[];
}

type Distribution = { kind: 'global' } | { kind: 'tenant'; column: string };

/** What a table's comment declares, or the default: a tenant table keyed by institution_id. */
export function distributionOf(comment: string | null): Distribution | string {
  const text = comment?.trim() ?? '';
  if (/^global:\s*\S/.test(text)) return { kind: 'global' };
  const tenantKey = /^tenant key:\s*([a-z_][a-z0-9_]*):\s*\S/.exec(text);
  if (tenantKey?.[1] !== undefined) return { kind: 'tenant', column: tenantKey[1] };
  if (/^(global|tenant key)\b/i.test(text))
    return `its comment "${text}" is not a declaration the rule reads`;
  return { kind: 'tenant', column: 'institution_id' };
}

/** Every way the tables of the current schema break the rule, one sentence each. */
export async function shardabilityProblems(db: Queryable): Promise<string[]> {
  const tables = await db.query<TableRow>(
    `SELECT c.relname AS name, obj_description(c.oid, 'pg_class') AS comment,
            coalesce((SELECT json_agg(json_build_object('name', a.attname, 'notNull', a.attnotnull))
                        FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
                     '[]') AS columns
       FROM pg_class c
      WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
      ORDER BY c.relname`,
  );
  const indexes = await db.query<IndexRow>(
    `SELECT t.relname AS table, i.relname AS name, x.indisprimary AS primary,
            (SELECT json_agg(a.attname ORDER BY k.ord)
               FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
               LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum) AS columns
       FROM pg_index x
       JOIN pg_class i ON i.oid = x.indexrelid
       JOIN pg_class t ON t.oid = x.indrelid
      WHERE t.relnamespace = current_schema()::regnamespace AND x.indisunique`,
  );
  const foreignKeys = await db.query<ForeignKeyRow>(
    `SELECT t.relname AS table, k.conname AS name, r.relname AS referenced,
            (SELECT json_agg(a.attname ORDER BY u.ord) FROM unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum) AS columns,
            (SELECT json_agg(a.attname ORDER BY u.ord) FROM unnest(k.confkey) WITH ORDINALITY AS u(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.attnum) AS "referencedColumns"
       FROM pg_constraint k
       JOIN pg_class t ON t.oid = k.conrelid
       JOIN pg_class r ON r.oid = k.confrelid
      WHERE k.contype = 'f' AND t.relnamespace = current_schema()::regnamespace`,
  );

  const problems: string[] = [];
  const distributions = new Map<string, Distribution>();
  for (const table of tables) {
    const distribution = distributionOf(table.comment);
    if (typeof distribution === 'string') {
      problems.push(`${table.name}: ${distribution}`);
      continue;
    }
    distributions.set(table.name, distribution);
    if (distribution.kind === 'tenant') {
      const column = table.columns.find((candidate) => candidate.name === distribution.column);
      if (column === undefined) {
        problems.push(
          `${table.name}: a tenant table without an ${distribution.column} column (declare it 'global: <why>' if it is not per tenant)`,
        );
      } else if (!column.notNull) {
        problems.push(`${table.name}: its tenant column ${distribution.column} may be null`);
      }
      if (!indexes.some((index) => index.table === table.name && index.primary)) {
        problems.push(`${table.name}: a tenant table without a primary key`);
      }
    }
  }
  for (const index of indexes) {
    const distribution = distributions.get(index.table);
    if (distribution?.kind !== 'tenant') continue;
    if (!index.columns.includes(distribution.column)) {
      const what = index.primary ? 'primary key' : 'unique index';
      problems.push(
        `${index.table}: ${what} ${index.name} (${index.columns.map((c) => c ?? '<expression>').join(', ')}) lacks ${distribution.column}`,
      );
    }
  }
  for (const key of foreignKeys) {
    const from = distributions.get(key.table);
    const to = distributions.get(key.referenced);
    if (from === undefined || to === undefined) continue;
    if (from.kind === 'global') {
      if (to.kind === 'tenant') {
        problems.push(
          `${key.table}: global table whose foreign key ${key.name} refers to tenant table ${key.referenced}`,
        );
      }
      continue;
    }
    const position = key.columns.indexOf(from.column);
    if (position === -1) {
      problems.push(`${key.table}: foreign key ${key.name} (${key.columns.join(', ')}) lacks ${from.column}`);
    } else if (to.kind === 'tenant' && key.referencedColumns[position] !== to.column) {
      problems.push(
        `${key.table}: foreign key ${key.name} maps ${from.column} to ${key.referenced}.${key.referencedColumns[position] ?? '?'}, not to its tenant column ${to.column}`,
      );
    }
  }
  return problems;
}

describe('the schema stays shardable by institution', () => {
  let database: TestDatabase;

  before(async () => {
    database = await openTestDatabase();
    await migrate(database.db);
  });
  after(async () => {
    await database.drop();
  });

  it('when every migration is applied, then every tenant table keeps institution_id in its keys', async () => {
    assert.deepEqual(await shardabilityProblems(database.db), []);
  });

  it('when every migration is applied, then the tables holding customer data are tenant tables', async () => {
    const rows = await database.db.query<{ name: string; comment: string | null }>(
      `SELECT c.relname AS name, obj_description(c.oid, 'pg_class') AS comment FROM pg_class c
        WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') ORDER BY 1`,
    );
    const tenant = rows.filter((row) => {
      const distribution = distributionOf(row.comment);
      return typeof distribution !== 'string' && distribution.kind === 'tenant';
    });
    // The tables that hold an institution's customers are distributed with it.
    for (const table of [
      'customers',
      'wallets',
      'wallet_status_changes',
      'customer_history',
      'idempotency_keys',
    ]) {
      assert.ok(
        tenant.some((row) => row.name === table),
        `${table} is a tenant table`,
      );
    }
  });

  it('when a table breaks the rule, then the check names the table and what is missing', async () => {
    await assert.rejects(
      database.db.transaction(async (tx) => {
        await tx.exec(`
          CREATE TABLE shard_probe_orphans (id uuid PRIMARY KEY, note text);
          CREATE TABLE shard_probe_untenanted (id uuid PRIMARY KEY, note text);
          CREATE TABLE shard_probe_nullable (institution_id uuid, note text);
          CREATE TABLE shard_probe_entries (
            id uuid NOT NULL, institution_id uuid NOT NULL, code text, wallet_id uuid,
            PRIMARY KEY (id),
            CONSTRAINT shard_probe_entries_code_key UNIQUE (code),
            CONSTRAINT shard_probe_entries_wallet_fkey FOREIGN KEY (wallet_id, institution_id)
              REFERENCES wallets (institution_id, id));
          CREATE TABLE shard_probe_lookup (id uuid PRIMARY KEY, entry_id uuid, entry_institution uuid,
            FOREIGN KEY (entry_id, entry_institution) REFERENCES customers (id, institution_id));
          COMMENT ON TABLE shard_probe_lookup IS 'global: a probe';
          COMMENT ON TABLE shard_probe_orphans IS 'Global table';`);
        const problems = await shardabilityProblems(tx);
        throw new ProbeResult(problems);
      }),
      (error: unknown) => {
        assert.ok(error instanceof ProbeResult, String(error));
        const mine = error.problems.filter((problem) => problem.startsWith('shard_probe'));
        assert.deepEqual(mine.sort(), [
          'shard_probe_entries: foreign key shard_probe_entries_wallet_fkey maps institution_id to wallets.id, not to its tenant column institution_id',
          'shard_probe_entries: primary key shard_probe_entries_pkey (id) lacks institution_id',
          'shard_probe_entries: unique index shard_probe_entries_code_key (code) lacks institution_id',
          'shard_probe_lookup: global table whose foreign key shard_probe_lookup_entry_id_entry_institution_fkey refers to tenant table customers',
          'shard_probe_nullable: a tenant table without a primary key',
          'shard_probe_nullable: its tenant column institution_id may be null',
          'shard_probe_orphans: its comment "Global table" is not a declaration the rule reads',
          "shard_probe_untenanted: a tenant table without an institution_id column (declare it 'global: <why>' if it is not per tenant)",
          'shard_probe_untenanted: primary key shard_probe_untenanted_pkey (id) lacks institution_id',
        ]);
        // Nothing else in the schema is wrong: the rest of the list is the real schema's, empty.
        assert.deepEqual(
          error.problems.filter((problem) => !problem.startsWith('shard_probe')),
          [],
        );
        return true;
      },
    );
  });
});

/** Carries the probe's findings out of the transaction it rolls back. */
class ProbeResult extends Error {
  constructor(readonly problems: string[]) {
    super('probe');
  }
}
