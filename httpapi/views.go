package httpapi

import (
	"time"

	"github.com/minishop/minishop/commerce"
)

// The views are the API's response shapes: what a client may rely on,
// kept apart from the kernel's types so that a field added there is not
// published here by accident (an order's idempotency fingerprint, its
// metadata, a gift recipient's address).

// Attribute is a SKU's spec attribute: colour = red.
type Attribute struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// SKU is one buyable variant.
type SKU struct {
	ID            string         `json:"id"`
	Attributes    []Attribute    `json:"attributes"`
	Price         commerce.Money `json:"price"`
	Stock         int64          `json:"stock"`
	PurchaseLimit int64          `json:"purchase_limit,omitempty"`
}

// Product is a catalog entry with its SKUs.
type Product struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Category    string   `json:"category"`
	Pictures    []string `json:"pictures"`
	State       string   `json:"state"`
	SKUs        []SKU    `json:"skus"`
}

func attributes(as []commerce.Attribute) []Attribute {
	out := make([]Attribute, len(as))
	for i, a := range as {
		out[i] = Attribute{a.Name, a.Value}
	}
	return out
}

func productView(p *commerce.Product) Product {
	v := Product{ID: p.ID.String(), Title: p.Title, Description: p.Description, Category: p.Category,
		Pictures: append([]string{}, p.Pictures...), State: string(p.State), SKUs: make([]SKU, len(p.SKUs))}
	for i, s := range p.SKUs {
		v.SKUs[i] = SKU{ID: s.ID.String(), Attributes: attributes(s.Attributes), Price: s.Price, Stock: s.Stock, PurchaseLimit: s.PurchaseLimit}
	}
	return v
}

// CartLine is a quantity of one SKU in the cart.
type CartLine struct {
	SKU      string `json:"sku"`
	Quantity int64  `json:"quantity"`
}

// Cart is a customer's cart at a merchant.
type Cart struct {
	Lines []CartLine `json:"lines"`
}

func cartView(c *commerce.Cart) Cart {
	v := Cart{Lines: make([]CartLine, len(c.Lines))}
	for i, l := range c.Lines {
		v.Lines[i] = CartLine{SKU: l.SKU.String(), Quantity: l.Quantity}
	}
	return v
}

// Adjustment is one discount the pricing applied.
type Adjustment struct {
	Kind   string         `json:"kind"`
	Source string         `json:"source"`
	Label  string         `json:"label"`
	Amount commerce.Money `json:"amount"`
}

// Line is one priced SKU of a quote or an order.
type Line struct {
	SKU              string          `json:"sku"`
	Product          string          `json:"product"`
	Title            string          `json:"title"`
	Attributes       []Attribute     `json:"attributes"`
	Quantity         int64           `json:"quantity"`
	UnitPrice        commerce.Money  `json:"unit_price"`
	Total            commerce.Money  `json:"total"`
	Discount         commerce.Money  `json:"discount"`
	Payable          commerce.Money  `json:"payable"`
	RefundedQuantity int64           `json:"refunded_quantity,omitempty"`
	Refunded         *commerce.Money `json:"refunded,omitempty"`
}

// Quote is what checkout would charge now.
type Quote struct {
	Lines            []Line         `json:"lines"`
	Adjustments      []Adjustment   `json:"adjustments"`
	Subtotal         commerce.Money `json:"subtotal"`
	Discount         commerce.Money `json:"discount"`
	Shipping         commerce.Money `json:"shipping"`
	ShippingDiscount commerce.Money `json:"shipping_discount"`
	Total            commerce.Money `json:"total"`
}

func adjustments(as []commerce.Adjustment) []Adjustment {
	out := make([]Adjustment, len(as))
	for i, a := range as {
		out[i] = Adjustment{Kind: string(a.Kind), Source: a.Source, Label: a.Label, Amount: a.Amount}
	}
	return out
}

func quoteView(q *commerce.Quote) Quote {
	v := Quote{Lines: make([]Line, len(q.Lines)), Adjustments: adjustments(q.Adjustments), Subtotal: q.Subtotal, Discount: q.Discount,
		Shipping: q.Shipping, ShippingDiscount: q.ShippingDiscount, Total: q.Total}
	for i, l := range q.Lines {
		v.Lines[i] = lineView(l)
	}
	return v
}

// lineView is a quote's line; an order's line adds what was refunded.
func lineView(l commerce.QuoteLine) Line {
	return Line{SKU: l.SKU.String(), Product: l.Product.String(), Title: l.Title, Attributes: attributes(l.Attributes),
		Quantity: l.Quantity, UnitPrice: l.UnitPrice, Total: l.Total, Discount: l.Discount, Payable: l.Payable}
}

// Address is a delivery address.
type Address struct {
	Name       string `json:"name"`
	Phone      string `json:"phone"`
	Province   string `json:"province"`
	City       string `json:"city"`
	District   string `json:"district"`
	Detail     string `json:"detail"`
	PostalCode string `json:"postal_code,omitempty"`
}

func (a *Address) kernel() *commerce.Address {
	if a == nil {
		return nil
	}
	return &commerce.Address{Name: a.Name, Phone: a.Phone, Province: a.Province, City: a.City, District: a.District, Detail: a.Detail, PostalCode: a.PostalCode}
}

func addressView(a *commerce.Address) *Address {
	if a == nil {
		return nil
	}
	return &Address{Name: a.Name, Phone: a.Phone, Province: a.Province, City: a.City, District: a.District, Detail: a.Detail, PostalCode: a.PostalCode}
}

