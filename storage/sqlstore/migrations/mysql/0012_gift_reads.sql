-- minishop gifting: the reads a giver's and a recipient's gift lists make,
-- a page at a time in id order: gifts by giver, accepted one-friend gifts
-- by recipient, and the slots a claimer holds across gifts.
-- An index that exists already counts as created (see Migrate), so each
-- statement is idempotent.
CREATE INDEX {p}gifts_giver ON {p}gifts (merchant_id, giver, id);
CREATE INDEX {p}gifts_recipient ON {p}gifts (merchant_id, recipient, id);
CREATE INDEX {p}gift_slots_held ON {p}gift_slots (merchant_id, claimer, gift_id);
