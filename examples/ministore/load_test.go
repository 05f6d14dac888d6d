package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
)

// The load mode, bounded small: four customers, 400 requests over real
// loopback TCP, then the invariants. On PostgreSQL too when
// MINISHOP_POSTGRES_DSN names a server (its tables hold every run's shop;
// the invariants are scoped to this run's merchant).
func TestLoadShort(t *testing.T) {
	cfg := loadConfig{Duration: 15 * time.Second, Requests: 400, Clients: 4}
	short := func(t *testing.T, o options) {
		res, err := runLoad(t.Context(), o, cfg, slog.New(slog.DiscardHandler))
		require.NoError(t, err)
		var out strings.Builder
		res.Write(&out)
		t.Log("\n" + out.String())
		assert.True(t, res.Passed(), "the invariants hold")
		assert.Zero(t, res.UnexpectedErrors(), "no unexpected errors: %v", res.Errors)
		assert.LessOrEqual(t, res.Requests, cfg.Requests, "the request bound holds")
		assert.Positive(t, res.Endpoints[epDevPay].Count, "some orders were paid")
	}
	t.Run("sqlite", func(t *testing.T) {
		short(t, options{DB: filepath.Join(t.TempDir(), "shop.db")})
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := os.Getenv("MINISHOP_POSTGRES_DSN")
		if dsn == "" {
			t.Skip("MINISHOP_POSTGRES_DSN is not set")
		}
		short(t, options{DSN: dsn})
	})
}

// The invariants catch what they are for: stock that went missing, and
// a key that made two orders or an order nobody was told of.
func TestLoadInvariantsCatch(t *testing.T) {
	sku, _ := commerce.ParseID[commerce.SKUID](uuid.NewString())
	products := []*commerce.Product{{SKUs: []commerce.SKU{{ID: sku, Stock: 7}}}}
	order := func(key string, status commerce.OrderStatus, qty int64) *commerce.Order {
		id, _ := commerce.ParseID[commerce.OrderID](uuid.NewString())
		return &commerce.Order{ID: id, IdempotencyKey: key, Status: status,
			Lines: []commerce.OrderLine{{SKU: sku, Quantity: qty}}}
	}
	a, b, cancelled := order("a", commerce.StatusPendingPayment, 1), order("b", commerce.StatusPaid, 2), order("c", commerce.StatusCancelled, 5)
	orders := []*commerce.Order{a, b, cancelled}
	assert.True(t, stockConserved(map[commerce.SKUID]int64{sku: 10}, products, orders).OK, "10 = 7 on hand + 1 held + 2 sold; the cancelled order's units went back")
	assert.False(t, stockConserved(map[commerce.SKUID]int64{sku: 11}, products, orders).OK, "a unit went missing")

	run := &loadRun{keys: map[string]string{"a": a.ID.String(), "b": b.ID.String(), "c": cancelled.ID.String()}}
	assert.True(t, oneOrderPerKey(orders, run).OK)
	assert.False(t, oneOrderPerKey(append(orders, order("b", commerce.StatusPendingPayment, 1)), run).OK, "key b made two orders")
	assert.False(t, oneOrderPerKey(append(orders, order("d", commerce.StatusPendingPayment, 1)), run).OK, "an order whose checkout failed")
}
