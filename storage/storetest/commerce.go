package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/currency"

	"github.com/minishop/minishop/commerce"
	. "github.com/minishop/minishop/commerce/commercetest"
)

func runCommerce(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"Merchants/RoundTrip", testMerchantRoundTrip},
		{"Catalog/RoundTrip", testCatalogRoundTrip},
		{"Catalog/UpdateKeepsStock", testUpdateKeepsStock},
		{"Catalog/MerchantIsolation", testMerchantIsolation},
		{"Catalog/Paging", testProductPaging},
		{"Stock/Adjust", testAdjustStock},
		{"Stock/NoOversell", testNoOversell},
		{"Stock/NoOversellMultiLine", testNoOversellMultiLine},
		{"Carts/Edit", testCartEdit},
		{"Carts/ConcurrentAdds", testCartConcurrentAdds},
		{"Checkout/Basic", testCheckoutBasic},
		{"Checkout/Idempotent", testCheckoutIdempotent},
		{"Checkout/IdempotentConcurrent", testCheckoutIdempotentConcurrent},
		{"Checkout/FailureLeavesNoTrace", testCheckoutFailureLeavesNoTrace},
		{"Checkout/PurchaseLimit", testPurchaseLimit},
		{"Checkout/PurchaseLimitConcurrent", testPurchaseLimitConcurrent},
		{"Checkout/AdjustmentsStored", testAdjustmentsStored},
		{"Orders/Transitions", testTransitions},
		{"Orders/MarkPaidIdempotent", testMarkPaidIdempotent},
		{"Orders/AutoCancel", testAutoCancel},
		{"Orders/AutoCancelConcurrent", testAutoCancelConcurrent},
		{"Orders/AutoReceiveAndComplete", testAutoReceiveComplete},
		{"Orders/Gift", testGiftOrder},
		{"Orders/List", testListOrders},
		{"Refunds/PartialThenFull", testPartialRefunds},
		{"Refunds/ConcurrentNeverExceed", testConcurrentRefunds},
		{"Refunds/GatewayPendingAndFail", testRefundGateway},
		{"Outbox/OrderAndCursor", testOutboxCursor},
		{"Outbox/ConcurrentWritersNeverSkip", testOutboxNeverSkips},
		{"Transactions/RollbackAndJoin", testTransactions},
		{"Data/RoundTripExact", testDataRoundTrip},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

var freeShipping = commerce.ShippingRule{}

func (e *env) shop(specs ...ProductSpec) *Shop {
	return NewShop(e.t, e.svc, "小林的店", freeShipping, specs...)
}

func (e *env) stockOf(shop *Shop, sku commerce.SKUID) int64 {
	e.t.Helper()
	for _, p := range shop.Products {
		if _, ok := p.SKU(sku); ok {
			got, err := e.svc.GetProduct(e.ctx, shop.Merchant.ID, p.ID)
			require.NoError(e.t, err)
			s, _ := got.SKU(sku)
			return s.Stock
		}
	}
	e.t.Fatalf("no sku %s in shop", sku)
	return 0
}

func (e *env) buy(shop *Shop, customer string, key string, lines ...commerce.LineItem) (*commerce.Order, error) {
	return e.svc.Checkout(e.ctx, commerce.CheckoutParams{MerchantID: shop.Merchant.ID, CustomerID: commerce.CustomerID(customer),
		Lines: lines, IdempotencyKey: key, ShippingAddress: Address()})
}

func (e *env) mustBuy(shop *Shop, customer, key string, lines ...commerce.LineItem) *commerce.Order {
	e.t.Helper()
	o, err := e.buy(shop, customer, key, lines...)
	require.NoError(e.t, err)
	return o
}

func (e *env) pay(o *commerce.Order) *commerce.Order {
	e.t.Helper()
	o, err := e.svc.MarkPaid(e.ctx, commerce.MarkPaidParams{MerchantID: o.MerchantID, OrderID: o.ID, PaymentRef: "pay-" + o.ID.String(), Amount: o.Total})
	require.NoError(e.t, err)
	return o
}

