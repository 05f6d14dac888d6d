package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	. "github.com/minishop/minishop/commerce/commercetest"
)

func testCheckoutBasic(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{})
	shop := NewShop(t, e.svc, "shop", commerce.ShippingRule{Flat: CNY("8"), FreeOver: CNY("99")},
		ProductSpec{Title: "A", Prices: []string{"12.30"}, Stock: 10},
		ProductSpec{Title: "B", Prices: []string{"45.00"}, Stock: 10})
	m := shop.Merchant.ID
	for _, l := range []commerce.CartParams{{SKU: shop.SKU(0, 0), Quantity: 2}, {SKU: shop.SKU(1, 0), Quantity: 1}} {
		l.MerchantID, l.CustomerID = m, "c"
		_, err := e.svc.AddToCart(e.ctx, l)
		require.NoError(t, err)
	}
	q, err := e.svc.Quote(e.ctx, commerce.QuoteParams{FromCart: true, MerchantID: m, CustomerID: "c"})
	require.NoError(t, err)
	assert.Equal(t, "CNY 69.60", q.Subtotal.String())
	assert.Equal(t, "CNY 8.00", q.Shipping.String(), "under the free-shipping threshold")
	assert.Equal(t, "CNY 77.60", q.Total.String())

	// The client saw a stale total: nothing is bought.
	_, err = e.svc.Checkout(e.ctx, commerce.CheckoutParams{FromCart: true, MerchantID: m, CustomerID: "c", IdempotencyKey: "k0",
		ShippingAddress: Address(), ExpectedTotal: CNY("69.60")})
	require.ErrorIs(t, err, commerce.ErrPriceChanged)
	assert.Equal(t, int64(10), e.stockOf(shop, shop.SKU(0, 0)))

	o, err := e.svc.Checkout(e.ctx, commerce.CheckoutParams{FromCart: true, MerchantID: m, CustomerID: "c", IdempotencyKey: "k1",
		ShippingAddress: Address(), ExpectedTotal: q.Total, Note: "请尽快发货", Metadata: map[string]string{"channel": "group-chat"}})
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusPendingPayment, o.Status)
	assert.Equal(t, "CNY 77.60", o.Total.String())
	assert.Equal(t, Epoch.Add(30*time.Minute), o.DueAt, "payment deadline")
	got, err := e.svc.GetOrder(e.ctx, m, o.ID)
	require.NoError(t, err)
	sameJSON(t, o.Lines, got.Lines)
	assert.Equal(t, "请尽快发货", got.Note)
	assert.Equal(t, map[string]string{"channel": "group-chat"}, got.Metadata)
	assert.Equal(t, *Address(), *got.ShippingAddress)
	assert.Equal(t, int64(8), e.stockOf(shop, shop.SKU(0, 0)))
	assert.Equal(t, int64(9), e.stockOf(shop, shop.SKU(1, 0)))
	c, err := e.svc.GetCart(e.ctx, m, "c")
	require.NoError(t, err)
	assert.Empty(t, c.Lines, "bought lines leave the cart")

	// Bad checkout input names the field and buys nothing.
	for _, tc := range []struct {
		field string
		p     commerce.CheckoutParams
	}{
		{"idempotency_key", commerce.CheckoutParams{CustomerID: "c", ShippingAddress: Address(), Lines: []commerce.LineItem{line(shop.SKU(0, 0), 1)}}},
		{"shipping_address", commerce.CheckoutParams{CustomerID: "c", IdempotencyKey: "x", Lines: []commerce.LineItem{line(shop.SKU(0, 0), 1)}}},
		{"shipping_address.phone", commerce.CheckoutParams{CustomerID: "c", IdempotencyKey: "x", ShippingAddress: &commerce.Address{Name: "a", Detail: "b"}, Lines: []commerce.LineItem{line(shop.SKU(0, 0), 1)}}},
		{"lines[0].quantity", commerce.CheckoutParams{CustomerID: "c", IdempotencyKey: "x", ShippingAddress: Address(), Lines: []commerce.LineItem{line(shop.SKU(0, 0), 0)}}},
		{"lines[1].sku", commerce.CheckoutParams{CustomerID: "c", IdempotencyKey: "x", ShippingAddress: Address(), Lines: []commerce.LineItem{line(shop.SKU(0, 0), 1), line(shop.SKU(0, 0), 1)}}},
		{"lines", commerce.CheckoutParams{CustomerID: "c", IdempotencyKey: "x", ShippingAddress: Address(), Lines: []commerce.LineItem{}}},
		{"customer_id", commerce.CheckoutParams{IdempotencyKey: "x", ShippingAddress: Address(), Lines: []commerce.LineItem{line(shop.SKU(0, 0), 1)}}},
	} {
		tc.p.MerchantID = m
		_, err := e.svc.Checkout(e.ctx, tc.p)
		require.ErrorIs(t, err, commerce.ErrInvalid, tc.field)
		assert.Contains(t, err.Error(), tc.field)
	}
	_, err = e.svc.Checkout(e.ctx, commerce.CheckoutParams{FromCart: true, MerchantID: m, CustomerID: "c", IdempotencyKey: "empty", ShippingAddress: Address()})
	require.ErrorIs(t, err, commerce.ErrEmptyCart, "the cart is empty now")
	assert.Equal(t, 1, e.countOrders(shop))
	assert.Equal(t, int64(8), e.stockOf(shop, shop.SKU(0, 0)))

	// Over the threshold, shipping is free.
	q, err = e.svc.Quote(e.ctx, commerce.QuoteParams{MerchantID: m, CustomerID: "c", Lines: []commerce.LineItem{line(shop.SKU(1, 0), 3)}})
	require.NoError(t, err)
	assert.True(t, q.Shipping.IsZero())
	assert.Equal(t, "CNY 135.00", q.Total.String())
}

