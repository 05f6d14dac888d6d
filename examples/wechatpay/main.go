// Command wechatpay shows how a host wires minishop's WeChat Pay adapter
// (payment/wechatpay): credentials from the environment, a Client, and an
// http.Handler at the notify URL that verifies what WeChat Pay posts and
// acknowledges it.
//
// With no WECHATPAY_* variables set it explains what to configure and then
// plays the whole Mini Program flow against a local WeChat Pay
// (payment/wechatpay/wechatpaytest): an order of ¥216.00 is prepaid, the
// wx.requestPayment parameters are printed, the customer pays, WeChat Pay
// posts the notification to the host's handler, and a partial refund
// follows with its own notification.
//
// With the variables set it talks to the real WeChat Pay: it opens a ¥0.01
// payment when WECHATPAY_OPENID names a payer, and serves the notification
// handler on WECHATPAY_LISTEN (default :8080) until interrupted. Put TLS in
// front of it: WeChat Pay only posts to https URLs.
//
// The example uses the wechatpay Client directly. In a host, the handler
// would hand each verified notification to payment.Service, which records
// it against the order.
package main

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"golang.org/x/text/currency"
	"golang.org/x/text/language"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/wechatpay"
	"github.com/minishop/minishop/payment/wechatpay/wechatpaytest"
)

