package commerce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/minishop/minishop/internal/jsonenc"
)

// GetOrder returns one of the merchant's orders.
func (s *Service) GetOrder(ctx context.Context, merchant MerchantID, id OrderID) (*Order, error) {
	if err := CheckID("commerce.get_order", "merchant_id", merchant); err != nil {
		return nil, err
	}
	o, err := s.store.GetOrder(ctx, merchant, id)
	return o, NotFoundAs("commerce.get_order", "order_id", err)
}

// ListOrders pages through a merchant's orders.
func (s *Service) ListOrders(ctx context.Context, merchant MerchantID, q OrderQuery) ([]*Order, error) {
	if err := CheckID("commerce.list_orders", "merchant_id", merchant); err != nil {
		return nil, err
	}
	if err := CheckKey("commerce.list_orders", "customer", string(q.Customer), false, MaxKeyLen); err != nil {
		return nil, err
	}
	os, err := s.store.ListOrders(ctx, merchant, q)
	return os, Wrap("commerce.list_orders", err)
}

// change applies fn to an order in a transaction, then runs the order hooks
// and writes the outbox event for action, all or nothing. fn returns the
// refund the change concerns, if any. A fn that returns errUnchanged leaves
// the order as it was and reports no error (a repeated request).
func (s *Service) change(ctx context.Context, op string, merchant MerchantID, id OrderID, action OrderAction,
	fn func(o *Order, now time.Time) (*Refund, error)) (*Order, *Refund, error) {
	var out *Order
	var refund *Refund
	err := s.inTx(ctx, op, func(ctx context.Context) error {
		unchanged := false
		now := s.now()
		err := s.store.UpdateOrder(ctx, merchant, id, func(o *Order) error {
			r, err := fn(o, now)
			if err == errUnchanged {
				unchanged, out, refund = true, o, r
				return err
			}
			if err != nil {
				return err
			}
			o.Updated = now
			out, refund = o, r
			return nil
		})
		if unchanged {
			return nil
		}
		if err != nil {
			return NotFoundAs(op, "order_id", err)
		}
		return s.after(ctx, out, action, refund)
	})
	if err != nil {
		return nil, nil, err
	}
	return out, refund, nil
}

// errUnchanged tells change that a request was already applied.
var errUnchanged = fmt.Errorf("unchanged")

// after puts back stock and purchase counts the change frees, runs the
// order hooks and writes the event of a change, in the change's transaction.
func (s *Service) after(ctx context.Context, o *Order, action OrderAction, r *Refund) error {
	var units []StockChange
	restock := false
	switch {
	case action == ActionCancel:
		for _, l := range o.Lines {
			units = append(units, StockChange{SKU: l.SKU, Quantity: l.Quantity})
		}
		restock = true
	case action == ActionRefundOK && r != nil:
		for _, rl := range r.Lines {
			units = append(units, StockChange{SKU: o.Lines[rl.Line].SKU, Quantity: rl.Quantity})
		}
		restock = r.Restock
	}
	if len(units) > 0 {
		slices.SortFunc(units, func(a, b StockChange) int { return a.SKU.Compare(b.SKU) })
		if restock {
			// Units a plugin's pool holds go back to that pool, by the
			// plugin's order hook, not to the SKU.
			back := units
			if o.pooled() {
				back = make([]StockChange, 0, len(units))
				for _, u := range units {
					if !o.poolHolds(u.SKU) {
						back = append(back, u)
					}
				}
			}
			if len(back) > 0 {
				if err := s.store.ReleaseStock(ctx, o.MerchantID, back); err != nil {
					return Wrap("commerce."+string(action), err)
				}
			}
		}
		purchases := make([]PurchaseChange, len(units))
		for i, u := range units {
			purchases[i] = PurchaseChange{SKU: u.SKU, Quantity: u.Quantity}
		}
		if err := s.store.RemovePurchases(ctx, o.MerchantID, o.CustomerID, purchases); err != nil {
			return Wrap("commerce."+string(action), err)
		}
	}
	for _, h := range s.cfg.OrderHooks {
		if err := h.OrderChanged(ctx, OrderChange{Action: action, Order: o, Refund: r}); err != nil {
			return Wrap("commerce."+string(action), err)
		}
	}
	return s.emit(ctx, o, action, r)
}

