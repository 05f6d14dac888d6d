package commerce_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/currency"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
)

// Three products: 12.30, 0.99 and 100.00 a unit.
var pricingSpecs = []commercetest.ProductSpec{
	{Title: "Tea", Category: "drink", Prices: []string{"12.30"}, Stock: 100},
	{Title: "Candy", Category: "food", Prices: []string{"0.99"}, Stock: 100},
	{Title: "Teapot", Category: "ware", Prices: []string{"100.00"}, Stock: 100},
}

// pricingLines are 3 × 12.30 + 7 × 0.99 + 1 × 100.00 = 36.90 + 6.93 + 100.00
// = 143.83.
func pricingLines(e *env) []commerce.LineItem {
	return []commerce.LineItem{line(e.sku(0, 0), 3), line(e.sku(1, 0), 7), line(e.sku(2, 0), 1)}
}

func (e *env) quote(lines ...commerce.LineItem) (*commerce.Quote, error) {
	return e.svc.Quote(e.ctx, commerce.QuoteParams{MerchantID: e.merchant(), CustomerID: "c1", Lines: lines})
}

// assertQuoteConsistent checks the quote's invariants: each line's Total is
// unit price × quantity, its Discount the sum of its shares of the item
// adjustments and its Payable Total - Discount; every item adjustment's split
// sums to its amount; the quote's sums agree with its lines and adjustments,
// and nothing is negative.
func assertQuoteConsistent(t *testing.T, q *commerce.Quote) {
	t.Helper()
	var subtotal, discount, shippingDiscount int64
	lineDiscount := make([]int64, len(q.Lines))
	for _, a := range q.Adjustments {
		assert.False(t, a.Amount.IsNegative(), "adjustment %s: negative amount %s", a.Source, a.Amount)
		switch a.Target {
		case commerce.TargetItems:
			require.Len(t, a.Split, len(q.Lines), "adjustment %s", a.Source)
			var s int64
			for i, part := range a.Split {
				s += minor(t, part)
				lineDiscount[i] += minor(t, part)
			}
			assert.Equal(t, minor(t, a.Amount), s, "adjustment %s: split %v does not sum to %s", a.Source, a.Split, a.Amount)
			discount += minor(t, a.Amount)
		case commerce.TargetShipping:
			assert.Nil(t, a.Split)
			shippingDiscount += minor(t, a.Amount)
		}
	}
	for i, l := range q.Lines {
		assert.True(t, l.Total.Equal(l.UnitPrice.Mul(l.Quantity)), "line %d: total %s ≠ %s × %d", i, l.Total, l.UnitPrice, l.Quantity)
		assert.Equal(t, lineDiscount[i], minor(t, l.Discount), "line %d discount", i)
		assert.Equal(t, minor(t, l.Total)-minor(t, l.Discount), minor(t, l.Payable), "line %d payable", i)
		assert.False(t, l.Payable.IsNegative(), "line %d payable %s", i, l.Payable)
		subtotal += minor(t, l.Total)
	}
	assert.Equal(t, subtotal, minor(t, q.Subtotal), "subtotal")
	assert.Equal(t, discount, minor(t, q.Discount), "discount")
	assert.Equal(t, shippingDiscount, minor(t, q.ShippingDiscount), "shipping discount")
	assert.Equal(t, subtotal-discount+minor(t, q.Shipping)-shippingDiscount, minor(t, q.Total), "total")
	assert.False(t, q.Total.IsNegative(), "total %s", q.Total)
	for _, m := range []commerce.Money{q.Subtotal, q.Discount, q.Shipping, q.ShippingDiscount, q.Total} {
		assert.Equal(t, q.Currency, m.Currency())
	}
}

func TestQuoteLines(t *testing.T) {
	e := newEnv(t, commerce.Config{}, commerce.ShippingRule{}, pricingSpecs...)
	q, err := e.quote(pricingLines(e)...)
	require.NoError(t, err)

	assert.Equal(t, e.merchant(), q.MerchantID)
	assert.Equal(t, commerce.CustomerID("c1"), q.CustomerID)
	assert.Equal(t, currency.CNY, q.Currency)
	require.Len(t, q.Lines, 3)
	want := []struct {
		title, unit, total string
		qty                int64
	}{
		{"Tea", "CNY 12.30", "CNY 36.90", 3},
		{"Candy", "CNY 0.99", "CNY 6.93", 7},
		{"Teapot", "CNY 100.00", "CNY 100.00", 1},
	}
	for i, w := range want {
		l := q.Lines[i]
		assert.Equal(t, e.sku(i, 0), l.SKU, "lines keep their order")
		assert.Equal(t, e.shop.Products[i].ID, l.Product)
		assert.Equal(t, w.title, l.Title)
		assert.Equal(t, pricingSpecs[i].Category, l.Category)
		assert.Equal(t, []commerce.Attribute{{Name: "variant", Value: "A"}}, l.Attributes)
		assert.Equal(t, w.qty, l.Quantity)
		assert.Equal(t, w.unit, l.UnitPrice.String())
		assert.Equal(t, w.total, l.Total.String())
		assert.True(t, l.Discount.IsZero())
		assert.True(t, l.Payable.Equal(l.Total))
	}
	assert.Equal(t, "CNY 143.83", q.Subtotal.String())
	assert.Equal(t, "CNY 0.00", q.Shipping.String())
	assert.Equal(t, "CNY 143.83", q.Total.String())
	assert.Empty(t, q.Adjustments)
	assertQuoteConsistent(t, q)

	// The cart prices the same.
	for _, l := range pricingLines(e) {
		_, err := e.svc.AddToCart(e.ctx, commerce.CartParams{MerchantID: e.merchant(), CustomerID: "c1", SKU: l.SKU, Quantity: l.Quantity})
		require.NoError(t, err)
	}
	fromCart, err := e.svc.Quote(e.ctx, commerce.QuoteParams{FromCart: true, MerchantID: e.merchant(), CustomerID: "c1"})
	require.NoError(t, err)
	assert.Equal(t, q.Lines, fromCart.Lines)
	assert.True(t, fromCart.Total.Equal(q.Total))

	// A price change shows in the next quote.
	_, err = e.svc.UpdateProduct(e.ctx, e.merchant(), e.shop.Products[0].ID, func(p *commerce.Product) error {
		p.SKUs[0].Price = commercetest.CNY("11.11")
		return nil
	})
	require.NoError(t, err)
	q, err = e.quote(pricingLines(e)...)
	require.NoError(t, err)
	assert.Equal(t, "CNY 33.33", q.Lines[0].Total.String())
	assert.Equal(t, "CNY 140.26", q.Total.String())
}

