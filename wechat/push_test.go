package wechat_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/storage"
	"github.com/minishop/minishop/storage/sqlstore"
	"github.com/minishop/minishop/wechat"
	"github.com/minishop/minishop/wechat/wechattest"
)

const pushToken = "pushToken2026"

// pushWorld is a client's push handler on a loopback server. Its handle
// keeps what it applied and counts its effect in a record of the store,
// in the push's transaction.
type pushWorld struct {
	*world
	t       *testing.T
	c       *wechat.Client
	cfg     wechat.PushConfig
	handler http.Handler
	url     string

	mu       sync.Mutex
	applied  []*wechat.Message
	refused  []error
	statuses []int
	fail     func(m *wechat.Message) error // makes handle fail when it returns an error
}

const effectKind = "test_effect"

func newPushWorld(t *testing.T, edit ...func(*wechat.PushConfig)) *pushWorld {
	return newPushWorldOn(t, newWorld(t), edit...)
}

func newPushWorldOn(t *testing.T, w *world, edit ...func(*wechat.PushConfig)) *pushWorld {
	pw := &pushWorld{world: w, t: t}
	pw.c = w.client(t)
	pw.cfg = wechat.PushConfig{Token: pushToken, EncodingAESKey: wechattest.NewEncodingAESKey(),
		Refused: func(status int, err error) {
			pw.mu.Lock()
			pw.refused, pw.statuses = append(pw.refused, err), append(pw.statuses, status)
			pw.mu.Unlock()
		}}
	for _, e := range edit {
		e(&pw.cfg)
	}
	h, err := pw.c.PushHandler(pw.cfg, pw.handle)
	require.NoError(t, err)
	pw.handler = h
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	pw.url = srv.URL + "/wechat/push"
	return pw
}

// handle is the host's function: one more effect, written in the push's
// transaction.
func (pw *pushWorld) handle(ctx context.Context, m *wechat.Message) error {
	pw.mu.Lock()
	fail := pw.fail
	pw.mu.Unlock()
	st := pw.c.Store()
	r, err := st.GetRecord(ctx, effectKind, "count")
	if errors.Is(err, storage.ErrNotFound) {
		r, err = storage.Record{Kind: effectKind, Key: "count", Doc: []byte("0")}, nil
	}
	if err != nil {
		return err
	}
	var n int
	if err := json.Unmarshal(r.Doc, &n); err != nil {
		return err
	}
	r.Doc = []byte(fmt.Sprint(n + 1))
	if _, err := st.SaveRecord(ctx, r); err != nil {
		return err
	}
	if fail != nil {
		if err := fail(m); err != nil {
			return err // after the write: the rollback must undo it
		}
	}
	pw.mu.Lock()
	pw.applied = append(pw.applied, m)
	pw.mu.Unlock()
	return nil
}

// effects is the count of effects committed.
func (pw *pushWorld) effects() int {
	r, err := pw.c.Store().GetRecord(pw.ctx, effectKind, "count")
	if errors.Is(err, storage.ErrNotFound) {
		return 0
	}
	require.NoError(pw.t, err)
	var n int
	require.NoError(pw.t, json.Unmarshal(r.Doc, &n))
	return n
}

// pushRecords are the push records written.
func (pw *pushWorld) pushRecords() []storage.Record {
	rs, err := pw.c.Store().DueRecords(pw.ctx, wechat.KindPush, "applied", time.Now().Add(1000*time.Hour), 100)
	require.NoError(pw.t, err)
	return rs
}

// seen returns what handle applied and what Refused heard, so far.
func (pw *pushWorld) seen() (applied []*wechat.Message, refused []error, statuses []int) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	return append(applied, pw.applied...), append(refused, pw.refused...), append(statuses, pw.statuses...)
}

func (pw *pushWorld) lastApplied() *wechat.Message {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	require.NotEmpty(pw.t, pw.applied)
	return pw.applied[len(pw.applied)-1]
}

// opts are the push options matching the handler's configuration.
func (pw *pushWorld) opts(mode wechattest.PushMode, format wechattest.PushFormat) wechattest.PushOptions {
	return wechattest.PushOptions{Mode: mode, Format: format, Token: pw.cfg.Token, EncodingAESKey: pw.cfg.EncodingAESKey}
}

func (pw *pushWorld) push(m any, o wechattest.PushOptions) (int, string) {
	pw.t.Helper()
	status, body, err := pw.plat.Push(pw.url, m, o)
	require.NoError(pw.t, err)
	return status, body
}

// settlement is a settled order's event with every field.
func (pw *pushWorld) settlement(txn string) wechattest.OrderSettlement {
	now := pw.clock.Now()
	return wechattest.OrderSettlement{CreateTime: now, TransactionID: txn, MerchantID: "1230000109", SubMerchantID: "1900000109",
		MerchantTradeNo: "P" + txn[len(txn)-8:], PayTime: now.Add(-72 * time.Hour), ShippedTime: now.Add(-48 * time.Hour),
		ConfirmReceiveMethod: 2, ConfirmReceiveTime: now.Add(-time.Hour), SettlementTime: now, Msg: "订单已结算"}
}

