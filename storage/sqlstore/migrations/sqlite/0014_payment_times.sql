-- minishop payments: when each payment was paid and each of its refunds
-- asked for, by provider, for PaymentsBetween (the payments a channel's
-- daily statement should list, which the payment service reconciles with
-- the statement). Kept by InsertPayment and UpdatePayment in the
-- payment's transaction; ref is '' for the payment, the refund number for
-- a refund. A new table rather than columns, as MySQL cannot add a column
-- idempotently (see Migrate). Payments stored before this migration enter
-- from their documents (PaidAt of succeeded payments, Created of every
-- refund): RFC 3339 text, whose whole seconds strftime reads with the
-- offset and whose fraction is taken to the microsecond by hand.
CREATE TABLE IF NOT EXISTS {p}payment_times (
	payment_id BLOB NOT NULL,
	ref        TEXT NOT NULL,
	provider   TEXT NOT NULL,
	at_us      INTEGER NOT NULL,
	PRIMARY KEY (payment_id, ref)
);
CREATE INDEX IF NOT EXISTS {p}payment_times_at ON {p}payment_times (provider, at_us);
INSERT INTO {p}payment_times (payment_id, ref, provider, at_us)
	SELECT id, ref, provider, CAST(strftime('%s', x) AS INTEGER) * 1000000 + CASE WHEN substr(x, 20, 1) = '.'
		THEN CAST(substr(substr(x, 21, length(x) - 20 - length(ltrim(substr(x, 21), '0123456789'))) || '000000', 1, 6) AS INTEGER) ELSE 0 END
	FROM (SELECT id, '' AS ref, json_extract(doc, '$.Provider') AS provider, json_extract(doc, '$.PaidAt') AS x
		FROM {p}payments WHERE status = 'succeeded'
		UNION ALL
		SELECT p.id, json_extract(r.value, '$.RefundNo'), json_extract(p.doc, '$.Provider'), json_extract(r.value, '$.Created')
		FROM {p}payments p, json_each(p.doc, '$.Refunds') r WHERE json_type(p.doc, '$.Refunds') = 'array') t
	WHERE true
	ON CONFLICT DO NOTHING;
