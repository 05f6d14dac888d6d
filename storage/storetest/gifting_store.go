package storetest

// Direct tests of the gifting store contract, below the service: one gift
// per order, the gift row lock that lets exactly one of acceptance and
// expiry win, and the due list RunDue works from. Run from Run as
// "GiftingStore".

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/gifting"
	"github.com/minishop/minishop/storage"
)

// blessing is a message of the longest allowed length, 100 characters, with
// multi-byte runes, an emoji and characters JSON escapes.
var blessing = func() string {
	r := []rune(strings.Repeat("祝你生日快乐🎂 \"岁岁平安\" \\ ✨ ", 10))[:99]
	return string(r) + "🎁"
}()

func fullGift(merchant commerce.MerchantID) *gifting.Gift {
	return &gifting.Gift{
		ID:         newID[gifting.GiftID](),
		MerchantID: merchant,
		OrderID:    newID[commerce.OrderID](),
		Giver:      "送礼人-甲",
		GiverName:  "小明 \"Ming\" \\ 🎈",
		Message:    blessing,
		Status:     gifting.Sent,
		Lifetime:   24*time.Hour + 30*time.Minute,
		ExpiresAt:  t0.Add(24*time.Hour + 7*time.Microsecond),
		Recipient:  "收礼人-乙",
		Refunded:   true,
		Opened:     true,
		Created:    t0,
		SentAt:     t0.Add(time.Minute + time.Microsecond),
		AcceptedAt: t0.Add(2*time.Hour + 3*time.Microsecond),
		ExpiredAt:  t0.Add(25*time.Hour + 999999*time.Microsecond),
		Version:    3,
	}
}

// unpaidGift is a gift as the service first stores it: not sent, so no
// expiry, no recipient.
func unpaidGift(merchant commerce.MerchantID) *gifting.Gift {
	return &gifting.Gift{
		ID: newID[gifting.GiftID](), MerchantID: merchant, OrderID: newID[commerce.OrderID](),
		Giver: "送礼人", GiverName: "Giver", Message: "生日快乐", Status: gifting.Unpaid,
		Lifetime: 24 * time.Hour, Created: t0, Version: 1,
	}
}

func giftIDs(gs []*gifting.Gift) []gifting.GiftID {
	var out []gifting.GiftID
	for _, g := range gs {
		out = append(out, g.ID)
	}
	return out
}

// sameGift asserts that got is want, every field, times to the microsecond.
func sameGift(t *testing.T, want, got *gifting.Gift, msg ...any) {
	t.Helper()
	assert.Equal(t, asJSON(t, want), asJSON(t, got), msg...)
	for _, p := range [][2]time.Time{
		{want.ExpiresAt, got.ExpiresAt}, {want.Created, got.Created}, {want.SentAt, got.SentAt},
		{want.AcceptedAt, got.AcceptedAt}, {want.ExpiredAt, got.ExpiredAt},
	} {
		assert.True(t, p[0].Equal(p[1]), "%s != %s %v", p[0], p[1], msg)
	}
}

// groupGift is a sent group gift of slots units, open for claims until a
// day after t0.
func groupGift(merchant commerce.MerchantID, slots int) *gifting.Gift {
	g := unpaidGift(merchant)
	g.Kind, g.Group, g.Slots = gifting.Group, "群聊-42 \"好友\" 🎉", slots
	g.Status, g.SentAt, g.ExpiresAt = gifting.Sent, t0, t0.Add(24*time.Hour)
	return g
}

// slotAddress is claimer i's address, with characters JSON escapes.
func slotAddress(i int) commerce.Address {
	return commerce.Address{Name: fmt.Sprint("领取人 \"", i, "\""), Phone: fmt.Sprint("1380000", 1000+i), Province: "广东省",
		City: "深圳市", District: "南山区", Detail: fmt.Sprint("科技园路 ", i, " 号 \\ 🏠"), PostalCode: "518000"}
}

var errNotSent = errors.New("gift not open for claims")

// onlySent is the service's check: a gift takes claims only while sent.
func onlySent(g *gifting.Gift) error {
	if g.Status != gifting.Sent {
		return errNotSent
	}
	return nil
}

func claimers(slots []gifting.Slot) []commerce.CustomerID {
	var out []commerce.CustomerID
	for _, sl := range slots {
		out = append(out, sl.Claimer)
	}
	return out
}

