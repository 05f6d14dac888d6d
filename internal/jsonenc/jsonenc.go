// Package jsonenc writes the small JSON documents of outbox event payloads
// byte for byte as encoding/json would, without its reflection: every
// checkout writes several, and encoding them was a tenth of its CPU.
//
// Object writes a payload as json.Marshal writes a map[string]any of the
// same members; String and AppendUUID are its pieces, for payloads written
// field by field.
package jsonenc

import (
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// MaxMembers is how many members an Object holds.
const MaxMembers = 16

// Object is a JSON object written as json.Marshal writes a map[string]any
// holding the same values: keys sorted, strings escaped alike, the last
// value of a key kept. Values are kept as they are given, not boxed into
// an interface (each box was an allocation), and written by JSON. The zero
// Object is empty; payloads are written in code, so more than MaxMembers
// keys is a bug and panics.
type Object struct {
	mems [MaxMembers]member
	n    int
}

type kind uint8

const (
	kindString kind = iota
	kindInt
	kindBool
	kindUUID
	kindTime
)

type member struct {
	key  string
	kind kind
	s    string
	i    int64
	u    uuid.UUID
	t    time.Time
}

// set returns key's member, emptied.
func (o *Object) set(key string, k kind) *member {
	i := 0
	for i < o.n && o.mems[i].key != key {
		i++
	}
	if i == o.n {
		if o.n == MaxMembers {
			panic("jsonenc: more than MaxMembers members")
		}
		o.n++
	}
	o.mems[i] = member{key: key, kind: k}
	return &o.mems[i]
}

// String sets key to a string (of any string type: json.Marshal writes its
// value, unless the type is a marshaller).
func (o *Object) String(key, s string) { o.set(key, kindString).s = s }

// Int sets key to an integer.
func (o *Object) Int(key string, n int64) { o.set(key, kindInt).i = n }

// Bool sets key to a boolean.
func (o *Object) Bool(key string, v bool) {
	m := o.set(key, kindBool)
	if v {
		m.i = 1
	}
}

// UUID sets key to a UUID in its canonical text, as json.Marshal writes a
// uuid.UUID or a commerce ID (a TextMarshaler).
func (o *Object) UUID(key string, u uuid.UUID) { o.set(key, kindUUID).u = u }

// Time sets key to a time, as json.Marshal writes a time.Time.
func (o *Object) Time(key string, t time.Time) { o.set(key, kindTime).t = t }

// JSON returns the object's document. Its error is json.Marshal's for a
// time it cannot write (a year outside [0, 9999]).
func (o *Object) JSON() ([]byte, error) {
	ms := o.mems[:o.n]
	slices.SortFunc(ms, func(a, b member) int { return strings.Compare(a.key, b.key) })
	b := make([]byte, 0, 64*len(ms))
	b = append(b, '{')
	for i := range ms {
		m := &ms[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendString(b, m.key), ':')
		switch m.kind {
		case kindString:
			b = appendString(b, m.s)
		case kindInt:
			b = strconv.AppendInt(b, m.i, 10)
		case kindBool:
			b = strconv.AppendBool(b, m.i != 0)
		case kindUUID:
			b = append(AppendUUID(append(b, '"'), m.u), '"')
		case kindTime:
			var err error
			if b, err = m.t.AppendText(append(b, '"')); err != nil {
				_, err = json.Marshal(m.t) // encoding/json's error for it
				return nil, err
			}
			b = append(b, '"')
		}
	}
	return append(b, '}'), nil
}

// appendString appends s as json.Marshal writes it.
func appendString(b []byte, s string) []byte {
	if out, ok := String(b, s); ok {
		return out
	}
	q, _ := json.Marshal(s) // escaping is rare: encoding/json's own rules
	return append(b, q...)
}

// AppendUUID appends u's canonical text (as uuid.UUID.String writes it).
func AppendUUID(b []byte, u uuid.UUID) []byte {
	var buf [36]byte
	hex.Encode(buf[0:8], u[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], u[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], u[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], u[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:], u[10:])
	return append(b, buf[:]...)
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
