package commerce_test

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/currency"

	"github.com/minishop/minishop/commerce"
)

// requireRateInvalid checks err is the KindInvalid *commerce.Error naming
// field "rate".
func requireRateInvalid(t *testing.T, err error, input any) {
	t.Helper()
	var e *commerce.Error
	require.ErrorAs(t, err, &e, "%v", input)
	assert.Equal(t, commerce.KindInvalid, e.Kind, "%v", input)
	assert.Equal(t, "rate", e.Field, "%v", input)
	assert.True(t, errors.Is(err, commerce.ErrInvalid), "%v", input)
}

func TestParseRateAccepts(t *testing.T) {
	for in, ppm := range map[string]int64{
		"0%":                     0,
		"12.5%":                  125000,
		"0.6%":                   6000,
		"100%":                   1_000_000,
		"150%":                   1_500_000,
		"0.0001%":                1,
		"33.3333%":               333333,
		"12.50000%":              125000, // trailing zeros add no precision
		"007%":                   70000,
		"922337203685477.5807%":  math.MaxInt64,
		"922337203685477.58070%": math.MaxInt64,
	} {
		r, err := commerce.ParseRate(in)
		require.NoError(t, err, in)
		assert.Equal(t, ppm, r.PPM(), in)
	}
}

func TestParseRateRefuses(t *testing.T) {
	for _, in := range []string{
		"", "%", "12.5", "0.125", "12,5%", " 12.5%", "12.5 %", "12.5%%", "-1%", "-0%", "+1%",
		"1e2%", ".5%", "5.%", "12.34567%", "0.00001%", "0.00005%", "922337203685477.5808%",
		"99999999999999999999%", "NaN%", "Inf%", "0x10%", "１２%", strings.Repeat("1", 100) + "%",
	} {
		_, err := commerce.ParseRate(in)
		requireRateInvalid(t, err, in)
	}
}

func TestPercent(t *testing.T) {
	for p, ppm := range map[float64]int64{
		0: 0, 12.5: 125000, 0.6: 6000, 0.1: 1000, 33.3333: 333333, 100: 1_000_000, 0.0001: 1, 250: 2_500_000,
		math.Copysign(0, -1): 0,
	} {
		r, err := commerce.Percent(p)
		require.NoError(t, err, p)
		assert.Equal(t, ppm, r.PPM(), p)
		assert.Equal(t, ppm, commerce.MustPercent(p).PPM(), p)
	}
	for _, p := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), -1, -0.0001, 12.34567, 0.00001, 1e-300, 1e20, math.MaxFloat64} {
		_, err := commerce.Percent(p)
		requireRateInvalid(t, err, p)
	}
	assert.Panics(t, func() { commerce.MustPercent(0.00001) })
}

func TestRateString(t *testing.T) {
	for ppm, want := range map[int64]string{
		0: "0%", 125000: "12.5%", 6000: "0.6%", 1_000_000: "100%", 1: "0.0001%", 10: "0.001%",
		333333: "33.3333%", 1_500_000: "150%", 100: "0.01%", -6000: "-0.6%",
		math.MaxInt64: "922337203685477.5807%", math.MinInt64: "-922337203685477.5808%",
	} {
		assert.Equal(t, want, commerce.PPM(ppm).String(), ppm)
	}
	assert.Equal(t, "0%", commerce.Rate{}.String(), "the zero Rate is 0 %")
}

func TestRateJSON(t *testing.T) {
	type doc struct {
		R commerce.Rate
		M map[string]commerce.Rate
	}
	in := doc{R: commerce.MustPercent(12.5), M: map[string]commerce.Rate{"books": {}, "food": commerce.PPM(6000)}}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	assert.JSONEq(t, `{"R":"12.5%","M":{"books":"0%","food":"0.6%"}}`, string(b))
	var out doc
	require.NoError(t, json.Unmarshal(b, &out))
	assert.Equal(t, in, out)

	// null leaves the value alone, as encoding/json does.
	out.R = commerce.PPM(7)
	require.NoError(t, json.Unmarshal([]byte(`{"R":null}`), &out))
	assert.Equal(t, int64(7), out.R.PPM())

	for _, bad := range []string{`1500`, `0.125`, `true`, `{}`, `["1%"]`, `"0.125"`, `"12.34567%"`, `"-1%"`, `"\u0031%x"`} {
		var r commerce.Rate
		err := json.Unmarshal([]byte(bad), &r)
		requireRateInvalid(t, err, bad)
		assert.Zero(t, r.PPM(), bad)
	}
	// Escapes in a valid string are read as JSON does.
	var r commerce.Rate
	require.NoError(t, json.Unmarshal([]byte(`"\u0031\u0030%"`), &r))
	assert.Equal(t, int64(100000), r.PPM())
}

