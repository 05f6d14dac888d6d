package commerce_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
)

// Tea at 10.00 and cups at 25.50, 8.00 delivery.
var orderSpecs = []commercetest.ProductSpec{
	{Title: "Tea", Prices: []string{"10.00"}, Stock: 10},
	{Title: "Cup", Prices: []string{"25.50"}, Stock: 5},
}

var orderShipping = commerce.ShippingRule{Flat: commercetest.CNY("8.00")}

func newOrderEnv(t testing.TB, cfg commerce.Config) *env {
	return newEnv(t, cfg, orderShipping, orderSpecs...)
}

// giftCheckout buys a gift: no address until the recipient accepts.
func (e *env) giftCheckout(lines ...commerce.LineItem) *commerce.Order {
	e.t.Helper()
	e.keys++
	o, err := e.svc.Checkout(e.ctx, commerce.CheckoutParams{MerchantID: e.merchant(), CustomerID: "c1",
		Lines: lines, IdempotencyKey: fmt.Sprintf("gift-%d", e.keys), Gift: &commerce.Gift{Message: "生日快乐"}})
	require.NoError(e.t, err)
	return o
}

// orderStates bring a new order (2 tea, 1 cup) to each status.
var orderStates = []struct {
	status commerce.OrderStatus
	make   func(e *env) *commerce.Order
}{
	{commerce.StatusPendingPayment, func(e *env) *commerce.Order { return e.checkout(line(e.sku(0, 0), 2), line(e.sku(1, 0), 1)) }},
	{commerce.StatusAwaitingRecipient, func(e *env) *commerce.Order {
		return e.pay(e.giftCheckout(line(e.sku(0, 0), 2), line(e.sku(1, 0), 1)))
	}},
	{commerce.StatusPaid, func(e *env) *commerce.Order { return e.pay(e.checkout(line(e.sku(0, 0), 2), line(e.sku(1, 0), 1))) }},
	{commerce.StatusShipped, func(e *env) *commerce.Order {
		return e.ship(e.pay(e.checkout(line(e.sku(0, 0), 2), line(e.sku(1, 0), 1))))
	}},
	{commerce.StatusReceived, func(e *env) *commerce.Order {
		o := e.ship(e.pay(e.checkout(line(e.sku(0, 0), 2), line(e.sku(1, 0), 1))))
		o, err := e.svc.ConfirmReceipt(e.ctx, e.merchant(), o.ID)
		require.NoError(e.t, err)
		return o
	}},
	{commerce.StatusCompleted, func(e *env) *commerce.Order {
		o := e.ship(e.pay(e.checkout(line(e.sku(0, 0), 2), line(e.sku(1, 0), 1))))
		o, err := e.svc.ConfirmReceipt(e.ctx, e.merchant(), o.ID)
		require.NoError(e.t, err)
		o, err = e.svc.Complete(e.ctx, e.merchant(), o.ID)
		require.NoError(e.t, err)
		return o
	}},
	{commerce.StatusCancelled, func(e *env) *commerce.Order {
		o := e.checkout(line(e.sku(0, 0), 2), line(e.sku(1, 0), 1))
		o, err := e.svc.Cancel(e.ctx, e.merchant(), o.ID, "changed my mind")
		require.NoError(e.t, err)
		return o
	}},
	{commerce.StatusRefunded, func(e *env) *commerce.Order {
		o := e.pay(e.checkout(line(e.sku(0, 0), 2), line(e.sku(1, 0), 1)))
		e.refund(o, "refund-all")
		return e.order(o.ID)
	}},
}

// orderActions are the service calls that move an order.
var orderActions = []struct {
	action commerce.OrderAction
	verb   string
	do     func(e *env, o *commerce.Order) error
}{
	{commerce.ActionPay, "pay", func(e *env, o *commerce.Order) error {
		_, err := e.svc.MarkPaid(e.ctx, commerce.MarkPaidParams{MerchantID: e.merchant(), OrderID: o.ID, PaymentRef: "another-payment", Amount: o.Total})
		return err
	}},
	{commerce.ActionAcceptGift, "accept the gift of", func(e *env, o *commerce.Order) error {
		_, err := e.svc.AcceptGift(e.ctx, commerce.AcceptGiftParams{MerchantID: e.merchant(), OrderID: o.ID, Recipient: "friend", Address: *commercetest.Address()})
		return err
	}},
	{commerce.ActionShip, "ship", func(e *env, o *commerce.Order) error {
		_, err := e.svc.Ship(e.ctx, commerce.ShipParams{MerchantID: e.merchant(), OrderID: o.ID, Shipment: commerce.Shipment{Carrier: "EMS", TrackingNo: "E1"}})
		return err
	}},
	{commerce.ActionReceive, "confirm receipt of", func(e *env, o *commerce.Order) error {
		_, err := e.svc.ConfirmReceipt(e.ctx, e.merchant(), o.ID)
		return err
	}},
	{commerce.ActionComplete, "complete", func(e *env, o *commerce.Order) error {
		_, err := e.svc.Complete(e.ctx, e.merchant(), o.ID)
		return err
	}},
	{commerce.ActionCancel, "cancel", func(e *env, o *commerce.Order) error {
		_, err := e.svc.Cancel(e.ctx, e.merchant(), o.ID, "too late")
		return err
	}},
	{commerce.ActionRefund, "refund", func(e *env, o *commerce.Order) error {
		_, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: e.merchant(), OrderID: o.ID,
			Items: []commerce.RefundItem{{Line: 0, Quantity: 1}}, IdempotencyKey: "late-refund"})
		return err
	}},
}

// legalActions is the state machine as documented on OrderStatus.
var legalActions = map[commerce.OrderStatus][]commerce.OrderAction{
	commerce.StatusPendingPayment:    {commerce.ActionPay, commerce.ActionCancel},
	commerce.StatusAwaitingRecipient: {commerce.ActionAcceptGift, commerce.ActionRefund},
	commerce.StatusPaid:              {commerce.ActionShip, commerce.ActionRefund},
	commerce.StatusShipped:           {commerce.ActionReceive, commerce.ActionRefund},
	commerce.StatusReceived:          {commerce.ActionComplete, commerce.ActionRefund},
	commerce.StatusCompleted:         {commerce.ActionRefund},
}

