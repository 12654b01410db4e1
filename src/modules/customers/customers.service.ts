// Customer use cases. Each write runs in one transaction, so it applies wholly or not at all;
// uniqueness and referral rules are enforced by the database and translated by the error handler.
import type { Database, Queryable } from '../../db/database.js';
import { AppError, customerNotFound } from '../../platform/errors.js';
import { announceDeliveries, recordEvent } from '../webhooks/events.js';
import { changeWalletStatus } from '../wallets/wallets.repository.js';
import { isLocked, nextWalletState, type WalletState } from '../wallets/wallet-status.js';
import { checkPrecondition, type Precondition } from './customer-versions.js';
import {
  customerFields,
  customerPosition,
  findCustomer,
  findCustomers,
  findHistory,
  insertCustomerWithWallet,
  updateCustomer as updateCustomerRow,
  type ChangeContext,
  type CustomerFields,
  type CustomerRow,
  type FieldChange,
  type HistoryRow,
  type Tenant,
} from './customers.repository.js';
import type {
  AdminCustomer,
  AdminFindCustomersBody,
  CreateCustomerBody,
  Customer,
  CustomerHistoryBody,
  FindCustomersBody,
  HistoryEntry,
  SetWalletStatusBody,
  UpdateCustomerBody,
} from './customers.schemas.js';

/** The caller of a change: its institution, and who and which request, for the history. */
export interface Caller extends ChangeContext {
  institutionId: string;
}

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
    version: row.version,
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

/**
 * The events of a change, recorded in its transaction after its writes: customer.updated when
 * fields changed, then wallet.status_changed when the status or who set it did (same version).
 * Returns how many deliveries they queued, for announceDeliveries() after the commit.
 */
async function recordChangeEvents(
  tx: Queryable,
  change: {
    institutionId: string;
    customer: CustomerRow;
    version: number;
    changedFields: string[];
    wallet?: { from: WalletState; to: WalletState; reason: string | null };
  },
): Promise<number> {
  let queued = 0;
  const about = {
    customerId: change.customer.id,
    walletId: change.customer.walletId,
    version: change.version,
  };
  if (change.changedFields.length > 0) {
    queued += (
      await recordEvent(tx, change.institutionId, {
        type: 'customer.updated',
        data: { ...about, changedFields: change.changedFields },
      })
    ).queued;
  }
  if (change.wallet !== undefined) {
    queued += (
      await recordEvent(tx, change.institutionId, {
        type: 'wallet.status_changed',
        data: {
          ...about,
          previousStatus: change.wallet.from.status,
          status: change.wallet.to.status,
          setBy: change.wallet.to.setBy,
          locked: isLocked(change.wallet.to),
          reason: change.wallet.reason,
        },
      })
    ).queued;
  }
  return queued;
}

/** The wallet state change as history fields: only what moved. */
function walletChanges(from: WalletState, to: WalletState | undefined): FieldChange[] {
  if (to === undefined) return [];
  return [
    ...(from.status === to.status ? [] : [{ field: 'walletStatus', old: from.status, new: to.status }]),
    ...(from.setBy === to.setBy ? [] : [{ field: 'walletStatusSetBy', old: from.setBy, new: to.setBy }]),
  ];
}

export async function createCustomer(
  db: Database,
  caller: Caller,
  input: CreateCustomerBody,
): Promise<Customer> {
  // The first history entry lists every value the customer starts with, its wallet's included,
  // so that a customer's entries replayed from the oldest rebuild it.
  const changes: FieldChange[] = [
    ...customerFields
      .filter((field) => input[field] !== undefined)
      .map((field) => ({ field, old: null, new: input[field] ?? null })),
    { field: 'walletStatus', old: null, new: 'Active' },
    { field: 'walletStatusSetBy', old: null, new: 'institution' },
  ];
  // One statement, so customer, wallet, history entry and event exist together or not at all.
  const created = await insertCustomerWithWallet(db, caller.institutionId, input, {
    actor: caller.actor,
    requestId: caller.requestId,
    changes,
  });
  announceDeliveries(db, created.queued);
  return toCustomer(created);
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
  caller: Caller,
  input: Omit<UpdateCustomerBody, 'expectedVersion'>,
  precondition?: Precondition,
): Promise<Customer> {
  const { id, walletStatus, walletStatusReason, ...fields } = input;
  const tenant: Tenant = { kind: 'institution', institutionId: caller.institutionId };
  let queued = 0;
  const updated = await db.transaction(async (tx) => {
    const current = await findCustomer(tx, tenant, { id }, { lock: true });
    if (current === undefined) throw customerNotFound();
    // Under the row lock: of two updates expecting one version, the second sees the first's.
    checkPrecondition(precondition, current);
    const from = { status: current.walletStatus, setBy: current.walletStatusSetBy };
    // Checked first: a locked status fails the whole request, whatever else it would change.
    const to = walletStatus === undefined ? undefined : nextWalletState(from, walletStatus, 'institution');
    const changes = changedFields(current, fields);
    if (Object.keys(changes).length === 0 && to === undefined) return toCustomer(current);

    const { updatedAt, version } = await updateCustomerRow(tx, caller.institutionId, id, changes, {
      actor: caller.actor,
      requestId: caller.requestId,
      action: 'update',
      reason: to === undefined ? null : (walletStatusReason ?? null),
      changes: [
        ...customerFields
          .filter((field) => changes[field] !== undefined)
          .map((field) => ({ field, old: current[field], new: changes[field] ?? null })),
        ...walletChanges(from, to),
      ],
    });
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
    queued = await recordChangeEvents(tx, {
      institutionId: caller.institutionId,
      customer: current,
      version,
      changedFields: customerFields.filter((field) => changes[field] !== undefined),
      ...(to === undefined ? {} : { wallet: { from, to, reason: walletStatusReason ?? null } }),
    });
    // The rows stay locked until commit, so the customer now is what was read plus what was
    // written; no need to read it back.
    return toCustomer({
      ...current,
      ...changes,
      walletStatus: to?.status ?? current.walletStatus,
      walletStatusSetBy: to?.setBy ?? current.walletStatusSetBy,
      version,
      updatedAt,
    });
  });
  announceDeliveries(db, queued);
  return updated;
}

