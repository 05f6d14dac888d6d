package wechatpaytest

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// chinaTime is the offset WeChat Pay writes times in.
var chinaTime = time.FixedZone("CST", 8*60*60)

func wxTime(t time.Time) string { return t.In(chinaTime).Format(time.RFC3339) }

// order is a JSAPI payment as the platform keeps it.
type order struct {
	appID, description, outTradeNo, attach, notifyURL, openID string
	total                                                     int64
	timeExpire                                                time.Time
	timeExpireText                                            string
	prepayID                                                  string
	state                                                     string // NOTPAY, SUCCESS, REFUND, CLOSED
	transactionID                                             string
	successTime                                               time.Time
	refunded                                                  int64 // sum of refunds not CLOSED
	refundCount                                               int
	// A service provider's order: its sub-merchant, the sub-merchant's app
	// (when sent), and whether openID is a sub_openid.
	subMchID, subAppID string
	subPayer           bool
	// profitSharing: opened with settle_info.profit_sharing, so the paid
	// money stays frozen for sharing (profitsharing.go keeps the rest).
	profitSharing bool
	share         *shareFunds
	g             *globalOrder // a cross-border order's extra fields (global.go); nil for a domestic one
}

type refund struct {
	outRefundNo, refundID, reason, notifyURL, status string
	o                                                *order
	amount                                           int64
	frozen                                           int64 // the part taken from a profit-sharing payment's frozen funds
	payerRefund                                      int64 // cross-border: what the payer gets back, in the payer currency
	created, success                                 time.Time
}

// Order is a snapshot of a payment on the platform.
type Order struct {
	OutTradeNo, TransactionID, PrepayID string
	AppID, OpenID, Description, Attach  string
	NotifyURL, TimeExpire               string
	State                               string // WeChat trade_state: NOTPAY, SUCCESS, REFUND, CLOSED
	Total, Refunded                     int64  // fen
	PaidAt                              time.Time
	ProfitSharing                       bool // opened with settle_info.profit_sharing
	// Cross-border orders only (Options.CrossBorder): Total and Refunded
	// are in Currency's smallest unit; the payer paid PayerTotal (in
	// PayerCurrency's smallest unit) at Rate (CNY per unit of Currency);
	// PayerRefunded is what refunds not CLOSED gave back of it.
	Currency, TradeType, MerchantCategoryCode string
	PayerCurrency                             string
	PayerTotal, PayerRefunded                 int64
	Rate                                      decimal.Decimal
}

// Refund is a snapshot of a refund on the platform.
type Refund struct {
	OutRefundNo, RefundID, OutTradeNo, TransactionID string
	Status                                           string // PROCESSING, SUCCESS, CLOSED, ABNORMAL
	Amount                                           int64  // fen
	Reason, NotifyURL                                string
	CreatedAt, SuccessAt                             time.Time
	// Cross-border refunds only: Amount is in Currency's smallest unit, and
	// the payer got PayerRefund back in PayerCurrency.
	Currency, PayerCurrency string
	PayerRefund             int64
}

// Order returns the payment with out_trade_no no, if the platform has it.
func (p *Platform) Order(no string) (Order, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	o, ok := p.orders[no]
	if !ok {
		return Order{}, false
	}
	p.expire(o)
	out := Order{
		OutTradeNo: o.outTradeNo, TransactionID: o.transactionID, PrepayID: o.prepayID,
		AppID: o.appID, OpenID: o.openID, Description: o.description, Attach: o.attach,
		NotifyURL: o.notifyURL, TimeExpire: o.timeExpireText, State: o.state,
		Total: o.total, Refunded: o.refunded, PaidAt: o.successTime, ProfitSharing: o.profitSharing,
	}
	if g := o.g; g != nil {
		out.Currency, out.TradeType, out.MerchantCategoryCode = g.currency, g.tradeType, g.mcc
		out.PayerCurrency, out.PayerTotal, out.PayerRefunded, out.Rate = g.payerCurrency, g.payerTotal, g.payerRefunded, g.rate
	}
	return out, true
}

