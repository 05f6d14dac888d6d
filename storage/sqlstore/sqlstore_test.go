package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/membership"
	"github.com/minishop/minishop/storage"
	"github.com/minishop/minishop/storage/sqlstore"
)

// dialectStores returns a fresh store per dialect the machine can run.
func dialectStores() map[sqlstore.Dialect]func(t *testing.T) *sqlstore.Store {
	return map[sqlstore.Dialect]func(t *testing.T) *sqlstore.Store{
		sqlstore.SQLite:   func(t *testing.T) *sqlstore.Store { return sqliteStore(t) },
		sqlstore.Postgres: func(t *testing.T) *sqlstore.Store { return openDB(t, postgresDB(t), sqlstore.Postgres) },
		sqlstore.MySQL:    func(t *testing.T) *sqlstore.Store { return openDB(t, mysqlDB(t), sqlstore.MySQL) },
	}
}

func eachDialect(t *testing.T, fn func(t *testing.T, d sqlstore.Dialect, open func(t *testing.T) *sqlstore.Store)) {
	for d, open := range dialectStores() {
		t.Run(string(d), func(t *testing.T) { fn(t, d, open) })
	}
}

// world is a shop with one SKU of 5 units (limit 3 per customer) on a store.
type world struct {
	ctx   context.Context
	store *sqlstore.Store
	svc   *commerce.Service
	shop  *commercetest.Shop
	sku   commerce.SKUID
}

func newWorld(t *testing.T, store *sqlstore.Store, hooks ...commerce.CheckoutHook) *world {
	t.Helper()
	svc, err := commerce.New(commerce.Config{Store: store, CheckoutHooks: hooks})
	require.NoError(t, err)
	shop := commercetest.NewShop(t, svc, "测试小店", commerce.ShippingRule{},
		commercetest.ProductSpec{Title: "乌龙茶", Prices: []string{"38.00"}, Stock: 5, Limit: 3})
	return &world{ctx: context.Background(), store: store, svc: svc, shop: shop, sku: shop.SKU(0, 0)}
}

func (w *world) checkout(key string) (*commerce.Order, error) {
	return w.svc.Checkout(w.ctx, commerce.CheckoutParams{MerchantID: w.shop.Merchant.ID, CustomerID: "alice",
		IdempotencyKey: key, ShippingAddress: commercetest.Address(),
		Lines: []commerce.LineItem{{SKU: w.sku, Quantity: 2}}})
}

// assertNoTrace checks that no checkout left anything behind: all stock,
// no order, no outbox event, and the whole purchase limit still free.
func (w *world) assertNoTrace(t *testing.T) {
	t.Helper()
	p, err := w.svc.GetProduct(w.ctx, w.shop.Merchant.ID, w.shop.Products[0].ID)
	require.NoError(t, err)
	assert.EqualValues(t, 5, p.SKUs[0].Stock, "stock reserved by a failed checkout")
	orders, err := w.store.ListOrders(w.ctx, w.shop.Merchant.ID, commerce.OrderQuery{})
	require.NoError(t, err)
	assert.Empty(t, orders, "order left by a failed checkout")
	events, err := w.store.ReadEvents(w.ctx, 0, 100)
	require.NoError(t, err)
	for _, e := range events {
		assert.NotEqual(t, "order.created", e.Type, "outbox event left by a failed checkout")
	}
	// The failed attempt's key and purchases are free: the same key now
	// makes one order, and the customer may still buy up to the limit.
	o, err := w.checkout("k1")
	require.NoError(t, err)
	assert.EqualValues(t, 2, o.Lines[0].Quantity)
	_, err = w.svc.Checkout(w.ctx, commerce.CheckoutParams{MerchantID: w.shop.Merchant.ID, CustomerID: "alice",
		IdempotencyKey: "k2", ShippingAddress: commercetest.Address(), Lines: []commerce.LineItem{{SKU: w.sku, Quantity: 1}}})
	require.NoError(t, err, "purchases of the failed checkout still count against the limit")
}

// A failing insert late in checkout (the outbox table is gone) rolls back
// the stock reservation, the purchases and the order.
func TestFailedInsertLeavesNoTrace(t *testing.T) {
	eachDialect(t, func(t *testing.T, d sqlstore.Dialect, open func(t *testing.T) *sqlstore.Store) {
		w := newWorld(t, open(t))
		require.NoError(t, sqlstore.Exec(w.ctx, w.store, "ALTER TABLE {p}events RENAME TO {p}events_away"))
		_, err := w.checkout("k1")
		require.Error(t, err, "checkout with the outbox table missing")
		require.NoError(t, sqlstore.Exec(w.ctx, w.store, "ALTER TABLE {p}events_away RENAME TO {p}events"))
		w.assertNoTrace(t)
	})
}

