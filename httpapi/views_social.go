package httpapi

import (
	"time"

	"github.com/minishop/minishop/campaigns"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/coupons"
	"github.com/minishop/minishop/gifting"
	"github.com/minishop/minishop/membership"
	"github.com/minishop/minishop/promoter"
)

// GiftLine is an item of a gift (no price: a gift's recipient is not
// shown what it cost).
type GiftLine struct {
	SKU        string      `json:"sku"`
	Title      string      `json:"title"`
	Attributes []Attribute `json:"attributes"`
	Quantity   int64       `json:"quantity"`
}

// Gift is a gift as its giver or its recipient sees it.
type Gift struct {
	ID          string     `json:"id"`
	Kind        string     `json:"kind"`
	Status      string     `json:"status"`
	Order       string     `json:"order"`
	OrderStatus string     `json:"order_status"`
	Lines       []GiftLine `json:"lines"`
	Message     string     `json:"message,omitempty"`
	GiverName   string     `json:"giver_name,omitempty"`
	Slots       int        `json:"slots,omitempty"`
	// Giver is true when the asker sent it; Token is then its claim
	// token (once paid), for the gift card sent to the chat.
	Giver      bool       `json:"giver"`
	Token      string     `json:"token,omitempty"`
	Accepted   bool       `json:"accepted"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	AcceptedAt *time.Time `json:"accepted_at,omitempty"`
	Shipment   *Shipment  `json:"shipment,omitempty"`
}

// GiftOption is another SKU a recipient may switch to.
type GiftOption struct {
	SKU        string      `json:"sku"`
	Attributes []Attribute `json:"attributes"`
}

// GiftLink is what a gift's claim link shows whoever opens it.
type GiftLink struct {
	ID         string       `json:"id"`
	Kind       string       `json:"kind"`
	Status     string       `json:"status"`
	Title      string       `json:"title"`
	SKU        string       `json:"sku"`
	Attributes []Attribute  `json:"attributes"`
	Pictures   []string     `json:"pictures"`
	Message    string       `json:"message,omitempty"`
	GiverName  string       `json:"giver_name,omitempty"`
	ExpiresAt  *time.Time   `json:"expires_at,omitempty"`
	Options    []GiftOption `json:"options"`
	Slots      int          `json:"slots,omitempty"`
	Free       int          `json:"free,omitempty"`
	// Yours is set when the customer asking sent the gift: the giver's
	// page shows the gift, not a form to accept it.
	Yours bool `json:"yours,omitempty"`
}

func giftLinkView(v *gifting.View) GiftLink {
	g := GiftLink{ID: v.Gift.String(), Kind: string(v.Kind), Status: string(v.Status), Title: v.Title, SKU: v.SKU.String(),
		Attributes: attributes(v.Attributes), Pictures: append([]string{}, v.Pictures...), Message: v.Message, GiverName: v.GiverName,
		ExpiresAt: when(v.ExpiresAt), Options: make([]GiftOption, len(v.Options)), Slots: v.Slots, Free: v.Free}
	for i, o := range v.Options {
		g.Options[i] = GiftOption{SKU: o.SKU.String(), Attributes: attributes(o.Attributes)}
	}
	return g
}

// GroupMember is a member as a group's page shows them: a display name.
type GroupMember struct {
	Name   string `json:"name"`
	Leader bool   `json:"leader"`
}

// Group is a group-buying group's page.
type Group struct {
	ID         string         `json:"id"`
	Activity   string         `json:"activity"`
	Title      string         `json:"title"`
	SKU        string         `json:"sku"`
	Price      commerce.Money `json:"price"`
	State      string         `json:"state"`
	Size       int            `json:"size"`
	PlacesLeft int            `json:"places_left"`
	Members    []GroupMember  `json:"members"`
	ExpiresAt  *time.Time     `json:"expires_at,omitempty"`
	// Link is the group's share token: a friend joins with it as
	// group_link on checkout.
	Link string `json:"link"`
}

func groupView(p *campaigns.GroupView, link string) Group {
	v := Group{ID: p.ID.String(), Activity: p.ActivityID.String(), Title: p.Title, SKU: p.SKU.String(), Price: p.Price, State: string(p.State),
		Size: p.Size, PlacesLeft: p.PlacesLeft, Members: make([]GroupMember, len(p.Members)), ExpiresAt: when(p.ExpiresAt), Link: link}
	for i, m := range p.Members {
		v.Members[i] = GroupMember{Name: m.Name, Leader: m.Leader}
	}
	return v
}

// GroupItem is a SKU of a group-buying activity at its prices.
type GroupItem struct {
	SKU         string         `json:"sku"`
	GroupPrice  commerce.Money `json:"group_price"`
	LeaderPrice commerce.Money `json:"leader_price"`
}

// GroupActivity is a group-buying activity: open a group of it with
// group_activity on checkout.
type GroupActivity struct {
	ID    string      `json:"id"`
	Title string      `json:"title"`
	Size  int         `json:"size"`
	Items []GroupItem `json:"items"`
	// TimeLimit is how long a group has to fill once its leader paid,
	// in seconds.
	TimeLimit int64     `json:"time_limit"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
}

