package storetest

import (
	"context"
	"errors"
	"fmt"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/coupons"
)

// The coupon benchmarks label their goroutines for the CPU profiler, so a
// profile of a whole run can be cut to the timed part:
//
//	go test -run x -bench CheckoutCoupons/SQLite/chosen -cpuprofile cpu.out ./storage/sqlstore
//	go tool pprof -tagfocus phase=timed sqlstore.test cpu.out
//
// Setup (shops, batches, pre-claimed coupons) runs as phase=setup and the
// baselines timed by hand as phase=baseline.
const (
	phaseSetup    = "setup"
	phaseTimed    = "timed"
	phaseBaseline = "baseline"
)

func labelled(phase string, fn func()) {
	pprof.Do(context.Background(), pprof.Labels("phase", phase), func(context.Context) { fn() })
}

// spreadBatches is how many batches the spread claim shape creates at
// least: the merchant runs many batches, each claimer works on its own.
const spreadBatches = 64

// ClaimBench is a shop with coupon batches to claim from, made by
// NewClaimBench for BenchClaim and for the SQL baselines that redo the same
// claims with hand-written SQL on a fresh store.
//
// Every claim is by a distinct customer (ClaimCustomer) with a distinct
// request ID (ClaimRequest). In the spread shape worker w claims from
// Batches[w], whose Total is PerWorker and whose PerPerson is 1: every claim
// succeeds. In the hot shape every worker claims from Batches[0], with no
// per-person limit and a Total of a tenth fewer than the attempts: the last
// claims must fail with coupons.ErrSoldOut, and exactly Total succeed.
type ClaimBench struct {
	Engine    *minishop.Engine
	Store     Store
	Shop      *commercetest.Shop
	Shape     Shape
	Workers   int
	PerWorker int
	Batches   []*coupons.Batch
}

// NewClaimBench opens a shop on store and creates the shape's batches.
func NewClaimBench(tb testing.TB, store Store, shape Shape, workers, perWorker int) *ClaimBench {
	tb.Helper()
	engine, err := minishop.New(store)
	if err != nil {
		tb.Fatal(err)
	}
	c := &ClaimBench{Engine: engine, Store: store, Shape: shape, Workers: workers, PerWorker: perWorker}
	c.Shop = commercetest.NewShop(tb, engine.Commerce, "claims", commerce.ShippingRule{})
	ctx := context.Background()
	p := coupons.BatchParams{MerchantID: c.Shop.Merchant.ID, Kind: coupons.ThresholdOff, Amount: commercetest.CNY("15"),
		MinAmount: commercetest.CNY("99"), Validity: coupons.Validity{Days: 30}, Activate: true}
	switch shape {
	case Spread:
		p.Total, p.PerPerson = int64(perWorker), 1
		for i := 0; i < max(workers, spreadBatches); i++ {
			p.Name = fmt.Sprintf("spread %d", i)
			bt, err := engine.Coupons.CreateBatch(ctx, p)
			if err != nil {
				tb.Fatal(err)
			}
			c.Batches = append(c.Batches, bt)
		}
	case Hot:
		p.Name, p.Total = "hot", c.HotTotal()
		bt, err := engine.Coupons.CreateBatch(ctx, p)
		if err != nil {
			tb.Fatal(err)
		}
		c.Batches = append(c.Batches, bt)
	default:
		tb.Fatalf("unknown shape %q", shape)
	}
	return c
}

// Attempts is how many claims the workers make.
func (c *ClaimBench) Attempts() int { return c.Workers * c.PerWorker }

// HotTotal is the hot batch's Total: a tenth fewer than the attempts.
func (c *ClaimBench) HotTotal() int64 {
	n := c.Attempts()
	return int64(n - n/10)
}

// Want is how many claims must succeed.
func (c *ClaimBench) Want() int {
	if c.Shape == Hot {
		return int(c.HotTotal())
	}
	return c.Attempts()
}

// Batch is the batch worker w claims from.
func (c *ClaimBench) Batch(w int) *coupons.Batch {
	if c.Shape == Hot {
		return c.Batches[0]
	}
	return c.Batches[w]
}

// ClaimCustomer is the customer of worker w's i-th claim.
func ClaimCustomer(w, i int) commerce.CustomerID {
	return commerce.CustomerID(fmt.Sprintf("c%d-%d", w, i))
}

