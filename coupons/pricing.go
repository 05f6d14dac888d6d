package coupons

import (
	"cmp"
	"slices"
	"time"

	"github.com/minishop/minishop/commerce"
)

// Reason says why a coupon cannot be used on a cart.
type Reason string

// Reasons.
const (
	NotYetActive   Reason = "not_yet_active"  // its validity has not begun
	PastValidity   Reason = "expired"         // its validity has ended
	NotValid       Reason = "not_valid"       // used, transferred or void
	BatchStopped   Reason = "batch_voided"    // its batch was voided
	OutOfScope     Reason = "out_of_scope"    // no line of the cart is in its scope
	ThresholdShort Reason = "threshold_short" // Short more is needed
	TooFewItems    Reason = "too_few_items"   // ShortItems more items are needed
	NothingToTake  Reason = "nothing_to_take" // e.g. free shipping on a free-delivery order
	OtherMerchant  Reason = "other_merchant"
	LimitReached   Reason = "limit_reached" // the order holds the most coupons of its level
	NotStackable   Reason = "not_stackable" // another chosen coupon excludes it
	ItemTaken      Reason = "item_taken"    // its items carry another item-level coupon
	// CostsMore: usable, but with it another coupon's threshold would no
	// longer be met, and the combination without it saves more.
	CostsMore Reason = "costs_more"
)

// Unusable is a coupon that cannot be used on a cart, and why.
type Unusable struct {
	Coupon *Coupon
	Batch  *Batch
	Reason Reason
	// Short is how much more of the eligible goods the threshold needs
	// (ThresholdShort); ShortItems how many more items (TooFewItems).
	Short      commerce.Money
	ShortItems int64
}

// Offer is what one coupon takes off a quote.
type Offer struct {
	Coupon *Coupon
	Batch  *Batch
	Target commerce.AdjustmentTarget
	// Amount is taken off, in minor units; Split (items) per quote line.
	Amount int64
	Split  []int64
}

// Limits bound the coupons of one order; WeChat Pay allows 20 item-level
// and 8 order-level discounts.
type Limits struct {
	Item, Order int
}

// DefaultLimits are WeChat Pay's.
var DefaultLimits = Limits{Item: 20, Order: 8}

// view is a quote being discounted, in minor units.
type view struct {
	q        *commerce.Quote
	payable  []int64
	shipping int64 // shipping fee left
	taken    []bool
}

func newView(q *commerce.Quote) *view {
	v := &view{q: q, payable: make([]int64, len(q.Lines)), taken: make([]bool, len(q.Lines))}
	for i, l := range q.Lines {
		v.payable[i], _ = l.Payable.Minor()
	}
	sh, _ := q.Shipping.Minor()
	sd, _ := q.ShippingDiscount.Minor()
	v.shipping = sh - sd
	return v
}

func (v *view) clone() *view {
	return &view{q: v.q, payable: slices.Clone(v.payable), shipping: v.shipping, taken: slices.Clone(v.taken)}
}

func (v *view) apply(o *Offer) {
	if o.Target == commerce.TargetShipping {
		v.shipping -= o.Amount
		return
	}
	for i, part := range o.Split {
		v.payable[i] -= part
		if part > 0 && o.Batch.Level() == ItemLevel {
			v.taken[i] = true
		}
	}
}

func minor(m commerce.Money) int64 {
	if !m.IsSet() {
		return 0
	}
	v, _ := m.Minor()
	return v
}

// check says whether coupon c can be used at now at all, apart from the
// cart.
func check(c *Coupon, b *Batch, merchant commerce.MerchantID, now time.Time) Reason {
	switch {
	case c.MerchantID != merchant || b.MerchantID != merchant:
		return OtherMerchant
	case b.Status == Voided:
		return BatchStopped
	case c.Status != Valid:
		return NotValid
	case now.Before(c.ValidFrom):
		return NotYetActive
	case !now.Before(c.ValidUntil):
		return PastValidity
	}
	return ""
}

