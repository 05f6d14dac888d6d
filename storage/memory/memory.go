package memory

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/storage"
)

// Store keeps every record in memory. It implements commerce.Store (and the
// stores of the other domain packages as they arrive).
//
// Transactions are serialized: InTx holds the store's lock until it commits
// or rolls back, like SQLite's single writer. Every write inside a
// transaction records how to undo itself, so a failed transaction leaves no
// trace. Records are deep-copied on the way in and out.
type Store struct {
	mu sync.Mutex

	merchants map[commerce.MerchantID]*commerce.Merchant
	products  map[commerce.ProductID]*commerce.Product
	skuOwner  map[commerce.SKUID]commerce.ProductID
	stock     map[commerce.SKUID]int64
	purchases map[purchaseKey]int64
	carts     map[cartKey]*commerce.Cart
	orders    map[commerce.OrderID]*commerce.Order
	orderKeys map[orderKey]commerce.OrderID
	events    eventLog // committed; event i has Seq i+1
	cursors   map[string]uint64

	pay paymentTables
	cpn couponTables
	mbr memberTables
	gft giftTables
	prm promoterTables

	records map[recordKey]storage.Record
	// recordKeys[kind] is the kind's keys in order, for RecordsBetween.
	recordKeys map[string][]string
}

type purchaseKey struct {
	merchant commerce.MerchantID
	customer commerce.CustomerID
	sku      commerce.SKUID
}

type cartKey struct {
	merchant commerce.MerchantID
	customer commerce.CustomerID
}

type orderKey struct {
	merchant commerce.MerchantID
	customer commerce.CustomerID
	key      string
}

// New returns an empty store.
func New() *Store {
	return &Store{
		merchants:  map[commerce.MerchantID]*commerce.Merchant{},
		products:   map[commerce.ProductID]*commerce.Product{},
		skuOwner:   map[commerce.SKUID]commerce.ProductID{},
		stock:      map[commerce.SKUID]int64{},
		purchases:  map[purchaseKey]int64{},
		carts:      map[cartKey]*commerce.Cart{},
		orders:     map[commerce.OrderID]*commerce.Order{},
		orderKeys:  map[orderKey]commerce.OrderID{},
		cursors:    map[string]uint64{},
		pay:        newPaymentTables(),
		cpn:        newCouponTables(),
		mbr:        newMemberTables(),
		gft:        newGiftTables(),
		prm:        newPromoterTables(),
		records:    map[recordKey]storage.Record{},
		recordKeys: map[string][]string{},
	}
}

var _ commerce.Store = (*Store)(nil)

// tx is an open transaction: the undo log of its writes and the events it
// will publish on commit.
type tx struct {
	undo   []func()
	events []commerce.Event
	// buf backs undo: a checkout makes about a dozen writes, and growing
	// the log from nothing cost more allocations than the writes.
	buf [16]func()
}

type txKey struct{ s *Store }

func (s *Store) txFrom(ctx context.Context) *tx {
	t, _ := ctx.Value(txKey{s}).(*tx)
	return t
}

// InTx runs fn in a transaction, or joins the one ctx carries.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if s.txFrom(ctx) != nil {
		return fn(ctx)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: %w: %w", storage.ErrUnavailable, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &tx{}
	t.undo = t.buf[:0]
	committed := false
	defer func() {
		if !committed {
			t.rollback() // on error and on panic
		}
	}()
	if err := fn(context.WithValue(ctx, txKey{s}, t)); err != nil {
		return err
	}
	for _, e := range t.events {
		s.events.append(e)
	}
	committed = true
	return nil
}

func (t *tx) rollback() {
	for i := len(t.undo) - 1; i >= 0; i-- {
		t.undo[i]()
	}
	t.undo = nil
}

// do runs one store operation inside ctx's transaction or a new one.
func (s *Store) do(ctx context.Context, fn func(t *tx) error) error {
	if t := s.txFrom(ctx); t != nil {
		return fn(t)
	}
	return s.InTx(ctx, func(ctx context.Context) error { return fn(s.txFrom(ctx)) })
}

// put sets m[k] = v and logs how to undo it.
func put[K comparable, V any](t *tx, m map[K]V, k K, v V) {
	old, had := m[k]
	m[k] = v
	t.undo = append(t.undo, func() {
		if had {
			m[k] = old
		} else {
			delete(m, k)
		}
	})
}

// del deletes m[k] and logs how to undo it.
func del[K comparable, V any](t *tx, m map[K]V, k K) {
	old, had := m[k]
	if !had {
		return
	}
	delete(m, k)
	t.undo = append(t.undo, func() { m[k] = old })
}

