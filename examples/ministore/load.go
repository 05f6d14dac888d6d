package main

// The load mode (-load): the server on a real loopback listener, a crowd
// of simulated customers driving a mixed workload at it over TCP, a table
// of what they saw, and then the store's invariants checked directly.
//
//	go run ./examples/ministore -load -duration 20s -requests 20000 -clients 16 [-dsn …]

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/httpapi"
	"github.com/minishop/minishop/payment"
)

// loadConfig bounds a load run: it stops at whichever bound comes first.
type loadConfig struct {
	Duration time.Duration
	Requests int64 // 0: no bound but the duration
	Clients  int
}

// The workload's mix, in percent of the flows a customer picks.
const (
	browseWeight   = 70 // GET the product list, GET a product
	cartWeight     = 20 // PUT a cart item, GET the cart, POST a quote
	checkoutWeight = 10 // POST an order (sometimes twice), POST pay, pay in WeChat Pay
)

// Endpoint names are the server's route patterns (what its metrics call
// them), so the client's figures line up with the server's own.
const (
	epProducts = "GET /api/shops/{merchant}/products"
	epProduct  = "GET /api/shops/{merchant}/products/{product}"
	epSetCart  = "PUT /api/shops/{merchant}/cart/items/{sku}"
	epCart     = "GET /api/shops/{merchant}/cart"
	epQuote    = "POST /api/shops/{merchant}/quote"
	epCheckout = "POST /api/shops/{merchant}/orders"
	// epReplay is the checkout resent with the key of an earlier one: the
	// same route, kept apart because it does other work (a look-up).
	epReplay = "POST /api/shops/{merchant}/orders (replay)"
	epPay    = "POST /api/shops/{merchant}/orders/{order}/pay"
	epDevPay = "POST /dev/wechatpay/pay"
)

// loadResult is what a run measured and found.
type loadResult struct {
	Config   loadConfig
	Backend  string
	Elapsed  time.Duration
	Requests int64
	// Endpoints are the client's figures per route.
	Endpoints map[string]*endpointStats
	// Errors are unexpected answers by kind ("503 unavailable",
	// "transport"); Expected the business refusals a shop under load
	// gives (out of stock), which are not errors.
	Errors, Expected map[string]int
	// Samples are a few messages of each kind of error, for the report.
	Samples map[string][]string
	// Server is the server's own mean time in its handler per route (its
	// metrics): the client's mean less it is what the loopback TCP, the
	// client and net/http cost a request.
	Server map[string]time.Duration
	// Loopback are the latencies of sequential GET /demo.json after the
	// load (no store, a tiny JSON reply): a loopback round trip's floor.
	Loopback []time.Duration
	Checks   []check
	// PerSecond are the requests sent in each whole second of the run
	// (a request bound reached early leaves it short).
	PerSecond []int64
	// Pool is the store's database/sql pool after the load: how many
	// connections it opened and closed tells connection churn from
	// queueing for a connection.
	Pool sql.DBStats
}

// check is an invariant's verdict.
type check struct {
	Name   string
	OK     bool
	Detail string
}

type endpointStats struct {
	Count, Errors, Expected int
	Samples                 []time.Duration
}

// Passed reports whether every invariant held.
func (r *loadResult) Passed() bool {
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return len(r.Checks) > 0
}

// UnexpectedErrors counts the answers that were neither a success nor a
// business refusal.
func (r *loadResult) UnexpectedErrors() int {
	n := 0
	for _, v := range r.Errors {
		n += v
	}
	return n
}

// loadMain is the -load branch of main: it returns the exit code. freshDB
// puts SQLite in a new temporary file, so the run neither shares the
// default file with a server left running nor grows it.
func loadMain(ctx context.Context, o options, cfg loadConfig, freshDB bool, log *slog.Logger) int {
	if freshDB && o.DSN == "" {
		dir, err := os.MkdirTemp("", "ministore-load-")
		if err != nil {
			log.Error("load", "err", err)
			return 1
		}
		defer os.RemoveAll(dir)
		o.DB = filepath.Join(dir, "shop.db")
	}
	res, err := runLoad(ctx, o, cfg, log)
	if res != nil {
		res.Write(os.Stdout)
	}
	if err != nil {
		log.Error("load", "err", err)
		return 1
	}
	// Errors fail the run too: invariants that hold over a run of 5xx
	// say little.
	if !res.Passed() || res.UnexpectedErrors() > 0 {
		return 1
	}
	return 0
}

