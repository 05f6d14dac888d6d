package commerce

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Config configures a Service. The zero value of every field but Store means
// the default.
type Config struct {
	// Store keeps the records (required): storage/memory or storage/sqlstore.
	Store Store
	// Clock tells the time; the wall clock by default.
	Clock Clock
	// IDs makes record IDs; UUIDv7 by default.
	IDs IDGenerator
	// Adjusters is the pricing pipeline, run in this order on every quote:
	// member prices, then coupons, then points, by convention.
	Adjusters []Adjuster
	// CheckoutHooks run inside the checkout transaction, after stock is
	// reserved and before the order is stored, in this order.
	CheckoutHooks []CheckoutHook
	// OrderHooks run inside the transaction of every later order change.
	OrderHooks []OrderHook
	// Refunds carries refunds to the payment channel. Without one, refunds
	// succeed at once (money is returned outside minishop).
	Refunds RefundGateway
	// RefundPolicy, when set, holds back part of a partial refund when the
	// units the customer keeps no longer qualify for a discount they got (a
	// 满减 threshold no longer met). Without one, refunds follow the
	// discount split stored at checkout ("keep as allocated").
	RefundPolicy RefundPolicy
	// PaymentTimeout is how long an order waits for payment before RunDue
	// cancels it; 30 minutes by default.
	PaymentTimeout time.Duration
	// AutoReceiveAfter is how long after shipping RunDue confirms receipt
	// for a customer who does not; 10 days by default (WeChat's rule for
	// express delivery).
	AutoReceiveAfter time.Duration
	// AfterSalesWindow is how long after receipt refunds may be asked for;
	// when it closes with no refund open, RunDue completes (settles) the
	// order. 7 days by default.
	AfterSalesWindow time.Duration
}

// CheckoutHook is the extension point inside checkout: coupons are redeemed,
// points deducted and promoter attribution recorded here, in the same
// transaction as the stock reservation and the order insert. A hook may set
// c.Order.Metadata; returning an error aborts the checkout and rolls
// everything back.
type CheckoutHook interface {
	Checkout(ctx context.Context, c *CheckoutContext) error
}

// CheckoutContext is what a CheckoutHook sees.
type CheckoutContext struct {
	Params CheckoutParams
	Quote  *Quote
	Order  *Order
}

// CheckoutHookFunc adapts a function to CheckoutHook.
type CheckoutHookFunc func(ctx context.Context, c *CheckoutContext) error

// Checkout calls f.
func (f CheckoutHookFunc) Checkout(ctx context.Context, c *CheckoutContext) error { return f(ctx, c) }

// OrderHook is told of every order change after checkout, inside the
// change's transaction: a cancelled order releases its coupon, a refund
// returns points, a completed order settles commission. An error rolls the
// change back.
type OrderHook interface {
	OrderChanged(ctx context.Context, c OrderChange) error
}

// OrderChange describes one change.
type OrderChange struct {
	Action OrderAction
	Order  *Order  // the order after the change
	Refund *Refund // for the refund actions
}

// OrderHookFunc adapts a function to OrderHook.
type OrderHookFunc func(ctx context.Context, c OrderChange) error

// OrderChanged calls f.
func (f OrderHookFunc) OrderChanged(ctx context.Context, c OrderChange) error { return f(ctx, c) }

// RefundPolicy decides what refunds hold back. Withhold sees the order
// with the refund being planned already counted (RefundedQuantity and
// RefundedAdjustments include it) and returns the total the order should
// hold back now; the kernel takes the difference from (or gives it back
// with) this refund, so the last refund always returns everything held.
type RefundPolicy interface {
	Withhold(ctx context.Context, o *Order) (Money, error)
}

// RefundGateway carries a refund to the payment channel that took the
// money. The payment package implements it.
type RefundGateway interface {
	// RequestRefund asks the channel to return r.Amount to the payer. It is
	// called after the refund is committed (never inside a transaction) and
	// may be called again for the same r.RefundID after a crash or timeout:
	// the channel must treat the ID as an idempotency key. The outcome comes
	// back through Service.ConfirmRefund, from a notification or at once.
	RequestRefund(ctx context.Context, r RefundRequest) error
}

// RefundRequest is what RefundGateway receives.
type RefundRequest struct {
	MerchantID MerchantID
	OrderID    OrderID
	RefundID   RefundID
	PaymentRef string
	Amount     Money // to return now
	OrderTotal Money // what the order took
	Reason     string
}

// Service is the commerce kernel: shops, catalog, stock, carts, pricing,
// checkout, orders and the outbox, over one Store.
type Service struct {
	store Store
	clock Clock
	ids   IDGenerator
	cfg   Config
	t     Timing
}

