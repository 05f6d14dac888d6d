package storetest

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
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
	"github.com/minishop/minishop/storedvalue"
)

func runSharing(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"SettleShareFinish", testShareSettle},
		{"ClosedReceiver", testShareClosedReceiver},
		{"BadInput", testShareBadInput},
		{"RefundAfterSharing", testShareRefundAfter},
		{"SettlementRacingRefund", testShareRace},
		{"Faults", testShareFaults},
		{"MoneyOutFaults", testMoneyOutFaults},
		{"AfterTheFreezePeriod", testShareAfterFreeze},
		{"MostlyStoredValue", testShareMostlyStoredValue},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

// sharingEnv: the tea shop of newPromoEnv paid through a local WeChat Pay
// platform with profit sharing: a 10 % promoter plan on the tin, and the
// service provider's 2 % fee shared to its own merchant account.
type sharingEnv struct {
	*promoEnv
	wp     *wechatpaytest.Platform
	client *wechatpay.Client
}

const (
	sharingProvider = "wechatpay"
	providerMch     = "1900009999"
	providerName    = "示例服务商有限公司"
	agencyMch       = "1900008888"
	agencyName      = "示例推广机构有限公司"
)

func newSharingEnv(t *testing.T, h Harness, opts ...func(*wechatpay.Client) minishop.Option) *sharingEnv {
	t.Helper()
	var clock *Clock
	wp, client := localWeChatPay(t, &clock)
	engineOpts := []minishop.Option{minishop.WithPayments(client)}
	for _, o := range opts {
		engineOpts = append(engineOpts, o(client))
	}
	pe := newPromoEnv(t, h, engineOpts...)
	clock = pe.clock
	pe.plan(0, promoter.PlanParams{Rate: commerce.MustPercent(10)})
	wp.SetMerchantName(providerMch, providerName)
	wp.SetMerchantName(agencyMch, agencyName)
	e := &sharingEnv{promoEnv: pe, wp: wp, client: client}
	require.NoError(t, e.engine.Payments.SetSharingPlan(e.ctx, e.m, sharingProvider, &payment.SharingPlan{Fee: commerce.MustPercent(2),
		FeeTo: payment.Payee{Kind: payment.PayeeBusiness, Account: providerMch, Name: providerName}}))
	return e
}

// promoterWithPayee makes a promoter paid at an openid under the
// platform's app.
func (e *sharingEnv) promoterWithPayee(name string) *promoter.Promoter {
	e.t.Helper()
	p := e.promoterNamed(name)
	p, err := e.ps.SetPromoterPayees(e.ctx, p.ID, []payment.Payee{{Kind: payment.PayeePerson, Account: "o" + name + "_openid", App: e.wp.AppID()}})
	require.NoError(e.t, err)
	return p
}

// agencyWithPayee makes an agency (keeping 40 % of its promoters'
// commission) paid at its business account, and binds p to it.
func (e *sharingEnv) agencyWithPayee(p *promoter.Promoter) *promoter.Agency {
	e.t.Helper()
	a, err := e.ps.CreateAgency(e.ctx, promoter.AgencyParams{Name: agencyName, PromoterShare: commerce.MustPercent(60)})
	require.NoError(e.t, err)
	require.NoError(e.t, e.ps.BindToAgency(e.ctx, a.ID, p.ID))
	a, err = e.ps.SetAgencyPayees(e.ctx, a.ID, []payment.Payee{{Kind: payment.PayeeBusiness, Account: agencyMch, Name: agencyName}})
	require.NoError(e.t, err)
	return a
}

// payWeChat pays o on the platform and hands the notification over.
func (e *sharingEnv) payWeChat(o *commerce.Order) *payment.Payment {
	e.t.Helper()
	p, _, err := e.engine.Payments.Pay(e.ctx, payment.PayParams{MerchantID: o.MerchantID, OrderID: o.ID, Provider: sharingProvider,
		Payer: "oBuyer_" + string(o.CustomerID)})
	require.NoError(e.t, err)
	n, err := e.wp.Pay(p.PaymentNo)
	require.NoError(e.t, err)
	e.deliverNote(n)
	return p
}

func (e *sharingEnv) deliverNote(n *wechatpaytest.Notification) {
	e.t.Helper()
	rec := httptest.NewRecorder()
	e.engine.Payments.NotificationHandler(sharingProvider, func(_ *http.Request, err error) { e.t.Errorf("notification: %v", err) }).ServeHTTP(rec, n.Request())
	require.Equal(e.t, http.StatusNoContent, rec.Code)
}