// runLoad starts the server on a loopback listener, runs the workload and
// checks the invariants. An error is a run that could not be made; a run
// whose invariants fail returns a result that does not pass.
func runLoad(ctx context.Context, o options, cfg loadConfig, log *slog.Logger) (*loadResult, error) {
	if cfg.Clients <= 0 {
		cfg.Clients = 1
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 20 * time.Second
	}
	o.Quiet = true // per-request logs would drown the figures; 5xx are still logged
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s, err := newServer(ctx, o, "http://"+ln.Addr().String(), log)
	if err != nil {
		ln.Close()
		return nil, err
	}
	defer s.Close()
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	// The background loop (RunDue, the outbox relay) runs as in a real
	// server, and is stopped before the invariants are read so nothing
	// moves under them.
	bgCtx, stopBg := context.WithCancel(ctx)
	bgDone := make(chan struct{})
	go func() { defer close(bgDone); s.background(bgCtx) }()
	defer func() { stopBg(); <-bgDone }()

	backend := "sqlite " + o.DB
	if o.DSN != "" {
		backend = strings.SplitN(o.DSN, "://", 2)[0]
		if !strings.Contains(o.DSN, "://") {
			backend = "mysql"
		}
	}
	res := &loadResult{Config: cfg, Backend: backend, Server: map[string]time.Duration{}}

	// One transport for every customer, with an idle connection each (two:
	// a concurrent replay sends a pair), so requests reuse their
	// keep-alive connection as a Mini Program's would.
	tr := &http.Transport{MaxIdleConns: 2 * cfg.Clients, MaxIdleConnsPerHost: 2 * cfg.Clients, IdleConnTimeout: time.Minute,
		DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	run := &loadRun{limit: cfg.Requests, keys: map[string]string{}, paid: map[string]bool{}}
	clients := make([]*loadClient, cfg.Clients)
	for i := range clients {
		c := &loadClient{run: run, http: hc, base: s.url, shop: "/api/shops/" + s.demo.Merchant,
			rng: rand.New(rand.NewPCG(uint64(i)+1, uint64(time.Now().UnixNano()))), stats: newClientStats()}
		if err := c.login(ctx, fmt.Sprintf("load-%03d", i)); err != nil {
			return nil, fmt.Errorf("customer %d: %w", i, err)
		}
		clients[i] = c
	}

	// The clock starts once everyone is logged in: logins are setup, not
	// part of the figures.
	loadCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	run.done = loadCtx.Done()
	start := time.Now()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(c.loop)
	}
	// Requests per second as the run goes: a rate that falls while the
	// shop fills up says something the average hides.
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		last := int64(0)
		for {
			select {
			case <-run.done:
				return
			case <-t.C:
				n := run.issued.Load()
				res.PerSecond = append(res.PerSecond, n-last)
				last = n
			}
		}
	}()
	wg.Wait()
	res.Elapsed = time.Since(start)
	cancel()
	<-sampled
	total := newClientStats()
	for _, c := range clients {
		total.absorb(c.stats)
	}
	res.Endpoints, res.Errors, res.Expected, res.Samples = total.endpoints, total.errors, total.expected, total.samples
	for _, e := range res.Endpoints {
		res.Requests += int64(e.Count)
	}
	s.metrics.mu.Lock()
	for route, h := range s.metrics.latency {
		if h.n > 0 {
			res.Server[route] = time.Duration(h.sum / float64(h.n) * float64(time.Second))
		}
	}
	s.metrics.mu.Unlock()
	res.Pool = s.store.DB().Stats()
	res.Loopback = loopbackFloor(hc, s.url+"/demo.json", 300)

	stopBg()
	<-bgDone
	res.Checks = checkInvariants(context.WithoutCancel(ctx), s, run)
	return res, nil
}

