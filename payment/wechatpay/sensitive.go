package wechatpay

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"slices"
)

// encrypt encrypts a sensitive field (a profit-sharing receiver's name, a
// transfer payee's real name) as WeChat Pay requires: RSAES-OAEP with the
// platform key, Base64. It returns the ciphertext and the serial of the key
// used, which the request must name in Wechatpay-Serial so WeChat knows
// which of its keys decrypts it.
//
// OAEP's hash is SHA-1: WeChat Pay's documentation names OAEP without the
// hash, and its own SDKs use SHA-1 for the hash and MGF1; the local test
// platform decrypts the same way.
//
// The key is the one requests name (see requestSerial), from the keys in
// force now: the WeChat Pay public key in public-key mode and during the
// switch to it, else the newest effective downloaded certificate, else the
// single configured certificate. With no such choice (several configured
// certificates, whose dates are unknown, or several public keys) it is the
// greatest serial, a choice the
// host avoids by configuring the WeChat Pay public key or downloading the
// certificates. A client set to download certificates that has none yet
// downloads them first (bounded by the download timeout, since encrypt has
// no context); later refreshes are left to the call that sends the field.
func (c *Client) encrypt(plain string) (cipherText, serial string, err error) {
	ks := c.keys.Load()
	if c.download && ks.fetched.IsZero() {
		ks = c.keySet(context.Background())
	}
	now := c.now()
	serial = ks.requestSerial(now, c.maxSkew)
	if serial == "" {
		var serials []string
		for s, e := range ks.keys {
			if e.live(now) {
				serials = append(serials, s)
			}
		}
		if len(serials) == 0 {
			return "", "", errors.New("no platform key to encrypt with")
		}
		serial = slices.Max(serials)
	}
	key, ok := ks.lookup(serial, now)
	if !ok {
		return "", "", errors.New("no platform key to encrypt with")
	}
	ct, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, key, []byte(plain), nil)
	if err != nil {
		return "", "", err
	}
	return base64.StdEncoding.EncodeToString(ct), serial, nil
}

// DecryptSensitive reverses encrypt with the platform's private key: what
// WeChat Pay does with a sensitive field, and what the local test platform
// does to check one. It is exported for wechatpaytest.
func DecryptSensitive(key *rsa.PrivateKey, cipherText string) (string, error) {
	ct, err := base64.StdEncoding.DecodeString(cipherText)
	if err != nil {
		return "", errors.New("not Base64")
	}
	pt, err := rsa.DecryptOAEP(sha1.New(), nil, key, ct, nil)
	if err != nil {
		return "", errors.New("does not decrypt with the platform key (RSAES-OAEP)")
	}
	return string(pt), nil
}
