package locations

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/minishop/minishop/commerce"
)

type locationTag struct{}

// LocationID identifies a location.
type LocationID = commerce.ID[locationTag]

// Location is one of a merchant's physical stores: a shop with a door,
// where customers walk in.
type Location struct {
	ID         LocationID
	MerchantID commerce.MerchantID
	Name       string
	Address    Address
	// Point is where the door is (WGS-84).
	Point commerce.GeoPoint
	// TimeZone is the IANA name of the zone the hours are in
	// ("Asia/Shanghai", "Asia/Hong_Kong", "Europe/London").
	TimeZone string
	// Hours are the regular weekly hours: periods of a weekday, "HH:MM"
	// wall-clock times in TimeZone. A period whose Close is not after its
	// Open (22:00–02:00) runs past midnight into the next day; Close may
	// be "24:00". A day may have several periods (lunch break); periods
	// must not overlap, an overnight one included.
	Hours []commerce.OpeningPeriod `json:",omitempty"`
	// Exceptions replace the regular hours of a date (a holiday).
	Exceptions []Exception `json:",omitempty"`
	Phone      string      `json:",omitempty"`
	Pictures   []string    `json:",omitempty"` // https URLs
	// Active is false once the location is closed for good: it stays
	// readable (Get, List) but Nearby no longer finds it.
	Active bool
	// Version is 1 once created and grows by one with each update.
	Version          int64
	Created, Updated time.Time
}

// Address is where a location is, for people: Text as it is written on
// a letter, and the structured parts when known.
type Address struct {
	Text       string `json:",omitempty"` // "上海市黄浦区南京东路 100 号"
	Country    string `json:",omitempty"` // ISO 3166-1 alpha-2: "CN", "HK"
	Region     string `json:",omitempty"` // province, state
	City       string `json:",omitempty"`
	District   string `json:",omitempty"`
	Street     string `json:",omitempty"`
	PostalCode string `json:",omitempty"`
}

// Period is an opening period of an exception's date: Open to Close,
// "HH:MM" in the location's zone, running past midnight when Close is not
// after Open, as in Location.Hours.
type Period struct {
	Open, Close string
}

// Exception replaces the regular hours of one date (a holiday, a
// stocktaking day, longer hours on a festival's eve).
//
// Rule: an exception governs the periods that begin on its date. An
// overnight period of the day before (Friday 22:00–02:00 before a
// Saturday holiday) still ends as scheduled, and an exception's own
// overnight period runs into the next day.
type Exception struct {
	Date string // "2006-01-02", in the location's zone
	// Closed closes the location all day; otherwise Periods are the
	// date's hours instead of the weekday's.
	Closed  bool     `json:",omitempty"`
	Periods []Period `json:",omitempty"`
	Note    string   `json:",omitempty"` // "Chinese New Year"
}

// LocationParams are what a merchant writes of a location.
type LocationParams struct {
	MerchantID commerce.MerchantID
	Name       string
	Address    Address
	Point      commerce.GeoPoint
	TimeZone   string
	Hours      []commerce.OpeningPeriod
	Exceptions []Exception
	Phone      string
	Pictures   []string
}

// Limits of a location's fields.
const (
	MaxPeriods    = 50  // weekly periods of a location, and periods of an exception
	MaxExceptions = 200 // dated exceptions of a location
)

func (p LocationParams) location() *Location {
	return &Location{MerchantID: p.MerchantID, Name: p.Name, Address: p.Address, Point: p.Point, TimeZone: p.TimeZone,
		Hours: slices.Clone(p.Hours), Exceptions: slices.Clone(p.Exceptions), Phone: p.Phone, Pictures: slices.Clone(p.Pictures), Active: true}
}

// Validate checks the location's fields, returning a KindInvalid
// *commerce.Error naming the first field at fault ("point.latitude",
// "hours[2]", "exceptions[0].date").
func (l *Location) Validate() error { return l.validate("locations.validate") }

func (l *Location) validate(op string) error {
	if err := commerce.CheckID(op, "merchant_id", l.MerchantID); err != nil {
		return err
	}
	if err := commerce.CheckText(op, "name", l.Name, true, commerce.MaxNameLen); err != nil {
		return err
	}
	a := l.Address
	for _, f := range []struct{ name, v string }{{"address.text", a.Text}, {"address.country", a.Country}, {"address.region", a.Region},
		{"address.city", a.City}, {"address.district", a.District}, {"address.street", a.Street}, {"address.postal_code", a.PostalCode}} {
		if err := commerce.CheckText(op, f.name, f.v, false, commerce.MaxShortTextLen); err != nil {
			return err
		}
	}
	if err := l.Point.Check(op, "point"); err != nil {
		return err
	}
	if _, err := zone(op, l.TimeZone); err != nil {
		return err
	}
	if err := checkHours(op, l.Hours); err != nil {
		return err
	}
	if err := checkExceptions(op, l.Exceptions); err != nil {
		return err
	}
	if err := commerce.CheckText(op, "phone", l.Phone, false, commerce.MaxShortTextLen); err != nil {
		return err
	}
	if len(l.Pictures) > commerce.MaxPictures {
		return commerce.Invalid(op, "pictures", "more than %d pictures", commerce.MaxPictures)
	}
	for i, u := range l.Pictures {
		f := fmt.Sprintf("pictures[%d]", i)
		if len(u) > commerce.MaxURLLen {
			return commerce.Invalid(op, f, "longer than %d bytes", commerce.MaxURLLen)
		}
		if p, err := url.Parse(u); err != nil || p.Scheme != "https" || p.Host == "" {
			return commerce.Invalid(op, f, "not an https URL: %q", short(u))
		}
	}
	return nil
}