// loadRun is what the customers share: the request budget, the stop
// signal, and what they learnt of the orders they placed and paid.
type loadRun struct {
	limit  int64
	issued atomic.Int64
	done   <-chan struct{}

	mu sync.Mutex
	// keys are the idempotency keys whose checkout succeeded, with the
	// order each got; paid the orders WeChat Pay's notification paid.
	keys map[string]string
	paid map[string]bool
	// replayMismatches are resends that came back with another order, or
	// a concurrent pair whose answers disagreed.
	replayMismatches []string
}

// take spends one request of the budget; false when a bound is reached.
func (r *loadRun) take() bool {
	select {
	case <-r.done:
		return false
	default:
	}
	n := r.issued.Add(1)
	return r.limit <= 0 || n <= r.limit
}

func (r *loadRun) recordOrder(key, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev, ok := r.keys[key]; ok && prev != id {
		r.replayMismatches = append(r.replayMismatches, fmt.Sprintf("key %s: order %s, then %s", key, prev, id))
		return
	}
	r.keys[key] = id
}

func (r *loadRun) mismatch(format string, args ...any) {
	r.mu.Lock()
	r.replayMismatches = append(r.replayMismatches, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

// clientStats is one customer's figures, merged at the end so the hot
// path takes no shared lock.
type clientStats struct {
	endpoints        map[string]*endpointStats
	errors, expected map[string]int
	samples          map[string][]string
}

func newClientStats() *clientStats {
	return &clientStats{endpoints: map[string]*endpointStats{}, errors: map[string]int{}, expected: map[string]int{}, samples: map[string][]string{}}
}

// absorb adds t's figures to cs's: a twin's (the second request of a
// concurrent pair, which kept its own so the two goroutines share no
// map), and every customer's into the run's at the end.
func (cs *clientStats) absorb(t *clientStats) {
	for name, e := range t.endpoints {
		m := cs.endpoints[name]
		if m == nil {
			m = &endpointStats{}
			cs.endpoints[name] = m
		}
		m.Count += e.Count
		m.Errors += e.Errors
		m.Expected += e.Expected
		m.Samples = append(m.Samples, e.Samples...)
	}
	for k, v := range t.errors {
		cs.errors[k] += v
	}
	for k, v := range t.expected {
		cs.expected[k] += v
	}
	for k, v := range t.samples {
		cs.samples[k] = append(cs.samples[k], v[:min(len(v), max(0, 3-len(cs.samples[k])))]...)
	}
}

// loadClient is one simulated customer: logged in, looping over flows.
type loadClient struct {
	run        *loadRun
	http       *http.Client
	base, shop string
	token      string
	rng        *rand.Rand
	stats      *clientStats
	products   []string // product ids
	skus       []string
}

// errStop ends a flow: a bound was reached.
var errStop = errors.New("load bound reached")

// answer is one reply: its status, and the problem of an error reply.
type answer struct {
	status  int
	problem httpapi.Problem
	ok      bool // 2xx and decoded
}

func (c *loadClient) login(ctx context.Context, name string) error {
	var code, login map[string]string
	if err := c.setup(ctx, "/dev/login", map[string]string{"name": name}, &code); err != nil {
		return err
	}
	if err := c.setup(ctx, "/login", map[string]string{"code": code["code"]}, &login); err != nil {
		return err
	}
	c.token = login["token"]
	return nil
}

// setup is a request outside the figures (logging in).
func (c *loadClient) setup(ctx context.Context, path string, body, out any) error {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, "POST", c.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %d %s", path, res.StatusCode, raw)
	}
	return json.Unmarshal(raw, out)
}

// do sends one request of the workload, times it and classifies the
// reply. It returns errStop when the budget or the time is spent, before
// sending anything.
func (c *loadClient) do(endpoint, method, path, key string, body, out any) (answer, error) {
	if !c.run.take() {
		return answer{}, errStop
	}
	var r io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return answer{}, err
		}
		r = bytes.NewReader(b)
	}
	// No context of the run's: a request in flight when the time is up
	// finishes (the client's timeout bounds it), so the end of a run does
	// not show up as cancelled requests.
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		return answer{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	if strings.HasPrefix(path, "/api/") {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	start := time.Now()
	res, err := c.http.Do(req)
	var raw []byte
	if err == nil {
		raw, err = io.ReadAll(res.Body)
		res.Body.Close()
	}
	d := time.Since(start)

	e := c.stats.endpoints[endpoint]
	if e == nil {
		e = &endpointStats{}
		c.stats.endpoints[endpoint] = e
	}
	e.Count++
	e.Samples = append(e.Samples, d)
	if err != nil {
		c.fail(e, "transport", endpoint+": "+err.Error())
		return answer{}, nil
	}
	a := answer{status: res.StatusCode}
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		if out != nil {
			if err := json.Unmarshal(raw, out); err != nil {
				c.fail(e, "undecodable reply", fmt.Sprintf("%s: %v: %.200s", endpoint, err, raw))
				return a, nil
			}
		}
		a.ok = true
		return a, nil
	}
	var p struct{ Error httpapi.Problem }
	_ = json.Unmarshal(raw, &p)
	a.problem = p.Error
	if outOfStock(res.StatusCode, p.Error) {
		// A shop under load sells out: the expected answer, not an error.
		e.Expected++
		c.stats.expected[fmt.Sprintf("%d %s: out of stock", res.StatusCode, p.Error.Kind)]++
		return a, nil
	}
	c.fail(e, fmt.Sprintf("%d %s", res.StatusCode, p.Error.Kind), fmt.Sprintf("%s: %.300s", endpoint, strings.TrimSpace(string(raw))))
	return a, nil
}

