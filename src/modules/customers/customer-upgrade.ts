// The in-place upgrade of a database written before personal data was encrypted (migration 0020):
// every customer written in clear (pii_format 0) gets a data key, its sealed fields and blind
// indexes, and its history entries are sealed, in batches of one transaction each. Run by main.ts
// at start, before the service serves: the unique email rule moves to the blind index, so no
// request may run while some rows have none. Safe to interrupt (each batch commits whole; the next
// start goes on from the rows still in clear) and to run on several instances at once (each
// batch locks its rows with SKIP LOCKED). A row reads right in either form meanwhile: the format
// travels with it.
import type { Database, Queryable } from '../../db/database.js';
import { blindIndexes, sealChanges, sealFields } from './customer-sealing.js';
import {
  customerFields,
  fieldColumns,
  type CustomerFields,
  type FieldChange,
  type StoredChange,
} from './customers.repository.js';
import type { CustomerStore } from './customers.service.js';

export interface UpgradeProgress {
  sealed: number;
  total: number;
}

async function remaining(db: Queryable): Promise<number> {
  const [row] = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM customers WHERE pii_format = 0',
  );
  return row?.n ?? 0;
}

/** Seals one batch; returns how many customers it sealed (0: none left unlocked). */
async function sealBatch(store: CustomerStore, batchSize: number): Promise<number> {
  return store.db.transaction(async (tx) => {
    await tx.query("SET LOCAL customercore.sealing_history = 'on'");
    const rows = await tx.query<CustomerFields & { institutionId: string; id: string }>(
      `SELECT institution_id AS "institutionId", id,
              ${customerFields.map((field) => `${fieldColumns[field]} AS "${field}"`).join(', ')}
         FROM customers WHERE pii_format = 0 ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [batchSize],
    );
    for (const row of rows) {
      const ids = { institutionId: row.institutionId, customerId: row.id };
      const { key, wrapped } = await store.vault.newDataKey(ids);
      const fields: Partial<CustomerFields> = {};
      for (const field of customerFields) fields[field] = row[field];
      const sealed = sealFields(store.vault, key, row.id, fields);
      const indexes = blindIndexes(store.vault, row.institutionId, fields);
      await tx.query(
        `UPDATE customers
            SET email = $3, phone_number = $4, verification_document_id = $5, residence_address = $6, itn = $7,
                email_index = $8, phone_index = $9, data_key = $10, pii_format = 1
          WHERE institution_id = $1 AND id = $2`,
        [
          row.institutionId,
          row.id,
          sealed.email,
          sealed.phoneNumber,
          sealed.verificationDocumentId,
          sealed.residenceAddress,
          sealed.itn,
          indexes.emailIndex ?? null,
          indexes.phoneIndex ?? null,
          wrapped,
        ],
      );
      const entries = await tx.query<{ id: string; version: number; changes: StoredChange[] }>(
        `SELECT id, version, changes FROM customer_history
          WHERE institution_id = $1 AND customer_id = $2 AND pii_format = 0`,
        [row.institutionId, row.id],
      );
      for (const entry of entries) {
        const changes: FieldChange[] = entry.changes.map((change) => ({
          field: change.field,
          old: change.old ?? null,
          new: change.new ?? null,
        }));
        await tx.query(
          `UPDATE customer_history SET changes = $3::jsonb, pii_format = 1
            WHERE institution_id = $1 AND id = $2`,
          [
            row.institutionId,
            entry.id,
            JSON.stringify(sealChanges(store.vault, key, row.id, entry.version, changes)),
          ],
        );
      }
    }
    return rows.length;
  });
}

/**
 * Seals every customer still in clear; returns how many this process sealed. Waits for batches
 * other instances hold, so that on return none is left.
 */
export async function sealExistingCustomers(
  store: CustomerStore & { db: Database },
  onProgress: (progress: UpgradeProgress) => void = () => {},
  batchSize = 500,
): Promise<number> {
  const total = await remaining(store.db);
  if (total === 0) return 0;
  let sealed = 0;
  for (;;) {
    const done = await sealBatch(store, batchSize);
    sealed += done;
    if (done > 0) {
      onProgress({ sealed: total - (await remaining(store.db)), total });
      continue;
    }
    // Nothing unlocked is left: the rest is being sealed by another instance.
    if ((await remaining(store.db)) === 0) return sealed;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
