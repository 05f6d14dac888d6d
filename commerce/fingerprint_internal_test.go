package commerce

import (
	"testing"

	"github.com/google/uuid"
)

// TestFingerprintStable: the fingerprint is stored with every order, so
// its bytes may never change (a replay against an order stored before would
// be refused as a mismatch). The wanted values were written by the
// implementation that hashed field by field.
func TestFingerprintStable(t *testing.T) {
	sku := func(b byte) SKUID { return IDFrom[skuTag](uuid.UUID{b}) }
	addr := &Address{Name: "Li Lei", Phone: "13800000000", Province: "Zhejiang", City: "Hangzhou",
		District: "Xihu", Detail: "1 West Lake Road", PostalCode: "310000"}
	cases := []struct {
		p     CheckoutParams
		lines []LineItem
		want  string
	}{
		{CheckoutParams{CustomerID: "c-1", ShippingAddress: addr, Note: "ring twice"},
			[]LineItem{{SKU: sku(3), Quantity: 2}, {SKU: sku(1), Quantity: 1}, {SKU: sku(2), Quantity: 5}}, "375ac501be1e1d0867debf0d024b6be7"},
		{CheckoutParams{CustomerID: "c-2", Gift: &Gift{Message: "生日快乐", Slots: 3, MerchantPaid: true}},
			[]LineItem{{SKU: sku(9), Quantity: 1}}, "4a85f041ffd13f35562a4e5daff35bed"},
	}
	for i, c := range cases {
		if got := c.p.fingerprint(c.lines); got != c.want {
			t.Errorf("case %d: fingerprint %s, want %s", i, got, c.want)
		}
	}
}