func legal(s commerce.OrderStatus, a commerce.OrderAction) bool {
	for _, l := range legalActions[s] {
		if l == a {
			return true
		}
	}
	return false
}

func TestOrderStatusCan(t *testing.T) {
	for _, st := range orderStates {
		for _, a := range orderActions {
			assert.Equal(t, legal(st.status, a.action), st.status.Can(a.action), "%s can %s", st.status, a.action)
		}
		closed := st.status == commerce.StatusCompleted || st.status == commerce.StatusCancelled || st.status == commerce.StatusRefunded
		assert.Equal(t, closed, st.status.Closed(), "%s closed", st.status)
	}
}

// Every action the state machine does not allow fails with a transition
// error and changes nothing: not the order, not its version, not the stock,
// not the outbox. Paying an order that already has a payment is a conflict
// (a second payment) rather than a transition error, and changes nothing
// either.
func TestIllegalTransitionsChangeNothing(t *testing.T) {
	for _, st := range orderStates {
		for _, a := range orderActions {
			if legal(st.status, a.action) || repeated(st.status, a.action) {
				continue
			}
			t.Run(fmt.Sprintf("%s/%s", a.action, st.status), func(t *testing.T) {
				e := newOrderEnv(t, commerce.Config{})
				o := st.make(e)
				require.Equal(t, st.status, o.Status)
				before, stock, events := e.order(o.ID), e.stock(), e.events()
				e.clock.Advance(time.Minute) // a change would show in Updated

				err := a.do(e, o)
				ke := asError(t, err)
				if a.action == commerce.ActionPay && before.PaymentRef != "" {
					assert.Equal(t, commerce.KindConflict, ke.Kind, "%v", err)
					assert.ErrorIs(t, err, commerce.ErrConflict)
					assert.NotErrorIs(t, err, commerce.ErrIllegalTransition)
					assert.ErrorContains(t, err, "already paid with payment "+before.PaymentRef)
				} else {
					assert.Equal(t, commerce.KindFailedPrecondition, ke.Kind, "%v", err)
					assert.Equal(t, commerce.KindFailedPrecondition, commerce.KindOf(err))
					assert.ErrorIs(t, err, commerce.ErrIllegalTransition)
					assert.ErrorIs(t, err, commerce.ErrFailedPrecondition)
					var te *commerce.TransitionError
					require.True(t, errors.As(err, &te), "%v", err)
					assert.Equal(t, o.ID, te.Order)
					assert.Equal(t, st.status, te.From)
					assert.Equal(t, a.verb, te.Action)
					assert.ErrorContains(t, err, fmt.Sprintf("cannot %s an order that is %s", a.verb, st.status))
				}

				after := e.order(o.ID)
				assert.Equal(t, before.Status, after.Status)
				assert.Equal(t, before.Version, after.Version)
				assert.Equal(t, before, after, "the order is unchanged")
				assert.Equal(t, stock, e.stock(), "stock is unchanged")
				assert.Equal(t, events, e.events(), "no event is written")
			})
		}
	}
}

// repeated reports whether action asks for the state status is in: a retry
// whose first call committed, which succeeds changing nothing.
func repeated(s commerce.OrderStatus, a commerce.OrderAction) bool {
	return s == commerce.StatusReceived && a == commerce.ActionReceive || s == commerce.StatusCompleted && a == commerce.ActionComplete
}

// A change asked of an order already in the state it leads to is a retry:
// it succeeds and changes nothing, not the order, the stock or the outbox.
func TestRepeatedTransitionsChangeNothing(t *testing.T) {
	for _, st := range orderStates {
		for _, a := range orderActions {
			if !repeated(st.status, a.action) {
				continue
			}
			t.Run(fmt.Sprintf("%s/%s", a.action, st.status), func(t *testing.T) {
				e := newOrderEnv(t, commerce.Config{})
				o := st.make(e)
				before, stock, events := e.order(o.ID), e.stock(), e.events()
				e.clock.Advance(time.Minute)
				require.NoError(t, a.do(e, o))
				assert.Equal(t, before, e.order(o.ID), "the order is unchanged")
				assert.Equal(t, stock, e.stock(), "stock is unchanged")
				assert.Equal(t, events, e.events(), "no event is written")
			})
		}
	}
}

func TestOrderLifecycle(t *testing.T) {
	e := newOrderEnv(t, commerce.Config{PaymentTimeout: 15 * time.Minute, AutoReceiveAfter: 5 * 24 * time.Hour, AfterSalesWindow: 3 * 24 * time.Hour})
	o := e.checkout(line(e.sku(0, 0), 2), line(e.sku(1, 0), 1))
	assert.Equal(t, commerce.StatusPendingPayment, o.Status)
	assert.Equal(t, int64(1), o.Version)
	assert.Equal(t, "CNY 53.50", o.Total.String()) // 20.00 + 25.50 + 8.00
	assert.Equal(t, commercetest.Epoch.Add(15*time.Minute), o.DueAt)
	assert.Equal(t, []int64{8, 4}, e.stock())

	e.clock.Advance(time.Minute)
	o = e.pay(o)
	assert.Equal(t, commerce.StatusPaid, o.Status)
	assert.True(t, o.DueAt.IsZero(), "a paid order is not due")
	assert.Equal(t, "CNY 53.50", o.Paid.String())
	assert.Equal(t, commercetest.Epoch.Add(time.Minute), o.PaidAt)

	e.clock.Advance(time.Hour)
	o = e.ship(o)
	assert.Equal(t, commerce.StatusShipped, o.Status)
	assert.Equal(t, &commerce.Shipment{Carrier: "SF", TrackingNo: "SF123"}, o.Shipment)
	assert.Equal(t, e.clock.Now().Add(5*24*time.Hour), o.DueAt)

	o, err := e.svc.ConfirmReceipt(e.ctx, e.merchant(), o.ID)
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusReceived, o.Status)
	assert.Equal(t, e.clock.Now().Add(3*24*time.Hour), o.DueAt)

	o, err = e.svc.Complete(e.ctx, e.merchant(), o.ID)
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusCompleted, o.Status)
	assert.True(t, o.DueAt.IsZero())
	assert.True(t, o.Status.Closed())

	stored := e.order(o.ID)
	assert.Equal(t, commerce.StatusCompleted, stored.Status)
	assert.Equal(t, int64(5), stored.Version, "one version per change")
	assert.Equal(t, []string{"order.created", "order.paid", "order.shipped", "order.received", "order.completed"}, e.eventTypes(o.ID))
	assert.Equal(t, []int64{8, 4}, e.stock(), "a completed sale keeps its stock")
}

