package sqlstore_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/minishop/minishop/storage/storetest"
)

// BenchmarkCheckoutShare measures checkout through the Engine on each
// dialect by 8 buyers in parallel, each of a two-line order of products in
// a 12 % public plan, without a share token (none) and through a
// promoter's shop link (share: the promoter is bound to an agency, so
// attribution verifies the token, reads the promoter and the plans and
// writes the order's metadata; the orders are not paid); see
// storetest.BenchCheckoutShare.
//
//	go test -run x -bench CheckoutShare ./storage/sqlstore
//
// Each sub-benchmark reports orders/s and stmts/order (the SQL statements
// one checkout ran, BEGIN and COMMIT aside); share also reports
// none-orders/s (the same orders without the token, on a fresh store,
// timed by hand) and overhead-%.
func BenchmarkCheckoutShare(b *testing.B) {
	for _, name := range []string{"SQLite", "Postgres", "MySQL"} {
		b.Run(name, func(b *testing.B) {
			skipBenchWithoutServer(b, name)
			h, stmts := countingHarness(name)
			for _, mode := range storetest.ShareModes {
				b.Run(fmt.Sprintf("%s/buyers=8", mode), func(b *testing.B) {
					storetest.BenchCheckoutShare(b, h, mode, 8, stmts)
				})
			}
		})
	}
}

// BenchmarkSettleCommission measures Engine.RunDue completing 10,000
// received orders, each attributed to a promoter, whose after-sales window
// has just closed: the kernel completes each order and the promoter hook
// settles its commission in the same transaction; see
// storetest.BenchSettleCommission. Building the orders takes a while
// (build-s): run it once.
//
//	go test -run x -bench SettleCommission -benchtime 1x ./storage/sqlstore
//
// MINISHOP_BENCH_SETTLE_ORDERS sets another number of orders.
func BenchmarkSettleCommission(b *testing.B) {
	orders := benchCount(b, "MINISHOP_BENCH_SETTLE_ORDERS", 10_000)
	for _, name := range []string{"SQLite", "Postgres", "MySQL"} {
		b.Run(name, func(b *testing.B) {
			skipBenchWithoutServer(b, name)
			h, stmts := countingHarness(name)
			storetest.BenchSettleCommission(b, h, orders, stmts)
		})
	}
}

// benchCount is the positive number in the environment variable env, or
// def when it is unset.
func benchCount(b *testing.B, env string, def int) int {
	v := os.Getenv(env)
	if v == "" {
		return def
	}
	var n int
	if _, err := fmt.Sscan(v, &n); err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive number", env, v)
	}
	return n
}
