package payment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/storage"
)

// A merchant with a sharing plan is paid with profit sharing: its payments
// open frozen (CreateRequest.ProfitSharing), and when an order settles (the
// kernel's ActionComplete, after the after-sales window) the payment
// service opens one sharing order for the payment. The service provider's
// fee (SharingPlan.Fee) and the commission the promoter package settles
// (ShareCommission) become its lines, in the settling transaction, under
// the payment's row lock: a refund racing the settlement is checked
// against what is shared and a share against what is refunded, so the same
// money is never both. RunDue sends the order after commit (adding each
// receiver first), with the rest unfrozen to the merchant, and follows it
// to its end; a settled order with nothing to share is unfrozen alone.

// Sharing limits WeChat Pay documents (wechatpay checks its own too).
const (
	// MaxShareReceivers is the most receivers one sharing order takes.
	MaxShareReceivers = 50
	// MaxSharesPerPayment is the most sharing orders one payment takes.
	MaxSharesPerPayment = 50
	// ShareDelay is how long after payment the channel accepts a sharing
	// order (WeChat asks to wait about a minute).
	ShareDelay = time.Minute
	// FreezePeriod is how long the channel keeps a payment frozen: after
	// it the money unfreezes to the merchant and nothing can be shared.
	FreezePeriod = 30 * 24 * time.Hour
)

// DefaultMaxShareRatio is the part of a payment a merchant may share to
// others unless its channel agreed more (WeChat: 30 %).
var DefaultMaxShareRatio = commerce.MustPercent(30)

// PartyProvider is the service provider's fee, shared to it by profit
// sharing (SharingPlan.Fee).
const PartyProvider Party = "provider"

// SharingPlan is how a merchant's payments are shared.
type SharingPlan struct {
	// Fee is the service provider's fee of each settled payment (net of
	// refunds), shared to FeeTo; zero for none.
	Fee   commerce.Rate
	FeeTo Payee
	// MaxRatio is the most of a payment shared to others: the channel's
	// limit for the merchant (DefaultMaxShareRatio when zero).
	MaxRatio commerce.Rate
}

// ShareLine is one receiver's part of a payment's sharing order.
type ShareLine struct {
	Party Party
	// Ref names the party for its statements (a promoter's or agency's
	// ID; the provider's fee: "fee").
	Ref string
	// Source is what the line pays (a commission part), unique among the
	// payment's lines: given again it is not added twice.
	Source string
	// Payees are the party's accounts, of which the one the channel can
	// pay is picked (Payee) when the line is added.
	Payees      []Payee `json:"-"`
	Payee       Payee
	Amount      commerce.Money
	Description string
	// Result is the channel's outcome for the line (empty until it ends),
	// FailReason why a closed line was not paid.
	Result     ShareResultState
	FailReason string
	// Returns take back parts of a business receiver's share after a
	// refund (ReturnShare).
	Returns []ShareReturn `json:",omitempty"`
}

// ShareReturn is a return of part of a line's share (WeChat: a return
// order, 分账回退), asked for when the order is refunded after sharing.
type ShareReturn struct {
	// ReturnNo is the number the channel knows it by (out_return_no).
	ReturnNo string
	Amount   commerce.Money
	// Sent: the channel has it; State is then its state there.
	Sent             bool
	State            ReturnState
	FailReason       string
	Created, Updated time.Time
}

// returned is what the line's returns took back or are taking back.
func (l *ShareLine) returned() commerce.Money {
	sum := commerce.Zero(l.Amount.Currency())
	for _, r := range l.Returns {
		if r.State != ReturnFailed {
			sum, _ = sum.Add(r.Amount)
		}
	}
	return sum
}

// Share is one sharing order of a payment.
type Share struct {
	// OrderNo is the number the channel knows it by (out_order_no).
	OrderNo string
	Lines   []ShareLine
	// Sent: the channel has the order; State is then its state there.
	Sent        bool
	State       ShareState
	ProviderRef string
	// Failed is why the channel refused the order outright (nothing was
	// shared; the money unfreezes to the merchant at the freeze period's
	// end).
	Failed           string
	Created, Updated time.Time
}

