package commerce_test

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/currency"
	"golang.org/x/text/language"

	"github.com/minishop/minishop/commerce"
)

// noCur is the zero currency.Unit: ParseMoney then takes the code from the
// input.
var noCur currency.Unit

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func cny(s string) commerce.Money { return commerce.MustParseMoney(s, currency.CNY) }

func TestParseMoneyAccepts(t *testing.T) {
	tests := []struct {
		in   string
		cur  currency.Unit
		want string // Money.String of the result
	}{
		{"12.30", currency.CNY, "CNY 12.30"},
		{"12.3", currency.CNY, "CNY 12.30"},
		{"12", currency.CNY, "CNY 12.00"},
		{"0", currency.CNY, "CNY 0.00"},
		{"-0.00", currency.CNY, "CNY 0.00"},
		{"-5.5", currency.CNY, "CNY -5.50"},
		{"007.10", currency.CNY, "CNY 7.10"},
		{"  7.1\t", currency.CNY, "CNY 7.10"},
		{"CNY 12.30", currency.CNY, "CNY 12.30"},
		{"12.30 CNY", currency.CNY, "CNY 12.30"},
		{"cny 12.30", currency.CNY, "CNY 12.30"},
		{"12.30 cny", currency.CNY, "CNY 12.30"},
		{"CnY   12.30", currency.CNY, "CNY 12.30"},
		{"CNY 12.30", noCur, "CNY 12.30"},
		{"12.30 CNY", noCur, "CNY 12.30"},
		// Trailing zeros below the minor unit change nothing, so they pass.
		{"12.300", currency.CNY, "CNY 12.30"},
		{"12.3000000", currency.CNY, "CNY 12.30"},
		{"USD 1", currency.USD, "USD 1.00"},
		{"USD 1", noCur, "USD 1.00"},
		{"JPY 1500", noCur, "JPY 1500"},
		{"1500", currency.JPY, "JPY 1500"},
		{"1.0", currency.JPY, "JPY 1"},
		{"BHD 1.234", noCur, "BHD 1.234"},
		// The ends of the int64 minor-unit range.
		{"92233720368547758.07", currency.CNY, "CNY 92233720368547758.07"},
		{"-92233720368547758.07", currency.CNY, "CNY -92233720368547758.07"},
		{"9223372036854775807", currency.JPY, "JPY 9223372036854775807"},
	}
	for _, tt := range tests {
		t.Run(tt.in+"/"+tt.cur.String(), func(t *testing.T) {
			m, err := commerce.ParseMoney(tt.in, tt.cur)
			require.NoError(t, err)
			assert.Equal(t, tt.want, m.String())
			assert.True(t, m.IsSet())
			if tt.cur != noCur {
				assert.Equal(t, tt.cur, m.Currency())
			}
			_, err = m.Minor()
			assert.NoError(t, err, "a parsed amount is in whole minor units")
		})
	}
}

