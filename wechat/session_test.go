package wechat_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/wechat"
)

var (
	secretA = wechat.SessionSecret{ID: "2026a", Key: []byte("0123456789abcdef-first-secret")}
	secretB = wechat.SessionSecret{ID: "2026b", Key: []byte("fedcba9876543210-second-secret")}
)

var someLogin = wechat.Login{AppID: "wx1234567890abcdef", OpenID: "oAbCdEfGhIjKlMnOpQrStUvWxYz0", Customer: "customer-1"}

func newSessions(t testing.TB, clock commerce.Clock, secrets ...wechat.SessionSecret) *wechat.Sessions {
	s, err := wechat.NewSessions(clock, secrets...)
	require.NoError(t, err)
	return s
}

// refusedAs asserts err is a refusal of the token for why.
func refusedAs(t *testing.T, err, why error, msgAndArgs ...any) {
	t.Helper()
	require.Error(t, err, msgAndArgs...)
	assert.ErrorIs(t, err, why, msgAndArgs...)
	requireKind(t, err, commerce.KindInvalid, "token", msgAndArgs...)
	for _, s := range []wechat.SessionSecret{secretA, secretB} {
		assert.NotContains(t, err.Error(), string(s.Key))
	}
}

// A token says who logged in until it expires, to the second.
func TestSessionIssueVerifyExpire(t *testing.T) {
	clock := commercetest.NewClock(commercetest.Epoch)
	s := newSessions(t, clock, secretA)
	tok, err := s.Issue(someLogin, time.Hour)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(tok, "2026a."), tok)
	assert.NotContains(t, tok, "=", "base64url without padding")

	c, err := s.Verify(tok)
	require.NoError(t, err)
	assert.Equal(t, wechat.SessionClaims{AppID: someLogin.AppID, OpenID: someLogin.OpenID, Customer: someLogin.Customer,
		IssuedAt: commercetest.Epoch, Expires: commercetest.Epoch.Add(time.Hour)}, c)

	clock.Advance(time.Hour - time.Second)
	_, err = s.Verify(tok)
	require.NoError(t, err, "a second before it ends")
	clock.Advance(time.Second)
	_, err = s.Verify(tok)
	refusedAs(t, err, wechat.ErrSessionExpired)

	// A token from a clock far ahead is refused; a little skew is not.
	ahead := commercetest.NewClock(commercetest.Epoch.Add(2 * time.Hour))
	future, err := newSessions(t, ahead, secretA).Issue(someLogin, time.Hour)
	require.NoError(t, err)
	_, err = s.Verify(future)
	refusedAs(t, err, wechat.ErrSessionMalformed)
	ahead.Set(clock.Now().Add(30 * time.Second))
	skewed, err := newSessions(t, ahead, secretA).Issue(someLogin, time.Hour)
	require.NoError(t, err)
	_, err = s.Verify(skewed)
	assert.NoError(t, err)
}

// Any change to a token is refused, with a reason; nothing panics.
func TestSessionTampered(t *testing.T) {
	clock := commercetest.NewClock(commercetest.Epoch)
	s := newSessions(t, clock, secretA)
	tok, err := s.Issue(someLogin, time.Hour)
	require.NoError(t, err)
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)

	// Every character of the payload and signature changed in turn.
	for i := len(parts[0]) + 1; i < len(tok); i++ {
		if tok[i] == '.' {
			continue
		}
		b := []byte(tok)
		b[i] = map[bool]byte{true: 'B', false: 'A'}[b[i] == 'A']
		_, err := s.Verify(string(b))
		require.Error(t, err, "character %d", i)
		assert.True(t, errors.Is(err, wechat.ErrSessionSignature) || errors.Is(err, wechat.ErrSessionMalformed), "%d: %v", i, err)
	}

	// A payload of the attacker's choosing under the old signature.
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	forged := bytes.Replace(raw, []byte("customer-1"), []byte("customer-2"), 1)
	_, err = s.Verify(parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2])
	refusedAs(t, err, wechat.ErrSessionSignature)

	// The signature of another secret under this key id.
	other, err := newSessions(t, clock, wechat.SessionSecret{ID: secretA.ID, Key: secretB.Key}).Issue(someLogin, time.Hour)
	require.NoError(t, err)
	_, err = s.Verify(other)
	refusedAs(t, err, wechat.ErrSessionSignature)

	for _, bad := range []string{"", ".", "..", "2026a", "2026a.", "2026a..", "2026a." + parts[1], tok + ".x", tok + "=",
		"bad id!." + parts[1] + "." + parts[2], parts[0] + "." + parts[1] + "." + parts[2][:10], strings.Repeat("a", 2000),
		parts[0] + ".." + parts[2], parts[0] + "." + parts[1] + "." + parts[2] + "A"} {
		_, err := s.Verify(bad)
		refusedAs(t, err, wechat.ErrSessionMalformed, "%q", bad)
	}
}