func TestQuoteShipping(t *testing.T) {
	flat, threshold := commercetest.CNY("8.00"), commercetest.CNY("99.00")
	tests := []struct {
		name     string
		rule     commerce.ShippingRule
		pennies  int64 // units at 0.01 besides one item at 98.99
		shipping string
		total    string
	}{
		{"one fen below threshold", commerce.ShippingRule{Flat: flat, FreeOver: threshold}, 0, "CNY 8.00", "CNY 106.99"},
		{"at threshold exactly", commerce.ShippingRule{Flat: flat, FreeOver: threshold}, 1, "CNY 0.00", "CNY 99.00"},
		{"above threshold", commerce.ShippingRule{Flat: flat, FreeOver: threshold}, 2, "CNY 0.00", "CNY 99.01"},
		{"flat, no threshold", commerce.ShippingRule{Flat: flat}, 500, "CNY 8.00", "CNY 111.99"},
		{"no rule", commerce.ShippingRule{}, 1, "CNY 0.00", "CNY 99.00"},
		{"threshold without fee", commerce.ShippingRule{FreeOver: threshold}, 0, "CNY 0.00", "CNY 98.99"},
		{"zero fee", commerce.ShippingRule{Flat: commercetest.CNY("0"), FreeOver: threshold}, 0, "CNY 0.00", "CNY 98.99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, commerce.Config{}, tt.rule,
				commercetest.ProductSpec{Title: "Box", Prices: []string{"98.99"}, Stock: 10},
				commercetest.ProductSpec{Title: "Penny candy", Prices: []string{"0.01"}, Stock: 1000})
			lines := []commerce.LineItem{line(e.sku(0, 0), 1)}
			if tt.pennies > 0 {
				lines = append(lines, line(e.sku(1, 0), tt.pennies))
			}
			q, err := e.quote(lines...)
			require.NoError(t, err)
			assert.Equal(t, tt.shipping, q.Shipping.String())
			assert.Equal(t, tt.total, q.Total.String())
			assert.True(t, q.ShippingDiscount.IsZero())
			assertQuoteConsistent(t, q)

			// The order keeps the fee the quote showed.
			o := e.checkout(lines...)
			assert.True(t, o.Shipping.Equal(q.Shipping), "order shipping %s", o.Shipping)
			assert.True(t, o.Total.Equal(q.Total), "order total %s", o.Total)
		})
	}
}

// The threshold applies to the subtotal before discounts: a discount that
// takes the payable below it keeps delivery free.
func TestQuoteFreeShippingBeforeDiscounts(t *testing.T) {
	tenOff := commerce.AdjusterFunc(func(_ context.Context, q *commerce.Quote) ([]commerce.Adjustment, error) {
		amount := commercetest.CNY("10.00")
		split, err := q.SplitByPayable(amount, nil)
		if err != nil {
			return nil, err
		}
		return []commerce.Adjustment{{Kind: commerce.KindCoupon, Target: commerce.TargetItems, Source: "coupons", Amount: amount, Split: split}}, nil
	})
	e := newEnv(t, commerce.Config{Adjusters: []commerce.Adjuster{tenOff}},
		commerce.ShippingRule{Flat: commercetest.CNY("8.00"), FreeOver: commercetest.CNY("100.00")},
		commercetest.ProductSpec{Title: "Box", Prices: []string{"100.00"}, Stock: 10})
	q, err := e.quote(line(e.sku(0, 0), 1))
	require.NoError(t, err)
	assert.Equal(t, "CNY 0.00", q.Shipping.String())
	assert.Equal(t, "CNY 90.00", q.Total.String())
	assertQuoteConsistent(t, q)
}

