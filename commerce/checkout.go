package commerce

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
)

// CartParams names a line of a customer's cart.
type CartParams struct {
	MerchantID MerchantID
	CustomerID CustomerID
	SKU        SKUID
	Quantity   int64
}

// GetCart returns a customer's cart at a merchant (empty if none).
func (s *Service) GetCart(ctx context.Context, merchant MerchantID, customer CustomerID) (*Cart, error) {
	if err := CheckID("commerce.get_cart", "merchant_id", merchant); err != nil {
		return nil, err
	}
	if err := CheckCustomer("commerce.get_cart", "customer_id", customer); err != nil {
		return nil, err
	}
	c, err := s.store.GetCart(ctx, merchant, customer)
	return c, Wrap("commerce.get_cart", err)
}

// AddToCart adds Quantity units of SKU to the cart (on top of any already
// there). The SKU must exist at the merchant and be listed, and the line may
// not pass MaxLineQuantity.
func (s *Service) AddToCart(ctx context.Context, p CartParams) (*Cart, error) {
	if err := CheckID("commerce.add_to_cart", "merchant_id", p.MerchantID); err != nil {
		return nil, err
	}
	return s.editCart(ctx, "commerce.add_to_cart", p, true)
}

// SetCartQuantity sets the line of SKU to Quantity units; 0 removes it.
func (s *Service) SetCartQuantity(ctx context.Context, p CartParams) (*Cart, error) {
	if err := CheckID("commerce.set_cart_quantity", "merchant_id", p.MerchantID); err != nil {
		return nil, err
	}
	return s.editCart(ctx, "commerce.set_cart_quantity", p, false)
}

// RemoveFromCart removes the line of sku.
func (s *Service) RemoveFromCart(ctx context.Context, merchant MerchantID, customer CustomerID, sku SKUID) (*Cart, error) {
	if err := CheckID("commerce.remove_from_cart", "merchant_id", merchant); err != nil {
		return nil, err
	}
	return s.SetCartQuantity(ctx, CartParams{MerchantID: merchant, CustomerID: customer, SKU: sku, Quantity: 0})
}

// ClearCart empties the cart.
func (s *Service) ClearCart(ctx context.Context, merchant MerchantID, customer CustomerID) error {
	const op = "commerce.clear_cart"
	if err := CheckID(op, "merchant_id", merchant); err != nil {
		return err
	}
	c := checker{op: op}
	c.customer("customer_id", customer)
	if c.err != nil {
		return c.err
	}
	return Wrap(op, s.store.UpdateCart(ctx, merchant, customer, func(cart *Cart) error {
		cart.Lines, cart.Updated = nil, s.now()
		return nil
	}))
}

func (s *Service) editCart(ctx context.Context, op string, p CartParams, add bool) (*Cart, error) {
	c := checker{op: op}
	c.customer("customer_id", p.CustomerID)
	if p.SKU.IsZero() {
		c.fail("sku", "required")
	}
	if add {
		c.quantity("quantity", p.Quantity)
	} else if p.Quantity < 0 || p.Quantity > MaxLineQuantity {
		c.fail("quantity", "%d is outside [0, %d]", p.Quantity, MaxLineQuantity)
	}
	if c.err != nil {
		return nil, c.err
	}
	if p.Quantity > 0 {
		if _, _, err := s.buyableSKU(ctx, op, p.MerchantID, p.SKU); err != nil {
			return nil, err
		}
	}
	var out *Cart
	err := s.store.UpdateCart(ctx, p.MerchantID, p.CustomerID, func(cart *Cart) error {
		qty := p.Quantity
		if i := cart.find(p.SKU); add && i >= 0 {
			qty += cart.Lines[i].Quantity
			if qty > MaxLineQuantity {
				return Invalid(op, "quantity", "line would hold %d units, more than %d", qty, MaxLineQuantity)
			}
		}
		if err := cart.set(op, p.SKU, qty); err != nil {
			return err
		}
		cart.Updated = s.now()
		out = cart
		return nil
	})
	if err != nil {
		return nil, Wrap(op, err)
	}
	return out, nil
}

