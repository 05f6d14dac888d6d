// Command wechatpay shows how a host wires WeChat Pay into minishop. The
// payment/wechatpay Client is one of the Engine's payment channels
// (minishop.New(store, minishop.WithPayments(client))), and the handler at
// the notify URL is the payment service's own,
// engine.Payments.NotificationHandler: it verifies each notification through
// the Client (signature, freshness, decryption), applies it once, in one
// transaction with the order, logs it, and answers the way WeChat Pay reads
// answers (204 when done; 400 or 500 with {"code":"FAIL",...} otherwise).
// The host writes no notification code of its own.
//
// Orders, payments, the notification log and the settlement ledger live in
// a SQLite file, in the system's temporary directory unless -db names one.
//
// With no WECHATPAY_* variables set, it explains what to configure and then
// plays the whole Mini Program flow against a local WeChat Pay
// (payment/wechatpay/wechatpaytest). A customer checks out ¥216.00.
// engine.Payments.Pay opens the payment at WeChat Pay and returns the
// wx.requestPayment parameters. The customer pays, and WeChat Pay posts the
// signed, encrypted TRANSACTION.SUCCESS notification to the host. The order
// is then paid, and the ledger splits the money between the merchant,
// WeChat Pay's 0.6 % and the platform's 1 %. The same notification sent
// again is acknowledged and changes nothing, and a copy altered in transit
// is refused. Then engine.Commerce.Refund returns one item. The payment
// service carries the refund to WeChat Pay, and WeChat Pay's REFUND.SUCCESS
// notification settles it. The ledger then gives back the amount, with the
// fees in proportion.
//
// With the variables set, it talks to the real WeChat Pay. When
// WECHATPAY_OPENID names a payer, it opens a ¥0.01 order and prints the
// wx.requestPayment parameters. It serves the notification handler on
// WECHATPAY_LISTEN (default :8080) until interrupted, and every minute it
// runs engine.RunDue and asks WeChat Pay about the test payment while it is
// unpaid (engine.Payments.Reconcile). It cannot pay by itself: only the
// payer can, in WeChat. It refunds nothing, since that would return real
// money. WeChat Pay posts only to a public https URL, so put TLS in front
// of the listener.
package main

import (
	"context"
	"crypto/rsa"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"time"

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
	db := flag.String("db", filepath.Join(os.TempDir(), "minishop-wechatpay", "shop.db"), "SQLite database file")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, os.Getenv, *db); err != nil {
		log.Fatal(err)
	}
}

// The environment a host reads its WeChat Pay account from.
var envVars = []struct{ name, what string }{
	{"WECHATPAY_MCHID", "merchant number (商户号)"},
	{"WECHATPAY_APPID", "Mini Program AppID bound to the merchant"},
	{"WECHATPAY_SERIAL", "merchant API certificate serial number"},
	{"WECHATPAY_PRIVATE_KEY_FILE", "merchant API private key file (apiclient_key.pem)"},
	{"WECHATPAY_APIV3_KEY", "APIv3 key (32 characters)"},
	{"WECHATPAY_PUBKEY_FILE", "WeChat Pay public key file (pub_key.pem) ..."},
	{"WECHATPAY_PUBKEY_ID", "... and its ID (PUB_KEY_ID_...)"},
	{"WECHATPAY_PLATFORM_CERT_FILE", "or: platform certificate file (older merchants)"},
	{"WECHATPAY_NOTIFY_URL", "https URL WeChat Pay posts notifications to"},
	{"WECHATPAY_OPENID", "optional: a payer to open a ¥0.01 test payment for"},
	{"WECHATPAY_LISTEN", "optional: where the notification handler listens (default :8080)"},
}

// notifyPath is where the demo host mounts the notification handler.
const notifyPath = "/wechatpay/notify"

