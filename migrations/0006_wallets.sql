-- Each customer has exactly one wallet, created in the customer's transaction. `status_set_by`
-- records who set the current status: an operator's Blocked or Suspicious locks it against the
-- institution.
CREATE TABLE wallets (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  institution_id uuid NOT NULL,
  customer_id    uuid NOT NULL UNIQUE,
  status         text NOT NULL DEFAULT 'Active' CHECK (status IN ('Active', 'Blocked', 'Suspicious')),
  status_set_by  text NOT NULL DEFAULT 'institution' CHECK (status_set_by IN ('institution', 'operator')),
  created_at     timestamptz(3) NOT NULL DEFAULT now(),
  updated_at     timestamptz(3) NOT NULL DEFAULT now(),
  CONSTRAINT wallets_customer_fkey FOREIGN KEY (institution_id, customer_id)
    REFERENCES customers (institution_id, id)
);

CREATE INDEX wallets_status_idx ON wallets (institution_id, status);
