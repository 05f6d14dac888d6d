package httpapi

import (
	_ "embed"
	"fmt"
	"net/http"

	minishop "github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/coupons"
	"github.com/minishop/minishop/membership"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/promoter"
)

// Customer is who a customer API request acts for.
type Customer struct {
	ID commerce.CustomerID
	// OpenID is the customer's openid in the Mini Program they pay in
	// (the payer of a WeChat Pay payment); App is that Mini Program's
	// appid when it is not the merchant's own.
	OpenID, App string
	// Promoter is the promoter the customer is, when the host made them
	// one: their share links of products and of the shop earn commission.
	Promoter promoter.PromoterID
}

// Customers turns a request into the customer it acts for at merchant
// (the host's session check: the token of the WeChat login, say), or an
// error wrapping ErrUnauthenticated.
type Customers interface {
	Customer(r *http.Request, merchant commerce.MerchantID) (Customer, error)
}

// CustomersFunc is a function as a Customers.
type CustomersFunc func(r *http.Request, merchant commerce.MerchantID) (Customer, error)

// Customer implements Customers.
func (f CustomersFunc) Customer(r *http.Request, m commerce.MerchantID) (Customer, error) {
	return f(r, m)
}

//go:embed openapi_customer.json
var customerDoc []byte

// NewCustomer returns the customer API: catalog, cart, quote, checkout,
// the customer's orders (pay, cancel, confirm receipt, ask for a refund),
// gifts and their claim links, group buying, the coupon wallet, the member
// card, share links, and the payment channels' notify URL (POST /notify/{provider}, which
// needs no customer: the channel signs it).
func NewCustomer(e *minishop.Engine, customers Customers, cfg Config) http.Handler {
	c := &customerAPI{customers: customers}
	c.api = newAPI(e, cfg, customerDoc, []route{
		{"GET", "/shops/{merchant}/products", c.products},
		{"GET", "/shops/{merchant}/products/{product}", c.product},
		{"GET", "/shops/{merchant}/cart", c.cart},
		{"PUT", "/shops/{merchant}/cart/items/{sku}", c.setCartItem},
		{"DELETE", "/shops/{merchant}/cart/items/{sku}", c.removeCartItem},
		{"POST", "/shops/{merchant}/quote", c.quote},
		{"POST", "/shops/{merchant}/orders", c.checkout},
		{"GET", "/shops/{merchant}/orders", c.orders},
		{"GET", "/shops/{merchant}/orders/{order}", c.order},
		{"POST", "/shops/{merchant}/orders/{order}/pay", c.pay},
		{"POST", "/shops/{merchant}/orders/{order}/cancel", c.cancel},
		{"POST", "/shops/{merchant}/orders/{order}/receive", c.receive},
		{"POST", "/shops/{merchant}/orders/{order}/refunds", c.refund},
		{"GET", "/shops/{merchant}/orders/{order}/group", c.orderGroup},
		{"POST", "/shops/{merchant}/gifts", c.sendGift},
		{"GET", "/shops/{merchant}/gifts", c.gifts},
		{"GET", "/shops/{merchant}/gifts/{gift}", c.gift},
		{"GET", "/shops/{merchant}/gift-links/{token}", c.openGift},
		{"POST", "/shops/{merchant}/gift-links/{token}/accept", c.acceptGift},
		{"POST", "/shops/{merchant}/gift-links/{token}/claim", c.claimGift},
		{"POST", "/shops/{merchant}/gift-links/{token}/enter", c.enterGift},
		{"GET", "/shops/{merchant}/group-activities/{activity}", c.groupActivity},
		{"GET", "/shops/{merchant}/groups/{token}", c.groupPage},
		{"GET", "/shops/{merchant}/coupons", c.wallet},
		{"POST", "/shops/{merchant}/coupons", c.claimCoupon},
		{"GET", "/shops/{merchant}/coupon-batches/{batch}", c.couponBatch},
		{"GET", "/shops/{merchant}/member", c.member},
		{"POST", "/shops/{merchant}/member", c.join},
		{"GET", "/shops/{merchant}/member/points", c.points},
		{"POST", "/shops/{merchant}/share-links", c.shareLink},
		{"POST", "/notify/{provider}", c.notify},
	})
	return c.api
}

