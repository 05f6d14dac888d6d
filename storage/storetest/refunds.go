package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	. "github.com/minishop/minishop/commerce/commercetest"
)

// lineCoupon takes amount off the first line only: a single-item discount.
func lineCoupon(amount string) commerce.Adjuster {
	return commerce.AdjusterFunc(func(ctx context.Context, q *commerce.Quote) ([]commerce.Adjustment, error) {
		split, err := q.SplitByPayable(CNY(amount), func(l commerce.QuoteLine) bool { return l.SKU == q.Lines[0].SKU })
		if err != nil {
			return nil, err
		}
		return []commerce.Adjustment{{Kind: commerce.KindCoupon, Target: commerce.TargetItems, Source: "test", Amount: CNY(amount), Split: split}}, nil
	})
}

// testPartialRefunds follows test vector 3 of the rules (§10): an order of
// 100.00 with A at 10.00 carrying a 2.00 single-item coupon, B at 90.00 and
// 10.00 off the order: refunding A returns 7.18, refunding B 80.82.
func testPartialRefunds(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{Adjusters: []commerce.Adjuster{lineCoupon("2.00"), fixedOff("10.00", false)}})
	shop := NewShop(t, e.svc, "shop", commerce.ShippingRule{Flat: CNY("8")},
		ProductSpec{Title: "A", Prices: []string{"10.00"}, Stock: 10},
		ProductSpec{Title: "B", Prices: []string{"30.00"}, Stock: 10})
	m := shop.Merchant.ID
	o := e.pay(e.mustBuy(shop, "c", "k", line(shop.SKU(0, 0), 1), line(shop.SKU(1, 0), 3)))
	assert.Equal(t, "CNY 96.00", o.Total.String(), "100 - 2 - 10 + 8 shipping")
	assert.Equal(t, "CNY 7.18", o.Lines[0].Payable.String())
	assert.Equal(t, "CNY 80.82", o.Lines[1].Payable.String())
	assert.Equal(t, int64(9), e.stockOf(shop, shop.SKU(0, 0)))

	refund := func(key string, items ...commerce.RefundItem) *commerce.Refund {
		t.Helper()
		r, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: m, OrderID: o.ID, Items: items, All: len(items) == 0, IdempotencyKey: key, Reason: "不想要了"})
		require.NoError(t, err)
		return r
	}
	r := refund("r1", commerce.RefundItem{Line: 0, Quantity: 1})
	assert.Equal(t, "CNY 7.18", r.Amount.String())
	assert.Equal(t, "CNY 2.00", r.Lines[0].Adjustments[0].String(), "the coupon's part comes back with the line")
	assert.Equal(t, "CNY 0.82", r.Lines[0].Adjustments[1].String(), "and the line's share of the order discount")
	assert.True(t, r.Shipping.IsZero(), "shipping goes back only with the last units")
	assert.True(t, r.Restock)
	assert.Equal(t, int64(10), e.stockOf(shop, shop.SKU(0, 0)), "unshipped units go back on sale")

	// B one unit at a time: 80.82 / 3 with cumulative rounding.
	var amounts []string
	for i := 0; i < 2; i++ {
		r = refund(fmt.Sprintf("rb%d", i), commerce.RefundItem{Line: 1, Quantity: 1})
		amounts = append(amounts, r.Amount.String())
	}
	r = refund("r-rest") // everything left: the last unit of B and the shipping fee
	amounts = append(amounts, r.Amount.String())
	assert.Equal(t, []string{"CNY 26.94", "CNY 26.94", "CNY 34.94"}, amounts, "26.94 + 26.94 + 26.94 + 8.00 shipping")
	assert.Equal(t, "CNY 8.00", r.Shipping.String())

	got, err := e.svc.GetOrder(e.ctx, m, o.ID)
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusRefunded, got.Status)
	assert.Equal(t, got.Total.String(), got.Refunded().String(), "refunds add up to what was paid, to the fen")
	for _, l := range got.Lines {
		assert.True(t, l.Payable.Equal(l.Refunded), "line refunded %s of %s", l.Refunded, l.Payable)
		for k := range l.Adjustments {
			assert.True(t, l.Adjustments[k].Equal(l.RefundedAdjustments[k]), "adjustment %d returned in full", k)
		}
	}
	_, err = e.svc.Refund(e.ctx, commerce.RefundParams{All: true, MerchantID: m, OrderID: o.ID, IdempotencyKey: "again"})
	require.ErrorIs(t, err, commerce.ErrIllegalTransition, "a refunded order is closed")
	// The same key returns the same refund, even now.
	again, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: m, OrderID: o.ID, IdempotencyKey: "r1", Items: []commerce.RefundItem{{Line: 0, Quantity: 1}}})
	if err == nil {
		assert.Equal(t, "CNY 7.18", again.Amount.String())
	} else {
		require.ErrorIs(t, err, commerce.ErrIllegalTransition)
	}

	// A shipped order keeps its shipping fee and does not restock.
	o2 := e.pay(e.mustBuy(shop, "c", "k2", line(shop.SKU(1, 0), 1)))
	_, err = e.svc.Ship(e.ctx, commerce.ShipParams{MerchantID: m, OrderID: o2.ID})
	require.NoError(t, err)
	before := e.stockOf(shop, shop.SKU(1, 0))
	r2, err := e.svc.Refund(e.ctx, commerce.RefundParams{All: true, MerchantID: m, OrderID: o2.ID, IdempotencyKey: "x"})
	require.NoError(t, err)
	assert.False(t, r2.Restock)
	assert.True(t, r2.Shipping.IsZero())
	assert.Equal(t, before, e.stockOf(shop, shop.SKU(1, 0)))

	// Bad refund input names the field.
	o3 := e.pay(e.mustBuy(shop, "c", "k3", line(shop.SKU(1, 0), 2)))
	for _, tc := range []struct {
		field string
		items []commerce.RefundItem
	}{
		{"items[0].line", []commerce.RefundItem{{Line: 5, Quantity: 1}}},
		{"items[0].quantity", []commerce.RefundItem{{Line: 0, Quantity: 0}}},
		{"items[0].quantity", []commerce.RefundItem{{Line: 0, Quantity: 3}}},
		{"items[1].line", []commerce.RefundItem{{Line: 0, Quantity: 1}, {Line: 0, Quantity: 1}}},
	} {
		_, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: m, OrderID: o3.ID, IdempotencyKey: "bad", Items: tc.items})
		require.Error(t, err, tc.field)
		assert.Contains(t, err.Error(), tc.field)
	}
	got, _ = e.svc.GetOrder(e.ctx, m, o3.ID)
	assert.Empty(t, got.Refunds, "rejected refunds leave nothing")
	assert.Equal(t, int64(0), got.Lines[0].RefundedQuantity)
}