// The documentation's test vector, through the GET verification.
func TestPushVerificationVector(t *testing.T) {
	w := newWorld(t)
	w.clock.Set(time.Unix(1714036504, 0))
	pw := newPushWorldOn(t, w, func(c *wechat.PushConfig) { c.Token, c.EncodingAESKey = "AAAAA", "" })
	const sig = "f464b24fc39322e44b38aa78f5edd27bd1441696"
	assert.Equal(t, sig, wechattest.PushSignature("AAAAA", "1714036504", "1514711492"))

	get := func(query string) (int, string) {
		resp, err := http.Get(pw.url + "?" + query)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, body := get("signature=" + sig + "&timestamp=1714036504&nonce=1514711492&echostr=4375120948345356249")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "4375120948345356249", body, "echostr verbatim")

	status, _ = get("signature=" + strings.Replace(sig, "f4", "f5", 1) + "&timestamp=1714036504&nonce=1514711492&echostr=x")
	assert.Equal(t, http.StatusUnauthorized, status)
	status, _ = get("signature=" + sig + "&timestamp=1714036504&nonce=1514711493&echostr=x")
	assert.Equal(t, http.StatusUnauthorized, status, "another nonce")
	status, _ = get("signature=" + sig + "&timestamp=1714036504&nonce=1514711492")
	assert.Equal(t, http.StatusBadRequest, status, "no echostr")

	// A day later the same request is a replay.
	w.clock.Advance(24 * time.Hour)
	status, _ = get("signature=" + sig + "&timestamp=1714036504&nonce=1514711492&echostr=x")
	assert.Equal(t, http.StatusUnauthorized, status)

	// The platform's own verification request.
	req, err := pw.plat.VerifyRequest(pw.url, "AAAAA", "hello")
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "hello", string(b))
	assert.Zero(t, pw.effects())
}

// Every mode and format delivers the same settlement, each field read.
func TestPushModesAndFormats(t *testing.T) {
	cases := []struct {
		name    string
		mode    wechattest.PushMode
		format  wechattest.PushFormat
		strings bool
		plain   bool // the handler has no key
	}{
		{"plain JSON", wechattest.PushPlain, wechattest.PushJSON, false, true},
		{"plain XML", wechattest.PushPlain, wechattest.PushXML, false, true},
		{"plain JSON numbers as strings", wechattest.PushPlain, wechattest.PushJSON, true, true},
		{"compatible JSON, no key", wechattest.PushCompatible, wechattest.PushJSON, false, true},
		{"safe JSON", wechattest.PushSafe, wechattest.PushJSON, false, false},
		{"safe XML", wechattest.PushSafe, wechattest.PushXML, false, false},
		{"safe JSON numbers as strings", wechattest.PushSafe, wechattest.PushJSON, true, false},
		{"compatible JSON", wechattest.PushCompatible, wechattest.PushJSON, false, false},
		{"compatible XML", wechattest.PushCompatible, wechattest.PushXML, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pw := newPushWorld(t, func(c *wechat.PushConfig) {
				c.OriginalID = wechattest.DefaultOriginalID
				if tc.plain {
					c.EncodingAESKey = ""
				}
			})
			o := pw.opts(tc.mode, tc.format)
			o.EncodingAESKey = wechattest.NewEncodingAESKey()
			if !tc.plain {
				o.EncodingAESKey = pw.cfg.EncodingAESKey
			}
			o.NumbersAsStrings = tc.strings
			ev := pw.settlement("4200001234202612030000000001")
			status, body := pw.push(ev, o)
			require.Equal(t, http.StatusOK, status, body)
			assert.Equal(t, "success", body)
			m := pw.lastApplied()
			now := pw.clock.Now().Unix()
			want := &wechat.Message{ToUserName: wechattest.DefaultOriginalID, FromUserName: wechattest.SystemOpenID, CreateTime: now,
				MsgType: "event", Event: wechat.EventOrderSettlement, TransactionID: ev.TransactionID, MerchantID: "1230000109",
				SubMerchantID: "1900000109", MerchantTradeNo: ev.MerchantTradeNo, PayTime: now - 72*3600, ShippedTime: now - 48*3600,
				ConfirmReceiveMethod: 2, ConfirmReceiveTime: now - 3600, SettlementTime: now, Msg: "订单已结算",
				Format: map[wechattest.PushFormat]string{wechattest.PushJSON: "json", wechattest.PushXML: "xml"}[tc.format]}
			got := *m
			got.Raw = nil
			assert.Equal(t, *want, got)
			assert.Equal(t, want.Format == "json", json.Valid(m.Raw), "Raw is the message as sent")
			assert.Equal(t, 1, pw.effects())
			assert.Len(t, pw.pushRecords(), 1)
		})
	}
}

