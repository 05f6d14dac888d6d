package wechatpay_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/currency"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/wechatpay"
	"github.com/minishop/minishop/payment/wechatpay/wechatpaytest"
)

const (
	agencyMch  = "1900000333"
	agencyName = "广州推广代理有限公司"
	promoterID = "oPromoter_000000000000000001"
)

// sharedPayment opens a payment for profit sharing, pays it and lets the
// minute WeChat asks for pass; it returns the transaction_id.
func (e *env) sharedPayment(t *testing.T, acct payment.Account, payer, no string, fen int64) string {
	t.Helper()
	r := createReq(no, fen)
	r.Account, r.Payer, r.ProfitSharing = acct, payer, true
	_, err := e.c.CreatePayment(t.Context(), r)
	require.NoError(t, err)
	settle := lastBody(t, e.p)["settle_info"]
	assert.Equal(t, map[string]any{"profit_sharing": true}, settle, "the prepay opens the payment for sharing")
	_, err = e.p.Pay(no)
	require.NoError(t, err)
	o, _ := e.p.Order(no)
	require.True(t, o.ProfitSharing)
	e.clock.Advance(2 * time.Minute)
	return o.TransactionID
}

func agency() payment.Payee {
	return payment.Payee{Kind: payment.PayeeBusiness, Account: agencyMch, Name: agencyName}
}

func promoter(app string) payment.Payee {
	return payment.Payee{Kind: payment.PayeePerson, Account: promoterID, App: app}
}

func shareReq(acct payment.Account, tx, no string, paid int64, rs ...payment.ShareReceiver) payment.ShareRequest {
	return payment.ShareRequest{Account: acct, TransactionID: tx, OrderNo: no, Receivers: rs, Paid: cny(paid)}
}

func line(p payment.Payee, fen int64) payment.ShareReceiver {
	return payment.ShareReceiver{Payee: p, Relation: payment.RelationPartner, Amount: cny(fen), Description: "推广佣金"}
}

func apiErr(t *testing.T, err error) *wechatpay.APIError {
	t.Helper()
	var ae *wechatpay.APIError
	require.ErrorAs(t, err, &ae)
	return ae
}

