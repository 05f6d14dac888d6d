// Command provider tells the story of a WeChat Pay service provider (服务商)
// running two merchants' shops on minishop, against a local WeChat Pay
// (payment/wechatpay/wechatpaytest) on the embedded SQLite store, so it
// needs no credentials.
//
// The provider's account is a service provider's (wechatpay.Config
// ServiceProvider): every payment goes through the partner APIs, into the
// sub-merchant a merchant is onboarded as. engine.Payments.SetAccount
// records that sub-merchant (sub_mchid) per merchant, with the merchant's
// own Mini Program (sub_appid) when it has one: merchant A has its own app,
// merchant B sells inside the provider's.
//
// Merchant A pays by profit sharing (分账): engine.Payments.SetSharingPlan
// gives the provider a 2 % fee, so A's payments open frozen, and when an
// order settles (seven days after receipt) the payment service opens one
// sharing order for it: the fee to the provider's merchant account and the
// promoter's commission to the promoter's openid, the rest unfrozen to A.
// Merchant B has no plan, so its promoter commission is paid by transfer
// (商家转账): engine.Promoter.Payout opens a transfer bill that the promoter
// accepts in the Mini Program (wx.requestMerchantTransfer), and WeChat
// Pay's notification marks it paid.
//
// A promoter shares a link to a product of each merchant (promoter
// ShareToken and Link, passed to Checkout with commerce.With); two
// customers buy through it and pay (engine.Payments.Pay; the platform's
// Pay and its signed notification, handed to
// engine.Payments.NotificationHandler). The orders ship and are received;
// the story's clock then jumps past the after-sales window and
// engine.RunDue settles them, sends A's sharing order and follows it to its
// end. Then B's commission is paid out by transfer, and
// engine.Promoter.PayoutStatement shows what Lily was paid at each merchant.
//
// Last, engine.Payments.ReconcileDay asks for each sub-merchant's trade
// bill of the payment day (by its sub_mchid), checks its hash, and holds it
// against minishop's payments: the report's counts and totals are printed.
//
// The engine, the local platform and the client all read one clock, so
// that WeChat Pay's timestamps, its bills' days and minishop's deadlines
// agree.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
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
	"github.com/minishop/minishop/promoter"
	"github.com/minishop/minishop/storage/sqlstore"
)

func main() {
	db := flag.String("db", filepath.Join(os.TempDir(), "minishop-provider", "shop.db"), "SQLite database file")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, *db); err != nil {
		log.Fatal(err)
	}
}

// The service provider's account at the local WeChat Pay, and the business
// name WeChat holds for it (a business receiver of a share must be named
// exactly so).
const (
	spMchID   = "1230000109"
	spAppID   = "wxsp000000000000aa"
	spName    = "云栈科技服务有限公司"
	merchAApp = "wxa000000000000a01" // merchant A's own Mini Program
)

// storyClock is the one clock of the story: the engine's (WithClock), the
// platform's (Options.Now) and the client's (Config.Now). It only moves
// when the story moves it.
type storyClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *storyClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *storyClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var cst = time.FixedZone("CST", 8*60*60)

