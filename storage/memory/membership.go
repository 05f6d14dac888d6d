package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/membership"
	"github.com/minishop/minishop/storage"
)

var _ membership.Store = (*Store)(nil)

// memberTables are the membership store's records. A program's NextNumber
// lives in nextNumber, not in the program record, as the SQL store keeps it
// in a column of its own: only TakeMemberNumber changes it. Lots and entries
// are also indexed by member and by order.
type memberTables struct {
	programs   map[commerce.MerchantID]*membership.Program
	nextNumber map[commerce.MerchantID]int64
	members    map[memberKey]*membership.Member

	lots        map[membership.LotID]*membership.Lot
	memberLots  map[memberKey][]membership.LotID
	orderLots   map[orderRef][]membership.LotID
	entries     map[membership.EntryID]*membership.Entry
	memberLog   map[memberKey][]membership.EntryID
	orderLog    map[orderRef][]membership.EntryID
	entryByReqs map[entryRequest]membership.EntryID
}

type memberKey struct {
	merchant commerce.MerchantID
	customer commerce.CustomerID
}

type orderRef struct {
	merchant commerce.MerchantID
	order    commerce.OrderID
}

type entryRequest struct {
	member  memberKey
	request string
}

func newMemberTables() memberTables {
	return memberTables{
		programs:    map[commerce.MerchantID]*membership.Program{},
		nextNumber:  map[commerce.MerchantID]int64{},
		members:     map[memberKey]*membership.Member{},
		lots:        map[membership.LotID]*membership.Lot{},
		memberLots:  map[memberKey][]membership.LotID{},
		orderLots:   map[orderRef][]membership.LotID{},
		entries:     map[membership.EntryID]*membership.Entry{},
		memberLog:   map[memberKey][]membership.EntryID{},
		orderLog:    map[orderRef][]membership.EntryID{},
		entryByReqs: map[entryRequest]membership.EntryID{},
	}
}

// appendTo appends v to m[k] and logs how to undo it. The slice stored
// before stays valid: an append never changes the elements it covers.
func appendTo[K comparable, V any](t *tx, m map[K][]V, k K, v V) {
	put(t, m, k, append(m[k], v))
}

func cloneMember(m *membership.Member) *membership.Member {
	cp := *m
	return &cp
}

func cloneLot(l *membership.Lot) *membership.Lot {
	cp := *l
	return &cp
}

func cloneEntry(e *membership.Entry) *membership.Entry {
	cp := *e
	cp.Burns = slices.Clone(e.Burns)
	return &cp
}

// PutProgram implements membership.Store.
func (s *Store) PutProgram(ctx context.Context, p *membership.Program) error {
	return s.do(ctx, func(t *tx) error {
		cp := p.Clone()
		cp.NextNumber = 0 // nextNumber holds it
		put(t, s.mbr.programs, p.MerchantID, cp)
		if _, ok := s.mbr.nextNumber[p.MerchantID]; !ok {
			put(t, s.mbr.nextNumber, p.MerchantID, max(1, p.NextNumber))
		}
		return nil
	})
}

// GetProgram implements membership.Store.
func (s *Store) GetProgram(ctx context.Context, merchant commerce.MerchantID) (*membership.Program, error) {
	var out *membership.Program
	err := s.do(ctx, func(t *tx) error {
		p, ok := s.mbr.programs[merchant]
		if !ok {
			return notFound("membership program of merchant", merchant)
		}
		out = p.Clone()
		out.NextNumber = s.mbr.nextNumber[merchant]
		return nil
	})
	return out, err
}

// TakeMemberNumber implements membership.Store.
func (s *Store) TakeMemberNumber(ctx context.Context, merchant commerce.MerchantID) (int64, error) {
	var n int64
	err := s.do(ctx, func(t *tx) error {
		if _, ok := s.mbr.programs[merchant]; !ok {
			return notFound("membership program of merchant", merchant)
		}
		n = s.mbr.nextNumber[merchant]
		put(t, s.mbr.nextNumber, merchant, n+1)
		return nil
	})
	return n, err
}

// CreateMember implements membership.Store.
func (s *Store) CreateMember(ctx context.Context, m *membership.Member) error {
	return s.do(ctx, func(t *tx) error {
		k := memberKey{m.MerchantID, m.Customer}
		if _, ok := s.mbr.members[k]; ok {
			return conflict("member %q of merchant %s exists", m.Customer, m.MerchantID)
		}
		put(t, s.mbr.members, k, cloneMember(m))
		return nil
	})
}

