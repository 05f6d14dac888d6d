package storetest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	. "github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/coupons"
	"github.com/minishop/minishop/gifting"
	"github.com/minishop/minishop/membership"
	"github.com/minishop/minishop/storage"
)

func runRetries(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"CheckoutLookupFails/OutOfStock", testRetryLookupOutOfStock},
		{"CheckoutLookupFails/KeyTaken", testRetryLookupKeyTaken},
		{"CheckoutLookupFails/Coupon", testRetryLookupCoupon},
		{"CheckoutLookupFails/Points", testRetryLookupPoints},
		{"Orders/ShipReceiveComplete", testRetryShipReceiveComplete},
		{"Orders/Cancel", testRetryCancel},
		{"Orders/PayAndRefund", testRetryPayRefund},
		{"Orders/Gift", testRetryGift},
		{"Orders/GroupGiftLines", testRetryGroupGiftLines},
		{"Gifting/SwitchAndAccept", testRetryGifting},
		{"Gifting/GroupClaim", testRetryGroupClaim},
		{"RefundHandoffLost", testRefundHandoffLost},
		{"RefundHandoffLostConcurrent", testRefundHandoffConcurrent},
		{"RefundProviderDown", testRefundProviderDown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

// lookupFailStore is a real store whose OrderByIdempotencyKey fails with
// ErrUnavailable as many times as armed: the transient store error a
// retried checkout can meet when it looks for the order its first attempt
// made.
type lookupFailStore struct {
	Store
	fails atomic.Int32
}

func (s *lookupFailStore) OrderByIdempotencyKey(ctx context.Context, m commerce.MerchantID, c commerce.CustomerID, key string) (*commerce.Order, error) {
	if s.fails.Add(-1) >= 0 {
		return nil, storage.ErrUnavailable
	}
	return s.Store.OrderByIdempotencyKey(ctx, m, c, key)
}

func newLookupFailEnv(t *testing.T, h Harness, opts ...minishop.Option) (*env, *lookupFailStore, *minishop.Engine) {
	t.Helper()
	fs := &lookupFailStore{Store: h.New(t)}
	e := &env{t: t, ctx: context.Background(), store: fs, clock: NewClock(Epoch)}
	engine, err := minishop.New(fs, append([]minishop.Option{minishop.WithClock(e.clock), minishop.WithIDs(&SeqIDs{})}, opts...)...)
	require.NoError(t, err)
	e.svc = engine.Commerce
	return e, fs, engine
}

// retryAfterLostAnswer runs checkout p once (it commits; its answer is
// taken as lost), then retries it with the key look-up failing once: the
// retry's own attempt fails (the first took the stock, coupon, points or
// key), and the answer must be retryable, never that failure. The next
// retry returns the first order.
func retryAfterLostAnswer(t *testing.T, e *env, fs *lookupFailStore, p commerce.CheckoutParams, hidden error) {
	t.Helper()
	first, err := e.svc.Checkout(e.ctx, p)
	require.NoError(t, err)
	fs.fails.Store(1)
	_, err = e.svc.Checkout(e.ctx, p)
	require.Error(t, err)
	assert.ErrorIs(t, err, commerce.ErrUnavailable, "the retry cannot tell; it must say try again")
	assert.Equal(t, commerce.KindUnavailable, commerce.KindOf(err))
	if hidden != nil {
		assert.NotErrorIs(t, err, hidden, "a refusal the customer's own order caused is not the answer")
	}
	assert.NotErrorIs(t, err, commerce.ErrFailedPrecondition)
	assert.NotErrorIs(t, err, commerce.ErrConflict)
	assert.EqualValues(t, 0, fs.fails.Load(), "the look-up was tried")
	again, err := e.svc.Checkout(e.ctx, p)
	require.NoError(t, err, "the store is back: the retry finds the order")
	assert.Equal(t, first.ID, again.ID)
	os, err := e.svc.ListOrders(e.ctx, p.MerchantID, commerce.OrderQuery{Customer: p.CustomerID})
	require.NoError(t, err)
	assert.Len(t, os, 1, "one order")
}

func testRetryLookupOutOfStock(t *testing.T, h Harness) {
	e, fs, _ := newLookupFailEnv(t, h)
	shop := e.shop(ProductSpec{Title: "A", Prices: []string{"5"}, Stock: 2})
	retryAfterLostAnswer(t, e, fs, commerce.CheckoutParams{MerchantID: shop.Merchant.ID, CustomerID: "c", IdempotencyKey: "k",
		ShippingAddress: Address(), Lines: []commerce.LineItem{line(shop.SKU(0, 0), 2)}}, commerce.ErrOutOfStock)
	assert.Equal(t, int64(0), e.stockOf(shop, shop.SKU(0, 0)))

	// From the cart: the retry finds the cart emptied by the first call.
	shop2 := e.shop(ProductSpec{Title: "B", Prices: []string{"5"}, Stock: 9})
	_, err := e.svc.AddToCart(e.ctx, commerce.CartParams{MerchantID: shop2.Merchant.ID, CustomerID: "c", SKU: shop2.SKU(0, 0), Quantity: 1})
	require.NoError(t, err)
	retryAfterLostAnswer(t, e, fs, commerce.CheckoutParams{FromCart: true, MerchantID: shop2.Merchant.ID, CustomerID: "c", IdempotencyKey: "cart",
		ShippingAddress: Address()}, commerce.ErrEmptyCart)
}

// Stock enough for both: the retry's insert hits the key's unique index.
func testRetryLookupKeyTaken(t *testing.T, h Harness) {
	e, fs, _ := newLookupFailEnv(t, h)
	shop := e.shop(ProductSpec{Title: "A", Prices: []string{"5"}, Stock: 10})
	retryAfterLostAnswer(t, e, fs, commerce.CheckoutParams{MerchantID: shop.Merchant.ID, CustomerID: "c", IdempotencyKey: "k",
		ShippingAddress: Address(), Lines: []commerce.LineItem{line(shop.SKU(0, 0), 1)}}, nil)
	assert.Equal(t, int64(9), e.stockOf(shop, shop.SKU(0, 0)), "stock taken once")

	// With the look-up failing, a new key's failure is still reported as
	// retryable, and a mismatched replay is still a mismatch once the store
	// answers.
	p := commerce.CheckoutParams{MerchantID: shop.Merchant.ID, CustomerID: "c", IdempotencyKey: "k",
		ShippingAddress: Address(), Lines: []commerce.LineItem{line(shop.SKU(0, 0), 2)}}
	_, err := e.svc.Checkout(e.ctx, p)
	require.ErrorIs(t, err, commerce.ErrIdempotencyMismatch)
}

func testRetryLookupCoupon(t *testing.T, h Harness) {
	e, fs, engine := newLookupFailEnv(t, h, minishop.WithCoupons(func(c *coupons.Config) { c.Secret = []byte("test secret") }))
	shop := NewShop(t, e.svc, "券店", freeShipping, ProductSpec{Title: "茶", Prices: []string{"120.00"}, Stock: 100})
	b, err := engine.Coupons.CreateBatch(e.ctx, coupons.BatchParams{MerchantID: shop.Merchant.ID, Activate: true, Name: "满99减15",
		Kind: coupons.ThresholdOff, Amount: CNY("15"), MinAmount: CNY("99"), Total: 10, Validity: coupons.Validity{Days: 7}})
	require.NoError(t, err)
	c, err := engine.Coupons.Claim(e.ctx, coupons.ClaimParams{MerchantID: shop.Merchant.ID, BatchID: b.ID, Customer: "alice", RequestID: "r"})
	require.NoError(t, err)
	retryAfterLostAnswer(t, e, fs, commerce.CheckoutParams{MerchantID: shop.Merchant.ID, CustomerID: "alice", IdempotencyKey: "k",
		ShippingAddress: Address(), Lines: []commerce.LineItem{line(shop.SKU(0, 0), 1)}, Extensions: commerce.With(coupons.Select(c.ID))},
		coupons.ErrCouponUnavailable)
}

func testRetryLookupPoints(t *testing.T, h Harness) {
	e, fs, engine := newLookupFailEnv(t, h)
	shop := NewShop(t, e.svc, "会员店", freeShipping, ProductSpec{Title: "茶", Prices: []string{"60.00"}, Stock: 100})
	m := shop.Merchant.ID
	_, err := engine.Membership.SetProgram(e.ctx, membership.Program{MerchantID: m, AutoJoin: true, Earn: membership.PointsPer{Points: 1, Per: CNY("1.00")}, Redeem: membership.PointsPer{Points: 1, Per: CNY("0.01")},
		MaxShare: commerce.MustPercent(50), Experience: membership.PointsPer{Points: 1, Per: CNY("1.00")}, Tiers: []membership.Tier{{Level: 1, Name: "VIP1"}}})
	require.NoError(t, err)
	_, err = engine.Membership.Join(e.ctx, m, "alice")
	require.NoError(t, err)
	_, err = engine.Membership.Adjust(e.ctx, membership.AdjustParams{MerchantID: m, Customer: "alice", Points: 100, RequestID: "grant"})
	require.NoError(t, err)
	retryAfterLostAnswer(t, e, fs, commerce.CheckoutParams{MerchantID: m, CustomerID: "alice", IdempotencyKey: "k",
		ShippingAddress: Address(), Lines: []commerce.LineItem{line(shop.SKU(0, 0), 1)}, Extensions: commerce.With(membership.SpendPoints(100))},
		membership.ErrInsufficientPoints)
	card, err := engine.Membership.Card(e.ctx, m, "alice")
	require.NoError(t, err)
	assert.EqualValues(t, 0, card.Available, "points spent once")
}

// eventCount counts the outbox events of type typ.
func (e *env) eventCount(typ string) int {
	n := 0
	for _, ev := range e.allEvents() {
		if ev.Type == typ {
			n++
		}
	}
	return n
}

// sameRetry asserts that a retried change returned the order as stored,
// having changed nothing (no new version, no new event).
func (e *env) sameRetry(got *commerce.Order, err error, want *commerce.Order, event string, msg string) {
	e.t.Helper()
	require.NoError(e.t, err, msg)
	stored, gerr := e.svc.GetOrder(e.ctx, want.MerchantID, want.ID)
	require.NoError(e.t, gerr)
	assert.Equal(e.t, want.Version, stored.Version, "%s: the retry wrote nothing", msg)
	assert.Equal(e.t, want.Status, got.Status, msg)
	assert.Equal(e.t, stored.Version, got.Version, "%s: the answer is the stored order", msg)
	assert.Equal(e.t, 1, e.eventCount(event), "%s: one event", msg)
}

func testRetryShipReceiveComplete(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{})
	shop := e.shop(ProductSpec{Title: "A", Prices: []string{"5"}, Stock: 10})
	m := shop.Merchant.ID
	o := e.pay(e.mustBuy(shop, "c", "k", line(shop.SKU(0, 0), 1)))
	ship := commerce.ShipParams{MerchantID: m, OrderID: o.ID, Shipment: commerce.Shipment{Carrier: "SF", TrackingNo: "SF100"}}
	shipped, err := e.svc.Ship(e.ctx, ship)
	require.NoError(t, err)
	got, err := e.svc.Ship(e.ctx, ship)
	e.sameRetry(got, err, shipped, "order.shipped", "ship again, same shipment")
	assert.Equal(t, ship.Shipment, *got.Shipment)
	other := ship
	other.Shipment.TrackingNo = "SF200"
	_, err = e.svc.Ship(e.ctx, other)
	require.ErrorIs(t, err, commerce.ErrIllegalTransition, "another tracking number is another shipment")
	_, err = e.svc.Ship(e.ctx, commerce.ShipParams{MerchantID: m, OrderID: o.ID})
	require.ErrorIs(t, err, commerce.ErrIllegalTransition, "no shipment is another shipment")

	received, err := e.svc.ConfirmReceipt(e.ctx, m, o.ID)
	require.NoError(t, err)
	e.advance(time.Hour)
	got, err = e.svc.ConfirmReceipt(e.ctx, m, o.ID)
	e.sameRetry(got, err, received, "order.received", "confirm receipt again")
	assert.Equal(t, received.DueAt, got.DueAt, "the after-sales window is not reopened")
	_, err = e.svc.Ship(e.ctx, ship)
	require.ErrorIs(t, err, commerce.ErrIllegalTransition, "the order moved on: shipped is not its state")

	completed, err := e.svc.Complete(e.ctx, m, o.ID)
	require.NoError(t, err)
	got, err = e.svc.Complete(e.ctx, m, o.ID)
	e.sameRetry(got, err, completed, "order.completed", "complete again")
	_, err = e.svc.ConfirmReceipt(e.ctx, m, o.ID)
	require.ErrorIs(t, err, commerce.ErrIllegalTransition, "the order moved on: received is not its state")

	// An order never shipped is not "received already".
	o2 := e.mustBuy(shop, "c", "k2", line(shop.SKU(0, 0), 1))
	_, err = e.svc.ConfirmReceipt(e.ctx, m, o2.ID)
	require.ErrorIs(t, err, commerce.ErrIllegalTransition)
	_, err = e.svc.Complete(e.ctx, m, o2.ID)
	require.ErrorIs(t, err, commerce.ErrIllegalTransition)
}