func testCheckoutIdempotent(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{})
	shop := e.shop(ProductSpec{Title: "A", Prices: []string{"5"}, Stock: 10})
	o1 := e.mustBuy(shop, "c", "same-key", line(shop.SKU(0, 0), 2))
	o2 := e.mustBuy(shop, "c", "same-key", line(shop.SKU(0, 0), 2))
	assert.Equal(t, o1.ID, o2.ID)
	assert.Equal(t, int64(8), e.stockOf(shop, shop.SKU(0, 0)), "stock taken once")
	_, err := e.buy(shop, "c", "same-key", line(shop.SKU(0, 0), 3))
	require.ErrorIs(t, err, commerce.ErrIdempotencyMismatch)
	require.ErrorIs(t, err, commerce.ErrConflict)
	o5, err := e.buy(shop, "someone-else", "same-key", line(shop.SKU(0, 0), 2))
	require.NoError(t, err)
	assert.NotEqual(t, o1.ID, o5.ID, "keys are per customer: another's key neither blocks nor reveals an order")
	assert.Equal(t, 2, e.countOrders(shop))

	// From the cart: the replay finds the cart emptied and still returns the order.
	_, err = e.svc.AddToCart(e.ctx, commerce.CartParams{MerchantID: shop.Merchant.ID, CustomerID: "c", SKU: shop.SKU(0, 0), Quantity: 1})
	require.NoError(t, err)
	p := commerce.CheckoutParams{FromCart: true, MerchantID: shop.Merchant.ID, CustomerID: "c", IdempotencyKey: "cart-key", ShippingAddress: Address()}
	o3, err := e.svc.Checkout(e.ctx, p)
	require.NoError(t, err)
	o4, err := e.svc.Checkout(e.ctx, p)
	require.NoError(t, err)
	assert.Equal(t, o3.ID, o4.ID)
	assert.Equal(t, 3, e.countOrders(shop))
}

