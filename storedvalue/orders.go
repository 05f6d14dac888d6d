package storedvalue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/internal/records"
	"github.com/minishop/minishop/storage"
)

// metaKey marks, in an order's metadata, a top-up ("topup"), an order of
// e-cards ("cards") or an order paid partly from stored value ("spend"),
// so the order hook reads nothing for any other order.
const metaKey = "storedvalue"

// TopUpPlan adds a bonus to each unit of a top-up SKU bought: 充100送20 is
// a SKU of category Category priced 100.00 with a plan whose Bonus is
// 20.00. A top-up SKU without a plan credits what was paid, no bonus.
type TopUpPlan struct {
	MerchantID commerce.MerchantID
	SKU        commerce.SKUID
	Bonus      commerce.Money
}

// Meta implements records.Doc.
func (TopUpPlan) Meta() (string, time.Time) { return "", time.Time{} }

// SetTopUpPlan sets the bonus of a top-up SKU (a SKU of a product of
// category Category), replacing any earlier plan; later top-ups get it.
func (s *Service) SetTopUpPlan(ctx context.Context, p TopUpPlan) error {
	const op = "storedvalue.set_top_up_plan"
	if err := commerce.CheckID(op, "merchant_id", p.MerchantID); err != nil {
		return err
	}
	prod, err := s.commerce.ProductBySKU(ctx, p.MerchantID, p.SKU)
	if err != nil {
		return commerce.Wrap(op, err)
	}
	if prod.Category != Category {
		return commerce.Invalid(op, "sku", "%s is a %q product, not a top-up (category %q)", p.SKU, prod.Category, Category)
	}
	cur, err := s.currency(ctx, op, p.MerchantID)
	if err != nil {
		return err
	}
	if !p.Bonus.IsSet() || p.Bonus.IsNegative() || p.Bonus.Currency() != cur {
		return commerce.Invalid(op, "bonus", "%s is not an amount of at least 0 in %s", p.Bonus, cur)
	}
	_, err = records.Update(ctx, s.store, kindPlan, p.MerchantID.String()+":"+p.SKU.String(), s.now(), true, func(cur *TopUpPlan, _ bool) error {
		*cur = p
		return nil
	})
	return commerce.Wrap(op, err)
}

// A Part is one stored-value instrument paying part of a checkout: the
// balance (Balance) or a gift card the customer holds (Card).
type Part struct {
	card   string
	amount commerce.Money
}

// FromBalance pays amount from the customer's balance at the merchant.
func FromBalance(amount commerce.Money) Part { return Part{amount: amount} }

// FromCard pays amount from a gift card the customer holds (an e-card bought
// or accepted, a physical card bound with BindCard), without redeeming it.
func FromCard(number string, amount commerce.Money) Part { return Part{card: number, amount: amount} }

// payChoice is a checkout's stored-value input.
type payChoice struct{ parts []Part }

// Pay makes a checkout pay parts of its total from stored value, each
// taken in the checkout transaction with a guarded write and recorded as
// one of the order's tenders (commerce.Tender); the payment channel
// collects the rest (commerce.Order.Due), and an order stored value pays
// in full is paid at checkout.
func Pay(parts ...Part) commerce.Extension {
	return commerce.Extension{Key: extKey, Value: payChoice{parts: parts}}
}

// spendDoc is what an order took from each stored-value instrument, and
// what it has given back so far.
type spendDoc struct {
	Parts []spendPart `json:"parts"`
}

type spendPart struct {
	Tender int `json:"tender"` // index into the order's tenders
	// Card is the card's number; empty for the balance.
	Card          string         `json:"card,omitempty"`
	Principal     commerce.Money `json:"principal"`
	Bonus         commerce.Money `json:"bonus"`
	BackPrincipal commerce.Money `json:"back_principal"`
	BackBonus     commerce.Money `json:"back_bonus"`
}

func (spendDoc) Meta() (string, time.Time) { return "", time.Time{} }