// Final reports whether the share has ended.
func (sh *Share) Final() bool { return sh.State == ShareFinished || sh.Failed != "" }

// Shared is what the payment's sharing orders take or have taken from it
// for others: every line not closed, of every order not refused.
func (p *Payment) Shared() commerce.Money {
	sum := commerce.Zero(p.Amount.Currency())
	for _, sh := range p.Shares {
		if sh.Failed != "" {
			continue
		}
		for _, l := range sh.Lines {
			if l.Result != ShareClosed {
				sum, _ = sum.Add(l.Amount)
				sum, _ = sum.Sub(l.returned())
			}
		}
	}
	return sum
}

// share returns the payment's sharing order with the number, or nil.
func (p *Payment) share(orderNo string) *Share {
	for i := range p.Shares {
		if p.Shares[i].OrderNo == orderNo {
			return &p.Shares[i]
		}
	}
	return nil
}

// openShare returns the payment's share still collecting lines (not yet
// sent), or nil.
func (p *Payment) openShare() *Share {
	for i := range p.Shares {
		if !p.Shares[i].Sent && p.Shares[i].Failed == "" {
			return &p.Shares[i]
		}
	}
	return nil
}

// hasSource reports whether a line of the payment's shares pays source.
func (p *Payment) hasSource(source string) bool {
	for _, sh := range p.Shares {
		for _, l := range sh.Lines {
			if l.Source == source {
				return true
			}
		}
	}
	return false
}

// ShareHandler applies the end of a commission line (succeeded or closed)
// inside the transaction that records it (Config.Shares; the promoter
// package's ApplyShare).
type ShareHandler func(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID, l ShareLine) error

// Record kinds of profit sharing.
const (
	kindSharing = "payment.sharing" // a merchant's plan, key provider:merchant
	kindShare   = "payment.share"   // a sharing order's work, key OrderNo
	kindReturn  = "payment.share_return"
)

// MaxReturnsPerShare is the most return orders one sharing order takes
// (WeChat: 20).
const MaxReturnsPerShare = 20

// shareDoc is a kindShare record's document: where its payment is.
type shareDoc struct {
	Merchant commerce.MerchantID
	Payment  PaymentID
	// For a kindReturn record: the line's source and its sharing order.
	Source, OrderNo string `json:",omitempty"`
}

// SetSharingPlan turns profit sharing on for the merchant's payments
// through provider (nil turns it off for payments opened from now on;
// those opened with it are still shared when they settle). The provider
// must share (Sharer), and the fee's receiver must be one it can pay.
func (s *Service) SetSharingPlan(ctx context.Context, merchant commerce.MerchantID, provider string, plan *SharingPlan) error {
	const op = "payment.set_sharing_plan"
	if err := commerce.CheckID(op, "merchant_id", merchant); err != nil {
		return err
	}
	prov, err := s.provider(op, provider)
	if err != nil {
		return err
	}
	if _, ok := prov.(Sharer); !ok {
		return commerce.Invalid(op, "provider", "provider %s cannot share payments", prov.Name())
	}
	status, doc := "off", []byte("null")
	if plan != nil {
		if err := s.checkPlan(op, *plan); err != nil {
			return err
		}
		if doc, err = json.Marshal(plan); err != nil {
			return commerce.Wrap(op, err)
		}
		status = "on"
	}
	if _, err := s.commerce.GetMerchant(ctx, merchant); err != nil {
		return commerce.NotFoundAs(op, "merchant_id", err)
	}
	return commerce.Wrap(op, s.setRecord(ctx, kindSharing, accountKey(prov.Name(), merchant), status, doc))
}

func (s *Service) checkPlan(op string, p SharingPlan) error {
	hundred := commerce.MustPercent(100).PPM()
	if p.Fee.PPM() < 0 || p.Fee.PPM() > hundred {
		return commerce.Invalid(op, "plan.fee", "rate %s is outside 0 %%..100 %%", p.Fee)
	}
	if p.MaxRatio.PPM() < 0 || p.MaxRatio.PPM() > hundred {
		return commerce.Invalid(op, "plan.max_ratio", "rate %s is outside 0 %%..100 %%", p.MaxRatio)
	}
	if p.Fee.PPM() > p.maxRatio().PPM() {
		return commerce.Invalid(op, "plan.fee", "fee %s is above the %s the merchant may share", p.Fee, p.maxRatio())
	}
	if p.Fee.PPM() > 0 {
		if err := p.FeeTo.Validate(op, "plan.fee_to"); err != nil {
			return err
		}
	}
	return nil
}

