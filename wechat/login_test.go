package wechat_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/minishop/minishop/storage"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/storage/memory"
	"github.com/minishop/minishop/storage/sqlstore"
	"github.com/minishop/minishop/wechat"
	"github.com/minishop/minishop/wechat/wechattest"
)

// requireKind asserts err is a *commerce.Error of kind naming field.
func requireKind(t *testing.T, err error, kind commerce.Kind, field string, msgAndArgs ...any) *commerce.Error {
	t.Helper()
	var ce *commerce.Error
	require.ErrorAs(t, err, &ce, msgAndArgs...)
	assert.Equal(t, kind, ce.Kind, "%v", err)
	assert.Equal(t, field, ce.Field, "%v", err)
	return ce
}

// sessionRecord reads the KindSession record of openid and its key.
func (w *world) sessionRecord(t *testing.T, openid string) (storage.Record, string) {
	t.Helper()
	r, err := w.store.GetRecord(w.ctx, wechat.KindSession, w.plat.AppID()+":"+openid)
	require.NoError(t, err)
	var d struct {
		Key string `json:"session_key"`
	}
	require.NoError(t, json.Unmarshal(r.Doc, &d))
	return r, d.Key
}

// A login signs in the user the code was minted for, keeps the session key
// WeChat handed out (and only in its session record), binds the customer
// to the openid, and never asks for an access token.
func TestLogin(t *testing.T) {
	w := newWorld(t)
	c := w.client(t)
	u := w.plat.NewUser()

	l, err := c.Login(w.ctx, w.plat.LoginCode(u))
	require.NoError(t, err)
	assert.Equal(t, wechat.Login{AppID: w.plat.AppID(), OpenID: u.OpenID, UnionID: u.UnionID,
		Customer: commerce.CustomerID(u.OpenID), New: true}, l)
	r, key := w.sessionRecord(t, u.OpenID)
	assert.Equal(t, w.plat.SessionKey(u.OpenID), key)
	assert.Equal(t, int64(1), r.Version)
	openid, err := c.OpenIDOf(w.ctx, l.Customer)
	require.NoError(t, err)
	assert.Equal(t, u.OpenID, openid)

	// Logging in again: a new session key replaces the old, the customer
	// is not new.
	again, err := c.Login(w.ctx, w.plat.LoginCode(u))
	require.NoError(t, err)
	assert.False(t, again.New)
	assert.Equal(t, l.Customer, again.Customer)
	keys := w.plat.SessionKeys(u.OpenID)
	require.Len(t, keys, 2)
	assert.NotEqual(t, keys[0], keys[1], "WeChat changes the key at each login")
	r, key = w.sessionRecord(t, u.OpenID)
	assert.Equal(t, keys[1], key)
	assert.Equal(t, int64(2), r.Version)
	cr, err := w.store.GetRecord(w.ctx, wechat.KindCustomer, w.plat.AppID()+":"+u.OpenID)
	require.NoError(t, err)
	assert.Equal(t, int64(1), cr.Version, "an unchanged binding is not written again")

	assert.Zero(t, w.plat.TokensIssued(), "code2session takes no access token")
	for _, req := range w.plat.Requests() {
		assert.Equal(t, "/sns/jscode2session", req.Path)
		assert.Equal(t, "GET", req.Method)
		assert.Equal(t, "authorization_code", req.Query.Get("grant_type"))
		assert.Empty(t, req.Query.Get("access_token"))
		assert.Zero(t, req.Code)
	}
}

