package wechat

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"time"

	"github.com/minishop/minishop/commerce"
)

// Limits of session tokens.
const (
	// MinSessionSecretLen is the shortest secret Sessions takes: 128 bits.
	MinSessionSecretLen = 16
	// MaxSessionTTL is the longest a session token may live.
	MaxSessionTTL = 366 * 24 * time.Hour
	// maxSessionToken bounds what Verify reads: a token with the longest
	// ids is well under it.
	maxSessionToken = 1024
	// sessionSkew is how far in the future a token's issue time may lie:
	// the host's processes' clocks differ a little.
	sessionSkew = time.Minute
)

// Why Verify refused a token; match them with errors.Is. Every refusal is
// also KindInvalid for field "token".
var (
	ErrSessionMalformed  = errors.New("malformed session token")
	ErrSessionUnknownKey = errors.New("session token signed with an unknown secret")
	ErrSessionSignature  = errors.New("session token signature does not match")
	ErrSessionExpired    = errors.New("session token expired")
)

// SessionSecret is a secret Sessions signs or verifies tokens with.
type SessionSecret struct {
	// ID names the secret in the tokens it signs, so that the verifier
	// picks it: 1 to 16 of A-Z a-z 0-9 - _. It is not secret.
	ID string
	// Key is at least MinSessionSecretLen random bytes. Never logged.
	Key []byte
}

// SessionClaims is what a session token says.
type SessionClaims struct {
	AppID    string
	OpenID   string
	Customer commerce.CustomerID
	IssuedAt time.Time // to the second
	Expires  time.Time // to the second
}

// Sessions issues and verifies the host's own session tokens: a customer
// who logged in through the Mini Program presents one to the host's API
// instead of anything of WeChat's. A token is
// keyid.payload.signature, base64url, the signature HMAC-SHA256 over the key
// id and the payload. It is safe for concurrent use.
type Sessions struct {
	clock  commerce.Clock
	signer *sessionKey
	keys   map[string]*sessionKey
}

// sessionKey is one secret with a pool of its HMACs: building one hashes
// the key, which costs as much as the MAC of a token.
type sessionKey struct {
	id   string
	pool sync.Pool
}

func (k *sessionKey) mac(signed string) []byte {
	h := k.pool.Get().(hash.Hash)
	h.Reset()
	h.Write([]byte(sessionDomain))
	h.Write([]byte(signed))
	sum := h.Sum(make([]byte, 0, sha256.Size))
	k.pool.Put(h)
	return sum
}

// sessionDomain separates these MACs from any other use of the secret.
const sessionDomain = "minishop.wechat.session.v1\x00"

// NewSessions returns the tokens of the secrets: the first signs, every one
// verifies. To rotate, put a new secret first, and drop the old one once
// the tokens it signed have expired. clock may be nil (the system clock).
func NewSessions(clock commerce.Clock, secrets ...SessionSecret) (*Sessions, error) {
	const op = "wechat.new_sessions"
	if len(secrets) == 0 {
		return nil, invalid(op, "secrets", "none given")
	}
	s := &Sessions{clock: clock, keys: map[string]*sessionKey{}}
	if s.clock == nil {
		s.clock = commerce.SystemClock()
	}
	for i, sec := range secrets {
		field := fmt.Sprintf("secrets[%d]", i)
		switch {
		case !validKeyID(sec.ID):
			return nil, invalid(op, field+".id", "not 1 to 16 of A-Z a-z 0-9 - _")
		case s.keys[sec.ID] != nil:
			return nil, invalid(op, field+".id", "%s given twice", sec.ID)
		case len(sec.Key) < MinSessionSecretLen:
			// The length only: the key itself is never repeated.
			return nil, invalid(op, field+".key", "%d bytes, shorter than %d (128 bits)", len(sec.Key), MinSessionSecretLen)
		}
		key := bytes.Clone(sec.Key)
		k := &sessionKey{id: sec.ID}
		k.pool.New = func() any { return hmac.New(sha256.New, key) }
		s.keys[sec.ID] = k
		if i == 0 {
			s.signer = k
		}
	}
	return s, nil
}

func validKeyID(id string) bool {
	if id == "" || len(id) > 16 {
		return false
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		if !('0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || b == '-' || b == '_') {
			return false
		}
	}
	return true
}

