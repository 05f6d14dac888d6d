package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	minishop "github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/httpapi"
	"github.com/minishop/minishop/payment/fakepay"
	"github.com/minishop/minishop/promoter"
	"github.com/minishop/minishop/storage/memory"
)

// shop is a tea shop behind both APIs, on the memory store and fakepay.
// Customers name themselves in X-Customer (the test's stand-in for a
// session check); operators in X-Operator, allowed the tea shop only.
type shop struct {
	t        testing.TB
	engine   *minishop.Engine
	fake     *fakepay.Provider
	tea      *commercetest.Shop
	other    *commercetest.Shop
	customer http.Handler
	merchant http.Handler
	// promoters are the customers the host made promoters.
	promoters map[commerce.CustomerID]promoter.PromoterID
	// replies are the bodies each customer was answered, for the leak
	// checks.
	replies map[string][]string
}

func newShop(t testing.TB, opts ...fakepay.Option) *shop {
	t.Helper()
	fake := fakepay.New(opts...)
	e, err := minishop.New(memory.New(), minishop.WithPayments(fake))
	require.NoError(t, err)
	s := &shop{t: t, engine: e, fake: fake, promoters: map[commerce.CustomerID]promoter.PromoterID{}, replies: map[string][]string{}}
	s.tea = commercetest.NewShop(t, e.Commerce, "茶庄", commerce.ShippingRule{},
		commercetest.ProductSpec{Title: "Longjing tin", Category: "tea", Prices: []string{"100.00"}, Stock: 10},
		commercetest.ProductSpec{Title: "Tea cup", Category: "tea", Prices: []string{"30.00", "35.00"}, Stock: 10})
	s.other = commercetest.NewShop(t, e.Commerce, "别家", commerce.ShippingRule{},
		commercetest.ProductSpec{Title: "Coffee", Category: "coffee", Prices: []string{"20.00"}, Stock: 10})
	customers := httpapi.CustomersFunc(func(r *http.Request, _ commerce.MerchantID) (httpapi.Customer, error) {
		id := r.Header.Get("X-Customer")
		if id == "" {
			return httpapi.Customer{}, fmt.Errorf("no session: %w", httpapi.ErrUnauthenticated)
		}
		return httpapi.Customer{ID: commerce.CustomerID(id), OpenID: "o_" + id, Promoter: s.promoters[commerce.CustomerID(id)]}, nil
	})
	operators := httpapi.OperatorsFunc(func(r *http.Request) (httpapi.Operator, error) {
		if r.Header.Get("X-Operator") == "" {
			return httpapi.Operator{}, httpapi.ErrUnauthenticated
		}
		return httpapi.Operator{ID: r.Header.Get("X-Operator"), Merchants: []commerce.MerchantID{s.tea.Merchant.ID}}, nil
	})
	s.customer = httpapi.NewCustomer(e, customers, httpapi.Config{MaxBody: 4 << 10})
	s.merchant = httpapi.NewMerchant(e, operators, httpapi.Config{})
	return s
}

// call is one request: who is "customer:<id>" or "operator:<id>" (or ""
// for nobody); body is JSON-encoded unless it is a string.
type call struct {
	method, path, who, key string
	body                   any
	contentType            string
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) decode(t testing.TB, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.body, v), "%s", r.body)
}

func (r reply) problem(t testing.TB) httpapi.Problem {
	t.Helper()
	var p struct{ Error httpapi.Problem }
	r.decode(t, &p)
	require.NotEmpty(t, p.Error.Kind, "%s", r.body)
	return p.Error
}

