// Command campaigns tells the story of the campaigns that make a WeChat
// shop spread: a three-person group buy (拼团) forms when the last friend
// pays, and every member's order moves on from awaiting_group to paid;
// another group misses its deadline and each paid member is refunded in
// full through the payment channel, exactly once, the stock back; a flash
// sale (秒杀) of five phones meets forty buyers at once and sells exactly
// five, one per customer, the unpaid units going back at the close; a
// bargain (砍价) reaches its target after five friends' cuts and the owner
// buys at the target price.
//
// It runs on the embedded default store, a SQLite file in a fresh
// temporary directory (unless -db names one).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/text/currency"
	"golang.org/x/text/language"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/campaigns"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/fakepay"
	"github.com/minishop/minishop/storage/sqlstore"
)

func main() {
	dir, err := os.MkdirTemp("", "minishop-campaigns-")
	if err != nil {
		log.Fatal(err)
	}
	db := flag.String("db", filepath.Join(dir, "shop.db"), "SQLite database file")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, *db); err != nil {
		log.Fatal(err)
	}
}

func yuan(m commerce.Money) string { return m.Format(language.Chinese) }

func cny(s string) commerce.Money { return commerce.MustParseMoney(s, currency.CNY) }

func hours(d time.Duration) string { return fmt.Sprintf("%gh", d.Hours()) }

// story holds what every part of the story shares.
type story struct {
	ctx     context.Context
	out     io.Writer
	engine  *minishop.Engine
	channel *fakepay.Provider
	clock   *commercetest.Clock
	m       commerce.MerchantID
	keys    int
	mu      sync.Mutex
}

func (s *story) printf(format string, args ...any) { fmt.Fprintf(s.out, format, args...) }

// key is a fresh idempotency key, as a client makes one per checkout.
func (s *story) key() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys++
	return fmt.Sprintf("checkout-%d", s.keys)
}

// buy checks out one SKU for a customer, naming a campaign.
func (s *story) buy(customer commerce.CustomerID, sku commerce.SKUID, ext commerce.Extension) (*commerce.Order, error) {
	return s.engine.Commerce.Checkout(s.ctx, commerce.CheckoutParams{MerchantID: s.m, CustomerID: customer, IdempotencyKey: s.key(),
		Lines:           []commerce.LineItem{{SKU: sku, Quantity: 1}},
		ShippingAddress: &commerce.Address{Name: string(customer), Phone: "13800000000", City: "杭州", Detail: "龙井路 1 号"},
		Extensions:      commerce.With(ext)})
}

// pay has the customer pay the order through the channel, whose signed
// notification marks it paid.
func (s *story) pay(o *commerce.Order) error {
	p, _, err := s.engine.Payments.Pay(s.ctx, payment.PayParams{MerchantID: s.m, OrderID: o.ID, Payer: "openid-" + string(o.CustomerID)})
	if err != nil {
		return err
	}
	req, err := s.channel.Pay(p.PaymentNo)
	if err != nil {
		return err
	}
	_, err = s.engine.Payments.HandleNotification(s.ctx, s.channel.Name(), req)
	return err
}

func (s *story) order(id commerce.OrderID) (*commerce.Order, error) {
	return s.engine.Commerce.GetOrder(s.ctx, s.m, id)
}

func (s *story) stock(p *commerce.Product) int64 {
	prod, err := s.engine.Commerce.GetProduct(s.ctx, s.m, p.ID)
	if err != nil {
		return -1
	}
	return prod.SKUs[0].Stock
}

