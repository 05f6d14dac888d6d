package coupons

import "errors"

// Sentinels a store and the service return (wrapped in *commerce.Error by
// the service, so commerce.KindOf works too).
var (
	// ErrSoldOut: the batch's total stock is claimed.
	ErrSoldOut = errors.New("coupon batch sold out")
	// ErrLimitReached: the customer holds the most coupons of the batch a
	// person may claim.
	ErrLimitReached = errors.New("per-person claim limit reached")
	// ErrCouponUnavailable: the coupon cannot be used now (used by another
	// order, expired, transferred, void, or someone else's).
	ErrCouponUnavailable = errors.New("coupon unavailable")
	// ErrCodeUsed: the code has claimed its coupon already.
	ErrCodeUsed = errors.New("code already used")
	// ErrBadCode: the code is malformed or its check character is wrong
	// (caught before any lookup).
	ErrBadCode = errors.New("malformed coupon code")
	// ErrBadToken: a share or group token that does not verify, or is for
	// another merchant, batch or group.
	ErrBadToken = errors.New("invalid token")
)
