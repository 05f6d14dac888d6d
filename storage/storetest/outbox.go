package storetest

import (
	"context"
	"encoding/json"
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

func testOutboxCursor(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{})
	shop := e.shop(ProductSpec{Title: "A", Prices: []string{"5"}, Stock: 10})
	o := e.pay(e.mustBuy(shop, "c", "k", line(shop.SKU(0, 0), 1)))
	_, err := e.svc.Cancel(e.ctx, shop.Merchant.ID, e.mustBuy(shop, "c", "k2", line(shop.SKU(0, 0), 1)).ID, "mistake")
	require.NoError(t, err)

	evs, err := e.svc.PollEvents(e.ctx, "sms", 2)
	require.NoError(t, err)
	require.Len(t, evs, 2)
	assert.Equal(t, "order.created", evs[0].Type)
	assert.Equal(t, "order.paid", evs[1].Type)
	assert.Equal(t, o.ID.String(), evs[1].AggregateID)
	assert.Equal(t, shop.Merchant.ID, evs[1].MerchantID)
	assert.Equal(t, Epoch, evs[1].Time)
	var payload commerce.OrderEventPayload
	require.NoError(t, json.Unmarshal(evs[1].Payload, &payload))
	assert.Equal(t, commerce.StatusPaid, payload.Status)
	assert.Equal(t, "CNY 5.00", payload.Total.String())
	assert.Less(t, evs[0].Seq, evs[1].Seq)

	again, err := e.svc.PollEvents(e.ctx, "sms", 2)
	require.NoError(t, err)
	assert.Equal(t, evs, again, "unacknowledged events come back")
	require.NoError(t, e.svc.AckEvents(e.ctx, "sms", evs[1].Seq))
	rest, err := e.svc.PollEvents(e.ctx, "sms", 10)
	require.NoError(t, err)
	require.Len(t, rest, 2)
	assert.Equal(t, []string{"order.created", "order.cancelled"}, []string{rest[0].Type, rest[1].Type})
	require.NoError(t, e.svc.AckEvents(e.ctx, "sms", evs[0].Seq), "a late ack of older events")
	rest2, err := e.svc.PollEvents(e.ctx, "sms", 10)
	require.NoError(t, err)
	assert.Equal(t, rest, rest2, "does not move the cursor back")
	other, err := e.svc.PollEvents(e.ctx, "erp", 10)
	require.NoError(t, err)
	assert.Len(t, other, 4, "consumers are independent")
	_, err = e.svc.PollEvents(e.ctx, "", 10)
	require.ErrorIs(t, err, commerce.ErrInvalid)
}

// testOutboxNeverSkips: while writers commit orders concurrently, a reader
// follows the outbox with a cursor. It must see every event exactly once, in
// increasing Seq order: a transaction that commits late must not land behind
// a cursor that already moved past it.
func testOutboxNeverSkips(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{})
	shop := e.shop(ProductSpec{Title: "A", Prices: []string{"5"}, Stock: 100000})
	const perWriter = 10
	writers := h.Concurrency
	var wg sync.WaitGroup
	var finished atomic.Bool
	done := make(chan struct{})
	seen := map[string]int{}
	var readErr error
	go func() {
		defer close(done)
		var after uint64
		for {
			last := finished.Load() // read before polling: a final empty poll after it means drained
			evs, err := e.svc.ReadEvents(e.ctx, after, 7)
			if err != nil {
				readErr = err
				return
			}
			for _, ev := range evs {
				if ev.Seq <= after {
					readErr = fmt.Errorf("seq %d after cursor %d", ev.Seq, after)
					return
				}
				after = ev.Seq
				seen[ev.ID.String()]++
			}
			if len(evs) == 0 {
				if last {
					return
				}
				time.Sleep(time.Millisecond)
			}
		}
	}()
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				_, err := e.buy(shop, fmt.Sprintf("w%d", w), fmt.Sprintf("k%d", i), line(shop.SKU(0, 0), 1))
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	finished.Store(true)
	<-done
	require.NoError(t, readErr)
	all := e.allEvents()
	require.Len(t, all, writers*perWriter)
	for _, ev := range all {
		assert.Equal(t, 1, seen[ev.ID.String()], "event %d seen once by the follower", ev.Seq)
	}
}

