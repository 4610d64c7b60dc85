-- Challenge nonces carry their expiry and a MAC under the key kept in
-- payflow_keys, so issuing one writes nothing; the nonce of every accepted
-- record is kept in payflow_used_nonces until it expires, and a nonce
-- found there is refused.
CREATE TABLE payflow_used_nonces (
	nonce      BYTEA PRIMARY KEY,
	expires_at BIGINT NOT NULL
);
CREATE INDEX payflow_used_nonces_expiry ON payflow_used_nonces (expires_at);

CREATE TABLE payflow_keys (
	name TEXT PRIMARY KEY,
	key  BYTEA NOT NULL
);
