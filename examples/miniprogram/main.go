// Command miniprogram tells how a shop goes live in a WeChat Mini Program
// with minishop: the customer logs in with wx.login's code and gets a
// session for the shop's own API; they accept the "order shipped"
// subscription message; they buy and pay through WeChat Pay; the merchant
// ships, and engine.RunDue uploads the shipping info WeChat needs before it
// releases the money and sends the subscription message; WeChat's pushes
// (signed and encrypted) reach the shop's developer-server URL, which
// applies them once: the settlement estimate, then the settlement, each
// recorded on the order and announced in the outbox. A share code for the
// product closes the story: a Mini Program code whose 32-character scene
// resolves to the long share payload.
//
// It runs against a local WeChat platform (wechat/wechattest) and a local
// WeChat Pay (payment/wechatpay/wechatpaytest), real HTTP servers on
// loopback that check every call as WeChat does, on a SQLite file in the
// system's temporary directory unless -db names one.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/wechatpay"
	"github.com/minishop/minishop/payment/wechatpay/wechatpaytest"
	"github.com/minishop/minishop/storage/sqlstore"
	"github.com/minishop/minishop/wechat"
	"github.com/minishop/minishop/wechat/wechattest"
)

func main() {
	db := flag.String("db", filepath.Join(os.TempDir(), "minishop-miniprogram", "shop.db"), "SQLite database file")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, *db); err != nil {
		log.Fatal(err)
	}
}

// The developer server's push settings, as set in the Mini Program's
// admin console (开发管理 → 消息推送), in safe mode.
const (
	pushToken      = "minishopPush2026"
	encodingAESKey = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
	shippedID      = "TPL-order-shipped" // the subscription template the shop chose
)

func run(ctx context.Context, w io.Writer, db string) error { return story(ctx, w, db, nil) }