// The other shop events, in both formats; a JSON List of one element
// arrives as an object.
func TestPushEvents(t *testing.T) {
	for _, format := range []wechattest.PushFormat{wechattest.PushJSON, wechattest.PushXML} {
		pw := newPushWorld(t)
		o := pw.opts(wechattest.PushSafe, format)
		u := pw.plat.NewUser()
		now := pw.clock.Now()

		remind := wechattest.RemindShipping{TransactionID: "4200000000000000000000000042", MerchantID: "1230000109",
			MerchantTradeNo: "P00000042", PayTime: now.Add(-49 * time.Hour), Msg: "请尽快发货"}
		status, body := pw.push(remind, o)
		require.Equal(t, http.StatusOK, status, body)
		m := pw.lastApplied()
		assert.Equal(t, wechat.EventRemindShipping, m.Event)
		assert.Equal(t, remind.TransactionID, m.TransactionID)
		assert.Equal(t, now.Add(-49*time.Hour).Unix(), m.PayTime)
		assert.Equal(t, "请尽快发货", m.Msg)
		assert.Empty(t, m.SubMerchantID)

		status, body = pw.push(wechattest.RemindAccessAPI{Msg: "请接入发货信息管理"}, o)
		require.Equal(t, http.StatusOK, status, body)
		assert.Equal(t, wechat.EventRemindAccessAPI, pw.lastApplied().Event)
		assert.Equal(t, "请接入发货信息管理", pw.lastApplied().Msg)

		shipped := wechattest.OrderSettlement{TransactionID: "4200000000000000000000000043", MerchantID: "1230000109",
			MerchantTradeNo: "P00000043", PayTime: now.Add(-time.Hour), ShippedTime: now, EstimatedSettlementTime: now.Add(10 * 24 * time.Hour)}
		status, body = pw.push(shipped, o)
		require.Equal(t, http.StatusOK, status, body)
		m = pw.lastApplied()
		assert.Equal(t, now.Add(10*24*time.Hour).Unix(), m.EstimatedSettlementTime)
		assert.Zero(t, m.SettlementTime)
		assert.Zero(t, m.ConfirmReceiveMethod)

		one := wechattest.SubscriptionEvent{Event: wechat.EventSubscribePopup, OpenID: u.OpenID,
			List: []wechattest.SubscriptionItem{{TemplateID: "tpl-paid", Status: "accept", PopupScene: 0}}}
		if format == wechattest.PushJSON {
			req, err := pw.plat.PushRequest(pw.url, one, wechattest.PushOptions{Mode: wechattest.PushPlain, Token: pushToken})
			require.NoError(t, err)
			b, _ := io.ReadAll(req.Body)
			assert.Contains(t, string(b), `"List":{"TemplateId"`, "one element: an object")
		}
		status, body = pw.push(one, o)
		require.Equal(t, http.StatusOK, status, body)
		m = pw.lastApplied()
		assert.Equal(t, u.OpenID, m.FromUserName)
		assert.Equal(t, []wechat.SubscriptionChange{{TemplateID: "tpl-paid", Status: "accept"}}, m.Subscriptions)

		two := wechattest.SubscriptionEvent{Event: wechat.EventSubscribePopup, OpenID: u.OpenID, CreateTime: now.Add(time.Second),
			List: []wechattest.SubscriptionItem{{TemplateID: "tpl-paid", Status: "accept", PopupScene: 2}, {TemplateID: "tpl-shipped", Status: "reject", PopupScene: 2}}}
		o.NumbersAsStrings = true // "PopupScene": "2"
		status, body = pw.push(two, o)
		o.NumbersAsStrings = false
		require.Equal(t, http.StatusOK, status, body)
		assert.Equal(t, []wechat.SubscriptionChange{{TemplateID: "tpl-paid", Status: "accept", PopupScene: 2},
			{TemplateID: "tpl-shipped", Status: "reject", PopupScene: 2}}, pw.lastApplied().Subscriptions)

		change := wechattest.SubscriptionEvent{Event: wechat.EventSubscribeChange, OpenID: u.OpenID, CreateTime: now.Add(2 * time.Second),
			List: []wechattest.SubscriptionItem{{TemplateID: "tpl-paid", Status: "reject"}}}
		status, body = pw.push(change, o)
		require.Equal(t, http.StatusOK, status, body)
		assert.Equal(t, wechat.EventSubscribeChange, pw.lastApplied().Event)
		assert.Equal(t, []wechat.SubscriptionChange{{TemplateID: "tpl-paid", Status: "reject"}}, pw.lastApplied().Subscriptions)

		sent := wechattest.SubscriptionEvent{Event: wechat.EventSubscribeSent, OpenID: u.OpenID, CreateTime: now.Add(3 * time.Second),
			List: []wechattest.SubscriptionItem{{TemplateID: "tpl-paid", MsgID: "1700827132819554304", ErrorCode: 0, ErrorStatus: "success"},
				{TemplateID: "tpl-shipped", MsgID: "1700827132819554305", ErrorCode: 10005, ErrorStatus: "fail"}}}
		status, body = pw.push(sent, o)
		require.Equal(t, http.StatusOK, status, body)
		assert.Equal(t, []wechat.SubscriptionChange{{TemplateID: "tpl-paid", MsgID: "1700827132819554304", ErrorStatus: "success"},
			{TemplateID: "tpl-shipped", MsgID: "1700827132819554305", ErrorCode: 10005, ErrorStatus: "fail"}}, pw.lastApplied().Subscriptions)

		assert.Equal(t, 7, pw.effects())
		assert.Len(t, pw.pushRecords(), 7)
	}
}

// During a key rotation pushes sealed under the previous key still open.
func TestPushPreviousKey(t *testing.T) {
	old := wechattest.NewEncodingAESKey()
	pw := newPushWorld(t, func(c *wechat.PushConfig) { c.PreviousAESKey = old })
	o := pw.opts(wechattest.PushSafe, wechattest.PushJSON)
	status, body := pw.push(pw.settlement("4200000000000000000000000001"), o)
	require.Equal(t, http.StatusOK, status, body)
	o.EncodingAESKey = old
	status, body = pw.push(pw.settlement("4200000000000000000000000002"), o)
	require.Equal(t, http.StatusOK, status, body)
	o.EncodingAESKey = wechattest.NewEncodingAESKey()
	status, _ = pw.push(pw.settlement("4200000000000000000000000003"), o)
	assert.Equal(t, http.StatusForbidden, status, "a key that is neither")
	assert.Equal(t, 2, pw.effects())
}

