-- Personal data encrypted at rest, searchable through blind indexes, and erasable (issue 13;
-- src/platform/crypto/vault.ts has the key hierarchy, docs/decisions.md the reasons).
--
-- customers:
--   `data_key`     the customer's data key, wrapped by the key-encryption key (names its version);
--                  NULL once erased: the customer's sealed values, in the row and its history,
--                  can then never be read again (crypto-shredding).
--   `email`, `phone_number`, `verification_document_id`, `residence_address`, `itn` hold sealed
--                  values (base64) when `pii_format` is 1, clear values when 0 (rows written before
--                  this migration, until the start-up upgrade seals them in batches).
--   `email_index`, `phone_index`  blind indexes: HMAC-SHA-256 of the normalised value under a key
--                  derived per institution and field. The unique email rule moves to `email_index`.
--   `erased_at`    when the customer was erased; names, comment, externalId and referralId are
--                  then NULL too.
CREATE TABLE encryption_keyring (
  purpose     text NOT NULL,
  key_version text NOT NULL,
  wrapped     bytea NOT NULL,
  created_at  timestamptz(3) NOT NULL DEFAULT now(),
  PRIMARY KEY (purpose, key_version)
);
COMMENT ON TABLE encryption_keyring IS
  'global: the service''s own keys (wrapped by the key-encryption key), one row per key and key version, shared by every institution';

ALTER TABLE customers
  ADD COLUMN data_key bytea,
  ADD COLUMN email_index bytea,
  ADD COLUMN phone_index bytea,
  ADD COLUMN pii_format smallint NOT NULL DEFAULT 0 CONSTRAINT customers_pii_format_check CHECK (pii_format IN (0, 1)),
  ADD COLUMN erased_at timestamptz(3),
  ALTER COLUMN email DROP NOT NULL,
  ALTER COLUMN first_name DROP NOT NULL,
  ALTER COLUMN last_name DROP NOT NULL,
  ALTER COLUMN verification_document_id DROP NOT NULL,
  ALTER COLUMN residence_address DROP NOT NULL;
-- A sealed row always has its key, until it is erased.
ALTER TABLE customers ADD CONSTRAINT customers_data_key_check
  CHECK (pii_format = 0 OR data_key IS NOT NULL OR erased_at IS NOT NULL);

-- The start-up upgrade fills email_index before the service serves, so the unique rule holds
-- throughout (docs/operations.md, Personal data). lower(email) over sealed values means nothing.
CREATE UNIQUE INDEX customers_email_index_key ON customers (institution_id, email_index);
DROP INDEX customers_email_key;
-- PostgreSQL checks unique indexes in the order they were created: the externalId index is made
-- again after the email one so that a create reusing both still answers CUSTOMER_EMAIL_TAKEN, as
-- before (the first conflict found is the one reported).
CREATE UNIQUE INDEX customers_external_id_key_new ON customers (institution_id, external_id);
DROP INDEX customers_external_id_key;
ALTER INDEX customers_external_id_key_new RENAME TO customers_external_id_key;
CREATE INDEX customers_phone_index_idx ON customers (institution_id, phone_index);
DROP INDEX customers_phone_idx;
-- The upgrade's batches find what is left.
CREATE INDEX customers_pii_format_idx ON customers (id) WHERE pii_format = 0;

-- customer_history: `pii_format` 1 means every change's values are sealed together under the
-- customer's data key, as `{"field": …, "sealed": …}` (0: `{"field", "old", "new"}` in clear).
-- Erasure appends an `erase` entry listing the erased fields without values.
ALTER TABLE customer_history
  ADD COLUMN pii_format smallint NOT NULL DEFAULT 0 CONSTRAINT customer_history_pii_format_check CHECK (pii_format IN (0, 1)),
  DROP CONSTRAINT customer_history_action_check,
  ADD CONSTRAINT customer_history_action_check CHECK (action IN ('create', 'update', 'wallet_status', 'erase'));
CREATE INDEX customer_history_pii_format_idx ON customer_history (customer_id) WHERE pii_format = 0;

-- Still append-only, with one exception: the upgrade may seal an entry written in clear before
-- this migration, changing nothing but `changes` and `pii_format` from 0 to 1, and only in a
-- transaction that declares it (SET LOCAL customercore.sealing_history = 'on').
CREATE OR REPLACE FUNCTION customer_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE'
     AND current_setting('customercore.sealing_history', true) = 'on'
     AND OLD.pii_format = 0 AND NEW.pii_format = 1
     AND (OLD.id, OLD.institution_id, OLD.customer_id, OLD.version, OLD.occurred_at, OLD.actor_type,
          OLD.actor_id, OLD.actor_name, OLD.request_id, OLD.action, OLD.reason)
         IS NOT DISTINCT FROM
         (NEW.id, NEW.institution_id, NEW.customer_id, NEW.version, NEW.occurred_at, NEW.actor_type,
          NEW.actor_id, NEW.actor_name, NEW.request_id, NEW.action, NEW.reason)
  THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'customer_history is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;

-- Idempotency: a stored response that holds a customer's data names the customer, so that its
-- erasure can blank it (`erased`: the body is gone, a replay answers 409 CUSTOMER_ERASED).
ALTER TABLE idempotency_keys
  ADD COLUMN customer_id uuid,
  ADD COLUMN erased boolean NOT NULL DEFAULT false;
CREATE INDEX idempotency_keys_customer_idx ON idempotency_keys (customer_id) WHERE customer_id IS NOT NULL;

-- API keys may carry the `customers:erase` scope (never by default).
ALTER TABLE api_keys DROP CONSTRAINT api_keys_scopes_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scopes_check
  CHECK (scopes <@ ARRAY['customers:read', 'customers:write', 'customers:erase', 'webhooks:manage'] AND cardinality(scopes) > 0);
