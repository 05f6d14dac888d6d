package wechatpaytest_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/payment/wechatpay/wechatpaytest"
)

// The cross-border platform checks prepay bodies as WeChat's /v3/global/
// API does.
func TestGlobalPrepayChecks(t *testing.T) {
	clk := &clock{t: time.Date(2025, 5, 20, 5, 29, 35, 0, time.UTC)}
	p := wechatpaytest.Start(t, wechatpaytest.Options{CrossBorder: true, Now: clk.Now})
	assert.True(t, p.CrossBorder())
	cfg := p.Config("")
	post := func(uri string, body map[string]any) (int, map[string]string) {
		t.Helper()
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		status, answer, _, _ := send(t, p, signed{method: http.MethodPost, uri: uri, body: raw,
			key: cfg.PrivateKey, mchid: cfg.MchID, serial: cfg.SerialNo, at: clk.Now()})
		return status, answer
	}
	valid := func() map[string]any {
		return map[string]any{
			"appid": cfg.AppID, "mchid": cfg.MchID, "description": "tea", "out_trade_no": "PAYG000000000001",
			"notify_url": "https://shop.example.com/notify", "trade_type": "JSAPI", "merchant_category_code": "4111",
			"amount": map[string]any{"total": 8000, "currency": "HKD"}, "payer": map[string]any{"openid": "oOpenID000000000000000001"},
		}
	}
	for name, c := range map[string]struct {
		edit func(map[string]any)
		want string
	}{
		"no trade_type":     {func(b map[string]any) { delete(b, "trade_type") }, "trade_type"},
		"no MCC":            {func(b map[string]any) { delete(b, "merchant_category_code") }, "merchant_category_code"},
		"bad MCC":           {func(b map[string]any) { b["merchant_category_code"] = "41" }, "merchant_category_code"},
		"unpriced currency": {func(b map[string]any) { b["amount"] = map[string]any{"total": 8000, "currency": "BRL"} }, "currency"},
		"no currency":       {func(b map[string]any) { b["amount"] = map[string]any{"total": 8000} }, "currency"},
		"zero total":        {func(b map[string]any) { b["amount"] = map[string]any{"total": 0, "currency": "HKD"} }, "total"},
		"fractional total":  {func(b map[string]any) { b["amount"] = map[string]any{"total": 80.5, "currency": "HKD"} }, "total"},
	} {
		b := valid()
		c.edit(b)
		status, answer := post("/v3/global/transactions/jsapi", b)
		assert.Equal(t, 400, status, name)
		assert.Equal(t, "PARAM_ERROR", answer["code"], name)
		assert.Contains(t, answer["message"], c.want, name)
	}
	status, answer := post("/v3/global/transactions/jsapi", valid())
	require.Equal(t, 200, status, answer)
	assert.NotEmpty(t, answer["prepay_id"])
	o, ok := p.Order("PAYG000000000001")
	require.True(t, ok)
	assert.Equal(t, "HKD", o.Currency)
	assert.Equal(t, "4111", o.MerchantCategoryCode)

	// Domestic paths are refused.
	status, answer = post("/v3/pay/transactions/jsapi", valid())
	assert.Equal(t, 400, status)
	assert.Equal(t, "INVALID_REQUEST", answer["code"])
	assert.Contains(t, answer["message"], "暂不支持境外支付")

	// The payer side is fixed at payment, half up, at the rate.
	_, err := p.Pay("PAYG000000000001")
	require.NoError(t, err)
	o, _ = p.Order("PAYG000000000001")
	assert.Equal(t, int64(7360), o.PayerTotal)
	assert.Equal(t, "0.92", o.Rate.String())

	// Refunds: in the payment's currency, for its total.
	refund := func(edit func(map[string]any)) (int, map[string]string) {
		b := map[string]any{"mchid": cfg.MchID, "out_trade_no": "PAYG000000000001", "out_refund_no": "RFG0000001",
			"amount": map[string]any{"refund": 100, "total": 8000, "currency": "HKD"}}
		edit(b)
		return post("/v3/global/refunds", b)
	}
	status, answer = refund(func(b map[string]any) { b["amount"] = map[string]any{"refund": 100, "total": 8000, "currency": "USD"} })
	assert.Equal(t, 400, status)
	assert.Contains(t, answer["message"], "currency")
	status, answer = refund(func(b map[string]any) { b["amount"] = map[string]any{"refund": 100, "total": 7000, "currency": "HKD"} })
	assert.Equal(t, 400, status)
	assert.Contains(t, answer["message"], "total")
	p.FailRefundsNotEnough(1)
	status, answer = refund(func(map[string]any) {})
	assert.Equal(t, 403, status)
	assert.Equal(t, "NOT_ENOUGH", answer["code"])
	status, _ = refund(func(map[string]any) {})
	assert.Equal(t, 200, status)
	r, ok := p.Refund("RFG0000001")
	require.True(t, ok)
	assert.Equal(t, int64(92), r.PayerRefund)
}