func (e *env) countOrders(shop *Shop) int {
	e.t.Helper()
	os, err := e.svc.ListOrders(e.ctx, shop.Merchant.ID, commerce.OrderQuery{Limit: 1000})
	require.NoError(e.t, err)
	return len(os)
}

func (e *env) allEvents() []commerce.Event {
	e.t.Helper()
	var all []commerce.Event
	var after uint64
	for {
		evs, err := e.svc.ReadEvents(e.ctx, after, 1000)
		require.NoError(e.t, err)
		if len(evs) == 0 {
			return all
		}
		all = append(all, evs...)
		after = evs[len(evs)-1].Seq
	}
}

func line(sku commerce.SKUID, qty int64) commerce.LineItem {
	return commerce.LineItem{SKU: sku, Quantity: qty}
}

func testMerchantRoundTrip(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{})
	in := commerce.MerchantParams{Currency: "CNY", Profile: commerce.ShopProfile{
		Name: "丝绸坊 Silk House", Introduction: "太湖雪蚕丝被 — silk quilts since 2006 🧵", Contact: "400-800-1234",
		OpeningHours: []commerce.OpeningPeriod{{Day: time.Monday, Open: "09:00", Close: "18:00"}, {Day: time.Saturday, Open: "10:00", Close: "24:00"}},
		Location:     &commerce.GeoPoint{Latitude: 31.2989, Longitude: 120.5853},
		Pictures:     []string{"https://img.example.com/logo.png", "https://img.example.com/banner.jpg"},
	}, Shipping: commerce.ShippingRule{Flat: CNY("8.00"), FreeOver: CNY("99.00")}}
	m, err := e.svc.CreateMerchant(e.ctx, in)
	require.NoError(t, err)
	got, err := e.svc.GetMerchant(e.ctx, m.ID)
	require.NoError(t, err)
	assert.Equal(t, in.Profile, got.Profile)
	assert.True(t, got.Shipping.Flat.Equal(CNY("8")), "flat %s", got.Shipping.Flat)
	assert.True(t, got.Shipping.FreeOver.Equal(CNY("99")))
	assert.Equal(t, currency.CNY, got.Currency)
	assert.True(t, got.Created.Equal(Epoch), "created %s", got.Created)

	in.Profile.Name = "丝绸坊"
	in.Profile.Location = nil
	_, err = e.svc.UpdateMerchant(e.ctx, m.ID, in)
	require.NoError(t, err)
	got, err = e.svc.GetMerchant(e.ctx, m.ID)
	require.NoError(t, err)
	assert.Equal(t, "丝绸坊", got.Profile.Name)
	assert.Nil(t, got.Profile.Location)

	_, err = e.svc.GetMerchant(e.ctx, commerce.MerchantID{})
	assert.Equal(t, "merchant_id", fieldOf(err), "a zero id is a forgotten field")
	require.ErrorIs(t, err, commerce.ErrInvalid)
	bad := in
	bad.Profile.Name = strings.Repeat("店", commerce.MaxNameLen+1)
	_, err = e.svc.UpdateMerchant(e.ctx, m.ID, bad)
	require.ErrorIs(t, err, commerce.ErrInvalid)
	assert.Contains(t, err.Error(), "profile.name")
	got, _ = e.svc.GetMerchant(e.ctx, m.ID)
	assert.Equal(t, "丝绸坊", got.Profile.Name, "a rejected update changes nothing")
}

