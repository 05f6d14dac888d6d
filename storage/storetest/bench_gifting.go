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
	"github.com/minishop/minishop/gifting"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/fakepay"
)

// ExpireBench is a shop with one-friend gifts sent and waiting for their
// recipients, made by NewExpireBench: each gift is one unit of a 199.00
// scarf, bought by a giver of its own through gifting.Service.Send and paid
// through the payment service and the fakepay channel (Payments.Pay, the
// channel's payment, Payments.HandleNotification), so the refunds of
// expired gifts go back through the channel.
type ExpireBench struct {
	Engine *minishop.Engine
	Store  Store
	Clock  *commercetest.Clock
	Fake   *fakepay.Provider
	Shop   *commercetest.Shop
	// Gifts are the sent gifts, worker by worker; Stock is each product's
	// stock before any gift was bought.
	Gifts []*gifting.Gift
	Stock []int64
	// Build is how long NewExpireBench took.
	Build time.Duration
}

// expireWorkers goroutines, each on a product of its own, send and pay the
// gifts of NewExpireBench.
const expireWorkers = 8

// GiftGiver is the giver of worker w's i-th gift.
func GiftGiver(w, i int) commerce.CustomerID {
	return commerce.CustomerID(fmt.Sprintf("g%d-%06d", w, i))
}

// NewExpireBench opens a shop on store with a manual clock and the fakepay
// channel and sends gifts gifts, as ExpireBench says.
func NewExpireBench(tb testing.TB, store Store, gifts int) *ExpireBench {
	tb.Helper()
	start := time.Now()
	ctx := context.Background()
	clock := commercetest.NewClock(commercetest.Epoch)
	fake := fakepay.New(fakepay.WithClock(clock.Now))
	engine, err := minishop.New(store, minishop.WithClock(clock), minishop.WithPayments(fake),
		minishop.WithGifting(func(c *gifting.Config) { c.Secret = []byte("bench gift secret") }))
	if err != nil {
		tb.Fatal(err)
	}
	r := &ExpireBench{Engine: engine, Store: store, Clock: clock, Fake: fake}
	workers := min(expireWorkers, gifts)
	per := make([]int, workers)
	for i := range gifts {
		per[i%workers]++
	}
	var specs []commercetest.ProductSpec
	for w := range workers {
		specs = append(specs, commercetest.ProductSpec{Title: fmt.Sprintf("scarf %d", w), Category: "apparel",
			Prices: []string{"199.00"}, Stock: int64(per[w])})
		r.Stock = append(r.Stock, int64(per[w]))
	}
	r.Shop = commercetest.NewShop(tb, engine.Commerce, "gifts", commerce.ShippingRule{}, specs...)
	m := r.Shop.Merchant.ID
	made := make([][]*gifting.Gift, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range per[w] {
				g, o, err := engine.Gifting.Send(ctx, gifting.SendParams{MerchantID: m, Giver: GiftGiver(w, i), GiverName: "小王",
					SKU: r.Shop.SKU(w, 0), Quantity: 1, Message: "生日快乐", IdempotencyKey: "k"})
				if err != nil {
					tb.Errorf("send gift %d of worker %d: %v", i, w, err)
					return
				}
				p, _, err := engine.Payments.Pay(ctx, payment.PayParams{MerchantID: m, OrderID: o.ID})
				if err != nil {
					tb.Errorf("pay gift %d of worker %d: %v", i, w, err)
					return
				}
				req, err := fake.Pay(p.PaymentNo)
				if err != nil {
					tb.Errorf("fakepay gift %d of worker %d: %v", i, w, err)
					return
				}
				if _, err := engine.Payments.HandleNotification(ctx, "fakepay", req); err != nil {
					tb.Errorf("notify gift %d of worker %d: %v", i, w, err)
					return
				}
				made[w] = append(made[w], g)
			}
		})
	}
	wg.Wait()
	if tb.Failed() {
		tb.FailNow()
	}
	for _, gs := range made {
		r.Gifts = append(r.Gifts, gs...)
	}
	r.Build = time.Since(start)
	return r
}

