package storetest

import (
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/currency"
	"golang.org/x/text/language"

	"github.com/minishop/minishop/commerce"
	. "github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/coupons"
	"github.com/minishop/minishop/membership"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/fakepay"
)

// The rates the cross-border channel applies: CNY per unit.
var (
	rateHKD = decimal.RequireFromString("0.91234567")
	rateJPY = decimal.RequireFromString("0.04812345")
)

func runCrossBorder(t *testing.T, h Harness) {
	t.Run("HKDShop", func(t *testing.T) {
		testCrossBorder(t, h, crossBorderCase{cur: currency.HKD, prices: []string{"80.00", "12.35"},
			total: "172.35", refund: "80.00", payer: "157.24", payerRefund: "72.99", shown: "HK$172.35"})
	})
	t.Run("JPYShop", func(t *testing.T) {
		// The yen has no minor unit: amounts are whole yen, everywhere.
		testCrossBorder(t, h, crossBorderCase{cur: currency.JPY, prices: []string{"1235", "500"},
			total: "2970", refund: "1235", payer: "142.93", payerRefund: "59.43", shown: "¥2,970", minor: 2970})
	})
	t.Run("RefundsAddUpToWhatThePayerPaid", func(t *testing.T) { testCrossBorderFullRefund(t, h) })
	t.Run("YenCouponAndPoints", func(t *testing.T) { testCrossBorderYenPlugins(t, h) })
	t.Run("MismatchRefused", func(t *testing.T) { testCrossBorderMismatch(t, h) })
}

type crossBorderCase struct {
	cur                currency.Unit
	prices             []string
	total, refund      string // in cur
	payer, payerRefund string // CNY
	shown              string // the total for people, in Japanese for JPY, Chinese (Hong Kong) for HKD
	minor              int64  // the total in minor units, when checked
}

// newCrossBorderEnv is a payment world whose channel takes payments in
// HKD and JPY from CNY wallets, and a shop pricing in cur.
func newCrossBorderEnv(t *testing.T, h Harness, cur currency.Unit, prices ...string) (*payEnv, *Shop) {
	e := newPayEnv(t, h, fakepay.WithExchange(currency.CNY, map[currency.Unit]decimal.Decimal{currency.HKD: rateHKD, currency.JPY: rateJPY}))
	m, err := e.svc.CreateMerchant(e.ctx, commerce.MerchantParams{Currency: cur.String(), Profile: commerce.ShopProfile{Name: "Harbour Tea " + cur.String()}})
	require.NoError(t, err)
	p := commerce.ProductParams{MerchantID: m.ID, Title: "Tieguanyin", Category: "tea", State: commerce.Listed}
	for i, price := range prices {
		p.SKUs = append(p.SKUs, commerce.SKUParams{Attributes: []commerce.Attribute{{Name: "tin", Value: string(rune('A' + i))}},
			Price: commerce.MustParseMoney(price, cur), Stock: 20})
	}
	prod, err := e.svc.CreateProduct(e.ctx, p)
	require.NoError(t, err)
	return e, &Shop{Merchant: m, Products: []*commerce.Product{prod}}
}