func short(s string) string {
	if r := []rune(s); len(r) > 60 {
		return string(r[:60]) + "…"
	}
	return s
}

// zone loads an IANA time zone; "" and "Local" are refused (a location
// says where it is).
func zone(op, name string) (*time.Location, error) {
	if name == "" {
		return nil, commerce.Invalid(op, "time_zone", "required: an IANA zone such as \"Asia/Shanghai\"")
	}
	if name == "Local" || strings.TrimSpace(name) != name {
		return nil, commerce.Invalid(op, "time_zone", "%q is not an IANA zone", short(name))
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, commerce.Invalid(op, "time_zone", "unknown time zone %q", short(name))
	}
	return loc, nil
}

// zones caches the zones loaded (time.LoadLocation reads and parses the
// zone's file each time).
var zones sync.Map // name → *time.Location

func loadZone(name string) (*time.Location, bool) {
	if z, ok := zones.Load(name); ok {
		return z.(*time.Location), true
	}
	if name == "" || name == "Local" {
		return nil, false
	}
	z, err := time.LoadLocation(name)
	if err != nil {
		return nil, false
	}
	zones.Store(name, z)
	return z, true
}

// clock parses "HH:MM" (00:00 to 24:00) into minutes after midnight.
func clock(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	d := func(c byte) (int, bool) { return int(c - '0'), c >= '0' && c <= '9' }
	h1, ok1 := d(s[0])
	h2, ok2 := d(s[1])
	m1, ok3 := d(s[3])
	m2, ok4 := d(s[4])
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return 0, false
	}
	h, m := h1*10+h2, m1*10+m2
	if m > 59 || h > 24 || h == 24 && m != 0 {
		return 0, false
	}
	return h*60 + m, true
}

// span returns a period's minutes after its day's midnight: end is past
// 1440 for an overnight period.
func span(open, close string) (start, end int, ok bool) {
	o, ok1 := clock(open)
	c, ok2 := clock(close)
	if !ok1 || !ok2 || o == 24*60 || o == c {
		return 0, 0, false
	}
	if c < o {
		c += 24 * 60
	}
	return o, c, true
}

func checkPeriod(op, field, open, close string) (int, int, error) {
	o, ok := clock(open)
	if !ok || o == 24*60 {
		return 0, 0, commerce.Invalid(op, field+".open", "want HH:MM from 00:00 to 23:59, got %q", short(open))
	}
	c, ok := clock(close)
	if !ok {
		return 0, 0, commerce.Invalid(op, field+".close", "want HH:MM from 00:00 to 24:00, got %q", short(close))
	}
	if c == o || c == 0 && o == 0 {
		return 0, 0, commerce.Invalid(op, field+".close", "%s is the opening time (open all day is 00:00–24:00)", close)
	}
	s, e, _ := span(open, close)
	return s, e, nil
}

var dayNames = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

const week = 7 * 24 * 60

// checkHours refuses malformed periods and two periods that overlap on
// the week's circle: Saturday 22:00–02:00 overlaps Sunday 01:00–09:00.
func checkHours(op string, hours []commerce.OpeningPeriod) error {
	if len(hours) > MaxPeriods {
		return commerce.Invalid(op, "hours", "more than %d periods", MaxPeriods)
	}
	type iv struct{ s, e int }
	seen := make([]iv, 0, len(hours))
	for i, h := range hours {
		f := fmt.Sprintf("hours[%d]", i)
		if h.Day < time.Sunday || h.Day > time.Saturday {
			return commerce.Invalid(op, f+".day", "not a weekday: %d", h.Day)
		}
		s, e, err := checkPeriod(op, f, h.Open, h.Close)
		if err != nil {
			return err
		}
		cur := iv{int(h.Day)*24*60 + s, int(h.Day)*24*60 + e}
		for j, o := range seen {
			for _, shift := range []int{-week, 0, week} {
				if cur.s < o.e+shift && o.s+shift < cur.e {
					p := hours[j]
					return commerce.Invalid(op, f, "%s %s–%s overlaps hours[%d] (%s %s–%s)", dayNames[h.Day], h.Open, h.Close, j, dayNames[p.Day], p.Open, p.Close)
				}
			}
		}
		seen = append(seen, cur)
	}
	return nil
}

const dateLayout = "2006-01-02"

