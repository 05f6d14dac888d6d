package storetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	. "github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/fakepay"
	"github.com/minishop/minishop/storedvalue"
)

func runStoredValue(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"TopUpSpendRefund", testSVTopUpSpendRefund},
		{"SpendRace", testSVSpendRace},
		{"RefundRacingSpend", testSVRefundRacingSpend},
		{"TopUpRefundOnlyUnspent", testSVTopUpRefundUnspent},
		{"CancelReleases", testSVCancelReleases},
		{"BadInput", testSVBadInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

type svEnv struct {
	*env
	engine *minishop.Engine
	sv     *storedvalue.Service
	fake   *fakepay.Provider
	shop   *Shop
	m      commerce.MerchantID
	seq    atomic.Int64
}

// newSVEnv: a 100.00 top-up card (SKU 0,0) with a 20.00 bonus, tea at
// 60.00 and a cup at 7.00 (stock 1,000 each), paid through fakepay.
func newSVEnv(t *testing.T, h Harness) *svEnv {
	t.Helper()
	e := &env{t: t, ctx: t.Context(), store: h.New(t), clock: NewClock(Epoch)}
	fake := fakepay.New(fakepay.WithClock(e.clock.Now))
	engine, err := minishop.New(e.store, minishop.WithClock(e.clock), minishop.WithIDs(&SeqIDs{}), minishop.WithPayments(fake))
	require.NoError(t, err)
	e.svc = engine.Commerce
	se := &svEnv{env: e, engine: engine, sv: engine.StoredValue, fake: fake}
	se.shop = NewShop(t, e.svc, "储值店", freeShipping,
		ProductSpec{Title: "储值卡 100", Category: storedvalue.Category, Prices: []string{"100.00"}, Stock: 1000},
		ProductSpec{Title: "Longjing tea", Category: "tea", Prices: []string{"60.00"}, Stock: 1000},
		ProductSpec{Title: "Cup", Category: "tea", Prices: []string{"7.00"}, Stock: 1000})
	se.m = se.shop.Merchant.ID
	require.NoError(t, se.sv.SetTopUpPlan(e.ctx, storedvalue.TopUpPlan{MerchantID: se.m, SKU: se.shop.SKU(0, 0), Bonus: CNY("20.00")}))
	return se
}

func (e *svEnv) buy(customer string, sku commerce.SKUID, qty int64, exts ...commerce.Extension) (*commerce.Order, error) {
	return e.svc.Checkout(e.ctx, commerce.CheckoutParams{MerchantID: e.m, CustomerID: commerce.CustomerID(customer),
		Lines: []commerce.LineItem{{SKU: sku, Quantity: qty}}, ShippingAddress: Address(),
		IdempotencyKey: fmt.Sprintf("k%d", e.seq.Add(1)), Extensions: commerce.With(exts...)})
}

// pay pays the order's channel part through fakepay.
func (e *svEnv) pay(o *commerce.Order) {
	e.t.Helper()
	p, _, err := e.engine.Payments.Pay(e.ctx, payment.PayParams{MerchantID: o.MerchantID, OrderID: o.ID})
	require.NoError(e.t, err)
	require.Equal(e.t, o.Due().String(), p.Amount.String(), "the channel collects the order's due")
	req, err := e.fake.Pay(p.PaymentNo)
	require.NoError(e.t, err)
	_, err = e.engine.Payments.HandleNotification(e.ctx, "fakepay", req)
	require.NoError(e.t, err)
}

func (e *svEnv) topUp(customer string, qty int64) *commerce.Order {
	e.t.Helper()
	o, err := e.buy(customer, e.shop.SKU(0, 0), qty)
	require.NoError(e.t, err)
	e.pay(o)
	return o
}

// balance returns the account's principal and bonus, after checking that
// they are what its ledger sums to.
func (e *svEnv) balance(customer string) (string, string) {
	e.t.Helper()
	a, err := e.sv.Account(e.ctx, e.m, commerce.CustomerID(customer))
	require.NoError(e.t, err)
	p, b := commerce.Zero(a.Principal.Currency()), commerce.Zero(a.Principal.Currency())
	var after int64
	for {
		es, err := e.sv.Statement(e.ctx, e.m, commerce.CustomerID(customer), after, 100)
		require.NoError(e.t, err)
		for _, en := range es {
			p, _ = p.Add(en.Principal)
			b, _ = b.Add(en.Bonus)
			after = en.Seq
		}
		if len(es) < 100 {
			break
		}
	}
	require.Equal(e.t, a.Entries, after, "every entry is in the statement")
	require.Equal(e.t, a.Principal.String(), p.String(), "principal is the ledger's sum")
	require.Equal(e.t, a.Bonus.String(), b.String(), "bonus is the ledger's sum")
	return a.Principal.String(), a.Bonus.String()
}

func (e *svEnv) refundAll(o *commerce.Order, key string) (*commerce.Refund, error) {
	return e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: e.m, OrderID: o.ID, All: true, IdempotencyKey: key})
}

