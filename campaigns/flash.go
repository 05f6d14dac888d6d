package campaigns

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/internal/records"
	"github.com/minishop/minishop/storage"
)

type flashSaleTag struct{}

// FlashSaleID identifies a flash sale.
type FlashSaleID = commerce.ID[flashSaleTag]

// Limits and defaults of a flash sale.
const (
	// DefaultFlashShards is how many rows a sale SKU's units are spread
	// over: one buyer takes from one of them, so that thousands of buyers
	// of one SKU do not queue on one row lock.
	DefaultFlashShards = 16
	MaxFlashShards     = 64
	MaxFlashItems      = 50
	// DefaultFlashPaymentTimeout is how long a flash order waits for
	// payment before its units go back to the sale: shorter than the
	// kernel's 30 minutes, as the units are scarce.
	DefaultFlashPaymentTimeout = 5 * time.Minute
)

// FlashItem is a SKU of a flash sale: its price, the units set aside for
// the sale (taken off the SKU's stock when the sale is created, so the sale
// can sell out while the rest of the stock remains) and its limits.
type FlashItem struct {
	SKU   commerce.SKUID
	Price commerce.Money
	Units int64
	// PerCustomer bounds the units one customer buys in the sale (0: no
	// bound); PerOrder the units of one order (0: no bound).
	PerCustomer, PerOrder int64
}

// FlashSaleParams creates a flash sale: one time slot (场次) of SKUs at
// sale prices. A day of slots is a sale per slot.
type FlashSaleParams struct {
	MerchantID commerce.MerchantID
	Title      string
	Window     Window
	Items      []FlashItem
	// PaymentTimeout is how long a sale order waits for payment
	// (DefaultFlashPaymentTimeout when zero).
	PaymentTimeout time.Duration
	// Shards spreads each SKU's units over this many rows
	// (DefaultFlashShards when zero; at most MaxFlashShards, and never
	// more than the SKU's units).
	Shards int
}

// FlashSale is a flash sale. Its units live in its pool until sold or
// until the sale ends, when the unsold ones go back to the SKUs' stock.
type FlashSale struct {
	ID FlashSaleID
	FlashSaleParams
	Closed  bool
	Created time.Time
	// Returned counts the unsold units given back to stock at the close,
	// by SKU.
	Returned map[string]int64 `json:",omitempty"`
}

const statusLive = "live"

func (f FlashSale) Meta() (string, time.Time) {
	if f.Closed {
		return "closed", time.Time{}
	}
	return statusLive, f.Window.End
}

func (f *FlashSale) item(sku commerce.SKUID) (FlashItem, bool) {
	for _, it := range f.Items {
		if it.SKU == sku {
			return it, true
		}
	}
	return FlashItem{}, false
}

// shards is the number of pool rows of an item.
func (f *FlashSale) shards(it FlashItem) int {
	if int64(f.Shards) > it.Units {
		return int(it.Units)
	}
	return f.Shards
}

// flashPool is one shard of a sale SKU's units.
type flashPool struct {
	Units int64 `json:"units"`
}

func (flashPool) Meta() (string, time.Time) { return "", time.Time{} }

func poolKey(sale FlashSaleID, sku commerce.SKUID, shard int) string {
	return sale.String() + ":" + sku.String() + ":" + strconv.Itoa(shard)
}

// buyerKey keys a customer's count of a sale item: the item's index
// rather than its SKU, so that the longest customer id fits a record key.
func buyerKey(f *FlashSale, sku commerce.SKUID, customer commerce.CustomerID) string {
	i := 0
	for i < len(f.Items) && f.Items[i].SKU != sku {
		i++
	}
	return f.ID.String() + ":" + strconv.Itoa(i) + ":" + string(customer)
}

// flashBuyer counts a customer's units of a sale SKU.
type flashBuyer struct {
	Units int64 `json:"units"`
}

func (flashBuyer) Meta() (string, time.Time) { return "", time.Time{} }

// flashTake is what an order took from the pools, so that a cancel or
// refund gives the same units back.
type flashTake struct {
	Sale     FlashSaleID         `json:"sale"`
	Merchant commerce.MerchantID `json:"merchant"`
	Customer commerce.CustomerID `json:"customer"`
	Lines    []takeLine          `json:"lines"`
}

type takeLine struct {
	SKU commerce.SKUID `json:"sku"`
	// Shards[k] units came from shard k of Taken.
	Taken    []shardUnits `json:"taken"`
	Returned int64        `json:"returned,omitempty"`
}