// The host names its customers by unionid (or its own ids) through
// CustomerOf; a name that is no customer id is refused before anything is
// kept.
func TestLoginCustomerOf(t *testing.T) {
	w := newWorld(t)
	c := w.client(t, func(cfg *wechat.Config) {
		cfg.CustomerOf = func(openid, unionid string) commerce.CustomerID { return commerce.CustomerID(unionid) }
	})
	u := w.plat.NewUser()
	l, err := c.Login(w.ctx, w.plat.LoginCode(u))
	require.NoError(t, err)
	assert.Equal(t, commerce.CustomerID(u.UnionID), l.Customer)
	openid, err := c.OpenIDOf(w.ctx, commerce.CustomerID(u.UnionID))
	require.NoError(t, err)
	assert.Equal(t, u.OpenID, openid)
	_, err = c.OpenIDOf(w.ctx, commerce.CustomerID(u.OpenID))
	assert.ErrorIs(t, err, commerce.ErrNotFound, "the customer is the unionid, not the openid")

	// Two WeChat users the host maps to one customer: messages follow the
	// latest login.
	shared := w.client(t, func(cfg *wechat.Config) {
		cfg.CustomerOf = func(string, string) commerce.CustomerID { return "family-account" }
	})
	first, second := w.plat.NewUser(), w.plat.NewUser()
	l, err = shared.Login(w.ctx, w.plat.LoginCode(first))
	require.NoError(t, err)
	assert.True(t, l.New)
	l, err = shared.Login(w.ctx, w.plat.LoginCode(second))
	require.NoError(t, err)
	assert.False(t, l.New, "the customer logged in before")
	openid, err = shared.OpenIDOf(w.ctx, "family-account")
	require.NoError(t, err)
	assert.Equal(t, second.OpenID, openid)

	bad := w.client(t, func(cfg *wechat.Config) {
		cfg.CustomerOf = func(string, string) commerce.CustomerID { return " padded " }
	})
	v := w.plat.NewUser()
	_, err = bad.Login(w.ctx, w.plat.LoginCode(v))
	requireKind(t, err, commerce.KindInvalid, "customer")
	_, err = w.store.GetRecord(w.ctx, wechat.KindSession, w.plat.AppID()+":"+v.OpenID)
	assert.ErrorIs(t, err, commerce.ErrNotFound, "nothing kept for a refused login")
}

// A code is good once and for five minutes; WeChat's refusals come back as
// clear errors of the right kind.
func TestLoginCodesRefused(t *testing.T) {
	w := newWorld(t)
	c := w.client(t)
	u := w.plat.NewUser()
	var errs []error

	code := w.plat.LoginCode(u)
	_, err := c.Login(w.ctx, code)
	require.NoError(t, err)
	_, err = c.Login(w.ctx, code)
	ce := requireKind(t, err, commerce.KindInvalid, "code")
	var ae *wechat.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, wechat.CodeCodeUsed, ae.Code)
	assert.Contains(t, ce.Error(), "used already")
	errs = append(errs, err)

	_, err = c.Login(w.ctx, "0a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P")
	requireKind(t, err, commerce.KindInvalid, "code")
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, wechat.CodeInvalidCode, ae.Code)
	errs = append(errs, err)

	late := w.plat.LoginCode(u)
	w.clock.Advance(wechattest.LoginCodeTTL)
	_, err = c.Login(w.ctx, late)
	requireKind(t, err, commerce.KindInvalid, "code", "a code five minutes old")
	errs = append(errs, err)
	justInTime := w.plat.LoginCode(u)
	w.clock.Advance(wechattest.LoginCodeTTL - time.Second)
	_, err = c.Login(w.ctx, justInTime)
	require.NoError(t, err)

	// The per-user minute quota: 100 logins, then 45011 until the minute
	// is over.
	w.clock.Advance(time.Minute)
	for i := range wechattest.LoginsPerMinute {
		_, err := c.Login(w.ctx, w.plat.LoginCode(u))
		require.NoError(t, err, "login %d", i)
	}
	_, err = c.Login(w.ctx, w.plat.LoginCode(u))
	requireKind(t, err, commerce.KindUnavailable, "")
	assert.True(t, commerce.Retryable(err))
	errs = append(errs, err)
	w.clock.Advance(time.Minute)
	_, err = c.Login(w.ctx, w.plat.LoginCode(u))
	require.NoError(t, err)

	risky := w.plat.NewUser()
	w.plat.BlockUser(risky)
	_, err = c.Login(w.ctx, w.plat.LoginCode(risky))
	requireKind(t, err, commerce.KindFailedPrecondition, "")
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, wechat.CodeHighRiskUser, ae.Code)
	errs = append(errs, err)

	wrong := w.client(t, func(cfg *wechat.Config) { cfg.Secret = "fedcba9876543210fedcba9876543210" })
	_, err = wrong.Login(w.ctx, w.plat.LoginCode(u))
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 40125, ae.Code)
	assert.False(t, commerce.Retryable(err), "a wrong secret is not worth retrying")
	errs = append(errs, err)

	w.plat.Close()
	_, err = c.Login(w.ctx, w.plat.LoginCode(u))
	assert.ErrorIs(t, err, commerce.ErrUnavailable)
	errs = append(errs, err)

	for _, err := range errs {
		for _, secret := range []string{w.plat.Secret(), "fedcba9876543210fedcba9876543210"} {
			assert.NotContains(t, err.Error(), secret)
		}
		assert.True(t, strings.HasPrefix(err.Error(), "wechat.login"), "%v", err)
	}
	for _, key := range w.plat.SessionKeys(u.OpenID) {
		for _, err := range errs {
			assert.NotContains(t, err.Error(), key)
		}
	}
}

