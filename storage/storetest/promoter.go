package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/currency"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	. "github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/coupons"
	"github.com/minishop/minishop/gifting"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/fakepay"
	"github.com/minishop/minishop/promoter"
)

func runPromoter(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"Story", testPromoterStory},
		{"Attribution", testPromoterAttribution},
		{"CustomerLock", testPromoterLock},
		{"Sharers", testPromoterSharers},
		{"BadInput", testPromoterBadInput},
		{"SettleRacingRefund", testPromoterSettleRace},
		{"ConcurrentRunDue", testPromoterConcurrentRunDue},
		{"RandomSplits", testPromoterRandomSplits},
		{"StatementRefunds", testPromoterStatementRefunds},
		{"Listings", testPromoterListings},
		{"Payees", testPromoterPayees},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

type promoEnv struct {
	*env
	engine *minishop.Engine
	ps     *promoter.Service
	fake   *fakepay.Provider
	shop   *Shop
	m      commerce.MerchantID
}

// newPromoEnv: a tea shop (a tin at 100.00, a cup at 30.00, a teapot at
// 250.00 not in any plan), payments through fakepay.
func newPromoEnv(t *testing.T, h Harness, opts ...minishop.Option) *promoEnv {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), store: h.New(t), clock: NewClock(Epoch)}
	fake := fakepay.New(fakepay.WithClock(e.clock.Now))
	opts = append([]minishop.Option{minishop.WithClock(e.clock), minishop.WithIDs(&SeqIDs{}), minishop.WithPayments(fake),
		minishop.WithPromoter(func(c *promoter.Config) { c.Secret = []byte("promoter secret") })}, opts...)
	engine, err := minishop.New(e.store, opts...)
	require.NoError(t, err)
	e.svc = engine.Commerce
	pe := &promoEnv{env: e, engine: engine, ps: engine.Promoter, fake: fake}
	pe.shop = NewShop(t, e.svc, "茶庄", freeShipping,
		ProductSpec{Title: "Longjing tin", Category: "tea", Prices: []string{"100.00"}, Stock: 5000},
		ProductSpec{Title: "Tea cup", Category: "tea", Prices: []string{"30.00"}, Stock: 5000},
		ProductSpec{Title: "Teapot", Category: "tea", Prices: []string{"250.00"}, Stock: 5000})
	pe.m = pe.shop.Merchant.ID
	return pe
}

func (e *promoEnv) plan(product int, p promoter.PlanParams) {
	e.t.Helper()
	p.MerchantID, p.ProductID = e.m, e.shop.Products[product].ID
	if p.Kind == "" {
		p.Kind = promoter.Public
	}
	_, err := e.ps.SetPlan(e.ctx, p)
	require.NoError(e.t, err)
}

func (e *promoEnv) promoterNamed(name string) *promoter.Promoter {
	e.t.Helper()
	p, err := e.ps.CreatePromoter(e.ctx, name)
	require.NoError(e.t, err)
	return p
}

func (e *promoEnv) share(p *promoter.Promoter, product int, scene promoter.Scene) string {
	e.t.Helper()
	sp := promoter.ShareParams{MerchantID: e.m, PromoterID: p.ID, Scene: scene}
	if product >= 0 {
		sp.Product = e.shop.Products[product].ID
	}
	tok, err := e.ps.ShareToken(sp)
	require.NoError(e.t, err)
	return tok
}

func (e *promoEnv) buy(customer, key string, ext commerce.Extensions, lines ...commerce.LineItem) (*commerce.Order, error) {
	return e.svc.Checkout(e.ctx, commerce.CheckoutParams{MerchantID: e.m, CustomerID: commerce.CustomerID(customer), Lines: lines,
		IdempotencyKey: key, ShippingAddress: Address(), Extensions: ext})
}

func (e *promoEnv) line(product int, qty int64) commerce.LineItem {
	return commerce.LineItem{SKU: e.shop.SKU(product, 0), Quantity: qty}
}

func (e *promoEnv) pay(o *commerce.Order) {
	e.t.Helper()
	p, _, err := e.engine.Payments.Pay(e.ctx, payment.PayParams{MerchantID: o.MerchantID, OrderID: o.ID})
	require.NoError(e.t, err)
	req, err := e.fake.Pay(p.PaymentNo)
	require.NoError(e.t, err)
	_, err = e.engine.Payments.HandleNotification(e.ctx, "fakepay", req)
	require.NoError(e.t, err)
}

// deliver ships the order and confirms receipt: the after-sales window opens.
func (e *promoEnv) deliver(o *commerce.Order) {
	e.t.Helper()
	_, err := e.svc.Ship(e.ctx, commerce.ShipParams{MerchantID: e.m, OrderID: o.ID, Shipment: commerce.Shipment{Carrier: "SF", TrackingNo: "SF1"}})
	require.NoError(e.t, err)
	_, err = e.svc.ConfirmReceipt(e.ctx, e.m, o.ID)
	require.NoError(e.t, err)
}

func (e *promoEnv) commissions(o *commerce.Order) []*promoter.Commission {
	e.t.Helper()
	cs, err := e.store.OrderCommissions(e.ctx, e.m, o.ID)
	require.NoError(e.t, err)
	return cs
}