// A shop pricing in its own currency sells to a CNY wallet: the order and
// the payment are in the shop's currency to the minor unit, the payer's
// CNY and the channel's rate are recorded beside them (never converted by
// minishop), a partial refund returns the shop's currency and records the
// CNY the payer got back, and the order settles with a ledger in the
// shop's currency.
func testCrossBorder(t *testing.T, h Harness, c crossBorderCase) {
	e, shop := newCrossBorderEnv(t, h, c.cur, c.prices...)
	money := func(s string) commerce.Money { return commerce.MustParseMoney(s, c.cur) }
	o := e.mustBuy(shop, "mei", "cb1", line(shop.SKU(0, 0), 2), line(shop.SKU(0, 1), 1))
	require.True(t, o.Total.Equal(money(c.total)), "total %s", o.Total)
	assert.Equal(t, c.cur.String()+" "+c.total, o.Total.String())
	if c.minor != 0 {
		minor, err := o.Total.Minor()
		require.NoError(t, err)
		assert.Equal(t, c.minor, minor, "whole yen are the minor unit")
	}
	assert.Equal(t, c.shown, o.Total.Format(language.English), "for people, with the currency's own minor unit")

	o, p := e.paid(o)
	assert.Equal(t, commerce.StatusPaid, o.Status)
	assert.True(t, p.Amount.Equal(money(c.total)), "the payment is in the shop's currency: %s", p.Amount)
	require.NotNil(t, p.Exchange, "the payer's side is recorded")
	assert.True(t, p.Exchange.Payer.Equal(commerce.MustParseMoney(c.payer, currency.CNY)), "the payer paid %s", p.Exchange.Payer)
	rate := rateHKD
	if c.cur == currency.JPY {
		rate = rateJPY
	}
	assert.True(t, p.Exchange.Rate.Equal(rate), "rate %s", p.Exchange.Rate)
	assert.Equal(t, "SETTLEMENT_RATE", p.Exchange.RateType)
	assert.True(t, o.Paid.Equal(money(c.total)), "the order was paid %s", o.Paid)
	assert.True(t, o.PayerPaid.Equal(p.Exchange.Payer), "the order shows the payer's side too: %s", o.PayerPaid)

	rf, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: o.MerchantID, OrderID: o.ID,
		Items: []commerce.RefundItem{{Line: 0, Quantity: 1}}, Reason: "one tin dented", IdempotencyKey: "cb-r1"})
	require.NoError(t, err)
	assert.True(t, rf.Amount.Equal(money(c.refund)), "refunded in the shop's currency: %s", rf.Amount)
	_, err = e.pay.RunDue(e.ctx) // submits the refund; fakepay answers at once
	require.NoError(t, err)
	p, err = e.pay.GetPayment(e.ctx, o.MerchantID, p.ID)
	require.NoError(t, err)
	require.Len(t, p.Refunds, 1)
	r := p.Refunds[0]
	assert.Equal(t, payment.RefundSucceeded, r.Status)
	assert.True(t, r.Amount.Equal(money(c.refund)))
	require.NotNil(t, r.Exchange, "the CNY the payer got back is recorded")
	assert.True(t, r.Exchange.Payer.Equal(commerce.MustParseMoney(c.payerRefund, currency.CNY)), "the payer got back %s", r.Exchange.Payer)

	// Ship, receive and complete: the order settles.
	_, err = e.svc.Ship(e.ctx, commerce.ShipParams{MerchantID: o.MerchantID, OrderID: o.ID, Shipment: commerce.Shipment{Carrier: "SF Express", TrackingNo: "SF100200300"}})
	require.NoError(t, err)
	_, err = e.svc.ConfirmReceipt(e.ctx, o.MerchantID, o.ID)
	require.NoError(t, err)
	done, err := e.svc.Complete(e.ctx, o.MerchantID, o.ID)
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusCompleted, done.Status)
	assert.True(t, done.PayerPaid.Equal(p.Exchange.Payer), "the stored order keeps the payer's side")

	entries, err := e.pay.Ledger(e.ctx, o.MerchantID, o.ID)
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	sum := commerce.Zero(c.cur)
	for _, en := range entries {
		require.Equal(t, c.cur, en.Amount.Currency(), "every ledger entry is in the shop's currency: %s", en.Amount)
		sum, err = sum.Add(en.Amount)
		require.NoError(t, err)
		minor, err := en.Amount.Minor()
		require.NoError(t, err, "an entry is a whole number of the currency's minor units")
		assert.True(t, commerce.FromMinor(minor, c.cur).Equal(en.Amount))
	}
	kept, _ := money(c.total).Sub(money(c.refund))
	assert.True(t, sum.Equal(kept), "the ledger holds what was kept: %s, want %s", sum, kept)
}

