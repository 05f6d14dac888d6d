package wechatpay_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/payment/wechatpay"
)

// FuzzParseNotification feeds arbitrary bodies and header values to
// ParseNotification. It must never panic, and nothing but the genuine body
// may pass: not with made-up headers, not with the genuine headers, and
// not as a verified body the platform never encrypted.
func FuzzParseNotification(f *testing.F) {
	e := setup(f)
	n := e.paid(f, "PAY20250520000001", 21600)
	valid := n.Body
	h := n.Header
	f.Add(valid, h.Get("Wechatpay-Timestamp"), h.Get("Wechatpay-Nonce"), h.Get("Wechatpay-Signature"), h.Get("Wechatpay-Serial"), h.Get("Wechatpay-Signature-Type"))
	f.Add([]byte(`{"id":"1","event_type":"TRANSACTION.SUCCESS","resource_type":"encrypt-resource","resource":{"algorithm":"AEAD_AES_256_GCM","nonce":"abcdefghijkl","ciphertext":"AAAAAAAAAAAAAAAAAAAAAA==","associated_data":"transaction"}}`),
		"1747747775", "nonce", "c2ln", testPlatformSerial, "")
	f.Add([]byte(`{"id":"1","event_type":"REFUND.SUCCESS","resource":null}`), "", "", "", "", "WECHATPAY2-SHA256-RSA2048")
	f.Add([]byte{0xff, 0xfe, '{'}, "99999999999999999999", "\n", "====", "PUB_KEY_ID_", "x")

	f.Fuzz(func(t *testing.T, body []byte, ts, nonce, sig, serial, sigType string) {
		parse := func(body []byte, hdr http.Header) error {
			req, err := http.NewRequest(http.MethodPost, "https://shop.example.com/wechatpay/notify", bytes.NewReader(body))
			require.NoError(t, err)
			req.Header = hdr
			got, err := e.c.ParseNotification(t.Context(), req)
			if err == nil {
				require.NotNil(t, got)
				require.True(t, (got.Transaction != nil) != (got.Refund != nil))
			}
			return err
		}

		// Arbitrary headers and body.
		hdr := http.Header{}
		for k, v := range map[string]string{
			"Wechatpay-Timestamp": ts, "Wechatpay-Nonce": nonce, "Wechatpay-Signature": sig,
			"Wechatpay-Serial": serial, "Wechatpay-Signature-Type": sigType,
		} {
			if v != "" {
				hdr[k] = []string{v}
			}
		}
		if err := parse(body, hdr); err == nil {
			require.Equal(t, valid, body, "only the genuine body can carry a genuine signature")
		}

		// The genuine headers over another body.
		if err := parse(body, n.Header.Clone()); err == nil {
			require.Equal(t, valid, body)
		}

		// The fuzzed body as if genuinely signed: still refused, since the
		// fuzzer cannot encrypt under the APIv3 key, unless it carries a
		// genuine resource. (The decoder is called directly: an RSA signature
		// per input would make fuzzing, and Go's minimization of interesting
		// inputs, crawl.)
		got, err := e.c.DecodeVerified(body)
		if err == nil {
			require.NotNil(t, got)
			require.True(t, (got.Transaction != nil) != (got.Refund != nil))
			require.Contains(t, string(body), `"ciphertext"`)
		} else {
			require.Nil(t, got)
		}
	})
}

// FuzzDecrypt feeds arbitrary resource fields and keys to the decryption.
// It must never panic, and must only succeed for AEAD_AES_256_GCM under a
// 32-byte key with a 12-byte nonce.
func FuzzDecrypt(f *testing.F) {
	key := []byte(testAPIv3Key)
	block, err := aes.NewCipher(key)
	require.NoError(f, err)
	gcm, err := cipher.NewGCM(block)
	require.NoError(f, err)
	ct := base64.StdEncoding.EncodeToString(gcm.Seal(nil, []byte("abcdefghijkl"), []byte(`{"trade_state":"SUCCESS"}`), []byte("transaction")))
	f.Add(key, "AEAD_AES_256_GCM", ct, "transaction", "abcdefghijkl")
	f.Add(key, "AEAD_AES_256_GCM", ct, "refund", "abcdefghijkl")
	f.Add(key, "AEAD_AES_128_GCM", ct, "transaction", "abcdefghijkl")
	f.Add(key[:16], "AEAD_AES_256_GCM", ct, "transaction", "abcdefghijkl")
	f.Add(key, "AEAD_AES_256_GCM", "", "", "")
	f.Add(key, "AEAD_AES_256_GCM", "!!!", "", "abcdefghijkl")
	f.Add([]byte{}, "", "AAAA", "", "abc")

	f.Fuzz(func(t *testing.T, key []byte, algorithm, ciphertext, aad, nonce string) {
		plain, err := wechatpay.DecryptResource(key, algorithm, ciphertext, aad, nonce)
		if err != nil {
			require.Nil(t, plain)
			return
		}
		require.Equal(t, "AEAD_AES_256_GCM", algorithm)
		require.Len(t, key, 32)
		require.Len(t, nonce, 12)
	})
}

func TestDecryptResource(t *testing.T) {
	key := []byte(testAPIv3Key)
	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	gcm, err := cipher.NewGCM(block)
	require.NoError(t, err)
	sealed := gcm.Seal(nil, []byte("abcdefghijkl"), []byte(`{"x":1}`), []byte("transaction"))
	ct := base64.StdEncoding.EncodeToString(sealed)

	plain, err := wechatpay.DecryptResource(key, "AEAD_AES_256_GCM", ct, "transaction", "abcdefghijkl")
	require.NoError(t, err)
	require.Equal(t, `{"x":1}`, string(plain))

	for name, try := range map[string]func() ([]byte, error){
		"other aad": func() ([]byte, error) {
			return wechatpay.DecryptResource(key, "AEAD_AES_256_GCM", ct, "refund", "abcdefghijkl")
		},
		"other nonce": func() ([]byte, error) {
			return wechatpay.DecryptResource(key, "AEAD_AES_256_GCM", ct, "transaction", "abcdefghijkm")
		},
		"short nonce": func() ([]byte, error) {
			return wechatpay.DecryptResource(key, "AEAD_AES_256_GCM", ct, "transaction", "abcdefghijk")
		},
		"AES-128 key": func() ([]byte, error) {
			return wechatpay.DecryptResource(key[:16], "AEAD_AES_256_GCM", ct, "transaction", "abcdefghijkl")
		},
		"other algorithm": func() ([]byte, error) {
			return wechatpay.DecryptResource(key, "AES_256_CBC", ct, "transaction", "abcdefghijkl")
		},
		"tag cut off": func() ([]byte, error) {
			return wechatpay.DecryptResource(key, "AEAD_AES_256_GCM", base64.StdEncoding.EncodeToString(sealed[:len(sealed)-16]), "transaction", "abcdefghijkl")
		},
		"url base64": func() ([]byte, error) {
			return wechatpay.DecryptResource(key, "AEAD_AES_256_GCM", base64.RawURLEncoding.EncodeToString(sealed)+"_-", "transaction", "abcdefghijkl")
		},
	} {
		plain, err := try()
		require.Error(t, err, name)
		require.Nil(t, plain, name)
	}
}
