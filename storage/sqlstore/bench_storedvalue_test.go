package sqlstore_test

import (
	"testing"

	"github.com/minishop/minishop/storage/storetest"
)

// BenchmarkBalanceCheckout measures orders of one 20.00 unit placed and
// paid by 8 buyers on each dialect, half from the customer's balance and
// half through fakepay, against the same orders paid through fakepay alone
// on a fresh store (wechat-only-orders/s, ratio); see
// storetest.BenchBalanceCheckout.
//
//	go test -run x -bench BalanceCheckout -benchtime 2000x ./storage/sqlstore
func BenchmarkBalanceCheckout(b *testing.B) {
	for _, name := range []string{"SQLite", "Postgres", "MySQL"} {
		b.Run(name, func(b *testing.B) {
			skipBenchWithoutServer(b, name)
			h, trips := tripsHarness(name)
			storetest.BenchBalanceCheckout(b, h, 8, trips)
		})
	}
}

// BenchmarkRedeemCards measures redeeming 1,000 activated physical cards
// over 8 workers on each dialect (cards/s); see storetest.BenchRedeemCards.
//
//	go test -run x -bench RedeemCards -benchtime 1x ./storage/sqlstore
func BenchmarkRedeemCards(b *testing.B) {
	for _, name := range []string{"SQLite", "Postgres", "MySQL"} {
		b.Run(name, func(b *testing.B) {
			skipBenchWithoutServer(b, name)
			h, trips := tripsHarness(name)
			storetest.BenchRedeemCards(b, h, 1_000, trips)
		})
	}
}

// BenchmarkStatement measures reading an account's statement of 10,000
// entries on each dialect, in pages of 100; building the account takes a
// while (build-s). See storetest.BenchStatement.
//
//	go test -run x -bench Statement -benchtime 3x ./storage/sqlstore
func BenchmarkStatement(b *testing.B) {
	for _, name := range []string{"SQLite", "Postgres", "MySQL"} {
		b.Run(name, func(b *testing.B) {
			skipBenchWithoutServer(b, name)
			h, trips := tripsHarness(name)
			storetest.BenchStatement(b, h, 10_000, trips)
		})
	}
}