func run(ctx context.Context, w io.Writer, getenv func(string) string, db string) error {
	out := &syncWriter{w: w}
	cfg, configured, err := configFromEnv(getenv)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "WeChat Pay × minishop")
	fmt.Fprintln(out, "─────────────────────")
	if configured {
		return live(ctx, out, cfg, getenv, db)
	}
	fmt.Fprintln(out, "No WeChat Pay credentials in the environment, so this run uses a local")
	fmt.Fprintln(out, "WeChat Pay (wechatpaytest). To use your merchant account, set:")
	for _, v := range envVars {
		fmt.Fprintf(out, "  %-29s %s\n", v.name, v.what)
	}
	fmt.Fprintln(out)
	return demo(ctx, out, db)
}

// configFromEnv builds a Config from WECHATPAY_* variables. configured is
// false when none of the required ones is set; a partial set is an error
// naming what is missing.
func configFromEnv(getenv func(string) string) (cfg wechatpay.Config, configured bool, err error) {
	var missing []string
	need := func(name string) string {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			missing = append(missing, name)
		}
		return v
	}
	for _, v := range envVars[:9] {
		if getenv(v.name) != "" {
			configured = true
		}
	}
	if !configured {
		return cfg, false, nil
	}
	cfg.MchID = need("WECHATPAY_MCHID")
	cfg.AppID = need("WECHATPAY_APPID")
	cfg.SerialNo = need("WECHATPAY_SERIAL")
	keyFile := need("WECHATPAY_PRIVATE_KEY_FILE")
	cfg.APIv3Key = need("WECHATPAY_APIV3_KEY")
	cfg.NotifyURL = need("WECHATPAY_NOTIFY_URL")
	certFile := strings.TrimSpace(getenv("WECHATPAY_PLATFORM_CERT_FILE"))
	pubFile, pubID := strings.TrimSpace(getenv("WECHATPAY_PUBKEY_FILE")), strings.TrimSpace(getenv("WECHATPAY_PUBKEY_ID"))
	if certFile == "" && pubFile == "" {
		missing = append(missing, "WECHATPAY_PUBKEY_FILE (with WECHATPAY_PUBKEY_ID) or WECHATPAY_PLATFORM_CERT_FILE")
	}
	if pubFile != "" && pubID == "" {
		missing = append(missing, "WECHATPAY_PUBKEY_ID")
	}
	if len(missing) > 0 {
		return cfg, true, fmt.Errorf("WeChat Pay is partly configured; also set %s", strings.Join(missing, ", "))
	}

	pemData, err := os.ReadFile(keyFile)
	if err != nil {
		return cfg, true, fmt.Errorf("WECHATPAY_PRIVATE_KEY_FILE: %w", err)
	}
	if cfg.PrivateKey, err = wechatpay.ParsePrivateKey(pemData); err != nil {
		return cfg, true, fmt.Errorf("WECHATPAY_PRIVATE_KEY_FILE: %w", err)
	}
	// Both kinds may be configured at once, as during WeChat's migration
	// from platform certificates to the WeChat Pay public key.
	cfg.PlatformKeys = map[string]*rsa.PublicKey{}
	if pubFile != "" {
		if pemData, err = os.ReadFile(pubFile); err != nil {
			return cfg, true, fmt.Errorf("WECHATPAY_PUBKEY_FILE: %w", err)
		}
		key, err := wechatpay.ParsePublicKey(pemData)
		if err != nil {
			return cfg, true, fmt.Errorf("WECHATPAY_PUBKEY_FILE: %w", err)
		}
		cfg.PlatformKeys[pubID] = key
	}
	if certFile != "" {
		if pemData, err = os.ReadFile(certFile); err != nil {
			return cfg, true, fmt.Errorf("WECHATPAY_PLATFORM_CERT_FILE: %w", err)
		}
		serial, key, err := wechatpay.ParseCertificate(pemData)
		if err != nil {
			return cfg, true, fmt.Errorf("WECHATPAY_PLATFORM_CERT_FILE: %w", err)
		}
		cfg.PlatformKeys[serial] = key
	}
	return cfg, true, nil
}

// openStore opens (creating if need be) the SQLite database at path.
func openStore(ctx context.Context, out io.Writer, path string) (*sqlstore.Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	store, err := sqlstore.Open(ctx, path, sqlstore.Options{})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "💾 SQLite store at %s\n", path)
	return store, nil
}

