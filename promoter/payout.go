package promoter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/currency"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/storage"
)

// PayoutConfig turns on payouts: a promoter's or an agency's settled,
// unpaid commission at a merchant sent to their balance at the payment
// channel by transfer (payment.Transferer; WeChat Pay's transfer bills).
// The zero value leaves payouts off.
type PayoutConfig struct {
	// Transferer sends the transfers (a *wechatpay.Client); nil: payouts
	// are off.
	Transferer payment.Transferer
	// Account gives the channel account a merchant's payouts leave from
	// (a sub-merchant in partner mode); nil: the channel's own merchant for
	// every merchant. minishop.New sets it, when Transferer is one of the
	// payment channels, to the merchant's account there.
	Account func(ctx context.Context, merchant commerce.MerchantID) (payment.Account, error)
	// Every is how often RunDue pays each payee that is owed something;
	// zero: RunDue pays no one on its own (Payout on request still works)
	// but still follows the bills in flight to their end.
	Every time.Duration
	// MaxPerTransfer and MaxPerDay cap one transfer and what one payee is
	// sent in a day (China time), in CNY; what is owed beyond waits. The
	// defaults are DefaultMaxPerTransfer and DefaultMaxPerDay.
	MaxPerTransfer, MaxPerDay commerce.Money
	// Remark is shown to the payee (at most 32 characters): "推广佣金" by
	// default.
	Remark string
	// Scene and Report override the channel's defaults for commission
	// (WeChat: scene 1005 with 岗位类型 推广员 and 报酬说明 the remark).
	Scene  string
	Report []payment.TransferInfo
	// Poll is how long RunDue waits before asking the channel again about
	// a bill in flight whose notification has not come: an hour by
	// default.
	Poll time.Duration
}

// Default payout limits. WeChat Pay sets a merchant's per-transfer range on
// its merchant platform (0.1 to 200 yuan by default, as merchants report
// it); a higher setting there is matched here with MaxPerTransfer. WeChat's
// daily caps for the transfer-bills API are not published; 20,000 yuan a
// payee a day is the cap of the API it replaced, kept as a conservative
// default. A bill under MinPayout is never sent: smaller balances wait.
var (
	DefaultMaxPerTransfer = commerce.FromMinor(200_00, currency.CNY)
	DefaultMaxPerDay      = commerce.FromMinor(20_000_00, currency.CNY)
	MinPayout             = commerce.FromMinor(10, currency.CNY)
)

// Payout errors.
var (
	// ErrNothingOwed: the payee is owed less than MinPayout, after debts
	// and what is in flight (KindFailedPrecondition). Not retryable.
	ErrNothingOwed = errors.New("nothing owed to pay out")
	// ErrPayoutsOff: no Transferer is configured (KindFailedPrecondition).
	ErrPayoutsOff = errors.New("payouts are not configured")
)

// PayoutShare is what transfers paid of one part of a commission (the
// promoter's or the agency's), and the bill that claims it now.
type PayoutShare struct {
	Paid commerce.Money // unset: nothing
	// Bill is the payout in flight that claims Claimed of the part; empty
	// when none does. A claimed part is never claimed again before its bill
	// ends.
	Bill    string
	Claimed commerce.Money
}

// Claim is a commission part a payout pays: Amount of the party's part
// (negative: a clawback after payment, a debt netted from the payout).
type Claim struct {
	Commission CommissionID
	Amount     commerce.Money
}

// Payout is one transfer of a payee's commission at one merchant.
type Payout struct {
	// BillNo is the number the channel knows it by: 32 hex digits.
	BillNo     string
	MerchantID commerce.MerchantID
	// Exactly one of Promoter and Agency is set.
	Promoter PromoterID
	Agency   AgencyID
	Account  payment.Account
	Payee    payment.Payee
	Amount   commerce.Money
	Remark   string
	// State is the transfer's state at the channel; empty until the
	// channel has answered for it (Submitted).
	State       payment.TransferState
	Submitted   bool
	ProviderRef string
	FailReason  string
	// ClientParams, while the payee has to accept the transfer, are what
	// the host's Mini Program passes to wx.requestMerchantTransfer.
	ClientParams map[string]string
	Claims       []Claim
	// Day is the China-time day the payout counts against.
	Day                        string
	Created, Updated, Finished time.Time
}

// Final reports whether the payout has ended.
func (p *Payout) Final() bool { return p.State.Final() }

