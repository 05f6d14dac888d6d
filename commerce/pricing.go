package commerce

import (
	"context"
	"fmt"

	"golang.org/x/text/currency"
)

// Quote is a priced cart: what the customer would pay now. Checkout builds
// the order from a quote computed on the server in the checkout transaction;
// a client's quote is for display only.
type Quote struct {
	MerchantID MerchantID
	CustomerID CustomerID
	Currency   currency.Unit
	Gift       bool
	Lines      []QuoteLine
	// Adjustments in the order the pipeline added them.
	Adjustments []Adjustment
	// Subtotal is Σ line totals before adjustments.
	Subtotal Money
	// Discount is Σ of the item adjustments.
	Discount Money
	// Shipping is the delivery fee by the merchant's ShippingRule, and
	// ShippingDiscount what shipping adjustments took off it.
	Shipping, ShippingDiscount Money
	// Total is what the customer pays: Subtotal - Discount + Shipping -
	// ShippingDiscount. It never goes below zero.
	Total Money
	// Extensions carries per-plugin input from QuoteParams (selected coupons,
	// points to spend, a share token) to the adjusters and checkout hooks.
	// It is the caller's map until SetExtension copies it.
	Extensions Extensions
	// ownExt says Extensions is the quote's own copy, made by SetExtension.
	ownExt bool
}

// SetExtension sets key in the quote's Extensions, for an adjuster to hand
// what it read or chose to later adjusters and to the checkout hooks. The
// first call copies the caller's map, so the caller never sees the key;
// later calls, by any plugin, write into that copy (one copy per quote
// rather than one per plugin). A copy of the Quote made since shares it.
func (q *Quote) SetExtension(key string, value any) {
	if !q.ownExt || q.Extensions == nil {
		// Room for the keys the minishop plugins set.
		q.Extensions, q.ownExt = q.Extensions.clone(2), true
	}
	q.Extensions[key] = value
}

// QuoteLine is one priced line.
type QuoteLine struct {
	SKU        SKUID
	Product    ProductID
	Title      string
	Category   string
	Attributes []Attribute
	Quantity   int64
	UnitPrice  Money
	// Total is UnitPrice × Quantity.
	Total Money
	// Discount is the sum of this line's shares of the item adjustments so far.
	Discount Money
	// Payable is Total - Discount: what the customer pays for this line.
	Payable Money
}

// AdjustmentKind names what an adjustment is, for display, refunds and
// reports. Plugins may define their own kinds.
type AdjustmentKind string

// Kinds the minishop packages use.
const (
	KindDiscount    AdjustmentKind = "discount"     // a promotion
	KindMemberPrice AdjustmentKind = "member_price" // a member price or tier discount
	KindCoupon      AdjustmentKind = "coupon"
	KindPoints      AdjustmentKind = "points"   // points spent as payment
	KindShipping    AdjustmentKind = "shipping" // a shipping discount
)

// AdjustmentTarget says what an adjustment reduces.
type AdjustmentTarget string

// Targets: the merchandise lines, or the shipping fee.
const (
	TargetItems    AdjustmentTarget = "items"
	TargetShipping AdjustmentTarget = "shipping"
)

// Adjustment is one reduction of a quote: its amount and, for item
// adjustments, its exact split over the lines (Split[i] belongs to Lines[i]
// and the parts sum to Amount). The split is stored with the order and reused
// by refunds, commission and points clawback; nothing recomputes it later.
type Adjustment struct {
	Kind   AdjustmentKind
	Target AdjustmentTarget
	Source string // the plugin that added it, e.g. "coupons"
	Ref    string // the plugin's reference, e.g. a coupon ID
	Label  string // for people: "¥10 off over ¥99"
	Amount Money  // taken off, never negative
	Split  []Money
}

// Adjuster is one step of the pricing pipeline: coupons, member prices,
// points, a host's own promotion. Adjusters run in the order they are
// registered (Config.Adjusters); each sees the quote as the previous ones left
// it (Lines[i].Payable already reduced) and returns the adjustments it adds,
// possibly none.
//
// An adjuster is a function of the quote and what it reads: it may read its
// own records through ctx (inside checkout ctx carries the transaction, so
// reads are consistent with the writes its CheckoutHook makes), but it must
// not write and must not call the outside world; the same quote may be
// priced many times. The pipeline checks every returned adjustment (currency,
// split sums to amount, no line or the shipping fee below zero) and fails the
// quote naming the source if one is wrong.
type Adjuster interface {
	Adjust(ctx context.Context, q *Quote) ([]Adjustment, error)
}

// AdjusterFunc adapts a function to Adjuster.
type AdjusterFunc func(ctx context.Context, q *Quote) ([]Adjustment, error)

// Adjust calls f.
func (f AdjusterFunc) Adjust(ctx context.Context, q *Quote) ([]Adjustment, error) { return f(ctx, q) }

