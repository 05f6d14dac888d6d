package storetest

// Direct tests of the promoter store contract, below the service: records
// that round trip whole, the sharer cap that concurrent binds never pass,
// the customer lock that concurrent visits agree on, and commissions that
// insert all or nothing. Run from Run as "PromoterStore".

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
	"github.com/minishop/minishop/promoter"
	"github.com/minishop/minishop/storage"
)

func fullAgency() *promoter.Agency {
	return &promoter.Agency{
		ID:            newID[promoter.AgencyID](),
		Name:          "星火传媒 \"Spark\" \\ 🔥",
		PromoterShare: commerce.MustPercent(35),
		PaysItself:    true,
		Overrides: map[commerce.ProductID]commerce.Rate{
			newID[commerce.ProductID](): commerce.MustPercent(10),
			newID[commerce.ProductID](): commerce.MustPercent(100),
		},
		Created: t0.Add(7 * time.Microsecond),
		Version: 2,
	}
}

func fullPromoter(agency promoter.AgencyID) *promoter.Promoter {
	return &promoter.Promoter{
		ID:          newID[promoter.PromoterID](),
		Name:        "推广员 小红 \"Red\" \\ 🌹",
		AgencyID:    agency,
		AgencyBound: t0.Add(time.Hour + 3*time.Microsecond),
		Created:     t0,
		Version:     1,
	}
}

func fullPlan(merchant commerce.MerchantID, product commerce.ProductID) *promoter.Plan {
	return &promoter.Plan{
		MerchantID: merchant,
		ProductID:  product,
		Kind:       promoter.Exclusive,
		Rate:       commerce.PPM(123456),
		Promoters:  []promoter.PromoterID{newID[promoter.PromoterID](), newID[promoter.PromoterID]()},
		Agencies:   []promoter.AgencyID{newID[promoter.AgencyID]()},
		Start:      t0.Add(time.Microsecond),
		End:        t0.Add(48*time.Hour + 999999*time.Microsecond),
		Withdrawn:  true,
		Updated:    t0.Add(time.Second),
		Version:    7, // the store sets it
	}
}

// fullCommission is line of an order with every field set.
func fullCommission(merchant commerce.MerchantID, order commerce.OrderID, line int, p promoter.PromoterID, agency promoter.AgencyID, created time.Time) *promoter.Commission {
	return &promoter.Commission{
		ID:             newID[promoter.CommissionID](),
		MerchantID:     merchant,
		OrderID:        order,
		Line:           line,
		ProductID:      newID[commerce.ProductID](),
		Customer:       "顾客-甲",
		PromoterID:     p,
		AgencyID:       agency,
		Scene:          promoter.SceneGroup,
		Rate:           commerce.MustPercent(12),
		Base:           commercetest.CNY("99.99"),
		Amount:         commercetest.CNY("12.00"),
		AgencyPart:     commercetest.CNY("7.80"),
		PromoterPart:   commercetest.CNY("4.20"),
		AgencyPays:     true,
		Reversed:       commercetest.CNY("1.05"),
		ReversedAgency: commercetest.CNY("0.68"),
		Clawed:         commercetest.CNY("0.50"),
		ClawedAgency:   commercetest.CNY("0.33"),
		Status:         promoter.Settled,
		Created:        created,
		SettledAt:      created.Add(7*24*time.Hour + time.Microsecond),
		CancelledAt:    created.Add(8*24*time.Hour + 2*time.Microsecond),
		Version:        3,
	}
}

// sameAgency asserts that got is want, every field, times to the
// microsecond.
func sameAgency(t *testing.T, want, got *promoter.Agency, msg ...any) {
	t.Helper()
	assert.Equal(t, asJSON(t, want), asJSON(t, got), msg...)
	assert.Equal(t, want.Overrides, got.Overrides, msg...)
	assert.True(t, want.Created.Equal(got.Created), "%s != %s %v", want.Created, got.Created, msg)
}

func samePromoter(t *testing.T, want, got *promoter.Promoter, msg ...any) {
	t.Helper()
	assert.Equal(t, asJSON(t, want), asJSON(t, got), msg...)
	for _, p := range [][2]time.Time{{want.AgencyBound, got.AgencyBound}, {want.Created, got.Created}} {
		assert.True(t, p[0].Equal(p[1]), "%s != %s %v", p[0], p[1], msg)
	}
}

func samePlan(t *testing.T, want, got *promoter.Plan, msg ...any) {
	t.Helper()
	assert.Equal(t, asJSON(t, want), asJSON(t, got), msg...)
	for _, p := range [][2]time.Time{{want.Start, got.Start}, {want.End, got.End}, {want.Updated, got.Updated}} {
		assert.True(t, p[0].Equal(p[1]), "%s != %s %v", p[0], p[1], msg)
	}
}

// sameCommission asserts that got is want, every field: amounts by value,
// times to the microsecond.
func sameCommission(t *testing.T, want, got *promoter.Commission, msg ...any) {
	t.Helper()
	assert.Equal(t, asJSON(t, want), asJSON(t, got), msg...)
	for _, p := range [][2]commerce.Money{
		{want.Base, got.Base}, {want.Amount, got.Amount}, {want.AgencyPart, got.AgencyPart}, {want.PromoterPart, got.PromoterPart},
		{want.Reversed, got.Reversed}, {want.ReversedAgency, got.ReversedAgency}, {want.Clawed, got.Clawed}, {want.ClawedAgency, got.ClawedAgency},
	} {
		assert.True(t, p[0].Equal(p[1]), "%s != %s %v", p[0], p[1], msg)
	}
	for _, p := range [][2]time.Time{{want.Created, got.Created}, {want.SettledAt, got.SettledAt}, {want.CancelledAt, got.CancelledAt}} {
		assert.True(t, p[0].Equal(p[1]), "%s != %s %v", p[0], p[1], msg)
	}
	assert.Equal(t, want.Status, got.Status, msg...)
	assert.Equal(t, want.Version, got.Version, msg...)
}

func sharerIDs(ss []promoter.Sharer) []promoter.PromoterID {
	var out []promoter.PromoterID
	for _, s := range ss {
		out = append(out, s.PromoterID)
	}
	return out
}

