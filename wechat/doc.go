// Package wechat speaks the WeChat platform's server APIs
// (api.weixin.qq.com) for a Mini Program or a Service Account: the access
// token, login, shipping-info upload, message push, subscription and
// template messages, Mini Program codes and links. It uses the standard
// library only; wechattest is its local platform.
//
// # The access token
//
// Every API call carries the app's access token. A Client fetches it
// (stable_token by default, see TokenEndpoint), keeps it in the Store as a
// record with its expiry so every process of the host uses the same one,
// and replaces it ahead of expiry (Config.RefreshAhead). One goroutine of
// one process fetches at a time: in the process a single flight, across
// processes a lease in the token's record taken by compare-and-swap. A call
// answered 40001, 40014 or 42001 drops the token, fetches a fresh one and is
// sent once more; minishop never forces a refresh (WeChat allows 20 a day
// and a forced refresh ends everyone's token). Neither the AppSecret nor a
// token appears in an error: net/http puts the URL in its errors, and the
// URL carries them, so transport errors are reported without it.
//
// # Errors
//
// Every error is a *commerce.Error with the operation ("wechat.<api>") and
// a kind; a platform answer with a non-zero errcode is an *APIError inside
// it (errors.As), classified by ErrorKind: busy, quotas and server errors
// are KindUnavailable (try later), bad codes and fields KindInvalid, other
// refusals KindFailedPrecondition.
//
// # Records
//
// What the package keeps (tokens, sessions, uploads, deliveries, credits,
// scene codes, pushes applied) is a Record in the Store: a JSON document
// under (kind, key) with a status and a due time, changed only by
// compare-and-swap on its version, so every rule holds across processes
// and across the nodes of a multi-primary cluster.
package wechat
