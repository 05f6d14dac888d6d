package commerce_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"

	"github.com/minishop/minishop/commerce"
)

func TestCheckTextAndKey(t *testing.T) {
	// An encoded UTF-16 surrogate (U+D800 as three bytes) is invalid UTF-8
	// to Go, so the UTF-8 check alone refuses it before PostgreSQL would.
	assert.False(t, utf8.ValidString("\xed\xa0\x80"))
	assert.False(t, utf8.ValidString("\xed\xbf\xbf"))

	cases := []struct {
		s         string
		text, key bool // accepted as free text, as a key
	}{
		{"pad", true, true},
		{"张三🎁", true, true},
		{strings.Repeat("🎁", 10), true, true},
		{strings.Repeat("🎁", 11), false, false},
		{"pad ", true, false},
		{" pad", true, false},
		{"pa\u3000", true, false}, // ideographic space
		{"pa\td", true, false},
		{"pa\nd", true, false},
		{"pa\u0085d", true, false}, // C1 control
		{"pa\x00d", false, false},
		{"pa\xffd", false, false},
		{"pa\xed\xa0\x80d", false, false},
		{strings.Repeat("x", 1<<20), false, false},
		{"", true, true}, // not required
	}
	for _, c := range cases {
		err := commerce.CheckText("op", "f", c.s, false, 10)
		assert.Equal(t, c.text, err == nil, "text %q: %v", c.s, err)
		err = commerce.CheckKey("op", "f", c.s, false, 10)
		assert.Equal(t, c.key, err == nil, "key %q: %v", c.s, err)
		if err != nil {
			assert.Equal(t, commerce.KindInvalid, commerce.KindOf(err))
			var ce *commerce.Error
			if assert.ErrorAs(t, err, &ce) {
				assert.Equal(t, "f", ce.Field)
			}
		}
	}
	assert.Error(t, commerce.CheckText("op", "f", " ", true, 10), "required text is not all spaces")
	assert.Error(t, commerce.CheckKey("op", "f", "", true, 10))
	assert.Error(t, commerce.CheckCustomer("op", "customer", commerce.CustomerID(strings.Repeat("a", commerce.MaxKeyLen+1))))
	assert.NoError(t, commerce.CheckCustomer("op", "customer", commerce.CustomerID(strings.Repeat("中", commerce.MaxKeyLen))))
}
