package gifting

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/minishop/minishop/commerce"
)

// OrderHook sends a gift when its order is paid (status sent, its
// lifetime starting now), in the payment's transaction.
func (s *Service) OrderHook() commerce.OrderHook {
	return commerce.OrderHookFunc(func(ctx context.Context, ch commerce.OrderChange) error {
		if ch.Action != commerce.ActionPay || ch.Order.Gift == nil {
			return nil
		}
		g, err := s.store.GiftByOrder(ctx, ch.Order.MerchantID, ch.Order.ID)
		if commerce.KindOf(err) == commerce.KindNotFound {
			return nil // a gift order checked out without this service
		}
		if err != nil {
			return err
		}
		var sent *Gift
		err = s.store.UpdateGift(ctx, g.MerchantID, g.ID, func(g *Gift) error {
			if g.Status != Unpaid {
				return nil
			}
			now := s.now()
			g.Status, g.SentAt, g.ExpiresAt = Sent, now, now.Add(g.Lifetime)
			if g.Kind == Lottery {
				// Due at the draw; the winners' lifetime starts then.
				g.ExpiresAt = g.Draw.At
				if g.ExpiresAt.Before(now) {
					g.ExpiresAt = now
				}
			}
			sent = g.Clone()
			return nil
		})
		if err != nil || sent == nil {
			return err
		}
		return s.emit(ctx, sent, "sent", map[string]any{"expires_at": sent.ExpiresAt})
	})
}

// View is what the recipient sees when opening a gift: what it is, the
// blessing and who sent it, and the other SKUs they may switch to; never
// the price.
type View struct {
	Gift   GiftID
	Status Status
	// Giver is who sent it, for the host to tell the giver's own page
	// from a friend's; never shown to the friend.
	Giver      commerce.CustomerID
	Title      string
	SKU        commerce.SKUID
	Attributes []commerce.Attribute
	Pictures   []string
	Message    string
	GiverName  string
	ExpiresAt  time.Time
	// Options are the other SKUs of the product at the gift's price with
	// stock, to switch to before accepting.
	Options []Option

	// Kind, Slots and Free (slots nobody claimed yet) for group gifts and
	// lotteries.
	Kind  Kind
	Slots int
	Free  int
	// Lottery is the draw as the public may see it: the seed only once
	// drawn.
	Lottery *Draw
}

// Option is a SKU the recipient may switch to.
type Option struct {
	SKU        commerce.SKUID
	Attributes []commerce.Attribute
}

// Open shows the gift a token stands for. The first opening emits
// "gift.opened".
func (s *Service) Open(ctx context.Context, merchant commerce.MerchantID, token string) (*View, error) {
	const op = "gifting.open"
	if err := commerce.CheckID(op, "merchant_id", merchant); err != nil {
		return nil, err
	}
	var v *View
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		g, err := s.gift(ctx, merchant, token)
		if err != nil {
			return err
		}
		if g.Status == Unpaid {
			return fmt.Errorf("%w: not sent yet", ErrGiftClosed)
		}
		o, err := s.commerce.GetOrder(ctx, merchant, g.OrderID)
		if err != nil {
			return err
		}
		l := o.Lines[0]
		p, err := s.commerce.GetProduct(ctx, merchant, l.Product)
		if err != nil {
			return err
		}
		v = &View{Gift: g.ID, Giver: g.Giver, Status: g.Status, Title: l.Title, SKU: l.SKU, Attributes: l.Attributes, Pictures: p.Pictures,
			Message: g.Message, GiverName: g.GiverName, ExpiresAt: g.ExpiresAt, Kind: g.Kind, Slots: g.Slots}
		if g.Shared() {
			slots, err := s.store.GiftSlots(ctx, merchant, g.ID)
			if err != nil {
				return err
			}
			for _, sl := range slots {
				if sl.Claimer == "" {
					v.Free++
				}
			}
		}
		if g.Draw != nil {
			d := g.Clone().Draw
			d.Allowed = nil
			if d.Drawn.IsZero() {
				d.Seed = ""
			}
			v.Lottery = d
		}
		if g.Status == Sent {
			for _, k := range p.SKUs {
				if k.ID != l.SKU && k.Price.Equal(l.UnitPrice) && k.Stock > 0 && p.State == commerce.Listed {
					v.Options = append(v.Options, Option{SKU: k.ID, Attributes: k.Attributes})
				}
			}
		}
		if g.Opened {
			return nil
		}
		var first *Gift
		if err := s.store.UpdateGift(ctx, merchant, g.ID, func(g *Gift) error {
			if !g.Opened {
				g.Opened = true
				first = g.Clone()
			}
			return nil
		}); err != nil || first == nil {
			return err
		}
		return s.emit(ctx, first, "opened", nil)
	})
	if err != nil {
		return nil, tokenErr(op, err)
	}
	return v, nil
}

