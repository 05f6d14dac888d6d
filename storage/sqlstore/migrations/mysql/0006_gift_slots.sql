-- minishop gifting: the slots of group gifts and lotteries, one row per
-- unit (line of the gift's order), free while claimer is NULL. NULL
-- claimers never collide in the unique index, so each claimer holds at most
-- one slot of a gift. A claim walks the primary key in line order to the
-- first free line (MySQL has no partial indexes).
-- Each statement is idempotent: MySQL commits DDL at once (see Migrate).
CREATE TABLE IF NOT EXISTS {p}gift_slots (
	gift_id     BINARY(16) NOT NULL,
	line        INT NOT NULL,
	merchant_id BINARY(16) NOT NULL,
	claimer     VARCHAR(128) NULL,
	address     TEXT NULL,
	claimed_us  BIGINT NULL,
	PRIMARY KEY (gift_id, line),
	UNIQUE INDEX {p}gift_slots_claimer (gift_id, claimer)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