// sellShared sells n orders of the tin through p's link, paid and received.
func (e *sharingEnv) sellShared(p *promoter.Promoter, n int) []*commerce.Order {
	e.t.Helper()
	var out []*commerce.Order
	for i := range n {
		o, err := e.buy(fmt.Sprintf("%s-c%d-%d", p.Name, i, rand.Int()), "k", commerce.With(promoter.Link(e.share(p, 0, promoter.SceneGroup))), e.line(0, 1))
		require.NoError(e.t, err)
		pay := e.payWeChat(o)
		require.True(e.t, pay.ProfitSharing, "a merchant with a sharing plan pays with profit sharing")
		e.deliver(o)
		out = append(out, o)
	}
	return out
}

// settleAll closes the after-sales window: the kernel completes the
// orders, which opens their sharing orders.
func (e *sharingEnv) settleAll() error {
	e.advance(7*24*time.Hour + time.Second)
	_, err := e.svc.RunDue(e.ctx)
	return err
}

// drain runs the payment service's due work until the sharing orders and
// returns have all ended (the platform finishes each when next asked).
func (e *sharingEnv) drain(rounds int) {
	e.t.Helper()
	for range rounds {
		e.advance(2 * time.Minute)
		_, _ = e.engine.Payments.RunDue(e.ctx)
	}
}

func (e *sharingEnv) payment(o *commerce.Order) *payment.Payment {
	e.t.Helper()
	ps, err := e.engine.Payments.OrderPayments(e.ctx, o.MerchantID, o.ID)
	require.NoError(e.t, err)
	require.Len(e.t, ps, 1)
	return ps[0]
}

func (e *sharingEnv) statement(p promoter.PayoutParams) *promoter.PayoutStatement {
	e.t.Helper()
	p.MerchantID = e.m
	st, err := e.ps.PayoutStatement(e.ctx, p)
	require.NoError(e.t, err)
	return st
}

// ledgerOf sums an order's ledger by party, in fen.
func (e *sharingEnv) ledgerOf(o *commerce.Order) map[payment.Party]int64 {
	e.t.Helper()
	entries, err := e.engine.Payments.Ledger(e.ctx, o.MerchantID, o.ID)
	require.NoError(e.t, err)
	out := map[payment.Party]int64{}
	for _, en := range entries {
		out[en.Party] += minor(en.Amount)
	}
	return out
}

// agreeShares holds each of the orders' sharing orders against WeChat's:
// the same receivers, amounts and outcomes, and the money in the
// platform's book of the payment adding up.
func (e *sharingEnv) agreeShares(orders []*commerce.Order) {
	t := e.t
	t.Helper()
	for _, o := range orders {
		p := e.payment(o)
		book, ok := e.wp.Sharing(p.ProviderRef)
		require.True(t, ok, "payment %s is a sharing payment at WeChat", p.PaymentNo)
		for _, sh := range p.Shares {
			require.True(t, sh.Final(), "share %s ended", sh.OrderNo)
			at, ok := e.wp.ShareOrder("", sh.OrderNo)
			if sh.Failed != "" {
				assert.False(t, ok && at.State == "FINISHED" && len(at.Receivers) > 0, "a refused share paid nobody at WeChat")
				continue
			}
			require.True(t, ok, "WeChat has share %s", sh.OrderNo)
			assert.Equal(t, "FINISHED", at.State)
			require.Len(t, at.Receivers, len(sh.Lines))
			for i, l := range sh.Lines {
				r := at.Receivers[i]
				assert.Equal(t, l.Payee.Account, r.Account)
				assert.Equal(t, minor(l.Amount), r.Amount, "line %d amount", i)
				want := map[payment.ShareResultState]string{payment.ShareSucceeded: "SUCCESS", payment.ShareClosed: "CLOSED"}[l.Result]
				assert.Equal(t, want, r.Result, "line %d (%s): minishop %s, WeChat %s %s", i, l.Party, l.Result, r.Result, r.FailReason)
				if l.Result == payment.ShareClosed {
					assert.Equal(t, r.FailReason, l.FailReason)
				}
			}
		}
		shared := minor(p.Shared())
		assert.Equal(t, book.Shared-book.Returned, shared, "payment %s: shared per minishop and per WeChat", p.PaymentNo)
		assert.Zero(t, book.Unsplit, "payment %s: nothing left frozen", p.PaymentNo)
		assert.Equal(t, book.Total, book.Shared+book.Unfrozen+book.Refunded, "payment %s: WeChat's book adds up", p.PaymentNo)
	}
}

