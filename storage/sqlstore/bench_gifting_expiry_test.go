package sqlstore_test

import (
	"testing"

	"github.com/minishop/minishop/storage/storetest"
)

// BenchmarkExpireGifts measures gifting.Service.RunDue expiring 10,000
// one-friend gifts nobody accepted within their 24 hours and refunding
// their orders in full through the payment channel (fakepay), on each
// dialect; see storetest.BenchExpireGifts. Building the gifts takes a while
// (build-s): run it once.
//
//	go test -run x -bench ExpireGifts -benchtime 1x ./storage/sqlstore
//
// MINISHOP_BENCH_GIFTS sets another number of gifts.
func BenchmarkExpireGifts(b *testing.B) {
	gifts := benchCount(b, "MINISHOP_BENCH_GIFTS", 10_000)
	for _, name := range []string{"SQLite", "Postgres", "MySQL"} {
		b.Run(name, func(b *testing.B) {
			skipBenchWithoutServer(b, name)
			h, stmts := countingHarness(name)
			storetest.BenchExpireGifts(b, h, gifts, stmts)
		})
	}
}
