package wechat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/minishop/minishop/commerce"
)

// DefaultBaseURL is the WeChat platform's API host.
const DefaultBaseURL = "https://api.weixin.qq.com"

// DefaultRefreshAhead is how long before its expiry an access token is
// replaced: stable_token rotates its token five minutes early, and every
// token WeChat hands out in normal mode lives at least that long.
const DefaultRefreshAhead = 5 * time.Minute

// maxBody caps what is read from an answer. JSON answers are a few
// kilobytes and a Mini Program code image a few hundred; the cap keeps a
// broken or hostile peer from exhausting memory.
const maxBody = 4 << 20

var userAgent = fmt.Sprintf("minishop-wechat/1 (%s/%s) Go/%s", runtime.GOOS, runtime.GOARCH, runtime.Version())

// TokenEndpoint is the API an access token comes from.
type TokenEndpoint uint8

const (
	// StableToken (cgi-bin/stable_token, the default): repeated calls in
	// the token's lifetime return the same token, so processes that refresh
	// at once do not invalidate each other. minishop never asks it to
	// force a refresh (a budget of 20 a day, and it invalidates everyone's
	// token).
	StableToken TokenEndpoint = iota
	// ClassicToken (cgi-bin/token): each call invalidates the previous
	// token five minutes later, so refreshes must be coordinated; the
	// store's lease does that. For hosts that already use it elsewhere:
	// tokens of the two endpoints are independent, but one app should not
	// mix them.
	ClassicToken
)

// Config is one app (a Mini Program or a Service Account) on the WeChat
// platform. A service provider running many merchants' apps makes one
// Client per app over the same Store.
type Config struct {
	AppID  string // wx followed by 16 hex digits
	Secret string // AppSecret; never logged, never in an error
	// Store keeps the app's access token (shared by every process of the
	// host) and the records of the services built on the client.
	Store Store

	TokenEndpoint TokenEndpoint // default StableToken
	RefreshAhead  time.Duration // default DefaultRefreshAhead

	// CustomerOf names the customer a Mini Program login is: by default
	// the openid itself. A host whose customers span apps returns the
	// unionid (empty when the app is not bound to an Open Platform
	// account), or its own account id. It must return a valid
	// commerce.CustomerID; Login refuses the login otherwise.
	CustomerOf func(openid, unionid string) commerce.CustomerID

	BaseURL    string         // default DefaultBaseURL
	HTTPClient *http.Client   // default: 10 s timeout, no redirects
	Clock      commerce.Clock // default: the system clock
}

// Client calls the WeChat platform's server APIs for one app: it holds the
// app's access token, refreshes it, and turns WeChat's {errcode, errmsg}
// answers into errors. It is safe for concurrent use.
type Client struct {
	cfg   Config
	base  string
	http  *http.Client
	clock commerce.Clock
	ahead time.Duration

	// The token this process last saw, so a call does not read the store
	// (see token.go).
	holder string // this client's name on the store's refresh lease
	mu     sync.Mutex
	cached tokenDoc
	bad    string // a token the platform refused; never handed out again
	flight *tokenFlight
}

// New checks cfg and returns its client.
func New(cfg Config) (*Client, error) {
	const op = "wechat.new"
	switch {
	case !validAppID(cfg.AppID):
		return nil, invalid(op, "app_id", "%q is not an app id (wx and 16 hex digits)", truncate(cfg.AppID, 40))
	case cfg.Secret == "":
		return nil, invalid(op, "secret", "is empty")
	case cfg.Store == nil:
		return nil, invalid(op, "store", "is nil")
	case cfg.TokenEndpoint > ClassicToken:
		return nil, invalid(op, "token_endpoint", "%d is not an endpoint", cfg.TokenEndpoint)
	case cfg.RefreshAhead < 0 || cfg.RefreshAhead > time.Hour:
		return nil, invalid(op, "refresh_ahead", "%v is not between 0 and an hour", cfg.RefreshAhead)
	}
	c := &Client{cfg: cfg, base: strings.TrimSuffix(cfg.BaseURL, "/"), http: cfg.HTTPClient, clock: cfg.Clock, ahead: cfg.RefreshAhead,
		holder: randomHex(16)}
	if c.base == "" {
		c.base = DefaultBaseURL
	}
	if u, err := url.Parse(c.base); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, invalid(op, "base_url", "%q is not an http(s) URL", truncate(cfg.BaseURL, 100))
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if c.clock == nil {
		c.clock = systemClock{}
	}
	if c.ahead == 0 {
		c.ahead = DefaultRefreshAhead
	}
	return c, nil
}

