package memory_test

import (
	"testing"

	"github.com/minishop/minishop/storage/storetest"
)

// BenchmarkNearby: go test -run x -bench Nearby ./storage/memory
//
// Nearby over 100,000 locations (10,000 with -short), most of them in a
// city, within 500 m, 2 km and 5 km of a point; see storetest.BenchNearby.
func BenchmarkNearby(b *testing.B) {
	storetest.BenchNearby(b, memoryHarness(), 100_000, nil)
}
