package sqlstore_test

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/minishop/minishop/storage/sqlstore"
	"github.com/minishop/minishop/storage/storetest"
)

// BenchmarkCheckoutVsRaw says where minishop's checkout stands against
// hand-written SQL: on each dialect, in one run on the same fresh database,
// the same three-line orders placed through the Engine (minishop.New) and
// by a raw program on tables of its own, at 1, 8 and 32 buyers, spread
// (each buyer its own SKUs) and hot (every buyer the same SKUs).
//
//	go test -run x -bench CheckoutVsRaw -benchtime 2000x ./storage/sqlstore
//
// PostgreSQL and MySQL run when MINISHOP_POSTGRES_DSN / MINISHOP_MYSQL_DSN
// are set. Each shape runs two variants (see storetest.VsRawShop):
//
//   - plugins: the buyer applies one coupon and spends points,
//     commerce.With(coupons.Select(c), membership.SpendPoints(n)); the raw
//     side does 8 statements in its transaction: 3 guarded stock
//     decrements, the coupon marked used, the points balance decremented,
//     the order row, the 3 lines in one INSERT, one outbox row.
//   - plain: commerce.With(coupons.NoCoupon()) by a customer who is not a
//     member; the raw side does the 6 statements without coupon or points.
//
// Each sub-benchmark reports orders/s and raw-orders/s, ratio (orders/s /
// raw-orders/s), p99-ms and raw-p99-ms (per order, retries included), and
// stmts/order and raw-stmts/order: what reached the driver's connections,
// counted by a wrapping connector (statements executed, prepared or not,
// plus BEGIN, COMMIT and ROLLBACK); trips/order and raw-trips/order count
// a PostgreSQL pipeline's statements as one round trip (and MySQL's SET
// TRANSACTION as one more). prepares/order and raw-prepares/order
// are the statements prepared on a connection meanwhile (a round trip on
// the servers, in-process on SQLite); on MySQL settx/order and raw-settx/order are the SET
// TRANSACTION ISOLATION LEVEL round trip the driver sends inside BeginTx,
// which no wrapper sees (tallied from the options). The minishop side
// runs first, timed by the framework (allocs/op is its alone); the raw
// side runs after it, timed by hand. Both place their orders through
// storetest.RunBuyers. At buyers=1 spread the log lists minishop's
// statements per order by SQL text. On SQLite wal-KB/order and
// raw-wal-KB/order are what each side's commits wrote to the WAL, and
// SQLite-analyzed runs 8 buyers again after ANALYZE (see dialect.rebind).
func BenchmarkCheckoutVsRaw(b *testing.B) {
	for _, name := range []string{"SQLite", "Postgres", "MySQL"} {
		b.Run(name, func(b *testing.B) {
			skipBenchWithoutServer(b, name)
			for _, shape := range []storetest.Shape{storetest.Spread, storetest.Hot} {
				for _, buyers := range []int{1, 8, 32} {
					for _, plugins := range []bool{false, true} {
						b.Run(fmt.Sprintf("%s/buyers=%d/%s", shape, buyers, variant(plugins)), func(b *testing.B) {
							benchCheckoutVsRaw(b, name, shape, buyers, plugins, false)
						})
					}
				}
			}
		})
	}
	// SQLite once more after ANALYZE, as a host running PRAGMA optimize
	// would: statistics must not make cached statements prepare again.
	b.Run("SQLite-analyzed", func(b *testing.B) {
		for _, plugins := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/buyers=8/%s", storetest.Spread, variant(plugins)), func(b *testing.B) {
				benchCheckoutVsRaw(b, "SQLite", storetest.Spread, 8, plugins, true)
			})
		}
	})
}

