-- The claim's order test ("no earlier pending delivery to this endpoint about this customer") gets
-- an index that only it can use. Seen during the bench (auto_explain, docs/performance.md,
-- "Webhooks"): with the table's statistics stale, as a queue table's always are, the planner
-- answered the test through webhook_deliveries_endpoint_idx, whose leading columns
-- (institution_id, endpoint_id) match it too, reading every delivery of the endpoint for every
-- candidate: 10,000 rows filtered per candidate, claims of 30-70 ms for 7 deliveries, and a
-- dispatcher that could not keep up with the creates. Both indexes looked equally cheap to a
-- planner that believed the table nearly empty. Keyed on an expression that no other index
-- holds, the test has this index or nothing (the claim runs with sequential scans off, 0018),
-- whatever the statistics say.
CREATE INDEX webhook_deliveries_customer_order_idx
  ON webhook_deliveries ((ARRAY[institution_id, endpoint_id, customer_id]), version, event_seq)
  WHERE status = 'pending';
DROP INDEX webhook_deliveries_order_idx;

CREATE OR REPLACE FUNCTION claim_webhook_deliveries(claim_limit integer, claim_lease uuid, lease_ms integer)
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
            AND ARRAY[earlier.institution_id, earlier.endpoint_id, earlier.customer_id]
                = ARRAY[d.institution_id, d.endpoint_id, d.customer_id]
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

-- Room on every page for the claim's lease to be written in place: the claim sets only lease_id
-- and leased_until, which no index holds, so PostgreSQL can update the row where it is (a
-- heap-only tuple) when its page has space. On full pages (the default fillfactor of 100) each
-- claim instead wrote a new copy of the row and an entry in every one of the table's indexes,
-- which the next claims then walked past until vacuum. Applies to pages written from now on.
ALTER TABLE webhook_deliveries SET (fillfactor = 70);