// Refund returns the refund with out_refund_no no, if the platform has it.
func (p *Platform) Refund(no string) (Refund, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.refunds[no]
	if !ok {
		return Refund{}, false
	}
	out := Refund{
		OutRefundNo: r.outRefundNo, RefundID: r.refundID, OutTradeNo: r.o.outTradeNo,
		TransactionID: r.o.transactionID, Status: r.status, Amount: r.amount,
		Reason: r.reason, NotifyURL: r.notifyURL, CreatedAt: r.created, SuccessAt: r.success,
	}
	if g := r.o.g; g != nil {
		out.Currency, out.PayerCurrency, out.PayerRefund = g.currency, g.payerCurrency, r.payerRefund
	}
	return out, true
}

// expire closes an unpaid order whose time_expire has passed. Callers hold
// p.mu.
func (p *Platform) expire(o *order) {
	if o.state == "NOTPAY" && !o.timeExpire.IsZero() && !p.now().Before(o.timeExpire) {
		o.state = "CLOSED"
	}
}

// decodeStrict decodes a request body, refusing unknown fields so a
// client's misspelt field is caught rather than silently ignored.
func decodeStrict(body []byte, v any) *apiError {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errorf(400, "PARAM_ERROR", "body does not match the API: %v", err)
	}
	if dec.More() {
		return errorf(400, "PARAM_ERROR", "trailing data after the JSON body")
	}
	return nil
}

// prepayBody is what the direct and the partner prepay bodies share.
type prepayBody struct {
	Description string `json:"description"`
	OutTradeNo  string `json:"out_trade_no"`
	TimeExpire  string `json:"time_expire"`
	Attach      string `json:"attach"`
	NotifyURL   string `json:"notify_url"`
	Amount      *struct {
		Total    int64  `json:"total"`
		Currency string `json:"currency"`
	} `json:"amount"`
	// Real fields the platform accepts and ignores.
	GoodsTag      json.RawMessage `json:"goods_tag"`
	LimitPay      json.RawMessage `json:"limit_pay"`
	SupportFapiao json.RawMessage `json:"support_fapiao"`
	Detail        json.RawMessage `json:"detail"`
	SceneInfo     json.RawMessage `json:"scene_info"`
	SettleInfo    json.RawMessage `json:"settle_info"`
}

type jsapiBody struct {
	AppID string `json:"appid"`
	MchID string `json:"mchid"`
	prepayBody
	Payer *struct {
		OpenID string `json:"openid"`
	} `json:"payer"`
}

// profitSharing reads settle_info: {"profit_sharing": bool}, nothing else.
func (b *prepayBody) profitSharing() (bool, *apiError) {
	if len(b.SettleInfo) == 0 || string(b.SettleInfo) == "null" {
		return false, nil
	}
	var s struct {
		ProfitSharing *bool `json:"profit_sharing"`
	}
	if e := decodeStrict(b.SettleInfo, &s); e != nil || s.ProfitSharing == nil {
		return false, errorf(400, "PARAM_ERROR", "settle_info must be {\"profit_sharing\": true|false}")
	}
	return *s.ProfitSharing, nil
}

// checkPrepay applies the rules every prepay body follows and returns its
// time_expire.
func (p *Platform) checkPrepay(b *prepayBody) (time.Time, *apiError) {
	return p.checkPrepayIn(b, false)
}

// checkPrepayIn is checkPrepay for a domestic body (global false: CNY
// only) or a cross-border one (one of the pricing currencies, required).
func (p *Platform) checkPrepayIn(b *prepayBody, global bool) (time.Time, *apiError) {
	if _, e := b.profitSharing(); e != nil {
		return time.Time{}, e
	}
	switch {
	case !validNo(b.OutTradeNo, 6, 32, "_-|*"):
		return time.Time{}, errorf(400, "PARAM_ERROR", "out_trade_no %q must be 6-32 of 0-9a-zA-Z_-|*", b.OutTradeNo)
	case b.Description == "" || !utf8.ValidString(b.Description) || utf8.RuneCountInString(b.Description) > 127:
		return time.Time{}, errorf(400, "PARAM_ERROR", "description must be 1-127 characters")
	case utf8.RuneCountInString(b.Attach) > 128:
		return time.Time{}, errorf(400, "PARAM_ERROR", "attach longer than 128 characters")
	case global && (b.Amount == nil || b.Amount.Total <= 0):
		return time.Time{}, errorf(400, "PARAM_ERROR", "amount.total must be a positive integer in the currency's smallest unit")
	case global && !pricingCurrencies[b.Amount.Currency]:
		return time.Time{}, errorf(400, "PARAM_ERROR", "amount.currency %q is not a cross-border pricing currency", b.Amount.Currency)
	case b.Amount == nil || b.Amount.Total <= 0:
		return time.Time{}, errorf(400, "PARAM_ERROR", "amount.total must be a positive number of fen")
	case !global && b.Amount.Currency != "" && b.Amount.Currency != "CNY":
		return time.Time{}, errorf(400, "PARAM_ERROR", "amount.currency must be CNY")
	}
	if msg := checkNotifyURL(b.NotifyURL, true); msg != "" {
		return time.Time{}, errorf(400, "PARAM_ERROR", "notify_url: %s", msg)
	}
	if b.TimeExpire == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, b.TimeExpire)
	if err != nil {
		return time.Time{}, errorf(400, "PARAM_ERROR", "time_expire %q is not RFC 3339", b.TimeExpire)
	}
	if !t.After(p.now()) {
		return time.Time{}, errorf(400, "INVALID_REQUEST", "time_expire %s has passed", b.TimeExpire)
	}
	return t, nil
}

