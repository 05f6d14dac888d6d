package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/campaigns"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/coupons"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/fakepay"
)

// The campaign benchmarks label their goroutines phase=setup, timed or
// baseline for the CPU profiler, as the coupon benchmarks do:
//
//	go test -run x -bench Flash/SQLite/flash -cpuprofile cpu.out ./storage/sqlstore
//	go tool pprof -tagfocus phase=timed sqlstore.test cpu.out
//
// They take trips, a count of the round trips the harness's stores made to
// their database so far (a pipeline of statements counts once; nil for
// stores without SQL), and report the timed part's round trips per order,
// join or refund when it is set: on PostgreSQL, which pipelines, round
// trips and not statements are what a checkout waits for.

// benchCampaignSecret signs the benchmarks' group share tokens.
var benchCampaignSecret = []byte("bench campaign secret")

// payThrough pays order id of merchant m as a buyer does: the payment
// service's Pay, the fakepay channel's payment, and the channel's
// notification through Payments.HandleNotification.
func payThrough(ctx context.Context, e *minishop.Engine, fake *fakepay.Provider, m commerce.MerchantID, id commerce.OrderID) error {
	p, _, err := e.Payments.Pay(ctx, payment.PayParams{MerchantID: m, OrderID: id})
	if err != nil {
		return err
	}
	req, err := fake.Pay(p.PaymentNo)
	if err != nil {
		return err
	}
	_, err = e.Payments.HandleNotification(ctx, "fakepay", req)
	return err
}

// ---- checkout in a flash sale ----

// FlashMode is what the buyers of BenchFlash check out.
type FlashMode string

// Flash modes. Every order is one unit at 499.00 (free delivery), by a
// customer of its own.
const (
	// FlashBuy: every buyer checks out the one SKU of a flash sale (a
	// 999.00 phone at 499.00, one unit per customer) with
	// campaigns.Flash: the campaigns take the unit from one of the sale's
	// DefaultFlashShards pool records and count it against the customer's
	// limit, and the line takes no SKU stock.
	FlashBuy FlashMode = "flash"
	// OrdinaryBuy: buyer w checks out ordinary SKU w at 499.00, with
	// coupons.NoCoupon(), as the flash checkout's pipeline does (it takes
	// no coupons): no campaign, each buyer on a stock row of its own.
	OrdinaryBuy FlashMode = "ordinary"
)

// FlashModes are the modes in the order the benchmarks run them.
var FlashModes = []FlashMode{FlashBuy, OrdinaryBuy}

// FlashShop is a flash checkout benchmark's world, made by NewFlashShop:
// the Engine (campaigns and the fakepay channel installed, a manual clock
// at commercetest.Epoch) over a fresh store, Buyers ordinary products at
// 499.00 with PerBuyer units each, and the phone at 999.00 with
// Buyers*PerBuyer units. In FlashBuy mode a flash sale (Sale) running for
// an hour from Epoch holds every unit of the phone; in OrdinaryBuy mode
// there is no sale. Buyer w's i-th order is by Customer(w, i).
type FlashShop struct {
	Engine   *minishop.Engine
	Store    Store
	Shop     *commercetest.Shop
	Mode     FlashMode
	Sale     *campaigns.FlashSale
	Buyers   int
	PerBuyer int
}

// Flash shop prices.
const (
	flashListPrice = "999.00"
	flashSalePrice = "499.00"
)