// story tells the story; seen, when set, is shown the parts once it ends
// (the test reads the secrets they hold).
func story(ctx context.Context, w io.Writer, db string, seen func(*wechattest.Platform, *wechatpaytest.Platform, *minishop.Engine)) error {
	if err := os.MkdirAll(filepath.Dir(db), 0o755); err != nil {
		return err
	}
	store, err := sqlstore.Open(ctx, db, sqlstore.Options{})
	if err != nil {
		return err
	}
	defer store.Close()

	// WeChat, played locally: the platform (api.weixin.qq.com) and WeChat
	// Pay (api.mch.weixin.qq.com), for one Mini Program.
	plat, err := wechattest.NewPlatform(wechattest.Options{})
	if err != nil {
		return err
	}
	defer plat.Close()
	plat.AddTemplate(shippedID, map[string]string{"character_string1": "character_string", "thing2": "thing", "thing3": "thing"}, false)
	plat.AddPage("pages/order/detail")
	pay, err := wechatpaytest.NewPlatform(wechatpaytest.Options{AppID: plat.AppID()})
	if err != nil {
		return err
	}
	defer pay.Close()

	// The shop's server: WeChat Pay's notify URL and the developer server
	// URL WeChat pushes to.
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	payClient, err := wechatpay.New(pay.Config(srv.URL + "/wechatpay/notify"))
	if err != nil {
		return err
	}
	engine, err := minishop.New(store, minishop.WithPayments(payClient), minishop.WithWeChat(minishop.WeChat{
		MiniProgram: plat.Config(nil), // in production: wechat.Config{AppID: ..., Secret: ...}
		Push:        wechat.PushConfig{Token: pushToken, EncodingAESKey: encodingAESKey},
		Messages: func(c *wechat.MessagesConfig) {
			c.Templates = []wechat.Template{{Event: "order.shipped", ID: shippedID, Page: "pages/order/detail",
				Data: func(_ context.Context, ev commerce.Event) (wechat.Content, error) {
					f, err := wechat.ReadEvent(ev)
					return wechat.Content{Customer: f.Customer, Page: "pages/order/detail?id=" + f.OrderID, Fields: map[string]string{
						"character_string1": strings.ReplaceAll(f.OrderID, "-", "")[:20], "thing2": "西湖龙井 100 g", "thing3": "顺丰已揽收，请留意查收"}}, err
				}}}
		},
	}))
	if err != nil {
		return err
	}
	mux.Handle("POST /wechatpay/notify", engine.Payments.NotificationHandler(payClient.Name(), nil))
	push, err := engine.PushHandler(nil)
	if err != nil {
		return err
	}
	mux.Handle("/wechat/push", push)
	pushURL := srv.URL + "/wechat/push"
	managed, err := engine.Shipping.CheckManaged(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "📱 Mini Program %s, under shipping-info management: %v\n", plat.AppID(), managed)
	if err := engine.Shipping.SetJumpPath(ctx, "pages/order/detail"); err != nil {
		return err
	}

	shop := engine.Commerce
	m, err := shop.CreateMerchant(ctx, commerce.MerchantParams{Currency: "CNY", Profile: commerce.ShopProfile{Name: "西湖茶舍"}})
	if err != nil {
		return err
	}
	tea, err := shop.CreateProduct(ctx, commerce.ProductParams{MerchantID: m.ID, Title: "西湖龙井 100 g", State: commerce.Listed,
		SKUs: []commerce.SKUParams{{Price: commerce.MustParseMoney("139.00", m.Currency), Stock: 20}}})
	if err != nil {
		return err
	}

	// 1. Login: wx.login's code becomes the customer's openid; the session
	// key stays on the server, the Mini Program gets the shop's own token.
	user := plat.NewUser()
	login, err := engine.WeChat.Login(ctx, plat.LoginCode(user))
	if err != nil {
		return err
	}
	sessions, err := wechat.NewSessions(nil, wechat.SessionSecret{ID: "2026a", Key: []byte("a session secret of 128 bits+")})
	if err != nil {
		return err
	}
	token, err := sessions.Issue(login, 7*24*time.Hour)
	if err != nil {
		return err
	}
	claims, err := sessions.Verify(token)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "🔑 wx.login → openid %s…, customer %s…; session token for the shop's API verifies (expires %s)\n",
		login.OpenID[:8], string(login.Customer)[:8], claims.Expires.Format("2006-01-02"))

	// 2. The customer accepts the "shipped" message in the popup; WeChat
	// pushes the acceptance to the developer server.
	accepted := plat.Subscribe(user.OpenID, shippedID)
	status, _, err := plat.Push(pushURL, wechattest.SubscriptionEvent{Event: accepted.Event, OpenID: user.OpenID,
		List: []wechattest.SubscriptionItem{{TemplateID: shippedID, Status: "accept"}}}, wechattest.PushOptions{Token: pushToken, EncodingAESKey: encodingAESKey})
	if err != nil {
		return err
	}
	consent, err := engine.Messages.Consent(ctx, user.OpenID, shippedID)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "🔔 subscription accepted (push answered %d): %d message allowed\n", status, consent.Credits)

	// 3. Order and pay through WeChat Pay.
	order, err := shop.Checkout(ctx, commerce.CheckoutParams{MerchantID: m.ID, CustomerID: login.Customer, IdempotencyKey: "mp-1",
		Lines:           []commerce.LineItem{{SKU: tea.SKUs[0].ID, Quantity: 1}},
		ShippingAddress: &commerce.Address{Name: "李雷", Phone: "13800001234", Province: "浙江省", City: "杭州市", District: "西湖区", Detail: "龙井路 1 号"}})
	if err != nil {
		return err
	}
	p, _, err := engine.Payments.Pay(ctx, payment.PayParams{MerchantID: m.ID, OrderID: order.ID, Payer: login.OpenID})
	if err != nil {
		return err
	}
	n, err := pay.Pay(p.PaymentNo)
	if err != nil {
		return err
	}
	if _, _, err := pay.Deliver(ctx, n); err != nil {
		return err
	}
	if p, err = engine.Payments.GetPayment(ctx, m.ID, p.ID); err != nil {
		return err
	}
	fen, err := p.Amount.Minor()
	if err != nil {
		return err
	}
	// WeChat Pay and the shipping service are one WeChat; here two local
	// servers, so the payment is handed over by hand.
	plat.AddPayment(p.ProviderRef, p.PaymentNo, pay.MchID(), p.Payer, fen)
	fmt.Fprintf(w, "💳 order …%s paid %s through WeChat Pay, transaction %s (the money is frozen until it ships)\n",
		short(order.ID.String()), p.Amount, p.ProviderRef)

	// 4. Ship: the merchant records the parcel; RunDue uploads the
	// shipping info and sends the message.
	if _, err := shop.Ship(ctx, commerce.ShipParams{MerchantID: m.ID, OrderID: order.ID,
		Shipment: commerce.Shipment{Carrier: "SF", TrackingNo: "SF1234567890123"}}); err != nil {
		return err
	}
	rep, err := engine.RunDue(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "🚚 shipped by SF; engine.RunDue: %s\n", rep)
	held, _ := plat.ShippingOf(p.ProviderRef)
	for _, pc := range held.List {
		fmt.Fprintf(w, "   WeChat holds: %s %s, %q, receiver %s (order state %d)\n", pc.ExpressCompany, pc.TrackingNo, pc.ItemDesc, pc.ReceiverContact, held.State)
	}
	for _, s := range plat.Sent(user.OpenID) {
		fmt.Fprintf(w, "   subscription message %s sent: %s / %s\n", s.TemplateID, s.Data["thing2"], s.Data["thing3"])
	}

	// 5. WeChat's pushes: the settlement estimate at shipping; the buyer
	// confirms receipt, the money settles.
	pushOpts := wechattest.PushOptions{Token: pushToken, EncodingAESKey: encodingAESKey}
	now := time.Now()
	settlement := wechattest.OrderSettlement{TransactionID: p.ProviderRef, MerchantID: pay.MchID(), MerchantTradeNo: p.PaymentNo,
		PayTime: p.PaidAt, ShippedTime: now, EstimatedSettlementTime: now.Add(10 * 24 * time.Hour)}
	for range 2 { // WeChat retries a push it thinks was lost; it applies once
		if _, _, err := plat.Push(pushURL, settlement, pushOpts); err != nil {
			return err
		}
	}
	plat.ConfirmReceipt(p.ProviderRef)
	plat.Settle(p.ProviderRef)
	settlement.EstimatedSettlementTime = time.Time{}
	settlement.CreateTime = now.Add(time.Second) // in life days later: another push, not a redelivery
	settlement.ConfirmReceiveMethod, settlement.ConfirmReceiveTime, settlement.SettlementTime = 2, now, now
	if _, _, err := plat.Push(pushURL, settlement, pushOpts); err != nil {
		return err
	}
	// A push whose signature does not hold is refused and changes nothing.
	forged, _, err := plat.Push(pushURL, settlement, wechattest.PushOptions{Token: pushToken, EncodingAESKey: encodingAESKey, Tamper: wechattest.TamperMsgSignature})
	if err != nil {
		return err
	}
	rec, _, err := engine.Shipping.Record(ctx, order.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "📬 pushes applied once: settlement expected %s, settled %s (confirmed by the buyer); a forged push got %d\n",
		rec.EstimatedSettlement.Format("01-02"), rec.Settled.Format("01-02"), forged)
	evs, err := shop.ReadEvents(ctx, 0, 1000)
	if err != nil {
		return err
	}
	for _, ev := range evs {
		if ev.AggregateID == order.ID.String() {
			fmt.Fprintf(w, "   outbox: %s\n", ev.Type)
		}
	}

	// 6. A share code for the tea: the payload is longer than a scene's 32
	// characters, so the scene is a short code minishop resolves.
	png, scene, err := engine.WeChat.ShareCode(ctx, wechat.ScenePayload{Kind: "share",
		Data: `{"product":"` + tea.ID.String() + `","sharer":"` + login.OpenID + `","channel":"group"}`},
		wechat.CodeParams{Page: "pages/index/index"})
	if err != nil {
		return err
	}
	opened, err := engine.WeChat.ResolveScene(ctx, scene)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "🔗 share code: %d-byte PNG, scene %q → %s payload of %d bytes\n", len(png), scene, opened.Kind, len(opened.Data))
	if seen != nil {
		seen(plat, pay, engine)
	}
	return nil
}

func short(s string) string { return s[len(s)-6:] }