// topUpDoc is what a top-up order credits (from checkout, pending until
// paid), what its refunds took back, and each refund's part, so a failed
// refund puts back exactly that.
type topUpDoc struct {
	Account       string                       `json:"account"`
	Principal     commerce.Money               `json:"principal"`
	Bonus         commerce.Money               `json:"bonus"`
	BackPrincipal commerce.Money               `json:"back_principal"`
	BackBonus     commerce.Money               `json:"back_bonus"`
	Refunds       map[string][2]commerce.Money `json:"refunds,omitempty"`
}

func (topUpDoc) Meta() (string, time.Time) { return "", time.Time{} }

// CheckoutHook takes a Pay's parts from the balance and cards, in the
// checkout transaction, and marks top-up and e-card orders.
func (s *Service) CheckoutHook() commerce.CheckoutHook {
	return commerce.CheckoutHookFunc(func(ctx context.Context, c *commerce.CheckoutContext) error {
		const op = "storedvalue.checkout"
		o := c.Order
		tops, cards := 0, 0
		for _, l := range o.Lines {
			switch l.Category {
			case Category:
				tops++
			case CardCategory:
				cards++
			}
		}
		if (tops > 0 || cards > 0) && tops+cards < len(o.Lines) || tops > 0 && cards > 0 {
			return commerce.Invalid(op, "lines", "top-ups and gift cards are bought on their own, not with other goods")
		}
		field := "extensions." + extKey
		v, pay := c.Quote.Extensions[extKey].(payChoice)
		if !pay && c.Quote.Extensions[extKey] != nil {
			return commerce.Invalid(op, field, "%T is not a stored-value choice", c.Quote.Extensions[extKey])
		}
		if pay && (tops > 0 || cards > 0) {
			return commerce.Invalid(op, field, "top-ups and gift cards are paid through the payment channel, not with stored value")
		}
		switch {
		case tops > 0:
			return s.topUpCheckout(ctx, op, o)
		case cards > 0:
			return s.cardsCheckout(ctx, op, o)
		case !pay:
			return nil
		}
		if len(v.parts) == 0 {
			return commerce.Invalid(op, field, "no part to pay")
		}
		doc := spendDoc{}
		zero := commerce.Zero(o.Currency)
		seen := map[string]bool{}
		for i, p := range v.parts {
			f := fmt.Sprintf("%s[%d]", field, i)
			if !p.amount.IsPositive() || p.amount.Currency() != o.Currency {
				return commerce.Invalid(op, f, "%s is not a positive amount in %s", p.amount, o.Currency)
			}
			if c, _ := p.amount.Cmp(o.Due()); c > 0 {
				return commerce.Invalid(op, f, "%s is more than the %s left to pay", p.amount, o.Due())
			}
			part := spendPart{Tender: len(o.Tenders), BackPrincipal: zero, BackBonus: zero}
			var ref string
			if p.card == "" {
				if seen[""] {
					return commerce.Invalid(op, f, "the balance pays twice")
				}
				seen[""] = true
				var err error
				if part.Principal, part.Bonus, err = s.spendBalance(ctx, op, f, o, p.amount); err != nil {
					return err
				}
				ref = accountKey(o.MerchantID, o.CustomerID)
			} else {
				number, err := normalizeCard(op, f, p.card)
				if err != nil {
					return err
				}
				if seen[number] {
					return commerce.Invalid(op, f, "card %s pays twice", number)
				}
				seen[number] = true
				if err := s.spendCard(ctx, op, f, o, number, p.amount); err != nil {
					return err
				}
				part.Card, part.Principal, part.Bonus, ref = number, p.amount, zero, "card:"+number
			}
			if err := o.AddTender(Plugin, ref, p.amount); err != nil {
				return err
			}
			doc.Parts = append(doc.Parts, part)
		}
		mark(o, "spend")
		return commerce.Wrap(op, records.Insert(ctx, s.store, kindSpend, o.ID.String(), s.now(), doc))
	})
}

