package payment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/minishop/minishop/commerce"
)

// Config wires a payment Service.
type Config struct {
	// Commerce is the kernel whose orders are paid and refunded.
	Commerce *commerce.Service
	// Store keeps payments, the ledger and the notification log; it must
	// share its transactor with Commerce's store (the same store value).
	Store Store
	// Providers are the channels payments can go through, by Name.
	Providers []Provider
	// Fees is the fee schedule; DefaultFees when nil.
	Fees *FeeSchedule
	// Clock and IDs default to the system clock and UUIDv7.
	Clock commerce.Clock
	IDs   commerce.IDGenerator
	// RefundGrace is how long RunDue leaves a kernel refund to reach the
	// payment service on its own (the kernel hands it over right after
	// committing it) before it takes the refund over: DefaultRefundGrace
	// when zero.
	RefundGrace time.Duration
	// Transfers applies transfer notifications (the promoter package's
	// ApplyTransfer; minishop.New wires it); without it they are rejected.
	Transfers TransferHandler
	// Shares applies the end of a shared commission line (the promoter
	// package's ApplyShare; minishop.New wires it).
	Shares ShareHandler
}

// DefaultRefundGrace is the RefundGrace when none is set: far longer than a
// hand-off takes, short enough that a lost one is refunded the same hour.
const DefaultRefundGrace = 5 * time.Minute

// Service takes payments for orders, applies channel notifications, carries
// the kernel's refunds to the channel, and keeps the settlement ledger.
//
// It implements commerce.RefundGateway (the kernel's refunds reach the
// channel through RequestRefund) and commerce.OrderHook (an unpaid order
// that is cancelled closes its payment); minishop.New wires both.
type Service struct {
	commerce  *commerce.Service
	store     Store
	providers map[string]Provider
	fees      FeeSchedule
	clock     commerce.Clock
	ids       commerce.IDGenerator
	grace     time.Duration
	transfers TransferHandler
	shares    ShareHandler
}

// New validates cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	const op = "payment.new"
	if cfg.Commerce == nil {
		return nil, commerce.Invalid(op, "commerce", "required")
	}
	if cfg.Store == nil {
		return nil, commerce.Invalid(op, "store", "required")
	}
	s := &Service{commerce: cfg.Commerce, store: cfg.Store, providers: map[string]Provider{},
		fees: DefaultFees(), clock: cfg.Clock, ids: cfg.IDs, grace: cfg.RefundGrace, transfers: cfg.Transfers, shares: cfg.Shares}
	if s.grace < 0 {
		return nil, commerce.Invalid(op, "refund_grace", "negative")
	}
	if s.grace == 0 {
		s.grace = DefaultRefundGrace
	}
	if cfg.Fees != nil {
		if err := cfg.Fees.Validate(); err != nil {
			return nil, err
		}
		s.fees = *cfg.Fees
	}
	for i, p := range cfg.Providers {
		if p == nil || p.Name() == "" {
			return nil, commerce.Invalid(op, fmt.Sprintf("providers[%d]", i), "nil or unnamed provider")
		}
		if _, dup := s.providers[p.Name()]; dup {
			return nil, commerce.Invalid(op, fmt.Sprintf("providers[%d]", i), "provider %q registered twice", p.Name())
		}
		s.providers[p.Name()] = p
	}
	if s.clock == nil {
		s.clock = commerce.SystemClock()
	}
	if s.ids == nil {
		s.ids = commerce.UUIDv7()
	}
	return s, nil
}

// Fees returns the fee schedule in force.
func (s *Service) Fees() FeeSchedule { return s.fees }

func (s *Service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Microsecond) }

func (s *Service) provider(op, name string) (Provider, error) {
	if name == "" && len(s.providers) == 1 {
		for _, p := range s.providers {
			return p, nil
		}
	}
	p, ok := s.providers[name]
	if !ok {
		return nil, commerce.Invalid(op, "provider", "no provider %q", name)
	}
	return p, nil
}

// number is the channel number of an ID: its 32 hex digits, within every
// channel's charset and length rules (WeChat: 6-32 characters).
func number(u fmt.Stringer) string { return strings.ReplaceAll(u.String(), "-", "") }

// PayParams asks to pay an order.
type PayParams struct {
	MerchantID commerce.MerchantID
	OrderID    commerce.OrderID
	// Provider names the channel; it may be empty when only one is set up.
	Provider string
	// Payer is the payer's account at the channel (WeChat: openid).
	Payer string
	// PayerApp is the app Payer's openid belongs to (the Mini Program the
	// customer pays in); empty for the merchant's own app.
	PayerApp string
	// Description is shown to the payer; the first line's title by default.
	Description string
}

