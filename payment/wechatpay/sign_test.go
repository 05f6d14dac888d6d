package wechatpay_test

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/wechatpay"
)

// Rules §10 item 11: a GET signs path+query and an empty body line.
func TestRequestMessageFormat(t *testing.T) {
	got := wechatpay.RequestMessage("GET", "/v3/pay/transactions/out-trade-no/PAY123456?mchid=1900000109", 1554208460, "593BEC0C930BF1AFEB40B4A08C8FB242", nil)
	assert.Equal(t, "GET\n/v3/pay/transactions/out-trade-no/PAY123456?mchid=1900000109\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n", got)
	assert.Equal(t, 5, strings.Count(got, "\n"))

	got = wechatpay.RequestMessage("POST", "/v3/pay/transactions/jsapi", 1554208460, "N", []byte(`{"a":1}`))
	assert.Equal(t, "POST\n/v3/pay/transactions/jsapi\n1554208460\nN\n{\"a\":1}\n", got)
}

// captured is a RoundTripper that records the request and fails the call:
// the test looks at what would have gone on the wire.
type captured struct {
	req  *http.Request
	body []byte
}

func (c *captured) RoundTrip(r *http.Request) (*http.Response, error) {
	c.req = r
	if r.Body != nil {
		c.body, _ = io.ReadAll(r.Body)
	}
	return nil, errors.New("captured")
}

var authRE = regexp.MustCompile(`^WECHATPAY2-SHA256-RSA2048 mchid="([^"]*)",nonce_str="([^"]*)",timestamp="([^"]*)",serial_no="([^"]*)",signature="([^"]*)"$`)

// checkAuthorization parses the header and verifies the signature with the
// merchant's public key over a message rebuilt here, independently.
func checkAuthorization(t *testing.T, cfg *captured, wantMethod, wantURI string, wantBody []byte) {
	t.Helper()
	require.NotNil(t, cfg.req)
	m := authRE.FindStringSubmatch(cfg.req.Header.Get("Authorization"))
	require.NotNil(t, m, "Authorization header %q", cfg.req.Header.Get("Authorization"))
	mchid, nonce, ts, serial, sig := m[1], m[2], m[3], m[4], m[5]
	assert.Equal(t, "1900000109", mchid)
	assert.Equal(t, "5157F09EFDC096DE15EBE81A47057A7232F1B8E1", serial)
	assert.Len(t, nonce, 32)
	assert.Regexp(t, `^[A-Za-z0-9]{32}$`, nonce)
	_, err := strconv.ParseInt(ts, 10, 64)
	require.NoError(t, err)

	assert.Equal(t, wantMethod, cfg.req.Method)
	assert.Equal(t, wantURI, cfg.req.URL.RequestURI())
	assert.Equal(t, string(wantBody), string(cfg.body))

	msg := wantMethod + "\n" + wantURI + "\n" + ts + "\n" + nonce + "\n" + string(wantBody) + "\n"
	raw, err := base64.StdEncoding.DecodeString(sig)
	require.NoError(t, err)
	sum := sha256.Sum256([]byte(msg))
	require.NoError(t, rsa.VerifyPKCS1v15(&merchantKey().PublicKey, crypto.SHA256, sum[:], raw), "signature over %q", msg)

	assert.Equal(t, "application/json", cfg.req.Header.Get("Accept"))
	assert.Contains(t, cfg.req.Header.Get("User-Agent"), "minishop-wechatpay")
}

func capturingClient(t *testing.T) (*wechatpay.Client, *captured) {
	capt := &captured{}
	cfg := validConfig()
	cfg.HTTPClient = &http.Client{Transport: capt}
	c, err := wechatpay.New(cfg)
	require.NoError(t, err)
	return c, capt
}

func TestGETIsSignedOverPathAndQueryWithEmptyBody(t *testing.T) {
	c, capt := capturingClient(t)
	_, err := c.QueryPayment(t.Context(), payment.Account{}, "PAY|2025*0520")
	require.Error(t, err)
	checkAuthorization(t, capt, "GET", "/v3/pay/transactions/out-trade-no/PAY%7C2025%2A0520?mchid=1900000109", nil)
	assert.Empty(t, capt.req.Header.Get("Content-Type"), "a GET has no body, so no Content-Type")
}

func TestPOSTIsSignedOverItsBody(t *testing.T) {
	c, capt := capturingClient(t)
	require.Error(t, c.ClosePayment(t.Context(), payment.Account{}, "PAY20250520000001"))
	checkAuthorization(t, capt, "POST", "/v3/pay/transactions/out-trade-no/PAY20250520000001/close", []byte(`{"mchid":"1900000109"}`))
	assert.Equal(t, "application/json", capt.req.Header.Get("Content-Type"))
}

// Rules §10 item 11: paySign covers exactly four lines.
func TestPaySignCoversFourLines(t *testing.T) {
	e := setup(t)
	pre, err := e.c.CreatePayment(t.Context(), createReq("PAY20250520000001", 21600))
	require.NoError(t, err)
	p := pre.ClientParams
	require.Len(t, p, 6)
	assert.Equal(t, e.cfg.AppID, p["appId"])
	assert.Equal(t, "prepay_id="+pre.PrepayID, p["package"])
	assert.Equal(t, "RSA", p["signType"])
	assert.Equal(t, strconv.FormatInt(e.clock.Now().Unix(), 10), p["timeStamp"])
	assert.Len(t, p["nonceStr"], 32)

	msg := p["appId"] + "\n" + p["timeStamp"] + "\n" + p["nonceStr"] + "\n" + p["package"] + "\n"
	assert.Equal(t, 4, strings.Count(msg, "\n"))
	sig, err := base64.StdEncoding.DecodeString(p["paySign"])
	require.NoError(t, err)
	sum := sha256.Sum256([]byte(msg))
	require.NoError(t, rsa.VerifyPKCS1v15(&merchantKey().PublicKey, crypto.SHA256, sum[:], sig))

	// A fifth line (signType, say) would be another message.
	sum5 := sha256.Sum256([]byte(msg + "RSA\n"))
	assert.Error(t, rsa.VerifyPKCS1v15(&merchantKey().PublicKey, crypto.SHA256, sum5[:], sig))
}

// Each call signs with a fresh nonce.
func TestNoncesAreFresh(t *testing.T) {
	c, capt := capturingClient(t)
	seen := map[string]bool{}
	for range 20 {
		_, _ = c.QueryPayment(t.Context(), payment.Account{}, "PAY20250520000001")
		m := authRE.FindStringSubmatch(capt.req.Header.Get("Authorization"))
		require.NotNil(t, m)
		assert.False(t, seen[m[2]], "nonce repeated")
		seen[m[2]] = true
	}
	var _ payment.Provider = c
}