type customerAPI struct {
	*api
	customers Customers
}

// who reads the merchant from the path and the customer from the host.
func (c *customerAPI) who(r *http.Request) (commerce.MerchantID, Customer, error) {
	m, err := pathID[commerce.MerchantID](r, "merchant")
	if err != nil {
		return m, Customer{}, err
	}
	cu, err := c.customers.Customer(r, m)
	if err != nil {
		return m, cu, err
	}
	if cu.ID == "" {
		return m, cu, fmt.Errorf("no customer: %w", ErrUnauthenticated)
	}
	return m, cu, nil
}

// whoAnd reads who asks and the path's typed id called name: the prologue
// of every handler of one thing of the shop's.
func whoAnd[I any, P interface {
	*I
	UnmarshalText([]byte) error
}](c *customerAPI, r *http.Request, name string) (commerce.MerchantID, Customer, I, error) {
	m, cu, err := c.who(r)
	if err != nil {
		var zero I
		return m, cu, zero, err
	}
	id, err := pathID[I, P](r, name)
	return m, cu, id, err
}

func (c *customerAPI) products(w http.ResponseWriter, r *http.Request) error {
	m, _, err := c.who(r)
	if err != nil {
		return err
	}
	limit, from, err := pageOf[commerce.ProductID](r)
	if err != nil {
		return err
	}
	ps, err := c.engine.Commerce.ListProducts(r.Context(), m, commerce.ProductQuery{State: commerce.Listed,
		Category: r.URL.Query().Get("category"), After: from, Limit: limit})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listOf(ps, limit, productView, func(p *commerce.Product) string { return p.ID.String() }))
	return nil
}

func (c *customerAPI) product(w http.ResponseWriter, r *http.Request) error {
	m, _, id, err := whoAnd[commerce.ProductID](c, r, "product")
	if err != nil {
		return err
	}
	p, err := c.engine.Commerce.GetProduct(r.Context(), m, id)
	if err != nil {
		return err
	}
	if p.State != commerce.Listed {
		return notFound("product")
	}
	writeJSON(w, http.StatusOK, productView(p))
	return nil
}

func (c *customerAPI) cart(w http.ResponseWriter, r *http.Request) error {
	m, cu, err := c.who(r)
	if err != nil {
		return err
	}
	cart, err := c.engine.Commerce.GetCart(r.Context(), m, cu.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, cartView(cart))
	return nil
}

// CartItemRequest sets a SKU's quantity in the cart.
type CartItemRequest struct {
	Quantity int64 `json:"quantity"`
}

func (c *customerAPI) setCartItem(w http.ResponseWriter, r *http.Request) error {
	m, cu, sku, err := whoAnd[commerce.SKUID](c, r, "sku")
	if err != nil {
		return err
	}
	var req CartItemRequest
	if err := decode(r, &req, false); err != nil {
		return err
	}
	cart, err := c.engine.Commerce.SetCartQuantity(r.Context(), commerce.CartParams{MerchantID: m, CustomerID: cu.ID, SKU: sku, Quantity: req.Quantity})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, cartView(cart))
	return nil
}

func (c *customerAPI) removeCartItem(w http.ResponseWriter, r *http.Request) error {
	m, cu, sku, err := whoAnd[commerce.SKUID](c, r, "sku")
	if err != nil {
		return err
	}
	cart, err := c.engine.Commerce.RemoveFromCart(r.Context(), m, cu.ID, sku)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, cartView(cart))
	return nil
}

// LineRequest is a SKU and a quantity to buy.
type LineRequest struct {
	SKU      string `json:"sku"`
	Quantity int64  `json:"quantity"`
}

// QuoteRequest prices lines (or the cart) with what the customer chose:
// a coupon, points to spend, the promoter link they came by.
type QuoteRequest struct {
	Lines    []LineRequest `json:"lines,omitempty"`
	FromCart bool          `json:"from_cart,omitempty"`
	// Coupon is a coupon of the customer's wallet; NoCoupon asks for
	// none (by default checkout picks the best the customer holds).
	Coupon   string `json:"coupon,omitempty"`
	NoCoupon bool   `json:"no_coupon,omitempty"`
	Points   int64  `json:"points,omitempty"`
	// PromoterLink is the share token of the link the customer came by.
	PromoterLink string `json:"promoter_link,omitempty"`
	// GroupActivity opens a group of a group-buying activity, with the
	// customer as its leader; GroupLink (a group's share token) takes a
	// place in that group. DisplayName is the name the group's page shows.
	GroupActivity string `json:"group_activity,omitempty"`
	GroupLink     string `json:"group_link,omitempty"`
	DisplayName   string `json:"display_name,omitempty"`
}

