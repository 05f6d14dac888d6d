package sqlstore_test

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/storage/sqlstore"
)

// lostGateway never reaches the channel: every refund stays pending.
type lostGateway struct{}

func (lostGateway) RequestRefund(context.Context, commerce.RefundRequest) error {
	return errors.New("hand-off lost")
}

// order_refunds follows an order's pending refunds, and migration 0011
// fills it for orders stored before it: delete the rows, run the
// migration's backfill again, and the order with a pending refund is found
// again; once the refund is answered it is gone.
func TestOrderRefundsBackfill(t *testing.T) {
	eachDialect(t, func(t *testing.T, d sqlstore.Dialect, open func(t *testing.T) *sqlstore.Store) {
		ctx := context.Background()
		store := open(t)
		svc, err := commerce.New(commerce.Config{Store: store, Refunds: lostGateway{}})
		require.NoError(t, err)
		shop := commercetest.NewShop(t, svc, "店", commerce.ShippingRule{},
			commercetest.ProductSpec{Title: "茶", Prices: []string{"10.00"}, Stock: 5})
		o, err := svc.Checkout(ctx, commerce.CheckoutParams{MerchantID: shop.Merchant.ID, CustomerID: "c", IdempotencyKey: "k",
			ShippingAddress: commercetest.Address(), Lines: []commerce.LineItem{{SKU: shop.SKU(0, 0), Quantity: 1}}})
		require.NoError(t, err)
		plain, err := svc.Checkout(ctx, commerce.CheckoutParams{MerchantID: shop.Merchant.ID, CustomerID: "c", IdempotencyKey: "k2",
			ShippingAddress: commercetest.Address(), Lines: []commerce.LineItem{{SKU: shop.SKU(0, 0), Quantity: 1}}, Note: `"Status":"pending"`,
			Metadata: map[string]string{"Status": "pending"}})
		require.NoError(t, err)
		for _, x := range []*commerce.Order{o, plain} {
			_, err = svc.MarkPaid(ctx, commerce.MarkPaidParams{MerchantID: x.MerchantID, OrderID: x.ID, PaymentRef: "p-" + x.ID.String(), Amount: x.Total})
			require.NoError(t, err)
		}
		r, err := svc.Refund(ctx, commerce.RefundParams{All: true, MerchantID: o.MerchantID, OrderID: o.ID, IdempotencyKey: "r"})
		require.Error(t, err, "the gateway lost it")
		later := time.Now().Add(time.Hour)
		refs, err := store.RefundingOrders(ctx, later, commerce.OrderID{}, 10)
		require.NoError(t, err)
		require.Equal(t, []commerce.OrderRef{{MerchantID: o.MerchantID, ID: o.ID}}, refs)
		refs, err = store.RefundingOrders(ctx, r.Created.Add(-time.Second), commerce.OrderID{}, 10)
		require.NoError(t, err)
		assert.Empty(t, refs, "not yet due")
		refs, err = store.RefundingOrders(ctx, later, o.ID, 10)
		require.NoError(t, err)
		assert.Empty(t, refs, "paged past it")

		require.NoError(t, sqlstore.Exec(ctx, store, "DELETE FROM {p}order_refunds"))
		files, err := sqlstore.Migrations(d, "zzp_")
		require.NoError(t, err)
		b, err := fs.ReadFile(files, "0011_order_refunds.sql")
		require.NoError(t, err)
		sql := strings.ReplaceAll(string(b), "zzp_", "{p}")
		backfill := strings.TrimSuffix(strings.TrimSpace(sql[strings.Index(sql, "INSERT"):]), ";")
		require.NoError(t, sqlstore.Exec(ctx, store, backfill))
		require.NoError(t, sqlstore.Exec(ctx, store, backfill), "the backfill is idempotent")
		refs, err = store.RefundingOrders(ctx, later, commerce.OrderID{}, 10)
		require.NoError(t, err)
		assert.Equal(t, []commerce.OrderRef{{MerchantID: o.MerchantID, ID: o.ID}}, refs,
			"found again; not the order whose note and metadata look like a pending refund")

		_, err = svc.ConfirmRefund(ctx, commerce.ConfirmRefundParams{MerchantID: o.MerchantID, OrderID: o.ID, RefundID: r.ID, Succeeded: true})
		require.NoError(t, err)
		refs, err = store.RefundingOrders(ctx, later, commerce.OrderID{}, 10)
		require.NoError(t, err)
		assert.Empty(t, refs, "answered: no longer pending")
	})
}
