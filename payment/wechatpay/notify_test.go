package wechatpay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/wechatpay"
	"github.com/minishop/minishop/payment/wechatpay/wechatpaytest"
)

func TestParsePaymentNotification(t *testing.T) {
	e := setup(t)
	n := e.paid(t, "PAY20250520000001", 21600)
	got, err := e.c.ParseNotification(t.Context(), n.Request())
	require.NoError(t, err)

	o, _ := e.p.Order("PAY20250520000001")
	var env struct{ ID string }
	require.NoError(t, json.Unmarshal(n.Body, &env))
	assert.Equal(t, env.ID, got.ID)
	assert.Equal(t, payment.NotifyPayment, got.Kind)
	assert.Equal(t, "TRANSACTION.SUCCESS", got.EventType)
	assert.True(t, got.CreatedAt.Equal(e.clock.Now()), "create_time %s", got.CreatedAt)
	assert.Nil(t, got.Refund)
	require.NotNil(t, got.Transaction)
	tx := got.Transaction
	assert.Equal(t, "PAY20250520000001", tx.PaymentNo)
	assert.Equal(t, o.TransactionID, tx.ProviderRef)
	assert.Len(t, tx.ProviderRef, 28)
	assert.Equal(t, payment.TxSucceeded, tx.State)
	assert.True(t, tx.Amount.Equal(cny(21600)), "%s", tx.Amount)
	assert.Equal(t, testOpenID, tx.Payer)
	assert.True(t, tx.PaidAt.Equal(e.clock.Now()))
	assert.Equal(t, "order=PAY20250520000001", tx.Attach)
	assert.Equal(t, e.cfg.MchID, tx.Merchant)
	assert.Equal(t, e.cfg.AppID, tx.App)

	// The same notification delivered twice parses twice: de-duplication is
	// the host's, by ID (WeChat retries until acknowledged).
	again, err := e.c.ParseNotification(t.Context(), n.Request())
	require.NoError(t, err)
	assert.Equal(t, got, again)
}

func TestParseRefundNotifications(t *testing.T) {
	for status, want := range map[string]payment.RefundState{
		"SUCCESS":  payment.RefundSucceeded,
		"ABNORMAL": payment.RefundFailed,
		"CLOSED":   payment.RefundFailed,
	} {
		t.Run(status, func(t *testing.T) {
			e := setup(t)
			e.paid(t, "PAY20250520000001", 21600)
			res, err := e.c.Refund(t.Context(), refundReq("REF20250520000001", "PAY20250520000001", 1600, 21600))
			require.NoError(t, err)
			e.clock.Advance(time.Minute)
			n, err := e.p.FinishRefund("REF20250520000001", status)
			require.NoError(t, err)
			got, err := e.c.ParseNotification(t.Context(), n.Request())
			require.NoError(t, err)
			assert.Equal(t, payment.NotifyRefund, got.Kind)
			assert.Equal(t, "REFUND."+status, got.EventType)
			assert.Nil(t, got.Transaction)
			r := got.Refund
			require.NotNil(t, r)
			assert.Equal(t, "REF20250520000001", r.RefundNo)
			assert.Equal(t, "PAY20250520000001", r.PaymentNo)
			assert.Equal(t, res.ProviderRef, r.ProviderRef)
			assert.Equal(t, want, r.State)
			assert.True(t, r.Amount.Equal(cny(1600)))
			if status == "SUCCESS" {
				assert.Empty(t, r.Reason)
				assert.True(t, r.At.Equal(e.clock.Now()))
			} else {
				assert.Contains(t, r.Reason, status)
			}
		})
	}
}

