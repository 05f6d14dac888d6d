// Command gifting tells the gift story: a giver sends a scarf to a friend,
// who opens it (no price shown), switches to another colour and accepts
// with an address; another gift is never accepted and is refunded in full
// through the payment channel after a jump of the clock; a group gift of
// five is claimed by three relatives and the two slots nobody took come
// back to the giver to the fen; a lottery draws two winners out of six and
// prints the seed that proves the draw.
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
	"github.com/minishop/minishop/gifting"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/fakepay"
	"github.com/minishop/minishop/storage/sqlstore"
)

func main() {
	dir, err := os.MkdirTemp("", "minishop-gifting-")
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

func colour(as []commerce.Attribute) string {
	for _, a := range as {
		if a.Name == "colour" {
			return a.Value
		}
	}
	return "?"
}

func run(ctx context.Context, out io.Writer, path string) error {
	store, err := sqlstore.Open(ctx, path, sqlstore.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	clock := commercetest.NewClock(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	channel := fakepay.New(fakepay.WithClock(clock.Now))
	// The shop's own promotion: ¥8.88 off any group gift of five or more
	// (so the slots' shares are uneven and the fen matter).
	lucky := commerce.AdjusterFunc(func(ctx context.Context, q *commerce.Quote) ([]commerce.Adjustment, error) {
		if !q.Gift || len(q.Lines) != 1 || q.Lines[0].Quantity < 5 {
			return nil, nil
		}
		off := cny("8.88")
		return []commerce.Adjustment{{Kind: commerce.KindDiscount, Target: commerce.TargetItems, Source: "shop",
			Label: "group gift ¥8.88 off", Amount: off, Split: []commerce.Money{off}}}, nil
	})
	engine, err := minishop.New(store, minishop.WithClock(clock), minishop.WithPayments(channel),
		minishop.WithCommerce(func(c *commerce.Config) { c.Adjusters = append(c.Adjusters, lucky) }),
		minishop.WithGifting(func(c *gifting.Config) { c.Secret = []byte("keep this secret across restarts") }))
	if err != nil {
		return err
	}
	shop, gifts := engine.Commerce, engine.Gifting
	fmt.Fprintf(out, "💾 SQLite store at %s\n\n", path)

	m, err := shop.CreateMerchant(ctx, commerce.MerchantParams{Currency: "CNY", Profile: commerce.ShopProfile{Name: "太湖丝绸"}})
	if err != nil {
		return err
	}
	scarf, err := shop.CreateProduct(ctx, commerce.ProductParams{MerchantID: m.ID, Title: "Silk scarf", Category: "apparel", State: commerce.Listed,
		SKUs: []commerce.SKUParams{
			{Attributes: []commerce.Attribute{{Name: "colour", Value: "champagne"}}, Price: cny("199.00"), Stock: 10},
			{Attributes: []commerce.Attribute{{Name: "colour", Value: "indigo"}}, Price: cny("199.00"), Stock: 10},
		}})
	if err != nil {
		return err
	}
	pay := func(o *commerce.Order) error {
		p, _, err := engine.Payments.Pay(ctx, payment.PayParams{MerchantID: m.ID, OrderID: o.ID, Payer: "openid-giver"})
		if err != nil {
			return err
		}
		req, err := channel.Pay(p.PaymentNo)
		if err != nil {
			return err
		}
		_, err = engine.Payments.HandleNotification(ctx, channel.Name(), req)
		return err
	}
	stock := func() string {
		p, _ := shop.GetProduct(ctx, m.ID, scarf.ID)
		return fmt.Sprintf("champagne %d, indigo %d", p.SKUs[0].Stock, p.SKUs[1].Stock)
	}

	// 1. Wang sends a champagne scarf to a friend.
	g, o, err := gifts.Send(ctx, gifting.SendParams{MerchantID: m.ID, Giver: "wang", GiverName: "小王", SKU: scarf.SKUs[0].ID,
		Quantity: 1, Message: "生日快乐！愿你每天都像丝绸一样顺滑。", IdempotencyKey: "gift-1"})
	if err != nil {
		return err
	}
	if err := pay(o); err != nil {
		return err
	}
	token := gifts.Token(g)
	fmt.Fprintf(out, "🎁 小王 pays %s for a champagne scarf; the gift card carries token %s…\n", yuan(o.Total), token[:12])
	fmt.Fprintf(out, "   stock: %s\n", stock())
	sent, err := gifts.GetGift(ctx, m.ID, g.ID) // a plain read: nothing is opened or emitted
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   the gift is %s and waits for its friend until %s\n", sent.Status, sent.ExpiresAt.Format("01-02 15:04"))

	v, err := gifts.Open(ctx, m.ID, token)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n📬 The friend opens it: %q in %s from %s — %q (no price shown)\n", v.Title, colour(v.Attributes), v.GiverName, v.Message)
	for _, opt := range v.Options {
		fmt.Fprintf(out, "   may switch to: %s\n", colour(opt.Attributes))
	}
	if err := gifts.SwitchSKU(ctx, m.ID, token, v.Options[0].SKU); err != nil {
		return err
	}
	fmt.Fprintf(out, "   switches to indigo; stock: %s\n", stock())
	if _, err := gifts.Accept(ctx, m.ID, token, "li", commerce.Address{Name: "李雷", Phone: "13800000000", City: "杭州", Detail: "西湖路 1 号"}); err != nil {
		return err
	}
	order, err := shop.GetOrder(ctx, m.ID, o.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   accepts with an address in %s: order %s, ships %s to %s\n", order.ShippingAddress.City, order.Status,
		colour(order.Lines[0].Attributes), order.ShippingAddress.Name)

	// 2. Another gift nobody accepts.
	g2, o2, err := gifts.Send(ctx, gifting.SendParams{MerchantID: m.ID, Giver: "wang", GiverName: "小王", SKU: scarf.SKUs[0].ID,
		Quantity: 1, Message: "新年快乐", IdempotencyKey: "gift-2"})
	if err != nil {
		return err
	}
	if err := pay(o2); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n🎁 小王 sends another scarf (%s); stock: %s\n", yuan(o2.Total), stock())
	clock.Advance(24*time.Hour + time.Second)
	if _, err := gifts.Accept(ctx, m.ID, gifts.Token(g2), "zhang", commerce.Address{Name: "张三", Phone: "13900000000", Detail: "1 Road"}); err != nil {
		fmt.Fprintf(out, "⏰ a day and a second later, 张三 tries to accept: %v\n", err)
	}
	if _, err := engine.RunDue(ctx); err != nil {
		return err
	}
	order2, err := shop.GetOrder(ctx, m.ID, o2.ID)
	if err != nil {
		return err
	}
	pays, err := engine.Payments.OrderPayments(ctx, m.ID, o2.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   RunDue: gift expired, order %s, %s back to 小王's payment through %s; stock: %s\n",
		order2.Status, yuan(pays[0].RefundedAmount()), pays[0].Provider, stock())

	if err := groupGift(ctx, out, engine, m.ID, scarf, pay, stock, clock); err != nil {
		return err
	}
	if err := lottery(ctx, out, engine, m.ID, scarf, pay, clock); err != nil {
		return err
	}

	fmt.Fprintln(out, "\n📬 outbox")
	evs, err := shop.PollEvents(ctx, "gifting-demo", 1000)
	if err != nil {
		return err
	}
	for _, ev := range evs {
		if len(ev.Type) > 5 && ev.Type[:5] == "gift." {
			fmt.Fprintf(out, "   #%d %s\n", ev.Seq, ev.Type)
		}
	}
	return nil
}

// groupGift: five scarves for the family chat; three relatives claim.
func groupGift(ctx context.Context, out io.Writer, engine *minishop.Engine, m commerce.MerchantID, scarf *commerce.Product,
	pay func(*commerce.Order) error, stock func() string, clock *commercetest.Clock) error {
	gifts := engine.Gifting
	g, o, err := gifts.Send(ctx, gifting.SendParams{MerchantID: m, Kind: gifting.Group, Group: "王家群", Giver: "wang", GiverName: "小王",
		SKU: scarf.SKUs[0].ID, Quantity: 5, Message: "新春快乐，每人一条", IdempotencyKey: "group-1"})
	if err != nil {
		return err
	}
	if err := pay(o); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n🧧 小王 sends 5 scarves to the family group for %s (¥8.88 off); each slot carries its share:\n   ", yuan(o.Total))
	for _, l := range o.Lines {
		fmt.Fprintf(out, "%s ", yuan(l.Payable))
	}
	fmt.Fprintf(out, "\n   stock: %s\n", stock())
	token := gifts.Token(g)
	for _, c := range []struct {
		who, name string
		sku       commerce.SKUID
	}{{"aunt", "王阿姨", commerce.SKUID{}}, {"cousin", "王小妹", scarf.SKUs[1].ID}, {"uncle", "王叔叔", commerce.SKUID{}}} {
		slot, err := gifts.Claim(ctx, gifting.ClaimParams{MerchantID: m, Token: token, Claimer: commerce.CustomerID(c.who),
			Address: commerce.Address{Name: c.name, Phone: "13700000000", City: "苏州", Detail: "平江路 8 号"}, SKU: c.sku})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "   %s claims slot %d\n", c.name, slot.Line)
	}
	if _, err := gifts.Claim(ctx, gifting.ClaimParams{MerchantID: m, Token: token, Claimer: "aunt",
		Address: commerce.Address{Name: "王阿姨", Phone: "13700000000", Detail: "平江路 8 号"}}); err != nil {
		fmt.Fprintf(out, "   王阿姨 taps again: %v\n", err)
	}
	clock.Advance(24*time.Hour + time.Second)
	if _, err := engine.RunDue(ctx); err != nil {
		return err
	}
	order, err := engine.Commerce.GetOrder(ctx, m, o.ID)
	if err != nil {
		return err
	}
	claimed := commerce.Zero(order.Currency)
	for i, l := range order.Lines {
		if order.Gift.Claims[i].Recipient != "" {
			claimed, _ = claimed.Add(l.Payable)
		}
	}
	back, _ := claimed.Add(order.Refunded())
	fmt.Fprintf(out, "   a day later: order %s; claimed %s + refunded %s = %s paid; stock: %s\n",
		order.Status, yuan(claimed), yuan(order.Refunded()), yuan(back), stock())
	return nil
}

// lottery: two scarves drawn among six entrants, provably.
func lottery(ctx context.Context, out io.Writer, engine *minishop.Engine, m commerce.MerchantID, scarf *commerce.Product,
	pay func(*commerce.Order) error, clock *commercetest.Clock) error {
	gifts := engine.Gifting
	g, o, err := gifts.Send(ctx, gifting.SendParams{MerchantID: m, Kind: gifting.Lottery, Group: "同学群", Giver: "wang", GiverName: "小王",
		SKU: scarf.SKUs[1].ID, Quantity: 2, Message: "抽两位同学", IdempotencyKey: "lottery-1",
		Lottery: &gifting.LotteryParams{DrawAt: clock.Now().Add(2 * time.Hour)}})
	if err != nil {
		return err
	}
	if err := pay(o); err != nil {
		return err
	}
	token := gifts.Token(g)
	v, err := gifts.Open(ctx, m, token)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n🎰 小王 starts a lottery of 2 scarves in the class group; published seed hash %s…\n", v.Lottery.SeedHash[:16])
	for _, who := range []string{"赵", "钱", "孙", "李", "周", "吴"} {
		if err := gifts.Enter(ctx, m, token, commerce.CustomerID(who)); err != nil {
			return err
		}
	}
	clock.Advance(2 * time.Hour)
	if _, err := engine.RunDue(ctx); err != nil {
		return err
	}
	drawn, err := engine.Gifting.Open(ctx, m, token)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   6 entered; drawn at the set time: winners %v\n   seed %s\n", drawn.Lottery.Winners, drawn.Lottery.Seed)
	if err := gifting.VerifyDraw(drawn.Lottery, g.Slots); err != nil {
		return err
	}
	fmt.Fprintln(out, "   anyone can check: sha256(seed) is the published hash, and gifting.Winners(seed, entrants, 2) gives the same winners ✔")
	for _, w := range drawn.Lottery.Winners {
		if _, err := gifts.Claim(ctx, gifting.ClaimParams{MerchantID: m, Token: token, Claimer: w,
			Address: commerce.Address{Name: string(w) + "同学", Phone: "13600000000", Detail: "大学路 1 号"}}); err != nil {
			return err
		}
	}
	order, err := engine.Commerce.GetOrder(ctx, m, o.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   both winners claim: order %s\n", order.Status)
	return nil
}