type shardUnits struct {
	Shard int   `json:"shard"`
	Units int64 `json:"units"`
}

func (flashTake) Meta() (string, time.Time) { return "", time.Time{} }

// CreateFlashSale validates p, takes the sale's units off each SKU's stock
// and puts them in the sale's pool, in one transaction: a SKU without the
// units fails the whole sale, naming its item.
func (s *Service) CreateFlashSale(ctx context.Context, p FlashSaleParams) (*FlashSale, error) {
	const op = "campaigns.create_flash_sale"
	if err := commerce.CheckID(op, "merchant_id", p.MerchantID); err != nil {
		return nil, err
	}
	if err := commerce.CheckText(op, "title", p.Title, true, commerce.MaxNameLen); err != nil {
		return nil, err
	}
	if err := p.Window.validate(op, "window"); err != nil {
		return nil, err
	}
	switch {
	case p.PaymentTimeout < 0:
		return nil, commerce.Invalid(op, "payment_timeout", "%s is negative", p.PaymentTimeout)
	case p.Shards < 0 || p.Shards > MaxFlashShards:
		return nil, commerce.Invalid(op, "shards", "%d is outside [0, %d]", p.Shards, MaxFlashShards)
	case len(p.Items) == 0:
		return nil, commerce.Invalid(op, "items", "required")
	case len(p.Items) > MaxFlashItems:
		return nil, commerce.Invalid(op, "items", "%d items, at most %d", len(p.Items), MaxFlashItems)
	}
	if p.PaymentTimeout == 0 {
		p.PaymentTimeout = DefaultFlashPaymentTimeout
	}
	if p.Shards == 0 {
		p.Shards = DefaultFlashShards
	}
	seen := map[commerce.SKUID]bool{}
	for i, it := range p.Items {
		f := fmt.Sprintf("items[%d]", i)
		price, err := s.skuPrice(ctx, op, f+".sku", p.MerchantID, it.SKU)
		if err != nil {
			return nil, err
		}
		if seen[it.SKU] {
			return nil, commerce.Invalid(op, f+".sku", "%s appears twice", it.SKU)
		}
		seen[it.SKU] = true
		if err := campaignPrice(op, f+".price", it.Price, price); err != nil {
			return nil, err
		}
		switch {
		case it.Units < 1 || it.Units > commerce.MaxStock:
			return nil, commerce.Invalid(op, f+".units", "%d is outside [1, %d]", it.Units, commerce.MaxStock)
		case it.PerCustomer < 0:
			return nil, commerce.Invalid(op, f+".per_customer", "%d is negative", it.PerCustomer)
		case it.PerOrder < 0:
			return nil, commerce.Invalid(op, f+".per_order", "%d is negative", it.PerOrder)
		}
	}
	sale := &FlashSale{ID: commerce.IDFrom[flashSaleTag](s.ids.NewUUID()), FlashSaleParams: p, Created: s.now()}
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		for i, it := range sale.Items {
			if _, err := s.commerce.AdjustStock(ctx, p.MerchantID, it.SKU, -it.Units); err != nil {
				return &commerce.Error{Op: op, Kind: commerce.KindOf(err), Field: fmt.Sprintf("items[%d].units", i), Err: err}
			}
			n := sale.shards(it)
			for k := 0; k < n; k++ {
				units := it.Units / int64(n)
				if int64(k) < it.Units%int64(n) {
					units++
				}
				if err := records.Insert(ctx, s.store, kindFlashPool, poolKey(sale.ID, it.SKU, k), sale.Created, flashPool{Units: units}); err != nil {
					return err
				}
			}
		}
		return records.Insert(ctx, s.store, kindFlashSale, sale.ID.String(), sale.Created, sale)
	})
	if err != nil {
		return nil, commerce.Wrap(op, err)
	}
	s.sales.Store(sale.ID, sale)
	return sale, nil
}

// FlashSale returns a sale.
func (s *Service) FlashSale(ctx context.Context, merchant commerce.MerchantID, id FlashSaleID) (*FlashSale, error) {
	const op = "campaigns.flash_sale"
	f, err := records.Read[FlashSale](ctx, s.store, kindFlashSale, id.String())
	if err == nil && f.MerchantID != merchant {
		err = storage.ErrNotFound
	}
	if err != nil {
		return nil, notFound(op, "sale_id", err)
	}
	return f, nil
}

