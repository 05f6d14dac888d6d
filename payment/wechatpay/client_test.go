package wechatpay_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
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

func apiError(t *testing.T, err error) *wechatpay.APIError {
	t.Helper()
	var e *wechatpay.APIError
	require.ErrorAs(t, err, &e)
	return e
}

func lastBody(t *testing.T, p *wechatpaytest.Platform) map[string]any {
	t.Helper()
	reqs := p.Requests()
	require.NotEmpty(t, reqs)
	var m map[string]any
	require.NoError(t, json.Unmarshal(reqs[len(reqs)-1].Body, &m))
	return m
}

func TestCreatePaymentRoundTrip(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	req := createReq("PAY20250520000001", 21600)
	req.ExpiresAt = e.clock.Now().Add(30 * time.Minute)
	pre, err := e.c.CreatePayment(ctx, req)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(pre.PrepayID, "wx"), pre.PrepayID)

	body := lastBody(t, e.p)
	assert.Equal(t, map[string]any{
		"appid": e.cfg.AppID, "mchid": e.cfg.MchID, "description": req.Description,
		"out_trade_no": "PAY20250520000001", "time_expire": "2025-05-20T21:59:35+08:00",
		"attach": req.Attach, "notify_url": e.notify,
		"amount": map[string]any{"total": 21600.0, "currency": "CNY"},
		"payer":  map[string]any{"openid": testOpenID},
	}, body)

	o, ok := e.p.Order("PAY20250520000001")
	require.True(t, ok)
	assert.Equal(t, "NOTPAY", o.State)
	assert.Equal(t, int64(21600), o.Total)
	assert.Equal(t, pre.PrepayID, o.PrepayID)

	// The same payment again is the same payment.
	again, err := e.c.CreatePayment(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, pre.PrepayID, again.PrepayID)

	// The same number with another amount is refused by the platform.
	req.Amount = cny(100)
	_, err = e.c.CreatePayment(ctx, req)
	ae := apiError(t, err)
	assert.Equal(t, 403, ae.StatusCode)
	assert.Equal(t, "OUT_TRADE_NO_USED", ae.Code)
}

func TestCreatePaymentChecksInputBeforeCalling(t *testing.T) {
	e := setup(t)
	ok := createReq("PAY20250520000001", 100)
	cases := []struct {
		name  string
		edit  func(*payment.CreateRequest)
		field string
	}{
		{"USD", func(r *payment.CreateRequest) { r.Amount = commerce.FromMinor(100, currency.USD) }, "Amount"},
		{"zero", func(r *payment.CreateRequest) { r.Amount = cny(0) }, "Amount"},
		{"negative", func(r *payment.CreateRequest) { r.Amount = cny(-5) }, "Amount"},
		{"fraction of a fen", func(r *payment.CreateRequest) {
			r.Amount = commerce.FromMinor(12345, currency.CNY).MulRate(commerce.FromMinor(1, currency.CNY).Amount())
		}, "Amount"},
		{"no amount", func(r *payment.CreateRequest) { r.Amount = commerce.Money{} }, "Amount"},
		{"short number", func(r *payment.CreateRequest) { r.PaymentNo = "P1234" }, "PaymentNo"},
		{"long number", func(r *payment.CreateRequest) { r.PaymentNo = strings.Repeat("P", 33) }, "PaymentNo"},
		{"number with slash", func(r *payment.CreateRequest) { r.PaymentNo = "PAY/20250520" }, "PaymentNo"},
		{"number with @", func(r *payment.CreateRequest) { r.PaymentNo = "PAY@20250520" }, "PaymentNo"},
		{"no description", func(r *payment.CreateRequest) { r.Description = "" }, "Description"},
		{"long description", func(r *payment.CreateRequest) { r.Description = strings.Repeat("商", 128) }, "Description"},
		{"control in description", func(r *payment.CreateRequest) { r.Description = "a\nb" }, "Description"},
		{"no payer", func(r *payment.CreateRequest) { r.Payer = "" }, "Payer"},
		{"odd payer", func(r *payment.CreateRequest) { r.Payer = "o\"x" }, "Payer"},
		{"long attach", func(r *payment.CreateRequest) { r.Attach = strings.Repeat("a", 129) }, "Attach"},
		{"expired", func(r *payment.CreateRequest) { r.ExpiresAt = e.clock.Now().Add(-time.Second) }, "ExpiresAt"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ok
			tc.edit(&r)
			_, err := e.c.CreatePayment(t.Context(), r)
			require.Error(t, err)
			assert.Equal(t, commerce.KindInvalid, commerce.KindOf(err), "%v", err)
			var ce *commerce.Error
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.field, ce.Field, "%v", err)
		})
	}
	assert.Empty(t, e.p.Requests(), "nothing invalid reached WeChat Pay")
}