// What cannot be a code is refused before WeChat is asked.
func TestLoginBadInput(t *testing.T) {
	w := newWorld(t)
	c := w.client(t)
	for _, code := range []string{"", "a b", "0a1B\n", "码", "x\x00", strings.Repeat("a", wechat.MaxLoginCodeLen+1), "a&secret=x"} {
		_, err := c.Login(w.ctx, code)
		requireKind(t, err, commerce.KindInvalid, "code", "%q", code)
	}
	_, err := c.OpenIDOf(w.ctx, "")
	requireKind(t, err, commerce.KindInvalid, "customer")
	_, err = c.OpenIDOf(w.ctx, "never-logged-in")
	assert.ErrorIs(t, err, commerce.ErrNotFound)
	requireKind(t, err, commerce.KindNotFound, "")
	assert.Empty(t, w.plat.Requests(), "nothing sent")
}

// Sixteen logins of one user at once: each succeeds, one of them binds
// the customer, and the session record ends whole, holding one of the keys
// WeChat handed out, after one write per login.
// On the memory store and on SQLite.
func TestConcurrentLoginsOfOneUser(t *testing.T) {
	t.Run("memory", func(t *testing.T) { concurrentLogins(t, newWorld(t)) })
	t.Run("SQLite", func(t *testing.T) {
		w := newWorld(t)
		st, err := sqlstore.Open(w.ctx, filepath.Join(t.TempDir(), "minishop.db"), sqlstore.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		w.store = st
		concurrentLogins(t, w)
	})
}

func concurrentLogins(t *testing.T, w *world) {
	clients := []*wechat.Client{w.client(t), w.client(t)} // two processes
	u := w.plat.NewUser()
	const n = 16
	codes := make([]string, n)
	for i := range codes {
		codes[i] = w.plat.LoginCode(u)
	}
	logins := make([]wechat.Login, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := clients[i%2].Login(w.ctx, codes[i])
			assert.NoError(t, err)
			logins[i] = l
		}()
	}
	wg.Wait()
	fresh := 0
	for _, l := range logins {
		assert.Equal(t, u.OpenID, l.OpenID)
		if l.New {
			fresh++
		}
	}
	assert.Equal(t, 1, fresh, "one login binds the customer")
	r, key := w.sessionRecord(t, u.OpenID)
	assert.Equal(t, int64(n), r.Version, "one write per login, none lost")
	assert.Contains(t, w.plat.SessionKeys(u.OpenID), key)
	cr, err := w.store.GetRecord(w.ctx, wechat.KindCustomer, w.plat.AppID()+":"+u.OpenID)
	require.NoError(t, err)
	assert.Equal(t, int64(1), cr.Version)

	// The next login settles on WeChat's current key.
	_, err = clients[0].Login(w.ctx, w.plat.LoginCode(u))
	require.NoError(t, err)
	_, key = w.sessionRecord(t, u.OpenID)
	assert.Equal(t, w.plat.SessionKey(u.OpenID), key)
	data, iv := w.plat.EncryptUserData(u.OpenID, map[string]any{"phoneNumber": "13800138000"})
	var out struct{ PhoneNumber string }
	require.NoError(t, clients[1].DecryptUserData(w.ctx, u.OpenID, data, iv, &out))
	assert.Equal(t, "13800138000", out.PhoneNumber)
}

// phone is the shape of wx.getPhoneNumber's decrypted data.
type phone struct {
	PhoneNumber     string `json:"phoneNumber"`
	PurePhoneNumber string `json:"purePhoneNumber"`
	CountryCode     string `json:"countryCode"`
	Watermark       struct {
		AppID     string `json:"appid"`
		Timestamp int64  `json:"timestamp"`
	} `json:"watermark"`
}

