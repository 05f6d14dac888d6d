package wechatpay_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/wechatpay"
	"github.com/minishop/minishop/payment/wechatpay/wechatpaytest"
)

func transferReq(e *env, no string, fen int64) payment.TransferRequest {
	return payment.TransferRequest{BillNo: no, Amount: cny(fen), Remark: "12月推广佣金", Purpose: payment.PurposeCommission,
		Payee: payment.Payee{Kind: payment.PayeePerson, Account: testOpenID, App: e.p.AppID()}}
}

// TestTransferLifecycle: a bill waits for the payee with the parameters of
// wx.requestMerchantTransfer; sent again it is the same bill; the payee's
// acceptance arrives as a verified MCHTRANSFER.BILL.FINISHED notification.
func TestTransferLifecycle(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	tr, err := e.c.CreateTransfer(ctx, transferReq(e, "PO20251204A1", 1234))
	require.NoError(t, err)
	assert.Equal(t, payment.TransferWaiting, tr.State)
	require.NotEmpty(t, tr.ProviderRef)
	bill, ok := e.p.TransferBill("PO20251204A1")
	require.True(t, ok)
	assert.Equal(t, map[string]string{"mchId": e.p.MchID(), "appId": e.p.AppID(), "package": bill.PackageInfo}, tr.ClientParams)
	assert.Equal(t, "1005", bill.Scene, "commission is scene 1005")
	assert.Equal(t, []string{"岗位类型=推广员", "报酬说明=12月推广佣金"}, bill.ReportInfos)
	assert.Equal(t, int64(1234), bill.Amount)

	again, err := e.c.CreateTransfer(ctx, transferReq(e, "PO20251204A1", 1234))
	require.NoError(t, err)
	assert.Equal(t, tr.ProviderRef, again.ProviderRef, "the same number and fields: the same bill")
	assert.Equal(t, tr.ClientParams, again.ClientParams)
	assert.Len(t, e.p.TransferBills(), 1)

	_, err = e.c.CreateTransfer(ctx, transferReq(e, "PO20251204A1", 1235))
	var apiErr *wechatpay.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Contains(t, apiErr.Message, "单号已存在但信息不一致")

	q, err := e.c.QueryTransfer(ctx, payment.Account{}, "PO20251204A1")
	require.NoError(t, err)
	assert.Equal(t, payment.TransferWaiting, q.State)
	assert.True(t, q.Amount.Equal(cny(1234)))
	assert.Equal(t, testOpenID, q.Payee)

	n, err := e.p.ConfirmTransfer("PO20251204A1")
	require.NoError(t, err)
	got, err := e.c.ParseNotification(ctx, n.Request())
	require.NoError(t, err)
	assert.Equal(t, payment.NotifyTransfer, got.Kind)
	assert.Equal(t, "MCHTRANSFER.BILL.FINISHED", got.EventType)
	require.NotNil(t, got.Transfer)
	assert.Equal(t, payment.TransferSucceeded, got.Transfer.State)
	assert.True(t, got.Transfer.Amount.Equal(cny(1234)))
	assert.Equal(t, tr.ProviderRef, got.Transfer.ProviderRef)

	for _, tamper := range wechatpaytest.NotificationTampers() {
		bad, err := e.p.Tamper(n, tamper)
		require.NoError(t, err)
		_, err = e.c.ParseNotification(ctx, bad.Request())
		assert.Error(t, err, "%s", tamper)
	}
	_, err = e.c.CancelTransfer(ctx, payment.Account{}, "PO20251204A1")
	require.ErrorAs(t, err, &apiErr, "an accepted bill cannot be cancelled")
	assert.Contains(t, apiErr.Message, "不支持撤销")
}

