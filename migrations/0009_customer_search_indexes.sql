-- Indexes that keep /v2/customer/find fast as an institution grows to millions of customers.
-- email, externalId and phoneNumber already have (institution_id, ...) B-tree indexes (0005) and
-- walletId is the wallets primary key. fullName and comment are substring searches (ILIKE '%…%'),
-- which a B-tree cannot serve; a trigram GIN index can. The fullName index is on the very
-- expression the find query filters on, or the planner would not use it.
--
-- pg_trgm is installed once per database, in one schema. When absent, it goes into public so that
-- it never belongs to a schema that is dropped later (dropping that schema with CASCADE would take
-- the extension, and every other schema's trigram indexes, with it); the operator class is then
-- named by the schema the extension is really in, which need not be on the search_path.
-- Building the indexes blocks writes to customers meanwhile (about 20 s at a million customers on
-- two shared cores). IF NOT EXISTS lets an operator build them beforehand, without blocking, with
-- CREATE INDEX CONCURRENTLY and the same names and definitions (docs/performance.md, Scale).
DO $$
DECLARE
  trgm_schema text;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
    IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'public') THEN
      CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
    ELSE
      CREATE EXTENSION IF NOT EXISTS pg_trgm;
    END IF;
  END IF;
  SELECT n.nspname INTO STRICT trgm_schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
   WHERE e.extname = 'pg_trgm';

  EXECUTE format(
    'CREATE INDEX IF NOT EXISTS customers_full_name_trgm_idx ON customers
       USING gin ((first_name || '' '' || last_name) %I.gin_trgm_ops)',
    trgm_schema);
  -- Most customers have no comment; the partial index leaves them out (ILIKE implies NOT NULL).
  EXECUTE format(
    'CREATE INDEX IF NOT EXISTS customers_comment_trgm_idx ON customers
       USING gin (comment %I.gin_trgm_ops) WHERE comment IS NOT NULL',
    trgm_schema);
END
$$;
