package commerce

import (
	"crypto/rand"
	"database/sql/driver"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/minishop/minishop/internal/jsonenc"
)

// ID is a typed UUID: ID[merchantTag] and ID[orderTag] cannot be mixed up,
// yet share one implementation. Use the named aliases (MerchantID, OrderID...).
// The zero value is the nil UUID and means "no ID".
type ID[T any] struct{ u uuid.UUID }

type (
	merchantTag struct{}
	productTag  struct{}
	skuTag      struct{}
	orderTag    struct{}
	refundTag   struct{}
)

// Typed identifiers of the commerce records.
type (
	MerchantID = ID[merchantTag]
	ProductID  = ID[productTag]
	SKUID      = ID[skuTag]
	OrderID    = ID[orderTag]
	RefundID   = ID[refundTag]
)

// IDFrom wraps a UUID as a typed ID.
func IDFrom[T any](u uuid.UUID) ID[T] { return ID[T]{u} }

// ParseID parses the textual form of any typed ID, naming the type to
// parse as: commerce.ParseID[commerce.SKUID]("0190..."), or
// commerce.ParseID[coupons.CouponID](s). A malformed id is a KindInvalid
// *Error for field "id".
func ParseID[I any, P interface {
	*I
	UnmarshalText([]byte) error
}](s string) (I, error) {
	var id I
	if err := P(&id).UnmarshalText([]byte(s)); err != nil {
		return id, &Error{Op: "commerce.parse_id", Kind: KindInvalid, Field: "id", Err: err}
	}
	return id, nil
}

// UUID returns the underlying UUID.
func (id ID[T]) UUID() uuid.UUID { return id.u }

// IsZero reports whether id is the zero (nil) ID.
func (id ID[T]) IsZero() bool { return id.u == uuid.Nil }

// String returns the canonical textual form.
func (id ID[T]) String() string { return id.u.String() }

// Compare orders IDs by their bytes; UUIDv7 IDs thus sort by creation time.
func (id ID[T]) Compare(o ID[T]) int {
	for i := range id.u {
		if id.u[i] != o.u[i] {
			if id.u[i] < o.u[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// appendText appends the canonical textual form to b, as String writes it.
func (id ID[T]) appendText(b []byte) []byte { return jsonenc.AppendUUID(b, id.u) }

// MarshalText implements encoding.TextMarshaler.
func (id ID[T]) MarshalText() ([]byte, error) { return []byte(id.u.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID[T]) UnmarshalText(b []byte) error {
	u, err := uuid.ParseBytes(b)
	if err != nil {
		return fmt.Errorf("malformed id %q", truncate(string(b), 40))
	}
	id.u = u
	return nil
}

// Value implements driver.Valuer: IDs are stored as their 16 bytes.
func (id ID[T]) Value() (driver.Value, error) { return id.u[:], nil }

// Scan implements sql.Scanner for 16-byte and textual columns.
func (id *ID[T]) Scan(src any) error { return id.u.Scan(src) }

// IDGenerator makes new UUIDs. The default makes UUIDv7 (time-ordered, so
// they index well); tests inject a sequential one (commercetest.SeqIDs).
type IDGenerator interface {
	NewUUID() uuid.UUID
}

type v7Generator struct{}

// v7 is the state every v7Generator shares, as uuid.NewV7 shares its own:
// the last timestamp, so that IDs from all of them are strictly
// increasing, and random bytes read from crypto/rand a few kilobytes at a
// time (a read per ID cost a system call and an allocation each, and
// checkout makes several IDs).
var v7 struct {
	sync.Mutex
	last int64 // milliseconds<<12 | sequence of the last ID
	rnd  [4096]byte
	left int // unused bytes at the end of rnd
}

// NewUUID returns a new UUIDv7 (RFC 9562): 48 bits of Unix milliseconds,
// 12 bits of sub-millisecond time that also count up within a
// millisecond, as uuid.NewV7 makes them, and 62 random bits.
func (g *v7Generator) NewUUID() uuid.UUID {
	var u uuid.UUID
	v7.Lock()
	nano := time.Now().UnixNano()
	milli := nano / 1e6
	now := milli<<12 + (nano-milli*1e6)>>8 // the sub-millisecond part is below 3907
	if now <= v7.last {
		now = v7.last + 1
	}
	v7.last = now
	if v7.left < 8 {
		rand.Read(v7.rnd[:]) // never fails: crypto/rand crashes the program instead
		v7.left = len(v7.rnd)
	}
	r := v7.rnd[len(v7.rnd)-v7.left:][:8]
	copy(u[8:], r)
	clear(r) // a byte handed out is not kept
	v7.left -= 8
	v7.Unlock()
	milli, seq := now>>12, now&0xfff
	u[0], u[1], u[2], u[3], u[4], u[5] = byte(milli>>40), byte(milli>>32), byte(milli>>24), byte(milli>>16), byte(milli>>8), byte(milli)
	u[6], u[7] = 0x70|byte(seq>>8)&0x0f, byte(seq)
	u[8] = u[8]&0x3f | 0x80 // variant 10
	return u
}

// UUIDv7 returns the default IDGenerator.
func UUIDv7() IDGenerator { return &v7Generator{} }

func newID[T any](g IDGenerator) ID[T] { return ID[T]{g.NewUUID()} }

// Clock tells the time. Inject commercetest.Clock in tests to move time by
// hand instead of sleeping.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// SystemClock returns the wall clock.
func SystemClock() Clock { return systemClock{} }