func notFound(what string, id fmt.Stringer) error {
	return fmt.Errorf("%s %s: %w", what, id, storage.ErrNotFound)
}

func conflict(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), storage.ErrConflict)
}

// CreateMerchant implements commerce.Store.
func (s *Store) CreateMerchant(ctx context.Context, m *commerce.Merchant) error {
	return s.do(ctx, func(t *tx) error {
		if _, ok := s.merchants[m.ID]; ok {
			return conflict("merchant %s exists", m.ID)
		}
		put(t, s.merchants, m.ID, m.Clone())
		return nil
	})
}

// GetMerchant implements commerce.Store.
func (s *Store) GetMerchant(ctx context.Context, id commerce.MerchantID) (*commerce.Merchant, error) {
	var out *commerce.Merchant
	err := s.do(ctx, func(t *tx) error {
		m, ok := s.merchants[id]
		if !ok {
			return notFound("merchant", id)
		}
		out = m.Clone()
		return nil
	})
	return out, err
}

// UpdateMerchant implements commerce.Store.
func (s *Store) UpdateMerchant(ctx context.Context, id commerce.MerchantID, fn func(*commerce.Merchant) error) error {
	return s.do(ctx, func(t *tx) error {
		m, ok := s.merchants[id]
		if !ok {
			return notFound("merchant", id)
		}
		cp := m.Clone()
		if err := fn(cp); err != nil {
			return err
		}
		cp.ID = id
		put(t, s.merchants, id, cp.Clone())
		return nil
	})
}

// CreateProduct implements commerce.Store.
func (s *Store) CreateProduct(ctx context.Context, p *commerce.Product) error {
	return s.do(ctx, func(t *tx) error {
		if _, ok := s.merchants[p.MerchantID]; !ok {
			return notFound("merchant", p.MerchantID)
		}
		if _, ok := s.products[p.ID]; ok {
			return conflict("product %s exists", p.ID)
		}
		for _, sku := range p.SKUs {
			if _, ok := s.skuOwner[sku.ID]; ok {
				return conflict("sku %s exists", sku.ID)
			}
		}
		for _, sku := range p.SKUs {
			put(t, s.skuOwner, sku.ID, p.ID)
			put(t, s.stock, sku.ID, sku.Stock)
		}
		put(t, s.products, p.ID, p.Clone())
		return nil
	})
}

