package storetest

import (
	"context"
	"errors"
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
	"github.com/minishop/minishop/payment/fakepay"
)

// handoffFailStore is a real store whose UpdatePayment fails as many times
// as armed: the kernel has committed a refund, and the payment service's
// write recording it is lost, as when the process is killed between the two.
type handoffFailStore struct {
	Store
	fails atomic.Int32
}

var errKilled = errors.New("process killed before the payment-side write")

func (s *handoffFailStore) UpdatePayment(ctx context.Context, m commerce.MerchantID, id payment.PaymentID, fn func(*payment.Payment) error) error {
	if s.fails.Add(-1) >= 0 {
		return errKilled
	}
	return s.Store.UpdatePayment(ctx, m, id, fn)
}

type handoffEnv struct {
	*payEnv
	fs *handoffFailStore
}

func newHandoffEnv(t *testing.T, h Harness) *handoffEnv {
	t.Helper()
	fs := &handoffFailStore{Store: h.New(t)}
	e := &env{t: t, ctx: context.Background(), store: fs, clock: NewClock(Epoch)}
	fake := fakepay.New(fakepay.WithClock(e.clock.Now))
	engine, err := minishop.New(fs, minishop.WithClock(e.clock), minishop.WithIDs(&SeqIDs{}), minishop.WithPayments(fake))
	require.NoError(t, err)
	e.svc = engine.Commerce
	pe := &payEnv{env: e, engine: engine, pay: engine.Payments, fake: fake}
	pe.shop = NewShop(t, e.svc, "退款店", freeShipping, ProductSpec{Title: "茶具", Prices: []string{"30.00"}, Stock: 50})
	return &handoffEnv{payEnv: pe, fs: fs}
}

// lostRefund pays an order through fakepay and refunds one unit with the
// hand-off to payment lost: the kernel's refund is pending and the payment
// has no record of it.
func (e *handoffEnv) lostRefund(key string) (*commerce.Order, *payment.Payment, *commerce.Refund) {
	e.t.Helper()
	o := e.mustBuy(e.shop, "c", key, line(e.shop.SKU(0, 0), 2))
	o, p := e.paid(o)
	e.fs.fails.Store(1)
	r, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: o.MerchantID, OrderID: o.ID,
		Items: []commerce.RefundItem{{Line: 0, Quantity: 1}}, IdempotencyKey: "r-" + key})
	require.Error(e.t, err, "the hand-off failed")
	assert.Equal(e.t, commerce.KindUnavailable, commerce.KindOf(err))
	assert.NotErrorIs(e.t, err, commerce.ErrInternal, "one kind: the refund stays pending, try again")
	require.NotNil(e.t, r)
	assert.Equal(e.t, commerce.RefundPending, r.Status)
	got, gerr := e.pay.GetPayment(e.ctx, p.MerchantID, p.ID)
	require.NoError(e.t, gerr)
	require.Empty(e.t, got.Refunds, "payment never heard of the refund")
	return o, p, r
}

// finished asserts that refund r of order o went through exactly once: one
// payment-side refund, succeeded, one ledger entry set, the kernel's refund
// succeeded.
func (e *handoffEnv) finished(o *commerce.Order, p *payment.Payment, r *commerce.Refund) {
	e.t.Helper()
	got, err := e.pay.GetPayment(e.ctx, p.MerchantID, p.ID)
	require.NoError(e.t, err)
	require.Len(e.t, got.Refunds, 1, "recorded once")
	assert.Equal(e.t, r.ID, got.Refunds[0].ID)
	assert.Equal(e.t, payment.RefundSucceeded, got.Refunds[0].Status)
	assert.True(e.t, got.Refunds[0].Amount.Equal(r.Amount))
	ledger, err := e.pay.Ledger(e.ctx, p.MerchantID, p.OrderID)
	require.NoError(e.t, err)
	refundEntries := 0
	for _, l := range ledger {
		if l.Ref == got.Refunds[0].RefundNo && l.Party == payment.PartyMerchant {
			refundEntries++
		}
	}
	assert.Equal(e.t, 1, refundEntries, "the money went back once")
	ko, err := e.svc.GetOrder(e.ctx, o.MerchantID, o.ID)
	require.NoError(e.t, err)
	kr, _ := ko.Refund(r.ID)
	assert.Equal(e.t, commerce.RefundSucceeded, kr.Status)
	assert.True(e.t, ko.PendingRefundSince().IsZero())
}

