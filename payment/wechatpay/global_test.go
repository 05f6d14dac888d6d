package wechatpay_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/currency"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/wechatpay"
	"github.com/minishop/minishop/payment/wechatpay/wechatpaytest"
)

// globalEnv is a cross-border platform and client sharing a clock.
func globalEnv(t *testing.T, opts wechatpaytest.Options, edit ...func(*wechatpay.Config)) *env {
	t.Helper()
	clock := newClock()
	opts.CrossBorder = true
	opts.APIv3Key, opts.MerchantKey, opts.PlatformKey, opts.PlatformSerial = testAPIv3Key, merchantKey(), platformKey(), testPlatformSerial
	opts.Now = clock.Now
	p := wechatpaytest.Start(t, opts)
	cfg := p.Config("https://shop.example.com/wechatpay/notify")
	cfg.Now = clock.Now
	for _, f := range edit {
		f(&cfg)
	}
	c, err := wechatpay.New(cfg)
	require.NoError(t, err)
	return &env{p: p, c: c, cfg: cfg, clock: clock, notify: cfg.NotifyURL}
}

func money(minor int64, cur currency.Unit) commerce.Money { return commerce.FromMinor(minor, cur) }

func lastURI(t *testing.T, p *wechatpaytest.Platform) string {
	t.Helper()
	reqs := p.Requests()
	require.NotEmpty(t, reqs)
	return reqs[len(reqs)-1].URI
}

func globalReq(no string, m commerce.Money) payment.CreateRequest {
	r := createReq(no, 100)
	r.Amount = m
	return r
}

