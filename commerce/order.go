package commerce

import (
	"fmt"
	"slices"
	"time"

	"golang.org/x/text/currency"
)

// OrderStatus is where an order is in its life.
//
//	pending_payment ──pay──▶ paid ──ship──▶ shipped ──receive──▶ received ──complete──▶ completed
//	      │            ├─(gift)─▶ awaiting_recipient ──accept──▶ paid
//	      │            └─(group buy)─▶ awaiting_group ──group formed──▶ paid
//	      └──cancel──▶ cancelled
//	awaiting_recipient, awaiting_group, paid, shipped, received, completed ──refund (everything)──▶ refunded
//
// completed is the settlement point: the after-sales window after receipt
// has closed with no refund open, so money, points and commission become
// final. Orders reach shipped→received and received→completed on their own
// through Service.RunDue when the customer does not act.
type OrderStatus string

// Order statuses.
const (
	StatusPendingPayment    OrderStatus = "pending_payment"
	StatusAwaitingRecipient OrderStatus = "awaiting_recipient" // a paid gift not yet accepted
	// StatusAwaitingGroup is a paid group-buy order waiting for its group
	// to fill (WeChat's Mini Store status 13): not shippable until
	// FormGroup, refunded in full if the group fails.
	StatusAwaitingGroup OrderStatus = "awaiting_group"
	StatusPaid          OrderStatus = "paid" // paid, to ship
	StatusShipped       OrderStatus = "shipped"
	StatusReceived      OrderStatus = "received"  // after-sales window open
	StatusCompleted     OrderStatus = "completed" // settled
	StatusCancelled     OrderStatus = "cancelled" // closed before payment
	StatusRefunded      OrderStatus = "refunded"  // closed: everything paid was refunded
)

// OrderAction is a change asked of an order.
type OrderAction string

// Order actions. Each is the name of the outbox event type "order.<action>".
const (
	ActionCreate     OrderAction = "created"
	ActionPay        OrderAction = "paid"
	ActionAcceptGift OrderAction = "gift_accepted"
	ActionSwitchSKU  OrderAction = "gift_sku_switched"
	ActionFormGroup  OrderAction = "group_formed"
	ActionShip       OrderAction = "shipped"
	ActionReceive    OrderAction = "received"
	ActionComplete   OrderAction = "completed"
	ActionCancel     OrderAction = "cancelled"
	ActionRefund     OrderAction = "refund_requested"
	ActionRefundOK   OrderAction = "refund_succeeded"
	ActionRefundFail OrderAction = "refund_failed"
)

// transitions is the state machine: from status, the actions allowed.
var transitions = map[OrderStatus][]OrderAction{
	StatusPendingPayment:    {ActionPay, ActionCancel},
	StatusAwaitingRecipient: {ActionAcceptGift, ActionSwitchSKU, ActionRefund},
	StatusAwaitingGroup:     {ActionFormGroup, ActionRefund},
	StatusPaid:              {ActionShip, ActionRefund},
	StatusShipped:           {ActionReceive, ActionRefund},
	StatusReceived:          {ActionComplete, ActionRefund},
	// A settled order can still be refunded when the merchant grants a
	// late after-sales case: points and commission are then clawed back.
	StatusCompleted: {ActionRefund},
}

// Can reports whether the state machine allows action from status s.
// Confirming or failing a refund is allowed whenever a refund is pending.
func (s OrderStatus) Can(action OrderAction) bool {
	for _, a := range transitions[s] {
		if a == action {
			return true
		}
	}
	return false
}

// Closed reports whether s is final.
func (s OrderStatus) Closed() bool {
	return s == StatusCompleted || s == StatusCancelled || s == StatusRefunded
}

