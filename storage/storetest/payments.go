package storetest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"golang.org/x/text/currency"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	. "github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/fakepay"
)

func runPayment(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"PayAndNotify", testPayAndNotify},
		{"PayIdempotent", testPayIdempotent},
		{"FailedPaymentPaidAgain", testFailedPayment},
		{"DuplicateNotificationsConcurrent", testDuplicateNotifications},
		{"MismatchRejected", testNotificationMismatch},
		{"CancelClosesPayment", testCancelClosesPayment},
		{"PaidAfterCancelRefunded", testPaidAfterCancel},
		{"PartialRefundsAndFees", testPaymentPartialRefunds},
		{"RefundNotifications", testRefundNotifications},
		{"ConcurrentRefundsNeverExceed", testPaymentConcurrentRefunds},
		{"RefundResentAfterOutage", testRefundAfterOutage},
		{"Reconcile", testReconcile},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

// payEnv is a world with an Engine paying through fakepay.
type payEnv struct {
	*env
	engine *minishop.Engine
	pay    *payment.Service
	fake   *fakepay.Provider
	shop   *Shop
}

func newPayEnv(t *testing.T, h Harness, opts ...fakepay.Option) *payEnv {
	return newPayEnvWith(t, h, nil, opts...)
}

// newPayEnvWith is newPayEnv with more Engine options, made once the
// world's store and clock exist.
func newPayEnvWith(t *testing.T, h Harness, more func(e *env) []minishop.Option, opts ...fakepay.Option) *payEnv {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), store: h.New(t), clock: NewClock(Epoch)}
	fake := fakepay.New(append([]fakepay.Option{fakepay.WithClock(e.clock.Now)}, opts...)...)
	fees := payment.FeeSchedule{Channel: commerce.MustPercent(0.6), Platform: commerce.MustPercent(1),
		PlatformByCategory: map[string]commerce.Rate{"books": {}}}
	engineOpts := []minishop.Option{minishop.WithClock(e.clock), minishop.WithIDs(&SeqIDs{}),
		minishop.WithPayments(fake), minishop.WithFees(fees)}
	if more != nil {
		engineOpts = append(engineOpts, more(e)...)
	}
	engine, err := minishop.New(e.store, engineOpts...)
	require.NoError(t, err)
	e.svc = engine.Commerce
	pe := &payEnv{env: e, engine: engine, pay: engine.Payments, fake: fake}
	pe.shop = NewShop(t, e.svc, "支付测试店", freeShipping,
		ProductSpec{Title: "茶具", Category: "home", Prices: []string{"33.33", "10.00"}, Stock: 50},
		ProductSpec{Title: "书", Category: "books", Prices: []string{"50.00"}, Stock: 50})
	return pe
}

// order places an order of 2 × 33.33 (home) and 1 × 50.00 (books): 116.66.
func (e *payEnv) order(customer, key string) *commerce.Order {
	return e.mustBuy(e.shop, customer, key, line(e.shop.SKU(0, 0), 2), line(e.shop.SKU(1, 0), 1))
}

func (e *payEnv) open(o *commerce.Order) *payment.Payment {
	e.t.Helper()
	p, prepay, err := e.pay.Pay(e.ctx, payment.PayParams{MerchantID: o.MerchantID, OrderID: o.ID, Payer: "openid-" + string(o.CustomerID)})
	require.NoError(e.t, err)
	require.NotEmpty(e.t, prepay.PrepayID)
	return p
}

// deliver hands a notification to the service through its HTTP handler, as
// the channel would, and returns the status code.
func (e *payEnv) deliver(req *http.Request) int {
	e.t.Helper()
	rec := &statusRecorder{header: http.Header{}}
	e.pay.NotificationHandler("fakepay", func(_ *http.Request, err error) { e.t.Logf("notification: %v", err) }).ServeHTTP(rec, req)
	return rec.status
}

type statusRecorder struct {
	header http.Header
	status int
}

func (r *statusRecorder) Header() http.Header { return r.header }
func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return len(b), nil
}
func (r *statusRecorder) WriteHeader(code int) { r.status = code }