func main() {
	if err := run(context.Background(), os.Stdout, os.Getenv); err != nil {
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

func run(ctx context.Context, w io.Writer, getenv func(string) string) error {
	out := &syncWriter{w: w}
	cfg, configured, err := configFromEnv(getenv)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "WeChat Pay × minishop")
	fmt.Fprintln(out, "─────────────────────")
	if configured {
		return live(ctx, out, cfg, getenv)
	}
	fmt.Fprintln(out, "No WeChat Pay credentials in the environment, so this run uses a local")
	fmt.Fprintln(out, "WeChat Pay (wechatpaytest). To use your merchant account, set:")
	for _, v := range envVars {
		fmt.Fprintf(out, "  %-29s %s\n", v.name, v.what)
	}
	fmt.Fprintln(out)
	return demo(ctx, out)
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

// notificationHandler is what a host mounts at its notify URL: verify,
// handle once, acknowledge. WeChat Pay retries until it gets a 2XX, so
// duplicates are normal and are acknowledged without acting twice.
type notificationHandler struct {
	client *wechatpay.Client
	out    io.Writer

	mu   sync.Mutex
	seen map[string]bool // a host keeps this in its database
}

func (h *notificationHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n, err := h.client.ParseNotification(r.Context(), r)
	if err != nil {
		fmt.Fprintf(h.out, "   ⛔ rejected: %v\n", err)
		wechatpay.NotificationAck(w, err)
		return
	}
	h.mu.Lock()
	dup := h.seen[n.ID]
	h.seen[n.ID] = true
	h.mu.Unlock()
	if dup {
		fmt.Fprintf(h.out, "   ↩️  notification %s was handled already; acknowledged again\n", n.ID)
		wechatpay.NotificationAck(w, nil)
		return
	}
	switch n.Kind {
	case payment.NotifyPayment:
		tx := n.Transaction
		fmt.Fprintf(h.out, "   ✅ verified: payment %s %s — %s from %s\n", tx.PaymentNo, tx.State, yuan(tx.Amount), tx.Payer)
		fmt.Fprintf(h.out, "      WeChat transaction %s, paid %s\n", tx.ProviderRef, chinaTime(tx.PaidAt))
	case payment.NotifyRefund:
		rf := n.Refund
		fmt.Fprintf(h.out, "   ✅ verified: refund %s of %s %s", rf.RefundNo, yuan(rf.Amount), rf.State)
		if !rf.At.IsZero() {
			fmt.Fprintf(h.out, " at %s", chinaTime(rf.At))
		}
		if rf.Reason != "" {
			fmt.Fprintf(h.out, " (%s)", rf.Reason)
		}
		fmt.Fprintln(h.out)
	}
	wechatpay.NotificationAck(w, nil)
}

// demo runs the Mini Program flow against a local WeChat Pay.
func demo(ctx context.Context, out io.Writer) error {
	platform, err := wechatpaytest.NewPlatform(wechatpaytest.Options{})
	if err != nil {
		return err
	}
	defer platform.Close()

	// The host's side: a notification handler on a local address (WeChat
	// requires https; the adapter allows http for loopback hosts only).
	handler := &notificationHandler{out: out, seen: map[string]bool{}}
	host := httptest.NewServer(handler)
	defer host.Close()
	notifyURL := host.URL + "/wechatpay/notify"

	client, err := wechatpay.New(platform.Config(notifyURL))
	if err != nil {
		return err
	}
	handler.client = client
	fmt.Fprintf(out, "🏦 Local WeChat Pay at %s: merchant %s, app %s\n", platform.URL(), platform.MchID(), platform.AppID())
	fmt.Fprintf(out, "🏠 The host's notification handler at %s\n\n", notifyURL)

	stamp := time.Now().Format("20060102150405")
	paymentNo, refundNo := "PAY"+stamp, "REF"+stamp
	total := commerce.MustParseMoney("216.00", currency.CNY)
	payer := "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"

	fmt.Fprintf(out, "🛒 Order %s: %s, paid by %s\n", paymentNo, yuan(total), payer)
	prepay, err := client.CreatePayment(ctx, payment.CreateRequest{
		PaymentNo:   paymentNo,
		Description: "minishop 示例店 - 2 件商品",
		Amount:      total,
		Payer:       payer,
		ExpiresAt:   time.Now().Add(30 * time.Minute),
		Attach:      "order=" + paymentNo,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "📨 Prepay opened: %s\n", prepay.PrepayID)
	printRequestPayment(out, prepay.ClientParams)

	fmt.Fprintln(out, "💳 The customer confirms in WeChat and pays…")
	paid, err := platform.Pay(paymentNo)
	if err != nil {
		return err
	}
	if err := deliver(ctx, out, platform, paid, "🔔 WeChat Pay posts TRANSACTION.SUCCESS to the host"); err != nil {
		return err
	}
	if err := deliver(ctx, out, platform, paid, "🔁 WeChat Pay sends the same notification again (it retries)"); err != nil {
		return err
	}
	forged, err := platform.Tamper(paid, wechatpaytest.TamperSignature)
	if err != nil {
		return err
	}
	if err := deliver(ctx, out, platform, forged, "🕵️  Someone posts a forged copy, signed with another key"); err != nil {
		return err
	}

	tx, err := client.QueryPayment(ctx, paymentNo)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "🔎 Query %s: %s, %s\n\n", paymentNo, tx.State, yuan(tx.Amount))

	part := commerce.MustParseMoney("16.00", currency.CNY)
	refund, err := client.Refund(ctx, payment.RefundRequest{
		RefundNo:    refundNo,
		PaymentNo:   paymentNo,
		ProviderRef: tx.ProviderRef,
		Amount:      part,
		Total:       total,
		Reason:      "尺码不合适",
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "💸 Partial refund %s of %s (尺码不合适): %s\n", refund.RefundNo, yuan(refund.Amount), refund.State)
	refunded, err := platform.FinishRefund(refundNo, "SUCCESS")
	if err != nil {
		return err
	}
	if err := deliver(ctx, out, platform, refunded, "🔔 WeChat Pay posts REFUND.SUCCESS to the host"); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nDone: %s paid, %s refunded. In a host, payment.Service records both.\n", yuan(total), yuan(part))
	return nil
}

// deliver has the platform post n to the host and reports the answer.
func deliver(ctx context.Context, out io.Writer, p *wechatpaytest.Platform, n *wechatpaytest.Notification, title string) error {
	fmt.Fprintln(out, title)
	status, _, err := p.Deliver(ctx, n)
	if err != nil {
		return err
	}
	verdict := "WeChat Pay stops retrying"
	if status >= 300 {
		verdict = "refused (WeChat Pay retries what it really sent; a forger gets nothing)"
	}
	fmt.Fprintf(out, "   host answered %d → %s\n", status, verdict)
	return nil
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

// live wires the adapter to the real WeChat Pay.
func live(ctx context.Context, out io.Writer, cfg wechatpay.Config, getenv func(string) string) error {
	client, err := wechatpay.New(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "🏦 WeChat Pay merchant %s, app %s, %d platform key(s)\n", cfg.MchID, cfg.AppID, len(cfg.PlatformKeys))
	if openid := strings.TrimSpace(getenv("WECHATPAY_OPENID")); openid != "" {
		no := "PAY" + time.Now().Format("20060102150405")
		prepay, err := client.CreatePayment(ctx, payment.CreateRequest{
			PaymentNo:   no,
			Description: "minishop test payment",
			Amount:      commerce.FromMinor(1, currency.CNY),
			Payer:       openid,
			ExpiresAt:   time.Now().Add(30 * time.Minute),
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "🛒 Test payment %s of ¥0.01 opened\n", no)
		printRequestPayment(out, prepay.ClientParams)
	}

	u, err := url.Parse(cfg.NotifyURL)
	if err != nil {
		return err
	}
	path := u.Path
	if path == "" {
		path = "/"
	}
	mux := http.NewServeMux()
	mux.Handle("POST "+path, &notificationHandler{client: client, out: out, seen: map[string]bool{}})
	addr := strings.TrimSpace(getenv("WECHATPAY_LISTEN"))
	if addr == "" {
		addr = ":8080"
	}
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Fprintf(out, "🏠 Handling notifications for %s on %s (Ctrl-C to stop)\n", cfg.NotifyURL, addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// yuan formats an amount the way a Chinese customer reads it.
func yuan(m commerce.Money) string { return m.Format(language.Chinese) }

func chinaTime(t time.Time) string {
	return t.In(time.FixedZone("CST", 8*60*60)).Format("2006-01-02 15:04:05 CST")
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