func testCheckoutIdempotentConcurrent(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{})
	shop := e.shop(ProductSpec{Title: "A", Prices: []string{"5"}, Stock: 100})
	ids := make([]commerce.OrderID, h.Concurrency)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, err := e.buy(shop, "c", "one-key", line(shop.SKU(0, 0), 1))
			if assert.NoError(t, err) {
				ids[i] = o.ID
			}
		}()
	}
	wg.Wait()
	for _, id := range ids {
		assert.Equal(t, ids[0], id, "every caller gets the one order")
	}
	assert.Equal(t, 1, e.countOrders(shop))
	assert.Equal(t, int64(99), e.stockOf(shop, shop.SKU(0, 0)))
	created := 0
	for _, ev := range e.allEvents() {
		if ev.Type == "order.created" {
			created++
		}
	}
	assert.Equal(t, 1, created)
}

// testCheckoutFailureLeavesNoTrace: a hook fails after stock was reserved and
// purchase counts taken; nothing of the checkout may remain.
func testCheckoutFailureLeavesNoTrace(t *testing.T, h Harness) {
	boom := errors.New("hook says no")
	fail := atomic.Bool{}
	e := newEnv(t, h, commerce.Config{CheckoutHooks: []commerce.CheckoutHook{commerce.CheckoutHookFunc(
		func(ctx context.Context, c *commerce.CheckoutContext) error {
			if fail.Load() {
				return boom
			}
			return nil
		})}})
	shop := e.shop(ProductSpec{Title: "A", Prices: []string{"5"}, Stock: 3, Limit: 3})
	m, sku := shop.Merchant.ID, shop.SKU(0, 0)
	_, err := e.svc.AddToCart(e.ctx, commerce.CartParams{MerchantID: m, CustomerID: "c", SKU: sku, Quantity: 3})
	require.NoError(t, err)
	fail.Store(true)
	_, err = e.svc.Checkout(e.ctx, commerce.CheckoutParams{FromCart: true, MerchantID: m, CustomerID: "c", IdempotencyKey: "k", ShippingAddress: Address()})
	require.ErrorIs(t, err, boom)
	assert.Equal(t, int64(3), e.stockOf(shop, sku), "no reserved stock")
	assert.Equal(t, 0, e.countOrders(shop), "no order")
	assert.Empty(t, e.allEvents(), "no event")
	c, err := e.svc.GetCart(e.ctx, m, "c")
	require.NoError(t, err)
	assert.Len(t, c.Lines, 1, "the cart is intact")
	// The purchase-limit count was rolled back too: the whole limit is still free.
	fail.Store(false)
	o, err := e.svc.Checkout(e.ctx, commerce.CheckoutParams{FromCart: true, MerchantID: m, CustomerID: "c", IdempotencyKey: "k", ShippingAddress: Address()})
	require.NoError(t, err)
	assert.Equal(t, int64(3), o.Lines[0].Quantity)
}

func testPurchaseLimit(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{})
	shop := e.shop(ProductSpec{Title: "限购", Prices: []string{"5"}, Stock: 100, Limit: 2})
	sku := shop.SKU(0, 0)
	o := e.mustBuy(shop, "c", "k1", line(sku, 2))
	_, err := e.buy(shop, "c", "k2", line(sku, 1))
	var pl *commerce.PurchaseLimitError
	require.ErrorAs(t, err, &pl)
	assert.Equal(t, commerce.PurchaseLimitError{SKU: sku, Limit: 2, Bought: 2, Wanting: 1}, *pl)
	e.mustBuy(shop, "other", "k3", line(sku, 2)) // limits are per customer
	_, err = e.svc.Cancel(e.ctx, shop.Merchant.ID, o.ID, "changed my mind")
	require.NoError(t, err)
	e.mustBuy(shop, "c", "k4", line(sku, 2)) // a cancelled order frees the limit
	assert.Equal(t, int64(96), e.stockOf(shop, sku))
}

func testPurchaseLimitConcurrent(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{})
	shop := e.shop(ProductSpec{Title: "限购", Prices: []string{"5"}, Stock: 100, Limit: 3})
	var ok atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < h.Concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.buy(shop, "greedy", fmt.Sprintf("k%d", i), line(shop.SKU(0, 0), 1))
			if err == nil {
				ok.Add(1)
			} else if !errors.Is(err, commerce.ErrPurchaseLimit) {
				t.Errorf("%v", err)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(3), ok.Load())
	assert.Equal(t, int64(97), e.stockOf(shop, shop.SKU(0, 0)))
}

