package wechat

import "net/http"

// OpenPush runs what the push handler h does to a POST before the store:
// the signatures, the clock window, the decryption and the parsing. It
// returns the message, or the status of the refusal.
func OpenPush(h http.Handler, r *http.Request) (*Message, int) {
	m, ref := h.(*pushHandler).message(r)
	if ref != nil {
		return nil, ref.status
	}
	return m, http.StatusOK
}
