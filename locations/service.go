package locations

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/internal/records"
	"github.com/minishop/minishop/storage"
)

// Store is what the service keeps its locations and their index in:
// keyed records on a transactor. storage/memory and storage/sqlstore
// implement it; storage/storetest holds the contract.
type Store interface {
	storage.Transactor
	storage.Records
}

// Config wires a Service.
type Config struct {
	Store Store
	Clock commerce.Clock
	IDs   commerce.IDGenerator
}

// Service keeps merchants' locations and finds them near a point.
type Service struct {
	store Store
	clock commerce.Clock
	ids   commerce.IDGenerator
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, commerce.Invalid("locations.new", "store", "required")
	}
	s := &Service{store: cfg.Store, clock: cfg.Clock, ids: cfg.IDs}
	if s.clock == nil {
		s.clock = commerce.SystemClock()
	}
	if s.ids == nil {
		s.ids = commerce.UUIDv7()
	}
	return s, nil
}

func (s *Service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Microsecond) }

// Record kinds.
const (
	// kindLocation holds a location under merchant:id.
	kindLocation = "location"
	// kindCell is the index of every merchant's locations: an entry
	// under cell:id, cell the geohash of its point (cellPrecision).
	kindCell = "location_cell"
	// kindMerchantCell is each merchant's own index: merchant:cell:id.
	kindMerchantCell = "location_mcell"
)

// Meta implements records.Doc.
func (l Location) Meta() (string, time.Time) {
	if l.Active {
		return "active", time.Time{}
	}
	return "inactive", time.Time{}
}

// entry is an index record: where a location is. An entry whose
// location moved to another cell, or closed, is kept as Gone (records
// are never deleted) and made live again if the location comes back.
type entry struct {
	ID       LocationID          `json:"id"`
	Merchant commerce.MerchantID `json:"m"`
	Lat      float64             `json:"lat"`
	Lon      float64             `json:"lon"`
	Gone     bool                `json:"gone,omitempty"`
}

func (e entry) Meta() (string, time.Time) {
	if e.Gone {
		return "gone", time.Time{}
	}
	return "", time.Time{}
}

func locationKey(m commerce.MerchantID, id LocationID) string { return m.String() + ":" + id.String() }

// indexKeys returns the location's keys in the global and the merchant's
// index.
func indexKeys(l *Location) (global, merchant string) {
	c := cellOf(l.Point)
	return c + ":" + l.ID.String(), l.MerchantID.String() + ":" + c + ":" + l.ID.String()
}

func notFound(op string, err error) error {
	if errors.Is(err, storage.ErrNotFound) {
		return &commerce.Error{Op: op, Kind: commerce.KindNotFound, Field: "id", Err: err}
	}
	return commerce.Wrap(op, err)
}

// Create adds a location, active, with its index entries in the same
// transaction.
func (s *Service) Create(ctx context.Context, p LocationParams) (*Location, error) {
	const op = "locations.create"
	l := p.location()
	if err := l.validate(op); err != nil {
		return nil, err
	}
	l.ID = commerce.IDFrom[locationTag](s.ids.NewUUID())
	l.Created, l.Version = s.now(), 1
	l.Updated = l.Created
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		if err := records.Insert(ctx, s.store, kindLocation, locationKey(l.MerchantID, l.ID), l.Created, l); err != nil {
			return err
		}
		g, m := indexKeys(l)
		e := entry{ID: l.ID, Merchant: l.MerchantID, Lat: l.Point.Latitude, Lon: l.Point.Longitude}
		if err := records.Insert(ctx, s.store, kindCell, g, l.Created, e); err != nil {
			return err
		}
		return records.Insert(ctx, s.store, kindMerchantCell, m, l.Created, e)
	})
	if err != nil {
		return nil, commerce.Wrap(op, err)
	}
	return l, nil
}

// Get returns the merchant's location; KindNotFound (field "id") when
// it is another merchant's or none.
func (s *Service) Get(ctx context.Context, merchant commerce.MerchantID, id LocationID) (*Location, error) {
	const op = "locations.get"
	if err := commerce.CheckID(op, "merchant_id", merchant); err != nil {
		return nil, err
	}
	if err := commerce.CheckID(op, "id", id); err != nil {
		return nil, err
	}
	l, err := records.Read[Location](ctx, s.store, kindLocation, locationKey(merchant, id))
	if err != nil {
		return nil, notFound(op, err)
	}
	return l, nil
}

// List returns the merchant's locations (active or not) after the
// location after (zero: from the first), by ID, at most limit
// (commerce.PageLimit: 100 by default, 1,000 at most). Pass the last
// one's ID as after for the next page.
func (s *Service) List(ctx context.Context, merchant commerce.MerchantID, after LocationID, limit int) ([]*Location, error) {
	const op = "locations.list"
	if err := commerce.CheckID(op, "merchant_id", merchant); err != nil {
		return nil, err
	}
	from := merchant.String() + ":"
	if !after.IsZero() {
		from = locationKey(merchant, after) + "!" // just after its key: ids have one length
	}
	ls, err := records.Between[Location](ctx, s.store, kindLocation, from, merchant.String()+";", commerce.PageLimit(limit))
	if err != nil {
		return nil, commerce.Wrap(op, err)
	}
	out := make([]*Location, len(ls))
	for i := range ls {
		out[i] = &ls[i]
	}
	return out, nil
}

