package memory_test

import (
	"testing"

	"github.com/minishop/minishop/storage/storetest"
)

// BenchmarkBalanceCheckout: go test -run x -bench BalanceCheckout -benchtime 2000x ./storage/memory
//
// Orders placed and paid by 8 buyers, half from the balance and half
// through fakepay, against fakepay alone; see storetest.BenchBalanceCheckout.
func BenchmarkBalanceCheckout(b *testing.B) {
	storetest.BenchBalanceCheckout(b, memoryHarness(), 8, nil)
}

// BenchmarkRedeemCards: go test -run x -bench RedeemCards -benchtime 1x ./storage/memory
//
// 2,000 physical cards redeemed over 8 workers; see storetest.BenchRedeemCards.
func BenchmarkRedeemCards(b *testing.B) {
	storetest.BenchRedeemCards(b, memoryHarness(), 2_000, nil)
}

// BenchmarkStatement: go test -run x -bench Statement -benchtime 10x ./storage/memory
//
// Reading an account's statement of 10,000 entries; see storetest.BenchStatement.
func BenchmarkStatement(b *testing.B) {
	storetest.BenchStatement(b, memoryHarness(), 10_000, nil)
}