func testCatalogRoundTrip(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{})
	shop := e.shop()
	in := commerce.ProductParams{MerchantID: shop.Merchant.ID, Title: "真丝睡衣 Silk pyjamas", Description: "100% 桑蚕丝\n\tmachine-washable",
		Category: "apparel", Pictures: []string{"https://img.example.com/p1.jpg"}, State: commerce.Listed,
		SKUs: []commerce.SKUParams{
			{Attributes: []commerce.Attribute{{Name: "颜色", Value: "香槟"}, {Name: "尺码", Value: "M"}}, Price: CNY("1299.00"), Stock: 5, PurchaseLimit: 2},
			{Attributes: []commerce.Attribute{{Name: "颜色", Value: "黛蓝"}, {Name: "尺码", Value: "L"}}, Price: CNY("1399.50"), Stock: 0},
		}}
	p, err := e.svc.CreateProduct(e.ctx, in)
	require.NoError(t, err)
	got, err := e.svc.GetProduct(e.ctx, shop.Merchant.ID, p.ID)
	require.NoError(t, err)
	assert.Equal(t, in.Title, got.Title)
	assert.Equal(t, in.Description, got.Description)
	assert.Equal(t, in.Category, got.Category)
	assert.Equal(t, in.Pictures, got.Pictures)
	assert.Equal(t, commerce.Listed, got.State)
	require.Len(t, got.SKUs, 2)
	for i, s := range got.SKUs {
		assert.Equal(t, p.SKUs[i].ID, s.ID, "SKU order is kept")
		assert.Equal(t, in.SKUs[i].Attributes, s.Attributes)
		assert.True(t, s.Price.Equal(in.SKUs[i].Price), "price %s", s.Price)
		assert.Equal(t, in.SKUs[i].Stock, s.Stock)
		assert.Equal(t, in.SKUs[i].PurchaseLimit, s.PurchaseLimit)
	}

	// Bad input names the field and stores nothing.
	for _, tc := range []struct {
		field string
		edit  func(p *commerce.ProductParams)
	}{
		{"title", func(p *commerce.ProductParams) { p.Title = " " }},
		{"skus[0].price", func(p *commerce.ProductParams) { p.SKUs[0].Price = CNY("-1") }},
		{"skus[0].price", func(p *commerce.ProductParams) {
			p.SKUs[0].Price = commerce.MustParseMoney("1", currency.USD)
		}},
		{"skus[1].stock", func(p *commerce.ProductParams) { p.SKUs[1].Stock = -1 }},
		{"skus[1].attributes", func(p *commerce.ProductParams) { p.SKUs[1].Attributes = p.SKUs[0].Attributes }},
		{"pictures[0]", func(p *commerce.ProductParams) { p.Pictures = []string{"javascript:alert(1)"} }},
		{"state", func(p *commerce.ProductParams) { p.State = "sold" }},
		{"skus", func(p *commerce.ProductParams) { p.SKUs = nil }},
	} {
		bad := in
		bad.SKUs = append([]commerce.SKUParams(nil), in.SKUs...)
		tc.edit(&bad)
		_, err := e.svc.CreateProduct(e.ctx, bad)
		require.ErrorIs(t, err, commerce.ErrInvalid, tc.field)
		assert.Contains(t, err.Error(), tc.field)
	}
	all, err := e.svc.ListProducts(e.ctx, shop.Merchant.ID, commerce.ProductQuery{})
	require.NoError(t, err)
	assert.Len(t, all, 1, "rejected products are not stored")
}

func testUpdateKeepsStock(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{})
	shop := e.shop(ProductSpec{Title: "茶", Prices: []string{"10"}, Stock: 10})
	sku := shop.SKU(0, 0)
	pid := shop.Products[0].ID
	e.mustBuy(shop, "buyer", "k1", line(sku, 3))
	// The edit sees a stock figure and writes it back; the store must not
	// store it, or an edit would undo sales made since it was read.
	_, err := e.svc.UpdateProduct(e.ctx, shop.Merchant.ID, pid, func(p *commerce.Product) error {
		p.Title = "龙井茶"
		p.SKUs[0].Stock = 100
		p.SKUs = append(p.SKUs, commerce.SKU{Attributes: []commerce.Attribute{{Name: "variant", Value: "B"}}, Price: CNY("20"), Stock: 7})
		return nil
	})
	require.NoError(t, err)
	got, err := e.svc.GetProduct(e.ctx, shop.Merchant.ID, pid)
	require.NoError(t, err)
	assert.Equal(t, "龙井茶", got.Title)
	require.Len(t, got.SKUs, 2)
	assert.Equal(t, int64(7), got.SKUs[0].Stock, "edit did not overwrite stock")
	assert.Equal(t, int64(7), got.SKUs[1].Stock, "a new SKU starts with its stock")
	assert.False(t, got.SKUs[1].ID.IsZero())

	// Removing a SKU deletes it; it can no longer be bought.
	_, err = e.svc.UpdateProduct(e.ctx, shop.Merchant.ID, pid, func(p *commerce.Product) error {
		p.SKUs = p.SKUs[1:]
		return nil
	})
	require.NoError(t, err)
	_, err = e.buy(shop, "buyer", "k2", line(sku, 1))
	require.ErrorIs(t, err, commerce.ErrNotFound)
	assert.Contains(t, err.Error(), "lines[0].sku")

	// A failed edit changes nothing.
	_, err = e.svc.UpdateProduct(e.ctx, shop.Merchant.ID, pid, func(p *commerce.Product) error {
		p.Title = ""
		return nil
	})
	require.ErrorIs(t, err, commerce.ErrInvalid)
	got, _ = e.svc.GetProduct(e.ctx, shop.Merchant.ID, pid)
	assert.Equal(t, "龙井茶", got.Title)
}

