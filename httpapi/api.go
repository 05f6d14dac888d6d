package httpapi

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	minishop "github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
)

// Config tunes both handlers. The zero value is usable.
type Config struct {
	// MaxBody is the largest request body read (default 64 KiB): larger
	// ones are refused with 400 before anything is decoded.
	MaxBody int64
	// Timeout bounds each request's work (default 10 s): the services see
	// a context that ends then.
	Timeout time.Duration
	// RetryAfter is what a 503 tells the client to wait (default 1 s).
	RetryAfter time.Duration
	// OnError hears of every internal error before the client gets its
	// bare 500 (log it); nil ignores them.
	OnError func(r *http.Request, err error)
}

func (c Config) withDefaults() Config {
	if c.MaxBody <= 0 {
		c.MaxBody = 64 << 10
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = time.Second
	}
	return c
}

// A route is one endpoint: the OpenAPI document lists exactly these.
type route struct {
	method, path string
	handle       func(w http.ResponseWriter, r *http.Request) error
}

// api is what both handlers share: the engine, the config and the mux of
// their routes.
type api struct {
	engine *minishop.Engine
	cfg    Config
	mux    *http.ServeMux
	routes []route
	doc    []byte
}

func newAPI(e *minishop.Engine, cfg Config, doc []byte, routes []route) *api {
	a := &api{engine: e, cfg: cfg.withDefaults(), mux: http.NewServeMux(), routes: routes, doc: doc}
	for _, rt := range routes {
		a.mux.HandleFunc(rt.method+" "+rt.path, a.serve(rt.handle))
	}
	a.mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(a.doc)
	})
	return a
}

// ServeHTTP answers unknown paths and methods in the API's error shape.
func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := a.mux.Handler(r)
	if pattern == "" {
		// The mux's own 404 or 405 (with its Allow header): in our shape.
		rec := &statusOnly{header: w.Header()}
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusMethodNotAllowed {
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "", r.Method+" is not allowed here")
			return
		}
		writeError(w, http.StatusNotFound, "not_found", "", "no endpoint "+r.URL.Path)
		return
	}
	a.mux.ServeHTTP(w, r)
}

// statusOnly records the status the mux's fallback handler writes and
// drops its plain-text body.
type statusOnly struct {
	header http.Header
	status int
}

func (s *statusOnly) Header() http.Header         { return s.header }
func (s *statusOnly) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusOnly) WriteHeader(code int)        { s.status = code }

// serve runs an endpoint under the timeout and the body limit, and writes
// its error.
func (a *api) serve(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), a.cfg.Timeout)
		defer cancel()
		r = r.WithContext(ctx)
		r.Body = http.MaxBytesReader(w, r.Body, a.cfg.MaxBody)
		if err := h(w, r); err != nil {
			a.fail(w, r, err)
		}
	}
}

// An apiError is an error the handlers make themselves (a bad header, an
// unknown customer), with the status and kind it is answered with.
type apiError struct {
	status      int
	kind, field string
	msg         string
}

func (e *apiError) Error() string { return e.msg }

func invalid(field, format string, args ...any) error {
	return &apiError{status: http.StatusBadRequest, kind: "invalid", field: field, msg: fmt.Sprintf(format, args...)}
}

func notFound(what string) error {
	return &apiError{status: http.StatusNotFound, kind: "not_found", msg: what + " not found"}
}

// ErrUnauthenticated is what a Customers or Operators returns (or wraps)
// for a request it does not accept: answered 401.
var ErrUnauthenticated = errors.New("unauthenticated")

