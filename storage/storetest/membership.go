package storetest

import (
	"golang.org/x/text/currency"

	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	. "github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/coupons"
	"github.com/minishop/minishop/membership"
)

func runMembership(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"SpendConcurrent", testSpendConcurrent},
		{"LedgerEqualsBalanceConcurrent", testLedgerBalanceConcurrent},
		{"AdjustIdempotent", testAdjustIdempotent},
		{"EarnPendingThenSettle", testEarnPendingSettle},
		{"RefundReturnsToLots", testRefundReturnsToLots},
		{"RefundClawsBackEarned", testRefundClawsBack},
		{"TiersAndMemberPrices", testTiersAndPrices},
		{"GiftCreditsGiver", testGiftCreditsGiver},
		{"Expiry", testPointsExpiry},
		{"BadInput", testMembershipBadInput},
		{"WelcomeGiftAndBenefits", testWelcomeGiftAndBenefits},
		{"TierReview", testTierReview},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

type memberEnv struct {
	*env
	engine *minishop.Engine
	ms     *membership.Service
	shop   *Shop
	m      commerce.MerchantID
}

// newMemberEnv: a shop (tea 60.00, cup 40.00; 8.00 delivery under 199) with
// a program: 1 point per yuan paid, pending until settled, 1 point pays 1
// fen (so 100 points = 1.00), at most half an order; experience 1 per yuan;
// VIP1 from 0, VIP2 from 100 with 10 % off and a member price of 50.00 for
// the tea.
func newMemberEnv(t *testing.T, h Harness, edit ...func(*membership.Program)) *memberEnv {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), store: h.New(t), clock: NewClock(Epoch)}
	engine, err := minishop.New(e.store, minishop.WithClock(e.clock), minishop.WithIDs(&SeqIDs{}))
	require.NoError(t, err)
	e.svc = engine.Commerce
	me := &memberEnv{env: e, engine: engine, ms: engine.Membership}
	me.shop = NewShop(t, e.svc, "会员店", commerce.ShippingRule{Flat: CNY("8"), FreeOver: CNY("199")},
		ProductSpec{Title: "茶", Prices: []string{"60.00"}, Stock: 1000},
		ProductSpec{Title: "杯", Prices: []string{"40.00"}, Stock: 1000})
	me.m = me.shop.Merchant.ID
	p := membership.Program{MerchantID: me.m, AutoJoin: true, Earn: membership.PointsPer{Points: 1, Per: CNY("1.00")}, Redeem: membership.PointsPer{Points: 1, Per: CNY("0.01")}, MaxShare: commerce.MustPercent(50),
		Experience: membership.PointsPer{Points: 1, Per: CNY("1.00")}, Expiry: membership.Expiry{Kind: membership.AfterDays, Days: 30},
		Tiers:        []membership.Tier{{Level: 1, Name: "VIP1"}, {Level: 2, Name: "VIP2", MinExperience: 100, Discount: commerce.MustPercent(10)}},
		MemberPrices: []membership.MemberPrice{{SKU: me.shop.SKU(0, 0), Level: 2, Price: CNY("50.00")}}}
	for _, f := range edit {
		f(&p)
	}
	_, err = me.ms.SetProgram(e.ctx, p)
	require.NoError(t, err)
	return me
}

func (e *memberEnv) card(c string) *membership.Member {
	e.t.Helper()
	m, err := e.ms.Card(e.ctx, e.m, commerce.CustomerID(c))
	require.NoError(e.t, err)
	return m
}

func (e *memberEnv) grant(c string, n int64) {
	e.t.Helper()
	_, err := e.ms.Join(e.ctx, e.m, commerce.CustomerID(c))
	require.NoError(e.t, err)
	_, err = e.ms.Adjust(e.ctx, membership.AdjustParams{MerchantID: e.m, Customer: commerce.CustomerID(c), Points: n,
		RequestID: fmt.Sprintf("grant-%d-%d", n, e.clock.Now().UnixNano())})
	require.NoError(e.t, err)
}

