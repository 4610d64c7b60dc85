-- A failed refund keeps the error code of the ledger's refusal
-- (insufficient_funds or over_limit), so that the same refund sent again is
-- answered as it was the first time.
ALTER TABLE payflow_refunds ADD COLUMN failure TEXT NOT NULL DEFAULT '';