// MerchantProducts implements commerce.CatalogReader: checkout reads the
// merchant and the products it prices in one call.
func (s *Store) MerchantProducts(ctx context.Context, merchant commerce.MerchantID, skus []commerce.SKUID) (*commerce.Merchant, []*commerce.Product, error) {
	var m *commerce.Merchant
	var out []*commerce.Product
	err := s.do(ctx, func(t *tx) error {
		stored, ok := s.merchants[merchant]
		if !ok {
			return notFound("merchant", merchant)
		}
		m, out = stored.Clone(), s.productsBySKU(merchant, skus)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return m, out, nil
}

// product returns a copy of the merchant's product with current stock.
func (s *Store) product(merchant commerce.MerchantID, id commerce.ProductID) (*commerce.Product, bool) {
	p, ok := s.products[id]
	if !ok || p.MerchantID != merchant {
		return nil, false
	}
	cp := p.Clone()
	for i := range cp.SKUs {
		cp.SKUs[i].Stock = s.stock[cp.SKUs[i].ID]
	}
	return cp, true
}

// GetProduct implements commerce.Store.
func (s *Store) GetProduct(ctx context.Context, merchant commerce.MerchantID, id commerce.ProductID) (*commerce.Product, error) {
	var out *commerce.Product
	err := s.do(ctx, func(t *tx) error {
		p, ok := s.product(merchant, id)
		if !ok {
			return notFound("product", id)
		}
		out = p
		return nil
	})
	return out, err
}

// UpdateProduct implements commerce.Store.
func (s *Store) UpdateProduct(ctx context.Context, merchant commerce.MerchantID, id commerce.ProductID, fn func(*commerce.Product) error) error {
	return s.do(ctx, func(t *tx) error {
		cp, ok := s.product(merchant, id)
		if !ok {
			return notFound("product", id)
		}
		old := make(map[commerce.SKUID]bool, len(cp.SKUs))
		for _, sku := range cp.SKUs {
			old[sku.ID] = true
		}
		if err := fn(cp); err != nil {
			return err
		}
		kept := make(map[commerce.SKUID]bool, len(cp.SKUs))
		for _, sku := range cp.SKUs {
			kept[sku.ID] = true
			if old[sku.ID] {
				continue
			}
			if _, taken := s.skuOwner[sku.ID]; taken {
				return conflict("sku %s exists", sku.ID)
			}
			put(t, s.skuOwner, sku.ID, id)
			put(t, s.stock, sku.ID, sku.Stock)
		}
		for sku := range old {
			if !kept[sku] {
				del(t, s.skuOwner, sku)
				del(t, s.stock, sku)
			}
		}
		cp.ID, cp.MerchantID = id, merchant
		put(t, s.products, id, cp.Clone())
		return nil
	})
}

// ListProducts implements commerce.Store.
func (s *Store) ListProducts(ctx context.Context, merchant commerce.MerchantID, q commerce.ProductQuery) ([]*commerce.Product, error) {
	var out []*commerce.Product
	err := s.do(ctx, func(t *tx) error {
		for id, p := range s.products {
			if p.MerchantID != merchant || (q.State != "" && p.State != q.State) ||
				(q.Category != "" && p.Category != q.Category) || (!q.After.IsZero() && id.Compare(q.After) <= 0) {
				continue
			}
			cp, _ := s.product(merchant, id)
			out = append(out, cp)
		}
		slices.SortFunc(out, func(a, b *commerce.Product) int { return a.ID.Compare(b.ID) })
		if n := commerce.PageLimit(q.Limit); len(out) > n {
			out = out[:n]
		}
		return nil
	})
	return out, err
}

// ProductsBySKU implements commerce.Store.
func (s *Store) ProductsBySKU(ctx context.Context, merchant commerce.MerchantID, skus []commerce.SKUID) ([]*commerce.Product, error) {
	var out []*commerce.Product
	err := s.do(ctx, func(t *tx) error {
		out = s.productsBySKU(merchant, skus)
		return nil
	})
	return out, err
}

// productsBySKU returns copies of the merchant's products owning skus, each
// once, in the order of their first SKU.
func (s *Store) productsBySKU(merchant commerce.MerchantID, skus []commerce.SKUID) []*commerce.Product {
	var out []*commerce.Product
	for _, sku := range skus {
		pid, ok := s.skuOwner[sku]
		// A linear scan finds a product already taken: an order names at
		// most commerce.MaxCartLines SKUs, and a set cost an allocation
		// on every checkout.
		if !ok || slices.ContainsFunc(out, func(p *commerce.Product) bool { return p.ID == pid }) {
			continue
		}
		if p, ok := s.product(merchant, pid); ok {
			out = append(out, p)
		}
	}
	return out
}

// skuOf checks that sku belongs to merchant.
func (s *Store) skuOf(merchant commerce.MerchantID, sku commerce.SKUID) bool {
	pid, ok := s.skuOwner[sku]
	return ok && s.products[pid].MerchantID == merchant
}

// ReserveStock implements commerce.Store.
func (s *Store) ReserveStock(ctx context.Context, merchant commerce.MerchantID, changes []commerce.StockChange) error {
	return s.do(ctx, func(t *tx) error {
		for _, c := range changes {
			if !s.skuOf(merchant, c.SKU) {
				return notFound("sku", c.SKU)
			}
			if on := s.stock[c.SKU]; on < c.Quantity {
				return fmt.Errorf("%w", &commerce.OutOfStockError{SKU: c.SKU, Wanted: c.Quantity, OnHand: on})
			}
		}
		for _, c := range changes {
			put(t, s.stock, c.SKU, s.stock[c.SKU]-c.Quantity)
		}
		return nil
	})
}

// ReleaseStock implements commerce.Store.
func (s *Store) ReleaseStock(ctx context.Context, merchant commerce.MerchantID, changes []commerce.StockChange) error {
	return s.do(ctx, func(t *tx) error {
		for _, c := range changes {
			if s.skuOf(merchant, c.SKU) { // a SKU deleted since the sale has nothing to return to
				put(t, s.stock, c.SKU, s.stock[c.SKU]+c.Quantity)
			}
		}
		return nil
	})
}

// AdjustStock implements commerce.Store.
func (s *Store) AdjustStock(ctx context.Context, merchant commerce.MerchantID, sku commerce.SKUID, delta int64) (int64, error) {
	var out int64
	err := s.do(ctx, func(t *tx) error {
		if !s.skuOf(merchant, sku) {
			return notFound("sku", sku)
		}
		n := s.stock[sku] + delta
		if n < 0 || n > commerce.MaxStock {
			return commerce.Errorf("memory.adjust_stock", commerce.KindFailedPrecondition,
				"sku %s: stock %d%+d would leave [0, %d]", sku, s.stock[sku], delta, commerce.MaxStock)
		}
		put(t, s.stock, sku, n)
		out = n
		return nil
	})
	return out, err
}

// AddPurchases implements commerce.Store.
func (s *Store) AddPurchases(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, changes []commerce.PurchaseChange) error {
	return s.do(ctx, func(t *tx) error {
		for _, c := range changes {
			k := purchaseKey{merchant, customer, c.SKU}
			if bought := s.purchases[k]; bought+c.Quantity > c.Limit {
				return fmt.Errorf("%w", &commerce.PurchaseLimitError{SKU: c.SKU, Limit: c.Limit, Bought: bought, Wanting: c.Quantity})
			}
		}
		for _, c := range changes {
			k := purchaseKey{merchant, customer, c.SKU}
			put(t, s.purchases, k, s.purchases[k]+c.Quantity)
		}
		return nil
	})
}

// RemovePurchases implements commerce.Store.
func (s *Store) RemovePurchases(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, changes []commerce.PurchaseChange) error {
	return s.do(ctx, func(t *tx) error {
		for _, c := range changes {
			k := purchaseKey{merchant, customer, c.SKU}
			if bought, ok := s.purchases[k]; ok {
				put(t, s.purchases, k, max(0, bought-c.Quantity))
			}
		}
		return nil
	})
}

// GetCart implements commerce.Store.
func (s *Store) GetCart(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID) (*commerce.Cart, error) {
	var out *commerce.Cart
	err := s.do(ctx, func(t *tx) error {
		if c, ok := s.carts[cartKey{merchant, customer}]; ok {
			out = c.Clone()
		} else {
			out = &commerce.Cart{MerchantID: merchant, CustomerID: customer}
		}
		return nil
	})
	return out, err
}

// UpdateCart implements commerce.Store.
func (s *Store) UpdateCart(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, fn func(*commerce.Cart) error) error {
	return s.do(ctx, func(t *tx) error {
		if _, ok := s.merchants[merchant]; !ok {
			return notFound("merchant", merchant)
		}
		k := cartKey{merchant, customer}
		cp := &commerce.Cart{MerchantID: merchant, CustomerID: customer}
		if c, ok := s.carts[k]; ok {
			cp = c.Clone()
		}
		if err := fn(cp); err != nil {
			return err
		}
		cp.MerchantID, cp.CustomerID = merchant, customer
		put(t, s.carts, k, cp.Clone())
		return nil
	})
}

// InsertOrder implements commerce.Store.
func (s *Store) InsertOrder(ctx context.Context, o *commerce.Order) error {
	return s.do(ctx, func(t *tx) error {
		if _, ok := s.orders[o.ID]; ok {
			return conflict("order %s exists", o.ID)
		}
		if o.IdempotencyKey != "" {
			k := orderKey{o.MerchantID, o.CustomerID, o.IdempotencyKey}
			if _, ok := s.orderKeys[k]; ok {
				return conflict("idempotency key %q already used", o.IdempotencyKey)
			}
			put(t, s.orderKeys, k, o.ID)
		}
		put(t, s.orders, o.ID, o.Clone())
		return nil
	})
}

// GetOrder implements commerce.Store.
func (s *Store) GetOrder(ctx context.Context, merchant commerce.MerchantID, id commerce.OrderID) (*commerce.Order, error) {
	var out *commerce.Order
	err := s.do(ctx, func(t *tx) error {
		o, ok := s.orders[id]
		if !ok || o.MerchantID != merchant {
			return notFound("order", id)
		}
		out = o.Clone()
		return nil
	})
	return out, err
}

// OrderByIdempotencyKey implements commerce.Store.
func (s *Store) OrderByIdempotencyKey(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, key string) (*commerce.Order, error) {
	var out *commerce.Order
	err := s.do(ctx, func(t *tx) error {
		id, ok := s.orderKeys[orderKey{merchant, customer, key}]
		if !ok {
			return fmt.Errorf("order with idempotency key %q: %w", key, storage.ErrNotFound)
		}
		out = s.orders[id].Clone()
		return nil
	})
	return out, err
}

// UpdateOrder implements commerce.Store.
func (s *Store) UpdateOrder(ctx context.Context, merchant commerce.MerchantID, id commerce.OrderID, fn func(*commerce.Order) error) error {
	return s.do(ctx, func(t *tx) error {
		o, ok := s.orders[id]
		if !ok || o.MerchantID != merchant {
			return notFound("order", id)
		}
		cp := o.Clone()
		if err := fn(cp); err != nil {
			return err
		}
		cp.ID, cp.MerchantID, cp.CustomerID, cp.IdempotencyKey = id, merchant, o.CustomerID, o.IdempotencyKey
		cp.Version = o.Version + 1
		put(t, s.orders, id, cp.Clone())
		return nil
	})
}

// ListOrders implements commerce.Store.
func (s *Store) ListOrders(ctx context.Context, merchant commerce.MerchantID, q commerce.OrderQuery) ([]*commerce.Order, error) {
	var out []*commerce.Order
	err := s.do(ctx, func(t *tx) error {
		for id, o := range s.orders {
			if o.MerchantID != merchant || (q.Customer != "" && o.CustomerID != q.Customer) ||
				(q.Status != "" && o.Status != q.Status) || (!q.After.IsZero() && id.Compare(q.After) <= 0) {
				continue
			}
			out = append(out, o)
		}
		slices.SortFunc(out, func(a, b *commerce.Order) int { return a.ID.Compare(b.ID) })
		if n := commerce.PageLimit(q.Limit); len(out) > n {
			out = out[:n]
		}
		for i, o := range out {
			out[i] = o.Clone()
		}
		return nil
	})
	return out, err
}

// DueOrders implements commerce.Store.
func (s *Store) DueOrders(ctx context.Context, status commerce.OrderStatus, now time.Time, limit int) ([]commerce.OrderRef, error) {
	var due []*commerce.Order
	err := s.do(ctx, func(t *tx) error {
		for _, o := range s.orders {
			if o.Status == status && !o.DueAt.IsZero() && !o.DueAt.After(now) {
				due = append(due, o)
			}
		}
		return nil
	})
	sort.Slice(due, func(i, j int) bool {
		if !due[i].DueAt.Equal(due[j].DueAt) {
			return due[i].DueAt.Before(due[j].DueAt)
		}
		return due[i].ID.Compare(due[j].ID) < 0
	})
	if len(due) > limit {
		due = due[:limit]
	}
	refs := make([]commerce.OrderRef, len(due))
	for i, o := range due {
		refs[i] = commerce.OrderRef{MerchantID: o.MerchantID, ID: o.ID}
	}
	return refs, err
}

// eventLog is the committed outbox, in chunks of eventChunk events: an
// append never moves the events before it. One slice of them all copied the
// whole log at every doubling, inside the store's lock.
type eventLog struct {
	chunks [][]commerce.Event
	n      int
}

const eventChunk = 1024

// append stores e as the next event, numbering it.
func (l *eventLog) append(e commerce.Event) {
	if l.n%eventChunk == 0 {
		l.chunks = append(l.chunks, make([]commerce.Event, 0, eventChunk))
	}
	l.n++
	e.Seq = uint64(l.n)
	last := &l.chunks[len(l.chunks)-1]
	*last = append(*last, e)
}

func (l *eventLog) len() int { return l.n }

// at returns event i (Seq i+1).
func (l *eventLog) at(i int) commerce.Event { return l.chunks[i/eventChunk][i%eventChunk] }

// AppendEvents implements commerce.Store: the events are published, with
// their sequence numbers, when the transaction commits.
func (s *Store) AppendEvents(ctx context.Context, events ...commerce.Event) error {
	return s.do(ctx, func(t *tx) error {
		for _, e := range events {
			e.Payload = slices.Clone(e.Payload)
			t.events = append(t.events, e)
		}
		return nil
	})
}

// ReadEvents implements commerce.Store.
func (s *Store) ReadEvents(ctx context.Context, after uint64, limit int) ([]commerce.Event, error) {
	var out []commerce.Event
	err := s.do(ctx, func(t *tx) error {
		n := uint64(s.events.len())
		if after >= n {
			return nil
		}
		end := min(n, after+uint64(commerce.PageLimit(limit)))
		for i := after; i < end; i++ {
			e := s.events.at(int(i))
			e.Payload = slices.Clone(e.Payload)
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// Cursor implements commerce.Store.
func (s *Store) Cursor(ctx context.Context, consumer string) (uint64, error) {
	var out uint64
	err := s.do(ctx, func(t *tx) error {
		out = s.cursors[consumer]
		return nil
	})
	return out, err
}

// SetCursor implements commerce.Store.
func (s *Store) SetCursor(ctx context.Context, consumer string, seq uint64) error {
	return s.do(ctx, func(t *tx) error {
		if seq > s.cursors[consumer] {
			put(t, s.cursors, consumer, seq)
		}
		return nil
	})
}