// evaluate prices batch b on v. Thresholds are checked against base (the
// quote after item-level coupons, for order-level ones), amounts against v.
// Item-level coupons see only lines no other item-level coupon took.
func evaluate(b *Batch, v, base *view) (*Offer, *Unusable) {
	lines := v.q.Lines
	item := b.Level() == ItemLevel
	eligible := func(i int) bool {
		l := lines[i]
		return b.Scope.Covers(l.Product, l.SKU) && v.payable[i] > 0 && !(item && v.taken[i])
	}
	var amount, count, baseAmount, baseCount int64
	hasAny := false
	for i := range lines {
		if eligible(i) {
			hasAny = true
			amount += v.payable[i]
			count += lines[i].Quantity
		}
		if b.Kind == ExchangePrice || b.Scope.Covers(lines[i].Product, lines[i].SKU) {
			// Exchange coupons' thresholds are on the whole order; the
			// scope names the item bought at the exchange price.
			baseAmount += base.payable[i]
			baseCount += lines[i].Quantity
		}
	}
	if b.Kind != FreeShipping && !hasAny {
		return nil, &Unusable{Batch: b, Reason: OutOfScope}
	}
	if m := minor(b.MinAmount); m > 0 && baseAmount < m {
		return nil, &Unusable{Batch: b, Reason: ThresholdShort, Short: commerce.FromMinor(m-baseAmount, v.q.Currency)}
	}
	if b.MinCount > 0 && baseCount < b.MinCount {
		return nil, &Unusable{Batch: b, Reason: TooFewItems, ShortItems: b.MinCount - baseCount}
	}
	o := &Offer{Batch: b, Target: commerce.TargetItems}
	weights := make([]int64, len(lines))
	for i := range lines {
		if eligible(i) {
			weights[i] = v.payable[i]
		}
	}
	switch b.Kind {
	case AmountOff, ThresholdOff:
		o.Amount = min(minor(b.Amount), amount)
	case PercentOff, ItemsDiscount:
		o.Amount = b.PercentOff.OfMinor(amount)
		if c := minor(b.Cap); c > 0 {
			o.Amount = min(o.Amount, c)
		}
	case FreeShipping:
		o.Target, o.Amount = commerce.TargetShipping, v.shipping
		if o.Amount <= 0 {
			return nil, &Unusable{Batch: b, Reason: NothingToTake}
		}
		return o, nil
	case BuyNGetM:
		return buyNGetM(b, v, eligible)
	case ExchangePrice:
		return exchange(b, v, eligible)
	}
	if o.Amount <= 0 {
		return nil, &Unusable{Batch: b, Reason: NothingToTake}
	}
	o.Split, _ = commerce.AllocateMinor(o.Amount, weights)
	return o, nil
}

// buyNGetM makes the cheapest GetM units of every BuyN+GetM eligible units
// free. Lines are walked cheapest unit first with their quantities; units
// are never expanded one by one.
func buyNGetM(b *Batch, v *view, eligible func(int) bool) (*Offer, *Unusable) {
	lines := v.q.Lines
	var idx []int
	var units int64
	for i := range lines {
		if eligible(i) {
			idx = append(idx, i)
			units += lines[i].Quantity
		}
	}
	group := b.BuyN + b.GetM
	free := units / group * b.GetM
	if free == 0 {
		return nil, &Unusable{Batch: b, Reason: TooFewItems, ShortItems: group - units%group}
	}
	// Cheapest unit first: compare payable/qty without dividing.
	slices.SortStableFunc(idx, func(a, c int) int {
		return cmp.Compare(v.payable[a]*lines[c].Quantity, v.payable[c]*lines[a].Quantity)
	})
	o := &Offer{Batch: b, Target: commerce.TargetItems, Split: make([]int64, len(lines))}
	for _, i := range idx {
		if free == 0 {
			break
		}
		k := min(free, lines[i].Quantity)
		free -= k
		o.Split[i] = commerce.MulDivHalfUp(v.payable[i], k, lines[i].Quantity)
		o.Amount += o.Split[i]
	}
	return o, nil
}

// exchange sells one eligible unit at the batch's price: the unit that
// saves the most.
func exchange(b *Batch, v *view, eligible func(int) bool) (*Offer, *Unusable) {
	lines := v.q.Lines
	price := minor(b.Amount)
	best, bestSave := -1, int64(0)
	for i := range lines {
		if !eligible(i) {
			continue
		}
		unit := v.payable[i] / lines[i].Quantity
		if save := unit - price; save > bestSave {
			best, bestSave = i, save
		}
	}
	if best < 0 {
		return nil, &Unusable{Batch: b, Reason: NothingToTake}
	}
	o := &Offer{Batch: b, Target: commerce.TargetItems, Amount: bestSave, Split: make([]int64, len(lines))}
	o.Split[best] = bestSave
	return o, nil
}

