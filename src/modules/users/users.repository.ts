// Users who log in: institution users (scoped by their institution) and operators (no institution).
import { one, type Queryable } from '../../db/database.js';
import type { InstitutionRole } from '../../platform/principal.js';

export interface UserRow {
  id: string;
  email: string;
  password_hash: string;
  role: InstitutionRole | 'Operator';
  deactivated_at: Date | null;
}

export interface InstitutionUserRow extends UserRow {
  institution_id: string;
  institution_title: string;
}

const userColumns = 'u.id, u.email, u.password_hash, u.role, u.deactivated_at';

export async function findOperatorByEmail(db: Queryable, email: string): Promise<UserRow | undefined> {
  const rows = await db.query<UserRow & Record<string, unknown>>(
    `SELECT ${userColumns} FROM users u WHERE u.institution_id IS NULL AND lower(u.email) = lower($1)`,
    [email],
  );
  return rows[0];
}

export async function findInstitutionUserByEmail(
  db: Queryable,
  institutionId: string,
  email: string,
): Promise<InstitutionUserRow | undefined> {
  const rows = await db.query<InstitutionUserRow & Record<string, unknown>>(
    `SELECT ${userColumns}, u.institution_id, i.title AS institution_title
       FROM users u JOIN institutions i ON i.id = u.institution_id
      WHERE u.institution_id = $1 AND lower(u.email) = lower($2)`,
    [institutionId, email],
  );
  return rows[0];
}

/** Creates an operator unless one with this email exists; true when it created one. */
export async function insertOperatorIfAbsent(
  db: Queryable,
  operator: { email: string; passwordHash: string },
): Promise<boolean> {
  const rows = await db.query(
    `INSERT INTO users (institution_id, email, password_hash, role) VALUES (NULL, $1, $2, 'Operator')
     ON CONFLICT (lower(email)) WHERE institution_id IS NULL DO NOTHING RETURNING id`,
    [operator.email, operator.passwordHash],
  );
  return rows.length === 1;
}

export async function countOperators(db: Queryable): Promise<number> {
  const rows = await db.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM users WHERE institution_id IS NULL AND deactivated_at IS NULL`,
  );
  return rows[0]?.count ?? 0;
}

export interface InstitutionUser {
  id: string;
  email: string;
  role: InstitutionRole;
  created_at: Date;
  deactivated_at: Date | null;
}

const listColumns = 'id, email, role, created_at, deactivated_at';

export async function insertUser(
  db: Queryable,
  institutionId: string,
  user: { email: string; passwordHash: string; role: InstitutionRole },
): Promise<InstitutionUser> {
  return one(
    await db.query<InstitutionUser & Record<string, unknown>>(
      `INSERT INTO users (institution_id, email, password_hash, role) VALUES ($1, $2, $3, $4)
       RETURNING ${listColumns}`,
      [institutionId, user.email, user.passwordHash, user.role],
    ),
  );
}

export async function listUsers(db: Queryable, institutionId: string): Promise<InstitutionUser[]> {
  return db.query<InstitutionUser & Record<string, unknown>>(
    `SELECT ${listColumns} FROM users WHERE institution_id = $1 ORDER BY created_at DESC, id DESC`,
    [institutionId],
  );
}

/** Deactivates (idempotently) and returns the user; undefined when the institution has no such user. */
export async function deactivateUser(
  db: Queryable,
  institutionId: string,
  id: string,
): Promise<InstitutionUser | undefined> {
  const rows = await db.query<InstitutionUser & Record<string, unknown>>(
    `UPDATE users SET deactivated_at = coalesce(deactivated_at, now())
      WHERE institution_id = $1 AND id = $2 RETURNING ${listColumns}`,
    [institutionId, id],
  );
  return rows[0];
}

export async function findPasswordHash(db: Queryable, userId: string): Promise<string | undefined> {
  const rows = await db.query<{ password_hash: string }>(
    'SELECT password_hash FROM users WHERE id = $1 AND deactivated_at IS NULL',
    [userId],
  );
  return rows[0]?.password_hash;
}

export async function setPasswordHash(db: Queryable, userId: string, passwordHash: string): Promise<void> {
  await db.query('UPDATE users SET password_hash = $2 WHERE id = $1', [userId, passwordHash]);
}