// Pay opens a payment for an unpaid order through a channel and returns it
// with what the client needs to pay. The amount is the order's total, read
// here; the client never sends one. Calling Pay again for the order and
// channel reuses the open payment (the same number, so the channel opens
// nothing new); an open payment through another channel must be closed
// first.
func (s *Service) Pay(ctx context.Context, p PayParams) (*Payment, *Prepay, error) {
	const op = "payment.pay"
	if err := commerce.CheckID(op, "merchant_id", p.MerchantID); err != nil {
		return nil, nil, err
	}
	prov, err := s.provider(op, p.Provider)
	if err != nil {
		return nil, nil, err
	}
	if err := checkPay(op, p); err != nil {
		return nil, nil, err
	}
	var pay *Payment
	var order *commerce.Order
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		var err error
		if order, err = s.commerce.GetOrder(ctx, p.MerchantID, p.OrderID); err != nil {
			return err
		}
		if order.Status != commerce.StatusPendingPayment {
			return &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Field: "order_id",
				Err: fmt.Errorf("order %s is %s, not waiting for payment", order.ID, order.Status)}
		}
		existing, err := s.store.OrderPayments(ctx, p.MerchantID, p.OrderID)
		if err != nil {
			return err
		}
		for _, e := range existing {
			if e.Status != Pending {
				continue
			}
			if e.Provider != prov.Name() {
				return commerce.Errorf(op, commerce.KindConflict, "order %s has an open payment %s through %s; close it first", order.ID, e.PaymentNo, e.Provider)
			}
			if !e.Amount.Equal(order.Due()) {
				return commerce.Errorf(op, commerce.KindInternal, "payment %s is for %s but the order's channel part is %s", e.PaymentNo, e.Amount, order.Due())
			}
			pay = e
			return nil
		}
		acct, err := s.account(ctx, order.MerchantID, prov.Name())
		if err != nil {
			return err
		}
		plan, err := s.plan(ctx, order.MerchantID, prov.Name())
		if err != nil {
			return err
		}
		now := s.now()
		id := commerce.IDFrom[paymentTag](s.ids.NewUUID())
		pay = &Payment{ID: id, MerchantID: order.MerchantID, OrderID: order.ID, CustomerID: order.CustomerID,
			Provider: prov.Name(), Account: acct, PaymentNo: number(id), Amount: order.Due(), Status: Pending, Payer: p.Payer,
			ExpiresAt: order.DueAt, ProfitSharing: plan != nil, Created: now, Updated: now}
		return s.store.InsertPayment(ctx, pay)
	})
	if err != nil {
		return nil, nil, commerce.Wrap(op, err)
	}
	desc := p.Description
	if desc == "" && len(order.Lines) > 0 {
		desc = order.Lines[0].Title
		if len(order.Lines) > 1 {
			desc += fmt.Sprintf(" +%d", len(order.Lines)-1)
		}
		if r := []rune(desc); len(r) > 127 {
			desc = string(r[:127])
		}
	}
	// The channel is called after commit: a crash here leaves a pending
	// payment whose number the next Pay reuses.
	prepay, err := prov.CreatePayment(ctx, CreateRequest{Account: pay.Account, PaymentNo: pay.PaymentNo, Description: desc, Amount: pay.Amount,
		Payer: pay.Payer, PayerApp: p.PayerApp, ExpiresAt: pay.ExpiresAt, Attach: pay.OrderID.String(), ProfitSharing: pay.ProfitSharing})
	if err != nil {
		return pay, nil, &commerce.Error{Op: op, Kind: commerce.KindUnavailable, Err: fmt.Errorf("provider %s: %w", prov.Name(), err)}
	}
	if prepay.PrepayID != "" && prepay.PrepayID != pay.PrepayID {
		err := s.store.UpdatePayment(ctx, pay.MerchantID, pay.ID, func(p *Payment) error {
			p.PrepayID, p.Updated = prepay.PrepayID, s.now()
			return nil
		})
		if err != nil {
			return pay, prepay, commerce.Wrap(op, err)
		}
		pay.PrepayID = prepay.PrepayID
	}
	return pay, prepay, nil
}

// GetPayment returns a payment of the merchant.
func (s *Service) GetPayment(ctx context.Context, merchant commerce.MerchantID, id PaymentID) (*Payment, error) {
	if err := commerce.CheckID("payment.get_payment", "merchant_id", merchant); err != nil {
		return nil, err
	}
	p, err := s.store.GetPayment(ctx, merchant, id)
	return p, commerce.NotFoundAs("payment.get_payment", "payment_id", err)
}

// OrderPayments returns an order's payments, oldest first.
func (s *Service) OrderPayments(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID) ([]*Payment, error) {
	if err := commerce.CheckID("payment.order_payments", "merchant_id", merchant); err != nil {
		return nil, err
	}
	ps, err := s.store.OrderPayments(ctx, merchant, order)
	return ps, commerce.Wrap("payment.order_payments", err)
}

// Ledger returns an order's settlement ledger.
func (s *Service) Ledger(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID) ([]LedgerEntry, error) {
	if err := commerce.CheckID("payment.ledger", "merchant_id", merchant); err != nil {
		return nil, err
	}
	es, err := s.store.Ledger(ctx, merchant, order)
	return es, commerce.Wrap("payment.ledger", err)
}

