package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func noEnv(string) string { return "" }

// Without credentials the whole flow runs against the local platform.
func TestDemoRunsTheWholeFlow(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), &out, noEnv))
	s := out.String()
	for _, want := range []string{
		"WECHATPAY_MCHID", "WECHATPAY_NOTIFY_URL",
		"¥216.00, paid by",
		`signType:  "RSA"`,
		`package:   "prepay_id=wx`,
		"✅ verified: payment PAY",
		"succeeded — ¥216.00",
		"host answered 200",
		"was handled already",
		"⛔ rejected",
		"host answered 401",
		"🔎 Query PAY",
		"succeeded, ¥216.00",
		"Partial refund REF",
		"of ¥16.00 (尺码不合适): processing",
		"✅ verified: refund REF",
		"of ¥16.00 succeeded",
		"Done: ¥216.00 paid, ¥16.00 refunded.",
	} {
		assert.Contains(t, s, want)
	}
}

func TestPartialConfigurationNamesWhatIsMissing(t *testing.T) {
	env := map[string]string{"WECHATPAY_MCHID": "1900000109", "WECHATPAY_PUBKEY_FILE": "/x.pem"}
	err := run(t.Context(), &bytes.Buffer{}, func(k string) string { return env[k] })
	require.Error(t, err)
	for _, v := range []string{"WECHATPAY_APPID", "WECHATPAY_SERIAL", "WECHATPAY_PRIVATE_KEY_FILE", "WECHATPAY_APIV3_KEY", "WECHATPAY_NOTIFY_URL", "WECHATPAY_PUBKEY_ID"} {
		assert.Contains(t, err.Error(), v)
	}
	assert.NotContains(t, err.Error(), "WECHATPAY_MCHID")
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
