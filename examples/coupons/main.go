// Command coupons tells the coupon story: a tea shop creates a 满减 batch
// (15 yuan off from 99, valid 7 days after claiming, 2 per person) and an
// item coupon for its cups; customers claim; one hands a coupon to a
// friend; checkout picks the best combination; an unpaid order times out
// and its coupon comes back; a jump of the clock expires the rest.
//
// The clock is a manual one so the story can jump days; everything else is
// the embedded SQLite store and the Engine a host would use.
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
	"github.com/minishop/minishop/coupons"
	"github.com/minishop/minishop/storage/sqlstore"
)

func main() {
	dir, err := os.MkdirTemp("", "minishop-coupons-")
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

func run(ctx context.Context, out io.Writer, path string) error {
	store, err := sqlstore.Open(ctx, path, sqlstore.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	clock := commercetest.NewClock(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	engine, err := minishop.New(store, minishop.WithClock(clock),
		minishop.WithCoupons(func(c *coupons.Config) { c.Secret = []byte("keep this secret across restarts") }))
	if err != nil {
		return err
	}
	shop, cp := engine.Commerce, engine.Coupons
	fmt.Fprintf(out, "💾 SQLite store at %s\n\n", path)

	m, err := shop.CreateMerchant(ctx, commerce.MerchantParams{Currency: "CNY", Profile: commerce.ShopProfile{Name: "龙井茶坊"},
		Shipping: commerce.ShippingRule{Flat: cny("8"), FreeOver: cny("199")}})
	if err != nil {
		return err
	}
	tea, err := shop.CreateProduct(ctx, commerce.ProductParams{MerchantID: m.ID, Title: "Longjing tea 100 g", State: commerce.Listed,
		SKUs: []commerce.SKUParams{{Price: cny("68.00"), Stock: 50}}})
	if err != nil {
		return err
	}
	cup, err := shop.CreateProduct(ctx, commerce.ProductParams{MerchantID: m.ID, Title: "Celadon cup", State: commerce.Listed,
		SKUs: []commerce.SKUParams{{Price: cny("38.00"), Stock: 50}}})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "🏪 %s sells %s (%s) and %s (%s)\n", m.Profile.Name, tea.Title, yuan(tea.SKUs[0].Price), cup.Title, yuan(cup.SKUs[0].Price))

	off15, err := cp.CreateBatch(ctx, coupons.BatchParams{MerchantID: m.ID, Name: "满99减15", Kind: coupons.ThresholdOff,
		Amount: cny("15"), MinAmount: cny("99"), Validity: coupons.Validity{Days: 7}, PerPerson: 2, Total: 100,
		Transferable: true, Activate: true})
	if err != nil {
		return err
	}
	cupOff, err := cp.CreateBatch(ctx, coupons.BatchParams{MerchantID: m.ID, Name: "茶杯立减8", Kind: coupons.AmountOff,
		Amount: cny("8"), Scope: coupons.Scope{Products: []commerce.ProductID{cup.ID}}, Validity: coupons.Validity{Days: 3},
		PerPerson: 1, Total: 100, Activate: true})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "🎟️  batches: %q (valid 7 days after claiming, 2 per person) and %q (cups only, 3 days)\n\n", off15.Name, cupOff.Name)

	claim := func(b *coupons.Batch, who, req string) (*coupons.Coupon, error) {
		c, err := cp.Claim(ctx, coupons.ClaimParams{MerchantID: m.ID, BatchID: b.ID, Customer: commerce.CustomerID(who), RequestID: req})
		if err != nil {
			fmt.Fprintf(out, "   %s claims %s: refused (%v)\n", who, b.Name, err)
			return nil, err
		}
		fmt.Fprintf(out, "   %s claims %s, valid until %s\n", who, b.Name, c.ValidUntil.Format("Jan 2 15:04"))
		return c, nil
	}
	fmt.Fprintln(out, "🙋 Claims")
	a1, err := claim(off15, "alice", "a-1")
	if err != nil {
		return err
	}
	if _, err := claim(off15, "alice", "a-2"); err != nil {
		return err
	}
	_, _ = claim(off15, "alice", "a-3") // the third is over the limit
	if _, err := claim(cupOff, "alice", "a-4"); err != nil {
		return err
	}

	// Alice hands one of hers to Bob.
	tok, err := cp.TransferToken(ctx, m.ID, a1.ID, "alice")
	if err != nil {
		return err
	}
	clock.Advance(time.Hour)
	b1, err := cp.AcceptTransfer(ctx, tok, "bob", "gift-1")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n🎁 Alice hands a %s to Bob; his coupon keeps her expiry (%s)\n", off15.Name, b1.ValidUntil.Format("Jan 2 15:04"))

	// Alice buys tea and a cup: checkout picks the best combination.
	lines := []commerce.LineItem{{SKU: tea.SKUs[0].ID, Quantity: 1}, {SKU: cup.SKUs[0].ID, Quantity: 1}}
	q, err := shop.Quote(ctx, commerce.QuoteParams{MerchantID: m.ID, CustomerID: "alice", Lines: lines, Extensions: commerce.With(coupons.NoCoupon())})
	if err != nil {
		return err
	}
	offers, left, err := cp.ForCart(ctx, q)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n🛒 Alice's cart: %s + delivery %s\n", yuan(q.Subtotal), yuan(q.Shipping))
	for _, o := range offers {
		fmt.Fprintf(out, "   usable alone: %-10s takes %s\n", o.Batch.Name, yuan(commerce.FromMinor(o.Amount, currency.CNY)))
	}
	for _, u := range left {
		fmt.Fprintf(out, "   not usable:   %-10s %s\n", u.Batch.Name, u.Reason)
	}
	order, err := shop.Checkout(ctx, commerce.CheckoutParams{MerchantID: m.ID, CustomerID: "alice", Lines: lines,
		IdempotencyKey: "alice-1", ShippingAddress: commercetest.Address()})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "📦 checkout picks the best combination:\n")
	for k, a := range order.Adjustments {
		fmt.Fprintf(out, "   %-10s %s", a.Label, yuan(a.Amount.Neg()))
		for _, l := range order.Lines {
			if a.Target == commerce.TargetItems && !l.Adjustments[k].IsZero() {
				fmt.Fprintf(out, "  [%s %s]", l.Title, yuan(l.Adjustments[k].Neg()))
			}
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintf(out, "   to pay %s (waiting for payment)\n", yuan(order.Total))

	// She never pays: the order times out and both coupons come back.
	clock.Advance(31 * time.Minute)
	if _, err := engine.RunDue(ctx); err != nil {
		return err
	}
	order, err = shop.GetOrder(ctx, m.ID, order.ID)
	if err != nil {
		return err
	}
	wallet, err := cp.Wallet(ctx, "alice", coupons.Valid)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n⏰ unpaid for 30 minutes: order %s, its coupon released; Alice holds %d valid coupons again\n", order.Status, len(wallet))

	// A week later the rest expire.
	clock.Advance(8 * 24 * time.Hour)
	if _, err := engine.RunDue(ctx); err != nil {
		return err
	}
	for _, who := range []commerce.CustomerID{"alice", "bob"} {
		all, err := cp.Wallet(ctx, who, "")
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "📅 8 days on, %s's wallet:", who)
		for _, c := range all {
			fmt.Fprintf(out, " %s", c.Status)
		}
		fmt.Fprintln(out)
	}

	fmt.Fprintln(out, "\n📬 outbox")
	evs, err := shop.PollEvents(ctx, "coupons-demo", 1000)
	if err != nil {
		return err
	}
	counts := map[string]int{}
	var seen []string
	for _, ev := range evs {
		if counts[ev.Type] == 0 {
			seen = append(seen, ev.Type)
		}
		counts[ev.Type]++
	}
	for _, t := range seen {
		fmt.Fprintf(out, "   %-18s ×%d\n", t, counts[t])
	}
	return nil
}
