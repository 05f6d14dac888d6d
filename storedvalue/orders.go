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

// metaKey marks, in an order's metadata, a top-up ("topup") or an order
// that spent from a balance ("spend"), so the order hook reads nothing for
// any other order.
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

// spendChoice is a checkout's stored-value input.
type spendChoice struct{ amount commerce.Money }

// Spend makes a checkout pay amount of its total from the customer's
// balance at the merchant; the payment channel collects the rest
// (commerce.Order.Due), and an order the balance pays in full is paid at
// checkout.
func Spend(amount commerce.Money) commerce.Extension {
	return commerce.Extension{Key: extKey, Value: spendChoice{amount: amount}}
}

// spendDoc is what an order took from an account, and what it has given
// back so far.
type spendDoc struct {
	Account       string         `json:"account"`
	Principal     commerce.Money `json:"principal"`
	Bonus         commerce.Money `json:"bonus"`
	BackPrincipal commerce.Money `json:"back_principal"`
	BackBonus     commerce.Money `json:"back_bonus"`
}

func (spendDoc) Meta() (string, time.Time) { return "", time.Time{} }

// topUpDoc is what a top-up order credited, what its refunds took back,
// and each refund's part, so a failed refund puts back exactly that.
type topUpDoc struct {
	Account       string                       `json:"account"`
	Principal     commerce.Money               `json:"principal"`
	Bonus         commerce.Money               `json:"bonus"`
	BackPrincipal commerce.Money               `json:"back_principal"`
	BackBonus     commerce.Money               `json:"back_bonus"`
	Refunds       map[string][2]commerce.Money `json:"refunds,omitempty"`
}

func (topUpDoc) Meta() (string, time.Time) { return "", time.Time{} }

// CheckoutHook takes a Spend from the balance, in the checkout
// transaction, and marks top-up orders.
func (s *Service) CheckoutHook() commerce.CheckoutHook {
	return commerce.CheckoutHookFunc(func(ctx context.Context, c *commerce.CheckoutContext) error {
		const op = "storedvalue.checkout"
		o := c.Order
		n := 0
		for _, l := range o.Lines {
			if l.Category == Category {
				n++
			}
		}
		if n > 0 && n < len(o.Lines) {
			return commerce.Invalid(op, "lines", "a top-up is bought on its own, not with other goods")
		}
		topUp := n > 0
		v, spend := c.Quote.Extensions[extKey].(spendChoice)
		if !spend {
			if c.Quote.Extensions[extKey] != nil {
				return commerce.Invalid(op, "extensions."+extKey, "%T is not a stored-value choice", c.Quote.Extensions[extKey])
			}
			if topUp {
				mark(o, "topup")
			}
			return nil
		}
		if topUp {
			return commerce.Invalid(op, "extensions."+extKey, "a top-up is paid through the payment channel, not from the balance")
		}
		if !v.amount.IsPositive() || v.amount.Currency() != o.Currency {
			return commerce.Invalid(op, "extensions."+extKey, "spend %s: not a positive amount in %s", v.amount, o.Currency)
		}
		if c, _ := v.amount.Cmp(o.Due()); c > 0 {
			return commerce.Invalid(op, "extensions."+extKey, "spend %s: more than the %s the order costs", v.amount, o.Due())
		}
		key := accountKey(o.MerchantID, o.CustomerID)
		var doc spendDoc
		_, err := s.move(ctx, o.MerchantID, o.CustomerID, EntrySpent, o.ID, func(a *Account) (commerce.Money, commerce.Money, error) {
			bal := a.Balance()
			if c, _ := v.amount.Cmp(bal); c > 0 {
				return commerce.Money{}, commerce.Money{}, &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Field: "extensions." + extKey,
					Err: errorf(ErrInsufficient, "spend %s, the balance is %s", v.amount, bal)}
			}
			// Principal and bonus are spent in proportion to what the
			// account holds: bonus floor(amount × bonus / balance).
			b := proportion(v.amount, a.Bonus, bal)
			p, _ := v.amount.Sub(b)
			doc = spendDoc{Account: key, Principal: p, Bonus: b, BackPrincipal: commerce.Zero(o.Currency), BackBonus: commerce.Zero(o.Currency)}
			return p.Neg(), b.Neg(), nil
		})
		if err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				return &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Field: "extensions." + extKey,
					Err: errorf(ErrInsufficient, "spend %s, the balance is 0", v.amount)}
			}
			return commerce.Wrap(op, err)
		}
		if err := o.AddTender(Plugin, key, v.amount); err != nil {
			return err
		}
		mark(o, "spend")
		return commerce.Wrap(op, records.Insert(ctx, s.store, kindSpend, o.ID.String(), s.now(), doc))
	})
}

