package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/minishop/minishop/campaigns"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/coupons"
	"github.com/minishop/minishop/gifting"
	"github.com/minishop/minishop/membership"
	"github.com/minishop/minishop/promoter"
)

// The social side of the customer API: gifts and their links, group
// buying, the coupon wallet, the member card and share links. A link's
// token is all its holder needs to see what it stands for; acting on it
// (accepting, claiming) still needs a customer.

// SendGiftRequest buys a gift: one item for one friend, or Quantity slots
// for a chat group's members to claim.
type SendGiftRequest struct {
	// Kind is "single" (the default) or "group".
	Kind      string `json:"kind,omitempty"`
	SKU       string `json:"sku"`
	Quantity  int64  `json:"quantity,omitempty"`
	Group     string `json:"group,omitempty"`
	Message   string `json:"message,omitempty"`
	GiverName string `json:"giver_name,omitempty"`
	// Coupon, NoCoupon and Points are the giver's checkout choices, as in
	// a quote.
	Coupon   string `json:"coupon,omitempty"`
	NoCoupon bool   `json:"no_coupon,omitempty"`
	Points   int64  `json:"points,omitempty"`
}

// SentGift is what sending a gift made: the gift and the order the giver
// pays (POST .../orders/{order}/pay); the gift is sent once it is paid.
type SentGift struct {
	Gift  Gift  `json:"gift"`
	Order Order `json:"order"`
}

func (c *customerAPI) sendGift(w http.ResponseWriter, r *http.Request) error {
	m, cu, err := c.who(r)
	if err != nil {
		return err
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	var req SendGiftRequest
	if err := decode(r, &req, false); err != nil {
		return err
	}
	kind := gifting.Kind(req.Kind)
	switch kind {
	case "":
		kind = gifting.Single
	case gifting.Single, gifting.Group:
	default:
		return invalid("kind", "%q: a gift is \"single\" or \"group\"", req.Kind)
	}
	sku, err := commerce.ParseID[commerce.SKUID](req.SKU)
	if err != nil {
		return invalid("sku", "%q is not a SKU id", req.SKU)
	}
	if req.Quantity == 0 {
		req.Quantity = 1
	}
	_, exts, err := c.choices(r.Context(), m, &QuoteRequest{Coupon: req.Coupon, NoCoupon: req.NoCoupon, Points: req.Points})
	if err != nil {
		return err
	}
	g, o, err := c.engine.Gifting.Send(r.Context(), gifting.SendParams{MerchantID: m, Kind: kind, Giver: cu.ID, GiverName: req.GiverName,
		SKU: sku, Quantity: req.Quantity, Group: req.Group, Message: req.Message, IdempotencyKey: key, Extensions: exts})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, SentGift{Gift: c.giftView(g, o, cu.ID), Order: orderView(o, false)})
	return nil
}

func (c *customerAPI) gifts(w http.ResponseWriter, r *http.Request) error {
	m, cu, err := c.who(r)
	if err != nil {
		return err
	}
	limit, after, err := pageOf[gifting.GiftID](r)
	if err != nil {
		return err
	}
	var gs []*gifting.Gift
	switch role := r.URL.Query().Get("role"); role {
	case "", "sent":
		gs, err = c.engine.Gifting.SentGifts(r.Context(), m, cu.ID, after, limit)
	case "received":
		gs, err = c.engine.Gifting.ReceivedGifts(r.Context(), m, cu.ID, after, limit)
	default:
		return invalid("role", "%q: role is sent or received", role)
	}
	if err != nil {
		return err
	}
	views := make([]Gift, 0, len(gs))
	for _, g := range gs {
		o, err := c.engine.Commerce.GetOrder(r.Context(), m, g.OrderID)
		if err != nil {
			return err
		}
		views = append(views, c.giftView(g, o, cu.ID))
	}
	l := List[Gift]{Items: views}
	if len(gs) == limit {
		l.Next = gs[len(gs)-1].ID.String()
	}
	writeJSON(w, http.StatusOK, l)
	return nil
}

