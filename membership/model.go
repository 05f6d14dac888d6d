package membership

import (
	"math"
	"math/bits"
	"slices"
	"time"

	"golang.org/x/text/currency"

	"github.com/minishop/minishop/commerce"
)

type (
	lotTag   struct{}
	entryTag struct{}
)

// LotID identifies a credit of points; EntryID a ledger entry.
type (
	LotID   = commerce.ID[lotTag]
	EntryID = commerce.ID[entryTag]
)

// MaxTiers is how many levels a program has at most (VIP1 to VIP10).
const MaxTiers = 10

// Tier is one level of a program.
type Tier struct {
	Level int    // 1..10, ascending
	Name  string // "VIP1"
	// MinExperience reaches the tier; KeepExperience (over the review
	// period) keeps it when the program reviews tiers.
	MinExperience, KeepExperience int64
	// Discount is the tier's discount on every product not excluded
	// (commerce.MustPercent(5) is 5 % off, up to 90 %), applied before
	// coupons.
	Discount        commerce.Rate
	ExcludeProducts []commerce.ProductID
	FreeShipping    bool
	// EarnMultiplier scales the points the tier's members earn per order:
	// 150 % earns ×1.5 (rounded down); 0 % means ×1.
	EarnMultiplier commerce.Rate
	// WelcomeGift names a coupon batch granted on reaching the tier (the
	// host's TierChanged handler grants it: membership does not import
	// coupons).
	WelcomeGift string
}

// MemberPrice is a SKU's price for members of a tier and above (when no
// higher tier has its own).
type MemberPrice struct {
	SKU   commerce.SKUID
	Level int
	Price commerce.Money
}

// ExpiryKind says when a credit of points expires.
type ExpiryKind string

// Expiry kinds.
const (
	NeverExpire   ExpiryKind = ""
	AfterDays     ExpiryKind = "days"       // Days after crediting
	EndOfNextYear ExpiryKind = "next_year"  // the end of the year after crediting (UTC)
	FixedDate     ExpiryKind = "fixed_date" // at Date
)

// Expiry is when credited points expire.
type Expiry struct {
	Kind ExpiryKind
	Days int
	Date time.Time
}

// Clawback is what happens when a refund takes back earned points the
// member already spent.
type Clawback string

// Clawback policies.
const (
	// Debt: the balance stays at zero and the rest is a debt repaid by
	// future earnings.
	Debt Clawback = "debt"
	// Withhold: the refund keeps back the missing points' value in money at
	// the burn rate.
	Withhold Clawback = "withhold"
)

// PointsPer is an exchange rate between points and money: Points points for
// every Per of money. As Program.Earn, PointsPer{Points: 1, Per: ¥1.00}
// earns a point for every yuan paid; as Program.Redeem, PointsPer{Points:
// 100, Per: ¥1.00} lets 100 points pay one yuan. The zero PointsPer is off.
type PointsPer struct {
	Points int64
	Per    commerce.Money // positive, in whole minor units
}

// IsZero reports whether r is off.
func (r PointsPer) IsZero() bool { return r.Points == 0 && !r.Per.IsSet() }

// pointsFor is the points paid (in minor units of cur) earns under r,
// rounded down: none when r is off or in another currency.
func (r PointsPer) pointsFor(paid int64, cur currency.Unit) int64 {
	per, err := r.Per.Minor()
	if r.Points <= 0 || err != nil || per <= 0 || paid <= 0 || r.Per.Currency() != cur {
		return 0
	}
	hi, lo := bits.Mul64(uint64(paid), uint64(r.Points))
	if hi >= uint64(per) {
		return math.MaxInt64 // beyond any balance
	}
	q, _ := bits.Div64(hi, lo, uint64(per))
	return int64(min(q, math.MaxInt64))
}

// Program is a merchant's membership program.
type Program struct {
	MerchantID commerce.MerchantID
	// AutoJoin makes a customer a member on their first paid order.
	AutoJoin bool
	Tiers    []Tier
	// Experience is the experience earned by what an order paid (freight
	// excluded, rounded down); ExpPerOrder is earned per order.
	Experience  PointsPer
	ExpPerOrder int64
	// ReviewMonths, when positive, is the downgrade policy: every
	// ReviewMonths after joining, RunDue moves a member whose experience
	// earned since the last review is below their tier's KeepExperience down
	// to the highest tier it does keep. Zero: never downgrade. Members who
	// joined before reviews were switched on are not reviewed.
	ReviewMonths int
	MemberPrices []MemberPrice

	// Earn is the points earned by what an order paid (freight excluded,
	// rounded down); PerOrder is earned per order; CapPerOrder bounds an
	// order's points (0: none). Points are pending until the order settles.
	Earn                  PointsPer
	PerOrder, CapPerOrder int64
	Expiry                Expiry

	// Redeem is what points pay when spent on an order (Mini Store's
	// ratio); only on orders of at least MinOrder; at most MaxPoints per
	// order and at most MaxShare of the order (0 %: no share limit). The
	// zero Redeem takes no points as payment.
	Redeem    PointsPer
	MinOrder  commerce.Money
	MaxPoints int64
	MaxShare  commerce.Rate

	// ExpiredLotDays: points a refund returns to a lot that expired
	// meanwhile get this many more days (0: they stay expired).
	ExpiredLotDays int
	Clawback       Clawback
	// NextNumber is the next member number (the store increments it).
	NextNumber int64
	Version    int64
	Updated    time.Time
}