// demo runs the Mini Program flow against a local WeChat Pay.
func demo(ctx context.Context, out io.Writer, db string) error {
	store, err := openStore(ctx, out, db)
	if err != nil {
		return err
	}
	defer store.Close()
	platform, err := wechatpaytest.NewPlatform(wechatpaytest.Options{})
	if err != nil {
		return err
	}
	defer platform.Close()

	// The host's HTTP server. WeChat Pay requires an https notify URL; the
	// adapter accepts http for loopback hosts only, so that the local
	// platform can post here. The handler is mounted once the engine exists:
	// the client needs the URL, the engine the client.
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client, err := wechatpay.New(platform.Config(srv.URL + notifyPath))
	if err != nil {
		return err
	}
	engine, err := minishop.New(store, minishop.WithPayments(client))
	if err != nil {
		return err
	}
	mux.Handle("POST "+notifyPath, engine.Payments.NotificationHandler(client.Name(), func(_ *http.Request, err error) {
		fmt.Fprintf(out, "   📝 host log: %v\n", err)
	}))
	fmt.Fprintf(out, "🏦 Local WeChat Pay at %s: merchant %s, app %s\n", platform.URL(), platform.MchID(), platform.AppID())
	fmt.Fprintf(out, "🏠 engine.Payments.NotificationHandler(%q) answers at %s\n\n", client.Name(), srv.URL+notifyPath)

	// The shop and the customer's order.
	shop := engine.Commerce
	m, err := shop.CreateMerchant(ctx, commerce.MerchantParams{Currency: "CNY",
		Profile:  commerce.ShopProfile{Name: "西湖茶舍", Introduction: "Longjing tea and celadon, sold in chat."},
		Shipping: commerce.ShippingRule{Flat: cny("8"), FreeOver: cny("99")}})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "🏪 %s opens (delivery %s, free from %s) and lists:\n", m.Profile.Name, yuan(m.Shipping.Flat), yuan(m.Shipping.FreeOver))
	var skus []commerce.SKUID
	for _, p := range []struct{ title, category, price string }{
		{"Longjing tea, 100 g", "food", "139.00"},
		{"Celadon tea cup", "homeware", "38.50"},
	} {
		prod, err := shop.CreateProduct(ctx, commerce.ProductParams{MerchantID: m.ID, Title: p.title, Category: p.category,
			State: commerce.Listed, SKUs: []commerce.SKUParams{{Price: cny(p.price), Stock: 50}}})
		if err != nil {
			return err
		}
		skus = append(skus, prod.SKUs[0].ID)
		fmt.Fprintf(out, "   %-22s %8s\n", prod.Title, yuan(prod.SKUs[0].Price))
	}

	// In a Mini Program the customer is known by their openid, which is
	// also the payer WeChat Pay charges.
	const openid = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
	order, err := shop.Checkout(ctx, commerce.CheckoutParams{MerchantID: m.ID, CustomerID: openid, IdempotencyKey: "checkout-1",
		Lines: []commerce.LineItem{{SKU: skus[0], Quantity: 1}, {SKU: skus[1], Quantity: 2}},
		ShippingAddress: &commerce.Address{Name: "李雷", Phone: "13800000000", Province: "浙江省", City: "杭州市",
			District: "西湖区", Detail: "龙井路 1 号"}})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n🛒 Customer %s checks out order …%s:\n", openid, short(order.ID.String()))
	for _, l := range order.Lines {
		fmt.Fprintf(out, "   %d × %-22s %8s\n", l.Quantity, l.Title, yuan(l.Total))
	}
	delivery := "free delivery"
	if !order.Shipping.IsZero() {
		delivery = "delivery " + yuan(order.Shipping)
	}
	fmt.Fprintf(out, "   total %s (%s), %s\n", yuan(order.Total), delivery, order.Status)

	// Paying: the amount is the order's, read on the server.
	pay, prepay, err := engine.Payments.Pay(ctx, payment.PayParams{MerchantID: m.ID, OrderID: order.ID, Payer: openid})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n📨 engine.Payments.Pay opens a %s payment at WeChat Pay, out_trade_no %s\n", yuan(pay.Amount), pay.PaymentNo)
	fmt.Fprintf(out, "   (the amount is the order's, read on the server), prepay_id %s\n", prepay.PrepayID)
	printRequestPayment(out, prepay.ClientParams)

	// deliver has WeChat Pay post n to the host, then reports the answer
	// and what the payment service logged for it.
	logged := 0
	deliver := func(title string, n *wechatpaytest.Notification) error {
		fmt.Fprintln(out, title)
		status, _, err := platform.Deliver(ctx, n)
		if err != nil {
			return err
		}
		verdict := "WeChat Pay stops retrying"
		switch {
		case status >= 500:
			verdict = "WeChat Pay will send it again later"
		case status >= 300:
			verdict = "refused (WeChat Pay retries what it really sent; a forger gets nothing)"
		}
		fmt.Fprintf(out, "   host answered %d → %s\n", status, verdict)
		recs, err := engine.Payments.Notifications(ctx, pay.PaymentNo)
		if err != nil {
			return err
		}
		for _, r := range recs[logged:] {
			fmt.Fprintf(out, "   notification log: %s %s %s", r.EventType, r.NotificationID, r.Outcome)
			if r.Reason != "" {
				fmt.Fprintf(out, " (%s)", r.Reason)
			}
			fmt.Fprintln(out)
		}
		if len(recs) == logged {
			fmt.Fprintln(out, "   notification log: nothing (it never got past verification)")
		}
		logged = len(recs)
		return nil
	}
	// state reports the order and its ledger after a notification, and
	// whether anything changed since the last report.
	seen := struct {
		version int64
		entries int
	}{order.Version, 0}
	state := func() (*commerce.Order, []payment.LedgerEntry, error) {
		o, err := shop.GetOrder(ctx, m.ID, order.ID)
		if err != nil {
			return nil, nil, err
		}
		ledger, err := engine.Payments.Ledger(ctx, m.ID, order.ID)
		if err != nil {
			return nil, nil, err
		}
		if o.Version == seen.version && len(ledger) == seen.entries {
			fmt.Fprintf(out, "   📦 order …%s unchanged: still %s (version %d), %d ledger entries\n", short(o.ID.String()), o.Status, o.Version, len(ledger))
		} else {
			fmt.Fprintf(out, "   📦 order …%s is %s (version %d), %d ledger entries\n", short(o.ID.String()), o.Status, o.Version, len(ledger))
		}
		seen.version, seen.entries = o.Version, len(ledger)
		return o, ledger, nil
	}

	fmt.Fprintln(out, "\n💳 The customer confirms in WeChat and pays…")
	paid, err := platform.Pay(pay.PaymentNo)
	if err != nil {
		return err
	}
	if err := deliver("🔔 WeChat Pay posts TRANSACTION.SUCCESS to the host", paid); err != nil {
		return err
	}
	o, ledger, err := state()
	if err != nil {
		return err
	}
	if pay, err = engine.Payments.GetPayment(ctx, m.ID, pay.ID); err != nil {
		return err
	}
	fmt.Fprintf(out, "   💳 payment %s, WeChat transaction %s, paid %s\n", pay.Status, pay.ProviderRef, chinaTime(pay.PaidAt))
	fees := engine.Payments.Fees()
	fmt.Fprintln(out, "   📒 settlement ledger:")
	for _, e := range ledger {
		note := ""
		switch e.Party {
		case payment.PartyChannel:
			note = "WeChat Pay's fee, " + fees.Channel.String()
		case payment.PartyPlatform:
			note = "technical service fee, " + fees.Platform.String()
		}
		fmt.Fprintln(out, strings.TrimRight(fmt.Sprintf("      %-9s %9s  %s", e.Party, yuan(e.Amount), note), " "))
	}

	if err := deliver("\n🔁 WeChat Pay sends the same notification again (it retries until it hears 2XX)", paid); err != nil {
		return err
	}
	if _, _, err := state(); err != nil {
		return err
	}
	altered, err := platform.Tamper(paid, wechatpaytest.TamperBody)
	if err != nil {
		return err
	}
	if err := deliver("\n🕵️  A copy altered in transit after WeChat Pay signed it", altered); err != nil {
		return err
	}
	if _, _, err := state(); err != nil {
		return err
	}

	// A partial refund: the kernel prices it from the line, the payment
	// service carries it to WeChat Pay.
	fmt.Fprintln(out, "\n↩️  One cup arrives chipped; the merchant refunds it with engine.Commerce.Refund")
	r, err := shop.Refund(ctx, commerce.RefundParams{MerchantID: m.ID, OrderID: order.ID,
		Items: []commerce.RefundItem{{Line: 1, Quantity: 1}}, Reason: "杯子有磕碰", IdempotencyKey: "refund-cup-1"})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   refund …%s of %s (%s) is %s: the kernel priced it from what the line paid\n", short(r.ID.String()), yuan(r.Amount), r.Reason, r.Status)
	if pay, err = engine.Payments.GetPayment(ctx, m.ID, pay.ID); err != nil {
		return err
	}
	pr, ok := pay.Refund(r.ID)
	if !ok {
		return fmt.Errorf("payment %s has no refund %s", pay.PaymentNo, r.ID)
	}
	if pr.Submitted {
		fmt.Fprintf(out, "   engine.Payments sent it to WeChat Pay as out_refund_no %s, now %s\n", pr.RefundNo, pr.Status)
	} else {
		fmt.Fprintf(out, "   out_refund_no %s is %s, not yet accepted by WeChat Pay (RunDue resends it)\n", pr.RefundNo, pr.Status)
	}
	fmt.Fprintln(out, "🏦 WeChat Pay returns the money to the customer's 零钱…")
	refunded, err := platform.FinishRefund(pr.RefundNo, "SUCCESS")
	if err != nil {
		return err
	}
	if err := deliver("🔔 WeChat Pay posts REFUND.SUCCESS to the host", refunded); err != nil {
		return err
	}
	if o, ledger, err = state(); err != nil {
		return err
	}
	if or, ok := o.Refund(r.ID); ok {
		fmt.Fprintf(out, "   ↩️  refund of %s %s; the rest of the order stays %s\n", yuan(or.Amount), or.Status, o.Status)
	}
	printLedger(out, ledger, pay.PaymentNo)
	if pay, err = engine.Payments.GetPayment(ctx, m.ID, pay.ID); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n✅ Done: %s paid and %s refunded through minishop's services. Orders, payments,\n   the notification log and the ledger stay in %s\n",
		yuan(pay.Amount), yuan(pay.RefundedAmount()), db)
	return nil
}