// BenchmarkTransitionStatements counts the statements of each order
// transition after checkout through the commerce service, on each
// dialect: b.N orders (one buyer, plugins variant, so payment earns
// points) are paid, shipped, received, partly refunded (requested, then
// confirmed) and completed, one transition over every order before the
// next; see storetest.TransitionOrders.
//
//	go test -run x -bench TransitionStatements -benchtime 300x ./storage/sqlstore
//
// For each transition it reports <transition>-stmts (per order, BEGIN and
// COMMIT included), <transition>-trips (round trips: a pipeline counts
// once), <transition>-prepares and <transition>-ms (mean wall
// time per order, one at a time); the log lists each transition's
// statements per order by SQL text. ns/op means nothing here.
func BenchmarkTransitionStatements(b *testing.B) {
	for _, name := range []string{"SQLite", "Postgres", "MySQL"} {
		b.Run(name, func(b *testing.B) {
			skipBenchWithoutServer(b, name)
			tally := newStmtTally(name, true)
			h, _ := tallyingHarness(name, tally)
			store := h.New(b)
			orders := b.N
			storetest.TransitionOrders(b, store, orders, func(tr string, run func()) {
				before := tally.snapshot()
				start := time.Now()
				run()
				elapsed := time.Since(start)
				d := tally.since(before)
				b.ReportMetric(d.statements()/float64(orders), tr+"-stmts")
				b.ReportMetric(d.trips()/float64(orders), tr+"-trips")
				b.ReportMetric(d.per(kindPrepare, orders), tr+"-prepares")
				b.ReportMetric(float64(elapsed.Microseconds())/1000/float64(orders), tr+"-ms")
				b.Logf("%s %s: %s per order\n%s", name, tr, d.breakdown(orders), d.texts(orders))
			})
		})
	}
}

func variant(plugins bool) string {
	if plugins {
		return "plugins"
	}
	return "plain"
}

func benchCheckoutVsRaw(b *testing.B, name string, shape storetest.Shape, buyers int, plugins, analyze bool) {
	tally := newStmtTally(name, buyers == 1 && shape == storetest.Spread)
	h, _ := tallyingHarness(name, tally)
	perBuyer := (b.N + buyers - 1) / buyers
	orders := buyers * perBuyer
	store := h.New(b).(*sqlstore.Store)
	s := storetest.NewVsRawShop(b, store, shape, buyers, perBuyer, plugins)
	raw := newRawCheckout(b, store, shape, buyers, perBuyer, plugins)

	if analyze {
		if _, err := store.DB().Exec("ANALYZE"); err != nil {
			b.Fatalf("analyze: %v", err)
		}
	}
	b.ReportAllocs()
	wal := startWAL(b, store)
	before := tally.snapshot()
	b.ResetTimer()
	lat := s.Run(b)
	b.StopTimer()
	mini := tally.since(before)
	miniWAL := wal.written(b)
	if b.Failed() {
		return
	}
	rate := float64(orders) / b.Elapsed().Seconds()
	s.Check(b)

	// The raw side writes minishop's order document and event payload, the
	// same bytes per order, copied once from the run above.
	tpl, err := readTemplate(store)
	if err != nil {
		b.Fatalf("read order template: %v", err)
	}
	raw.tpl = tpl
	wal = startWAL(b, store)
	before = tally.snapshot()
	start := time.Now()
	rawLat := storetest.RunBuyers(b, buyers, perBuyer, raw.checkout)
	rawElapsed := time.Since(start)
	rawd := tally.since(before)
	rawWAL := wal.written(b)
	if b.Failed() {
		return
	}
	raw.check(b)
	rawRate := float64(orders) / rawElapsed.Seconds()

	b.ReportMetric(rate, "orders/s")
	b.ReportMetric(rawRate, "raw-orders/s")
	b.ReportMetric(rate/rawRate, "ratio")
	b.ReportMetric(storetest.P99(lat), "p99-ms")
	b.ReportMetric(storetest.P99(rawLat), "raw-p99-ms")
	b.ReportMetric(mini.statements()/float64(orders), "stmts/order")
	b.ReportMetric(rawd.statements()/float64(orders), "raw-stmts/order")
	b.ReportMetric(mini.trips()/float64(orders), "trips/order")
	b.ReportMetric(rawd.trips()/float64(orders), "raw-trips/order")
	b.ReportMetric(mini.per(kindPrepare, orders), "prepares/order")
	b.ReportMetric(rawd.per(kindPrepare, orders), "raw-prepares/order")
	if store.Dialect() == sqlstore.SQLite {
		b.ReportMetric(float64(miniWAL)/1024/float64(orders), "wal-KB/order")
		b.ReportMetric(float64(rawWAL)/1024/float64(orders), "raw-wal-KB/order")
	}
	if tally.mysql {
		b.ReportMetric(mini.per(kindSetTx, orders), "settx/order")
		b.ReportMetric(rawd.per(kindSetTx, orders), "raw-settx/order")
	}
	b.Logf("minishop: %s per order; raw: %s", mini.breakdown(orders), rawd.breakdown(orders))
	if tally.byText != nil {
		b.Logf("minishop statements per order:\n%s", mini.texts(orders))
	}
}

