-- minishop gifting: one gift per order of a merchant. The document holds
-- the whole gift, and the columns the store filters and locks on (status,
-- expires_us, refunded, recipient, version) are the truth when reading.
-- expires_us is NULL until the gift is sent.
-- Each statement is idempotent: MySQL commits DDL at once (see Migrate).
CREATE TABLE IF NOT EXISTS {p}gifts (
	id          BINARY(16) PRIMARY KEY,
	merchant_id BINARY(16) NOT NULL,
	order_id    BINARY(16) NOT NULL,
	giver       VARCHAR(128) NOT NULL,
	recipient   VARCHAR(128) NOT NULL,
	status      VARCHAR(32) NOT NULL,
	expires_us  BIGINT NULL,
	refunded    SMALLINT NOT NULL,
	version     BIGINT NOT NULL,
	created_us  BIGINT NOT NULL,
	doc         MEDIUMTEXT NOT NULL,
	UNIQUE INDEX {p}gifts_order (merchant_id, order_id),
	INDEX {p}gifts_due (status, expires_us)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
