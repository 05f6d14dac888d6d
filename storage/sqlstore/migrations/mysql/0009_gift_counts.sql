-- minishop gifting: gift_counts replaces gift_slot_counts (left in place,
-- unused: a new table rather than an added column keeps this migration
-- idempotent on MySQL, which has no ADD COLUMN IF NOT EXISTS). free is the
-- number of free slots, which claims decrement; gen is bumped by every
-- UpdateGift of a group gift or lottery. Claims and gift updates (expiry,
-- closing) thus both WRITE this row, so on a Galera cluster, where row
-- locks hold only on their own node and certification compares only the
-- rows two transactions write, a claim and an expiry on different nodes
-- conflict and one of them is rolled back and retried.
-- Each statement is idempotent: MySQL commits DDL at once (see Migrate).
CREATE TABLE IF NOT EXISTS {p}gift_counts (
	gift_id BINARY(16) PRIMARY KEY,
	free    INT NOT NULL,
	gen     BIGINT NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
INSERT INTO {p}gift_counts (gift_id, free)
	SELECT gift_id, free FROM {p}gift_slot_counts
	ON DUPLICATE KEY UPDATE {p}gift_counts.free = {p}gift_counts.free;