func (s *Service) buyableSKU(ctx context.Context, op string, merchant MerchantID, id SKUID) (*Product, *SKU, error) {
	ps, err := s.store.ProductsBySKU(ctx, merchant, []SKUID{id})
	if err != nil {
		return nil, nil, Wrap(op, err)
	}
	if len(ps) == 0 {
		return nil, nil, &Error{Op: op, Kind: KindNotFound, Field: "sku", Err: fmt.Errorf("%w: no sku %s at this merchant", ErrNotFound, id)}
	}
	sku, _ := ps[0].SKU(id)
	if ps[0].State != Listed {
		return nil, nil, &Error{Op: op, Kind: KindFailedPrecondition, Field: "sku", Err: fmt.Errorf("%w: %q is %s", ErrNotListed, ps[0].Title, ps[0].State)}
	}
	return ps[0], sku, nil
}

// QuoteParams asks for a price.
type QuoteParams struct {
	MerchantID MerchantID
	CustomerID CustomerID
	// Lines to price. Required unless FromCart.
	Lines []LineItem
	// FromCart prices the customer's cart instead of Lines. It must be
	// asked for: a forgotten Lines is refused, not read as "the cart".
	FromCart bool
	// Gift prices the order as a gift (plugins may treat gifts differently).
	Gift bool
	// Extensions carries plugin input to adjusters and hooks (see With).
	Extensions Extensions
}

// Quote prices lines (or the cart) as checkout would now: current prices,
// the shipping rule and every adjuster. A line whose SKU is unknown, not
// listed or of another merchant fails the quote, naming the line.
func (s *Service) Quote(ctx context.Context, p QuoteParams) (*Quote, error) {
	if err := CheckID("commerce.quote", "merchant_id", p.MerchantID); err != nil {
		return nil, err
	}
	q, _, _, err := s.quote(ctx, "commerce.quote", p)
	return q, err
}

// quote prices p and also returns, for checkout, the lines it priced and
// the purchases of the lines whose SKU has a purchase limit.
func (s *Service) quote(ctx context.Context, op string, p QuoteParams) (*Quote, []LineItem, []PurchaseChange, error) {
	c := checker{op: op}
	c.customer("customer_id", p.CustomerID)
	switch {
	case p.FromCart && p.Lines != nil:
		c.fail("from_cart", "set together with lines: give one or the other")
	case !p.FromCart && p.Lines == nil:
		c.fail("lines", "required (set FromCart to use the customer's cart)")
	}
	p.Extensions.validate(&c)
	if c.err != nil {
		return nil, nil, nil, c.err
	}
	lines := p.Lines
	if p.FromCart {
		cart, err := s.store.GetCart(ctx, p.MerchantID, p.CustomerID)
		if err != nil {
			return nil, nil, nil, Wrap(op, err)
		}
		for _, l := range cart.Lines {
			lines = append(lines, LineItem(l))
		}
	}
	checkLines(&c, "lines", lines)
	seen := make(map[SKUID]bool, len(lines))
	for i, l := range lines {
		if seen[l.SKU] {
			c.fail(fmt.Sprintf("lines[%d].sku", i), "sku %s appears on two lines", l.SKU)
		}
		seen[l.SKU] = true
	}
	if c.err != nil {
		return nil, nil, nil, c.err
	}
	ids := make([]SKUID, len(lines))
	for i, l := range lines {
		ids[i] = l.SKU
	}
	m, products, err := s.catalog(ctx, p.MerchantID, ids)
	if err != nil {
		return nil, nil, nil, Wrap(op, err)
	}
	qlines := make([]QuoteLine, len(lines))
	var limited []PurchaseChange
	// The field name is built only on failure: this loop runs per checkout.
	field := func(i int) string { return fmt.Sprintf("lines[%d].sku", i) }
	for i, l := range lines {
		prod, sku := ownerOf(products, l.SKU)
		if prod == nil {
			return nil, nil, nil, &Error{Op: op, Kind: KindNotFound, Field: field(i), Err: fmt.Errorf("%w: no sku %s at this merchant", ErrNotFound, l.SKU)}
		}
		if prod.State != Listed {
			return nil, nil, nil, &Error{Op: op, Kind: KindFailedPrecondition, Field: field(i), Err: fmt.Errorf("%w: %q is %s", ErrNotListed, prod.Title, prod.State)}
		}
		qlines[i] = QuoteLine{SKU: sku.ID, Product: prod.ID, Title: prod.Title, Category: prod.Category,
			Attributes: sku.Attributes, Quantity: l.Quantity, UnitPrice: sku.Price}
		if sku.PurchaseLimit > 0 {
			limited = append(limited, PurchaseChange{SKU: l.SKU, Quantity: l.Quantity, Limit: sku.PurchaseLimit})
		}
	}
	q := newQuote(m, p.CustomerID, qlines, p.Gift, p.Extensions)
	// Every amount must fit integer minor units (what channels and stores
	// carry); price and quantity are bounded, their product is checked here.
	for i, l := range q.Lines {
		if _, err := l.Total.Minor(); err != nil {
			return nil, nil, nil, Invalid(op, fmt.Sprintf("lines[%d].quantity", i), "line total %s is beyond what an order can carry", l.Total)
		}
	}
	if _, err := q.Total.Minor(); err != nil {
		return nil, nil, nil, Invalid(op, "lines", "order total %s is beyond what an order can carry", q.Total)
	}
	if err := runPipeline(ctx, op, q, s.cfg.Adjusters); err != nil {
		return nil, nil, nil, err
	}
	return q, lines, limited, nil
}