// answered reports whether a reply is the API's answer about the request
// (a success or a refusal), not a failure to answer (5xx, transport),
// which is counted as an error already.
func answered(a answer) bool { return a.status != 0 && a.status < 500 }

// outOfStock tells the kernel's refusal of a checkout whose SKU has fewer
// units than asked (ErrOutOfStock, failed_precondition) from other errors.
func outOfStock(status int, p httpapi.Problem) bool {
	return (status == http.StatusUnprocessableEntity || status == http.StatusConflict) &&
		strings.Contains(p.Message, commerce.ErrOutOfStock.Error())
}

func (c *loadClient) fail(e *endpointStats, kind, msg string) {
	e.Errors++
	c.stats.errors[kind]++
	if len(c.stats.samples[kind]) < 3 {
		c.stats.samples[kind] = append(c.stats.samples[kind], msg)
	}
}

// loop runs flows until a bound is reached.
func (c *loadClient) loop() {
	for {
		var err error
		switch n := c.rng.IntN(browseWeight + cartWeight + checkoutWeight); {
		case len(c.products) == 0 || n < browseWeight:
			err = c.browse()
		case n < browseWeight+cartWeight:
			err = c.cartAndQuote()
		default:
			err = c.checkoutAndPay()
		}
		if errors.Is(err, errStop) {
			return
		}
	}
}

func (c *loadClient) pick(ids []string) string { return ids[c.rng.IntN(len(ids))] }

// browse lists the shop's products and opens one: what most visits are.
func (c *loadClient) browse() error {
	var list httpapi.List[httpapi.Product]
	a, err := c.do(epProducts, "GET", c.shop+"/products", "", nil, &list)
	if err != nil {
		return err
	}
	if a.ok && len(c.products) == 0 {
		// The first list teaches the customer the catalog.
		for _, p := range list.Items {
			c.products = append(c.products, p.ID)
			for _, s := range p.SKUs {
				c.skus = append(c.skus, s.ID)
			}
		}
	}
	if len(c.products) == 0 {
		return nil
	}
	_, err = c.do(epProduct, "GET", c.shop+"/products/"+c.pick(c.products), "", nil, nil)
	return err
}

// cartAndQuote puts a SKU in the cart, reads the cart back and prices it.
func (c *loadClient) cartAndQuote() error {
	sku := c.pick(c.skus)
	if _, err := c.do(epSetCart, "PUT", c.shop+"/cart/items/"+sku, "", httpapi.CartItemRequest{Quantity: 1 + c.rng.Int64N(3)}, nil); err != nil {
		return err
	}
	if _, err := c.do(epCart, "GET", c.shop+"/cart", "", nil, nil); err != nil {
		return err
	}
	_, err := c.do(epQuote, "POST", c.shop+"/quote", "", httpapi.QuoteRequest{FromCart: true}, nil)
	return err
}