// Every spoiled push is refused with its status; nothing is applied or
// recorded.
func TestPushRefusals(t *testing.T) {
	type tc struct {
		name   string
		plain  bool // handler without a key
		cfg    func(*wechat.PushConfig)
		opts   func(*wechattest.PushOptions)
		msg    any
		req    func(*http.Request) // changes the built request
		status int
		field  string
		skew   time.Duration // the push's timestamp from the clock
	}
	settle := func(pw *pushWorld) any { return pw.settlement("4200000000000000000000000099") }
	safe := func(f func(*wechattest.PushOptions)) func(*wechattest.PushOptions) { return f }
	rewriteBody := func(from, to string) func(*http.Request) {
		return func(r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			s := strings.Replace(string(b), from, to, 1)
			r.Body, r.ContentLength = io.NopCloser(strings.NewReader(s)), int64(len(s))
		}
	}
	rewriteQuery := func(k, v string) func(*http.Request) {
		return func(r *http.Request) {
			q := r.URL.Query()
			if v == "" {
				q.Del(k)
			} else {
				q.Set(k, v)
			}
			r.URL.RawQuery = q.Encode()
		}
	}
	cases := []tc{
		{name: "bad signature", opts: safe(func(o *wechattest.PushOptions) { o.Tamper = wechattest.TamperSignature }), status: 401, field: "signature"},
		{name: "bad signature, plaintext", plain: true, opts: func(o *wechattest.PushOptions) { o.Mode, o.Tamper = wechattest.PushPlain, wechattest.TamperSignature }, status: 401, field: "signature"},
		{name: "no signature", req: rewriteQuery("signature", ""), status: 401, field: "signature"},
		{name: "bad msg_signature", opts: safe(func(o *wechattest.PushOptions) { o.Tamper = wechattest.TamperMsgSignature }), status: 401, field: "msg_signature"},
		{name: "no msg_signature", req: rewriteQuery("msg_signature", ""), status: 401, field: "msg_signature"},
		{name: "Encrypt changed after signing", opts: safe(func(o *wechattest.PushOptions) { o.Tamper = wechattest.TamperBody }), status: 401, field: "msg_signature"},
		{name: "another app id sealed", opts: safe(func(o *wechattest.PushOptions) { o.AppID = "wx00000000000000ff" }), status: 403, field: "encrypt"},
		{name: "bad padding", opts: safe(func(o *wechattest.PushOptions) { o.Tamper = wechattest.TamperPadding }), status: 403, field: "encrypt"},
		{name: "bad padding, XML", opts: safe(func(o *wechattest.PushOptions) { o.Tamper, o.Format = wechattest.TamperPadding, wechattest.PushXML }), status: 403, field: "encrypt"},
		{name: "bad sealed length", opts: safe(func(o *wechattest.PushOptions) { o.Tamper = wechattest.TamperLength }), status: 403, field: "encrypt"},
		{name: "another key", opts: safe(func(o *wechattest.PushOptions) { o.EncodingAESKey = wechattest.NewEncodingAESKey() }), status: 403, field: "encrypt"},
		{name: "not base64", opts: safe(func(o *wechattest.PushOptions) { o.Tamper = wechattest.TamperBase64 }), status: 400, field: "encrypt"},
		{name: "truncated ciphertext", opts: safe(func(o *wechattest.PushOptions) { o.Tamper = wechattest.TamperTruncate }), status: 400, field: "encrypt"},
		{name: "empty Encrypt", opts: safe(func(o *wechattest.PushOptions) { o.Rewrite = func(string) string { return "" } }), status: 403, field: "encrypt"},
		{name: "stale timestamp", skew: -5*time.Minute - time.Second, status: 401, field: "timestamp"},
		{name: "future timestamp", skew: 5*time.Minute + time.Second, status: 401, field: "timestamp"},
		{name: "no timestamp", req: rewriteQuery("timestamp", ""), status: 400, field: "timestamp"},
		{name: "timestamp not a number", req: rewriteQuery("timestamp", "12ab"), status: 400, field: "timestamp"},
		{name: "no nonce", req: rewriteQuery("nonce", ""), status: 400, field: "nonce"},
		{name: "encrypt_type not aes", req: rewriteQuery("encrypt_type", "des"), status: 400, field: "encrypt_type"},
		{name: "unencrypted when safe mode is required", opts: safe(func(o *wechattest.PushOptions) { o.Mode = wechattest.PushPlain }), status: 403, field: "encrypt"},
		{name: "encrypted without a key", plain: true, status: 400, field: "encrypt"},
		{name: "another original id", cfg: func(c *wechat.PushConfig) { c.OriginalID = "gh_ffffffffffff" }, status: 403, field: "to_user_name"},
		{name: "plain ToUserName unlike the sealed one", req: rewriteBody(wechattest.DefaultOriginalID, "gh_000000000000"), status: 403, field: "to_user_name"},
		{name: "body not JSON nor XML", plain: true, opts: func(o *wechattest.PushOptions) { o.Mode = wechattest.PushPlain }, msg: "hello", status: 400, field: "body"},
		{name: "JSON cut short", plain: true, opts: func(o *wechattest.PushOptions) { o.Mode = wechattest.PushPlain }, msg: `{"ToUserName":"gh_`, status: 400, field: "body"},
		{name: "JSON with data after it", plain: true, opts: func(o *wechattest.PushOptions) { o.Mode = wechattest.PushPlain },
			msg: `{"ToUserName":"gh_0123456789ab","FromUserName":"o1","CreateTime":1,"MsgType":"event","Event":"x"}{}`, status: 400, field: "body"},
		{name: "JSON without FromUserName", plain: true, opts: func(o *wechattest.PushOptions) { o.Mode = wechattest.PushPlain },
			msg: `{"ToUserName":"gh_0123456789ab","CreateTime":1,"MsgType":"event","Event":"x"}`, status: 400, field: "body"},
		{name: "CreateTime not a number", plain: true, opts: func(o *wechattest.PushOptions) { o.Mode = wechattest.PushPlain },
			msg: `{"ToUserName":"gh_0123456789ab","FromUserName":"o1","CreateTime":"soon","MsgType":"event","Event":"x"}`, status: 400, field: "body"},
		{name: "List not a list", plain: true, opts: func(o *wechattest.PushOptions) { o.Mode = wechattest.PushPlain },
			msg: `{"ToUserName":"gh_0123456789ab","FromUserName":"o1","CreateTime":1,"MsgType":"event","Event":"x","List":7}`, status: 400, field: "body"},
		{name: "XML of another root", plain: true, opts: func(o *wechattest.PushOptions) { o.Mode = wechattest.PushPlain },
			msg: `<message><ToUserName>gh_0123456789ab</ToUserName></message>`, status: 400, field: "body"},
		{name: "XML cut short", plain: true, opts: func(o *wechattest.PushOptions) { o.Mode = wechattest.PushPlain }, msg: `<xml><ToUserName>gh_`, status: 400, field: "body"},
		{name: "event without Event", plain: true, opts: func(o *wechattest.PushOptions) { o.Mode = wechattest.PushPlain },
			msg: `<xml><ToUserName>gh_0123456789ab</ToUserName><FromUserName>o1</FromUserName><CreateTime>1</CreateTime><MsgType>event</MsgType></xml>`, status: 400, field: "body"},
		{name: "sealed message malformed", msg: `{"ToUserName":`, status: 400, field: "encrypt"},
		{name: "sealed message not JSON", msg: "\x00\x01garbage", status: 400, field: "encrypt"},
		{name: "envelope malformed", req: rewriteBody(`"Encrypt"`, `"Encrypt`), status: 400, field: "body"},
		{name: "body too large", req: rewriteBody(`"Encrypt":"`, `"Pad":"`+strings.Repeat("x", wechat.MaxPushBody)+`","Encrypt":"`), status: 413, field: "body"},
		{name: "PUT", req: func(r *http.Request) { r.Method = http.MethodPut }, status: 405, field: "method"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pw := newPushWorld(t, func(cfg *wechat.PushConfig) {
				if c.plain {
					cfg.EncodingAESKey = ""
				}
				if c.cfg != nil {
					c.cfg(cfg)
				}
			})
			o := pw.opts(wechattest.PushSafe, wechattest.PushJSON)
			if c.plain {
				o.EncodingAESKey = wechattest.NewEncodingAESKey()
			}
			if c.opts != nil {
				c.opts(&o)
			}
			if c.skew != 0 {
				o.Time = pw.clock.Now().Add(c.skew)
			}
			msg := c.msg
			if msg == nil {
				msg = settle(pw)
			}
			req, err := pw.plat.PushRequest(pw.url, msg, o)
			require.NoError(t, err)
			if c.req != nil {
				c.req(req)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, c.status, resp.StatusCode, "%s", b)
			assert.NotEqual(t, "success", string(b))
			applied, refused, statuses := pw.seen()
			assert.Zero(t, pw.effects(), "nothing applied")
			assert.Empty(t, applied, "handle never called")
			assert.Empty(t, pw.pushRecords(), "no record")
			require.Len(t, refused, 1)
			assert.Equal(t, []int{c.status}, statuses)
			var ce *commerce.Error
			require.ErrorAs(t, refused[0], &ce)
			assert.Equal(t, c.field, ce.Field)
			assert.Equal(t, commerce.KindInvalid, ce.Kind)
			assert.NotContains(t, string(b), pushToken)
		})
	}
}