func checkExceptions(op string, exs []Exception) error {
	if len(exs) > MaxExceptions {
		return commerce.Invalid(op, "exceptions", "more than %d exceptions", MaxExceptions)
	}
	dates := map[string]int{}
	for i, x := range exs {
		f := fmt.Sprintf("exceptions[%d]", i)
		if d, err := time.Parse(dateLayout, x.Date); err != nil || d.Format(dateLayout) != x.Date {
			return commerce.Invalid(op, f+".date", "want YYYY-MM-DD, got %q", short(x.Date))
		}
		if j, dup := dates[x.Date]; dup {
			return commerce.Invalid(op, f+".date", "%s is also exceptions[%d]", x.Date, j)
		}
		dates[x.Date] = i
		if err := commerce.CheckText(op, f+".note", x.Note, false, commerce.MaxShortTextLen); err != nil {
			return err
		}
		switch {
		case x.Closed && len(x.Periods) > 0:
			return commerce.Invalid(op, f+".periods", "a date closed all day has no periods")
		case !x.Closed && len(x.Periods) == 0:
			return commerce.Invalid(op, f+".periods", "required unless the date is closed")
		case len(x.Periods) > MaxPeriods:
			return commerce.Invalid(op, f+".periods", "more than %d periods", MaxPeriods)
		}
		var seen [][2]int
		for j, p := range x.Periods {
			pf := fmt.Sprintf("%s.periods[%d]", f, j)
			s, e, err := checkPeriod(op, pf, p.Open, p.Close)
			if err != nil {
				return err
			}
			for k, o := range seen {
				if s < o[1] && o[0] < e {
					return commerce.Invalid(op, pf, "%s–%s overlaps periods[%d] (%s–%s)", p.Open, p.Close, k, x.Periods[k].Open, x.Periods[k].Close)
				}
			}
			seen = append(seen, [2]int{s, e})
		}
	}
	return nil
}

// ---- open or closed ----

// OpenAt reports whether the location is open at t, in its own zone.
func (l *Location) OpenAt(t time.Time) bool {
	open, _ := l.Status(t)
	return open
}

// horizon is how far ahead Status looks for the next change.
const horizon = 15 // days

// Status reports whether the location is open at t and when that next
// changes (it opens, or closes), both computed on wall-clock times in the
// location's zone: a period 09:00–21:00 is 09:00 to 21:00 local time on
// every day, the days that summer time starts or ends included (a wall
// time that a spring-forward skips is read as Go's time.Date reads it,
// one hour later). Periods that touch (Monday 22:00–24:00 and Tuesday
// 00:00–02:00) are one stretch. next is zero when nothing changes within
// two weeks (open around the clock, or no hours at all), and open is
// false for a location whose zone cannot be loaded.
func (l *Location) Status(t time.Time) (open bool, next time.Time) {
	loc, ok := loadZone(l.TimeZone)
	if !ok {
		return false, time.Time{}
	}
	local := t.In(loc)
	y, m, d := local.Date()
	spans := l.spans(loc, y, m, d-1, horizon+1)
	end := time.Date(y, m, d-1+horizon+1, 0, 0, 0, 0, loc)
	for _, s := range spans {
		switch {
		case !t.Before(s[0]) && t.Before(s[1]):
			if !s[1].Before(end) {
				return true, time.Time{}
			}
			return true, s[1]
		case s[0].After(t):
			return false, s[0]
		}
	}
	return false, time.Time{}
}

// spans returns the stretches the location is open that begin on the
// days from the date y-m-d on, for days days, by start, touching and
// overlapping stretches merged.
func (l *Location) spans(loc *time.Location, y int, m time.Month, d, days int) [][2]time.Time {
	var exs map[string]*Exception
	if len(l.Exceptions) > 0 {
		exs = make(map[string]*Exception, len(l.Exceptions))
		for i := range l.Exceptions {
			exs[l.Exceptions[i].Date] = &l.Exceptions[i]
		}
	}
	var out [][2]time.Time
	add := func(day time.Time, open, close string) {
		s, e, ok := span(open, close)
		if !ok {
			return
		}
		dy, dm, dd := day.Date()
		a := time.Date(dy, dm, dd, s/60, s%60, 0, 0, loc)
		b := time.Date(dy, dm, dd+e/(24*60), e%(24*60)/60, e%60, 0, 0, loc)
		if b.After(a) {
			out = append(out, [2]time.Time{a, b})
		}
	}
	for k := range days {
		day := time.Date(y, m, d+k, 12, 0, 0, 0, time.UTC) // a civil date
		if x, ok := exs[day.Format(dateLayout)]; ok {
			for _, p := range x.Periods {
				add(day, p.Open, p.Close)
			}
			continue
		}
		for _, h := range l.Hours {
			if h.Day == day.Weekday() {
				add(day, h.Open, h.Close)
			}
		}
	}
	slices.SortFunc(out, func(a, b [2]time.Time) int { return a[0].Compare(b[0]) })
	merged := out[:0]
	for _, s := range out {
		if n := len(merged); n > 0 && !s[0].After(merged[n-1][1]) {
			if s[1].After(merged[n-1][1]) {
				merged[n-1][1] = s[1]
			}
			continue
		}
		merged = append(merged, s)
	}
	return merged
}
