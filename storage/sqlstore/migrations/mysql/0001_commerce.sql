-- minishop commerce kernel: shops, catalog, stock, carts, orders, outbox.
-- Times are Unix microseconds (UTC); amounts are integer minor units next to
-- an ISO 4217 code; IDs are BINARY(16) UUIDs; documents are JSON text.
-- Text is utf8mb4 with a binary collation: keys and customer IDs compare
-- exactly, as on the other databases. Every statement is idempotent because
-- MySQL commits DDL at once: two processes migrating together both succeed.
CREATE TABLE IF NOT EXISTS {p}merchants (
	id         BINARY(16) PRIMARY KEY,
	currency   CHAR(3) NOT NULL,
	doc        MEDIUMTEXT NOT NULL,
	created_us BIGINT NOT NULL,
	updated_us BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE IF NOT EXISTS {p}products (
	id          BINARY(16) PRIMARY KEY,
	merchant_id BINARY(16) NOT NULL,
	title       VARCHAR(255) NOT NULL,
	description TEXT NOT NULL,
	category    VARCHAR(255) NOT NULL,
	pictures    MEDIUMTEXT NOT NULL,
	state       VARCHAR(16) NOT NULL,
	created_us  BIGINT NOT NULL,
	updated_us  BIGINT NOT NULL,
	INDEX {p}products_merchant (merchant_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE IF NOT EXISTS {p}skus (
	id             BINARY(16) PRIMARY KEY,
	product_id     BINARY(16) NOT NULL,
	merchant_id    BINARY(16) NOT NULL,
	position       INT NOT NULL,
	attributes     TEXT NOT NULL,
	price_minor    BIGINT NOT NULL,
	currency       CHAR(3) NOT NULL,
	stock          BIGINT NOT NULL,
	purchase_limit BIGINT NOT NULL,
	INDEX {p}skus_product (product_id, position)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE IF NOT EXISTS {p}purchases (
	merchant_id BINARY(16) NOT NULL,
	customer_id VARCHAR(128) NOT NULL,
	sku_id      BINARY(16) NOT NULL,
	quantity    BIGINT NOT NULL,
	PRIMARY KEY (merchant_id, customer_id, sku_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE IF NOT EXISTS {p}carts (
	merchant_id BINARY(16) NOT NULL,
	customer_id VARCHAR(128) NOT NULL,
	cart_lines  MEDIUMTEXT NOT NULL,
	updated_us  BIGINT NOT NULL,
	PRIMARY KEY (merchant_id, customer_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE IF NOT EXISTS {p}orders (
	id              BINARY(16) PRIMARY KEY,
	merchant_id     BINARY(16) NOT NULL,
	customer_id     VARCHAR(128) NOT NULL,
	status          VARCHAR(32) NOT NULL,
	idempotency_key VARCHAR(128) NOT NULL,
	currency        CHAR(3) NOT NULL,
	total_minor     BIGINT NOT NULL,
	due_us          BIGINT NULL,
	created_us      BIGINT NOT NULL,
	updated_us      BIGINT NOT NULL,
	version         BIGINT NOT NULL,
	doc             MEDIUMTEXT NOT NULL,
	UNIQUE INDEX {p}orders_key (merchant_id, customer_id, idempotency_key),
	INDEX {p}orders_merchant (merchant_id, id),
	INDEX {p}orders_due (status, due_us)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE IF NOT EXISTS {p}events (
	id           BINARY(16) PRIMARY KEY,
	seq          BIGINT NULL,
	type         VARCHAR(64) NOT NULL,
	aggregate_id VARCHAR(64) NOT NULL,
	merchant_id  BINARY(16) NOT NULL,
	payload      MEDIUMTEXT NOT NULL,
	time_us      BIGINT NOT NULL,
	UNIQUE INDEX {p}events_seq (seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE IF NOT EXISTS {p}outbox_state (
	name     VARCHAR(32) PRIMARY KEY,
	last_seq BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
INSERT INTO {p}outbox_state (name, last_seq) VALUES ('seq', 0) ON DUPLICATE KEY UPDATE name = name;
CREATE TABLE IF NOT EXISTS {p}cursors (
	consumer VARCHAR(128) PRIMARY KEY,
	seq      BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