func (p SharingPlan) maxRatio() commerce.Rate {
	if p.MaxRatio.PPM() == 0 {
		return DefaultMaxShareRatio
	}
	return p.MaxRatio
}

// SharingPlan returns the merchant's plan at provider, nil when it does
// not share.
func (s *Service) SharingPlan(ctx context.Context, merchant commerce.MerchantID, provider string) (*SharingPlan, error) {
	const op = "payment.sharing_plan"
	prov, err := s.provider(op, provider)
	if err != nil {
		return nil, err
	}
	p, err := s.plan(ctx, merchant, prov.Name())
	return p, commerce.Wrap(op, err)
}

func (s *Service) plan(ctx context.Context, merchant commerce.MerchantID, provider string) (*SharingPlan, error) {
	var p SharingPlan
	status, err := s.setting(ctx, kindSharing, accountKey(provider, merchant), &p)
	if err != nil || status != "on" {
		return nil, err
	}
	return &p, nil
}

// sharingPayment returns the order's succeeded payment opened with profit
// sharing, or nil; with frozen, only while it is still frozen. Past the
// channel's freeze period the money has unfrozen to the merchant by
// itself: nothing more can be shared, and the commission is left to
// payouts by transfer (an order received late settles after the period).
func (s *Service) sharingPayment(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID, frozen bool) (*Payment, error) {
	pays, err := s.store.OrderPayments(ctx, merchant, order)
	if err != nil {
		return nil, err
	}
	for _, p := range pays {
		if p.Status == Succeeded && p.ProfitSharing && (!frozen || !s.now().After(p.PaidAt.Add(FreezePeriod-ShareDelay))) {
			return p, nil
		}
	}
	return nil, nil
}

// ShareCommission adds commission lines to the sharing order of the
// order's payment, in ctx's transaction (the promoter package calls it
// when it settles commission). It reports false, adding nothing, when the
// payment is not shared (the commission is then paid by transfer). A line
// whose Source is already on the payment is skipped; a line the channel
// could not pay (no payee it can reach, over the sharable amount or the
// merchant's maximum ratio, too many receivers) fails the whole call,
// naming why, and nothing is recorded.
func (s *Service) ShareCommission(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID, lines []ShareLine) (bool, error) {
	const op = "payment.share_commission"
	var shared bool
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		pay, err := s.sharingPayment(ctx, merchant, order, true)
		if err != nil || pay == nil {
			return err
		}
		if ok, err := s.tenderShareFits(ctx, pay, lines); err != nil || !ok {
			return err
		}
		shared = true
		return s.addShareLines(ctx, op, pay, lines)
	})
	return shared, commerce.Wrap(op, err)
}

// tenderShareFits reports whether lines fit what the channel payment pay
// can still share, or its order had no tenders. Commission is on the
// order's total, but the channel holds only the part its payment took: an
// order mostly paid from stored value may owe its promoter more than the
// payment may share. Its commission is then left to payouts by transfer
// rather than refused (on an order without tenders, lines over the limit
// are a plan the merchant must fix, and addShareLines says so).
func (s *Service) tenderShareFits(ctx context.Context, pay *Payment, lines []ShareLine) (bool, error) {
	add := commerce.Zero(pay.Amount.Currency())
	for _, l := range lines {
		if !pay.hasSource(l.Source) && l.Amount.IsPositive() {
			add, _ = add.Add(l.Amount)
		}
	}
	plan, err := s.plan(ctx, pay.MerchantID, pay.Provider)
	if err != nil {
		return false, err
	}
	if plan == nil {
		plan = &SharingPlan{}
	}
	shared, _ := pay.Shared().Add(add)
	taken, _ := shared.Add(pay.Committed())
	if !exceeds(taken, pay.Amount) && !exceeds(shared, plan.maxRatio().Of(pay.Amount)) {
		return true, nil
	}
	pays, err := s.store.OrderPayments(ctx, pay.MerchantID, pay.OrderID)
	if err != nil {
		return false, err
	}
	return !slices.ContainsFunc(pays, func(p *Payment) bool { return p.Tender > 0 }), nil
}