// A settled order is shared: the provider's fee and the promoter's
// commission go out in one sharing order, the rest is unfrozen to the
// merchant, and the ledger, the promoter's statement and WeChat agree.
func testShareSettle(t *testing.T, h Harness) {
	e := newSharingEnv(t, h)
	p := e.promoterWithPayee("lin")
	orders := e.sellShared(p, 1)
	o := orders[0]
	require.NoError(t, e.settleAll())

	pay := e.payment(o)
	require.Len(t, pay.Shares, 1, "the settlement opened one sharing order")
	sh := pay.Shares[0]
	assert.False(t, sh.Sent, "sent after commit, by RunDue")
	require.Len(t, sh.Lines, 2)
	assert.Equal(t, payment.PartyProvider, sh.Lines[0].Party)
	assert.Equal(t, int64(2_00), minor(sh.Lines[0].Amount), "2 % of 100.00")
	assert.Equal(t, payment.PartyPromoter, sh.Lines[1].Party)
	assert.Equal(t, int64(10_00), minor(sh.Lines[1].Amount), "10 % of 100.00")
	assert.Equal(t, p.Payees[0], sh.Lines[1].Payee)
	cs := e.commissions(o)
	require.Len(t, cs, 1)
	assert.NotEmpty(t, cs[0].PromoterPayout.Bill, "the share claims the commission")
	st := e.statement(promoter.PayoutParams{Promoter: p.ID})
	assert.True(t, st.Owed.IsZero(), "claimed by the share, not owed: %s", st.Owed)

	e.drain(3)
	pay = e.payment(o)
	sh = pay.Shares[0]
	assert.True(t, sh.Sent)
	assert.Equal(t, payment.ShareFinished, sh.State)
	for _, l := range sh.Lines {
		assert.Equal(t, payment.ShareSucceeded, l.Result, "%s line", l.Party)
	}
	rc, ok := e.wp.Receiver("", "PERSONAL_OPENID", p.Payees[0].Account)
	require.True(t, ok, "the promoter was added as a receiver")
	assert.Equal(t, "DISTRIBUTOR", rc.RelationType)
	rc, ok = e.wp.Receiver("", "MERCHANT_ID", providerMch)
	require.True(t, ok)
	assert.Equal(t, providerName, rc.Name, "the name travelled encrypted and decrypted to itself")
	assert.Equal(t, int64(10_00), e.wp.Received(p.Payees[0].Account))
	assert.Equal(t, int64(2_00), e.wp.Received(providerMch))

	st = e.statement(promoter.PayoutParams{Promoter: p.ID})
	assert.Equal(t, int64(10_00), minor(st.Paid))
	assert.True(t, st.Owed.IsZero())
	cs = e.commissions(o)
	assert.Empty(t, cs[0].PromoterPayout.Bill)
	assert.Equal(t, int64(10_00), minor(cs[0].PromoterPayout.Paid))
	l := e.ledgerOf(o)
	assert.Equal(t, int64(2_00), l[payment.PartyProvider])
	assert.Equal(t, int64(10_00), l[payment.PartyPromoter])
	var sum int64
	for _, v := range l {
		sum += v
	}
	assert.Equal(t, int64(100_00), sum, "the ledger sums to what was paid")
	e.agreeShares(orders)

	// Another round sends nothing more.
	before := len(e.wp.Requests())
	e.drain(2)
	assert.Equal(t, before, len(e.wp.Requests()), "nothing left to send")
}

