// Package wechattest runs a local WeChat platform (api.weixin.qq.com) for
// tests and demos: a real HTTP server on loopback that plays the server
// APIs package wechat calls, for one app.
//
// It checks every call the way the platform does: the access token must be
// one it handed out and still valid (40001 otherwise, 42001 once expired),
// classic tokens end the previous ones five minutes after a new one is
// fetched, stable tokens stay the same until five minutes before their end,
// bodies are decoded strictly (unknown fields are refused), and openids
// must be users of the app (40003). Requests are logged with the token and
// secret blanked, for assertions.
//
// Faults makes it fail a share of the calls (HTTP 500, errcode -1 busy,
// 45009 rate limit, or an answer lost after the work was done), from a
// seeded source so a failing run repeats; Heal ends it.
//
// # Pushes
//
// Push sends a message to a developer server the way WeChat does: signed
// with the Token (signature over the timestamp and nonce), in plaintext,
// compatible or safe mode (AES-256-CBC under the EncodingAESKey, the app id
// sealed after the message, msg_signature over the ciphertext), in JSON or
// XML, with ToUserName the app's original id. Typed events
// (OrderSettlement, RemindShipping, RemindAccessAPI, SubscriptionEvent)
// are checked as the platform would send them (a subscription event's
// openid must be a user of the app); Fields, a map or raw bytes push
// anything. PushOptions.Tamper, Rewrite, AppID and Time spoil a push in
// the ways the handler must refuse, and PushRequest builds the request
// without sending it.
package wechattest
