package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/httpapi"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/wechatpay"
	"github.com/minishop/minishop/payment/wechatpay/wechatpaytest"
	"github.com/minishop/minishop/promoter"
	"github.com/minishop/minishop/storage/sqlstore"
	"github.com/minishop/minishop/wechat"
	"github.com/minishop/minishop/wechat/wechattest"
)

// options configure a server.
type options struct {
	Addr string
	// DB is the SQLite file; DSN, when set, a PostgreSQL or MySQL server
	// instead.
	DB, DSN string
	// Due is how often RunDue runs (0: never, for tests that run it
	// themselves).
	Due time.Duration
	// Quiet logs warnings and errors only (the load test's requests would
	// drown the rest).
	Quiet bool
}

//go:embed web
var webFS embed.FS

// server is the shop: the engine over its store, the local WeChat, and
// the mux that serves the APIs, the pages and the /dev endpoints.
type server struct {
	url      string
	log      *slog.Logger
	store    *sqlstore.Store
	engine   *minishop.Engine
	plat     *wechattest.Platform
	pay      *wechatpaytest.Platform
	sessions *wechat.Sessions
	metrics  *metrics
	demo     demo
	mux      *http.ServeMux
	dueEvery time.Duration

	mu sync.Mutex
	// users are the local platform's users by the name the storefront
	// logs in with; promoters the openids the shop made promoters.
	users     map[string]wechattest.User
	promoters map[string]promoter.PromoterID
}

// openStore opens the SQLite file, or the server a DSN names, with a pool
// that keeps its connections (database/sql keeps 2 idle by default; a busy
// server would then open a connection for most requests).
func openStore(ctx context.Context, o options) (*sqlstore.Store, error) {
	pool := func(db *sql.DB) *sql.DB {
		db.SetMaxOpenConns(32)
		db.SetMaxIdleConns(32)
		return db
	}
	switch {
	case o.DSN == "":
		if err := os.MkdirAll(filepath.Dir(o.DB), 0o755); err != nil {
			return nil, err
		}
		return sqlstore.Open(ctx, o.DB, sqlstore.Options{})
	case strings.HasPrefix(o.DSN, "postgres://") || strings.HasPrefix(o.DSN, "postgresql://"):
		db, err := sql.Open("pgx", o.DSN)
		if err != nil {
			return nil, err
		}
		return sqlstore.OpenDB(ctx, pool(db), sqlstore.Postgres, sqlstore.Options{})
	default:
		db, err := sql.Open("mysql", o.DSN)
		if err != nil {
			return nil, err
		}
		return sqlstore.OpenDB(ctx, pool(db), sqlstore.MySQL, sqlstore.Options{})
	}
}

func newServer(ctx context.Context, o options, url string, log *slog.Logger) (s *server, err error) {
	s = &server{url: url, log: log, metrics: newMetrics(), mux: http.NewServeMux(), dueEvery: o.Due,
		users: map[string]wechattest.User{}, promoters: map[string]promoter.PromoterID{}}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.store, err = openStore(ctx, o); err != nil {
		return nil, err
	}
	// WeChat, played locally: the platform and WeChat Pay.
	if s.plat, err = wechattest.NewPlatform(wechattest.Options{}); err != nil {
		return nil, err
	}
	if s.pay, err = wechatpaytest.NewPlatform(wechatpaytest.Options{AppID: s.plat.AppID()}); err != nil {
		return nil, err
	}
	payClient, err := wechatpay.New(s.pay.Config(url + "/api/notify/wechatpay"))
	if err != nil {
		return nil, err
	}
	s.engine, err = minishop.New(s.store, minishop.WithPayments(payClient), minishop.WithWeChat(minishop.WeChat{MiniProgram: s.plat.Config(nil)}))
	if err != nil {
		return nil, err
	}
	if s.sessions, err = wechat.NewSessions(nil, wechat.SessionSecret{ID: "demo", Key: randomKey()}); err != nil {
		return nil, err
	}
	if s.demo, err = seed(ctx, s.engine); err != nil {
		return nil, fmt.Errorf("seeding the demo shop: %w", err)
	}
	s.demo.OperatorToken = hex.EncodeToString(randomKey()[:12])
	s.routes(o.Quiet)
	return s, nil
}

func randomKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

