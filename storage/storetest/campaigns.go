package storetest

import (
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
	"github.com/minishop/minishop/campaigns"
	"github.com/minishop/minishop/commerce"
	. "github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/coupons"
	"github.com/minishop/minishop/membership"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/fakepay"
	"github.com/minishop/minishop/promoter"
)

func runCampaigns(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"GroupForms", testGroupForms},
		{"GroupFailsRefundsOnce", testGroupFailsRefundsOnce},
		{"GroupLastPlacesRace", testGroupLastPlacesRace},
		{"GroupAbandonedPlaceReleased", testGroupAbandonedPlace},
		{"GroupPaymentRacingExpiry", testGroupPaymentRacingExpiry},
		{"GroupLatePaymentRefunded", testGroupLatePayment},
		{"GroupLeaderClosesAndLeaves", testGroupLeaderCloses},
		{"GroupCompleteShort", testGroupCompleteShort},
		{"GroupLimitsAndRules", testGroupLimits},
		{"GroupFailReturnsCouponAndPoints", testGroupFailReturns},
		{"GroupRandomAddsUp", testGroupRandom},
		{"FlashSellsExactly", testFlashSellsExactly},
		{"FlashCustomerLimitRace", testFlashCustomerLimit},
		{"FlashUnpaidAndClose", testFlashUnpaidAndClose},
		{"BargainHelpersRace", testBargainRace},
		{"BargainBuyAndExpire", testBargainBuyAndExpire},
		{"BadInput", testCampaignBadInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

type campEnv struct {
	*env
	engine *minishop.Engine
	cs     *campaigns.Service
	fake   *fakepay.Provider
	shop   *Shop
	m      commerce.MerchantID
	seq    atomic.Int64
}

// newCampEnv: tea at 100.00 in two SKUs (stock 1,000 each) and a hot
// phone at 999.00 (stock 300), paid through fakepay.
func newCampEnv(t *testing.T, h Harness) *campEnv {
	t.Helper()
	e := &env{t: t, ctx: t.Context(), store: h.New(t), clock: NewClock(Epoch)}
	fake := fakepay.New(fakepay.WithClock(e.clock.Now))
	engine, err := minishop.New(e.store, minishop.WithClock(e.clock), minishop.WithIDs(&SeqIDs{}), minishop.WithPayments(fake),
		minishop.WithCampaigns(func(c *campaigns.Config) { c.Secret = []byte("campaign secret") }),
		minishop.WithCoupons(func(c *coupons.Config) { c.Secret = []byte("coupon secret") }))
	require.NoError(t, err)
	e.svc = engine.Commerce
	ce := &campEnv{env: e, engine: engine, cs: engine.Campaigns, fake: fake}
	ce.shop = NewShop(t, e.svc, "拼团店", freeShipping,
		ProductSpec{Title: "Longjing tea", Category: "tea", Prices: []string{"100.00", "100.00"}, Stock: 1000},
		ProductSpec{Title: "Phone", Category: "digital", Prices: []string{"999.00"}, Stock: 300})
	ce.m = ce.shop.Merchant.ID
	return ce
}

// activity: groups of size on tea A at 80.00 (leader 70.00), 24 h.
func (e *campEnv) activity(size int, edit func(*campaigns.GroupActivityParams)) *campaigns.GroupActivity {
	e.t.Helper()
	p := campaigns.GroupActivityParams{MerchantID: e.m, Title: "3人团", Size: size, TimeLimit: 24 * time.Hour,
		Window: campaigns.Window{Start: Epoch, End: Epoch.Add(30 * 24 * time.Hour)},
		Items:  []campaigns.GroupItem{{SKU: e.shop.SKU(0, 0), GroupPrice: CNY("80.00"), LeaderPrice: CNY("70.00")}}}
	if edit != nil {
		edit(&p)
	}
	a, err := e.cs.CreateGroupActivity(e.ctx, p)
	require.NoError(e.t, err)
	return a
}

func (e *campEnv) buy(customer string, sku commerce.SKUID, qty int64, exts ...commerce.Extension) (*commerce.Order, error) {
	return e.svc.Checkout(e.ctx, commerce.CheckoutParams{MerchantID: e.m, CustomerID: commerce.CustomerID(customer),
		Lines: []commerce.LineItem{{SKU: sku, Quantity: qty}}, ShippingAddress: Address(),
		IdempotencyKey: fmt.Sprintf("k%d", e.seq.Add(1)), Extensions: commerce.With(exts...)})
}

// open checks out a leader's order for a new group (not yet paid).
func (e *campEnv) open(a *campaigns.GroupActivity, leader string) (*commerce.Order, campaigns.GroupID) {
	e.t.Helper()
	o, err := e.buy(leader, a.Items[0].SKU, 1, campaigns.OpenGroup(a.ID, leader))
	require.NoError(e.t, err)
	require.NotNil(e.t, o.Group)
	id, err := commerce.ParseID[campaigns.GroupID](o.Group.ID)
	require.NoError(e.t, err)
	return o, id
}

func (e *campEnv) join(g campaigns.GroupID, who string) (*commerce.Order, error) {
	gr, err := e.cs.Group(e.ctx, e.m, g)
	if err != nil {
		return nil, err
	}
	return e.buy(who, gr.SKU, 1, campaigns.JoinGroup(g, who))
}

func (e *campEnv) pay(o *commerce.Order) error {
	p, _, err := e.engine.Payments.Pay(e.ctx, payment.PayParams{MerchantID: o.MerchantID, OrderID: o.ID})
	if err != nil {
		return err
	}
	req, err := e.fake.Pay(p.PaymentNo)
	if err != nil {
		return err
	}
	_, err = e.engine.Payments.HandleNotification(e.ctx, "fakepay", req)
	return err
}

func (e *campEnv) mustPay(o *commerce.Order) {
	e.t.Helper()
	require.NoError(e.t, e.pay(o))
}

func (e *campEnv) order(id commerce.OrderID) *commerce.Order {
	e.t.Helper()
	o, err := e.svc.GetOrder(e.ctx, e.m, id)
	require.NoError(e.t, err)
	return o
}

func (e *campEnv) group(id campaigns.GroupID) *campaigns.Group {
	e.t.Helper()
	g, err := e.cs.Group(e.ctx, e.m, id)
	require.NoError(e.t, err)
	return g
}

func (e *campEnv) stock(p, k int) int64 {
	e.t.Helper()
	prod, err := e.svc.GetProduct(e.ctx, e.m, e.shop.Products[p].ID)
	require.NoError(e.t, err)
	return prod.SKUs[k].Stock
}

// refundedAtChannel is what fakepay's payment of o says was refunded.
func (e *campEnv) refundedAtChannel(o *commerce.Order) string {
	e.t.Helper()
	pays, err := e.engine.Payments.OrderPayments(e.ctx, e.m, o.ID)
	require.NoError(e.t, err)
	require.NotEmpty(e.t, pays)
	return pays[0].RefundedAmount().String()
}

func (e *campEnv) events(prefix string) []string {
	e.t.Helper()
	evs, err := e.svc.ReadEvents(e.ctx, 0, 1000)
	require.NoError(e.t, err)
	var out []string
	for _, ev := range evs {
		if len(ev.Type) >= len(prefix) && ev.Type[:len(prefix)] == prefix {
			out = append(out, ev.Type)
		}
	}
	return out
}

func testGroupForms(t *testing.T, h Harness) {
	e := newCampEnv(t, h)
	a := e.activity(3, nil)
	lead, g := e.open(a, "leader")
	assert.Equal(t, "CNY 70.00", lead.Total.String(), "the leader's price")
	_, err := e.join(g, "early")
	assert.ErrorIs(t, err, campaigns.ErrGroupClosed, "nobody joins before the leader pays")
	pending, err := e.cs.GroupPage(e.ctx, e.m, g)
	require.NoError(t, err)
	assert.Zero(t, pending.PlacesLeft, "the page offers no place before the leader pays")
	e.mustPay(lead)
	assert.Equal(t, commerce.StatusAwaitingGroup, e.order(lead.ID).Status)
	gr := e.group(g)
	assert.Equal(t, campaigns.GroupOpen, gr.State)
	assert.Equal(t, Epoch.Add(24*time.Hour), gr.ExpiresAt.UTC(), "24 h from the leader's payment")

	tok := e.cs.GroupToken(gr)
	byTok, err := e.cs.GroupByToken(e.ctx, e.m, tok)
	require.NoError(t, err)
	assert.Equal(t, g, byTok.ID)
	_, err = e.cs.GroupByToken(e.ctx, e.m, tok[:len(tok)-2]+"AA")
	assert.ErrorIs(t, err, campaigns.ErrBadToken)

	m1, err := e.join(g, "bob")
	require.NoError(t, err)
	assert.Equal(t, "CNY 80.00", m1.Total.String(), "a member's price")
	require.Len(t, m1.Adjustments, 1)
	assert.Equal(t, "CNY 20.00", m1.Lines[0].Adjustments[0].String(), "the group price is an adjustment split on its line")
	_, err = e.join(g, "bob")
	assert.ErrorIs(t, err, campaigns.ErrAlreadyMember)
	e.mustPay(m1)
	page, err := e.cs.GroupPage(e.ctx, e.m, g)
	require.NoError(t, err)
	assert.Equal(t, 1, page.PlacesLeft)
	assert.Equal(t, []campaigns.MemberView{{Name: "leader", Leader: true}, {Name: "bob"}}, page.Members)
	assert.Equal(t, 24*time.Hour, page.TimeLeft)
	_, err = e.svc.Ship(e.ctx, commerce.ShipParams{MerchantID: e.m, OrderID: m1.ID, Shipment: commerce.Shipment{Carrier: "SF", TrackingNo: "SF1"}})
	assert.ErrorIs(t, err, commerce.ErrIllegalTransition, "a member's order does not ship before the group forms")

	m2, err := e.join(g, "carol")
	require.NoError(t, err)
	_, err = e.join(g, "dave")
	assert.ErrorIs(t, err, campaigns.ErrGroupFull, "a reserved place counts")
	e.mustPay(m2)
	for _, o := range []*commerce.Order{lead, m1, m2} {
		got := e.order(o.ID)
		assert.Equal(t, commerce.StatusPaid, got.Status, "formed: every member's order moves on to shipping")
		assert.False(t, got.Group.Short)
	}
	gr = e.group(g)
	assert.Equal(t, campaigns.GroupFormed, gr.State)
	assert.Equal(t, []string{"group.opened", "group.joined", "group.joined", "group.formed"}, e.events("group."))
	assert.Len(t, e.events("order.group_formed"), 3)
	_, err = e.svc.Ship(e.ctx, commerce.ShipParams{MerchantID: e.m, OrderID: m1.ID, Shipment: commerce.Shipment{Carrier: "SF", TrackingNo: "SF1"}})
	assert.NoError(t, err)
	e.advance(48 * time.Hour)
	rep := runDue(t, e.engine, e.ctx)
	assert.Zero(t, rep.Campaigns.GroupsFailed, "a formed group does not fail")
	assert.Equal(t, commerce.StatusPaid, e.order(m2.ID).Status)
}

func testGroupFailsRefundsOnce(t *testing.T, h Harness) {
	e := newCampEnv(t, h)
	a := e.activity(4, nil)
	lead, g := e.open(a, "leader")
	e.mustPay(lead)
	m1, err := e.join(g, "bob")
	require.NoError(t, err)
	e.mustPay(m1)
	unpaid, err := e.join(g, "carol")
	require.NoError(t, err)
	assert.EqualValues(t, 1000-3, e.stock(0, 0))
	e.advance(24*time.Hour - time.Microsecond)
	rep := runDue(t, e.engine, e.ctx)
	assert.Zero(t, rep.Campaigns.GroupsFailed, "not before its deadline")
	e.advance(time.Microsecond)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 32 {
		wg.Go(func() {
			rep, _ := e.engine.RunDue(e.ctx)
			failed.Add(int32(rep.Campaigns.GroupsFailed))
		})
	}
	wg.Wait()
	runDue(t, e.engine, e.ctx)
	assert.EqualValues(t, 1, failed.Load(), "one run fails the group")
	assert.Equal(t, campaigns.GroupFailed, e.group(g).State)
	for _, o := range []*commerce.Order{lead, m1} {
		got := e.order(o.ID)
		assert.Equal(t, commerce.StatusRefunded, got.Status)
		require.Len(t, got.Refunds, 1, "refunded once however many RunDue ran")
		assert.Equal(t, got.Total.String(), got.Refunded().String(), "in full")
		assert.Equal(t, got.Total.String(), e.refundedAtChannel(got), "through the payment channel")
	}
	assert.Equal(t, commerce.StatusCancelled, e.order(unpaid.ID).Status, "the unpaid place's order is cancelled")
	assert.EqualValues(t, 1000, e.stock(0, 0), "every unit back")
	assert.Equal(t, []string{"group.opened", "group.joined", "group.failed"}, e.events("group."))
	_, err = e.join(g, "dave")
	assert.ErrorIs(t, err, campaigns.ErrGroupClosed)
}

func testGroupLastPlacesRace(t *testing.T, h Harness) {
	e := newCampEnv(t, h)
	a := e.activity(5, nil)
	lead, g := e.open(a, "leader")
	e.mustPay(lead)
	m, err := e.join(g, "first")
	require.NoError(t, err)
	e.mustPay(m)
	var ok, full atomic.Int32
	var wg sync.WaitGroup
	orders := make([]*commerce.Order, 50)
	for i := range 50 {
		wg.Go(func() {
			o, err := e.join(g, fmt.Sprintf("racer-%d", i))
			switch {
			case err == nil:
				ok.Add(1)
				orders[i] = o
			case errors.Is(err, campaigns.ErrGroupFull):
				full.Add(1)
			default:
				t.Errorf("join: %v", err)
			}
		})
	}
	wg.Wait()
	assert.EqualValues(t, 3, ok.Load(), "exactly the 3 places left")
	assert.EqualValues(t, 47, full.Load())
	assert.Equal(t, 5, e.group(g).Taken())
	for _, o := range orders {
		if o != nil {
			e.mustPay(o)
		}
	}
	assert.Equal(t, campaigns.GroupFormed, e.group(g).State)
	assert.EqualValues(t, 1000-5, e.stock(0, 0))
}

func testGroupAbandonedPlace(t *testing.T, h Harness) {
	e := newCampEnv(t, h)
	a := e.activity(2, nil)
	lead, g := e.open(a, "leader")
	e.mustPay(lead)
	abandoned, err := e.join(g, "bob")
	require.NoError(t, err)
	_, err = e.join(g, "carol")
	assert.ErrorIs(t, err, campaigns.ErrGroupFull)
	e.advance(31 * time.Minute) // the kernel's payment timeout
	rep := runDue(t, e.engine, e.ctx)
	assert.Equal(t, 1, rep.OrdersCancelled)
	assert.Equal(t, commerce.StatusCancelled, e.order(abandoned.ID).Status)
	assert.Equal(t, 1, e.group(g).Taken(), "the abandoned place is free again")
	m, err := e.join(g, "carol")
	require.NoError(t, err)
	e.mustPay(m)
	assert.Equal(t, campaigns.GroupFormed, e.group(g).State)
	// The leader who abandons their own checkout closes the group that
	// never opened.
	lead2, g2 := e.open(a, "leader2")
	_, err = e.svc.Cancel(e.ctx, e.m, lead2.ID, "changed my mind")
	require.NoError(t, err)
	assert.Equal(t, campaigns.GroupClosed, e.group(g2).State)
}

func testGroupPaymentRacingExpiry(t *testing.T, h Harness) {
	for _, late := range []bool{false, true} {
		e := newCampEnv(t, h)
		a := e.activity(2, nil)
		lead, g := e.open(a, "leader")
		e.mustPay(lead)
		last, err := e.join(g, "bob")
		require.NoError(t, err)
		if late {
			e.advance(24 * time.Hour)
		} else {
			e.advance(24*time.Hour - time.Microsecond)
		}
		var wg sync.WaitGroup
		var payErr error
		// The deadline's run may cancel the unpaid order (and close its
		// payment) first: then the customer cannot pay.
		wg.Go(func() { payErr = e.pay(last) })
		for range 4 {
			wg.Go(func() { _, _ = e.engine.RunDue(e.ctx) })
		}
		wg.Wait()
		e.advance(time.Second)
		runDue(t, e.engine, e.ctx)
		gr := e.group(g)
		l, b := e.order(lead.ID), e.order(last.ID)
		if late {
			assert.Equal(t, campaigns.GroupFailed, gr.State, "a payment at the deadline does not form the group")
		}
		switch gr.State {
		case campaigns.GroupFormed:
			assert.False(t, late)
			assert.Equal(t, commerce.StatusPaid, l.Status)
			assert.Equal(t, commerce.StatusPaid, b.Status)
			assert.Empty(t, l.Refunds)
			assert.Empty(t, b.Refunds)
		case campaigns.GroupFailed:
			for _, o := range []*commerce.Order{l, b} {
				if o.ID == b.ID && o.Status == commerce.StatusCancelled {
					// The deadline's run cancelled the unpaid order first:
					// either the customer could not pay, or the money that
					// arrived for the cancelled order went back whole.
					assert.True(t, o.Paid.IsZero())
					if payErr == nil {
						assert.Equal(t, o.Total.String(), e.refundedAtChannel(o), "money for a cancelled order goes back")
					}
					continue
				}
				assert.Equal(t, commerce.StatusRefunded, o.Status, "charged, so refunded")
				assert.Len(t, o.Refunds, 1)
				assert.Equal(t, o.Total.String(), e.refundedAtChannel(o))
			}
		default:
			t.Fatalf("group %s", gr.State)
		}
	}
}

func testGroupLatePayment(t *testing.T, h Harness) {
	e := newCampEnv(t, h)
	a := e.activity(3, nil)
	lead, g := e.open(a, "leader")
	e.mustPay(lead)
	m, err := e.join(g, "bob")
	require.NoError(t, err)
	// The member pays at the last moment; the notification arrives after
	// the group failed.
	p, _, err := e.engine.Payments.Pay(e.ctx, payment.PayParams{MerchantID: e.m, OrderID: m.ID})
	require.NoError(t, err)
	req, err := e.fake.Pay(p.PaymentNo)
	require.NoError(t, err)
	e.advance(24 * time.Hour)
	_, _ = e.engine.RunDue(e.ctx) // closing the paid payment at the channel may fail
	assert.Equal(t, campaigns.GroupFailed, e.group(g).State)
	_, err = e.engine.Payments.HandleNotification(e.ctx, "fakepay", req)
	require.NoError(t, err)
	runDue(t, e.engine, e.ctx)
	assert.Equal(t, m.Total.String(), e.refundedAtChannel(m), "money for a group that failed goes back in full")
	assert.Equal(t, lead.Total.String(), e.refundedAtChannel(lead))
}

func testGroupLeaderCloses(t *testing.T, h Harness) {
	e := newCampEnv(t, h)
	a := e.activity(3, nil)
	lead, g := e.open(a, "leader")
	e.mustPay(lead)
	_, err := e.cs.CloseGroup(e.ctx, e.m, g, "bob")
	assert.Error(t, err, "only the leader closes")
	gr, err := e.cs.CloseGroup(e.ctx, e.m, g, "leader")
	require.NoError(t, err)
	assert.Equal(t, campaigns.GroupClosed, gr.State)
	assert.Equal(t, commerce.StatusRefunded, e.order(lead.ID).Status)
	assert.Equal(t, lead.Total.String(), e.refundedAtChannel(lead))

	// Once others hold places it cannot be closed; a member who leaves
	// (refund) frees their place, and when the leader leaves the next
	// paid member leads.
	lead2, g2 := e.open(a, "leader")
	e.mustPay(lead2)
	m, err := e.join(g2, "bob")
	require.NoError(t, err)
	e.mustPay(m)
	_, err = e.cs.CloseGroup(e.ctx, e.m, g2, "leader")
	assert.Error(t, err)
	_, err = e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: e.m, OrderID: m.ID, Items: []commerce.RefundItem{{Line: 0, Quantity: 1}}, IdempotencyKey: "leave"})
	require.NoError(t, err)
	assert.Equal(t, 1, e.group(g2).Taken())
	m2, err := e.join(g2, "carol")
	require.NoError(t, err)
	e.mustPay(m2)
	_, err = e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: e.m, OrderID: lead2.ID, All: true, IdempotencyKey: "leader-leaves"})
	require.NoError(t, err)
	gr = e.group(g2)
	require.Equal(t, campaigns.GroupOpen, gr.State)
	for _, mem := range gr.Members {
		if mem.Customer == "carol" {
			assert.True(t, mem.Leader, "the next paid member leads")
		}
	}
}