// open locks the gift a token stands for and checks it is sent and not
// past its expiry, then runs fn in the same transaction.
func (s *Service) open(ctx context.Context, merchant commerce.MerchantID, token string, fn func(ctx context.Context, g *Gift) error) (*Gift, error) {
	var out *Gift
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		out = nil // a retried transaction starts over
		g, err := s.gift(ctx, merchant, token)
		if err != nil {
			return err
		}
		if g.Shared() {
			return commerce.Invalid("gifting", "token", "a %s gift is claimed slot by slot (Claim), with the SKU picked there", g.Kind)
		}
		return s.store.UpdateGift(ctx, merchant, g.ID, func(g *Gift) error {
			switch {
			case g.Status != Sent:
				return fmt.Errorf("%w: the gift is %s", ErrGiftClosed, g.Status)
			case !s.now().Before(g.ExpiresAt):
				return fmt.Errorf("%w: the gift expired at %s", ErrGiftClosed, g.ExpiresAt.Format(time.RFC3339))
			}
			if err := fn(ctx, g); err != nil {
				return err
			}
			out = g.Clone()
			return nil
		})
	})
	return out, err
}

// SwitchSKU lets the recipient pick another SKU of the same product at the
// same price, with stock, before accepting; the stock moves with it.
// Safe to retry: when the gift is that SKU already it changes nothing and
// emits no second event.
func (s *Service) SwitchSKU(ctx context.Context, merchant commerce.MerchantID, token string, to commerce.SKUID) error {
	const op = "gifting.switch_sku"
	if err := commerce.CheckID(op, "merchant_id", merchant); err != nil {
		return err
	}
	_, err := s.open(ctx, merchant, token, func(ctx context.Context, g *Gift) error {
		o, err := s.commerce.GetOrder(ctx, merchant, g.OrderID)
		if err != nil {
			return err
		}
		if len(o.Lines) > 0 && o.Lines[0].SKU == to {
			return nil // under the gift's lock: a retry of a switch that committed
		}
		if _, err := s.commerce.SwitchGiftSKU(ctx, commerce.SwitchGiftSKUParams{MerchantID: merchant, OrderID: g.OrderID, Line: 0, To: to}); err != nil {
			return err
		}
		return s.emit(ctx, g, "sku_switched", map[string]any{"sku": to})
	})
	return tokenErr(op, err)
}

// Accept binds the gift to its recipient and their address: from now on
// the SKU is fixed and the order follows the normal flow. The giver cannot
// accept their own gift, and a gift is accepted once; one second past its
// expiry nobody can. Safe to retry: accepting again as the same recipient
// with the same address (the first call committed, its answer was lost)
// returns the accepted gift, even past the expiry.
func (s *Service) Accept(ctx context.Context, merchant commerce.MerchantID, token string, recipient commerce.CustomerID, addr commerce.Address) (*Gift, error) {
	const op = "gifting.accept"
	if err := commerce.CheckID(op, "merchant_id", merchant); err != nil {
		return nil, err
	}
	if err := commerce.CheckCustomer(op, "recipient", recipient); err != nil {
		return nil, err
	}
	g, err := s.open(ctx, merchant, token, func(ctx context.Context, g *Gift) error {
		if recipient == g.Giver {
			return commerce.Invalid(op, "recipient", "the giver cannot accept their own gift")
		}
		if _, err := s.commerce.AcceptGift(ctx, commerce.AcceptGiftParams{MerchantID: merchant, OrderID: g.OrderID, Recipient: recipient, Address: addr}); err != nil {
			return err
		}
		g.Status, g.Recipient, g.AcceptedAt = Accepted, recipient, s.now()
		return s.emit(ctx, g, "accepted", map[string]any{"recipient": recipient})
	})
	if errors.Is(err, ErrGiftClosed) {
		if done, derr := s.acceptedAs(ctx, merchant, token, recipient, addr); derr == nil && done != nil {
			return done, nil
		}
	}
	if err != nil {
		return nil, tokenErr(op, err)
	}
	return g, nil
}

// acceptedAs returns the gift when it is accepted already by recipient with
// addr, nil otherwise.
func (s *Service) acceptedAs(ctx context.Context, merchant commerce.MerchantID, token string, recipient commerce.CustomerID, addr commerce.Address) (*Gift, error) {
	g, err := s.gift(ctx, merchant, token)
	if err != nil || g.Status != Accepted || g.Recipient != recipient {
		return nil, err
	}
	o, err := s.commerce.GetOrder(ctx, merchant, g.OrderID)
	if err != nil || o.ShippingAddress == nil || *o.ShippingAddress != addr {
		return nil, err
	}
	return g, nil
}