// ownerOf finds the product of products that has the SKU id. A linear
// search: a cart names at most MaxCartLines SKUs of as many products, and
// a map from SKU to product cost every checkout two allocations.
func ownerOf(products []*Product, id SKUID) (*Product, *SKU) {
	for _, p := range products {
		if sku, ok := p.SKU(id); ok {
			return p, sku
		}
	}
	return nil, nil
}

// catalog reads the merchant and the products of skus, in one call when the
// store can.
func (s *Service) catalog(ctx context.Context, merchant MerchantID, skus []SKUID) (*Merchant, []*Product, error) {
	if r, ok := s.store.(CatalogReader); ok {
		return r.MerchantProducts(ctx, merchant, skus)
	}
	m, err := s.store.GetMerchant(ctx, merchant)
	if err != nil {
		return nil, nil, err
	}
	products, err := s.store.ProductsBySKU(ctx, m.ID, skus)
	return m, products, err
}

// CheckoutParams asks to buy.
type CheckoutParams struct {
	MerchantID MerchantID
	CustomerID CustomerID
	// Lines to buy. Required unless FromCart.
	Lines []LineItem
	// FromCart buys the customer's cart instead of Lines; the bought lines
	// leave the cart in the same transaction. It must be asked for: a
	// forgotten Lines is refused, never read as "buy everything in the cart".
	FromCart bool
	// IdempotencyKey (required) makes checkout safe to retry: the same key
	// from the same customer returns the order the first call made, never a
	// second order. Reusing a key with other parameters is an
	// ErrIdempotencyMismatch conflict. Keys are scoped to the customer, so
	// one customer's key can neither block nor reveal another's order.
	IdempotencyKey string
	// ShippingAddress is required unless Gift is set.
	ShippingAddress *Address
	// Gift makes the order a gift: no address now; after payment it waits
	// for the recipient to accept it with their own address.
	Gift *Gift
	Note string
	// ExpectedTotal, when set, is the total the customer was shown: if the
	// server's price differs, checkout fails with ErrPriceChanged and
	// nothing is bought.
	ExpectedTotal Money
	// Metadata is copied to the order.
	Metadata map[string]string
	// Extensions carries plugin input (see With).
	Extensions Extensions
}

func (p *CheckoutParams) validate(op string) error {
	c := checker{op: op}
	c.customer("customer_id", p.CustomerID)
	c.key("idempotency_key", p.IdempotencyKey, true, MaxKeyLen)
	c.text("note", p.Note, false, MaxShortTextLen)
	switch {
	case p.Gift != nil:
		c.text("gift.message", p.Gift.Message, false, MaxShortTextLen)
		if p.Gift.Recipient != "" {
			c.fail("gift.recipient", "set when the gift is accepted, not at checkout")
		}
		if p.ShippingAddress != nil {
			c.fail("shipping_address", "a gift has no address until its recipient accepts it")
		}
		p.Gift.validate(&c, p.Lines)
	case p.ShippingAddress == nil:
		c.fail("shipping_address", "required")
	default:
		p.ShippingAddress.validate(&c, "shipping_address")
	}
	if len(p.Metadata) > 50 {
		c.fail("metadata", "more than 50 keys")
	}
	for k, v := range p.Metadata {
		c.text("metadata key", k, true, MaxKeyLen)
		c.text("metadata["+truncate(k, 20)+"]", v, false, MaxTextLen)
	}
	switch {
	case p.FromCart && p.Lines != nil:
		c.fail("from_cart", "set together with lines: give one or the other")
	case !p.FromCart && p.Lines == nil:
		c.fail("lines", "required (set FromCart to buy the customer's cart)")
	case p.Lines != nil:
		checkLines(&c, "lines", p.Lines)
	}
	p.Extensions.validate(&c)
	return c.err
}

