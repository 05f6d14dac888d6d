package storetest

import (
	"context"
	"fmt"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/membership"
)

// The membership benchmarks label their goroutines phase=setup, timed or
// baseline for the CPU profiler, as the coupon benchmarks do:
//
//	go test -run x -bench CheckoutPoints/SQLite/points -cpuprofile cpu.out ./storage/sqlstore
//	go tool pprof -tagfocus phase=timed sqlstore.test cpu.out
//
// Every helper takes stmts, a count of the SQL statements the harness's
// stores ran so far (nil for stores without SQL): when set, the helper
// reports the statements of the timed part per order (or per call).
func memberPhase(phase string, fn func()) {
	pprof.Do(context.Background(), pprof.Labels("phase", phase), func(context.Context) { fn() })
}

// benchProgram is the conformance suite's program: 1 point per yuan paid,
// pending until the order settles, 1 point pays 1 fen, at most half an
// order; experience 1 per yuan; VIP1 from 0 (no discount), VIP2 from 100
// with 10 % off. Members of the benchmarks stay VIP1.
func benchProgram(merchant commerce.MerchantID) membership.Program {
	return membership.Program{MerchantID: merchant, AutoJoin: true, Earn: membership.PointsPer{Points: 1, Per: commercetest.CNY("1.00")}, Redeem: membership.PointsPer{Points: 1, Per: commercetest.CNY("0.01")}, MaxShare: commerce.MustPercent(50),
		Experience: membership.PointsPer{Points: 1, Per: commercetest.CNY("1.00")}, Expiry: membership.Expiry{Kind: membership.AfterDays, Days: 30},
		Tiers: []membership.Tier{{Level: 1, Name: "VIP1"}, {Level: 2, Name: "VIP2", MinExperience: 100, Discount: commerce.MustPercent(10)}}}
}

// ---- checkout spending points ----

// PointsMode is who checks out in BenchCheckoutPoints, and whether they
// spend points.
type PointsMode string

// Points modes. Every checkout buys the same two lines (60.00 and 40.00,
// free delivery) at a merchant running benchProgram's program.
const (
	// SpendingPoints: a member with a large balance (one lot granted by Adjust
	// before the timer) spends PointsPerOrder points on every order: 10.00
	// off, the order comes to 90.00.
	SpendingPoints PointsMode = "points"
	// MemberNoPoints: the same member checks out spending none.
	MemberNoPoints PointsMode = "member"
	// NonMember: a customer who is not a member of the program.
	NonMember PointsMode = "guest"
)

// PointsModes are the modes in the order the benchmarks run them.
var PointsModes = []PointsMode{NonMember, MemberNoPoints, SpendingPoints}

// PointsPerOrder is what a SpendPoints checkout spends: 10.00 of 100.00.
const PointsPerOrder = 1000

// pointsShop is a points checkout benchmark's world: the Engine over a
// fresh store, each buyer's two products and, in the member modes, each
// buyer's member (one member per buyer: a member's checkouts spending
// points take its row lock one after the other by design).
type pointsShop struct {
	engine   *minishop.Engine
	shop     *commercetest.Shop
	mode     PointsMode
	buyers   int
	perBuyer int
	granted  int64
}

func pointsCustomer(mode PointsMode, w int) commerce.CustomerID {
	if mode == NonMember {
		return commerce.CustomerID(fmt.Sprintf("guest-%d", w))
	}
	return commerce.CustomerID(fmt.Sprintf("member-%d", w))
}

func newPointsShop(tb testing.TB, h Harness, mode PointsMode, buyers, perBuyer int) *pointsShop {
	tb.Helper()
	ctx := context.Background()
	store := h.New(tb)
	engine, err := minishop.New(store)
	if err != nil {
		tb.Fatal(err)
	}
	s := &pointsShop{engine: engine, mode: mode, buyers: buyers, perBuyer: perBuyer,
		granted: int64(perBuyer)*PointsPerOrder + 100_000}
	var specs []commercetest.ProductSpec
	for w := 0; w < buyers; w++ {
		specs = append(specs,
			commercetest.ProductSpec{Title: fmt.Sprintf("tea %d", w), Prices: []string{"60.00"}, Stock: int64(perBuyer)},
			commercetest.ProductSpec{Title: fmt.Sprintf("cup %d", w), Prices: []string{"40.00"}, Stock: int64(perBuyer)})
	}
	s.shop = commercetest.NewShop(tb, engine.Commerce, "points", commerce.ShippingRule{}, specs...)
	m := s.shop.Merchant.ID
	if _, err := engine.Membership.SetProgram(ctx, benchProgram(m)); err != nil {
		tb.Fatal(err)
	}
	// The members exist in every mode (the guests are other customers), so
	// the stores hold the same rows whoever checks out.
	for w := 0; w < buyers; w++ {
		c := pointsCustomer(MemberNoPoints, w)
		if _, err := engine.Membership.Join(ctx, m, c); err != nil {
			tb.Fatal(err)
		}
		if _, err := engine.Membership.Adjust(ctx, membership.AdjustParams{MerchantID: m, Customer: c, Points: s.granted,
			RequestID: "grant"}); err != nil {
			tb.Fatal(err)
		}
	}
	return s
}

