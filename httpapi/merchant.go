package httpapi

import (
	_ "embed"
	"net/http"
	"slices"
	"time"

	minishop "github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/promoter"
)

// Operator is who a merchant API request acts for: a shop's staff member,
// or a service provider's, and the merchants they may touch.
type Operator struct {
	ID        string
	Merchants []commerce.MerchantID
}

// May reports whether the operator may touch merchant m.
func (o Operator) May(m commerce.MerchantID) bool { return slices.Contains(o.Merchants, m) }

// Operators turns a request into the operator it acts for, or an error
// wrapping ErrUnauthenticated.
type Operators interface {
	Operator(r *http.Request) (Operator, error)
}

// OperatorsFunc is a function as an Operators.
type OperatorsFunc func(r *http.Request) (Operator, error)

// Operator implements Operators.
func (f OperatorsFunc) Operator(r *http.Request) (Operator, error) { return f(r) }

//go:embed openapi_merchant.json
var merchantDoc []byte

// NewMerchant returns the merchant API: products and stock, orders with
// their states, shipping and refunds, the shop's promoters and their
// statements. A merchant the operator may not
// touch is answered 404, as if it did not exist.
func NewMerchant(e *minishop.Engine, operators Operators, cfg Config) http.Handler {
	m := &merchantAPI{operators: operators}
	m.api = newAPI(e, cfg, merchantDoc, []route{
		{"GET", "/merchants/{merchant}/products", m.products},
		{"POST", "/merchants/{merchant}/products", m.createProduct},
		{"POST", "/merchants/{merchant}/products/{product}/state", m.setState},
		{"POST", "/merchants/{merchant}/skus/{sku}/stock", m.adjustStock},
		{"GET", "/merchants/{merchant}/orders", m.orders},
		{"GET", "/merchants/{merchant}/orders/{order}", m.order},
		{"POST", "/merchants/{merchant}/orders/{order}/ship", m.ship},
		{"POST", "/merchants/{merchant}/orders/{order}/refunds", m.refund},
		{"GET", "/merchants/{merchant}/promoters", m.promoters},
		{"GET", "/merchants/{merchant}/promoters/{promoter}/statement", m.statement},
	})
	return m.api
}

type merchantAPI struct {
	*api
	operators Operators
}

// merchant reads the path's merchant, which the operator must be allowed.
func (a *merchantAPI) merchant(r *http.Request) (commerce.MerchantID, error) {
	m, err := pathID[commerce.MerchantID](r, "merchant")
	if err != nil {
		return m, err
	}
	op, err := a.operators.Operator(r)
	if err != nil {
		return m, err
	}
	if !op.May(m) {
		return m, notFound("merchant")
	}
	return m, nil
}

func (a *merchantAPI) products(w http.ResponseWriter, r *http.Request) error {
	m, err := a.merchant(r)
	if err != nil {
		return err
	}
	limit, from, err := pageOf[commerce.ProductID](r)
	if err != nil {
		return err
	}
	ps, err := a.engine.Commerce.ListProducts(r.Context(), m, commerce.ProductQuery{State: commerce.ListingState(r.URL.Query().Get("state")),
		Category: r.URL.Query().Get("category"), After: from, Limit: limit})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listOf(ps, limit, productView, func(p *commerce.Product) string { return p.ID.String() }))
	return nil
}

// ProductRequest creates a product with its SKUs.
type ProductRequest struct {
	Title       string       `json:"title"`
	Description string       `json:"description,omitempty"`
	Category    string       `json:"category"`
	Pictures    []string     `json:"pictures,omitempty"`
	State       string       `json:"state,omitempty"` // draft when empty
	SKUs        []SKURequest `json:"skus"`
}

// SKURequest is one SKU of a new product.
type SKURequest struct {
	Attributes    []Attribute    `json:"attributes,omitempty"`
	Price         commerce.Money `json:"price"`
	Stock         int64          `json:"stock"`
	PurchaseLimit int64          `json:"purchase_limit,omitempty"`
}

func (a *merchantAPI) createProduct(w http.ResponseWriter, r *http.Request) error {
	m, err := a.merchant(r)
	if err != nil {
		return err
	}
	var req ProductRequest
	if err := decode(r, &req, false); err != nil {
		return err
	}
	p := commerce.ProductParams{MerchantID: m, Title: req.Title, Description: req.Description, Category: req.Category,
		Pictures: req.Pictures, State: commerce.ListingState(req.State), SKUs: make([]commerce.SKUParams, len(req.SKUs))}
	for i, s := range req.SKUs {
		attrs := make([]commerce.Attribute, len(s.Attributes))
		for k, at := range s.Attributes {
			attrs[k] = commerce.Attribute{Name: at.Name, Value: at.Value}
		}
		p.SKUs[i] = commerce.SKUParams{Attributes: attrs, Price: s.Price, Stock: s.Stock, PurchaseLimit: s.PurchaseLimit}
	}
	prod, err := a.engine.Commerce.CreateProduct(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, productView(prod))
	return nil
}