// RecordCommission moves amount of an order's settlement from the merchant
// to party (a promoter's or agency's commission; a negative amount takes it
// back, a clawback), as two ledger entries under ref, in ctx's transaction:
// the order's entries still sum to what was paid minus what was refunded.
// An order paid outside the payment service (no succeeded payment here)
// has no ledger, and nothing is written.
func (s *Service) RecordCommission(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID, ref string, party Party, amount commerce.Money) error {
	const op = "payment.record_commission"
	if err := commerce.CheckID(op, "merchant_id", merchant); err != nil {
		return err
	}
	if party == PartyMerchant || party == "" {
		return commerce.Invalid(op, "party", "commission goes to a promoter or an agency, not %q", party)
	}
	if err := checkLedgerRef(op, ref); err != nil {
		return err
	}
	pays, err := s.store.OrderPayments(ctx, merchant, order)
	if err != nil {
		return commerce.Wrap(op, err)
	}
	for _, p := range pays {
		if p.Status != Succeeded {
			continue
		}
		return s.ledger(ctx, p, ref, []LedgerEntry{{Party: PartyMerchant, Amount: amount.Neg()}, {Party: party, Amount: amount}})
	}
	return nil
}

// Notifications returns the notification log of a payment number.
func (s *Service) Notifications(ctx context.Context, paymentNo string) ([]NotificationRecord, error) {
	if err := commerce.CheckKey("payment.notifications", "payment_no", paymentNo, true, MaxPaymentNoLen); err != nil {
		return nil, err
	}
	ns, err := s.store.Notifications(ctx, paymentNo)
	return ns, commerce.Wrap("payment.notifications", err)
}

// ErrRejected is matched by the error for a verified notification that does
// not fit minishop's records (another amount or currency, an unknown
// payment): it changed nothing and is kept in the notification log
// (KindInvalid). Not retryable: the same notification is rejected again (see
// commerce.Retryable).
var ErrRejected = errors.New("notification rejected")

type rejection struct{ reason string }

func (r *rejection) Error() string { return r.reason }

func reject(format string, args ...any) error { return &rejection{fmt.Sprintf(format, args...)} }

// HandleNotification verifies an HTTP notification with the named provider
// and applies it.
func (s *Service) HandleNotification(ctx context.Context, provider string, r *http.Request) (Outcome, error) {
	const op = "payment.notification"
	prov, err := s.provider(op, provider)
	if err != nil {
		return "", err
	}
	n, err := prov.ParseNotification(ctx, r)
	if err != nil {
		return "", commerce.Invalid(op, "notification", "%v", err)
	}
	return s.ApplyNotification(ctx, prov.Name(), n)
}

// NotificationHandler is the HTTP endpoint a channel's notifications go to
// (WeChat Pay: notify_url). A notification applied now or before gets 204;
// one that fails verification or is rejected gets 400, and a transient
// failure 500 so the channel sends it again; both with the body WeChat Pay
// expects, {"code":"FAIL","message":"..."}. The message is generic: the
// endpoint is public, and the details go to onError (for the host's logs;
// nil to drop them) and, for rejections, to the notification log.
func (s *Service) NotificationHandler(provider string, onError func(*http.Request, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := s.HandleNotification(r.Context(), provider, r)
		if err == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if onError != nil {
			onError(r, err)
		}
		status, msg := http.StatusInternalServerError, "notification not processed"
		switch commerce.KindOf(err) {
		case commerce.KindInvalid, commerce.KindNotFound, commerce.KindConflict, commerce.KindFailedPrecondition:
			status, msg = http.StatusBadRequest, "notification rejected"
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"code": "FAIL", "message": msg})
	})
}

// ApplyNotification applies a verified notification from provider. The same
// notification applied many times, or concurrently, changes state once
// (Duplicate after the first). A notification that does not match the
// records (unknown payment, another amount or currency) changes nothing,
// is logged as Rejected and returns an error matching ErrRejected.
func (s *Service) ApplyNotification(ctx context.Context, provider string, n *Notification) (Outcome, error) {
	const op = "payment.notification"
	if n == nil {
		return "", commerce.Invalid(op, "notification", "nil")
	}
	n, cerr := checkNotification(op, provider, n)
	if cerr != nil {
		return "", cerr
	}
	rec := NotificationRecord{ID: commerce.IDFrom[notificationTag](s.ids.NewUUID()), Provider: provider,
		NotificationID: n.ID, Kind: n.Kind, EventType: n.EventType, Time: s.now()}
	var after func(context.Context) error
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		var err error
		switch {
		case n.Kind == NotifyPayment && n.Transaction != nil:
			rec.PaymentNo = n.Transaction.PaymentNo
			rec.Outcome, after, err = s.applyPayment(ctx, provider, n.Transaction)
		case n.Kind == NotifyRefund && n.Refund != nil:
			rec.PaymentNo, rec.RefundNo = n.Refund.PaymentNo, n.Refund.RefundNo
			rec.Outcome, err = s.applyRefund(ctx, provider, n.Refund)
		case n.Kind == NotifyTransfer && n.Transfer != nil:
			rec.PaymentNo = n.Transfer.BillNo
			rec.Outcome, err = s.applyTransfer(ctx, provider, n.Transfer)
		default:
			err = reject("notification of kind %q carries no %s", n.Kind, n.Kind)
		}
		if err != nil {
			return err
		}
		return s.store.RecordNotification(ctx, rec)
	})
	var rej *rejection
	if errors.As(err, &rej) {
		rec.Outcome, rec.Reason = Rejected, boundReason(rej.reason)
		if lerr := s.store.RecordNotification(ctx, rec); lerr != nil {
			return "", commerce.Wrap(op, lerr)
		}
		return Rejected, &commerce.Error{Op: op, Kind: commerce.KindInvalid, Field: "notification", Err: fmt.Errorf("%w: %s", ErrRejected, rej.reason)}
	}
	if err != nil {
		return "", commerce.Wrap(op, err)
	}
	if after != nil {
		if err := after(ctx); err != nil {
			return rec.Outcome, commerce.Wrap(op, err)
		}
	}
	return rec.Outcome, nil
}

