-- One delivery per event and endpoint it goes to, written with the event (same statement), so
-- every committed event has its deliveries. A delivery is `pending` until it succeeds or fails for
-- good. Instances claim due deliveries with FOR UPDATE SKIP LOCKED and take a lease
-- (`lease_id`, `leased_until`, longer than an attempt's timeout): while it holds no other instance
-- attempts that delivery, and a crashed instance's lease simply runs out. `round_attempts` counts
-- the attempts since it was (re)queued, for the retry schedule; `attempts` counts them all.
-- Order per (endpoint, customer): only the pending delivery with the lowest (version, event_seq)
-- may be claimed; the partial index below answers "is there an earlier one?" for the claim.
CREATE TABLE webhook_deliveries (
  institution_id      uuid NOT NULL,
  id                  uuid NOT NULL DEFAULT gen_random_uuid(),
  endpoint_id         uuid NOT NULL,
  event_id            uuid NOT NULL,
  event_seq           bigint NOT NULL,
  customer_id         uuid,
  version             integer,
  status              text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
  attempts            integer NOT NULL DEFAULT 0,
  round_attempts      integer NOT NULL DEFAULT 0,
  next_attempt_at     timestamptz(3) NOT NULL DEFAULT clock_timestamp(),
  lease_id            uuid,
  leased_until        timestamptz(3),
  last_attempt_at     timestamptz(3),
  last_response_status smallint,
  last_duration_ms    integer,
  last_error          text,
  created_at          timestamptz(3) NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (institution_id, id),
  CONSTRAINT webhook_deliveries_endpoint_fkey FOREIGN KEY (institution_id, endpoint_id)
    REFERENCES webhook_endpoints (institution_id, id) ON DELETE CASCADE,
  CONSTRAINT webhook_deliveries_event_fkey FOREIGN KEY (institution_id, event_id)
    REFERENCES events (institution_id, id) ON DELETE CASCADE,
  CONSTRAINT webhook_deliveries_event_key UNIQUE (institution_id, endpoint_id, event_id)
);

-- The claim: due pending deliveries, oldest due first.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
-- The order rule: an earlier pending delivery to the same endpoint about the same customer.
CREATE INDEX webhook_deliveries_order_idx
  ON webhook_deliveries (institution_id, endpoint_id, customer_id, version, event_seq) WHERE status = 'pending';
-- deliveries: an endpoint's, newest first; redeliver by time range.
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (institution_id, endpoint_id, created_at DESC, event_seq DESC);

-- Each attempt: when, the answer's status (NULL when none came), how long it took, the class of
-- error (NULL on success), and at most the first 256 characters of the receiver's body, never more.
CREATE TABLE webhook_attempts (
  institution_id  uuid NOT NULL,
  id              uuid NOT NULL DEFAULT gen_random_uuid(),
  delivery_id     uuid NOT NULL,
  attempted_at    timestamptz(3) NOT NULL,
  response_status smallint,
  duration_ms     integer NOT NULL,
  error           text,
  response_prefix text CHECK (char_length(response_prefix) <= 256),
  PRIMARY KEY (institution_id, id),
  CONSTRAINT webhook_attempts_delivery_fkey FOREIGN KEY (institution_id, delivery_id)
    REFERENCES webhook_deliveries (institution_id, id) ON DELETE CASCADE
);

CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (institution_id, delivery_id, attempted_at DESC);

-- Wakes the dispatchers of every instance when deliveries become due now (written, requeued by a
-- redelivery, released at shutdown): once per statement that made any (a create with no
-- endpoint stays silent, and so do claims, which take a lease), and PostgreSQL folds the
-- identical notifications of one transaction into one, sent at commit. They also poll, for
-- retries that fall due and for notifications missed while a listening connection was down.
CREATE FUNCTION notify_webhook_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM queued WHERE status = 'pending' AND lease_id IS NULL AND next_attempt_at <= clock_timestamp()) THEN
    PERFORM pg_notify('customercore_webhooks', '');
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER webhook_deliveries_inserted
  AFTER INSERT ON webhook_deliveries REFERENCING NEW TABLE AS queued
  FOR EACH STATEMENT EXECUTE FUNCTION notify_webhook_deliveries();

CREATE TRIGGER webhook_deliveries_requeued
  AFTER UPDATE ON webhook_deliveries REFERENCING NEW TABLE AS queued
  FOR EACH STATEMENT EXECUTE FUNCTION notify_webhook_deliveries();