func run(ctx context.Context, out io.Writer, db string) error {
	fmt.Fprintln(out, "WeChat Pay service provider × minishop")
	fmt.Fprintln(out, "──────────────────────────────────────")
	if err := os.MkdirAll(filepath.Dir(db), 0o755); err != nil {
		return err
	}
	store, err := sqlstore.Open(ctx, db, sqlstore.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	fmt.Fprintf(out, "💾 SQLite store at %s\n", db)

	// A fixed morning in China time, so that the payment day and the day
	// its bill comes out are plain to read.
	clock := &storyClock{now: time.Date(2026, 11, 25, 10, 0, 0, 0, cst)}

	// 1. The provider's WeChat Pay account and its two sub-merchants. WeChat
	// gives each merchant a sub_mchid when the provider onboards it (进件);
	// every run onboards two new merchants, so they get new numbers, and a
	// second run on the same database reconciles only its own.
	platform, err := wechatpaytest.NewPlatform(wechatpaytest.Options{ServiceProvider: true, MchID: spMchID, AppID: spAppID, Now: clock.Now})
	if err != nil {
		return err
	}
	defer platform.Close()
	subA, subB := fmt.Sprintf("16%08d", rand.IntN(1e8)), fmt.Sprintf("17%08d", rand.IntN(1e8))
	platform.AddSubMerchant(subA, merchAApp)
	platform.AddSubMerchant(subB)
	platform.SetMerchantName(spMchID, spName)

	cfg := platform.Config("https://provider.example.com/wechatpay/notify")
	cfg.Now = clock.Now
	client, err := wechatpay.New(cfg)
	if err != nil {
		return err
	}
	// engine is bound below; the payout account is read when a payout is
	// made, by then it is set.
	var engine *minishop.Engine
	engine, err = minishop.New(store, minishop.WithClock(clock), minishop.WithPayments(client),
		// WeChat's 0.6 % only: the provider takes its fee by profit sharing,
		// not as minishop's technical service fee.
		minishop.WithFees(payment.FeeSchedule{Channel: commerce.MustPercent(0.6)}),
		minishop.WithPromoter(func(c *promoter.Config) {
			c.Secret = []byte("the provider's share-link secret")
			// The transfers go through the payment channel, so a
			// merchant's leave from its sub-merchant, the account its
			// payments went into (minishop.New wires that).
			c.Payouts = promoter.PayoutConfig{Transferer: client}
		}))
	if err != nil {
		return err
	}
	handler := engine.Payments.NotificationHandler(client.Name(), func(_ *http.Request, err error) {
		fmt.Fprintf(out, "   📝 host log: %v\n", err)
	})
	// notify hands a notification to the handler as WeChat Pay posts it to
	// the notify URL, and returns the handler's answer.
	notify := func(n *wechatpaytest.Notification) int {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, n.Request())
		return rec.Code
	}
	fmt.Fprintf(out, "🏦 Local WeChat Pay at %s: service provider %s (%s), app %s\n", platform.URL(), spMchID, spName, spAppID)

	shop := engine.Commerce
	type merchant struct {
		m       *commerce.Merchant
		account payment.Account
		product *commerce.Product
	}
	open := func(name, title string, price string, acct payment.Account) (*merchant, error) {
		m, err := shop.CreateMerchant(ctx, commerce.MerchantParams{Currency: "CNY", Profile: commerce.ShopProfile{Name: name}})
		if err != nil {
			return nil, err
		}
		if err := engine.Payments.SetAccount(ctx, m.ID, client.Name(), acct); err != nil {
			return nil, err
		}
		p, err := shop.CreateProduct(ctx, commerce.ProductParams{MerchantID: m.ID, Title: title, Category: "tea", State: commerce.Listed,
			SKUs: []commerce.SKUParams{{Price: cny(price), Stock: 20}}})
		if err != nil {
			return nil, err
		}
		return &merchant{m: m, account: acct, product: p}, nil
	}
	a, err := open("西湖茶庄", "Longjing tin", "100.00", payment.Account{SubMerchant: subA, SubApp: merchAApp})
	if err != nil {
		return err
	}
	b, err := open("云南普洱铺", "Pu'er cake", "50.00", payment.Account{SubMerchant: subB})
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "\n🏪 engine.Payments.SetAccount puts each merchant on its sub-merchant:")
	fmt.Fprintf(out, "   A %s: sub_mchid %s, own Mini Program %s; sells %s at %s\n", a.m.Profile.Name, subA, merchAApp, a.product.Title, yuan(a.product.SKUs[0].Price))
	fmt.Fprintf(out, "   B %s: sub_mchid %s, sells in the provider's app; sells %s at %s\n", b.m.Profile.Name, subB, b.product.Title, yuan(b.product.SKUs[0].Price))

	// 2. A shares by profit sharing; B pays commission by transfer.
	fee := commerce.MustPercent(2)
	if err := engine.Payments.SetSharingPlan(ctx, a.m.ID, client.Name(), &payment.SharingPlan{Fee: fee,
		FeeTo: payment.Payee{Kind: payment.PayeeBusiness, Account: spMchID, Name: spName}}); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n🤝 engine.Payments.SetSharingPlan: A's payments open frozen; at settlement %s goes to the provider %s by profit sharing\n", fee, spMchID)
	fmt.Fprintln(out, "   B has no plan: its payments settle to it whole, and commission is paid by transfer")

	// 3. The promoter, paid under the app each account pays in: an openid
	// is only meaningful under one app. A's shares pay openids under A's
	// own app first (wechatpay's ShareApps), B's transfers openids under
	// the provider's app (TransferApp, B having none of its own).
	lily, err := engine.Promoter.CreatePromoter(ctx, "Lily")
	if err != nil {
		return err
	}
	lilyInA, lilyInSP := "oLily_in_merchant_A_app_00001", "oLily_in_provider_app_000001"
	if lily, err = engine.Promoter.SetPromoterPayees(ctx, lily.ID, []payment.Payee{
		{Kind: payment.PayeePerson, Account: lilyInA, App: merchAApp},
		{Kind: payment.PayeePerson, Account: lilyInSP, App: spAppID},
	}); err != nil {
		return err
	}
	rate := commerce.MustPercent(10)
	for _, mm := range []*merchant{a, b} {
		if _, err := engine.Promoter.SetPlan(ctx, promoter.PlanParams{MerchantID: mm.m.ID, ProductID: mm.product.ID, Kind: promoter.Public, Rate: rate}); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "\n📋 Both products are in a public plan at %s; promoter Lily is paid at %s (A's app) and %s (provider's app)\n", rate, lilyInA, lilyInSP)

	// 4. Customers buy through Lily's links and pay through partner mode.
	addr := &commerce.Address{Name: "王芳", Phone: "13800000000", Province: "浙江省", City: "杭州市", Detail: "龙井路 1 号"}
	buy := func(mm *merchant, customer, openid, app string) (*commerce.Order, *payment.Payment, error) {
		link, err := engine.Promoter.ShareToken(promoter.ShareParams{MerchantID: mm.m.ID, PromoterID: lily.ID, Product: mm.product.ID, Scene: promoter.SceneGroup})
		if err != nil {
			return nil, nil, err
		}
		o, err := shop.Checkout(ctx, commerce.CheckoutParams{MerchantID: mm.m.ID, CustomerID: commerce.CustomerID(customer), IdempotencyKey: "checkout-" + customer,
			Lines: []commerce.LineItem{{SKU: mm.product.SKUs[0].ID, Quantity: 1}}, ShippingAddress: addr, Extensions: commerce.With(promoter.Link(link))})
		if err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(out, "\n🛒 %s opens Lily's link %s… and checks out %s: %s\n", customer, link[:12], mm.product.Title, yuan(o.Total))
		pay, prepay, err := engine.Payments.Pay(ctx, payment.PayParams{MerchantID: mm.m.ID, OrderID: o.ID, Provider: client.Name(), Payer: openid, PayerApp: app})
		if err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(out, "   engine.Payments.Pay opens %s at WeChat Pay for sub_mchid %s (profit sharing: %v)\n", yuan(pay.Amount), pay.Account.SubMerchant, pay.ProfitSharing)
		if body := lastPrepay(platform); body != "" {
			fmt.Fprintf(out, "   partner prepay: %s\n", body)
		}
		fmt.Fprintf(out, "   wx.requestPayment in app %s, package %s…\n", prepay.ClientParams["appId"], prepay.ClientParams["package"][:13])
		n, err := platform.Pay(pay.PaymentNo)
		if err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(out, "   💳 paid; TRANSACTION.SUCCESS → handler answered %d\n", notify(n))
		if pay, err = engine.Payments.GetPayment(ctx, mm.m.ID, pay.ID); err != nil {
			return nil, nil, err
		}
		if _, err := shop.Ship(ctx, commerce.ShipParams{MerchantID: mm.m.ID, OrderID: o.ID, Shipment: commerce.Shipment{Carrier: "SF", TrackingNo: "SF" + o.ID.String()[:8]}}); err != nil {
			return nil, nil, err
		}
		if o, err = shop.ConfirmReceipt(ctx, mm.m.ID, o.ID); err != nil {
			return nil, nil, err
		}
		cs, err := engine.Promoter.OrderCommissions(ctx, mm.m.ID, o.ID)
		if err != nil {
			return nil, nil, err
		}
		for _, c := range cs {
			fmt.Fprintf(out, "   📦 shipped and received (%s); Lily's commission %s of %s, %s\n", o.Status, yuan(c.Amount), yuan(c.Base), c.Status)
		}
		return o, pay, nil
	}
	// 张 pays in A's Mini Program, so her openid is a sub_openid; 赵 pays
	// in the provider's app (B has none), a sp_openid.
	oa, payA, err := buy(a, "zhang", "oZhang_in_merchant_A_app_0001", merchAApp)
	if err != nil {
		return err
	}
	ob, payB, err := buy(b, "zhao", "oZhao_in_provider_app_000001", spAppID)
	if err != nil {
		return err
	}
	payDay := payA.PaidAt.In(cst)

	// 5. Settlement, seven days after receipt.
	clock.Advance(7*24*time.Hour + time.Minute)
	fmt.Fprintf(out, "\n⏰ %s: the after-sales window has closed\n", clock.Now().In(cst).Format("2006-01-02 15:04 CST"))
	for i := range 3 {
		due, err := engine.RunDue(ctx)
		if err != nil {
			return err
		}
		shares, err := engine.Payments.PaymentShares(ctx, a.m.ID, oa.ID)
		if err != nil {
			return err
		}
		state := "none opened"
		if len(shares) > 0 {
			state = string(shares[0].State)
			if state == "" {
				state = "not yet sent"
			}
		}
		fmt.Fprintf(out, "   engine.RunDue #%d: %s; A's sharing order: %s\n", i+1, due, state)
		// WeChat finishes a sharing order on its own time; the next run
		// asks it again.
		clock.Advance(2 * time.Minute)
	}
	shares, err := engine.Payments.PaymentShares(ctx, a.m.ID, oa.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n🔀 A's sharing orders (engine.Payments.PaymentShares):\n")
	for _, sh := range shares {
		fmt.Fprintf(out, "   out_order_no %s: %s\n", sh.OrderNo, sh.State)
		for _, l := range sh.Lines {
			fmt.Fprintf(out, "      %-9s %-30s %8s  %s\n", l.Party, l.Payee.Account, yuan(l.Amount), l.Result)
		}
	}
	if payA, err = engine.Payments.GetPayment(ctx, a.m.ID, payA.ID); err != nil {
		return err
	}
	rest, _ := payA.Amount.Sub(payA.Shared())
	fmt.Fprintf(out, "   shared %s of %s; the rest, %s, unfrozen to A\n", yuan(payA.Shared()), yuan(payA.Amount), yuan(rest))
	ledger, err := engine.Payments.Ledger(ctx, a.m.ID, oa.ID)
	if err != nil {
		return err
	}
	// The ledger books each movement (the payment's split, then each
	// share taken from the merchant); summed by party it is who got what.
	var parties []payment.Party
	byParty := map[payment.Party]commerce.Money{}
	for _, e := range ledger {
		if _, ok := byParty[e.Party]; !ok {
			parties = append(parties, e.Party)
			byParty[e.Party] = commerce.Zero(currency.CNY)
		}
		byParty[e.Party], _ = byParty[e.Party].Add(e.Amount)
	}
	var cells []string
	total := commerce.Zero(currency.CNY)
	for _, p := range parties {
		if !byParty[p].IsZero() {
			cells = append(cells, fmt.Sprintf("%s %s", p, yuan(byParty[p])))
			total, _ = total.Add(byParty[p])
		}
	}
	fmt.Fprintf(out, "📒 engine.Payments.Ledger of A's order, by party: %s = %s\n", strings.Join(cells, ", "), yuan(total))
	fmt.Fprintln(out, "🏦 WeChat Pay's books (platform.Received):")
	received := map[string]commerce.Money{}
	for _, acct := range []string{spMchID, lilyInA} {
		received[acct] = commerce.FromMinor(platform.Received(acct), currency.CNY)
		fmt.Fprintf(out, "   %-30s received %s\n", acct, yuan(received[acct]))
	}
	if sh, ok := platform.Sharing(payA.ProviderRef); ok {
		fmt.Fprintf(out, "   payment %s: shared %s, unfrozen %s, unsplit %s\n", payA.ProviderRef, fen(sh.Shared), fen(sh.Unfrozen), fen(sh.Unsplit))
	}
	cs, err := engine.Promoter.OrderCommissions(ctx, b.m.ID, ob.ID)
	if err != nil {
		return err
	}
	for _, c := range cs {
		fmt.Fprintf(out, "   B's commission %s is %s: payable by transfer\n", yuan(c.Amount), c.Status)
	}

	// 6. B's commission by transfer.
	po, err := engine.Promoter.Payout(ctx, promoter.PayoutParams{MerchantID: b.m.ID, Promoter: lily.ID})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n💸 engine.Promoter.Payout: bill %s of %s to %s from sub_mchid %s, %s\n", po.BillNo, yuan(po.Amount), po.Payee.Account, po.Account.SubMerchant, po.State)
	fmt.Fprintln(out, "📱 Lily accepts it in the Mini Program: wx.requestMerchantTransfer({")
	for _, k := range []string{"mchId", "subMchId", "appId", "subAppId", "package"} {
		if v, ok := po.ClientParams[k]; ok {
			if len(v) > 24 {
				v = v[:24] + "…"
			}
			fmt.Fprintf(out, "     %-9s %q,\n", k+":", v)
		}
	}
	fmt.Fprintln(out, "   })")
	n, err := platform.ConfirmTransfer(po.BillNo)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "🔔 WeChat Pay posts MCHTRANSFER.BILL.FINISHED → handler answered %d\n", notify(n))
	if po, err = engine.Promoter.GetPayout(ctx, po.BillNo); err != nil {
		return err
	}
	fmt.Fprintf(out, "   bill %s is %s\n", po.BillNo, po.State)
	fmt.Fprintln(out, "📒 engine.Promoter.PayoutStatement for Lily:")
	statements := map[string]*promoter.PayoutStatement{}
	for _, mm := range []*merchant{a, b} {
		st, err := engine.Promoter.PayoutStatement(ctx, promoter.PayoutParams{MerchantID: mm.m.ID, Promoter: lily.ID})
		if err != nil {
			return err
		}
		statements[mm.m.Profile.Name] = st
		how := "by transfer"
		if mm == a {
			how = "by profit sharing"
		}
		fmt.Fprintf(out, "   at %s: paid %s (%s), owed %s\n", mm.m.Profile.Name, yuan(orZero(st.Paid)), how, yuan(st.Owed))
	}

	// 7. Reconciliation of the payment day, once its bills are out (10:00
	// the next day, China time; the clock is days past that). Each
	// sub-merchant's bill is asked for by its sub_mchid.
	fmt.Fprintf(out, "\n🧾 engine.Payments.ReconcileDay of %s, per sub-merchant:\n", payDay.Format(time.DateOnly))
	reconciled := 0
	for _, mm := range []*merchant{a, b} {
		rep, err := engine.Payments.ReconcileDay(ctx, client.Name(), payment.Account{SubMerchant: mm.account.SubMerchant}, payDay)
		if err != nil {
			return err
		}
		reconciled++
		t := rep.Totals
		fmt.Fprintf(out, "   %s: lines %d; matched %d, applied %d, channel-only %d, minishop-only %d, differences %d\n",
			mm.account.SubMerchant, t.Lines, len(rep.Matched), len(rep.Applied), len(rep.ChannelOnly), len(rep.MinishopOnly), len(rep.Differences))
		fmt.Fprintf(out, "      paid %s (WeChat %s), fees %s (WeChat %s)\n", yuan(orZero(t.Paid)), yuan(orZero(t.ChannelPaid)), yuan(orZero(t.Fees)), yuan(orZero(t.ChannelFees).Round()))
	}

	recon := fmt.Sprintf("%d of 2 sub-merchant days reconciled", reconciled)
	fmt.Fprintf(out, "\n✅ Done: A sold %s: %s to the provider and %s to Lily by profit sharing, %s unfrozen to A;\n   B sold %s and paid Lily %s by transfer; %s\n",
		yuan(payA.Amount), yuan(received[spMchID]), yuan(received[lilyInA]), yuan(rest), yuan(payB.Amount), yuan(orZero(statements[b.m.Profile.Name].Paid)), recon)
	return nil
}