func commissionIDs(cs []*promoter.Commission) []promoter.CommissionID {
	var out []promoter.CommissionID
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

// commissionsIn reads every commission of a promoter or agency in [from,
// to) through the paged read, two at a time, so every listing the suite
// checks also goes through the cursor.
func commissionsIn(ctx context.Context, s promoter.Store, p promoter.PromoterID, a promoter.AgencyID, from, to time.Time) ([]*promoter.Commission, error) {
	var out []*promoter.Commission
	q := promoter.CommissionQuery{Promoter: p, Agency: a, From: from, To: to, Limit: 2}
	for {
		page, err := s.Commissions(ctx, q)
		if err != nil {
			return nil, err
		}
		if len(page) > q.Limit {
			return nil, fmt.Errorf("a page of %d commissions, asked for %d", len(page), q.Limit)
		}
		out = append(out, page...)
		if len(page) < q.Limit {
			return out, nil
		}
		q.After = page[len(page)-1].ID
	}
}

func planProducts(ps []*promoter.Plan) []commerce.ProductID {
	var out []commerce.ProductID
	for _, p := range ps {
		out = append(out, p.ProductID)
	}
	return out
}

func promoterStoreSuite(t *testing.T, open func(t *testing.T) promoter.Store) {
	ctx := context.Background()

	t.Run("AgencyRoundTrip", func(t *testing.T) {
		s := open(t)
		a := fullAgency()
		require.NoError(t, s.InsertAgency(ctx, a))
		got, err := s.GetAgency(ctx, a.ID)
		require.NoError(t, err)
		sameAgency(t, a, got)
		assert.Len(t, got.Overrides, 2)

		// The store copies, in and out.
		want := a.Clone()
		for k := range a.Overrides {
			a.Overrides[k] = commerce.PPM(1)
		}
		a.Name = "changed"
		for k := range got.Overrides {
			delete(got.Overrides, k)
		}
		again, err := s.GetAgency(ctx, a.ID)
		require.NoError(t, err)
		sameAgency(t, want, again)

		// An agency without overrides.
		plain := &promoter.Agency{ID: newID[promoter.AgencyID](), Name: "代理", PromoterShare: commerce.MustPercent(10), Created: t0}
		require.NoError(t, s.InsertAgency(ctx, plain))
		got, err = s.GetAgency(ctx, plain.ID)
		require.NoError(t, err)
		sameAgency(t, plain, got)
		assert.Empty(t, got.Overrides)
		assert.False(t, got.PaysItself)

		taken := fullAgency()
		taken.ID = a.ID
		assert.ErrorIs(t, s.InsertAgency(ctx, taken), storage.ErrConflict)
		again, err = s.GetAgency(ctx, a.ID)
		require.NoError(t, err)
		sameAgency(t, want, again, "the first agency stays")

		_, err = s.GetAgency(ctx, newID[promoter.AgencyID]())
		assert.ErrorIs(t, err, storage.ErrNotFound)
	})

	t.Run("PromoterRoundTrip", func(t *testing.T) {
		s := open(t)
		p := fullPromoter(newID[promoter.AgencyID]())
		require.NoError(t, s.InsertPromoter(ctx, p))
		got, err := s.GetPromoter(ctx, p.ID)
		require.NoError(t, err)
		samePromoter(t, p, got)

		want := p.Clone()
		p.Name = "changed"
		got.AgencyID = promoter.AgencyID{}
		again, err := s.GetPromoter(ctx, p.ID)
		require.NoError(t, err)
		samePromoter(t, want, again)

		// A promoter of no agency.
		free := &promoter.Promoter{ID: newID[promoter.PromoterID](), Name: "个人", Created: t0}
		require.NoError(t, s.InsertPromoter(ctx, free))
		got, err = s.GetPromoter(ctx, free.ID)
		require.NoError(t, err)
		samePromoter(t, free, got)
		assert.True(t, got.AgencyID.IsZero())
		assert.True(t, got.AgencyBound.IsZero())

		taken := fullPromoter(promoter.AgencyID{})
		taken.ID = p.ID
		assert.ErrorIs(t, s.InsertPromoter(ctx, taken), storage.ErrConflict)
		again, err = s.GetPromoter(ctx, p.ID)
		require.NoError(t, err)
		samePromoter(t, want, again, "the first promoter stays")

		_, err = s.GetPromoter(ctx, newID[promoter.PromoterID]())
		assert.ErrorIs(t, err, storage.ErrNotFound)
	})

	t.Run("Update", func(t *testing.T) {
		s := open(t)
		a := fullAgency()
		require.NoError(t, s.InsertAgency(ctx, a))
		p := fullPromoter(promoter.AgencyID{})
		require.NoError(t, s.InsertPromoter(ctx, p))
		product := newID[commerce.ProductID]()

		require.NoError(t, s.UpdateAgency(ctx, a.ID, func(x *promoter.Agency) error {
			sameAgency(t, a, x)
			x.Name, x.PromoterShare, x.PaysItself = "改名 🎈", commerce.MustPercent(80), false
			x.Overrides = map[commerce.ProductID]commerce.Rate{product: commerce.MustPercent(50)}
			x.ID, x.Version = newID[promoter.AgencyID](), 42 // the ID is kept, the version bumped from the stored one
			return nil
		}))
		wantA := a.Clone()
		wantA.Name, wantA.PromoterShare, wantA.PaysItself, wantA.Version = "改名 🎈", commerce.MustPercent(80), false, a.Version+1
		wantA.Overrides = map[commerce.ProductID]commerce.Rate{product: commerce.MustPercent(50)}
		got, err := s.GetAgency(ctx, a.ID)
		require.NoError(t, err)
		sameAgency(t, wantA, got)

		bound := t0.Add(2*time.Hour + 5*time.Microsecond)
		require.NoError(t, s.UpdatePromoter(ctx, p.ID, func(x *promoter.Promoter) error {
			samePromoter(t, p, x)
			x.AgencyID, x.AgencyBound, x.Name = a.ID, bound, "新名字"
			x.ID, x.Version = newID[promoter.PromoterID](), 42
			return nil
		}))
		wantP := p.Clone()
		wantP.AgencyID, wantP.AgencyBound, wantP.Name, wantP.Version = a.ID, bound, "新名字", p.Version+1
		gotP, err := s.GetPromoter(ctx, p.ID)
		require.NoError(t, err)
		samePromoter(t, wantP, gotP)

		// Unbinding clears the agency.
		require.NoError(t, s.UpdatePromoter(ctx, p.ID, func(x *promoter.Promoter) error {
			x.AgencyID, x.AgencyBound = promoter.AgencyID{}, time.Time{}
			return nil
		}))
		wantP.AgencyID, wantP.AgencyBound, wantP.Version = promoter.AgencyID{}, time.Time{}, wantP.Version+1
		gotP, err = s.GetPromoter(ctx, p.ID)
		require.NoError(t, err)
		samePromoter(t, wantP, gotP)

		// A failing fn changes nothing, whatever it changed.
		boom := errors.New("boom")
		err = s.UpdateAgency(ctx, a.ID, func(x *promoter.Agency) error {
			x.Name, x.Overrides = "gone", nil
			return boom
		})
		assert.ErrorIs(t, err, boom)
		got, err = s.GetAgency(ctx, a.ID)
		require.NoError(t, err)
		sameAgency(t, wantA, got)
		err = s.UpdatePromoter(ctx, p.ID, func(x *promoter.Promoter) error {
			x.Name, x.AgencyID = "gone", a.ID
			return boom
		})
		assert.ErrorIs(t, err, boom)
		gotP, err = s.GetPromoter(ctx, p.ID)
		require.NoError(t, err)
		samePromoter(t, wantP, gotP)

		called := false
		err = s.UpdateAgency(ctx, newID[promoter.AgencyID](), func(*promoter.Agency) error { called = true; return nil })
		assert.ErrorIs(t, err, storage.ErrNotFound)
		err = s.UpdatePromoter(ctx, newID[promoter.PromoterID](), func(*promoter.Promoter) error { called = true; return nil })
		assert.ErrorIs(t, err, storage.ErrNotFound)
		assert.False(t, called, "fn never sees a record that is not there")
	})

	t.Run("SharerCap", func(t *testing.T) {
		s := open(t)
		m, other := newID[commerce.MerchantID](), newID[commerce.MerchantID]()
		const limit = 10
		// Bound in an order other than their IDs' and times': the list
		// goes by binding time.
		var ps []promoter.PromoterID
		for range limit {
			ps = append(ps, newID[promoter.PromoterID]())
		}
		at := func(i int) time.Time { return t0.Add(time.Duration((i*7)%limit)*time.Hour + time.Microsecond) }
		for i := limit - 1; i >= 0; i-- {
			require.NoError(t, s.BindSharer(ctx, promoter.Sharer{MerchantID: m, PromoterID: ps[i], BoundAt: at(i)}, limit), "bind %d", i)
		}
		extra := newID[promoter.PromoterID]()
		err := s.BindSharer(ctx, promoter.Sharer{MerchantID: m, PromoterID: extra, BoundAt: t0}, limit)
		assert.ErrorIs(t, err, promoter.ErrSharerCap, "the eleventh")
		err = s.BindSharer(ctx, promoter.Sharer{MerchantID: m, PromoterID: ps[3], BoundAt: t0}, limit+5)
		assert.ErrorIs(t, err, storage.ErrConflict, "a bound promoter binds once")
		err = s.BindSharer(ctx, promoter.Sharer{MerchantID: m, PromoterID: ps[3], BoundAt: t0}, limit)
		assert.ErrorIs(t, err, storage.ErrConflict, "bound beats full")

		// Another merchant has its own cap, and may bind the same promoters.
		require.NoError(t, s.BindSharer(ctx, promoter.Sharer{MerchantID: other, PromoterID: ps[0], BoundAt: t0}, 1))
		err = s.BindSharer(ctx, promoter.Sharer{MerchantID: other, PromoterID: extra, BoundAt: t0}, 1)
		assert.ErrorIs(t, err, promoter.ErrSharerCap)

		want := make([]promoter.PromoterID, limit)
		for i := range limit {
			want[(i*7)%limit] = ps[i]
		}
		got, err := s.Sharers(ctx, m)
		require.NoError(t, err)
		assert.Equal(t, want, sharerIDs(got), "oldest binding first")
		for _, sh := range got {
			assert.Equal(t, m, sh.MerchantID)
		}
		require.Len(t, got, limit)
		assert.True(t, got[0].BoundAt.Equal(t0.Add(time.Microsecond)), "%s", got[0].BoundAt)
		theirs, err := s.Sharers(ctx, other)
		require.NoError(t, err)
		assert.Equal(t, []promoter.PromoterID{ps[0]}, sharerIDs(theirs))
		none, err := s.Sharers(ctx, newID[commerce.MerchantID]())
		require.NoError(t, err)
		assert.Empty(t, none)

		// Unbinding: not before boundBefore (at it is fine), nothing when
		// there is no binding; a refusal changes nothing.
		young := ps[9] // bound at t0 + 3h
		err = s.UnbindSharer(ctx, m, young, at(9).Add(-time.Microsecond))
		assert.ErrorIs(t, err, promoter.ErrTooSoon)
		err = s.UnbindSharer(ctx, m, extra, t0.Add(100*time.Hour))
		assert.ErrorIs(t, err, storage.ErrNotFound)
		err = s.UnbindSharer(ctx, other, ps[1], t0.Add(100*time.Hour))
		assert.ErrorIs(t, err, storage.ErrNotFound, "bound to another merchant")
		got, err = s.Sharers(ctx, m)
		require.NoError(t, err)
		assert.Equal(t, want, sharerIDs(got), "the refused unbinds changed nothing")
		err = s.BindSharer(ctx, promoter.Sharer{MerchantID: m, PromoterID: extra, BoundAt: t0}, limit)
		assert.ErrorIs(t, err, promoter.ErrSharerCap, "still full")

		require.NoError(t, s.UnbindSharer(ctx, m, young, at(9)))
		err = s.UnbindSharer(ctx, m, young, at(9))
		assert.ErrorIs(t, err, storage.ErrNotFound, "unbound already")
		got, err = s.Sharers(ctx, m)
		require.NoError(t, err)
		assert.NotContains(t, sharerIDs(got), young)
		assert.Len(t, got, limit-1)

		// The freed slot takes one bind, then the cap holds again.
		late := t0.Add(100 * time.Hour)
		require.NoError(t, s.BindSharer(ctx, promoter.Sharer{MerchantID: m, PromoterID: extra, BoundAt: late}, limit))
		err = s.BindSharer(ctx, promoter.Sharer{MerchantID: m, PromoterID: newID[promoter.PromoterID](), BoundAt: late}, limit)
		assert.ErrorIs(t, err, promoter.ErrSharerCap)
		got, err = s.Sharers(ctx, m)
		require.NoError(t, err)
		require.Len(t, got, limit)
		assert.Equal(t, extra, got[limit-1].PromoterID, "the newest last")

		// A promoter unbound may bind again.
		require.NoError(t, s.UnbindSharer(ctx, m, extra, late))
		require.NoError(t, s.BindSharer(ctx, promoter.Sharer{MerchantID: m, PromoterID: young, BoundAt: late}, limit))
		got, err = s.Sharers(ctx, m)
		require.NoError(t, err)
		require.Len(t, got, limit)
		assert.Equal(t, young, got[limit-1].PromoterID)
		assert.True(t, got[limit-1].BoundAt.Equal(late))
	})

	t.Run("SharerCapConcurrent", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		const limit, workers = 10, 32
		ps := make([]promoter.PromoterID, workers)
		for i := range ps {
			ps[i] = newID[promoter.PromoterID]()
		}
		errs := make([]error, workers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range workers {
			wg.Go(func() {
				<-start
				errs[i] = s.BindSharer(ctx, promoter.Sharer{MerchantID: m, PromoterID: ps[i], BoundAt: t0.Add(time.Duration(i) * time.Microsecond)}, limit)
			})
		}
		close(start)
		wg.Wait()
		require.Equal(t, limit, countNil(errs), "exactly the cap's binds succeed")
		var won []promoter.PromoterID
		for i, err := range errs {
			if err == nil {
				won = append(won, ps[i])
			} else {
				assert.ErrorIs(t, err, promoter.ErrSharerCap, "bind %d", i)
			}
		}
		got, err := s.Sharers(ctx, m)
		require.NoError(t, err)
		assert.ElementsMatch(t, won, sharerIDs(got))
	})

	t.Run("SharerSamePromoterConcurrent", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		const limit, workers = 10, 8
		p := newID[promoter.PromoterID]()
		errs := make([]error, workers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range workers {
			wg.Go(func() {
				<-start
				errs[i] = s.BindSharer(ctx, promoter.Sharer{MerchantID: m, PromoterID: p, BoundAt: t0}, limit)
			})
		}
		close(start)
		wg.Wait()
		require.Equal(t, 1, countNil(errs), "a promoter binds once")
		for _, err := range errs {
			if err != nil {
				assert.ErrorIs(t, err, storage.ErrConflict)
			}
		}
		// The refused binds took no slot: nine more fit, a tenth does not.
		for i := range limit - 1 {
			require.NoError(t, s.BindSharer(ctx, promoter.Sharer{MerchantID: m, PromoterID: newID[promoter.PromoterID](), BoundAt: t0}, limit), "bind %d", i)
		}
		err := s.BindSharer(ctx, promoter.Sharer{MerchantID: m, PromoterID: newID[promoter.PromoterID](), BoundAt: t0}, limit)
		assert.ErrorIs(t, err, promoter.ErrSharerCap)
	})

	t.Run("Plans", func(t *testing.T) {
		s := open(t)
		m, other := newID[commerce.MerchantID](), newID[commerce.MerchantID]()
		p1, p2, p3, missing := newID[commerce.ProductID](), newID[commerce.ProductID](), newID[commerce.ProductID](), newID[commerce.ProductID]()

		plan := fullPlan(m, p1)
		require.NoError(t, s.PutPlan(ctx, plan))
		assert.EqualValues(t, 1, plan.Version, "a new plan is version 1")
		want := plan.Clone()
		plan.Promoters[0], plan.Agencies = newID[promoter.PromoterID](), nil // the store copied
		got, err := s.Plans(ctx, m, []commerce.ProductID{p1})
		require.NoError(t, err)
		require.Len(t, got, 1)
		samePlan(t, want, got[0])
		got[0].Promoters[0] = newID[promoter.PromoterID]() // copies out
		again, err := s.Plans(ctx, m, []commerce.ProductID{p1})
		require.NoError(t, err)
		require.Len(t, again, 1)
		samePlan(t, want, again[0])

		// Replacing: every field, the version bumped from the stored one.
		repl := &promoter.Plan{MerchantID: m, ProductID: p1, Kind: promoter.Public, Rate: commerce.MustPercent(5), Updated: t0.Add(time.Hour), Version: 99}
		require.NoError(t, s.PutPlan(ctx, repl))
		assert.EqualValues(t, 2, repl.Version)
		got, err = s.Plans(ctx, m, []commerce.ProductID{p1})
		require.NoError(t, err)
		require.Len(t, got, 1)
		samePlan(t, repl, got[0])
		assert.Empty(t, got[0].Promoters)
		assert.Empty(t, got[0].Agencies)
		assert.True(t, got[0].Start.IsZero())
		assert.True(t, got[0].End.IsZero())
		assert.False(t, got[0].Withdrawn)

		targeted := &promoter.Plan{MerchantID: m, ProductID: p2, Kind: promoter.Targeted, Rate: commerce.MustPercent(90),
			Agencies: []promoter.AgencyID{newID[promoter.AgencyID]()}, Updated: t0}
		require.NoError(t, s.PutPlan(ctx, targeted))
		// Another merchant's plan of the same product is its own.
		theirs := fullPlan(other, p3)
		require.NoError(t, s.PutPlan(ctx, theirs))
		theirs2 := fullPlan(other, p1)
		theirs2.Rate = commerce.PPM(1)
		require.NoError(t, s.PutPlan(ctx, theirs2))
		assert.EqualValues(t, 1, theirs2.Version)

		got, err = s.Plans(ctx, m, []commerce.ProductID{missing, p2, p3, p1, p2})
		require.NoError(t, err)
		assert.ElementsMatch(t, []commerce.ProductID{p1, p2}, planProducts(got), "the products that have a plan, once each")
		for _, g := range got {
			assert.Equal(t, m, g.MerchantID)
			switch g.ProductID {
			case p1:
				samePlan(t, repl, g)
			case p2:
				samePlan(t, targeted, g)
			}
		}
		got, err = s.Plans(ctx, other, []commerce.ProductID{p1, p2, p3})
		require.NoError(t, err)
		assert.ElementsMatch(t, []commerce.ProductID{p1, p3}, planProducts(got))
		for _, g := range got {
			if g.ProductID == p1 {
				samePlan(t, theirs2, g)
			}
		}
		got, err = s.Plans(ctx, m, []commerce.ProductID{missing})
		require.NoError(t, err)
		assert.Empty(t, got)
		got, err = s.Plans(ctx, m, nil)
		require.NoError(t, err)
		assert.Empty(t, got)
	})

	t.Run("LockCustomer", func(t *testing.T) {
		s := open(t)
		m, other := newID[commerce.MerchantID](), newID[commerce.MerchantID]()
		a, b, c := newID[promoter.PromoterID](), newID[promoter.PromoterID](), newID[promoter.PromoterID]()
		const window = 7 * 24 * time.Hour
		until := t0.Add(window)

		got, err := s.LockCustomer(ctx, m, "顾客", a, t0, until)
		require.NoError(t, err)
		assert.Equal(t, a, got, "the first visit locks")
		got, err = s.LockCustomer(ctx, m, "顾客", b, t0.Add(time.Hour), t0.Add(time.Hour+window))
		require.NoError(t, err)
		assert.Equal(t, a, got, "within the window the first promoter keeps the customer")
		got, err = s.LockCustomer(ctx, m, "顾客", a, t0.Add(2*time.Hour), t0.Add(2*time.Hour+window))
		require.NoError(t, err)
		assert.Equal(t, a, got)
		got, err = s.LockCustomer(ctx, m, "顾客", b, until.Add(-time.Microsecond), until.Add(window))
		require.NoError(t, err)
		assert.Equal(t, a, got, "the lock holds to its end, not extended by its own promoter's visits")

		// Other customers and merchants have locks of their own.
		got, err = s.LockCustomer(ctx, m, "另一个顾客", b, t0, until)
		require.NoError(t, err)
		assert.Equal(t, b, got)
		got, err = s.LockCustomer(ctx, other, "顾客", c, t0, until)
		require.NoError(t, err)
		assert.Equal(t, c, got)

		// At the end the lock is gone: the next visit's promoter takes over.
		got, err = s.LockCustomer(ctx, m, "顾客", b, until, until.Add(window))
		require.NoError(t, err)
		assert.Equal(t, b, got)
		got, err = s.LockCustomer(ctx, m, "顾客", a, until.Add(time.Hour), until.Add(time.Hour+window))
		require.NoError(t, err)
		assert.Equal(t, b, got, "the new lock holds")
		got, err = s.LockCustomer(ctx, m, "顾客", c, until.Add(window+time.Second), until.Add(2*window))
		require.NoError(t, err)
		assert.Equal(t, c, got, "long after, another takes over")
	})

	t.Run("LockCustomerConcurrent", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		const workers = 16
		ps := make([]promoter.PromoterID, workers)
		for i := range ps {
			ps[i] = newID[promoter.PromoterID]()
		}
		// An expired lock is there to take over, for half the customers.
		_, err := s.LockCustomer(ctx, m, "旧顾客", newID[promoter.PromoterID](), t0.Add(-2*time.Hour), t0.Add(-time.Hour))
		require.NoError(t, err)
		for _, customer := range []commerce.CustomerID{"新顾客", "旧顾客"} {
			got := make([]promoter.PromoterID, workers)
			errs := make([]error, workers)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range workers {
				wg.Go(func() {
					<-start
					got[i], errs[i] = s.LockCustomer(ctx, m, customer, ps[i], t0, t0.Add(24*time.Hour))
				})
			}
			close(start)
			wg.Wait()
			require.Equal(t, workers, countNil(errs), "%s: %v", customer, errs)
			assert.Contains(t, ps, got[0], customer)
			for i := range workers {
				assert.Equal(t, got[0], got[i], "%s: caller %d", customer, i)
			}
			again, err := s.LockCustomer(ctx, m, customer, newID[promoter.PromoterID](), t0.Add(time.Hour), t0.Add(25*time.Hour))
			require.NoError(t, err)
			assert.Equal(t, got[0], again, customer)
		}
	})

	t.Run("CommissionsRoundTrip", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		order := newID[commerce.OrderID]()
		p, a := newID[promoter.PromoterID](), newID[promoter.AgencyID]()
		c2 := fullCommission(m, order, 2, p, a, t0)
		c0 := fullCommission(m, order, 0, p, a, t0.Add(time.Microsecond))
		c0.Status, c0.SettledAt, c0.CancelledAt, c0.AgencyPays = promoter.Pending, time.Time{}, time.Time{}, false
		c0.Reversed, c0.ReversedAgency, c0.Clawed, c0.ClawedAgency = commercetest.CNY("0.00"), commercetest.CNY("0.00"), commerce.Money{}, commerce.Money{}
		c5 := fullCommission(m, order, 5, p, promoter.AgencyID{}, t0)
		c5.Status, c5.Scene = promoter.Cancelled, promoter.SceneOwnLive
		require.NoError(t, s.InsertCommissions(ctx, []*promoter.Commission{c2, c0, c5}))
		want := []*promoter.Commission{c0.Clone(), c2.Clone(), c5.Clone()}
		c2.Amount, c2.Status = commercetest.CNY("0.01"), promoter.Pending // the store copied

		got, err := s.OrderCommissions(ctx, m, order)
		require.NoError(t, err)
		require.Len(t, got, 3)
		for i := range want {
			sameCommission(t, want[i], got[i], "line %d", want[i].Line)
		}
		assert.Equal(t, []int{0, 2, 5}, []int{got[0].Line, got[1].Line, got[2].Line}, "by line")
		assert.True(t, got[2].AgencyID.IsZero())
		assert.False(t, got[0].Clawed.IsSet(), "an unset amount stays unset")
		assert.Equal(t, promoter.Cancelled, got[2].Status)
		got[0].Status = promoter.Settled // copies out
		again, err := s.OrderCommissions(ctx, m, order)
		require.NoError(t, err)
		assert.Equal(t, promoter.Pending, again[0].Status)
		net := again[1].Net()
		assert.True(t, net.Equal(commercetest.CNY("10.45")), "net %s", net)

		none, err := s.OrderCommissions(ctx, newID[commerce.MerchantID](), order)
		require.NoError(t, err)
		assert.Empty(t, none, "another merchant's order")
		none, err = s.OrderCommissions(ctx, m, newID[commerce.OrderID]())
		require.NoError(t, err)
		assert.Empty(t, none)
		require.NoError(t, s.InsertCommissions(ctx, nil), "nothing to insert")

		// An order of many lines inserts whole.
		big := newID[commerce.OrderID]()
		var many []*promoter.Commission
		for line := range commerce.MaxCartLines {
			many = append(many, fullCommission(m, big, line, p, a, t0))
		}
		require.NoError(t, s.InsertCommissions(ctx, many))
		got, err = s.OrderCommissions(ctx, m, big)
		require.NoError(t, err)
		require.Len(t, got, len(many))
		for i, c := range got {
			require.Equal(t, i, c.Line)
			require.Equal(t, many[i].ID, c.ID)
		}
	})

	t.Run("CommissionConflict", func(t *testing.T) {
		s := open(t)
		m, other := newID[commerce.MerchantID](), newID[commerce.MerchantID]()
		order := newID[commerce.OrderID]()
		p := newID[promoter.PromoterID]()
		first := fullCommission(m, order, 1, p, promoter.AgencyID{}, t0)
		require.NoError(t, s.InsertCommissions(ctx, []*promoter.Commission{first}))

		assertOnly := func(msg string) {
			t.Helper()
			got, err := s.OrderCommissions(ctx, m, order)
			require.NoError(t, err)
			assert.Equal(t, []promoter.CommissionID{first.ID}, commissionIDs(got), msg)
			byP, err := commissionsIn(ctx, s, p, promoter.AgencyID{}, t0.Add(-time.Hour), t0.Add(time.Hour))
			require.NoError(t, err)
			assert.Equal(t, []promoter.CommissionID{first.ID}, commissionIDs(byP), msg)
		}
		// A batch with a line that has a commission writes nothing.
		fresh := fullCommission(m, order, 0, p, promoter.AgencyID{}, t0)
		again := fullCommission(m, order, 1, p, promoter.AgencyID{}, t0)
		later := fullCommission(m, order, 2, p, promoter.AgencyID{}, t0)
		err := s.InsertCommissions(ctx, []*promoter.Commission{fresh, again, later})
		assert.ErrorIs(t, err, storage.ErrConflict)
		assertOnly("a conflicting batch writes nothing")

		// A batch that repeats a line of its own, or a taken ID.
		err = s.InsertCommissions(ctx, []*promoter.Commission{fresh, fullCommission(m, order, 0, p, promoter.AgencyID{}, t0)})
		assert.ErrorIs(t, err, storage.ErrConflict)
		assertOnly("a batch repeating a line writes nothing")
		sameID := fullCommission(m, newID[commerce.OrderID](), 0, p, promoter.AgencyID{}, t0)
		sameID.ID = first.ID
		err = s.InsertCommissions(ctx, []*promoter.Commission{fullCommission(m, order, 3, p, promoter.AgencyID{}, t0), sameID})
		assert.ErrorIs(t, err, storage.ErrConflict)
		assertOnly("a batch with a taken ID writes nothing")

		// The same line of another order, or of another merchant's order
		// of the same ID, is free.
		require.NoError(t, s.InsertCommissions(ctx, []*promoter.Commission{
			fullCommission(m, newID[commerce.OrderID](), 1, p, promoter.AgencyID{}, t0.Add(time.Minute)),
			fullCommission(other, order, 1, p, promoter.AgencyID{}, t0.Add(time.Minute)),
		}))
		require.NoError(t, s.InsertCommissions(ctx, []*promoter.Commission{fresh, later}))
		got, err := s.OrderCommissions(ctx, m, order)
		require.NoError(t, err)
		assert.Equal(t, []promoter.CommissionID{fresh.ID, first.ID, later.ID}, commissionIDs(got))
		theirs, err := s.OrderCommissions(ctx, other, order)
		require.NoError(t, err)
		assert.Len(t, theirs, 1)
	})

	t.Run("UpdateCommission", func(t *testing.T) {
		s := open(t)
		m, other := newID[commerce.MerchantID](), newID[commerce.MerchantID]()
		order := newID[commerce.OrderID]()
		p, a := newID[promoter.PromoterID](), newID[promoter.AgencyID]()
		c := fullCommission(m, order, 4, p, a, t0)
		c.Status, c.SettledAt, c.CancelledAt = promoter.Pending, time.Time{}, time.Time{}
		require.NoError(t, s.InsertCommissions(ctx, []*promoter.Commission{c}))

		settled := t0.Add(15*24*time.Hour + 9*time.Microsecond)
		require.NoError(t, s.UpdateCommission(ctx, m, c.ID, func(x *promoter.Commission) error {
			sameCommission(t, c, x)
			x.Status, x.SettledAt = promoter.Settled, settled
			x.Clawed, x.ClawedAgency = commercetest.CNY("2.00"), commercetest.CNY("1.30")
			// The identity is kept and the version bumped from the stored one.
			x.ID, x.MerchantID, x.OrderID, x.Line, x.Version = newID[promoter.CommissionID](), newID[commerce.MerchantID](), newID[commerce.OrderID](), 9, 42
			return nil
		}))
		want := c.Clone()
		want.Status, want.SettledAt, want.Version = promoter.Settled, settled, c.Version+1
		want.Clawed, want.ClawedAgency = commercetest.CNY("2.00"), commercetest.CNY("1.30")
		got, err := s.OrderCommissions(ctx, m, order)
		require.NoError(t, err)
		require.Len(t, got, 1)
		sameCommission(t, want, got[0])
		byP, err := commissionsIn(ctx, s, p, promoter.AgencyID{}, t0, t0.Add(time.Second))
		require.NoError(t, err)
		require.Len(t, byP, 1)
		sameCommission(t, want, byP[0])

		// A failing fn changes nothing.
		boom := errors.New("boom")
		err = s.UpdateCommission(ctx, m, c.ID, func(x *promoter.Commission) error {
			x.Status, x.Reversed, x.Amount = promoter.Cancelled, commercetest.CNY("12.00"), commercetest.CNY("0.00")
			return boom
		})
		assert.ErrorIs(t, err, boom)
		got, err = s.OrderCommissions(ctx, m, order)
		require.NoError(t, err)
		require.Len(t, got, 1)
		sameCommission(t, want, got[0])

		called := false
		err = s.UpdateCommission(ctx, other, c.ID, func(*promoter.Commission) error { called = true; return nil })
		assert.ErrorIs(t, err, storage.ErrNotFound, "another merchant's commission")
		err = s.UpdateCommission(ctx, m, newID[promoter.CommissionID](), func(*promoter.Commission) error { called = true; return nil })
		assert.ErrorIs(t, err, storage.ErrNotFound)
		assert.False(t, called, "fn never sees a commission that is not there")
	})

	t.Run("UpdateCommissionConcurrent", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		c := fullCommission(m, newID[commerce.OrderID](), 0, newID[promoter.PromoterID](), promoter.AgencyID{}, t0)
		c.Status, c.Reversed = promoter.Pending, commercetest.CNY("0.00")
		require.NoError(t, s.InsertCommissions(ctx, []*promoter.Commission{c}))
		const workers = 16
		fen := commercetest.CNY("0.01")
		errs := make([]error, workers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range workers {
			wg.Go(func() {
				<-start
				errs[i] = s.UpdateCommission(ctx, m, c.ID, func(x *promoter.Commission) error {
					var err error
					x.Reversed, err = x.Reversed.Add(fen)
					return err
				})
			})
		}
		close(start)
		wg.Wait()
		require.Equal(t, workers, countNil(errs), "%v", errs)
		got, err := s.OrderCommissions(ctx, m, c.OrderID)
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.True(t, got[0].Reversed.Equal(commercetest.CNY("0.16")), "no update lost: %s", got[0].Reversed)
		assert.EqualValues(t, c.Version+workers, got[0].Version)
	})

	t.Run("CommissionsByPromoterAndAgency", func(t *testing.T) {
		s := open(t)
		m1, m2 := newID[commerce.MerchantID](), newID[commerce.MerchantID]()
		p, q := newID[promoter.PromoterID](), newID[promoter.PromoterID]()
		a, b := newID[promoter.AgencyID](), newID[promoter.AgencyID]()
		from, to := t0, t0.Add(24*time.Hour)
		var all []*promoter.Commission
		mk := func(m commerce.MerchantID, pr promoter.PromoterID, ag promoter.AgencyID, created time.Time, line int) *promoter.Commission {
			c := fullCommission(m, newID[commerce.OrderID](), line, pr, ag, created)
			all = append(all, c)
			return c
		}
		atFrom := mk(m1, p, a, from, 0)
		late := mk(m2, p, a, to.Add(-time.Microsecond), 0)
		mid := mk(m1, p, promoter.AgencyID{}, from.Add(time.Hour), 3)
		tieB := mk(m2, p, a, from.Add(2*time.Hour), 1)
		tieA := mk(m1, p, b, from.Add(2*time.Hour), 0) // the same time as tieB, made after it: ID order
		mk(m1, p, a, from.Add(-time.Microsecond), 0)   // before the range
		mk(m1, p, a, to, 0)                            // at its end: outside
		qa := mk(m1, q, a, from.Add(3*time.Hour), 2)   // another promoter of the agency
		mk(m2, q, b, from.Add(time.Hour), 0)
		require.NoError(t, s.InsertCommissions(ctx, all))

		got, err := commissionsIn(ctx, s, p, promoter.AgencyID{}, from, to)
		require.NoError(t, err)
		assert.Equal(t, commissionIDs([]*promoter.Commission{atFrom, mid, tieB, tieA, late}), commissionIDs(got),
			"the promoter's, every merchant's, in [from, to), oldest first, then by ID")
		for _, c := range got {
			if c.ID == mid.ID {
				sameCommission(t, mid, c)
			}
		}
		got, err = commissionsIn(ctx, s, promoter.PromoterID{}, a, from, to)
		require.NoError(t, err)
		assert.Equal(t, commissionIDs([]*promoter.Commission{atFrom, tieB, qa, late}), commissionIDs(got), "the agency's")
		got, err = commissionsIn(ctx, s, promoter.PromoterID{}, b, from, to)
		require.NoError(t, err)
		assert.Len(t, got, 2)
		got, err = commissionsIn(ctx, s, p, promoter.AgencyID{}, to, to.Add(time.Hour))
		require.NoError(t, err)
		assert.Len(t, got, 1)
		got, err = commissionsIn(ctx, s, newID[promoter.PromoterID](), promoter.AgencyID{}, from, to)
		require.NoError(t, err)
		assert.Empty(t, got)

		// Moving a commission to another promoter moves it between lists.
		require.NoError(t, s.UpdateCommission(ctx, m1, mid.ID, func(x *promoter.Commission) error { x.PromoterID, x.AgencyID = q, b; return nil }))
		got, err = commissionsIn(ctx, s, p, promoter.AgencyID{}, from, to)
		require.NoError(t, err)
		assert.NotContains(t, commissionIDs(got), mid.ID)
		got, err = commissionsIn(ctx, s, q, promoter.AgencyID{}, from, to)
		require.NoError(t, err)
		assert.Contains(t, commissionIDs(got), mid.ID)
		got, err = commissionsIn(ctx, s, promoter.PromoterID{}, b, from, to)
		require.NoError(t, err)
		assert.Len(t, got, 3)

		_, err = commissionsIn(ctx, s, p, a, from, to)
		assert.ErrorIs(t, err, commerce.ErrInvalid, "both")
		_, err = commissionsIn(ctx, s, promoter.PromoterID{}, promoter.AgencyID{}, from, to)
		assert.ErrorIs(t, err, commerce.ErrInvalid, "neither")
	})

	t.Run("CommissionPaging", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		p, a := newID[promoter.PromoterID](), newID[promoter.AgencyID]()
		from, to := t0, t0.Add(time.Hour)
		// 105 commissions, most sharing their microsecond with others, so
		// the ID decides within a time and a page boundary falls inside
		// a tie.
		var all []*promoter.Commission
		for i := range 105 {
			all = append(all, fullCommission(m, newID[commerce.OrderID](), 0, p, a, from.Add(time.Duration(i/7)*time.Minute)))
		}
		require.NoError(t, s.InsertCommissions(ctx, all))
		want := slices.Clone(all)
		slices.SortFunc(want, func(x, y *promoter.Commission) int {
			if c := x.Created.Compare(y.Created); c != 0 {
				return c
			}
			return x.ID.Compare(y.ID)
		})

		got, err := s.Commissions(ctx, promoter.CommissionQuery{Promoter: p, From: from, To: to})
		require.NoError(t, err)
		assert.Equal(t, commissionIDs(want[:100]), commissionIDs(got), "limit 0 is a page of 100")
		got, err = s.Commissions(ctx, promoter.CommissionQuery{Agency: a, From: from, To: to, Limit: 5000})
		require.NoError(t, err)
		assert.Equal(t, commissionIDs(want), commissionIDs(got), "a limit above the cap is the cap (1000)")

		// Page through three at a time while commissions are inserted
		// before the cursor, at its very time and after it: every
		// commission there at the start comes exactly once, and the
		// pages together stay in (created, ID) order.
		seen := map[promoter.CommissionID]int{}
		var order []*promoter.Commission
		q := promoter.CommissionQuery{Promoter: p, From: from, To: to, Limit: 3}
		for pages := 0; ; pages++ {
			require.Less(t, pages, 200, "paging ends")
			page, err := s.Commissions(ctx, q)
			require.NoError(t, err)
			require.LessOrEqual(t, len(page), 3)
			for _, c := range page {
				seen[c.ID]++
			}
			order = append(order, page...)
			if len(page) < q.Limit {
				break
			}
			last := page[len(page)-1]
			q.After = last.ID
			require.NoError(t, s.InsertCommissions(ctx, []*promoter.Commission{
				fullCommission(m, newID[commerce.OrderID](), 0, p, a, from),                      // before the cursor
				fullCommission(m, newID[commerce.OrderID](), 0, p, a, last.Created),              // at its time
				fullCommission(m, newID[commerce.OrderID](), 0, p, a, to.Add(-time.Microsecond)), // after it
			}))
		}
		for _, c := range all {
			assert.Equal(t, 1, seen[c.ID], "commission %s seen once", c.ID)
		}
		for id, n := range seen {
			assert.Equal(t, 1, n, "commission %s returned %d times", id, n)
		}
		assert.True(t, slices.IsSortedFunc(order, func(x, y *promoter.Commission) int {
			if c := x.Created.Compare(y.Created); c != 0 {
				return c
			}
			return x.ID.Compare(y.ID)
		}), "pages in (created, ID) order")

		// A cursor that names no commission is refused, not read as the
		// start.
		_, err = s.Commissions(ctx, promoter.CommissionQuery{Promoter: p, From: from, To: to, After: newID[promoter.CommissionID]()})
		assert.ErrorIs(t, err, storage.ErrNotFound)
		assert.NotContains(t, err.Error(), "memory")
		assert.NotContains(t, err.Error(), "sqlstore")
		// The cursor is a position, not a filter: another list's
		// commission pages this one from its time on.
		other := fullCommission(m, newID[commerce.OrderID](), 0, newID[promoter.PromoterID](), promoter.AgencyID{}, from.Add(10*time.Minute))
		require.NoError(t, s.InsertCommissions(ctx, []*promoter.Commission{other}))
		got, err = s.Commissions(ctx, promoter.CommissionQuery{Promoter: p, From: from, To: to, After: other.ID, Limit: 1000})
		require.NoError(t, err)
		for _, c := range got {
			assert.False(t, c.Created.Before(other.Created))
		}
	})

	t.Run("RollbackLeavesNothing", func(t *testing.T) {
		s := open(t)
		m := newID[commerce.MerchantID]()
		product := newID[commerce.ProductID]()
		kept := fullCommission(m, newID[commerce.OrderID](), 0, newID[promoter.PromoterID](), promoter.AgencyID{}, t0)
		require.NoError(t, s.InsertCommissions(ctx, []*promoter.Commission{kept}))
		keptPlan := fullPlan(m, product)
		require.NoError(t, s.PutPlan(ctx, keptPlan))
		a := fullAgency()
		p := fullPromoter(a.ID)
		c := fullCommission(m, newID[commerce.OrderID](), 0, p.ID, a.ID, t0)
		other := newID[promoter.PromoterID]()

		boom := errors.New("boom")
		err := s.InTx(ctx, func(ctx context.Context) error {
			if err := s.InsertAgency(ctx, a); err != nil {
				return err
			}
			if err := s.InsertPromoter(ctx, p); err != nil {
				return err
			}
			if err := s.BindSharer(ctx, promoter.Sharer{MerchantID: m, PromoterID: p.ID, BoundAt: t0}, 1); err != nil {
				return err
			}
			if err := s.PutPlan(ctx, &promoter.Plan{MerchantID: m, ProductID: product, Kind: promoter.Public, Rate: commerce.PPM(1), Updated: t0}); err != nil {
				return err
			}
			if _, err := s.LockCustomer(ctx, m, "顾客", p.ID, t0, t0.Add(time.Hour)); err != nil {
				return err
			}
			if err := s.InsertCommissions(ctx, []*promoter.Commission{c}); err != nil {
				return err
			}
			if err := s.UpdateCommission(ctx, m, kept.ID, func(x *promoter.Commission) error { x.Status = promoter.Cancelled; return nil }); err != nil {
				return err
			}
			// Inside the transaction the writes are visible.
			sharers, err := s.Sharers(ctx, m)
			if err != nil {
				return err
			}
			assert.Equal(t, []promoter.PromoterID{p.ID}, sharerIDs(sharers))
			got, err := s.OrderCommissions(ctx, m, c.OrderID)
			if err != nil {
				return err
			}
			assert.Len(t, got, 1)
			return boom
		})
		assert.ErrorIs(t, err, boom)

		_, err = s.GetAgency(ctx, a.ID)
		assert.ErrorIs(t, err, storage.ErrNotFound)
		_, err = s.GetPromoter(ctx, p.ID)
		assert.ErrorIs(t, err, storage.ErrNotFound)
		sharers, err := s.Sharers(ctx, m)
		require.NoError(t, err)
		assert.Empty(t, sharers)
		plans, err := s.Plans(ctx, m, []commerce.ProductID{product})
		require.NoError(t, err)
		require.Len(t, plans, 1)
		samePlan(t, keptPlan, plans[0])
		got, err := s.OrderCommissions(ctx, m, c.OrderID)
		require.NoError(t, err)
		assert.Empty(t, got)
		byP, err := commissionsIn(ctx, s, p.ID, promoter.AgencyID{}, t0, t0.Add(time.Hour))
		require.NoError(t, err)
		assert.Empty(t, byP)
		got, err = s.OrderCommissions(ctx, m, kept.OrderID)
		require.NoError(t, err)
		require.Len(t, got, 1)
		sameCommission(t, kept, got[0])

		// The lock, the cap's slot and the order line are free again.
		locked, err := s.LockCustomer(ctx, m, "顾客", other, t0.Add(time.Minute), t0.Add(time.Hour))
		require.NoError(t, err)
		assert.Equal(t, other, locked)
		require.NoError(t, s.BindSharer(ctx, promoter.Sharer{MerchantID: m, PromoterID: other, BoundAt: t0}, 1))
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) error { return s.InsertCommissions(ctx, []*promoter.Commission{c}) }))
		got, err = s.OrderCommissions(ctx, m, c.OrderID)
		require.NoError(t, err)
		require.Len(t, got, 1)
		sameCommission(t, c, got[0])

		// A conflict inside a transaction fails it whole.
		err = s.InTx(ctx, func(ctx context.Context) error {
			if err := s.UpdateCommission(ctx, m, kept.ID, func(x *promoter.Commission) error { x.Status = promoter.Cancelled; return nil }); err != nil {
				return err
			}
			dup := fullCommission(m, c.OrderID, 0, p.ID, a.ID, t0)
			return s.InsertCommissions(ctx, []*promoter.Commission{dup})
		})
		assert.ErrorIs(t, err, storage.ErrConflict)
		got, err = s.OrderCommissions(ctx, m, kept.OrderID)
		require.NoError(t, err)
		require.Len(t, got, 1)
		sameCommission(t, kept, got[0])
	})
}