// memberNotFound is the error for a customer who is not a member. Pricing
// asks for every buyer's card and most buyers have none, so the message is
// formatted only when someone reads it.
func memberNotFound(merchant commerce.MerchantID, customer commerce.CustomerID) error {
	return &missingMember{merchant, customer}
}

type missingMember memberKey

func (e *missingMember) Error() string {
	return fmt.Sprintf("member %q of merchant %s: %v", e.customer, e.merchant, storage.ErrNotFound)
}

func (e *missingMember) Unwrap() error { return storage.ErrNotFound }

// GetMember implements membership.Store.
func (s *Store) GetMember(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID) (*membership.Member, error) {
	var out *membership.Member
	err := s.do(ctx, func(t *tx) error {
		m, ok := s.mbr.members[memberKey{merchant, customer}]
		if !ok {
			return memberNotFound(merchant, customer)
		}
		out = cloneMember(m)
		return nil
	})
	return out, err
}

// UpdateMember implements membership.Store: the store's lock is the
// member's row lock.
func (s *Store) UpdateMember(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, fn func(*membership.Member) error) error {
	return s.do(ctx, func(t *tx) error {
		k := memberKey{merchant, customer}
		old, ok := s.mbr.members[k]
		if !ok {
			return memberNotFound(merchant, customer)
		}
		cp := cloneMember(old)
		if err := fn(cp); err != nil {
			return err
		}
		cp.MerchantID, cp.Customer, cp.Number = old.MerchantID, old.Customer, old.Number
		cp.Version = old.Version + 1
		put(t, s.mbr.members, k, cloneMember(cp))
		return nil
	})
}

// ProgramAndMember implements membership.Store.
func (s *Store) ProgramAndMember(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, lots bool) (*membership.Program, *membership.Member, []*membership.Lot, error) {
	var p *membership.Program
	var m *membership.Member
	var ls []*membership.Lot
	err := s.do(ctx, func(t *tx) error {
		pr, ok := s.mbr.programs[merchant]
		if !ok {
			return notFound("membership program of merchant", merchant)
		}
		p = pr.Clone()
		p.NextNumber = s.mbr.nextNumber[merchant]
		if mm, ok := s.mbr.members[memberKey{merchant, customer}]; ok {
			m = cloneMember(mm)
		}
		if lots {
			ls = s.lotsOf(s.mbr.memberLots[memberKey{merchant, customer}], openLot, byExpiry)
			if ls == nil {
				ls = []*membership.Lot{}
			}
		}
		return nil
	})
	return p, m, ls, err
}

// SaveMember implements membership.Store.
func (s *Store) SaveMember(ctx context.Context, m *membership.Member) (bool, error) {
	saved := false
	err := s.do(ctx, func(t *tx) error {
		k := memberKey{m.MerchantID, m.Customer}
		old, ok := s.mbr.members[k]
		if !ok || old.Version != m.Version {
			return nil
		}
		cp := cloneMember(m)
		cp.Number, cp.Version = old.Number, old.Version+1
		put(t, s.mbr.members, k, cp)
		m.Version, saved = cp.Version, true
		return nil
	})
	return saved, err
}

// DueReviews implements membership.Store.
func (s *Store) DueReviews(ctx context.Context, before time.Time, limit int) ([]*membership.Member, error) {
	var out []*membership.Member
	err := s.do(ctx, func(t *tx) error {
		for _, m := range s.mbr.members {
			if !m.NextReview.IsZero() && micro(m.NextReview, before) <= 0 {
				out = append(out, m)
			}
		}
		slices.SortFunc(out, func(a, b *membership.Member) int {
			if c := micro(a.NextReview, b.NextReview); c != 0 {
				return c
			}
			if c := a.MerchantID.Compare(b.MerchantID); c != 0 {
				return c
			}
			return strings.Compare(string(a.Customer), string(b.Customer))
		})
		if n := commerce.PageLimit(limit); len(out) > n {
			out = out[:n]
		}
		for i, m := range out {
			out[i] = cloneMember(m)
		}
		return nil
	})
	return out, err
}

