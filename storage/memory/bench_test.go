package memory_test

import (
	"fmt"
	"testing"

	"github.com/minishop/minishop/storage/memory"
	"github.com/minishop/minishop/storage/storetest"
)

// BenchmarkCheckout: go test -bench Checkout ./storage/memory
func BenchmarkCheckout(b *testing.B) {
	h := storetest.Harness{New: func(testing.TB) storetest.Store { return memory.New() }}
	for _, shape := range []storetest.Shape{storetest.Spread, storetest.Hot} {
		for _, buyers := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/buyers=%d", shape, buyers), func(b *testing.B) {
				storetest.BenchCheckout(b, h, shape, buyers)
			})
		}
	}
}
