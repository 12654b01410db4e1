-- Every wallet status change: old and new status, who made it, why, and when. Append-only.
CREATE TABLE wallet_status_changes (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  wallet_id      uuid NOT NULL REFERENCES wallets (id),
  institution_id uuid NOT NULL REFERENCES institutions (id),
  old_status     text NOT NULL,
  new_status     text NOT NULL,
  old_set_by     text NOT NULL,
  new_set_by     text NOT NULL,
  actor_type     text NOT NULL CHECK (actor_type IN ('user', 'api_key', 'operator')),
  actor_id       uuid NOT NULL,
  reason         text,
  created_at     timestamptz(3) NOT NULL DEFAULT now()
);

CREATE INDEX wallet_status_changes_wallet_idx ON wallet_status_changes (wallet_id, created_at DESC);
