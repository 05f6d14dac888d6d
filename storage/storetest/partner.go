package storetest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	. "github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/wechatpay"
	"github.com/minishop/minishop/payment/wechatpay/wechatpaytest"
)

// partnerEnv is one process taking WeChat Pay both as a direct merchant
// (provider "wechatpay") and as a service provider for two sub-merchants
// (provider "wechatpay_sp"), each against its own local platform.
type partnerEnv struct {
	*env
	pay                 *payment.Service
	direct, sp          *wechatpaytest.Platform
	directShop, ownApp  *Shop // ownApp: a sub-merchant with its own Mini Program
	noApp               *Shop // a sub-merchant paid in the provider's app
	ownAcct, noAppAcct  payment.Account
	spClient, dirClient *wechatpay.Client
}

const (
	partnerSubMch   = "1900000111"
	partnerSubApp   = "wx8888888888888888"
	partnerSubMch2  = "1900000222"
	partnerProvider = "wechatpay_sp"
)

func newPartnerEnv(t *testing.T, h Harness) *partnerEnv {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), store: h.New(t), clock: NewClock(Epoch)}
	direct := wechatpaytest.Start(t, wechatpaytest.Options{Now: e.clock.Now})
	sp := wechatpaytest.Start(t, wechatpaytest.Options{ServiceProvider: true, MchID: "1230000109", AppID: "wxsp000000000000aa", Now: e.clock.Now})
	sp.AddSubMerchant(partnerSubMch, partnerSubApp)
	sp.AddSubMerchant(partnerSubMch2, "")
	dcfg := direct.Config("")
	dcfg.Now = e.clock.Now
	dc, err := wechatpay.New(dcfg)
	require.NoError(t, err)
	scfg := sp.Config("")
	scfg.Now, scfg.Name = e.clock.Now, partnerProvider
	sc, err := wechatpay.New(scfg)
	require.NoError(t, err)
	engine, err := minishop.New(e.store, minishop.WithClock(e.clock), minishop.WithIDs(&SeqIDs{}), minishop.WithPayments(dc, sc))
	require.NoError(t, err)
	e.svc = engine.Commerce
	pe := &partnerEnv{env: e, pay: engine.Payments, direct: direct, sp: sp, spClient: sc, dirClient: dc,
		ownAcct: payment.Account{SubMerchant: partnerSubMch, SubApp: partnerSubApp}, noAppAcct: payment.Account{SubMerchant: partnerSubMch2}}
	spec := ProductSpec{Title: "茶具", Category: "home", Prices: []string{"33.33"}, Stock: 50}
	pe.directShop = NewShop(t, e.svc, "直连店", freeShipping, spec)
	pe.ownApp = NewShop(t, e.svc, "子商户店", freeShipping, spec)
	pe.noApp = NewShop(t, e.svc, "子商户二店", freeShipping, spec)
	require.NoError(t, pe.pay.SetAccount(e.ctx, pe.ownApp.Merchant.ID, partnerProvider, pe.ownAcct))
	require.NoError(t, pe.pay.SetAccount(e.ctx, pe.noApp.Merchant.ID, partnerProvider, pe.noAppAcct))
	return pe
}

// payThrough opens a payment for o through provider and pays it on plat,
// delivering the notification to the service's handler; it returns the
// handler's status.
func (e *partnerEnv) payThrough(plat *wechatpaytest.Platform, provider string, o *commerce.Order, app string) (*payment.Payment, map[string]string, int) {
	e.t.Helper()
	p, prepay, err := e.pay.Pay(e.ctx, payment.PayParams{MerchantID: o.MerchantID, OrderID: o.ID, Provider: provider,
		Payer: "oPayer_" + string(o.CustomerID) + "_000000000", PayerApp: app})
	require.NoError(e.t, err)
	n, err := plat.Pay(p.PaymentNo)
	require.NoError(e.t, err)
	rec := httptest.NewRecorder()
	e.pay.NotificationHandler(provider, func(_ *http.Request, err error) { e.t.Logf("notification: %v", err) }).ServeHTTP(rec, n.Request())
	return p, prepay.ClientParams, rec.Code
}

func (e *partnerEnv) lastBody(p *wechatpaytest.Platform, path string) map[string]any {
	e.t.Helper()
	reqs := p.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Method == http.MethodPost && reqs[i].URI == path {
			var m map[string]any
			require.NoError(e.t, json.Unmarshal(reqs[i].Body, &m))
			return m
		}
	}
	e.t.Fatalf("no POST %s", path)
	return nil
}

func runPartner(t *testing.T, h Harness) {
	t.Run("DirectAndPartnerAtOnce", func(t *testing.T) { testPartnerAtOnce(t, h) })
	t.Run("AccountsChecked", func(t *testing.T) { testPartnerAccounts(t, h) })
	t.Run("ForeignSubMerchantRejected", func(t *testing.T) { testPartnerForeign(t, h) })
}