// Check fails tb unless every gift is as wanted: sent, its paid order
// awaiting the recipient (expired unset); or expired and refunded, its
// order refunded in full once (expired set), every 100th order's payment
// refunded in full through the channel, and every unit back in stock.
func (r *ExpireBench) Check(tb testing.TB, expired bool) {
	tb.Helper()
	ctx := context.Background()
	m := r.Shop.Merchant.ID
	price := commercetest.CNY("199.00")
	err := forEach(len(r.Gifts), func(i int) error {
		id := r.Gifts[i].ID
		g, err := r.Store.GetGift(ctx, m, id)
		if err != nil {
			return err
		}
		o, err := r.Engine.Commerce.GetOrder(ctx, m, g.OrderID)
		if err != nil {
			return err
		}
		if !expired {
			if g.Status != gifting.Sent || o.Status != commerce.StatusAwaitingRecipient {
				return fmt.Errorf("gift %s is %s, its order %s; want sent, awaiting_recipient", id, g.Status, o.Status)
			}
			return nil
		}
		if g.Status != gifting.Expired || !g.Refunded {
			return fmt.Errorf("gift %s is %s, refunded %v; want expired and refunded", id, g.Status, g.Refunded)
		}
		if o.Status != commerce.StatusRefunded || !o.Refunded().Equal(price) || len(o.Refunds) != 1 {
			return fmt.Errorf("order %s of gift %s is %s, %s refunded in %d refunds; want refunded, %s in 1", o.ID, id, o.Status, o.Refunded(), len(o.Refunds), price)
		}
		if i%100 != 0 {
			return nil
		}
		pays, err := r.Engine.Payments.OrderPayments(ctx, m, o.ID)
		if err != nil {
			return err
		}
		if len(pays) != 1 {
			return fmt.Errorf("order %s of gift %s: %d payments, want 1", o.ID, id, len(pays))
		}
		if got := pays[0].RefundedAmount(); !got.Equal(price) {
			return fmt.Errorf("order %s of gift %s: %s refunded through the channel, want %s", o.ID, id, got, price)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	if !expired {
		return
	}
	for k, p := range r.Shop.Products {
		got, err := r.Engine.Commerce.GetProduct(ctx, m, p.ID)
		if err != nil {
			tb.Fatal(err)
		}
		if got.SKUs[0].Stock != r.Stock[k] {
			tb.Fatalf("%s: %d in stock, want %d back", p.Title, got.SKUs[0].Stock, r.Stock[k])
		}
	}
}

// BenchExpireGifts measures gifting.Service.RunDue expiring gifts sent
// one-friend gifts nobody accepted and refunding their orders in full
// through the payment channel. Each of the b.N iterations builds its gifts
// with NewExpireBench (timer stopped), advances the clock past the gifts'
// 24-hour lifetime and times Gifting.RunDue, called until it expires none
// (it takes up to 1,000 gifts a call). It then checks every gift is
// expired and refunded, and every order refunded. It reports gifts/s
// (gifts expired and refunded per second of RunDue), µs/gift, rundue-calls
// per iteration (the last one finds nothing), build-s (the build's wall
// time) and, when stmts is set, stmts/gift.
func BenchExpireGifts(b *testing.B, h Harness, gifts int, stmts func() int64) {
	b.Helper()
	ctx := context.Background()
	var build time.Duration
	var n int64
	calls := 0
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		var r *ExpireBench
		labelled(phaseSetup, func() { r = NewExpireBench(b, h.New(b), gifts) })
		build += r.Build
		r.Check(b, false)
		r.Clock.Advance(24*time.Hour + time.Second)
		before := count(stmts)
		expired, first := 0, calls
		b.StartTimer()
		labelled(phaseTimed, func() {
			for {
				got, err := r.Engine.Gifting.RunDue(ctx)
				calls++
				if err != nil {
					b.Fatalf("Gifting.RunDue call %d (%d gifts expired by it): %v", calls-first, got, err)
				}
				expired += got
				if got == 0 {
					break
				}
				if calls-first >= maxRunDueCalls {
					b.Fatalf("gifts still expiring after %d RunDue calls", maxRunDueCalls)
				}
			}
		})
		b.StopTimer()
		n += count(stmts) - before
		if expired != gifts {
			b.Fatalf("RunDue expired %d gifts in %d calls, want %d", expired, calls-first, gifts)
		}
		r.Check(b, true)
	}
	total := float64(b.N * gifts)
	b.ReportMetric(total/b.Elapsed().Seconds(), "gifts/s")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/total, "µs/gift")
	b.ReportMetric(float64(calls)/float64(b.N), "rundue-calls")
	b.ReportMetric(build.Seconds()/float64(b.N), "build-s")
	if stmts != nil {
		b.ReportMetric(float64(n)/total, "stmts/gift")
	}
}
