package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/promoter"
)

// The promoter benchmarks label their goroutines phase=setup, timed or
// baseline for the CPU profiler, as the coupon benchmarks do:
//
//	go test -run x -bench CheckoutShare/SQLite/share -cpuprofile cpu.out ./storage/sqlstore
//	go tool pprof -tagfocus phase=timed sqlstore.test cpu.out
//
// Like the membership benchmarks they take stmts, a count of the SQL
// statements the harness's stores ran so far (nil for stores without SQL),
// and report the timed part's statements per order when it is set.

// benchPlanRate is the benchmarks' public plan: 12 % of what a line paid.
var benchPlanRate = commerce.MustPercent(12)

// benchPromoterSecret signs the benchmarks' share tokens.
var benchPromoterSecret = []byte("bench promoter secret")

// ---- checkout through a promoter's share link ----

// ShareMode is whether the checkouts of BenchCheckoutShare carry a
// promoter's share token.
type ShareMode string

// Share modes. Every checkout buys the same two lines (60.00 and 40.00,
// free delivery) of two products in a 12 % public plan, at a merchant with
// a promoter bound to an agency that passes 70 % of its commission on.
const (
	// NoShare checks out without a token: the promoter hook finds nothing
	// to attribute and reads nothing.
	NoShare ShareMode = "none"
	// SharedLink checks out with the promoter's shop link (promoter.WithShare):
	// the hook verifies the token, reads the promoter and the lines' plans,
	// and writes the attribution (promoter, agency, scene, both lines at
	// 12 %) into the order's metadata. The orders are not paid, so no
	// commission is created.
	SharedLink ShareMode = "share"
)

// ShareModes are the modes in the order the benchmarks run them.
var ShareModes = []ShareMode{NoShare, SharedLink}

// shareShop is a share checkout benchmark's world: the Engine over a fresh
// store, each buyer's two products (both in the plan), the agency, its
// promoter and the promoter's share token. The world is the same in both
// modes; only the token differs.
type shareShop struct {
	engine   *minishop.Engine
	shop     *commercetest.Shop
	mode     ShareMode
	buyers   int
	perBuyer int
	agency   *promoter.Agency
	promoter *promoter.Promoter
	token    string
	wantMeta map[string]string
}

func newShareShop(tb testing.TB, h Harness, mode ShareMode, buyers, perBuyer int) *shareShop {
	tb.Helper()
	ctx := context.Background()
	store := h.New(tb)
	engine, err := minishop.New(store, minishop.WithPromoter(func(c *promoter.Config) { c.Secret = benchPromoterSecret }))
	if err != nil {
		tb.Fatal(err)
	}
	s := &shareShop{engine: engine, mode: mode, buyers: buyers, perBuyer: perBuyer}
	var specs []commercetest.ProductSpec
	for w := 0; w < buyers; w++ {
		specs = append(specs,
			commercetest.ProductSpec{Title: fmt.Sprintf("tea %d", w), Prices: []string{"60.00"}, Stock: int64(perBuyer)},
			commercetest.ProductSpec{Title: fmt.Sprintf("cup %d", w), Prices: []string{"40.00"}, Stock: int64(perBuyer)})
	}
	s.shop = commercetest.NewShop(tb, engine.Commerce, "share", commerce.ShippingRule{}, specs...)
	m := s.shop.Merchant.ID
	ps := engine.Promoter
	for _, p := range s.shop.Products {
		if _, err := ps.SetPlan(ctx, promoter.PlanParams{MerchantID: m, ProductID: p.ID, Kind: promoter.Public, Rate: benchPlanRate}); err != nil {
			tb.Fatal(err)
		}
	}
	if s.agency, err = ps.CreateAgency(ctx, promoter.AgencyParams{Name: "bench agency", PromoterShare: commerce.MustPercent(70)}); err != nil {
		tb.Fatal(err)
	}
	if s.promoter, err = ps.CreatePromoter(ctx, "bench promoter"); err != nil {
		tb.Fatal(err)
	}
	if err := ps.BindToAgency(ctx, s.agency.ID, s.promoter.ID); err != nil {
		tb.Fatal(err)
	}
	// A shop link covers every line.
	if s.token, err = ps.ShareToken(promoter.ShareParams{MerchantID: m, PromoterID: s.promoter.ID, Scene: promoter.SceneGroup}); err != nil {
		tb.Fatal(err)
	}
	rate := fmt.Sprint(benchPlanRate.PPM())
	s.wantMeta = map[string]string{"promoter": s.promoter.ID.String(),
		"promoter.scene": string(promoter.SceneGroup), "promoter.lines": "0:" + rate + ",1:" + rate}
	return s
}