func testMerchantIsolation(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{})
	a := e.shop(ProductSpec{Title: "A", Prices: []string{"1"}, Stock: 5})
	b := NewShop(t, e.svc, "other", freeShipping, ProductSpec{Title: "B", Prices: []string{"2"}, Stock: 5})
	mA := a.Merchant.ID

	_, err := e.svc.GetProduct(e.ctx, mA, b.Products[0].ID)
	require.ErrorIs(t, err, commerce.ErrNotFound)
	ps, err := e.svc.ListProducts(e.ctx, mA, commerce.ProductQuery{})
	require.NoError(t, err)
	require.Len(t, ps, 1)
	assert.Equal(t, a.Products[0].ID, ps[0].ID)
	_, err = e.svc.AdjustStock(e.ctx, mA, b.SKU(0, 0), 1)
	require.ErrorIs(t, err, commerce.ErrNotFound)
	_, err = e.svc.AddToCart(e.ctx, commerce.CartParams{MerchantID: mA, CustomerID: "c", SKU: b.SKU(0, 0), Quantity: 1})
	require.ErrorIs(t, err, commerce.ErrNotFound)
	_, err = e.buy(a, "c", "k", line(b.SKU(0, 0), 1))
	require.ErrorIs(t, err, commerce.ErrNotFound)
	assert.Equal(t, int64(5), e.stockOf(b, b.SKU(0, 0)))

	o := e.mustBuy(b, "c", "k", line(b.SKU(0, 0), 1))
	_, err = e.svc.GetOrder(e.ctx, mA, o.ID)
	require.ErrorIs(t, err, commerce.ErrNotFound)
	_, err = e.svc.MarkPaid(e.ctx, commerce.MarkPaidParams{MerchantID: mA, OrderID: o.ID, PaymentRef: "x", Amount: o.Total})
	require.ErrorIs(t, err, commerce.ErrNotFound)
	_, err = e.svc.UpdateProduct(e.ctx, mA, b.Products[0].ID, func(*commerce.Product) error { return nil })
	require.ErrorIs(t, err, commerce.ErrNotFound)
	os, err := e.svc.ListOrders(e.ctx, mA, commerce.OrderQuery{})
	require.NoError(t, err)
	assert.Empty(t, os)
	// The same idempotency key at another merchant is another order.
	o2 := e.mustBuy(a, "c", "k", line(a.SKU(0, 0), 1))
	assert.NotEqual(t, o.ID, o2.ID)
}

