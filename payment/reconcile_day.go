package payment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/minishop/minishop/commerce"
)

// DayReport is what ReconcileDay found comparing a channel's statement of a
// day with minishop's payments and refunds. Every item is in exactly one
// list; the lists follow the statement's line order, then minishop's
// payment order.
type DayReport struct {
	Provider string
	Account  Account
	Day      string    // the statement's date, in the channel's time zone
	From, To time.Time // the instants the day spans, [From, To)
	// Matched lines agree with minishop to the fen: amount and fee.
	Matched []BillItem
	// Applied lines were final at the channel while minishop still had
	// them pending (a lost notification): each was applied by asking the
	// channel (Reconcile, ReconcileRefund), never on the statement's word,
	// and agrees with minishop now.
	Applied []BillItem
	// ChannelOnly lines are at the channel but not in minishop, or not
	// paid there even after asking the channel: money minishop does not
	// account for.
	ChannelOnly []BillItem
	// MinishopOnly items succeeded (or were asked for, for refunds) in
	// minishop during the day and are absent from the statement.
	MinishopOnly []BillItem
	// Differences are lines whose amount or fee differs from minishop's.
	Differences []BillItem
	Totals      DayTotals
}

// BillItem is one payment or refund of a DayReport.
type BillItem struct {
	Kind       BillLineKind
	PaymentNo  string
	RefundNo   string // refunds only
	MerchantID commerce.MerchantID
	PaymentID  PaymentID // zero when minishop has no such payment
	// Line is the statement's line number; 0 for MinishopOnly items.
	Line int
	// Channel and ChannelFee are the statement's amount and fee (unset
	// for MinishopOnly items); Minishop and MinishopFee are minishop's
	// (unset when minishop has no record). A refund's fee is the fee it
	// gives back, negative on both sides.
	Channel, ChannelFee   commerce.Money
	Minishop, MinishopFee commerce.Money
	Note                  string
}

// DayTotals sum a report's sides, to the fen (fees exactly as written).
// Channel sums every statement line; Minishop sums minishop's side of every
// item that has one. Refunds count positive in Refunded; Fees are net (a
// refund's returned fee subtracts).
type DayTotals struct {
	Lines                                     int
	ChannelPaid, ChannelRefunded, ChannelFees commerce.Money
	Paid, Refunded, Fees                      commerce.Money
}

// ReconcileDay reads provider's statement of day for account (a Provider
// that implements BillSource) and compares it with minishop's records:
// payments and refunds, amounts and channel fees. A statement line minishop
// has pending (its notification was lost) is settled through the verified
// path, by asking the channel as Reconcile and ReconcileRefund do: a
// statement is not signed by the channel, so it never marks anything paid
// by itself. Running it again applies nothing again: what it applied is
// matched the next time.
//
// day's calendar date (as written in its location) names the channel's
// day; see BillSource. The statement is read whole and checked before
// anything is compared or applied: a statement that fails its digest or is
// cut short is an error and changes nothing. A statement not generated yet
// is an error matching ErrBillNotReady. Channel failures are
// KindUnavailable: ask again, the report is the same.
//
// Refunds are compared by the fee they give back, computed as the ledger
// does (cumulatively, in the order the payment's refunds were asked for).
// A refund the channel accepted after midnight is on the next day's
// statement, and is reported MinishopOnly for its own day, with a note.
func (s *Service) ReconcileDay(ctx context.Context, provider string, account Account, day time.Time) (*DayReport, error) {
	const op = "payment.reconcile_day"
	prov, err := s.provider(op, provider)
	if err != nil {
		return nil, err
	}
	src, ok := prov.(BillSource)
	if !ok {
		return nil, commerce.Errorf(op, commerce.KindFailedPrecondition, "provider %s publishes no statements", prov.Name())
	}
	if err := commerce.CheckKey(op, "account.sub_merchant", account.SubMerchant, false, commerce.MaxKeyLen); err != nil {
		return nil, err
	}
	bill, err := src.DayBill(ctx, account, day)
	if err != nil {
		return nil, commerce.Wrap(op, fmt.Errorf("provider %s: %w", prov.Name(), err))
	}
	if err := checkBill(op, bill); err != nil {
		return nil, err
	}
	r := &reconciler{s: s, op: op, prov: prov, account: account, bill: bill, byNo: map[string]*Payment{},
		seenPay: map[string]bool{}, seenRefund: map[string]bool{},
		rep: &DayReport{Provider: prov.Name(), Account: account, Day: bill.Day, From: bill.From, To: bill.To}}
	if err := r.load(ctx); err != nil {
		return nil, err
	}
	for i := range bill.Lines {
		if err := r.line(ctx, &bill.Lines[i]); err != nil {
			return nil, err
		}
	}
	r.minishopOnly()
	r.totals()
	return r.rep, nil
}