// checkoutAndPay places an order of one or two SKUs with a fresh key,
// resends it three times in ten (twice after the first answer, once as a
// concurrent pair) to see the key make one order, then pays it through
// the local WeChat Pay.
func (c *loadClient) checkoutAndPay() error {
	lines := []httpapi.LineRequest{{SKU: c.pick(c.skus), Quantity: 1 + c.rng.Int64N(2)}}
	if other := c.pick(c.skus); c.rng.IntN(2) == 0 && other != lines[0].SKU {
		lines = append(lines, httpapi.LineRequest{SKU: other, Quantity: 1})
	}
	body := httpapi.CheckoutRequest{QuoteRequest: httpapi.QuoteRequest{Lines: lines},
		Address: &httpapi.Address{Name: "压测", Phone: "13800000000", Province: "浙江省", City: "杭州市", District: "西湖区", Detail: "龙井路 1 号"}}
	key := uuid.NewString()
	path := c.shop + "/orders"
	var o httpapi.Order
	var a answer
	var err error
	switch n := c.rng.IntN(10); {
	case n == 0:
		// A double tap: the same POST twice at once. Both must answer the
		// one order the key made (or both be refused).
		var o2 httpapi.Order
		var a2 answer
		var err2 error
		twin := *c
		twin.stats = newClientStats()
		var wg sync.WaitGroup
		wg.Go(func() { a2, err2 = twin.do(epReplay, "POST", path, key, body, &o2) })
		a, err = c.do(epCheckout, "POST", path, key, body, &o)
		wg.Wait()
		c.stats.absorb(twin.stats)
		if err != nil || err2 != nil {
			// One of the pair found the bound reached: the other's order,
			// if it made one, is still the key's.
			if a.ok {
				c.run.recordOrder(key, o.ID)
			} else if a2.ok {
				c.run.recordOrder(key, o2.ID)
			}
			return errStop
		}
		switch {
		case a.ok && a2.ok && o.ID != o2.ID:
			c.run.mismatch("key %s: a concurrent pair made orders %s and %s", key, o.ID, o2.ID)
		case a.ok != a2.ok && answered(a) && answered(a2):
			c.run.mismatch("key %s: of a concurrent pair one got %d, the other %d", key, a.status, a2.status)
		}
		if !a.ok && a2.ok {
			a, o = a2, o2
		}
	default:
		if a, err = c.do(epCheckout, "POST", path, key, body, &o); err != nil {
			return err
		}
		if a.ok && n <= 2 {
			// A retry after a lost answer: the same key, the same order.
			var again httpapi.Order
			ar, err := c.do(epReplay, "POST", path, key, body, &again)
			if err != nil {
				c.run.recordOrder(key, o.ID)
				return err
			}
			if ar.ok && again.ID != o.ID {
				c.run.mismatch("key %s: resent, order %s instead of %s", key, again.ID, o.ID)
			} else if !ar.ok && answered(ar) {
				c.run.mismatch("key %s: resent, answered %d %s instead of order %s", key, ar.status, ar.problem.Kind, o.ID)
			}
		}
	}
	if !a.ok {
		return nil
	}
	c.run.recordOrder(key, o.ID)
	var p httpapi.Payment
	if a, err = c.do(epPay, "POST", c.shop+"/orders/"+o.ID+"/pay", "", nil, &p); err != nil || !a.ok {
		return err
	}
	if a, err = c.do(epDevPay, "POST", "/dev/wechatpay/pay", "", map[string]string{"payment_no": p.PaymentNo}, nil); err != nil || !a.ok {
		return err
	}
	c.run.mu.Lock()
	c.run.paid[o.ID] = true
	c.run.mu.Unlock()
	return nil
}

