// Webhook endpoints, events and deliveries, always scoped by their institution. The dispatcher's
// statements (claim, record) are in webhook-dispatch.repository.ts.
import { one, type Queryable } from '../../db/database.js';
import type { EventType, SubscribableEventType } from './events.js';

export interface EndpointRow {
  id: string;
  institutionId: string;
  url: string;
  description: string | null;
  eventTypes: SubscribableEventType[];
  enabled: boolean;
  disabledReason: 'gone' | 'failing' | null;
  createdAt: Date;
  updatedAt: Date;
}

/** An endpoint with its sealed secrets (webhook-secrets.ts), for the service only. */
export interface EndpointSecretsRow extends EndpointRow {
  secret: Uint8Array;
  previousSecret: Uint8Array | null;
  previousSecretExpiresAt: Date | null;
}

const endpointColumns = `id, institution_id AS "institutionId", url, description, event_types AS "eventTypes",
  enabled, disabled_reason AS "disabledReason", created_at AS "createdAt", updated_at AS "updatedAt"`;

export async function insertEndpoint(
  db: Queryable,
  institutionId: string,
  endpoint: {
    id: string;
    url: string;
    description: string | null;
    eventTypes: readonly string[];
    secret: Buffer;
  },
): Promise<EndpointRow> {
  return one(
    await db.query<EndpointRow & Record<string, unknown>>(
      `INSERT INTO webhook_endpoints (institution_id, id, url, description, event_types, secret)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${endpointColumns}`,
      [institutionId, endpoint.id, endpoint.url, endpoint.description, endpoint.eventTypes, endpoint.secret],
    ),
  );
}

export async function listEndpoints(db: Queryable, institutionId: string): Promise<EndpointRow[]> {
  return db.query<EndpointRow & Record<string, unknown>>(
    `SELECT ${endpointColumns} FROM webhook_endpoints WHERE institution_id = $1 ORDER BY created_at DESC, id DESC`,
    [institutionId],
  );
}

/** The endpoint, locked for the caller's transaction when `lock`; undefined outside the institution. */
export async function findEndpoint(
  db: Queryable,
  institutionId: string,
  id: string,
  options: { lock?: boolean } = {},
): Promise<EndpointSecretsRow | undefined> {
  const rows = await db.query<EndpointSecretsRow & Record<string, unknown>>(
    `SELECT ${endpointColumns}, secret, previous_secret AS "previousSecret",
            previous_secret_expires_at AS "previousSecretExpiresAt"
       FROM webhook_endpoints WHERE institution_id = $1 AND id = $2${options.lock === true ? ' FOR UPDATE' : ''}`,
    [institutionId, id],
  );
  return rows[0];
}

export interface EndpointChanges {
  url?: string;
  description?: string | null;
  eventTypes?: readonly string[];
  /** true re-enables (and forgets the failing streak); false disables with no reason. */
  enabled?: boolean;
}

export async function updateEndpoint(
  db: Queryable,
  institutionId: string,
  id: string,
  changes: EndpointChanges,
): Promise<EndpointRow> {
  const params: unknown[] = [institutionId, id];
  const set: string[] = ['updated_at = clock_timestamp()'];
  const add = (assignment: (placeholder: string) => string, value: unknown) => {
    params.push(value);
    set.push(assignment(`$${params.length}`));
  };
  if (changes.url !== undefined) add((p) => `url = ${p}`, changes.url);
  if (changes.description !== undefined) add((p) => `description = ${p}`, changes.description);
  if (changes.eventTypes !== undefined) add((p) => `event_types = ${p}`, changes.eventTypes);
  if (changes.enabled === true) set.push('enabled = true', 'disabled_reason = NULL', 'failing_since = NULL');
  if (changes.enabled === false) set.push('enabled = false', 'disabled_reason = NULL');
  return one(
    await db.query<EndpointRow & Record<string, unknown>>(
      `UPDATE webhook_endpoints SET ${set.join(', ')} WHERE institution_id = $1 AND id = $2
       RETURNING ${endpointColumns}`,
      params,
    ),
  );
}

export async function rotateEndpointSecret(
  db: Queryable,
  institutionId: string,
  id: string,
  secrets: { secret: Buffer; previousSecret: Buffer; previousValidMs: number },
): Promise<EndpointRow> {
  return one(
    await db.query<EndpointRow & Record<string, unknown>>(
      `UPDATE webhook_endpoints
          SET secret = $3, previous_secret = $4,
              previous_secret_expires_at = clock_timestamp() + $5 * interval '1 millisecond',
              updated_at = clock_timestamp()
        WHERE institution_id = $1 AND id = $2 RETURNING ${endpointColumns}`,
      [institutionId, id, secrets.secret, secrets.previousSecret, secrets.previousValidMs],
    ),
  );
}