// applyPayment applies a payment notification inside the transaction. It
// returns work to do after commit (refunding money that arrived for a
// cancelled order).
func (s *Service) applyPayment(ctx context.Context, provider string, t *Transaction) (Outcome, func(context.Context) error, error) {
	pay, err := s.store.PaymentByNo(ctx, t.PaymentNo)
	if commerce.KindOf(err) == commerce.KindNotFound {
		return "", nil, reject("no payment %q", t.PaymentNo)
	}
	if err != nil {
		return "", nil, err
	}
	if pay.Provider != provider {
		return "", nil, reject("payment %s went through %s, not %s", pay.PaymentNo, pay.Provider, provider)
	}
	if err := sameAccount(pay, t.Account); err != nil {
		return "", nil, err
	}
	if t.State != TxSucceeded {
		outcome := Duplicate
		err := s.store.UpdatePayment(ctx, pay.MerchantID, pay.ID, func(p *Payment) error {
			if p.Status != Pending {
				return nil
			}
			switch t.State {
			case TxFailed:
				p.Status, outcome = Failed, Applied
			case TxClosed:
				p.Status, outcome = Closed, Applied
			}
			p.Updated = s.now()
			return nil
		})
		return outcome, nil, err
	}
	if !t.Amount.IsSet() || !t.Amount.Equal(pay.Amount) {
		return "", nil, reject("payment %s reports %s paid, the order takes %s", pay.PaymentNo, t.Amount, pay.Amount)
	}
	if t.ProviderRef == "" {
		return "", nil, reject("payment %s: success without the channel's transaction id", pay.PaymentNo)
	}
	if err := checkExchange(t.Exchange, pay.Amount, pay.PaymentNo); err != nil {
		return "", nil, err
	}
	outcome := Applied
	var orphan *Refund
	err = s.store.UpdatePayment(ctx, pay.MerchantID, pay.ID, func(p *Payment) error {
		if p.Status == Succeeded {
			if p.ProviderRef != t.ProviderRef {
				return reject("payment %s already succeeded as %s, not %s", p.PaymentNo, p.ProviderRef, t.ProviderRef)
			}
			outcome = Duplicate
			return nil
		}
		order, err := s.commerce.GetOrder(ctx, p.MerchantID, p.OrderID)
		if err != nil {
			return err
		}
		now := s.now()
		wasClosed := p.Status == Closed
		p.Status, p.ProviderRef, p.PaidAt, p.Updated = Succeeded, t.ProviderRef, t.PaidAt, now
		p.Exchange = t.Exchange
		if p.PaidAt.IsZero() {
			p.PaidAt = now
		}
		if p.Fees, err = s.fees.OrderFees(order); err != nil {
			return err
		}
		if err := s.ledger(ctx, p, p.PaymentNo, paymentEntries(p)); err != nil {
			return err
		}
		if wasClosed || order.Status != commerce.StatusPendingPayment {
			// The money arrived for an order that was cancelled (or paid
			// through another payment): it all goes back.
			p.Orphaned, p.CloseAtProvider = true, false
			id := commerce.IDFrom[refundIDTag](s.ids.NewUUID())
			p.Refunds = append(p.Refunds, Refund{ID: commerce.RefundID(id), RefundNo: number(id), Amount: p.Amount,
				Status: RefundProcessing, Reason: "order " + order.ID.String() + " is " + string(order.Status), Created: now, Updated: now})
			orphan = &p.Refunds[len(p.Refunds)-1]
			return nil
		}
		mp := commerce.MarkPaidParams{MerchantID: p.MerchantID, OrderID: p.OrderID, PaymentRef: p.PaymentNo, Amount: p.Amount}
		if p.Exchange != nil {
			mp.Payer = p.Exchange.Payer
		}
		_, err = s.commerce.MarkPaid(ctx, mp)
		return err
	})
	if err != nil || orphan == nil {
		return outcome, nil, err
	}
	merchant, id, refundID := pay.MerchantID, pay.ID, orphan.ID
	return outcome, func(ctx context.Context) error { return s.submitRefund(ctx, merchant, id, refundID) }, nil
}

type refundIDTag = struct{}

// checkExchange checks a cross-border payment's or refund's other side as
// the channel reported it against the amount minishop expects (no):
// the payer's amount is set, not negative and in another currency (an
// exchange into the same currency is a channel's error), the rate not
// negative. It does not compare the two amounts: minishop never converts.
func checkExchange(x *Exchange, amount commerce.Money, no string) error {
	switch {
	case x == nil:
		return nil
	case !x.Payer.IsSet() || x.Payer.IsNegative():
		return reject("%s: the channel's exchange has no payer amount", no)
	case x.Payer.Currency() == amount.Currency():
		return reject("%s: the channel reports an exchange of %s into %s", no, amount, x.Payer)
	case x.Rate.IsNegative():
		return reject("%s: the channel reports a negative exchange rate %s", no, x.Rate)
	}
	return nil
}

