package coupons

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/currency"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/internal/codes"
)

var (
	t0       = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	merchant = commerce.IDFrom[struct{}](uuid.MustParse("00000000-0000-7000-8000-000000000001"))
)

func cny(s string) commerce.Money { return commerce.MustParseMoney(s, currency.CNY) }

func pid(n int) commerce.ProductID {
	return commerce.ProductID(commerce.IDFrom[struct{}](uuid.MustParse(fmt.Sprintf("00000000-0000-7000-8000-%012d", 100+n))))
}

func sku(n int) commerce.SKUID {
	return commerce.SKUID(commerce.IDFrom[struct{}](uuid.MustParse(fmt.Sprintf("00000000-0000-7000-8000-%012d", 200+n))))
}

// quote builds a quote of lines given as (unit price, quantity), product i
// and SKU i each, with a shipping fee.
func quote(shipping string, lines ...any) *commerce.Quote {
	q := &commerce.Quote{MerchantID: commerce.MerchantID(merchant), CustomerID: "c", Currency: currency.CNY,
		Shipping: cny(shipping), ShippingDiscount: cny("0")}
	for i := 0; i < len(lines); i += 2 {
		unit, qty := cny(lines[i].(string)), int64(lines[i+1].(int))
		total := unit.Mul(qty)
		q.Lines = append(q.Lines, commerce.QuoteLine{Product: pid(i / 2), SKU: sku(i / 2), Quantity: qty, UnitPrice: unit,
			Total: total, Payable: total, Discount: cny("0")})
	}
	return q
}

var seq int

func cand(b Batch) Candidate {
	seq++
	b.MerchantID, b.Status = commerce.MerchantID(merchant), Active
	if b.ID.IsZero() {
		b.ID = commerce.IDFrom[batchTag](uuid.Must(uuid.NewV7()))
	}
	c := &Coupon{ID: commerce.IDFrom[couponTag](uuid.Must(uuid.NewV7())), BatchID: b.ID, MerchantID: b.MerchantID, Customer: "c",
		Status: Valid, ValidFrom: t0.Add(-time.Hour), ValidUntil: t0.Add(time.Duration(seq) * time.Hour), ClaimedAt: t0.Add(-time.Hour)}
	return Candidate{Coupon: c, Batch: &b}
}

func split(o *Offer) []int64 { return o.Split }