// addShareLines adds lines to pay's open share (opening one), under the
// payment's row lock, and schedules the share.
func (s *Service) addShareLines(ctx context.Context, op string, pay *Payment, lines []ShareLine) error {
	_, sharer, err := s.sharer(op, pay)
	if err != nil {
		return err
	}
	plan, err := s.plan(ctx, pay.MerchantID, pay.Provider)
	if err != nil {
		return err
	}
	if plan == nil {
		plan = &SharingPlan{}
	}
	var opened *Share
	err = s.store.UpdatePayment(ctx, pay.MerchantID, pay.ID, func(p *Payment) error {
		now := s.now()
		if p.Status != Succeeded {
			return commerce.Errorf(op, commerce.KindFailedPrecondition, "payment %s is %s", p.PaymentNo, p.Status)
		}
		if now.After(p.PaidAt.Add(FreezePeriod)) {
			return commerce.Errorf(op, commerce.KindFailedPrecondition, "payment %s was paid %s ago: past the channel's %s freeze period, it has unfrozen to the merchant",
				p.PaymentNo, now.Sub(p.PaidAt).Round(time.Hour), FreezePeriod)
		}
		sh := p.openShare()
		if sh == nil {
			if len(p.Shares) >= MaxSharesPerPayment {
				return commerce.Errorf(op, commerce.KindFailedPrecondition, "payment %s has %d sharing orders, the most the channel takes", p.PaymentNo, len(p.Shares))
			}
			p.Shares = append(p.Shares, Share{OrderNo: number(s.ids.NewUUID()), Created: now})
			sh = &p.Shares[len(p.Shares)-1]
			opened = sh
		}
		for i, l := range lines {
			field := fmt.Sprintf("lines[%d]", i)
			if l.Source == "" {
				return commerce.Invalid(op, field+".source", "required")
			}
			if p.hasSource(l.Source) {
				continue
			}
			if !l.Amount.IsPositive() || l.Amount.Currency() != p.Amount.Currency() {
				return commerce.Invalid(op, field+".amount", "%s is not a positive amount in %s", l.Amount, p.Amount.Currency())
			}
			if l.Payee.Kind == "" {
				if l.Payee, err = pickPayee(l.Payees, sharer.ShareApps(p.Account)); err != nil {
					return commerce.Errorf(op, commerce.KindFailedPrecondition, "%s (%s %s): %v", field, l.Party, l.Ref, err)
				}
			}
			if err := l.Payee.Validate(op, field+".payee"); err != nil {
				return err
			}
			l.Payees, l.Result, l.FailReason = nil, "", ""
			l.Returns = nil
			sh.Lines = append(sh.Lines, l)
		}
		// The limits, on what the payment would then share.
		shared, refunds := p.Shared(), p.Committed()
		if after, _ := shared.Add(refunds); exceeds(after, p.Amount) {
			return commerce.Errorf(op, commerce.KindFailedPrecondition, "payment %s of %s would share %s with %s refunded or refunding: more than it took",
				p.PaymentNo, p.Amount, shared, refunds)
		}
		if most := plan.maxRatio().Of(p.Amount); exceeds(shared, most) {
			return commerce.Errorf(op, commerce.KindFailedPrecondition, "payment %s of %s would share %s: above the %s (%s) the merchant may share",
				p.PaymentNo, p.Amount, shared, most, plan.maxRatio())
		}
		if len(sh.Lines) > MaxShareReceivers {
			return commerce.Errorf(op, commerce.KindFailedPrecondition, "sharing order %s would have %d receivers, more than the channel's %d", sh.OrderNo, len(sh.Lines), MaxShareReceivers)
		}
		if err := sharer.ValidateShare(shareRequest(p, sh)); err != nil {
			return commerce.Errorf(op, commerce.KindFailedPrecondition, "the channel would refuse sharing order %s: %v", sh.OrderNo, err)
		}
		sh.Updated, p.Updated = now, now
		return nil
	})
	if err != nil || opened == nil {
		return err
	}
	doc, err := json.Marshal(shareDoc{Merchant: pay.MerchantID, Payment: pay.ID})
	if err != nil {
		return err
	}
	// Not before the channel takes it.
	due := pay.PaidAt.Add(ShareDelay)
	if now := s.now(); due.Before(now) {
		due = now
	}
	_, err = s.store.SaveRecord(ctx, storage.Record{Kind: kindShare, Key: opened.OrderNo, Status: "due", Due: due, Doc: doc, Updated: s.now()})
	return err
}