// ledgerBy sums an order's ledger entries per party.
func (e *promoEnv) ledgerBy(o *commerce.Order) map[payment.Party]string {
	e.t.Helper()
	es, err := e.engine.Payments.Ledger(e.ctx, e.m, o.ID)
	require.NoError(e.t, err)
	sums := map[payment.Party]commerce.Money{}
	for _, x := range es {
		if _, ok := sums[x.Party]; !ok {
			sums[x.Party] = commerce.Zero(currency.CNY)
		}
		sums[x.Party] = mustAdd(sums[x.Party], x.Amount)
	}
	out := map[payment.Party]string{}
	for p, v := range sums {
		out[p] = v.String()
	}
	return out
}

func (e *promoEnv) countEvents(typ string) int {
	n := 0
	for _, ev := range e.allEvents() {
		if ev.Type == typ {
			n++
		}
	}
	return n
}

// testPromoterStory: a 12 % public plan, an agency keeping 30 %, its
// promoter's link in a group chat, two buyers (one with the promoter's
// coupon), half of one order returned, settlement after the window.
func testPromoterStory(t *testing.T, h Harness) {
	e := newPromoEnv(t, h)
	e.plan(0, promoter.PlanParams{Rate: commerce.MustPercent(12)})
	agency, err := e.ps.CreateAgency(e.ctx, promoter.AgencyParams{Name: "星火机构", PromoterShare: commerce.MustPercent(70)})
	require.NoError(t, err)
	lily := e.promoterNamed("Lily")
	require.NoError(t, e.ps.BindToAgency(e.ctx, agency.ID, lily.ID))
	tok := e.share(lily, 0, promoter.SceneGroup)

	// Friend one buys two tins through the link.
	o1, err := e.buy("friend-1", "o1", commerce.With(promoter.Link(tok)), e.line(0, 2), e.line(1, 1))
	require.NoError(t, err)
	assert.Equal(t, lily.ID.String(), o1.Metadata["promoter"])
	// Friend two uses Lily's exclusive coupon (10 off over 50).
	batch, err := e.engine.Coupons.CreateBatch(e.ctx, coupons.BatchParams{MerchantID: e.m, Name: "Lily 专属", Kind: coupons.ThresholdOff,
		Amount: CNY("10"), MinAmount: CNY("50"), Total: 10, Validity: coupons.Validity{Days: 7}, Channel: coupons.PromoterOnly,
		Promoter: lily.ID.String(), Activate: true})
	require.NoError(t, err)
	_, err = e.engine.Coupons.Claim(e.ctx, coupons.ClaimParams{MerchantID: e.m, BatchID: batch.ID, Customer: "friend-2", RequestID: "c1",
		Token: e.engine.Coupons.PromoterToken(e.m, batch.ID, lily.ID.String())})
	require.NoError(t, err)
	o2, err := e.buy("friend-2", "o2", nil, e.line(0, 1))
	require.NoError(t, err)
	assert.Equal(t, "CNY 90.00", o2.Total.String())
	e.pay(o1)
	e.pay(o2)

	c1 := e.commissions(o1)
	require.Len(t, c1, 1, "the cup is in no plan, and the link was for the tin")
	assert.Equal(t, "CNY 24.00", c1[0].Amount.String(), "12 % of 200.00")
	assert.Equal(t, "CNY 16.80", c1[0].PromoterPart.String(), "70 % passed to Lily")
	assert.Equal(t, "CNY 7.20", c1[0].AgencyPart.String())
	assert.Equal(t, promoter.Pending, c1[0].Status)
	assert.Equal(t, promoter.SceneGroup, c1[0].Scene)
	c2 := e.commissions(o2)
	require.Len(t, c2, 1)
	assert.Equal(t, "CNY 10.80", c2[0].Amount.String(), "12 % of what was paid after the coupon")
	assert.Equal(t, promoter.SceneCoupon, c2[0].Scene)

	// Friend one returns one of the two tins.
	r, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: e.m, OrderID: o1.ID, Items: []commerce.RefundItem{{Line: 0, Quantity: 1}}, IdempotencyKey: "half"})
	require.NoError(t, err)
	got, err := e.svc.GetOrder(e.ctx, e.m, o1.ID)
	require.NoError(t, err)
	done, _ := got.Refund(r.ID)
	require.Equal(t, commerce.RefundSucceeded, done.Status, "fakepay confirms at once")
	c1 = e.commissions(o1)
	assert.Equal(t, "CNY 12.00", c1[0].Reversed.String(), "half taken back, pro rata")
	assert.Equal(t, "CNY 3.60", c1[0].ReversedAgency.String())
	assert.Equal(t, promoter.Pending, c1[0].Status)

	e.deliver(o1)
	e.deliver(o2)
	e.advance(7*24*time.Hour + time.Second)
	runDue(t, e.engine, e.ctx)
	c1 = e.commissions(o1)
	assert.Equal(t, promoter.Settled, c1[0].Status)
	assert.Equal(t, "CNY 12.00", c1[0].Net().String())
	ledger := e.ledgerBy(o1)
	assert.Equal(t, "CNY 3.60", ledger[payment.PartyAgency], "settled commission is in the ledger")
	assert.Equal(t, "CNY 8.40", ledger[payment.PartyPromoter])

	lilySt, err := e.ps.PromoterStatement(e.ctx, lily.ID, currency.CNY, Epoch, Epoch.Add(30*24*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, 2, lilySt.Orders)
	assert.Equal(t, "CNY 15.96", lilySt.Settled.String(), "8.40 + 7.56")
	assert.Equal(t, "CNY 15.96", lilySt.Payout.String())
	assert.Equal(t, "CNY 0.00", lilySt.Pending.String())
	// The shop's own view of Lily counts its orders only.
	mine, err := e.ps.MerchantStatement(e.ctx, e.m, lily.ID, currency.CNY, Epoch, Epoch.Add(30*24*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, lilySt.Settled.String(), mine.Settled.String())
	assert.Equal(t, 2, mine.Orders)
	elsewhere, err := commerce.ParseID[commerce.MerchantID]("00000000-0000-4000-8000-00000000beef")
	require.NoError(t, err)
	other, err := e.ps.MerchantStatement(e.ctx, elsewhere, lily.ID, currency.CNY, Epoch, Epoch.Add(30*24*time.Hour))
	require.NoError(t, err)
	assert.Zero(t, other.Orders)
	agSt, err := e.ps.AgencyStatement(e.ctx, agency.ID, currency.CNY, Epoch, Epoch.Add(30*24*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, "CNY 6.84", agSt.Settled.String(), "3.60 + 3.24")
	assert.Equal(t, 1, e.countEvents("promoter.bound"))
	assert.Equal(t, 2, e.countEvents("promoter.commission_settled"))

	// A late refund of the remaining tin claws back from the next payout.
	_, err = e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: e.m, OrderID: o1.ID, Items: []commerce.RefundItem{{Line: 0, Quantity: 1}}, IdempotencyKey: "late"})
	require.NoError(t, err)
	c1 = e.commissions(o1)
	assert.Equal(t, promoter.Settled, c1[0].Status)
	assert.Equal(t, "CNY 12.00", c1[0].Clawed.String())
	assert.True(t, c1[0].Net().IsZero())
	lilySt, err = e.ps.PromoterStatement(e.ctx, lily.ID, currency.CNY, Epoch, Epoch.Add(30*24*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, "CNY 8.40", lilySt.Clawbacks.String())
	assert.Equal(t, "CNY 7.56", lilySt.Payout.String())
	assert.Equal(t, "CNY 0.00", e.ledgerBy(o1)[payment.PartyPromoter], "the clawback reverses the ledger entry")
	assert.Equal(t, 1, e.countEvents("promoter.commission_clawed_back"))
}

func testPromoterAttribution(t *testing.T, h Harness) {
	e := newPromoEnv(t, h)
	ann, bob := e.promoterNamed("Ann"), e.promoterNamed("Bob")
	agency, err := e.ps.CreateAgency(e.ctx, promoter.AgencyParams{Name: "机构", PaysItself: true})
	require.NoError(t, err)
	require.NoError(t, e.ps.BindToAgency(e.ctx, agency.ID, bob.ID))
	e.plan(0, promoter.PlanParams{Rate: commerce.MustPercent(10)})
	e.plan(1, promoter.PlanParams{Kind: promoter.Targeted, Rate: commerce.MustPercent(20), Agencies: []promoter.AgencyID{agency.ID}})

	// A shop link covers every line in a plan the promoter may earn on.
	o, err := e.buy("c1", "k1", commerce.With(promoter.Link(e.share(bob, -1, promoter.SceneLive))), e.line(0, 1), e.line(1, 1), e.line(2, 1))
	require.NoError(t, err)
	e.pay(o)
	cs := e.commissions(o)
	require.Len(t, cs, 2, "the teapot is in no plan")
	assert.Equal(t, "CNY 10.00", cs[0].Amount.String())
	assert.Equal(t, "CNY 6.00", cs[1].Amount.String(), "the agency's targeted plan")
	assert.True(t, cs[1].AgencyPays)
	assert.Equal(t, "CNY 6.00", cs[1].AgencyPart.String(), "an agency that pays itself gets it all")
	assert.True(t, cs[1].PromoterPart.IsZero())
	// Ann is not in the targeted plan.
	o, err = e.buy("c2", "k2", commerce.With(promoter.Link(e.share(ann, -1, promoter.SceneCard))), e.line(0, 1), e.line(1, 1))
	require.NoError(t, err)
	e.pay(o)
	require.Len(t, e.commissions(o), 1)

	// Last link wins, per order: the same customer through Bob, then Ann.
	o, err = e.buy("c3", "k3", commerce.With(promoter.Link(e.share(bob, 0, promoter.SceneQR))), e.line(0, 1))
	require.NoError(t, err)
	assert.Equal(t, bob.ID.String(), o.Metadata["promoter"])
	o, err = e.buy("c3", "k4", commerce.With(promoter.Link(e.share(ann, 0, promoter.SceneQR))), e.line(0, 1))
	require.NoError(t, err)
	assert.Equal(t, ann.ID.String(), o.Metadata["promoter"], "no customer locking by default")

	// An exclusive plan in a window.
	e.plan(2, promoter.PlanParams{Kind: promoter.Exclusive, Rate: commerce.MustPercent(5), Promoters: []promoter.PromoterID{ann.ID},
		Start: Epoch.Add(time.Hour), End: Epoch.Add(2 * time.Hour)})
	o, err = e.buy("c4", "k5", commerce.With(promoter.Link(e.share(ann, 2, promoter.SceneVideo))), e.line(2, 1))
	require.NoError(t, err)
	assert.Empty(t, o.Metadata["promoter"], "before the window")
	e.advance(time.Hour)
	o, err = e.buy("c4", "k6", commerce.With(promoter.Link(e.share(ann, 2, promoter.SceneVideo))), e.line(2, 1))
	require.NoError(t, err)
	assert.Equal(t, ann.ID.String(), o.Metadata["promoter"])
	o, err = e.buy("c5", "k7", commerce.With(promoter.Link(e.share(bob, 2, promoter.SceneVideo))), e.line(2, 1))
	require.NoError(t, err)
	assert.Empty(t, o.Metadata["promoter"], "exclusive to Ann")

	// The merchant's own live room pays no agency commission.
	o, err = e.buy("c6", "k8", commerce.With(promoter.Link(e.share(bob, 0, promoter.SceneOwnLive))), e.line(0, 1))
	require.NoError(t, err)
	e.pay(o)
	cs = e.commissions(o)
	require.Len(t, cs, 1)
	assert.True(t, cs[0].AgencyID.IsZero())
	assert.Equal(t, "CNY 10.00", cs[0].PromoterPart.String())

	// A gift keeps its attribution.
	g, go1, err := e.engine.Gifting.Send(e.ctx, giftParams(e.m, e.shop.SKU(0, 0), commerce.With(promoter.Link(e.share(ann, 0, promoter.SceneGroup)))))
	require.NoError(t, err)
	e.pay(go1)
	require.NotNil(t, g)
	require.Len(t, e.commissions(go1), 1)
}

func testPromoterLock(t *testing.T, h Harness) {
	e := newPromoEnv(t, h, minishop.WithPromoter(func(c *promoter.Config) {
		c.Secret, c.LockWindow = []byte("promoter secret"), 7*24*time.Hour
	}))
	e.plan(0, promoter.PlanParams{Rate: commerce.MustPercent(10)})
	ann, bob := e.promoterNamed("Ann"), e.promoterNamed("Bob")
	o, err := e.buy("c", "k1", commerce.With(promoter.Link(e.share(ann, 0, promoter.SceneQR))), e.line(0, 1))
	require.NoError(t, err)
	assert.Equal(t, ann.ID.String(), o.Metadata["promoter"])
	o, err = e.buy("c", "k2", commerce.With(promoter.Link(e.share(bob, 0, promoter.SceneQR))), e.line(0, 1))
	require.NoError(t, err)
	assert.Equal(t, ann.ID.String(), o.Metadata["promoter"], "locked to the first promoter in the window")
	e.advance(7*24*time.Hour + time.Second)
	o, err = e.buy("c", "k3", commerce.With(promoter.Link(e.share(bob, 0, promoter.SceneQR))), e.line(0, 1))
	require.NoError(t, err)
	assert.Equal(t, bob.ID.String(), o.Metadata["promoter"], "after the window the link wins again")
}

func testPromoterSharers(t *testing.T, h Harness) {
	e := newPromoEnv(t, h, minishop.WithPromoter(func(c *promoter.Config) { c.Secret, c.MaxSharers = []byte("s"), 3 }))
	invite := e.ps.Invite(e.m)
	var ps []*promoter.Promoter
	for i := range 4 {
		ps = append(ps, e.promoterNamed(fmt.Sprintf("sharer-%d", i)))
	}
	for _, p := range ps[:3] {
		require.NoError(t, e.ps.AcceptInvite(e.ctx, e.m, invite, p.ID))
	}
	err := e.ps.AcceptInvite(e.ctx, e.m, invite, ps[3].ID)
	assert.ErrorIs(t, err, promoter.ErrSharerCap, "binding past the cap")
	assert.Equal(t, "promoter", fieldOf(err))
	assert.ErrorIs(t, e.ps.UnbindSharer(e.ctx, e.m, ps[0].ID), promoter.ErrTooSoon, "within a day of binding")
	e.advance(24 * time.Hour)
	require.NoError(t, e.ps.UnbindSharer(e.ctx, e.m, ps[0].ID))
	require.NoError(t, e.ps.AcceptInvite(e.ctx, e.m, invite, ps[3].ID), "unbinding frees a place")
	sh, err := e.ps.Sharers(e.ctx, e.m)
	require.NoError(t, err)
	assert.Len(t, sh, 3)
	e.advance(15 * 24 * time.Hour)
	assert.ErrorIs(t, e.ps.AcceptInvite(e.ctx, e.m, invite, ps[0].ID), promoter.ErrBadToken, "invites expire after 15 days")
	other := NewShop(t, e.svc, "别家", freeShipping)
	assert.ErrorIs(t, e.ps.AcceptInvite(e.ctx, other.Merchant.ID, e.ps.Invite(e.m), ps[0].ID), promoter.ErrBadToken, "another merchant's invite")
}

func testPromoterBadInput(t *testing.T, h Harness) {
	e := newPromoEnv(t, h)
	set := func(rate commerce.Rate) error {
		_, err := e.ps.SetPlan(e.ctx, promoter.PlanParams{MerchantID: e.m, ProductID: e.shop.Products[0].ID, Kind: promoter.Public, Rate: rate})
		return err
	}
	assert.Equal(t, "rate", fieldOf(set(commerce.PPM(900001))), "above 90 %")
	assert.Equal(t, "rate", fieldOf(set(commerce.PPM(-1))))
	plans, err := e.store.Plans(e.ctx, e.m, []commerce.ProductID{e.shop.Products[0].ID})
	require.NoError(t, err)
	assert.Empty(t, plans, "nothing written")
	_, err = e.ps.CreateAgency(e.ctx, promoter.AgencyParams{Name: "x", PromoterShare: commerce.MustPercent(5)})
	assert.Equal(t, "promoter_share", fieldOf(err), "under 10 %")
	_, err = e.ps.CreateAgency(e.ctx, promoter.AgencyParams{Name: "x", PromoterShare: commerce.PPM(1000001)})
	assert.Equal(t, "promoter_share", fieldOf(err), "over 100 %")
	_, err = minishop.New(e.store, minishop.WithPromoter(func(c *promoter.Config) { c.Levels = 2 }))
	assert.ErrorIs(t, err, promoter.ErrRecruitment, "paying on recruits' sales")

	require.NoError(t, set(commerce.MustPercent(10)))
	ann := e.promoterNamed("Ann")
	tok := e.share(ann, 0, promoter.SceneGroup)
	forged := []byte(tok)
	forged[20] ^= 1
	for name, bad := range map[string]string{"altered": string(forged), "garbage": "not-a-token", "truncated": tok[:len(tok)-2]} {
		_, err := e.buy("c", "k-"+name, commerce.With(promoter.Link(bad)), e.line(0, 1))
		assert.ErrorIs(t, err, promoter.ErrBadToken, name)
		assert.Equal(t, "extensions.promoter.share", fieldOf(err), name)
	}
	other := NewShop(t, e.svc, "别家", freeShipping, ProductSpec{Title: "tea", Category: "tea", Prices: []string{"1.00"}, Stock: 1})
	otherTok, err := e.ps.ShareToken(promoter.ShareParams{MerchantID: other.Merchant.ID, PromoterID: ann.ID, Scene: promoter.SceneQR})
	require.NoError(t, err)
	_, err = e.buy("c", "k-other", commerce.With(promoter.Link(otherTok)), e.line(0, 1))
	assert.ErrorIs(t, err, promoter.ErrBadToken, "another merchant's link")
	e.advance(30*24*time.Hour + time.Second)
	_, err = e.buy("c", "k-expired", commerce.With(promoter.Link(tok)), e.line(0, 1))
	assert.ErrorIs(t, err, promoter.ErrBadToken, "expired")
	_, err = e.ps.ShareToken(promoter.ShareParams{MerchantID: e.m, PromoterID: ann.ID, Scene: "billboard"})
	assert.Equal(t, "scene", fieldOf(err))
	assert.EqualValues(t, 5000, stockOf(t, e, 0), "no failed checkout took stock")
}

// testPromoterStatementRefunds: what refunds take back before settlement is
// cancelled commission on the statement, whether the refund was partial
// (the commission stays pending, reduced) or full (it is cancelled), and it
// stays cancelled once the rest settles.
func testPromoterStatementRefunds(t *testing.T, h Harness) {
	e := newPromoEnv(t, h)
	e.plan(0, promoter.PlanParams{Rate: commerce.MustPercent(5)})
	agency, err := e.ps.CreateAgency(e.ctx, promoter.AgencyParams{Name: "机构", PromoterShare: commerce.MustPercent(60)})
	require.NoError(t, err)
	ann, bob := e.promoterNamed("Ann"), e.promoterNamed("Bob")
	require.NoError(t, e.ps.BindToAgency(e.ctx, agency.ID, bob.ID))
	period := func() (time.Time, time.Time) { return Epoch, Epoch.Add(30 * 24 * time.Hour) }
	statement := func(p *promoter.Promoter) *promoter.Statement {
		t.Helper()
		from, to := period()
		st, err := e.ps.PromoterStatement(e.ctx, p.ID, currency.CNY, from, to)
		require.NoError(t, err)
		return st
	}
	refund := func(o *commerce.Order, key string) {
		t.Helper()
		_, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: e.m, OrderID: o.ID, Items: []commerce.RefundItem{{Line: 0, Quantity: 1}}, IdempotencyKey: key})
		require.NoError(t, err)
	}

	// Two tins through Ann: 10.00 of commission; one tin comes back before
	// settlement, taking back 5.00.
	o1, err := e.buy("c1", "k1", commerce.With(promoter.Link(e.share(ann, 0, promoter.SceneGroup))), e.line(0, 2))
	require.NoError(t, err)
	e.pay(o1)
	refund(o1, "half")
	require.Equal(t, "CNY 5.00", e.commissions(o1)[0].Reversed.String())
	st := statement(ann)
	assert.Equal(t, "CNY 5.00", st.Pending.String(), "pending, reduced by the refund")
	assert.Equal(t, "CNY 5.00", st.Cancelled.String(), "what the partial refund took back")
	assert.Equal(t, 1, st.Orders)

	// One tin through Ann, refunded in full: all of its 5.00 is cancelled.
	o2, err := e.buy("c2", "k2", commerce.With(promoter.Link(e.share(ann, 0, promoter.SceneGroup))), e.line(0, 1))
	require.NoError(t, err)
	e.pay(o2)
	refund(o2, "all")
	require.Equal(t, promoter.Cancelled, e.commissions(o2)[0].Status)
	st = statement(ann)
	assert.Equal(t, "CNY 5.00", st.Pending.String())
	assert.Equal(t, "CNY 10.00", st.Cancelled.String(), "5.00 partial + 5.00 full")
	assert.Equal(t, 2, st.Orders)

	// The agency's side: two tins through Bob, 4.00 of the 10.00 the
	// agency's; the partial refund takes back 2.00 of it and 3.00 of Bob's.
	o3, err := e.buy("c3", "k3", commerce.With(promoter.Link(e.share(bob, 0, promoter.SceneGroup))), e.line(0, 2))
	require.NoError(t, err)
	e.pay(o3)
	refund(o3, "half")
	from, to := period()
	ag, err := e.ps.AgencyStatement(e.ctx, agency.ID, currency.CNY, from, to)
	require.NoError(t, err)
	assert.Equal(t, "CNY 2.00", ag.Pending.String())
	assert.Equal(t, "CNY 2.00", ag.Cancelled.String())
	st = statement(bob)
	assert.Equal(t, "CNY 3.00", st.Pending.String())
	assert.Equal(t, "CNY 3.00", st.Cancelled.String())

	// Settlement pays what is left; what was taken back stays cancelled.
	e.deliver(o1)
	e.advance(7*24*time.Hour + time.Second)
	runDue(t, e.engine, e.ctx)
	require.Equal(t, promoter.Settled, e.commissions(o1)[0].Status)
	st = statement(ann)
	assert.Equal(t, "CNY 0.00", st.Pending.String())
	assert.Equal(t, "CNY 5.00", st.Settled.String())
	assert.Equal(t, "CNY 10.00", st.Cancelled.String(), "taken back before settlement: still cancelled")
	assert.Equal(t, "CNY 5.00", st.Payout.String())
}

