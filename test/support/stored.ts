// What the database stores, as a test reads it: customer rows and history entries with their sealed
// values opened by the app's vault (src/platform/crypto/vault.ts). Personal data is encrypted at
// rest, so a test that checks "the stored row holds X" reads the row through these, which open
// exactly what the service would open and nothing else: a row sealed under another customer's key,
// or a value moved to another column, fails here as it would in the service.
import type { Queryable } from '../../src/db/database.js';
import { openChanges, sealedFields } from '../../src/modules/customers/customer-sealing.js';
import { fieldColumns, type StoredChange } from '../../src/modules/customers/customers.repository.js';
import { fieldLabel, type Vault } from '../../src/platform/crypto/vault.js';

export interface StoreReader {
  db: Queryable;
  vault: Vault;
}

export type StoredCustomer = Record<string, unknown> & { id: string; institution_id: string };

/**
 * Every column of the customers rows `where` selects (a condition on `customers c`), ordered by
 * `orderBy`, with the sealed columns opened (null when erased).
 */
export async function openedCustomers(
  t: StoreReader,
  where = 'TRUE',
  params: readonly unknown[] = [],
  orderBy = 'c.created_at, c.id',
): Promise<StoredCustomer[]> {
  const rows = await t.db.query<StoredCustomer>(
    `SELECT c.* FROM customers c WHERE ${where} ORDER BY ${orderBy}`,
    params,
  );
  return Promise.all(rows.map((row) => openRow(t.vault, row)));
}

/** One customer's row, opened; undefined when there is none. */
export async function openedCustomer(t: StoreReader, id: string): Promise<StoredCustomer | undefined> {
  const [row] = await openedCustomers(t, 'c.id = $1', [id]);
  return row;
}

async function openRow(vault: Vault, row: StoredCustomer): Promise<StoredCustomer> {
  if (row.pii_format !== 1 || row.data_key === null) return row;
  const key = await vault.openDataKey(row.data_key as Uint8Array, {
    institutionId: row.institution_id,
    customerId: row.id,
  });
  const opened: StoredCustomer = { ...row };
  for (const field of sealedFields) {
    const column = fieldColumns[field];
    const value = row[column];
    if (typeof value === 'string') opened[column] = vault.open(key, fieldLabel(row.id, field), value);
  }
  return opened;
}

export interface OpenedHistoryEntry extends Record<string, unknown> {
  version: number;
  action: string;
  changes: { field: string; old: string | null; new: string | null }[];
}

/** Every column of a customer's history entries, oldest first, with their changes opened. */
export async function openedHistory(t: StoreReader, customerId: string): Promise<OpenedHistoryEntry[]> {
  const [customer] = await t.db.query<{ institution_id: string; data_key: Uint8Array | null }>(
    'SELECT institution_id, data_key FROM customers WHERE id = $1',
    [customerId],
  );
  const key =
    customer?.data_key === null || customer === undefined
      ? undefined
      : await t.vault.openDataKey(customer.data_key, { institutionId: customer.institution_id, customerId });
  const entries = await t.db.query<
    Record<string, unknown> & { version: number; pii_format: number; changes: StoredChange[] }
  >('SELECT * FROM customer_history WHERE customer_id = $1 ORDER BY version', [customerId]);
  return entries.map((entry) => ({
    ...entry,
    action: String(entry.action),
    changes: openChanges(t.vault, key, {
      customerId,
      version: entry.version,
      piiFormat: entry.pii_format,
      changes: entry.changes,
    }),
  }));
}
