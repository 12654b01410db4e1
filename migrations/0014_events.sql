-- The transactional outbox: one row per event, written by the statement or transaction that made
-- the change (customers.repository.ts, customers.service.ts, and recordEvent() for other modules),
-- so a change that rolls back leaves no event and one that commits always has its event. `data`
-- is the event's `data` object exactly as delivered (json keeps the key order), and never holds a
-- personal value. `seq` orders events that share a customer version (one update emitting
-- customer.updated and wallet.status_changed). `endpoint_id` is set for a `ping`, which goes to
-- that endpoint only. Events are kept 30 days (the dispatcher deletes older ones, and their
-- deliveries with them).
CREATE TABLE events (
  institution_id uuid NOT NULL REFERENCES institutions (id),
  id             uuid NOT NULL DEFAULT gen_random_uuid(),
  seq            bigint GENERATED ALWAYS AS IDENTITY,
  type           text NOT NULL CHECK (type IN (
                   'customer.created', 'customer.updated', 'wallet.status_changed', 'customer.erased', 'ping')),
  customer_id    uuid,
  version        integer,
  endpoint_id    uuid,
  data           json NOT NULL,
  created_at     timestamptz(3) NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (institution_id, id),
  CONSTRAINT events_customer_check CHECK ((type = 'ping') = (customer_id IS NULL) AND (customer_id IS NULL) = (version IS NULL)),
  CONSTRAINT events_ping_check CHECK ((type = 'ping') = (endpoint_id IS NOT NULL))
);

-- event/find: newest first, optionally by type or customer; the retention clean-up by age.
CREATE INDEX events_created_idx ON events (institution_id, created_at DESC, seq DESC);
CREATE INDEX events_customer_idx ON events (institution_id, customer_id, created_at DESC);
CREATE INDEX events_age_idx ON events (created_at);
