package storage

import (
	"context"
	"time"
)

// Record is one keyed record of a package's own bookkeeping: the WeChat
// platform's access tokens, login sessions, shipping uploads and message
// deliveries; the payment service's merchant accounts, payouts and
// profit-sharing orders. Each kind keeps its own JSON document in Doc; the
// store only indexes Kind, Key, Status and Due.
//
// Every change is a compare-and-swap on Version, so a rule that rests on a
// record holds across processes and across the nodes of a multi-primary
// cluster (two writers of one version: one wins, the other sees
// ErrConflict and reads again).
type Record struct {
	Kind string // what the record is; each package prefixes or documents its kinds
	Key  string // unique within Kind
	// Status is where the record's work is ("pending", "failed", "done"...);
	// DueRecords finds records by it.
	Status string
	// Due is when the record's work is next due (zero: not scheduled).
	Due time.Time
	// Version is 1 once inserted and grows by one with each save.
	Version int64
	Doc     []byte // the kind's JSON document
	Updated time.Time
}

// Limits of a record's indexed fields, the same on every store.
const (
	MaxRecordKindLen   = 32
	MaxRecordKeyLen    = 191 // a MySQL utf8mb4 index prefix
	MaxRecordStatusLen = 32
)

// Records is a store of keyed records. storage/memory and storage/sqlstore
// implement it; storage/storetest holds the contract. Calls join the
// transaction in ctx, if any.
type Records interface {
	// GetRecord returns the record, or ErrNotFound.
	GetRecord(ctx context.Context, kind, key string) (Record, error)
	// SaveRecord inserts r when r.Version is 0 (ErrConflict when its key
	// is taken; the transaction goes on) and otherwise replaces the stored
	// record only if its version is still r.Version (ErrConflict when it
	// moved on, ErrNotFound when there is none). It returns the version
	// now stored.
	SaveRecord(ctx context.Context, r Record) (int64, error)
	// DueRecords returns up to limit records of kind with the given status
	// whose Due is at or before before, earliest Due first (then by key).
	DueRecords(ctx context.Context, kind, status string, before time.Time, limit int) ([]Record, error)
	// RecordsBetween returns up to limit records of kind whose key is at
	// or after from and before to, by key (bytewise): one range read for
	// records a package keys in order, such as a statement's entries.
	RecordsBetween(ctx context.Context, kind, from, to string, limit int) ([]Record, error)
}