type reconciler struct {
	s       *Service
	op      string
	prov    Provider
	account Account
	bill    *Bill
	rep     *DayReport
	// byNo holds the day's payments and every payment a line named.
	byNo       map[string]*Payment
	day        []*Payment // the day's payments, in ID order
	seenPay    map[string]bool
	seenRefund map[string]bool
}

// load reads minishop's payments of the day, page by page.
func (r *reconciler) load(ctx context.Context) error {
	const page = 500
	var after PaymentID
	for {
		ps, err := r.s.store.PaymentsBetween(ctx, r.prov.Name(), r.bill.From, r.bill.To, after, page)
		if err != nil {
			return commerce.Wrap(r.op, err)
		}
		for _, p := range ps {
			after = p.ID
			if p.account() != r.account {
				continue
			}
			r.day = append(r.day, p)
			r.byNo[p.PaymentNo] = p
		}
		if len(ps) < page {
			return nil
		}
	}
}

// payment returns minishop's payment with number no, or nil.
func (r *reconciler) payment(ctx context.Context, no string) (*Payment, error) {
	if p, ok := r.byNo[no]; ok {
		return p, nil
	}
	p, err := r.s.store.PaymentByNo(ctx, no)
	if commerce.KindOf(err) == commerce.KindNotFound {
		r.byNo[no] = nil
		return nil, nil
	}
	if err != nil {
		return nil, commerce.Wrap(r.op, err)
	}
	r.byNo[no] = p
	return p, nil
}

func (r *reconciler) line(ctx context.Context, l *BillLine) error {
	it := BillItem{Kind: l.Kind, PaymentNo: l.PaymentNo, RefundNo: l.RefundNo, Line: l.Line, Channel: l.Amount, ChannelFee: l.Fee}
	p, err := r.payment(ctx, l.PaymentNo)
	if err != nil {
		return err
	}
	switch {
	case p == nil:
		it.Note = "minishop has no payment " + l.PaymentNo
		r.rep.ChannelOnly = append(r.rep.ChannelOnly, it)
		return nil
	case p.Provider != r.prov.Name():
		it.Note = fmt.Sprintf("minishop's payment %s went through %s", p.PaymentNo, p.Provider)
		r.rep.ChannelOnly = append(r.rep.ChannelOnly, it)
		return nil
	case l.SubMerchant != p.account().SubMerchant:
		it.Note = fmt.Sprintf("the statement lists it for sub-merchant %q, minishop for %q", l.SubMerchant, p.account().SubMerchant)
		r.rep.ChannelOnly = append(r.rep.ChannelOnly, it)
		return nil
	}
	it.MerchantID, it.PaymentID = p.MerchantID, p.ID
	if l.Kind == BillPayment {
		return r.paymentLine(ctx, l, p, it)
	}
	return r.refundLine(ctx, l, p, it)
}