// Order is a customer's purchase from one merchant.
type Order struct {
	ID         OrderID
	MerchantID MerchantID
	CustomerID CustomerID // who pays: for a gift, the giver
	Status     OrderStatus
	Currency   currency.Unit

	Lines       []OrderLine
	Adjustments []Adjustment // with their per-line splits, as priced at checkout

	Subtotal, Discount, Shipping, ShippingDiscount Money
	Total                                          Money // what the customer pays

	// Gift is set for an order bought for someone else. Its recipient and
	// address may be unknown at checkout; the order then waits in
	// awaiting_recipient after payment until AcceptGift names them.
	Gift *Gift
	// Group is set for a group-buy order (by the campaigns package's
	// checkout hook): once paid it waits in awaiting_group until its group
	// forms (FormGroup).
	Group           *GroupBuy `json:",omitempty"`
	ShippingAddress *Address
	Note            string
	// Metadata is free-form data that checkout hooks and the host attach
	// (promoter attribution, channel, a host's own reference).
	Metadata map[string]string

	IdempotencyKey string
	// Fingerprint identifies the checkout parameters the key was first used
	// with; a replay with other parameters is refused.
	Fingerprint string

	// Withheld is what refunds hold back under a RefundPolicy now; the
	// refund of the last units gives it all back.
	Withheld Money
	// Tenders are the parts of the total that plugins' instruments paid at
	// checkout (stored value, gift cards); the channel collects Due.
	Tenders    []Tender `json:",omitempty"`
	PaymentRef string   // the payment channel's transaction reference
	Paid       Money    // amount the payment reported
	// PayerPaid is what the payer paid in their own currency when a
	// cross-border channel converted Paid (see MarkPaidParams.Payer).
	PayerPaid Money     `json:",omitzero"`
	Refunds   []Refund  // in the order they were asked for
	Shipment  *Shipment // carrier and tracking number

	Created, Updated, PaidAt, ShippedAt, ReceivedAt, CompletedAt, CancelledAt time.Time
	CancelReason                                                              string
	// DueAt is when RunDue next acts on the order on its own (cancel unpaid,
	// confirm receipt, complete); zero when nothing is scheduled.
	DueAt time.Time
	// Version counts the changes made to the order; stores bump it.
	Version int64
}

// OrderLine is one SKU of an order with its price, its shares of the order's
// adjustments and what has been refunded of it.
type OrderLine struct {
	SKU        SKUID
	Product    ProductID
	Title      string
	Category   string
	Attributes []Attribute
	Quantity   int64
	UnitPrice  Money
	Total      Money // UnitPrice × Quantity
	Discount   Money // Σ Adjustments
	Payable    Money // Total - Discount: what was paid for the line
	// Adjustments[k] is this line's share of Order.Adjustments[k] (zero for
	// shipping adjustments).
	Adjustments []Money

	// RefundedQuantity and Refunded count pending and succeeded refunds, so
	// two concurrent refunds can never both take the same units.
	RefundedQuantity int64
	Refunded         Money
	// RefundedAdjustments[k] is how much of Adjustments[k] refunds gave back
	// (coupon value, points) so far.
	RefundedAdjustments []Money
	// StockPool names the plugin that holds this line's units (a flash
	// sale's own pool): checkout takes no SKU stock for the line and a
	// cancel or refund puts none back; the plugin does both.
	StockPool string `json:",omitempty"`
}

// Gift describes an order bought for someone else.
type Gift struct {
	Recipient CustomerID // empty until accepted (a one-friend gift)
	Message   string
	// Slots makes a group gift: the order's single line of Slots units is
	// split at checkout into Slots lines of one unit each, every line
	// carrying its exact share of the discounts (largest remainder, so the
	// lines' Payable sum to what the line paid). Each line then goes to one
	// claimer with their own address (Claims, through AssignGiftLines), and
	// lines nobody claims are refunded on their own.
	Slots int
	// Claims[i] is who claimed line i and where it goes (group gifts);
	// a zero Recipient means unclaimed.
	Claims []GiftClaim
	// MerchantPaid makes a free gift the merchant pays for: checkout adds
	// a "merchant_gift" adjustment taking the whole price and shipping off,
	// so the order's total is zero and MarkPaid with a zero amount sends it.
	MerchantPaid bool
}

// GroupBuy ties an order to the group it buys in.
type GroupBuy struct {
	ID string // the campaign's group
	// Short says the shop completed the group at its deadline with fewer
	// members than its size (the activity allowed it): the order says so,
	// and no member was made up.
	Short bool `json:",omitempty"`
}

