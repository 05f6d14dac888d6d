-- minishop coupons: batches (a JSON document beside the indexed columns the
-- guarded updates use), per-customer claim counters, claimed coupons and
-- unique claim codes. Counters and states live in columns: TakeClaim,
-- RedeemCoupon, ReleaseCoupon and TakeCode are single guarded updates.
CREATE TABLE IF NOT EXISTS {p}coupon_batches (
	id          UUID PRIMARY KEY,
	merchant_id UUID NOT NULL,
	status      TEXT NOT NULL,
	claimed     BIGINT NOT NULL,
	total       BIGINT NOT NULL,
	per_person  BIGINT NOT NULL,
	version     BIGINT NOT NULL,
	created_us  BIGINT NOT NULL,
	updated_us  BIGINT NOT NULL,
	doc         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS {p}coupon_batches_merchant ON {p}coupon_batches (merchant_id, id);
CREATE TABLE IF NOT EXISTS {p}coupon_claims (
	batch_id    UUID NOT NULL,
	customer_id TEXT NOT NULL,
	merchant_id UUID NOT NULL,
	n           BIGINT NOT NULL,
	PRIMARY KEY (batch_id, customer_id)
);
CREATE TABLE IF NOT EXISTS {p}coupons (
	id             UUID PRIMARY KEY,
	merchant_id    UUID NOT NULL,
	batch_id       UUID NOT NULL,
	customer_id    TEXT NOT NULL,
	status         TEXT NOT NULL,
	valid_until_us BIGINT NOT NULL,
	reminded       SMALLINT NOT NULL,
	request_id     TEXT NULL,
	grp            TEXT NOT NULL,
	order_id       UUID NULL,
	used_at_us     BIGINT NULL,
	version        BIGINT NOT NULL,
	doc            TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS {p}coupons_request ON {p}coupons (batch_id, customer_id, request_id);
CREATE INDEX IF NOT EXISTS {p}coupons_customer ON {p}coupons (customer_id, status, valid_until_us);
CREATE INDEX IF NOT EXISTS {p}coupons_due ON {p}coupons (status, valid_until_us);
CREATE INDEX IF NOT EXISTS {p}coupons_remind ON {p}coupons (status, reminded, valid_until_us);
CREATE TABLE IF NOT EXISTS {p}coupon_codes (
	code        TEXT PRIMARY KEY,
	merchant_id UUID NOT NULL,
	batch_id    UUID NOT NULL,
	coupon_id   UUID NULL
);
CREATE INDEX IF NOT EXISTS {p}coupon_codes_batch ON {p}coupon_codes (merchant_id, batch_id);