func TestGiftOrderWaitsForRecipient(t *testing.T) {
	e := newOrderEnv(t, commerce.Config{})
	o := e.pay(e.giftCheckout(line(e.sku(0, 0), 1)))
	assert.Equal(t, commerce.StatusAwaitingRecipient, o.Status)
	assert.Nil(t, o.ShippingAddress)

	// The recipient's address is validated, naming the field.
	_, err := e.svc.AcceptGift(e.ctx, commerce.AcceptGiftParams{MerchantID: e.merchant(), OrderID: o.ID, Recipient: "friend",
		Address: commerce.Address{Name: "韩梅梅", Detail: "1 号"}})
	assert.Equal(t, "address.phone", asError(t, err).Field)
	assert.Equal(t, commerce.StatusAwaitingRecipient, e.order(o.ID).Status)

	o, err = e.svc.AcceptGift(e.ctx, commerce.AcceptGiftParams{MerchantID: e.merchant(), OrderID: o.ID, Recipient: "friend", Address: *commercetest.Address()})
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusPaid, o.Status)
	assert.Equal(t, commerce.CustomerID("friend"), o.Gift.Recipient)
	assert.Equal(t, commercetest.Address(), o.ShippingAddress)
	assert.Equal(t, commerce.CustomerID("c1"), o.CustomerID, "the giver still pays")
}

func TestMarkPaid(t *testing.T) {
	e := newOrderEnv(t, commerce.Config{})
	o := e.checkout(line(e.sku(0, 0), 1))
	before := e.order(o.ID)

	t.Run("wrong amount", func(t *testing.T) {
		for _, amount := range []commerce.Money{commercetest.CNY("17.99"), commercetest.CNY("18.01"), commercetest.CNY("-18.00")} {
			_, err := e.svc.MarkPaid(e.ctx, commerce.MarkPaidParams{MerchantID: e.merchant(), OrderID: o.ID, PaymentRef: "p1", Amount: amount})
			ke := asError(t, err)
			assert.Equal(t, commerce.KindFailedPrecondition, ke.Kind)
			assert.NotErrorIs(t, err, commerce.ErrIllegalTransition)
			assert.ErrorContains(t, err, "order total is CNY 18.00")
			assert.Equal(t, before, e.order(o.ID))
		}
	})
	t.Run("bad input", func(t *testing.T) {
		_, err := e.svc.MarkPaid(e.ctx, commerce.MarkPaidParams{MerchantID: e.merchant(), OrderID: o.ID, Amount: o.Total})
		assert.Equal(t, "payment_ref", asError(t, err).Field)
		_, err = e.svc.MarkPaid(e.ctx, commerce.MarkPaidParams{MerchantID: e.merchant(), OrderID: o.ID, PaymentRef: "p1"})
		assert.Equal(t, "amount", asError(t, err).Field)
		assert.Equal(t, before, e.order(o.ID))
	})
	t.Run("twice with the same reference", func(t *testing.T) {
		first, err := e.svc.MarkPaid(e.ctx, commerce.MarkPaidParams{MerchantID: e.merchant(), OrderID: o.ID, PaymentRef: "p1", Amount: commercetest.CNY("18")})
		require.NoError(t, err)
		e.clock.Advance(time.Second)
		again, err := e.svc.MarkPaid(e.ctx, commerce.MarkPaidParams{MerchantID: e.merchant(), OrderID: o.ID, PaymentRef: "p1", Amount: commercetest.CNY("18")})
		require.NoError(t, err)
		assert.Equal(t, commerce.StatusPaid, again.Status)
		assert.Equal(t, first.Version, e.order(o.ID).Version, "a repeated notification changes nothing")
		assert.Equal(t, first.PaidAt, again.PaidAt)
		assert.Equal(t, []string{"order.created", "order.paid"}, e.eventTypes(o.ID))
	})
}