// testPromoterListings: the service's reads of commissions, by order and
// paged by promoter or agency, and how they refuse bad input.
func testPromoterListings(t *testing.T, h Harness) {
	e := newPromoEnv(t, h)
	e.plan(0, promoter.PlanParams{Rate: commerce.MustPercent(10)})
	agency, err := e.ps.CreateAgency(e.ctx, promoter.AgencyParams{Name: "机构", PromoterShare: commerce.MustPercent(50)})
	require.NoError(t, err)
	ann := e.promoterNamed("Ann")
	require.NoError(t, e.ps.BindToAgency(e.ctx, agency.ID, ann.ID))
	var orders []*commerce.Order
	for i := range 5 {
		o, err := e.buy(fmt.Sprintf("c%d", i), "k", commerce.With(promoter.Link(e.share(ann, -1, promoter.SceneGroup))), e.line(0, 1), e.line(2, 1))
		require.NoError(t, err)
		e.pay(o)
		orders = append(orders, o)
		e.advance(time.Minute)
	}

	// By order: the attributed line only (the teapot is in no plan).
	cs, err := e.ps.OrderCommissions(e.ctx, e.m, orders[0].ID)
	require.NoError(t, err)
	require.Len(t, cs, 1)
	assert.Equal(t, 0, cs[0].Line)
	assert.Equal(t, "CNY 10.00", cs[0].Amount.String())
	plain, err := e.buy("c9", "k", nil, e.line(0, 1))
	require.NoError(t, err)
	cs, err = e.ps.OrderCommissions(e.ctx, e.m, plain.ID)
	require.NoError(t, err)
	assert.NotNil(t, cs, "an order without commission: an empty list")
	assert.Empty(t, cs)
	cs, err = e.ps.OrderCommissions(e.ctx, newID[commerce.MerchantID](), orders[0].ID)
	require.NoError(t, err)
	assert.Empty(t, cs, "another merchant sees none of the order's")
	_, err = e.ps.OrderCommissions(e.ctx, commerce.MerchantID{}, orders[0].ID)
	assert.Equal(t, commerce.KindInvalid, commerce.KindOf(err))
	assert.Equal(t, "merchant_id", fieldOf(err))

	// Paged: two at a time, Next leads through every order's commission
	// once, oldest first; the promoter's and the agency's lists agree.
	from, to := Epoch, Epoch.Add(time.Hour)
	for _, q := range []promoter.CommissionQuery{{Promoter: ann.ID, From: from, To: to, Limit: 2}, {Agency: agency.ID, From: from, To: to, Limit: 2}} {
		var got []commerce.OrderID
		for pages := 0; ; pages++ {
			require.Less(t, pages, 10)
			page, err := e.ps.Commissions(e.ctx, q)
			require.NoError(t, err)
			for _, c := range page.Commissions {
				got = append(got, c.OrderID)
			}
			if page.Next.IsZero() {
				assert.Less(t, len(page.Commissions), 2, "only a short page is the last")
				break
			}
			assert.Equal(t, page.Commissions[len(page.Commissions)-1].ID, page.Next)
			q.After = page.Next
		}
		var want []commerce.OrderID
		for _, o := range orders {
			want = append(want, o.ID)
		}
		assert.Equal(t, want, got)
	}
	page, err := e.ps.Commissions(e.ctx, promoter.CommissionQuery{Promoter: e.promoterNamed("Nobody").ID, From: from, To: to})
	require.NoError(t, err)
	assert.NotNil(t, page.Commissions)
	assert.Empty(t, page.Commissions)
	assert.True(t, page.Next.IsZero())

	bad := []struct {
		name  string
		q     promoter.CommissionQuery
		field string
	}{
		{"neither", promoter.CommissionQuery{From: from, To: to}, "promoter"},
		{"both", promoter.CommissionQuery{Promoter: ann.ID, Agency: agency.ID, From: from, To: to}, "promoter"},
		{"empty period", promoter.CommissionQuery{Promoter: ann.ID, From: to, To: to}, "to"},
		{"negative limit", promoter.CommissionQuery{Promoter: ann.ID, From: from, To: to, Limit: -1}, "limit"},
		{"limit above the cap", promoter.CommissionQuery{Promoter: ann.ID, From: from, To: to, Limit: 1001}, "limit"},
		{"unknown cursor", promoter.CommissionQuery{Promoter: ann.ID, From: from, To: to, After: newID[promoter.CommissionID]()}, "after"},
	}
	for _, b := range bad {
		_, err := e.ps.Commissions(e.ctx, b.q)
		var ce *commerce.Error
		require.ErrorAs(t, err, &ce, b.name)
		assert.Equal(t, commerce.KindInvalid, ce.Kind, b.name)
		assert.Equal(t, b.field, ce.Field, b.name)
		assert.NotContains(t, err.Error(), "memory", b.name)
		assert.NotContains(t, err.Error(), "sqlstore", b.name)
	}
	_, err = e.ps.PromoterStatement(e.ctx, promoter.PromoterID{}, currency.CNY, from, to)
	assert.Equal(t, "promoter", fieldOf(err), "a statement of no one")
}