func activityView(a *campaigns.GroupActivity) GroupActivity {
	v := GroupActivity{ID: a.ID.String(), Title: a.Title, Size: a.Size, Items: make([]GroupItem, len(a.Items)),
		TimeLimit: int64(a.TimeLimit / time.Second), Start: a.Window.Start.UTC(), End: a.Window.End.UTC()}
	for i, it := range a.Items {
		lp := it.LeaderPrice
		if !lp.IsSet() {
			lp = it.GroupPrice
		}
		v.Items[i] = GroupItem{SKU: it.SKU.String(), GroupPrice: it.GroupPrice, LeaderPrice: lp}
	}
	return v
}

// CouponBatch is a coupon batch as a customer may see it before claiming.
type CouponBatch struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Kind       string          `json:"kind"`
	Status     string          `json:"status"`
	Amount     *commerce.Money `json:"amount,omitempty"`
	PercentOff *commerce.Rate  `json:"percent_off,omitempty"`
	Cap        *commerce.Money `json:"cap,omitempty"`
	MinAmount  *commerce.Money `json:"min_amount,omitempty"`
	MinCount   int64           `json:"min_count,omitempty"`
	ClaimStart *time.Time      `json:"claim_start,omitempty"`
	ClaimEnd   *time.Time      `json:"claim_end,omitempty"`
	// Left is how many may still be claimed (absent: no bound).
	Left         *int64 `json:"left,omitempty"`
	PerPerson    int64  `json:"per_person,omitempty"`
	Transferable bool   `json:"transferable"`
	Shareable    bool   `json:"shareable"`
	// Near is set when only customers near a place may claim: the claim
	// then sends the customer's point (from wx.getLocation).
	Near *Near `json:"near,omitempty"`
}

// Near is a place and a radius around it.
type Near struct {
	Point        Point   `json:"point"`
	RadiusMeters float64 `json:"radius_meters"`
	Place        string  `json:"place,omitempty"`
}

// Point is a place on Earth in degrees (WGS-84, as wx.getLocation gives
// it with type "wgs84").
type Point struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
}

func moneyOpt(m commerce.Money) *commerce.Money {
	if !m.IsSet() || m.IsZero() {
		return nil
	}
	return &m
}

func batchView(b *coupons.Batch) CouponBatch {
	v := CouponBatch{ID: b.ID.String(), Name: b.Name, Kind: string(b.Kind), Status: string(b.Status), Amount: moneyOpt(b.Amount),
		Cap: moneyOpt(b.Cap), MinAmount: moneyOpt(b.MinAmount), MinCount: b.MinCount, ClaimStart: when(b.ClaimStart), ClaimEnd: when(b.ClaimEnd),
		PerPerson: b.PerPerson, Transferable: b.Transferable, Shareable: b.Shareable}
	if b.PercentOff.PPM() != 0 {
		r := b.PercentOff
		v.PercentOff = &r
	}
	if b.Total > 0 {
		left := max(0, b.Total-b.Claimed)
		v.Left = &left
	}
	if n := b.Near; n != nil {
		v.Near = &Near{Point: Point{n.Point.Latitude, n.Point.Longitude}, RadiusMeters: n.RadiusMeters, Place: n.Place}
	}
	return v
}