func testGroupCompleteShort(t *testing.T, h Harness) {
	e := newCampEnv(t, h)
	a := e.activity(4, func(p *campaigns.GroupActivityParams) { p.CompleteShort = true })
	lead, g := e.open(a, "leader")
	e.mustPay(lead)
	m, err := e.join(g, "bob")
	require.NoError(t, err)
	e.mustPay(m)
	unpaid, err := e.join(g, "carol")
	require.NoError(t, err)
	e.advance(24 * time.Hour)
	rep := runDue(t, e.engine, e.ctx)
	assert.Equal(t, 1, rep.Campaigns.GroupsFormed)
	gr := e.group(g)
	assert.Equal(t, campaigns.GroupFormed, gr.State)
	assert.True(t, gr.Short)
	for _, o := range []*commerce.Order{lead, m} {
		got := e.order(o.ID)
		assert.Equal(t, commerce.StatusPaid, got.Status)
		assert.True(t, got.Group.Short, "the order says the group was completed short")
	}
	assert.Equal(t, commerce.StatusCancelled, e.order(unpaid.ID).Status)
	page, err := e.cs.GroupPage(e.ctx, e.m, g)
	require.NoError(t, err)
	assert.Len(t, page.Members, 2, "no member is made up")

	// One paid member is not a group: it fails.
	lead2, g2 := e.open(a, "solo")
	e.mustPay(lead2)
	e.advance(24 * time.Hour)
	runDue(t, e.engine, e.ctx)
	assert.Equal(t, campaigns.GroupFailed, e.group(g2).State)
}