// loopbackFloor times n sequential GET /demo.json: no store, no auth, a
// small JSON reply, so what it takes is the loopback TCP round trip with
// net/http at both ends.
func loopbackFloor(hc *http.Client, url string, n int) []time.Duration {
	out := make([]time.Duration, 0, n)
	for range n {
		start := time.Now()
		res, err := hc.Get(url)
		if err != nil {
			continue
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		out = append(out, time.Since(start))
	}
	return out
}

// paidOrLater are the statuses an order reaches only by being paid.
var paidOrLater = map[commerce.OrderStatus]bool{commerce.StatusPaid: true, commerce.StatusAwaitingRecipient: true,
	commerce.StatusAwaitingGroup: true, commerce.StatusShipped: true, commerce.StatusReceived: true,
	commerce.StatusCompleted: true, commerce.StatusRefunded: true}

// checkInvariants reads the demo merchant's orders, SKUs and payments
// from the store (in-process, not through the API) and checks what must
// hold whatever the load did. Everything is scoped to the run's own
// merchant: on PostgreSQL or MySQL the tables hold every run's shop.
func checkInvariants(ctx context.Context, s *server, run *loadRun) []check {
	m := s.demo.merchant
	var orders []*commerce.Order
	for after := (commerce.OrderID{}); ; {
		page, err := s.engine.Commerce.ListOrders(ctx, m, commerce.OrderQuery{After: after, Limit: 1000})
		if err != nil {
			return []check{{Name: "read the orders", Detail: err.Error()}}
		}
		orders = append(orders, page...)
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].ID
	}
	products, err := s.engine.Commerce.ListProducts(ctx, m, commerce.ProductQuery{Limit: 1000})
	if err != nil {
		return []check{{Name: "read the products", Detail: err.Error()}}
	}
	return []check{stockConserved(s.demo.skus, products, orders), paymentsRecorded(ctx, s.engine.Payments, m, orders, run),
		oneOrderPerKey(orders, run), replaysAnswered(run)}
}

// stockConserved: each SKU's stock at seeding is what is on hand now,
// plus the units unpaid open orders hold, plus the units paid orders took.
// Checkout reserves stock when it places the order (pending_payment
// already holds its units); a cancel releases them; a succeeded refund
// with Restock puts its units back; nothing else moves stock (the load
// never adjusts it). So:
//
//	seeded = on hand + Σ pending_payment units + Σ paid-or-later units − Σ restocked refunds
func stockConserved(seeded map[commerce.SKUID]int64, products []*commerce.Product, orders []*commerce.Order) check {
	onHand := map[commerce.SKUID]int64{}
	for _, p := range products {
		for _, sku := range p.SKUs {
			onHand[sku.ID] = sku.Stock
		}
	}
	held, sold := map[commerce.SKUID]int64{}, map[commerce.SKUID]int64{}
	for _, o := range orders {
		switch {
		case o.Status == commerce.StatusPendingPayment:
			for _, l := range o.Lines {
				held[l.SKU] += l.Quantity
			}
		case paidOrLater[o.Status]:
			for _, l := range o.Lines {
				sold[l.SKU] += l.Quantity
			}
			for _, r := range o.Refunds {
				if r.Status == commerce.RefundSucceeded && r.Restock {
					for _, rl := range r.Lines {
						sold[o.Lines[rl.Line].SKU] -= rl.Quantity
					}
				}
			}
		}
	}
	c := check{Name: "stock conserved (seeded = on hand + held by unpaid orders + sold)", OK: true}
	var tSeed, tHand, tHeld, tSold int64
	var bad []string
	for _, id := range slices.SortedFunc(maps.Keys(seeded), commerce.SKUID.Compare) {
		seed, hand := seeded[id], onHand[id]
		tSeed, tHand, tHeld, tSold = tSeed+seed, tHand+hand, tHeld+held[id], tSold+sold[id]
		if _, ok := onHand[id]; !ok || hand < 0 || seed != hand+held[id]+sold[id] {
			bad = append(bad, fmt.Sprintf("sku %s: seeded %d ≠ on hand %d + held %d + sold %d", id, seed, hand, held[id], sold[id]))
		}
	}
	c.Detail = fmt.Sprintf("%d SKUs: seeded %d = on hand %d + held %d + sold %d", len(seeded), tSeed, tHand, tHeld, tSold)
	if len(bad) > 0 {
		c.OK, c.Detail = false, strings.Join(bad, "; ")
	}
	return c
}

