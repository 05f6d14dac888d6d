package wechat_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/storage/memory"
	"github.com/minishop/minishop/wechat"
	"github.com/minishop/minishop/wechat/wechattest"
)

// fuzzRig is a push handler served in memory (no sockets), with its
// handle's calls counted.
type fuzzRig struct {
	plat    *wechattest.Platform
	handler http.Handler
	cfg     wechat.PushConfig
	got     []*wechat.Message
}

func newFuzzRig(t testing.TB, plat *wechattest.Platform, clock *commercetest.Clock, cfg wechat.PushConfig) *fuzzRig {
	pc := plat.Config(memory.New())
	pc.Clock = clock
	c, err := wechat.New(pc)
	require.NoError(t, err)
	r := &fuzzRig{plat: plat, cfg: cfg}
	r.handler, err = c.PushHandler(cfg, func(_ context.Context, m *wechat.Message) error {
		r.got = append(r.got, m)
		return nil
	})
	require.NoError(t, err)
	return r
}

func (r *fuzzRig) serve(req *http.Request) (int, string) {
	rec := httptest.NewRecorder()
	r.handler.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func fuzzPlatform(t testing.TB) (*wechattest.Platform, *commercetest.Clock) {
	clock := commercetest.NewClock(commercetest.Epoch)
	return wechattest.Start(t, wechattest.Options{Now: clock.Now}), clock
}

func fuzzSettlement(clock *commercetest.Clock) wechattest.OrderSettlement {
	now := clock.Now()
	return wechattest.OrderSettlement{CreateTime: now, TransactionID: "4200000000000000000000000777", MerchantID: "1230000109",
		MerchantTradeNo: "P00000777", PayTime: now, ShippedTime: now, ConfirmReceiveMethod: 1, ConfirmReceiveTime: now, SettlementTime: now}
}

// The decryptor takes any Encrypt, validly signed (as by someone holding
// the Token but not the key): it never panics, answers only 200, 400 or
// 403, and what it accepts opened to a whole message for this app.
func FuzzPushDecrypt(f *testing.F) {
	plat, clock := fuzzPlatform(f)
	key := wechattest.NewEncodingAESKey()
	rig := newFuzzRig(f, plat, clock, wechat.PushConfig{Token: pushToken, EncodingAESKey: key})
	opts := wechattest.PushOptions{Token: pushToken, EncodingAESKey: key}
	capture := func(o wechattest.PushOptions, m any) string {
		var enc string
		o.Rewrite = func(e string) string { enc = e; return e }
		_, err := plat.PushRequest("http://shop.test/push", m, o)
		require.NoError(f, err)
		return enc
	}
	f.Add(capture(opts, fuzzSettlement(clock)))
	xml := opts
	xml.Format = wechattest.PushXML
	f.Add(capture(xml, fuzzSettlement(clock)))
	for _, tm := range []wechattest.Tamper{wechattest.TamperPadding, wechattest.TamperLength, wechattest.TamperTruncate, wechattest.TamperBase64} {
		o := opts
		o.Tamper = tm
		f.Add(capture(o, fuzzSettlement(clock)))
	}
	f.Add(capture(opts, "{}"))
	f.Add("")
	f.Add("AAAA")
	f.Fuzz(func(t *testing.T, enc string) {
		o := opts
		o.Rewrite = func(string) string { return enc }
		req, err := plat.PushRequest("http://shop.test/push", fuzzSettlement(clock), o)
		require.NoError(t, err)
		before := len(rig.got)
		status, _ := rig.serve(req)
		switch status {
		case http.StatusOK:
			if len(rig.got) > before {
				m := rig.got[len(rig.got)-1]
				require.NotEmpty(t, m.FromUserName)
				require.Positive(t, m.CreateTime)
			}
		case http.StatusBadRequest, http.StatusForbidden:
			require.Equal(t, before, len(rig.got))
		case http.StatusUnauthorized:
			// JSON cannot carry invalid UTF-8, and the handler trims
			// Encrypt (for XML): the string signed is not the one read.
			require.True(t, !utf8.ValidString(enc) || strings.TrimSpace(enc) != enc)
			require.Equal(t, before, len(rig.got))
		default:
			t.Fatalf("status %d", status)
		}
	})
}

// The parser takes any body, in plaintext mode and sealed in safe mode: it
// never panics, refuses what it cannot read with 400 in both, and keeps
// what it accepts as it came.
func FuzzPushParse(f *testing.F) {
	plat, clock := fuzzPlatform(f)
	key := wechattest.NewEncodingAESKey()
	u := plat.NewUser()
	for _, format := range []wechattest.PushFormat{wechattest.PushJSON, wechattest.PushXML} {
		for _, m := range []any{fuzzSettlement(clock), wechattest.SubscriptionEvent{Event: wechat.EventSubscribeSent, OpenID: u.OpenID,
			List: []wechattest.SubscriptionItem{{TemplateID: "t1", MsgID: "1", ErrorStatus: "success"}, {TemplateID: "t2", MsgID: "2"}}}} {
			req, err := plat.PushRequest("http://shop.test/push", m, wechattest.PushOptions{Mode: wechattest.PushPlain, Format: format, Token: pushToken})
			require.NoError(f, err)
			b, _ := io.ReadAll(req.Body)
			f.Add(b)
		}
	}
	f.Add([]byte(`{"ToUserName":"gh_1","FromUserName":"o","CreateTime":"1","MsgType":"event","Event":"e","List":{"TemplateId":"t"}}`))
	f.Add([]byte(`<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><SubscribeMsgPopupEvent><List><PopupScene>x</PopupScene></List></SubscribeMsgPopupEvent></xml>`))
	f.Add([]byte(`<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY e "x">]><xml>&e;</xml>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		plain := newFuzzRig(t, plat, clock, wechat.PushConfig{Token: pushToken})
		safe := newFuzzRig(t, plat, clock, wechat.PushConfig{Token: pushToken, EncodingAESKey: key})
		req, err := plat.PushRequest("http://shop.test/push", body, wechattest.PushOptions{Mode: wechattest.PushPlain, Token: pushToken})
		require.NoError(t, err)
		ps, _ := plain.serve(req)
		req, err = plat.PushRequest("http://shop.test/push", body, wechattest.PushOptions{Token: pushToken, EncodingAESKey: key})
		require.NoError(t, err)
		ss, _ := safe.serve(req)
		switch ps {
		case http.StatusOK:
			require.Len(t, plain.got, 1)
			m := plain.got[0]
			require.Equal(t, body, m.Raw)
			require.Contains(t, []string{"json", "xml"}, m.Format)
			require.NotEmpty(t, m.ToUserName)
			require.NotEmpty(t, m.FromUserName)
			// The sealed copy reads the same, unless its plain ToUserName
			// (the platform's) differs from the message's.
			require.Contains(t, []int{http.StatusOK, http.StatusForbidden}, ss)
			if ss == http.StatusOK {
				require.Len(t, safe.got, 1)
				got, want := *safe.got[0], *m
				got.Raw, want.Raw = nil, nil
				require.Equal(t, want, got)
			}
		case http.StatusBadRequest:
			require.Empty(t, plain.got)
			require.Equal(t, http.StatusBadRequest, ss)
			require.Empty(t, safe.got)
		default:
			t.Fatalf("status %d", ps)
		}
	})
}

// A signed push whose body is changed in transit is refused, or (when the
// change leaves Encrypt as it was) applies exactly the message signed.
func FuzzPushTamper(f *testing.F) {
	plat, clock := fuzzPlatform(f)
	key := wechattest.NewEncodingAESKey()
	type signed struct {
		url   string
		plain []byte
	}
	var reqs []signed
	for i, format := range []wechattest.PushFormat{wechattest.PushJSON, wechattest.PushXML} {
		for j, mode := range []wechattest.PushMode{wechattest.PushSafe, wechattest.PushCompatible} {
			o := wechattest.PushOptions{Mode: mode, Format: format, Token: pushToken, EncodingAESKey: key}
			pr, err := plat.PushRequest("http://shop.test/push", fuzzSettlement(clock), o)
			require.NoError(f, err)
			body, _ := io.ReadAll(pr.Body)
			o.Mode = wechattest.PushPlain
			plain, err := plat.PushRequest("http://shop.test/push", fuzzSettlement(clock), o)
			require.NoError(f, err)
			pb, _ := io.ReadAll(plain.Body)
			reqs = append(reqs, signed{url: pr.URL.String(), plain: pb})
			f.Add(uint8(2*i+j), body)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		s := reqs[int(which)%len(reqs)]
		rig := newFuzzRig(t, plat, clock, wechat.PushConfig{Token: pushToken, EncodingAESKey: key})
		req := httptest.NewRequest(http.MethodPost, s.url, bytes.NewReader(body))
		status, _ := rig.serve(req)
		if status == http.StatusOK {
			require.Len(t, rig.got, 1)
			require.Equal(t, s.plain, rig.got[0].Raw, "only the message signed is applied")
			return
		}
		require.Empty(t, rig.got)
		require.Contains(t, []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusRequestEntityTooLarge}, status)
	})
}

// benchPush is a safe-mode handler and a signed JSON settlement for it.
func benchPush(b *testing.B) (*fuzzRig, *http.Request, []byte) {
	plat, clock := fuzzPlatform(b)
	key := wechattest.NewEncodingAESKey()
	rig := newFuzzRig(b, plat, clock, wechat.PushConfig{Token: pushToken, EncodingAESKey: key})
	req, err := plat.PushRequest("http://shop.test/push", fuzzSettlement(clock), wechattest.PushOptions{Token: pushToken, EncodingAESKey: key})
	require.NoError(b, err)
	body, _ := io.ReadAll(req.Body)
	return rig, req, body
}

// BenchmarkPushVerifyDecrypt: one safe-mode JSON settlement event, from
// the request to the parsed message (both signatures, the clock window,
// AES-256-CBC, the appid check, the parse); no store.
func BenchmarkPushVerifyDecrypt(b *testing.B) {
	rig, req, body := benchPush(b)
	rd := bytes.NewReader(body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(body)
		req.Body = io.NopCloser(rd)
		if m, status := wechat.OpenPush(rig.handler, req); status != http.StatusOK || m.Event != wechat.EventOrderSettlement {
			b.Fatalf("status %d", status)
		}
	}
}

// BenchmarkPushHandler: the whole handler on the memory store, the push a
// redelivery (the record insert meets its key): what a retry storm costs.
func BenchmarkPushHandler(b *testing.B) {
	rig, req, body := benchPush(b)
	rd := bytes.NewReader(body)
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(body)
		req.Body = io.NopCloser(rd)
		rec := httptest.NewRecorder()
		rig.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
	if len(rig.got) != 1 {
		b.Fatalf("applied %d times", len(rig.got))
	}
}