// percentOff takes rate off every line's payable, rounded per line.
func percentOff(source string, rate string, calls *[]string) commerce.Adjuster {
	return commerce.AdjusterFunc(func(_ context.Context, q *commerce.Quote) ([]commerce.Adjustment, error) {
		*calls = append(*calls, source)
		r := decimal.RequireFromString(rate)
		split := make([]commerce.Money, len(q.Lines))
		amount := commerce.Zero(q.Currency)
		for i, l := range q.Lines {
			split[i] = l.Payable.MulRate(r).Round()
			var err error
			if amount, err = amount.Add(split[i]); err != nil {
				return nil, err
			}
		}
		return []commerce.Adjustment{{Kind: commerce.KindMemberPrice, Target: commerce.TargetItems, Source: source,
			Label: rate + " off", Amount: amount, Split: split}}, nil
	})
}

// amountOff takes a fixed amount off the order, split by what the lines still
// cost, capped at that.
func amountOff(source, amount string, calls *[]string) commerce.Adjuster {
	return commerce.AdjusterFunc(func(_ context.Context, q *commerce.Quote) ([]commerce.Adjustment, error) {
		*calls = append(*calls, source)
		a := commerce.MustParseMoney(amount, q.Currency)
		if left := q.EligiblePayable(nil); a.Amount().GreaterThan(left.Amount()) {
			a = left
		}
		split, err := q.SplitByPayable(a, nil)
		if err != nil {
			return nil, err
		}
		return []commerce.Adjustment{{Kind: commerce.KindCoupon, Target: commerce.TargetItems, Source: source,
			Ref: "coupon-1", Amount: a, Split: split}}, nil
	})
}

// freeShipping takes the whole shipping fee off.
func freeShipping(calls *[]string) commerce.Adjuster {
	return commerce.AdjusterFunc(func(_ context.Context, q *commerce.Quote) ([]commerce.Adjustment, error) {
		*calls = append(*calls, "shipping")
		left, err := q.Shipping.Sub(q.ShippingDiscount)
		if err != nil || left.IsZero() {
			return nil, err
		}
		return []commerce.Adjustment{{Kind: commerce.KindShipping, Target: commerce.TargetShipping, Source: "shipping", Amount: left}}, nil
	})
}

func splitStrings(ms []commerce.Money) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Amount().StringFixed(2)
	}
	return out
}

func TestAdjustersRunInRegistrationOrder(t *testing.T) {
	shipping := commerce.ShippingRule{Flat: commercetest.CNY("8.00"), FreeOver: commercetest.CNY("200.00")}

	t.Run("member then coupon", func(t *testing.T) {
		var calls []string
		var sawPayable []string
		var sawAdjustments int
		spy := commerce.AdjusterFunc(func(_ context.Context, q *commerce.Quote) ([]commerce.Adjustment, error) {
			for _, l := range q.Lines {
				sawPayable = append(sawPayable, l.Payable.Amount().StringFixed(2))
			}
			sawAdjustments = len(q.Adjustments)
			return nil, nil
		})
		e := newEnv(t, commerce.Config{Adjusters: []commerce.Adjuster{
			percentOff("member", "0.1", &calls), spy, amountOff("coupons", "10.00", &calls), freeShipping(&calls),
		}}, shipping, pricingSpecs...)
		q, err := e.quote(pricingLines(e)...)
		require.NoError(t, err)
		assert.Equal(t, []string{"member", "coupons", "shipping"}, calls)
		// The adjuster after member prices saw the lines already reduced.
		assert.Equal(t, []string{"33.21", "6.24", "90.00"}, sawPayable)
		assert.Equal(t, 1, sawAdjustments)

		require.Len(t, q.Adjustments, 3)
		member, coupon, ship := q.Adjustments[0], q.Adjustments[1], q.Adjustments[2]
		assert.Equal(t, "member", member.Source)
		// 10% of 36.90, 6.93 (0.693 → 0.69) and 100.00.
		assert.Equal(t, []string{"3.69", "0.69", "10.00"}, splitStrings(member.Split))
		assert.Equal(t, "CNY 14.38", member.Amount.String())
		// 10.00 over 33.21 : 6.24 : 90.00 is 2.5654 : 0.4820 : 6.9525
		// (in fen 256.54, 48.20, 695.25); floors sum to 999 fen and the
		// largest remainder (line 0) gets the last fen.
		assert.Equal(t, "coupons", coupon.Source)
		assert.Equal(t, "coupon-1", coupon.Ref)
		assert.Equal(t, []string{"2.57", "0.48", "6.95"}, splitStrings(coupon.Split))
		assert.Equal(t, "CNY 10.00", coupon.Amount.String())
		assert.Equal(t, commerce.TargetShipping, ship.Target)
		assert.Equal(t, "CNY 8.00", ship.Amount.String())

		assert.Equal(t, "CNY 143.83", q.Subtotal.String())
		assert.Equal(t, "CNY 24.38", q.Discount.String())
		assert.Equal(t, "CNY 8.00", q.Shipping.String())
		assert.Equal(t, "CNY 8.00", q.ShippingDiscount.String())
		assert.Equal(t, "CNY 119.45", q.Total.String())
		assert.Equal(t, []string{"30.64", "5.76", "83.05"}, splitStrings([]commerce.Money{q.Lines[0].Payable, q.Lines[1].Payable, q.Lines[2].Payable}))
		assertQuoteConsistent(t, q)
	})

	t.Run("coupon then member", func(t *testing.T) {
		var calls []string
		e := newEnv(t, commerce.Config{Adjusters: []commerce.Adjuster{
			amountOff("coupons", "10.00", &calls), percentOff("member", "0.1", &calls),
		}}, shipping, pricingSpecs...)
		q, err := e.quote(pricingLines(e)...)
		require.NoError(t, err)
		assert.Equal(t, []string{"coupons", "member"}, calls)
		require.Len(t, q.Adjustments, 2)
		assert.Equal(t, "coupons", q.Adjustments[0].Source)
		assert.Equal(t, []string{"2.57", "0.48", "6.95"}, splitStrings(q.Adjustments[0].Split))
		// 10% of 34.33, 6.45 and 93.05, half-up: 3.43, 0.65, 9.31.
		assert.Equal(t, []string{"3.43", "0.65", "9.31"}, splitStrings(q.Adjustments[1].Split))
		assert.Equal(t, "CNY 23.39", q.Discount.String())
		assert.Equal(t, "CNY 128.44", q.Total.String()) // not 127.45: order matters
		assertQuoteConsistent(t, q)
	})

	t.Run("one adjuster, several adjustments", func(t *testing.T) {
		// The second adjustment of one adjuster is checked against the
		// lines as the first left them.
		twice := commerce.AdjusterFunc(func(_ context.Context, q *commerce.Quote) ([]commerce.Adjustment, error) {
			all := commercetest.CNY("143.83")
			split, err := q.SplitByPayable(all, nil)
			if err != nil {
				return nil, err
			}
			return []commerce.Adjustment{
				{Kind: commerce.KindDiscount, Target: commerce.TargetItems, Source: "twice", Amount: all, Split: split},
				{Kind: commerce.KindDiscount, Target: commerce.TargetItems, Source: "twice", Amount: commercetest.CNY("0.01"),
					Split: []commerce.Money{commercetest.CNY("0.01"), commercetest.CNY("0"), commercetest.CNY("0")}},
			}, nil
		})
		e := newEnv(t, commerce.Config{Adjusters: []commerce.Adjuster{twice}}, commerce.ShippingRule{}, pricingSpecs...)
		_, err := e.quote(pricingLines(e)...)
		ke := asError(t, err)
		assert.Contains(t, ke.Error(), "line 0: takes CNY 0.01 off a line that costs CNY 0.00")
	})
}