func testTransactions(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{})
	shop := e.shop(ProductSpec{Title: "A", Prices: []string{"5"}, Stock: 10})
	m, sku := shop.Merchant.ID, shop.SKU(0, 0)
	boom := errors.New("boom")
	err := e.store.InTx(e.ctx, func(ctx context.Context) error {
		if _, err := e.svc.AdjustStock(ctx, m, sku, 5); err != nil {
			return err
		}
		// A nested transaction joins the outer one...
		return e.store.InTx(ctx, func(ctx context.Context) error {
			if _, err := e.svc.AdjustStock(ctx, m, sku, 5); err != nil {
				return err
			}
			return boom // ...so its failure rolls back both writes.
		})
	})
	require.ErrorIs(t, err, boom)
	assert.Equal(t, int64(10), e.stockOf(shop, sku))

	// Reads inside a transaction see its own writes.
	err = e.store.InTx(e.ctx, func(ctx context.Context) error {
		n, err := e.svc.AdjustStock(ctx, m, sku, -4)
		require.NoError(t, err)
		p, err := e.store.GetProduct(ctx, m, shop.Products[0].ID)
		require.NoError(t, err)
		assert.Equal(t, n, p.SKUs[0].Stock)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, int64(6), e.stockOf(shop, sku))

	// A panic rolls back and propagates.
	assert.Panics(t, func() {
		_ = e.store.InTx(e.ctx, func(ctx context.Context) error {
			_, _ = e.svc.AdjustStock(ctx, m, sku, 100)
			panic("host bug")
		})
	})
	assert.Equal(t, int64(6), e.stockOf(shop, sku))

	// A host writes its own records and an order in one transaction: the
	// order and its event appear only if the whole commits.
	err = e.store.InTx(e.ctx, func(ctx context.Context) error {
		if _, err := e.svc.Checkout(ctx, commerce.CheckoutParams{MerchantID: m, CustomerID: "c", IdempotencyKey: "k",
			Lines: []commerce.LineItem{line(sku, 1)}, ShippingAddress: Address()}); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	assert.Equal(t, 0, e.countOrders(shop))
	assert.Empty(t, e.allEvents())
	assert.Equal(t, int64(6), e.stockOf(shop, sku))
}

// testDataRoundTrip: what goes in comes out identical: unicode text, the
// largest amounts, every field.
func testDataRoundTrip(t *testing.T, h Harness) {
	e := newEnv(t, h, commerce.Config{})
	m, err := e.svc.CreateMerchant(e.ctx, commerce.MerchantParams{Currency: "JPY", Profile: commerce.ShopProfile{Name: "東京ギフト"}})
	require.NoError(t, err)
	huge := commerce.FromMinor(9_223_372_036_854_775_807, currency.JPY)
	text := strings.Repeat("𝄞é中", commerce.MaxNameLen/3)
	p, err := e.svc.CreateProduct(e.ctx, commerce.ProductParams{MerchantID: m.ID, Title: text,
		Description: strings.Repeat("説明\u200d🎁", commerce.MaxTextLen/4), State: commerce.Listed,
		SKUs: []commerce.SKUParams{{Attributes: []commerce.Attribute{{Name: "サイズ", Value: text}}, Price: huge, Stock: commerce.MaxStock},
			{Price: commerce.FromMinor(1, currency.JPY), Stock: 5}}})
	require.NoError(t, err)
	got, err := e.svc.GetProduct(e.ctx, m.ID, p.ID)
	require.NoError(t, err)
	assert.Equal(t, text, got.Title)
	assert.Equal(t, p.Description, got.Description)
	assert.Equal(t, "JPY 9223372036854775807", got.SKUs[0].Price.String())
	assert.Equal(t, int64(commerce.MaxStock), got.SKUs[0].Stock)
	assert.Equal(t, text, got.SKUs[0].Attributes[0].Value)
	_, err = commerce.ParseMoney("1.5", currency.JPY)
	require.Error(t, err, "yen have no decimals: rejected, never truncated")

	o := e.mustBuy(&Shop{Merchant: m, Products: []*commerce.Product{p}}, "ユーザー🎌", "キー", line(p.SKUs[1].ID, 3))
	back, err := e.svc.GetOrder(e.ctx, m.ID, o.ID)
	require.NoError(t, err)
	sameOrder(t, o, back, "an order reads back exactly as written")
	assert.Equal(t, "JPY 3", back.Total.String())
}
