package locations_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/locations"
	"github.com/minishop/minishop/storage/memory"
)

func newService(t testing.TB) *locations.Service {
	t.Helper()
	s, err := locations.New(locations.Config{Store: memory.New(), Clock: commercetest.NewClock(commercetest.Epoch), IDs: &commercetest.SeqIDs{}})
	require.NoError(t, err)
	return s
}

func merchant(t testing.TB, n int) commerce.MerchantID {
	m, err := commerce.ParseID[commerce.MerchantID](fmt.Sprintf("0190a000-0000-7000-8000-%012d", n))
	require.NoError(t, err)
	return m
}

func params(m commerce.MerchantID, name string, lat, lon float64) locations.LocationParams {
	return locations.LocationParams{MerchantID: m, Name: name, Point: commerce.GeoPoint{Latitude: lat, Longitude: lon},
		TimeZone: "Asia/Shanghai", Hours: []commerce.OpeningPeriod{period(time.Monday, "09:00", "21:00")}}
}

func fieldOf(err error) string {
	if e, ok := err.(*commerce.Error); ok {
		return e.Field
	}
	return ""
}

func TestValidation(t *testing.T) {
	s := newService(t)
	m := merchant(t, 1)
	cases := []struct {
		name, field string
		edit        func(p *locations.LocationParams)
	}{
		{"no merchant", "merchant_id", func(p *locations.LocationParams) { p.MerchantID = commerce.MerchantID{} }},
		{"no name", "name", func(p *locations.LocationParams) { p.Name = " " }},
		{"long name", "name", func(p *locations.LocationParams) { p.Name = string(make([]rune, 61)) }},
		{"latitude 91", "point.latitude", func(p *locations.LocationParams) { p.Point.Latitude = 91 }},
		{"latitude NaN", "point.latitude", func(p *locations.LocationParams) { p.Point.Latitude = math.NaN() }},
		{"longitude -180.5", "point.longitude", func(p *locations.LocationParams) { p.Point.Longitude = -180.5 }},
		{"longitude +Inf", "point.longitude", func(p *locations.LocationParams) { p.Point.Longitude = math.Inf(1) }},
		{"no zone", "time_zone", func(p *locations.LocationParams) { p.TimeZone = "" }},
		{"unknown zone", "time_zone", func(p *locations.LocationParams) { p.TimeZone = "Asia/Atlantis" }},
		{"Local", "time_zone", func(p *locations.LocationParams) { p.TimeZone = "Local" }},
		{"bad day", "hours[0].day", func(p *locations.LocationParams) { p.Hours[0].Day = 7 }},
		{"bad open", "hours[0].open", func(p *locations.LocationParams) { p.Hours[0].Open = "9:00" }},
		{"open 24:00", "hours[0].open", func(p *locations.LocationParams) { p.Hours[0].Open = "24:00" }},
		{"bad close", "hours[0].close", func(p *locations.LocationParams) { p.Hours[0].Close = "21:60" }},
		{"close is open", "hours[0].close", func(p *locations.LocationParams) { p.Hours[0].Close = "09:00" }},
		{"overlap", "hours[1]", func(p *locations.LocationParams) {
			p.Hours = append(p.Hours, period(time.Monday, "20:00", "22:00"))
		}},
		{"overnight overlaps next morning", "hours[2]", func(p *locations.LocationParams) {
			p.Hours = []commerce.OpeningPeriod{period(time.Monday, "22:00", "02:00"), period(time.Wednesday, "01:00", "03:00"), period(time.Tuesday, "01:30", "09:00")}
		}},
		{"Saturday night overlaps Sunday", "hours[1]", func(p *locations.LocationParams) {
			p.Hours = []commerce.OpeningPeriod{period(time.Sunday, "00:00", "08:00"), period(time.Saturday, "23:00", "00:30")}
		}},
		{"exception date", "exceptions[0].date", func(p *locations.LocationParams) {
			p.Exceptions = []locations.Exception{{Date: "2026-02-30", Closed: true}}
		}},
		{"exception twice", "exceptions[1].date", func(p *locations.LocationParams) {
			p.Exceptions = []locations.Exception{{Date: "2026-02-17", Closed: true}, {Date: "2026-02-17", Closed: true}}
		}},
		{"exception neither", "exceptions[0].periods", func(p *locations.LocationParams) {
			p.Exceptions = []locations.Exception{{Date: "2026-02-17"}}
		}},
		{"exception both", "exceptions[0].periods", func(p *locations.LocationParams) {
			p.Exceptions = []locations.Exception{{Date: "2026-02-17", Closed: true, Periods: []locations.Period{{Open: "10:00", Close: "12:00"}}}}
		}},
		{"exception overlap", "exceptions[0].periods[1]", func(p *locations.LocationParams) {
			p.Exceptions = []locations.Exception{{Date: "2026-02-17", Periods: []locations.Period{{Open: "10:00", Close: "12:00"}, {Open: "11:00", Close: "13:00"}}}}
		}},
		{"exception period", "exceptions[0].periods[0].close", func(p *locations.LocationParams) {
			p.Exceptions = []locations.Exception{{Date: "2026-02-17", Periods: []locations.Period{{Open: "10:00", Close: "x"}}}}
		}},
		{"http picture", "pictures[1]", func(p *locations.LocationParams) {
			p.Pictures = []string{"https://img.example.com/a.jpg", "http://img.example.com/b.jpg"}
		}},
		{"long phone", "phone", func(p *locations.LocationParams) { p.Phone = string(make([]rune, 201)) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := params(m, "Tea House", 31.23, 121.47)
			tc.edit(&p)
			_, err := s.Create(t.Context(), p)
			require.ErrorIs(t, err, commerce.ErrInvalid)
			assert.Equal(t, tc.field, fieldOf(err), "%v", err)
		})
	}
	ok := params(m, "Tea House", 90, -180)
	ok.Hours = []commerce.OpeningPeriod{period(time.Saturday, "22:00", "02:00"), period(time.Sunday, "02:00", "24:00"), period(time.Monday, "00:00", "01:00")}
	_, err := s.Create(t.Context(), ok)
	require.NoError(t, err, "periods that touch do not overlap")

	for _, r := range []float64{0, -1, 20_000_000, locations.MaxRadius + 1, math.NaN()} {
		_, err := s.Nearby(t.Context(), locations.NearbyQuery{Point: commerce.GeoPoint{Latitude: 31, Longitude: 121}, RadiusMeters: r})
		require.ErrorIs(t, err, commerce.ErrInvalid)
		assert.Equal(t, "radius", fieldOf(err))
	}
	_, err = s.Nearby(t.Context(), locations.NearbyQuery{Point: commerce.GeoPoint{Latitude: 91, Longitude: 121}, RadiusMeters: 1000})
	assert.Equal(t, "point.latitude", fieldOf(err))
}

