-- Every instance keeps the credentials it has verified (API keys, login sessions) in memory, so
-- that a request costs no database round trip to authenticate (src/modules/auth/credential-cache.ts).
-- Whatever could make a remembered credential wrong (a key revoked or its restrictions changed,
-- a session revoked, a user deactivated or given another role) announces itself here, from the
-- database, so that no code path can forget to: each instance LISTENs on the channel and forgets
-- everything it remembered. NOTIFY is transactional: it is delivered when the change commits, and
-- never for a change that was rolled back.
-- Statement-level triggers: one notification per statement, however many rows it touched (a
-- password change revokes all of a user's sessions at once), and identical notifications within
-- one transaction are folded into one by PostgreSQL.
CREATE FUNCTION notify_credentials_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('customercore_credentials', TG_TABLE_NAME);
  RETURN NULL;
END
$$;

-- last_used_at is written while keys are used (at most once a minute per key and instance) and
-- changes nothing a remembered key depends on, so those updates do not announce themselves.
CREATE TRIGGER api_keys_changed
  AFTER UPDATE OF revoked_at, expires_at, allowed_ips, scopes, key_hash, institution_id OR DELETE
  ON api_keys FOR EACH STATEMENT EXECUTE FUNCTION notify_credentials_changed();

CREATE TRIGGER auth_sessions_changed
  AFTER UPDATE OF revoked_at, user_id OR DELETE
  ON auth_sessions FOR EACH STATEMENT EXECUTE FUNCTION notify_credentials_changed();

CREATE TRIGGER users_changed
  AFTER UPDATE OF deactivated_at, role, email, institution_id OR DELETE
  ON users FOR EACH STATEMENT EXECUTE FUNCTION notify_credentials_changed();