func testGroupLimits(t *testing.T, h Harness) {
	e := newCampEnv(t, h)
	b, err := e.engine.Coupons.CreateBatch(e.ctx, coupons.BatchParams{MerchantID: e.m, Name: "减5", Kind: coupons.AmountOff, Amount: CNY("5"),
		Total: 100, Validity: coupons.Validity{Days: 7}, Activate: true})
	require.NoError(t, err)
	a := e.activity(3, func(p *campaigns.GroupActivityParams) { p.MaxGroupsPerCustomer = 1; p.MaxUnitsPerOrder = 2 })
	lead, g := e.open(a, "leader")
	e.mustPay(lead)
	_, err = e.buy("bob", a.Items[0].SKU, 3, campaigns.JoinGroup(g, "bob"))
	assert.ErrorIs(t, err, campaigns.ErrLimit, "units per order")
	c, err := e.engine.Coupons.Claim(e.ctx, coupons.ClaimParams{MerchantID: e.m, BatchID: b.ID, Customer: "bob", RequestID: "r"})
	require.NoError(t, err)
	_, err = e.buy("bob", a.Items[0].SKU, 1, campaigns.JoinGroup(g, "bob"), coupons.Select(c.ID))
	assert.Error(t, err, "the activity takes no coupons")
	w, err := e.engine.Coupons.Wallet(e.ctx, "bob", coupons.Valid)
	require.NoError(t, err)
	assert.Len(t, w, 1, "the refused checkout left the coupon")
	_, err = e.join(g, "bob")
	require.NoError(t, err)
	_, g2 := e.open(a, "other")
	_, err = e.join(g2, "bob")
	assert.ErrorIs(t, err, campaigns.ErrLimit, "one group at a time per customer")
	_, err = e.buy("x", e.shop.SKU(0, 1), 1, campaigns.JoinGroup(g, "x"))
	assert.Error(t, err, "another SKU")
	_, err = e.svc.Checkout(e.ctx, commerce.CheckoutParams{MerchantID: e.m, CustomerID: "y", IdempotencyKey: "two-lines",
		Lines:      []commerce.LineItem{{SKU: e.shop.SKU(0, 0), Quantity: 1}, {SKU: e.shop.SKU(0, 1), Quantity: 1}},
		Extensions: commerce.With(campaigns.JoinGroup(g, "y")), ShippingAddress: Address()})
	assert.Error(t, err, "one SKU per group order")

	// Promoter commission: off unless the activity pays it.
	o := e.order(lead.ID)
	assert.NotEmpty(t, o.Metadata[promoter.NoCommission])
	paying := e.activity(2, func(p *campaigns.GroupActivityParams) { p.PaysCommission = true })
	o2, _ := e.open(paying, "leader")
	assert.Empty(t, o2.Metadata[promoter.NoCommission])

	// A waiting member leaves whole: a partial refund is refused.
	two, err := e.buy("carol", a.Items[0].SKU, 2, campaigns.OpenGroup(a.ID, "carol"))
	require.NoError(t, err)
	e.mustPay(two)
	_, err = e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: e.m, OrderID: two.ID, Items: []commerce.RefundItem{{Line: 0, Quantity: 1}}, IdempotencyKey: "half"})
	assert.Error(t, err)
	assert.Empty(t, e.order(two.ID).Refunds, "nothing written")
}