// A receiver WeChat closes: its line ends closed with WeChat's reason,
// the commission is owed again and counted as failed, the fee line still
// pays; a payout by transfer then pays what the share could not, once.
func testShareClosedReceiver(t *testing.T, h Harness) {
	e := newSharingEnv(t, h, withPayouts)
	p := e.promoterWithPayee("mo")
	e.wp.RefuseReceiver(p.Payees[0].Account, "RECEIVER_HIGH_RISK")
	orders := e.sellShared(p, 1)
	require.NoError(t, e.settleAll())
	e.drain(3)
	sh := e.payment(orders[0]).Shares[0]
	require.Len(t, sh.Lines, 2)
	assert.Equal(t, payment.ShareSucceeded, sh.Lines[0].Result, "the provider's fee")
	assert.Equal(t, payment.ShareClosed, sh.Lines[1].Result)
	assert.Equal(t, "RECEIVER_HIGH_RISK", sh.Lines[1].FailReason)
	st := e.statement(promoter.PayoutParams{Promoter: p.ID})
	assert.Equal(t, int64(10_00), minor(st.Failed))
	assert.Equal(t, int64(10_00), minor(st.Owed), "still owed")
	assert.True(t, st.Paid.IsZero())
	assert.Zero(t, e.wp.Received(p.Payees[0].Account))
	e.agreeShares(orders)

	po, err := e.ps.Payout(e.ctx, promoter.PayoutParams{MerchantID: e.m, Promoter: p.ID})
	require.NoError(t, err)
	assert.Equal(t, int64(10_00), minor(po.Amount))
	n, err := e.wp.ConfirmTransfer(po.BillNo)
	require.NoError(t, err)
	e.deliverNote(n)
	st = e.statement(promoter.PayoutParams{Promoter: p.ID})
	assert.Equal(t, int64(10_00), minor(st.Paid), "paid by transfer")
	assert.True(t, st.Owed.IsZero())
	_, err = e.ps.Payout(e.ctx, promoter.PayoutParams{MerchantID: e.m, Promoter: p.ID})
	assert.ErrorIs(t, err, promoter.ErrNothingOwed)
}

// withPayouts turns on payouts by transfer through the env's channel.
func withPayouts(c *wechatpay.Client) minishop.Option {
	return minishop.WithPromoter(func(pc *promoter.Config) {
		pc.Payouts = promoter.PayoutConfig{Transferer: c, Poll: time.Minute}
	})
}

// What WeChat would refuse is refused before anything is recorded: a
// commission above what the merchant may share, and a promoter with no
// account the channel can pay. The settlement fails naming why; the order
// and its commission stay as they were, and no sharing order exists.
func testShareBadInput(t *testing.T, h Harness) {
	t.Run("AboveMaxRatio", func(t *testing.T) {
		e := newSharingEnv(t, h)
		e.plan(0, promoter.PlanParams{Rate: commerce.MustPercent(40)})
		p := e.promoterWithPayee("gao")
		orders := e.sellShared(p, 1)
		// Another order, with no commission, due at the same time.
		fine, err := e.buy("fine", "k", nil, e.line(1, 1))
		require.NoError(t, err)
		e.payWeChat(fine)
		e.deliver(fine)
		err = e.settleAll()
		require.Error(t, err)
		assert.Contains(t, err.Error(), "the merchant may share")
		e.assertUnshared(orders[0])
		got, err := e.svc.GetOrder(e.ctx, fine.MerchantID, fine.ID)
		require.NoError(t, err)
		assert.Equal(t, commerce.StatusCompleted, got.Status, "the refused settlement holds up no other order")
	})
	t.Run("NoPayableAccount", func(t *testing.T) {
		e := newSharingEnv(t, h)
		p := e.promoterNamed("nopayee")
		p, err := e.ps.SetPromoterPayees(e.ctx, p.ID, []payment.Payee{{Kind: payment.PayeePerson, Account: "oOther_openid", App: "wxother0000000000"}})
		require.NoError(t, err)
		orders := e.sellShared(p, 1)
		err = e.settleAll()
		require.Error(t, err)
		assert.Contains(t, err.Error(), "no payee the channel can pay")
		e.assertUnshared(orders[0])
	})
	t.Run("BadPlan", func(t *testing.T) {
		e := newSharingEnv(t, h)
		err := e.engine.Payments.SetSharingPlan(e.ctx, e.m, sharingProvider, &payment.SharingPlan{Fee: commerce.MustPercent(2),
			FeeTo: payment.Payee{Kind: payment.PayeeBusiness, Account: providerMch}})
		assertInvalidField(t, err, "plan.fee_to.name")
		err = e.engine.Payments.SetSharingPlan(e.ctx, e.m, sharingProvider, &payment.SharingPlan{Fee: commerce.MustPercent(40),
			FeeTo: payment.Payee{Kind: payment.PayeeBusiness, Account: providerMch, Name: providerName}})
		assertInvalidField(t, err, "plan.fee")
		plan, err := e.engine.Payments.SharingPlan(e.ctx, e.m, sharingProvider)
		require.NoError(t, err)
		assert.Equal(t, commerce.MustPercent(2), plan.Fee, "the refused plans changed nothing")
	})
}

