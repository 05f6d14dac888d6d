// Package wechatpay is minishop's adapter for WeChat Pay API v3 (JSAPI and
// Mini Program payments), for a direct merchant (直连商户) or a service
// provider (服务商) paying its sub-merchants. Client implements
// payment.Provider: it
// opens payments (prepay), queries and closes them, asks for refunds and
// verifies the notifications WeChat Pay posts back.
//
// It speaks the API directly with the standard library: every request is
// signed with the merchant's API key, every response and notification is
// verified against the platform's key before a byte of it is believed, and
// notification resources are decrypted with the APIv3 key. There is no
// third-party SDK underneath.
//
// # Configuration
//
// All values come from the WeChat Pay merchant platform (商户平台 → 账户中心
// → API安全) and the Mini Program's own settings:
//
//   - MchID: the merchant number (商户号), digits.
//   - AppID: the Mini Program (or Official Account) bound to the merchant.
//     The payer's openid must belong to this app or WeChat rejects the
//     prepay.
//   - SerialNo and PrivateKey: the merchant API certificate's serial number
//     and its private key (apiclient_key.pem, read with ParsePrivateKey).
//     Requests are signed with the key; the serial tells WeChat which
//     certificate to check them against.
//   - APIv3Key: the 32-byte APIv3 key set on the merchant platform. It is the
//     AES-256-GCM key of notification resources, so it must be exactly 32
//     bytes.
//   - PlatformKeys: the keys WeChat Pay signs with, by the identifier it
//     sends in the Wechatpay-Serial header. Older merchants use platform
//     certificates (the key is the certificate's, the identifier its serial:
//     ParseCertificate gives both); newer merchants get a WeChat Pay public
//     key and its ID (PUB_KEY_ID_…; read the key with ParsePublicKey). During
//     a rotation configure both the old and the new key. A response or
//     notification naming a serial that is not configured is rejected: the
//     adapter never tries another key, because an attacker chooses the
//     serial. Every request names the key the client verifies with in its
//     own Wechatpay-Serial header, so WeChat Pay signs the answer with it:
//     the only configured key, or, with several, the one public-key ID
//     among them (during the switch from certificates to the public key).
//     With no single choice (several certificates, or several public keys)
//     the header is left out and WeChat signs with the platform
//     certificate it chooses, which must be configured. WeChat Pay answers
//     a serial it does not have for the merchant with 400 INVALID_REQUEST;
//     the error names the serial sent.
//   - NotifyURL: where WeChat Pay posts payment and refund notifications.
//     WeChat requires HTTPS and no query string. Plain http is accepted only
//     for loopback hosts (localhost, 127.0.0.0/8, ::1), so tests and local
//     demos can receive notifications from a local platform; WeChat itself
//     will never reach such a URL.
//   - BaseURL: the API host, https://api.mch.weixin.qq.com unless set (the
//     backup host is https://api2.mch.weixin.qq.com). Like NotifyURL it must
//     be HTTPS unless it is a loopback host.
//   - HTTPClient: the client for API calls; by default one with a 30 second
//     timeout (http.DefaultClient never times out) that does not follow
//     redirects (WeChat Pay sends none, and a request is signed for one URL).
//   - Now and MaxSkew: the clock and the freshness window for signed
//     responses and notifications (five minutes unless set, WeChat's own
//     figure). Anything signed further from Now is rejected as a replay.
//
// New checks every field and names the one that is wrong.
//
// # Service providers
//
// A service provider runs many merchants' shops under its own WeChat Pay
// account. Its Client has Config.ServiceProvider set: MchID and AppID are
// the provider's (sp_mchid, sp_appid), the keys are the provider's, and
// every call is made for a sub-merchant, named by the payment.Account the
// payment service keeps per merchant (payment.Service.SetAccount: sub_mchid,
// and sub_appid when the merchant has its own Mini Program). Prepay, query,
// close, refund and refund query use the partner endpoints and fields; a
// notification's sub_mchid comes back in Transaction.Account, and the
// payment service rejects one that is not the payment's.
//
// Which openid the payer sends depends on the app the customer pays in
// (CreateRequest.PayerApp): in the sub-merchant's own Mini Program it is a
// sub_openid and wx.requestPayment is signed for sub_appid; in the
// provider's it is a sp_openid signed for sp_appid. A payment signed for
// the wrong app passes the server and fails in the client, so the choice
// is made once, here. A process that is both a direct merchant and a
// provider runs two clients under two names (Config.Name), and
// CheckAccount keeps each to its own kind of account.
//
// # Notifications
//
// A host mounts an http.Handler at NotifyURL that calls
// Client.ParseNotification and answers with NotificationAck. WeChat Pay
// retries a notification until it is acknowledged (for about 24 hours), and
// may deliver the same one more than once, so the handler must be idempotent:
// key on Notification.ID or on the payment and refund numbers. If no
// notification arrives, QueryPayment tells the state.
//
// ParseNotification believes only what it verified: the signature over the
// exact body received, a timestamp within MaxSkew, a configured serial, the
// signature type WECHATPAY2-SHA256-RSA2048 when Wechatpay-Signature-Type is
// sent, the AEAD_AES_256_GCM resource decrypted with the APIv3 key, and a
// merchant number that is this merchant's. The envelope's create_time must
// be RFC 3339 (it becomes Notification.CreatedAt); a notification without
// it, or with another format, is refused as KindInvalid naming the field.
// Callers must still compare the payment's amount and app with their own
// order before marking it paid, as WeChat advises against forged or
// mistaken notifications.
//
// API responses are verified the same way except for the signature type:
// WeChat Pay signs responses one way only, so Wechatpay-Signature-Type on a
// response is ignored, neither required nor refused.
//
// # Profit sharing
//
// Client implements payment.Sharer (分账): a payment opened with
// CreateRequest.ProfitSharing (settle_info.profit_sharing) stays frozen at
// WeChat, and sharing orders send parts of it to receivers: a business by
// its merchant number (MERCHANT_ID), a person by an openid under the app
// the account pays in (PERSONAL_OPENID under Config.AppID,
// PERSONAL_SUB_OPENID under a sub-merchant's sub_appid; ShareApps lists
// them). A receiver must be added first (AddReceiver, per merchant or
// sub-merchant; a business with its full registered name), or WeChat
// closes its line with NO_RELATION. Names travel encrypted like a
// transfer's (RSA-OAEP with the platform key named in Wechatpay-Serial).
//
// ValidateShare refuses, naming the field, what WeChat would: 1 to 50
// receivers, out_order_no of at most 64 of [0-9A-Za-z_-|*@], amounts in
// positive whole fen, descriptions of 1 to 80 characters, and receivers
// other than the merchant itself over Paid × the maximum ratio
// (Config.MaxSharingRatio, WeChat's default 30 %; a sub-merchant's is
// WeChat's, see SharingRatio, and WeChat enforces it). What only WeChat
// knows it refuses itself: a payment not opened for sharing, a share
// sooner than about a minute after payment or after the 30-day freeze
// period (when WeChat has unfrozen the rest on its own), more than 50
// sharing requests a payment, more than is left unshared (403 NOT_ENOUGH,
// see Unsplit; a refund takes from the frozen money first).
//
// A sharing order answers processing and finishes on WeChat's time, each
// receiver succeeded or closed with a reason. WeChat notifies receivers,
// not the merchant that shares, so the sharer polls QueryShare until the
// order is finished; there is no sharing notification to parse. An order
// with UnfreezeRest, or UnfreezeShare, releases the rest to the merchant
// and ends the payment's sharing. ReturnShare takes back, from a business
// receiver only, at most what an order paid it (20 returns an order).
// Every call is keyed by the merchant's number (out_order_no,
// out_return_no): after an error or no answer, send the same request
// again; the same number with other fields is refused.
//
// # Testing
//
// Package wechatpay/wechatpaytest runs a local WeChat Pay platform that
// checks request signatures and Wechatpay-Serial, keeps transactions,
// refunds, transfers and profit sharing, signs its responses and produces real (and deliberately broken)
// notifications.
package wechatpay