func run(ctx context.Context, out io.Writer, path string) error {
	store, err := sqlstore.Open(ctx, path, sqlstore.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	clock := commercetest.NewClock(time.Date(2026, 11, 11, 2, 0, 0, 0, time.UTC)) // 10:00 in Beijing
	channel := fakepay.New(fakepay.WithClock(clock.Now))
	engine, err := minishop.New(store, minishop.WithClock(clock), minishop.WithPayments(channel),
		minishop.WithCampaigns(func(c *campaigns.Config) { c.Secret = []byte("keep this secret across restarts") }))
	if err != nil {
		return err
	}
	s := &story{ctx: ctx, out: out, engine: engine, channel: channel, clock: clock}
	s.printf("💾 SQLite store at %s\n\n", path)

	m, err := engine.Commerce.CreateMerchant(ctx, commerce.MerchantParams{Currency: "CNY", Profile: commerce.ShopProfile{Name: "西湖茶庄"}})
	if err != nil {
		return err
	}
	s.m = m.ID
	product := func(title, category, price string, stock int64) (*commerce.Product, error) {
		return engine.Commerce.CreateProduct(ctx, commerce.ProductParams{MerchantID: m.ID, Title: title, Category: category, State: commerce.Listed,
			SKUs: []commerce.SKUParams{{Price: cny(price), Stock: stock}}})
	}
	tea, err := product("Longjing tea 250g", "food", "100.00", 100)
	if err != nil {
		return err
	}
	phone, err := product("Tea-garden phone", "digital", "999.00", 300)
	if err != nil {
		return err
	}
	teapot, err := product("Yixing teapot", "home", "268.00", 20)
	if err != nil {
		return err
	}

	if err := s.groupForms(tea); err != nil {
		return fmt.Errorf("group buy: %w", err)
	}
	if err := s.groupFails(tea); err != nil {
		return fmt.Errorf("failed group: %w", err)
	}
	if err := s.flashSale(phone); err != nil {
		return fmt.Errorf("flash sale: %w", err)
	}
	if err := s.bargain(teapot); err != nil {
		return fmt.Errorf("bargain: %w", err)
	}

	s.printf("\n📬 outbox\n  ")
	evs, err := engine.Commerce.PollEvents(ctx, "campaigns-demo", 1000)
	if err != nil {
		return err
	}
	seen := map[string]int{}
	var types []string
	for _, ev := range evs {
		for _, prefix := range []string{"group.", "flash.", "bargain."} {
			if len(ev.Type) > len(prefix) && ev.Type[:len(prefix)] == prefix {
				if seen[ev.Type] == 0 {
					types = append(types, ev.Type)
				}
				seen[ev.Type]++
			}
		}
	}
	for _, t := range types {
		s.printf(" %s×%d", t, seen[t])
	}
	s.printf("\n\n✅ done\n")
	return nil
}

// activity: groups of three on the tea at 80.00, the leader at 70.00, 24
// hours to fill from the leader's payment.
func (s *story) activity(tea *commerce.Product) (*campaigns.GroupActivity, error) {
	now := s.clock.Now()
	return s.engine.Campaigns.CreateGroupActivity(s.ctx, campaigns.GroupActivityParams{MerchantID: s.m, Title: "龙井三人团",
		Size: 3, TimeLimit: campaigns.DefaultGroupTimeLimit, Window: campaigns.Window{Start: now, End: now.Add(7 * 24 * time.Hour)},
		Items: []campaigns.GroupItem{{SKU: tea.SKUs[0].ID, GroupPrice: cny("80.00"), LeaderPrice: cny("70.00")}}})
}

// open checks out and pays a leader's order opening a group, and returns
// the order and the group.
func (s *story) open(a *campaigns.GroupActivity, leader commerce.CustomerID, name string) (*commerce.Order, *campaigns.Group, error) {
	o, err := s.buy(leader, a.Items[0].SKU, campaigns.OpenGroup(a.ID, name))
	if err != nil {
		return nil, nil, err
	}
	if err := s.pay(o); err != nil {
		return nil, nil, err
	}
	id, err := commerce.ParseID[campaigns.GroupID](o.Group.ID)
	if err != nil {
		return nil, nil, err
	}
	g, err := s.engine.Campaigns.Group(s.ctx, s.m, id)
	return o, g, err
}

// join has a friend open the share link and pay for a place.
func (s *story) join(token string, friend commerce.CustomerID, name string) (*commerce.Order, error) {
	g, err := s.engine.Campaigns.GroupByToken(s.ctx, s.m, token)
	if err != nil {
		return nil, err
	}
	o, err := s.buy(friend, g.SKU, campaigns.JoinGroup(g.ID, name))
	if err != nil {
		return nil, err
	}
	return o, s.pay(o)
}

// groupForms: 小王 opens a group of three; two friends join through its
// share link and pay; the last payment forms it.
func (s *story) groupForms(tea *commerce.Product) error {
	a, err := s.activity(tea)
	if err != nil {
		return err
	}
	s.printf("👥 Group buy %q: %s each for 3 (the leader %s, list price %s), %s to fill\n", a.Title,
		yuan(a.Items[0].GroupPrice), yuan(a.Items[0].LeaderPrice), yuan(tea.SKUs[0].Price), hours(a.TimeLimit))
	lead, g, err := s.open(a, "wang", "小王")
	if err != nil {
		return err
	}
	got, err := s.order(lead.ID)
	if err != nil {
		return err
	}
	token := s.engine.Campaigns.GroupToken(g)
	s.printf("   小王 opens a group and pays %s: order %s; shares token %s… into the family chat\n", yuan(lead.Total), got.Status, token[:12])
	orders := []*commerce.Order{lead}
	statuses := func() (string, error) {
		line := ""
		for _, o := range orders {
			got, err := s.order(o.ID)
			if err != nil {
				return "", err
			}
			line += fmt.Sprintf(" %s %s", got.CustomerID, got.Status)
		}
		return line, nil
	}
	for i, f := range []struct {
		who  commerce.CustomerID
		name string
	}{{"li", "小李"}, {"zhao", "小赵"}} {
		if i == 1 {
			line, err := statuses()
			if err != nil {
				return err
			}
			s.printf("   waiting for the last place, the paid orders are not shippable:%s\n", line)
		}
		page, err := s.engine.Campaigns.GroupPage(s.ctx, s.m, g.ID)
		if err != nil {
			return err
		}
		o, err := s.join(token, f.who, f.name)
		if err != nil {
			return err
		}
		orders = append(orders, o)
		s.printf("   %s opens the link (%d of %d places left, %s to go) and pays %s\n", f.name, page.PlacesLeft, page.Size,
			hours(page.TimeLeft), yuan(o.Total))
	}
	g, err = s.engine.Campaigns.Group(s.ctx, s.m, g.ID)
	if err != nil {
		return err
	}
	line, err := statuses()
	if err != nil {
		return err
	}
	s.printf("   the last payment forms the group: group %s with %d members, orders move on to shipping:%s", g.State, len(g.Members), line)
	s.printf("; tea stock %d\n", s.stock(tea))
	if _, err := s.join(token, "sun", "小孙"); err != nil {
		s.printf("   小孙 is too late: %v\n", err)
	}
	return nil
}

// groupFails: a group that never fills fails at its deadline; every paid
// member is refunded in full through the channel, once.
func (s *story) groupFails(tea *commerce.Product) error {
	a, err := s.activity(tea)
	if err != nil {
		return err
	}
	before := s.stock(tea)
	lead, g, err := s.open(a, "qian", "小钱")
	if err != nil {
		return err
	}
	m, err := s.join(s.engine.Campaigns.GroupToken(g), "zhou", "小周")
	if err != nil {
		return err
	}
	s.printf("\n⏳ 小钱 opens another group (%s) and 小周 joins (%s); nobody else comes; tea stock %d\n",
		yuan(lead.Total), yuan(m.Total), s.stock(tea))
	calls := s.channel.Calls("Refund")
	s.clock.Advance(campaigns.DefaultGroupTimeLimit)
	for i := range 2 { // a second run, as a scheduler would make, finds nothing left to do
		rep, err := s.engine.RunDue(s.ctx)
		if err != nil {
			return err
		}
		s.printf("   RunDue %d at the deadline: %s\n", i+1, rep)
	}
	g, err = s.engine.Campaigns.Group(s.ctx, s.m, g.ID)
	if err != nil {
		return err
	}
	s.printf("   group %s:", g.State)
	for i, o := range []*commerce.Order{lead, m} {
		got, err := s.order(o.ID)
		if err != nil {
			return err
		}
		pays, err := s.engine.Payments.OrderPayments(s.ctx, s.m, o.ID)
		if err != nil {
			return err
		}
		if len(pays) == 0 {
			return fmt.Errorf("order %s has no payment", o.ID)
		}
		sep := ";"
		if i == 1 {
			sep = "\n"
		}
		s.printf(" %s %s, paid %s, %d refund of %s (channel: %s back)%s", got.CustomerID, got.Status, yuan(got.Paid),
			len(got.Refunds), yuan(got.Refunded()), yuan(pays[0].RefundedAmount()), sep)
	}
	s.printf("   %d refund calls to %s; tea stock back to %d (%d before the group)\n", s.channel.Calls("Refund")-calls, s.channel.Name(), s.stock(tea), before)
	return nil
}

// flashSale: five phones at 499.00 for an hour, one per customer, spread
// over four pool rows; forty buyers arrive at once.
func (s *story) flashSale(phone *commerce.Product) error {
	cs := s.engine.Campaigns
	now := s.clock.Now()
	sku := phone.SKUs[0].ID
	sale, err := cs.CreateFlashSale(s.ctx, campaigns.FlashSaleParams{MerchantID: s.m, Title: "10点秒杀",
		Window: campaigns.Window{Start: now, End: now.Add(time.Hour)}, Shards: 4,
		Items: []campaigns.FlashItem{{SKU: sku, Price: cny("499.00"), Units: 5, PerCustomer: 1}}})
	if err != nil {
		return err
	}
	s.printf("\n⚡ Flash sale %q: 5 phones at %s (list %s), 1 per customer, %d pool rows; phone stock %d\n",
		sale.Title, yuan(sale.Items[0].Price), yuan(phone.SKUs[0].Price), sale.Shards, s.stock(phone))

	// The first buyer tries for a second phone.
	first, err := s.buy("buyer-00", sku, campaigns.Flash(sale.ID))
	if err != nil {
		return err
	}
	if _, err := s.buy("buyer-00", sku, campaigns.Flash(sale.ID)); errors.Is(err, campaigns.ErrLimit) {
		s.printf("   buyer-00 gets one at %s; a second is refused: %v\n", yuan(first.Total), err)
	} else {
		return fmt.Errorf("a second phone for buyer-00: %v", err)
	}

	const rush = 40
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		sold    = []*commerce.Order{first}
		soldOut int
		errs    []error
	)
	for i := 1; i <= rush; i++ {
		wg.Go(func() {
			o, err := s.buy(commerce.CustomerID(fmt.Sprintf("buyer-%02d", i)), sku, campaigns.Flash(sale.ID))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				sold = append(sold, o)
			case errors.Is(err, campaigns.ErrSoldOut):
				soldOut++
			default:
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	left, err := cs.Left(s.ctx, s.m, sale.ID, sku)
	if err != nil {
		return err
	}
	s.printf("   %d more buyers at once: sold exactly %d of 5, %d told sold out, %d left in the pool; phone stock still %d\n",
		rush, len(sold), soldOut, left, s.stock(phone))

	// Three pay; two let the sale's five-minute payment time run out.
	for _, o := range sold[:3] {
		if err := s.pay(o); err != nil {
			return err
		}
	}
	s.clock.Advance(campaigns.DefaultFlashPaymentTimeout + time.Second)
	rep, err := s.engine.RunDue(s.ctx)
	if err != nil {
		return err
	}
	if left, err = cs.Left(s.ctx, s.m, sale.ID, sku); err != nil {
		return err
	}
	s.printf("   3 pay; the other 2 wait past the sale's %g-minute payment time: RunDue %s; %d back in the pool\n",
		campaigns.DefaultFlashPaymentTimeout.Minutes(), rep, left)
	s.clock.Set(sale.Window.End)
	if rep, err = s.engine.RunDue(s.ctx); err != nil {
		return err
	}
	if sale, err = cs.FlashSale(s.ctx, s.m, sale.ID); err != nil {
		return err
	}
	s.printf("   at the close, RunDue %s: %d unsold back to stock, phone stock %d (300 less the 3 paid)\n",
		rep, sale.Returned[sku.String()], s.stock(phone))
	return nil
}

// bargain: 小李 bargains the teapot from 268.00 down to 68.00 with five
// friends' helps, then buys it at 68.00.
func (s *story) bargain(teapot *commerce.Product) error {
	cs := s.engine.Campaigns
	now := s.clock.Now()
	const helpers = 5
	a, err := cs.CreateBargainActivity(s.ctx, campaigns.BargainActivityParams{MerchantID: s.m, Title: "紫砂壶砍到68",
		SKU: teapot.SKUs[0].ID, Target: cny("68.00"), Helpers: helpers, TimeLimit: 24 * time.Hour,
		Window: campaigns.Window{Start: now, End: now.Add(7 * 24 * time.Hour)}, OneHelpPerActivity: true})
	if err != nil {
		return err
	}
	b, err := cs.StartBargain(s.ctx, s.m, a.ID, "li")
	if err != nil {
		return err
	}
	// The cuts are known in advance: campaigns.Cut is deterministic.
	start, _ := b.Start.Minor()
	target, _ := b.Target.Minor()
	var plan []string
	for k, rem := 0, start-target; k < helpers; k++ {
		c := campaigns.Cut(rem, helpers-k)
		rem -= c
		plan = append(plan, yuan(commerce.FromMinor(c, b.Start.Currency())))
	}
	s.printf("\n🔪 Bargain %q: 小李 starts at %s, target %s in %d helps; campaigns.Cut plans %v\n", a.Title,
		yuan(b.Start), yuan(b.Target), helpers, plan)
	if _, err := s.buy("li", b.SKU, campaigns.Buy(b.ID)); errors.Is(err, campaigns.ErrBargainClosed) {
		s.printf("   buying before the target is refused: %v\n", err)
	} else {
		return fmt.Errorf("buying before the target: %v", err)
	}
	token := cs.BargainToken(b)
	for i, friend := range []commerce.CustomerID{"f1", "f2", "f3", "f4", "f5"} {
		if b, err = cs.Help(s.ctx, s.m, token, friend); err != nil {
			return err
		}
		s.printf("   friend %s cuts %s → %s\n", friend, yuan(b.Helps[i].Cut), yuan(b.Price))
		if i == 0 {
			if _, err := cs.Help(s.ctx, s.m, token, friend); errors.Is(err, campaigns.ErrAlreadyHelped) {
				s.printf("   %s taps again: %v\n", friend, err)
			} else {
				return fmt.Errorf("a second help: %v", err)
			}
		}
	}
	s.printf("   bargain %s at %s\n", b.State, yuan(b.Price))
	o, err := s.buy("li", b.SKU, campaigns.Buy(b.ID))
	if err != nil {
		return err
	}
	if err := s.pay(o); err != nil {
		return err
	}
	if b, err = cs.Bargain(s.ctx, s.m, b.ID); err != nil {
		return err
	}
	got, err := s.order(o.ID)
	if err != nil {
		return err
	}
	s.printf("   小李 buys at the target price: pays %s, order %s, bargain %s; teapot stock %d\n", yuan(got.Paid), got.Status, b.State, s.stock(teapot))
	return nil
}
