-- No two cards share an advertising secret: an EID derived from it would
-- resolve to either card. Migrating a database that holds two such cards
-- fails on this index; one of them must first be enrolled again with a
-- secret of its own.
CREATE UNIQUE INDEX payflow_cards_adv_secret ON payflow_cards (adv_secret);