func TestKinds(t *testing.T) {
	cases := []struct {
		name   string
		q      *commerce.Quote
		b      Batch
		amount int64
		split  []int64
		reason Reason
	}{
		{"amount off", quote("0", "30.00", 1, "70.00", 1), Batch{Kind: AmountOff, Amount: cny("10")}, 1000, []int64{300, 700}, ""},
		{"amount off capped by goods", quote("0", "3.00", 1), Batch{Kind: AmountOff, Amount: cny("10")}, 300, []int64{300}, ""},
		{"threshold met", quote("0", "50.00", 2), Batch{Kind: ThresholdOff, Amount: cny("20"), MinAmount: cny("99")}, 2000, []int64{2000}, ""},
		{"threshold short", quote("0", "49.00", 2), Batch{Kind: ThresholdOff, Amount: cny("20"), MinAmount: cny("99")}, 0, nil, ThresholdShort},
		{"threshold by count", quote("0", "5.00", 2, "5.00", 1), Batch{Kind: ThresholdOff, Amount: cny("3"), MinCount: 3}, 300, []int64{200, 100}, ""},
		{"count short", quote("0", "5.00", 2), Batch{Kind: ThresholdOff, Amount: cny("3"), MinCount: 3}, 0, nil, TooFewItems},
		// 15 % of 33.33 = 4.9995 -> 5.00 (half-up), split pro rata.
		{"percent", quote("0", "33.33", 1), Batch{Kind: PercentOff, PercentOff: commerce.MustPercent(15)}, 500, []int64{500}, ""},
		{"percent capped", quote("0", "1000.00", 1), Batch{Kind: PercentOff, PercentOff: commerce.MustPercent(50), Cap: cny("100")}, 10000, []int64{10000}, ""},
		{"n items", quote("0", "10.00", 3), Batch{Kind: ItemsDiscount, PercentOff: commerce.MustPercent(20), MinCount: 3}, 600, []int64{600}, ""},
		{"free shipping", quote("8", "10.00", 1), Batch{Kind: FreeShipping}, 800, nil, ""},
		{"free shipping nothing to take", quote("0", "10.00", 1), Batch{Kind: FreeShipping}, 0, nil, NothingToTake},
		// Buy 2 get 1: 7 units -> 2 free, the cheapest: 2 of the 5.00 line.
		{"buy 2 get 1", quote("0", "9.00", 4, "5.00", 3), Batch{Kind: BuyNGetM, BuyN: 2, GetM: 1}, 1000, []int64{0, 1000}, ""},
		// 8 units -> 2 groups of 3 -> 2 free; repeated for multiples.
		{"buy 2 get 1 multiples", quote("0", "4.00", 8), Batch{Kind: BuyNGetM, BuyN: 2, GetM: 1}, 800, []int64{800}, ""},
		{"buy 2 get 1 too few", quote("0", "4.00", 2), Batch{Kind: BuyNGetM, BuyN: 2, GetM: 1}, 0, nil, TooFewItems},
		// Exchange: one unit of product 1 at 1.00 once the order reaches 50.
		{"exchange", quote("0", "60.00", 1, "12.00", 2), Batch{Kind: ExchangePrice, Amount: cny("1"), MinAmount: cny("50"),
			Scope: Scope{Products: []commerce.ProductID{pid(1)}}}, 1100, []int64{0, 1100}, ""},
		{"exchange short", quote("0", "30.00", 1, "12.00", 1), Batch{Kind: ExchangePrice, Amount: cny("1"), MinAmount: cny("50"),
			Scope: Scope{Products: []commerce.ProductID{pid(1)}}}, 0, nil, ThresholdShort},
		{"scope", quote("0", "30.00", 1, "70.00", 1), Batch{Kind: AmountOff, Amount: cny("10"), Scope: Scope{SKUs: []commerce.SKUID{sku(1)}}}, 1000, []int64{0, 1000}, ""},
		{"excluded", quote("0", "30.00", 1, "70.00", 1), Batch{Kind: AmountOff, Amount: cny("10"), Scope: Scope{ExcludeProducts: []commerce.ProductID{pid(1)}}}, 1000, []int64{1000, 0}, ""},
		{"out of scope", quote("0", "30.00", 1), Batch{Kind: AmountOff, Amount: cny("10"), Scope: Scope{SKUs: []commerce.SKUID{sku(5)}}}, 0, nil, OutOfScope},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			offers, left := Chosen(c.q, []Candidate{cand(c.b)}, t0, DefaultLimits)
			if c.reason != "" {
				require.Len(t, left, 1)
				assert.Equal(t, c.reason, left[0].Reason)
				assert.Empty(t, offers)
				return
			}
			require.Empty(t, left)
			require.Len(t, offers, 1)
			assert.Equal(t, c.amount, offers[0].Amount)
			assert.Equal(t, c.split, split(offers[0]))
			var sum int64
			for _, p := range offers[0].Split {
				sum += p
			}
			if offers[0].Target == commerce.TargetItems {
				assert.Equal(t, offers[0].Amount, sum, "the split sums to the amount")
			}
		})
	}
}

func TestThresholdShortBy(t *testing.T) {
	_, left := Chosen(quote("0", "49.00", 2), []Candidate{cand(Batch{Kind: ThresholdOff, Amount: cny("20"), MinAmount: cny("99")})}, t0, DefaultLimits)
	require.Len(t, left, 1)
	assert.Equal(t, "CNY 1.00", left[0].Short.String())
}

