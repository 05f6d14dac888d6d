-- minishop kernel: orders with a refund still pending, and since when (the
-- oldest pending refund's creation), kept by UpdateOrder in the order's
-- transaction. The payment service's RunDue reads it to find kernel refunds
-- whose hand-off to payment was lost. A new table rather than a column, as
-- MySQL cannot add a column idempotently (see Migrate). Orders stored
-- before this migration with a pending refund (read from the document's
-- Refunds, so a note or metadata value cannot pass for one) enter with
-- their last update time, which is no earlier than the refund's.
CREATE TABLE IF NOT EXISTS {p}order_refunds (
	order_id    UUID PRIMARY KEY,
	merchant_id UUID NOT NULL,
	since_us    BIGINT NOT NULL
);
INSERT INTO {p}order_refunds (order_id, merchant_id, since_us)
	SELECT id, merchant_id, updated_us FROM {p}orders WHERE EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(doc::jsonb->'Refunds') = 'array'
		THEN doc::jsonb->'Refunds' ELSE '[]'::jsonb END) r WHERE r->>'Status' = 'pending')
	ON CONFLICT (order_id) DO NOTHING;
