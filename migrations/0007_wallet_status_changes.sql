-- Every wallet status change: old and new status, who made it, why, and when. Append-only.
-- `created_at` is the time the change was applied (clock_timestamp(), taken under the wallet's row
-- lock), not the transaction's start, so concurrent changes are dated in the order they happened;
-- `seq` orders changes made within one millisecond.
CREATE TABLE wallet_status_changes (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  seq            bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  wallet_id      uuid NOT NULL REFERENCES wallets (id),
  institution_id uuid NOT NULL REFERENCES institutions (id),
  old_status     text NOT NULL,
  new_status     text NOT NULL,
  old_set_by     text NOT NULL,
  new_set_by     text NOT NULL,
  actor_type     text NOT NULL CHECK (actor_type IN ('user', 'api_key', 'operator')),
  actor_id       uuid NOT NULL,
  reason         text,
  created_at     timestamptz(3) NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX wallet_status_changes_wallet_idx ON wallet_status_changes (wallet_id, seq);