func (c *customerAPI) gift(w http.ResponseWriter, r *http.Request) error {
	m, cu, id, err := whoAnd[gifting.GiftID](c, r, "gift")
	if err != nil {
		return err
	}
	g, err := c.engine.Gifting.GetGift(r.Context(), m, id)
	if err != nil {
		return err
	}
	if g.Giver != cu.ID && g.Recipient != cu.ID {
		return notFound("gift")
	}
	o, err := c.engine.Commerce.GetOrder(r.Context(), m, g.OrderID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c.giftView(g, o, cu.ID))
	return nil
}

// giftView is g as who sees it: its giver gets the claim token once it is
// sent, nobody gets another person's address.
func (c *customerAPI) giftView(g *gifting.Gift, o *commerce.Order, who commerce.CustomerID) Gift {
	v := Gift{ID: g.ID.String(), Kind: string(g.Kind), Status: string(g.Status), Order: g.OrderID.String(), OrderStatus: string(o.Status),
		Message: g.Message, GiverName: g.GiverName, Slots: g.Slots, Giver: g.Giver == who, Accepted: g.Recipient != "",
		ExpiresAt: when(g.ExpiresAt), AcceptedAt: when(g.AcceptedAt), Lines: make([]GiftLine, len(o.Lines))}
	for i, l := range o.Lines {
		v.Lines[i] = GiftLine{SKU: l.SKU.String(), Title: l.Title, Attributes: attributes(l.Attributes), Quantity: l.Quantity}
	}
	if s := o.Shipment; s != nil {
		v.Shipment = &Shipment{Method: string(s.Method), Carrier: s.Carrier, TrackingNo: s.TrackingNo}
	}
	if g.Giver == who && g.Status != gifting.Unpaid {
		v.Token = c.engine.Gifting.Token(g)
	}
	return v
}

// giftLink reads who asks and the path's gift token.
func (c *customerAPI) giftLink(r *http.Request) (commerce.MerchantID, Customer, string, error) {
	m, cu, err := c.who(r)
	return m, cu, r.PathValue("token"), err
}

func (c *customerAPI) openGift(w http.ResponseWriter, r *http.Request) error {
	m, cu, tok, err := c.giftLink(r)
	if err != nil {
		return err
	}
	v, err := c.engine.Gifting.Open(r.Context(), m, tok)
	if err != nil {
		return err
	}
	view := giftLinkView(v)
	view.Yours = v.Giver == cu.ID
	writeJSON(w, http.StatusOK, view)
	return nil
}

// AcceptGiftRequest accepts a one-friend gift, or claims a slot of a group
// gift, with the recipient's own address and optionally another SKU of
// the same product at the same price.
type AcceptGiftRequest struct {
	Address *Address `json:"address"`
	SKU     string   `json:"sku,omitempty"`
}

// accepted reads an AcceptGiftRequest: the address and the SKU picked
// (zero when none).
func accepted(r *http.Request) (commerce.Address, commerce.SKUID, error) {
	var req AcceptGiftRequest
	if err := decode(r, &req, false); err != nil {
		return commerce.Address{}, commerce.SKUID{}, err
	}
	if req.Address == nil {
		return commerce.Address{}, commerce.SKUID{}, invalid("address", "the recipient's address is required")
	}
	var sku commerce.SKUID
	if req.SKU != "" {
		var err error
		if sku, err = commerce.ParseID[commerce.SKUID](req.SKU); err != nil {
			return commerce.Address{}, sku, invalid("sku", "%q is not a SKU id", req.SKU)
		}
	}
	return *req.Address.kernel(), sku, nil
}

func (c *customerAPI) acceptGift(w http.ResponseWriter, r *http.Request) error {
	m, cu, tok, err := c.giftLink(r)
	if err != nil {
		return err
	}
	addr, sku, err := accepted(r)
	if err != nil {
		return err
	}
	if !sku.IsZero() {
		if err := c.engine.Gifting.SwitchSKU(r.Context(), m, tok, sku); err != nil {
			return err
		}
	}
	g, err := c.engine.Gifting.Accept(r.Context(), m, tok, cu.ID, addr)
	if err != nil {
		return err
	}
	return c.writeGift(w, r, m, g, cu.ID)
}

