package wechattest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"sync"
	"time"

	"github.com/minishop/minishop/wechat"
)

// Defaults: an app id and secret in WeChat's formats.
const (
	DefaultAppID  = "wx1234567890abcdef"
	DefaultSecret = "0123456789abcdef0123456789abcdef"
	// DefaultOriginalID is the app's original id (gh_…), the ToUserName of
	// its pushes.
	DefaultOriginalID = "gh_0123456789ab"
)

// Options configure a Platform; Options{} is a working Mini Program.
type Options struct {
	AppID      string // default DefaultAppID
	Secret     string // default DefaultSecret
	OriginalID string // default DefaultOriginalID
	// TokenTTL is the lifetime of the access tokens handed out; default two
	// hours, as WeChat's.
	TokenTTL time.Duration
	Now      func() time.Time // default time.Now
}

// TB is the part of testing.TB that Start uses (declared here so programs
// that are not tests can import the package).
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Platform is a running local WeChat platform for one app. It is safe for
// concurrent use.
type Platform struct {
	appID, secret, originalID string
	ttl                       time.Duration
	now                       func() time.Time
	srv                       *httptest.Server
	closeOnce                 sync.Once

	mu       sync.Mutex
	tokens   map[string]*token // every token handed out, by value
	stable   *token            // the current stable_token
	calls    map[string]int    // requests by path
	forced   int               // stable_token calls with force_refresh
	requests []Request
	users    map[string]*User // by openid
	faults   *faults
	state    map[string]any // each API's own state, by API (see stateOf)
}

type token struct {
	value   string
	classic bool
	expires time.Time
}

// NewPlatform starts a platform on loopback. Close it when done.
func NewPlatform(opts Options) (*Platform, error) {
	p := &Platform{appID: opts.AppID, secret: opts.Secret, originalID: opts.OriginalID, ttl: opts.TokenTTL, now: opts.Now,
		tokens: map[string]*token{}, calls: map[string]int{}, users: map[string]*User{}, state: map[string]any{}}
	if p.appID == "" {
		p.appID = DefaultAppID
	}
	if p.secret == "" {
		p.secret = DefaultSecret
	}
	if p.originalID == "" {
		p.originalID = DefaultOriginalID
	}
	if p.ttl == 0 {
		p.ttl = 2 * time.Hour
	}
	if p.ttl < time.Second {
		return nil, fmt.Errorf("wechattest: TokenTTL %v is under a second", p.ttl)
	}
	if p.now == nil {
		p.now = time.Now
	}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	return p, nil
}

// Start is NewPlatform for tests: it fails t on error and closes the
// platform when the test ends.
func Start(t TB, opts Options) *Platform {
	t.Helper()
	p, err := NewPlatform(opts)
	if err != nil {
		t.Fatalf("wechattest: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// Close shuts the server down.
func (p *Platform) Close() { p.closeOnce.Do(p.srv.Close) }

// URL is the platform's base URL.
func (p *Platform) URL() string { return p.srv.URL }

// AppID, Secret and OriginalID are the app the platform serves.
func (p *Platform) AppID() string      { return p.appID }
func (p *Platform) Secret() string     { return p.secret }
func (p *Platform) OriginalID() string { return p.originalID }

// Config returns a wechat.Config for the platform's app over store: the
// credentials, BaseURL, and an HTTP client with a short timeout, so the
// faults that swallow an answer cost tests little.
func (p *Platform) Config(store wechat.Store) wechat.Config {
	return wechat.Config{AppID: p.appID, Secret: p.secret, Store: store, BaseURL: p.srv.URL,
		HTTPClient: &http.Client{Timeout: 5 * time.Second}}
}

// Request is an API request the platform received, for assertions. The
// access token and secret of the query are replaced by "…".
type Request struct {
	Method string
	Path   string
	Query  url.Values
	Body   []byte
	Status int // the HTTP status answered
	Code   int // the errcode answered (0 on success)
	Fault  string
}

// Requests returns the requests received so far, oldest first.
func (p *Platform) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.requests...)
}

// Calls counts the requests received for path (faults included).
func (p *Platform) Calls(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[path]
}

// User is a WeChat user of the app.
type User struct {
	OpenID  string
	UnionID string
}

// NewUser registers a user of the app and returns it; an openid the
// platform does not know is refused by every API that takes one (40003).
func (p *Platform) NewUser() User {
	u := &User{OpenID: "o" + randAlnum(27), UnionID: "u" + randAlnum(27)}
	p.mu.Lock()
	p.users[u.OpenID] = u
	p.mu.Unlock()
	return *u
}

// knows reports whether openid is a user of the app; p.mu is held.
func (p *Platform) knows(openid string) bool { _, ok := p.users[openid]; return ok }

// RevokeTokens invalidates every access token handed out, as a secret
// reset or a leak's force refresh does: the next call with one is answered
// 40001.
func (p *Platform) RevokeTokens() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range p.tokens {
		t.expires = time.Time{}
	}
	p.stable = nil
}