// NewFlashShop opens the shop on store and, in FlashBuy mode, the sale.
func NewFlashShop(tb testing.TB, store Store, mode FlashMode, buyers, perBuyer int) *FlashShop {
	tb.Helper()
	ctx := context.Background()
	clock := commercetest.NewClock(commercetest.Epoch)
	engine, err := minishop.New(store, minishop.WithClock(clock), minishop.WithPayments(fakepay.New(fakepay.WithClock(clock.Now))),
		minishop.WithCampaigns(func(c *campaigns.Config) { c.Secret = benchCampaignSecret }))
	if err != nil {
		tb.Fatal(err)
	}
	s := &FlashShop{Engine: engine, Store: store, Mode: mode, Buyers: buyers, PerBuyer: perBuyer}
	var specs []commercetest.ProductSpec
	for w := 0; w < buyers; w++ {
		specs = append(specs, commercetest.ProductSpec{Title: fmt.Sprintf("tea %d", w), Category: "tea",
			Prices: []string{flashSalePrice}, Stock: int64(perBuyer)})
	}
	specs = append(specs, commercetest.ProductSpec{Title: "phone", Category: "digital", Prices: []string{flashListPrice},
		Stock: int64(buyers * perBuyer)})
	s.Shop = commercetest.NewShop(tb, engine.Commerce, "flash", commerce.ShippingRule{}, specs...)
	switch mode {
	case FlashBuy:
		s.Sale, err = engine.Campaigns.CreateFlashSale(ctx, campaigns.FlashSaleParams{MerchantID: s.Shop.Merchant.ID, Title: "10点场",
			Window: campaigns.Window{Start: commercetest.Epoch, End: commercetest.Epoch.Add(time.Hour)},
			Items: []campaigns.FlashItem{{SKU: s.phone(), Price: commercetest.CNY(flashSalePrice),
				Units: int64(buyers * perBuyer), PerCustomer: 1}}})
		if err != nil {
			tb.Fatal(err)
		}
	case OrdinaryBuy:
	default:
		tb.Fatalf("unknown flash mode %q", mode)
	}
	return s
}

func (s *FlashShop) phone() commerce.SKUID { return s.Shop.SKU(s.Buyers, 0) }

// Customer is the customer of buyer w's i-th order.
func (s *FlashShop) Customer(w, i int) commerce.CustomerID {
	return commerce.CustomerID(fmt.Sprintf("buyer-%d-%06d", w, i))
}

// Params is buyer w's i-th checkout.
func (s *FlashShop) Params(w, i int) commerce.CheckoutParams {
	p := commerce.CheckoutParams{MerchantID: s.Shop.Merchant.ID, CustomerID: s.Customer(w, i),
		IdempotencyKey: fmt.Sprintf("k%d", i), ShippingAddress: commercetest.Address()}
	if s.Mode == FlashBuy {
		p.Lines = []commerce.LineItem{{SKU: s.phone(), Quantity: 1}}
		p.Extensions = commerce.With(campaigns.Flash(s.Sale.ID))
	} else {
		p.Lines = []commerce.LineItem{{SKU: s.Shop.SKU(w, 0), Quantity: 1}}
		p.Extensions = commerce.With(coupons.NoCoupon())
	}
	return p
}

// Run places every buyer's orders concurrently through RunBuyers and
// returns each order's latency. It fails tb if an order fails, is priced
// other than 499.00 or, in FlashBuy mode, takes SKU stock.
func (s *FlashShop) Run(tb testing.TB) []time.Duration {
	want := commercetest.CNY(flashSalePrice)
	return RunBuyers(tb, s.Buyers, s.PerBuyer, func(ctx context.Context, w, i int) error {
		o, err := s.Engine.Commerce.Checkout(ctx, s.Params(w, i))
		if err != nil {
			return err
		}
		if !o.Total.Equal(want) {
			return fmt.Errorf("%s: total %s, want %s", s.Mode, o.Total, want)
		}
		if s.Mode == FlashBuy && o.Lines[0].StockPool != "campaigns" {
			return fmt.Errorf("flash order %s: line stock pool %q, want campaigns", o.ID, o.Lines[0].StockPool)
		}
		return nil
	})
}

// Check fails tb unless the run sold exactly what it should: in FlashBuy
// mode the sale's pool empty, the phone's stock at 0 (all of it went to
// the sale) and every ordinary SKU untouched; in OrdinaryBuy mode every
// ordinary SKU at 0 and the phone untouched.
func (s *FlashShop) Check(tb testing.TB) {
	tb.Helper()
	ctx := context.Background()
	m := s.Shop.Merchant.ID
	if s.Mode == FlashBuy {
		left, err := s.Engine.Campaigns.Left(ctx, m, s.Sale.ID, s.phone())
		if err != nil {
			tb.Fatal(err)
		}
		if left != 0 {
			tb.Fatalf("flash sale: %d units left in the pool after %d orders, want 0", left, s.Buyers*s.PerBuyer)
		}
	}
	for k, p := range s.Shop.Products {
		got, err := s.Engine.Commerce.GetProduct(ctx, m, p.ID)
		if err != nil {
			tb.Fatal(err)
		}
		var want int64
		switch {
		case s.Mode == FlashBuy && k < s.Buyers:
			want = int64(s.PerBuyer)
		case s.Mode == OrdinaryBuy && k == s.Buyers:
			want = int64(s.Buyers * s.PerBuyer)
		}
		if got.SKUs[0].Stock != want {
			tb.Fatalf("%s: %s has %d in stock, want %d", s.Mode, p.Title, got.SKUs[0].Stock, want)
		}
	}
}