// ClaimRequest is the request ID of worker w's i-th claim.
func ClaimRequest(w, i int) string { return fmt.Sprintf("r%d-%d", w, i) }

// Run makes every worker's claims through the service, concurrently, and
// returns how many succeeded. Claims refused with coupons.ErrSoldOut in the
// hot shape are expected; any other failure fails tb.
func (c *ClaimBench) Run(tb testing.TB) int {
	ctx := context.Background()
	var mu sync.Mutex
	claimed := 0
	var wg sync.WaitGroup
	for w := 0; w < c.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bt := c.Batch(w)
			ok := 0
			for i := 0; i < c.PerWorker; i++ {
				_, err := c.Engine.Coupons.Claim(ctx, coupons.ClaimParams{MerchantID: bt.MerchantID, BatchID: bt.ID,
					Customer: ClaimCustomer(w, i), RequestID: ClaimRequest(w, i)})
				switch {
				case err == nil:
					ok++
				case c.Shape == Hot && errors.Is(err, coupons.ErrSoldOut):
				default:
					tb.Errorf("claim %d of worker %d: %v", i, w, err)
					return
				}
			}
			mu.Lock()
			claimed += ok
			mu.Unlock()
		}()
	}
	wg.Wait()
	return claimed
}

// Check fails tb unless claimed claims succeeded as the shape wants and the
// batches' counters say the same: never above Total.
func (c *ClaimBench) Check(tb testing.TB, claimed int) {
	tb.Helper()
	if claimed != c.Want() {
		tb.Fatalf("%s: %d claims succeeded of %d attempts, want %d", c.Shape, claimed, c.Attempts(), c.Want())
	}
	ctx := context.Background()
	for w := 0; w < c.Workers; w++ {
		bt := c.Batch(w)
		got, err := c.Store.GetBatch(ctx, bt.MerchantID, bt.ID)
		if err != nil {
			tb.Fatal(err)
		}
		want := int64(c.PerWorker)
		if c.Shape == Hot {
			want = c.HotTotal()
		}
		if got.Claimed != want || got.Claimed > got.Total {
			tb.Fatalf("%s: batch %s claimed %d of %d, want %d", c.Shape, bt.Name, got.Claimed, got.Total, want)
		}
		if c.Shape == Hot {
			break
		}
	}
}

// BenchClaim measures claims through the coupons service (the Engine's
// Claim, one request ID per claim): workers goroutines each make
// b.N/workers claims in the shape of NewClaimBench. It reports claims/s
// (refused claims count as attempts, as BenchCheckout counts refused
// orders) and fails unless exactly Total claims of the hot batch succeed.
func BenchClaim(b *testing.B, h Harness, shape Shape, workers int) {
	b.Helper()
	BenchClaimRate(b, h, shape, workers)
}

// BenchClaimRate is BenchClaim returning the claims/s it reported and the
// ClaimBench it ran, for benchmarks that compare it with a baseline of their
// own (a raw baseline reads its shape, workers and claims per worker).
func BenchClaimRate(b *testing.B, h Harness, shape Shape, workers int) (float64, *ClaimBench) {
	b.Helper()
	perWorker := (b.N + workers - 1) / workers
	var c *ClaimBench
	labelled(phaseSetup, func() { c = NewClaimBench(b, h.New(b), shape, workers, perWorker) })
	b.ReportAllocs()
	b.ResetTimer()
	var claimed int
	labelled(phaseTimed, func() { claimed = c.Run(b) })
	b.StopTimer()
	if b.Failed() {
		return 0, c
	}
	rate := float64(c.Attempts()) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "claims/s")
	c.Check(b, claimed)
	return rate, c
}

// CouponMode is how a coupon checkout benchmark's buyers use coupons.
type CouponMode string