func stockOf(t *testing.T, e *promoEnv, product int) int64 {
	t.Helper()
	p, err := e.svc.GetProduct(e.ctx, e.m, e.shop.Products[product].ID)
	require.NoError(t, err)
	return p.SKUs[0].Stock
}

// testPromoterSettleRace: completion and a full refund race on one order:
// the commission ends settled then clawed back, or cancelled; never both,
// never twice.
func testPromoterSettleRace(t *testing.T, h Harness) {
	e := newPromoEnv(t, h)
	e.plan(0, promoter.PlanParams{Rate: commerce.MustPercent(10)})
	ann := e.promoterNamed("Ann")
	const n = 6
	orders := make([]*commerce.Order, n)
	for i := range orders {
		o, err := e.buy(fmt.Sprintf("c%d", i), "k", commerce.With(promoter.Link(e.share(ann, 0, promoter.SceneGroup))), e.line(0, 1))
		require.NoError(t, err)
		e.pay(o)
		e.deliver(o)
		orders[i] = o
	}
	e.advance(7*24*time.Hour + time.Second)
	var wg sync.WaitGroup
	for _, o := range orders {
		// Each side tries again after a retryable failure (a cluster's
		// certification conflict, a lock wait), as a caller would: the race
		// is between the two, not against the store's contention.
		wg.Go(func() {
			for _, err := e.svc.Complete(e.ctx, e.m, o.ID); commerce.Retryable(err); _, err = e.svc.Complete(e.ctx, e.m, o.ID) {
			}
		})
		wg.Go(func() {
			refund := func() error {
				_, err := e.svc.Refund(e.ctx, commerce.RefundParams{All: true, MerchantID: e.m, OrderID: o.ID, IdempotencyKey: "all"})
				return err
			}
			for err := refund(); commerce.Retryable(err); err = refund() {
			}
		})
	}
	wg.Wait()
	runDue(t, e.engine, e.ctx)
	for _, o := range orders {
		cs := e.commissions(o)
		require.Len(t, cs, 1)
		c := cs[0]
		order, err := e.svc.GetOrder(e.ctx, e.m, o.ID)
		require.NoError(t, err)
		switch c.Status {
		case promoter.Settled:
			assert.False(t, c.SettledAt.IsZero())
			if order.Status == commerce.StatusRefunded {
				assert.Equal(t, "CNY 10.00", c.Clawed.String(), "settled, then clawed back once")
			}
			assert.True(t, c.Reversed.IsZero())
		case promoter.Cancelled:
			assert.Equal(t, commerce.StatusRefunded, order.Status)
			assert.Equal(t, "CNY 10.00", c.Reversed.String())
			assert.True(t, c.Clawed.IsZero(), "never both")
			assert.True(t, c.SettledAt.IsZero())
		default:
			t.Errorf("order %s: commission %s", o.ID, c.Status)
		}
		assert.Equal(t, "CNY 0.00", orZero(e.ledgerBy(o)[payment.PartyPromoter]), "the ledger nets to nothing when everything was refunded")
	}
}

