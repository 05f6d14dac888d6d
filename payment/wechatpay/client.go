package wechatpay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
)

// maxBody caps what is read from a response or notification. WeChat's are a
// few kilobytes; the cap keeps a broken or hostile peer from exhausting
// memory.
const maxBody = 1 << 20

var userAgent = fmt.Sprintf("minishop-wechatpay/1 (%s/%s) Go/%s", runtime.GOOS, runtime.GOARCH, runtime.Version())

// APIError is an error answer from WeChat Pay: the HTTP status and the body
// {"code":…,"message":…,"detail":…}. Use errors.As to inspect it.
//
// WeChat Pay does not promise to sign error answers; an APIError that came
// unsigned is reported as it is. Treat Code as advice about what to do next
// (ORDER_NOT_EXIST, ORDERPAID…) and confirm a payment's state with
// QueryPayment, whose successful answers are always verified.
type APIError struct {
	StatusCode int
	Code       string
	Message    string
	Detail     json.RawMessage
	RequestID  string // Request-ID header, for WeChat Pay support
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "WeChat Pay answered HTTP %d", e.StatusCode)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RequestID != "" {
		b.WriteString(" (Request-ID " + e.RequestID + ")")
	}
	return b.String()
}

// call sends a signed request and decodes a verified answer into out (when
// out is not nil). in, when not nil, is sent as the JSON body. path must
// already be escaped.
func (c *Client) call(ctx context.Context, method, path, query string, in, out any) error {
	return c.callSerial(ctx, "", method, path, query, in, out)
}

// callSerial is call naming serial in Wechatpay-Serial: the key a request's
// encrypted fields were encrypted with (see encrypt). "" names the key set's
// choice (requestSerial).
func (c *Client) callSerial(ctx context.Context, serial, method, path, query string, in, out any) error {
	op := method + " " + path
	// The key set in force, refreshed first when it is due (see keySet):
	// the request names the key it will verify the answer with. A serial
	// chosen by encrypt stays valid across a refresh: WeChat lists a
	// certificate until it expires.
	ks := c.keySet(ctx)
	if serial == "" {
		serial = ks.requestSerial(c.now(), c.maxSkew)
	}
	ans, err := c.send(ctx, op, method, path, query, in, serial)
	if err != nil {
		return err
	}
	verify := func(h http.Header, body []byte) error { return c.verify(ctx, h, body) }
	if ans.status < 200 || ans.status > 299 {
		return c.apiError(op, ans, verify)
	}
	if err := verify(ans.header, ans.body); err != nil {
		return fmt.Errorf("%s: response: %w", op, err)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(ans.body, out); err != nil {
		return fmt.Errorf("%s: decoding response: %w", op, err)
	}
	return nil
}

// answer is what WeChat Pay sent back, not yet verified.
type answer struct {
	status int
	header http.Header
	body   []byte
	serial string // the Wechatpay-Serial the request sent ("" for none)
}

// send signs and sends a request naming serial in Wechatpay-Serial ("" leaves
// the header out) and reads the answer, which it does not verify.
func (c *Client) send(ctx context.Context, op, method, path, query string, in any, serial string) (*answer, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return nil, fmt.Errorf("%s: encoding request: %w", op, err)
		}
	}
	target := c.base + path
	if query != "" {
		target += "?" + query
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	// Sign what the server will see as the request target.
	auth, err := c.authorization(method, req.URL.RequestURI(), body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("Authorization", auth)
	if serial != "" {
		// The platform key this client verifies with, so the answer is
		// signed with it (see requestSerial), or the key its encrypted
		// fields need.
		req.Header.Set(hdrSerial, serial)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err // a *url.Error, which names the method and URL
	}
	defer resp.Body.Close()
	raw, err := readCapped(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: reading response: %w", op, err)
	}
	return &answer{status: resp.StatusCode, header: resp.Header, body: raw, serial: serial}, nil
}

// apiError turns an error answer into an *APIError. A signed one must verify
// (a forged ORDERPAID is worse than none); an unsigned one is passed on as
// advice, see APIError.
func (c *Client) apiError(op string, ans *answer, verify func(http.Header, []byte) error) error {
	if ans.header.Get(hdrSignature) != "" {
		if err := verify(ans.header, ans.body); err != nil {
			return fmt.Errorf("%s: HTTP %d answer: %w", op, ans.status, err)
		}
	}
	e := &APIError{StatusCode: ans.status, RequestID: ans.header.Get(hdrRequestID)}
	var body struct {
		Code    string          `json:"code"`
		Message string          `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(ans.body, &body) == nil {
		e.Code, e.Message, e.Detail = body.Code, body.Message, body.Detail
	} else {
		e.Message = truncate(strings.TrimSpace(string(ans.body)), 200)
	}
	if e.Code == "INVALID_REQUEST" && ans.serial != "" && mentionsSerial(e.Message) {
		// WeChat Pay refuses a Wechatpay-Serial it does not know for the
		// merchant; say which one was sent, since it comes from the key
		// set (Config.PlatformKeys and downloaded certificates) rather than
		// from the call.
		return fmt.Errorf("%s: request sent %s %s, which WeChat Pay does not know for merchant %s (check Config.PlatformKeys): %w",
			op, hdrSerial, ans.serial, c.cfg.MchID, e)
	}
	return fmt.Errorf("%s: %w", op, e)
}

// mentionsSerial reports whether an INVALID_REQUEST message is about the
// request's serial rather than the business refusals that share the code
// (an unpaid order, a refund over the paid amount).
func mentionsSerial(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "serial") || strings.Contains(m, "序列号") || strings.Contains(m, "公钥")
}

var errTooLarge = errors.New("body larger than 1 MiB")

func readCapped(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBody {
		return nil, errTooLarge
	}
	return b, nil
}