func (e *memberEnv) checkout(c, key string, ext commerce.Extensions, lines ...commerce.LineItem) (*commerce.Order, error) {
	if len(lines) == 0 {
		lines = []commerce.LineItem{{SKU: e.shop.SKU(0, 0), Quantity: 1}, {SKU: e.shop.SKU(1, 0), Quantity: 1}}
	}
	return e.svc.Checkout(e.ctx, commerce.CheckoutParams{MerchantID: e.m, CustomerID: commerce.CustomerID(c), IdempotencyKey: key,
		ShippingAddress: Address(), Extensions: ext, Lines: lines})
}

func (e *memberEnv) pay(o *commerce.Order) *commerce.Order {
	e.t.Helper()
	o, err := e.svc.MarkPaid(e.ctx, commerce.MarkPaidParams{MerchantID: o.MerchantID, OrderID: o.ID, PaymentRef: "p-" + o.ID.String(), Amount: o.Total})
	require.NoError(e.t, err)
	return o
}

// ledgerMatches checks the ledger sums to the card's balances.
func (e *memberEnv) ledgerMatches(c string) {
	e.t.Helper()
	card := e.card(c)
	var avail, pending int64
	var after membership.EntryID
	for {
		page, err := e.ms.Statement(e.ctx, e.m, commerce.CustomerID(c), after, 100)
		require.NoError(e.t, err)
		for _, en := range page {
			avail += en.Points
			pending += en.PendingPoints
			assert.Equal(e.t, avail, en.Balance, "running balance after %s", en.Kind)
		}
		if len(page) < 100 {
			break
		}
		after = page[len(page)-1].ID
	}
	assert.Equal(e.t, card.Available, avail, "Σ ledger = available")
	assert.Equal(e.t, card.Pending, pending, "Σ ledger = pending")
	assert.GreaterOrEqual(e.t, card.Available, int64(0))
}

// 32 concurrent checkouts each spend 100 of 1,000 points: exactly 10 pass.
func testSpendConcurrent(t *testing.T, h Harness) {
	e := newMemberEnv(t, h)
	e.grant("alice", 1000)
	var ok atomic.Int32
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			_, err := e.checkout("alice", fmt.Sprintf("k%d", i), commerce.With(membership.SpendPoints(100)))
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, membership.ErrInsufficientPoints):
			default:
				t.Errorf("checkout %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	assert.EqualValues(t, 10, ok.Load())
	assert.EqualValues(t, 0, e.card("alice").Available)
	e.ledgerMatches("alice")
}

// Earning, spending and expiry at once: the ledger always sums to the
// balance.
func testLedgerBalanceConcurrent(t *testing.T, h Harness) {
	e := newMemberEnv(t, h)
	e.grant("alice", 500)
	e.clock.Advance(31 * 24 * time.Hour) // the 500 are due to expire
	e.grant("alice", 700)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			o, err := e.checkout("alice", fmt.Sprintf("k%d", i), commerce.With(membership.SpendPoints(100)))
			if err == nil {
				_, _ = e.svc.MarkPaid(e.ctx, commerce.MarkPaidParams{MerchantID: o.MerchantID, OrderID: o.ID, PaymentRef: "p" + o.ID.String(), Amount: o.Total})
			}
		})
	}
	for range 4 {
		wg.Go(func() { _, _ = e.ms.RunDue(e.ctx) })
	}
	wg.Wait()
	e.ledgerMatches("alice")
	card := e.card("alice")
	assert.EqualValues(t, 0, card.Available, "the 500 expired, the 700 were spent")
}