// printLedger prints an order's settlement ledger, a row per payment or
// refund, a column per party, and the totals.
func printLedger(out io.Writer, ledger []payment.LedgerEntry, paymentNo string) {
	var parties []payment.Party
	var refs []string
	cells := map[string]map[payment.Party]commerce.Money{}
	totals := map[payment.Party]commerce.Money{}
	for _, e := range ledger {
		if _, ok := cells[e.Ref]; !ok {
			refs = append(refs, e.Ref)
			cells[e.Ref] = map[payment.Party]commerce.Money{}
		}
		if _, ok := totals[e.Party]; !ok {
			parties = append(parties, e.Party)
			totals[e.Party] = commerce.Zero(e.Amount.Currency())
		}
		cells[e.Ref][e.Party] = e.Amount
		totals[e.Party], _ = totals[e.Party].Add(e.Amount)
	}
	fmt.Fprintf(out, "   📒 settlement ledger\n      %-18s", "")
	for _, p := range parties {
		fmt.Fprintf(out, " %10s", p)
	}
	fmt.Fprintln(out)
	row := func(label string, amounts map[payment.Party]commerce.Money) {
		fmt.Fprintf(out, "      %-18s", label)
		for _, p := range parties {
			fmt.Fprintf(out, " %10s", yuan(amounts[p]))
		}
	}
	for _, ref := range refs {
		label := "refund …" + short(ref)
		if ref == paymentNo {
			label = "payment …" + short(ref)
		}
		row(label, cells[ref])
		fmt.Fprintln(out)
	}
	row("total", totals)
	if len(parties) > 0 {
		sum := commerce.Zero(totals[parties[0]].Currency())
		for _, p := range parties {
			sum, _ = sum.Add(totals[p])
		}
		fmt.Fprintf(out, "  = %s, paid less refunded", yuan(sum))
	}
	fmt.Fprintln(out)
}

