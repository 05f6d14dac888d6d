package commerce

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Group gifts and merchant-paid gifts: the kernel's part. The gifting
// package decides who claims which line and when; the kernel keeps the
// money exact (each line's share of what was paid) and the state machine.

// MaxGiftSlots bounds a group gift's units.
const MaxGiftSlots = 1000

// KindMerchantGift is the adjustment by which a merchant pays for a free gift.
const KindMerchantGift AdjustmentKind = "merchant_gift"

func (g *Gift) clone() *Gift {
	cp := *g
	cp.Claims = slices.Clone(g.Claims)
	for i, c := range cp.Claims {
		if c.Address != nil {
			a := *c.Address
			cp.Claims[i].Address = &a
		}
	}
	return &cp
}

func (g *Gift) validate(c *checker, lines []LineItem) {
	switch {
	case g.Slots < 0:
		c.fail("gift.slots", "%d is negative", g.Slots)
	case g.Slots > MaxGiftSlots:
		c.fail("gift.slots", "%d is more than %d", g.Slots, MaxGiftSlots)
	case g.Slots > 0 && (len(lines) != 1 || lines[0].Quantity != int64(g.Slots)):
		c.fail("lines", "a group gift of %d slots is one line of %d units", g.Slots, g.Slots)
	}
	if len(g.Claims) > 0 {
		c.fail("gift.claims", "set when lines are claimed, not at checkout")
	}
}

// merchantPays takes what the quote still costs off it: every line's
// payable and the shipping left. It runs after the pipeline, so the
// adjustments before it (a member price, say) still show in the order.
func (q *Quote) merchantPays(op string) error {
	split := make([]Money, len(q.Lines))
	total := Zero(q.Currency)
	for i, l := range q.Lines {
		split[i] = l.Payable
		total = total.plus(l.Payable)
	}
	if err := q.apply(op, Adjustment{Kind: KindMerchantGift, Target: TargetItems, Source: "commerce",
		Label: "paid by the merchant", Amount: total, Split: split}); err != nil {
		return err
	}
	if left := q.Shipping.minus(q.ShippingDiscount).in(q.Currency); left.IsPositive() {
		return q.apply(op, Adjustment{Kind: KindMerchantGift, Target: TargetShipping, Source: "commerce",
			Label: "shipping paid by the merchant", Amount: left})
	}
	return nil
}

// splitGift turns a group gift's one line of Slots units into Slots lines
// of one unit. Each amount of the line (its discount shares, hence its
// payable) is split evenly in whole minor units; the leftover minor units
// of successive amounts go to successive lines, round robin, so no line
// pays more than one minor unit more than another and the lines sum to
// the original exactly.
func (o *Order) splitGift() error {
	n := o.Gift.Slots
	if n == 0 {
		return nil
	}
	if len(o.Lines) != 1 || o.Lines[0].Quantity != int64(n) {
		return Errorf("commerce.checkout", KindInternal, "group gift of %d slots priced as %d lines", n, len(o.Lines))
	}
	src := o.Lines[0]
	lines := make([]OrderLine, n)
	for i := range lines {
		l := src
		l.Attributes = slices.Clone(src.Attributes)
		l.Quantity, l.Total = 1, src.UnitPrice
		l.Discount = Zero(o.Currency)
		l.Adjustments = make([]Money, len(src.Adjustments))
		l.RefundedAdjustments = make([]Money, len(src.Adjustments))
		for k := range src.RefundedAdjustments {
			l.RefundedAdjustments[k] = Zero(o.Currency)
		}
		lines[i] = l
	}
	next := 0 // the line the next leftover minor unit goes to
	for k, a := range src.Adjustments {
		whole := a.mustMinor()
		each, left := whole/int64(n), int(whole%int64(n))
		split := make([]Money, n)
		for i := range lines {
			part := each
			if (i-next+n)%n < left {
				part++
			}
			split[i] = FromMinor(part, o.Currency)
			lines[i].Adjustments[k] = split[i]
			lines[i].Discount = lines[i].Discount.plus(split[i])
		}
		next = (next + left) % n
		if o.Adjustments[k].Target == TargetItems {
			o.Adjustments[k].Split = split
		}
	}
	for i := range lines {
		lines[i].Payable = lines[i].Total.minus(lines[i].Discount).in(o.Currency)
		if lines[i].Payable.IsNegative() {
			return Errorf("commerce.checkout", KindInternal, "group gift line %d would pay %s", i, lines[i].Payable)
		}
	}
	o.Lines = lines
	o.Gift.Claims = make([]GiftClaim, n)
	return nil
}

