-- A settlement or refund whose recovery failed is deferred (its due time
-- moved later, in nanoseconds since 1970; 0: not deferred), so that the
-- recovery sweep reaches the others meanwhile. A payment's due_at holds
-- the later of updated_at and deferred_to while its settlement is under
-- way; a pending refund is due at the later of created_at and
-- deferred_to.
ALTER TABLE payflow_payments ADD COLUMN deferred_to BIGINT NOT NULL DEFAULT 0;
ALTER TABLE payflow_refunds ADD COLUMN deferred_to BIGINT NOT NULL DEFAULT 0;
