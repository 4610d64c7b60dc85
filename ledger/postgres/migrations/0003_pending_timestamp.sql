-- Pending transfers that expire at the same time are released in the
-- order they were created, as TigerBeetle releases them: each pending
-- state keeps its transfer's timestamp, and the index that the expiry
-- sweep reads orders the active states with a timeout by (expires_at,
-- timestamp), with their ID for the join with transfers. The states
-- written before this migration take the timestamp of their transfer.
ALTER TABLE pending ADD COLUMN timestamp bigint CHECK (timestamp >= 0);
UPDATE pending AS p SET timestamp = t.timestamp FROM transfers AS t WHERE t.id = p.id;
ALTER TABLE pending ALTER COLUMN timestamp SET NOT NULL;
DROP INDEX pending_expiry;
CREATE INDEX pending_expiry ON pending (expires_at, timestamp) INCLUDE (id) WHERE status = 1 AND expires_at > 0;
