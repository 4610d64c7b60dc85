-- A merchant's seller cards are read (Merchant) and replaced (PutMerchant)
-- by its ID: found through this index, in card ID order byte by byte (the
-- C collation, as Merchant sorts them), rather than by reading every
-- enrolled card.
CREATE INDEX payflow_cards_merchant ON payflow_cards (merchant_id, id COLLATE "C");
