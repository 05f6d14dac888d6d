package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/coupons"
	"github.com/minishop/minishop/membership"
)

// RawLines is how many lines every order of the checkout-versus-raw
// benchmark has: three SKUs of one product (50.00, 30.00 and 20.00, free
// delivery), 100.00 before discounts.
const RawLines = 3

// Checkout-versus-raw discounts: with plugins the buyer applies one
// order-level coupon (15.00 off 80.00) and spends VsRawPoints points
// (10.00 under benchProgram), so the order comes to 75.00.
const (
	VsRawPoints = PointsPerOrder
	vsRawPlain  = "100.00"
	vsRawUsed   = "75.00"
)

// VsRawShop is the minishop side of the checkout-versus-raw benchmark: the
// Engine over a store, and buyers each placing PerBuyer three-line orders.
// In the Spread shape buyer w buys the three SKUs of product w; in the Hot
// shape every buyer buys the three SKUs of product 0. Stock covers every
// order in both shapes: the benchmark compares the cost of a checkout, and a
// refused order would do less row work on one side than on the other
// (selling out is BenchmarkCheckout's business).
//
// Buyer w is one customer for all its orders (Customer). With Plugins set
// that customer is a member of benchProgram's program holding enough points
// for every order, and holds PerBuyer coupons of the threshold batch, one
// per order (Coupon); each checkout applies coupons.Select of its coupon and
// membership.SpendPoints(VsRawPoints). Without Plugins the buyer is a
// customer who is not a member and holds no coupon, checking out with
// coupons.NoCoupon(): the plugins are installed (the Engine has them all)
// but none has anything to do.
type VsRawShop struct {
	Engine   *minishop.Engine
	Store    Store
	Shop     *commercetest.Shop
	Shape    Shape
	Plugins  bool
	Buyers   int
	PerBuyer int
	// Granted is each member's balance before the run (Plugins only).
	Granted int64
	batch   *coupons.Batch
	held    [][]coupons.CouponID // [buyer][order]
}

// NewVsRawShop opens the shop on store and, with plugins, the program, the
// members and their coupons (claimed through the service, many claims to a
// transaction to keep setup short).
func NewVsRawShop(tb testing.TB, store Store, shape Shape, buyers, perBuyer int, plugins bool) *VsRawShop {
	tb.Helper()
	ctx := context.Background()
	engine, err := minishop.New(store)
	if err != nil {
		tb.Fatal(err)
	}
	s := &VsRawShop{Engine: engine, Store: store, Shape: shape, Plugins: plugins, Buyers: buyers, PerBuyer: perBuyer,
		Granted: int64(perBuyer)*VsRawPoints + 100_000}
	total := int64(buyers * perBuyer)
	prices := []string{"50.00", "30.00", "20.00"}
	var specs []commercetest.ProductSpec
	switch shape {
	case Spread:
		for w := 0; w < buyers; w++ {
			specs = append(specs, commercetest.ProductSpec{Title: fmt.Sprintf("set %d", w), Prices: prices, Stock: int64(perBuyer)})
		}
	case Hot:
		specs = append(specs, commercetest.ProductSpec{Title: "hot set", Prices: prices, Stock: total})
	default:
		tb.Fatalf("unknown shape %q", shape)
	}
	s.Shop = commercetest.NewShop(tb, engine.Commerce, "vsraw", commerce.ShippingRule{}, specs...)
	m := s.Shop.Merchant.ID
	// The program and the batch exist in both variants, so the plain
	// checkout runs at a merchant where the plugins have something
	// configured, only not for this buyer.
	if _, err := engine.Membership.SetProgram(ctx, benchProgram(m)); err != nil {
		tb.Fatal(err)
	}
	s.batch, err = engine.Coupons.CreateBatch(ctx, coupons.BatchParams{MerchantID: m, Name: "15 off 80",
		Kind: coupons.ThresholdOff, Amount: commercetest.CNY("15"), MinAmount: commercetest.CNY("80"),
		Validity: coupons.Validity{Days: 30}, Total: total, Activate: true})
	if err != nil {
		tb.Fatal(err)
	}
	if !plugins {
		return s
	}
	s.held = make([][]coupons.CouponID, buyers)
	type job struct{ w, i int }
	var jobs []job
	for w := 0; w < buyers; w++ {
		c := s.Customer(w)
		if _, err := engine.Membership.Join(ctx, m, c); err != nil {
			tb.Fatal(err)
		}
		if _, err := engine.Membership.Adjust(ctx, membership.AdjustParams{MerchantID: m, Customer: c, Points: s.Granted,
			RequestID: "grant"}); err != nil {
			tb.Fatal(err)
		}
		s.held[w] = make([]coupons.CouponID, perBuyer)
		for i := 0; i < perBuyer; i++ {
			jobs = append(jobs, job{w, i})
		}
	}
	for len(jobs) > 0 {
		chunk := jobs[:min(len(jobs), claimsPerTx)]
		jobs = jobs[len(chunk):]
		err := store.InTx(ctx, func(ctx context.Context) error {
			for _, j := range chunk {
				c, err := engine.Coupons.Claim(ctx, coupons.ClaimParams{MerchantID: m, BatchID: s.batch.ID,
					Customer: s.Customer(j.w), RequestID: fmt.Sprintf("setup-%d", j.i)})
				if err != nil {
					return err
				}
				s.held[j.w][j.i] = c.ID
			}
			return nil
		})
		if err != nil {
			tb.Fatalf("pre-claim coupons: %v", err)
		}
	}
	return s
}