func testAdjustIdempotent(t *testing.T, h Harness) {
	e := newMemberEnv(t, h)
	_, err := e.ms.Join(e.ctx, e.m, "alice")
	require.NoError(t, err)
	p := membership.AdjustParams{MerchantID: e.m, Customer: "alice", Points: 300, RequestID: "sorry-1", Note: "late delivery"}
	first, err := e.ms.Adjust(e.ctx, p)
	require.NoError(t, err)
	again, err := e.ms.Adjust(e.ctx, p)
	require.NoError(t, err)
	assert.Equal(t, first.ID, again.ID)
	assert.EqualValues(t, 300, e.card("alice").Available)
	p.Points = 500
	_, err = e.ms.Adjust(e.ctx, p)
	require.Error(t, err, "a request id reused with other content")
	assert.Equal(t, "request_id", fieldOf(err))
	assert.EqualValues(t, 300, e.card("alice").Available)
}

func testEarnPendingSettle(t *testing.T, h Harness) {
	e := newMemberEnv(t, h)
	o, err := e.checkout("alice", "k1", nil)
	require.NoError(t, err)
	o = e.pay(o) // 100.00 + 8.00 delivery: 100 points, freight excluded
	card := e.card("alice")
	assert.EqualValues(t, 1, card.Number, "auto-joined on the first paid order")
	assert.EqualValues(t, 100, card.Pending)
	assert.EqualValues(t, 0, card.Available)
	assert.EqualValues(t, 2, card.Level, "100 experience reaches VIP2 in the same transaction")

	_, err = e.svc.Ship(e.ctx, commerce.ShipParams{MerchantID: e.m, OrderID: o.ID})
	require.NoError(t, err)
	_, err = e.svc.ConfirmReceipt(e.ctx, e.m, o.ID)
	require.NoError(t, err)
	assert.EqualValues(t, 100, e.card("alice").Pending, "still pending inside the after-sales window")
	e.clock.Advance(8 * 24 * time.Hour)
	runDue(t, e.engine, e.ctx)
	card = e.card("alice")
	assert.EqualValues(t, 0, card.Pending)
	assert.EqualValues(t, 100, card.Available, "released when the order settled")
	e.ledgerMatches("alice")
}

// A partial refund then a full refund return exactly what was spent, to
// the lots it came from with their original expiry.
func testRefundReturnsToLots(t *testing.T, h Harness) {
	e := newMemberEnv(t, h, func(p *membership.Program) { p.Earn = membership.PointsPer{} })
	e.grant("alice", 3000) // lot A, expires at day 30
	e.clock.Advance(24 * time.Hour)
	e.grant("alice", 3000)                                                           // lot B, expires at day 31
	o, err := e.checkout("alice", "k1", commerce.With(membership.SpendPoints(5000))) // 50.00 of 100.00
	require.NoError(t, err)
	o = e.pay(o)
	assert.Equal(t, "CNY 58.00", o.Total.String(), "100.00 - 50.00 + 8.00 delivery")
	assert.EqualValues(t, 1000, e.card("alice").Available, "lot A burnt first, then 2000 of B")

	_, err = e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: e.m, OrderID: o.ID, IdempotencyKey: "cup",
		Items: []commerce.RefundItem{{Line: 1, Quantity: 1}}})
	require.NoError(t, err)
	// The cup carried 40 % of the points deduction: 2000 points back, to
	// lot B first (burnt last).
	assert.EqualValues(t, 3000, e.card("alice").Available)
	_, err = e.svc.Refund(e.ctx, commerce.RefundParams{All: true, MerchantID: e.m, OrderID: o.ID, IdempotencyKey: "rest"})
	require.NoError(t, err)
	assert.EqualValues(t, 6000, e.card("alice").Available, "everything spent came back")
	lots, err := e.store.MemberLots(e.ctx, e.m, "alice", true)
	require.NoError(t, err)
	require.Len(t, lots, 2)
	assert.EqualValues(t, 3000, lots[0].Left)
	assert.EqualValues(t, 3000, lots[1].Left)
	assert.Equal(t, Epoch.AddDate(0, 0, 30), lots[0].ExpiresAt, "original expiry kept")
	e.ledgerMatches("alice")
}