// PayoutParams names whose commission to pay out at which merchant.
type PayoutParams struct {
	MerchantID commerce.MerchantID
	// Exactly one of Promoter and Agency.
	Promoter PromoterID
	Agency   AgencyID
}

// payeeAccount is a payee's payout bookkeeping at a merchant: the bill in
// flight (at most one: a second bill for the same money before the first
// ends could pay it twice), the day's total, and what was paid and failed.
type payeeAccount struct {
	MerchantID   commerce.MerchantID
	Promoter     PromoterID
	Agency       AgencyID
	Open         string
	Day          string
	DayTotal     commerce.Money
	Paid, Failed commerce.Money
	Bills        []string
	version      int64
	due          time.Time
	fresh        bool
}

// Record kinds the payouts keep (storage.Records).
const (
	kindPayout = "promoter.payout" // key: bill number; status open until final
	kindPayee  = "promoter.payee"  // key: merchant/p|a/party; status active
	maxBills   = 50                // bill numbers a payee account lists
)

var chinaTime = time.FixedZone("CST", 8*60*60)

func payeeKey(m commerce.MerchantID, p PromoterID, a AgencyID) string {
	if !p.IsZero() {
		return m.String() + "/p/" + p.String()
	}
	return m.String() + "/a/" + a.String()
}

func (s *Service) payouts() (*PayoutConfig, error) {
	if s.cfg.Payouts.Transferer == nil {
		return nil, ErrPayoutsOff
	}
	return &s.cfg.Payouts, nil
}

func (s *Service) checkPayoutConfig(op string) error {
	c := &s.cfg.Payouts
	if c.Transferer == nil {
		return nil
	}
	if c.Every < 0 || c.Poll < 0 {
		return commerce.Invalid(op, "payouts.every", "negative")
	}
	if c.Poll == 0 {
		c.Poll = time.Hour
	}
	for _, lim := range []struct {
		field string
		m     *commerce.Money
		def   commerce.Money
	}{{"payouts.max_per_transfer", &c.MaxPerTransfer, DefaultMaxPerTransfer}, {"payouts.max_per_day", &c.MaxPerDay, DefaultMaxPerDay}} {
		if !lim.m.IsSet() {
			*lim.m = lim.def
		}
		if lim.m.Currency() != currency.CNY || less(*lim.m, MinPayout) {
			return commerce.Invalid(op, lim.field, "%s: a CNY amount of at least %s", *lim.m, MinPayout)
		}
	}
	if c.Remark == "" {
		c.Remark = "推广佣金"
	}
	return commerce.CheckText(op, "payouts.remark", c.Remark, true, 32)
}

// part returns the net of the payee's part of c (after every refund), and
// its payout bookkeeping.
func (c *Commission) part(agency bool) (commerce.Money, *PayoutShare) {
	if agency {
		return sub(sub(c.AgencyPart, c.ReversedAgency), c.ClawedAgency), &c.AgencyPayout
	}
	net := sub(sub(sub(c.Amount, c.AgencyPart), sub(c.Reversed, c.ReversedAgency)), sub(c.Clawed, c.ClawedAgency))
	return net, &c.PromoterPayout
}

func orZero(m commerce.Money, cur currency.Unit) commerce.Money {
	if m.IsSet() {
		return m
	}
	return commerce.Zero(cur)
}

// owed is what of the payee's part of c no transfer has paid or claims: a
// negative amount is a clawback after payment, owed back.
func (c *Commission) owed(agency bool) commerce.Money {
	net, sh := c.part(agency)
	if sh.Bill != "" || c.Status != Settled {
		return commerce.Zero(c.Amount.Currency())
	}
	return sub(net, orZero(sh.Paid, net.Currency()))
}

// Payout pays a promoter's or an agency's settled, unpaid commission at a
// merchant by one transfer, and returns it: while it waits for the payee,
// its ClientParams are what the host's Mini Program passes to
// wx.requestMerchantTransfer. Commission is netted of clawbacks after
// payment (debts), capped by the limits, and claimed for the bill in one
// transaction, so that no part is ever in two bills: of concurrent calls,
// one claims and the others return the same bill. The channel is called
// after commit; a crash in between is repaired by the next Payout or
// RunDue, which sends the same bill number again (checking with the
// channel first). While a payout is in flight, Payout returns it rather
// than starting another. Less than MinPayout owed: ErrNothingOwed.
//
// The payee is the party's person payee under the app the merchant's
// account pays (payment.Transferer.TransferApp); a party without one, or
// without the real name a transfer of 2,000 yuan needs, is refused naming
// the field, and nothing is recorded. A transient channel failure returns
// the payout recorded, and an error of commerce.KindUnavailable.
func (s *Service) Payout(ctx context.Context, p PayoutParams) (*Payout, error) {
	const op = "promoter.payout"
	po, fresh, err := s.claimPayout(ctx, op, p)
	if err != nil {
		return nil, err
	}
	if err := s.push(ctx, po, !fresh); err != nil {
		got, gerr := s.GetPayout(ctx, po.BillNo)
		if gerr != nil {
			got = po
		}
		return got, err
	}
	return s.GetPayout(ctx, po.BillNo)
}