// lines and extensions turn the request into the kernel's input.
func (q *QuoteRequest) kernel() ([]commerce.LineItem, commerce.Extensions, error) {
	var lines []commerce.LineItem
	for i, l := range q.Lines {
		sku, err := commerce.ParseID[commerce.SKUID](l.SKU)
		if err != nil {
			return nil, nil, invalid(fmt.Sprintf("lines[%d].sku", i), "%q is not a SKU id", l.SKU)
		}
		lines = append(lines, commerce.LineItem{SKU: sku, Quantity: l.Quantity})
	}
	var exts []commerce.Extension
	switch {
	case q.Coupon != "" && q.NoCoupon:
		return nil, nil, invalid("coupon", "a coupon and no_coupon together")
	case q.Coupon != "":
		id, err := commerce.ParseID[coupons.CouponID](q.Coupon)
		if err != nil {
			return nil, nil, invalid("coupon", "%q is not a coupon id", q.Coupon)
		}
		exts = append(exts, coupons.Select(id))
	case q.NoCoupon:
		exts = append(exts, coupons.NoCoupon())
	}
	if q.Points < 0 {
		return nil, nil, invalid("points", "%d is negative", q.Points)
	}
	if q.Points > 0 {
		exts = append(exts, membership.SpendPoints(q.Points))
	}
	if q.PromoterLink != "" {
		exts = append(exts, promoter.Link(q.PromoterLink))
	}
	return lines, commerce.With(exts...), nil
}

func (c *customerAPI) quote(w http.ResponseWriter, r *http.Request) error {
	m, cu, err := c.who(r)
	if err != nil {
		return err
	}
	var req QuoteRequest
	if err := decode(r, &req, false); err != nil {
		return err
	}
	lines, exts, err := c.choices(r.Context(), m, &req)
	if err != nil {
		return err
	}
	q, err := c.engine.Commerce.Quote(r.Context(), commerce.QuoteParams{MerchantID: m, CustomerID: cu.ID, Lines: lines, FromCart: req.FromCart, Extensions: exts})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, quoteView(q))
	return nil
}

// CheckoutRequest places an order: a quote's choices and where it goes.
type CheckoutRequest struct {
	QuoteRequest
	Address *Address `json:"address,omitempty"`
	Note    string   `json:"note,omitempty"`
}

func (c *customerAPI) checkout(w http.ResponseWriter, r *http.Request) error {
	m, cu, err := c.who(r)
	if err != nil {
		return err
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	var req CheckoutRequest
	if err := decode(r, &req, false); err != nil {
		return err
	}
	lines, exts, err := c.choices(r.Context(), m, &req.QuoteRequest)
	if err != nil {
		return err
	}
	o, err := c.engine.Commerce.Checkout(r.Context(), commerce.CheckoutParams{MerchantID: m, CustomerID: cu.ID, Lines: lines, FromCart: req.FromCart,
		IdempotencyKey: key, ShippingAddress: req.Address.kernel(), Note: req.Note, Extensions: exts})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, orderView(o, false))
	return nil
}

func (c *customerAPI) orders(w http.ResponseWriter, r *http.Request) error {
	m, cu, err := c.who(r)
	if err != nil {
		return err
	}
	limit, from, err := pageOf[commerce.OrderID](r)
	if err != nil {
		return err
	}
	os, err := c.engine.Commerce.ListOrders(r.Context(), m, commerce.OrderQuery{Customer: cu.ID,
		Status: commerce.OrderStatus(r.URL.Query().Get("status")), After: from, Limit: limit})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listOf(os, limit, func(o *commerce.Order) Order { return orderView(o, false) },
		func(o *commerce.Order) string { return o.ID.String() }))
	return nil
}

