// Package wechatpaytest runs a local WeChat Pay API v3 platform for tests
// and demos: an httptest TLS server that plays api.mch.weixin.qq.com for
// one merchant.
//
// It is honest about the cryptography, so a client that passes against it
// signs and verifies the way WeChat Pay requires:
//
//   - every request's Authorization header is parsed and its SHA256withRSA
//     signature checked with the merchant's public key over method, path
//     with query, timestamp, nonce and body; a wrong signature, mchid,
//     serial_no or stale timestamp is answered 401 SIGN_ERROR;
//   - a request's Wechatpay-Serial, when sent, must be the platform's own
//     serial (the key the merchant verifies answers with); any other is
//     answered 400 INVALID_REQUEST, after the signature check. A request
//     without the header is served, as WeChat Pay serves merchants that
//     send none;
//   - every answer is signed with the platform's own RSA key and carries
//     Wechatpay-Timestamp, -Nonce, -Signature, -Serial and Request-ID;
//   - notifications are real: the resource is AES-256-GCM encrypted with the
//     APIv3 key and the envelope signed like a response.
//
// It keeps JSAPI payments and refunds in memory: prepay, query, close,
// refund and refund query behave like WeChat's (idempotent numbers, the
// paid-amount ceiling, closed and paid orders refused). Pay, FinishRefund
// and Deliver play the payer and WeChat's notifier; Tamper and
// TamperResponses produce the broken and forged messages a client must
// refuse. The crypto here is written separately from package wechatpay's, so
// a mistake in one is not mirrored in the other.
//
// With Options.CrossBorder it plays the cross-border host instead
// (apihk.mch.weixin.qq.com, see global.go): the /v3/global/ prepay, query,
// close, refund, refund query and certificate APIs for a direct or
// institutional merchant, trade_type and merchant_category_code required,
// amounts in any of WeChat's pricing currencies in their smallest unit,
// the payer's CNY side fixed at Pay (Options.Rates, half up) and refunds
// converted at the payment's rate so that they add up to payer_total.
// FailRefundsNotEnough plays the day's CNY refund funds running short.
// Domestic paths are answered INVALID_REQUEST 暂不支持境外支付.
//
// Either kind of platform serves a direct merchant's customs declarations
// (customs.go): declare, query, modify and redeclare under
// /v3/global/customs/, order_fee checked against transport_fee +
// product_fee; SetCustomsState plays the customs office.
//
// Error codes follow WeChat's error tables where they are known
// (PARAM_ERROR, SIGN_ERROR, ORDER_NOT_EXIST, RESOURCE_NOT_EXISTS,
// OUT_TRADE_NO_USED, ORDERPAID, ORDER_CLOSED, INVALID_REQUEST); the status
// codes of the business refusals are a best reading, not a contract.
package wechatpaytest
