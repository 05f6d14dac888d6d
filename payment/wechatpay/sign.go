package wechatpay

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrVerification is wrapped by every error that says a response or
// notification could not be authenticated: a bad or missing signature, an
// unknown serial, a stale timestamp, a signature type or cipher other than
// WeChat's, a resource that does not decrypt. Such input must never be acted
// on. NotificationAck answers these with 401.
var ErrVerification = errors.New("verification failed")

func verifyErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrVerification, fmt.Sprintf(format, args...))
}

// authScheme is the only signature scheme API v3 defines, in the
// Authorization header and in a notification's Wechatpay-Signature-Type.
const authScheme = "WECHATPAY2-SHA256-RSA2048"

// Headers WeChat Pay signs responses and notifications with.
const (
	hdrTimestamp = "Wechatpay-Timestamp"
	hdrNonce     = "Wechatpay-Nonce"
	hdrSignature = "Wechatpay-Signature"
	hdrSerial    = "Wechatpay-Serial"
	hdrSigType   = "Wechatpay-Signature-Type"
	hdrRequestID = "Request-Id"
)

// requestMessage is what the merchant signs: method, URL path with query,
// timestamp, nonce and body, each followed by a newline (a GET's body line
// is empty but still ends in one).
func requestMessage(method, uri string, timestamp int64, nonce string, body []byte) string {
	return method + "\n" + uri + "\n" + strconv.FormatInt(timestamp, 10) + "\n" + nonce + "\n" + string(body) + "\n"
}

// responseMessage is what WeChat Pay signs in responses and notifications:
// timestamp, nonce and the body exactly as sent, each followed by a newline.
func responseMessage(timestamp, nonce string, body []byte) string {
	return timestamp + "\n" + nonce + "\n" + string(body) + "\n"
}

// payMessage is what wx.requestPayment's paySign covers: exactly four lines.
func payMessage(appID, timeStamp, nonceStr, pkg string) string {
	return appID + "\n" + timeStamp + "\n" + nonceStr + "\n" + pkg + "\n"
}

// signSHA256RSA returns base64(SHA256withRSA(key, message)), PKCS #1 v1.5.
func signSHA256RSA(key *rsa.PrivateKey, message string) (string, error) {
	sum := sha256.Sum256([]byte(message))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("signing: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// newNonce returns 32 random characters from crypto/rand (base32 of 20
// bytes: 160 bits, letters and digits only, so it needs no quoting).
func newNonce() string {
	var b [20]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it crashes the program instead)
	return base32.StdEncoding.EncodeToString(b[:])
}

// authorization builds the Authorization header for a request.
func (c *Client) authorization(method, uri string, body []byte) (string, error) {
	ts := c.now().Unix()
	nonce := newNonce()
	sig, err := signSHA256RSA(c.cfg.PrivateKey, requestMessage(method, uri, ts, nonce, body))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf(`%s mchid="%s",nonce_str="%s",timestamp="%d",serial_no="%s",signature="%s"`,
		authScheme, c.cfg.MchID, nonce, ts, c.cfg.SerialNo, sig), nil
}

// verify authenticates a signed response or notification: the serial names
// a platform key in force, the timestamp is within MaxSkew of now, and the
// SHA256withRSA signature covers exactly body. The checks that need no RSA
// (and no certificate download) run first, so junk is turned away cheaply;
// only a well-formed, fresh message naming an unknown serial may make the
// client download certificates (see platformKey), and at most once per
// MinRefreshCertificatesEvery.
//
// Wechatpay-Signature-Type is not looked at here: API v3 signs responses
// one way only, so a response is verified that way whatever the header says
// (and is not refused for carrying it). Notifications choose their suite by
// it; ParseNotification checks it before calling verify.
func (c *Client) verify(ctx context.Context, h http.Header, body []byte) error {
	s, err := c.readSigned(h)
	if err != nil {
		return err
	}
	key, err := c.platformKey(ctx, s.serial)
	if err != nil {
		return err
	}
	return s.check(key, body)
}

// signedHeaders are the Wechatpay-* headers of a signed message, read and
// checked as far as that is possible without the key.
type signedHeaders struct {
	serial, timestamp, nonce string
	sig                      []byte
}

// signatureProbe starts the Wechatpay-Signature of WeChat Pay's signature
// probes: traffic that carries no valid signature on purpose, to see that
// the merchant checks. It is refused like any bad signature, but before the
// serial is looked up, so a probe never causes a certificate download.
const signatureProbe = "WECHATPAY/SIGNTEST/"

func (c *Client) readSigned(h http.Header) (signedHeaders, error) {
	var s signedHeaders
	serial, err := single(h, hdrSerial)
	if err != nil {
		return s, err
	}
	if checkToken(serial, 64) != nil {
		return s, verifyErr("%s %q is not a platform certificate serial or public-key ID", hdrSerial, truncate(serial, 64))
	}
	tsText, err := single(h, hdrTimestamp)
	if err != nil {
		return s, err
	}
	ts, err := parseUnix(tsText)
	if err != nil {
		return s, verifyErr("%s %q: %v", hdrTimestamp, truncate(tsText, 32), err)
	}
	if skew := c.now().Sub(ts); skew >= c.maxSkew || -skew >= c.maxSkew {
		return s, verifyErr("%s %s is %s from now, outside %s (stale or replayed)", hdrTimestamp, tsText, skew.Round(time.Second), c.maxSkew)
	}
	nonce, err := single(h, hdrNonce)
	if err != nil {
		return s, err
	}
	if strings.ContainsAny(nonce, "\r\n") || len(nonce) > 128 {
		return s, verifyErr("%s is malformed", hdrNonce)
	}
	sigText, err := single(h, hdrSignature)
	if err != nil {
		return s, err
	}
	if strings.HasPrefix(sigText, signatureProbe) {
		return s, verifyErr("%s is a signature probe (%s…), not a signature", hdrSignature, signatureProbe)
	}
	sig, err := base64.StdEncoding.DecodeString(sigText)
	if err != nil || len(sig)*8 < minKeyBits || len(sig)*8 > maxKeyBits {
		return s, verifyErr("%s is not a base64 RSA signature", hdrSignature)
	}
	return signedHeaders{serial: serial, timestamp: tsText, nonce: nonce, sig: sig}, nil
}

// check verifies the signature over body with key.
func (s signedHeaders) check(key *rsa.PublicKey, body []byte) error {
	if len(s.sig) != key.Size() {
		return verifyErr("%s is not a base64 RSA signature of %d bytes", hdrSignature, key.Size())
	}
	sum := sha256.Sum256([]byte(responseMessage(s.timestamp, s.nonce, body)))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], s.sig); err != nil {
		return verifyErr("%s does not match the body (key %s)", hdrSignature, s.serial)
	}
	return nil
}

// single returns the one value of a required header.
func single(h http.Header, name string) (string, error) {
	v := h.Values(name)
	switch {
	case len(v) == 0 || v[0] == "":
		return "", verifyErr("%s header missing", name)
	case len(v) > 1:
		return "", verifyErr("%s header repeated", name)
	}
	return v[0], nil
}

// parseUnix parses decimal Unix seconds, digits only (no sign, no spaces).
func parseUnix(s string) (time.Time, error) {
	if s == "" || len(s) > 12 {
		return time.Time{}, errors.New("not Unix seconds")
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return time.Time{}, errors.New("not Unix seconds")
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, errors.New("not Unix seconds")
	}
	return time.Unix(n, 0), nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
