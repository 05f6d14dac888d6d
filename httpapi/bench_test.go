package httpapi_test

// The HTTP layer's own cost: each benchmark does one operation twice in
// the same run, once calling the engine's service directly (/direct) and
// once through the customer http.Handler with an httptest.ResponseRecorder
// (/http), on the memory store so the store's cost is small and the
// difference stands out. The difference is what the handler adds: routing,
// the customer hook, JSON decoding and validation of the request, the
// view and JSON encoding of the reply. No network: loopback TCP is
// measured by the ministore load mode (examples/ministore -load).
//
//	go test -run XXX -bench 'Quote|Products|Checkout' -benchmem ./httpapi/

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	minishop "github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/coupons"
	"github.com/minishop/minishop/httpapi"
	"github.com/minishop/minishop/payment/fakepay"
	"github.com/minishop/minishop/storage/memory"
)

// benchShop is a shop of four products (six SKUs, stock enough for any
// run) behind the customer API; the customer names themselves in
// X-Customer, the cheapest stand-in for a host's session check, so the
// host's own cost stays out of the figures.
type benchShop struct {
	engine  *minishop.Engine
	shop    *commercetest.Shop
	handler http.Handler
}

func newBenchShop(b *testing.B) *benchShop {
	b.Helper()
	e, err := minishop.New(memory.New(), minishop.WithPayments(fakepay.New()))
	if err != nil {
		b.Fatal(err)
	}
	const stock = commerce.MaxStock
	shop := commercetest.NewShop(b, e.Commerce, "茶庄", commerce.ShippingRule{},
		commercetest.ProductSpec{Title: "西湖龙井", Category: "tea", Prices: []string{"139.00", "299.00"}, Stock: stock},
		commercetest.ProductSpec{Title: "福鼎白茶", Category: "tea", Prices: []string{"88.00"}, Stock: stock},
		commercetest.ProductSpec{Title: "青瓷杯", Category: "teaware", Prices: []string{"45.00", "45.00"}, Stock: stock},
		commercetest.ProductSpec{Title: "紫砂壶", Category: "teaware", Prices: []string{"368.00"}, Stock: stock})
	customers := httpapi.CustomersFunc(func(r *http.Request, _ commerce.MerchantID) (httpapi.Customer, error) {
		id := r.Header.Get("X-Customer")
		return httpapi.Customer{ID: commerce.CustomerID(id), OpenID: "o_" + id}, nil
	})
	return &benchShop{engine: e, shop: shop, handler: httpapi.NewCustomer(e, customers, httpapi.Config{})}
}

// serve sends one request through the handler and fails the benchmark
// unless it gets want.
func (s *benchShop) serve(b *testing.B, method, path, key string, body []byte, want int) {
	req, err := http.NewRequest(method, path, bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("X-Customer", "amy")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, req)
	if rec.Code != want {
		b.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
	}
}

func (s *benchShop) path(p string) string { return "/shops/" + s.shop.Merchant.ID.String() + p }

// lines are two lines of a typical order, for the kernel and as JSON.
func (s *benchShop) lines() ([]commerce.LineItem, []httpapi.LineRequest) {
	k := []commerce.LineItem{{SKU: s.shop.SKU(0, 0), Quantity: 2}, {SKU: s.shop.SKU(2, 1), Quantity: 1}}
	j := make([]httpapi.LineRequest, len(k))
	for i, l := range k {
		j[i] = httpapi.LineRequest{SKU: l.SKU.String(), Quantity: l.Quantity}
	}
	return k, j
}

func mustJSON(b *testing.B, v any) []byte {
	raw, err := json.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

func BenchmarkQuote(b *testing.B) {
	s := newBenchShop(b)
	ctx := context.Background()
	lines, jlines := s.lines()
	body := mustJSON(b, httpapi.QuoteRequest{Lines: jlines, NoCoupon: true})
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			// What the quote handler calls, with what it builds from the body.
			if _, err := s.engine.Commerce.Quote(ctx, commerce.QuoteParams{MerchantID: s.shop.Merchant.ID, CustomerID: "amy",
				Lines: lines, Extensions: commerce.With(coupons.NoCoupon())}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("http", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.serve(b, "POST", s.path("/quote"), "", body, http.StatusOK)
		}
	})
}

func BenchmarkProducts(b *testing.B) {
	s := newBenchShop(b)
	ctx := context.Background()
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			// The first page, as GET /shops/{merchant}/products asks for it.
			ps, err := s.engine.Commerce.ListProducts(ctx, s.shop.Merchant.ID, commerce.ProductQuery{State: commerce.Listed, Limit: 20})
			if err != nil || len(ps) != 4 {
				b.Fatal(len(ps), err)
			}
		}
	})
	b.Run("http", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.serve(b, "GET", s.path("/products"), "", nil, http.StatusOK)
		}
	})
}

func BenchmarkCheckout(b *testing.B) {
	s := newBenchShop(b)
	ctx := context.Background()
	lines, jlines := s.lines()
	addr := commercetest.Address()
	body := mustJSON(b, httpapi.CheckoutRequest{QuoteRequest: httpapi.QuoteRequest{Lines: jlines, NoCoupon: true},
		Address: &httpapi.Address{Name: addr.Name, Phone: addr.Phone, Province: addr.Province, City: addr.City, District: addr.District, Detail: addr.Detail}})
	n := 0 // a fresh idempotency key each iteration, across both halves
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n++
			if _, err := s.engine.Commerce.Checkout(ctx, commerce.CheckoutParams{MerchantID: s.shop.Merchant.ID, CustomerID: "amy",
				Lines: lines, IdempotencyKey: "k" + strconv.Itoa(n), ShippingAddress: addr, Extensions: commerce.With(coupons.NoCoupon())}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("http", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n++
			s.serve(b, "POST", s.path("/orders"), "k"+strconv.Itoa(n), body, http.StatusCreated)
		}
	})
}