// BenchFlash measures checkout through the Engine in mode: buyers
// goroutines each place b.N/buyers one-unit orders, every order by a
// customer of its own (so the sale's limit of one unit per customer never
// refuses), all on the flash sale's one SKU (FlashBuy) or each buyer on an
// ordinary SKU of its own (OrdinaryBuy); see FlashShop. It reports orders/s,
// p99-ms (per checkout) and allocs/op of the timed part, and trips/order
// when trips is set, then checks the stock. In FlashBuy mode it then places
// as many orders in OrdinaryBuy mode on a fresh store of the harness, timed
// by hand, and reports them as ordinary-orders/s, ordinary-p99-ms (and
// ordinary-trips/order), and ratio = orders/s / ordinary-orders/s: what a
// flash sale's hot SKU costs a checkout against ordinary ones.
func BenchFlash(b *testing.B, h Harness, mode FlashMode, buyers int, trips func() int64) {
	b.Helper()
	perBuyer := (b.N + buyers - 1) / buyers
	var s *FlashShop
	labelled(phaseSetup, func() { s = NewFlashShop(b, h.New(b), mode, buyers, perBuyer) })
	b.ReportAllocs()
	before := count(trips)
	b.ResetTimer()
	var lat []time.Duration
	labelled(phaseTimed, func() { lat = s.Run(b) })
	b.StopTimer()
	if b.Failed() {
		return
	}
	orders := buyers * perBuyer
	rate := float64(orders) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "orders/s")
	b.ReportMetric(P99(lat), "p99-ms")
	if trips != nil {
		b.ReportMetric(float64(count(trips)-before)/float64(orders), "trips/order")
	}
	s.Check(b)
	if mode != FlashBuy {
		return
	}
	base, baseLat, baseTrips := FlashRate(b, h, OrdinaryBuy, buyers, perBuyer, trips)
	if b.Failed() {
		return
	}
	b.ReportMetric(base, "ordinary-orders/s")
	b.ReportMetric(P99(baseLat), "ordinary-p99-ms")
	if trips != nil {
		b.ReportMetric(baseTrips, "ordinary-trips/order")
	}
	b.ReportMetric(rate/base, "ratio")
}

// FlashRate places perBuyer orders per buyer in mode on a fresh store of
// h, as BenchFlash does, and returns orders/s timed by hand (setup left
// out), every order's latency and, when trips is set, round trips per
// order, for baselines. It checks the stock as BenchFlash does.
func FlashRate(tb testing.TB, h Harness, mode FlashMode, buyers, perBuyer int, trips func() int64) (float64, []time.Duration, float64) {
	tb.Helper()
	var s *FlashShop
	labelled(phaseSetup, func() { s = NewFlashShop(tb, h.New(tb), mode, buyers, perBuyer) })
	before := count(trips)
	start := time.Now()
	var lat []time.Duration
	labelled(phaseBaseline, func() { lat = s.Run(tb) })
	elapsed := time.Since(start)
	n := count(trips) - before
	if tb.Failed() {
		return 0, nil, 0
	}
	s.Check(tb)
	orders := float64(buyers * perBuyer)
	return orders / elapsed.Seconds(), lat, float64(n) / orders
}

// ---- group buying ----

// Group benchmarks' world: campaignWorkers products of tea at 100.00, one
// SKU each, in one group-buy activity (80.00 a member, 70.00 the leader,
// 24 hours from the leader's payment to fill). Setup spreads its groups
// over the workers, worker w's on product w, so setup's checkouts do not
// queue on one stock row.
const (
	campaignWorkers   = 8
	groupTimeLimit    = 24 * time.Hour
	groupMemberPrice  = "80.00"
	groupLeaderPrice  = "70.00"
	groupListPrice    = "100.00"
	groupCheckEvery   = 100 // every 100th order's payment is read at the channel
	groupMaxNameBytes = campaigns.MaxDisplayNameLen
)

