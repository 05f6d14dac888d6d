package commerce

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/minishop/minishop/storage"
)

// Store is what the commerce kernel needs from a database. storage/memory
// and storage/sqlstore implement it, and storage/storetest holds every
// implementation to the same contract.
//
// Every method takes the transaction from ctx when one is open
// (storage.Transactor.InTx) and otherwise runs atomically on its own. Records
// are copied in and out: a caller never shares memory with the store.
// Methods scoped by a MerchantID never read or write another merchant's
// records; a record of another merchant is reported as storage.ErrNotFound.
type Store interface {
	storage.Transactor

	// CreateMerchant inserts m; ErrConflict if its ID exists.
	CreateMerchant(ctx context.Context, m *Merchant) error
	// GetMerchant returns the merchant or ErrNotFound.
	GetMerchant(ctx context.Context, id MerchantID) (*Merchant, error)
	// UpdateMerchant locks the merchant, passes a copy to fn and stores what
	// fn leaves unless fn fails. ErrNotFound if it does not exist.
	UpdateMerchant(ctx context.Context, id MerchantID, fn func(*Merchant) error) error

	// CreateProduct inserts p with its SKUs and their initial stock.
	// ErrConflict if the product or one of its SKU IDs exists.
	CreateProduct(ctx context.Context, p *Product) error
	// GetProduct returns the product with its SKUs and their current stock.
	GetProduct(ctx context.Context, merchant MerchantID, id ProductID) (*Product, error)
	// UpdateProduct locks the product, passes a copy to fn and stores what fn
	// leaves unless fn fails. SKUs fn adds are inserted with their Stock; the
	// stock of existing SKUs is not written (it changes only through
	// ReserveStock, ReleaseStock and AdjustStock). SKUs fn removes are deleted.
	UpdateProduct(ctx context.Context, merchant MerchantID, id ProductID, fn func(*Product) error) error
	// ListProducts returns the merchant's products in ID order after q.After,
	// filtered by q.State and q.Category when set, at most q.Limit of them.
	ListProducts(ctx context.Context, merchant MerchantID, q ProductQuery) ([]*Product, error)
	// ProductsBySKU returns the products owning the given SKUs, each once,
	// with current stock. SKUs that do not exist for the merchant are left out
	// (no error): the caller reports which line is unknown.
	ProductsBySKU(ctx context.Context, merchant MerchantID, skus []SKUID) ([]*Product, error)

	// ReserveStock takes the given units off each SKU's stock, all or none:
	// each decrement is guarded (stock >= units), so concurrent callers can
	// never take more than is on hand. When one SKU lacks units it returns an
	// *OutOfStockError for it (wrapped so errors.Is(err, ErrOutOfStock)) and
	// takes nothing. ErrNotFound for an unknown SKU. Changes must be sorted by
	// SKU and name each SKU once; callers aggregate demand first.
	ReserveStock(ctx context.Context, merchant MerchantID, changes []StockChange) error
	// ReleaseStock puts units back (cancelled or refunded before shipping).
	ReleaseStock(ctx context.Context, merchant MerchantID, changes []StockChange) error
	// AdjustStock adds delta (possibly negative) to one SKU's stock and
	// returns the new level; a change that would go below zero or above
	// MaxStock fails with KindFailedPrecondition and changes nothing.
	AdjustStock(ctx context.Context, merchant MerchantID, sku SKUID, delta int64) (int64, error)

	// AddPurchases counts units a customer buys of SKUs with a purchase
	// limit, each guarded: if a count would pass its Limit it returns a
	// *PurchaseLimitError and counts nothing.
	AddPurchases(ctx context.Context, merchant MerchantID, customer CustomerID, changes []PurchaseChange) error
	// RemovePurchases uncounts units (order cancelled or refunded).
	RemovePurchases(ctx context.Context, merchant MerchantID, customer CustomerID, changes []PurchaseChange) error

	// GetCart returns the customer's cart; an empty cart if none was saved.
	GetCart(ctx context.Context, merchant MerchantID, customer CustomerID) (*Cart, error)
	// UpdateCart locks the cart (creating it empty if needed), passes a copy
	// to fn and stores what fn leaves unless fn fails. Concurrent updates of
	// one cart are serialized, never lost.
	UpdateCart(ctx context.Context, merchant MerchantID, customer CustomerID, fn func(*Cart) error) error

	// InsertOrder inserts a new order. ErrConflict if its ID exists or the
	// customer already has an order at the merchant with the same non-empty
	// IdempotencyKey.
	InsertOrder(ctx context.Context, o *Order) error
	// GetOrder returns the order or ErrNotFound.
	GetOrder(ctx context.Context, merchant MerchantID, id OrderID) (*Order, error)
	// OrderByIdempotencyKey returns the customer's order at the merchant
	// created with key, or ErrNotFound.
	OrderByIdempotencyKey(ctx context.Context, merchant MerchantID, customer CustomerID, key string) (*Order, error)
	// UpdateOrder locks the order, passes a copy to fn and stores what fn
	// leaves unless fn fails, bumping Version. ErrNotFound if it does not exist.
	UpdateOrder(ctx context.Context, merchant MerchantID, id OrderID, fn func(*Order) error) error
	// ListOrders returns the merchant's orders in ID order after q.After,
	// filtered by customer and status when set, at most q.Limit.
	ListOrders(ctx context.Context, merchant MerchantID, q OrderQuery) ([]*Order, error)
	// DueOrders returns, across merchants, up to limit orders in status
	// whose DueAt is set and not after now, earliest first.
	DueOrders(ctx context.Context, status OrderStatus, now time.Time, limit int) ([]OrderRef, error)

	// AppendEvents adds events to the outbox in the caller's transaction:
	// they become visible to readers only if it commits.
	AppendEvents(ctx context.Context, events ...Event) error
	// ReadEvents returns up to limit committed events with Seq > after, in
	// Seq order. Seq numbers are assigned in commit order, so a reader that
	// has seen Seq n will never later find a new event below n: a cursor
	// never skips an event.
	ReadEvents(ctx context.Context, after uint64, limit int) ([]Event, error)
	// Cursor returns a named consumer's position (0 for a new consumer).
	Cursor(ctx context.Context, consumer string) (uint64, error)
	// SetCursor moves a consumer's position forward to seq; a position never
	// moves back, so a late acknowledgement of older events is harmless.
	SetCursor(ctx context.Context, consumer string, seq uint64) error
}