// saleTerms returns a sale's terms, which never change once it is created:
// from the process's cache, read once per sale. Whether the sale has
// closed is not among them (it is time: the window says).
func (s *Service) saleTerms(ctx context.Context, op string, merchant commerce.MerchantID, id FlashSaleID) (*FlashSale, error) {
	if v, ok := s.sales.Load(id); ok {
		if f := v.(*FlashSale); f.MerchantID == merchant {
			return f, nil
		}
		return nil, notFound(op, "extensions.campaigns", storage.ErrNotFound)
	}
	f, err := s.FlashSale(ctx, merchant, id)
	if err != nil {
		return nil, err
	}
	s.sales.Store(id, f)
	return f, nil
}

// Left counts the units a sale SKU has left in its pool.
func (s *Service) Left(ctx context.Context, merchant commerce.MerchantID, id FlashSaleID, sku commerce.SKUID) (int64, error) {
	const op = "campaigns.flash_left"
	f, err := s.FlashSale(ctx, merchant, id)
	if err != nil {
		return 0, err
	}
	it, ok := f.item(sku)
	if !ok {
		return 0, commerce.Invalid(op, "sku", "%s is not in sale %s", sku, id)
	}
	var left int64
	for k := 0; k < f.shards(it); k++ {
		p, err := records.Read[flashPool](ctx, s.store, kindFlashPool, poolKey(id, sku, k))
		if err != nil {
			return 0, commerce.Wrap(op, err)
		}
		left += p.Units
	}
	return left, nil
}

// flashChoice is a checkout's flash-sale input.
type flashChoice struct{ sale FlashSaleID }

// Flash makes a checkout buy at the sale's prices, from its pool.
func Flash(sale FlashSaleID) commerce.Extension {
	return commerce.Extension{Key: extKey, Value: flashChoice{sale: sale}}
}

func (s *Service) flashAdjust(ctx context.Context, q *commerce.Quote, v flashChoice) ([]commerce.Adjustment, error) {
	const op = "campaigns.flash_price"
	f, err := s.saleTerms(ctx, op, q.MerchantID, v.sale)
	if err != nil {
		return nil, err
	}
	if now := s.now(); !f.Window.Contains(now) {
		return nil, refuse(op, commerce.KindFailedPrecondition, "extensions.campaigns", ErrNotRunning, "sale %s runs %s to %s", f.ID,
			f.Window.Start.Format(time.RFC3339), f.Window.End.Format(time.RFC3339))
	}
	if err := noCoupons(op, q); err != nil {
		return nil, err
	}
	var adjs []commerce.Adjustment
	for i, l := range q.Lines {
		it, ok := f.item(l.SKU)
		if !ok {
			return nil, commerce.Invalid(op, fmt.Sprintf("lines[%d].sku", i), "%s is not in sale %s", l.SKU, f.ID)
		}
		if it.PerOrder > 0 && l.Quantity > it.PerOrder {
			return nil, refuse(op, commerce.KindFailedPrecondition, fmt.Sprintf("lines[%d].quantity", i), ErrLimit, "%d units, at most %d per order", l.Quantity, it.PerOrder)
		}
		a, err := lineDiscount(q, i, it.Price, "campaigns", f.ID.String(), "flash sale")
		if err != nil {
			return nil, err
		}
		adjs = append(adjs, a...)
	}
	return adjs, nil
}

