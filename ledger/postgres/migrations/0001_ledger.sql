-- The ledger's tables. IDs are 16-byte big-endian bytea, so byte order is
-- numeric order. Amounts, balances and timestamps are at most 2^63-1 by the
-- ledger's rules; user_data_64 keeps the bigint with the same 64 bits.
-- No sequences and no serial keys: every key comes from the ledger.

CREATE TABLE ledger_state (
	id             integer PRIMARY KEY CHECK (id = 1),
	last_timestamp bigint  NOT NULL CHECK (last_timestamp >= 0)
);
INSERT INTO ledger_state (id, last_timestamp) VALUES (1, 0);

CREATE TABLE accounts (
	id              bytea   PRIMARY KEY CHECK (length(id) = 16),
	debits_pending  bigint  NOT NULL CHECK (debits_pending >= 0),
	debits_posted   bigint  NOT NULL CHECK (debits_posted >= 0),
	credits_pending bigint  NOT NULL CHECK (credits_pending >= 0),
	credits_posted  bigint  NOT NULL CHECK (credits_posted >= 0),
	user_data_128   bytea   NOT NULL CHECK (length(user_data_128) = 16),
	user_data_64    bigint  NOT NULL,
	user_data_32    bigint  NOT NULL CHECK (user_data_32 BETWEEN 0 AND 4294967295),
	ledger          bigint  NOT NULL CHECK (ledger BETWEEN 0 AND 4294967295),
	code            integer NOT NULL CHECK (code BETWEEN 0 AND 65535),
	flags           integer NOT NULL CHECK (flags BETWEEN 0 AND 65535),
	timestamp       bigint  NOT NULL CHECK (timestamp >= 0)
);

CREATE TABLE transfers (
	id                bytea   PRIMARY KEY CHECK (length(id) = 16),
	debit_account_id  bytea   NOT NULL REFERENCES accounts (id) DEFERRABLE INITIALLY DEFERRED,
	credit_account_id bytea   NOT NULL REFERENCES accounts (id) DEFERRABLE INITIALLY DEFERRED,
	amount            bigint  NOT NULL CHECK (amount >= 0),
	pending_id        bytea   NOT NULL CHECK (length(pending_id) = 16),
	user_data_128     bytea   NOT NULL CHECK (length(user_data_128) = 16),
	user_data_64      bigint  NOT NULL,
	user_data_32      bigint  NOT NULL CHECK (user_data_32 BETWEEN 0 AND 4294967295),
	timeout           bigint  NOT NULL CHECK (timeout BETWEEN 0 AND 4294967295),
	ledger            bigint  NOT NULL CHECK (ledger BETWEEN 0 AND 4294967295),
	code              integer NOT NULL CHECK (code BETWEEN 0 AND 65535),
	flags             integer NOT NULL CHECK (flags BETWEEN 0 AND 65535),
	timestamp         bigint  NOT NULL UNIQUE CHECK (timestamp >= 0)
);
CREATE INDEX transfers_debit ON transfers (debit_account_id, timestamp);
CREATE INDEX transfers_credit ON transfers (credit_account_id, timestamp);

-- The state of each pending transfer (status values: ledger.PendingStatus).
CREATE TABLE pending (
	id         bytea    PRIMARY KEY REFERENCES transfers (id) DEFERRABLE INITIALLY DEFERRED,
	status     smallint NOT NULL CHECK (status BETWEEN 1 AND 4),
	expires_at bigint   NOT NULL CHECK (expires_at >= 0)
);
CREATE INDEX pending_expiry ON pending (expires_at, id) WHERE status = 1 AND expires_at > 0;

-- Transfer IDs that failed with a transient result: they stay failed.
CREATE TABLE failed_transfers (
	id        bytea    PRIMARY KEY CHECK (length(id) = 16),
	result    smallint NOT NULL CHECK (result BETWEEN 1 AND 255),
	timestamp bigint   NOT NULL CHECK (timestamp >= 0)
);

-- Balances after each change of accounts with the history flag.
CREATE TABLE account_balances (
	account_id      bytea  NOT NULL REFERENCES accounts (id) DEFERRABLE INITIALLY DEFERRED,
	timestamp       bigint NOT NULL CHECK (timestamp >= 0),
	debits_pending  bigint NOT NULL CHECK (debits_pending >= 0),
	debits_posted   bigint NOT NULL CHECK (debits_posted >= 0),
	credits_pending bigint NOT NULL CHECK (credits_pending >= 0),
	credits_posted  bigint NOT NULL CHECK (credits_posted >= 0),
	PRIMARY KEY (account_id, timestamp)
);