// sharer returns the channel of pay, which must share.
func (s *Service) sharer(op string, pay *Payment) (Provider, Sharer, error) {
	prov, err := s.provider(op, pay.Provider)
	if err != nil {
		return nil, nil, err
	}
	sharer, ok := prov.(Sharer)
	if !ok {
		return nil, nil, commerce.Errorf(op, commerce.KindFailedPrecondition, "provider %s cannot share payment %s", prov.Name(), pay.PaymentNo)
	}
	return prov, sharer, nil
}

// pickPayee picks the payee a sharing order can pay: a person under the
// first of apps that has one, else a business.
func pickPayee(payees []Payee, apps []string) (Payee, error) {
	for _, app := range apps {
		for _, p := range payees {
			if p.Kind == PayeePerson && p.App == app {
				return p, nil
			}
		}
	}
	for _, p := range payees {
		if p.Kind == PayeeBusiness {
			return p, nil
		}
	}
	return Payee{}, fmt.Errorf("no payee the channel can pay (a person's openid under %v, or a business)", apps)
}

// shareRequest is the channel request for sh.
func shareRequest(p *Payment, sh *Share) ShareRequest {
	r := ShareRequest{Account: p.Account, TransactionID: p.ProviderRef, OrderNo: sh.OrderNo, UnfreezeRest: true, Paid: p.Amount}
	for _, l := range sh.Lines {
		r.Receivers = append(r.Receivers, ShareReceiver{Payee: l.Payee, Relation: relationOf(l.Party), Amount: l.Amount, Description: l.Description})
	}
	return r
}

func relationOf(p Party) Relation {
	switch p {
	case PartyProvider:
		return RelationServiceProvider
	case PartyAgency:
		return RelationPartner
	default:
		return RelationDistributor
	}
}

// settleShare opens the sharing order of a settling order's shared
// payment, with the provider's fee as a line (moved from the merchant to
// the provider in the ledger), in the settling transaction.
func (s *Service) settleShare(ctx context.Context, o *commerce.Order) error {
	const op = "payment.settle_share"
	pay, err := s.sharingPayment(ctx, o.MerchantID, o.ID, true)
	if err != nil || pay == nil {
		return err
	}
	plan, err := s.plan(ctx, pay.MerchantID, pay.Provider)
	if err != nil {
		return err
	}
	var lines []ShareLine
	var fee commerce.Money
	if plan != nil && plan.Fee.PPM() > 0 && !pay.hasSource("fee") {
		net, _ := pay.Amount.Sub(pay.RefundedAmount())
		if fee = plan.Fee.Of(net); fee.IsPositive() {
			lines = append(lines, ShareLine{Party: PartyProvider, Ref: "fee", Source: "fee", Payee: plan.FeeTo, Amount: fee, Description: "服务费"})
		}
	}
	if err := s.addShareLines(ctx, op, pay, lines); err != nil {
		return err
	}
	if len(lines) == 0 {
		return nil
	}
	return s.ledger(ctx, pay, "fee:"+pay.PaymentNo, []LedgerEntry{{Party: PartyMerchant, Amount: fee.Neg()}, {Party: PartyProvider, Amount: fee}})
}