func TestParseMoneyRejects(t *testing.T) {
	tests := []struct {
		name string
		in   string
		cur  currency.Unit
		msg  string // part of the error message, when worth checking
	}{
		{"empty", "", currency.CNY, ""},
		{"blank", "   ", currency.CNY, ""},
		{"too many decimals", "12.345", currency.CNY, "more than 2 decimal places"},
		{"too many decimals with code", "CNY 0.001", noCur, "more than 2 decimal places"},
		{"exponent", "1e3", currency.CNY, "malformed"},
		{"grouping", "1,000.00", currency.CNY, "malformed"},
		{"plus sign", "+5", currency.CNY, "malformed"},
		{"double minus", "--5", currency.CNY, "malformed"},
		{"minus apart", "- 5", currency.CNY, ""},
		{"trailing dot", "12.", currency.CNY, "malformed"},
		{"leading dot", ".5", currency.CNY, "malformed"},
		{"two dots", "1.2.3", currency.CNY, "malformed"},
		{"hex", "0x10", currency.CNY, "malformed"},
		{"NaN", "NaN", currency.CNY, "malformed"},
		{"Inf", "Inf", currency.CNY, "malformed"},
		{"fullwidth digits", "１２", currency.CNY, "malformed"},
		{"code glued to amount", "CNY12.30", currency.CNY, "malformed"},
		{"other currency", "USD 1", currency.CNY, "want CNY"},
		{"other currency after", "1 USD", currency.CNY, "want CNY"},
		{"unknown code", "XYZ 1", noCur, "unknown currency"},
		{"unknown code with cur", "XYZ 1", currency.CNY, "unknown currency"},
		{"long code", "YUAN 1", currency.CNY, "unknown currency"},
		{"two codes", "CNY CNY", currency.CNY, "malformed"},
		{"two amounts", "1 2", currency.CNY, "unknown currency"},
		{"three fields", "CNY 1 2", currency.CNY, ""},
		{"no currency", "12.30", noCur, "no currency"},
		{"JPY has no minor unit", "1.5", currency.JPY, "more than 0 decimal places"},
		{"above int64 fen", "92233720368547758.08", currency.CNY, "out of range"},
		{"below int64 fen", "-92233720368547758.08", currency.CNY, "out of range"},
		{"above int64 yen", "9223372036854775808", currency.JPY, "out of range"},
		{"far out of range", "1" + strings.Repeat("0", 40), currency.CNY, "out of range"},
		{"too long", strings.Repeat("1", 65), currency.CNY, "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := commerce.ParseMoney(tt.in, tt.cur)
			require.Error(t, err)
			assert.False(t, m.IsSet(), "a failed parse returns the zero Money")
			assert.Equal(t, commerce.KindInvalid, commerce.KindOf(err), "a user's typo is invalid input, not internal")
			assert.Equal(t, "money", asError(t, err).Field)
			assert.Contains(t, err.Error(), tt.msg)
			assert.Panics(t, func() { commerce.MustParseMoney(tt.in, tt.cur) })
		})
	}
}

func TestParseCurrency(t *testing.T) {
	for _, code := range []string{"CNY", "cny", "JPY", "USD"} {
		u, err := commerce.ParseCurrency(code)
		require.NoError(t, err, code)
		assert.Equal(t, strings.ToUpper(code), u.String())
	}
	for _, code := range []string{"", "CN", "CNYY", "XYZ", "¥"} {
		_, err := commerce.ParseCurrency(code)
		assert.Equal(t, "currency", asError(t, err).Field, code)
		assert.Equal(t, commerce.KindInvalid, commerce.KindOf(err), code)
	}
	assert.Equal(t, int32(2), commerce.MinorDigits(currency.CNY))
	assert.Equal(t, int32(0), commerce.MinorDigits(currency.JPY))
}

func TestCurrencyMismatch(t *testing.T) {
	a, b := cny("1.00"), commerce.MustParseMoney("1.00", currency.USD)
	check := func(t *testing.T, err error) {
		t.Helper()
		require.Error(t, err)
		assert.ErrorIs(t, err, commerce.ErrCurrencyMismatch)
		assert.ErrorIs(t, err, commerce.ErrInvalid)
		assert.Equal(t, commerce.KindInvalid, commerce.KindOf(err))
		assert.True(t, strings.HasPrefix(err.Error(), "commerce.money."), "message %q", err)
		assert.Contains(t, err.Error(), "CNY")
		assert.Contains(t, err.Error(), "USD")
	}
	t.Run("add", func(t *testing.T) {
		m, err := a.Add(b)
		check(t, err)
		assert.False(t, m.IsSet())
	})
	t.Run("sub", func(t *testing.T) {
		m, err := a.Sub(b)
		check(t, err)
		assert.False(t, m.IsSet())
	})
	t.Run("cmp", func(t *testing.T) {
		_, err := a.Cmp(b)
		check(t, err)
	})
	t.Run("unset", func(t *testing.T) {
		_, err := a.Add(commerce.Money{})
		require.ErrorIs(t, err, commerce.ErrCurrencyMismatch)
	})
	t.Run("sum", func(t *testing.T) {
		_, err := commerce.Sum(currency.CNY, a, b)
		require.ErrorIs(t, err, commerce.ErrCurrencyMismatch)
	})
	t.Run("equal", func(t *testing.T) {
		assert.False(t, a.Equal(b), "same amount, other currency")
	})
}