// A failed group's member gets back, besides the money, the coupon and
// the points the order spent.
func testGroupFailReturns(t *testing.T, h Harness) {
	e := newCampEnv(t, h)
	_, err := e.engine.Membership.SetProgram(e.ctx, benchProgram(e.m))
	require.NoError(t, err)
	_, err = e.engine.Membership.Join(e.ctx, e.m, "bob")
	require.NoError(t, err)
	_, err = e.engine.Membership.Adjust(e.ctx, membership.AdjustParams{MerchantID: e.m, Customer: "bob", Points: 1000, RequestID: "grant"})
	require.NoError(t, err)
	b, err := e.engine.Coupons.CreateBatch(e.ctx, coupons.BatchParams{MerchantID: e.m, Name: "减5", Kind: coupons.AmountOff, Amount: CNY("5"),
		Total: 10, Validity: coupons.Validity{Days: 7}, Activate: true})
	require.NoError(t, err)
	c, err := e.engine.Coupons.Claim(e.ctx, coupons.ClaimParams{MerchantID: e.m, BatchID: b.ID, Customer: "bob", RequestID: "r"})
	require.NoError(t, err)
	a := e.activity(3, func(p *campaigns.GroupActivityParams) {
		p.AllowCoupons, p.AllowPoints, p.MaxGroupsPerCustomer = true, true, 1
	})
	lead, g := e.open(a, "leader")
	e.mustPay(lead)
	o, err := e.buy("bob", a.Items[0].SKU, 1, campaigns.JoinGroup(g, "bob"), coupons.Select(c.ID), membership.SpendPoints(500))
	require.NoError(t, err)
	assert.Equal(t, "CNY 70.00", o.Total.String(), "80.00 less the 5.00 coupon and 500 points (5.00)")
	e.mustPay(o)
	card, err := e.engine.Membership.Card(e.ctx, e.m, "bob")
	require.NoError(t, err)
	assert.EqualValues(t, 500, card.Available, "points spent")
	w, err := e.engine.Coupons.Wallet(e.ctx, "bob", coupons.Valid)
	require.NoError(t, err)
	assert.Empty(t, w, "coupon used")
	e.advance(24 * time.Hour)
	rep := runDue(t, e.engine, e.ctx)
	assert.Equal(t, 1, rep.Campaigns.GroupsFailed)
	got := e.order(o.ID)
	assert.Equal(t, commerce.StatusRefunded, got.Status)
	assert.Equal(t, "CNY 70.00", e.refundedAtChannel(got))
	card, err = e.engine.Membership.Card(e.ctx, e.m, "bob")
	require.NoError(t, err)
	assert.EqualValues(t, 1000, card.Available, "the points are back")
	w, err = e.engine.Coupons.Wallet(e.ctx, "bob", coupons.Valid)
	require.NoError(t, err)
	assert.Len(t, w, 1, "the coupon is back in the wallet")
	_, err = e.buy("bob", a.Items[0].SKU, 1, campaigns.OpenGroup(a.ID, "bob"))
	assert.NoError(t, err, "a failed group's place no longer counts against the limit of one group")
}