// Coupon modes. Every checkout buys the same two lines (60.00 and 40.00)
// as a customer of its own; in the modes with coupons that customer holds
// one coupon of each of two batches: 5.00 off the first line's product
// (item level) and 15.00 off orders of 80.00 or more (order level), so the
// order comes to 80.00 instead of 100.00.
const (
	// NoCoupons checks out with commerce.With(coupons.NoCoupon()): None, no coupon is read.
	// The customer holds the two coupons all the same.
	NoCoupons CouponMode = "none"
	// EmptyWallet checks out without a selection for a customer who holds
	// no coupons: pricing looks for the best and finds none.
	EmptyWallet CouponMode = "empty"
	// ChosenCoupons checks out with commerce.With(coupons.Select(item, order)).
	ChosenCoupons CouponMode = "chosen"
	// BestCoupons checks out without a selection: pricing picks the best
	// combination of the customer's coupons, which is both.
	BestCoupons CouponMode = "best"
)

// CouponModes are the modes in the order the benchmarks run them.
var CouponModes = []CouponMode{NoCoupons, EmptyWallet, ChosenCoupons, BestCoupons}

// couponShop is a checkout benchmark's world: the Engine over a fresh
// store, each buyer's two products, the two batches and every checkout's
// pre-claimed coupons.
type couponShop struct {
	engine    *minishop.Engine
	shop      *commercetest.Shop
	mode      CouponMode
	buyers    int
	perBuyer  int
	item, ord *coupons.Batch
	held      [][][2]coupons.CouponID // [buyer][i]: the item and order coupons
}

const claimsPerTx = 256

