package wechatpaytest

import (
	"fmt"
	"maps"
	"math/big"
	"net/http"
	"net/url"
	"strings"

	"github.com/shopspring/decimal"
	"golang.org/x/text/currency"

	"github.com/minishop/minishop/commerce"
)

// A cross-border platform (Options.CrossBorder) plays WeChat Pay's
// cross-border host (境外支付, apihk.mch.weixin.qq.com). It serves
//
//	POST /v3/global/transactions/jsapi
//	GET  /v3/global/transactions/out-trade-no/{no}?mchid= | ?sp_mchid=&sub_mchid=
//	POST /v3/global/transactions/out-trade-no/{no}/close   (path NOT CONFIRMED)
//	POST /v3/global/refunds
//	GET  /v3/global/refunds/out-refund-no/{no}?mchid= | ?sp_mchid=&sub_mchid=   (path NOT CONFIRMED)
//	GET  /v3/global/certificates
//
// and answers every other path INVALID_REQUEST 暂不支持境外支付, as WeChat
// answers a cross-border merchant on the domestic APIs. A direct merchant's
// bodies name mchid and appid, an institutional one's (with
// ServiceProvider) sp_mchid, sp_appid, sub_mchid and sub_appid. Orders
// need trade_type (JSAPI) and merchant_category_code (4 digits), and an
// amount in one of the pricing currencies (pricingCurrencies), in its
// smallest unit. Pay converts at Options.Rates into the payer currency;
// refunds are in the payment's currency and convert at the payment's rate.

// DefaultMerchantCategoryCode is the MCC Config gives a cross-border
// merchant when Options.MerchantCategoryCode is empty.
const DefaultMerchantCategoryCode = "4111"

// DefaultRates returns the CNY per unit of a pricing currency a
// cross-border platform converts at unless Options.Rates says otherwise.
// They are plausible, not current.
func DefaultRates() map[string]decimal.Decimal {
	return map[string]decimal.Decimal{
		"HKD": decimal.RequireFromString("0.92"),
		"USD": decimal.RequireFromString("7.2"),
		"JPY": decimal.RequireFromString("0.048"),
		"EUR": decimal.RequireFromString("7.8"),
		"GBP": decimal.RequireFromString("9.1"),
		"AUD": decimal.RequireFromString("4.7"),
		"SGD": decimal.RequireFromString("5.3"),
		"KRW": decimal.RequireFromString("0.0052"),
	}
}

// pricingCurrencies are WeChat's cross-border pricing currencies.
var pricingCurrencies = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Fields(`CNY HKD GBP USD JPY CAD AUD EUR NZD KRW THB SGD RUB CHF SEK DKK
		NOK AED TRY MOP TWD CZK MYR PHP IDR MNT QAR HUF KHR ISK`) {
		m[c] = true
	}
	return m
}()

const rateScale = 8 // exchange_rate.rate is the rate times 10^8

// globalBook is the cross-border state of a platform.
type globalBook struct {
	on            bool
	mcc           string
	rates         map[string]decimal.Decimal
	payerCurrency string
	notEnough     int // refunds still to refuse with NOT_ENOUGH
}

func (g *globalBook) init(opts Options) error {
	g.on = opts.CrossBorder
	g.mcc = opts.MerchantCategoryCode
	if g.mcc == "" {
		g.mcc = DefaultMerchantCategoryCode
	}
	g.payerCurrency = opts.PayerCurrency
	if g.payerCurrency == "" {
		g.payerCurrency = "CNY"
	}
	if _, err := currency.ParseISO(g.payerCurrency); err != nil {
		return fmt.Errorf("wechatpaytest: PayerCurrency %q: %v", g.payerCurrency, err)
	}
	g.rates = DefaultRates()
	maps.Copy(g.rates, opts.Rates)
	for cur, r := range g.rates {
		if !r.IsPositive() {
			return fmt.Errorf("wechatpaytest: rate %s for %s is not positive", r, cur)
		}
		g.rates[cur] = r.Round(rateScale)
	}
	return nil
}

// globalOrder is what a cross-border order has beyond a domestic one.
type globalOrder struct {
	currency, tradeType, mcc  string
	payerCurrency             string
	payerTotal, payerRefunded int64 // payer currency's smallest unit
	rate                      decimal.Decimal
}

// FailRefundsNotEnough makes the next n cross-border refund requests (new
// ones, not repeats of an accepted out_refund_no) fail with 403
// NOT_ENOUGH, as WeChat answers when the day's CNY refund funds cannot
// cover a refund yet; the request must be repeated later with the same
// out_refund_no. 0 stops it.
func (p *Platform) FailRefundsNotEnough(n int) {
	p.mu.Lock()
	p.global.notEnough = n
	p.mu.Unlock()
}

