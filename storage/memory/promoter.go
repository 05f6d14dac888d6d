package memory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/promoter"
	"github.com/minishop/minishop/storage"
)

var _ promoter.Store = (*Store)(nil)

// promoterTables are the promoter store's records: agencies and promoters
// by ID; each merchant's sharers by promoter (the size of a merchant's map
// is its count, which BindSharer checks under the store's lock); plans by
// product; customer locks; commissions by ID, by order line (one commission
// per line of an order, as the SQL store's unique index), and indexed by
// order, by promoter and by agency.
type promoterTables struct {
	agencies    map[promoter.AgencyID]*promoter.Agency
	promoters   map[promoter.PromoterID]*promoter.Promoter
	sharers     map[commerce.MerchantID]map[promoter.PromoterID]promoter.Sharer
	plans       map[planKey]*promoter.Plan
	locks       map[memberKey]customerLock
	commissions map[promoter.CommissionID]*promoter.Commission
	byLine      map[commissionLine]promoter.CommissionID
	byOrder     map[orderRef][]promoter.CommissionID
	byPromoter  map[promoter.PromoterID]map[promoter.CommissionID]bool
	byAgency    map[promoter.AgencyID]map[promoter.CommissionID]bool
}

type planKey struct {
	merchant commerce.MerchantID
	product  commerce.ProductID
}

// customerLock is who a customer is locked to at a merchant, and until when.
type customerLock struct {
	promoter promoter.PromoterID
	until    time.Time
}

type commissionLine struct {
	order orderRef
	line  int
}

func newPromoterTables() promoterTables {
	return promoterTables{
		agencies:    map[promoter.AgencyID]*promoter.Agency{},
		promoters:   map[promoter.PromoterID]*promoter.Promoter{},
		sharers:     map[commerce.MerchantID]map[promoter.PromoterID]promoter.Sharer{},
		plans:       map[planKey]*promoter.Plan{},
		locks:       map[memberKey]customerLock{},
		commissions: map[promoter.CommissionID]*promoter.Commission{},
		byLine:      map[commissionLine]promoter.CommissionID{},
		byOrder:     map[orderRef][]promoter.CommissionID{},
		byPromoter:  map[promoter.PromoterID]map[promoter.CommissionID]bool{},
		byAgency:    map[promoter.AgencyID]map[promoter.CommissionID]bool{},
	}
}

// setOf returns m[k], creating it (an empty set needs no undo).
func setOf[K, V comparable](m map[K]map[V]bool, k K) map[V]bool {
	set := m[k]
	if set == nil {
		set = map[V]bool{}
		m[k] = set
	}
	return set
}

// ---- agencies and promoters ----

// InsertAgency implements promoter.Store.
func (s *Store) InsertAgency(ctx context.Context, a *promoter.Agency) error {
	return s.do(ctx, func(t *tx) error {
		if _, ok := s.prm.agencies[a.ID]; ok {
			return conflict("agency %s exists", a.ID)
		}
		put(t, s.prm.agencies, a.ID, a.Clone())
		return nil
	})
}

// GetAgency implements promoter.Store.
func (s *Store) GetAgency(ctx context.Context, id promoter.AgencyID) (*promoter.Agency, error) {
	var out *promoter.Agency
	err := s.do(ctx, func(t *tx) error {
		a, ok := s.prm.agencies[id]
		if !ok {
			return notFound("agency", id)
		}
		out = a.Clone()
		return nil
	})
	return out, err
}

// UpdateAgency implements promoter.Store: the store's lock is the row lock.
func (s *Store) UpdateAgency(ctx context.Context, id promoter.AgencyID, fn func(*promoter.Agency) error) error {
	return s.do(ctx, func(t *tx) error {
		old, ok := s.prm.agencies[id]
		if !ok {
			return notFound("agency", id)
		}
		cp := old.Clone()
		if err := fn(cp); err != nil {
			return err
		}
		cp.ID, cp.Version = id, old.Version+1
		put(t, s.prm.agencies, id, cp.Clone())
		return nil
	})
}

// InsertPromoter implements promoter.Store.
func (s *Store) InsertPromoter(ctx context.Context, p *promoter.Promoter) error {
	return s.do(ctx, func(t *tx) error {
		if _, ok := s.prm.promoters[p.ID]; ok {
			return conflict("promoter %s exists", p.ID)
		}
		put(t, s.prm.promoters, p.ID, p.Clone())
		return nil
	})
}

// GetPromoter implements promoter.Store.
func (s *Store) GetPromoter(ctx context.Context, id promoter.PromoterID) (*promoter.Promoter, error) {
	var out *promoter.Promoter
	err := s.do(ctx, func(t *tx) error {
		p, ok := s.prm.promoters[id]
		if !ok {
			return notFound("promoter", id)
		}
		out = p.Clone()
		return nil
	})
	return out, err
}

