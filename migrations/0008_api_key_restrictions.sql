-- Restrictions an institution may put on an API key, checked on every request. `allowed_ips`: the
-- client addresses and CIDR ranges it may be used from, normalised by the service (NULL: any
-- address). `expires_at`: when it stops working (NULL: never); compared with the database's clock,
-- so every instance agrees on the moment.
ALTER TABLE api_keys ADD COLUMN allowed_ips text[]
  CONSTRAINT api_keys_allowed_ips_check CHECK (cardinality(allowed_ips) BETWEEN 1 AND 50);
ALTER TABLE api_keys ADD COLUMN expires_at timestamptz(3);
