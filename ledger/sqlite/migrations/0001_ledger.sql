-- The ledger's tables. IDs are 16-byte big-endian BLOBs, so byte order is
-- numeric order. Amounts, balances and timestamps are at most 2^63-1 by the
-- ledger's rules; user_data_64 keeps the int64 with the same 64 bits.

CREATE TABLE ledger_state (
	id             INTEGER PRIMARY KEY CHECK (id = 1),
	last_timestamp INTEGER NOT NULL CHECK (last_timestamp >= 0)
) STRICT;
INSERT INTO ledger_state (id, last_timestamp) VALUES (1, 0);

CREATE TABLE accounts (
	id              BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
	debits_pending  INTEGER NOT NULL CHECK (debits_pending >= 0),
	debits_posted   INTEGER NOT NULL CHECK (debits_posted >= 0),
	credits_pending INTEGER NOT NULL CHECK (credits_pending >= 0),
	credits_posted  INTEGER NOT NULL CHECK (credits_posted >= 0),
	user_data_128   BLOB    NOT NULL CHECK (length(user_data_128) = 16),
	user_data_64    INTEGER NOT NULL,
	user_data_32    INTEGER NOT NULL CHECK (user_data_32 BETWEEN 0 AND 4294967295),
	ledger          INTEGER NOT NULL CHECK (ledger BETWEEN 0 AND 4294967295),
	code            INTEGER NOT NULL CHECK (code BETWEEN 0 AND 65535),
	flags           INTEGER NOT NULL CHECK (flags BETWEEN 0 AND 65535),
	timestamp       INTEGER NOT NULL CHECK (timestamp >= 0)
) STRICT, WITHOUT ROWID;

-- Transfers are keyed in the table by their timestamp (unique, assigned in
-- increasing order), so new rows append at the end of the B-tree; the ID,
-- the idempotency key, has its own unique index.
CREATE TABLE transfers (
	timestamp         INTEGER PRIMARY KEY CHECK (timestamp >= 0),
	id                BLOB    NOT NULL UNIQUE CHECK (length(id) = 16),
	debit_account_id  BLOB    NOT NULL REFERENCES accounts (id) DEFERRABLE INITIALLY DEFERRED,
	credit_account_id BLOB    NOT NULL REFERENCES accounts (id) DEFERRABLE INITIALLY DEFERRED,
	amount            INTEGER NOT NULL CHECK (amount >= 0),
	pending_id        BLOB    NOT NULL CHECK (length(pending_id) = 16),
	user_data_128     BLOB    NOT NULL CHECK (length(user_data_128) = 16),
	user_data_64      INTEGER NOT NULL,
	user_data_32      INTEGER NOT NULL CHECK (user_data_32 BETWEEN 0 AND 4294967295),
	timeout           INTEGER NOT NULL CHECK (timeout BETWEEN 0 AND 4294967295),
	ledger            INTEGER NOT NULL CHECK (ledger BETWEEN 0 AND 4294967295),
	code              INTEGER NOT NULL CHECK (code BETWEEN 0 AND 65535),
	flags             INTEGER NOT NULL CHECK (flags BETWEEN 0 AND 65535)
) STRICT;
CREATE INDEX transfers_debit ON transfers (debit_account_id, timestamp);
CREATE INDEX transfers_credit ON transfers (credit_account_id, timestamp);

-- The state of each pending transfer (status values: ledger.PendingStatus).
CREATE TABLE pending (
	id         BLOB    NOT NULL PRIMARY KEY REFERENCES transfers (id) DEFERRABLE INITIALLY DEFERRED,
	status     INTEGER NOT NULL CHECK (status BETWEEN 1 AND 4),
	expires_at INTEGER NOT NULL CHECK (expires_at >= 0)
) STRICT, WITHOUT ROWID;
CREATE INDEX pending_expiry ON pending (expires_at, id) WHERE status = 1 AND expires_at > 0;

-- Transfer IDs that failed with a transient result: they stay failed.
CREATE TABLE failed_transfers (
	id        BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
	result    INTEGER NOT NULL CHECK (result BETWEEN 1 AND 255),
	timestamp INTEGER NOT NULL CHECK (timestamp >= 0)
) STRICT, WITHOUT ROWID;

-- Balances after each change of accounts with the history flag.
CREATE TABLE account_balances (
	account_id      BLOB    NOT NULL REFERENCES accounts (id) DEFERRABLE INITIALLY DEFERRED,
	timestamp       INTEGER NOT NULL CHECK (timestamp >= 0),
	debits_pending  INTEGER NOT NULL CHECK (debits_pending >= 0),
	debits_posted   INTEGER NOT NULL CHECK (debits_posted >= 0),
	credits_pending INTEGER NOT NULL CHECK (credits_pending >= 0),
	credits_posted  INTEGER NOT NULL CHECK (credits_posted >= 0),
	PRIMARY KEY (account_id, timestamp)
) STRICT, WITHOUT ROWID;