// UpdatePromoter implements promoter.Store: the store's lock is the row lock.
func (s *Store) UpdatePromoter(ctx context.Context, id promoter.PromoterID, fn func(*promoter.Promoter) error) error {
	return s.do(ctx, func(t *tx) error {
		old, ok := s.prm.promoters[id]
		if !ok {
			return notFound("promoter", id)
		}
		cp := old.Clone()
		if err := fn(cp); err != nil {
			return err
		}
		cp.ID, cp.Version = id, old.Version+1
		put(t, s.prm.promoters, id, cp.Clone())
		return nil
	})
}

// ---- sharers ----

// BindSharer implements promoter.Store: the count and the insert happen
// under the store's lock.
func (s *Store) BindSharer(ctx context.Context, sh promoter.Sharer, limit int) error {
	return s.do(ctx, func(t *tx) error {
		bound := s.prm.sharers[sh.MerchantID]
		if _, ok := bound[sh.PromoterID]; ok {
			return conflict("promoter %s is a sharer of merchant %s", sh.PromoterID, sh.MerchantID)
		}
		if len(bound) >= limit {
			return fmt.Errorf("merchant %s has %d sharers: %w", sh.MerchantID, len(bound), promoter.ErrSharerCap)
		}
		if bound == nil {
			bound = map[promoter.PromoterID]promoter.Sharer{}
			s.prm.sharers[sh.MerchantID] = bound
		}
		put(t, bound, sh.PromoterID, sh)
		return nil
	})
}

// UnbindSharer implements promoter.Store. Times compare to the
// microsecond, as the SQL store keeps them.
func (s *Store) UnbindSharer(ctx context.Context, merchant commerce.MerchantID, p promoter.PromoterID, boundBefore time.Time) error {
	return s.do(ctx, func(t *tx) error {
		bound := s.prm.sharers[merchant]
		sh, ok := bound[p]
		if !ok {
			return fmt.Errorf("sharer %s of merchant %s: %w", p, merchant, storage.ErrNotFound)
		}
		if micro(sh.BoundAt, boundBefore) > 0 {
			return fmt.Errorf("sharer %s of merchant %s bound at %s: %w", p, merchant, sh.BoundAt, promoter.ErrTooSoon)
		}
		del(t, bound, p)
		return nil
	})
}

// Sharers implements promoter.Store: oldest binding first (to the
// microsecond), then by promoter ID.
func (s *Store) Sharers(ctx context.Context, merchant commerce.MerchantID) ([]promoter.Sharer, error) {
	var out []promoter.Sharer
	err := s.do(ctx, func(t *tx) error {
		for _, sh := range s.prm.sharers[merchant] {
			out = append(out, sh)
		}
		slices.SortFunc(out, func(a, b promoter.Sharer) int {
			if c := micro(a.BoundAt, b.BoundAt); c != 0 {
				return c
			}
			return a.PromoterID.Compare(b.PromoterID)
		})
		return nil
	})
	return out, err
}

// ---- plans ----

// PutPlan implements promoter.Store: the stored plan's Version is one more
// than the one it replaces (1 for a new plan), and p.Version is set to it.
func (s *Store) PutPlan(ctx context.Context, p *promoter.Plan) error {
	return s.do(ctx, func(t *tx) error {
		k := planKey{p.MerchantID, p.ProductID}
		cp := p.Clone()
		cp.Version = 1
		if old, ok := s.prm.plans[k]; ok {
			cp.Version = old.Version + 1
		}
		put(t, s.prm.plans, k, cp)
		p.Version = cp.Version
		return nil
	})
}

// Plans implements promoter.Store: by product ID.
func (s *Store) Plans(ctx context.Context, merchant commerce.MerchantID, products []commerce.ProductID) ([]*promoter.Plan, error) {
	var out []*promoter.Plan
	err := s.do(ctx, func(t *tx) error {
		out = each(products, func(id commerce.ProductID) (*promoter.Plan, bool) {
			p, ok := s.prm.plans[planKey{merchant, id}]
			if !ok {
				return nil, false
			}
			return p.Clone(), true
		})
		slices.SortFunc(out, func(a, b *promoter.Plan) int { return a.ProductID.Compare(b.ProductID) })
		return nil
	})
	return out, err
}

// ---- customer locks ----

// LockCustomer implements promoter.Store under the store's lock. A lock
// holds while now is before its end, to the microsecond.
func (s *Store) LockCustomer(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, p promoter.PromoterID, now, until time.Time) (promoter.PromoterID, error) {
	var out promoter.PromoterID
	err := s.do(ctx, func(t *tx) error {
		k := memberKey{merchant, customer}
		if l, ok := s.prm.locks[k]; ok && micro(l.until, now) > 0 {
			out = l.promoter
			return nil
		}
		put(t, s.prm.locks, k, customerLock{p, until})
		out = p
		return nil
	})
	return out, err
}

// ---- commissions ----