// testGroupRandom: 1,000 random groups, with random coupons, random
// joiners and random refunds, after their deadline and RunDue: every
// member's order took what it paid back, or keeps it, to the fen.
func testGroupRandom(t *testing.T, h Harness) {
	n := randomRuns(1000)
	e := newCampEnv(t, h)
	rng := rand.New(rand.NewPCG(17, 3))
	batch, err := e.engine.Coupons.CreateBatch(e.ctx, coupons.BatchParams{MerchantID: e.m, Name: "减7.77", Kind: coupons.AmountOff,
		Amount: CNY("7.77"), Total: 100000, PerPerson: 100000, Validity: coupons.Validity{Days: 30}, Activate: true})
	require.NoError(t, err)
	a := e.activity(3, func(p *campaigns.GroupActivityParams) {
		p.AllowCoupons, p.MaxUnitsPerOrder = true, 5
		p.Items[0].GroupPrice, p.Items[0].LeaderPrice = CNY("73.33"), CNY("66.67")
	})
	_, err = e.svc.AdjustStock(e.ctx, e.m, a.Items[0].SKU, 100_000)
	require.NoError(t, err)
	var all []*commerce.Order
	buy := func(who string, qty int64, ext commerce.Extension) *commerce.Order {
		exts := []commerce.Extension{ext}
		if rng.IntN(2) == 0 {
			c, err := e.engine.Coupons.Claim(e.ctx, coupons.ClaimParams{MerchantID: e.m, BatchID: batch.ID, Customer: commerce.CustomerID(who),
				RequestID: fmt.Sprintf("r%d", e.seq.Add(1))})
			require.NoError(t, err)
			exts = append(exts, coupons.Select(c.ID))
		}
		o, err := e.buy(who, a.Items[0].SKU, qty, exts...)
		if errors.Is(err, campaigns.ErrGroupFull) || errors.Is(err, campaigns.ErrGroupClosed) {
			return nil
		}
		require.NoError(t, err)
		all = append(all, o)
		return o
	}
	for i := range n {
		lead := buy(fmt.Sprintf("lead-%d", i), 1+rng.Int64N(5), campaigns.OpenGroup(a.ID, "L"))
		e.mustPay(lead)
		id, _ := commerce.ParseID[campaigns.GroupID](lead.Group.ID)
		for j := range rng.IntN(4) {
			o := buy(fmt.Sprintf("m-%d-%d", i, j), 1+rng.Int64N(5), campaigns.JoinGroup(id, "M"))
			if o != nil && rng.IntN(5) > 0 {
				e.mustPay(o)
			}
		}
		// A formed group's member asks for part of their money back.
		if g := e.group(id); g.State == campaigns.GroupFormed {
			o := e.order(g.Members[rng.IntN(len(g.Members))].Order)
			if q := o.Lines[0].Quantity; q > 1 {
				_, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: e.m, OrderID: o.ID,
					Items: []commerce.RefundItem{{Line: 0, Quantity: 1 + rng.Int64N(q-1)}}, IdempotencyKey: "part"})
				require.NoError(t, err)
			}
		}
	}
	e.advance(25 * time.Hour)
	for range 2 {
		runDue(t, e.engine, e.ctx)
	}
	formed, failed := 0, 0
	for _, o := range all {
		got := e.order(o.ID)
		paid := got.Paid
		kept, err := paid.Sub(got.Refunded())
		require.NoError(t, err)
		switch got.Status {
		case commerce.StatusCancelled:
			assert.True(t, paid.IsZero(), "a cancelled order took nothing")
			continue
		case commerce.StatusRefunded:
			failed++
			assert.True(t, kept.IsZero(), "order %s: refunded in full, kept %s", got.ID, kept)
		case commerce.StatusPaid:
			formed++
			// What it keeps is exactly what the units it kept paid.
			want := commerce.Zero(got.Currency)
			for _, l := range got.Lines {
				left, err := l.Payable.Sub(l.Refunded)
				require.NoError(t, err)
				want, _ = want.Add(left)
			}
			assert.Equal(t, want.String(), kept.String(), "order %s", got.ID)
		default:
			t.Fatalf("order %s left in %s", got.ID, got.Status)
		}
		assert.False(t, got.PendingRefunds())
		if pays, err := e.engine.Payments.OrderPayments(e.ctx, e.m, got.ID); assert.NoError(t, err) && len(pays) > 0 {
			assert.Equal(t, got.Refunded().String(), pays[0].RefundedAmount().String(), "the channel agrees")
		}
	}
	assert.Positive(t, formed)
	assert.Positive(t, failed)
}

