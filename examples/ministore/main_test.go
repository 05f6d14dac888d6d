package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A customer logs in, buys and pays through the local WeChat Pay over
// the server's HTTP; the outbox relay and /metrics see it.
func TestServerStory(t *testing.T) {
	ts := httptest.NewUnstartedServer(nil)
	url := "http://" + ts.Listener.Addr().String()
	s, err := newServer(t.Context(), options{DB: filepath.Join(t.TempDir(), "shop.db"), Quiet: true}, url, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer s.Close()
	ts.Config.Handler = s
	ts.Start()
	defer ts.Close()

	do := func(method, path, token string, body any, want int, out any) {
		t.Helper()
		var r io.Reader = http.NoBody
		if body != nil {
			b, _ := json.Marshal(body)
			r = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, url+path, r)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "k-"+path)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		require.Equal(t, want, res.StatusCode, "%s %s: %s", method, path, raw)
		if out != nil {
			require.NoError(t, json.Unmarshal(raw, out), "%s", raw)
		}
	}
	var code, login map[string]string
	do("POST", "/dev/login", "", map[string]string{"name": "amy"}, 200, &code)
	do("POST", "/login", "", map[string]string{"code": code["code"]}, 200, &login)
	tok, shop := login["token"], "/api/shops/"+s.demo.Merchant
	do("GET", shop+"/products", "", nil, 401, nil)
	var ps struct {
		Items []struct {
			SKUs []struct {
				ID string `json:"id"`
			} `json:"skus"`
		} `json:"items"`
	}
	do("GET", shop+"/products", tok, nil, 200, &ps)
	require.Len(t, ps.Items, 4)
	var o struct{ ID, Status string }
	do("POST", shop+"/orders", tok, map[string]any{"lines": []map[string]any{{"sku": ps.Items[0].SKUs[0].ID, "quantity": 1}},
		"address": map[string]string{"name": "安小美", "phone": "13800000001", "province": "浙江省", "city": "杭州市", "district": "西湖区", "detail": "龙井路 1 号"}}, 201, &o)
	var p struct {
		PaymentNo string            `json:"payment_no"`
		Params    map[string]string `json:"params"`
	}
	do("POST", shop+"/orders/"+o.ID+"/pay", tok, nil, 200, &p)
	assert.NotEmpty(t, p.Params["paySign"], "wx.requestPayment's parameters")
	do("POST", "/dev/wechatpay/pay", "", map[string]string{"payment_no": p.PaymentNo}, 200, nil)
	do("GET", shop+"/orders/"+o.ID, tok, nil, 200, &o)
	assert.Equal(t, "paid", o.Status, "the signed notification reached the notify URL")

	s.relay(t.Context(), 0)
	res, err := http.Get(url + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Contains(t, string(body), "minishop_payments_total 1\n")
	assert.Contains(t, string(body), `minishop_http_requests_total{route="POST /api/shops/{merchant}/orders",status="201"} 1`)
	assert.Contains(t, string(body), `minishop_http_errors_total{kind="unauthenticated"} 1`)
	var d demo
	do("GET", "/demo.json", "", nil, 200, &d)
	do("GET", "/admin/merchants/"+d.Merchant+"/orders", "wrong", nil, 401, nil)
	var os struct{ Items []struct{ Status string } }
	do("GET", "/admin/merchants/"+d.Merchant+"/orders", d.OperatorToken, nil, 200, &os)
	require.Len(t, os.Items, 1)
	assert.True(t, strings.EqualFold(os.Items[0].Status, "paid"))
}