// halfOff is an adjuster that takes a fixed amount off the order, split by
// the kernel's rule, and a shipping discount.
func fixedOff(amount string, shipping bool) commerce.Adjuster {
	return commerce.AdjusterFunc(func(ctx context.Context, q *commerce.Quote) ([]commerce.Adjustment, error) {
		split, err := q.SplitByPayable(CNY(amount), nil)
		if err != nil {
			return nil, err
		}
		adj := []commerce.Adjustment{{Kind: commerce.KindDiscount, Target: commerce.TargetItems, Source: "test", Ref: "promo-1",
			Label: "立减", Amount: CNY(amount), Split: split}}
		if shipping && q.Shipping.IsPositive() {
			adj = append(adj, commerce.Adjustment{Kind: commerce.KindShipping, Target: commerce.TargetShipping, Source: "test",
				Amount: q.Shipping})
		}
		return adj, nil
	})
}

func testAdjustmentsStored(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{Adjusters: []commerce.Adjuster{fixedOff("10.00", true)}})
	shop := NewShop(t, e.svc, "shop", commerce.ShippingRule{Flat: CNY("6")},
		ProductSpec{Title: "A", Prices: []string{"33.33"}, Stock: 10},
		ProductSpec{Title: "B", Prices: []string{"33.33"}, Stock: 10},
		ProductSpec{Title: "C", Prices: []string{"33.34"}, Stock: 10})
	o := e.mustBuy(shop, "c", "k", line(shop.SKU(0, 0), 1), line(shop.SKU(1, 0), 1), line(shop.SKU(2, 0), 1))
	got, err := e.svc.GetOrder(e.ctx, shop.Merchant.ID, o.ID)
	require.NoError(t, err)
	assert.Equal(t, "CNY 100.00", got.Subtotal.String())
	assert.Equal(t, "CNY 10.00", got.Discount.String())
	assert.Equal(t, "CNY 6.00", got.ShippingDiscount.String())
	assert.Equal(t, "CNY 90.00", got.Total.String())
	require.Len(t, got.Adjustments, 2)
	assert.Equal(t, "promo-1", got.Adjustments[0].Ref)
	var shares []string
	sum := zeroCNY()
	for _, l := range got.Lines {
		shares = append(shares, l.Adjustments[0].String())
		sum, _ = sum.Add(l.Adjustments[0])
		assert.True(t, l.Adjustments[1].IsZero(), "a shipping adjustment has no line share")
	}
	// 10.00 over 33.33/33.33/33.34: 3.333, 3.333, 3.334 → the leftover fen goes to the largest remainder.
	assert.Equal(t, []string{"CNY 3.33", "CNY 3.33", "CNY 3.34"}, shares)
	assert.Equal(t, "CNY 10.00", sum.String())
	assert.Equal(t, "CNY 30.00", got.Lines[0].Payable.String())
}

// zeroCNY returns zero yuan.
func zeroCNY() commerce.Money { return CNY("0") }

