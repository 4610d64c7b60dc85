-- A seller card's pairing proof also marks the payment requests of its
-- session whose approval is under way, so that a hold the ledger then
-- refuses ends them cancelled rather than pending (Accept with
-- CancelPending): the index of a session's pending requests holds these
-- too.
DROP INDEX payflow_payments_pending_session;
CREATE INDEX payflow_payments_pending_session ON payflow_payments (session_id) WHERE state IN ('pending', 'approving');
