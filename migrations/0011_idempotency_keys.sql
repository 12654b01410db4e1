-- Idempotency keys (src/platform/idempotency.ts). One row per caller scope (an institution, or the
-- operator) and key: claimed atomically before a write route's handler runs, then completed with
-- the response it sent, which is replayed for 24 hours. Neither the key nor the response is
-- readable here: `key_hash` is the key's SHA-256, `request_hash` an HMAC-SHA-256 of the canonical
-- request body keyed by the key, and `body` the response body encrypted (AES-256-GCM) under a key
-- derived from the idempotency key, which only the client holds.
CREATE TABLE idempotency_keys (
  scope        text NOT NULL,
  key_hash     text NOT NULL,
  route        text NOT NULL,
  request_hash text NOT NULL,
  -- Who holds the claim: a random id per attempt, so that only that attempt completes or releases it.
  claim_id     uuid NOT NULL,
  created_at   timestamptz(3) NOT NULL DEFAULT now(),
  claimed_at   timestamptz(3) NOT NULL DEFAULT now(),
  completed_at timestamptz(3),
  status_code  smallint,
  headers      jsonb,
  body         bytea,
  PRIMARY KEY (scope, key_hash),
  CONSTRAINT idempotency_keys_completed_check
    CHECK ((completed_at IS NULL) = (status_code IS NULL) AND (completed_at IS NULL) = (body IS NULL))
);

-- The periodic clean-up deletes entries past their 24 hours.
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