// claimPayout finds the payee's open payout, or claims what is owed for a
// new one. fresh reports a new one, whose channel call has not been tried.
func (s *Service) claimPayout(ctx context.Context, op string, p PayoutParams) (*Payout, bool, error) {
	cfg, err := s.payouts()
	if err != nil {
		return nil, false, &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Err: err}
	}
	if err := commerce.CheckID(op, "merchant_id", p.MerchantID); err != nil {
		return nil, false, err
	}
	if p.Promoter.IsZero() == p.Agency.IsZero() {
		return nil, false, commerce.Invalid(op, "promoter", "want a promoter or an agency, not both or neither")
	}
	acct := payment.Account{}
	if cfg.Account != nil {
		if acct, err = cfg.Account(ctx, p.MerchantID); err != nil {
			return nil, false, commerce.Wrap(op, err)
		}
	}
	var payees []payment.Payee
	if !p.Promoter.IsZero() {
		pr, err := s.store.GetPromoter(ctx, p.Promoter)
		if err != nil {
			return nil, false, commerce.NotFoundAs(op, "promoter", err)
		}
		payees = pr.Payees
	} else {
		a, err := s.store.GetAgency(ctx, p.Agency)
		if err != nil {
			return nil, false, commerce.NotFoundAs(op, "agency", err)
		}
		payees = a.Payees
	}
	app := cfg.Transferer.TransferApp(acct)
	payee, idx := payment.Payee{}, -1
	for i, pe := range payees {
		if pe.Kind == payment.PayeePerson && pe.App == app {
			payee, idx = pe, i
			break
		}
	}
	if idx < 0 {
		return nil, false, commerce.Invalid(op, "payees", "no openid under app %s, which merchant %s's account pays transfers to", app, p.MerchantID)
	}
	var po *Payout
	fresh := false
	for attempt := 0; ; attempt++ {
		po, fresh = nil, false
		err = s.store.InTx(ctx, func(ctx context.Context) error {
			var err error
			po, fresh, err = s.claimTx(ctx, cfg, p, acct, payee, idx)
			return err
		})
		if (errors.Is(err, storage.ErrConflict) || errors.Is(err, errStale)) && attempt < 20 {
			continue // another run claimed or moved on: look again
		}
		break
	}
	if err != nil {
		return nil, false, commerce.Wrap(op, err)
	}
	if po == nil {
		return nil, false, &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition,
			Err: fmt.Errorf("%w: less than %s is owed at merchant %s", ErrNothingOwed, MinPayout, p.MerchantID)}
	}
	return po, fresh, nil
}

var errStale = errors.New("commission changed since it was read")