// Rotation: a new secret put first signs; tokens of the old one still
// verify until it is dropped.
func TestSessionRotation(t *testing.T) {
	clock := commercetest.NewClock(commercetest.Epoch)
	before := newSessions(t, clock, secretA)
	old, err := before.Issue(someLogin, time.Hour)
	require.NoError(t, err)

	during := newSessions(t, clock, secretB, secretA)
	_, err = during.Verify(old)
	require.NoError(t, err, "the old secret still verifies")
	fresh, err := during.Issue(someLogin, time.Hour)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(fresh, secretB.ID+"."), "the first secret signs")
	_, err = before.Verify(fresh)
	refusedAs(t, err, wechat.ErrSessionUnknownKey, "a process not yet rotated")

	after := newSessions(t, clock, secretB)
	_, err = after.Verify(fresh)
	require.NoError(t, err)
	_, err = after.Verify(old)
	refusedAs(t, err, wechat.ErrSessionUnknownKey)
}

// Secrets under 128 bits, unnamed or named twice are refused, without
// saying them; so are logins that are no session.
func TestSessionSecretsChecked(t *testing.T) {
	short := wechat.SessionSecret{ID: "k", Key: []byte("fifteen-bytes!!")}
	for field, secrets := range map[string][]wechat.SessionSecret{
		"secrets":        nil,
		"secrets[0].key": {short},
		"secrets[1].key": {secretA, {ID: "k2"}},
		"secrets[0].id":  {{ID: "", Key: secretA.Key}},
		"secrets[1].id":  {secretA, {ID: secretA.ID, Key: secretB.Key}},
	} {
		_, err := wechat.NewSessions(nil, secrets...)
		requireKind(t, err, commerce.KindInvalid, field)
		assert.NotContains(t, err.Error(), string(short.Key))
		assert.NotContains(t, err.Error(), string(secretB.Key))
	}
	for _, id := range []string{"a.b", "sixteen-and-more-", "é"} {
		_, err := wechat.NewSessions(nil, wechat.SessionSecret{ID: id, Key: secretA.Key})
		requireKind(t, err, commerce.KindInvalid, "secrets[0].id", id)
	}

	// The secret is copied: the caller's slice changing later changes
	// nothing.
	key := bytes.Clone(secretA.Key)
	s := newSessions(t, nil, wechat.SessionSecret{ID: "c", Key: key})
	tok, err := s.Issue(someLogin, time.Minute)
	require.NoError(t, err)
	key[0] ^= 1
	_, err = s.Verify(tok)
	require.NoError(t, err)

	for field, edit := range map[string]func(*wechat.Login, *time.Duration){
		"app_id":   func(l *wechat.Login, _ *time.Duration) { l.AppID = "wx1" },
		"openid":   func(l *wechat.Login, _ *time.Duration) { l.OpenID = "" },
		"customer": func(l *wechat.Login, _ *time.Duration) { l.Customer = "a\nb" },
		"ttl":      func(_ *wechat.Login, d *time.Duration) { *d = wechat.MaxSessionTTL + time.Second },
	} {
		l, ttl := someLogin, time.Hour
		edit(&l, &ttl)
		_, err := s.Issue(l, ttl)
		requireKind(t, err, commerce.KindInvalid, field)
	}
	_, err = s.Issue(someLogin, time.Millisecond)
	requireKind(t, err, commerce.KindInvalid, "ttl")
}

// FuzzSessionVerify: no input panics; what verifies is a token the host
// issued, unchanged.
func FuzzSessionVerify(f *testing.F) {
	clock := commercetest.NewClock(commercetest.Epoch)
	s := newSessions(f, clock, secretA, secretB)
	tok, err := s.Issue(someLogin, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Add(tok[:len(tok)-1])
	f.Add("2026b." + strings.SplitN(tok, ".", 2)[1])
	f.Add("")
	f.Add("..")
	f.Fuzz(func(t *testing.T, in string) {
		c, err := s.Verify(in)
		if err != nil {
			var ce *commerce.Error
			if !errors.As(err, &ce) || ce.Field != "token" {
				t.Fatalf("not a token refusal: %v", err)
			}
			return
		}
		if in != tok || c.Customer != someLogin.Customer {
			t.Fatalf("%q verified as %+v", in, c)
		}
	})
}

func BenchmarkSessionVerify(b *testing.B) {
	s := newSessions(b, nil, secretA, secretB)
	tok, err := s.Issue(someLogin, time.Hour)
	require.NoError(b, err)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Verify(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}
