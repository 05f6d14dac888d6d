package sqlstore_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"

	"github.com/minishop/minishop/storage/sqlstore"
	"github.com/minishop/minishop/storage/storetest"
)

// BenchmarkCheckoutPoints measures checkout through the Engine on each
// dialect as a customer who is not a member (guest), as a member spending
// no points (member) and as the same member spending points (points); see
// storetest.BenchCheckoutPoints.
//
//	go test -run x -bench CheckoutPoints ./storage/sqlstore
//
// Each sub-benchmark reports orders/s and stmts/order (the SQL statements
// one checkout ran, BEGIN and COMMIT aside); points also reports
// member-orders/s (the member's orders without points, on a fresh store,
// timed by hand) and overhead-%.
func BenchmarkCheckoutPoints(b *testing.B) {
	for _, name := range []string{"SQLite", "Postgres", "MySQL"} {
		b.Run(name, func(b *testing.B) {
			skipBenchWithoutServer(b, name)
			h, stmts := countingHarness(name)
			for _, mode := range storetest.PointsModes {
				for _, buyers := range []int{1, 8} {
					b.Run(fmt.Sprintf("%s/buyers=%d", mode, buyers), func(b *testing.B) {
						storetest.BenchCheckoutPoints(b, h, mode, buyers, stmts)
					})
				}
			}
		})
	}
}

// BenchmarkCard10kEntries measures Membership.Card of a member with 10,000
// ledger entries on each dialect, and counts the statements it runs
// (stmts/op: one SELECT of the member's row).
//
//	go test -run x -bench Card10k ./storage/sqlstore
func BenchmarkCard10kEntries(b *testing.B) {
	for _, name := range []string{"SQLite", "Postgres", "MySQL"} {
		b.Run(name, func(b *testing.B) {
			skipBenchWithoutServer(b, name)
			h, stmts := countingHarness(name)
			storetest.BenchCard(b, h, 10_000, stmts)
		})
	}
}

// BenchmarkReleasePending10k measures one Engine.RunDue that completes
// 10,000 received orders and releases their pending points, on each
// dialect; program=none is the same orders at a merchant without a
// program (the kernel's own cost of completing them). Building the orders
// takes a while (build-s): run it once.
//
//	go test -run x -bench ReleasePending -benchtime 1x ./storage/sqlstore
//
// MINISHOP_BENCH_RELEASE_ORDERS sets another number of orders.
func BenchmarkReleasePending10k(b *testing.B) {
	orders := 10_000
	if v := os.Getenv("MINISHOP_BENCH_RELEASE_ORDERS"); v != "" {
		if _, err := fmt.Sscan(v, &orders); err != nil || orders < 1 {
			b.Fatalf("MINISHOP_BENCH_RELEASE_ORDERS=%q: want a positive number", v)
		}
	}
	for _, name := range []string{"SQLite", "Postgres", "MySQL"} {
		b.Run(name, func(b *testing.B) {
			skipBenchWithoutServer(b, name)
			h, stmts := countingHarness(name)
			for _, program := range []bool{true, false} {
				b.Run(programName(program), func(b *testing.B) {
					storetest.BenchReleasePending(b, h, orders, program, stmts)
				})
			}
		})
	}
}

func programName(program bool) string {
	if program {
		return "program=points"
	}
	return "program=none"
}

// countingHarness is the dialect's harness with every store's database
// opened through a driver that counts the statements run (queries and
// execs, whether prepared or not; not BEGIN, COMMIT or preparing). The
// count is shared by every store the harness opens.
func countingHarness(name string) (storetest.Harness, func() int64) {
	return tallyingHarness(name, nil)
}

// tallyingHarness is countingHarness with every statement, BEGIN, COMMIT,
// ROLLBACK and prepare also tallied by kind in tally when it is set.
func tallyingHarness(name string, tally *stmtTally) (storetest.Harness, func() int64) {
	n := new(atomic.Int64)
	var open func(t testing.TB) storetest.Store
	switch name {
	case "SQLite":
		open = func(t testing.TB) storetest.Store {
			path := filepath.Join(t.TempDir(), "minishop.db")
			// sqlstore.Open's DSN: immediate transactions, busy timeout, WAL.
			q := url.Values{}
			q.Set("_txlock", "immediate")
			q["_pragma"] = []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(1)"}
			db := sql.OpenDB(&countingConnector{drv: &sqlite.Driver{}, dsn: "file:" + path + "?" + q.Encode(), n: n, t: tally})
			db.SetMaxOpenConns(1)
			t.Cleanup(func() { db.Close() })
			return openDB(t, db, sqlstore.SQLite)
		}
	case "Postgres":
		open = func(t testing.TB) storetest.Store {
			base := postgresDB(t) // a fresh schema, dropped at cleanup
			var schema string
			if err := base.QueryRow("SELECT current_schema()").Scan(&schema); err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(os.Getenv(pgEnv))
			if err != nil {
				t.Fatal(err)
			}
			v := u.Query()
			v.Set("search_path", schema)
			u.RawQuery = v.Encode()
			// Pipelines go to pgx's connection under the wrapper: a tracer
			// on its config counts them.
			cfg, err := pgx.ParseConfig(u.String())
			if err != nil {
				t.Fatal(err)
			}
			cfg.Tracer = pipelineTally{tally}
			dsn := stdlib.RegisterConnConfig(cfg)
			db := sql.OpenDB(&countingConnector{drv: base.Driver(), dsn: dsn, n: n, t: tally})
			db.SetMaxOpenConns(20)
			t.Cleanup(func() { db.Close(); stdlib.UnregisterConnConfig(dsn) }) // before the schema is dropped
			return openDB(t, db, sqlstore.Postgres)
		}
	case "MySQL":
		open = func(t testing.TB) storetest.Store {
			base := mysqlDB(t) // a fresh database, dropped at cleanup
			cfg, err := mysql.ParseDSN(os.Getenv(mysqlEnv))
			if err != nil {
				t.Fatal(err)
			}
			if err := base.QueryRow("SELECT DATABASE()").Scan(&cfg.DBName); err != nil {
				t.Fatal(err)
			}
			if cfg.Params == nil {
				cfg.Params = map[string]string{}
			}
			cfg.Params[isolationVar(t, base)] = "'READ-COMMITTED'" // as mysqlDB: no SET TRANSACTION per transaction
			db := sql.OpenDB(&countingConnector{drv: base.Driver(), dsn: cfg.FormatDSN(), n: n, t: tally})
			db.SetMaxOpenConns(20)
			t.Cleanup(func() { db.Close() })
			return openDB(t, db, sqlstore.MySQL)
		}
	default:
		panic("unknown dialect " + name)
	}
	return storetest.Harness{New: open}, n.Load
}

