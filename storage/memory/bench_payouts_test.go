package memory_test

import (
	"testing"

	"github.com/minishop/minishop/storage/storetest"
)

// BenchmarkPayoutRun: go test -run x -bench PayoutRun -benchtime 1x ./storage/memory
//
// promoter.Service.RunDue paying 10,000 settled commissions by transfer
// against the local WeChat Pay platform, and the payees' acceptances
// marking them paid; see storetest.BenchPayoutRun.
func BenchmarkPayoutRun(b *testing.B) {
	storetest.BenchPayoutRun(b, memoryHarness(), 10_000)
}
