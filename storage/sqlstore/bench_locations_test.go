package sqlstore_test

import (
	"testing"

	"github.com/minishop/minishop/storage/storetest"
)

// BenchmarkNearby measures Nearby over 100,000 locations (10,000 with
// -short) on each dialect, most of them in a city, within 500 m, 2 km and
// 5 km of a point (queries/s, records/query, trips/query); seeding them
// takes a while (build-s). See storetest.BenchNearby.
//
//	go test -run x -bench Nearby ./storage/sqlstore
func BenchmarkNearby(b *testing.B) {
	for _, name := range []string{"SQLite", "Postgres", "MySQL"} {
		b.Run(name, func(b *testing.B) {
			skipBenchWithoutServer(b, name)
			h, trips := tripsHarness(name)
			storetest.BenchNearby(b, h, 100_000, trips)
		})
	}
}