// Shipment is how an order travels.
type Shipment struct {
	Method     string `json:"method,omitempty"`
	Carrier    string `json:"carrier,omitempty"`
	TrackingNo string `json:"tracking_no,omitempty"`
}

// Refund is one refund of an order.
type Refund struct {
	ID       string         `json:"id"`
	Status   string         `json:"status"`
	Reason   string         `json:"reason,omitempty"`
	Amount   commerce.Money `json:"amount"`
	Created  time.Time      `json:"created"`
	Resolved *time.Time     `json:"resolved,omitempty"`
}

func refundView(r *commerce.Refund) Refund {
	v := Refund{ID: r.ID.String(), Status: string(r.Status), Reason: r.Reason, Amount: r.Amount, Created: r.Created.UTC()}
	if !r.Resolved.IsZero() {
		t := r.Resolved.UTC()
		v.Resolved = &t
	}
	return v
}

// Order is an order as its customer or its merchant sees it.
type Order struct {
	ID               string         `json:"id"`
	Status           string         `json:"status"`
	Customer         string         `json:"customer,omitempty"` // merchant API only
	Lines            []Line         `json:"lines"`
	Adjustments      []Adjustment   `json:"adjustments"`
	Subtotal         commerce.Money `json:"subtotal"`
	Discount         commerce.Money `json:"discount"`
	Shipping         commerce.Money `json:"shipping"`
	ShippingDiscount commerce.Money `json:"shipping_discount"`
	Total            commerce.Money `json:"total"`
	// Due is what the payment channel collects: Total less what stored
	// value paid at checkout.
	Due commerce.Money `json:"due"`
	// PayerPaid is, for a cross-border payment, what the payer paid in
	// their own currency (CNY for a mainland wallet): shown beside Total,
	// never added to it.
	PayerPaid       *commerce.Money `json:"payer_paid,omitempty"`
	Gift            bool            `json:"gift,omitempty"`
	ShippingAddress *Address        `json:"shipping_address,omitempty"`
	Note            string          `json:"note,omitempty"`
	Shipment        *Shipment       `json:"shipment,omitempty"`
	Refunds         []Refund        `json:"refunds"`
	Created         time.Time       `json:"created"`
	PaidAt          *time.Time      `json:"paid_at,omitempty"`
	ShippedAt       *time.Time      `json:"shipped_at,omitempty"`
	ReceivedAt      *time.Time      `json:"received_at,omitempty"`
	CompletedAt     *time.Time      `json:"completed_at,omitempty"`
	CancelledAt     *time.Time      `json:"cancelled_at,omitempty"`
	// DueAt is when the order next moves on its own (an unpaid order is
	// cancelled then, a shipped one received).
	DueAt *time.Time `json:"due_at,omitempty"`
}

func when(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// orderView is o for its customer (merchant false) or its merchant. A
// gift's address is its recipient's: the giver is not shown it.
func orderView(o *commerce.Order, merchant bool) Order {
	v := Order{ID: o.ID.String(), Status: string(o.Status), Lines: make([]Line, len(o.Lines)), Adjustments: adjustments(o.Adjustments),
		Subtotal: o.Subtotal, Discount: o.Discount, Shipping: o.Shipping, ShippingDiscount: o.ShippingDiscount, Total: o.Total, Due: o.Due(),
		Gift: o.Gift != nil, Note: o.Note, Refunds: make([]Refund, len(o.Refunds)), Created: o.Created.UTC(),
		PaidAt: when(o.PaidAt), ShippedAt: when(o.ShippedAt), ReceivedAt: when(o.ReceivedAt), CompletedAt: when(o.CompletedAt),
		CancelledAt: when(o.CancelledAt), DueAt: when(o.DueAt)}
	if merchant {
		v.Customer = string(o.CustomerID)
	}
	if merchant || o.Gift == nil {
		v.ShippingAddress = addressView(o.ShippingAddress)
	}
	for i, l := range o.Lines {
		v.Lines[i] = lineView(commerce.QuoteLine{SKU: l.SKU, Product: l.Product, Title: l.Title, Attributes: l.Attributes,
			Quantity: l.Quantity, UnitPrice: l.UnitPrice, Total: l.Total, Discount: l.Discount, Payable: l.Payable})
		v.Lines[i].RefundedQuantity = l.RefundedQuantity
		if l.Refunded.IsPositive() {
			r := l.Refunded
			v.Lines[i].Refunded = &r
		}
	}
	if o.PayerPaid.IsSet() {
		p := o.PayerPaid
		v.PayerPaid = &p
	}
	if s := o.Shipment; s != nil {
		v.Shipment = &Shipment{Method: string(s.Method), Carrier: s.Carrier, TrackingNo: s.TrackingNo}
	}
	for i := range o.Refunds {
		v.Refunds[i] = refundView(&o.Refunds[i])
	}
	return v
}

// Payment is what a client needs to pay an order's due through a channel.
type Payment struct {
	ID        string         `json:"id"`
	PaymentNo string         `json:"payment_no"`
	Provider  string         `json:"provider"`
	Amount    commerce.Money `json:"amount"`
	Status    string         `json:"status"`
	// Params are the signed parameters for the channel's payment UI
	// (WeChat: wx.requestPayment's timeStamp, nonceStr, package,
	// signType, paySign).
	Params map[string]string `json:"params,omitempty"`
}
