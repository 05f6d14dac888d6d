package sqlstore_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"modernc.org/sqlite"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/storage/sqlstore"
)

// kindSentinels are the six kinds' sentinels.
var kindSentinels = map[commerce.Kind]error{
	commerce.KindInternal:           commerce.ErrInternal,
	commerce.KindNotFound:           commerce.ErrNotFound,
	commerce.KindConflict:           commerce.ErrConflict,
	commerce.KindInvalid:            commerce.ErrInvalid,
	commerce.KindFailedPrecondition: commerce.ErrFailedPrecondition,
	commerce.KindUnavailable:        commerce.ErrUnavailable,
}

// assertOneKind checks that err matches want's sentinel and no other, that
// KindOf says want, and that Retryable says yes exactly for unavailable: a
// caller switching on errors.Is, one switching on KindOf and one asking
// Retryable must reach the same branch.
func assertOneKind(t *testing.T, err error, want commerce.Kind, what string) {
	t.Helper()
	if !assert.Error(t, err, what) {
		return
	}
	var matched []commerce.Kind
	for k, s := range kindSentinels {
		if errors.Is(err, s) {
			matched = append(matched, k)
		}
	}
	assert.Equal(t, []commerce.Kind{want}, matched, "%s: sentinels matched by %q", what, err)
	assert.Equal(t, want, commerce.KindOf(err), "%s: KindOf(%q)", what, err)
	assert.Equal(t, want == commerce.KindUnavailable, commerce.Retryable(err), "%s: Retryable(%q)", what, err)
}

