-- A refund's version is incremented by every write of it after its
-- insert, which its compare-and-set checks: a pending refund changes
-- while it stays pending (its deferral by the recovery sweep), so its
-- state alone does not tell that it was written since it was read. The
-- refunds stored before are at version 1.
ALTER TABLE payflow_refunds ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
