-- minishop gifting: how many slots of each group gift or lottery are free.
-- Claims decrement it under its row lock, one after the other, so each
-- sees an exact count: the claim of the last slot, and only it, sees 0.
-- Gifts stored before this migration get theirs from their slots.
CREATE TABLE IF NOT EXISTS {p}gift_slot_counts (
	gift_id BLOB PRIMARY KEY,
	free    INTEGER NOT NULL
);
INSERT INTO {p}gift_slot_counts (gift_id, free)
	SELECT gift_id, SUM(CASE WHEN claimer IS NULL THEN 1 ELSE 0 END) FROM {p}gift_slots WHERE true GROUP BY gift_id
	ON CONFLICT (gift_id) DO NOTHING;