func TestTransferCancelAndExpiry(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	_, err := e.c.CreateTransfer(ctx, transferReq(e, "CANCEL1", 500))
	require.NoError(t, err)
	c, err := e.c.CancelTransfer(ctx, payment.Account{}, "CANCEL1")
	require.NoError(t, err)
	assert.Equal(t, payment.TransferCancelling, c.State)
	q, err := e.c.QueryTransfer(ctx, payment.Account{}, "CANCEL1")
	require.NoError(t, err)
	assert.Equal(t, payment.TransferCancelled, q.State)
	assert.Empty(t, q.ClientParams)

	_, err = e.c.CreateTransfer(ctx, transferReq(e, "EXPIRE1", 500))
	require.NoError(t, err)
	e.clock.Advance(24*time.Hour + time.Second)
	q, err = e.c.QueryTransfer(ctx, payment.Account{}, "EXPIRE1")
	require.NoError(t, err)
	assert.Equal(t, payment.TransferCancelled, q.State, "not accepted within 24 hours: closed")
	n, err := e.p.TransferNotification("EXPIRE1")
	require.NoError(t, err)
	got, err := e.c.ParseNotification(ctx, n.Request())
	require.NoError(t, err)
	assert.Equal(t, payment.TransferCancelled, got.Transfer.State)

	_, err = e.c.QueryTransfer(ctx, payment.Account{}, "NOSUCHBILL")
	assert.Equal(t, commerce.KindNotFound, commerce.KindOf(err))
}

// TestTransferName: from 2,000 yuan the payee's name is required, and it
// travels encrypted under the platform key the request names.
func TestTransferName(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	r := transferReq(e, "BIG1", 200_000)
	err := e.c.ValidateTransfer(r)
	assertField(t, err, "Payee.Name")
	_, err = e.c.CreateTransfer(ctx, r)
	assertField(t, err, "Payee.Name")
	assert.Empty(t, e.p.Requests(), "refused before calling")

	r.Payee.Name = "张三"
	_, err = e.c.CreateTransfer(ctx, r)
	require.NoError(t, err)
	bill, _ := e.p.TransferBill("BIG1")
	assert.Equal(t, "张三", bill.UserName)
	reqs := e.p.Requests()
	require.Len(t, reqs, 1)
	assert.NotContains(t, string(reqs[0].Body), "张三", "the name is encrypted")
	var body map[string]any
	require.NoError(t, json.Unmarshal(reqs[0].Body, &body))
	assert.NotEmpty(t, body["user_name"])
	assert.Equal(t, e.p.PlatformSerial(), reqs[0].Header.Get("Wechatpay-Serial"))
}

func assertField(t *testing.T, err error, field string) {
	t.Helper()
	var ce *commerce.Error
	require.True(t, errors.As(err, &ce), "%v", err)
	assert.Equal(t, commerce.KindInvalid, ce.Kind)
	assert.Equal(t, field, ce.Field, "%v", err)
}

func TestTransferBadInput(t *testing.T) {
	e := setup(t)
	cases := []struct {
		field string
		edit  func(*payment.TransferRequest)
	}{
		{"BillNo", func(r *payment.TransferRequest) { r.BillNo = "PO-2025" }},
		{"BillNo", func(r *payment.TransferRequest) { r.BillNo = strings.Repeat("A", 33) }},
		{"Amount", func(r *payment.TransferRequest) { r.Amount = cny(9) }},
		{"Amount", func(r *payment.TransferRequest) { r.Amount = commerce.Money{} }},
		{"Remark", func(r *payment.TransferRequest) { r.Remark = "" }},
		{"Remark", func(r *payment.TransferRequest) { r.Remark = strings.Repeat("佣", 33) }},
		{"Payee.App", func(r *payment.TransferRequest) { r.Payee.App = "wxotherapp" }},
		{"Payee.Kind", func(r *payment.TransferRequest) {
			r.Payee = payment.Payee{Kind: payment.PayeeBusiness, Account: "1900000109", Name: "公司"}
		}},
		{"Payee.Account", func(r *payment.TransferRequest) { r.Payee.Account = "not an openid" }},
		{"Scene", func(r *payment.TransferRequest) { r.Purpose = "" }},
		{"Report[0].Type", func(r *payment.TransferRequest) {
			r.Report = []payment.TransferInfo{{Type: strings.Repeat("长", 16), Content: "x"}}
		}},
		{"Account", func(r *payment.TransferRequest) { r.Account = payment.Account{SubMerchant: "abc"} }},
	}
	for _, tc := range cases {
		r := transferReq(e, "BAD1", 100)
		tc.edit(&r)
		_, err := e.c.CreateTransfer(t.Context(), r)
		assertField(t, err, tc.field)
	}
	assert.Empty(t, e.p.Requests(), "nothing refusable reaches WeChat")
}