func testRetryCancel(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{})
	shop := e.shop(ProductSpec{Title: "A", Prices: []string{"5"}, Stock: 10})
	m := shop.Merchant.ID
	o := e.mustBuy(shop, "c", "k", line(shop.SKU(0, 0), 3))
	cancelled, err := e.svc.Cancel(e.ctx, m, o.ID, "changed my mind")
	require.NoError(t, err)
	got, err := e.svc.Cancel(e.ctx, m, o.ID, "changed my mind")
	e.sameRetry(got, err, cancelled, "order.cancelled", "cancel again")
	assert.Equal(t, int64(10), e.stockOf(shop, shop.SKU(0, 0)), "stock put back once")
	_, err = e.svc.Cancel(e.ctx, m, o.ID, "another reason")
	require.ErrorIs(t, err, commerce.ErrIllegalTransition, "another cancel was not what happened")

	// Cancelled by RunDue: the customer's cancel is not that cancel.
	o2 := e.mustBuy(shop, "c", "k2", line(shop.SKU(0, 0), 1))
	e.advance(31 * time.Minute)
	_, err = e.svc.RunDue(e.ctx)
	require.NoError(t, err)
	_, err = e.svc.Cancel(e.ctx, m, o2.ID, "")
	require.ErrorIs(t, err, commerce.ErrIllegalTransition)
	// A paid order is not cancelled by a retry.
	o3 := e.pay(e.mustBuy(shop, "c", "k3", line(shop.SKU(0, 0), 1)))
	_, err = e.svc.Cancel(e.ctx, m, o3.ID, "")
	require.ErrorIs(t, err, commerce.ErrIllegalTransition)
}

