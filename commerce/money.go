package commerce

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/shopspring/decimal"
	"golang.org/x/text/currency"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/number"
)

// Money is an exact amount in one currency. The amount is a decimal, never a
// float; it may carry more digits than the currency's minor unit while a
// computation is under way (a rate applied, say) and is brought back to the
// minor unit by Round at the points the money rules name: line totals,
// discount allocation, fees and commission.
//
// The zero Money has no currency; it is only useful as "not set". Arithmetic
// between two currencies is an error (ErrCurrencyMismatch), never a
// conversion.
type Money struct {
	// The amount is coef × 10^exp, or big × 10^exp when the coefficient
	// does not fit an int64 (big is nil otherwise, and is never changed
	// once set). Amounts are nearly always small: int64 arithmetic keeps
	// them off the heap, where a decimal.Decimal (a *big.Int) put every
	// one, and an order holds dozens. Results are exactly what
	// decimal.Decimal computes, exponent included (see dec).
	coef int64
	big  *big.Int
	exp  int32
	cur  currency.Unit
}

// fromDecimal returns d in cur, with an int64 coefficient when it fits.
func fromDecimal(d decimal.Decimal, cur currency.Unit) Money {
	c := d.Coefficient() // a copy: the Money may keep it
	if c.IsInt64() {
		return Money{coef: c.Int64(), exp: d.Exponent(), cur: cur}
	}
	return Money{big: c, exp: d.Exponent(), cur: cur}
}

// dec returns the amount as a decimal, for what the int64 paths leave to
// the decimal package (overflow, unusual exponents, rates).
func (m Money) dec() decimal.Decimal {
	if m.big != nil {
		return decimal.NewFromBigInt(m.big, m.exp)
	}
	return decimal.New(m.coef, m.exp)
}

// in returns m in cur (the same amount).
func (m Money) in(cur currency.Unit) Money {
	m.cur = cur
	return m
}

// pow10[k] is 10^k, for every k an int64 holds.
var pow10 = func() (p [19]int64) {
	p[0] = 1
	for k := 1; k < len(p); k++ {
		p[k] = p[k-1] * 10
	}
	return p
}()

func add64(a, b int64) (int64, bool) {
	s := a + b
	return s, (a^s)&(b^s) >= 0
}

func sub64(a, b int64) (int64, bool) {
	s := a - b
	return s, (a^b)&(a^s) >= 0
}

func mul64(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	p := a * b
	if p/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		return 0, false
	}
	return p, true
}

// scale returns c × 10^k (k >= 0); ok is false when it overflows.
func scale(c int64, k int64) (int64, bool) {
	if k >= int64(len(pow10)) {
		return 0, c == 0
	}
	return mul64(c, pow10[k])
}

// align returns m's and o's coefficients at the smaller of their exponents,
// as decimal.RescalePair does; ok is false when one does not fit an int64.
func align(m, o Money) (a, b int64, exp int32, ok bool) {
	if m.big != nil || o.big != nil {
		return 0, 0, 0, false
	}
	switch {
	case m.exp == o.exp:
		return m.coef, o.coef, m.exp, true
	case m.exp > o.exp:
		a, ok = scale(m.coef, int64(m.exp)-int64(o.exp))
		return a, o.coef, o.exp, ok
	default:
		b, ok = scale(o.coef, int64(o.exp)-int64(m.exp))
		return m.coef, b, m.exp, ok
	}
}

// plus returns m + o in m's currency (the caller checked o's).
func (m Money) plus(o Money) Money {
	if a, b, exp, ok := align(m, o); ok {
		if c, ok := add64(a, b); ok {
			return Money{coef: c, exp: exp, cur: m.cur}
		}
	}
	return fromDecimal(m.dec().Add(o.dec()), m.cur)
}

// minus returns m - o in m's currency (the caller checked o's).
func (m Money) minus(o Money) Money {
	if a, b, exp, ok := align(m, o); ok {
		if c, ok := sub64(a, b); ok {
			return Money{coef: c, exp: exp, cur: m.cur}
		}
	}
	return fromDecimal(m.dec().Sub(o.dec()), m.cur)
}

// cmp compares the amounts of m and o, whatever their currencies.
func (m Money) cmp(o Money) int {
	if a, b, _, ok := align(m, o); ok {
		return cmp.Compare(a, b)
	}
	return m.dec().Cmp(o.dec())
}

