package wechatpaytest

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

func newKey() (*rsa.PrivateKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("wechatpaytest: generating an RSA key: %w", err)
	}
	return k, nil
}

func signSHA256RSA(key *rsa.PrivateKey, msg string) (string, error) {
	h := sha256.New()
	h.Write([]byte(msg))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h.Sum(nil))
	if err != nil {
		return "", fmt.Errorf("wechatpaytest: signing: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

func verifySHA256RSA(key *rsa.PublicKey, msg string, sig []byte) error {
	h := sha256.New()
	h.Write([]byte(msg))
	return rsa.VerifyPKCS1v15(key, crypto.SHA256, h.Sum(nil), sig)
}

// sealGCM encrypts a notification resource: AES-256-GCM, the 16-byte tag
// appended to the ciphertext.
func sealGCM(key []byte, nonce, aad string, plaintext []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return aead.Seal(nil, []byte(nonce), plaintext, []byte(aad)), nil
}

const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randFrom returns n characters of alphabet from crypto/rand, without
// modulo bias.
func randFrom(alphabet string, n int) string {
	out := make([]byte, 0, n)
	limit := 256 - 256%len(alphabet)
	var buf [64]byte
	for len(out) < n {
		_, _ = rand.Read(buf[:]) // crypto/rand.Read does not fail
		for _, c := range buf {
			if int(c) < limit && len(out) < n {
				out = append(out, alphabet[int(c)%len(alphabet)])
			}
		}
	}
	return string(out)
}

func randAlnum(n int) string  { return randFrom(alnum, n) }
func randDigits(n int) string { return randFrom(alnum[:10], n) }

func randHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}