func phoneData() map[string]any {
	return map[string]any{"phoneNumber": "+86 13800138000", "purePhoneNumber": "13800138000", "countryCode": "86"}
}

// Encrypted data decrypt with the session key of the latest login, for
// this app only; anything else is a clean refusal.
func TestDecryptUserData(t *testing.T) {
	w := newWorld(t)
	c := w.client(t)
	u := w.plat.NewUser()
	var p phone
	data0, iv0 := "AAAAAAAAAAAAAAAAAAAAAA==", "AAAAAAAAAAAAAAAAAAAAAA=="
	err := c.DecryptUserData(w.ctx, u.OpenID, data0, iv0, &p)
	requireKind(t, err, commerce.KindNotFound, "openid", "no session yet")
	assert.ErrorIs(t, err, commerce.ErrNotFound)

	_, err = c.Login(w.ctx, w.plat.LoginCode(u))
	require.NoError(t, err)
	data, iv := w.plat.EncryptUserData(u.OpenID, phoneData())
	require.NoError(t, c.DecryptUserData(w.ctx, u.OpenID, data, iv, &p))
	assert.Equal(t, "13800138000", p.PurePhoneNumber)
	assert.Equal(t, "86", p.CountryCode)
	assert.Equal(t, w.plat.AppID(), p.Watermark.AppID)
	assert.Equal(t, w.clock.Now().Unix(), p.Watermark.Timestamp)

	var errs []error
	keep := func(err error) error { errs = append(errs, err); return err }

	// Another app's data.
	forged := phoneData()
	forged["watermark"] = map[string]any{"appid": "wx0000000000000000", "timestamp": 1}
	fd, fiv := w.plat.EncryptUserData(u.OpenID, forged)
	requireKind(t, keep(c.DecryptUserData(w.ctx, u.OpenID, fd, fiv, &p)), commerce.KindInvalid, "encrypted_data")
	nomark := phoneData()
	nomark["watermark"] = nil
	nd, niv := w.plat.EncryptUserData(u.OpenID, nomark)
	requireKind(t, keep(c.DecryptUserData(w.ctx, u.OpenID, nd, niv, &p)), commerce.KindInvalid, "encrypted_data")

	// Every byte of the ciphertext and of the iv flipped in turn: refused
	// or, where the change only garbles text the JSON keeps as a string,
	// decoded; never a panic, never another app's data.
	raw, _ := base64.StdEncoding.DecodeString(data)
	rawIV, _ := base64.StdEncoding.DecodeString(iv)
	refused := 0
	for i := range len(raw) + len(rawIV) {
		ct, ivb := append([]byte(nil), raw...), append([]byte(nil), rawIV...)
		if i < len(ct) {
			ct[i] ^= 0x41
		} else {
			ivb[i-len(ct)] ^= 0x41
		}
		var q phone
		err := c.DecryptUserData(w.ctx, u.OpenID, base64.StdEncoding.EncodeToString(ct), base64.StdEncoding.EncodeToString(ivb), &q)
		if err != nil {
			refused++
			requireKind(t, keep(err), commerce.KindInvalid, "encrypted_data", "byte %d", i)
		} else {
			assert.Equal(t, w.plat.AppID(), q.Watermark.AppID)
		}
	}
	assert.Greater(t, refused, len(raw)/2, "most tampering is refused")

	// Malformed input.
	for _, tc := range []struct{ openid, data, iv, field string }{
		{"", data, iv, "openid"},
		{u.OpenID, "", iv, "encrypted_data"},
		{u.OpenID, "not base64!", iv, "encrypted_data"},
		{u.OpenID, data[:len(data)-8] + "AAAA", iv, "encrypted_data"},
		{u.OpenID, base64.StdEncoding.EncodeToString(raw[:len(raw)-1]), iv, "encrypted_data"},
		{u.OpenID, strings.Repeat("A", 64<<10), iv, "encrypted_data"},
		{u.OpenID, data, "", "iv"},
		{u.OpenID, data, "AAAA", "iv"},
	} {
		requireKind(t, keep(c.DecryptUserData(w.ctx, tc.openid, tc.data, tc.iv, &p)), commerce.KindInvalid, tc.field, "%+v", tc.field)
	}
	requireKind(t, keep(c.DecryptUserData(w.ctx, u.OpenID, data, iv, nil)), commerce.KindInvalid, "out")
	requireKind(t, keep(c.DecryptUserData(w.ctx, u.OpenID, data, iv, p)), commerce.KindInvalid, "out")
	var wrongShape struct {
		PhoneNumber int `json:"phoneNumber"`
	}
	requireKind(t, keep(c.DecryptUserData(w.ctx, u.OpenID, data, iv, &wrongShape)), commerce.KindInvalid, "out")

	// A later login replaces the key: data encrypted before no longer
	// open, data encrypted after do.
	_, err = c.Login(w.ctx, w.plat.LoginCode(u))
	require.NoError(t, err)
	requireKind(t, keep(c.DecryptUserData(w.ctx, u.OpenID, data, iv, &p)), commerce.KindInvalid, "encrypted_data")
	data, iv = w.plat.EncryptUserData(u.OpenID, phoneData())
	require.NoError(t, c.DecryptUserData(w.ctx, u.OpenID, data, iv, &p))

	// No error says the key or the phone number.
	for _, err := range errs {
		for _, s := range append(w.plat.SessionKeys(u.OpenID), "13800138000") {
			assert.NotContains(t, err.Error(), s)
		}
	}
}