// Coupon is a coupon of the customer's wallet, with its batch's terms.
type Coupon struct {
	ID         string      `json:"id"`
	Batch      CouponBatch `json:"batch"`
	Status     string      `json:"status"`
	ValidFrom  time.Time   `json:"valid_from"`
	ValidUntil time.Time   `json:"valid_until"`
	ClaimedAt  time.Time   `json:"claimed_at"`
	Order      string      `json:"order,omitempty"`
}

func couponView(c *coupons.Coupon, b *coupons.Batch) Coupon {
	v := Coupon{ID: c.ID.String(), Batch: batchView(b), Status: string(c.Status), ValidFrom: c.ValidFrom.UTC(), ValidUntil: c.ValidUntil.UTC(),
		ClaimedAt: c.ClaimedAt.UTC()}
	if !c.OrderID.IsZero() {
		v.Order = c.OrderID.String()
	}
	return v
}

// MemberCard is the customer's member card at the shop.
type MemberCard struct {
	Number     int64  `json:"number"`
	Level      int    `json:"level"`
	Tier       string `json:"tier,omitempty"`
	Experience int64  `json:"experience"`
	// Points: Available can be spent, Pending waits for orders to settle,
	// Debt is points refunds took back that were already spent.
	Available int64     `json:"available"`
	Pending   int64     `json:"pending"`
	Debt      int64     `json:"debt,omitempty"`
	JoinedAt  time.Time `json:"joined_at"`
}

func memberView(m *membership.Member, p *membership.Program) MemberCard {
	v := MemberCard{Number: m.Number, Level: m.Level, Experience: m.Experience, Available: m.Available, Pending: m.Pending, Debt: m.Debt,
		JoinedAt: m.JoinedAt.UTC()}
	for _, t := range p.Tiers {
		if t.Level == m.Level {
			v.Tier = t.Name
		}
	}
	return v
}

// PointsEntry is a line of the member's points statement.
type PointsEntry struct {
	ID            string    `json:"id"`
	Kind          string    `json:"kind"`
	Points        int64     `json:"points"`
	PendingPoints int64     `json:"pending_points,omitempty"`
	Balance       int64     `json:"balance"`
	Order         string    `json:"order,omitempty"`
	Note          string    `json:"note,omitempty"`
	Time          time.Time `json:"time"`
}

func pointsView(e *membership.Entry) PointsEntry {
	v := PointsEntry{ID: e.ID.String(), Kind: string(e.Kind), Points: e.Points, PendingPoints: e.PendingPoints, Balance: e.Balance,
		Note: e.Note, Time: e.Time.UTC()}
	if !e.OrderID.IsZero() {
		v.Order = e.OrderID.String()
	}
	return v
}

// Sharer is a promoter bound to the shop.
type Sharer struct {
	Promoter string    `json:"promoter"`
	Name     string    `json:"name,omitempty"`
	BoundAt  time.Time `json:"bound_at"`
}

// PromoterStatement is a promoter's commission at the shop over [from, to).
type PromoterStatement struct {
	Promoter  string         `json:"promoter"`
	From      time.Time      `json:"from"`
	To        time.Time      `json:"to"`
	Orders    int            `json:"orders"`
	Pending   commerce.Money `json:"pending"`
	Settled   commerce.Money `json:"settled"`
	Cancelled commerce.Money `json:"cancelled"`
	Clawbacks commerce.Money `json:"clawbacks"`
	Payout    commerce.Money `json:"payout"`
}

func statementView(s *promoter.Statement) PromoterStatement {
	return PromoterStatement{Promoter: s.PromoterID.String(), From: s.From.UTC(), To: s.To.UTC(), Orders: s.Orders, Pending: s.Pending,
		Settled: s.Settled, Cancelled: s.Cancelled, Clawbacks: s.Clawbacks, Payout: s.Payout}
}
