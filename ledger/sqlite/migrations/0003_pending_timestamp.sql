-- Pending transfers that expire at the same time are released in the
-- order they were created, as TigerBeetle releases them: each pending
-- state keeps its transfer's timestamp, and the index that the expiry
-- sweep reads orders the active states with a timeout by (expires_at,
-- timestamp). The states written before this migration take the
-- timestamp of their transfer; the default serves only them, for the
-- store writes the timestamp of every state it inserts.
ALTER TABLE pending ADD COLUMN timestamp INTEGER NOT NULL DEFAULT 0 CHECK (timestamp >= 0);
UPDATE pending SET timestamp = (SELECT timestamp FROM transfers WHERE transfers.id = pending.id);
DROP INDEX pending_expiry;
CREATE INDEX pending_expiry ON pending (expires_at, timestamp) WHERE status = 1 AND expires_at > 0;
