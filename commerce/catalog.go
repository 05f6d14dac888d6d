package commerce

import (
	"fmt"
	"math"
	"regexp"
	"time"

	"golang.org/x/text/currency"
)

// Merchant is a shop: every other record belongs to exactly one merchant,
// and no query returns another merchant's data.
type Merchant struct {
	ID       MerchantID
	Currency currency.Unit // every price of the shop is in this currency
	Profile  ShopProfile
	Shipping ShippingRule
	// Created and Updated are set by the service.
	Created, Updated time.Time
}

// ShopProfile is what a customer sees of a shop.
type ShopProfile struct {
	Name         string
	Introduction string
	OpeningHours []OpeningPeriod
	Contact      string // phone number or customer-service handle
	Location     *GeoPoint
	Pictures     []string // http(s) URLs: logo first, then banners
}

// OpeningPeriod says that the shop is open on Day from Open to Close, both
// "HH:MM" in the shop's local time. Close may be "24:00".
type OpeningPeriod struct {
	Day         time.Weekday
	Open, Close string
}

// GeoPoint is a WGS-84 position.
type GeoPoint struct {
	Latitude, Longitude float64
}

// Check refuses a latitude outside [-90, 90] or a longitude outside
// [-180, 180], NaN and infinities included, naming field.latitude or
// field.longitude.
func (p GeoPoint) Check(op, field string) error {
	if !(p.Latitude >= -90 && p.Latitude <= 90) {
		return Invalid(op, field+".latitude", "%v is outside [-90, 90]", p.Latitude)
	}
	if !(p.Longitude >= -180 && p.Longitude <= 180) {
		return Invalid(op, field+".longitude", "%v is outside [-180, 180]", p.Longitude)
	}
	return nil
}

// EarthRadius is the mean Earth radius (IUGG, R1) in meters that
// DistanceTo uses.
const EarthRadius = 6371008.8

// DistanceTo returns the great-circle distance from p to q in meters: the
// haversine formula on a sphere of radius EarthRadius. Against the WGS-84
// ellipsoid it errs by at most about 0.5 %.
func (p GeoPoint) DistanceTo(q GeoPoint) float64 {
	const rad = math.Pi / 180
	φ1, φ2 := p.Latitude*rad, q.Latitude*rad
	dφ := φ2 - φ1
	dλ := (q.Longitude - p.Longitude) * rad
	s1, s2 := math.Sin(dφ/2), math.Sin(dλ/2)
	h := s1*s1 + math.Cos(φ1)*math.Cos(φ2)*s2*s2
	return 2 * EarthRadius * math.Asin(math.Sqrt(min(1, h)))
}

// ShippingRule prices delivery: a flat fee per order, free when the
// merchandise subtotal (before discounts) reaches FreeOver. A zero Flat means
// free delivery; an unset FreeOver means no threshold.
type ShippingRule struct {
	Flat     Money
	FreeOver Money
}

