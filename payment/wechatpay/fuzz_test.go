package wechatpay_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/wechatpay"
)

// FuzzParseNotification feeds arbitrary bodies and header values to
// ParseNotification. It must never panic, and nothing may pass: the fuzzer
// cannot sign under the platform key. The decoder is also run on the body as
// if its signature had checked out; it may accept only a body carrying a
// resource genuinely encrypted under the APIv3 key, and a refusal returns
// nothing half-decoded.
//
// Each input must cost microseconds, not an RSA operation: Go's minimizer
// runs an interesting input thousands of times, and with a 2048-bit
// verification per run (~55 µs) over the genuine ~1 KB body it spent the
// whole default 60 s per input, so fuzzing executed a handful of inputs a
// minute. So the seeds carry the genuine serial and a fresh timestamp (to
// get past those checks) but never the genuine signature: verification is
// reached only when the fuzzer builds a 256-byte signature, and the genuine
// signature over other bodies is TestGenuineHeadersOnlyOverGenuineBody's job.
// The platform and its keys are set up once per worker, outside f.Fuzz.
func FuzzParseNotification(f *testing.F) {
	e := setup(f)
	n := e.paid(f, "PAY20250520000001", 21600)
	h := n.Header
	ts, serial := h.Get("Wechatpay-Timestamp"), h.Get("Wechatpay-Serial")
	small := envelope(f, "TRANSACTION.SUCCESS", "transaction", map[string]any{"out_trade_no": "P1"})
	f.Add(small, ts, "nonce", "c2ln", serial, "")
	f.Add(n.Body, ts, h.Get("Wechatpay-Nonce"), "AAAA", serial, h.Get("Wechatpay-Signature-Type"))
	f.Add([]byte(`{"id":"1","event_type":"TRANSACTION.SUCCESS","resource_type":"encrypt-resource","resource":{"algorithm":"AEAD_AES_256_GCM","nonce":"abcdefghijkl","ciphertext":"AAAAAAAAAAAAAAAAAAAAAA==","associated_data":"transaction"}}`),
		"1747747775", "nonce", "c2ln", testPlatformSerial, "")
	f.Add([]byte(`{"id":"1","event_type":"REFUND.SUCCESS","resource":null}`), "", "", "", "", "WECHATPAY2-SHA256-RSA2048")
	f.Add([]byte{0xff, 0xfe, '{'}, "99999999999999999999", "\n", "====", "PUB_KEY_ID_", "x")

	req, err := http.NewRequest(http.MethodPost, "https://shop.example.com/wechatpay/notify", nil)
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, body []byte, ts, nonce, sig, serial, sigType string) {
		hdr := http.Header{}
		for k, v := range map[string]string{
			"Wechatpay-Timestamp": ts, "Wechatpay-Nonce": nonce, "Wechatpay-Signature": sig,
			"Wechatpay-Serial": serial, "Wechatpay-Signature-Type": sigType,
		} {
			if v != "" {
				hdr[k] = []string{v}
			}
		}
		r := req.Clone(t.Context())
		r.Header, r.Body = hdr, io.NopCloser(bytes.NewReader(body))
		got, err := e.c.ParseNotification(t.Context(), r)
		require.Error(t, err, "nothing unsigned passes")
		require.Nil(t, got)

		got, err = e.c.DecodeVerified(body)
		if err == nil {
			require.NotNil(t, got)
			require.True(t, (got.Transaction != nil) != (got.Refund != nil))
			require.Contains(t, string(body), `"ciphertext"`)
		} else {
			require.Nil(t, got, "a refused body is not half-decoded")
		}
	})
}

