// Package sqlstore is minishop's store over database/sql: one set of
// queries implementing every domain store interface on three dialects.
//
//   - SQLite through modernc.org/sqlite (pure Go, no cgo), the embedded
//     default: Open(ctx, "shop.db", Options{}) gives a ready store in WAL
//     mode with a busy timeout, every transaction taking the write lock at
//     BEGIN so writers queue instead of deadlocking. ":memory:" gives a
//     private in-memory database.
//   - PostgreSQL through github.com/jackc/pgx/v5/stdlib (driver "pgx").
//   - MySQL 8 / MariaDB 10.6+ (InnoDB) through github.com/go-sql-driver/mysql,
//     and MariaDB Galera clusters with every node taking writes (see Galera).
//
// A host that already has a *sql.DB hands it in with OpenDB and the dialect;
// WithTx makes minishop's calls join the host's own transaction.
//
// # Schema
//
// The schema is numbered migration files per dialect, embedded in the
// binary. Open and OpenDB apply pending ones (Options.NoMigrate turns that
// off); Migrations exposes them as an fs.FS for a host's own migration tool.
// Migrate is safe when several processes start at once, without advisory
// locks. Tables are prefixed ("minishop_" by default) to sit beside the
// host's own.
//
// Amounts are integer minor units beside an ISO 4217 code (orders keep their
// exact decimal lines in a JSON document next to indexed columns); times are
// Unix microseconds; nothing is floating point. IDs are UUIDv7, stored as
// native UUID on PostgreSQL and BINARY(16)/BLOB elsewhere: time-ordered, so
// inserts append to the primary key index instead of splitting pages.
//
// # Concurrency
//
// Transactions run at READ COMMITTED on PostgreSQL and MySQL: every rule
// that must hold under concurrency (stock never below zero, one order per
// idempotency key, purchase limits, refunds never above what was paid) is a
// guarded UPDATE, a row lock (SELECT ... FOR UPDATE) or a unique key, which
// hold at any isolation level. SQLite transactions are serializable.
//
// On MySQL, open the pool with the session already at READ COMMITTED
// (tx_isolation=%27READ-COMMITTED%27 in a MariaDB DSN,
// transaction_isolation=... on MySQL 8): OpenDB sees it and transactions
// then ask for no level, where otherwise the driver sends SET TRANSACTION
// ISOLATION LEVEL in a round trip of its own before each BEGIN.
//
// # Statements per checkout
//
// A transaction's outbox events (the kernel's and every plugin's) are held
// and written in one multi-row INSERT just before COMMIT; the stock of every
// line is taken in one guarded UPDATE, last, so a hot SKU's row lock lasts
// only until COMMIT; a member's program and card, and the open points lots
// when the checkout spends points, come in one read and the points are
// spent with one write guarded by the version read (the locked path only
// when the member changed meanwhile); coupons come with their batches in
// one join. A three-line checkout with a coupon and points runs 12
// statements, BEGIN and COMMIT included; one without plugins, 7.
//
// On PostgreSQL, in a transaction InTx owns, statements go to the server
// together where nothing waits for their answer: the order's INSERT, the
// stock UPDATE and the events in one pgx pipeline (PlaceOrder), and writes
// such as the points lots a spend burnt and its ledger entry travel with
// the transaction's next statement (see writeLater): their failure fails
// that statement, and so the transaction. The transaction runs on a
// connection of its own (sql.Conn) so the pipeline can reach pgx's
// connection under it. A plugins checkout makes 8 round trips, a plain one
// 5; a host's transaction (WithTx) runs every statement as it comes.
//
// SQLite placeholders are written +? (see dialect.rebind): with STAT4, as
// modernc builds SQLite, statistics from a host's ANALYZE would otherwise
// make every cached statement prepare again whenever its values change.
//
// On a multi-primary MariaDB Galera cluster a row lock holds only on its own
// node, and certification at commit aborts only a transaction that WRITES a
// row another committed meanwhile. So no rule here rests on a lock of a row
// the transaction does not write: where a shared lock guards a decision
// (group-gift claims under the gift's lock), both sides also write one
// common row (the gift's count, see gifting.go). Open the pool with
// interpolateParams=true, and the store, seeing wsrep_on, prepares nothing:
// MariaDB 10.11 can answer a prepared SELECT in a transaction another node
// just aborted, then report its COMMIT successful (see forCluster). OpenDB
// checks and refuses a Galera pool whose driver still prepares, naming the
// setting, rather than run where committed work can be lost.
//
// InTx runs a transaction again when the database aborted it to resolve a
// conflict (PostgreSQL 40001, 40P01 and 55P03, MySQL 1213 and 1205, SQLite
// busy and locked) or when its connection failed before COMMIT (refused,
// reset, killed, timed out): either way nothing of it was applied. It
// retries for Options.RetryBudget (3 seconds by default, and never past
// the context's deadline) with exponential backoff and full jitter, the
// pause drawn at random below a ceiling that doubles from 2 to 64
// milliseconds; Options.MaxAttempts optionally caps the attempts too. Then
// it returns an error wrapping storage.ErrUnavailable.
//
// A failure during COMMIT itself is not retried: the connection went after
// COMMIT was sent, so the transaction may have committed, and running it
// again could apply it twice. The error wraps storage.ErrUnavailable and
// says the outcome is unknown; the caller retries the operation with the
// same idempotency key, which finds the first attempt's result if it
// committed. For the same reason a single statement outside a transaction
// is retried only when the database aborted it, not when its connection
// failed.
//
// # Errors
//
// Every error matches exactly one kind: storage.ErrNotFound,
// storage.ErrConflict or storage.ErrUnavailable, or the kind of the service
// error that carries it. Driver and context errors are translated where the
// driver raises them, so a connection lost inside a service's transaction
// reaches the service already unavailable; and the store never wraps an
// error that already has a kind (a *commerce.Error, say) in a sentinel of
// another. Connection failures and timeouts (refused, reset, EOF,
// driver.ErrBadConn, i/o timeouts, pgconn's connect errors, a server
// shutting down or killing the connection, statement timeouts, a cancelled
// context) are storage.ErrUnavailable: try again later.
//
// Outbox events are inserted unnumbered by the writing transaction, so
// writers never contend on a counter. Reading numbers the committed ones in
// a step serialized by a lock on one state row; a number is thus only ever
// given to a committed event, above every number handed out before, and a
// reader's cursor never skips an event.
//
// # Distributed engines
//
// The SQL is kept to what PostgreSQL-compatible (CockroachDB, YugabyteDB)
// and MySQL-compatible (TiDB) distributed engines accept: no advisory locks,
// triggers, stored procedures, sequences or SQLite-only syntax. Moving to one
// of them, know that:
//
//   - CockroachDB runs SERIALIZABLE unless READ COMMITTED is enabled on the
//     cluster (sql.txn.read_committed_isolation.enabled); serializable works,
//     with more 40001 retries under contention, which InTx absorbs. Raise
//     Options.RetryBudget for hot SKUs (see Galera below).
//   - YugabyteDB maps READ COMMITTED to snapshot isolation unless
//     yb_enable_read_committed_isolation is set; the same note applies.
//   - Both run schema changes with limits inside transactions: apply the
//     files from Migrations with your migration tool from one process, and
//     open the store with NoMigrate.
//   - TiDB is MySQL-compatible; its optimistic write conflict (9007) is
//     retried like a deadlock. DDL is not transactional there either, which
//     the MySQL migrations already assume (they are idempotent).
//   - Reading the outbox locks one row per numbering step; with many
//     concurrent readers on a distributed engine that row is a hotspot, so
//     run one relay that reads and fans out.
//
// # Galera
//
// MariaDB Galera Cluster runs with the MySQL dialect, every node taking
// writes. It replicates a transaction at COMMIT and certifies it against
// the transactions other nodes committed meanwhile: one that wrote a row
// (or a unique key value) another wrote first is aborted with error 1213,
// at any statement or at COMMIT, and InTx runs it again.
//
// What minishop guarantees there rests on guarded writes and unique keys,
// which certification enforces across nodes: a guarded stock decrement, a
// counter row every claim of a gift writes, an idempotency key's unique
// index. Row locks alone hold only on the node that takes them (two nodes
// may each lock the same row), so no rule depends on a lock without a
// write that certification sees. The conformance suite runs on a
// three-node cluster with each store's connections spread over the nodes.
//
// Retries: certification failures on a hot row are far more frequent than
// deadlocks on one server, since every commit on the row aborts the
// transactions racing it on the other nodes. Keep the retry budget rather
// than an attempt count (leave Options.MaxAttempts at 0): with a count,
// buyers are given up on while stock remains. The default 3 seconds sells
// out a SKU that 60 buyers on three nodes race for; raise
// Options.RetryBudget for larger flash sales, and give each request a
// context deadline no shorter than the budget.
//
// Reads: a node applies other nodes' transactions a moment after they
// commit. minishop's writes never depend on such a read (the guarded write
// decides), but a host that reads right after writing through another
// connection (a load-balanced pool, another node) may not see its write.
// Set wsrep_sync_wait=1 on those connections (in the go-sql-driver DSN,
// beside the interpolateParams=true a Galera pool needs, see Concurrency:
// ?interpolateParams=true&wsrep_sync_wait=1): each read then waits until
// its node has applied everything committed before it began, at the cost
// of latency per read. The tests run that way, since they write through
// one connection and check through another.
//
// Migrate is safe from several nodes at once: each DDL statement runs in
// total order isolation, which may abort concurrent transactions on the
// same tables (1213, retried), and a statement that finds its table,
// index or column already created counts as done.
//
// To run the tests on a cluster of three nodes on loopback (ports 4306 to
// 4308), from the repository root:
//
//	scripts/galera start
//	export MINISHOP_GALERA_DSNS=$(scripts/galera dsns)
//	go test ./storage/sqlstore -run 'Galera|Conformance/Galera|MigrateConcurrentTrials'
//	scripts/galera stop
//
// Without MINISHOP_GALERA_DSNS the Galera tests are skipped.
//
// The conformance suite in storage/storetest is the contract: run it against
// a new engine (as harness_test.go does for the three dialects) before
// trusting it with orders.
package sqlstore