// flashSale: 50 phones at 499.00, 5 shards, at most 2 per customer.
func (e *campEnv) flashSale(units int64, perCustomer int64) *campaigns.FlashSale {
	e.t.Helper()
	f, err := e.cs.CreateFlashSale(e.ctx, campaigns.FlashSaleParams{MerchantID: e.m, Title: "10点场",
		Window: campaigns.Window{Start: Epoch, End: Epoch.Add(time.Hour)}, Shards: 5,
		Items: []campaigns.FlashItem{{SKU: e.shop.SKU(1, 0), Price: CNY("499.00"), Units: units, PerCustomer: perCustomer}}})
	require.NoError(e.t, err)
	return f
}

func (e *campEnv) left(f *campaigns.FlashSale) int64 {
	e.t.Helper()
	n, err := e.cs.Left(e.ctx, e.m, f.ID, f.Items[0].SKU)
	require.NoError(e.t, err)
	return n
}

func testFlashSellsExactly(t *testing.T, h Harness) {
	e := newCampEnv(t, h)
	f := e.flashSale(50, 0)
	assert.EqualValues(t, 250, e.stock(1, 0), "the sale's units come off the SKU's stock")
	var sold, out atomic.Int32
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			o, err := e.buy(fmt.Sprintf("buyer-%d", i), f.Items[0].SKU, 1, campaigns.Flash(f.ID))
			switch {
			case err == nil:
				sold.Add(1)
				assert.Equal(t, "CNY 499.00", o.Total.String())
			case errors.Is(err, campaigns.ErrSoldOut) && errors.Is(err, commerce.ErrOutOfStock):
				out.Add(1)
			default:
				t.Errorf("checkout: %v", err)
			}
		})
	}
	wg.Wait()
	assert.EqualValues(t, 50, sold.Load(), "exactly the sale's units")
	assert.EqualValues(t, 150, out.Load())
	assert.Zero(t, e.left(f))
	assert.EqualValues(t, 250, e.stock(1, 0), "the normal stock remains")
	o, err := e.buy("late", f.Items[0].SKU, 1)
	require.NoError(t, err, "a normal checkout still sells at the normal price")
	assert.Equal(t, "CNY 999.00", o.Total.String())
}

