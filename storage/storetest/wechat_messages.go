package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/wechat"
	"github.com/minishop/minishop/wechat/wechattest"
)

// runWechatMessages is the relay of subscription messages under faults,
// on the store: a shop whose customers accepted its templates some number
// of times each, orders paid and shipped, three relays over the store
// while WeChat fails 30 % of the sends (server errors, busy, quota, lost
// answers). Once it recovers and nothing is due, WeChat has seen at most
// one message per acceptance, and exactly one per event that had a credit
// wherever no answer was lost.
func runWechatMessages(t *testing.T, h Harness) {
	const subscribePath = "/cgi-bin/message/subscribe/send"
	e := newPayEnv(t, h)
	plat := wechattest.Start(t, wechattest.Options{Now: e.clock.Now})
	fields := map[string]string{"character_string1": "character_string", "thing2": "thing"}
	plat.AddTemplate("T-paid", fields, false)
	plat.AddTemplate("T-shipped", fields, false)
	plat.AddPage("pages/order/detail")

	const customers, ordersEach = 12, 4
	openids := map[commerce.CustomerID]string{}
	for i := range customers {
		openids[commerce.CustomerID(fmt.Sprint("customer-", i))] = plat.NewUser().OpenID
	}
	openID := func(_ context.Context, c commerce.CustomerID) (string, error) {
		if o, ok := openids[c]; ok {
			return o, nil
		}
		return "", fmt.Errorf("%w: no openid for %s", commerce.ErrNotFound, c)
	}
	template := func(event, id, text string) wechat.Template {
		return wechat.Template{Event: event, ID: id, Page: "pages/order/detail", Data: func(_ context.Context, ev commerce.Event) (wechat.Content, error) {
			f, err := wechat.ReadEvent(ev)
			return wechat.Content{Customer: f.Customer, Fields: map[string]string{
				"character_string1": strings.ReplaceAll(f.OrderID, "-", ""), "thing2": text}}, err
		}}
	}
	cfg := wechat.MessagesConfig{Outbox: e.svc, OpenID: openID, Batch: 10,
		Templates: []wechat.Template{template("order.paid", "T-paid", "订单已支付"), template("order.shipped", "T-shipped", "订单已发货")},
		Retry:     wechat.Retry{First: time.Second, Max: 30 * time.Second, MaxAttempts: 100}}
	var relays []*wechat.Messages
	for range 3 {
		wcfg := plat.Config(e.store)
		wcfg.Clock = e.clock
		c, err := wechat.New(wcfg)
		require.NoError(t, err)
		m, err := wechat.NewMessages(c, cfg)
		require.NoError(t, err)
		relays = append(relays, m)
	}

	// Customer i accepted the paid template i % 6 times (pushed) and the
	// shipped one (i+1) % 4 times (reported by the client).
	accepted := map[string]int{}
	for i := range customers {
		oid := openids[commerce.CustomerID(fmt.Sprint("customer-", i))]
		for range i % 6 {
			_, err := relays[i%3].HandlePush(e.ctx, ptrTo(plat.Subscribe(oid, "T-paid")))
			require.NoError(t, err)
			accepted[oid+" T-paid"]++
		}
		for range (i + 1) % 4 {
			plat.Subscribe(oid, "T-shipped")
			require.NoError(t, relays[(i+1)%3].Accepted(e.ctx, oid, "T-shipped"))
			accepted[oid+" T-shipped"]++
		}
	}

	plat.Faults(0.3, 15, nil, subscribePath)
	runAll := func() {
		var wg sync.WaitGroup
		for _, m := range relays {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := m.Run(e.ctx)
				assert.NoError(t, err)
			}()
		}
		wg.Wait()
		e.advance(20 * time.Second)
	}
	events := map[string]int{} // openid template → events
	for j := range ordersEach {
		for i := range customers {
			c := commerce.CustomerID(fmt.Sprint("customer-", i))
			o := e.mustBuy(e.shop, string(c), fmt.Sprint("k-", i, "-", j), line(e.shop.SKU(1, 0), 1))
			o, _ = e.paid(o)
			events[openids[c]+" T-paid"]++
			if (i+j)%2 == 0 {
				_, err := e.svc.Ship(e.ctx, commerce.ShipParams{MerchantID: o.MerchantID, OrderID: o.ID,
					Shipment: commerce.Shipment{Carrier: "SF", TrackingNo: fmt.Sprint("SF", i, j)}})
				require.NoError(t, err)
				events[openids[c]+" T-shipped"]++
			}
		}
		runAll()
	}
	for range 10 {
		runAll()
	}
	plat.Heal()
	for round := 0; ; round++ {
		pending, err := relays[0].Deliveries(e.ctx, wechat.StatusPending, 1000)
		require.NoError(t, err)
		if len(pending) == 0 {
			break
		}
		require.Less(t, round, 100, "deliveries still pending: %+v", pending[0])
		runAll()
	}

	faults := map[string]int{}
	for _, r := range plat.Requests() {
		if r.Path == subscribePath && r.Fault != "" {
			faults[r.Fault]++
		}
	}
	assert.Len(t, faults, 4, "every kind of fault struck: %v", faults)

	failed, err := relays[0].Failing(e.ctx, 100)
	require.NoError(t, err)
	assert.Empty(t, failed, "no delivery failed for good")
	done, err := relays[1].Deliveries(e.ctx, wechat.StatusDone, 1000)
	require.NoError(t, err)
	total := 0
	for _, n := range events {
		total += n
	}
	require.Len(t, done, total, "one delivery per event and template")

	// What WeChat saw, by customer and template, and by order.
	seen := map[string]int{}
	byOrder := map[string]int{}
	for _, s := range plat.Sent("") {
		seen[s.OpenID+" "+s.TemplateID]++
		byOrder[s.TemplateID+" "+s.Data["character_string1"]]++
	}
	lost := map[string]bool{}
	spent := map[string]int{}
	for _, d := range done {
		k := d.OpenID + " " + d.Template
		spent[k] += d.Credits
		if d.LostSends > 0 {
			lost[k] = true
		}
	}
	orderOf := map[string]string{} // event id → the order number in its message
	for _, x := range e.allEvents() {
		if f, err := wechat.ReadEvent(x); err == nil {
			orderOf[x.ID.String()] = strings.ReplaceAll(f.OrderID, "-", "")
		}
	}
	for _, d := range done {
		order := orderOf[d.EventID.String()]
		require.NotEmpty(t, order)
		got := byOrder[d.Template+" "+order]
		switch {
		case d.LostSends == 0 && d.Outcome == wechat.OutcomeSent:
			assert.Equal(t, 1, got, "delivery %s: sent once", d.Key)
		case d.LostSends == 0:
			assert.Equal(t, wechat.OutcomeSkipped, d.Outcome, d.Key)
			assert.Zero(t, got, "delivery %s: skipped, nothing sent", d.Key)
		default:
			assert.LessOrEqual(t, got, d.Credits, "delivery %s: at most one message per credit it spent", d.Key)
			assert.GreaterOrEqual(t, got, 1, "delivery %s: a lost answer is a message that arrived", d.Key)
		}
	}
	for k, n := range accepted {
		assert.LessOrEqual(t, seen[k], n, "%s: at most one message per acceptance", k)
		assert.Equal(t, spent[k], n-plat.Credits(strings.Fields(k)[0], strings.Fields(k)[1]), "%s: the relay spent what WeChat did", k)
		if !lost[k] {
			assert.Equal(t, min(n, events[k]), seen[k], "%s: exactly once per event with a credit", k)
		}
	}
	outcomes := map[string]int{}
	lostSends := 0
	for _, d := range done {
		outcomes[d.Outcome]++
		lostSends += d.LostSends
	}
	t.Logf("%d deliveries %v, %d messages, %d lost answers; faults %v", len(done), outcomes, len(plat.Sent("")), lostSends, faults)
	for k := range seen {
		assert.Positive(t, accepted[k], "%s: a message without an acceptance", k)
	}
}

func ptrTo[T any](v T) *T { return &v }