// One process pays a direct merchant and two sub-merchants, each through
// its own API shape, with the payer's openid sent for the app that pays,
// and refunds a sub-merchant's order through the partner refund.
func testPartnerAtOnce(t *testing.T, h Harness) {
	e := newPartnerEnv(t, h)
	od := e.mustBuy(e.directShop, "dora", "d1", line(e.directShop.SKU(0, 0), 1))
	oa := e.mustBuy(e.ownApp, "alma", "a1", line(e.ownApp.SKU(0, 0), 2))
	ob := e.mustBuy(e.noApp, "bea", "b1", line(e.noApp.SKU(0, 0), 3))

	pd, params, code := e.payThrough(e.direct, "wechatpay", od, "")
	assert.Equal(t, http.StatusNoContent, code)
	assert.Equal(t, payment.Account{}, pd.Account)
	assert.Equal(t, e.direct.AppID(), params["appId"])
	assert.Equal(t, map[string]any{"openid": pd.Payer}, e.lastBody(e.direct, "/v3/pay/transactions/jsapi")["payer"])

	pa, params, code := e.payThrough(e.sp, partnerProvider, oa, "")
	assert.Equal(t, http.StatusNoContent, code)
	assert.Equal(t, e.ownAcct, pa.Account, "the payment keeps the merchant's account")
	assert.Equal(t, partnerSubApp, params["appId"], "paid in the sub-merchant's own app")
	body := e.lastBody(e.sp, "/v3/pay/partner/transactions/jsapi")
	assert.Equal(t, partnerSubMch, body["sub_mchid"])
	assert.Equal(t, map[string]any{"sub_openid": pa.Payer}, body["payer"])

	pb, params, code := e.payThrough(e.sp, partnerProvider, ob, "")
	assert.Equal(t, http.StatusNoContent, code)
	assert.Equal(t, e.sp.AppID(), params["appId"], "no app of its own: paid in the provider's")
	assert.Equal(t, map[string]any{"sp_openid": pb.Payer}, e.lastBody(e.sp, "/v3/pay/partner/transactions/jsapi")["payer"])

	for _, o := range []*commerce.Order{od, oa, ob} {
		got, err := e.svc.GetOrder(e.ctx, o.MerchantID, o.ID)
		require.NoError(t, err)
		assert.Equal(t, commerce.StatusPaid, got.Status, "order of %s", o.MerchantID)
	}

	// A sub-merchant's refund goes out with its sub_mchid, and its
	// notification settles it.
	r, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: oa.MerchantID, OrderID: oa.ID, IdempotencyKey: "r1",
		Items: []commerce.RefundItem{{Line: 0, Quantity: 1}}})
	require.NoError(t, err)
	assert.Equal(t, partnerSubMch, e.lastBody(e.sp, "/v3/refund/domestic/refunds")["sub_mchid"])
	pa, err = e.pay.GetPayment(e.ctx, oa.MerchantID, pa.ID)
	require.NoError(t, err)
	require.Len(t, pa.Refunds, 1)
	n, err := e.sp.FinishRefund(pa.Refunds[0].RefundNo, "SUCCESS")
	require.NoError(t, err)
	out, err := e.pay.HandleNotification(e.ctx, partnerProvider, n.Request())
	require.NoError(t, err)
	assert.Equal(t, payment.Applied, out)
	got, err := e.svc.GetOrder(e.ctx, oa.MerchantID, oa.ID)
	require.NoError(t, err)
	cr, _ := got.Refund(r.ID)
	assert.Equal(t, commerce.RefundSucceeded, cr.Status)

	// Reconcile asks the right sub-merchant's order.
	oc := e.mustBuy(e.noApp, "cai", "c1", line(e.noApp.SKU(0, 0), 1))
	pc, _, err := e.pay.Pay(e.ctx, payment.PayParams{MerchantID: oc.MerchantID, OrderID: oc.ID, Provider: partnerProvider, Payer: "oPayer_cai_000000000000"})
	require.NoError(t, err)
	_, err = e.sp.Pay(pc.PaymentNo) // the notification is lost
	require.NoError(t, err)
	pc, err = e.pay.Reconcile(e.ctx, oc.MerchantID, pc.ID)
	require.NoError(t, err)
	assert.Equal(t, payment.Succeeded, pc.Status)
}