func testRefundClawsBack(t *testing.T, h Harness) {
	e := newMemberEnv(t, h)
	o := e.pay(must(e.checkout("alice", "k1", nil)))
	// Refund the cup inside the window: its 40 pending points are cancelled.
	_, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: e.m, OrderID: o.ID, IdempotencyKey: "cup",
		Items: []commerce.RefundItem{{Line: 1, Quantity: 1}}})
	require.NoError(t, err)
	card := e.card("alice")
	assert.EqualValues(t, 60, card.Pending)
	assert.EqualValues(t, 60, card.Experience, "experience back pro rata")

	// The rest settles: 60 points become available.
	_, err = e.svc.Ship(e.ctx, commerce.ShipParams{MerchantID: e.m, OrderID: o.ID})
	require.NoError(t, err)
	_, err = e.svc.ConfirmReceipt(e.ctx, e.m, o.ID)
	require.NoError(t, err)
	_, err = e.svc.Complete(e.ctx, e.m, o.ID)
	require.NoError(t, err)
	card = e.card("alice")
	assert.EqualValues(t, 0, card.Pending)
	assert.EqualValues(t, 60, card.Available)

	// A late refund of the settled order (granted after the window) claws
	// the released points back; those already spent become a debt.
	e.pay(must(e.checkout("alice", "k-spend", commerce.With(membership.SpendPoints(50)))))
	assert.EqualValues(t, 10, e.card("alice").Available)
	_, err = e.svc.Refund(e.ctx, commerce.RefundParams{All: true, MerchantID: e.m, OrderID: o.ID, IdempotencyKey: "late"})
	require.NoError(t, err)
	card = e.card("alice")
	assert.EqualValues(t, 0, card.Available)
	assert.EqualValues(t, 50, card.Debt, "60 released points clawed back: 10 from the balance, 50 owed")

	// Refunded in full before settling: every pending point is cancelled.
	o2 := e.pay(must(e.checkout("bob", "k1", nil)))
	assert.EqualValues(t, 100, e.card("bob").Pending)
	_, err = e.svc.Refund(e.ctx, commerce.RefundParams{All: true, MerchantID: e.m, OrderID: o2.ID, IdempotencyKey: "all"})
	require.NoError(t, err)
	assert.EqualValues(t, 0, e.card("bob").Pending)
	assert.EqualValues(t, 0, e.card("bob").Available)
	e.ledgerMatches("alice")
	e.ledgerMatches("bob")
}

func must(o *commerce.Order, err error) *commerce.Order {
	if err != nil {
		panic(err)
	}
	return o
}

func testTiersAndPrices(t *testing.T, h Harness) {
	e := newMemberEnv(t, h)
	q := func() *commerce.Quote {
		q, err := e.svc.Quote(e.ctx, commerce.QuoteParams{MerchantID: e.m, CustomerID: "alice",
			Lines: []commerce.LineItem{{SKU: e.shop.SKU(0, 0), Quantity: 1}, {SKU: e.shop.SKU(1, 0), Quantity: 1}}})
		require.NoError(t, err)
		return q
	}
	assert.Empty(t, q().Adjustments, "not a member yet")
	e.pay(must(e.checkout("alice", "k1", nil))) // 100 experience: VIP2
	got := q()
	require.Len(t, got.Adjustments, 1)
	assert.Equal(t, commerce.KindMemberPrice, got.Adjustments[0].Kind)
	// Tea at the member price 50.00 (10.00 off), the cup 10 % off (4.00).
	assert.Equal(t, "CNY 14.00", got.Adjustments[0].Amount.String())
	assert.Equal(t, "CNY 10.00", got.Adjustments[0].Split[0].String())
	assert.Equal(t, "CNY 4.00", got.Adjustments[0].Split[1].String())

	// Excluding the cup from the tier discount leaves it at full price.
	prog, err := e.ms.Program(e.ctx, e.m)
	require.NoError(t, err)
	prog.Tiers[1].ExcludeProducts = []commerce.ProductID{e.shop.Products[1].ID}
	_, err = e.ms.SetProgram(e.ctx, *prog)
	require.NoError(t, err)
	got = q()
	require.Len(t, got.Adjustments, 1)
	assert.Equal(t, "CNY 10.00", got.Adjustments[0].Amount.String(), "the member price only")
	events, err := e.store.ReadEvents(e.ctx, 0, 1000)
	require.NoError(t, err)
	n := 0
	for _, ev := range events {
		if ev.Type == "member.tier_changed" {
			n++
		}
	}
	assert.Equal(t, 1, n)
}

