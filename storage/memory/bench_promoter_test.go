package memory_test

import (
	"fmt"
	"testing"

	"github.com/minishop/minishop/storage/storetest"
)

// BenchmarkCheckoutShare: go test -run x -bench CheckoutShare ./storage/memory
//
// Checkout through the Engine by 8 buyers, without a share token (none) and
// through a promoter's shop link (share, which also reports overhead-%
// against none); see storetest.BenchCheckoutShare.
func BenchmarkCheckoutShare(b *testing.B) {
	for _, mode := range storetest.ShareModes {
		b.Run(fmt.Sprintf("%s/buyers=8", mode), func(b *testing.B) {
			storetest.BenchCheckoutShare(b, memoryHarness(), mode, 8, nil)
		})
	}
}

// BenchmarkSettleCommission: go test -run x -bench SettleCommission -benchtime 1x ./storage/memory
//
// Engine.RunDue completing 10,000 received orders attributed to promoters
// and settling their commissions; see storetest.BenchSettleCommission.
func BenchmarkSettleCommission(b *testing.B) {
	storetest.BenchSettleCommission(b, memoryHarness(), 10_000, nil)
}
