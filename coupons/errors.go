package coupons

import "errors"

// Sentinels a store and the service return (wrapped in *commerce.Error by
// the service, so commerce.KindOf works too). None is retryable (see
// commerce.Retryable): each is a refusal that repeating the call unchanged
// meets again.
var (
	// ErrSoldOut: the batch's total stock is claimed
	// (KindFailedPrecondition). Not retryable.
	ErrSoldOut = errors.New("coupon batch sold out")
	// ErrLimitReached: the customer holds the most coupons of the batch a
	// person may claim (KindFailedPrecondition). Not retryable.
	ErrLimitReached = errors.New("per-person claim limit reached")
	// ErrCouponUnavailable: the coupon cannot be used now (used by another
	// order, expired, transferred, void, or someone else's)
	// (KindFailedPrecondition). Not retryable: checkout reports it only for
	// a coupon the customer named; one it picked itself is replaced.
	ErrCouponUnavailable = errors.New("coupon unavailable")
	// ErrCodeUsed: the code has claimed its coupon already
	// (KindFailedPrecondition). Not retryable.
	ErrCodeUsed = errors.New("code already used")
	// ErrBadCode: the code is malformed or its check character is wrong
	// (caught before any lookup) (KindInvalid). Not retryable.
	ErrBadCode = errors.New("malformed coupon code")
	// ErrBadToken: a share or group token that does not verify, or is for
	// another merchant, batch or group (KindInvalid). Not retryable.
	ErrBadToken = errors.New("invalid token")
)
