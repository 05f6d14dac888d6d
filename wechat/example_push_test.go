package wechat_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/minishop/minishop/storage/memory"
	"github.com/minishop/minishop/wechat"
	"github.com/minishop/minishop/wechat/wechattest"
)

// The developer server URL in safe mode: a settlement event is applied
// once, though WeChat delivers it twice.
func ExampleClient_PushHandler() {
	plat, _ := wechattest.NewPlatform(wechattest.Options{})
	defer plat.Close()
	client, _ := wechat.New(plat.Config(memory.New()))

	key := wechattest.NewEncodingAESKey() // as generated in the admin console
	push, err := client.PushHandler(wechat.PushConfig{Token: "shopToken2026", EncodingAESKey: key},
		func(ctx context.Context, m *wechat.Message) error {
			// Record what the event means with the store of ctx: it commits
			// with the push's record, once.
			if m.Event == wechat.EventOrderSettlement {
				fmt.Printf("order %s settled at %s\n", m.MerchantTradeNo, time.Unix(m.SettlementTime, 0).UTC().Format(time.DateTime))
			}
			return nil
		})
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := httptest.NewServer(push)
	defer srv.Close()

	settled := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	ev := wechattest.OrderSettlement{CreateTime: time.Now(), TransactionID: "4200001234202612030000000001", MerchantID: "1230000109",
		MerchantTradeNo: "P20261203001", PayTime: settled.Add(-72 * time.Hour), ShippedTime: settled.Add(-48 * time.Hour),
		ConfirmReceiveMethod: 2, ConfirmReceiveTime: settled.Add(-time.Hour), SettlementTime: settled}
	opts := wechattest.PushOptions{Mode: wechattest.PushSafe, Format: wechattest.PushJSON, Token: "shopToken2026", EncodingAESKey: key}
	for range 2 { // WeChat's retry redelivers the same event
		status, body, err := plat.Push(srv.URL, ev, opts)
		fmt.Println(status, body, err)
	}
	// Output:
	// order P20261203001 settled at 2026-12-03 08:00:00
	// 200 success <nil>
	// 200 success <nil>
}