func testFlashCustomerLimit(t *testing.T, h Harness) {
	e := newCampEnv(t, h)
	f := e.flashSale(50, 2)
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			_, err := e.buy("greedy", f.Items[0].SKU, 1, campaigns.Flash(f.ID))
			if err == nil {
				ok.Add(1)
			} else {
				assert.ErrorIs(t, err, campaigns.ErrLimit)
			}
		})
	}
	wg.Wait()
	assert.EqualValues(t, 2, ok.Load(), "a customer at their limit is refused even when the requests race")
	assert.EqualValues(t, 48, e.left(f))
}

func testFlashUnpaidAndClose(t *testing.T, h Harness) {
	e := newCampEnv(t, h)
	f := e.flashSale(10, 2)
	unpaid, err := e.buy("a", f.Items[0].SKU, 2, campaigns.Flash(f.ID))
	require.NoError(t, err)
	assert.Equal(t, Epoch.Add(5*time.Minute), unpaid.DueAt.UTC(), "a shorter payment timeout")
	assert.Equal(t, "campaigns", unpaid.Lines[0].StockPool, "the line's units come from the pool")
	paid, err := e.buy("b", f.Items[0].SKU, 2, campaigns.Flash(f.ID))
	require.NoError(t, err)
	e.mustPay(paid)
	assert.EqualValues(t, 6, e.left(f))
	e.advance(6 * time.Minute)
	runDue(t, e.engine, e.ctx)
	assert.Equal(t, commerce.StatusCancelled, e.order(unpaid.ID).Status)
	assert.EqualValues(t, 8, e.left(f), "unpaid units go back to the sale's pool")
	assert.EqualValues(t, 290, e.stock(1, 0), "not to the SKU")
	again, err := e.buy("a", f.Items[0].SKU, 2, campaigns.Flash(f.ID))
	require.NoError(t, err, "the cancelled units no longer count against the customer")
	// A refund before shipping gives the units back to the pool.
	_, err = e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: e.m, OrderID: paid.ID, Items: []commerce.RefundItem{{Line: 0, Quantity: 1}}, IdempotencyKey: "r"})
	require.NoError(t, err)
	assert.EqualValues(t, 7, e.left(f))
	e.advance(time.Hour)
	rep := runDue(t, e.engine, e.ctx)
	assert.Equal(t, 1, rep.Campaigns.SalesClosed)
	assert.Zero(t, e.left(f))
	// a's second order timed out first: its units joined the unsold.
	assert.Equal(t, commerce.StatusCancelled, e.order(again.ID).Status)
	assert.EqualValues(t, 299, e.stock(1, 0), "unsold units go back to the SKU when the sale closes")
	_, err = e.buy("c", f.Items[0].SKU, 1, campaigns.Flash(f.ID))
	assert.ErrorIs(t, err, campaigns.ErrNotRunning)
	// After the close, a refund's units go to the SKU.
	_, err = e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: e.m, OrderID: paid.ID, Items: []commerce.RefundItem{{Line: 0, Quantity: 1}}, IdempotencyKey: "r2"})
	require.NoError(t, err)
	assert.Zero(t, e.left(f))
	assert.EqualValues(t, 300, e.stock(1, 0))
}

func (e *campEnv) bargainActivity(helpers int, edit func(*campaigns.BargainActivityParams)) *campaigns.BargainActivity {
	e.t.Helper()
	p := campaigns.BargainActivityParams{MerchantID: e.m, Title: "砍价", SKU: e.shop.SKU(0, 1), Target: CNY("0.01"), Helpers: helpers,
		TimeLimit: 24 * time.Hour, Window: campaigns.Window{Start: Epoch, End: Epoch.Add(72 * time.Hour)}}
	if edit != nil {
		edit(&p)
	}
	a, err := e.cs.CreateBargainActivity(e.ctx, p)
	require.NoError(e.t, err)
	return a
}

func testBargainRace(t *testing.T, h Harness) {
	e := newCampEnv(t, h)
	a := e.bargainActivity(10, nil)
	b, err := e.cs.StartBargain(e.ctx, e.m, a.ID, "alice")
	require.NoError(t, err)
	again, err := e.cs.StartBargain(e.ctx, e.m, a.ID, "alice")
	require.NoError(t, err)
	assert.Equal(t, b.ID, again.ID, "one bargain per customer and activity")
	tok := e.cs.BargainToken(b)
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			_, err := e.cs.Help(e.ctx, e.m, tok, commerce.CustomerID(fmt.Sprintf("friend-%d", i%30)))
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, campaigns.ErrBargainClosed), errors.Is(err, campaigns.ErrAlreadyHelped):
				refused.Add(1)
			default:
				t.Errorf("help: %v", err)
			}
		})
	}
	wg.Wait()
	assert.EqualValues(t, 10, ok.Load(), "exactly the helpers needed")
	got, err := e.cs.Bargain(e.ctx, e.m, b.ID)
	require.NoError(t, err)
	assert.Equal(t, "CNY 0.01", got.Price.String(), "the cuts reach the target exactly, never below")
	assert.Equal(t, campaigns.BargainReached, got.State)
	seen := map[commerce.CustomerID]bool{}
	sum := commerce.Zero(got.Price.Currency())
	for _, hp := range got.Helps {
		assert.False(t, seen[hp.Friend], "each friend counts once")
		seen[hp.Friend] = true
		assert.True(t, hp.Cut.IsPositive())
		sum, _ = sum.Add(hp.Cut)
	}
	assert.Equal(t, "CNY 99.99", sum.String())
	_, err = e.cs.Help(e.ctx, e.m, tok, "alice")
	assert.Error(t, err)
}