func (m Money) sign() int {
	if m.big != nil {
		return m.big.Sign()
	}
	return cmp.Compare(m.coef, 0)
}

// rescale returns m at exponent -places as decimal's Round (half away from
// zero) or, with down set, Truncate (toward zero) leave it.
func (m Money) rescale(places int32, down bool) Money {
	switch {
	case m.exp == -places:
		return m
	case m.big == nil && m.exp < -places && int64(-places)-int64(m.exp) < int64(len(pow10)):
		p := pow10[-places-m.exp]
		q, r := m.coef/p, m.coef%p
		if !down && (r >= p/2 || -r >= p/2) { // half away from zero
			q += int64(m.sign())
		}
		return Money{coef: q, exp: -places, cur: m.cur}
	case down && m.exp > -places:
		return m // Truncate leaves an amount with fewer digits as it is
	case m.big == nil && m.exp > -places:
		if c, ok := scale(m.coef, int64(m.exp)+int64(places)); ok {
			return Money{coef: c, exp: -places, cur: m.cur}
		}
	}
	if down {
		return fromDecimal(m.dec().Truncate(places), m.cur)
	}
	return fromDecimal(m.dec().Round(places), m.cur)
}

// maxMinor bounds amounts to what fits integer minor units in a signed 64-bit
// column, so every store keeps them exactly.
const maxMinor = math.MaxInt64

var maxMinorDecimal = decimal.NewFromInt(maxMinor)

// NewMoney returns amount in cur.
func NewMoney(amount decimal.Decimal, cur currency.Unit) Money {
	return fromDecimal(amount, cur)
}

// Zero returns zero in cur.
func Zero(cur currency.Unit) Money { return Money{exp: -MinorDigits(cur), cur: cur} }

// FromMinor returns the amount given in the currency's minor units: fen for
// CNY (1230 is 12.30 yuan), yen for JPY. WeChat Pay speaks integer fen.
func FromMinor(minor int64, cur currency.Unit) Money {
	return Money{coef: minor, exp: -MinorDigits(cur), cur: cur}
}

// MinorDigits returns the number of decimal places of cur's minor unit
// (2 for CNY and USD, 0 for JPY), from the ISO 4217 data in x/text.
func MinorDigits(cur currency.Unit) int32 {
	scale, _ := currency.Standard.Rounding(cur)
	return int32(scale)
}

// ParseCurrency parses an ISO 4217 code such as "CNY" (case-insensitive).
// An unknown code is a KindInvalid *Error for field "currency".
func ParseCurrency(code string) (currency.Unit, error) {
	u, err := parseCurrency(code)
	if err != nil {
		return u, &Error{Op: "commerce.parse_currency", Kind: KindInvalid, Field: "currency", Err: err}
	}
	return u, nil
}

func parseCurrency(code string) (currency.Unit, error) {
	if len(code) != 3 {
		return currency.Unit{}, fmt.Errorf("unknown currency %q", truncate(code, 40))
	}
	u, err := currency.ParseISO(code)
	if err != nil {
		return currency.Unit{}, fmt.Errorf("unknown currency %q", code)
	}
	return u, nil
}

// ParseMoney parses "12.30", "CNY 12.30" or "12.30 CNY". A string without a
// code is in cur; a string with a code must name cur unless cur is the zero
// currency.Unit, in which case the code decides. The amount may have at most
// the currency's minor digits ("12.345" CNY is rejected, not rounded, so no
// input is silently changed); no exponent, grouping or plus sign. Bad input
// is a KindInvalid *Error for field "money"; a caller parsing a form field
// can name its own field with Error.Field.
func ParseMoney(s string, cur currency.Unit) (Money, error) {
	fail := func(format string, args ...any) (Money, error) {
		return Money{}, &Error{Op: "commerce.parse_money", Kind: KindInvalid, Field: "money",
			Err: fmt.Errorf("%q: %s", truncate(s, 40), fmt.Sprintf(format, args...))}
	}
	t := strings.TrimSpace(s)
	if len(t) > 64 {
		return fail("too long")
	}
	fields := strings.Fields(t)
	var amountText string
	switch len(fields) {
	case 1:
		amountText = fields[0]
	case 2:
		code, amt := fields[0], fields[1]
		if isLetters(amt) {
			code, amt = amt, code
		}
		u, err := parseCurrency(code)
		if err != nil {
			return fail("%v", err)
		}
		if cur != (currency.Unit{}) && u != cur {
			return fail("currency %s, want %s", u, cur)
		}
		cur, amountText = u, amt
	default:
		return fail("want an amount with an optional currency code")
	}
	if cur == (currency.Unit{}) {
		return fail("no currency")
	}
	m, problem := parseAmount(amountText, cur)
	if problem != "" {
		return fail("%s", problem)
	}
	if m.exp < -MinorDigits(cur) && !m.Equal(m.Round()) {
		return fail("more than %d decimal places for %s", MinorDigits(cur), cur)
	}
	return m.Round(), nil
}