// vincenty is the distance on the WGS-84 ellipsoid (Vincenty's inverse
// formula), the reference the sphere is held to.
func vincenty(a, b commerce.GeoPoint) float64 {
	const A, f = 6378137.0, 1 / 298.257223563
	const B = A * (1 - f)
	rad := math.Pi / 180
	L := (b.Longitude - a.Longitude) * rad
	U1, U2 := math.Atan((1-f)*math.Tan(a.Latitude*rad)), math.Atan((1-f)*math.Tan(b.Latitude*rad))
	sinU1, cosU1, sinU2, cosU2 := math.Sin(U1), math.Cos(U1), math.Sin(U2), math.Cos(U2)
	λ := L
	var sinσ, cosσ, σ, cos2α, cos2σm float64
	for range 200 {
		sinλ, cosλ := math.Sin(λ), math.Cos(λ)
		sinσ = math.Hypot(cosU2*sinλ, cosU1*sinU2-sinU1*cosU2*cosλ)
		cosσ = sinU1*sinU2 + cosU1*cosU2*cosλ
		σ = math.Atan2(sinσ, cosσ)
		sinα := cosU1 * cosU2 * sinλ / sinσ
		cos2α = 1 - sinα*sinα
		cos2σm = cosσ - 2*sinU1*sinU2/cos2α
		C := f / 16 * cos2α * (4 + f*(4-3*cos2α))
		prev := λ
		λ = L + (1-C)*f*sinα*(σ+C*sinσ*(cos2σm+C*cosσ*(-1+2*cos2σm*cos2σm)))
		if math.Abs(λ-prev) < 1e-12 {
			break
		}
	}
	u2 := cos2α * (A*A - B*B) / (B * B)
	bigA := 1 + u2/16384*(4096+u2*(-768+u2*(320-175*u2)))
	bigB := u2 / 1024 * (256 + u2*(-128+u2*(74-47*u2)))
	dσ := bigB * sinσ * (cos2σm + bigB/4*(cosσ*(-1+2*cos2σm*cos2σm)-bigB/6*cos2σm*(-3+4*sinσ*sinσ)*(-3+4*cos2σm*cos2σm)))
	return B * bigA * (σ - dσ)
}

