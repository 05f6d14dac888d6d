package memory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/gifting"
	"github.com/minishop/minishop/storage"
)

var _ gifting.Store = (*Store)(nil)

// giftTables are the gifting store's records: gifts by ID, and by order
// (one gift per order of a merchant, as the SQL store's unique index); the
// slots of group gifts by gift, indexed by line, and the line each claimer
// holds (one slot per claimer of a gift, as the SQL store's unique index).
type giftTables struct {
	gifts   map[gifting.GiftID]*gifting.Gift
	byOrder map[orderRef]gifting.GiftID
	slots   map[gifting.GiftID][]gifting.Slot
	claims  map[slotClaim]int
}

// slotClaim keys the claimer index: a claimer of a gift.
type slotClaim struct {
	gift    gifting.GiftID
	claimer commerce.CustomerID
}

func newGiftTables() giftTables {
	return giftTables{
		gifts:   map[gifting.GiftID]*gifting.Gift{},
		byOrder: map[orderRef]gifting.GiftID{},
		slots:   map[gifting.GiftID][]gifting.Slot{},
		claims:  map[slotClaim]int{},
	}
}

// cloneSlot returns a copy of sl that shares nothing with it.
func cloneSlot(sl gifting.Slot) gifting.Slot {
	if sl.Address != nil {
		a := *sl.Address
		sl.Address = &a
	}
	return sl
}

// InsertGift implements gifting.Store.
func (s *Store) InsertGift(ctx context.Context, g *gifting.Gift) error {
	return s.do(ctx, func(t *tx) error {
		if _, ok := s.gft.gifts[g.ID]; ok {
			return conflict("gift %s exists", g.ID)
		}
		k := orderRef{g.MerchantID, g.OrderID}
		if _, ok := s.gft.byOrder[k]; ok {
			return conflict("order %s has a gift", g.OrderID)
		}
		put(t, s.gft.gifts, g.ID, g.Clone())
		put(t, s.gft.byOrder, k, g.ID)
		if g.Slots > 0 {
			slots := make([]gifting.Slot, g.Slots)
			for i := range slots {
				slots[i].Line = i
			}
			put(t, s.gft.slots, g.ID, slots)
		}
		return nil
	})
}

// gift returns the merchant's gift, uncopied.
func (s *Store) gift(merchant commerce.MerchantID, id gifting.GiftID) (*gifting.Gift, bool) {
	g, ok := s.gft.gifts[id]
	if !ok || g.MerchantID != merchant {
		return nil, false
	}
	return g, true
}

// GetGift implements gifting.Store.
func (s *Store) GetGift(ctx context.Context, merchant commerce.MerchantID, id gifting.GiftID) (*gifting.Gift, error) {
	var out *gifting.Gift
	err := s.do(ctx, func(t *tx) error {
		g, ok := s.gift(merchant, id)
		if !ok {
			return notFound("gift", id)
		}
		out = g.Clone()
		return nil
	})
	return out, err
}

// GiftByOrder implements gifting.Store.
func (s *Store) GiftByOrder(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID) (*gifting.Gift, error) {
	var out *gifting.Gift
	err := s.do(ctx, func(t *tx) error {
		id, ok := s.gft.byOrder[orderRef{merchant, order}]
		if !ok {
			return fmt.Errorf("gift of order %s: %w", order, storage.ErrNotFound)
		}
		out = s.gft.gifts[id].Clone()
		return nil
	})
	return out, err
}

// ListGifts implements gifting.Store. The memory store scans its gifts:
// it holds one process's test or demo data, not a shop's history.
func (s *Store) ListGifts(ctx context.Context, merchant commerce.MerchantID, q gifting.GiftQuery) ([]*gifting.Gift, error) {
	var out []*gifting.Gift
	err := s.do(ctx, func(t *tx) error {
		for id, g := range s.gft.gifts {
			if g.MerchantID != merchant || id.Compare(q.After) <= 0 {
				continue
			}
			_, holds := s.gft.claims[slotClaim{id, q.Recipient}]
			switch {
			case q.Giver != "" && g.Giver == q.Giver,
				q.Recipient != "" && (g.Recipient == q.Recipient || holds):
				out = append(out, g)
			}
		}
		slices.SortFunc(out, func(a, b *gifting.Gift) int { return a.ID.Compare(b.ID) })
		if limit := commerce.PageLimit(q.Limit); len(out) > limit {
			out = out[:limit]
		}
		for i, g := range out {
			out[i] = g.Clone()
		}
		return nil
	})
	return out, err
}

