package wechatpay

import (
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
// The key is the one requests already name (a public key in public-key
// mode, the single configured certificate otherwise); with several
// certificates and no public key it is the greatest serial, a choice the
// host avoids by configuring the WeChat Pay public key.
func (c *Client) encrypt(plain string) (cipherText, serial string, err error) {
	serial = c.serial
	if serial == "" {
		serials := make([]string, 0, len(c.keys))
		for s := range c.keys {
			serials = append(serials, s)
		}
		if len(serials) == 0 {
			return "", "", errors.New("no platform key to encrypt with")
		}
		serial = slices.Max(serials)
	}
	key := c.keys[serial]
	if key == nil {
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