// runShares sends the sharing orders that are due and follows those in
// flight, each outside transactions.
func (s *Service) runShares(ctx context.Context) (int, []error) {
	var errs []error
	done := 0
	for _, kind := range []string{kindShare, kindReturn} {
		due, err := s.store.DueRecords(ctx, kind, "due", s.now(), 100)
		if err != nil {
			return done, append(errs, err)
		}
		for _, r := range due {
			run, what := s.runShare, "share"
			if kind == kindReturn {
				run, what = s.runReturn, "share return"
			}
			if err := run(ctx, r); err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %w", what, r.Key, err))
				continue
			}
			done++
		}
	}
	return done, errs
}

// workPayment reads a kindShare or kindReturn record's document and the
// payment it names.
func (s *Service) workPayment(ctx context.Context, r storage.Record) (shareDoc, *Payment, error) {
	var d shareDoc
	if err := json.Unmarshal(r.Doc, &d); err != nil {
		return d, nil, fmt.Errorf("%s record %s: %w", r.Kind, r.Key, err)
	}
	pay, err := s.store.GetPayment(ctx, d.Merchant, d.Payment)
	return d, pay, err
}

// sharePoll is how long a share in flight waits before it is asked about
// again; a failed call waits the same.
const sharePoll = time.Minute

func (s *Service) runShare(ctx context.Context, r storage.Record) error {
	const op = "payment.share"
	_, pay, err := s.workPayment(ctx, r)
	if err != nil {
		return err
	}
	sh := pay.share(r.Key)
	if sh == nil || sh.Final() {
		return s.finishShareRecord(ctx, r, "done", time.Time{})
	}
	prov, sharer, err := s.sharer(op, pay)
	if err != nil {
		return err
	}
	var res *ShareResult
	switch {
	case sh.Sent:
		res, err = sharer.QueryShare(ctx, pay.Account, pay.ProviderRef, sh.OrderNo)
	case len(sh.Lines) == 0:
		res, err = sharer.UnfreezeShare(ctx, pay.Account, pay.ProviderRef, sh.OrderNo, "结算解冻")
	default:
		for _, l := range sh.Lines {
			if err = sharer.AddReceiver(ctx, pay.Account, ShareReceiver{Payee: l.Payee, Relation: relationOf(l.Party)}); err != nil {
				break
			}
		}
		if err == nil {
			res, err = sharer.CreateShare(ctx, shareRequest(pay, sh))
		}
	}
	if err != nil {
		if !sh.Sent && refused(err) {
			// The channel refused the order itself: nothing was shared.
			return s.applyShare(ctx, r, pay, sh.OrderNo, nil, err.Error())
		}
		_ = s.finishShareRecord(ctx, r, "due", s.now().Add(sharePoll))
		return providerUnavailable(op, prov.Name(), err)
	}
	return s.applyShare(ctx, r, pay, sh.OrderNo, res, "")
}

// refused reports whether a channel error says the request itself was
// wrong (sending it again changes nothing), not that the channel failed.
func refused(err error) bool {
	return errors.Is(err, commerce.ErrInvalid) || errors.Is(err, commerce.ErrFailedPrecondition) || errors.Is(err, commerce.ErrNotFound)
}

