-- A login token is bound to the card certificate its login was proved
-- with: cert_hash is the SHA-256 of that certificate (DER), and the
-- platform refuses the token once the card is enrolled with another one.
-- The tokens stored before carry no such hash: they are deleted, and the
-- platform refuses one written without it (the column's empty default)
-- as it refuses the token of another certificate. Tokens are short-lived
-- (an hour by default); their cards log in again.
DELETE FROM payflow_tokens;
ALTER TABLE payflow_tokens ADD COLUMN cert_hash BYTEA NOT NULL DEFAULT ''::bytea;