func testGiftCreditsGiver(t *testing.T, h Harness) {
	e := newMemberEnv(t, h)
	o, err := e.svc.Checkout(e.ctx, commerce.CheckoutParams{MerchantID: e.m, CustomerID: "giver", IdempotencyKey: "g1",
		Gift: &commerce.Gift{Message: "生日快乐"}, Lines: []commerce.LineItem{{SKU: e.shop.SKU(0, 0), Quantity: 1}}})
	require.NoError(t, err)
	e.pay(o)
	assert.EqualValues(t, 60, e.card("giver").Pending, "the giver earns")
	_, err = e.svc.AcceptGift(e.ctx, commerce.AcceptGiftParams{MerchantID: e.m, OrderID: o.ID, Recipient: "friend", Address: *Address()})
	require.NoError(t, err)
	_, err = e.ms.Card(e.ctx, e.m, "friend")
	assert.ErrorIs(t, err, membership.ErrNotMember, "the recipient earns nothing")
}

func testPointsExpiry(t *testing.T, h Harness) {
	e := newMemberEnv(t, h)
	e.grant("alice", 500)
	events := func(typ string) int {
		evs, err := e.store.ReadEvents(e.ctx, 0, 1000)
		require.NoError(t, err)
		n := 0
		for _, ev := range evs {
			if ev.Type == typ {
				n++
			}
		}
		return n
	}
	e.clock.Advance(22 * 24 * time.Hour)
	_, err := e.ms.RunDue(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, 0, events("points.expiring"), "8 days ahead: no reminder yet")
	e.clock.Advance(24 * time.Hour)
	_, err = e.ms.RunDue(e.ctx)
	require.NoError(t, err)
	_, err = e.ms.RunDue(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, events("points.expiring"), "7 days ahead: reminded once")
	e.clock.Advance(6 * 24 * time.Hour)
	n, err := e.ms.RunDue(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, 0, n)
	e.clock.Advance(24 * time.Hour)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { _, _ = e.ms.RunDue(e.ctx) })
	}
	wg.Wait()
	assert.EqualValues(t, 0, e.card("alice").Available)
	entries, err := e.ms.Statement(e.ctx, e.m, "alice", membership.EntryID{}, 100)
	require.NoError(t, err)
	expired := 0
	for _, en := range entries {
		if en.Kind == membership.Expire {
			expired++
			assert.EqualValues(t, -500, en.Points)
		}
	}
	assert.Equal(t, 1, expired, "expired once however many RunDue ran")
	e.ledgerMatches("alice")
}