func TestArithmetic(t *testing.T) {
	a, b := cny("12.30"), cny("7.75")
	sum, err := a.Add(b)
	require.NoError(t, err)
	assert.Equal(t, "CNY 20.05", sum.String())
	diff, err := b.Sub(a)
	require.NoError(t, err)
	assert.Equal(t, "CNY -4.55", diff.String())
	assert.True(t, diff.IsNegative())
	assert.False(t, diff.IsPositive())

	for _, tt := range []struct {
		x, y commerce.Money
		want int
	}{
		{a, b, 1}, {b, a, -1}, {a, cny("12.3"), 0}, {cny("-1"), commerce.Zero(currency.CNY), -1},
	} {
		got, err := tt.x.Cmp(tt.y)
		require.NoError(t, err)
		assert.Equal(t, tt.want, got, "%s cmp %s", tt.x, tt.y)
	}
	assert.True(t, a.Equal(commerce.NewMoney(dec("12.3000"), currency.CNY)), "12.3 equals 12.30")
	assert.Equal(t, "CNY -12.30", a.Neg().String())

	total, err := commerce.Sum(currency.CNY, a, b, cny("0.01"))
	require.NoError(t, err)
	assert.Equal(t, "CNY 20.06", total.String())
	empty, err := commerce.Sum(currency.JPY)
	require.NoError(t, err)
	assert.True(t, empty.Equal(commerce.Zero(currency.JPY)))
	assert.True(t, empty.IsZero())
	assert.False(t, commerce.Money{}.IsSet())
}

func TestMul(t *testing.T) {
	for _, tt := range []struct {
		m    string
		qty  int64
		want string
	}{
		{"12.30", 3, "36.9"},
		{"12.30", 0, "0"},
		{"12.30", -2, "-24.6"},
		{"0.01", 999, "9.99"},
		{"92233720368547758.07", 1000, "92233720368547758070"}, // exact, beyond int64
	} {
		got := cny(tt.m).Mul(tt.qty)
		assert.True(t, got.Amount().Equal(dec(tt.want)), "%s × %d = %s, want %s", tt.m, tt.qty, got.Amount(), tt.want)
		assert.Equal(t, currency.CNY, got.Currency())
	}
}

func TestMulRate(t *testing.T) {
	for _, tt := range []struct {
		m, rate, want string
	}{
		{"12.30", "0.075", "0.9225"},       // kept exact, not rounded
		{"100.00", "0.333333", "33.3333"},  // a commission rate in millionths
		{"10.00", "1", "10"},               // identity
		{"99.99", "0.88", "87.9912"},       // 88折
		{"0.01", "0.000001", "0.00000001"}, // far below the minor unit
		{"-3.00", "0.5", "-1.5"},
	} {
		got := cny(tt.m).MulRate(dec(tt.rate))
		assert.True(t, got.Amount().Equal(dec(tt.want)), "%s × %s = %s, want %s", tt.m, tt.rate, got.Amount(), tt.want)
	}
	// An unrounded amount is not in minor units until rounded.
	m := cny("12.30").MulRate(dec("0.075"))
	_, err := m.Minor()
	require.Error(t, err)
	minor, err := m.Round().Minor()
	require.NoError(t, err)
	assert.Equal(t, int64(92), minor)
}

func TestRound(t *testing.T) {
	for _, tt := range []struct {
		in   string
		cur  currency.Unit
		want string // amount after Round
		down string // amount after RoundDown
	}{
		{"0.005", currency.CNY, "0.01", "0"},
		{"0.0049999", currency.CNY, "0", "0"},
		{"0.015", currency.CNY, "0.02", "0.01"},
		{"0.025", currency.CNY, "0.03", "0.02"}, // half-up, not banker's
		{"1.125", currency.CNY, "1.13", "1.12"},
		{"1.1249", currency.CNY, "1.12", "1.12"},
		{"-0.005", currency.CNY, "-0.01", "0"},
		{"-0.015", currency.CNY, "-0.02", "-0.01"},
		{"-1.239", currency.CNY, "-1.24", "-1.23"},
		{"12.30", currency.CNY, "12.30", "12.30"},
		{"0.5", currency.JPY, "1", "0"},
		{"1.5", currency.JPY, "2", "1"},
		{"2.4999", currency.JPY, "2", "2"},
		{"-0.5", currency.JPY, "-1", "0"},
		{"0.0005", currency.MustParseISO("BHD"), "0.001", "0"},
	} {
		m := commerce.NewMoney(dec(tt.in), tt.cur)
		r := m.Round()
		assert.True(t, r.Amount().Equal(dec(tt.want)), "Round(%s %s) = %s, want %s", tt.in, tt.cur, r.Amount(), tt.want)
		assert.Equal(t, tt.cur, r.Currency())
		_, err := r.Minor()
		assert.NoError(t, err)
		d := m.RoundDown()
		assert.True(t, d.Amount().Equal(dec(tt.down)), "RoundDown(%s %s) = %s, want %s", tt.in, tt.cur, d.Amount(), tt.down)
	}
}

