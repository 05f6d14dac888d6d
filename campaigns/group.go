package campaigns

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/internal/records"
	"github.com/minishop/minishop/promoter"
	"github.com/minishop/minishop/storage"
)

type (
	groupActivityTag struct{}
	groupTag         struct{}
)

// GroupActivityID identifies a group-buy activity; GroupID one group of it.
type (
	GroupActivityID = commerce.ID[groupActivityTag]
	GroupID         = commerce.ID[groupTag]
)

// Limits of a group-buy activity.
const (
	MaxGroupSize = 100
	// DefaultGroupTimeLimit is the usual time a group has to fill, from
	// the leader's payment.
	DefaultGroupTimeLimit = 24 * time.Hour
	MaxGroupTimeLimit     = 30 * 24 * time.Hour
	MaxGroupItems         = 50
	MaxDisplayNameLen     = 32
)

// GroupItem is a SKU of a group-buy activity: the price a member pays and,
// optionally, a lower price for the leader who opens the group (开团价).
type GroupItem struct {
	SKU         commerce.SKUID
	GroupPrice  commerce.Money
	LeaderPrice commerce.Money // unset: the leader pays GroupPrice
}

// GroupActivityParams creates a group-buy activity.
type GroupActivityParams struct {
	MerchantID commerce.MerchantID
	Title      string
	Items      []GroupItem
	// Size is the number of members (leader included) that forms a
	// group: at least 2.
	Size int
	// TimeLimit is how long a group has to fill from the leader's
	// payment (required; DefaultGroupTimeLimit is the usual 24 hours).
	TimeLimit time.Duration
	// Window is when groups may be opened. A group opened inside it may be
	// joined until its own deadline.
	Window Window
	// MaxGroupsPerCustomer bounds the groups of this activity a customer
	// joins (0: no bound): a place in a group that is open or formed
	// counts; one they left, or in a group that failed or closed, is given
	// back with its order's cancellation or refund, so a failed group
	// never locks its members out. MaxUnitsPerOrder bounds the units of
	// one order (0: 1).
	MaxGroupsPerCustomer int
	MaxUnitsPerOrder     int64
	// PaysCommission lets promoters earn on the activity's orders (off by
	// default, as group prices leave little margin).
	PaysCommission bool
	// CompleteShort lets the shop complete, at the deadline, a group that
	// has at least two paid members but not its size: the orders go on to
	// shipping marked short (commerce.GroupBuy.Short). Off by default; no
	// member is ever made up.
	CompleteShort bool
	// AllowCoupons and AllowPoints let a group order use coupons and
	// points; a checkout that selects them otherwise is refused.
	AllowCoupons, AllowPoints bool
}

// GroupActivity is a group-buy activity.
type GroupActivity struct {
	ID GroupActivityID
	GroupActivityParams
	Created time.Time
}

func (GroupActivity) Meta() (string, time.Time) { return "active", time.Time{} }

func (a *GroupActivity) item(sku commerce.SKUID) (GroupItem, bool) {
	for _, it := range a.Items {
		if it.SKU == sku {
			return it, true
		}
	}
	return GroupItem{}, false
}

// GroupState is where a group is.
type GroupState string

// Group states.
//
//	pending ──leader pays──▶ open ──last place paid──▶ formed
//	   │                      ├──deadline──▶ failed (every paid member refunded)
//	   │                      ├──deadline, CompleteShort, ≥ 2 paid──▶ formed (short)
//	   │                      └──leader closes it alone, or every member leaves──▶ closed
//	   └──leader's order cancelled──▶ closed
const (
	GroupPending GroupState = "pending"
	GroupOpen    GroupState = "open"
	GroupFormed  GroupState = "formed"
	GroupFailed  GroupState = "failed"
	GroupClosed  GroupState = "closed"
)

// MemberState is where a member's place is.
type MemberState string

// Member states.
const (
	MemberReserved MemberState = "reserved" // order placed, not yet paid
	MemberPaid     MemberState = "paid"     // paid, waiting for the group
	MemberFormed   MemberState = "formed"   // in the formed group: the order ships
	MemberLeft     MemberState = "left"     // order cancelled or refunded before the group formed
	MemberRefunded MemberState = "refunded" // the group ended without them: refunded in full
)

