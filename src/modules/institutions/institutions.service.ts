// Creating an institution also creates its first user, the Owner, in the same transaction.
import type { Database } from '../../db/database.js';
import { generatePassword, hashPassword } from '../auth/passwords.js';
import { insertUser } from '../users/users.repository.js';
import type { CreateInstitutionBody, InstitutionCreated } from './institutions.schemas.js';
import { findInstitutionById, insertInstitution, listInstitutions } from './institutions.repository.js';

export async function createInstitution(
  db: Database,
  input: CreateInstitutionBody,
): Promise<InstitutionCreated> {
  const password = input.ownerPassword ?? generatePassword();
  const generated = input.ownerPassword === undefined ? password : null;
  // Hash before the transaction: it is slow, and needs no lock.
  const passwordHash = await hashPassword(password);
  return db.transaction(async (tx) => {
    const institution = await insertInstitution(tx, input.title);
    const owner = await insertUser(tx, institution.id, {
      email: input.ownerEmail,
      passwordHash,
      role: 'Owner',
    });
    return {
      id: institution.id,
      merchantId: institution.id,
      title: institution.title,
      createdAt: institution.created_at.toISOString(),
      owner: { id: owner.id, email: owner.email, password: generated },
    };
  });
}

export async function findInstitutions(
  db: Database,
): Promise<{ id: string; title: string; createdAt: string }[]> {
  return (await listInstitutions(db)).map((row) => ({
    id: row.id,
    title: row.title,
    createdAt: row.created_at.toISOString(),
  }));
}

/** An institution's title (the operator's pages name the institution of what they show). */
export async function institutionTitle(db: Database, id: string): Promise<string | undefined> {
  return (await findInstitutionById(db, id))?.title;
}
