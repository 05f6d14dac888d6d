package coupons

import (
	"context"

	"github.com/minishop/minishop/commerce"
)

// RefundPolicy is the "reduce" answer to a partial refund that takes an
// order below a coupon's threshold (lesson 9 of the peer lessons: returning
// 5 of 6 items kept a "−10 % over €300" discount). When the units the
// customer keeps no longer meet the threshold of a 满减 (or N-items)
// coupon, the refund holds back the share of that coupon the kept units
// carry: the customer pays for what they keep as if the coupon had not
// applied. Refunding the rest gives the held amount back, so a full refund
// still returns everything paid.
//
// Without it (Config.ReduceRefunds false, the default) refunds follow the
// split stored at checkout: the kept units keep their discount.
func (s *Service) RefundPolicy() commerce.RefundPolicy { return refundPolicy{s} }

type refundPolicy struct{ s *Service }

func (p refundPolicy) Withhold(ctx context.Context, o *commerce.Order) (commerce.Money, error) {
	held := commerce.Zero(o.Currency)
	// The batches of the order's coupons, and which adjustments are
	// order-level coupons (thresholds are checked before those).
	batchOf := map[int]*Batch{}
	var ids []CouponID
	for _, a := range o.Adjustments {
		if a.Source == Source {
			var id CouponID
			if id.UnmarshalText([]byte(a.Ref)) == nil {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return held, nil
	}
	cs, err := p.s.store.GetCoupons(ctx, o.MerchantID, ids)
	if err != nil {
		return held, err
	}
	var bids []BatchID
	couponBatch := map[string]BatchID{}
	for _, c := range cs {
		bids = append(bids, c.BatchID)
		couponBatch[c.ID.String()] = c.BatchID
	}
	bs, err := p.s.store.GetBatches(ctx, o.MerchantID, bids)
	if err != nil {
		return held, err
	}
	byID := map[BatchID]*Batch{}
	for _, b := range bs {
		byID[b.ID] = b
	}
	for k, a := range o.Adjustments {
		if a.Source == Source {
			if b, ok := byID[couponBatch[a.Ref]]; ok {
				batchOf[k] = b
			}
		}
	}
	for k, a := range o.Adjustments {
		b, ok := batchOf[k]
		if !ok || a.Target != commerce.TargetItems || !(minor(b.MinAmount) > 0 || b.MinCount > 0) {
			continue
		}
		var base, count, kept, share int64
		for _, l := range o.Lines {
			left := l.Quantity - l.RefundedQuantity
			kept += left
			if left > 0 && (b.Kind == ExchangePrice || b.Scope.Covers(l.Product, l.SKU)) {
				// What the threshold saw: the line before this coupon and
				// the other order-level coupons.
				lineBase := minor(l.Total)
				for j := 0; j < k; j++ {
					if jb, ok := batchOf[j]; !ok || jb.Level() != OrderLevel {
						lineBase -= minor(l.Adjustments[j])
					}
				}
				base += commerce.MulDivHalfUp(lineBase, left, l.Quantity)
				count += left
			}
			share += minor(l.Adjustments[k]) - minor(l.RefundedAdjustments[k])
		}
		if kept == 0 {
			continue // nothing kept: nothing to hold
		}
		if (minor(b.MinAmount) > 0 && base < minor(b.MinAmount)) || (b.MinCount > 0 && count < b.MinCount) {
			held, _ = held.Add(commerce.FromMinor(share, o.Currency))
		}
	}
	return held, nil
}
