package gifting

import (
	"context"

	"github.com/minishop/minishop/commerce"
)

// Reads. None of them writes anything: Open is the recipient's view, which
// records the first opening and emits gift.opened; these are for the
// giver's "my gifts" page, a recipient's "gifts I received", support tools
// and the host's own bookkeeping.

// MaxGiftPage is the most gifts one page of SentGifts or ReceivedGifts
// returns.
const MaxGiftPage = 100

// GiftQuery selects gifts for Store.ListGifts: exactly one of Giver and
// Recipient, a page of at most Limit after the gift After.
type GiftQuery struct {
	Giver     commerce.CustomerID
	Recipient commerce.CustomerID
	After     GiftID
	Limit     int
}

// GetGift returns a gift as stored: its status, its ExpiresAt once paid,
// its recipient once accepted.
func (s *Service) GetGift(ctx context.Context, merchant commerce.MerchantID, id GiftID) (*Gift, error) {
	const op = "gifting.get_gift"
	if err := commerce.CheckID(op, "merchant_id", merchant); err != nil {
		return nil, err
	}
	if err := commerce.CheckID(op, "gift_id", id); err != nil {
		return nil, err
	}
	g, err := s.store.GetGift(ctx, merchant, id)
	return sealed(g), commerce.NotFoundAs(op, "gift_id", err)
}

// GiftByOrder returns the gift an order carries: the way from an order (a
// payment notification, an after-sales request) to its gift.
func (s *Service) GiftByOrder(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID) (*Gift, error) {
	const op = "gifting.gift_by_order"
	if err := commerce.CheckID(op, "merchant_id", merchant); err != nil {
		return nil, err
	}
	if err := commerce.CheckID(op, "order_id", order); err != nil {
		return nil, err
	}
	g, err := s.store.GiftByOrder(ctx, merchant, order)
	return sealed(g), commerce.NotFoundAs(op, "order_id", err)
}

// SentGifts returns a page of the gifts giver sent at the merchant, oldest
// first, after the gift after (zero for the first page); limit is 1 to
// MaxGiftPage. Unpaid gifts are included: the giver sees the order waiting
// for payment.
func (s *Service) SentGifts(ctx context.Context, merchant commerce.MerchantID, giver commerce.CustomerID, after GiftID, limit int) ([]*Gift, error) {
	return s.listGifts(ctx, "gifting.sent_gifts", merchant, GiftQuery{Giver: giver, After: after, Limit: limit}, "giver", giver)
}

// ReceivedGifts returns a page of the gifts recipient received at the
// merchant, oldest first: one-friend gifts they accepted and group gifts or
// lotteries in which they hold a slot. Paging as SentGifts.
func (s *Service) ReceivedGifts(ctx context.Context, merchant commerce.MerchantID, recipient commerce.CustomerID, after GiftID, limit int) ([]*Gift, error) {
	return s.listGifts(ctx, "gifting.received_gifts", merchant, GiftQuery{Recipient: recipient, After: after, Limit: limit}, "recipient", recipient)
}

func (s *Service) listGifts(ctx context.Context, op string, merchant commerce.MerchantID, q GiftQuery, field string, who commerce.CustomerID) ([]*Gift, error) {
	if err := commerce.CheckID(op, "merchant_id", merchant); err != nil {
		return nil, err
	}
	if err := commerce.CheckCustomer(op, field, who); err != nil {
		return nil, err
	}
	if q.Limit < 1 || q.Limit > MaxGiftPage {
		return nil, commerce.Invalid(op, "limit", "%d is outside [1, %d]", q.Limit, MaxGiftPage)
	}
	gs, err := s.store.ListGifts(ctx, merchant, q)
	for i := range gs {
		gs[i] = sealed(gs[i])
	}
	return gs, commerce.Wrap(op, err)
}

// sealed returns g with a lottery's seed blanked until the draw, as every
// gift the service hands out has it: whoever knew the seed before the draw
// could compute the winners for the entrants so far and pick the moment to
// draw (the giver may draw early). Only SeedHash, the commitment, shows.
func sealed(g *Gift) *Gift {
	if g != nil && g.Draw != nil && g.Draw.Drawn.IsZero() && g.Draw.Seed != "" {
		g = g.Clone()
		g.Draw.Seed = ""
	}
	return g
}
