-- minishop membership: one program per merchant (a JSON document beside
-- next_number, which only TakeMemberNumber's guarded increment moves),
-- members (every field a column, updated under the row lock), points lots
-- and the points ledger. An entry's request_id is NULL when empty, so only
-- entries that carry one are idempotent.
-- Each statement is idempotent: MySQL commits DDL at once (see Migrate).
CREATE TABLE IF NOT EXISTS {p}member_programs (
	merchant_id BINARY(16) PRIMARY KEY,
	next_number BIGINT NOT NULL,
	version     BIGINT NOT NULL,
	updated_us  BIGINT NOT NULL,
	doc         MEDIUMTEXT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE IF NOT EXISTS {p}members (
	merchant_id BINARY(16) NOT NULL,
	customer_id VARCHAR(128) NOT NULL,
	number      BIGINT NOT NULL,
	level       BIGINT NOT NULL,
	experience  BIGINT NOT NULL,
	available   BIGINT NOT NULL,
	pending     BIGINT NOT NULL,
	debt        BIGINT NOT NULL,
	next_review_us BIGINT NULL,
	review_exp  BIGINT NOT NULL DEFAULT 0,
	version     BIGINT NOT NULL,
	joined_us   BIGINT NOT NULL,
	updated_us  BIGINT NOT NULL,
	PRIMARY KEY (merchant_id, customer_id),
	INDEX {p}members_review (next_review_us)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE IF NOT EXISTS {p}member_lots (
	id          BINARY(16) PRIMARY KEY,
	merchant_id BINARY(16) NOT NULL,
	customer_id VARCHAR(128) NOT NULL,
	order_id    BINARY(16) NULL,
	points      BIGINT NOT NULL,
	left_points BIGINT NOT NULL,
	pending     SMALLINT NOT NULL,
	expires_us  BIGINT NULL,
	expired     SMALLINT NOT NULL,
	reminded    SMALLINT NOT NULL DEFAULT 0,
	created_us  BIGINT NOT NULL,
	INDEX {p}member_lots_member (merchant_id, customer_id),
	INDEX {p}member_lots_order (merchant_id, order_id),
	INDEX {p}member_lots_due (expired, pending, expires_us)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE IF NOT EXISTS {p}member_entries (
	id             BINARY(16) PRIMARY KEY,
	merchant_id    BINARY(16) NOT NULL,
	customer_id    VARCHAR(128) NOT NULL,
	kind           VARCHAR(32) NOT NULL,
	points         BIGINT NOT NULL,
	pending_points BIGINT NOT NULL,
	balance        BIGINT NOT NULL,
	request_id     VARCHAR(128) NULL,
	order_id       BINARY(16) NULL,
	time_us        BIGINT NOT NULL,
	doc            MEDIUMTEXT NOT NULL,
	UNIQUE INDEX {p}member_entries_request (merchant_id, customer_id, request_id),
	INDEX {p}member_entries_member (merchant_id, customer_id, id),
	INDEX {p}member_entries_order (merchant_id, order_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