// An unpaid order is cancelled PaymentTimeout after checkout, not a moment
// sooner, and its stock and purchase counts go back.
func TestRunDueCancelsUnpaidOrders(t *testing.T) {
	e := newEnv(t, commerce.Config{PaymentTimeout: 30 * time.Minute}, orderShipping,
		commercetest.ProductSpec{Title: "Tea", Prices: []string{"10.00"}, Stock: 10},
		commercetest.ProductSpec{Title: "Limited cup", Prices: []string{"25.50"}, Stock: 5, Limit: 2})
	first := e.checkout(line(e.sku(0, 0), 3), line(e.sku(1, 0), 2))
	assert.Equal(t, []int64{7, 3}, e.stock())

	// The customer has reached the limit of the cup while the order waits.
	_, err := e.svc.Checkout(e.ctx, commerce.CheckoutParams{MerchantID: e.merchant(), CustomerID: "c1",
		Lines: []commerce.LineItem{line(e.sku(1, 0), 1)}, IdempotencyKey: "over-limit", ShippingAddress: commercetest.Address()})
	assert.ErrorIs(t, err, commerce.ErrPurchaseLimit)

	e.clock.Advance(10 * time.Minute)
	second := e.checkout(line(e.sku(0, 0), 1))
	paid := e.pay(e.checkout(line(e.sku(0, 0), 2)))
	assert.Equal(t, []int64{4, 3}, e.stock())

	// One microsecond before the first order is due: nothing happens.
	e.clock.Set(commercetest.Epoch.Add(30*time.Minute - time.Microsecond))
	rep, err := e.svc.RunDue(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, commerce.DueReport{}, rep)
	assert.Equal(t, commerce.StatusPendingPayment, e.order(first.ID).Status)

	// At the deadline it is cancelled and its units go back.
	e.clock.Set(commercetest.Epoch.Add(30 * time.Minute))
	rep, err = e.svc.RunDue(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, commerce.DueReport{Cancelled: 1}, rep)
	got := e.order(first.ID)
	assert.Equal(t, commerce.StatusCancelled, got.Status)
	assert.Equal(t, "payment timeout", got.CancelReason)
	assert.Equal(t, commercetest.Epoch.Add(30*time.Minute), got.CancelledAt)
	assert.True(t, got.DueAt.IsZero())
	assert.Equal(t, []int64{7, 5}, e.stock())
	assert.Equal(t, []string{"order.created", "order.cancelled"}, e.eventTypes(first.ID))
	assert.Equal(t, commerce.StatusPendingPayment, e.order(second.ID).Status, "the later order is not due yet")
	assert.Equal(t, commerce.StatusPaid, e.order(paid.ID).Status)

	// Running again does nothing more: stock is released once.
	rep, err = e.svc.RunDue(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, commerce.DueReport{}, rep)
	assert.Equal(t, []int64{7, 5}, e.stock())

	// A payment that arrives after the cancel is refused and changes nothing.
	cancelled := e.order(first.ID)
	_, err = e.svc.MarkPaid(e.ctx, commerce.MarkPaidParams{MerchantID: e.merchant(), OrderID: first.ID, PaymentRef: "late", Amount: first.Total})
	assert.ErrorIs(t, err, commerce.ErrIllegalTransition)
	assert.Equal(t, cancelled, e.order(first.ID))
	assert.Equal(t, []int64{7, 5}, e.stock())

	// The purchase limit counts the cups no more: two can be bought again.
	e.checkout(line(e.sku(1, 0), 2))
	assert.Equal(t, []int64{7, 3}, e.stock())

	// Ten minutes on, the second order goes the same way; the paid one never.
	e.clock.Advance(10 * time.Minute)
	rep, err = e.svc.RunDue(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, commerce.DueReport{Cancelled: 1}, rep)
	assert.Equal(t, commerce.StatusCancelled, e.order(second.ID).Status)
	assert.Equal(t, []int64{8, 3}, e.stock())
	e.clock.Advance(24 * time.Hour)
	rep, err = e.svc.RunDue(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, commerce.DueReport{Cancelled: 1}, rep, "the cup order made above")
	assert.Equal(t, commerce.StatusPaid, e.order(paid.ID).Status)
	assert.Equal(t, []int64{8, 5}, e.stock())
}

func TestRunDueReceivesAndCompletes(t *testing.T) {
	e := newOrderEnv(t, commerce.Config{AutoReceiveAfter: 10 * 24 * time.Hour, AfterSalesWindow: 7 * 24 * time.Hour})
	o := e.ship(e.pay(e.checkout(line(e.sku(0, 0), 1))))
	shippedAt := e.clock.Now()

	e.clock.Set(shippedAt.Add(10*24*time.Hour - time.Second))
	rep, err := e.svc.RunDue(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, commerce.DueReport{}, rep)

	e.clock.Set(shippedAt.Add(10 * 24 * time.Hour))
	rep, err = e.svc.RunDue(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, commerce.DueReport{Received: 1}, rep)
	got := e.order(o.ID)
	assert.Equal(t, commerce.StatusReceived, got.Status)
	assert.Equal(t, shippedAt.Add(17*24*time.Hour), got.DueAt)

	e.clock.Set(shippedAt.Add(17 * 24 * time.Hour))
	rep, err = e.svc.RunDue(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, commerce.DueReport{Completed: 1}, rep)
	assert.Equal(t, commerce.StatusCompleted, e.order(o.ID).Status)
}

// refundSum is the money refunds of o that did not fail give back.
func refundSum(t testing.TB, o *commerce.Order) int64 {
	var n int64
	for _, r := range o.Refunds {
		if r.Status != commerce.RefundFailed {
			n += minor(t, r.Amount)
		}
	}
	return n
}

// fixedDiscount takes amount off the order, split by what the lines cost.
func fixedDiscount(amount string) commerce.Adjuster {
	return commerce.AdjusterFunc(func(_ context.Context, q *commerce.Quote) ([]commerce.Adjustment, error) {
		a := commerce.MustParseMoney(amount, q.Currency)
		if a.IsZero() {
			return nil, nil
		}
		split, err := q.SplitByPayable(a, nil)
		if err != nil {
			return nil, err
		}
		return []commerce.Adjustment{{Kind: commerce.KindCoupon, Target: commerce.TargetItems, Source: "coupons", Ref: "C1", Amount: a, Split: split}}, nil
	})
}

// halfUp is round_half_up(a × b ÷ c) for non-negative integers.
func halfUp(a, b, c int64) int64 { return (2*a*b + c) / (2 * c) }

