package membership

import (
	"context"
	"fmt"
	"strconv"

	"github.com/minishop/minishop/commerce"
)

// priceFor returns the member price of sku for level (the price of the
// highest tier at or below level that has one).
func (p *Program) priceFor(sku commerce.SKUID, level int) (commerce.Money, bool) {
	var best commerce.Money
	bestLevel := 0
	for _, mp := range p.MemberPrices {
		if mp.SKU == sku && mp.Level <= level && mp.Level > bestLevel {
			best, bestLevel = mp.Price, mp.Level
		}
	}
	return best, bestLevel > 0
}

func excluded(t Tier, p commerce.ProductID) bool {
	for _, x := range t.ExcludeProducts {
		if x == p {
			return true
		}
	}
	return false
}

// loaded is the member and program the price adjuster read, carried on the
// quote to the points adjuster so a quote reads them once.
type loaded struct {
	m *Member
	p *Program
	// lots are the member's open lots, read with it when the quote spends
	// points (nil otherwise); valid while m.Version holds.
	lots []*Lot
}

const loadedKey = "membership.loaded"

// memberOf returns the quote customer's card and the program, or nils when
// either is missing.
func (s *Service) memberOf(ctx context.Context, q *commerce.Quote) (*Member, *Program, error) {
	if q.CustomerID == "" {
		return nil, nil, nil
	}
	if l, ok := q.Extensions[loadedKey].(loaded); ok {
		return l.m, l.p, nil
	}
	// A quote that spends points reads the lots it will burn in the same
	// statement (see spendSeen).
	n, _ := q.Extensions[ExtensionKey].(Points)
	p, m, lots, err := s.store.ProgramAndMember(ctx, q.MerchantID, q.CustomerID, n > 0)
	if commerce.KindOf(err) == commerce.KindNotFound || m == nil {
		return nil, nil, nil
	}
	if err == nil {
		q.SetExtension(loadedKey, loaded{m, p, lots})
	}
	return m, p, err
}

// PriceAdjuster gives members their prices, before coupons: a SKU's member
// price for the member's tier where the program sets one, else the tier's
// discount on products it does not exclude; and free delivery for tiers
// that have it.
func (s *Service) PriceAdjuster() commerce.Adjuster {
	return commerce.AdjusterFunc(func(ctx context.Context, q *commerce.Quote) ([]commerce.Adjustment, error) {
		m, p, err := s.memberOf(ctx, q)
		if err != nil || m == nil || m.Level == 0 {
			return nil, commerce.Wrap("membership.price", err)
		}
		tier := p.Tier(m.Level)
		split := make([]commerce.Money, len(q.Lines))
		total := commerce.Zero(q.Currency)
		for i, l := range q.Lines {
			off := commerce.Zero(q.Currency)
			if price, ok := p.priceFor(l.SKU, m.Level); ok && price.Currency() == q.Currency {
				if d, _ := l.UnitPrice.Sub(price); d.IsPositive() {
					off = d.Mul(l.Quantity)
				}
			} else if tier.Discount.PPM() > 0 && !excluded(tier, l.Product) {
				off = tier.Discount.Of(l.Payable)
			}
			if c, _ := off.Cmp(l.Payable); c > 0 {
				off = l.Payable
			}
			split[i] = off
			total, _ = total.Add(off)
		}
		var out []commerce.Adjustment
		ref := "level:" + strconv.Itoa(m.Level)
		if total.IsPositive() {
			out = append(out, commerce.Adjustment{Kind: commerce.KindMemberPrice, Target: commerce.TargetItems, Source: Source,
				Ref: ref, Label: tier.Name + " member price", Amount: total, Split: split})
		}
		if left, _ := q.Shipping.Sub(q.ShippingDiscount); tier.FreeShipping && left.IsPositive() {
			out = append(out, commerce.Adjustment{Kind: commerce.KindShipping, Target: commerce.TargetShipping, Source: Source,
				Ref: ref, Label: tier.Name + " free delivery", Amount: left})
		}
		return out, nil
	})
}

