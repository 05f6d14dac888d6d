package wechatpay

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/currency"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/payment"
)

var _ payment.Provider = (*Client)(nil)

// chinaTime is the +08:00 offset WeChat Pay writes its times in; time_expire
// is sent in it too, as WeChat's examples do.
var chinaTime = time.FixedZone("CST", 8*60*60)

// DefaultName is a client's provider name in payment records when
// Config.Name is empty.
const DefaultName = "wechatpay"

// Name returns the provider's name in payment records: Config.Name, or
// DefaultName.
func (c *Client) Name() string { return c.name }

// partner reports whether the client is a service provider's.
func (c *Client) partner() bool { return c.cfg.ServiceProvider }

// CheckAccount implements payment.AccountChecker: a service provider's
// client pays merchants into their sub-merchant accounts (one is
// required), a direct merchant's client into its own account (none is
// taken).
func (c *Client) CheckAccount(a payment.Account) error {
	if !c.partner() {
		if !a.IsDirect() || a.SubApp != "" {
			return fmt.Errorf("merchant %s is a direct merchant: it takes no sub-merchant (%q); a sub-merchant is paid through a service provider's client (Config.ServiceProvider)", c.cfg.MchID, a.SubMerchant)
		}
		return nil
	}
	if err := checkDigits(a.SubMerchant, 32); err != nil {
		return fmt.Errorf("sub_mchid: %v (a service provider's client pays into a sub-merchant's account)", err)
	}
	if a.SubApp != "" {
		if err := checkToken(a.SubApp, 32); err != nil {
			return fmt.Errorf("sub_appid: %v", err)
		}
	}
	return nil
}

// payingApp is the app a payment's payer pays in, and whether it is the
// sub-merchant's own (so the openid is a sub_openid): PayerApp, or by
// default the sub-merchant's app when it has one, else the client's app.
func (c *Client) payingApp(r payment.CreateRequest) (app string, sub bool, err error) {
	app = r.PayerApp
	if app == "" {
		app = r.Account.SubApp
	}
	if app == "" {
		app = c.cfg.AppID
	}
	switch {
	case r.Account.SubApp != "" && app == r.Account.SubApp:
		return app, true, nil
	case app == c.cfg.AppID:
		return app, false, nil
	case c.partner():
		return "", false, fmt.Errorf("%q is neither the service provider's app %s nor the sub-merchant's app %q", app, c.cfg.AppID, r.Account.SubApp)
	}
	return "", false, fmt.Errorf("%q is not the merchant's app %s", app, c.cfg.AppID)
}

