-- A tenant: a partner institution. Its id is the `merchant_id` of the login header.
CREATE TABLE institutions (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  title      text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
  created_at timestamptz(3) NOT NULL DEFAULT now()
);
