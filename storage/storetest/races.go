package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	. "github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/coupons"
	"github.com/minishop/minishop/gifting"
	"github.com/minishop/minishop/membership"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/promoter"
)

// The race tests run one "exactly one outcome" rule many times over, each
// trial a fresh race, and count the trials that broke it. A store whose
// connections spread over the nodes of a multi-primary cluster (the Galera
// run) races the sides across nodes, where a row lock holds only on its own
// node: a rule that rests on a lock of a row the transaction does not write
// breaks there in some trials, not in every one, hence the many trials.

// raceTrials is how many trials each race test runs.
const raceTrials = 30

func runRaces(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"GroupClaimVsExpiry", testRaceGroupClaimVsExpiry},
		{"AcceptVsExpiry", testRaceAcceptVsExpiry},
		{"LotteryDrawVsEntry", testRaceLotteryDrawVsEntry},
		{"NotificationVsCancel", testRaceNotificationVsCancel},
		{"RefundVsRefund", testRaceRefundVsRefund},
		{"PromoterSettleVsRefund", testRacePromoterSettleVsRefund},
		{"PointsSpendVsRefund", testRacePointsSpendVsRefund},
		{"CouponRedeemVsRelease", testRaceCouponRedeemVsRelease},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

// broken counts the trials that broke a rule and keeps the first few
// reasons, so one failure reports the figure rather than 30 assertions.
type broken struct {
	t        *testing.T
	n        int
	reasons  []string
	outcomes map[string]int // how the trials came out, to show they raced
}

func (b *broken) outcome(o string) {
	if b.outcomes == nil {
		b.outcomes = map[string]int{}
	}
	b.outcomes[o]++
}

func (b *broken) check(trial int, ok bool, format string, args ...any) bool {
	if !ok {
		b.n++
		if len(b.reasons) < 5 {
			b.reasons = append(b.reasons, fmt.Sprintf("trial %d: ", trial)+fmt.Sprintf(format, args...))
		}
	}
	return ok
}

func (b *broken) done(trials int) {
	b.t.Helper()
	b.t.Logf("%d of %d trials broke; outcomes %v", b.n, trials, b.outcomes)
	assert.Zero(b.t, b.n, "%d of %d trials broke the rule: %v", b.n, trials, b.reasons)
}

// ticker moves the clock across an instant (from just before it to it)
// after a random pause while the racers run: those that read the clock
// before see the gift open, those after see it due. The pause is drawn
// below how long the racers took in the trial before, so that on a slow
// store (a cluster) the tick still falls inside the race.
type ticker struct {
	span   time.Duration // the pause is drawn below it
	next   time.Duration // the slowest racer of this trial
	ticked atomic.Bool
}

func (tk *ticker) across(e *env, at time.Time, wg *sync.WaitGroup) {
	tk.span, tk.next = max(tk.next, time.Millisecond), 0
	e.clock.Set(at.Add(-time.Microsecond))
	tk.ticked.Store(false)
	wg.Go(func() {
		time.Sleep(time.Duration(rand.N(int64(tk.span))))
		e.clock.Set(at)
		tk.ticked.Store(true)
	})
}

// runDue runs the engine's RunDue until one run has started after the tick.
func (tk *ticker) runDue(e *giftEnv) {
	for {
		after := tk.ticked.Load()
		_, _ = e.engine.RunDue(e.ctx)
		if after {
			return
		}
	}
}

// took records how long a racer took, for the next trial's pause.
func (tk *ticker) took(start time.Time, mu *sync.Mutex) {
	d := time.Since(start)
	mu.Lock()
	tk.next = min(max(tk.next, d), 100*time.Millisecond)
	mu.Unlock()
}

