// Command giftcards tells the story of stored value in a Mini Store: a
// customer tops up 100.00 under a 充100送20 plan and holds 120.00; she buys
// an e-card of 200.00 and sends it to a friend, who accepts it into his
// wallet and redeems it into his balance; she pays an order of tea partly
// from her balance and the rest through WeChat Pay; a partial refund of
// that order returns to both, each its share, the fen exact; a physical
// card sold over the counter resists guessed secrets; and China's
// prepaid-card limits refuse what they must.
//
// It runs on the embedded default store, a SQLite file in a fresh
// temporary directory (unless -db names one).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/text/currency"
	"golang.org/x/text/language"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/fakepay"
	"github.com/minishop/minishop/storage/sqlstore"
	"github.com/minishop/minishop/storedvalue"
)

func main() {
	dir, err := os.MkdirTemp("", "minishop-giftcards-")
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

type story struct {
	ctx     context.Context
	out     io.Writer
	engine  *minishop.Engine
	channel *fakepay.Provider
	clock   *commercetest.Clock
	m       commerce.MerchantID
	keys    int
}

func (s *story) printf(format string, args ...any) { fmt.Fprintf(s.out, format, args...) }

func (s *story) buy(customer commerce.CustomerID, sku commerce.SKUID, qty int64, exts ...commerce.Extension) (*commerce.Order, error) {
	s.keys++
	return s.engine.Commerce.Checkout(s.ctx, commerce.CheckoutParams{MerchantID: s.m, CustomerID: customer, IdempotencyKey: fmt.Sprintf("checkout-%d", s.keys),
		Lines:           []commerce.LineItem{{SKU: sku, Quantity: qty}},
		ShippingAddress: &commerce.Address{Name: string(customer), Phone: "13800000000", City: "杭州", Detail: "龙井路 1 号"},
		Extensions:      commerce.With(exts...)})
}

// pay has the customer pay the order's channel part (Due) through WeChat
// Pay (fakepay here), whose signed notification marks it paid.
func (s *story) pay(o *commerce.Order) (*payment.Payment, error) {
	p, _, err := s.engine.Payments.Pay(s.ctx, payment.PayParams{MerchantID: s.m, OrderID: o.ID, Payer: "openid-" + string(o.CustomerID)})
	if err != nil {
		return nil, err
	}
	req, err := s.channel.Pay(p.PaymentNo)
	if err != nil {
		return nil, err
	}
	_, err = s.engine.Payments.HandleNotification(s.ctx, s.channel.Name(), req)
	return p, err
}

func (s *story) balance(who commerce.CustomerID) string {
	a, err := s.engine.StoredValue.Account(s.ctx, s.m, who)
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%s (principal %s + bonus %s)", yuan(a.Balance()), yuan(a.Principal), yuan(a.Bonus))
}

func run(ctx context.Context, out io.Writer, path string) error {
	store, err := sqlstore.Open(ctx, path, sqlstore.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	clock := commercetest.NewClock(time.Date(2026, 12, 12, 2, 0, 0, 0, time.UTC))
	channel := fakepay.New(fakepay.WithClock(clock.Now))
	engine, err := minishop.New(store, minishop.WithClock(clock), minishop.WithPayments(channel),
		minishop.WithStoredValue(func(c *storedvalue.Config) { c.Secret = []byte("keep this secret across restarts") }))
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
	product := func(title, category, price string) (*commerce.Product, error) {
		return engine.Commerce.CreateProduct(ctx, commerce.ProductParams{MerchantID: m.ID, Title: title, Category: category, State: commerce.Listed,
			SKUs: []commerce.SKUParams{{Price: cny(price), Stock: 1000}}})
	}
	topUp, err := product("储值 100", storedvalue.Category, "100.00")
	if err != nil {
		return err
	}
	eCard, err := product("礼品卡 200", storedvalue.CardCategory, "200.00")
	if err != nil {
		return err
	}
	tea, err := product("Longjing tea 250g", "food", "60.00")
	if err != nil {
		return err
	}
	sv := engine.StoredValue

	// 1. A top-up with a bonus.
	if err := sv.SetTopUpPlan(ctx, storedvalue.TopUpPlan{MerchantID: m.ID, SKU: topUp.SKUs[0].ID, Bonus: cny("20.00")}); err != nil {
		return err
	}
	o, err := s.buy("小美", topUp.SKUs[0].ID, 1)
	if err != nil {
		return err
	}
	if _, err := s.pay(o); err != nil {
		return err
	}
	s.printf("1. 小美 tops up %s under 充100送20 through WeChat Pay: balance %s\n", yuan(o.Total), s.balance("小美"))

	// 2. An e-card sent to a friend, accepted and redeemed.
	if _, err := sv.CreateCardBatch(ctx, storedvalue.CardBatchParams{MerchantID: m.ID, Title: "礼品卡", Kind: storedvalue.CardElectronic,
		Face: cny("200.00"), SKU: eCard.SKUs[0].ID}); err != nil {
		return err
	}
	co, err := s.buy("小美", eCard.SKUs[0].ID, 1)
	if err != nil {
		return err
	}
	if _, err := s.pay(co); err != nil {
		return err
	}
	cards, err := sv.OrderCards(ctx, m.ID, co.ID)
	if err != nil {
		return err
	}
	card := cards[0]
	s.printf("2. 小美 buys an e-card: %s, %s, held by %s, no expiry (a registered card)\n", card.Number, yuan(card.Balance), card.Holder)
	token, err := sv.SendCard(ctx, m.ID, "小美", card.Number, "生日快乐!")
	if err != nil {
		return err
	}
	s.printf("   she sends it to 小明 in chat (a signed link, %d characters)\n", len(token))
	got, err := sv.AcceptCard(ctx, m.ID, "小明", token)
	if err != nil {
		return err
	}
	_, again := sv.AcceptCard(ctx, m.ID, "小红", token)
	s.printf("   小明 accepts it: held by %s; the link again: %v\n", got.Holder, again)
	if _, err := sv.RedeemCard(ctx, storedvalue.RedeemParams{MerchantID: m.ID, Customer: "小明", Number: card.Number}); err != nil {
		return err
	}
	s.printf("   小明 redeems it into his balance: %s\n", s.balance("小明"))

	// 3. An order paid with the balance and WeChat Pay.
	o, err = s.buy("小美", tea.SKUs[0].ID, 2, storedvalue.Pay(storedvalue.FromBalance(cny("90.00"))))
	if err != nil {
		return err
	}
	p, err := s.pay(o)
	if err != nil {
		return err
	}
	s.printf("3. 小美 buys tea for %s: %s from her balance, %s through WeChat Pay (payment of %s); balance %s\n",
		yuan(o.Total), yuan(o.Tenders[0].Amount), yuan(o.Due()), yuan(p.Amount), s.balance("小美"))

	// 4. A partial refund returns to both.
	r, err := engine.Commerce.Refund(ctx, commerce.RefundParams{MerchantID: m.ID, OrderID: o.ID, Items: []commerce.RefundItem{{Line: 0, Quantity: 1}},
		Reason: "one tin arrived dented", IdempotencyKey: "refund-1"})
	if err != nil {
		return err
	}
	s.printf("4. one tin back, %s: %s to the balance, %s to WeChat Pay; balance %s\n", yuan(r.Amount), yuan(r.Tenders[0]), yuan(r.Channel()), s.balance("小美"))
	r, err = engine.Commerce.Refund(ctx, commerce.RefundParams{MerchantID: m.ID, OrderID: o.ID, All: true, Reason: "the other too", IdempotencyKey: "refund-2"})
	if err != nil {
		return err
	}
	s.printf("   the other, %s: %s to the balance, %s to WeChat Pay; balance %s, as before the order\n", yuan(r.Amount), yuan(r.Tenders[0]), yuan(r.Channel()), s.balance("小美"))
	pays, err := engine.Payments.OrderPayments(ctx, m.ID, o.ID)
	if err != nil {
		return err
	}
	s.printf("   the order's payments:")
	for _, p := range pays {
		s.printf(" %s %s (refunded %s);", p.Provider, yuan(p.Amount), yuan(p.RefundedAmount()))
	}
	s.printf("\n")
	entries, err := sv.Statement(ctx, m.ID, "小美", 0, 100)
	if err != nil {
		return err
	}
	s.printf("   her statement:")
	for _, e := range entries {
		s.printf(" %s %s/%s;", e.Kind, yuan(e.Principal), yuan(e.Bonus))
	}
	s.printf("\n")

	// 5. A physical card resists guessing.
	batch, err := sv.CreateCardBatch(ctx, storedvalue.CardBatchParams{MerchantID: m.ID, Title: "茶礼卡", Kind: storedvalue.CardPhysical,
		Face: cny("500.00"), Validity: 3 * 365 * 24 * time.Hour})
	if err != nil {
		return err
	}
	printed, err := sv.IssueCards(ctx, m.ID, batch.ID, 1)
	if err != nil {
		return err
	}
	pc := printed[0]
	s.printf("5. a physical card is printed: %s, secret %d digits under the scratch-off\n", pc.Number, len(pc.Secret))
	_, err = sv.RedeemCard(ctx, storedvalue.RedeemParams{MerchantID: m.ID, Customer: "小刚", Number: pc.Number, Secret: pc.Secret})
	s.printf("   redeemed before it is sold: %v\n", err)
	if _, err := sv.ActivateCard(ctx, m.ID, pc.Number); err != nil {
		return err
	}
	wrong := "00000000"
	if wrong == pc.Secret {
		wrong = "11111111"
	}
	for i := range 5 {
		_, err = sv.RedeemCard(ctx, storedvalue.RedeemParams{MerchantID: m.ID, Customer: "小偷", Number: pc.Number, Secret: wrong})
		if i == 4 {
			s.printf("   sold and activated; 5 wrong secrets, the last: %v\n", err)
		}
	}
	_, err = sv.RedeemCard(ctx, storedvalue.RedeemParams{MerchantID: m.ID, Customer: "小刚", Number: pc.Number, Secret: pc.Secret})
	s.printf("   the right one now: %v\n", err)
	clock.Advance(time.Hour)
	if _, err := sv.RedeemCard(ctx, storedvalue.RedeemParams{MerchantID: m.ID, Customer: "小刚", Number: pc.Number, Secret: pc.Secret}); err != nil {
		return err
	}
	s.printf("   an hour later 小刚 redeems it: balance %s\n", s.balance("小刚"))

	// 6. The prepaid-card rules.
	_, err = sv.CreateCardBatch(ctx, storedvalue.CardBatchParams{MerchantID: m.ID, Title: "大额卡", Kind: storedvalue.CardPhysical, Face: cny("2000.00")})
	s.printf("6. an anonymous card of ¥2,000.00: %v\n", err)
	_, err = s.buy("小美", topUp.SKUs[0].ID, 50)
	s.printf("   50 top-ups more (¥5,000.00 and ¥1,000.00 of bonus) on her balance: %v\n", err)
	return nil
}