// Update changes the merchant's location: fn edits a copy of it as
// stored (its name, address, point, zone, hours, exceptions, phone,
// pictures, Active), and the result is validated and saved by
// compare-and-swap, its index entries moved in the same transaction. fn
// runs again when another writer saved first, so it must only edit the
// location; an error from it is returned (through commerce.Wrap) and
// saves nothing. ID, MerchantID,
// Version and Created are the service's.
func (s *Service) Update(ctx context.Context, merchant commerce.MerchantID, id LocationID, fn func(l *Location) error) (*Location, error) {
	const op = "locations.update"
	if err := commerce.CheckID(op, "merchant_id", merchant); err != nil {
		return nil, err
	}
	if err := commerce.CheckID(op, "id", id); err != nil {
		return nil, err
	}
	var out *Location
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		now := s.now()
		var err error
		out, err = records.UpdateFx(ctx, s.store, kindLocation, locationKey(merchant, id), now, false, func(l *Location, _ bool, fx *records.Effects) error {
			was := *l
			cp := *l
			cp.Hours, cp.Exceptions, cp.Pictures = slices.Clone(l.Hours), slices.Clone(l.Exceptions), slices.Clone(l.Pictures)
			if err := fn(&cp); err != nil {
				return err
			}
			cp.ID, cp.MerchantID, cp.Created, cp.Version, cp.Updated = was.ID, was.MerchantID, was.Created, was.Version+1, now
			if err := cp.validate(op); err != nil {
				return err
			}
			*l = cp
			fx.Do(func() error { return s.reindex(ctx, &was, l, now) })
			return nil
		})
		return err
	})
	if err != nil {
		return nil, notFound(op, err)
	}
	return out, nil
}

// Deactivate closes the location for good (Update setting Active to
// false): Get and List still show it, Nearby no longer finds it.
func (s *Service) Deactivate(ctx context.Context, merchant commerce.MerchantID, id LocationID) (*Location, error) {
	return s.Update(ctx, merchant, id, func(l *Location) error {
		l.Active = false
		return nil
	})
}

// reindex moves the location's index entries from where was put them to
// where now puts them. It runs in the transaction that saved now, after
// its compare-and-swap: writers of one location take turns here.
func (s *Service) reindex(ctx context.Context, was, now *Location, at time.Time) error {
	oldG, oldM := indexKeys(was)
	newG, newM := indexKeys(now)
	e := entry{ID: now.ID, Merchant: now.MerchantID, Lat: now.Point.Latitude, Lon: now.Point.Longitude, Gone: !now.Active}
	if was.Active && (oldG != newG || !now.Active) {
		gone := entry{ID: was.ID, Merchant: was.MerchantID, Lat: was.Point.Latitude, Lon: was.Point.Longitude, Gone: true}
		if err := s.put(ctx, kindCell, oldG, gone, at); err != nil {
			return err
		}
		if err := s.put(ctx, kindMerchantCell, oldM, gone, at); err != nil {
			return err
		}
	}
	if !now.Active {
		return nil
	}
	if err := s.put(ctx, kindCell, newG, e, at); err != nil {
		return err
	}
	return s.put(ctx, kindMerchantCell, newM, e, at)
}

// put writes an index entry, inserting it or replacing the one stored.
func (s *Service) put(ctx context.Context, kind, key string, e entry, at time.Time) error {
	_, err := records.Update(ctx, s.store, kind, key, at, true, func(p *entry, _ bool) error {
		if *p == e {
			return records.ErrKeep
		}
		*p = e
		return nil
	})
	return err
}

// ---- nearby ----

// MaxRadius is the largest radius Nearby searches, in meters.
const MaxRadius = 1_000_000

// NearbyQuery asks for locations within RadiusMeters of Point.
type NearbyQuery struct {
	Point commerce.GeoPoint
	// RadiusMeters is greater than 0 and at most MaxRadius (1,000 km).
	RadiusMeters float64
	// Merchant limits the search to one merchant's locations; zero
	// searches every merchant's.
	Merchant commerce.MerchantID
	// Limit is how many to return, nearest first (commerce.PageLimit: 100
	// by default, 1,000 at most).
	Limit int
	// OpenAt, when set, keeps only the locations open at that instant.
	OpenAt time.Time
}

// Nearby is a location Nearby found and how far it is from the point.
type Nearby struct {
	Location       *Location
	DistanceMeters float64
}