func TestQueryPayment(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	_, err := e.c.CreatePayment(ctx, createReq("PAY20250520000001", 21600))
	require.NoError(t, err)

	tx, err := e.c.QueryPayment(ctx, payment.Account{}, "PAY20250520000001")
	require.NoError(t, err)
	assert.Equal(t, payment.TxPending, tx.State)
	assert.Empty(t, tx.ProviderRef)

	_, err = e.p.Pay("PAY20250520000001")
	require.NoError(t, err)
	tx, err = e.c.QueryPayment(ctx, payment.Account{}, "PAY20250520000001")
	require.NoError(t, err)
	o, _ := e.p.Order("PAY20250520000001")
	assert.Equal(t, &payment.Transaction{
		PaymentNo: "PAY20250520000001", ProviderRef: o.TransactionID, State: payment.TxSucceeded,
		Amount: cny(21600), Payer: testOpenID, PaidAt: tx.PaidAt, Attach: "order=PAY20250520000001",
		Merchant: e.cfg.MchID, App: e.cfg.AppID,
	}, tx)
	assert.True(t, tx.PaidAt.Equal(e.clock.Now()), "paid at %s", tx.PaidAt)
	assert.True(t, tx.Amount.Equal(commerce.MustParseMoney("216.00", currency.CNY)))

	_, err = e.c.QueryPayment(ctx, payment.Account{}, "PAY20250520009999")
	ae := apiError(t, err)
	assert.Equal(t, 404, ae.StatusCode)
	assert.Equal(t, "ORDER_NOT_EXIST", ae.Code)
	assert.NotEmpty(t, ae.Message)
	assert.NotEmpty(t, ae.RequestID)
	assert.Contains(t, err.Error(), "ORDER_NOT_EXIST")
	assert.Equal(t, commerce.KindNotFound, commerce.KindOf(err))
}

func TestClosePayment(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	_, err := e.c.CreatePayment(ctx, createReq("PAY20250520000001", 100))
	require.NoError(t, err)
	require.NoError(t, e.c.ClosePayment(ctx, payment.Account{}, "PAY20250520000001"))
	assert.Equal(t, 204, e.p.Requests()[1].Status)
	tx, err := e.c.QueryPayment(ctx, payment.Account{}, "PAY20250520000001")
	require.NoError(t, err)
	assert.Equal(t, payment.TxClosed, tx.State)
	_, err = e.p.Pay("PAY20250520000001")
	assert.Error(t, err, "a closed payment cannot be paid")
	require.NoError(t, e.c.ClosePayment(ctx, payment.Account{}, "PAY20250520000001"), "closing twice is fine")

	// Prepay on a closed number is refused.
	_, err = e.c.CreatePayment(ctx, createReq("PAY20250520000001", 100))
	assert.Equal(t, "ORDER_CLOSED", apiError(t, err).Code)

	e.paid(t, "PAY20250520000002", 100)
	err = e.c.ClosePayment(ctx, payment.Account{}, "PAY20250520000002")
	ae := apiError(t, err)
	assert.Equal(t, 403, ae.StatusCode)
	assert.Equal(t, "ORDERPAID", ae.Code)
	assert.Equal(t, commerce.KindFailedPrecondition, commerce.KindOf(err))

	assert.Equal(t, "ORDER_NOT_EXIST", apiError(t, e.c.ClosePayment(ctx, payment.Account{}, "PAY20250520009999")).Code)
	assert.Equal(t, commerce.KindInvalid, commerce.KindOf(e.c.ClosePayment(ctx, payment.Account{}, "no")))
}

func refundReq(no, paymentNo string, fen, total int64) payment.RefundRequest {
	return payment.RefundRequest{RefundNo: no, PaymentNo: paymentNo, Amount: cny(fen), Total: cny(total), Reason: "尺码不合适"}
}