// Member is one place of a group.
type Member struct {
	Customer commerce.CustomerID
	Name     string // the display name the member joined with
	Order    commerce.OrderID
	Leader   bool
	State    MemberState
	Joined   time.Time
	Paid     time.Time `json:",omitempty"`
}

// Group is one group of an activity: its leader and members.
type Group struct {
	ID         GroupID
	ActivityID GroupActivityID
	MerchantID commerce.MerchantID
	SKU        commerce.SKUID
	Size       int
	State      GroupState
	Short      bool // formed at the deadline short of its size
	Members    []Member
	Created    time.Time
	// Opened is the leader's payment; ExpiresAt the deadline it set.
	Opened, ExpiresAt time.Time
	Ended             time.Time // formed, failed or closed
}

// Taken counts the places held (reserved, paid or formed).
func (g *Group) Taken() int {
	n := 0
	for _, m := range g.Members {
		switch m.State {
		case MemberReserved, MemberPaid, MemberFormed:
			n++
		}
	}
	return n
}

func (g *Group) count(st MemberState) int {
	n := 0
	for _, m := range g.Members {
		if m.State == st {
			n++
		}
	}
	return n
}

// settling reports work left after the group ended: unpaid orders to
// cancel, paid ones to refund.
func (g *Group) settling() bool {
	if g.State == GroupOpen || g.State == GroupPending {
		return false
	}
	return g.count(MemberReserved) > 0 || g.count(MemberPaid) > 0
}

// Record statuses RunDue queries: open groups by deadline, ended groups
// with work left.
const (
	statusOpen   = "open"
	statusSettle = "settle"
)

func (g Group) Meta() (string, time.Time) {
	switch {
	case g.State == GroupOpen:
		return statusOpen, g.ExpiresAt
	case g.settling():
		return statusSettle, g.Ended
	}
	return string(g.State), time.Time{}
}

func (g *Group) member(order commerce.OrderID) *Member {
	for i := range g.Members {
		if g.Members[i].Order == order {
			return &g.Members[i]
		}
	}
	return nil
}

// groupJoins counts a customer's places in an activity's groups.
type groupJoins struct {
	Groups []GroupID `json:"groups"`
}

func (groupJoins) Meta() (string, time.Time) { return "", time.Time{} }

// CreateGroupActivity validates p and stores the activity. Every field is
// checked before anything is written; an error names the first bad one.
func (s *Service) CreateGroupActivity(ctx context.Context, p GroupActivityParams) (*GroupActivity, error) {
	const op = "campaigns.create_group_activity"
	if err := commerce.CheckID(op, "merchant_id", p.MerchantID); err != nil {
		return nil, err
	}
	if err := commerce.CheckText(op, "title", p.Title, true, commerce.MaxNameLen); err != nil {
		return nil, err
	}
	switch {
	case p.Size < 2:
		return nil, commerce.Invalid(op, "size", "%d: a group has at least 2 members", p.Size)
	case p.Size > MaxGroupSize:
		return nil, commerce.Invalid(op, "size", "%d: at most %d", p.Size, MaxGroupSize)
	case p.TimeLimit <= 0:
		return nil, commerce.Invalid(op, "time_limit", "%s: required and positive (DefaultGroupTimeLimit is 24 h)", p.TimeLimit)
	case p.TimeLimit > MaxGroupTimeLimit:
		return nil, commerce.Invalid(op, "time_limit", "%s: at most %s", p.TimeLimit, MaxGroupTimeLimit)
	case p.MaxGroupsPerCustomer < 0:
		return nil, commerce.Invalid(op, "max_groups_per_customer", "%d is negative", p.MaxGroupsPerCustomer)
	case p.MaxUnitsPerOrder < 0 || p.MaxUnitsPerOrder > commerce.MaxLineQuantity:
		return nil, commerce.Invalid(op, "max_units_per_order", "%d is outside [0, %d]", p.MaxUnitsPerOrder, commerce.MaxLineQuantity)
	case len(p.Items) == 0:
		return nil, commerce.Invalid(op, "items", "required")
	case len(p.Items) > MaxGroupItems:
		return nil, commerce.Invalid(op, "items", "%d items, at most %d", len(p.Items), MaxGroupItems)
	}
	if err := p.Window.validate(op, "window"); err != nil {
		return nil, err
	}
	if p.MaxUnitsPerOrder == 0 {
		p.MaxUnitsPerOrder = 1
	}
	seen := map[commerce.SKUID]bool{}
	items := make([]GroupItem, len(p.Items))
	for i, it := range p.Items {
		f := fmt.Sprintf("items[%d]", i)
		price, err := s.skuPrice(ctx, op, f+".sku", p.MerchantID, it.SKU)
		if err != nil {
			return nil, err
		}
		if seen[it.SKU] {
			return nil, commerce.Invalid(op, f+".sku", "%s appears twice", it.SKU)
		}
		seen[it.SKU] = true
		if err := campaignPrice(op, f+".group_price", it.GroupPrice, price); err != nil {
			return nil, err
		}
		if it.LeaderPrice.IsSet() {
			if err := campaignPrice(op, f+".leader_price", it.LeaderPrice, price); err != nil {
				return nil, err
			}
			if c, _ := it.LeaderPrice.Cmp(it.GroupPrice); c > 0 {
				return nil, commerce.Invalid(op, f+".leader_price", "%s is above the group price %s: the leader's price is the lower one", it.LeaderPrice, it.GroupPrice)
			}
		} else {
			it.LeaderPrice = it.GroupPrice
		}
		items[i] = it
	}
	p.Items = items
	a := &GroupActivity{ID: commerce.IDFrom[groupActivityTag](s.ids.NewUUID()), GroupActivityParams: p, Created: s.now()}
	if err := records.Insert(ctx, s.store, kindGroupActivity, a.ID.String(), a.Created, a); err != nil {
		return nil, commerce.Wrap(op, err)
	}
	return a, nil
}

