package wechat

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/storage"
)

// Record kinds of the login.
const (
	// KindSession is a customer's WeChat session key, keyed by
	// appid+":"+openid; each login replaces it.
	KindSession = "login_session"
	// KindCustomer binds a customer to their openid, keyed by
	// appid+":"+customer.
	KindCustomer = "login_customer"
)

// MaxLoginCodeLen bounds a wx.login code, and a phone-number button's code
// (PhoneNumber). WeChat's login codes are 32 characters and its phone codes
// 64; it documents neither their length nor their alphabet, so Login and
// PhoneNumber take up to this many of the characters of URL-safe and
// standard base64 and leave the rest to WeChat.
const MaxLoginCodeLen = 128

// Login is who a Mini Program login signed in. It never holds the session
// key.
type Login struct {
	AppID    string
	OpenID   string
	UnionID  string // empty unless the app is bound to an Open Platform account
	Customer commerce.CustomerID
	// New is true for the customer's first login through the app: one
	// login per customer, whatever the concurrency.
	New bool
}

// sessionDoc is a KindSession record's document.
type sessionDoc struct {
	Key      string              `json:"session_key"`
	Set      time.Time           `json:"set"`
	UnionID  string              `json:"unionid,omitempty"`
	Customer commerce.CustomerID `json:"customer"`
}

// customerDoc is a KindCustomer record's document.
type customerDoc struct {
	OpenID  string    `json:"openid"`
	UnionID string    `json:"unionid,omitempty"`
	Bound   time.Time `json:"bound"`
}

// Login exchanges a code from wx.login for the customer it signs in, keeps
// the session key server-side and binds the customer to the openid. A code
// is good once: an unknown or expired code, or one already used, is a
// KindInvalid error for field "code"; WeChat's per-user limit (100 logins a
// minute) is KindUnavailable; a user WeChat blocks as high-risk is
// KindFailedPrecondition.
func (c *Client) Login(ctx context.Context, code string) (Login, error) {
	const op = "wechat.login"
	if err := checkCode(op, code, "wx.login"); err != nil {
		return Login{}, err
	}
	var out struct {
		OpenID     string `json:"openid"`
		SessionKey string `json:"session_key"`
		UnionID    string `json:"unionid"`
	}
	err := c.call(ctx, request{op: op, method: http.MethodGet, path: "/sns/jscode2session",
		query: url.Values{"appid": {c.cfg.AppID}, "secret": {c.cfg.Secret}, "js_code": {code},
			"grant_type": {"authorization_code"}}}, &out)
	if err != nil {
		return Login{}, loginError(op, err)
	}
	// What WeChat answered is checked before anything is kept; the errors
	// never repeat the session key.
	switch {
	case commerce.CheckKey(op, "openid", out.OpenID, true, commerce.MaxKeyLen) != nil:
		return Login{}, fail(op, fmt.Errorf("%w: the answer has no valid openid", commerce.ErrUnavailable))
	case commerce.CheckKey(op, "unionid", out.UnionID, false, commerce.MaxKeyLen) != nil:
		return Login{}, fail(op, fmt.Errorf("%w: the answer has an invalid unionid", commerce.ErrUnavailable))
	}
	if _, err := sessionCipher(out.SessionKey); err != nil {
		return Login{}, fail(op, fmt.Errorf("%w: the answer's session key is not 16 bytes of base64", commerce.ErrUnavailable))
	}
	l := Login{AppID: c.cfg.AppID, OpenID: out.OpenID, UnionID: out.UnionID, Customer: commerce.CustomerID(out.OpenID)}
	if c.cfg.CustomerOf != nil {
		l.Customer = c.cfg.CustomerOf(out.OpenID, out.UnionID)
		if err := commerce.CheckCustomer(op, "customer", l.Customer); err != nil {
			return Login{}, err
		}
	}
	now := c.Now()
	doc := mustJSON(sessionDoc{Key: out.SessionKey, Set: now, UnionID: out.UnionID, Customer: l.Customer})
	// The last login to save wins: concurrent logins of one user each
	// replace the whole record, never a part of it.
	err = c.replaceRecord(ctx, KindSession, c.cfg.AppID+":"+out.OpenID, func([]byte) ([]byte, error) { return doc, nil })
	if err != nil {
		return Login{}, fail(op, err)
	}
	err = c.replaceRecord(ctx, KindCustomer, c.cfg.AppID+":"+string(l.Customer), func(old []byte) ([]byte, error) {
		var d customerDoc
		if old != nil {
			if err := json.Unmarshal(old, &d); err != nil {
				return nil, fmt.Errorf("customer record of %s: %w", l.Customer, err)
			}
			if d.OpenID == l.OpenID && d.UnionID == l.UnionID {
				l.New = false
				return nil, nil // bound already: nothing to write
			}
		}
		// A customer the host maps to a new openid follows their latest
		// login.
		l.New = old == nil
		return mustJSON(customerDoc{OpenID: l.OpenID, UnionID: l.UnionID, Bound: now}), nil
	})
	if err != nil {
		return Login{}, fail(op, err)
	}
	return l, nil
}