// parseAmount reads a plain decimal amount of cur the one way every input
// path takes (ParseMoney and UnmarshalJSON): at most 64 characters of
// -?digits(.digits)?, within int64 minor units. Exponents ("1e3000000") are
// refused before the decimal package would spend seconds and megabytes
// expanding them. Digits below the minor unit are kept (ParseMoney refuses
// them; stored documents may hold unrounded amounts). problem is "" when
// the amount is good.
func parseAmount(text string, cur currency.Unit) (m Money, problem string) {
	if len(text) > 64 {
		return Money{}, "too long"
	}
	if !isPlainDecimal(text) {
		return Money{}, "malformed amount"
	}
	d, err := decimal.NewFromString(text)
	if err != nil {
		return Money{}, "malformed amount"
	}
	m = fromDecimal(d, cur)
	if _, err := m.RoundDown().Minor(); err != nil {
		return Money{}, err.Error()
	}
	return m, ""
}

// MustParseMoney is ParseMoney for constants in tests and examples; it panics
// on error.
func MustParseMoney(s string, cur currency.Unit) Money {
	m, err := ParseMoney(s, cur)
	if err != nil {
		panic(err)
	}
	return m
}

func isLetters(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return s != ""
}

// isPlainDecimal accepts -?digits(.digits)?, the only form money input takes.
func isPlainDecimal(s string) bool {
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || (hasDot && frac == "") {
		return false
	}
	for _, part := range []string{intPart, frac} {
		for _, r := range part {
			if r < '0' || r > '9' {
				return false
			}
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Amount returns the decimal amount.
func (m Money) Amount() decimal.Decimal { return m.dec() }

// Currency returns the currency.
func (m Money) Currency() currency.Unit { return m.cur }

// IsSet reports whether m has a currency (the zero Money has none).
func (m Money) IsSet() bool { return m.cur != (currency.Unit{}) }

func (m Money) same(op string, o Money) error {
	if m.cur != o.cur {
		return &Error{Op: op, Kind: KindInvalid, Err: fmt.Errorf("%w: %s and %s", ErrCurrencyMismatch, m.cur, o.cur)}
	}
	return nil
}

// Add returns m + o. Mixing currencies is an error.
func (m Money) Add(o Money) (Money, error) {
	if err := m.same("commerce.money.add", o); err != nil {
		return Money{}, err
	}
	return m.plus(o), nil
}

// Sub returns m - o. Mixing currencies is an error.
func (m Money) Sub(o Money) (Money, error) {
	if err := m.same("commerce.money.sub", o); err != nil {
		return Money{}, err
	}
	return m.minus(o), nil
}

// Mul returns m × qty, exactly.
func (m Money) Mul(qty int64) Money {
	if c, ok := mul64(m.coef, qty); ok && m.big == nil {
		return Money{coef: c, exp: m.exp, cur: m.cur}
	}
	return fromDecimal(m.dec().Mul(decimal.NewFromInt(qty)), m.cur)
}

// MulRate returns m × rate, exactly (unrounded: call Round where the money
// rules say to round).
func (m Money) MulRate(rate decimal.Decimal) Money {
	if exp := int64(m.exp) + int64(rate.Exponent()); m.big == nil && rate.NumDigits() <= 18 && exp == int64(int32(exp)) {
		if c, ok := mul64(m.coef, rate.CoefficientInt64()); ok {
			return Money{coef: c, exp: int32(exp), cur: m.cur}
		}
	}
	return fromDecimal(m.dec().Mul(rate), m.cur)
}

// Neg returns -m.
func (m Money) Neg() Money {
	if m.big == nil && m.coef != math.MinInt64 {
		return Money{coef: -m.coef, exp: m.exp, cur: m.cur}
	}
	return fromDecimal(m.dec().Neg(), m.cur)
}

// Round rounds to the currency's minor unit, half away from zero ("half-up"
// in the money rules: 0.005 yuan becomes 0.01, -0.005 becomes -0.01).
func (m Money) Round() Money {
	return m.rescale(MinorDigits(m.cur), false)
}

// RoundDown truncates toward zero to the minor unit.
func (m Money) RoundDown() Money {
	return m.rescale(MinorDigits(m.cur), true)
}

// Cmp compares m and o: -1, 0 or +1. Mixing currencies is an error.
func (m Money) Cmp(o Money) (int, error) {
	if err := m.same("commerce.money.cmp", o); err != nil {
		return 0, err
	}
	return m.cmp(o), nil
}

// Equal reports whether m and o have the same currency and amount
// (12.3 equals 12.30).
func (m Money) Equal(o Money) bool { return m.cur == o.cur && m.cmp(o) == 0 }

// IsZero reports whether the amount is zero.
func (m Money) IsZero() bool { return m.sign() == 0 }

// IsNegative reports whether the amount is below zero.
func (m Money) IsNegative() bool { return m.sign() < 0 }

// IsPositive reports whether the amount is above zero.
func (m Money) IsPositive() bool { return m.sign() > 0 }

// Minor returns the amount in integer minor units (fen for CNY). It fails if
// the amount has digits below the minor unit (round first) or does not fit
// an int64.
func (m Money) Minor() (int64, error) {
	if !m.IsSet() {
		return 0, errors.New("money has no currency")
	}
	d := MinorDigits(m.cur)
	if m.exp == -d && m.big == nil && m.coef != math.MinInt64 {
		// The common case (amounts built from minor units or rounded to
		// them): the coefficient is the answer, with no arithmetic.
		return m.coef, nil
	}
	amount := m.dec()
	scaled := amount.Shift(d)
	if !scaled.IsInteger() {
		return 0, fmt.Errorf("%s has digits below the minor unit of %s", amount, m.cur)
	}
	if scaled.Abs().Cmp(maxMinorDecimal) > 0 {
		return 0, fmt.Errorf("%s %s is out of range", amount, m.cur)
	}
	return scaled.IntPart(), nil
}

// mustMinor is Minor for amounts the kernel has already validated and rounded.
func (m Money) mustMinor() int64 {
	v, err := m.Minor()
	if err != nil {
		panic("commerce: " + err.Error())
	}
	return v
}

// String returns the canonical, parseable form: "CNY 12.30".
func (m Money) String() string {
	if !m.IsSet() {
		return "<no money>"
	}
	return m.cur.String() + " " + m.AmountText()
}

// AmountText returns the amount alone, with the currency's minor digits
// and no symbol or grouping: "12.30" for CNY 12.30, "1500" for JPY 1500.
// It is the form forms, CSV files and payment channels' yuan fields want;
// Format is the one for people.
func (m Money) AmountText() string {
	var buf [32]byte
	return string(m.appendAmountText(buf[:0]))
}

// appendAmountText appends AmountText to b.
func (m Money) appendAmountText(b []byte) []byte {
	d := MinorDigits(m.cur)
	if -m.exp > d {
		return append(b, m.dec().String()...)
	}
	r := m.Round()
	if r.big != nil {
		return append(b, r.dec().StringFixed(d)...)
	}
	// decimal's StringFixed, without its big.Int: the digits, with at
	// least one before the point.
	u := uint64(r.coef)
	if r.coef < 0 {
		b = append(b, '-')
		u = -u
	}
	var digits [24]byte
	ds := strconv.AppendUint(digits[:0], u, 10)
	if d == 0 {
		return append(b, ds...)
	}
	if len(ds) <= int(d) {
		b = append(b, '0', '.')
		for range int(d) - len(ds) {
			b = append(b, '0')
		}
		return append(b, ds...)
	}
	k := len(ds) - int(d)
	b = append(b, ds[:k]...)
	b = append(b, '.')
	return append(b, ds[k:]...)
}

// Format renders m for people in the given language through x/text's CLDR
// data: "¥1,234.50" in Chinese, "CN¥1,234.50" in English, "1.234,50 ..."
// separators in German. Where the language's home region uses the currency,
// the narrow symbol is used (¥ rather than CN¥). The digits are exact: no
// conversion through float.
func (m Money) Format(tag language.Tag) string {
	if !m.IsSet() {
		return "<no money>"
	}
	f := formatFor(tag)
	sym := f.printer.Sprint(currency.Symbol(m.cur))
	if region, conf := tag.Region(); conf != language.No {
		if home, ok := currency.FromRegion(region); ok && home == m.cur {
			sym = f.printer.Sprint(currency.NarrowSymbol(m.cur))
		}
	}
	text := m.AmountText()
	neg := strings.HasPrefix(text, "-")
	text = strings.TrimPrefix(text, "-")
	intPart, frac, _ := strings.Cut(text, ".")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	b.WriteString(sym)
	for i, r := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteString(f.group)
		}
		b.WriteRune(r)
	}
	if frac != "" {
		b.WriteString(f.decimal)
		b.WriteString(frac)
	}
	return b.String()
}

type numberFormat struct {
	printer        *message.Printer
	group, decimal string
}

var numberFormats sync.Map // language.Tag -> *numberFormat

// formatFor learns a language's separators once by formatting a known number.
func formatFor(tag language.Tag) *numberFormat {
	if f, ok := numberFormats.Load(tag); ok {
		return f.(*numberFormat)
	}
	p := message.NewPrinter(tag)
	probe := []rune(p.Sprint(number.Decimal(1234.5, number.Scale(1)))) // "1,234.5"
	f := &numberFormat{printer: p, group: ",", decimal: "."}
	if len(probe) >= 7 {
		f.group = string(probe[1 : len(probe)-5])
		f.decimal = string(probe[len(probe)-2 : len(probe)-1])
	}
	numberFormats.Store(tag, f)
	return f
}

type moneyJSON struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

// MarshalJSON encodes m as {"amount":"12.30","currency":"CNY"}: the amount
// is a string so no JSON reader turns it into a float.
func (m Money) MarshalJSON() ([]byte, error) {
	return m.appendJSON(make([]byte, 0, 56)), nil
}

// appendJSON appends MarshalJSON's encoding of m to b. It is written by
// hand: an order holds dozens of amounts, and reflection per amount
// dominated encoding it. Digits, sign, point and an ISO code need no
// escaping.
func (m Money) appendJSON(b []byte) []byte {
	if !m.IsSet() {
		return append(b, "null"...)
	}
	b = append(b, `{"amount":"`...)
	b = m.appendAmountText(b)
	b = append(b, `","currency":"`...)
	b = append(b, m.cur.String()...)
	return append(b, `"}`...)
}

// UnmarshalJSON decodes the form MarshalJSON writes, refusing any amount
// ParseMoney would refuse.
func (m *Money) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*m = Money{}
		return nil
	}
	var v moneyJSON
	if a, c, ok := fastMoneyJSON(b); ok {
		// Stored documents hold many amounts in exactly MarshalJSON's
		// form; reading them without reflection keeps decoding orders and
		// batches cheap. Anything else takes the general path.
		v.Amount, v.Currency = a, c
	} else if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	cur, err := ParseCurrency(v.Currency)
	if err != nil {
		return err
	}
	// As strict as ParseMoney: JSON comes from stored documents but also
	// from outside (a channel's notification, a host's API), and an
	// exponent such as "1e3000000" would otherwise cost a second of CPU and
	// tens of megabytes here.
	d, problem := parseAmount(v.Amount, cur)
	if problem != "" {
		return fmt.Errorf("money amount %q: %s", truncate(v.Amount, 40), problem)
	}
	*m = d
	return nil
}

