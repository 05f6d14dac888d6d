package sqlstore_test

import (
	"fmt"
	"testing"

	"github.com/minishop/minishop/storage/storetest"
)

// BenchmarkFlash measures checkout through the Engine on each dialect by
// 32 buyers in parallel, every order one unit by a customer of its own:
// all on the one SKU of a flash sale, whose units lie in 16 pool records
// (flash), and each buyer on an ordinary SKU of its own, no campaign
// (ordinary); see storetest.BenchFlash.
//
//	go test -run x -bench Flash -benchtime 2000x ./storage/sqlstore
//
// Each sub-benchmark reports orders/s, p99-ms and trips/order; flash also
// reports the ordinary checkout's figures, placed after it on a fresh
// store and timed by hand (ordinary-orders/s, ordinary-p99-ms,
// ordinary-trips/order), and ratio (orders/s / ordinary-orders/s).
func BenchmarkFlash(b *testing.B) {
	for _, name := range []string{"SQLite", "Postgres", "MySQL"} {
		b.Run(name, func(b *testing.B) {
			skipBenchWithoutServer(b, name)
			h, trips := tripsHarness(name)
			for _, mode := range storetest.FlashModes {
				b.Run(fmt.Sprintf("%s/buyers=32", mode), func(b *testing.B) {
					storetest.BenchFlash(b, h, mode, 32, trips)
				})
			}
		})
	}
}

// BenchmarkGroupJoin measures 1,000 members joining 250 open groups of 5
// whose leaders have paid, on each dialect, over 8 workers: a join is a
// checkout taking a place on the group's record and its payment through
// fakepay, the last of a group forming it; see storetest.BenchGroupJoin.
// Opening the groups takes a while (build-s): run it once.
//
//	go test -run x -bench GroupJoin -benchtime 1x ./storage/sqlstore
//
// MINISHOP_BENCH_GROUP_MEMBERS sets another number of members (a multiple
// of 8 and 4).
func BenchmarkGroupJoin(b *testing.B) {
	members := benchCount(b, "MINISHOP_BENCH_GROUP_MEMBERS", 1_000)
	for _, name := range []string{"SQLite", "Postgres", "MySQL"} {
		b.Run(name, func(b *testing.B) {
			skipBenchWithoutServer(b, name)
			h, trips := tripsHarness(name)
			storetest.BenchGroupJoin(b, h, members, 5, 8, trips)
		})
	}
}

// BenchmarkGroupExpiry measures one Engine.RunDue failing 1,000 groups at
// their deadline and refunding each group's two paid members in full
// through fakepay, on each dialect, against refunding as many paid
// ordinary orders with commerce Refund on a fresh store (direct-refunds/s,
// ratio); see storetest.BenchGroupExpiry. Building the groups and the
// orders takes a while (build-s): run it once.
//
//	go test -run x -bench GroupExpiry -benchtime 1x ./storage/sqlstore
//
// MINISHOP_BENCH_GROUPS sets another number of groups.
func BenchmarkGroupExpiry(b *testing.B) {
	groups := benchCount(b, "MINISHOP_BENCH_GROUPS", 1_000)
	for _, name := range []string{"SQLite", "Postgres", "MySQL"} {
		b.Run(name, func(b *testing.B) {
			skipBenchWithoutServer(b, name)
			h, trips := tripsHarness(name)
			storetest.BenchGroupExpiry(b, h, groups, trips)
		})
	}
}

// tripsHarness is a harness of name whose stores count their round trips
// to the database (a pipeline once), for the campaign benchmarks.
func tripsHarness(name string) (storetest.Harness, func() int64) {
	tally := newStmtTally(name, false)
	h, _ := tallyingHarness(name, tally)
	return h, func() int64 { return int64(tally.snapshot().trips()) }
}