func testSVTopUpSpendRefund(t *testing.T, h Harness) {
	e := newSVEnv(t, h)
	e.topUp("amy", 1)
	p, b := e.balance("amy")
	assert.Equal(t, "CNY 100.00", p)
	assert.Equal(t, "CNY 20.00", b, "充100送20")

	// 60.00 of tea, 50.00 from the balance: bonus 50 × 20/120 = 8.33.
	o, err := e.buy("amy", e.shop.SKU(1, 0), 1, storedvalue.Spend(CNY("50.00")))
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusPendingPayment, o.Status)
	assert.Equal(t, "CNY 10.00", o.Due().String())
	e.pay(o)
	p, b = e.balance("amy")
	assert.Equal(t, "CNY 58.33", p)
	assert.Equal(t, "CNY 11.67", b)

	// A partial refund of the 60.00 order returns 50/60 of it to the
	// balance and the rest through the channel.
	r, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: e.m, OrderID: o.ID, All: true, IdempotencyKey: "r1"})
	require.NoError(t, err)
	require.Len(t, r.Tenders, 1)
	assert.Equal(t, "CNY 50.00", r.Tenders[0].String())
	assert.Equal(t, "CNY 10.00", r.Channel().String())
	pays, err := e.engine.Payments.OrderPayments(e.ctx, e.m, o.ID)
	require.NoError(t, err)
	require.Len(t, pays, 1)
	assert.Equal(t, "CNY 10.00", pays[0].RefundedAmount().String(), "the channel returned its part")
	p, b = e.balance("amy")
	assert.Equal(t, "CNY 100.00", p, "the spend came back as it went")
	assert.Equal(t, "CNY 20.00", b)

	// The whole balance pays a 60.00 order at checkout.
	o2, err := e.buy("amy", e.shop.SKU(1, 0), 1, storedvalue.Spend(CNY("60.00")))
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusPaid, o2.Status, "nothing left for the channel")
	p, b = e.balance("amy")
	assert.Equal(t, "CNY 50.00", p)
	assert.Equal(t, "CNY 10.00", b)
}

// testSVSpendRace: 32 checkouts at once, each spending 7.00 of a 100.00
// balance (a cup the balance pays in full): exactly 14 succeed.
func testSVSpendRace(t *testing.T, h Harness) {
	e := newSVEnv(t, h)
	require.NoError(t, e.sv.SetTopUpPlan(e.ctx, storedvalue.TopUpPlan{MerchantID: e.m, SKU: e.shop.SKU(0, 0), Bonus: CNY("0.00")}))
	e.topUp("bo", 1)
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			_, err := e.buy("bo", e.shop.SKU(2, 0), 1, storedvalue.Spend(CNY("7.00")))
			switch {
			case err == nil:
				ok.Add(1)
			case assert.ErrorIs(t, err, storedvalue.ErrInsufficient):
				refused.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(14), ok.Load(), "100.00 pays 14 cups of 7.00")
	assert.Equal(t, int64(18), refused.Load())
	p, b := e.balance("bo")
	assert.Equal(t, "CNY 2.00", p)
	assert.Equal(t, "CNY 0.00", b)
}

// testSVRefundRacingSpend: an order's refund back to the balance races
// checkouts spending it; the balance never goes below zero and ends at
// what the ledger says.
func testSVRefundRacingSpend(t *testing.T, h Harness) {
	e := newSVEnv(t, h)
	e.topUp("cy", 1) // 100.00 + 20.00
	o, err := e.buy("cy", e.shop.SKU(1, 0), 1, storedvalue.Spend(CNY("60.00")))
	require.NoError(t, err)
	require.Equal(t, commerce.StatusPaid, o.Status)
	var spent atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		_, err := e.refundAll(o, "back")
		assert.NoError(t, err)
	})
	for range 12 {
		wg.Go(func() {
			_, err := e.buy("cy", e.shop.SKU(2, 0), 1, storedvalue.Spend(CNY("7.00")))
			if err == nil {
				spent.Add(700)
			} else {
				assert.ErrorIs(t, err, storedvalue.ErrInsufficient)
			}
		})
	}
	wg.Wait()
	a, err := e.sv.Account(e.ctx, e.m, "cy")
	require.NoError(t, err)
	e.balance("cy")
	left, _ := a.Balance().Minor()
	assert.Equal(t, int64(120_00-spent.Load()), left, "the refund came back in full, the spends went out")
	assert.GreaterOrEqual(t, left, int64(0))
}