// Rules §10 item 10: every broken or forged notification is refused.
func TestTamperedNotificationsAreRejected(t *testing.T) {
	e := setup(t)
	n := e.paid(t, "PAY20250520000001", 21600)
	want := map[wechatpaytest.Tamper]string{
		wechatpaytest.TamperBody:          "Wechatpay-Signature does not match",
		wechatpaytest.TamperSignature:     "Wechatpay-Signature does not match",
		wechatpaytest.TamperSerial:        "names no configured platform key",
		wechatpaytest.TamperStale:         "stale or replayed",
		wechatpaytest.TamperSignatureType: "Wechatpay-Signature-Type",
		wechatpaytest.TamperAlgorithm:     "algorithm",
		wechatpaytest.TamperGCMTag:        "does not decrypt",
		wechatpaytest.TamperAPIv3Key:      "does not decrypt",
	}
	require.Len(t, want, len(wechatpaytest.NotificationTampers()))
	for _, tamper := range wechatpaytest.NotificationTampers() {
		t.Run(tamper.String(), func(t *testing.T) {
			bad, err := e.p.Tamper(n, tamper)
			require.NoError(t, err)
			got, err := e.c.ParseNotification(t.Context(), bad.Request())
			assert.Nil(t, got)
			require.ErrorIs(t, err, wechatpay.ErrVerification)
			assert.Contains(t, err.Error(), want[tamper])
		})
	}
	// The untampered original still parses.
	_, err := e.c.ParseNotification(t.Context(), n.Request())
	require.NoError(t, err)
}

// A captured notification replayed later is refused, and so is one from
// the future: the window is |now - timestamp| < MaxSkew.
func TestReplayedNotificationIsRejected(t *testing.T) {
	e := setup(t)
	n := e.paid(t, "PAY20250520000001", 21600)

	e.clock.Advance(wechatpay.DefaultMaxSkew - time.Second)
	_, err := e.c.ParseNotification(t.Context(), n.Request())
	require.NoError(t, err, "just inside the window")

	e.clock.Advance(time.Second)
	_, err = e.c.ParseNotification(t.Context(), n.Request())
	require.ErrorIs(t, err, wechatpay.ErrVerification)
	assert.Contains(t, err.Error(), "stale or replayed")

	e.clock.Advance(-2 * wechatpay.DefaultMaxSkew)
	_, err = e.c.ParseNotification(t.Context(), n.Request())
	require.ErrorIs(t, err, wechatpay.ErrVerification, "a timestamp five minutes ahead is refused too")

	// A tighter MaxSkew is honoured.
	e2 := setup(t, func(c *wechatpay.Config) { c.MaxSkew = 30 * time.Second })
	n2 := e2.paid(t, "PAY20250520000001", 100)
	e2.clock.Advance(31 * time.Second)
	_, err = e2.c.ParseNotification(t.Context(), n2.Request())
	require.ErrorIs(t, err, wechatpay.ErrVerification)
}

// The serial picks the key; when it names another configured key, that key
// is used and fails: there is no fall-back to a key that would verify.
func TestSerialSelectsKeyWithoutFallback(t *testing.T) {
	e := setup(t, func(c *wechatpay.Config) {
		c.PlatformKeys["PUB_KEY_ID_OTHER"] = &strangerKey().PublicKey
	})
	n := e.paid(t, "PAY20250520000001", 21600)
	req := n.Request()
	req.Header.Set("Wechatpay-Serial", "PUB_KEY_ID_OTHER")
	_, err := e.c.ParseNotification(t.Context(), req)
	require.ErrorIs(t, err, wechatpay.ErrVerification)
	assert.Contains(t, err.Error(), "PUB_KEY_ID_OTHER")

	// Rotation: a notification signed under the other serial by its key is
	// accepted.
	body := envelope(t, "TRANSACTION.SUCCESS", "transaction", paidResource(e))
	_, err = e.c.ParseNotification(t.Context(), signedRequest(t, strangerKey(), "PUB_KEY_ID_OTHER", e.clock.Now(), body))
	require.NoError(t, err)
}

func paidResource(e *env) map[string]any {
	return map[string]any{
		"appid": e.cfg.AppID, "mchid": e.cfg.MchID, "out_trade_no": "PAY20250520000001",
		"transaction_id": "4200000000202505200000000001", "trade_type": "JSAPI", "trade_state": "SUCCESS",
		"success_time": "2025-05-20T21:29:35+08:00", "payer": map[string]string{"openid": testOpenID},
		"amount": map[string]any{"total": 21600, "payer_total": 21600, "currency": "CNY", "payer_currency": "CNY"},
	}
}

