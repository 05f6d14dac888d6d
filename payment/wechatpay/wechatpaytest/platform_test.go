package wechatpaytest_test

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
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
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

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func start(t *testing.T) (*wechatpaytest.Platform, wechatpay.Config, *clock) {
	clk := &clock{t: time.Date(2025, 5, 20, 5, 29, 35, 0, time.UTC)}
	p := wechatpaytest.Start(t, wechatpaytest.Options{Now: clk.Now})
	cfg := p.Config("")
	cfg.Now = clk.Now
	return p, cfg, clk
}

type signed struct {
	method, uri string
	body        []byte // signed
	sendBody    []byte // sent, when different
	key         *rsa.PrivateKey
	mchid       string
	serial      string
	at          time.Time
	scheme      string
	wpSerial    []string // Wechatpay-Serial values sent
}

// send makes a request signed by hand, independently of package wechatpay.
func send(t *testing.T, p *wechatpaytest.Platform, s signed) (int, map[string]string, *http.Response, []byte) {
	t.Helper()
	ts := strconv.FormatInt(s.at.Unix(), 10)
	nonce := "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	sum := sha256.Sum256([]byte(s.method + "\n" + s.uri + "\n" + ts + "\n" + nonce + "\n" + string(s.body) + "\n"))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	require.NoError(t, err)
	body := s.body
	if s.sendBody != nil {
		body = s.sendBody
	}
	req, err := http.NewRequest(s.method, p.URL()+s.uri, bytes.NewReader(body))
	require.NoError(t, err)
	if s.scheme == "" {
		s.scheme = "WECHATPAY2-SHA256-RSA2048"
	}
	req.Header.Set("Authorization", fmt.Sprintf(`%s mchid="%s",nonce_str="%s",timestamp="%s",serial_no="%s",signature="%s"`,
		s.scheme, s.mchid, nonce, ts, s.serial, base64.StdEncoding.EncodeToString(sig)))
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, v := range s.wpSerial {
		req.Header.Add("Wechatpay-Serial", v)
	}
	resp, err := p.HTTPClient().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var m map[string]string
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m, resp, raw
}

func verifyPlatformSignature(t *testing.T, cfg wechatpay.Config, h http.Header, body []byte) error {
	t.Helper()
	key := cfg.PlatformKeys[h.Get("Wechatpay-Serial")]
	if key == nil {
		return fmt.Errorf("unknown serial %q", h.Get("Wechatpay-Serial"))
	}
	sig, err := base64.StdEncoding.DecodeString(h.Get("Wechatpay-Signature"))
	require.NoError(t, err)
	sum := sha256.Sum256([]byte(h.Get("Wechatpay-Timestamp") + "\n" + h.Get("Wechatpay-Nonce") + "\n" + string(body) + "\n"))
	return rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig)
}

func TestPlatformChecksRequestSignatures(t *testing.T) {
	p, cfg, clk := start(t)
	stranger, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	query := "/v3/pay/transactions/out-trade-no/PAY20250520000001?mchid=" + cfg.MchID
	good := signed{method: "GET", uri: query, key: cfg.PrivateKey, mchid: cfg.MchID, serial: cfg.SerialNo, at: clk.Now()}

	status, m, resp, raw := send(t, p, good)
	assert.Equal(t, 404, status, "authenticated; the order just does not exist")
	assert.Equal(t, "ORDER_NOT_EXIST", m["code"])
	require.NoError(t, verifyPlatformSignature(t, cfg, resp.Header, raw), "answers are signed by the platform")
	assert.NotEmpty(t, resp.Header.Get("Request-ID"))

	cases := map[string]func(*signed){
		"another key":      func(s *signed) { s.key = stranger },
		"another merchant": func(s *signed) { s.mchid = "1230000109" },
		"another serial":   func(s *signed) { s.serial = "0123456789ABCDEF" },
		"stale":            func(s *signed) { s.at = s.at.Add(-6 * time.Minute) },
		"future":           func(s *signed) { s.at = s.at.Add(6 * time.Minute) },
		"other scheme":     func(s *signed) { s.scheme = "WECHATPAY2-SHA256-RSA4096" },
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			s := good
			edit(&s)
			status, m, resp, raw := send(t, p, s)
			assert.Equal(t, 401, status)
			assert.Equal(t, "SIGN_ERROR", m["code"])
			assert.NotEmpty(t, m["message"])
			require.NoError(t, verifyPlatformSignature(t, cfg, resp.Header, raw))
		})
	}

	t.Run("query left out of the signature", func(t *testing.T) {
		s := good
		s.uri = "/v3/pay/transactions/out-trade-no/PAY20250520000001"
		status, m := sendSignedAs(t, p, s, query)
		assert.Equal(t, 401, status)
		assert.Equal(t, "SIGN_ERROR", m["code"])
	})

	t.Run("body changed after signing", func(t *testing.T) {
		s := signed{method: "POST", uri: "/v3/pay/transactions/out-trade-no/PAY20250520000001/close",
			body: []byte(`{"mchid":"` + cfg.MchID + `"}`), sendBody: []byte(`{"mchid":"` + cfg.MchID + `" }`),
			key: cfg.PrivateKey, mchid: cfg.MchID, serial: cfg.SerialNo, at: clk.Now()}
		status, m, _, _ := send(t, p, s)
		assert.Equal(t, 401, status)
		assert.Equal(t, "SIGN_ERROR", m["code"])
	})

	t.Run("no Authorization", func(t *testing.T) {
		resp, err := p.HTTPClient().Get(p.URL() + query)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 401, resp.StatusCode)
	})

	for _, r := range p.Requests() {
		assert.NotZero(t, r.Status)
	}
}