func testTransitions(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{})
	shop := e.shop(ProductSpec{Title: "A", Prices: []string{"5"}, Stock: 10})
	m := shop.Merchant.ID
	o := e.mustBuy(shop, "c", "k", line(shop.SKU(0, 0), 1))
	illegal := func(o *commerce.Order, name string, f func() (*commerce.Order, error)) {
		t.Helper()
		before, err := e.svc.GetOrder(e.ctx, m, o.ID)
		require.NoError(t, err)
		_, err = f()
		require.ErrorIs(t, err, commerce.ErrIllegalTransition, name)
		var te *commerce.TransitionError
		require.ErrorAs(t, err, &te)
		assert.Equal(t, before.Status, te.From)
		after, err := e.svc.GetOrder(e.ctx, m, o.ID)
		require.NoError(t, err)
		sameOrder(t, before, after, "%s changed nothing", name)
	}
	ship := func() (*commerce.Order, error) {
		return e.svc.Ship(e.ctx, commerce.ShipParams{MerchantID: m, OrderID: o.ID, Shipment: commerce.Shipment{Carrier: "顺丰", TrackingNo: "SF1234567890"}})
	}
	receive := func() (*commerce.Order, error) { return e.svc.ConfirmReceipt(e.ctx, m, o.ID) }
	complete := func() (*commerce.Order, error) { return e.svc.Complete(e.ctx, m, o.ID) }
	cancel := func() (*commerce.Order, error) { return e.svc.Cancel(e.ctx, m, o.ID, "") }

	illegal(o, "ship unpaid", ship)
	illegal(o, "receive unpaid", receive)
	illegal(o, "complete unpaid", complete)
	_, err := e.svc.MarkPaid(e.ctx, commerce.MarkPaidParams{MerchantID: m, OrderID: o.ID, PaymentRef: "p1", Amount: CNY("4.99")})
	require.ErrorIs(t, err, commerce.ErrFailedPrecondition, "an amount other than the total never marks paid")
	o = e.pay(o)
	assert.Equal(t, commerce.StatusPaid, o.Status)
	assert.True(t, o.DueAt.IsZero())
	illegal(o, "cancel paid", cancel)
	illegal(o, "receive before shipping", receive)
	e.advance(time.Hour)
	o, err = ship()
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusShipped, o.Status)
	assert.Equal(t, "SF1234567890", o.Shipment.TrackingNo)
	assert.Equal(t, Epoch.Add(time.Hour+10*24*time.Hour), o.DueAt, "auto-receive after 10 days")
	illegal(o, "ship twice, another shipment", func() (*commerce.Order, error) {
		return e.svc.Ship(e.ctx, commerce.ShipParams{MerchantID: m, OrderID: o.ID, Shipment: commerce.Shipment{Carrier: "顺丰", TrackingNo: "SF999"}})
	})
	again, err := ship()
	require.NoError(t, err, "the same shipment again is a retry (see Retries)")
	assert.Equal(t, o.Version, again.Version)
	o, err = receive()
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusReceived, o.Status)
	assert.Equal(t, Epoch.Add(time.Hour+7*24*time.Hour), o.DueAt, "after-sales window of 7 days")
	o, err = complete()
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusCompleted, o.Status)
	illegal(o, "cancel completed", cancel)
	illegal(o, "ship completed", ship)

	var types []string
	for _, ev := range e.allEvents() {
		if ev.AggregateID == o.ID.String() {
			types = append(types, ev.Type)
		}
	}
	assert.Equal(t, []string{"order.created", "order.paid", "order.shipped", "order.received", "order.completed"}, types)
	assert.Equal(t, int64(5), o.Version, "one version per change")
}

func testMarkPaidIdempotent(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{})
	shop := e.shop(ProductSpec{Title: "A", Prices: []string{"5"}, Stock: 10})
	o := e.mustBuy(shop, "c", "k", line(shop.SKU(0, 0), 1))
	p := commerce.MarkPaidParams{MerchantID: o.MerchantID, OrderID: o.ID, PaymentRef: "wx-42", Amount: o.Total}
	var wg sync.WaitGroup
	for i := 0; i < h.Concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := e.svc.MarkPaid(e.ctx, p)
			if assert.NoError(t, err) {
				assert.Equal(t, commerce.StatusPaid, got.Status)
			}
		}()
	}
	wg.Wait()
	paid := 0
	for _, ev := range e.allEvents() {
		if ev.Type == "order.paid" {
			paid++
		}
	}
	assert.Equal(t, 1, paid, "one state change for many notifications")
	p.PaymentRef = "wx-43"
	_, err := e.svc.MarkPaid(e.ctx, p)
	require.ErrorIs(t, err, commerce.ErrConflict, "a second payment of one order")
}