// The worked example of WeChat's open-data decryption doc decrypts to the
// profile it shows. The session record is written by hand in the shape
// Login keeps it.
func TestDecryptUserDataKnownAnswer(t *testing.T) {
	const (
		appid      = "wx4f4bc4dec97d474b"
		openid     = "oGZUI0egBJY1zhBYw2KhdUfwVJJE"
		sessionKey = "tiihtNczf5v6AKRyjwEUhQ=="
		iv         = "r7BXXKkLb8qrSNn05n0qiA=="
		data       = "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew=="
	)
	store := memory.New()
	c, err := wechat.New(wechat.Config{AppID: appid, Secret: "x", Store: store})
	require.NoError(t, err)
	_, err = store.SaveRecord(t.Context(), storage.Record{Kind: wechat.KindSession, Key: appid + ":" + openid,
		Doc: []byte(fmt.Sprintf(`{"session_key":%q}`, sessionKey))})
	require.NoError(t, err)
	var out struct {
		OpenID    string `json:"openId"`
		NickName  string `json:"nickName"`
		UnionID   string `json:"unionId"`
		Watermark struct {
			AppID     string `json:"appid"`
			Timestamp int64  `json:"timestamp"`
		} `json:"watermark"`
	}
	require.NoError(t, c.DecryptUserData(t.Context(), openid, data, iv, &out))
	assert.Equal(t, openid, out.OpenID)
	assert.Equal(t, "Band", out.NickName)
	assert.Equal(t, appid, out.Watermark.AppID)
	assert.Equal(t, int64(1477314187), out.Watermark.Timestamp)
}

// FuzzDecryptUserData: whatever the client sends, the decryptor answers
// an error or data watermarked for the app, and never says the key.
func FuzzDecryptUserData(f *testing.F) {
	clock := wechattest.Options{}
	plat := wechattest.Start(f, clock)
	store := memory.New()
	c, err := wechat.New(plat.Config(store))
	if err != nil {
		f.Fatal(err)
	}
	u := plat.NewUser()
	if _, err := c.Login(f.Context(), plat.LoginCode(u)); err != nil {
		f.Fatal(err)
	}
	key := plat.SessionKey(u.OpenID)
	data, iv := plat.EncryptUserData(u.OpenID, phoneData())
	f.Add(data, iv)
	f.Add(data[:len(data)-4], iv)
	f.Add("", "")
	f.Add("AAAAAAAAAAAAAAAAAAAAAA==", iv)
	f.Fuzz(func(t *testing.T, data, iv string) {
		var out map[string]any
		err := c.DecryptUserData(t.Context(), u.OpenID, data, iv, &out)
		if err != nil {
			if strings.Contains(err.Error(), key) {
				t.Fatalf("the key in %v", err)
			}
			if !errors.Is(err, commerce.ErrInvalid) {
				t.Fatalf("not KindInvalid: %v", err)
			}
			return
		}
		mark, _ := out["watermark"].(map[string]any)
		if mark["appid"] != plat.AppID() {
			t.Fatalf("decoded data watermarked %v", mark)
		}
	})
}