// mine reads the path's order, which must be the customer's: another
// customer's is not found.
func (c *customerAPI) mine(r *http.Request) (commerce.MerchantID, Customer, *commerce.Order, error) {
	m, cu, id, err := whoAnd[commerce.OrderID](c, r, "order")
	if err != nil {
		return m, cu, nil, err
	}
	o, err := c.engine.Commerce.GetOrder(r.Context(), m, id)
	if err != nil {
		return m, cu, nil, err
	}
	if o.CustomerID != cu.ID {
		return m, cu, nil, notFound("order")
	}
	return m, cu, o, nil
}

func (c *customerAPI) order(w http.ResponseWriter, r *http.Request) error {
	_, _, o, err := c.mine(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, orderView(o, false))
	return nil
}

// PayRequest opens (or reopens) the payment of an order's due.
type PayRequest struct {
	// Provider names the channel ("wechatpay"); empty when only one is
	// set up.
	Provider string `json:"provider,omitempty"`
}

func (c *customerAPI) pay(w http.ResponseWriter, r *http.Request) error {
	m, cu, o, err := c.mine(r)
	if err != nil {
		return err
	}
	var req PayRequest
	if err := decode(r, &req, true); err != nil {
		return err
	}
	p, prepay, err := c.engine.Payments.Pay(r.Context(), payment.PayParams{MerchantID: m, OrderID: o.ID, Provider: req.Provider,
		Payer: cu.OpenID, PayerApp: cu.App})
	if err != nil {
		return err
	}
	v := Payment{ID: p.ID.String(), PaymentNo: p.PaymentNo, Provider: p.Provider, Amount: p.Amount, Status: string(p.Status)}
	if prepay != nil {
		v.Params = prepay.ClientParams
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (c *customerAPI) cancel(w http.ResponseWriter, r *http.Request) error {
	m, _, o, err := c.mine(r)
	if err != nil {
		return err
	}
	var req struct {
		Reason string `json:"reason,omitempty"`
	}
	if err := decode(r, &req, true); err != nil {
		return err
	}
	if req.Reason == "" {
		req.Reason = "cancelled by the customer"
	}
	o, err = c.engine.Commerce.Cancel(r.Context(), m, o.ID, req.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, orderView(o, false))
	return nil
}

func (c *customerAPI) receive(w http.ResponseWriter, r *http.Request) error {
	m, _, o, err := c.mine(r)
	if err != nil {
		return err
	}
	if err := decode(r, &struct{}{}, true); err != nil {
		return err
	}
	o, err = c.engine.Commerce.ConfirmReceipt(r.Context(), m, o.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, orderView(o, false))
	return nil
}

// RefundRequest asks for units of lines back, or everything not yet
// refunded.
type RefundRequest struct {
	Items  []RefundItem `json:"items,omitempty"`
	All    bool         `json:"all,omitempty"`
	Reason string       `json:"reason,omitempty"`
}

// RefundItem is a quantity of one order line (its index in lines).
type RefundItem struct {
	Line     int   `json:"line"`
	Quantity int64 `json:"quantity"`
}

// refundOrder carries out a refund request on o.
func (a *api) refundOrder(w http.ResponseWriter, r *http.Request, m commerce.MerchantID, o *commerce.Order) error {
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	var req RefundRequest
	if err := decode(r, &req, false); err != nil {
		return err
	}
	items := make([]commerce.RefundItem, len(req.Items))
	for i, it := range req.Items {
		items[i] = commerce.RefundItem{Line: it.Line, Quantity: it.Quantity}
	}
	rf, err := a.engine.Commerce.Refund(r.Context(), commerce.RefundParams{MerchantID: m, OrderID: o.ID, Items: items, All: req.All,
		Reason: req.Reason, IdempotencyKey: key})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, refundView(rf))
	return nil
}

func (c *customerAPI) refund(w http.ResponseWriter, r *http.Request) error {
	m, _, o, err := c.mine(r)
	if err != nil {
		return err
	}
	return c.refundOrder(w, r, m, o)
}

// notify hands a channel's notification to the payment service, which
// verifies it and answers the channel as it expects.
func (c *customerAPI) notify(w http.ResponseWriter, r *http.Request) error {
	c.engine.Payments.NotificationHandler(r.PathValue("provider"), func(r *http.Request, err error) {
		if c.cfg.OnError != nil {
			c.cfg.OnError(r, err)
		}
	}).ServeHTTP(w, r)
	return nil
}
