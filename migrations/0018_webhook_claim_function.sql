-- The dispatcher's claim (src/modules/webhooks/webhook-dispatch.repository.ts) as a function, so
-- that it can run with sequential scans disabled. A queue table's statistics are always stale:
-- one that grew from empty in the last minute looks empty to the planner, which then scans it
-- whole, and scans it again for every candidate's order test. Seen during the bench: claims of
-- 3.2 s for 15 deliveries out of 2,906 rows (docs/performance.md, "Webhooks"). Every step of the
-- claim has an index made for it (the due index, the order index, the keys of the events and
-- endpoints, the claimed rows' ctid), so without sequential scans its plan no longer depends on
-- what the statistics say. The SET applies to this function's statements alone.
CREATE FUNCTION claim_webhook_deliveries(claim_limit integer, claim_lease uuid, lease_ms integer)
RETURNS TABLE (
  "institutionId" uuid, id uuid, "endpointId" uuid, "eventId" uuid, "eventType" text, "eventData" json,
  "eventCreatedAt" timestamptz, url text, secret bytea, "previousSecret" bytea, "roundAttempts" integer
)
LANGUAGE sql VOLATILE
SET enable_seqscan = off
AS $$
  WITH due AS (
    SELECT d.ctid AS row_ctid, d.institution_id, d.id
      FROM webhook_deliveries d
      JOIN webhook_endpoints e ON e.institution_id = d.institution_id AND e.id = d.endpoint_id
     WHERE d.status = 'pending' AND d.next_attempt_at <= now()
       AND (d.leased_until IS NULL OR d.leased_until <= now())
       AND e.enabled
       AND NOT EXISTS (
         SELECT 1 FROM webhook_deliveries earlier
          WHERE earlier.status = 'pending' AND d.customer_id IS NOT NULL
            AND earlier.institution_id = d.institution_id AND earlier.endpoint_id = d.endpoint_id
            AND earlier.customer_id = d.customer_id
            AND (earlier.version, earlier.event_seq) < (d.version, d.event_seq)
         OFFSET 0)
     LIMIT claim_limit
     FOR UPDATE OF d SKIP LOCKED
  )
  UPDATE webhook_deliveries d
     SET lease_id = claim_lease, leased_until = clock_timestamp() + lease_ms * interval '1 millisecond'
    FROM due, events ev, webhook_endpoints e
   WHERE d.ctid = due.row_ctid AND d.institution_id = due.institution_id AND d.id = due.id
     AND ev.institution_id = d.institution_id AND ev.id = d.event_id
     AND e.institution_id = d.institution_id AND e.id = d.endpoint_id
  RETURNING d.institution_id, d.id, d.endpoint_id, d.event_id, ev.type, ev.data, ev.created_at, e.url, e.secret,
            CASE WHEN e.previous_secret_expires_at > clock_timestamp() THEN e.previous_secret END,
            d.round_attempts
$$;

COMMENT ON FUNCTION claim_webhook_deliveries(integer, uuid, integer) IS
  'Claims up to claim_limit due deliveries under the lease claim_lease for lease_ms; see 0018.';