// GiftClaim is one group-gift line's recipient and address.
type GiftClaim struct {
	Recipient CustomerID
	Address   *Address
}

// Address is a delivery address. A new field must also join
// CheckoutParams.fingerprint, or a replay with another value would pass.
type Address struct {
	Name       string
	Phone      string
	Province   string
	City       string
	District   string
	Detail     string // street, building, room
	PostalCode string
}

// Validate checks the address as checkout does, for a caller that stores
// one before it reaches the kernel: the error names the field under field.
func (a *Address) Validate(op, field string) error {
	c := checker{op: op}
	a.validate(&c, field)
	return c.err
}

func (a *Address) validate(c *checker, field string) {
	saved := c.prefix
	c.prefix = field
	if saved != "" {
		c.prefix = saved + "." + field
	}
	defer func() { c.prefix = saved }()
	c.text("name", a.Name, true, MaxNameLen)
	c.text("phone", a.Phone, true, 32)
	c.text("province", a.Province, false, MaxNameLen)
	c.text("city", a.City, false, MaxNameLen)
	c.text("district", a.District, false, MaxNameLen)
	c.text("detail", a.Detail, true, MaxShortTextLen)
	c.text("postal_code", a.PostalCode, false, 16)
}

// Shipment is how an order was sent: by express in one parcel (Carrier and
// TrackingNo) or several (Parcels: a split shipment, a group gift whose
// claimers each get theirs), or by one of the methods where nothing is
// tracked. Where the shop sells through a Mini Program, Carrier is the
// express company's code in WeChat's list (SF, YTO, ZTO...): the shipping
// info uploaded for the payment names it.
type Shipment struct {
	Method     ShipMethod `json:",omitempty"`
	Carrier    string
	TrackingNo string
	Parcels    []Parcel `json:",omitempty"`
}

// ShipMethod is how an order's goods reach the customer.
type ShipMethod string

// Ship methods.
const (
	ShipExpress  ShipMethod = ""          // a carrier's parcels (the default)
	ShipSameCity ShipMethod = "same_city" // a local courier
	ShipVirtual  ShipMethod = "virtual"   // nothing travels: stored value, coupons sold as products, services
	ShipPickup   ShipMethod = "pickup"    // the customer collects it at the shop
)

// Parcel is one parcel of an express shipment.
type Parcel struct {
	Carrier    string
	TrackingNo string
	// Items says what the parcel holds ("龙井 100 g ×2"); WeChat shows it
	// to the buyer. At most MaxParcelItemsLen characters.
	Items string `json:",omitempty"`
	// Contact is the masked phone of the receiver or sender
	// ("138****0000"), which some carriers' tracking needs (SF).
	Contact string `json:",omitempty"`
}

// Limits of a shipment: WeChat's shipping service takes at most 15
// parcels for one payment and 120 characters of item description.
const (
	MaxParcels        = 15
	MaxParcelItemsLen = 120
)

// ParcelList returns the shipment's parcels: Parcels, or the single parcel
// of Carrier and TrackingNo (none when neither is set).
func (s Shipment) ParcelList() []Parcel {
	if len(s.Parcels) > 0 {
		return s.Parcels
	}
	if s.Carrier == "" && s.TrackingNo == "" {
		return nil
	}
	return []Parcel{{Carrier: s.Carrier, TrackingNo: s.TrackingNo}}
}

// Equal reports whether two shipments are the same.
func (s Shipment) Equal(o Shipment) bool {
	return s.Method == o.Method && s.Carrier == o.Carrier && s.TrackingNo == o.TrackingNo && slices.Equal(s.Parcels, o.Parcels)
}

