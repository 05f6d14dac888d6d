// Package httpapi serves minishop over HTTP: a customer API that a Mini
// Program (or an H5 page) calls, and a merchant API for a console. Each is
// one http.Handler a host mounts on its own mux, under any prefix
// (http.StripPrefix) and behind any router that takes a handler:
//
//	engine, _ := minishop.New(store, minishop.WithPayments(wechatPay))
//	mux := http.NewServeMux()
//	mux.Handle("/api/", http.StripPrefix("/api", httpapi.NewCustomer(engine, sessions, httpapi.Config{})))
//	mux.Handle("/admin/", http.StripPrefix("/admin", httpapi.NewMerchant(engine, operators, httpapi.Config{})))
//	http.ListenAndServe(addr, mux)
//
// Authentication stays the host's: the customer API asks a Customers for
// the customer a request acts for (from the session of the WeChat login,
// say), the merchant API asks an Operators for the operator and the
// merchants it may touch. A request about another merchant's or another
// customer's records is answered 404, as if they did not exist.
//
// # Shapes
//
// Requests and responses are JSON with snake_case fields. Money is an
// object of a decimal string and an ISO 4217 code, {"amount": "12.30",
// "currency": "CNY"}; ids are strings; times are RFC 3339 in UTC. A list
// is {"items": [...], "next": "<cursor>"}: pass next back as ?after= for
// the following page; it is empty on the last.
//
// Every error is one shape, {"error": {"kind", "field", "message"}}, with
// the status its kind maps to:
//
//	invalid                400  malformed input; field names it
//	unauthenticated        401  the host's check refused the request
//	not_found              404  no such record for this merchant or customer
//	method_not_allowed     405
//	conflict               409  collides with existing state (an idempotency key reused with other input)
//	unsupported_media_type 415  a body that is not application/json
//	failed_precondition    422  well-formed, but the state does not allow it (out of stock, an illegal transition)
//	internal               500  the message says nothing more
//	unavailable            503  try again; Retry-After says when
//
// Bodies are limited (Config.MaxBody), decoded strictly (unknown fields
// and trailing data are refused) and must be sent as application/json. A
// POST that creates something (an order, a refund) needs an
// Idempotency-Key header: the same key returns what the first call made.
// Each request runs under Config.Timeout.
//
// GET /openapi.json on either handler serves its OpenAPI 3.1 document;
// tests check its paths against the routes the handler serves and its
// schemas against the Go types it encodes and decodes.
//
// # Links
//
// What customers pass around in chats is a token: a gift's claim link
// (Gift.Token, for its giver once paid), a group's link (Group.Link), a
// share of a coupon batch or a promoter's link (POST /share-links). Its
// holder may see what it stands for (GET /gift-links/{token}, GET
// /groups/{token}); acting on it (accepting a gift with one's own
// address, claiming a slot, joining a group with group_link at checkout,
// claiming a coupon with its token) still takes a customer. A page a link
// opens shows display names, never customer ids or addresses.
//
// The payment channels' notify URL is on the customer API, POST
// /notify/{provider}: it needs no customer (the channel signs it) and
// answers the channel as it expects, once applied and again on a repeat.
package httpapi