// Refunding a cross-border payment in two parts returns the payer exactly
// the CNY they paid: the parts are cumulative shares, not each rounded
// alone.
func testCrossBorderFullRefund(t *testing.T, h Harness) {
	e, shop := newCrossBorderEnv(t, h, currency.HKD, "33.33")
	o := e.mustBuy(shop, "kit", "cb-full", line(shop.SKU(0, 0), 3)) // HKD 99.99
	o, p := e.paid(o)
	for i, qty := range []int64{1, 2} {
		_, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: o.MerchantID, OrderID: o.ID,
			Items: []commerce.RefundItem{{Line: 0, Quantity: qty}}, IdempotencyKey: "cb-full-" + string(rune('a'+i))})
		require.NoError(t, err)
		_, err = e.pay.RunDue(e.ctx)
		require.NoError(t, err)
	}
	p, err := e.pay.GetPayment(e.ctx, o.MerchantID, p.ID)
	require.NoError(t, err)
	require.Len(t, p.Refunds, 2)
	back := commerce.Zero(currency.CNY)
	for _, r := range p.Refunds {
		require.Equal(t, payment.RefundSucceeded, r.Status)
		require.NotNil(t, r.Exchange)
		back, err = back.Add(r.Exchange.Payer)
		require.NoError(t, err)
	}
	assert.True(t, back.Equal(p.Exchange.Payer), "refunded %s of the %s paid", back, p.Exchange.Payer)
}

// A notification for an HKD payment that reports another currency, or an
// exchange that makes no sense, is refused and changes nothing.
func testCrossBorderMismatch(t *testing.T, h Harness) {
	e, shop := newCrossBorderEnv(t, h, currency.HKD, "80.00")
	o := e.mustBuy(shop, "lam", "cb-mis", line(shop.SKU(0, 0), 1))
	p := e.open(o)
	forge := func(mutate func(*payment.Transaction)) error {
		tx := &payment.Transaction{PaymentNo: p.PaymentNo, ProviderRef: "fp_tx_forged", State: payment.TxSucceeded, Amount: p.Amount, PaidAt: Epoch,
			Exchange: &payment.Exchange{Payer: CNY("72.99"), Rate: rateHKD}}
		mutate(tx)
		req, err := e.fake.Notification(&payment.Notification{Kind: payment.NotifyPayment, EventType: "TRANSACTION.SUCCESS", Transaction: tx})
		require.NoError(t, err)
		_, err = e.pay.HandleNotification(e.ctx, "fakepay", req)
		return err
	}
	cases := map[string]func(*payment.Transaction){
		"the payer's CNY as the amount": func(tx *payment.Transaction) { tx.Amount = CNY("72.99") },
		"the same sum in CNY":           func(tx *payment.Transaction) { tx.Amount = CNY("80.00") },
		"an exchange into HKD":          func(tx *payment.Transaction) { tx.Exchange.Payer = commerce.MustParseMoney("80.00", currency.HKD) },
		"a negative payer amount":       func(tx *payment.Transaction) { tx.Exchange.Payer = CNY("-72.99") },
		"a negative rate":               func(tx *payment.Transaction) { tx.Exchange.Rate = rateHKD.Neg() },
		"an exchange without an amount": func(tx *payment.Transaction) { tx.Exchange.Payer = commerce.Money{} },
	}
	for name, mutate := range cases {
		err := forge(mutate)
		assert.ErrorIs(t, err, payment.ErrRejected, name)
	}
	got, err := e.svc.GetOrder(e.ctx, o.MerchantID, o.ID)
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusPendingPayment, got.Status, "no mismatched notification marks the order paid")
	assert.False(t, got.PayerPaid.IsSet())
	pp, err := e.pay.GetPayment(e.ctx, o.MerchantID, p.ID)
	require.NoError(t, err)
	assert.Equal(t, payment.Pending, pp.Status)
	assert.Nil(t, pp.Exchange)

	// The genuine one applies.
	req, err := e.fake.Pay(p.PaymentNo)
	require.NoError(t, err)
	_, err = e.pay.HandleNotification(e.ctx, "fakepay", req)
	require.NoError(t, err)
	got, err = e.svc.GetOrder(e.ctx, o.MerchantID, o.ID)
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusPaid, got.Status)
	assert.True(t, got.PayerPaid.Equal(CNY("72.99")), "80.00 × 0.91234567 = 72.9876…: CNY %s", got.PayerPaid)
}