// AppID is the app the client speaks for.
func (c *Client) AppID() string { return c.cfg.AppID }

// Store is the client's store.
func (c *Client) Store() Store { return c.cfg.Store }

// Now is the client's clock, to the microsecond every store keeps.
func (c *Client) Now() time.Time { return c.clock.Now().UTC().Truncate(time.Microsecond) }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func validAppID(s string) bool {
	if len(s) != 18 || !strings.HasPrefix(s, "wx") {
		return false
	}
	for _, r := range s[2:] {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F') {
			return false
		}
	}
	return true
}

// APIError is an error answer of the WeChat platform: the errcode and
// errmsg of its JSON body (errmsg carries the rid WeChat support asks for),
// or an HTTP status other than 200. Use errors.As to read the code.
type APIError struct {
	Code       int
	Message    string
	HTTPStatus int // 200 unless the platform answered with another status
}

func (e *APIError) Error() string {
	if e.HTTPStatus != http.StatusOK {
		return fmt.Sprintf("WeChat answered HTTP %d: %s", e.HTTPStatus, e.Message)
	}
	return fmt.Sprintf("WeChat errcode %d: %s", e.Code, e.Message)
}

// Codes of the platform that minishop acts on. Any other code is reported
// as it came.
const (
	CodeBusy            = -1
	CodeInvalidToken    = 40001 // AppSecret wrong, or the token invalid or no longer the latest
	CodeInvalidOpenID   = 40003
	CodeInvalidAppID    = 40013
	CodeBadAccessToken  = 40014
	CodeInvalidCode     = 40029
	CodeCodeUsed        = 40163
	CodeTokenExpired    = 42001
	CodeRefused         = 43101 // the customer refused or holds no subscription for the template
	CodeQuotaReached    = 45009 // daily quota, and the per-minute limit of Mini Program codes
	CodeMinuteQuota     = 45011
	CodeDataInvalid     = 47003 // a message field's value; errmsg names the field
	CodePaymentNotFound = 10060001
)

// ErrorKind classifies the code for minishop's error kinds: what is worth
// retrying later (busy, quotas, a payment the shipping service has not seen
// yet, a server error) is KindUnavailable; a bad code or field is
// KindInvalid; a refusal is KindFailedPrecondition.
func (e *APIError) ErrorKind() commerce.Kind {
	switch {
	case e.HTTPStatus >= 500 || e.HTTPStatus == http.StatusTooManyRequests:
		return commerce.KindUnavailable
	case e.HTTPStatus != http.StatusOK:
		return commerce.KindInternal
	}
	switch e.Code {
	case CodeBusy, CodeQuotaReached, CodeMinuteQuota, CodePaymentNotFound, CodeInvalidToken, CodeBadAccessToken, CodeTokenExpired:
		return commerce.KindUnavailable
	case CodeInvalidCode, CodeCodeUsed, CodeInvalidOpenID, CodeDataInvalid:
		return commerce.KindInvalid
	}
	return commerce.KindFailedPrecondition
}

// Is makes errors.Is(err, commerce.ErrUnavailable) and its siblings work on
// an APIError alone.
func (e *APIError) Is(target error) bool {
	return (&commerce.Error{Kind: e.ErrorKind()}).Is(target)
}

func invalid(op, field, format string, args ...any) error {
	return &commerce.Error{Op: op, Kind: commerce.KindInvalid, Field: field, Err: fmt.Errorf(format, args...)}
}

// fail wraps err for op with its kind.
func fail(op string, err error) error {
	if err == nil {
		return nil
	}
	var ce *commerce.Error
	if errors.As(err, &ce) && ce.Op == op {
		return err
	}
	return &commerce.Error{Op: op, Kind: commerce.KindOf(err), Err: err}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// transportError is an HTTP failure without its URL: the URL carries the
// access token or the AppSecret, and net/http puts it in every error it
// returns.
func transportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
		if ue.Timeout() {
			return fmt.Errorf("%w: request timed out: %v", commerce.ErrUnavailable, scrub(err))
		}
	}
	return fmt.Errorf("%w: %v", commerce.ErrUnavailable, scrub(err))
}