// RequestAfterSales is the recipient's refund request for an accepted
// gift: only the recipient may ask (rule G9); the money goes back to the
// giver's payment, as with any refund of the order.
func (s *Service) RequestAfterSales(ctx context.Context, merchant commerce.MerchantID, id GiftID, who commerce.CustomerID, p commerce.RefundParams) (*commerce.Refund, error) {
	const op = "gifting.after_sales"
	if err := commerce.CheckID(op, "merchant_id", merchant); err != nil {
		return nil, err
	}
	if err := commerce.CheckCustomer(op, "customer", who); err != nil {
		return nil, err
	}
	g, err := s.store.GetGift(ctx, merchant, id)
	if err != nil {
		return nil, commerce.Wrap(op, err)
	}
	notRecipient := &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Field: "customer",
		Err: errors.New("only the gift's recipient asks for after-sales, once it is accepted")}
	p.MerchantID, p.OrderID = merchant, g.OrderID
	if g.Shared() {
		// A claimer's after-sales cover their own slot: its one line.
		slots, err := s.store.GiftSlots(ctx, merchant, id)
		if err != nil {
			return nil, commerce.Wrap(op, err)
		}
		i := slices.IndexFunc(slots, func(sl Slot) bool { return sl.Claimer == who })
		if i < 0 || (g.Status != Accepted && g.Status != Expired) {
			return nil, notRecipient
		}
		// The slot is the claimer's whole share, whatever p's All or Items say.
		p.Items, p.All = []commerce.RefundItem{{Line: slots[i].Line, Quantity: 1}}, false
		return s.commerce.Refund(ctx, p)
	}
	if g.Status != Accepted || g.Recipient != who {
		return nil, notRecipient
	}
	return s.commerce.Refund(ctx, p)
}

// RunDue expires sent gifts nobody accepted in time and asks the kernel to
// refund their orders in full (stock back, money to the giver through the
// payment channel). Expiry is decided under the gift's lock, so it and an
// acceptance racing it have exactly one outcome, and a refund happens only
// when expiry won. The refund is asked for after that commits, keyed by
// the gift, and again on every RunDue until it is on record, so a crash in
// between loses nothing. Safe from several processes. It returns how many
// gifts it expired.
func (s *Service) RunDue(ctx context.Context) (int, error) {
	const op = "gifting.run_due"
	now := s.now()
	expired := 0
	due, err := s.store.DueGifts(ctx, now, 1000)
	if err != nil {
		return 0, commerce.Wrap(op, err)
	}
	var errs []error
	for _, d := range due {
		won := false
		err := s.store.InTx(ctx, func(ctx context.Context) error {
			won = false // a retried transaction starts over
			return s.store.UpdateGift(ctx, d.MerchantID, d.ID, func(g *Gift) error {
				if g.Status != Sent || now.Before(g.ExpiresAt) {
					return nil
				}
				if g.Kind == Lottery && g.Draw.Drawn.IsZero() {
					if err := s.draw(ctx, g); err != nil || len(g.Draw.Winners) > 0 {
						return err
					}
				}
				// A group gift's claimed slots go to their claimers;
				// the rest is refunded below.
				if err := s.assign(ctx, g); err != nil {
					return err
				}
				g.Status, g.ExpiredAt, won = Expired, now, true
				return s.emit(ctx, g, "expired", nil)
			})
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if won {
			expired++
		}
		g, err := s.store.GetGift(ctx, d.MerchantID, d.ID)
		if err != nil || g.Status != Expired || g.Refunded {
			if err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if err := s.refund(ctx, g); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return expired, &commerce.Error{Op: op, Kind: commerce.KindUnavailable, Err: errors.Join(errs...)}
	}
	return expired, nil
}

// refund asks the kernel for the full refund of an expired gift's order,
// idempotent by its key, and records that it did.
func (s *Service) refund(ctx context.Context, g *Gift) error {
	var items []commerce.RefundItem
	if g.Shared() {
		var err error
		if items, err = s.unclaimed(ctx, g); err != nil {
			return err
		}
	}
	if !g.Shared() || len(items) > 0 {
		_, err := s.commerce.Refund(ctx, commerce.RefundParams{MerchantID: g.MerchantID, OrderID: g.OrderID, Items: items, All: !g.Shared(),
			Reason: "gift not accepted in time", IdempotencyKey: "gift-expired:" + g.ID.String()})
		if err != nil && commerce.KindOf(err) != commerce.KindUnavailable {
			return err
		}
	}
	// Unavailable: the refund is on record and the payment channel will
	// get it on its RunDue; either way the gift's part is done.
	return s.store.InTx(ctx, func(ctx context.Context) error {
		return s.store.UpdateGift(ctx, g.MerchantID, g.ID, func(g *Gift) error {
			if g.Refunded {
				return nil
			}
			g.Refunded = true
			return s.emit(ctx, g, "refunded", nil)
		})
	})
}