export async function deleteEndpoint(
  db: Queryable,
  institutionId: string,
  id: string,
): Promise<EndpointRow | undefined> {
  const rows = await db.query<EndpointRow & Record<string, unknown>>(
    `DELETE FROM webhook_endpoints WHERE institution_id = $1 AND id = $2 RETURNING ${endpointColumns}`,
    [institutionId, id],
  );
  return rows[0];
}

/** Marks the endpoint's pending deliveries failed (it was disabled): nothing more is sent to it. */
export async function failPendingDeliveries(
  db: Queryable,
  institutionId: string,
  endpointId: string,
): Promise<void> {
  await db.query(
    `UPDATE webhook_deliveries SET status = 'failed', lease_id = NULL, leased_until = NULL
      WHERE institution_id = $1 AND endpoint_id = $2 AND status = 'pending'`,
    [institutionId, endpointId],
  );
}

// ---- events ----

export interface EventRow {
  id: string;
  type: EventType;
  customerId: string | null;
  data: Record<string, unknown>;
  createdAt: Date;
}

const eventColumns = `id, type, customer_id AS "customerId", data, created_at AS "createdAt"`;

/** A ping event for one endpoint, and its delivery (failed at once if the endpoint is disabled). */
export async function insertPing(
  db: Queryable,
  institutionId: string,
  endpointId: string,
): Promise<EventRow> {
  return one(
    await db.query<EventRow & Record<string, unknown>>(
      `WITH ev AS (
         INSERT INTO events (institution_id, type, endpoint_id, data)
         VALUES ($1, 'ping', $2, json_build_object('endpointId', $2::uuid))
         RETURNING institution_id, id, seq, type, customer_id, version, endpoint_id, data, created_at
       ), dl AS (
         INSERT INTO webhook_deliveries
           (institution_id, endpoint_id, event_id, event_seq, status, created_at, next_attempt_at)
         SELECT ev.institution_id, e.id, ev.id, ev.seq, CASE WHEN e.enabled THEN 'pending' ELSE 'failed' END,
                ev.created_at, ev.created_at
           FROM ev JOIN webhook_endpoints e ON e.institution_id = ev.institution_id AND e.id = ev.endpoint_id
       )
       SELECT ${eventColumns} FROM ev`,
      [institutionId, endpointId],
    ),
  );
}

export interface EventFilters {
  type?: EventType;
  customerId?: string;
  createdFrom?: string;
  createdTo?: string;
}

export async function findEvents(
  db: Queryable,
  institutionId: string,
  filters: EventFilters,
  page: { take: number; skip: number },
): Promise<{ rows: EventRow[]; total: number }> {
  const params: unknown[] = [institutionId];
  const where = ['institution_id = $1'];
  const add = (condition: (placeholder: string) => string, value: unknown) => {
    params.push(value);
    where.push(condition(`$${params.length}`));
  };
  if (filters.type !== undefined) add((p) => `type = ${p}`, filters.type);
  if (filters.customerId !== undefined) add((p) => `customer_id = ${p}`, filters.customerId);
  if (filters.createdFrom !== undefined) add((p) => `created_at >= ${p}::timestamptz`, filters.createdFrom);
  if (filters.createdTo !== undefined) add((p) => `created_at <= ${p}::timestamptz`, filters.createdTo);
  const condition = where.join(' AND ');
  const [counted] = await db.query<{ total: number }>(
    `SELECT count(*)::int AS total FROM events WHERE ${condition}`,
    params,
  );
  const rows = await db.query<EventRow & Record<string, unknown>>(
    `SELECT ${eventColumns} FROM events WHERE ${condition} ORDER BY created_at DESC, seq DESC
     LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
    [...params, page.take, page.skip],
  );
  return { rows, total: counted?.total ?? 0 };
}

// ---- deliveries ----

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed';

export interface DeliveryRow {
  id: string;
  eventId: string;
  eventType: EventType;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: Date;
  lastAttemptAt: Date | null;
  lastResponseStatus: number | null;
  lastDurationMs: number | null;
  lastError: string | null;
}

export async function findDeliveries(
  db: Queryable,
  institutionId: string,
  endpointId: string,
  filters: { eventId?: string; status?: DeliveryStatus },
  page: { take: number; skip: number },
): Promise<{ rows: DeliveryRow[]; total: number }> {
  const params: unknown[] = [institutionId, endpointId];
  const where = ['d.institution_id = $1', 'd.endpoint_id = $2'];
  if (filters.eventId !== undefined) {
    params.push(filters.eventId);
    where.push(`d.event_id = $${params.length}`);
  }
  if (filters.status !== undefined) {
    params.push(filters.status);
    where.push(`d.status = $${params.length}`);
  }
  const condition = where.join(' AND ');
  const [counted] = await db.query<{ total: number }>(
    `SELECT count(*)::int AS total FROM webhook_deliveries d WHERE ${condition}`,
    params,
  );
  const rows = await db.query<DeliveryRow & Record<string, unknown>>(
    `SELECT d.id, d.event_id AS "eventId", ev.type AS "eventType", d.status, d.attempts,
            d.next_attempt_at AS "nextAttemptAt", d.last_attempt_at AS "lastAttemptAt",
            d.last_response_status AS "lastResponseStatus", d.last_duration_ms AS "lastDurationMs",
            d.last_error AS "lastError"
       FROM webhook_deliveries d
       JOIN events ev ON ev.institution_id = d.institution_id AND ev.id = d.event_id
      WHERE ${condition}
      ORDER BY d.created_at DESC, d.event_seq DESC
      LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
    [...params, page.take, page.skip],
  );
  return { rows, total: counted?.total ?? 0 };
}

