-- Institution API keys. Only a SHA-256 hash of the secret is stored (the secret has 256 random
-- bits, so a slow hash adds nothing); `prefix` is the first characters, shown to tell keys apart.
CREATE TABLE api_keys (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  institution_id uuid NOT NULL REFERENCES institutions (id),
  name           text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
  prefix         text NOT NULL,
  key_hash       text NOT NULL UNIQUE,
  scopes         text[] NOT NULL CHECK (scopes <@ ARRAY['customers:read', 'customers:write'] AND cardinality(scopes) > 0),
  created_by     uuid NOT NULL REFERENCES users (id),
  created_at     timestamptz(3) NOT NULL DEFAULT now(),
  last_used_at   timestamptz(3),
  revoked_at     timestamptz(3)
);

CREATE INDEX api_keys_institution_idx ON api_keys (institution_id, created_at DESC);