func (r *reconciler) paymentLine(ctx context.Context, l *BillLine, p *Payment, it BillItem) error {
	if r.seenPay[p.PaymentNo] {
		it.Note = "listed twice in the statement"
		r.rep.Differences = append(r.rep.Differences, it)
		return nil
	}
	r.seenPay[p.PaymentNo] = true
	applied := false
	if p.Status != Succeeded {
		was := p.Status
		got, err := r.fromChannel(ctx, p)
		switch {
		case errors.Is(err, ErrRejected):
			it.Note = "the channel's answer was rejected: " + err.Error()
			r.rep.ChannelOnly = append(r.rep.ChannelOnly, it)
			return nil
		case err != nil:
			return err
		}
		r.byNo[got.PaymentNo] = got
		p = got
		if p.Status != Succeeded {
			it.Note = fmt.Sprintf("minishop's payment is %s, and the channel answers it is not paid", p.Status)
			r.rep.ChannelOnly = append(r.rep.ChannelOnly, it)
			return nil
		}
		applied = true
		it.Note = fmt.Sprintf("was %s in minishop; paid at the channel, applied", was)
	}
	it.Minishop, it.MinishopFee = p.Amount, p.Fees.Channel
	var diffs []string
	if !l.Amount.Equal(p.Amount) {
		diffs = append(diffs, fmt.Sprintf("amount %s at the channel, %s in minishop", l.Amount, p.Amount))
	}
	if l.Fee.IsSet() && !l.Fee.Equal(p.Fees.Channel) {
		diffs = append(diffs, fmt.Sprintf("fee %s at the channel, %s in minishop", l.Fee.Amount(), p.Fees.Channel.Amount()))
	}
	r.place(it, applied, diffs)
	return nil
}

func (r *reconciler) refundLine(ctx context.Context, l *BillLine, p *Payment, it BillItem) error {
	key := p.PaymentNo + "/" + l.RefundNo
	rf, ok := p.refundByNo(l.RefundNo)
	if !ok {
		it.Note = fmt.Sprintf("minishop's payment %s has no refund %s", p.PaymentNo, l.RefundNo)
		r.rep.ChannelOnly = append(r.rep.ChannelOnly, it)
		return nil
	}
	if r.seenRefund[key] {
		it.Note = "listed twice in the statement"
		r.rep.Differences = append(r.rep.Differences, it)
		return nil
	}
	r.seenRefund[key] = true
	applied := false
	if rf.Status == RefundProcessing {
		got, err := r.s.ReconcileRefund(ctx, p.MerchantID, p.ID, rf.ID)
		switch {
		case errors.Is(err, ErrRejected):
			it.Note = "the channel's answer was rejected: " + err.Error()
			r.rep.ChannelOnly = append(r.rep.ChannelOnly, it)
			return nil
		case err != nil:
			return err
		}
		r.byNo[got.PaymentNo] = got
		p = got
		rf, _ = p.refundByNo(l.RefundNo)
		applied = rf.Status != RefundProcessing
		if applied {
			it.Note = "was processing in minishop; final at the channel, applied"
		}
	}
	it.Minishop, it.MinishopFee = rf.Amount, refundChannelFee(p, rf).Neg()
	var diffs []string
	if !l.Amount.Equal(rf.Amount) {
		diffs = append(diffs, fmt.Sprintf("refund %s at the channel, %s in minishop", l.Amount, rf.Amount))
	}
	if l.Fee.IsSet() && !l.Fee.Equal(it.MinishopFee) {
		diffs = append(diffs, fmt.Sprintf("fee returned %s at the channel, %s in minishop", l.Fee.Amount(), it.MinishopFee.Amount()))
	}
	if rf.Status == RefundFailed && len(diffs) == 0 {
		it.Note = "failed at the channel after it was asked for (" + rf.FailureReason + ")"
	}
	r.place(it, applied, diffs)
	return nil
}

// fromChannel asks the channel for a payment minishop has not seen paid
// and applies a final answer as if it were the notification, as Reconcile
// does; unlike Reconcile it also asks for a closed or failed payment, since
// the statement says money arrived: applied, it is refunded as money that
// came for a closed payment.
func (r *reconciler) fromChannel(ctx context.Context, p *Payment) (*Payment, error) {
	t, err := r.prov.QueryPayment(ctx, p.Account, p.PaymentNo)
	if err != nil {
		return nil, providerUnavailable(r.op, r.prov.Name(), err)
	}
	if t.State != TxPending {
		if _, err := r.s.ApplyNotification(ctx, r.prov.Name(), &Notification{Kind: NotifyPayment, EventType: "query", Transaction: t}); err != nil {
			return nil, err
		}
	}
	got, err := r.s.store.GetPayment(ctx, p.MerchantID, p.ID)
	return got, commerce.Wrap(r.op, err)
}