// The session key stays in its session record: not in the Login, the
// customer record, the requests the platform saw, or any error of the
// login's calls.
func TestSessionKeyNeverLeaves(t *testing.T) {
	w := newWorld(t)
	c := w.client(t)
	u := w.plat.NewUser()
	var emitted []string
	l, err := c.Login(w.ctx, w.plat.LoginCode(u))
	require.NoError(t, err)
	emitted = append(emitted, fmt.Sprintf("%+v %#v", l, l))
	code := w.plat.LoginCode(u)
	l, err = c.Login(w.ctx, code)
	require.NoError(t, err)
	emitted = append(emitted, fmt.Sprintf("%+v %#v", l, l))
	_, err = c.Login(w.ctx, code)
	emitted = append(emitted, err.Error())
	data, iv := w.plat.EncryptUserData(u.OpenID, phoneData())
	var p phone
	emitted = append(emitted, c.DecryptUserData(w.ctx, u.OpenID, data[4:], iv, &p).Error())
	emitted = append(emitted, c.DecryptUserData(w.ctx, u.OpenID, data, base64.StdEncoding.EncodeToString(make([]byte, 16)), &p).Error())
	cr, err := w.store.GetRecord(w.ctx, wechat.KindCustomer, w.plat.AppID()+":"+u.OpenID)
	require.NoError(t, err)
	emitted = append(emitted, string(cr.Doc), cr.Status)
	for _, r := range w.plat.Requests() {
		emitted = append(emitted, string(r.Body), r.Query.Encode())
	}
	keys := w.plat.SessionKeys(u.OpenID)
	require.Len(t, keys, 2)
	raw, err := base64.StdEncoding.DecodeString(keys[1])
	require.NoError(t, err)
	for _, s := range emitted {
		for _, key := range keys {
			assert.NotContains(t, s, key)
			assert.NotContains(t, s, strings.TrimRight(key, "="))
		}
		assert.NotContains(t, s, string(raw))
		assert.NotContains(t, s, fmt.Sprintf("%x", raw))
		assert.NotContains(t, s, w.plat.Secret())
	}
}

func BenchmarkDecryptUserData(b *testing.B) {
	plat := wechattest.Start(b, wechattest.Options{})
	c, err := wechat.New(plat.Config(memory.New()))
	require.NoError(b, err)
	u := plat.NewUser()
	_, err = c.Login(b.Context(), plat.LoginCode(u))
	require.NoError(b, err)
	data, iv := plat.EncryptUserData(u.OpenID, phoneData())
	b.ReportAllocs()
	for b.Loop() {
		var p phone
		if err := c.DecryptUserData(b.Context(), u.OpenID, data, iv, &p); err != nil {
			b.Fatal(err)
		}
	}
}

// WeChat spends a code even when its answer is lost: the login fails as
// unavailable, the same code is then used, and a fresh code works. A busy
// platform spends nothing: the same code works once it recovers.
func TestLoginAnswerLost(t *testing.T) {
	w := newWorld(t)
	c := w.client(t)
	u := w.plat.NewUser()
	code := w.plat.LoginCode(u)
	w.plat.Faults(1, 1, []wechattest.Fault{wechattest.FaultLostAnswer}, "/sns/jscode2session")
	_, err := c.Login(w.ctx, code)
	assert.True(t, commerce.Retryable(err), "%v", err)
	w.plat.Heal()
	_, err = c.Login(w.ctx, code)
	requireKind(t, err, commerce.KindInvalid, "code")
	_, err = w.store.GetRecord(w.ctx, wechat.KindSession, w.plat.AppID()+":"+u.OpenID)
	assert.ErrorIs(t, err, commerce.ErrNotFound, "nothing kept of the lost login")

	code = w.plat.LoginCode(u)
	w.plat.Faults(1, 1, []wechattest.Fault{wechattest.FaultBusy, wechattest.FaultServerError}, "/sns/jscode2session")
	for range 4 {
		_, err = c.Login(w.ctx, code)
		assert.True(t, commerce.Retryable(err), "%v", err)
	}
	w.plat.Heal()
	l, err := c.Login(w.ctx, code)
	require.NoError(t, err)
	assert.True(t, l.New)
}