func testAutoCancel(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{PaymentTimeout: 15 * time.Minute})
	shop := e.shop(ProductSpec{Title: "A", Prices: []string{"5"}, Stock: 10})
	sku := shop.SKU(0, 0)
	unpaid := e.mustBuy(shop, "c", "k1", line(sku, 3))
	e.advance(5 * time.Minute)
	paid := e.pay(e.mustBuy(shop, "c", "k2", line(sku, 2)))
	later := e.mustBuy(shop, "c", "k3", line(sku, 1))
	assert.Equal(t, int64(4), e.stockOf(shop, sku))

	e.advance(10*time.Minute - time.Second)
	rep, err := e.svc.RunDue(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, 0, rep.Cancelled, "one second before the deadline nothing is due")
	e.advance(time.Second)
	rep, err = e.svc.RunDue(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Cancelled)
	got, err := e.svc.GetOrder(e.ctx, unpaid.MerchantID, unpaid.ID)
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusCancelled, got.Status)
	assert.Equal(t, "payment timeout", got.CancelReason)
	assert.Equal(t, int64(7), e.stockOf(shop, sku), "stock of the cancelled order came back")
	rep, err = e.svc.RunDue(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, commerce.DueReport{}, rep, "a second run finds nothing")

	e.advance(time.Hour)
	rep, err = e.svc.RunDue(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Cancelled, "the later order")
	got, _ = e.svc.GetOrder(e.ctx, later.MerchantID, later.ID)
	assert.Equal(t, commerce.StatusCancelled, got.Status)
	got, _ = e.svc.GetOrder(e.ctx, paid.MerchantID, paid.ID)
	assert.Equal(t, commerce.StatusPaid, got.Status, "a paid order is never cancelled")
	assert.Equal(t, int64(8), e.stockOf(shop, sku))
}

// testAutoCancelConcurrent: several host processes run RunDue at once; each
// order is cancelled once and its stock returned once.
func testAutoCancelConcurrent(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{})
	shop := e.shop(ProductSpec{Title: "A", Prices: []string{"5"}, Stock: 100})
	const orders = 20
	for i := 0; i < orders; i++ {
		e.mustBuy(shop, fmt.Sprintf("c%d", i), "k", line(shop.SKU(0, 0), 2))
	}
	assert.Equal(t, int64(60), e.stockOf(shop, shop.SKU(0, 0)))
	e.advance(31 * time.Minute)
	var total atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep, err := e.svc.RunDue(e.ctx)
			assert.NoError(t, err)
			total.Add(int64(rep.Cancelled))
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(orders), total.Load(), "each order cancelled by exactly one runner")
	assert.Equal(t, int64(100), e.stockOf(shop, shop.SKU(0, 0)), "stock returned exactly once")
	cancelled := 0
	for _, ev := range e.allEvents() {
		if ev.Type == "order.cancelled" {
			cancelled++
		}
	}
	assert.Equal(t, orders, cancelled)
}

func testAutoReceiveComplete(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{})
	shop := e.shop(ProductSpec{Title: "A", Prices: []string{"5"}, Stock: 10})
	m := shop.Merchant.ID
	o := e.pay(e.mustBuy(shop, "c", "k", line(shop.SKU(0, 0), 2)))
	o2 := e.pay(e.mustBuy(shop, "c2", "k", line(shop.SKU(0, 0), 2)))
	for _, x := range []*commerce.Order{o, o2} {
		_, err := e.svc.Ship(e.ctx, commerce.ShipParams{MerchantID: m, OrderID: x.ID})
		require.NoError(t, err)
	}
	e.advance(10 * 24 * time.Hour)
	rep, err := e.svc.RunDue(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, commerce.DueReport{Received: 2}, rep)
	// A partial refund inside the window does not stop o2 from settling.
	r, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: m, OrderID: o2.ID, IdempotencyKey: "r", Items: []commerce.RefundItem{{Line: 0, Quantity: 1}}})
	require.NoError(t, err)
	assert.Equal(t, commerce.RefundSucceeded, r.Status, "no gateway: refunds succeed at once")
	e.advance(7*24*time.Hour - time.Second)
	rep, err = e.svc.RunDue(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, 0, rep.Completed, "window still open")
	e.advance(time.Second)
	rep, err = e.svc.RunDue(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, rep.Completed)
	got, err := e.svc.GetOrder(e.ctx, m, o2.ID)
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusCompleted, got.Status)
	assert.Equal(t, "CNY 5.00", got.Refunded().String())
}