// ledger stamps and appends entries of payment p.
func (s *Service) ledger(ctx context.Context, p *Payment, ref string, entries []LedgerEntry) error {
	for i := range entries {
		entries[i].Ref = ref
	}
	return s.appendLedger(ctx, p.MerchantID, p.OrderID, p.ID, entries)
}

// appendLedger stamps entries (id, order, payment, time) and appends them.
func (s *Service) appendLedger(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID, payment PaymentID, entries []LedgerEntry) error {
	now := s.now()
	for i := range entries {
		e := &entries[i]
		e.ID = commerce.IDFrom[ledgerTag](s.ids.NewUUID())
		e.MerchantID, e.OrderID, e.PaymentID, e.Time = merchant, order, payment, now
	}
	return s.store.AppendLedger(ctx, entries...)
}

// applyRefund applies a refund notification inside the transaction.
func (s *Service) applyRefund(ctx context.Context, provider string, rr *RefundResult) (Outcome, error) {
	pay, err := s.store.PaymentByNo(ctx, rr.PaymentNo)
	if commerce.KindOf(err) == commerce.KindNotFound {
		return "", reject("no payment %q", rr.PaymentNo)
	}
	if err != nil {
		return "", err
	}
	if pay.Provider != provider {
		return "", reject("payment %s went through %s, not %s", pay.PaymentNo, pay.Provider, provider)
	}
	if err := sameAccount(pay, rr.Account); err != nil {
		return "", err
	}
	r, ok := pay.refundByNo(rr.RefundNo)
	if !ok {
		return "", reject("payment %s has no refund %q", pay.PaymentNo, rr.RefundNo)
	}
	if rr.State == RefundProcessing {
		return Duplicate, s.markSubmitted(ctx, pay, r.ID, rr.ProviderRef)
	}
	if rr.State == RefundSucceeded && (!rr.Amount.IsSet() || !rr.Amount.Equal(r.Amount)) {
		return "", reject("refund %s reports %s returned, minishop asked for %s", r.RefundNo, rr.Amount, r.Amount)
	}
	return s.settleRefund(ctx, pay, r.ID, rr)
}

func (s *Service) markSubmitted(ctx context.Context, pay *Payment, id commerce.RefundID, ref string) error {
	return s.store.UpdatePayment(ctx, pay.MerchantID, pay.ID, func(p *Payment) error {
		r, _ := p.Refund(id)
		if r.Submitted && (ref == "" || r.ProviderRef == ref) {
			return nil
		}
		r.Submitted, r.Updated = true, s.now()
		if ref != "" {
			r.ProviderRef = ref
		}
		return nil
	})
}

// settleRefund records a refund's final outcome: on success the ledger gives
// back the amount with the fees in proportion; either way the kernel's
// refund learns the outcome.
func (s *Service) settleRefund(ctx context.Context, pay *Payment, id commerce.RefundID, rr *RefundResult) (Outcome, error) {
	outcome := Applied
	var orphaned bool
	err := s.store.UpdatePayment(ctx, pay.MerchantID, pay.ID, func(p *Payment) error {
		r, _ := p.Refund(id)
		if r.Status != RefundProcessing {
			outcome = Duplicate
			return nil
		}
		now := s.now()
		orphaned = p.Orphaned
		if rr.State == RefundSucceeded {
			if err := checkExchange(rr.Exchange, r.Amount, r.RefundNo); err != nil {
				return err
			}
			if err := s.ledger(ctx, p, r.RefundNo, refundEntries(p, r)); err != nil {
				return err
			}
			r.Status, r.Exchange = RefundSucceeded, rr.Exchange
		} else {
			r.Status, r.FailureReason = RefundFailed, rr.Reason
			if r.FailureReason == "" {
				r.FailureReason = "refused by " + p.Provider
			}
		}
		r.Submitted, r.Updated = true, now
		if rr.ProviderRef != "" {
			r.ProviderRef = rr.ProviderRef
		}
		return nil
	})
	if err != nil || outcome == Duplicate || orphaned {
		return outcome, err
	}
	_, err = s.commerce.ConfirmRefund(ctx, commerce.ConfirmRefundParams{MerchantID: pay.MerchantID, OrderID: pay.OrderID,
		RefundID: id, Succeeded: rr.State == RefundSucceeded, ProviderRef: rr.ProviderRef, FailureReason: rr.Reason})
	return outcome, err
}