func (e *payEnv) paid(o *commerce.Order) (*commerce.Order, *payment.Payment) {
	e.t.Helper()
	p := e.open(o)
	req, err := e.fake.Pay(p.PaymentNo)
	require.NoError(e.t, err)
	require.Equal(e.t, http.StatusNoContent, e.deliver(req))
	got, err := e.svc.GetOrder(e.ctx, o.MerchantID, o.ID)
	require.NoError(e.t, err)
	p, err = e.pay.GetPayment(e.ctx, o.MerchantID, p.ID)
	require.NoError(e.t, err)
	return got, p
}

// ledgerSum returns the sum of an order's ledger entries and the sum per party.
func (e *payEnv) ledgerSum(o *commerce.Order) (commerce.Money, map[payment.Party]commerce.Money) {
	e.t.Helper()
	entries, err := e.pay.Ledger(e.ctx, o.MerchantID, o.ID)
	require.NoError(e.t, err)
	sum := CNY("0")
	parties := map[payment.Party]commerce.Money{}
	for _, en := range entries {
		sum, err = sum.Add(en.Amount)
		require.NoError(e.t, err)
		if _, ok := parties[en.Party]; !ok {
			parties[en.Party] = CNY("0")
		}
		parties[en.Party], _ = parties[en.Party].Add(en.Amount)
	}
	return sum, parties
}

func (e *payEnv) assertLedgerBalances(o *commerce.Order, p *payment.Payment) {
	e.t.Helper()
	sum, _ := e.ledgerSum(o)
	want, _ := p.Amount.Sub(p.RefundedAmount())
	if p.Status != payment.Succeeded {
		want = CNY("0")
	}
	assert.Equal(e.t, want.String(), sum.String(), "ledger = paid - refunded")
}

func testPayAndNotify(t *testing.T, h Harness) {
	e := newPayEnv(t, h)
	o := e.order("alice", "k1")
	p := e.open(o)
	assert.Equal(t, payment.Pending, p.Status)
	assert.Equal(t, "CNY 116.66", p.Amount.String(), "the amount is the order's, from the server")
	assert.Len(t, p.PaymentNo, 32)

	got, p := e.paid(o)
	assert.Equal(t, commerce.StatusPaid, got.Status)
	assert.Equal(t, p.PaymentNo, got.PaymentRef)
	assert.Equal(t, payment.Succeeded, p.Status)
	assert.NotEmpty(t, p.ProviderRef)
	// Channel 0.6 % of 116.66 = 0.69996 -> 0.70; platform 1 % of 66.66 (home)
	// + 0 % of 50.00 (books) = 0.6666 -> 0.67.
	assert.Equal(t, "CNY 0.70", p.Fees.Channel.String())
	assert.Equal(t, "CNY 0.67", p.Fees.Platform.String())
	sum, parties := e.ledgerSum(got)
	assert.Equal(t, "CNY 116.66", sum.String())
	assert.Equal(t, "CNY 115.29", parties[payment.PartyMerchant].String())
	log, err := e.pay.Notifications(e.ctx, p.PaymentNo)
	require.NoError(t, err)
	require.Len(t, log, 1)
	assert.Equal(t, payment.Applied, log[0].Outcome)

	// A notification that fails the channel's verification changes nothing.
	req, err := e.fake.Pay(p.PaymentNo)
	require.NoError(t, err)
	req.Header.Set(fakepay.SignatureHeader, "00"+req.Header.Get(fakepay.SignatureHeader)[2:])
	assert.Equal(t, http.StatusBadRequest, e.deliver(req))
}

