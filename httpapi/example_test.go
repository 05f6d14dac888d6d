package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	minishop "github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/httpapi"
	"github.com/minishop/minishop/storage/memory"
)

// A host mounts the customer API under its own prefix; its session check
// names the customer.
func ExampleNewCustomer() {
	engine, _ := minishop.New(memory.New())
	shop, _ := engine.Commerce.CreateMerchant(context.Background(), commerce.MerchantParams{Currency: "CNY", Profile: commerce.ShopProfile{Name: "茶庄"}})
	sessions := httpapi.CustomersFunc(func(r *http.Request, _ commerce.MerchantID) (httpapi.Customer, error) {
		if tok := r.Header.Get("Authorization"); tok == "Bearer amy-session" {
			return httpapi.Customer{ID: "amy", OpenID: "o_amy"}, nil
		}
		return httpapi.Customer{}, httpapi.ErrUnauthenticated
	})
	mux := http.NewServeMux()
	mux.Handle("/api/", http.StripPrefix("/api", httpapi.NewCustomer(engine, sessions, httpapi.Config{})))

	req := httptest.NewRequest("GET", "/api/shops/"+shop.ID.String()+"/cart", nil)
	req.Header.Set("Authorization", "Bearer amy-session")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	fmt.Print(rec.Code, " ", rec.Body.String())

	req.Header.Del("Authorization")
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output:
	// 200 {"lines":[]}
	// 401 {"error":{"kind":"unauthenticated","message":"unauthenticated"}}
}