// sendSignedAs signs a GET for s.uri but sends it to uri.
func sendSignedAs(t *testing.T, p *wechatpaytest.Platform, s signed, uri string) (int, map[string]string) {
	t.Helper()
	ts := strconv.FormatInt(s.at.Unix(), 10)
	nonce := "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	sum := sha256.Sum256([]byte(s.method + "\n" + s.uri + "\n" + ts + "\n" + nonce + "\n\n"))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	require.NoError(t, err)
	req, err := http.NewRequest(s.method, p.URL()+uri, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", fmt.Sprintf(`WECHATPAY2-SHA256-RSA2048 mchid="%s",nonce_str="%s",timestamp="%s",serial_no="%s",signature="%s"`,
		s.mchid, nonce, ts, s.serial, base64.StdEncoding.EncodeToString(sig)))
	resp, err := p.HTTPClient().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]string
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m
}

func newClient(t *testing.T, cfg wechatpay.Config) *wechatpay.Client {
	c, err := wechatpay.New(cfg)
	require.NoError(t, err)
	return c
}

func order(no string) payment.CreateRequest {
	return payment.CreateRequest{
		PaymentNo: no, Description: "test", Amount: commerce.MustParseMoney("216.00", currency.CNY),
		Payer: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
	}
}

func decrypt(t *testing.T, cfg wechatpay.Config, body []byte) (map[string]any, error) {
	t.Helper()
	var env struct {
		EventType string `json:"event_type"`
		Resource  struct {
			Algorithm, Ciphertext, Nonce string
			AssociatedData               string `json:"associated_data"`
		}
	}
	require.NoError(t, json.Unmarshal(body, &env))
	block, err := aes.NewCipher([]byte(cfg.APIv3Key))
	require.NoError(t, err)
	gcm, err := cipher.NewGCM(block)
	require.NoError(t, err)
	ct, err := base64.StdEncoding.DecodeString(env.Resource.Ciphertext)
	require.NoError(t, err)
	plain, err := gcm.Open(nil, []byte(env.Resource.Nonce), ct, []byte(env.Resource.AssociatedData))
	if err != nil {
		return nil, err
	}
	var m map[string]any
	require.NoError(t, json.Unmarshal(plain, &m))
	return m, nil
}

func TestNotificationsAreSignedAndEncrypted(t *testing.T) {
	p, cfg, clk := start(t)
	c := newClient(t, cfg)
	_, err := c.CreatePayment(t.Context(), order("PAY20250520000001"))
	require.NoError(t, err)
	n, err := p.Pay("PAY20250520000001")
	require.NoError(t, err)

	require.NoError(t, verifyPlatformSignature(t, cfg, n.Header, n.Body))
	assert.Equal(t, strconv.FormatInt(clk.Now().Unix(), 10), n.Header.Get("Wechatpay-Timestamp"))
	assert.Equal(t, "WECHATPAY2-SHA256-RSA2048", n.Header.Get("Wechatpay-Signature-Type"))
	tx, err := decrypt(t, cfg, n.Body)
	require.NoError(t, err)
	o, _ := p.Order("PAY20250520000001")
	assert.Equal(t, "SUCCESS", tx["trade_state"])
	assert.Equal(t, o.TransactionID, tx["transaction_id"])
	assert.Equal(t, cfg.MchID, tx["mchid"])
	assert.Equal(t, "2025-05-20T13:29:35+08:00", tx["success_time"])
	assert.Equal(t, map[string]any{"total": 21600.0, "payer_total": 21600.0, "currency": "CNY", "payer_currency": "CNY"}, tx["amount"])

	_, err = p.Pay("PAY20250520000001")
	assert.Error(t, err, "paid once")
}