// A connection killed by the server in the middle of checkout (after the
// stock update, before the order insert) loses the whole transaction. InTx
// runs it again on a fresh connection, as it would after a failover, and
// the checkout is applied exactly once. When every attempt's connection is
// killed, the retry budget runs out and the caller is told the store is
// unavailable (and nothing else): no attempt left a trace.
func TestKilledConnectionLeavesNoTrace(t *testing.T) {
	eachDialect(t, func(t *testing.T, d sqlstore.Dialect, open func(t *testing.T) *sqlstore.Store) {
		if d == sqlstore.SQLite {
			t.Skip("SQLite has no server connection to kill; TestCrashMidCheckout kills the process instead")
		}
		admin := adminDB(t, d)
		// The driver logs the connection the server dropped; that is the point here.
		_ = mysql.SetLogger(log.New(io.Discard, "", 0))
		killer := func(store *sqlstore.Store, kills *atomic.Int32) commerce.CheckoutHook {
			return commerce.CheckoutHookFunc(func(ctx context.Context, c *commerce.CheckoutContext) error {
				if kills.Add(-1) < 0 {
					return nil
				}
				if err := killOwnConnection(ctx, admin, store, d); err != nil {
					return fmt.Errorf("kill: %w", err)
				}
				return nil
			})
		}

		t.Run("once", func(t *testing.T) {
			store := open(t)
			var kills atomic.Int32
			kills.Store(1)
			w := newWorld(t, store, killer(store, &kills))
			o, err := w.checkout("k1")
			require.NoError(t, err, "checkout retried after its connection was killed")
			assert.Less(t, kills.Load(), int32(0), "the hook ran again: the transaction was retried")
			p, err := w.svc.GetProduct(w.ctx, w.shop.Merchant.ID, w.shop.Products[0].ID)
			require.NoError(t, err)
			assert.EqualValues(t, 3, p.SKUs[0].Stock, "the checkout's 2 units taken exactly once")
			orders, err := store.ListOrders(w.ctx, w.shop.Merchant.ID, commerce.OrderQuery{})
			require.NoError(t, err)
			require.Len(t, orders, 1)
			assert.Equal(t, o.ID, orders[0].ID)
		})

		t.Run("always", func(t *testing.T) {
			base := open(t)
			store, err := sqlstore.OpenDB(context.Background(), base.DB(), d, sqlstore.Options{RetryBudget: 300 * time.Millisecond})
			require.NoError(t, err)
			var kills atomic.Int32
			kills.Store(1 << 30)
			w := newWorld(t, store, killer(store, &kills))
			_, err = w.checkout("k1")
			require.Error(t, err, "checkout on a connection killed at every attempt")
			assert.NotContains(t, err.Error(), "kill:", "the hook failed to kill the connection")
			assert.ErrorIs(t, err, storage.ErrUnavailable)
			assert.Equal(t, commerce.KindUnavailable, commerce.KindOf(err), "%v", err)
			assert.NotErrorIs(t, err, commerce.ErrInternal)
			assert.Greater(t, 1<<30-kills.Load(), int32(1), "InTx retried before giving up")
			kills.Store(0)
			w.assertNoTrace(t)
		})
	})
}

