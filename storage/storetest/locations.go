package storetest

import (
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/locations"
)

func runLocations(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"CreateUpdateList", testLocCRUD},
		{"OtherMerchantNotFound", testLocOtherMerchant},
		{"NearbyOrderAndRadius", testLocNearby},
		{"NearbyAcrossCells", testLocAcrossCells},
		{"OneMerchantOrAll", testLocMerchants},
		{"MoveMovesIndex", testLocMove},
		{"ConcurrentUpdates", testLocConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

type locEnv struct {
	t   *testing.T
	svc *locations.Service
}

func newLocEnv(t *testing.T, h Harness) *locEnv {
	t.Helper()
	svc, err := locations.New(locations.Config{Store: h.New(t), Clock: commercetest.NewClock(commercetest.Epoch), IDs: &commercetest.SeqIDs{}})
	require.NoError(t, err)
	return &locEnv{t: t, svc: svc}
}

func locMerchant(t testing.TB, n int) commerce.MerchantID {
	m, err := commerce.ParseID[commerce.MerchantID](fmt.Sprintf("0190b000-0000-7000-8000-%012d", n))
	require.NoError(t, err)
	return m
}

func (e *locEnv) create(m commerce.MerchantID, name string, lat, lon float64) *locations.Location {
	e.t.Helper()
	l, err := e.svc.Create(e.t.Context(), locations.LocationParams{MerchantID: m, Name: name,
		Address: locations.Address{Text: "上海市黄浦区 " + name, Country: "CN", City: "上海"},
		Point:   commerce.GeoPoint{Latitude: lat, Longitude: lon}, TimeZone: "Asia/Shanghai",
		Hours:      []commerce.OpeningPeriod{{Day: time.Friday, Open: "22:00", Close: "02:00"}, {Day: time.Saturday, Open: "10:00", Close: "20:00"}},
		Exceptions: []locations.Exception{{Date: "2026-02-21", Closed: true, Note: "盘点"}},
		Phone:      "+86 21 5555 0000", Pictures: []string{"https://img.example.com/" + name + ".jpg"}})
	require.NoError(e.t, err)
	return l
}

func (e *locEnv) nearby(q locations.NearbyQuery) []string {
	e.t.Helper()
	got, err := e.svc.Nearby(e.t.Context(), q)
	require.NoError(e.t, err)
	var out []string
	for i, n := range got {
		out = append(out, n.Location.Name)
		if i > 0 {
			assert.LessOrEqual(e.t, got[i-1].DistanceMeters, n.DistanceMeters)
		}
		assert.Equal(e.t, q.Point.DistanceTo(n.Location.Point), n.DistanceMeters)
	}
	return out
}

func testLocCRUD(t *testing.T, h Harness) {
	e := newLocEnv(t, h)
	ctx := t.Context()
	m := locMerchant(t, 1)
	var made []*locations.Location
	for i := range 7 {
		made = append(made, e.create(m, fmt.Sprintf("shop-%d", i), 31.23+float64(i)*0.001, 121.47))
	}
	got, err := e.svc.Get(ctx, m, made[3].ID)
	require.NoError(t, err)
	sameJSON(t, made[3], got)
	assert.True(t, got.OpenAt(time.Date(2026, 1, 2, 17, 30, 0, 0, time.UTC)), "Friday 01:30 Saturday in Shanghai")

	var all []locations.LocationID
	var after locations.LocationID
	for {
		page, err := e.svc.List(ctx, m, after, 3)
		require.NoError(t, err)
		for _, l := range page {
			all = append(all, l.ID)
		}
		if len(page) < 3 {
			break
		}
		after = page[len(page)-1].ID
	}
	require.Len(t, all, 7)
	for i, l := range made {
		assert.Equal(t, l.ID, all[i], "by id")
	}

	up, err := e.svc.Update(ctx, m, made[0].ID, func(l *locations.Location) error {
		l.Name = "renamed"
		l.Hours = append(l.Hours, commerce.OpeningPeriod{Day: time.Sunday, Open: "09:00", Close: "12:00"})
		return nil
	})
	require.NoError(t, err)
	assert.EqualValues(t, 2, up.Version)
	got, err = e.svc.Get(ctx, m, made[0].ID)
	require.NoError(t, err)
	sameJSON(t, up, got)

	// Refused updates name the field and leave the location as it was.
	_, err = e.svc.Update(ctx, m, made[0].ID, func(l *locations.Location) error {
		l.Hours = append(l.Hours, commerce.OpeningPeriod{Day: time.Saturday, Open: "01:00", Close: "03:00"})
		return nil
	})
	require.ErrorIs(t, err, commerce.ErrInvalid)
	var ce *commerce.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "hours[3]", ce.Field, "overlaps Friday 22:00–02:00")
	got, err = e.svc.Get(ctx, m, made[0].ID)
	require.NoError(t, err)
	assert.EqualValues(t, 2, got.Version)

	_, err = e.svc.Deactivate(ctx, m, made[1].ID)
	require.NoError(t, err)
	got, err = e.svc.Get(ctx, m, made[1].ID)
	require.NoError(t, err)
	assert.False(t, got.Active)
	assert.NotContains(t, e.nearby(locations.NearbyQuery{Point: made[1].Point, RadiusMeters: 10_000}), "shop-1")
	_, err = e.svc.Update(ctx, m, made[1].ID, func(l *locations.Location) error { l.Active = true; return nil })
	require.NoError(t, err)
	assert.Contains(t, e.nearby(locations.NearbyQuery{Point: made[1].Point, RadiusMeters: 10_000}), "shop-1")
}

