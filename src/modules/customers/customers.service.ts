// Customer use cases. Each write runs in one transaction, so it applies wholly or not at all;
// uniqueness and referral rules are enforced by the database and translated by the error handler.
import type { Database, Queryable } from '../../db/database.js';
import { AppError, customerNotFound } from '../../platform/errors.js';
import type { Actor } from '../../platform/principal.js';
import { changeWalletStatus } from '../wallets/wallets.repository.js';
import { nextWalletState } from '../wallets/wallet-status.js';
import {
  customerFields,
  findCustomer,
  findCustomers,
  insertCustomerWithWallet,
  updateCustomer as updateCustomerRow,
  type CustomerFields,
  type CustomerRow,
  type Tenant,
} from './customers.repository.js';
import type {
  AdminCustomer,
  AdminFindCustomersBody,
  CreateCustomerBody,
  Customer,
  FindCustomersBody,
  SetWalletStatusBody,
  UpdateCustomerBody,
} from './customers.schemas.js';

export function toCustomer(row: CustomerRow): Customer {
  return {
    id: row.id,
    walletId: row.walletId,
    email: row.email as string,
    phoneNumber: row.phoneNumber,
    firstName: row.firstName as string,
    lastName: row.lastName as string,
    comment: row.comment,
    externalId: row.externalId,
    referralId: row.referralId,
    country: row.country as string,
    verificationDocumentId: row.verificationDocumentId as string,
    residenceAddress: row.residenceAddress as string,
    itn: row.itn,
    walletStatus: row.walletStatus,
    walletStatusSetBy: row.walletStatusSetBy,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export const toAdminCustomer = (row: CustomerRow): AdminCustomer => ({
  ...toCustomer(row),
  institutionId: row.institutionId,
});

async function mustFind(db: Queryable, tenant: Tenant, by: { id: string } | { walletId: string }) {
  const row = await findCustomer(db, tenant, by);
  if (row === undefined) throw customerNotFound();
  return row;
}

export async function createCustomer(
  db: Database,
  institutionId: string,
  input: CreateCustomerBody,
): Promise<Customer> {
  // One statement, so customer and wallet exist together or not at all.
  return toCustomer(await insertCustomerWithWallet(db, institutionId, input));
}

/** The fields of `input` whose values differ from the customer's. */
function changedFields(current: CustomerRow, input: Partial<CustomerFields>): Partial<CustomerFields> {
  const changes: Partial<CustomerFields> = {};
  for (const field of customerFields) {
    const value = input[field];
    if (value !== undefined && value !== current[field]) changes[field] = value;
  }
  return changes;
}

export async function updateCustomer(
  db: Database,
  caller: { institutionId: string; actor: Actor },
  input: UpdateCustomerBody,
): Promise<Customer> {
  const { id, walletStatus, walletStatusReason, ...fields } = input;
  const tenant: Tenant = { kind: 'institution', institutionId: caller.institutionId };
  return db.transaction(async (tx) => {
    const current = await findCustomer(tx, tenant, { id }, { lock: true });
    if (current === undefined) throw customerNotFound();
    const from = { status: current.walletStatus, setBy: current.walletStatusSetBy };
    // Checked first: a locked status fails the whole request, whatever else it would change.
    const to = walletStatus === undefined ? undefined : nextWalletState(from, walletStatus, 'institution');
    const changes = changedFields(current, fields);
    if (Object.keys(changes).length === 0 && to === undefined) return toCustomer(current);

    const updatedAt = await updateCustomerRow(tx, caller.institutionId, id, changes);
    if (to !== undefined) {
      await changeWalletStatus(tx, {
        walletId: current.walletId,
        institutionId: caller.institutionId,
        from,
        to,
        actor: caller.actor,
        reason: walletStatusReason,
      });
    }
    // The rows stay locked until commit, so the customer now is what was read plus what was
    // written; no need to read it back.
    return toCustomer({
      ...current,
      ...changes,
      walletStatus: to?.status ?? current.walletStatus,
      walletStatusSetBy: to?.setBy ?? current.walletStatusSetBy,
      updatedAt,
    });
  });
}

export async function customerDetails(db: Database, institutionId: string, id: string): Promise<Customer> {
  return toCustomer(await mustFind(db, { kind: 'institution', institutionId }, { id }));
}

function pageOf(body: { take?: number; skip?: number }) {
  return { take: body.take ?? 20, skip: body.skip ?? 0 };
}

export async function findInstitutionCustomers(db: Database, institutionId: string, body: FindCustomersBody) {
  const { take, skip, ...filters } = body;
  const page = pageOf({ take, skip });
  const found = await findCustomers(db, { kind: 'institution', institutionId }, filters, page);
  return { data: found.rows.map(toCustomer), meta: { total: found.total, ...page } };
}

// ---- operator ----

export async function adminCustomerDetails(db: Database, id: string): Promise<AdminCustomer> {
  return toAdminCustomer(await mustFind(db, { kind: 'operator' }, { id }));
}

export async function adminFindCustomers(db: Database, body: AdminFindCustomersBody) {
  const { take, skip, ...filters } = body;
  const page = pageOf({ take, skip });
  const found = await findCustomers(db, { kind: 'operator' }, filters, page);
  return { data: found.rows.map(toAdminCustomer), meta: { total: found.total, ...page } };
}

/** The operator sets a wallet's status; Blocked or Suspicious locks it against the institution. */
export async function setWalletStatusAsOperator(
  db: Database,
  actor: Actor,
  input: SetWalletStatusBody,
): Promise<AdminCustomer> {
  const tenant: Tenant = { kind: 'operator' };
  return db.transaction(async (tx) => {
    const current = await findCustomer(tx, tenant, { walletId: input.walletId }, { lock: true });
    if (current === undefined) throw new AppError('NOT_FOUND', 'Wallet not found');
    const from = { status: current.walletStatus, setBy: current.walletStatusSetBy };
    const to = nextWalletState(from, input.status, 'operator');
    if (to === undefined) return toAdminCustomer(current);
    // No field changes: this only moves the customer's updatedAt, as the status is part of it.
    await updateCustomerRow(tx, current.institutionId, current.id, {});
    await changeWalletStatus(tx, {
      walletId: current.walletId,
      institutionId: current.institutionId,
      from,
      to,
      actor,
      reason: input.reason,
    });
    return toAdminCustomer(await mustFind(tx, tenant, { id: current.id }));
  });
}
