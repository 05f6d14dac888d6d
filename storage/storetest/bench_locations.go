package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/locations"
	"github.com/minishop/minishop/storage"
)

// readCounter counts the records a store hands back (GetRecord and
// RecordsBetween), for the records-read-per-query figure.
type readCounter struct {
	Store
	records atomic.Int64
}

func (c *readCounter) GetRecord(ctx context.Context, kind, key string) (storage.Record, error) {
	r, err := c.Store.GetRecord(ctx, kind, key)
	if err == nil {
		c.records.Add(1)
	}
	return r, err
}

func (c *readCounter) RecordsBetween(ctx context.Context, kind, from, to string, limit int) ([]storage.Record, error) {
	rs, err := c.Store.RecordsBetween(ctx, kind, from, to, limit)
	c.records.Add(int64(len(rs)))
	return rs, err
}

// City is the box most of BenchNearby's locations are in: about 39 km ×
// 43 km of Shanghai.
var benchCity = struct{ lat0, lat1, lon0, lon1 float64 }{31.05, 31.40, 121.25, 121.70}

// BenchNearby seeds n locations of 200 merchants, nine in ten spread
// evenly over a city (benchCity, about 55 a km²) and the rest over eastern
// China, in transactions of 500 (build-s), then measures Nearby from
// random points in the city, 20 nearest, for each shape: every merchant's
// within 500 m, 2 km and 5 km, and one merchant's within 5 km. It reports
// queries/s, records/query (index entries and locations the store
// returned), found/query and, when trips is set, trips/query.
//
// The benchmark calls b.Run, so the seeding runs once however many
// iterations the shapes take.
func BenchNearby(b *testing.B, h Harness, n int, trips func() int64) {
	b.Helper()
	if testing.Short() {
		n = min(n, 10_000)
	}
	ctx := context.Background()
	store := &readCounter{Store: h.New(b)}
	svc, err := locations.New(locations.Config{Store: store})
	if err != nil {
		b.Fatal(err)
	}
	merchants := make([]commerce.MerchantID, 200)
	for i := range merchants {
		merchants[i] = locMerchant(b, i+1)
	}
	rng := rand.New(rand.NewPCG(7, 11))
	city := func(r *rand.Rand) commerce.GeoPoint {
		return commerce.GeoPoint{Latitude: benchCity.lat0 + r.Float64()*(benchCity.lat1-benchCity.lat0),
			Longitude: benchCity.lon0 + r.Float64()*(benchCity.lon1-benchCity.lon0)}
	}
	hours := []commerce.OpeningPeriod{}
	for d := time.Sunday; d <= time.Saturday; d++ {
		hours = append(hours, commerce.OpeningPeriod{Day: d, Open: "10:00", Close: "22:00"})
	}
	start := time.Now()
	const perTx = 500
	labelled(phaseSetup, func() {
		for i := 0; i < n; i += perTx {
			err := store.InTx(ctx, func(ctx context.Context) error {
				for j := i; j < min(n, i+perTx); j++ {
					p := city(rng)
					if j%10 == 9 {
						p = commerce.GeoPoint{Latitude: 18 + rng.Float64()*27, Longitude: 100 + rng.Float64()*25}
					}
					_, err := svc.Create(ctx, locations.LocationParams{MerchantID: merchants[j%len(merchants)], Name: fmt.Sprintf("store %d", j),
						Address: locations.Address{Text: fmt.Sprintf("%d Nanjing Road", j), City: "Shanghai", Country: "CN"},
						Point:   p, TimeZone: "Asia/Shanghai", Hours: hours, Phone: "+86 21 5555 0000"})
					if err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	build := time.Since(start)
	queries := make([]commerce.GeoPoint, 1024)
	for i := range queries {
		queries[i] = city(rng)
	}
	for _, shape := range []struct {
		name     string
		radius   float64
		merchant bool
	}{
		{"radius=500m", 500, false},
		{"radius=2km", 2000, false},
		{"radius=5km", 5000, false},
		{"merchant/radius=5km", 5000, true},
	} {
		b.Run(shape.name, func(b *testing.B) {
			store.records.Store(0)
			before := count(trips)
			found := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				q := locations.NearbyQuery{Point: queries[i%len(queries)], RadiusMeters: shape.radius, Limit: 20}
				if shape.merchant {
					q.Merchant = merchants[i%len(merchants)]
				}
				got, err := svc.Nearby(ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				found += len(got)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
			b.ReportMetric(float64(store.records.Load())/float64(b.N), "records/query")
			b.ReportMetric(float64(found)/float64(b.N), "found/query")
			b.ReportMetric(build.Seconds(), "build-s")
			if trips != nil {
				b.ReportMetric(float64(count(trips)-before)/float64(b.N), "trips/query")
			}
		})
	}
}