// settleGroupGift moves a group gift waiting for its claimers to paid (to
// ship) once every line is claimed or being refunded and at least one is
// claimed. With none claimed it stays, and its refund closes it.
func (o *Order) settleGroupGift() {
	if o.Status != StatusAwaitingRecipient || o.Gift == nil || o.Gift.Slots == 0 {
		return
	}
	claimed := 0
	for i, l := range o.Lines {
		switch {
		case o.Gift.Claims[i].Recipient != "":
			claimed++
		case l.RefundedQuantity < l.Quantity:
			return
		}
	}
	if claimed > 0 {
		o.Status = StatusPaid
	}
}

// AssignGiftLinesParams names the claimers of group-gift lines.
type AssignGiftLinesParams struct {
	MerchantID MerchantID
	OrderID    OrderID
	// Claims maps a line to who claimed it and their address.
	Claims map[int]GiftClaim
}

// AssignGiftLines records who claimed which lines of a paid group gift.
// A line is claimed once, and not while it is being refunded; when every
// line is claimed or refunded the order moves on to be shipped. The gifting
// package decides who may claim and until when.
//
// Safe to retry: when every line given is claimed already by the same
// recipient with the same address, it returns the order, changing nothing;
// a line claimed by someone else is a conflict.
func (s *Service) AssignGiftLines(ctx context.Context, p AssignGiftLinesParams) (*Order, error) {
	const op = "commerce.assign_gift_lines"
	if err := CheckID(op, "merchant_id", p.MerchantID); err != nil {
		return nil, err
	}
	c := checker{op: op}
	lines := make([]int, 0, len(p.Claims))
	for line, cl := range p.Claims {
		lines = append(lines, line)
		f := fmt.Sprintf("claims[%d]", line)
		c.customer(f+".recipient", cl.Recipient)
		if cl.Address == nil {
			c.fail(f+".address", "required")
		} else {
			cl.Address.validate(&c, f+".address")
		}
	}
	if len(p.Claims) == 0 {
		c.fail("claims", "none given")
	}
	if c.err != nil {
		return nil, c.err
	}
	slices.Sort(lines)
	o, _, err := s.change(ctx, op, p.MerchantID, p.OrderID, ActionAcceptGift, func(o *Order, now time.Time) (*Refund, error) {
		if o.Gift == nil || o.Gift.Slots == 0 {
			return nil, Errorf(op, KindFailedPrecondition, "order %s is not a group gift", o.ID)
		}
		if o.claimedAlready(p.Claims) {
			// A retry whose first call committed (maybe the claim that
			// moved the order on to paid): the claims are there.
			return nil, errUnchanged
		}
		if err := o.check(ActionAcceptGift); err != nil {
			return nil, err
		}
		for _, line := range lines {
			f := fmt.Sprintf("claims[%d]", line)
			switch {
			case line < 0 || line >= len(o.Lines):
				return nil, Invalid(op, f, "order has no line %d", line)
			case o.Gift.Claims[line].Recipient != "":
				return nil, &Error{Op: op, Kind: KindConflict, Field: f, Err: fmt.Errorf("line %d is claimed by someone", line)}
			case o.Lines[line].RefundedQuantity > 0:
				return nil, &Error{Op: op, Kind: KindFailedPrecondition, Field: f, Err: fmt.Errorf("line %d is being refunded", line)}
			}
		}
		for _, line := range lines {
			cl := p.Claims[line]
			a := *cl.Address
			o.Gift.Claims[line] = GiftClaim{Recipient: cl.Recipient, Address: &a}
		}
		o.settleGroupGift()
		return nil, nil
	})
	return o, err
}

// claimedAlready reports whether every claim is recorded on the order as
// given: same line, recipient and address.
func (o *Order) claimedAlready(claims map[int]GiftClaim) bool {
	for line, cl := range claims {
		if line < 0 || line >= len(o.Gift.Claims) {
			return false
		}
		got := o.Gift.Claims[line]
		if got.Recipient != cl.Recipient || got.Address == nil || cl.Address == nil || *got.Address != *cl.Address {
			return false
		}
	}
	return len(claims) > 0
}