func adminDB(t *testing.T, d sqlstore.Dialect) *sql.DB {
	driver, dsn := "pgx", os.Getenv(pgEnv)
	if d == sqlstore.MySQL {
		driver, dsn = "mysql", os.Getenv(mysqlEnv)
	}
	db, err := sql.Open(driver, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// killOwnConnection has the server end the connection that ctx's
// transaction (holding the checkout's row locks) runs on.
func killOwnConnection(ctx context.Context, admin *sql.DB, store *sqlstore.Store, d sqlstore.Dialect) error {
	id, err := sqlstore.ConnID(ctx, store)
	if err != nil {
		return err
	}
	switch d {
	case sqlstore.Postgres:
		var ok bool
		if err := admin.QueryRowContext(ctx, "SELECT pg_terminate_backend($1)", id).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("backend %d not terminated", id)
		}
		return nil
	case sqlstore.MySQL:
		_, err := admin.ExecContext(ctx, fmt.Sprintf("KILL %d", id))
		return err
	}
	return fmt.Errorf("no kill for %s", d)
}

// The embedded store's version of a killed connection: the process dies in
// the middle of checkout. The test runs itself as a child that exits inside
// a checkout hook, then opens the file again.
func TestCrashMidCheckout(t *testing.T) {
	if path := os.Getenv("MINISHOP_CRASH_DB"); path != "" {
		crashChild(path)
		return
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, path, sqlstore.Options{})
	require.NoError(t, err)
	w := newWorld(t, store)
	require.NoError(t, store.Close())

	cmd := exec.Command(os.Args[0], "-test.run", "^TestCrashMidCheckout$")
	cmd.Env = append(os.Environ(), "MINISHOP_CRASH_DB="+path,
		"MINISHOP_CRASH_MERCHANT="+w.shop.Merchant.ID.String(), "MINISHOP_CRASH_SKU="+w.sku.String())
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit) && exit.ExitCode() == 3, "child should die mid-checkout with status 3: %v\n%s", err, out)

	store, err = sqlstore.Open(ctx, path, sqlstore.Options{})
	require.NoError(t, err)
	defer store.Close()
	w.store = store
	w.svc, err = commerce.New(commerce.Config{Store: store})
	require.NoError(t, err)
	w.assertNoTrace(t)
}

func crashChild(path string) {
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, path, sqlstore.Options{})
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	var merchant commerce.MerchantID
	var sku commerce.SKUID
	err1 := merchant.UnmarshalText([]byte(os.Getenv("MINISHOP_CRASH_MERCHANT")))
	err2 := sku.UnmarshalText([]byte(os.Getenv("MINISHOP_CRASH_SKU")))
	if err := errors.Join(err1, err2); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	die := commerce.CheckoutHookFunc(func(context.Context, *commerce.CheckoutContext) error {
		os.Exit(3) // stock is reserved in the open transaction
		return nil
	})
	svc, err := commerce.New(commerce.Config{Store: store, CheckoutHooks: []commerce.CheckoutHook{die}})
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	_, err = svc.Checkout(ctx, commerce.CheckoutParams{MerchantID: merchant, CustomerID: "alice", IdempotencyKey: "k1",
		ShippingAddress: commercetest.Address(), Lines: []commerce.LineItem{{SKU: sku, Quantity: 2}}})
	fmt.Println("checkout returned:", err)
	os.Exit(1)
}

// Several processes starting at once on an empty database all migrate it,
// and each version is recorded once.
func TestMigrateConcurrent(t *testing.T) {
	eachDialect(t, func(t *testing.T, d sqlstore.Dialect, open func(t *testing.T) *sqlstore.Store) {
		ctx := context.Background()
		var opens []func() (*sqlstore.Store, error)
		switch d {
		case sqlstore.SQLite:
			// Separate connection pools on one file, as separate processes have.
			path := filepath.Join(t.TempDir(), "m.db")
			for range 4 {
				opens = append(opens, func() (*sqlstore.Store, error) { return sqlstore.Open(ctx, path, sqlstore.Options{}) })
			}
		default:
			// One pool of many connections on an empty schema: the server
			// sees concurrent sessions, as it would from separate processes.
			var db *sql.DB
			if d == sqlstore.Postgres {
				db = postgresDB(t)
			} else {
				db = mysqlDB(t)
			}
			for range 4 {
				opens = append(opens, func() (*sqlstore.Store, error) { return sqlstore.OpenDB(ctx, db, d, sqlstore.Options{}) })
			}
		}
		stores := make([]*sqlstore.Store, len(opens))
		errs := make([]error, len(opens))
		var wg sync.WaitGroup
		for i, o := range opens {
			wg.Go(func() { stores[i], errs[i] = o() })
		}
		wg.Wait()
		for i, err := range errs {
			require.NoError(t, err, "migration %d", i)
			t.Cleanup(func() { stores[i].Close() })
		}
		rows, err := stores[0].DB().QueryContext(ctx, "SELECT version, COUNT(*) FROM minishop_schema_migrations GROUP BY version")
		require.NoError(t, err)
		defer rows.Close()
		versions := 0
		for rows.Next() {
			var v, n int
			require.NoError(t, rows.Scan(&v, &n))
			assert.Equal(t, 1, n, "version %d recorded %d times", v, n)
			versions++
		}
		require.NoError(t, rows.Err())
		files, err := sqlstore.Migrations(d, "")
		require.NoError(t, err)
		names, err := fs.Glob(files, "*.sql")
		require.NoError(t, err)
		assert.Equal(t, len(names), versions)
		// Migrating again is a no-op, and the schema works.
		require.NoError(t, stores[1].Migrate(ctx))
		w := newWorld(t, stores[2])
		_, err = w.checkout("k1")
		require.NoError(t, err)
	})
}

