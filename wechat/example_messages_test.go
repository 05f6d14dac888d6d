package wechat_test

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/storage/memory"
	"github.com/minishop/minishop/wechat"
	"github.com/minishop/minishop/wechat/wechattest"
)

// A shop tells its buyers their order is paid, once per acceptance of the
// template.
func ExampleMessages() {
	ctx := context.Background()
	plat, err := wechattest.NewPlatform(wechattest.Options{})
	if err != nil {
		panic(err)
	}
	defer plat.Close()
	plat.AddTemplate("TPL-paid", map[string]string{"character_string1": "character_string", "amount2": "amount", "thing3": "thing"}, false)
	plat.AddPage("pages/order/detail")
	buyer := plat.NewUser()

	store := memory.New()
	shop, _ := commerce.New(commerce.Config{Store: store})
	client, _ := wechat.New(plat.Config(store))
	messages, err := wechat.NewMessages(client, wechat.MessagesConfig{
		Outbox: shop,
		// Skip at once a message nobody accepted (by default a delivery
		// waits two minutes for an acceptance reported late).
		ConsentWait: -1,
		OpenID:      func(_ context.Context, c commerce.CustomerID) (string, error) { return buyer.OpenID, nil },
		Templates: []wechat.Template{{Event: "order.paid", ID: "TPL-paid", Page: "pages/order/detail",
			Data: func(_ context.Context, ev commerce.Event) (wechat.Content, error) {
				f, err := wechat.ReadEvent(ev)
				return wechat.Content{Customer: f.Customer, Fields: map[string]string{
					"character_string1": f.OrderID, "amount2": "¥" + f.Total.AmountText(), "thing3": "茶具两件"}}, err
			}}},
	})
	if err != nil {
		panic(err)
	}

	// The buyer accepts the template in the payment's callback
	// (wx.requestSubscribeMessage); WeChat pushes the acceptance.
	if _, err := messages.HandlePush(ctx, ptr(plat.Subscribe(buyer.OpenID, "TPL-paid"))); err != nil {
		panic(err)
	}
	// Two orders are paid: one message for one acceptance (here written to the outbox directly).
	for _, id := range []string{"o-1001", "o-1002"} {
		_ = store.InTx(ctx, func(ctx context.Context) error {
			return store.AppendEvents(ctx, commerce.Event{ID: uuid.New(), Type: "order.paid", Time: time.Now(),
				Payload: []byte(`{"order_id":"` + id + `","customer_id":"alice","status":"paid","total":{"amount":"66.00","currency":"CNY"}}`)})
		})
	}
	n, err := messages.Run(ctx)
	fmt.Println(n, err)
	for _, m := range plat.Sent(buyer.OpenID) {
		fmt.Println(m.TemplateID, m.Data["amount2"], m.Page)
	}
	done, _ := messages.Deliveries(ctx, wechat.StatusDone, 10)
	outcomes := map[string]int{}
	for _, d := range done {
		outcomes[d.Outcome]++
	}
	fmt.Println(outcomes)
	// Output:
	// 2 <nil>
	// TPL-paid ¥66.00 pages/order/detail
	// map[sent:1 skipped:1]
}