func printRequestPayment(out io.Writer, p map[string]string) {
	fmt.Fprintln(out, "📱 The Mini Program calls:")
	fmt.Fprintln(out, "   wx.requestPayment({")
	for _, k := range []string{"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"} {
		v := p[k]
		if k == "paySign" && len(v) > 24 {
			v = fmt.Sprintf("%s…%s", v[:12], v[len(v)-8:])
			fmt.Fprintf(out, "     %-10s %q, // RSA signature, %d characters\n", k+":", v, len(p[k]))
			continue
		}
		fmt.Fprintf(out, "     %-10s %q,\n", k+":", v)
	}
	fmt.Fprintln(out, "     success() { /* wait for the server: only the notification is proof */ },")
	fmt.Fprintln(out, "   })")
}

// live wires the engine to the real WeChat Pay.
func live(ctx context.Context, out io.Writer, cfg wechatpay.Config, getenv func(string) string, db string) error {
	client, err := wechatpay.New(cfg)
	if err != nil {
		return err
	}
	u, err := url.Parse(cfg.NotifyURL)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, out, db)
	if err != nil {
		return err
	}
	defer store.Close()
	engine, err := minishop.New(store, minishop.WithPayments(client))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "🏦 WeChat Pay merchant %s, app %s, %d platform key(s)\n", cfg.MchID, cfg.AppID, len(cfg.PlatformKeys))

	var test *testOrder
	if openid := strings.TrimSpace(getenv("WECHATPAY_OPENID")); openid != "" {
		if test, err = openTestOrder(ctx, out, engine, openid); err != nil {
			return err
		}
	}

	path := u.Path
	if path == "" {
		path = "/"
	}
	handler := engine.Payments.NotificationHandler(client.Name(), func(r *http.Request, err error) {
		fmt.Fprintf(out, "%s ⛔ notification from %s: %v\n", clock(), r.RemoteAddr, err)
	})
	mux := http.NewServeMux()
	mux.Handle("POST "+path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		handler.ServeHTTP(sw, r)
		fmt.Fprintf(out, "%s 🔔 notification from %s answered %d\n", clock(), r.RemoteAddr, sw.status)
		if test != nil {
			test.report(r.Context(), false)
		}
	}))
	addr := strings.TrimSpace(getenv("WECHATPAY_LISTEN"))
	if addr == "" {
		addr = ":8080"
	}
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	})
	// The host's schedule: time-driven work (cancelling unpaid orders and
	// closing their payments at WeChat Pay, resending refunds), and a query
	// for the test payment in case its notification never comes.
	wg.Go(func() {
		tick := time.NewTicker(time.Minute)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			due, err := engine.RunDue(ctx)
			if err != nil && ctx.Err() == nil {
				fmt.Fprintf(out, "%s ⚠️  RunDue (%s): %v\n", clock(), due, err)
			}
			if test != nil {
				test.report(ctx, true)
			}
		}
	})
	fmt.Fprintf(out, "🏠 engine.Payments.NotificationHandler(%q) serves POST %s on %s (Ctrl-C to stop)\n", client.Name(), path, addr)
	fmt.Fprintf(out, "   WeChat Pay posts only to %s: route that https URL here.\n", cfg.NotifyURL)
	fmt.Fprintln(out, "   Every minute: engine.RunDue, and a query for the test payment while it is unpaid.")
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		stop()
		return err
	}
	return nil
}

