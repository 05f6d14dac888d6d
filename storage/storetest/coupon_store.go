package storetest

// Direct tests of the coupons store contract, below the service: the guarded
// updates that make claim limits, redemption and code use hold on their
// own. Run from Run as "CouponStore".

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/coupons"
	"github.com/minishop/minishop/storage"
)

// newID returns a fresh time-ordered ID of any kind: IDs made later sort
// after IDs made earlier.
func newID[ID any, P interface {
	*ID
	Scan(any) error
}]() ID {
	var id ID
	u := uuid.Must(uuid.NewV7())
	if err := P(&id).Scan(u[:]); err != nil {
		panic(err)
	}
	return id
}

// t0 is a time on a whole microsecond, as the SQL stores keep times.
var t0 = time.Date(2025, 6, 18, 9, 30, 0, 123456000, time.UTC)

func fullBatch(merchant commerce.MerchantID) *coupons.Batch {
	return &coupons.Batch{
		ID:         newID[coupons.BatchID](),
		MerchantID: merchant,
		Name:       "满100减20 · 夏日🍉 \"quoted\" \\ 券",
		Kind:       coupons.PercentOff,
		Amount:     commercetest.CNY("20.05"),
		PercentOff: commerce.MustPercent(15),
		Cap:        commercetest.CNY("99999999.99"),
		MinAmount:  commercetest.CNY("100.10"),
		MinCount:   3,
		BuyN:       2,
		GetM:       1,
		Scope: coupons.Scope{
			Products:        []commerce.ProductID{newID[commerce.ProductID](), newID[commerce.ProductID]()},
			SKUs:            []commerce.SKUID{newID[commerce.SKUID]()},
			ExcludeProducts: []commerce.ProductID{newID[commerce.ProductID]()},
			ExcludeSKUs:     []commerce.SKUID{newID[commerce.SKUID](), newID[commerce.SKUID]()},
		},
		ClaimStart:   t0,
		ClaimEnd:     t0.Add(72 * time.Hour),
		Validity:     coupons.Validity{Start: t0, End: t0.Add(30 * 24 * time.Hour), Days: 7, DelayDays: 1},
		PerPerson:    2,
		Total:        1000,
		Status:       coupons.Active,
		Channel:      coupons.PromoterOnly,
		Promoter:     "推广员-007",
		Transferable: true,
		Shareable:    true,
		Exclusive:    true,
		StackGroup:   "summer",
		Priority:     -3,
		Created:      t0,
		Updated:      t0.Add(time.Second),
		Version:      1,
	}
}

func simpleBatch(merchant commerce.MerchantID, total, perPerson int64) *coupons.Batch {
	return &coupons.Batch{ID: newID[coupons.BatchID](), MerchantID: merchant, Name: "立减5元", Kind: coupons.AmountOff,
		Amount: commercetest.CNY("5.00"), Total: total, PerPerson: perPerson, Status: coupons.Active, Created: t0, Updated: t0}
}

func fullCoupon(b *coupons.Batch, customer commerce.CustomerID, request string) *coupons.Coupon {
	return &coupons.Coupon{
		ID:              newID[coupons.CouponID](),
		BatchID:         b.ID,
		MerchantID:      b.MerchantID,
		Customer:        customer,
		Status:          coupons.Valid,
		ValidFrom:       t0,
		ValidUntil:      t0.Add(7 * 24 * time.Hour),
		ClaimedAt:       t0.Add(-time.Minute),
		RequestID:       request,
		Code:            "SUMMER-8K2F",
		SharedBy:        "朋友-1",
		TransferredFrom: newID[coupons.CouponID](),
		Promoter:        "推广员-007",
		Group:           "群-42",
		Granted:         true,
		Version:         1,
	}
}

