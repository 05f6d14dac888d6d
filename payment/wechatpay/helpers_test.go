package wechatpay_test

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/text/currency"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/wechatpay"
	"github.com/minishop/minishop/payment/wechatpay/wechatpaytest"
)

// Keys are generated once per test binary: RSA key generation dominates a
// platform's start-up, and the tests need many platforms. Each platform
// still has its own random serials and APIv3 key.
var (
	merchantKey = sync.OnceValue(func() *rsa.PrivateKey { return mustKey(2048) })
	platformKey = sync.OnceValue(func() *rsa.PrivateKey { return mustKey(2048) })
	strangerKey = sync.OnceValue(func() *rsa.PrivateKey { return mustKey(2048) })
)

func mustKey(bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return k
}

const (
	testAPIv3Key       = "0123456789abcdefghijABCDEFGHIJ01"
	testPlatformSerial = "PUB_KEY_ID_0114232019112100000000000000000000"
	testOpenID         = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
)

// fixedClock is a settable clock shared by a platform and a client.
type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fixedClock {
	return &fixedClock{t: time.Date(2025, 5, 20, 13, 29, 35, 0, time.UTC)}
}

func (c *fixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fixedClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	p      *wechatpaytest.Platform
	c      *wechatpay.Client
	cfg    wechatpay.Config
	clock  *fixedClock
	notify string
}

// setup starts a platform and a client for it that share one clock.
func setup(t testing.TB, edit ...func(*wechatpay.Config)) *env {
	t.Helper()
	clock := newClock()
	p := wechatpaytest.Start(t, wechatpaytest.Options{
		APIv3Key:       testAPIv3Key,
		MerchantKey:    merchantKey(),
		PlatformKey:    platformKey(),
		PlatformSerial: testPlatformSerial,
		Now:            clock.Now,
	})
	cfg := p.Config("https://shop.example.com/wechatpay/notify")
	cfg.Now = clock.Now
	for _, e := range edit {
		e(&cfg)
	}
	c, err := wechatpay.New(cfg)
	require.NoError(t, err)
	return &env{p: p, c: c, cfg: cfg, clock: clock, notify: cfg.NotifyURL}
}

func cny(fen int64) commerce.Money { return commerce.FromMinor(fen, currency.CNY) }

func createReq(no string, fen int64) payment.CreateRequest {
	return payment.CreateRequest{
		PaymentNo:   no,
		Description: "minishop 订单 " + no,
		Amount:      cny(fen),
		Payer:       testOpenID,
		Attach:      "order=" + no,
	}
}

// paid creates a payment and pays it on the platform.
func (e *env) paid(t testing.TB, no string, fen int64) *wechatpaytest.Notification {
	t.Helper()
	ctx := t.Context()
	_, err := e.c.CreatePayment(ctx, createReq(no, fen))
	require.NoError(t, err)
	n, err := e.p.Pay(no)
	require.NoError(t, err)
	return n
}

// signedRequest builds a notification request over an arbitrary body,
// signed with the platform key the way WeChat signs (for shapes the
// platform itself never produces).
func signedRequest(t testing.TB, key *rsa.PrivateKey, serial string, at time.Time, body []byte) *http.Request {
	t.Helper()
	ts, nonce := strconv.FormatInt(at.Unix(), 10), "n0nceN0nceN0nceN0nceN0nceN0nce12"
	sum := sha256.Sum256([]byte(ts + "\n" + nonce + "\n" + string(body) + "\n"))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, "https://shop.example.com/wechatpay/notify", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Wechatpay-Timestamp", ts)
	req.Header.Set("Wechatpay-Nonce", nonce)
	req.Header.Set("Wechatpay-Signature", base64.StdEncoding.EncodeToString(sig))
	req.Header.Set("Wechatpay-Serial", serial)
	return req
}

// envelope encrypts resource (any JSON value, or raw bytes) under the test
// APIv3 key into a notification body.
func envelope(t testing.TB, eventType, originalType string, resource any) []byte {
	t.Helper()
	plain, ok := resource.([]byte)
	if !ok {
		var err error
		plain, err = json.Marshal(resource)
		require.NoError(t, err)
	}
	block, err := aes.NewCipher([]byte(testAPIv3Key))
	require.NoError(t, err)
	gcm, err := cipher.NewGCM(block)
	require.NoError(t, err)
	nonce := "abcdefghijkl"
	ct := gcm.Seal(nil, []byte(nonce), plain, []byte(originalType))
	body, err := json.Marshal(map[string]any{
		"id": "EV-2018022511223320873", "create_time": "2015-05-20T13:29:35+08:00",
		"resource_type": "encrypt-resource", "event_type": eventType, "summary": "支付成功",
		"resource": map[string]string{
			"original_type": originalType, "algorithm": "AEAD_AES_256_GCM",
			"ciphertext": base64.StdEncoding.EncodeToString(ct), "associated_data": originalType, "nonce": nonce,
		},
	})
	require.NoError(t, err)
	return body
}
