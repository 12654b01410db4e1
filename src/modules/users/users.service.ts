// An institution's users: Owners create, list and deactivate them; everyone changes their own
// password. Deactivation and a password change end the user's sessions at once.
import type { Database } from '../../db/database.js';
import { AppError, validationError } from '../../platform/errors.js';
import { generatePassword, hashPassword, verifyPassword } from '../auth/passwords.js';
import { revokeUserSessions } from '../auth/sessions.repository.js';
import type { ChangePasswordBody, CreatedUser, CreateUserBody, User } from './users.schemas.js';
import {
  deactivateUser as deactivateUserRow,
  findPasswordHash,
  insertUser,
  listUsers,
  setPasswordHash,
  type InstitutionUser,
} from './users.repository.js';

function toUser(row: InstitutionUser): User {
  return {
    id: row.id,
    email: row.email,
    role: row.role,
    createdAt: row.created_at.toISOString(),
    deactivatedAt: row.deactivated_at?.toISOString() ?? null,
  };
}

export async function createUser(
  db: Database,
  institutionId: string,
  input: CreateUserBody,
): Promise<CreatedUser> {
  const password = input.password ?? generatePassword();
  const row = await insertUser(db, institutionId, {
    email: input.email,
    passwordHash: await hashPassword(password),
    role: input.role,
  });
  return { ...toUser(row), password: input.password === undefined ? password : null };
}

export async function findUsers(db: Database, institutionId: string): Promise<User[]> {
  return (await listUsers(db, institutionId)).map(toUser);
}

export async function deactivateUser(
  db: Database,
  caller: { institutionId: string; userId: string },
  id: string,
): Promise<User> {
  if (id === caller.userId) throw validationError('id', 'cannot be your own user');
  return db.transaction(async (tx) => {
    const row = await deactivateUserRow(tx, caller.institutionId, id);
    if (row === undefined) throw new AppError('NOT_FOUND', 'User not found');
    await revokeUserSessions(tx, id);
    return toUser(row);
  });
}

export async function changePassword(db: Database, userId: string, input: ChangePasswordBody): Promise<void> {
  const current = await findPasswordHash(db, userId);
  if (!(await verifyPassword(current, input.oldPassword))) {
    throw new AppError('INVALID_CREDENTIALS', 'The old password is not correct');
  }
  const newHash = await hashPassword(input.newPassword);
  await db.transaction(async (tx) => {
    await setPasswordHash(tx, userId, newHash);
    await revokeUserSessions(tx, userId);
  });
}