func TestGlobalConfig(t *testing.T) {
	p := wechatpaytest.Start(t, wechatpaytest.Options{CrossBorder: true, MerchantKey: merchantKey(), PlatformKey: platformKey()})
	cfg := p.Config("")
	assert.True(t, cfg.CrossBorder)
	assert.Equal(t, wechatpaytest.DefaultMerchantCategoryCode, cfg.MerchantCategoryCode)

	for _, mcc := range []string{"", "411", "41111", "41a1"} {
		bad := cfg
		bad.MerchantCategoryCode = mcc
		_, err := wechatpay.New(bad)
		assertInvalid(t, err, "Config.MerchantCategoryCode")
		assert.ErrorContains(t, err, "merchant_category_code")
	}
	domestic := cfg
	domestic.CrossBorder = false
	_, err := wechatpay.New(domestic)
	assertInvalid(t, err, "Config.MerchantCategoryCode")

	// The name and host default to the cross-border ones.
	var host string
	cfg.BaseURL = ""
	cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		host = r.URL.Scheme + "://" + r.URL.Host + r.URL.Path
		return nil, errors.New("offline")
	})}
	c, err := wechatpay.New(cfg)
	require.NoError(t, err)
	assert.Equal(t, wechatpay.DefaultGlobalName, c.Name())
	assert.Equal(t, "wechatpay_global", c.Name())
	_, err = c.CreatePayment(t.Context(), globalReq("PAYG00000000000000", money(8000, currency.HKD)))
	require.Error(t, err)
	assert.Equal(t, commerce.KindUnavailable, commerce.KindOf(err))
	assert.Equal(t, wechatpay.DefaultGlobalBaseURL+"/v3/global/transactions/jsapi", host)
	cfg.Name = "wechatpay_hk"
	c, err = wechatpay.New(cfg)
	require.NoError(t, err)
	assert.Equal(t, "wechatpay_hk", c.Name())
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// An HKD merchant: order in HKD cents, the payer pays CNY at the rate,
// refunds give back CNY at the payment's rate.
func TestGlobalHKDPayment(t *testing.T) {
	e := globalEnv(t, wechatpaytest.Options{})
	ctx := t.Context()
	const no = "PAYHK0000000000001"
	pre, err := e.c.CreatePayment(ctx, globalReq(no, commerce.MustParseMoney("80.00", currency.HKD)))
	require.NoError(t, err)
	assert.Equal(t, "/v3/global/transactions/jsapi", lastURI(t, e.p))
	body := lastBody(t, e.p)
	assert.Equal(t, map[string]any{"total": float64(8000), "currency": "HKD"}, body["amount"])
	assert.Equal(t, "JSAPI", body["trade_type"])
	assert.Equal(t, "4111", body["merchant_category_code"])
	assert.Equal(t, map[string]any{"openid": testOpenID}, body["payer"])
	assert.Equal(t, e.cfg.MchID, body["mchid"])
	assert.Equal(t, e.cfg.AppID, body["appid"])
	assert.NotContains(t, body, "settle_info")
	checkPaySign(t, pre.ClientParams)
	assert.Equal(t, e.cfg.AppID, pre.ClientParams["appId"])

	n, err := e.p.Pay(no)
	require.NoError(t, err)
	got, err := e.c.ParseNotification(ctx, n.Request())
	require.NoError(t, err)
	tx := got.Transaction
	assert.Equal(t, "HKD 80.00", tx.Amount.String())
	require.NotNil(t, tx.Exchange)
	assert.Equal(t, "CNY 73.60", tx.Exchange.Payer.String()) // 80 × 0.92
	assert.True(t, decimal.RequireFromString("0.92").Equal(tx.Exchange.Rate), "%s", tx.Exchange.Rate)
	assert.Equal(t, "SETTLEMENT_RATE", tx.Exchange.RateType)
	assert.NotEmpty(t, tx.ProviderRef)
	o, _ := e.p.Order(no)
	assert.Equal(t, int64(7360), o.PayerTotal)
	assert.Equal(t, "CNY", o.PayerCurrency)
	assert.Equal(t, "HKD", o.Currency)

	q, err := e.c.QueryPayment(ctx, payment.Account{}, no)
	require.NoError(t, err)
	assert.Equal(t, "/v3/global/transactions/out-trade-no/"+no+"?mchid="+e.cfg.MchID, lastURI(t, e.p))
	assert.Equal(t, payment.TxSucceeded, q.State)
	assert.Equal(t, tx.Amount, q.Amount)
	assert.Equal(t, tx.Exchange, q.Exchange)
	assert.Equal(t, o.TransactionID, q.ProviderRef)

	// A partial refund, in HKD, at the payment's rate.
	res, err := e.c.Refund(ctx, payment.RefundRequest{RefundNo: "RFHK000000000001", PaymentNo: no,
		Amount: commerce.MustParseMoney("30.00", currency.HKD), Total: commerce.MustParseMoney("80.00", currency.HKD)})
	require.NoError(t, err)
	assert.Equal(t, "/v3/global/refunds", lastURI(t, e.p))
	body = lastBody(t, e.p)
	assert.Equal(t, map[string]any{"refund": float64(3000), "total": float64(8000), "currency": "HKD"}, body["amount"])
	assert.Equal(t, e.cfg.MchID, body["mchid"])
	assert.Equal(t, no, body["out_trade_no"])
	assert.Equal(t, payment.RefundProcessing, res.State)
	assert.Equal(t, "HKD 30.00", res.Amount.String())
	require.NotNil(t, res.Exchange)
	assert.Equal(t, "CNY 27.60", res.Exchange.Payer.String())
	assert.True(t, decimal.RequireFromString("0.92").Equal(res.Exchange.Rate))

	qr, err := e.c.QueryRefund(ctx, payment.Account{}, "RFHK000000000001")
	require.NoError(t, err)
	assert.Equal(t, "/v3/global/refunds/out-refund-no/RFHK000000000001?mchid="+e.cfg.MchID, lastURI(t, e.p))
	assert.Equal(t, res.Exchange, qr.Exchange)

	rn, err := e.p.FinishRefund("RFHK000000000001", "SUCCESS")
	require.NoError(t, err)
	gotRefund, err := e.c.ParseNotification(ctx, rn.Request())
	require.NoError(t, err)
	assert.Equal(t, payment.RefundSucceeded, gotRefund.Refund.State)
	assert.Equal(t, "HKD 30.00", gotRefund.Refund.Amount.String())
	require.NotNil(t, gotRefund.Refund.Exchange)
	assert.Equal(t, "CNY 27.60", gotRefund.Refund.Exchange.Payer.String())
	r, _ := e.p.Refund("RFHK000000000001")
	assert.Equal(t, int64(2760), r.PayerRefund)
	assert.Equal(t, "HKD", r.Currency)

	// A refund in another currency than the payment's: refused before
	// calling when the request mixes them, by WeChat when it does not.
	_, err = e.c.Refund(ctx, payment.RefundRequest{RefundNo: "RFHK000000000002", PaymentNo: no,
		Amount: cny(100), Total: commerce.MustParseMoney("80.00", currency.HKD)})
	assertInvalid(t, err, "Amount")
	_, err = e.c.Refund(ctx, payment.RefundRequest{RefundNo: "RFHK000000000002", PaymentNo: no, Amount: cny(100), Total: cny(8000)})
	ae := apiError(t, err)
	assert.Equal(t, "PARAM_ERROR", ae.Code)
	assert.Contains(t, ae.Message, "currency")
	// A currency WeChat does not price in never reaches it.
	before := len(e.p.Requests())
	_, err = e.c.CreatePayment(ctx, globalReq("PAYHK0000000000002", money(100, currency.MustParseISO("BRL"))))
	assertInvalid(t, err, "Amount")
	// Profit sharing is not for cross-border payments.
	ps := globalReq("PAYHK0000000000003", money(100, currency.HKD))
	ps.ProfitSharing = true
	_, err = e.c.CreatePayment(ctx, ps)
	assertInvalid(t, err, "ProfitSharing")
	assert.Len(t, e.p.Requests(), before)

	// Close an unpaid one on the global path.
	_, err = e.c.CreatePayment(ctx, globalReq("PAYHK0000000000004", money(100, currency.HKD)))
	require.NoError(t, err)
	require.NoError(t, e.c.ClosePayment(ctx, payment.Account{}, "PAYHK0000000000004"))
	assert.Equal(t, "/v3/global/transactions/out-trade-no/PAYHK0000000000004/close", lastURI(t, e.p))
	o, _ = e.p.Order("PAYHK0000000000004")
	assert.Equal(t, "CLOSED", o.State)
}

