-- People who log in. Operators belong to no institution; everyone else belongs to exactly one.
-- Emails are unique per institution (and among operators), compared case-insensitively.
CREATE TABLE users (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  institution_id uuid REFERENCES institutions (id),
  email          text NOT NULL,
  password_hash  text NOT NULL,
  role           text NOT NULL CHECK (role IN ('Operator', 'Owner', 'Admin', 'Viewer')),
  created_at     timestamptz(3) NOT NULL DEFAULT now(),
  deactivated_at timestamptz(3),
  CONSTRAINT users_operator_has_no_institution CHECK ((role = 'Operator') = (institution_id IS NULL))
);

CREATE UNIQUE INDEX users_institution_email_key ON users (institution_id, lower(email))
  WHERE institution_id IS NOT NULL;
CREATE UNIQUE INDEX users_operator_email_key ON users (lower(email))
  WHERE institution_id IS NULL;
