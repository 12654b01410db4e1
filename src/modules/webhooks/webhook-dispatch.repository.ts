// The dispatcher's statements. Claiming follows pg-boss (src/plans.ts): one statement selects due
// rows FOR UPDATE SKIP LOCKED and marks them taken, so concurrent instances never claim the same
// row and never wait for each other. Instead of holding a transaction open during the HTTP attempt,
// the claim takes a lease (`lease_id`, `leased_until`): only the holder of the lease may record the
// outcome, and a crashed instance's lease runs out so another instance retries it.
import { prepared, type Queryable } from '../../db/database.js';
import type { EventType } from './events.js';

export interface ClaimedDelivery {
  institutionId: string;
  id: string;
  endpointId: string;
  eventId: string;
  eventType: EventType;
  eventData: Record<string, unknown>;
  eventCreatedAt: Date;
  url: string;
  secret: Uint8Array;
  /** The rotated-out secret while it still signs (its 24 hours not over). */
  previousSecret: Uint8Array | null;
  roundAttempts: number;
}

// Due: pending, its time come, no lease running, its endpoint enabled, and no earlier pending
// delivery to the same endpoint about the same customer (the order rule; pings have no customer).
// The statement is migration 0060's function (0018's, as PL/pgSQL with one plan kept per
// connection), shaped so that its plan does not depend on the table's statistics, which are always
// stale on a queue table (the pending share swings from none to thousands between two ANALYZEs,
// and an outbox that grew from empty in the last minute looks empty to the planner):
// - it runs with sequential scans off (the function's SET): every step has its index;
// - the order test stays a per-candidate probe of the order index (OFFSET 0 keeps PostgreSQL from
//   turning it into an anti-join, which it ran as a scan of every pending row per candidate);
// - the due come oldest first (ORDER BY next_attempt_at), an order only the due index gives
//   without a sort, so the plan kept from an empty table is still the due index's; the order that
//   matters for correctness (per customer) is the test above;
// - "due" compares with now() (the statement's start: it runs alone, never in a caller's
//   transaction), which, unlike clock_timestamp(), the due index can bound, so retries scheduled
//   for later are not scanned;
// - the claimed rows are updated through their ctid (their key checked too).
const claimStatement = prepared(
  'claim_webhook_deliveries',
  'SELECT * FROM claim_webhook_deliveries($1, $2, $3)',
);

/** Claims up to `limit` due deliveries under a lease of `leaseMs`. */
export async function claimDeliveries(
  db: Queryable,
  limit: number,
  leaseId: string,
  leaseMs: number,
): Promise<ClaimedDelivery[]> {
  return db.query<ClaimedDelivery & Record<string, unknown>>(claimStatement, [limit, leaseId, leaseMs]);
}

export interface AttemptOutcome {
  attemptedAt: Date;
  responseStatus: number | null;
  durationMs: number;
  /** The class of error; null on success. */
  error: string | null;
  responsePrefix: string | null;
}

// Successes, any number in one statement: each delivery, its attempt, and its endpoint's failing
// streak ended (an UPDATE that matches nothing when it had none, so healthy endpoints' rows are
// not rewritten). Batched because a delivery's database work is otherwise about a create's: one
// statement for the outcomes of every attempt that ended while the previous one ran. The statement
// is migration 0060's function, planned once with sequential scans and hash and merge joins off,
// so each outcome is found through the primary key.
const recordSuccessesStatement = prepared(
  'record_webhook_successes',
  'SELECT record_webhook_successes($1, $2, $3, $4, $5, $6, $7)',
);

/** Records successful attempts (those whose lease is no longer ours are left as they are). */
export async function recordSuccesses(
  db: Queryable,
  leaseId: string,
  successes: readonly { delivery: { institutionId: string; id: string }; outcome: AttemptOutcome }[],
): Promise<void> {
  if (successes.length === 0) return;
  await db.query(recordSuccessesStatement, [
    leaseId,
    successes.map((success) => success.delivery.institutionId),
    successes.map((success) => success.delivery.id),
    successes.map((success) => success.outcome.attemptedAt),
    successes.map((success) => success.outcome.responseStatus),
    successes.map((success) => success.outcome.durationMs),
    successes.map((success) => success.outcome.responsePrefix),
  ]);
}

