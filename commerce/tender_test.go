package commerce_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
)

// tenderHook adds the tenders of its table to every checkout, and records
// the order changes it is told of.
type tenderHook struct {
	tenders []commerce.Money
	changes []commerce.OrderChange
}

func (h *tenderHook) Checkout(_ context.Context, c *commerce.CheckoutContext) error {
	for i, t := range h.tenders {
		if err := c.Order.AddTender("test", fmt.Sprintf("card-%d", i), t); err != nil {
			return err
		}
	}
	return nil
}

func (h *tenderHook) OrderChanged(_ context.Context, c commerce.OrderChange) error {
	h.changes = append(h.changes, c)
	return nil
}

func tenderEnv(t *testing.T, prices ...string) (*env, *tenderHook) {
	h := &tenderHook{}
	var specs []commercetest.ProductSpec
	for i, p := range prices {
		specs = append(specs, commercetest.ProductSpec{Title: fmt.Sprintf("tea %d", i), Category: "tea", Prices: []string{p}, Stock: 100})
	}
	e := newEnv(t, commerce.Config{CheckoutHooks: []commerce.CheckoutHook{h}, OrderHooks: []commerce.OrderHook{h}}, commerce.ShippingRule{}, specs...)
	return e, h
}

func (e *env) buy(lines ...commerce.LineItem) (*commerce.Order, error) {
	e.keys++
	return e.svc.Checkout(e.ctx, commerce.CheckoutParams{MerchantID: e.merchant(), CustomerID: "c1", Lines: lines,
		ShippingAddress: commercetest.Address(), IdempotencyKey: fmt.Sprintf("k%d", e.keys)})
}

func TestTenderPaysPartOfTheOrder(t *testing.T) {
	e, h := tenderEnv(t, "60.00", "40.00")
	h.tenders = []commerce.Money{commercetest.CNY("30.00")}
	o, err := e.buy(commerce.LineItem{SKU: e.sku(0, 0), Quantity: 1}, commerce.LineItem{SKU: e.sku(1, 0), Quantity: 1})
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusPendingPayment, o.Status)
	assert.Equal(t, "CNY 100.00", o.Total.String())
	assert.Equal(t, "CNY 70.00", o.Due().String(), "the channel collects the rest")

	_, err = e.svc.MarkPaid(e.ctx, commerce.MarkPaidParams{MerchantID: e.merchant(), OrderID: o.ID, PaymentRef: "wx1", Amount: o.Total})
	require.ErrorIs(t, err, commerce.ErrFailedPrecondition, "the channel's part is 70.00, not the total")
	paid, err := e.svc.MarkPaid(e.ctx, commerce.MarkPaidParams{MerchantID: e.merchant(), OrderID: o.ID, PaymentRef: "wx1", Amount: o.Due()})
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusPaid, paid.Status)

	// 60.00 of 100.00 back: 30 % of it, 18.00, to the tender.
	r, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: e.merchant(), OrderID: o.ID, Items: []commerce.RefundItem{{Line: 0, Quantity: 1}}, IdempotencyKey: "r1"})
	require.NoError(t, err)
	assert.Equal(t, "CNY 60.00", r.Amount.String())
	require.Len(t, r.Tenders, 1)
	assert.Equal(t, "CNY 18.00", r.Tenders[0].String())
	assert.Equal(t, "CNY 42.00", r.Channel().String())

	r2, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: e.merchant(), OrderID: o.ID, All: true, IdempotencyKey: "r2"})
	require.NoError(t, err)
	assert.Equal(t, "CNY 12.00", r2.Tenders[0].String(), "the last refund returns the tender's rest exactly")
	assert.Equal(t, "CNY 28.00", r2.Channel().String())
	got, err := e.svc.GetOrder(e.ctx, e.merchant(), o.ID)
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusRefunded, got.Status)
	assert.Equal(t, "CNY 30.00", got.Tenders[0].Refunded.String())
}

