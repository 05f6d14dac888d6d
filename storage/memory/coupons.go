package memory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/coupons"
	"github.com/minishop/minishop/storage"
)

var _ coupons.Store = (*Store)(nil)

// couponTables are the coupons store's records. A batch's Claimed lives in
// claimed, not in the batch record, as the SQL store keeps it in a column of
// its own: only TakeClaim changes it.
type couponTables struct {
	batches  map[coupons.BatchID]*coupons.Batch
	claimed  map[coupons.BatchID]int64
	claims   map[claimKey]int64
	coupons  map[coupons.CouponID]*coupons.Coupon
	requests map[requestKey]coupons.CouponID
	codes    map[string]coupons.Code
	// mine indexes coupons by holder: the wallet and checkout's pricing
	// read a customer's coupons, which must not scan everyone's.
	mine map[commerce.CustomerID]map[coupons.CouponID]bool
}

type claimKey struct {
	batch    coupons.BatchID
	customer commerce.CustomerID
}

type requestKey struct {
	batch    coupons.BatchID
	customer commerce.CustomerID
	request  string
}

func newCouponTables() couponTables {
	return couponTables{
		batches:  map[coupons.BatchID]*coupons.Batch{},
		claimed:  map[coupons.BatchID]int64{},
		claims:   map[claimKey]int64{},
		coupons:  map[coupons.CouponID]*coupons.Coupon{},
		requests: map[requestKey]coupons.CouponID{},
		codes:    map[string]coupons.Code{},
		mine:     map[commerce.CustomerID]map[coupons.CouponID]bool{},
	}
}

// own records that customer holds coupon id (or, with held false, no
// longer does), with undo.
func (s *Store) own(t *tx, customer commerce.CustomerID, id coupons.CouponID, held bool) {
	set := s.cpn.mine[customer]
	if set == nil {
		set = map[coupons.CouponID]bool{}
		s.cpn.mine[customer] = set
	}
	if held {
		put(t, set, id, true)
	} else {
		del(t, set, id)
	}
}

// requestOf returns the idempotency key of c; ok is false for a coupon
// without a RequestID, which claims nothing (as NULL in the SQL store's
// unique index).
func requestOf(c *coupons.Coupon) (requestKey, bool) {
	return requestKey{c.BatchID, c.Customer, c.RequestID}, c.RequestID != ""
}

// batch returns a copy of the merchant's batch with its claim count.
func (s *Store) batch(merchant commerce.MerchantID, id coupons.BatchID) (*coupons.Batch, bool) {
	b, ok := s.cpn.batches[id]
	if !ok || b.MerchantID != merchant {
		return nil, false
	}
	cp := b.Clone()
	cp.Claimed = s.cpn.claimed[id]
	return cp, true
}

// CreateBatch implements coupons.Store.
func (s *Store) CreateBatch(ctx context.Context, b *coupons.Batch) error {
	return s.do(ctx, func(t *tx) error {
		if _, ok := s.cpn.batches[b.ID]; ok {
			return conflict("coupon batch %s exists", b.ID)
		}
		cp := b.Clone()
		cp.Claimed = 0 // claimed holds it
		put(t, s.cpn.batches, b.ID, cp)
		put(t, s.cpn.claimed, b.ID, b.Claimed)
		return nil
	})
}

// GetBatch implements coupons.Store.
func (s *Store) GetBatch(ctx context.Context, merchant commerce.MerchantID, id coupons.BatchID) (*coupons.Batch, error) {
	var out *coupons.Batch
	err := s.do(ctx, func(t *tx) error {
		b, ok := s.batch(merchant, id)
		if !ok {
			return notFound("coupon batch", id)
		}
		out = b
		return nil
	})
	return out, err
}

// GetBatches implements coupons.Store.
func (s *Store) GetBatches(ctx context.Context, merchant commerce.MerchantID, ids []coupons.BatchID) ([]*coupons.Batch, error) {
	var out []*coupons.Batch
	err := s.do(ctx, func(t *tx) error {
		out = each(ids, func(id coupons.BatchID) (*coupons.Batch, bool) { return s.batch(merchant, id) })
		return nil
	})
	return out, err
}

// UpdateBatch implements coupons.Store.
func (s *Store) UpdateBatch(ctx context.Context, merchant commerce.MerchantID, id coupons.BatchID, fn func(*coupons.Batch) error) error {
	return s.do(ctx, func(t *tx) error {
		cp, ok := s.batch(merchant, id)
		if !ok {
			return notFound("coupon batch", id)
		}
		version := cp.Version
		if err := fn(cp); err != nil {
			return err
		}
		cp.ID, cp.MerchantID = id, merchant
		cp.Claimed = 0 // not stored here: claimed holds it
		cp.Version = version + 1
		put(t, s.cpn.batches, id, cp.Clone())
		return nil
	})
}

