package promoter

import "errors"

// Errors.
var (
	// ErrSharerCap: the merchant has as many sharers as it may bind.
	ErrSharerCap = errors.New("sharer cap reached")
	// ErrTooSoon: a sharer cannot be unbound within a day of binding.
	ErrTooSoon = errors.New("bound less than a day ago")
	// ErrBadToken: a share or invite token is malformed, forged, altered,
	// expired or for another merchant.
	ErrBadToken = errors.New("invalid token")
	// ErrRecruitment: a configuration would pay someone for recruiting
	// people or on the sales of people they recruited, which China's rules
	// on pyramid selling forbid.
	ErrRecruitment = errors.New("commission on recruitment is not allowed")
)