func (s *Service) claimTx(ctx context.Context, cfg *PayoutConfig, p PayoutParams, acct payment.Account, payee payment.Payee, idx int) (*Payout, bool, error) {
	const op = "promoter.payout"
	pa, err := s.loadPayee(ctx, p.MerchantID, p.Promoter, p.Agency)
	if err != nil {
		return nil, false, err
	}
	if pa.Open != "" {
		po, _, err := s.loadPayout(ctx, pa.Open)
		return po, false, err
	}
	agency := p.Promoter.IsZero()
	cands, err := s.payable(ctx, p, agency)
	if err != nil {
		return nil, false, err
	}
	now := s.now()
	day := now.In(chinaTime).Format("2006-01-02")
	used := commerce.Zero(currency.CNY)
	if pa.Day == day {
		used = pa.DayTotal
	}
	limit := cfg.MaxPerTransfer
	if left := sub(cfg.MaxPerDay, used); less(left, limit) {
		limit = left
	}
	// Debts first, then the oldest commission, up to the limit; the last
	// one taken may be taken in part (its rest stays owed).
	slices.SortStableFunc(cands, func(a, b *Commission) int {
		return boolInt(!a.owed(agency).IsNegative()) - boolInt(!b.owed(agency).IsNegative())
	})
	total := commerce.Zero(currency.CNY)
	var claims []Claim
	byID := map[CommissionID]*Commission{}
	for _, c := range cands {
		o := c.owed(agency)
		if o.IsPositive() {
			room := sub(limit, total)
			if !room.IsPositive() {
				break
			}
			if less(room, o) {
				o = room
			}
		}
		total = add(total, o)
		claims = append(claims, Claim{Commission: c.ID, Amount: o})
		byID[c.ID] = c
	}
	if less(total, MinPayout) {
		return nil, false, nil
	}
	billNo := strings.ReplaceAll(s.ids.NewUUID().String(), "-", "")
	po := &Payout{BillNo: billNo, MerchantID: p.MerchantID, Promoter: p.Promoter, Agency: p.Agency, Account: acct, Payee: payee,
		Amount: total, Remark: cfg.Remark, Claims: claims, Day: day, Created: now, Updated: now}
	if err := cfg.Transferer.ValidateTransfer(s.transferRequest(po)); err != nil {
		var ce *commerce.Error
		if errors.As(err, &ce) && ce.Kind == commerce.KindInvalid {
			field := ce.Field
			if f, ok := strings.CutPrefix(field, "Payee."); ok {
				field = fmt.Sprintf("payees[%d].%s", idx, strings.ToLower(f))
			}
			return nil, false, &commerce.Error{Op: op, Kind: commerce.KindInvalid, Field: field, Err: ce.Err}
		}
		return nil, false, err
	}
	// Lock in ID order: two claims never wait on each other in a cycle.
	order := slices.Clone(claims)
	slices.SortFunc(order, func(a, b Claim) int { return strings.Compare(a.Commission.String(), b.Commission.String()) })
	for _, cl := range order {
		seen := byID[cl.Commission]
		err := s.store.UpdateCommission(ctx, p.MerchantID, cl.Commission, func(c *Commission) error {
			if c.Version != seen.Version {
				return errStale
			}
			_, sh := c.part(agency)
			sh.Bill, sh.Claimed = billNo, cl.Amount
			return nil
		})
		if err != nil {
			return nil, false, err
		}
	}
	if pa.Day != day {
		pa.Day, pa.DayTotal = day, commerce.Zero(currency.CNY)
	}
	pa.Open, pa.DayTotal = billNo, add(pa.DayTotal, total)
	pa.Bills = append(pa.Bills, billNo)
	if len(pa.Bills) > maxBills {
		pa.Bills = pa.Bills[len(pa.Bills)-maxBills:]
	}
	if err := s.savePayee(ctx, pa); err != nil {
		return nil, false, err
	}
	if err := s.savePayout(ctx, po, 0); err != nil {
		return nil, false, err
	}
	if err := s.emit(ctx, p.MerchantID, "payout_created", billNo, map[string]any{"bill_no": billNo, "promoter": p.Promoter,
		"agency": p.Agency, "amount": total, "commissions": len(claims)}); err != nil {
		return nil, false, err
	}
	return po, true, nil
}

func less(a, b commerce.Money) bool { c, _ := a.Cmp(b); return c < 0 }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// payable returns the party's commissions at the merchant that owe
// something, oldest first. It reads the party's commissions a page at a
// time (a payee's whole history: a payout is as costly as a statement of
// all time).
func (s *Service) payable(ctx context.Context, p PayoutParams, agency bool) ([]*Commission, error) {
	q := CommissionQuery{Promoter: p.Promoter, Agency: p.Agency, From: time.Unix(0, 0).UTC(),
		To: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), Limit: statementPage}
	var out []*Commission
	for {
		cs, err := s.store.Commissions(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			if c.MerchantID == p.MerchantID && c.Amount.Currency() == currency.CNY && !c.owed(agency).IsZero() {
				out = append(out, c)
			}
		}
		if len(cs) < q.Limit {
			return out, nil
		}
		q.After = cs[len(cs)-1].ID
	}
}

func (s *Service) transferRequest(po *Payout) payment.TransferRequest {
	cfg := &s.cfg.Payouts
	return payment.TransferRequest{Account: po.Account, BillNo: po.BillNo, Payee: po.Payee, Amount: po.Amount, Remark: po.Remark,
		Purpose: payment.PurposeCommission, Scene: cfg.Scene, Report: cfg.Report}
}