// Close stops the local WeChat and closes the store.
func (s *server) Close() {
	if s.plat != nil {
		s.plat.Close()
	}
	if s.pay != nil {
		s.pay.Close()
	}
	if s.store != nil {
		s.store.Close()
	}
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *server) routes(quiet bool) {
	onError := func(r *http.Request, err error) {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	customer := httpapi.NewCustomer(s.engine, httpapi.CustomersFunc(s.customer), httpapi.Config{OnError: onError})
	merchant := httpapi.NewMerchant(s.engine, httpapi.OperatorsFunc(s.operator), httpapi.Config{OnError: onError})
	s.mux.Handle("/api/", http.StripPrefix("/api", s.instrument("/api", customer, quiet)))
	s.mux.Handle("/admin/", http.StripPrefix("/admin", s.instrument("/admin", merchant, quiet)))
	s.mux.HandleFunc("POST /login", s.login)
	s.mux.HandleFunc("POST /dev/login", s.devLogin)
	s.mux.HandleFunc("POST /dev/wechatpay/pay", s.devPay)
	s.mux.HandleFunc("POST /dev/wechatpay/refunds", s.devRefunds)
	s.mux.HandleFunc("GET /demo.json", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.demo) })
	s.mux.Handle("GET /metrics", s.metrics)
	web, _ := fs.Sub(webFS, "web")
	files := http.FileServerFS(web)
	s.mux.Handle("GET /web/", http.StripPrefix("/web", files))
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.ServeFileFS(w, r, web, "shop.html") })
	s.mux.HandleFunc("GET /console", func(w http.ResponseWriter, r *http.Request) { http.ServeFileFS(w, r, web, "console.html") })
}

// bearer is the request's bearer token.
func bearer(r *http.Request) string {
	t, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return strings.TrimSpace(t)
}

// customer verifies the session token the login gave.
func (s *server) customer(r *http.Request, _ commerce.MerchantID) (httpapi.Customer, error) {
	tok := bearer(r)
	if tok == "" {
		return httpapi.Customer{}, fmt.Errorf("log in first: %w", httpapi.ErrUnauthenticated)
	}
	c, err := s.sessions.Verify(tok)
	if err != nil {
		return httpapi.Customer{}, fmt.Errorf("%v: %w", err, httpapi.ErrUnauthenticated)
	}
	s.mu.Lock()
	p := s.promoters[c.OpenID]
	s.mu.Unlock()
	return httpapi.Customer{ID: c.Customer, OpenID: c.OpenID, Promoter: p}, nil
}

// operator lets the demo's one operator token touch the demo shop.
func (s *server) operator(r *http.Request) (httpapi.Operator, error) {
	if bearer(r) != s.demo.OperatorToken {
		return httpapi.Operator{}, httpapi.ErrUnauthenticated
	}
	return httpapi.Operator{ID: "demo", Merchants: []commerce.MerchantID{s.demo.merchant}}, nil
}

// login is what the Mini Program's wx.login code is exchanged for: the
// shop's own session token.
func (s *server) login(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Code string `json:"code"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&req); err != nil || req.Code == "" {
		writeProblem(w, http.StatusBadRequest, "code", "send {\"code\": \"<wx.login code>\"}")
		return
	}
	l, err := s.engine.WeChat.Login(r.Context(), req.Code)
	if err != nil {
		writeProblem(w, http.StatusBadRequest, "code", err.Error())
		return
	}
	tok, err := s.sessions.Issue(l, 7*24*time.Hour)
	if err != nil {
		writeProblem(w, http.StatusInternalServerError, "", "internal error")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"token": tok, "customer": string(l.Customer)})
}

// devLogin plays wx.login for the storefront: a code of the local
// platform's user called name (the same user each time). "lily" is the
// shop's promoter.
func (s *server) devLogin(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string `json:"name"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&req); err != nil || req.Name == "" || len(req.Name) > 32 {
		writeProblem(w, http.StatusBadRequest, "name", "send {\"name\": \"…\"} (at most 32 bytes)")
		return
	}
	s.mu.Lock()
	u, ok := s.users[req.Name]
	if !ok {
		u = s.plat.NewUser()
		s.users[req.Name] = u
		if req.Name == "lily" {
			s.promoters[u.OpenID] = s.demo.promoter
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"code": s.plat.LoginCode(u)})
}