// Each tamper breaks exactly one thing: a client's refusal then proves that
// one check.
func TestEachTamperBreaksOneThing(t *testing.T) {
	p, cfg, clk := start(t)
	c := newClient(t, cfg)
	_, err := c.CreatePayment(t.Context(), order("PAY20250520000001"))
	require.NoError(t, err)
	n, err := p.Pay("PAY20250520000001")
	require.NoError(t, err)

	for _, tamper := range wechatpaytest.NotificationTampers() {
		t.Run(tamper.String(), func(t *testing.T) {
			bad, err := p.Tamper(n, tamper)
			require.NoError(t, err)
			sigErr := verifyPlatformSignature(t, cfg, bad.Header, bad.Body)
			_, decErr := decrypt(t, cfg, bad.Body)
			fresh := bad.Header.Get("Wechatpay-Timestamp") == strconv.FormatInt(clk.Now().Unix(), 10)
			switch tamper {
			case wechatpaytest.TamperBody, wechatpaytest.TamperSignature:
				assert.Error(t, sigErr)
				assert.NoError(t, decErr)
			case wechatpaytest.TamperSerial:
				assert.Error(t, sigErr, "unknown serial")
				bad.Header.Set("Wechatpay-Serial", p.PlatformSerial())
				assert.NoError(t, verifyPlatformSignature(t, cfg, bad.Header, bad.Body), "the platform's key did sign it")
			case wechatpaytest.TamperStale:
				assert.NoError(t, sigErr)
				assert.False(t, fresh)
			case wechatpaytest.TamperSignatureType:
				assert.NoError(t, sigErr)
				assert.NotEqual(t, "WECHATPAY2-SHA256-RSA2048", bad.Header.Get("Wechatpay-Signature-Type"))
			case wechatpaytest.TamperAlgorithm:
				assert.NoError(t, sigErr)
				assert.NoError(t, decErr, "the ciphertext itself is fine")
				assert.NotContains(t, string(bad.Body), "AEAD_AES_256_GCM")
			case wechatpaytest.TamperGCMTag, wechatpaytest.TamperAPIv3Key:
				assert.NoError(t, sigErr)
				assert.Error(t, decErr)
			}
			if tamper != wechatpaytest.TamperStale {
				assert.True(t, fresh)
			}
		})
	}
	_, err = p.Tamper(n, wechatpaytest.TamperUnsigned)
	assert.Error(t, err)
}

func TestOrdersExpire(t *testing.T) {
	p, cfg, clk := start(t)
	c := newClient(t, cfg)
	req := order("PAY20250520000001")
	req.ExpiresAt = clk.Now().Add(15 * time.Minute)
	_, err := c.CreatePayment(t.Context(), req)
	require.NoError(t, err)
	o, _ := p.Order("PAY20250520000001")
	assert.Equal(t, "2025-05-20T13:44:35+08:00", o.TimeExpire)

	clk.Advance(15 * time.Minute)
	_, err = p.Pay("PAY20250520000001")
	assert.Error(t, err)
	tx, err := c.QueryPayment(t.Context(), payment.Account{}, "PAY20250520000001")
	require.NoError(t, err)
	assert.Equal(t, payment.TxClosed, tx.State)
}

func TestRefundLifecycle(t *testing.T) {
	p, cfg, _ := start(t)
	c := newClient(t, cfg)
	_, err := c.CreatePayment(t.Context(), order("PAY20250520000001"))
	require.NoError(t, err)
	_, err = p.Pay("PAY20250520000001")
	require.NoError(t, err)
	cny := func(s string) commerce.Money { return commerce.MustParseMoney(s, currency.CNY) }
	_, err = c.Refund(t.Context(), payment.RefundRequest{RefundNo: "REF1", PaymentNo: "PAY20250520000001", Amount: cny("16.00"), Total: cny("216.00")})
	require.NoError(t, err)
	r, ok := p.Refund("REF1")
	require.True(t, ok)
	assert.Equal(t, "PROCESSING", r.Status)
	assert.Equal(t, int64(1600), r.Amount)

	_, err = p.FinishRefund("REF1", "DONE")
	assert.Error(t, err)
	n, err := p.FinishRefund("REF1", "SUCCESS")
	require.NoError(t, err)
	plain, err := decrypt(t, cfg, n.Body)
	require.NoError(t, err)
	assert.Equal(t, "SUCCESS", plain["refund_status"])
	_, err = p.FinishRefund("REF1", "CLOSED")
	assert.Error(t, err, "settled once")

	res, err := c.Refund(t.Context(), payment.RefundRequest{RefundNo: "REF1", PaymentNo: "PAY20250520000001", Amount: cny("16.00"), Total: cny("216.00")})
	require.NoError(t, err)
	assert.Equal(t, payment.RefundSucceeded, res.State, "the same number answers with the refund's current state")
}