// spendBalance takes amount from the customer's balance, principal and
// bonus in proportion to what the account holds (bonus floor(amount ×
// bonus / balance)), and returns the two parts.
func (s *Service) spendBalance(ctx context.Context, op, field string, o *commerce.Order, amount commerce.Money) (commerce.Money, commerce.Money, error) {
	var p, b commerce.Money
	_, err := s.move(ctx, o.MerchantID, o.CustomerID, EntrySpent, o.ID, func(a *Account) (commerce.Money, commerce.Money, error) {
		bal := a.Balance()
		if c, _ := amount.Cmp(bal); c > 0 {
			return commerce.Money{}, commerce.Money{}, &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Field: field,
				Err: errorf(ErrInsufficient, "spend %s, the balance is %s", amount, bal)}
		}
		b = proportion(amount, a.Bonus, bal)
		p, _ = amount.Sub(b)
		return p.Neg(), b.Neg(), nil
	})
	return p, b, err
}

// topUpCheckout marks a top-up order and counts what it will credit
// against the balance's limit until it is paid or cancelled.
func (s *Service) topUpCheckout(ctx context.Context, op string, o *commerce.Order) error {
	if !o.Total.IsPositive() {
		return commerce.Invalid(op, "lines", "a top-up of %s credits nothing", o.Total)
	}
	bonus := commerce.Zero(o.Currency)
	for _, l := range o.Lines {
		plan, err := records.Read[TopUpPlan](ctx, s.store, kindPlan, o.MerchantID.String()+":"+l.SKU.String())
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return commerce.Wrap(op, err)
		}
		if bonus, err = bonus.Add(plan.Bonus.Mul(l.Quantity)); err != nil {
			return err
		}
	}
	credit, err := o.Total.Add(bonus)
	if err != nil {
		return err
	}
	if err := s.pend(ctx, op, o, credit, true); err != nil {
		return err
	}
	mark(o, "topup")
	zero := commerce.Zero(o.Currency)
	doc := topUpDoc{Account: accountKey(o.MerchantID, o.CustomerID), Principal: o.Total, Bonus: bonus, BackPrincipal: zero, BackBonus: zero}
	return commerce.Wrap(op, records.Insert(ctx, s.store, kindTopUp, o.ID.String(), s.now(), doc))
}

// pend adds credit (negative: takes it off) to the account's pending
// top-ups, refusing, when check is set and the prepaid rules apply, a
// balance and pending top-ups past the registered limit.
func (s *Service) pend(ctx context.Context, op string, o *commerce.Order, credit commerce.Money, check bool) error {
	now := s.now()
	_, err := records.Update(ctx, s.store, kindAccount, accountKey(o.MerchantID, o.CustomerID), now, true, func(a *Account, fresh bool) error {
		if fresh {
			*a = *newAccount(o.MerchantID, o.CustomerID, o.Currency, now)
		}
		pending := a.Pending
		if !pending.IsSet() {
			pending = commerce.Zero(o.Currency)
		}
		pending, _ = pending.Add(credit)
		if pending.IsNegative() {
			pending = commerce.Zero(o.Currency)
		}
		if check && s.rulesApply(o.Currency) {
			if after, _ := a.Balance().Add(pending); overLimit(after, registeredLimitFen) {
				return &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Field: "lines",
					Err: errorf(ErrLimit, "a balance of %s with top-ups of %s would pass the 5,000.00 a registered prepaid account may hold", a.Balance(), pending)}
			}
		}
		a.Pending, a.Updated = pending, now
		return nil
	})
	return commerce.Wrap(op, err)
}

func mark(o *commerce.Order, v string) {
	if o.Metadata == nil {
		o.Metadata = map[string]string{}
	}
	o.Metadata[metaKey] = v
}