// Wire types. Only the fields minishop uses are declared; WeChat adds
// fields over time and json ignores unknown ones.
type (
	wireAmount struct {
		Total    int64  `json:"total"`
		Currency string `json:"currency"`
	}
	// jsapiRequest is the direct prepay body (appid, mchid) and the
	// partner one (sp_appid, sp_mchid, sub_appid, sub_mchid): the rest is
	// the same.
	jsapiRequest struct {
		AppID       string     `json:"appid,omitempty"`
		MchID       string     `json:"mchid,omitempty"`
		SpAppID     string     `json:"sp_appid,omitempty"`
		SpMchID     string     `json:"sp_mchid,omitempty"`
		SubAppID    string     `json:"sub_appid,omitempty"`
		SubMchID    string     `json:"sub_mchid,omitempty"`
		Description string     `json:"description"`
		OutTradeNo  string     `json:"out_trade_no"`
		TimeExpire  string     `json:"time_expire,omitempty"`
		Attach      string     `json:"attach,omitempty"`
		NotifyURL   string     `json:"notify_url"`
		Amount      wireAmount `json:"amount"`
		Payer       wirePayer  `json:"payer"`
		// TradeType and MerchantCategoryCode are cross-border only (JSAPI,
		// Config.MerchantCategoryCode); domestic bodies leave them out.
		TradeType            string `json:"trade_type,omitempty"`
		MerchantCategoryCode string `json:"merchant_category_code,omitempty"`
		// SettleInfo opens the payment for profit sharing; absent, WeChat
		// settles it to the merchant at once and refuses sharing orders.
		SettleInfo *wireSettleInfo `json:"settle_info,omitempty"`
	}
	wireSettleInfo struct {
		ProfitSharing bool `json:"profit_sharing"`
	}
	// wirePayer is a direct payer (openid) or a partner one (sp_openid
	// under sp_appid, or sub_openid under sub_appid).
	wirePayer struct {
		OpenID    string `json:"openid,omitempty"`
		SpOpenID  string `json:"sp_openid,omitempty"`
		SubOpenID string `json:"sub_openid,omitempty"`
	}
	// wireTransaction is a transaction as the query API returns it and as a
	// TRANSACTION.* notification's resource decrypts to.
	wireTransaction struct {
		AppID          string     `json:"appid"`
		MchID          string     `json:"mchid"`
		SpAppID        string     `json:"sp_appid"`
		SpMchID        string     `json:"sp_mchid"`
		SubAppID       string     `json:"sub_appid"`
		SubMchID       string     `json:"sub_mchid"`
		OutTradeNo     string     `json:"out_trade_no"`
		TransactionID  string     `json:"transaction_id"`
		ID             string     `json:"id"` // cross-border: read when transaction_id is absent (see globalTxID)
		TradeType      string     `json:"trade_type"`
		TradeState     string     `json:"trade_state"`
		TradeStateDesc string     `json:"trade_state_desc"`
		Attach         string     `json:"attach"`
		SuccessTime    string     `json:"success_time"`
		Payer          *wirePayer `json:"payer"`
		Amount         *struct {
			Total         *int64            `json:"total"`
			PayerTotal    *int64            `json:"payer_total"`
			Currency      string            `json:"currency"`
			PayerCurrency string            `json:"payer_currency"`
			ExchangeRate  *wireExchangeRate `json:"exchange_rate"` // cross-border
		} `json:"amount"`
		ExchangeRate *wireExchangeRate `json:"exchange_rate"` // cross-border, when not under amount
	}
	// refundRequest is the domestic refund body (sub_mchid in partner
	// mode) and the cross-border one, which also names the merchant and
	// app (mchid, appid; or sp_mchid, sp_appid, sub_appid).
	refundRequest struct {
		MchID         string           `json:"mchid,omitempty"`
		AppID         string           `json:"appid,omitempty"`
		SpMchID       string           `json:"sp_mchid,omitempty"`
		SpAppID       string           `json:"sp_appid,omitempty"`
		SubMchID      string           `json:"sub_mchid,omitempty"`
		SubAppID      string           `json:"sub_appid,omitempty"`
		TransactionID string           `json:"transaction_id,omitempty"`
		OutTradeNo    string           `json:"out_trade_no,omitempty"`
		OutRefundNo   string           `json:"out_refund_no"`
		Reason        string           `json:"reason,omitempty"`
		NotifyURL     string           `json:"notify_url"`
		Amount        wireRefundAmount `json:"amount"`
	}
	wireRefundAmount struct {
		Refund   int64  `json:"refund"`
		Total    int64  `json:"total"`
		Currency string `json:"currency"`
	}
	// wireRefund is a refund as the refund API returns it (status) and as a
	// REFUND.* notification's resource decrypts to (refund_status, mchid).
	wireRefund struct {
		MchID         string `json:"mchid"`
		SpMchID       string `json:"sp_mchid"`
		SubMchID      string `json:"sub_mchid"`
		RefundID      string `json:"refund_id"`
		OutRefundNo   string `json:"out_refund_no"`
		TransactionID string `json:"transaction_id"`
		OutTradeNo    string `json:"out_trade_no"`
		Status        string `json:"status"`
		RefundStatus  string `json:"refund_status"`
		SuccessTime   string `json:"success_time"`
		CreateTime    string `json:"create_time"`
		Amount        *struct {
			Refund        *int64            `json:"refund"`
			Total         *int64            `json:"total"`
			PayerRefund   *int64            `json:"payer_refund"`
			PayerTotal    *int64            `json:"payer_total"`
			Currency      string            `json:"currency"`
			PayerCurrency string            `json:"payer_currency"`
			ExchangeRate  *wireExchangeRate `json:"exchange_rate"` // cross-border
		} `json:"amount"`
		ExchangeRate *wireExchangeRate `json:"exchange_rate"` // cross-border, when not under amount
	}
)