// A host applies the exposed migration files with its own tool, then opens
// the store without migrating.
func TestMigrationsFS(t *testing.T) {
	for _, d := range []sqlstore.Dialect{sqlstore.SQLite, sqlstore.Postgres, sqlstore.MySQL} {
		files, err := sqlstore.Migrations(d, "shop_")
		require.NoError(t, err, d)
		names, err := fs.Glob(files, "*.sql")
		require.NoError(t, err)
		require.NotEmpty(t, names, d)
		assert.Equal(t, "0001_commerce.sql", names[0])
		for _, n := range names {
			b, err := fs.ReadFile(files, n)
			require.NoError(t, err)
			assert.NotContains(t, string(b), "{p}", "%s/%s keeps a placeholder", d, n)
			// Each file changes the prefixed tables, or (a version kept
			// aligned with another dialect's) is comments only.
			indexes := strings.Contains(string(b), "CREATE INDEX") && strings.Contains(string(b), " ON shop_")
			if !strings.Contains(string(b), "CREATE TABLE IF NOT EXISTS shop_") && !strings.Contains(string(b), "ALTER TABLE shop_") && !indexes {
				for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
					assert.True(t, strings.HasPrefix(strings.TrimSpace(l), "--"), "%s/%s neither creates nor alters a prefixed table: %q", d, n, l)
				}
			}
			// Money and times are exact: no floating point column types.
			for _, float := range []string{"REAL", "FLOAT", "DOUBLE"} {
				assert.NotContains(t, strings.ToUpper(string(b)), " "+float, "%s/%s uses %s", d, n, float)
			}
		}
	}
	_, err := sqlstore.Migrations(sqlstore.SQLite, "bad-prefix;")
	assert.ErrorContains(t, err, "table prefix")
	_, err = sqlstore.Migrations("oracle", "")
	assert.ErrorContains(t, err, "oracle")

	// Apply the SQLite files by hand, as a host's tool would.
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "host.db")+"?_txlock=immediate&_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	defer db.Close()
	db.SetMaxOpenConns(1)
	files, err := sqlstore.Migrations(sqlstore.SQLite, "shop_")
	require.NoError(t, err)
	names, err := fs.Glob(files, "*.sql")
	require.NoError(t, err)
	for _, name := range names {
		b, err := fs.ReadFile(files, name)
		require.NoError(t, err)
		for _, stmt := range strings.Split(string(b), ";\n") {
			if strings.TrimSpace(stmt) != "" {
				_, err := db.ExecContext(ctx, stmt)
				require.NoError(t, err, stmt)
			}
		}
	}
	store, err := sqlstore.OpenDB(ctx, db, sqlstore.SQLite, sqlstore.Options{TablePrefix: "shop_", NoMigrate: true})
	require.NoError(t, err)
	w := newWorld(t, store)
	_, err = w.checkout("k1")
	require.NoError(t, err)
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM shop_orders").Scan(&n))
	assert.Equal(t, 1, n)
}

func TestOpenMemory(t *testing.T) {
	ctx := context.Background()
	a, err := sqlstore.Open(ctx, ":memory:", sqlstore.Options{})
	require.NoError(t, err)
	defer a.Close()
	b, err := sqlstore.Open(ctx, ":memory:", sqlstore.Options{})
	require.NoError(t, err)
	defer b.Close()
	w := newWorld(t, a)
	_, err = w.checkout("k1")
	require.NoError(t, err)
	_, err = b.GetMerchant(ctx, w.shop.Merchant.ID)
	assert.ErrorIs(t, err, storage.ErrNotFound, "two in-memory stores share data")
}