// checkCode refuses what cannot be a code of the client API from (a
// wx.login code, a phone-number button's) before it is sent: field "code".
func checkCode(op, code, from string) error {
	switch {
	case code == "":
		return invalid(op, "code", "required")
	case len(code) > MaxLoginCodeLen:
		return invalid(op, "code", "longer than %d bytes", MaxLoginCodeLen)
	}
	for i := 0; i < len(code); i++ {
		b := code[i]
		if !('0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' ||
			b == '-' || b == '_' || b == '.' || b == '~' || b == '+' || b == '/' || b == '=') {
			return invalid(op, "code", "has a character (byte %d) no %s code has", i, from)
		}
	}
	return nil
}

// loginError says what a refused exchange means.
func loginError(op string, err error) error {
	var ae *APIError
	if !errors.As(err, &ae) {
		return err
	}
	switch ae.Code {
	case CodeInvalidCode:
		return &commerce.Error{Op: op, Kind: commerce.KindInvalid, Field: "code",
			Err: fmt.Errorf("unknown or expired (a wx.login code lives five minutes): %w", ae)}
	case CodeCodeUsed:
		return &commerce.Error{Op: op, Kind: commerce.KindInvalid, Field: "code",
			Err: fmt.Errorf("used already (a wx.login code is good for one login): %w", ae)}
	case CodeMinuteQuota:
		return &commerce.Error{Op: op, Kind: commerce.KindUnavailable,
			Err: fmt.Errorf("this user logged in too often (100 a minute): %w", ae)}
	case CodeHighRiskUser:
		return &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition,
			Err: fmt.Errorf("WeChat blocks this user as high-risk: %w", ae)}
	}
	return err
}

// CodeHighRiskUser is jscode2session's refusal of a user WeChat deems
// high-risk.
const CodeHighRiskUser = 40226

// OpenIDOf returns the openid of customer in this app: the one of their
// latest login. A customer who never logged in through the app is
// commerce.ErrNotFound.
func (c *Client) OpenIDOf(ctx context.Context, customer commerce.CustomerID) (string, error) {
	const op = "wechat.openid_of"
	if err := commerce.CheckCustomer(op, "customer", customer); err != nil {
		return "", err
	}
	r, err := c.cfg.Store.GetRecord(ctx, KindCustomer, c.cfg.AppID+":"+string(customer))
	if errors.Is(err, storage.ErrNotFound) {
		return "", &commerce.Error{Op: op, Kind: commerce.KindNotFound,
			Err: fmt.Errorf("customer %s never logged in through %s: %w", truncate(string(customer), 40), c.cfg.AppID, storage.ErrNotFound)}
	} else if err != nil {
		return "", fail(op, err)
	}
	var d customerDoc
	if err := json.Unmarshal(r.Doc, &d); err != nil {
		return "", fail(op, fmt.Errorf("customer record of %s: %w", truncate(string(customer), 40), err))
	}
	return d.OpenID, nil
}

// replaceRecord writes the document decide makes of the stored one (nil
// when there is none) by compare-and-swap, reading again and deciding
// again when another writer moved first. decide returning nil keeps the
// record as it is.
func (c *Client) replaceRecord(ctx context.Context, kind, key string, decide func(old []byte) ([]byte, error)) error {
	st := c.cfg.Store
	for {
		r, err := st.GetRecord(ctx, kind, key)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			r = storage.Record{Kind: kind, Key: key}
		case err != nil:
			return err
		}
		doc, err := decide(r.Doc)
		if err != nil || doc == nil {
			return err
		}
		r.Doc, r.Updated = doc, c.Now()
		if _, err = st.SaveRecord(ctx, r); !errors.Is(err, storage.ErrConflict) {
			return err
		}
		// Each conflict is another writer's success: the loop ends.
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%w: %w", commerce.ErrUnavailable, err)
		}
	}
}

// Limits of DecryptUserData's input: the open data WeChat encrypts (a
// phone number, a profile, a share ticket's group) are well under a
// kilobyte.
const maxEncryptedData = 32 << 10