// Wechatpay-Serial names the platform key the merchant verifies with: the
// platform's own serial, or none, is served; any other is refused with 400
// INVALID_REQUEST (signed, like every answer), and only once the request's
// signature has checked out.
func TestPlatformChecksWechatpaySerial(t *testing.T) {
	p, cfg, clk := start(t)
	query := "/v3/pay/transactions/out-trade-no/PAY20250520000001?mchid=" + cfg.MchID
	good := signed{method: "GET", uri: query, key: cfg.PrivateKey, mchid: cfg.MchID, serial: cfg.SerialNo, at: clk.Now()}

	for name, serials := range map[string][]string{"none": nil, "the platform's": {p.PlatformSerial()}} {
		t.Run(name, func(t *testing.T) {
			s := good
			s.wpSerial = serials
			status, m, _, _ := send(t, p, s)
			assert.Equal(t, 404, status, "served; the order just does not exist")
			assert.Equal(t, "ORDER_NOT_EXIST", m["code"])
		})
	}
	for name, serials := range map[string][]string{
		"unknown public key":  {"PUB_KEY_ID_0114232019112100000000000000000001"},
		"unknown certificate": {"5157F09EFDC096DE15EBE81A47057A7232F1B8E1"},
		"the merchant's own":  {cfg.SerialNo},
		"repeated":            {p.PlatformSerial(), p.PlatformSerial()},
	} {
		t.Run(name, func(t *testing.T) {
			s := good
			s.wpSerial = serials
			status, m, resp, raw := send(t, p, s)
			assert.Equal(t, 400, status)
			assert.Equal(t, "INVALID_REQUEST", m["code"])
			assert.Contains(t, m["message"], "Wechatpay-Serial")
			require.NoError(t, verifyPlatformSignature(t, cfg, resp.Header, raw))
		})
	}
	t.Run("signature first", func(t *testing.T) {
		s := good
		s.key, _ = rsa.GenerateKey(rand.Reader, 2048)
		s.wpSerial = []string{"PUB_KEY_ID_0114232019112100000000000000000001"}
		status, m, _, _ := send(t, p, s)
		assert.Equal(t, 401, status)
		assert.Equal(t, "SIGN_ERROR", m["code"])
	})

	// The adapter sends the right one on every request.
	c := newClient(t, cfg)
	_, err := c.CreatePayment(t.Context(), order("PAY20250520000002"))
	require.NoError(t, err)
	reqs := p.Requests()
	last := reqs[len(reqs)-1]
	assert.Equal(t, []string{p.PlatformSerial()}, last.Header.Values("Wechatpay-Serial"))
	assert.Equal(t, 200, last.Status)
}

func TestFaults(t *testing.T) {
	p := wechatpaytest.Start(t, wechatpaytest.Options{})
	c, err := wechatpay.New(p.Config(""))
	require.NoError(t, err)
	ctx := t.Context()
	create := func(no string) error {
		_, err := c.CreatePayment(ctx, payment.CreateRequest{PaymentNo: no, Description: "tea", Amount: commerce.MustParseMoney("1.00", currency.CNY), Payer: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"})
		return err
	}
	p.SetFaults(wechatpaytest.Fault{Prefix: "/v3/pay/", Rate: 1})
	require.Error(t, create("fault000001"))
	_, known := p.Order("fault000001")
	assert.False(t, known, "a failed call leaves nothing")
	p.SetFaults(wechatpaytest.Fault{Prefix: "/v3/pay/", Rate: 1, Lost: true})
	require.Error(t, create("fault000002"))
	_, known = p.Order("fault000002")
	assert.True(t, known, "a lost answer's call took effect")
	p.SetFaults(wechatpaytest.Fault{Prefix: "/v3/refund/", Rate: 1})
	require.NoError(t, create("fault000003"), "a fault applies only to its prefix")
	p.SetFaults()
	require.NoError(t, create("fault000004"))
}
