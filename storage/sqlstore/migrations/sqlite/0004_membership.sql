-- minishop membership: one program per merchant (a JSON document beside
-- next_number, which only TakeMemberNumber's guarded increment moves),
-- members (every field a column, updated under the row lock), points lots
-- and the points ledger. An entry's request_id is NULL when empty, so only
-- entries that carry one are idempotent.
CREATE TABLE IF NOT EXISTS {p}member_programs (
	merchant_id BLOB PRIMARY KEY,
	next_number INTEGER NOT NULL,
	version     INTEGER NOT NULL,
	updated_us  INTEGER NOT NULL,
	doc         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS {p}members (
	merchant_id BLOB NOT NULL,
	customer_id TEXT NOT NULL,
	number      INTEGER NOT NULL,
	level       INTEGER NOT NULL,
	experience  INTEGER NOT NULL,
	available   INTEGER NOT NULL,
	pending     INTEGER NOT NULL,
	debt        INTEGER NOT NULL,
	next_review_us INTEGER NULL,
	review_exp  INTEGER NOT NULL DEFAULT 0,
	version     INTEGER NOT NULL,
	joined_us   INTEGER NOT NULL,
	updated_us  INTEGER NOT NULL,
	PRIMARY KEY (merchant_id, customer_id)
);
CREATE INDEX IF NOT EXISTS {p}members_review ON {p}members (next_review_us);
CREATE TABLE IF NOT EXISTS {p}member_lots (
	id          BLOB PRIMARY KEY,
	merchant_id BLOB NOT NULL,
	customer_id TEXT NOT NULL,
	order_id    BLOB NULL,
	points      INTEGER NOT NULL,
	left_points INTEGER NOT NULL,
	pending     INTEGER NOT NULL,
	expires_us  INTEGER NULL,
	expired     INTEGER NOT NULL,
	reminded    INTEGER NOT NULL DEFAULT 0,
	created_us  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS {p}member_lots_member ON {p}member_lots (merchant_id, customer_id);
CREATE INDEX IF NOT EXISTS {p}member_lots_order ON {p}member_lots (merchant_id, order_id);
CREATE INDEX IF NOT EXISTS {p}member_lots_due ON {p}member_lots (expired, pending, expires_us);
CREATE TABLE IF NOT EXISTS {p}member_entries (
	id             BLOB PRIMARY KEY,
	merchant_id    BLOB NOT NULL,
	customer_id    TEXT NOT NULL,
	kind           TEXT NOT NULL,
	points         INTEGER NOT NULL,
	pending_points INTEGER NOT NULL,
	balance        INTEGER NOT NULL,
	request_id     TEXT NULL,
	order_id       BLOB NULL,
	time_us        INTEGER NOT NULL,
	doc            TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS {p}member_entries_request ON {p}member_entries (merchant_id, customer_id, request_id);
CREATE INDEX IF NOT EXISTS {p}member_entries_member ON {p}member_entries (merchant_id, customer_id, id);
CREATE INDEX IF NOT EXISTS {p}member_entries_order ON {p}member_entries (merchant_id, order_id);
