package commerce_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/storage/memory"
)

// env is a service on the memory store with a hand-moved clock, sequential
// IDs and one shop.
type env struct {
	t     testing.TB
	ctx   context.Context
	svc   *commerce.Service
	clock *commercetest.Clock
	shop  *commercetest.Shop
	keys  int // idempotency keys handed out by checkout
}

// newEnv opens a shop with the given shipping rule and products on a fresh
// memory store. cfg may set anything but Store, Clock and IDs.
func newEnv(t testing.TB, cfg commerce.Config, shipping commerce.ShippingRule, specs ...commercetest.ProductSpec) *env {
	t.Helper()
	clock := commercetest.NewClock(commercetest.Epoch)
	cfg.Store, cfg.Clock, cfg.IDs = memory.New(), clock, &commercetest.SeqIDs{}
	svc, err := commerce.New(cfg)
	require.NoError(t, err)
	e := &env{t: t, ctx: context.Background(), svc: svc, clock: clock}
	e.shop = commercetest.NewShop(t, svc, "小店", shipping, specs...)
	return e
}

func (e *env) merchant() commerce.MerchantID { return e.shop.Merchant.ID }

// sku is the j-th SKU of the i-th product.
func (e *env) sku(i, j int) commerce.SKUID { return e.shop.SKU(i, j) }

// stock returns the current stock of every SKU of the shop, in order.
func (e *env) stock() []int64 {
	e.t.Helper()
	var out []int64
	for _, p := range e.shop.Products {
		got, err := e.svc.GetProduct(e.ctx, e.merchant(), p.ID)
		require.NoError(e.t, err)
		for _, s := range got.SKUs {
			out = append(out, s.Stock)
		}
	}
	return out
}

// events returns the number of events in the outbox.
func (e *env) events() int {
	e.t.Helper()
	n := 0
	var after uint64
	for {
		evs, err := e.svc.ReadEvents(e.ctx, after, 1000)
		require.NoError(e.t, err)
		n += len(evs)
		if len(evs) < 1000 {
			return n
		}
		after = evs[len(evs)-1].Seq
	}
}

// eventTypes returns the types of the outbox events about order id, in order.
func (e *env) eventTypes(id commerce.OrderID) []string {
	e.t.Helper()
	evs, err := e.svc.ReadEvents(e.ctx, 0, 1000)
	require.NoError(e.t, err)
	var out []string
	for _, ev := range evs {
		if ev.AggregateID == id.String() {
			out = append(out, ev.Type)
		}
	}
	return out
}

// checkout buys lines for customer "c1" with a fresh idempotency key.
func (e *env) checkout(lines ...commerce.LineItem) *commerce.Order {
	e.t.Helper()
	e.keys++
	o, err := e.svc.Checkout(e.ctx, commerce.CheckoutParams{MerchantID: e.merchant(), CustomerID: "c1",
		Lines: lines, IdempotencyKey: fmt.Sprintf("co-%d", e.keys), ShippingAddress: commercetest.Address()})
	require.NoError(e.t, err)
	return o
}

func (e *env) pay(o *commerce.Order) *commerce.Order {
	e.t.Helper()
	paid, err := e.svc.MarkPaid(e.ctx, commerce.MarkPaidParams{MerchantID: e.merchant(), OrderID: o.ID,
		PaymentRef: "pay-" + o.ID.String(), Amount: o.Total})
	require.NoError(e.t, err)
	return paid
}

func (e *env) ship(o *commerce.Order) *commerce.Order {
	e.t.Helper()
	shipped, err := e.svc.Ship(e.ctx, commerce.ShipParams{MerchantID: e.merchant(), OrderID: o.ID,
		Shipment: commerce.Shipment{Carrier: "SF", TrackingNo: "SF123"}})
	require.NoError(e.t, err)
	return shipped
}

func (e *env) refund(o *commerce.Order, key string, items ...commerce.RefundItem) *commerce.Refund {
	e.t.Helper()
	r, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: e.merchant(), OrderID: o.ID,
		Items: items, All: len(items) == 0, IdempotencyKey: key})
	require.NoError(e.t, err)
	return r
}

func (e *env) order(id commerce.OrderID) *commerce.Order {
	e.t.Helper()
	o, err := e.svc.GetOrder(e.ctx, e.merchant(), id)
	require.NoError(e.t, err)
	return o
}

// line is shorthand for a LineItem.
func line(sku commerce.SKUID, qty int64) commerce.LineItem {
	return commerce.LineItem{SKU: sku, Quantity: qty}
}

// minor returns m in minor units, failing the test if it is not whole.
func minor(t testing.TB, m commerce.Money) int64 {
	t.Helper()
	v, err := m.Minor()
	require.NoError(t, err, "%s", m)
	return v
}

// asError returns err as a *commerce.Error, failing the test if it is not one.
func asError(t testing.TB, err error) *commerce.Error {
	t.Helper()
	require.Error(t, err)
	var e *commerce.Error
	require.True(t, errors.As(err, &e), "%T is not a *commerce.Error: %v", err, err)
	return e
}
