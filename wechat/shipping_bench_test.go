package wechat_test

import (
	"fmt"
	"testing"

	"github.com/minishop/minishop/commerce"
)

// BenchmarkShippingRelay measures the relay from the outbox to the local
// platform: each op is one shipped order's info uploaded (the order.paid
// and order.shipped events fed, the record taken, the order and payment
// read, the upload sent and answered, the record saved), memory store.
func BenchmarkShippingRelay(b *testing.B) {
	s := memoryShop(b)
	u := s.plat.NewUser()
	for i := range b.N {
		o, _ := s.buy(u, false)
		s.ship(o, commerce.Shipment{Carrier: "ZTO", TrackingNo: fmt.Sprint("Z", i)})
	}
	b.ReportAllocs()
	b.ResetTimer()
	done := 0
	for done < b.N {
		n, err := s.engine.Shipping.Run(s.ctx)
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			b.Fatalf("%d of %d uploaded, then nothing", done, b.N)
		}
		done += n
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "uploads/s")
}