func (s *Shipment) validate(c *checker) {
	switch s.Method {
	case ShipExpress, ShipSameCity, ShipVirtual, ShipPickup:
	default:
		c.fail("shipment.method", "%q is not a ship method (express, same_city, virtual, pickup)", s.Method)
		return
	}
	c.text("shipment.carrier", s.Carrier, false, MaxNameLen)
	c.text("shipment.tracking_no", s.TrackingNo, false, MaxKeyLen)
	if len(s.Parcels) > 0 && (s.Carrier != "" || s.TrackingNo != "") {
		c.fail("shipment.parcels", "given with shipment.carrier or tracking_no: name every parcel in parcels")
	}
	if len(s.Parcels) > MaxParcels {
		c.fail("shipment.parcels", "%d parcels, at most %d", len(s.Parcels), MaxParcels)
	}
	if s.Method != ShipExpress && (s.Carrier != "" || s.TrackingNo != "" || len(s.Parcels) > 0) {
		c.fail("shipment.method", "%s carries no carrier, tracking number or parcels (only express does)", s.Method)
	}
	seen := map[string]bool{}
	for i, p := range s.Parcels {
		f := fmt.Sprintf("shipment.parcels[%d]", i)
		c.text(f+".carrier", p.Carrier, true, MaxNameLen)
		c.text(f+".tracking_no", p.TrackingNo, true, MaxKeyLen)
		c.text(f+".items", p.Items, false, MaxParcelItemsLen)
		c.text(f+".contact", p.Contact, false, 32)
		if k := p.Carrier + "\x00" + p.TrackingNo; seen[k] {
			c.fail(f+".tracking_no", "%q is given twice", p.TrackingNo)
		} else {
			seen[k] = true
		}
	}
}

// RefundStatus is where a refund is.
type RefundStatus string

// Refund statuses: a refund is pending until the payment channel confirms it.
const (
	RefundPending   RefundStatus = "pending"
	RefundSucceeded RefundStatus = "succeeded"
	RefundFailed    RefundStatus = "failed"
)

// Refund gives back part or all of what an order took.
type Refund struct {
	ID     RefundID
	Status RefundStatus
	Reason string
	Lines  []RefundLine
	// Shipping is the shipping fee returned: only when nothing had shipped
	// and this refund returns the last units.
	Shipping Money
	// Amount is the money returned to the payer: Σ Lines[i].Amount +
	// Shipping - Withheld.
	Amount Money
	// Tenders[i] is the part of Amount that goes back to Order.Tenders[i]
	// (see Channel for the rest); empty for an order without tenders.
	Tenders []Money `json:",omitempty"`
	// Withheld is what a RefundPolicy held back of this refund (the units
	// kept no longer qualify for a discount they got), or, when negative,
	// what it gives back of earlier holdings. Unset without a policy.
	Withheld Money
	// Restock says the units go back on sale when the refund succeeds (they
	// never left the warehouse).
	Restock        bool
	IdempotencyKey string
	ProviderRef    string // the channel's refund reference
	FailureReason  string
	Created        time.Time
	Resolved       time.Time
}

// RefundLine is what a refund returns of one order line.
type RefundLine struct {
	Line     int // index into Order.Lines
	Quantity int64
	Amount   Money // money returned for these units
	// Adjustments[k] is the share of Order.Adjustments[k] these units give
	// back (a coupon's value, points spent).
	Adjustments []Money
	// Tenders[i] is the part of Amount that goes back to Order.Tenders[i]
	// (the rest goes through the channel); empty for an order without
	// tenders. Refund.Tenders[i] is spread over the refund's lines and its
	// shipping in proportion to their amounts, so Σ over lines of
	// Tenders[i] is Refund.Tenders[i] less shipping's part, and no line
	// sends its tenders more than its Amount.
	Tenders []Money `json:",omitempty"`
}

