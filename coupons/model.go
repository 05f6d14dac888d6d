package coupons

import (
	"time"

	"github.com/minishop/minishop/commerce"
)

type (
	batchTag  struct{}
	couponTag struct{}
)

// BatchID identifies a batch; CouponID a claimed coupon.
type (
	BatchID  = commerce.ID[batchTag]
	CouponID = commerce.ID[couponTag]
)

// Kind is what a batch's coupons take off.
type Kind string

// Batch kinds (§4 of the rules: Mini Store, WeChat Pay and Cards & Offers
// shapes).
const (
	// AmountOff takes Amount off with no threshold (直减).
	AmountOff Kind = "amount_off"
	// ThresholdOff takes Amount off once the threshold is met (满减):
	// MinAmount of eligible goods, or MinCount eligible items, not both.
	ThresholdOff Kind = "threshold_off"
	// PercentOff takes PercentOff of the eligible goods, at most Cap when
	// set, optionally above a threshold (折扣券).
	PercentOff Kind = "percent_off"
	// ItemsDiscount takes PercentOff once MinCount eligible items are in the
	// cart (N件折, Mini Store's 商品条件折券).
	ItemsDiscount Kind = "items_discount"
	// FreeShipping takes the shipping fee off (optionally above a threshold).
	FreeShipping Kind = "free_shipping"
	// BuyNGetM makes the cheapest GetM of every BuyN+GetM eligible units
	// free, repeated for multiples.
	BuyNGetM Kind = "buy_n_get_m"
	// ExchangePrice sells one eligible unit at Amount once the threshold is
	// met (换购).
	ExchangePrice Kind = "exchange_price"
)

// Level says where a coupon acts: on particular items (at most one
// item-level coupon per item) or on the order as a whole.
type Level string

// Levels.
const (
	ItemLevel  Level = "item"
	OrderLevel Level = "order"
)

// Scope limits the goods a coupon applies to. Empty Products and SKUs mean
// the whole shop; exclusions apply either way.
type Scope struct {
	Products        []commerce.ProductID
	SKUs            []commerce.SKUID
	ExcludeProducts []commerce.ProductID
	ExcludeSKUs     []commerce.SKUID
}

// WholeShop reports whether the scope lists no products or SKUs.
func (s Scope) WholeShop() bool { return len(s.Products) == 0 && len(s.SKUs) == 0 }

// Covers reports whether the scope takes a line of product p, SKU sku.
func (s Scope) Covers(p commerce.ProductID, sku commerce.SKUID) bool {
	for _, x := range s.ExcludeProducts {
		if x == p {
			return false
		}
	}
	for _, x := range s.ExcludeSKUs {
		if x == sku {
			return false
		}
	}
	if s.WholeShop() {
		return true
	}
	for _, x := range s.Products {
		if x == p {
			return true
		}
	}
	for _, x := range s.SKUs {
		if x == sku {
			return true
		}
	}
	return false
}

// Validity is when a claimed coupon can be used: a fixed window, or Days
// days from claiming (after an optional DelayDays activation delay; a coupon
// claimed before the window opens counts from its start).
type Validity struct {
	// Start and End bound use for a fixed window, and bound the relative
	// form too when set.
	Start, End time.Time
	// Days, when positive, makes validity relative: from activation (claim
	// time + DelayDays, or Start if later) for Days days.
	Days      int
	DelayDays int
}

// BatchStatus is a batch's state. Draft batches can be edited and not
// claimed; active ones can be claimed; paused ones cannot be claimed but
// their coupons stay usable; voided batches' coupons can no longer be used.
type BatchStatus string

// Batch states.
const (
	Draft  BatchStatus = "draft"
	Active BatchStatus = "active"
	Paused BatchStatus = "paused"
	Voided BatchStatus = "voided"
)

// Channel restricts how a batch is claimed.
type Channel string

// Claim channels.
const (
	// Open batches are claimed directly (and through shares and codes).
	Open Channel = ""
	// CodesOnly batches are claimed only with one of their unique codes.
	CodesOnly Channel = "codes"
	// GrantOnly batches are only granted by the merchant (compensation,
	// membership gifts).
	GrantOnly Channel = "grant"
	// PromoterOnly batches are claimed only through Promoter's share link;
	// the coupon remembers the promoter for attribution.
	PromoterOnly Channel = "promoter"
	// GroupOnly batches are claimed only with a token bound to a chat group,
	// once per person per group.
	GroupOnly Channel = "group"
)