// Refunding a line unit by unit gives back, after j of q units,
// round_half_up(payable × j ÷ q) in total: each refund is within a fen of
// the per-unit share, the running total never passes what was paid, and the
// last unit takes exactly what is left, so the refunds add up to the payment
// (with the shipping fee, as nothing shipped).
func TestRefundUnitByUnitDoesNotDrift(t *testing.T) {
	tests := []struct {
		name, price string
		qty         int64
		discount    string
		shipping    string
		want        []string // the refunds' amounts, when worth spelling out
	}{
		{"3 × 10.00 less 10.00", "10.00", 3, "10.00", "8.00", []string{"6.67", "6.66", "14.67"}},
		{"3 × 0.01 less 0.02", "0.01", 3, "0.02", "0", []string{"0.00", "0.01", "0.00"}},
		{"7 × 0.05 less 0.02", "0.05", 7, "0.02", "0", nil},
		{"9 × 33.33 less 1.00", "33.33", 9, "1.00", "8.00", nil},
		{"7 × 99.99 less 50.00", "99.99", 7, "50.00", "12.00", nil},
		{"6 × 1.00 less 0.01", "1.00", 6, "0.01", "0", nil},
		{"11 × 0.10 less 0.09", "0.10", 11, "0.09", "0.01", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rule := commerce.ShippingRule{}
			if tt.shipping != "0" {
				rule.Flat = commercetest.CNY(tt.shipping)
			}
			e := newEnv(t, commerce.Config{Adjusters: []commerce.Adjuster{fixedDiscount(tt.discount)}}, rule,
				commercetest.ProductSpec{Title: "Item", Prices: []string{tt.price}, Stock: 100})
			o := e.pay(e.checkout(line(e.sku(0, 0), tt.qty)))
			paid := minor(t, o.Paid)
			payable := minor(t, o.Lines[0].Payable)
			ship := minor(t, commercetest.CNY(tt.shipping))
			require.Equal(t, paid, payable+ship)
			require.Equal(t, []int64{100 - tt.qty}, e.stock())

			var amounts []string
			var total, couponBack int64
			for j := int64(1); j <= tt.qty; j++ {
				r := e.refund(o, fmt.Sprintf("unit-%d", j), commerce.RefundItem{Line: 0, Quantity: 1})
				assert.Equal(t, commerce.RefundSucceeded, r.Status)
				amounts = append(amounts, r.Amount.Amount().StringFixed(2))
				got := minor(t, r.Amount)
				total += got
				require.Len(t, r.Lines, 1)
				lineAmt := minor(t, r.Lines[0].Amount)
				assert.Equal(t, got, lineAmt+minor(t, r.Shipping))
				assert.GreaterOrEqual(t, lineAmt, int64(0))
				// Within a fen of the exact per-unit share.
				assert.LessOrEqual(t, abs(lineAmt*tt.qty-payable), tt.qty, "refund %d: %d fen for a share of %d/%d", j, lineAmt, payable, tt.qty)
				if j < tt.qty {
					assert.Equal(t, halfUp(payable, j, tt.qty), total, "after %d units", j)
					assert.True(t, r.Shipping.IsZero(), "shipping goes back with the last unit only")
				} else {
					assert.Equal(t, ship, minor(t, r.Shipping))
				}
				assert.LessOrEqual(t, total, paid, "never more than was paid")
				if len(o.Adjustments) > 0 {
					couponBack += minor(t, r.Lines[0].Adjustments[0])
				}
				assert.Equal(t, []int64{100 - tt.qty + j}, e.stock(), "unshipped units go back on sale")
			}
			assert.Equal(t, paid, total, "the refunds add up to the payment exactly")
			if tt.want != nil {
				assert.Equal(t, tt.want, amounts)
			}
			got := e.order(o.ID)
			assert.Equal(t, commerce.StatusRefunded, got.Status)
			assert.Equal(t, paid, minor(t, got.Refunded()))
			assert.Equal(t, tt.qty, got.Lines[0].RefundedQuantity)
			assert.True(t, got.Lines[0].Refunded.Equal(got.Lines[0].Payable))
			if len(o.Adjustments) > 0 {
				assert.Equal(t, minor(t, o.Adjustments[0].Amount), couponBack, "the coupon's value comes back exactly")
				assert.True(t, got.Lines[0].RefundedAdjustments[0].Equal(got.Lines[0].Adjustments[0]))
			}
		})
	}
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// Partial refunds of several lines in uneven chunks add up to what was paid.
func TestRefundPartialChunks(t *testing.T) {
	e := newEnv(t, commerce.Config{Adjusters: []commerce.Adjuster{fixedDiscount("10.00")}}, orderShipping, orderSpecs...)
	o := e.pay(e.checkout(line(e.sku(0, 0), 3), line(e.sku(1, 0), 2)))
	// 10.00 over 30.00 : 51.00 is 3.70 : 6.30; the lines cost 26.30 and 44.70.
	assert.Equal(t, "CNY 26.30", o.Lines[0].Payable.String())
	assert.Equal(t, "CNY 44.70", o.Lines[1].Payable.String())
	assert.Equal(t, "CNY 79.00", o.Paid.String())

	r1 := e.refund(o, "r1", commerce.RefundItem{Line: 1, Quantity: 1})
	assert.Equal(t, "CNY 22.35", r1.Amount.String())
	r2 := e.refund(o, "r2", commerce.RefundItem{Line: 0, Quantity: 2}, commerce.RefundItem{Line: 1, Quantity: 1})
	assert.Equal(t, "CNY 39.88", r2.Amount.String()) // 17.53 (round(26.30 × 2/3)) + 22.35 (the rest of the cups)
	assert.Equal(t, commerce.StatusPaid, e.order(o.ID).Status, "a unit is left")

	// More than is left of a line is refused, naming the item, and changes
	// nothing, even with a good item before it.
	before := e.order(o.ID)
	_, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: e.merchant(), OrderID: o.ID, IdempotencyKey: "r-too-many",
		Items: []commerce.RefundItem{{Line: 0, Quantity: 2}}})
	ke := asError(t, err)
	assert.ErrorIs(t, err, commerce.ErrRefundExceeded)
	assert.Equal(t, commerce.KindFailedPrecondition, ke.Kind)
	assert.Equal(t, "items[0].quantity", ke.Field)
	assert.ErrorContains(t, err, "2 units asked, 1 of 3 left")
	assert.Equal(t, before, e.order(o.ID))

	r3 := e.refund(o, "r3", commerce.RefundItem{Line: 0, Quantity: 1})
	assert.Equal(t, "CNY 16.77", r3.Amount.String()) // 8.77 + 8.00 shipping
	assert.Equal(t, "CNY 8.00", r3.Shipping.String())

	got := e.order(o.ID)
	assert.Equal(t, commerce.StatusRefunded, got.Status)
	assert.Equal(t, minor(t, got.Paid), refundSum(t, got))
	assert.Equal(t, "CNY 79.00", got.Refunded().String())
	assert.Equal(t, []int64{10, 5}, e.stock())

	// Nothing is left to refund.
	_, err = e.svc.Refund(e.ctx, commerce.RefundParams{All: true, MerchantID: e.merchant(), OrderID: o.ID, IdempotencyKey: "r4"})
	assert.ErrorIs(t, err, commerce.ErrIllegalTransition)
	assert.Equal(t, got, e.order(o.ID))
}

