package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// metrics counts what the server does, served in the Prometheus text
// format: requests and their latency by route and status, errors by
// kind, checkouts, payments and every outbox event by type.
type metrics struct {
	mu       sync.Mutex
	requests map[[3]string]uint64 // route, method+pattern, status
	latency  map[string]*histogram
	errors   map[string]uint64
	events   map[string]uint64
}

// buckets are the latency histogram's upper bounds, in seconds.
var buckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

type histogram struct {
	counts []uint64 // per bucket, not cumulative
	sum    float64
	n      uint64
}

func newMetrics() *metrics {
	return &metrics{requests: map[[3]string]uint64{}, latency: map[string]*histogram{}, errors: map[string]uint64{}, events: map[string]uint64{}}
}

// kinds are the APIs' error kinds by status.
var kinds = map[int]string{400: "invalid", 401: "unauthenticated", 404: "not_found", 405: "method_not_allowed", 409: "conflict",
	415: "unsupported_media_type", 422: "failed_precondition", 500: "internal", 503: "unavailable"}

func (m *metrics) request(route string, status int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[[3]string{route, fmt.Sprint(status)}]++
	h := m.latency[route]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(buckets)+1)}
		m.latency[route] = h
	}
	s := d.Seconds()
	i, _ := slices.BinarySearch(buckets, s)
	h.counts[i]++
	h.sum += s
	h.n++
	if k, ok := kinds[status]; ok {
		m.errors[k]++
	}
}

func (m *metrics) event(typ string) {
	m.mu.Lock()
	m.events[typ]++
	m.mu.Unlock()
}

// ServeHTTP writes the metrics in the Prometheus text exposition format.
func (m *metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	b.WriteString("# HELP minishop_http_requests_total API requests by route and status.\n# TYPE minishop_http_requests_total counter\n")
	for _, k := range sortedKeys(m.requests, func(k [3]string) string { return k[0] + " " + k[1] }) {
		fmt.Fprintf(&b, "minishop_http_requests_total{route=%q,status=%q} %d\n", k[0], k[1], m.requests[k])
	}
	b.WriteString("# HELP minishop_http_request_duration_seconds API request latency by route.\n# TYPE minishop_http_request_duration_seconds histogram\n")
	for _, route := range sortedKeys(m.latency, func(k string) string { return k }) {
		h := m.latency[route]
		var cum uint64
		for i, le := range buckets {
			cum += h.counts[i]
			fmt.Fprintf(&b, "minishop_http_request_duration_seconds_bucket{route=%q,le=\"%g\"} %d\n", route, le, cum)
		}
		fmt.Fprintf(&b, "minishop_http_request_duration_seconds_bucket{route=%q,le=\"+Inf\"} %d\n", route, h.n)
		fmt.Fprintf(&b, "minishop_http_request_duration_seconds_sum{route=%q} %g\n", route, h.sum)
		fmt.Fprintf(&b, "minishop_http_request_duration_seconds_count{route=%q} %d\n", route, h.n)
	}
	b.WriteString("# HELP minishop_http_errors_total API error replies by kind.\n# TYPE minishop_http_errors_total counter\n")
	for _, k := range sortedKeys(m.errors, func(k string) string { return k }) {
		fmt.Fprintf(&b, "minishop_http_errors_total{kind=%q} %d\n", k, m.errors[k])
	}
	b.WriteString("# HELP minishop_checkouts_total Orders placed.\n# TYPE minishop_checkouts_total counter\n")
	fmt.Fprintf(&b, "minishop_checkouts_total %d\n", m.events["order.created"])
	b.WriteString("# HELP minishop_payments_total Orders paid.\n# TYPE minishop_payments_total counter\n")
	fmt.Fprintf(&b, "minishop_payments_total %d\n", m.events["order.paid"])
	b.WriteString("# HELP minishop_events_total Outbox events relayed, by type.\n# TYPE minishop_events_total counter\n")
	for _, k := range sortedKeys(m.events, func(k string) string { return k }) {
		fmt.Fprintf(&b, "minishop_events_total{type=%q} %d\n", k, m.events[k])
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}

func sortedKeys[K comparable, V any](m map[K]V, name func(K) string) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b K) int { return strings.Compare(name(a), name(b)) })
	return keys
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// instrument logs and measures each request of an API by its route
// pattern (the handler's mux sets it on the request it is given).
func (s *server) instrument(prefix string, h http.Handler, quiet bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		} else if method, path, ok := strings.Cut(route, " "); ok {
			route = method + " " + prefix + path
		}
		d := time.Since(start)
		s.metrics.request(route, sw.status, d)
		if !quiet || sw.status >= 500 {
			s.log.Info("request", "route", route, "status", sw.status, "ms", float64(d.Microseconds())/1000)
		}
	})
}