// PointsAdjuster turns the points the customer chose to spend
// (SpendPoints) into a deduction split across the lines in exact minor
// units, after coupons. It refuses, naming extensions.points, points the
// member does not have, an order under the program's minimum, more than
// its maximum or its share of the order.
func (s *Service) PointsAdjuster() commerce.Adjuster {
	return commerce.AdjusterFunc(func(ctx context.Context, q *commerce.Quote) ([]commerce.Adjustment, error) {
		const op = "membership.points"
		const field = "extensions.points"
		n, _ := q.Extensions[ExtensionKey].(Points)
		if n == 0 {
			return nil, nil
		}
		fail := func(format string, args ...any) error {
			return &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Field: field, Err: fmt.Errorf(format, args...)}
		}
		if n < 0 {
			return nil, commerce.Invalid(op, field, "negative points")
		}
		m, p, err := s.memberOf(ctx, q)
		if err != nil {
			return nil, commerce.Wrap(op, err)
		}
		if m == nil {
			return nil, fail("%w: %s", ErrNotMember, q.CustomerID)
		}
		if p.Redeem.Points <= 0 {
			return nil, fail("the program takes no points as payment")
		}
		if p.Redeem.Per.Currency() != q.Currency {
			return nil, fail("points pay in %s, the order is in %s", p.Redeem.Per.Currency(), q.Currency)
		}
		if int64(n) > m.Available {
			return nil, fail("%w: %d asked, %d available", ErrInsufficientPoints, n, m.Available)
		}
		if p.MaxPoints > 0 && int64(n) > p.MaxPoints {
			return nil, fail("%d points is over the %d an order takes", n, p.MaxPoints)
		}
		value, whole := p.Redeem.value(int64(n))
		if !whole {
			return nil, commerce.Invalid(op, field, "%d points do not pay a whole %s at %d points per %s", n,
				commerce.FromMinor(1, q.Currency), p.Redeem.Points, p.Redeem.Per)
		}
		payable := q.EligiblePayable(nil)
		if p.MinOrder.IsSet() {
			if c, _ := payable.Cmp(p.MinOrder); c < 0 {
				return nil, fail("the order's %s is under the %s points need", payable, p.MinOrder)
			}
		}
		pm, _ := payable.Minor()
		limit := pm
		if p.MaxShare.PPM() > 0 {
			limit = p.MaxShare.OfMinorDown(pm)
		}
		if value > limit {
			return nil, fail("%d points pay %s, more than the %s the order allows", n, commerce.FromMinor(value, q.Currency), commerce.FromMinor(limit, q.Currency))
		}
		amount := commerce.FromMinor(value, q.Currency)
		split, err := q.SplitByPayable(amount, nil)
		if err != nil {
			return nil, commerce.Wrap(op, err)
		}
		// The digits are written once for the reference and the label.
		var buf [20]byte
		digits := strconv.AppendInt(buf[:0], int64(n), 10)
		return []commerce.Adjustment{{Kind: commerce.KindPoints, Target: commerce.TargetItems, Source: Source,
			Ref: "points:" + string(digits), Label: string(digits) + " points", Amount: amount, Split: split}}, nil
	})
}

// spentPoints returns the points an order's points adjustment spent, and
// the adjustment's index (-1 when none).
func spentPoints(o *commerce.Order) (int64, int) {
	for k, a := range o.Adjustments {
		if a.Source == Source && a.Kind == commerce.KindPoints {
			n, err := strconv.ParseInt(a.Ref[len("points:"):], 10, 64)
			if err == nil {
				return n, k
			}
		}
	}
	return 0, -1
}

// CheckoutHook spends the points the quote deducted, in the checkout
// transaction, under the member's lock: of concurrent checkouts spending
// more than the balance, the ones that would take it below zero fail.
func (s *Service) CheckoutHook() commerce.CheckoutHook {
	return commerce.CheckoutHookFunc(func(ctx context.Context, c *commerce.CheckoutContext) error {
		const op = "membership.spend"
		n, _ := spentPoints(c.Order)
		if n == 0 {
			return nil
		}
		o := c.Order
		spend := func(m *Member, lots []*Lot) error {
			burns, err := s.burn(ctx, m, n, lots)
			if err != nil {
				return err
			}
			if err := s.entry(ctx, m, &Entry{Kind: Spend, Points: -n, OrderID: o.ID, RequestID: "spend:" + o.ID.String(), Burns: burns}); err != nil {
				return err
			}
			return s.emitPoints(ctx, m, "points.spent", o.ID, n, false)
		}
		if ok, err := s.spendSeen(ctx, c.Quote, n, spend); ok || err != nil {
			return wrap(op, err)
		}
		return wrap(op, s.withMember(ctx, o.MerchantID, o.CustomerID, func(m *Member) error { return spend(m, nil) }))
	})
}

// spendSeen is the checkout's fast path: the member the quote read in this
// transaction is charged n points with one guarded write (SaveMember)
// instead of a locked read and a write. The quote read the member's open
// lots with it, in one statement; the write succeeding says the member,
// and so its lots, did not change since, so they are burnt as read, now
// under the member's lock as on withMember's path. Should spending expire
// a lot that was due (which lowers the balance), the member is written
// again. It reports false, having changed nothing, when the quote read no
// member with the points or the member changed since: the caller then
// takes the lock.
func (s *Service) spendSeen(ctx context.Context, q *commerce.Quote, n int64, spend func(*Member, []*Lot) error) (bool, error) {
	l, ok := q.Extensions[loadedKey].(loaded)
	if !ok || l.m.Available < n {
		return false, nil
	}
	m := *l.m
	m.Updated = s.now()
	after := m
	after.Available -= n
	if saved, err := s.store.SaveMember(ctx, &after); !saved || err != nil {
		return false, err
	}
	m.Version = after.Version
	// Burning changes lots: copies, so that the quote's stay as read (nil
	// when not read with the member: burn reads them).
	var lots []*Lot
	if l.lots != nil {
		lots = make([]*Lot, len(l.lots))
		for i, lot := range l.lots {
			c := *lot
			lots[i] = &c
		}
	}
	if err := spend(&m, lots); err != nil {
		return true, err
	}
	if m.Available == after.Available {
		return true, nil
	}
	saved, err := s.store.SaveMember(ctx, &m)
	if err == nil && !saved {
		err = fmt.Errorf("membership: member %s changed while this transaction held it", m.Customer)
	}
	return true, err
}
