package promoter

import (
	"maps"
	"slices"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/payment"
)

type (
	promoterTag   struct{}
	agencyTag     struct{}
	commissionTag struct{}
)

// PromoterID identifies a promoter (an individual who shares products).
type PromoterID = commerce.ID[promoterTag]

// AgencyID identifies an agency (a business that binds promoters).
type AgencyID = commerce.ID[agencyTag]

// CommissionID identifies one attributed order line's commission.
type CommissionID = commerce.ID[commissionTag]

// Promoter is an individual who shares merchants' products in chats and
// groups and earns commission on their own attributed sales, never on
// anyone else's.
type Promoter struct {
	ID   PromoterID
	Name string
	// AgencyID is the agency the promoter is bound to (zero: none), since
	// AgencyBound.
	AgencyID    AgencyID
	AgencyBound time.Time
	// Payees are where the promoter's commission can be sent (profit
	// shares, transfers): an openid per app the promoter uses, or a
	// business account (SetPromoterPayees).
	Payees  []payment.Payee
	Created time.Time
	Version int64
}

// Clone returns a deep copy.
func (p *Promoter) Clone() *Promoter {
	cp := *p
	cp.Payees = slices.Clone(p.Payees)
	return &cp
}

// Agency is a business that binds promoters and takes commission on their
// sales, passing a share to them.
type Agency struct {
	ID   AgencyID
	Name string
	// PromoterShare is the part of the agency's commission passed to the
	// promoter who made the sale: 10 % to 100 %.
	PromoterShare commerce.Rate
	// PaysItself: the agency pays its promoters itself, so minishop credits
	// it the whole commission (WeChat's commission_type 1).
	PaysItself bool
	// Overrides are per-product promoter shares.
	Overrides map[commerce.ProductID]commerce.Rate
	// Payees are where the agency's commission can be sent: usually its
	// business account (SetAgencyPayees).
	Payees  []payment.Payee
	Created time.Time
	Version int64
}

// Clone returns a deep copy.
func (a *Agency) Clone() *Agency {
	cp := *a
	cp.Overrides = maps.Clone(a.Overrides)
	cp.Payees = slices.Clone(a.Payees)
	return &cp
}

// Sharer is a promoter bound to a merchant as one of its own sharers.
type Sharer struct {
	MerchantID commerce.MerchantID
	PromoterID PromoterID
	BoundAt    time.Time
}

// PlanKind is who may promote a product.
type PlanKind string

// Plan kinds (WeChat's promotion types 1, 2, 3).
const (
	Public    PlanKind = "public"    // any promoter
	Targeted  PlanKind = "targeted"  // the listed promoters and agencies
	Exclusive PlanKind = "exclusive" // the named promoters, in a time window or open ended
)

// Plan puts one product of a merchant into promotion at a commission rate.
type Plan struct {
	MerchantID commerce.MerchantID
	ProductID  commerce.ProductID
	Kind       PlanKind
	// Rate is the commission on what the line paid: 0 to 90 %.
	Rate      commerce.Rate
	Promoters []PromoterID // Targeted, Exclusive
	Agencies  []AgencyID   // Targeted
	// Start and End bound an exclusive plan; a zero End is open ended.
	Start, End time.Time
	// Withdrawn takes the product out of promotion (lines sold after it
	// earn nothing).
	Withdrawn bool
	Updated   time.Time
	Version   int64
}

// Clone returns a deep copy.
func (p *Plan) Clone() *Plan {
	cp := *p
	cp.Promoters = slices.Clone(p.Promoters)
	cp.Agencies = slices.Clone(p.Agencies)
	return &cp
}

// Status is a commission's state, with WeChat's codes.
type Status int

// Commission statuses: pending until the order settles, then settled (and
// payable); cancelled when the refunds took everything before settlement.
const (
	Pending   Status = 20
	Settled   Status = 100
	Cancelled Status = 200
)

func (s Status) String() string {
	switch s {
	case Pending:
		return "pending"
	case Settled:
		return "settled"
	case Cancelled:
		return "cancelled"
	}
	return "unknown"
}

// Scene is where a share link was opened (WeChat's share_scene).
type Scene string

// Scenes.
const (
	SceneLive    Scene = "live"     // a live room
	SceneGroup   Scene = "group"    // a group chat
	SceneVideo   Scene = "video"    // a short video
	SceneCard    Scene = "card"     // a product card in a chat
	SceneQR      Scene = "qr"       // a QR code
	SceneOwnLive Scene = "own_live" // the merchant's own live room: no agency commission
)

// Commission is what one attributed order line earns its promoter and
// agency: Rate of what the line paid after every discount (Base, the
// kernel's stored per-line payable), rounded half-up to the fen, split
// exactly between the agency and the promoter. Refunds take back the
// refunded share pro rata: Reversed before settlement, Clawed after.
type Commission struct {
	ID         CommissionID
	MerchantID commerce.MerchantID
	OrderID    commerce.OrderID
	Line       int
	ProductID  commerce.ProductID
	Customer   commerce.CustomerID
	PromoterID PromoterID
	AgencyID   AgencyID // zero: no agency
	Scene      Scene
	Rate       commerce.Rate
	Base       commerce.Money
	// Amount = AgencyPart + PromoterPart.
	Amount, AgencyPart, PromoterPart commerce.Money
	// AgencyPays: the agency pays the promoter itself; PromoterPart is
	// then zero and the agency's part is the whole commission.
	AgencyPays bool
	// Reversed is what refunds took back before settlement (of the agency
	// and promoter parts); Clawed what refunds took back after it, owed
	// back from the next payout.
	Reversed, ReversedAgency, Clawed, ClawedAgency commerce.Money
	// PromoterPayout and AgencyPayout are what transfers paid of each part
	// and the payout that claims it now (see Service.Payout).
	PromoterPayout, AgencyPayout    PayoutShare
	Status                          Status
	Created, SettledAt, CancelledAt time.Time
	Version                         int64
}

// Clone returns a copy.
func (c *Commission) Clone() *Commission { cp := *c; return &cp }

// Net is what the commission pays after every refund.
func (c *Commission) Net() commerce.Money {
	net, _ := commerce.Sum(c.Amount.Currency(), c.Amount, c.Reversed.Neg(), c.Clawed.Neg())
	return net
}
