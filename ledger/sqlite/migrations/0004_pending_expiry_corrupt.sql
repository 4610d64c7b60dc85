-- The index that the expiry sweep reads holds the active pending states
-- whose expiry time reads negative too: the bits of one above
-- ledger.TimestampLimit, which the ledger never writes (a row changed
-- beside the store). They sort before every other, so that the sweep
-- meets them first and fails with ledger.ErrCorrupt, where the index on
-- expires_at > 0 left them out and their amounts held for good.
DROP INDEX pending_expiry;
CREATE INDEX pending_expiry ON pending (expires_at, timestamp) WHERE status = 1 AND expires_at <> 0;