// skuPrice returns the SKU's price now, or an error naming field when the
// merchant has no such SKU.
func (s *Service) skuPrice(ctx context.Context, op, field string, merchant commerce.MerchantID, sku commerce.SKUID) (commerce.Money, error) {
	if sku.IsZero() {
		return commerce.Money{}, commerce.Invalid(op, field, "required")
	}
	prod, err := s.commerce.ProductBySKU(ctx, merchant, sku)
	if err != nil {
		return commerce.Money{}, notFound(op, field, err)
	}
	for _, k := range prod.SKUs {
		if k.ID == sku {
			return k.Price, nil
		}
	}
	return commerce.Money{}, commerce.Invalid(op, field, "no SKU %s", sku)
}

// campaignPrice checks a campaign price against the SKU's price now: set,
// in its currency, positive and below it.
func campaignPrice(op, field string, p, list commerce.Money) error {
	switch {
	case !p.IsSet():
		return commerce.Invalid(op, field, "required")
	case p.Currency() != list.Currency():
		return commerce.Invalid(op, field, "currency %s, the SKU sells in %s", p.Currency(), list.Currency())
	case !p.IsPositive():
		return commerce.Invalid(op, field, "%s is not positive", p)
	}
	if _, err := p.Minor(); err != nil {
		return commerce.Invalid(op, field, "%v", err)
	}
	if c, _ := p.Cmp(list); c >= 0 {
		return commerce.Invalid(op, field, "%s is not below the SKU's price %s", p, list)
	}
	return nil
}

// GroupActivity returns an activity.
func (s *Service) GroupActivity(ctx context.Context, merchant commerce.MerchantID, id GroupActivityID) (*GroupActivity, error) {
	const op = "campaigns.group_activity"
	a, err := records.Read[GroupActivity](ctx, s.store, kindGroupActivity, id.String())
	if err == nil && a.MerchantID != merchant {
		err = storage.ErrNotFound
	}
	if err != nil {
		return nil, notFound(op, "activity_id", err)
	}
	return a, nil
}

// groupChoice is a checkout's group-buy input.
type groupChoice struct {
	activity GroupActivityID // to open a group
	group    GroupID         // to join one
	name     string
}

// OpenGroup makes a checkout open a group of the activity: the customer is
// its leader, and the group opens to others when they pay. name is the
// display name shown on the group's page.
func OpenGroup(activity GroupActivityID, name string) commerce.Extension {
	return commerce.Extension{Key: extKey, Value: groupChoice{activity: activity, name: name}}
}

// JoinGroup makes a checkout take a place in an open group.
func JoinGroup(group GroupID, name string) commerce.Extension {
	return commerce.Extension{Key: extKey, Value: groupChoice{group: group, name: name}}
}

