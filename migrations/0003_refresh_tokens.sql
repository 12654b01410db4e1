-- Refresh tokens issued at login. Only a SHA-256 hash of the secret is stored. `family_id` ties
-- together every token descended from one login, so a replayed token can revoke its whole family.
CREATE TABLE refresh_tokens (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id    uuid NOT NULL REFERENCES users (id),
  family_id  uuid NOT NULL,
  token_hash text NOT NULL UNIQUE,
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  expires_at timestamptz(3) NOT NULL,
  revoked_at timestamptz(3)
);

CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);