// Clone returns a deep copy. Empty slices stay nil (and nil ones nil): every
// store reads back an order exactly as it was written, empty slices as nil.
// The per-line slices share two allocations (see arena): stores clone an
// order on every write and read, and a three-line order with two
// adjustments otherwise took over a dozen.
func (o *Order) Clone() *Order {
	cp := *o
	var nm, na int
	for _, l := range o.Lines {
		nm += len(l.Adjustments) + len(l.RefundedAdjustments)
		na += len(l.Attributes)
	}
	for _, a := range o.Adjustments {
		nm += len(a.Split)
	}
	for _, r := range o.Refunds {
		for _, rl := range r.Lines {
			nm += len(rl.Adjustments) + len(rl.Tenders)
		}
	}
	money, attrs := newArena[Money](nm), newArena[Attribute](na)
	cp.Lines = make([]OrderLine, len(o.Lines))
	for i, l := range o.Lines {
		l.Attributes = attrs.clone(l.Attributes)
		l.Adjustments = money.clone(l.Adjustments)
		l.RefundedAdjustments = money.clone(l.RefundedAdjustments)
		cp.Lines[i] = l
	}
	cp.Adjustments = slices.Clone(o.Adjustments)
	for i := range cp.Adjustments {
		cp.Adjustments[i].Split = money.clone(cp.Adjustments[i].Split)
	}
	if o.Gift != nil {
		cp.Gift = o.Gift.clone()
	}
	if o.Group != nil {
		g := *o.Group
		cp.Group = &g
	}
	if o.ShippingAddress != nil {
		a := *o.ShippingAddress
		cp.ShippingAddress = &a
	}
	if o.Shipment != nil {
		s := *o.Shipment
		s.Parcels = slices.Clone(s.Parcels)
		cp.Shipment = &s
	}
	if o.Metadata != nil {
		cp.Metadata = make(map[string]string, len(o.Metadata))
		for k, v := range o.Metadata {
			cp.Metadata[k] = v
		}
	}
	cp.Tenders = slices.Clone(o.Tenders)
	cp.Refunds = slices.Clone(o.Refunds)
	for i := range cp.Refunds {
		r := &cp.Refunds[i]
		r.Tenders = slices.Clone(r.Tenders)
		r.Lines = slices.Clone(r.Lines)
		for j := range r.Lines {
			r.Lines[j].Adjustments = money.clone(r.Lines[j].Adjustments)
			r.Lines[j].Tenders = money.clone(r.Lines[j].Tenders)
		}
	}
	return &cp
}

// arena hands out copies of many small slices from one allocation. Each
// copy is capped at its length, so appending to one reallocates it instead
// of writing into the next.
type arena[T any] struct{ free []T }

func newArena[T any](n int) arena[T] {
	if n == 0 {
		return arena[T]{}
	}
	return arena[T]{free: make([]T, n)}
}

// clone is slices.Clone from the arena: nil stays nil, empty stays empty.
func (a *arena[T]) clone(s []T) []T {
	if len(s) == 0 {
		return slices.Clone(s)
	}
	out := a.take(len(s))
	copy(out, s)
	return out
}

// take hands out n zero elements, capped like clone's copies.
func (a *arena[T]) take(n int) []T {
	out := a.free[:n:n]
	a.free = a.free[n:]
	return out
}

// Refund returns the refund with the given ID.
func (o *Order) Refund(id RefundID) (*Refund, bool) {
	for i := range o.Refunds {
		if o.Refunds[i].ID == id {
			return &o.Refunds[i], true
		}
	}
	return nil, false
}

// Refunded returns the money refunded so far (succeeded refunds only).
func (o *Order) Refunded() Money {
	total := Zero(o.Currency)
	for _, r := range o.Refunds {
		if r.Status == RefundSucceeded {
			total = total.plus(r.Amount)
		}
	}
	return total
}

// PendingRefunds reports whether a refund awaits the payment channel.
func (o *Order) PendingRefunds() bool {
	for _, r := range o.Refunds {
		if r.Status == RefundPending {
			return true
		}
	}
	return false
}

// PendingRefundSince is when the oldest refund still pending was asked for,
// zero when none is: stores index it so the payment service can find kernel
// refunds whose hand-off to the channel was lost (see payment's RunDue).
func (o *Order) PendingRefundSince() time.Time {
	var since time.Time
	for _, r := range o.Refunds {
		if r.Status == RefundPending && (since.IsZero() || r.Created.Before(since)) {
			since = r.Created
		}
	}
	return since
}