// OrderEventPayload is the JSON payload of the "order.*" outbox events.
type OrderEventPayload struct {
	OrderID    OrderID     `json:"order_id"`
	CustomerID CustomerID  `json:"customer_id"`
	Status     OrderStatus `json:"status"`
	Total      Money       `json:"total"`
	Gift       bool        `json:"gift,omitempty"`
	Refund     *struct {
		ID     RefundID     `json:"id"`
		Status RefundStatus `json:"status"`
		Amount Money        `json:"amount"`
	} `json:"refund,omitempty"`
}

// appendJSON appends p as json.Marshal encodes it, without reflection
// (every order change writes one); ok is false when a string needs
// encoding/json's escaping, and the caller then uses it.
func (p *OrderEventPayload) appendJSON(b []byte) (_ []byte, ok bool) {
	b = append(b, `{"order_id":"`...)
	b = append(p.OrderID.appendText(b), `","customer_id":`...)
	if b, ok = jsonenc.String(b, string(p.CustomerID)); !ok {
		return nil, false
	}
	b = append(b, `,"status":`...)
	if b, ok = jsonenc.String(b, string(p.Status)); !ok {
		return nil, false
	}
	b = p.Total.appendJSON(append(b, `,"total":`...))
	if p.Gift {
		b = append(b, `,"gift":true`...)
	}
	if r := p.Refund; r != nil {
		b = append(b, `,"refund":{"id":"`...)
		b = append(r.ID.appendText(b), `","status":`...)
		if b, ok = jsonenc.String(b, string(r.Status)); !ok {
			return nil, false
		}
		b = append(r.Amount.appendJSON(append(b, `,"amount":`...)), '}')
	}
	return append(b, '}'), true
}

func (s *Service) emit(ctx context.Context, o *Order, action OrderAction, r *Refund) error {
	p := OrderEventPayload{OrderID: o.ID, CustomerID: o.CustomerID, Status: o.Status, Total: o.Total, Gift: o.Gift != nil}
	if r != nil {
		p.Refund = &struct {
			ID     RefundID     `json:"id"`
			Status RefundStatus `json:"status"`
			Amount Money        `json:"amount"`
		}{r.ID, r.Status, r.Amount}
	}
	b, ok := p.appendJSON(make([]byte, 0, 160))
	if !ok {
		var err error
		if b, err = json.Marshal(p); err != nil {
			return Wrap("commerce.emit", err)
		}
	}
	ev := Event{ID: s.ids.NewUUID(), Type: "order." + string(action), AggregateID: o.ID.String(),
		MerchantID: o.MerchantID, Payload: b, Time: s.now()}
	return Wrap("commerce.emit", s.store.AppendEvents(ctx, ev))
}

// MarkPaidParams records a payment.
type MarkPaidParams struct {
	MerchantID MerchantID
	OrderID    OrderID
	PaymentRef string // the channel's transaction ID (WeChat Pay transaction_id)
	Amount     Money  // what the channel says was paid: must equal the order total
	// Payer is what the payer paid in their own currency when a
	// cross-border channel converted it (CNY for a mainland wallet paying
	// an HKD shop); unset otherwise. The order records it beside Paid and
	// never adds it to its amounts.
	Payer Money
}

