package wechat_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/storage/memory"
	"github.com/minishop/minishop/wechat"
	"github.com/minishop/minishop/wechat/wechattest"
)

const phonePath = "/wxa/business/getuserphonenumber"

// A phone-number button's code gives the number the customer shared, in
// one call with the access token and the code alone in the body; mainland
// and foreign numbers alike.
func TestPhoneNumber(t *testing.T) {
	w := newWorld(t)
	c := w.client(t)
	u := w.plat.NewUser()

	code := w.plat.PhoneCode(u, "13800138000")
	p, err := c.PhoneNumber(w.ctx, code)
	require.NoError(t, err)
	assert.Equal(t, wechat.PhoneNumber{Number: "13800138000", PureNumber: "13800138000", CountryCode: "86"}, p)
	p, err = c.PhoneNumber(w.ctx, w.plat.PhoneCode(u, "+852 61234567"))
	require.NoError(t, err)
	assert.Equal(t, wechat.PhoneNumber{Number: "+852 61234567", PureNumber: "61234567", CountryCode: "852"}, p)

	var calls []wechattest.Request
	for _, r := range w.plat.Requests() {
		if r.Path == phonePath {
			calls = append(calls, r)
		}
	}
	require.Len(t, calls, 2)
	assert.Equal(t, http.MethodPost, calls[0].Method)
	assert.Equal(t, "…", calls[0].Query.Get("access_token"))
	assert.JSONEq(t, `{"code":"`+code+`"}`, string(calls[0].Body))
	assert.Zero(t, calls[0].Code)
	assert.Equal(t, 1, w.plat.TokensIssued())
}

// A code is good once and for five minutes: a used, expired or unknown
// code is KindInvalid for field "code", and no error says the number, the
// access token or the secret.
func TestPhoneNumberCodesRefused(t *testing.T) {
	w := newWorld(t)
	c := w.client(t)
	u := w.plat.NewUser()
	const number = "13912345678"
	var errs []error

	code := w.plat.PhoneCode(u, number)
	_, err := c.PhoneNumber(w.ctx, code)
	require.NoError(t, err)
	_, err = c.PhoneNumber(w.ctx, code)
	ce := requireKind(t, err, commerce.KindInvalid, "code", "a code used again")
	var ae *wechat.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, wechat.CodeInvalidCode, ae.Code)
	assert.Contains(t, ce.Error(), "good once")
	assert.False(t, commerce.Retryable(err))
	errs = append(errs, err)

	_, err = c.PhoneNumber(w.ctx, "e31968a7f94cc5ee25fafc2aef2773f0bb8c3937b22520eb8ee345274d00c144")
	requireKind(t, err, commerce.KindInvalid, "code", "an unknown code")
	errs = append(errs, err)

	late := w.plat.PhoneCode(u, number)
	w.clock.Advance(wechattest.PhoneCodeTTL)
	_, err = c.PhoneNumber(w.ctx, late)
	requireKind(t, err, commerce.KindInvalid, "code", "a code five minutes old")
	errs = append(errs, err)
	justInTime := w.plat.PhoneCode(u, number)
	w.clock.Advance(wechattest.PhoneCodeTTL - time.Second)
	p, err := c.PhoneNumber(w.ctx, justInTime)
	require.NoError(t, err)
	assert.Equal(t, number, p.PureNumber)

	tok, err := c.AccessToken(w.ctx)
	require.NoError(t, err)
	w.plat.Close()
	_, err = c.PhoneNumber(w.ctx, w.plat.PhoneCode(u, number))
	assert.ErrorIs(t, err, commerce.ErrUnavailable)
	errs = append(errs, err)

	for _, err := range errs {
		for _, s := range []string{number, tok, w.plat.Secret()} {
			assert.NotContains(t, err.Error(), s)
		}
		assert.True(t, strings.HasPrefix(err.Error(), "wechat.phone_number"), "%v", err)
	}
}

// What cannot be a code is refused before WeChat is asked.
func TestPhoneNumberBadInput(t *testing.T) {
	w := newWorld(t)
	c := w.client(t)
	for _, code := range []string{"", "a b", "0a1B\n", "码", "x\x00", strings.Repeat("a", wechat.MaxLoginCodeLen+1), `a","openid":"x`} {
		_, err := c.PhoneNumber(w.ctx, code)
		requireKind(t, err, commerce.KindInvalid, "code", "%q", code)
		assert.True(t, strings.HasPrefix(err.Error(), "wechat.phone_number"), "%v", err)
	}
	assert.Empty(t, w.plat.Requests(), "nothing sent, not even for a token")
}

// A token that expired while the client still trusted it (42001), or one
// revoked (40001), is replaced once and the code sent again: WeChat
// refused the token before it looked at the code.
func TestPhoneNumberTokenRefreshed(t *testing.T) {
	w := newWorld(t)
	// The client's clock lags the platform's: it keeps a token the platform
	// holds expired.
	lagging := commercetest.NewClock(commercetest.Epoch)
	c := w.client(t, func(cfg *wechat.Config) { cfg.Clock = lagging })
	u := w.plat.NewUser()
	_, err := c.PhoneNumber(w.ctx, w.plat.PhoneCode(u, "13800138000"))
	require.NoError(t, err)
	w.clock.Advance(2 * time.Hour)
	p, err := c.PhoneNumber(w.ctx, w.plat.PhoneCode(u, "13800138001"))
	require.NoError(t, err)
	assert.Equal(t, "13800138001", p.PureNumber)

	w.plat.RevokeTokens()
	p, err = c.PhoneNumber(w.ctx, w.plat.PhoneCode(u, "13800138002"))
	require.NoError(t, err)
	assert.Equal(t, "13800138002", p.PureNumber)

	var codes []int
	for _, r := range w.plat.Requests() {
		codes = append(codes, r.Code)
	}
	assert.Equal(t, []int{0, 0, 42001, 0, 0, 40001, 0, 0}, codes,
		"token, call; expired call, token, call; revoked call, token, call")
	assert.Equal(t, 3, w.plat.TokensIssued())
	assert.Zero(t, w.plat.ForceRefreshes())
}