func testPayIdempotent(t *testing.T, h Harness) {
	e := newPayEnv(t, h)
	o := e.order("alice", "k1")
	p1 := e.open(o)
	p2 := e.open(o)
	assert.Equal(t, p1.ID, p2.ID, "paying again reuses the open payment")
	assert.Equal(t, p1.PaymentNo, p2.PaymentNo)
	ps, err := e.pay.OrderPayments(e.ctx, o.MerchantID, o.ID)
	require.NoError(t, err)
	assert.Len(t, ps, 1)

	// A channel outage leaves the payment pending; the next Pay retries it.
	o2 := e.order("bob", "k1")
	e.fake.FailNext("CreatePayment", errors.New("timeout"))
	_, _, err = e.pay.Pay(e.ctx, payment.PayParams{MerchantID: o2.MerchantID, OrderID: o2.ID})
	assert.ErrorIs(t, err, commerce.ErrUnavailable)
	p3 := e.open(o2)
	ps, err = e.pay.OrderPayments(e.ctx, o2.MerchantID, o2.ID)
	require.NoError(t, err)
	require.Len(t, ps, 1)
	assert.Equal(t, ps[0].ID, p3.ID)

	_, _ = e.paid(o)
	_, _, err = e.pay.Pay(e.ctx, payment.PayParams{MerchantID: o.MerchantID, OrderID: o.ID})
	assert.ErrorIs(t, err, commerce.ErrFailedPrecondition, "a paid order takes no second payment")
	_, _, err = e.pay.Pay(e.ctx, payment.PayParams{MerchantID: o.MerchantID, OrderID: o.ID, Provider: "alipay"})
	assert.Equal(t, "provider", fieldOf(err))
	_, _, err = e.pay.Pay(e.ctx, payment.PayParams{MerchantID: o.MerchantID, OrderID: commerce.OrderID{}})
	assert.ErrorIs(t, err, commerce.ErrNotFound)
}

func fieldOf(err error) string {
	var e *commerce.Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

func testDuplicateNotifications(t *testing.T, h Harness) {
	e := newPayEnv(t, h)
	o := e.order("alice", "k1")
	p := e.open(o)
	first, err := e.fake.Pay(p.PaymentNo)
	require.NoError(t, err)
	// The same notification, delivered by many goroutines at once.
	reqs := make([]*http.Request, h.Concurrency)
	for i := range reqs {
		reqs[i] = cloneRequest(t, first)
	}
	var wg sync.WaitGroup
	outcomes := make([]payment.Outcome, len(reqs))
	errs := make([]error, len(reqs))
	for i := range reqs {
		wg.Go(func() { outcomes[i], errs[i] = e.pay.HandleNotification(e.ctx, "fakepay", reqs[i]) })
	}
	wg.Wait()
	applied := 0
	for i := range reqs {
		require.NoError(t, errs[i])
		if outcomes[i] == payment.Applied {
			applied++
		}
	}
	assert.Equal(t, 1, applied, "one notification changes state, the rest are duplicates")
	got, err := e.svc.GetOrder(e.ctx, o.MerchantID, o.ID)
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusPaid, got.Status)
	assert.EqualValues(t, 2, got.Version, "created, then paid once")
	entries, err := e.pay.Ledger(e.ctx, o.MerchantID, o.ID)
	require.NoError(t, err)
	assert.Len(t, entries, 3, "one set of ledger entries")
	paidEvents := 0
	events, err := e.store.ReadEvents(e.ctx, 0, 1000)
	require.NoError(t, err)
	for _, ev := range events {
		if ev.Type == "order.paid" {
			paidEvents++
		}
	}
	assert.Equal(t, 1, paidEvents)
}

func cloneRequest(t *testing.T, r *http.Request) *http.Request {
	t.Helper()
	body, err := r.GetBody()
	require.NoError(t, err)
	c := r.Clone(context.Background())
	c.Body = body
	return c
}