func TestRefundRejectsBadItems(t *testing.T) {
	e := newOrderEnv(t, commerce.Config{})
	o := e.pay(e.checkout(line(e.sku(0, 0), 3), line(e.sku(1, 0), 2)))
	before := e.order(o.ID)
	tests := []struct {
		name  string
		items []commerce.RefundItem
		kind  commerce.Kind
		field string
	}{
		{"no such line", []commerce.RefundItem{{Line: 0, Quantity: 1}, {Line: 2, Quantity: 1}}, commerce.KindInvalid, "items[1].line"},
		{"negative line", []commerce.RefundItem{{Line: -1, Quantity: 1}}, commerce.KindInvalid, "items[0].line"},
		{"line twice", []commerce.RefundItem{{Line: 1, Quantity: 1}, {Line: 1, Quantity: 1}}, commerce.KindInvalid, "items[1].line"},
		{"zero units", []commerce.RefundItem{{Line: 0, Quantity: 0}}, commerce.KindInvalid, "items[0].quantity"},
		{"negative units", []commerce.RefundItem{{Line: 0, Quantity: 1}, {Line: 1, Quantity: -2}}, commerce.KindInvalid, "items[1].quantity"},
		{"more than bought", []commerce.RefundItem{{Line: 0, Quantity: 1}, {Line: 1, Quantity: 3}}, commerce.KindFailedPrecondition, "items[1].quantity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: e.merchant(), OrderID: o.ID, Items: tt.items, IdempotencyKey: tt.name})
			ke := asError(t, err)
			assert.Equal(t, tt.kind, ke.Kind, "%v", err)
			assert.Equal(t, tt.field, ke.Field, "%v", err)
			assert.Equal(t, before, e.order(o.ID))
		})
	}
	_, err := e.svc.Refund(e.ctx, commerce.RefundParams{All: true, MerchantID: e.merchant(), OrderID: o.ID})
	assert.Equal(t, "idempotency_key", asError(t, err).Field)
}

func TestRefundIdempotencyKey(t *testing.T) {
	e := newOrderEnv(t, commerce.Config{})
	o := e.pay(e.checkout(line(e.sku(0, 0), 3)))
	r1 := e.refund(o, "same", commerce.RefundItem{Line: 0, Quantity: 1})
	r2 := e.refund(o, "same", commerce.RefundItem{Line: 0, Quantity: 1})
	assert.Equal(t, r1.ID, r2.ID)
	assert.True(t, r1.Amount.Equal(r2.Amount))
	got := e.order(o.ID)
	assert.Len(t, got.Refunds, 1)
	assert.Equal(t, int64(1), got.Lines[0].RefundedQuantity)
	assert.Equal(t, "CNY 10.00", got.Refunded().String())
	assert.Equal(t, []int64{8, 5}, e.stock(), "one unit went back, once")
}

// After shipping, refunds return what the lines paid but neither the
// shipping fee nor the stock.
func TestRefundAfterShipping(t *testing.T) {
	e := newEnv(t, commerce.Config{Adjusters: []commerce.Adjuster{fixedDiscount("10.00")}}, orderShipping, orderSpecs...)
	o := e.ship(e.pay(e.checkout(line(e.sku(0, 0), 3), line(e.sku(1, 0), 2))))
	stock := e.stock()
	r1 := e.refund(o, "r1", commerce.RefundItem{Line: 1, Quantity: 2})
	assert.False(t, r1.Restock)
	r2 := e.refund(o, "r2")
	assert.True(t, r2.Shipping.IsZero())
	require.Len(t, r2.Lines, 1, "the units left: all of line 0")
	assert.Equal(t, 0, r2.Lines[0].Line)
	assert.Equal(t, int64(3), r2.Lines[0].Quantity)
	assert.Equal(t, "CNY 26.30", r2.Lines[0].Amount.String())
	assert.Equal(t, []string{"3.70"}, splitStrings(r2.Lines[0].Adjustments))
	got := e.order(o.ID)
	assert.Equal(t, commerce.StatusRefunded, got.Status)
	assert.Equal(t, "CNY 71.00", got.Refunded().String(), "79.00 paid less 8.00 delivery")
	assert.Equal(t, stock, e.stock(), "shipped units do not go back on sale")
}

// gateway records refund requests; the test answers them with ConfirmRefund.
type gateway struct {
	mu   sync.Mutex
	reqs []commerce.RefundRequest
	err  error
}

func (g *gateway) RequestRefund(_ context.Context, r commerce.RefundRequest) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.reqs = append(g.reqs, r)
	return g.err
}

func (e *env) confirm(o *commerce.Order, r *commerce.Refund, ok bool) {
	e.t.Helper()
	p := commerce.ConfirmRefundParams{MerchantID: e.merchant(), OrderID: o.ID, RefundID: r.ID, Succeeded: ok}
	if !ok {
		p.FailureReason = "card closed"
	}
	_, err := e.svc.ConfirmRefund(e.ctx, p)
	require.NoError(e.t, err)
}

