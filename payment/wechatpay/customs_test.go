package wechatpay_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/currency"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/payment/wechatpay"
	"github.com/minishop/minishop/payment/wechatpay/wechatpaytest"
)

func TestCustomsDeclaration(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	e.paid(t, "PAYCUSTOMS00000001", 10000)
	o, _ := e.p.Order("PAYCUSTOMS00000001")

	req := wechatpay.CustomsRequest{TransactionID: o.TransactionID, Customs: "SHANGHAI_ZS", MerchantCustomsNo: "123456",
		Duty: cny(0), TransportFee: cny(1000), ProductFee: cny(9000)}
	d, err := e.c.DeclareCustoms(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, "PROCESSING", d.State)
	assert.Equal(t, o.TransactionID, d.TransactionID)
	assert.Equal(t, "PAYCUSTOMS00000001", d.PaymentNo)
	body := lastBody(t, e.p)
	assert.Equal(t, "POST", e.p.Requests()[len(e.p.Requests())-1].Method)
	assert.Equal(t, "/v3/global/customs/orders", lastURI(t, e.p))
	assert.Equal(t, "TRANSACTION_ID", body["order_type"])
	assert.Equal(t, o.TransactionID, body["order_no"])
	assert.Equal(t, e.cfg.MchID, body["mchid"])
	assert.Equal(t, e.cfg.AppID, body["appid"])
	assert.Equal(t, float64(10000), body["order_fee"], "order_fee = transport_fee + product_fee")
	assert.Equal(t, float64(0), body["duty"])

	// Modify the fees, by out_trade_no.
	req2 := wechatpay.CustomsRequest{PaymentNo: "PAYCUSTOMS00000001", Customs: "SHANGHAI_ZS", MerchantCustomsNo: "123456",
		Duty: cny(500), TransportFee: cny(800), ProductFee: cny(9200)}
	_, err = e.c.ModifyCustoms(ctx, req2)
	require.NoError(t, err)
	assert.Equal(t, "PATCH", e.p.Requests()[len(e.p.Requests())-1].Method)
	rec, ok := e.p.Customs(o.TransactionID, "SHANGHAI_ZS")
	require.True(t, ok)
	assert.Equal(t, int64(500), *rec.Duty)
	assert.Equal(t, int64(10000), *rec.OrderFee)

	// Customs refuses it; the merchant redeclares.
	require.True(t, e.p.SetCustomsState(o.TransactionID, "SHANGHAI_ZS", "FAIL", "支付人姓名与身份证号不匹配"))
	list, err := e.c.QueryCustoms(ctx, wechatpay.CustomsQuery{TransactionID: o.TransactionID, Customs: "SHANGHAI_ZS"})
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "FAIL", list[0].State)
	assert.NotEmpty(t, list[0].Explanation)
	assert.Contains(t, lastURI(t, e.p), "order_type=TRANSACTION_ID")
	d, err = e.c.RedeclareCustoms(ctx, wechatpay.CustomsRequest{TransactionID: o.TransactionID, Customs: "SHANGHAI_ZS", MerchantCustomsNo: "123456"})
	require.NoError(t, err)
	assert.Equal(t, "PROCESSING", d.State)
	assert.Equal(t, "/v3/global/customs/redeclare", lastURI(t, e.p))
	rec, _ = e.p.Customs(o.TransactionID, "SHANGHAI_ZS")
	assert.Equal(t, 2, rec.Declarations)

	// Refused before calling: both numbers, one fee alone, fees in a
	// redeclaration, a fee in another currency.
	before := len(e.p.Requests())
	bad := req
	bad.PaymentNo = "PAYCUSTOMS00000001"
	_, err = e.c.DeclareCustoms(ctx, bad)
	assertInvalid(t, err, "TransactionID")
	bad = req
	bad.ProductFee = commerce.Money{}
	_, err = e.c.DeclareCustoms(ctx, bad)
	assertInvalid(t, err, "TransportFee")
	_, err = e.c.RedeclareCustoms(ctx, req)
	assertInvalid(t, err, "Duty")
	bad = req
	bad.Duty = commerce.MustParseMoney("1.00", currency.HKD)
	_, err = e.c.DeclareCustoms(ctx, bad)
	assertInvalid(t, err, "Duty")
	bad = req
	bad.Customs = ""
	_, err = e.c.DeclareCustoms(ctx, bad)
	assertInvalid(t, err, "Customs")
	assert.Len(t, e.p.Requests(), before)

	// An unpaid payment cannot be declared.
	_, err = e.c.CreatePayment(ctx, createReq("PAYCUSTOMS00000002", 100))
	require.NoError(t, err)
	_, err = e.c.DeclareCustoms(ctx, wechatpay.CustomsRequest{PaymentNo: "PAYCUSTOMS00000002", Customs: "SHANGHAI_ZS", MerchantCustomsNo: "123456"})
	assert.Equal(t, "INVALID_REQUEST", apiError(t, err).Code)
	// Nor one the platform does not know.
	_, err = e.c.QueryCustoms(ctx, wechatpay.CustomsQuery{PaymentNo: "PAYCUSTOMS00000009", Customs: "SHANGHAI_ZS"})
	assert.Equal(t, "ORDER_NOT_EXIST", apiError(t, err).Code)

	// A service provider's client does not declare.
	sp := partnerEnv(t)
	_, err = sp.c.DeclareCustoms(ctx, req)
	assertInvalid(t, err, "Config.ServiceProvider")
}

// Cross-border platforms serve customs too.
func TestCustomsOnGlobalPlatform(t *testing.T) {
	e := globalEnv(t, wechatpaytest.Options{})
	ctx := t.Context()
	_, err := e.c.CreatePayment(ctx, globalReq("PAYCUSTOMSG0000001", money(100, currency.CNY)))
	require.NoError(t, err)
	_, err = e.p.Pay("PAYCUSTOMSG0000001")
	require.NoError(t, err)
	d, err := e.c.DeclareCustoms(ctx, wechatpay.CustomsRequest{PaymentNo: "PAYCUSTOMSG0000001", Customs: "GUANGZHOU", MerchantCustomsNo: "4401"})
	require.NoError(t, err)
	assert.Equal(t, "PROCESSING", d.State)
}