// MarkPaid records that an order was paid. The amount must equal the order's
// total. Marking an order paid again with the same reference changes nothing
// (payment notifications arrive more than once); with another reference it
// is a conflict: the order would be paid twice. A gift order goes to
// awaiting_recipient, a group-buy order to awaiting_group (or on to paid
// when its payment fills the group), any other to paid.
func (s *Service) MarkPaid(ctx context.Context, p MarkPaidParams) (*Order, error) {
	const op = "commerce.mark_paid"
	if err := CheckID(op, "merchant_id", p.MerchantID); err != nil {
		return nil, err
	}
	c := checker{op: op}
	c.key("payment_ref", p.PaymentRef, true, MaxKeyLen)
	if !p.Amount.IsSet() {
		c.fail("amount", "required")
	}
	if p.Payer.IsSet() && (p.Payer.IsNegative() || p.Amount.IsSet() && p.Payer.Currency() == p.Amount.Currency()) {
		c.fail("payer", "the payer's side of a cross-border payment is a positive amount in another currency than the order's")
	}
	if c.err != nil {
		return nil, c.err
	}
	o, _, err := s.change(ctx, op, p.MerchantID, p.OrderID, ActionPay, func(o *Order, now time.Time) (*Refund, error) {
		if o.PaymentRef != "" {
			if o.PaymentRef == p.PaymentRef {
				return nil, errUnchanged
			}
			return nil, &Error{Op: op, Kind: KindConflict, Field: "payment_ref",
				Err: fmt.Errorf("order %s was already paid with payment %s", o.ID, o.PaymentRef)}
		}
		if err := o.pay(p.PaymentRef, p.Amount, now); err != nil {
			return nil, err
		}
		o.PayerPaid = p.Payer
		return nil, nil
	})
	if err == nil && o.Group != nil {
		// The payment may have filled its group, whose forming (an order
		// hook) moved this order on again: answer with the order as it is.
		return s.GetOrder(ctx, p.MerchantID, p.OrderID)
	}
	return o, err
}

// pooled reports whether a line's units are held by a plugin's pool.
func (o *Order) pooled() bool {
	for _, l := range o.Lines {
		if l.StockPool != "" {
			return true
		}
	}
	return false
}

// poolHolds reports whether sku's line takes its units from a pool.
func (o *Order) poolHolds(sku SKUID) bool {
	for _, l := range o.Lines {
		if l.SKU == sku {
			return l.StockPool != ""
		}
	}
	return false
}

// FormGroup moves a group-buy order waiting in awaiting_group on to paid
// (to ship): the campaigns package calls it for every member's order in
// the transaction where the group's last place is paid, or at the group's
// deadline with short set when the activity lets the shop complete a group
// that fell short. Forming an order again changes nothing.
func (s *Service) FormGroup(ctx context.Context, merchant MerchantID, id OrderID, short bool) (*Order, error) {
	const op = "commerce.form_group"
	if err := CheckID(op, "merchant_id", merchant); err != nil {
		return nil, err
	}
	o, _, err := s.change(ctx, op, merchant, id, ActionFormGroup, func(o *Order, now time.Time) (*Refund, error) {
		if o.Group == nil {
			return nil, Errorf(op, KindFailedPrecondition, "order %s is not a group-buy order", o.ID)
		}
		switch o.Status {
		case StatusPaid, StatusShipped, StatusReceived, StatusCompleted:
			return nil, errUnchanged // formed already
		}
		return nil, o.formGroup(short)
	})
	return o, err
}

// AcceptGiftParams names the recipient of a gift order.
type AcceptGiftParams struct {
	MerchantID MerchantID
	OrderID    OrderID
	Recipient  CustomerID
	Address    Address
}

// AcceptGift binds a paid gift order to its recipient and their address;
// the order then follows the normal flow (paid, to ship). The gifting
// package decides who may accept and until when.
//
// Safe to retry: accepting again with the same recipient and address (the
// first call's answer was lost) returns the order as it is now (paid, or
// moved on since), changing nothing: a one-friend gift is accepted once, so
// that recipient and address can only come from this acceptance. Another
// recipient or address is refused with ErrIllegalTransition.
func (s *Service) AcceptGift(ctx context.Context, p AcceptGiftParams) (*Order, error) {
	const op = "commerce.accept_gift"
	if err := CheckID(op, "merchant_id", p.MerchantID); err != nil {
		return nil, err
	}
	c := checker{op: op}
	c.customer("recipient", p.Recipient)
	p.Address.validate(&c, "address")
	if c.err != nil {
		return nil, c.err
	}
	o, _, err := s.change(ctx, op, p.MerchantID, p.OrderID, ActionAcceptGift, func(o *Order, now time.Time) (*Refund, error) {
		if o.Status != StatusAwaitingRecipient && o.Gift != nil && o.Gift.Slots == 0 && o.Gift.Recipient == p.Recipient &&
			o.ShippingAddress != nil && *o.ShippingAddress == p.Address {
			return nil, errUnchanged
		}
		return nil, o.acceptGift(p.Recipient, p.Address)
	})
	return o, err
}