// A JPY merchant: yen have no minor unit, so ¥1,235 is sent as 1235; the
// CNY side is rounded half up, and refunds add up to the payer total.
func TestGlobalJPYPayment(t *testing.T) {
	e := globalEnv(t, wechatpaytest.Options{Rates: map[string]decimal.Decimal{"JPY": decimal.RequireFromString("0.0483")}})
	ctx := t.Context()
	const no = "PAYJP0000000000001"
	total := commerce.MustParseMoney("1235", currency.JPY)
	_, err := e.c.CreatePayment(ctx, globalReq(no, total))
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"total": float64(1235), "currency": "JPY"}, lastBody(t, e.p)["amount"])

	// Yen amounts with a fraction are refused, not rounded.
	_, err = e.c.CreatePayment(ctx, globalReq("PAYJP0000000000002", commerce.NewMoney(decimal.RequireFromString("12.5"), currency.JPY)))
	assertInvalid(t, err, "Amount")

	n, err := e.p.Pay(no)
	require.NoError(t, err)
	got, err := e.c.ParseNotification(ctx, n.Request())
	require.NoError(t, err)
	tx := got.Transaction
	assert.Equal(t, total, tx.Amount)
	require.NotNil(t, tx.Exchange)
	assert.Equal(t, "CNY 59.65", tx.Exchange.Payer.String()) // 1235 × 0.0483 = 59.6505, half up
	assert.True(t, decimal.RequireFromString("0.0483").Equal(tx.Exchange.Rate))

	var payerBack int64
	for i, yen := range []int64{333, 902} {
		no2 := []string{"RFJP000000000001", "RFJP000000000002"}[i]
		res, err := e.c.Refund(ctx, payment.RefundRequest{RefundNo: no2, PaymentNo: no, ProviderRef: tx.ProviderRef,
			Amount: money(yen, currency.JPY), Total: total})
		require.NoError(t, err)
		assert.Equal(t, tx.ProviderRef, lastBody(t, e.p)["transaction_id"])
		assert.Equal(t, map[string]any{"refund": float64(yen), "total": float64(1235), "currency": "JPY"}, lastBody(t, e.p)["amount"])
		rn, err := e.p.FinishRefund(no2, "SUCCESS")
		require.NoError(t, err)
		gotRefund, err := e.c.ParseNotification(ctx, rn.Request())
		require.NoError(t, err)
		require.NotNil(t, gotRefund.Refund.Exchange)
		assert.Equal(t, res.Exchange.Payer, gotRefund.Refund.Exchange.Payer)
		fen, err := gotRefund.Refund.Exchange.Payer.Minor()
		require.NoError(t, err)
		payerBack += fen
	}
	r1, _ := e.p.Refund("RFJP000000000001")
	assert.Equal(t, int64(1608), r1.PayerRefund) // 333 × 0.0483 = 16.0839
	assert.Equal(t, int64(5965), payerBack, "the full refund gives back exactly payer_total")
	o, _ := e.p.Order(no)
	assert.Equal(t, o.PayerTotal, o.PayerRefunded)
}

