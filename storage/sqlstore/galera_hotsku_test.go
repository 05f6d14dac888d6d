package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/storage"
	"github.com/minishop/minishop/storage/sqlstore"
)

// A hot SKU on Galera: 60 buyers spread over the three nodes each check out
// one unit of a SKU with 50 in stock. Certification makes the buyers on
// other nodes abort (1213) every time one commits, far more often than row
// locks on one server would; the retry policy must outlast that, so the
// whole stock sells and the rest are told it is out of stock, never that
// the store is unavailable. Run with one store per node (application
// servers each pinned to a node) and with one store whose connections
// rotate over the nodes (a load balancer in front).
func TestGaleraHotSKU(t *testing.T) {
	t.Run("store per node", func(t *testing.T) {
		_, nodes := galeraDBs(t)
		hotSKU(t, nodes)
	})
	t.Run("spread store", func(t *testing.T) {
		spread, _ := galeraDBs(t)
		hotSKU(t, []*sql.DB{spread})
	})
}

func hotSKU(t *testing.T, nodes []*sql.DB) {
	ctx := context.Background()
	const stock, buyers = 50, 60
	var svcs []*commerce.Service
	// Attempts per buyer that got as far as the hook (after the stock is
	// reserved), to report how hard the retries worked.
	var mu sync.Mutex
	attempts := map[string]int{}
	count := commerce.CheckoutHookFunc(func(_ context.Context, c *commerce.CheckoutContext) error {
		mu.Lock()
		attempts[c.Params.IdempotencyKey]++
		mu.Unlock()
		return nil
	})
	for _, db := range nodes {
		s, err := sqlstore.OpenDB(ctx, db, sqlstore.MySQL, sqlstore.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		svc, err := commerce.New(commerce.Config{Store: s, CheckoutHooks: []commerce.CheckoutHook{count}})
		require.NoError(t, err)
		svcs = append(svcs, svc)
	}
	shop := commercetest.NewShop(t, svcs[0], "热卖", commerce.ShippingRule{},
		commercetest.ProductSpec{Title: "限量款", Prices: []string{"99"}, Stock: stock})
	sku := shop.SKU(0, 0)

	var sold, out, unavailable atomic.Int64
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range buyers {
		svc := svcs[i%len(svcs)]
		wg.Go(func() {
			<-start
			_, err := svc.Checkout(ctx, commerce.CheckoutParams{MerchantID: shop.Merchant.ID,
				CustomerID: commerce.CustomerID(fmt.Sprintf("buyer-%d", i)), IdempotencyKey: fmt.Sprintf("key-%d", i),
				ShippingAddress: commercetest.Address(), Lines: []commerce.LineItem{{SKU: sku, Quantity: 1}}})
			switch {
			case err == nil:
				sold.Add(1)
			case errors.Is(err, commerce.ErrOutOfStock):
				out.Add(1)
			case errors.Is(err, storage.ErrUnavailable):
				unavailable.Add(1)
			default:
				t.Errorf("buyer %d: unexpected error: %v", i, err)
			}
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(began)
	total, most := 0, 0
	for _, n := range attempts {
		total += n
		most = max(most, n)
	}

	p, err := svcs[len(svcs)-1].GetProduct(ctx, shop.Merchant.ID, shop.Products[0].ID)
	require.NoError(t, err)
	left := p.SKUs[0].Stock
	t.Logf("hot SKU, %d stores: %d buyers, stock %d: sold %d, out of stock %d, unavailable %d, left %d, in %v; %d attempts reached the hook, at most %d for one buyer",
		len(svcs), buyers, stock, sold.Load(), out.Load(), unavailable.Load(), left, elapsed.Round(time.Millisecond), total, most)
	assert.EqualValues(t, stock, sold.Load(), "the whole stock sells")
	assert.EqualValues(t, 0, left, "stock left unsold")
	assert.EqualValues(t, buyers-stock, out.Load(), "the rest are told it is out of stock")
	assert.Zero(t, unavailable.Load(), "buyers given up on while stock remained")
	orders, err := svcs[len(svcs)-1].ListOrders(ctx, shop.Merchant.ID, commerce.OrderQuery{Limit: 1000})
	require.NoError(t, err)
	assert.Len(t, orders, stock, "one order per unit sold")
}
