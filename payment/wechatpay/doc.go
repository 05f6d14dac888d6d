// Package wechatpay is minishop's adapter for WeChat Pay API v3 (JSAPI and
// Mini Program payments), for a direct merchant (直连商户) or a service
// provider (服务商) paying its sub-merchants, in mainland China or across
// the border (境外支付, see "Cross-border"). Client implements
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
// # Cross-border
//
// A cross-border merchant (境外商户, 境外支付) prices in its own currency and
// the payer, with a mainland wallet, pays CNY at WeChat's rate. Its client
// is the same Client, built with Config.CrossBorder and
// Config.MerchantCategoryCode (the four-digit MCC every order carries,
// merchant_category_code; New refuses a missing or malformed one, and one
// set without CrossBorder). BaseURL defaults to DefaultGlobalBaseURL
// (https://apihk.mch.weixin.qq.com) and every call goes to a /v3/global/
// path; WeChat answers a cross-border merchant on the domestic paths with
// INVALID_REQUEST 暂不支持境外支付. With Config.ServiceProvider it is an
// institutional merchant's (机构模式): sp_mchid, sp_appid, sub_mchid and
// sub_appid, from payment.Account as in partner mode; otherwise direct
// (mchid, appid).
//
//   - Prepay: POST /v3/global/transactions/jsapi with trade_type JSAPI
//     (Mini Programs too), merchant_category_code, amount{total, currency}
//     and payer{openid | sp_openid | sub_openid}; wx.requestPayment is
//     signed as domestically. Amounts are integers in the smallest unit of
//     their currency: USD 17.50 is 1750, JPY 1235 is 1235 (¥1,235), KRW has
//     no minor unit either. The digits come from ISO 4217 through x/text
//     (commerce.MinorDigits), never an assumed 2; for the few pricing
//     currencies where ISO and local practice differ (IDR, HUF, TWD, ISK…)
//     WeChat's unit is NOT CONFIRMED here. The currency must be one of
//     GlobalCurrencies; a fraction below the minor unit is refused, not
//     rounded. Profit sharing (settle_info) is not offered cross-border.
//     time_expire is sent as domestically (NOT CONFIRMED that the global
//     API takes it).
//   - Query: GET /v3/global/transactions/out-trade-no/{no}?mchid= (or
//     ?sp_mchid=&sub_mchid=). Close: POST …/out-trade-no/{no}/close with
//     the same merchant fields as domestic (path NOT CONFIRMED; it follows
//     the domestic shape).
//   - Amounts reported: amount{total, currency, payer_total,
//     payer_currency, exchange_rate{type, rate}}. Transaction.Amount is
//     total in currency; Transaction.Exchange is payer_total in
//     payer_currency with Rate = rate / 10^8 and RateType = type
//     (SETTLEMENT_RATE) when payer_currency differs from currency, nil when
//     it is the same or absent. The ×10^8 integer encoding is NOT CONFIRMED
//     officially; exchange_rate is read under amount, or beside it. A
//     payer_total without payer_currency, or a rate that is not a positive
//     integer, refuses the notification or answer (an error naming the
//     field); no rate at all leaves Exchange.Rate zero. The transaction id
//     is transaction_id, or id when only that is sent (NOT CONFIRMED which
//     WeChat sends).
//   - Refunds: POST /v3/global/refunds with out_trade_no or
//     transaction_id, out_refund_no, reason, notify_url, amount{refund,
//     total, currency} in the payment's currency (a refund in another is
//     refused before calling), and the merchant fields (mchid and appid, or
//     sp_mchid, sp_appid, sub_mchid and sub_appid: NOT CONFIRMED which
//     WeChat requires). WeChat refunds at the payment's rate; answers and
//     REFUND.* notifications carry amount{refund, currency, payer_refund,
//     payer_currency} (named as domestically, NOT CONFIRMED), which become
//     RefundResult.Amount and RefundResult.Exchange. Query: GET
//     /v3/global/refunds/out-refund-no/{no}?mchid= (or sp_mchid and
//     sub_mchid; path NOT CONFIRMED).
//   - NOT_ENOUGH: a cross-border refund is paid from the day's CNY funds;
//     when they cannot cover it WeChat answers NOT_ENOUGH and the refund
//     must be asked again later with the same out_refund_no. Refund
//     reports it as KindUnavailable wrapping ErrRefundFundsPending (and the
//     *APIError), so payment.Service keeps the refund pending and RunDue
//     sends it again under the same number. Domestically NOT_ENOUGH keeps
//     its usual failed-precondition kind.
//   - Notifications are signed, verified and encrypted exactly as
//     domestically; with DownloadCertificates the certificates come from
//     GET /v3/global/certificates.
//   - Shipping information: WeChat's shipping-info management
//     (发货信息管理) does not see cross-border payments. A cross-border
//     client's default name is DefaultGlobalName ("wechatpay_global"), not
//     DefaultName, so minishop's shipping upload, which acts only on the
//     providers it names (by default "wechatpay"), leaves these orders
//     alone. A host that names the client itself must keep it out of that
//     list.
//   - Customs declaration (报关): DeclareCustoms (POST
//     /v3/global/customs/orders; the method is NOT CONFIRMED),
//     QueryCustoms (GET /v3/global/customs/orders?appid&mchid&order_type
//     &order_no&customs&offset&limit), ModifyCustoms (PATCH
//     /v3/global/customs/orders: merchant_customs_no, duty, and order_fee
//     = transport_fee + product_fee, in CNY fen) and RedeclareCustoms (POST
//     /v3/global/customs/redeclare). A payment is named by transaction_id
//     or out_trade_no (order_type TRANSACTION_ID or OUT_TRADE_NO). They go
//     to the client's own host and are built for direct merchants only;
//     sub_order_no (split declarations) and the payer-identity fields are
//     not built. Declaration states are WeChat's strings (PROCESSING,
//     SUBMITTED, SUCCESS, FAIL, EXCEPT).
//
// minishop never converts between the currencies: the payment and its
// ledger are in the pricing currency, the payer's CNY side is recorded
// as the channel reported it (payment.Payment.Exchange,
// payment.Refund.Exchange).
//
// # Testing
//
// Package wechatpay/wechatpaytest runs a local WeChat Pay platform that
// checks request signatures and Wechatpay-Serial, keeps transactions,
// refunds, transfers and profit sharing, signs its responses and produces real (and deliberately broken)
// notifications. With Options.CrossBorder it plays the cross-border host
// (the /v3/global/ APIs, exchange rates, NOT_ENOUGH refunds).
package wechatpay
