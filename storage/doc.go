// Package storage holds what every minishop store shares and nothing else:
// the Transactor that carries one transaction through a context, and the
// sentinel errors (ErrNotFound, ErrConflict, ErrUnavailable) that all stores
// return for the same situations.
//
// It imports no domain package. The domain packages (commerce and the
// social-commerce packages built on it) define the Store interfaces they
// consume, next to the code that uses them; the implementations live in the
// sub-packages:
//
//   - storage/memory: a complete in-memory store with real rollback, the
//     default for tests and Example functions;
//   - storage/sqlstore: the SQL store, on SQLite (embedded), PostgreSQL,
//     MySQL/MariaDB and MariaDB Galera clusters;
//   - storage/storetest: the conformance suite every implementation passes.
//
// Every rule that must hold under concurrency rests on a guarded write, a
// row lock or a unique key; across the nodes of a Galera cluster only the
// guarded writes and unique keys count (see storage/sqlstore).
package storage