// NOT_ENOUGH (the day's CNY refund funds are short) is retryable, and the
// same out_refund_no succeeds later.
func TestGlobalRefundNotEnough(t *testing.T) {
	e := globalEnv(t, wechatpaytest.Options{})
	ctx := t.Context()
	const no = "PAYUS0000000000001"
	total := commerce.MustParseMoney("17.50", currency.USD)
	_, err := e.c.CreatePayment(ctx, globalReq(no, total))
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"total": float64(1750), "currency": "USD"}, lastBody(t, e.p)["amount"])
	_, err = e.p.Pay(no)
	require.NoError(t, err)

	e.p.FailRefundsNotEnough(1)
	req := payment.RefundRequest{RefundNo: "RFUS000000000001", PaymentNo: no, Amount: total, Total: total}
	_, err = e.c.Refund(ctx, req)
	require.Error(t, err)
	assert.Equal(t, "NOT_ENOUGH", apiError(t, err).Code)
	assert.ErrorIs(t, err, wechatpay.ErrRefundFundsPending)
	assert.Equal(t, commerce.KindUnavailable, commerce.KindOf(err))
	assert.True(t, commerce.Retryable(err))
	_, ok := e.p.Refund(req.RefundNo)
	assert.False(t, ok, "nothing was refunded")

	res, err := e.c.Refund(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, "CNY 126.00", res.Exchange.Payer.String()) // 17.50 × 7.2
	again, err := e.c.Refund(ctx, req)
	require.NoError(t, err, "the same out_refund_no is the same refund")
	assert.Equal(t, res.ProviderRef, again.ProviderRef)
}

// A cross-border merchant on the domestic APIs is refused, as WeChat does.
func TestGlobalDomesticPathRefused(t *testing.T) {
	e := globalEnv(t, wechatpaytest.Options{})
	cfg := e.cfg
	cfg.CrossBorder, cfg.MerchantCategoryCode = false, ""
	c, err := wechatpay.New(cfg)
	require.NoError(t, err)
	_, err = c.CreatePayment(t.Context(), createReq("PAYCN0000000000001", 100))
	ae := apiError(t, err)
	assert.Equal(t, "INVALID_REQUEST", ae.Code)
	assert.Contains(t, ae.Message, "暂不支持境外支付")
	_, err = c.QueryRefund(t.Context(), payment.Account{}, "RF0000000001")
	assert.Contains(t, apiError(t, err).Message, "暂不支持境外支付")
}