func giftingStoreSuite(t *testing.T, open func(t *testing.T) gifting.Store) {
	ctx := context.Background()

	t.Run("RoundTrip", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		require.Equal(t, 100, utf8.RuneCountInString(blessing))
		g := fullGift(m)
		require.NoError(t, s.InsertGift(ctx, g))

		got, err := s.GetGift(ctx, m, g.ID)
		require.NoError(t, err)
		sameGift(t, g, got)
		assert.Equal(t, blessing, got.Message)
		assert.Equal(t, g.Lifetime, got.Lifetime)
		byOrder, err := s.GiftByOrder(ctx, m, g.OrderID)
		require.NoError(t, err)
		sameGift(t, g, byOrder)

		// The store copies, in and out.
		g.Message, g.Status = "changed", gifting.Expired
		got.Recipient, got.Version = "someone", 99
		again, err := s.GetGift(ctx, m, g.ID)
		require.NoError(t, err)
		assert.Equal(t, blessing, again.Message)
		assert.Equal(t, gifting.Sent, again.Status)
		assert.Equal(t, commerce.CustomerID("收礼人-乙"), again.Recipient)
		assert.EqualValues(t, 3, again.Version)

		// A gift not yet sent: no expiry, no recipient, nothing set.
		u := unpaidGift(m)
		require.NoError(t, s.InsertGift(ctx, u))
		got, err = s.GiftByOrder(ctx, m, u.OrderID)
		require.NoError(t, err)
		sameGift(t, u, got)
		assert.True(t, got.ExpiresAt.IsZero())
		assert.True(t, got.SentAt.IsZero())
		assert.Empty(t, got.Recipient)
		assert.False(t, got.Refunded)
		assert.False(t, got.Opened)

		_, err = s.GetGift(ctx, m, newID[gifting.GiftID]())
		assert.ErrorIs(t, err, storage.ErrNotFound)
		_, err = s.GiftByOrder(ctx, m, newID[commerce.OrderID]())
		assert.ErrorIs(t, err, storage.ErrNotFound)
	})

	t.Run("InsertConflict", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		g := fullGift(m)
		require.NoError(t, s.InsertGift(ctx, g))

		second := unpaidGift(m)
		second.OrderID = g.OrderID
		assert.ErrorIs(t, s.InsertGift(ctx, second), storage.ErrConflict, "the order has a gift")
		_, err := s.GetGift(ctx, m, second.ID)
		assert.ErrorIs(t, err, storage.ErrNotFound, "the failed insert stored nothing")
		got, err := s.GiftByOrder(ctx, m, g.OrderID)
		require.NoError(t, err)
		assert.Equal(t, g.ID, got.ID, "the order keeps its first gift")

		sameID := unpaidGift(m)
		sameID.ID = g.ID
		assert.ErrorIs(t, s.InsertGift(ctx, sameID), storage.ErrConflict, "the ID is taken")
		_, err = s.GiftByOrder(ctx, m, sameID.OrderID)
		assert.ErrorIs(t, err, storage.ErrNotFound)

		// One gift per order of a merchant: another order is fine.
		require.NoError(t, s.InsertGift(ctx, unpaidGift(m)))
	})

	t.Run("MerchantIsolation", func(t *testing.T) {
		s := open(t)
		m, other := newID[commerce.MerchantID](), newID[commerce.MerchantID]()
		g := fullGift(m)
		require.NoError(t, s.InsertGift(ctx, g))
		theirs := fullGift(other)
		require.NoError(t, s.InsertGift(ctx, theirs))

		_, err := s.GetGift(ctx, other, g.ID)
		assert.ErrorIs(t, err, storage.ErrNotFound, "another merchant's gift")
		_, err = s.GiftByOrder(ctx, other, g.OrderID)
		assert.ErrorIs(t, err, storage.ErrNotFound, "another merchant's order")
		called := false
		err = s.UpdateGift(ctx, other, g.ID, func(x *gifting.Gift) error { called = true; return nil })
		assert.ErrorIs(t, err, storage.ErrNotFound)
		assert.False(t, called, "fn never sees another merchant's gift")

		got, err := s.GetGift(ctx, other, theirs.ID)
		require.NoError(t, err)
		assert.Equal(t, other, got.MerchantID)
		got, err = s.GetGift(ctx, m, g.ID)
		require.NoError(t, err)
		assert.EqualValues(t, 3, got.Version, "untouched")
	})

	t.Run("UpdateGift", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		g := unpaidGift(m)
		require.NoError(t, s.InsertGift(ctx, g))
		sent := t0.Add(time.Hour + 5*time.Microsecond)

		require.NoError(t, s.UpdateGift(ctx, m, g.ID, func(x *gifting.Gift) error {
			sameGift(t, g, x)
			x.Status, x.SentAt, x.ExpiresAt = gifting.Sent, sent, sent.Add(x.Lifetime)
			x.Message, x.GiverName, x.Opened = blessing, "改名 🎈", true
			// The identity is kept and the version bumped from the stored one.
			x.ID, x.MerchantID, x.OrderID, x.Giver = newID[gifting.GiftID](), newID[commerce.MerchantID](), newID[commerce.OrderID](), "someone else"
			x.Version = 42
			return nil
		}))
		want := g.Clone()
		want.Status, want.SentAt, want.ExpiresAt = gifting.Sent, sent, sent.Add(24*time.Hour)
		want.Message, want.GiverName, want.Opened, want.Version = blessing, "改名 🎈", true, 2
		got, err := s.GetGift(ctx, m, g.ID)
		require.NoError(t, err)
		sameGift(t, want, got)
		got, err = s.GiftByOrder(ctx, m, g.OrderID)
		require.NoError(t, err)
		sameGift(t, want, got)

		accepted := sent.Add(time.Hour + time.Microsecond)
		require.NoError(t, s.UpdateGift(ctx, m, g.ID, func(x *gifting.Gift) error {
			x.Status, x.Recipient, x.AcceptedAt = gifting.Accepted, "收礼人", accepted
			x.ExpiresAt, x.Refunded = time.Time{}, true // cleared and set: every column is written
			return nil
		}))
		want.Status, want.Recipient, want.AcceptedAt, want.ExpiresAt, want.Refunded, want.Version = gifting.Accepted, "收礼人", accepted, time.Time{}, true, 3
		got, err = s.GetGift(ctx, m, g.ID)
		require.NoError(t, err)
		sameGift(t, want, got)
		assert.True(t, got.ExpiresAt.IsZero())

		// A failing fn leaves the row as it was, whatever fn changed.
		boom := errors.New("boom")
		err = s.UpdateGift(ctx, m, g.ID, func(x *gifting.Gift) error {
			x.Status, x.Recipient, x.Refunded, x.ExpiresAt, x.Message = gifting.Expired, "thief", false, t0, "gone"
			return boom
		})
		assert.ErrorIs(t, err, boom)
		got, err = s.GetGift(ctx, m, g.ID)
		require.NoError(t, err)
		sameGift(t, want, got)

		err = s.UpdateGift(ctx, m, newID[gifting.GiftID](), func(*gifting.Gift) error { return nil })
		assert.ErrorIs(t, err, storage.ErrNotFound)
	})

	t.Run("UpdateGiftConcurrent", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		g := fullGift(m)
		g.Recipient, g.Refunded, g.AcceptedAt, g.ExpiredAt = "", false, time.Time{}, time.Time{}
		require.NoError(t, s.InsertGift(ctx, g))
		const workers = 16
		taken := errors.New("gift already taken")
		errs := make([]error, workers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range workers {
			wg.Go(func() {
				<-start
				errs[i] = s.UpdateGift(ctx, m, g.ID, func(x *gifting.Gift) error {
					if x.Status != gifting.Sent {
						return taken
					}
					x.Status, x.Recipient = gifting.Accepted, commerce.CustomerID(fmt.Sprint("收礼人-", i))
					return nil
				})
			})
		}
		close(start)
		wg.Wait()
		require.Equal(t, 1, countNil(errs), "exactly one accepts")
		winner := -1
		for i, err := range errs {
			if err == nil {
				winner = i
			} else {
				assert.ErrorIs(t, err, taken)
			}
		}
		got, err := s.GetGift(ctx, m, g.ID)
		require.NoError(t, err)
		assert.Equal(t, gifting.Accepted, got.Status)
		assert.Equal(t, commerce.CustomerID(fmt.Sprint("收礼人-", winner)), got.Recipient)
		assert.EqualValues(t, g.Version+1, got.Version, "one write")
	})

	t.Run("DueGifts", func(t *testing.T) {
		s := open(t)
		m1, m2 := newID[commerce.MerchantID](), newID[commerce.MerchantID]()
		before := t0.Add(10 * time.Hour)
		mk := func(m commerce.MerchantID, status gifting.Status, expires time.Time, refunded bool) *gifting.Gift {
			g := fullGift(m)
			g.Status, g.ExpiresAt, g.Refunded = status, expires, refunded
			require.NoError(t, s.InsertGift(ctx, g))
			return g
		}
		sentDue := mk(m1, gifting.Sent, before.Add(-time.Hour), false)
		tieA := mk(m2, gifting.Sent, before.Add(-2*time.Hour), false)
		tieB := mk(m1, gifting.Sent, before.Add(-2*time.Hour), false) // same expiry: ID order
		edge := mk(m2, gifting.Sent, before, false)
		mk(m1, gifting.Sent, before.Add(time.Microsecond), false) // not due yet
		expired := mk(m1, gifting.Expired, before.Add(-3*time.Hour), false)
		expiredLate := mk(m2, gifting.Expired, before.Add(5*time.Hour), false) // a refund to ask for, whatever the time
		noExpiry := mk(m1, gifting.Expired, time.Time{}, false)                // no expiry: first of all
		mk(m1, gifting.Expired, before.Add(-4*time.Hour), true)                // refunded
		mk(m2, gifting.Accepted, before.Add(-5*time.Hour), false)
		mk(m1, gifting.Accepted, before.Add(-5*time.Hour), true)
		mk(m1, gifting.Unpaid, time.Time{}, false)
		mk(m2, gifting.Sent, time.Time{}, false) // sent without an expiry never expires

		due, err := s.DueGifts(ctx, before, 0)
		require.NoError(t, err)
		assert.Equal(t, giftIDs([]*gifting.Gift{tieA, tieB, sentDue, edge, noExpiry, expired, expiredLate}), giftIDs(due),
			"sent and due first, then expired and not refunded; soonest first within each, then by ID")
		for _, g := range due {
			if g.ID == sentDue.ID {
				sameGift(t, sentDue, g)
			}
		}
		due, err = s.DueGifts(ctx, before, 3)
		require.NoError(t, err)
		assert.Equal(t, giftIDs([]*gifting.Gift{tieA, tieB, sentDue}), giftIDs(due), "expiries are never held up by refunds")

		// Accepting takes a gift off the list, as does its refund; expiring
		// one keeps it on until refunded.
		require.NoError(t, s.UpdateGift(ctx, m1, sentDue.ID, func(x *gifting.Gift) error { x.Status = gifting.Accepted; return nil }))
		require.NoError(t, s.UpdateGift(ctx, m1, expired.ID, func(x *gifting.Gift) error { x.Refunded = true; return nil }))
		require.NoError(t, s.UpdateGift(ctx, m1, noExpiry.ID, func(x *gifting.Gift) error { x.Refunded = true; return nil }))
		require.NoError(t, s.UpdateGift(ctx, m2, edge.ID, func(x *gifting.Gift) error { x.Status = gifting.Expired; return nil }))
		due, err = s.DueGifts(ctx, before, 0)
		require.NoError(t, err)
		assert.Equal(t, giftIDs([]*gifting.Gift{tieA, tieB, edge, expiredLate}), giftIDs(due))
		assert.Equal(t, gifting.Expired, due[2].Status)

		// Long before: only refunds to ask for.
		due, err = s.DueGifts(ctx, t0.Add(-100*time.Hour), 0)
		require.NoError(t, err)
		assert.Equal(t, giftIDs([]*gifting.Gift{edge, expiredLate}), giftIDs(due))
	})

	t.Run("RollbackLeavesNothing", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		kept := unpaidGift(m)
		require.NoError(t, s.InsertGift(ctx, kept))
		g := fullGift(m)
		g.Status, g.ExpiresAt, g.Refunded = gifting.Expired, t0, false

		boom := errors.New("boom")
		err := s.InTx(ctx, func(ctx context.Context) error {
			if err := s.InsertGift(ctx, g); err != nil {
				return err
			}
			if err := s.UpdateGift(ctx, m, kept.ID, func(x *gifting.Gift) error { x.Status = gifting.Sent; x.ExpiresAt = t0; return nil }); err != nil {
				return err
			}
			// Inside the transaction the writes are visible.
			got, err := s.GiftByOrder(ctx, m, g.OrderID)
			if err != nil {
				return err
			}
			assert.Equal(t, g.ID, got.ID)
			due, err := s.DueGifts(ctx, t0, 0)
			if err != nil {
				return err
			}
			assert.Len(t, due, 2)
			return boom
		})
		assert.ErrorIs(t, err, boom)
		_, err = s.GetGift(ctx, m, g.ID)
		assert.ErrorIs(t, err, storage.ErrNotFound)
		_, err = s.GiftByOrder(ctx, m, g.OrderID)
		assert.ErrorIs(t, err, storage.ErrNotFound)
		due, err := s.DueGifts(ctx, t0, 0)
		require.NoError(t, err)
		assert.Empty(t, due)
		got, err := s.GetGift(ctx, m, kept.ID)
		require.NoError(t, err)
		sameGift(t, kept, got)

		// The order is free again: the gift inserts, and commits.
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) error { return s.InsertGift(ctx, g) }))
		got, err = s.GiftByOrder(ctx, m, g.OrderID)
		require.NoError(t, err)
		sameGift(t, g, got)

		// A conflict inside a transaction fails it whole.
		err = s.InTx(ctx, func(ctx context.Context) error {
			if err := s.UpdateGift(ctx, m, kept.ID, func(x *gifting.Gift) error { x.Opened = true; return nil }); err != nil {
				return err
			}
			dup := unpaidGift(m)
			dup.OrderID = g.OrderID
			return s.InsertGift(ctx, dup)
		})
		assert.ErrorIs(t, err, storage.ErrConflict)
		got, err = s.GetGift(ctx, m, kept.ID)
		require.NoError(t, err)
		sameGift(t, kept, got)
	})

	t.Run("SlotsRoundTrip", func(t *testing.T) {
		s := open(t)
		m, other := newID[commerce.MerchantID](), newID[commerce.MerchantID]()
		g := groupGift(m, 3)
		require.NoError(t, s.InsertGift(ctx, g))
		got, err := s.GetGift(ctx, m, g.ID)
		require.NoError(t, err)
		sameGift(t, g, got)
		assert.Equal(t, gifting.Group, got.Kind)
		assert.Equal(t, 3, got.Slots)

		slots, err := s.GiftSlots(ctx, m, g.ID)
		require.NoError(t, err)
		require.Len(t, slots, 3)
		for i, sl := range slots {
			assert.Equal(t, gifting.Slot{Line: i}, sl, "line %d is free", i)
		}

		// A lottery keeps its draw, deep.
		lot := groupGift(m, 2)
		lot.Kind, lot.Free = gifting.Lottery, true
		lot.Draw = &gifting.Draw{At: t0.Add(time.Hour + time.Microsecond), Eligibility: gifting.Listed,
			Allowed: []commerce.CustomerID{"甲", "乙", "丙"}, SeedHash: strings.Repeat("ab", 32), Seed: "秘密",
			Entrants: []commerce.CustomerID{"乙", "甲"}}
		require.NoError(t, s.InsertGift(ctx, lot))
		lot.Draw.Allowed[0], lot.Draw.Entrants = "changed", nil // the store copied
		got, err = s.GetGift(ctx, m, lot.ID)
		require.NoError(t, err)
		require.NotNil(t, got.Draw)
		assert.Equal(t, []commerce.CustomerID{"甲", "乙", "丙"}, got.Draw.Allowed)
		assert.Equal(t, []commerce.CustomerID{"乙", "甲"}, got.Draw.Entrants)
		assert.True(t, got.Draw.At.Equal(t0.Add(time.Hour+time.Microsecond)))
		assert.True(t, got.Free)
		slots, err = s.GiftSlots(ctx, m, lot.ID)
		require.NoError(t, err)
		assert.Len(t, slots, 2)

		// A one-friend gift has none.
		one := fullGift(m)
		require.NoError(t, s.InsertGift(ctx, one))
		slots, err = s.GiftSlots(ctx, m, one.ID)
		require.NoError(t, err)
		assert.Empty(t, slots)

		_, err = s.GiftSlots(ctx, m, newID[gifting.GiftID]())
		assert.ErrorIs(t, err, storage.ErrNotFound, "unknown gift")
		_, err = s.GiftSlots(ctx, other, g.ID)
		assert.ErrorIs(t, err, storage.ErrNotFound, "another merchant's gift")

		// A gift that fails to insert leaves no slots behind, and a gift
		// of many slots inserts whole.
		dup := groupGift(m, 5)
		dup.OrderID = g.OrderID
		assert.ErrorIs(t, s.InsertGift(ctx, dup), storage.ErrConflict)
		_, err = s.GiftSlots(ctx, m, dup.ID)
		assert.ErrorIs(t, err, storage.ErrNotFound)
		big := groupGift(m, 1000)
		require.NoError(t, s.InsertGift(ctx, big))
		slots, err = s.GiftSlots(ctx, m, big.ID)
		require.NoError(t, err)
		require.Len(t, slots, 1000)
		for i, sl := range slots {
			require.Equal(t, gifting.Slot{Line: i}, sl)
		}
	})

	t.Run("ClaimSlot", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		g := groupGift(m, 3)
		require.NoError(t, s.InsertGift(ctx, g))
		at := t0.Add(time.Hour + 7*time.Microsecond)

		var seen *gifting.Gift
		sl, free, err := s.ClaimSlot(ctx, m, g.ID, "甲", slotAddress(1), at, func(x *gifting.Gift) error {
			seen = x.Clone()
			x.Status, x.Slots = gifting.Expired, 0 // check's changes are its own
			return nil
		})
		require.NoError(t, err)
		require.NotNil(t, seen)
		sameGift(t, g, seen, "check sees the stored gift")
		assert.Equal(t, 0, sl.Line, "the lowest free line")
		assert.Equal(t, 2, free)
		assert.Equal(t, commerce.CustomerID("甲"), sl.Claimer)
		require.NotNil(t, sl.Address)
		assert.Equal(t, slotAddress(1), *sl.Address)
		assert.True(t, sl.ClaimedAt.Equal(at))
		sl.Address.Name = "changed" // the store copied
		got, err := s.GetGift(ctx, m, g.ID)
		require.NoError(t, err)
		sameGift(t, g, got, "claiming leaves the gift as it was")

		sl, free, err = s.ClaimSlot(ctx, m, g.ID, "乙", slotAddress(2), at.Add(time.Second), onlySent)
		require.NoError(t, err)
		assert.Equal(t, 1, sl.Line)
		assert.Equal(t, 1, free)

		_, _, err = s.ClaimSlot(ctx, m, g.ID, "甲", slotAddress(3), at.Add(2*time.Second), onlySent)
		assert.ErrorIs(t, err, gifting.ErrAlreadyClaimed)

		slots, err := s.GiftSlots(ctx, m, g.ID)
		require.NoError(t, err)
		require.Len(t, slots, 3)
		assert.Equal(t, []commerce.CustomerID{"甲", "乙", ""}, claimers(slots))
		for i, sl := range slots[:2] {
			require.NotNil(t, sl.Address)
			assert.Equal(t, slotAddress(i+1), *sl.Address, "line %d keeps its first claim's address", i)
			assert.True(t, sl.ClaimedAt.Equal(at.Add(time.Duration(i)*time.Second)), "line %d: %s", i, sl.ClaimedAt)
		}
		assert.Equal(t, gifting.Slot{Line: 2}, slots[2])
		slots[0].Address.Name = "changed" // copies out
		again, err := s.GiftSlots(ctx, m, g.ID)
		require.NoError(t, err)
		assert.Equal(t, slotAddress(1), *again[0].Address)

		sl, free, err = s.ClaimSlot(ctx, m, g.ID, "丙", slotAddress(3), at, onlySent)
		require.NoError(t, err)
		assert.Equal(t, 2, sl.Line)
		assert.Equal(t, 0, free)
		_, _, err = s.ClaimSlot(ctx, m, g.ID, "丁", slotAddress(4), at, onlySent)
		assert.ErrorIs(t, err, gifting.ErrNoSlot)
		_, _, err = s.ClaimSlot(ctx, m, g.ID, "乙", slotAddress(4), at, onlySent)
		assert.ErrorIs(t, err, gifting.ErrAlreadyClaimed, "a claimer who holds a slot hears so, full or not")

		// Claims of one gift leave the others alone.
		h := groupGift(m, 2)
		require.NoError(t, s.InsertGift(ctx, h))
		sl, free, err = s.ClaimSlot(ctx, m, h.ID, "甲", slotAddress(1), at, onlySent)
		require.NoError(t, err)
		assert.Equal(t, 0, sl.Line)
		assert.Equal(t, 1, free)
	})

	t.Run("ClaimSlotRefused", func(t *testing.T) {
		s := open(t)
		m, other := newID[commerce.MerchantID](), newID[commerce.MerchantID]()
		g := groupGift(m, 2)
		require.NoError(t, s.InsertGift(ctx, g))
		assertFree := func(msg string) {
			t.Helper()
			slots, err := s.GiftSlots(ctx, m, g.ID)
			require.NoError(t, err)
			assert.Equal(t, []gifting.Slot{{Line: 0}, {Line: 1}}, slots, msg)
		}

		boom := errors.New("boom")
		_, _, err := s.ClaimSlot(ctx, m, g.ID, "甲", slotAddress(1), t0, func(*gifting.Gift) error { return boom })
		assert.ErrorIs(t, err, boom, "check's error comes back")
		assertFree("a refused claim takes nothing")

		require.NoError(t, s.UpdateGift(ctx, m, g.ID, func(x *gifting.Gift) error { x.Status = gifting.Expired; return nil }))
		_, _, err = s.ClaimSlot(ctx, m, g.ID, "甲", slotAddress(1), t0, onlySent)
		assert.ErrorIs(t, err, errNotSent, "check sees the gift as updated")
		assertFree("an expired gift takes no claims")

		called := false
		_, _, err = s.ClaimSlot(ctx, m, newID[gifting.GiftID](), "甲", slotAddress(1), t0, func(*gifting.Gift) error { called = true; return nil })
		assert.ErrorIs(t, err, storage.ErrNotFound, "unknown gift")
		_, _, err = s.ClaimSlot(ctx, other, g.ID, "甲", slotAddress(1), t0, func(*gifting.Gift) error { called = true; return nil })
		assert.ErrorIs(t, err, storage.ErrNotFound, "another merchant's gift")
		assert.False(t, called, "check never sees a gift that is not there")
		assertFree("untouched")

		one := fullGift(m)
		require.NoError(t, s.InsertGift(ctx, one))
		_, _, err = s.ClaimSlot(ctx, m, one.ID, "甲", slotAddress(1), t0, func(*gifting.Gift) error { return nil })
		assert.ErrorIs(t, err, gifting.ErrNoSlot, "a one-friend gift has no slot")
	})

	t.Run("ClaimSlotRace", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		const slots, workers = 10, 64
		g := groupGift(m, slots)
		require.NoError(t, s.InsertGift(ctx, g))
		got := make([]gifting.Slot, workers)
		free := make([]int, workers)
		errs := make([]error, workers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range workers {
			wg.Go(func() {
				<-start
				got[i], free[i], errs[i] = s.ClaimSlot(ctx, m, g.ID, commerce.CustomerID(fmt.Sprint("领取人-", i)), slotAddress(i), t0.Add(time.Duration(i)*time.Microsecond), onlySent)
			})
		}
		close(start)
		wg.Wait()
		require.Equal(t, slots, countNil(errs), "exactly as many claims as slots succeed")
		lines := map[int]commerce.CustomerID{}
		counts := map[int]bool{}
		for i, err := range errs {
			if err != nil {
				assert.ErrorIs(t, err, gifting.ErrNoSlot, "claimer %d", i)
				continue
			}
			assert.NotContains(t, lines, got[i].Line, "line %d given twice", got[i].Line)
			lines[got[i].Line] = commerce.CustomerID(fmt.Sprint("领取人-", i))
			assert.GreaterOrEqual(t, free[i], 0)
			assert.Less(t, free[i], slots)
			// The count is exact: each claim saw a different number of
			// slots left, and the last one, only it, saw none (the caller
			// closes the gift on it).
			assert.False(t, counts[free[i]], "two claims saw %d slots free", free[i])
			counts[free[i]] = true
		}
		assert.Len(t, counts, slots)
		stored, err := s.GiftSlots(ctx, m, g.ID)
		require.NoError(t, err)
		require.Len(t, stored, slots)
		for _, sl := range stored {
			assert.Equal(t, lines[sl.Line], sl.Claimer, "line %d", sl.Line)
			require.NotNil(t, sl.Address, "line %d", sl.Line)
		}
	})

	t.Run("ClaimSlotSameClaimer", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		g := groupGift(m, 5)
		require.NoError(t, s.InsertGift(ctx, g))
		const workers = 8
		errs := make([]error, workers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range workers {
			wg.Go(func() {
				<-start
				_, _, errs[i] = s.ClaimSlot(ctx, m, g.ID, "同一个人", slotAddress(i), t0, onlySent)
			})
		}
		close(start)
		wg.Wait()
		require.Equal(t, 1, countNil(errs), "one slot per claimer")
		for _, err := range errs {
			if err != nil {
				assert.ErrorIs(t, err, gifting.ErrAlreadyClaimed)
			}
		}
		// The losers may have held other lines until they failed: the one
		// slot taken need not be line 0.
		stored, err := s.GiftSlots(ctx, m, g.ID)
		require.NoError(t, err)
		require.Len(t, stored, 5)
		taken := 0
		for _, sl := range stored {
			if sl.Claimer != "" {
				taken++
				assert.Equal(t, commerce.CustomerID("同一个人"), sl.Claimer)
			}
		}
		assert.Equal(t, 1, taken, "one slot per claimer")
	})

	t.Run("ClaimSlotRacingUpdate", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		const workers, each = 8, 6
		g := groupGift(m, workers*each)
		require.NoError(t, s.InsertGift(ctx, g))
		var (
			mu      sync.Mutex
			claimed = map[commerce.CustomerID]int{} // claimer -> line, as ClaimSlot reported
			refused int
		)
		var wg sync.WaitGroup
		enough := make(chan struct{}) // a few claims are in: expire the gift
		var once sync.Once
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					c := commerce.CustomerID(fmt.Sprint("领取人-", w, "-", i))
					sl, _, err := s.ClaimSlot(ctx, m, g.ID, c, slotAddress(i), t0, onlySent)
					mu.Lock()
					switch {
					case err == nil:
						claimed[c] = sl.Line
						if len(claimed) == workers {
							once.Do(func() { close(enough) })
						}
					case errors.Is(err, errNotSent):
						refused++
					default:
						t.Errorf("claim %s: %v", c, err)
					}
					mu.Unlock()
				}
			})
		}
		// The expiry sees, under the gift's lock, the slots claimed before
		// it; every claim after it is refused.
		var seen []gifting.Slot
		wg.Go(func() {
			select {
			case <-enough:
			case <-time.After(10 * time.Second):
			}
			err := s.InTx(ctx, func(ctx context.Context) error {
				if err := s.UpdateGift(ctx, m, g.ID, func(x *gifting.Gift) error { x.Status = gifting.Expired; return nil }); err != nil {
					return err
				}
				var err error
				seen, err = s.GiftSlots(ctx, m, g.ID)
				return err
			})
			assert.NoError(t, err)
		})
		wg.Wait()
		require.Equal(t, workers*each, len(claimed)+refused, "every claim either took a slot or was refused")
		assert.GreaterOrEqual(t, len(claimed), workers)
		stored, err := s.GiftSlots(ctx, m, g.ID)
		require.NoError(t, err)
		assert.Equal(t, claimers(seen), claimers(stored), "no claim got in after the expiry")
		taken := 0
		for _, sl := range stored {
			if sl.Claimer == "" {
				continue
			}
			taken++
			line, ok := claimed[sl.Claimer]
			assert.True(t, ok, "%s holds line %d, but was not told so", sl.Claimer, sl.Line)
			assert.Equal(t, line, sl.Line)
		}
		assert.Equal(t, len(claimed), taken, "every reported claim is stored")
		got, err := s.GetGift(ctx, m, g.ID)
		require.NoError(t, err)
		assert.Equal(t, gifting.Expired, got.Status)
		assert.EqualValues(t, g.Version+1, got.Version)
	})

	t.Run("ClaimSlotRollback", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		g := groupGift(m, 3)
		require.NoError(t, s.InsertGift(ctx, g))
		fresh := groupGift(m, 2)

		boom := errors.New("boom")
		err := s.InTx(ctx, func(ctx context.Context) error {
			for _, c := range []commerce.CustomerID{"甲", "乙"} {
				if _, _, err := s.ClaimSlot(ctx, m, g.ID, c, slotAddress(1), t0, onlySent); err != nil {
					return err
				}
			}
			if err := s.InsertGift(ctx, fresh); err != nil {
				return err
			}
			if _, _, err := s.ClaimSlot(ctx, m, fresh.ID, "甲", slotAddress(1), t0, onlySent); err != nil {
				return err
			}
			// Inside the transaction the claims are visible.
			slots, err := s.GiftSlots(ctx, m, g.ID)
			if err != nil {
				return err
			}
			assert.Equal(t, []commerce.CustomerID{"甲", "乙", ""}, claimers(slots))
			_, _, err = s.ClaimSlot(ctx, m, g.ID, "甲", slotAddress(1), t0, onlySent)
			assert.ErrorIs(t, err, gifting.ErrAlreadyClaimed)
			return boom
		})
		assert.ErrorIs(t, err, boom)
		slots, err := s.GiftSlots(ctx, m, g.ID)
		require.NoError(t, err)
		assert.Equal(t, []gifting.Slot{{Line: 0}, {Line: 1}, {Line: 2}}, slots, "the rolled back claims left the slots free")
		_, err = s.GiftSlots(ctx, m, fresh.ID)
		assert.ErrorIs(t, err, storage.ErrNotFound, "the rolled back gift left no slots")

		// The claimers are free to claim again, from the lowest line, and
		// the gift inserts again with its slots.
		sl, free, err := s.ClaimSlot(ctx, m, g.ID, "乙", slotAddress(2), t0, onlySent)
		require.NoError(t, err)
		assert.Equal(t, 0, sl.Line)
		assert.Equal(t, 2, free)
		require.NoError(t, s.InsertGift(ctx, fresh))
		slots, err = s.GiftSlots(ctx, m, fresh.ID)
		require.NoError(t, err)
		assert.Equal(t, []gifting.Slot{{Line: 0}, {Line: 1}}, slots)
	})
}