func TestMinor(t *testing.T) {
	for _, cur := range []currency.Unit{currency.CNY, currency.JPY, currency.MustParseISO("BHD")} {
		for _, v := range []int64{0, 1, -1, 1230, -1230, 99, math.MaxInt64, -math.MaxInt64} {
			m := commerce.FromMinor(v, cur)
			got, err := m.Minor()
			require.NoError(t, err, "%d %s", v, cur)
			assert.Equal(t, v, got, "%s", cur)
			back, err := commerce.ParseMoney(m.String(), noCur)
			require.NoError(t, err, m.String())
			assert.True(t, back.Equal(m), "%s re-parses to %s", m, back)
		}
	}
	assert.Equal(t, "CNY 12.30", commerce.FromMinor(1230, currency.CNY).String())
	assert.Equal(t, "JPY 1230", commerce.FromMinor(1230, currency.JPY).String())
	assert.Equal(t, "CNY -0.01", commerce.FromMinor(-1, currency.CNY).String())

	for _, tt := range []struct {
		name string
		m    commerce.Money
	}{
		{"sub-fen", commerce.NewMoney(dec("12.345"), currency.CNY)},
		{"sub-fen negative", commerce.NewMoney(dec("-0.001"), currency.CNY)},
		{"sub-yen", commerce.NewMoney(dec("1.5"), currency.JPY)},
		{"above int64", commerce.NewMoney(dec("92233720368547758.08"), currency.CNY)},
		{"below int64", commerce.NewMoney(dec("-92233720368547758.08"), currency.CNY)},
		{"no currency", commerce.Money{}},
	} {
		_, err := tt.m.Minor()
		assert.Error(t, err, tt.name)
	}
	// Trailing zeros below the minor unit are still whole fen.
	v, err := commerce.NewMoney(dec("12.3000"), currency.CNY).Minor()
	require.NoError(t, err)
	assert.Equal(t, int64(1230), v)
}

func TestString(t *testing.T) {
	for _, tt := range []struct {
		m    commerce.Money
		want string
	}{
		{cny("12.3"), "CNY 12.30"},
		{cny("-0.5"), "CNY -0.50"},
		{commerce.Zero(currency.CNY), "CNY 0.00"},
		{commerce.NewMoney(decimal.New(5, 1), currency.CNY), "CNY 50.00"},
		{commerce.NewMoney(dec("12.345"), currency.CNY), "CNY 12.345"}, // unrounded digits are kept
		{commerce.FromMinor(5, currency.JPY), "JPY 5"},
		{commerce.Money{}, "<no money>"},
	} {
		assert.Equal(t, tt.want, tt.m.String())
	}
}

func TestFormat(t *testing.T) {
	de := language.German
	for _, tt := range []struct {
		name string
		m    commerce.Money
		tag  language.Tag
		want string
	}{
		{"zh", cny("1234.5"), language.Chinese, "¥1,234.50"},
		{"zh-CN", cny("1234.5"), language.SimplifiedChinese, "¥1,234.50"},
		{"en", cny("1234.5"), language.English, "CN¥1,234.50"},
		{"en small", cny("0.05"), language.English, "CN¥0.05"},
		{"en million", cny("1000000"), language.English, "CN¥1,000,000.00"},
		{"de", cny("1234.5"), de, "CN¥1.234,50"},
		{"zh negative", cny("-1234.5"), language.Chinese, "-¥1,234.50"},
		{"en negative", cny("-0.01"), language.English, "-CN¥0.01"},
		{"zh zero", commerce.Zero(currency.CNY), language.Chinese, "¥0.00"},
		{"JPY en", commerce.FromMinor(1234567, currency.JPY), language.English, "¥1,234,567"},
		{"JPY zh", commerce.FromMinor(1500, currency.JPY), language.Chinese, "JP¥1,500"},
		{"huge exact", cny("92233720368547758.07"), language.Chinese, "¥92,233,720,368,547,758.07"},
		{"huge exact en", cny("-92233720368547758.07"), language.English, "-CN¥92,233,720,368,547,758.07"},
		{"unset", commerce.Money{}, language.Chinese, "<no money>"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.m.Format(tt.tag))
		})
	}
	// German: "." groups thousands and "," marks the decimals.
	got := cny("9876543.21").Format(de)
	assert.True(t, strings.HasSuffix(got, "9.876.543,21"), got)
}