func testMembershipBadInput(t *testing.T, h Harness) {
	e := newMemberEnv(t, h)
	base := func() membership.Program {
		return membership.Program{MerchantID: e.m, Tiers: []membership.Tier{{Level: 1, Name: "VIP1"}, {Level: 2, Name: "VIP2", MinExperience: 100}}}
	}
	cases := map[string]func(*membership.Program){
		"tiers[1].level":          func(p *membership.Program) { p.Tiers[1].Level = 3 },
		"tiers[1].min_experience": func(p *membership.Program) { p.Tiers[1].MinExperience = 0 },
		"earn.points":             func(p *membership.Program) { p.Earn = membership.PointsPer{Points: -1, Per: CNY("1.00")} },
		"earn.per":                func(p *membership.Program) { p.Earn = membership.PointsPer{Points: 1} },
		"experience.points":       func(p *membership.Program) { p.Experience = membership.PointsPer{Per: CNY("1.00")} },
		"experience.per": func(p *membership.Program) {
			p.Experience = membership.PointsPer{Points: 1, Per: commerce.MustPercent(50).OfExact(CNY("0.01"))}
		},
		"redeem.points": func(p *membership.Program) { p.Redeem = membership.PointsPer{Points: -5, Per: CNY("0.01")} },
		"redeem.per": func(p *membership.Program) {
			p.Earn = membership.PointsPer{Points: 1, Per: CNY("1.00")}
			p.Redeem = membership.PointsPer{Points: 100, Per: commerce.FromMinor(1, currency.USD)}
		},
		"max_share":                func(p *membership.Program) { p.MaxShare = commerce.MustPercent(200) },
		"tiers[1].discount":        func(p *membership.Program) { p.Tiers[1].Discount = commerce.MustPercent(90.01) },
		"tiers[0].earn_multiplier": func(p *membership.Program) { p.Tiers[0].EarnMultiplier = commerce.PPM(-1) },
		"member_prices[0].level": func(p *membership.Program) {
			p.MemberPrices = []membership.MemberPrice{{SKU: e.shop.SKU(0, 0), Level: 9, Price: CNY("1")}}
		},
		"expiry.days": func(p *membership.Program) { p.Expiry = membership.Expiry{Kind: membership.AfterDays} },
	}
	before, err := e.ms.Program(e.ctx, e.m)
	require.NoError(t, err)
	for field, mutate := range cases {
		p := base()
		mutate(&p)
		_, err := e.ms.SetProgram(e.ctx, p)
		require.Error(t, err, field)
		assert.Equal(t, field, fieldOf(err), "%v", err)
	}
	after, err := e.ms.Program(e.ctx, e.m)
	require.NoError(t, err)
	assert.Equal(t, before.Version, after.Version, "nothing written")

	e.grant("alice", 100)
	_, err = e.checkout("alice", "k1", commerce.With(membership.SpendPoints(200)))
	assert.ErrorIs(t, err, membership.ErrInsufficientPoints)
	assert.Equal(t, "extensions.points", fieldOf(err))
	e.grant("alice", 10000)
	_, err = e.checkout("alice", "k2", commerce.With(membership.SpendPoints(6000)))
	assert.Equal(t, "extensions.points", fieldOf(err), "more than half the order")
	_, err = e.checkout("mallory", "k3", commerce.With(membership.SpendPoints(100)))
	assert.ErrorIs(t, err, membership.ErrNotMember)
	other := NewShop(t, e.svc, "别家", freeShipping, ProductSpec{Title: "x", Prices: []string{"100"}, Stock: 5})
	_, err = e.ms.Card(e.ctx, other.Merchant.ID, "alice")
	assert.ErrorIs(t, err, membership.ErrNotMember, "membership is per merchant")
	assert.EqualValues(t, 10100, e.card("alice").Available, "nothing spent by the refused checkouts")
}