// fingerprint identifies what a checkout asked for, so a replayed key with
// other parameters is caught. It runs on every checkout, so the lines are
// sorted and the fields written in stack buffers, hashed in one call.
func (p *CheckoutParams) fingerprint(lines []LineItem) string {
	var lbuf [8]LineItem
	ls := append(lbuf[:0], lines...)
	slices.SortFunc(ls, func(a, b LineItem) int { return a.SKU.Compare(b.SKU) })
	// Every field is written with its length first, so no two different
	// parameter sets hash the same bytes.
	var buf [512]byte
	b := buf[:0]
	field := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	flag := func(set bool) {
		if set {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	field(string(p.CustomerID))
	b = binary.AppendUvarint(b, uint64(len(ls)))
	for _, l := range ls {
		u := l.SKU.UUID()
		b = binary.AppendVarint(append(b, u[:]...), l.Quantity)
	}
	flag(p.ShippingAddress != nil)
	if a := p.ShippingAddress; a != nil {
		for _, f := range [...]string{a.Name, a.Phone, a.Province, a.City, a.District, a.Detail, a.PostalCode} {
			field(f)
		}
	}
	flag(p.Gift != nil)
	if g := p.Gift; g != nil {
		field(string(g.Recipient))
		field(g.Message)
		b = binary.AppendUvarint(b, uint64(g.Slots))
		flag(g.MerchantPaid)
	}
	field(p.Note)
	sum := sha256.Sum256(b)
	var hx [32]byte
	hex.Encode(hx[:], sum[:16])
	return string(hx[:])
}

// Checkout turns the lines (or the cart) into an order in one transaction:
// it prices them on the server, runs the checkout hooks, writes an
// "order.created" event, counts purchase limits, then stores the order with
// its lines and per-line adjustment splits and reserves its stock with
// guarded decrements, last, so a hot SKU's row is locked for the shortest
// time.
// Any failure leaves no trace. The order waits for payment until MarkPaid, or
// until RunDue cancels it after Config.PaymentTimeout.
func (s *Service) Checkout(ctx context.Context, p CheckoutParams) (*Order, error) {
	const op = "commerce.checkout"
	if err := CheckID(op, "merchant_id", p.MerchantID); err != nil {
		return nil, err
	}
	if err := p.validate(op); err != nil {
		return nil, err
	}
	// The transaction's closure captures one pointer (capturing p and the
	// result put each on the heap). A store may run it more than once: each
	// attempt gives the hooks a fresh context, with the caller's parameters.
	r := &struct {
		p  CheckoutParams
		cc CheckoutContext
	}{p: p}
	err := s.inTx(ctx, op, func(ctx context.Context) error {
		r.cc = CheckoutContext{Params: r.p}
		return s.checkout(ctx, op, &r.p, &r.cc)
	})
	if err != nil && !errors.Is(err, ErrIdempotencyMismatch) {
		// Checkout does not look for an earlier order with the key first:
		// the unique key catches a replay at the insert, and a replay is
		// rare while a lookup would cost every checkout a round trip. So
		// when checkout fails (the key's order exists, or the retry finds
		// the stock sold or the cart emptied by the first call), the order
		// the key already made, if any, is the answer.
		o, ferr := s.replay(ctx, op, p, nil)
		switch {
		case ferr == nil && o != nil:
			return o, nil
		case errors.Is(ferr, ErrIdempotencyMismatch):
			return nil, ferr
		case ferr != nil:
			// Whether the key already made an order is unknown. If it did,
			// this attempt's failure (out of stock, coupon used, points
			// spent, the key taken) comes from the customer's own order, and
			// reporting it would be false: the answer is "try again", and a
			// retry that reads the key finds the order. The attempt's error
			// is kept as text only, so errors.Is does not match a business
			// refusal the customer may never have met; so is a look-up
			// failure of another kind, so the error matches one kind only.
			cause := fmt.Errorf("checkout failed (%v) and the key's earlier order could not be looked up: %v", err, ferr)
			if onlyKind(ferr, KindUnavailable) {
				cause = fmt.Errorf("checkout failed (%v) and the key's earlier order could not be looked up: %w", err, ferr)
			}
			return nil, &Error{Op: op, Kind: KindUnavailable, Field: "idempotency_key", Err: cause}
		}
		return nil, err
	}
	return r.cc.Order, nil
}

// replay returns the order an earlier checkout with p's key made, nil if
// none, or ErrIdempotencyMismatch if it was made with other parameters.
func (s *Service) replay(ctx context.Context, op string, p CheckoutParams, lines []LineItem) (*Order, error) {
	o, err := s.store.OrderByIdempotencyKey(ctx, p.MerchantID, p.CustomerID, p.IdempotencyKey)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, Wrap(op, err)
	}
	if lines == nil {
		lines = p.Lines
	}
	if p.FromCart && lines == nil {
		// From the cart: the cart has been emptied by the first call, so
		// compare with what that order bought.
		for _, l := range o.Lines {
			lines = append(lines, LineItem{SKU: l.SKU, Quantity: l.Quantity})
		}
	}
	if o.Fingerprint != p.fingerprint(lines) {
		return nil, &Error{Op: op, Kind: KindConflict, Field: "idempotency_key", Err: ErrIdempotencyMismatch}
	}
	return o, nil
}

// checkout places the order p asks for, setting cc.Quote and cc.Order for
// the hooks (which may change cc.Params, never p); cc.Order is the order
// once it returns nil.
func (s *Service) checkout(ctx context.Context, op string, p *CheckoutParams, cc *CheckoutContext) error {
	q, lines, limited, err := s.quote(ctx, op, QuoteParams{MerchantID: p.MerchantID, CustomerID: p.CustomerID,
		Lines: p.Lines, FromCart: p.FromCart, Gift: p.Gift != nil, Extensions: p.Extensions})
	if err != nil {
		return err
	}
	if p.Gift != nil && p.Gift.MerchantPaid {
		if err := q.merchantPays(op); err != nil {
			return err
		}
	}
	if p.ExpectedTotal.IsSet() && !p.ExpectedTotal.Equal(q.Total) {
		return &Error{Op: op, Kind: KindFailedPrecondition, Field: "expected_total",
			Err: fmt.Errorf("%w: expected %s, the total is now %s", ErrPriceChanged, p.ExpectedTotal, q.Total)}
	}
	slices.SortFunc(limited, func(a, b PurchaseChange) int { return a.SKU.Compare(b.SKU) })
	now := s.now()
	o := orderFromQuote(q)
	o.ID = newID[orderTag](s.ids)
	o.Status, o.Version = StatusPendingPayment, 1
	o.IdempotencyKey, o.Fingerprint = p.IdempotencyKey, p.fingerprint(lines)
	o.Note = p.Note
	if p.ShippingAddress != nil {
		a := *p.ShippingAddress
		o.ShippingAddress = &a
	}
	if p.Gift != nil {
		o.Gift = p.Gift.clone()
		if err := o.splitGift(); err != nil {
			return err
		}
	}
	if len(p.Metadata) > 0 {
		o.Metadata = make(map[string]string, len(p.Metadata))
		for k, v := range p.Metadata {
			o.Metadata[k] = v
		}
	}
	o.Created, o.Updated, o.DueAt = now, now, now.Add(s.t.PaymentTimeout)
	cc.Quote, cc.Order = q, o
	for _, h := range s.cfg.CheckoutHooks {
		if err := h.Checkout(ctx, cc); err != nil {
			return Wrap(op, err)
		}
	}
	// Tenders that cover the whole total pay the order here: the channel
	// has nothing to collect.
	paid := len(o.Tenders) > 0 && o.Due().IsZero()
	if paid {
		if err := o.pay("", o.Due(), now); err != nil {
			return err
		}
	}
	// Demand per SKU is the sum of its lines' quantities (a group gift's
	// line is split into one line per slot), sorted so that concurrent
	// checkouts lock rows in one order. A line whose units a hook took
	// from its own pool takes no SKU stock.
	stock := make([]StockChange, 0, len(q.Lines))
	for _, l := range o.Lines {
		switch {
		case l.StockPool != "":
		case len(stock) > 0 && stock[len(stock)-1].SKU == l.SKU:
			stock[len(stock)-1].Quantity += l.Quantity
		default:
			stock = append(stock, StockChange{SKU: l.SKU, Quantity: l.Quantity})
		}
	}
	slices.SortFunc(stock, func(a, b StockChange) int { return a.SKU.Compare(b.SKU) })
	if err := s.emit(ctx, o, ActionCreate, nil); err != nil {
		return err
	}
	if p.FromCart {
		err := s.store.UpdateCart(ctx, p.MerchantID, p.CustomerID, func(c *Cart) error {
			for _, l := range q.Lines {
				if i := c.find(l.SKU); i >= 0 {
					c.Lines = append(c.Lines[:i], c.Lines[i+1:]...)
				}
			}
			c.Updated = now
			return nil
		})
		if err != nil {
			return Wrap(op, err)
		}
	}
	// Stock last: a SKU's row is the one every buyer of it writes, and its
	// lock, taken here, is held only until COMMIT, not through the hooks
	// (a hot SKU sells about twice as fast so). A shortage found this late
	// rolls back what came before like any failure.
	if len(limited) > 0 {
		if err := s.store.AddPurchases(ctx, p.MerchantID, p.CustomerID, limited); err != nil {
			return &Error{Op: op, Kind: KindOf(err), Field: lineField(q, err, "quantity"), Err: err}
		}
	}
	if err := s.placeOrder(ctx, o, stock); err != nil {
		if field := lineField(q, err, "quantity"); field != "" {
			return &Error{Op: op, Kind: KindOf(err), Field: field, Err: err}
		}
		return Wrap(op, err)
	}
	if paid {
		return s.after(ctx, o, ActionPay, nil)
	}
	return nil
}

// placeOrder inserts the order and takes its stock, in one call when the
// store can (OrderPlacer).
func (s *Service) placeOrder(ctx context.Context, o *Order, stock []StockChange) error {
	if p, ok := s.store.(OrderPlacer); ok {
		return p.PlaceOrder(ctx, o, stock)
	}
	if err := s.store.InsertOrder(ctx, o); err != nil {
		return err
	}
	return s.store.ReserveStock(ctx, o.MerchantID, stock)
}

// orderFromQuote copies the priced lines and adjustments into a new order,
// recording each line's share of each adjustment. The lines' attributes and
// every per-line and split amount come from one allocation each, as in
// Order.Clone.
func orderFromQuote(q *Quote) *Order {
	o := &Order{MerchantID: q.MerchantID, CustomerID: q.CustomerID, Currency: q.Currency,
		Subtotal: q.Subtotal, Discount: q.Discount, Shipping: q.Shipping, ShippingDiscount: q.ShippingDiscount,
		Total: q.Total, Paid: Zero(q.Currency)}
	n := len(q.Adjustments)
	nm, na := 2*n*len(q.Lines), 0
	for _, a := range q.Adjustments {
		nm += len(a.Split)
	}
	for _, l := range q.Lines {
		na += len(l.Attributes)
	}
	money, attrs := newArena[Money](nm), newArena[Attribute](na)
	if n > 0 {
		o.Adjustments = make([]Adjustment, n)
		for k, a := range q.Adjustments {
			a.Split = money.clone(a.Split)
			o.Adjustments[k] = a
		}
	}
	o.Lines = make([]OrderLine, len(q.Lines))
	for i, l := range q.Lines {
		ol := OrderLine{SKU: l.SKU, Product: l.Product, Title: l.Title, Category: l.Category,
			Attributes: attrs.clone(l.Attributes), Quantity: l.Quantity, UnitPrice: l.UnitPrice,
			Total: l.Total, Discount: l.Discount, Payable: l.Payable, Refunded: Zero(q.Currency)}
		if n > 0 {
			ol.Adjustments, ol.RefundedAdjustments = money.take(n), money.take(n)
		}
		for k, a := range q.Adjustments {
			ol.Adjustments[k] = Zero(q.Currency)
			if a.Target == TargetItems {
				ol.Adjustments[k] = a.Split[i]
			}
			ol.RefundedAdjustments[k] = Zero(q.Currency)
		}
		o.Lines[i] = ol
	}
	return o
}

// lineField names the quantity of the line a stock or purchase-limit
// refusal is about ("lines[2].quantity"), or "" when err names no SKU of q.
func lineField(q *Quote, err error, field string) string {
	var sku SKUID
	var oos *OutOfStockError
	var pl *PurchaseLimitError
	switch {
	case errors.As(err, &oos):
		sku = oos.SKU
	case errors.As(err, &pl):
		sku = pl.SKU
	default:
		return ""
	}
	for i, l := range q.Lines {
		if l.SKU == sku {
			return fmt.Sprintf("lines[%d].%s", i, field)
		}
	}
	return ""
}