// A yen shop's coupons and points work in whole yen: a 7 % coupon of
// ¥2,970 takes a whole number of yen, points pay whole yen, the split
// over lines is in whole yen, and the payment is for what is left.
func testCrossBorderYenPlugins(t *testing.T, h Harness) {
	e, shop := newCrossBorderEnv(t, h, currency.JPY, "1235", "500")
	yen := func(s string) commerce.Money { return commerce.MustParseMoney(s, currency.JPY) }
	m := shop.Merchant.ID
	b, err := e.engine.Coupons.CreateBatch(e.ctx, coupons.BatchParams{MerchantID: m, Name: "7% off", Kind: coupons.PercentOff,
		PercentOff: commerce.MustPercent(7), Total: 10, Activate: true, Validity: coupons.Validity{Days: 7}})
	require.NoError(t, err)
	cp, err := e.engine.Coupons.Claim(e.ctx, coupons.ClaimParams{MerchantID: m, BatchID: b.ID, Customer: "yui", RequestID: "c1"})
	require.NoError(t, err)
	_, err = e.engine.Membership.SetProgram(e.ctx, membership.Program{MerchantID: m, AutoJoin: true,
		Earn: membership.PointsPer{Points: 1, Per: yen("100")}, Redeem: membership.PointsPer{Points: 10, Per: yen("1")}, MaxShare: commerce.MustPercent(50),
		Tiers: []membership.Tier{{Level: 1, Name: "茶友"}}})
	require.NoError(t, err)
	_, err = e.engine.Membership.Join(e.ctx, m, "yui")
	require.NoError(t, err)
	_, err = e.engine.Membership.Adjust(e.ctx, membership.AdjustParams{MerchantID: m, Customer: "yui", Points: 5000, RequestID: "gift"})
	require.NoError(t, err)

	o, err := e.svc.Checkout(e.ctx, commerce.CheckoutParams{MerchantID: m, CustomerID: "yui", IdempotencyKey: "yen-plugins",
		Lines: []commerce.LineItem{line(shop.SKU(0, 0), 2), line(shop.SKU(0, 1), 1)}, ShippingAddress: Address(),
		Extensions: commerce.With(coupons.Select(cp.ID), membership.SpendPoints(3000))})
	require.NoError(t, err)
	require.Len(t, o.Adjustments, 2, "the coupon and the points")
	for _, a := range o.Adjustments {
		assert.Equal(t, currency.JPY, a.Amount.Currency())
		_, err := a.Amount.Minor()
		require.NoError(t, err, "%s takes whole yen: %s", a.Label, a.Amount)
	}
	off := o.Adjustments[0].Amount
	assert.True(t, off.Equal(yen("208")) || off.Equal(yen("207")), "7 %% of ¥2,970 is ¥207.9, in whole yen: %s", off)
	assert.True(t, o.Adjustments[1].Amount.Equal(yen("300")), "3,000 points at 10 a yen: %s", o.Adjustments[1].Amount)
	for _, l := range o.Lines {
		_, err := l.Payable.Minor()
		require.NoError(t, err, "a line pays whole yen: %s", l.Payable)
	}
	want, _ := yen("2970").Sub(off)
	want, _ = want.Sub(yen("300"))
	assert.True(t, o.Total.Equal(want), "total %s, want %s", o.Total, want)
	o, p := e.paid(o)
	assert.Equal(t, commerce.StatusPaid, o.Status)
	assert.True(t, p.Amount.Equal(want), "the channel is asked for what is left: %s", p.Amount)
	require.NotNil(t, p.Exchange)
	assert.Equal(t, currency.CNY, p.Exchange.Payer.Currency())
}