func TestRateOf(t *testing.T) {
	for _, tt := range []struct {
		rate       commerce.Rate
		m, want    string
		exact      string
		minor, got int64 // OfMinor(minor) and OfMinorDown(minor)
		down       int64
	}{
		{commerce.MustPercent(15), "33.33", "5.00", "4.9995", 3333, 500, 499},    // half-up from 4.9995
		{commerce.MustPercent(15), "33.30", "5.00", "4.995", 3330, 500, 499},     // exactly half: up
		{commerce.MustPercent(15), "33.20", "4.98", "4.98", 3320, 498, 498},      // exact
		{commerce.PPM(6000), "0.83", "0.00", "0.00498", 83, 0, 0},                // 0.6 % fee of 83 fen: 0.498 fen
		{commerce.PPM(6000), "0.84", "0.01", "0.00504", 84, 1, 0},                // 0.504 fen
		{commerce.MustPercent(100), "12.34", "12.34", "12.34", 1234, 1234, 1234}, // all of it
		{commerce.Rate{}, "12.34", "0.00", "0", 1234, 0, 0},                      // none of it
		{commerce.MustPercent(150), "0.03", "0.05", "0.045", 3, 5, 4},            // a multiplier above 100 %
		{commerce.MustPercent(50), "-0.03", "-0.02", "-0.015", -3, -2, -1},       // half away from zero, like Money.Round
	} {
		m := cny(tt.m)
		assert.Equal(t, cny(tt.want).String(), tt.rate.Of(m).String(), "%s of %s", tt.rate, tt.m)
		assert.True(t, tt.rate.OfExact(m).Amount().Equal(dec(tt.exact)), "%s of %s exactly: %s", tt.rate, tt.m, tt.rate.OfExact(m).Amount())
		assert.Equal(t, tt.got, tt.rate.OfMinor(tt.minor), "%s of %d minor", tt.rate, tt.minor)
		assert.Equal(t, tt.down, tt.rate.OfMinorDown(tt.minor), "%s of %d minor, down", tt.rate, tt.minor)
	}
	// Of keeps the currency and its minor unit (JPY has none).
	jpy := commerce.FromMinor(333, currency.JPY)
	assert.Equal(t, "JPY 50", commerce.MustPercent(15).Of(jpy).String())
	// OfMinor is exact where a float is not: the whole int64 range.
	assert.Equal(t, int64(math.MaxInt64), commerce.MustPercent(100).OfMinor(math.MaxInt64))
	assert.Equal(t, int64(math.MaxInt64/2+1), commerce.MustPercent(50).OfMinor(math.MaxInt64))
}

// TestRateOfMatchesMoney checks the integer and the decimal paths agree,
// and agree with the rational definition, on many rates and amounts.
func TestRateOfMatchesMoney(t *testing.T) {
	for _, ppm := range []int64{0, 1, 999, 6000, 10000, 125000, 333333, 500000, 999999, 1_000_000, 2_500_000} {
		r := commerce.PPM(ppm)
		for _, n := range []int64{0, 1, 2, 3, 49, 50, 83, 84, 99, 100, 101, 3333, 9999, 123456789, -1, -3, -3333} {
			m := commerce.FromMinor(n, currency.CNY)
			got, err := r.Of(m).Minor()
			require.NoError(t, err)
			exact := new(big.Rat).SetFrac64(n*ppm, 1_000_000)
			// Half away from zero: floor(|x| + 1/2) with x's sign.
			abs := new(big.Rat).Abs(exact)
			abs.Add(abs, big.NewRat(1, 2))
			want := new(big.Int).Quo(abs.Num(), abs.Denom()).Int64()
			if exact.Sign() < 0 {
				want = -want
			}
			assert.Equal(t, want, got, "%s of %d", r, n)
			assert.Equal(t, want, r.OfMinor(n), "%s of %d minor", r, n)
			down := new(big.Int).Quo(exact.Num(), exact.Denom()).Int64() // toward zero
			assert.Equal(t, down, r.OfMinorDown(n), "%s of %d down", r, n)
			assert.Equal(t, down, mustMinor(t, r.OfExact(m).RoundDown()), "%s of %d, exact then down", r, n)
		}
	}
}

func mustMinor(t *testing.T, m commerce.Money) int64 {
	t.Helper()
	v, err := m.Minor()
	require.NoError(t, err)
	return v
}

// FuzzParseRate checks every accepted text round-trips through String to
// the same rate and String's form is accepted again unchanged, and every
// refusal is the documented error.
func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"0%", "12.5%", "0.0001%", "100%", "12.50%", "-1%", "0.125", "1e2%", "922337203685477.5807%", ".5%", "007.1000%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := commerce.ParseRate(s)
		if err != nil {
			requireRateInvalid(t, err, s)
			return
		}
		if r.PPM() < 0 {
			t.Fatalf("%q parsed to a negative rate %d", s, r.PPM())
		}
		text := r.String()
		back, err := commerce.ParseRate(text)
		require.NoError(t, err, "String of %q is %q", s, text)
		require.Equal(t, r, back, "%q → %q", s, text)
		require.Equal(t, text, back.String())
		b, err := json.Marshal(r)
		require.NoError(t, err)
		var j commerce.Rate
		require.NoError(t, json.Unmarshal(b, &j))
		require.Equal(t, r, j)
	})
}
