-- A refund's due_at holds the later of created_at and deferred_to (in
-- nanoseconds since 1970), the time from which the recovery sweep finds
-- it while pending, so that the sweep reads the due pending refunds from
-- an index in the order it takes them (due time, then id) rather than
-- sorting all of them.
ALTER TABLE payflow_refunds ADD COLUMN due_at BIGINT NOT NULL DEFAULT 0;
UPDATE payflow_refunds SET due_at = GREATEST(created_at, deferred_to);
DROP INDEX payflow_refunds_due;
CREATE INDEX payflow_refunds_due ON payflow_refunds (state, due_at, id);