// Notifications whose exchange fields cannot be recorded faithfully are
// refused; the transaction id falls back to id.
func TestGlobalNotificationExchangeFields(t *testing.T) {
	e := globalEnv(t, wechatpaytest.Options{})
	resource := func(amount map[string]any) map[string]any {
		return map[string]any{
			"mchid": e.cfg.MchID, "appid": e.cfg.AppID, "out_trade_no": "PAYHK0000000000009",
			"transaction_id": "4200000000000000000000000009", "trade_type": "JSAPI", "trade_state": "SUCCESS",
			"success_time": "2025-05-20T21:29:35+08:00", "payer": map[string]any{"openid": testOpenID}, "amount": amount,
		}
	}
	parse := func(res map[string]any) (*payment.Notification, error) {
		body := envelope(t, "TRANSACTION.SUCCESS", "transaction", res)
		return e.c.ParseNotification(t.Context(), signedRequest(t, platformKey(), testPlatformSerial, e.clock.Now(), body))
	}
	rate := func(v any) map[string]any { return map[string]any{"type": "SETTLEMENT_RATE", "rate": v} }
	for name, c := range map[string]struct {
		amount map[string]any
		want   string
	}{
		"payer_total without payer_currency": {map[string]any{"total": 8000, "currency": "HKD", "payer_total": 7360}, "payer_currency"},
		"zero rate":                          {map[string]any{"total": 8000, "currency": "HKD", "payer_total": 7360, "payer_currency": "CNY", "exchange_rate": rate(0)}, "exchange_rate.rate"},
		"negative rate":                      {map[string]any{"total": 8000, "currency": "HKD", "payer_total": 7360, "payer_currency": "CNY", "exchange_rate": rate(-92000000)}, "exchange_rate.rate"},
		"fractional rate":                    {map[string]any{"total": 8000, "currency": "HKD", "payer_total": 7360, "payer_currency": "CNY", "exchange_rate": rate(92000000.5)}, "exchange_rate.rate"},
		"string rate":                        {map[string]any{"total": 8000, "currency": "HKD", "payer_total": 7360, "payer_currency": "CNY", "exchange_rate": rate("92000000")}, "exchange_rate.rate"},
		"missing rate value":                 {map[string]any{"total": 8000, "currency": "HKD", "payer_total": 7360, "payer_currency": "CNY", "exchange_rate": map[string]any{"type": "SETTLEMENT_RATE"}}, "exchange_rate.rate"},
		"unknown payer_currency":             {map[string]any{"total": 8000, "currency": "HKD", "payer_total": 7360, "payer_currency": "XQZ"}, "payer_currency"},
		"no currency":                        {map[string]any{"total": 8000}, "currency"},
	} {
		_, err := parse(resource(c.amount))
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), c.want, name)
	}

	// id stands in for transaction_id; a payer paying in the pricing
	// currency has no exchange.
	res := resource(map[string]any{"total": 8000, "currency": "HKD", "payer_total": 8000, "payer_currency": "HKD"})
	delete(res, "transaction_id")
	res["id"] = "4200000000000000000000000010"
	n, err := parse(res)
	require.NoError(t, err)
	assert.Equal(t, "4200000000000000000000000010", n.Transaction.ProviderRef)
	assert.Nil(t, n.Transaction.Exchange)
	// No rate reported: the exchange has a zero rate.
	n, err = parse(resource(map[string]any{"total": 8000, "currency": "HKD", "payer_total": 7360, "payer_currency": "CNY"}))
	require.NoError(t, err)
	assert.True(t, n.Transaction.Exchange.Rate.IsZero())
	assert.Equal(t, "4200000000000000000000000009", n.Transaction.ProviderRef)
	// exchange_rate beside amount rather than in it is read too.
	res = resource(map[string]any{"total": 8000, "currency": "HKD", "payer_total": 7360, "payer_currency": "CNY"})
	res["exchange_rate"] = rate(92000000)
	n, err = parse(res)
	require.NoError(t, err)
	assert.True(t, decimal.RequireFromString("0.92").Equal(n.Transaction.Exchange.Rate))
}

