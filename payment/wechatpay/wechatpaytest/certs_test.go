package wechatpaytest_test

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/payment/wechatpay"
	"github.com/minishop/minishop/payment/wechatpay/wechatpaytest"
)

func startMode(t *testing.T, mode wechatpaytest.Mode) (*wechatpaytest.Platform, wechatpay.Config, *clock) {
	clk := &clock{t: time.Date(2025, 5, 20, 5, 29, 35, 0, time.UTC)}
	p := wechatpaytest.Start(t, wechatpaytest.Options{Now: clk.Now, Mode: mode})
	cfg := p.Config("")
	cfg.Now = clk.Now
	return p, cfg, clk
}

type listedCert struct {
	serial             string
	effective, expires string
	cert               *x509.Certificate
}

// listCertificates downloads GET /v3/certificates by hand and decrypts
// every entry, independently of package wechatpay.
func listCertificates(t *testing.T, p *wechatpaytest.Platform, cfg wechatpay.Config, clk *clock, wpSerial ...string) ([]listedCert, map[string]string, *answer) {
	t.Helper()
	status, m, resp, raw := send(t, p, signed{method: "GET", uri: "/v3/certificates", key: cfg.PrivateKey,
		mchid: cfg.MchID, serial: cfg.SerialNo, at: clk.Now(), wpSerial: wpSerial})
	if status != 200 {
		return nil, m, &answer{resp.Header, raw}
	}
	var list struct {
		Data []struct {
			SerialNo           string `json:"serial_no"`
			EffectiveTime      string `json:"effective_time"`
			ExpireTime         string `json:"expire_time"`
			EncryptCertificate struct {
				Algorithm, Nonce, Ciphertext string
				AssociatedData               string `json:"associated_data"`
			} `json:"encrypt_certificate"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(raw, &list))
	require.NotNil(t, list.Data, `"data" is always there`)
	block, err := aes.NewCipher([]byte(cfg.APIv3Key))
	require.NoError(t, err)
	gcm, err := cipher.NewGCM(block)
	require.NoError(t, err)
	var out []listedCert
	for _, d := range list.Data {
		e := d.EncryptCertificate
		assert.Equal(t, "AEAD_AES_256_GCM", e.Algorithm)
		assert.Equal(t, "certificate", e.AssociatedData)
		require.Len(t, e.Nonce, 12)
		ct, err := base64.StdEncoding.DecodeString(e.Ciphertext)
		require.NoError(t, err)
		plain, err := gcm.Open(nil, []byte(e.Nonce), ct, []byte(e.AssociatedData))
		require.NoError(t, err)
		b, _ := pem.Decode(plain)
		require.NotNil(t, b)
		require.Equal(t, "CERTIFICATE", b.Type)
		cert, err := x509.ParseCertificate(b.Bytes)
		require.NoError(t, err)
		out = append(out, listedCert{serial: d.SerialNo, effective: d.EffectiveTime, expires: d.ExpireTime, cert: cert})
	}
	return out, m, &answer{resp.Header, raw}
}

type answer struct {
	header map[string][]string
	body   []byte
}

// verifyWith checks an answer's signature with the key of the serial it
// names among keys.
func verifyWith(t *testing.T, keys map[string]*rsa.PublicKey, a *answer) string {
	t.Helper()
	cfg := wechatpay.Config{PlatformKeys: keys}
	require.NoError(t, verifyPlatformSignature(t, cfg, a.header, a.body))
	return a.header["Wechatpay-Serial"][0]
}

func TestCertificateMode(t *testing.T) {
	p, cfg, clk := startMode(t, wechatpaytest.CertificateMode)
	serials := p.CertificateSerials()
	require.Len(t, serials, 1)
	serial := serials[0]
	assert.Len(t, serial, 40)
	assert.Equal(t, strings.ToUpper(serial), serial, "upper-case hex, as WeChat writes it")
	assert.Equal(t, map[string]*rsa.PublicKey{serial: cfg.PlatformKeys[serial]}, cfg.PlatformKeys, "Config carries the certificate only")

	list, _, ans := listCertificates(t, p, cfg, clk)
	require.Len(t, list, 1)
	c := list[0]
	assert.Equal(t, serial, c.serial)
	assert.Equal(t, serial, strings.ToUpper(hex.EncodeToString(c.cert.SerialNumber.Bytes())))
	assert.Equal(t, "2025-05-20T13:29:35+08:00", c.effective)
	assert.Equal(t, "2030-05-19T13:29:35+08:00", c.expires, "five years")
	assert.True(t, c.cert.PublicKey.(*rsa.PublicKey).Equal(cfg.PlatformKeys[serial]))
	assert.Equal(t, serial, verifyWith(t, cfg.PlatformKeys, ans), "signed with the certificate")
	pemData, ok := p.Certificate(serial)
	require.True(t, ok)
	got, _, err := wechatpay.ParseCertificate(pemData)
	require.NoError(t, err)
	assert.Equal(t, serial, got)

	// The public-key ID is not the merchant's in this mode.
	_, m, _ := listCertificates(t, p, cfg, clk, p.PlatformSerial())
	assert.Equal(t, "INVALID_REQUEST", m["code"])
	list, _, _ = listCertificates(t, p, cfg, clk, serial)
	assert.Len(t, list, 1, "the certificate's serial is")
}

func TestPublicKeyModeListsNothing(t *testing.T) {
	p, cfg, clk := startMode(t, wechatpaytest.PublicKeyMode)
	list, _, ans := listCertificates(t, p, cfg, clk)
	assert.Empty(t, list)
	assert.Equal(t, `{"data":[]}`, string(ans.body))
	assert.Equal(t, p.PlatformSerial(), verifyWith(t, cfg.PlatformKeys, ans))
	assert.Empty(t, p.CertificateSerials())
	_, err := p.RotateCertificate(nil)
	assert.Error(t, err, "a public-key merchant has no certificates to rotate")
}

func TestRotateAndRetire(t *testing.T) {
	p, cfg, clk := startMode(t, wechatpaytest.CertificateMode)
	old := p.CertificateSerials()[0]
	clk.Advance(time.Hour)
	fresh, err := p.RotateCertificate(nil)
	require.NoError(t, err)
	assert.NotEqual(t, old, fresh)
	assert.Equal(t, []string{old, fresh}, p.CertificateSerials())
	all := p.Config("").PlatformKeys
	assert.Len(t, all, 2)

	list, _, ans := listCertificates(t, p, cfg, clk, old)
	require.Len(t, list, 2, "both listed during the rotation")
	assert.Equal(t, fresh, verifyWith(t, all, ans), "signed with the new one, even when the request names the old")
	n := mustPay(t, p, clk, "PAY20250520000001")
	assert.Equal(t, fresh, n.Header.Get("Wechatpay-Serial"))

	assert.Error(t, p.SetMode(wechatpaytest.MigrationMode), "no switch during a rotation")
	assert.Error(t, p.RetireCertificate(fresh), "the signing certificate")
	assert.Error(t, p.RetireCertificate("5157F09EFDC096DE15EBE81A47057A7232F1B8E1"))
	require.NoError(t, p.RetireCertificate(old))
	assert.Equal(t, []string{fresh}, p.CertificateSerials())
	_, m, _ := listCertificates(t, p, cfg, clk, old)
	assert.Equal(t, "INVALID_REQUEST", m["code"], "a retired serial is refused")

	// Certificates expire after five years.
	clk.Advance(5 * 365 * 24 * time.Hour)
	assert.Empty(t, p.CertificateSerials())
}

// mustPay opens payment no with a client configured for the platform's
// current mode and pays it.
func mustPay(t *testing.T, p *wechatpaytest.Platform, clk *clock, no string) *wechatpaytest.Notification {
	t.Helper()
	cfg := p.Config("")
	cfg.Now = clk.Now
	c := newClient(t, cfg)
	_, err := c.CreatePayment(t.Context(), order(no))
	require.NoError(t, err)
	n, err := p.Pay(no)
	require.NoError(t, err)
	return n
}

// encryptFor encrypts a sensitive field as WeChat documents it (RSA-OAEP,
// SHA-1), by hand.
func encryptFor(t *testing.T, key *rsa.PublicKey) string {
	t.Helper()
	ct, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, key, []byte("王五"), nil)
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(ct)
}

func TestMigrationMode(t *testing.T) {
	p, cfg, clk := startMode(t, wechatpaytest.CertificateMode)
	cert := p.CertificateSerials()[0]
	require.NoError(t, p.SetMode(wechatpaytest.MigrationMode))
	assert.Equal(t, wechatpaytest.MigrationMode, p.Mode())
	all := p.Config("").PlatformKeys
	assert.Len(t, all, 2, "the certificate and the public key")

	_, _, ans := listCertificates(t, p, cfg, clk)
	assert.Equal(t, cert, verifyWith(t, all, ans), "naming nothing: the certificate signs")
	_, _, ans = listCertificates(t, p, cfg, clk, cert)
	assert.Equal(t, cert, verifyWith(t, all, ans))
	list, _, ans := listCertificates(t, p, cfg, clk, p.PlatformSerial())
	assert.Len(t, list, 1, "certificates are still listed during the switch")
	assert.Equal(t, p.PlatformSerial(), verifyWith(t, all, ans), "naming the public key: the public key signs")

	var signers []string
	for _, no := range []string{"PAY20250520000001", "PAY20250520000002", "PAY20250520000003", "PAY20250520000004"} {
		n := mustPay(t, p, clk, no)
		require.NoError(t, verifyPlatformSignature(t, wechatpay.Config{PlatformKeys: all}, n.Header, n.Body))
		signers = append(signers, n.Header.Get("Wechatpay-Serial"))
	}
	assert.Equal(t, []string{cert, p.PlatformSerial(), cert, p.PlatformSerial()}, signers, "notifications alternate")

	// Sensitive fields decrypt with whichever key the request names.
	for serial, key := range all {
		ct := encryptFor(t, key)
		got, err := p.DecryptSensitive(serial, ct)
		require.NoError(t, err)
		assert.Equal(t, "王五", got)
	}
	require.NoError(t, p.SetMode(wechatpaytest.PublicKeyMode))
	_, err := p.DecryptSensitive(cert, encryptFor(t, all[cert]))
	assert.Error(t, err, "the certificate is out of force in public-key mode")
	assert.Error(t, p.SetMode(wechatpaytest.Mode(9)))
}
