package commerce

import (
	"encoding/json"
	"testing"

	"golang.org/x/text/currency"
)

// TestOrderEventPayloadJSON: emit's hand-written payload is json.Marshal's,
// byte for byte, and falls back to it for what needs escaping.
func TestOrderEventPayloadJSON(t *testing.T) {
	id := IDFrom[orderTag]([16]byte{0x01, 0x90, 0xab})
	total := FromMinor(-12345, currency.CNY)
	refund := &struct {
		ID     RefundID     `json:"id"`
		Status RefundStatus `json:"status"`
		Amount Money        `json:"amount"`
	}{IDFrom[refundTag]([16]byte{9}), RefundPending, FromMinor(500, currency.JPY)}
	for _, c := range []struct {
		p  OrderEventPayload
		ok bool
	}{
		{OrderEventPayload{OrderID: id, CustomerID: "c-1", Status: StatusPendingPayment, Total: total}, true},
		{OrderEventPayload{OrderID: id, CustomerID: "c-1", Status: StatusPaid, Total: total, Gift: true, Refund: refund}, true},
		{OrderEventPayload{}, true},
		{OrderEventPayload{CustomerID: "<script>", Total: total}, false},
		{OrderEventPayload{CustomerID: "顾客", Total: total}, false},
	} {
		want, err := json.Marshal(c.p)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := c.p.appendJSON(nil)
		if ok != c.ok || (ok && string(got) != string(want)) {
			t.Errorf("appendJSON(%+v) = %s, %v; json.Marshal says %s", c.p, got, ok, want)
		}
	}
}