// walMeter measures what a run writes on SQLite: the WAL is emptied and
// its automatic checkpoints stopped first, so every page a commit writes
// stays in the log until written counts it. On other dialects it measures
// nothing.
type walMeter struct{ store *sqlstore.Store }

func startWAL(b *testing.B, store *sqlstore.Store) walMeter {
	if store.Dialect() != sqlstore.SQLite {
		return walMeter{}
	}
	// The store's pool has one connection, so these settings hold for
	// every statement of the run.
	for _, q := range []string{"PRAGMA wal_checkpoint(TRUNCATE)", "PRAGMA wal_autocheckpoint = 0"} {
		if _, err := store.DB().Exec(q); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	return walMeter{store}
}

// written returns the bytes of the pages committed since startWAL, and
// lets checkpoints run again.
func (w walMeter) written(b *testing.B) int64 {
	if w.store == nil {
		return 0
	}
	var busy, frames, done, page int64
	db := w.store.DB()
	if err := db.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &done); err != nil {
		b.Fatalf("wal checkpoint: %v", err)
	}
	if err := db.QueryRow("PRAGMA page_size").Scan(&page); err != nil {
		b.Fatalf("page size: %v", err)
	}
	if _, err := db.Exec("PRAGMA wal_autocheckpoint = 1000"); err != nil {
		b.Fatalf("wal autocheckpoint: %v", err)
	}
	return frames * page
}

// ---- the raw program ----

// rawCheckout is the hand-written side: its own tables, created in the
// store's fresh database next to minishop's and reached through the same
// counting pool, with the statements prepared once on the pool as a
// careful hand-written program would.
type rawCheckout struct {
	*rawShop // the dialect's placeholders and retry rule
	db       *sql.DB
	shape    storetest.Shape
	buyers   int
	perBuyer int
	plugins  bool
	tpl      *template
	// asksIsolation: READ COMMITTED per transaction, as InTx does where
	// the sessions do not start there.
	asksIsolation bool

	decrement, useCoupon, spend, insertOrder, insertLines, insertOutbox *sql.Stmt
}

// rawSpend is the raw side's points per order, as VsRawPoints.
const rawSpend = storetest.VsRawPoints

