// What autovacuum does on a PostgreSQL server, for the embedded database, which runs none. Without
// it the planner never learns that tables have grown: plans cached while a table was small (among
// them the foreign-key checks of every create) go on reading the whole table, and a create took
// 5 ms at 10,000 customers instead of 1.7 (docs/performance.md). Tables are vacuumed and analysed
// past autovacuum's default thresholds, so an idle database costs one catalog query a minute.
import type { Queryable } from './database.js';

/** How often the embedded database's tables are checked. autovacuum_naptime's default. */
export const MAINTENANCE_INTERVAL_MS = 60_000;

interface TableActivity extends Record<string, unknown> {
  name: string;
  vacuum: boolean;
  analyze: boolean;
}

/**
 * Vacuums the tables with more dead rows, and analyses those with more changed rows, than
 * autovacuum's default thresholds allow (50 rows plus 20% and 10% of the table); returns what it did.
 */
export async function maintainTables(db: Queryable): Promise<string[]> {
  // A backend's own row counts reach the statistics views when it next goes idle, and at most once
  // a second unless forced; the embedded database is one backend that did all the writing.
  await db.query('SELECT pg_stat_force_next_flush()');
  const tables = await db.query<TableActivity>(
    `SELECT format('%I.%I', s.schemaname, s.relname) AS name,
            s.n_dead_tup > 50 + 0.2 * greatest(c.reltuples, 0) AS vacuum,
            s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0) AS analyze
       FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
      WHERE s.schemaname = current_schema()`,
  );
  const done: string[] = [];
  for (const table of tables) {
    if (table.vacuum) {
      await db.query(`VACUUM (ANALYZE) ${table.name}`);
      done.push(`vacuum analyze ${table.name}`);
    } else if (table.analyze) {
      await db.query(`ANALYZE ${table.name}`);
      done.push(`analyze ${table.name}`);
    }
  }
  return done;
}

/** Runs maintainTables every interval until stopped; a failure is logged and retried next time. */
export function scheduleMaintenance(
  db: Queryable,
  onError: (error: unknown) => void,
  intervalMs = MAINTENANCE_INTERVAL_MS,
): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = maintainTables(db).catch(onError);
  }, intervalMs);
  timer.unref();
  return {
    // Waits for a run in progress, so the database is not closed under it.
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