// ListMembers implements membership.Store.
func (s *Store) ListMembers(ctx context.Context, merchant commerce.MerchantID, after commerce.CustomerID, limit int) ([]*membership.Member, error) {
	var out []*membership.Member
	err := s.do(ctx, func(t *tx) error {
		for k, m := range s.mbr.members {
			if k.merchant == merchant && k.customer > after {
				out = append(out, m)
			}
		}
		slices.SortFunc(out, func(a, b *membership.Member) int {
			switch {
			case a.Customer < b.Customer:
				return -1
			case a.Customer > b.Customer:
				return 1
			}
			return 0
		})
		if n := commerce.PageLimit(limit); len(out) > n {
			out = out[:n]
		}
		for i, m := range out {
			out[i] = cloneMember(m)
		}
		return nil
	})
	return out, err
}

// InsertLot implements membership.Store.
func (s *Store) InsertLot(ctx context.Context, l *membership.Lot) error {
	return s.do(ctx, func(t *tx) error {
		if _, ok := s.mbr.lots[l.ID]; ok {
			return conflict("points lot %s exists", l.ID)
		}
		put(t, s.mbr.lots, l.ID, cloneLot(l))
		appendTo(t, s.mbr.memberLots, memberKey{l.MerchantID, l.Customer}, l.ID)
		if !l.OrderID.IsZero() {
			appendTo(t, s.mbr.orderLots, orderRef{l.MerchantID, l.OrderID}, l.ID)
		}
		return nil
	})
}

// SaveLots implements membership.Store.
func (s *Store) SaveLots(ctx context.Context, lots ...*membership.Lot) error {
	return s.do(ctx, func(t *tx) error {
		for _, l := range lots {
			old, ok := s.mbr.lots[l.ID]
			if !ok || old.MerchantID != l.MerchantID {
				return notFound("points lot", l.ID)
			}
			cp := cloneLot(old)
			cp.Left, cp.Pending, cp.Expired, cp.Reminded, cp.ExpiresAt = l.Left, l.Pending, l.Expired, l.Reminded, l.ExpiresAt
			put(t, s.mbr.lots, l.ID, cp)
		}
		return nil
	})
}