func testConcurrentRefunds(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{Adjusters: []commerce.Adjuster{fixedOff("1.00", false)}})
	shop := e.shop(ProductSpec{Title: "A", Prices: []string{"3.33"}, Stock: 100})
	o := e.pay(e.mustBuy(shop, "c", "k", line(shop.SKU(0, 0), 7)))
	var ok atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < h.Concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: o.MerchantID, OrderID: o.ID,
				Items: []commerce.RefundItem{{Line: 0, Quantity: 1}}, IdempotencyKey: fmt.Sprintf("r%d", i)})
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, commerce.ErrRefundExceeded), errors.Is(err, commerce.ErrIllegalTransition):
			default:
				t.Errorf("refund %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(min(7, h.Concurrency)), ok.Load())
	got, err := e.svc.GetOrder(e.ctx, o.MerchantID, o.ID)
	require.NoError(t, err)
	if h.Concurrency >= 7 {
		assert.Equal(t, "CNY 22.31", got.Refunded().String(), "23.31 - 1.00, exactly, never more")
		assert.Equal(t, commerce.StatusRefunded, got.Status)
	}
	assert.LessOrEqual(t, got.Refunded().Amount().Cmp(got.Total.Amount()), 0)
}

// gateway records refund requests and fails on command.
type gateway struct {
	mu   sync.Mutex
	reqs []commerce.RefundRequest
	fail bool
}

