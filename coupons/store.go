package coupons

import (
	"context"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/storage"
)

// Store is what the coupons service needs from a store. storage/memory and
// storage/sqlstore implement it beside commerce.Store, on the same
// transactor: a redemption commits or rolls back with its checkout.
//
// Counters are guarded updates, never read-then-write: TakeClaim and
// RedeemCoupon are the single writes that make limits hold under
// concurrency on every store.
type Store interface {
	storage.Transactor

	// CreateBatch stores a new batch.
	CreateBatch(ctx context.Context, b *Batch) error
	// GetBatch returns the merchant's batch.
	GetBatch(ctx context.Context, merchant commerce.MerchantID, id BatchID) (*Batch, error)
	// GetBatches returns the merchant's batches with the given ids (missing
	// ones left out), in any order.
	GetBatches(ctx context.Context, merchant commerce.MerchantID, ids []BatchID) ([]*Batch, error)
	// UpdateBatch locks the batch, applies fn and saves it (bumping Version;
	// Claimed is not written: only TakeClaim changes it).
	UpdateBatch(ctx context.Context, merchant commerce.MerchantID, id BatchID, fn func(*Batch) error) error
	// ListBatches returns the merchant's batches in ID order after after, at
	// most limit (commerce.PageLimit).
	ListBatches(ctx context.Context, merchant commerce.MerchantID, after BatchID, limit int) ([]*Batch, error)

	// TakeClaim counts one claim of the batch by customer, atomically
	// against both limits: the customer's claims stay <= perPerson (when
	// perPerson > 0) and the batch's Claimed <= total. It returns
	// ErrLimitReached or ErrSoldOut and counts nothing when a limit is met.
	TakeClaim(ctx context.Context, merchant commerce.MerchantID, batch BatchID, customer commerce.CustomerID, perPerson, total int64) error
	// InsertCoupon stores a claimed coupon; storage.ErrConflict when the
	// customer already has a coupon of the batch with the same RequestID.
	InsertCoupon(ctx context.Context, c *Coupon) error
	// CouponByRequest returns the customer's coupon of the batch claimed with
	// requestID.
	CouponByRequest(ctx context.Context, merchant commerce.MerchantID, batch BatchID, customer commerce.CustomerID, requestID string) (*Coupon, error)
	// GetCoupon returns a coupon of the merchant.
	GetCoupon(ctx context.Context, merchant commerce.MerchantID, id CouponID) (*Coupon, error)
	// GetCoupons returns the merchant's coupons with the given ids (missing
	// ones left out).
	GetCoupons(ctx context.Context, merchant commerce.MerchantID, ids []CouponID) ([]*Coupon, error)
	// GetCandidates returns the merchant's coupons with the given ids, each
	// with its batch, in one read (missing ids are left out): what a
	// checkout naming its coupons prices them with.
	GetCandidates(ctx context.Context, merchant commerce.MerchantID, ids []CouponID) ([]Candidate, error)
	// WalletCandidates returns the customer's valid coupons at the
	// merchant, each with its batch, soonest ValidUntil first (then ID), at
	// most limit, in one read: what a checkout that names no coupon picks
	// the best from.
	WalletCandidates(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, limit int) ([]Candidate, error)
	// UpdateCoupon locks the coupon, applies fn and saves it (bumping
	// Version).
	UpdateCoupon(ctx context.Context, merchant commerce.MerchantID, id CouponID, fn func(*Coupon) error) error
	// CustomerCoupons returns a customer's coupons across merchants, soonest
	// ValidUntil first (then ID), filtered by status when set, at most limit.
	CustomerCoupons(ctx context.Context, customer commerce.CustomerID, status Status, limit int) ([]*Coupon, error)
	// CountGroupCoupons counts the customer's coupons of a batch claimed
	// through group (for one-per-person-per-group batches).
	CountGroupCoupons(ctx context.Context, merchant commerce.MerchantID, batch BatchID, customer commerce.CustomerID, group string) (int, error)

	// LockValidCoupons locks, in ctx's transaction and in id order, those of
	// the merchant's coupons with the given ids that customer holds valid,
	// and returns them as they are now, leaving out the others (used by a
	// concurrent checkout, transferred, void, unknown). A coupon it returns
	// stays valid for the rest of the transaction (a row lock: SELECT ...
	// FOR UPDATE that skips rows no longer valid once the lock is granted),
	// so the checkout that picked it can redeem it. Across Galera nodes the
	// lock is only local: there RedeemCoupon's guarded update and
	// certification decide, aborting the later transaction for InTx to run
	// again. Outside a transaction it only reads.
	LockValidCoupons(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, ids []CouponID) ([]*Coupon, error)
	// RedeemCoupon marks a valid coupon of customer used by order with one
	// guarded update (status valid -> used); ErrCouponUnavailable when it is
	// not valid (used by a concurrent checkout, expired, transferred).
	RedeemCoupon(ctx context.Context, merchant commerce.MerchantID, id CouponID, customer commerce.CustomerID, order commerce.OrderID, at time.Time) error
	// ReleaseCoupon puts a coupon used by order back to valid with one
	// guarded update (status used and order_id = order); it reports whether
	// it did, so a release racing another changes the coupon once.
	ReleaseCoupon(ctx context.Context, merchant commerce.MerchantID, id CouponID, order commerce.OrderID) (bool, error)

	// InsertCodes stores unclaimed codes of a batch; storage.ErrConflict if
	// one exists.
	InsertCodes(ctx context.Context, codes []Code) error
	// TakeCode binds an unclaimed code to coupon with one guarded update;
	// ErrCodeUsed when it was claimed already, ErrNotFound when unknown.
	TakeCode(ctx context.Context, code string, coupon CouponID) (*Code, error)

	// DueCoupons returns up to limit valid coupons with ValidUntil <= before,
	// soonest first; with unreminded set, only those not yet Reminded.
	DueCoupons(ctx context.Context, before time.Time, unreminded bool, limit int) ([]*Coupon, error)

	// AppendEvents writes outbox events (commerce.Store's method).
	AppendEvents(ctx context.Context, events ...commerce.Event) error
}