func testLocOtherMerchant(t *testing.T, h Harness) {
	e := newLocEnv(t, h)
	ctx := t.Context()
	m, other := locMerchant(t, 1), locMerchant(t, 2)
	l := e.create(m, "mine", 31.23, 121.47)
	_, err := e.svc.Get(ctx, other, l.ID)
	require.ErrorIs(t, err, commerce.ErrNotFound)
	_, err = e.svc.Update(ctx, other, l.ID, func(l *locations.Location) error { l.Name = "theirs"; return nil })
	require.ErrorIs(t, err, commerce.ErrNotFound)
	_, err = e.svc.Deactivate(ctx, other, l.ID)
	require.ErrorIs(t, err, commerce.ErrNotFound)
	page, err := e.svc.List(ctx, other, locations.LocationID{}, 0)
	require.NoError(t, err)
	assert.Empty(t, page)
	assert.Empty(t, e.nearby(locations.NearbyQuery{Point: l.Point, RadiusMeters: 1000, Merchant: other}))
	got, err := e.svc.Get(ctx, m, l.ID)
	require.NoError(t, err)
	assert.Equal(t, "mine", got.Name)
}

func testLocNearby(t *testing.T, h Harness) {
	e := newLocEnv(t, h)
	m := locMerchant(t, 1)
	center := commerce.GeoPoint{Latitude: 31.2304, Longitude: 121.4737} // People's Square
	e.create(m, "lujiazui", 31.2397, 121.4998)
	e.create(m, "nanjing-road", 31.2355, 121.4750)
	e.create(m, "xintiandi", 31.2196, 121.4750)
	e.create(m, "hongqiao", 31.1979, 121.3363)
	edge := e.create(m, "edge", 31.2504, 121.4637)
	assert.Equal(t, []string{"nanjing-road", "xintiandi", "edge", "lujiazui", "hongqiao"},
		e.nearby(locations.NearbyQuery{Point: center, RadiusMeters: 20_000}))
	r := center.DistanceTo(edge.Point)
	assert.Contains(t, e.nearby(locations.NearbyQuery{Point: center, RadiusMeters: r}), "edge", "on the radius is within")
	assert.NotContains(t, e.nearby(locations.NearbyQuery{Point: center, RadiusMeters: math.Nextafter(r, 0)}), "edge")
	assert.Equal(t, []string{"nanjing-road", "xintiandi"}, e.nearby(locations.NearbyQuery{Point: center, RadiusMeters: 20_000, Limit: 2}))
	assert.Empty(t, e.nearby(locations.NearbyQuery{Point: commerce.GeoPoint{Latitude: 22.28, Longitude: 114.16}, RadiusMeters: 1000}))
	// Open on Saturday 2026-01-03 at 15:00 Shanghai; not on Saturday
	// 2026-02-21, closed for stocktaking, but Friday night's period still
	// runs to 02:00 that morning.
	assert.Len(t, e.nearby(locations.NearbyQuery{Point: center, RadiusMeters: 20_000, OpenAt: time.Date(2026, 1, 3, 7, 0, 0, 0, time.UTC)}), 5)
	assert.Empty(t, e.nearby(locations.NearbyQuery{Point: center, RadiusMeters: 20_000, OpenAt: time.Date(2026, 2, 21, 7, 0, 0, 0, time.UTC)}))
	assert.Len(t, e.nearby(locations.NearbyQuery{Point: center, RadiusMeters: 20_000, OpenAt: time.Date(2026, 2, 20, 17, 30, 0, 0, time.UTC)}), 5)
	for _, bad := range []float64{0, 20_000_000} {
		_, err := e.svc.Nearby(t.Context(), locations.NearbyQuery{Point: center, RadiusMeters: bad})
		var ce *commerce.Error
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, "radius", ce.Field)
	}
	_, err := e.svc.Nearby(t.Context(), locations.NearbyQuery{Point: commerce.GeoPoint{Latitude: 91}, RadiusMeters: 10})
	var ce *commerce.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "point.latitude", ce.Field)
}