// A discount can take the merchandise down to zero and the shipping fee to
// zero, never further: the pipeline refuses an adjustment that would take a
// line or the fee below zero (it does not clamp it), and SplitByPayable
// refuses to split more than the lines still cost. An adjuster that caps
// with EligiblePayable brings the total to exactly the shipping fee.
func TestQuoteNeverNegative(t *testing.T) {
	shipping := commerce.ShippingRule{Flat: commercetest.CNY("8.00")}

	t.Run("capped coupon", func(t *testing.T) {
		var calls []string
		e := newEnv(t, commerce.Config{Adjusters: []commerce.Adjuster{
			amountOff("big", "500.00", &calls), amountOff("more", "1.00", &calls),
		}}, shipping, pricingSpecs...)
		q, err := e.quote(pricingLines(e)...)
		require.NoError(t, err)
		require.Len(t, q.Adjustments, 2)
		assert.Equal(t, "CNY 143.83", q.Adjustments[0].Amount.String(), "capped at what the lines cost")
		assert.Equal(t, "CNY 0.00", q.Adjustments[1].Amount.String(), "nothing left to take")
		for i, l := range q.Lines {
			assert.True(t, l.Payable.IsZero(), "line %d payable %s", i, l.Payable)
		}
		assert.Equal(t, "CNY 8.00", q.Total.String())
		assertQuoteConsistent(t, q)
	})

	overLine := func(_ context.Context, q *commerce.Quote) ([]commerce.Adjustment, error) {
		// 36.91 off the 36.90 line, the split summing to the amount.
		return []commerce.Adjustment{{Kind: commerce.KindDiscount, Target: commerce.TargetItems, Source: "greedy",
			Amount: commercetest.CNY("36.91"), Split: []commerce.Money{commercetest.CNY("36.91"), commercetest.CNY("0"), commercetest.CNY("0")}}}, nil
	}
	overShipping := func(_ context.Context, q *commerce.Quote) ([]commerce.Adjustment, error) {
		return []commerce.Adjustment{{Kind: commerce.KindShipping, Target: commerce.TargetShipping, Source: "greedy-ship",
			Amount: commercetest.CNY("8.01")}}, nil
	}
	overOrder := func(_ context.Context, q *commerce.Quote) ([]commerce.Adjustment, error) {
		split, err := q.SplitByPayable(commercetest.CNY("143.84"), nil)
		if err != nil {
			return nil, err
		}
		return []commerce.Adjustment{{Kind: commerce.KindDiscount, Target: commerce.TargetItems, Source: "greedy", Amount: commercetest.CNY("143.84"), Split: split}}, nil
	}
	tests := []struct {
		name   string
		adj    commerce.AdjusterFunc
		kind   commerce.Kind
		field  string
		phrase string
	}{
		{"item part above line payable", overLine, commerce.KindInternal, "", "adjustment from greedy: line 0: takes CNY 36.91 off a line that costs CNY 36.90"},
		{"shipping above fee", overShipping, commerce.KindInternal, "", "adjustment from greedy-ship: takes CNY 8.01 off a shipping fee of CNY 8.00"},
		{"split above eligible", overOrder, commerce.KindInvalid, "amount", "CNY 143.84 is more than the eligible lines cost (CNY 143.83)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, commerce.Config{Adjusters: []commerce.Adjuster{tt.adj}}, shipping, pricingSpecs...)
			q, err := e.quote(pricingLines(e)...)
			assert.Nil(t, q)
			ke := asError(t, err)
			assert.Equal(t, tt.kind, ke.Kind, "%v", err)
			assert.Equal(t, tt.field, ke.Field)
			assert.Contains(t, err.Error(), tt.phrase)

			// Checkout fails the same way and reserves nothing.
			before := e.stock()
			_, err = e.svc.Checkout(e.ctx, commerce.CheckoutParams{MerchantID: e.merchant(), CustomerID: "c1",
				Lines: pricingLines(e), IdempotencyKey: "k", ShippingAddress: commercetest.Address()})
			assert.Equal(t, tt.kind, commerce.KindOf(err), "%v", err)
			assert.Contains(t, err.Error(), tt.phrase)
			assert.Equal(t, before, e.stock())
			assert.Equal(t, 0, e.events())
		})
	}
}