// fail writes err in the error shape with the status of its kind.
func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		writeError(w, ae.status, ae.kind, ae.field, ae.msg)
		return
	case errors.As(err, &mbe):
		writeError(w, http.StatusBadRequest, "invalid", "body", fmt.Sprintf("the body is over %d bytes", mbe.Limit))
		return
	case errors.Is(err, ErrUnauthenticated):
		writeError(w, http.StatusUnauthorized, "unauthenticated", "", err.Error())
		return
	case errors.Is(err, context.DeadlineExceeded) && r.Context().Err() != nil:
		w.Header().Set("Retry-After", strconv.Itoa(int(a.cfg.RetryAfter.Seconds()+0.5)))
		writeError(w, http.StatusServiceUnavailable, "unavailable", "", "the request took too long")
		return
	}
	var field string
	var ce *commerce.Error
	if errors.As(err, &ce) {
		field = ce.Field
	}
	switch commerce.KindOf(err) {
	case commerce.KindInvalid:
		writeError(w, http.StatusBadRequest, "invalid", field, err.Error())
	case commerce.KindNotFound:
		writeError(w, http.StatusNotFound, "not_found", field, err.Error())
	case commerce.KindConflict:
		writeError(w, http.StatusConflict, "conflict", field, err.Error())
	case commerce.KindFailedPrecondition:
		writeError(w, http.StatusUnprocessableEntity, "failed_precondition", field, err.Error())
	case commerce.KindUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(a.cfg.RetryAfter.Seconds()+0.5))))
		writeError(w, http.StatusServiceUnavailable, "unavailable", "", "try again later")
	default:
		if a.cfg.OnError != nil {
			a.cfg.OnError(r, err)
		}
		writeError(w, http.StatusInternalServerError, "internal", "", "internal error")
	}
}

// Problem is the error shape: {"error": Problem}.
type Problem struct {
	Kind    string `json:"kind"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, kind, field, msg string) {
	writeJSON(w, status, map[string]Problem{"error": {Kind: kind, Field: field, Message: msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"kind":"internal","message":"internal error"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// decode reads the JSON body into v strictly: application/json only, no
// unknown fields, nothing after the value. An empty body leaves v as it is
// when optional.
func decode(r *http.Request, v any, optional bool) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		if optional {
			return nil
		}
		return invalid("body", "a JSON body is required")
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return &apiError{status: http.StatusUnsupportedMediaType, kind: "unsupported_media_type", field: "Content-Type",
			msg: "send the body as application/json"}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid(jsonField(err), "malformed JSON: %v", err)
	}
	if dec.More() {
		return invalid("body", "data after the JSON value")
	}
	return nil
}

// jsonField names the field a decoding error is about, when it says.
func jsonField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		// The path of JSON names, less the Go names of embedded structs.
		parts := strings.Split(te.Field, ".")
		parts = slices.DeleteFunc(parts, func(p string) bool { return p != "" && unicode.IsUpper(rune(p[0])) })
		return strings.Join(parts, ".")
	}
	if s, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return strings.Trim(s, `"`)
	}
	return "body"
}

// idempotencyKey is the request's Idempotency-Key header, required.
func idempotencyKey(r *http.Request) (string, error) {
	k := strings.TrimSpace(r.Header.Get("Idempotency-Key"))
	if k == "" {
		return "", invalid("Idempotency-Key", "the Idempotency-Key header is required on this request")
	}
	return k, nil
}

// pathID parses the path value name as a typed id.
func pathID[I any, P interface {
	*I
	UnmarshalText([]byte) error
}](r *http.Request, name string) (I, error) {
	id, err := commerce.ParseID[I, P](r.PathValue(name))
	if err != nil {
		var zero I
		return zero, notFound(name)
	}
	return id, nil
}

// pageOf reads ?limit= (1..100, default 20) and the ?after= cursor as a
// typed id (zero when absent).
func pageOf[I any, P interface {
	*I
	UnmarshalText([]byte) error
}](r *http.Request) (int, I, error) {
	var zero I
	limit := 20
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			return 0, zero, invalid("limit", "limit %q is not a number in [1, 100]", s)
		}
		limit = n
	}
	s := r.URL.Query().Get("after")
	if s == "" {
		return limit, zero, nil
	}
	id, err := commerce.ParseID[I, P](s)
	if err != nil {
		return 0, zero, invalid("after", "cursor %q is not one this API gave", s)
	}
	return limit, id, nil
}

// List is a page of items; Next is the cursor of the following page
// (empty on the last).
type List[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next"`
}

// listOf makes a page of views; a full page has a next cursor.
func listOf[R any, T any](rows []R, limit int, view func(R) T, id func(R) string) List[T] {
	l := List[T]{Items: make([]T, 0, len(rows))}
	for _, r := range rows {
		l.Items = append(l.Items, view(r))
	}
	if len(rows) == limit && limit > 0 {
		l.Next = id(rows[len(rows)-1])
	}
	return l
}
