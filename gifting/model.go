package gifting

import (
	"slices"
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

// Kind is what sort of gift it is.
type Kind string

// Gift kinds: one friend (the default, the empty Kind reads as Single), a
// group's first comers, or a group's lottery winners.
const (
	Single  Kind = "single"
	Group   Kind = "group"
	Lottery Kind = "lottery"
)

// Gift is a gift: to one friend (one unit of a SKU, accepted with the
// friend's address), or to a chat group (Slots units, one per person, first
// come first served or by lottery, each claimed with the claimer's address).
type Gift struct {
	ID         GiftID
	MerchantID commerce.MerchantID
	OrderID    commerce.OrderID
	Kind       Kind
	// Group is the host's chat group id (group gifts and lotteries).
	Group string
	// Slots is how many units a group gift or lottery holds (zero for a
	// one-friend gift). Slot i is line i of the order, one unit each.
	Slots int
	// Free marks a gift the merchant pays for (the order's total is zero).
	Free  bool
	Giver commerce.CustomerID
	// GiverName is what the recipient sees (the giver's display name).
	GiverName string
	Message   string // the blessing, at most 100 characters
	Status    Status
	// Lifetime is how long the gift waits for its recipient once sent (24
	// hours by default); ExpiresAt is set when it is sent.
	Lifetime  time.Duration
	ExpiresAt time.Time
	// Recipient is who accepted a one-friend gift.
	Recipient commerce.CustomerID
	// Draw holds a lottery's commitment, entrants and outcome.
	Draw *Draw
	// Refunded is set once the kernel's refund of an expired gift was
	// asked for (RunDue asks again until it is).
	Refunded bool
	Opened   bool // the recipient opened it at least once

	Created, SentAt, AcceptedAt, ExpiredAt time.Time
	Version                                int64
}

// Clone returns a deep copy.
func (g *Gift) Clone() *Gift {
	cp := *g
	if g.Draw != nil {
		d := *g.Draw
		d.Allowed = slices.Clone(d.Allowed)
		d.Entrants = slices.Clone(d.Entrants)
		d.Winners = slices.Clone(d.Winners)
		cp.Draw = &d
	}
	return &cp
}

// Slot is one unit of a group gift or lottery: line Line of the gift's
// order, free until someone claims it with their address.
type Slot struct {
	Line      int
	Claimer   commerce.CustomerID // empty while free
	Address   *commerce.Address
	ClaimedAt time.Time
}

// Eligibility says who may enter a lottery.
type Eligibility string

// Eligibility rules: anyone who holds the token, the customers the giver
// listed (Draw.Allowed), or a rule the host registered by name
// (Config.Rules, named in Draw.Rule).
const (
	Everyone Eligibility = "everyone"
	Listed   Eligibility = "listed"
	ByRule   Eligibility = "rule"
)

// Draw is a lottery gift's draw. SeedHash (hex SHA-256 of the seed) is
// published when the lottery is created; Seed is revealed at the draw, so
// anyone can re-run Winners(seed, entrants, prizes) and check both the
// commitment and the outcome.
type Draw struct {
	At          time.Time // when RunDue draws on its own
	Eligibility Eligibility
	Allowed     []commerce.CustomerID // Listed
	Rule        string                // ByRule
	SeedHash    string
	// Seed is kept secret until the draw (View and events show it only
	// once Drawn is set).
	Seed     string
	Entrants []commerce.CustomerID // in the order they entered
	Winners  []commerce.CustomerID
	Drawn    time.Time
}

// Shared reports whether the gift is shared out in slots (a group gift or
// a lottery) rather than given to one friend.
func (g *Gift) Shared() bool { return g.Kind == Group || g.Kind == Lottery }
