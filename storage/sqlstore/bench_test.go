package sqlstore_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/storage/sqlstore"
	"github.com/minishop/minishop/storage/storetest"
)

// BenchmarkCheckout measures minishop's checkout on each dialect against a
// raw baseline: hand-written SQL doing the row work a minishop checkout does
// in its transaction, on the same database, buyers and shape.
//
//	go test -run x -bench Checkout ./storage/sqlstore
//
// PostgreSQL and MySQL run when MINISHOP_POSTGRES_DSN / MINISHOP_MYSQL_DSN
// are set. Each sub-benchmark reports orders/s (minishop, the timed part),
// raw-orders/s (the baseline, timed by hand after the timer stopped) and
// ratio = orders/s / raw-orders/s; allocs/op is minishop's alone.
func BenchmarkCheckout(b *testing.B) {
	hs := harnesses()
	for _, name := range []string{"SQLite", "Postgres", "MySQL"} {
		b.Run(name, func(b *testing.B) {
			skipBenchWithoutServer(b, name)
			for _, shape := range []storetest.Shape{storetest.Spread, storetest.Hot} {
				for _, buyers := range []int{1, 8, 32} {
					b.Run(fmt.Sprintf("%s/buyers=%d", shape, buyers), func(b *testing.B) {
						benchVersusRaw(b, hs[name], shape, buyers)
					})
				}
			}
		})
	}
}

// skipBenchWithoutServer skips a dialect's benchmarks up front, with one
// message, when its DSN is unset.
func skipBenchWithoutServer(b *testing.B, name string) {
	env := map[string]string{"Postgres": pgEnv, "MySQL": mysqlEnv}[name]
	if env != "" && os.Getenv(env) == "" {
		b.Skipf("%s benchmarks skipped: set %s to run them (see README)", name, env)
	}
}

// benchVersusRaw runs storetest's checkout benchmark (timed), then the raw
// baseline for the same buyers and number of orders on a fresh store of the
// same dialect (untimed by the framework, timed here), and reports both.
func benchVersusRaw(b *testing.B, h storetest.Harness, shape storetest.Shape, buyers int) {
	var mini *sqlstore.Store
	capture := storetest.Harness{New: func(t testing.TB) storetest.Store {
		mini = h.New(t).(*sqlstore.Store)
		return mini
	}}
	rate := storetest.BenchCheckoutRate(b, capture, shape, buyers)
	if b.Failed() || mini == nil {
		return
	}
	// The baseline writes the same bytes per order: minishop's order
	// document and event payload, copied once from the run above.
	tpl, err := readTemplate(mini)
	if err != nil {
		b.Fatalf("read order template: %v", err)
	}
	raw := newRawShop(b, h, shape, buyers, (b.N+buyers-1)/buyers, tpl)
	rawRate := raw.run(b)
	b.ReportMetric(rawRate, "raw-orders/s")
	b.ReportMetric(rate/rawRate, "ratio")
}

const prefix = "minishop_" // sqlstore's default table prefix

// template is what the baseline writes into every order and event row.
type template struct {
	status, currency string
	total            int64
	doc              string
	eventType        string
	payload          string
}

func readTemplate(s *sqlstore.Store) (*template, error) {
	ctx := context.Background()
	db := s.DB()
	t := &template{}
	err := db.QueryRowContext(ctx, "SELECT status, currency, total_minor, doc FROM "+prefix+"orders ORDER BY created_us LIMIT 1").
		Scan(&t.status, &t.currency, &t.total, &t.doc)
	if err != nil {
		return nil, err
	}
	err = db.QueryRowContext(ctx, "SELECT type, payload FROM "+prefix+"events ORDER BY time_us LIMIT 1").Scan(&t.eventType, &t.payload)
	return t, err
}

// rawShop is the baseline: a fresh store seeded like storetest's benchmark,
// checked out against with hand-written SQL on the store's own *sql.DB.
type rawShop struct {
	db       *sql.DB
	dialect  sqlstore.Dialect
	shape    storetest.Shape
	buyers   int
	perBuyer int
	units    int64 // hot shape: units of the hot SKU
	merchant any
	skus     [][]any // per buyer, the SKU ids of its lines, in locking order
	allSKUs  []any
	tpl      *template

	update, insertOrder, insertEvent string
}

var errSoldOut = errors.New("raw: sold out")