func (e *sharingEnv) assertUnshared(o *commerce.Order) {
	e.t.Helper()
	got, err := e.svc.GetOrder(e.ctx, o.MerchantID, o.ID)
	require.NoError(e.t, err)
	assert.Equal(e.t, commerce.StatusReceived, got.Status, "the settlement rolled back")
	assert.Empty(e.t, e.payment(o).Shares)
	for _, c := range e.commissions(o) {
		assert.Equal(e.t, promoter.Pending, c.Status)
		assert.Empty(e.t, c.PromoterPayout.Bill)
	}
	e.drain(1)
	_, ok := e.wp.Sharing(e.payment(o).ProviderRef)
	assert.True(e.t, ok)
	assert.Empty(e.t, func() []wechatpaytest.ShareOrder { s, _ := e.wp.Sharing(e.payment(o).ProviderRef); return s.Orders }(), "WeChat got no sharing order")
}

// refundAll refunds o in full and settles the refund at WeChat.
func (e *sharingEnv) refundAll(o *commerce.Order, key string) error {
	e.t.Helper()
	_, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: o.MerchantID, OrderID: o.ID, All: true, Reason: "退货", IdempotencyKey: key})
	return err
}

// finishRefunds settles every processing refund of o at WeChat and hands
// the notifications over.
func (e *sharingEnv) finishRefunds(o *commerce.Order) {
	e.t.Helper()
	for _, r := range e.payment(o).Refunds {
		if r.Status != payment.RefundProcessing {
			continue
		}
		n, err := e.wp.FinishRefund(r.RefundNo, "SUCCESS")
		require.NoError(e.t, err)
		e.deliverNote(n)
	}
}

// A refund after sharing: the agency's share (a business) comes back by a
// return order; the promoter's (a person, which WeChat cannot take back)
// stays a debt on the promoter's statement.
func testShareRefundAfter(t *testing.T, h Harness) {
	e := newSharingEnv(t, h)
	p := e.promoterWithPayee("qi")
	a := e.agencyWithPayee(p)
	orders := e.sellShared(p, 1)
	o := orders[0]
	require.NoError(t, e.settleAll())
	e.drain(3)
	c := e.commissions(o)[0]
	agencyPart, promoterPart := minor(c.AgencyPart), minor(c.Amount)-minor(c.AgencyPart)
	require.Equal(t, int64(10_00), agencyPart+promoterPart)
	require.Equal(t, agencyPart, e.wp.Received(agencyMch))

	require.NoError(t, e.refundAll(o, "after-share"))
	e.finishRefunds(o)
	pay := e.payment(o)
	require.Len(t, pay.Shares[0].Lines, 3)
	var agencyLine payment.ShareLine
	for _, l := range pay.Shares[0].Lines {
		if l.Party == payment.PartyAgency {
			agencyLine = l
		}
	}
	require.Len(t, agencyLine.Returns, 1, "the agency's share is asked back")
	assert.Equal(t, agencyPart, minor(agencyLine.Returns[0].Amount))
	e.drain(3)

	assert.Zero(t, e.wp.Received(agencyMch), "WeChat took the agency's share back")
	pay = e.payment(o)
	for _, l := range pay.Shares[0].Lines {
		if l.Party == payment.PartyAgency {
			assert.Equal(t, payment.ReturnSucceeded, l.Returns[0].State)
		}
	}
	sa := e.statement(promoter.PayoutParams{Agency: a.ID})
	assert.True(t, sa.Owed.IsZero(), "the agency owes nothing: %s", sa.Owed)
	assert.True(t, sa.Paid.IsZero(), "paid and returned")
	sp := e.statement(promoter.PayoutParams{Promoter: p.ID})
	assert.Equal(t, -promoterPart, minor(sp.Owed), "the promoter's share stays a debt")
	assert.Equal(t, promoterPart, e.wp.Received(p.Payees[0].Account))
	assert.Equal(t, promoterPart+2_00, minor(pay.Shared()), "what stays with receivers: the promoter's share and the fee")
}

