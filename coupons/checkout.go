package coupons

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/internal/jsonenc"
)

// ExtensionKey is the key of a Selection in commerce.Extensions.
const ExtensionKey = "coupons"

// Source names the coupons package in the adjustments it adds.
const Source = "coupons"

// Selection is the customer's choice of coupons for a quote or checkout.
// Without one, pricing picks the combination of the customer's coupons that
// saves the most.
type Selection struct {
	// Coupons to apply, exactly these; every one must be usable.
	Coupons []CouponID
	// None applies no coupon.
	None bool
}

// Select chooses exactly these coupons for a quote or checkout (see
// commerce.With); every one must be usable, or the checkout fails naming
// it. Without a selection pricing picks the customer's best coupons.
func Select(id CouponID, more ...CouponID) commerce.Extension {
	return commerce.Extension{Key: ExtensionKey, Value: Selection{Coupons: append([]CouponID{id}, more...)}}
}

// NoCoupon chooses no coupon: the order pays full price even when the
// customer holds coupons pricing would otherwise apply.
func NoCoupon() commerce.Extension {
	return commerce.Extension{Key: ExtensionKey, Value: Selection{None: true}}
}

// candidates loads what the quote's customer may use: the selection, or
// every valid coupon the customer holds at the quote's merchant.
func (s *Service) candidates(ctx context.Context, op string, q *commerce.Quote) ([]Candidate, bool, error) {
	sel, _ := q.Extensions[ExtensionKey].(Selection)
	if sel.None || q.CustomerID == "" {
		return nil, false, nil
	}
	if len(sel.Coupons) > 0 {
		cands, err := s.chosen(ctx, op, q, sel.Coupons)
		return cands, true, err
	}
	cands, err := s.store.WalletCandidates(ctx, q.MerchantID, q.CustomerID, 1000)
	return cands, false, err
}

// chosen loads the coupons the customer named, with their batches, in one
// read, refusing one named twice, missing or another customer's.
func (s *Service) chosen(ctx context.Context, op string, q *commerce.Quote, ids []CouponID) ([]Candidate, error) {
	got, err := s.store.GetCandidates(ctx, q.MerchantID, ids)
	if err != nil {
		return nil, err
	}
	out := make([]Candidate, 0, len(ids))
	for i, id := range ids {
		// A linear search and the field named only on failure: a checkout
		// names a few coupons, and a map and the name cost it allocations.
		k := slices.IndexFunc(got, func(c Candidate) bool { return c.Coupon.ID == id })
		field := func() string { return fmt.Sprintf("extensions.coupons[%d]", i) }
		switch {
		case slices.Contains(ids[:i], id):
			return nil, commerce.Invalid(op, field(), "coupon %s chosen twice", id)
		case k < 0:
			return nil, &commerce.Error{Op: op, Kind: commerce.KindNotFound, Field: field(),
				Err: fmt.Errorf("%w: no coupon %s at this merchant", commerce.ErrNotFound, id)}
		case got[k].Coupon.Customer != q.CustomerID:
			return nil, &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Field: field(),
				Err: fmt.Errorf("%w: coupon %s belongs to another customer", ErrCouponUnavailable, id)}
		}
		out = append(out, got[k])
	}
	return out, nil
}

// Adjuster prices coupons into a quote: the customer's Selection, or else
// the best combination of the coupons they hold. Item-level coupons come
// first, each on its own items; order-level ones are split across their
// eligible lines pro rata in exact minor units. A chosen coupon that cannot
// be used fails the quote, naming the coupon and the reason. Coupons it
// picks itself are locked in the checkout's transaction as they are picked,
// and picked again from those left if a concurrent checkout has used one,
// so the price always counts exactly the coupons the checkout redeems.
func (s *Service) Adjuster() commerce.Adjuster {
	return commerce.AdjusterFunc(func(ctx context.Context, q *commerce.Quote) ([]commerce.Adjustment, error) {
		const op = "coupons.price"
		cands, explicit, err := s.candidates(ctx, op, q)
		if err != nil || len(cands) == 0 {
			return nil, wrapErr(op, err)
		}
		var offers []*Offer
		if explicit {
			var left []*Unusable
			offers, left = Chosen(q, cands, s.now(), s.cfg.Limits)
			if len(left) > 0 {
				u := left[0]
				return nil, &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Field: "extensions.coupons",
					Err: fmt.Errorf("%w: coupon %s: %s", ErrCouponUnavailable, u.Coupon.ID, describe(u))}
			}
		} else if offers, err = s.pickBest(ctx, q, cands); err != nil {
			return nil, wrapErr(op, err)
		}
		if len(offers) > 0 {
			// The checkout hook needs these coupons again (promoter, event):
			// they travel on the quote, so the hook does not read them a
			// second time.
			applied := make(applied, len(offers))
			for i, o := range offers {
				applied[i] = o.Coupon
			}
			q.SetExtension(appliedKey, applied)
		}
		return adjustments(q, offers), nil
	})
}