// groupTarget reads what a group checkout names: the activity, and the
// group when joining.
func (s *Service) groupTarget(ctx context.Context, op string, merchant commerce.MerchantID, v groupChoice) (*GroupActivity, *Group, error) {
	if err := commerce.CheckText(op, "extensions.campaigns.name", v.name, false, MaxDisplayNameLen); err != nil {
		return nil, nil, err
	}
	var g *Group
	activity := v.activity
	if !v.group.IsZero() {
		var err error
		if g, err = s.group(ctx, op, merchant, v.group); err != nil {
			return nil, nil, err
		}
		activity = g.ActivityID
	} else if activity.IsZero() {
		return nil, nil, commerce.Invalid(op, "extensions.campaigns", "names no activity or group")
	}
	a, err := s.GroupActivity(ctx, merchant, activity)
	if err != nil {
		return nil, nil, err
	}
	return a, g, nil
}

func (s *Service) groupAdjust(ctx context.Context, q *commerce.Quote, v groupChoice) ([]commerce.Adjustment, error) {
	const op = "campaigns.group_price"
	if err := oneLine(op, q); err != nil {
		return nil, err
	}
	if q.Gift {
		return nil, commerce.Invalid(op, "gift", "a group-buy order cannot be a gift")
	}
	a, g, err := s.groupTarget(ctx, op, q.MerchantID, v)
	if err != nil {
		return nil, err
	}
	l := q.Lines[0]
	it, ok := a.item(l.SKU)
	if !ok || g != nil && g.SKU != l.SKU {
		return nil, commerce.Invalid(op, "lines[0].sku", "%s is not the group's SKU", l.SKU)
	}
	if l.Quantity > a.MaxUnitsPerOrder {
		return nil, refuse(op, commerce.KindFailedPrecondition, "lines[0].quantity", ErrLimit, "%d units, at most %d per order", l.Quantity, a.MaxUnitsPerOrder)
	}
	if !a.AllowCoupons {
		if err := noCoupons(op, q); err != nil {
			return nil, err
		}
	}
	price, label := it.GroupPrice, "group price"
	if g == nil {
		price, label = it.LeaderPrice, "group leader price"
	}
	return lineDiscount(q, 0, price, "campaigns", a.ID.String(), label)
}

// groupCheckout takes the checkout's place: a new group for a leader, a
// place in an open group for a member, atomically (the group record is
// the arbiter: every place is taken and given back by compare-and-swap on
// it).
func (s *Service) groupCheckout(ctx context.Context, c *commerce.CheckoutContext, v groupChoice) error {
	const op = "campaigns.group_checkout"
	o := c.Order
	a, g, err := s.groupTarget(ctx, op, o.MerchantID, v)
	if err != nil {
		return err
	}
	if err := allowed(op, c.Quote, a.AllowCoupons, a.AllowPoints); err != nil {
		return err
	}
	now := s.now()
	if g == nil && !a.Window.Contains(now) {
		return refuse(op, commerce.KindFailedPrecondition, "extensions.campaigns", ErrNotRunning, "activity %s runs %s to %s", a.ID,
			a.Window.Start.Format(time.RFC3339), a.Window.End.Format(time.RFC3339))
	}
	markOrder(o, "group")
	if !a.PaysCommission {
		o.Metadata[promoter.NoCommission] = "group_buy"
	}
	id := v.group
	if g == nil {
		id = commerce.IDFrom[groupTag](s.ids.NewUUID())
	}
	if a.MaxGroupsPerCustomer > 0 {
		_, err := records.Update(ctx, s.store, kindGroupJoins, a.ID.String()+":"+string(o.CustomerID), now, true, func(j *groupJoins, _ bool) error {
			if len(j.Groups) >= a.MaxGroupsPerCustomer {
				return refuse(op, commerce.KindFailedPrecondition, "customer_id", ErrLimit, "%s holds places in %d groups of activity %s, at most %d",
					o.CustomerID, len(j.Groups), a.ID, a.MaxGroupsPerCustomer)
			}
			j.Groups = append(j.Groups, id)
			return nil
		})
		if err != nil {
			return commerce.Wrap(op, err)
		}
	}
	m := Member{Customer: o.CustomerID, Name: v.name, Order: o.ID, State: MemberReserved, Joined: now}
	o.Group = &commerce.GroupBuy{ID: id.String()}
	if g == nil {
		m.Leader = true
		g = &Group{ID: id, ActivityID: a.ID, MerchantID: o.MerchantID, SKU: o.Lines[0].SKU, Size: a.Size,
			State: GroupPending, Members: []Member{m}, Created: now}
		return commerce.Wrap(op, records.Insert(ctx, s.store, kindGroup, id.String(), now, g))
	}
	_, err = records.Update(ctx, s.store, kindGroup, id.String(), now, false, func(g *Group, _ bool) error {
		switch {
		case g.State != GroupOpen || !now.Before(g.ExpiresAt):
			return refuse(op, commerce.KindFailedPrecondition, "extensions.campaigns", ErrGroupClosed, "group %s is %s", g.ID, groupWhen(g, now))
		case g.holds(o.CustomerID):
			return refuse(op, commerce.KindConflict, "customer_id", ErrAlreadyMember, "%s holds a place in group %s", o.CustomerID, g.ID)
		case g.Taken() >= g.Size:
			return refuse(op, commerce.KindFailedPrecondition, "extensions.campaigns", ErrGroupFull, "group %s has its %d places taken", g.ID, g.Size)
		}
		g.Members = append(g.Members, m)
		return nil
	})
	return commerce.Wrap(op, err)
}

