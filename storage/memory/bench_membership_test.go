package memory_test

import (
	"fmt"
	"testing"

	"github.com/minishop/minishop/storage/memory"
	"github.com/minishop/minishop/storage/storetest"
)

func memoryHarness() storetest.Harness {
	return storetest.Harness{New: func(testing.TB) storetest.Store { return memory.New() }}
}

// BenchmarkCheckoutPoints: go test -run x -bench CheckoutPoints ./storage/memory
//
// Checkout through the Engine as a customer who is not a member (guest),
// as a member spending no points (member) and as the same member spending
// points (points, which also reports overhead-% against member); see
// storetest.BenchCheckoutPoints.
func BenchmarkCheckoutPoints(b *testing.B) {
	for _, mode := range storetest.PointsModes {
		for _, buyers := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/buyers=%d", mode, buyers), func(b *testing.B) {
				storetest.BenchCheckoutPoints(b, memoryHarness(), mode, buyers, nil)
			})
		}
	}
}

// BenchmarkCard10kEntries: go test -run x -bench Card10k ./storage/memory
//
// Membership.Card of a member with 10,000 ledger entries.
func BenchmarkCard10kEntries(b *testing.B) {
	storetest.BenchCard(b, memoryHarness(), 10_000, nil)
}

// BenchmarkReleasePending10k: go test -run x -bench ReleasePending -benchtime 1x ./storage/memory
//
// One Engine.RunDue completing 10,000 received orders and releasing their
// pending points (program=none: the same orders at a merchant without a
// program, the kernel's own share); see storetest.BenchReleasePending.
func BenchmarkReleasePending10k(b *testing.B) {
	for _, program := range []bool{true, false} {
		b.Run(programName(program), func(b *testing.B) {
			storetest.BenchReleasePending(b, memoryHarness(), 10_000, program, nil)
		})
	}
}

func programName(program bool) string {
	if program {
		return "program=points"
	}
	return "program=none"
}
