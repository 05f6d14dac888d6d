-- minishop payments: when each payment was paid and each of its refunds
-- asked for, by provider, for PaymentsBetween (the payments a channel's
-- daily statement should list, which the payment service reconciles with
-- the statement). Kept by InsertPayment and UpdatePayment in the
-- payment's transaction; ref is '' for the payment, the refund number for
-- a refund. A new table rather than columns, as MySQL cannot add a column
-- idempotently (see Migrate). Payments stored before this migration enter
-- from their documents (PaidAt of succeeded payments, Created of every
-- refund): RFC 3339 text, read as its local date and time, less its
-- offset, plus its fraction to the microsecond; TIMESTAMPDIFF from the
-- epoch does not depend on the session's time zone. Each statement is
-- idempotent: MySQL commits DDL at once (see Migrate).
CREATE TABLE IF NOT EXISTS {p}payment_times (
	payment_id BINARY(16) NOT NULL,
	ref        VARCHAR(64) NOT NULL,
	provider   VARCHAR(64) NOT NULL,
	at_us      BIGINT NOT NULL,
	PRIMARY KEY (payment_id, ref),
	INDEX {p}payment_times_at (provider, at_us)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
INSERT IGNORE INTO {p}payment_times (payment_id, ref, provider, at_us)
	SELECT id, ref, provider,
		(TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', STR_TO_DATE(LEFT(x, 19), '%Y-%m-%dT%H:%i:%s'))
		- CASE WHEN RIGHT(x, 1) = 'Z' THEN 0 ELSE IF(SUBSTR(x, -6, 1) = '-', -1, 1) * (SUBSTR(x, -5, 2) * 3600 + SUBSTR(x, -2, 2) * 60) END) * 1000000
		+ IFNULL(CAST(RPAD(SUBSTR(REGEXP_SUBSTR(x, '[.][0-9]+'), 2, 6), 6, '0') AS UNSIGNED), 0)
	FROM (SELECT id, '' AS ref, JSON_UNQUOTE(JSON_EXTRACT(doc, '$.Provider')) AS provider, JSON_UNQUOTE(JSON_EXTRACT(doc, '$.PaidAt')) AS x
		FROM {p}payments WHERE status = 'succeeded'
		UNION ALL
		SELECT p.id, r.ref, JSON_UNQUOTE(JSON_EXTRACT(p.doc, '$.Provider')), r.x
		FROM {p}payments p, JSON_TABLE(p.doc, '$.Refunds[*]' COLUMNS (ref VARCHAR(64) PATH '$.RefundNo', x VARCHAR(64) PATH '$.Created')) r) t;
