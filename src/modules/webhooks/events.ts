// The transactional outbox's write side. An event is a row of `events`, written by the statement
// or transaction that made the change, together with one delivery per endpoint of the institution
// subscribed to its type (an endpoint that is disabled gets its delivery recorded as `failed`,
// without an attempt, so a redelivery after re-enabling sends it). So a change that rolls back
// leaves no event, and one that commits has its event and its deliveries, whatever happens to the
// process next. Events never carry personal values.
import { one, prepared, type Database, type Queryable } from '../../db/database.js';

export const subscribableEventTypes = [
  'customer.created',
  'customer.updated',
  'wallet.status_changed',
  'customer.erased',
] as const;
export type SubscribableEventType = (typeof subscribableEventTypes)[number];
export type EventType = SubscribableEventType | 'ping';
export const eventTypes: readonly EventType[] = [...subscribableEventTypes, 'ping'];

export interface CustomerCreatedData {
  customerId: string;
  walletId: string;
  version: number;
  externalId: string | null;
}
export interface CustomerUpdatedData {
  customerId: string;
  walletId: string;
  version: number;
  changedFields: string[];
}
export interface WalletStatusChangedData {
  customerId: string;
  walletId: string;
  version: number;
  previousStatus: string;
  status: string;
  setBy: 'institution' | 'operator';
  locked: boolean;
  reason: string | null;
}
export interface CustomerErasedData {
  customerId: string;
  walletId: string;
  version: number;
}

/** An event about a customer, as recordEvent() takes it. */
export type CustomerEvent =
  | { type: 'customer.updated'; data: CustomerUpdatedData }
  | { type: 'wallet.status_changed'; data: WalletStatusChangedData }
  | { type: 'customer.erased'; data: CustomerErasedData }
  | { type: 'customer.created'; data: CustomerCreatedData };

/**
 * The deliveries of the event row `ev` (a CTE with institution_id, id, seq, type, customer_id,
 * version, created_at): one per endpoint of its institution subscribed to its type.
 */
export const fanOutDeliveries = (ev: string) => `
  INSERT INTO webhook_deliveries
    (institution_id, endpoint_id, event_id, event_seq, customer_id, version, status, created_at, next_attempt_at)
  SELECT ${ev}.institution_id, e.id, ${ev}.id, ${ev}.seq, ${ev}.customer_id, ${ev}.version,
         CASE WHEN e.enabled THEN 'pending' ELSE 'failed' END, ${ev}.created_at, ${ev}.created_at
    FROM ${ev} JOIN webhook_endpoints e
      ON e.institution_id = ${ev}.institution_id AND ${ev}.type = ANY (e.event_types)
  RETURNING status`;

/** The deliveries a fanOutDeliveries() CTE named `dl` queued for sending, as a column `queued`. */
export const queuedDeliveries = (dl: string) =>
  `(SELECT count(*)::int FROM ${dl} WHERE status = 'pending') AS queued`;

/** The channel on which the dispatchers of every instance are told that deliveries are due. */
export const WEBHOOKS_CHANNEL = 'customercore_webhooks';

/**
 * Wakes the dispatchers once deliveries were queued and committed (by recordEvent(), a create, a
 * ping or a redelivery): this instance's at once, the others' soon after (Database.signal()).
 * Only after the commit: a dispatcher woken before it would find nothing and sleep until its poll.
 */
export function announceDeliveries(db: Pick<Database, 'signal'>, queued: number): void {
  if (queued > 0) db.signal(WEBHOOKS_CHANNEL);
}

const recordEventStatement = prepared(
  'record_event',
  `WITH ev AS (
     INSERT INTO events (institution_id, type, customer_id, version, data)
     VALUES ($1, $2, $3, $4, $5::json)
     RETURNING institution_id, id, seq, type, customer_id, version, created_at
   ), dl AS (${fanOutDeliveries('ev')})
   SELECT id, ${queuedDeliveries('dl')} FROM ev`,
);

/**
 * Records an event about a customer in the caller's transaction (or statement): the event and its
 * deliveries are written by one statement, and commit or roll back with the change. `data.version`
 * must be the customer's version after the change. Call it after the change's own writes, in the
 * order the events should be delivered (events sharing a version go in the order recorded), and
 * announceDeliveries() with the returned `queued` once the transaction has committed.
 *
 * Erasure (issue 13) records `customer.erased` with:
 *   recordEvent(tx, institutionId, { type: 'customer.erased', data: { customerId, walletId, version } })
 */
export async function recordEvent(
  db: Queryable,
  institutionId: string,
  event: CustomerEvent,
): Promise<{ id: string; queued: number }> {
  return one(
    await db.query<{ id: string; queued: number }>(recordEventStatement, [
      institutionId,
      event.type,
      event.data.customerId,
      event.data.version,
      JSON.stringify(event.data),
    ]),
  );
}
