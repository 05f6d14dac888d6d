package jsonenc_test

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/internal/jsonenc"
)

type name string

// TestObjectMatchesEncodingJSON: an Object writes what json.Marshal writes
// for a map[string]any of the same values (the payloads were such maps),
// escaping included; a time it cannot write fails with its error.
func TestObjectMatchesEncodingJSON(t *testing.T) {
	u := uuid.UUID{0x01, 0x90, 0xab, 0xff, 9}
	id := commerce.IDFrom[struct{}](u)
	when := time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600))
	cases := []struct {
		build func(o *jsonenc.Object)
		want  map[string]any
	}{
		{func(o *jsonenc.Object) {}, map[string]any{}},
		{func(o *jsonenc.Object) {
			o.UUID("order_id", id.UUID())
			o.String("customer_id", string(commerce.CustomerID("c-1")))
			o.Int("points", -7)
			o.Bool("gift", true)
			o.Bool("review", false)
			o.Int("max", math.MaxInt64)
		}, map[string]any{"order_id": id, "customer_id": commerce.CustomerID("c-1"), "points": int64(-7), "gift": true,
			"review": false, "max": int64(math.MaxInt64)}},
		{func(o *jsonenc.Object) {
			o.Time("valid_until", when)
			o.Time("zero", time.Time{})
			o.Time("utc", when.UTC())
			o.UUID("raw", u)
		}, map[string]any{"valid_until": when, "zero": time.Time{}, "utc": when.UTC(), "raw": u}},
		{func(o *jsonenc.Object) {
			o.String("z", "last")
			o.String("a", "first")
			o.String("m", string(name("named")))
			o.String("a", "again") // the last value of a key wins, as in a map
		}, map[string]any{"z": "last", "a": "again", "m": name("named")}},
		{func(o *jsonenc.Object) {
			o.String("html", "a<b&c>")
			o.String("unicode", "生日快乐")
			o.String("ctl", "tab\there\x00")
			o.String("quote", `say "hi" \ bye`)
			o.String("invalid", "\xff\u2028")
			o.String("<key>", "")
		}, map[string]any{"html": "a<b&c>", "unicode": "生日快乐", "ctl": "tab\there\x00", "quote": `say "hi" \ bye`,
			"invalid": "\xff\u2028", "<key>": ""}},
	}
	for i, c := range cases {
		want, err := json.Marshal(c.want)
		if err != nil {
			t.Fatal(err)
		}
		var o jsonenc.Object
		c.build(&o)
		got, err := o.JSON()
		if err != nil || string(got) != string(want) {
			t.Errorf("case %d: %s, %v; encoding/json says %s", i, got, err, want)
		}
	}

	far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	_, want := json.Marshal(map[string]any{"t": far})
	var o jsonenc.Object
	o.Time("t", far)
	if _, err := o.JSON(); err == nil || want == nil || err.Error() != want.Error() {
		t.Errorf("year 10000: error %v, encoding/json says %v", err, want)
	}
}

// TestObjectAllocations: writing a payload allocates its document only.
func TestObjectAllocations(t *testing.T) {
	id := commerce.IDFrom[struct{}](uuid.UUID{7})
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	n := testing.AllocsPerRun(100, func() {
		var o jsonenc.Object
		o.UUID("coupon_id", id.UUID())
		o.UUID("batch_id", id.UUID())
		o.String("customer_id", "c-1")
		o.String("status", "used")
		o.Time("valid_until", when)
		o.UUID("order_id", id.UUID())
		if _, err := o.JSON(); err != nil {
			t.Fatal(err)
		}
	})
	if n != 1 {
		t.Errorf("%v allocations, want 1", n)
	}
}