// push takes a payout to the channel: created when it is fresh, otherwise
// looked up first (never a new number: the same bill is sent again when the
// channel has none) and its state applied.
func (s *Service) push(ctx context.Context, po *Payout, recover bool) error {
	const op = "promoter.payout"
	cfg := &s.cfg.Payouts
	if po.Final() {
		return nil
	}
	var t *payment.Transfer
	var err error
	if recover || po.Submitted {
		t, err = cfg.Transferer.QueryTransfer(ctx, po.Account, po.BillNo)
		switch {
		case commerce.KindOf(err) == commerce.KindNotFound:
			t, err = nil, nil
		case err != nil:
			return s.later(ctx, op, po, err)
		}
		if t != nil && t.State == payment.TransferWaiting && len(po.ClientParams) == 0 {
			// A query carries no package_info: the same request again
			// answers with the bill and its confirmation parameters.
			if again, cerr := cfg.Transferer.CreateTransfer(ctx, s.transferRequest(po)); cerr == nil {
				t = again
			}
		}
	}
	if t == nil {
		t, err = cfg.Transferer.CreateTransfer(ctx, s.transferRequest(po))
		if err != nil {
			// Never switch numbers after a failed create: ask the channel
			// what became of this one.
			q, qerr := cfg.Transferer.QueryTransfer(ctx, po.Account, po.BillNo)
			switch {
			case qerr == nil:
				t = q
			case commerce.KindOf(qerr) == commerce.KindNotFound && refused(err):
				return s.applyTransfer(ctx, po.BillNo, &payment.Transfer{BillNo: po.BillNo, State: payment.TransferFailed,
					FailReason: "refused by the channel: " + err.Error()})
			default:
				return s.later(ctx, op, po, err)
			}
		}
	}
	return s.applyTransfer(ctx, po.BillNo, t)
}

// refused reports whether a channel error is a definitive refusal of the
// request (nothing was created), as opposed to a failure to get an answer.
func refused(err error) bool {
	switch commerce.KindOf(err) {
	case commerce.KindInvalid, commerce.KindFailedPrecondition, commerce.KindConflict:
		return true
	}
	return false
}

// later leaves a payout for RunDue to try again and reports the channel
// failure as unavailable.
func (s *Service) later(ctx context.Context, op string, po *Payout, cause error) error {
	_ = s.retry(ctx, func(ctx context.Context) error {
		cur, ver, err := s.loadPayout(ctx, po.BillNo)
		if err != nil || cur.Final() {
			return err
		}
		cur.Updated = s.now()
		return s.savePayout(ctx, cur, ver)
	})
	return &commerce.Error{Op: op, Kind: commerce.KindUnavailable, Err: fmt.Errorf("payout %s: channel: %v", po.BillNo, cause)}
}

// retry runs fn in a transaction until it stops conflicting with another
// writer (a bounded number of times).
func (s *Service) retry(ctx context.Context, fn func(ctx context.Context) error) error {
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		if err = s.store.InTx(ctx, fn); !errors.Is(err, storage.ErrConflict) {
			return err
		}
	}
	return err
}

// ApplyTransfer applies a verified transfer notification (a final state)
// to its payout, inside the caller's transaction: the payment service's
// Config.Transfers, which minishop.New wires. A bill that is no payout's is
// an error wrapping payment.ErrUnknownTransfer. The same notification
// applied again is a Duplicate.
func (s *Service) ApplyTransfer(ctx context.Context, provider string, t *payment.Transfer) (payment.Outcome, error) {
	var out payment.Outcome
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		var err error
		out, err = s.applyTx(ctx, t.BillNo, t)
		return err
	})
	return out, err
}

// applyTransfer applies the channel's answer about a payout, in its own
// transaction(s).
func (s *Service) applyTransfer(ctx context.Context, billNo string, t *payment.Transfer) error {
	return s.retry(ctx, func(ctx context.Context) error {
		_, err := s.applyTx(ctx, billNo, t)
		return err
	})
}

