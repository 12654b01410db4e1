// Customers with their wallets. Every function takes the tenant whose rows it may touch: one
// institution, or (operator routes only) every institution.
import { one, prepared, type Queryable } from '../../db/database.js';
import type { Actor } from '../../platform/principal.js';
import { fanOutDeliveries, queuedDeliveries } from '../webhooks/events.js';
import type { BlindIndexes, StoredCustomerRow } from './customer-sealing.js';
import type { WalletStatus, WalletStatusSetBy } from './customers.schemas.js';

export type Tenant = { kind: 'institution'; institutionId: string } | { kind: 'operator' };

/** Customer fields as columns; the keys are the API names. */
export const fieldColumns = {
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
  version: number;
  createdAt: Date;
  updatedAt: Date;
  erasedAt: Date | null;
}

/** The customer fields of the row `c`, under their API names. */
const fieldSelection = Object.entries(fieldColumns)
  .map(([field, column]) => `c.${column} AS "${field}"`)
  .join(', ');

const selectCustomer = `
  SELECT c.id, c.institution_id AS "institutionId", w.id AS "walletId",
         ${fieldSelection},
         w.status AS "walletStatus", w.status_set_by AS "walletStatusSetBy", c.version,
         c.created_at AS "createdAt", c.updated_at AS "updatedAt", c.erased_at AS "erasedAt",
         c.data_key AS "dataKey", c.pii_format AS "piiFormat"
    FROM customers c JOIN wallets w ON w.customer_id = c.id`;

function tenantCondition(tenant: Tenant, params: unknown[]): string {
  if (tenant.kind === 'operator') return 'TRUE';
  params.push(tenant.institutionId);
  return `c.institution_id = $${params.length}`;
}

// A customer, its wallet, the first entry of its history, its customer.created event and that
// event's webhook deliveries in one statement: atomic on its own (the outbox needs no separate
// transaction), and one round trip instead of eight (BEGIN, five inserts, the read back, COMMIT). Every column
// is always written (absent optional fields as NULL, their default), so that the text is fixed
// and can be prepared. The entry is dated with the customer's createdAt.
const fieldCount = customerFields.length;
// $1 institution, $2..$(n+1) the fields, then the history's five, then id, key and indexes.
const [idParam, keyParam, emailIndexParam, phoneIndexParam] = [7, 8, 9, 10].map((n) => `$${fieldCount + n}`);
const insertCustomerWithWalletStatement = prepared(
  'insert_customer_with_wallet',
  `WITH c AS (
     INSERT INTO customers
       (institution_id, ${Object.values(fieldColumns).join(', ')}, id, data_key, email_index, phone_index, pii_format)
     VALUES (${['institution_id', ...customerFields].map((_, index) => `$${index + 1}`).join(', ')},
             ${idParam}::uuid, ${keyParam}::bytea, ${emailIndexParam}::bytea, ${phoneIndexParam}::bytea, 1)
     RETURNING id, institution_id, ${Object.values(fieldColumns).join(', ')}, version, created_at, updated_at,
               erased_at, data_key, pii_format
   ), w AS (
     INSERT INTO wallets (institution_id, customer_id) SELECT institution_id, id FROM c
     RETURNING id, status, status_set_by
   ), h AS (
     INSERT INTO customer_history
       (institution_id, customer_id, version, occurred_at, actor_type, actor_id, actor_name, request_id, action,
        changes, pii_format)
     SELECT institution_id, id, version, created_at,
            $${fieldCount + 2}::text, $${fieldCount + 3}::uuid, $${fieldCount + 4}::text, $${fieldCount + 5}::text,
            'create', $${fieldCount + 6}::jsonb, 1
       FROM c
   ), ev AS (
     INSERT INTO events (institution_id, type, customer_id, version, data, created_at)
     SELECT c.institution_id, 'customer.created', c.id, c.version,
            json_build_object('customerId', c.id, 'walletId', w.id, 'version', c.version, 'externalId', c.external_id),
            c.created_at
       FROM c CROSS JOIN w
     RETURNING institution_id, id, seq, type, customer_id, version, created_at
   ), dl AS (${fanOutDeliveries('ev')})
   SELECT c.id, c.institution_id AS "institutionId", w.id AS "walletId", ${fieldSelection},
          w.status AS "walletStatus", w.status_set_by AS "walletStatusSetBy", c.version,
          c.created_at AS "createdAt", c.updated_at AS "updatedAt", c.erased_at AS "erasedAt",
          c.data_key AS "dataKey", c.pii_format AS "piiFormat", ${queuedDeliveries('dl')}
     FROM c CROSS JOIN w`,
);