// Claims of a group gift race its expiry (RunDue) as the clock crosses the
// expiry: every claim that succeeded ships, every other slot is refunded,
// none both (claimed + refunded = paid).
func testRaceGroupClaimVsExpiry(t *testing.T, h Harness) {
	e := newGroupEnv(t, h, nil)
	b := &broken{t: t}
	var tk ticker
	var mu sync.Mutex
	for trial := range raceTrials {
		g, o := e.sendGroup(gifting.SendParams{Quantity: 4, IdempotencyKey: fmt.Sprint("race-", trial)})
		e.pay(o)
		g = e.gift(g.ID)
		var wg sync.WaitGroup
		won := make([]bool, 3)
		tk.across(e.env, g.ExpiresAt, &wg)
		for i := range won {
			wg.Go(func() {
				defer tk.took(time.Now(), &mu)
				_, err := e.claim(g, fmt.Sprintf("t%d-m%d", trial, i))
				won[i] = err == nil
			})
		}
		for range 2 {
			wg.Go(func() { tk.runDue(e) })
		}
		wg.Wait()
		e.advance(time.Hour)
		runDue(t, e.engine, e.ctx)
		order := e.order(o.ID)
		claimed, wins := 0, 0
		for _, c := range order.Gift.Claims {
			if c.Recipient != "" {
				claimed++
			}
		}
		for _, w := range won {
			if w {
				wins++
			}
		}
		b.outcome(fmt.Sprintf("%d claimed", wins))
		_ = b.check(trial, wins == claimed, "%d claims succeeded, %d lines ship", wins, claimed) &&
			b.check(trial, claimedPlusRefunded(order).Equal(order.Total), "claimed + refunded = %s, paid %s", claimedPlusRefunded(order), order.Total) &&
			b.check(trial, len(order.Refunds) <= 1, "%d refunds", len(order.Refunds))
		e.advance(time.Hour)
	}
	b.done(raceTrials)
}

// A one-friend gift's acceptance races its expiry as the clock crosses it:
// exactly one outcome, accepted (no refund) or expired and refunded in full.
func testRaceAcceptVsExpiry(t *testing.T, h Harness) {
	e := newGroupEnv(t, h, nil)
	b := &broken{t: t}
	var tk ticker
	var mu sync.Mutex
	for trial := range raceTrials {
		g, o, err := e.gs.Send(e.ctx, gifting.SendParams{MerchantID: e.m, Giver: "giver", GiverName: "小王", SKU: e.shop.SKU(0, 0), Quantity: 1,
			IdempotencyKey: fmt.Sprint("race-", trial)})
		require.NoError(t, err)
		e.pay(o)
		g = e.gift(g.ID)
		var wg sync.WaitGroup
		accepted := make([]bool, 3)
		tk.across(e.env, g.ExpiresAt, &wg)
		for i := range accepted {
			wg.Go(func() {
				defer tk.took(time.Now(), &mu)
				_, err := e.gs.Accept(e.ctx, e.m, e.token(g), commerce.CustomerID(fmt.Sprintf("t%d-f%d", trial, i)), *Address())
				accepted[i] = err == nil
			})
		}
		for range 2 {
			wg.Go(func() { tk.runDue(e) })
		}
		wg.Wait()
		e.advance(time.Hour)
		runDue(t, e.engine, e.ctx)
		order, gift := e.order(o.ID), e.gift(g.ID)
		n := 0
		for _, a := range accepted {
			if a {
				n++
			}
		}
		b.outcome(string(gift.Status))
		switch {
		case !b.check(trial, n <= 1, "%d recipients", n):
		case n == 1:
			_ = b.check(trial, gift.Status == gifting.Accepted, "accepted, but the gift is %s", gift.Status) &&
				b.check(trial, len(order.Refunds) == 0, "accepted and refunded")
		default:
			_ = b.check(trial, gift.Status == gifting.Expired && gift.Refunded, "not accepted, but the gift is %s (refunded %v)", gift.Status, gift.Refunded) &&
				b.check(trial, len(order.Refunds) == 1 && order.Refunded().Equal(order.Total), "expired: %d refunds of %s, paid %s", len(order.Refunds), order.Refunded(), order.Total)
		}
		e.advance(time.Hour)
	}
	b.done(raceTrials)
}