func TestRefund(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	e.paid(t, "PAY20250520000001", 21600)
	o, _ := e.p.Order("PAY20250520000001")

	res, err := e.c.Refund(ctx, refundReq("REF20250520000001", "PAY20250520000001", 1600, 21600))
	require.NoError(t, err)
	assert.Equal(t, payment.RefundProcessing, res.State)
	assert.Equal(t, "REF20250520000001", res.RefundNo)
	assert.Equal(t, "PAY20250520000001", res.PaymentNo)
	assert.NotEmpty(t, res.ProviderRef)
	assert.True(t, res.Amount.Equal(cny(1600)))
	assert.True(t, res.At.Equal(e.clock.Now()))
	body := lastBody(t, e.p)
	assert.Equal(t, "PAY20250520000001", body["out_trade_no"])
	assert.NotContains(t, body, "transaction_id", "one payment number only")
	assert.Equal(t, map[string]any{"refund": 1600.0, "total": 21600.0, "currency": "CNY"}, body["amount"])
	assert.Equal(t, e.notify, body["notify_url"])
	assert.Equal(t, "尺码不合适", body["reason"])

	// The same refund number again is the same refund, not a second one.
	again, err := e.c.Refund(ctx, refundReq("REF20250520000001", "PAY20250520000001", 1600, 21600))
	require.NoError(t, err)
	assert.Equal(t, res.ProviderRef, again.ProviderRef)
	o, _ = e.p.Order("PAY20250520000001")
	assert.Equal(t, int64(1600), o.Refunded)

	// With the transaction id known, only it is sent.
	withRef := refundReq("REF20250520000002", "PAY20250520000001", 20000, 21600)
	withRef.ProviderRef = o.TransactionID
	_, err = e.c.Refund(ctx, withRef)
	require.NoError(t, err)
	body = lastBody(t, e.p)
	assert.Equal(t, o.TransactionID, body["transaction_id"])
	assert.NotContains(t, body, "out_trade_no")

	// 1600 + 20000 refunded of 21600: one fen more is over the paid amount.
	_, err = e.c.Refund(ctx, refundReq("REF20250520000003", "PAY20250520000001", 1, 21600))
	ae := apiError(t, err)
	assert.Equal(t, 400, ae.StatusCode)
	assert.Equal(t, "INVALID_REQUEST", ae.Code)
	assert.Contains(t, ae.Message, "申请退款金额超过订单可退金额")

	// A refund the platform closes gives its amount back.
	_, err = e.p.FinishRefund("REF20250520000002", "CLOSED")
	require.NoError(t, err)
	_, err = e.c.Refund(ctx, refundReq("REF20250520000003", "PAY20250520000001", 1, 21600))
	require.NoError(t, err)

	// The state still says paid: REFUND is a paid payment with refunds.
	tx, err := e.c.QueryPayment(ctx, payment.Account{}, "PAY20250520000001")
	require.NoError(t, err)
	assert.Equal(t, payment.TxSucceeded, tx.State)
}

func TestRefundMisuse(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	_, err := e.c.CreatePayment(ctx, createReq("PAY20250520000001", 100))
	require.NoError(t, err)
	_, err = e.c.Refund(ctx, refundReq("REF20250520000001", "PAY20250520000001", 100, 100))
	assert.Equal(t, "INVALID_REQUEST", apiError(t, err).Code, "unpaid")

	require.NoError(t, e.c.ClosePayment(ctx, payment.Account{}, "PAY20250520000001"))
	_, err = e.c.Refund(ctx, refundReq("REF20250520000001", "PAY20250520000001", 100, 100))
	ae := apiError(t, err)
	assert.Equal(t, 403, ae.StatusCode)
	assert.Equal(t, "ORDER_CLOSED", ae.Code)

	_, err = e.c.Refund(ctx, refundReq("REF20250520000001", "PAY20250520009999", 100, 100))
	ae = apiError(t, err)
	assert.Equal(t, 404, ae.StatusCode)
	assert.Equal(t, "RESOURCE_NOT_EXISTS", ae.Code)

	e.paid(t, "PAY20250520000002", 100)
	_, err = e.c.Refund(ctx, refundReq("REF20250520000002", "PAY20250520000002", 50, 99))
	assert.Equal(t, "INVALID_REQUEST", apiError(t, err).Code, "total must be the payment's")
}