// devPay plays the customer paying in WeChat Pay's cashier: the local
// WeChat Pay pays the payment and sends its notification to the notify
// URL, as WeChat Pay would.
func (s *server) devPay(w http.ResponseWriter, r *http.Request) {
	var req struct {
		PaymentNo string `json:"payment_no"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&req); err != nil || req.PaymentNo == "" {
		writeProblem(w, http.StatusBadRequest, "payment_no", "send {\"payment_no\": \"…\"}")
		return
	}
	n, err := s.pay.Pay(req.PaymentNo)
	if err != nil {
		writeProblem(w, http.StatusNotFound, "payment_no", err.Error())
		return
	}
	status, _, err := s.pay.Deliver(r.Context(), n)
	if err != nil || status >= 300 {
		writeProblem(w, http.StatusBadGateway, "", fmt.Sprintf("the notify URL answered %d: %v", status, err))
		return
	}
	// WeChat Pay and the shipping service are one WeChat; here two local
	// servers, so the payment is handed over for the shipping upload.
	if o, ok := s.pay.Order(req.PaymentNo); ok {
		s.plat.AddPayment(o.TransactionID, req.PaymentNo, s.pay.MchID(), o.OpenID, o.Total)
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "paid"})
}

// devRefunds plays WeChat Pay finishing an order's refunds, which it does
// minutes after accepting them: the local WeChat Pay marks each refund of
// the order it is still processing a success and sends its notification
// to the notify URL.
func (s *server) devRefunds(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Order string `json:"order"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&req); err != nil || req.Order == "" {
		writeProblem(w, http.StatusBadRequest, "order", "send {\"order\": \"<order id>\"}")
		return
	}
	id, err := commerce.ParseID[commerce.OrderID](req.Order)
	if err != nil {
		writeProblem(w, http.StatusBadRequest, "order", err.Error())
		return
	}
	pays, err := s.engine.Payments.OrderPayments(r.Context(), s.demo.merchant, id)
	if err != nil {
		writeProblem(w, http.StatusNotFound, "order", err.Error())
		return
	}
	finished := 0
	for _, p := range pays {
		for _, rf := range p.Refunds {
			if rf.Status != payment.RefundProcessing {
				continue
			}
			n, err := s.pay.FinishRefund(rf.RefundNo, "SUCCESS")
			if err != nil {
				continue // not submitted to WeChat Pay yet: RunDue will
			}
			if status, _, err := s.pay.Deliver(r.Context(), n); err != nil || status >= 300 {
				writeProblem(w, http.StatusBadGateway, "", fmt.Sprintf("the notify URL answered %d: %v", status, err))
				return
			}
			finished++
		}
	}
	writeJSON(w, http.StatusOK, map[string]int{"finished": finished})
}

// background runs RunDue on its ticker and relays the outbox until ctx
// ends.
func (s *server) background(ctx context.Context) {
	relay := time.NewTicker(200 * time.Millisecond)
	defer relay.Stop()
	var due <-chan time.Time
	if s.dueEvery > 0 {
		t := time.NewTicker(s.dueEvery)
		defer t.Stop()
		due = t.C
	}
	var after uint64
	if evs, err := s.engine.Commerce.ReadEvents(ctx, 0, 1<<20); err == nil && len(evs) > 0 {
		after = evs[len(evs)-1].Seq // relay what happens from now on
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-due:
			rep, err := s.engine.RunDue(ctx)
			if err != nil && !errors.Is(err, context.Canceled) {
				s.log.Error("run due", "err", err)
			} else if rep.String() != "nothing due" {
				s.log.Info("run due", "report", rep.String())
			}
		case <-relay.C:
			after = s.relay(ctx, after)
		}
	}
}

// relay hands the outbox's new events on: here to the log and the
// metrics, in a real shop to a queue. Seq is the cursor; a consumer
// drops a redelivered event by its ID.
func (s *server) relay(ctx context.Context, after uint64) uint64 {
	for {
		evs, err := s.engine.Commerce.ReadEvents(ctx, after, 500)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("outbox", "err", err)
			}
			return after
		}
		for _, ev := range evs {
			s.metrics.event(ev.Type)
			s.log.Debug("event", "type", ev.Type, "aggregate", ev.AggregateID, "seq", ev.Seq)
			after = ev.Seq
		}
		if len(evs) < 500 {
			return after
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeProblem answers a /dev or /login request in the APIs' error shape.
func writeProblem(w http.ResponseWriter, status int, field, msg string) {
	kind := "invalid"
	switch status {
	case http.StatusNotFound:
		kind = "not_found"
	case http.StatusInternalServerError, http.StatusBadGateway:
		kind = "internal"
	}
	writeJSON(w, status, map[string]httpapi.Problem{"error": {Kind: kind, Field: field, Message: msg}})
}