// fastMoneyJSON reads {"amount":"<number>","currency":"<code>"} as
// MarshalJSON writes it (no spaces, no escapes); ok is false otherwise.
func fastMoneyJSON(b []byte) (amount, cur string, ok bool) {
	const head, mid, tail = `{"amount":"`, `","currency":"`, `"}`
	s := string(b)
	if !strings.HasPrefix(s, head) || !strings.HasSuffix(s, tail) {
		return "", "", false
	}
	s = s[len(head) : len(s)-len(tail)]
	i := strings.Index(s, mid)
	if i < 0 {
		return "", "", false
	}
	amount, cur = s[:i], s[i+len(mid):]
	if strings.ContainsAny(amount, `"\`) || strings.ContainsAny(cur, `"\`) {
		return "", "", false
	}
	return amount, cur, true
}

// Sum adds amounts of one currency; an empty list sums to Zero(cur).
func Sum(cur currency.Unit, amounts ...Money) (Money, error) {
	total := Zero(cur)
	for _, a := range amounts {
		var err error
		if total, err = total.Add(a); err != nil {
			return Money{}, err
		}
	}
	return total, nil
}

// Allocate splits total over len(weights) parts in proportion to the weights
// so that the parts add up to total exactly, in the currency's minor units.
// Each part first gets the floor of its exact share; the minor units left
// over go one each to the parts with the largest remainders, earlier parts
// winning ties, so the result is deterministic.
//
// Weights are non-negative integers in any unit (line totals in fen, say);
// a part with weight zero gets zero. total must be in whole minor units. A
// negative total is split as its absolute value and each part negated.
// Discount splits, refunds and commission all rest on this function, and the
// split it makes is stored once and reused, never recomputed from ratios.
func Allocate(total Money, weights []int64) ([]Money, error) {
	const op = "commerce.allocate"
	minor, err := total.Minor()
	if err != nil {
		return nil, Invalid(op, "total", "%v", err)
	}
	if minor != 0 && len(weights) > 0 && allZero(weights) {
		return nil, Invalid(op, "weights", "all zero, nothing to split %s over", total)
	}
	shares, err := AllocateMinor(minor, weights)
	if err != nil {
		return nil, err
	}
	parts := make([]Money, len(shares))
	for i, v := range shares {
		parts[i] = FromMinor(v, total.cur)
	}
	return parts, nil
}