// paymentsRecorded: every order in paid or a later status has a succeeded
// payment for what the channel collected (the total; the due when
// tenders paid part), the one the order records it was paid by; no
// order still waiting for payment has a succeeded one (money taken, order
// not paid); and every order the customers saw paid is paid.
func paymentsRecorded(ctx context.Context, pays *payment.Service, m commerce.MerchantID, orders []*commerce.Order, run *loadRun) check {
	c := check{Name: "every paid order has its succeeded payment", OK: true}
	var bad []string
	paid := 0
	status := map[string]commerce.OrderStatus{}
	for _, o := range orders {
		status[o.ID.String()] = o.Status
		if !paidOrLater[o.Status] && o.Status != commerce.StatusPendingPayment {
			continue
		}
		ps, err := pays.OrderPayments(ctx, m, o.ID)
		if err != nil {
			return check{Name: c.Name, Detail: err.Error()}
		}
		want := o.Total
		if len(o.Tenders) > 0 {
			want = o.Due()
		}
		found := false
		for _, p := range ps {
			if p.Status == payment.Succeeded && p.Tender == 0 {
				// payment.Service marks the order paid with the payment's
				// number as its reference.
				found = found || (p.Amount.Equal(want) && p.PaymentNo == o.PaymentRef)
				if o.Status == commerce.StatusPendingPayment {
					bad = append(bad, fmt.Sprintf("order %s is unpaid but payment %s succeeded", o.ID, p.PaymentNo))
				}
			}
		}
		if paidOrLater[o.Status] {
			paid++
			if !found {
				bad = append(bad, fmt.Sprintf("order %s is %s for %s with no succeeded payment of it (%d payments)", o.ID, o.Status, want, len(ps)))
			}
		}
	}
	run.mu.Lock()
	for id := range run.paid {
		if !paidOrLater[status[id]] {
			bad = append(bad, fmt.Sprintf("order %s was paid in WeChat Pay but is %q", id, status[id]))
		}
	}
	seen := len(run.paid)
	run.mu.Unlock()
	c.Detail = fmt.Sprintf("%d orders paid or later, each with its payment; %d paid by the customers", paid, seen)
	if len(bad) > 0 {
		c.OK, c.Detail = false, fmt.Sprintf("%d problems: %s", len(bad), strings.Join(bad[:min(len(bad), 5)], "; "))
	}
	return c
}

// oneOrderPerKey: the store holds one order per idempotency key, and
// exactly the orders whose checkout the customers saw succeed (an order
// they never heard of was made by a request that failed, a retry would
// not find it under its key).
func oneOrderPerKey(orders []*commerce.Order, run *loadRun) check {
	c := check{Name: "one order per idempotency key", OK: true}
	byKey := map[string][]string{}
	for _, o := range orders {
		byKey[o.IdempotencyKey] = append(byKey[o.IdempotencyKey], o.ID.String())
	}
	var bad []string
	for k, ids := range byKey {
		if len(ids) > 1 {
			bad = append(bad, fmt.Sprintf("key %q made %d orders", k, len(ids)))
		}
	}
	run.mu.Lock()
	keys := len(run.keys)
	for k, id := range run.keys {
		if ids := byKey[k]; len(ids) != 1 || ids[0] != id {
			bad = append(bad, fmt.Sprintf("key %s: the client got order %s, the store has %v", k, id, ids))
		}
	}
	for k, ids := range byKey {
		if _, ok := run.keys[k]; !ok {
			bad = append(bad, fmt.Sprintf("order %v (key %q) was made by a checkout whose answer was an error", ids, k))
		}
	}
	run.mu.Unlock()
	c.Detail = fmt.Sprintf("%d orders in the store, %d distinct keys whose checkout succeeded", len(orders), keys)
	if len(bad) > 0 {
		sort.Strings(bad)
		c.OK, c.Detail = false, fmt.Sprintf("%s; %d problems: %s", c.Detail, len(bad), strings.Join(bad[:min(len(bad), 5)], "; "))
	}
	return c
}

// replaysAnswered: a checkout resent with its key answered the key's
// first order, and a concurrent pair agreed.
func replaysAnswered(run *loadRun) check {
	run.mu.Lock()
	defer run.mu.Unlock()
	c := check{Name: "a resent checkout answers the key's order", OK: len(run.replayMismatches) == 0, Detail: "every resend and concurrent pair"}
	if !c.OK {
		c.Detail = fmt.Sprintf("%d mismatches: %s", len(run.replayMismatches), strings.Join(run.replayMismatches[:min(len(run.replayMismatches), 5)], "; "))
	}
	return c
}

