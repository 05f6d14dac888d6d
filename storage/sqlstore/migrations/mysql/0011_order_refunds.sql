-- minishop kernel: orders with a refund still pending, and since when (the
-- oldest pending refund's creation), kept by UpdateOrder in the order's
-- transaction. The payment service's RunDue reads it to find kernel refunds
-- whose hand-off to payment was lost. A new table rather than a column, as
-- MySQL cannot add a column idempotently (see Migrate). Orders stored
-- before this migration with a pending refund (read from the document's
-- Refunds, so a note or metadata value cannot pass for one) enter with
-- their last update time, which is no earlier than the refund's.
CREATE TABLE IF NOT EXISTS {p}order_refunds (
	order_id    BINARY(16) PRIMARY KEY,
	merchant_id BINARY(16) NOT NULL,
	since_us    BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
INSERT IGNORE INTO {p}order_refunds (order_id, merchant_id, since_us)
	SELECT id, merchant_id, updated_us FROM {p}orders WHERE JSON_SEARCH(doc, 'one', 'pending', NULL, '$.Refunds[*].Status') IS NOT NULL;