// A redelivered push (WeChat retries, with new timestamps and nonces) is
// answered success and applied once; two orders settled in one second by
// the system account are two pushes.
func TestPushRedeliveredOnce(t *testing.T) {
	pw := newPushWorld(t)
	o := pw.opts(wechattest.PushSafe, wechattest.PushJSON)
	ev := pw.settlement("4200000000000000000000000007")
	for i := range 4 {
		status, body := pw.push(ev, o)
		require.Equal(t, http.StatusOK, status, "delivery %d: %s", i, body)
		assert.Equal(t, "success", body)
		pw.clock.Advance(5 * time.Second)
	}
	assert.Equal(t, 1, pw.effects())
	applied, _, _ := pw.seen()
	assert.Len(t, applied, 1)

	other := ev
	other.TransactionID, other.MerchantTradeNo = "4200000000000000000000000008", "P00000008"
	status, _ := pw.push(other, o)
	require.Equal(t, http.StatusOK, status)
	o.Format = wechattest.PushXML // the same push in the other format is still the same push
	status, _ = pw.push(other, o)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, 2, pw.effects())
	recs := pw.pushRecords()
	require.Len(t, recs, 2)
	for _, r := range recs {
		assert.True(t, strings.HasPrefix(r.Key, wechattest.DefaultAppID+":"), r.Key)
		assert.LessOrEqual(t, len(r.Key), storage.MaxRecordKeyLen)
	}
}

