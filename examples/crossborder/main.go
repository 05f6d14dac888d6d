// Command crossborder tells the story of shops outside mainland China
// selling to mainland customers through cross-border WeChat Pay
// (wechatpay.Config{CrossBorder: true}): a Hong Kong tea house pricing in
// HKD and a Kyoto one pricing in yen, whose customers pay from a CNY
// wallet.
//
// Each shop prices, is paid, refunds and settles in its own currency, to
// its currency's own minor unit (none for the yen). WeChat Pay charges the
// payer CNY at the day's rate and says so in its notification; minishop
// records that side on the payment, the refund and the order, and never
// converts money itself. A partial refund returns the shop's currency and
// records the CNY the payer got back at the payment's rate; a refund that
// finds WeChat's same-day CNY pool empty (NOT_ENOUGH) is sent again by
// RunDue under the same refund number.
//
// WeChat Pay's global API is played by a local server
// (payment/wechatpay/wechatpaytest in cross-border mode) that checks every
// call as WeChat does; the orders live in SQLite in a temporary file.
//
//	go run ./examples/crossborder
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"golang.org/x/text/currency"
	"golang.org/x/text/language"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/wechatpay"
	"github.com/minishop/minishop/payment/wechatpay/wechatpaytest"
	"github.com/minishop/minishop/storage/sqlstore"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "crossborder:", err)
		os.Exit(1)
	}
}

// shop is one merchant's story: its currency, its channel (one mchid
// settles in one currency), its products.
type shop struct {
	name, provider string
	cur            currency.Unit
	lang           language.Tag
	products       []product
	// notEnough makes WeChat's CNY pool empty for the shop's first refund.
	notEnough bool
}

type product struct {
	title, price string
	qty          int64
}

