package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/payment/wechatpay/wechatpaytest"
)

func noEnv(string) string { return "" }

// Without credentials the whole flow runs against the local platform,
// through the engine's services and the payment service's handler.
func TestDemoRunsTheWholeFlow(t *testing.T) {
	var out bytes.Buffer
	db := filepath.Join(t.TempDir(), "shop.db")
	require.NoError(t, run(t.Context(), &out, noEnv, db))
	s := out.String()

	for _, want := range []string{
		"WECHATPAY_MCHID", "WECHATPAY_NOTIFY_URL",
		"💾 SQLite store at " + db,
		`engine.Payments.NotificationHandler("wechatpay") answers at http://127.0.0.1:`,
		"total ¥216.00 (free delivery), pending_payment",
		`signType:  "RSA"`,
		`package:   "prepay_id=wx`,
		"refund of ¥38.50 succeeded; the rest of the order stays paid",
		"✅ Done: ¥216.00 paid and ¥38.50 refunded",
	} {
		assert.Contains(t, s, want)
	}
	for name, re := range map[string]string{
		"payment opened for the order's total": `engine\.Payments\.Pay opens a ¥216\.00 payment at WeChat Pay, out_trade_no [0-9a-f]{32}\n`,
		"the notification marks the order paid": `TRANSACTION\.SUCCESS to the host\n` +
			`   host answered 204 → WeChat Pay stops retrying\n` +
			`   notification log: TRANSACTION\.SUCCESS \S+ applied\n` +
			`   📦 order …\w+ is paid \(version 2\), 3 ledger entries\n` +
			`   💳 payment succeeded, WeChat transaction 4200\d{24}`,
		"merchant's share":  `\n      merchant +¥212\.54\n`,
		"WeChat Pay's 0.6%": `\n      channel +¥1\.30  WeChat Pay's fee, 0\.6%\n`,
		"platform's 1%":     `\n      platform +¥2\.16  technical service fee, 1%\n`,
		"the duplicate is acknowledged and changes nothing": `same notification again.*\n` +
			`   host answered 204 → WeChat Pay stops retrying\n` +
			`   notification log: TRANSACTION\.SUCCESS \S+ duplicate\n` +
			`   📦 order …\w+ unchanged: still paid \(version 2\), 3 ledger entries\n`,
		"the altered copy is refused and changes nothing": `altered in transit.*\n` +
			`   📝 host log: .*verification failed: Wechatpay-Signature does not match the body.*\n` +
			`   host answered 400 → refused.*\n` +
			`   notification log: nothing \(it never got past verification\)\n` +
			`   📦 order …\w+ unchanged: still paid \(version 2\), 3 ledger entries\n`,
		"the refund goes to WeChat Pay": `refund …\w+ of ¥38\.50 \(杯子有磕碰\) is pending.*\n` +
			`   engine\.Payments sent it to WeChat Pay as out_refund_no [0-9a-f]{32}, now processing\n`,
		"REFUND.SUCCESS settles it": `REFUND\.SUCCESS to the host\n` +
			`   host answered 204 → WeChat Pay stops retrying\n` +
			`   notification log: REFUND\.SUCCESS \S+ applied\n` +
			`   📦 order …\w+ is paid \(version 4\), 6 ledger entries\n`,
		"the ledger gives back fees in proportion": `\n      payment …\w{8} +¥212\.54 +¥1\.30 +¥2\.16\n` +
			`      refund …\w{8} +-¥37\.88 +-¥0\.23 +-¥0\.39\n` +
			`      total +¥174\.66 +¥1\.07 +¥1\.77  = ¥177\.50, paid less refunded\n`,
	} {
		assert.Regexp(t, regexp.MustCompile(re), s, name)
	}

	// The duplicate is the very notification that was applied.
	ids := regexp.MustCompile(`notification log: TRANSACTION\.SUCCESS (\S+) (applied|duplicate)`).FindAllStringSubmatch(s, -1)
	require.Len(t, ids, 2)
	assert.Equal(t, ids[0][1], ids[1][1])
}

// The database outlives the run: a second run opens another shop beside
// the first.
func TestDemoRunsAgainOnTheSameDatabase(t *testing.T) {
	db := filepath.Join(t.TempDir(), "shop.db")
	for range 2 {
		var out bytes.Buffer
		require.NoError(t, run(t.Context(), &out, noEnv, db))
		assert.Contains(t, out.String(), "✅ Done: ¥216.00 paid and ¥38.50 refunded")
	}
}