// Nearby returns the active locations within q.RadiusMeters of q.Point
// (great-circle distance, Distance; one on the edge is within), nearest
// first, ties by ID.
//
// It reads the index cells that cover the circle (a coarser cell for a
// larger circle, at most 48 cells, runs of neighbouring cells one range
// read each), keeps the entries within the radius and reads their
// locations in order of distance until it has q.Limit. Circles across
// the antimeridian and over a pole are covered.
func (s *Service) Nearby(ctx context.Context, q NearbyQuery) ([]Nearby, error) {
	const op = "locations.nearby"
	if err := q.Point.Check(op, "point"); err != nil {
		return nil, err
	}
	if !(q.RadiusMeters > 0 && q.RadiusMeters <= MaxRadius) {
		return nil, commerce.Invalid(op, "radius", "%v m: want more than 0 and at most %d m (1,000 km)", q.RadiusMeters, MaxRadius)
	}
	limit := commerce.PageLimit(q.Limit)
	kind, prefix := kindCell, ""
	if !q.Merchant.IsZero() {
		kind, prefix = kindMerchantCell, q.Merchant.String()+":"
	}
	ranges, _ := cover(q.Point, q.RadiusMeters)
	type hit struct {
		e entry
		d float64
	}
	var hits []hit
	for _, r := range ranges {
		from, to := prefix+r.from, prefix+r.to
		for {
			page, err := s.store.RecordsBetween(ctx, kind, from, to, 1000)
			if err != nil {
				return nil, commerce.Wrap(op, err)
			}
			for _, rec := range page {
				if rec.Status == "gone" {
					continue
				}
				e, ok := quickEntry(rec.Doc)
				if !ok {
					if err := json.Unmarshal(rec.Doc, &e); err != nil {
						return nil, commerce.Wrap(op, fmt.Errorf("%s %s: %w", kind, rec.Key, err))
					}
				}
				if e.Gone {
					continue
				}
				if d := q.Point.DistanceTo(commerce.GeoPoint{Latitude: e.Lat, Longitude: e.Lon}); d <= q.RadiusMeters {
					hits = append(hits, hit{e, d})
				}
			}
			if len(page) < 1000 {
				break
			}
			from = page[len(page)-1].Key + "!" // just after it: keys have one length
		}
	}
	slices.SortFunc(hits, func(a, b hit) int {
		return cmp.Or(cmp.Compare(a.d, b.d), a.e.ID.Compare(b.e.ID))
	})
	var out []Nearby
	for _, h := range hits {
		if len(out) == limit {
			break
		}
		l, err := records.Read[Location](ctx, s.store, kindLocation, locationKey(h.e.Merchant, h.e.ID))
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, commerce.Wrap(op, err)
		}
		// The index was read before the location: one that moved or
		// closed since is judged as it is now.
		if !l.Active || l.Point != (commerce.GeoPoint{Latitude: h.e.Lat, Longitude: h.e.Lon}) {
			continue
		}
		if !q.OpenAt.IsZero() && !l.OpenAt(q.OpenAt) {
			continue
		}
		out = append(out, Nearby{Location: l, DistanceMeters: h.d})
	}
	return out, nil
}

// quickEntry reads an index entry without encoding/json's reflection (a
// query reads thousands): the fields it wrote, in whatever order and
// spacing the store gives them back. ok is false for anything else, which
// encoding/json then reads.
func quickEntry(doc []byte) (e entry, ok bool) {
	var seen int
	i := skipSpace(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return e, false
	}
	i++
	for {
		i = skipSpace(doc, i)
		if i < len(doc) && doc[i] == '}' {
			return e, seen == 4 && skipSpace(doc, i+1) == len(doc)
		}
		if seen > 0 {
			if i >= len(doc) || doc[i] != ',' {
				return e, false
			}
			i = skipSpace(doc, i+1)
		}
		if i >= len(doc) || doc[i] != '"' {
			return e, false
		}
		j := bytes.IndexByte(doc[i+1:], '"')
		if j < 0 {
			return e, false
		}
		name := string(doc[i+1 : i+1+j])
		i = skipSpace(doc, i+2+j)
		if i >= len(doc) || doc[i] != ':' {
			return e, false
		}
		i = skipSpace(doc, i+1)
		k := i
		if k < len(doc) && doc[k] == '"' {
			end := bytes.IndexByte(doc[k+1:], '"')
			if end < 0 {
				return e, false
			}
			k += end + 2
		} else {
			for k < len(doc) && doc[k] != ',' && doc[k] != '}' && doc[k] != ' ' && doc[k] != '\n' && doc[k] != '\t' && doc[k] != '\r' {
				k++
			}
		}
		v := doc[i:k]
		var err error
		switch name {
		case "id":
			err = e.ID.UnmarshalText(bytes.Trim(v, `"`))
			seen++
		case "m":
			err = e.Merchant.UnmarshalText(bytes.Trim(v, `"`))
			seen++
		case "lat":
			e.Lat, err = strconv.ParseFloat(string(v), 64)
			seen++
		case "lon":
			e.Lon, err = strconv.ParseFloat(string(v), 64)
			seen++
		case "gone":
			e.Gone, err = strconv.ParseBool(string(v))
		default:
			return e, false
		}
		if err != nil || len(v) == 0 || v[0] == '"' && name != "id" && name != "m" {
			return e, false
		}
		i = k
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}