// An account the channel cannot serve is refused when it is set, naming
// it, and leaves the merchant's account as it was.
func testPartnerAccounts(t *testing.T, h Harness) {
	e := newPartnerEnv(t, h)
	m := e.directShop.Merchant.ID
	for _, c := range []struct {
		provider string
		acct     payment.Account
		field    string
	}{
		{"wechatpay", payment.Account{SubMerchant: partnerSubMch}, "account"},
		{partnerProvider, payment.Account{}, "account"},
		{partnerProvider, payment.Account{SubMerchant: "19x"}, "account"},
		{partnerProvider, payment.Account{SubApp: partnerSubApp}, "account.sub_app"},
		{"nope", payment.Account{SubMerchant: partnerSubMch}, "provider"},
	} {
		err := e.pay.SetAccount(e.ctx, m, c.provider, c.acct)
		var ce *commerce.Error
		require.ErrorAs(t, err, &ce, "%+v", c)
		assert.Equal(t, commerce.KindInvalid, ce.Kind, "%+v", c)
		assert.Equal(t, c.field, ce.Field, "%+v", c)
	}
	a, err := e.pay.Account(e.ctx, m, "wechatpay")
	require.NoError(t, err)
	assert.True(t, a.IsDirect())
	a, err = e.pay.Account(e.ctx, e.ownApp.Merchant.ID, partnerProvider)
	require.NoError(t, err)
	assert.Equal(t, e.ownAcct, a)

	// A merchant without an account at the provider's channel cannot pay
	// through it: the channel refuses before anything is sent.
	o := e.mustBuy(e.directShop, "dora", "d1", line(e.directShop.SKU(0, 0), 1))
	before := len(e.sp.Requests())
	_, _, err = e.pay.Pay(e.ctx, payment.PayParams{MerchantID: m, OrderID: o.ID, Provider: partnerProvider, Payer: "oPayer_dora_000000000000"})
	require.Error(t, err)
	assert.Len(t, e.sp.Requests(), before)

	// Changing a merchant's account leaves its open payments on theirs.
	oa := e.mustBuy(e.ownApp, "alma", "a1", line(e.ownApp.SKU(0, 0), 1))
	pa, _, err := e.pay.Pay(e.ctx, payment.PayParams{MerchantID: oa.MerchantID, OrderID: oa.ID, Provider: partnerProvider, Payer: "oPayer_alma_000000000000"})
	require.NoError(t, err)
	require.NoError(t, e.pay.SetAccount(e.ctx, oa.MerchantID, partnerProvider, e.noAppAcct))
	pa, err = e.pay.GetPayment(e.ctx, oa.MerchantID, pa.ID)
	require.NoError(t, err)
	assert.Equal(t, e.ownAcct, pa.Account)
}

// A verified notification for a sub-merchant the payment does not belong
// to, or for a payment minishop does not know, changes nothing.
func testPartnerForeign(t *testing.T, h Harness) {
	e := newPartnerEnv(t, h)
	oa := e.mustBuy(e.ownApp, "alma", "a1", line(e.ownApp.SKU(0, 0), 1))
	pa, _, err := e.pay.Pay(e.ctx, payment.PayParams{MerchantID: oa.MerchantID, OrderID: oa.ID, Provider: partnerProvider, Payer: "oPayer_alma_000000000000"})
	require.NoError(t, err)
	n, err := e.sp.Pay(pa.PaymentNo)
	require.NoError(t, err)
	verified, err := e.spClient.ParseNotification(e.ctx, n.Request())
	require.NoError(t, err)

	forged := *verified
	tx := *verified.Transaction
	tx.Account = e.noAppAcct
	forged.ID, forged.Transaction = "EV-foreign-sub", &tx
	out, err := e.pay.ApplyNotification(e.ctx, partnerProvider, &forged)
	assert.ErrorIs(t, err, payment.ErrRejected)
	assert.Equal(t, payment.Rejected, out)
	got, err := e.svc.GetOrder(e.ctx, oa.MerchantID, oa.ID)
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusPendingPayment, got.Status, "nothing changed")

	// The same payment's real notification goes through.
	out, err = e.pay.ApplyNotification(e.ctx, partnerProvider, verified)
	require.NoError(t, err)
	assert.Equal(t, payment.Applied, out)

	// A sub-merchant the provider serves but minishop does not know pays
	// an order minishop never opened: rejected.
	e.sp.AddSubMerchant("1900000333", "")
	_, err = e.spClient.CreatePayment(e.ctx, payment.CreateRequest{Account: payment.Account{SubMerchant: "1900000333"}, PaymentNo: "STRANGER000000000001",
		Description: "x", Amount: CNY("1.00"), Payer: "oPayer_stranger_000000000"})
	require.NoError(t, err)
	n, err = e.sp.Pay("STRANGER000000000001")
	require.NoError(t, err)
	_, err = e.pay.HandleNotification(e.ctx, partnerProvider, n.Request())
	assert.ErrorIs(t, err, payment.ErrRejected)
}