// Settlement racing a full refund, order by order: the kernel lets only
// one through first. Either the refund wins (the order never completes,
// its commission is cancelled, nothing is shared) or the settlement wins
// (the share goes out, and the refund's clawback asks the agency's part
// back and leaves the promoter's as a debt). Never is money both refunded
// and kept by a receiver without a claim on it.
func testShareRace(t *testing.T, h Harness) {
	e := newSharingEnv(t, h)
	p := e.promoterWithPayee("race")
	a := e.agencyWithPayee(p)
	n := max(4, h.Concurrency/2)
	orders := e.sellShared(p, n)
	e.advance(7*24*time.Hour + time.Second) // the window is over: RunDue would complete them
	var wg sync.WaitGroup
	for i, o := range orders {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, _ = e.svc.Complete(e.ctx, o.MerchantID, o.ID)
		}()
		go func() {
			defer wg.Done()
			_ = e.refundAll(o, fmt.Sprintf("race-%d", i))
		}()
	}
	wg.Wait()
	for _, o := range orders {
		e.finishRefunds(o)
	}
	e.drain(4)
	for _, o := range orders {
		e.finishRefunds(o) // a refund resent by RunDue
	}
	e.drain(3)
	var debt, kept int64
	settled := 0
	for _, o := range orders {
		pay := e.payment(o)
		assert.Equal(t, minor(pay.Amount), minor(pay.RefundedAmount()), "order %s refunded in full", o.ID)
		c := e.commissions(o)[0]
		if len(pay.Shares) == 0 {
			// The refund came first: the order never settled.
			assert.Equal(t, promoter.Cancelled, c.Status, "order %s: refunded before settling, its commission is cancelled", o.ID)
			continue
		}
		settled++
		assert.Equal(t, promoter.Settled, c.Status)
		for _, sh := range pay.Shares {
			for _, l := range sh.Lines {
				if l.Party == payment.PartyPromoter && l.Result == payment.ShareSucceeded {
					kept += minor(l.Amount)
				}
			}
		}
	}
	t.Logf("%d of %d orders settled before their refund", settled, len(orders))
	sp := e.statement(promoter.PayoutParams{Promoter: p.ID})
	debt = -minor(sp.Owed)
	assert.Equal(t, kept, debt, "every fen a person kept after a refund is a debt")
	assert.Equal(t, kept, e.wp.Received(p.Payees[0].Account))
	assert.Zero(t, e.wp.Received(agencyMch), "every agency share came back")
	sa := e.statement(promoter.PayoutParams{Agency: a.ID})
	assert.True(t, sa.Owed.IsZero())
	assert.True(t, sa.Paid.IsZero())
}

// The platform fails 30 % of profit-sharing calls: RunDue keeps at it,
// and in the end minishop's shares, the statements and WeChat agree to the
// fen.
func testShareFaults(t *testing.T, h Harness) {
	e := newSharingEnv(t, h)
	p := e.promoterWithPayee("flaky")
	orders := e.sellShared(p, 6)
	// Lost: the call takes effect and its answer is lost, the harder case
	// (what was done must be found again, not done twice).
	e.wp.SetFaults(wechatpaytest.Fault{Prefix: "/v3/profitsharing", Rate: 0.3, Lost: true})
	require.NoError(t, e.settleAll())
	e.drain(40)
	e.wp.SetFaults()
	e.drain(3)
	e.agreeShares(orders)
	st := e.statement(promoter.PayoutParams{Promoter: p.ID})
	assert.Equal(t, int64(6*10_00), minor(st.Paid))
	assert.Equal(t, int64(6*10_00), e.wp.Received(p.Payees[0].Account))
	assert.Equal(t, int64(6*2_00), e.wp.Received(providerMch))
}