func testProductPaging(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{})
	var specs []ProductSpec
	for i := 0; i < 7; i++ {
		cat := "tea"
		if i%2 == 1 {
			cat = "cups"
		}
		specs = append(specs, ProductSpec{Title: fmt.Sprintf("p%d", i), Category: cat, Prices: []string{"1"}, Stock: 1})
	}
	shop := e.shop(specs...)
	_, err := e.svc.SetListingState(e.ctx, shop.Merchant.ID, shop.Products[0].ID, commerce.Delisted)
	require.NoError(t, err)
	var seen []string
	var after commerce.ProductID
	for {
		page, err := e.svc.ListProducts(e.ctx, shop.Merchant.ID, commerce.ProductQuery{After: after, Limit: 3})
		require.NoError(t, err)
		for _, p := range page {
			seen = append(seen, p.Title)
		}
		if len(page) < 3 {
			break
		}
		after = page[len(page)-1].ID
	}
	assert.Equal(t, []string{"p0", "p1", "p2", "p3", "p4", "p5", "p6"}, seen)
	tea, err := e.svc.ListProducts(e.ctx, shop.Merchant.ID, commerce.ProductQuery{Category: "tea", State: commerce.Listed})
	require.NoError(t, err)
	assert.Len(t, tea, 3, "p2, p4, p6: p0 is delisted")
}

func testAdjustStock(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{})
	shop := e.shop(ProductSpec{Title: "A", Prices: []string{"1"}, Stock: 5})
	sku := shop.SKU(0, 0)
	n, err := e.svc.AdjustStock(e.ctx, shop.Merchant.ID, sku, 10)
	require.NoError(t, err)
	assert.Equal(t, int64(15), n)
	_, err = e.svc.AdjustStock(e.ctx, shop.Merchant.ID, sku, -16)
	require.ErrorIs(t, err, commerce.ErrFailedPrecondition)
	n, err = e.svc.AdjustStock(e.ctx, shop.Merchant.ID, sku, -15)
	require.NoError(t, err)
	assert.Equal(t, int64(0), n)
	_, err = e.buy(shop, "c", "k", line(sku, 1))
	var oos *commerce.OutOfStockError
	require.ErrorAs(t, err, &oos)
	assert.Equal(t, commerce.OutOfStockError{SKU: sku, Wanted: 1, OnHand: 0}, *oos)
	require.ErrorIs(t, err, commerce.ErrOutOfStock)
	require.ErrorIs(t, err, commerce.ErrFailedPrecondition)
}

// testNoOversell: many buyers race for the last units of one SKU.
func testNoOversell(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{})
	const stock = 5
	shop := e.shop(ProductSpec{Title: "限量款", Prices: []string{"99"}, Stock: stock})
	sku := shop.SKU(0, 0)
	n := h.Concurrency * 2
	var ok, out atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.buy(shop, fmt.Sprintf("buyer-%d", i), fmt.Sprintf("key-%d", i), line(sku, 1))
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, commerce.ErrOutOfStock):
				out.Add(1)
			default:
				t.Errorf("buyer %d: unexpected error: %v", i, err)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(stock), ok.Load(), "exactly the stock is sold")
	assert.Equal(t, int64(n-stock), out.Load())
	assert.Equal(t, int64(0), e.stockOf(shop, sku))
	assert.Equal(t, stock, e.countOrders(shop))
}

