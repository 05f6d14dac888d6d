package sqlstore

import (
	"encoding/json"
	"sync"
)

// decoded remembers the values of documents read lately, by their exact
// text. The same bytes always decode to the same value, so a document
// every checkout reads (the merchant's membership program, a coupon
// batch) is decoded from JSON once instead of on every read, and a change
// to it is a new text, decoded afresh. Every read gets its own deep copy.
// When full it starts over: the documents read often come back at once.
type decoded[T any] struct {
	mu    sync.Mutex
	byDoc map[string]*T
	clone func(*T) *T
}

// maxDecoded bounds each cache: documents are a few KB at most.
const maxDecoded = 256

// get returns a copy of doc decoded into a new T; what contains names the
// document in a decoding error.
func (c *decoded[T]) get(doc string, what string) (*T, error) {
	c.mu.Lock()
	v, ok := c.byDoc[doc]
	c.mu.Unlock()
	if ok {
		return c.clone(v), nil
	}
	v = new(T)
	if err := json.Unmarshal([]byte(doc), v); err != nil {
		return nil, &docError{what: what, err: err}
	}
	keep := c.clone(v)
	c.mu.Lock()
	if c.byDoc == nil || len(c.byDoc) >= maxDecoded {
		c.byDoc = make(map[string]*T)
	}
	c.byDoc[doc] = keep
	c.mu.Unlock()
	return v, nil
}

// docError is a stored document that does not decode.
type docError struct {
	what string
	err  error
}

func (e *docError) Error() string { return "sqlstore: " + e.what + " document: " + e.err.Error() }
func (e *docError) Unwrap() error { return e.err }
