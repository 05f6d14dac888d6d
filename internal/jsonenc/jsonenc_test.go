package jsonenc_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/internal/jsonenc"
)

type name string

type badMarshaler struct{}

func (badMarshaler) MarshalJSON() ([]byte, error) { return []byte(`{"a": 1}`), nil }

// TestMapMatchesEncodingJSON: whatever Map writes is what json.Marshal
// writes; what it cannot write it declines.
func TestMapMatchesEncodingJSON(t *testing.T) {
	id := commerce.IDFrom[struct{}]([16]byte{1, 2, 3})
	cases := []struct {
		m  map[string]any
		ok bool
	}{
		{map[string]any{}, true},
		{map[string]any{"order_id": id, "customer_id": commerce.CustomerID("c-1"), "points": int64(-7), "gift": true, "n": uint8(3)}, true},
		{map[string]any{"total": commercetest.CNY("-12.34"), "valid_until": time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600))}, true},
		{map[string]any{"s": "plain text", "b": name("named")}, true},
		{map[string]any{"z": 1, "a": 2, "m": "mid"}, true},
		{map[string]any{"html": "a<b&c>"}, false},
		{map[string]any{"unicode": "生日快乐"}, false},
		{map[string]any{"ctl": "tab\there"}, false},
		{map[string]any{"quote": `say "hi"`}, false},
		{map[string]any{"<key>": 1}, false},
		{map[string]any{"spaced": badMarshaler{}}, false},
		{map[string]any{"nil": nil}, false},
		{map[string]any{"ptr": &id}, false},
		{map[string]any{"slice": []int{1}}, false},
		{map[string]any{"float": 1.5}, false},
	}
	for _, c := range cases {
		want, err := json.Marshal(c.m)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := jsonenc.Map(c.m)
		if ok != c.ok {
			t.Errorf("Map(%v): ok %v, want %v", c.m, ok, c.ok)
		}
		if ok && string(got) != string(want) {
			t.Errorf("Map(%v) = %s, encoding/json says %s", c.m, got, want)
		}
	}
}