// ListBatches implements coupons.Store.
func (s *Store) ListBatches(ctx context.Context, merchant commerce.MerchantID, after coupons.BatchID, limit int) ([]*coupons.Batch, error) {
	var out []*coupons.Batch
	err := s.do(ctx, func(t *tx) error {
		var ids []coupons.BatchID
		for id, b := range s.cpn.batches {
			if b.MerchantID == merchant && (after.IsZero() || id.Compare(after) > 0) {
				ids = append(ids, id)
			}
		}
		slices.SortFunc(ids, coupons.BatchID.Compare)
		if n := commerce.PageLimit(limit); len(ids) > n {
			ids = ids[:n]
		}
		for _, id := range ids {
			b, _ := s.batch(merchant, id)
			out = append(out, b)
		}
		return nil
	})
	return out, err
}

// TakeClaim implements coupons.Store: both limits are checked and both
// counters moved under the store's lock.
func (s *Store) TakeClaim(ctx context.Context, merchant commerce.MerchantID, batch coupons.BatchID, customer commerce.CustomerID, perPerson, total int64) error {
	return s.do(ctx, func(t *tx) error {
		if _, ok := s.batch(merchant, batch); !ok {
			return notFound("coupon batch", batch)
		}
		k := claimKey{batch, customer}
		n := s.cpn.claims[k]
		if perPerson > 0 && n >= perPerson {
			return fmt.Errorf("coupon batch %s, customer %q: %w", batch, customer, coupons.ErrLimitReached)
		}
		claimed := s.cpn.claimed[batch]
		if claimed >= total {
			return fmt.Errorf("coupon batch %s: %w", batch, coupons.ErrSoldOut)
		}
		put(t, s.cpn.claims, k, n+1)
		put(t, s.cpn.claimed, batch, claimed+1)
		return nil
	})
}

// InsertCoupon implements coupons.Store.
func (s *Store) InsertCoupon(ctx context.Context, c *coupons.Coupon) error {
	return s.do(ctx, func(t *tx) error {
		if _, ok := s.cpn.coupons[c.ID]; ok {
			return conflict("coupon %s exists", c.ID)
		}
		if k, ok := requestOf(c); ok {
			if _, taken := s.cpn.requests[k]; taken {
				return conflict("coupon of batch %s for %q with request %q exists", c.BatchID, c.Customer, c.RequestID)
			}
			put(t, s.cpn.requests, k, c.ID)
		}
		put(t, s.cpn.coupons, c.ID, c.Clone())
		s.own(t, c.Customer, c.ID, true)
		return nil
	})
}

// coupon returns a copy of the merchant's coupon.
func (s *Store) coupon(merchant commerce.MerchantID, id coupons.CouponID) (*coupons.Coupon, bool) {
	c, ok := s.cpn.coupons[id]
	if !ok || c.MerchantID != merchant {
		return nil, false
	}
	return c.Clone(), true
}

// CouponByRequest implements coupons.Store.
func (s *Store) CouponByRequest(ctx context.Context, merchant commerce.MerchantID, batch coupons.BatchID, customer commerce.CustomerID, requestID string) (*coupons.Coupon, error) {
	var out *coupons.Coupon
	err := s.do(ctx, func(t *tx) error {
		id, ok := s.cpn.requests[requestKey{batch, customer, requestID}]
		if ok {
			out, ok = s.coupon(merchant, id)
		}
		if !ok {
			return fmt.Errorf("coupon of batch %s with request %q: %w", batch, requestID, storage.ErrNotFound)
		}
		return nil
	})
	return out, err
}

// GetCoupon implements coupons.Store.
func (s *Store) GetCoupon(ctx context.Context, merchant commerce.MerchantID, id coupons.CouponID) (*coupons.Coupon, error) {
	var out *coupons.Coupon
	err := s.do(ctx, func(t *tx) error {
		c, ok := s.coupon(merchant, id)
		if !ok {
			return notFound("coupon", id)
		}
		out = c
		return nil
	})
	return out, err
}

// GetCoupons implements coupons.Store.
func (s *Store) GetCoupons(ctx context.Context, merchant commerce.MerchantID, ids []coupons.CouponID) ([]*coupons.Coupon, error) {
	var out []*coupons.Coupon
	err := s.do(ctx, func(t *tx) error {
		out = each(ids, func(id coupons.CouponID) (*coupons.Coupon, bool) { return s.coupon(merchant, id) })
		return nil
	})
	return out, err
}