// OrderHook credits a paid top-up, takes a top-up's refund out of the
// balance (refusing one the customer has spent), issues paid e-cards, and
// gives stored value back when its order is cancelled unpaid or refunded.
func (s *Service) OrderHook() commerce.OrderHook {
	return commerce.OrderHookFunc(func(ctx context.Context, c commerce.OrderChange) error {
		switch c.Order.Metadata[metaKey] {
		case "topup":
			return s.topUpChanged(ctx, c)
		case "cards":
			return s.cardsChanged(ctx, c)
		case "spend":
			return s.spendChanged(ctx, c)
		}
		return nil
	})
}

func (s *Service) topUpChanged(ctx context.Context, c commerce.OrderChange) error {
	const op = "storedvalue.top_up"
	o := c.Order
	key := o.ID.String()
	switch {
	case c.Action == commerce.ActionPay, c.Action == commerce.ActionCancel && o.PaidAt.IsZero():
		d, err := records.Read[topUpDoc](ctx, s.store, kindTopUp, key)
		if err != nil {
			return commerce.Wrap(op, err)
		}
		credit, _ := d.Principal.Add(d.Bonus)
		if c.Action == commerce.ActionCancel {
			return s.pend(ctx, op, o, credit.Neg(), false)
		}
		_, err = s.move(ctx, o.MerchantID, o.CustomerID, EntryToppedUp, o.ID, func(a *Account) (commerce.Money, commerce.Money, error) {
			if a.Pending.IsSet() {
				if a.Pending, _ = a.Pending.Sub(credit); a.Pending.IsNegative() {
					a.Pending = commerce.Zero(o.Currency)
				}
			}
			return d.Principal, d.Bonus, nil
		})
		if err != nil {
			return commerce.Wrap(op, err)
		}
		return s.shipVirtual(ctx, op, o)
	case c.Action == commerce.ActionRefund && c.Refund != nil:
		// The refund is planned: its principal leaves the balance now (so
		// it cannot be spent while the channel pays it back), with the
		// bonus that came with it, in proportion.
		d, err := records.Read[topUpDoc](ctx, s.store, kindTopUp, key)
		if err != nil {
			return commerce.Wrap(op, err)
		}
		p := c.Refund.Amount
		after, _ := d.BackPrincipal.Add(p)
		b := minus0(proportion(d.Bonus, after, d.Principal), d.BackBonus)
		_, err = s.move(ctx, o.MerchantID, o.CustomerID, EntryTopUpRefund, o.ID, func(a *Account) (commerce.Money, commerce.Money, error) {
			if c, _ := p.Cmp(a.Principal); c > 0 {
				return commerce.Money{}, commerce.Money{}, &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Field: "order_id",
					Err: errorf(ErrSpent, "a refund of %s, %s of the top-ups' principal is left unspent", p, a.Principal)}
			}
			if c, _ := b.Cmp(a.Bonus); c > 0 {
				b = a.Bonus // bonus spent already is not taken twice
			}
			return p.Neg(), b.Neg(), nil
		})
		if err != nil {
			return err
		}
		_, err = records.Update(ctx, s.store, kindTopUp, key, s.now(), false, func(d *topUpDoc, _ bool) error {
			d.BackPrincipal, _ = d.BackPrincipal.Add(p)
			d.BackBonus, _ = d.BackBonus.Add(b)
			if d.Refunds == nil {
				d.Refunds = map[string][2]commerce.Money{}
			}
			d.Refunds[c.Refund.ID.String()] = [2]commerce.Money{p, b}
			return nil
		})
		return commerce.Wrap(op, err)
	case c.Action == commerce.ActionRefundFail && c.Refund != nil:
		var part [2]commerce.Money
		_, err := records.Update(ctx, s.store, kindTopUp, key, s.now(), false, func(d *topUpDoc, _ bool) error {
			var ok bool
			if part, ok = d.Refunds[c.Refund.ID.String()]; !ok {
				return records.ErrKeep
			}
			delete(d.Refunds, c.Refund.ID.String())
			d.BackPrincipal, _ = d.BackPrincipal.Sub(part[0])
			d.BackBonus, _ = d.BackBonus.Sub(part[1])
			return nil
		})
		if err != nil || !part[0].IsSet() {
			return commerce.Wrap(op, err)
		}
		_, err = s.move(ctx, o.MerchantID, o.CustomerID, EntryRefundFailed, o.ID, func(*Account) (commerce.Money, commerce.Money, error) {
			return part[0], part[1], nil
		})
		return commerce.Wrap(op, err)
	}
	return nil
}

