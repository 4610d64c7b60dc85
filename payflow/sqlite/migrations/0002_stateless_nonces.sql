-- Challenge nonces carry their expiry and a MAC under the key kept in
-- payflow_keys, so issuing one writes nothing; the nonce of every accepted
-- record is kept in payflow_used_nonces until it expires, and a nonce
-- found there is refused.
CREATE TABLE payflow_used_nonces (
	nonce      BLOB PRIMARY KEY,
	expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX payflow_used_nonces_expiry ON payflow_used_nonces (expires_at);

CREATE TABLE payflow_keys (
	name TEXT PRIMARY KEY,
	key  BLOB NOT NULL
) STRICT;
