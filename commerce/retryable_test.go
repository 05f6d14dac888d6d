package commerce_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/storage"
)

// Retryable over errors the service really returns: only the unavailable
// ones (a store that cannot work now) say that the same call may succeed;
// refusals of the input or the state say it will not. Each error also
// keeps its one kind, so Retryable and errors.Is(err, ErrUnavailable)
// agree.
func TestRetryable(t *testing.T) {
	e := newEnv(t, commerce.Config{}, commerce.ShippingRule{},
		commercetest.ProductSpec{Title: "Tea", Prices: []string{"10.00"}, Stock: 3},
		commercetest.ProductSpec{Title: "Cup", Prices: []string{"25.00"}, Stock: 9, Limit: 1})
	buy := func(ctx context.Context, key string, lines ...commerce.LineItem) (*commerce.Order, error) {
		return e.svc.Checkout(ctx, commerce.CheckoutParams{MerchantID: e.merchant(), CustomerID: "c1",
			IdempotencyKey: key, ShippingAddress: commercetest.Address(), Lines: lines})
	}
	first, err := buy(e.ctx, "k1", line(e.sku(0, 0), 1))
	require.NoError(t, err)
	cancelled, cancel := context.WithCancel(e.ctx)
	cancel()

	type result struct {
		name string
		err  error
		want bool
	}
	var cases []result
	add := func(name string, want bool, err error) { cases = append(cases, result{name, err, want}) }

	_, err = buy(cancelled, "k2", line(e.sku(0, 0), 1))
	add("checkout on a cancelled context", true, err)
	_, err = e.svc.GetOrder(cancelled, e.merchant(), first.ID)
	add("read on a cancelled context", true, err)
	_, err = e.svc.MarkPaid(cancelled, commerce.MarkPaidParams{MerchantID: e.merchant(), OrderID: first.ID, PaymentRef: "p1", Amount: first.Total})
	add("payment on a cancelled context", true, err)

	_, err = buy(e.ctx, "", line(e.sku(0, 0), 1))
	add("invalid: no idempotency key", false, err)
	_, err = e.svc.GetOrder(e.ctx, e.merchant(), commerce.OrderID{})
	add("order not found", false, err)
	_, err = buy(e.ctx, "k3", line(e.sku(0, 0), 5))
	add("out of stock", false, err)
	_, err = buy(e.ctx, "k4", line(e.sku(1, 0), 2))
	add("purchase limit", false, err)
	_, err = buy(e.ctx, "k1", line(e.sku(0, 0), 2))
	add("idempotency key reused with other lines", false, err)
	_, err = e.svc.Ship(e.ctx, commerce.ShipParams{MerchantID: e.merchant(), OrderID: first.ID,
		Shipment: commerce.Shipment{Carrier: "SF", TrackingNo: "SF1"}})
	add("illegal transition: ship unpaid", false, err)
	_, err = e.svc.Checkout(e.ctx, commerce.CheckoutParams{MerchantID: e.merchant(), CustomerID: "c1", IdempotencyKey: "k5",
		ShippingAddress: commercetest.Address(), Lines: []commerce.LineItem{line(e.sku(0, 0), 1)}, ExpectedTotal: commercetest.CNY("1.00")})
	add("price changed", false, err)

	for _, c := range cases {
		require.Error(t, c.err, c.name)
		assert.Equal(t, c.want, commerce.Retryable(c.err), "%s: %v", c.name, c.err)
		assert.Equal(t, c.want, errors.Is(c.err, commerce.ErrUnavailable), "%s: Retryable and the kind agree: %v", c.name, c.err)
		// Wrapped once more by a caller, the answer holds.
		assert.Equal(t, c.want, commerce.Retryable(fmt.Errorf("handler: %w", c.err)), c.name)
	}

	// Built by hand: what stores and other packages hand over.
	assert.False(t, commerce.Retryable(nil))
	assert.True(t, commerce.Retryable(fmt.Errorf("store: %w", storage.ErrUnavailable)), "a store's sentinel")
	assert.False(t, commerce.Retryable(fmt.Errorf("store: %w", storage.ErrConflict)), "a key taken stays taken")
	assert.False(t, commerce.Retryable(commerce.Wrap("op", errors.New("bug"))), "internal")
	// The outermost kind decides, as it does for KindOf.
	assert.False(t, commerce.Retryable(&commerce.Error{Op: "op", Kind: commerce.KindInternal, Err: errors.New("x")}))
}