func (g *gateway) RequestRefund(ctx context.Context, r commerce.RefundRequest) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.reqs = append(g.reqs, r)
	if g.fail {
		return errors.New("channel timeout")
	}
	return nil
}

func testRefundGateway(t *testing.T, h Harness) {
	g := &gateway{}
	e := newEnv(t, h, commerce.Config{Refunds: g})
	shop := e.shop(ProductSpec{Title: "A", Prices: []string{"10"}, Stock: 10})
	m := shop.Merchant.ID
	o := e.pay(e.mustBuy(shop, "c", "k", line(shop.SKU(0, 0), 2)))
	_, err := e.svc.Ship(e.ctx, commerce.ShipParams{MerchantID: m, OrderID: o.ID})
	require.NoError(t, err)
	_, err = e.svc.ConfirmReceipt(e.ctx, m, o.ID)
	require.NoError(t, err)

	r, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: m, OrderID: o.ID, IdempotencyKey: "r1", Items: []commerce.RefundItem{{Line: 0, Quantity: 1}}})
	require.NoError(t, err)
	assert.Equal(t, commerce.RefundPending, r.Status)
	require.Len(t, g.reqs, 1)
	assert.Equal(t, commerce.RefundRequest{MerchantID: m, OrderID: o.ID, RefundID: r.ID, PaymentRef: o.PaymentRef,
		Amount: CNY("10.00"), OrderTotal: o.Total}, g.reqs[0])
	_, err = e.svc.Complete(e.ctx, m, o.ID)
	require.ErrorIs(t, err, commerce.ErrFailedPrecondition, "an open refund blocks settlement")

	// The channel fails the refund: the unit can be refunded again.
	_, err = e.svc.ConfirmRefund(e.ctx, commerce.ConfirmRefundParams{MerchantID: m, OrderID: o.ID, RefundID: r.ID, FailureReason: "account frozen"})
	require.NoError(t, err)
	got, _ := e.svc.GetOrder(e.ctx, m, o.ID)
	assert.Equal(t, int64(0), got.Lines[0].RefundedQuantity)
	assert.True(t, got.Lines[0].Refunded.IsZero())

	g.fail = true
	r2, err := e.svc.Refund(e.ctx, commerce.RefundParams{All: true, MerchantID: m, OrderID: o.ID, IdempotencyKey: "r2"})
	require.ErrorIs(t, err, commerce.ErrUnavailable, "the channel could not be reached")
	require.NotNil(t, r2)
	assert.Equal(t, commerce.RefundPending, r2.Status, "the refund is kept, to resubmit")
	assert.Equal(t, "CNY 20.00", r2.Amount.String())
	g.fail = false
	require.NoError(t, e.svc.ResubmitRefund(e.ctx, m, o.ID, r2.ID))
	require.Len(t, g.reqs, 3)
	assert.Equal(t, r2.ID, g.reqs[2].RefundID, "resubmitted under the same refund ID")

	for i := 0; i < 3; i++ { // notifications arrive more than once
		_, err = e.svc.ConfirmRefund(e.ctx, commerce.ConfirmRefundParams{MerchantID: m, OrderID: o.ID, RefundID: r2.ID, Succeeded: true, ProviderRef: "wx-refund-1"})
		require.NoError(t, err)
	}
	got, _ = e.svc.GetOrder(e.ctx, m, o.ID)
	assert.Equal(t, commerce.StatusRefunded, got.Status)
	assert.Equal(t, "CNY 20.00", got.Refunded().String())
	n := 0
	for _, ev := range e.allEvents() {
		if ev.Type == "order.refund_succeeded" {
			n++
		}
	}
	assert.Equal(t, 1, n)
}