// flashCheckout takes the order's units from the pool, one shard after
// another from a shard picked by the order (so buyers spread over the
// rows), and counts them against the customer's limit.
func (s *Service) flashCheckout(ctx context.Context, c *commerce.CheckoutContext, v flashChoice) error {
	const op = "campaigns.flash_checkout"
	o := c.Order
	f, err := s.saleTerms(ctx, op, o.MerchantID, v.sale)
	if err != nil {
		return err
	}
	if err := allowed(op, c.Quote, false, false); err != nil {
		return err
	}
	now := s.now()
	take := flashTake{Sale: f.ID, Merchant: o.MerchantID, Customer: o.CustomerID}
	h := fnv.New32a()
	id := o.ID.UUID()
	h.Write(id[:])
	start := int(h.Sum32())
	for i := range o.Lines {
		l := &o.Lines[i]
		it, _ := f.item(l.SKU)
		field := fmt.Sprintf("lines[%d].quantity", i)
		if it.PerCustomer > 0 {
			if err := s.countBuyer(ctx, op, field, f, it, l.SKU, o.CustomerID, l.Quantity, now); err != nil {
				return err
			}
		}
		tl := takeLine{SKU: l.SKU}
		need, n := l.Quantity, f.shards(it)
		// Shards this process saw empty are tried last, so a sale near
		// its end does not read every drained shard on each checkout; the
		// second pass still reads them, so sold out is only ever said
		// after every shard was read in this transaction.
		for pass := 0; pass < 2 && need > 0; pass++ {
			for k := 0; k < n && need > 0; k++ {
				shard := (start + k) % n
				key := poolKey(f.ID, l.SKU, shard)
				if _, drained := s.drained.Load(key); drained != (pass == 1) {
					continue
				}
				var got, left int64
				_, err := records.Update(ctx, s.store, kindFlashPool, key, now, false, func(p *flashPool, _ bool) error {
					got = min(p.Units, need)
					if got == 0 {
						return records.ErrKeep
					}
					p.Units -= got
					left = p.Units
					return nil
				})
				if err != nil {
					return commerce.Wrap(op, err)
				}
				if left == 0 {
					s.drained.Store(key, struct{}{})
				} else {
					s.drained.Delete(key)
				}
				if got > 0 {
					tl.Taken = append(tl.Taken, shardUnits{Shard: shard, Units: got})
					need -= got
				}
			}
		}
		if need > 0 {
			return &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Field: field,
				Err: fmt.Errorf("%w: %d units of %s asked, %d left", ErrSoldOut, l.Quantity, l.SKU, l.Quantity-need)}
		}
		l.StockPool = "campaigns"
		take.Lines = append(take.Lines, tl)
	}
	markOrder(o, "flash")
	if due := o.Created.Add(f.PaymentTimeout); due.Before(o.DueAt) {
		o.DueAt = due
	}
	return commerce.Wrap(op, records.Insert(ctx, s.store, kindFlashTake, o.ID.String(), now, take))
}

// countBuyer counts units against the customer's limit of the sale item,
// refusing what would pass it. Most buyers of a sale buy once, so the
// count is inserted first (a taken key is a conflict the transaction
// survives) and read and updated only when the customer has bought before.
func (s *Service) countBuyer(ctx context.Context, op, field string, f *FlashSale, it FlashItem, sku commerce.SKUID, customer commerce.CustomerID, units int64, now time.Time) error {
	over := func(had int64) error {
		return refuse(op, commerce.KindFailedPrecondition, field, ErrLimit, "%s has bought %d of %d units allowed", customer, had, it.PerCustomer)
	}
	if units > it.PerCustomer {
		return over(0)
	}
	key := buyerKey(f, sku, customer)
	err := records.Insert(ctx, s.store, kindFlashBuyer, key, now, flashBuyer{Units: units})
	if !errors.Is(err, storage.ErrConflict) {
		return commerce.Wrap(op, err)
	}
	_, err = records.Update(ctx, s.store, kindFlashBuyer, key, now, true, func(b *flashBuyer, _ bool) error {
		if b.Units+units > it.PerCustomer {
			return over(b.Units)
		}
		b.Units += units
		return nil
	})
	return commerce.Wrap(op, err)
}

// flashOrderChanged gives a cancelled order's units, and a refund's units
// that never shipped, back to the sale's pool (or to the SKU's stock once
// the sale has closed), and uncounts them from the customer's limit.
func (s *Service) flashOrderChanged(ctx context.Context, c commerce.OrderChange) error {
	const op = "campaigns.flash_order"
	o := c.Order
	back := map[commerce.SKUID]int64{}
	restock := true
	switch {
	case c.Action == commerce.ActionCancel:
		for _, l := range o.Lines {
			back[l.SKU] = l.Quantity
		}
	case c.Action == commerce.ActionRefundOK && c.Refund != nil:
		for _, rl := range c.Refund.Lines {
			back[o.Lines[rl.Line].SKU] += rl.Quantity
		}
		restock = c.Refund.Restock
	default:
		return nil
	}
	now := s.now()
	var put []struct {
		sku    commerce.SKUID
		shards []shardUnits
	}
	t, err := records.Update(ctx, s.store, kindFlashTake, o.ID.String(), now, false, func(t *flashTake, _ bool) error {
		put = put[:0]
		for i := range t.Lines {
			tl := &t.Lines[i]
			n := back[tl.SKU]
			if n == 0 {
				continue
			}
			// Give back from the last shards taken.
			var shards []shardUnits
			skip := tl.Returned
			for k := len(tl.Taken) - 1; k >= 0 && n > 0; k-- {
				u := tl.Taken[k].Units
				if skip >= u {
					skip -= u
					continue
				}
				u -= skip
				skip = 0
				g := min(u, n)
				shards = append(shards, shardUnits{Shard: tl.Taken[k].Shard, Units: g})
				n -= g
				tl.Returned += g
			}
			put = append(put, struct {
				sku    commerce.SKUID
				shards []shardUnits
			}{tl.SKU, shards})
		}
		return nil
	})
	if err != nil {
		return commerce.Wrap(op, err)
	}
	f, err := s.saleTerms(ctx, op, o.MerchantID, t.Sale)
	if err != nil {
		return err
	}
	for _, p := range put {
		it, _ := f.item(p.sku)
		var units int64
		for _, su := range p.shards {
			units += su.Units
		}
		if it.PerCustomer > 0 {
			_, err := records.Update(ctx, s.store, kindFlashBuyer, buyerKey(f, p.sku, o.CustomerID), now, false, func(b *flashBuyer, _ bool) error {
				b.Units = max(0, b.Units-units)
				return nil
			})
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return commerce.Wrap(op, err)
			}
		}
		if !restock {
			continue // shipped: the units are gone
		}
		if err := s.putBack(ctx, f, p.sku, p.shards, now); err != nil {
			return commerce.Wrap(op, err)
		}
	}
	return nil
}