// groupWhen says why a group is not open, for an error.
func groupWhen(g *Group, now time.Time) string {
	if g.State == GroupOpen {
		return "past its deadline " + g.ExpiresAt.Format(time.RFC3339)
	}
	return string(g.State)
}

// holds reports whether the customer holds a place in the group.
func (g *Group) holds(c commerce.CustomerID) bool {
	for _, m := range g.Members {
		if m.Customer == c && (m.State == MemberReserved || m.State == MemberPaid || m.State == MemberFormed) {
			return true
		}
	}
	return false
}

// allowed refuses the coupons and points a campaign does not allow.
func allowed(op string, q *commerce.Quote, coupons, points bool) error {
	for _, adj := range q.Adjustments {
		switch {
		case adj.Kind == commerce.KindCoupon && !coupons:
			return commerce.Errorf(op, commerce.KindFailedPrecondition, "this campaign's orders take no coupons (coupon %s selected)", adj.Ref)
		case adj.Kind == commerce.KindPoints && !points:
			return commerce.Errorf(op, commerce.KindFailedPrecondition, "this campaign's orders take no points")
		}
	}
	return nil
}

func (s *Service) group(ctx context.Context, op string, merchant commerce.MerchantID, id GroupID) (*Group, error) {
	g, err := records.Read[Group](ctx, s.store, kindGroup, id.String())
	if err == nil && g.MerchantID != merchant {
		err = storage.ErrNotFound
	}
	if err != nil {
		return nil, notFound(op, "group_id", err)
	}
	return g, nil
}

// groupEvent is the payload of the group.* events.
type groupEvent struct {
	GroupID    GroupID             `json:"group_id"`
	ActivityID GroupActivityID     `json:"activity_id"`
	Customer   commerce.CustomerID `json:"customer_id,omitempty"`
	OrderID    *commerce.OrderID   `json:"order_id,omitempty"`
	Size       int                 `json:"size"`
	Paid       int                 `json:"paid"`
	Short      bool                `json:"short,omitempty"`
}

func (s *Service) groupEmit(ctx context.Context, what string, g *Group, m *Member) error {
	ev := groupEvent{GroupID: g.ID, ActivityID: g.ActivityID, Size: g.Size, Paid: g.count(MemberPaid) + g.count(MemberFormed), Short: g.Short}
	if m != nil {
		ev.Customer, ev.OrderID = m.Customer, &m.Order
	}
	return s.emit(ctx, "group."+what, g.ID.String(), g.MerchantID, ev)
}