func testRetryPayRefund(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{})
	shop := e.shop(ProductSpec{Title: "A", Prices: []string{"5"}, Stock: 10})
	m := shop.Merchant.ID
	o := e.mustBuy(shop, "c", "k", line(shop.SKU(0, 0), 2))
	paid := e.pay(o)
	got, err := e.svc.MarkPaid(e.ctx, commerce.MarkPaidParams{MerchantID: m, OrderID: o.ID, PaymentRef: "pay-" + o.ID.String(), Amount: o.Total})
	e.sameRetry(got, err, paid, "order.paid", "mark paid again")
	_, err = e.svc.MarkPaid(e.ctx, commerce.MarkPaidParams{MerchantID: m, OrderID: o.ID, PaymentRef: "other", Amount: o.Total})
	require.ErrorIs(t, err, commerce.ErrConflict)

	p := commerce.RefundParams{MerchantID: m, OrderID: o.ID, Items: []commerce.RefundItem{{Line: 0, Quantity: 1}}, IdempotencyKey: "r1"}
	r1, err := e.svc.Refund(e.ctx, p)
	require.NoError(t, err)
	r2, err := e.svc.Refund(e.ctx, p)
	require.NoError(t, err)
	assert.Equal(t, r1.ID, r2.ID, "the same key returns the same refund")
	stored, err := e.svc.GetOrder(e.ctx, m, o.ID)
	require.NoError(t, err)
	assert.Len(t, stored.Refunds, 1)
	assert.Equal(t, int64(1), stored.Lines[0].RefundedQuantity)
	assert.Equal(t, 1, e.eventCount("order.refund_requested"))

	before := stored.Version
	_, err = e.svc.ConfirmRefund(e.ctx, commerce.ConfirmRefundParams{MerchantID: m, OrderID: o.ID, RefundID: r1.ID, Succeeded: true})
	require.NoError(t, err, "confirming a resolved refund again")
	stored, err = e.svc.GetOrder(e.ctx, m, o.ID)
	require.NoError(t, err)
	assert.Equal(t, before, stored.Version)
}