// TestTransferPartner: a service provider's transfer names the
// sub-merchant, pays an openid under the sub-merchant's app, and the Mini
// Program's parameters name both.
func TestTransferPartner(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	e.p.AddSubMerchant("1900000211", "wxsubapp0000000001")
	acct := payment.Account{SubMerchant: "1900000211", SubApp: "wxsubapp0000000001"}
	r := transferReq(e, "SUB1", 800)
	r.Account, r.Payee.App = acct, "wxsubapp0000000001"
	assert.Equal(t, "wxsubapp0000000001", e.c.TransferApp(acct))
	tr, err := e.c.CreateTransfer(ctx, r)
	require.NoError(t, err)
	bill, _ := e.p.TransferBill("SUB1")
	assert.Equal(t, "1900000211", bill.SubMchID)
	assert.Equal(t, map[string]string{"mchId": e.p.MchID(), "subMchId": "1900000211", "subAppId": "wxsubapp0000000001",
		"package": bill.PackageInfo}, tr.ClientParams)
	reqs := e.p.Requests()
	assert.True(t, strings.HasPrefix(reqs[len(reqs)-1].URI, "/v3/fund-app/mch-transfer/partner/transfer-bills"))

	_, err = e.c.QueryTransfer(ctx, payment.Account{}, "SUB1")
	assert.Equal(t, commerce.KindNotFound, commerce.KindOf(err), "the direct merchant has no such bill")
	q, err := e.c.QueryTransfer(ctx, acct, "SUB1")
	require.NoError(t, err)
	assert.Equal(t, payment.TransferWaiting, q.State)

	r.BillNo, r.Account = "SUB2", payment.Account{SubMerchant: "1900000999", SubApp: "wxsubapp0000000001"}
	_, err = e.c.CreateTransfer(ctx, r)
	var apiErr *wechatpay.APIError
	require.ErrorAs(t, err, &apiErr, "an unknown sub-merchant is refused by WeChat")
	assert.Equal(t, http.StatusForbidden, apiErr.StatusCode)
}

func TestTransferPlatformLimits(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	e.p.SetTransferLimits(wechatpaytest.TransferLimits{PerTransfer: 20_000, PerPayeeDay: 30_000})
	_, err := e.c.CreateTransfer(ctx, transferReq(e, "LIM1", 20_001))
	var apiErr *wechatpay.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Contains(t, apiErr.Message, "超过单笔转账上下限")
	assert.Equal(t, commerce.KindFailedPrecondition, commerce.KindOf(err))
	_, err = e.c.CreateTransfer(ctx, transferReq(e, "LIM2", 20_000))
	require.NoError(t, err)
	_, err = e.c.CreateTransfer(ctx, transferReq(e, "LIM3", 10_001))
	require.ErrorAs(t, err, &apiErr)
	assert.Contains(t, apiErr.Message, "单日")
	_, err = e.c.CancelTransfer(ctx, payment.Account{}, "LIM2")
	require.NoError(t, err)
	_, err = e.c.CreateTransfer(ctx, transferReq(e, "LIM3", 10_001))
	require.NoError(t, err, "a cancelled bill no longer counts")
}
