-- The claim (0018, 0019) as a PL/pgSQL function, so that its plan is made once per connection and
-- kept. A LANGUAGE sql function with a SET clause is never inlined, and PostgreSQL plans its
-- statement again on every call: measured during the bench (docs/performance.md, "Webhooks"),
-- planning took 1.3-4.3 ms of a claim that then ran in 0.3-2 ms, so claims of about 4 deliveries
-- cost 2.4 ms each and were a third of the database's time with one endpoint subscribed. PL/pgSQL
-- keeps the plans of its statements for the session; plan_cache_mode = force_generic_plan makes
-- that the one generic plan from the first call (its shape does not depend on the arguments, and
-- with sequential scans off it is the indexed plan of 0018). The statement is 0019's with one
-- change: the due deliveries are taken oldest first (ORDER BY next_attempt_at). A plan made once
-- must be right for an empty table and a full one, and without the ORDER BY the generic plan made
-- while the table was empty read every delivery through webhook_deliveries_endpoint_idx, newest
-- first (seen with auto_explain in the bench): claims grew with the table and the oldest
-- deliveries waited until the load stopped. With it, only the due index gives the order without
-- a sort, so it is the plan whatever the statistics say.
CREATE OR REPLACE FUNCTION claim_webhook_deliveries(claim_limit integer, claim_lease uuid, lease_ms integer)
RETURNS TABLE (
  "institutionId" uuid, id uuid, "endpointId" uuid, "eventId" uuid, "eventType" text, "eventData" json,
  "eventCreatedAt" timestamptz, url text, secret bytea, "previousSecret" bytea, "roundAttempts" integer
)
LANGUAGE plpgsql VOLATILE
SET enable_seqscan = off
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
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
     ORDER BY d.next_attempt_at
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
            d.round_attempts;
END
$$;

-- The outcomes of successful attempts, batched (webhook-dispatch.repository.ts), get the same
-- treatment. As a prepared statement its plan was the generic one PostgreSQL keeps after five
-- calls, made from whatever the statistics of a queue table said then, and its time per batch
-- swung between runs (0.3 to 2.4 ms for about four outcomes). Here it runs planned once, with
-- sequential scans and the hash and merge joins off (which would read a whole table or index
-- instead): each outcome is joined to its delivery through the primary key, whatever the
-- statistics say (auto_explain showed that plan during the bench).
CREATE FUNCTION record_webhook_successes(
  lease uuid, institution_ids uuid[], ids uuid[], attempted_ats timestamptz[], response_statuses smallint[],
  durations_ms integer[], response_prefixes text[]
) RETURNS void
LANGUAGE plpgsql VOLATILE
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
  WITH o AS (
    SELECT * FROM unnest(institution_ids, ids, attempted_ats, response_statuses, durations_ms, response_prefixes)
      AS o (institution_id, id, attempted_at, response_status, duration_ms, response_prefix)
  ), d AS (
    UPDATE webhook_deliveries wd
       SET status = 'succeeded', attempts = wd.attempts + 1, round_attempts = wd.round_attempts + 1,
           lease_id = NULL, leased_until = NULL, last_attempt_at = o.attempted_at,
           last_response_status = o.response_status, last_duration_ms = o.duration_ms, last_error = NULL
      FROM o
     WHERE wd.institution_id = o.institution_id AND wd.id = o.id AND wd.lease_id = lease
    RETURNING wd.institution_id, wd.id, wd.endpoint_id, o.attempted_at, o.response_status, o.duration_ms,
              o.response_prefix
  ), a AS (
    INSERT INTO webhook_attempts (institution_id, delivery_id, attempted_at, response_status, duration_ms, response_prefix)
    SELECT institution_id, id, attempted_at, response_status, duration_ms, response_prefix FROM d
  )
  UPDATE webhook_endpoints e SET failing_since = NULL
    FROM (SELECT DISTINCT institution_id, endpoint_id FROM d) ended
   WHERE e.institution_id = ended.institution_id AND e.id = ended.endpoint_id AND e.failing_since IS NOT NULL;
END
$$;