// GroupShop is the Engine of a group benchmark over a fresh store, with a
// manual clock at commercetest.Epoch and the fakepay channel, its shop and
// its activity, made by NewGroupShop.
type GroupShop struct {
	Engine   *minishop.Engine
	Store    Store
	Clock    *commercetest.Clock
	Fake     *fakepay.Provider
	Shop     *commercetest.Shop
	Activity *campaigns.GroupActivity
	// Stock is each product's stock before any order.
	Stock []int64
}

// NewGroupShop opens the shop on store: workers products, product w with
// stock[w] units, and, when size is set, a group-buy activity of groups of
// size on every product.
func NewGroupShop(tb testing.TB, store Store, stock []int64, size int) *GroupShop {
	tb.Helper()
	ctx := context.Background()
	clock := commercetest.NewClock(commercetest.Epoch)
	fake := fakepay.New(fakepay.WithClock(clock.Now))
	engine, err := minishop.New(store, minishop.WithClock(clock), minishop.WithPayments(fake),
		minishop.WithCampaigns(func(c *campaigns.Config) { c.Secret = benchCampaignSecret }))
	if err != nil {
		tb.Fatal(err)
	}
	s := &GroupShop{Engine: engine, Store: store, Clock: clock, Fake: fake, Stock: stock}
	var specs []commercetest.ProductSpec
	for w, n := range stock {
		specs = append(specs, commercetest.ProductSpec{Title: fmt.Sprintf("tea %d", w), Category: "tea",
			Prices: []string{groupListPrice}, Stock: n})
	}
	s.Shop = commercetest.NewShop(tb, engine.Commerce, "拼团", commerce.ShippingRule{}, specs...)
	if size == 0 {
		return s
	}
	var items []campaigns.GroupItem
	for w := range stock {
		items = append(items, campaigns.GroupItem{SKU: s.Shop.SKU(w, 0), GroupPrice: commercetest.CNY(groupMemberPrice),
			LeaderPrice: commercetest.CNY(groupLeaderPrice)})
	}
	s.Activity, err = engine.Campaigns.CreateGroupActivity(ctx, campaigns.GroupActivityParams{MerchantID: s.Shop.Merchant.ID,
		Title: fmt.Sprintf("%d人团", size), Size: size, TimeLimit: groupTimeLimit, Items: items,
		Window: campaigns.Window{Start: commercetest.Epoch, End: commercetest.Epoch.Add(30 * 24 * time.Hour)}})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// Pay pays order id through the payment service and fakepay.
func (s *GroupShop) Pay(ctx context.Context, id commerce.OrderID) error {
	return payThrough(ctx, s.Engine, s.Fake, s.Shop.Merchant.ID, id)
}

// Buy checks out one unit of sku for customer with the extensions.
func (s *GroupShop) Buy(ctx context.Context, customer commerce.CustomerID, sku commerce.SKUID, exts ...commerce.Extension) (*commerce.Order, error) {
	return s.Engine.Commerce.Checkout(ctx, commerce.CheckoutParams{MerchantID: s.Shop.Merchant.ID, CustomerID: customer,
		Lines: []commerce.LineItem{{SKU: sku, Quantity: 1}}, ShippingAddress: commercetest.Address(),
		IdempotencyKey: "k", Extensions: commerce.With(exts...)})
}

// Join checks out a place in group g (on sku) for customer and pays it.
func (s *GroupShop) Join(ctx context.Context, g campaigns.GroupID, sku commerce.SKUID, customer commerce.CustomerID) (*commerce.Order, error) {
	o, err := s.Buy(ctx, customer, sku, campaigns.JoinGroup(g, displayName(customer)))
	if err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	if err := s.Pay(ctx, o.ID); err != nil {
		return nil, fmt.Errorf("pay order %s: %w", o.ID, err)
	}
	return o, nil
}

// displayName is a customer's name on a group's page.
func displayName(c commerce.CustomerID) string {
	n := string(c)
	if len(n) > groupMaxNameBytes {
		n = n[:groupMaxNameBytes]
	}
	return n
}

// BenchGroup is one group a benchmark built: its SKU and the orders of
// its paid members (the leader's first).
type BenchGroup struct {
	ID     campaigns.GroupID
	SKU    commerce.SKUID
	Orders []commerce.OrderID
}

// perWorker spreads n over min(campaignWorkers, n) workers.
func perWorker(n int) []int {
	per := make([]int, min(campaignWorkers, n))
	for i := range n {
		per[i%len(per)]++
	}
	return per
}

// OpenGroups opens per[w] groups on product w for each worker w, in
// parallel: each leader (GroupLeader) checks out with campaigns.OpenGroup
// and pays, then members-1 members (GroupMember, by the group's index among
// all) join and pay, one after another. It returns the groups, worker by
// worker.
func (s *GroupShop) OpenGroups(tb testing.TB, per []int, members int) []BenchGroup {
	tb.Helper()
	ctx := context.Background()
	made := make([][]BenchGroup, len(per))
	first := make([]int, len(per)) // the index among all groups of worker w's first
	for w := 1; w < len(per); w++ {
		first[w] = first[w-1] + per[w-1]
	}
	var wg sync.WaitGroup
	for w := range per {
		wg.Go(func() {
			sku := s.Shop.SKU(w, 0)
			for i := range per[w] {
				leader := GroupLeader(w, i)
				o, err := s.Buy(ctx, leader, sku, campaigns.OpenGroup(s.Activity.ID, displayName(leader)))
				if err != nil {
					tb.Errorf("open group %d of worker %d: %v", i, w, err)
					return
				}
				if o.Group == nil {
					tb.Errorf("open group %d of worker %d: order %s holds no group", i, w, o.ID)
					return
				}
				id, err := commerce.ParseID[campaigns.GroupID](o.Group.ID)
				if err != nil {
					tb.Errorf("open group %d of worker %d: %v", i, w, err)
					return
				}
				if err := s.Pay(ctx, o.ID); err != nil {
					tb.Errorf("pay the leader of group %d of worker %d: %v", i, w, err)
					return
				}
				g := BenchGroup{ID: id, SKU: sku, Orders: []commerce.OrderID{o.ID}}
				for j := 1; j < members; j++ {
					m, err := s.Join(ctx, id, sku, GroupMember(first[w]+i, j))
					if err != nil {
						tb.Errorf("member %d of group %d of worker %d: %v", j, i, w, err)
						return
					}
					g.Orders = append(g.Orders, m.ID)
				}
				made[w] = append(made[w], g)
			}
		})
	}
	wg.Wait()
	if tb.Failed() {
		tb.FailNow()
	}
	var all []BenchGroup
	for _, gs := range made {
		all = append(all, gs...)
	}
	return all
}

// GroupLeader is the leader of worker w's i-th group.
func GroupLeader(w, i int) commerce.CustomerID {
	return commerce.CustomerID(fmt.Sprintf("lead%d-%06d", w, i))
}

// GroupMember is the j-th member (from 1) of group g.
func GroupMember(g, j int) commerce.CustomerID {
	return commerce.CustomerID(fmt.Sprintf("mem%06d-%d", g, j))
}

// CheckGroups fails tb unless every group is in state and every order of
// its paid members in status; for StatusRefunded, every order refunded in
// full once (the orders of every groupCheckEvery-th group through the
// channel) and every product's stock back to Stock.
func (s *GroupShop) CheckGroups(tb testing.TB, groups []BenchGroup, state campaigns.GroupState, status commerce.OrderStatus) {
	tb.Helper()
	ctx := context.Background()
	m := s.Shop.Merchant.ID
	err := forEach(len(groups), func(i int) error {
		bg := groups[i]
		g, err := s.Engine.Campaigns.Group(ctx, m, bg.ID)
		if err != nil {
			return err
		}
		if g.State != state {
			return fmt.Errorf("group %s is %s, want %s", g.ID, g.State, state)
		}
		return s.checkOrders(ctx, i, bg.Orders, status)
	})
	if err != nil {
		tb.Fatal(err)
	}
	if status == commerce.StatusRefunded {
		s.CheckStock(tb, s.Stock)
	}
}

// checkOrders checks orders are in status; refunded ones refunded in full
// once, and, for the k-th of every groupCheckEvery, through the channel.
func (s *GroupShop) checkOrders(ctx context.Context, k int, orders []commerce.OrderID, status commerce.OrderStatus) error {
	m := s.Shop.Merchant.ID
	for _, id := range orders {
		o, err := s.Engine.Commerce.GetOrder(ctx, m, id)
		if err != nil {
			return err
		}
		if o.Status != status {
			return fmt.Errorf("order %s is %s, want %s", id, o.Status, status)
		}
		if status != commerce.StatusRefunded {
			continue
		}
		if !o.Refunded().Equal(o.Total) || len(o.Refunds) != 1 || o.PendingRefunds() {
			return fmt.Errorf("order %s: %s of %s refunded in %d refunds (pending %v); want all in 1", id, o.Refunded(), o.Total, len(o.Refunds), o.PendingRefunds())
		}
		if k%groupCheckEvery != 0 {
			continue
		}
		pays, err := s.Engine.Payments.OrderPayments(ctx, m, id)
		if err != nil {
			return err
		}
		if len(pays) != 1 || !pays[0].RefundedAmount().Equal(o.Total) {
			return fmt.Errorf("order %s: %d payments, the first refunded %v at the channel; want 1 refunded %s", id, len(pays), refundedAt(pays), o.Total)
		}
	}
	return nil
}

func refundedAt(pays []*payment.Payment) any {
	if len(pays) == 0 {
		return nil
	}
	return pays[0].RefundedAmount()
}

// CheckStock fails tb unless product w has want[w] in stock.
func (s *GroupShop) CheckStock(tb testing.TB, want []int64) {
	tb.Helper()
	for w, p := range s.Shop.Products {
		got, err := s.Engine.Commerce.GetProduct(context.Background(), s.Shop.Merchant.ID, p.ID)
		if err != nil {
			tb.Fatal(err)
		}
		if got.SKUs[0].Stock != want[w] {
			tb.Fatalf("%s: %d in stock, want %d", p.Title, got.SKUs[0].Stock, want[w])
		}
	}
}

// ---- members joining groups ----

// BenchGroupJoin measures members joining open groups of size: each join
// is a checkout with campaigns.JoinGroup (a place reserved on the group's
// record) and its payment through the payment service and fakepay (the
// place paid; the group's last payment forms it and moves its size orders
// on to paid in the same transaction). Each of the b.N iterations opens
// members/(size-1) groups on a fresh store, their leaders paid (timer
// stopped, see GroupShop.OpenGroups), then times workers goroutines making
// members joins: join k is member k%(size-1)+1 of group k/(size-1), worker
// k%workers, so a group's members join at the same time from different
// workers, as friends from one chat do. It then checks every group formed
// and every order paid. It reports joins/s (a checkout and its payment per
// join), p99-ms (per join, checkout and payment), µs/join, build-s and,
// when trips is set, trips/join.
func BenchGroupJoin(b *testing.B, h Harness, members, size, workers int, trips func() int64) {
	b.Helper()
	if size < 2 || members%(size-1) != 0 || members%workers != 0 {
		b.Fatalf("%d members: want a multiple of the %d places a group of %d has to fill and of %d workers", members, size-1, size, workers)
	}
	ctx := context.Background()
	groups := members / (size - 1)
	per := perWorker(groups)
	var build time.Duration
	var n int64
	var lat []time.Duration
	b.ReportAllocs()
	for it := 0; it < b.N; it++ {
		b.StopTimer()
		start := time.Now()
		var s *GroupShop
		var gs []BenchGroup
		labelled(phaseSetup, func() {
			stock := make([]int64, len(per))
			for w := range per {
				stock[w] = int64(per[w] * size)
			}
			s = NewGroupShop(b, h.New(b), stock, size)
			gs = s.OpenGroups(b, per, 1)
		})
		build += time.Since(start)
		s.CheckGroups(b, gs, campaigns.GroupOpen, commerce.StatusAwaitingGroup)
		before := count(trips)
		b.StartTimer()
		labelled(phaseTimed, func() {
			lat = append(lat, RunBuyers(b, workers, members/workers, func(ctx context.Context, w, i int) error {
				k := i*workers + w
				g := &gs[k/(size-1)]
				_, err := s.Join(ctx, g.ID, g.SKU, GroupMember(k/(size-1), k%(size-1)+1))
				return err
			})...)
		})
		b.StopTimer()
		n += count(trips) - before
		if b.Failed() {
			return
		}
		for k := range gs {
			orders, err := groupOrders(ctx, s, gs[k].ID)
			if err != nil {
				b.Fatal(err)
			}
			gs[k].Orders = orders
		}
		s.CheckGroups(b, gs, campaigns.GroupFormed, commerce.StatusPaid)
		s.CheckStock(b, make([]int64, len(per)))
	}
	total := float64(b.N * members)
	b.ReportMetric(total/b.Elapsed().Seconds(), "joins/s")
	b.ReportMetric(P99(lat), "p99-ms")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/total, "µs/join")
	b.ReportMetric(build.Seconds()/float64(b.N), "build-s")
	if trips != nil {
		b.ReportMetric(float64(n)/total, "trips/join")
	}
}