func orZero(s string) string {
	if s == "" {
		return "CNY 0.00"
	}
	return s
}

func testPromoterConcurrentRunDue(t *testing.T, h Harness) {
	e := newPromoEnv(t, h)
	e.plan(0, promoter.PlanParams{Rate: commerce.MustPercent(10)})
	ann := e.promoterNamed("Ann")
	const n = 20
	var orders []*commerce.Order
	for i := range n {
		o, err := e.buy(fmt.Sprintf("c%d", i), "k", commerce.With(promoter.Link(e.share(ann, 0, promoter.SceneGroup))), e.line(0, 1))
		require.NoError(t, err)
		e.pay(o)
		e.deliver(o)
		orders = append(orders, o)
	}
	e.advance(7*24*time.Hour + time.Second)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() { _, _ = e.engine.RunDue(e.ctx) })
	}
	wg.Wait()
	runDue(t, e.engine, e.ctx)
	for _, o := range orders {
		c := e.commissions(o)[0]
		assert.Equal(t, promoter.Settled, c.Status)
		assert.EqualValues(t, 2, c.Version, "settled once")
		assert.Equal(t, "CNY 10.00", e.ledgerBy(o)[payment.PartyPromoter], "one ledger entry")
	}
	assert.Equal(t, n, e.countEvents("promoter.commission_settled"))
}