// groupOrderChanged follows a group order: its payment takes its place
// (opening the group for the leader, forming it for the last place), its
// cancellation or refund before the group formed gives the place back.
func (s *Service) groupOrderChanged(ctx context.Context, c commerce.OrderChange) error {
	const op = "campaigns.group_order"
	o := c.Order
	if o.Group == nil {
		return nil
	}
	id, err := commerce.ParseID[GroupID](o.Group.ID)
	if err != nil {
		return commerce.Wrap(op, err)
	}
	switch c.Action {
	case commerce.ActionPay, commerce.ActionCancel, commerce.ActionRefund:
	default:
		return nil
	}
	if c.Action == commerce.ActionRefund && o.Status == commerce.StatusAwaitingGroup && !fullRefund(o) {
		return commerce.Errorf(op, commerce.KindFailedPrecondition,
			"order %s waits for its group: a member leaves with the refund of every unit, not part of them", o.ID)
	}
	now := s.now()
	var formed []commerce.OrderID
	var left bool
	g, err := records.UpdateFx(ctx, s.store, kindGroup, id.String(), now, false, func(g *Group, _ bool, fx *records.Effects) error {
		formed, left = nil, false
		m := g.member(o.ID)
		if m == nil {
			return commerce.Errorf(op, commerce.KindInternal, "group %s has no place for order %s", g.ID, o.ID)
		}
		switch c.Action {
		case commerce.ActionPay:
			if m.State != MemberReserved {
				return records.ErrKeep
			}
			m.State, m.Paid = MemberPaid, now
			switch {
			case g.State == GroupPending && m.Leader:
				g.State, g.Opened, g.ExpiresAt = GroupOpen, now, now.Add(s.timeLimit(ctx, g))
				fx.Do(func() error { return s.groupEmit(ctx, "opened", g, m) })
				return nil
			case g.State == GroupOpen && now.Before(g.ExpiresAt):
				fx.Do(func() error { return s.groupEmit(ctx, "joined", g, m) })
				if g.count(MemberPaid) == g.Size {
					formed = g.form(now, false)
					fx.Do(func() error { return s.groupEmit(ctx, "formed", g, nil) })
					return nil
				}
			}
			// Paid past the deadline, or into a group that ended: the
			// place stays paid and RunDue refunds it with the group.
			return nil
		case commerce.ActionCancel:
			if m.State != MemberReserved {
				return records.ErrKeep
			}
			m.State, left = MemberLeft, true
			if m.Leader && g.State == GroupPending {
				g.State, g.Ended = GroupClosed, now
			}
			return nil
		default: // a refund asked for
			switch {
			case m.State == MemberPaid && (g.State == GroupOpen || g.State == GroupPending):
				// The member leaves before the group formed.
				m.State, left = MemberLeft, true
				if g.Taken() == 0 {
					g.State, g.Ended = GroupClosed, now
				} else if m.Leader {
					m.Leader = false
					g.promoteLeader()
				}
				return nil
			case m.State == MemberPaid:
				// The group ended without them: this is their refund,
				// and the place no longer counts against their limit.
				m.State, left = MemberRefunded, true
				return nil
			}
			return records.ErrKeep
		}
	})
	if err != nil {
		return commerce.Wrap(op, err)
	}
	for _, oid := range formed {
		if _, err := s.commerce.FormGroup(ctx, o.MerchantID, oid, g.Short); err != nil {
			return commerce.Wrap(op, err)
		}
	}
	if left {
		return s.releaseJoin(ctx, g.ActivityID, o.CustomerID, g.ID, now)
	}
	return nil
}

// fullRefund reports whether every unit of o is refunded or being refunded.
func fullRefund(o *commerce.Order) bool {
	for _, l := range o.Lines {
		if l.RefundedQuantity < l.Quantity {
			return false
		}
	}
	return true
}

// form forms the group with its paid members and returns their orders.
func (g *Group) form(now time.Time, short bool) []commerce.OrderID {
	var orders []commerce.OrderID
	g.State, g.Ended, g.Short = GroupFormed, now, short
	for i := range g.Members {
		if m := &g.Members[i]; m.State == MemberPaid {
			m.State = MemberFormed
			orders = append(orders, m.Order)
		}
	}
	return orders
}

// promoteLeader makes the earliest paid member the leader.
func (g *Group) promoteLeader() {
	for i := range g.Members {
		if g.Members[i].State == MemberPaid {
			g.Members[i].Leader = true
			return
		}
	}
}

// timeLimit is the activity's time limit for g.
func (s *Service) timeLimit(ctx context.Context, g *Group) time.Duration {
	a, err := records.Read[GroupActivity](ctx, s.store, kindGroupActivity, g.ActivityID.String())
	if err != nil {
		return DefaultGroupTimeLimit
	}
	return a.TimeLimit
}

// releaseJoin uncounts a place in the customer's per-activity count.
func (s *Service) releaseJoin(ctx context.Context, activity GroupActivityID, customer commerce.CustomerID, group GroupID, now time.Time) error {
	_, err := records.Update(ctx, s.store, kindGroupJoins, activity.String()+":"+string(customer), now, false, func(j *groupJoins, _ bool) error {
		for i, id := range j.Groups {
			if id == group {
				j.Groups = append(j.Groups[:i], j.Groups[i+1:]...)
				return nil
			}
		}
		return records.ErrKeep
	})
	if errors.Is(err, storage.ErrNotFound) {
		return nil // the activity counts nothing
	}
	return err
}

