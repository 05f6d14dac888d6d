package wechatpay_test

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/wechatpay"
	"github.com/minishop/minishop/payment/wechatpay/wechatpaytest"
)

const (
	subMch    = "1900000111"
	subApp    = "wx8888888888888888"
	subMch2   = "1900000222"
	subOpenID = "oSubOpenID_0000000000000000a"
)

// partnerEnv is a service provider's platform and client with two
// sub-merchants: one with its own Mini Program, one without.
func partnerEnv(t *testing.T) *env {
	t.Helper()
	clock := newClock()
	p := wechatpaytest.Start(t, wechatpaytest.Options{ServiceProvider: true, APIv3Key: testAPIv3Key,
		MerchantKey: merchantKey(), PlatformKey: platformKey(), PlatformSerial: testPlatformSerial, Now: clock.Now})
	p.AddSubMerchant(subMch, subApp)
	p.AddSubMerchant(subMch2, "")
	cfg := p.Config("https://shop.example.com/wechatpay/notify")
	cfg.Now, cfg.Name = clock.Now, "wechatpay_sp"
	c, err := wechatpay.New(cfg)
	require.NoError(t, err)
	return &env{p: p, c: c, cfg: cfg, clock: clock, notify: cfg.NotifyURL}
}

func checkPaySign(t *testing.T, params map[string]string) {
	t.Helper()
	msg := params["appId"] + "\n" + params["timeStamp"] + "\n" + params["nonceStr"] + "\n" + params["package"] + "\n"
	sig, err := base64.StdEncoding.DecodeString(params["paySign"])
	require.NoError(t, err)
	sum := sha256.Sum256([]byte(msg))
	require.NoError(t, rsa.VerifyPKCS1v15(&merchantKey().PublicKey, crypto.SHA256, sum[:], sig), "paySign is the provider's signature over the paying app")
}

func TestPartnerPrepayPayerApp(t *testing.T) {
	e := partnerEnv(t)
	ctx := t.Context()
	own := payment.Account{SubMerchant: subMch, SubApp: subApp}
	assert.Equal(t, "wechatpay_sp", e.c.Name())

	// The sub-merchant's own Mini Program pays: sub_openid, sub_appid, and
	// wx.requestPayment signed for sub_appid.
	r := createReq("PAYSUB000000000001", 1990)
	r.Account, r.Payer = own, subOpenID
	pre, err := e.c.CreatePayment(ctx, r)
	require.NoError(t, err)
	body := lastBody(t, e.p)
	assert.Equal(t, e.cfg.AppID, body["sp_appid"])
	assert.Equal(t, e.cfg.MchID, body["sp_mchid"])
	assert.Equal(t, subApp, body["sub_appid"])
	assert.Equal(t, subMch, body["sub_mchid"])
	assert.Equal(t, map[string]any{"sub_openid": subOpenID}, body["payer"])
	assert.NotContains(t, body, "appid")
	assert.NotContains(t, body, "mchid")
	assert.Equal(t, subApp, pre.ClientParams["appId"])
	checkPaySign(t, pre.ClientParams)

	// The customer is in the provider's Mini Program: sp_openid, and the
	// signature is for sp_appid.
	r = createReq("PAYSUB000000000002", 2990)
	r.Account, r.PayerApp = own, e.cfg.AppID
	pre, err = e.c.CreatePayment(ctx, r)
	require.NoError(t, err)
	body = lastBody(t, e.p)
	assert.Equal(t, map[string]any{"sp_openid": testOpenID}, body["payer"])
	assert.Equal(t, e.cfg.AppID, pre.ClientParams["appId"])
	checkPaySign(t, pre.ClientParams)

	// A sub-merchant without an app pays in the provider's.
	r = createReq("PAYSUB000000000003", 3990)
	r.Account = payment.Account{SubMerchant: subMch2}
	pre, err = e.c.CreatePayment(ctx, r)
	require.NoError(t, err)
	assert.NotContains(t, lastBody(t, e.p), "sub_appid")
	assert.Equal(t, e.cfg.AppID, pre.ClientParams["appId"])

	// An app that is neither, or a payment without a sub-merchant, never
	// reaches WeChat.
	before := len(e.p.Requests())
	r.PaymentNo, r.PayerApp = "PAYSUB000000000004", "wxelsewhere0000000"
	_, err = e.c.CreatePayment(ctx, r)
	assertInvalid(t, err, "PayerApp")
	r.PayerApp, r.Account = "", payment.Account{}
	_, err = e.c.CreatePayment(ctx, r)
	assertInvalid(t, err, "Account")
	assert.Len(t, e.p.Requests(), before)

	// A sub-merchant the provider does not serve is WeChat's refusal.
	r.Account = payment.Account{SubMerchant: "1900000999"}
	_, err = e.c.CreatePayment(ctx, r)
	assert.Equal(t, "INVALID_REQUEST", apiError(t, err).Code)
}

