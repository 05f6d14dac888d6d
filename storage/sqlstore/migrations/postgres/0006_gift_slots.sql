-- minishop gifting: the slots of group gifts and lotteries, one row per
-- unit (line of the gift's order), free while claimer is NULL. NULL
-- claimers never collide in the unique index, so each claimer holds at most
-- one slot of a gift. The partial index keeps the free lines of a gift in
-- order, so a claim finds the lowest at once however many are taken.
CREATE TABLE IF NOT EXISTS {p}gift_slots (
	gift_id     UUID NOT NULL,
	line        INTEGER NOT NULL,
	merchant_id UUID NOT NULL,
	claimer     TEXT NULL,
	address     TEXT NULL,
	claimed_us  BIGINT NULL,
	PRIMARY KEY (gift_id, line)
);
CREATE UNIQUE INDEX IF NOT EXISTS {p}gift_slots_claimer ON {p}gift_slots (gift_id, claimer);
CREATE INDEX IF NOT EXISTS {p}gift_slots_free ON {p}gift_slots (gift_id, line) WHERE claimer IS NULL;
