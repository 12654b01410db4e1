-- An institution's webhook endpoints (contract "Webhooks and events"). The signing secret is never
-- stored in clear: `secret` is its AES-256-GCM ciphertext under the service's webhook secrets key
-- (src/modules/webhooks/webhook-secrets.ts), which is not in the database. After a rotation the
-- rotated-out secret keeps signing beside the new one until `previous_secret_expires_at` (24 h).
-- `failing_since`: the first failed attempt since the last success (NULL while healthy); an
-- endpoint failing for WEBHOOK_DISABLE_AFTER is disabled with `disabled_reason` 'failing'. A 410
-- Gone answer disables it at once ('gone'). Disabled by its institution: reason NULL.
CREATE TABLE webhook_endpoints (
  institution_id            uuid NOT NULL REFERENCES institutions (id),
  id                        uuid NOT NULL DEFAULT gen_random_uuid(),
  url                       text NOT NULL CHECK (char_length(url) BETWEEN 1 AND 2048),
  description               text CHECK (char_length(description) <= 500),
  event_types               text[] NOT NULL CHECK (cardinality(event_types) > 0 AND event_types <@ ARRAY[
                              'customer.created', 'customer.updated', 'wallet.status_changed', 'customer.erased']),
  enabled                   boolean NOT NULL DEFAULT true,
  disabled_reason           text CHECK (disabled_reason IN ('gone', 'failing')),
  secret                    bytea NOT NULL,
  previous_secret           bytea,
  previous_secret_expires_at timestamptz(3),
  failing_since             timestamptz(3),
  created_at                timestamptz(3) NOT NULL DEFAULT clock_timestamp(),
  updated_at                timestamptz(3) NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (institution_id, id),
  CONSTRAINT webhook_endpoints_reason_check CHECK (NOT enabled OR disabled_reason IS NULL),
  CONSTRAINT webhook_endpoints_previous_secret_check
    CHECK ((previous_secret IS NULL) = (previous_secret_expires_at IS NULL))
);

-- find lists an institution's endpoints newest first; every event's fan-out reads them too.
CREATE INDEX webhook_endpoints_created_idx ON webhook_endpoints (institution_id, created_at DESC, id DESC);