// New validates cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, Invalid("commerce.new", "store", "required")
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock()
	}
	if cfg.IDs == nil {
		cfg.IDs = UUIDv7()
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"payment_timeout", &cfg.PaymentTimeout, 30 * time.Minute},
		{"auto_receive_after", &cfg.AutoReceiveAfter, 10 * 24 * time.Hour},
		{"after_sales_window", &cfg.AfterSalesWindow, 7 * 24 * time.Hour},
	} {
		if *d.v < 0 {
			return nil, Invalid("commerce.new", d.name, "negative duration %s", *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	for i, a := range cfg.Adjusters {
		if a == nil {
			return nil, Invalid("commerce.new", fmt.Sprintf("adjusters[%d]", i), "nil")
		}
	}
	for i, h := range cfg.CheckoutHooks {
		if h == nil {
			return nil, Invalid("commerce.new", fmt.Sprintf("checkout_hooks[%d]", i), "nil")
		}
	}
	for i, h := range cfg.OrderHooks {
		if h == nil {
			return nil, Invalid("commerce.new", fmt.Sprintf("order_hooks[%d]", i), "nil")
		}
	}
	return &Service{store: cfg.Store, clock: cfg.Clock, ids: cfg.IDs, cfg: cfg,
		t: Timing{PaymentTimeout: cfg.PaymentTimeout, AutoReceiveAfter: cfg.AutoReceiveAfter, AfterSalesWindow: cfg.AfterSalesWindow}}, nil
}

// Store returns the store the service runs on, for hosts and plugins that
// join its transactions.
func (s *Service) Store() Store { return s.store }

// Clock returns the service's clock.
func (s *Service) Clock() Clock { return s.clock }

func (s *Service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Microsecond) }

// MerchantParams creates or edits a merchant.
type MerchantParams struct {
	Currency string // ISO 4217 code, "CNY" when empty
	Profile  ShopProfile
	Shipping ShippingRule
}

// CreateMerchant opens a shop.
func (s *Service) CreateMerchant(ctx context.Context, p MerchantParams) (*Merchant, error) {
	const op = "commerce.create_merchant"
	m, err := s.merchantFrom(op, p)
	if err != nil {
		return nil, err
	}
	now := s.now()
	m.ID, m.Created, m.Updated = newID[merchantTag](s.ids), now, now
	if err := s.store.CreateMerchant(ctx, m); err != nil {
		return nil, Wrap(op, err)
	}
	return m, nil
}

func (s *Service) merchantFrom(op string, p MerchantParams) (*Merchant, error) {
	code := p.Currency
	if code == "" {
		code = "CNY"
	}
	cur, err := ParseCurrency(code)
	if err != nil {
		return nil, Invalid(op, "currency", "%v", err)
	}
	m := &Merchant{Currency: cur, Profile: p.Profile, Shipping: p.Shipping}
	if err := m.validate(op); err != nil {
		return nil, err
	}
	return m, nil
}

// UpdateMerchant replaces a merchant's profile and shipping rule. The
// currency cannot change once the shop has prices.
func (s *Service) UpdateMerchant(ctx context.Context, id MerchantID, p MerchantParams) (*Merchant, error) {
	const op = "commerce.update_merchant"
	if err := CheckID(op, "merchant_id", id); err != nil {
		return nil, err
	}
	var out *Merchant
	err := s.store.UpdateMerchant(ctx, id, func(m *Merchant) error {
		if p.Currency != "" && p.Currency != m.Currency.String() {
			return Invalid(op, "currency", "cannot change from %s", m.Currency)
		}
		m.Profile, m.Shipping = p.Profile, p.Shipping
		if err := m.validate(op); err != nil {
			return err
		}
		m.Updated = s.now()
		out = m
		return nil
	})
	if err != nil {
		return nil, NotFoundAs(op, "merchant_id", err)
	}
	return out, nil
}

// GetMerchant returns a merchant.
func (s *Service) GetMerchant(ctx context.Context, id MerchantID) (*Merchant, error) {
	if err := CheckID("commerce.get_merchant", "merchant_id", id); err != nil {
		return nil, err
	}
	m, err := s.store.GetMerchant(ctx, id)
	return m, NotFoundAs("commerce.get_merchant", "merchant_id", err)
}

// ProductParams creates a product.
type ProductParams struct {
	MerchantID  MerchantID
	Title       string
	Description string
	Category    string
	Pictures    []string
	State       ListingState // Draft when empty
	SKUs        []SKUParams
}

// SKUParams creates a SKU.
type SKUParams struct {
	Attributes    []Attribute
	Price         Money
	Stock         int64
	PurchaseLimit int64
}

// CreateProduct adds a product with its SKUs to a merchant's catalog.
func (s *Service) CreateProduct(ctx context.Context, p ProductParams) (*Product, error) {
	const op = "commerce.create_product"
	if err := CheckID(op, "merchant_id", p.MerchantID); err != nil {
		return nil, err
	}
	m, err := s.store.GetMerchant(ctx, p.MerchantID)
	if err != nil {
		return nil, Wrap(op, err)
	}
	now := s.now()
	prod := &Product{ID: newID[productTag](s.ids), MerchantID: m.ID, Title: p.Title, Description: p.Description,
		Category: p.Category, Pictures: append([]string(nil), p.Pictures...), State: p.State, Created: now, Updated: now}
	if prod.State == "" {
		prod.State = Draft
	}
	for _, sp := range p.SKUs {
		prod.SKUs = append(prod.SKUs, SKU{ID: newID[skuTag](s.ids), Attributes: append([]Attribute(nil), sp.Attributes...),
			Price: sp.Price, Stock: sp.Stock, PurchaseLimit: sp.PurchaseLimit})
	}
	if err := prod.validate(op, m.Currency); err != nil {
		return nil, err
	}
	if err := s.store.CreateProduct(ctx, prod); err != nil {
		return nil, Wrap(op, err)
	}
	return prod, nil
}

// GetProduct returns a product of the merchant.
func (s *Service) GetProduct(ctx context.Context, merchant MerchantID, id ProductID) (*Product, error) {
	if err := CheckID("commerce.get_product", "merchant_id", merchant); err != nil {
		return nil, err
	}
	p, err := s.store.GetProduct(ctx, merchant, id)
	return p, NotFoundAs("commerce.get_product", "product_id", err)
}

// ProductBySKU returns the merchant's product that has the SKU.
func (s *Service) ProductBySKU(ctx context.Context, merchant MerchantID, sku SKUID) (*Product, error) {
	const op = "commerce.product_by_sku"
	if err := CheckID(op, "merchant_id", merchant); err != nil {
		return nil, err
	}
	ps, err := s.store.ProductsBySKU(ctx, merchant, []SKUID{sku})
	if err != nil {
		return nil, Wrap(op, err)
	}
	for _, p := range ps {
		if _, ok := p.SKU(sku); ok {
			return p, nil
		}
	}
	return nil, &Error{Op: op, Kind: KindNotFound, Field: "sku", Err: fmt.Errorf("%w: no sku %s at this merchant", ErrNotFound, sku)}
}

// ListProducts pages through a merchant's catalog.
func (s *Service) ListProducts(ctx context.Context, merchant MerchantID, q ProductQuery) ([]*Product, error) {
	if err := CheckID("commerce.list_products", "merchant_id", merchant); err != nil {
		return nil, err
	}
	if err := CheckText("commerce.list_products", "category", q.Category, false, MaxShortTextLen); err != nil {
		return nil, err
	}
	ps, err := s.store.ListProducts(ctx, merchant, q)
	return ps, Wrap("commerce.list_products", err)
}

// UpdateProduct edits a product: fn gets a copy and may change any field
// but the IDs; new SKUs need no ID (one is given). The result is validated
// as a whole before anything is stored. Stock of existing SKUs is not
// changed this way: use AdjustStock.
func (s *Service) UpdateProduct(ctx context.Context, merchant MerchantID, id ProductID, fn func(*Product) error) (*Product, error) {
	const op = "commerce.update_product"
	m, err := s.store.GetMerchant(ctx, merchant)
	if err != nil {
		return nil, NotFoundAs(op, "merchant_id", err)
	}
	err = s.store.UpdateProduct(ctx, merchant, id, func(p *Product) error {
		if err := fn(p); err != nil {
			return err
		}
		if p.ID != id || p.MerchantID != merchant {
			return Invalid(op, "id", "a product's IDs cannot change")
		}
		for i := range p.SKUs {
			if p.SKUs[i].ID.IsZero() {
				p.SKUs[i].ID = newID[skuTag](s.ids)
			}
		}
		if err := p.validate(op, m.Currency); err != nil {
			return err
		}
		p.Updated = s.now()
		return nil
	})
	if err != nil {
		return nil, NotFoundAs(op, "product_id", err)
	}
	return s.GetProduct(ctx, merchant, id) // with current stock
}

// SetListingState lists, delists or drafts a product.
func (s *Service) SetListingState(ctx context.Context, merchant MerchantID, id ProductID, state ListingState) (*Product, error) {
	if err := CheckID("commerce.set_listing_state", "merchant_id", merchant); err != nil {
		return nil, err
	}
	return s.UpdateProduct(ctx, merchant, id, func(p *Product) error {
		p.State = state
		return nil
	})
}

// AdjustStock adds delta units (negative to remove) to a SKU and returns the
// new stock level. It never takes stock below zero.
func (s *Service) AdjustStock(ctx context.Context, merchant MerchantID, sku SKUID, delta int64) (int64, error) {
	const op = "commerce.adjust_stock"
	if err := CheckID(op, "merchant_id", merchant); err != nil {
		return 0, err
	}
	if delta < -MaxStock || delta > MaxStock {
		return 0, Invalid(op, "delta", "%d is outside [-%d, %d]", delta, MaxStock, MaxStock)
	}
	n, err := s.store.AdjustStock(ctx, merchant, sku, delta)
	return n, Wrap(op, err)
}

// inTx runs fn in a transaction and wraps its error with op.
func (s *Service) inTx(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	return Wrap(op, s.store.InTx(ctx, fn))
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