// Points a hair either side of cell boundaries of every precision (22.5°
// N, 112.5° E is a corner of geohash cells from one character on), across
// the antimeridian and round a pole.
func testLocAcrossCells(t *testing.T, h Harness) {
	e := newLocEnv(t, h)
	m := locMerchant(t, 1)
	const d = 1e-6
	for _, c := range []struct {
		name   string
		center commerce.GeoPoint
		radius float64
	}{
		{"corner", commerce.GeoPoint{Latitude: 22.5, Longitude: 112.5}, 1},
		{"antimeridian", commerce.GeoPoint{Latitude: -16.5, Longitude: 180}, 1},
		{"pole", commerce.GeoPoint{Latitude: 90 - d, Longitude: 0}, 1},
	} {
		var names []string
		for i, off := range [][2]float64{{d / 2, d / 2}, {-d / 2, d / 2}, {d / 2, -d / 2}, {-d / 2, -d / 2}} {
			lat, lon := c.center.Latitude+off[0], c.center.Longitude+off[1]
			if lat > 90 {
				lat = 90
			}
			if lon > 180 {
				lon -= 360
			}
			if c.name == "pole" {
				lat, lon = 90-d/2, float64(i)*90-180 // four sides of the pole
			}
			name := fmt.Sprintf("%s-%d", c.name, i)
			e.create(m, name, lat, lon)
			names = append(names, name)
		}
		got := e.nearby(locations.NearbyQuery{Point: c.center, RadiusMeters: c.radius})
		assert.ElementsMatch(t, names, got, c.name)
		assert.ElementsMatch(t, names, e.nearby(locations.NearbyQuery{Point: c.center, RadiusMeters: 500_000, Merchant: m}), c.name)
	}
}

func testLocMerchants(t *testing.T, h Harness) {
	e := newLocEnv(t, h)
	a, b := locMerchant(t, 1), locMerchant(t, 2)
	e.create(a, "a-near", 31.2310, 121.4737)
	e.create(b, "b-near", 31.2320, 121.4737)
	e.create(a, "a-far", 31.2500, 121.4737)
	e.create(b, "b-far", 31.2600, 121.4737)
	center := commerce.GeoPoint{Latitude: 31.2304, Longitude: 121.4737}
	assert.Equal(t, []string{"a-near", "b-near", "a-far", "b-far"}, e.nearby(locations.NearbyQuery{Point: center, RadiusMeters: 5000}))
	assert.Equal(t, []string{"a-near", "a-far"}, e.nearby(locations.NearbyQuery{Point: center, RadiusMeters: 5000, Merchant: a}))
	assert.Equal(t, []string{"b-near", "b-far"}, e.nearby(locations.NearbyQuery{Point: center, RadiusMeters: 5000, Merchant: b}))
	assert.Equal(t, []string{"b-near"}, e.nearby(locations.NearbyQuery{Point: center, RadiusMeters: 5000, Merchant: b, Limit: 1}))
}

