package commerce

import (
	"math"
	"testing"

	"github.com/shopspring/decimal"
	"golang.org/x/text/currency"
)

// sameAsDecimal fails t unless m holds exactly d: value and exponent, as
// Money computed with decimal.Decimal before its int64 paths.
func sameAsDecimal(t *testing.T, what string, m Money, d decimal.Decimal) {
	t.Helper()
	if got := m.dec(); got.Cmp(d) != 0 || got.Exponent() != d.Exponent() {
		t.Fatalf("%s: got %s (exp %d), decimal says %s (exp %d)", what, got, got.Exponent(), d, d.Exponent())
	}
	if m.big != nil && m.big.IsInt64() {
		t.Fatalf("%s: %s kept as a big.Int though it fits an int64", what, m.dec())
	}
}

// FuzzMoneyMatchesDecimal holds Money's int64 arithmetic to decimal's, the
// overflow into big.Int included: every operation gives the value and the
// exponent decimal gives, and the text and minor units that follow.
func FuzzMoneyMatchesDecimal(f *testing.F) {
	f.Add(int64(1230), int32(-2), int64(-5), int32(-3), int64(3))
	f.Add(int64(math.MaxInt64), int32(-2), int64(1), int32(-2), int64(2))
	f.Add(int64(math.MinInt64), int32(0), int64(-1), int32(-1), int64(-1))
	f.Add(int64(-5), int32(-3), int64(5), int32(0), int64(0))
	f.Add(int64(125), int32(-3), int64(999_999_999_999), int32(-20), int64(7))
	f.Add(int64(7), int32(5), int64(-7), int32(-7), int64(1_000_000_007))
	f.Fuzz(func(t *testing.T, a int64, ea int32, b int64, eb int32, q int64) {
		// Exponents of money in practice sit near the minor unit; keep them
		// where decimal's own arithmetic stays quick.
		ea, eb = ea%30, eb%30
		for _, cur := range []currency.Unit{currency.CNY, currency.JPY, currency.MustParseISO("BHD")} {
			da, db := decimal.New(a, ea), decimal.New(b, eb)
			ma, mb := NewMoney(da, cur), NewMoney(db, cur)
			sameAsDecimal(t, "NewMoney", ma, da)
			sum, _ := ma.Add(mb)
			sameAsDecimal(t, "Add", sum, da.Add(db))
			diff, _ := ma.Sub(mb)
			sameAsDecimal(t, "Sub", diff, da.Sub(db))
			sameAsDecimal(t, "Mul", ma.Mul(q), da.Mul(decimal.NewFromInt(q)))
			rate := decimal.New(b, eb%8)
			sameAsDecimal(t, "MulRate", ma.MulRate(rate), da.Mul(rate))
			sameAsDecimal(t, "Neg", ma.Neg(), da.Neg())
			sameAsDecimal(t, "Round", ma.Round(), da.Round(MinorDigits(cur)))
			sameAsDecimal(t, "RoundDown", ma.RoundDown(), da.Truncate(MinorDigits(cur)))
			sameAsDecimal(t, "plus", sum.plus(diff), da.Add(db).Add(da.Sub(db)))
			if c, _ := ma.Cmp(mb); c != da.Cmp(db) {
				t.Fatalf("Cmp(%s, %s) = %d, decimal says %d", da, db, c, da.Cmp(db))
			}
			if ma.Equal(mb) != da.Equal(db) || ma.IsZero() != da.IsZero() || ma.IsNegative() != da.IsNegative() || ma.IsPositive() != da.IsPositive() {
				t.Fatalf("predicates of %s and %s differ from decimal's", da, db)
			}
			d := MinorDigits(cur)
			want := da.StringFixed(d)
			if -da.Exponent() > d {
				want = da.String()
			}
			if got := ma.AmountText(); got != want {
				t.Fatalf("AmountText(%s) = %q, decimal says %q", da, got, want)
			}
			got, err := ma.Minor()
			wantMinor, wantOK := decimalMinor(da, d)
			if (err == nil) != wantOK || got != wantMinor {
				t.Fatalf("Minor(%s) = %d, %v; decimal says %d, %v", da, got, err, wantMinor, wantOK)
			}
		}
	})
}

// decimalMinor is Minor as decimal computes it.
func decimalMinor(d decimal.Decimal, digits int32) (int64, bool) {
	scaled := d.Shift(digits)
	if !scaled.IsInteger() || scaled.Abs().Cmp(maxMinorDecimal) > 0 {
		return 0, false
	}
	return scaled.IntPart(), true
}