func TestRefundChecksInputBeforeCalling(t *testing.T) {
	e := setup(t)
	good := refundReq("REF_2025-05|20*01@x", "PAY20250520000001", 100, 200)
	cases := []struct {
		name  string
		edit  func(*payment.RefundRequest)
		field string
	}{
		{"no refund number", func(r *payment.RefundRequest) { r.RefundNo = "" }, "RefundNo"},
		{"refund number with #", func(r *payment.RefundRequest) { r.RefundNo = "REF#1" }, "RefundNo"},
		{"refund number too long", func(r *payment.RefundRequest) { r.RefundNo = strings.Repeat("R", 65) }, "RefundNo"},
		{"no payment number", func(r *payment.RefundRequest) { r.PaymentNo = "" }, "PaymentNo"},
		{"bad provider ref", func(r *payment.RefundRequest) { r.ProviderRef = "42000/1" }, "ProviderRef"},
		{"more than total", func(r *payment.RefundRequest) { r.Amount = cny(201) }, "Amount"},
		{"zero", func(r *payment.RefundRequest) { r.Amount = cny(0) }, "Amount"},
		{"USD", func(r *payment.RefundRequest) { r.Amount = commerce.FromMinor(1, currency.USD) }, "Amount"},
		{"no total", func(r *payment.RefundRequest) { r.Total = commerce.Money{} }, "Total"},
		{"long reason", func(r *payment.RefundRequest) { r.Reason = strings.Repeat("因", 81) }, "Reason"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := good
			tc.edit(&r)
			_, err := e.c.Refund(t.Context(), r)
			var ce *commerce.Error
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, commerce.KindInvalid, ce.Kind)
			assert.Equal(t, tc.field, ce.Field, "%v", err)
		})
	}
	assert.Empty(t, e.p.Requests())

	// The full charset is accepted (and reaches the platform).
	_, err := e.c.Refund(t.Context(), good)
	assert.Equal(t, "RESOURCE_NOT_EXISTS", apiError(t, err).Code)
}

// A response altered in any way after WeChat signed it is refused.
func TestResponsesAreVerified(t *testing.T) {
	for _, tamper := range []wechatpaytest.Tamper{
		wechatpaytest.TamperBody, wechatpaytest.TamperSignature, wechatpaytest.TamperSerial,
		wechatpaytest.TamperStale, wechatpaytest.TamperUnsigned,
	} {
		t.Run(tamper.String(), func(t *testing.T) {
			e := setup(t)
			ctx := t.Context()
			_, err := e.c.CreatePayment(ctx, createReq("PAY20250520000001", 21600))
			require.NoError(t, err)
			require.NoError(t, e.p.TamperResponses(tamper))

			_, err = e.c.QueryPayment(ctx, payment.Account{}, "PAY20250520000001")
			require.ErrorIs(t, err, wechatpay.ErrVerification)
			_, err = e.c.CreatePayment(ctx, createReq("PAY20250520000002", 21600))
			require.ErrorIs(t, err, wechatpay.ErrVerification)
			if tamper != wechatpaytest.TamperBody { // a 204 has no body to alter
				require.ErrorIs(t, e.c.ClosePayment(ctx, payment.Account{}, "PAY20250520000001"), wechatpay.ErrVerification)
			}

			// Signed error answers are verified too; unsigned ones pass as advice.
			_, err = e.c.QueryPayment(ctx, payment.Account{}, "PAY20250520009999")
			if tamper == wechatpaytest.TamperUnsigned {
				assert.Equal(t, "ORDER_NOT_EXIST", apiError(t, err).Code)
			} else {
				require.ErrorIs(t, err, wechatpay.ErrVerification)
			}

			require.NoError(t, e.p.TamperResponses(0))
			_, err = e.c.QueryPayment(ctx, payment.Account{}, "PAY20250520000001")
			require.NoError(t, err)
		})
	}
	e := setup(t)
	assert.Error(t, e.p.TamperResponses(wechatpaytest.TamperGCMTag))
}

