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
// never exceed their limits and one coupon serves one order.
package storetest
