package storetest

// Direct tests of the membership store contract, below the service: the
// program's member numbers, the member row lock that keeps balances from
// going negative, the order lots are spent and expired in, and the
// ledger's idempotency and paging. Run from Run as "MembershipStore".

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/membership"
	"github.com/minishop/minishop/storage"
)

func fullProgram(merchant commerce.MerchantID) *membership.Program {
	return &membership.Program{
		MerchantID: merchant,
		AutoJoin:   true,
		Tiers: []membership.Tier{
			{Level: 1, Name: "VIP1 · 银卡 🥈", EarnMultiplier: commerce.MustPercent(100)},
			{
				Level: 2, Name: "VIP2 \"金卡\" \\ 🥇", MinExperience: 1000, KeepExperience: 500, Discount: commerce.MustPercent(5),
				ExcludeProducts: []commerce.ProductID{newID[commerce.ProductID](), newID[commerce.ProductID]()},
				FreeShipping:    true, EarnMultiplier: commerce.MustPercent(150), WelcomeGift: "迎新礼-金",
			},
			{Level: 3, Name: "VIP3", MinExperience: 5000, KeepExperience: 2500, Discount: commerce.MustPercent(10), FreeShipping: true},
		},
		Experience:   membership.PointsPer{Points: 1, Per: commercetest.CNY("1.00")},
		ExpPerOrder:  10,
		ReviewMonths: 12,
		MemberPrices: []membership.MemberPrice{
			{SKU: newID[commerce.SKUID](), Level: 1, Price: commercetest.CNY("9.90")},
			{SKU: newID[commerce.SKUID](), Level: 2, Price: commercetest.CNY("99999999.99")},
			{SKU: newID[commerce.SKUID](), Level: 3, Price: commercetest.CNY("0.01")},
		},
		Earn:           membership.PointsPer{Points: 1, Per: commercetest.CNY("1.00")},
		PerOrder:       5,
		CapPerOrder:    1000,
		Expiry:         membership.Expiry{Kind: membership.FixedDate, Days: 30, Date: t0.Add(365 * 24 * time.Hour)},
		Redeem:         membership.PointsPer{Points: 10, Per: commercetest.CNY("0.01")},
		MinOrder:       commercetest.CNY("10.05"),
		MaxPoints:      50000,
		MaxShare:       commerce.MustPercent(50),
		ExpiredLotDays: 7,
		Clawback:       membership.Withhold,
		NextNumber:     5,
		Version:        3,
		Updated:        t0,
	}
}

func newMember(merchant commerce.MerchantID, customer commerce.CustomerID, number int64) *membership.Member {
	return &membership.Member{
		MerchantID: merchant, Customer: customer, Number: number, Level: 2, Experience: 1234,
		Available: 1000, Pending: 300, Debt: 7, JoinedAt: t0, Updated: t0.Add(time.Minute), Version: 1,
	}
}

func newLot(merchant commerce.MerchantID, customer commerce.CustomerID, points int64, expires time.Time, created time.Time) *membership.Lot {
	return &membership.Lot{
		ID: newID[membership.LotID](), MerchantID: merchant, Customer: customer,
		Points: points, Left: points, ExpiresAt: expires, Created: created,
	}
}

func newEntry(merchant commerce.MerchantID, customer commerce.CustomerID, request string) *membership.Entry {
	return &membership.Entry{
		ID: newID[membership.EntryID](), MerchantID: merchant, Customer: customer, Kind: membership.Adjust,
		Points: 10, Balance: 10, RequestID: request, Time: t0,
	}
}

func lotIDs(ls []*membership.Lot) []membership.LotID {
	var out []membership.LotID
	for _, l := range ls {
		out = append(out, l.ID)
	}
	return out
}

