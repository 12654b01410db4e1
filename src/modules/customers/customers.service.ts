// Customer use cases. Each write runs in one transaction, so it applies wholly or not at all;
// uniqueness and referral rules are enforced by the database and translated by the error handler.
// Personal data is sealed before it is written and opened after it is read (customer-sealing.ts):
// what the repository stores holds no clear value of a sealed field.
import type { Database, Queryable } from '../../db/database.js';
import type { Vault } from '../../platform/crypto/vault.js';
import { AppError, customerNotFound } from '../../platform/errors.js';
import { announceDeliveries, recordEvent } from '../webhooks/events.js';
import { changeWalletStatus } from '../wallets/wallets.repository.js';
import { isLocked, nextWalletState, type WalletState } from '../wallets/wallet-status.js';
import {
  blindIndexes,
  openChanges,
  openCustomer,
  sealChanges,
  sealFields,
  sealNewCustomer,
  type OpenedCustomer,
} from './customer-sealing.js';
import {
  findAccess,
  insertAccess,
  type AccessEntry,
  type AccessFilters,
} from './customer-access.repository.js';
import { checkPrecondition, type Precondition } from './customer-versions.js';
import {
  customerFields,
  customerPosition,
  eraseCustomerRow,
  findCustomer,
  findCustomers,
  findHistory,
  insertCustomerWithWallet,
  institutionIds,
  updateCustomer as updateCustomerRow,
  type ChangeContext,
  type CustomerFields,
  type CustomerFilters,
  type CustomerRow,
  type FieldChange,
  type HistoryRow,
  type IndexMatch,
  type Tenant,
} from './customers.repository.js';
import type {
  AdminCustomer,
  AdminFindCustomersBody,
  CreateCustomerBody,
  Customer,
  CustomerHistoryBody,
  EraseCustomerBody,
  FindCustomersBody,
  HistoryEntry,
  SetWalletStatusBody,
  UpdateCustomerBody,
} from './customers.schemas.js';

/** Where customers live: the database, and the vault that seals and opens their personal data. */
export interface CustomerStore {
  db: Database;
  vault: Vault;
}

/** The caller of a change: its institution, and who and which request, for the history. */
export interface Caller extends ChangeContext {
  institutionId: string;
}

const customerErased = () =>
  new AppError('CUSTOMER_ERASED', 'This customer was erased: its data is gone and it cannot be changed');

export function toCustomer(row: CustomerRow): Customer {
  return {
    id: row.id,
    walletId: row.walletId,
    email: row.email,
    phoneNumber: row.phoneNumber,
    firstName: row.firstName,
    lastName: row.lastName,
    comment: row.comment,
    externalId: row.externalId,
    referralId: row.referralId,
    country: row.country as string,
    verificationDocumentId: row.verificationDocumentId,
    residenceAddress: row.residenceAddress,
    itn: row.itn,
    walletStatus: row.walletStatus,
    walletStatusSetBy: row.walletStatusSetBy,
    version: row.version,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    erasedAt: row.erasedAt === null ? null : row.erasedAt.toISOString(),
  };
}

export const toAdminCustomer = (row: CustomerRow): AdminCustomer => ({
  ...toCustomer(row),
  institutionId: row.institutionId,
});

/** The customer, opened; undefined when the tenant has none such. */
async function findOpened(
  store: { vault: Vault },
  db: Queryable,
  tenant: Tenant,
  by: { id: string } | { walletId: string },
  options: { lock?: boolean } = {},
): Promise<OpenedCustomer | undefined> {
  const stored = await findCustomer(db, tenant, by, options);
  if (stored === undefined) return undefined;
  const opened = await openCustomer(store.vault, stored);
  // Written only before the start-up upgrade sealed every row (src/db/seal-existing.ts): a write
  // to one now would store sealed values in a row read as clear.
  if (options.lock === true && stored.piiFormat === 0) {
    throw new Error('A customer written before encryption was not sealed by the start-up upgrade');
  }
  return opened;
}

