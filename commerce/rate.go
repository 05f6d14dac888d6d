package commerce

import (
	"bytes"
	"encoding/json"
	"math"
	"math/bits"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// Rate is a share, a discount, a fee or a multiplier: a fraction held
// exactly in parts per million (WeChat's APIs give ratios in millionths),
// so 12.5 % is 125000 ppm. The zero Rate is 0 %.
//
// Its field is unexported so that a bare number never passes for a rate:
// the three ways rates used to be spelled (basis points, millionths,
// percent) are what this type ends. Build one with Percent, ParseRate or
// PPM; it prints and marshals as "12.5%".
type Rate struct{ ppm int64 }

const (
	million    = 1_000_000
	ppmPercent = 10_000 // ppm in one percent
	// maxRateText bounds what ParseRate reads, so junk costs nothing; the
	// longest rate is "922337203685477.5807%" (the int64 ppm maximum).
	maxRateText = 24
)

// PPM returns the rate of n parts per million, for exact integer use
// (WeChat's ratio fields, stored integers). It does not validate: the
// services check the range each rate allows.
func PPM(n int64) Rate { return Rate{n} }

// PPM returns r in parts per million.
func (r Rate) PPM() int64 { return r.ppm }

// Percent returns the rate of p percent: Percent(12.5) is 12.5 %. p is read
// as the shortest decimal that is the float (12.5, 0.6, 33.3333), which must
// be a whole number of ppm (at most four decimal places of a percent),
// finite and not negative; anything else is a KindInvalid error naming
// field "rate", never a silently rounded rate.
func Percent(p float64) (Rate, error) {
	const op = "commerce.percent"
	switch {
	case math.IsNaN(p) || math.IsInf(p, 0):
		return Rate{}, Invalid(op, "rate", "%v is not a percentage", p)
	case p < 0:
		return Rate{}, Invalid(op, "rate", "%v %% is negative", p)
	case p == 0:
		return Rate{}, nil // -0 too
	}
	r, problem := parsePercent(strconv.FormatFloat(p, 'f', -1, 64))
	if problem != "" {
		return Rate{}, Invalid(op, "rate", "%v %%: %s", p, problem)
	}
	return r, nil
}

// MustPercent is Percent for literals in code: it panics on what Percent
// refuses.
func MustPercent(p float64) Rate {
	r, err := Percent(p)
	if err != nil {
		panic(err)
	}
	return r
}

// ParseRate reads a rate in the form String writes: a percentage with at
// most four decimal places and the percent sign, "12.5%", "0.6%", "100%".
// It takes no other form, a bare fraction ("0.125") included: a bare number
// is exactly the ambiguity (is 5 five percent or five hundred?) that Rate
// exists to remove. Signs, exponents, spaces, more precision than a
// millionth and values beyond an int64 of ppm are refused with a KindInvalid
// error naming field "rate".
func ParseRate(s string) (Rate, error) {
	const op = "commerce.parse_rate"
	if len(s) > maxRateText {
		return Rate{}, Invalid(op, "rate", "%q is too long for a rate", truncate(s, maxRateText))
	}
	num, ok := strings.CutSuffix(s, "%")
	if !ok {
		return Rate{}, Invalid(op, "rate", "%q is not a percentage such as \"12.5%%\"", s)
	}
	if strings.HasPrefix(num, "-") {
		return Rate{}, Invalid(op, "rate", "%q is negative", s)
	}
	r, problem := parsePercent(num)
	if problem != "" {
		return Rate{}, Invalid(op, "rate", "%q: %s", s, problem)
	}
	return r, nil
}

// parsePercent reads digits[.digits] percent into ppm; problem says what
// is wrong otherwise. Trailing zeros of the fraction add no precision and
// are allowed ("12.50000").
func parsePercent(s string) (Rate, string) {
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" || (dot && frac == "") || !digits(whole) || !digits(frac) {
		return Rate{}, "not a percentage such as \"12.5%\""
	}
	frac = strings.TrimRight(frac, "0")
	if len(frac) > 4 {
		return Rate{}, "more precise than a millionth (at most 4 decimal places of a percent)"
	}
	frac += strings.Repeat("0", 4-len(frac))
	w, err := strconv.ParseInt(whole, 10, 64)
	f, _ := strconv.ParseInt(frac, 10, 64)
	if err != nil || w > (math.MaxInt64-f)/ppmPercent {
		return Rate{}, "out of range"
	}
	return Rate{w*ppmPercent + f}, ""
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String returns r as a percentage with the fewest digits that are exact:
// "12.5%", "0.6%", "0%", "100%", "0.0001%".
func (r Rate) String() string {
	v := uint64(r.ppm)
	sign := ""
	if r.ppm < 0 {
		sign, v = "-", -v
	}
	s := sign + strconv.FormatUint(v/ppmPercent, 10)
	if f := v % ppmPercent; f != 0 {
		fs := strconv.FormatUint(f+ppmPercent, 10)[1:] // four digits, leading zeros kept
		s += "." + strings.TrimRight(fs, "0")
	}
	return s + "%"
}

// MarshalJSON writes r as String does, in a JSON string: "12.5%". A string
// rather than a number, so no reader takes 12.5 for a fraction or ppm.
func (r Rate) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, r.String()), nil
}

// UnmarshalJSON reads the string MarshalJSON writes and refuses every other
// form: a JSON number has no unit (is 1500 basis points, ppm or percent?).
// null leaves r as it is, as encoding/json does for other types.
func (r *Rate) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) == 0 || b[0] != '"' {
		return Invalid("commerce.rate.unmarshal_json", "rate", "%s is not a JSON string such as \"12.5%%\": a rate's unit must be written", truncate(string(bytes.TrimSpace(b)), maxRateText))
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return Invalid("commerce.rate.unmarshal_json", "rate", "%v", err)
	}
	v, err := ParseRate(s)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Of returns r of m rounded half away from zero to the minor unit (half-up
// for the non-negative amounts of discounts, commission and fees): 15 % of
// CNY 33.33 is CNY 5.00 (4.9995). The product is exact before the one
// rounding.
func (r Rate) Of(m Money) Money { return r.OfExact(m).Round() }

// OfExact returns r of m unrounded, for sums rounded once at the end (an
// order's fee over its lines) or rounded otherwise (RoundDown for a cap).
func (r Rate) OfExact(m Money) Money { return m.MulRate(decimal.New(r.ppm, -6)) }

// OfMinor is Of on an integer count of minor units (or points): r of n
// rounded half away from zero. The hot paths (choosing coupons) work in
// minor units and stay there. r of n must fit an int64.
func (r Rate) OfMinor(n int64) int64 { return r.ofInt(n, true) }

// OfMinorDown is OfMinor rounded toward zero: for caps (the share of an
// order points may pay) and multiplied points, which never round up.
func (r Rate) OfMinorDown(n int64) int64 { return r.ofInt(n, false) }

func (r Rate) ofInt(n int64, halfUp bool) int64 {
	neg := (n < 0) != (r.ppm < 0)
	a, b := uint64(n), uint64(r.ppm)
	if n < 0 {
		a = -a
	}
	if r.ppm < 0 {
		b = -b
	}
	hi, lo := bits.Mul64(a, b)
	q, rem := bits.Div64(hi, lo, million) // panics only when the result overflows
	if halfUp && rem >= million-rem {
		q++
	}
	if neg {
		return -int64(q)
	}
	return int64(q)
}