export async function customerDetails(db: Database, institutionId: string, id: string): Promise<Customer> {
  return toCustomer(await mustFind(db, { kind: 'institution', institutionId }, { id }));
}

function pageOf(body: { take?: number; skip?: number }) {
  return { take: body.take ?? 20, skip: body.skip ?? 0 };
}

/**
 * find's page: by `skip`, or by cursor after the customer `startingAfter` names (which must be one
 * the caller can see); meta carries the next page's cursor.
 */
async function findPage<T>(
  db: Database,
  tenant: Tenant,
  body: FindCustomersBody & { institutionId?: string },
  toApi: (row: CustomerRow) => T,
) {
  const { take, skip, startingAfter, ...filters } = body;
  const page = pageOf({ take, skip });
  const after = startingAfter === undefined ? undefined : await customerPosition(db, tenant, startingAfter);
  if (startingAfter !== undefined && after === undefined) {
    // A well-formed cursor naming a customer the caller cannot see: the customer is not found.
    throw new AppError('CUSTOMER_NOT_FOUND', 'startingAfter names no customer', [
      { field: 'startingAfter', message: 'names no customer of this institution' },
    ]);
  }
  const found = await findCustomers(db, tenant, filters, { ...page, after });
  const last = found.rows.at(-1);
  return {
    data: found.rows.map(toApi),
    meta: { total: found.total, ...page, nextCursor: found.more && last !== undefined ? last.id : null },
  };
}

export async function findInstitutionCustomers(db: Database, institutionId: string, body: FindCustomersBody) {
  return findPage(db, { kind: 'institution', institutionId }, body, toCustomer);
}

// ---- operator ----

export async function adminCustomerDetails(db: Database, id: string): Promise<AdminCustomer> {
  return toAdminCustomer(await mustFind(db, { kind: 'operator' }, { id }));
}

export async function adminFindCustomers(db: Database, body: AdminFindCustomersBody) {
  return findPage(db, { kind: 'operator' }, body, toAdminCustomer);
}

/** The operator sets a wallet's status; Blocked or Suspicious locks it against the institution. */
export async function setWalletStatusAsOperator(
  db: Database,
  context: ChangeContext,
  input: Omit<SetWalletStatusBody, 'expectedVersion'>,
  precondition?: Precondition,
): Promise<AdminCustomer> {
  const tenant: Tenant = { kind: 'operator' };
  let queued = 0;
  const updated = await db.transaction(async (tx) => {
    const current = await findCustomer(tx, tenant, { walletId: input.walletId }, { lock: true });
    if (current === undefined) throw new AppError('NOT_FOUND', 'Wallet not found');
    checkPrecondition(precondition, current);
    const from = { status: current.walletStatus, setBy: current.walletStatusSetBy };
    const to = nextWalletState(from, input.status, 'operator');
    if (to === undefined) return toAdminCustomer(current);
    // No field changes: this moves the customer's updatedAt and version, as the status is part of
    // it, and records the change in the customer's history.
    const { updatedAt, version } = await updateCustomerRow(
      tx,
      current.institutionId,
      current.id,
      {},
      {
        ...context,
        action: 'wallet_status',
        reason: input.reason ?? null,
        changes: walletChanges(from, to),
      },
    );
    await changeWalletStatus(tx, {
      walletId: current.walletId,
      institutionId: current.institutionId,
      from,
      to,
      actor: context.actor,
      reason: input.reason,
    });
    queued = await recordChangeEvents(tx, {
      institutionId: current.institutionId,
      customer: current,
      version,
      changedFields: [],
      wallet: { from, to, reason: input.reason ?? null },
    });
    return toAdminCustomer({
      ...current,
      walletStatus: to.status,
      walletStatusSetBy: to.setBy,
      version,
      updatedAt,
    });
  });
  announceDeliveries(db, queued);
  return updated;
}

// ---- history ----

/**
 * A history entry as the API shows it. Institutions see that the operator acted, not which of
 * the operator's staff: `actor.id` and `actor.name` are null for them on operator entries.
 */
function toHistoryEntry(row: HistoryRow, viewer: Tenant['kind']): HistoryEntry {
  const hidden = viewer === 'institution' && row.actorType === 'operator';
  return {
    id: row.id,
    customerId: row.customerId,
    version: row.version,
    occurredAt: row.occurredAt.toISOString(),
    action: row.action,
    actor: {
      type: row.actorType,
      id: hidden ? null : row.actorId,
      name: hidden ? null : row.actorName,
    },
    requestId: row.requestId,
    reason: row.reason,
    changes: row.changes,
  };
}

/** A customer's history entries, newest first, or 404 CUSTOMER_NOT_FOUND outside the tenant. */
export async function customerHistory(db: Database, tenant: Tenant, body: CustomerHistoryBody) {
  const page = pageOf(body);
  const found = await findHistory(db, tenant, body.id, page);
  if (found === undefined) throw customerNotFound();
  return {
    data: found.rows.map((row) => toHistoryEntry(row, tenant.kind)),
    meta: { total: found.total, ...page },
  };
}
