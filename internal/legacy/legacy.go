// Package legacy reads the forms of stored records that earlier versions of
// minishop wrote, so that records keep loading after their shape changed.
// Stores keep domain records as JSON documents of the Go structs; the
// domain packages' UnmarshalJSON methods call it for the fields that moved.
package legacy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"

	"github.com/minishop/minishop/commerce"
)

// Units of the integer rates earlier versions stored, in ppm.
const (
	BasisPoints int64 = 100 // 1500 was 15 %
	PPM         int64 = 1   // 150000 was 15 %
)

// Rate reads a stored rate: the "12.5%" string commerce.Rate writes, or a
// bare integer in unit (BasisPoints or PPM) as earlier versions wrote it.
// An absent or null value gives the zero Rate.
func Rate(raw json.RawMessage, unit int64) (commerce.Rate, error) {
	raw = bytes.TrimSpace(raw)
	var r commerce.Rate
	if len(raw) == 0 || raw[0] == '"' || string(raw) == "null" {
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &r); err != nil {
				return commerce.Rate{}, err
			}
		}
		return r, nil
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err != nil {
		return commerce.Rate{}, fmt.Errorf("stored rate %.24s: %w", raw, err)
	}
	if n > math.MaxInt64/unit || n < math.MinInt64/unit {
		return commerce.Rate{}, fmt.Errorf("stored rate %d is out of range", n)
	}
	return commerce.PPM(n * unit), nil
}

// Rates is Rate for a map of rates (an absent or null map stays nil).
func Rates[K comparable](raw json.RawMessage, unit int64) (map[K]commerce.Rate, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	var m map[K]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, err
	}
	out := make(map[K]commerce.Rate, len(m))
	for k, v := range m {
		r, err := Rate(v, unit)
		if err != nil {
			return nil, err
		}
		out[k] = r
	}
	return out, nil
}