// The platform checks the merchant's signature: a client with the wrong key
// or serial is turned away with SIGN_ERROR.
func TestPlatformRejectsBadRequestSignatures(t *testing.T) {
	cases := map[string]func(*wechatpay.Config){
		"another private key": func(c *wechatpay.Config) { c.PrivateKey = strangerKey() },
		"another serial":      func(c *wechatpay.Config) { c.SerialNo = "0123456789ABCDEF" },
		"another merchant":    func(c *wechatpay.Config) { c.MchID = "1230000109" },
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			e := setup(t, edit)
			_, err := e.c.QueryPayment(t.Context(), payment.Account{}, "PAY20250520000001")
			ae := apiError(t, err)
			assert.Equal(t, 401, ae.StatusCode)
			assert.Equal(t, "SIGN_ERROR", ae.Code)
			assert.Equal(t, commerce.KindInternal, commerce.KindOf(err))
		})
	}
}

func TestTransportErrorsAreUnavailable(t *testing.T) {
	e := setup(t)
	e.p.Close()
	_, err := e.c.QueryPayment(t.Context(), payment.Account{}, "PAY20250520000001")
	require.Error(t, err)
	var ue *url.Error
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, commerce.KindUnavailable, commerce.KindOf(err))

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = e.c.QueryPayment(ctx, payment.Account{}, "PAY20250520000001")
	assert.True(t, errors.Is(err, context.Canceled), "%v", err)
}

func TestName(t *testing.T) {
	e := setup(t)
	assert.Equal(t, "wechatpay", e.c.Name())
}

// A refund whose notification is lost is found by querying it: processing
// until WeChat Pay settles it, then succeeded; an unknown one is an
// APIError.
func TestQueryRefund(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	e.paid(t, "PAY20250520000009", 5000)
	_, err := e.c.Refund(ctx, refundReq("REF20250520000009", "PAY20250520000009", 2000, 5000))
	require.NoError(t, err)
	res, err := e.c.QueryRefund(ctx, payment.Account{}, "REF20250520000009")
	require.NoError(t, err)
	assert.Equal(t, payment.RefundProcessing, res.State)
	assert.Equal(t, "PAY20250520000009", res.PaymentNo)
	_, err = e.p.FinishRefund("REF20250520000009", "SUCCESS")
	require.NoError(t, err)
	res, err = e.c.QueryRefund(ctx, payment.Account{}, "REF20250520000009")
	require.NoError(t, err)
	assert.Equal(t, payment.RefundSucceeded, res.State)
	assert.True(t, res.Amount.Equal(cny(2000)))
	_, err = e.c.QueryRefund(ctx, payment.Account{}, "REF-UNKNOWN-0001")
	ae := apiError(t, err)
	assert.Equal(t, 404, ae.StatusCode)
	_, err = e.c.QueryRefund(ctx, payment.Account{}, "bad refund no!")
	assert.ErrorIs(t, err, commerce.ErrInvalid)
}

// addHeader is a transport that adds a header to every answer, after the
// platform signed it (the header is not covered by the signature).
type addHeader struct {
	next        http.RoundTripper
	name, value string
}

func (a addHeader) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := a.next.RoundTrip(r)
	if err == nil {
		resp.Header.Add(a.name, a.value)
	}
	return resp, err
}

// Only notifications choose their signature suite by
// Wechatpay-Signature-Type; a response is verified the one way API v3
// defines whatever that header says, and is not refused for carrying it.
func TestResponseSignatureTypeIsIgnored(t *testing.T) {
	for _, sigType := range []string{"WECHATPAY2-SHA256-RSA2048", "WECHATPAY2-SHA256-RSA4096", "SM2-WITH-SM3"} {
		t.Run(sigType, func(t *testing.T) {
			e := setup(t, func(c *wechatpay.Config) {
				hc := *c.HTTPClient
				hc.Transport = addHeader{next: c.HTTPClient.Transport, name: "Wechatpay-Signature-Type", value: sigType}
				c.HTTPClient = &hc
			})
			ctx := t.Context()
			_, err := e.c.CreatePayment(ctx, createReq("PAY20250520000001", 21600))
			require.NoError(t, err)
			_, err = e.c.QueryPayment(ctx, payment.Account{}, "PAY20250520000001")
			require.NoError(t, err)
			require.NoError(t, e.c.ClosePayment(ctx, payment.Account{}, "PAY20250520000001"))
			// A signed error answer is still verified, and still believed.
			_, err = e.c.QueryPayment(ctx, payment.Account{}, "PAY20250520009999")
			assert.Equal(t, "ORDER_NOT_EXIST", apiError(t, err).Code)

			// The header does not stand in for a signature.
			require.NoError(t, e.p.TamperResponses(wechatpaytest.TamperSignature))
			_, err = e.c.QueryPayment(ctx, payment.Account{}, "PAY20250520000001")
			require.ErrorIs(t, err, wechatpay.ErrVerification)
		})
	}
}