// asJSON renders v for whole-record comparisons: Money and times compare
// by their exact text.
func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func couponStoreSuite(t *testing.T, open func(t *testing.T) coupons.Store) {
	ctx := context.Background()

	t.Run("BatchRoundTrip", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		b := fullBatch(m)
		require.NoError(t, s.CreateBatch(ctx, b))
		got, err := s.GetBatch(ctx, m, b.ID)
		require.NoError(t, err)
		assert.Equal(t, asJSON(t, b), asJSON(t, got))
		assert.Equal(t, b.Name, got.Name)
		assert.Equal(t, b.Scope, got.Scope)
		for _, pair := range [][2]commerce.Money{{b.Amount, got.Amount}, {b.Cap, got.Cap}, {b.MinAmount, got.MinAmount}} {
			assert.True(t, pair[0].Equal(pair[1]), "%s != %s", pair[0], pair[1])
			assert.Equal(t, pair[0].String(), pair[1].String())
		}
		assert.True(t, b.ClaimEnd.Equal(got.ClaimEnd))
		assert.True(t, b.Validity.End.Equal(got.Validity.End))
		assert.True(t, b.Updated.Equal(got.Updated))

		// The store copies: changing the caller's record changes nothing.
		b.Scope.Products[0] = newID[commerce.ProductID]()
		got.Scope.SKUs[0] = newID[commerce.SKUID]()
		again, err := s.GetBatch(ctx, m, b.ID)
		require.NoError(t, err)
		assert.NotEqual(t, b.Scope.Products[0], again.Scope.Products[0])
		assert.NotEqual(t, got.Scope.SKUs[0], again.Scope.SKUs[0])

		_, err = s.GetBatch(ctx, newID[commerce.MerchantID](), b.ID)
		assert.ErrorIs(t, err, storage.ErrNotFound, "another merchant's batch")
		_, err = s.GetBatch(ctx, m, newID[coupons.BatchID]())
		assert.ErrorIs(t, err, storage.ErrNotFound)
		require.NoError(t, s.CreateBatch(ctx, fullBatch(m)), "another batch of the merchant")
		dup := fullBatch(m)
		dup.ID = b.ID
		assert.ErrorIs(t, s.CreateBatch(ctx, dup), storage.ErrConflict)
	})

	t.Run("UpdateBatch", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		b := simpleBatch(m, 10, 0)
		require.NoError(t, s.CreateBatch(ctx, b))
		require.NoError(t, s.TakeClaim(ctx, m, b.ID, "c1", 0, 10))
		require.NoError(t, s.UpdateBatch(ctx, m, b.ID, func(x *coupons.Batch) error {
			assert.EqualValues(t, 1, x.Claimed, "fn sees the claim count")
			x.Name, x.Total, x.Status = "改名 ✓", 20, coupons.Paused
			x.Claimed = 999                             // not written
			x.ID = newID[coupons.BatchID]()             // kept
			x.MerchantID = newID[commerce.MerchantID]() // kept
			x.Updated = t0.Add(time.Hour)
			return nil
		}))
		got, err := s.GetBatch(ctx, m, b.ID)
		require.NoError(t, err)
		assert.Equal(t, "改名 ✓", got.Name)
		assert.EqualValues(t, 20, got.Total)
		assert.Equal(t, coupons.Paused, got.Status)
		assert.EqualValues(t, 1, got.Claimed)
		assert.EqualValues(t, 1, got.Version)
		assert.Equal(t, b.ID, got.ID)
		assert.Equal(t, m, got.MerchantID)
		assert.True(t, got.Updated.Equal(t0.Add(time.Hour)))

		// The new total is the one claims count against.
		for i := range 19 {
			require.NoError(t, s.TakeClaim(ctx, m, b.ID, commerce.CustomerID(fmt.Sprint("c", i)), 0, got.Total))
		}
		assert.ErrorIs(t, s.TakeClaim(ctx, m, b.ID, "late", 0, got.Total), coupons.ErrSoldOut)

		boom := errors.New("boom")
		assert.ErrorIs(t, s.UpdateBatch(ctx, m, b.ID, func(x *coupons.Batch) error { x.Name = "no"; return boom }), boom)
		got, err = s.GetBatch(ctx, m, b.ID)
		require.NoError(t, err)
		assert.Equal(t, "改名 ✓", got.Name)
		assert.EqualValues(t, 20, got.Claimed)
		assert.EqualValues(t, 1, got.Version)
		assert.ErrorIs(t, s.UpdateBatch(ctx, newID[commerce.MerchantID](), b.ID, func(*coupons.Batch) error { return nil }), storage.ErrNotFound)
	})

	t.Run("ListAndGetBatches", func(t *testing.T) {
		s := open(t)
		m, other := newID[commerce.MerchantID](), newID[commerce.MerchantID]()
		var ids []coupons.BatchID
		for i := range 5 {
			b := simpleBatch(m, 1, 0)
			b.Name = fmt.Sprint("batch ", i)
			require.NoError(t, s.CreateBatch(ctx, b))
			ids = append(ids, b.ID)
			require.NoError(t, s.CreateBatch(ctx, simpleBatch(other, 1, 0)))
		}
		var seen []coupons.BatchID
		var after coupons.BatchID
		for {
			page, err := s.ListBatches(ctx, m, after, 2)
			require.NoError(t, err)
			if len(page) == 0 {
				break
			}
			assert.LessOrEqual(t, len(page), 2)
			for _, b := range page {
				assert.Equal(t, m, b.MerchantID)
				seen = append(seen, b.ID)
			}
			after = page[len(page)-1].ID
		}
		assert.Equal(t, ids, seen, "every batch once, in ID order")
		all, err := s.ListBatches(ctx, m, coupons.BatchID{}, 0)
		require.NoError(t, err)
		assert.Len(t, all, 5)

		got, err := s.GetBatches(ctx, m, []coupons.BatchID{ids[3], newID[coupons.BatchID](), ids[1]})
		require.NoError(t, err)
		names := map[string]bool{}
		for _, b := range got {
			names[b.Name] = true
		}
		assert.Equal(t, map[string]bool{"batch 3": true, "batch 1": true}, names)
		got, err = s.GetBatches(ctx, other, ids)
		require.NoError(t, err)
		assert.Empty(t, got, "another merchant's ids")
		got, err = s.GetBatches(ctx, m, nil)
		require.NoError(t, err)
		assert.Empty(t, got)
	})

	t.Run("TakeClaimLimits", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		b := simpleBatch(m, 3, 2)
		require.NoError(t, s.CreateBatch(ctx, b))
		require.NoError(t, s.TakeClaim(ctx, m, b.ID, "c1", 2, 3))
		require.NoError(t, s.TakeClaim(ctx, m, b.ID, "c1", 2, 3))
		err := s.TakeClaim(ctx, m, b.ID, "c1", 2, 3)
		assert.ErrorIs(t, err, coupons.ErrLimitReached)
		assert.NotErrorIs(t, err, coupons.ErrSoldOut)
		require.NoError(t, s.TakeClaim(ctx, m, b.ID, "c2", 2, 3))
		assert.ErrorIs(t, s.TakeClaim(ctx, m, b.ID, "c3", 2, 3), coupons.ErrSoldOut)
		assert.ErrorIs(t, s.TakeClaim(ctx, m, b.ID, "c3", 2, 3), coupons.ErrSoldOut)
		got, err := s.GetBatch(ctx, m, b.ID)
		require.NoError(t, err)
		assert.EqualValues(t, 3, got.Claimed)

		// The sold-out attempts counted nothing for c3: with more stock, c3
		// claims twice.
		require.NoError(t, s.UpdateBatch(ctx, m, b.ID, func(x *coupons.Batch) error { x.Total = 10; return nil }))
		require.NoError(t, s.TakeClaim(ctx, m, b.ID, "c3", 2, 10))
		require.NoError(t, s.TakeClaim(ctx, m, b.ID, "c3", 2, 10))
		assert.ErrorIs(t, s.TakeClaim(ctx, m, b.ID, "c3", 2, 10), coupons.ErrLimitReached)
		// perPerson 0: no per-person bound.
		for range 3 {
			require.NoError(t, s.TakeClaim(ctx, m, b.ID, "c1", 0, 10))
		}

		assert.ErrorIs(t, s.TakeClaim(ctx, m, newID[coupons.BatchID](), "c1", 2, 3), storage.ErrNotFound)
		assert.ErrorIs(t, s.TakeClaim(ctx, newID[commerce.MerchantID](), b.ID, "c9", 2, 100), storage.ErrNotFound)

		// A claim inside a transaction that rolls back counts nothing.
		before, err := s.GetBatch(ctx, m, b.ID)
		require.NoError(t, err)
		boom := errors.New("boom")
		err = s.InTx(ctx, func(ctx context.Context) error {
			if err := s.TakeClaim(ctx, m, b.ID, "c9", 1, 100); err != nil {
				return err
			}
			return boom
		})
		assert.ErrorIs(t, err, boom)
		after, err := s.GetBatch(ctx, m, b.ID)
		require.NoError(t, err)
		assert.Equal(t, before.Claimed, after.Claimed)
		require.NoError(t, s.TakeClaim(ctx, m, b.ID, "c9", 1, 100), "c9's rolled-back claim is not counted")
	})

	t.Run("TakeClaimConcurrent", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		b := simpleBatch(m, 10, 2)
		require.NoError(t, s.CreateBatch(ctx, b))
		const workers, customers = 64, 20
		var mu sync.Mutex
		got := map[commerce.CustomerID]int{}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range workers {
			c := commerce.CustomerID(fmt.Sprint("顾客-", i%customers))
			wg.Go(func() {
				<-start
				err := s.TakeClaim(ctx, m, b.ID, c, 2, 10)
				switch {
				case err == nil:
					mu.Lock()
					got[c]++
					mu.Unlock()
				case errors.Is(err, coupons.ErrSoldOut), errors.Is(err, coupons.ErrLimitReached):
				default:
					t.Errorf("claim by %s: %v", c, err)
				}
			})
		}
		close(start)
		wg.Wait()
		total := 0
		for c, n := range got {
			assert.LessOrEqual(t, n, 2, "customer %s claimed %d", c, n)
			total += n
		}
		assert.Equal(t, 10, total)
		after, err := s.GetBatch(ctx, m, b.ID)
		require.NoError(t, err)
		assert.EqualValues(t, 10, after.Claimed)
	})

	t.Run("CouponRoundTrip", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		b := simpleBatch(m, 10, 0)
		require.NoError(t, s.CreateBatch(ctx, b))
		c := fullCoupon(b, "顾客-甲", "req-1")
		require.NoError(t, s.InsertCoupon(ctx, c))
		got, err := s.GetCoupon(ctx, m, c.ID)
		require.NoError(t, err)
		assert.Equal(t, asJSON(t, c), asJSON(t, got))
		assert.True(t, got.UsedAt.IsZero())
		assert.True(t, got.OrderID.IsZero())
		assert.True(t, c.ValidUntil.Equal(got.ValidUntil))

		byReq, err := s.CouponByRequest(ctx, m, b.ID, "顾客-甲", "req-1")
		require.NoError(t, err)
		assert.Equal(t, c.ID, byReq.ID)
		_, err = s.CouponByRequest(ctx, m, b.ID, "顾客-乙", "req-1")
		assert.ErrorIs(t, err, storage.ErrNotFound)
		_, err = s.CouponByRequest(ctx, newID[commerce.MerchantID](), b.ID, "顾客-甲", "req-1")
		assert.ErrorIs(t, err, storage.ErrNotFound)
		_, err = s.GetCoupon(ctx, newID[commerce.MerchantID](), c.ID)
		assert.ErrorIs(t, err, storage.ErrNotFound)

		// Same customer, batch and request: a conflict. Another customer or
		// request is fine, and coupons without a request ID never collide.
		dup := fullCoupon(b, "顾客-甲", "req-1")
		assert.ErrorIs(t, s.InsertCoupon(ctx, dup), storage.ErrConflict)
		dupID := fullCoupon(b, "顾客-甲", "req-x")
		dupID.ID = c.ID
		assert.ErrorIs(t, s.InsertCoupon(ctx, dupID), storage.ErrConflict)
		require.NoError(t, s.InsertCoupon(ctx, fullCoupon(b, "顾客-乙", "req-1")))
		require.NoError(t, s.InsertCoupon(ctx, fullCoupon(b, "顾客-甲", "req-2")))
		g1, g2 := fullCoupon(b, "顾客-甲", ""), fullCoupon(b, "顾客-甲", "")
		require.NoError(t, s.InsertCoupon(ctx, g1))
		require.NoError(t, s.InsertCoupon(ctx, g2))

		list, err := s.GetCoupons(ctx, m, []coupons.CouponID{c.ID, g2.ID, newID[coupons.CouponID]()})
		require.NoError(t, err)
		assert.Len(t, list, 2)
		list, err = s.GetCoupons(ctx, newID[commerce.MerchantID](), []coupons.CouponID{c.ID})
		require.NoError(t, err)
		assert.Empty(t, list)

		// Candidates: each coupon with its batch, in one read.
		b2 := simpleBatch(m, 5, 0)
		require.NoError(t, s.CreateBatch(ctx, b2))
		c2 := fullCoupon(b2, "顾客-甲", "req-b2")
		require.NoError(t, s.InsertCoupon(ctx, c2))
		wantB, err := s.GetBatch(ctx, m, b.ID)
		require.NoError(t, err)
		wantB2, err := s.GetBatch(ctx, m, b2.ID)
		require.NoError(t, err)
		cands, err := s.GetCandidates(ctx, m, []coupons.CouponID{c2.ID, newID[coupons.CouponID](), c.ID})
		require.NoError(t, err)
		require.Len(t, cands, 2)
		byID := map[coupons.CouponID]coupons.Candidate{}
		for _, cd := range cands {
			byID[cd.Coupon.ID] = cd
		}
		assert.Equal(t, asJSON(t, c), asJSON(t, byID[c.ID].Coupon))
		assert.Equal(t, asJSON(t, wantB), asJSON(t, byID[c.ID].Batch))
		assert.Equal(t, asJSON(t, c2), asJSON(t, byID[c2.ID].Coupon))
		assert.Equal(t, asJSON(t, wantB2), asJSON(t, byID[c2.ID].Batch))
		cands, err = s.GetCandidates(ctx, newID[commerce.MerchantID](), []coupons.CouponID{c.ID})
		require.NoError(t, err)
		assert.Empty(t, cands, "another merchant's coupon")
		cands, err = s.GetCandidates(ctx, m, nil)
		require.NoError(t, err)
		assert.Empty(t, cands)

		// The wallet's candidates: the customer's valid coupons at this
		// merchant only, soonest expiry first, each with its batch.
		w := newID[commerce.MerchantID]()
		wb := simpleBatch(w, 10, 0)
		require.NoError(t, s.CreateBatch(ctx, wb))
		later, sooner, used := fullCoupon(wb, "顾客-丙", ""), fullCoupon(wb, "顾客-丙", ""), fullCoupon(wb, "顾客-丙", "")
		sooner.ValidUntil = later.ValidUntil.Add(-time.Hour)
		used.Status = coupons.Used
		elsewhere := fullCoupon(b, "顾客-丙", "") // merchant m's
		someoneElse := fullCoupon(wb, "顾客-丁", "")
		for _, c := range []*coupons.Coupon{later, sooner, used, elsewhere, someoneElse} {
			require.NoError(t, s.InsertCoupon(ctx, c))
		}
		wantWB, err := s.GetBatch(ctx, w, wb.ID)
		require.NoError(t, err)
		cands, err = s.WalletCandidates(ctx, w, "顾客-丙", 100)
		require.NoError(t, err)
		require.Len(t, cands, 2)
		assert.Equal(t, sooner.ID, cands[0].Coupon.ID)
		assert.Equal(t, later.ID, cands[1].Coupon.ID)
		assert.Equal(t, asJSON(t, later), asJSON(t, cands[1].Coupon))
		assert.Equal(t, asJSON(t, wantWB), asJSON(t, cands[0].Batch))
		cands, err = s.WalletCandidates(ctx, w, "顾客-丙", 1)
		require.NoError(t, err)
		require.Len(t, cands, 1, "at most limit")
		assert.Equal(t, sooner.ID, cands[0].Coupon.ID)
		cands, err = s.WalletCandidates(ctx, w, "nobody", 100)
		require.NoError(t, err)
		assert.Empty(t, cands)

		n, err := s.CountGroupCoupons(ctx, m, b.ID, "顾客-甲", "群-42")
		require.NoError(t, err)
		assert.Equal(t, 4, n)
		n, err = s.CountGroupCoupons(ctx, m, b.ID, "顾客-甲", "群-43")
		require.NoError(t, err)
		assert.Equal(t, 0, n)
	})

	t.Run("UpdateCoupon", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		b := simpleBatch(m, 10, 0)
		require.NoError(t, s.CreateBatch(ctx, b))
		c := fullCoupon(b, "giver", "req-1")
		require.NoError(t, s.InsertCoupon(ctx, c))
		other := fullCoupon(b, "friend", "req-9")
		require.NoError(t, s.InsertCoupon(ctx, other))
		order := newID[commerce.OrderID]()
		require.NoError(t, s.UpdateCoupon(ctx, m, c.ID, func(x *coupons.Coupon) error {
			x.Status, x.Reminded, x.OrderID, x.UsedAt = coupons.Used, true, order, t0.Add(time.Hour)
			x.Customer, x.Group, x.ValidUntil = "friend", "群-7", t0.Add(time.Hour)
			x.ID, x.MerchantID, x.BatchID = newID[coupons.CouponID](), newID[commerce.MerchantID](), newID[coupons.BatchID]()
			return nil
		}))
		got, err := s.GetCoupon(ctx, m, c.ID)
		require.NoError(t, err)
		assert.Equal(t, coupons.Used, got.Status)
		assert.True(t, got.Reminded)
		assert.Equal(t, order, got.OrderID)
		assert.True(t, got.UsedAt.Equal(t0.Add(time.Hour)))
		assert.Equal(t, commerce.CustomerID("friend"), got.Customer)
		assert.Equal(t, "群-7", got.Group)
		assert.Equal(t, c.ID, got.ID)
		assert.Equal(t, b.ID, got.BatchID)
		assert.Equal(t, m, got.MerchantID)
		assert.EqualValues(t, 2, got.Version)
		n, err := s.CountGroupCoupons(ctx, m, b.ID, "friend", "群-7")
		require.NoError(t, err)
		assert.Equal(t, 1, n)
		mine, err := s.CustomerCoupons(ctx, "friend", coupons.Used, 0)
		require.NoError(t, err)
		require.Len(t, mine, 1)
		assert.Equal(t, c.ID, mine[0].ID)
		byReq, err := s.CouponByRequest(ctx, m, b.ID, "friend", "req-1")
		require.NoError(t, err)
		assert.Equal(t, c.ID, byReq.ID)

		// Moving onto another coupon's request key is a conflict.
		err = s.UpdateCoupon(ctx, m, c.ID, func(x *coupons.Coupon) error { x.RequestID = "req-9"; return nil })
		assert.ErrorIs(t, err, storage.ErrConflict)
		boom := errors.New("boom")
		assert.ErrorIs(t, s.UpdateCoupon(ctx, m, c.ID, func(x *coupons.Coupon) error { x.Status = coupons.Void; return boom }), boom)
		got, err = s.GetCoupon(ctx, m, c.ID)
		require.NoError(t, err)
		assert.Equal(t, coupons.Used, got.Status)
		assert.EqualValues(t, 2, got.Version)
		assert.ErrorIs(t, s.UpdateCoupon(ctx, newID[commerce.MerchantID](), c.ID, func(*coupons.Coupon) error { return nil }), storage.ErrNotFound)
	})

	t.Run("RedeemAndRelease", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		b := simpleBatch(m, 10, 0)
		require.NoError(t, s.CreateBatch(ctx, b))
		c := fullCoupon(b, "顾客-甲", "req-1")
		require.NoError(t, s.InsertCoupon(ctx, c))

		assert.ErrorIs(t, s.RedeemCoupon(ctx, m, c.ID, "顾客-乙", newID[commerce.OrderID](), t0), coupons.ErrCouponUnavailable, "someone else's coupon")
		assert.ErrorIs(t, s.RedeemCoupon(ctx, m, newID[coupons.CouponID](), "顾客-甲", newID[commerce.OrderID](), t0), storage.ErrNotFound)
		assert.ErrorIs(t, s.RedeemCoupon(ctx, newID[commerce.MerchantID](), c.ID, "顾客-甲", newID[commerce.OrderID](), t0), storage.ErrNotFound)

		const workers = 32
		orders := make([]commerce.OrderID, workers)
		for i := range orders {
			orders[i] = newID[commerce.OrderID]()
		}
		at := t0.Add(2 * time.Hour)
		errs := make([]error, workers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range workers {
			wg.Go(func() {
				<-start
				errs[i] = s.RedeemCoupon(ctx, m, c.ID, "顾客-甲", orders[i], at)
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			if err == nil {
				assert.Equal(t, -1, winner, "two redemptions succeeded")
				winner = i
			} else {
				assert.ErrorIs(t, err, coupons.ErrCouponUnavailable)
			}
		}
		require.NotEqual(t, -1, winner, "no redemption succeeded")
		got, err := s.GetCoupon(ctx, m, c.ID)
		require.NoError(t, err)
		assert.Equal(t, coupons.Used, got.Status)
		assert.Equal(t, orders[winner], got.OrderID)
		assert.True(t, got.UsedAt.Equal(at), "used at %v", got.UsedAt)
		assert.EqualValues(t, 2, got.Version)
		assert.Equal(t, c.Code, got.Code, "the document survives")

		// Release: only by the order that used it, once.
		ok, err := s.ReleaseCoupon(ctx, m, c.ID, orders[(winner+1)%workers])
		require.NoError(t, err)
		assert.False(t, ok, "another order's release")
		ok, err = s.ReleaseCoupon(ctx, newID[commerce.MerchantID](), c.ID, orders[winner])
		require.NoError(t, err)
		assert.False(t, ok, "another merchant's release")
		released := make([]bool, 2)
		for i := range released {
			wg.Go(func() {
				var err error
				released[i], err = s.ReleaseCoupon(ctx, m, c.ID, orders[winner])
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		assert.ElementsMatch(t, []bool{true, false}, released)
		got, err = s.GetCoupon(ctx, m, c.ID)
		require.NoError(t, err)
		assert.Equal(t, coupons.Valid, got.Status)
		assert.True(t, got.OrderID.IsZero())
		assert.True(t, got.UsedAt.IsZero())
		assert.EqualValues(t, 3, got.Version)
		ok, err = s.ReleaseCoupon(ctx, m, newID[coupons.CouponID](), orders[winner])
		require.NoError(t, err)
		assert.False(t, ok, "unknown coupon")

		// Valid again: redeemable again.
		require.NoError(t, s.RedeemCoupon(ctx, m, c.ID, "顾客-甲", orders[0], at))
		for _, st := range []coupons.Status{coupons.Expired, coupons.Transferred, coupons.Void} {
			x := fullCoupon(b, "顾客-甲", "")
			x.Status = st
			require.NoError(t, s.InsertCoupon(ctx, x))
			assert.ErrorIs(t, s.RedeemCoupon(ctx, m, x.ID, "顾客-甲", orders[1], at), coupons.ErrCouponUnavailable, st)
		}

		// A redemption in a transaction that rolls back leaves it valid.
		y := fullCoupon(b, "顾客-甲", "")
		require.NoError(t, s.InsertCoupon(ctx, y))
		boom := errors.New("boom")
		err = s.InTx(ctx, func(ctx context.Context) error {
			if err := s.RedeemCoupon(ctx, m, y.ID, "顾客-甲", orders[2], at); err != nil {
				return err
			}
			return boom
		})
		assert.ErrorIs(t, err, boom)
		got, err = s.GetCoupon(ctx, m, y.ID)
		require.NoError(t, err)
		assert.Equal(t, coupons.Valid, got.Status)
	})

	t.Run("LockValidCoupons", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		b := simpleBatch(m, 10, 0)
		require.NoError(t, s.CreateBatch(ctx, b))
		mine := func(st coupons.Status, customer commerce.CustomerID) *coupons.Coupon {
			c := fullCoupon(b, customer, "")
			c.Status = st
			require.NoError(t, s.InsertCoupon(ctx, c))
			return c
		}
		// Inserted out of id order, asked for out of order: locked in id order.
		v1 := fullCoupon(b, "顾客-甲", "") // the smaller id, inserted second
		v2 := mine(coupons.Valid, "顾客-甲")
		require.NoError(t, s.InsertCoupon(ctx, v1))
		used := mine(coupons.Valid, "顾客-甲")
		require.NoError(t, s.RedeemCoupon(ctx, m, used.ID, "顾客-甲", newID[commerce.OrderID](), t0))
		void := mine(coupons.Void, "顾客-甲")
		theirs := mine(coupons.Valid, "顾客-乙")
		ids := []coupons.CouponID{used.ID, v2.ID, theirs.ID, newID[coupons.CouponID](), void.ID, v1.ID}
		var got []*coupons.Coupon
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
			var err error
			got, err = s.LockValidCoupons(ctx, m, "顾客-甲", ids)
			return err
		}))
		require.Len(t, got, 2, "only the customer's valid coupons")
		assert.Equal(t, asJSON(t, v1), asJSON(t, got[0]))
		assert.Equal(t, asJSON(t, v2), asJSON(t, got[1]))
		got, err := s.LockValidCoupons(ctx, newID[commerce.MerchantID](), "顾客-甲", ids)
		require.NoError(t, err)
		assert.Empty(t, got, "another merchant's")
		got, err = s.LockValidCoupons(ctx, m, "顾客-甲", nil)
		require.NoError(t, err)
		assert.Empty(t, got)

		// A coupon locked valid stays valid for the transaction: of many
		// transactions that lock it and then redeem it, exactly one
		// redeems it, and none sees it locked and then fails to redeem.
		const workers = 16
		var wg sync.WaitGroup
		var mu sync.Mutex
		redeemed := 0
		start := make(chan struct{})
		for i := range workers {
			wg.Go(func() {
				<-start
				won := false
				err := s.InTx(ctx, func(ctx context.Context) error {
					won = false // the store may run this again: only the committed attempt counts
					got, err := s.LockValidCoupons(ctx, m, "顾客-甲", []coupons.CouponID{v1.ID})
					if err != nil || len(got) == 0 {
						return err
					}
					if err := s.RedeemCoupon(ctx, m, v1.ID, "顾客-甲", newID[commerce.OrderID](), t0); err != nil {
						return fmt.Errorf("worker %d: locked valid, then: %w", i, err)
					}
					won = true
					return nil
				})
				if assert.NoError(t, err) && won {
					mu.Lock()
					redeemed++
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		assert.Equal(t, 1, redeemed, "the coupon is redeemed once")
		c, err := s.GetCoupon(ctx, m, v1.ID)
		require.NoError(t, err)
		assert.Equal(t, coupons.Used, c.Status)
	})

	t.Run("Codes", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		b := simpleBatch(m, 1000, 0)
		require.NoError(t, s.CreateBatch(ctx, b))
		var codes []coupons.Code
		for i := range 250 {
			codes = append(codes, coupons.Code{Code: fmt.Sprintf("CODE-%04d", i), BatchID: b.ID, MerchantID: m})
		}
		require.NoError(t, s.InsertCodes(ctx, codes))
		require.NoError(t, s.InsertCodes(ctx, nil))
		// One duplicate fails the whole call.
		err := s.InsertCodes(ctx, []coupons.Code{{Code: "NEW-1", BatchID: b.ID, MerchantID: m}, {Code: "CODE-0007", BatchID: b.ID, MerchantID: m}})
		assert.ErrorIs(t, err, storage.ErrConflict)
		_, err = s.TakeCode(ctx, "NEW-1", newID[coupons.CouponID]())
		assert.ErrorIs(t, err, storage.ErrNotFound, "the failed call left no code")
		err = s.InsertCodes(ctx, []coupons.Code{{Code: "NEW-2", BatchID: b.ID, MerchantID: m}, {Code: "NEW-2", BatchID: b.ID, MerchantID: m}})
		assert.ErrorIs(t, err, storage.ErrConflict, "a duplicate inside the call")

		coupon := newID[coupons.CouponID]()
		got, err := s.TakeCode(ctx, "CODE-0249", coupon)
		require.NoError(t, err)
		assert.Equal(t, coupons.Code{Code: "CODE-0249", BatchID: b.ID, MerchantID: m, CouponID: coupon}, *got)
		_, err = s.TakeCode(ctx, "CODE-0249", newID[coupons.CouponID]())
		assert.ErrorIs(t, err, coupons.ErrCodeUsed)
		_, err = s.TakeCode(ctx, "code-0249", newID[coupons.CouponID]())
		assert.ErrorIs(t, err, storage.ErrNotFound, "codes compare exactly")
		_, err = s.TakeCode(ctx, "NOPE", newID[coupons.CouponID]())
		assert.ErrorIs(t, err, storage.ErrNotFound)

		// Two takers of one code: one wins.
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() { _, errs[i] = s.TakeCode(ctx, "CODE-0100", newID[coupons.CouponID]()) })
		}
		wg.Wait()
		assert.Equal(t, 1, countNil(errs))
		for _, err := range errs {
			if err != nil {
				assert.ErrorIs(t, err, coupons.ErrCodeUsed)
			}
		}
	})

	t.Run("DueCoupons", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		b := simpleBatch(m, 100, 0)
		require.NoError(t, s.CreateBatch(ctx, b))
		mk := func(until time.Duration, st coupons.Status, reminded bool) *coupons.Coupon {
			c := fullCoupon(b, "顾客", "")
			c.ValidUntil, c.Status, c.Reminded = t0.Add(until), st, reminded
			require.NoError(t, s.InsertCoupon(ctx, c))
			return c
		}
		late := mk(3*time.Hour, coupons.Valid, false)
		tieA := mk(time.Hour, coupons.Valid, false)
		tieB := mk(time.Hour, coupons.Valid, true) // same ValidUntil: ID order
		first := mk(-time.Hour, coupons.Valid, true)
		mk(-2*time.Hour, coupons.Used, false)
		mk(-2*time.Hour, coupons.Expired, false)
		mk(5*time.Hour, coupons.Valid, false) // not due
		atEdge := mk(4*time.Hour, coupons.Valid, false)

		ids := func(cs []*coupons.Coupon) []coupons.CouponID {
			var out []coupons.CouponID
			for _, c := range cs {
				out = append(out, c.ID)
			}
			return out
		}
		due, err := s.DueCoupons(ctx, t0.Add(4*time.Hour), false, 0)
		require.NoError(t, err)
		assert.Equal(t, []coupons.CouponID{first.ID, tieA.ID, tieB.ID, late.ID, atEdge.ID}, ids(due), "ValidUntil <= before, soonest first")
		due, err = s.DueCoupons(ctx, t0.Add(4*time.Hour), true, 0)
		require.NoError(t, err)
		assert.Equal(t, []coupons.CouponID{tieA.ID, late.ID, atEdge.ID}, ids(due), "unreminded only")
		due, err = s.DueCoupons(ctx, t0.Add(4*time.Hour), false, 2)
		require.NoError(t, err)
		assert.Equal(t, []coupons.CouponID{first.ID, tieA.ID}, ids(due))

		// Marking reminded and expiring move coupons out of the lists.
		require.NoError(t, s.UpdateCoupon(ctx, m, tieA.ID, func(c *coupons.Coupon) error { c.Reminded = true; return nil }))
		require.NoError(t, s.UpdateCoupon(ctx, m, first.ID, func(c *coupons.Coupon) error { c.Status = coupons.Expired; return nil }))
		due, err = s.DueCoupons(ctx, t0.Add(4*time.Hour), true, 0)
		require.NoError(t, err)
		assert.Equal(t, []coupons.CouponID{late.ID, atEdge.ID}, ids(due))
		due, err = s.DueCoupons(ctx, t0.Add(4*time.Hour), false, 0)
		require.NoError(t, err)
		assert.Equal(t, []coupons.CouponID{tieA.ID, tieB.ID, late.ID, atEdge.ID}, ids(due))
	})

	t.Run("CustomerCoupons", func(t *testing.T) {
		s := open(t)
		m1, m2 := newID[commerce.MerchantID](), newID[commerce.MerchantID]()
		b1, b2 := simpleBatch(m1, 100, 0), simpleBatch(m2, 100, 0)
		require.NoError(t, s.CreateBatch(ctx, b1))
		require.NoError(t, s.CreateBatch(ctx, b2))
		mk := func(b *coupons.Batch, customer commerce.CustomerID, until time.Duration, st coupons.Status) *coupons.Coupon {
			c := fullCoupon(b, customer, "")
			c.ValidUntil, c.Status = t0.Add(until), st
			require.NoError(t, s.InsertCoupon(ctx, c))
			return c
		}
		a := mk(b2, "顾客", 3*time.Hour, coupons.Valid)
		bb := mk(b1, "顾客", time.Hour, coupons.Valid)
		cc := mk(b2, "顾客", time.Hour, coupons.Used) // ties bb: ID order
		d := mk(b1, "顾客", 2*time.Hour, coupons.Expired)
		e := mk(b2, "顾客", -time.Hour, coupons.Valid)
		mk(b1, "别人", 0, coupons.Valid)
		mk(b1, "顾客2", 0, coupons.Valid)

		ids := func(cs []*coupons.Coupon) []coupons.CouponID {
			var out []coupons.CouponID
			for _, c := range cs {
				out = append(out, c.ID)
			}
			return out
		}
		all, err := s.CustomerCoupons(ctx, "顾客", "", 0)
		require.NoError(t, err)
		assert.Equal(t, []coupons.CouponID{e.ID, bb.ID, cc.ID, d.ID, a.ID}, ids(all))
		valid, err := s.CustomerCoupons(ctx, "顾客", coupons.Valid, 0)
		require.NoError(t, err)
		assert.Equal(t, []coupons.CouponID{e.ID, bb.ID, a.ID}, ids(valid))
		used, err := s.CustomerCoupons(ctx, "顾客", coupons.Used, 0)
		require.NoError(t, err)
		assert.Equal(t, []coupons.CouponID{cc.ID}, ids(used))
		two, err := s.CustomerCoupons(ctx, "顾客", "", 2)
		require.NoError(t, err)
		assert.Equal(t, []coupons.CouponID{e.ID, bb.ID}, ids(two))
		none, err := s.CustomerCoupons(ctx, "nobody", "", 0)
		require.NoError(t, err)
		assert.Empty(t, none)

		// A redemption shows in the status filter at once.
		require.NoError(t, s.RedeemCoupon(ctx, m2, e.ID, "顾客", newID[commerce.OrderID](), t0))
		used, err = s.CustomerCoupons(ctx, "顾客", coupons.Used, 0)
		require.NoError(t, err)
		assert.Equal(t, []coupons.CouponID{e.ID, cc.ID}, ids(used))
	})
}

func countNil(errs []error) int {
	n := 0
	for _, err := range errs {
		if err == nil {
			n++
		}
	}
	return n
}