// groupOrders lists the orders of a group's members, failing unless the
// group holds exactly its size of them, each formed.
func groupOrders(ctx context.Context, s *GroupShop, id campaigns.GroupID) ([]commerce.OrderID, error) {
	g, err := s.Engine.Campaigns.Group(ctx, s.Shop.Merchant.ID, id)
	if err != nil {
		return nil, err
	}
	var out []commerce.OrderID
	for _, m := range g.Members {
		if m.State != campaigns.MemberFormed {
			return nil, fmt.Errorf("group %s: member %s is %s, want formed", id, m.Customer, m.State)
		}
		out = append(out, m.Order)
	}
	if len(out) != g.Size {
		return nil, fmt.Errorf("group %s: %d members, want %d", id, len(out), g.Size)
	}
	return out, nil
}

// ---- failed groups expiring ----

// Groups of BenchGroupExpiry: three places, two paid (the leader at 70.00
// and a member at 80.00), so that each fails at its deadline.
const (
	expirySize = 3
	expiryPaid = 2
)

// BenchGroupExpiry measures Engine.RunDue failing groups groups at their
// deadline and refunding their paid members in full through the payment
// channel (fakepay): each group has three places and two paid members, the
// leader and one more. Each of the b.N iterations opens the groups on a
// fresh store (timer stopped, GroupShop.OpenGroups), advances the clock
// past the groups' 24 hours and times one Engine.RunDue, which must fail
// every group and refund both members of each; it then checks every group
// failed, every order refunded in full once (every 100th through the
// channel) and every unit back in stock. It then builds the baseline, as
// many ordinary orders (one unit at 100.00 each, by a customer of its own,
// coupons.NoCoupon()) paid the same way on a fresh store, and refunds each
// in full with commerce Refund, one after another as RunDue does, timed by
// hand, and checks them alike. It reports refunds/s (orders refunded per
// second of RunDue), µs/refund, direct-refunds/s, ratio = refunds/s /
// direct-refunds/s, build-s (both builds' wall time) and, when trips is
// set, trips/refund and direct-trips/refund.
func BenchGroupExpiry(b *testing.B, h Harness, groups int, trips func() int64) {
	b.Helper()
	ctx := context.Background()
	refunds := groups * expiryPaid
	per := perWorker(groups)
	var build, direct time.Duration
	var n, dn int64
	b.ReportAllocs()
	for it := 0; it < b.N; it++ {
		b.StopTimer()
		start := time.Now()
		var s *GroupShop
		var gs []BenchGroup
		labelled(phaseSetup, func() {
			stock := make([]int64, len(per))
			for w := range per {
				stock[w] = int64(per[w] * expiryPaid)
			}
			s = NewGroupShop(b, h.New(b), stock, expirySize)
			gs = s.OpenGroups(b, per, expiryPaid)
		})
		build += time.Since(start)
		s.CheckGroups(b, gs, campaigns.GroupOpen, commerce.StatusAwaitingGroup)
		s.Clock.Advance(groupTimeLimit + time.Second)
		before := count(trips)
		var rep minishop.DueReport
		var err error
		b.StartTimer()
		labelled(phaseTimed, func() { rep, err = s.Engine.RunDue(ctx) })
		b.StopTimer()
		n += count(trips) - before
		if err != nil {
			b.Fatalf("RunDue: %v (%s)", err, rep)
		}
		if rep.Campaigns.GroupsFailed != groups || rep.Campaigns.MembersRefunded != refunds {
			b.Fatalf("RunDue failed %d groups and refunded %d members, want %d and %d", rep.Campaigns.GroupsFailed, rep.Campaigns.MembersRefunded, groups, refunds)
		}
		s.CheckGroups(b, gs, campaigns.GroupFailed, commerce.StatusRefunded)

		start = time.Now()
		var d *GroupShop
		var orders []commerce.OrderID
		labelled(phaseSetup, func() {
			d, orders = NewPaidOrders(b, h.New(b), refunds)
		})
		build += time.Since(start)
		before = count(trips)
		start = time.Now()
		labelled(phaseBaseline, func() {
			for i, id := range orders {
				if _, err := d.Engine.Commerce.Refund(ctx, commerce.RefundParams{MerchantID: d.Shop.Merchant.ID, OrderID: id, All: true,
					Reason: "baseline", IdempotencyKey: "r"}); err != nil {
					b.Fatalf("refund order %d: %v", i, err)
				}
			}
		})
		direct += time.Since(start)
		dn += count(trips) - before
		err = forEach(len(orders), func(i int) error {
			return d.checkOrders(ctx, i, orders[i:i+1], commerce.StatusRefunded)
		})
		if err != nil {
			b.Fatal(err)
		}
		d.CheckStock(b, d.Stock)
	}
	total := float64(b.N * refunds)
	rate := total / b.Elapsed().Seconds()
	base := total / direct.Seconds()
	b.ReportMetric(rate, "refunds/s")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/total, "µs/refund")
	b.ReportMetric(base, "direct-refunds/s")
	b.ReportMetric(rate/base, "ratio")
	b.ReportMetric(build.Seconds()/float64(b.N), "build-s")
	if trips != nil {
		b.ReportMetric(float64(n)/total, "trips/refund")
		b.ReportMetric(float64(dn)/total, "direct-trips/refund")
	}
}