// pickBest picks the best combination of cands for a customer who chose no
// coupon, and locks its coupons in the checkout's transaction so that the
// checkout hook can redeem every coupon the price counts on. cands were
// read without a lock: a coupon a concurrent checkout has redeemed since is
// left out by the lock, and the best combination is picked again from
// what remains, until every coupon picked is locked (possibly none are
// left: the quote then has no coupon). The customer named none of them, so
// losing one to a concurrent checkout is no reason to fail. Each round
// locks at least one more coupon or drops one, so it ends.
func (s *Service) pickBest(ctx context.Context, q *commerce.Quote, cands []Candidate) ([]*Offer, error) {
	now := s.now()
	locked := map[CouponID]bool{}
	for {
		offers, _ := Best(q, cands, now, s.cfg.Limits)
		var ids []CouponID
		for _, o := range offers {
			if !locked[o.Coupon.ID] {
				ids = append(ids, o.Coupon.ID)
			}
		}
		if len(ids) == 0 {
			return offers, nil
		}
		got, err := s.store.LockValidCoupons(ctx, q.MerchantID, q.CustomerID, ids)
		if err != nil {
			return nil, err
		}
		fresh := make(map[CouponID]*Coupon, len(got))
		for _, c := range got {
			fresh[c.ID], locked[c.ID] = c, true
		}
		kept := make([]Candidate, 0, len(cands))
		for _, c := range cands {
			if f, ok := fresh[c.Coupon.ID]; ok {
				c.Coupon = f // priced as it is now, under the lock
			} else if slices.Contains(ids, c.Coupon.ID) {
				continue // gone since cands were read
			}
			kept = append(kept, c)
		}
		cands = kept
	}
}

// appliedKey carries the priced coupons from the adjuster to the hook.
const appliedKey = "coupons.applied"

// applied are the coupons the adjuster priced: a few, found by a linear
// search.
type applied []*Coupon

func (a applied) find(id CouponID) *Coupon {
	for _, c := range a {
		if c.ID == id {
			return c
		}
	}
	return nil
}

func describe(u *Unusable) string {
	switch u.Reason {
	case ThresholdShort:
		return fmt.Sprintf("%s (%s short)", u.Reason, u.Short)
	case TooFewItems:
		return fmt.Sprintf("%s (%d more)", u.Reason, u.ShortItems)
	}
	return string(u.Reason)
}

func adjustments(q *commerce.Quote, offers []*Offer) []commerce.Adjustment {
	out := make([]commerce.Adjustment, 0, len(offers))
	for _, o := range offers {
		a := commerce.Adjustment{Kind: commerce.KindCoupon, Target: o.Target, Source: Source, Ref: o.Coupon.ID.String(),
			Label: o.Batch.Name, Amount: commerce.FromMinor(o.Amount, q.Currency)}
		if o.Target == commerce.TargetItems {
			a.Split = make([]commerce.Money, len(o.Split))
			for i, v := range o.Split {
				a.Split[i] = commerce.FromMinor(v, q.Currency)
			}
		}
		out = append(out, a)
	}
	return out
}

// ForCart says, for a quote priced without coupons (Selection{None: true}),
// what each of the customer's coupons at the merchant would take off alone,
// and why each of the others cannot be used.
func (s *Service) ForCart(ctx context.Context, q *commerce.Quote) ([]*Offer, []*Unusable, error) {
	const op = "coupons.for_cart"
	probe := *q
	probe.Extensions = nil
	cands, _, err := s.candidates(ctx, op, &probe)
	if err != nil {
		return nil, nil, wrapErr(op, err)
	}
	var usable []*Offer
	var left []*Unusable
	for _, c := range cands {
		offers, l := Chosen(q, []Candidate{c}, s.now(), s.cfg.Limits)
		if len(offers) == 1 {
			usable = append(usable, offers[0])
			continue
		}
		if len(l) == 0 {
			l = []*Unusable{{Coupon: c.Coupon, Batch: c.Batch, Reason: NothingToTake}}
		}
		left = append(left, l[0])
	}
	return usable, left, nil
}

