package commerce

import (
	"fmt"
	"sort"
)

// Extensions carries plugins' input to a quote or a checkout (the coupons
// the customer chose, the points they spend, the share link they came
// through), keyed by plugin. Build it with With from the values plugins
// offer (coupons.Select, membership.SpendPoints, promoter.Share), so that
// any number of plugins combine in one call:
//
//	Extensions: commerce.With(coupons.Select(id), membership.SpendPoints(500), promoter.Share(link))
//
// A plugin reads its own key; a host's own plugin defines an Extension the
// same way.
type Extensions map[string]any

// An Extension is one plugin's input: its key and value. Plugins return
// one from a constructor named for what the customer chose.
type Extension struct {
	Key   string
	Value any
}

// With combines extensions into one Extensions. Giving the same key twice
// (two coupon selections, say) is an error that Quote and Checkout report,
// naming the key, rather than letting one silently win: the two may ask
// for different discounts.
func With(exts ...Extension) Extensions {
	m := make(Extensions, len(exts))
	for _, e := range exts {
		if _, dup := m[e.Key]; dup {
			m[e.Key] = duplicateExtension{}
			continue
		}
		m[e.Key] = e.Value
	}
	return m
}

// duplicateExtension marks a key With was given more than once.
type duplicateExtension struct{}

// validate reports a key given twice or an empty key, naming it.
func (x Extensions) validate(c *checker) {
	keys := make([]string, 0, len(x))
	for k := range x {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch x[k].(type) {
		case duplicateExtension:
			c.fail(fmt.Sprintf("extensions[%s]", truncate(k, 40)), "given more than once")
		}
		if k == "" {
			c.fail("extensions", "empty key")
		}
	}
}

// Clone returns a copy of x that a plugin may add its own working state to
// without changing the caller's map.
func (x Extensions) Clone() Extensions { return x.clone(1) }

// clone copies x with room for more keys.
func (x Extensions) clone(more int) Extensions {
	m := make(Extensions, len(x)+more)
	for k, v := range x {
		m[k] = v
	}
	return m
}