// TestShareLifecycle: receivers added with the name encrypted; a sharing
// order processing, then finished with each receiver paid; the same
// number is the same order; the rest unfrozen to the merchant; a return
// from the business receiver; WeChat's books agree with the amounts to the
// fen at every step.
func TestShareLifecycle(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	direct := payment.Account{}
	tx := e.sharedPayment(t, direct, testOpenID, "PSPAY000001", 10000)
	e.p.SetMerchantName(agencyMch, agencyName)

	require.NoError(t, e.c.AddReceiver(ctx, direct, line(agency(), 0)))
	req := e.p.Requests()[len(e.p.Requests())-1]
	assert.NotContains(t, string(req.Body), agencyName, "the name travels encrypted")
	assert.Equal(t, e.p.PlatformSerial(), req.Header.Get("Wechatpay-Serial"), "naming the key it is encrypted with")
	rc, ok := e.p.Receiver("", "MERCHANT_ID", agencyMch)
	require.True(t, ok)
	assert.Equal(t, agencyName, rc.Name, "the platform decrypted the name")
	assert.Equal(t, "PARTNER", rc.RelationType)
	require.NoError(t, e.c.AddReceiver(ctx, direct, line(agency(), 0)), "adding again is fine")
	prom := line(promoter(e.p.AppID()), 1000)
	prom.Relation = payment.RelationDistributor
	require.NoError(t, e.c.AddReceiver(ctx, direct, prom))

	e.p.HoldShares(true)
	r := shareReq(direct, tx, "SHARE-0001", 10000, line(agency(), 1500), prom)
	res, err := e.c.CreateShare(ctx, r)
	require.NoError(t, err)
	assert.Equal(t, payment.ShareProcessing, res.State)
	require.Len(t, res.Receivers, 2)
	assert.Equal(t, payment.SharePending, res.Receivers[0].Result)
	body := lastBody(t, e.p)
	assert.Equal(t, e.p.AppID(), body["appid"])
	assert.NotContains(t, body, "sub_mchid", "a direct merchant names no sub-merchant")
	assert.Equal(t, false, body["unfreeze_unsplit"])

	q, err := e.c.QueryShare(ctx, direct, tx, "SHARE-0001")
	require.NoError(t, err)
	assert.Equal(t, payment.ShareProcessing, q.State, "held: still processing")
	e.p.HoldShares(false)
	q, err = e.c.QueryShare(ctx, direct, tx, "SHARE-0001")
	require.NoError(t, err)
	assert.Equal(t, payment.ShareFinished, q.State)
	assert.Equal(t, res.ProviderRef, q.ProviderRef)
	for _, l := range q.Receivers {
		assert.Equal(t, payment.ShareSucceeded, l.Result, l.Account)
		assert.False(t, l.Finished.IsZero())
	}
	assert.Equal(t, payment.PayeeBusiness, q.Receivers[0].Kind)
	assert.True(t, q.Receivers[0].Amount.Equal(cny(1500)))
	assert.Equal(t, payment.PayeePerson, q.Receivers[1].Kind)
	assert.Equal(t, int64(1500), e.p.Received(agencyMch))
	assert.Equal(t, int64(1000), e.p.Received(promoterID))
	left, err := e.c.Unsplit(ctx, direct, tx)
	require.NoError(t, err)
	assert.True(t, left.Equal(cny(7500)), "%s", left)

	again, err := e.c.CreateShare(ctx, r)
	require.NoError(t, err)
	assert.Equal(t, res.ProviderRef, again.ProviderRef, "the same out_order_no is the same order")
	s, _ := e.p.Sharing(tx)
	assert.Len(t, s.Orders, 1)
	assert.Equal(t, int64(2500), s.Shared, "shared once")
	r2 := r
	r2.Receivers = []payment.ShareReceiver{line(agency(), 1501), prom}
	_, err = e.c.CreateShare(ctx, r2)
	assert.Contains(t, apiErr(t, err).Message, "参数不一致", "the same number with other receivers is refused")

	// A return from the business receiver, then one over what it has left.
	ret, err := e.c.ReturnShare(ctx, payment.ReturnRequest{Account: direct, OrderNo: "SHARE-0001", ReturnNo: "RET-1",
		From: agencyMch, Amount: cny(500), Description: "订单退款，回退佣金"})
	require.NoError(t, err)
	assert.Equal(t, payment.ReturnProcessing, ret.State)
	qr, err := e.c.QueryReturn(ctx, direct, "SHARE-0001", "RET-1")
	require.NoError(t, err)
	assert.Equal(t, payment.ReturnSucceeded, qr.State)
	assert.True(t, qr.Amount.Equal(cny(500)))
	assert.Equal(t, int64(1000), e.p.Received(agencyMch))
	_, err = e.c.ReturnShare(ctx, payment.ReturnRequest{Account: direct, OrderNo: "SHARE-0001", ReturnNo: "RET-2",
		From: agencyMch, Amount: cny(1001), Description: "回退"})
	assert.Contains(t, apiErr(t, err).Message, "回退金额超过可回退金额")
	_, err = e.c.QueryReturn(ctx, direct, "SHARE-0001", "RET-2")
	assert.Equal(t, commerce.KindNotFound, commerce.KindOf(err), "a refused return does not exist")

	// The rest goes back to the merchant, and sharing ends.
	u, err := e.c.UnfreezeShare(ctx, direct, tx, "UNFREEZE-1", "解冻全部剩余资金")
	require.NoError(t, err)
	assert.Equal(t, payment.ShareProcessing, u.State)
	u, err = e.c.QueryShare(ctx, direct, tx, "UNFREEZE-1")
	require.NoError(t, err)
	assert.Equal(t, payment.ShareFinished, u.State)
	require.Len(t, u.Receivers, 1)
	assert.Equal(t, e.p.MchID(), u.Receivers[0].Account, "the merchant itself receives the rest")
	assert.True(t, u.Receivers[0].Amount.Equal(cny(7500)))
	s, _ = e.p.Sharing(tx)
	assert.Equal(t, int64(0), s.Unsplit)
	assert.Equal(t, int64(7500), s.Unfrozen)
	assert.Equal(t, int64(500), s.Returned)
	assert.Equal(t, s.Total, s.Shared+s.Unfrozen+s.Refunded, "every fen is accounted for")
	_, err = e.c.CreateShare(ctx, shareReq(direct, tx, "SHARE-0002", 10000, line(agency(), 100)))
	assert.Contains(t, apiErr(t, err).Message, "解冻", "no sharing after the unfreeze")
	assert.Equal(t, commerce.KindFailedPrecondition, commerce.KindOf(err))
}

