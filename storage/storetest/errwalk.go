package storetest

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/currency"

	"github.com/minishop/minishop/commerce"
	. "github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/coupons"
	"github.com/minishop/minishop/gifting"
	"github.com/minishop/minishop/membership"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/promoter"
)

// The error walk: the documented failure cases of the exported functions,
// each called for real on this store. Every error must be a *commerce.Error
// (the one error type), of the documented kind, naming the documented field,
// and its message must not say which store is underneath: a host shows
// these to users and branches on them, and switching stores must change
// neither.
func testErrorWalk(t *testing.T, h Harness) {
	e := newHostileEnv(t, h)
	ctx := e.ctx
	eng := e.engine
	m, sku := e.m, e.shop.SKU(0, 0)
	var zeroM commerce.MerchantID
	_, err := e.svc.AdjustStock(ctx, m, e.shop.SKU(0, 0), -99000)
	require.NoError(t, err)
	order := e.mustCheckout("walker")
	paid := e.mustCheckout("walker")
	paid, err = e.svc.MarkPaid(ctx, commerce.MarkPaidParams{MerchantID: m, OrderID: paid.ID, PaymentRef: "pay-1", Amount: paid.Total})
	require.NoError(t, err)
	_, err = eng.Membership.Join(ctx, m, "member")
	require.NoError(t, err)
	lines := []commerce.LineItem{line(sku, 1)}
	co := func(mod func(*commerce.CheckoutParams)) error {
		p := commerce.CheckoutParams{MerchantID: m, CustomerID: "walker", Lines: lines, IdempotencyKey: e.next("walk"), ShippingAddress: Address()}
		mod(&p)
		_, err := e.svc.Checkout(ctx, p)
		return err
	}
	second := func(_ any, err error) error { return err }
	third := func(_, _ any, err error) error { return err }

	type want struct {
		kind  commerce.Kind
		field string
		is    error // a domain sentinel the error also matches, if any
	}
	cases := []struct {
		name string
		err  error
		want want
	}{
		// commerce: parsing
		{"ParseMoney too precise", second(commerce.ParseMoney("12.345", currency.CNY)), want{commerce.KindInvalid, "money", nil}},
		{"ParseCurrency unknown", second(commerce.ParseCurrency("XYZ")), want{commerce.KindInvalid, "currency", nil}},
		{"ParseID malformed", second(commerce.ParseID[commerce.SKUID]("not-an-id")), want{commerce.KindInvalid, "id", nil}},
		{"ParseID of a plugin's id", second(commerce.ParseID[coupons.CouponID]("")), want{commerce.KindInvalid, "id", nil}},

		// commerce: reads and carts
		{"GetOrder zero merchant", second(e.svc.GetOrder(ctx, zeroM, order.ID)), want{commerce.KindInvalid, "merchant_id", nil}},
		{"GetOrder unknown", second(e.svc.GetOrder(ctx, m, newID[commerce.OrderID]())), want{commerce.KindNotFound, "order_id", nil}},
		{"GetOrder other merchant", second(e.svc.GetOrder(ctx, newID[commerce.MerchantID](), order.ID)), want{commerce.KindNotFound, "order_id", nil}},
		{"GetProduct unknown", second(e.svc.GetProduct(ctx, m, newID[commerce.ProductID]())), want{commerce.KindNotFound, "product_id", nil}},
		{"GetMerchant unknown", second(e.svc.GetMerchant(ctx, newID[commerce.MerchantID]())), want{commerce.KindNotFound, "merchant_id", nil}},
		{"GetCart no customer", second(e.svc.GetCart(ctx, m, "")), want{commerce.KindInvalid, "customer_id", nil}},
		{"AddToCart zero quantity", second(e.svc.AddToCart(ctx, commerce.CartParams{MerchantID: m, CustomerID: "c", SKU: sku})), want{commerce.KindInvalid, "quantity", nil}},
		{"AddToCart unknown sku", second(e.svc.AddToCart(ctx, commerce.CartParams{MerchantID: m, CustomerID: "c", SKU: newID[commerce.SKUID](), Quantity: 1})), want{commerce.KindNotFound, "sku", nil}},

		// commerce: checkout
		{"Checkout no key", co(func(p *commerce.CheckoutParams) { p.IdempotencyKey = "" }), want{commerce.KindInvalid, "idempotency_key", nil}},
		{"Checkout no address", co(func(p *commerce.CheckoutParams) { p.ShippingAddress = nil }), want{commerce.KindInvalid, "shipping_address", nil}},
		{"Checkout no lines", co(func(p *commerce.CheckoutParams) { p.Lines = nil }), want{commerce.KindInvalid, "lines", nil}},
		{"Checkout unknown sku", co(func(p *commerce.CheckoutParams) { p.Lines = []commerce.LineItem{line(newID[commerce.SKUID](), 1)} }), want{commerce.KindNotFound, "lines[0].sku", nil}},
		{"Checkout out of stock", co(func(p *commerce.CheckoutParams) { p.Lines = []commerce.LineItem{line(sku, 999)} }), want{commerce.KindFailedPrecondition, "lines[0].quantity", commerce.ErrOutOfStock}},
		{"Checkout price changed", co(func(p *commerce.CheckoutParams) { p.ExpectedTotal = CNY("0.01") }), want{commerce.KindFailedPrecondition, "expected_total", commerce.ErrPriceChanged}},
		{"Checkout key reused", co(func(p *commerce.CheckoutParams) { p.IdempotencyKey = "key-1"; p.Note = "other" }), want{commerce.KindConflict, "idempotency_key", commerce.ErrIdempotencyMismatch}},
		{"Checkout plugin twice", co(func(p *commerce.CheckoutParams) {
			p.Extensions = commerce.With(coupons.NoCoupon(), coupons.Select(newID[coupons.CouponID]()))
		}), want{commerce.KindInvalid, "extensions[coupons]", nil}},
		{"Checkout unknown coupon", co(func(p *commerce.CheckoutParams) {
			p.Extensions = commerce.With(coupons.Select(newID[coupons.CouponID]()))
		}), want{commerce.KindNotFound, "extensions.coupons[0]", nil}},
		{"Checkout points not a member", co(func(p *commerce.CheckoutParams) { p.Extensions = commerce.With(membership.SpendPoints(100)) }), want{commerce.KindFailedPrecondition, "extensions.points", membership.ErrNotMember}},
		{"Checkout negative points", co(func(p *commerce.CheckoutParams) { p.Extensions = commerce.With(membership.SpendPoints(-1)) }), want{commerce.KindInvalid, "extensions.points", nil}},
		{"Checkout bad share link", co(func(p *commerce.CheckoutParams) { p.Extensions = commerce.With(promoter.Link("forged")) }), want{commerce.KindInvalid, "extensions.promoter.share", nil}},

		// commerce: orders
		{"MarkPaid wrong amount", second(e.svc.MarkPaid(ctx, commerce.MarkPaidParams{MerchantID: m, OrderID: order.ID, PaymentRef: "p", Amount: CNY("0.01")})), want{commerce.KindFailedPrecondition, "amount", nil}},
		{"MarkPaid no amount", second(e.svc.MarkPaid(ctx, commerce.MarkPaidParams{MerchantID: m, OrderID: order.ID, PaymentRef: "p"})), want{commerce.KindInvalid, "amount", nil}},
		{"MarkPaid paid twice", second(e.svc.MarkPaid(ctx, commerce.MarkPaidParams{MerchantID: m, OrderID: paid.ID, PaymentRef: "pay-2", Amount: paid.Total})), want{commerce.KindConflict, "payment_ref", nil}},
		{"MarkPaid unknown order", second(e.svc.MarkPaid(ctx, commerce.MarkPaidParams{MerchantID: m, OrderID: newID[commerce.OrderID](), PaymentRef: "p", Amount: CNY("1")})), want{commerce.KindNotFound, "order_id", nil}},
		{"Ship unpaid", second(e.svc.Ship(ctx, commerce.ShipParams{MerchantID: m, OrderID: order.ID, Shipment: commerce.Shipment{Carrier: "SF", TrackingNo: "1"}})), want{commerce.KindFailedPrecondition, "", commerce.ErrIllegalTransition}},
		{"Refund nothing asked", second(e.svc.Refund(ctx, commerce.RefundParams{MerchantID: m, OrderID: paid.ID, IdempotencyKey: "r"})), want{commerce.KindInvalid, "items", nil}},
		{"Refund too much", second(e.svc.Refund(ctx, commerce.RefundParams{MerchantID: m, OrderID: paid.ID, IdempotencyKey: "r", Items: []commerce.RefundItem{{Line: 0, Quantity: 2}}})), want{commerce.KindFailedPrecondition, "items[0].quantity", commerce.ErrRefundExceeded}},
		{"Refund no line", second(e.svc.Refund(ctx, commerce.RefundParams{MerchantID: m, OrderID: paid.ID, IdempotencyKey: "r", Items: []commerce.RefundItem{{Line: 7, Quantity: 1}}})), want{commerce.KindInvalid, "items[0].line", nil}},
		{"Cancel paid", second(e.svc.Cancel(ctx, m, paid.ID, "no")), want{commerce.KindFailedPrecondition, "", commerce.ErrIllegalTransition}},

		// coupons
		{"CreateBatch no name", second(eng.Coupons.CreateBatch(ctx, coupons.BatchParams{MerchantID: m, Kind: coupons.ThresholdOff, Amount: CNY("5"), MinAmount: CNY("50"), Total: 1, Validity: coupons.Validity{Days: 1}})), want{commerce.KindInvalid, "name", nil}},
		{"Claim unknown batch", second(eng.Coupons.Claim(ctx, coupons.ClaimParams{MerchantID: m, BatchID: newID[coupons.BatchID](), Customer: "c", RequestID: "r"})), want{commerce.KindNotFound, "batch_id", nil}},
		{"Claim zero merchant", second(eng.Coupons.Claim(ctx, coupons.ClaimParams{BatchID: e.batch.ID, Customer: "c", RequestID: "r"})), want{commerce.KindInvalid, "merchant_id", nil}},
		{"GetBatch unknown", second(eng.Coupons.GetBatch(ctx, m, newID[coupons.BatchID]())), want{commerce.KindNotFound, "batch_id", nil}},

		// membership
		{"Join no customer", second(eng.Membership.Join(ctx, m, "")), want{commerce.KindInvalid, "customer", nil}},
		{"Card not a member", second(eng.Membership.Card(ctx, m, "stranger")), want{commerce.KindNotFound, "customer", membership.ErrNotMember}},
		{"Adjust zero points", second(eng.Membership.Adjust(ctx, membership.AdjustParams{MerchantID: m, Customer: "member", RequestID: "r"})), want{commerce.KindInvalid, "points", nil}},
		{"Adjust below zero", second(eng.Membership.Adjust(ctx, membership.AdjustParams{MerchantID: m, Customer: "member", Points: -5, RequestID: "r2"})), want{commerce.KindFailedPrecondition, "points", membership.ErrInsufficientPoints}},
		{"Program none", second(eng.Membership.Program(ctx, newID[commerce.MerchantID]())), want{commerce.KindNotFound, "merchant_id", membership.ErrNoProgram}},

		// gifting
		{"Open forged token", second(eng.Gifting.Open(ctx, m, "forged")), want{commerce.KindInvalid, "token", nil}},
		{"Claim forged token", second(eng.Gifting.Claim(ctx, gifting.ClaimParams{MerchantID: m, Token: "forged", Claimer: "c", Address: *Address()})), want{commerce.KindInvalid, "token", nil}},
		{"Send no quantity", third(eng.Gifting.Send(ctx, gifting.SendParams{MerchantID: m, Giver: "g", SKU: sku, IdempotencyKey: "g"})), want{commerce.KindInvalid, "quantity", nil}},

		{"GetGift unknown", second(eng.Gifting.GetGift(ctx, m, newID[gifting.GiftID]())), want{commerce.KindNotFound, "gift_id", nil}},
		{"GiftByOrder no gift", second(eng.Gifting.GiftByOrder(ctx, m, order.ID)), want{commerce.KindNotFound, "order_id", nil}},
		{"SentGifts no limit", second(eng.Gifting.SentGifts(ctx, m, "g", gifting.GiftID{}, 0)), want{commerce.KindInvalid, "limit", nil}},

		// promoter
		{"VerifyShare forged", second(eng.Promoter.VerifyShare(m, "forged")), want{commerce.KindInvalid, "token", nil}},
		{"CreatePromoter no name", second(eng.Promoter.CreatePromoter(ctx, "")), want{commerce.KindInvalid, "name", nil}},

		// payment
		{"Pay unknown order", third(eng.Payments.Pay(ctx, payment.PayParams{MerchantID: m, OrderID: newID[commerce.OrderID](), Provider: e.fake.Name(), Payer: "openid"})), want{commerce.KindNotFound, "order_id", nil}},
		{"Pay paid order", third(eng.Payments.Pay(ctx, payment.PayParams{MerchantID: m, OrderID: paid.ID, Provider: e.fake.Name(), Payer: "openid"})), want{commerce.KindFailedPrecondition, "order_id", nil}},
		{"Pay unknown provider", third(eng.Payments.Pay(ctx, payment.PayParams{MerchantID: m, OrderID: order.ID, Provider: "nope", Payer: "openid"})), want{commerce.KindInvalid, "provider", nil}},
		{"GetPayment unknown", second(eng.Payments.GetPayment(ctx, m, newID[payment.PaymentID]())), want{commerce.KindNotFound, "payment_id", nil}},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			require.Error(t, c.err)
			var ce *commerce.Error
			require.True(t, errors.As(c.err, &ce), "%T is not a *commerce.Error: %v", c.err, c.err)
			assert.Equal(t, c.want.kind, commerce.KindOf(c.err), "kind of %v", c.err)
			assert.Equal(t, c.want.field, ce.Field, "field of %v", c.err)
			assert.Equal(t, c.want.kind == commerce.KindUnavailable, commerce.Retryable(c.err), "retryable")
			if c.want.is != nil {
				assert.ErrorIs(t, c.err, c.want.is)
			}
			msg := c.err.Error()
			for _, leak := range []string{"memory", "sqlstore", "sql:", "pq:", "SQLSTATE", "Error 1", "sqlite"} {
				assert.NotContains(t, msg, leak, "the message names the store")
			}
		})
	}
}