// rank orders offers by the platform's deterministic tie-break (§4.4):
// higher face value (what it takes off here), higher threshold, earlier
// expiry, earlier claim, smaller id.
func rank(a, b *Offer) int {
	if c := cmp.Compare(b.Amount, a.Amount); c != 0 {
		return c
	}
	if c := cmp.Compare(minor(b.Batch.MinAmount), minor(a.Batch.MinAmount)); c != 0 {
		return c
	}
	if c := a.Coupon.ValidUntil.Compare(b.Coupon.ValidUntil); c != 0 {
		return c
	}
	if c := a.Coupon.ClaimedAt.Compare(b.Coupon.ClaimedAt); c != 0 {
		return c
	}
	return a.Coupon.ID.Compare(b.Coupon.ID)
}

// Candidate is a coupon with its batch.
type Candidate struct {
	Coupon *Coupon
	Batch  *Batch
}

// combine applies cands in the platform's order (item-level coupons first,
// each on items no other took, then order-level ones with thresholds on the
// amount after item-level coupons), greedily by rank, within limits. It
// returns the offers it applied and why the others were left out.
func combine(q *commerce.Quote, cands []Candidate, limits Limits) ([]*Offer, []*Unusable) {
	v := newView(q)
	var out []*Offer
	var left []*Unusable
	for _, level := range []Level{ItemLevel, OrderLevel} {
		base := v.clone()
		max := limits.Item
		if level == OrderLevel {
			max = limits.Order
		}
		// Rank on the quote as it stands, then apply in rank order,
		// re-evaluating each on what earlier ones left.
		var ranked []*Offer
		for _, c := range cands {
			if c.Batch.Level() != level {
				continue
			}
			o, u := evaluate(c.Batch, v, base)
			if u != nil {
				u.Coupon = c.Coupon
				left = append(left, u)
				continue
			}
			o.Coupon = c.Coupon
			ranked = append(ranked, o)
		}
		// Coupons applied together go by the merchant's priority (higher
		// first), then by the platform's ranking.
		slices.SortStableFunc(ranked, func(a, b *Offer) int {
			if c := cmp.Compare(b.Batch.Priority, a.Batch.Priority); c != 0 {
				return c
			}
			return rank(a, b)
		})
		n := 0
		for _, r := range ranked {
			o, u := evaluate(r.Batch, v, base)
			switch {
			case u != nil:
				if u.Reason == OutOfScope || u.Reason == NothingToTake {
					u.Reason = ItemTaken
					if level == OrderLevel {
						u.Reason = NothingToTake
					}
				}
				u.Coupon = r.Coupon
				left = append(left, u)
				continue
			case n >= max:
				left = append(left, &Unusable{Coupon: r.Coupon, Batch: r.Batch, Reason: LimitReached})
				continue
			}
			o.Coupon = r.Coupon
			v.apply(o)
			out = append(out, o)
			n++
		}
	}
	return out, left
}

func total(offers []*Offer) int64 {
	var t int64
	for _, o := range offers {
		t += o.Amount
	}
	return t
}

// Best picks the combination of cands that saves the customer the most:
// each exclusive coupon alone, or the coupons of one stack group together
// (combined as combine does, trying every subset of the group's item-level
// coupons, up to maxItemSearch of them); ties go to the combination whose
// best coupon ranks first. Coupons that cannot be used at now on this quote come back
// with their reason.
func Best(q *commerce.Quote, cands []Candidate, now time.Time, limits Limits) ([]*Offer, []*Unusable) {
	var usable []Candidate
	var left []*Unusable
	for _, c := range cands {
		if r := check(c.Coupon, c.Batch, q.MerchantID, now); r != "" {
			left = append(left, &Unusable{Coupon: c.Coupon, Batch: c.Batch, Reason: r})
			continue
		}
		usable = append(usable, c)
	}
	groups := map[string][]Candidate{}
	var keys []string
	var options [][]Candidate
	for _, c := range usable {
		if c.Batch.Exclusive {
			options = append(options, []Candidate{c})
			continue
		}
		if _, ok := groups[c.Batch.StackGroup]; !ok {
			keys = append(keys, c.Batch.StackGroup)
		}
		groups[c.Batch.StackGroup] = append(groups[c.Batch.StackGroup], c)
	}
	slices.Sort(keys)
	for _, k := range keys {
		options = append(options, groups[k])
	}
	var best []*Offer
	var bestLeft []*Unusable
	consider := func(offers []*Offer, l []*Unusable) {
		if len(offers) == 0 {
			return
		}
		if best == nil || total(offers) > total(best) || (total(offers) == total(best) && rank(top(offers), top(best)) < 0) {
			best, bestLeft = offers, l
		}
	}
	for _, opt := range options {
		offers, l := combine(q, opt, limits)
		consider(offers, l)
		if !thresholdBroken(l) {
			continue // every item coupon only added savings
		}
		for _, sub := range itemSubsets(opt)[1:] {
			consider(combine(q, sub, limits))
		}
	}
	// Everything not in the chosen combination is left, with its own
	// reason if it has one, else because the combination excludes it.
	chosen := map[CouponID]bool{}
	group, exclusive := "", false
	for _, o := range best {
		chosen[o.Coupon.ID] = true
		group, exclusive = o.Batch.StackGroup, o.Batch.Exclusive
	}
	reasons := map[CouponID]*Unusable{}
	for _, u := range bestLeft {
		reasons[u.Coupon.ID] = u
	}
	for _, c := range usable {
		if chosen[c.Coupon.ID] {
			continue
		}
		if u, ok := reasons[c.Coupon.ID]; ok {
			left = append(left, u)
			continue
		}
		if _, u := evaluate(c.Batch, newView(q), newView(q)); u != nil {
			u.Coupon = c.Coupon
			left = append(left, u)
			continue
		}
		reason := NotStackable
		if !exclusive && !c.Batch.Exclusive && c.Batch.StackGroup == group {
			reason = CostsMore
		}
		left = append(left, &Unusable{Coupon: c.Coupon, Batch: c.Batch, Reason: reason})
	}
	return best, left
}