func TestValidityChecks(t *testing.T) {
	q := quote("0", "10.00", 1)
	c := cand(Batch{Kind: AmountOff, Amount: cny("1")})
	c.Coupon.ValidFrom = t0.Add(time.Hour)
	_, left := Chosen(q, []Candidate{c}, t0, DefaultLimits)
	assert.Equal(t, NotYetActive, left[0].Reason)
	c = cand(Batch{Kind: AmountOff, Amount: cny("1")})
	c.Coupon.ValidUntil = t0
	_, left = Chosen(q, []Candidate{c}, t0, DefaultLimits)
	assert.Equal(t, PastValidity, left[0].Reason, "valid until is exclusive: at that instant it is over")
	c = cand(Batch{Kind: AmountOff, Amount: cny("1")})
	c.Coupon.Status = Used
	_, left = Chosen(q, []Candidate{c}, t0, DefaultLimits)
	assert.Equal(t, NotValid, left[0].Reason)
	c = cand(Batch{Kind: AmountOff, Amount: cny("1")})
	c.Batch.Status = Voided
	_, left = Chosen(q, []Candidate{c}, t0, DefaultLimits)
	assert.Equal(t, BatchStopped, left[0].Reason)
}

// Item-level first (one per item), then order-level on what is left, with
// thresholds on the amount after item coupons; the best group wins.
func TestBestCombination(t *testing.T) {
	q := quote("8", "60.00", 1, "40.00", 1) // 100.00 of goods, 8.00 delivery
	item1 := cand(Batch{Name: "A 10 off", Kind: AmountOff, Amount: cny("10"), Scope: Scope{Products: []commerce.ProductID{pid(0)}}})
	item2 := cand(Batch{Name: "A 5 off", Kind: AmountOff, Amount: cny("5"), Scope: Scope{Products: []commerce.ProductID{pid(0)}}})
	order := cand(Batch{Name: "15 over 90", Kind: ThresholdOff, Amount: cny("15"), MinAmount: cny("90")})
	ship := cand(Batch{Name: "free delivery", Kind: FreeShipping})
	exclusive := cand(Batch{Name: "30 off alone", Kind: AmountOff, Amount: cny("30"), Exclusive: true})
	other := cand(Batch{Name: "other group", Kind: AmountOff, Amount: cny("20"), StackGroup: "vip"})

	offers, left := Best(q, []Candidate{item2, order, exclusive, ship, item1, other}, t0, DefaultLimits)
	names := []string{}
	var total int64
	for _, o := range offers {
		names = append(names, o.Batch.Name)
		total += o.Amount
	}
	// A 10 off on product 0 (one item coupon per item), then 15 over 90
	// (90.00 left after the item coupon meets it), then free delivery: 33.00,
	// more than the exclusive 30.00 or the vip group's 20.00.
	assert.Equal(t, []string{"A 10 off", "15 over 90", "free delivery"}, names)
	assert.EqualValues(t, 3300, total)
	reasons := map[string]Reason{}
	for _, u := range left {
		reasons[u.Batch.Name] = u.Reason
	}
	assert.Equal(t, ItemTaken, reasons["A 5 off"])
	assert.Equal(t, NotStackable, reasons["30 off alone"])
	assert.Equal(t, NotStackable, reasons["other group"])

	// The order-level split never takes a line below zero and sums exactly.
	for _, o := range offers {
		if o.Target != commerce.TargetItems {
			continue
		}
		var sum int64
		for _, p := range o.Split {
			assert.GreaterOrEqual(t, p, int64(0))
			sum += p
		}
		assert.Equal(t, o.Amount, sum)
	}

	// A threshold checked after item coupons: 95.00 of goods, 10 off the
	// item leaves 85.00, short of 90; leaving the item coupon out lets the
	// 15 over 90 apply, which saves more.
	q = quote("0", "55.00", 1, "40.00", 1)
	offers, left = Best(q, []Candidate{item1, order}, t0, DefaultLimits)
	require.Len(t, offers, 1)
	assert.Equal(t, "15 over 90", offers[0].Batch.Name)
	require.Len(t, left, 1)
	assert.Equal(t, CostsMore, left[0].Reason)
	// Chosen explicitly together, the threshold is checked after the item
	// coupon and is short.
	offers, left = Chosen(q, []Candidate{item1, order}, t0, DefaultLimits)
	require.Len(t, offers, 1)
	assert.Equal(t, "A 10 off", offers[0].Batch.Name)
	require.Len(t, left, 1)
	assert.Equal(t, ThresholdShort, left[0].Reason)
}