// scrub drops anything that looks like a query string from a transport
// error's text, in case a wrapped error repeats the URL.
func scrub(err error) string {
	s := err.Error()
	if i := strings.IndexAny(s, "?"); i >= 0 {
		s = s[:i] + "?…"
	}
	return s
}

// request is one call to the platform.
type request struct {
	op     string
	method string // GET or POST
	path   string
	query  url.Values // without the access token
	body   any        // JSON body of a POST; nil sends {}
	token  bool       // add the app's access token
}

// answer is the platform's reply: JSON, or the bytes of a binary API.
type answer struct {
	contentType string
	body        []byte
}

// call sends r and decodes a JSON answer into out. A token the platform
// calls invalid or expired is replaced (never with a forced refresh) and the
// call sent once more.
func (c *Client) call(ctx context.Context, r request, out any) error {
	a, err := c.send(ctx, r)
	if err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal(a.body, out); err != nil {
			return fail(r.op, fmt.Errorf("decoding the answer: %w", err))
		}
	}
	return nil
}

// send sends r and returns its answer; a JSON answer with a non-zero
// errcode is an *APIError. A binary answer (an image) is returned as it
// came.
func (c *Client) send(ctx context.Context, r request) (answer, error) {
	var body []byte
	if r.method == http.MethodPost {
		in := r.body
		if in == nil {
			in = struct{}{}
		}
		var err error
		if body, err = json.Marshal(in); err != nil {
			return answer{}, fail(r.op, fmt.Errorf("encoding the request: %w", err))
		}
	}
	for attempt := 0; ; attempt++ {
		q := url.Values{}
		for k, v := range r.query {
			q[k] = v
		}
		var tok string
		if r.token {
			var err error
			if tok, err = c.accessToken(ctx); err != nil {
				return answer{}, fail(r.op, err)
			}
			q.Set("access_token", tok)
		}
		a, err := c.roundTrip(ctx, r, q, body)
		var ae *APIError
		if r.token && attempt == 0 && errors.As(err, &ae) &&
			(ae.Code == CodeInvalidToken || ae.Code == CodeTokenExpired || ae.Code == CodeBadAccessToken) {
			// Another process may hold a newer token, or this one was
			// replaced: drop it and try once more with a fresh one.
			if err := c.invalidate(ctx, tok); err != nil {
				return answer{}, fail(r.op, err)
			}
			continue
		}
		if err != nil {
			return answer{}, fail(r.op, err)
		}
		return a, nil
	}
}

func (c *Client) roundTrip(ctx context.Context, r request, q url.Values, body []byte) (answer, error) {
	target := c.base + r.path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, rd)
	if err != nil {
		return answer{}, fmt.Errorf("building the request: %v", scrub(err))
	}
	req.Header.Set("User-Agent", userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{}, transportError(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	switch {
	case err != nil:
		return answer{}, transportError(err)
	case len(raw) > maxBody:
		return answer{}, fmt.Errorf("the answer is larger than %d bytes", maxBody)
	case resp.StatusCode != http.StatusOK:
		return answer{}, &APIError{HTTPStatus: resp.StatusCode, Message: truncate(strings.TrimSpace(string(raw)), 200)}
	}
	a := answer{contentType: resp.Header.Get("Content-Type"), body: raw}
	if !isJSON(a) {
		return a, nil
	}
	var e struct {
		Code    *int   `json:"errcode"`
		Message string `json:"errmsg"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		return answer{}, fmt.Errorf("decoding the answer: %w", err)
	}
	// A successful answer may leave errcode out.
	if e.Code != nil && *e.Code != 0 {
		return answer{}, &APIError{Code: *e.Code, Message: truncate(e.Message, 300), HTTPStatus: http.StatusOK}
	}
	return a, nil
}

// isJSON tells a JSON answer from an image: the binary APIs answer errors
// in JSON, sometimes labelled text/plain.
func isJSON(a answer) bool {
	if strings.Contains(a.contentType, "json") {
		return true
	}
	if strings.HasPrefix(a.contentType, "image/") {
		return false
	}
	b := bytes.TrimLeft(a.body, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}