func TestOpenRejects(t *testing.T) {
	ctx := context.Background()
	_, err := sqlstore.Open(ctx, "", sqlstore.Options{})
	assert.ErrorContains(t, err, "empty path")
	_, err = sqlstore.Open(ctx, filepath.Join(t.TempDir(), "x.db"), sqlstore.Options{TablePrefix: "drop table;"})
	assert.ErrorContains(t, err, "table prefix")
	_, err = sqlstore.Open(ctx, filepath.Join(t.TempDir(), "x.db"), sqlstore.Options{MaxAttempts: -1})
	assert.ErrorContains(t, err, "max attempts")
	_, err = sqlstore.Open(ctx, filepath.Join(t.TempDir(), "x.db"), sqlstore.Options{RetryBudget: -time.Second})
	assert.ErrorContains(t, err, "retry budget")
	db, err := sql.Open("sqlite", ":memory:")
	require.NoError(t, err)
	defer db.Close()
	_, err = sqlstore.OpenDB(ctx, db, "oracle", sqlstore.Options{})
	assert.ErrorContains(t, err, `unknown dialect "oracle"`)
	_, err = sqlstore.Open(ctx, filepath.Join(t.TempDir(), "missing-dir", "x.db"), sqlstore.Options{})
	assert.Error(t, err, "a database in a directory that does not exist")
}

// retryableError is what each dialect's driver reports for a transaction
// the database aborted to resolve a conflict.
func retryableError(d sqlstore.Dialect) error {
	switch d {
	case sqlstore.Postgres:
		return &pgconn.PgError{Code: "40001", Message: "could not serialize access"}
	case sqlstore.MySQL:
		return &mysql.MySQLError{Number: 1213, Message: "Deadlock found"}
	}
	return nil
}

// InTx retries a transaction the database aborted for as long as its retry
// budget lasts (or, when set, up to MaxAttempts), and then says it gave up.
func TestRetryBounded(t *testing.T) {
	eachDialect(t, func(t *testing.T, d sqlstore.Dialect, open func(t *testing.T) *sqlstore.Store) {
		if d == sqlstore.SQLite {
			t.Skip("SQLite's busy errors come from a real lock in TestRetrySQLiteBusy")
		}
		base := open(t)
		ctx := context.Background()
		const budget = 250 * time.Millisecond
		store, err := sqlstore.OpenDB(ctx, base.DB(), d, sqlstore.Options{RetryBudget: budget})
		require.NoError(t, err)
		var calls atomic.Int32
		err = store.InTx(ctx, func(ctx context.Context) error {
			if calls.Add(1) < 3 {
				return retryableError(d)
			}
			return nil
		})
		require.NoError(t, err)
		assert.EqualValues(t, 3, calls.Load())

		calls.Store(0)
		began := time.Now()
		err = store.InTx(ctx, func(ctx context.Context) error { calls.Add(1); return retryableError(d) })
		took := time.Since(began)
		assert.ErrorIs(t, err, storage.ErrUnavailable)
		assert.ErrorContains(t, err, "gave up after")
		// The budget is spent, not overrun: the last backoff must fit in it.
		assert.Greater(t, took, budget/2, "gave up early")
		assert.Less(t, took, budget+100*time.Millisecond, "overran the budget")
		assert.Greater(t, calls.Load(), int32(5), "few attempts in the budget: the backoff is too long")

		// MaxAttempts caps the attempts within the budget.
		capped, err := sqlstore.OpenDB(ctx, base.DB(), d, sqlstore.Options{MaxAttempts: 4})
		require.NoError(t, err)
		calls.Store(0)
		err = capped.InTx(ctx, func(ctx context.Context) error { calls.Add(1); return retryableError(d) })
		assert.ErrorIs(t, err, storage.ErrUnavailable)
		assert.ErrorContains(t, err, "gave up after 4 attempts")
		assert.EqualValues(t, 4, calls.Load())

		// Other errors are not retried.
		calls.Store(0)
		boom := errors.New("boom")
		err = store.InTx(ctx, func(ctx context.Context) error { calls.Add(1); return boom })
		assert.ErrorIs(t, err, boom)
		assert.EqualValues(t, 1, calls.Load())
	})
}