// TestGenuineHeadersOnlyOverGenuineBody is the signature half of the fuzz
// target, done once: under the genuine headers, every one-byte change and
// every cut of the genuine body is refused, and the genuine body passes.
func TestGenuineHeadersOnlyOverGenuineBody(t *testing.T) {
	e := setup(t)
	n := e.paid(t, "PAY20250520000001", 21600)
	parse := func(body []byte) error {
		req, err := http.NewRequest(http.MethodPost, "https://shop.example.com/wechatpay/notify", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header = n.Header.Clone()
		_, err = e.c.ParseNotification(t.Context(), req)
		return err
	}
	require.NoError(t, parse(n.Body))
	for i := range n.Body {
		b := bytes.Clone(n.Body)
		b[i] ^= 0x20
		require.ErrorIs(t, parse(b), wechatpay.ErrVerification, "byte %d changed", i)
		require.ErrorIs(t, parse(n.Body[:i]), wechatpay.ErrVerification, "cut at %d", i)
	}
}

// FuzzDecodeResource fuzzes what the decoder reads once a notification is
// verified and decrypted: the resource's JSON. The fuzzer cannot forge an
// AES-GCM tag, so FuzzParseNotification never gets past decryption; here
// each input is sealed under the APIv3 key (AES-GCM costs a microsecond),
// so the JSON decoding and field checks are what is explored. It must not
// panic; a decoded transaction has a payment number and a known state, and
// its amount, when set, is non-negative; a decoded refund has a refund
// number and an amount.
func FuzzDecodeResource(f *testing.F) {
	e := setup(f)
	block, err := aes.NewCipher([]byte(testAPIv3Key))
	require.NoError(f, err)
	gcm, err := cipher.NewGCM(block)
	require.NoError(f, err)
	mch, app := e.cfg.MchID, e.cfg.AppID
	f.Add(true, []byte(`{"mchid":"`+mch+`","appid":"`+app+`","out_trade_no":"P1","transaction_id":"42","trade_state":"SUCCESS","amount":{"total":100,"currency":"CNY"},"success_time":"2025-05-20T13:29:35+08:00"}`))
	f.Add(true, []byte(`{"mchid":"`+mch+`","appid":"`+app+`","out_trade_no":"P1","trade_state":"NOTPAY"}`))
	f.Add(false, []byte(`{"mchid":"`+mch+`","out_trade_no":"P1","out_refund_no":"R1","refund_status":"SUCCESS","amount":{"refund":100,"currency":"CNY"},"success_time":"2025-05-20T13:29:35+08:00"}`))
	f.Add(false, []byte(`{"mchid":"`+mch+`","out_refund_no":"R1","refund_status":"CLOSED","amount":{"refund":-1,"currency":"XXX"}}`))
	f.Add(true, []byte(`{"amount":{"total":99999999999999999999}}`))
	f.Fuzz(func(t *testing.T, tx bool, plain []byte) {
		event, typ := "REFUND.SUCCESS", "refund"
		if tx {
			event, typ = "TRANSACTION.SUCCESS", "transaction"
		}
		ct := base64.StdEncoding.EncodeToString(gcm.Seal(nil, []byte("abcdefghijkl"), plain, []byte(typ)))
		body := []byte(`{"id":"EV-1","create_time":"2025-05-20T13:29:35+08:00","event_type":"` + event + `","resource_type":"encrypt-resource","resource":{"original_type":"` + typ +
			`","algorithm":"AEAD_AES_256_GCM","ciphertext":"` + ct + `","associated_data":"` + typ + `","nonce":"abcdefghijkl"}}`)
		got, err := e.c.DecodeVerified(body)
		if err != nil {
			require.Nil(t, got, "a refused resource is not half-decoded")
			return
		}
		require.NotNil(t, got)
		if tx {
			require.NotNil(t, got.Transaction)
			require.Nil(t, got.Refund)
			require.NotEmpty(t, got.Transaction.PaymentNo)
			require.Contains(t, []payment.TxState{payment.TxPending, payment.TxSucceeded, payment.TxFailed, payment.TxClosed}, got.Transaction.State)
			if got.Transaction.Amount.IsSet() {
				require.False(t, got.Transaction.Amount.IsNegative(), "amount %s", got.Transaction.Amount)
			}
			return
		}
		require.NotNil(t, got.Refund)
		require.Nil(t, got.Transaction)
		require.NotEmpty(t, got.Refund.RefundNo)
		require.True(t, got.Refund.Amount.IsSet())
		require.Contains(t, []payment.RefundState{payment.RefundProcessing, payment.RefundSucceeded, payment.RefundFailed}, got.Refund.State)
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
