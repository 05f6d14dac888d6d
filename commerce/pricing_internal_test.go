package commerce

import (
	"context"
	"fmt"
	"testing"

	"github.com/shopspring/decimal"
	"golang.org/x/text/currency"
)

// benchAdjusters are a member price (5% off every line, rounded per line)
// and an order-wide coupon (20.00 split by what the lines still cost).
func benchAdjusters() []Adjuster {
	rate := decimal.RequireFromString("0.05")
	member := AdjusterFunc(func(_ context.Context, q *Quote) ([]Adjustment, error) {
		split := make([]Money, len(q.Lines))
		amount := Zero(q.Currency)
		for i, l := range q.Lines {
			split[i] = l.Payable.MulRate(rate).Round()
			amount = amount.plus(split[i])
		}
		return []Adjustment{{Kind: KindMemberPrice, Target: TargetItems, Source: "member", Amount: amount, Split: split}}, nil
	})
	coupon := AdjusterFunc(func(_ context.Context, q *Quote) ([]Adjustment, error) {
		a := MustParseMoney("20.00", q.Currency)
		split, err := q.SplitByPayable(a, nil)
		if err != nil {
			return nil, err
		}
		return []Adjustment{{Kind: KindCoupon, Target: TargetItems, Source: "coupons", Amount: a, Split: split}}, nil
	})
	return []Adjuster{member, coupon}
}

func benchQuoteInput() (*Merchant, []QuoteLine) {
	m := &Merchant{Currency: currency.CNY, Shipping: ShippingRule{
		Flat: MustParseMoney("8.00", currency.CNY), FreeOver: MustParseMoney("9999.00", currency.CNY)}}
	lines := make([]QuoteLine, 20)
	for i := range lines {
		lines[i] = QuoteLine{Title: fmt.Sprintf("Item %d", i), Category: "tea", Quantity: int64(1 + i%4),
			Attributes: []Attribute{{Name: "variant", Value: "A"}},
			UnitPrice:  MustParseMoney(fmt.Sprintf("%d.%02d", 3+i*7, (i*37)%100), currency.CNY)}
	}
	return m, lines
}

// The pure pipeline prices like the service: the figures add up and every
// split sums to its amount.
func TestPricingPipelineWithoutStore(t *testing.T) {
	m, lines := benchQuoteInput()
	q := newQuote(m, "c1", lines, false, nil)
	if err := runPipeline(context.Background(), "commerce.quote", q, benchAdjusters()); err != nil {
		t.Fatal(err)
	}
	if len(q.Adjustments) != 2 {
		t.Fatalf("%d adjustments", len(q.Adjustments))
	}
	var sub, disc int64
	for i, l := range q.Lines {
		if !l.Total.Equal(l.UnitPrice.Mul(l.Quantity)) {
			t.Errorf("line %d total %s", i, l.Total)
		}
		var d int64
		for _, a := range q.Adjustments {
			d += a.Split[i].mustMinor()
		}
		if d != l.Discount.mustMinor() || l.Total.mustMinor()-d != l.Payable.mustMinor() {
			t.Errorf("line %d: discount %s, payable %s, splits %d", i, l.Discount, l.Payable, d)
		}
		sub += l.Total.mustMinor()
		disc += d
	}
	for _, a := range q.Adjustments {
		var s int64
		for _, p := range a.Split {
			s += p.mustMinor()
		}
		if s != a.Amount.mustMinor() {
			t.Errorf("%s: split sums to %d, amount %s", a.Source, s, a.Amount)
		}
	}
	if sub != q.Subtotal.mustMinor() || disc != q.Discount.mustMinor() || sub-disc+q.Shipping.mustMinor() != q.Total.mustMinor() {
		t.Errorf("subtotal %s, discount %s, shipping %s, total %s", q.Subtotal, q.Discount, q.Shipping, q.Total)
	}
	if q.Shipping.String() != "CNY 8.00" {
		t.Errorf("shipping %s", q.Shipping)
	}
}

// BenchmarkPricingPipeline20Lines prices 20 lines with 2 adjusters without a
// store: newQuote and runPipeline only.
//
//	go test -run x -bench PricingPipeline -benchmem ./commerce
func BenchmarkPricingPipeline20Lines(b *testing.B) {
	m, lines := benchQuoteInput()
	adjusters := benchAdjusters()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		ls := make([]QuoteLine, len(lines))
		copy(ls, lines)
		q := newQuote(m, "c1", ls, false, nil)
		if err := runPipeline(ctx, "commerce.quote", q, adjusters); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSetExtensionCopiesOnce: the caller's extensions never see a key an
// adjuster sets; the first SetExtension copies them, later ones share the
// copy.
func TestSetExtensionCopiesOnce(t *testing.T) {
	caller := With(Extension{Key: "a", Value: 1})
	q := &Quote{Extensions: caller}
	q.SetExtension("b", 2)
	q.SetExtension("c", 3)
	if len(caller) != 1 {
		t.Errorf("caller's extensions %v, want only a", caller)
	}
	if len(q.Extensions) != 3 || q.Extensions["a"] != 1 || q.Extensions["b"] != 2 || q.Extensions["c"] != 3 {
		t.Errorf("quote's extensions %v", q.Extensions)
	}
	empty := &Quote{}
	empty.SetExtension("x", true)
	if empty.Extensions["x"] != true {
		t.Errorf("nil extensions: %v", empty.Extensions)
	}
}