// Every error a store or a service over it produces, for every way a
// database can fail, matches exactly one kind.
func TestErrorsHaveOneKind(t *testing.T) {
	eachDialect(t, func(t *testing.T, d sqlstore.Dialect, open func(t *testing.T) *sqlstore.Store) {
		base := open(t)
		ctx := context.Background()
		// A short budget: the failures below are retried until it is spent.
		store, err := sqlstore.OpenDB(ctx, base.DB(), d, sqlstore.Options{RetryBudget: 300 * time.Millisecond})
		require.NoError(t, err)
		var hook atomic.Pointer[func(ctx context.Context) error]
		during := func(f func(ctx context.Context) error) { hook.Store(&f) }
		// Each case gets its own shop, so that one case's rolled-back
		// transaction, still releasing its row locks on the server, cannot
		// hold up the next.
		fresh := func(t *testing.T) *world {
			return newWorld(t, store, commerce.CheckoutHookFunc(func(ctx context.Context, _ *commerce.CheckoutContext) error {
				if f := hook.Load(); f != nil && *f != nil {
					return (*f)(ctx)
				}
				return nil
			}))
		}
		checkoutCtx := func(ctx context.Context, w *world, key string) error {
			_, err := w.svc.Checkout(ctx, commerce.CheckoutParams{MerchantID: w.shop.Merchant.ID, CustomerID: "alice",
				IdempotencyKey: key, ShippingAddress: commercetest.Address(),
				Lines: []commerce.LineItem{{SKU: w.sku, Quantity: 2}}})
			return err
		}

		t.Run("domain", func(t *testing.T) {
			w := fresh(t)
			during(nil)
			_, err := w.svc.GetProduct(ctx, w.shop.Merchant.ID, commerce.ProductID{})
			assertOneKind(t, err, commerce.KindNotFound, "unknown product")
			_, err = store.GetMerchant(ctx, commerce.MerchantID{})
			assertOneKind(t, err, commerce.KindNotFound, "store: unknown merchant")
			_, err = w.svc.Checkout(ctx, commerce.CheckoutParams{MerchantID: w.shop.Merchant.ID, CustomerID: "bob",
				IdempotencyKey: "big", ShippingAddress: commercetest.Address(), Lines: []commerce.LineItem{{SKU: w.sku, Quantity: 9}}})
			assertOneKind(t, err, commerce.KindFailedPrecondition, "out of stock")
			_, err = w.svc.Checkout(ctx, commerce.CheckoutParams{FromCart: true, MerchantID: w.shop.Merchant.ID, CustomerID: "bob",
				IdempotencyKey: "empty", ShippingAddress: commercetest.Address()})
			assertOneKind(t, err, commerce.KindInvalid, "empty cart")
		})

		t.Run("duplicate", func(t *testing.T) {
			require.NoError(t, sqlstore.Exec(ctx, store, "INSERT INTO {p}cursors (consumer, seq) VALUES ('dup', 1)"))
			err := sqlstore.Exec(ctx, store, "INSERT INTO {p}cursors (consumer, seq) VALUES ('dup', 2)")
			assertOneKind(t, err, commerce.KindConflict, "store: duplicate key")
			err = store.InTx(ctx, func(ctx context.Context) error {
				return sqlstore.Exec(ctx, store, "INSERT INTO {p}cursors (consumer, seq) VALUES ('dup', 3)")
			})
			assertOneKind(t, err, commerce.KindConflict, "store: duplicate key in a transaction")
		})

		t.Run("context cancelled mid-transaction", func(t *testing.T) {
			w := fresh(t)
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			// The stock is reserved; the order insert runs on a cancelled context.
			during(func(context.Context) error { cancel(); return nil })
			assertOneKind(t, checkoutCtx(cctx, w, "cancelled"), commerce.KindUnavailable, "checkout, context cancelled")
			during(nil)
			dctx, stop := context.WithTimeout(ctx, time.Millisecond)
			defer stop()
			during(func(context.Context) error { <-dctx.Done(); return nil })
			assertOneKind(t, checkoutCtx(dctx, w, "deadline"), commerce.KindUnavailable, "checkout, deadline passed")
			during(nil)
			_, err := store.GetMerchant(dctx, w.shop.Merchant.ID)
			assertOneKind(t, err, commerce.KindUnavailable, "store: read on an expired context")
		})

		t.Run("retry budget exhausted", func(t *testing.T) {
			if d == sqlstore.SQLite {
				t.Skip("SQLite's writers queue at BEGIN; TestRetrySQLiteBusy exhausts its retries")
			}
			// Another transaction holds a row the checkout asks for with
			// NOWAIT: a lock conflict at every attempt, until the budget is
			// spent.
			require.NoError(t, sqlstore.Exec(ctx, store, "CREATE TABLE {p}hold (id INT PRIMARY KEY)"))
			require.NoError(t, sqlstore.Exec(ctx, store, "INSERT INTO {p}hold (id) VALUES (1)"))
			holder, err := store.DB().BeginTx(ctx, nil)
			require.NoError(t, err)
			defer holder.Rollback()
			_, err = holder.ExecContext(ctx, "SELECT id FROM minishop_hold WHERE id = 1 FOR UPDATE")
			require.NoError(t, err)
			w := fresh(t)
			var tries atomic.Int32
			during(func(ctx context.Context) error {
				tries.Add(1)
				return sqlstore.Exec(ctx, store, "SELECT id FROM {p}hold WHERE id = 1 FOR UPDATE NOWAIT")
			})
			err = checkoutCtx(ctx, w, "locked")
			during(nil)
			assertOneKind(t, err, commerce.KindUnavailable, "checkout, lock held past the budget")
			assert.ErrorContains(t, err, "gave up after")
			assert.Greater(t, tries.Load(), int32(1), "the conflict was retried: %v", err)

			// A retryable driver error that did not come through the store
			// (a host's hook returning it raw) is wrapped as internal by the
			// service; retrying it is still right, but the store must not
			// add a second kind when it gives up.
			during(func(context.Context) error { return retryableError(d) })
			err = checkoutCtx(ctx, w, "raw")
			during(nil)
			assertOneKind(t, err, commerce.KindInternal, "checkout, raw retryable error from a hook")
		})

		t.Run("killed connection", func(t *testing.T) {
			w := fresh(t)
			if d == sqlstore.SQLite {
				t.Skip("SQLite has no server connection to kill")
			}
			admin := adminDB(t, d)
			_ = mysql.SetLogger(log.New(io.Discard, "", 0))
			during(func(ctx context.Context) error { return killOwnConnection(ctx, admin, store, d) })
			err := checkoutCtx(ctx, w, "killed")
			during(nil)
			assert.NotContains(t, fmt.Sprint(err), "no kill")
			assertOneKind(t, err, commerce.KindUnavailable, "checkout, connection killed at every attempt")
		})

		t.Run("connection refused", func(t *testing.T) {
			w := fresh(t)
			if d == sqlstore.SQLite {
				t.Skip("SQLite has no server to refuse")
			}
			// Port 1 on loopback: nothing listens, the dial is refused.
			driverName, dsn := "pgx", "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2"
			if d == sqlstore.MySQL {
				driverName, dsn = "mysql", "root@tcp(127.0.0.1:1)/test?timeout=2s"
			}
			db, err := sql.Open(driverName, dsn)
			require.NoError(t, err)
			defer db.Close()
			_, err = sqlstore.OpenDB(ctx, db, d, sqlstore.Options{RetryBudget: 100 * time.Millisecond})
			assertOneKind(t, err, commerce.KindUnavailable, "open (migrate) on a refused connection")
			down, err := sqlstore.OpenDB(ctx, db, d, sqlstore.Options{NoMigrate: true, RetryBudget: 100 * time.Millisecond})
			require.NoError(t, err)
			_, err = down.GetMerchant(ctx, w.shop.Merchant.ID)
			assertOneKind(t, err, commerce.KindUnavailable, "store: read on a refused connection")
			svc, err := commerce.New(commerce.Config{Store: down})
			require.NoError(t, err)
			_, err = svc.GetProduct(ctx, w.shop.Merchant.ID, w.shop.Products[0].ID)
			assertOneKind(t, err, commerce.KindUnavailable, "service: read on a refused connection")
			_, err = svc.Checkout(ctx, commerce.CheckoutParams{MerchantID: w.shop.Merchant.ID, CustomerID: "alice",
				IdempotencyKey: "down", ShippingAddress: commercetest.Address(), Lines: []commerce.LineItem{{SKU: w.sku, Quantity: 1}}})
			assertOneKind(t, err, commerce.KindUnavailable, "service: checkout on a refused connection")
		})
	})
}

