-- The pending payment requests of a card, as the seller card that signed
-- them and as the payer, are found through these partial indexes when
-- the card is enrolled again with another certificate, which cancels
-- them.
CREATE INDEX payflow_payments_pending_seller ON payflow_payments (seller_card_id) WHERE state = 'pending';
CREATE INDEX payflow_payments_pending_payer ON payflow_payments (payer_card_id) WHERE state = 'pending';
