package wechatpay_test

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/payment/wechatpay"
)

func TestParseKeyFiles(t *testing.T) {
	k := merchantKey()

	pkcs8, err := x509.MarshalPKCS8PrivateKey(k)
	require.NoError(t, err)
	got, err := wechatpay.ParsePrivateKey(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))
	require.NoError(t, err)
	assert.True(t, got.Equal(k))

	got, err = wechatpay.ParsePrivateKey(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
	require.NoError(t, err)
	assert.True(t, got.Equal(k))

	spki, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	require.NoError(t, err)
	pub, err := wechatpay.ParsePublicKey(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}))
	require.NoError(t, err)
	assert.True(t, pub.Equal(&k.PublicKey))

	_, err = wechatpay.ParsePrivateKey([]byte("not pem"))
	assert.ErrorContains(t, err, "no PEM block")
	_, err = wechatpay.ParsePublicKey(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))
	assert.ErrorContains(t, err, "want PUBLIC KEY")
}

func TestParseCertificateSerial(t *testing.T) {
	k := platformKey()
	serial, ok := new(big.Int).SetString("5157F09EFDC096DE15EBE81A47057A7232F1B8E1", 16)
	require.True(t, ok)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "Tenpay.com Root CA"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	require.NoError(t, err)
	got, pub, err := wechatpay.ParseCertificate(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	require.NoError(t, err)
	assert.Equal(t, "5157F09EFDC096DE15EBE81A47057A7232F1B8E1", got)
	assert.True(t, pub.Equal(&k.PublicKey))

	_, _, err = wechatpay.ParseCertificate(nil)
	assert.Error(t, err)
}