func assertInvalid(t *testing.T, err error, field string) {
	t.Helper()
	var ce *commerce.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, commerce.KindInvalid, ce.Kind, "%v", err)
	assert.Equal(t, field, ce.Field, "%v", err)
}

func TestPartnerQueryCloseRefund(t *testing.T) {
	e := partnerEnv(t)
	ctx := t.Context()
	own := payment.Account{SubMerchant: subMch, SubApp: subApp}
	other := payment.Account{SubMerchant: subMch2}
	r := createReq("PAYSUB000000000010", 5000)
	r.Account, r.Payer = own, subOpenID
	_, err := e.c.CreatePayment(ctx, r)
	require.NoError(t, err)

	tx, err := e.c.QueryPayment(ctx, own, r.PaymentNo)
	require.NoError(t, err)
	assert.Equal(t, payment.TxPending, tx.State)
	assert.Equal(t, own, tx.Account)
	assert.Equal(t, e.cfg.MchID, tx.Merchant)
	assert.Equal(t, subOpenID, tx.Payer)
	// Another sub-merchant cannot see the order.
	_, err = e.c.QueryPayment(ctx, other, r.PaymentNo)
	assert.Equal(t, "ORDER_NOT_EXIST", apiError(t, err).Code)

	n, err := e.p.Pay(r.PaymentNo)
	require.NoError(t, err)
	got, err := e.c.ParseNotification(ctx, n.Request())
	require.NoError(t, err)
	assert.Equal(t, own, got.Transaction.Account, "the notification names the sub-merchant and its app")
	assert.Equal(t, e.cfg.AppID, got.Transaction.App)

	require.Error(t, e.c.ClosePayment(ctx, own, r.PaymentNo), "a paid order cannot be closed")
	_, err = e.c.Refund(ctx, payment.RefundRequest{Account: other, RefundNo: "RFSUB0000000001", PaymentNo: r.PaymentNo, Amount: cny(100), Total: cny(5000)})
	require.Error(t, err, "another sub-merchant cannot refund it")
	res, err := e.c.Refund(ctx, payment.RefundRequest{Account: own, RefundNo: "RFSUB0000000002", PaymentNo: r.PaymentNo, Amount: cny(100), Total: cny(5000)})
	require.NoError(t, err)
	assert.Equal(t, payment.Account{SubMerchant: subMch}, res.Account)
	assert.Equal(t, subMch, lastBody(t, e.p)["sub_mchid"])
	res, err = e.c.QueryRefund(ctx, own, "RFSUB0000000002")
	require.NoError(t, err)
	assert.Equal(t, payment.RefundProcessing, res.State)
	assert.Contains(t, e.p.Requests()[len(e.p.Requests())-1].URI, "sub_mchid="+subMch)
	rn, err := e.p.FinishRefund("RFSUB0000000002", "SUCCESS")
	require.NoError(t, err)
	gotRefund, err := e.c.ParseNotification(ctx, rn.Request())
	require.NoError(t, err)
	assert.Equal(t, subMch, gotRefund.Refund.Account.SubMerchant)

	r2 := createReq("PAYSUB000000000011", 5000)
	r2.Account = other
	_, err = e.c.CreatePayment(ctx, r2)
	require.NoError(t, err)
	require.NoError(t, e.c.ClosePayment(ctx, other, r2.PaymentNo))
	o, _ := e.p.Order(r2.PaymentNo)
	assert.Equal(t, "CLOSED", o.State)
}

// A direct merchant's client and a provider's are not interchangeable:
// each refuses the other's accounts before calling, and each platform
// refuses the other's APIs.
func TestPartnerAndDirectApart(t *testing.T) {
	direct, sp := setup(t), partnerEnv(t)
	assert.NoError(t, direct.c.CheckAccount(payment.Account{}))
	assert.Error(t, direct.c.CheckAccount(payment.Account{SubMerchant: subMch}))
	assert.Error(t, sp.c.CheckAccount(payment.Account{}))
	assert.Error(t, sp.c.CheckAccount(payment.Account{SubMerchant: "19x"}))
	assert.NoError(t, sp.c.CheckAccount(payment.Account{SubMerchant: subMch, SubApp: subApp}))

	// A provider's client pointed at a direct merchant's platform.
	cfg := direct.cfg
	cfg.ServiceProvider = true
	c, err := wechatpay.New(cfg)
	require.NoError(t, err)
	r := createReq("PAYSUB000000000020", 100)
	r.Account = payment.Account{SubMerchant: subMch}
	_, err = c.CreatePayment(t.Context(), r)
	assert.Equal(t, "NO_AUTH", apiError(t, err).Code)

	// A direct notification reaching the provider's client is refused.
	n := direct.paid(t, "PAYDIRECT000000001", 100)
	_, err = sp.c.ParseNotification(t.Context(), n.Request())
	assert.Error(t, err)
}