// TestShareReceiverClosed: WeChat closes a line whose receiver it refuses
// or that was never added, and the money stays with the merchant.
func TestShareReceiverClosed(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	direct := payment.Account{}
	tx := e.sharedPayment(t, direct, testOpenID, "PSPAY000002", 10000)
	require.NoError(t, e.c.AddReceiver(ctx, direct, line(agency(), 0)))
	e.p.RefuseReceiver(agencyMch, "RECEIVER_HIGH_RISK")
	res, err := e.c.CreateShare(ctx, shareReq(direct, tx, "SHARE-C1", 10000, line(agency(), 1000), line(promoter(e.p.AppID()), 800)))
	require.NoError(t, err)
	q, err := e.c.QueryShare(ctx, direct, tx, res.OrderNo)
	require.NoError(t, err)
	require.Equal(t, payment.ShareFinished, q.State)
	assert.Equal(t, payment.ShareClosed, q.Receivers[0].Result)
	assert.Equal(t, "RECEIVER_HIGH_RISK", q.Receivers[0].FailReason)
	assert.Equal(t, payment.ShareClosed, q.Receivers[1].Result)
	assert.Equal(t, "NO_RELATION", q.Receivers[1].FailReason, "the promoter was never added")
	s, _ := e.p.Sharing(tx)
	assert.Equal(t, int64(10000), s.Unsplit, "closed lines leave the money frozen for the merchant")
	assert.Zero(t, e.p.Received(agencyMch))
	_, err = e.c.ReturnShare(ctx, payment.ReturnRequest{OrderNo: "SHARE-C1", ReturnNo: "RET-C1", From: agencyMch,
		Amount: cny(1), Description: "回退"})
	assert.Contains(t, apiErr(t, err).Message, "回退方", "nothing to return from a closed line")

	_, err = e.c.QueryShare(ctx, direct, tx, "NOSUCHORDER")
	assert.Equal(t, commerce.KindNotFound, commerce.KindOf(err))
}