// Sixteen redeliveries at once: the effect happens exactly once, on every
// store this machine has.
func TestPushConcurrentRedeliveries(t *testing.T) {
	stores := map[string]func(t *testing.T) wechat.Store{
		"memory": func(t *testing.T) wechat.Store { return newWorld(t).store },
		"sqlite": func(t *testing.T) wechat.Store {
			s, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "push.db"), sqlstore.Options{})
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			return s
		},
		"postgres": func(t *testing.T) wechat.Store { return serverStore(t, "MINISHOP_POSTGRES_DSN", sqlstore.Postgres) },
		"mysql":    func(t *testing.T) wechat.Store { return serverStore(t, "MINISHOP_MYSQL_DSN", sqlstore.MySQL) },
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.store = open(t)
			pw := newPushWorldOn(t, w)
			// The first attempt fails after its writes, so the others race
			// against a rollback too.
			var once sync.Once
			pw.fail = func(*wechat.Message) error {
				var err error
				once.Do(func() { err = errors.New("host down") })
				return err
			}
			o := pw.opts(wechattest.PushSafe, wechattest.PushJSON)
			ev := pw.settlement("4200000000000000000000000016")
			var wg sync.WaitGroup
			statuses := make(chan int, 16)
			for range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					status, _, err := pw.plat.Push(pw.url, ev, o)
					assert.NoError(t, err)
					statuses <- status
				}()
			}
			wg.Wait()
			close(statuses)
			count := map[int]int{}
			for s := range statuses {
				count[s]++
			}
			assert.Equal(t, map[int]int{200: 15, 500: 1}, count)
			assert.Equal(t, 1, pw.effects(), "applied exactly once")
			applied, _, _ := pw.seen()
			assert.Len(t, applied, 1)
			assert.Len(t, pw.pushRecords(), 1)
		})
	}
}

// serverStore opens the database of the DSN in env with tables of a prefix
// of its own, dropped when the test ends; it skips without the DSN.
func serverStore(t *testing.T, env string, d sqlstore.Dialect) wechat.Store {
	dsn := os.Getenv(env)
	if dsn == "" {
		t.Skipf("set %s to run on %s", env, d)
	}
	driver := map[sqlstore.Dialect]string{sqlstore.Postgres: "pgx", sqlstore.MySQL: "mysql"}[d]
	db, err := sql.Open(driver, dsn)
	require.NoError(t, err)
	db.SetMaxOpenConns(20)
	prefix := "push" + strings.ToLower(wechattest.NewEncodingAESKey()[:8]) + "_"
	t.Cleanup(func() {
		defer db.Close()
		q := "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name LIKE '" + prefix + "%'"
		if d == sqlstore.MySQL {
			q = strings.Replace(q, "current_schema()", "DATABASE()", 1)
		}
		rows, err := db.Query(q)
		require.NoError(t, err)
		var tables []string
		for rows.Next() {
			var name string
			require.NoError(t, rows.Scan(&name))
			tables = append(tables, name)
		}
		require.NoError(t, rows.Close())
		if len(tables) > 0 {
			_, err = db.Exec("DROP TABLE " + strings.Join(tables, ", "))
			assert.NoError(t, err)
		}
	})
	s, err := sqlstore.OpenDB(context.Background(), db, d, sqlstore.Options{TablePrefix: prefix})
	require.NoError(t, err)
	return s
}

// A failing handle answers 500 and rolls back, so WeChat's retry applies
// the push; the host's error text stays on the server.
func TestPushHandleFailureRetried(t *testing.T) {
	pw := newPushWorld(t)
	pw.fail = func(*wechat.Message) error { return errors.New("order store unreachable at 10.0.0.7") }
	o := pw.opts(wechattest.PushSafe, wechattest.PushXML)
	ev := pw.settlement("4200000000000000000000000500")
	status, body := pw.push(ev, o)
	assert.Equal(t, http.StatusInternalServerError, status)
	assert.NotContains(t, body, "10.0.0.7")
	assert.Zero(t, pw.effects(), "the handle's write is rolled back")
	assert.Empty(t, pw.pushRecords())
	_, refused, _ := pw.seen()
	require.Len(t, refused, 1)
	assert.ErrorContains(t, refused[0], "10.0.0.7", "Refused hears the cause")

	pw.mu.Lock()
	pw.fail = nil
	pw.mu.Unlock()
	pw.clock.Advance(10 * time.Second)
	status, body = pw.push(ev, o)
	assert.Equal(t, http.StatusOK, status, body)
	status, _ = pw.push(ev, o)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, 1, pw.effects())
}

func TestPushConfigChecked(t *testing.T) {
	w := newWorld(t)
	c := w.client(t)
	key := wechattest.NewEncodingAESKey()
	ok := func(context.Context, *wechat.Message) error { return nil }
	cases := []struct {
		cfg   wechat.PushConfig
		field string
	}{
		{wechat.PushConfig{Token: "ab"}, "token"},
		{wechat.PushConfig{Token: strings.Repeat("a", 33)}, "token"},
		{wechat.PushConfig{Token: "tok-en"}, "token"},
		{wechat.PushConfig{Token: "token", EncodingAESKey: key[:42]}, "encoding_aes_key"},
		{wechat.PushConfig{Token: "token", EncodingAESKey: key[:42] + "+"}, "encoding_aes_key"},
		{wechat.PushConfig{Token: "token", EncodingAESKey: key, PreviousAESKey: key + "A"}, "previous_aes_key"},
		{wechat.PushConfig{Token: "token", PreviousAESKey: key}, "encoding_aes_key"},
		{wechat.PushConfig{Token: "token", OriginalID: "wx123"}, "original_id"},
		{wechat.PushConfig{Token: "token", MaxClockSkew: -time.Second}, "max_clock_skew"},
	}
	for _, tc := range cases {
		_, err := c.PushHandler(tc.cfg, ok)
		var ce *commerce.Error
		require.ErrorAs(t, err, &ce, "%+v", tc.cfg)
		assert.Equal(t, tc.field, ce.Field)
		assert.ErrorIs(t, err, commerce.ErrInvalid)
		assert.NotContains(t, err.Error(), key[:42], "the key is not in the error")
	}
	_, err := c.PushHandler(wechat.PushConfig{Token: "token"}, nil)
	assert.ErrorIs(t, err, commerce.ErrInvalid)
	_, err = c.PushHandler(wechat.PushConfig{Token: "token", EncodingAESKey: key, PreviousAESKey: wechattest.NewEncodingAESKey()}, ok)
	assert.NoError(t, err)
}

