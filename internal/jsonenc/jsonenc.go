// Package jsonenc writes the small JSON documents of outbox event payloads
// byte for byte as encoding/json would, without its reflection: every
// checkout writes several, and encoding them was a tenth of its CPU.
//
// It knows only the values payloads carry (strings, integers, booleans,
// json.Marshaler and encoding.TextMarshaler values such as IDs, money and
// times); for anything else, and for any string or marshaller output
// encoding/json would have to escape or compact, it reports ok false and
// the caller uses encoding/json itself.
package jsonenc

import (
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Map encodes m as json.Marshal does (keys sorted); ok is false when it
// cannot, and b is then undefined.
func Map(m map[string]any) (b []byte, ok bool) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = make([]byte, 0, 64*len(m))
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		if b, ok = String(b, k); !ok {
			return nil, false
		}
		b = append(b, ':')
		if b, ok = Value(b, m[k]); !ok {
			return nil, false
		}
	}
	return append(b, '}'), true
}

// Value appends v as json.Marshal would encode it.
func Value(b []byte, v any) ([]byte, bool) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Invalid, reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice:
		return b, false // nil and shared values: encoding/json's rules
	}
	switch x := v.(type) {
	case json.Marshaler:
		out, err := x.MarshalJSON()
		if err != nil || !plain(out) || !json.Valid(out) {
			return b, false
		}
		return append(b, out...), true
	case encoding.TextMarshaler:
		out, err := x.MarshalText()
		if err != nil {
			return b, false
		}
		return String(b, string(out))
	}
	switch rv.Kind() {
	case reflect.String:
		return String(b, rv.String())
	case reflect.Bool:
		return strconv.AppendBool(b, rv.Bool()), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(b, rv.Int(), 10), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.AppendUint(b, rv.Uint(), 10), true
	}
	return b, false
}

// String appends s quoted, when encoding/json would write it unescaped:
// printable ASCII other than the quote, the backslash and <, > and & (which
// it escapes for HTML).
func String(b []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return b, false
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), true
}

// plain reports whether a marshaller's output is what encoding/json would
// copy unchanged (if valid): no whitespace to compact and nothing to escape
// for HTML.
func plain(out []byte) bool {
	if len(out) == 0 {
		return false
	}
	for _, c := range out {
		if c <= ' ' || c >= utf8.RuneSelf || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}