func testBargainBuyAndExpire(t *testing.T, h Harness) {
	e := newCampEnv(t, h)
	a := e.bargainActivity(3, func(p *campaigns.BargainActivityParams) { p.Target = CNY("40.00"); p.OneHelpPerActivity = true })
	b, err := e.cs.StartBargain(e.ctx, e.m, a.ID, "alice")
	require.NoError(t, err)
	_, err = e.buy("alice", b.SKU, 1, campaigns.Buy(b.ID))
	assert.ErrorIs(t, err, campaigns.ErrBargainClosed, "not before the target")
	tok := e.cs.BargainToken(b)
	for _, f := range []string{"f1", "f2", "f3"} {
		_, err := e.cs.Help(e.ctx, e.m, tok, commerce.CustomerID(f))
		require.NoError(t, err)
	}
	other, err := e.cs.StartBargain(e.ctx, e.m, a.ID, "bob")
	require.NoError(t, err)
	_, err = e.cs.Help(e.ctx, e.m, e.cs.BargainToken(other), "f1")
	assert.ErrorIs(t, err, campaigns.ErrAlreadyHelped, "one help per friend per activity")
	_, err = e.buy("bob", b.SKU, 1, campaigns.Buy(b.ID))
	assert.Error(t, err, "another customer's bargain")
	o, err := e.buy("alice", b.SKU, 1, campaigns.Buy(b.ID))
	require.NoError(t, err)
	assert.Equal(t, "CNY 40.00", o.Total.String(), "bought at the price reached")
	_, err = e.buy("alice", b.SKU, 1, campaigns.Buy(b.ID))
	assert.Error(t, err, "one order per bargain")
	e.mustPay(o)
	got, err := e.cs.Bargain(e.ctx, e.m, b.ID)
	require.NoError(t, err)
	assert.Equal(t, campaigns.BargainBought, got.State)
	e.advance(25 * time.Hour)
	rep := runDue(t, e.engine, e.ctx)
	assert.Equal(t, 1, rep.Campaigns.BargainsExpired, "bob's, never bought")
	got, err = e.cs.Bargain(e.ctx, e.m, other.ID)
	require.NoError(t, err)
	assert.Equal(t, campaigns.BargainExpired, got.State)
	_, err = e.cs.Help(e.ctx, e.m, e.cs.BargainToken(other), "f9")
	assert.ErrorIs(t, err, campaigns.ErrBargainClosed)
}

func testCampaignBadInput(t *testing.T, h Harness) {
	e := newCampEnv(t, h)
	sku := e.shop.SKU(0, 0)
	win := campaigns.Window{Start: Epoch, End: Epoch.Add(time.Hour)}
	good := func() campaigns.GroupActivityParams {
		return campaigns.GroupActivityParams{MerchantID: e.m, Title: "团", Size: 3, TimeLimit: time.Hour, Window: win,
			Items: []campaigns.GroupItem{{SKU: sku, GroupPrice: CNY("80.00")}}}
	}
	for _, tc := range []struct {
		field string
		edit  func(*campaigns.GroupActivityParams)
	}{
		{"size", func(p *campaigns.GroupActivityParams) { p.Size = 1 }},
		{"time_limit", func(p *campaigns.GroupActivityParams) { p.TimeLimit = 0 }},
		{"items[0].leader_price", func(p *campaigns.GroupActivityParams) { p.Items[0].LeaderPrice = CNY("90.00") }},
		{"items[0].group_price", func(p *campaigns.GroupActivityParams) { p.Items[0].GroupPrice = CNY("100.00") }},
		{"items[0].sku", func(p *campaigns.GroupActivityParams) { p.Items[0].SKU = commerce.SKUID{} }},
		{"window.end", func(p *campaigns.GroupActivityParams) { p.Window.End = p.Window.Start }},
		{"title", func(p *campaigns.GroupActivityParams) { p.Title = "" }},
	} {
		p := good()
		tc.edit(&p)
		_, err := e.cs.CreateGroupActivity(e.ctx, p)
		var ce *commerce.Error
		if assert.ErrorAs(t, err, &ce, tc.field) {
			assert.Equal(t, commerce.KindInvalid, ce.Kind, tc.field)
			assert.Equal(t, tc.field, ce.Field)
		}
	}
	// Joining one's own group twice.
	a := e.activity(3, nil)
	lead, g := e.open(a, "leader")
	e.mustPay(lead)
	_, err := e.join(g, "leader")
	assert.ErrorIs(t, err, campaigns.ErrAlreadyMember)
	assert.Equal(t, 1, e.group(g).Taken(), "nothing written")

	_, err = e.cs.CreateBargainActivity(e.ctx, campaigns.BargainActivityParams{MerchantID: e.m, Title: "砍", SKU: sku, Target: CNY("120.00"),
		Helpers: 3, TimeLimit: time.Hour, Window: win})
	var ce *commerce.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "target", ce.Field, "a bargain target above the price")

	// A sale whose second SKU lacks the units takes none from the first.
	_, err = e.cs.CreateFlashSale(e.ctx, campaigns.FlashSaleParams{MerchantID: e.m, Title: "场", Window: win,
		Items: []campaigns.FlashItem{{SKU: e.shop.SKU(0, 1), Price: CNY("50"), Units: 10}, {SKU: e.shop.SKU(1, 0), Price: CNY("500"), Units: 301}}})
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "items[1].units", ce.Field)
	assert.EqualValues(t, 1000, e.stock(0, 1), "nothing taken")
	assert.EqualValues(t, 300, e.stock(1, 0))
}
