// Customers with their wallets. Every function takes the tenant whose rows it may touch: one
// institution, or (operator routes only) every institution.
import { one, type Queryable } from '../../db/database.js';
import type { WalletStatus, WalletStatusSetBy } from './customers.schemas.js';

export type Tenant = { kind: 'institution'; institutionId: string } | { kind: 'operator' };

/** Customer fields as columns; the keys are the API names. */
const fieldColumns = {
  email: 'email',
  phoneNumber: 'phone_number',
  firstName: 'first_name',
  lastName: 'last_name',
  comment: 'comment',
  externalId: 'external_id',
  referralId: 'referral_id',
  country: 'country',
  verificationDocumentId: 'verification_document_id',
  residenceAddress: 'residence_address',
  itn: 'itn',
} as const;

export type CustomerField = keyof typeof fieldColumns;
export type CustomerFields = Record<CustomerField, string | null>;
export const customerFields = Object.keys(fieldColumns) as CustomerField[];

export interface CustomerRow extends CustomerFields {
  id: string;
  institutionId: string;
  walletId: string;
  walletStatus: WalletStatus;
  walletStatusSetBy: WalletStatusSetBy;
  createdAt: Date;
  updatedAt: Date;
}

const selectCustomer = `
  SELECT c.id, c.institution_id AS "institutionId", w.id AS "walletId",
         ${Object.entries(fieldColumns)
           .map(([field, column]) => `c.${column} AS "${field}"`)
           .join(', ')},
         w.status AS "walletStatus", w.status_set_by AS "walletStatusSetBy",
         c.created_at AS "createdAt", c.updated_at AS "updatedAt"
    FROM customers c JOIN wallets w ON w.customer_id = c.id`;

function tenantCondition(tenant: Tenant, params: unknown[]): string {
  if (tenant.kind === 'operator') return 'TRUE';
  params.push(tenant.institutionId);
  return `c.institution_id = $${params.length}`;
}

export async function insertCustomer(
  db: Queryable,
  institutionId: string,
  fields: Partial<CustomerFields>,
): Promise<{ id: string }> {
  const present = customerFields.filter((field) => fields[field] !== undefined);
  const columns = ['institution_id', ...present.map((field) => fieldColumns[field])];
  const values = [institutionId, ...present.map((field) => fields[field])];
  return one(
    await db.query<{ id: string }>(
      `INSERT INTO customers (${columns.join(', ')})
       VALUES (${values.map((_, index) => `$${index + 1}`).join(', ')}) RETURNING id`,
      values,
    ),
  );
}

/** Sets the given fields (and updated_at); the caller has locked the row. */
export async function updateCustomer(
  db: Queryable,
  institutionId: string,
  id: string,
  changes: Partial<CustomerFields>,
): Promise<void> {
  const changed = customerFields.filter((field) => changes[field] !== undefined);
  const params: unknown[] = [institutionId, id, ...changed.map((field) => changes[field])];
  const assignments = changed.map((field, index) => `${fieldColumns[field]} = $${index + 3}`);
  await db.query(
    // clock_timestamp(): the time of the change, taken under the row lock, not the transaction's start.
    `UPDATE customers SET ${[...assignments, 'updated_at = clock_timestamp()'].join(', ')}
      WHERE institution_id = $1 AND id = $2`,
    params,
  );
}

/** One customer by id or by wallet id; `lock` takes row locks on customer and wallet. */
export async function findCustomer(
  db: Queryable,
  tenant: Tenant,
  by: { id: string } | { walletId: string },
  options: { lock?: boolean } = {},
): Promise<CustomerRow | undefined> {
  const params: unknown[] = ['id' in by ? by.id : by.walletId];
  const key = 'id' in by ? 'c.id' : 'w.id';
  const rows = await db.query<CustomerRow & Record<string, unknown>>(
    `${selectCustomer} WHERE ${key} = $1 AND ${tenantCondition(tenant, params)}
     ${options.lock === true ? 'FOR UPDATE OF c, w' : ''}`,
    params,
  );
  return rows[0];
}

export interface CustomerFilters {
  institutionId?: string;
  email?: string;
  walletId?: string;
  externalId?: string;
  referralId?: string;
  phoneNumber?: string;
  fullName?: string;
  comment?: string;
  walletStatus?: WalletStatus;
  createdFrom?: string;
  createdTo?: string;
}

const likePattern = (text: string) => `%${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;

export async function findCustomers(
  db: Queryable,
  tenant: Tenant,
  filters: CustomerFilters,
  page: { take: number; skip: number },
): Promise<{ rows: CustomerRow[]; total: number }> {
  const params: unknown[] = [];
  const where = [tenantCondition(tenant, params)];
  const add = (condition: (placeholder: string) => string, value: unknown) => {
    params.push(value);
    where.push(condition(`$${params.length}`));
  };
  if (filters.institutionId !== undefined) add((p) => `c.institution_id = ${p}`, filters.institutionId);
  if (filters.email !== undefined) add((p) => `lower(c.email) = lower(${p})`, filters.email);
  if (filters.walletId !== undefined) add((p) => `w.id = ${p}`, filters.walletId);
  if (filters.externalId !== undefined) add((p) => `c.external_id = ${p}`, filters.externalId);
  if (filters.referralId !== undefined) add((p) => `c.referral_id = ${p}`, filters.referralId);
  if (filters.phoneNumber !== undefined) add((p) => `c.phone_number = ${p}`, filters.phoneNumber);
  if (filters.fullName !== undefined) {
    add((p) => `(c.first_name || ' ' || c.last_name) ILIKE ${p}`, likePattern(filters.fullName));
  }
  if (filters.comment !== undefined) add((p) => `c.comment ILIKE ${p}`, likePattern(filters.comment));
  if (filters.walletStatus !== undefined) add((p) => `w.status = ${p}`, filters.walletStatus);
  if (filters.createdFrom !== undefined) add((p) => `c.created_at >= ${p}::timestamptz`, filters.createdFrom);
  if (filters.createdTo !== undefined) add((p) => `c.created_at <= ${p}::timestamptz`, filters.createdTo);

  const condition = where.join(' AND ');
  const [counted] = await db.query<{ total: number }>(
    `SELECT count(*)::int AS total FROM customers c JOIN wallets w ON w.customer_id = c.id WHERE ${condition}`,
    params,
  );
  const rows = await db.query<CustomerRow & Record<string, unknown>>(
    `${selectCustomer} WHERE ${condition}
      ORDER BY c.created_at DESC, c.id DESC
      LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
    [...params, page.take, page.skip],
  );
  return { rows, total: counted?.total ?? 0 };
}