// An adjustment that breaks the rules is a bug in its plugin: the quote
// fails with an internal error whose message names the plugin and what is
// wrong (the amount, the split, a line, the target). The *Error's Field is
// empty for these: Field is for the caller's input, and the fault is the
// plugin's.
func TestQuoteRejectsInvalidAdjustments(t *testing.T) {
	c := commercetest.CNY
	usd := func(s string) commerce.Money { return commerce.MustParseMoney(s, currency.USD) }
	zero := c("0")
	items := func(amount commerce.Money, split ...commerce.Money) commerce.Adjustment {
		return commerce.Adjustment{Kind: commerce.KindCoupon, Target: commerce.TargetItems, Source: "bad-plugin", Amount: amount, Split: split}
	}
	tests := []struct {
		name   string
		adj    commerce.Adjustment
		phrase string
	}{
		{"no kind", commerce.Adjustment{Target: commerce.TargetItems, Source: "bad-plugin", Amount: c("1"), Split: []commerce.Money{c("1"), zero, zero}}, "no kind"},
		{"amount in another currency", items(usd("1.00"), c("1"), zero, zero), "amount USD 1.00 is not in CNY"},
		{"amount unset", items(commerce.Money{}, c("1"), zero, zero), "amount <no money> is not in CNY"},
		{"negative amount", items(c("-1.00"), c("-1"), zero, zero), "amount CNY -1.00 is negative or not in whole minor units"},
		{"sub-fen amount", items(commerce.NewMoney(decimal.RequireFromString("0.005"), currency.CNY), c("0"), zero, zero), "amount CNY 0.005 is negative or not in whole minor units"},
		{"split too short", items(c("1"), c("1"), zero), "split has 2 parts for 3 lines"},
		{"no split", items(c("1")), "split has 0 parts for 3 lines"},
		{"split part in another currency", items(c("1"), zero, usd("1"), zero), "line 1: part USD 1.00 is negative or in another currency"},
		{"split part unset", items(c("1"), c("1"), zero, commerce.Money{}), "line 2: part <no money> is negative or in another currency"},
		{"negative split part", items(c("1"), c("2"), c("-1"), zero), "line 1: part CNY -1.00 is negative or in another currency"},
		{"sub-fen split part", items(c("1"), commerce.NewMoney(decimal.RequireFromString("0.995"), currency.CNY), zero,
			commerce.NewMoney(decimal.RequireFromString("0.005"), currency.CNY)), "line 0: 0.995 has digits below the minor unit of CNY"},
		{"split does not sum", items(c("2.00"), c("1"), zero, zero), "split sums to CNY 1.00, amount is CNY 2.00"},
		{"split above line", items(c("7"), zero, c("7"), zero), "line 1: takes CNY 7.00 off a line that costs CNY 6.93"},
		{"shipping with split", commerce.Adjustment{Kind: commerce.KindShipping, Target: commerce.TargetShipping, Source: "bad-plugin",
			Amount: c("1"), Split: []commerce.Money{c("1"), zero, zero}}, "a shipping adjustment has no line split"},
		{"unknown target", commerce.Adjustment{Kind: commerce.KindDiscount, Target: "tax", Source: "bad-plugin", Amount: c("1")}, `unknown target "tax"`},
		{"no target", commerce.Adjustment{Kind: commerce.KindDiscount, Source: "bad-plugin", Amount: c("1")}, `unknown target ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls []string
			bad := commerce.AdjusterFunc(func(context.Context, *commerce.Quote) ([]commerce.Adjustment, error) {
				return []commerce.Adjustment{tt.adj}, nil
			})
			// A good adjuster before the bad one and one after it: the
			// quote fails as a whole and the one after never runs.
			e := newEnv(t, commerce.Config{Adjusters: []commerce.Adjuster{
				percentOff("member", "0.01", &calls), bad, percentOff("after", "0.01", &calls),
			}}, commerce.ShippingRule{Flat: c("8.00")}, pricingSpecs...)
			// "member" takes 0.37 + 0.07 + 1.00 off: lines cost 36.53, 6.86, 99.00.
			if tt.name == "split above line" {
				tt.phrase = "line 1: takes CNY 7.00 off a line that costs CNY 6.86"
			}
			q, err := e.quote(pricingLines(e)...)
			assert.Nil(t, q)
			ke := asError(t, err)
			assert.Equal(t, commerce.KindInternal, ke.Kind)
			assert.ErrorIs(t, err, commerce.ErrInternal)
			assert.Equal(t, "commerce.quote", ke.Op)
			assert.Empty(t, ke.Field)
			assert.Contains(t, err.Error(), "adjustment from bad-plugin: ")
			assert.Contains(t, err.Error(), tt.phrase)
			assert.Equal(t, []string{"member"}, calls)
		})
	}

	t.Run("unnamed source", func(t *testing.T) {
		bad := commerce.AdjusterFunc(func(context.Context, *commerce.Quote) ([]commerce.Adjustment, error) {
			return []commerce.Adjustment{{Target: commerce.TargetItems, Amount: c("1")}}, nil
		})
		e := newEnv(t, commerce.Config{Adjusters: []commerce.Adjuster{bad}}, commerce.ShippingRule{}, pricingSpecs...)
		_, err := e.quote(pricingLines(e)...)
		assert.ErrorContains(t, err, "adjustment from unnamed adjuster: no kind")
	})
}

// An adjuster's own error fails the quote: an *Error keeps its kind and
// field (a coupon that does not apply is the caller's problem), anything
// else is internal.
func TestQuoteAdjusterErrors(t *testing.T) {
	expired := commerce.Invalid("coupons.apply", "extensions.coupons.code", "coupon %s expired", "SPRING")
	plain := errors.New("points ledger unreachable")
	tests := []struct {
		name  string
		err   error
		kind  commerce.Kind
		field string
		op    string
	}{
		{"typed", expired, commerce.KindInvalid, "extensions.coupons.code", "coupons.apply"},
		{"plain", plain, commerce.KindInternal, "", "commerce.quote"},
		{"wrapped sentinel", fmt.Errorf("points: %w", commerce.ErrUnavailable), commerce.KindUnavailable, "", "commerce.quote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fail := commerce.AdjusterFunc(func(context.Context, *commerce.Quote) ([]commerce.Adjustment, error) { return nil, tt.err })
			e := newEnv(t, commerce.Config{Adjusters: []commerce.Adjuster{fail}}, commerce.ShippingRule{}, pricingSpecs...)
			_, err := e.quote(pricingLines(e)...)
			ke := asError(t, err)
			assert.ErrorIs(t, err, tt.err)
			assert.Equal(t, tt.kind, ke.Kind)
			assert.Equal(t, tt.field, ke.Field)
			assert.Equal(t, tt.op, ke.Op)
		})
	}
}

// randomID returns a random typed ID, one no store has.
func randomID[I any, P interface {
	*I
	UnmarshalText([]byte) error
}](t testing.TB) I {
	var id I
	require.NoError(t, P(&id).UnmarshalText([]byte(uuid.NewString())))
	return id
}

func TestQuoteRejectsBadLines(t *testing.T) {
	e := newEnv(t, commerce.Config{}, commerce.ShippingRule{},
		commercetest.ProductSpec{Title: "Tea", Prices: []string{"12.30", "15.00"}, Stock: 10},
		commercetest.ProductSpec{Title: "Old tea", Prices: []string{"5.00"}, Stock: 10},
		commercetest.ProductSpec{Title: "New tea", Prices: []string{"9.00"}, Stock: 10})
	_, err := e.svc.SetListingState(e.ctx, e.merchant(), e.shop.Products[1].ID, commerce.Delisted)
	require.NoError(t, err)
	_, err = e.svc.SetListingState(e.ctx, e.merchant(), e.shop.Products[2].ID, commerce.Draft)
	require.NoError(t, err)
	other := commercetest.NewShop(t, e.svc, "隔壁", commerce.ShippingRule{},
		commercetest.ProductSpec{Title: "Coffee", Prices: []string{"20.00"}, Stock: 10})

	good := line(e.sku(0, 0), 1)
	tests := []struct {
		name     string
		lines    []commerce.LineItem
		kind     commerce.Kind
		field    string
		sentinel error
	}{
		{"quantity 0", []commerce.LineItem{good, line(e.sku(0, 1), 0)}, commerce.KindInvalid, "lines[1].quantity", commerce.ErrInvalid},
		{"negative quantity", []commerce.LineItem{line(e.sku(0, 1), -1)}, commerce.KindInvalid, "lines[0].quantity", commerce.ErrInvalid},
		{"over the cap", []commerce.LineItem{line(e.sku(0, 1), commerce.MaxLineQuantity+1), good}, commerce.KindInvalid, "lines[0].quantity", commerce.ErrInvalid},
		{"no sku", []commerce.LineItem{good, {Quantity: 1}}, commerce.KindInvalid, "lines[1].sku", commerce.ErrInvalid},
		{"unknown sku", []commerce.LineItem{good, line(randomID[commerce.SKUID](t), 1)}, commerce.KindNotFound, "lines[1].sku", commerce.ErrNotFound},
		{"delisted product", []commerce.LineItem{good, line(e.sku(1, 0), 1)}, commerce.KindFailedPrecondition, "lines[1].sku", commerce.ErrNotListed},
		{"draft product", []commerce.LineItem{line(e.sku(2, 0), 1)}, commerce.KindFailedPrecondition, "lines[0].sku", commerce.ErrNotListed},
		{"another merchant's sku", []commerce.LineItem{good, line(other.SKU(0, 0), 1)}, commerce.KindNotFound, "lines[1].sku", commerce.ErrNotFound},
		{"sku twice", []commerce.LineItem{good, line(e.sku(0, 1), 1), line(e.sku(0, 0), 2)}, commerce.KindInvalid, "lines[2].sku", commerce.ErrInvalid},
		{"empty", []commerce.LineItem{}, commerce.KindInvalid, "lines", commerce.ErrEmptyCart},
		{"too many lines", make([]commerce.LineItem, commerce.MaxCartLines+1), commerce.KindInvalid, "lines", commerce.ErrInvalid},
	}
	for i := range tests[len(tests)-1].lines {
		tests[len(tests)-1].lines[i] = good
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := e.quote(tt.lines...)
			assert.Nil(t, q)
			ke := asError(t, err)
			assert.Equal(t, tt.kind, ke.Kind, "%v", err)
			assert.Equal(t, commerce.KindOf(err), ke.Kind)
			assert.Equal(t, tt.field, ke.Field, "%v", err)
			assert.Equal(t, "commerce.quote", ke.Op)
			assert.ErrorIs(t, err, tt.sentinel)
			assert.True(t, strings.HasPrefix(err.Error(), "commerce.quote: "+tt.field+": "), "message %q", err)

			// Checkout refuses the same lines, naming the same field, and
			// takes no stock.
			before := e.stock()
			_, err = e.svc.Checkout(e.ctx, commerce.CheckoutParams{MerchantID: e.merchant(), CustomerID: "c1",
				Lines: tt.lines, IdempotencyKey: "k-" + tt.name, ShippingAddress: commercetest.Address()})
			ke = asError(t, err)
			assert.Equal(t, tt.kind, ke.Kind, "%v", err)
			assert.Equal(t, tt.field, ke.Field, "%v", err)
			assert.ErrorIs(t, err, tt.sentinel)
			assert.Equal(t, before, e.stock())
		})
	}

	t.Run("no customer", func(t *testing.T) {
		_, err := e.svc.Quote(e.ctx, commerce.QuoteParams{MerchantID: e.merchant(), Lines: []commerce.LineItem{good}})
		assert.Equal(t, "customer_id", asError(t, err).Field)
		assert.Equal(t, commerce.KindInvalid, commerce.KindOf(err))
	})
	t.Run("unknown merchant", func(t *testing.T) {
		_, err := e.svc.Quote(e.ctx, commerce.QuoteParams{MerchantID: randomID[commerce.MerchantID](t), CustomerID: "c1", Lines: []commerce.LineItem{good}})
		assert.ErrorIs(t, err, commerce.ErrNotFound)
	})
}

func TestCartRejectsBadLines(t *testing.T) {
	e := newEnv(t, commerce.Config{}, commerce.ShippingRule{},
		commercetest.ProductSpec{Title: "Tea", Prices: []string{"12.30", "15.00"}, Stock: 10},
		commercetest.ProductSpec{Title: "Old tea", Prices: []string{"5.00"}, Stock: 10})
	_, err := e.svc.SetListingState(e.ctx, e.merchant(), e.shop.Products[1].ID, commerce.Delisted)
	require.NoError(t, err)
	other := commercetest.NewShop(t, e.svc, "隔壁", commerce.ShippingRule{},
		commercetest.ProductSpec{Title: "Coffee", Prices: []string{"20.00"}, Stock: 10})
	_, err = e.svc.AddToCart(e.ctx, commerce.CartParams{MerchantID: e.merchant(), CustomerID: "c1", SKU: e.sku(0, 0), Quantity: 2})
	require.NoError(t, err)

	p := func(sku commerce.SKUID, qty int64) commerce.CartParams {
		return commerce.CartParams{MerchantID: e.merchant(), CustomerID: "c1", SKU: sku, Quantity: qty}
	}
	add, set := e.svc.AddToCart, e.svc.SetCartQuantity
	tests := []struct {
		name     string
		do       func(context.Context, commerce.CartParams) (*commerce.Cart, error)
		p        commerce.CartParams
		kind     commerce.Kind
		field    string
		sentinel error
	}{
		{"add 0", add, p(e.sku(0, 1), 0), commerce.KindInvalid, "quantity", commerce.ErrInvalid},
		{"add negative", add, p(e.sku(0, 1), -3), commerce.KindInvalid, "quantity", commerce.ErrInvalid},
		{"add over the cap", add, p(e.sku(0, 1), commerce.MaxLineQuantity+1), commerce.KindInvalid, "quantity", commerce.ErrInvalid},
		{"add to a line past the cap", add, p(e.sku(0, 0), commerce.MaxLineQuantity-1), commerce.KindInvalid, "quantity", commerce.ErrInvalid},
		{"set over the cap", set, p(e.sku(0, 0), commerce.MaxLineQuantity+1), commerce.KindInvalid, "quantity", commerce.ErrInvalid},
		{"set negative", set, p(e.sku(0, 0), -1), commerce.KindInvalid, "quantity", commerce.ErrInvalid},
		{"no sku", add, p(commerce.SKUID{}, 1), commerce.KindInvalid, "sku", commerce.ErrInvalid},
		{"unknown sku", add, p(randomID[commerce.SKUID](t), 1), commerce.KindNotFound, "sku", commerce.ErrNotFound},
		{"delisted product", add, p(e.sku(1, 0), 1), commerce.KindFailedPrecondition, "sku", commerce.ErrNotListed},
		{"another merchant's sku", add, p(other.SKU(0, 0), 1), commerce.KindNotFound, "sku", commerce.ErrNotFound},
		{"no customer", add, commerce.CartParams{MerchantID: e.merchant(), SKU: e.sku(0, 0), Quantity: 1}, commerce.KindInvalid, "customer_id", commerce.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cart, err := tt.do(e.ctx, tt.p)
			assert.Nil(t, cart)
			ke := asError(t, err)
			assert.Equal(t, tt.kind, ke.Kind, "%v", err)
			assert.Equal(t, tt.field, ke.Field, "%v", err)
			assert.ErrorIs(t, err, tt.sentinel)
			got, err := e.svc.GetCart(e.ctx, e.merchant(), "c1")
			require.NoError(t, err)
			assert.Equal(t, []commerce.CartLine{{SKU: e.sku(0, 0), Quantity: 2}}, got.Lines, "the cart is unchanged")
		})
	}

	// Up to the cap is fine.
	cart, err := e.svc.AddToCart(e.ctx, p(e.sku(0, 0), commerce.MaxLineQuantity-2))
	require.NoError(t, err)
	assert.Equal(t, int64(commerce.MaxLineQuantity), cart.Lines[0].Quantity)

	// A product delisted after it went into the cart fails the quote of the
	// cart, naming its line.
	_, err = e.svc.AddToCart(e.ctx, p(e.sku(0, 1), 1))
	require.NoError(t, err)
	_, err = e.svc.SetListingState(e.ctx, e.merchant(), e.shop.Products[0].ID, commerce.Delisted)
	require.NoError(t, err)
	_, err = e.svc.Quote(e.ctx, commerce.QuoteParams{FromCart: true, MerchantID: e.merchant(), CustomerID: "c1"})
	ke := asError(t, err)
	assert.Equal(t, "lines[0].sku", ke.Field)
	assert.ErrorIs(t, err, commerce.ErrNotListed)

	// An empty cart is ErrEmptyCart.
	require.NoError(t, e.svc.ClearCart(e.ctx, e.merchant(), "c1"))
	_, err = e.svc.Quote(e.ctx, commerce.QuoteParams{FromCart: true, MerchantID: e.merchant(), CustomerID: "c1"})
	assert.ErrorIs(t, err, commerce.ErrEmptyCart)
	assert.Equal(t, "lines", asError(t, err).Field)
}

// Prices and line quantities are each bounded, and so is their product: a
// line total beyond the int64 minor-unit range (the bound Minor and every
// store rely on) is refused when quoted, naming the line.
func TestQuoteRefusesLineTotalsBeyondMinorRange(t *testing.T) {
	e := newEnv(t, commerce.Config{}, commerce.ShippingRule{},
		commercetest.ProductSpec{Title: "Island", Prices: []string{"10000000000000000.00"}, Stock: 100})
	l := line(e.sku(0, 0), 10) // 10^17 yuan = 10^19 fen > MaxInt64 fen
	require.NotPanics(t, func() {
		q, err := e.quote(l)
		if err == nil {
			_, err = q.SplitByPayable(commercetest.CNY("1.00"), nil)
		}
		require.Error(t, err, "a line total of 10^19 fen should be refused")
		assert.True(t, strings.HasPrefix(asError(t, err).Field, "lines[0]"), "%v", err)
	})
	require.NotPanics(t, func() {
		o, err := e.svc.Checkout(e.ctx, commerce.CheckoutParams{MerchantID: e.merchant(), CustomerID: "c1",
			Lines: []commerce.LineItem{l}, IdempotencyKey: "k", ShippingAddress: commercetest.Address()})
		if err != nil {
			return // refused at checkout: fine
		}
		o = e.pay(o)
		_, err = e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: e.merchant(), OrderID: o.ID,
			Items: []commerce.RefundItem{{Line: 0, Quantity: 1}}, IdempotencyKey: "r"})
		assert.NoError(t, err)
	})
}