// percentile is the nearest-rank percentile of sorted samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func mean(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var t time.Duration
	for _, d := range ds {
		t += d
	}
	return t / time.Duration(len(ds))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d.Microseconds())/1000) }

// Write prints the figures, the errors and the invariants.
func (r *loadResult) Write(w io.Writer) {
	fmt.Fprintf(w, "load: %s, %d clients, bounds %s / %d requests\n", r.Backend, r.Config.Clients, r.Config.Duration, r.Config.Requests)
	fmt.Fprintf(w, "%d requests in %s: %.0f requests/s\n", r.Requests, r.Elapsed.Round(time.Millisecond), float64(r.Requests)/r.Elapsed.Seconds())
	fmt.Fprintf(w, "requests in each second: %v\n\n", r.PerSecond)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "endpoint\tcount\terrors\tout of stock\tp50 ms\tp99 ms\tmean ms\tserver mean ms\tmean − server ms\t")
	names := slices.Sorted(maps.Keys(r.Endpoints))
	var all []time.Duration
	for _, name := range names {
		e := r.Endpoints[name]
		slices.Sort(e.Samples)
		all = append(all, e.Samples...)
		// The server's figure is per route: a replay shares its route with
		// the first checkout, so the route's difference is over both.
		srv, diff := "-", "-"
		if d, ok := r.Server[name]; ok {
			route := e.Samples
			if rp := r.Endpoints[epReplay]; name == epCheckout && rp != nil {
				route = append(slices.Clone(route), rp.Samples...)
			}
			srv, diff = ms(d), ms(mean(route)-d)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t\n", name, e.Count, e.Errors, e.Expected,
			ms(percentile(e.Samples, 50)), ms(percentile(e.Samples, 99)), ms(mean(e.Samples)), srv, diff)
	}
	slices.Sort(all)
	fmt.Fprintf(tw, "all\t%d\t%d\t\t%s\t%s\t%s\t\t\t\n", len(all), r.UnexpectedErrors(), ms(percentile(all, 50)), ms(percentile(all, 99)), ms(mean(all)))
	tw.Flush()
	for _, route := range slices.Sorted(maps.Keys(r.Server)) {
		if _, ok := r.Endpoints[route]; !ok && !strings.HasSuffix(route, "/orders") {
			// The notify URL: WeChat Pay's calls, inside POST /dev/wechatpay/pay.
			fmt.Fprintf(w, "server only: %s, mean %s ms\n", route, ms(r.Server[route]))
		}
	}
	slices.Sort(r.Loopback)
	fmt.Fprintf(w, "\nloopback floor (%d sequential GET /demo.json, idle server): p50 %s ms, p99 %s ms\n", len(r.Loopback),
		ms(percentile(r.Loopback, 50)), ms(percentile(r.Loopback, 99)))
	fmt.Fprintln(w, "(mean − server mean: what the TCP loopback, net/http at both ends and queueing for the 2 cores cost a request under load)")
	p := r.Pool
	fmt.Fprintf(w, "store pool: %d connections open (max %d), %d waits for a connection (%s), %d closed as surplus idle, %d closed as old\n",
		p.OpenConnections, p.MaxOpenConnections, p.WaitCount, p.WaitDuration.Round(time.Millisecond), p.MaxIdleClosed, p.MaxLifetimeClosed+p.MaxIdleTimeClosed)

	fmt.Fprintf(w, "\nunexpected errors: %d\n", r.UnexpectedErrors())
	for _, k := range slices.Sorted(maps.Keys(r.Errors)) {
		fmt.Fprintf(w, "  %-28s %d\n", k, r.Errors[k])
		for _, s := range r.Samples[k] {
			fmt.Fprintf(w, "      e.g. %s\n", s)
		}
	}
	fmt.Fprintln(w, "expected refusals (not errors):")
	if len(r.Expected) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for k, v := range r.Expected {
		fmt.Fprintf(w, "  %-28s %d\n", k, v)
	}
	fmt.Fprintln(w, "\ninvariants:")
	for _, c := range r.Checks {
		verdict := "PASS"
		if !c.OK {
			verdict = "FAIL"
		}
		fmt.Fprintf(w, "  %s  %s: %s\n", verdict, c.Name, c.Detail)
	}
}
