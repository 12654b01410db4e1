-- The console's browser sessions (issue 12). A console session is a login session like the API's
-- (auth_sessions: revoked by sign-out, password change and deactivation alike), reached from a
-- cookie instead of a token pair. Only a SHA-256 hash of the cookie's secret is stored. It ends
-- when idle for CONSOLE_IDLE_TIMEOUT (last_seen_at) or at expires_at (CONSOLE_SESSION_LIFETIME),
-- whichever comes first.
CREATE TABLE console_sessions (
  token_hash   text PRIMARY KEY,
  session_id   uuid NOT NULL UNIQUE REFERENCES auth_sessions (id),
  created_at   timestamptz(3) NOT NULL DEFAULT now(),
  last_seen_at timestamptz(3) NOT NULL DEFAULT now(),
  expires_at   timestamptz(3) NOT NULL
);

COMMENT ON TABLE console_sessions IS
  'global: found by the hash of the cookie a browser presents, before the tenant is known';

-- Who at the operator looked at which customer's masked fields (the console's "reveal"): shown to
-- the operator's auditors and to the customer's institution. Append-only, like the history.
CREATE TABLE data_access_log (
  id             uuid NOT NULL DEFAULT gen_random_uuid(),
  institution_id uuid NOT NULL,
  customer_id    uuid NOT NULL,
  actor_type     text NOT NULL CHECK (actor_type IN ('operator', 'user')),
  actor_id       uuid NOT NULL,
  actor_name     text NOT NULL,
  fields         text[] NOT NULL CHECK (cardinality(fields) > 0),
  request_id     text NOT NULL,
  occurred_at    timestamptz(3) NOT NULL DEFAULT now(),
  PRIMARY KEY (id, institution_id),
  FOREIGN KEY (customer_id, institution_id) REFERENCES customers (id, institution_id)
);

CREATE INDEX data_access_log_institution_idx ON data_access_log (institution_id, occurred_at DESC, id);
CREATE INDEX data_access_log_occurred_idx ON data_access_log (occurred_at DESC, id);