// RequestRefund implements commerce.RefundGateway: the kernel committed a
// refund of an order; record it against the order's payment (never more in
// total than was paid) and ask the channel for it.
func (s *Service) RequestRefund(ctx context.Context, r commerce.RefundRequest) error {
	const op = "payment.refund"
	var pay *Payment
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		var err error
		if pay, err = s.store.PaymentByNo(ctx, r.PaymentRef); err != nil {
			return err
		}
		if pay.MerchantID != r.MerchantID || pay.OrderID != r.OrderID {
			return commerce.Errorf(op, commerce.KindNotFound, "order %s has no payment %s", r.OrderID, r.PaymentRef)
		}
		return s.store.UpdatePayment(ctx, pay.MerchantID, pay.ID, func(p *Payment) error {
			if _, ok := p.Refund(r.RefundID); ok {
				return nil // asked again after a crash or timeout
			}
			if p.Status != Succeeded {
				return commerce.Errorf(op, commerce.KindFailedPrecondition, "payment %s is %s", p.PaymentNo, p.Status)
			}
			if !r.Amount.IsPositive() || r.Amount.Currency() != p.Amount.Currency() {
				return commerce.Invalid(op, "amount", "refund of %s on a payment in %s", r.Amount, p.Amount.Currency())
			}
			after, _ := p.Committed().Add(r.Amount)
			if c, _ := after.Cmp(p.Amount); c > 0 {
				return commerce.Errorf(op, commerce.KindFailedPrecondition, "refund of %s would return %s of a payment of %s", r.Amount, after, p.Amount)
			}
			now := s.now()
			p.Refunds = append(p.Refunds, Refund{ID: r.RefundID, RefundNo: number(r.RefundID), Amount: r.Amount,
				Status: RefundProcessing, Reason: r.Reason, Created: now, Updated: now})
			p.Updated = now
			return nil
		})
	})
	if err != nil {
		return commerce.Wrap(op, err)
	}
	return s.submitRefund(ctx, pay.MerchantID, pay.ID, r.RefundID)
}

// submitRefund sends a pending refund to the channel, outside any
// transaction, and applies the channel's answer when it is final.
func (s *Service) submitRefund(ctx context.Context, merchant commerce.MerchantID, id PaymentID, refund commerce.RefundID) error {
	const op = "payment.refund"
	pay, err := s.store.GetPayment(ctx, merchant, id)
	if err != nil {
		return commerce.Wrap(op, err)
	}
	r, ok := pay.Refund(refund)
	if !ok || r.Status != RefundProcessing {
		return nil
	}
	prov, err := s.provider(op, pay.Provider)
	if err != nil {
		return err
	}
	res, err := prov.Refund(ctx, RefundRequest{Account: pay.Account, RefundNo: r.RefundNo, PaymentNo: pay.PaymentNo, ProviderRef: pay.ProviderRef,
		Amount: r.Amount, Total: pay.Amount, Reason: r.Reason})
	if err != nil {
		return providerUnavailable(op, prov.Name(), err)
	}
	if res.RefundNo == "" {
		res.RefundNo, res.PaymentNo = r.RefundNo, pay.PaymentNo
	}
	if res.State == RefundProcessing {
		return commerce.Wrap(op, s.store.InTx(ctx, func(ctx context.Context) error { return s.markSubmitted(ctx, pay, refund, res.ProviderRef) }))
	}
	if res.State == RefundSucceeded && !res.Amount.IsSet() {
		res.Amount = r.Amount
	}
	_, err = s.ApplyNotification(ctx, prov.Name(), &Notification{Kind: NotifyRefund, EventType: "refund.response", Refund: res})
	return err
}

// providerUnavailable is the error of a failed channel call whose request
// stays on record (a refund left processing, RunDue sends it again): try
// again later, one kind. The channel's error is kept for errors.Is only when
// it matches no kind or the same one, so the answer never matches both
// unavailable and, say, internal.
func providerUnavailable(op, provider string, err error) error {
	for _, other := range []error{commerce.ErrInternal, commerce.ErrNotFound, commerce.ErrConflict, commerce.ErrInvalid, commerce.ErrFailedPrecondition} {
		if errors.Is(err, other) {
			return &commerce.Error{Op: op, Kind: commerce.KindUnavailable, Err: fmt.Errorf("provider %s: %v", provider, err)}
		}
	}
	return &commerce.Error{Op: op, Kind: commerce.KindUnavailable, Err: fmt.Errorf("provider %s: %w", provider, err)}
}

