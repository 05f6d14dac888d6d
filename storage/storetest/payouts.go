package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	. "github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/wechatpay"
	"github.com/minishop/minishop/payment/wechatpay/wechatpaytest"
	"github.com/minishop/minishop/promoter"
	"github.com/minishop/minishop/storage"
)

func runPayouts(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"ConcurrentRuns", testPayoutConcurrent},
		{"CrashBetweenClaimAndCall", testPayoutCrash},
		{"Faults", testPayoutFaults},
		{"BadPayee", testPayoutBadPayee},
		{"FailCancelAndDebt", testPayoutFailCancelDebt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

// flakyTransferer stands between the payouts and WeChat Pay. While crash
// is set, CreateTransfer fails as a process dying around the call would:
// before the call (lost is false) or after it took effect (lost is true).
type flakyTransferer struct {
	payment.Transferer
	crash, lost atomic.Bool
}

var errCrash = errors.New("process died")

func (f *flakyTransferer) CreateTransfer(ctx context.Context, r payment.TransferRequest) (*payment.Transfer, error) {
	if f.crash.Load() {
		if f.lost.Load() {
			_, _ = f.Transferer.CreateTransfer(ctx, r)
		}
		return nil, errCrash
	}
	return f.Transferer.CreateTransfer(ctx, r)
}

func (f *flakyTransferer) QueryTransfer(ctx context.Context, a payment.Account, no string) (*payment.Transfer, error) {
	if f.crash.Load() {
		return nil, errCrash
	}
	return f.Transferer.QueryTransfer(ctx, a, no)
}

// localWeChatPay starts a local WeChat Pay platform and a client of it,
// both on the clock *clock points to (which the caller sets before any
// call: the engine's test clock, made after them).
func localWeChatPay(t testing.TB, clock **Clock) (*wechatpaytest.Platform, *wechatpay.Client) {
	t.Helper()
	now := func() time.Time { return (*clock).Now() }
	wp := wechatpaytest.Start(t, wechatpaytest.Options{Now: now})
	cfg := wp.Config("")
	cfg.Now = now
	client, err := wechatpay.New(cfg)
	require.NoError(t, err)
	return wp, client
}

type payoutEnv struct {
	*promoEnv
	wp     *wechatpaytest.Platform
	client *wechatpay.Client
	flaky  *flakyTransferer
}

// newPayoutEnv: the tea shop of newPromoEnv, payouts through a local
// WeChat Pay platform sharing the test clock, the tin in a 10 % plan.
func newPayoutEnv(t *testing.T, h Harness, edit func(*promoter.PayoutConfig)) *payoutEnv {
	t.Helper()
	// The platform and the client keep the test's clock (set below,
	// before any call).
	var clock *Clock
	wp, client := localWeChatPay(t, &clock)
	flaky := &flakyTransferer{Transferer: client}
	pe := newPromoEnv(t, h, minishop.WithPromoter(func(c *promoter.Config) {
		c.Secret = []byte("promoter secret")
		c.Payouts = promoter.PayoutConfig{Transferer: flaky}
		if edit != nil {
			edit(&c.Payouts)
		}
	}))
	clock = pe.clock
	pe.plan(0, promoter.PlanParams{Rate: commerce.MustPercent(10)})
	return &payoutEnv{promoEnv: pe, wp: wp, client: client, flaky: flaky}
}

// payee makes a promoter (bound to agency when it is not nil) whose
// payee is an openid under the platform's app.
func (e *payoutEnv) payee(name string, agency *promoter.Agency) *promoter.Promoter {
	e.t.Helper()
	p := e.promoterNamed(name)
	if agency != nil {
		require.NoError(e.t, e.ps.BindToAgency(e.ctx, agency.ID, p.ID))
	}
	p, err := e.ps.SetPromoterPayees(e.ctx, p.ID, []payment.Payee{{Kind: payment.PayeePerson, Account: "o" + name + "_openid", App: e.wp.AppID()}})
	require.NoError(e.t, err)
	return p
}

// sell sells n orders of qty of product through p's link, paid and
// received; settle settles them.
func (e *payoutEnv) sell(p *promoter.Promoter, n int, product int, qty int64) []*commerce.Order {
	e.t.Helper()
	var out []*commerce.Order
	for i := range n {
		o, err := e.buy(fmt.Sprintf("%s-c%d-%d", p.Name, i, rand.Int()), "k", commerce.With(promoter.Link(e.share(p, product, promoter.SceneGroup))), e.line(product, qty))
		require.NoError(e.t, err)
		e.pay(o)
		e.deliver(o)
		out = append(out, o)
	}
	return out
}

func (e *payoutEnv) settle() {
	e.t.Helper()
	e.advance(7*24*time.Hour + time.Second)
	_, err := e.svc.RunDue(e.ctx)
	require.NoError(e.t, err)
}

// notify hands a platform notification to the payment service, as its
// notify_url would.
func (e *payoutEnv) notify(n *wechatpaytest.Notification) (payment.Outcome, error) {
	got, err := e.client.ParseNotification(e.ctx, n.Request())
	if err != nil {
		return "", err
	}
	return e.engine.Payments.ApplyNotification(e.ctx, "wechatpay", got)
}

// confirmAll plays every payee accepting their waiting bill, delivering the
// notifications.
func (e *payoutEnv) confirmAll() int {
	e.t.Helper()
	n := 0
	for _, b := range e.wp.TransferBills() {
		if b.State != "WAIT_USER_CONFIRM" {
			continue
		}
		note, err := e.wp.ConfirmTransfer(b.OutBillNo)
		require.NoError(e.t, err)
		_, err = e.notify(note)
		require.NoError(e.t, err)
		n++
	}
	return n
}

// party names a payout's payee for the checks.
type party struct {
	params promoter.PayoutParams
	openid string
}

func (e *payoutEnv) promoterParty(p *promoter.Promoter) party {
	return party{promoter.PayoutParams{MerchantID: e.m, Promoter: p.ID}, p.Payees[0].Account}
}

func (e *payoutEnv) agencyParty(a *promoter.Agency) party {
	return party{promoter.PayoutParams{MerchantID: e.m, Agency: a.ID}, a.Payees[0].Account}
}

// agree asserts that minishop's books and WeChat's bills agree to the fen:
// every party's Paid is what the platform's SUCCESS bills sent its openid,
// and the sum over the commissions' paid parts; every bill on the platform
// is a payout of minishop's, in the same final state; nothing is in flight.
func (e *payoutEnv) agree(parties []party, wantPaid map[string]int64) {
	t := e.t
	t.Helper()
	success := map[string]int64{}
	for _, b := range e.wp.TransferBills() {
		po, err := e.ps.GetPayout(e.ctx, b.OutBillNo)
		require.NoError(t, err, "bill %s is a payout", b.OutBillNo)
		assert.Equal(t, b.Amount, minor(po.Amount), "bill %s amount", b.OutBillNo)
		want := map[string]payment.TransferState{"SUCCESS": payment.TransferSucceeded, "FAIL": payment.TransferFailed, "CANCELLED": payment.TransferCancelled}[b.State]
		assert.Equal(t, want, po.State, "bill %s: platform %s", b.OutBillNo, b.State)
		if b.State == "SUCCESS" {
			success[b.OpenID] += b.Amount
		}
	}
	for _, p := range parties {
		st, err := e.ps.PayoutStatement(e.ctx, p.params)
		require.NoError(t, err)
		assert.Equal(t, success[p.openid], minor(st.Paid), "%s: paid per WeChat", p.openid)
		assert.Equal(t, wantPaid[p.openid], minor(st.Paid), "%s: paid what was owed", p.openid)
		assert.True(t, st.Owed.IsZero(), "%s: owed %s", p.openid, st.Owed)
		assert.Nil(t, st.Open, "%s: nothing in flight", p.openid)
		assert.True(t, st.InFlight.IsZero())
		// The commissions' paid parts sum to the same.
		q := promoter.CommissionQuery{Promoter: p.params.Promoter, Agency: p.params.Agency, From: Epoch.Add(-time.Hour), To: e.clock.Now().Add(time.Hour)}
		page, err := e.ps.Commissions(e.ctx, q)
		require.NoError(t, err)
		var sum int64
		for _, c := range page.Commissions {
			sh := c.PromoterPayout
			if !p.params.Agency.IsZero() {
				sh = c.AgencyPayout
			}
			assert.Empty(t, sh.Bill, "commission %s still claimed", c.ID)
			if sh.Paid.IsSet() {
				sum += minor(sh.Paid)
			}
		}
		assert.Equal(t, success[p.openid], sum, "%s: the commissions' paid parts", p.openid)
	}
}

func minor(m commerce.Money) int64 { v, _ := m.Minor(); return v }

// testPayoutConcurrent: 32 payout runs at once (on request and scheduled)
// over the same settled commissions: one bill per payee, each commission
// claimed once, and after the payees accept, paid once; a second wave
// finds nothing owed.
func testPayoutConcurrent(t *testing.T, h Harness) {
	e := newPayoutEnv(t, h, func(c *promoter.PayoutConfig) { c.Every = time.Hour })
	agency, err := e.ps.CreateAgency(e.ctx, promoter.AgencyParams{Name: "星火机构", PromoterShare: commerce.MustPercent(60)})
	require.NoError(t, err)
	agency, err = e.ps.SetAgencyPayees(e.ctx, agency.ID, []payment.Payee{{Kind: payment.PayeePerson, Account: "oAgency_openid", App: e.wp.AppID()}})
	require.NoError(t, err)
	ann, bob := e.payee("Ann", nil), e.payee("Bob", agency)
	e.sell(ann, 12, 0, 1) // 12 × 10.00
	e.sell(bob, 6, 0, 1)  // 6 × 10.00: 6.00 to Bob, 4.00 to the agency
	e.settle()
	parties := []party{e.promoterParty(ann), e.promoterParty(bob), e.agencyParty(agency)}
	want := map[string]int64{"oAnn_openid": 12_000, "oBob_openid": 3_600, "oAgency_openid": 2_400}

	wave := func() {
		var wg sync.WaitGroup
		for i := range 32 {
			wg.Go(func() {
				if i%2 == 0 {
					_, _ = e.ps.RunDue(e.ctx)
					return
				}
				_, _ = e.ps.Payout(e.ctx, parties[i%3].params)
			})
		}
		wg.Wait()
	}
	wave()
	bills := e.wp.TransferBills()
	require.Len(t, bills, 3, "one bill per payee")
	for _, b := range bills {
		assert.Equal(t, want[b.OpenID], b.Amount, "%s is owed the sum of its parts", b.OpenID)
		assert.Equal(t, "WAIT_USER_CONFIRM", b.State)
	}
	for _, p := range parties {
		st, err := e.ps.PayoutStatement(e.ctx, p.params)
		require.NoError(t, err)
		require.NotNil(t, st.Open)
		assert.Equal(t, want[p.openid], minor(st.InFlight))
		assert.True(t, st.Owed.IsZero(), "all claimed")
		assert.NotEmpty(t, st.Open.ClientParams["package"], "the Mini Program's parameters")
	}
	assert.Equal(t, 3, e.confirmAll())
	e.advance(2 * time.Hour)
	wave()
	assert.Len(t, e.wp.TransferBills(), 3, "nothing is owed twice")
	e.agree(parties, want)
	_, err = e.ps.Payout(e.ctx, parties[0].params)
	assert.ErrorIs(t, err, promoter.ErrNothingOwed)
	assert.Equal(t, commerce.KindFailedPrecondition, commerce.KindOf(err))
}

// testPayoutCrash: a process that dies between claiming and calling the
// channel (before the call, or after it took effect) leaves the payout to
// the next run, which sends the same bill number: one bill, paid once.
func testPayoutCrash(t *testing.T, h Harness) {
	for _, lost := range []bool{false, true} {
		t.Run(fmt.Sprintf("took_effect=%v", lost), func(t *testing.T) {
			e := newPayoutEnv(t, h, func(c *promoter.PayoutConfig) { c.Every = time.Hour })
			ann := e.payee("Ann", nil)
			e.sell(ann, 3, 0, 1)
			e.settle()
			e.flaky.crash.Store(true)
			e.flaky.lost.Store(lost)
			po, err := e.ps.Payout(e.ctx, promoter.PayoutParams{MerchantID: e.m, Promoter: ann.ID})
			require.Error(t, err)
			require.NotNil(t, po, "the claim is recorded")
			assert.False(t, po.Submitted)
			assert.Len(t, e.wp.TransferBills(), map[bool]int{false: 0, true: 1}[lost])
			e.flaky.crash.Store(false)
			e.advance(2 * time.Minute)
			runDue(t, e.engine, e.ctx)
			bills := e.wp.TransferBills()
			require.Len(t, bills, 1, "the same bill, never a second")
			assert.Equal(t, po.BillNo, bills[0].OutBillNo)
			again, err := e.ps.Payout(e.ctx, promoter.PayoutParams{MerchantID: e.m, Promoter: ann.ID})
			require.NoError(t, err)
			assert.Equal(t, po.BillNo, again.BillNo, "in flight: the same payout")
			assert.Equal(t, payment.TransferWaiting, again.State)
			assert.NotEmpty(t, again.ClientParams["package"], "parameters fetched by sending the same bill again")
			assert.Equal(t, 1, e.confirmAll())
			e.agree([]party{e.promoterParty(ann)}, map[string]int64{"oAnn_openid": 3_000})
		})
	}
}

// testPayoutFaults: the platform fails 30 % of the transfer calls (with
// the call taking effect or not), notifications are lost, payees accept,
// refuse or let bills expire; once it recovers, minishop's books and
// WeChat's bills agree to the fen and everything owed is paid once.
func testPayoutFaults(t *testing.T, h Harness) {
	for _, lost := range []bool{false, true} {
		t.Run(fmt.Sprintf("lost=%v", lost), func(t *testing.T) {
			e := newPayoutEnv(t, h, func(c *promoter.PayoutConfig) { c.Every = time.Hour })
			rng := rand.New(rand.NewPCG(1, 2))
			var parties []party
			want := map[string]int64{}
			for i := range 10 {
				p := e.payee(fmt.Sprintf("P%d", i), nil)
				e.sell(p, 2+i%3, 0, 1)
				parties = append(parties, e.promoterParty(p))
				want[p.Payees[0].Account] = int64(2+i%3) * 1_000
			}
			e.settle()
			e.wp.SetFaults(wechatpaytest.Fault{Prefix: "/v3/fund-app", Rate: 0.3, Lost: lost})
			for round := 0; round < 40; round++ {
				if round == 12 {
					e.wp.SetFaults() // recovered
				}
				for _, p := range parties {
					_, _ = e.ps.Payout(e.ctx, p.params)
				}
				for _, b := range e.wp.TransferBills() {
					if b.State != "WAIT_USER_CONFIRM" {
						continue
					}
					var note *wechatpaytest.Notification
					var err error
					switch r := rng.IntN(10); {
					case round < 12 && r < 2:
						note, err = e.wp.FailTransfer(b.OutBillNo, "PAYEE_ACCOUNT_ABNORMAL")
					case round < 12 && r == 2:
						continue // the payee does not look yet
					default:
						note, err = e.wp.ConfirmTransfer(b.OutBillNo)
					}
					require.NoError(t, err)
					if rng.IntN(10) < 3 {
						continue // the notification is lost: the query finds it
					}
					_, _ = e.notify(note)
				}
				e.advance(61 * time.Minute)
				_, _ = e.engine.RunDue(e.ctx)
			}
			e.agree(parties, want)
			failed := 0
			for _, b := range e.wp.TransferBills() {
				if b.State == "FAIL" {
					failed++
				}
			}
			faults := 0
			for _, r := range e.wp.Requests() {
				if r.Code == "SYSTEM_ERROR" {
					faults++
				}
			}
			assert.Positive(t, faults, "the platform failed calls")
			assert.Positive(t, failed, "some bills failed, and their commission was paid by another")
			t.Logf("%d bills, %d failed and paid again, %d calls failed", len(e.wp.TransferBills()), failed, faults)
		})
	}
}

// testPayoutBadPayee: a payee WeChat would refuse (no openid under the
// merchant's app; no real name for 2,000 yuan or more) is refused naming
// the field, and nothing is recorded or sent.
func testPayoutBadPayee(t *testing.T, h Harness) {
	e := newPayoutEnv(t, h, func(c *promoter.PayoutConfig) {
		c.MaxPerTransfer = CNY("5000")
	})
	e.plan(2, promoter.PlanParams{Rate: commerce.MustPercent(90)})
	ann := e.promoterNamed("Ann")
	ann, err := e.ps.SetPromoterPayees(e.ctx, ann.ID, []payment.Payee{{Kind: payment.PayeePerson, Account: "oAnn", App: "wxanotherapp"}})
	require.NoError(t, err)
	e.sell(ann, 1, 2, 10) // 90 % of 2,500.00
	e.settle()
	pp := promoter.PayoutParams{MerchantID: e.m, Promoter: ann.ID}
	nothing := func() {
		t.Helper()
		st, err := e.ps.PayoutStatement(e.ctx, pp)
		require.NoError(t, err)
		assert.Equal(t, "CNY 2250.00", st.Owed.String(), "still owed, unclaimed")
		assert.Nil(t, st.Open)
		assert.Empty(t, st.Bills)
		assert.Empty(t, e.wp.Requests(), "nothing sent")
		_, err = e.store.GetRecord(e.ctx, "promoter.payee", e.m.String()+"/p/"+ann.ID.String())
		assert.ErrorIs(t, err, storage.ErrNotFound, "no payee account written")
	}
	_, err = e.ps.Payout(e.ctx, pp)
	assertInvalidField(t, err, "payees")
	nothing()

	_, err = e.ps.SetPromoterPayees(e.ctx, ann.ID, []payment.Payee{{Kind: payment.PayeePerson, Account: "oAnn", App: e.wp.AppID()}})
	require.NoError(t, err)
	_, err = e.ps.Payout(e.ctx, pp)
	assertInvalidField(t, err, "payees[0].name")
	nothing()

	_, err = e.ps.SetPromoterPayees(e.ctx, ann.ID, []payment.Payee{{Kind: payment.PayeePerson, Account: "oAnn", App: e.wp.AppID(), Name: "安娜"}})
	require.NoError(t, err)
	po, err := e.ps.Payout(e.ctx, pp)
	require.NoError(t, err)
	assert.Equal(t, "CNY 2250.00", po.Amount.String())
	bill, ok := e.wp.TransferBill(po.BillNo)
	require.True(t, ok)
	assert.Equal(t, "安娜", bill.UserName, "the name reached WeChat, encrypted")
}

func assertInvalidField(t *testing.T, err error, field string) {
	t.Helper()
	var ce *commerce.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, commerce.KindInvalid, ce.Kind, "%v", err)
	assert.Equal(t, field, ce.Field, "%v", err)
}