func testNotificationMismatch(t *testing.T, h Harness) {
	e := newPayEnv(t, h)
	o := e.order("alice", "k1")
	p := e.open(o)
	forge := func(mutate func(*payment.Transaction)) error {
		tx := &payment.Transaction{PaymentNo: p.PaymentNo, ProviderRef: "fp_tx_forged", State: payment.TxSucceeded,
			Amount: p.Amount, PaidAt: Epoch}
		mutate(tx)
		req, err := e.fake.Notification(&payment.Notification{Kind: payment.NotifyPayment, EventType: "TRANSACTION.SUCCESS", Transaction: tx})
		require.NoError(t, err)
		_, err = e.pay.HandleNotification(e.ctx, "fakepay", req)
		return err
	}
	cases := map[string]func(*payment.Transaction){
		"less money":       func(tx *payment.Transaction) { tx.Amount = CNY("0.01") },
		"more money":       func(tx *payment.Transaction) { tx.Amount = CNY("1116.66") },
		"another currency": func(tx *payment.Transaction) { tx.Amount = commerce.MustParseMoney("116.66", currency.USD) },
		"unknown payment":  func(tx *payment.Transaction) { tx.PaymentNo = "ffffffffffffffffffffffffffffffff" },
	}
	for name, mutate := range cases {
		err := forge(mutate)
		assert.ErrorIs(t, err, payment.ErrRejected, name)
		assert.ErrorIs(t, err, commerce.ErrInvalid, name)
	}
	got, err := e.svc.GetOrder(e.ctx, o.MerchantID, o.ID)
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusPendingPayment, got.Status, "a mismatched notification never marks the order paid")
	pp, err := e.pay.GetPayment(e.ctx, o.MerchantID, p.ID)
	require.NoError(t, err)
	assert.Equal(t, payment.Pending, pp.Status)
	log, err := e.pay.Notifications(e.ctx, p.PaymentNo)
	require.NoError(t, err)
	require.Len(t, log, 3, "each rejection is recorded")
	for _, n := range log {
		assert.Equal(t, payment.Rejected, n.Outcome)
		assert.Contains(t, n.Reason, "the order takes CNY 116.66")
	}
	unknown, err := e.pay.Notifications(e.ctx, "ffffffffffffffffffffffffffffffff")
	require.NoError(t, err)
	require.Len(t, unknown, 1)
	assert.Equal(t, payment.Rejected, unknown[0].Outcome)
	entries, err := e.pay.Ledger(e.ctx, o.MerchantID, o.ID)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

func testCancelClosesPayment(t *testing.T, h Harness) {
	e := newPayEnv(t, h)
	o := e.order("alice", "k1")
	p := e.open(o)
	_, err := e.svc.Cancel(e.ctx, o.MerchantID, o.ID, "changed my mind")
	require.NoError(t, err)
	p, err = e.pay.GetPayment(e.ctx, o.MerchantID, p.ID)
	require.NoError(t, err)
	assert.Equal(t, payment.Closed, p.Status)
	assert.True(t, p.CloseAtProvider)

	// Unpaid and timed out: RunDue cancels the order, which closes its payment.
	o2 := e.order("bob", "k1")
	p2 := e.open(o2)
	e.advance(31 * time.Minute)
	runDue(t, e.engine, e.ctx)
	got, err := e.svc.GetOrder(e.ctx, o2.MerchantID, o2.ID)
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusCancelled, got.Status)
	for _, id := range []payment.PaymentID{p.ID, p2.ID} {
		pp, err := e.pay.GetPayment(e.ctx, o.MerchantID, id)
		require.NoError(t, err)
		assert.Equal(t, payment.Closed, pp.Status)
	}
	// The channel has been told (both by the same or the next RunDue).
	runDue(t, e.engine, e.ctx)
	assert.Equal(t, 2, e.fake.Calls("ClosePayment"))
	for _, id := range []payment.PaymentID{p.ID, p2.ID} {
		pp, err := e.pay.GetPayment(e.ctx, o.MerchantID, id)
		require.NoError(t, err)
		assert.False(t, pp.CloseAtProvider)
	}
	closing, err := e.store.PaymentsToClose(e.ctx, 10)
	require.NoError(t, err)
	assert.Empty(t, closing)
}

