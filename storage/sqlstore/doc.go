// Package sqlstore is minishop's store over database/sql: one set of
// queries implementing every domain store interface on three dialects.
//
//   - SQLite through modernc.org/sqlite (pure Go, no cgo), the embedded
//     default: Open(ctx, "shop.db", Options{}) gives a ready store in WAL
//     mode with a busy timeout, every transaction taking the write lock at
//     BEGIN so writers queue instead of deadlocking. ":memory:" gives a
//     private in-memory database.
//   - PostgreSQL through github.com/jackc/pgx/v5/stdlib (driver "pgx").
//   - MySQL 8 / MariaDB 10.6+ (InnoDB) through github.com/go-sql-driver/mysql.
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
// hold at any isolation level. SQLite transactions are serializable. InTx
// retries a transaction the database aborted to resolve a conflict
// (PostgreSQL 40001 and 40P01, MySQL 1213 and 1205, SQLite busy and locked)
// up to Options.MaxAttempts times with jittered exponential backoff, then
// returns an error wrapping storage.ErrUnavailable.
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
//     Options.MaxAttempts for hot SKUs.
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
// The conformance suite in storage/storetest is the contract: run it against
// a new engine (as harness_test.go does for the three dialects) before
// trusting it with orders.
package sqlstore