// CrossBorder reports whether the platform is a cross-border merchant's.
func (p *Platform) CrossBorder() bool { return p.global.on }

func minorDigits(code string) int32 {
	u, err := currency.ParseISO(code)
	if err != nil {
		return 2
	}
	return commerce.MinorDigits(u)
}

// settle fixes a cross-border payment's payer side as it is paid: the
// total in major units times the rate, rounded half up to the payer
// currency's smallest unit. Callers hold p.mu.
func (g *globalBook) settle(o *globalOrder, total int64) error {
	rate := decimal.NewFromInt(1)
	if o.currency != g.payerCurrency {
		if g.payerCurrency != "CNY" {
			return fmt.Errorf("wechatpaytest: rates are CNY per unit; no rate from %s to payer currency %s", o.currency, g.payerCurrency)
		}
		r, ok := g.rates[o.currency]
		if !ok {
			return fmt.Errorf("wechatpaytest: no rate for %s (set Options.Rates)", o.currency)
		}
		rate = r
	}
	payer := decimal.New(total, -minorDigits(o.currency)).Mul(rate).Shift(minorDigits(g.payerCurrency)).Round(0)
	o.rate, o.payerCurrency, o.payerTotal = rate, g.payerCurrency, payer.IntPart()
	return nil
}

func exchangeRateJSON(o *globalOrder) map[string]any {
	return map[string]any{"type": "SETTLEMENT_RATE", "rate": o.rate.Shift(rateScale).IntPart()}
}

// globalAmount is a cross-border transaction's amount: total and currency,
// and once paid the payer's side and the rate.
func (p *Platform) globalAmount(o *order) map[string]any {
	m := map[string]any{"total": o.total, "currency": o.g.currency}
	if o.transactionID != "" {
		m["payer_total"], m["payer_currency"] = o.g.payerTotal, o.g.payerCurrency
		m["exchange_rate"] = exchangeRateJSON(o.g)
	}
	return m
}

// globalRefundAmount is a cross-border refund's amount (field names as the
// domestic refund's; NOT CONFIRMED).
func (p *Platform) globalRefundAmount(r *refund) map[string]any {
	return map[string]any{
		"refund": r.amount, "total": r.o.total, "currency": r.o.g.currency,
		"payer_refund": r.payerRefund, "payer_total": r.o.g.payerTotal, "payer_currency": r.o.g.payerCurrency,
		"exchange_rate": exchangeRateJSON(r.o.g),
	}
}

// routeGlobal answers a cross-border platform's requests.
func (p *Platform) routeGlobal(r *http.Request, body []byte) (int, any) {
	const refundQueryPrefix = "/v3/global/refunds/out-refund-no/"
	const txPrefix = "/v3/global/transactions/out-trade-no/"
	path := r.URL.Path
	if !strings.HasPrefix(path, "/v3/global/") {
		return 0, errorf(400, "INVALID_REQUEST", "暂不支持境外支付 (%s %s is a domestic API; cross-border merchants use /v3/global/)", r.Method, path)
	}
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodPost && path == "/v3/global/transactions/jsapi":
		return p.globalJSAPI(body)
	case strings.HasPrefix(path, txPrefix):
		rest := strings.TrimPrefix(path, txPrefix)
		if no, ok := strings.CutSuffix(rest, "/close"); ok && r.Method == http.MethodPost && !strings.Contains(no, "/") {
			return p.globalClose(no, body)
		}
		if r.Method == http.MethodGet && !strings.Contains(rest, "/") {
			return p.globalQuery(rest, q)
		}
	case r.Method == http.MethodPost && path == "/v3/global/refunds":
		return p.globalRefund(body)
	case r.Method == http.MethodGet && strings.HasPrefix(path, refundQueryPrefix):
		no := strings.TrimPrefix(path, refundQueryPrefix)
		if !strings.Contains(no, "/") {
			return p.globalQueryRefund(no, q)
		}
	case r.Method == http.MethodGet && path == "/v3/global/certificates":
		return p.certificates()
	}
	return 0, errorf(404, "NOT_FOUND", "no such API: %s %s", r.Method, path)
}