// Batch is what a merchant creates: the rule, the stock and the limits of a
// set of coupons.
type Batch struct {
	ID         BatchID
	MerchantID commerce.MerchantID
	Name       string
	Kind       Kind
	// Amount is taken off (AmountOff, ThresholdOff) or is the exchange price
	// (ExchangePrice).
	Amount commerce.Money
	// PercentOff is the share taken off (PercentOff, ItemsDiscount):
	// commerce.MustPercent(15) is 15 % off (pay 85 %, "8.5折").
	PercentOff commerce.Rate
	// Cap bounds what a PercentOff coupon takes off, when set.
	Cap commerce.Money
	// Thresholds: MinAmount of eligible goods (after item-level coupons) or
	// MinCount eligible items; at most one of them.
	MinAmount commerce.Money
	MinCount  int64
	// BuyN and GetM shape BuyNGetM.
	BuyN, GetM int64
	Scope      Scope

	ClaimStart, ClaimEnd time.Time
	Validity             Validity
	// PerPerson bounds one customer's claims (0: no bound); Total bounds
	// all claims (the stock).
	PerPerson, Total int64
	// Claimed counts claims so far; the store updates it with a guarded
	// increment, never above Total.
	Claimed int64
	Status  BatchStatus
	Channel Channel
	// Promoter is the only promoter whose share link claims a PromoterOnly
	// batch.
	Promoter string
	// Transferable coupons can be handed to a friend; Shareable batches can
	// be shared so friends claim their own copies.
	Transferable, Shareable bool

	// Near restricts claims to customers near a place (a physical
	// store's coupon); nil for none.
	Near *Near `json:",omitempty"`

	// Stacking: an Exclusive coupon is used alone; others stack with
	// coupons of the same StackGroup. Priority orders coupons that are
	// applied together (higher first).
	Exclusive  bool
	StackGroup string
	Priority   int

	Created, Updated time.Time
	Version          int64
}

// Level returns where the batch's coupons act: item-level when scoped to
// listed products or SKUs, or by nature (buy N get M, exchange price);
// order-level otherwise.
func (b *Batch) Level() Level {
	if !b.Scope.WholeShop() || b.Kind == BuyNGetM || b.Kind == ExchangePrice {
		return ItemLevel
	}
	return OrderLevel
}

// Clone returns a deep copy.
func (b *Batch) Clone() *Batch {
	cp := *b
	cp.Scope = Scope{
		Products:        append([]commerce.ProductID(nil), b.Scope.Products...),
		SKUs:            append([]commerce.SKUID(nil), b.Scope.SKUs...),
		ExcludeProducts: append([]commerce.ProductID(nil), b.Scope.ExcludeProducts...),
		ExcludeSKUs:     append([]commerce.SKUID(nil), b.Scope.ExcludeSKUs...),
	}
	if b.Near != nil {
		n := *b.Near
		cp.Near = &n
	}
	return &cp
}

// Near restricts a batch's claims to customers within RadiusMeters of
// Point (great-circle, commerce.GeoPoint.DistanceTo): the coupon a shop
// with a door shows to customers nearby. The customer's point is the
// host's to give (ClaimParams.Point, from wx.getLocation). Place names the
// place in refusals ("陆家嘴店").
type Near struct {
	Point        commerce.GeoPoint
	RadiusMeters float64
	Place        string `json:",omitempty"`
}

// MaxNearRadius bounds Near.RadiusMeters: 1,000 km.
const MaxNearRadius = 1_000_000

// Status of a claimed coupon, as the wallet shows it (Mini Store: 100
// valid, 101 expired, 102 used).
type Status string

// Coupon states. Expired is set by RunDue; a coupon past ValidUntil is
// unusable before that too.
const (
	Valid       Status = "valid"
	Used        Status = "used"
	Expired     Status = "expired"
	Transferred Status = "transferred" // handed to a friend: the friend holds a new coupon
	Void        Status = "void"        // its batch was voided
)

// Coupon is one claimed coupon in a customer's wallet.
type Coupon struct {
	ID         CouponID
	BatchID    BatchID
	MerchantID commerce.MerchantID
	Customer   commerce.CustomerID
	Status     Status
	// ValidFrom and ValidUntil bound use: usable when ValidFrom <= now <
	// ValidUntil.
	ValidFrom, ValidUntil time.Time
	ClaimedAt             time.Time
	// RequestID makes the claim idempotent per customer and batch.
	RequestID string
	// How it was claimed: a code, a friend's share (SharedBy), a transfer
	// (TransferredFrom, the giver's coupon), a promoter's link, a group.
	Code            string
	SharedBy        commerce.CustomerID
	TransferredFrom CouponID
	Promoter        string
	Group           string
	Granted         bool
	// OrderID is the order that uses it; UsedAt when.
	OrderID commerce.OrderID
	UsedAt  time.Time
	// Reminded is set once the expiring-soon event was emitted.
	Reminded bool
	Version  int64
}

// Clone returns a copy.
func (c *Coupon) Clone() *Coupon { cp := *c; return &cp }

// UsableAt reports whether the coupon is valid and inside its validity at t.
func (c *Coupon) UsableAt(t time.Time) bool {
	return c.Status == Valid && !t.Before(c.ValidFrom) && t.Before(c.ValidUntil)
}

// Code is one of a batch's unique claim codes.
type Code struct {
	Code       string
	BatchID    BatchID
	MerchantID commerce.MerchantID
	// CouponID is the coupon the code claimed; zero while unclaimed.
	CouponID CouponID
}