/** Who made a change and in which request, as its history entry records it. */
export interface ChangeContext {
  actor: Actor;
  requestId: string;
}

/** One changed field of a history entry. */
export interface FieldChange {
  field: string;
  old: string | null;
  new: string | null;
}

/** A changed field as stored: its values sealed together (pii_format 1), or in clear (0). */
export interface StoredChange {
  field: string;
  sealed?: string;
  old?: string | null;
  new?: string | null;
}

/** A new customer as stored: fields sealed (customer-sealing.ts), with its key and indexes. */
export interface NewStoredCustomer {
  id: string;
  dataKey: Buffer;
  fields: Partial<CustomerFields>;
  indexes: BlindIndexes;
  changes: StoredChange[];
}

/**
 * Inserts a customer and its (Active) wallet with its first history entry, and returns the
 * customer as findCustomer would, with how many webhook deliveries it queued.
 */
export async function insertCustomerWithWallet(
  db: Queryable,
  institutionId: string,
  customer: NewStoredCustomer,
  context: ChangeContext,
): Promise<StoredCustomerRow & { queued: number }> {
  return one(
    await db.query<StoredCustomerRow & { queued: number } & Record<string, unknown>>(
      insertCustomerWithWalletStatement,
      [
        institutionId,
        ...customerFields.map((field) => customer.fields[field] ?? null),
        context.actor.type,
        context.actor.id,
        context.actor.name,
        context.requestId,
        JSON.stringify(customer.changes),
        customer.id,
        customer.dataKey,
        customer.indexes.emailIndex ?? null,
        customer.indexes.phoneIndex ?? null,
      ],
    ),
  );
}

/** A change's history entry, before the change gives it its version and time. */
export interface NewHistoryEntry extends ChangeContext {
  action: 'update' | 'wallet_status';
  reason: string | null;
  /** Sealed for the version the change gives the customer (its current version + 1). */
  changes: StoredChange[];
}

/**
 * Sets the given fields, moves updated_at, bumps version and appends the change's history entry
 * (dated with the new updated_at, numbered with the new version), in one statement; returns the
 * new updated_at and version. The caller has locked the row.
 */
export async function updateCustomer(
  db: Queryable,
  institutionId: string,
  id: string,
  changes: Partial<CustomerFields> & BlindIndexes,
  entry: NewHistoryEntry,
): Promise<{ updatedAt: Date; version: number }> {
  const changed = [
    ...customerFields.filter((field) => changes[field] !== undefined),
    ...(['emailIndex', 'phoneIndex'] as const).filter((index) => changes[index] !== undefined),
  ];
  const params: unknown[] = [
    institutionId,
    id,
    entry.actor.type,
    entry.actor.id,
    entry.actor.name,
    entry.requestId,
    entry.action,
    entry.reason,
    JSON.stringify(entry.changes),
    ...changed.map((field) => changes[field]),
  ];
  const columns = { ...fieldColumns, emailIndex: 'email_index', phoneIndex: 'phone_index' };
  const assignments = changed.map((field, index) => `${columns[field]} = $${index + 10}`);
  return one(
    await db.query<{ updatedAt: Date; version: number }>(
      // clock_timestamp(): the time of the change, taken under the row lock, not the transaction's start.
      `WITH u AS (
         UPDATE customers
            SET ${[...assignments, 'updated_at = clock_timestamp()', 'version = version + 1'].join(', ')}
          WHERE institution_id = $1 AND id = $2
         RETURNING institution_id, id, version, updated_at
       )
       INSERT INTO customer_history
         (institution_id, customer_id, version, occurred_at, actor_type, actor_id, actor_name, request_id,
          action, reason, changes, pii_format)
       SELECT institution_id, id, version, updated_at, $3::text, $4::uuid, $5::text, $6::text,
              $7::text, $8::text, $9::jsonb, 1
         FROM u
       RETURNING occurred_at AS "updatedAt", version`,
      params,
    ),
  );
}

