package memory_test

import (
	"fmt"
	"testing"

	"github.com/minishop/minishop/storage/storetest"
)

// BenchmarkFlash: go test -run x -bench Flash -benchtime 2000x ./storage/memory
//
// Checkout through the Engine by 32 buyers, every order by a customer of
// its own: all on one flash-sale SKU (flash, which also reports
// ordinary-orders/s, ordinary-p99-ms and ratio against the ordinary
// checkout run after it) and each buyer on an ordinary SKU of its own
// (ordinary); see storetest.BenchFlash.
func BenchmarkFlash(b *testing.B) {
	for _, mode := range storetest.FlashModes {
		b.Run(fmt.Sprintf("%s/buyers=32", mode), func(b *testing.B) {
			storetest.BenchFlash(b, memoryHarness(), mode, 32, nil)
		})
	}
}

// BenchmarkGroupJoin: go test -run x -bench GroupJoin -benchtime 1x ./storage/memory
//
// 1,000 members joining (checkout and payment) 250 open groups of 5 whose
// leaders have paid, over 8 workers; see storetest.BenchGroupJoin.
func BenchmarkGroupJoin(b *testing.B) {
	storetest.BenchGroupJoin(b, memoryHarness(), 1_000, 5, 8, nil)
}

// BenchmarkGroupExpiry: go test -run x -bench GroupExpiry -benchtime 1x ./storage/memory
//
// One Engine.RunDue failing 10,000 groups at their deadline and refunding
// their 20,000 paid members through fakepay, against refunding as many paid
// orders with commerce Refund; see storetest.BenchGroupExpiry.
func BenchmarkGroupExpiry(b *testing.B) {
	storetest.BenchGroupExpiry(b, memoryHarness(), 10_000, nil)
}
