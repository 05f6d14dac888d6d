package commerce

import (
	"context"
	"math/rand/v2"
	"testing"

	"golang.org/x/text/currency"
)

// TestSplitGiftRandom: a group gift's line of N units, priced with random
// adjustments, splits into N one-unit lines whose payables and adjustment
// shares sum exactly to the line's, differ by at most one fen, and never
// go below zero; the order's adjustment splits follow the new lines.
func TestSplitGiftRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 5000 {
		n := 1 + rng.IntN(40)
		unit := 1 + rng.Int64N(50000)
		m := &Merchant{Currency: currency.CNY}
		q := newQuote(m, "giver", []QuoteLine{{SKU: SKUID{}, Quantity: int64(n), UnitPrice: FromMinor(unit, currency.CNY)}}, true, nil)
		var adjs []Adjuster
		for range rng.IntN(4) {
			adjs = append(adjs, AdjusterFunc(func(_ context.Context, q *Quote) ([]Adjustment, error) {
				left := q.Lines[0].Payable.mustMinor()
				off := FromMinor(rng.Int64N(left/2+1), currency.CNY)
				return []Adjustment{{Kind: KindDiscount, Target: TargetItems, Source: "t", Amount: off, Split: []Money{off}}}, nil
			}))
		}
		if err := runPipeline(context.Background(), "test", q, adjs); err != nil {
			t.Fatal(err)
		}
		if rng.IntN(3) == 0 {
			if err := q.merchantPays("test"); err != nil {
				t.Fatal(err)
			}
		}
		o := orderFromQuote(q)
		o.Gift = &Gift{Slots: n}
		whole := o.Lines[0]
		if err := o.splitGift(); err != nil {
			t.Fatal(err)
		}
		if len(o.Lines) != n || len(o.Gift.Claims) != n {
			t.Fatalf("round %d: %d lines, %d claims for %d slots", round, len(o.Lines), len(o.Gift.Claims), n)
		}
		var payable int64
		lo, hi := int64(1<<62), int64(-1)
		for i, l := range o.Lines {
			p := l.Payable.mustMinor()
			if p < 0 || l.Quantity != 1 || !l.Total.Equal(l.UnitPrice) {
				t.Fatalf("round %d line %d: payable %d, quantity %d, total %s", round, i, p, l.Quantity, l.Total)
			}
			var disc int64
			for _, a := range l.Adjustments {
				disc += a.mustMinor()
			}
			if disc != l.Discount.mustMinor() || disc+p != unit {
				t.Fatalf("round %d line %d: discount %d (shares %d) + payable %d != unit %d", round, i, l.Discount.mustMinor(), disc, p, unit)
			}
			payable += p
			lo, hi = min(lo, p), max(hi, p)
		}
		if payable != whole.Payable.mustMinor() || hi-lo > 1 {
			t.Fatalf("round %d: payables sum %d of %d, spread %d", round, payable, whole.Payable.mustMinor(), hi-lo)
		}
		for k, a := range o.Adjustments {
			var sum int64
			for i, part := range a.Split {
				sum += part.mustMinor()
				if !part.Equal(o.Lines[i].Adjustments[k]) {
					t.Fatalf("round %d: adjustment %d split disagrees with line %d", round, k, i)
				}
			}
			if sum != a.Amount.mustMinor() || len(a.Split) != n {
				t.Fatalf("round %d: adjustment %d splits to %d of %d over %d lines", round, k, sum, a.Amount.mustMinor(), len(a.Split))
			}
		}
	}
}

func TestMerchantPaysTakesEverything(t *testing.T) {
	m := &Merchant{Currency: currency.CNY, Shipping: ShippingRule{Flat: FromMinor(800, currency.CNY)}}
	q := newQuote(m, "shop", []QuoteLine{{Quantity: 2, UnitPrice: FromMinor(19900, currency.CNY)}}, true, nil)
	if err := q.merchantPays("test"); err != nil {
		t.Fatal(err)
	}
	if !q.Total.IsZero() || q.Lines[0].Payable.mustMinor() != 0 || len(q.Adjustments) != 2 {
		t.Fatalf("total %s, line payable %s, %d adjustments", q.Total, q.Lines[0].Payable, len(q.Adjustments))
	}
}