// Entries into a lottery race the giver's early draw: every entry that
// succeeded is among the entrants drawn from, and no other.
func testRaceLotteryDrawVsEntry(t *testing.T, h Harness) {
	e := newGroupEnv(t, h, nil)
	b := &broken{t: t}
	span := time.Millisecond
	for trial := range raceTrials {
		g, o := e.sendGroup(gifting.SendParams{Kind: gifting.Lottery, Quantity: 2, IdempotencyKey: fmt.Sprint("race-", trial),
			Lottery: &gifting.LotteryParams{DrawAt: e.clock.Now().Add(time.Hour), Eligibility: gifting.Everyone}})
		e.pay(o)
		var wg sync.WaitGroup
		entered := make([]bool, 5)
		for i := range entered {
			wg.Go(func() {
				entered[i] = e.gs.Enter(e.ctx, e.m, e.token(g), commerce.CustomerID(fmt.Sprintf("t%d-e%d", trial, i))) == nil
			})
		}
		var drawErr error
		wg.Go(func() {
			// The pause is drawn below the last trial's duration, so the
			// draw falls among the entries on a fast store and a slow one.
			time.Sleep(time.Duration(rand.N(int64(span))))
			_, drawErr = e.gs.DrawNow(e.ctx, e.m, g.ID, "giver")
		})
		start := time.Now()
		wg.Wait()
		span = max(time.Since(start), time.Millisecond)
		require.NoError(t, drawErr)
		gift := e.gift(g.ID)
		var want []commerce.CustomerID
		for i, ok := range entered {
			if ok {
				want = append(want, commerce.CustomerID(fmt.Sprintf("t%d-e%d", trial, i)))
			}
		}
		got := slices.Clone(gift.Draw.Entrants)
		slices.Sort(got)
		b.outcome(fmt.Sprintf("%d entered", len(want)))
		_ = b.check(trial, slices.Equal(want, got), "entries that succeeded %v, drawn from %v", want, got)
		for _, w := range gift.Draw.Winners {
			b.check(trial, slices.Contains(got, w), "winner %s did not enter", w)
		}
		// Close the lottery so the next trials' RunDue has nothing of it.
		e.advance(25 * time.Hour)
		runDue(t, e.engine, e.ctx)
	}
	b.done(raceTrials)
}

// A payment's notification races the order's cancellation: exactly one
// outcome, the order paid with the money kept, or cancelled with every fen
// that arrived given back.
func testRaceNotificationVsCancel(t *testing.T, h Harness) {
	e := newPayEnv(t, h)
	b := &broken{t: t}
	span := time.Millisecond
	for trial := range raceTrials {
		o := e.mustBuy(e.shop, fmt.Sprint("buyer-", trial), "k", line(e.shop.SKU(1, 0), 1))
		p := e.open(o)
		req, err := e.fake.Pay(p.PaymentNo)
		require.NoError(t, err)
		var wg sync.WaitGroup
		var status int
		var cancelErr error
		var took time.Duration
		wg.Go(func() {
			start := time.Now()
			status = e.deliver(req)
			took = time.Since(start)
		})
		wg.Go(func() {
			// Drawn below the last delivery's duration (see the lottery).
			time.Sleep(time.Duration(rand.N(int64(span))))
			_, cancelErr = e.svc.Cancel(e.ctx, o.MerchantID, o.ID, "")
		})
		wg.Wait()
		span = max(took, 100*time.Microsecond)
		// A notification the service could not take is delivered again, as
		// the channel would; RunDue sends what is owed.
		for i := 0; status != http.StatusNoContent && i < 5; i++ {
			req, err = e.fake.Pay(p.PaymentNo)
			require.NoError(t, err)
			status = e.deliver(req)
		}
		_, _ = e.engine.RunDue(e.ctx)
		got, err := e.svc.GetOrder(e.ctx, o.MerchantID, o.ID)
		require.NoError(t, err)
		pay, err := e.pay.GetPayment(e.ctx, o.MerchantID, p.ID)
		require.NoError(t, err)
		sum, _ := e.ledgerSum(got)
		b.outcome(string(got.Status))
		switch got.Status {
		case commerce.StatusPaid:
			_ = b.check(trial, cancelErr != nil, "paid, and the cancel succeeded") &&
				b.check(trial, len(pay.Refunds) == 0, "paid and refunded") &&
				b.check(trial, sum.Equal(pay.Amount), "paid, ledger %s of %s", sum, pay.Amount)
		case commerce.StatusCancelled:
			_ = b.check(trial, cancelErr == nil, "cancelled, but the cancel failed: %v", cancelErr) &&
				b.check(trial, sum.IsZero(), "cancelled, ledger keeps %s (payment %s, %d refunds)", sum, pay.Status, len(pay.Refunds))
		default:
			b.check(trial, false, "order is %s", got.Status)
		}
	}
	b.done(raceTrials)
}

