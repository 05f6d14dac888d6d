package httpapi

import "net/http"

// Routes lists "METHOD path" of every endpoint h serves.
func Routes(h http.Handler) []string {
	a := h.(*api)
	out := []string{"GET /openapi.json"}
	for _, rt := range a.routes {
		out = append(out, rt.method+" "+rt.path)
	}
	return out
}
