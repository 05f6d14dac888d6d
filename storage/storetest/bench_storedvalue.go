package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/payment/fakepay"
	"github.com/minishop/minishop/storedvalue"
)

// Stored-value benchmarks: checkout paid half from the balance against
// WeChat Pay alone, redeeming gift cards, and reading a long statement.
// Like the campaign benchmarks they take trips, the harness's count of
// round trips to the database (nil for stores without SQL).

// svShop is a stored-value benchmark's world: the Engine (fakepay, a
// manual clock, the prepaid rules off so balances may be large) over a
// fresh store, with a top-up SKU, a physical card batch and buyers
// products at 20.00.
type svShop struct {
	engine *minishop.Engine
	fake   *fakepay.Provider
	shop   *commercetest.Shop
	batch  *storedvalue.CardBatch
}

func newSVShop(tb testing.TB, store Store, products int, price string) *svShop {
	tb.Helper()
	clock := commercetest.NewClock(commercetest.Epoch)
	fake := fakepay.New(fakepay.WithClock(clock.Now))
	engine, err := minishop.New(store, minishop.WithClock(clock), minishop.WithPayments(fake),
		minishop.WithStoredValue(func(c *storedvalue.Config) { c.Secret, c.NoPrepaidRules = []byte("bench stored value"), true }))
	if err != nil {
		tb.Fatal(err)
	}
	specs := []commercetest.ProductSpec{{Title: "top-up", Category: storedvalue.Category, Prices: []string{"100.00"}, Stock: 1_000_000}}
	for w := range products {
		specs = append(specs, commercetest.ProductSpec{Title: fmt.Sprintf("tea %d", w), Category: "tea", Prices: []string{price}, Stock: 1_000_000})
	}
	s := &svShop{engine: engine, fake: fake}
	s.shop = commercetest.NewShop(tb, engine.Commerce, "储值", commerce.ShippingRule{}, specs...)
	s.batch, err = engine.StoredValue.CreateCardBatch(context.Background(), storedvalue.CardBatchParams{MerchantID: s.shop.Merchant.ID,
		Title: "bench", Kind: storedvalue.CardPhysical, Face: commercetest.CNY("100.00")})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func (s *svShop) checkout(ctx context.Context, customer commerce.CustomerID, sku commerce.SKUID, qty int64, key string, exts ...commerce.Extension) (*commerce.Order, error) {
	return s.engine.Commerce.Checkout(ctx, commerce.CheckoutParams{MerchantID: s.shop.Merchant.ID, CustomerID: customer, IdempotencyKey: key,
		Lines: []commerce.LineItem{{SKU: sku, Quantity: qty}}, ShippingAddress: commercetest.Address(), Extensions: commerce.With(exts...)})
}

// topUp credits customer with units × 100.00, paid through fakepay.
func (s *svShop) topUp(ctx context.Context, customer commerce.CustomerID, units int64) error {
	o, err := s.checkout(ctx, customer, s.shop.SKU(0, 0), units, "topup-"+string(customer))
	if err != nil {
		return err
	}
	return payThrough(ctx, s.engine, s.fake, s.shop.Merchant.ID, o.ID)
}

// BenchBalanceCheckout measures orders of one 20.00 unit placed and paid by
// buyers goroutines, buyer w on product w with a customer of its own:
// half from the customer's balance (storedvalue.FromBalance(10.00)) and
// half through fakepay, against, on a fresh store after it and timed by
// hand, the same orders paid through fakepay alone. It reports orders/s,
// p99-ms, wechat-only-orders/s, ratio (orders/s / wechat-only-orders/s),
// and, when trips is set, trips/order and wechat-only-trips/order.
func BenchBalanceCheckout(b *testing.B, h Harness, buyers int, trips func() int64) {
	b.Helper()
	ctx := context.Background()
	perBuyer := (b.N + buyers - 1) / buyers
	run := func(half bool) (float64, []time.Duration, float64) {
		var s *svShop
		labelled(phaseSetup, func() {
			s = newSVShop(b, h.New(b), buyers, "20.00")
			if half {
				err := forEach(buyers, func(w int) error {
					return s.topUp(ctx, benchBuyer(w), int64(perBuyer/10+1))
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
		before := count(trips)
		start := time.Now()
		var lat []time.Duration
		labelled(map[bool]string{true: phaseTimed, false: phaseBaseline}[half], func() {
			lat = RunBuyers(b, buyers, perBuyer, func(ctx context.Context, w, i int) error {
				var exts []commerce.Extension
				if half {
					exts = append(exts, storedvalue.Pay(storedvalue.FromBalance(commercetest.CNY("10.00"))))
				}
				o, err := s.checkout(ctx, benchBuyer(w), s.shop.SKU(w+1, 0), 1, fmt.Sprintf("o-%d-%d", w, i), exts...)
				if err != nil {
					return err
				}
				if want := map[bool]string{true: "CNY 10.00", false: "CNY 20.00"}[half]; o.Due().String() != want {
					return fmt.Errorf("order due %s, want %s", o.Due(), want)
				}
				return payThrough(ctx, s.engine, s.fake, s.shop.Merchant.ID, o.ID)
			})
		})
		elapsed := time.Since(start)
		orders := float64(buyers * perBuyer)
		if half {
			// Every buyer's balance paid 10.00 an order, no more.
			for w := range buyers {
				a, err := s.engine.StoredValue.Account(ctx, s.shop.Merchant.ID, benchBuyer(w))
				if err != nil {
					b.Fatal(err)
				}
				left, _ := a.Balance().Minor()
				if want := (int64(perBuyer/10+1)*100 - int64(perBuyer)*10) * 100; left != want {
					b.Fatalf("buyer %d: balance %d fen, want %d", w, left, want)
				}
			}
		}
		return orders / elapsed.Seconds(), lat, float64(count(trips)-before) / orders
	}
	b.ReportAllocs()
	b.ResetTimer()
	rate, lat, tr := run(true)
	b.StopTimer()
	base, _, btr := run(false)
	b.ReportMetric(rate, "orders/s")
	b.ReportMetric(P99(lat), "p99-ms")
	b.ReportMetric(base, "wechat-only-orders/s")
	b.ReportMetric(rate/base, "ratio")
	if trips != nil {
		b.ReportMetric(tr, "trips/order")
		b.ReportMetric(btr, "wechat-only-trips/order")
	}
}

func benchBuyer(w int) commerce.CustomerID { return commerce.CustomerID(fmt.Sprintf("buyer-%d", w)) }

// BenchRedeemCards measures redeeming cards activated physical cards of
// 100.00 over 8 workers, each card by a customer of its own into its
// balance; it reports cards/s and, when trips is set, trips/card, and
// checks every balance.
func BenchRedeemCards(b *testing.B, h Harness, cards int, trips func() int64) {
	b.Helper()
	ctx := context.Background()
	var total time.Duration
	var n int64
	for it := 0; it < b.N; it++ {
		b.StopTimer()
		var s *svShop
		var printed []storedvalue.PrintedCard
		labelled(phaseSetup, func() {
			s = newSVShop(b, h.New(b), 0, "20.00")
			var err error
			if printed, err = s.engine.StoredValue.IssueCards(ctx, s.shop.Merchant.ID, s.batch.ID, cards); err != nil {
				b.Fatal(err)
			}
			if err := forEach(cards, func(i int) error {
				_, err := s.engine.StoredValue.ActivateCard(ctx, s.shop.Merchant.ID, printed[i].Number)
				return err
			}); err != nil {
				b.Fatal(err)
			}
		})
		before := count(trips)
		start := time.Now()
		b.StartTimer()
		labelled(phaseTimed, func() {
			err := forEach(cards, func(i int) error {
				_, err := s.engine.StoredValue.RedeemCard(ctx, storedvalue.RedeemParams{MerchantID: s.shop.Merchant.ID,
					Customer: benchBuyer(i), Number: printed[i].Number, Secret: printed[i].Secret})
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		})
		b.StopTimer()
		total += time.Since(start)
		n += count(trips) - before
		if err := forEach(cards, func(i int) error {
			a, err := s.engine.StoredValue.Account(ctx, s.shop.Merchant.ID, benchBuyer(i))
			if err == nil && a.Balance().String() != "CNY 100.00" {
				err = fmt.Errorf("card %d: balance %s", i, a.Balance())
			}
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
	done := float64(b.N * cards)
	b.ReportMetric(done/total.Seconds(), "cards/s")
	if trips != nil {
		b.ReportMetric(float64(n)/done, "trips/card")
	}
}

// BenchStatement measures reading the whole statement of an account with
// entries ledger entries (a top-up of 100.00, then orders of 0.01 its
// balance pays in full), in pages of 100; it reports ms/statement, entries/s, build-s and,
// when trips is set, trips/statement, and checks that the entries sum to
// the balance.
func BenchStatement(b *testing.B, h Harness, entries int, trips func() int64) {
	b.Helper()
	ctx := context.Background()
	var s *svShop
	start := time.Now()
	labelled(phaseSetup, func() {
		s = newSVShop(b, h.New(b), 8, "0.01")
		if err := s.topUp(ctx, "reader", 1); err != nil {
			b.Fatal(err)
		}
		err := forEach(entries-1, func(i int) error {
			o, err := s.checkout(ctx, "reader", s.shop.SKU(1+i%8, 0), 1, fmt.Sprintf("s-%d", i),
				storedvalue.Pay(storedvalue.FromBalance(commercetest.CNY("0.01"))))
			if err == nil && o.Status != commerce.StatusPaid {
				err = fmt.Errorf("order %d is %s", i, o.Status)
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	})
	build := time.Since(start)
	m := s.shop.Merchant.ID
	acct, err := s.engine.StoredValue.Account(ctx, m, "reader")
	if err != nil {
		b.Fatal(err)
	}
	before := count(trips)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		var after int64
		sum := commerce.Zero(acct.Balance().Currency())
		read := 0
		for {
			page, err := s.engine.StoredValue.Statement(ctx, m, "reader", after, 100)
			if err != nil {
				b.Fatal(err)
			}
			for _, e := range page {
				sum, _ = sum.Add(e.Principal)
				sum, _ = sum.Add(e.Bonus)
				after = e.Seq
			}
			read += len(page)
			if len(page) < 100 {
				break
			}
		}
		if read != entries || !sum.Equal(acct.Balance()) {
			b.Fatalf("statement: %d entries summing to %s, want %d summing to the balance, %s", read, sum, entries, acct.Balance())
		}
	}
	b.StopTimer()
	per := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(per.Microseconds())/1000, "ms/statement")
	b.ReportMetric(float64(entries)/per.Seconds(), "entries/s")
	b.ReportMetric(build.Seconds(), "build-s")
	if trips != nil {
		b.ReportMetric(float64(count(trips)-before)/float64(b.N), "trips/statement")
	}
}