// CreatePayment opens a JSAPI / Mini Program payment and returns the signed
// parameters for wx.requestPayment. The request is checked before anything
// is sent: WeChat takes CNY only, in positive whole fen (a cross-border
// client: one of WeChat's pricing currencies, in positive whole minor
// units, see "Cross-border" in the package documentation).
//
// Calling it again with the same PaymentNo and the same parameters does not
// open a second payment: WeChat Pay keys the payment on out_trade_no (and
// refuses the number with other parameters).
func (c *Client) CreatePayment(ctx context.Context, r payment.CreateRequest) (*payment.Prepay, error) {
	const op = "wechatpay.create_payment"
	if err := checkOutTradeNo(r.PaymentNo); err != nil {
		return nil, commerce.Invalid(op, "PaymentNo", "%v", err)
	}
	if err := checkText(r.Description, 1, 127); err != nil {
		return nil, commerce.Invalid(op, "Description", "%v", err)
	}
	fen, err := c.toMinor(r.Amount)
	if err != nil {
		return nil, commerce.Invalid(op, "Amount", "%v", err)
	}
	if r.ProfitSharing && c.global() {
		return nil, commerce.Invalid(op, "ProfitSharing", "cross-border payments are not opened for profit sharing by this adapter")
	}
	if err := checkOpenID(r.Payer); err != nil {
		return nil, commerce.Invalid(op, "Payer", "%v", err)
	}
	if err := c.CheckAccount(r.Account); err != nil {
		return nil, commerce.Invalid(op, "Account", "%v", err)
	}
	app, subPayer, err := c.payingApp(r)
	if err != nil {
		return nil, commerce.Invalid(op, "PayerApp", "%v", err)
	}
	if err := checkText(r.Attach, 0, 128); err != nil {
		return nil, commerce.Invalid(op, "Attach", "%v", err)
	}
	req := jsapiRequest{
		Description: r.Description,
		OutTradeNo:  r.PaymentNo,
		Attach:      r.Attach,
		NotifyURL:   c.cfg.NotifyURL,
		Amount:      wireAmount{Total: fen, Currency: "CNY"},
	}
	if c.global() {
		req.Amount.Currency = r.Amount.Currency().String()
		req.TradeType, req.MerchantCategoryCode = "JSAPI", c.cfg.MerchantCategoryCode
	}
	if r.ProfitSharing {
		req.SettleInfo = &wireSettleInfo{ProfitSharing: true}
	}
	path := c.path("/v3/pay/transactions/jsapi", "/v3/global/transactions/jsapi")
	switch {
	case !c.partner():
		req.AppID, req.MchID, req.Payer.OpenID = c.cfg.AppID, c.cfg.MchID, r.Payer
	default:
		// sub_appid goes with every payment of a sub-merchant that has its
		// own app (WeChat requires it with a sub_openid and echoes it), so
		// notifications name it either way.
		path = c.path("/v3/pay/partner/transactions/jsapi", "/v3/global/transactions/jsapi")
		req.SpAppID, req.SpMchID = c.cfg.AppID, c.cfg.MchID
		req.SubAppID, req.SubMchID = r.Account.SubApp, r.Account.SubMerchant
		if subPayer {
			req.Payer.SubOpenID = r.Payer
		} else {
			req.Payer.SpOpenID = r.Payer
		}
	}
	if !r.ExpiresAt.IsZero() {
		if !r.ExpiresAt.After(c.now()) {
			return nil, commerce.Invalid(op, "ExpiresAt", "%s is not in the future", r.ExpiresAt.Format(time.RFC3339))
		}
		req.TimeExpire = r.ExpiresAt.In(chinaTime).Format(time.RFC3339)
	}
	var resp struct {
		PrepayID string `json:"prepay_id"`
	}
	if err := c.call(ctx, http.MethodPost, path, "", req, &resp); err != nil {
		return nil, wrapCall(op, err)
	}
	if err := checkToken(resp.PrepayID, 64); err != nil {
		return nil, fmt.Errorf("%s: response prepay_id: %v", op, err)
	}
	params, err := c.clientParams(app, resp.PrepayID)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return &payment.Prepay{PrepayID: resp.PrepayID, ClientParams: params}, nil
}

