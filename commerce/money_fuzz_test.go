package commerce_test

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"golang.org/x/text/currency"

	"github.com/minishop/minishop/commerce"
)

// fuzzCurrencies are the currencies the fuzzers pick from by index: no
// currency (the code in the input decides), two-, zero- and three-digit
// minor units.
var fuzzCurrencies = []currency.Unit{noCur, currency.CNY, currency.JPY, currency.USD, currency.MustParseISO("BHD")}

// parseProblems are the problems a ParseMoney error may name. Every rejected
// input must name one of them.
var parseProblems = []string{
	"too long",
	"want an amount with an optional currency code",
	"unknown currency",
	", want ",
	"no currency",
	"malformed amount",
	"decimal places for",
	"out of range",
}

func FuzzParseMoney(f *testing.F) {
	seeds := []string{
		"", " ", "0", "-0", "-0.00", "12.30", "12.3", "12", "007.10", " \t7.1\n",
		"CNY 12.30", "12.30 CNY", "cny 12.30", "CnY\t 12.30", "JPY 1500", "1500 jpy",
		"BHD 1.234", "BHD 1.2340", "BHD 1.2345", "USD 0.01", "XAU 1.5", "XXX 1", "XTS 0.5",
		"12.345", "12.300", "12.3000000", "0.001", "1.5", "1.0",
		"1e3", "1E-2", "1,000.00", "+5", "--5", "- 5", "-", ".", "-.", "12.", ".5", "1.2.3", "0x10",
		"NaN", "Inf", "-Inf", "１２", "１２.３０", "CNY12.30", "USD 1", "1 USD", "XYZ 1", "YUAN 1",
		"CNY CNY", "1 2", "CNY 1 2", "¥12", "12\u00a0CNY", "12\u3000CNY", "\u200b12",
		"92233720368547758.07", "-92233720368547758.07", "92233720368547758.08", "-92233720368547758.08",
		"9223372036854775807", "9223372036854775808", "JPY 9223372036854775807", "JPY -9223372036854775808",
		"1" + strings.Repeat("0", 40), strings.Repeat("1", 64), strings.Repeat("1", 65),
		"0." + strings.Repeat("0", 60) + "1", "0." + strings.Repeat("0", 61),
		strings.Repeat("0", 63) + "1", "CNY " + strings.Repeat("9", 60),
		"\xff", "CNY \xff", "\x00", "1\x002",
	}
	for _, s := range seeds {
		for c := range fuzzCurrencies {
			f.Add(s, uint8(c))
		}
	}
	f.Fuzz(func(t *testing.T, s string, curIdx uint8) {
		cur := fuzzCurrencies[int(curIdx)%len(fuzzCurrencies)]
		m, err := commerce.ParseMoney(s, cur)
		if err != nil {
			if m.IsSet() {
				t.Fatalf("ParseMoney(%q, %v) failed but returned %s", s, cur, m)
			}
			msg := err.Error()
			var ce *commerce.Error
			if !errors.As(err, &ce) || ce.Kind != commerce.KindInvalid || ce.Field != "money" {
				t.Fatalf("ParseMoney(%q, %v): error %q is not invalid input for field money", s, cur, msg)
			}
			named := false
			for _, p := range parseProblems {
				if strings.Contains(msg, p) {
					named = true
					break
				}
			}
			if !named {
				t.Fatalf("ParseMoney(%q, %v): error %q names no known problem", s, cur, msg)
			}
			return
		}

		// Accepted: a set Money in the asked currency, in whole minor units.
		if !m.IsSet() {
			t.Fatalf("ParseMoney(%q, %v) = unset Money", s, cur)
		}
		if cur != noCur && m.Currency() != cur {
			t.Fatalf("ParseMoney(%q, %v) is in %v", s, cur, m.Currency())
		}
		mi, err := m.Minor()
		if err != nil {
			t.Fatalf("ParseMoney(%q, %v) = %s, not whole minor units: %v", s, cur, m, err)
		}
		if !commerce.FromMinor(mi, m.Currency()).Equal(m) {
			t.Fatalf("ParseMoney(%q, %v) = %s, but FromMinor(%d) = %s", s, cur, m, mi, commerce.FromMinor(mi, m.Currency()))
		}

		// No input is silently changed: the amount equals the decimal the
		// input wrote.
		fields := strings.Fields(s)
		amt := fields[0]
		if len(fields) == 2 {
			amt = fields[1]
			if _, err := decimal.NewFromString(amt); err != nil {
				amt = fields[0]
			}
		}
		want, err := decimal.NewFromString(amt)
		if err != nil {
			t.Fatalf("ParseMoney(%q, %v) accepted amount %q that decimal rejects: %v", s, cur, amt, err)
		}
		if !want.Equal(m.Amount()) {
			t.Fatalf("ParseMoney(%q, %v) = %s, input says %s", s, cur, m.Amount(), want)
		}

		// String re-parses to an equal Money, with or without a currency
		// given, and is canonical (re-parsing gives the same text).
		str := m.String()
		for _, c := range []currency.Unit{noCur, m.Currency()} {
			back, err := commerce.ParseMoney(str, c)
			if err != nil {
				t.Fatalf("ParseMoney(%q, %v) = %s, whose String does not re-parse: %v", s, cur, str, err)
			}
			if !back.Equal(m) || back.String() != str {
				t.Fatalf("ParseMoney(%q, %v) = %s re-parses to %s", s, cur, str, back)
			}
		}
		// So does the amount text alone, in the currency.
		code, amountText, ok := strings.Cut(str, " ")
		if !ok || code != m.Currency().String() {
			t.Fatalf("String() = %q, want %q followed by the amount", str, m.Currency())
		}
		back, err := commerce.ParseMoney(amountText, m.Currency())
		if err != nil || !back.Equal(m) {
			t.Fatalf("amount text %q of %s re-parses to %s, %v", amountText, str, back, err)
		}
		// And JSON.
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var fromJSON commerce.Money
		if err := json.Unmarshal(b, &fromJSON); err != nil || !fromJSON.Equal(m) {
			t.Fatalf("%s round-trips through JSON %s to %s, %v", m, b, fromJSON, err)
		}
	})
}