func (p *Platform) jsapi(body []byte) (int, any) {
	var b jsapiBody
	if e := decodeStrict(body, &b); e != nil {
		return 0, e
	}
	switch {
	case p.partner:
		return 0, errorf(403, "NO_AUTH", "服务商 %s takes payments for its sub-merchants through the partner APIs", p.mchID)
	case b.MchID != p.mchID:
		return 0, errorf(400, "PARAM_ERROR", "mchid %q does not match the signing merchant", b.MchID)
	case b.AppID != p.appID:
		return 0, errorf(400, "APPID_MCHID_NOT_MATCH", "appid %q is not bound to merchant %s", b.AppID, p.mchID)
	case b.Payer == nil || b.Payer.OpenID == "":
		return 0, errorf(400, "PARAM_ERROR", "payer.openid is required for JSAPI")
	}
	expire, e := p.checkPrepay(&b.prepayBody)
	if e != nil {
		return 0, e
	}
	ps, _ := b.profitSharing() // checked by checkPrepay
	p.mu.Lock()
	defer p.mu.Unlock()
	if o, ok := p.orders[b.OutTradeNo]; ok {
		p.expire(o)
		switch {
		case o.state == "SUCCESS" || o.state == "REFUND":
			return 0, errorf(403, "ORDERPAID", "order %s is already paid", o.outTradeNo)
		case o.state == "CLOSED":
			return 0, errorf(403, "ORDER_CLOSED", "order %s is closed", o.outTradeNo)
		case o.total != b.Amount.Total || o.openID != b.Payer.OpenID || o.description != b.Description ||
			o.attach != b.Attach || o.appID != b.AppID || o.timeExpireText != b.TimeExpire || o.profitSharing != ps:
			return 0, errorf(403, "OUT_TRADE_NO_USED", "out_trade_no %s was used with other parameters", o.outTradeNo)
		}
		// The same order placed again: the same payment, and its prepay_id.
		return 200, map[string]string{"prepay_id": o.prepayID}
	}
	o := &order{
		appID: b.AppID, description: b.Description, outTradeNo: b.OutTradeNo, attach: b.Attach,
		notifyURL: b.NotifyURL, openID: b.Payer.OpenID, total: b.Amount.Total,
		timeExpire: expire, timeExpireText: b.TimeExpire, state: "NOTPAY",
		prepayID:      "wx" + p.now().In(chinaTime).Format("20060102150405") + randHex(20),
		profitSharing: ps,
	}
	p.orders[o.outTradeNo] = o
	return 200, map[string]string{"prepay_id": o.prepayID}
}

// transactionJSON is a transaction as the query API returns it and as
// TRANSACTION.* notifications carry it.
func (p *Platform) transactionJSON(o *order) map[string]any {
	t := map[string]any{
		"appid":            o.appID,
		"mchid":            p.mchID,
		"out_trade_no":     o.outTradeNo,
		"trade_type":       "JSAPI",
		"trade_state":      o.state,
		"trade_state_desc": stateDesc[o.state],
		"payer":            map[string]string{"openid": o.openID},
	}
	if o.attach != "" {
		t["attach"] = o.attach
	}
	amount := map[string]any{"total": o.total, "currency": "CNY", "payer_currency": "CNY"}
	if o.transactionID != "" {
		t["transaction_id"] = o.transactionID
		t["bank_type"] = "OTHERS"
		t["success_time"] = wxTime(o.successTime)
		amount["payer_total"] = o.total
	}
	if o.g != nil {
		amount = p.globalAmount(o)
		t["trade_type"] = o.g.tradeType
	}
	t["amount"] = amount
	if o.subMchID != "" {
		return p.partnerTransaction(o, t)
	}
	return t
}

