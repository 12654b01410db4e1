// Wallets and the record of their status changes (a wallet is inserted with its customer, in
// customers.repository).
import type { Queryable } from '../../db/database.js';
import type { Actor } from '../../platform/principal.js';
import type { WalletStatus, WalletStatusSetBy } from '../customers/customers.schemas.js';

export interface WalletStatusChange {
  walletId: string;
  institutionId: string;
  from: { status: WalletStatus; setBy: WalletStatusSetBy };
  to: { status: WalletStatus; setBy: WalletStatusSetBy };
  actor: Actor;
  reason: string | undefined;
}

/** Sets the status and records the change, in the caller's transaction. */
export async function changeWalletStatus(db: Queryable, change: WalletStatusChange): Promise<void> {
  await db.query(
    `UPDATE wallets SET status = $3, status_set_by = $4, updated_at = clock_timestamp()
      WHERE institution_id = $1 AND id = $2`,
    [change.institutionId, change.walletId, change.to.status, change.to.setBy],
  );
  await db.query(
    `INSERT INTO wallet_status_changes
       (wallet_id, institution_id, old_status, new_status, old_set_by, new_set_by, actor_type, actor_id, reason)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      change.walletId,
      change.institutionId,
      change.from.status,
      change.to.status,
      change.from.setBy,
      change.to.setBy,
      change.actor.type,
      change.actor.id,
      change.reason ?? null,
    ],
  );
}

/** The operator's own status changes: a lock (Blocked or Suspicious) or an unlock (Active). */
export type OperatorWalletChangeKind = 'lock' | 'unlock';

export interface OperatorWalletChange {
  id: string;
  kind: OperatorWalletChangeKind;
  institutionId: string;
  walletId: string;
  customerId: string;
  actor: { type: 'operator'; id: string; name: string };
  from: { status: WalletStatus; setBy: WalletStatusSetBy };
  to: { status: WalletStatus; setBy: WalletStatusSetBy };
  reason: string | null;
  occurredAt: Date;
}

export interface OperatorWalletChangeFilters {
  institutionId?: string;
  kind?: OperatorWalletChangeKind;
  /** ISO 8601 bounds, inclusive. */
  from?: string;
  to?: string;
}

/**
 * The status changes the operator made (set by the operator, as the operator), newest first,
 * `take` at most, after the change `before` names (a cursor) when given; with the wallet's
 * customer and the operator's email (empty when that account is gone).
 */
export async function findOperatorWalletChanges(
  db: Queryable,
  filters: OperatorWalletChangeFilters,
  page: { take: number; before?: { occurredAt: Date; id: string } },
): Promise<OperatorWalletChange[]> {
  const where = [`c.actor_type = 'operator'`, `c.new_set_by = 'operator'`];
  const params: unknown[] = [];
  const add = (condition: (placeholder: string) => string, value: unknown) => {
    params.push(value);
    where.push(condition(`$${params.length}`));
  };
  if (filters.institutionId !== undefined) add((p) => `c.institution_id = ${p}`, filters.institutionId);
  if (filters.kind === 'lock') where.push(`c.new_status <> 'Active'`);
  if (filters.kind === 'unlock') where.push(`c.new_status = 'Active'`);
  if (filters.from !== undefined) add((p) => `c.created_at >= ${p}`, filters.from);
  if (filters.to !== undefined) add((p) => `c.created_at <= ${p}`, filters.to);
  if (page.before !== undefined) {
    params.push(page.before.occurredAt, page.before.id);
    where.push(`(c.created_at, c.id) < ($${params.length - 1}, $${params.length})`);
  }
  params.push(page.take);
  const rows = await db.query<{
    id: string;
    institution_id: string;
    wallet_id: string;
    customer_id: string;
    old_status: WalletStatus;
    new_status: WalletStatus;
    old_set_by: WalletStatusSetBy;
    new_set_by: WalletStatusSetBy;
    actor_id: string;
    actor_name: string | null;
    reason: string | null;
    created_at: Date;
  }>(
    `SELECT c.id, c.institution_id, c.wallet_id, w.customer_id, c.old_status, c.new_status,
            c.old_set_by, c.new_set_by, c.actor_id, u.email AS actor_name, c.reason, c.created_at
       FROM wallet_status_changes c
       JOIN wallets w ON w.institution_id = c.institution_id AND w.id = c.wallet_id
       LEFT JOIN users u ON u.id = c.actor_id
      WHERE ${where.join(' AND ')}
      ORDER BY c.created_at DESC, c.id DESC
      LIMIT $${params.length}`,
    params,
  );
  return rows.map((row) => ({
    id: row.id,
    kind: row.new_status === 'Active' ? 'unlock' : 'lock',
    institutionId: row.institution_id,
    walletId: row.wallet_id,
    customerId: row.customer_id,
    actor: { type: 'operator', id: row.actor_id, name: row.actor_name ?? '' },
    from: { status: row.old_status, setBy: row.old_set_by },
    to: { status: row.new_status, setBy: row.new_set_by },
    reason: row.reason,
    occurredAt: row.created_at,
  }));
}
