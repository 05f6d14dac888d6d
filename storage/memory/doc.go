// Package memory is a complete in-memory minishop store: every domain Store
// interface, with real transactions (a failed one leaves no trace), passing
// the same conformance suite (storage/storetest) as the SQL stores. It is the
// default for tests and Example functions, and fits a host that keeps
// nothing between runs.
//
// Transactions are serialized by one lock, so concurrent callers are safe
// and never see a half-done change; nested InTx calls join the open
// transaction. Nothing is persisted.
package memory