// ForceRefreshes counts the stable_token calls that forced a refresh
// (WeChat allows 20 a day).
func (p *Platform) ForceRefreshes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.forced
}

// TokensIssued counts the distinct access tokens handed out.
func (p *Platform) TokensIssued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.tokens)
}

// stateOf returns the state an API keeps, made by mk on first use; p.mu is
// held.
func stateOf[T any](p *Platform, name string, mk func() *T) *T {
	s, ok := p.state[name].(*T)
	if !ok {
		s = mk()
		p.state[name] = s
	}
	return s
}

// handler answers one API. It runs with p.mu held; it returns the JSON
// answer (an errcode 0 is added), or an *apiError. Binary answers set
// contentType and body in reply.
type handler func(p *Platform, c *call) (any, error)

type call struct {
	r     *http.Request
	query url.Values
	body  []byte
	// reply, for binary answers.
	contentType string
	raw         []byte
}

// decode reads the call's JSON body into v, refusing unknown fields as
// WeChat refuses malformed bodies.
func (c *call) decode(v any) error {
	d := json.NewDecoder(bytes.NewReader(c.body))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return &apiError{code: 47001, msg: "data format error: " + err.Error()}
	}
	return nil
}

type apiError struct {
	code int
	msg  string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s", e.code, e.msg) }

// errf is an API error answer.
func errf(code int, format string, args ...any) error {
	return &apiError{code: code, msg: fmt.Sprintf(format, args...)}
}

type route struct {
	method string
	token  bool // needs a valid access_token
	h      handler
}

var (
	routesMu sync.Mutex
	routes   = map[string]route{}
)

// register adds an API; each API's file registers its own in init.
func register(path, method string, needsToken bool, h handler) {
	routesMu.Lock()
	defer routesMu.Unlock()
	if _, dup := routes[path]; dup {
		panic("wechattest: " + path + " registered twice")
	}
	routes[path] = route{method: method, token: needsToken, h: h}
}

func (p *Platform) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	q := r.URL.Query()
	logged := url.Values{}
	for k, v := range q {
		if k == "access_token" || k == "secret" {
			v = []string{"…"}
		}
		logged[k] = v
	}
	req := Request{Method: r.Method, Path: r.URL.Path, Query: logged, Body: body, Status: http.StatusOK}
	routesMu.Lock()
	rt, ok := routes[r.URL.Path]
	routesMu.Unlock()

	p.mu.Lock()
	p.calls[r.URL.Path]++
	fault := p.faults.pick(r.URL.Path)
	req.Fault = string(fault)
	var out any
	var err error
	c := &call{r: r, query: q, body: body}
	switch {
	case !ok:
		req.Status = http.StatusNotFound
	case fault == FaultServerError:
		req.Status = http.StatusInternalServerError
	case fault == FaultBusy:
		err = errf(-1, "system error")
	case fault == FaultRateLimit:
		err = errf(45009, "reach max api daily quota limit")
	case r.Method != rt.method:
		err = errf(43002, "require %s method", rt.method)
	case rt.token:
		if err = p.checkToken(q.Get("access_token")); err == nil {
			out, err = rt.h(p, c)
		}
	default:
		out, err = rt.h(p, c)
	}
	if e, isAPI := err.(*apiError); isAPI {
		req.Code = e.code
		out = map[string]any{"errcode": e.code, "errmsg": e.msg + " rid: " + randHex(8)}
	} else if err != nil {
		req.Code = -1
		out = map[string]any{"errcode": -1, "errmsg": "system error: " + err.Error()}
	}
	p.requests = append(p.requests, req)
	p.mu.Unlock()

	if fault == FaultLostAnswer {
		// The work is done; the answer never arrives.
		hangUp(w)
		return
	}
	switch {
	case req.Status != http.StatusOK:
		http.Error(w, http.StatusText(req.Status), req.Status)
	case c.raw != nil && err == nil:
		w.Header().Set("Content-Type", c.contentType)
		_, _ = w.Write(c.raw)
	default:
		b, _ := json.Marshal(withErrcode(out))
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		_, _ = w.Write(b)
	}
}

// withErrcode adds errcode 0 to a successful map answer, as most of
// WeChat's APIs do.
func withErrcode(out any) any {
	if m, ok := out.(map[string]any); ok {
		if _, has := m["errcode"]; !has {
			m["errcode"], m["errmsg"] = 0, "ok"
		}
	}
	return out
}

// hangUp closes the connection without an answer.
func hangUp(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("wechattest: the server cannot hijack connections")
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	_ = buf.Flush()
	_ = conn.Close()
}

// checkToken: p.mu is held.
func (p *Platform) checkToken(v string) error {
	if v == "" {
		return errf(41001, "access_token missing")
	}
	t, ok := p.tokens[v]
	switch {
	case !ok:
		return errf(40001, "invalid credential, access_token is invalid or not latest")
	case t.expires.IsZero():
		return errf(40001, "invalid credential, access_token is invalid or not latest")
	case !p.now().Before(t.expires):
		return errf(42001, "access_token expired")
	}
	return nil
}