// Two transactions taking two rows in opposite orders deadlock for real; the
// database aborts one and InTx runs it again, so both succeed.
func TestRetryDeadlock(t *testing.T) {
	eachDialect(t, func(t *testing.T, d sqlstore.Dialect, open func(t *testing.T) *sqlstore.Store) {
		if d == sqlstore.SQLite {
			t.Skip("SQLite transactions take the write lock at BEGIN and cannot deadlock")
		}
		store := open(t)
		ctx := context.Background()
		require.NoError(t, sqlstore.Exec(ctx, store, "CREATE TABLE {p}probe (id INT PRIMARY KEY, v INT NOT NULL)"))
		require.NoError(t, sqlstore.Exec(ctx, store, "INSERT INTO {p}probe (id, v) VALUES (1, 0), (2, 0)"))
		var attempts atomic.Int32
		var both sync.WaitGroup
		both.Add(2)
		run := func(first, second int) error {
			try := 0
			return store.InTx(ctx, func(ctx context.Context) error {
				try++
				attempts.Add(1)
				if err := sqlstore.Exec(ctx, store, "UPDATE {p}probe SET v = v + 1 WHERE id = ?", first); err != nil {
					return err
				}
				if try == 1 {
					both.Done() // each holds its first row
					both.Wait()
				}
				return sqlstore.Exec(ctx, store, "UPDATE {p}probe SET v = v + 1 WHERE id = ?", second)
			})
		}
		var wg sync.WaitGroup
		var err1, err2 error
		wg.Go(func() { err1 = run(1, 2) })
		wg.Go(func() { err2 = run(2, 1) })
		wg.Wait()
		require.NoError(t, err1)
		require.NoError(t, err2)
		assert.GreaterOrEqual(t, attempts.Load(), int32(3), "the deadlock victim ran again")
		var sum int
		require.NoError(t, store.DB().QueryRow("SELECT SUM(v) FROM minishop_probe").Scan(&sum))
		assert.Equal(t, 4, sum, "each transaction's two updates applied exactly once")
	})
}

// With no busy timeout, a held write lock makes BEGIN fail with
// SQLITE_BUSY; InTx retries until the lock is free, or gives up.
func TestRetrySQLiteBusy(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "busy.db")
	dsn := "file:" + path + "?_txlock=immediate&_pragma=busy_timeout(0)&_pragma=journal_mode(WAL)"
	open := func(attempts int) *sqlstore.Store {
		db, err := sql.Open("sqlite", dsn)
		require.NoError(t, err)
		db.SetMaxOpenConns(1)
		t.Cleanup(func() { db.Close() })
		s, err := sqlstore.OpenDB(ctx, db, sqlstore.SQLite, sqlstore.Options{MaxAttempts: attempts})
		require.NoError(t, err)
		return s
	}
	patient, impatient := open(1000), open(2)
	holder, err := sql.Open("sqlite", dsn)
	require.NoError(t, err)
	defer holder.Close()

	hold := func() (release func()) {
		tx, err := holder.BeginTx(ctx, nil) // BEGIN IMMEDIATE: the write lock
		require.NoError(t, err)
		return func() { require.NoError(t, tx.Rollback()) }
	}

	release := hold()
	err = impatient.InTx(ctx, func(ctx context.Context) error { return nil })
	assert.ErrorIs(t, err, storage.ErrUnavailable)
	assert.ErrorContains(t, err, "gave up after 2 attempts")

	var calls atomic.Int32
	done := make(chan error, 1)
	go func() {
		done <- patient.InTx(ctx, func(ctx context.Context) error {
			calls.Add(1)
			return sqlstore.Exec(ctx, patient, "INSERT INTO {p}cursors (consumer, seq) VALUES ('busy', 1)")
		})
	}()
	// Let it fail against the lock a few times before freeing it.
	for range 50 {
		if err := impatient.InTx(ctx, func(context.Context) error { return nil }); err == nil {
			t.Fatal("the write lock is held: a transaction must not start")
		}
	}
	release()
	require.NoError(t, <-done)
	assert.EqualValues(t, 1, calls.Load(), "fn runs once: BEGIN failed, not fn")
	seq, err := patient.Cursor(ctx, "busy")
	require.NoError(t, err)
	assert.EqualValues(t, 1, seq)
}

