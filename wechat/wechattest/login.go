package wechattest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"time"
)

// Login rules the platform plays, as WeChat's.
const (
	// LoginCodeTTL is how long a wx.login code can be exchanged.
	LoginCodeTTL = 5 * time.Minute
	// LoginsPerMinute is jscode2session's limit per user (45011 beyond).
	LoginsPerMinute = 100
)

// loginState is what jscode2session remembers.
type loginState struct {
	codes   map[string]*loginCode // by code
	keys    map[string][]byte     // each user's current session key, by openid
	issued  map[string][]string   // every session key handed out, by openid, oldest first
	logins  map[string][]time.Time
	blocked map[string]bool // high-risk users (40226)
}

type loginCode struct {
	openid  string
	expires time.Time
	used    bool
}

func (p *Platform) login() *loginState {
	return stateOf(p, "login", func() *loginState {
		return &loginState{codes: map[string]*loginCode{}, keys: map[string][]byte{}, issued: map[string][]string{},
			logins: map[string][]time.Time{}, blocked: map[string]bool{}}
	})
}

// LoginCode is what wx.login gives u's Mini Program: a code the server
// exchanges once, within LoginCodeTTL.
func (p *Platform) LoginCode(u User) string {
	code := randAlnum(32)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.login().codes[code] = &loginCode{openid: u.OpenID, expires: p.now().Add(LoginCodeTTL)}
	return code
}

// SessionKey is the session key (base64) of openid's latest login, or ""
// before one.
func (p *Platform) SessionKey(openid string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if k := p.login().keys[openid]; k != nil {
		return base64.StdEncoding.EncodeToString(k)
	}
	return ""
}

// SessionKeys lists every session key handed out to openid, oldest first.
func (p *Platform) SessionKeys(openid string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.login().issued[openid]...)
}

// BlockUser makes jscode2session refuse u as a high-risk user (40226).
func (p *Platform) BlockUser(u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.login().blocked[u.OpenID] = true
}

// EncryptUserData encrypts data for openid as the Mini Program's open APIs
// do (wx.getPhoneNumber's encryptedData and iv): the JSON of data with a
// watermark {appid, timestamp} added, AES-128-CBC with openid's current
// session key and a random iv, PKCS#7 padding, base64. A watermark in data
// is kept as given, to forge one. It panics when openid never logged in.
func (p *Platform) EncryptUserData(openid string, data map[string]any) (encryptedData, iv string) {
	p.mu.Lock()
	key := p.login().keys[openid]
	now := p.now()
	p.mu.Unlock()
	if key == nil {
		panic("wechattest: EncryptUserData for " + openid + ", who never logged in")
	}
	m := maps.Clone(data)
	if m == nil {
		m = map[string]any{}
	}
	if _, ok := m["watermark"]; !ok {
		m["watermark"] = map[string]any{"appid": p.appID, "timestamp": now.Unix()}
	}
	plain, err := json.Marshal(m)
	if err != nil {
		panic("wechattest: EncryptUserData: " + err.Error())
	}
	n := aes.BlockSize - len(plain)%aes.BlockSize
	for range n {
		plain = append(plain, byte(n))
	}
	ivb := make([]byte, aes.BlockSize)
	_, _ = rand.Read(ivb)
	block, _ := aes.NewCipher(key)
	cipher.NewCBCEncrypter(block, ivb).CryptBlocks(plain, plain)
	return base64.StdEncoding.EncodeToString(plain), base64.StdEncoding.EncodeToString(ivb)
}

func init() {
	// code2Session: no access token, the AppSecret in the query. A wrong
	// secret is 40125 here (invalid appsecret), unlike the token APIs'
	// 40001.
	register("/sns/jscode2session", http.MethodGet, false, func(p *Platform, c *call) (any, error) {
		q := c.query
		switch {
		case q.Get("appid") != p.appID:
			return nil, errf(40013, "invalid appid")
		case q.Get("secret") != p.secret:
			return nil, errf(40125, "invalid appsecret")
		case q.Get("grant_type") != "authorization_code":
			return nil, errf(40002, "invalid grant_type")
		case q.Get("js_code") == "":
			return nil, errf(41008, "missing code")
		}
		s := p.login()
		now := p.now()
		lc := s.codes[q.Get("js_code")]
		switch {
		case lc == nil || !now.Before(lc.expires) || !p.knows(lc.openid):
			return nil, errf(40029, "invalid code")
		case lc.used:
			return nil, errf(40163, "code been used")
		case s.blocked[lc.openid]:
			return nil, errf(40226, "invalid user, high risk user")
		}
		recent := s.logins[lc.openid][:0]
		for _, t := range s.logins[lc.openid] {
			if now.Sub(t) < time.Minute {
				recent = append(recent, t)
			}
		}
		if s.logins[lc.openid] = recent; len(recent) >= LoginsPerMinute {
			return nil, errf(45011, "api minute-quota reach limit, mustslower retry next minute")
		}
		s.logins[lc.openid] = append(recent, now)
		lc.used = true
		// Each login hands out a new session key, as wx.login may.
		key := make([]byte, 16)
		_, _ = rand.Read(key)
		s.keys[lc.openid] = key
		enc := base64.StdEncoding.EncodeToString(key)
		s.issued[lc.openid] = append(s.issued[lc.openid], enc)
		u := p.users[lc.openid]
		// A struct, not a map: the success answer carries no errcode, as
		// WeChat's sometimes does not.
		return struct {
			OpenID     string `json:"openid"`
			SessionKey string `json:"session_key"`
			UnionID    string `json:"unionid,omitempty"`
		}{u.OpenID, enc, u.UnionID}, nil
	})
}
