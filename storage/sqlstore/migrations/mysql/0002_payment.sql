-- minishop payments: payment records with their refunds (a JSON document
-- beside indexed columns), the settlement ledger, the notification log.
-- Each statement is idempotent: MySQL commits DDL at once (see Migrate).
CREATE TABLE IF NOT EXISTS {p}payments (
	id                BINARY(16) PRIMARY KEY,
	merchant_id       BINARY(16) NOT NULL,
	order_id          BINARY(16) NOT NULL,
	payment_no        VARCHAR(64) NOT NULL,
	status            VARCHAR(16) NOT NULL,
	close_at_provider SMALLINT NOT NULL,
	refund_due        SMALLINT NOT NULL,
	version           BIGINT NOT NULL,
	created_us        BIGINT NOT NULL,
	updated_us        BIGINT NOT NULL,
	doc               MEDIUMTEXT NOT NULL,
	UNIQUE KEY {p}payments_no (payment_no),
	INDEX {p}payments_order (merchant_id, order_id),
	INDEX {p}payments_close (close_at_provider),
	INDEX {p}payments_refund (refund_due)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE IF NOT EXISTS {p}payment_ledger (
	id           BINARY(16) PRIMARY KEY,
	merchant_id  BINARY(16) NOT NULL,
	order_id     BINARY(16) NOT NULL,
	payment_id   BINARY(16) NOT NULL,
	ref          VARCHAR(64) NOT NULL,
	party        VARCHAR(32) NOT NULL,
	amount_minor BIGINT NOT NULL,
	currency     CHAR(3) NOT NULL,
	time_us      BIGINT NOT NULL,
	INDEX {p}payment_ledger_order (merchant_id, order_id, time_us)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE IF NOT EXISTS {p}payment_notifications (
	id              BINARY(16) PRIMARY KEY,
	provider        VARCHAR(64) NOT NULL,
	notification_id VARCHAR(128) NOT NULL,
	kind            VARCHAR(16) NOT NULL,
	event_type      VARCHAR(64) NOT NULL,
	payment_no      VARCHAR(64) NOT NULL,
	refund_no       VARCHAR(64) NOT NULL,
	outcome         VARCHAR(16) NOT NULL,
	reason          TEXT NOT NULL,
	time_us         BIGINT NOT NULL,
	INDEX {p}payment_notifications_no (payment_no, time_us)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
