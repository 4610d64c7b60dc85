-- Platform state of payflow, next to the ledger's tables in one database.
-- Times are Unix nanoseconds (0 for none); IDs, hashes and signed records
-- are BLOBs; line items and legs are CBOR arrays.
CREATE TABLE payflow_cards (
	id           TEXT PRIMARY KEY,
	chain        BYTEA NOT NULL,
	adv_secret   BYTEA NOT NULL,
	display_name TEXT NOT NULL,
	merchant_id  TEXT NOT NULL DEFAULT '',
	enrolled_at  BIGINT NOT NULL
);

CREATE TABLE payflow_counters (
	card_id TEXT PRIMARY KEY,
	counter BIGINT NOT NULL
);

CREATE TABLE payflow_merchants (
	id             TEXT PRIMARY KEY,
	name           TEXT NOT NULL,
	currency       TEXT NOT NULL,
	manual_capture BIGINT NOT NULL
);

CREATE TABLE payflow_catalog (
	merchant_id TEXT NOT NULL,
	sku         TEXT NOT NULL,
	name        TEXT NOT NULL,
	unit_price  BIGINT NOT NULL,
	PRIMARY KEY (merchant_id, sku)
);

CREATE TABLE payflow_assets (
	name   TEXT PRIMARY KEY,
	ledger BIGINT NOT NULL UNIQUE
);

CREATE TABLE payflow_nonces (
	nonce      BYTEA PRIMARY KEY,
	expires_at BIGINT NOT NULL
);
CREATE INDEX payflow_nonces_expiry ON payflow_nonces (expires_at);

CREATE TABLE payflow_tokens (
	hash       BYTEA PRIMARY KEY,
	card_id    TEXT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX payflow_tokens_expiry ON payflow_tokens (expires_at);

CREATE TABLE payflow_sessions (
	id              BYTEA PRIMARY KEY,
	shopper_card_id TEXT NOT NULL,
	seller_card_id  TEXT NOT NULL,
	merchant_id     TEXT NOT NULL,
	shopper_eid     BYTEA NOT NULL,
	seller_eid      BYTEA NOT NULL,
	shopper_ok      BIGINT NOT NULL,
	seller_ok       BIGINT NOT NULL,
	expires_at      BIGINT NOT NULL
);
CREATE INDEX payflow_sessions_expiry ON payflow_sessions (expires_at);

CREATE TABLE payflow_payments (
	id              BYTEA PRIMARY KEY,
	session_id      BYTEA NOT NULL,
	state           TEXT NOT NULL,
	version         BIGINT NOT NULL,
	merchant_id     TEXT NOT NULL,
	seller_card_id  TEXT NOT NULL,
	payer_card_id   TEXT NOT NULL,
	currency        TEXT NOT NULL,
	amount          BIGINT NOT NULL,
	lines           BYTEA,
	legs            BYTEA,
	request         BYTEA NOT NULL,
	request_hash    BYTEA NOT NULL,
	manual_capture  BIGINT NOT NULL,
	expires_at      BIGINT NOT NULL,
	created_at      BIGINT NOT NULL,
	updated_at      BIGINT NOT NULL,
	attempt         BIGINT NOT NULL,
	consent         BYTEA,
	consent_hash    BYTEA,
	hold_expires_at BIGINT NOT NULL,
	capture_amount  BIGINT NOT NULL,
	captured        BIGINT NOT NULL,
	refunded        BIGINT NOT NULL,
	void_to         TEXT NOT NULL,
	receipt         BYTEA,
	settled_at      BIGINT NOT NULL,
	due_at          BIGINT NOT NULL
);
CREATE INDEX payflow_payments_due ON payflow_payments (state, due_at);

CREATE TABLE payflow_refunds (
	id         BYTEA PRIMARY KEY,
	request_id BYTEA NOT NULL,
	state      TEXT NOT NULL,
	amount     BIGINT NOT NULL,
	currency   TEXT NOT NULL,
	request    BYTEA NOT NULL,
	hash       BYTEA NOT NULL,
	refunded   BIGINT NOT NULL,
	receipt    BYTEA,
	created_at BIGINT NOT NULL
);
CREATE INDEX payflow_refunds_due ON payflow_refunds (state, created_at);

CREATE TABLE payflow_replies (
	key       TEXT PRIMARY KEY,
	body_hash BYTEA NOT NULL,
	done      BIGINT NOT NULL,
	status    BIGINT NOT NULL,
	reply     BYTEA,
	deadline  BIGINT NOT NULL
);
CREATE INDEX payflow_replies_deadline ON payflow_replies (deadline);