// Money out under faults: one merchant pays commission by profit sharing,
// another by transfer, and the platform fails 30 % of the sharing,
// transfer and bill calls (their effect kept, their answer lost). After
// the faults end, minishop's ledger, WeChat's books and the day's
// reconciliation agree to the fen.
func testMoneyOutFaults(t *testing.T, h Harness) {
	e := newSharingEnv(t, h, withPayouts)
	p := e.promoterWithPayee("wu")
	// The second merchant, paying by transfer.
	b := NewShop(t, e.svc, "茶馆", freeShipping, ProductSpec{Title: "Pu'er cake", Category: "tea", Prices: []string{"100.00"}, Stock: 100})
	_, err := e.ps.SetPlan(e.ctx, promoter.PlanParams{MerchantID: b.Merchant.ID, ProductID: b.Products[0].ID, Kind: promoter.Public, Rate: commerce.MustPercent(10)})
	require.NoError(t, err)
	shared := e.sellShared(p, 4)
	var transferred []*commerce.Order
	for i := range 4 {
		tok, err := e.ps.ShareToken(promoter.ShareParams{MerchantID: b.Merchant.ID, PromoterID: p.ID, Scene: promoter.SceneGroup, Product: b.Products[0].ID})
		require.NoError(t, err)
		o, err := e.svc.Checkout(e.ctx, commerce.CheckoutParams{MerchantID: b.Merchant.ID, CustomerID: commerce.CustomerID(fmt.Sprintf("b%d", i)),
			Lines: []commerce.LineItem{{SKU: b.SKU(0, 0), Quantity: 1}}, IdempotencyKey: "k", ShippingAddress: Address(), Extensions: commerce.With(promoter.Link(tok))})
		require.NoError(t, err)
		e.payWeChat(o)
		_, err = e.svc.Ship(e.ctx, commerce.ShipParams{MerchantID: o.MerchantID, OrderID: o.ID, Shipment: commerce.Shipment{Carrier: "SF", TrackingNo: "SF2"}})
		require.NoError(t, err)
		_, err = e.svc.ConfirmReceipt(e.ctx, o.MerchantID, o.ID)
		require.NoError(t, err)
		transferred = append(transferred, o)
	}
	payDay := e.clock.Now()

	e.wp.SetFaults(wechatpaytest.Fault{Prefix: "/v3/profitsharing", Rate: 0.3, Lost: true},
		wechatpaytest.Fault{Prefix: "/v3/fund-app/mch-transfer", Rate: 0.3, Lost: true},
		wechatpaytest.Fault{Prefix: "/v3/bill", Rate: 0.3})
	require.NoError(t, e.settleAll())
	atB := promoter.PayoutParams{MerchantID: b.Merchant.ID, Promoter: p.ID}
	var report *payment.DayReport
	for range 40 {
		e.drain(1)
		_, _ = e.ps.RunDue(e.ctx)
		_, _ = e.ps.Payout(e.ctx, atB)
		for _, bill := range e.wp.TransferBills() {
			if bill.State == "WAIT_USER_CONFIRM" {
				n, err := e.wp.ConfirmTransfer(bill.OutBillNo)
				require.NoError(t, err)
				e.deliverNote(n)
			}
		}
		if report == nil {
			report, _ = e.engine.Payments.ReconcileDay(e.ctx, sharingProvider, payment.Account{}, payDay)
		}
	}
	e.wp.SetFaults()
	e.drain(3)
	_, err = e.ps.RunDue(e.ctx)
	require.NoError(t, err)
	require.NotNil(t, report, "the day was reconciled through the faults")

	// Sharing: minishop and WeChat agree on every line.
	e.agreeShares(shared)
	assert.Equal(t, int64(4*10_00), e.wp.Received(p.Payees[0].Account))
	assert.Equal(t, int64(4*2_00), e.wp.Received(providerMch))
	sa := e.statement(promoter.PayoutParams{Promoter: p.ID})
	assert.Equal(t, int64(4*10_00), minor(sa.Paid), "paid by sharing at the first merchant")
	assert.True(t, sa.Owed.IsZero())
	// Transfers: one paid bill, once.
	var sent int64
	for _, bill := range e.wp.TransferBills() {
		if bill.State == "SUCCESS" {
			sent += bill.Amount
		}
	}
	assert.Equal(t, int64(4*10_00), sent, "WeChat paid the second merchant's commission once")
	sb := e.statement(atB)
	assert.Equal(t, sent, minor(sb.Paid))
	assert.True(t, sb.Owed.IsZero())
	assert.Nil(t, sb.Open)
	// Reconciliation: every payment of the day matched, nothing else.
	assert.Len(t, report.Matched, 8)
	assert.Empty(t, report.Applied)
	assert.Empty(t, report.ChannelOnly)
	assert.Empty(t, report.MinishopOnly)
	assert.Empty(t, report.Differences)
	// The sharing merchant's commission is never also paid by transfer:
	// the shares claimed it, and paid it.
	_, err = e.ps.Payout(e.ctx, promoter.PayoutParams{MerchantID: e.m, Promoter: p.ID})
	assert.ErrorIs(t, err, promoter.ErrNothingOwed)
	// Each order's ledger sums to what it took.
	for _, o := range append(shared, transferred...) {
		var sum int64
		for _, v := range e.ledgerOf(o) {
			sum += v
		}
		assert.Equal(t, int64(100_00), sum, "order %s ledger", o.ID)
	}
}