// GetCandidates implements coupons.Store.
func (s *Store) GetCandidates(ctx context.Context, merchant commerce.MerchantID, ids []coupons.CouponID) ([]coupons.Candidate, error) {
	var out []coupons.Candidate
	err := s.do(ctx, func(t *tx) error {
		for _, c := range each(ids, func(id coupons.CouponID) (*coupons.Coupon, bool) { return s.coupon(merchant, id) }) {
			if b, ok := s.batch(merchant, c.BatchID); ok {
				out = append(out, coupons.Candidate{Coupon: c, Batch: b})
			}
		}
		return nil
	})
	return out, err
}

// WalletCandidates implements coupons.Store.
func (s *Store) WalletCandidates(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, limit int) ([]coupons.Candidate, error) {
	var out []coupons.Candidate
	err := s.do(ctx, func(t *tx) error {
		var cs []*coupons.Coupon
		for id := range s.cpn.mine[customer] {
			if c := s.cpn.coupons[id]; c.MerchantID == merchant && c.Status == coupons.Valid {
				cs = append(cs, c)
			}
		}
		slices.SortFunc(cs, byValidUntil)
		for _, c := range cs[:min(len(cs), commerce.PageLimit(limit))] {
			if b, ok := s.batch(merchant, c.BatchID); ok {
				out = append(out, coupons.Candidate{Coupon: c.Clone(), Batch: b})
			}
		}
		return nil
	})
	return out, err
}

// each looks up every distinct id once, leaving out those get does not find.
func each[K comparable, V any](ids []K, get func(K) (V, bool)) []V {
	var out []V
	seen := make(map[K]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if v, ok := get(id); ok {
			out = append(out, v)
		}
	}
	return out
}

// UpdateCoupon implements coupons.Store.
func (s *Store) UpdateCoupon(ctx context.Context, merchant commerce.MerchantID, id coupons.CouponID, fn func(*coupons.Coupon) error) error {
	return s.do(ctx, func(t *tx) error {
		old, ok := s.cpn.coupons[id]
		if !ok || old.MerchantID != merchant {
			return notFound("coupon", id)
		}
		cp := old.Clone()
		if err := fn(cp); err != nil {
			return err
		}
		cp.ID, cp.MerchantID, cp.BatchID = old.ID, old.MerchantID, old.BatchID
		cp.Version = old.Version + 1
		oldKey, hadKey := requestOf(old)
		newKey, hasKey := requestOf(cp)
		if hasKey && (!hadKey || newKey != oldKey) {
			if _, taken := s.cpn.requests[newKey]; taken {
				return conflict("coupon of batch %s for %q with request %q exists", cp.BatchID, cp.Customer, cp.RequestID)
			}
		}
		if hadKey && (!hasKey || newKey != oldKey) {
			del(t, s.cpn.requests, oldKey)
		}
		if hasKey {
			put(t, s.cpn.requests, newKey, id)
		}
		if cp.Customer != old.Customer {
			s.own(t, old.Customer, id, false)
			s.own(t, cp.Customer, id, true)
		}
		put(t, s.cpn.coupons, id, cp.Clone())
		return nil
	})
}

// byValidUntil orders coupons soonest ValidUntil first (to the microsecond,
// as the SQL store keeps it), then by ID.
func byValidUntil(a, b *coupons.Coupon) int {
	if x, y := a.ValidUntil.UnixMicro(), b.ValidUntil.UnixMicro(); x != y {
		if x < y {
			return -1
		}
		return 1
	}
	return a.ID.Compare(b.ID)
}

// couponsWhere returns up to limit coupons matching keep, soonest
// ValidUntil first.
func (s *Store) couponsWhere(ctx context.Context, limit int, keep func(*coupons.Coupon) bool) ([]*coupons.Coupon, error) {
	var out []*coupons.Coupon
	err := s.do(ctx, func(t *tx) error {
		for _, c := range s.cpn.coupons {
			if keep(c) {
				out = append(out, c)
			}
		}
		slices.SortFunc(out, byValidUntil)
		if n := commerce.PageLimit(limit); len(out) > n {
			out = out[:n]
		}
		for i, c := range out {
			out[i] = c.Clone()
		}
		return nil
	})
	return out, err
}