func testRetryGift(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{})
	shop := e.shop(ProductSpec{Title: "A", Prices: []string{"5", "5"}, Stock: 10})
	m := shop.Merchant.ID
	o, err := e.svc.Checkout(e.ctx, commerce.CheckoutParams{MerchantID: m, CustomerID: "giver", IdempotencyKey: "g",
		Lines: []commerce.LineItem{line(shop.SKU(0, 0), 1)}, Gift: &commerce.Gift{Message: "hi"}})
	require.NoError(t, err)
	o = e.pay(o)

	sw := commerce.SwitchGiftSKUParams{MerchantID: m, OrderID: o.ID, Line: 0, To: shop.SKU(0, 1)}
	switched, err := e.svc.SwitchGiftSKU(e.ctx, sw)
	require.NoError(t, err)
	got, err := e.svc.SwitchGiftSKU(e.ctx, sw)
	e.sameRetry(got, err, switched, "order.gift_sku_switched", "switch again to the same SKU")
	assert.Equal(t, int64(10), e.stockOf(shop, shop.SKU(0, 0)))
	assert.Equal(t, int64(9), e.stockOf(shop, shop.SKU(0, 1)), "units moved once")

	accept := commerce.AcceptGiftParams{MerchantID: m, OrderID: o.ID, Recipient: "friend", Address: *Address()}
	accepted, err := e.svc.AcceptGift(e.ctx, accept)
	require.NoError(t, err)
	got, err = e.svc.AcceptGift(e.ctx, accept)
	e.sameRetry(got, err, accepted, "order.gift_accepted", "accept again, same recipient and address")
	other := accept
	other.Recipient = "another"
	_, err = e.svc.AcceptGift(e.ctx, other)
	require.ErrorIs(t, err, commerce.ErrIllegalTransition, "another recipient")
	other = accept
	other.Address.Detail = "elsewhere"
	_, err = e.svc.AcceptGift(e.ctx, other)
	require.ErrorIs(t, err, commerce.ErrIllegalTransition, "another address")
	_, err = e.svc.SwitchGiftSKU(e.ctx, commerce.SwitchGiftSKUParams{MerchantID: m, OrderID: o.ID, Line: 0, To: shop.SKU(0, 0)})
	require.ErrorIs(t, err, commerce.ErrIllegalTransition, "an accepted gift's SKU is fixed")
}

