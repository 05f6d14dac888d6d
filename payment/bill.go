package payment

import (
	"context"
	"errors"
	"time"

	"github.com/minishop/minishop/commerce"
)

// BillSource is implemented by a Provider whose channel publishes a daily
// statement of what it recorded (WeChat Pay: the trade bill). The Service's
// ReconcileDay reads it; a Provider without statements does not implement
// it.
type BillSource interface {
	// DayBill returns the channel's statement for the calendar date of day
	// (its year, month and day as written in day's location) in the
	// channel's own time zone, for account (the zero Account: the
	// channel's own merchant). It must return the statement whole and
	// checked (digest, row count and totals) or an error: never part of
	// one. A statement not yet generated is an error matching
	// ErrBillNotReady (KindUnavailable: ask again later); a day the
	// channel recorded nothing for is a Bill without lines.
	DayBill(ctx context.Context, account Account, day time.Time) (*Bill, error)
}

// ErrBillNotReady is matched by the error for a statement the channel has
// not generated yet (WeChat Pay generates the day's bills from 09:00 the
// next day, China time). It is of KindUnavailable: ask again later.
var ErrBillNotReady = errors.New("bill not ready")

// BillLineKind says what a statement line records.
type BillLineKind string

// Statement line kinds.
const (
	BillPayment BillLineKind = "payment" // money taken
	BillRefund  BillLineKind = "refund"  // a refund asked for (WeChat lists refunds on the day they are asked for)
)

// Bill is a channel's statement of one day, provider-neutral.
type Bill struct {
	Provider string
	Account  Account
	// Day is the date the statement is for, yyyy-mm-dd in the channel's
	// time zone; From and To are the instants it spans, [From, To).
	Day      string
	From, To time.Time
	Lines    []BillLine
}

// BillLine is one line of a statement.
type BillLine struct {
	Kind BillLineKind
	// Line is the line's number in the channel's file, for messages.
	Line int
	// Time is when the channel recorded it (paid; refund asked for).
	Time time.Time
	// SubMerchant is the sub-merchant the line belongs to in a service
	// provider's statement; empty for a direct merchant.
	SubMerchant string
	PaymentNo   string // the merchant's payment number (WeChat: out_trade_no)
	ProviderRef string // the channel's transaction id
	RefundNo    string // refund lines: the merchant's refund number
	RefundRef   string // refund lines: the channel's refund id
	// RefundState is the refund's state as the channel wrote the line;
	// WeChat writes it when the refund is asked for and never updates it.
	RefundState RefundState
	// Amount is what was paid (payment lines) or is refunded (refund
	// lines), positive.
	Amount commerce.Money
	// Fee is the channel's fee: positive on a payment line, negative on a
	// refund line (the fee given back). It is exactly what the channel
	// wrote, which may carry digits below the fen (WeChat writes five
	// decimals): it is compared with minishop's fees exactly, never
	// rounded first, so a channel that charged a fraction of a fen more
	// shows as a difference.
	Fee commerce.Money
}

// checkBill refuses a statement a provider returned malformed, before
// anything is read from it: every line must name what it is about.
func checkBill(op string, b *Bill) error {
	if b == nil {
		return commerce.Errorf(op, commerce.KindInternal, "provider returned no bill")
	}
	if !b.From.Before(b.To) {
		return commerce.Errorf(op, commerce.KindInternal, "bill %s spans [%s, %s)", b.Day, b.From, b.To)
	}
	for i := range b.Lines {
		l := &b.Lines[i]
		var problem string
		switch {
		case l.Kind != BillPayment && l.Kind != BillRefund:
			problem = "kind " + string(l.Kind)
		case l.PaymentNo == "":
			problem = "no payment number"
		case l.Kind == BillRefund && l.RefundNo == "":
			problem = "refund without a refund number"
		case !l.Amount.IsSet():
			problem = "no amount"
		case l.Fee.IsSet() && l.Fee.Currency() != l.Amount.Currency():
			problem = "fee and amount in different currencies"
		}
		if problem != "" {
			return commerce.Errorf(op, commerce.KindInternal, "bill %s line %d: %s", b.Day, l.Line, problem)
		}
	}
	return nil
}