// A code is not retried: busy and server errors are KindUnavailable after
// one call (the code unspent, it works once the platform recovers); a lost
// answer spent the code, which is then refused.
func TestPhoneNumberNotRetried(t *testing.T) {
	w := newWorld(t)
	c := w.client(t)
	u := w.plat.NewUser()
	_, err := c.AccessToken(w.ctx)
	require.NoError(t, err)

	code := w.plat.PhoneCode(u, "13800138000")
	w.plat.Faults(1, 1, []wechattest.Fault{wechattest.FaultBusy}, phonePath)
	_, err = c.PhoneNumber(w.ctx, code)
	requireKind(t, err, commerce.KindUnavailable, "")
	assert.True(t, commerce.Retryable(err))
	assert.Equal(t, 1, w.plat.Calls(phonePath), "one call, no retry")
	w.plat.Faults(1, 1, []wechattest.Fault{wechattest.FaultServerError}, phonePath)
	_, err = c.PhoneNumber(w.ctx, code)
	assert.True(t, commerce.Retryable(err), "%v", err)
	assert.Equal(t, 2, w.plat.Calls(phonePath))
	w.plat.Heal()
	p, err := c.PhoneNumber(w.ctx, code)
	require.NoError(t, err)
	assert.Equal(t, "13800138000", p.PureNumber)

	code = w.plat.PhoneCode(u, "13800138000")
	w.plat.Faults(1, 1, []wechattest.Fault{wechattest.FaultLostAnswer}, phonePath)
	_, err = c.PhoneNumber(w.ctx, code)
	assert.True(t, commerce.Retryable(err), "%v", err)
	w.plat.Heal()
	_, err = c.PhoneNumber(w.ctx, code)
	requireKind(t, err, commerce.KindInvalid, "code", "the lost answer spent the code")
}

// What WeChat answers is checked: a number watermarked for another app, or
// not at all, is KindInternal; an answer without a number of WeChat's form
// is KindUnavailable; 40013 is a refusal. No error says the number or the
// token.
func TestPhoneNumberAnswerChecked(t *testing.T) {
	const tok, number = "tok-abc-0123456789", "13800138000"
	var answer string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/cgi-bin/stable_token" {
			_, _ = io.WriteString(w, `{"access_token":"`+tok+`","expires_in":7200}`)
			return
		}
		_, _ = io.WriteString(w, answer)
	}))
	defer srv.Close()
	c, err := wechat.New(wechat.Config{AppID: wechattest.DefaultAppID, Secret: "s", Store: memory.New(), BaseURL: srv.URL})
	require.NoError(t, err)
	info := func(edit func(m map[string]any)) string {
		m := map[string]any{"phoneNumber": "+86 " + number, "purePhoneNumber": number, "countryCode": "86",
			"watermark": map[string]any{"timestamp": 1637744274, "appid": wechattest.DefaultAppID}}
		edit(m)
		b, err := json.Marshal(map[string]any{"errcode": 0, "errmsg": "ok", "phone_info": m})
		require.NoError(t, err)
		return string(b)
	}

	answer = info(func(map[string]any) {})
	p, err := c.PhoneNumber(context.Background(), "code")
	require.NoError(t, err)
	assert.Equal(t, wechat.PhoneNumber{Number: "+86 " + number, PureNumber: number, CountryCode: "86"}, p)

	for _, tc := range []struct {
		name, answer string
		kind         commerce.Kind
	}{
		{"another app", info(func(m map[string]any) { m["watermark"] = map[string]any{"appid": "wx0000000000000000"} }), commerce.KindInternal},
		{"no watermark", info(func(m map[string]any) { delete(m, "watermark") }), commerce.KindInternal},
		{"no number", info(func(m map[string]any) { m["purePhoneNumber"] = "" }), commerce.KindUnavailable},
		{"not digits", info(func(m map[string]any) { m["purePhoneNumber"] = "+86" + number }), commerce.KindUnavailable},
		{"no country", info(func(m map[string]any) { delete(m, "countryCode") }), commerce.KindUnavailable},
		{"no full number", info(func(m map[string]any) { m["phoneNumber"] = "" }), commerce.KindUnavailable},
		{"too long", info(func(m map[string]any) { m["phoneNumber"] = number + strings.Repeat("0", 30) }), commerce.KindUnavailable},
		{"not a string", info(func(m map[string]any) { m["purePhoneNumber"] = 13800138000 }), commerce.KindInternal},
		{"no phone_info", `{"errcode":0,"errmsg":"ok"}`, commerce.KindUnavailable},
		{"busy", `{"errcode":-1,"errmsg":"system error"}`, commerce.KindUnavailable},
		{"invalid appid", `{"errcode":40013,"errmsg":"invalid appid"}`, commerce.KindFailedPrecondition},
	} {
		answer = tc.answer
		_, err := c.PhoneNumber(context.Background(), "code")
		ce := requireKind(t, err, tc.kind, "", tc.name)
		assert.Equal(t, "wechat.phone_number", ce.Op, tc.name)
		assert.NotContains(t, err.Error(), number, tc.name)
		assert.NotContains(t, err.Error(), tok, tc.name)
	}
}