// globalMerchant checks the merchant a cross-border request names: mchid
// for a direct merchant; sp_mchid and a sub_mchid of it for an
// institutional one. Callers hold p.mu.
func (p *Platform) globalMerchant(mchID, spMchID, subMchID string) *apiError {
	if p.partner {
		if mchID != "" {
			return errorf(400, "PARAM_ERROR", "mchid given to an institutional merchant: name sp_mchid and sub_mchid")
		}
		return p.checkSub(spMchID, subMchID)
	}
	switch {
	case spMchID != "" || subMchID != "":
		return errorf(403, "NO_AUTH", "sp_mchid/sub_mchid given to a direct merchant %s", p.mchID)
	case mchID != p.mchID:
		return errorf(400, "PARAM_ERROR", "mchid %q does not match the signing merchant", mchID)
	}
	return nil
}

type globalJSAPIBody struct {
	AppID                string `json:"appid"`
	MchID                string `json:"mchid"`
	SpAppID              string `json:"sp_appid"`
	SpMchID              string `json:"sp_mchid"`
	SubAppID             string `json:"sub_appid"`
	SubMchID             string `json:"sub_mchid"`
	TradeType            string `json:"trade_type"`
	MerchantCategoryCode string `json:"merchant_category_code"`
	prepayBody
	Payer *struct {
		OpenID    string `json:"openid"`
		SpOpenID  string `json:"sp_openid"`
		SubOpenID string `json:"sub_openid"`
	} `json:"payer"`
}

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (p *Platform) globalJSAPI(body []byte) (int, any) {
	var b globalJSAPIBody
	if e := decodeStrict(body, &b); e != nil {
		return 0, e
	}
	switch {
	case b.TradeType == "":
		return 0, errorf(400, "PARAM_ERROR", "trade_type is required (JSAPI for JSAPI and Mini Program payments)")
	case b.TradeType != "JSAPI":
		return 0, errorf(400, "PARAM_ERROR", "trade_type %q: this API takes JSAPI", b.TradeType)
	case b.MerchantCategoryCode == "":
		return 0, errorf(400, "PARAM_ERROR", "merchant_category_code is required")
	case !isDigits(b.MerchantCategoryCode, 4):
		return 0, errorf(400, "PARAM_ERROR", "merchant_category_code %q must be 4 digits", b.MerchantCategoryCode)
	case len(b.SettleInfo) > 0 && string(b.SettleInfo) != "null":
		return 0, errorf(400, "PARAM_ERROR", "settle_info is not taken by cross-border payments")
	case b.Payer == nil:
		return 0, errorf(400, "PARAM_ERROR", "payer is required for JSAPI")
	}
	var openID string
	var subPayer bool
	app := b.AppID
	if p.partner {
		app = b.SpAppID
		switch {
		case b.AppID != "" || b.Payer.OpenID != "":
			return 0, errorf(400, "PARAM_ERROR", "appid / payer.openid given to an institutional merchant: name sp_appid and sp_openid or sub_openid")
		case (b.Payer.SpOpenID == "") == (b.Payer.SubOpenID == ""):
			return 0, errorf(400, "PARAM_ERROR", "payer: give exactly one of sp_openid and sub_openid")
		case b.Payer.SubOpenID != "" && b.SubAppID == "":
			return 0, errorf(400, "PARAM_ERROR", "sub_appid is required with payer.sub_openid")
		}
		openID, subPayer = b.Payer.SpOpenID, b.Payer.SubOpenID != ""
		if subPayer {
			openID = b.Payer.SubOpenID
		}
	} else {
		switch {
		case b.SpAppID != "" || b.SubAppID != "" || b.Payer.SpOpenID != "" || b.Payer.SubOpenID != "":
			return 0, errorf(400, "PARAM_ERROR", "sp_appid / sub_appid / sp_openid / sub_openid given to a direct merchant")
		case b.Payer.OpenID == "":
			return 0, errorf(400, "PARAM_ERROR", "payer.openid is required for JSAPI")
		}
		openID = b.Payer.OpenID
	}
	if app != p.appID {
		return 0, errorf(400, "APPID_MCHID_NOT_MATCH", "app %q is not bound to merchant %s", app, p.mchID)
	}
	expire, e := p.checkPrepayIn(&b.prepayBody, true)
	if e != nil {
		return 0, e
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.globalMerchant(b.MchID, b.SpMchID, b.SubMchID); e != nil {
		return 0, e
	}
	if b.SubAppID != "" && p.subMerchants[b.SubMchID] != b.SubAppID {
		return 0, errorf(400, "APPID_MCHID_NOT_MATCH", "sub_appid %q is not bound to sub-merchant %s", b.SubAppID, b.SubMchID)
	}
	if o, ok := p.orders[b.OutTradeNo]; ok {
		p.expire(o)
		switch {
		case o.state == "SUCCESS" || o.state == "REFUND":
			return 0, errorf(403, "ORDERPAID", "order %s is already paid", o.outTradeNo)
		case o.state == "CLOSED":
			return 0, errorf(403, "ORDER_CLOSED", "order %s is closed", o.outTradeNo)
		case o.subMchID != b.SubMchID || o.subAppID != b.SubAppID || o.subPayer != subPayer ||
			o.total != b.Amount.Total || o.g.currency != b.Amount.Currency || o.openID != openID ||
			o.description != b.Description || o.attach != b.Attach || o.timeExpireText != b.TimeExpire ||
			o.g.mcc != b.MerchantCategoryCode || o.g.tradeType != b.TradeType:
			return 0, errorf(403, "OUT_TRADE_NO_USED", "out_trade_no %s was used with other parameters", o.outTradeNo)
		}
		return 200, map[string]string{"prepay_id": o.prepayID}
	}
	o := &order{
		appID: app, description: b.Description, outTradeNo: b.OutTradeNo, attach: b.Attach,
		notifyURL: b.NotifyURL, openID: openID, total: b.Amount.Total,
		timeExpire: expire, timeExpireText: b.TimeExpire, state: "NOTPAY",
		prepayID: "wx" + p.now().In(chinaTime).Format("20060102150405") + randHex(20),
		subMchID: b.SubMchID, subAppID: b.SubAppID, subPayer: subPayer,
		g: &globalOrder{currency: b.Amount.Currency, tradeType: b.TradeType, mcc: b.MerchantCategoryCode},
	}
	p.orders[o.outTradeNo] = o
	return 200, map[string]string{"prepay_id": o.prepayID}
}

// globalOrderLocked finds an order of the merchant named. Callers hold p.mu.
func (p *Platform) globalOrderLocked(no, mchID, spMchID, subMchID string) (*order, *apiError) {
	if e := p.globalMerchant(mchID, spMchID, subMchID); e != nil {
		return nil, e
	}
	o, ok := p.orders[no]
	if !ok || o.subMchID != subMchID {
		return nil, errorf(404, "ORDER_NOT_EXIST", "订单不存在 (out_trade_no %s)", no)
	}
	p.expire(o)
	return o, nil
}

func (p *Platform) globalQuery(no string, q url.Values) (int, any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	o, e := p.globalOrderLocked(no, q.Get("mchid"), q.Get("sp_mchid"), q.Get("sub_mchid"))
	if e != nil {
		return 0, e
	}
	return 200, p.transactionJSON(o)
}

func (p *Platform) globalClose(no string, body []byte) (int, any) {
	var b struct {
		MchID    string `json:"mchid"`
		SpMchID  string `json:"sp_mchid"`
		SubMchID string `json:"sub_mchid"`
	}
	if e := decodeStrict(body, &b); e != nil {
		return 0, e
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	o, e := p.globalOrderLocked(no, b.MchID, b.SpMchID, b.SubMchID)
	if e != nil {
		return 0, e
	}
	switch o.state {
	case "SUCCESS", "REFUND":
		return 0, errorf(403, "ORDERPAID", "order %s is paid and cannot be closed", no)
	}
	o.state = "CLOSED"
	return http.StatusNoContent, nil
}

type globalRefundBody struct {
	MchID         string `json:"mchid"`
	AppID         string `json:"appid"`
	SpMchID       string `json:"sp_mchid"`
	SpAppID       string `json:"sp_appid"`
	SubMchID      string `json:"sub_mchid"`
	SubAppID      string `json:"sub_appid"`
	TransactionID string `json:"transaction_id"`
	OutTradeNo    string `json:"out_trade_no"`
	OutRefundNo   string `json:"out_refund_no"`
	Reason        string `json:"reason"`
	NotifyURL     string `json:"notify_url"`
	Amount        *struct {
		Refund   int64  `json:"refund"`
		Total    int64  `json:"total"`
		Currency string `json:"currency"`
	} `json:"amount"`
}

func (p *Platform) globalRefund(body []byte) (int, any) {
	var b globalRefundBody
	if e := decodeStrict(body, &b); e != nil {
		return 0, e
	}
	if e := checkRefundIDs(b.TransactionID, b.OutTradeNo, b.OutRefundNo, b.Reason); e != nil {
		return 0, e
	}
	switch {
	case b.Amount == nil || b.Amount.Refund <= 0 || b.Amount.Total <= 0:
		return 0, errorf(400, "PARAM_ERROR", "amount.refund and amount.total must be positive integers in the currency's smallest unit")
	case !pricingCurrencies[b.Amount.Currency]:
		return 0, errorf(400, "PARAM_ERROR", "amount.currency %q is not a cross-border pricing currency", b.Amount.Currency)
	case p.partner && b.AppID != "", !p.partner && (b.SpAppID != "" || b.SubAppID != ""):
		return 0, errorf(400, "PARAM_ERROR", "app fields do not match the merchant's mode")
	case b.AppID != "" && b.AppID != p.appID, b.SpAppID != "" && b.SpAppID != p.appID:
		return 0, errorf(400, "APPID_MCHID_NOT_MATCH", "app is not bound to merchant %s", p.mchID)
	}
	if b.NotifyURL != "" {
		if msg := checkNotifyURL(b.NotifyURL, true); msg != "" {
			return 0, errorf(400, "PARAM_ERROR", "notify_url: %s", msg)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.globalMerchant(b.MchID, b.SpMchID, b.SubMchID); e != nil {
		return 0, e
	}
	if r, ok := p.refunds[b.OutRefundNo]; ok && r.o.subMchID == b.SubMchID {
		return 200, p.refundJSON(r) // the same out_refund_no is the same refund
	}
	o, ok := p.orders[b.OutTradeNo]
	if b.TransactionID != "" {
		o, ok = p.byTxID[b.TransactionID]
	}
	if !ok || o.subMchID != b.SubMchID || o.g == nil {
		return 0, errorf(404, "RESOURCE_NOT_EXISTS", "订单不存在")
	}
	p.expire(o)
	switch {
	case o.state == "CLOSED":
		return 0, errorf(403, "ORDER_CLOSED", "order %s is closed; nothing was paid", o.outTradeNo)
	case o.state == "NOTPAY":
		return 0, errorf(400, "INVALID_REQUEST", "order %s is not paid", o.outTradeNo)
	case b.Amount.Currency != o.g.currency:
		return 0, errorf(400, "PARAM_ERROR", "amount.currency %s is not the payment's %s: a refund is in the payment's currency", b.Amount.Currency, o.g.currency)
	case b.Amount.Total != o.total:
		return 0, errorf(400, "INVALID_REQUEST", "amount.total %d does not match the order's %d", b.Amount.Total, o.total)
	case o.refunded+b.Amount.Refund > o.total:
		return 0, errorf(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额: refund %d, %d of %d already refunded", b.Amount.Refund, o.refunded, o.total)
	case o.refundCount >= 50:
		return 0, errorf(400, "INVALID_REQUEST", "an order takes at most 50 refunds")
	}
	if p.global.notEnough > 0 {
		p.global.notEnough--
		return 0, errorf(403, "NOT_ENOUGH", "当日可退款资金不足 (the day's CNY refund funds cannot cover it yet); retry later with the same out_refund_no")
	}
	r := &refund{
		outRefundNo: b.OutRefundNo, refundID: "5030" + randDigits(25), reason: b.Reason,
		notifyURL: b.NotifyURL, status: "PROCESSING", o: o, amount: b.Amount.Refund, created: p.now(),
	}
	// At the payment's rate, cumulatively: the payer's side of everything
	// refunded so far is the payer total in proportion, rounded half up,
	// so refunds that add up to the total give back exactly payer_total.
	cum := proportion(o.g.payerTotal, o.refunded+r.amount, o.total)
	r.payerRefund = cum - o.g.payerRefunded
	p.refunds[r.outRefundNo] = r
	o.refunded += r.amount
	o.g.payerRefunded += r.payerRefund
	o.refundCount++
	o.state = "REFUND"
	return 200, p.refundJSON(r)
}

// proportion is a × b / c rounded half up (all non-negative, c positive).
func proportion(a, b, c int64) int64 {
	n := new(big.Int).Mul(big.NewInt(a), big.NewInt(b))
	n.Mul(n, big.NewInt(2)).Add(n, big.NewInt(c))
	return n.Quo(n, big.NewInt(2*c)).Int64()
}

func (p *Platform) globalQueryRefund(no string, q url.Values) (int, any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sub := q.Get("sub_mchid")
	if e := p.globalMerchant(q.Get("mchid"), q.Get("sp_mchid"), sub); e != nil {
		return 0, e
	}
	r, ok := p.refunds[no]
	if !ok || r.o.subMchID != sub {
		return 0, errorf(404, "RESOURCE_NOT_EXISTS", "退款单不存在 (out_refund_no %s)", no)
	}
	return 200, p.refundJSON(r)
}