// putBack returns units to their shards while the sale is live. The sale
// is read after the shards are written: a close that swept a shard first
// has committed (the shard's compare-and-swap waited for it), so its
// closed state is seen and the units go to the SKU's stock instead; a
// close that sweeps later sees them in the shard.
func (s *Service) putBack(ctx context.Context, f *FlashSale, sku commerce.SKUID, shards []shardUnits, now time.Time) error {
	var units int64
	for _, su := range shards {
		units += su.Units
		key := poolKey(f.ID, sku, su.Shard)
		if _, err := records.Update(ctx, s.store, kindFlashPool, key, now, false, func(p *flashPool, _ bool) error {
			p.Units += su.Units
			return nil
		}); err != nil {
			return err
		}
		s.drained.Delete(key)
	}
	cur, err := records.Read[FlashSale](ctx, s.store, kindFlashSale, f.ID.String())
	if err != nil || !cur.Closed {
		return err
	}
	for _, su := range shards {
		if _, err := records.Update(ctx, s.store, kindFlashPool, poolKey(f.ID, sku, su.Shard), now, false, func(p *flashPool, _ bool) error {
			p.Units -= su.Units
			return nil
		}); err != nil {
			return err
		}
	}
	_, err = s.commerce.AdjustStock(ctx, f.MerchantID, sku, units)
	return err
}

// runFlash closes the sales past their end: the pool's unsold units go
// back to each SKU's stock, in the transaction that closes the sale.
func (s *Service) runFlash(ctx context.Context, rep *DueReport) error {
	const op = "campaigns.run_due"
	now := s.now()
	return records.Due(ctx, s.store, kindFlashSale, statusLive, now, func(r storage.Record) error {
		closed := false
		err := s.store.InTx(ctx, func(ctx context.Context) error {
			closed = false
			f, err := records.Update(ctx, s.store, kindFlashSale, r.Key, now, false, func(f *FlashSale, _ bool) error {
				closed = false
				if f.Closed || now.Before(f.Window.End) {
					return records.ErrKeep
				}
				f.Closed, closed = true, true
				return nil
			})
			if err != nil || !closed {
				return err
			}
			returned := map[string]int64{}
			for _, it := range f.Items {
				var sum int64
				for k := 0; k < f.shards(it); k++ {
					var got int64
					if _, err := records.Update(ctx, s.store, kindFlashPool, poolKey(f.ID, it.SKU, k), now, false, func(p *flashPool, _ bool) error {
						got, p.Units = p.Units, 0
						return nil
					}); err != nil {
						return err
					}
					s.drained.Delete(poolKey(f.ID, it.SKU, k)) // the sale takes no more orders
					sum += got
				}
				if sum > 0 {
					if _, err := s.commerce.AdjustStock(ctx, f.MerchantID, it.SKU, sum); err != nil {
						return err
					}
				}
				returned[it.SKU.String()] = sum
			}
			if _, err := records.Update(ctx, s.store, kindFlashSale, r.Key, now, false, func(f *FlashSale, _ bool) error {
				f.Returned = returned
				return nil
			}); err != nil {
				return err
			}
			return s.emit(ctx, "flash.closed", f.ID.String(), f.MerchantID, map[string]any{"sale_id": f.ID, "returned": returned})
		})
		if err != nil {
			return commerce.Wrap(op, err)
		}
		if closed {
			rep.SalesClosed++
		}
		return nil
	})
}