func run(ctx context.Context, out io.Writer) error {
	dir, err := os.MkdirTemp("", "minishop-crossborder-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	store, err := sqlstore.Open(ctx, filepath.Join(dir, "shop.db"), sqlstore.Options{})
	if err != nil {
		return err
	}
	defer store.Close()

	shops := []shop{
		{name: "維港茶莊 Harbour Tea House", provider: "wechatpay_hk", cur: currency.HKD, lang: language.English,
			products: []product{{"Tieguanyin, 150 g", "80.00", 2}, {"Tasting cup", "12.35", 1}}},
		{name: "京都茶舗 Kyoto Tea", provider: "wechatpay_jp", cur: currency.JPY, lang: language.Japanese, notEnough: true,
			products: []product{{"Gyokuro, 100 g", "1235", 2}, {"Chasen whisk", "500", 1}}},
	}
	// The host's notify URL: one handler per channel, the payment service's.
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	var clients []payment.Provider
	platforms := map[string]*wechatpaytest.Platform{}
	for _, s := range shops {
		plat, err := wechatpaytest.NewPlatform(wechatpaytest.Options{CrossBorder: true})
		if err != nil {
			return err
		}
		defer plat.Close()
		cfg := plat.Config(srv.URL + "/notify/" + s.provider)
		cfg.Name = s.provider
		c, err := wechatpay.New(cfg)
		if err != nil {
			return err
		}
		clients, platforms[s.provider] = append(clients, c), plat
	}
	engine, err := minishop.New(store, minishop.WithPayments(clients...))
	if err != nil {
		return err
	}
	for _, s := range shops {
		mux.Handle("POST /notify/"+s.provider, engine.Payments.NotificationHandler(s.provider, nil))
	}
	fmt.Fprintf(out, "🌏 Two shops outside mainland China take cross-border WeChat Pay (%s, merchant category code %s)\n",
		wechatpay.DefaultGlobalBaseURL, wechatpaytest.DefaultMerchantCategoryCode)
	for _, s := range shops {
		if err := tell(ctx, out, engine, platforms[s.provider], s); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}

// tell sells one order at s and follows its money.
func tell(ctx context.Context, out io.Writer, engine *minishop.Engine, plat *wechatpaytest.Platform, s shop) error {
	show := func(m commerce.Money) string { return m.Format(s.lang) }
	cny := func(m commerce.Money) string { return m.Format(language.SimplifiedChinese) }
	c := engine.Commerce
	m, err := c.CreateMerchant(ctx, commerce.MerchantParams{Currency: s.cur.String(), Profile: commerce.ShopProfile{Name: s.name}})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n🏪 %s prices in %s\n", s.name, s.cur)
	var lines []commerce.LineItem
	for _, p := range s.products {
		prod, err := c.CreateProduct(ctx, commerce.ProductParams{MerchantID: m.ID, Title: p.title, Category: "tea", State: commerce.Listed,
			SKUs: []commerce.SKUParams{{Price: commerce.MustParseMoney(p.price, s.cur), Stock: 20}}})
		if err != nil {
			return err
		}
		lines = append(lines, commerce.LineItem{SKU: prod.SKUs[0].ID, Quantity: p.qty})
		fmt.Fprintf(out, "   %-20s %10s\n", p.title, show(prod.SKUs[0].Price))
	}
	const openid = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
	o, err := c.Checkout(ctx, commerce.CheckoutParams{MerchantID: m.ID, CustomerID: openid, IdempotencyKey: "order-1", Lines: lines,
		ShippingAddress: &commerce.Address{Name: "王芳", Phone: "13800000000", Province: "上海市", City: "上海市", District: "徐汇区", Detail: "衡山路 8 号"}})
	if err != nil {
		return err
	}
	minor, _ := o.Total.Minor()
	fmt.Fprintf(out, "🛒 A customer in Shanghai checks out %s (WeChat Pay is asked for amount.total %d %s, the smallest unit)\n", show(o.Total), minor, s.cur)

	pay, _, err := engine.Payments.Pay(ctx, payment.PayParams{MerchantID: m.ID, OrderID: o.ID, Provider: s.provider, Payer: openid})
	if err != nil {
		return err
	}
	n, err := plat.Pay(pay.PaymentNo)
	if err != nil {
		return err
	}
	if status, _, err := plat.Deliver(ctx, n); err != nil || status >= 300 {
		return fmt.Errorf("the notify URL answered %d: %v", status, err)
	}
	if pay, err = engine.Payments.GetPayment(ctx, m.ID, pay.ID); err != nil {
		return err
	}
	if o, err = c.GetOrder(ctx, m.ID, o.ID); err != nil {
		return err
	}
	fmt.Fprintf(out, "💳 Paid %s: the wallet was charged %s at %s CNY per %s (%s); the order is %s and shows both\n",
		show(pay.Amount), cny(pay.Exchange.Payer), pay.Exchange.Rate, s.cur, pay.Exchange.RateType, o.Status)

	if s.notEnough {
		plat.FailRefundsNotEnough(1)
	}
	r, err := c.Refund(ctx, commerce.RefundParams{MerchantID: m.ID, OrderID: o.ID, Items: []commerce.RefundItem{{Line: 0, Quantity: 1}},
		Reason: "one tin dented", IdempotencyKey: "refund-1"})
	if commerce.Retryable(err) {
		// The refund is committed; only the channel has not taken it yet.
		fmt.Fprintln(out, "   WeChat's same-day CNY pool is empty (NOT_ENOUGH): the refund stays pending, RunDue sends it again with the same out_refund_no")
		if o, err = c.GetOrder(ctx, m.ID, o.ID); err != nil {
			return err
		}
		r = &o.Refunds[len(o.Refunds)-1]
	} else if err != nil {
		return err
	}
	fmt.Fprintf(out, "↩️  One %s comes back dented: a refund of %s, in the shop's currency\n", s.products[0].title, show(r.Amount))
	if _, err := engine.RunDue(ctx); err != nil {
		return err
	}
	if pay, err = engine.Payments.GetPayment(ctx, m.ID, pay.ID); err != nil {
		return err
	}
	pr, _ := pay.Refund(r.ID)
	if pr.Status == payment.RefundProcessing {
		done, err := plat.FinishRefund(pr.RefundNo, "SUCCESS")
		if err != nil {
			return err
		}
		if status, _, err := plat.Deliver(ctx, done); err != nil || status >= 300 {
			return fmt.Errorf("the notify URL answered %d: %v", status, err)
		}
		if pay, err = engine.Payments.GetPayment(ctx, m.ID, pay.ID); err != nil {
			return err
		}
		pr, _ = pay.Refund(r.ID)
	}
	if pr.Exchange == nil {
		return fmt.Errorf("refund %s is %s with no payer side", pr.RefundNo, pr.Status)
	}
	fmt.Fprintf(out, "🏦 Refund %s: %s back, the wallet got %s at the payment's rate\n", pr.Status, show(pr.Amount), cny(pr.Exchange.Payer))

	ledger, err := engine.Payments.Ledger(ctx, m.ID, o.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "📒 The ledger stays in %s:", s.cur)
	for _, e := range ledger {
		fmt.Fprintf(out, " %s %s", e.Party, show(e.Amount))
	}
	fmt.Fprintln(out)
	return nil
}
