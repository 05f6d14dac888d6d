-- minishop gifting: one gift per order of a merchant. The document holds
-- the whole gift, and the columns the store filters and locks on (status,
-- expires_us, refunded, recipient, version) are the truth when reading.
-- expires_us is NULL until the gift is sent.
CREATE TABLE IF NOT EXISTS {p}gifts (
	id          BLOB PRIMARY KEY,
	merchant_id BLOB NOT NULL,
	order_id    BLOB NOT NULL,
	giver       TEXT NOT NULL,
	recipient   TEXT NOT NULL,
	status      TEXT NOT NULL,
	expires_us  INTEGER NULL,
	refunded    INTEGER NOT NULL,
	version     INTEGER NOT NULL,
	created_us  INTEGER NOT NULL,
	doc         TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS {p}gifts_order ON {p}gifts (merchant_id, order_id);
CREATE INDEX IF NOT EXISTS {p}gifts_due ON {p}gifts (status, expires_us);
