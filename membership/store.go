package membership

import (
	"context"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/storage"
)

// Store is what the membership service needs from a store; storage/memory
// and storage/sqlstore implement it beside commerce.Store on the same
// transactor.
//
// Every change to a member's points runs under the member's row lock
// (UpdateMember), so balances are checked and changed by one writer at a
// time: no balance goes negative under any concurrency.
type Store interface {
	storage.Transactor

	// PutProgram stores the merchant's program (insert or replace; the
	// store keeps NextNumber, which only TakeMemberNumber changes).
	PutProgram(ctx context.Context, p *Program) error
	// GetProgram returns the merchant's program.
	GetProgram(ctx context.Context, merchant commerce.MerchantID) (*Program, error)
	// TakeMemberNumber returns the next member number of the merchant's
	// program and counts it, with one guarded update.
	TakeMemberNumber(ctx context.Context, merchant commerce.MerchantID) (int64, error)

	// CreateMember stores a new member; storage.ErrConflict when the
	// customer is a member already.
	CreateMember(ctx context.Context, m *Member) error
	// GetMember returns the customer's membership of the merchant.
	GetMember(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID) (*Member, error)
	// UpdateMember locks the member, applies fn and saves it (bumping
	// Version) unless fn fails.
	UpdateMember(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, fn func(*Member) error) error
	// ProgramAndMember returns the merchant's program and the customer's
	// membership in one read, without locks: ErrNotFound when the merchant
	// has no program, a nil member when the customer is not a member. With
	// lots set it returns the member's open lots too (as MemberLots with
	// open; a non-nil slice, empty when there are none), in the same read:
	// a checkout spending points burns the lots it read with the member,
	// which stay what they were as long as the member's Version does,
	// since every change of a lot changes its member (UpdateMember or
	// SaveMember) in the same transaction.
	ProgramAndMember(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, lots bool) (*Program, *Member, []*Lot, error)
	// SaveMember writes m, read earlier without a lock, only if the stored
	// member still has m.Version, and bumps m.Version; false, with nothing
	// written, when the member changed meanwhile. A save that succeeds
	// locks the member to the end of the transaction, as UpdateMember
	// would have: a checkout spends points with one write instead of a
	// locked read and a write.
	SaveMember(ctx context.Context, m *Member) (bool, error)
	// DueReviews returns up to limit members of any merchant whose
	// NextReview is set and at or before before, soonest first.
	DueReviews(ctx context.Context, before time.Time, limit int) ([]*Member, error)
	// ListMembers returns the merchant's members by customer id after
	// after, at most limit.
	ListMembers(ctx context.Context, merchant commerce.MerchantID, after commerce.CustomerID, limit int) ([]*Member, error)

	// InsertLot stores a new lot (in a transaction, possibly with the
	// transaction's next statement, as SaveLots).
	InsertLot(ctx context.Context, l *Lot) error
	// SaveLots writes Left, Pending, Expired, Reminded and ExpiresAt of
	// existing lots. In a transaction a store may send the writes with the
	// transaction's next statement (one round trip for both): an unknown
	// lot then fails that statement, and so the transaction.
	SaveLots(ctx context.Context, lots ...*Lot) error
	// MemberLots returns a member's lots, earliest expiry first (lots that
	// never expire last), then oldest first; with open set, only lots with
	// points left that are neither pending nor expired.
	MemberLots(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, open bool) ([]*Lot, error)
	// OrderLots returns the lots an order earned and the merchant's lots
	// named in also (those the order's points came from), in one read,
	// ordered as MemberLots.
	OrderLots(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID, also ...LotID) ([]*Lot, error)
	// DueLots returns up to limit lots with points left, not pending, not
	// expired, expiring at or before before, soonest first; with
	// unreminded set, only those not yet Reminded.
	DueLots(ctx context.Context, before time.Time, unreminded bool, limit int) ([]*Lot, error)

	// AppendEntry adds ledger entries, in one write; storage.ErrConflict
	// when a member has an entry with the same non-empty RequestID. In a
	// transaction a store may send them with the transaction's next
	// statement, which then fails with the conflict, and so the
	// transaction.
	AppendEntry(ctx context.Context, es ...*Entry) error
	// EntryByRequest returns the member's entry with requestID.
	EntryByRequest(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, requestID string) (*Entry, error)
	// Entries returns a member's entries oldest first after the entry
	// after (zero: from the start), at most limit.
	Entries(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, after EntryID, limit int) ([]*Entry, error)
	// OrderEntries returns the entries of an order (any member), oldest first.
	OrderEntries(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID) ([]*Entry, error)

	// AppendEvents writes outbox events (commerce.Store's method).
	AppendEvents(ctx context.Context, events ...commerce.Event) error
}