// clientParams signs the wx.requestPayment parameters for a prepay_id. The
// Mini Program passes them unchanged; WeChat checks paySign with the
// merchant certificate (the service provider's, in partner mode), so the
// client cannot alter the payment. appID is the app the payer pays in: the
// app their openid belongs to, or the payment fails in the client.
func (c *Client) clientParams(appID, prepayID string) (map[string]string, error) {
	ts := strconv.FormatInt(c.now().Unix(), 10)
	nonce := newNonce()
	pkg := "prepay_id=" + prepayID
	sig, err := signSHA256RSA(c.cfg.PrivateKey, payMessage(appID, ts, nonce, pkg))
	if err != nil {
		return nil, err
	}
	return map[string]string{
		"appId":     appID,
		"timeStamp": ts,
		"nonceStr":  nonce,
		"package":   pkg,
		"signType":  "RSA",
		"paySign":   sig,
	}, nil
}

// QueryPayment asks WeChat Pay for a payment by its out_trade_no.
func (c *Client) QueryPayment(ctx context.Context, acct payment.Account, paymentNo string) (*payment.Transaction, error) {
	const op = "wechatpay.query_payment"
	if err := checkOutTradeNo(paymentNo); err != nil {
		return nil, commerce.Invalid(op, "paymentNo", "%v", err)
	}
	if err := c.CheckAccount(acct); err != nil {
		return nil, commerce.Invalid(op, "acct", "%v", err)
	}
	var w wireTransaction
	path, query := c.path("/v3/pay/transactions/out-trade-no/", globalTxPrefix)+url.PathEscape(paymentNo), "mchid="+url.QueryEscape(c.cfg.MchID)
	if c.partner() {
		path = c.path("/v3/pay/partner/transactions/out-trade-no/", globalTxPrefix) + url.PathEscape(paymentNo)
		query = "sp_mchid=" + url.QueryEscape(c.cfg.MchID) + "&sub_mchid=" + url.QueryEscape(acct.SubMerchant)
	}
	if err := c.call(ctx, http.MethodGet, path, query, nil, &w); err != nil {
		return nil, wrapCall(op, err)
	}
	if mch, _ := c.merchantOf(&w); w.OutTradeNo != paymentNo || mch != c.cfg.MchID || w.SubMchID != acct.SubMerchant {
		return nil, fmt.Errorf("%s: answer is for out_trade_no %q of merchant %q (sub-merchant %q), asked for %q of %q (sub-merchant %q)",
			op, w.OutTradeNo, mch, w.SubMchID, paymentNo, c.cfg.MchID, acct.SubMerchant)
	}
	tx, err := c.toTransaction(&w)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return tx, nil
}