// testPromoterRandomSplits: random prices, discounts, rates and agency
// shares; the parts always sum to the commission, which is the rate of
// what the line paid, rounded half-up.
func testPromoterRandomSplits(t *testing.T, h Harness) {
	n := randomRuns(1000)
	e := newPromoEnv(t, h, minishop.WithCommerce(func(c *commerce.Config) { c.Adjusters = append(c.Adjusters, offAdjuster) }))
	rng := rand.New(rand.NewPCG(3, 5))
	var agencies []*promoter.Agency
	var promoters []*promoter.Promoter
	for i := range 8 {
		a, err := e.ps.CreateAgency(e.ctx, promoter.AgencyParams{Name: fmt.Sprintf("a%d", i), PromoterShare: commerce.PPM(100000 + rng.Int64N(900001))})
		require.NoError(t, err)
		p := e.promoterNamed(fmt.Sprintf("p%d", i))
		if i%4 != 0 {
			require.NoError(t, e.ps.BindToAgency(e.ctx, a.ID, p.ID))
		}
		agencies, promoters = append(agencies, a), append(promoters, p)
	}
	_ = agencies
	for i := range n {
		if i%50 == 0 {
			for k := range 2 {
				e.plan(k, promoter.PlanParams{Rate: commerce.PPM(rng.Int64N(900001))})
			}
		}
		p := promoters[rng.IntN(len(promoters))]
		q0, q1 := 1+rng.Int64N(5), rng.Int64N(4)
		lines := []commerce.LineItem{e.line(0, q0)}
		if q1 > 0 {
			lines = append(lines, e.line(1, q1))
		}
		off := rng.Int64N(q0*10000 + q1*3000)
		o, err := e.buy(fmt.Sprintf("c%d", i), "k", commerce.With(commerce.Extension{Key: offKey, Value: off}, promoter.Link(e.share(p, -1, promoter.SceneGroup))), lines...)
		require.NoError(t, err)
		_, err = e.svc.MarkPaid(e.ctx, commerce.MarkPaidParams{MerchantID: e.m, OrderID: o.ID, PaymentRef: "r" + o.ID.String(), Amount: o.Total})
		require.NoError(t, err)
		for _, c := range e.commissions(o) {
			sum := mustAdd(c.AgencyPart, c.PromoterPart)
			require.True(t, sum.Equal(c.Amount), "order %d line %d: %s + %s != %s", i, c.Line, c.AgencyPart, c.PromoterPart, c.Amount)
			base, _ := o.Lines[c.Line].Payable.Minor()
			want := (base*c.Rate.PPM()*2 + 1000000) / 2000000
			got, _ := c.Amount.Minor()
			require.Equal(t, want, got, "order %d line %d: %d fen at %s", i, c.Line, base, c.Rate)
			require.False(t, c.AgencyPart.IsNegative() || c.PromoterPart.IsNegative())
		}
	}
}

