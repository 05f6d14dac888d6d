package commerce_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
)

// A zero value must not move money: "the whole cart" and "the whole order"
// are asked for, and a forgotten field is refused, naming it, with nothing
// bought or refunded.
func TestEverythingIsAskedFor(t *testing.T) {
	e := newOrderEnv(t, commerce.Config{})
	_, err := e.svc.AddToCart(e.ctx, commerce.CartParams{MerchantID: e.merchant(), CustomerID: "c1", SKU: e.sku(0, 0), Quantity: 2})
	require.NoError(t, err)
	before := e.stock()
	line := []commerce.LineItem{{SKU: e.sku(0, 0), Quantity: 1}}
	co := func(p commerce.CheckoutParams) error {
		p.MerchantID, p.CustomerID, p.IdempotencyKey, p.ShippingAddress = e.merchant(), "c1", "k", commercetest.Address()
		_, err := e.svc.Checkout(e.ctx, p)
		return err
	}
	for name, tt := range map[string]struct {
		err   error
		field string
	}{
		"checkout without lines":   {co(commerce.CheckoutParams{}), "lines"},
		"checkout lines and cart":  {co(commerce.CheckoutParams{Lines: line, FromCart: true}), "from_cart"},
		"checkout twice a plugin":  {co(commerce.CheckoutParams{Lines: line, Extensions: commerce.With(ext("p", 1), ext("p", 2))}), "extensions[p]"},
		"checkout empty key":       {co(commerce.CheckoutParams{Lines: line, Extensions: commerce.With(ext("", 1))}), "extensions"},
		"quote without lines":      {quoteErr(e, commerce.QuoteParams{}), "lines"},
		"quote lines and the cart": {quoteErr(e, commerce.QuoteParams{Lines: line, FromCart: true}), "from_cart"},
	} {
		ke := asError(t, tt.err)
		assert.Equal(t, commerce.KindInvalid, ke.Kind, name)
		assert.Equal(t, tt.field, ke.Field, "%s: %v", name, tt.err)
	}
	assert.Equal(t, before, e.stock(), "nothing bought")
	cart, err := e.svc.GetCart(e.ctx, e.merchant(), "c1")
	require.NoError(t, err)
	assert.Len(t, cart.Lines, 1, "the cart is untouched")

	q, err := e.svc.Quote(e.ctx, commerce.QuoteParams{MerchantID: e.merchant(), CustomerID: "c1", FromCart: true})
	require.NoError(t, err)
	assert.Equal(t, int64(2), q.Lines[0].Quantity, "FromCart prices the cart")

	o := e.pay(e.checkout(commerce.LineItem{SKU: e.sku(0, 0), Quantity: 2}))
	refund := func(p commerce.RefundParams) error {
		p.MerchantID, p.OrderID, p.IdempotencyKey = e.merchant(), o.ID, "r"
		_, err := e.svc.Refund(e.ctx, p)
		return err
	}
	assert.Equal(t, "items", asError(t, refund(commerce.RefundParams{})).Field)
	assert.Equal(t, "all", asError(t, refund(commerce.RefundParams{All: true, Items: []commerce.RefundItem{{Line: 0, Quantity: 1}}})).Field)
	assert.Empty(t, e.order(o.ID).Refunds, "nothing refunded")
	require.NoError(t, refund(commerce.RefundParams{All: true}))
	got := e.order(o.ID)
	require.Len(t, got.Refunds, 1)
	assert.True(t, got.Refunds[0].Amount.Equal(o.Total), "All refunds the whole order: %s of %s", got.Refunds[0].Amount, o.Total)
}

func ext(key string, v any) commerce.Extension { return commerce.Extension{Key: key, Value: v} }

func quoteErr(e *env, p commerce.QuoteParams) error {
	p.MerchantID, p.CustomerID = e.merchant(), "c1"
	_, err := e.svc.Quote(e.ctx, p)
	return err
}

// With keeps every plugin's input, and a map built by hand reads the same.
func TestWithCombines(t *testing.T) {
	x := commerce.With(ext("coupons", "c1"), ext("points", int64(500)), ext("promoter.share", "tok"))
	assert.Equal(t, commerce.Extensions{"coupons": "c1", "points": int64(500), "promoter.share": "tok"}, x)
	c := x.Clone()
	c["mine"] = true
	assert.NotContains(t, x, "mine", "Clone copies")
	assert.Empty(t, commerce.With())
}
