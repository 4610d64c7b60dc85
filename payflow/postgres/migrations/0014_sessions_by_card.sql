-- The sessions of a card, as the shopper card and as the seller card, are
-- found through these indexes when the card is enrolled again with
-- another certificate or advertising secret, which deletes them, rather
-- than by reading every session.
CREATE INDEX payflow_sessions_shopper ON payflow_sessions (shopper_card_id);
CREATE INDEX payflow_sessions_seller ON payflow_sessions (seller_card_id);
