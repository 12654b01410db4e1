// How a customer's personal data is stored: the five sealed fields under the customer's data key,
// every history value too, and the blind indexes that find and the unique email rule use. The
// repository stores and reads rows as they are; the service seals before writing and opens after
// reading through these functions, so that no clear value of a sealed field reaches the database.
import { randomUUID } from 'node:crypto';
import { fieldLabel, historyLabel, type IndexedField, type Vault } from '../../platform/crypto/vault.js';
import type {
  CustomerField,
  CustomerFields,
  CustomerRow,
  FieldChange,
  StoredChange,
} from './customers.repository.js';

/** Encrypted at rest (contract "Personal data at rest"); names and comment stay searchable. */
export const sealedFields = [
  'email',
  'phoneNumber',
  'verificationDocumentId',
  'residenceAddress',
  'itn',
] as const satisfies readonly CustomerField[];
const isSealed = (field: string): boolean => (sealedFields as readonly string[]).includes(field);

/** A customer row as stored, with what opening it needs. */
export interface StoredCustomerRow extends CustomerRow {
  dataKey: Uint8Array | null;
  /** 0: written before encryption, in clear (until the start-up upgrade seals it); 1: sealed. */
  piiFormat: number;
}

/** An opened customer, and its data key when it has one (not erased). */
export interface OpenedCustomer {
  row: CustomerRow;
  key: Buffer | undefined;
}

export interface BlindIndexes {
  emailIndex?: Buffer | null;
  phoneIndex?: Buffer | null;
}

/** The blind indexes of the indexed fields among `fields` (null for a field set to null). */
export function blindIndexes(
  vault: Vault,
  institutionId: string,
  fields: Partial<CustomerFields>,
): BlindIndexes {
  const indexOf = (field: IndexedField) => {
    const value = fields[field];
    return value === undefined
      ? undefined
      : value === null
        ? null
        : vault.blindIndex(institutionId, field, value);
  };
  const indexes: BlindIndexes = {};
  const email = indexOf('email');
  const phone = indexOf('phoneNumber');
  if (email !== undefined) indexes.emailIndex = email;
  if (phone !== undefined) indexes.phoneIndex = phone;
  return indexes;
}

/** `fields` with the sealed ones sealed under `key`. */
export function sealFields(
  vault: Vault,
  key: Buffer,
  customerId: string,
  fields: Partial<CustomerFields>,
): Partial<CustomerFields> {
  const stored: Partial<CustomerFields> = { ...fields };
  for (const field of sealedFields) {
    const value = fields[field];
    if (value !== undefined && value !== null)
      stored[field] = vault.seal(key, fieldLabel(customerId, field), value);
  }
  return stored;
}

/** A history entry's changes, each field's old and new value sealed together under `key`. */
export function sealChanges(
  vault: Vault,
  key: Buffer,
  customerId: string,
  version: number,
  changes: readonly FieldChange[],
): StoredChange[] {
  return changes.map((change) => ({
    field: change.field,
    sealed: vault.seal(
      key,
      historyLabel(customerId, version, change.field),
      JSON.stringify([change.old, change.new]),
    ),
  }));
}

/** A history entry's changes as the API shows them: null values once the key is gone. */
export function openChanges(
  vault: Vault,
  key: Buffer | undefined,
  entry: { customerId: string; version: number; piiFormat: number; changes: StoredChange[] },
): FieldChange[] {
  return entry.changes.map((change) => {
    if (entry.piiFormat === 0)
      return { field: change.field, old: change.old ?? null, new: change.new ?? null };
    if (key === undefined || change.sealed === undefined)
      return { field: change.field, old: null, new: null };
    const [old, next] = JSON.parse(
      vault.open(key, historyLabel(entry.customerId, entry.version, change.field), change.sealed),
    ) as [string | null, string | null];
    return { field: change.field, old, new: next };
  });
}

/** The customer as the API shows it, and its data key. */
export async function openCustomer(vault: Vault, stored: StoredCustomerRow): Promise<OpenedCustomer> {
  const { dataKey, piiFormat, ...row } = stored;
  if (piiFormat === 0) return { row, key: undefined };
  if (dataKey === null) return { row, key: undefined };
  const key = await vault.openDataKey(dataKey, { institutionId: row.institutionId, customerId: row.id });
  const opened: CustomerRow = { ...row };
  for (const field of sealedFields) {
    const value = row[field];
    if (value !== null) opened[field] = vault.open(key, fieldLabel(row.id, field), value);
  }
  return { row: opened, key };
}

/** What a new customer is stored as: its id, wrapped data key, sealed fields and indexes. */
export async function sealNewCustomer(
  vault: Vault,
  institutionId: string,
  fields: Partial<CustomerFields>,
  changes: readonly FieldChange[],
) {
  const id = randomUUID();
  const { key, wrapped } = await vault.newDataKey({ institutionId, customerId: id });
  return {
    id,
    dataKey: wrapped,
    fields: sealFields(vault, key, id, fields),
    indexes: blindIndexes(vault, institutionId, fields),
    changes: sealChanges(vault, key, id, 1, changes),
  };
}

export { isSealed };
