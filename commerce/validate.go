package commerce

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Limits on free text, applied everywhere the kernel accepts it. They are
// counted in characters (runes), not bytes, so Chinese text gets the same
// room as Latin text.
const (
	MaxNameLen        = 60   // merchant, product and SKU names, attribute names and values
	MaxTextLen        = 2000 // descriptions and introductions
	MaxShortTextLen   = 200  // contacts, notes, reasons, categories
	MaxPictures       = 20
	MaxURLLen         = 1024
	MaxAttributes     = 10
	MaxSKUsPerProduct = 200
	MaxKeyLen         = 128 // idempotency keys, customer IDs, references
)

// checker collects the first validation error of a record, naming the field.
type checker struct {
	op     string
	prefix string // prepended to field names, e.g. "shipping_address."
	err    error
}

// fail records the first error. Field names are joined with the prefix only
// here, so validating good input allocates nothing for them.
func (c *checker) fail(field, format string, args ...any) {
	if c.err == nil {
		c.err = Invalid(c.op, c.prefix+field, format, args...)
	}
}

func (c *checker) text(field, s string, required bool, max int) {
	switch {
	case required && strings.TrimSpace(s) == "":
		c.fail(field, "required")
	case !utf8.ValidString(s):
		c.fail(field, "not valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		c.fail(field, "longer than %d characters", max)
	case strings.ContainsRune(s, 0):
		c.fail(field, "contains a NUL character")
	}
}

func (c *checker) pictures(field string, urls []string) {
	if len(urls) > MaxPictures {
		c.fail(field, "more than %d pictures", MaxPictures)
		return
	}
	for i, u := range urls {
		f := fmt.Sprintf("%s[%d]", field, i)
		if len(u) > MaxURLLen {
			c.fail(f, "longer than %d bytes", MaxURLLen)
			continue
		}
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			c.fail(f, "not an http(s) URL: %q", truncate(u, 60))
		}
	}
}

func (c *checker) money(field string, m Money, wantCur Money) {
	switch {
	case !m.IsSet():
		c.fail(field, "required")
	case wantCur.IsSet() && m.cur != wantCur.cur:
		c.fail(field, "currency %s, the merchant sells in %s", m.cur, wantCur.cur)
	case m.IsNegative():
		c.fail(field, "negative amount %s", m)
	default:
		if _, err := m.Minor(); err != nil {
			c.fail(field, "%v", err)
		}
	}
}

// CustomerID identifies a buyer: the host's own user ID (a WeChat openid or
// unionid, an account number). minishop stores it as given.
type CustomerID string

func (c *checker) customer(field string, id CustomerID) {
	c.text(field, string(id), true, MaxKeyLen)
}