// applyShare records the channel's answer about a share: its state and,
// once it has finished, each line's outcome (a closed fee line returns the
// fee to the merchant in the ledger; commission lines go to the share
// handler). failed, when set, is why the channel refused the order.
func (s *Service) applyShare(ctx context.Context, r storage.Record, pay *Payment, orderNo string, res *ShareResult, failed string) error {
	return s.store.InTx(ctx, func(ctx context.Context) error {
		var ended []ShareLine
		var final bool
		err := s.store.UpdatePayment(ctx, pay.MerchantID, pay.ID, func(p *Payment) error {
			ended, final = nil, false
			sh := p.share(orderNo)
			if sh == nil || sh.Final() {
				final = true
				return nil
			}
			now := s.now()
			sh.Updated, p.Updated = now, now
			if failed != "" {
				sh.Failed, final = boundText(failed), true
				for i := range sh.Lines {
					sh.Lines[i].Result, sh.Lines[i].FailReason = ShareClosed, "REFUSED"
					ended = append(ended, sh.Lines[i])
				}
				return nil
			}
			sh.Sent, sh.State = true, res.State
			if res.ProviderRef != "" {
				sh.ProviderRef = res.ProviderRef
			}
			if res.State != ShareFinished {
				return nil
			}
			final = true
			for i := range sh.Lines {
				l := &sh.Lines[i]
				l.Result = ShareClosed
				l.FailReason = "NOT_REPORTED"
				for _, rr := range res.Receivers {
					if rr.Account == l.Payee.Account && rr.Amount.Equal(l.Amount) {
						l.Result, l.FailReason = rr.Result, rr.FailReason
						if l.Result == SharePending {
							// A finished order reports every receiver's end.
							l.Result, l.FailReason = ShareClosed, "PENDING_AT_FINISH"
						}
						break
					}
				}
				ended = append(ended, *l)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, l := range ended {
			if err := s.shareEnded(ctx, pay, l); err != nil {
				return err
			}
		}
		if final {
			return s.finishShareRecord(ctx, r, "done", time.Time{})
		}
		return s.finishShareRecord(ctx, r, "due", s.now().Add(sharePoll))
	})
}

// shareEnded records one line's end.
func (s *Service) shareEnded(ctx context.Context, pay *Payment, l ShareLine) error {
	if l.Party == PartyProvider {
		if l.Result == ShareClosed {
			return s.ledger(ctx, pay, "fee:"+pay.PaymentNo, []LedgerEntry{{Party: PartyMerchant, Amount: l.Amount}, {Party: PartyProvider, Amount: l.Amount.Neg()}})
		}
		return nil
	}
	if s.shares == nil {
		return nil
	}
	return s.shares(ctx, pay.MerchantID, pay.OrderID, l)
}

// finishShareRecord moves the share's work record on; another process that
// moved it first wins (ErrConflict is not an error here: the share's own
// state, under the payment's lock, is what counts).
func (s *Service) finishShareRecord(ctx context.Context, r storage.Record, status string, due time.Time) error {
	r.Status, r.Due, r.Updated = status, due, s.now()
	_, err := s.store.SaveRecord(ctx, r)
	if errors.Is(err, storage.ErrConflict) {
		return nil
	}
	return err
}

// ReturnShare asks for amount of a commission line's share back after a
// refund (the promoter package calls it when it claws back settled
// commission), in ctx's transaction: when the line went to a business
// receiver, a return order is recorded (RunDue sends it) and ReturnShare
// reports true; a person's share cannot be taken back by the channel, and
// it reports false (the promoter package keeps the clawback as a debt).
// At most what the line got, less earlier returns, is asked for.
func (s *Service) ReturnShare(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID, source string, amount commerce.Money) (bool, error) {
	const op = "payment.return_share"
	if !amount.IsPositive() {
		return false, commerce.Invalid(op, "amount", "%s is not positive", amount)
	}
	var returned bool
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		pay, err := s.sharingPayment(ctx, merchant, order, false)
		if err != nil || pay == nil {
			return err
		}
		var rec *storage.Record
		err = s.store.UpdatePayment(ctx, pay.MerchantID, pay.ID, func(p *Payment) error {
			returned, rec = false, nil
			for i := range p.Shares {
				sh := &p.Shares[i]
				for j := range sh.Lines {
					l := &sh.Lines[j]
					if l.Source != source || l.Result != ShareSucceeded || l.Payee.Kind != PayeeBusiness {
						continue
					}
					left, _ := l.Amount.Sub(l.returned())
					ask := amount
					if exceeds(ask, left) {
						ask = left
					}
					if !ask.IsPositive() {
						return nil
					}
					n := 0
					for _, ll := range sh.Lines {
						n += len(ll.Returns)
					}
					if n >= MaxReturnsPerShare {
						return commerce.Errorf(op, commerce.KindFailedPrecondition, "sharing order %s has %d returns, the most the channel takes", sh.OrderNo, n)
					}
					now := s.now()
					ret := ShareReturn{ReturnNo: number(s.ids.NewUUID()), Amount: ask, State: ReturnProcessing, Created: now, Updated: now}
					l.Returns = append(l.Returns, ret)
					p.Updated = now
					doc, err := json.Marshal(shareDoc{Merchant: p.MerchantID, Payment: p.ID, Source: source, OrderNo: sh.OrderNo})
					if err != nil {
						return err
					}
					rec = &storage.Record{Kind: kindReturn, Key: ret.ReturnNo, Status: "due", Due: now, Doc: doc, Updated: now}
					returned = true
					return nil
				}
			}
			return nil
		})
		if err != nil || rec == nil {
			return err
		}
		_, err = s.store.SaveRecord(ctx, *rec)
		return err
	})
	return returned, commerce.Wrap(op, err)
}

// runReturn sends a return order or asks about one in flight.
func (s *Service) runReturn(ctx context.Context, r storage.Record) error {
	const op = "payment.share_return"
	d, pay, err := s.workPayment(ctx, r)
	if err != nil {
		return err
	}
	line, ret := findReturn(pay, d.Source, r.Key)
	if ret == nil || ret.State != ReturnProcessing {
		return s.finishShareRecord(ctx, r, "done", time.Time{})
	}
	prov, sharer, err := s.sharer(op, pay)
	if err != nil {
		return err
	}
	var res *ReturnResult
	if ret.Sent {
		res, err = sharer.QueryReturn(ctx, pay.Account, d.OrderNo, ret.ReturnNo)
	} else {
		res, err = sharer.ReturnShare(ctx, ReturnRequest{Account: pay.Account, OrderNo: d.OrderNo, ReturnNo: ret.ReturnNo,
			From: line.Payee.Account, Amount: ret.Amount, Description: "订单退款，分账回退"})
	}
	if err != nil {
		if !ret.Sent && refused(err) {
			res = &ReturnResult{ReturnNo: ret.ReturnNo, State: ReturnFailed, FailReason: boundText(err.Error())}
		} else {
			_ = s.finishShareRecord(ctx, r, "due", s.now().Add(sharePoll))
			return providerUnavailable(op, prov.Name(), err)
		}
	}
	return s.store.InTx(ctx, func(ctx context.Context) error {
		var ended *ShareLine
		err := s.store.UpdatePayment(ctx, pay.MerchantID, pay.ID, func(p *Payment) error {
			ended = nil
			l, rt := findReturn(p, d.Source, r.Key)
			if rt == nil || rt.State != ReturnProcessing {
				return nil
			}
			now := s.now()
			rt.Sent, rt.State, rt.FailReason, rt.Updated, p.Updated = true, res.State, res.FailReason, now, now
			if res.State == ReturnSucceeded {
				ended = &ShareLine{Party: l.Party, Ref: l.Ref, Source: l.Source, Payee: l.Payee, Amount: rt.Amount.Neg(), Result: ShareSucceeded}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if ended != nil && s.shares != nil {
			// The receiver gave it back: what it was paid shrinks.
			if err := s.shares(ctx, pay.MerchantID, pay.OrderID, *ended); err != nil {
				return err
			}
		}
		if res.State == ReturnProcessing {
			return s.finishShareRecord(ctx, r, "due", s.now().Add(sharePoll))
		}
		return s.finishShareRecord(ctx, r, "done", time.Time{})
	})
}

// findReturn finds a line's return by its number.
func findReturn(p *Payment, source, returnNo string) (*ShareLine, *ShareReturn) {
	for i := range p.Shares {
		for j := range p.Shares[i].Lines {
			l := &p.Shares[i].Lines[j]
			if l.Source != source {
				continue
			}
			for k := range l.Returns {
				if l.Returns[k].ReturnNo == returnNo {
					return l, &l.Returns[k]
				}
			}
		}
	}
	return nil, nil
}

// PaymentShares returns the sharing orders of the order's payments.
func (s *Service) PaymentShares(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID) ([]Share, error) {
	pays, err := s.OrderPayments(ctx, merchant, order)
	if err != nil {
		return nil, err
	}
	var out []Share
	for _, p := range pays {
		out = append(out, p.Shares...)
	}
	return out, nil
}

// exceeds reports whether a is more than b (of one currency).
func exceeds(a, b commerce.Money) bool { c, err := a.Cmp(b); return err != nil || c > 0 }

func boundText(s string) string {
	if r := []rune(s); len(r) > 200 {
		return string(r[:200])
	}
	return s
}
