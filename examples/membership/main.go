// Command membership tells the membership story: a customer joins a tea
// shop's program, buys at the member price, earns points that stay pending
// until the after-sales window closes, pays part of a later order with
// points, gets half of it refunded and sees the points return to their
// original lots, reaches a new tier, and watches a lot expire after a jump
// of the clock.
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
	"github.com/minishop/minishop/membership"
	"github.com/minishop/minishop/storage/sqlstore"
)

func main() {
	dir, err := os.MkdirTemp("", "minishop-membership-")
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
	engine, err := minishop.New(store, minishop.WithClock(clock))
	if err != nil {
		return err
	}
	shop, ms := engine.Commerce, engine.Membership
	fmt.Fprintf(out, "💾 SQLite store at %s\n\n", path)

	m, err := shop.CreateMerchant(ctx, commerce.MerchantParams{Currency: "CNY", Profile: commerce.ShopProfile{Name: "龙井茶坊"},
		Shipping: commerce.ShippingRule{Flat: cny("8"), FreeOver: cny("99")}})
	if err != nil {
		return err
	}
	tea, err := shop.CreateProduct(ctx, commerce.ProductParams{MerchantID: m.ID, Title: "Longjing tea", State: commerce.Listed,
		SKUs: []commerce.SKUParams{{Price: cny("120.00"), Stock: 100}}})
	if err != nil {
		return err
	}
	cup, err := shop.CreateProduct(ctx, commerce.ProductParams{MerchantID: m.ID, Title: "Celadon cup", State: commerce.Listed,
		SKUs: []commerce.SKUParams{{Price: cny("40.00"), Stock: 100}}})
	if err != nil {
		return err
	}
	_, err = ms.SetProgram(ctx, membership.Program{MerchantID: m.ID,
		Tiers:        []membership.Tier{{Level: 1, Name: "Leaf"}, {Level: 2, Name: "Jade", MinExperience: 300, Discount: commerce.MustPercent(5)}},
		MemberPrices: []membership.MemberPrice{{SKU: tea.SKUs[0].ID, Level: 1, Price: cny("108.00")}},
		Experience:   membership.PointsPer{Points: 1, Per: cny("1.00")}, // a point of experience per yuan paid
		Earn:         membership.PointsPer{Points: 1, Per: cny("0.01")}, // a point per fen paid
		Redeem:       membership.PointsPer{Points: 1, Per: cny("0.01")}, // a point pays a fen
		MaxShare:     commerce.MustPercent(30),                          // of an order, at most
		Expiry:       membership.Expiry{Kind: membership.AfterDays, Days: 90}, ExpiredLotDays: 30})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "🏪 %s: tea %s (members %s), cup %s\n", m.Profile.Name, yuan(tea.SKUs[0].Price), yuan(cny("108.00")), yuan(cup.SKUs[0].Price))
	fmt.Fprintln(out, "   program: 100 points per yuan paid, pending until settled, 100 points pay ¥1, up to 30 % of an order;")
	fmt.Fprintln(out, "            Jade tier from 300 experience: 5 % off; points last 90 days")

	const alice = commerce.CustomerID("alice")
	card, err := ms.Join(ctx, m.ID, alice)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n🪪 Alice joins: member No. %d, tier %d\n", card.Number, card.Level)
	show := func(what string) error {
		c, err := ms.Card(ctx, m.ID, alice)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "   %-44s available %6d, pending %6d, experience %4d, tier %d\n", what, c.Available, c.Pending, c.Experience, c.Level)
		return nil
	}
	settle := func(o *commerce.Order) error {
		if _, err := shop.Ship(ctx, commerce.ShipParams{MerchantID: m.ID, OrderID: o.ID}); err != nil {
			return err
		}
		if _, err := shop.ConfirmReceipt(ctx, m.ID, o.ID); err != nil {
			return err
		}
		clock.Advance(8 * 24 * time.Hour) // the 7-day after-sales window closes
		_, err := engine.RunDue(ctx)
		return err
	}
	buy := func(key string, ext commerce.Extensions, lines ...commerce.LineItem) (*commerce.Order, error) {
		o, err := shop.Checkout(ctx, commerce.CheckoutParams{MerchantID: m.ID, CustomerID: alice, IdempotencyKey: key,
			ShippingAddress: commercetest.Address(), Extensions: ext, Lines: lines})
		if err != nil {
			return nil, err
		}
		return shop.MarkPaid(ctx, commerce.MarkPaidParams{MerchantID: m.ID, OrderID: o.ID, PaymentRef: "pay-" + key, Amount: o.Total})
	}

	o1, err := buy("o1", nil, commerce.LineItem{SKU: tea.SKUs[0].ID, Quantity: 2})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n🛒 2 × tea at the member price: %s (saved %s)\n", yuan(o1.Total), yuan(o1.Discount))
	if err := show("paid: points pending"); err != nil {
		return err
	}
	if err := settle(o1); err != nil {
		return err
	}
	if err := show("received, window closed: points released"); err != nil {
		return err
	}

	// Points pay part of the next order: 5,000 points = ¥50.00.
	o2, err := buy("o2", commerce.With(membership.SpendPoints(5000)), commerce.LineItem{SKU: tea.SKUs[0].ID, Quantity: 1},
		commerce.LineItem{SKU: cup.SKUs[0].ID, Quantity: 2})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n💳 tea + 2 cups, paying %s with points: %s to pay\n", yuan(pointsOff(o2)), yuan(o2.Total))
	if err := show("points spent"); err != nil {
		return err
	}
	if _, err := shop.Refund(ctx, commerce.RefundParams{MerchantID: m.ID, OrderID: o2.ID, IdempotencyKey: "cups",
		Items: []commerce.RefundItem{{Line: 1, Quantity: 2}}}); err != nil {
		return err
	}
	if err := show("the cups refunded: their share of points back"); err != nil {
		return err
	}
	lots, err := store.MemberLots(ctx, m.ID, alice, true)
	if err != nil {
		return err
	}
	for _, l := range lots {
		fmt.Fprintf(out, "      lot of %d points: %d left, expires %s\n", l.Points, l.Left, l.ExpiresAt.Format(time.DateOnly))
	}
	if err := settle(o2); err != nil {
		return err
	}
	if err := show("settled"); err != nil {
		return err
	}

	clock.Advance(100 * 24 * time.Hour)
	if _, err := engine.RunDue(ctx); err != nil {
		return err
	}
	if err := show("100 days later, the lots expired"); err != nil {
		return err
	}
	fmt.Fprintln(out, "\n📜 statement")
	entries, err := ms.Statement(ctx, m.ID, alice, membership.EntryID{}, 100)
	if err != nil {
		return err
	}
	for _, e := range entries {
		fmt.Fprintf(out, "   %-14s %+6d  pending %+5d  balance %5d\n", e.Kind, e.Points, e.PendingPoints, e.Balance)
	}
	return nil
}

func pointsOff(o *commerce.Order) commerce.Money {
	for _, a := range o.Adjustments {
		if a.Kind == commerce.KindPoints {
			return a.Amount
		}
	}
	return commerce.Zero(o.Currency)
}