// Customer is buyer w.
func (s *VsRawShop) Customer(w int) commerce.CustomerID {
	if s.Plugins {
		return commerce.CustomerID(fmt.Sprintf("member-%d", w))
	}
	return commerce.CustomerID(fmt.Sprintf("guest-%d", w))
}

// Lines is what buyer w orders every time.
func (s *VsRawShop) Lines(w int) []commerce.LineItem {
	p := 0
	if s.Shape == Spread {
		p = w
	}
	lines := make([]commerce.LineItem, RawLines)
	for j := range lines {
		lines[j] = commerce.LineItem{SKU: s.Shop.SKU(p, j), Quantity: 1}
	}
	return lines
}

// Params is buyer w's i-th checkout.
func (s *VsRawShop) Params(w, i int) commerce.CheckoutParams {
	p := commerce.CheckoutParams{MerchantID: s.Shop.Merchant.ID, CustomerID: s.Customer(w),
		IdempotencyKey: fmt.Sprintf("k%d", i), ShippingAddress: commercetest.Address(), Lines: s.Lines(w)}
	if s.Plugins {
		p.Extensions = commerce.With(coupons.Select(s.held[w][i]), membership.SpendPoints(VsRawPoints))
	} else {
		p.Extensions = commerce.With(coupons.NoCoupon())
	}
	return p
}

// Want is what every order must come to.
func (s *VsRawShop) Want() commerce.Money {
	if s.Plugins {
		return commercetest.CNY(vsRawUsed)
	}
	return commercetest.CNY(vsRawPlain)
}

// Run places every buyer's orders concurrently and returns each order's
// latency (unordered). It fails tb if an order fails or is priced other
// than Want.
func (s *VsRawShop) Run(tb testing.TB) []time.Duration {
	want := s.Want()
	return RunBuyers(tb, s.Buyers, s.PerBuyer, func(ctx context.Context, w, i int) error {
		o, err := s.Engine.Commerce.Checkout(ctx, s.Params(w, i))
		if err != nil {
			return err
		}
		if !o.Total.Equal(want) {
			return fmt.Errorf("total %s, want %s", o.Total, want)
		}
		return nil
	})
}

// Check fails tb unless the run left what it should: no stock, and with
// plugins every coupon used and every member's balance down by the points
// spent.
func (s *VsRawShop) Check(tb testing.TB) {
	tb.Helper()
	ctx := context.Background()
	for _, p := range s.Shop.Products {
		got, err := s.Engine.Commerce.GetProduct(ctx, s.Shop.Merchant.ID, p.ID)
		if err != nil {
			tb.Fatal(err)
		}
		for _, sku := range got.SKUs {
			if sku.Stock != 0 {
				tb.Fatalf("%s: SKU %s has %d left, want 0", p.Title, sku.ID, sku.Stock)
			}
		}
	}
	if !s.Plugins {
		return
	}
	for w := 0; w < s.Buyers; w++ {
		card, err := s.Engine.Membership.Card(ctx, s.Shop.Merchant.ID, s.Customer(w))
		if err != nil {
			tb.Fatal(err)
		}
		if want := s.Granted - int64(s.PerBuyer)*VsRawPoints; card.Available != want {
			tb.Fatalf("%s has %d points, want %d", s.Customer(w), card.Available, want)
		}
	}
}

// RunBuyers runs buyers goroutines, each calling order perBuyer times (i
// from 0), and returns every call's latency. The first error fails tb and
// stops that buyer. Both sides of the checkout-versus-raw benchmark place
// their orders through it, so they are timed alike.
func RunBuyers(tb testing.TB, buyers, perBuyer int, order func(ctx context.Context, w, i int) error) []time.Duration {
	ctx := context.Background()
	lat := make([][]time.Duration, buyers)
	var wg sync.WaitGroup
	for w := 0; w < buyers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, perBuyer)
			for i := 0; i < perBuyer; i++ {
				start := time.Now()
				if err := order(ctx, w, i); err != nil {
					tb.Errorf("order %d of buyer %d: %v", i, w, err)
					break
				}
				mine = append(mine, time.Since(start))
			}
			lat[w] = mine
		}()
	}
	wg.Wait()
	return slices.Concat(lat...)
}