// Every request names, in Wechatpay-Serial, the platform key the client
// verifies with, so WeChat Pay signs its answer with that key.
func TestRequestsNameThePlatformKey(t *testing.T) {
	serials := func(p *wechatpaytest.Platform) []string {
		var out []string
		for _, r := range p.Requests() {
			out = append(out, strings.Join(r.Header.Values("Wechatpay-Serial"), ","))
		}
		return out
	}
	calls := func(t *testing.T, e *env) {
		ctx := t.Context()
		_, err := e.c.CreatePayment(ctx, createReq("PAY20250520000001", 21600))
		require.NoError(t, err)
		_, err = e.c.QueryPayment(ctx, payment.Account{}, "PAY20250520000001")
		require.NoError(t, err)
		require.NoError(t, e.c.ClosePayment(ctx, payment.Account{}, "PAY20250520000001"))
		_, err = e.c.QueryRefund(ctx, payment.Account{}, "REF-UNKNOWN-0001")
		assert.Equal(t, "RESOURCE_NOT_EXISTS", apiError(t, err).Code)
	}

	t.Run("the only key", func(t *testing.T) {
		e := setup(t)
		calls(t, e)
		assert.Equal(t, []string{testPlatformSerial, testPlatformSerial, testPlatformSerial, testPlatformSerial}, serials(e.p))
	})
	t.Run("the public key beside certificates", func(t *testing.T) {
		// During the switch from platform certificates to the public key
		// both are configured; the public key is the one asked for.
		e := setup(t, func(c *wechatpay.Config) {
			c.PlatformKeys["5157F09EFDC096DE15EBE81A47057A7232F1B8E1"] = &strangerKey().PublicKey
		})
		calls(t, e)
		assert.Equal(t, []string{testPlatformSerial, testPlatformSerial, testPlatformSerial, testPlatformSerial}, serials(e.p))
	})
	t.Run("no single choice", func(t *testing.T) {
		// Two public keys: the client does not guess, it sends no serial
		// and WeChat Pay signs with the key it chooses.
		e := setup(t, func(c *wechatpay.Config) {
			c.PlatformKeys["PUB_KEY_ID_0114232019112100000000000000000001"] = &strangerKey().PublicKey
		})
		calls(t, e)
		assert.Equal(t, []string{"", "", "", ""}, serials(e.p))
	})
}

// A serial WeChat Pay does not know for the merchant is refused with
// 400 INVALID_REQUEST, and the client says which serial it sent.
func TestPlatformRefusesUnknownSerial(t *testing.T) {
	const certSerial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
	clock := newClock()
	p := wechatpaytest.Start(t, wechatpaytest.Options{
		APIv3Key: testAPIv3Key, MerchantKey: merchantKey(), PlatformKey: platformKey(),
		PlatformSerial: certSerial, Now: clock.Now,
	})
	cfg := p.Config("https://shop.example.com/wechatpay/notify")
	cfg.Now = clock.Now
	// A public-key ID the platform never issued to this merchant, beside the
	// right certificate: the client asks for the public key.
	cfg.PlatformKeys[testPlatformSerial] = &strangerKey().PublicKey
	c, err := wechatpay.New(cfg)
	require.NoError(t, err)

	_, err = c.QueryPayment(t.Context(), payment.Account{}, "PAY20250520000001")
	ae := apiError(t, err)
	assert.Equal(t, 400, ae.StatusCode)
	assert.Equal(t, "INVALID_REQUEST", ae.Code)
	assert.Contains(t, ae.Message, testPlatformSerial)
	assert.Contains(t, err.Error(), "Wechatpay-Serial "+testPlatformSerial)
	reqs := p.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, testPlatformSerial, reqs[0].Header.Get("Wechatpay-Serial"))
	assert.Equal(t, "INVALID_REQUEST", reqs[0].Code)
}