// TestTenderRefundLineByLine: a refund of two lines says what each line
// sends back to the tender, in proportion, adding up to the tender's part.
func TestTenderRefundLineByLine(t *testing.T) {
	e, h := tenderEnv(t, "60.00", "40.00", "0.01")
	h.tenders = []commerce.Money{commercetest.CNY("30.00"), commercetest.CNY("10.00")}
	o, err := e.buy(commerce.LineItem{SKU: e.sku(0, 0), Quantity: 1}, commerce.LineItem{SKU: e.sku(1, 0), Quantity: 1},
		commerce.LineItem{SKU: e.sku(2, 0), Quantity: 1})
	require.NoError(t, err)
	_, err = e.svc.MarkPaid(e.ctx, commerce.MarkPaidParams{MerchantID: e.merchant(), OrderID: o.ID, PaymentRef: "wx1", Amount: o.Due()})
	require.NoError(t, err)
	r, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: e.merchant(), OrderID: o.ID, All: true, IdempotencyKey: "r1"})
	require.NoError(t, err)
	require.Len(t, r.Lines, 3)
	assert.Equal(t, []string{"CNY 30.00", "CNY 10.00"}, []string{r.Tenders[0].String(), r.Tenders[1].String()})
	// 30.00 over 60.00 / 40.00 / 0.01 of 100.01: 17.99 (floor of
	// 17.998), then 29.99 - 17.99 = 12.00, then the last 0.01. 10.00:
	// 5.99, 9.99 - 5.99 = 4.00, and the last 0.01 finds the third line
	// full (the first tender took it), so it goes to the first line.
	assert.Equal(t, []string{"CNY 17.99", "CNY 6.00"}, []string{r.Lines[0].Tenders[0].String(), r.Lines[0].Tenders[1].String()})
	assert.Equal(t, []string{"CNY 12.00", "CNY 4.00"}, []string{r.Lines[1].Tenders[0].String(), r.Lines[1].Tenders[1].String()})
	assert.Equal(t, []string{"CNY 0.01", "CNY 0.00"}, []string{r.Lines[2].Tenders[0].String(), r.Lines[2].Tenders[1].String()})
	got, err := e.svc.GetOrder(e.ctx, e.merchant(), o.ID)
	require.NoError(t, err)
	assert.Equal(t, r.Lines, got.Refunds[0].Lines, "stored as returned")
}

func TestTenderCoveringTheTotalPaysAtCheckout(t *testing.T) {
	e, h := tenderEnv(t, "25.00")
	h.tenders = []commerce.Money{commercetest.CNY("20.00"), commercetest.CNY("5.00")}
	o, err := e.buy(commerce.LineItem{SKU: e.sku(0, 0), Quantity: 1})
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusPaid, o.Status)
	assert.True(t, o.Due().IsZero())
	assert.False(t, o.PaidAt.IsZero())
	require.Len(t, h.changes, 1)
	assert.Equal(t, commerce.ActionPay, h.changes[0].Action, "the order hooks hear of the payment")
	assert.Equal(t, []string{"order.created", "order.paid"}, e.eventTypes(o.ID))

	_, err = e.svc.MarkPaid(e.ctx, commerce.MarkPaidParams{MerchantID: e.merchant(), OrderID: o.ID, PaymentRef: "wx1", Amount: commercetest.CNY("0.00")})
	require.Error(t, err, "a paid order is not paid again")
}

func TestTenderRefusedBeyondTheTotal(t *testing.T) {
	e, h := tenderEnv(t, "25.00")
	h.tenders = []commerce.Money{commercetest.CNY("20.00"), commercetest.CNY("5.01")}
	before := e.stock()
	_, err := e.buy(commerce.LineItem{SKU: e.sku(0, 0), Quantity: 1})
	require.ErrorIs(t, err, commerce.ErrFailedPrecondition)
	var ce *commerce.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "amount", ce.Field)
	assert.Equal(t, before, e.stock(), "nothing written")

	h.tenders = []commerce.Money{commercetest.CNY("0.00")}
	_, err = e.buy(commerce.LineItem{SKU: e.sku(0, 0), Quantity: 1})
	require.ErrorIs(t, err, commerce.ErrInvalid)
}

