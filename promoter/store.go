package promoter

import (
	"context"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/storage"
)

// CommissionQuery selects a page of a promoter's or an agency's
// commissions (Service.Commissions, Store.Commissions).
type CommissionQuery struct {
	// Exactly one of Promoter and Agency is set.
	Promoter PromoterID
	Agency   AgencyID
	// From and To bound the creation time: [From, To).
	From, To time.Time
	// After is the last commission of the previous page (zero: from the
	// first).
	After CommissionID
	// Limit is the page size: 1 to 1000, 0 for 100.
	Limit int
}

// Store is what the promoter service needs from a store, beside
// commerce.Store on the same transactor.
type Store interface {
	storage.Transactor
	// Records keeps the service's own keyed records (payouts); see
	// storage.Records.
	storage.Records

	// InsertAgency and InsertPromoter store new records
	// (storage.ErrConflict on a taken ID); Get returns one
	// (storage.ErrNotFound); Update locks one, applies fn and saves it
	// (bumping Version) unless fn fails.
	InsertAgency(ctx context.Context, a *Agency) error
	GetAgency(ctx context.Context, id AgencyID) (*Agency, error)
	UpdateAgency(ctx context.Context, id AgencyID, fn func(*Agency) error) error
	InsertPromoter(ctx context.Context, p *Promoter) error
	GetPromoter(ctx context.Context, id PromoterID) (*Promoter, error)
	UpdatePromoter(ctx context.Context, id PromoterID, fn func(*Promoter) error) error

	// BindSharer binds a promoter as the merchant's sharer unless the
	// merchant has max bound already (ErrSharerCap) or the promoter is
	// bound (storage.ErrConflict): the count and the insert are one atomic
	// step, so concurrent binds never pass the cap.
	BindSharer(ctx context.Context, s Sharer, max int) error
	// UnbindSharer removes a binding made at or before boundBefore:
	// storage.ErrNotFound when there is none, ErrTooSoon when it is
	// younger.
	UnbindSharer(ctx context.Context, merchant commerce.MerchantID, promoter PromoterID, boundBefore time.Time) error
	// Sharers lists the merchant's sharers, oldest binding first.
	Sharers(ctx context.Context, merchant commerce.MerchantID) ([]Sharer, error)

	// PutPlan creates or replaces the plan of its product (bumping
	// Version).
	PutPlan(ctx context.Context, p *Plan) error
	// Plans returns the plans of the given products (those that have one).
	Plans(ctx context.Context, merchant commerce.MerchantID, products []commerce.ProductID) ([]*Plan, error)

	// LockCustomer returns the promoter a customer is locked to at the
	// merchant at now, locking them to promoter until until when no lock
	// holds (one atomic step).
	LockCustomer(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, promoter PromoterID, now, until time.Time) (PromoterID, error)

	// InsertCommissions stores new commissions; storage.ErrConflict when
	// an order line has one already (nothing is written then).
	InsertCommissions(ctx context.Context, cs []*Commission) error
	// OrderCommissions returns an order's commissions by line.
	OrderCommissions(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID) ([]*Commission, error)
	// UpdateCommission locks a commission, applies fn and saves it
	// (bumping Version) unless fn fails.
	UpdateCommission(ctx context.Context, merchant commerce.MerchantID, id CommissionID, fn func(*Commission) error) error
	// Commissions returns a page of the commissions of a promoter or of an
	// agency (exactly one of q.Promoter and q.Agency is set) created in
	// [q.From, q.To), oldest first then by ID, after the commission
	// q.After (storage.ErrNotFound when there is no such commission), at
	// most commerce.PageLimit(q.Limit). A commission's creation time never
	// changes, so pages taken one after the other return each commission
	// once, in one order, whatever is inserted meanwhile.
	Commissions(ctx context.Context, q CommissionQuery) ([]*Commission, error)

	// AppendEvents writes outbox events (commerce.Store's method).
	AppendEvents(ctx context.Context, events ...commerce.Event) error
}
