package storage

import (
	"context"
	"errors"
)

// Transactor runs a function inside one database transaction.
//
// The transaction travels in the context passed to fn: every repository call
// made with that context, from minishop's packages or from a host's own
// package built on the same store, joins it. When fn returns nil the
// transaction commits; when it returns an error or panics, everything written
// inside it is rolled back and the error is returned.
//
// Calling InTx with a context that already carries a transaction of the same
// store joins that transaction instead of opening a new one, so services can
// call each other without caring who opened it.
//
// Implementations may run fn more than once when the database reports a
// serialization failure, deadlock or lock timeout. fn must therefore have no
// effects outside the transaction: no calls to payment providers, no messages
// sent. Such work belongs after InTx returns.
type Transactor interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
}

// Sentinel errors every store implementation returns, whatever its database,
// so that domain packages can rely on them. Domain packages re-export them
// (commerce.ErrNotFound is ErrNotFound).
var (
	// ErrNotFound reports that the record asked for does not exist, or exists
	// for another merchant (which callers must not be able to tell apart).
	// Not retryable.
	ErrNotFound = errors.New("not found")
	// ErrConflict reports that a write collided with an existing record: a
	// duplicate unique key (an idempotency key already used, say) or a
	// concurrent change that cannot be merged. Not retryable: the record
	// that collided stays; an abort the database would resolve by running
	// the transaction again is ErrUnavailable, not ErrConflict.
	ErrConflict = errors.New("conflict")
	// ErrUnavailable reports that the store could not do the work right now:
	// a retryable failure that persisted after the transactor's retries, a
	// closed connection, a cancelled context, a COMMIT whose outcome is
	// unknown. Retryable: the same call may succeed later (with the same
	// idempotency key, which finds the first attempt's result if it
	// committed).
	ErrUnavailable = errors.New("unavailable")
)