/**
 * A failed attempt, in the caller's transaction: the delivery is retried at `nextAttemptAt`, or
 * failed for good when that is null. Returns whether the lease was still ours (else nothing is
 * written: another instance took the delivery over).
 */
export async function recordFailure(
  db: Queryable,
  delivery: { institutionId: string; id: string },
  leaseId: string,
  outcome: AttemptOutcome,
  nextAttemptAt: Date | null,
): Promise<{ endpointId: string } | undefined> {
  const [row] = await db.query<{ endpointId: string }>(
    `WITH d AS (
       UPDATE webhook_deliveries
          SET status = CASE WHEN $8::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,
              next_attempt_at = coalesce($8::timestamptz, next_attempt_at),
              attempts = attempts + 1, round_attempts = round_attempts + 1,
              lease_id = NULL, leased_until = NULL, last_attempt_at = $4, last_response_status = $5,
              last_duration_ms = $6, last_error = $7
        WHERE institution_id = $1 AND id = $2 AND lease_id = $3
       RETURNING institution_id, id, endpoint_id
     ), a AS (
       INSERT INTO webhook_attempts
         (institution_id, delivery_id, attempted_at, response_status, duration_ms, error, response_prefix)
       SELECT institution_id, id, $4, $5, $6, $7, $9 FROM d
     )
     SELECT endpoint_id AS "endpointId" FROM d`,
    [
      delivery.institutionId,
      delivery.id,
      leaseId,
      outcome.attemptedAt,
      outcome.responseStatus,
      outcome.durationMs,
      outcome.error,
      nextAttemptAt,
      outcome.responsePrefix,
    ],
  );
  return row;
}

/**
 * After a failure, in the caller's transaction: starts the endpoint's failing streak if it had
 * none, then disables it at once for 'gone', or for 'failing' when the streak is older than
 * `afterMs`. Returns whether this call disabled it.
 */
export async function noteEndpointFailure(
  db: Queryable,
  endpoint: { institutionId: string; id: string },
  disable: { reason: 'gone' } | { reason: 'failing'; afterMs: number },
): Promise<boolean> {
  await db.query(
    `UPDATE webhook_endpoints SET failing_since = clock_timestamp()
      WHERE institution_id = $1 AND id = $2 AND failing_since IS NULL`,
    [endpoint.institutionId, endpoint.id],
  );
  const disabled = await db.query(
    `UPDATE webhook_endpoints SET enabled = false, disabled_reason = $3, updated_at = clock_timestamp()
      WHERE institution_id = $1 AND id = $2 AND enabled
        AND ($3 = 'gone' OR failing_since <= clock_timestamp() - $4 * interval '1 millisecond')
     RETURNING id`,
    [endpoint.institutionId, endpoint.id, disable.reason, disable.reason === 'failing' ? disable.afterMs : 0],
  );
  return disabled.length > 0;
}

/** Gives a claimed delivery back untried (shutting down): due again at once, for any instance. */
export async function releaseDelivery(
  db: Queryable,
  delivery: { institutionId: string; id: string },
  leaseId: string,
): Promise<void> {
  await db.query(
    `UPDATE webhook_deliveries SET lease_id = NULL, leased_until = NULL
      WHERE institution_id = $1 AND id = $2 AND lease_id = $3`,
    [delivery.institutionId, delivery.id, leaseId],
  );
}

/** Deletes up to `limit` events older than `maxAgeMs`, and their deliveries; returns how many. */
export async function deleteOldEvents(db: Queryable, maxAgeMs: number, limit: number): Promise<number> {
  const rows = await db.query(
    `DELETE FROM events WHERE (institution_id, id) IN (
       SELECT institution_id, id FROM events
        WHERE created_at < clock_timestamp() - $1 * interval '1 millisecond' LIMIT $2)
     RETURNING id`,
    [maxAgeMs, limit],
  );
  return rows.length;
}

/** How many deliveries are due and undelivered, and how long the oldest has been due (metrics). */
export async function webhookBacklog(db: Queryable): Promise<{ due: number; oldestDueSeconds: number }> {
  const [row] = await db.query<{ due: number; oldest: number | null }>(
    `SELECT count(*)::int AS due,
            extract(epoch FROM clock_timestamp() - min(next_attempt_at))::float8 AS oldest
       FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= clock_timestamp()`,
  );
  return { due: row?.due ?? 0, oldestDueSeconds: Math.max(0, row?.oldest ?? 0) };
}