func testRefundHandoffLost(t *testing.T, h Harness) {
	e := newHandoffEnv(t, h)
	o, p, r := e.lostRefund("k1")

	// Within the grace period RunDue leaves it: the kernel may still be
	// handing it over.
	e.advance(time.Minute)
	n, err := e.pay.RunDue(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, 0, n)
	got, err := e.pay.GetPayment(e.ctx, p.MerchantID, p.ID)
	require.NoError(t, err)
	assert.Empty(t, got.Refunds)

	e.advance(payment.DefaultRefundGrace)
	n, err = e.pay.RunDue(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "RunDue took the refund over")
	e.finished(o, p, r)
	assert.Equal(t, 1, e.fake.Calls("Refund"), "the channel was asked once")

	n, err = e.pay.RunDue(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, 0, n, "nothing left")
	e.finished(o, p, r)

	// A refund the payment recorded, waiting for the channel's answer, is
	// not taken over again.
	e.fake.SetRefundMode(fakepay.RefundLater)
	o2 := e.mustBuy(e.shop, "c", "k2", line(e.shop.SKU(0, 0), 1))
	o2, _ = e.paid(o2)
	_, err = e.svc.Refund(e.ctx, commerce.RefundParams{All: true, MerchantID: o2.MerchantID, OrderID: o2.ID, IdempotencyKey: "r-k2"})
	require.NoError(t, err)
	e.advance(2 * payment.DefaultRefundGrace)
	calls := e.fake.Calls("Refund")
	n, err = e.pay.RunDue(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, 0, n)
	assert.Equal(t, calls, e.fake.Calls("Refund"))
}

// Two RunDue at once over lost refunds of several orders: each refund is
// recorded once and the money goes back once.
func testRefundHandoffConcurrent(t *testing.T, h Harness) {
	e := newHandoffEnv(t, h)
	type lost struct {
		o *commerce.Order
		p *payment.Payment
		r *commerce.Refund
	}
	var all []lost
	for _, k := range []string{"a", "b", "c"} {
		o, p, r := e.lostRefund(k)
		all = append(all, lost{o, p, r})
	}
	e.advance(payment.DefaultRefundGrace + time.Second)
	var total atomic.Int32
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			n, err := e.pay.RunDue(e.ctx)
			if err != nil {
				t.Errorf("RunDue: %v", err)
			}
			total.Add(int32(n))
		})
	}
	wg.Wait()
	for _, l := range all {
		e.finished(l.o, l.p, l.r)
	}
	assert.GreaterOrEqual(t, int(total.Load()), len(all))
	n, err := e.pay.RunDue(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, 0, n)
}

// A refund whose channel call fails stays pending on both sides and says
// so with one kind, unavailable: not internal, whatever the channel's
// error was. RunDue sends it once the channel is back.
func testRefundProviderDown(t *testing.T, h Harness) {
	e := newHandoffEnv(t, h)
	o := e.mustBuy(e.shop, "c", "k", line(e.shop.SKU(0, 0), 1))
	o, p := e.paid(o)
	e.fake.FailNext("Refund", errors.New("channel down"))
	r, err := e.svc.Refund(e.ctx, commerce.RefundParams{All: true, MerchantID: o.MerchantID, OrderID: o.ID, IdempotencyKey: "r"})
	require.Error(t, err)
	assert.Equal(t, commerce.KindUnavailable, commerce.KindOf(err))
	assert.ErrorIs(t, err, commerce.ErrUnavailable)
	for _, other := range []error{commerce.ErrInternal, commerce.ErrNotFound, commerce.ErrConflict, commerce.ErrInvalid, commerce.ErrFailedPrecondition} {
		assert.NotErrorIs(t, err, other, "one kind")
	}
	assert.Contains(t, err.Error(), "channel down")
	require.NotNil(t, r)
	got, err := e.pay.GetPayment(e.ctx, p.MerchantID, p.ID)
	require.NoError(t, err)
	require.Len(t, got.Refunds, 1, "recorded on the payment side, not yet submitted")
	assert.False(t, got.Refunds[0].Submitted)
	n, err := e.pay.RunDue(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	e.finished(o, p, r)
}