// run places every buyer's orders concurrently and fails tb if one fails,
// is priced other than 100.00, or is attributed other than the mode wants.
func (s *shareShop) run(tb testing.TB) {
	ctx := context.Background()
	addr := commercetest.Address()
	want := commercetest.CNY("100.00")
	var wg sync.WaitGroup
	for w := 0; w < s.buyers; w++ {
		wg.Go(func() {
			lines := []commerce.LineItem{{SKU: s.shop.SKU(2*w, 0), Quantity: 1}, {SKU: s.shop.SKU(2*w+1, 0), Quantity: 1}}
			customer := commerce.CustomerID(fmt.Sprintf("buyer-%d", w))
			for i := 0; i < s.perBuyer; i++ {
				p := commerce.CheckoutParams{MerchantID: s.shop.Merchant.ID, CustomerID: customer,
					IdempotencyKey: fmt.Sprintf("k%d", i), ShippingAddress: addr, Lines: lines}
				if s.mode == SharedLink {
					p.Extensions = commerce.With(promoter.Link(s.token))
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
				for k, v := range s.wantMeta {
					if s.mode == NoShare {
						v = ""
					}
					if o.Metadata[k] != v {
						tb.Errorf("%s checkout %d of buyer %d: metadata %s = %q, want %q", s.mode, i, w, k, o.Metadata[k], v)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

// BenchCheckoutShare measures checkout through the Engine of two-line
// orders in mode: buyers goroutines each place b.N/buyers orders, each
// buyer as its own customer, on products of its own. It reports orders/s
// and allocs/op of the timed part, and stmts/order when stmts is set. In
// the SharedLink mode it then places as many orders without a token on a
// fresh store of the harness (the same world), timed by hand, and reports
// them as none-orders/s and overhead-% = how much longer an order through
// the link took than one without (none-orders/s / orders/s - 1, in %).
func BenchCheckoutShare(b *testing.B, h Harness, mode ShareMode, buyers int, stmts func() int64) {
	b.Helper()
	perBuyer := (b.N + buyers - 1) / buyers
	var s *shareShop
	labelled(phaseSetup, func() { s = newShareShop(b, h, mode, buyers, perBuyer) })
	b.ReportAllocs()
	before := count(stmts)
	b.ResetTimer()
	labelled(phaseTimed, func() { s.run(b) })
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
	if mode != SharedLink {
		return
	}
	base := CheckoutShareRate(b, h, NoShare, buyers, perBuyer)
	if b.Failed() {
		return
	}
	b.ReportMetric(base, "none-orders/s")
	b.ReportMetric((base/rate-1)*100, "overhead-%")
}

// CheckoutShareRate places perBuyer orders per buyer in mode on a fresh
// store of h, as BenchCheckoutShare does, and returns orders/s timed by
// hand (setup left out), for baselines.
func CheckoutShareRate(tb testing.TB, h Harness, mode ShareMode, buyers, perBuyer int) float64 {
	tb.Helper()
	var s *shareShop
	labelled(phaseSetup, func() { s = newShareShop(tb, h, mode, buyers, perBuyer) })
	start := time.Now()
	labelled(phaseBaseline, func() { s.run(tb) })
	return float64(buyers*perBuyer) / time.Since(start).Seconds()
}

// ---- settling commission when orders complete ----

// SettleBench is a shop with orders attributed to promoters, paid,
// shipped and received, waiting for their after-sales window to close,
// made by NewSettleBench. Each order is one line of 60.00 in a 12 % public
// plan, bought by a customer of its own through a promoter's shop link
// (promoters not bound to an agency), so it holds one pending commission
// of 7.20.
type SettleBench struct {
	Engine    *minishop.Engine
	Store     Store
	Clock     *commercetest.Clock
	Shop      *commercetest.Shop
	Promoters []*promoter.Promoter
	// Orders are the orders' IDs, worker by worker.
	Orders []commerce.OrderID
	// Build is how long NewSettleBench took.
	Build time.Duration
}

// Setup of the settlement benchmark: settleWorkers goroutines, each with a
// product and a promoter of its own, take settleOrdersPerTx orders per
// transaction through Checkout, MarkPaid (no payment channel), Ship and
// ConfirmReceipt (the kernel joins a transaction already in the context).
const (
	settleWorkers     = 8
	settleOrdersPerTx = 50
)

// SettleCustomer is the customer of worker w's i-th order.
func SettleCustomer(w, i int) commerce.CustomerID {
	return commerce.CustomerID(fmt.Sprintf("s%d-%06d", w, i))
}

// NewSettleBench opens a shop on store with a manual clock and takes
// orders orders to received, attributed through share links, as
// SettleBench says; opts add to the Engine's options.
func NewSettleBench(tb testing.TB, store Store, orders int, opts ...minishop.Option) *SettleBench {
	tb.Helper()
	start := time.Now()
	ctx := context.Background()
	clock := commercetest.NewClock(commercetest.Epoch)
	engine, err := minishop.New(store, append([]minishop.Option{minishop.WithClock(clock),
		minishop.WithPromoter(func(c *promoter.Config) { c.Secret = benchPromoterSecret })}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	r := &SettleBench{Engine: engine, Store: store, Clock: clock}
	workers := min(settleWorkers, orders)
	per := make([]int, workers)
	for i := range orders {
		per[i%workers]++
	}
	var specs []commercetest.ProductSpec
	for w := range workers {
		specs = append(specs, commercetest.ProductSpec{Title: fmt.Sprintf("tea %d", w), Prices: []string{"60.00"}, Stock: int64(per[w])})
	}
	r.Shop = commercetest.NewShop(tb, engine.Commerce, "settle", commerce.ShippingRule{}, specs...)
	m := r.Shop.Merchant.ID
	ps := engine.Promoter
	tokens := make([]string, workers)
	for w, p := range r.Shop.Products {
		if _, err := ps.SetPlan(ctx, promoter.PlanParams{MerchantID: m, ProductID: p.ID, Kind: promoter.Public, Rate: benchPlanRate}); err != nil {
			tb.Fatal(err)
		}
		pr, err := ps.CreatePromoter(ctx, fmt.Sprintf("promoter %d", w))
		if err != nil {
			tb.Fatal(err)
		}
		r.Promoters = append(r.Promoters, pr)
		if tokens[w], err = ps.ShareToken(promoter.ShareParams{MerchantID: m, PromoterID: pr.ID, Scene: promoter.SceneGroup}); err != nil {
			tb.Fatal(err)
		}
	}
	addr := commercetest.Address()
	svc := engine.Commerce
	made := make([][]commerce.OrderID, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			lines := []commerce.LineItem{{SKU: r.Shop.SKU(w, 0), Quantity: 1}}
			for done := 0; done < per[w]; {
				n := min(settleOrdersPerTx, per[w]-done)
				var ids []commerce.OrderID
				err := store.InTx(ctx, func(ctx context.Context) error {
					ids = ids[:0] // a retried transaction starts over
					for i := done; i < done+n; i++ {
						o, err := svc.Checkout(ctx, commerce.CheckoutParams{MerchantID: m, CustomerID: SettleCustomer(w, i),
							IdempotencyKey: "k", ShippingAddress: addr, Lines: lines, Extensions: commerce.With(promoter.Link(tokens[w]))})
						if err != nil {
							return err
						}
						if o.Metadata["promoter"] != r.Promoters[w].ID.String() {
							return fmt.Errorf("order %s attributed to %q, want %s", o.ID, o.Metadata["promoter"], r.Promoters[w].ID)
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
						ids = append(ids, o.ID)
					}
					return nil
				})
				if err != nil {
					tb.Errorf("build orders %d..%d of worker %d: %v", done, done+n, w, err)
					return
				}
				made[w] = append(made[w], ids...)
				done += n
			}
		})
	}
	wg.Wait()
	if tb.Failed() {
		tb.FailNow()
	}
	for _, ids := range made {
		r.Orders = append(r.Orders, ids...)
	}
	r.Build = time.Since(start)
	return r
}

// checkWorkers is how many goroutines the benchmarks' checks read with.
const checkWorkers = 8

// forEach runs fn on every index below n over checkWorkers goroutines and
// returns the first error.
func forEach(n int, fn func(i int) error) error {
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for w := range checkWorkers {
		wg.Go(func() {
			for i := w; i < n; i += checkWorkers {
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// Check fails tb unless every order holds exactly one commission of 7.20,
// Settled (settled set) or Pending, and, when settled, is Completed.
func (r *SettleBench) Check(tb testing.TB, settled bool) {
	tb.Helper()
	ctx := context.Background()
	m := r.Shop.Merchant.ID
	want, wantOrder := promoter.Pending, commerce.StatusReceived
	if settled {
		want, wantOrder = promoter.Settled, commerce.StatusCompleted
	}
	amount := commercetest.CNY("7.20")
	err := forEach(len(r.Orders), func(i int) error {
		id := r.Orders[i]
		cs, err := r.Store.OrderCommissions(ctx, m, id)
		if err != nil {
			return err
		}
		if len(cs) != 1 {
			return fmt.Errorf("order %s: %d commissions, want 1", id, len(cs))
		}
		if c := cs[0]; c.Status != want || !c.Amount.Equal(amount) || (settled && c.SettledAt.IsZero()) {
			return fmt.Errorf("order %s: commission status %v of %s, settled at %v; want status %v of %s", id, c.Status, c.Amount, c.SettledAt, want, amount)
		}
		o, err := r.Engine.Commerce.GetOrder(ctx, m, id)
		if err != nil {
			return err
		}
		if o.Status != wantOrder {
			return fmt.Errorf("order %s is %s, want %s", id, o.Status, wantOrder)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// maxRunDueCalls bounds the RunDue loops of the benchmarks: a call that
// leaves work behind is called again, up to this many times.
const maxRunDueCalls = 1000

// BenchSettleCommission measures Engine.RunDue completing orders received
// orders whose after-sales window has just closed, each attributed to a
// promoter: the kernel completes each and, in the same transaction, the
// promoter hook settles the order's commission. Each of the b.N iterations
// builds its orders with NewSettleBench (timer stopped), advances the clock
// 8 days (past the 7-day window) and times Engine.RunDue, called again
// while received orders are still due (the kernel works in batches, but one
// call goes on until none is left). It then checks every commission is
// Settled. It reports settled/s (orders completed and settled per second
// of RunDue), µs/order, rundue-calls per iteration, build-s (the build's
// wall time) and, when stmts is set, stmts/order.
func BenchSettleCommission(b *testing.B, h Harness, orders int, stmts func() int64) {
	b.Helper()
	ctx := context.Background()
	var build time.Duration
	var n int64
	calls := 0
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		var r *SettleBench
		labelled(phaseSetup, func() { r = NewSettleBench(b, h.New(b), orders) })
		build += r.Build
		r.Check(b, false)
		r.Clock.Advance(8 * 24 * time.Hour)
		before := count(stmts)
		b.StartTimer()
		labelled(phaseTimed, func() {
			for {
				if _, err := r.Engine.RunDue(ctx); err != nil {
					b.Fatalf("RunDue call %d: %v", calls+1, err)
				}
				calls++
				b.StopTimer()
				due, err := r.Store.DueOrders(ctx, commerce.StatusReceived, r.Clock.Now(), 1)
				if err != nil {
					b.Fatal(err)
				}
				if len(due) == 0 {
					break
				}
				if calls >= maxRunDueCalls*(i+1) {
					b.Fatalf("received orders still due after %d RunDue calls", maxRunDueCalls)
				}
				b.StartTimer()
			}
		})
		b.StopTimer()
		n += count(stmts) - before
		r.Check(b, true)
	}
	total := float64(b.N * orders)
	b.ReportMetric(total/b.Elapsed().Seconds(), "settled/s")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/total, "µs/order")
	b.ReportMetric(float64(calls)/float64(b.N), "rundue-calls")
	b.ReportMetric(build.Seconds()/float64(b.N), "build-s")
	if stmts != nil {
		b.ReportMetric(float64(n)/total, "stmts/order")
	}
}
