package wechat

import (
	"context"
	"time"

	"github.com/minishop/minishop/storage"
)

// Record is one of the platform's keyed records: an app's access token, a
// login session, the shipping upload of an order, the delivery of a
// message, a customer's subscription credit, a short scene code, a push
// already applied. Each kind keeps its own JSON document in Doc; the store
// only indexes Kind, Key, Status and Due.
//
// Every change is a compare-and-swap on Version, so a rule that rests on a
// record holds across processes and across the nodes of a multi-primary
// cluster (two writers of one version: one wins, the other sees
// ErrConflict and reads again).
type Record struct {
	Kind string // what the record is: see the kind constants
	Key  string // unique within Kind; carries the app id where it matters
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

// Store is what package wechat keeps. storage/memory and storage/sqlstore
// implement it; storage/storetest holds the contract.
type Store interface {
	storage.Transactor
	// GetRecord returns the record, or storage.ErrNotFound.
	GetRecord(ctx context.Context, kind, key string) (Record, error)
	// SaveRecord inserts r when r.Version is 0 (storage.ErrConflict when
	// its key is taken) and otherwise replaces the stored record only if
	// its version is still r.Version (storage.ErrConflict when it moved
	// on, storage.ErrNotFound when there is none). It returns the version
	// now stored.
	SaveRecord(ctx context.Context, r Record) (int64, error)
	// DueRecords returns up to limit records of kind with the given status
	// whose Due is at or before before, earliest Due first (then by key).
	DueRecords(ctx context.Context, kind, status string, before time.Time, limit int) ([]Record, error)
}