// place files an item compared with minishop.
func (r *reconciler) place(it BillItem, applied bool, diffs []string) {
	switch {
	case len(diffs) > 0:
		for i, d := range diffs {
			if i > 0 || it.Note != "" {
				it.Note += "; "
			}
			it.Note += d
		}
		r.rep.Differences = append(r.rep.Differences, it)
	case applied:
		r.rep.Applied = append(r.rep.Applied, it)
	default:
		r.rep.Matched = append(r.rep.Matched, it)
	}
}

// minishopOnly files the day's payments and refunds no line named.
func (r *reconciler) minishopOnly() {
	in := func(t time.Time) bool { return !t.Before(r.bill.From) && t.Before(r.bill.To) }
	for _, p := range r.day {
		if p.Status == Succeeded && in(p.PaidAt) && !r.seenPay[p.PaymentNo] {
			r.rep.MinishopOnly = append(r.rep.MinishopOnly, BillItem{Kind: BillPayment, PaymentNo: p.PaymentNo,
				MerchantID: p.MerchantID, PaymentID: p.ID, Minishop: p.Amount, MinishopFee: p.Fees.Channel,
				Note: "paid in minishop (as the channel reported) but not on the statement"})
		}
		for i := range p.Refunds {
			rf := &p.Refunds[i]
			if rf.Status == RefundFailed || !in(rf.Created) || r.seenRefund[p.PaymentNo+"/"+rf.RefundNo] {
				continue
			}
			note := "asked for in minishop, not on the statement"
			if !rf.Submitted {
				note += " (not yet accepted by the channel)"
			} else {
				note += " (if the channel accepted it after midnight, it is on the next day's)"
			}
			r.rep.MinishopOnly = append(r.rep.MinishopOnly, BillItem{Kind: BillRefund, PaymentNo: p.PaymentNo, RefundNo: rf.RefundNo,
				MerchantID: p.MerchantID, PaymentID: p.ID, Minishop: rf.Amount, MinishopFee: refundChannelFee(p, rf).Neg(), Note: note})
		}
	}
}

// refundChannelFee is the channel fee refund rf gives back: the payment's
// fee in proportion to the refunds asked for up to and including it, less
// that of those before it (failed ones count nothing), rounded as the
// ledger rounds.
func refundChannelFee(p *Payment, rf *Refund) commerce.Money {
	before := commerce.Zero(p.Amount.Currency())
	for i := range p.Refunds {
		q := &p.Refunds[i]
		if q.ID == rf.ID {
			break
		}
		if q.Status != RefundFailed {
			before, _ = before.Add(q.Amount)
		}
	}
	if rf.Status == RefundFailed || !p.Fees.Channel.IsSet() {
		return commerce.Zero(p.Amount.Currency())
	}
	after, _ := before.Add(rf.Amount)
	fee, _ := prorate(p.Fees.Channel, after, p.Amount).Sub(prorate(p.Fees.Channel, before, p.Amount))
	return fee
}

func (r *reconciler) totals() {
	t := &r.rep.Totals
	t.Lines = len(r.bill.Lines)
	for _, l := range r.bill.Lines {
		if l.Kind == BillPayment {
			t.ChannelPaid = plus(t.ChannelPaid, l.Amount)
		} else {
			t.ChannelRefunded = plus(t.ChannelRefunded, l.Amount)
		}
		if l.Fee.IsSet() {
			t.ChannelFees = plus(t.ChannelFees, l.Fee)
		}
	}
	for _, list := range [][]BillItem{r.rep.Matched, r.rep.Applied, r.rep.Differences, r.rep.MinishopOnly} {
		for _, it := range list {
			if !it.Minishop.IsSet() {
				continue
			}
			if it.Kind == BillPayment {
				t.Paid = plus(t.Paid, it.Minishop)
			} else {
				t.Refunded = plus(t.Refunded, it.Minishop)
			}
			if it.MinishopFee.IsSet() {
				t.Fees = plus(t.Fees, it.MinishopFee)
			}
		}
	}
}

// plus adds b to a, a unset meaning nothing yet. Amounts of a report are in
// the statement's currency; one in another is left out of the total rather
// than failing the report (it shows as a difference already).
func plus(a, b commerce.Money) commerce.Money {
	if !a.IsSet() {
		return b
	}
	if sum, err := a.Add(b); err == nil {
		return sum
	}
	return a
}