// testPayoutFailCancelDebt: a failed and a cancelled payout release their
// commission for the next; the per-transfer limit leaves the rest owed; a
// refund after payment claws back, and the debt is netted from the next
// payout.
func testPayoutFailCancelDebt(t *testing.T, h Harness) {
	e := newPayoutEnv(t, h, func(c *promoter.PayoutConfig) { c.MaxPerTransfer = CNY("25") })
	ann := e.payee("Ann", nil)
	orders := e.sell(ann, 3, 0, 1) // 3 × 10.00
	e.settle()
	pp := promoter.PayoutParams{MerchantID: e.m, Promoter: ann.ID}

	po, err := e.ps.Payout(e.ctx, pp)
	require.NoError(t, err)
	assert.Equal(t, "CNY 25.00", po.Amount.String(), "capped per transfer")
	note, err := e.wp.FailTransfer(po.BillNo, "PAYEE_ACCOUNT_ABNORMAL")
	require.NoError(t, err)
	out, err := e.notify(note)
	require.NoError(t, err)
	assert.Equal(t, payment.Applied, out)
	out, err = e.notify(note)
	require.NoError(t, err)
	assert.Equal(t, payment.Duplicate, out, "applied once")
	st, err := e.ps.PayoutStatement(e.ctx, pp)
	require.NoError(t, err)
	assert.Equal(t, "CNY 30.00", st.Owed.String(), "released")
	assert.Equal(t, "CNY 25.00", st.Failed.String())

	po2, err := e.ps.Payout(e.ctx, pp)
	require.NoError(t, err)
	assert.NotEqual(t, po.BillNo, po2.BillNo, "a new bill once the first failed")
	po2, err = e.ps.CancelPayout(e.ctx, po2.BillNo)
	require.NoError(t, err)
	assert.Equal(t, payment.TransferCancelling, po2.State)
	e.advance(2 * time.Hour)
	_, err = e.ps.RunDue(e.ctx)
	require.NoError(t, err)
	po2, err = e.ps.GetPayout(e.ctx, po2.BillNo)
	require.NoError(t, err)
	assert.Equal(t, payment.TransferCancelled, po2.State)

	po3, err := e.ps.Payout(e.ctx, pp)
	require.NoError(t, err)
	assert.Equal(t, 1, e.confirmAll())
	po4, err := e.ps.Payout(e.ctx, pp)
	require.NoError(t, err)
	assert.Equal(t, "CNY 5.00", po4.Amount.String(), "the rest")
	assert.Equal(t, 1, e.confirmAll())
	st, err = e.ps.PayoutStatement(e.ctx, pp)
	require.NoError(t, err)
	assert.Equal(t, "CNY 30.00", st.Paid.String())
	assert.Equal(t, []string{po.BillNo, po2.BillNo, po3.BillNo, po4.BillNo}, st.Bills)

	// A refund after payment claws 10.00 back: a debt against the next.
	_, err = e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: e.m, OrderID: orders[0].ID,
		Items: []commerce.RefundItem{{Line: 0, Quantity: 1}}, IdempotencyKey: "back"})
	require.NoError(t, err)
	st, err = e.ps.PayoutStatement(e.ctx, pp)
	require.NoError(t, err)
	require.Equal(t, "CNY -10.00", st.Owed.String(), "owed back")
	_, err = e.ps.Payout(e.ctx, pp)
	assert.ErrorIs(t, err, promoter.ErrNothingOwed, "a debt is not paid out")
	e.sell(ann, 2, 0, 1)
	e.settle()
	po5, err := e.ps.Payout(e.ctx, pp)
	require.NoError(t, err)
	assert.Equal(t, "CNY 10.00", po5.Amount.String(), "20.00 earned less the 10.00 debt")
	assert.Equal(t, 1, e.confirmAll())
	st, err = e.ps.PayoutStatement(e.ctx, pp)
	require.NoError(t, err)
	assert.True(t, st.Owed.IsZero(), "owed %s", st.Owed)
	assert.Equal(t, "CNY 40.00", st.Paid.String(), "50.00 earned, 10.00 clawed back")

	// A bill minishop never made: the notification is rejected, logged,
	// and changes nothing.
	_, err = e.client.CreateTransfer(e.ctx, payment.TransferRequest{BillNo: "STRANGER1", Amount: CNY("1"), Remark: "x",
		Purpose: payment.PurposeCommission, Payee: ann.Payees[0]})
	require.NoError(t, err)
	note, err = e.wp.ConfirmTransfer("STRANGER1")
	require.NoError(t, err)
	out, err = e.notify(note)
	assert.Equal(t, payment.Rejected, out)
	assert.ErrorIs(t, err, payment.ErrRejected)
	log, err := e.engine.Payments.Notifications(e.ctx, "STRANGER1")
	require.NoError(t, err)
	require.Len(t, log, 1)
	assert.Equal(t, payment.Rejected, log[0].Outcome)
	assert.Equal(t, payment.NotifyTransfer, log[0].Kind)
	st2, err := e.ps.PayoutStatement(e.ctx, pp)
	require.NoError(t, err)
	assert.Equal(t, st.Paid.String(), st2.Paid.String())
}