func newCouponShop(tb testing.TB, h Harness, mode CouponMode, buyers, perBuyer int) *couponShop {
	tb.Helper()
	ctx := context.Background()
	store := h.New(tb)
	engine, err := minishop.New(store)
	if err != nil {
		tb.Fatal(err)
	}
	s := &couponShop{engine: engine, mode: mode, buyers: buyers, perBuyer: perBuyer}
	var specs []commercetest.ProductSpec
	for w := 0; w < buyers; w++ {
		specs = append(specs,
			commercetest.ProductSpec{Title: fmt.Sprintf("tea %d", w), Prices: []string{"60.00"}, Stock: int64(perBuyer)},
			commercetest.ProductSpec{Title: fmt.Sprintf("cup %d", w), Prices: []string{"40.00"}, Stock: int64(perBuyer)})
	}
	s.shop = commercetest.NewShop(tb, engine.Commerce, "coupons", commerce.ShippingRule{}, specs...)
	var teas []commerce.ProductID
	for w := 0; w < buyers; w++ {
		teas = append(teas, s.shop.Products[2*w].ID)
	}
	total := int64(buyers * perBuyer)
	s.item, err = engine.Coupons.CreateBatch(ctx, coupons.BatchParams{MerchantID: s.shop.Merchant.ID, Name: "tea 5 off",
		Kind: coupons.AmountOff, Amount: commercetest.CNY("5"), Scope: coupons.Scope{Products: teas},
		Validity: coupons.Validity{Days: 30}, Total: total, Activate: true})
	if err != nil {
		tb.Fatal(err)
	}
	s.ord, err = engine.Coupons.CreateBatch(ctx, coupons.BatchParams{MerchantID: s.shop.Merchant.ID, Name: "15 off 80",
		Kind: coupons.ThresholdOff, Amount: commercetest.CNY("15"), MinAmount: commercetest.CNY("80"),
		Validity: coupons.Validity{Days: 30}, Total: total, Activate: true})
	if err != nil {
		tb.Fatal(err)
	}
	if mode == EmptyWallet {
		return s
	}
	// Every checkout's customer claims its two coupons through the service,
	// many claims to a transaction to keep setup short.
	s.held = make([][][2]coupons.CouponID, buyers)
	type job struct{ w, i int }
	var jobs []job
	for w := 0; w < buyers; w++ {
		s.held[w] = make([][2]coupons.CouponID, perBuyer)
		for i := 0; i < perBuyer; i++ {
			jobs = append(jobs, job{w, i})
		}
	}
	for len(jobs) > 0 {
		chunk := jobs[:min(len(jobs), claimsPerTx)]
		jobs = jobs[len(chunk):]
		err := store.InTx(ctx, func(ctx context.Context) error {
			for _, j := range chunk {
				for k, bt := range []*coupons.Batch{s.item, s.ord} {
					c, err := engine.Coupons.Claim(ctx, coupons.ClaimParams{MerchantID: bt.MerchantID, BatchID: bt.ID,
						Customer: checkoutCustomer(j.w, j.i), RequestID: "setup"})
					if err != nil {
						return err
					}
					s.held[j.w][j.i][k] = c.ID
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatalf("pre-claim coupons: %v", err)
		}
	}
	return s
}

func checkoutCustomer(w, i int) commerce.CustomerID {
	return commerce.CustomerID(fmt.Sprintf("b%d-%d", w, i))
}

// run places every buyer's orders concurrently and fails tb if one fails
// or is priced other than the mode wants.
func (s *couponShop) run(tb testing.TB) {
	ctx := context.Background()
	addr := commercetest.Address()
	want := commercetest.CNY("100.00")
	if s.mode == ChosenCoupons || s.mode == BestCoupons {
		want = commercetest.CNY("80.00")
	}
	var wg sync.WaitGroup
	for w := 0; w < s.buyers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lines := []commerce.LineItem{{SKU: s.shop.SKU(2*w, 0), Quantity: 1}, {SKU: s.shop.SKU(2*w+1, 0), Quantity: 1}}
			none := commerce.With(coupons.NoCoupon())
			for i := 0; i < s.perBuyer; i++ {
				p := commerce.CheckoutParams{MerchantID: s.shop.Merchant.ID, CustomerID: checkoutCustomer(w, i),
					IdempotencyKey: "k", ShippingAddress: addr, Lines: lines}
				switch s.mode {
				case NoCoupons:
					p.Extensions = none
				case ChosenCoupons:
					p.Extensions = commerce.With(coupons.Select(s.held[w][i][0], s.held[w][i][1]))
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

// BenchCheckoutCoupons measures checkout through the Engine with coupons
// used as mode says: buyers goroutines each place b.N/buyers two-line
// orders, each as a customer of its own whose coupons were claimed before
// the timer started. It reports orders/s and allocs/op of the timed part.
// In every mode but NoCoupons it then places as many orders in the
// NoCoupons mode on a fresh store of the harness, timed by hand, and
// reports them as none-orders/s, and overhead-% = how much longer an
// order took than without coupons (none-orders/s / orders/s - 1, in %).
func BenchCheckoutCoupons(b *testing.B, h Harness, mode CouponMode, buyers int) {
	b.Helper()
	rate := BenchCheckoutCouponsRate(b, h, mode, buyers)
	if b.Failed() || mode == NoCoupons {
		return
	}
	// Selection None reads no coupon, so the baseline's customers need none:
	// its setup skips the claims.
	base := CheckoutCouponsRate(b, h, NoCoupons, buyers, (b.N+buyers-1)/buyers, false)
	if b.Failed() {
		return
	}
	b.ReportMetric(base, "none-orders/s")
	b.ReportMetric((base/rate-1)*100, "overhead-%")
}

// BenchCheckoutCouponsRate is the timed part of BenchCheckoutCoupons,
// returning the orders/s it reported.
func BenchCheckoutCouponsRate(b *testing.B, h Harness, mode CouponMode, buyers int) float64 {
	b.Helper()
	perBuyer := (b.N + buyers - 1) / buyers
	var s *couponShop
	labelled(phaseSetup, func() { s = newCouponShop(b, h, mode, buyers, perBuyer) })
	b.ReportAllocs()
	b.ResetTimer()
	labelled(phaseTimed, func() { s.run(b) })
	b.StopTimer()
	rate := float64(buyers*perBuyer) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "orders/s")
	return rate
}

// CheckoutCouponsRate places perBuyer orders per buyer in mode on a fresh
// store of h, as BenchCheckoutCoupons does, and returns orders/s timed by
// hand (setup left out), for baselines. With hold unset the NoCoupons
// mode's customers claim no coupons first.
func CheckoutCouponsRate(tb testing.TB, h Harness, mode CouponMode, buyers, perBuyer int, hold bool) float64 {
	tb.Helper()
	setupMode := mode
	if mode == NoCoupons && !hold {
		setupMode = EmptyWallet // the same shop, no claims
	}
	var s *couponShop
	labelled(phaseSetup, func() { s = newCouponShop(tb, h, setupMode, buyers, perBuyer) })
	s.mode = mode
	start := time.Now()
	labelled(phaseBaseline, func() { s.run(tb) })
	return float64(buyers*perBuyer) / time.Since(start).Seconds()
}