// Neither the Token nor a key shows in an answer, in what Refused hears, or
// in a record, whatever was pushed.
func TestPushSecretsNotEmitted(t *testing.T) {
	old := wechattest.NewEncodingAESKey()
	pw := newPushWorld(t, func(c *wechat.PushConfig) { c.PreviousAESKey = old })
	pw.fail = func(m *wechat.Message) error {
		if m.TransactionID == "4200000000000000000000000500" {
			return errors.New("host failure")
		}
		return nil
	}
	var answers []string
	tampers := []wechattest.Tamper{wechattest.TamperNone, wechattest.TamperSignature, wechattest.TamperMsgSignature, wechattest.TamperBody,
		wechattest.TamperPadding, wechattest.TamperLength, wechattest.TamperBase64, wechattest.TamperTruncate}
	for i, tamper := range tampers {
		for _, mode := range []wechattest.PushMode{wechattest.PushSafe, wechattest.PushPlain, wechattest.PushCompatible} {
			for _, format := range []wechattest.PushFormat{wechattest.PushJSON, wechattest.PushXML} {
				o := pw.opts(mode, format)
				o.Tamper = tamper
				_, body := pw.push(pw.settlement(fmt.Sprintf("42000000000000000000000000%02d", i)), o)
				answers = append(answers, body)
			}
		}
	}
	_, body := pw.push(pw.settlement("4200000000000000000000000500"), pw.opts(wechattest.PushSafe, wechattest.PushJSON))
	answers = append(answers, body)
	_, body = pw.push(`{"ToUserName": 12`, pw.opts(wechattest.PushSafe, wechattest.PushJSON))
	answers = append(answers, body)
	_, refused, _ := pw.seen()
	for _, r := range refused {
		answers = append(answers, r.Error())
	}
	for _, r := range pw.pushRecords() {
		answers = append(answers, r.Key, string(r.Doc))
	}
	require.Greater(t, len(refused), 20)
	for _, a := range answers {
		for _, secret := range []string{pushToken, pw.cfg.EncodingAESKey, old, pw.cfg.EncodingAESKey[:20], old[:20]} {
			assert.NotContains(t, a, secret)
		}
	}
}

// The layouts of WeChat's documentation, written out by hand rather than
// by wechattest's encoder: XML with its wrapper and CDATA, JSON with
// numbers as strings and a List of one as an object.
func TestPushDocumentedLayouts(t *testing.T) {
	pw := newPushWorld(t, func(c *wechat.PushConfig) { c.EncodingAESKey = "" })
	o := wechattest.PushOptions{Mode: wechattest.PushPlain, Token: pushToken}
	cases := []struct {
		body string
		want []wechat.SubscriptionChange
	}{
		{`<xml>
  <ToUserName><![CDATA[gh_123456789abc]]></ToUserName>
  <FromUserName><![CDATA[otFpruAK8D-E6EfStSYonYSBZ8_4]]></FromUserName>
  <CreateTime>1610969440</CreateTime>
  <MsgType><![CDATA[event]]></MsgType>
  <Event><![CDATA[subscribe_msg_popup_event]]></Event>
  <SubscribeMsgPopupEvent>
    <List>
      <TemplateId><![CDATA[VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc]]></TemplateId>
      <SubscribeStatusString><![CDATA[accept]]></SubscribeStatusString>
      <PopupScene>2</PopupScene>
    </List>
    <List>
      <TemplateId><![CDATA[9nLIlbOQZC5Y89AZteFEux3WCXRRRG5Wfzkpssu4bLI]]></TemplateId>
      <SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString>
      <PopupScene>2</PopupScene>
    </List>
  </SubscribeMsgPopupEvent>
</xml>`, []wechat.SubscriptionChange{{TemplateID: "VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc", Status: "accept", PopupScene: 2},
			{TemplateID: "9nLIlbOQZC5Y89AZteFEux3WCXRRRG5Wfzkpssu4bLI", Status: "reject", PopupScene: 2}}},
		{`<xml><ToUserName><![CDATA[gh_123456789abc]]></ToUserName><FromUserName><![CDATA[otFpruAK8D-E6EfStSYonYSBZ8_4]]></FromUserName>
<CreateTime>1610969468</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe_msg_sent_event]]></Event>
<SubscribeMsgSentEvent><List><TemplateId><![CDATA[VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc]]></TemplateId>
<MsgID>1700827132819554304</MsgID><ErrorCode>0</ErrorCode><ErrorStatus><![CDATA[success]]></ErrorStatus></List></SubscribeMsgSentEvent></xml>`,
			[]wechat.SubscriptionChange{{TemplateID: "VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc", MsgID: "1700827132819554304", ErrorStatus: "success"}}},
		{`{"ToUserName":"gh_123456789abc","FromUserName":"o7esq5OI1Uej6Xixw1lA2H7XDVbc","CreateTime":"1620973045","MsgType":"event",
"Event":"subscribe_msg_popup_event","List":{"TemplateId":"hD-ixGOhYmUfjOnI8MCzQMPshzGVeux_2vBgHQ","SubscribeStatusString":"accept","PopupScene":"2"}}`,
			[]wechat.SubscriptionChange{{TemplateID: "hD-ixGOhYmUfjOnI8MCzQMPshzGVeux_2vBgHQ", Status: "accept", PopupScene: 2}}},
		{`{"ToUserName":"gh_123456789abc","FromUserName":"o7esq5OI1Uej6Xixw1lA2H7XDVbc","CreateTime":1620973046,"MsgType":"event",
"Event":"subscribe_msg_change_event","List":[{"TemplateId":"hD-ixGOhYmUfjOnI8MCzQMPshzGVeux_2vBgHQ","SubscribeStatusString":"reject"},
{"TemplateId":"x-2","SubscribeStatusString":"reject"}]}`,
			[]wechat.SubscriptionChange{{TemplateID: "hD-ixGOhYmUfjOnI8MCzQMPshzGVeux_2vBgHQ", Status: "reject"}, {TemplateID: "x-2", Status: "reject"}}},
		{`<xml><ToUserName><![CDATA[gh_123456789abc]]></ToUserName><FromUserName><![CDATA[o_system]]></FromUserName><CreateTime>1700000000</CreateTime>
<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[trade_manage_order_settlement]]></Event><transaction_id><![CDATA[4200001]]></transaction_id>
<merchant_id><![CDATA[1230000109]]></merchant_id><sub_merchant_id><![CDATA[]]></sub_merchant_id><merchant_trade_no><![CDATA[P1]]></merchant_trade_no>
<pay_time>1699000000</pay_time><shipped_time>1699100000</shipped_time><estimated_settlement_time></estimated_settlement_time>
<confirm_receive_method>1</confirm_receive_method><confirm_receive_time>1699900000</confirm_receive_time><settlement_time>1700000000</settlement_time></xml>`, nil},
	}
	for i, c := range cases {
		status, body := pw.push(c.body, o)
		require.Equal(t, http.StatusOK, status, "case %d: %s", i, body)
		m := pw.lastApplied()
		assert.Equal(t, "gh_123456789abc", m.ToUserName)
		assert.Equal(t, c.want, m.Subscriptions, "case %d", i)
	}
	m := pw.lastApplied()
	assert.Equal(t, wechat.EventOrderSettlement, m.Event)
	assert.Equal(t, "4200001", m.TransactionID)
	assert.Equal(t, int64(1699100000), m.ShippedTime)
	assert.Zero(t, m.EstimatedSettlementTime, "an empty time is zero")
	assert.Equal(t, 1, m.ConfirmReceiveMethod)
	assert.Equal(t, int64(1700000000), m.SettlementTime)
	assert.Equal(t, len(cases), pw.effects())
}