// Two refunds of the same unit under different keys race: one succeeds,
// and the order never refunds more than it took.
func testRaceRefundVsRefund(t *testing.T, h Harness) {
	e := newPayEnv(t, h)
	b := &broken{t: t}
	for trial := range raceTrials {
		o, _ := e.paid(e.mustBuy(e.shop, fmt.Sprint("buyer-", trial), "k", line(e.shop.SKU(1, 0), 1)))
		errs := make([]error, 3)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() {
				_, errs[i] = e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: o.MerchantID, OrderID: o.ID,
					IdempotencyKey: fmt.Sprint("r", i), Items: []commerce.RefundItem{{Line: 0, Quantity: 1}}})
			})
		}
		wg.Wait()
		got, err := e.svc.GetOrder(e.ctx, o.MerchantID, o.ID)
		require.NoError(t, err)
		n := 0
		for _, err := range errs {
			if err == nil {
				n++
			}
		}
		c, _ := got.Refunded().Cmp(got.Total)
		_ = b.check(trial, n == 1, "%d refunds of one unit succeeded: %v", n, errs) &&
			b.check(trial, c <= 0 && len(got.Refunds) == 1, "refunded %s of %s in %d refunds", got.Refunded(), got.Total, len(got.Refunds))
	}
	b.done(raceTrials)
}

// An order's completion (which settles its commission) races a full
// refund: the commission ends settled and clawed back once, or cancelled
// with everything reversed, never both, and the promoter's ledger nets to
// nothing once the refund went through.
func testRacePromoterSettleVsRefund(t *testing.T, h Harness) {
	e := newPromoEnv(t, h)
	e.plan(0, promoter.PlanParams{Rate: commerce.MustPercent(10)})
	ann := e.promoterNamed("Ann")
	b := &broken{t: t}
	span := time.Millisecond
	for trial := range raceTrials {
		o, err := e.buy(fmt.Sprint("c", trial), "k", commerce.With(promoter.Link(e.share(ann, 0, promoter.SceneGroup))), e.line(0, 1))
		require.NoError(t, err)
		e.pay(o)
		e.deliver(o)
		e.advance(7*24*time.Hour + time.Second)
		var wg sync.WaitGroup
		var took time.Duration
		wg.Go(func() {
			start := time.Now()
			_, _ = e.svc.Complete(e.ctx, e.m, o.ID)
			took = time.Since(start)
		})
		wg.Go(func() {
			// Drawn below the last completion's duration (see the lottery).
			time.Sleep(time.Duration(rand.N(int64(span))))
			_, _ = e.svc.Refund(e.ctx, commerce.RefundParams{All: true, MerchantID: e.m, OrderID: o.ID, IdempotencyKey: "all"})
		})
		wg.Wait()
		span = max(took, 100*time.Microsecond)
		runDue(t, e.engine, e.ctx)
		cs := e.commissions(o)
		if !b.check(trial, len(cs) == 1, "%d commissions", len(cs)) {
			continue
		}
		c := cs[0]
		order, err := e.svc.GetOrder(e.ctx, e.m, o.ID)
		require.NoError(t, err)
		b.outcome(fmt.Sprintf("%s/%s", c.Status, order.Status))
		switch c.Status {
		case promoter.Settled:
			_ = b.check(trial, c.Reversed.IsZero(), "settled and reversed %s", c.Reversed) &&
				b.check(trial, order.Status != commerce.StatusRefunded || c.Clawed.String() == "CNY 10.00", "settled, refunded, clawed %s", c.Clawed)
		case promoter.Cancelled:
			_ = b.check(trial, order.Status == commerce.StatusRefunded, "cancelled, order %s", order.Status) &&
				b.check(trial, c.Reversed.String() == "CNY 10.00" && c.Clawed.IsZero() && c.SettledAt.IsZero(), "cancelled: reversed %s, clawed %s", c.Reversed, c.Clawed)
		default:
			b.check(trial, false, "commission %s", c.Status)
		}
		if order.Status == commerce.StatusRefunded {
			b.check(trial, orZero(e.ledgerBy(o)[payment.PartyPromoter]) == "CNY 0.00", "refunded, the promoter keeps %s", e.ledgerBy(o)[payment.PartyPromoter])
		}
	}
	b.done(raceTrials)
}

