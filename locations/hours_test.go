package locations_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/locations"
)

func at(t *testing.T, zone, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	require.NoError(t, err)
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	require.NoError(t, err)
	return v
}

func period(d time.Weekday, open, close string) commerce.OpeningPeriod {
	return commerce.OpeningPeriod{Day: d, Open: open, Close: close}
}

// 2026-01-02 is a Friday.
func TestOvernightPeriod(t *testing.T) {
	l := &locations.Location{TimeZone: "Asia/Shanghai", Hours: []commerce.OpeningPeriod{
		period(time.Friday, "22:00", "02:00"), period(time.Saturday, "10:00", "14:00"), period(time.Saturday, "17:00", "24:00"),
		period(time.Sunday, "00:00", "03:00")}}
	z := "Asia/Shanghai"
	assert.False(t, l.OpenAt(at(t, z, "2026-01-02 21:59")))
	assert.True(t, l.OpenAt(at(t, z, "2026-01-02 22:00")), "opening minute is open")
	assert.True(t, l.OpenAt(at(t, z, "2026-01-03 01:00")), "Friday's period runs into Saturday")
	assert.False(t, l.OpenAt(at(t, z, "2026-01-03 02:00")), "closing minute is closed")
	open, next := l.Status(at(t, z, "2026-01-03 01:00"))
	assert.True(t, open)
	assert.Equal(t, at(t, z, "2026-01-03 02:00"), next)
	open, next = l.Status(at(t, z, "2026-01-03 03:00"))
	assert.False(t, open)
	assert.Equal(t, at(t, z, "2026-01-03 10:00"), next)
	// Saturday 17:00–24:00 and Sunday 00:00–03:00 are one stretch.
	open, next = l.Status(at(t, z, "2026-01-03 23:00"))
	assert.True(t, open)
	assert.Equal(t, at(t, z, "2026-01-04 03:00"), next)
	// Next opening a week ahead.
	open, next = l.Status(at(t, z, "2026-01-04 04:00"))
	assert.False(t, open)
	assert.Equal(t, at(t, z, "2026-01-09 22:00"), next)
	// Open around the clock: no change in sight.
	all := &locations.Location{TimeZone: z}
	for d := time.Sunday; d <= time.Saturday; d++ {
		all.Hours = append(all.Hours, period(d, "00:00", "24:00"))
	}
	open, next = all.Status(at(t, z, "2026-01-04 04:00"))
	assert.True(t, open)
	assert.True(t, next.IsZero())
	open, next = (&locations.Location{TimeZone: z}).Status(at(t, z, "2026-01-04 04:00"))
	assert.False(t, open)
	assert.True(t, next.IsZero())
}

func TestExceptions(t *testing.T) {
	z := "Asia/Shanghai"
	l := &locations.Location{TimeZone: z, Hours: []commerce.OpeningPeriod{
		period(time.Friday, "22:00", "02:00"), period(time.Saturday, "09:00", "18:00"), period(time.Sunday, "09:00", "18:00")},
		Exceptions: []locations.Exception{
			{Date: "2026-01-03", Closed: true, Note: "holiday"},
			{Date: "2026-01-04", Periods: []locations.Period{{Open: "12:00", Close: "14:00"}, {Open: "20:00", Close: "01:00"}}},
		}}
	assert.True(t, l.OpenAt(at(t, z, "2026-01-03 01:30")), "Friday's overnight period ends as scheduled on the holiday")
	assert.False(t, l.OpenAt(at(t, z, "2026-01-03 10:00")), "the holiday closes Saturday")
	open, next := l.Status(at(t, z, "2026-01-03 10:00"))
	assert.False(t, open)
	assert.Equal(t, at(t, z, "2026-01-04 12:00"), next, "Sunday's special hours, not 09:00")
	assert.False(t, l.OpenAt(at(t, z, "2026-01-04 10:00")))
	assert.True(t, l.OpenAt(at(t, z, "2026-01-04 13:00")))
	assert.True(t, l.OpenAt(at(t, z, "2026-01-05 00:30")), "the exception's overnight period runs into Monday")
	assert.False(t, l.OpenAt(at(t, z, "2026-01-05 01:00")))
	assert.True(t, l.OpenAt(at(t, z, "2026-01-10 10:00")), "the next Saturday has its regular hours")
}

// In 2026 British Summer Time starts on 29 March (01:00 GMT becomes 02:00
// BST) and ends on 25 October (02:00 BST becomes 01:00 GMT).
func TestSummerTimeLondon(t *testing.T) {
	z := "Europe/London"
	l := &locations.Location{TimeZone: z, Hours: []commerce.OpeningPeriod{
		period(time.Sunday, "00:00", "03:00"), period(time.Sunday, "09:00", "17:00")}}
	utc := func(s string) time.Time {
		v, err := time.Parse("2006-01-02 15:04", s)
		require.NoError(t, err)
		return v
	}
	// 09:00 local is 09:00 GMT in winter, 08:00 UTC in summer.
	assert.False(t, l.OpenAt(utc("2026-03-22 08:30")))
	assert.True(t, l.OpenAt(utc("2026-03-29 08:30")), "09:00 BST is 08:00 UTC")
	assert.True(t, l.OpenAt(utc("2026-03-29 15:30")))
	assert.False(t, l.OpenAt(utc("2026-03-29 16:00")), "17:00 BST is 16:00 UTC")
	// 00:00–03:00 local on the spring-forward night lasts two hours.
	assert.True(t, l.OpenAt(utc("2026-03-29 01:30")), "02:30 BST")
	assert.False(t, l.OpenAt(utc("2026-03-29 02:00")), "03:00 BST")
	_, next := l.Status(utc("2026-03-29 00:30"))
	assert.True(t, utc("2026-03-29 02:00").Equal(next), "%v", next)
	// And four on the fall-back night.
	assert.True(t, l.OpenAt(utc("2026-10-25 02:30")), "02:30 GMT")
	assert.False(t, l.OpenAt(utc("2026-10-25 03:00")))
	assert.False(t, l.OpenAt(utc("2026-10-25 08:30")), "08:30 GMT")
	assert.True(t, l.OpenAt(utc("2026-10-25 09:00")))
}

// One instant, three zones: 2026-01-05 03:30 UTC is Monday 11:30 in
// Shanghai and Hong Kong and Sunday 19:30 in Los Angeles.
func TestSameInstantThreeZones(t *testing.T) {
	now := time.Date(2026, 1, 5, 3, 30, 0, 0, time.UTC)
	var hours []commerce.OpeningPeriod
	for d := time.Sunday; d <= time.Saturday; d++ {
		hours = append(hours, period(d, "10:00", "19:00"))
	}
	want := map[string]bool{"Asia/Shanghai": true, "Asia/Hong_Kong": true, "America/Los_Angeles": false}
	for zone, open := range want {
		l := &locations.Location{TimeZone: zone, Hours: hours}
		assert.Equal(t, open, l.OpenAt(now), zone)
	}
	la := &locations.Location{TimeZone: "America/Los_Angeles", Hours: hours}
	_, next := la.Status(now)
	assert.True(t, time.Date(2026, 1, 5, 18, 0, 0, 0, time.UTC).Equal(next), "Monday 10:00 PST: %v", next)
	hk := &locations.Location{TimeZone: "Asia/Hong_Kong", Hours: hours}
	_, next = hk.Status(now)
	assert.True(t, time.Date(2026, 1, 5, 11, 0, 0, 0, time.UTC).Equal(next), "19:00 HKT: %v", next)
}