// couponRefs returns the coupons an order's adjustments used.
func couponRefs(o *commerce.Order) []CouponID {
	var ids []CouponID
	for _, a := range o.Adjustments {
		if a.Source != Source {
			continue
		}
		var id CouponID
		if id.UnmarshalText([]byte(a.Ref)) == nil {
			ids = append(ids, id)
		}
	}
	return ids
}

// CheckoutHook redeems the coupons the quote applied, inside the checkout
// transaction, each with one guarded update: of two concurrent checkouts
// naming one coupon, one commits and the other fails with
// ErrCouponUnavailable. Coupons the adjuster picked itself (no selection)
// were locked when picked (see Store.LockValidCoupons), so a concurrent
// checkout takes another coupon, or none, instead of failing. A redeemed coupon that came through a promoter's
// link names the promoter in the order's metadata ("promoter").
func (s *Service) CheckoutHook() commerce.CheckoutHook {
	return commerce.CheckoutHookFunc(func(ctx context.Context, c *commerce.CheckoutContext) error {
		const op = "coupons.redeem"
		now := s.now()
		applied, _ := c.Quote.Extensions[appliedKey].(applied)
		var events []commerce.Event
		for _, id := range couponRefs(c.Order) {
			err := s.store.RedeemCoupon(ctx, c.Order.MerchantID, id, c.Order.CustomerID, c.Order.ID, now)
			if err != nil {
				return wrapErr(op, err)
			}
			cp := applied.find(id)
			if cp == nil {
				if cp, err = s.store.GetCoupon(ctx, c.Order.MerchantID, id); err != nil {
					return wrapErr(op, err)
				}
			}
			cp = cp.Clone()
			cp.Status, cp.OrderID, cp.UsedAt = Used, c.Order.ID, now
			if cp.Promoter != "" {
				if c.Order.Metadata == nil {
					c.Order.Metadata = map[string]string{}
				}
				c.Order.Metadata["promoter"] = cp.Promoter
			}
			var extra jsonenc.Object
			extra.UUID("order_id", c.Order.ID.UUID())
			ev, err := s.event("redeemed", cp, &extra)
			if err != nil {
				return err
			}
			events = append(events, ev)
		}
		if len(events) == 0 {
			return nil
		}
		return s.store.AppendEvents(ctx, events...)
	})
}

// OrderHook gives coupons back: an order cancelled before payment (by the
// customer or its timeout) releases its coupons exactly once; an order
// refunded in full before it shipped returns them to the wallet if they
// are still within their validity. A partial refund keeps them used.
func (s *Service) OrderHook() commerce.OrderHook {
	return commerce.OrderHookFunc(func(ctx context.Context, ch commerce.OrderChange) error {
		const op = "coupons.give_back"
		o := ch.Order
		var event string
		switch {
		case ch.Action == commerce.ActionCancel && o.PaidAt.IsZero():
			event = "released"
		case ch.Action == commerce.ActionRefundOK && o.Status == commerce.StatusRefunded && o.ShippedAt.IsZero():
			event = "returned"
		default:
			return nil
		}
		now := s.now()
		for _, id := range couponRefs(o) {
			cp, err := s.store.GetCoupon(ctx, o.MerchantID, id)
			if err != nil {
				if errors.Is(err, commerce.ErrNotFound) {
					continue
				}
				return wrapErr(op, err)
			}
			if event == "returned" && !now.Before(cp.ValidUntil) {
				continue // past its validity: a refund does not revive it
			}
			ok, err := s.store.ReleaseCoupon(ctx, o.MerchantID, id, o.ID)
			if err != nil {
				return wrapErr(op, err)
			}
			if !ok {
				continue
			}
			cp.Status, cp.OrderID = Valid, commerce.OrderID{}
			var extra jsonenc.Object
			extra.UUID("order_id", o.ID.UUID())
			if err := s.emit(ctx, event, cp, &extra); err != nil {
				return err
			}
		}
		return nil
	})
}