// Pending refunds hold their units: a second refund cannot take them, and
// a failed refund gives them back to be refunded again. Whatever the order
// of answers, what succeeds adds up to the payment.
func TestPendingRefundsHoldTheirUnits(t *testing.T) {
	gw := &gateway{}
	e := newEnv(t, commerce.Config{Refunds: gw, Adjusters: []commerce.Adjuster{fixedDiscount("10.00")}}, orderShipping, orderSpecs...)
	o := e.ship(e.pay(e.checkout(line(e.sku(0, 0), 3))))
	assert.Equal(t, "CNY 28.00", o.Paid.String()) // 30.00 - 10.00 + 8.00

	a := e.refund(o, "a", commerce.RefundItem{Line: 0, Quantity: 2})
	assert.Equal(t, commerce.RefundPending, a.Status)
	assert.Equal(t, "CNY 13.33", a.Amount.String())
	require.Len(t, gw.reqs, 1)
	assert.Equal(t, a.ID, gw.reqs[0].RefundID)
	assert.True(t, gw.reqs[0].Amount.Equal(a.Amount))
	assert.True(t, gw.reqs[0].OrderTotal.Equal(o.Total))

	_, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: e.merchant(), OrderID: o.ID, IdempotencyKey: "b",
		Items: []commerce.RefundItem{{Line: 0, Quantity: 2}}})
	assert.ErrorIs(t, err, commerce.ErrRefundExceeded, "two of three units are being refunded")

	b := e.refund(o, "b2", commerce.RefundItem{Line: 0, Quantity: 1})
	assert.Equal(t, "CNY 6.67", b.Amount.String())
	_, err = e.svc.Refund(e.ctx, commerce.RefundParams{All: true, MerchantID: e.merchant(), OrderID: o.ID, IdempotencyKey: "c"})
	assert.ErrorIs(t, err, commerce.ErrRefundExceeded, "every unit is being refunded")

	e.confirm(o, a, false)
	assert.Equal(t, int64(1), e.order(o.ID).Lines[0].RefundedQuantity, "the failed refund's units are free again")
	e.confirm(o, b, true)
	assert.Equal(t, commerce.StatusShipped, e.order(o.ID).Status, "two units are still paid for")

	c := e.refund(o, "c", commerce.RefundItem{Line: 0, Quantity: 1})
	d := e.refund(o, "d", commerce.RefundItem{Line: 0, Quantity: 1})
	e.confirm(o, d, true)
	e.confirm(o, c, true)
	e.confirm(o, c, true) // a repeated answer changes nothing

	got := e.order(o.ID)
	assert.Equal(t, commerce.StatusRefunded, got.Status)
	assert.Equal(t, "CNY 20.00", got.Refunded().String(), "28.00 paid less 8.00 delivery, which shipped")
	assert.Equal(t, minor(t, got.Refunded()), refundSum(t, got))
	for _, r := range got.Refunds {
		assert.NotEqual(t, commerce.RefundPending, r.Status)
	}
}

// A refund the gateway cannot take stays pending and can be sent again.
func TestRefundGatewayFailureKeepsRefundPending(t *testing.T) {
	gw := &gateway{err: errors.New("wechat pay: system busy")}
	e := newOrderEnv(t, commerce.Config{Refunds: gw})
	o := e.pay(e.checkout(line(e.sku(0, 0), 1)))
	r, err := e.svc.Refund(e.ctx, commerce.RefundParams{All: true, MerchantID: e.merchant(), OrderID: o.ID, IdempotencyKey: "r"})
	assert.Equal(t, commerce.KindUnavailable, commerce.KindOf(err))
	assert.ErrorIs(t, err, gw.err)
	require.NotNil(t, r)
	got, ok := e.order(o.ID).Refund(r.ID)
	require.True(t, ok, "the refund is committed")
	assert.Equal(t, commerce.RefundPending, got.Status)

	gw.err = nil
	require.NoError(t, e.svc.ResubmitRefund(e.ctx, e.merchant(), o.ID, r.ID))
	require.Len(t, gw.reqs, 2)
	for _, req := range gw.reqs {
		assert.Equal(t, r.ID, req.RefundID, "the same request, keyed by the refund ID")
		assert.Equal(t, "CNY 18.00", req.Amount.String())
		assert.Equal(t, "pay-"+o.ID.String(), req.PaymentRef)
	}
	e.confirm(o, r, true)
	assert.Equal(t, commerce.StatusRefunded, e.order(o.ID).Status)
	assert.Equal(t, "CNY 18.00", e.order(o.ID).Refunded().String())
}

// The shipping fee goes back with the last units, once. A refund that
// carried the fee and succeeded must stop a later refund, of units a failed
// refund gave back, from carrying it again.
func TestRefundReturnsShippingOnce(t *testing.T) {
	gw := &gateway{}
	e := newOrderEnv(t, commerce.Config{Refunds: gw})
	o := e.pay(e.checkout(line(e.sku(0, 0), 3)))
	assert.Equal(t, "CNY 38.00", o.Paid.String())

	a := e.refund(o, "a", commerce.RefundItem{Line: 0, Quantity: 2}) // 20.00, pending
	b := e.refund(o, "b", commerce.RefundItem{Line: 0, Quantity: 1}) // 10.00 + 8.00: the last unit
	assert.Equal(t, "CNY 8.00", b.Shipping.String())
	e.confirm(o, a, false)
	e.confirm(o, b, true)
	c := e.refund(o, "c") // the two units a gave back
	e.confirm(o, c, true)

	got := e.order(o.ID)
	assert.Equal(t, commerce.StatusRefunded, got.Status)
	assert.True(t, c.Shipping.IsZero(), "the fee went back with b already, got %s again", c.Shipping)
	assert.Equal(t, "CNY 38.00", got.Refunded().String(), "never more than was paid")
}

// Restock is decided when a refund is asked for, so an order with a refund
// pending cannot ship: otherwise the refund's success would put units that
// left the warehouse back on sale (and return the fee of a delivery that
// happened).
func TestNoShippingWhileRefundPending(t *testing.T) {
	gw := &gateway{}
	e := newOrderEnv(t, commerce.Config{Refunds: gw})
	o := e.pay(e.checkout(line(e.sku(0, 0), 3)))
	r := e.refund(o, "all")
	_, err := e.svc.Ship(e.ctx, commerce.ShipParams{MerchantID: e.merchant(), OrderID: o.ID, Shipment: commerce.Shipment{Carrier: "SF", TrackingNo: "SF1"}})
	require.ErrorIs(t, err, commerce.ErrFailedPrecondition, "an order with a refund open does not ship")
	e.confirm(o, r, true)
	assert.Equal(t, []int64{10, 5}, e.stock(), "the units never left: back on sale")
	assert.Equal(t, commerce.StatusRefunded, e.order(o.ID).Status)
}