// DecryptUserData decrypts data a Mini Program's open API encrypted for the
// customer (encryptedData and iv, base64, as the client received them) with
// the session key of openid's latest login, checks that the data are for
// this app (watermark.appid) and decodes the JSON into out, watermark
// included. An openid with no session is commerce.ErrNotFound; data that do
// not decrypt with the key (tampered, or encrypted before a later login
// replaced it: log in again and retry) are KindInvalid for field
// "encrypted_data". Neither the key nor the data appear in an error.
func (c *Client) DecryptUserData(ctx context.Context, openid, encryptedData, iv string, out any) error {
	const op = "wechat.decrypt_user_data"
	if err := commerce.CheckKey(op, "openid", openid, true, commerce.MaxKeyLen); err != nil {
		return err
	}
	if len(encryptedData) > maxEncryptedData {
		return invalid(op, "encrypted_data", "longer than %d bytes", maxEncryptedData)
	}
	ct, err := base64.StdEncoding.DecodeString(encryptedData)
	switch {
	case encryptedData == "":
		return invalid(op, "encrypted_data", "required")
	case err != nil:
		return invalid(op, "encrypted_data", "not base64")
	case len(ct) == 0 || len(ct)%aes.BlockSize != 0:
		return invalid(op, "encrypted_data", "%d bytes, not whole AES blocks", len(ct))
	}
	ivb, err := base64.StdEncoding.DecodeString(iv)
	if err != nil || len(ivb) != aes.BlockSize {
		return invalid(op, "iv", "not 16 bytes of base64")
	}
	if out == nil {
		return invalid(op, "out", "nil")
	}
	r, err := c.cfg.Store.GetRecord(ctx, KindSession, c.cfg.AppID+":"+openid)
	if errors.Is(err, storage.ErrNotFound) {
		return &commerce.Error{Op: op, Kind: commerce.KindNotFound, Field: "openid",
			Err: fmt.Errorf("no session: the customer has not logged in through %s: %w", c.cfg.AppID, storage.ErrNotFound)}
	} else if err != nil {
		return fail(op, err)
	}
	var d sessionDoc
	if err := json.Unmarshal(r.Doc, &d); err != nil {
		return fail(op, errors.New("the session record does not decode"))
	}
	block, err := sessionCipher(d.Key)
	if err != nil {
		return fail(op, errors.New("the session record holds no valid key"))
	}
	plain := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, ivb).CryptBlocks(plain, ct)
	// One answer for a bad padding and a bad body, so the error tells an
	// attacker nothing about which.
	undecryptable := invalid(op, "encrypted_data", "does not decrypt with the customer's session key (tampered, or from before their latest login)")
	plain, ok := unpad(plain, aes.BlockSize)
	if !ok {
		return undecryptable
	}
	var mark struct {
		Watermark *struct {
			AppID string `json:"appid"`
		} `json:"watermark"`
	}
	if err := json.Unmarshal(plain, &mark); err != nil {
		return undecryptable
	}
	switch {
	case mark.Watermark == nil:
		return invalid(op, "encrypted_data", "has no watermark")
	case subtle.ConstantTimeCompare([]byte(mark.Watermark.AppID), []byte(c.cfg.AppID)) != 1:
		return invalid(op, "encrypted_data", "watermarked for another app (%s)", truncate(mark.Watermark.AppID, 40))
	}
	if err := json.Unmarshal(plain, out); err != nil {
		// The decoder's own errors name types, never the data; those of
		// out's UnmarshalJSON might quote them, and are not repeated.
		var ute *json.UnmarshalTypeError
		var iue *json.InvalidUnmarshalError
		switch {
		case errors.As(err, &ute):
			return invalid(op, "out", "the data's %s does not fit a %s", ute.Field, ute.Type)
		case errors.As(err, &iue):
			return invalid(op, "out", "%v", iue)
		}
		return invalid(op, "out", "the data do not decode into a %T", out)
	}
	return nil
}

// sessionCipher is the AES-128 block of a session key (16 bytes, base64).
func sessionCipher(key string) (cipher.Block, error) {
	k, err := base64.StdEncoding.DecodeString(key)
	if err != nil || len(k) != 16 {
		return nil, errors.New("not a session key")
	}
	return aes.NewCipher(k)
}

// unpad strips PKCS#7 padding of block size k, reporting whether it was
// well-formed.
func unpad(b []byte, k int) ([]byte, bool) {
	if len(b) == 0 || len(b)%k != 0 {
		return nil, false
	}
	n := int(b[len(b)-1])
	if n == 0 || n > k {
		return nil, false
	}
	for _, x := range b[len(b)-n:] {
		if int(x) != n {
			return nil, false
		}
	}
	return b[:len(b)-n], true
}