// P99 is the 99th percentile of lat in milliseconds (nearest rank).
func P99(lat []time.Duration) float64 {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	k := (len(s)*99 + 99) / 100 // ceil(0.99 n)
	return float64(s[k-1].Microseconds()) / 1000
}

// BenchCheckoutVsRawRate is the minishop side of the benchmark on its own,
// for stores without SQL (no raw side): buyers goroutines each place
// b.N/buyers orders of a VsRawShop. It reports orders/s and p99-ms of the
// timed part, and returns orders/s.
func BenchCheckoutVsRawRate(b *testing.B, h Harness, shape Shape, buyers int, plugins bool) float64 {
	b.Helper()
	perBuyer := (b.N + buyers - 1) / buyers
	var s *VsRawShop
	labelled(phaseSetup, func() { s = NewVsRawShop(b, h.New(b), shape, buyers, perBuyer, plugins) })
	b.ReportAllocs()
	b.ResetTimer()
	var lat []time.Duration
	labelled(phaseTimed, func() { lat = s.Run(b) })
	b.StopTimer()
	if b.Failed() {
		return 0
	}
	rate := float64(buyers*perBuyer) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "orders/s")
	b.ReportMetric(P99(lat), "p99-ms")
	s.Check(b)
	return rate
}

// Transitions are the order transitions BenchTransitions counts, in the
// order it makes them: pay (MarkPaid), ship, confirm receipt, a partial
// refund (one unit of the first line, requested then confirmed as
// succeeded) and complete.
var Transitions = []string{"pay", "ship", "receive", "refund", "confirm-refund", "complete"}

// TransitionOrders places orders checkouts of a VsRawShop with plugins (one
// buyer), then takes every order through each of Transitions in turn, all
// orders of one transition before the next, calling phase(name, run) once
// per transition with run doing that transition on every order. The
// orders earn points on payment (benchProgram), so the membership hooks
// have work on pay, refund and complete.
func TransitionOrders(tb testing.TB, store Store, orders int, phase func(name string, run func())) {
	tb.Helper()
	ctx := context.Background()
	s := NewVsRawShop(tb, store, Spread, 1, orders, true)
	svc := s.Engine.Commerce
	m := s.Shop.Merchant.ID
	var ids []commerce.OrderID
	var totals []commerce.Money
	for i := 0; i < orders; i++ {
		o, err := svc.Checkout(ctx, s.Params(0, i))
		if err != nil {
			tb.Fatal(err)
		}
		ids, totals = append(ids, o.ID), append(totals, o.Total)
	}
	each := func(name string, fn func(i int, id commerce.OrderID) error) {
		phase(name, func() {
			for i, id := range ids {
				if err := fn(i, id); err != nil {
					tb.Fatalf("%s order %d: %v", name, i, err)
				}
			}
		})
	}
	refunds := make([]commerce.RefundID, orders)
	each("pay", func(i int, id commerce.OrderID) error {
		_, err := svc.MarkPaid(ctx, commerce.MarkPaidParams{MerchantID: m, OrderID: id, PaymentRef: "pay-" + id.String(), Amount: totals[i]})
		return err
	})
	each("ship", func(_ int, id commerce.OrderID) error {
		_, err := svc.Ship(ctx, commerce.ShipParams{MerchantID: m, OrderID: id})
		return err
	})
	each("receive", func(_ int, id commerce.OrderID) error {
		_, err := svc.ConfirmReceipt(ctx, m, id)
		return err
	})
	each("refund", func(i int, id commerce.OrderID) error {
		r, err := svc.Refund(ctx, commerce.RefundParams{MerchantID: m, OrderID: id, Items: []commerce.RefundItem{{Line: 0, Quantity: 1}},
			Reason: "damaged", IdempotencyKey: "r1"})
		if err == nil {
			refunds[i] = r.ID
		}
		return err
	})
	each("confirm-refund", func(i int, id commerce.OrderID) error {
		_, err := svc.ConfirmRefund(ctx, commerce.ConfirmRefundParams{MerchantID: m, OrderID: id, RefundID: refunds[i],
			Succeeded: true, ProviderRef: "rf-" + id.String()})
		return err
	})
	each("complete", func(_ int, id commerce.OrderID) error {
		o, err := svc.Complete(ctx, m, id)
		if err == nil && o.Status != commerce.StatusCompleted {
			err = fmt.Errorf("status %s after complete", o.Status)
		}
		return err
	})
}
