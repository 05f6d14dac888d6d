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

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/coupons"
	"github.com/minishop/minishop/membership"
	"github.com/minishop/minishop/storage"
)

// Options tune a Store. The zero value means the defaults.
type Options struct {
	// TablePrefix starts every table name, so minishop's tables sit beside
	// the host's own; "minishop_" by default. Letters, digits and _ only.
	TablePrefix string
	// RetryBudget bounds how long InTx keeps running again a transaction
	// the database aborted (serialization failure, deadlock, certification
	// failure, busy database) or lost with its connection, counted from the
	// first attempt; 3 seconds by default. A time budget rather than a count
	// because how many attempts a hot row needs grows with its contention:
	// on an optimistic engine (Galera, CockroachDB, TiDB) every commit on
	// the row aborts the transactions racing it, and a count that suits
	// quiet rows gives up on buyers while stock remains. The context's
	// deadline, when sooner, ends the retries first.
	RetryBudget time.Duration
	// MaxAttempts, when positive, also caps the number of attempts within
	// RetryBudget; 0 (the default) means the budget alone decides.
	MaxAttempts int
	// NoMigrate stops Open and OpenDB from applying pending migrations, for
	// hosts that run them with their own tool (see Migrations).
	NoMigrate bool
}

// DefaultRetryBudget is Options.RetryBudget's default.
const DefaultRetryBudget = 3 * time.Second

