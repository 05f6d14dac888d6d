package payment

import (
	"time"

	"github.com/minishop/minishop/commerce"
)

type paymentTag struct{}

// PaymentID identifies a payment record.
type PaymentID = commerce.ID[paymentTag]

// Status is a payment record's state in minishop.
type Status string

// Payment states. A payment starts pending; a verified success notification
// makes it succeeded; a channel's failure makes it failed; cancelling the
// unpaid order closes it.
const (
	Pending   Status = "pending"
	Succeeded Status = "succeeded"
	Failed    Status = "failed"
	Closed    Status = "closed"
)

// Payment is one attempt to pay one order through one provider. Its amount
// is the order's total, read on the server when the payment was created.
type Payment struct {
	ID         PaymentID
	MerchantID commerce.MerchantID
	OrderID    commerce.OrderID
	CustomerID commerce.CustomerID
	Provider   string
	// Account is the merchant's account at the channel when the payment
	// was opened (zero: the channel's own merchant); every later call about
	// the payment names it.
	Account Account
	// PaymentNo is the number the channel knows the payment by (WeChat:
	// out_trade_no): the ID's 32 hex digits, unique across providers.
	PaymentNo string
	Amount    commerce.Money
	Status    Status
	// ProviderRef is the channel's transaction id, known once paid.
	ProviderRef string
	PrepayID    string
	Payer       string
	ExpiresAt   time.Time
	PaidAt      time.Time
	// Fees are fixed when the payment succeeds.
	Fees Fees
	// Exchange is, for a cross-border payment, what the payer paid in
	// their own currency and the channel's rate, as the channel reported
	// them when it succeeded; nil when the payer paid in Amount's currency.
	Exchange *Exchange `json:",omitempty"`
	// Refunds are the payment's refunds in the order they were asked for.
	Refunds []Refund
	// CloseAtProvider is set when the payment was closed in minishop and the
	// channel still has to be told (RunDue does it, outside transactions).
	CloseAtProvider bool
	// Orphaned is set when money arrived for an order that was already
	// cancelled: the payment is refunded in full.
	Orphaned bool
	// ProfitSharing: the payment was opened with profit sharing (the
	// merchant's SharingPlan), its money frozen at the channel until its
	// sharing orders release it; Shares are those orders.
	ProfitSharing bool    `json:",omitempty"`
	Shares        []Share `json:",omitempty"`
	// Tender is set on the record of a part of the order one of its
	// tenders paid at checkout (a stored-value balance, a gift card):
	// 1 + its index in the order's Tenders. Provider is then the tender's
	// plugin and ProviderRef its instrument; no channel is involved, the
	// payment succeeds when the order is paid, bears no fees, and its
	// refunds succeed when the order's refund does.
	Tender int `json:",omitempty"`

	Created, Updated time.Time
	Version          int64
}

// Refund is one refund of a payment.
type Refund struct {
	// ID is the commerce refund it carries out (or, for an orphaned
	// payment, a refund of its own).
	ID commerce.RefundID
	// RefundNo is the number the channel knows the refund by (WeChat:
	// out_refund_no): the ID's 32 hex digits.
	RefundNo      string
	Amount        commerce.Money
	Status        RefundState // processing until the channel answers for good
	ProviderRef   string
	Reason        string
	FailureReason string
	// Submitted is set once the channel has accepted the request.
	Submitted bool
	// Exchange is, for a cross-border refund, what the payer got back in
	// their own currency, once the channel reported it.
	Exchange         *Exchange `json:",omitempty"`
	Created, Updated time.Time
}

// account is the channel account the payment was paid into: the
// channel's own merchant until payments record their account.
func (p *Payment) account() Account { return p.Account }

// Refund returns the payment's refund with id.
func (p *Payment) Refund(id commerce.RefundID) (*Refund, bool) {
	for i := range p.Refunds {
		if p.Refunds[i].ID == id {
			return &p.Refunds[i], true
		}
	}
	return nil, false
}

// refundByNo returns the payment's refund with the channel number no.
func (p *Payment) refundByNo(no string) (*Refund, bool) {
	for i := range p.Refunds {
		if p.Refunds[i].RefundNo == no {
			return &p.Refunds[i], true
		}
	}
	return nil, false
}

// Committed is what the payment's refunds hold back: pending and succeeded
// refunds, so that two refunds can never both take the same money.
func (p *Payment) Committed() commerce.Money {
	sum := commerce.Zero(p.Amount.Currency())
	for _, r := range p.Refunds {
		if r.Status != RefundFailed {
			sum, _ = sum.Add(r.Amount)
		}
	}
	return sum
}

// RefundedAmount is what succeeded refunds returned.
func (p *Payment) RefundedAmount() commerce.Money {
	sum := commerce.Zero(p.Amount.Currency())
	for _, r := range p.Refunds {
		if r.Status == RefundSucceeded {
			sum, _ = sum.Add(r.Amount)
		}
	}
	return sum
}

// Clone returns a deep copy.
func (p *Payment) Clone() *Payment {
	cp := *p
	cp.Refunds = append([]Refund(nil), p.Refunds...)
	if p.Shares != nil {
		cp.Shares = make([]Share, len(p.Shares))
		for i, sh := range p.Shares {
			sh.Lines = append([]ShareLine(nil), sh.Lines...)
			for j := range sh.Lines {
				sh.Lines[j].Returns = append([]ShareReturn(nil), sh.Lines[j].Returns...)
			}
			cp.Shares[i] = sh
		}
	}
	return &cp
}

// Party is who a settlement ledger entry pays.
type Party string

// Ledger parties. Later packages add theirs (the promoter package: promoter
// and agency commission) to the same ledger.
const (
	PartyMerchant Party = "merchant"
	PartyChannel  Party = "channel"  // the payment channel's fee
	PartyPlatform Party = "platform" // the platform's technical service fee
	PartyPromoter Party = "promoter" // a promoter's commission (the promoter in Ref)
	PartyAgency   Party = "agency"   // an agency's commission (the agency in Ref)
)

// LedgerEntry is one line of an order's settlement ledger: who gets what of
// a payment, or gives back what of a refund (a negative amount). The entries
// of an order always sum to what was paid minus what was refunded.
type LedgerEntry struct {
	ID         commerce.ID[ledgerTag]
	MerchantID commerce.MerchantID
	OrderID    commerce.OrderID
	PaymentID  PaymentID
	// Ref is the payment or refund number the entry comes from.
	Ref   string
	Party Party
	// Amount is in the payment's currency, the one the merchant settles
	// in: a cross-border payment's payer side (the CNY a customer paid)
	// is on the payment and refund records (Exchange), never converted
	// into entries here.
	Amount commerce.Money
	Time   time.Time
}

type ledgerTag struct{}

// Outcome is what became of a notification.
type Outcome string

// Notification outcomes.
const (
	Applied   Outcome = "applied"   // it changed state
	Duplicate Outcome = "duplicate" // already applied: nothing changed
	Rejected  Outcome = "rejected"  // it did not match minishop's records: nothing changed
)

// NotificationRecord is the log of a notification minishop received after
// the provider verified it, and what became of it. Rejected ones are kept:
// a notification whose amount differs from the order is evidence.
type NotificationRecord struct {
	ID             commerce.ID[notificationTag]
	Provider       string
	NotificationID string
	Kind           NotificationKind
	EventType      string
	PaymentNo      string
	RefundNo       string
	Outcome        Outcome
	Reason         string
	Time           time.Time
}

type notificationTag struct{}
