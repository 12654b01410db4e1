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