// testOrder is a ¥0.01 order opened in live mode, watched until it is paid
// or cancelled.
type testOrder struct {
	engine   *minishop.Engine
	out      io.Writer
	merchant commerce.MerchantID
	order    commerce.OrderID
	payment  payment.PaymentID

	mu   sync.Mutex
	last commerce.OrderStatus
}

// openTestOrder creates a shop with a ¥0.01 product, checks one out for
// openid and opens its payment at WeChat Pay.
func openTestOrder(ctx context.Context, out io.Writer, engine *minishop.Engine, openid string) (*testOrder, error) {
	shop := engine.Commerce
	m, err := shop.CreateMerchant(ctx, commerce.MerchantParams{Currency: "CNY", Profile: commerce.ShopProfile{Name: "minishop test shop"}})
	if err != nil {
		return nil, err
	}
	prod, err := shop.CreateProduct(ctx, commerce.ProductParams{MerchantID: m.ID, Title: "minishop test item", Category: "test",
		State: commerce.Listed, SKUs: []commerce.SKUParams{{Price: commerce.FromMinor(1, currency.CNY), Stock: 1}}})
	if err != nil {
		return nil, err
	}
	order, err := shop.Checkout(ctx, commerce.CheckoutParams{MerchantID: m.ID, CustomerID: commerce.CustomerID(openid),
		IdempotencyKey: "live-test", Lines: []commerce.LineItem{{SKU: prod.SKUs[0].ID, Quantity: 1}},
		ShippingAddress: &commerce.Address{Name: "minishop test", Phone: "-", Detail: "nothing ships"}})
	if err != nil {
		return nil, err
	}
	pay, prepay, err := engine.Payments.Pay(ctx, payment.PayParams{MerchantID: m.ID, OrderID: order.ID, Payer: openid,
		Description: "minishop test payment"})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "🛒 Test order …%s of %s for %s: payment %s opened\n", short(order.ID.String()), yuan(order.Total), openid, pay.PaymentNo)
	printRequestPayment(out, prepay.ClientParams)
	fmt.Fprintln(out, "   This program cannot pay it: only that payer can, in your Mini Program, by passing")
	fmt.Fprintf(out, "   these parameters to wx.requestPayment before %s (the order then cancels itself).\n", chinaTime(order.DueAt))
	return &testOrder{engine: engine, out: out, merchant: m.ID, order: order.ID, payment: pay.ID, last: order.Status}, nil
}