// TestTenderRefundsAddUp: over random orders paid by one to three tenders
// and the channel, and random partial refunds until everything is back,
// every refund's parts sum to its amount, no instrument ever gets back
// more than it paid, and in the end each got back exactly what it paid.
func TestTenderRefundsAddUp(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	e, h := tenderEnv(t, "19.99", "0.01", "333.33", "7.77")
	for n := range 1000 {
		var lines []commerce.LineItem
		for i := range 4 {
			if q := rng.IntN(4); q > 0 {
				lines = append(lines, commerce.LineItem{SKU: e.sku(i, 0), Quantity: int64(q)})
			}
		}
		if len(lines) == 0 {
			continue
		}
		q, err := e.svc.Quote(e.ctx, commerce.QuoteParams{MerchantID: e.merchant(), CustomerID: "c1", Lines: lines})
		require.NoError(t, err)
		total, _ := q.Total.Minor()
		h.tenders = nil
		left := total
		for range 1 + rng.IntN(3) {
			if left < 1 {
				break
			}
			part := 1 + rng.Int64N(left)
			if rng.IntN(3) > 0 && left > 1 {
				part = 1 + rng.Int64N(left-1) // usually leave something to the channel
			}
			h.tenders = append(h.tenders, commerce.FromMinor(part, q.Currency))
			left -= part
		}
		o, err := e.buy(lines...)
		require.NoError(t, err, "order %d", n)
		if o.Status == commerce.StatusPendingPayment {
			o, err = e.svc.MarkPaid(e.ctx, commerce.MarkPaidParams{MerchantID: e.merchant(), OrderID: o.ID, PaymentRef: fmt.Sprintf("wx%d", n), Amount: o.Due()})
			require.NoError(t, err)
		}
		paidChannel, _ := o.Due().Minor()
		backChannel := int64(0)
		back := make([]int64, len(o.Tenders))
		for k := 0; ; k++ {
			var items []commerce.RefundItem
			for i, l := range o.Lines {
				if rest := l.Quantity - l.RefundedQuantity; rest > 0 && rng.IntN(2) == 0 {
					items = append(items, commerce.RefundItem{Line: i, Quantity: 1 + rng.Int64N(rest)})
				}
			}
			all := len(items) == 0
			r, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: e.merchant(), OrderID: o.ID, Items: items, All: all, IdempotencyKey: fmt.Sprintf("r%d", k)})
			require.NoError(t, err, "order %d refund %d", n, k)
			amount, _ := r.Amount.Minor()
			sum, _ := r.Channel().Minor()
			require.GreaterOrEqual(t, sum, int64(0))
			backChannel += sum
			for i, p := range r.Tenders {
				m, _ := p.Minor()
				require.GreaterOrEqual(t, m, int64(0))
				back[i] += m
				sum += m
				paid, _ := o.Tenders[i].Amount.Minor()
				require.LessOrEqual(t, back[i], paid, "order %d: tender %d got back more than it paid", n, i)
			}
			require.Equal(t, amount, sum, "order %d refund %d: the parts add up to the refund", n, k)
			// Line by line: each line's tender parts fit in its amount, and
			// (free shipping, no withholding here) each tender's parts over
			// the lines add up to its part of the refund.
			perTender := make([]int64, len(r.Tenders))
			for _, rl := range r.Lines {
				require.Len(t, rl.Tenders, len(o.Tenders), "order %d refund %d", n, k)
				lineSum := int64(0)
				for i, p := range rl.Tenders {
					m, _ := p.Minor()
					require.GreaterOrEqual(t, m, int64(0))
					lineSum += m
					perTender[i] += m
				}
				la, _ := rl.Amount.Minor()
				require.LessOrEqual(t, lineSum, la, "order %d refund %d line %d: more to tenders than the line returns", n, k, rl.Line)
			}
			for i, p := range r.Tenders {
				m, _ := p.Minor()
				require.Equal(t, m, perTender[i], "order %d refund %d tender %d: its line parts add up", n, k, i)
			}
			require.LessOrEqual(t, backChannel, paidChannel, "order %d: the channel gave back more than it took", n)
			if o, err = e.svc.GetOrder(e.ctx, e.merchant(), o.ID); err != nil {
				t.Fatal(err)
			}
			if all || o.Status == commerce.StatusRefunded {
				break
			}
		}
		require.Equal(t, commerce.StatusRefunded, o.Status)
		assert.Equal(t, paidChannel, backChannel, "order %d: the channel gave back all it took", n)
		for i, tn := range o.Tenders {
			paid, _ := tn.Amount.Minor()
			assert.Equal(t, paid, back[i], "order %d: tender %d got back all it paid", n, i)
		}
	}
}
