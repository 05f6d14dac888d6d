// Package storetest is the contract every minishop store keeps: one
// conformance suite that storage/memory and each SQL dialect run from their
// own tests with storetest.Run. A behaviour a domain package relies on is a
// test here, grouped by package (Commerce/Stock/NoOversell), so a store
// passes the suite or it is not a minishop store.
//
// The suite includes concurrent tests (run them with -race): buyers racing
// for the last units never oversell, one idempotency key used by many
// goroutines makes one order, concurrent refunds never return more than was
// paid, outbox readers never skip an event committed by concurrent
// writers, duplicate payment notifications change state once, coupon claims
// never exceed their limits, one coupon serves one order, concurrent
// checkouts never overspend points, and a group gift's slots go one per
// person and never past their number. Races pits the changes that can collide
// (a claim or an acceptance against expiry, a draw against an entry, a
// notification against a cancel, refund against refund, settlement, points
// or a coupon's release against a refund or redemption); Retries checks
// that repeating a call that went through (checkout, ship, receive,
// complete, cancel, pay, refund, gift acceptance, group-gift claims)
// returns its result; HostileInput drives every text field at its limit and
// one past it.
//
// storage/sqlstore runs the suite on SQLite, PostgreSQL, MySQL and a
// three-node MariaDB Galera cluster with each store's connections spread
// over the nodes; a new store passes it the same way:
//
//	storetest.Run(t, storetest.Harness{New: func(t testing.TB) storetest.Store { ... }})
package storetest