// CloseGroup lets the leader close their group before anyone else has
// paid into it: the group closes and the leader's order is refunded in
// full. A group others hold places in cannot be closed.
func (s *Service) CloseGroup(ctx context.Context, merchant commerce.MerchantID, id GroupID, leader commerce.CustomerID) (*Group, error) {
	const op = "campaigns.close_group"
	if err := commerce.CheckID(op, "group_id", id); err != nil {
		return nil, err
	}
	if _, err := s.group(ctx, op, merchant, id); err != nil {
		return nil, err
	}
	now := s.now()
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		_, err := records.UpdateFx(ctx, s.store, kindGroup, id.String(), now, false, func(g *Group, _ bool, fx *records.Effects) error {
			var lead *Member
			for i := range g.Members {
				if g.Members[i].Leader {
					lead = &g.Members[i]
				}
			}
			switch {
			case g.State == GroupClosed:
				return records.ErrKeep
			case lead == nil || lead.Customer != leader:
				return commerce.Errorf(op, commerce.KindFailedPrecondition, "%s does not lead group %s", leader, id)
			case g.State != GroupOpen:
				return refuse(op, commerce.KindFailedPrecondition, "group_id", ErrGroupClosed, "group %s is %s", id, g.State)
			case g.Taken() > 1:
				return commerce.Errorf(op, commerce.KindFailedPrecondition, "group %s has other members: it can no longer be closed", id)
			}
			g.State, g.Ended = GroupClosed, now
			fx.Do(func() error { return s.groupEmit(ctx, "closed", g, lead) })
			return nil
		})
		return err
	})
	if err != nil {
		return nil, commerce.Wrap(op, err)
	}
	if err := s.settleGroup(ctx, merchant, id, nil); err != nil {
		return nil, err
	}
	return s.group(ctx, op, merchant, id)
}