export interface AttemptRow {
  attemptedAt: Date;
  responseStatus: number | null;
  durationMs: number;
  error: string | null;
  responsePrefix: string | null;
}

/** Every attempt of one delivery, newest first (for the console's delivery log). */
export async function findAttempts(
  db: Queryable,
  institutionId: string,
  endpointId: string,
  deliveryId: string,
): Promise<AttemptRow[]> {
  return db.query<AttemptRow & Record<string, unknown>>(
    `SELECT a.attempted_at AS "attemptedAt", a.response_status AS "responseStatus", a.duration_ms AS "durationMs",
            a.error, a.response_prefix AS "responsePrefix"
       FROM webhook_attempts a
       JOIN webhook_deliveries d ON d.institution_id = a.institution_id AND d.id = a.delivery_id
      WHERE a.institution_id = $1 AND d.endpoint_id = $2 AND a.delivery_id = $3
      ORDER BY a.attempted_at DESC`,
    [institutionId, endpointId, deliveryId],
  );
}

// Requeued: pending again, due now, at the start of the retry schedule. A delivery some instance
// is attempting right now (its lease runs) is left to that attempt.
const requeue = `status = 'pending', next_attempt_at = clock_timestamp(), round_attempts = 0,
  lease_id = NULL, leased_until = NULL`;
const notInFlight = `NOT (status = 'pending' AND leased_until > clock_timestamp())`;

/**
 * Queues the event for the endpoint again: its delivery is requeued, or created if the endpoint
 * never had one (it was created later, or not subscribed). Returns how many were queued (0 when
 * the institution has no such event, or an attempt of it is in flight).
 */
export async function redeliverEvent(
  db: Queryable,
  institutionId: string,
  endpointId: string,
  eventId: string,
): Promise<number | undefined> {
  const [event] = await db.query<{ id: string }>(
    'SELECT id FROM events WHERE institution_id = $1 AND id = $2',
    [institutionId, eventId],
  );
  if (event === undefined) return undefined;
  const rows = await db.query(
    `INSERT INTO webhook_deliveries (institution_id, endpoint_id, event_id, event_seq, customer_id, version, created_at)
     SELECT ev.institution_id, $2, ev.id, ev.seq, ev.customer_id, ev.version, ev.created_at
       FROM events ev WHERE ev.institution_id = $1 AND ev.id = $3
     ON CONFLICT (institution_id, endpoint_id, event_id) DO UPDATE SET ${requeue}
        WHERE ${notInFlight.replace(/status|leased_until/g, (column) => `webhook_deliveries.${column}`)}
     RETURNING id`,
    [institutionId, endpointId, eventId],
  );
  return rows.length;
}

/** Requeues every failed delivery of the endpoint whose event is dated within [since, until]. */
export async function redeliverFailed(
  db: Queryable,
  institutionId: string,
  endpointId: string,
  range: { since: string; until: string },
): Promise<number> {
  const rows = await db.query(
    `UPDATE webhook_deliveries SET ${requeue}
      WHERE institution_id = $1 AND endpoint_id = $2 AND status = 'failed'
        AND created_at >= $3::timestamptz AND created_at <= $4::timestamptz
     RETURNING id`,
    [institutionId, endpointId, range.since, range.until],
  );
  return rows.length;
}