// report prints the test order when its status changed, with its ledger
// once paid. With reconcile set, an unpaid payment is first looked up at
// WeChat Pay.
func (t *testOrder) report(ctx context.Context, reconcile bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if reconcile {
		p, err := t.engine.Payments.GetPayment(ctx, t.merchant, t.payment)
		if err == nil && p.Status == payment.Pending {
			_, err = t.engine.Payments.Reconcile(ctx, t.merchant, t.payment)
		}
		if err != nil && ctx.Err() == nil {
			fmt.Fprintf(t.out, "%s ⚠️  reconcile: %v\n", clock(), err)
		}
	}
	o, err := t.engine.Commerce.GetOrder(ctx, t.merchant, t.order)
	if err != nil || o.Status == t.last {
		return
	}
	t.last = o.Status
	fmt.Fprintf(t.out, "%s 📦 test order …%s is %s\n", clock(), short(o.ID.String()), o.Status)
	ledger, err := t.engine.Payments.Ledger(ctx, t.merchant, t.order)
	if err != nil {
		return
	}
	for _, e := range ledger {
		fmt.Fprintf(t.out, "      %-9s %9s\n", e.Party, yuan(e.Amount))
	}
}

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func cny(s string) commerce.Money { return commerce.MustParseMoney(s, currency.CNY) }

// yuan formats an amount the way a Chinese customer reads it.
func yuan(m commerce.Money) string { return m.Format(language.Chinese) }

var cst = time.FixedZone("CST", 8*60*60)

func chinaTime(t time.Time) string { return t.In(cst).Format("2006-01-02 15:04:05 CST") }

func clock() string { return time.Now().In(cst).Format("15:04:05") }

// short keeps the random tail of an ID or number: UUIDv7s made in the same
// millisecond share their head.
func short(id string) string {
	if len(id) <= 8 {
		return id
	}
	return id[len(id)-8:]
}

// syncWriter serialises output from the demo and the handler's goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