func allZero(ws []int64) bool {
	for _, w := range ws {
		if w != 0 {
			return false
		}
	}
	return true
}

// AllocateMinor is Allocate in integer minor units, for callers that split
// many times (choosing a coupon combination) and build Money only for the
// result.
func AllocateMinor(total int64, weights []int64) ([]int64, error) {
	const op = "commerce.allocate"
	if len(weights) == 0 {
		return nil, Invalid(op, "weights", "none given")
	}
	var sum uint64
	for i, w := range weights {
		if w < 0 {
			return nil, Invalid(op, fmt.Sprintf("weights[%d]", i), "negative weight %d", w)
		}
		var carry uint64
		sum, carry = bits.Add64(sum, uint64(w), 0)
		if carry != 0 {
			return nil, Invalid(op, "weights", "sum overflows")
		}
	}
	parts := make([]int64, len(weights))
	if total == 0 {
		return parts, nil
	}
	if sum == 0 {
		return nil, Invalid(op, "weights", "all zero, nothing to split %d over", total)
	}
	neg := total < 0
	t := uint64(total)
	if neg {
		t = -t
	}
	shares := make([]uint64, len(weights))
	rems := make([]uint64, len(weights))
	var given uint64
	for i, w := range weights {
		hi, lo := bits.Mul64(t, uint64(w))
		shares[i], rems[i] = bits.Div64(hi, lo, sum)
		given += shares[i]
	}
	if left := t - given; left > 0 {
		order := make([]int, len(weights))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int {
			switch {
			case rems[a] > rems[b]:
				return -1
			case rems[a] < rems[b]:
				return 1
			}
			return 0
		})
		for _, i := range order[:left] {
			shares[i]++
		}
	}
	for i, s := range shares {
		v := int64(s)
		if neg {
			v = -v
		}
		parts[i] = v
	}
	return parts, nil
}

// MulDivHalfUp returns a×b÷c rounded half-up, exactly (128-bit
// intermediate), for a, b ≥ 0 and c > 0 with a result that fits an int64:
// the rate and pro-rata arithmetic on minor units every package shares.
func MulDivHalfUp(a, b, c int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	q, r := bits.Div64(hi, lo, uint64(c))
	if r >= uint64(c)-r { // r/c ≥ 1/2
		q++
	}
	return int64(q)
}