var hhmm = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$`)

func (m *Merchant) validate(op string) error {
	c := checker{op: op}
	if _, err := ParseCurrency(m.Currency.String()); err != nil || m.Currency == (currency.Unit{}) {
		c.fail("currency", "required: an ISO 4217 code")
	}
	p := &m.Profile
	c.text("profile.name", p.Name, true, MaxNameLen)
	c.text("profile.introduction", p.Introduction, false, MaxTextLen)
	c.text("profile.contact", p.Contact, false, MaxShortTextLen)
	c.pictures("profile.pictures", p.Pictures)
	if len(p.OpeningHours) > 50 {
		c.fail("profile.opening_hours", "more than 50 periods")
	}
	for i, h := range p.OpeningHours {
		f := fmt.Sprintf("profile.opening_hours[%d]", i)
		switch {
		case h.Day < time.Sunday || h.Day > time.Saturday:
			c.fail(f+".day", "not a weekday: %d", h.Day)
		case !hhmm.MatchString(h.Open) || h.Open == "24:00":
			c.fail(f+".open", "want HH:MM, got %q", h.Open)
		case !hhmm.MatchString(h.Close):
			c.fail(f+".close", "want HH:MM, got %q", h.Close)
		case h.Close <= h.Open:
			c.fail(f+".close", "%s is not after opening time %s", h.Close, h.Open)
		}
	}
	if l := p.Location; l != nil && c.err == nil {
		c.err = l.Check(c.op, "profile.location")
	}
	cur := Zero(m.Currency)
	if m.Shipping.Flat.IsSet() {
		c.money("shipping.flat", m.Shipping.Flat, cur)
	}
	if m.Shipping.FreeOver.IsSet() {
		c.money("shipping.free_over", m.Shipping.FreeOver, cur)
	}
	return c.err
}

// ListingState says whether customers can buy a product.
type ListingState string

// Listing states: a product is created as a draft, listed for sale, and
// delisted when withdrawn (it can be listed again).
const (
	Draft    ListingState = "draft"
	Listed   ListingState = "listed"
	Delisted ListingState = "delisted"
)

// Product is a thing a merchant sells, in one or more SKUs.
type Product struct {
	ID          ProductID
	MerchantID  MerchantID
	Title       string
	Description string
	Category    string // the host's category code; fees and gift rules key on it
	Pictures    []string
	State       ListingState
	SKUs        []SKU
	// Created and Updated are set by the service.
	Created, Updated time.Time
}

// SKU is one buyable variant of a product: a colour and size, say.
type SKU struct {
	ID         SKUID
	Attributes []Attribute // spec attributes in display order: colour=red, size=M
	Price      Money
	// Stock is the number of units on hand. It is set when a SKU is created
	// and read back from the store; later changes go through
	// Service.AdjustStock and checkout, never through UpdateProduct, so a
	// product edit can never overwrite a concurrent sale.
	Stock int64
	// PurchaseLimit is how many units one customer may buy in total over
	// orders that are not cancelled or refunded; 0 means no limit.
	PurchaseLimit int64
}

// Clone returns a deep copy.
func (m *Merchant) Clone() *Merchant {
	cp := *m
	cp.Profile.OpeningHours = append([]OpeningPeriod(nil), m.Profile.OpeningHours...)
	cp.Profile.Pictures = append([]string(nil), m.Profile.Pictures...)
	if m.Profile.Location != nil {
		l := *m.Profile.Location
		cp.Profile.Location = &l
	}
	return &cp
}

// Attribute is one spec of a SKU.
type Attribute struct {
	Name, Value string
}

// SKU returns the SKU with the given ID.
func (p *Product) SKU(id SKUID) (*SKU, bool) {
	for i := range p.SKUs {
		if p.SKUs[i].ID == id {
			return &p.SKUs[i], true
		}
	}
	return nil, false
}

// MaxStock bounds a SKU's stock and any stock change.
const MaxStock = 1_000_000_000

func (p *Product) validate(op string, cur currency.Unit) error {
	c := checker{op: op}
	c.text("title", p.Title, true, MaxNameLen)
	c.text("description", p.Description, false, MaxTextLen)
	c.text("category", p.Category, false, MaxShortTextLen)
	c.pictures("pictures", p.Pictures)
	switch p.State {
	case Draft, Listed, Delisted:
	default:
		c.fail("state", "unknown listing state %q", p.State)
	}
	if len(p.SKUs) == 0 {
		c.fail("skus", "a product needs at least one SKU")
	}
	if len(p.SKUs) > MaxSKUsPerProduct {
		c.fail("skus", "more than %d SKUs", MaxSKUsPerProduct)
	}
	seen := make(map[string]bool, len(p.SKUs))
	for i, s := range p.SKUs {
		f := fmt.Sprintf("skus[%d]", i)
		c.money(f+".price", s.Price, Zero(cur))
		if s.Stock < 0 || s.Stock > MaxStock {
			c.fail(f+".stock", "%d is outside [0, %d]", s.Stock, MaxStock)
		}
		if s.PurchaseLimit < 0 || s.PurchaseLimit > MaxStock {
			c.fail(f+".purchase_limit", "%d is outside [0, %d]", s.PurchaseLimit, MaxStock)
		}
		if len(s.Attributes) > MaxAttributes {
			c.fail(f+".attributes", "more than %d attributes", MaxAttributes)
		}
		for j, a := range s.Attributes {
			c.text(fmt.Sprintf("%s.attributes[%d].name", f, j), a.Name, true, MaxNameLen)
			c.text(fmt.Sprintf("%s.attributes[%d].value", f, j), a.Value, true, MaxNameLen)
		}
		key := fmt.Sprint(s.Attributes)
		if seen[key] {
			c.fail(f+".attributes", "two SKUs share the spec %v", s.Attributes)
		}
		seen[key] = true
	}
	return c.err
}

// Clone returns a deep copy; empty slices come back nil. The SKUs'
// attributes share one allocation (see arena): checkout reads, so copies,
// every product it prices.
func (p *Product) Clone() *Product {
	cp := *p
	cp.Pictures = append([]string(nil), p.Pictures...)
	cp.SKUs = make([]SKU, len(p.SKUs))
	n := 0
	for _, s := range p.SKUs {
		n += len(s.Attributes)
	}
	attrs := newArena[Attribute](n)
	for i, s := range p.SKUs {
		s.Attributes = attrs.clone(s.Attributes)
		if len(s.Attributes) == 0 {
			s.Attributes = nil
		}
		cp.SKUs[i] = s
	}
	return &cp
}