// Clone returns a deep copy.
func (p *Program) Clone() *Program {
	cp := *p
	cp.Tiers = slices.Clone(p.Tiers)
	for i := range cp.Tiers {
		cp.Tiers[i].ExcludeProducts = slices.Clone(cp.Tiers[i].ExcludeProducts)
	}
	cp.MemberPrices = slices.Clone(p.MemberPrices)
	return &cp
}

// Tier returns the tier of a level (the zero Tier for level 0).
func (p *Program) Tier(level int) Tier {
	for _, t := range p.Tiers {
		if t.Level == level {
			return t
		}
	}
	return Tier{}
}

// LevelFor returns the highest level experience reaches.
func (p *Program) LevelFor(exp int64) int {
	level := 0
	for _, t := range p.Tiers {
		if exp >= t.MinExperience {
			level = t.Level
		}
	}
	return level
}

// Member is a customer's membership of one merchant's program: the card.
type Member struct {
	MerchantID commerce.MerchantID
	Customer   commerce.CustomerID
	Number     int64
	Level      int
	Experience int64
	// Available can be spent; Pending waits for its orders to settle; Debt
	// is clawed-back points not yet repaid (Clawback Debt).
	Available, Pending, Debt int64
	// NextReview is when the program's tier review looks at the member
	// next (zero: the program does not review); ReviewExperience is the
	// experience at the last review, so what was earned since is
	// Experience - ReviewExperience.
	NextReview        time.Time
	ReviewExperience  int64
	JoinedAt, Updated time.Time
	Version           int64
}

// Lot is one credit of points with its own expiry. Spending burns lots
// earliest expiry first; a refund returns burnt points to their lots.
type Lot struct {
	ID         LotID
	MerchantID commerce.MerchantID
	Customer   commerce.CustomerID
	OrderID    commerce.OrderID // the order that earned it, if any
	Points     int64            // credited
	Left       int64            // not yet spent, expired or clawed back
	Pending    bool             // waits for OrderID to settle
	ExpiresAt  time.Time        // zero: never
	Expired    bool
	Reminded   bool // "points.expiring" was emitted for it
	Created    time.Time
}

// EntryKind is what a ledger entry records.
type EntryKind string

// Ledger entry kinds.
const (
	Earn         EntryKind = "earn"          // pending points credited for an order
	Release      EntryKind = "release"       // pending points became available
	Spend        EntryKind = "spend"         // points paid part of an order
	Expire       EntryKind = "expire"        // a lot expired
	Adjust       EntryKind = "adjust"        // the merchant's correction
	RefundReturn EntryKind = "refund_return" // spent points back after a refund
	ClawbackKind EntryKind = "clawback"      // earned points taken back after a refund
	Cancel       EntryKind = "cancel"        // pending points cancelled by a refund
)

// Burn is what an entry took from (or gave back to) one lot.
type Burn struct {
	Lot    LotID
	Points int64
}

// Entry is one line of a member's points ledger.
type Entry struct {
	ID         EntryID
	MerchantID commerce.MerchantID
	Customer   commerce.CustomerID
	Kind       EntryKind
	// Points changes Available (positive or negative); PendingPoints
	// changes Pending.
	Points, PendingPoints int64
	// Balance is Available after the entry: the statement's running balance.
	Balance   int64
	RequestID string
	OrderID   commerce.OrderID
	Burns     []Burn
	Note      string
	Time      time.Time
}

// value is what n points pay under r as Redeem, in minor units of its
// currency; whole is false when that is not a whole number of them.
func (r PointsPer) value(n int64) (minor int64, whole bool) {
	per, err := r.Per.Minor()
	if r.Points <= 0 || err != nil || per <= 0 || n < 0 {
		return 0, false
	}
	hi, lo := bits.Mul64(uint64(n), uint64(per))
	if hi >= uint64(r.Points) {
		return 0, false // beyond any order
	}
	q, rem := bits.Div64(hi, lo, uint64(r.Points))
	if rem != 0 || q > math.MaxInt64 {
		return 0, false
	}
	return int64(q), true
}
