-- A due time of none (the zero time) is kept in due_at as the least
-- int64, -9223372036854775808, where it was 0, the Unix epoch's column
-- form: it is before every time kept (the first is in 1678) and every
-- time a listing of due rows is asked for, one before the Unix epoch
-- included, and so comes first in the index's order, as the due time it
-- stands for does. The rows whose due_at is 0 get their due time again
-- first: one taken as the greater of two times, one of them 0 (none) and
-- the other before the epoch, was 0 where it is the other.
UPDATE payflow_payments SET due_at = CASE
	WHEN state = 'pending' THEN expires_at
	WHEN state = 'held' THEN hold_expires_at
	WHEN deferred_to = 0 THEN updated_at
	WHEN updated_at = 0 THEN deferred_to
	ELSE max(updated_at, deferred_to) END
	WHERE due_at = 0;
UPDATE payflow_refunds SET due_at = CASE
	WHEN deferred_to = 0 THEN created_at
	WHEN created_at = 0 THEN deferred_to
	ELSE max(created_at, deferred_to) END
	WHERE due_at = 0;
UPDATE payflow_payments SET due_at = -9223372036854775808 WHERE due_at = 0;
UPDATE payflow_refunds SET due_at = -9223372036854775808 WHERE due_at = 0;
