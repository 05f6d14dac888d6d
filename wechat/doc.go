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
// # Login
//
// A Mini Program signs a customer in with a code from wx.login, good for
// one exchange within five minutes. Client.Login exchanges it
// (sns/jscode2session, with the AppSecret and no access token) for the
// customer's openid, unionid (when the app is bound to an Open Platform
// account) and session key. The session key never leaves the server: Login
// does not return it; it is kept in the Store (a KindSession record per
// openid, replaced at each login, as WeChat may change it at each wx.login)
// for DecryptUserData. A customer is known by their openid: Login binds the
// customer (the openid, or what Config.CustomerOf makes of the openid and
// unionid) to it in a KindCustomer record, and OpenIDOf finds the openid to
// address messages to a customer.
//
// The host's own API then needs a session of its own, as WeChat's session
// key must not reach the client: Sessions issues signed, expiring tokens
// (HMAC-SHA256 over the app, openid, customer and times, base64url) and
// verifies them, with a list of secrets so the host rotates them: the first
// signs, every one verifies. A token is signed, not encrypted: it shows its
// openid to whoever holds it.
//
// DecryptUserData opens the encrypted data the Mini Program's open APIs
// hand the client (the encryptedData and iv of wx.getPhoneNumber's older
// form, wx.getUserInfo and the like): AES-128-CBC with the customer's
// session key, PKCS#7 padding, and the watermark's appid checked against the
// app. The watermark's timestamp is left to the host (WeChat gives
// encrypted data no documented lifetime). Session keys are kept as WeChat
// hands them out, readable by whoever reads the store, like the access
// token.
//
// PhoneNumber wraps the newer phone-number API: the code of the
// phone-number button's bindgetphonenumber event, good once within five
// minutes like a wx.login code, is exchanged server-side
// (wxa/business/getuserphonenumber, with the access token) for the number
// the customer shared, its watermark's appid checked against the app (a
// mismatch is KindInternal). The number is returned, kept nowhere and never
// put in an error. A bad, used or expired code is KindInvalid for field
// "code"; busy is KindUnavailable.
//
// A login or a phone-number exchange is not retried by minishop (but once
// with a fresh access token, when WeChat refuses the token before it looks
// at the code): a code is spent by WeChat even when its answer is lost on
// the way, so a failed login (KindUnavailable) is retried by the Mini
// Program with a fresh wx.login code, and a failed exchange with the same
// code (KindInvalid if it was spent) or a fresh tap of the button.
//
// # Shipping info
//
// A Mini Program that takes WeChat Pay for goods is under WeChat's
// shipping-info management: the money of each payment stays frozen until
// the merchant uploads how it was sent (upload_shipping_info) and the buyer
// confirms receipt, or WeChat confirms it for them days later. Shipping is
// the relay that does it from the shop's outbox. When an order ships (the
// kernel's order.shipped), it uploads the order's shipment for its payment
// (the WeChat Pay transaction id and the payer's openid): by express in one
// parcel or split in up to 15, by a local courier, virtual (stored value,
// coupons sold as products) or collected at the shop. A group gift's
// parcels (one per claimer) are one split shipment of its one payment.
//
// The upload is a record per order worked at least once by the job runner,
// retried with back-off (10060001, "payment not found", is WeChat not having
// the payment yet and is retried like busy and quota answers). When an
// attempt's answer was lost (a timeout, a server error), the next attempt
// asks get_order first and does not upload again what WeChat already has:
// WeChat allows one update of a payment's shipping info, and minishop keeps
// it for the merchant. Each record keeps what was uploaded, WeChat's answer
// and the settlement; Failing lists the uploads WeChat refused for good and
// Retry sends one again once its cause is fixed.
//
// WeChat wants goods shipped within 48 hours of payment and a report of
// orders that cannot be (special orders, opspecialorder, with the expected
// date 15 to 330 days after payment). A paid order still unshipped
// ShippingConfig.ReportAfter after payment (36 hours by default) is
// reported once: a gift waiting for its recipient, a group buy forming, a
// presale. HandlePush applies WeChat's pushes: the estimated and final
// settlement (trade_manage_order_settlement) are kept on the order's record
// and announced as wechat.settlement_estimated and wechat.order_settled
// events; the reminders (trade_manage_remind_shipping,
// trade_manage_remind_access_api) become wechat.shipping_reminded and
// wechat.access_reminded events for the host to act on.
//
// # Message push
//
// PushHandler is the http.Handler of the app's developer server URL
// (服务器消息推送). It answers the GET verification by echoing echostr, and
// takes POSTed pushes in plaintext, compatible or safe mode, JSON or XML
// (told apart by the body's first byte). A push is refused unless its
// signature (sha1 of the sorted Token, timestamp and nonce) matches and its
// timestamp is within PushConfig.MaxClockSkew (default five minutes either
// side) of the client's clock. With an EncodingAESKey configured only
// encrypted pushes are taken: msg_signature (which also covers the
// ciphertext) is checked before anything is decrypted, the ciphertext is
// opened with AES-256-CBC under the current key and then the previous one
// (for a key rotation), and the app id sealed at its end must be the
// client's. Compatible-mode bodies are read from their encrypted part only.
// Plaintext mode authenticates the sender but not the body (WeChat signs
// only the timestamp and nonce), so safe mode is the one to use.
//
// Each push is applied once, whatever the redelivery (WeChat retries three
// times when it has no answer within five seconds): in one store
// transaction the handler inserts a record of kind KindPush keyed by the
// app, the sender, the CreateTime, the event and what the event is about,
// and calls the host's function, whose own writes commit with that record.
// A push whose record exists is answered "success" without calling it; a
// failed call rolls the record back and answers 500, so the retry applies
// it. Statuses: 200 "success" (applied or already applied), 400 malformed,
// 401 a bad signature or a stale timestamp, 403 not for this app (wrong app
// id or original id, undecryptable, or unencrypted when safe mode is
// required), 405, 413 over MaxPushBody, 500 the host's function failed.
// Neither the Token nor a key appears in an answer or an error.
//
// # Subscription and template messages
//
// Messages relays the shop's outbox (order paid, shipped, gift accepted,
// coupon and points expiring, commission settled...) to the customers'
// WeChat: each Template maps an event type to a subscription-message
// template, a page and a function building the fields from the event.
// Fields are checked against WeChat's per-type limits (CheckField) before
// anything is sent; a field that breaks them fails the delivery for the
// host to see (Failing), it is not retried.
//
// WeChat lets a Mini Program send a one-time subscription message only
// once per acceptance of its template. Messages keeps the acceptances as
// credits per (app, openid, template): reported by the client
// (Accepted, from wx.requestSubscribeMessage) or pushed
// (HandlePush, subscribe_msg_popup_event; a rejection in the settings,
// subscribe_msg_change_event, clears them). Report each acceptance from
// one source: counted twice, the extra credit only earns a 43101 refusal.
// A message is never sent without a credit; a long-term template needs an
// acceptance not since rejected instead.
//
// Each (event, template) is one delivery record, worked at least once by
// the job runner, retried with back-off on busy, quota and server errors.
// The credit is consumed, by compare-and-swap and in the same transaction
// that marks the delivery as holding it, before the API is called. So a
// crash or a lost answer cannot turn into a second message for the same
// acceptance: when the answer to a send is lost the message may have
// arrived, and a resend needs a second credit (the platform sees at most
// one message per acceptance; a rare customer sees a message twice only
// when they accepted twice). Without a second credit the delivery ends
// "unconfirmed". 43101 (refused) is final and the credit is spent.
//
// An event whose customer holds no credit waits ConsentWait for one (the
// client's report of an acceptance made while paying may come after the
// order.paid event), then falls back to the Service Account's template
// message (template/send, with a jump into the Mini Program) when the
// customer follows it, or is skipped: done, with the reason, and nothing
// sent. Waiting longer for a consent that may never come would keep the
// delivery open for ever. A customer OpenID does not know (KindNotFound)
// is skipped too.
//
// Deliveries are listed by status (Deliveries, Failing) and a failed one is
// made due again with Retry once its cause is fixed. Run may be called by
// any number of processes at once.
//
// # Mini Program codes and links
//
// UnlimitedCode draws a Mini Program code (wxacode.getUnlimited): a page and
// a scene of at most 32 characters, permanent and unlimited in number, for
// share cards, gift cards, promoter links and printed codes (a shelf, a
// table, a shop door). What minishop wants a code to carry (a signed share
// token, a promoter, a store's location) is longer than 32 characters, so
// Scene stores the payload as a record under a short code derived from its
// hash (the same payload always gets the same code, and one record, across
// processes) and ResolveScene gives it back when the Mini Program opens
// with that scene; ShareCode does both steps. Every parameter is checked
// before a call (the scene's characters, the page's form, the width, the
// version, the colour), so a bad one is a KindInvalid error naming its
// field; WeChat's per-minute limit (45009) is KindUnavailable, to retry.
//
// URLLink and URLScheme open the Mini Program from outside WeChat (SMS,
// e-mail, another app): an https://wxaurl.cn link or a weixin:// scheme,
// each living at most 30 days, as WeChat allows no permanent ones.
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
