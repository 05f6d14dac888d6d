// Command quickstart tells minishop's story end to end: a merchant opens a
// Mini Store, lists two products, a customer fills a cart, checks out and
// pays through a payment channel (the settlement ledger shows who gets what); the order ships, arrives and settles; another order is cancelled and
// its stock comes back; then the outbox events a host would forward are
// printed.
//
// It runs on the embedded default store, a SQLite file (in the system's
// temporary directory unless -db names one). The file outlives the run: run
// the story again and it opens another shop in the same database, and the
// outbox relay carries on from the cursor the first run saved.
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
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/fakepay"
	"github.com/minishop/minishop/storage/sqlstore"
)

func main() {
	db := flag.String("db", filepath.Join(os.TempDir(), "minishop-quickstart", "shop.db"), "SQLite database file")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, *db); err != nil {
		log.Fatal(err)
	}
}

// yuan formats an amount the way a Chinese customer reads it.
func yuan(m commerce.Money) string { return m.Format(language.Chinese) }

func cny(s string) commerce.Money { return commerce.MustParseMoney(s, currency.CNY) }

func run(ctx context.Context, out io.Writer, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	store, err := sqlstore.Open(ctx, path, sqlstore.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	// fakepay plays the payment channel; examples/wechatpay wires the real one.
	channel := fakepay.New()
	engine, err := minishop.New(store, minishop.WithPayments(channel))
	if err != nil {
		return err
	}
	shop := engine.Commerce
	fmt.Fprintf(out, "💾 SQLite store at %s\n", path)
	if seen, err := store.Cursor(ctx, "quickstart"); err == nil && seen > 0 {
		fmt.Fprintf(out, "   (opened again: earlier runs relayed %d events; this run adds its own)\n", seen)
	}
	fmt.Fprintln(out)

	// A merchant opens a shop: 8 yuan delivery, free from 99 yuan.
	m, err := shop.CreateMerchant(ctx, commerce.MerchantParams{Currency: "CNY",
		Profile: commerce.ShopProfile{Name: "太湖丝绸小店", Introduction: "Silk from Lake Tai, sold in chat.",
			OpeningHours: []commerce.OpeningPeriod{{Day: time.Monday, Open: "09:00", Close: "21:00"}},
			Location:     &commerce.GeoPoint{Latitude: 31.2989, Longitude: 120.5853}},
		Shipping: commerce.ShippingRule{Flat: cny("8"), FreeOver: cny("99")}})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "🏪 %s opened (delivery %s, free from %s)\n", m.Profile.Name, yuan(m.Shipping.Flat), yuan(m.Shipping.FreeOver))

	scarf, err := shop.CreateProduct(ctx, commerce.ProductParams{MerchantID: m.ID, Title: "Silk scarf", Category: "apparel", State: commerce.Listed,
		SKUs: []commerce.SKUParams{
			{Attributes: []commerce.Attribute{{Name: "colour", Value: "champagne"}}, Price: cny("129.00"), Stock: 20},
			{Attributes: []commerce.Attribute{{Name: "colour", Value: "indigo"}}, Price: cny("139.00"), Stock: 5, PurchaseLimit: 2},
		}})
	if err != nil {
		return err
	}
	tea, err := shop.CreateProduct(ctx, commerce.ProductParams{MerchantID: m.ID, Title: "Biluochun green tea 50g", Category: "food", State: commerce.Listed,
		SKUs: []commerce.SKUParams{{Price: cny("38.50"), Stock: 100}}})
	if err != nil {
		return err
	}
	for _, p := range []*commerce.Product{scarf, tea} {
		for _, s := range p.SKUs {
			fmt.Fprintf(out, "   listed %-24s %-18v %9s  stock %d\n", p.Title, attrs(s.Attributes), yuan(s.Price), s.Stock)
		}
	}

	// A customer fills a cart and sees the price.
	const alice = commerce.CustomerID("wx-openid-alice")
	for _, l := range []commerce.CartParams{{SKU: scarf.SKUs[1].ID, Quantity: 1}, {SKU: tea.SKUs[0].ID, Quantity: 2}} {
		l.MerchantID, l.CustomerID = m.ID, alice
		if _, err := shop.AddToCart(ctx, l); err != nil {
			return err
		}
	}
	q, err := shop.Quote(ctx, commerce.QuoteParams{FromCart: true, MerchantID: m.ID, CustomerID: alice})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n🛒 Alice's cart\n")
	for _, l := range q.Lines {
		fmt.Fprintf(out, "   %d × %-24s %9s\n", l.Quantity, l.Title, yuan(l.Total))
	}
	fmt.Fprintf(out, "   subtotal %s, delivery %s, to pay %s\n", yuan(q.Subtotal), yuan(q.Shipping), yuan(q.Total))

	// Checkout re-prices on the server and commits stock, order and event together.
	order, err := shop.Checkout(ctx, commerce.CheckoutParams{FromCart: true, MerchantID: m.ID, CustomerID: alice, IdempotencyKey: "alice-checkout-1",
		ExpectedTotal: q.Total, ShippingAddress: &commerce.Address{Name: "Alice", Phone: "13800000000", City: "Suzhou", Detail: "1 Canal Road"}})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n📦 order …%s placed: %s, waiting for payment\n", short(order.ID.String()), yuan(order.Total))

	// Alice pays: the payment's amount is the order's, read on the server;
	// the channel's signed notification marks the order paid.
	pay, _, err := engine.Payments.Pay(ctx, payment.PayParams{MerchantID: m.ID, OrderID: order.ID, Payer: "openid-alice"})
	if err != nil {
		return err
	}
	notification, err := channel.Pay(pay.PaymentNo)
	if err != nil {
		return err
	}
	if _, err := engine.Payments.HandleNotification(ctx, channel.Name(), notification); err != nil {
		return err
	}
	fmt.Fprintf(out, "   💳 paid %s through %s (payment %s)\n", yuan(pay.Amount), pay.Provider, pay.PaymentNo[len(pay.PaymentNo)-8:])
	ledger, err := engine.Payments.Ledger(ctx, m.ID, order.ID)
	if err != nil {
		return err
	}
	for _, e := range ledger {
		fmt.Fprintf(out, "      %-9s %9s\n", e.Party, yuan(e.Amount))
	}
	steps := []struct {
		name string
		do   func() (*commerce.Order, error)
	}{
		{"shipped", func() (*commerce.Order, error) {
			return shop.Ship(ctx, commerce.ShipParams{MerchantID: m.ID, OrderID: order.ID, Shipment: commerce.Shipment{Carrier: "SF Express", TrackingNo: "SF1029384756"}})
		}},
		{"received", func() (*commerce.Order, error) { return shop.ConfirmReceipt(ctx, m.ID, order.ID) }},
		{"completed", func() (*commerce.Order, error) { return shop.Complete(ctx, m.ID, order.ID) }},
	}
	for _, st := range steps {
		o, err := st.do()
		if err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
		fmt.Fprintf(out, "   → %s\n", o.Status)
	}

	// Bob orders the last indigo scarves but changes his mind; the stock comes back.
	const bob = commerce.CustomerID("wx-openid-bob")
	bobs, err := shop.Checkout(ctx, commerce.CheckoutParams{MerchantID: m.ID, CustomerID: bob, IdempotencyKey: "bob-1",
		Lines:           []commerce.LineItem{{SKU: scarf.SKUs[1].ID, Quantity: 2}},
		ShippingAddress: &commerce.Address{Name: "Bob", Phone: "13900000000", Detail: "2 Garden Street"}})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n🧣 Bob orders 2 indigo scarves (%s); stock left: %d\n", yuan(bobs.Total), stockOf(ctx, shop, m.ID, scarf.ID, 1))
	if _, err := shop.Cancel(ctx, m.ID, bobs.ID, "changed my mind"); err != nil {
		return err
	}
	fmt.Fprintf(out, "   cancelled; stock back to %d\n", stockOf(ctx, shop, m.ID, scarf.ID, 1))

	// The outbox: what a host forwards as Service Account messages.
	fmt.Fprintf(out, "\n📬 outbox\n")
	evs, err := shop.PollEvents(ctx, "quickstart", 100)
	if err != nil {
		return err
	}
	for _, ev := range evs {
		fmt.Fprintf(out, "   #%d %-16s order …%s\n", ev.Seq, ev.Type, short(ev.AggregateID))
	}
	if len(evs) > 0 {
		if err := shop.AckEvents(ctx, "quickstart", evs[len(evs)-1].Seq); err != nil {
			return err
		}
	}
	fmt.Fprintln(out, "\n✅ done")
	return nil
}

func attrs(as []commerce.Attribute) string {
	s := ""
	for _, a := range as {
		s += a.Value
	}
	if s == "" {
		return "-"
	}
	return s
}

func stockOf(ctx context.Context, shop *commerce.Service, m commerce.MerchantID, p commerce.ProductID, sku int) int64 {
	prod, err := shop.GetProduct(ctx, m, p)
	if err != nil {
		return -1
	}
	return prod.SKUs[sku].Stock
}

// short keeps the random tail of an ID: UUIDv7s made in the same
// millisecond share their head.
func short(id string) string { return id[len(id)-8:] }