// ClosePayment closes an unpaid payment so the payer can no longer pay it.
// WeChat refuses to close a paid one (ORDERPAID, as an *APIError).
func (c *Client) ClosePayment(ctx context.Context, acct payment.Account, paymentNo string) error {
	const op = "wechatpay.close_payment"
	if err := checkOutTradeNo(paymentNo); err != nil {
		return commerce.Invalid(op, "paymentNo", "%v", err)
	}
	if err := c.CheckAccount(acct); err != nil {
		return commerce.Invalid(op, "acct", "%v", err)
	}
	if c.partner() {
		path := c.path("/v3/pay/partner/transactions/out-trade-no/", globalTxPrefix) + url.PathEscape(paymentNo) + "/close"
		body := struct {
			SpMchID  string `json:"sp_mchid"`
			SubMchID string `json:"sub_mchid"`
		}{c.cfg.MchID, acct.SubMerchant}
		return wrapCall(op, c.call(ctx, http.MethodPost, path, "", body, nil))
	}
	path := c.path("/v3/pay/transactions/out-trade-no/", globalTxPrefix) + url.PathEscape(paymentNo) + "/close"
	body := struct {
		MchID string `json:"mchid"`
	}{c.cfg.MchID}
	return wrapCall(op, c.call(ctx, http.MethodPost, path, "", body, nil))
}

// Refund asks WeChat Pay to return part or all of a paid payment. WeChat
// names the payment by one number only: transaction_id when ProviderRef is
// known (it cannot be mistyped into another merchant's order), out_trade_no
// otherwise. The same RefundNo sent again returns the same refund.
//
// A refund is usually PROCESSING when this returns; the outcome arrives as a
// REFUND.* notification.
func (c *Client) Refund(ctx context.Context, r payment.RefundRequest) (*payment.RefundResult, error) {
	const op = "wechatpay.refund"
	if err := checkOutRefundNo(r.RefundNo); err != nil {
		return nil, commerce.Invalid(op, "RefundNo", "%v", err)
	}
	if err := c.CheckAccount(r.Account); err != nil {
		return nil, commerce.Invalid(op, "Account", "%v", err)
	}
	req := refundRequest{SubMchID: r.Account.SubMerchant, OutRefundNo: r.RefundNo, NotifyURL: c.cfg.NotifyURL}
	if r.ProviderRef != "" {
		if err := checkTransactionID(r.ProviderRef); err != nil {
			return nil, commerce.Invalid(op, "ProviderRef", "%v", err)
		}
		req.TransactionID = r.ProviderRef
	} else {
		if err := checkOutTradeNo(r.PaymentNo); err != nil {
			return nil, commerce.Invalid(op, "PaymentNo", "%v", err)
		}
		req.OutTradeNo = r.PaymentNo
	}
	refund, err := c.toMinor(r.Amount)
	if err != nil {
		return nil, commerce.Invalid(op, "Amount", "%v", err)
	}
	total, err := c.toMinor(r.Total)
	if err != nil {
		return nil, commerce.Invalid(op, "Total", "%v", err)
	}
	if r.Amount.Currency() != r.Total.Currency() {
		// Only a cross-border client gets here: a refund is in the
		// payment's currency.
		return nil, commerce.Invalid(op, "Amount", "%s is not in the payment's currency %s", r.Amount, r.Total.Currency())
	}
	if refund > total {
		return nil, commerce.Invalid(op, "Amount", "%s is more than the payment's total %s", r.Amount, r.Total)
	}
	if err := checkText(r.Reason, 0, 80); err != nil {
		return nil, commerce.Invalid(op, "Reason", "%v", err)
	}
	req.Reason = r.Reason
	req.Amount = wireRefundAmount{Refund: refund, Total: total, Currency: "CNY"}
	path := "/v3/refund/domestic/refunds"
	if c.global() {
		path = globalRefundPath
		req.Amount.Currency = r.Total.Currency().String()
		c.globalRefundParties(&req, r.Account)
	}
	var w wireRefund
	if err := c.call(ctx, http.MethodPost, path, "", req, &w); err != nil {
		return nil, c.wrapRefundCall(op, err)
	}
	if w.OutRefundNo != r.RefundNo {
		return nil, fmt.Errorf("%s: answer is for out_refund_no %q, asked for %q", op, w.OutRefundNo, r.RefundNo)
	}
	res, err := c.toRefundResult(&w, w.Status)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	// The refund API's answer names no merchant: it is the account asked.
	res.Account = payment.Account{SubMerchant: r.Account.SubMerchant}
	return res, nil
}

