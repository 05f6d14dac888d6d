package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	_ "github.com/go-sql-driver/mysql" // registers "mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"

	"github.com/minishop/minishop/storage"
)

// Options tune a Store. The zero value means the defaults.
type Options struct {
	// TablePrefix starts every table name, so minishop's tables sit beside
	// the host's own; "minishop_" by default. Letters, digits and _ only.
	TablePrefix string
	// MaxAttempts bounds how many times InTx runs a transaction that fails
	// with a serialization failure, deadlock or busy database; 10 by default.
	MaxAttempts int
	// NoMigrate stops Open and OpenDB from applying pending migrations, for
	// hosts that run them with their own tool (see Migrations).
	NoMigrate bool
}

// Store is minishop's store over database/sql. It implements commerce.Store
// (and the other domain stores as they arrive) on SQLite, PostgreSQL and
// MySQL with one set of queries.
type Store struct {
	db     *sql.DB
	d      *dialect
	prefix string
	tries  int
	owned  bool // Close closes db

	mu      sync.RWMutex
	queries map[string]string // logical query -> dialect SQL with table names

	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt // dialect SQL -> statement prepared on the pool
	wanted map[string]bool      // queries run in transactions, to prepare after
}

// maxStmts bounds the prepared statement cache; queries beyond it (an
// unusual spread of IN-list lengths) run unprepared.
const maxStmts = 512

var prefixRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,30}$`)

// Open opens (creating if needed) the SQLite database at path and applies
// pending migrations: the embedded default, no server needed. The database
// runs in WAL mode with a busy timeout, and every transaction takes the
// write lock at BEGIN, so concurrent writers queue instead of failing. A
// path of ":memory:" gives a private in-memory database.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlstore: open: empty path")
	}
	dsn := sqliteDSN(path)
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	// One connection: SQLite has one writer anyway, and a ":memory:"
	// database exists per connection.
	db.SetMaxOpenConns(1)
	s, err := newStore(ctx, db, SQLite, opts)
	if err != nil {
		db.Close()
		return nil, err
	}
	s.owned = true
	return s, nil
}

func sqliteDSN(path string) string {
	q := url.Values{}
	q.Set("_txlock", "immediate")
	q["_pragma"] = []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(1)"}
	if path == ":memory:" {
		return "file::memory:?" + q.Encode()
	}
	return "file:" + path + "?" + q.Encode()
}

// OpenDB wraps a database the host opened: db must have been opened with
// the driver of dialect ("sqlite" from modernc.org/sqlite, "pgx" from
// github.com/jackc/pgx/v5/stdlib, "mysql" from github.com/go-sql-driver/mysql).
// Pending migrations are applied unless opts.NoMigrate. Close leaves db open.
//
// For SQLite, open the database with _txlock=immediate and a busy timeout
// (as Open does) or concurrent writers will fail with SQLITE_BUSY more often
// than the retries can absorb.
func OpenDB(ctx context.Context, db *sql.DB, dialect Dialect, opts Options) (*Store, error) {
	return newStore(ctx, db, dialect, opts)
}

func newStore(ctx context.Context, db *sql.DB, name Dialect, opts Options) (*Store, error) {
	d, err := parseDialect(name)
	if err != nil {
		return nil, err
	}
	if opts.TablePrefix == "" {
		opts.TablePrefix = "minishop_"
	}
	if !prefixRE.MatchString(opts.TablePrefix) {
		return nil, fmt.Errorf("sqlstore: table prefix %q: want letters, digits and _ (at most 31)", opts.TablePrefix)
	}
	if opts.MaxAttempts < 0 {
		return nil, fmt.Errorf("sqlstore: max attempts %d is negative", opts.MaxAttempts)
	}
	if opts.MaxAttempts == 0 {
		opts.MaxAttempts = 10
	}
	s := &Store{db: db, d: d, prefix: opts.TablePrefix, tries: opts.MaxAttempts, queries: map[string]string{}}
	if !opts.NoMigrate {
		if err := s.Migrate(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// DB returns the underlying database.
func (s *Store) DB() *sql.DB { return s.db }

// Dialect returns the store's dialect.
func (s *Store) Dialect() Dialect { return s.d.name }

// Close releases the store's prepared statements and closes the database if
// the store opened it.
func (s *Store) Close() error {
	s.stmtMu.Lock()
	for q, st := range s.stmts {
		st.Close()
		delete(s.stmts, q)
	}
	s.stmtMu.Unlock()
	if s.owned {
		return s.db.Close()
	}
	return nil
}

// sql returns q for this store: {p} becomes the table prefix and ?
// placeholders take the dialect's form. Results are cached.
func (s *Store) sql(q string) string {
	s.mu.RLock()
	out, ok := s.queries[q]
	s.mu.RUnlock()
	if ok {
		return out
	}
	out = s.d.rebind(strings.ReplaceAll(q, "{p}", s.prefix))
	s.mu.Lock()
	s.queries[q] = out
	s.mu.Unlock()
	return out
}

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type txKey struct{ db *sql.DB }

// txState is the transaction a context carries.
type txState struct {
	tx     *sql.Tx
	hosted bool // the host's transaction: never committed, rolled back or retried here
}

// WithTx returns a context that makes every minishop call on a store over
// tx's database run inside tx: the host's own rows and minishop's commit or
// roll back together, by the host's hand. minishop does not retry inside a
// host's transaction; a retryable failure is returned for the host to redo
// the whole transaction.
func WithTx(ctx context.Context, db *sql.DB, tx *sql.Tx) context.Context {
	return context.WithValue(ctx, txKey{db}, &txState{tx: tx, hosted: true})
}

func (s *Store) txFrom(ctx context.Context) *txState {
	t, _ := ctx.Value(txKey{s.db}).(*txState)
	return t
}

// q returns the transaction in ctx, or the database. On SQLite and MySQL
// statements are prepared once and reused: SQLite then parses each query
// once instead of on every call, and MySQL's driver makes one round trip
// per statement instead of prepare, execute and close. PostgreSQL's pgx
// driver caches prepared statements itself.
func (s *Store) q(ctx context.Context) querier {
	var tx *sql.Tx
	if t := s.txFrom(ctx); t != nil {
		tx = t.tx
	}
	if !s.d.prepare {
		if tx != nil {
			return tx
		}
		return s.db
	}
	return preparedQuerier{s: s, tx: tx}
}

// prepared returns the cached statement for query, or nil to run it
// unprepared. Inside a transaction a statement not yet cached is only noted:
// preparing needs a connection of its own, and SQLite's pool has one, held
// by the transaction. InTx prepares the noted ones after it finishes. The
// lock is never held while preparing, which waits for a connection.
func (s *Store) prepared(ctx context.Context, query string, inTx bool) (*sql.Stmt, error) {
	s.stmtMu.Lock()
	st, ok := s.stmts[query]
	full := len(s.stmts)+len(s.wanted) >= maxStmts
	if !ok && !full && inTx {
		if s.wanted == nil {
			s.wanted = map[string]bool{}
		}
		s.wanted[query] = true
	}
	s.stmtMu.Unlock()
	if ok || full || inTx {
		return st, nil
	}
	return s.prepare(ctx, query)
}

// prepare prepares query on the pool and caches it.
func (s *Store) prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if old, ok := s.stmts[query]; ok {
		st.Close() // another goroutine prepared it first
		return old, nil
	}
	if s.stmts == nil {
		s.stmts = map[string]*sql.Stmt{}
	}
	s.stmts[query] = st
	return st, nil
}

// prepareWanted prepares the statements transactions noted. A statement that
// fails to prepare is left to run unprepared.
func (s *Store) prepareWanted(ctx context.Context) {
	s.stmtMu.Lock()
	var qs []string
	for q := range s.wanted {
		delete(s.wanted, q)
		if _, ok := s.stmts[q]; !ok {
			qs = append(qs, q)
		}
	}
	s.stmtMu.Unlock()
	for _, q := range qs {
		_, _ = s.prepare(ctx, q)
	}
}

// preparedQuerier runs queries through the store's prepared statements, in
// tx when set. Statements bound to a transaction are released when it ends.
type preparedQuerier struct {
	s  *Store
	tx *sql.Tx
}

func (p preparedQuerier) stmt(ctx context.Context, query string) (*sql.Stmt, querier, error) {
	st, err := p.s.prepared(ctx, query, p.tx != nil)
	if err != nil || st == nil {
		if p.tx != nil {
			return nil, p.tx, err
		}
		return nil, p.s.db, err
	}
	if p.tx != nil {
		st = p.tx.StmtContext(ctx, st)
	}
	return st, nil, nil
}

func (p preparedQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, direct, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return direct.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

func (p preparedQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, direct, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return direct.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

func (p preparedQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, direct, err := p.stmt(ctx, query)
	if err != nil {
		// sql.Row has no exported constructor: let the database report the
		// same failure through a direct query.
		direct = p.s.db
		if p.tx != nil {
			direct = p.tx
		}
	}
	if st == nil {
		return direct.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// InTx implements storage.Transactor. A context already carrying a
// transaction of this database (from InTx or WithTx) joins it. Otherwise fn
// runs in a new transaction (READ COMMITTED on PostgreSQL and MySQL, whose
// rules rest on row locks and guarded updates; SQLite's immediate
// transactions are serializable), retried up to Options.MaxAttempts times
// with jittered backoff when the database reports a serialization failure,
// deadlock, lock timeout or busy database.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if s.txFrom(ctx) != nil {
		return fn(ctx)
	}
	var opts *sql.TxOptions
	if s.d.name != SQLite {
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	return s.retry(ctx, func() error {
		err := s.try(ctx, opts, fn)
		if s.d.prepare {
			s.prepareWanted(ctx)
		}
		return err
	})
}

// retry runs fn until it succeeds, fails for good, or has failed
// Options.MaxAttempts times with a retryable error (serialization failure,
// deadlock, lock timeout, busy database), with jittered backoff between.
func (s *Store) retry(ctx context.Context, fn func() error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = fn()
		if err == nil || s.d.classify(err) != errRetryable {
			return s.translate(err)
		}
		if attempt >= s.tries {
			return fmt.Errorf("sqlstore: gave up after %d attempts: %w: %w", attempt, storage.ErrUnavailable, err)
		}
		// Exponential backoff with full jitter, 1ms doubling to 100ms.
		backoff := min(time.Millisecond<<min(attempt, 7), 100*time.Millisecond)
		select {
		case <-time.After(rand.N(backoff) + time.Millisecond/2):
		case <-ctx.Done():
			return fmt.Errorf("sqlstore: %w: %w", storage.ErrUnavailable, ctx.Err())
		}
	}
}

// exec runs one statement (a logical query: {p} and ? placeholders). In
// ctx's transaction it runs once: a retryable failure dooms the whole
// transaction, which its owner retries. On its own it is retried like a
// transaction, because even a single autocommit statement can deadlock: an
// InnoDB UPDATE or INSERT that touches secondary or unique indexes takes
// several locks, in an order concurrent statements may not share.
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s.txFrom(ctx) != nil {
		return s.q(ctx).ExecContext(ctx, s.sql(query), args...)
	}
	var res sql.Result
	err := s.retry(ctx, func() error {
		var err error
		res, err = s.q(ctx).ExecContext(ctx, s.sql(query), args...)
		return err
	})
	return res, err
}

func (s *Store) try(ctx context.Context, opts *sql.TxOptions, fn func(ctx context.Context) error) (err error) {
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(context.WithValue(ctx, txKey{s.db}, &txState{tx: tx})); err != nil {
		return err
	}
	return tx.Commit()
}

// translate maps driver errors to storage's sentinels, keeping the driver
// error in the chain for logs. Errors that already carry a sentinel (or a
// domain error) pass unchanged.
func (s *Store) translate(err error) error {
	if err == nil || errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrUnavailable) {
		return err
	}
	switch s.d.classify(err) {
	case errNoRows:
		return fmt.Errorf("sqlstore: %w: %w", storage.ErrNotFound, err)
	case errDuplicate:
		return fmt.Errorf("sqlstore: %w: %w", storage.ErrConflict, err)
	case errRetryable:
		return fmt.Errorf("sqlstore: %w: %w", storage.ErrUnavailable, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("sqlstore: %w: %w", storage.ErrUnavailable, err)
	}
	return err
}

// scanner is what *sql.Row and *sql.Rows share.
type scanner interface{ Scan(...any) error }

// queryAll runs query (a logical query: {p} and ? placeholders) in ctx's
// transaction or on the database and scans every row with scan.
func queryAll[T any](ctx context.Context, s *Store, query string, scan func(scanner) (T, error), args ...any) ([]T, error) {
	rows, err := s.q(ctx).QueryContext(ctx, s.sql(query), args...)
	if err != nil {
		return nil, s.translate(err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, s.translate(err)
		}
		out = append(out, v)
	}
	return out, s.translate(rows.Err())
}

// write runs fn in ctx's transaction or a new one: a store method that
// writes more than one row is atomic on its own.
func (s *Store) write(ctx context.Context, fn func(ctx context.Context, q querier) error) error {
	return s.InTx(ctx, func(ctx context.Context) error { return fn(ctx, s.q(ctx)) })
}