// UpdateGift implements gifting.Store: the store's lock is the gift's row
// lock. The identity (ID, merchant, order, giver) is kept whatever fn does.
func (s *Store) UpdateGift(ctx context.Context, merchant commerce.MerchantID, id gifting.GiftID, fn func(*gifting.Gift) error) error {
	return s.do(ctx, func(t *tx) error {
		old, ok := s.gift(merchant, id)
		if !ok {
			return notFound("gift", id)
		}
		cp := old.Clone()
		if err := fn(cp); err != nil {
			return err
		}
		cp.ID, cp.MerchantID, cp.OrderID, cp.Giver = old.ID, old.MerchantID, old.OrderID, old.Giver
		cp.Version = old.Version + 1
		put(t, s.gft.gifts, id, cp.Clone())
		return nil
	})
}

// giftDue is DueGifts' filter: sent and expiring at or before before, or
// expired and not yet refunded.
func giftDue(g *gifting.Gift, before time.Time) bool {
	switch g.Status {
	case gifting.Sent:
		return !g.ExpiresAt.IsZero() && micro(g.ExpiresAt, before) <= 0
	case gifting.Expired:
		return !g.Refunded
	}
	return false
}

// DueGifts implements gifting.Store: soonest expiry first (a gift without
// one, which the SQL store keeps as NULL, first of all), then by ID.
func (s *Store) DueGifts(ctx context.Context, before time.Time, limit int) ([]*gifting.Gift, error) {
	var out []*gifting.Gift
	err := s.do(ctx, func(t *tx) error {
		for _, g := range s.gft.gifts {
			if giftDue(g, before) {
				out = append(out, g)
			}
		}
		slices.SortFunc(out, func(a, b *gifting.Gift) int {
			if as, bs := a.Status == gifting.Sent, b.Status == gifting.Sent; as != bs {
				if as {
					return -1
				}
				return 1
			}
			if az, bz := a.ExpiresAt.IsZero(), b.ExpiresAt.IsZero(); az != bz {
				if az {
					return -1
				}
				return 1
			}
			if c := micro(a.ExpiresAt, b.ExpiresAt); c != 0 {
				return c
			}
			return a.ID.Compare(b.ID)
		})
		if n := commerce.PageLimit(limit); len(out) > n {
			out = out[:n]
		}
		for i, g := range out {
			out[i] = g.Clone()
		}
		return nil
	})
	return out, err
}

// ClaimSlot implements gifting.Store: the store's lock stands for the SQL
// stores' shared lock on the gift row and the slot's row lock. check sees a
// copy of the gift; the slots of a gift never change length, so a claim
// writes its line in place and logs how to free it again.
func (s *Store) ClaimSlot(ctx context.Context, merchant commerce.MerchantID, id gifting.GiftID, claimer commerce.CustomerID, addr commerce.Address, at time.Time, check func(*gifting.Gift) error) (gifting.Slot, int, error) {
	var out gifting.Slot
	free := 0
	if claimer == "" {
		return gifting.Slot{}, 0, commerce.Errorf("memory.claim_slot", commerce.KindInvalid, "gift %s: empty claimer", id)
	}
	err := s.do(ctx, func(t *tx) error {
		g, ok := s.gift(merchant, id)
		if !ok {
			return notFound("gift", id)
		}
		if err := check(g.Clone()); err != nil {
			return err
		}
		k := slotClaim{id, claimer}
		if line, ok := s.gft.claims[k]; ok {
			return fmt.Errorf("gift %s: %q holds slot %d: %w", id, claimer, line, gifting.ErrAlreadyClaimed)
		}
		slots := s.gft.slots[id]
		line := slices.IndexFunc(slots, func(sl gifting.Slot) bool { return sl.Claimer == "" })
		if line < 0 {
			return fmt.Errorf("gift %s: %w", id, gifting.ErrNoSlot)
		}
		old := slots[line]
		slots[line] = gifting.Slot{Line: line, Claimer: claimer, Address: &addr, ClaimedAt: at}
		t.undo = append(t.undo, func() { slots[line] = old })
		put(t, s.gft.claims, k, line)
		for _, sl := range slots[line+1:] {
			if sl.Claimer == "" {
				free++
			}
		}
		out = cloneSlot(slots[line])
		return nil
	})
	if err != nil {
		return gifting.Slot{}, 0, err
	}
	return out, free, nil
}

// GiftSlots implements gifting.Store.
func (s *Store) GiftSlots(ctx context.Context, merchant commerce.MerchantID, id gifting.GiftID) ([]gifting.Slot, error) {
	var out []gifting.Slot
	err := s.do(ctx, func(t *tx) error {
		if _, ok := s.gift(merchant, id); !ok {
			return notFound("gift", id)
		}
		for _, sl := range s.gft.slots[id] {
			out = append(out, cloneSlot(sl))
		}
		return nil
	})
	return out, err
}