// QueryRefund asks WeChat Pay for a refund by out_refund_no (GET
// /v3/refund/domestic/refunds/{out_refund_no}), for when its notification
// never came.
func (c *Client) QueryRefund(ctx context.Context, acct payment.Account, refundNo string) (*payment.RefundResult, error) {
	const op = "wechatpay.query_refund"
	if err := checkOutRefundNo(refundNo); err != nil {
		return nil, commerce.Invalid(op, "refundNo", "%v", err)
	}
	if err := c.CheckAccount(acct); err != nil {
		return nil, commerce.Invalid(op, "acct", "%v", err)
	}
	var query string
	if c.partner() {
		query = "sub_mchid=" + url.QueryEscape(acct.SubMerchant)
	}
	path := "/v3/refund/domestic/refunds/" + url.PathEscape(refundNo)
	if c.global() {
		path, query = globalRefundQueryPrefix+url.PathEscape(refundNo), c.globalMerchantQuery(acct)
	}
	var w wireRefund
	if err := c.call(ctx, http.MethodGet, path, query, nil, &w); err != nil {
		return nil, wrapCall(op, err)
	}
	if w.OutRefundNo != refundNo {
		return nil, fmt.Errorf("%s: answer is for out_refund_no %q, asked for %q", op, w.OutRefundNo, refundNo)
	}
	res, err := c.toRefundResult(&w, w.Status)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	res.Account = payment.Account{SubMerchant: acct.SubMerchant}
	return res, nil
}

// merchantOf is the merchant and app a transaction names: mchid and appid
// for a direct merchant's, sp_mchid and sp_appid (the service provider)
// for a partner one.
func (c *Client) merchantOf(w *wireTransaction) (mch, app string) {
	if c.partner() {
		return w.SpMchID, w.SpAppID
	}
	return w.MchID, w.AppID
}