// TestShareLimits: what ValidateShare refuses before calling, and what
// WeChat refuses that the client cannot know.
func TestShareLimits(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	direct := payment.Account{}
	tx := e.sharedPayment(t, direct, testOpenID, "PSPAY000003", 10000)
	app := e.p.AppID()
	before := len(e.p.Requests())

	err := e.c.ValidateShare(shareReq(direct, tx, "LIM-1", 10000, line(agency(), 2001), line(promoter(app), 1000)))
	assertField(t, err, "Receivers")
	assert.Contains(t, err.Error(), "30%", "over the default maximum ratio")
	err = e.c.ValidateShare(shareReq(direct, tx, "LIM-1", 10000, line(agency(), 2000), line(promoter(app), 1000),
		line(payment.Payee{Kind: payment.PayeeBusiness, Account: e.p.MchID(), Name: "本商户"}, 7000)))
	assert.NoError(t, err, "a share to the merchant itself does not count against the ratio")
	many := make([]payment.ShareReceiver, 51)
	for i := range many {
		many[i] = line(payment.Payee{Kind: payment.PayeeBusiness, Account: fmt.Sprintf("19000%05d", i), Name: "代理"}, 1)
	}
	assertField(t, e.c.ValidateShare(shareReq(direct, tx, "LIM-1", 10000, many...)), "Receivers")
	assert.NoError(t, e.c.ValidateShare(shareReq(direct, tx, "LIM-1", 10000, many[:50]...)))

	cases := []struct {
		field string
		edit  func(*payment.ShareRequest)
	}{
		{"OrderNo", func(r *payment.ShareRequest) { r.OrderNo = "SHARE#1" }},
		{"OrderNo", func(r *payment.ShareRequest) { r.OrderNo = strings.Repeat("A", 65) }},
		{"TransactionID", func(r *payment.ShareRequest) { r.TransactionID = "" }},
		{"Account", func(r *payment.ShareRequest) { r.Account = payment.Account{SubMerchant: subMch} }},
		{"Paid", func(r *payment.ShareRequest) { r.Paid = commerce.Money{} }},
		{"Receivers", func(r *payment.ShareRequest) { r.Receivers = nil }},
		{"Receivers[0].Amount", func(r *payment.ShareRequest) { r.Receivers[0].Amount = commerce.FromMinor(100, currency.USD) }},
		{"Receivers[0].Amount", func(r *payment.ShareRequest) { r.Receivers[0].Amount = cny(0) }},
		{"Receivers[0].Description", func(r *payment.ShareRequest) { r.Receivers[0].Description = strings.Repeat("佣", 81) }},
		{"Receivers[0].Description", func(r *payment.ShareRequest) { r.Receivers[0].Description = "" }},
		{"Receivers[0].Payee.Name", func(r *payment.ShareRequest) { r.Receivers[0].Payee.Name = "" }},
		{"Receivers[0].Payee.Account", func(r *payment.ShareRequest) { r.Receivers[0].Payee.Account = "19-00" }},
		{"Receivers[1].Payee.App", func(r *payment.ShareRequest) { r.Receivers[1].Payee.App = "wxotherapp" }},
		{"Receivers[1].Payee.Kind", func(r *payment.ShareRequest) { r.Receivers[1].Payee.Kind = "robot" }},
		{"Receivers[1].Payee.Account", func(r *payment.ShareRequest) { r.Receivers[1] = line(agency(), 1) }},
	}
	for _, tc := range cases {
		r := shareReq(direct, tx, "BAD-1", 10000, line(agency(), 100), line(promoter(app), 100))
		tc.edit(&r)
		_, err := e.c.CreateShare(ctx, r)
		assertField(t, err, tc.field)
	}
	assert.Len(t, e.p.Requests(), before, "nothing refusable reaches WeChat")

	// A client that believes in a higher ratio than WeChat's is refused by
	// WeChat.
	loose := setupLike(t, e, func(c *wechatpay.Config) { c.MaxSharingRatio = commerce.MustPercent(50) })
	_, err = loose.CreateShare(ctx, shareReq(direct, tx, "LIM-2", 10000, line(agency(), 3001)))
	assert.Contains(t, apiErr(t, err).Message, "最大分账比例")
	_, err = loose.CreateShare(ctx, shareReq(direct, tx, "LIM-2", 10000, line(agency(), 3000)))
	require.NoError(t, err, "30 % exactly is allowed")

	// A payment not opened for sharing.
	e.paid(t, "PSPAY000004", 5000)
	plain, _ := e.p.Order("PSPAY000004")
	e.clock.Advance(2 * time.Minute)
	_, err = e.c.CreateShare(ctx, shareReq(direct, plain.TransactionID, "LIM-3", 5000, line(agency(), 100)))
	assert.Contains(t, apiErr(t, err).Message, "非分账订单不支持分账")
	assert.Equal(t, commerce.KindFailedPrecondition, commerce.KindOf(err))

	// Too soon after payment.
	r := createReq("PSPAY000005", 10000)
	r.ProfitSharing = true
	_, err = e.c.CreatePayment(ctx, r)
	require.NoError(t, err)
	_, err = e.p.Pay("PSPAY000005")
	require.NoError(t, err)
	fresh, _ := e.p.Order("PSPAY000005")
	_, err = e.c.CreateShare(ctx, shareReq(direct, fresh.TransactionID, "LIM-4", 10000, line(agency(), 100)))
	assert.Contains(t, apiErr(t, err).Message, "1分钟")

	// A refund takes from the frozen funds: what is left cannot be
	// over-shared (403 NOT_ENOUGH).
	e.clock.Advance(2 * time.Minute)
	_, err = e.c.Refund(ctx, payment.RefundRequest{RefundNo: "RF-PS5", ProviderRef: fresh.TransactionID, Amount: cny(9500), Total: cny(10000)})
	require.NoError(t, err)
	s, _ := e.p.Sharing(fresh.TransactionID)
	assert.Equal(t, int64(500), s.Unsplit)
	_, err = e.c.CreateShare(ctx, shareReq(direct, fresh.TransactionID, "LIM-5", 10000, line(agency(), 501)))
	ae := apiErr(t, err)
	assert.Equal(t, "NOT_ENOUGH", ae.Code)
	assert.Equal(t, commerce.KindFailedPrecondition, commerce.KindOf(err))

	// After the 30-day freeze period WeChat has unfrozen the rest itself.
	e.clock.Advance(30 * 24 * time.Hour)
	_, err = e.c.CreateShare(ctx, shareReq(direct, fresh.TransactionID, "LIM-6", 10000, line(agency(), 100)))
	assert.Contains(t, apiErr(t, err).Message, "分账期已过")
	s, _ = e.p.Sharing(fresh.TransactionID)
	assert.Equal(t, int64(500), s.Unfrozen)
	assert.Zero(t, s.Unsplit)
}

