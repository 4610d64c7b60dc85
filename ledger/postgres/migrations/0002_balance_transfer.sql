-- Each balance history row names the transfer whose event it follows: the
-- transfer created at its timestamp or, for the release of an expired
-- pending transfer, that pending transfer. GetAccountBalances matches its
-- filter (side, user data, code) against this transfer. Rows written
-- before this migration are given the transfer at their timestamp; the
-- release rows among them have none and keep transfer_id NULL, which
-- every filter matches, as before.
ALTER TABLE account_balances ADD COLUMN transfer_id bytea
	REFERENCES transfers (id) DEFERRABLE INITIALLY DEFERRED CHECK (length(transfer_id) = 16);
UPDATE account_balances AS b SET transfer_id = t.id FROM transfers AS t WHERE t.timestamp = b.timestamp;
