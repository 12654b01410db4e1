// `customercore migrate`: applies the service's migrations where it is installed (this
// repository), with the service's own configuration (src/config.ts reads the environment): the
// PostgreSQL server of DATABASE_URL, or the embedded database in DATA_DIR, locked as the service
// locks it so that a running embedded service is never migrated under its feet.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../../src/config.js';
import { lockDataDir } from '../../../src/db/data-dir-lock.js';
import { openPglite, openPostgres } from '../../../src/db/database.js';
import { migrate } from '../../../src/db/migrate.js';

export async function migrateFromEnvironment(
  env: NodeJS.ProcessEnv,
): Promise<{ database: 'postgres' | 'embedded'; applied: string[] }> {
  const config = loadConfig(env, (file) => readFileSync(file, 'utf8'));
  if (config.databaseUrl !== undefined) {
    const db = openPostgres({
      connectionString: config.databaseUrl,
      poolSize: 1,
      connectTimeoutMs: config.databaseConnectTimeoutMs,
      statementTimeoutMs: config.databaseStatementTimeoutMs,
    });
    try {
      return { database: 'postgres', applied: await migrate(db) };
    } finally {
      await db.close();
    }
  }
  const lock = lockDataDir(config.dataDir);
  try {
    const db = await openPglite(path.join(config.dataDir, 'pgdata'));
    try {
      return { database: 'embedded', applied: await migrate(db) };
    } finally {
      await db.close();
    }
  } finally {
    lock.release();
  }
}
