package wechatpay_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/currency"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/wechatpay"
	"github.com/minishop/minishop/payment/wechatpay/wechatpaytest"
	"github.com/minishop/minishop/storage/memory"
)

// An HKD order paid through the cross-border client, end to end: the
// notification reaches the payment service's handler, and the payment
// record keeps the payer's CNY side and the rate.
func TestGlobalThroughPaymentService(t *testing.T) {
	e := globalEnv(t, wechatpaytest.Options{})
	ctx := t.Context()
	clock := commercetest.NewClock(commercetest.Epoch)
	engine, err := minishop.New(memory.New(), minishop.WithPayments(e.c),
		minishop.WithClock(clock), minishop.WithIDs(&commercetest.SeqIDs{}))
	require.NoError(t, err)
	svc := engine.Commerce
	m, err := svc.CreateMerchant(ctx, commerce.MerchantParams{Currency: "HKD", Profile: commerce.ShopProfile{Name: "茶舖"}})
	require.NoError(t, err)
	tea, err := svc.CreateProduct(ctx, commerce.ProductParams{MerchantID: m.ID, Title: "Longjing tea", Category: "food",
		State: commerce.Listed, SKUs: []commerce.SKUParams{{Price: commerce.MustParseMoney("40.00", currency.HKD), Stock: 10}}})
	require.NoError(t, err)
	order, err := svc.Checkout(ctx, commerce.CheckoutParams{MerchantID: m.ID, CustomerID: "alice",
		IdempotencyKey: "k1", ShippingAddress: commercetest.Address(),
		Lines: []commerce.LineItem{{SKU: tea.SKUs[0].ID, Quantity: 2}}})
	require.NoError(t, err)

	pay, _, err := engine.Payments.Pay(ctx, payment.PayParams{MerchantID: order.MerchantID, OrderID: order.ID, Payer: testOpenID})
	require.NoError(t, err)
	assert.Equal(t, wechatpay.DefaultGlobalName, pay.Provider)
	body := lastBody(t, e.p)
	total, err := pay.Amount.Minor()
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"total": float64(total), "currency": "HKD"}, body["amount"])

	n, err := e.p.Pay(pay.PaymentNo)
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	engine.Payments.NotificationHandler(e.c.Name(), nil).ServeHTTP(rec, n.Request())
	require.Less(t, rec.Code, 300, rec.Body.String())

	got, err := engine.Payments.GetPayment(ctx, pay.MerchantID, pay.ID)
	require.NoError(t, err)
	assert.Equal(t, payment.Succeeded, got.Status)
	require.NotNil(t, got.Exchange, "the payment service records Transaction.Exchange")
	o, _ := e.p.Order(pay.PaymentNo)
	assert.Equal(t, commerce.FromMinor(o.PayerTotal, currency.CNY), got.Exchange.Payer)
	assert.True(t, decimal.RequireFromString("0.92").Equal(got.Exchange.Rate))
	order, err = svc.GetOrder(ctx, order.MerchantID, order.ID)
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusPaid, order.Status)

	// A refund the CNY pool cannot cover today fails retryably at WeChat;
	// RunDue sends it again, under the same out_refund_no, and it goes
	// through.
	e.p.FailRefundsNotEnough(1)
	_, err = svc.Refund(ctx, commerce.RefundParams{MerchantID: order.MerchantID, OrderID: order.ID, IdempotencyKey: "r1",
		Items: []commerce.RefundItem{{Line: 0, Quantity: 1}}})
	require.Error(t, err, "the refund stays pending")
	assert.ErrorIs(t, err, wechatpay.ErrRefundFundsPending)
	assert.True(t, commerce.Retryable(err), "%v", err)
	var refused []wechatpaytest.Request
	for _, r := range e.p.Requests() {
		if r.URI == "/v3/global/refunds" {
			refused = append(refused, r)
		}
	}
	require.Len(t, refused, 1, "the kernel handed the refund over")
	assert.Equal(t, "NOT_ENOUGH", refused[0].Code)
	for range 5 {
		clock.Advance(time.Hour)
		_, err = engine.Payments.RunDue(ctx)
		require.NoError(t, err)
	}
	got, err = engine.Payments.GetPayment(ctx, pay.MerchantID, pay.ID)
	require.NoError(t, err)
	require.Len(t, got.Refunds, 1)
	r, ok := e.p.Refund(got.Refunds[0].RefundNo)
	require.True(t, ok, "the retry with the same out_refund_no reached WeChat")
	assert.True(t, got.Refunds[0].Submitted)
	assert.Equal(t, "HKD", r.Currency)
	rn, err := e.p.FinishRefund(r.OutRefundNo, "SUCCESS")
	require.NoError(t, err)
	rec = httptest.NewRecorder()
	engine.Payments.NotificationHandler(e.c.Name(), nil).ServeHTTP(rec, rn.Request())
	require.Less(t, rec.Code, 300, rec.Body.String())
	got, err = engine.Payments.GetPayment(ctx, pay.MerchantID, pay.ID)
	require.NoError(t, err)
	require.NotNil(t, got.Refunds[0].Exchange, "the payment service records RefundResult.Exchange")
	assert.Equal(t, commerce.FromMinor(r.PayerRefund, currency.CNY), got.Refunds[0].Exchange.Payer)
}