// ProductQuery filters ListProducts.
type ProductQuery struct {
	State    ListingState // any state when empty
	Category string       // any category when empty
	After    ProductID    // page after this ID
	Limit    int          // at most this many (store caps at 1000; 0 means 100)
}

// CatalogReader is an optional Store method. Pricing needs the merchant (its
// currency and shipping rule) and the products of the priced SKUs; a store
// that can read both together (a SQL store, in one round trip) implements
// it, and the Service uses it instead of GetMerchant and ProductsBySKU.
type CatalogReader interface {
	// MerchantProducts returns the merchant and what ProductsBySKU would
	// return for skus, or ErrNotFound when the merchant does not exist.
	MerchantProducts(ctx context.Context, merchant MerchantID, skus []SKUID) (*Merchant, []*Product, error)
}

// OrderPlacer is an optional Store method for the end of checkout: it
// inserts the new order, then takes its stock, with the rules and errors of
// InsertOrder and ReserveStock, in one round trip where the driver can send
// several statements at once (PostgreSQL's pipeline). The Service uses it
// instead of the two calls.
type OrderPlacer interface {
	PlaceOrder(ctx context.Context, o *Order, stock []StockChange) error
}

// OrderQuery filters ListOrders.
type OrderQuery struct {
	Customer CustomerID  // any customer when empty
	Status   OrderStatus // any status when empty
	After    OrderID
	Limit    int // at most this many (store caps at 1000; 0 means 100)
}

// PageLimit applies the default and cap of a page size: stores use it so
// every store pages alike.
func PageLimit(limit int) int {
	switch {
	case limit <= 0:
		return 100
	case limit > 1000:
		return 1000
	}
	return limit
}

// OrderRef names an order across merchants.
type OrderRef struct {
	MerchantID MerchantID
	ID         OrderID
}

// StockChange is a number of units of one SKU.
type StockChange struct {
	SKU      SKUID
	Quantity int64
}

// PurchaseChange is a number of units of a SKU with a purchase limit.
type PurchaseChange struct {
	SKU      SKUID
	Quantity int64
	Limit    int64
}

// Event is an outbox record: something that happened to an aggregate,
// written in the transaction that made it happen.
type Event struct {
	// Seq is the position in the outbox, assigned by the store in commit
	// order; zero until stored.
	Seq uint64
	// ID is unique per event; consumers can use it to drop duplicates of
	// at-least-once delivery.
	ID uuid.UUID
	// Type is "<aggregate>.<what happened>", e.g. "order.paid".
	Type        string
	AggregateID string
	MerchantID  MerchantID
	Payload     json.RawMessage
	Time        time.Time
}