func newRawCheckout(b *testing.B, store *sqlstore.Store, shape storetest.Shape, buyers, perBuyer int, plugins bool) *rawCheckout {
	b.Helper()
	ctx := context.Background()
	r := &rawCheckout{rawShop: &rawShop{dialect: store.Dialect()}, db: store.DB(), shape: shape, buyers: buyers,
		perBuyer: perBuyer, plugins: plugins, asksIsolation: sqlstore.AsksIsolation(store)}
	ddl := []string{
		"CREATE TABLE raw_skus (id BIGINT PRIMARY KEY, stock BIGINT NOT NULL)",
		"CREATE TABLE raw_coupons (id BIGINT PRIMARY KEY, customer VARCHAR(64) NOT NULL, status VARCHAR(16) NOT NULL, order_id VARCHAR(36))",
		"CREATE TABLE raw_points (customer VARCHAR(64) PRIMARY KEY, balance BIGINT NOT NULL)",
		"CREATE TABLE raw_orders (id VARCHAR(36) PRIMARY KEY, customer VARCHAR(64) NOT NULL, idempotency_key VARCHAR(64) NOT NULL, " +
			"status VARCHAR(16) NOT NULL, currency VARCHAR(3) NOT NULL, total_minor BIGINT NOT NULL, created_us BIGINT NOT NULL, doc TEXT NOT NULL, " +
			"UNIQUE (customer, idempotency_key))",
		"CREATE TABLE raw_lines (order_id VARCHAR(36) NOT NULL, line INT NOT NULL, sku_id BIGINT NOT NULL, quantity BIGINT NOT NULL, " +
			"price_minor BIGINT NOT NULL, PRIMARY KEY (order_id, line))",
		"CREATE TABLE raw_outbox (id VARCHAR(36) PRIMARY KEY, type VARCHAR(64) NOT NULL, aggregate_id VARCHAR(36) NOT NULL, " +
			"payload TEXT NOT NULL, time_us BIGINT NOT NULL)",
	}
	for _, q := range ddl {
		if _, err := r.db.ExecContext(ctx, q); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	// Stock for every order, as the minishop side; the points and coupons
	// exist in both variants, as the program and batch do there.
	total := int64(buyers * perBuyer)
	var seed []string
	var args [][]any
	if shape == storetest.Spread {
		for id := 1; id <= buyers*storetest.RawLines; id++ {
			seed, args = append(seed, "INSERT INTO raw_skus (id, stock) VALUES (?, ?)"), append(args, []any{id, perBuyer})
		}
	} else {
		for id := 1; id <= storetest.RawLines; id++ {
			seed, args = append(seed, "INSERT INTO raw_skus (id, stock) VALUES (?, ?)"), append(args, []any{id, total})
		}
	}
	for w := 0; w < buyers; w++ {
		seed = append(seed, "INSERT INTO raw_points (customer, balance) VALUES (?, ?)")
		args = append(args, []any{r.customer(w), int64(perBuyer)*rawSpend + 100_000})
		for i := 0; i < perBuyer; i++ {
			seed = append(seed, "INSERT INTO raw_coupons (id, customer, status) VALUES (?, ?, 'unused')")
			args = append(args, []any{r.coupon(w, i), r.customer(w)})
		}
	}
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	for k, q := range seed {
		if _, err := tx.ExecContext(ctx, r.rebind(q), args[k]...); err != nil {
			b.Fatalf("seed: %v", err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	prep := func(q string) *sql.Stmt {
		st, err := r.db.PrepareContext(ctx, r.rebind(q))
		if err != nil {
			b.Fatalf("prepare %s: %v", q, err)
		}
		b.Cleanup(func() { st.Close() })
		return st
	}
	lines := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?), ", storetest.RawLines), ", ")
	r.decrement = prep("UPDATE raw_skus SET stock = stock - ? WHERE id = ? AND stock >= ?")
	r.useCoupon = prep("UPDATE raw_coupons SET status = 'used', order_id = ? WHERE id = ? AND customer = ? AND status = 'unused'")
	r.spend = prep("UPDATE raw_points SET balance = balance - ? WHERE customer = ? AND balance >= ?")
	r.insertOrder = prep("INSERT INTO raw_orders (id, customer, idempotency_key, status, currency, total_minor, created_us, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
	r.insertLines = prep("INSERT INTO raw_lines (order_id, line, sku_id, quantity, price_minor) VALUES " + lines)
	r.insertOutbox = prep("INSERT INTO raw_outbox (id, type, aggregate_id, payload, time_us) VALUES (?, ?, ?, ?, ?)")
	return r
}

func (r *rawCheckout) customer(w int) string { return fmt.Sprintf("buyer-%d", w) }

func (r *rawCheckout) coupon(w, i int) int64 { return int64(w*r.perBuyer + i + 1) }

// skus are buyer w's SKU ids, ascending: rows locked in one order.
func (r *rawCheckout) skus(w int) []int64 {
	first := int64(1)
	if r.shape == storetest.Spread {
		first += int64(w * storetest.RawLines)
	}
	ids := make([]int64, storetest.RawLines)
	for j := range ids {
		ids[j] = first + int64(j)
	}
	return ids
}

var rawPrices = [storetest.RawLines]int64{5000, 3000, 2000}

var errRawRefused = errors.New("raw: guarded update matched no row")

// checkout is buyer w's i-th order in one transaction, with the options
// and retries sqlstore's InTx uses.
func (r *rawCheckout) checkout(ctx context.Context, w, i int) error {
	var opts *sql.TxOptions
	if r.asksIsolation {
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	start := time.Now() // sqlstore.DefaultRetryBudget from here, as InTx
	for attempt := 1; ; attempt++ {
		err := r.try(ctx, opts, w, i)
		if err == nil || !r.retryable(err) {
			return err
		}
		wait := sqlstore.Backoff(attempt)
		if time.Since(start)+wait > sqlstore.DefaultRetryBudget {
			return fmt.Errorf("raw: gave up after %d attempts: %w", attempt, err)
		}
		time.Sleep(wait)
	}
}

func (r *rawCheckout) try(ctx context.Context, opts *sql.TxOptions, w, i int) (err error) {
	tx, err := r.db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	guarded := func(st *sql.Stmt, args ...any) error {
		res, err := tx.StmtContext(ctx, st).ExecContext(ctx, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return errRawRefused
		}
		return nil
	}
	for _, sku := range r.skus(w) {
		if err := guarded(r.decrement, 1, sku, 1); err != nil {
			return err
		}
	}
	order := uuid.Must(uuid.NewV7()).String()
	customer := r.customer(w)
	total := int64(0)
	for _, p := range rawPrices {
		total += p
	}
	if r.plugins {
		if err := guarded(r.useCoupon, order, r.coupon(w, i), customer); err != nil {
			return err
		}
		if err := guarded(r.spend, rawSpend, customer, rawSpend); err != nil {
			return err
		}
		total -= 1500 + rawSpend // the coupon's 15.00 and the points' 10.00
	}
	now := time.Now().UnixMicro()
	if _, err := tx.StmtContext(ctx, r.insertOrder).ExecContext(ctx, order, customer, fmt.Sprintf("k%d", i), r.tpl.status,
		r.tpl.currency, total, now, r.tpl.doc); err != nil {
		return err
	}
	var lines []any
	for j, sku := range r.skus(w) {
		lines = append(lines, order, j, sku, 1, rawPrices[j])
	}
	if _, err := tx.StmtContext(ctx, r.insertLines).ExecContext(ctx, lines...); err != nil {
		return err
	}
	if _, err := tx.StmtContext(ctx, r.insertOutbox).ExecContext(ctx, uuid.Must(uuid.NewV7()).String(), r.tpl.eventType,
		order, r.tpl.payload, now); err != nil {
		return err
	}
	return tx.Commit()
}

// check fails b unless every order, line and outbox row is there, no stock
// is left and, with plugins, every coupon is used and every balance spent
// down.
func (r *rawCheckout) check(b *testing.B) {
	b.Helper()
	ctx := context.Background()
	orders := int64(r.buyers * r.perBuyer)
	one := func(q string) int64 {
		var n int64
		if err := r.db.QueryRowContext(ctx, q).Scan(&n); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
		return n
	}
	got := []int64{one("SELECT COUNT(*) FROM raw_orders"), one("SELECT COUNT(*) FROM raw_lines"),
		one("SELECT COUNT(*) FROM raw_outbox"), one("SELECT COALESCE(SUM(stock), 0) FROM raw_skus"),
		one("SELECT COUNT(*) FROM raw_coupons WHERE status = 'used'"), one("SELECT COALESCE(SUM(balance), 0) FROM raw_points")}
	want := []int64{orders, orders * storetest.RawLines, orders, 0, 0, int64(r.buyers) * (int64(r.perBuyer)*rawSpend + 100_000)}
	if r.plugins {
		want[4], want[5] = orders, int64(r.buyers)*100_000
	}
	if !slices.Equal(got, want) {
		b.Fatalf("raw rows (orders, lines, outbox, stock left, coupons used, points left) = %v, want %v", got, want)
	}
}

// ---- counting what reaches the server ----

type stmtKind int

const (
	kindExec stmtKind = iota
	kindQuery
	kindBegin
	kindCommit
	kindRollback
	kindPrepare
	kindSetTx     // MySQL's SET TRANSACTION inside BeginTx
	kindPipeline  // a pgx pipeline (batch): one round trip
	kindPipelined // statements sent in a pipeline (also counted as exec)
	nKinds
)

var kindNames = [nKinds]string{"exec", "query", "begin", "commit", "rollback", "prepare", "settx", "pipeline", "pipelined"}

// stmtTally counts by kind what the counting connections sent and, with
// byText set, the statements executed by SQL text.
type stmtTally struct {
	mysql  bool
	n      [nKinds]atomic.Int64
	mu     sync.Mutex
	byText map[string]int64
}

func newStmtTally(dialect string, byText bool) *stmtTally {
	t := &stmtTally{mysql: dialect == "MySQL"}
	if byText {
		t.byText = map[string]int64{}
	}
	return t
}

// add counts one of kind; t may be nil (the plain counting harness).
func (t *stmtTally) add(k stmtKind) {
	if t != nil {
		t.n[k].Add(1)
	}
}

func (t *stmtTally) text(q string) {
	if t == nil || t.byText == nil {
		return
	}
	t.mu.Lock()
	t.byText[q]++
	t.mu.Unlock()
}

type tallySnap struct {
	n    [nKinds]int64
	text map[string]int64
}

func (t *stmtTally) snapshot() tallySnap {
	var s tallySnap
	for k := range s.n {
		s.n[k] = t.n[k].Load()
	}
	t.mu.Lock()
	s.text = maps.Clone(t.byText)
	t.mu.Unlock()
	return s
}

// since is what was counted after before.
func (t *stmtTally) since(before tallySnap) tallySnap {
	now := t.snapshot()
	for k := range now.n {
		now.n[k] -= before.n[k]
	}
	for q, n := range before.text {
		if now.text[q] -= n; now.text[q] == 0 {
			delete(now.text, q)
		}
	}
	return now
}

// statements is what reached the server as statements: executions, BEGIN,
// COMMIT and ROLLBACK (prepares and MySQL's SET TRANSACTION apart).
func (s tallySnap) statements() float64 {
	return float64(s.n[kindExec] + s.n[kindQuery] + s.n[kindBegin] + s.n[kindCommit] + s.n[kindRollback])
}

// trips is the round trips to the server: each statement, but a
// pipeline's statements once, and MySQL's SET TRANSACTION.
func (s tallySnap) trips() float64 {
	return s.statements() - float64(s.n[kindPipelined]) + float64(s.n[kindPipeline]+s.n[kindSetTx])
}

func (s tallySnap) per(k stmtKind, orders int) float64 { return float64(s.n[k]) / float64(orders) }

func (s tallySnap) breakdown(orders int) string {
	var parts []string
	for k := range nKinds {
		if s.n[k] != 0 {
			parts = append(parts, fmt.Sprintf("%s %.2f", kindNames[k], s.per(k, orders)))
		}
	}
	return strings.Join(parts, ", ")
}

// texts lists the statements executed per order, most frequent first,
// each cut to its first 110 characters.
func (s tallySnap) texts(orders int) string {
	qs := slices.Collect(maps.Keys(s.text))
	slices.SortFunc(qs, func(a, b string) int {
		return cmp.Or(cmp.Compare(s.text[b], s.text[a]), strings.Compare(a, b))
	})
	var sb strings.Builder
	for _, q := range qs {
		one := strings.Join(strings.Fields(q), " ")
		if len(one) > 110 {
			one = one[:110] + "…"
		}
		fmt.Fprintf(&sb, "  %6.2f  %s\n", float64(s.text[q])/float64(orders), one)
	}
	return sb.String()
}

// countingTx counts COMMIT and ROLLBACK.
type countingTx struct {
	driver.Tx
	t *stmtTally
}

func (x *countingTx) Commit() error {
	x.t.add(kindCommit)
	return x.Tx.Commit()
}

func (x *countingTx) Rollback() error {
	x.t.add(kindRollback)
	return x.Tx.Rollback()
}
