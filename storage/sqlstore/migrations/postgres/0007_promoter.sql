-- minishop promoter: agencies, promoters, merchants' sharers (with a
-- per-merchant counter row that BindSharer's guarded increment holds to the
-- cap), promotion plans by product, customer locks and commissions. The
-- documents hold whole records; the columns the store keys, filters and
-- locks on (status, version) are the truth when reading.
CREATE TABLE IF NOT EXISTS {p}agencies (
	id         UUID PRIMARY KEY,
	version    BIGINT NOT NULL,
	created_us BIGINT NOT NULL,
	doc        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS {p}promoters (
	id         UUID PRIMARY KEY,
	agency_id  UUID NULL,
	version    BIGINT NOT NULL,
	created_us BIGINT NOT NULL,
	doc        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS {p}promoter_sharers (
	merchant_id UUID NOT NULL,
	promoter_id UUID NOT NULL,
	bound_us    BIGINT NOT NULL,
	PRIMARY KEY (merchant_id, promoter_id)
);
CREATE TABLE IF NOT EXISTS {p}promoter_sharer_counts (
	merchant_id UUID PRIMARY KEY,
	bound       INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS {p}promoter_plans (
	merchant_id UUID NOT NULL,
	product_id  UUID NOT NULL,
	version     BIGINT NOT NULL,
	updated_us  BIGINT NOT NULL,
	doc         TEXT NOT NULL,
	PRIMARY KEY (merchant_id, product_id)
);
CREATE TABLE IF NOT EXISTS {p}promoter_locks (
	merchant_id UUID NOT NULL,
	customer_id TEXT NOT NULL,
	promoter_id UUID NOT NULL,
	until_us    BIGINT NOT NULL,
	PRIMARY KEY (merchant_id, customer_id)
);
CREATE TABLE IF NOT EXISTS {p}commissions (
	id          UUID PRIMARY KEY,
	merchant_id UUID NOT NULL,
	order_id    UUID NOT NULL,
	line        INTEGER NOT NULL,
	promoter_id UUID NOT NULL,
	agency_id   UUID NULL,
	status      INTEGER NOT NULL,
	created_us  BIGINT NOT NULL,
	version     BIGINT NOT NULL,
	doc         TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS {p}commissions_line ON {p}commissions (merchant_id, order_id, line);
CREATE INDEX IF NOT EXISTS {p}commissions_promoter ON {p}commissions (promoter_id, created_us);
CREATE INDEX IF NOT EXISTS {p}commissions_agency ON {p}commissions (agency_id, created_us);