// Store is minishop's store over database/sql. It implements commerce.Store
// (and the other domain stores as they arrive) on SQLite, PostgreSQL and
// MySQL with one set of queries.
type Store struct {
	db     *sql.DB
	d      *dialect
	prefix string
	budget time.Duration // Options.RetryBudget
	tries  int           // Options.MaxAttempts; 0 for no cap
	owned  bool          // Close closes db

	mu      sync.RWMutex
	queries map[string]string // logical query -> dialect SQL with table names

	programs decoded[membership.Program] // documents every checkout reads (see decoded)
	batches  decoded[coupons.Batch]

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
// than the retries can absorb. For PostgreSQL and MySQL, size the pool:
// database/sql keeps 2 idle connections by default, so a server with more
// concurrent requests than that opens and closes a connection for most of
// them (measured: a shop server at 16 clients ran at a quarter of its
// speed); SetMaxIdleConns near SetMaxOpenConns avoids it.
func OpenDB(ctx context.Context, db *sql.DB, dialect Dialect, opts Options) (*Store, error) {
	return newStore(ctx, db, dialect, opts)
}

func newStore(ctx context.Context, db *sql.DB, name Dialect, opts Options) (*Store, error) {
	d, err := parseDialect(name)
	if err != nil {
		return nil, err
	}
	if d, err = forCluster(ctx, db, d); err != nil { // Galera: no prepared statements (see there)
		return nil, err
	}
	d = withSessionIsolation(ctx, db, d)
	if opts.TablePrefix == "" {
		opts.TablePrefix = "minishop_"
	}
	if !prefixRE.MatchString(opts.TablePrefix) {
		return nil, fmt.Errorf("sqlstore: table prefix %q: want letters, digits and _ (at most 31)", opts.TablePrefix)
	}
	if opts.MaxAttempts < 0 {
		return nil, fmt.Errorf("sqlstore: max attempts %d is negative", opts.MaxAttempts)
	}
	if opts.RetryBudget < 0 {
		return nil, fmt.Errorf("sqlstore: retry budget %v is negative", opts.RetryBudget)
	}
	if opts.RetryBudget == 0 {
		opts.RetryBudget = DefaultRetryBudget
	}
	s := &Store{db: db, d: d, prefix: opts.TablePrefix, budget: opts.RetryBudget, tries: opts.MaxAttempts, queries: map[string]string{}}
	s.programs.clone, s.batches.clone = (*membership.Program).Clone, (*coupons.Batch).Clone
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
	stmts := s.stmts
	s.stmts = nil
	s.stmtMu.Unlock()
	for _, st := range stmts { // outside the lock, as in prepare
		st.Close()
	}
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

// querier is how store code reaches the database (see q): the methods of
// *sql.DB and *sql.Tx, whose errors come out translated to storage's
// sentinels.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) row
}

// rawQuerier is what *sql.DB and *sql.Tx share.
type rawQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// row is a *sql.Row whose Scan translates its error.
type row struct {
	r   *sql.Row
	s   *Store
	err error // the query was not sent: writes held for it failed
}

// Scan scans the row; a missing row is storage.ErrNotFound (still
// sql.ErrNoRows to classify), a lost connection storage.ErrUnavailable.
func (r row) Scan(dest ...any) error {
	if r.err != nil {
		return r.s.translate(r.err)
	}
	return r.s.translate(r.r.Scan(dest...))
}

type txKey struct{ db *sql.DB }

// txState is the transaction a context carries.
type txState struct {
	tx     *sql.Tx
	hosted bool // the host's transaction: never committed, rolled back or retried here
	// conn is the transaction's connection on PostgreSQL, for pipelines
	// (see pipeline); nil elsewhere.
	conn *sql.Conn

	// later are writes held back to travel with the next statement (see
	// writeLater); failed is the first of them that failed, which stops
	// the transaction from committing.
	later  []deferred
	failed error
	// events are the outbox events appended in a transaction InTx owns,
	// written in one multi-row INSERT just before COMMIT: a checkout's
	// kernel and plugin events cost one statement, not one each. A host's
	// transaction gets them at once, as it commits on its own.
	events []commerce.Event
	// sent: the transaction has sent a statement (see causal).
	sent bool
}

// takeEvents returns the statements that write t's held events, which are
// then t's no more.
func (s *Store) takeEvents(t *txState) []statement {
	events := s.eventInserts(t.events)
	t.events = nil
	return events
}

// errStale is a guarded write whose outcome a later read contradicts (a
// stock decrement refused for a SKU that has the units by the time it is
// explained): the transaction is aborted and run again, like a
// serialization failure, so it sees the rows afresh.
var errStale = errors.New("sqlstore: a row changed since this transaction read it")

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
//
// Every error comes out translated (see translate) where the driver raised
// it, so the domain code that sees it first sees its kind: a connection
// lost inside a service's transaction reaches the service as
// storage.ErrUnavailable, which it wraps as unavailable, not as an internal
// error that InTx's retries would then wrap in a second kind.
func (s *Store) q(ctx context.Context) querier {
	c := conn{s: s}
	if t := s.txFrom(ctx); t != nil {
		c.tx, c.st = t.tx, t
	}
	return c
}

// raw returns the transaction in ctx, or the database, untranslated.
func (s *Store) raw(ctx context.Context) rawQuerier {
	if t := s.txFrom(ctx); t != nil {
		return t.tx
	}
	return s.db
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
	old, ok := s.stmts[query]
	if !ok {
		if s.stmts == nil {
			s.stmts = map[string]*sql.Stmt{}
		}
		s.stmts[query] = st
	}
	s.stmtMu.Unlock()
	if ok {
		// Another goroutine prepared it first. Close outside the lock:
		// closing takes each connection's lock, which a transaction holds
		// while it waits for a row; were stmtMu held here, that
		// transaction's next statement (which needs stmtMu) could never
		// run, and every claim behind its row lock would wait out the
		// server's lock timeout.
		st.Close()
		return old, nil
	}
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

// conn runs queries in tx when set, or on the pool: through the store's
// prepared statements where the dialect prepares, and translating every
// error. Statements bound to a transaction are released when it ends.
type conn struct {
	s  *Store
	tx *sql.Tx
	st *txState // tx's state, for the writes held back (see writeLater)
}

func (c conn) direct() rawQuerier {
	if c.tx != nil {
		return c.tx
	}
	return c.s.db
}

// stmt returns the prepared statement for query, bound to the transaction,
// or nil to run query directly.
func (c conn) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if !c.s.d.prepare {
		return nil, nil
	}
	st, err := c.s.prepared(ctx, query, c.tx != nil)
	if err != nil || st == nil {
		return nil, err
	}
	if c.tx != nil {
		st = c.tx.StmtContext(ctx, st)
	}
	return st, nil
}

// holding reports whether t holds writes back (see writeLater): a
// statement sent on t then carries them.
func (t *txState) holding() bool { return t != nil && len(t.later) > 0 }

func (c conn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if c.st.holding() {
		// The held writes and this one, in one round trip.
		n, err := c.s.flush(ctx, c.st, statement{query, args})
		if err != nil {
			return nil, err
		}
		return pipelined(n[0]), nil
	}
	query = c.s.causal(c.st, query)
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, c.s.translate(err)
	}
	var res sql.Result
	if st == nil {
		res, err = c.direct().ExecContext(ctx, query, args...)
	} else {
		res, err = st.ExecContext(ctx, args...)
	}
	return res, c.s.translate(err)
}

