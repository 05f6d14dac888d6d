-- minishop coupons: batches (a JSON document beside the indexed columns the
-- guarded updates use), per-customer claim counters, claimed coupons and
-- unique claim codes. Counters and states live in columns: TakeClaim,
-- RedeemCoupon, ReleaseCoupon and TakeCode are single guarded updates.
-- Each statement is idempotent: MySQL commits DDL at once (see Migrate).
CREATE TABLE IF NOT EXISTS {p}coupon_batches (
	id          BINARY(16) PRIMARY KEY,
	merchant_id BINARY(16) NOT NULL,
	status      VARCHAR(16) NOT NULL,
	claimed     BIGINT NOT NULL,
	total       BIGINT NOT NULL,
	per_person  BIGINT NOT NULL,
	version     BIGINT NOT NULL,
	created_us  BIGINT NOT NULL,
	updated_us  BIGINT NOT NULL,
	doc         MEDIUMTEXT NOT NULL,
	INDEX {p}coupon_batches_merchant (merchant_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE IF NOT EXISTS {p}coupon_claims (
	batch_id    BINARY(16) NOT NULL,
	customer_id VARCHAR(128) NOT NULL,
	merchant_id BINARY(16) NOT NULL,
	n           BIGINT NOT NULL,
	PRIMARY KEY (batch_id, customer_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE IF NOT EXISTS {p}coupons (
	id             BINARY(16) PRIMARY KEY,
	merchant_id    BINARY(16) NOT NULL,
	batch_id       BINARY(16) NOT NULL,
	customer_id    VARCHAR(128) NOT NULL,
	status         VARCHAR(16) NOT NULL,
	valid_until_us BIGINT NOT NULL,
	reminded       SMALLINT NOT NULL,
	request_id     VARCHAR(128) NULL,
	grp            VARCHAR(128) NOT NULL,
	order_id       BINARY(16) NULL,
	used_at_us     BIGINT NULL,
	version        BIGINT NOT NULL,
	doc            MEDIUMTEXT NOT NULL,
	UNIQUE INDEX {p}coupons_request (batch_id, customer_id, request_id),
	INDEX {p}coupons_customer (customer_id, status, valid_until_us),
	INDEX {p}coupons_due (status, valid_until_us),
	INDEX {p}coupons_remind (status, reminded, valid_until_us)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE IF NOT EXISTS {p}coupon_codes (
	code        VARCHAR(64) PRIMARY KEY,
	merchant_id BINARY(16) NOT NULL,
	batch_id    BINARY(16) NOT NULL,
	coupon_id   BINARY(16) NULL,
	INDEX {p}coupon_codes_batch (merchant_id, batch_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