// Reaching a tier grants its welcome coupon in the same transaction (the
// Engine wires membership to coupons); the tier's free delivery, earning
// multiplier and the per-order cap apply.
func testWelcomeGiftAndBenefits(t *testing.T, h Harness) {
	var gift *coupons.Batch
	e := newMemberEnv(t, h)
	b, err := e.engine.Coupons.CreateBatch(e.ctx, coupons.BatchParams{MerchantID: e.m, Name: "Jade welcome", Kind: coupons.AmountOff,
		Amount: CNY("10"), Validity: coupons.Validity{Days: 30}, Total: 100, Channel: coupons.GrantOnly, Activate: true})
	require.NoError(t, err)
	gift = b
	_, err = e.ms.SetProgram(e.ctx, membership.Program{MerchantID: e.m, AutoJoin: true, Earn: membership.PointsPer{Points: 1, Per: CNY("1.00")}, CapPerOrder: 150,
		Experience: membership.PointsPer{Points: 1, Per: CNY("1.00")}, Tiers: []membership.Tier{{Level: 1, Name: "VIP1"},
			{Level: 2, Name: "VIP2", MinExperience: 100, FreeShipping: true, EarnMultiplier: commerce.MustPercent(200), WelcomeGift: gift.ID.String()}}})
	require.NoError(t, err)

	o := e.pay(must(e.checkout("alice", "k1", nil))) // 100.00: VIP2 reached on payment
	card := e.card("alice")
	assert.Equal(t, 2, card.Level)
	// Earned at the new tier: 100 points × 2, capped at 150.
	assert.EqualValues(t, 150, card.Pending)
	w, err := e.engine.Coupons.Wallet(e.ctx, "alice", coupons.Valid)
	require.NoError(t, err)
	require.Len(t, w, 1, "the welcome gift")
	assert.Equal(t, gift.ID, w[0].BatchID)
	assert.True(t, w[0].Granted)
	_ = o

	q, err := e.svc.Quote(e.ctx, commerce.QuoteParams{MerchantID: e.m, CustomerID: "alice", Extensions: commerce.With(coupons.NoCoupon()),
		Lines: []commerce.LineItem{{SKU: e.shop.SKU(1, 0), Quantity: 1}}})
	require.NoError(t, err)
	assert.Equal(t, "CNY 8.00", q.Shipping.String())
	assert.Equal(t, "CNY 8.00", q.ShippingDiscount.String(), "VIP2 delivers for free")
	assert.Equal(t, "CNY 40.00", q.Total.String())
}

// Every 3 months a member must earn their tier's keep or move down.
func testTierReview(t *testing.T, h Harness) {
	e := newMemberEnv(t, h, func(p *membership.Program) {
		p.ReviewMonths, p.MemberPrices = 3, nil
		p.Tiers = []membership.Tier{{Level: 1, Name: "VIP1"}, {Level: 2, Name: "VIP2", MinExperience: 100, KeepExperience: 50},
			{Level: 3, Name: "VIP3", MinExperience: 300, KeepExperience: 200}}
	})
	_, err := e.ms.Join(e.ctx, e.m, "alice")
	require.NoError(t, err)
	_, err = e.ms.Join(e.ctx, e.m, "bob")
	require.NoError(t, err)
	for i := range 3 { // 300 experience each: VIP3
		e.pay(must(e.checkout("alice", fmt.Sprintf("a%d", i), nil)))
		e.pay(must(e.checkout("bob", fmt.Sprintf("b%d", i), nil)))
	}
	assert.Equal(t, 3, e.card("alice").Level)
	e.clock.Advance(92 * 24 * time.Hour) // first review: both earned 300 since joining, keep VIP3
	runDue(t, e.engine, e.ctx)
	assert.Equal(t, 3, e.card("alice").Level)
	// In the next period alice earns 100 (keeps VIP2's 50, not VIP3's 200),
	// bob nothing (drops to VIP1).
	e.pay(must(e.checkout("alice", "a9", nil)))
	e.clock.Advance(92 * 24 * time.Hour)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { _, _ = e.engine.RunDue(e.ctx) })
	}
	wg.Wait()
	assert.Equal(t, 2, e.card("alice").Level)
	assert.Equal(t, 1, e.card("bob").Level)
	events, err := e.store.ReadEvents(e.ctx, 0, 1000)
	require.NoError(t, err)
	down := 0
	for _, ev := range events {
		if ev.Type == "member.tier_changed" && strings.Contains(string(ev.Payload), `"review":true`) {
			down++
		}
	}
	assert.Equal(t, 2, down, "each member moved down once, however many RunDue ran")
}