func testPaidAfterCancel(t *testing.T, h Harness) {
	e := newPayEnv(t, h)
	o := e.order("alice", "k1")
	p := e.open(o)
	// The payer pays just as the order is cancelled: the money arrives for a
	// cancelled order and goes back in full.
	req, err := e.fake.Pay(p.PaymentNo)
	require.NoError(t, err)
	_, err = e.svc.Cancel(e.ctx, o.MerchantID, o.ID, "")
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, e.deliver(req))

	got, err := e.svc.GetOrder(e.ctx, o.MerchantID, o.ID)
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusCancelled, got.Status, "a cancelled order stays cancelled")
	p, err = e.pay.GetPayment(e.ctx, o.MerchantID, p.ID)
	require.NoError(t, err)
	assert.Equal(t, payment.Succeeded, p.Status)
	assert.True(t, p.Orphaned)
	require.Len(t, p.Refunds, 1)
	assert.Equal(t, payment.RefundSucceeded, p.Refunds[0].Status)
	assert.Equal(t, p.Amount.String(), p.Refunds[0].Amount.String())
	sum, parties := e.ledgerSum(got)
	assert.Equal(t, "CNY 0.00", sum.String(), "everything paid went back")
	assert.True(t, parties[payment.PartyChannel].IsZero(), "the channel fee came back too")
}

func testPaymentPartialRefunds(t *testing.T, h Harness) {
	e := newPayEnv(t, h)
	o, p := e.paid(e.order("alice", "k1"))
	refund := func(key string, items ...commerce.RefundItem) {
		_, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: o.MerchantID, OrderID: o.ID, IdempotencyKey: key, Items: items})
		require.NoError(t, err)
	}
	refund("r1", commerce.RefundItem{Line: 0, Quantity: 1})
	p, err := e.pay.GetPayment(e.ctx, o.MerchantID, p.ID)
	require.NoError(t, err)
	require.Len(t, p.Refunds, 1)
	assert.Equal(t, "CNY 33.33", p.Refunds[0].Amount.String())
	assert.Len(t, p.Refunds[0].RefundNo, 32)
	e.assertLedgerBalances(o, p)
	_, parties := e.ledgerSum(o)
	// Channel fee 0.70 × (116.66-33.33)/116.66 = 0.5000 -> 0.50 kept.
	assert.Equal(t, "CNY 0.50", parties[payment.PartyChannel].String())

	refund("r1", commerce.RefundItem{Line: 0, Quantity: 1}) // the same key again: no second refund
	refund("r2", commerce.RefundItem{Line: 1, Quantity: 1})
	refund("r3", commerce.RefundItem{Line: 0, Quantity: 1})
	p, err = e.pay.GetPayment(e.ctx, o.MerchantID, p.ID)
	require.NoError(t, err)
	require.Len(t, p.Refunds, 3)
	assert.Equal(t, p.Amount.String(), p.RefundedAmount().String(), "fully refunded, to the fen")
	e.assertLedgerBalances(o, p)
	sum, parties := e.ledgerSum(o)
	assert.True(t, sum.IsZero())
	for party, m := range parties {
		assert.True(t, m.IsZero(), "%s keeps %s after a full refund", party, m)
	}
	got, err := e.svc.GetOrder(e.ctx, o.MerchantID, o.ID)
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusRefunded, got.Status)
	for _, r := range got.Refunds {
		assert.Equal(t, commerce.RefundSucceeded, r.Status)
	}
}

