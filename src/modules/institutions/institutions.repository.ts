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
