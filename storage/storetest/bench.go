package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
)

// Shape is how benchmark buyers spread over SKUs.
type Shape string

// Shapes: each buyer on SKUs of its own, or every buyer on one hot SKU.
const (
	Spread Shape = "spread"
	Hot    Shape = "hot"
)

// BenchCheckout measures checkout throughput on the store: buyers
// goroutines each place b.N/buyers two-line orders (one line in the hot
// shape). It reports orders/s and, in the hot shape, fails if stock went
// below zero or more orders were placed than units existed.
func BenchCheckout(b *testing.B, h Harness, shape Shape, buyers int) {
	b.Helper()
	BenchCheckoutRate(b, h, shape, buyers)
}

// BenchCheckoutRate is BenchCheckout returning the orders/s it reported,
// for benchmarks that compare it with a baseline of their own.
func BenchCheckoutRate(b *testing.B, h Harness, shape Shape, buyers int) float64 {
	b.Helper()
	ctx := context.Background()
	store := h.New(b)
	svc, err := commerce.New(commerce.Config{Store: store})
	if err != nil {
		b.Fatal(err)
	}
	perBuyer := (b.N + buyers - 1) / buyers
	total := perBuyer * buyers
	var specs []commercetest.ProductSpec
	switch shape {
	case Spread:
		for i := 0; i < buyers; i++ {
			specs = append(specs, commercetest.ProductSpec{Title: fmt.Sprintf("p%d", i), Prices: []string{"19.90", "5.50"}, Stock: int64(perBuyer)})
		}
	case Hot:
		// Fewer units than orders: the last buyers must be refused, never oversold.
		specs = append(specs, commercetest.ProductSpec{Title: "hot", Prices: []string{"19.90"}, Stock: int64(total - total/10)})
	}
	shop := commercetest.NewShop(b, svc, "bench", commerce.ShippingRule{}, specs...)
	addr := commercetest.Address()
	var mu sync.Mutex
	placed := 0
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := 0; w < buyers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			customer := commerce.CustomerID(fmt.Sprintf("buyer-%d", w))
			ok := 0
			for i := 0; i < perBuyer; i++ {
				p := commerce.CheckoutParams{FromCart: true, MerchantID: shop.Merchant.ID, CustomerID: customer,
					IdempotencyKey: fmt.Sprintf("k%d", i), ShippingAddress: addr}
				if shape == Spread {
					p.Lines = []commerce.LineItem{{SKU: shop.SKU(w, 0), Quantity: 1}, {SKU: shop.SKU(w, 1), Quantity: 1}}
				} else {
					p.Lines = []commerce.LineItem{{SKU: shop.SKU(0, 0), Quantity: 1}}
				}
				_, err := svc.Checkout(ctx, p)
				switch {
				case err == nil:
					ok++
				case shape == Hot && commerce.KindOf(err) == commerce.KindFailedPrecondition:
				default:
					b.Error(err)
					return
				}
			}
			mu.Lock()
			placed += ok
			mu.Unlock()
		}()
	}
	wg.Wait()
	b.StopTimer()
	rate := float64(total) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "orders/s")
	if shape == Hot {
		p, err := svc.GetProduct(ctx, shop.Merchant.ID, shop.Products[0].ID)
		if err != nil {
			b.Fatal(err)
		}
		if want := total - total/10; placed != want || p.SKUs[0].Stock != 0 {
			b.Fatalf("hot SKU: %d orders placed for %d units, %d left", placed, want, p.SKUs[0].Stock)
		}
	}
	return rate
}