// A push whose key would be too long (many subscription items) is keyed by
// a hash, and still applied once.
func TestPushLongKeyHashed(t *testing.T) {
	pw := newPushWorld(t)
	u := pw.plat.NewUser()
	ev := wechattest.SubscriptionEvent{Event: wechat.EventSubscribePopup, OpenID: u.OpenID, CreateTime: pw.clock.Now()}
	for i := range 6 {
		ev.List = append(ev.List, wechattest.SubscriptionItem{TemplateID: fmt.Sprintf("tpl%040d", i), Status: "accept"})
	}
	for range 3 {
		status, body := pw.push(ev, pw.opts(wechattest.PushSafe, wechattest.PushXML))
		require.Equal(t, http.StatusOK, status, body)
	}
	recs := pw.pushRecords()
	require.Len(t, recs, 1)
	assert.True(t, strings.HasPrefix(recs[0].Key, wechattest.DefaultAppID+":sha256:"), recs[0].Key)
	assert.Equal(t, 1, pw.effects())
}

// The local platform refuses to push what WeChat would never send.
func TestPlatformPushChecks(t *testing.T) {
	pw := newPushWorld(t)
	o := pw.opts(wechattest.PushSafe, wechattest.PushJSON)
	bad := []struct {
		m any
		o func(*wechattest.PushOptions)
	}{
		{wechattest.SubscriptionEvent{Event: wechat.EventSubscribePopup, OpenID: "o_stranger", List: []wechattest.SubscriptionItem{{TemplateID: "t", Status: "accept"}}}, nil},
		{wechattest.SubscriptionEvent{Event: wechat.EventSubscribeChange, OpenID: pw.plat.NewUser().OpenID, List: []wechattest.SubscriptionItem{{TemplateID: "t", Status: "accept"}}}, nil},
		{wechattest.SubscriptionEvent{Event: "subscribe", OpenID: pw.plat.NewUser().OpenID, List: []wechattest.SubscriptionItem{{TemplateID: "t", Status: "accept"}}}, nil},
		{wechattest.OrderSettlement{MerchantID: "1", MerchantTradeNo: "P1"}, nil},
		{wechattest.RemindShipping{TransactionID: "42", MerchantID: "1"}, nil},
		{pw.settlement("4200000000000000000000000001"), func(o *wechattest.PushOptions) { o.Token = "to ken" }},
		{pw.settlement("4200000000000000000000000001"), func(o *wechattest.PushOptions) { o.EncodingAESKey = "short" }},
		{`{"raw":1}`, func(o *wechattest.PushOptions) { o.Mode = wechattest.PushCompatible }},
		{42, nil},
	}
	for i, b := range bad {
		oo := o
		if b.o != nil {
			b.o(&oo)
		}
		_, err := pw.plat.PushRequest(pw.url, b.m, oo)
		assert.Error(t, err, "case %d", i)
	}
	assert.Zero(t, pw.effects())
}