// CustomerCoupons implements coupons.Store, through the holder index.
func (s *Store) CustomerCoupons(ctx context.Context, customer commerce.CustomerID, status coupons.Status, limit int) ([]*coupons.Coupon, error) {
	var out []*coupons.Coupon
	err := s.do(ctx, func(t *tx) error {
		for id := range s.cpn.mine[customer] {
			if c := s.cpn.coupons[id]; status == "" || c.Status == status {
				out = append(out, c)
			}
		}
		slices.SortFunc(out, byValidUntil)
		if n := commerce.PageLimit(limit); len(out) > n {
			out = out[:n]
		}
		for i, c := range out {
			out[i] = c.Clone()
		}
		return nil
	})
	return out, err
}

// DueCoupons implements coupons.Store.
func (s *Store) DueCoupons(ctx context.Context, before time.Time, unreminded bool, limit int) ([]*coupons.Coupon, error) {
	until := before.UnixMicro()
	return s.couponsWhere(ctx, limit, func(c *coupons.Coupon) bool {
		return c.Status == coupons.Valid && c.ValidUntil.UnixMicro() <= until && (!unreminded || !c.Reminded)
	})
}

// CountGroupCoupons implements coupons.Store.
func (s *Store) CountGroupCoupons(ctx context.Context, merchant commerce.MerchantID, batch coupons.BatchID, customer commerce.CustomerID, group string) (int, error) {
	n := 0
	err := s.do(ctx, func(t *tx) error {
		for _, c := range s.cpn.coupons {
			if c.MerchantID == merchant && c.BatchID == batch && c.Customer == customer && c.Group == group {
				n++
			}
		}
		return nil
	})
	return n, err
}

// LockValidCoupons implements coupons.Store. Transactions run one at a
// time here, so what it returns stays valid for the transaction without a
// lock of its own.
func (s *Store) LockValidCoupons(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, ids []coupons.CouponID) ([]*coupons.Coupon, error) {
	var out []*coupons.Coupon
	err := s.do(ctx, func(t *tx) error {
		out = each(ids, func(id coupons.CouponID) (*coupons.Coupon, bool) {
			c, ok := s.coupon(merchant, id)
			return c, ok && c.Status == coupons.Valid && c.Customer == customer
		})
		slices.SortFunc(out, func(a, b *coupons.Coupon) int { return a.ID.Compare(b.ID) })
		return nil
	})
	return out, err
}

// RedeemCoupon implements coupons.Store.
func (s *Store) RedeemCoupon(ctx context.Context, merchant commerce.MerchantID, id coupons.CouponID, customer commerce.CustomerID, order commerce.OrderID, at time.Time) error {
	return s.do(ctx, func(t *tx) error {
		c, ok := s.coupon(merchant, id)
		if !ok {
			return notFound("coupon", id)
		}
		if c.Status != coupons.Valid || c.Customer != customer {
			return fmt.Errorf("coupon %s: %w", id, coupons.ErrCouponUnavailable)
		}
		c.Status, c.OrderID, c.UsedAt = coupons.Used, order, at
		c.Version++
		put(t, s.cpn.coupons, id, c)
		return nil
	})
}

// ReleaseCoupon implements coupons.Store.
func (s *Store) ReleaseCoupon(ctx context.Context, merchant commerce.MerchantID, id coupons.CouponID, order commerce.OrderID) (bool, error) {
	released := false
	err := s.do(ctx, func(t *tx) error {
		c, ok := s.coupon(merchant, id)
		if !ok || c.Status != coupons.Used || c.OrderID != order {
			return nil
		}
		c.Status, c.OrderID, c.UsedAt = coupons.Valid, commerce.OrderID{}, time.Time{}
		c.Version++
		put(t, s.cpn.coupons, id, c)
		released = true
		return nil
	})
	return released, err
}

// InsertCodes implements coupons.Store.
func (s *Store) InsertCodes(ctx context.Context, codes []coupons.Code) error {
	return s.do(ctx, func(t *tx) error {
		for _, c := range codes {
			if _, ok := s.cpn.codes[c.Code]; ok {
				return conflict("coupon code %q exists", c.Code)
			}
			put(t, s.cpn.codes, c.Code, c)
		}
		return nil
	})
}

// TakeCode implements coupons.Store.
func (s *Store) TakeCode(ctx context.Context, code string, coupon coupons.CouponID) (*coupons.Code, error) {
	var out *coupons.Code
	err := s.do(ctx, func(t *tx) error {
		c, ok := s.cpn.codes[code]
		if !ok {
			return fmt.Errorf("coupon code %q: %w", code, storage.ErrNotFound)
		}
		if !c.CouponID.IsZero() {
			return fmt.Errorf("coupon code %q: %w", code, coupons.ErrCodeUsed)
		}
		c.CouponID = coupon
		put(t, s.cpn.codes, code, c)
		out = &c
		return nil
	})
	return out, err
}