// A COMMIT whose answer is lost (the connection times out after COMMIT was
// sent) may have committed: InTx must not run the transaction again, which
// could apply it twice, but report the store unavailable so the caller
// retries with its idempotency key. The driver here commits, then reports
// the i/o timeout a lost answer gives.
func TestCommitOutcomeUnknownNotRetried(t *testing.T) {
	ctx := context.Background()
	c := &lostCommit{dsn: "file:" + filepath.Join(t.TempDir(), "c.db") + "?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"}
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	store, err := sqlstore.OpenDB(ctx, db, sqlstore.SQLite, sqlstore.Options{})
	require.NoError(t, err)

	c.lose.Store(true)
	var calls atomic.Int32
	err = store.InTx(ctx, func(ctx context.Context) error {
		calls.Add(1)
		return sqlstore.Exec(ctx, store, "INSERT INTO {p}cursors (consumer, seq) VALUES ('once', 1)")
	})
	c.lose.Store(false)
	assertOneKind(t, err, commerce.KindUnavailable, "commit with a lost answer")
	assert.ErrorContains(t, err, "commit outcome unknown")
	assert.EqualValues(t, 1, calls.Load(), "a transaction whose COMMIT may have applied was run again")
	seq, err := store.Cursor(ctx, "once")
	require.NoError(t, err)
	assert.EqualValues(t, 1, seq, "the transaction did commit")

	// A checkout whose COMMIT answer is lost is applied once: the service
	// (which looks the key up when a checkout fails) or the caller's retry
	// with the same key finds the order instead of taking stock again.
	w := newWorld(t, store)
	c.lose.Store(true)
	first, err := w.checkout("k1")
	c.lose.Store(false)
	if err != nil {
		assertOneKind(t, err, commerce.KindUnavailable, "checkout with a lost commit answer")
	}
	o, err := w.checkout("k1")
	require.NoError(t, err, "the caller's retry with the same key")
	p, err := w.svc.GetProduct(w.ctx, w.shop.Merchant.ID, w.shop.Products[0].ID)
	require.NoError(t, err)
	assert.EqualValues(t, 3, p.SKUs[0].Stock, "stock taken once for one checkout")
	orders, err := store.ListOrders(w.ctx, w.shop.Merchant.ID, commerce.OrderQuery{})
	require.NoError(t, err)
	require.Len(t, orders, 1)
	assert.Equal(t, o.ID, orders[0].ID)
	if first != nil {
		assert.Equal(t, o.ID, first.ID)
	}
}

// lostCommit is a SQLite connector whose transactions, while lose is set,
// commit and then report an i/o timeout, as a network that dropped the
// answer to COMMIT would.
type lostCommit struct {
	dsn  string
	lose atomic.Bool
}

func (c *lostCommit) Connect(context.Context) (driver.Conn, error) {
	conn, err := (&sqlite.Driver{}).Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return &lostCommitConn{Conn: conn, c: c}, nil
}

func (c *lostCommit) Driver() driver.Driver { return &sqlite.Driver{} }

type lostCommitConn struct {
	driver.Conn
	c *lostCommit
}

func (k *lostCommitConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := k.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &lostCommitTx{Tx: tx, c: k.c}, nil
}

func (k *lostCommitConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	return k.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, q)
}

func (k *lostCommitConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	return k.Conn.(driver.ExecerContext).ExecContext(ctx, q, args)
}

func (k *lostCommitConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	return k.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
}

type lostCommitTx struct {
	driver.Tx
	c *lostCommit
}

func (t *lostCommitTx) Commit() error {
	if err := t.Tx.Commit(); err != nil {
		return err
	}
	if t.c.lose.Load() {
		return &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	}
	return nil
}
