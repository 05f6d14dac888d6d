-- minishop membership: one program per merchant (a JSON document beside
-- next_number, which only TakeMemberNumber's guarded increment moves),
-- members (every field a column, updated under the row lock), points lots
-- and the points ledger. An entry's request_id is NULL when empty, so only
-- entries that carry one are idempotent. Members' customer_id sorts by
-- bytes (COLLATE "C"), as ListMembers pages on it the same on every store.
CREATE TABLE IF NOT EXISTS {p}member_programs (
	merchant_id UUID PRIMARY KEY,
	next_number BIGINT NOT NULL,
	version     BIGINT NOT NULL,
	updated_us  BIGINT NOT NULL,
	doc         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS {p}members (
	merchant_id UUID NOT NULL,
	customer_id TEXT COLLATE "C" NOT NULL,
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
	PRIMARY KEY (merchant_id, customer_id)
);
CREATE INDEX IF NOT EXISTS {p}members_review ON {p}members (next_review_us);
CREATE TABLE IF NOT EXISTS {p}member_lots (
	id          UUID PRIMARY KEY,
	merchant_id UUID NOT NULL,
	customer_id TEXT NOT NULL,
	order_id    UUID NULL,
	points      BIGINT NOT NULL,
	left_points BIGINT NOT NULL,
	pending     SMALLINT NOT NULL,
	expires_us  BIGINT NULL,
	expired     SMALLINT NOT NULL,
	reminded    SMALLINT NOT NULL DEFAULT 0,
	created_us  BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS {p}member_lots_member ON {p}member_lots (merchant_id, customer_id);
CREATE INDEX IF NOT EXISTS {p}member_lots_order ON {p}member_lots (merchant_id, order_id);
CREATE INDEX IF NOT EXISTS {p}member_lots_due ON {p}member_lots (expired, pending, expires_us);
CREATE TABLE IF NOT EXISTS {p}member_entries (
	id             UUID PRIMARY KEY,
	merchant_id    UUID NOT NULL,
	customer_id    TEXT NOT NULL,
	kind           TEXT NOT NULL,
	points         BIGINT NOT NULL,
	pending_points BIGINT NOT NULL,
	balance        BIGINT NOT NULL,
	request_id     TEXT NULL,
	order_id       UUID NULL,
	time_us        BIGINT NOT NULL,
	doc            TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS {p}member_entries_request ON {p}member_entries (merchant_id, customer_id, request_id);
CREATE INDEX IF NOT EXISTS {p}member_entries_member ON {p}member_entries (merchant_id, customer_id, id);
CREATE INDEX IF NOT EXISTS {p}member_entries_order ON {p}member_entries (merchant_id, order_id);