// sessionPayload is a token's payload, with short names: the token rides
// in every request.
type sessionPayload struct {
	AppID    string `json:"a"`
	OpenID   string `json:"o"`
	Customer string `json:"c"`
	IssuedAt int64  `json:"i"`
	Expires  int64  `json:"e"`
}

var b64 = base64.RawURLEncoding.Strict()

// Issue returns a token for the login, valid for ttl (a second to
// MaxSessionTTL) from now.
func (s *Sessions) Issue(l Login, ttl time.Duration) (string, error) {
	const op = "wechat.session_issue"
	switch {
	case !validAppID(l.AppID):
		return "", invalid(op, "app_id", "%q is not an app id", truncate(l.AppID, 40))
	case ttl < time.Second || ttl > MaxSessionTTL:
		return "", invalid(op, "ttl", "%v is not between a second and %v", ttl, MaxSessionTTL)
	}
	if err := commerce.CheckKey(op, "openid", l.OpenID, true, commerce.MaxKeyLen); err != nil {
		return "", err
	}
	if err := commerce.CheckCustomer(op, "customer", l.Customer); err != nil {
		return "", err
	}
	iat := s.clock.Now().Unix()
	p := sessionPayload{AppID: l.AppID, OpenID: l.OpenID, Customer: string(l.Customer), IssuedAt: iat,
		Expires: iat + int64((ttl+time.Second-1)/time.Second)}
	signed := s.signer.id + "." + b64.EncodeToString(mustJSON(p))
	return signed + "." + b64.EncodeToString(s.signer.mac(signed)), nil
}

// Verify checks a token and returns its claims. A refused token is
// KindInvalid for field "token", wrapping ErrSessionMalformed,
// ErrSessionUnknownKey, ErrSessionSignature or ErrSessionExpired. The
// claims' app is not checked: a host serving several apps compares it.
func (s *Sessions) Verify(token string) (SessionClaims, error) {
	const op = "wechat.session_verify"
	refuse := func(why error, format string, args ...any) (SessionClaims, error) {
		return SessionClaims{}, &commerce.Error{Op: op, Kind: commerce.KindInvalid, Field: "token",
			Err: fmt.Errorf("%w: "+format, append([]any{why}, args...)...)}
	}
	if len(token) > maxSessionToken {
		return refuse(ErrSessionMalformed, "longer than %d bytes", maxSessionToken)
	}
	kid, rest, ok1 := strings.Cut(token, ".")
	payload, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || !validKeyID(kid) || payload == "" || strings.IndexByte(sig, '.') >= 0 {
		return refuse(ErrSessionMalformed, "not keyid.payload.signature")
	}
	k := s.keys[kid]
	if k == nil {
		return refuse(ErrSessionUnknownKey, "key id %s", kid)
	}
	mac, err := b64.DecodeString(sig)
	if err != nil || len(mac) != sha256.Size {
		return refuse(ErrSessionMalformed, "the signature is not 32 bytes of base64url")
	}
	if !hmac.Equal(mac, k.mac(token[:len(kid)+1+len(payload)])) {
		return refuse(ErrSessionSignature, "signed by key id %s", kid)
	}
	// Only a token this host signed gets this far.
	raw, err := b64.DecodeString(payload)
	if err != nil {
		return refuse(ErrSessionMalformed, "the payload is not base64url")
	}
	var p sessionPayload
	if err := json.Unmarshal(raw, &p); err != nil || p.Expires <= p.IssuedAt || p.IssuedAt <= 0 {
		return refuse(ErrSessionMalformed, "the payload does not decode")
	}
	c := SessionClaims{AppID: p.AppID, OpenID: p.OpenID, Customer: commerce.CustomerID(p.Customer),
		IssuedAt: time.Unix(p.IssuedAt, 0).UTC(), Expires: time.Unix(p.Expires, 0).UTC()}
	now := s.clock.Now()
	switch {
	case !now.Before(c.Expires):
		return refuse(ErrSessionExpired, "at %s", c.Expires.Format(time.RFC3339))
	case c.IssuedAt.After(now.Add(sessionSkew)):
		return refuse(ErrSessionMalformed, "issued in the future (%s)", c.IssuedAt.Format(time.RFC3339))
	}
	return c, nil
}