// countingConnector opens connections of drv to dsn that count the
// statements they run in n.
type countingConnector struct {
	drv driver.Driver
	dsn string
	n   *atomic.Int64
	t   *stmtTally // nil: count statements in n only
}

func (c *countingConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return &countingConn{innerConn: conn, n: c.n, t: c.t}, nil
}

func (c *countingConnector) Driver() driver.Driver { return c.drv }

// pipelineTally counts the statements pgx sends in pipelines (batches);
// the counting connection sees the others.
type pipelineTally struct{ t *stmtTally }

func (p pipelineTally) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}
func (p pipelineTally) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (p pipelineTally) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	p.t.add(kindPipeline)
	return ctx
}
func (p pipelineTally) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	p.t.add(kindExec)
	p.t.add(kindPipelined)
	p.t.text(d.SQL)
}
func (p pipelineTally) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// Conn gives the store pgx's connection under the wrapper, for pipelines.
func (c *countingConn) Conn() *pgx.Conn {
	if pc, ok := c.innerConn.(interface{ Conn() *pgx.Conn }); ok {
		return pc.Conn()
	}
	return nil
}

// innerConn names the driver's connection countingConn embeds (its own
// Conn method gives pgx's).
type innerConn = driver.Conn

// countingConn passes everything to the driver's connection, counting
// queries and execs. Where the driver lacks an optional interface it
// answers driver.ErrSkip (or the plain method), so database/sql falls back
// as it would without the wrapper.
type countingConn struct {
	innerConn
	n *atomic.Int64
	t *stmtTally
}

func (c *countingConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var st driver.Stmt
	var err error
	if p, ok := c.innerConn.(driver.ConnPrepareContext); ok {
		st, err = p.PrepareContext(ctx, query)
	} else {
		st, err = c.innerConn.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	c.t.add(kindPrepare)
	return &countingStmt{Stmt: st, n: c.n, t: c.t, q: query}, nil
}

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	var tx driver.Tx
	var err error
	if b, ok := c.innerConn.(driver.ConnBeginTx); ok {
		tx, err = b.BeginTx(ctx, opts)
	} else {
		tx, err = c.innerConn.Begin()
	}
	if err != nil || c.t == nil {
		return tx, err
	}
	c.t.add(kindBegin)
	// go-sql-driver/mysql sends SET TRANSACTION ISOLATION LEVEL as a round
	// trip of its own before START TRANSACTION when an isolation level is
	// asked for; it never passes through this wrapper, so it is tallied
	// from the options.
	if c.t.mysql && sql.IsolationLevel(opts.Isolation) != sql.LevelDefault {
		c.t.add(kindSetTx)
	}
	return &countingTx{Tx: tx, t: c.t}, nil
}

func (c *countingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.innerConn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	res, err := e.ExecContext(ctx, query, args)
	if err != driver.ErrSkip {
		c.n.Add(1)
		c.t.add(kindExec)
		c.t.text(query)
	}
	return res, err
}

func (c *countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.innerConn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	rows, err := q.QueryContext(ctx, query, args)
	if err != driver.ErrSkip {
		c.n.Add(1)
		c.t.add(kindQuery)
		c.t.text(query)
	}
	return rows, err
}

func (c *countingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.innerConn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func (c *countingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.innerConn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *countingConn) IsValid() bool {
	if v, ok := c.innerConn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *countingConn) Ping(ctx context.Context) error {
	if p, ok := c.innerConn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// countingStmt counts the executions of a prepared statement.
type countingStmt struct {
	driver.Stmt
	n *atomic.Int64
	t *stmtTally
	q string
}

func (s *countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.n.Add(1)
	s.t.add(kindExec)
	s.t.text(s.q)
	if e, ok := s.Stmt.(driver.StmtExecContext); ok {
		return e.ExecContext(ctx, args)
	}
	vals, err := plainValues(args)
	if err != nil {
		return nil, err
	}
	return s.Stmt.Exec(vals)
}

func (s *countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.n.Add(1)
	s.t.add(kindQuery)
	s.t.text(s.q)
	if q, ok := s.Stmt.(driver.StmtQueryContext); ok {
		return q.QueryContext(ctx, args)
	}
	vals, err := plainValues(args)
	if err != nil {
		return nil, err
	}
	return s.Stmt.Query(vals)
}

func (s *countingStmt) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := s.Stmt.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func plainValues(args []driver.NamedValue) ([]driver.Value, error) {
	out := make([]driver.Value, len(args))
	for i, a := range args {
		if a.Name != "" {
			return nil, fmt.Errorf("counting driver: named argument %q", a.Name)
		}
		out[i] = a.Value
	}
	return out, nil
}