func TestDistance(t *testing.T) {
	peoplesSquare := commerce.GeoPoint{Latitude: 31.2304, Longitude: 121.4737}
	lujiazui := commerce.GeoPoint{Latitude: 31.2397, Longitude: 121.4998} // the Oriental Pearl Tower
	for _, c := range []struct {
		name string
		a, b commerce.GeoPoint
		km   float64 // published great-circle figure, when there is one
	}{
		{"People's Square–Lujiazui", peoplesSquare, lujiazui, 2.69},
		{"Shanghai–Beijing", peoplesSquare, commerce.GeoPoint{Latitude: 39.9042, Longitude: 116.4074}, 1067},
		{"London–Paris", commerce.GeoPoint{Latitude: 51.5074, Longitude: -0.1278}, commerce.GeoPoint{Latitude: 48.8566, Longitude: 2.3522}, 343.5},
		{"Shanghai–Hong Kong", peoplesSquare, commerce.GeoPoint{Latitude: 22.3193, Longitude: 114.1694}, 1228},
	} {
		d := c.a.DistanceTo(c.b)
		assert.InEpsilon(t, vincenty(c.a, c.b), d, 0.005, "%s: %.0f m against the ellipsoid's", c.name, d)
		assert.InEpsilon(t, c.km*1000, d, 0.005, c.name)
		assert.Equal(t, d, c.b.DistanceTo(c.a))
	}
	// A degree of longitude on the equator is 2πR/360.
	assert.InDelta(t, 2*math.Pi*commerce.EarthRadius/360, commerce.GeoPoint{}.DistanceTo(commerce.GeoPoint{Longitude: 1}), 1e-6)
	assert.InDelta(t, math.Pi*commerce.EarthRadius, commerce.GeoPoint{Latitude: 90}.DistanceTo(commerce.GeoPoint{Latitude: -90}), 1e-6)
	assert.Zero(t, lujiazui.DistanceTo(lujiazui))
}