func TestMoneyJSON(t *testing.T) {
	for _, m := range []commerce.Money{
		cny("12.30"),
		cny("-0.01"),
		cny("92233720368547758.07"),
		commerce.FromMinor(1500, currency.JPY),
		commerce.NewMoney(dec("0.9225"), currency.CNY), // unrounded digits survive
	} {
		b, err := json.Marshal(m)
		require.NoError(t, err)
		var raw map[string]any
		require.NoError(t, json.Unmarshal(b, &raw))
		assert.IsType(t, "", raw["amount"], "the amount is a JSON string, never a number: %s", b)
		assert.Equal(t, m.Currency().String(), raw["currency"])
		var back commerce.Money
		require.NoError(t, json.Unmarshal(b, &back))
		assert.True(t, back.Equal(m), "%s round-trips to %s", m, back)
		assert.Equal(t, m.String(), back.String())
	}
	b, err := json.Marshal(cny("12.3"))
	require.NoError(t, err)
	assert.JSONEq(t, `{"amount":"12.30","currency":"CNY"}`, string(b))

	// Inside a struct, and the unset Money as null.
	type doc struct {
		Price commerce.Money  `json:"price"`
		Fee   commerce.Money  `json:"fee"`
		Tip   *commerce.Money `json:"tip"`
	}
	b, err = json.Marshal(doc{Price: cny("1.00")})
	require.NoError(t, err)
	assert.JSONEq(t, `{"price":{"amount":"1.00","currency":"CNY"},"fee":null,"tip":null}`, string(b))
	var d doc
	require.NoError(t, json.Unmarshal(b, &d))
	assert.True(t, d.Price.Equal(cny("1.00")))
	assert.False(t, d.Fee.IsSet())

	for _, bad := range []string{
		// Refused as ParseMoney refuses them: an exponent would make the
		// decimal package expand a million digits (seconds, megabytes).
		`{"amount":"1e1000000","currency":"CNY"}`,
		`{"amount":"1e3","currency":"CNY"}`,
		`{"amount":"-1E-1000000","currency":"CNY"}`,
		`{"amount":"92233720368547758.08","currency":"CNY"}`,
		`{"amount":"` + strings.Repeat("9", 65) + `","currency":"CNY"}`,
		`{"amount":"1.00","currency":"XYZ"}`,
		`{"amount":"abc","currency":"CNY"}`,
		`{"amount":"","currency":"CNY"}`,
		`{"amount":1.00,"currency":"CNY"}`,
		`"CNY 1.00"`,
	} {
		var m commerce.Money
		assert.Error(t, json.Unmarshal([]byte(bad), &m), bad)
	}
}

func TestAllocate(t *testing.T) {
	jpy := func(v int64) commerce.Money { return commerce.FromMinor(v, currency.JPY) }
	tests := []struct {
		name    string
		total   commerce.Money
		weights []int64
		want    []string // amounts
	}{
		{"thirds, earliest wins the tie", cny("100.00"), []int64{1, 1, 1}, []string{"33.34", "33.33", "33.33"}},
		{"thirds of one yuan", cny("1.00"), []int64{1, 1, 1}, []string{"0.34", "0.33", "0.33"}},
		{"largest remainder wins", cny("10.00"), []int64{3333, 3333, 3334}, []string{"3.33", "3.33", "3.34"}},
		{"proportional", cny("10.00"), []int64{800, 9000}, []string{"0.82", "9.18"}},
		{"zero weights get zero", cny("1.00"), []int64{0, 1, 0, 1}, []string{"0", "0.50", "0", "0.50"}},
		{"one fen, tie", cny("0.01"), []int64{0, 5, 5}, []string{"0", "0.01", "0"}},
		{"one weight", cny("12.34"), []int64{7}, []string{"12.34"}},
		{"negative total", cny("-100.00"), []int64{1, 1, 1}, []string{"-33.34", "-33.33", "-33.33"}},
		{"negative total with zeros", cny("-0.03"), []int64{2, 0, 1}, []string{"-0.02", "0", "-0.01"}},
		{"zero total", cny("0"), []int64{1, 2}, []string{"0", "0"}},
		{"zero total, zero weights", cny("0"), []int64{0, 0}, []string{"0", "0"}},
		{"JPY", jpy(100), []int64{1, 2}, []string{"33", "67"}},
		{"huge weights", cny("0.01"), []int64{math.MaxInt64, math.MaxInt64}, []string{"0.01", "0"}},
		{"huge total", commerce.FromMinor(math.MaxInt64, currency.CNY), []int64{math.MaxInt64, 0, math.MaxInt64},
			[]string{"46116860184273879.04", "0", "46116860184273879.03"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts, err := commerce.Allocate(tt.total, tt.weights)
			require.NoError(t, err)
			require.Len(t, parts, len(tt.want))
			sum := commerce.Zero(tt.total.Currency())
			for i, p := range parts {
				assert.True(t, p.Amount().Equal(dec(tt.want[i])), "part %d = %s, want %s", i, p.Amount(), tt.want[i])
				assert.Equal(t, tt.total.Currency(), p.Currency())
				sum, err = sum.Add(p)
				require.NoError(t, err)
			}
			assert.True(t, sum.Equal(tt.total), "parts sum to %s, total %s", sum, tt.total)
		})
	}
}

