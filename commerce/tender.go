package commerce

import (
	"fmt"
	"math/bits"
	"slices"
)

// A Tender is a part of an order's total that a plugin's instrument paid at
// checkout (a stored-value balance, a gift card) instead of the payment
// channel. The plugin takes the money in its checkout hook, in the checkout
// transaction, with a guarded write (so two orders never spend the same
// yuan), and records it with Order.AddTender; the channel then collects
// only Order.Due. An order whose tenders cover the whole total is paid at
// checkout. The plugin gives the money back in its order hook: all of it
// when the order is cancelled unpaid (ActionCancel), Refund.Tenders[i]
// when a refund succeeds (ActionRefundOK).
type Tender struct {
	// Plugin names the plugin that took the money ("storedvalue").
	Plugin string
	// Ref is the instrument within the plugin (an account, a card).
	Ref    string
	Amount Money
	// Refunded is what succeeded and pending refunds give back to it.
	Refunded Money
}

// Due is what the payment channel collects for the order: its total less
// what tenders paid.
func (o *Order) Due() Money {
	d := o.Total
	for _, t := range o.Tenders {
		d = d.minus(t.Amount)
	}
	return d.in(o.Currency)
}

// AddTender records, from a checkout hook, that the plugin's instrument ref
// paid amount of the order's total. The hook must have taken the money in
// the same transaction. Tenders never pay more than the total.
func (o *Order) AddTender(plugin, ref string, amount Money) error {
	const op = "commerce.add_tender"
	c := checker{op: op}
	c.key("plugin", plugin, true, MaxKeyLen)
	c.key("ref", ref, true, MaxKeyLen)
	if c.err != nil {
		return c.err
	}
	switch {
	case o.Status != StatusPendingPayment || !o.PaidAt.IsZero() || o.Version != 1:
		return Errorf(op, KindInternal, "order %s: a tender is added by a checkout hook, before the order is stored", o.ID)
	case !amount.IsPositive() || amount.cur != o.Currency:
		return Invalid(op, "amount", "%s is not a positive amount in %s", amount, o.Currency)
	case amount.cmp(o.Due()) > 0:
		return &Error{Op: op, Kind: KindFailedPrecondition, Field: "amount",
			Err: fmt.Errorf("a tender of %s is more than the %s left to pay", amount, o.Due())}
	}
	o.Tenders = append(o.Tenders, Tender{Plugin: plugin, Ref: ref, Amount: amount, Refunded: Zero(o.Currency)})
	return nil
}

// Channel is what a refund returns through the payment channel: its amount
// less what goes back to the order's tenders.
func (r *Refund) Channel() Money {
	c := r.Amount
	for _, t := range r.Tenders {
		c = c.minus(t)
	}
	return c.in(c.cur)
}

// splitTenders divides the newest refund between the order's tenders and
// the channel, in proportion to what each paid, on cumulative amounts:
// after every refund, tender i has got back floor(paid_i × refunded /
// total), where refunded is what all refunds that have not failed return,
// and the channel the rest. Cumulative rounding makes the parts of many
// partial refunds add up, and a full refund return each exactly what it
// paid; no instrument ever gets back more than it paid (a part the
// proportion would give an instrument past that goes to the others, in
// order). It returns a copy of the refund.
func (o *Order) splitTenders() *Refund {
	r := &o.Refunds[len(o.Refunds)-1]
	if len(o.Tenders) == 0 {
		cp := *r
		return &cp
	}
	cur := o.Currency
	refunded := Zero(cur) // by every refund that has not failed, r included
	for _, rr := range o.Refunds {
		if rr.Status != RefundFailed {
			refunded = refunded.plus(rr.Amount)
		}
	}
	total := o.Total.mustMinor()
	cum := refunded.mustMinor()
	left := r.Amount.mustMinor()
	parts := make([]int64, len(o.Tenders))
	room := make([]int64, len(o.Tenders))
	for i, t := range o.Tenders {
		paid, got := t.Amount.mustMinor(), t.Refunded.mustMinor()
		room[i] = paid - got
		target := min(MulDivFloor(paid, cum, total), paid)
		parts[i] = max(0, min(target-got, room[i], left))
		left -= parts[i]
	}
	// The channel takes the rest, up to what it collected less what it has
	// given back; anything past that goes to tenders with room.
	channelRoom := o.Due().mustMinor()
	for _, rr := range o.Refunds[:len(o.Refunds)-1] {
		if rr.Status != RefundFailed {
			channelRoom -= rr.Channel().mustMinor()
		}
	}
	for i := range parts {
		if left <= channelRoom {
			break
		}
		more := min(room[i]-parts[i], left-channelRoom)
		parts[i] += more
		left -= more
	}
	r.Tenders = make([]Money, len(parts))
	for i, p := range parts {
		r.Tenders[i] = FromMinor(p, cur)
		o.Tenders[i].Refunded = o.Tenders[i].Refunded.plus(r.Tenders[i]).in(cur)
	}
	r.spreadTenders(parts)
	cp := *r
	return &cp
}

// spreadTenders divides each tender's part of the refund over its lines
// and its shipping (RefundLine.Tenders), in proportion to their amounts on
// cumulative amounts rounded down, so the parts of one tender add up to
// its part of the refund; a segment takes no more than its amount across
// tenders (the tender's rest goes to the next with room). What no segment
// has room for (a refund that gives back earlier withholdings returns more
// than its lines) stays with the refund, on no line.
func (r *Refund) spreadTenders(parts []int64) {
	seg := make([]int64, len(r.Lines)+1) // the lines, then shipping
	var gross int64
	for j, l := range r.Lines {
		seg[j] = max(l.Amount.mustMinor(), 0)
		gross += seg[j]
	}
	if r.Shipping.IsSet() {
		seg[len(r.Lines)] = max(r.Shipping.mustMinor(), 0)
		gross += seg[len(r.Lines)]
	}
	room := slices.Clone(seg)
	spread := make([][]int64, len(r.Lines))
	for j := range spread {
		spread[j] = make([]int64, len(parts))
	}
	for i, part := range parts {
		left, cum, given := part, int64(0), int64(0)
		if gross > 0 {
			share := min(part, gross)
			for j := range seg {
				cum += seg[j]
				p := min(max(MulDivFloor(share, cum, gross)-given, 0), room[j], left)
				if j < len(r.Lines) {
					spread[j][i] += p
				}
				room[j] -= p
				given += p
				left -= p
			}
		}
		for j := range seg {
			if left == 0 {
				break
			}
			p := min(room[j], left)
			if j < len(r.Lines) {
				spread[j][i] += p
			}
			room[j] -= p
			left -= p
		}
	}
	cur := r.Amount.cur
	for j := range r.Lines {
		r.Lines[j].Tenders = make([]Money, len(parts))
		for i, p := range spread[j] {
			r.Lines[j].Tenders[i] = FromMinor(p, cur)
		}
	}
}

// unrefundTenders gives a failed refund's tender parts back to the order's
// tenders, so a later refund can return them.
func (o *Order) unrefundTenders(r *Refund) {
	for i, t := range r.Tenders {
		if i < len(o.Tenders) {
			o.Tenders[i].Refunded = o.Tenders[i].Refunded.minus(t).in(o.Currency)
		}
	}
}

// MulDivFloor is a × b / c rounded down, for non-negative a ≤ c, b and
// positive c, without overflow in the product.
func MulDivFloor(a, b, c int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	q, _ := bits.Div64(hi, lo, uint64(c))
	return int64(q)
}