func TestCRUD(t *testing.T) {
	s := newService(t)
	ctx := t.Context()
	m, other := merchant(t, 1), merchant(t, 2)
	var ids []locations.LocationID
	for i := range 5 {
		l, err := s.Create(ctx, params(m, fmt.Sprintf("Shop %d", i), 31.23+float64(i)/100, 121.47))
		require.NoError(t, err)
		assert.True(t, l.Active)
		assert.EqualValues(t, 1, l.Version)
		ids = append(ids, l.ID)
	}
	_, err := s.Create(ctx, params(other, "Theirs", 31.23, 121.47))
	require.NoError(t, err)
	_, err = s.Get(ctx, other, ids[0])
	require.ErrorIs(t, err, commerce.ErrNotFound)
	_, err = s.Update(ctx, other, ids[0], func(l *locations.Location) error { l.Name = "stolen"; return nil })
	require.ErrorIs(t, err, commerce.ErrNotFound)

	page, err := s.List(ctx, m, locations.LocationID{}, 2)
	require.NoError(t, err)
	require.Len(t, page, 2)
	page2, err := s.List(ctx, m, page[1].ID, 10)
	require.NoError(t, err)
	require.Len(t, page2, 3)
	assert.Equal(t, ids[2], page2[0].ID)

	l, err := s.Update(ctx, m, ids[0], func(l *locations.Location) error {
		l.Name, l.Version, l.MerchantID = "Renamed", 99, other
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, "Renamed", l.Name)
	assert.EqualValues(t, 2, l.Version)
	assert.Equal(t, m, l.MerchantID)
	_, err = s.Update(ctx, m, ids[0], func(l *locations.Location) error { l.Point.Latitude = 91; return nil })
	assert.Equal(t, "point.latitude", fieldOf(err))
	got, err := s.Get(ctx, m, ids[0])
	require.NoError(t, err)
	assert.Equal(t, "Renamed", got.Name)

	_, err = s.Deactivate(ctx, m, ids[1])
	require.NoError(t, err)
	near, err := s.Nearby(ctx, locations.NearbyQuery{Point: commerce.GeoPoint{Latitude: 31.24, Longitude: 121.47}, RadiusMeters: 50_000, Merchant: m})
	require.NoError(t, err)
	assert.Len(t, near, 4, "the closed location is not found")
}

func TestNearbyEdges(t *testing.T) {
	s := newService(t)
	ctx := t.Context()
	m, other := merchant(t, 1), merchant(t, 2)
	center := commerce.GeoPoint{Latitude: 31.2304, Longitude: 121.4737}
	mk := func(mm commerce.MerchantID, name string, lat, lon float64) *locations.Location {
		l, err := s.Create(ctx, params(mm, name, lat, lon))
		require.NoError(t, err)
		return l
	}
	a := mk(m, "a", 31.2310, 121.4737)
	b := mk(m, "b", 31.2397, 121.4998)
	tie1 := mk(m, "tie1", 31.2404, 121.4737) // the same distance north and south
	tie2 := mk(other, "tie2", 31.2204, 121.4737)
	far := mk(other, "far", 31.5, 121.9)
	names := func(ns []locations.Nearby) []string {
		var out []string
		for _, n := range ns {
			out = append(out, n.Location.Name)
		}
		return out
	}
	q := locations.NearbyQuery{Point: center, RadiusMeters: 5000}
	got, err := s.Nearby(ctx, q)
	require.NoError(t, err)
	dTie := center.DistanceTo(tie1.Point)
	want := []string{"a", "tie1", "tie2", "b"}
	if center.DistanceTo(tie2.Point) != dTie {
		t.Logf("tie distances differ by %g m", center.DistanceTo(tie2.Point)-dTie)
	}
	if tie2.ID.Compare(tie1.ID) < 0 && center.DistanceTo(tie2.Point) == dTie {
		want = []string{"a", "tie2", "tie1", "b"}
	}
	assert.Equal(t, want, names(got))
	for i := 1; i < len(got); i++ {
		assert.LessOrEqual(t, got[i-1].DistanceMeters, got[i].DistanceMeters)
	}
	assert.Equal(t, a.ID, got[0].Location.ID)
	assert.InDelta(t, center.DistanceTo(a.Point), got[0].DistanceMeters, 1e-9)

	// The edge is inside.
	q.RadiusMeters = center.DistanceTo(b.Point)
	got, err = s.Nearby(ctx, q)
	require.NoError(t, err)
	assert.Contains(t, names(got), "b")
	q.RadiusMeters = math.Nextafter(q.RadiusMeters, 0)
	got, err = s.Nearby(ctx, q)
	require.NoError(t, err)
	assert.NotContains(t, names(got), "b")

	// One merchant, a limit.
	got, err = s.Nearby(ctx, locations.NearbyQuery{Point: center, RadiusMeters: 100_000, Merchant: other})
	require.NoError(t, err)
	assert.Equal(t, []string{"tie2", "far"}, names(got))
	got, err = s.Nearby(ctx, locations.NearbyQuery{Point: center, RadiusMeters: 100_000, Limit: 2})
	require.NoError(t, err)
	assert.Len(t, got, 2)
	_ = far

	// Open now: a's Monday hours; others moved to Tuesday.
	_, err = s.Update(ctx, m, b.ID, func(l *locations.Location) error {
		l.Hours = []commerce.OpeningPeriod{period(time.Tuesday, "09:00", "21:00")}
		return nil
	})
	require.NoError(t, err)
	monday := at(t, "Asia/Shanghai", "2026-01-05 10:00")
	got, err = s.Nearby(ctx, locations.NearbyQuery{Point: center, RadiusMeters: 5000, Merchant: m, OpenAt: monday})
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "tie1"}, names(got))

	// Moving a location moves its entry.
	_, err = s.Update(ctx, m, a.ID, func(l *locations.Location) error {
		l.Point = commerce.GeoPoint{Latitude: 22.2783, Longitude: 114.1747}
		return nil
	})
	require.NoError(t, err)
	got, err = s.Nearby(ctx, locations.NearbyQuery{Point: center, RadiusMeters: 500})
	require.NoError(t, err)
	assert.Empty(t, got)
	got, err = s.Nearby(ctx, locations.NearbyQuery{Point: commerce.GeoPoint{Latitude: 22.28, Longitude: 114.175}, RadiusMeters: 500, Merchant: m})
	require.NoError(t, err)
	assert.Equal(t, []string{"a"}, names(got))
	// And back: the old entry comes back to life.
	_, err = s.Update(ctx, m, a.ID, func(l *locations.Location) error {
		l.Point = commerce.GeoPoint{Latitude: 31.2310, Longitude: 121.4737}
		return nil
	})
	require.NoError(t, err)
	got, err = s.Nearby(ctx, locations.NearbyQuery{Point: center, RadiusMeters: 500})
	require.NoError(t, err)
	assert.Equal(t, []string{"a"}, names(got))
}