func TestAllocateRejects(t *testing.T) {
	tests := []struct {
		name    string
		total   commerce.Money
		weights []int64
		field   string
	}{
		{"all-zero weights", cny("1.00"), []int64{0, 0, 0}, "weights"},
		{"no weights", cny("1.00"), nil, "weights"},
		{"negative weight", cny("1.00"), []int64{1, -1, 2}, "weights[1]"},
		{"negative weight with zero total", cny("0"), []int64{-5}, "weights[0]"},
		{"sub-fen total", commerce.NewMoney(dec("1.005"), currency.CNY), []int64{1, 1}, "total"},
		{"sub-yen total", commerce.NewMoney(dec("1.5"), currency.JPY), []int64{1}, "total"},
		{"unset total", commerce.Money{}, []int64{1}, "total"},
		{"out-of-range total", commerce.NewMoney(dec("92233720368547758.08"), currency.CNY), []int64{1}, "total"},
		{"weight sum overflows", cny("1.00"), []int64{math.MaxInt64, math.MaxInt64, 2}, "weights"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts, err := commerce.Allocate(tt.total, tt.weights)
			require.Error(t, err)
			assert.Nil(t, parts)
			assert.ErrorIs(t, err, commerce.ErrInvalid)
			var e *commerce.Error
			require.True(t, errors.As(err, &e))
			assert.Equal(t, tt.field, e.Field)
			assert.Equal(t, "commerce.allocate", e.Op)
			assert.True(t, strings.HasPrefix(err.Error(), "commerce.allocate: "+tt.field+": "), "message %q", err)
		})
	}
}

// Amounts decode the same whether they take the fast path (MarshalJSON's
// exact form) or the general one (spaces, escapes, other key order), and
// bad ones fail on both.
func TestMoneyJSONForms(t *testing.T) {
	for _, in := range []string{
		`{"amount":"12.30","currency":"CNY"}`,
		`{ "amount": "12.30", "currency": "CNY" }`,
		`{"currency":"CNY","amount":"12.30"}`,
		`{"amount":"12.3\u0030","currency":"CNY"}`,
	} {
		var m commerce.Money
		require.NoError(t, json.Unmarshal([]byte(in), &m), in)
		assert.Equal(t, "CNY 12.30", m.String(), in)
	}
	for _, bad := range []string{
		`{"amount":"12.30","currency":"XXQ"}`,
		`{"amount":"twelve","currency":"CNY"}`,
		`{"amount":"12.30","currency":"CNY"`,
		`{"amount":"","currency":"CNY"}`,
	} {
		var m commerce.Money
		assert.Error(t, json.Unmarshal([]byte(bad), &m), bad)
	}
}

func TestAmountText(t *testing.T) {
	assert.Equal(t, "12.30", commerce.MustParseMoney("12.3", currency.CNY).AmountText())
	assert.Equal(t, "-0.05", commerce.MustParseMoney("-0.05", currency.CNY).AmountText())
	assert.Equal(t, "1500", commerce.MustParseMoney("1500", currency.JPY).AmountText())
	assert.Equal(t, "0.000", commerce.Zero(currency.MustParseISO("BHD")).AmountText())
}