func (s *Service) applyTx(ctx context.Context, billNo string, t *payment.Transfer) (payment.Outcome, error) {
	po, ver, err := s.loadPayout(ctx, billNo)
	if errors.Is(err, storage.ErrNotFound) {
		return "", fmt.Errorf("%w: no payout %q", payment.ErrUnknownTransfer, billNo)
	}
	if err != nil {
		return "", err
	}
	if po.Final() {
		return payment.Duplicate, nil
	}
	if t.Amount.IsSet() && !t.Amount.Equal(po.Amount) {
		return "", fmt.Errorf("%w: bill %s is for %s at the channel, the payout for %s", payment.ErrUnknownTransfer, billNo, t.Amount, po.Amount)
	}
	now := s.now()
	po.Submitted, po.State, po.Updated = true, t.State, now
	if t.ProviderRef != "" {
		po.ProviderRef = t.ProviderRef
	}
	switch {
	case t.State == payment.TransferWaiting && len(t.ClientParams) > 0:
		po.ClientParams = t.ClientParams
	case t.State != payment.TransferWaiting:
		po.ClientParams = nil
	}
	if !t.State.Final() {
		return payment.Applied, s.savePayout(ctx, po, ver)
	}
	po.FailReason, po.Finished = boundReason(t.FailReason), now
	ok := t.State == payment.TransferSucceeded
	agency := po.Promoter.IsZero()
	for _, cl := range po.Claims {
		err := s.store.UpdateCommission(ctx, po.MerchantID, cl.Commission, func(c *Commission) error {
			_, sh := c.part(agency)
			if sh.Bill != billNo {
				return fmt.Errorf("promoter: commission %s is claimed by %q, not payout %s", c.ID, sh.Bill, billNo)
			}
			if ok {
				sh.Paid = add(orZero(sh.Paid, cl.Amount.Currency()), cl.Amount)
			}
			sh.Bill, sh.Claimed = "", commerce.Money{}
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	pa, err := s.loadPayee(ctx, po.MerchantID, po.Promoter, po.Agency)
	if err != nil {
		return "", err
	}
	if pa.Open == billNo {
		pa.Open = ""
	}
	if ok {
		pa.Paid = add(pa.Paid, po.Amount)
	} else {
		pa.Failed = add(pa.Failed, po.Amount)
		if pa.Day == po.Day {
			pa.DayTotal = sub(pa.DayTotal, po.Amount)
		}
	}
	if err := s.savePayee(ctx, pa); err != nil {
		return "", err
	}
	if err := s.savePayout(ctx, po, ver); err != nil {
		return "", err
	}
	typ := "payout_succeeded"
	if !ok {
		typ = "payout_failed"
	}
	return payment.Applied, s.emit(ctx, po.MerchantID, typ, billNo, map[string]any{"bill_no": billNo, "promoter": po.Promoter,
		"agency": po.Agency, "amount": po.Amount, "state": po.State, "reason": po.FailReason})
}

func boundReason(s string) string {
	if r := []rune(s); len(r) > commerce.MaxShortTextLen {
		return string(r[:commerce.MaxShortTextLen-1]) + "…"
	}
	return s
}

// CancelPayout asks the channel to cancel a payout the payee has not
// accepted. Its commission is released for a later payout once the channel
// confirms (notification, or RunDue's query).
func (s *Service) CancelPayout(ctx context.Context, billNo string) (*Payout, error) {
	const op = "promoter.cancel_payout"
	cfg, err := s.payouts()
	if err != nil {
		return nil, &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Err: err}
	}
	po, err := s.GetPayout(ctx, billNo)
	if err != nil || po.Final() {
		return po, err
	}
	if !po.Submitted {
		// The channel may have it (a lost answer): settle that first.
		if err := s.push(ctx, po, true); err != nil {
			return nil, err
		}
		if po, err = s.GetPayout(ctx, billNo); err != nil || po.Final() {
			return po, err
		}
	}
	t, err := cfg.Transferer.CancelTransfer(ctx, po.Account, billNo)
	if err != nil {
		return nil, &commerce.Error{Op: op, Kind: commerce.KindOf(err), Err: fmt.Errorf("payout %s: %w", billNo, err)}
	}
	if err := s.applyTransfer(ctx, billNo, t); err != nil {
		return nil, commerce.Wrap(op, err)
	}
	return s.GetPayout(ctx, billNo)
}

// GetPayout returns a payout by its bill number.
func (s *Service) GetPayout(ctx context.Context, billNo string) (*Payout, error) {
	const op = "promoter.get_payout"
	if err := commerce.CheckKey(op, "bill_no", billNo, true, 32); err != nil {
		return nil, err
	}
	po, _, err := s.loadPayout(ctx, billNo)
	return po, commerce.NotFoundAs(op, "bill_no", err)
}

// PayoutStatement is a payee's payout account at a merchant.
type PayoutStatement struct {
	MerchantID commerce.MerchantID
	Promoter   PromoterID
	Agency     AgencyID
	// Owed is settled commission no transfer paid or claims, net of
	// clawbacks after payment (negative: a debt the next payout nets).
	Owed commerce.Money
	// InFlight is the payout under way (Open), Paid what transfers paid,
	// Failed what failed or was cancelled (and was released to be paid
	// again).
	InFlight, Paid, Failed commerce.Money
	Open                   *Payout
	// Bills are the latest payouts' bill numbers, oldest first.
	Bills []string
}

// PayoutStatement returns a promoter's or an agency's payout account at a
// merchant (exactly one of p.Promoter and p.Agency).
func (s *Service) PayoutStatement(ctx context.Context, p PayoutParams) (*PayoutStatement, error) {
	const op = "promoter.payout_statement"
	if err := commerce.CheckID(op, "merchant_id", p.MerchantID); err != nil {
		return nil, err
	}
	if p.Promoter.IsZero() == p.Agency.IsZero() {
		return nil, commerce.Invalid(op, "promoter", "want a promoter or an agency, not both or neither")
	}
	pa, err := s.loadPayee(ctx, p.MerchantID, p.Promoter, p.Agency)
	if err != nil {
		return nil, commerce.Wrap(op, err)
	}
	agency := p.Promoter.IsZero()
	cs, err := s.payable(ctx, p, agency)
	if err != nil {
		return nil, commerce.Wrap(op, err)
	}
	st := &PayoutStatement{MerchantID: p.MerchantID, Promoter: p.Promoter, Agency: p.Agency, Owed: commerce.Zero(currency.CNY),
		InFlight: commerce.Zero(currency.CNY), Paid: pa.Paid, Failed: pa.Failed, Bills: slices.Clone(pa.Bills)}
	for _, c := range cs {
		st.Owed = add(st.Owed, c.owed(agency))
	}
	if pa.Open != "" {
		if st.Open, _, err = s.loadPayout(ctx, pa.Open); err != nil {
			return nil, commerce.Wrap(op, err)
		}
		st.InFlight = st.Open.Amount
	}
	return st, nil
}

// RunDue follows the payouts in flight whose notification is late (asking
// the channel, sending again what never reached it) and, with
// PayoutConfig.Every, pays every payee whose turn has come and who is owed
// at least MinPayout. It is safe from several processes at once: a payee's
// commission is claimed once, and bill numbers are the channel's
// idempotency keys. A payee that cannot be paid (no openid under the app,
// nothing owed) is skipped until its next turn. It returns how many
// payouts it started or moved on.
func (s *Service) RunDue(ctx context.Context) (int, error) {
	const op = "promoter.run_due"
	if _, err := s.payouts(); err != nil {
		return 0, nil
	}
	cfg := &s.cfg.Payouts
	done := 0
	var errs []error
	seen := map[string]bool{}
	for round := 0; round < 1000; round++ {
		recs, err := s.store.DueRecords(ctx, kindPayout, "open", s.now(), 100)
		if err != nil {
			return done, commerce.Wrap(op, err)
		}
		progress := false
		for _, r := range recs {
			if seen[r.Key] {
				continue
			}
			seen[r.Key], progress = true, true
			po, err := s.decodePayout(r)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if err := s.push(ctx, po, true); err != nil {
				errs = append(errs, err)
				continue
			}
			done++
		}
		if !progress || len(recs) < 100 {
			break
		}
	}
	if cfg.Every > 0 {
		seen = map[string]bool{}
		for round := 0; round < 1000; round++ {
			recs, err := s.store.DueRecords(ctx, kindPayee, "active", s.now(), 100)
			if err != nil {
				errs = append(errs, commerce.Wrap(op, err))
				break
			}
			progress := false
			for _, r := range recs {
				if seen[r.Key] {
					continue
				}
				seen[r.Key], progress = true, true
				var pa payeeAccount
				if err := json.Unmarshal(r.Doc, &pa); err != nil {
					errs = append(errs, fmt.Errorf("payee %s: %w", r.Key, err))
					continue
				}
				po, fresh, err := s.claimPayout(ctx, "promoter.payout", PayoutParams{MerchantID: pa.MerchantID, Promoter: pa.Promoter, Agency: pa.Agency})
				switch {
				case err == nil && fresh:
					if err := s.push(ctx, po, false); err != nil {
						errs = append(errs, err)
					}
					done++
				case err == nil:
					// in flight: followed above
				case commerce.KindOf(err) == commerce.KindInvalid, commerce.KindOf(err) == commerce.KindFailedPrecondition:
					// skipped until its next turn
				default:
					errs = append(errs, err)
				}
				_ = s.retry(ctx, func(ctx context.Context) error {
					cur, err := s.loadPayee(ctx, pa.MerchantID, pa.Promoter, pa.Agency)
					if err != nil || cur.fresh {
						return err
					}
					cur.due = s.now().Add(cfg.Every)
					return s.savePayee(ctx, cur)
				})
			}
			if !progress || len(recs) < 100 {
				break
			}
		}
	}
	if len(errs) > 0 {
		return done, &commerce.Error{Op: op, Kind: commerce.KindUnavailable, Err: errors.Join(errs...)}
	}
	return done, nil
}

// notePayable makes sure a party with settled commission has a payee
// account, so RunDue finds them (insert-if-absent, in the settling
// transaction).
func (s *Service) notePayable(ctx context.Context, c *Commission) error {
	if s.cfg.Payouts.Transferer == nil || s.cfg.Payouts.Every == 0 {
		return nil
	}
	for _, agency := range []bool{false, true} {
		if agency && c.AgencyID.IsZero() {
			continue
		}
		if net, _ := c.part(agency); !net.IsPositive() {
			continue
		}
		p, a := c.PromoterID, AgencyID{}
		if agency {
			p, a = PromoterID{}, c.AgencyID
		}
		key := payeeKey(c.MerchantID, p, a)
		if _, err := s.store.GetRecord(ctx, kindPayee, key); err == nil {
			continue
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		pa := newPayee(c.MerchantID, p, a)
		pa.due = s.now()
		if err := s.savePayee(ctx, pa); err != nil && !errors.Is(err, storage.ErrConflict) {
			return err
		}
	}
	return nil
}

func newPayee(m commerce.MerchantID, p PromoterID, a AgencyID) *payeeAccount {
	z := commerce.Zero(currency.CNY)
	return &payeeAccount{MerchantID: m, Promoter: p, Agency: a, DayTotal: z, Paid: z, Failed: z, fresh: true}
}

func (s *Service) loadPayee(ctx context.Context, m commerce.MerchantID, p PromoterID, a AgencyID) (*payeeAccount, error) {
	r, err := s.store.GetRecord(ctx, kindPayee, payeeKey(m, p, a))
	if errors.Is(err, storage.ErrNotFound) {
		pa := newPayee(m, p, a)
		pa.due = s.now()
		return pa, nil
	}
	if err != nil {
		return nil, err
	}
	var pa payeeAccount
	if err := json.Unmarshal(r.Doc, &pa); err != nil {
		return nil, fmt.Errorf("promoter: payee account %s: %w", r.Key, err)
	}
	pa.version, pa.due = r.Version, r.Due
	return &pa, nil
}

func (s *Service) savePayee(ctx context.Context, pa *payeeAccount) error {
	doc, err := json.Marshal(pa)
	if err != nil {
		return err
	}
	_, err = s.store.SaveRecord(ctx, storage.Record{Kind: kindPayee, Key: payeeKey(pa.MerchantID, pa.Promoter, pa.Agency),
		Status: "active", Due: pa.due, Version: pa.version, Doc: doc, Updated: s.now()})
	return err
}

func (s *Service) loadPayout(ctx context.Context, billNo string) (*Payout, int64, error) {
	r, err := s.store.GetRecord(ctx, kindPayout, billNo)
	if err != nil {
		return nil, 0, err
	}
	po, err := s.decodePayout(r)
	return po, r.Version, err
}

func (s *Service) decodePayout(r storage.Record) (*Payout, error) {
	var po Payout
	if err := json.Unmarshal(r.Doc, &po); err != nil {
		return nil, fmt.Errorf("promoter: payout %s: %w", r.Key, err)
	}
	return &po, nil
}

// savePayout inserts (version 0) or replaces a payout record: open, due
// for RunDue after Poll (at once while the channel has not answered for
// it), until it is final.
func (s *Service) savePayout(ctx context.Context, po *Payout, version int64) error {
	doc, err := json.Marshal(po)
	if err != nil {
		return err
	}
	status, due := "open", s.now().Add(s.cfg.Payouts.Poll)
	switch {
	case po.Final():
		status, due = "done", time.Time{}
	case !po.Submitted && version != 0:
		due = s.now().Add(time.Minute)
	case !po.Submitted:
		due = s.now() // a crash before the channel call leaves it due
	}
	_, err = s.store.SaveRecord(ctx, storage.Record{Kind: kindPayout, Key: po.BillNo, Status: status, Due: due, Version: version,
		Doc: doc, Updated: s.now()})
	return err
}
