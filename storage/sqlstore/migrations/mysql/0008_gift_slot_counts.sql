-- minishop gifting: how many slots of each group gift or lottery are free.
-- Claims decrement it under its row lock, one after the other, so each
-- sees an exact count: the claim of the last slot, and only it, sees 0.
-- Gifts stored before this migration get theirs from their slots.
-- Each statement is idempotent: MySQL commits DDL at once (see Migrate).
CREATE TABLE IF NOT EXISTS {p}gift_slot_counts (
	gift_id BINARY(16) PRIMARY KEY,
	free    INT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
INSERT INTO {p}gift_slot_counts (gift_id, free)
	SELECT gift_id, SUM(CASE WHEN claimer IS NULL THEN 1 ELSE 0 END) FROM {p}gift_slots GROUP BY gift_id
	ON DUPLICATE KEY UPDATE {p}gift_slot_counts.free = {p}gift_slot_counts.free;
