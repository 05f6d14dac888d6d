package memory_test

import (
	"fmt"
	"testing"

	"github.com/minishop/minishop/storage/memory"
	"github.com/minishop/minishop/storage/storetest"
)

// BenchmarkClaim: go test -run x -bench Claim ./storage/memory
func BenchmarkClaim(b *testing.B) {
	h := storetest.Harness{New: func(testing.TB) storetest.Store { return memory.New() }}
	for _, shape := range []storetest.Shape{storetest.Spread, storetest.Hot} {
		for _, workers := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/goroutines=%d", shape, workers), func(b *testing.B) {
				storetest.BenchClaim(b, h, shape, workers)
			})
		}
	}
}

// BenchmarkCheckoutCoupons: go test -run x -bench CheckoutCoupons ./storage/memory
//
// For reference beside the SQL stores. The memory store finds a customer's
// coupons by scanning every coupon, so the modes without a selection
// (empty, best) slow down as the store fills up with b.N's coupons.
func BenchmarkCheckoutCoupons(b *testing.B) {
	h := storetest.Harness{New: func(testing.TB) storetest.Store { return memory.New() }}
	for _, mode := range storetest.CouponModes {
		for _, buyers := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/buyers=%d", mode, buyers), func(b *testing.B) {
				storetest.BenchCheckoutCoupons(b, h, mode, buyers)
			})
		}
	}
}
