-- An institution's end customer. Uniqueness (email case-insensitively, externalId exactly) is per
-- institution and enforced here, so concurrent creates cannot both win. A referral must name a
-- customer of the same institution: the composite foreign key makes that a database rule.
CREATE TABLE customers (
  id                       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  institution_id           uuid NOT NULL REFERENCES institutions (id),
  email                    text NOT NULL,
  phone_number             text,
  first_name               text NOT NULL,
  last_name                text NOT NULL,
  comment                  text,
  external_id              text,
  referral_id              uuid,
  country                  text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
  verification_document_id text NOT NULL,
  residence_address        text NOT NULL,
  itn                      text,
  created_at               timestamptz(3) NOT NULL DEFAULT now(),
  updated_at               timestamptz(3) NOT NULL DEFAULT now(),
  CONSTRAINT customers_institution_id_key UNIQUE (institution_id, id),
  CONSTRAINT customers_referral_fkey FOREIGN KEY (institution_id, referral_id)
    REFERENCES customers (institution_id, id)
);

CREATE UNIQUE INDEX customers_email_key ON customers (institution_id, lower(email));
CREATE UNIQUE INDEX customers_external_id_key ON customers (institution_id, external_id);
-- `find` lists newest first with a stable tie-break.
CREATE INDEX customers_created_idx ON customers (institution_id, created_at DESC, id DESC);
CREATE INDEX customers_referral_idx ON customers (institution_id, referral_id);
CREATE INDEX customers_phone_idx ON customers (institution_id, phone_number);