func testRetryGroupGiftLines(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{})
	shop := e.shop(ProductSpec{Title: "A", Prices: []string{"5"}, Stock: 10})
	m := shop.Merchant.ID
	o, err := e.svc.Checkout(e.ctx, commerce.CheckoutParams{MerchantID: m, CustomerID: "giver", IdempotencyKey: "g",
		Lines: []commerce.LineItem{line(shop.SKU(0, 0), 2)}, Gift: &commerce.Gift{Slots: 2}})
	require.NoError(t, err)
	o = e.pay(o)
	a := Address()
	first := commerce.AssignGiftLinesParams{MerchantID: m, OrderID: o.ID, Claims: map[int]commerce.GiftClaim{0: {Recipient: "f1", Address: a}}}
	o1, err := e.svc.AssignGiftLines(e.ctx, first)
	require.NoError(t, err)
	got, err := e.svc.AssignGiftLines(e.ctx, first)
	require.NoError(t, err, "the same claim again")
	assert.Equal(t, o1.Version, got.Version)
	_, err = e.svc.AssignGiftLines(e.ctx, commerce.AssignGiftLinesParams{MerchantID: m, OrderID: o.ID,
		Claims: map[int]commerce.GiftClaim{0: {Recipient: "f2", Address: a}}})
	require.ErrorIs(t, err, commerce.ErrConflict, "the line is someone else's")

	// The last claim moves the order on to paid; its retry still succeeds.
	last := commerce.AssignGiftLinesParams{MerchantID: m, OrderID: o.ID, Claims: map[int]commerce.GiftClaim{1: {Recipient: "f2", Address: a}}}
	o2, err := e.svc.AssignGiftLines(e.ctx, last)
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusPaid, o2.Status)
	got, err = e.svc.AssignGiftLines(e.ctx, last)
	require.NoError(t, err, "the last claim again, after the order moved on")
	assert.Equal(t, o2.Version, got.Version)
	assert.Equal(t, commerce.StatusPaid, got.Status)
}