func testRefundNotifications(t *testing.T, h Harness) {
	e := newPayEnv(t, h, fakepay.WithRefundMode(fakepay.RefundLater))
	o, p := e.paid(e.order("alice", "k1"))
	r, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: o.MerchantID, OrderID: o.ID, IdempotencyKey: "r1",
		Items: []commerce.RefundItem{{Line: 1, Quantity: 1}}})
	require.NoError(t, err)
	got, err := e.svc.GetOrder(e.ctx, o.MerchantID, o.ID)
	require.NoError(t, err)
	cr, _ := got.Refund(r.ID)
	assert.Equal(t, commerce.RefundPending, cr.Status, "waiting for the channel")
	p, err = e.pay.GetPayment(e.ctx, o.MerchantID, p.ID)
	require.NoError(t, err)
	require.Len(t, p.Refunds, 1)
	assert.True(t, p.Refunds[0].Submitted)
	e.assertLedgerBalances(o, p)

	done, err := e.fake.CompleteRefund(p.Refunds[0].RefundNo, true)
	require.NoError(t, err)
	again := cloneRequest(t, done)
	require.Equal(t, http.StatusNoContent, e.deliver(done))
	outcome, err := e.pay.HandleNotification(e.ctx, "fakepay", again)
	require.NoError(t, err)
	assert.Equal(t, payment.Duplicate, outcome)
	got, err = e.svc.GetOrder(e.ctx, o.MerchantID, o.ID)
	require.NoError(t, err)
	cr, _ = got.Refund(r.ID)
	assert.Equal(t, commerce.RefundSucceeded, cr.Status)
	p, err = e.pay.GetPayment(e.ctx, o.MerchantID, p.ID)
	require.NoError(t, err)
	assert.Equal(t, "CNY 50.00", p.RefundedAmount().String())
	e.assertLedgerBalances(o, p)

	// A refund whose notification is lost: asking the channel settles it.
	r3, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: o.MerchantID, OrderID: o.ID, IdempotencyKey: "r3",
		Items: []commerce.RefundItem{{Line: 0, Quantity: 1}}})
	require.NoError(t, err)
	p, err = e.pay.GetPayment(e.ctx, o.MerchantID, p.ID)
	require.NoError(t, err)
	lost := p.Refunds[len(p.Refunds)-1]
	p, err = e.pay.ReconcileRefund(e.ctx, o.MerchantID, p.ID, lost.ID)
	require.NoError(t, err)
	assert.Equal(t, payment.RefundProcessing, p.Refunds[len(p.Refunds)-1].Status, "still processing at the channel")
	_, err = e.fake.CompleteRefund(lost.RefundNo, true) // the notification never arrives
	require.NoError(t, err)
	p, err = e.pay.ReconcileRefund(e.ctx, o.MerchantID, p.ID, lost.ID)
	require.NoError(t, err)
	assert.Equal(t, payment.RefundSucceeded, p.Refunds[len(p.Refunds)-1].Status)
	got, err = e.svc.GetOrder(e.ctx, o.MerchantID, o.ID)
	require.NoError(t, err)
	cr, _ = got.Refund(r3.ID)
	assert.Equal(t, commerce.RefundSucceeded, cr.Status)
	e.assertLedgerBalances(o, p)

	// A refund the channel gives up on: the kernel's refund fails, and the
	// units can be refunded again.
	r2, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: o.MerchantID, OrderID: o.ID, IdempotencyKey: "r2",
		Items: []commerce.RefundItem{{Line: 0, Quantity: 1}}})
	require.NoError(t, err)
	p, err = e.pay.GetPayment(e.ctx, o.MerchantID, p.ID)
	require.NoError(t, err)
	failed, err := e.fake.CompleteRefund(p.Refunds[len(p.Refunds)-1].RefundNo, false)
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, e.deliver(failed))
	got, err = e.svc.GetOrder(e.ctx, o.MerchantID, o.ID)
	require.NoError(t, err)
	cr, _ = got.Refund(r2.ID)
	assert.Equal(t, commerce.RefundFailed, cr.Status)
	p, err = e.pay.GetPayment(e.ctx, o.MerchantID, p.ID)
	require.NoError(t, err)
	assert.Equal(t, "CNY 83.33", p.RefundedAmount().String(), "a failed refund returns nothing")
	assert.Equal(t, "CNY 83.33", p.Committed().String())
	e.assertLedgerBalances(o, p)
}