async function mustFind(store: CustomerStore, tenant: Tenant, by: { id: string } | { walletId: string }) {
  const opened = await findOpened(store, store.db, tenant, by);
  if (opened === undefined) throw customerNotFound();
  return opened.row;
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
  store: CustomerStore,
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
  const fields: Partial<CustomerFields> = {};
  for (const field of customerFields) fields[field] = input[field] ?? null;
  const sealed = await sealNewCustomer(store.vault, caller.institutionId, fields, changes);
  // One statement, so customer, wallet, history entry and event exist together or not at all.
  const stored = await insertCustomerWithWallet(store.db, caller.institutionId, sealed, {
    actor: caller.actor,
    requestId: caller.requestId,
  });
  // What was stored is what was given: no need to open it again.
  const { dataKey: _key, piiFormat: _format, queued, ...row } = stored;
  announceDeliveries(store.db, queued);
  return toCustomer({ ...row, ...(fields as CustomerFields) });
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
  store: CustomerStore,
  caller: Caller,
  input: Omit<UpdateCustomerBody, 'expectedVersion'>,
  precondition?: Precondition,
): Promise<Customer> {
  const { id, walletStatus, walletStatusReason, ...fields } = input;
  const tenant: Tenant = { kind: 'institution', institutionId: caller.institutionId };
  let queued = 0;
  const updated = await store.db.transaction(async (tx) => {
    const opened = await findOpened(store, tx, tenant, { id }, { lock: true });
    if (opened === undefined) throw customerNotFound();
    const current = opened.row;
    if (current.erasedAt !== null || opened.key === undefined) throw customerErased();
    const key = opened.key;
    // Under the row lock: of two updates expecting one version, the second sees the first's.
    checkPrecondition(precondition, current);
    const from = { status: current.walletStatus, setBy: current.walletStatusSetBy };
    // Checked first: a locked status fails the whole request, whatever else it would change.
    const to = walletStatus === undefined ? undefined : nextWalletState(from, walletStatus, 'institution');
    const changes = changedFields(current, fields);
    if (Object.keys(changes).length === 0 && to === undefined) return toCustomer(current);

    // Sealed under the stored id: the request's may be written in capitals, and the id is part of
    // every value's associated data.
    const stored = {
      ...sealFields(store.vault, key, current.id, changes),
      ...blindIndexes(store.vault, caller.institutionId, changes),
    };
    const history: FieldChange[] = [
      ...customerFields
        .filter((field) => changes[field] !== undefined)
        .map((field) => ({ field, old: current[field], new: changes[field] ?? null })),
      ...walletChanges(from, to),
    ];
    const { updatedAt, version } = await updateCustomerRow(tx, caller.institutionId, id, stored, {
      actor: caller.actor,
      requestId: caller.requestId,
      action: 'update',
      reason: to === undefined ? null : (walletStatusReason ?? null),
      changes: sealChanges(store.vault, key, current.id, current.version + 1, history),
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
  announceDeliveries(store.db, queued);
  return updated;
}

export async function customerDetails(
  store: CustomerStore,
  institutionId: string,
  id: string,
): Promise<Customer> {
  return toCustomer(await mustFind(store, { kind: 'institution', institutionId }, { id }));
}

function pageOf(body: { take?: number; skip?: number }) {
  return { take: body.take ?? 20, skip: body.skip ?? 0 };
}

/**
 * find's page: by `skip`, or by cursor after the customer `startingAfter` names (which must be one
 * the caller can see); meta carries the next page's cursor.
 */
/**
 * The blind indexes an exact find by email or phone looks for: one per institution the value may
 * be in (each institution's indexes are keyed apart, so equal values do not link across them).
 */
async function indexFilters(
  store: CustomerStore,
  tenant: Tenant,
  filters: Omit<FindCustomersBody, 'take' | 'skip' | 'startingAfter'> & { institutionId?: string },
): Promise<CustomerFilters> {
  const { email, phoneNumber, ...rest } = filters;
  if (email === undefined && phoneNumber === undefined) return rest;
  const institutions =
    tenant.kind === 'institution'
      ? [tenant.institutionId]
      : filters.institutionId !== undefined
        ? [filters.institutionId]
        : await institutionIds(store.db);
  const match = (field: 'email' | 'phoneNumber', value: string): IndexMatch =>
    institutions.map((institutionId) => ({
      institutionId,
      index: store.vault.blindIndex(institutionId, field, value),
    }));
  return {
    ...rest,
    ...(email === undefined ? {} : { email: match('email', email) }),
    ...(phoneNumber === undefined ? {} : { phoneNumber: match('phoneNumber', phoneNumber) }),
  };
}

/** A page of customers (newest first) and its cursor, and the count of all matches when asked. */
async function pageOfCustomers(
  store: CustomerStore,
  tenant: Tenant,
  body: FindCustomersBody & { institutionId?: string },
  options: { count: boolean },
) {
  const { db } = store;
  const { take, skip, startingAfter, ...filters } = body;
  const page = pageOf({ take, skip });
  const after = startingAfter === undefined ? undefined : await customerPosition(db, tenant, startingAfter);
  if (startingAfter !== undefined && after === undefined) {
    // A well-formed cursor naming a customer the caller cannot see: the customer is not found.
    throw new AppError('CUSTOMER_NOT_FOUND', 'startingAfter names no customer', [
      { field: 'startingAfter', message: 'names no customer of this institution' },
    ]);
  }
  const found = await findCustomers(
    db,
    tenant,
    await indexFilters(store, tenant, filters),
    { ...page, after },
    options,
  );
  const last = found.rows.at(-1);
  const rows = await Promise.all(found.rows.map(async (row) => (await openCustomer(store.vault, row)).row));
  return { rows, total: found.total, page, nextCursor: found.more && last !== undefined ? last.id : null };
}

async function findPage<T>(
  store: CustomerStore,
  tenant: Tenant,
  body: FindCustomersBody & { institutionId?: string },
  toApi: (row: CustomerRow) => T,
) {
  const found = await pageOfCustomers(store, tenant, body, { count: true });
  return {
    data: found.rows.map(toApi),
    meta: { total: found.total ?? 0, ...found.page, nextCursor: found.nextCursor },
  };
}

/**
 * A page of customers for a person browsing (the console): as find, without counting every match,
 * which at a million customers costs more than the page itself for a broad search.
 */
export async function browseCustomers(
  store: CustomerStore,
  tenant: Tenant,
  body: AdminFindCustomersBody,
): Promise<{ data: AdminCustomer[]; nextCursor: string | null }> {
  if (
    tenant.kind === 'institution' &&
    body.institutionId !== undefined &&
    body.institutionId !== tenant.institutionId
  ) {
    return { data: [], nextCursor: null };
  }
  const found = await pageOfCustomers(store, tenant, body, { count: false });
  return { data: found.rows.map(toAdminCustomer), nextCursor: found.nextCursor };
}

export async function findInstitutionCustomers(
  store: CustomerStore,
  institutionId: string,
  body: FindCustomersBody,
) {
  return findPage(store, { kind: 'institution', institutionId }, body, toCustomer);
}

// ---- operator ----

export async function adminCustomerDetails(store: CustomerStore, id: string): Promise<AdminCustomer> {
  return toAdminCustomer(await mustFind(store, { kind: 'operator' }, { id }));
}

export async function adminFindCustomers(store: CustomerStore, body: AdminFindCustomersBody) {
  return findPage(store, { kind: 'operator' }, body, toAdminCustomer);
}

/** The operator sets a wallet's status; Blocked or Suspicious locks it against the institution. */
export async function setWalletStatusAsOperator(
  store: CustomerStore,
  context: ChangeContext,
  input: Omit<SetWalletStatusBody, 'expectedVersion'>,
  precondition?: Precondition,
): Promise<AdminCustomer> {
  const tenant: Tenant = { kind: 'operator' };
  let queued = 0;
  const updated = await store.db.transaction(async (tx) => {
    const opened = await findOpened(store, tx, tenant, { walletId: input.walletId }, { lock: true });
    if (opened === undefined) throw new AppError('NOT_FOUND', 'Wallet not found');
    const current = opened.row;
    checkPrecondition(precondition, current);
    const from = { status: current.walletStatus, setBy: current.walletStatusSetBy };
    const to = nextWalletState(from, input.status, 'operator');
    if (to === undefined) return toAdminCustomer(current);
    // No field changes: this moves the customer's updatedAt and version, as the status is part of
    // it, and records the change in the customer's history.
    // An erased customer's wallet can still be locked; its entry then has no key to seal with,
    // and keeps only the field names, as every entry of an erased customer reads.
    const changes = walletChanges(from, to);
    const { updatedAt, version } = await updateCustomerRow(
      tx,
      current.institutionId,
      current.id,
      {},
      {
        ...context,
        action: 'wallet_status',
        reason: input.reason ?? null,
        changes:
          opened.key === undefined
            ? changes.map((change) => ({ field: change.field }))
            : sealChanges(store.vault, opened.key, current.id, current.version + 1, changes),
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
  announceDeliveries(store.db, queued);
  return updated;
}

// ---- history ----

/**
 * A history entry as the API shows it. Institutions see that the operator acted, not which of
 * the operator's staff: `actor.id` and `actor.name` are null for them on operator entries.
 */
function toHistoryEntry(row: HistoryRow, changes: FieldChange[], viewer: Tenant['kind']): HistoryEntry {
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
    changes,
  };
}

/** A customer's history entries, newest first, or 404 CUSTOMER_NOT_FOUND outside the tenant. */
export async function customerHistory(store: CustomerStore, tenant: Tenant, body: CustomerHistoryBody) {
  const page = pageOf(body);
  const found = await findHistory(store.db, tenant, body.id, page);
  if (found === undefined) throw customerNotFound();
  const key =
    found.dataKey === null
      ? undefined
      : await store.vault.openDataKey(found.dataKey, {
          institutionId: found.institutionId,
          // The stored id: the request's may be written in capitals.
          customerId: found.id,
        });
  return {
    data: found.rows.map((row) => toHistoryEntry(row, openChanges(store.vault, key, row), tenant.kind)),
    meta: { total: found.total, ...page },
  };
}

// ---- erasure ----

/**
 * Erases a customer (contract "POST /v2/customer/erase"): its personal data becomes unrecoverable,
 * in its row and in its history, by destroying its data key and blanking its columns in one
 * transaction. Erasing an erased customer answers the same again. An institution cannot erase a
 * customer whose wallet the operator holds (Blocked or Suspicious); the operator can.
 */
export async function eraseCustomer(
  store: CustomerStore,
  tenant: Tenant,
  context: ChangeContext,
  input: EraseCustomerBody,
): Promise<CustomerRow> {
  let queued = 0;
  const erased = await store.db.transaction(async (tx) => {
    const opened = await findOpened(store, tx, tenant, { id: input.id }, { lock: true });
    if (opened === undefined) throw customerNotFound();
    const current = opened.row;
    if (current.erasedAt !== null) return current;
    const wallet = { status: current.walletStatus, setBy: current.walletStatusSetBy };
    if (tenant.kind === 'institution' && isLocked(wallet)) {
      throw new AppError(
        'CUSTOMER_ON_HOLD',
        'The platform holds this customer (its wallet is Blocked or Suspicious by the operator): it cannot be erased',
      );
    }
    const fields = customerFields.filter((field) => field !== 'country' && current[field] !== null);
    const { updatedAt, version, erasedAt } = await eraseCustomerRow(tx, current, {
      ...context,
      reason: input.reason,
      fields,
    });
    ({ queued } = await recordEvent(tx, current.institutionId, {
      type: 'customer.erased',
      data: { customerId: current.id, walletId: current.walletId, version },
    }));
    const blank = Object.fromEntries(
      customerFields.filter((field) => field !== 'country').map((field) => [field, null]),
    );
    return { ...current, ...blank, version, updatedAt, erasedAt };
  });
  // After the commit, as every change does: wakes the dispatchers for the customer.erased deliveries.
  announceDeliveries(store.db, queued);
  // The destroyed key leaves this process's memory too (other instances' copies age out unused).
  store.vault.forgetDataKey({ institutionId: erased.institutionId, customerId: erased.id });
  return erased;
}

// ---- data access (the console's reveal) ----

/** The fields the console masks until a person reveals them (and the reveal is recorded). */
export const maskedFields = [
  'email',
  'phoneNumber',
  'verificationDocumentId',
  'residenceAddress',
  'itn',
] as const;
export type MaskedField = (typeof maskedFields)[number];

/**
 * A customer, for a person who asked to see some of its masked fields: the access is recorded
 * (who, when, which customer, which fields) in the transaction that reads the customer.
 */
export async function revealCustomer(
  store: CustomerStore,
  tenant: Tenant,
  context: ChangeContext,
  input: { id: string; fields: readonly MaskedField[] },
): Promise<AdminCustomer> {
  return store.db.transaction(async (tx) => {
    const opened = await findOpened(store, tx, tenant, { id: input.id });
    if (opened === undefined) throw customerNotFound();
    const customer = opened.row;
    await insertAccess(tx, {
      institutionId: customer.institutionId,
      customerId: customer.id,
      actor: context.actor,
      fields: input.fields,
      requestId: context.requestId,
    });
    return toAdminCustomer(customer);
  });
}

/** The data access log, newest first: an institution sees only its own customers' entries. */
export async function findDataAccess(
  store: CustomerStore,
  tenant: Tenant,
  filters: Omit<AccessFilters, 'institutionId'> & { institutionId?: string },
  page: { take: number; before?: { occurredAt: Date; id: string } },
): Promise<AccessEntry[]> {
  const scoped =
    tenant.kind === 'institution' ? { ...filters, institutionId: tenant.institutionId } : filters;
  return findAccess(store.db, scoped, page);
}
