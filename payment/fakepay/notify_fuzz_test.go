package fakepay

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/minishop/minishop/payment"
)

// FuzzParseNotification: whatever reaches fakepay's notification endpoint.
// Each body is tried twice: with the fuzzed signature header, where it must
// be refused unless the header is the body's true signature (the fuzzer
// cannot forge HMAC-SHA256), and signed with the channel's secret, which
// takes the body to the decoder. It must not panic; an accepted
// notification carries exactly the body its kind names, and re-encoding
// and re-parsing it gives it back; a refused one returns nothing.
func FuzzParseNotification(f *testing.F) {
	p := New(WithSecret([]byte("fuzz secret")))
	f.Add([]byte(`{"id":"n1","kind":"payment","event_type":"TRANSACTION.SUCCESS","transaction":{"PaymentNo":"P1","State":"succeeded","Amount":{"amount":"1.00","currency":"CNY"}}}`), "")
	f.Add([]byte(`{"id":"n2","kind":"refund","refund":{"RefundNo":"R1","State":"succeeded","Amount":{"amount":"1.00","currency":"CNY"}}}`), "00")
	f.Add([]byte(`{"id":"n3","kind":"refund","transaction":{}}`), "zz")
	f.Add([]byte(`{"kind":"payment","transaction":{"Amount":{"amount":"1e9999","currency":"CNY"}}}`), "")
	f.Add([]byte(`{"kind":"payment","transaction":{"PaidAt":"not a time"}}`), "")
	f.Add([]byte(`null`), "")
	f.Add([]byte{0xff}, "")
	parse := func(t *testing.T, body []byte, sig string) (*payment.Notification, error) {
		r, err := http.NewRequest(http.MethodPost, "/notify/fakepay", io.NopCloser(bytes.NewReader(body)))
		if err != nil {
			t.Fatal(err)
		}
		if sig != "" {
			r.Header.Set(SignatureHeader, sig)
		}
		return p.ParseNotification(t.Context(), r)
	}
	f.Fuzz(func(t *testing.T, body []byte, sig string) {
		n, err := parse(t, body, sig)
		if err == nil && sig != p.sign(body) {
			t.Fatalf("accepted %q under signature %q", body, sig)
		}
		if err != nil && n != nil {
			t.Fatalf("refused (%v) but returned %+v", err, n)
		}

		n, err = parse(t, body, p.sign(body))
		if err != nil {
			if n != nil {
				t.Fatalf("refused (%v) but returned %+v", err, n)
			}
			return
		}
		switch n.Kind {
		case payment.NotifyPayment:
			if n.Transaction == nil {
				t.Fatalf("payment notification without a transaction: %s", body)
			}
		case payment.NotifyRefund:
			if n.Refund == nil {
				t.Fatalf("refund notification without a refund: %s", body)
			}
		default:
			t.Fatalf("accepted kind %q", n.Kind)
		}
		again, err := json.Marshal(wire{ID: n.ID, Kind: string(n.Kind), EventType: n.EventType, Transaction: n.Transaction, Refund: n.Refund})
		if err != nil {
			t.Fatalf("accepted %s, which does not re-encode: %v", body, err)
		}
		back, err := parse(t, again, p.sign(again))
		if err != nil || back.ID != n.ID || back.Kind != n.Kind {
			t.Fatalf("accepted %s; its re-encoding %s parses to %+v, %v", body, again, back, err)
		}
		if n.Transaction != nil && back.Transaction != nil && !back.Transaction.Amount.Equal(n.Transaction.Amount) {
			t.Fatalf("amount %s re-parses as %s", n.Transaction.Amount, back.Transaction.Amount)
		}
		if n.Refund != nil && back.Refund != nil && !back.Refund.Amount.Equal(n.Refund.Amount) {
			t.Fatalf("refund amount %s re-parses as %s", n.Refund.Amount, back.Refund.Amount)
		}
	})
}