// testNoOversellMultiLine: buyers take two SKUs each, in different line
// orders, so stores that lock rows must not deadlock or oversell either one.
func testNoOversellMultiLine(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{})
	shop := e.shop(ProductSpec{Title: "套装", Prices: []string{"10", "20"}, Stock: 6})
	a, b := shop.SKU(0, 0), shop.SKU(0, 1)
	n := h.Concurrency
	var ok atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lines := []commerce.LineItem{line(a, 2), line(b, 1)}
			if i%2 == 1 {
				lines = []commerce.LineItem{line(b, 1), line(a, 2)}
			}
			_, err := e.buy(shop, fmt.Sprintf("buyer-%d", i), fmt.Sprintf("key-%d", i), lines...)
			if err == nil {
				ok.Add(1)
			} else if !errors.Is(err, commerce.ErrOutOfStock) {
				t.Errorf("buyer %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(3), ok.Load(), "6 units of A at 2 per order")
	assert.Equal(t, int64(0), e.stockOf(shop, a))
	assert.Equal(t, int64(3), e.stockOf(shop, b), "B kept what the failed orders did not take")
}

func testCartEdit(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{})
	shop := e.shop(ProductSpec{Title: "A", Prices: []string{"1", "2"}, Stock: 5}, ProductSpec{Title: "B", Prices: []string{"3"}, Stock: 5})
	m := shop.Merchant.ID
	add := func(sku commerce.SKUID, q int64) (*commerce.Cart, error) {
		return e.svc.AddToCart(e.ctx, commerce.CartParams{MerchantID: m, CustomerID: "c", SKU: sku, Quantity: q})
	}
	_, err := add(shop.SKU(0, 0), 2)
	require.NoError(t, err)
	c, err := add(shop.SKU(0, 0), 3)
	require.NoError(t, err)
	require.Len(t, c.Lines, 1)
	assert.Equal(t, int64(5), c.Lines[0].Quantity, "adding the same SKU adds to its line")
	_, err = add(shop.SKU(1, 0), 1)
	require.NoError(t, err)
	c, err = e.svc.SetCartQuantity(e.ctx, commerce.CartParams{MerchantID: m, CustomerID: "c", SKU: shop.SKU(0, 0), Quantity: 1})
	require.NoError(t, err)
	assert.Equal(t, []commerce.CartLine{{SKU: shop.SKU(0, 0), Quantity: 1}, {SKU: shop.SKU(1, 0), Quantity: 1}}, c.Lines)

	for _, tc := range []struct {
		q     int64
		field string
	}{{0, "quantity"}, {-1, "quantity"}, {commerce.MaxLineQuantity + 1, "quantity"}} {
		_, err := add(shop.SKU(0, 1), tc.q)
		require.ErrorIs(t, err, commerce.ErrInvalid)
		assert.Contains(t, err.Error(), tc.field)
	}
	_, err = add(shop.SKU(0, 0), commerce.MaxLineQuantity)
	require.ErrorIs(t, err, commerce.ErrInvalid, "the line would pass the cap")
	_, err = e.svc.SetListingState(e.ctx, m, shop.Products[0].ID, commerce.Delisted)
	require.NoError(t, err)
	_, err = add(shop.SKU(0, 1), 1)
	require.ErrorIs(t, err, commerce.ErrNotListed)
	_, err = e.svc.AddToCart(e.ctx, commerce.CartParams{MerchantID: m, CustomerID: "", SKU: shop.SKU(1, 0), Quantity: 1})
	require.ErrorIs(t, err, commerce.ErrInvalid)
	assert.Contains(t, err.Error(), "customer_id")

	c, err = e.svc.GetCart(e.ctx, m, "c")
	require.NoError(t, err)
	assert.Len(t, c.Lines, 2, "rejected edits changed nothing")
	// A delisted product in the cart fails the quote, naming the line.
	_, err = e.svc.Quote(e.ctx, commerce.QuoteParams{FromCart: true, MerchantID: m, CustomerID: "c"})
	require.ErrorIs(t, err, commerce.ErrNotListed)
	assert.Contains(t, err.Error(), "lines[0]")

	c, err = e.svc.RemoveFromCart(e.ctx, m, "c", shop.SKU(0, 0))
	require.NoError(t, err)
	assert.Len(t, c.Lines, 1)
	require.NoError(t, e.svc.ClearCart(e.ctx, m, "c"))
	c, err = e.svc.GetCart(e.ctx, m, "c")
	require.NoError(t, err)
	assert.Empty(t, c.Lines)
	other, err := e.svc.GetCart(e.ctx, m, "someone-else")
	require.NoError(t, err)
	assert.Empty(t, other.Lines)
}

// testCartConcurrentAdds: concurrent adds to one cart are serialized, none lost.
func testCartConcurrentAdds(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{})
	shop := e.shop(ProductSpec{Title: "A", Prices: []string{"1"}, Stock: 1000})
	var wg sync.WaitGroup
	for i := 0; i < h.Concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.svc.AddToCart(e.ctx, commerce.CartParams{MerchantID: shop.Merchant.ID, CustomerID: "c", SKU: shop.SKU(0, 0), Quantity: 1})
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	c, err := e.svc.GetCart(e.ctx, shop.Merchant.ID, "c")
	require.NoError(t, err)
	require.Len(t, c.Lines, 1)
	assert.Equal(t, int64(h.Concurrency), c.Lines[0].Quantity)
}
