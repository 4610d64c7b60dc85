-- A seller card's pairing proof cancels the pending payment requests of
-- its session (Accept with CancelPending): they are found through this
-- index, which holds only the pending ones, rather than by reading every
-- request.
CREATE INDEX payflow_payments_pending_session ON payflow_payments (session_id) WHERE state = 'pending';
