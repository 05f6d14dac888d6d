-- minishop wechat: the WeChat platform's keyed records (access tokens,
-- sessions, shipping uploads, message deliveries, subscription credits,
-- scene codes, pushes applied), a JSON document beside the columns the
-- schedulers query. Every change is a compare-and-swap on version.
-- Each statement is idempotent: MySQL commits DDL at once (see Migrate).
CREATE TABLE IF NOT EXISTS {p}wechat_records (
	kind       VARCHAR(32) NOT NULL,
	rkey       VARCHAR(191) NOT NULL,
	status     VARCHAR(32) NOT NULL,
	due_us     BIGINT NOT NULL,
	version    BIGINT NOT NULL,
	updated_us BIGINT NOT NULL,
	doc        MEDIUMTEXT NOT NULL,
	PRIMARY KEY (kind, rkey),
	INDEX {p}wechat_records_due (kind, status, due_us, rkey)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