// A MySQL pool whose sessions start in READ COMMITTED (the DSN's isolation
// variable) runs InTx's transactions without asking for the level each
// time; a pool at the server's default (REPEATABLE READ) asks per
// transaction. Either way the transaction runs READ COMMITTED.
func TestMySQLSessionIsolation(t *testing.T) {
	db := mysqlDB(t) // the harness sets the session variable
	ctx := context.Background()
	var name string
	require.NoError(t, db.QueryRow("SELECT DATABASE()").Scan(&name))
	cfg, err := mysql.ParseDSN(os.Getenv("MINISHOP_MYSQL_DSN"))
	require.NoError(t, err)
	cfg.DBName = name
	plain, err := sql.Open("mysql", cfg.FormatDSN())
	require.NoError(t, err)
	defer plain.Close()
	require.NoError(t, plain.Ping())

	// level tells READ COMMITTED from REPEATABLE READ by what the
	// transaction sees: a read after another session's commit sees it under
	// the first only.
	level := func(t *testing.T, s *sqlstore.Store) string {
		_, err := db.Exec("DELETE FROM minishop_cursors WHERE consumer = 'probe'")
		require.NoError(t, err)
		_, err = db.Exec("INSERT INTO minishop_cursors (consumer, seq) VALUES ('probe', 1)")
		require.NoError(t, err)
		var first, second int64
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
			if err := sqlstore.QueryRow(ctx, s, "SELECT seq FROM {p}cursors WHERE consumer = 'probe'").Scan(&first); err != nil {
				return err
			}
			if _, err := plain.Exec("UPDATE minishop_cursors SET seq = 2 WHERE consumer = 'probe'"); err != nil {
				return err
			}
			return sqlstore.QueryRow(ctx, s, "SELECT seq FROM {p}cursors WHERE consumer = 'probe'").Scan(&second)
		}))
		require.EqualValues(t, 1, first)
		if second == 2 {
			return "READ COMMITTED"
		}
		return "REPEATABLE READ"
	}
	session, err := sqlstore.OpenDB(ctx, db, sqlstore.MySQL, sqlstore.Options{})
	require.NoError(t, err)
	assert.False(t, sqlstore.AsksIsolation(session), "sessions start in READ COMMITTED")
	assert.Equal(t, "READ COMMITTED", level(t, session))

	perTx, err := sqlstore.OpenDB(ctx, plain, sqlstore.MySQL, sqlstore.Options{NoMigrate: true})
	require.NoError(t, err)
	assert.True(t, sqlstore.AsksIsolation(perTx), "sessions at the server's default")
	assert.Equal(t, "READ COMMITTED", level(t, perTx))
}

// batchCounter counts the pipelines (batches) pgx sends, and their
// statements.
type batchCounter struct{ batches, statements atomic.Int64 }

