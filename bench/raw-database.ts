// The baseline's database: the service's own `Database` interface implemented straight on the
// drivers, with none of the service's wrapping (no error classification, no connection-error
// listeners). Handing it to the service's functions runs exactly the SQL statements the service
// runs, in the same transactions, prepared where the service prepares them, with no HTTP and no
// authentication around them.
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import pg from 'pg';
import { preparedName, type Database, type Row, type Transaction } from '../src/db/database.js';

/** The statement as the service sends it: named when the service prepares it. */
function statement(text: string, params: readonly unknown[]): pg.QueryConfig {
  const name = preparedName(text);
  return name === undefined
    ? { text, values: params as unknown[] }
    : { name, text, values: params as unknown[] };
}

export function rawPostgres(connectionString: string, poolSize: number): Database {
  const pool = new pg.Pool({ connectionString, max: poolSize });
  // An idle connection ended by the server (the bench database dropped at the end) is no failure.
  pool.on('error', () => undefined);
  return {
    engine: 'postgres',
    async query<R extends Row>(sql: string, params: readonly unknown[] = []) {
      return (await pool.query<R>(statement(sql, params))).rows;
    },
    async transaction(work) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await work({
          query: async <R extends Row>(sql: string, params: readonly unknown[] = []) =>
            (await client.query<R>(statement(sql, params))).rows,
          exec: async (sql) => {
            await client.query(sql);
          },
        });
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      } finally {
        client.release();
      }
    },
    listen: () => Promise.reject(new Error('The baseline does not listen')),
    signal: () => undefined,
    close: () => pool.end(),
  };
}

export async function rawPglite(dataDir: string): Promise<Database> {
  // The same extensions as the service's embedded database (the migrations create pg_trgm).
  const db = await PGlite.create(dataDir, { extensions: { pg_trgm } });
  const transactionOf = (tx: Parameters<Parameters<PGlite['transaction']>[0]>[0]): Transaction => ({
    query: async <R extends Row>(sql: string, params: readonly unknown[] = []) =>
      (await tx.query<R>(sql, params as unknown[])).rows,
    exec: async (sql) => {
      await tx.exec(sql);
    },
  });
  return {
    engine: 'pglite',
    async query<R extends Row>(sql: string, params: readonly unknown[] = []) {
      return (await db.query<R>(sql, params as unknown[])).rows;
    },
    transaction: (work) => db.transaction((tx) => work(transactionOf(tx))),
    listen: () => Promise.reject(new Error('The baseline does not listen')),
    signal: () => undefined,
    close: () => db.close(),
  };
}