// Live mode, pointed at the local platform instead of api.mch.weixin.qq.com:
// the test order's payment is opened, and WeChat Pay's notification reaches
// the payment service's handler on WECHATPAY_LISTEN and marks it paid.
func TestLiveServesThePaymentServiceHandler(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	platform := wechatpaytest.Start(t, wechatpaytest.Options{})
	cfg := platform.Config("http://" + addr + "/wechatpay/notify")
	env := map[string]string{"WECHATPAY_OPENID": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "WECHATPAY_LISTEN": addr}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- live(ctx, &out, cfg, func(k string) string { return env[k] }, filepath.Join(t.TempDir(), "shop.db"))
	}()

	var paymentNo string
	require.Eventually(t, func() bool {
		m := regexp.MustCompile(`payment ([0-9a-f]{32}) opened`).FindStringSubmatch(out.String())
		if m != nil {
			paymentNo = m[1]
		}
		return m != nil
	}, 10*time.Second, 10*time.Millisecond, "no test payment opened:\n%s", &out)
	n, err := platform.Pay(paymentNo)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		status, _, err := platform.Deliver(ctx, n) // again until the server listens
		return err == nil && status == 204
	}, 10*time.Second, 20*time.Millisecond, "notification not acknowledged:\n%s", &out)
	require.Eventually(t, func() bool {
		return regexp.MustCompile(`test order …\w+ is paid`).MatchString(out.String())
	}, 10*time.Second, 10*time.Millisecond, "order not paid:\n%s", &out)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("live did not stop")
	}
	s := out.String()
	assert.Contains(t, s, "Test order …")
	assert.Contains(t, s, "of ¥0.01 for oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")
	assert.Contains(t, s, "This program cannot pay it")
	assert.Contains(t, s, `engine.Payments.NotificationHandler("wechatpay") serves POST /wechatpay/notify on `+addr)
	assert.Regexp(t, `notification from 127\.0\.0\.1:\d+ answered 204`, s)
	assert.Regexp(t, `merchant +¥0\.01\n`, s)
}

func TestPartialConfigurationNamesWhatIsMissing(t *testing.T) {
	env := map[string]string{"WECHATPAY_MCHID": "1900000109", "WECHATPAY_PUBKEY_FILE": "/x.pem"}
	db := filepath.Join(t.TempDir(), "shop.db")
	err := run(t.Context(), &bytes.Buffer{}, func(k string) string { return env[k] }, db)
	require.Error(t, err)
	for _, v := range []string{"WECHATPAY_APPID", "WECHATPAY_SERIAL", "WECHATPAY_PRIVATE_KEY_FILE", "WECHATPAY_APIV3_KEY", "WECHATPAY_NOTIFY_URL", "WECHATPAY_PUBKEY_ID"} {
		assert.Contains(t, err.Error(), v)
	}
	assert.NotContains(t, err.Error(), "WECHATPAY_MCHID")
	assert.NoFileExists(t, db, "nothing is opened before the configuration is complete")
}

func TestConfigFromEnvReadsKeyFiles(t *testing.T) {
	dir := t.TempDir()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	keyFile := filepath.Join(dir, "apiclient_key.pem")
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	require.NoError(t, err)
	pubFile := filepath.Join(dir, "pub_key.pem")
	require.NoError(t, os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}), 0o600))

	env := map[string]string{
		"WECHATPAY_MCHID":            "1900000109",
		"WECHATPAY_APPID":            "wxd678efh567hg6787",
		"WECHATPAY_SERIAL":           "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
		"WECHATPAY_PRIVATE_KEY_FILE": keyFile,
		"WECHATPAY_APIV3_KEY":        "0123456789abcdefghijABCDEFGHIJ01",
		"WECHATPAY_PUBKEY_FILE":      pubFile,
		"WECHATPAY_PUBKEY_ID":        "PUB_KEY_ID_0114232019112100000000000000000000",
		"WECHATPAY_NOTIFY_URL":       "https://shop.example.com/wechatpay/notify",
	}
	cfg, configured, err := configFromEnv(func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.True(t, configured)
	assert.True(t, cfg.PrivateKey.Equal(key))
	assert.True(t, cfg.PlatformKeys["PUB_KEY_ID_0114232019112100000000000000000000"].Equal(&key.PublicKey))

	env["WECHATPAY_PRIVATE_KEY_FILE"] = filepath.Join(dir, "missing.pem")
	_, _, err = configFromEnv(func(k string) string { return env[k] })
	assert.ErrorContains(t, err, "WECHATPAY_PRIVATE_KEY_FILE")
}

// lockedBuffer is a bytes.Buffer that live's goroutines may write while the
// test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