// OrderChanged implements commerce.OrderHook: an order cancelled before
// payment closes its open payment, in the cancelling transaction; RunDue
// tells the channel afterwards. The parts of an order its tenders paid
// (stored value) become payments of their own and enter the settlement
// ledger when it is paid, and leave it as refunds give them back.
func (s *Service) OrderChanged(ctx context.Context, c commerce.OrderChange) error {
	if len(c.Order.Tenders) > 0 {
		if err := s.tenderPayments(ctx, c); err != nil {
			return err
		}
	}
	if c.Action == commerce.ActionComplete {
		return s.settleShare(ctx, c.Order)
	}
	if c.Order.Status != commerce.StatusCancelled || !c.Order.PaidAt.IsZero() {
		return nil
	}
	pays, err := s.store.OrderPayments(ctx, c.Order.MerchantID, c.Order.ID)
	if err != nil {
		return err
	}
	for _, p := range pays {
		if p.Status != Pending {
			continue
		}
		err := s.store.UpdatePayment(ctx, p.MerchantID, p.ID, func(p *Payment) error {
			if p.Status == Pending {
				p.Status, p.CloseAtProvider, p.Updated = Closed, true, s.now()
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// RunDue does the payment work that waits for no one, outside
// transactions: it tells channels about payments closed in minishop, sends
// refunds that were committed but never reached the channel (after a crash
// or a channel outage), and takes over kernel refunds older than
// Config.RefundGrace that never reached the payment service at all (the
// process died between the kernel's commit and its hand-off): it records
// them against the order's payment and sends them. It is safe to call from
// several processes: a refund is recorded once under the payment's row lock,
// and channels treat the numbers as idempotency keys. It returns how many it
// handled.
func (s *Service) RunDue(ctx context.Context) (int, error) {
	const op = "payment.run_due"
	done := 0
	closing, err := s.store.PaymentsToClose(ctx, 100)
	if err != nil {
		return 0, commerce.Wrap(op, err)
	}
	var errs []error
	for _, p := range closing {
		prov, err := s.provider(op, p.Provider)
		if err == nil {
			err = prov.ClosePayment(ctx, p.Account, p.PaymentNo)
		}
		if err == nil {
			err = s.store.UpdatePayment(ctx, p.MerchantID, p.ID, func(p *Payment) error {
				p.CloseAtProvider, p.Updated = false, s.now()
				return nil
			})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", p.PaymentNo, err))
			continue
		}
		done++
	}
	// Kernel refunds first: those it records join the sending below.
	n, err := s.adoptKernelRefunds(ctx)
	done += n
	if err != nil {
		errs = append(errs, err)
	}
	pending, err := s.store.PendingRefunds(ctx, 100)
	if err != nil {
		return done, commerce.Wrap(op, err)
	}
	for _, p := range pending {
		for _, r := range p.Refunds {
			if r.Status == RefundProcessing && !r.Submitted {
				if err := s.submitRefund(ctx, p.MerchantID, p.ID, r.ID); err != nil {
					errs = append(errs, err)
					continue
				}
				done++
			}
		}
	}
	n, shareErrs := s.runShares(ctx)
	done += n
	errs = append(errs, shareErrs...)
	if len(errs) > 0 {
		return done, &commerce.Error{Op: op, Kind: commerce.KindUnavailable, Err: errors.Join(errs...)}
	}
	return done, nil
}

// adoptKernelRefunds records, against the order's payment, every kernel
// refund pending since before the grace period that the payment service has
// no record of, and sends it. It pages through the orders with such refunds
// by ID, so an order whose refund cannot be recorded does not hide the rest.
func (s *Service) adoptKernelRefunds(ctx context.Context) (int, error) {
	const op = "payment.run_due"
	const batch = 100
	cutoff := s.now().Add(-s.grace)
	done := 0
	var errs []error
	var after commerce.OrderID
	for {
		refs, err := s.store.RefundingOrders(ctx, cutoff, after, batch)
		if err != nil {
			errs = append(errs, commerce.Wrap(op, err))
			break
		}
		for _, ref := range refs {
			after = ref.ID
			n, err := s.adoptOrderRefunds(ctx, ref, cutoff)
			done += n
			if err != nil {
				errs = append(errs, fmt.Errorf("order %s: %w", ref.ID, err))
			}
		}
		if len(refs) < batch {
			break
		}
	}
	if len(errs) > 0 {
		return done, &commerce.Error{Op: op, Kind: commerce.KindUnavailable, Err: errors.Join(errs...)}
	}
	return done, nil
}

func (s *Service) adoptOrderRefunds(ctx context.Context, ref commerce.OrderRef, cutoff time.Time) (int, error) {
	o, err := s.commerce.GetOrder(ctx, ref.MerchantID, ref.ID)
	if err != nil {
		return 0, err
	}
	pay, err := s.store.PaymentByNo(ctx, o.PaymentRef)
	if err != nil {
		// Paid outside this service: its refunds are the host's to carry.
		if commerce.KindOf(err) == commerce.KindNotFound {
			return 0, nil
		}
		return 0, err
	}
	done := 0
	for _, r := range o.Refunds {
		if r.Status != commerce.RefundPending || r.Created.After(cutoff) {
			continue
		}
		if _, ok := pay.Refund(r.ID); ok {
			continue // recorded: sent by the loop over PendingRefunds, or waiting for the channel
		}
		err := s.RequestRefund(ctx, commerce.RefundRequest{MerchantID: o.MerchantID, OrderID: o.ID, RefundID: r.ID,
			PaymentRef: o.PaymentRef, Amount: r.Channel(), OrderTotal: o.Due(), Reason: r.Reason})
		if err != nil {
			return done, err
		}
		done++
	}
	return done, nil
}

// ReconcileRefund asks the channel for a processing refund's state and
// applies a final answer as if it were the refund notification.
func (s *Service) ReconcileRefund(ctx context.Context, merchant commerce.MerchantID, id PaymentID, refund commerce.RefundID) (*Payment, error) {
	const op = "payment.reconcile_refund"
	if err := commerce.CheckID(op, "merchant_id", merchant); err != nil {
		return nil, err
	}
	pay, err := s.store.GetPayment(ctx, merchant, id)
	if err != nil {
		return nil, commerce.Wrap(op, err)
	}
	r, ok := pay.Refund(refund)
	if !ok {
		return nil, commerce.Errorf(op, commerce.KindNotFound, "payment %s has no refund %s", pay.PaymentNo, refund)
	}
	if r.Status != RefundProcessing {
		return pay, nil
	}
	prov, err := s.provider(op, pay.Provider)
	if err != nil {
		return nil, err
	}
	res, err := prov.QueryRefund(ctx, pay.Account, r.RefundNo)
	if err != nil {
		return nil, &commerce.Error{Op: op, Kind: commerce.KindUnavailable, Err: fmt.Errorf("provider %s: %w", prov.Name(), err)}
	}
	if res.State != RefundProcessing {
		if res.PaymentNo == "" {
			res.PaymentNo = pay.PaymentNo
		}
		if _, err := s.ApplyNotification(ctx, prov.Name(), &Notification{Kind: NotifyRefund, EventType: "query", Refund: res}); err != nil {
			return nil, err
		}
	}
	return s.GetPayment(ctx, merchant, id)
}

// Reconcile asks the channel for a pending payment's state and applies the
// answer as if it were a notification: the remedy WeChat Pay prescribes when
// a notification never comes.
func (s *Service) Reconcile(ctx context.Context, merchant commerce.MerchantID, id PaymentID) (*Payment, error) {
	const op = "payment.reconcile"
	if err := commerce.CheckID(op, "merchant_id", merchant); err != nil {
		return nil, err
	}
	pay, err := s.store.GetPayment(ctx, merchant, id)
	if err != nil {
		return nil, commerce.Wrap(op, err)
	}
	if pay.Status != Pending {
		return pay, nil
	}
	prov, err := s.provider(op, pay.Provider)
	if err != nil {
		return nil, err
	}
	t, err := prov.QueryPayment(ctx, pay.Account, pay.PaymentNo)
	if err != nil {
		return nil, &commerce.Error{Op: op, Kind: commerce.KindUnavailable, Err: fmt.Errorf("provider %s: %w", prov.Name(), err)}
	}
	if t.State != TxPending {
		if _, err := s.ApplyNotification(ctx, prov.Name(), &Notification{Kind: NotifyPayment, EventType: "query", Transaction: t}); err != nil {
			return nil, err
		}
	}
	return s.GetPayment(ctx, merchant, id)
}

// tenderPayments records, when the order is paid, what each of its
// tenders paid as a payment of its own (succeeded, no fees) with its
// ledger entries, the merchant's; and, when a refund succeeds, what the
// refund returns to each tender as a succeeded refund of that payment,
// taken back from the ledger. Ledger refs name the tender's plugin and
// instrument ("storedvalue:card:…").
func (s *Service) tenderPayments(ctx context.Context, c commerce.OrderChange) error {
	o := c.Order
	switch {
	case c.Action == commerce.ActionPay:
		now := s.now()
		paid := o.PaidAt
		if paid.IsZero() {
			paid = now
		}
		for i, t := range o.Tenders {
			id := commerce.IDFrom[paymentTag](s.ids.NewUUID())
			zero := commerce.Zero(o.Currency)
			p := &Payment{ID: id, MerchantID: o.MerchantID, OrderID: o.ID, CustomerID: o.CustomerID, Provider: t.Plugin,
				PaymentNo: number(id), Amount: t.Amount, Status: Succeeded, ProviderRef: t.Ref, PaidAt: paid,
				Fees: Fees{Channel: zero, Platform: zero}, Tender: i + 1, Created: now, Updated: now}
			if err := s.store.InsertPayment(ctx, p); err != nil {
				return err
			}
			if err := s.ledger(ctx, p, tenderRef(t), []LedgerEntry{{Party: PartyMerchant, Amount: t.Amount}}); err != nil {
				return err
			}
		}
	case c.Action == commerce.ActionRefundOK && c.Refund != nil:
		if !slices.ContainsFunc(c.Refund.Tenders, commerce.Money.IsPositive) {
			return nil
		}
		pays, err := s.store.OrderPayments(ctx, o.MerchantID, o.ID)
		if err != nil {
			return err
		}
		for _, p := range pays {
			i := p.Tender - 1
			if i < 0 || i >= len(c.Refund.Tenders) || i >= len(o.Tenders) || !c.Refund.Tenders[i].IsPositive() {
				continue
			}
			part, r := c.Refund.Tenders[i], c.Refund
			recorded := false
			err := s.store.UpdatePayment(ctx, p.MerchantID, p.ID, func(p *Payment) error {
				if _, ok := p.Refund(r.ID); ok {
					return nil
				}
				if after, _ := p.Committed().Add(part); exceeds(after, p.Amount) {
					return commerce.Errorf("payment.refund", commerce.KindInternal, "refund %s would return %s of tender payment %s of %s", r.ID, after, p.PaymentNo, p.Amount)
				}
				now := s.now()
				p.Refunds = append(p.Refunds, Refund{ID: r.ID, RefundNo: number(r.ID), Amount: part, Status: RefundSucceeded,
					Reason: r.Reason, Created: now, Updated: now})
				p.Updated, recorded = now, true
				return nil
			})
			if err != nil {
				return err
			}
			if recorded {
				if err := s.ledger(ctx, p, tenderRef(o.Tenders[i]), []LedgerEntry{{Party: PartyMerchant, Amount: part.Neg()}}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// tenderRef is the ledger ref of a tender's entries.
func tenderRef(t commerce.Tender) string { return t.Plugin + ":" + t.Ref }
