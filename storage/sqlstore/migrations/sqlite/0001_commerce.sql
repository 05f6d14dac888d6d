-- minishop commerce kernel: shops, catalog, stock, carts, orders, outbox.
-- Times are Unix microseconds (UTC); amounts are integer minor units next to
-- an ISO 4217 code; IDs are 16-byte UUIDs; documents are JSON text.
CREATE TABLE IF NOT EXISTS {p}merchants (
	id         BLOB PRIMARY KEY,
	currency   TEXT NOT NULL,
	doc        TEXT NOT NULL,
	created_us INTEGER NOT NULL,
	updated_us INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS {p}products (
	id          BLOB PRIMARY KEY,
	merchant_id BLOB NOT NULL,
	title       TEXT NOT NULL,
	description TEXT NOT NULL,
	category    TEXT NOT NULL,
	pictures    TEXT NOT NULL,
	state       TEXT NOT NULL,
	created_us  INTEGER NOT NULL,
	updated_us  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS {p}products_merchant ON {p}products (merchant_id, id);
CREATE TABLE IF NOT EXISTS {p}skus (
	id             BLOB PRIMARY KEY,
	product_id     BLOB NOT NULL,
	merchant_id    BLOB NOT NULL,
	position       INTEGER NOT NULL,
	attributes     TEXT NOT NULL,
	price_minor    INTEGER NOT NULL,
	currency       TEXT NOT NULL,
	stock          INTEGER NOT NULL,
	purchase_limit INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS {p}skus_product ON {p}skus (product_id, position);
CREATE TABLE IF NOT EXISTS {p}purchases (
	merchant_id BLOB NOT NULL,
	customer_id TEXT NOT NULL,
	sku_id      BLOB NOT NULL,
	quantity    INTEGER NOT NULL,
	PRIMARY KEY (merchant_id, customer_id, sku_id)
);
CREATE TABLE IF NOT EXISTS {p}carts (
	merchant_id BLOB NOT NULL,
	customer_id TEXT NOT NULL,
	cart_lines  TEXT NOT NULL,
	updated_us  INTEGER NOT NULL,
	PRIMARY KEY (merchant_id, customer_id)
);
CREATE TABLE IF NOT EXISTS {p}orders (
	id              BLOB PRIMARY KEY,
	merchant_id     BLOB NOT NULL,
	customer_id     TEXT NOT NULL,
	status          TEXT NOT NULL,
	idempotency_key TEXT NOT NULL,
	currency        TEXT NOT NULL,
	total_minor     INTEGER NOT NULL,
	due_us          INTEGER,
	created_us      INTEGER NOT NULL,
	updated_us      INTEGER NOT NULL,
	version         INTEGER NOT NULL,
	doc             TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS {p}orders_key ON {p}orders (merchant_id, customer_id, idempotency_key);
CREATE INDEX IF NOT EXISTS {p}orders_merchant ON {p}orders (merchant_id, id);
CREATE INDEX IF NOT EXISTS {p}orders_due ON {p}orders (status, due_us);
CREATE TABLE IF NOT EXISTS {p}events (
	id           BLOB PRIMARY KEY,
	seq          INTEGER UNIQUE,
	type         TEXT NOT NULL,
	aggregate_id TEXT NOT NULL,
	merchant_id  BLOB NOT NULL,
	payload      TEXT NOT NULL,
	time_us      INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS {p}outbox_state (
	name     TEXT PRIMARY KEY,
	last_seq INTEGER NOT NULL
);
INSERT INTO {p}outbox_state (name, last_seq) VALUES ('seq', 0) ON CONFLICT (name) DO NOTHING;
CREATE TABLE IF NOT EXISTS {p}cursors (
	consumer TEXT PRIMARY KEY,
	seq      INTEGER NOT NULL
);
