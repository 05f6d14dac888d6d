-- minishop wechat: the WeChat platform's keyed records (access tokens,
-- sessions, shipping uploads, message deliveries, subscription credits,
-- scene codes, pushes applied), a JSON document beside the columns the
-- schedulers query. Every change is a compare-and-swap on version.
CREATE TABLE IF NOT EXISTS {p}wechat_records (
	kind       TEXT NOT NULL,
	rkey       TEXT NOT NULL,
	status     TEXT NOT NULL,
	due_us     BIGINT NOT NULL,
	version    BIGINT NOT NULL,
	updated_us BIGINT NOT NULL,
	doc        TEXT NOT NULL,
	PRIMARY KEY (kind, rkey)
);
CREATE INDEX IF NOT EXISTS {p}wechat_records_due ON {p}wechat_records (kind, status, due_us, rkey);