// micro compares times to the microsecond, as the SQL store keeps them.
func micro(a, b time.Time) int {
	x, y := a.UnixMicro(), b.UnixMicro()
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// byExpiry orders lots earliest expiry first, lots that never expire last,
// then oldest first, then by ID.
func byExpiry(a, b *membership.Lot) int {
	if az, bz := a.ExpiresAt.IsZero(), b.ExpiresAt.IsZero(); az != bz {
		if az {
			return 1
		}
		return -1
	}
	if c := micro(a.ExpiresAt, b.ExpiresAt); c != 0 {
		return c
	}
	if c := micro(a.Created, b.Created); c != 0 {
		return c
	}
	return a.ID.Compare(b.ID)
}

func openLot(l *membership.Lot) bool { return l.Left > 0 && !l.Pending && !l.Expired }

// lotsOf returns copies of the lots ids name that keep allows, in order.
func (s *Store) lotsOf(ids []membership.LotID, keep func(*membership.Lot) bool, order func(a, b *membership.Lot) int) []*membership.Lot {
	var out []*membership.Lot
	for _, id := range ids {
		if l := s.mbr.lots[id]; keep(l) {
			out = append(out, cloneLot(l))
		}
	}
	slices.SortFunc(out, order)
	return out
}

// MemberLots implements membership.Store.
func (s *Store) MemberLots(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, open bool) ([]*membership.Lot, error) {
	var out []*membership.Lot
	err := s.do(ctx, func(t *tx) error {
		out = s.lotsOf(s.mbr.memberLots[memberKey{merchant, customer}],
			func(l *membership.Lot) bool { return !open || openLot(l) }, byExpiry)
		return nil
	})
	return out, err
}

// OrderLots implements membership.Store.
func (s *Store) OrderLots(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID, also ...membership.LotID) ([]*membership.Lot, error) {
	var out []*membership.Lot
	err := s.do(ctx, func(t *tx) error {
		ids := s.mbr.orderLots[orderRef{merchant, order}]
		for _, id := range also {
			if l, ok := s.mbr.lots[id]; ok && l.MerchantID == merchant && l.OrderID != order && !slices.Contains(ids, id) {
				ids = append(slices.Clip(ids), id)
			}
		}
		out = s.lotsOf(ids, func(*membership.Lot) bool { return true }, byExpiry)
		return nil
	})
	return out, err
}

// DueLots implements membership.Store.
func (s *Store) DueLots(ctx context.Context, before time.Time, unreminded bool, limit int) ([]*membership.Lot, error) {
	var out []*membership.Lot
	err := s.do(ctx, func(t *tx) error {
		for _, l := range s.mbr.lots {
			if openLot(l) && !l.ExpiresAt.IsZero() && micro(l.ExpiresAt, before) <= 0 && !(unreminded && l.Reminded) {
				out = append(out, l)
			}
		}
		slices.SortFunc(out, func(a, b *membership.Lot) int {
			if c := micro(a.ExpiresAt, b.ExpiresAt); c != 0 {
				return c
			}
			return a.ID.Compare(b.ID)
		})
		if n := commerce.PageLimit(limit); len(out) > n {
			out = out[:n]
		}
		for i, l := range out {
			out[i] = cloneLot(l)
		}
		return nil
	})
	return out, err
}

// AppendEntry implements membership.Store. An entry without a RequestID
// claims nothing (as NULL in the SQL store's unique index).
func (s *Store) AppendEntry(ctx context.Context, es ...*membership.Entry) error {
	return s.do(ctx, func(t *tx) error {
		for _, e := range es {
			if err := s.appendEntry(t, e); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) appendEntry(t *tx, e *membership.Entry) error {
	if _, ok := s.mbr.entries[e.ID]; ok {
		return conflict("points entry %s exists", e.ID)
	}
	k := memberKey{e.MerchantID, e.Customer}
	if e.RequestID != "" {
		rk := entryRequest{k, e.RequestID}
		if _, taken := s.mbr.entryByReqs[rk]; taken {
			return conflict("points entry of %q with request %q exists", e.Customer, e.RequestID)
		}
		put(t, s.mbr.entryByReqs, rk, e.ID)
	}
	put(t, s.mbr.entries, e.ID, cloneEntry(e))
	appendTo(t, s.mbr.memberLog, k, e.ID)
	if !e.OrderID.IsZero() {
		appendTo(t, s.mbr.orderLog, orderRef{e.MerchantID, e.OrderID}, e.ID)
	}
	return nil
}

// EntryByRequest implements membership.Store.
func (s *Store) EntryByRequest(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, requestID string) (*membership.Entry, error) {
	var out *membership.Entry
	err := s.do(ctx, func(t *tx) error {
		id, ok := s.mbr.entryByReqs[entryRequest{memberKey{merchant, customer}, requestID}]
		if !ok || requestID == "" {
			return fmt.Errorf("points entry of %q with request %q: %w", customer, requestID, storage.ErrNotFound)
		}
		out = cloneEntry(s.mbr.entries[id])
		return nil
	})
	return out, err
}

// entriesOf returns copies of the entries ids name after after, by ID.
func (s *Store) entriesOf(ids []membership.EntryID, after membership.EntryID) []*membership.Entry {
	var out []*membership.Entry
	for _, id := range ids {
		if after.IsZero() || id.Compare(after) > 0 {
			out = append(out, s.mbr.entries[id])
		}
	}
	slices.SortFunc(out, func(a, b *membership.Entry) int { return a.ID.Compare(b.ID) })
	return out
}

// Entries implements membership.Store.
func (s *Store) Entries(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, after membership.EntryID, limit int) ([]*membership.Entry, error) {
	var out []*membership.Entry
	err := s.do(ctx, func(t *tx) error {
		out = s.entriesOf(s.mbr.memberLog[memberKey{merchant, customer}], after)
		if n := commerce.PageLimit(limit); len(out) > n {
			out = out[:n]
		}
		for i, e := range out {
			out[i] = cloneEntry(e)
		}
		return nil
	})
	return out, err
}

// OrderEntries implements membership.Store.
func (s *Store) OrderEntries(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID) ([]*membership.Entry, error) {
	var out []*membership.Entry
	err := s.do(ctx, func(t *tx) error {
		out = s.entriesOf(s.mbr.orderLog[orderRef{merchant, order}], membership.EntryID{})
		for i, e := range out {
			out[i] = cloneEntry(e)
		}
		return nil
	})
	return out, err
}