func (c conn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if c.st.holding() {
		if _, err := c.s.flush(ctx, c.st); err != nil {
			return nil, err
		}
	}
	query = c.s.causal(c.st, query)
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, c.s.translate(err)
	}
	var rows *sql.Rows
	if st == nil {
		rows, err = c.direct().QueryContext(ctx, query, args...)
	} else {
		rows, err = st.QueryContext(ctx, args...)
	}
	return rows, c.s.translate(err)
}

func (c conn) QueryRowContext(ctx context.Context, query string, args ...any) row {
	if c.st.holding() {
		if _, err := c.s.flush(ctx, c.st); err != nil {
			return row{s: c.s, err: err}
		}
	}
	query = c.s.causal(c.st, query)
	// sql.Row has no exported constructor: when preparing fails, the
	// direct query reports the same failure through the row.
	st, err := c.stmt(ctx, query)
	if err != nil || st == nil {
		return row{r: c.direct().QueryRowContext(ctx, query, args...), s: c.s}
	}
	return row{r: st.QueryRowContext(ctx, args...), s: c.s}
}

// InTx implements storage.Transactor. A context already carrying a
// transaction of this database (from InTx or WithTx) joins it. Otherwise fn
// runs in a new transaction (READ COMMITTED on PostgreSQL and MySQL, whose
// rules rest on row locks and guarded updates; SQLite's immediate
// transactions are serializable).
//
// The transaction runs again, after an exponential backoff with full
// jitter, while Options.RetryBudget lasts (and Options.MaxAttempts, if set,
// allows), when the database aborted it to resolve a conflict
// (serialization failure, deadlock, Galera certification failure, lock
// timeout, busy database) or when the connection failed before COMMIT: in
// both cases nothing of it was applied. Past the budget the error wraps
// storage.ErrUnavailable.
//
// A failure during COMMIT itself (the connection lost or timed out after
// COMMIT was sent) is not retried: the transaction may have committed, and
// running it again could apply it twice. InTx returns it at once, wrapping
// storage.ErrUnavailable and saying the outcome is unknown; the caller
// retries the whole operation with the same idempotency key, which finds
// the first attempt's result if it did commit.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if s.txFrom(ctx) != nil {
		return fn(ctx)
	}
	opts := s.txOptions()
	return s.retry(ctx, retryTx, func() error {
		err := s.try(ctx, opts, fn)
		if s.d.prepare {
			s.prepareWanted(ctx)
		}
		return err
	})
}

// txOptions are the options of InTx's transactions: READ COMMITTED on
// PostgreSQL, and on MySQL unless its sessions start there.
func (s *Store) txOptions() *sql.TxOptions {
	if s.d.name == SQLite || s.d.sessionRC {
		return nil
	}
	return &sql.TxOptions{Isolation: sql.LevelReadCommitted}
}

// retryOn says which failures retry runs its function again for.
type retryOn int

const (
	// retryConflicts: only aborts the database reported (errRetryable),
	// for an autocommit statement, which a lost connection may have
	// applied.
	retryConflicts retryOn = iota
	// retryTx: also a connection lost before COMMIT, for a transaction,
	// which the server rolls back when its connection goes.
	retryTx
	// retryAlways: every errRetryable and errUnavailable failure, the
	// unknown outcome of a COMMIT included, for work that is idempotent
	// (migrations).
	retryAlways
)

// commitError is a COMMIT that failed with the connection: whether the
// transaction committed is unknown.
type commitError struct{ err error }

func (e *commitError) Error() string {
	return "commit outcome unknown, the transaction may have been applied: " + e.err.Error()
}

func (e *commitError) Unwrap() error { return e.err }

// retry runs fn until it succeeds, fails for good, or the retry budget (and
// the attempt cap, if set) is spent, sleeping between attempts for an
// exponential backoff with full jitter.
func (s *Store) retry(ctx context.Context, on retryOn, fn func() error) error {
	start := time.Now()
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil {
			return nil
		}
		var ce *commitError
		switch class := s.d.classify(err); {
		case ctx.Err() != nil:
			return s.translate(err) // the caller has given up
		case class == errRetryable:
		case class == errUnavailable && on == retryAlways:
		case class == errUnavailable && on == retryTx && !errors.As(err, &ce):
		default:
			return s.translate(err)
		}
		wait := backoff(attempt)
		spent := time.Since(start)
		if s.tries > 0 && attempt >= s.tries || spent+wait > s.budget {
			return s.mark(storage.ErrUnavailable, fmt.Sprintf("gave up after %d attempts in %v", attempt, spent.Round(time.Millisecond)), err)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("sqlstore: %w: %w (after %d attempts, the last: %v)", storage.ErrUnavailable, ctx.Err(), attempt, err)
		}
	}
}

