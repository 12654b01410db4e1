import { one, type Queryable } from '../../db/database.js';

export interface InstitutionRow {
  id: string;
  title: string;
  created_at: Date;
}

export async function insertInstitution(db: Queryable, title: string): Promise<InstitutionRow> {
  return one(
    await db.query<InstitutionRow & Record<string, unknown>>(
      'INSERT INTO institutions (title) VALUES ($1) RETURNING id, title, created_at',
      [title],
    ),
  );
}

/** Every institution, by title: the operator's console lists them and filters by them. */
export async function listInstitutions(db: Queryable): Promise<InstitutionRow[]> {
  return db.query<InstitutionRow & Record<string, unknown>>(
    'SELECT id, title, created_at FROM institutions ORDER BY title, id',
  );
}

export async function findInstitutionById(db: Queryable, id: string): Promise<InstitutionRow | undefined> {
  const rows = await db.query<InstitutionRow & Record<string, unknown>>(
    'SELECT id, title, created_at FROM institutions WHERE id = $1',
    [id],
  );
  return rows[0];
}
