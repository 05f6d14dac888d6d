package payment

import (
	"context"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/storage"
)

// Store is what the payment service needs from a store. storage/memory and
// storage/sqlstore implement it beside commerce.Store, on the same
// transactor, so a notification marks the payment and the order paid in one
// transaction.
type Store interface {
	storage.Transactor
	// Records keeps the service's own keyed records (merchant accounts,
	// profit-sharing orders, payouts); see storage.Records.
	storage.Records

	// InsertPayment stores a new payment; storage.ErrConflict when its
	// PaymentNo exists.
	InsertPayment(ctx context.Context, p *Payment) error
	// GetPayment returns the merchant's payment.
	GetPayment(ctx context.Context, merchant commerce.MerchantID, id PaymentID) (*Payment, error)
	// PaymentByNo finds a payment by the number the channel knows it by,
	// for notifications, which carry nothing else.
	PaymentByNo(ctx context.Context, paymentNo string) (*Payment, error)
	// OrderPayments returns the payments of an order, oldest first.
	OrderPayments(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID) ([]*Payment, error)
	// UpdatePayment locks the payment, applies fn and saves it (bumping
	// Version) unless fn fails.
	UpdatePayment(ctx context.Context, merchant commerce.MerchantID, id PaymentID, fn func(*Payment) error) error
	// PaymentsToClose returns up to limit payments with CloseAtProvider set.
	PaymentsToClose(ctx context.Context, limit int) ([]*Payment, error)
	// PendingRefunds returns up to limit payments with a refund that is
	// pending and not yet accepted by the channel.
	PendingRefunds(ctx context.Context, limit int) ([]*Payment, error)
	// RefundingOrders returns, across merchants, up to limit orders in ID
	// order after after (from the start when zero) whose oldest pending
	// kernel refund was asked for at or before before
	// (commerce.Order.PendingRefundSince): RunDue looks among them for
	// refunds the kernel committed that never reached the payment service.
	RefundingOrders(ctx context.Context, before time.Time, after commerce.OrderID, limit int) ([]commerce.OrderRef, error)

	// PaymentsBetween returns, across merchants, up to limit payments
	// through provider in ID order after after (from the start when zero)
	// that succeeded with PaidAt in [from, to), or have a refund (in any
	// state) whose Created is in [from, to): what a channel's statement of
	// that span should list. ReconcileDay pages through it.
	PaymentsBetween(ctx context.Context, provider string, from, to time.Time, after PaymentID, limit int) ([]*Payment, error)

	// AppendLedger adds settlement ledger entries.
	AppendLedger(ctx context.Context, entries ...LedgerEntry) error
	// Ledger returns an order's entries in the order they were added.
	Ledger(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID) ([]LedgerEntry, error)

	// RecordNotification logs a notification and what became of it.
	RecordNotification(ctx context.Context, n NotificationRecord) error
	// Notifications returns the log for a payment number, oldest first.
	Notifications(ctx context.Context, paymentNo string) ([]NotificationRecord, error)
}
