-- minishop payments: payment records with their refunds (a JSON document
-- beside indexed columns), the settlement ledger, the notification log.
CREATE TABLE IF NOT EXISTS {p}payments (
	id                BLOB PRIMARY KEY,
	merchant_id       BLOB NOT NULL,
	order_id          BLOB NOT NULL,
	payment_no        TEXT NOT NULL UNIQUE,
	status            TEXT NOT NULL,
	close_at_provider INTEGER NOT NULL,
	refund_due        INTEGER NOT NULL,
	version           INTEGER NOT NULL,
	created_us        INTEGER NOT NULL,
	updated_us        INTEGER NOT NULL,
	doc               TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS {p}payments_order ON {p}payments (merchant_id, order_id);
CREATE INDEX IF NOT EXISTS {p}payments_close ON {p}payments (close_at_provider);
CREATE INDEX IF NOT EXISTS {p}payments_refund ON {p}payments (refund_due);
CREATE TABLE IF NOT EXISTS {p}payment_ledger (
	id           BLOB PRIMARY KEY,
	merchant_id  BLOB NOT NULL,
	order_id     BLOB NOT NULL,
	payment_id   BLOB NOT NULL,
	ref          TEXT NOT NULL,
	party        TEXT NOT NULL,
	amount_minor INTEGER NOT NULL,
	currency     TEXT NOT NULL,
	time_us      INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS {p}payment_ledger_order ON {p}payment_ledger (merchant_id, order_id, time_us);
CREATE TABLE IF NOT EXISTS {p}payment_notifications (
	id              BLOB PRIMARY KEY,
	provider        TEXT NOT NULL,
	notification_id TEXT NOT NULL,
	kind            TEXT NOT NULL,
	event_type      TEXT NOT NULL,
	payment_no      TEXT NOT NULL,
	refund_no       TEXT NOT NULL,
	outcome         TEXT NOT NULL,
	reason          TEXT NOT NULL,
	time_us         INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS {p}payment_notifications_no ON {p}payment_notifications (payment_no, time_us);