func (c *batchCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}
func (c *batchCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (c *batchCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.batches.Add(1)
	return ctx
}
func (c *batchCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {
	c.statements.Add(1)
}
func (c *batchCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// On PostgreSQL a checkout's order, stock and events go to the server in
// one pipeline, with the same rules: a line short of stock fails the
// checkout naming the line and leaves no trace; a replayed key returns
// the first order.
func TestPostgresCheckoutPipeline(t *testing.T) {
	base := postgresDB(t)
	var schema string
	require.NoError(t, base.QueryRow("SELECT current_schema()").Scan(&schema))
	cfg, err := pgx.ParseConfig(os.Getenv("MINISHOP_POSTGRES_DSN"))
	require.NoError(t, err)
	cfg.RuntimeParams["search_path"] = schema
	counter := &batchCounter{}
	cfg.Tracer = counter
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	store, err := sqlstore.OpenDB(context.Background(), db, sqlstore.Postgres, sqlstore.Options{})
	require.NoError(t, err)
	w := newWorld(t, store)

	o, err := w.checkout("k1")
	require.NoError(t, err)
	assert.EqualValues(t, 1, counter.batches.Load(), "one pipeline per checkout")
	assert.EqualValues(t, 3, counter.statements.Load(), "the order, the stock and the event")
	got, err := w.svc.GetOrder(w.ctx, w.shop.Merchant.ID, o.ID)
	require.NoError(t, err)
	assert.Equal(t, o.Total.String(), got.Total.String())
	p, err := w.svc.GetProduct(w.ctx, w.shop.Merchant.ID, w.shop.Products[0].ID)
	require.NoError(t, err)
	assert.EqualValues(t, 3, p.SKUs[0].Stock)
	events, err := store.ReadEvents(w.ctx, 0, 100)
	require.NoError(t, err)
	require.Len(t, events, 1)
	assert.Equal(t, "order.created", events[0].Type)

	again, err := w.checkout("k1")
	require.NoError(t, err)
	assert.Equal(t, o.ID, again.ID, "the key's order")

	buy := func(customer commerce.CustomerID, n int64) error {
		_, err := w.svc.Checkout(w.ctx, commerce.CheckoutParams{MerchantID: w.shop.Merchant.ID, CustomerID: customer,
			IdempotencyKey: "k", ShippingAddress: commercetest.Address(), Lines: []commerce.LineItem{{SKU: w.sku, Quantity: n}}})
		return err
	}
	require.NoError(t, buy("carol", 3))
	err = buy("bob", 1)
	require.ErrorIs(t, err, commerce.ErrOutOfStock)
	var ce *commerce.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "lines[0].quantity", ce.Field)
	p, err = w.svc.GetProduct(w.ctx, w.shop.Merchant.ID, w.shop.Products[0].ID)
	require.NoError(t, err)
	assert.EqualValues(t, 0, p.SKUs[0].Stock, "nothing taken")
	orders, err := w.svc.ListOrders(w.ctx, w.shop.Merchant.ID, commerce.OrderQuery{Customer: "bob"})
	require.NoError(t, err)
	assert.Empty(t, orders, "no order")
	events, err = store.ReadEvents(w.ctx, 0, 100)
	require.NoError(t, err)
	assert.Len(t, events, 2, "no event")
	// The replay stopped at alice's purchase limit, before the pipeline.
	assert.EqualValues(t, 3, counter.batches.Load(), "every other checkout pipelined")
}

// Concurrent checkouts of the same SKUs, their lines in any order, never
// deadlock: the stock of every line is taken in one UPDATE that locks the
// rows in SKU order. Run without retries, so a deadlock the database
// resolves by aborting one of them would fail its checkout.
func TestHotCheckoutsNeverDeadlock(t *testing.T) {
	eachDialect(t, func(t *testing.T, d sqlstore.Dialect, open func(t *testing.T) *sqlstore.Store) {
		base := open(t)
		ctx := context.Background()
		store, err := sqlstore.OpenDB(ctx, base.DB(), d, sqlstore.Options{MaxAttempts: 1, NoMigrate: true})
		require.NoError(t, err)
		svc, err := commerce.New(commerce.Config{Store: store})
		require.NoError(t, err)
		shop := commercetest.NewShop(t, svc, "热卖小店", commerce.ShippingRule{},
			commercetest.ProductSpec{Title: "爆款", Prices: []string{"10.00", "20.00", "30.00"}, Stock: 10_000})
		skus := []commerce.SKUID{shop.SKU(0, 0), shop.SKU(0, 1), shop.SKU(0, 2)}
		const buyers, each = 16, 6
		errs := make(chan error, buyers*each)
		var wg sync.WaitGroup
		for b := range buyers {
			wg.Go(func() {
				for i := range each {
					lines := make([]commerce.LineItem, 3)
					for k := range lines {
						lines[k] = commerce.LineItem{SKU: skus[(b+i+k)%3], Quantity: 1}
					}
					_, err := svc.Checkout(ctx, commerce.CheckoutParams{MerchantID: shop.Merchant.ID, CustomerID: commerce.CustomerID(fmt.Sprintf("buyer-%d", b)),
						IdempotencyKey: fmt.Sprintf("k%d", i), ShippingAddress: commercetest.Address(), Lines: lines})
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		p, err := svc.GetProduct(ctx, shop.Merchant.ID, shop.Products[0].ID)
		require.NoError(t, err)
		for _, sku := range p.SKUs {
			assert.EqualValues(t, 10_000-buyers*each, sku.Stock)
		}
	})
}

// A write held back on PostgreSQL (see sqlstore's writeLater) that fails
// fails the transaction even when the statement that carried it had its
// error swallowed: here an unknown lot's save, carried by a read whose
// "not found" the transaction ignores, and an entry written before it.
func TestHeldWriteFailureStopsCommit(t *testing.T) {
	store := openDB(t, postgresDB(t), sqlstore.Postgres)
	ctx := context.Background()
	m, err := commerce.ParseID[commerce.MerchantID](uuid.Must(uuid.NewV7()).String())
	require.NoError(t, err)
	eid, err := commerce.ParseID[membership.EntryID](uuid.Must(uuid.NewV7()).String())
	require.NoError(t, err)
	lid, err := commerce.ParseID[membership.LotID](uuid.Must(uuid.NewV7()).String())
	require.NoError(t, err)
	entry := &membership.Entry{ID: eid, MerchantID: m, Customer: "顾客",
		Kind: membership.Adjust, Points: 10, Balance: 10, Time: time.Now()}
	lot := &membership.Lot{ID: lid, MerchantID: m, Customer: "顾客", Points: 5, Left: 5}
	err = store.InTx(ctx, func(ctx context.Context) error {
		if err := store.AppendEntry(ctx, entry); err != nil {
			return err
		}
		if err := store.SaveLots(ctx, lot); err != nil { // no such lot
			return err
		}
		_, _ = store.GetMember(ctx, m, "顾客") // its error swallowed
		return nil
	})
	require.ErrorIs(t, err, storage.ErrNotFound, "the unknown lot fails the transaction")
	es, err := store.Entries(ctx, m, "顾客", membership.EntryID{}, 10)
	require.NoError(t, err)
	assert.Empty(t, es, "nothing committed")
}