// wrapCall classifies a failed call for minishop's error kinds: platform
// answers keep their *APIError (which reports its own kind), verification
// failures stay internal, and transport failures (timeouts, refused
// connections) are unavailable: every call is idempotent, so it can be
// retried.
func wrapCall(op string, err error) error {
	if err == nil {
		return nil
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) || errors.Is(err, ErrVerification) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return commerce.Errorf(op, commerce.KindUnavailable, "%w", err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// ErrorKind classifies the answer for minishop's commerce.KindOf: unknown
// orders are not found, refused parameters invalid, business refusals
// (ORDERPAID, ORDER_CLOSED, insufficient balance) failed preconditions,
// rate limits and server errors unavailable.
func (e *APIError) ErrorKind() commerce.Kind {
	switch {
	case e.StatusCode == http.StatusNotFound:
		return commerce.KindNotFound
	case e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500:
		return commerce.KindUnavailable
	case e.StatusCode == http.StatusForbidden:
		return commerce.KindFailedPrecondition
	case e.StatusCode == http.StatusBadRequest && e.Code == "PARAM_ERROR":
		return commerce.KindInvalid
	case e.StatusCode == http.StatusBadRequest:
		return commerce.KindFailedPrecondition
	}
	return commerce.KindInternal // 401 SIGN_ERROR and the like: our configuration
}

// toTransaction maps a verified transaction. Amount is amount.total, the
// order amount the payment covers: with a WeChat Pay voucher the payer's
// own share (payer_total) is less, but the order is paid in full. A
// cross-border transaction's amount is in its pricing currency, and its
// payer side becomes Exchange (see globalExchange).
func (c *Client) toTransaction(w *wireTransaction) (*payment.Transaction, error) {
	if w.OutTradeNo == "" {
		return nil, errors.New("transaction has no out_trade_no")
	}
	tx := &payment.Transaction{
		PaymentNo:   w.OutTradeNo,
		ProviderRef: w.TransactionID,
		Attach:      w.Attach,
		Merchant:    w.MchID,
		App:         w.AppID,
		Account:     payment.Account{SubMerchant: w.SubMchID, SubApp: w.SubAppID},
	}
	if w.SpMchID != "" {
		tx.Merchant, tx.App = w.SpMchID, w.SpAppID
	}
	switch w.TradeState {
	case "SUCCESS", "REFUND":
		tx.State = payment.TxSucceeded
	case "NOTPAY", "USERPAYING":
		tx.State = payment.TxPending
	case "CLOSED", "REVOKED":
		tx.State = payment.TxClosed
	case "PAYERROR":
		tx.State = payment.TxFailed
	default:
		return nil, fmt.Errorf("transaction %s: unknown trade_state %q", w.OutTradeNo, truncate(w.TradeState, 32))
	}
	if w.Payer != nil {
		tx.Payer = cmp.Or(w.Payer.OpenID, w.Payer.SubOpenID, w.Payer.SpOpenID)
	}
	if w.Amount != nil && w.Amount.Total != nil {
		m, err := c.fromMinor(*w.Amount.Total, w.Amount.Currency)
		if err != nil {
			return nil, fmt.Errorf("transaction %s: amount: %w", w.OutTradeNo, err)
		}
		tx.Amount = m
	}
	if c.global() {
		tx.ProviderRef = globalTxID(w)
		if w.Amount != nil {
			x, err := globalExchange(w.Amount.Currency, w.Amount.PayerTotal, w.Amount.PayerCurrency, "payer_total",
				cmp.Or(w.Amount.ExchangeRate, w.ExchangeRate))
			if err != nil {
				return nil, fmt.Errorf("transaction %s: amount: %w", w.OutTradeNo, err)
			}
			tx.Exchange = x
		}
	}
	if tx.State == payment.TxSucceeded && !tx.Amount.IsSet() {
		return nil, fmt.Errorf("transaction %s: paid without amount.total", w.OutTradeNo)
	}
	if w.SuccessTime != "" {
		t, err := time.Parse(time.RFC3339, w.SuccessTime)
		if err != nil {
			return nil, fmt.Errorf("transaction %s: success_time %q is not RFC 3339", w.OutTradeNo, truncate(w.SuccessTime, 40))
		}
		tx.PaidAt = t
	}
	return tx, nil
}

// toRefundResult maps a verified refund; status is the API's status or the
// notification's refund_status. A cross-border refund's payer side
// (payer_refund in payer_currency) becomes Exchange.
func (c *Client) toRefundResult(w *wireRefund, status string) (*payment.RefundResult, error) {
	if w.OutRefundNo == "" {
		return nil, errors.New("refund has no out_refund_no")
	}
	res := &payment.RefundResult{RefundNo: w.OutRefundNo, PaymentNo: w.OutTradeNo, ProviderRef: w.RefundID,
		Account: payment.Account{SubMerchant: w.SubMchID}}
	switch status {
	case "PROCESSING":
		res.State = payment.RefundProcessing
	case "SUCCESS":
		res.State = payment.RefundSucceeded
	case "CLOSED":
		res.State = payment.RefundFailed
		res.Reason = "CLOSED: WeChat Pay closed the refund; nothing was returned"
	case "ABNORMAL":
		res.State = payment.RefundFailed
		res.Reason = "ABNORMAL: the payer's account could not take the refund (frozen or closed card or account); resolve it on the merchant platform"
	default:
		return nil, fmt.Errorf("refund %s: unknown status %q", w.OutRefundNo, truncate(status, 32))
	}
	if w.Amount == nil || w.Amount.Refund == nil {
		return nil, fmt.Errorf("refund %s: no amount.refund", w.OutRefundNo)
	}
	m, err := c.fromMinor(*w.Amount.Refund, w.Amount.Currency)
	if err != nil {
		return nil, fmt.Errorf("refund %s: amount: %w", w.OutRefundNo, err)
	}
	res.Amount = m
	if c.global() {
		x, err := globalExchange(w.Amount.Currency, w.Amount.PayerRefund, w.Amount.PayerCurrency, "payer_refund",
			cmp.Or(w.Amount.ExchangeRate, w.ExchangeRate))
		if err != nil {
			return nil, fmt.Errorf("refund %s: amount: %w", w.OutRefundNo, err)
		}
		res.Exchange = x
	}
	at := w.SuccessTime
	if at == "" {
		at = w.CreateTime
	}
	if at != "" {
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			return nil, fmt.Errorf("refund %s: time %q is not RFC 3339", w.OutRefundNo, truncate(at, 40))
		}
		res.At = t
	}
	return res, nil
}

// toFen converts an amount to WeChat's integer fen, refusing anything
// WeChat Pay would refuse (other currencies, fractions of a fen, zero or
// negative amounts) before a request is made.
func toFen(m commerce.Money) (int64, error) {
	if !m.IsSet() {
		return 0, errors.New("missing")
	}
	if m.Currency() != currency.CNY {
		return 0, fmt.Errorf("%s: WeChat Pay takes CNY only", m)
	}
	fen, err := m.Minor()
	if err != nil {
		return 0, err
	}
	if fen <= 0 {
		return 0, fmt.Errorf("%s: must be positive", m)
	}
	return fen, nil
}

func fromFen(fen int64, cur string) (commerce.Money, error) {
	if cur != "" && cur != "CNY" {
		return commerce.Money{}, fmt.Errorf("currency %q, want CNY", truncate(cur, 8))
	}
	if fen < 0 {
		return commerce.Money{}, fmt.Errorf("negative amount %d fen", fen)
	}
	return commerce.FromMinor(fen, currency.CNY), nil
}

// checkOutTradeNo applies WeChat's out_trade_no rule: 6 to 32 of digits,
// letters and _-|*. The 32 and the charset are WeChat's field table; the
// minimum of 6 is as the table is commonly quoted, not re-confirmed, and
// numbers minishop generates are longer anyway.
func checkOutTradeNo(s string) error {
	return checkNo(s, 6, 32, "_-|*", "out_trade_no")
}

// checkOutRefundNo applies WeChat's out_refund_no rule: up to 64 of digits,
// letters and _-|*@.
func checkOutRefundNo(s string) error {
	return checkNo(s, 1, 64, "_-|*@", "out_refund_no")
}

func checkNo(s string, minLen, maxLen int, extra, name string) error {
	if s == "" {
		return fmt.Errorf("missing (%s)", name)
	}
	if len(s) < minLen || len(s) > maxLen {
		return fmt.Errorf("%q: %s must be %d to %d characters", truncate(s, 80), name, minLen, maxLen)
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; !isAlnum(b) && !containsByte(extra, b) {
			return fmt.Errorf("%q: %s may contain only digits, letters and %s", s, name, extra)
		}
	}
	return nil
}

func checkTransactionID(s string) error {
	if len(s) > 32 {
		return fmt.Errorf("%q: transaction_id is at most 32 characters", truncate(s, 80))
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) {
			return fmt.Errorf("%q: transaction_id may contain only digits and letters", s)
		}
	}
	return nil
}

// checkOpenID accepts what WeChat openids are made of (letters, digits, _
// and -), at most 128 characters.
func checkOpenID(s string) error {
	if s == "" {
		return errors.New("missing (the payer's openid under the app, required for JSAPI payments)")
	}
	if len(s) > 128 {
		return errors.New("openid longer than 128 characters")
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; !isAlnum(b) && b != '_' && b != '-' {
			return fmt.Errorf("%q is not an openid", truncate(s, 80))
		}
	}
	return nil
}

// checkText checks free text WeChat shows or echoes: valid UTF-8, no
// control characters, between minLen and maxLen characters.
func checkText(s string, minLen, maxLen int) error {
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	n := utf8.RuneCountInString(s)
	if n < minLen {
		return errors.New("missing")
	}
	if n > maxLen {
		return fmt.Errorf("%d characters, at most %d allowed", n, maxLen)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("control character %U not allowed", r)
		}
	}
	return nil
}

func isAlnum(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

func containsByte(s string, b byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return true
		}
	}
	return false
}
