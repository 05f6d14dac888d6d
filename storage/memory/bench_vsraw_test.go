package memory_test

import (
	"fmt"
	"testing"

	"github.com/minishop/minishop/storage/storetest"
)

// BenchmarkCheckoutVsRaw: go test -run x -bench CheckoutVsRaw -benchtime 2000x ./storage/memory
//
// The minishop side of sqlstore's BenchmarkCheckoutVsRaw on the memory
// store (there is no SQL to compare with): three-line orders through the
// Engine at 8 buyers, spread and hot, plain (coupons.NoCoupon() by a
// customer who is not a member) and with plugins (one coupon and points).
// It reports orders/s and p99-ms; see storetest.VsRawShop.
func BenchmarkCheckoutVsRaw(b *testing.B) {
	for _, shape := range []storetest.Shape{storetest.Spread, storetest.Hot} {
		for _, plugins := range []bool{false, true} {
			name := "plain"
			if plugins {
				name = "plugins"
			}
			b.Run(fmt.Sprintf("%s/buyers=8/%s", shape, name), func(b *testing.B) {
				storetest.BenchCheckoutVsRawRate(b, memoryHarness(), shape, 8, plugins)
			})
		}
	}
}
