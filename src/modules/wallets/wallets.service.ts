// Reading the record of wallet status changes (changes are made in customers.service, with the
// customer they belong to).
import type { Database } from '../../db/database.js';
import {
  findOperatorWalletChanges,
  type OperatorWalletChange,
  type OperatorWalletChangeFilters,
} from './wallets.repository.js';

export type { OperatorWalletChange, OperatorWalletChangeKind } from './wallets.repository.js';

/**
 * The operator's locks and unlocks, across every institution (or one), for the operator's audit:
 * newest first, a page of `take` after the `before` cursor.
 */
export async function operatorWalletChanges(
  store: { db: Database },
  filters: OperatorWalletChangeFilters,
  page: { take: number; before?: { occurredAt: Date; id: string } },
): Promise<OperatorWalletChange[]> {
  return findOperatorWalletChanges(store.db, filters, page);
}
