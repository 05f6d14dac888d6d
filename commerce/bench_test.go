package commerce_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
)

// BenchmarkQuote20Lines prices a 20-line order through Service.Quote on the
// memory store: validation, the merchant and product loads, line pricing,
// shipping and the adjuster pipeline.
//
//	go test -run x -bench Quote20Lines -benchmem ./commerce
func BenchmarkQuote20Lines(b *testing.B) {
	specs := make([]commercetest.ProductSpec, 20)
	for i := range specs {
		specs[i] = commercetest.ProductSpec{Title: fmt.Sprintf("Item %d", i), Category: "tea",
			Prices: []string{fmt.Sprintf("%d.%02d", 3+i*7, (i*37)%100)}, Stock: 1000}
	}
	var calls []string
	for _, bc := range []struct {
		name      string
		adjusters []commerce.Adjuster
	}{
		{"adjusters=0", nil},
		{"adjusters=2", []commerce.Adjuster{percentOff("member", "0.05", &calls), amountOff("coupons", "20.00", &calls)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := newEnv(b, commerce.Config{Adjusters: bc.adjusters},
				commerce.ShippingRule{Flat: commercetest.CNY("8.00"), FreeOver: commercetest.CNY("9999.00")}, specs...)
			lines := make([]commerce.LineItem, 20)
			for i := range lines {
				lines[i] = line(e.sku(i, 0), int64(1+i%4))
			}
			p := commerce.QuoteParams{MerchantID: e.merchant(), CustomerID: "c1", Lines: lines}
			q, err := e.svc.Quote(e.ctx, p)
			require.NoError(b, err)
			require.Len(b, q.Lines, 20)
			require.Len(b, q.Adjustments, len(bc.adjusters))
			b.ReportAllocs()
			for b.Loop() {
				calls = calls[:0]
				if _, err := e.svc.Quote(e.ctx, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