export interface HistoryRow {
  id: string;
  customerId: string;
  version: number;
  occurredAt: Date;
  actorType: Actor['type'];
  actorId: string;
  actorName: string;
  requestId: string;
  action: 'create' | 'erase' | NewHistoryEntry['action'];
  reason: string | null;
  changes: StoredChange[];
  piiFormat: number;
}

/**
 * A page of a customer's history, newest first (by version, which every change moves by one), and
 * how many entries it has; undefined when the tenant has no such customer.
 */
export async function findHistory(
  db: Queryable,
  tenant: Tenant,
  customerId: string,
  page: { take: number; skip: number },
): Promise<
  | { rows: HistoryRow[]; total: number; id: string; institutionId: string; dataKey: Uint8Array | null }
  | undefined
> {
  const params: unknown[] = [customerId];
  const condition = tenantCondition(tenant, params);
  const [counted] = await db.query<{
    total: number;
    id: string;
    institutionId: string;
    dataKey: Uint8Array | null;
  }>(
    `SELECT count(h.id)::int AS total, c.id, c.institution_id AS "institutionId", c.data_key AS "dataKey"
       FROM customers c LEFT JOIN customer_history h ON h.customer_id = c.id AND h.institution_id = c.institution_id
      WHERE c.id = $1 AND ${condition}
      GROUP BY c.id, c.institution_id, c.data_key`,
    params,
  );
  if (counted === undefined) return undefined;
  const rows = await db.query<HistoryRow & Record<string, unknown>>(
    `SELECT h.id, h.customer_id AS "customerId", h.version, h.occurred_at AS "occurredAt",
            h.actor_type AS "actorType", h.actor_id AS "actorId", h.actor_name AS "actorName",
            h.request_id AS "requestId", h.action, h.reason, h.changes, h.pii_format AS "piiFormat"
       FROM customer_history h JOIN customers c ON c.id = h.customer_id AND c.institution_id = h.institution_id
      WHERE h.customer_id = $1 AND ${condition}
      ORDER BY h.version DESC
      LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
    [...params, page.take, page.skip],
  );
  return { rows, ...counted };
}

/**
 * One of findCustomer's eight fixed forms. The reads are prepared. The locking forms, which only
 * open an update's transaction, stay unnamed: their text (FOR UPDATE and all) then goes with every
 * call, which the outage test watches for on the wire to cut the network just after a row lock.
 */
function findCustomerStatement(by: 'id' | 'walletId', tenant: Tenant['kind'], lock: boolean): string {
  const text =
    `${selectCustomer} WHERE ${by === 'id' ? 'c.id' : 'w.id'} = $1` +
    (tenant === 'institution' ? ' AND c.institution_id = $2' : '') +
    (lock ? ' FOR UPDATE OF c, w' : '');
  return lock ? text : prepared(`find_customer_by_${by === 'id' ? 'id' : 'wallet'}_for_${tenant}`, text);
}

/** findCustomer's statements for one key: per tenant kind, [read, locking read]. */
const findCustomerStatementsBy = (by: 'id' | 'walletId') =>
  ({
    institution: [
      findCustomerStatement(by, 'institution', false),
      findCustomerStatement(by, 'institution', true),
    ],
    operator: [findCustomerStatement(by, 'operator', false), findCustomerStatement(by, 'operator', true)],
  }) as const;

const findCustomerStatements = {
  id: findCustomerStatementsBy('id'),
  walletId: findCustomerStatementsBy('walletId'),
} as const;

/** One customer by id or by wallet id; `lock` takes row locks on customer and wallet. */
export async function findCustomer(
  db: Queryable,
  tenant: Tenant,
  by: { id: string } | { walletId: string },
  options: { lock?: boolean } = {},
): Promise<StoredCustomerRow | undefined> {
  const byId = 'id' in by;
  const statement =
    findCustomerStatements[byId ? 'id' : 'walletId'][tenant.kind][options.lock === true ? 1 : 0];
  const key = byId ? by.id : by.walletId;
  const rows = await db.query<StoredCustomerRow & Record<string, unknown>>(
    statement,
    tenant.kind === 'institution' ? [key, tenant.institutionId] : [key],
  );
  return rows[0];
}

/** Blind indexes to look a value up by: one per institution that may hold it. */
export type IndexMatch = readonly { institutionId: string; index: Buffer }[];

export interface CustomerFilters {
  institutionId?: string;
  email?: IndexMatch;
  walletId?: string;
  externalId?: string;
  referralId?: string;
  phoneNumber?: IndexMatch;
  fullName?: string;
  comment?: string;
  walletStatus?: WalletStatus;
  createdFrom?: string;
  createdTo?: string;
}

const likePattern = (text: string) => `%${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;

/** Where a customer stands in find's order (newest first), for cursor paging; undefined if unseen. */
export async function customerPosition(
  db: Queryable,
  tenant: Tenant,
  id: string,
): Promise<PagePosition | undefined> {
  const params: unknown[] = [id];
  const rows = await db.query<{ created_at: Date; id: string }>(
    `SELECT c.created_at, c.id FROM customers c WHERE c.id = $1 AND ${tenantCondition(tenant, params)}`,
    params,
  );
  const row = rows[0];
  return row === undefined ? undefined : { createdAt: row.created_at, id: row.id };
}

export interface PagePosition {
  createdAt: Date;
  id: string;
}

/**
 * A page of the customers that match, newest first, and how many match in all. The page starts
 * after `skip` matches, or right after the customer at `after` (a cursor: however deep, the page
 * is read from the newest-first index where it starts, instead of reading and dropping every
 * earlier match). `more` says whether any match follows the page.
 */
/** Up to this many matches, a substring search collects them all through the trigram index. */
const FEW_MATCHES = 2000;

export async function findCustomers(
  db: Queryable,
  tenant: Tenant,
  filters: CustomerFilters,
  page: { take: number; skip: number; after?: PagePosition | undefined },
  options: { count?: boolean } = {},
): Promise<{ rows: StoredCustomerRow[]; total: number | undefined; more: boolean }> {
  const params: unknown[] = [];
  const where = [tenantCondition(tenant, params)];
  const add = (condition: (placeholder: string) => string, value: unknown) => {
    params.push(value);
    where.push(condition(`$${params.length}`));
  };
  if (filters.institutionId !== undefined) add((p) => `c.institution_id = ${p}`, filters.institutionId);
  const byIndex = (column: string, match: IndexMatch) => {
    const [single] = match;
    if (match.length === 1 && single !== undefined) {
      add((p) => `c.institution_id = ${p}`, single.institutionId);
      add((p) => `c.${column} = ${p}`, single.index);
    } else {
      params.push(match.map((entry) => entry.institutionId));
      const institutionsParam = `$${params.length}`;
      add(
        (p) =>
          `(c.institution_id, c.${column}) IN (SELECT * FROM unnest(${institutionsParam}::uuid[], ${p}::bytea[]))`,
        match.map((entry) => entry.index),
      );
    }
  };
  if (filters.email !== undefined) byIndex('email_index', filters.email);
  if (filters.walletId !== undefined) add((p) => `w.id = ${p}`, filters.walletId);
  if (filters.externalId !== undefined) add((p) => `c.external_id = ${p}`, filters.externalId);
  if (filters.referralId !== undefined) add((p) => `c.referral_id = ${p}`, filters.referralId);
  if (filters.phoneNumber !== undefined) byIndex('phone_index', filters.phoneNumber);
  if (filters.fullName !== undefined) {
    add((p) => `(c.first_name || ' ' || c.last_name) ILIKE ${p}`, likePattern(filters.fullName));
  }
  if (filters.comment !== undefined) add((p) => `c.comment ILIKE ${p}`, likePattern(filters.comment));
  if (filters.walletStatus !== undefined) add((p) => `w.status = ${p}`, filters.walletStatus);
  if (filters.createdFrom !== undefined) add((p) => `c.created_at >= ${p}::timestamptz`, filters.createdFrom);
  if (filters.createdTo !== undefined) add((p) => `c.created_at <= ${p}::timestamptz`, filters.createdTo);

  const condition = where.join(' AND ');
  // Every customer has exactly one wallet (inserted with it, in the same statement), so unless a
  // wallet filter is given the count need not visit the wallets: half the work of a count with
  // many matches.
  const matched =
    filters.walletId !== undefined || filters.walletStatus !== undefined
      ? 'customers c JOIN wallets w ON w.customer_id = c.id'
      : 'customers c';
  // Counting every match is the costly part of a broad search at a million customers (a common
  // surname, or no filter at all); a caller that only pages (the console) asks for no total. A
  // substring search still needs to know whether its matches are few (below): counting stops there.
  const substring = filters.fullName !== undefined || filters.comment !== undefined;
  const counted =
    options.count !== false
      ? (
          await db.query<{ total: number }>(
            `SELECT count(*)::int AS total FROM ${matched} WHERE ${condition}`,
            params,
          )
        )[0]?.total
      : substring
        ? (
            await db.query<{ total: number }>(
              `SELECT count(*)::int AS total FROM (SELECT 1 FROM ${matched} WHERE ${condition} LIMIT ${FEW_MATCHES + 1}) few`,
              params,
            )
          )[0]?.total
        : undefined;
  const total = options.count === false ? undefined : (counted ?? 0);
  const limit = `LIMIT $${params.length + 1} OFFSET $${params.length + 2}`;
  // The cursor bounds the page, not the count. One row more than the page tells whether more follow.
  const pageParams: unknown[] = [...params, page.take + 1, page.skip];
  let pageCondition = condition;
  if (page.after !== undefined) {
    pageParams.push(page.after.createdAt, page.after.id);
    pageCondition += ` AND (c.created_at, c.id) < ($${pageParams.length - 1}::timestamptz, $${pageParams.length}::uuid)`;
  }
  // Substring searches are served by trigram indexes (migration 0009), which yield matches in no
  // order. The planner often prefers walking the newest-first index and filtering instead, which
  // reads (skip + take) / total of the institution: fast when matches are dense, but most of a
  // large institution when they are few, and the planner cannot tell which. The count just did,
  // so a search with few matches (relative to the page asked for) collects them through the
  // trigram index and sorts only them. 2000 is where both ways cost about the same at a million
  // customers (bench/find-scale.ts).
  const fewMatches =
    counted !== undefined && (counted <= FEW_MATCHES || page.skip + page.take > counted / 10);
  // The operator's broad lists (no institution, no exact term) have no index in their order: the
  // newest-first index leads with the institution, and without one PostgreSQL sorts every match
  // (3 s at a million customers). Each institution's own newest matches come from that index
  // instead, as many as the page could need from one institution, and merge into the page: a few
  // index probes per institution, and no index more for every create to maintain.
  const acrossInstitutions =
    tenant.kind === 'operator' &&
    filters.institutionId === undefined &&
    filters.email === undefined &&
    filters.phoneNumber === undefined &&
    filters.walletId === undefined &&
    filters.externalId === undefined &&
    filters.referralId === undefined;
  const order = 'ORDER BY c.created_at DESC, c.id DESC';
  const rows = await db.query<StoredCustomerRow & Record<string, unknown>>(
    substring && fewMatches
      ? `WITH matches AS MATERIALIZED (
           SELECT c.id, c.created_at FROM ${matched} WHERE ${pageCondition}
         )
         ${selectCustomer}
          WHERE c.id IN (SELECT id FROM matches ORDER BY created_at DESC, id DESC ${limit})
          ${order}`
      : acrossInstitutions
        ? `WITH merged AS MATERIALIZED (
             SELECT newest.id FROM institutions i CROSS JOIN LATERAL (
               SELECT c.id, c.created_at FROM ${matched}
                WHERE c.institution_id = i.id AND ${pageCondition}
                ${order} LIMIT $${params.length + 1}::int + $${params.length + 2}::int
             ) newest
              ORDER BY newest.created_at DESC, newest.id DESC ${limit}
           )
           ${selectCustomer} WHERE c.id IN (SELECT id FROM merged) ${order}`
        : `${selectCustomer} WHERE ${pageCondition} ${order} ${limit}`,
    pageParams,
  );
  const more = rows.length > page.take;
  return { rows: more ? rows.slice(0, page.take) : rows, total, more };
}

/** Every institution's id: where an operator's find by email or phone may look. */
export async function institutionIds(db: Queryable): Promise<string[]> {
  return (await db.query<{ id: string }>('SELECT id FROM institutions')).map((row) => row.id);
}

/**
 * Erases the customer (locked by the caller): every personal column, the blind indexes and the
 * data key (after which its sealed history values can never be read), with an `erase` history
 * entry naming the erased fields; blanks the stored idempotent responses that held it, and the
 * externalId its customer.created event names.
 */
export async function eraseCustomerRow(
  db: Queryable,
  customer: { institutionId: string; id: string },
  entry: ChangeContext & { reason: string; fields: readonly string[] },
): Promise<{ updatedAt: Date; version: number; erasedAt: Date }> {
  const erased = one(
    await db.query<{ updatedAt: Date; version: number; erasedAt: Date }>(
      `WITH u AS (
         UPDATE customers
            SET ${Object.values(fieldColumns)
              .filter((column) => column !== 'country')
              .map((column) => `${column} = NULL`)
              .join(', ')},
                email_index = NULL, phone_index = NULL, data_key = NULL, pii_format = 1,
                erased_at = clock_timestamp(), updated_at = clock_timestamp(), version = version + 1
          WHERE institution_id = $1 AND id = $2
         RETURNING institution_id, id, version, updated_at, erased_at
       ), h AS (
         INSERT INTO customer_history
           (institution_id, customer_id, version, occurred_at, actor_type, actor_id, actor_name, request_id,
            action, reason, changes, pii_format)
         SELECT institution_id, id, version, updated_at, $3::text, $4::uuid, $5::text, $6::text,
                'erase', $7::text, $8::jsonb, 1
           FROM u
       )
       SELECT updated_at AS "updatedAt", version, erased_at AS "erasedAt" FROM u`,
      [
        customer.institutionId,
        customer.id,
        entry.actor.type,
        entry.actor.id,
        entry.actor.name,
        entry.requestId,
        entry.reason,
        JSON.stringify(entry.fields.map((field) => ({ field }))),
      ],
    ),
  );
  await db.query(
    `UPDATE idempotency_keys SET body = ''::bytea, headers = '{}'::jsonb, erased = true
      WHERE customer_id = $1 AND NOT erased`,
    [customer.id],
  );
  // Its customer.created event names the externalId it was created with: that goes too, as the
  // customer's own does (the event stays, with its deliveries, reading externalId null).
  await db.query(
    `UPDATE events
        SET data = json_build_object('customerId', data->'customerId', 'walletId', data->'walletId',
                                     'version', data->'version', 'externalId', NULL)
      WHERE institution_id = $1 AND customer_id = $2 AND type = 'customer.created'
        AND data->>'externalId' IS NOT NULL`,
    [customer.institutionId, customer.id],
  );
  return erased;
}