// NewPaidOrders opens a GroupShop without an activity on store and places
// orders ordinary orders, one unit of tea at 100.00 each by a customer of
// its own (PaidCustomer), paid through the payment service and fakepay,
// over campaignWorkers goroutines, worker w's on product w. It returns the
// shop and the orders, worker by worker.
func NewPaidOrders(tb testing.TB, store Store, orders int) (*GroupShop, []commerce.OrderID) {
	tb.Helper()
	ctx := context.Background()
	per := perWorker(orders)
	stock := make([]int64, len(per))
	for w := range per {
		stock[w] = int64(per[w])
	}
	s := NewGroupShop(tb, store, stock, 0)
	made := make([][]commerce.OrderID, len(per))
	var wg sync.WaitGroup
	for w := range per {
		wg.Go(func() {
			for i := range per[w] {
				o, err := s.Buy(ctx, PaidCustomer(w, i), s.Shop.SKU(w, 0), coupons.NoCoupon())
				if err != nil {
					tb.Errorf("order %d of worker %d: %v", i, w, err)
					return
				}
				if err := s.Pay(ctx, o.ID); err != nil {
					tb.Errorf("pay order %d of worker %d: %v", i, w, err)
					return
				}
				made[w] = append(made[w], o.ID)
			}
		})
	}
	wg.Wait()
	if tb.Failed() {
		tb.FailNow()
	}
	var all []commerce.OrderID
	for _, ids := range made {
		all = append(all, ids...)
	}
	err := forEach(len(all), func(i int) error { return s.checkOrders(ctx, i, all[i:i+1], commerce.StatusPaid) })
	if err != nil {
		tb.Fatal(err)
	}
	return s, all
}

// PaidCustomer is the customer of worker w's i-th baseline order.
func PaidCustomer(w, i int) commerce.CustomerID {
	return commerce.CustomerID(fmt.Sprintf("paid%d-%06d", w, i))
}
