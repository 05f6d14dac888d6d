package wechat_test

import (
	"fmt"
	"testing"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/wechat"
)

// BenchmarkMessagesRelay measures the relay end to end: outbox events fed
// into deliveries, a credit consumed for each, the message sent to the
// local platform over HTTP, the delivery closed; memory store.
func BenchmarkMessagesRelay(b *testing.B) {
	w := newMsgWorld(b)
	w.plat.AddTemplate("T-paid", paidFields, false)
	m, err := wechat.NewMessages(w.clientTB(b), wechat.MessagesConfig{Outbox: w.svc, OpenID: w.openID, Templates: []wechat.Template{orderPaid("T-paid")}})
	if err != nil {
		b.Fatal(err)
	}
	const customers = 100
	var ids []commerce.CustomerID
	for i := range customers {
		c, oid := w.customer(fmt.Sprint("c", i))
		ids = append(ids, c)
		for range b.N/customers + 1 {
			w.plat.Subscribe(oid, "T-paid")
			if err := m.Accepted(w.ctx, oid, "T-paid"); err != nil {
				b.Fatal(err)
			}
		}
	}
	for i := range b.N {
		w.paid(b, ids[i%customers], fmt.Sprint("o-", i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	done := 0
	for done < b.N {
		n, err := m.Run(w.ctx)
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			b.Fatalf("stuck after %d of %d", done, b.N)
		}
		done += n
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if got := len(w.plat.Sent("")); got != b.N {
		b.Fatalf("%d messages for %d events", got, b.N)
	}
}
