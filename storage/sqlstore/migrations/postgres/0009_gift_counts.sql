-- minishop gifting: gift_counts replaces gift_slot_counts (left in place,
-- unused; a new table, as on MySQL, where adding a column cannot be made
-- idempotent, keeps the dialects alike). free is the number of free
-- slots, which claims decrement; gen is bumped by every UpdateGift of a
-- group gift or lottery. Claims and gift updates (expiry, closing) thus
-- both WRITE this row, so on a multi-primary cluster (Galera), where row
-- locks hold only on their own node and certification compares only the
-- rows two transactions write, a claim and an expiry on different nodes
-- conflict and one of them is rolled back and retried.
CREATE TABLE IF NOT EXISTS {p}gift_counts (
	gift_id UUID PRIMARY KEY,
	free    INTEGER NOT NULL,
	gen     BIGINT NOT NULL DEFAULT 0
);
INSERT INTO {p}gift_counts (gift_id, free)
	SELECT gift_id, free FROM {p}gift_slot_counts
	ON CONFLICT (gift_id) DO NOTHING;