// InsertCommissions implements promoter.Store: every commission is checked
// before any is written, so a conflict writes nothing even inside a
// transaction that goes on.
func (s *Store) InsertCommissions(ctx context.Context, cs []*promoter.Commission) error {
	return s.do(ctx, func(t *tx) error {
		ids := make(map[promoter.CommissionID]bool, len(cs))
		lines := make(map[commissionLine]bool, len(cs))
		for _, c := range cs {
			k := commissionLine{orderRef{c.MerchantID, c.OrderID}, c.Line}
			if _, ok := s.prm.commissions[c.ID]; ok || ids[c.ID] {
				return conflict("commission %s exists", c.ID)
			}
			if _, ok := s.prm.byLine[k]; ok || lines[k] {
				return conflict("line %d of order %s has a commission", c.Line, c.OrderID)
			}
			ids[c.ID], lines[k] = true, true
		}
		for _, c := range cs {
			put(t, s.prm.commissions, c.ID, c.Clone())
			put(t, s.prm.byLine, commissionLine{orderRef{c.MerchantID, c.OrderID}, c.Line}, c.ID)
			appendTo(t, s.prm.byOrder, orderRef{c.MerchantID, c.OrderID}, c.ID)
			s.indexCommission(t, c, true)
		}
		return nil
	})
}

// indexCommission adds c to (or, with in false, removes it from) the
// promoter and agency indexes, with undo.
func (s *Store) indexCommission(t *tx, c *promoter.Commission, in bool) {
	sets := []map[promoter.CommissionID]bool{setOf(s.prm.byPromoter, c.PromoterID)}
	if !c.AgencyID.IsZero() {
		sets = append(sets, setOf(s.prm.byAgency, c.AgencyID))
	}
	for _, set := range sets {
		if in {
			put(t, set, c.ID, true)
		} else {
			del(t, set, c.ID)
		}
	}
}

// byCreated orders commissions oldest first (to the microsecond), then by ID.
func byCreated(a, b *promoter.Commission) int {
	if c := micro(a.Created, b.Created); c != 0 {
		return c
	}
	return a.ID.Compare(b.ID)
}

// OrderCommissions implements promoter.Store.
func (s *Store) OrderCommissions(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID) ([]*promoter.Commission, error) {
	var out []*promoter.Commission
	err := s.do(ctx, func(t *tx) error {
		for _, id := range s.prm.byOrder[orderRef{merchant, order}] {
			out = append(out, s.prm.commissions[id].Clone())
		}
		slices.SortFunc(out, func(a, b *promoter.Commission) int { return a.Line - b.Line })
		return nil
	})
	return out, err
}

// UpdateCommission implements promoter.Store: the store's lock is the row
// lock. The identity (ID, merchant, order, line) is kept whatever fn does.
func (s *Store) UpdateCommission(ctx context.Context, merchant commerce.MerchantID, id promoter.CommissionID, fn func(*promoter.Commission) error) error {
	return s.do(ctx, func(t *tx) error {
		old, ok := s.prm.commissions[id]
		if !ok || old.MerchantID != merchant {
			return notFound("commission", id)
		}
		cp := old.Clone()
		if err := fn(cp); err != nil {
			return err
		}
		cp.ID, cp.MerchantID, cp.OrderID, cp.Line = old.ID, old.MerchantID, old.OrderID, old.Line
		cp.Version = old.Version + 1
		if cp.PromoterID != old.PromoterID || cp.AgencyID != old.AgencyID {
			s.indexCommission(t, old, false)
			s.indexCommission(t, cp, true)
		}
		put(t, s.prm.commissions, id, cp.Clone())
		return nil
	})
}

// Commissions implements promoter.Store, through the promoter or agency
// index: the range sorted by (created, ID), after the cursor's place in
// that order.
func (s *Store) Commissions(ctx context.Context, q promoter.CommissionQuery) ([]*promoter.Commission, error) {
	if q.Promoter.IsZero() == q.Agency.IsZero() {
		return nil, commerce.Invalid("promoter.commissions", "promoter", "want a promoter or an agency, not both or neither")
	}
	limit := commerce.PageLimit(q.Limit)
	var out []*promoter.Commission
	err := s.do(ctx, func(t *tx) error {
		var after *promoter.Commission
		if !q.After.IsZero() {
			c, ok := s.prm.commissions[q.After]
			if !ok {
				return notFound("commission", q.After)
			}
			after = c
		}
		set := s.prm.byPromoter[q.Promoter]
		if q.Promoter.IsZero() {
			set = s.prm.byAgency[q.Agency]
		}
		for id := range set {
			c := s.prm.commissions[id]
			if micro(c.Created, q.From) >= 0 && micro(c.Created, q.To) < 0 && (after == nil || byCreated(c, after) > 0) {
				out = append(out, c)
			}
		}
		slices.SortFunc(out, byCreated)
		out = out[:min(len(out), limit)]
		for i, c := range out {
			out[i] = c.Clone()
		}
		return nil
	})
	return out, err
}