func entryIDs(es []*membership.Entry) []membership.EntryID {
	var out []membership.EntryID
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

// errInsufficient is spend100's refusal.
var errInsufficient = errors.New("insufficient points")

// spend100 takes 100 points, or refuses when the member has fewer.
func spend100(x *membership.Member) error {
	if x.Available < 100 {
		return errInsufficient
	}
	x.Available -= 100
	return nil
}

// racingSpends races 32 spends of 100 (spend) on a member with 1,000
// points: ten go through, the others are refused, and the balance is
// exactly zero after ten writes.
func racingSpends(t *testing.T, s membership.Store, spend func(ctx context.Context, s membership.Store, m commerce.MerchantID) error) {
	t.Helper()
	ctx := context.Background()
	m := newID[commerce.MerchantID]()
	require.NoError(t, s.CreateMember(ctx, newMember(m, "顾客", 1)))
	const workers = 32
	errs := make([]error, workers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range workers {
		wg.Go(func() {
			<-start
			errs[i] = spend(ctx, s, m)
		})
	}
	close(start)
	wg.Wait()
	assert.Equal(t, 10, countNil(errs))
	for _, err := range errs {
		if err != nil {
			assert.ErrorIs(t, err, errInsufficient)
		}
	}
	got, err := s.GetMember(ctx, m, "顾客")
	require.NoError(t, err)
	assert.EqualValues(t, 0, got.Available)
	assert.EqualValues(t, 11, got.Version)
}

func membershipStoreSuite(t *testing.T, open func(t *testing.T) membership.Store) {
	ctx := context.Background()

	t.Run("ProgramRoundTrip", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		_, err := s.GetProgram(ctx, m)
		assert.ErrorIs(t, err, storage.ErrNotFound)
		_, err = s.TakeMemberNumber(ctx, m)
		assert.ErrorIs(t, err, storage.ErrNotFound, "no program, no numbers")

		p := fullProgram(m)
		require.NoError(t, s.PutProgram(ctx, p))
		got, err := s.GetProgram(ctx, m)
		require.NoError(t, err)
		assert.Equal(t, asJSON(t, p), asJSON(t, got))
		assert.Equal(t, p.Tiers, got.Tiers)
		assert.EqualValues(t, 5, got.NextNumber, "a new program starts at its NextNumber")
		for i := range p.MemberPrices {
			assert.Equal(t, p.MemberPrices[i].SKU, got.MemberPrices[i].SKU)
			assert.True(t, p.MemberPrices[i].Price.Equal(got.MemberPrices[i].Price), "%s != %s", p.MemberPrices[i].Price, got.MemberPrices[i].Price)
			assert.Equal(t, p.MemberPrices[i].Price.String(), got.MemberPrices[i].Price.String())
		}
		assert.True(t, p.MinOrder.Equal(got.MinOrder))
		assert.True(t, p.Expiry.Date.Equal(got.Expiry.Date))
		assert.True(t, p.Updated.Equal(got.Updated))

		// The store copies: changing the caller's record changes nothing.
		p.Tiers[1].ExcludeProducts[0] = newID[commerce.ProductID]()
		p.MemberPrices[0].Level = 9
		got.Tiers[0].Name = "changed"
		again, err := s.GetProgram(ctx, m)
		require.NoError(t, err)
		assert.NotEqual(t, p.Tiers[1].ExcludeProducts[0], again.Tiers[1].ExcludeProducts[0])
		assert.Equal(t, 1, again.MemberPrices[0].Level)
		assert.Equal(t, "VIP1 · 银卡 🥈", again.Tiers[0].Name)

		n, err := s.TakeMemberNumber(ctx, m)
		require.NoError(t, err)
		assert.EqualValues(t, 5, n)
		got, err = s.GetProgram(ctx, m)
		require.NoError(t, err)
		assert.EqualValues(t, 6, got.NextNumber)

		// Replacing the program keeps the store's NextNumber, lower or higher.
		for _, next := range []int64{0, 1, 100} {
			p2 := fullProgram(m)
			p2.Tiers = p2.Tiers[:1]
			p2.Tiers[0].Name = fmt.Sprint("只有一级 ", next)
			p2.NextNumber, p2.Version, p2.Updated = next, 4+next, t0.Add(time.Hour)
			require.NoError(t, s.PutProgram(ctx, p2))
			got, err = s.GetProgram(ctx, m)
			require.NoError(t, err)
			assert.EqualValues(t, 6, got.NextNumber, "PutProgram with NextNumber %d", next)
			require.Len(t, got.Tiers, 1)
			assert.Equal(t, p2.Tiers[0].Name, got.Tiers[0].Name)
			assert.Equal(t, p2.Version, got.Version)
			assert.True(t, got.Updated.Equal(t0.Add(time.Hour)))
		}

		// Another merchant's program is its own; without a NextNumber it
		// starts at 1.
		other := newID[commerce.MerchantID]()
		p3 := fullProgram(other)
		p3.NextNumber = 0
		require.NoError(t, s.PutProgram(ctx, p3))
		got, err = s.GetProgram(ctx, other)
		require.NoError(t, err)
		assert.EqualValues(t, 1, got.NextNumber)
		assert.Equal(t, other, got.MerchantID)
		n, err = s.TakeMemberNumber(ctx, other)
		require.NoError(t, err)
		assert.EqualValues(t, 1, n)
		n, err = s.TakeMemberNumber(ctx, m)
		require.NoError(t, err)
		assert.EqualValues(t, 6, n)
	})

	t.Run("TakeMemberNumberConcurrent", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		p := fullProgram(m)
		p.NextNumber = 0
		require.NoError(t, s.PutProgram(ctx, p))
		const workers = 16
		nums := make([]int64, workers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range workers {
			wg.Go(func() {
				<-start
				var err error
				nums[i], err = s.TakeMemberNumber(ctx, m)
				assert.NoError(t, err)
			})
		}
		close(start)
		wg.Wait()
		slices.Sort(nums)
		want := make([]int64, workers)
		for i := range want {
			want[i] = int64(i + 1)
		}
		assert.Equal(t, want, nums, "distinct, consecutive numbers")
		got, err := s.GetProgram(ctx, m)
		require.NoError(t, err)
		assert.EqualValues(t, workers+1, got.NextNumber)

		// A number taken in a transaction that rolls back is taken again.
		boom := errors.New("boom")
		err = s.InTx(ctx, func(ctx context.Context) error {
			n, err := s.TakeMemberNumber(ctx, m)
			if err != nil {
				return err
			}
			assert.EqualValues(t, workers+1, n)
			return boom
		})
		assert.ErrorIs(t, err, boom)
		n, err := s.TakeMemberNumber(ctx, m)
		require.NoError(t, err)
		assert.EqualValues(t, workers+1, n)
	})

	t.Run("Members", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		mem := newMember(m, "顾客-甲", 1)
		require.NoError(t, s.CreateMember(ctx, mem))
		got, err := s.GetMember(ctx, m, "顾客-甲")
		require.NoError(t, err)
		assert.Equal(t, asJSON(t, mem), asJSON(t, got))
		assert.True(t, mem.JoinedAt.Equal(got.JoinedAt))
		assert.True(t, mem.Updated.Equal(got.Updated))

		assert.ErrorIs(t, s.CreateMember(ctx, newMember(m, "顾客-甲", 2)), storage.ErrConflict, "a member already")
		require.NoError(t, s.CreateMember(ctx, newMember(newID[commerce.MerchantID](), "顾客-甲", 1)), "another merchant's member")
		require.NoError(t, s.CreateMember(ctx, newMember(m, "顾客-乙", 2)))
		_, err = s.GetMember(ctx, m, "nobody")
		assert.ErrorIs(t, err, storage.ErrNotFound)
		_, err = s.GetMember(ctx, newID[commerce.MerchantID](), "顾客-甲")
		assert.ErrorIs(t, err, storage.ErrNotFound)
		assert.ErrorIs(t, s.UpdateMember(ctx, m, "nobody", func(*membership.Member) error { return nil }), storage.ErrNotFound)

		require.NoError(t, s.UpdateMember(ctx, m, "顾客-甲", func(x *membership.Member) error {
			assert.EqualValues(t, 1000, x.Available)
			x.Level, x.Experience, x.Available, x.Pending, x.Debt = 3, 6000, 1, 2, 0
			x.Updated = t0.Add(time.Hour)
			x.MerchantID, x.Customer, x.Number = newID[commerce.MerchantID](), "someone else", 99 // kept
			x.Version = 42                                                                        // bumped from the stored one
			return nil
		}))
		got, err = s.GetMember(ctx, m, "顾客-甲")
		require.NoError(t, err)
		assert.Equal(t, m, got.MerchantID)
		assert.Equal(t, commerce.CustomerID("顾客-甲"), got.Customer)
		assert.EqualValues(t, 1, got.Number)
		assert.Equal(t, 3, got.Level)
		assert.EqualValues(t, 6000, got.Experience)
		assert.EqualValues(t, 1, got.Available)
		assert.EqualValues(t, 2, got.Pending)
		assert.EqualValues(t, 0, got.Debt)
		assert.EqualValues(t, 2, got.Version)
		assert.True(t, got.JoinedAt.Equal(t0))
		assert.True(t, got.Updated.Equal(t0.Add(time.Hour)))
		_, err = s.GetMember(ctx, m, "someone else")
		assert.ErrorIs(t, err, storage.ErrNotFound)

		boom := errors.New("boom")
		assert.ErrorIs(t, s.UpdateMember(ctx, m, "顾客-甲", func(x *membership.Member) error { x.Available = 500; return boom }), boom)
		got, err = s.GetMember(ctx, m, "顾客-甲")
		require.NoError(t, err)
		assert.EqualValues(t, 1, got.Available)
		assert.EqualValues(t, 2, got.Version)

		// The store copies.
		got.Available = 777
		again, err := s.GetMember(ctx, m, "顾客-甲")
		require.NoError(t, err)
		assert.EqualValues(t, 1, again.Available)
	})

	t.Run("UpdateMemberConcurrent", func(t *testing.T) {
		racingSpends(t, open(t), func(ctx context.Context, s membership.Store, m commerce.MerchantID) error {
			return s.UpdateMember(ctx, m, "顾客", spend100)
		})
	})

	t.Run("ProgramAndMember", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		_, _, _, err := s.ProgramAndMember(ctx, m, "顾客-甲", false)
		assert.ErrorIs(t, err, storage.ErrNotFound, "no program")
		require.NoError(t, s.CreateMember(ctx, newMember(m, "顾客-甲", 1)))
		_, _, _, err = s.ProgramAndMember(ctx, m, "顾客-甲", false)
		assert.ErrorIs(t, err, storage.ErrNotFound, "a member but no program")

		prog := fullProgram(m)
		require.NoError(t, s.PutProgram(ctx, prog))
		wantProg, err := s.GetProgram(ctx, m)
		require.NoError(t, err)
		p, mem, _, err := s.ProgramAndMember(ctx, m, "顾客-乙", false)
		require.NoError(t, err)
		assert.Nil(t, mem, "not a member")
		assert.Equal(t, asJSON(t, wantProg), asJSON(t, p))

		require.NoError(t, s.UpdateMember(ctx, m, "顾客-甲", func(x *membership.Member) error {
			x.NextReview = t0.Add(48 * time.Hour)
			return nil
		}))
		want, err := s.GetMember(ctx, m, "顾客-甲")
		require.NoError(t, err)
		p, mem, _, err = s.ProgramAndMember(ctx, m, "顾客-甲", false)
		require.NoError(t, err)
		require.NotNil(t, mem)
		assert.Equal(t, asJSON(t, wantProg), asJSON(t, p))
		assert.Equal(t, asJSON(t, want), asJSON(t, mem))
		assert.True(t, mem.NextReview.Equal(want.NextReview))
		_, mem, _, err = s.ProgramAndMember(ctx, newID[commerce.MerchantID](), "顾客-甲", false)
		assert.ErrorIs(t, err, storage.ErrNotFound, "another merchant")
		assert.Nil(t, mem)
	})

	t.Run("SaveMember", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		require.NoError(t, s.CreateMember(ctx, newMember(m, "顾客", 1)))
		seen, err := s.GetMember(ctx, m, "顾客")
		require.NoError(t, err)
		seen.Available, seen.Level, seen.Updated = 900, 3, t0.Add(time.Hour)
		saved, err := s.SaveMember(ctx, seen)
		require.NoError(t, err)
		assert.True(t, saved)
		assert.EqualValues(t, 2, seen.Version)
		got, err := s.GetMember(ctx, m, "顾客")
		require.NoError(t, err)
		assert.Equal(t, asJSON(t, seen), asJSON(t, got))

		// A save from an older read changes nothing.
		stale := *got
		stale.Version = 1
		stale.Available = 5
		saved, err = s.SaveMember(ctx, &stale)
		require.NoError(t, err)
		assert.False(t, saved)
		assert.EqualValues(t, 1, stale.Version)
		got, err = s.GetMember(ctx, m, "顾客")
		require.NoError(t, err)
		assert.EqualValues(t, 900, got.Available)
		assert.EqualValues(t, 2, got.Version)
		saved, err = s.SaveMember(ctx, newMember(m, "nobody", 9))
		require.NoError(t, err)
		assert.False(t, saved, "not a member")

		// A failed transaction takes its save back.
		boom := errors.New("boom")
		err = s.InTx(ctx, func(ctx context.Context) error {
			cp := *got
			if ok, err := s.SaveMember(ctx, &cp); !ok || err != nil {
				return fmt.Errorf("save: %v %w", ok, err)
			}
			return boom
		})
		assert.ErrorIs(t, err, boom)
		got, err = s.GetMember(ctx, m, "顾客")
		require.NoError(t, err)
		assert.EqualValues(t, 2, got.Version)
	})

	t.Run("SaveMemberConcurrent", func(t *testing.T) {
		// Each worker reads the member without a lock, then spends 100
		// with SaveMember, falling back to UpdateMember's lock when the
		// member changed meanwhile, as a checkout does: no spend is lost
		// and the balance never goes below zero.
		racingSpends(t, open(t), func(ctx context.Context, s membership.Store, m commerce.MerchantID) error {
			return s.InTx(ctx, func(ctx context.Context) error {
				x, err := s.GetMember(ctx, m, "顾客")
				if err != nil {
					return err
				}
				if err := spend100(x); err != nil {
					return err
				}
				if ok, err := s.SaveMember(ctx, x); ok || err != nil {
					return err
				}
				return s.UpdateMember(ctx, m, "顾客", spend100)
			})
		})
	})

	t.Run("ListMembers", func(t *testing.T) {
		s := open(t)
		m, other := newID[commerce.MerchantID](), newID[commerce.MerchantID]()
		customers := []commerce.CustomerID{"bob", "Zed", "张三", "émile", "a b", "ab", "alice", "李四", "007"}
		for i, c := range customers {
			require.NoError(t, s.CreateMember(ctx, newMember(m, c, int64(i+1))))
			require.NoError(t, s.CreateMember(ctx, newMember(other, c+"-x", int64(i+1))))
		}
		want := slices.Clone(customers)
		slices.Sort(want) // byte order
		var seen []commerce.CustomerID
		var after commerce.CustomerID
		for {
			page, err := s.ListMembers(ctx, m, after, 2)
			require.NoError(t, err)
			if len(page) == 0 {
				break
			}
			assert.LessOrEqual(t, len(page), 2)
			for _, x := range page {
				assert.Equal(t, m, x.MerchantID)
				seen = append(seen, x.Customer)
			}
			after = page[len(page)-1].Customer
		}
		assert.Equal(t, want, seen, "every member once, by customer id")
		all, err := s.ListMembers(ctx, m, "", 0)
		require.NoError(t, err)
		assert.Len(t, all, len(customers))
		none, err := s.ListMembers(ctx, newID[commerce.MerchantID](), "", 0)
		require.NoError(t, err)
		assert.Empty(t, none)
	})

	t.Run("Lots", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		const c = commerce.CustomerID("顾客")
		day := 24 * time.Hour
		order := newID[commerce.OrderID]()
		mk := func(expires time.Time, created time.Duration, edit func(*membership.Lot)) *membership.Lot {
			l := newLot(m, c, 100, expires, t0.Add(created))
			if edit != nil {
				edit(l)
			}
			require.NoError(t, s.InsertLot(ctx, l))
			return l
		}
		a := mk(time.Time{}, 0, nil)              // never expires
		b := mk(t0.Add(2*day), time.Second, nil)  //
		cc := mk(t0.Add(day), 2*time.Second, nil) // ties d and e on expiry, created later
		d := mk(t0.Add(day), time.Second, nil)    // ties e on expiry and created: ID order
		e := mk(t0.Add(day), time.Second, func(l *membership.Lot) { l.OrderID = order })
		f := mk(time.Time{}, -time.Hour, func(l *membership.Lot) { l.OrderID = order }) // never, older than a
		g := mk(t0.Add(12*time.Hour), 0, func(l *membership.Lot) { l.Pending = true })
		h := mk(t0.Add(-time.Hour), 0, func(l *membership.Lot) { l.Expired, l.Left = true, 40 })
		i := mk(t0.Add(6*time.Hour), 0, func(l *membership.Lot) { l.Left = 0 })
		require.NoError(t, s.InsertLot(ctx, newLot(m, "别人", 100, t0, t0)))
		otherM := newLot(newID[commerce.MerchantID](), c, 100, t0, t0)
		otherM.OrderID = order
		require.NoError(t, s.InsertLot(ctx, otherM))
		dup := newLot(m, c, 1, t0, t0)
		dup.ID = a.ID
		assert.ErrorIs(t, s.InsertLot(ctx, dup), storage.ErrConflict)

		all, err := s.MemberLots(ctx, m, c, false)
		require.NoError(t, err)
		assert.Equal(t, lotIDs([]*membership.Lot{h, i, g, d, e, cc, b, f, a}), lotIDs(all),
			"earliest expiry first, never last, then oldest, then ID")
		byID := map[membership.LotID]*membership.Lot{}
		for _, l := range all {
			byID[l.ID] = l
		}
		for _, want := range []*membership.Lot{a, e, g, h, i} {
			assert.Equal(t, asJSON(t, want), asJSON(t, byID[want.ID]))
		}
		assert.True(t, byID[a.ID].ExpiresAt.IsZero())
		assert.True(t, byID[a.ID].OrderID.IsZero())
		assert.Equal(t, order, byID[e.ID].OrderID)
		assert.True(t, byID[e.ID].ExpiresAt.Equal(t0.Add(day)))
		assert.True(t, byID[f.ID].Created.Equal(t0.Add(-time.Hour)))

		openLots, err := s.MemberLots(ctx, m, c, true)
		require.NoError(t, err)
		assert.Equal(t, lotIDs([]*membership.Lot{d, e, cc, b, f, a}), lotIDs(openLots), "points left, not pending, not expired")

		// The open lots read with the program and the member, as a checkout
		// spending points reads them: the same lots, the same order.
		_, _, withLots, err := s.ProgramAndMember(ctx, m, c, true)
		assert.ErrorIs(t, err, storage.ErrNotFound, "lots but no program")
		assert.Nil(t, withLots)
		require.NoError(t, s.PutProgram(ctx, fullProgram(m)))
		require.NoError(t, s.CreateMember(ctx, newMember(m, c, 1)))
		p, mem, withLots, err := s.ProgramAndMember(ctx, m, c, true)
		require.NoError(t, err)
		require.NotNil(t, p)
		require.NotNil(t, mem)
		assert.Equal(t, c, mem.Customer)
		assert.Equal(t, asJSON(t, openLots), asJSON(t, withLots), "ProgramAndMember's lots are MemberLots' open ones")
		_, _, noLots, err := s.ProgramAndMember(ctx, m, c, false)
		require.NoError(t, err)
		assert.Nil(t, noLots, "lots only when asked")
		_, mem, withLots, err = s.ProgramAndMember(ctx, m, "nobody", true)
		require.NoError(t, err)
		assert.Nil(t, mem)
		assert.NotNil(t, withLots)
		assert.Empty(t, withLots, "a non-member has no lots: empty, not nil")

		none, err := s.MemberLots(ctx, m, "nobody", false)
		require.NoError(t, err)
		assert.Empty(t, none)

		ol, err := s.OrderLots(ctx, m, order)
		require.NoError(t, err)
		assert.ElementsMatch(t, []membership.LotID{e.ID, f.ID}, lotIDs(ol), "the order's lots of this merchant")
		ol, err = s.OrderLots(ctx, m, order, a.ID, e.ID, otherM.ID, newID[membership.LotID]())
		require.NoError(t, err)
		assert.ElementsMatch(t, []membership.LotID{e.ID, f.ID, a.ID}, lotIDs(ol),
			"and the lots named, once each, of this merchant only, unknown ones skipped")
		assert.Equal(t, asJSON(t, a), asJSON(t, ol[slices.IndexFunc(ol, func(l *membership.Lot) bool { return l.ID == a.ID })]))

		// SaveLots writes Left, Pending, Expired and ExpiresAt, nothing else.
		e2, g2, a2 := *e, *g, *a
		e2.Left = 0
		g2.Pending = false
		a2.ExpiresAt = t0.Add(time.Hour)
		a2.Points, a2.Customer, a2.Created = 1, "someone else", t0.Add(99*time.Hour) // not written
		h2 := *h
		h2.Expired, h2.ExpiresAt, h2.Left = false, t0.Add(3*day), 40 // a refund revives an expired lot
		require.NoError(t, s.SaveLots(ctx, &e2, &g2, &a2, &h2, b))   // b unchanged
		openLots, err = s.MemberLots(ctx, m, c, true)
		require.NoError(t, err)
		assert.Equal(t, lotIDs([]*membership.Lot{a, g, d, cc, b, h, f}), lotIDs(openLots))
		all, err = s.MemberLots(ctx, m, c, false)
		require.NoError(t, err)
		for _, l := range all {
			if l.ID == a.ID {
				assert.EqualValues(t, 100, l.Points)
				assert.Equal(t, c, l.Customer)
				assert.True(t, l.Created.Equal(t0))
				assert.True(t, l.ExpiresAt.Equal(t0.Add(time.Hour)))
			}
		}
		require.NoError(t, s.SaveLots(ctx))

		// The same lot twice is saved as given last; lots of two merchants
		// in one call are each saved.
		d1, d2 := *d, *d
		d1.Left, d2.Left = 11, 12
		other := newLot(newID[commerce.MerchantID](), c, 50, t0.Add(time.Hour), t0)
		require.NoError(t, s.InsertLot(ctx, other))
		other2 := *other
		other2.Left = 7
		require.NoError(t, s.SaveLots(ctx, &d1, &other2, &d2))
		all, err = s.MemberLots(ctx, m, c, false)
		require.NoError(t, err)
		for _, l := range all {
			if l.ID == d.ID {
				assert.EqualValues(t, 12, l.Left, "the last of a lot given twice")
			}
		}
		theirs, err := s.MemberLots(ctx, other.MerchantID, c, false)
		require.NoError(t, err)
		require.Len(t, theirs, 1)
		assert.EqualValues(t, 7, theirs[0].Left)
		require.NoError(t, s.SaveLots(ctx, d))

		// An unknown lot fails the whole call.
		b2 := *b
		b2.Left = 1
		err = s.SaveLots(ctx, &b2, newLot(m, c, 1, t0, t0))
		assert.ErrorIs(t, err, storage.ErrNotFound)
		wrong := *d
		wrong.MerchantID = newID[commerce.MerchantID]()
		assert.ErrorIs(t, s.SaveLots(ctx, &wrong), storage.ErrNotFound, "another merchant's lot")
		all, err = s.MemberLots(ctx, m, c, false)
		require.NoError(t, err)
		for _, l := range all {
			if l.ID == b.ID {
				assert.EqualValues(t, 100, l.Left, "the failed call saved nothing")
			}
		}
	})

	t.Run("DueLots", func(t *testing.T) {
		s := open(t)
		m1, m2 := newID[commerce.MerchantID](), newID[commerce.MerchantID]()
		before := t0.Add(10 * time.Hour)
		mk := func(m commerce.MerchantID, expires time.Time, edit func(*membership.Lot)) *membership.Lot {
			l := newLot(m, "顾客", 100, expires, t0)
			if edit != nil {
				edit(l)
			}
			require.NoError(t, s.InsertLot(ctx, l))
			return l
		}
		late := mk(m1, before.Add(-time.Hour), nil)
		tieA := mk(m2, before.Add(-2*time.Hour), nil)
		tieB := mk(m1, before.Add(-2*time.Hour), nil) // same expiry: ID order
		edge := mk(m2, before, nil)
		first := mk(m1, before.Add(-48*time.Hour), func(l *membership.Lot) { l.Left = 1 })
		mk(m1, before.Add(time.Microsecond), nil) // not due
		mk(m1, time.Time{}, nil)                  // never
		mk(m1, before.Add(-3*time.Hour), func(l *membership.Lot) { l.Pending = true })
		mk(m2, before.Add(-3*time.Hour), func(l *membership.Lot) { l.Expired = true })
		spent := mk(m2, before.Add(-3*time.Hour), func(l *membership.Lot) { l.Left = 0 })

		due, err := s.DueLots(ctx, before, false, 0)
		require.NoError(t, err)
		assert.Equal(t, lotIDs([]*membership.Lot{first, tieA, tieB, late, edge}), lotIDs(due), "expiring at or before, soonest first")
		due, err = s.DueLots(ctx, before, false, 2)
		require.NoError(t, err)
		assert.Equal(t, lotIDs([]*membership.Lot{first, tieA}), lotIDs(due))

		// Expiring a lot takes it off the list; points back on a spent lot
		// put it on.
		x := *first
		x.Left, x.Expired = 0, true
		y := *spent
		y.Left = 5
		require.NoError(t, s.SaveLots(ctx, &x, &y))
		due, err = s.DueLots(ctx, before, false, 0)
		require.NoError(t, err)
		assert.Equal(t, lotIDs([]*membership.Lot{spent, tieA, tieB, late, edge}), lotIDs(due))
		due, err = s.DueLots(ctx, t0.Add(-100*time.Hour), false, 0)
		require.NoError(t, err)
		assert.Empty(t, due)

		// A reminded lot stays due but leaves the reminder list.
		r := *tieA
		r.Reminded = true
		require.NoError(t, s.SaveLots(ctx, &r))
		due, err = s.DueLots(ctx, before, true, 0)
		require.NoError(t, err)
		assert.Equal(t, lotIDs([]*membership.Lot{spent, tieB, late, edge}), lotIDs(due))
		due, err = s.DueLots(ctx, before, false, 0)
		require.NoError(t, err)
		assert.Equal(t, lotIDs([]*membership.Lot{spent, tieA, tieB, late, edge}), lotIDs(due))
	})

	t.Run("Entries", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		order := newID[commerce.OrderID]()
		full := &membership.Entry{
			ID: newID[membership.EntryID](), MerchantID: m, Customer: "顾客-甲", Kind: membership.Spend,
			Points: -250, PendingPoints: 0, Balance: 750, RequestID: "req-1", OrderID: order,
			Burns: []membership.Burn{{Lot: newID[membership.LotID](), Points: 200}, {Lot: newID[membership.LotID](), Points: 50}},
			Note:  "抵扣 2.50 元 \"quoted\" \\ 🎉", Time: t0,
		}
		require.NoError(t, s.AppendEntry(ctx, full))
		got, err := s.EntryByRequest(ctx, m, "顾客-甲", "req-1")
		require.NoError(t, err)
		assert.Equal(t, asJSON(t, full), asJSON(t, got))
		assert.Equal(t, full.Burns, got.Burns)
		assert.True(t, full.Time.Equal(got.Time))

		// The store copies.
		full.Burns[0].Points = 1
		got, err = s.EntryByRequest(ctx, m, "顾客-甲", "req-1")
		require.NoError(t, err)
		assert.EqualValues(t, 200, got.Burns[0].Points)

		_, err = s.EntryByRequest(ctx, m, "顾客-乙", "req-1")
		assert.ErrorIs(t, err, storage.ErrNotFound)
		_, err = s.EntryByRequest(ctx, newID[commerce.MerchantID](), "顾客-甲", "req-1")
		assert.ErrorIs(t, err, storage.ErrNotFound)
		_, err = s.EntryByRequest(ctx, m, "顾客-甲", "")
		assert.ErrorIs(t, err, storage.ErrNotFound)

		// Same member and request: a conflict. Another member or request is
		// fine, and entries without a request ID never collide.
		assert.ErrorIs(t, s.AppendEntry(ctx, newEntry(m, "顾客-甲", "req-1")), storage.ErrConflict)
		dupID := newEntry(m, "顾客-甲", "req-x")
		dupID.ID = full.ID
		assert.ErrorIs(t, s.AppendEntry(ctx, dupID), storage.ErrConflict)
		_, err = s.EntryByRequest(ctx, m, "顾客-甲", "req-x")
		assert.ErrorIs(t, err, storage.ErrNotFound, "the failed append claimed nothing")
		require.NoError(t, s.AppendEntry(ctx, newEntry(m, "顾客-乙", "req-1")))
		require.NoError(t, s.AppendEntry(ctx, newEntry(newID[commerce.MerchantID](), "顾客-甲", "req-1")))
		plain1, plain2 := newEntry(m, "顾客-甲", ""), newEntry(m, "顾客-甲", "")
		require.NoError(t, s.AppendEntry(ctx, plain1, plain2), "several in one write")
		// Several at once: one taken request refuses them all.
		bad1, bad2 := newEntry(m, "顾客-甲", "req-y"), newEntry(m, "顾客-甲", "req-1")
		assert.ErrorIs(t, s.AppendEntry(ctx, bad1, bad2), storage.ErrConflict)
		_, err = s.EntryByRequest(ctx, m, "顾客-甲", "req-y")
		assert.ErrorIs(t, err, storage.ErrNotFound, "nothing of a refused write is kept")

		es, err := s.Entries(ctx, m, "顾客-甲", membership.EntryID{}, 0)
		require.NoError(t, err)
		require.Len(t, es, 3)
		assert.Equal(t, []membership.EntryID{full.ID, plain1.ID, plain2.ID}, entryIDs(es))
		assert.Empty(t, es[1].RequestID)
		assert.Empty(t, es[1].Burns)
		assert.True(t, es[1].OrderID.IsZero())
	})

	t.Run("EntryPaging", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		o1, o2 := newID[commerce.OrderID](), newID[commerce.OrderID]()
		var mine, ofO1 []membership.EntryID
		for i := range 7 {
			e := newEntry(m, "顾客", fmt.Sprint("req-", i))
			e.Balance, e.Time = int64(10*(i+1)), t0.Add(time.Duration(i)*time.Second)
			if i%2 == 0 {
				e.OrderID = o1
				ofO1 = append(ofO1, e.ID)
			}
			require.NoError(t, s.AppendEntry(ctx, e))
			mine = append(mine, e.ID)
			x := newEntry(m, "别人", "")
			if i == 3 {
				x.OrderID = o1
				ofO1 = append(ofO1, x.ID)
			}
			require.NoError(t, s.AppendEntry(ctx, x))
			y := newEntry(newID[commerce.MerchantID](), "顾客", "")
			y.OrderID = o1
			require.NoError(t, s.AppendEntry(ctx, y))
		}
		var seen []membership.EntryID
		var after membership.EntryID
		for {
			page, err := s.Entries(ctx, m, "顾客", after, 3)
			require.NoError(t, err)
			if len(page) == 0 {
				break
			}
			assert.LessOrEqual(t, len(page), 3)
			for _, e := range page {
				assert.Equal(t, commerce.CustomerID("顾客"), e.Customer)
				assert.Equal(t, m, e.MerchantID)
			}
			seen = append(seen, entryIDs(page)...)
			after = page[len(page)-1].ID
		}
		assert.Equal(t, mine, seen, "every entry once, oldest first")
		page, err := s.Entries(ctx, m, "顾客", mine[4], 0)
		require.NoError(t, err)
		assert.Equal(t, mine[5:], entryIDs(page))
		assert.EqualValues(t, 60, page[0].Balance)
		none, err := s.Entries(ctx, m, "nobody", membership.EntryID{}, 0)
		require.NoError(t, err)
		assert.Empty(t, none)

		byOrder, err := s.OrderEntries(ctx, m, o1)
		require.NoError(t, err)
		assert.Equal(t, ofO1, entryIDs(byOrder), "the order's entries of every member, oldest first")
		byOrder, err = s.OrderEntries(ctx, m, o2)
		require.NoError(t, err)
		assert.Empty(t, byOrder)
	})

	t.Run("RollbackLeavesNothing", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		require.NoError(t, s.PutProgram(ctx, fullProgram(m)))
		require.NoError(t, s.CreateMember(ctx, newMember(m, "顾客", 1)))
		lot := newLot(m, "顾客", 100, t0.Add(time.Hour), t0)
		entry := newEntry(m, "顾客", "req-1")
		spend := func(ctx context.Context) error {
			if err := s.InsertLot(ctx, lot); err != nil {
				return err
			}
			if err := s.AppendEntry(ctx, entry); err != nil {
				return err
			}
			if err := s.UpdateMember(ctx, m, "顾客", func(x *membership.Member) error { x.Available += 100; return nil }); err != nil {
				return err
			}
			if err := s.CreateMember(ctx, newMember(m, "新顾客", 2)); err != nil {
				return err
			}
			if _, err := s.TakeMemberNumber(ctx, m); err != nil {
				return err
			}
			// Inside the transaction the writes are visible.
			got, err := s.GetMember(ctx, m, "顾客")
			if err != nil {
				return err
			}
			assert.EqualValues(t, 1100, got.Available)
			lots, err := s.MemberLots(ctx, m, "顾客", true)
			if err != nil {
				return err
			}
			assert.Len(t, lots, 1)
			return nil
		}

		boom := errors.New("boom")
		err := s.InTx(ctx, func(ctx context.Context) error {
			if err := spend(ctx); err != nil {
				return err
			}
			return boom
		})
		assert.ErrorIs(t, err, boom)
		lots, err := s.MemberLots(ctx, m, "顾客", false)
		require.NoError(t, err)
		assert.Empty(t, lots)
		due, err := s.DueLots(ctx, t0.Add(time.Hour), false, 0)
		require.NoError(t, err)
		assert.Empty(t, due)
		_, err = s.EntryByRequest(ctx, m, "顾客", "req-1")
		assert.ErrorIs(t, err, storage.ErrNotFound)
		es, err := s.Entries(ctx, m, "顾客", membership.EntryID{}, 0)
		require.NoError(t, err)
		assert.Empty(t, es)
		got, err := s.GetMember(ctx, m, "顾客")
		require.NoError(t, err)
		assert.EqualValues(t, 1000, got.Available)
		assert.EqualValues(t, 1, got.Version)
		_, err = s.GetMember(ctx, m, "新顾客")
		assert.ErrorIs(t, err, storage.ErrNotFound)
		p, err := s.GetProgram(ctx, m)
		require.NoError(t, err)
		assert.EqualValues(t, 5, p.NextNumber)

		// The same writes commit when the transaction does.
		require.NoError(t, s.InTx(ctx, spend))
		lots, err = s.MemberLots(ctx, m, "顾客", true)
		require.NoError(t, err)
		assert.Equal(t, []membership.LotID{lot.ID}, lotIDs(lots))
		e, err := s.EntryByRequest(ctx, m, "顾客", "req-1")
		require.NoError(t, err)
		assert.Equal(t, entry.ID, e.ID)
		got, err = s.GetMember(ctx, m, "顾客")
		require.NoError(t, err)
		assert.EqualValues(t, 1100, got.Available)
		assert.EqualValues(t, 2, got.Version)
		p, err = s.GetProgram(ctx, m)
		require.NoError(t, err)
		assert.EqualValues(t, 6, p.NextNumber)

		// A conflict inside a transaction fails it whole.
		err = s.InTx(ctx, func(ctx context.Context) error {
			if err := s.UpdateMember(ctx, m, "顾客", func(x *membership.Member) error { x.Available -= 100; return nil }); err != nil {
				return err
			}
			return s.AppendEntry(ctx, newEntry(m, "顾客", "req-1"))
		})
		assert.ErrorIs(t, err, storage.ErrConflict)
		got, err = s.GetMember(ctx, m, "顾客")
		require.NoError(t, err)
		assert.EqualValues(t, 1100, got.Available)
	})
}