// run places every buyer's orders concurrently and fails tb if one fails
// or is priced other than the mode wants.
func (s *pointsShop) run(tb testing.TB) {
	ctx := context.Background()
	addr := commercetest.Address()
	want := commercetest.CNY("100.00")
	if s.mode == SpendingPoints {
		want = commercetest.CNY("90.00")
	}
	var wg sync.WaitGroup
	for w := 0; w < s.buyers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lines := []commerce.LineItem{{SKU: s.shop.SKU(2*w, 0), Quantity: 1}, {SKU: s.shop.SKU(2*w+1, 0), Quantity: 1}}
			customer := pointsCustomer(s.mode, w)
			for i := 0; i < s.perBuyer; i++ {
				p := commerce.CheckoutParams{MerchantID: s.shop.Merchant.ID, CustomerID: customer,
					IdempotencyKey: fmt.Sprintf("k%d", i), ShippingAddress: addr, Lines: lines}
				if s.mode == SpendingPoints {
					p.Extensions = commerce.With(membership.SpendPoints(PointsPerOrder))
				}
				o, err := s.engine.Commerce.Checkout(ctx, p)
				if err != nil {
					tb.Errorf("%s checkout %d of buyer %d: %v", s.mode, i, w, err)
					return
				}
				if !o.Total.Equal(want) {
					tb.Errorf("%s checkout %d of buyer %d: total %s, want %s", s.mode, i, w, o.Total, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// check fails tb unless every member's balance is what the mode left.
func (s *pointsShop) check(tb testing.TB) {
	tb.Helper()
	for w := 0; w < s.buyers; w++ {
		c := pointsCustomer(MemberNoPoints, w)
		card, err := s.engine.Membership.Card(context.Background(), s.shop.Merchant.ID, c)
		if err != nil {
			tb.Fatal(err)
		}
		want := s.granted
		if s.mode == SpendingPoints {
			want -= int64(s.perBuyer) * PointsPerOrder
		}
		if card.Available != want {
			tb.Fatalf("%s: %s has %d points, want %d", s.mode, c, card.Available, want)
		}
	}
}

// BenchCheckoutPoints measures checkout through the Engine (minishop.New)
// of two-line orders in mode: buyers goroutines each place b.N/buyers
// orders, each buyer as its own customer. It reports orders/s and
// allocs/op of the timed part, and stmts/order when stmts is set. In the
// SpendingPoints mode it then places as many orders in the MemberNoPoints mode
// on a fresh store of the harness, timed by hand, and reports them as
// member-orders/s and overhead-% = how much longer an order spending points
// took than the same member's order without (member-orders/s / orders/s -
// 1, in %).
func BenchCheckoutPoints(b *testing.B, h Harness, mode PointsMode, buyers int, stmts func() int64) {
	b.Helper()
	perBuyer := (b.N + buyers - 1) / buyers
	var s *pointsShop
	memberPhase("setup", func() { s = newPointsShop(b, h, mode, buyers, perBuyer) })
	b.ReportAllocs()
	before := count(stmts)
	b.ResetTimer()
	memberPhase("timed", func() { s.run(b) })
	b.StopTimer()
	if b.Failed() {
		return
	}
	orders := buyers * perBuyer
	rate := float64(orders) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "orders/s")
	if stmts != nil {
		b.ReportMetric(float64(stmts()-before)/float64(orders), "stmts/order")
	}
	s.check(b)
	if mode != SpendingPoints {
		return
	}
	base := CheckoutPointsRate(b, h, MemberNoPoints, buyers, perBuyer)
	if b.Failed() {
		return
	}
	b.ReportMetric(base, "member-orders/s")
	b.ReportMetric((base/rate-1)*100, "overhead-%")
}

// CheckoutPointsRate places perBuyer orders per buyer in mode on a fresh
// store of h, as BenchCheckoutPoints does, and returns orders/s timed by
// hand (setup left out), for baselines.
func CheckoutPointsRate(tb testing.TB, h Harness, mode PointsMode, buyers, perBuyer int) float64 {
	tb.Helper()
	var s *pointsShop
	memberPhase("setup", func() { s = newPointsShop(tb, h, mode, buyers, perBuyer) })
	start := time.Now()
	memberPhase("baseline", func() { s.run(tb) })
	elapsed := time.Since(start)
	s.check(tb)
	return float64(buyers*perBuyer) / elapsed.Seconds()
}

func count(stmts func() int64) int64 {
	if stmts == nil {
		return 0
	}
	return stmts()
}

// ---- the card of a long-standing member ----

// entriesPerTx is how many setup calls share a transaction: the
// membership service joins a transaction already in the context, so
// setup commits once per this many calls instead of once per call.
const entriesPerTx = 250

// BenchCard measures Membership.Card of a member whose ledger holds
// entries entries (each an Adjust of +1 point, so as many lots), made
// through the service before the timer (once: the timed loop is b.Loop).
// It reports ns/op (one Card call) and, when stmts is set, stmts/op.
func BenchCard(b *testing.B, h Harness, entries int, stmts func() int64) {
	b.Helper()
	ctx := context.Background()
	var engine *minishop.Engine
	var merchant commerce.MerchantID
	const customer = commerce.CustomerID("regular")
	memberPhase("setup", func() {
		store := h.New(b)
		var err error
		if engine, err = minishop.New(store); err != nil {
			b.Fatal(err)
		}
		merchant = commercetest.NewShop(b, engine.Commerce, "cards", commerce.ShippingRule{}).Merchant.ID
		if _, err := engine.Membership.SetProgram(ctx, benchProgram(merchant)); err != nil {
			b.Fatal(err)
		}
		if _, err := engine.Membership.Join(ctx, merchant, customer); err != nil {
			b.Fatal(err)
		}
		for done := 0; done < entries; {
			n := min(entriesPerTx, entries-done)
			err := store.InTx(ctx, func(ctx context.Context) error {
				for i := done; i < done+n; i++ {
					if _, err := engine.Membership.Adjust(ctx, membership.AdjustParams{MerchantID: merchant, Customer: customer,
						Points: 1, RequestID: fmt.Sprintf("adj-%d", i)}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatalf("build the ledger: %v", err)
			}
			done += n
		}
	})
	card, err := engine.Membership.Card(ctx, merchant, customer)
	if err != nil {
		b.Fatal(err)
	}
	if card.Available != int64(entries) {
		b.Fatalf("card: %d points available, want %d", card.Available, entries)
	}
	b.ReportAllocs()
	before := count(stmts)
	// b.Loop runs this function once, however many rounds it times: the
	// ledger is built once.
	memberPhase("timed", func() {
		for b.Loop() {
			if _, err := engine.Membership.Card(ctx, merchant, customer); err != nil {
				b.Fatal(err)
			}
		}
	})
	if stmts != nil {
		b.ReportMetric(float64(stmts()-before)/float64(b.N), "stmts/op")
	}
}

// ---- releasing pending points when orders settle ----

// ReleaseBench is a shop with orders received and waiting for their
// after-sales window to close, each by a customer of its own (paid through
// the kernel, so the membership order hook auto-joined the customer and
// credited the order's points as pending), made by NewReleaseBench.
type ReleaseBench struct {
	Engine *minishop.Engine
	Store  Store
	Clock  *commercetest.Clock
	Shop   *commercetest.Shop
	Orders int
	// Program is whether the merchant runs a program; without one the
	// orders complete with nothing for membership to release (the
	// kernel's own cost of completing them).
	Program bool
	// Build is how long NewReleaseBench took.
	Build time.Duration
}

// releaseOrdersPerTx is how many orders NewReleaseBench places, pays, ships
// and receives per transaction (the kernel joins a transaction already in
// the context).
const releaseOrdersPerTx = 200

// NewReleaseBench opens a shop on store with a manual clock, runs
// benchProgram's program when program is set, and takes orders orders
// through Checkout, MarkPaid, Ship and ConfirmReceipt (two lines, 100.00:
// 100 pending points each).
func NewReleaseBench(tb testing.TB, store Store, orders int, program bool) *ReleaseBench {
	tb.Helper()
	start := time.Now()
	ctx := context.Background()
	clock := commercetest.NewClock(commercetest.Epoch)
	engine, err := minishop.New(store, minishop.WithClock(clock))
	if err != nil {
		tb.Fatal(err)
	}
	r := &ReleaseBench{Engine: engine, Store: store, Clock: clock, Orders: orders, Program: program}
	r.Shop = commercetest.NewShop(tb, engine.Commerce, "release", commerce.ShippingRule{},
		commercetest.ProductSpec{Title: "tea", Prices: []string{"60.00"}, Stock: int64(orders)},
		commercetest.ProductSpec{Title: "cup", Prices: []string{"40.00"}, Stock: int64(orders)})
	m := r.Shop.Merchant.ID
	if program {
		if _, err := engine.Membership.SetProgram(ctx, benchProgram(m)); err != nil {
			tb.Fatal(err)
		}
	}
	addr := commercetest.Address()
	lines := []commerce.LineItem{{SKU: r.Shop.SKU(0, 0), Quantity: 1}, {SKU: r.Shop.SKU(1, 0), Quantity: 1}}
	svc := engine.Commerce
	for done := 0; done < orders; {
		n := min(releaseOrdersPerTx, orders-done)
		err := store.InTx(ctx, func(ctx context.Context) error {
			for i := done; i < done+n; i++ {
				o, err := svc.Checkout(ctx, commerce.CheckoutParams{MerchantID: m, CustomerID: ReleaseCustomer(i),
					IdempotencyKey: "k", ShippingAddress: addr, Lines: lines})
				if err != nil {
					return err
				}
				if _, err := svc.MarkPaid(ctx, commerce.MarkPaidParams{MerchantID: m, OrderID: o.ID, PaymentRef: "pay-" + o.ID.String(), Amount: o.Total}); err != nil {
					return err
				}
				if _, err := svc.Ship(ctx, commerce.ShipParams{MerchantID: m, OrderID: o.ID}); err != nil {
					return err
				}
				if _, err := svc.ConfirmReceipt(ctx, m, o.ID); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatalf("build order %d..%d: %v", done, done+n, err)
		}
		done += n
	}
	r.Build = time.Since(start)
	return r
}

// ReleaseCustomer is the customer of order i.
func ReleaseCustomer(i int) commerce.CustomerID { return commerce.CustomerID(fmt.Sprintf("c%06d", i)) }

// Check fails tb unless the members' points are as wanted: all 100 points
// of each order pending (released unset) or available (released set).
func (r *ReleaseBench) Check(tb testing.TB, released bool) {
	tb.Helper()
	if !r.Program {
		return
	}
	ctx := context.Background()
	var after commerce.CustomerID
	seen := 0
	for {
		page, err := r.Store.ListMembers(ctx, r.Shop.Merchant.ID, after, 1000)
		if err != nil {
			tb.Fatal(err)
		}
		for _, m := range page {
			want := membership.Member{Pending: 100}
			if released {
				want = membership.Member{Available: 100}
			}
			if m.Pending != want.Pending || m.Available != want.Available {
				tb.Fatalf("member %s: %d available, %d pending; want %d, %d", m.Customer, m.Available, m.Pending, want.Available, want.Pending)
			}
		}
		seen += len(page)
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].Customer
	}
	if seen != r.Orders {
		tb.Fatalf("%d members, want %d", seen, r.Orders)
	}
}

// BenchReleasePending measures one Engine.RunDue that completes orders
// received orders whose after-sales window has just closed: the kernel
// completes each and, with program set, the membership hook releases each
// order's pending points. Each of the b.N iterations builds its orders with
// NewReleaseBench (timer stopped) then advances the clock 8 days (past the
// 7-day window) and times RunDue. ns/op is the wall time of one RunDue over
// every order; it also reports orders, µs/order, build-s (the build's wall
// time) and, when stmts is set, stmts/order.
func BenchReleasePending(b *testing.B, h Harness, orders int, program bool, stmts func() int64) {
	b.Helper()
	ctx := context.Background()
	var build time.Duration
	var n int64
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		var r *ReleaseBench
		memberPhase("setup", func() { r = NewReleaseBench(b, h.New(b), orders, program) })
		build += r.Build
		r.Check(b, false)
		r.Clock.Advance(8 * 24 * time.Hour)
		before := count(stmts)
		b.StartTimer()
		memberPhase("timed", func() {
			if _, err := r.Engine.RunDue(ctx); err != nil {
				b.Fatal(err)
			}
		})
		b.StopTimer()
		n += count(stmts) - before
		r.Check(b, true)
	}
	perOrder := float64(b.Elapsed().Microseconds()) / float64(b.N*orders)
	b.ReportMetric(float64(orders), "orders")
	b.ReportMetric(perOrder, "µs/order")
	b.ReportMetric(build.Seconds()/float64(b.N), "build-s")
	if stmts != nil {
		b.ReportMetric(float64(n)/float64(b.N*orders), "stmts/order")
	}
}
