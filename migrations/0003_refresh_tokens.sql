-- A login session. Every refresh token descended from one login belongs to it, and access tokens
-- name it (`sid`), so revoking the session (logout, or a replayed refresh token) ends them all.
CREATE TABLE auth_sessions (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id    uuid NOT NULL REFERENCES users (id),
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  revoked_at timestamptz(3)
);

CREATE INDEX auth_sessions_user_idx ON auth_sessions (user_id);

-- Refresh tokens; only a SHA-256 hash of the secret is stored. A token is used once: `used_at`
-- is set when it is exchanged for a new pair, and presenting it again revokes its session.
CREATE TABLE refresh_tokens (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  session_id uuid NOT NULL REFERENCES auth_sessions (id),
  token_hash text NOT NULL UNIQUE,
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  expires_at timestamptz(3) NOT NULL,
  used_at    timestamptz(3)
);

CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);
