package gifting

import (
	"time"

	"github.com/minishop/minishop/commerce"
)

type giftTag struct{}

// GiftID identifies a gift.
type GiftID = commerce.ID[giftTag]

// Status is where a gift stands.
type Status string

// Gift states: unpaid until the giver pays; sent when paid (the card goes
// out with its token); accepted when the recipient takes it with an
// address; expired when nobody did in time (the order is then refunded in
// full to the giver).
const (
	Unpaid   Status = "unpaid"
	Sent     Status = "sent"
	Accepted Status = "accepted"
	Expired  Status = "expired"
)

// Gift is a one-to-one gift: one unit of a SKU, bought by the giver for a
// friend who accepts it with their own address.
type Gift struct {
	ID         GiftID
	MerchantID commerce.MerchantID
	OrderID    commerce.OrderID
	Giver      commerce.CustomerID
	// GiverName is what the recipient sees (the giver's display name).
	GiverName string
	Message   string // the blessing, at most 100 characters
	Status    Status
	// Lifetime is how long the gift waits for its recipient once sent (24
	// hours by default); ExpiresAt is set when it is sent.
	Lifetime  time.Duration
	ExpiresAt time.Time
	Recipient commerce.CustomerID
	// Refunded is set once the kernel's refund of an expired gift was
	// asked for (RunDue asks again until it is).
	Refunded bool
	Opened   bool // the recipient opened it at least once

	Created, SentAt, AcceptedAt, ExpiredAt time.Time
	Version                                int64
}

// Clone returns a copy.
func (g *Gift) Clone() *Gift { cp := *g; return &cp }