func (c *customerAPI) writeGift(w http.ResponseWriter, r *http.Request, m commerce.MerchantID, g *gifting.Gift, who commerce.CustomerID) error {
	o, err := c.engine.Commerce.GetOrder(r.Context(), m, g.OrderID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c.giftView(g, o, who))
	return nil
}

// ClaimedSlot is the slot of a group gift a claim holds.
type ClaimedSlot struct {
	Line      int       `json:"line"`
	Address   Address   `json:"address"`
	ClaimedAt time.Time `json:"claimed_at"`
}

func (c *customerAPI) claimGift(w http.ResponseWriter, r *http.Request) error {
	m, cu, tok, err := c.giftLink(r)
	if err != nil {
		return err
	}
	addr, sku, err := accepted(r)
	if err != nil {
		return err
	}
	s, err := c.engine.Gifting.Claim(r.Context(), gifting.ClaimParams{MerchantID: m, Token: tok, Claimer: cu.ID, Address: addr, SKU: sku})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ClaimedSlot{Line: s.Line, Address: *addressView(s.Address), ClaimedAt: s.ClaimedAt.UTC()})
	return nil
}

func (c *customerAPI) enterGift(w http.ResponseWriter, r *http.Request) error {
	m, cu, tok, err := c.giftLink(r)
	if err != nil {
		return err
	}
	if err := decode(r, &struct{}{}, true); err != nil {
		return err
	}
	if err := c.engine.Gifting.Enter(r.Context(), m, tok, cu.ID); err != nil {
		return err
	}
	return c.openGift(w, r)
}

// choices turns a quote's choices into the kernel's lines and extensions;
// a group link is verified against the shop.
func (c *customerAPI) choices(ctx context.Context, m commerce.MerchantID, q *QuoteRequest) ([]commerce.LineItem, commerce.Extensions, error) {
	lines, exts, err := q.kernel()
	if err != nil {
		return nil, nil, err
	}
	switch {
	case q.GroupActivity != "" && q.GroupLink != "":
		return nil, nil, invalid("group_link", "open a group or join one, not both")
	case q.GroupActivity != "":
		id, err := commerce.ParseID[campaigns.GroupActivityID](q.GroupActivity)
		if err != nil {
			return nil, nil, invalid("group_activity", "%q is not a group activity id", q.GroupActivity)
		}
		ext := campaigns.OpenGroup(id, q.DisplayName)
		exts[ext.Key] = ext.Value
	case q.GroupLink != "":
		g, err := c.engine.Campaigns.GroupByToken(ctx, m, q.GroupLink)
		if err != nil {
			return nil, nil, asField(err, "group_link")
		}
		ext := campaigns.JoinGroup(g.ID, q.DisplayName)
		exts[ext.Key] = ext.Value
	}
	return lines, exts, nil
}

// asField names field as what a refused token was: the services name
// their own parameter, which is not the request's. An error naming one
// of the request's own fields (own, or a field under it) stays as it is.
func asField(err error, field string, own ...string) error {
	var ce *commerce.Error
	if errors.As(err, &ce) && ce.Kind == commerce.KindInvalid {
		for _, o := range own {
			if ce.Field == o || strings.HasPrefix(ce.Field, o+".") {
				return err
			}
		}
		return invalid(field, "%s", ce.Error())
	}
	return err
}

func (c *customerAPI) groupPage(w http.ResponseWriter, r *http.Request) error {
	m, _, err := c.who(r)
	if err != nil {
		return err
	}
	tok := r.PathValue("token")
	g, err := c.engine.Campaigns.GroupByToken(r.Context(), m, tok)
	if err != nil {
		if commerce.KindOf(err) == commerce.KindInvalid {
			return notFound("group")
		}
		return err
	}
	return c.writeGroup(w, r, m, g, tok)
}

func (c *customerAPI) writeGroup(w http.ResponseWriter, r *http.Request, m commerce.MerchantID, g *campaigns.Group, tok string) error {
	p, err := c.engine.Campaigns.GroupPage(r.Context(), m, g.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, groupView(p, tok))
	return nil
}

