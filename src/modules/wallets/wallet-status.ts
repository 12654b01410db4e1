// The wallet status rule. An institution may set any status, except that it cannot move a wallet
// away from Blocked or Suspicious when the operator set it (the operator's lock); sending the
// status the wallet already has is not a change. The operator may always set a status; Active
// lifts the lock.
import { AppError } from '../../platform/errors.js';
import type { WalletStatus, WalletStatusSetBy } from '../customers/customers.schemas.js';

export interface WalletState {
  status: WalletStatus;
  setBy: WalletStatusSetBy;
}

export const isLocked = (state: WalletState): boolean =>
  state.setBy === 'operator' && state.status !== 'Active';

/** The new state, or undefined when the request changes nothing. Throws when the lock forbids it. */
export function nextWalletState(
  current: WalletState,
  requested: WalletStatus,
  by: WalletStatusSetBy,
): WalletState | undefined {
  if (by === 'institution') {
    if (requested === current.status) return undefined;
    if (isLocked(current)) {
      throw new AppError(
        'WALLET_STATUS_LOCKED',
        `The wallet status ${current.status} was set by the operator and cannot be changed by the institution`,
      );
    }
    return { status: requested, setBy: 'institution' };
  }
  if (requested === current.status && current.setBy === 'operator') return undefined;
  return { status: requested, setBy: 'operator' };
}
