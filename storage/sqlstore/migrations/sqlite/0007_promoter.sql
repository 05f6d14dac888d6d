-- minishop promoter: agencies, promoters, merchants' sharers (with a
-- per-merchant counter row that BindSharer's guarded increment holds to the
-- cap), promotion plans by product, customer locks and commissions. The
-- documents hold whole records; the columns the store keys, filters and
-- locks on (status, version) are the truth when reading.
CREATE TABLE IF NOT EXISTS {p}agencies (
	id         BLOB PRIMARY KEY,
	version    INTEGER NOT NULL,
	created_us INTEGER NOT NULL,
	doc        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS {p}promoters (
	id         BLOB PRIMARY KEY,
	agency_id  BLOB NULL,
	version    INTEGER NOT NULL,
	created_us INTEGER NOT NULL,
	doc        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS {p}promoter_sharers (
	merchant_id BLOB NOT NULL,
	promoter_id BLOB NOT NULL,
	bound_us    INTEGER NOT NULL,
	PRIMARY KEY (merchant_id, promoter_id)
);
CREATE TABLE IF NOT EXISTS {p}promoter_sharer_counts (
	merchant_id BLOB PRIMARY KEY,
	bound       INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS {p}promoter_plans (
	merchant_id BLOB NOT NULL,
	product_id  BLOB NOT NULL,
	version     INTEGER NOT NULL,
	updated_us  INTEGER NOT NULL,
	doc         TEXT NOT NULL,
	PRIMARY KEY (merchant_id, product_id)
);
CREATE TABLE IF NOT EXISTS {p}promoter_locks (
	merchant_id BLOB NOT NULL,
	customer_id TEXT NOT NULL,
	promoter_id BLOB NOT NULL,
	until_us    INTEGER NOT NULL,
	PRIMARY KEY (merchant_id, customer_id)
);
CREATE TABLE IF NOT EXISTS {p}commissions (
	id          BLOB PRIMARY KEY,
	merchant_id BLOB NOT NULL,
	order_id    BLOB NOT NULL,
	line        INTEGER NOT NULL,
	promoter_id BLOB NOT NULL,
	agency_id   BLOB NULL,
	status      INTEGER NOT NULL,
	created_us  INTEGER NOT NULL,
	version     INTEGER NOT NULL,
	doc         TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS {p}commissions_line ON {p}commissions (merchant_id, order_id, line);
CREATE INDEX IF NOT EXISTS {p}commissions_promoter ON {p}commissions (promoter_id, created_us);
CREATE INDEX IF NOT EXISTS {p}commissions_agency ON {p}commissions (agency_id, created_us);
