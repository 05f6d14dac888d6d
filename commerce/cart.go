package commerce

import (
	"fmt"
	"time"
)

// Cart limits: a line holds at most MaxLineQuantity units and a cart at most
// MaxCartLines lines. They keep a request from asking for absurd work.
const (
	MaxLineQuantity = 999
	MaxCartLines    = 100
)

// Cart is one customer's basket at one merchant.
type Cart struct {
	MerchantID MerchantID
	CustomerID CustomerID
	Lines      []CartLine
	Updated    time.Time
}

// CartLine is a quantity of one SKU. A SKU appears at most once in a cart.
type CartLine struct {
	SKU      SKUID
	Quantity int64
}

// Clone returns a deep copy.
func (c *Cart) Clone() *Cart {
	cp := *c
	cp.Lines = append([]CartLine(nil), c.Lines...)
	return &cp
}

func (c *Cart) find(sku SKUID) int {
	for i, l := range c.Lines {
		if l.SKU == sku {
			return i
		}
	}
	return -1
}

// set puts quantity qty of sku in the cart (0 removes the line).
func (c *Cart) set(op string, sku SKUID, qty int64) error {
	i := c.find(sku)
	switch {
	case qty == 0 && i >= 0:
		c.Lines = append(c.Lines[:i], c.Lines[i+1:]...)
	case qty == 0:
	case i >= 0:
		c.Lines[i].Quantity = qty
	case len(c.Lines) >= MaxCartLines:
		return Invalid(op, "sku", "cart already has %d lines, the most it may hold", MaxCartLines)
	default:
		c.Lines = append(c.Lines, CartLine{SKU: sku, Quantity: qty})
	}
	return nil
}

// LineItem is a SKU and quantity to quote or buy.
type LineItem struct {
	SKU      SKUID
	Quantity int64
}

// checkQuantity validates a line quantity: 1..MaxLineQuantity.
func (c *checker) quantity(field string, q int64) {
	if q < 1 || q > MaxLineQuantity {
		c.fail(field, "%d is outside [1, %d]", q, MaxLineQuantity)
	}
}

func checkLines(c *checker, field string, lines []LineItem) {
	if len(lines) == 0 {
		c.fail(field, "%w", ErrEmptyCart)
		return
	}
	if len(lines) > MaxCartLines {
		c.fail(field, "more than %d lines", MaxCartLines)
	}
	for i, l := range lines {
		if l.SKU.IsZero() {
			c.fail(fmt.Sprintf("%s[%d].sku", field, i), "required")
		}
		if l.Quantity < 1 || l.Quantity > MaxLineQuantity {
			c.quantity(fmt.Sprintf("%s[%d].quantity", field, i), l.Quantity)
		}
	}
}