// runGroups ends the open groups past their deadline, then settles the
// ended ones with work left.
func (s *Service) runGroups(ctx context.Context, rep *DueReport) error {
	const op = "campaigns.run_due"
	now := s.now()
	err := records.Due(ctx, s.store, kindGroup, statusOpen, now, func(r storage.Record) error {
		var formed []commerce.OrderID
		// ended is set only by the run whose write ends the group: other
		// runs racing it read the group ended and count nothing.
		var ended GroupState
		err := s.store.InTx(ctx, func(ctx context.Context) error {
			formed, ended = nil, ""
			g, err := records.UpdateFx(ctx, s.store, kindGroup, r.Key, now, false, func(g *Group, _ bool, fx *records.Effects) error {
				formed, ended = nil, ""
				if g.State != GroupOpen || now.Before(g.ExpiresAt) {
					return records.ErrKeep
				}
				defer func() { ended = g.State }()
				if a, err := records.Read[GroupActivity](ctx, s.store, kindGroupActivity, g.ActivityID.String()); err == nil && a.CompleteShort && g.count(MemberPaid) >= 2 {
					formed = g.form(now, true)
					fx.Do(func() error { return s.groupEmit(ctx, "formed", g, nil) })
					return nil
				}
				g.State, g.Ended = GroupFailed, now
				fx.Do(func() error { return s.groupEmit(ctx, "failed", g, nil) })
				return nil
			})
			if err != nil {
				return err
			}
			for _, oid := range formed {
				if _, err := s.commerce.FormGroup(ctx, g.MerchantID, oid, true); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return commerce.Wrap(op, err)
		}
		switch ended {
		case GroupFormed:
			rep.GroupsFormed++
		case GroupFailed:
			rep.GroupsFailed++
		}
		return nil
	})
	serr := records.Due(ctx, s.store, kindGroup, statusSettle, now, func(r storage.Record) error {
		id, err := commerce.ParseID[GroupID](r.Key)
		if err != nil {
			return err
		}
		g, err := records.Read[Group](ctx, s.store, kindGroup, r.Key)
		if err != nil {
			return err
		}
		return s.settleGroup(ctx, g.MerchantID, id, rep)
	})
	return errors.Join(err, serr)
}

// settleGroup finishes an ended group's members: an unpaid order is
// cancelled, a paid one outside the group refunded in full, exactly once
// (the refund's idempotency key is the group's; the refund's own order
// hook marks the member refunded in the refund's transaction).
func (s *Service) settleGroup(ctx context.Context, merchant commerce.MerchantID, id GroupID, rep *DueReport) error {
	const op = "campaigns.settle_group"
	g, err := s.group(ctx, op, merchant, id)
	if err != nil || !g.settling() {
		return err
	}
	var errs []error
	for _, m := range g.Members {
		switch m.State {
		case MemberReserved:
			if _, err := s.commerce.Cancel(ctx, merchant, m.Order, "group "+string(g.State)); err != nil && !errors.Is(err, commerce.ErrIllegalTransition) {
				errs = append(errs, err)
			}
		case MemberPaid:
			r, err := s.commerce.Refund(ctx, commerce.RefundParams{MerchantID: merchant, OrderID: m.Order, All: true,
				Reason: "group " + string(g.State), IdempotencyKey: "group:" + g.ID.String()})
			if r == nil && err != nil {
				errs = append(errs, err)
				continue
			}
			// A refund committed and only its hand-off to the channel
			// failed stays pending: the payment service resends it.
			if rep != nil {
				rep.MembersRefunded++
			}
		}
	}
	if len(errs) > 0 {
		return commerce.Wrap(op, errors.Join(errs...))
	}
	return nil
}

// GroupView is what a group's page shows a chat member who opens its share
// link: places left, who joined (display names, paid members only) and the
// time left. Reading it writes nothing.
type GroupView struct {
	ID         GroupID
	ActivityID GroupActivityID
	Title      string
	SKU        commerce.SKUID
	Price      commerce.Money // what a member pays
	State      GroupState
	Size       int
	PlacesLeft int
	Members    []MemberView
	ExpiresAt  time.Time
	TimeLeft   time.Duration // zero once past the deadline
}

// MemberView is a member as the group's page shows them.
type MemberView struct {
	Name   string
	Leader bool
}

// GroupPage returns the group's page. A page is public to whoever holds
// the group's share token: it shows display names, never customer ids.
func (s *Service) GroupPage(ctx context.Context, merchant commerce.MerchantID, id GroupID) (*GroupView, error) {
	const op = "campaigns.group_page"
	g, err := s.group(ctx, op, merchant, id)
	if err != nil {
		return nil, err
	}
	a, err := s.GroupActivity(ctx, merchant, g.ActivityID)
	if err != nil {
		return nil, err
	}
	it, _ := a.item(g.SKU)
	v := &GroupView{ID: g.ID, ActivityID: a.ID, Title: a.Title, SKU: g.SKU, Price: it.GroupPrice, State: g.State, Size: g.Size,
		PlacesLeft: g.Size - g.Taken(), ExpiresAt: g.ExpiresAt}
	if g.State != GroupOpen {
		v.PlacesLeft = 0 // nobody joins before the leader has paid, or after the end
	}
	if now := s.now(); g.State == GroupOpen && now.Before(g.ExpiresAt) {
		v.TimeLeft = g.ExpiresAt.Sub(now)
	}
	for _, m := range g.Members {
		if m.State == MemberPaid || m.State == MemberFormed {
			v.Members = append(v.Members, MemberView{Name: m.Name, Leader: m.Leader})
		}
	}
	return v, nil
}

// Group returns the group with its members (for the shop, not its
// customers: it names them).
func (s *Service) Group(ctx context.Context, merchant commerce.MerchantID, id GroupID) (*Group, error) {
	return s.group(ctx, "campaigns.group", merchant, id)
}

// GroupToken returns the group's share token: the link a member sends to
// a chat opens the group's page with it.
func (s *Service) GroupToken(g *Group) string { return s.token("group", g.MerchantID, g.ID.UUID()) }

// GroupByToken verifies a share token of the merchant's and returns its
// group. A malformed, forged or other shop's token is ErrBadToken.
func (s *Service) GroupByToken(ctx context.Context, merchant commerce.MerchantID, token string) (*Group, error) {
	const op = "campaigns.group_by_token"
	id, err := s.verify(op, "group", merchant, token)
	if err != nil {
		return nil, err
	}
	return s.group(ctx, op, merchant, commerce.IDFrom[groupTag](id))
}