func (o *Order) check(action OrderAction) error {
	if !o.Status.Can(action) {
		return &Error{Op: "commerce." + string(action), Kind: KindFailedPrecondition,
			Err: &TransitionError{Order: o.ID, From: o.Status, Action: actionVerb(action)}}
	}
	return nil
}

func actionVerb(a OrderAction) string {
	switch a {
	case ActionPay:
		return "pay"
	case ActionAcceptGift:
		return "accept the gift of"
	case ActionSwitchSKU:
		return "switch the gift SKU of"
	case ActionFormGroup:
		return "form the group of"
	case ActionShip:
		return "ship"
	case ActionReceive:
		return "confirm receipt of"
	case ActionComplete:
		return "complete"
	case ActionCancel:
		return "cancel"
	case ActionRefund:
		return "refund"
	}
	return string(a)
}

// Timing is when orders move on their own; see Config.
type Timing struct {
	PaymentTimeout   time.Duration
	AutoReceiveAfter time.Duration
	AfterSalesWindow time.Duration
}

// The pure transitions. Each checks the state machine, changes the order and
// leaves storing, events and hooks to the service.

func (o *Order) pay(ref string, amount Money, now time.Time) error {
	if err := o.check(ActionPay); err != nil {
		return err
	}
	if due := o.Due(); !amount.Equal(due) {
		if len(o.Tenders) > 0 {
			return &Error{Op: "commerce.mark_paid", Kind: KindFailedPrecondition, Field: "amount",
				Err: fmt.Errorf("order %s: paid %s, the channel's part of the total is %s", o.ID, amount, due)}
		}
		return &Error{Op: "commerce.mark_paid", Kind: KindFailedPrecondition, Field: "amount",
			Err: fmt.Errorf("order %s: paid %s, order total is %s", o.ID, amount, o.Total)}
	}
	o.PaymentRef, o.Paid, o.PaidAt = ref, amount, now
	o.Status, o.DueAt = StatusPaid, time.Time{}
	switch {
	case o.Group != nil:
		o.Status = StatusAwaitingGroup
	case o.Gift != nil && o.Gift.Recipient == "":
		o.Status = StatusAwaitingRecipient
	}
	return nil
}

func (o *Order) formGroup(short bool) error {
	if err := o.check(ActionFormGroup); err != nil {
		return err
	}
	if o.PendingRefunds() || o.allRefunding() {
		// A member leaving the group (refunded) is not part of it.
		return Errorf("commerce.form_group", KindFailedPrecondition, "order %s is being refunded", o.ID)
	}
	o.Group.Short = short
	o.Status = StatusPaid
	return nil
}

func (o *Order) acceptGift(recipient CustomerID, addr Address) error {
	if err := o.check(ActionAcceptGift); err != nil {
		return err
	}
	for _, r := range o.Refunds {
		if r.Status != RefundFailed {
			// A gift being refunded (it expired) is no longer there to take.
			return Errorf("commerce.accept_gift", KindFailedPrecondition, "order %s is being refunded", o.ID)
		}
	}
	if o.Gift.Slots > 0 {
		return Errorf("commerce.accept_gift", KindFailedPrecondition, "order %s is a group gift: its lines are claimed one by one (AssignGiftLines)", o.ID)
	}
	o.Gift.Recipient = recipient
	o.ShippingAddress = &addr
	o.Status = StatusPaid
	return nil
}

func (o *Order) ship(s *Shipment, now time.Time, t Timing) error {
	if err := o.check(ActionShip); err != nil {
		return err
	}
	// A pending refund was planned for an unshipped order (its units go
	// back on sale, the delivery fee is returned): shipping now would make
	// that plan wrong. The merchant waits for the channel's answer.
	if o.PendingRefunds() {
		return Errorf("commerce.ship", KindFailedPrecondition, "order %s: a refund is still open", o.ID)
	}
	o.Shipment, o.ShippedAt = s, now
	o.Status, o.DueAt = StatusShipped, now.Add(t.AutoReceiveAfter)
	return nil
}

func (o *Order) receive(now time.Time, t Timing) error {
	if err := o.check(ActionReceive); err != nil {
		return err
	}
	o.ReceivedAt = now
	o.Status, o.DueAt = StatusReceived, now.Add(t.AfterSalesWindow)
	return nil
}

