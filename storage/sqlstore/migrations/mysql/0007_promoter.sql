-- minishop promoter: agencies, promoters, merchants' sharers (with a
-- per-merchant counter row that BindSharer's guarded increment holds to the
-- cap), promotion plans by product, customer locks and commissions. The
-- documents hold whole records; the columns the store keys, filters and
-- locks on (status, version) are the truth when reading.
-- Each statement is idempotent: MySQL commits DDL at once (see Migrate).
CREATE TABLE IF NOT EXISTS {p}agencies (
	id         BINARY(16) PRIMARY KEY,
	version    BIGINT NOT NULL,
	created_us BIGINT NOT NULL,
	doc        MEDIUMTEXT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE IF NOT EXISTS {p}promoters (
	id         BINARY(16) PRIMARY KEY,
	agency_id  BINARY(16) NULL,
	version    BIGINT NOT NULL,
	created_us BIGINT NOT NULL,
	doc        MEDIUMTEXT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE IF NOT EXISTS {p}promoter_sharers (
	merchant_id BINARY(16) NOT NULL,
	promoter_id BINARY(16) NOT NULL,
	bound_us    BIGINT NOT NULL,
	PRIMARY KEY (merchant_id, promoter_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE IF NOT EXISTS {p}promoter_sharer_counts (
	merchant_id BINARY(16) PRIMARY KEY,
	bound       INT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE IF NOT EXISTS {p}promoter_plans (
	merchant_id BINARY(16) NOT NULL,
	product_id  BINARY(16) NOT NULL,
	version     BIGINT NOT NULL,
	updated_us  BIGINT NOT NULL,
	doc         MEDIUMTEXT NOT NULL,
	PRIMARY KEY (merchant_id, product_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE IF NOT EXISTS {p}promoter_locks (
	merchant_id BINARY(16) NOT NULL,
	customer_id VARCHAR(128) NOT NULL,
	promoter_id BINARY(16) NOT NULL,
	until_us    BIGINT NOT NULL,
	PRIMARY KEY (merchant_id, customer_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE IF NOT EXISTS {p}commissions (
	id          BINARY(16) PRIMARY KEY,
	merchant_id BINARY(16) NOT NULL,
	order_id    BINARY(16) NOT NULL,
	line        INT NOT NULL,
	promoter_id BINARY(16) NOT NULL,
	agency_id   BINARY(16) NULL,
	status      INT NOT NULL,
	created_us  BIGINT NOT NULL,
	version     BIGINT NOT NULL,
	doc         MEDIUMTEXT NOT NULL,
	UNIQUE INDEX {p}commissions_line (merchant_id, order_id, line),
	INDEX {p}commissions_promoter (promoter_id, created_us),
	INDEX {p}commissions_agency (agency_id, created_us)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
