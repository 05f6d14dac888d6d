package commercetest

import (
	"context"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/text/currency"

	"github.com/minishop/minishop/commerce"
)

// Clock is a commerce.Clock that moves only when told to. It is safe for
// concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock stopped at t (UTC).
func NewClock(t time.Time) *Clock { return &Clock{now: t.UTC()} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t.UTC()
}

// SeqIDs is a commerce.IDGenerator that hands out 00000000-0000-7000-8000-
// 000000000001, ...002 and so on: valid UUIDv7-shaped IDs in creation order,
// so test output is deterministic. It is safe for concurrent use.
type SeqIDs struct {
	mu sync.Mutex
	n  uint64
}

// NewUUID returns the next ID.
func (g *SeqIDs) NewUUID() uuid.UUID {
	g.mu.Lock()
	g.n++
	n := g.n
	g.mu.Unlock()
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[8:], n)
	u[6] = 0x70 // version 7
	u[8] |= 0x80
	return u
}

// Epoch is the instant fixtures start at: 2026-01-01 10:00 in Beijing.
var Epoch = time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC)

// CNY is shorthand for a yuan amount in fixtures: CNY("12.30").
func CNY(s string) commerce.Money { return commerce.MustParseMoney(s, currency.CNY) }

// Shop is a merchant with products, made by NewShop.
type Shop struct {
	Merchant *commerce.Merchant
	Products []*commerce.Product
}

// SKU returns the j-th SKU of the i-th product.
func (s *Shop) SKU(i, j int) commerce.SKUID { return s.Products[i].SKUs[j].ID }

// ProductSpec describes a listed product for NewShop: one SKU per price.
type ProductSpec struct {
	Title    string
	Category string
	Prices   []string // yuan, one SKU each
	Stock    int64    // per SKU
	Limit    int64    // per-customer purchase limit per SKU, 0 for none
}

// NewShop opens a CNY shop named name with the given listed products. It
// fails the test on any error.
func NewShop(t testing.TB, svc *commerce.Service, name string, shipping commerce.ShippingRule, specs ...ProductSpec) *Shop {
	t.Helper()
	ctx := context.Background()
	m, err := svc.CreateMerchant(ctx, commerce.MerchantParams{Currency: "CNY",
		Profile: commerce.ShopProfile{Name: name}, Shipping: shipping})
	if err != nil {
		t.Fatalf("commercetest: create merchant: %v", err)
	}
	shop := &Shop{Merchant: m}
	for _, sp := range specs {
		p := commerce.ProductParams{MerchantID: m.ID, Title: sp.Title, Category: sp.Category, State: commerce.Listed}
		for i, price := range sp.Prices {
			p.SKUs = append(p.SKUs, commerce.SKUParams{
				Attributes: []commerce.Attribute{{Name: "variant", Value: string(rune('A' + i))}},
				Price:      CNY(price), Stock: sp.Stock, PurchaseLimit: sp.Limit})
		}
		prod, err := svc.CreateProduct(ctx, p)
		if err != nil {
			t.Fatalf("commercetest: create product %q: %v", sp.Title, err)
		}
		shop.Products = append(shop.Products, prod)
	}
	return shop
}

// Address returns a valid shipping address.
func Address() *commerce.Address {
	return &commerce.Address{Name: "李雷", Phone: "13800000000", Province: "广东省", City: "深圳市",
		District: "南山区", Detail: "科技园路 1 号"}
}