func (s *shop) do(c call) reply {
	s.t.Helper()
	var body io.Reader = http.NoBody
	switch b := c.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(s.t, err)
		body = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(c.method, c.path, body)
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	if c.key != "" {
		req.Header.Set("Idempotency-Key", c.key)
	}
	h := s.customer
	kind, id, _ := strings.Cut(c.who, ":")
	switch kind {
	case "customer":
		req.Header.Set("X-Customer", id)
	case "operator":
		req.Header.Set("X-Operator", id)
		h = s.merchant
	}
	if strings.HasPrefix(c.path, "/merchants/") {
		h = s.merchant
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if kind == "customer" {
		s.replies[id] = append(s.replies[id], rec.Body.String())
	}
	return reply{rec.Code, rec.Header(), rec.Body.Bytes()}
}

func (s *shop) shopPath(format string, args ...any) string {
	return "/shops/" + s.tea.Merchant.ID.String() + fmt.Sprintf(format, args...)
}

func (s *shop) adminPath(format string, args ...any) string {
	return "/merchants/" + s.tea.Merchant.ID.String() + fmt.Sprintf(format, args...)
}

func address() *httpapi.Address {
	return &httpapi.Address{Name: "小美", Phone: "13800000000", Province: "浙江省", City: "杭州市", District: "西湖区", Detail: "龙井路 1 号"}
}

// checkout places an order of lines for who.
func (s *shop) checkout(who, key string, lines ...httpapi.LineRequest) httpapi.Order {
	s.t.Helper()
	r := s.do(call{method: "POST", path: s.shopPath("/orders"), who: "customer:" + who, key: key,
		body: httpapi.CheckoutRequest{QuoteRequest: httpapi.QuoteRequest{Lines: lines, NoCoupon: true}, Address: address()}})
	require.Equal(s.t, http.StatusCreated, r.status, "%s", r.body)
	var o httpapi.Order
	r.decode(s.t, &o)
	return o
}

// pay opens the payment through the API and has fakepay notify the API's
// notify URL.
func (s *shop) pay(who string, o httpapi.Order) {
	s.t.Helper()
	r := s.do(call{method: "POST", path: s.shopPath("/orders/%s/pay", o.ID), who: "customer:" + who})
	require.Equal(s.t, http.StatusOK, r.status, "%s", r.body)
	var p httpapi.Payment
	r.decode(s.t, &p)
	require.Equal(s.t, o.Due, p.Amount, "the channel collects the order's due")
	note, err := s.fake.Pay(p.PaymentNo)
	require.NoError(s.t, err)
	note.URL.Path, note.RequestURI = "/notify/fakepay", ""
	body, err := io.ReadAll(note.Body)
	require.NoError(s.t, err)
	for i := range 2 { // the channel may deliver twice: applied once
		req := note.Clone(note.Context())
		req.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		s.customer.ServeHTTP(rec, req)
		require.Less(s.t, rec.Code, 300, "delivery %d: %s", i, rec.Body)
	}
}

func TestCustomerStory(t *testing.T) {
	s := newShop(t)
	r := s.do(call{method: "GET", path: s.shopPath("/products"), who: "customer:amy"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var ps httpapi.List[httpapi.Product]
	r.decode(t, &ps)
	require.Len(t, ps.Items, 2)
	assert.Empty(t, ps.Next, "one page")
	tin := ps.Items[slices.IndexFunc(ps.Items, func(p httpapi.Product) bool { return p.Title == "Longjing tin" })]
	assert.Equal(t, commercetest.CNY("100.00"), tin.SKUs[0].Price)
	assert.Contains(t, string(r.body), `"price":{"amount":"100.00","currency":"CNY"}`, "money is a decimal string and its currency")

	r = s.do(call{method: "GET", path: s.shopPath("/products?limit=1"), who: "customer:amy"})
	r.decode(t, &ps)
	require.Len(t, ps.Items, 1)
	require.NotEmpty(t, ps.Next)
	r = s.do(call{method: "GET", path: s.shopPath("/products?limit=1&after=%s", ps.Next), who: "customer:amy"})
	var page2 httpapi.List[httpapi.Product]
	r.decode(t, &page2)
	require.Len(t, page2.Items, 1)
	assert.NotEqual(t, ps.Items[0].ID, page2.Items[0].ID, "the cursor moves on")

	// Cart, then a quote of it.
	r = s.do(call{method: "PUT", path: s.shopPath("/cart/items/%s", tin.SKUs[0].ID), who: "customer:amy", body: httpapi.CartItemRequest{Quantity: 2}})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = s.do(call{method: "POST", path: s.shopPath("/quote"), who: "customer:amy", body: httpapi.QuoteRequest{FromCart: true, NoCoupon: true}})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var q httpapi.Quote
	r.decode(t, &q)
	assert.Equal(t, commercetest.CNY("200.00"), q.Total)

	// Checkout, replayed with its key: one order.
	line := httpapi.LineRequest{SKU: tin.SKUs[0].ID, Quantity: 2}
	o := s.checkout("amy", "k1", line)
	assert.Equal(t, "pending_payment", o.Status)
	assert.Equal(t, commercetest.CNY("200.00"), o.Total)
	again := s.checkout("amy", "k1", line)
	assert.Equal(t, o.ID, again.ID, "the same key returns the first order")
	r = s.do(call{method: "POST", path: s.shopPath("/orders"), who: "customer:amy", key: "k1",
		body: httpapi.CheckoutRequest{QuoteRequest: httpapi.QuoteRequest{Lines: []httpapi.LineRequest{{SKU: tin.SKUs[0].ID, Quantity: 1}}, NoCoupon: true}, Address: address()}})
	assert.Equal(t, http.StatusConflict, r.status, "a key reused with other input")
	assert.Equal(t, "conflict", r.problem(t).Kind)

	s.pay("amy", o)
	r = s.do(call{method: "GET", path: s.shopPath("/orders/%s", o.ID), who: "customer:amy"})
	r.decode(t, &o)
	assert.Equal(t, "paid", o.Status)
	assert.NotNil(t, o.PaidAt)

	// The merchant ships; the customer confirms receipt and asks for one
	// tin back.
	r = s.do(call{method: "POST", path: s.adminPath("/orders/%s/ship", o.ID), who: "operator:lin", body: httpapi.ShipRequest{Carrier: "SF", TrackingNo: "SF123"}})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = s.do(call{method: "POST", path: s.shopPath("/orders/%s/receive", o.ID), who: "customer:amy"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r.decode(t, &o)
	assert.Equal(t, "received", o.Status)
	assert.Equal(t, "SF123", o.Shipment.TrackingNo)
	r = s.do(call{method: "POST", path: s.shopPath("/orders/%s/refunds", o.ID), who: "customer:amy", key: "r1",
		body: httpapi.RefundRequest{Items: []httpapi.RefundItem{{Line: 0, Quantity: 1}}, Reason: "dented"}})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	var rf httpapi.Refund
	r.decode(t, &rf)
	assert.Equal(t, commercetest.CNY("100.00"), rf.Amount)

	// The merchant sees the order with its customer and address.
	r = s.do(call{method: "GET", path: s.adminPath("/orders?status=received"), who: "operator:lin"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var os httpapi.List[httpapi.Order]
	r.decode(t, &os)
	require.Len(t, os.Items, 1)
	assert.Equal(t, "amy", os.Items[0].Customer)
	assert.Equal(t, "小美", os.Items[0].ShippingAddress.Name)
	require.Len(t, os.Items[0].Refunds, 1)
}

func TestMerchantCatalog(t *testing.T) {
	s := newShop(t)
	r := s.do(call{method: "POST", path: s.adminPath("/products"), who: "operator:lin", body: httpapi.ProductRequest{Title: "White tea", Category: "tea",
		SKUs: []httpapi.SKURequest{{Price: commercetest.CNY("88.00"), Stock: 3}}}})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	var p httpapi.Product
	r.decode(t, &p)
	assert.Equal(t, "draft", p.State)
	r = s.do(call{method: "GET", path: s.shopPath("/products/%s", p.ID), who: "customer:amy"})
	assert.Equal(t, http.StatusNotFound, r.status, "a draft is not for sale")
	r = s.do(call{method: "POST", path: s.adminPath("/products/%s/state", p.ID), who: "operator:lin", body: map[string]string{"state": "listed"}})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = s.do(call{method: "GET", path: s.shopPath("/products/%s", p.ID), who: "customer:amy"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)

	r = s.do(call{method: "POST", path: s.adminPath("/skus/%s/stock", p.SKUs[0].ID), who: "operator:lin", body: httpapi.StockRequest{Delta: 5}})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.JSONEq(t, fmt.Sprintf(`{"sku":%q,"stock":8}`, p.SKUs[0].ID), string(r.body))
	r = s.do(call{method: "POST", path: s.adminPath("/skus/%s/stock", p.SKUs[0].ID), who: "operator:lin", body: httpapi.StockRequest{Delta: -9}})
	assert.Equal(t, http.StatusUnprocessableEntity, r.status, "stock never goes below zero: %s", r.body)

	// Out of stock at checkout: 422 naming the line.
	r = s.do(call{method: "POST", path: s.shopPath("/orders"), who: "customer:amy", key: "big",
		body: httpapi.CheckoutRequest{QuoteRequest: httpapi.QuoteRequest{Lines: []httpapi.LineRequest{{SKU: p.SKUs[0].ID, Quantity: 9}}, NoCoupon: true}, Address: address()}})
	require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s", r.body)
	assert.Equal(t, "failed_precondition", r.problem(t).Kind)
}

// Bad requests of every kind get the documented error and change nothing.
func TestBadRequests(t *testing.T) {
	s := newShop(t)
	sku := s.tea.SKU(0, 0).String()
	orders := s.shopPath("/orders")
	good := httpapi.CheckoutRequest{QuoteRequest: httpapi.QuoteRequest{Lines: []httpapi.LineRequest{{SKU: sku, Quantity: 1}}, NoCoupon: true}, Address: address()}
	cases := []struct {
		name   string
		call   call
		status int
		kind   string
		field  string
	}{
		{"no session", call{method: "GET", path: s.shopPath("/cart")}, 401, "unauthenticated", ""},
		{"malformed JSON", call{method: "POST", path: orders, who: "customer:amy", key: "a", body: `{"lines": [`}, 400, "invalid", "body"},
		{"unknown field", call{method: "POST", path: orders, who: "customer:amy", key: "a", body: `{"lines": [], "price": "0.01"}`}, 400, "invalid", "price"},
		{"wrong type", call{method: "POST", path: orders, who: "customer:amy", key: "a", body: `{"lines": [{"sku": "x", "quantity": "2"}]}`}, 400, "invalid", "lines.quantity"},
		{"trailing data", call{method: "POST", path: orders, who: "customer:amy", key: "a", body: `{"from_cart": true} {}`}, 400, "invalid", "body"},
		{"oversized body", call{method: "POST", path: orders, who: "customer:amy", key: "a", body: `{"note": "` + strings.Repeat("长", 3000) + `"}`}, 400, "invalid", "body"},
		{"wrong content type", call{method: "POST", path: orders, who: "customer:amy", key: "a", body: good, contentType: "text/plain"}, 415, "unsupported_media_type", "Content-Type"},
		{"no idempotency key", call{method: "POST", path: orders, who: "customer:amy", body: good}, 400, "invalid", "Idempotency-Key"},
		{"bad sku id", call{method: "POST", path: orders, who: "customer:amy", key: "a", body: httpapi.CheckoutRequest{QuoteRequest: httpapi.QuoteRequest{Lines: []httpapi.LineRequest{{SKU: "nope", Quantity: 1}}}}}, 400, "invalid", "lines[0].sku"},
		{"zero quantity", call{method: "POST", path: orders, who: "customer:amy", key: "a", body: httpapi.CheckoutRequest{QuoteRequest: httpapi.QuoteRequest{Lines: []httpapi.LineRequest{{SKU: sku, Quantity: 0}}, NoCoupon: true}, Address: address()}}, 400, "invalid", "lines[0].quantity"},
		{"another merchant's SKU", call{method: "POST", path: orders, who: "customer:amy", key: "a", body: httpapi.CheckoutRequest{QuoteRequest: httpapi.QuoteRequest{Lines: []httpapi.LineRequest{{SKU: s.other.SKU(0, 0).String(), Quantity: 1}}, NoCoupon: true}, Address: address()}}, 404, "not_found", "lines[0].sku"},
		{"bad cursor", call{method: "GET", path: s.shopPath("/products?after=zzz"), who: "customer:amy"}, 400, "invalid", "after"},
		{"bad limit", call{method: "GET", path: s.shopPath("/products?limit=1000"), who: "customer:amy"}, 400, "invalid", "limit"},
		{"bad merchant id", call{method: "GET", path: "/shops/nope/cart", who: "customer:amy"}, 404, "not_found", ""},
		{"unknown path", call{method: "GET", path: "/nowhere", who: "customer:amy"}, 404, "not_found", ""},
		{"wrong method", call{method: "DELETE", path: orders, who: "customer:amy"}, 405, "method_not_allowed", ""},
		{"operator of another merchant", call{method: "GET", path: "/merchants/" + s.other.Merchant.ID.String() + "/orders", who: "operator:lin"}, 404, "not_found", ""},
		{"no operator", call{method: "GET", path: s.adminPath("/orders")}, 401, "unauthenticated", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(tc.call)
			require.Equal(t, tc.status, r.status, "%s", r.body)
			assert.Equal(t, "application/json", r.header.Get("Content-Type"))
			p := r.problem(t)
			assert.Equal(t, tc.kind, p.Kind)
			assert.Equal(t, tc.field, p.Field)
			assert.NotEmpty(t, p.Message)
		})
	}
	os, err := s.engine.Commerce.ListOrders(t.Context(), s.tea.Merchant.ID, commerce.OrderQuery{})
	require.NoError(t, err)
	assert.Empty(t, os, "no bad request placed an order")
	p, err := s.engine.Commerce.GetProduct(t.Context(), s.tea.Merchant.ID, s.tea.Products[0].ID)
	require.NoError(t, err)
	assert.Equal(t, int64(10), p.SKUs[0].Stock, "no stock taken")
}

// One customer never sees another's orders, nor a gift's recipient.
func TestCustomersApart(t *testing.T) {
	s := newShop(t)
	o := s.checkout("amy", "k", httpapi.LineRequest{SKU: s.tea.SKU(0, 0).String(), Quantity: 1})
	for _, c := range []call{
		{method: "GET", path: s.shopPath("/orders/%s", o.ID), who: "customer:bo"},
		{method: "POST", path: s.shopPath("/orders/%s/pay", o.ID), who: "customer:bo"},
		{method: "POST", path: s.shopPath("/orders/%s/cancel", o.ID), who: "customer:bo"},
		{method: "POST", path: s.shopPath("/orders/%s/refunds", o.ID), who: "customer:bo", key: "x", body: httpapi.RefundRequest{All: true}},
		{method: "GET", path: "/shops/" + s.other.Merchant.ID.String() + "/orders/" + o.ID, who: "customer:amy"},
	} {
		r := s.do(c)
		assert.Equal(t, http.StatusNotFound, r.status, "%s %s: %s", c.method, c.path, r.body)
		assert.NotContains(t, string(r.body), "13800000000")
	}
	r := s.do(call{method: "GET", path: s.shopPath("/orders"), who: "customer:bo"})
	require.Equal(t, http.StatusOK, r.status)
	assert.JSONEq(t, `{"items":[],"next":""}`, string(r.body))
	id, err := commerce.ParseID[commerce.OrderID](o.ID)
	require.NoError(t, err)
	got, err := s.engine.Commerce.GetOrder(t.Context(), s.tea.Merchant.ID, id)
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusPendingPayment, got.Status, "untouched")

	// amy cancels her own.
	r = s.do(call{method: "POST", path: s.shopPath("/orders/%s/cancel", o.ID), who: "customer:amy"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var c httpapi.Order
	r.decode(t, &c)
	assert.Equal(t, "cancelled", c.Status)
}

// The OpenAPI documents list exactly the routes each handler serves.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s := newShop(t)
	for name, h := range map[string]http.Handler{"customer": s.customer, "merchant": s.merchant} {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/openapi.json", nil))
			require.Equal(t, http.StatusOK, rec.Code)
			var doc struct {
				OpenAPI string                                `json:"openapi"`
				Paths   map[string]map[string]json.RawMessage `json:"paths"`
			}
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &doc))
			assert.Equal(t, "3.1.0", doc.OpenAPI)
			var documented []string
			for path, ops := range doc.Paths {
				for method := range ops {
					documented = append(documented, strings.ToUpper(method)+" "+path)
				}
			}
			slices.Sort(documented)
			served := httpapi.Routes(h)
			slices.Sort(served)
			assert.Equal(t, served, documented)
		})
	}
}

// FuzzRequestBodies: no body sent to the main endpoints that decode one
// makes them answer 500 or anything but the documented statuses.
func FuzzRequestBodies(f *testing.F) {
	for _, seed := range []string{`{}`, `{"lines":[{"sku":"x","quantity":1}]}`, `{"from_cart":true,"points":-1}`, `[`, `null`, `{"address":{"name":1}}`,
		`{"lines":null,"coupon":"00000000-0000-0000-0000-000000000000"}`, `{"sku":"","quantity":-1,"kind":"lottery"}`, `{"batch":"x","token":"y"}`,
		`{"quantity":9223372036854775807}`, `{"items":[{"line":-1,"quantity":1}]}`, `{"group_link":"x","group_activity":"y"}`} {
		for ep := range 6 {
			f.Add(uint8(ep), seed)
		}
	}
	s := newShop(f)
	sku := s.tea.SKU(0, 0).String()
	o := s.checkout("fuzz", "first", httpapi.LineRequest{SKU: sku, Quantity: 1})
	endpoints := []struct{ method, path string }{
		{"POST", s.shopPath("/orders")}, {"POST", s.shopPath("/quote")}, {"POST", s.shopPath("/gifts")},
		{"PUT", s.shopPath("/cart/items/%s", sku)}, {"POST", s.shopPath("/coupons")}, {"POST", s.shopPath("/orders/%s/refunds", o.ID)},
	}
	f.Fuzz(func(t *testing.T, ep uint8, body string) {
		s.t = t
		e := endpoints[int(ep)%len(endpoints)]
		r := s.do(call{method: e.method, path: e.path, who: "customer:fuzz", key: "k-" + body, body: body})
		if !slices.Contains([]int{200, 201, 400, 404, 409, 415, 422}, r.status) {
			t.Fatalf("%s %s: status %d for %q: %s", e.method, e.path, r.status, body, r.body)
		}
	})
}