// Equal savings: higher threshold, then earlier expiry, then earlier claim,
// then smaller id wins (§4.4).
func TestTieBreak(t *testing.T) {
	q := quote("0", "100.00", 1)
	a := cand(Batch{Name: "a", Kind: ThresholdOff, Amount: cny("10"), MinAmount: cny("50"), Exclusive: true})
	b := cand(Batch{Name: "b", Kind: ThresholdOff, Amount: cny("10"), MinAmount: cny("80"), Exclusive: true})
	offers, _ := Best(q, []Candidate{a, b}, t0, DefaultLimits)
	assert.Equal(t, "b", offers[0].Batch.Name, "higher threshold first")
	c := cand(Batch{Name: "c", Kind: AmountOff, Amount: cny("10"), Exclusive: true})
	d := cand(Batch{Name: "d", Kind: AmountOff, Amount: cny("10"), Exclusive: true})
	d.Coupon.ValidUntil = c.Coupon.ValidUntil.Add(-time.Minute)
	offers, _ = Best(q, []Candidate{c, d}, t0, DefaultLimits)
	assert.Equal(t, "d", offers[0].Batch.Name, "earlier expiry first")
}

func TestLimits(t *testing.T) {
	q := quote("0", "100.00", 1)
	var cs []Candidate
	for i := 0; i < 10; i++ {
		cs = append(cs, cand(Batch{Name: fmt.Sprint(i), Kind: AmountOff, Amount: cny("1")}))
	}
	offers, left := Best(q, cs, t0, DefaultLimits)
	assert.Len(t, offers, 8, "at most 8 order-level coupons")
	n := 0
	for _, u := range left {
		if u.Reason == LimitReached {
			n++
		}
	}
	assert.Equal(t, 2, n)
}

func TestChosenRefusesBadStacks(t *testing.T) {
	q := quote("0", "100.00", 1)
	ex := cand(Batch{Kind: AmountOff, Amount: cny("5"), Exclusive: true})
	other := cand(Batch{Kind: AmountOff, Amount: cny("5")})
	offers, left := Chosen(q, []Candidate{ex, other}, t0, DefaultLimits)
	assert.Empty(t, offers)
	require.NotEmpty(t, left)
	assert.Equal(t, NotStackable, left[0].Reason)
}

func TestCodes(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 2000; i++ {
		c, err := newCode()
		require.NoError(t, err)
		require.False(t, seen[c], "duplicate code %s", c)
		seen[c] = true
		norm, err := NormalizeCode(c[:4] + "-" + c[4:])
		require.NoError(t, err)
		assert.Equal(t, c, norm)
		// Every single-character typo is caught.
		for pos := 0; pos < len(c); pos++ {
			for _, r := range codes.Alphabet {
				if byte(r) == c[pos] {
					continue
				}
				typo := c[:pos] + string(r) + c[pos+1:]
				_, err := NormalizeCode(typo)
				require.ErrorIs(t, err, ErrBadCode, "typo %s of %s", typo, c)
			}
		}
		// Every swap of two different neighbours is caught, but 2Z/Z2.
		for pos := 0; pos+1 < len(c); pos++ {
			if pair := c[pos : pos+2]; c[pos] == c[pos+1] || pair == "2Z" || pair == "Z2" {
				continue
			}
			swap := c[:pos] + string(c[pos+1]) + string(c[pos]) + c[pos+2:]
			_, err := NormalizeCode(swap)
			require.ErrorIs(t, err, ErrBadCode, "swap %s of %s", swap, c)
		}
		if i > 50 {
			break // the typo loops are the slow part; 50 codes cover them
		}
	}
	for _, bad := range []string{"", "ABC", "0OOOOOOOOOO", "ABCDEFGHJKMN!"} {
		_, err := NormalizeCode(bad)
		assert.ErrorIs(t, err, ErrBadCode, bad)
	}
}