func testPaymentConcurrentRefunds(t *testing.T, h Harness) {
	e := newPayEnv(t, h)
	o, p := e.paid(e.order("alice", "k1"))
	var wg sync.WaitGroup
	for i := range h.Concurrency {
		wg.Go(func() {
			// Everyone asks for everything left, each with its own key.
			_, err := e.svc.Refund(e.ctx, commerce.RefundParams{All: true, MerchantID: o.MerchantID, OrderID: o.ID, IdempotencyKey: fmt.Sprintf("r%d", i)})
			if err != nil && !errors.Is(err, commerce.ErrRefundExceeded) && !errors.Is(err, commerce.ErrIllegalTransition) {
				t.Errorf("refund %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	p, err := e.pay.GetPayment(e.ctx, o.MerchantID, p.ID)
	require.NoError(t, err)
	assert.Len(t, p.Refunds, 1, "one refund took everything; the others found nothing left")
	assert.Equal(t, p.Amount.String(), p.RefundedAmount().String())
	assert.Equal(t, p.Amount.String(), p.Committed().String(), "never more than was paid")
	e.assertLedgerBalances(o, p)
}

func testRefundAfterOutage(t *testing.T, h Harness) {
	e := newPayEnv(t, h)
	o, p := e.paid(e.order("alice", "k1"))
	e.fake.FailNext("Refund", errors.New("connection reset"))
	_, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: o.MerchantID, OrderID: o.ID, IdempotencyKey: "r1",
		Items: []commerce.RefundItem{{Line: 1, Quantity: 1}}})
	assert.ErrorIs(t, err, commerce.ErrUnavailable, "the refund is committed but did not reach the channel")
	p, err = e.pay.GetPayment(e.ctx, o.MerchantID, p.ID)
	require.NoError(t, err)
	require.Len(t, p.Refunds, 1)
	assert.False(t, p.Refunds[0].Submitted)

	runDue(t, e.engine, e.ctx)
	p, err = e.pay.GetPayment(e.ctx, o.MerchantID, p.ID)
	require.NoError(t, err)
	assert.Equal(t, payment.RefundSucceeded, p.Refunds[0].Status)
	assert.Equal(t, 2, e.fake.Calls("Refund"))
	got, err := e.svc.GetOrder(e.ctx, o.MerchantID, o.ID)
	require.NoError(t, err)
	assert.Equal(t, "CNY 50.00", got.Refunded().String())
	assert.Equal(t, commerce.RefundSucceeded, got.Refunds[0].Status)
	e.assertLedgerBalances(o, p)
}

func testReconcile(t *testing.T, h Harness) {
	e := newPayEnv(t, h)
	o := e.order("alice", "k1")
	p := e.open(o)
	p, err := e.pay.Reconcile(e.ctx, o.MerchantID, p.ID)
	require.NoError(t, err)
	assert.Equal(t, payment.Pending, p.Status, "not paid yet")
	_, err = e.fake.Pay(p.PaymentNo) // the notification is lost
	require.NoError(t, err)
	p, err = e.pay.Reconcile(e.ctx, o.MerchantID, p.ID)
	require.NoError(t, err)
	assert.Equal(t, payment.Succeeded, p.Status)
	got, err := e.svc.GetOrder(e.ctx, o.MerchantID, o.ID)
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusPaid, got.Status)
	e.assertLedgerBalances(got, p)
}

func testFailedPayment(t *testing.T, h Harness) {
	e := newPayEnv(t, h)
	o := e.order("alice", "k1")
	p := e.open(o)
	req, err := e.fake.Fail(p.PaymentNo)
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, e.deliver(req))
	p, err = e.pay.GetPayment(e.ctx, o.MerchantID, p.ID)
	require.NoError(t, err)
	assert.Equal(t, payment.Failed, p.Status)
	got, err := e.svc.GetOrder(e.ctx, o.MerchantID, o.ID)
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusPendingPayment, got.Status, "a failed payment leaves the order waiting")

	// The customer tries again: a new payment, which succeeds.
	p2 := e.open(o)
	assert.NotEqual(t, p.ID, p2.ID)
	got, p2 = e.paid(o)
	assert.Equal(t, commerce.StatusPaid, got.Status)
	assert.Equal(t, p2.PaymentNo, got.PaymentRef)
	ps, err := e.pay.OrderPayments(e.ctx, o.MerchantID, o.ID)
	require.NoError(t, err)
	require.Len(t, ps, 2)
	assert.Equal(t, payment.Failed, ps[0].Status)
	assert.Equal(t, payment.Succeeded, ps[1].Status)
	e.assertLedgerBalances(got, p2)
}