var stateDesc = map[string]string{
	"NOTPAY":  "订单未支付",
	"SUCCESS": "支付成功",
	"REFUND":  "转入退款",
	"CLOSED":  "订单已关闭",
}

func (p *Platform) queryOrder(no, mchID string) (int, any) {
	if p.partner {
		return 0, errorf(403, "NO_AUTH", "服务商 %s queries through the partner APIs", p.mchID)
	}
	if mchID != p.mchID {
		return 0, errorf(400, "PARAM_ERROR", "query parameter mchid %q does not match the signing merchant", mchID)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	o, ok := p.orders[no]
	if !ok {
		return 0, errorf(404, "ORDER_NOT_EXIST", "订单不存在 (out_trade_no %s)", no)
	}
	p.expire(o)
	return 200, p.transactionJSON(o)
}

func (p *Platform) closeOrder(no string, body []byte) (int, any) {
	var b struct {
		MchID string `json:"mchid"`
	}
	if e := decodeStrict(body, &b); e != nil {
		return 0, e
	}
	if p.partner {
		return 0, errorf(403, "NO_AUTH", "服务商 %s closes through the partner APIs", p.mchID)
	}
	if b.MchID != p.mchID {
		return 0, errorf(400, "PARAM_ERROR", "mchid %q does not match the signing merchant", b.MchID)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	o, ok := p.orders[no]
	if !ok {
		return 0, errorf(404, "ORDER_NOT_EXIST", "订单不存在 (out_trade_no %s)", no)
	}
	p.expire(o)
	switch o.state {
	case "SUCCESS", "REFUND":
		return 0, errorf(403, "ORDERPAID", "order %s is paid and cannot be closed", no)
	}
	o.state = "CLOSED" // closing a closed order is a no-op
	return http.StatusNoContent, nil
}

type refundBody struct {
	SubMchID      string `json:"sub_mchid"`
	TransactionID string `json:"transaction_id"`
	OutTradeNo    string `json:"out_trade_no"`
	OutRefundNo   string `json:"out_refund_no"`
	Reason        string `json:"reason"`
	NotifyURL     string `json:"notify_url"`
	Amount        *struct {
		Refund   int64           `json:"refund"`
		Total    int64           `json:"total"`
		Currency string          `json:"currency"`
		From     json.RawMessage `json:"from"`
	} `json:"amount"`
	FundsAccount json.RawMessage `json:"funds_account"`
	GoodsDetail  json.RawMessage `json:"goods_detail"`
}

// checkRefundIDs checks what every refund request names the same way: the
// payment (by one of its two numbers), the refund number and the reason.
func checkRefundIDs(transactionID, outTradeNo, outRefundNo, reason string) *apiError {
	switch {
	case (transactionID == "") == (outTradeNo == ""):
		return errorf(400, "PARAM_ERROR", "give exactly one of transaction_id and out_trade_no")
	case !validNo(outRefundNo, 1, 64, "_-|*@"):
		return errorf(400, "PARAM_ERROR", "out_refund_no %q must be 1-64 of 0-9a-zA-Z_-|*@", outRefundNo)
	case utf8.RuneCountInString(reason) > 80:
		return errorf(400, "PARAM_ERROR", "reason longer than 80 characters")
	}
	return nil
}

func (p *Platform) createRefund(body []byte) (int, any) {
	var b refundBody
	if e := decodeStrict(body, &b); e != nil {
		return 0, e
	}
	if e := checkRefundIDs(b.TransactionID, b.OutTradeNo, b.OutRefundNo, b.Reason); e != nil {
		return 0, e
	}
	switch {
	case b.Amount == nil || b.Amount.Refund <= 0 || b.Amount.Total <= 0:
		return 0, errorf(400, "PARAM_ERROR", "amount.refund and amount.total must be positive numbers of fen")
	case b.Amount.Currency != "CNY":
		return 0, errorf(400, "PARAM_ERROR", "amount.currency must be CNY")
	}
	if b.NotifyURL != "" {
		if msg := checkNotifyURL(b.NotifyURL, true); msg != "" {
			return 0, errorf(400, "PARAM_ERROR", "notify_url: %s", msg)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if r, ok := p.refunds[b.OutRefundNo]; ok {
		return 200, p.refundJSON(r) // the same out_refund_no is the same refund
	}
	o, ok := p.orders[b.OutTradeNo]
	if b.TransactionID != "" {
		o, ok = p.byTxID[b.TransactionID]
	}
	if !ok {
		return 0, errorf(404, "RESOURCE_NOT_EXISTS", "订单不存在")
	}
	p.expire(o)
	if e := p.checkRefundSub(o, b.SubMchID); e != nil {
		return 0, e
	}
	switch {
	case o.state == "CLOSED":
		return 0, errorf(403, "ORDER_CLOSED", "order %s is closed; nothing was paid", o.outTradeNo)
	case o.state == "NOTPAY":
		return 0, errorf(400, "INVALID_REQUEST", "order %s is not paid", o.outTradeNo)
	case b.Amount.Total != o.total:
		return 0, errorf(400, "INVALID_REQUEST", "amount.total %d does not match the order's %d", b.Amount.Total, o.total)
	case o.refunded+b.Amount.Refund > o.total:
		return 0, errorf(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额: refund %d, %d of %d already refunded", b.Amount.Refund, o.refunded, o.total)
	case o.refundCount >= 50:
		return 0, errorf(400, "INVALID_REQUEST", "an order takes at most 50 refunds")
	}
	r := &refund{
		outRefundNo: b.OutRefundNo, refundID: "5030" + randDigits(25), reason: b.Reason,
		notifyURL: b.NotifyURL, status: "PROCESSING", o: o, amount: b.Amount.Refund, created: p.now(),
	}
	r.frozen = p.refundFrozen(o, r.amount)
	p.refunds[r.outRefundNo] = r
	o.refunded += r.amount
	o.refundCount++
	o.state = "REFUND"
	return 200, p.refundJSON(r)
}

func (p *Platform) queryRefund(no, subMchID string) (int, any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.refunds[no]
	if !ok {
		return 0, errorf(404, "RESOURCE_NOT_EXISTS", "退款单不存在 (out_refund_no %s)", no)
	}
	if e := p.checkRefundSub(r.o, subMchID); e != nil {
		return 0, e
	}
	return 200, p.refundJSON(r)
}

// refundJSON is a refund as the refund API returns it.
func (p *Platform) refundJSON(r *refund) map[string]any {
	m := map[string]any{
		"refund_id":             r.refundID,
		"out_refund_no":         r.outRefundNo,
		"transaction_id":        r.o.transactionID,
		"out_trade_no":          r.o.outTradeNo,
		"channel":               "ORIGINAL",
		"user_received_account": "支付用户零钱",
		"create_time":           wxTime(r.created),
		"status":                r.status,
		"funds_account":         "AVAILABLE",
		"amount":                p.refundAmount(r),
	}
	if r.status == "SUCCESS" {
		m["success_time"] = wxTime(r.success)
	}
	return m
}

func (p *Platform) refundAmount(r *refund) map[string]any {
	if r.o.g != nil {
		return p.globalRefundAmount(r)
	}
	return map[string]any{
		"total": r.o.total, "refund": r.amount, "payer_total": r.o.total, "payer_refund": r.amount,
		"settlement_total": r.o.total, "settlement_refund": r.amount, "discount_refund": 0, "currency": "CNY",
	}
}

func validNo(s string, minLen, maxLen int, extra string) bool {
	if len(s) < minLen || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return true
}

// checkNotifyURL applies WeChat's notify_url rule (HTTPS, no query), with
// plain http allowed for loopback hosts so local merchants can be reached.
// It returns what is wrong, or "".
func checkNotifyURL(raw string, required bool) string {
	if raw == "" {
		if required {
			return "missing"
		}
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "not an absolute URL"
	}
	if u.RawQuery != "" || u.ForceQuery {
		return "must not carry a query string"
	}
	switch u.Scheme {
	case "https":
		return ""
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			return ""
		}
	}
	return "must be https"
}