// A refund that gives spent points back races a checkout spending them:
// the checkout succeeds only on points that are there, the balance never
// goes below zero, and the ledger sums to the card.
func testRacePointsSpendVsRefund(t *testing.T, h Harness) {
	e := newMemberEnv(t, h, func(p *membership.Program) { p.Earn = membership.PointsPer{} })
	b := &broken{t: t}
	span := time.Millisecond
	for trial := range raceTrials {
		c := fmt.Sprint("member-", trial)
		e.grant(c, 3000)
		o, err := e.checkout(c, "a", commerce.With(membership.SpendPoints(3000)))
		require.NoError(t, err)
		o = e.pay(o)
		var wg sync.WaitGroup
		var spendErr, refundErr error
		var took time.Duration
		wg.Go(func() {
			start := time.Now()
			_, refundErr = e.svc.Refund(e.ctx, commerce.RefundParams{All: true, MerchantID: e.m, OrderID: o.ID, IdempotencyKey: "all"})
			took = time.Since(start)
		})
		wg.Go(func() {
			// Drawn below the last refund's duration (see the lottery).
			time.Sleep(time.Duration(rand.N(int64(span))))
			_, spendErr = e.checkout(c, "b", commerce.With(membership.SpendPoints(3000)))
		})
		wg.Wait()
		span = max(took, 100*time.Microsecond)
		require.NoError(t, refundErr)
		card := e.card(c)
		var avail, pending int64
		runningOK := true
		var after membership.EntryID
		for {
			page, err := e.ms.Statement(e.ctx, e.m, commerce.CustomerID(c), after, 100)
			require.NoError(t, err)
			for _, en := range page {
				avail += en.Points
				pending += en.PendingPoints
				runningOK = runningOK && avail == en.Balance
			}
			if len(page) < 100 {
				break
			}
			after = page[len(page)-1].ID
		}
		want := int64(3000) // the refund gave the 3000 back
		if spendErr == nil {
			want = 0 // and the second checkout spent them
			b.outcome("spent again")
		} else {
			b.outcome("refused")
			b.check(trial, errors.Is(spendErr, membership.ErrInsufficientPoints), "second checkout: %v", spendErr)
		}
		_ = b.check(trial, card.Available == want, "available %d, want %d (second checkout err %v)", card.Available, want, spendErr) &&
			b.check(trial, avail == card.Available && pending == card.Pending && runningOK, "ledger %d/%d (running ok %v), card %d/%d", avail, pending, runningOK, card.Available, card.Pending)
	}
	b.done(raceTrials)
}

// A coupon's release (its order cancelled) races a checkout redeeming it
// again: the second order gets it only once it is free, and the coupon ends
// used by that order, or valid and free.
func testRaceCouponRedeemVsRelease(t *testing.T, h Harness) {
	e := newCouponEnv(t, h)
	b := &broken{t: t}
	batch := e.batch(coupons.BatchParams{})
	span := time.Millisecond
	for trial := range raceTrials {
		who := fmt.Sprint("holder-", trial)
		c, err := e.claim(batch, who, "r")
		require.NoError(t, err)
		first, err := e.buy(who, "a", commerce.With(coupons.Select(c.ID)))
		require.NoError(t, err)
		var wg sync.WaitGroup
		var second *commerce.Order
		var cancelErr, buyErr error
		var took time.Duration
		wg.Go(func() {
			start := time.Now()
			_, cancelErr = e.svc.Cancel(e.ctx, first.MerchantID, first.ID, "")
			took = time.Since(start)
		})
		wg.Go(func() {
			// Drawn below the last cancel's duration (see the lottery).
			time.Sleep(time.Duration(rand.N(int64(span))))
			second, buyErr = e.buy(who, "b", commerce.With(coupons.Select(c.ID)))
		})
		wg.Wait()
		span = max(took, 100*time.Microsecond)
		require.NoError(t, cancelErr)
		got := e.coupon(c.ID)
		if buyErr == nil {
			b.outcome("redeemed again")
			b.check(trial, got.Status == coupons.Used && got.OrderID == second.ID, "second order took it, coupon %s for order %s", got.Status, got.OrderID)
		} else {
			b.outcome("refused")
			b.check(trial, got.Status == coupons.Valid && got.OrderID.IsZero(), "second order refused, coupon %s for order %s", got.Status, got.OrderID)
		}
	}
	b.done(raceTrials)
}

// randomRuns is how many random cases a property test plays: n, a tenth
// of it with -short, and a quarter under the race detector, whose
// five- to tenfold slowdown over every store would make a CI run of the
// suite take too long. The property is the same arithmetic on every store;
// the concurrency tests are what the race detector is for.
func randomRuns(n int) int {
	switch {
	case testing.Short():
		return n / 10
	case raceDetector:
		return n / 4
	}
	return n
}
