-- The schema stays shardable by institution (docs/operations.md, "Past one PostgreSQL"): a
-- distributed engine (Citus, YugabyteDB, CockroachDB) can place each institution's rows together
-- only if every per-tenant table carries `institution_id` in its primary key, in every unique
-- index and in every foreign key, so that no constraint ever has to look across institutions.
-- test/shardable-schema.test.ts reads the catalog and fails when a table breaks the rule.
--
-- How a table declares that it is not distributed by `institution_id`: its comment (COMMENT ON
-- TABLE, in the migration that creates it) starts with
--   'global: <why>'                a table that is not per tenant (a reference table once sharded);
--   'tenant key: <column>: <why>'  a per-tenant table distributed by another column.
-- Every other table is a tenant table, keyed by `institution_id`.
--
-- Below, the existing tables are declared or made to conform, in place: primary keys and unique
-- indexes gain `institution_id` as a trailing column (so lookups by `id` alone still use them, as
-- the operator's routes do), and the one foreign key that named a wallet by its id alone names it
-- by (institution_id, id). Each statement rebuilds an index and holds its table's lock meanwhile
-- (about 2 s per million rows here): on a large database, run it in a quiet moment.

COMMENT ON TABLE schema_migrations IS
  'global: the migration runner''s own record of applied files';
COMMENT ON TABLE institutions IS
  'global: the tenants themselves, read by every institution''s requests (a reference table)';
COMMENT ON TABLE users IS
  'global: operators belong to no institution, and a login finds its account by email before the tenant is known to the caller''s rows';
COMMENT ON TABLE auth_sessions IS
  'global: found by the session id an access token names, before the tenant is known';
COMMENT ON TABLE refresh_tokens IS
  'global: found by the hash of the token a client presents, before the tenant is known';
COMMENT ON TABLE api_keys IS
  'global: found by the hash of the key a client presents, before the tenant is known; few rows, rarely written';
COMMENT ON TABLE idempotency_keys IS
  'tenant key: scope: the caller''s scope, which is the institution id for every institution caller (and "operator" for the operator''s one scope)';

-- customers: the primary key was (id).
ALTER TABLE customers
  DROP CONSTRAINT customers_pkey,
  ADD CONSTRAINT customers_pkey PRIMARY KEY (id, institution_id);

-- wallets: the primary key was (id), and customer_id was unique on its own; wallet_status_changes
-- referred to wallets (id).
ALTER TABLE wallet_status_changes DROP CONSTRAINT wallet_status_changes_wallet_id_fkey;
ALTER TABLE wallets
  DROP CONSTRAINT wallets_pkey,
  ADD CONSTRAINT wallets_pkey PRIMARY KEY (id, institution_id);
ALTER TABLE wallets
  DROP CONSTRAINT wallets_customer_id_key,
  ADD CONSTRAINT wallets_customer_id_key UNIQUE (customer_id, institution_id);

-- wallet_status_changes: the primary key was (id), seq was unique on its own.
ALTER TABLE wallet_status_changes
  DROP CONSTRAINT wallet_status_changes_pkey,
  ADD CONSTRAINT wallet_status_changes_pkey PRIMARY KEY (id, institution_id);
ALTER TABLE wallet_status_changes
  DROP CONSTRAINT wallet_status_changes_seq_key,
  ADD CONSTRAINT wallet_status_changes_seq_key UNIQUE (seq, institution_id);
ALTER TABLE wallet_status_changes
  ADD CONSTRAINT wallet_status_changes_wallet_fkey FOREIGN KEY (institution_id, wallet_id)
    REFERENCES wallets (institution_id, id);

-- customer_history: the primary key was (id); a customer's versions were unique by customer_id.
ALTER TABLE customer_history
  DROP CONSTRAINT customer_history_pkey,
  ADD CONSTRAINT customer_history_pkey PRIMARY KEY (id, institution_id);
ALTER TABLE customer_history
  DROP CONSTRAINT customer_history_version_key,
  ADD CONSTRAINT customer_history_version_key UNIQUE (customer_id, version, institution_id);