// backoff returns the pause before attempt+1: full jitter over a ceiling
// that doubles from 2ms to 64ms. Full jitter spreads the transactions that
// collided over the whole window, so they do not collide again in step; the
// ceiling stays low because a hot row frees up within milliseconds and the
// retry budget, not the backoff, bounds the wait.
func backoff(attempt int) time.Duration {
	ceiling := time.Millisecond << min(attempt, 6)
	return rand.N(ceiling) + time.Millisecond/4
}

// exec runs one statement (a logical query: {p} and ? placeholders). In
// ctx's transaction it runs once: a retryable failure dooms the whole
// transaction, which its owner retries. On its own it is retried when the
// database aborted it, because even a single autocommit statement can
// deadlock: an InnoDB UPDATE or INSERT that touches secondary or unique
// indexes takes several locks, in an order concurrent statements may not
// share. It is not retried when its connection failed, as it may have been
// applied.
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s.txFrom(ctx) != nil {
		return s.q(ctx).ExecContext(ctx, s.sql(query), args...)
	}
	var res sql.Result
	err := s.retry(ctx, retryConflicts, func() error {
		var err error
		res, err = s.q(ctx).ExecContext(ctx, s.sql(query), args...)
		return err
	})
	return res, err
}

// try runs fn in one transaction. A COMMIT that fails with the connection
// comes back as a *commitError; one the database refused (a Galera
// certification failure, a PostgreSQL serialization failure detected at
// commit) is an abort like any other, safe to run again.
func (s *Store) try(ctx context.Context, opts *sql.TxOptions, fn func(ctx context.Context) error) (err error) {
	st := &txState{}
	if s.d.name == Postgres {
		// The transaction on a connection of its own, so that pipeline can
		// reach the driver's connection under it.
		if st.conn, err = s.db.Conn(ctx); err != nil {
			return err
		}
		defer st.conn.Close() // back to the pool, after the rollback below
		st.tx, err = st.conn.BeginTx(ctx, opts)
	} else {
		st.tx, err = s.db.BeginTx(ctx, opts)
	}
	if err != nil {
		return err
	}
	tx := st.tx
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	ctx = context.WithValue(ctx, txKey{s.db}, st)
	if err = fn(ctx); err != nil {
		return err
	}
	// The outbox events, with the writes held back (see writeLater): in
	// one pipeline on PostgreSQL.
	if events := s.takeEvents(st); len(events) > 0 || st.holding() {
		if _, err = s.flush(ctx, st, events...); err != nil {
			return err
		}
	}
	if st.failed != nil {
		return st.failed
	}
	if err = tx.Commit(); err != nil && s.d.classify(err) == errUnavailable {
		return &commitError{err}
	}
	return err
}

// kinded is an error that already says which kind it is: minishop's service
// errors (*commerce.Error) and the detail errors that carry their kind
// (*commerce.OutOfStockError...). The store adds no sentinel around one, so
// that an error never matches two kinds.
type kinded interface{ ErrorKind() commerce.Kind }

// classified reports whether err already matches a kind: one of storage's
// sentinels, or a kinded error.
func classified(err error) bool {
	var k kinded
	return errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrConflict) ||
		errors.Is(err, storage.ErrUnavailable) || errors.As(err, &k)
}

// mark wraps err, with msg, in sentinel, unless err already matches a kind:
// then only the message is added.
func (s *Store) mark(sentinel error, msg string, err error) error {
	if classified(err) {
		return fmt.Errorf("sqlstore: %s: %w", msg, err)
	}
	return fmt.Errorf("sqlstore: %s: %w: %w", msg, sentinel, err)
}

// translate maps driver errors to storage's sentinels, keeping the driver
// error in the chain for logs and classify: a missing row is ErrNotFound, a
// duplicate key ErrConflict, an abort or a failed connection (refused,
// reset, killed, timed out, the context ended) ErrUnavailable. Errors that
// already match a kind pass unchanged. Translating twice is translating
// once.
func (s *Store) translate(err error) error {
	if err == nil || classified(err) {
		return err
	}
	switch s.d.classify(err) {
	case errNoRows:
		return fmt.Errorf("%w: %w", storage.ErrNotFound, err)
	case errDuplicate:
		return fmt.Errorf("%w: %w", storage.ErrConflict, err)
	case errRetryable, errUnavailable:
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