func testSVTopUpRefundUnspent(t *testing.T, h Harness) {
	e := newSVEnv(t, h)
	top := e.topUp("di", 1)
	_, err := e.buy("di", e.shop.SKU(1, 0), 1, storedvalue.Spend(CNY("60.00")))
	require.NoError(t, err)
	p0, b0 := e.balance("di") // 100 - 50.00 principal, 20 - 10.00 bonus
	assert.Equal(t, "CNY 50.00", p0)

	_, err = e.refundAll(top, "all")
	require.ErrorIs(t, err, storedvalue.ErrSpent, "50.00 of the 100.00 is spent")
	p, b := e.balance("di")
	assert.Equal(t, p0, p, "nothing changed")
	assert.Equal(t, b0, b)
	got, err := e.svc.GetOrder(e.ctx, e.m, top.ID)
	require.NoError(t, err)
	assert.Empty(t, got.Refunds)

	// Two top-ups later, the first top-up's refund returns its 100.00 and
	// forfeits its 20.00 bonus, never more than it paid.
	second := e.topUp("di", 1)
	_, err = e.refundAll(top, "all2")
	require.NoError(t, err)
	p, b = e.balance("di")
	assert.Equal(t, "CNY 50.00", p)
	assert.Equal(t, "CNY 10.00", b)
	pays, err := e.engine.Payments.OrderPayments(e.ctx, e.m, top.ID)
	require.NoError(t, err)
	assert.Equal(t, "CNY 100.00", pays[0].RefundedAmount().String())
	_ = second
}

func testSVCancelReleases(t *testing.T, h Harness) {
	e := newSVEnv(t, h)
	e.topUp("ed", 1)
	o, err := e.buy("ed", e.shop.SKU(1, 0), 1, storedvalue.Spend(CNY("30.00")))
	require.NoError(t, err)
	p, _ := e.balance("ed")
	assert.Equal(t, "CNY 75.00", p)
	_, err = e.svc.Cancel(e.ctx, e.m, o.ID, "changed my mind")
	require.NoError(t, err)
	p, b := e.balance("ed")
	assert.Equal(t, "CNY 100.00", p, "a cancelled order gives its spend back")
	assert.Equal(t, "CNY 20.00", b)

	// An unpaid order RunDue cancels gives it back too.
	_, err = e.buy("ed", e.shop.SKU(1, 0), 1, storedvalue.Spend(CNY("30.00")))
	require.NoError(t, err)
	e.advance(48 * 3600 * 1e9)
	_, err = e.engine.RunDue(e.ctx)
	require.NoError(t, err)
	p, b = e.balance("ed")
	assert.Equal(t, "CNY 100.00", p)
	assert.Equal(t, "CNY 20.00", b)
}

func testSVBadInput(t *testing.T, h Harness) {
	e := newSVEnv(t, h)
	e.topUp("fay", 1)
	stock := func() int64 {
		p, err := e.svc.GetProduct(e.ctx, e.m, e.shop.Products[1].ID)
		require.NoError(t, err)
		return p.SKUs[0].Stock
	}
	before := stock()
	field := func(err error) string {
		var ce *commerce.Error
		require.ErrorAs(t, err, &ce)
		return ce.Field
	}
	cases := []struct {
		name string
		qty  int64
		ext  commerce.Extension
		kind error
	}{
		{"more than the balance", 3, storedvalue.Spend(CNY("120.01")), storedvalue.ErrInsufficient},
		{"more than the order", 1, storedvalue.Spend(CNY("60.01")), commerce.ErrInvalid},
		{"zero", 1, storedvalue.Spend(CNY("0.00")), commerce.ErrInvalid},
		{"unset", 1, storedvalue.Spend(commerce.Money{}), commerce.ErrInvalid},
	}
	for _, tc := range cases {
		_, err := e.buy("fay", e.shop.SKU(1, 0), tc.qty, tc.ext)
		require.ErrorIs(t, err, tc.kind, tc.name)
		assert.Equal(t, "extensions.storedvalue", field(err), tc.name)
	}
	_, err := e.buy("nobody", e.shop.SKU(1, 0), 1, storedvalue.Spend(CNY("1.00")))
	require.ErrorIs(t, err, storedvalue.ErrInsufficient, "no account, no balance")
	_, err = e.buy("fay", e.shop.SKU(0, 0), 1, storedvalue.Spend(CNY("1.00")))
	require.ErrorIs(t, err, commerce.ErrInvalid, "a top-up is not paid from the balance")
	_, err = e.svc.Checkout(e.ctx, commerce.CheckoutParams{MerchantID: e.m, CustomerID: "fay", ShippingAddress: Address(), IdempotencyKey: "mix",
		Lines: []commerce.LineItem{{SKU: e.shop.SKU(0, 0), Quantity: 1}, {SKU: e.shop.SKU(1, 0), Quantity: 1}}})
	require.ErrorIs(t, err, commerce.ErrInvalid)
	assert.Equal(t, "lines", field(err))
	err = e.sv.SetTopUpPlan(e.ctx, storedvalue.TopUpPlan{MerchantID: e.m, SKU: e.shop.SKU(1, 0), Bonus: CNY("1.00")})
	require.ErrorIs(t, err, commerce.ErrInvalid, "tea is not a top-up")
	err = e.sv.SetTopUpPlan(e.ctx, storedvalue.TopUpPlan{MerchantID: e.m, SKU: e.shop.SKU(0, 0), Bonus: CNY("-1.00")})
	require.ErrorIs(t, err, commerce.ErrInvalid)
	assert.Equal(t, "bonus", field(err))

	assert.Equal(t, before, stock(), "nothing sold")
	p, b := e.balance("fay")
	assert.Equal(t, "CNY 100.00", p, "nothing spent")
	assert.Equal(t, "CNY 20.00", b)
}