// lastPrepay summarises the last partner JSAPI request the platform took:
// the fields that make it a provider's payment for a sub-merchant.
func lastPrepay(p *wechatpaytest.Platform) string {
	reqs := p.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].URI != "/v3/pay/partner/transactions/jsapi" {
			continue
		}
		var body map[string]any
		if json.Unmarshal(reqs[i].Body, &body) != nil {
			return ""
		}
		fields := map[string]any{}
		flatten(body, fields)
		var parts []string
		for _, k := range []string{"sp_mchid", "sp_appid", "sub_mchid", "sub_appid", "sp_openid", "sub_openid", "profit_sharing"} {
			if v, ok := fields[k]; ok {
				parts = append(parts, fmt.Sprintf("%s=%v", k, v))
			}
		}
		return strings.Join(parts, " ")
	}
	return ""
}

// flatten gathers the leaves of a decoded JSON object by their own names
// (payer.sub_openid as sub_openid): the partner body's names are unique.
func flatten(m map[string]any, into map[string]any) {
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			flatten(sub, into)
			continue
		}
		into[k] = v
	}
}

func cny(s string) commerce.Money { return commerce.MustParseMoney(s, currency.CNY) }

// yuan formats an amount the way a Chinese customer reads it.
func yuan(m commerce.Money) string { return m.Format(language.Chinese) }

func fen(n int64) string { return yuan(commerce.FromMinor(n, currency.CNY)) }

func orZero(m commerce.Money) commerce.Money {
	if !m.IsSet() {
		return commerce.Zero(currency.CNY)
	}
	return m
}
