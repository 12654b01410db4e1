-- API keys may carry the `webhooks:manage` scope (contract "Webhooks and events").
ALTER TABLE api_keys DROP CONSTRAINT api_keys_scopes_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scopes_check
  CHECK (scopes <@ ARRAY['customers:read', 'customers:write', 'webhooks:manage'] AND cardinality(scopes) > 0);