// spendChanged gives each instrument its part back: all that is left when
// the order is cancelled unpaid, the refund's tender part when a refund
// succeeds; the balance's part as principal and bonus in the proportion
// the order spent them, cumulatively, so the parts of many refunds add up
// to what was spent.
func (s *Service) spendChanged(ctx context.Context, c commerce.OrderChange) error {
	const op = "storedvalue.spend"
	o := c.Order
	cancel := c.Action == commerce.ActionCancel && o.PaidAt.IsZero()
	if !cancel && (c.Action != commerce.ActionRefundOK || c.Refund == nil || len(c.Refund.Tenders) == 0) {
		return nil
	}
	type back struct {
		card string
		p, b commerce.Money
	}
	var backs []back
	_, err := records.Update(ctx, s.store, kindSpend, o.ID.String(), s.now(), false, func(d *spendDoc, _ bool) error {
		backs = backs[:0]
		for i := range d.Parts {
			pt := &d.Parts[i]
			spent, _ := pt.Principal.Add(pt.Bonus)
			given, _ := pt.BackPrincipal.Add(pt.BackBonus)
			give := minus0(spent, given)
			if !cancel {
				if pt.Tender >= len(c.Refund.Tenders) {
					continue
				}
				give = c.Refund.Tenders[pt.Tender]
			}
			if !give.IsPositive() {
				continue
			}
			after, _ := given.Add(give)
			b := minus0(proportion(pt.Bonus, after, spent), pt.BackBonus)
			p, _ := give.Sub(b)
			pt.BackPrincipal, _ = pt.BackPrincipal.Add(p)
			pt.BackBonus, _ = pt.BackBonus.Add(b)
			backs = append(backs, back{pt.Card, p, b})
		}
		return nil
	})
	if err != nil {
		return commerce.Wrap(op, err)
	}
	kind := EntryRefunded
	if cancel {
		kind = EntryReleased
	}
	for _, bk := range backs {
		if bk.card != "" {
			if err := s.creditCard(ctx, op, o, bk.card, bk.p, kind); err != nil {
				return err
			}
			continue
		}
		_, err = s.move(ctx, o.MerchantID, o.CustomerID, kind, o.ID, func(*Account) (commerce.Money, commerce.Money, error) {
			return bk.p, bk.b, nil
		})
		if err != nil {
			return commerce.Wrap(op, err)
		}
	}
	return nil
}

// minus0 is a - b, or 0 when b is more.
func minus0(a, b commerce.Money) commerce.Money {
	d, _ := a.Sub(b)
	if d.IsNegative() {
		return commerce.Zero(a.Currency())
	}
	return d
}

// errorf wraps sentinel with a message.
func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}

// shipVirtual ships a paid top-up or e-card order at once, as virtual goods
// (nothing travels: the value is delivered when it is paid), so the
// order's shipping info reaches WeChat (whose rule freezes a Mini
// Program's payment until it does) and the order moves on to receipt and
// completion like any other.
func (s *Service) shipVirtual(ctx context.Context, op string, o *commerce.Order) error {
	_, err := s.commerce.Ship(ctx, commerce.ShipParams{MerchantID: o.MerchantID, OrderID: o.ID,
		Shipment: commerce.Shipment{Method: commerce.ShipVirtual}})
	return commerce.Wrap(op, err)
}