func (c *customerAPI) groupActivity(w http.ResponseWriter, r *http.Request) error {
	m, _, id, err := whoAnd[campaigns.GroupActivityID](c, r, "activity")
	if err != nil {
		return err
	}
	a, err := c.engine.Campaigns.GroupActivity(r.Context(), m, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, activityView(a))
	return nil
}

// orderGroup is the group the customer's order opened or joined, with its
// share link.
func (c *customerAPI) orderGroup(w http.ResponseWriter, r *http.Request) error {
	m, _, o, err := c.mine(r)
	if err != nil {
		return err
	}
	if o.Group == nil {
		return notFound("group")
	}
	id, err := commerce.ParseID[campaigns.GroupID](o.Group.ID)
	if err != nil {
		return notFound("group")
	}
	g, err := c.engine.Campaigns.Group(r.Context(), m, id)
	if err != nil {
		return err
	}
	return c.writeGroup(w, r, m, g, c.engine.Campaigns.GroupToken(g))
}

func (c *customerAPI) wallet(w http.ResponseWriter, r *http.Request) error {
	m, cu, err := c.who(r)
	if err != nil {
		return err
	}
	cs, err := c.engine.Coupons.Wallet(r.Context(), cu.ID, coupons.Status(r.URL.Query().Get("status")))
	if err != nil {
		return err
	}
	l := List[Coupon]{Items: []Coupon{}}
	batches := map[coupons.BatchID]*coupons.Batch{}
	for _, cp := range cs {
		if cp.MerchantID != m {
			continue // the wallet spans shops; this API is one shop's
		}
		b, ok := batches[cp.BatchID]
		if !ok {
			if b, err = c.engine.Coupons.GetBatch(r.Context(), m, cp.BatchID); err != nil {
				return err
			}
			batches[cp.BatchID] = b
		}
		l.Items = append(l.Items, couponView(cp, b))
	}
	writeJSON(w, http.StatusOK, l)
	return nil
}

// ClaimCouponRequest claims a coupon of a batch, through a share,
// promoter or group link's token when it came by one.
type ClaimCouponRequest struct {
	Batch string `json:"batch"`
	Token string `json:"token,omitempty"`
	// Point is where the customer is, for a batch only customers near a
	// place may claim (CouponBatch.near).
	Point *Point `json:"point,omitempty"`
}