// An institutional merchant (ServiceProvider) names sp_mchid and
// sub_mchid on the global paths.
func TestGlobalInstitutional(t *testing.T) {
	e := globalEnv(t, wechatpaytest.Options{ServiceProvider: true}, func(c *wechatpay.Config) { c.Name = "" })
	e.p.AddSubMerchant(subMch, subApp)
	e.p.AddSubMerchant(subMch2, "")
	ctx := t.Context()
	assert.Equal(t, wechatpay.DefaultGlobalName, e.c.Name())
	own := payment.Account{SubMerchant: subMch, SubApp: subApp}
	const no = "PAYSPHK00000000001"
	r := globalReq(no, commerce.MustParseMoney("80.00", currency.HKD))
	r.Account, r.Payer = own, subOpenID
	pre, err := e.c.CreatePayment(ctx, r)
	require.NoError(t, err)
	assert.Equal(t, "/v3/global/transactions/jsapi", lastURI(t, e.p))
	body := lastBody(t, e.p)
	assert.Equal(t, e.cfg.MchID, body["sp_mchid"])
	assert.Equal(t, e.cfg.AppID, body["sp_appid"])
	assert.Equal(t, subMch, body["sub_mchid"])
	assert.Equal(t, subApp, body["sub_appid"])
	assert.Equal(t, map[string]any{"sub_openid": subOpenID}, body["payer"])
	assert.NotContains(t, body, "mchid")
	assert.Equal(t, "4111", body["merchant_category_code"])
	assert.Equal(t, subApp, pre.ClientParams["appId"])
	checkPaySign(t, pre.ClientParams)

	_, err = e.c.QueryPayment(ctx, own, no)
	require.NoError(t, err)
	assert.Equal(t, "/v3/global/transactions/out-trade-no/"+no+"?sp_mchid="+e.cfg.MchID+"&sub_mchid="+subMch, lastURI(t, e.p))
	_, err = e.c.QueryPayment(ctx, payment.Account{SubMerchant: subMch2}, no)
	assert.Equal(t, "ORDER_NOT_EXIST", apiError(t, err).Code, "another sub-merchant cannot see it")

	n, err := e.p.Pay(no)
	require.NoError(t, err)
	got, err := e.c.ParseNotification(ctx, n.Request())
	require.NoError(t, err)
	assert.Equal(t, own, got.Transaction.Account)
	assert.Equal(t, "CNY 73.60", got.Transaction.Exchange.Payer.String())

	res, err := e.c.Refund(ctx, payment.RefundRequest{Account: own, RefundNo: "RFSPHK0000000001", PaymentNo: no,
		Amount: commerce.MustParseMoney("10.00", currency.HKD), Total: r.Amount})
	require.NoError(t, err)
	body = lastBody(t, e.p)
	assert.Equal(t, "/v3/global/refunds", lastURI(t, e.p))
	assert.Equal(t, e.cfg.MchID, body["sp_mchid"])
	assert.Equal(t, subMch, body["sub_mchid"])
	assert.NotContains(t, body, "mchid")
	assert.Equal(t, own.SubMerchant, res.Account.SubMerchant)
	assert.Equal(t, "CNY 9.20", res.Exchange.Payer.String())
	_, err = e.c.QueryRefund(ctx, own, "RFSPHK0000000001")
	require.NoError(t, err)
	assert.Equal(t, "/v3/global/refunds/out-refund-no/RFSPHK0000000001?sp_mchid="+e.cfg.MchID+"&sub_mchid="+subMch, lastURI(t, e.p))
	rn, err := e.p.FinishRefund("RFSPHK0000000001", "SUCCESS")
	require.NoError(t, err)
	gotRefund, err := e.c.ParseNotification(ctx, rn.Request())
	require.NoError(t, err)
	assert.Equal(t, subMch, gotRefund.Refund.Account.SubMerchant)
	assert.Equal(t, "CNY 9.20", gotRefund.Refund.Exchange.Payer.String())

	other := payment.Account{SubMerchant: subMch2}
	r2 := globalReq("PAYSPHK00000000002", money(500, currency.HKD))
	r2.Account = other
	_, err = e.c.CreatePayment(ctx, r2)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"sp_openid": testOpenID}, lastBody(t, e.p)["payer"])
	require.NoError(t, e.c.ClosePayment(ctx, other, r2.PaymentNo))
	assert.Equal(t, "/v3/global/transactions/out-trade-no/PAYSPHK00000000002/close", lastURI(t, e.p))
	body = lastBody(t, e.p)
	assert.Equal(t, map[string]any{"sp_mchid": e.cfg.MchID, "sub_mchid": subMch2}, body)
}

// A cross-border client that downloads platform certificates asks the
// cross-border path.
func TestGlobalCertificates(t *testing.T) {
	e := globalEnv(t, wechatpaytest.Options{Mode: wechatpaytest.CertificateMode}, func(c *wechatpay.Config) {
		c.PlatformKeys, c.DownloadCertificates = nil, true
	})
	_, err := e.c.CreatePayment(t.Context(), globalReq("PAYHKCERT000000001", money(100, currency.HKD)))
	require.NoError(t, err)
	reqs := e.p.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, "/v3/global/certificates", reqs[0].URI)
	assert.True(t, strings.HasPrefix(reqs[1].URI, "/v3/global/"))
}