// An order received late settles after WeChat's 30-day freeze period, when
// the money has already unfrozen to the merchant: the settlement goes
// through without a sharing order, and the commission is left to a payout
// by transfer.
func testShareAfterFreeze(t *testing.T, h Harness) {
	e := newSharingEnv(t, h, withPayouts)
	p := e.promoterWithPayee("late")
	o, err := e.buy("slowpoke", "k", commerce.With(promoter.Link(e.share(p, 0, promoter.SceneGroup))), e.line(0, 1))
	require.NoError(t, err)
	e.payWeChat(o)
	e.advance(25 * 24 * time.Hour)
	e.deliver(o)
	require.NoError(t, e.settleAll(), "the settlement is not held up")
	got, err := e.svc.GetOrder(e.ctx, o.MerchantID, o.ID)
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusCompleted, got.Status)
	assert.Empty(t, e.payment(o).Shares, "nothing to share: the money unfroze")
	st := e.statement(promoter.PayoutParams{Promoter: p.ID})
	assert.Equal(t, int64(10_00), minor(st.Owed), "left to a payout")
	po, err := e.ps.Payout(e.ctx, promoter.PayoutParams{MerchantID: e.m, Promoter: p.ID})
	require.NoError(t, err)
	assert.Equal(t, int64(10_00), minor(po.Amount))
}

// An order 90.00 of whose 100.00 a balance paid: the promoter's 10.00
// commission is more than the channel's 10.00 payment may share (30 %), so
// it is left to payouts by transfer instead of failing the settlement; the
// provider's fee on the channel's part is still shared.
func testShareMostlyStoredValue(t *testing.T, h Harness) {
	e := newSharingEnv(t, h)
	p := e.promoterWithPayee("su")
	sv := e.engine.StoredValue
	b, err := sv.CreateCardBatch(e.ctx, storedvalue.CardBatchParams{MerchantID: e.m, Title: "茶礼卡", Kind: storedvalue.CardPhysical,
		Face: CNY("500.00"), Validity: 3 * 365 * 24 * time.Hour})
	require.NoError(t, err)
	printed, err := sv.IssueCards(e.ctx, e.m, b.ID, 1)
	require.NoError(t, err)
	_, err = sv.ActivateCard(e.ctx, e.m, printed[0].Number)
	require.NoError(t, err)
	_, err = sv.RedeemCard(e.ctx, storedvalue.RedeemParams{MerchantID: e.m, Customer: "su-buyer", Number: printed[0].Number, Secret: printed[0].Secret})
	require.NoError(t, err)

	o, err := e.buy("su-buyer", "k", commerce.With(promoter.Link(e.share(p, 0, promoter.SceneGroup)), storedvalue.Pay(storedvalue.FromBalance(CNY("90.00")))), e.line(0, 1))
	require.NoError(t, err)
	require.Equal(t, "CNY 10.00", o.Due().String())
	e.payWeChat(o)
	e.deliver(o)
	require.NoError(t, e.settleAll(), "the settlement goes through")

	pays, err := e.engine.Payments.OrderPayments(e.ctx, e.m, o.ID)
	require.NoError(t, err)
	var channel *payment.Payment
	for _, pay := range pays {
		if pay.Tender == 0 {
			channel = pay
		}
	}
	require.NotNil(t, channel)
	require.Len(t, channel.Shares, 1)
	require.Len(t, channel.Shares[0].Lines, 1, "only the provider's fee is shared")
	assert.Equal(t, payment.PartyProvider, channel.Shares[0].Lines[0].Party)
	assert.Equal(t, int64(20), minor(channel.Shares[0].Lines[0].Amount), "2 % of the channel's 10.00")
	cs := e.commissions(o)
	require.Len(t, cs, 1)
	assert.Equal(t, int64(10_00), minor(cs[0].PromoterPart), "10 % of the order's 100.00")
	assert.Empty(t, cs[0].PromoterPayout.Bill, "not claimed by a share")
	st := e.statement(promoter.PayoutParams{Promoter: p.ID})
	assert.Equal(t, int64(10_00), minor(st.Owed), "owed, for a payout by transfer")
}