func newRawShop(b *testing.B, h storetest.Harness, shape storetest.Shape, buyers, perBuyer int, tpl *template) *rawShop {
	b.Helper()
	store := h.New(b).(*sqlstore.Store)
	svc, err := commerce.New(commerce.Config{Store: store})
	if err != nil {
		b.Fatal(err)
	}
	total := perBuyer * buyers
	r := &rawShop{db: store.DB(), dialect: store.Dialect(), shape: shape, buyers: buyers, perBuyer: perBuyer, tpl: tpl}
	// The same catalog as storetest.BenchCheckout.
	var specs []commercetest.ProductSpec
	switch shape {
	case storetest.Spread:
		for i := 0; i < buyers; i++ {
			specs = append(specs, commercetest.ProductSpec{Title: fmt.Sprintf("p%d", i), Prices: []string{"19.90", "5.50"}, Stock: int64(perBuyer)})
		}
	case storetest.Hot:
		r.units = int64(total - total/10)
		specs = append(specs, commercetest.ProductSpec{Title: "hot", Prices: []string{"19.90"}, Stock: r.units})
	}
	shop := commercetest.NewShop(b, svc, "bench", commerce.ShippingRule{}, specs...)
	r.merchant = r.id(shop.Merchant.ID.UUID())
	for w := 0; w < buyers; w++ {
		var ids []uuid.UUID
		if shape == storetest.Spread {
			ids = []uuid.UUID{shop.SKU(w, 0).UUID(), shop.SKU(w, 1).UUID()}
		} else {
			ids = []uuid.UUID{shop.SKU(0, 0).UUID()}
		}
		// Lock rows in one order, as minishop does.
		slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
		var args []any
		for _, u := range ids {
			args = append(args, r.id(u))
		}
		r.skus = append(r.skus, args)
	}
	for _, p := range shop.Products {
		for _, sku := range p.SKUs {
			r.allSKUs = append(r.allSKUs, r.id(sku.ID.UUID()))
		}
	}
	r.update = r.rebind("UPDATE " + prefix + "skus SET stock = stock - ? WHERE id = ? AND merchant_id = ? AND stock >= ?")
	r.insertOrder = r.rebind("INSERT INTO " + prefix + "orders (id, merchant_id, customer_id, status, idempotency_key, currency, total_minor, due_us, created_us, updated_us, version, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
	r.insertEvent = r.rebind("INSERT INTO " + prefix + "events (id, seq, type, aggregate_id, merchant_id, payload, time_us) VALUES (?, NULL, ?, ?, ?, ?, ?)")
	return r
}

// id is a UUID as its column takes it: text on PostgreSQL, 16 bytes elsewhere.
func (r *rawShop) id(u uuid.UUID) any {
	if r.dialect == sqlstore.Postgres {
		return u.String()
	}
	return u[:]
}

// rebind numbers placeholders for PostgreSQL.
func (r *rawShop) rebind(q string) string {
	if r.dialect != sqlstore.Postgres {
		return q
	}
	var sb strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			sb.WriteString("$" + strconv.Itoa(n))
			continue
		}
		sb.WriteRune(c)
	}
	return sb.String()
}

// run places perBuyer orders per buyer concurrently and returns orders/s,
// counting refused orders in the hot shape as storetest does. It fails b if
// the hot SKU was oversold or the rows do not add up.
func (r *rawShop) run(b *testing.B) float64 {
	b.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	placed := 0
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < r.buyers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			customer := fmt.Sprintf("buyer-%d", w)
			ok := 0
			for i := 0; i < r.perBuyer; i++ {
				err := r.checkout(ctx, customer, fmt.Sprintf("k%d", i), r.skus[w])
				switch {
				case err == nil:
					ok++
				case r.shape == storetest.Hot && errors.Is(err, errSoldOut):
				default:
					b.Errorf("raw checkout: %v", err)
					return
				}
			}
			mu.Lock()
			placed += ok
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	total := r.perBuyer * r.buyers
	if b.Failed() {
		return 0
	}
	want := total
	if r.shape == storetest.Hot {
		want = int(r.units)
	}
	var orders, events, stockLeft, minStock int64
	if err := r.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+prefix+"orders").Scan(&orders); err != nil {
		b.Fatal(err)
	}
	if err := r.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+prefix+"events").Scan(&events); err != nil {
		b.Fatal(err)
	}
	if err := r.db.QueryRowContext(ctx, "SELECT COALESCE(SUM(stock), 0), COALESCE(MIN(stock), 0) FROM "+prefix+"skus").Scan(&stockLeft, &minStock); err != nil {
		b.Fatal(err)
	}
	if placed != want || orders != int64(placed) || events != int64(placed) || stockLeft != 0 || minStock < 0 {
		b.Fatalf("raw %s: %d orders placed (%d rows, %d events) for %d wanted; stock left %d, min %d",
			r.shape, placed, orders, events, want, stockLeft, minStock)
	}
	return float64(total) / elapsed.Seconds()
}

// checkout is one order's row work in one transaction, with the options and
// retries sqlstore's InTx uses: guarded decrements, the order row (its
// idempotency key is a unique index) and the outbox event.
func (r *rawShop) checkout(ctx context.Context, customer, key string, skus []any) error {
	var opts *sql.TxOptions
	if r.dialect != sqlstore.SQLite {
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	start := time.Now() // sqlstore.DefaultRetryBudget from here, as InTx
	for attempt := 1; ; attempt++ {
		err := r.try(ctx, opts, customer, key, skus)
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

func (r *rawShop) try(ctx context.Context, opts *sql.TxOptions, customer, key string, skus []any) (err error) {
	tx, err := r.db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	for _, sku := range skus {
		res, err := tx.ExecContext(ctx, r.update, 1, sku, r.merchant, 1)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return errSoldOut
		}
	}
	now := time.Now()
	order := uuid.Must(uuid.NewV7())
	_, err = tx.ExecContext(ctx, r.insertOrder, r.id(order), r.merchant, customer, r.tpl.status, key, r.tpl.currency,
		r.tpl.total, now.Add(30*time.Minute).UnixMicro(), now.UnixMicro(), now.UnixMicro(), 1, r.tpl.doc)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, r.insertEvent, r.id(uuid.Must(uuid.NewV7())), r.tpl.eventType, order.String(), r.merchant, r.tpl.payload, now.UnixMicro())
	if err != nil {
		return err
	}
	return tx.Commit()
}

// retryable is sqlstore's retry rule: serialization failure, deadlock, lock
// timeout or busy database.
func (r *rawShop) retryable(err error) bool {
	switch r.dialect {
	case sqlstore.SQLite:
		var e *sqlite.Error
		if errors.As(err, &e) {
			c := e.Code() & 0xff
			return c == 5 || c == 6 // SQLITE_BUSY, SQLITE_LOCKED
		}
	case sqlstore.Postgres:
		var e *pgconn.PgError
		if errors.As(err, &e) {
			return e.Code == "40001" || e.Code == "40P01" || e.Code == "55P03"
		}
	case sqlstore.MySQL:
		var e *mysql.MySQLError
		if errors.As(err, &e) {
			return e.Number == 1213 || e.Number == 1205
		}
	}
	return false
}