// SwitchGiftSKUParams moves a gift line to another SKU.
type SwitchGiftSKUParams struct {
	MerchantID MerchantID
	OrderID    OrderID
	Line       int
	To         SKUID
}

// SwitchGiftSKU lets a gift's recipient pick another SKU of the same
// product at the same price before accepting (another colour or size): the
// units move from one SKU's stock to the other's in the same transaction,
// so the switch fails, changing nothing, when the new SKU is out of stock.
//
// Safe to retry: when the line is that SKU already (a retried switch whose
// first call committed) it returns the order, changing nothing.
func (s *Service) SwitchGiftSKU(ctx context.Context, p SwitchGiftSKUParams) (*Order, error) {
	const op = "commerce.switch_gift_sku"
	if err := CheckID(op, "merchant_id", p.MerchantID); err != nil {
		return nil, err
	}
	var out *Order
	err := s.inTx(ctx, op, func(ctx context.Context) error {
		ps, err := s.store.ProductsBySKU(ctx, p.MerchantID, []SKUID{p.To})
		if err != nil {
			return err
		}
		var prod *Product
		var to SKU
		for _, pr := range ps {
			if sku, ok := pr.SKU(p.To); ok {
				prod, to = pr, *sku
			}
		}
		if prod == nil {
			return &Error{Op: op, Kind: KindNotFound, Field: "to", Err: fmt.Errorf("%w: no sku %s at this merchant", ErrNotFound, p.To)}
		}
		var from SKUID
		var qty int64
		unchanged := false
		now := s.now()
		err = s.store.UpdateOrder(ctx, p.MerchantID, p.OrderID, func(o *Order) error {
			if err := o.check(ActionSwitchSKU); err != nil {
				return err
			}
			if p.Line < 0 || p.Line >= len(o.Lines) {
				return Invalid(op, "line", "order has no line %d", p.Line)
			}
			l := &o.Lines[p.Line]
			switch {
			case l.RefundedQuantity > 0:
				return &Error{Op: op, Kind: KindFailedPrecondition, Field: "line", Err: fmt.Errorf("line %d is being refunded", p.Line)}
			case o.Gift != nil && p.Line < len(o.Gift.Claims) && o.Gift.Claims[p.Line].Recipient != "":
				return &Error{Op: op, Kind: KindFailedPrecondition, Field: "line", Err: fmt.Errorf("line %d is claimed: its SKU is fixed", p.Line)}
			case l.SKU == p.To:
				unchanged, out = true, o
				return errUnchanged
			case l.Product != prod.ID:
				return Invalid(op, "to", "sku %s is another product", p.To)
			case !to.Price.Equal(l.UnitPrice):
				return Invalid(op, "to", "sku %s costs %s, the gift %s: a switch keeps the price", p.To, to.Price, l.UnitPrice)
			case prod.State != Listed:
				return &Error{Op: op, Kind: KindFailedPrecondition, Field: "to", Err: fmt.Errorf("%w: %q is %s", ErrNotListed, prod.Title, prod.State)}
			}
			from, qty = l.SKU, l.Quantity
			l.SKU, l.Attributes = p.To, slices.Clone(to.Attributes)
			o.Updated = now
			out = o
			return nil
		})
		if unchanged {
			return nil
		}
		if err != nil {
			return err
		}
		if err := s.store.ReleaseStock(ctx, p.MerchantID, []StockChange{{SKU: from, Quantity: qty}}); err != nil {
			return err
		}
		if err := s.store.ReserveStock(ctx, p.MerchantID, []StockChange{{SKU: p.To, Quantity: qty}}); err != nil {
			return err
		}
		return s.after(ctx, out, ActionSwitchSKU, nil)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ShipParams records a shipment.
type ShipParams struct {
	MerchantID MerchantID
	OrderID    OrderID
	Shipment   Shipment
}

// Ship marks a paid order shipped. RunDue confirms receipt
// Config.AutoReceiveAfter later if the customer does not.
//
// Safe to retry: shipping a shipped order again with the same carrier and
// tracking number (the first call committed, its answer was lost) returns
// it, changing nothing; a different shipment, or an order that has moved on
// (received, completed), is refused with ErrIllegalTransition.
func (s *Service) Ship(ctx context.Context, p ShipParams) (*Order, error) {
	const op = "commerce.ship"
	if err := CheckID(op, "merchant_id", p.MerchantID); err != nil {
		return nil, err
	}
	c := checker{op: op}
	p.Shipment.validate(&c)
	if c.err != nil {
		return nil, c.err
	}
	o, _, err := s.change(ctx, op, p.MerchantID, p.OrderID, ActionShip, func(o *Order, now time.Time) (*Refund, error) {
		if o.Status == StatusShipped && o.Shipment != nil && o.Shipment.Equal(p.Shipment) {
			return nil, errUnchanged
		}
		sh := p.Shipment
		sh.Parcels = slices.Clone(sh.Parcels)
		return nil, o.ship(&sh, now, s.t)
	})
	return o, err
}

// ConfirmReceipt records that the customer received a shipped order; the
// after-sales window opens.
//
// Safe to retry: an order already received (by this call's first attempt or
// by RunDue) is returned unchanged; the window is not reopened. One that
// has moved on (completed) is refused with ErrIllegalTransition.
func (s *Service) ConfirmReceipt(ctx context.Context, merchant MerchantID, id OrderID) (*Order, error) {
	if err := CheckID("commerce.confirm_receipt", "merchant_id", merchant); err != nil {
		return nil, err
	}
	o, _, err := s.change(ctx, "commerce.confirm_receipt", merchant, id, ActionReceive, func(o *Order, now time.Time) (*Refund, error) {
		if o.Status == StatusReceived {
			return nil, errUnchanged
		}
		return nil, o.receive(now, s.t)
	})
	return o, err
}

// Complete settles a received order before its after-sales window ends (a
// merchant may close it early); RunDue does it when the window closes. An
// order with a refund still open cannot complete.
//
// Safe to retry: an order already completed is returned unchanged.
func (s *Service) Complete(ctx context.Context, merchant MerchantID, id OrderID) (*Order, error) {
	if err := CheckID("commerce.complete", "merchant_id", merchant); err != nil {
		return nil, err
	}
	o, _, err := s.change(ctx, "commerce.complete", merchant, id, ActionComplete, func(o *Order, now time.Time) (*Refund, error) {
		if o.Status == StatusCompleted {
			return nil, errUnchanged
		}
		return nil, o.complete(now)
	})
	return o, err
}

// Cancel cancels an unpaid order and puts its stock back.
//
// Safe to retry: an order already cancelled with the same reason (this
// call's first attempt committed) is returned unchanged. One cancelled with
// another reason (RunDue's "payment timeout", another caller's cancel) is
// refused with ErrIllegalTransition, whose detail says it is cancelled: the
// caller's reason was not recorded.
func (s *Service) Cancel(ctx context.Context, merchant MerchantID, id OrderID, reason string) (*Order, error) {
	const op = "commerce.cancel"
	if err := CheckID(op, "merchant_id", merchant); err != nil {
		return nil, err
	}
	c := checker{op: op}
	c.text("reason", reason, false, MaxShortTextLen)
	if c.err != nil {
		return nil, c.err
	}
	o, _, err := s.change(ctx, op, merchant, id, ActionCancel, func(o *Order, now time.Time) (*Refund, error) {
		if o.Status == StatusCancelled && o.CancelReason == reason {
			return nil, errUnchanged
		}
		return nil, o.cancel(reason, now)
	})
	return o, err
}

// RefundParams asks for a refund.
type RefundParams struct {
	MerchantID MerchantID
	OrderID    OrderID
	// Items to refund. Required unless All.
	Items []RefundItem
	// All refunds every unit not yet refunded. It must be asked for: a
	// forgotten Items is refused, never read as "refund the whole order".
	All    bool
	Reason string
	// IdempotencyKey (required) makes the request safe to retry: the same
	// key returns the refund the first call made.
	IdempotencyKey string
}

// Refund returns part or all of a paid order to the payer. The amount comes
// from the per-line figures stored at checkout (what each line actually
// paid after every discount), never from list prices or a fresh pricing,
// with cumulative rounding so several partial refunds add up exactly to what
// was paid. The shipping fee goes back with the last units if nothing had
// shipped. Units being refunded cannot be refunded twice, even concurrently.
//
// With a RefundGateway the refund is pending until ConfirmRefund; the gateway
// is called after the refund is committed, and if that call fails the refund
// stays pending and a KindUnavailable error is returned with the refund:
// call ResubmitRefund later (the payment service's RunDue also takes over
// refunds it never received). Without a gateway the refund succeeds at once.
//
// Safe to retry: the same IdempotencyKey returns the refund the first call
// made, whatever its state now.
func (s *Service) Refund(ctx context.Context, p RefundParams) (*Refund, error) {
	const op = "commerce.refund"
	if err := CheckID(op, "merchant_id", p.MerchantID); err != nil {
		return nil, err
	}
	c := checker{op: op}
	c.key("idempotency_key", p.IdempotencyKey, true, MaxKeyLen)
	c.text("reason", p.Reason, false, MaxShortTextLen)
	switch {
	case p.All && len(p.Items) > 0:
		c.fail("all", "set together with items: give one or the other")
	case !p.All && len(p.Items) == 0:
		c.fail("items", "required (set All to refund every unit not yet refunded)")
	}
	if c.err != nil {
		return nil, c.err
	}
	var o *Order
	var r *Refund
	err := s.inTx(ctx, op, func(ctx context.Context) error {
		// Without a gateway the money goes back outside minishop, so the
		// refund succeeds in the same transaction; a refund of nothing
		// (units of a free gift, lines a coupon paid in full) has no money
		// to move and succeeds at once too: channels refuse zero-amount
		// refunds. Then the order is written once, refund planned and
		// confirmed, and the hooks and events of both changes see the order
		// as each change left it.
		var planned, before *Order
		var pending *Refund
		unchanged := false
		now := s.now()
		err := s.store.UpdateOrder(ctx, p.MerchantID, p.OrderID, func(cur *Order) error {
			for i := range cur.Refunds {
				if cur.Refunds[i].IdempotencyKey == p.IdempotencyKey {
					rr := cur.Refunds[i]
					unchanged, o, r = true, cur, &rr
					return errUnchanged
				}
			}
			rr, err := cur.planRefund(newID[refundTag](s.ids), p.Items, p.Reason, p.IdempotencyKey, now)
			if err == nil && s.cfg.RefundPolicy != nil {
				var target Money
				if target, err = s.cfg.RefundPolicy.Withhold(ctx, cur); err != nil {
					return Wrap(op, err)
				}
				rr, err = cur.withhold(target)
			}
			if err != nil {
				return err
			}
			rr = cur.splitTenders()
			cur.Updated = now
			cp := *rr
			o, r = cur, &cp
			if rr.Status != RefundPending || s.cfg.Refunds != nil && !rr.Channel().IsZero() {
				return nil
			}
			before, pending = cur.Clone(), &cp
			done, err := cur.resolveRefund(rr.ID, true, "", "", now)
			if err != nil {
				return err
			}
			resolved := *done
			planned, r = cur, &resolved
			return nil
		})
		switch {
		case unchanged:
			return nil
		case err != nil:
			return NotFoundAs(op, "order_id", err)
		case planned == nil:
			return s.after(ctx, o, ActionRefund, r)
		}
		if err := s.after(ctx, before, ActionRefund, pending); err != nil {
			return err
		}
		return s.after(ctx, planned, ActionRefundOK, r)
	})
	if err != nil {
		return nil, err
	}
	if r.Status != RefundPending {
		return r, nil
	}
	return r, s.requestRefund(ctx, op, o, r)
}

// ResubmitRefund asks the payment channel again for a refund that is still
// pending (the first request failed or its answer was lost). The channel
// keys refunds by ID, so nothing is refunded twice.
func (s *Service) ResubmitRefund(ctx context.Context, merchant MerchantID, order OrderID, refund RefundID) error {
	const op = "commerce.resubmit_refund"
	if err := CheckID(op, "merchant_id", merchant); err != nil {
		return err
	}
	o, err := s.store.GetOrder(ctx, merchant, order)
	if err != nil {
		return Wrap(op, err)
	}
	r, ok := o.Refund(refund)
	if !ok {
		return Errorf(op, KindNotFound, "order %s has no refund %s", order, refund)
	}
	if r.Status != RefundPending || s.cfg.Refunds == nil {
		return nil
	}
	return s.requestRefund(ctx, op, o, r)
}

func (s *Service) requestRefund(ctx context.Context, op string, o *Order, r *Refund) error {
	err := s.cfg.Refunds.RequestRefund(ctx, RefundRequest{MerchantID: o.MerchantID, OrderID: o.ID, RefundID: r.ID,
		PaymentRef: o.PaymentRef, Amount: r.Channel(), OrderTotal: o.Due(), Reason: r.Reason})
	if err != nil {
		// The refund is committed and stays pending: ResubmitRefund, or the
		// payment service's RunDue, finishes it. That is one answer, try
		// again later, so the error is of one kind: the gateway's error is
		// kept for errors.Is only when it says the same, never an internal
		// or not-found error under an unavailable one.
		if onlyKind(err, KindUnavailable) {
			return &Error{Op: op, Kind: KindUnavailable, Err: fmt.Errorf("refund %s stays pending: %w", r.ID, err)}
		}
		return &Error{Op: op, Kind: KindUnavailable, Err: fmt.Errorf("refund %s stays pending: %v", r.ID, err)}
	}
	return nil
}

// onlyKind reports whether err matches no kind's sentinel but k's,
// anywhere in its chain (a plain error, matching none, qualifies).
func onlyKind(err error, k Kind) bool {
	for _, other := range []Kind{KindInternal, KindNotFound, KindConflict, KindInvalid, KindFailedPrecondition, KindUnavailable} {
		if other != k && errors.Is(err, other.sentinel()) {
			return false
		}
	}
	return true
}

// ConfirmRefundParams carries the payment channel's answer to a refund.
type ConfirmRefundParams struct {
	MerchantID    MerchantID
	OrderID       OrderID
	RefundID      RefundID
	Succeeded     bool
	ProviderRef   string
	FailureReason string
}

// ConfirmRefund records the channel's answer. On success the refunded units
// go back on sale if they never shipped, the customer's purchase-limit count
// drops, and when everything is refunded the order is closed as refunded. On
// failure the units can be refunded again. Confirming again changes nothing.
func (s *Service) ConfirmRefund(ctx context.Context, p ConfirmRefundParams) (*Order, error) {
	const op = "commerce.confirm_refund"
	if err := CheckID(op, "merchant_id", p.MerchantID); err != nil {
		return nil, err
	}
	c := checker{op: op}
	c.key("provider_ref", p.ProviderRef, false, MaxKeyLen)
	c.text("failure_reason", p.FailureReason, false, MaxShortTextLen)
	if c.err != nil {
		return nil, c.err
	}
	action := ActionRefundOK
	if !p.Succeeded {
		action = ActionRefundFail
	}
	o, _, err := s.change(ctx, op, p.MerchantID, p.OrderID, action, func(o *Order, now time.Time) (*Refund, error) {
		if r, ok := o.Refund(p.RefundID); ok && r.Status != RefundPending {
			return r, errUnchanged
		}
		r, err := o.resolveRefund(p.RefundID, p.Succeeded, p.ProviderRef, p.FailureReason, now)
		if err != nil {
			return nil, err
		}
		cp := *r
		return &cp, nil
	})
	return o, err
}

// DueReport counts what one RunDue did.
type DueReport struct {
	Cancelled, Received, Completed int
}

// RunDue moves orders on whose time has come: it cancels orders unpaid after
// Config.PaymentTimeout (putting their stock back), confirms receipt of
// orders shipped Config.AutoReceiveAfter ago, and completes (settles) orders
// whose after-sales window has closed with no refund open. A host calls it on
// a schedule. It is idempotent and safe when several processes call it at
// once: each order changes in its own transaction that re-checks its state,
// so an order is handled once. It works in batches until nothing is due.
// An order whose change fails is left due for the next run and reported in
// the error; the orders after it are still handled.
func (s *Service) RunDue(ctx context.Context) (DueReport, error) {
	const op = "commerce.run_due"
	var rep DueReport
	now := s.now()
	type step struct {
		status OrderStatus
		count  *int
		apply  func(ref OrderRef) (bool, error)
	}
	steps := []step{
		{StatusPendingPayment, &rep.Cancelled, func(ref OrderRef) (bool, error) {
			return s.dueChange(ctx, op, ref, ActionCancel, func(o *Order, now time.Time) error { return o.cancel("payment timeout", now) })
		}},
		{StatusShipped, &rep.Received, func(ref OrderRef) (bool, error) {
			return s.dueChange(ctx, op, ref, ActionReceive, func(o *Order, now time.Time) error { return o.receive(now, s.t) })
		}},
		{StatusReceived, &rep.Completed, func(ref OrderRef) (bool, error) {
			return s.dueChange(ctx, op, ref, ActionComplete, func(o *Order, now time.Time) error {
				if o.PendingRefunds() {
					// Look again in an hour; the refund's answer settles it.
					o.DueAt = now.Add(time.Hour)
					return nil
				}
				return o.complete(now)
			})
		}},
	}
	const batch = 200
	// An order whose change fails (a hook refusing its settlement, say)
	// is skipped, not allowed to hold up every order due after it: the
	// others go on, and the failures come back together. It stays due, so
	// the next run tries it again.
	failed := map[OrderID]bool{}
	var errs []error
	for _, st := range steps {
		for {
			refs, err := s.store.DueOrders(ctx, st.status, now, batch)
			if err != nil {
				return rep, Wrap(op, err)
			}
			progress := false
			for _, ref := range refs {
				if failed[ref.ID] {
					continue
				}
				changed, err := st.apply(ref)
				if err != nil {
					if ctx.Err() != nil {
						return rep, err
					}
					failed[ref.ID] = true
					errs = append(errs, fmt.Errorf("order %s: %w", ref.ID, err))
					continue
				}
				progress = true
				if changed {
					*st.count++
				}
			}
			if len(refs) < batch || !progress {
				break
			}
		}
	}
	if len(errs) > 0 {
		return rep, &Error{Op: op, Kind: KindOf(errs[0]), Err: errors.Join(errs...)}
	}
	return rep, nil
}

// dueChange applies a timed transition if the order is still in the state
// and due; it reports whether this call changed it.
func (s *Service) dueChange(ctx context.Context, op string, ref OrderRef, action OrderAction, fn func(o *Order, now time.Time) error) (bool, error) {
	changed := false
	_, _, err := s.change(ctx, op, ref.MerchantID, ref.ID, action, func(o *Order, now time.Time) (*Refund, error) {
		// A retried transaction runs this again: only the attempt that
		// commits may report the change (an aborted one's true would count
		// an order another runner cancelled).
		changed = false
		if !o.Status.Can(action) || o.DueAt.IsZero() || o.DueAt.After(now) {
			return nil, errUnchanged
		}
		before := o.Status
		if err := fn(o, now); err != nil {
			return nil, err
		}
		if o.Status == before {
			return nil, errUnchanged
		}
		changed = true
		return nil, nil
	})
	return changed, err
}

// ReadEvents returns up to limit outbox events after position after, in
// order. Events are delivered at least once: a consumer that stores its own
// position resumes after the last one it handled.
func (s *Service) ReadEvents(ctx context.Context, after uint64, limit int) ([]Event, error) {
	evs, err := s.store.ReadEvents(ctx, after, PageLimit(limit))
	return evs, Wrap("commerce.read_events", err)
}

// PollEvents returns up to limit events the named consumer has not
// acknowledged, in order. The same events come back until AckEvents moves
// the consumer past them: at-least-once, never skipping one.
func (s *Service) PollEvents(ctx context.Context, consumer string, limit int) ([]Event, error) {
	const op = "commerce.poll_events"
	c := checker{op: op}
	c.key("consumer", consumer, true, MaxKeyLen)
	if c.err != nil {
		return nil, c.err
	}
	pos, err := s.store.Cursor(ctx, consumer)
	if err != nil {
		return nil, Wrap(op, err)
	}
	evs, err := s.store.ReadEvents(ctx, pos, PageLimit(limit))
	return evs, Wrap(op, err)
}

// AckEvents records that consumer has handled every event up to and
// including seq. Acknowledging an older position changes nothing.
func (s *Service) AckEvents(ctx context.Context, consumer string, seq uint64) error {
	const op = "commerce.ack_events"
	c := checker{op: op}
	c.key("consumer", consumer, true, MaxKeyLen)
	if c.err != nil {
		return c.err
	}
	return Wrap(op, s.store.SetCursor(ctx, consumer, seq))
}