func (c *customerAPI) claimCoupon(w http.ResponseWriter, r *http.Request) error {
	m, cu, err := c.who(r)
	if err != nil {
		return err
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	var req ClaimCouponRequest
	if err := decode(r, &req, false); err != nil {
		return err
	}
	id, err := commerce.ParseID[coupons.BatchID](req.Batch)
	if err != nil {
		return invalid("batch", "%q is not a coupon batch id", req.Batch)
	}
	cl := coupons.ClaimParams{MerchantID: m, BatchID: id, Customer: cu.ID, RequestID: key, Token: req.Token}
	if req.Point != nil {
		cl.Point = &commerce.GeoPoint{Latitude: req.Point.Latitude, Longitude: req.Point.Longitude}
	}
	cp, err := c.engine.Coupons.Claim(r.Context(), cl)
	if err != nil {
		return asField(err, "token", "point")
	}
	b, err := c.engine.Coupons.GetBatch(r.Context(), m, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, couponView(cp, b))
	return nil
}

func (c *customerAPI) couponBatch(w http.ResponseWriter, r *http.Request) error {
	m, _, id, err := whoAnd[coupons.BatchID](c, r, "batch")
	if err != nil {
		return err
	}
	b, err := c.engine.Coupons.GetBatch(r.Context(), m, id)
	if err != nil {
		return err
	}
	if b.Status == coupons.Draft {
		return notFound("coupon batch")
	}
	writeJSON(w, http.StatusOK, batchView(b))
	return nil
}

func (c *customerAPI) member(w http.ResponseWriter, r *http.Request) error {
	m, cu, err := c.who(r)
	if err != nil {
		return err
	}
	card, err := c.engine.Membership.Card(r.Context(), m, cu.ID)
	if err != nil {
		return err
	}
	return c.writeCard(w, r, m, card, http.StatusOK)
}

func (c *customerAPI) join(w http.ResponseWriter, r *http.Request) error {
	m, cu, err := c.who(r)
	if err != nil {
		return err
	}
	if err := decode(r, &struct{}{}, true); err != nil {
		return err
	}
	card, err := c.engine.Membership.Join(r.Context(), m, cu.ID)
	if err != nil {
		return err
	}
	return c.writeCard(w, r, m, card, http.StatusOK)
}

func (c *customerAPI) writeCard(w http.ResponseWriter, r *http.Request, m commerce.MerchantID, card *membership.Member, status int) error {
	p, err := c.engine.Membership.Program(r.Context(), m)
	if err != nil {
		return err
	}
	writeJSON(w, status, memberView(card, p))
	return nil
}

func (c *customerAPI) points(w http.ResponseWriter, r *http.Request) error {
	m, cu, err := c.who(r)
	if err != nil {
		return err
	}
	limit, after, err := pageOf[membership.EntryID](r)
	if err != nil {
		return err
	}
	es, err := c.engine.Membership.Statement(r.Context(), m, cu.ID, after, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listOf(es, limit, pointsView, func(e *membership.Entry) string { return e.ID.String() }))
	return nil
}

// ShareLinkRequest asks for a link to share: of a product or of the shop
// (a promoter's, earning commission), or of a coupon batch (a promoter's,
// or a friend's share of a shareable batch).
type ShareLinkRequest struct {
	Product     string `json:"product,omitempty"`
	CouponBatch string `json:"coupon_batch,omitempty"`
	// Scene is where a promoter shares it: group (the default), card,
	// live, video, qr.
	Scene string `json:"scene,omitempty"`
}

// ShareLink is a token to put in the shared page's query: promoter_link
// on a quote or checkout, token on a coupon claim.
type ShareLink struct {
	Token string `json:"token"`
	// Kind is "promoter" (commission is earned on what it sells) or
	// "coupon_share" (a friend's share of a coupon batch).
	Kind string `json:"kind"`
}

func (c *customerAPI) shareLink(w http.ResponseWriter, r *http.Request) error {
	m, cu, err := c.who(r)
	if err != nil {
		return err
	}
	var req ShareLinkRequest
	if err := decode(r, &req, false); err != nil {
		return err
	}
	var p promoter.ShareParams
	p.MerchantID, p.PromoterID, p.Scene = m, cu.Promoter, promoter.Scene(req.Scene)
	if p.Scene == "" {
		p.Scene = promoter.SceneGroup
	}
	if req.Product != "" {
		if p.Product, err = commerce.ParseID[commerce.ProductID](req.Product); err != nil {
			return invalid("product", "%q is not a product id", req.Product)
		}
	}
	if req.CouponBatch != "" {
		if p.Coupon, err = commerce.ParseID[coupons.BatchID](req.CouponBatch); err != nil {
			return invalid("coupon_batch", "%q is not a coupon batch id", req.CouponBatch)
		}
	}
	if cu.Promoter.IsZero() {
		if p.Coupon.IsZero() || !p.Product.IsZero() {
			return &apiError{status: http.StatusUnprocessableEntity, kind: "failed_precondition", field: "product",
				msg: "only a promoter shares a product or the shop for commission; a customer shares coupon batches"}
		}
		b, err := c.engine.Coupons.GetBatch(r.Context(), m, p.Coupon)
		if err != nil {
			return err
		}
		if !b.Shareable {
			return &apiError{status: http.StatusUnprocessableEntity, kind: "failed_precondition", field: "coupon_batch",
				msg: "coupon batch " + b.ID.String() + " is not shareable"}
		}
		writeJSON(w, http.StatusOK, ShareLink{Token: c.engine.Coupons.ShareToken(m, b.ID, cu.ID), Kind: "coupon_share"})
		return nil
	}
	tok, err := c.engine.Promoter.ShareToken(p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ShareLink{Token: tok, Kind: "promoter"})
	return nil
}