func testLocMove(t *testing.T, h Harness) {
	e := newLocEnv(t, h)
	ctx := t.Context()
	m := locMerchant(t, 1)
	l := e.create(m, "mover", 31.2304, 121.4737)
	old := l.Point
	hk := commerce.GeoPoint{Latitude: 22.2819, Longitude: 114.1582}
	_, err := e.svc.Update(ctx, m, l.ID, func(l *locations.Location) error {
		l.Point, l.TimeZone = hk, "Asia/Hong_Kong"
		return nil
	})
	require.NoError(t, err)
	for _, mm := range []commerce.MerchantID{{}, m} {
		assert.Empty(t, e.nearby(locations.NearbyQuery{Point: old, RadiusMeters: 1000, Merchant: mm}), "the old point no longer finds it")
		assert.Equal(t, []string{"mover"}, e.nearby(locations.NearbyQuery{Point: hk, RadiusMeters: 1000, Merchant: mm}))
	}
	// A move within its cell, and back to where it was.
	_, err = e.svc.Update(ctx, m, l.ID, func(l *locations.Location) error { l.Point.Latitude += 0.00001; return nil })
	require.NoError(t, err)
	assert.Empty(t, e.nearby(locations.NearbyQuery{Point: hk, RadiusMeters: 1}))
	_, err = e.svc.Update(ctx, m, l.ID, func(l *locations.Location) error { l.Point = old; return nil })
	require.NoError(t, err)
	assert.Equal(t, []string{"mover"}, e.nearby(locations.NearbyQuery{Point: old, RadiusMeters: 1}))
	assert.Empty(t, e.nearby(locations.NearbyQuery{Point: hk, RadiusMeters: 1000}))
	assert.Equal(t, []string{"mover"}, e.nearby(locations.NearbyQuery{Point: old, RadiusMeters: 1_000_000}), "one entry, not two")
}

// Concurrent updates of one location, each moving it somewhere else and
// renaming it: every update lands (compare-and-swap re-runs the losers on
// the winner's change), and the index holds exactly one live entry, at the
// last writer's point.
func testLocConcurrent(t *testing.T, h Harness) {
	e := newLocEnv(t, h)
	ctx := t.Context()
	m := locMerchant(t, 1)
	l := e.create(m, "racer", 31.2304, 121.4737)
	n := min(h.Concurrency, commerce.MaxPictures-1)
	points := make([]commerce.GeoPoint, n)
	for i := range points {
		points[i] = commerce.GeoPoint{Latitude: 31.0 + float64(i)*0.01, Longitude: 121.0 + float64(i%4)*0.05}
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = e.svc.Update(ctx, m, l.ID, func(l *locations.Location) error {
				l.Point = points[i]
				l.Pictures = append(l.Pictures, fmt.Sprintf("https://img.example.com/%d.jpg", i))
				return nil
			})
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	got, err := e.svc.Get(ctx, m, l.ID)
	require.NoError(t, err)
	assert.EqualValues(t, 1+n, got.Version)
	assert.Len(t, got.Pictures, 1+n, "no update lost")
	found := 0
	for _, p := range points {
		names := e.nearby(locations.NearbyQuery{Point: p, RadiusMeters: 1})
		if p == got.Point {
			assert.Equal(t, []string{"racer"}, names)
			found++
		} else {
			assert.Empty(t, names, "a loser's point keeps no entry")
		}
	}
	assert.Equal(t, 1, found)
	for _, mm := range []commerce.MerchantID{{}, m} {
		assert.Equal(t, []string{"racer"}, e.nearby(locations.NearbyQuery{Point: got.Point, RadiusMeters: 500_000, Merchant: mm}), "one live entry")
	}
}