func mark(o *commerce.Order, v string) {
	if o.Metadata == nil {
		o.Metadata = map[string]string{}
	}
	o.Metadata[metaKey] = v
}

// OrderHook credits a paid top-up, takes a top-up's refund out of the
// balance (refusing one the customer has spent), and gives a spend back
// when its order is cancelled unpaid or refunded.
func (s *Service) OrderHook() commerce.OrderHook {
	return commerce.OrderHookFunc(func(ctx context.Context, c commerce.OrderChange) error {
		switch c.Order.Metadata[metaKey] {
		case "topup":
			return s.topUpChanged(ctx, c)
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
	zero := commerce.Zero(o.Currency)
	switch {
	case c.Action == commerce.ActionPay:
		bonus := zero
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
		doc := topUpDoc{Account: accountKey(o.MerchantID, o.CustomerID), Principal: o.Total, Bonus: bonus, BackPrincipal: zero, BackBonus: zero}
		if err := records.Insert(ctx, s.store, kindTopUp, key, s.now(), doc); err != nil {
			return commerce.Wrap(op, err)
		}
		_, err := s.move(ctx, o.MerchantID, o.CustomerID, EntryToppedUp, o.ID, func(*Account) (commerce.Money, commerce.Money, error) {
			return o.Total, bonus, nil
		})
		return commerce.Wrap(op, err)
	case c.Action == commerce.ActionRefund && c.Refund != nil:
		// The refund is planned: its principal leaves the balance now (so
		// it cannot be spent while the channel pays it back), with the
		// bonus that came with it, in proportion.
		amount := c.Refund.Amount
		var p, b commerce.Money
		_, err := records.Update(ctx, s.store, kindTopUp, key, s.now(), false, func(d *topUpDoc, _ bool) error {
			after, _ := d.BackPrincipal.Add(amount)
			target := proportion(d.Bonus, after, d.Principal)
			p, b = amount, minus0(target, d.BackBonus)
			return nil
		})
		if err != nil {
			return commerce.Wrap(op, err)
		}
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

func (s *Service) spendChanged(ctx context.Context, c commerce.OrderChange) error {
	const op = "storedvalue.spend"
	o := c.Order
	var give commerce.Money
	kind := EntryRefunded
	i := tenderOf(o)
	if i == len(o.Tenders) {
		return nil
	}
	switch {
	case c.Action == commerce.ActionCancel && o.PaidAt.IsZero():
		give, kind = o.Tenders[i].Amount, EntryReleased
	case c.Action == commerce.ActionRefundOK && c.Refund != nil && len(c.Refund.Tenders) > i:
		give = c.Refund.Tenders[i]
	default:
		return nil
	}
	if !give.IsPositive() {
		return nil
	}
	var p, b commerce.Money
	_, err := records.Update(ctx, s.store, kindSpend, o.ID.String(), s.now(), false, func(d *spendDoc, _ bool) error {
		// Back in the proportion the order spent them, cumulatively, so
		// the parts of many refunds add up to what was spent.
		spent, _ := d.Principal.Add(d.Bonus)
		back, _ := d.BackPrincipal.Add(d.BackBonus)
		after, _ := back.Add(give)
		b = minus0(proportion(d.Bonus, after, spent), d.BackBonus)
		p, _ = give.Sub(b)
		d.BackPrincipal, _ = d.BackPrincipal.Add(p)
		d.BackBonus, _ = d.BackBonus.Add(b)
		return nil
	})
	if err != nil {
		return commerce.Wrap(op, err)
	}
	_, err = s.move(ctx, o.MerchantID, o.CustomerID, kind, o.ID, func(*Account) (commerce.Money, commerce.Money, error) {
		return p, b, nil
	})
	return commerce.Wrap(op, err)
}

// tenderOf is the index of the order's stored-value tender.
func tenderOf(o *commerce.Order) int {
	for i, t := range o.Tenders {
		if t.Plugin == Plugin {
			return i
		}
	}
	return len(o.Tenders)
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
