-- minishop payments: when each payment was paid and each of its refunds
-- asked for, by provider, for PaymentsBetween (the payments a channel's
-- daily statement should list, which the payment service reconciles with
-- the statement). Kept by InsertPayment and UpdatePayment in the
-- payment's transaction; ref is '' for the payment, the refund number for
-- a refund. A new table rather than columns, as MySQL cannot add a column
-- idempotently (see Migrate). Payments stored before this migration enter
-- from their documents (PaidAt of succeeded payments, Created of every
-- refund).
CREATE TABLE IF NOT EXISTS {p}payment_times (
	payment_id UUID NOT NULL,
	ref        TEXT NOT NULL,
	provider   TEXT NOT NULL,
	at_us      BIGINT NOT NULL,
	PRIMARY KEY (payment_id, ref)
);
CREATE INDEX IF NOT EXISTS {p}payment_times_at ON {p}payment_times (provider, at_us);
INSERT INTO {p}payment_times (payment_id, ref, provider, at_us)
	SELECT id, '', doc::jsonb->>'Provider', (EXTRACT(EPOCH FROM (doc::jsonb->>'PaidAt')::timestamptz) * 1000000)::bigint
	FROM {p}payments WHERE status = 'succeeded'
	ON CONFLICT DO NOTHING;
INSERT INTO {p}payment_times (payment_id, ref, provider, at_us)
	SELECT p.id, r->>'RefundNo', p.doc::jsonb->>'Provider', (EXTRACT(EPOCH FROM (r->>'Created')::timestamptz) * 1000000)::bigint
	FROM {p}payments p, jsonb_array_elements(CASE WHEN jsonb_typeof(p.doc::jsonb->'Refunds') = 'array'
		THEN p.doc::jsonb->'Refunds' ELSE '[]'::jsonb END) r
	ON CONFLICT DO NOTHING;
