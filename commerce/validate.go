package commerce

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
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

// Every string minishop accepts, in any package, is checked once where it
// enters, by CheckText (free text) or CheckKey (ids, keys, references),
// the same way whatever the store: what one store keeps, every store keeps
// byte for byte, and what one refuses, every one refuses as KindInvalid
// naming the field. Columns on every dialect are at least as wide as these
// limits (storetest's HostileInput test drives every field at its maximum
// and one past it on every store).

// checker collects the first validation error of a record, naming the field.
type checker struct {
	op     string
	prefix string // the record's own field, e.g. "shipping_address": fail names fields under it
	err    error
}

// fail records the first error. Field names are joined with the prefix only
// here, so validating good input allocates nothing for them.
func (c *checker) fail(field, format string, args ...any) {
	if c.err == nil {
		if c.prefix != "" {
			field = c.prefix + "." + field
		}
		c.err = Invalid(c.op, field, format, args...)
	}
}

func (c *checker) text(field, s string, required bool, max int) {
	if p := textProblem(s, required, max); p != "" {
		c.fail(field, "%s", p)
	}
}

// key checks an id, key or reference: text with no control characters and
// no leading or trailing whitespace.
func (c *checker) key(field, s string, required bool, max int) {
	if p := keyProblem(s, required, max); p != "" {
		c.fail(field, "%s", p)
	}
}

// textProblem says what is wrong with free text s, or "" if nothing is.
// Every store keeps what it accepts byte for byte: valid UTF-8 (an encoded
// UTF-16 surrogate, "\xed\xa0\x80", is invalid UTF-8 to Go, so it is refused
// here before PostgreSQL would), no NUL (PostgreSQL's text and jsonb cannot
// hold it), and no more than max characters (every column is at least that
// wide on every dialect, in characters: MySQL's VARCHAR counts utf8mb4
// characters, a 4-byte emoji being one).
func textProblem(s string, required bool, max int) string {
	switch {
	case required && strings.TrimSpace(s) == "":
		return "required"
	case len(s) > 4*max:
		// Cheap bound first: no UTF-8 character is longer than 4 bytes,
		// so a huge input is refused without counting it.
		return fmt.Sprintf("longer than %d characters", max)
	case !utf8.ValidString(s):
		return "not valid UTF-8"
	case utf8.RuneCountInString(s) > max:
		return fmt.Sprintf("longer than %d characters", max)
	case strings.IndexByte(s, 0) >= 0:
		return "contains a NUL character"
	}
	return ""
}

// keyProblem is textProblem for ids, keys and references, which are
// compared as well as kept, so two more rules hold on every store alike:
//
//   - No leading or trailing whitespace. MySQL's and MariaDB's utf8mb4_bin
//     is a PAD SPACE collation: "K2 " equals "K2" there and nowhere else,
//     so an idempotency key "K2 " would return the order of "K2" and a
//     customer "pad " would see the card of "pad". Refusing such keys at the
//     edge makes every store answer the same without rebuilding MySQL's
//     indexes with another collation; no real id (openid, UUID, order
//     number) has outer whitespace.
//   - No control characters (tabs, newlines, C1 controls): an id is not
//     text to lay out, and one that holds them is a bug or an attack.
func keyProblem(s string, required bool, max int) string {
	if s == "" {
		if required {
			return "required"
		}
		return ""
	}
	if p := textProblem(s, false, max); p != "" {
		return p
	}
	switch {
	case strings.TrimSpace(s) != s:
		return "leading or trailing whitespace"
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "contains a control character"
	}
	return ""
}

// CheckText validates free text (a name, a note, a message) the way the
// kernel validates its own, for the other minishop packages and for hosts:
// nil, or a KindInvalid error of op naming field. required refuses an empty
// or all-space s; max is in characters. See MaxNameLen and the other limits.
func CheckText(op, field, s string, required bool, max int) error {
	if p := textProblem(s, required, max); p != "" {
		return Invalid(op, field, "%s", p)
	}
	return nil
}

// CheckKey validates an id, key or reference (a request id, a payer's
// account, a channel's notification id): CheckText's rules plus no control
// characters and no leading or trailing whitespace, so that every store
// compares it alike (see keyProblem). max is in characters, usually
// MaxKeyLen.
func CheckKey(op, field, s string, required bool, max int) error {
	if p := keyProblem(s, required, max); p != "" {
		return Invalid(op, field, "%s", p)
	}
	return nil
}

// CheckCustomer validates a customer ID (required, at most MaxKeyLen
// characters, CheckKey's rules).
func CheckCustomer(op, field string, id CustomerID) error {
	return CheckKey(op, field, string(id), true, MaxKeyLen)
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
	c.key(field, string(id), true, MaxKeyLen)
}

// CheckID returns a KindInvalid error naming field when id is the zero id:
// a forgotten merchant or order id is the caller's mistake, reported the
// same way by every service and store, rather than a record "not found".
func CheckID[T any](op, field string, id ID[T]) error {
	if id.IsZero() {
		return Invalid(op, field, "required")
	}
	return nil
}