// issue hands out a new token; p.mu is held.
func (p *Platform) issue(classic bool) *token {
	t := &token{value: randAlnum(136), classic: classic, expires: p.now().Add(p.ttl)}
	if classic {
		// A new classic token ends the previous ones five minutes later.
		for _, old := range p.tokens {
			if old.classic && !old.expires.IsZero() {
				old.expires = minTime(old.expires, p.now().Add(5*time.Minute))
			}
		}
	}
	p.tokens[t.value] = t
	return t
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func (p *Platform) checkCredentials(appid, secret string) error {
	switch {
	case appid != p.appID:
		return errf(40013, "invalid appid")
	case secret != p.secret:
		return errf(40001, "invalid credential, access_token is invalid or not latest")
	}
	return nil
}

func init() {
	register("/cgi-bin/token", http.MethodGet, false, func(p *Platform, c *call) (any, error) {
		if c.query.Get("grant_type") != "client_credential" {
			return nil, errf(40002, "invalid grant_type")
		}
		if err := p.checkCredentials(c.query.Get("appid"), c.query.Get("secret")); err != nil {
			return nil, err
		}
		t := p.issue(true)
		return map[string]any{"access_token": t.value, "expires_in": int(p.ttl / time.Second)}, nil
	})
	register("/cgi-bin/stable_token", http.MethodPost, false, func(p *Platform, c *call) (any, error) {
		var in struct {
			GrantType    string `json:"grant_type"`
			AppID        string `json:"appid"`
			Secret       string `json:"secret"`
			ForceRefresh bool   `json:"force_refresh"`
		}
		if err := c.decode(&in); err != nil {
			return nil, err
		}
		if in.GrantType != "client_credential" {
			return nil, errf(40002, "invalid grant_type")
		}
		if err := p.checkCredentials(in.AppID, in.Secret); err != nil {
			return nil, err
		}
		now := p.now()
		if in.ForceRefresh {
			p.forced++
		}
		if in.ForceRefresh && p.stable != nil {
			p.stable.expires = time.Time{}
			p.stable = nil
		}
		// Normal mode: the same token until five minutes before its end,
		// then a new one while the old lives out its time.
		if p.stable == nil || !now.Before(p.stable.expires.Add(-5*time.Minute)) {
			p.stable = p.issue(false)
		}
		return map[string]any{"access_token": p.stable.value, "expires_in": int(p.stable.expires.Sub(now) / time.Second)}, nil
	})
}

// Paths lists the APIs the platform plays, sorted.
func Paths() []string {
	routesMu.Lock()
	defer routesMu.Unlock()
	var out []string
	for p := range routes {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func randAlnum(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return string(b)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Fault is what the platform does to a call instead of answering it.
type Fault string

const (
	FaultServerError Fault = "server_error" // HTTP 500, nothing done
	FaultBusy        Fault = "busy"         // errcode -1, nothing done
	FaultRateLimit   Fault = "rate_limit"   // errcode 45009, nothing done
	// FaultLostAnswer does the work and closes the connection without an
	// answer, as a timeout after WeChat acted looks to the client.
	FaultLostAnswer Fault = "lost_answer"
)

// Faults makes the platform fail rate (0 to 1) of the calls to the given
// paths (every path when none), each with one of kinds picked at random
// (every kind when none), from a seeded source so a failing run repeats.
// Heal ends it.
func (p *Platform) Faults(rate float64, seed uint64, kinds []Fault, paths ...string) {
	if len(kinds) == 0 {
		kinds = []Fault{FaultServerError, FaultBusy, FaultRateLimit, FaultLostAnswer}
	}
	f := &faults{rate: rate, kinds: kinds, rnd: mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), paths: map[string]bool{}}
	for _, path := range paths {
		f.paths[path] = true
	}
	p.mu.Lock()
	p.faults = f
	p.mu.Unlock()
}

// Heal stops injecting faults.
func (p *Platform) Heal() {
	p.mu.Lock()
	p.faults = nil
	p.mu.Unlock()
}

type faults struct {
	rate  float64
	kinds []Fault
	rnd   *mrand.Rand
	paths map[string]bool
}

// pick decides the fate of a call to path; p.mu is held.
func (f *faults) pick(path string) Fault {
	switch {
	case f == nil:
		return ""
	case len(f.paths) > 0 && !f.paths[path]:
		return ""
	case len(f.paths) == 0 && (path == "/cgi-bin/token" || path == "/cgi-bin/stable_token"):
		return "" // faults on every API spare the tokens unless named
	}
	if f.rnd.Float64() >= f.rate {
		return ""
	}
	return f.kinds[f.rnd.IntN(len(f.kinds))]
}

// Users returns the app's users, in no order.
func (p *Platform) Users() []User {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]User, 0, len(p.users))
	for _, u := range p.users {
		out = append(out, *u)
	}
	return out
}