// SplitByPayable splits amount over the lines for which eligible returns true
// (all lines when eligible is nil), in proportion to what each still costs
// (its Payable), with Allocate's exact largest-remainder rule. This is the
// split rule for order-wide discounts (§4.7 of the rules): pro rata on the
// amount after earlier discounts. It fails if amount exceeds what the
// eligible lines still cost; use EligiblePayable to cap first.
func (q *Quote) SplitByPayable(amount Money, eligible func(QuoteLine) bool) ([]Money, error) {
	const op = "commerce.quote.split"
	weights := make([]int64, len(q.Lines))
	for i, l := range q.Lines {
		if eligible == nil || eligible(l) {
			weights[i] = l.Payable.mustMinor()
		}
	}
	if err := Zero(q.Currency).same(op, amount); err != nil {
		return nil, err
	}
	if amount.IsNegative() {
		return nil, Invalid(op, "amount", "negative amount %s", amount)
	}
	var sum int64
	for _, w := range weights {
		sum += w
	}
	if m, err := amount.Minor(); err != nil {
		return nil, Invalid(op, "amount", "%v", err)
	} else if m > sum {
		return nil, Invalid(op, "amount", "%s is more than the eligible lines cost (%s)", amount, FromMinor(sum, q.Currency))
	}
	return Allocate(amount, weights)
}

// EligiblePayable returns what the lines for which eligible returns true
// still cost (all lines when eligible is nil).
func (q *Quote) EligiblePayable(eligible func(QuoteLine) bool) Money {
	total := Zero(q.Currency)
	for _, l := range q.Lines {
		if eligible == nil || eligible(l) {
			total = total.plus(l.Payable)
		}
	}
	return total
}

// newQuote prices lines: unit price × quantity per line, subtotal, and the
// shipping fee by rule. It is pure; the service loads what it needs.
func newQuote(m *Merchant, customer CustomerID, lines []QuoteLine, gift bool, ext Extensions) *Quote {
	q := &Quote{
		MerchantID: m.ID, CustomerID: customer, Currency: m.Currency, Gift: gift,
		Lines: lines, Extensions: ext,
		Subtotal: Zero(m.Currency), Discount: Zero(m.Currency),
		Shipping: Zero(m.Currency), ShippingDiscount: Zero(m.Currency),
	}
	for i := range q.Lines {
		l := &q.Lines[i]
		l.Total = l.UnitPrice.Mul(l.Quantity).Round()
		l.Discount = Zero(m.Currency)
		l.Payable = l.Total
		q.Subtotal = q.Subtotal.plus(l.Total)
	}
	if r := m.Shipping; r.Flat.IsSet() && r.Flat.IsPositive() {
		free := r.FreeOver.IsSet() && q.Subtotal.cmp(r.FreeOver) >= 0
		if !free {
			q.Shipping = r.Flat
		}
	}
	q.total()
	return q
}

func (q *Quote) total() {
	q.Total = q.Subtotal.minus(q.Discount).plus(q.Shipping).minus(q.ShippingDiscount).in(q.Currency)
}

// apply checks one adjustment against the quote and applies it.
func (q *Quote) apply(op string, a Adjustment) error {
	src := a.Source
	if src == "" {
		src = "unnamed adjuster"
	}
	fail := func(format string, args ...any) error {
		return Errorf(op, KindInternal, "adjustment from %s: %s", src, fmt.Sprintf(format, args...))
	}
	if a.Kind == "" {
		return fail("no kind")
	}
	if !a.Amount.IsSet() || a.Amount.cur != q.Currency {
		return fail("amount %s is not in %s", a.Amount, q.Currency)
	}
	if _, err := a.Amount.Minor(); err != nil || a.Amount.IsNegative() {
		return fail("amount %s is negative or not in whole minor units", a.Amount)
	}
	switch a.Target {
	case TargetShipping:
		if a.Split != nil {
			return fail("a shipping adjustment has no line split")
		}
		left := q.Shipping.minus(q.ShippingDiscount).in(q.Currency)
		if a.Amount.cmp(left) > 0 {
			return fail("takes %s off a shipping fee of %s", a.Amount, left)
		}
		q.ShippingDiscount = q.ShippingDiscount.plus(a.Amount)
	case TargetItems:
		if len(a.Split) != len(q.Lines) {
			return fail("split has %d parts for %d lines", len(a.Split), len(q.Lines))
		}
		sum := Zero(q.Currency)
		for i, part := range a.Split {
			if part.cur != q.Currency || part.IsNegative() {
				return fail("line %d: part %s is negative or in another currency", i, part)
			}
			if _, err := part.Minor(); err != nil {
				return fail("line %d: %v", i, err)
			}
			if part.cmp(q.Lines[i].Payable) > 0 {
				return fail("line %d: takes %s off a line that costs %s", i, part, q.Lines[i].Payable)
			}
			sum = sum.plus(part)
		}
		if !sum.Equal(a.Amount) {
			return fail("split sums to %s, amount is %s", sum, a.Amount)
		}
		for i, part := range a.Split {
			l := &q.Lines[i]
			l.Discount = l.Discount.plus(part)
			l.Payable = l.Payable.minus(part)
		}
		q.Discount = q.Discount.plus(a.Amount)
	default:
		return fail("unknown target %q", a.Target)
	}
	q.Adjustments = append(q.Adjustments, a)
	q.total()
	return nil
}

// runPipeline runs the adjusters in order over q.
func runPipeline(ctx context.Context, op string, q *Quote, adjusters []Adjuster) error {
	for _, adj := range adjusters {
		adds, err := adj.Adjust(ctx, q)
		if err != nil {
			return Wrap(op, err)
		}
		for _, a := range adds {
			if err := q.apply(op, a); err != nil {
				return err
			}
		}
	}
	return nil
}