// BenchmarkBest20Lines10Coupons: go test -bench Best ./coupons
func BenchmarkBest20Lines10Coupons(b *testing.B) {
	args := []any{}
	for i := 0; i < 20; i++ {
		args = append(args, fmt.Sprintf("%d.90", 10+i), 1+i%3)
	}
	q := quote("8", args...)
	var cs []Candidate
	for i := 0; i < 10; i++ {
		switch i % 5 {
		case 0:
			cs = append(cs, cand(Batch{Kind: AmountOff, Amount: cny(fmt.Sprint(5 + i)), Scope: Scope{Products: []commerce.ProductID{pid(i), pid(i + 1)}}}))
		case 1:
			cs = append(cs, cand(Batch{Kind: ThresholdOff, Amount: cny("20"), MinAmount: cny("199")}))
		case 2:
			cs = append(cs, cand(Batch{Kind: PercentOff, PercentOff: commerce.MustPercent(5), Cap: cny("30"), StackGroup: "pct"}))
		case 3:
			cs = append(cs, cand(Batch{Kind: FreeShipping}))
		case 4:
			cs = append(cs, cand(Batch{Kind: BuyNGetM, BuyN: 2, GetM: 1, Scope: Scope{Products: []commerce.ProductID{pid(i + 5)}}}))
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		offers, _ := Best(q, cs, t0, DefaultLimits)
		if len(offers) == 0 {
			b.Fatal("no offer")
		}
	}
}

// Priority orders coupons applied together: a percent coupon applied
// before or after a fixed one takes a different amount.
func TestPriorityOrdersApplication(t *testing.T) {
	q := quote("0", "100.00", 1)
	pct := cand(Batch{Name: "10%", Kind: PercentOff, PercentOff: commerce.MustPercent(10)})
	fixed := cand(Batch{Name: "20 off", Kind: AmountOff, Amount: cny("20")})
	offers, _ := Chosen(q, []Candidate{pct, fixed}, t0, DefaultLimits)
	require.Len(t, offers, 2)
	assert.Equal(t, "20 off", offers[0].Batch.Name, "by rank: the bigger saving first")
	assert.EqualValues(t, 800, offers[1].Amount, "10 % of the 80.00 left")
	pct.Batch.Priority = 1
	offers, _ = Chosen(q, []Candidate{pct, fixed}, t0, DefaultLimits)
	assert.Equal(t, "10%", offers[0].Batch.Name, "higher priority first")
	assert.EqualValues(t, 1000, offers[0].Amount, "10 % of 100.00")
}

// Validity: a fixed window, or days from claiming after an activation
// delay, counted from the window's start when claimed before it opens, and
// never past its end.
func TestValidity(t *testing.T) {
	start, end := t0.Add(48*time.Hour), t0.Add(10*24*time.Hour)
	cases := []struct {
		name        string
		v           Validity
		claimed     time.Time
		from, until time.Time
	}{
		{"fixed", Validity{Start: start, End: end}, t0, start, end},
		{"days", Validity{Days: 7}, t0, t0, t0.AddDate(0, 0, 7)},
		{"delay", Validity{Days: 7, DelayDays: 1}, t0, t0.AddDate(0, 0, 1), t0.AddDate(0, 0, 8)},
		{"before the window", Validity{Days: 3, Start: start}, t0, start, start.AddDate(0, 0, 3)},
		{"capped by the end", Validity{Days: 30, Start: start, End: end}, start, start, end},
	}
	for _, c := range cases {
		from, until := validity(&Batch{Validity: c.v}, c.claimed)
		assert.Equal(t, c.from, from, c.name)
		assert.Equal(t, c.until, until, c.name)
	}
}