func (o *Order) complete(now time.Time) error {
	if err := o.check(ActionComplete); err != nil {
		return err
	}
	if o.PendingRefunds() {
		return Errorf("commerce.complete", KindFailedPrecondition, "order %s: a refund is still open", o.ID)
	}
	o.CompletedAt = now
	o.Status, o.DueAt = StatusCompleted, time.Time{}
	return nil
}

func (o *Order) cancel(reason string, now time.Time) error {
	if err := o.check(ActionCancel); err != nil {
		return err
	}
	o.CancelReason, o.CancelledAt = reason, now
	o.Status, o.DueAt = StatusCancelled, time.Time{}
	return nil
}

// RefundItem asks to refund Quantity units of order line Line.
type RefundItem struct {
	Line     int
	Quantity int64
}

// planRefund computes a refund of items (all remaining units when items is
// empty) from the stored per-line figures and reserves the units on the
// order. Amounts are cumulative: after refunding J of a line's Q units in any
// number of refunds, the refunds sum to round_half_up(Payable × J / Q), and
// the refund of the last unit takes exactly what is left, so rounding never
// drifts and nothing is refunded twice.
func (o *Order) planRefund(id RefundID, items []RefundItem, reason, key string, now time.Time) (*Refund, error) {
	const op = "commerce.refund"
	if err := o.check(ActionRefund); err != nil {
		return nil, err
	}
	if len(items) == 0 {
		for i, l := range o.Lines {
			if left := l.Quantity - l.RefundedQuantity; left > 0 {
				items = append(items, RefundItem{Line: i, Quantity: left})
			}
		}
		if len(items) == 0 {
			return nil, &Error{Op: op, Kind: KindFailedPrecondition, Err: fmt.Errorf("%w: every unit is already refunded or being refunded", ErrRefundExceeded)}
		}
	}
	seen := make(map[int]bool, len(items))
	r := &Refund{ID: id, Status: RefundPending, Reason: reason, IdempotencyKey: key, Created: now,
		Shipping: Zero(o.Currency), Amount: Zero(o.Currency),
		Restock: o.Status == StatusPaid || o.Status == StatusAwaitingRecipient || o.Status == StatusAwaitingGroup}
	for i, it := range items {
		f := fmt.Sprintf("items[%d]", i)
		if it.Line < 0 || it.Line >= len(o.Lines) {
			return nil, Invalid(op, f+".line", "order has no line %d", it.Line)
		}
		if seen[it.Line] {
			return nil, Invalid(op, f+".line", "line %d appears twice", it.Line)
		}
		seen[it.Line] = true
		l := &o.Lines[it.Line]
		if it.Quantity < 1 {
			return nil, Invalid(op, f+".quantity", "%d is not positive", it.Quantity)
		}
		if left := l.Quantity - l.RefundedQuantity; it.Quantity > left {
			return nil, &Error{Op: op, Kind: KindFailedPrecondition, Field: f + ".quantity",
				Err: fmt.Errorf("%w: %d units asked, %d of %d left", ErrRefundExceeded, it.Quantity, left, l.Quantity)}
		}
		done := l.RefundedQuantity + it.Quantity
		rl := RefundLine{Line: it.Line, Quantity: it.Quantity,
			Amount: cumulativeShare(l.Payable, l.Refunded, done, l.Quantity)}
		rl.Adjustments = make([]Money, len(l.Adjustments))
		for k, share := range l.Adjustments {
			rl.Adjustments[k] = cumulativeShare(share, l.RefundedAdjustments[k], done, l.Quantity)
		}
		r.Lines = append(r.Lines, rl)
		r.Amount = r.Amount.plus(rl.Amount)
	}
	// Apply after every item passed, so a bad item changes nothing.
	for _, rl := range r.Lines {
		l := &o.Lines[rl.Line]
		l.RefundedQuantity += rl.Quantity
		l.Refunded = l.Refunded.plus(rl.Amount)
		for k := range l.RefundedAdjustments {
			l.RefundedAdjustments[k] = l.RefundedAdjustments[k].plus(rl.Adjustments[k])
		}
	}
	// Shipping goes back with the last units, only if nothing shipped, and
	// once: not when a refund that has not failed already carries it.
	if r.Restock && o.allRefunding() && !o.shippingRefunding() {
		r.Shipping = o.Shipping.minus(o.ShippingDiscount).in(o.Currency)
		r.Amount = r.Amount.plus(r.Shipping)
	}
	o.Refunds = append(o.Refunds, *r)
	o.settleGroupGift()
	return r, nil
}