// maxItemSearch bounds the item-level coupons whose subsets Best tries: an
// item coupon can cost more than it saves by taking an order-level coupon
// below its threshold, so the best choice may leave it out.
const maxItemSearch = 6

// itemSubsets returns the ways to use a stack group: every subset of its
// item-level coupons (all of them when there are more than maxItemSearch)
// with all of its order-level coupons, the whole group first.
func itemSubsets(group []Candidate) [][]Candidate {
	var items, orders []Candidate
	for _, c := range group {
		if c.Batch.Level() == ItemLevel {
			items = append(items, c)
		} else {
			orders = append(orders, c)
		}
	}
	if len(items) == 0 || len(items) > maxItemSearch || !hasThreshold(orders) {
		// Without an order-level threshold to break, every usable item
		// coupon only adds savings: the whole group is best.
		return [][]Candidate{group}
	}
	out := make([][]Candidate, 0, 1<<len(items))
	for mask := (1 << len(items)) - 1; mask >= 0; mask-- {
		sub := make([]Candidate, 0, len(group))
		for i, c := range items {
			if mask&(1<<i) != 0 {
				sub = append(sub, c)
			}
		}
		out = append(out, append(sub, orders...))
	}
	return out
}

// thresholdBroken reports whether an order-level coupon was left out for
// its threshold: only then can leaving item coupons out save more.
func thresholdBroken(left []*Unusable) bool {
	for _, u := range left {
		if u.Batch.Level() == OrderLevel && (u.Reason == ThresholdShort || u.Reason == TooFewItems) {
			return true
		}
	}
	return false
}

func hasThreshold(cs []Candidate) bool {
	for _, c := range cs {
		if c.Batch.MinAmount.IsPositive() || c.Batch.MinCount > 0 {
			return true
		}
	}
	return false
}

func top(offers []*Offer) *Offer {
	t := offers[0]
	for _, o := range offers[1:] {
		if rank(o, t) < 0 {
			t = o
		}
	}
	return t
}

// Chosen applies exactly the customer's chosen coupons, in the platform's
// order. A chosen coupon that cannot be used, or a choice that breaks the
// stacking rules, is returned as unusable with its reason.
func Chosen(q *commerce.Quote, cands []Candidate, now time.Time, limits Limits) ([]*Offer, []*Unusable) {
	var left []*Unusable
	var ok []Candidate
	for _, c := range cands {
		if r := check(c.Coupon, c.Batch, q.MerchantID, now); r != "" {
			left = append(left, &Unusable{Coupon: c.Coupon, Batch: c.Batch, Reason: r})
			continue
		}
		ok = append(ok, c)
	}
	if len(ok) > 1 {
		for _, c := range ok {
			if c.Batch.Exclusive || c.Batch.StackGroup != ok[0].Batch.StackGroup {
				left = append(left, &Unusable{Coupon: c.Coupon, Batch: c.Batch, Reason: NotStackable})
			}
		}
		if len(left) > 0 {
			return nil, left
		}
	}
	offers, l := combine(q, ok, limits)
	return offers, append(left, l...)
}