func giftParams(m commerce.MerchantID, sku commerce.SKUID, ext commerce.Extensions) gifting.SendParams {
	return gifting.SendParams{MerchantID: m, Giver: "giver", SKU: sku, Quantity: 1, IdempotencyKey: "gift", Extensions: ext}
}

// testPromoterPayees: the accounts commission is sent to are kept whole,
// and a list WeChat could not pay into is refused, leaving the old one.
func testPromoterPayees(t *testing.T, h Harness) {
	e := newPromoEnv(t, h)
	p := e.promoterNamed("Mei")
	person := payment.Payee{Kind: payment.PayeePerson, Account: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", App: "wxd678efh567hg6787"}
	business := payment.Payee{Kind: payment.PayeeBusiness, Account: "1900000109", Name: "深圳市美美贸易有限公司"}
	got, err := e.ps.SetPromoterPayees(e.ctx, p.ID, []payment.Payee{person, business})
	require.NoError(t, err)
	assert.Equal(t, []payment.Payee{person, business}, got.Payees)
	stored, err := e.ps.GetPromoter(e.ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, []payment.Payee{person, business}, stored.Payees)

	pick, err := payment.PayeeFor(stored.Payees, "wxd678efh567hg6787")
	require.NoError(t, err)
	assert.Equal(t, person, pick)
	pick, err = payment.PayeeFor(stored.Payees, "wxother")
	require.NoError(t, err)
	assert.Equal(t, business, pick, "a business account receives under any app")
	_, err = payment.PayeeFor([]payment.Payee{person}, "wxother")
	assert.ErrorContains(t, err, "wxother")

	for _, bad := range []struct {
		payees []payment.Payee
		field  string
	}{
		{[]payment.Payee{{Kind: payment.PayeePerson, Account: "o1"}}, "payees[0].app"},
		{[]payment.Payee{{Kind: payment.PayeeBusiness, Account: "1900000109"}}, "payees[0].name"},
		{[]payment.Payee{{Kind: "bank", Account: "1"}}, "payees[0].kind"},
		{[]payment.Payee{person, person}, "payees[1].app"},
	} {
		_, err := e.ps.SetPromoterPayees(e.ctx, p.ID, bad.payees)
		var ce *commerce.Error
		require.ErrorAs(t, err, &ce, bad.field)
		assert.Equal(t, commerce.KindInvalid, ce.Kind, bad.field)
		assert.Equal(t, bad.field, ce.Field)
	}
	stored, err = e.ps.GetPromoter(e.ctx, p.ID)
	require.NoError(t, err)
	assert.Len(t, stored.Payees, 2, "a refused list leaves the old one")
}