// The gifting flow's retries: a switch or an acceptance whose answer was
// lost, asked again.
func testRetryGifting(t *testing.T, h Harness) {
	e := newGiftEnv(t, h)
	g, o := e.send("giver", "g1")
	e.pay(o)
	tok := e.token(g)
	require.NoError(t, e.gs.SwitchSKU(e.ctx, e.m, tok, e.shop.SKU(0, 1)))
	require.NoError(t, e.gs.SwitchSKU(e.ctx, e.m, tok, e.shop.SKU(0, 1)), "switch again to the same SKU")
	assert.EqualValues(t, 5, e.stock(0, 0))
	assert.EqualValues(t, 4, e.stock(0, 1), "the unit moved once")
	assert.Equal(t, 1, e.eventCount("gift.sku_switched"), "one switch event")
	assert.Equal(t, 1, e.eventCount("order.gift_sku_switched"))

	a, err := e.gs.Accept(e.ctx, e.m, tok, "friend", *Address())
	require.NoError(t, err)
	e.advance(48 * time.Hour) // past the gift's expiry: the acceptance stands
	again, err := e.gs.Accept(e.ctx, e.m, tok, "friend", *Address())
	require.NoError(t, err, "accept again, same recipient and address")
	assert.Equal(t, a.ID, again.ID)
	assert.Equal(t, gifting.Accepted, again.Status)
	assert.Equal(t, 1, e.eventCount("gift.accepted"))
	_, err = e.gs.Accept(e.ctx, e.m, tok, "another", *Address())
	require.ErrorIs(t, err, gifting.ErrGiftClosed, "another recipient")
	other := *Address()
	other.Detail = "elsewhere"
	_, err = e.gs.Accept(e.ctx, e.m, tok, "friend", other)
	require.ErrorIs(t, err, gifting.ErrGiftClosed, "another address")
}

// testRetryGroupClaim: a claim retried after its reply was lost gets its
// slot back, also when that claim took the last slot and closed the gift;
// the same claimer with another address is still refused, and the retry
// writes nothing.
func testRetryGroupClaim(t *testing.T, h Harness) {
	e := newGroupEnv(t, h, nil)
	g, o := e.sendGroup(gifting.SendParams{Quantity: 2})
	e.pay(o)
	first, err := e.claim(g, "a")
	require.NoError(t, err)
	again, err := e.claim(g, "a")
	require.NoError(t, err, "a retried claim of an open gift")
	assert.Equal(t, first, again)
	last, err := e.claim(g, "b")
	require.NoError(t, err)
	require.Equal(t, gifting.Accepted, e.gift(g.ID).Status, "the last slot closed the gift")
	version := e.order(o.ID).Version
	again, err = e.claim(g, "b")
	require.NoError(t, err, "a retried claim of the slot that closed the gift")
	assert.Equal(t, last, again)
	assert.Equal(t, version, e.order(o.ID).Version, "the retry changed nothing")

	elsewhere := *Address()
	elsewhere.Detail = "another road 9"
	_, err = e.gs.Claim(e.ctx, gifting.ClaimParams{MerchantID: e.m, Token: e.token(g), Claimer: "b", Address: elsewhere})
	assert.Error(t, err, "the same claimer with another address")
	_, err = e.claim(g, "c")
	assert.ErrorIs(t, err, gifting.ErrNoSlot, "a newcomer after the last slot")
}