// Nearby agrees with a brute-force scan, over points clustered around
// cell boundaries, the antimeridian and the poles.
func TestNearbyAgainstBruteForce(t *testing.T) {
	s := newService(t)
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(1, 2))
	m := []commerce.MerchantID{merchant(t, 1), merchant(t, 2), merchant(t, 3)}
	anchors := []commerce.GeoPoint{
		{Latitude: 31.2304, Longitude: 121.4737}, // Shanghai
		{Latitude: 0, Longitude: 180},            // the antimeridian on the equator
		{Latitude: -16.5, Longitude: -179.99},    // Fiji, across the antimeridian
		{Latitude: 89.99, Longitude: 10},         // the North Pole
		{Latitude: -89.95, Longitude: -120},      // the South Pole
		{Latitude: 0, Longitude: 0},              // where four top-level cells meet
		{Latitude: 22.5, Longitude: 112.5},       // a corner of cells at several precisions
	}
	var all []*locations.Location
	for i := range 1500 {
		a := anchors[i%len(anchors)]
		spread := []float64{0.002, 0.05, 1}[rng.IntN(3)]
		p := commerce.GeoPoint{Latitude: a.Latitude + (rng.Float64()*2-1)*spread, Longitude: a.Longitude + (rng.Float64()*2-1)*spread}
		p.Latitude = max(-90, min(90, p.Latitude))
		if p.Longitude > 180 {
			p.Longitude -= 360
		} else if p.Longitude < -180 {
			p.Longitude += 360
		}
		l, err := s.Create(ctx, params(m[i%3], fmt.Sprintf("l%d", i), p.Latitude, p.Longitude))
		require.NoError(t, err)
		all = append(all, l)
	}
	for i := range 300 {
		a := anchors[i%len(anchors)]
		c := commerce.GeoPoint{Latitude: max(-90, min(90, a.Latitude+(rng.Float64()*2-1)*0.5)), Longitude: a.Longitude + (rng.Float64()*2-1)*0.5}
		if c.Longitude > 180 {
			c.Longitude -= 360
		} else if c.Longitude < -180 {
			c.Longitude += 360
		}
		r := []float64{50, 300, 2000, 20_000, 150_000, 1_000_000}[i%6]
		var mm commerce.MerchantID
		if i%4 == 0 {
			mm = m[i%3]
		}
		got, err := s.Nearby(ctx, locations.NearbyQuery{Point: c, RadiusMeters: r, Merchant: mm, Limit: 1000})
		require.NoError(t, err)
		type hit struct {
			id locations.LocationID
			d  float64
		}
		var want []hit
		for _, l := range all {
			if d := c.DistanceTo(l.Point); d <= r && (mm.IsZero() || l.MerchantID == mm) {
				want = append(want, hit{l.ID, d})
			}
		}
		slices.SortFunc(want, func(a, b hit) int {
			if a.d != b.d {
				if a.d < b.d {
					return -1
				}
				return 1
			}
			return a.id.Compare(b.id)
		})
		want = want[:min(len(want), 1000)]
		require.Len(t, got, len(want), "query %d at %v radius %v", i, c, r)
		for j := range want {
			require.Equal(t, want[j].id, got[j].Location.ID, "query %d result %d", i, j)
			require.Equal(t, want[j].d, got[j].DistanceMeters)
		}
	}
}
