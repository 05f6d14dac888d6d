// Command promoter tells the promoter story: a merchant puts a tea tin
// into a public plan at 12 %, an agency keeps 30 % of the commission and
// passes 70 % to its promoter, who shares a link in a group chat; two
// friends buy (one with the promoter's exclusive coupon), one returns half
// of the order, the after-sales window closes after a jump of the clock,
// and the statements show each party's settled amount to the fen.
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
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/fakepay"
	"github.com/minishop/minishop/promoter"
	"github.com/minishop/minishop/storage/sqlstore"
)

func main() {
	dir, err := os.MkdirTemp("", "minishop-promoter-")
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
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	clock := commercetest.NewClock(start)
	channel := fakepay.New(fakepay.WithClock(clock.Now))
	engine, err := minishop.New(store, minishop.WithClock(clock), minishop.WithPayments(channel),
		minishop.WithPromoter(func(c *promoter.Config) { c.Secret = []byte("keep this secret across restarts") }))
	if err != nil {
		return err
	}
	shop, promo := engine.Commerce, engine.Promoter
	fmt.Fprintf(out, "💾 SQLite store at %s\n\n", path)

	m, err := shop.CreateMerchant(ctx, commerce.MerchantParams{Currency: "CNY", Profile: commerce.ShopProfile{Name: "西湖茶庄"}})
	if err != nil {
		return err
	}
	tea, err := shop.CreateProduct(ctx, commerce.ProductParams{MerchantID: m.ID, Title: "Longjing tin", Category: "tea", State: commerce.Listed,
		SKUs: []commerce.SKUParams{{Price: cny("128.00"), Stock: 100}}})
	if err != nil {
		return err
	}
	if _, err := promo.SetPlan(ctx, promoter.PlanParams{MerchantID: m.ID, ProductID: tea.ID, Kind: promoter.Public, Rate: commerce.MustPercent(12)}); err != nil {
		return err
	}
	agency, err := promo.CreateAgency(ctx, promoter.AgencyParams{Name: "星火带货机构", PromoterShare: commerce.MustPercent(70)})
	if err != nil {
		return err
	}
	lily, err := promo.CreatePromoter(ctx, "Lily")
	if err != nil {
		return err
	}
	if err := promo.BindToAgency(ctx, agency.ID, lily.ID); err != nil {
		return err
	}
	fmt.Fprintf(out, "📋 %s puts the Longjing tin (%s) in a public plan at 12 %%; %s keeps 30 %% and passes 70 %% to Lily\n",
		m.Profile.Name, yuan(tea.SKUs[0].Price), agency.Name)

	link, err := promo.ShareToken(promoter.ShareParams{MerchantID: m.ID, PromoterID: lily.ID, Product: tea.ID, Scene: promoter.SceneGroup})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "🔗 Lily shares a signed link in her tea-lovers group: %s…\n", link[:16])
	batch, err := engine.Coupons.CreateBatch(ctx, coupons.BatchParams{MerchantID: m.ID, Name: "Lily 专属 满100减20", Kind: coupons.ThresholdOff,
		Amount: cny("20"), MinAmount: cny("100"), Total: 50, Validity: coupons.Validity{Days: 7}, Channel: coupons.PromoterOnly,
		Promoter: lily.ID.String(), Activate: true})
	if err != nil {
		return err
	}

	pay := func(o *commerce.Order) error {
		p, _, err := engine.Payments.Pay(ctx, payment.PayParams{MerchantID: m.ID, OrderID: o.ID, Payer: "openid"})
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
	addr := &commerce.Address{Name: "王芳", Phone: "13800000000", City: "杭州", Detail: "龙井路 1 号"}

	// Friend one buys two tins through the link.
	o1, err := shop.Checkout(ctx, commerce.CheckoutParams{MerchantID: m.ID, CustomerID: "friend-wang", IdempotencyKey: "o1",
		Lines: []commerce.LineItem{{SKU: tea.SKUs[0].ID, Quantity: 2}}, ShippingAddress: addr, Extensions: commerce.With(promoter.Link(link))})
	if err != nil {
		return err
	}
	// Friend two claims Lily's exclusive coupon and buys one tin with it.
	if _, err := engine.Coupons.Claim(ctx, coupons.ClaimParams{MerchantID: m.ID, BatchID: batch.ID, Customer: "friend-zhao", RequestID: "c1",
		Token: engine.Coupons.PromoterToken(m.ID, batch.ID, lily.ID.String())}); err != nil {
		return err
	}
	o2, err := shop.Checkout(ctx, commerce.CheckoutParams{MerchantID: m.ID, CustomerID: "friend-zhao", IdempotencyKey: "o2",
		Lines: []commerce.LineItem{{SKU: tea.SKUs[0].ID, Quantity: 1}}, ShippingAddress: addr})
	if err != nil {
		return err
	}
	for _, o := range []*commerce.Order{o1, o2} {
		if err := pay(o); err != nil {
			return err
		}
	}
	// Each order has one attributed line (the tins), so one commission.
	commission := func(o *commerce.Order) (*promoter.Commission, error) {
		cs, err := promo.OrderCommissions(ctx, m.ID, o.ID)
		if err != nil {
			return nil, err
		}
		if len(cs) != 1 {
			return nil, fmt.Errorf("order %s has %d commissions, want 1", o.ID, len(cs))
		}
		return cs[0], nil
	}
	c1, err := commission(o1)
	if err != nil {
		return err
	}
	c2, err := commission(o2)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n🛒 王 buys 2 tins through the link: pays %s → commission %s (agency %s, Lily %s), %s\n",
		yuan(o1.Total), yuan(c1.Amount), yuan(c1.AgencyPart), yuan(c1.PromoterPart), c1.Status)
	fmt.Fprintf(out, "🛒 赵 buys 1 tin with Lily's coupon: pays %s → commission %s (agency %s, Lily %s), %s\n",
		yuan(o2.Total), yuan(c2.Amount), yuan(c2.AgencyPart), yuan(c2.PromoterPart), c2.Status)

	// 王 returns one of the two tins.
	if _, err := shop.Refund(ctx, commerce.RefundParams{MerchantID: m.ID, OrderID: o1.ID, Items: []commerce.RefundItem{{Line: 0, Quantity: 1}},
		Reason: "one is enough", IdempotencyKey: "return-1"}); err != nil {
		return err
	}
	if c1, err = commission(o1); err != nil {
		return err
	}
	fmt.Fprintf(out, "↩️  王 returns one tin: %s of the commission goes back (agency %s), leaving %s\n",
		yuan(c1.Reversed), yuan(c1.ReversedAgency), yuan(c1.Net()))

	for _, o := range []*commerce.Order{o1, o2} {
		if _, err := shop.Ship(ctx, commerce.ShipParams{MerchantID: m.ID, OrderID: o.ID, Shipment: commerce.Shipment{Carrier: "SF", TrackingNo: "SF" + o.ID.String()[:8]}}); err != nil {
			return err
		}
		if _, err := shop.ConfirmReceipt(ctx, m.ID, o.ID); err != nil {
			return err
		}
	}
	clock.Advance(7*24*time.Hour + time.Minute)
	due, err := engine.RunDue(ctx)
	if err != nil {
		return err
	}
	if c1, err = commission(o1); err != nil {
		return err
	}
	if c2, err = commission(o2); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n⏰ 7 days after receipt the after-sales window closes; RunDue (%s) settles: %s and %s\n", due, c1.Status, c2.Status)

	period := func(st *promoter.Statement) string {
		return fmt.Sprintf("%d orders, settled %s, pending %s, clawbacks %s, payout %s", st.Orders, yuan(st.Settled), yuan(st.Pending), yuan(st.Clawbacks), yuan(st.Payout))
	}
	ls, err := promo.PromoterStatement(ctx, lily.ID, currency.CNY, start, clock.Now())
	if err != nil {
		return err
	}
	as, err := promo.AgencyStatement(ctx, agency.ID, currency.CNY, start, clock.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n📒 statements\n   Lily:   %s\n   agency: %s\n", period(ls), period(as))
	fmt.Fprintln(out, "\n📒 settlement ledger of 王's order (one statement: sales, fees, commission)")
	entries, err := engine.Payments.Ledger(ctx, m.ID, o1.ID)
	if err != nil {
		return err
	}
	for _, e := range entries {
		fmt.Fprintf(out, "   %-9s %10s\n", e.Party, yuan(e.Amount))
	}
	return nil
}