// setupLike is a second client of e's platform, configured by edit.
func setupLike(t *testing.T, e *env, edit func(*wechatpay.Config)) *wechatpay.Client {
	t.Helper()
	cfg := e.cfg
	edit(&cfg)
	c, err := wechatpay.New(cfg)
	require.NoError(t, err)
	return c
}

// TestSharePartner: a service provider shares a sub-merchant's payment:
// sub_mchid on every call, sub_appid for an openid under the
// sub-merchant's app, and the sub-merchant's own maximum ratio.
func TestSharePartner(t *testing.T) {
	e := partnerEnv(t)
	ctx := t.Context()
	own := payment.Account{SubMerchant: subMch, SubApp: subApp}
	assert.Equal(t, []string{subApp, e.cfg.AppID}, e.c.ShareApps(own))
	e.p.SetSharingRatio(subMch, 2000)
	ratio, err := e.c.SharingRatio(ctx, own)
	require.NoError(t, err)
	assert.Equal(t, commerce.MustPercent(20), ratio)

	tx := e.sharedPayment(t, own, subOpenID, "PSSUB000001", 10000)
	subPerson := payment.Payee{Kind: payment.PayeePerson, Account: subOpenID, App: subApp, Name: "张三"}
	for _, rc := range []payment.ShareReceiver{line(agency(), 0), line(promoter(e.cfg.AppID), 0), line(subPerson, 0)} {
		require.NoError(t, e.c.AddReceiver(ctx, own, rc))
	}
	body := lastBody(t, e.p)
	assert.Equal(t, subMch, body["sub_mchid"])
	assert.Equal(t, subApp, body["sub_appid"], "an openid under the sub-merchant's app")
	assert.Equal(t, "PERSONAL_SUB_OPENID", body["type"])
	rc, ok := e.p.Receiver(subMch, "PERSONAL_SUB_OPENID", subOpenID)
	require.True(t, ok)
	assert.Equal(t, "张三", rc.Name)
	_, ok = e.p.Receiver("", "MERCHANT_ID", agencyMch)
	assert.False(t, ok, "receivers are the sub-merchant's")

	r := shareReq(own, tx, "SUBSHARE-1", 10000, line(agency(), 1000), line(promoter(e.cfg.AppID), 500), line(subPerson, 501))
	_, err = e.c.CreateShare(ctx, r)
	assert.Contains(t, apiErr(t, err).Message, "最大分账比例", "the sub-merchant's 20 %% is WeChat's to enforce")
	r.Receivers[2].Amount = cny(500)
	res, err := e.c.CreateShare(ctx, r)
	require.NoError(t, err)
	body = lastBody(t, e.p)
	assert.Equal(t, subMch, body["sub_mchid"])
	assert.Equal(t, subApp, body["sub_appid"])
	assert.Equal(t, e.cfg.AppID, body["appid"])
	assert.NotContains(t, string(e.p.Requests()[len(e.p.Requests())-1].Body), "张三")
	q, err := e.c.QueryShare(ctx, own, tx, res.OrderNo)
	require.NoError(t, err)
	require.Equal(t, payment.ShareFinished, q.State)
	for _, l := range q.Receivers {
		assert.Equal(t, payment.ShareSucceeded, l.Result, l.Account)
	}
	o, _ := e.p.ShareOrder(subMch, res.OrderNo)
	assert.Equal(t, "张三", o.Receivers[2].Name, "the person's name was checked by WeChat")

	_, err = e.c.QueryShare(ctx, payment.Account{SubMerchant: subMch2}, tx, res.OrderNo)
	assert.Equal(t, commerce.KindNotFound, commerce.KindOf(err), "another sub-merchant has no such order")
	_, err = e.c.QueryShare(ctx, payment.Account{}, tx, res.OrderNo)
	assertField(t, err, "Account")

	ret, err := e.c.ReturnShare(ctx, payment.ReturnRequest{Account: own, OrderNo: res.OrderNo, ReturnNo: "SUBRET-1",
		From: agencyMch, Amount: cny(1000), Description: "回退"})
	require.NoError(t, err)
	assert.Equal(t, subMch, lastBody(t, e.p)["sub_mchid"])
	qr, err := e.c.QueryReturn(ctx, own, res.OrderNo, ret.ReturnNo)
	require.NoError(t, err)
	assert.Equal(t, payment.ReturnSucceeded, qr.State)
	assert.Zero(t, e.p.Received(agencyMch))

	_, err = e.c.UnfreezeShare(ctx, own, tx, "SUBUNFREEZE-1", "解冻")
	require.NoError(t, err)
	s, _ := e.p.Sharing(tx)
	assert.Equal(t, int64(8000), s.Unfrozen)
	assert.Equal(t, s.Total, s.Shared+s.Unfrozen)
}

