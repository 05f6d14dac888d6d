package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/wechat"
	"github.com/minishop/minishop/wechat/wechattest"
)

// runWechatShipping is the shipping-info relay under faults, on the store:
// orders paid and shipped (one parcel, split, virtual), three processes'
// relays over the store while WeChat fails 30 % of the uploads and of the
// queries (server errors, busy, quota, lost answers). Once it recovers and
// nothing is due, WeChat holds every shipped order's info, uploaded exactly
// once as it sees it.
func runWechatShipping(t *testing.T, h Harness) {
	const (
		uploadPath = "/wxa/sec/order/upload_shipping_info"
		queryPath  = "/wxa/sec/order/get_order"
		orders     = 36
	)
	var plat *wechattest.Platform
	retry := wechat.Retry{First: time.Second, Max: 20 * time.Second, MaxAttempts: 1000}
	wechatOf := func(e *env) minishop.WeChat {
		if plat == nil {
			plat = wechattest.Start(t, wechattest.Options{Now: e.clock.Now})
		}
		return minishop.WeChat{MiniProgram: plat.Config(nil), PaymentProviders: []string{"fakepay"},
			Shipping: func(c *wechat.ShippingConfig) { c.Retry, c.Batch = retry, 10 }}
	}
	e := newPayEnvWith(t, h, func(e *env) []minishop.Option { return []minishop.Option{minishop.WithWeChat(wechatOf(e))} })
	engines := []*minishop.Engine{e.engine}
	for range 2 {
		other, err := minishop.New(e.store, minishop.WithClock(e.clock), minishop.WithPayments(e.fake), minishop.WithWeChat(wechatOf(e.env)))
		require.NoError(t, err)
		engines = append(engines, other)
	}
	runAll := func() {
		var wg sync.WaitGroup
		for _, en := range engines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := en.RunDue(e.ctx)
				assert.NoError(t, err)
			}()
		}
		wg.Wait()
		e.advance(5 * time.Second)
	}

	plat.Faults(0.3, 7, nil, uploadPath, queryPath)
	shipped := map[string]commerce.Shipment{} // transaction id → shipment
	for i := range orders {
		u := plat.NewUser()
		o := e.mustBuy(e.shop, u.OpenID, fmt.Sprint("k-", i), line(e.shop.SKU(0, 0), 1))
		o, p := e.paid(o)
		fen, err := p.Amount.Minor()
		require.NoError(t, err)
		plat.AddPayment(p.ProviderRef, p.PaymentNo, "1900000109", p.Payer, fen)
		sh := commerce.Shipment{Carrier: "YTO", TrackingNo: fmt.Sprint("YT", i)}
		switch i % 3 {
		case 1:
			sh = commerce.Shipment{Parcels: []commerce.Parcel{{Carrier: "ZTO", TrackingNo: fmt.Sprint("Z", i, "a")}, {Carrier: "JD", TrackingNo: fmt.Sprint("J", i, "b")}}}
		case 2:
			sh = commerce.Shipment{Method: commerce.ShipVirtual}
		}
		_, err = e.svc.Ship(e.ctx, commerce.ShipParams{MerchantID: o.MerchantID, OrderID: o.ID, Shipment: sh})
		require.NoError(t, err)
		shipped[p.ProviderRef] = sh
		if i%6 == 5 {
			runAll()
		}
	}
	for range 10 {
		runAll()
	}
	plat.Heal()
	for round := 0; ; round++ {
		pending, err := e.engine.Shipping.Pending(e.ctx, 1000)
		require.NoError(t, err)
		if len(pending) == 0 {
			break
		}
		require.Less(t, round, 100, "still pending: %+v", pending[0])
		e.advance(20 * time.Second)
		runAll()
	}

	failing, err := e.engine.Shipping.Failing(e.ctx, 100)
	require.NoError(t, err)
	assert.Empty(t, failing, "no upload failed for good")
	faults := map[string]int{}
	kinds := map[string]bool{}
	for _, r := range plat.Requests() {
		if r.Fault != "" {
			faults[r.Path+" "+r.Fault]++
			kinds[r.Fault] = kinds[r.Fault] || r.Path == uploadPath
		}
	}
	assert.Len(t, kinds, 4, "every kind of fault struck: %v", faults)
	for k, onUploads := range kinds {
		assert.True(t, onUploads, "%s struck the uploads", k)
	}
	for txn, sh := range shipped {
		got, ok := plat.ShippingOf(txn)
		require.True(t, ok)
		assert.Equal(t, 1, got.Uploads, "%s: uploaded exactly once as WeChat sees it", txn)
		assert.Equal(t, wechat.StateShipped, got.State)
		want := len(sh.ParcelList())
		if sh.Method == commerce.ShipVirtual {
			want = 1
		}
		assert.Len(t, got.List, want, txn)
	}
	t.Logf("%d orders, %d upload calls, %d queries, faults %v", orders, plat.Calls(uploadPath), plat.Calls(queryPath), faults)
}