// TestOrderCloneIsIndependent: Clone packs the lines' slices into shared
// allocations; a change to the copy, an append to one of its slices
// included, must reach neither the original nor the copy's other lines.
func TestOrderCloneIsIndependent(t *testing.T) {
	c := commercetest.CNY
	o := &commerce.Order{Currency: c("1").Currency(),
		Lines: []commerce.OrderLine{
			{Attributes: []commerce.Attribute{{Name: "size", Value: "M"}}, Adjustments: []commerce.Money{c("1")}, RefundedAdjustments: []commerce.Money{c("0")}},
			{Attributes: []commerce.Attribute{{Name: "size", Value: "L"}}, Adjustments: []commerce.Money{c("2")}, RefundedAdjustments: []commerce.Money{}},
		},
		Adjustments: []commerce.Adjustment{{Kind: commerce.KindCoupon, Amount: c("3"), Split: []commerce.Money{c("1"), c("2")}}},
		Refunds:     []commerce.Refund{{Lines: []commerce.RefundLine{{Adjustments: []commerce.Money{c("1")}}}}},
	}
	cp := o.Clone()
	assert.Equal(t, o, cp)
	assert.NotNil(t, cp.Lines[1].RefundedAdjustments, "an empty slice stays empty, not nil")

	cp.Lines[0].Adjustments = append(cp.Lines[0].Adjustments, c("9"))
	cp.Lines[0].Attributes = append(cp.Lines[0].Attributes, commerce.Attribute{Name: "x"})
	cp.Lines[1].Adjustments[0] = c("7")
	cp.Adjustments[0].Split[0] = c("8")
	cp.Refunds[0].Lines[0].Adjustments[0] = c("6")
	assert.True(t, cp.Lines[0].RefundedAdjustments[0].Equal(c("0")), "append ran into the next slice")
	assert.Equal(t, "L", cp.Lines[1].Attributes[0].Value, "append ran into the next line's attributes")
	assert.True(t, o.Lines[1].Adjustments[0].Equal(c("2")))
	assert.True(t, o.Adjustments[0].Split[0].Equal(c("1")))
	assert.True(t, o.Refunds[0].Lines[0].Adjustments[0].Equal(c("1")))
	assert.Len(t, o.Lines[0].Adjustments, 1)
}

// A shipment is checked whole before the order moves: parcels for a split
// shipment or a group gift, methods where nothing is tracked.
func TestShipmentChecked(t *testing.T) {
	e := newOrderEnv(t, commerce.Config{})
	o := e.pay(e.checkout(line(e.sku(0, 0), 1)))
	parcels := func(n int) []commerce.Parcel {
		var ps []commerce.Parcel
		for i := range n {
			ps = append(ps, commerce.Parcel{Carrier: "SF", TrackingNo: fmt.Sprintf("SF%03d", i)})
		}
		return ps
	}
	for _, c := range []struct {
		field string
		s     commerce.Shipment
	}{
		{"shipment.method", commerce.Shipment{Method: "drone"}},
		{"shipment.method", commerce.Shipment{Method: commerce.ShipVirtual, TrackingNo: "X1"}},
		{"shipment.method", commerce.Shipment{Method: commerce.ShipPickup, Parcels: parcels(2)}},
		{"shipment.parcels", commerce.Shipment{Carrier: "SF", Parcels: parcels(2)}},
		{"shipment.parcels", commerce.Shipment{Parcels: parcels(commerce.MaxParcels + 1)}},
		{"shipment.parcels[1].tracking_no", commerce.Shipment{Parcels: []commerce.Parcel{{Carrier: "SF", TrackingNo: "A"}, {Carrier: "SF"}}}},
		{"shipment.parcels[1].tracking_no", commerce.Shipment{Parcels: []commerce.Parcel{{Carrier: "SF", TrackingNo: "A"}, {Carrier: "SF", TrackingNo: "A"}}}},
		{"shipment.parcels[0].carrier", commerce.Shipment{Parcels: []commerce.Parcel{{TrackingNo: "A"}}}},
		{"shipment.parcels[0].items", commerce.Shipment{Parcels: []commerce.Parcel{{Carrier: "SF", TrackingNo: "A", Items: strings.Repeat("茶", commerce.MaxParcelItemsLen+1)}}}},
	} {
		_, err := e.svc.Ship(e.ctx, commerce.ShipParams{MerchantID: e.merchant(), OrderID: o.ID, Shipment: c.s})
		var ce *commerce.Error
		require.ErrorAs(t, err, &ce, "%+v", c.s)
		assert.Equal(t, c.field, ce.Field, "%+v: %v", c.s, err)
		assert.Equal(t, commerce.StatusPaid, e.order(o.ID).Status, "nothing changed")
	}

	// Fifteen parcels ship; the same call again (its answer lost) returns
	// the order unchanged, another shipment is refused.
	s := commerce.Shipment{Parcels: parcels(commerce.MaxParcels)}
	s.Parcels[0].Items = "龙井 100 g ×2"
	got, err := e.svc.Ship(e.ctx, commerce.ShipParams{MerchantID: e.merchant(), OrderID: o.ID, Shipment: s})
	require.NoError(t, err)
	s.Parcels[1].TrackingNo = "changed by the caller afterwards"
	assert.Equal(t, "SF001", got.Shipment.Parcels[1].TrackingNo, "the order keeps its own copy")
	stored := e.order(o.ID)
	require.Len(t, stored.Shipment.ParcelList(), commerce.MaxParcels)
	assert.Equal(t, "龙井 100 g ×2", stored.Shipment.Parcels[0].Items)
	s.Parcels[1].TrackingNo = "SF001"
	again, err := e.svc.Ship(e.ctx, commerce.ShipParams{MerchantID: e.merchant(), OrderID: o.ID, Shipment: s})
	require.NoError(t, err)
	assert.Equal(t, stored.Version, again.Version, "a retry changes nothing")
	s.Parcels = s.Parcels[:3]
	_, err = e.svc.Ship(e.ctx, commerce.ShipParams{MerchantID: e.merchant(), OrderID: o.ID, Shipment: s})
	require.ErrorIs(t, err, commerce.ErrIllegalTransition)

	// Virtual goods ship with nothing tracked; one parcel lists as one.
	v := e.pay(e.checkout(line(e.sku(0, 0), 1)))
	got, err = e.svc.Ship(e.ctx, commerce.ShipParams{MerchantID: e.merchant(), OrderID: v.ID, Shipment: commerce.Shipment{Method: commerce.ShipVirtual}})
	require.NoError(t, err)
	assert.Equal(t, commerce.ShipVirtual, got.Shipment.Method)
	assert.Empty(t, got.Shipment.ParcelList())
	assert.Equal(t, []commerce.Parcel{{Carrier: "SF", TrackingNo: "1"}}, commerce.Shipment{Carrier: "SF", TrackingNo: "1"}.ParcelList())
}