// withhold sets what the order holds back in total after its newest refund
// to target: the newest refund gives that much less (or, when target fell,
// more), never going below zero.
func (o *Order) withhold(target Money) (*Refund, error) {
	r := &o.Refunds[len(o.Refunds)-1]
	if target.cur != o.Currency || target.IsNegative() {
		return nil, Errorf("commerce.refund", KindInternal, "refund policy: withhold %s on an order in %s", target, o.Currency)
	}
	cur := Zero(o.Currency)
	if o.Withheld.IsSet() {
		cur = o.Withheld
	}
	delta := target.minus(cur).in(o.Currency)
	if delta.cmp(r.Amount) > 0 {
		delta = r.Amount.in(o.Currency) // a refund never goes negative
	}
	r.Withheld = delta
	r.Amount = r.Amount.minus(delta)
	o.Withheld = cur.plus(delta).in(o.Currency)
	cp := *r
	return &cp, nil
}

// cumulativeShare is what refunding up to done of qty units adds to a line
// amount whole of which given has already been returned.
func cumulativeShare(whole, given Money, done, qty int64) Money {
	if done >= qty {
		return whole.minus(given)
	}
	target := FromMinor(MulDivHalfUp(whole.mustMinor(), done, qty), whole.cur)
	d := target.minus(given)
	if d.IsNegative() {
		// A failed refund in between can leave given ahead of the target
		// for a moment; the next refunds catch up, none goes negative.
		return Zero(whole.cur)
	}
	return d
}

// shippingRefunding reports whether a pending or succeeded refund carries
// the shipping fee.
func (o *Order) shippingRefunding() bool {
	for _, r := range o.Refunds {
		if r.Status != RefundFailed && r.Shipping.IsSet() && !r.Shipping.IsZero() {
			return true
		}
	}
	return false
}

func (o *Order) allRefunding() bool {
	for _, l := range o.Lines {
		if l.RefundedQuantity < l.Quantity {
			return false
		}
	}
	return true
}

// resolveRefund records the channel's answer. A failed refund gives its units
// back to the order so they can be refunded again.
func (o *Order) resolveRefund(id RefundID, ok bool, providerRef, failure string, now time.Time) (*Refund, error) {
	const op = "commerce.confirm_refund"
	r, found := o.Refund(id)
	if !found {
		return nil, &Error{Op: op, Kind: KindNotFound, Err: fmt.Errorf("order %s has no refund %s", o.ID, id)}
	}
	if r.Status != RefundPending {
		return r, nil // already resolved: applying the same answer twice changes nothing
	}
	r.ProviderRef, r.Resolved = providerRef, now
	if !ok {
		r.Status, r.FailureReason = RefundFailed, failure
		o.unrefundTenders(r)
		if r.Withheld.IsSet() && o.Withheld.IsSet() {
			o.Withheld = o.Withheld.minus(r.Withheld)
		}
		for _, rl := range r.Lines {
			l := &o.Lines[rl.Line]
			l.RefundedQuantity -= rl.Quantity
			l.Refunded = l.Refunded.minus(rl.Amount)
			for k := range l.RefundedAdjustments {
				l.RefundedAdjustments[k] = l.RefundedAdjustments[k].minus(rl.Adjustments[k])
			}
		}
		return r, nil
	}
	r.Status = RefundSucceeded
	if o.allRefunding() && !o.PendingRefunds() {
		o.Status, o.DueAt = StatusRefunded, time.Time{}
	}
	return r, nil
}