// TestShareUnfreezeUnsplit: an order that unfreezes the rest when it
// finishes.
func TestShareUnfreezeUnsplit(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	tx := e.sharedPayment(t, payment.Account{}, testOpenID, "PSPAY000006", 3000)
	require.NoError(t, e.c.AddReceiver(ctx, payment.Account{}, line(agency(), 0)))
	r := shareReq(payment.Account{}, tx, "LAST-1", 3000, line(agency(), 900))
	r.UnfreezeRest = true
	_, err := e.c.CreateShare(ctx, r)
	require.NoError(t, err)
	assert.Equal(t, true, lastBody(t, e.p)["unfreeze_unsplit"])
	_, err = e.c.CreateShare(ctx, shareReq(payment.Account{}, tx, "LAST-2", 3000, line(agency(), 100)))
	assert.Contains(t, apiErr(t, err).Message, "分账已完结", "nothing after an order that unfreezes the rest")
	s, _ := e.p.Sharing(tx)
	assert.Equal(t, "FINISHED", s.Orders[0].State)
	assert.Equal(t, int64(900), s.Shared)
	assert.Equal(t, int64(2100), s.Unfrozen)
	assert.Zero(t, s.Unsplit)
}

// TestShareFaultsAndSignatures: a create whose answer is lost is sent
// again under the same number and acts once; forged answers and badly
// signed requests are refused.
func TestShareFaultsAndSignatures(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	tx := e.sharedPayment(t, payment.Account{}, testOpenID, "PSPAY000007", 10000)
	require.NoError(t, e.c.AddReceiver(ctx, payment.Account{}, line(agency(), 0)))
	r := shareReq(payment.Account{}, tx, "FAULT-1", 10000, line(agency(), 1000))

	e.p.SetFaults(wechatpaytest.Fault{Prefix: "/v3/profitsharing", Rate: 1, Lost: true})
	_, err := e.c.CreateShare(ctx, r)
	assert.Equal(t, "SYSTEM_ERROR", apiErr(t, err).Code)
	assert.True(t, commerce.Retryable(err))
	e.p.SetFaults()
	res, err := e.c.CreateShare(ctx, r)
	require.NoError(t, err)
	s, _ := e.p.Sharing(tx)
	require.Len(t, s.Orders, 1, "the retry found the order the lost call made")
	assert.Equal(t, s.Orders[0].OrderID, res.ProviderRef)
	assert.Equal(t, int64(1000), s.Shared)

	require.NoError(t, e.p.TamperResponses(wechatpaytest.TamperSignature))
	_, err = e.c.QueryShare(ctx, payment.Account{}, tx, "FAULT-1")
	require.ErrorIs(t, err, wechatpay.ErrVerification)
	require.NoError(t, e.p.TamperResponses(wechatpaytest.TamperBody))
	_, err = e.c.QueryShare(ctx, payment.Account{}, tx, "FAULT-1")
	require.ErrorIs(t, err, wechatpay.ErrVerification)
	require.NoError(t, e.p.TamperResponses(0))

	forger := setupLike(t, e, func(c *wechatpay.Config) { c.PrivateKey = strangerKey() })
	_, err = forger.CreateShare(ctx, shareReq(payment.Account{}, tx, "FAULT-2", 10000, line(agency(), 1000)))
	assert.Equal(t, "SIGN_ERROR", apiErr(t, err).Code)
	_, ok := e.p.ShareOrder("", "FAULT-2")
	assert.False(t, ok, "a request WeChat cannot verify does nothing")
}

// TestShareNameMismatch: WeChat checks a business receiver's name against
// its registered one; a relation WeChat does not name goes as a custom one.
func TestShareNameMismatch(t *testing.T) {
	e := setup(t)
	e.p.SetMerchantName(agencyMch, agencyName)
	rc := line(agency(), 0)
	rc.Payee.Name = "广州推广代理公司"
	err := e.c.AddReceiver(t.Context(), payment.Account{}, rc)
	assert.Contains(t, apiErr(t, err).Message, "全称不匹配")
	_, ok := e.p.Receiver("", "MERCHANT_ID", agencyMch)
	assert.False(t, ok)

	rc.Relation = ""
	assertField(t, e.c.AddReceiver(t.Context(), payment.Account{}, rc), "Relation")
	rc.Relation = "加盟商"
	rc.Payee.Name = agencyName
	require.NoError(t, e.c.AddReceiver(t.Context(), payment.Account{}, rc))
	var body map[string]any
	reqs := e.p.Requests()
	require.NoError(t, json.Unmarshal(reqs[len(reqs)-1].Body, &body))
	assert.Equal(t, "CUSTOM", body["relation_type"], "a relation WeChat does not name is a custom one")
	assert.Equal(t, "加盟商", body["custom_relation"])
}