// allocCurrencies have 2, 0 and 3 minor digits.
var allocCurrencies = []currency.Unit{currency.CNY, currency.JPY, currency.MustParseISO("BHD")}

// fuzzWeights decodes up to 50 weights of mixed magnitude from raw, three
// bytes each: a shift and a 16-bit value. A shift byte of 200 or more gives
// weight zero, so zero weights are common; shifts reach 47 bits, so sums can
// overflow uint64.
func fuzzWeights(raw []byte) []int64 {
	var ws []int64
	for i := 0; i+3 <= len(raw) && len(ws) < 50; i += 3 {
		shift, v := raw[i], int64(raw[i+1])<<8|int64(raw[i+2])
		if shift >= 200 {
			ws = append(ws, 0)
			continue
		}
		ws = append(ws, v<<(shift%48))
	}
	return ws
}

// encodeWeights is the inverse of fuzzWeights for seeds: each weight as an
// unshifted 16-bit value.
func encodeWeights(ws ...uint16) []byte {
	var b []byte
	for _, w := range ws {
		b = append(b, 0, byte(w>>8), byte(w))
	}
	return b
}

func FuzzAllocate(f *testing.F) {
	huge := []byte{47, 0xff, 0xff, 47, 0xff, 0xff, 47, 0xff, 0xff}
	seeds := []struct {
		total int64
		cur   uint8
		raw   []byte
	}{
		{0, 0, encodeWeights(1, 2)},
		{0, 0, encodeWeights(0, 0)},
		{100, 0, encodeWeights(0, 0)},
		{10000, 0, encodeWeights(1, 1, 1)},
		{-10000, 0, encodeWeights(1, 1, 1)},
		{1, 0, encodeWeights(0, 5, 5)},
		{-1, 0, encodeWeights(5, 0, 5)},
		{1000, 0, encodeWeights(3333, 3333, 3334)},
		{1000, 0, encodeWeights(800, 9000)},
		{1000, 0, encodeWeights(3321, 624, 9000)},
		{2, 1, encodeWeights(1, 1, 1, 1, 1, 1, 1)},
		{49, 2, encodeWeights(1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0)},
		{math.MaxInt64, 0, huge},
		{-math.MaxInt64, 0, huge},
		{math.MinInt64, 0, encodeWeights(1)},
		{math.MaxInt64, 0, append(encodeWeights(1), 47, 0xff, 0xff)},
		{12345, 0, []byte{200, 0, 0, 3, 1, 2, 47, 0, 1}},
		{7, 0, nil},
		{7, 0, []byte{1, 2}},
		{math.MaxInt64, 2, encodeWeights(65535, 65534, 1)},
	}
	for _, s := range seeds {
		f.Add(s.total, s.cur, s.raw)
	}
	f.Fuzz(func(t *testing.T, totalMinor int64, curIdx uint8, raw []byte) {
		cur := allocCurrencies[int(curIdx)%len(allocCurrencies)]
		total := commerce.FromMinor(totalMinor, cur)
		weights := fuzzWeights(raw)
		parts, err := commerce.Allocate(total, weights)

		var sum big.Int
		positive := 0
		for _, w := range weights {
			sum.Add(&sum, big.NewInt(w))
			if w > 0 {
				positive++
			}
		}
		wantField := ""
		switch {
		case totalMinor == math.MinInt64: // -MinInt64 has no int64: out of range
			wantField = "total"
		case len(weights) == 0:
			wantField = "weights"
		case sum.Cmp(new(big.Int).SetUint64(math.MaxUint64)) > 0:
			wantField = "weights"
		case positive == 0 && totalMinor != 0:
			wantField = "weights"
		}
		if wantField != "" {
			var e *commerce.Error
			if err == nil || !errors.As(err, &e) || e.Field != wantField || e.Kind != commerce.KindInvalid {
				t.Fatalf("Allocate(%s, %v) = %v, %v; want an invalid %q error", total, weights, parts, err, wantField)
			}
			if parts != nil {
				t.Fatalf("Allocate(%s, %v) failed but returned parts %v", total, weights, parts)
			}
			return
		}
		if err != nil {
			t.Fatalf("Allocate(%s, %v): %v", total, weights, err)
		}
		if len(parts) != len(weights) {
			t.Fatalf("Allocate(%s, %v) = %d parts", total, weights, len(parts))
		}

		// Parts are whole minor units of the currency and add up to the total.
		got := make([]int64, len(parts))
		var partSum big.Int
		for i, p := range parts {
			if p.Currency() != cur {
				t.Fatalf("part %d is in %v, want %v", i, p.Currency(), cur)
			}
			v, err := p.Minor()
			if err != nil {
				t.Fatalf("part %d = %s is not whole minor units: %v", i, p, err)
			}
			got[i] = v
			partSum.Add(&partSum, big.NewInt(v))
		}
		if partSum.Cmp(big.NewInt(totalMinor)) != 0 {
			t.Fatalf("Allocate(%s, %v) = %v, sums to %s", total, weights, got, &partSum)
		}
		if totalMinor == 0 {
			for i, v := range got {
				if v != 0 {
					t.Fatalf("zero total: part %d = %d", i, v)
				}
			}
			return
		}

		// Each part is within one minor unit of its exact share (strictly:
		// floor or ceiling of it), zero weights get zero, every part has
		// the total's sign, and the extra units went to the largest
		// remainders, earlier parts winning ties.
		absTotal := new(big.Int).Abs(big.NewInt(totalMinor))
		sign := int64(1)
		if totalMinor < 0 {
			sign = -1
		}
		floors := make([]*big.Int, len(weights))
		rems := make([]*big.Int, len(weights)) // remainder of |total|·w ÷ sum, in units of 1/sum
		for i, w := range weights {
			num := new(big.Int).Mul(absTotal, big.NewInt(w))
			floors[i], rems[i] = new(big.Int).QuoRem(num, &sum, new(big.Int))
			mag := big.NewInt(got[i] * sign)
			if got[i] != 0 && (got[i] < 0) != (totalMinor < 0) {
				t.Fatalf("part %d = %d has the wrong sign for total %d", i, got[i], totalMinor)
			}
			if w == 0 && got[i] != 0 {
				t.Fatalf("weight 0 got %d (weights %v, total %s)", got[i], weights, total)
			}
			up := new(big.Int).Add(floors[i], big.NewInt(1))
			switch {
			case mag.Cmp(floors[i]) == 0:
			case mag.Cmp(up) == 0 && rems[i].Sign() > 0:
			default:
				t.Fatalf("part %d = %d, exact share is %s + %s/%s (total %s, weights %v)",
					i, got[i], floors[i], rems[i], &sum, total, weights)
			}
		}
		for i := range weights {
			if new(big.Int).Abs(big.NewInt(got[i])).Cmp(floors[i]) == 0 {
				continue // rounded down
			}
			for j := range weights {
				if j == i || weights[j] == 0 || new(big.Int).Abs(big.NewInt(got[j])).Cmp(floors[j]) != 0 {
					continue
				}
				// i got an extra unit and j did not: i must have the larger
				// remainder, or the same and come first.
				if c := rems[i].Cmp(rems[j]); c < 0 || (c == 0 && j < i) {
					t.Fatalf("part %d (remainder %s) got an extra unit over part %d (remainder %s): %v, weights %v",
						i, rems[i], j, rems[j], got, weights)
				}
			}
		}

		// Deterministic, and a negative total splits as the mirror image.
		again, err := commerce.Allocate(total, weights)
		if err != nil {
			t.Fatal(err)
		}
		mirror, err := commerce.Allocate(total.Neg(), weights)
		if err != nil {
			t.Fatal(err)
		}
		for i := range parts {
			if !again[i].Equal(parts[i]) {
				t.Fatalf("second call: part %d = %s, first %s", i, again[i], parts[i])
			}
			if !mirror[i].Equal(parts[i].Neg()) {
				t.Fatalf("Allocate(-total): part %d = %s, want %s", i, mirror[i], parts[i].Neg())
			}
		}
	})
}