func (a *merchantAPI) setState(w http.ResponseWriter, r *http.Request) error {
	m, err := a.merchant(r)
	if err != nil {
		return err
	}
	id, err := pathID[commerce.ProductID](r, "product")
	if err != nil {
		return err
	}
	var req struct {
		State string `json:"state"`
	}
	if err := decode(r, &req, false); err != nil {
		return err
	}
	p, err := a.engine.Commerce.SetListingState(r.Context(), m, id, commerce.ListingState(req.State))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, productView(p))
	return nil
}

// StockRequest adds delta units to a SKU's stock (negative takes away).
type StockRequest struct {
	Delta int64 `json:"delta"`
}

func (a *merchantAPI) adjustStock(w http.ResponseWriter, r *http.Request) error {
	m, err := a.merchant(r)
	if err != nil {
		return err
	}
	sku, err := pathID[commerce.SKUID](r, "sku")
	if err != nil {
		return err
	}
	var req StockRequest
	if err := decode(r, &req, false); err != nil {
		return err
	}
	if req.Delta == 0 {
		return invalid("delta", "a change of 0")
	}
	n, err := a.engine.Commerce.AdjustStock(r.Context(), m, sku, req.Delta)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"sku": sku.String(), "stock": n})
	return nil
}

func (a *merchantAPI) orders(w http.ResponseWriter, r *http.Request) error {
	m, err := a.merchant(r)
	if err != nil {
		return err
	}
	limit, from, err := pageOf[commerce.OrderID](r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	os, err := a.engine.Commerce.ListOrders(r.Context(), m, commerce.OrderQuery{Customer: commerce.CustomerID(q.Get("customer")),
		Status: commerce.OrderStatus(q.Get("status")), After: from, Limit: limit})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listOf(os, limit, func(o *commerce.Order) Order { return orderView(o, true) },
		func(o *commerce.Order) string { return o.ID.String() }))
	return nil
}

// theOrder reads the path's order of the operator's merchant.
func (a *merchantAPI) theOrder(r *http.Request) (commerce.MerchantID, *commerce.Order, error) {
	m, err := a.merchant(r)
	if err != nil {
		return m, nil, err
	}
	id, err := pathID[commerce.OrderID](r, "order")
	if err != nil {
		return m, nil, err
	}
	o, err := a.engine.Commerce.GetOrder(r.Context(), m, id)
	return m, o, err
}

func (a *merchantAPI) order(w http.ResponseWriter, r *http.Request) error {
	_, o, err := a.theOrder(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, orderView(o, true))
	return nil
}

// ShipRequest ships a paid order: a carrier and its tracking number, or
// a method that needs none ("virtual", "same_city").
type ShipRequest struct {
	Method     string `json:"method,omitempty"`
	Carrier    string `json:"carrier,omitempty"`
	TrackingNo string `json:"tracking_no,omitempty"`
}

func (a *merchantAPI) ship(w http.ResponseWriter, r *http.Request) error {
	m, o, err := a.theOrder(r)
	if err != nil {
		return err
	}
	var req ShipRequest
	if err := decode(r, &req, false); err != nil {
		return err
	}
	o, err = a.engine.Commerce.Ship(r.Context(), commerce.ShipParams{MerchantID: m, OrderID: o.ID,
		Shipment: commerce.Shipment{Method: commerce.ShipMethod(req.Method), Carrier: req.Carrier, TrackingNo: req.TrackingNo}})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, orderView(o, true))
	return nil
}

func (a *merchantAPI) refund(w http.ResponseWriter, r *http.Request) error {
	m, o, err := a.theOrder(r)
	if err != nil {
		return err
	}
	return a.refundOrder(w, r, m, o)
}

func (a *merchantAPI) promoters(w http.ResponseWriter, r *http.Request) error {
	m, err := a.merchant(r)
	if err != nil {
		return err
	}
	ss, err := a.engine.Promoter.Sharers(r.Context(), m)
	if err != nil {
		return err
	}
	l := List[Sharer]{Items: make([]Sharer, 0, len(ss))}
	for _, s := range ss {
		p, err := a.engine.Promoter.GetPromoter(r.Context(), s.PromoterID)
		if err != nil {
			return err
		}
		l.Items = append(l.Items, Sharer{Promoter: s.PromoterID.String(), Name: p.Name, BoundAt: s.BoundAt.UTC()})
	}
	writeJSON(w, http.StatusOK, l)
	return nil
}

// statement is a promoter's commission on the shop's orders over
// [?from, ?to) (RFC 3339; the last 30 days by default).
func (a *merchantAPI) statement(w http.ResponseWriter, r *http.Request) error {
	m, err := a.merchant(r)
	if err != nil {
		return err
	}
	id, err := pathID[promoter.PromoterID](r, "promoter")
	if err != nil {
		return err
	}
	to, err := timeParam(r, "to", time.Now())
	if err != nil {
		return err
	}
	from, err := timeParam(r, "from", to.AddDate(0, 0, -30))
	if err != nil {
		return err
	}
	shop, err := a.engine.Commerce.GetMerchant(r.Context(), m)
	if err != nil {
		return err
	}
	st, err := a.engine.Promoter.MerchantStatement(r.Context(), m, id, shop.Currency, from, to)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, statementView(st))
	return nil
}

// timeParam reads the RFC 3339 query parameter name, def when absent.
func timeParam(r *http.Request, name string, def time.Time) (time.Time, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, invalid(name, "%q is not an RFC 3339 time", s)
	}
	return t, nil
}
