-- Platform state of payflow, next to the ledger's tables in one database.
-- Times are Unix nanoseconds (0 for none); IDs, hashes and signed records
-- are BLOBs; line items and legs are CBOR arrays.
CREATE TABLE payflow_cards (
	id           TEXT PRIMARY KEY,
	chain        BLOB NOT NULL,
	adv_secret   BLOB NOT NULL,
	display_name TEXT NOT NULL,
	merchant_id  TEXT NOT NULL DEFAULT '',
	enrolled_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE payflow_counters (
	card_id TEXT PRIMARY KEY,
	counter INTEGER NOT NULL
) STRICT;

CREATE TABLE payflow_merchants (
	id             TEXT PRIMARY KEY,
	name           TEXT NOT NULL,
	currency       TEXT NOT NULL,
	manual_capture INTEGER NOT NULL
) STRICT;

CREATE TABLE payflow_catalog (
	merchant_id TEXT NOT NULL,
	sku         TEXT NOT NULL,
	name        TEXT NOT NULL,
	unit_price  INTEGER NOT NULL,
	PRIMARY KEY (merchant_id, sku)
) STRICT;

CREATE TABLE payflow_assets (
	name   TEXT PRIMARY KEY,
	ledger INTEGER NOT NULL UNIQUE
) STRICT;

CREATE TABLE payflow_nonces (
	nonce      BLOB PRIMARY KEY,
	expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX payflow_nonces_expiry ON payflow_nonces (expires_at);

CREATE TABLE payflow_tokens (
	hash       BLOB PRIMARY KEY,
	card_id    TEXT NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX payflow_tokens_expiry ON payflow_tokens (expires_at);

CREATE TABLE payflow_sessions (
	id              BLOB PRIMARY KEY,
	shopper_card_id TEXT NOT NULL,
	seller_card_id  TEXT NOT NULL,
	merchant_id     TEXT NOT NULL,
	shopper_eid     BLOB NOT NULL,
	seller_eid      BLOB NOT NULL,
	shopper_ok      INTEGER NOT NULL,
	seller_ok       INTEGER NOT NULL,
	expires_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX payflow_sessions_expiry ON payflow_sessions (expires_at);

CREATE TABLE payflow_payments (
	id              BLOB PRIMARY KEY,
	session_id      BLOB NOT NULL,
	state           TEXT NOT NULL,
	version         INTEGER NOT NULL,
	merchant_id     TEXT NOT NULL,
	seller_card_id  TEXT NOT NULL,
	payer_card_id   TEXT NOT NULL,
	currency        TEXT NOT NULL,
	amount          INTEGER NOT NULL,
	lines           BLOB,
	legs            BLOB,
	request         BLOB NOT NULL,
	request_hash    BLOB NOT NULL,
	manual_capture  INTEGER NOT NULL,
	expires_at      INTEGER NOT NULL,
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL,
	attempt         INTEGER NOT NULL,
	consent         BLOB,
	consent_hash    BLOB,
	hold_expires_at INTEGER NOT NULL,
	capture_amount  INTEGER NOT NULL,
	captured        INTEGER NOT NULL,
	refunded        INTEGER NOT NULL,
	void_to         TEXT NOT NULL,
	receipt         BLOB,
	settled_at      INTEGER NOT NULL,
	due_at          INTEGER NOT NULL
) STRICT;
CREATE INDEX payflow_payments_due ON payflow_payments (state, due_at);

CREATE TABLE payflow_refunds (
	id         BLOB PRIMARY KEY,
	request_id BLOB NOT NULL,
	state      TEXT NOT NULL,
	amount     INTEGER NOT NULL,
	currency   TEXT NOT NULL,
	request    BLOB NOT NULL,
	hash       BLOB NOT NULL,
	refunded   INTEGER NOT NULL,
	receipt    BLOB,
	created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX payflow_refunds_due ON payflow_refunds (state, created_at);

CREATE TABLE payflow_replies (
	key       TEXT PRIMARY KEY,
	body_hash BLOB NOT NULL,
	done      INTEGER NOT NULL,
	status    INTEGER NOT NULL,
	reply     BLOB,
	deadline  INTEGER NOT NULL
) STRICT;
CREATE INDEX payflow_replies_deadline ON payflow_replies (deadline);