// Properly signed and encrypted notifications whose content is wrong.
func TestSignedButUnacceptableNotifications(t *testing.T) {
	e := setup(t)
	sign := func(body []byte) *http.Request {
		return signedRequest(t, platformKey(), testPlatformSerial, e.clock.Now(), body)
	}
	with := func(k string, v any) map[string]any {
		r := paidResource(e)
		r[k] = v
		return r
	}
	cases := map[string]struct {
		body []byte
		want string
	}{
		"unknown event":        {envelope(t, "PROFITSHARING.SUCCESS", "transaction", paidResource(e)), "unsupported event_type"},
		"other merchant":       {envelope(t, "TRANSACTION.SUCCESS", "transaction", with("mchid", "1230000109")), "for merchant"},
		"unknown trade state":  {envelope(t, "TRANSACTION.SUCCESS", "transaction", with("trade_state", "PAID")), "unknown trade_state"},
		"bad success time":     {envelope(t, "TRANSACTION.SUCCESS", "transaction", with("success_time", "yesterday")), "success_time"},
		"dollars":              {envelope(t, "TRANSACTION.SUCCESS", "transaction", with("amount", map[string]any{"total": 1, "currency": "USD"})), "currency"},
		"paid without amount":  {envelope(t, "TRANSACTION.SUCCESS", "transaction", with("amount", nil)), "without amount"},
		"refund as payment":    {envelope(t, "TRANSACTION.SUCCESS", "refund", paidResource(e)), `want "transaction"`},
		"plaintext not json":   {envelope(t, "TRANSACTION.SUCCESS", "transaction", []byte("SUCCESS")), "transaction: invalid"},
		"not json":             {[]byte("<xml><return_code>SUCCESS</return_code></xml>"), "not a notification"},
		"no id":                {[]byte(`{"event_type":"TRANSACTION.SUCCESS"}`), "no id"},
		"plain resource":       {[]byte(`{"id":"x","create_time":"2015-05-20T13:29:35+08:00","event_type":"TRANSACTION.SUCCESS","resource_type":"plain","resource":{}}`), "resource_type"},
		"no resource":          {[]byte(`{"id":"x","create_time":"2015-05-20T13:29:35+08:00","event_type":"REFUND.SUCCESS","resource_type":"encrypt-resource"}`), "no resource"},
		"refund without state": {envelope(t, "REFUND.SUCCESS", "refund", map[string]any{"mchid": e.cfg.MchID, "out_refund_no": "R1"}), "unknown status"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := e.c.ParseNotification(t.Context(), sign(tc.body))
			require.Error(t, err)
			assert.Nil(t, got)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	// The resource itself is fine.
	_, err := e.c.ParseNotification(t.Context(), sign(envelope(t, "TRANSACTION.SUCCESS", "transaction", paidResource(e))))
	require.NoError(t, err)
}

func TestParseNotificationRequestShape(t *testing.T) {
	e := setup(t)
	n := e.paid(t, "PAY20250520000001", 21600)
	ctx := t.Context()

	_, err := e.c.ParseNotification(ctx, nil)
	assert.Error(t, err)

	get := n.Request()
	get.Method = http.MethodGet
	_, err = e.c.ParseNotification(ctx, get)
	assert.ErrorContains(t, err, "method GET")

	huge := n.Request()
	huge.Body = io.NopCloser(io.MultiReader(bytes.NewReader(n.Body), strings.NewReader(strings.Repeat(" ", 1<<20))))
	_, err = e.c.ParseNotification(ctx, huge)
	assert.ErrorContains(t, err, "1 MiB")

	for _, h := range []string{"Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial"} {
		missing := n.Request()
		missing.Header.Del(h)
		_, err = e.c.ParseNotification(ctx, missing)
		require.ErrorIs(t, err, wechatpay.ErrVerification, h)
		assert.ErrorContains(t, err, h+" header missing")

		twice := n.Request()
		twice.Header.Add(h, twice.Header.Get(h))
		_, err = e.c.ParseNotification(ctx, twice)
		require.ErrorIs(t, err, wechatpay.ErrVerification, h)
	}

	noType := n.Request()
	noType.Header.Del("Wechatpay-Signature-Type")
	_, err = e.c.ParseNotification(ctx, noType)
	require.NoError(t, err, "Wechatpay-Signature-Type is optional")

	for _, ts := range []string{"-1", "+1747747775", "1747747775.0", " 1747747775", "17477477750000000000"} {
		r := n.Request()
		r.Header.Set("Wechatpay-Timestamp", ts)
		_, err = e.c.ParseNotification(ctx, r)
		require.ErrorIs(t, err, wechatpay.ErrVerification, ts)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = e.c.ParseNotification(cancelled, n.Request())
	assert.ErrorIs(t, err, context.Canceled)
}

func TestNotificationAck(t *testing.T) {
	rec := httptest.NewRecorder()
	wechatpay.NotificationAck(rec, nil)
	assert.Equal(t, 200, rec.Code)
	assert.Empty(t, rec.Body.String())

	for err, status := range map[error]int{
		wechatpay.ErrVerification:      401,
		errors.New("database is down"): 500,
	} {
		rec := httptest.NewRecorder()
		wechatpay.NotificationAck(rec, err)
		assert.Equal(t, status, rec.Code)
		var body map[string]string
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
		assert.Equal(t, "FAIL", body["code"])
		assert.NotEmpty(t, body["message"])
		assert.NotContains(t, body["message"], "database", "details stay in the host's logs")
	}
}

// Deliver posts to a host's handler the way WeChat does; the handler's ack
// decides.
func TestDeliverToHandler(t *testing.T) {
	var (
		e   *env
		mu  sync.Mutex
		got []*payment.Notification
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := e.c.ParseNotification(r.Context(), r)
		if err == nil {
			mu.Lock()
			got = append(got, n)
			mu.Unlock()
		}
		wechatpay.NotificationAck(w, err)
	}))
	defer srv.Close()
	e = setup(t, func(c *wechatpay.Config) { c.NotifyURL = srv.URL + "/wechatpay/notify" })

	n := e.paid(t, "PAY20250520000001", 21600)
	assert.Equal(t, srv.URL+"/wechatpay/notify", n.URL)
	status, body, err := e.p.Deliver(t.Context(), n)
	require.NoError(t, err)
	assert.Equal(t, 200, status)
	assert.Empty(t, body)
	mu.Lock()
	require.Len(t, got, 1)
	assert.Equal(t, "PAY20250520000001", got[0].Transaction.PaymentNo)
	mu.Unlock()

	forged, err := e.p.Tamper(n, wechatpaytest.TamperSignature)
	require.NoError(t, err)
	status, body, err = e.p.Deliver(t.Context(), forged)
	require.NoError(t, err)
	assert.Equal(t, 401, status)
	assert.JSONEq(t, `{"code":"FAIL","message":"notification verification failed"}`, string(body))
	mu.Lock()
	assert.Len(t, got, 1)
	mu.Unlock()
}

// create_time must be RFC 3339; a notification without one, or with a time
// in another format, is refused even though it is signed and decrypts.
func TestNotificationCreateTimeMustBeRFC3339(t *testing.T) {
	e := setup(t)
	withTime := func(v any) []byte {
		var m map[string]any
		require.NoError(t, json.Unmarshal(envelope(t, "TRANSACTION.SUCCESS", "transaction", paidResource(e)), &m))
		if v == nil {
			delete(m, "create_time")
		} else {
			m["create_time"] = v
		}
		body, err := json.Marshal(m)
		require.NoError(t, err)
		return body
	}
	for name, v := range map[string]any{
		"missing":      nil,
		"empty":        "",
		"no offset":    "2015-05-20T13:29:35",
		"space":        "2015-05-20 13:29:35+08:00",
		"unix seconds": "1432099775",
		"a number":     1432099775,
		"date only":    "2015-05-20",
	} {
		t.Run(name, func(t *testing.T) {
			got, err := e.c.ParseNotification(t.Context(), signedRequest(t, platformKey(), testPlatformSerial, e.clock.Now(), withTime(v)))
			require.Error(t, err)
			assert.Nil(t, got)
			var ce *commerce.Error
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, commerce.KindInvalid, ce.Kind)
			assert.Equal(t, "create_time", ce.Field)
			assert.ErrorIs(t, err, commerce.ErrInvalid)
			assert.NotErrorIs(t, err, wechatpay.ErrVerification, "the signature did verify")
			assert.Contains(t, err.Error(), "create_time")
		})
	}

	got, err := e.c.ParseNotification(t.Context(), signedRequest(t, platformKey(), testPlatformSerial, e.clock.Now(), withTime("2015-05-20T13:29:35+08:00")))
	require.NoError(t, err)
	assert.True(t, got.CreatedAt.Equal(time.Date(2015, 5, 20, 5, 29, 35, 0, time.UTC)), "%s", got.CreatedAt)
}