func testGiftOrder(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{})
	shop := e.shop(ProductSpec{Title: "丝巾", Prices: []string{"199"}, Stock: 3})
	m := shop.Merchant.ID
	o, err := e.svc.Checkout(e.ctx, commerce.CheckoutParams{MerchantID: m, CustomerID: "giver", IdempotencyKey: "g",
		Lines: []commerce.LineItem{line(shop.SKU(0, 0), 1)}, Gift: &commerce.Gift{Message: "生日快乐 🎂"}})
	require.NoError(t, err)
	assert.Nil(t, o.ShippingAddress)
	o = e.pay(o)
	assert.Equal(t, commerce.StatusAwaitingRecipient, o.Status)
	_, err = e.svc.Ship(e.ctx, commerce.ShipParams{MerchantID: m, OrderID: o.ID})
	require.ErrorIs(t, err, commerce.ErrIllegalTransition, "a gift is not fulfilled before it is accepted")
	_, err = e.svc.AcceptGift(e.ctx, commerce.AcceptGiftParams{MerchantID: m, OrderID: o.ID, Recipient: "friend"})
	require.ErrorIs(t, err, commerce.ErrInvalid, "accepting needs an address")
	o, err = e.svc.AcceptGift(e.ctx, commerce.AcceptGiftParams{MerchantID: m, OrderID: o.ID, Recipient: "friend", Address: *Address()})
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusPaid, o.Status)
	got, err := e.svc.GetOrder(e.ctx, m, o.ID)
	require.NoError(t, err)
	assert.Equal(t, commerce.CustomerID("giver"), got.CustomerID)
	assert.Equal(t, &commerce.Gift{Recipient: "friend", Message: "生日快乐 🎂"}, got.Gift)
	assert.Equal(t, Address(), got.ShippingAddress)
	_, err = e.svc.AcceptGift(e.ctx, commerce.AcceptGiftParams{MerchantID: m, OrderID: o.ID, Recipient: "another", Address: *Address()})
	require.ErrorIs(t, err, commerce.ErrIllegalTransition, "a gift is accepted once")
	_, err = e.svc.Checkout(e.ctx, commerce.CheckoutParams{MerchantID: m, CustomerID: "giver", IdempotencyKey: "g2",
		Lines: []commerce.LineItem{line(shop.SKU(0, 0), 1)}, Gift: &commerce.Gift{}, ShippingAddress: Address()})
	require.ErrorIs(t, err, commerce.ErrInvalid, "a gift has no address at checkout")
}

func testListOrders(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{})
	shop := e.shop(ProductSpec{Title: "A", Prices: []string{"5"}, Stock: 100})
	var mine []commerce.OrderID
	for i := 0; i < 5; i++ {
		o := e.mustBuy(shop, "me", fmt.Sprintf("k%d", i), line(shop.SKU(0, 0), 1))
		mine = append(mine, o.ID)
		e.mustBuy(shop, "you", fmt.Sprintf("k%d", i), line(shop.SKU(0, 0), 1))
	}
	e.pay(&commerce.Order{MerchantID: shop.Merchant.ID, ID: mine[1], Total: CNY("5")})
	var got []commerce.OrderID
	var after commerce.OrderID
	for {
		page, err := e.svc.ListOrders(e.ctx, shop.Merchant.ID, commerce.OrderQuery{Customer: "me", After: after, Limit: 2})
		require.NoError(t, err)
		for _, o := range page {
			got = append(got, o.ID)
		}
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].ID
	}
	assert.Equal(t, mine, got)
	paid, err := e.svc.ListOrders(e.ctx, shop.Merchant.ID, commerce.OrderQuery{Status: commerce.StatusPaid})
	require.NoError(t, err)
	require.Len(t, paid, 1)
	assert.Equal(t, mine[1], paid[0].ID)
}
