package promoter

import "errors"

// Errors. None is retryable (see commerce.Retryable): repeating the call
// unchanged meets the same refusal.
var (
	// ErrSharerCap: the merchant has as many sharers as it may bind
	// (KindFailedPrecondition). Not retryable.
	ErrSharerCap = errors.New("sharer cap reached")
	// ErrTooSoon: a sharer cannot be unbound within a day of binding
	// (KindFailedPrecondition). Not retryable: a call after the day has
	// passed is a new decision, not a retry.
	ErrTooSoon = errors.New("bound less than a day ago")
	// ErrBadToken: a share or invite token is malformed, forged, altered,
	// expired or for another merchant (KindInvalid). Not retryable.
	ErrBadToken = errors.New("invalid token")
	// ErrRecruitment: a configuration would pay someone for recruiting
	// people or on the sales of people they recruited, which China's rules
	// on pyramid selling forbid (KindInvalid). Not retryable.
	ErrRecruitment = errors.New("commission on recruitment is not allowed")
)
