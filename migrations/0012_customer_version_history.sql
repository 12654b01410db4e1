-- Optimistic concurrency and change history (issue 6).
--
-- `version` starts at 1 and grows by one with every change to the customer (its fields or its
-- wallet's status); the service bumps it under the row lock the change already holds, so
-- `If-Match` / `expectedVersion` are checked against the version nobody else can move meanwhile.
-- Customers that exist before this migration start at version 1, with no history.
ALTER TABLE customers ADD COLUMN version integer NOT NULL DEFAULT 1 CONSTRAINT customers_version_check CHECK (version >= 1);

-- One entry per change, written in the change's own transaction: when, who (actor type, id, and
-- name as it was then: a user's or operator's email, an API key's name), the request id, the
-- action, the customer's version after it, and each changed field with its old and new value.
-- The entries hold personal data (old and new emails, phones...), exactly like `customers`.
-- `version` orders a customer's entries: each change moves it by one, under the row lock.
CREATE TABLE customer_history (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  institution_id uuid NOT NULL,
  customer_id    uuid NOT NULL,
  version        integer NOT NULL,
  occurred_at    timestamptz(3) NOT NULL DEFAULT clock_timestamp(),
  actor_type     text NOT NULL CHECK (actor_type IN ('user', 'api_key', 'operator')),
  actor_id       uuid NOT NULL,
  actor_name     text NOT NULL,
  request_id     text NOT NULL,
  action         text NOT NULL CHECK (action IN ('create', 'update', 'wallet_status')),
  reason         text,
  changes        jsonb NOT NULL CHECK (jsonb_typeof(changes) = 'array'),
  CONSTRAINT customer_history_customer_fkey FOREIGN KEY (institution_id, customer_id)
    REFERENCES customers (institution_id, id),
  -- Also serves listing a customer's entries newest first.
  CONSTRAINT customer_history_version_key UNIQUE (customer_id, version)
);

-- Append-only, enforced by the database whoever connects: updating, deleting or truncating
-- entries raises an error (and so, through the foreign key, does deleting a customer that has any).
CREATE FUNCTION customer_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'customer_history is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER customer_history_no_update_or_delete
  BEFORE UPDATE OR DELETE ON customer_history
  FOR EACH ROW EXECUTE FUNCTION customer_history_append_only();

CREATE TRIGGER customer_history_no_truncate
  BEFORE TRUNCATE ON customer_history
  FOR EACH STATEMENT EXECUTE FUNCTION customer_history_append_only();
