package wechatpaytest

import (
	"net/http"
	"slices"
	"strings"
)

// A service provider's platform (Options.ServiceProvider) takes payments
// for its sub-merchants through the partner APIs only: the prepay names
// sp_appid/sp_mchid (the provider, who signs) and sub_mchid (and sub_appid
// when the sub-merchant's own app pays), the payer is a sp_openid or a
// sub_openid, and every later call names the sub-merchant the order
// belongs to. A direct merchant's platform refuses the partner APIs, and a
// provider's the direct ones, as WeChat Pay does (NO_AUTH).

// AddSubMerchant registers a sub-merchant of a service provider's platform
// with the apps bound to it (none, or "": it pays in the provider's app).
// The first is the sub_appid its payments name; transfers may go to
// openids under any of them or under the provider's own app.
func (p *Platform) AddSubMerchant(subMchID string, apps ...string) {
	apps = slices.DeleteFunc(slices.Clone(apps), func(a string) bool { return a == "" })
	p.mu.Lock()
	defer p.mu.Unlock()
	p.subMerchants[subMchID] = ""
	if len(apps) > 0 {
		p.subMerchants[subMchID] = apps[0]
	}
	p.book().subs[subMchID] = apps
}

// ServiceProvider reports whether the platform is a service provider's.
func (p *Platform) ServiceProvider() bool { return p.partner }

// routePartner answers the partner payment APIs; ok is false for any
// other path.
func (p *Platform) routePartner(r *http.Request, body []byte) (status int, answer any, ok bool) {
	const txPrefix = "/v3/pay/partner/transactions/out-trade-no/"
	path := r.URL.Path
	switch {
	case r.Method == http.MethodPost && path == "/v3/pay/partner/transactions/jsapi":
		status, answer = p.partnerJSAPI(body)
	case strings.HasPrefix(path, txPrefix):
		rest := strings.TrimPrefix(path, txPrefix)
		if no, isClose := strings.CutSuffix(rest, "/close"); isClose && r.Method == http.MethodPost && !strings.Contains(no, "/") {
			status, answer = p.partnerClose(no, body)
		} else if r.Method == http.MethodGet && !strings.Contains(rest, "/") {
			q := r.URL.Query()
			status, answer = p.partnerQuery(rest, q.Get("sp_mchid"), q.Get("sub_mchid"))
		} else {
			return 0, nil, false
		}
	default:
		return 0, nil, false
	}
	if !p.partner {
		return 0, errorf(403, "NO_AUTH", "商户号 %s 不是服务商 (the partner APIs are for service providers)", p.mchID), true
	}
	return status, answer, true
}

type partnerJSAPIBody struct {
	SpAppID  string `json:"sp_appid"`
	SpMchID  string `json:"sp_mchid"`
	SubAppID string `json:"sub_appid"`
	SubMchID string `json:"sub_mchid"`
	prepayBody
	Payer *struct {
		SpOpenID  string `json:"sp_openid"`
		SubOpenID string `json:"sub_openid"`
	} `json:"payer"`
}

// checkSub checks that sub_mchid is a sub-merchant of the provider; the
// caller holds p.mu.
func (p *Platform) checkSub(spMchID, subMchID string) *apiError {
	if spMchID != p.mchID {
		return errorf(400, "PARAM_ERROR", "sp_mchid %q does not match the signing merchant", spMchID)
	}
	if _, ok := p.subMerchants[subMchID]; !ok {
		return errorf(400, "INVALID_REQUEST", "特约商户号 %q 与服务商 %s 不存在受理关系 (not a sub-merchant of the provider)", subMchID, p.mchID)
	}
	return nil
}

func (p *Platform) partnerJSAPI(body []byte) (int, any) {
	var b partnerJSAPIBody
	if e := decodeStrict(body, &b); e != nil {
		return 0, e
	}
	switch {
	case b.SpAppID != p.appID:
		return 0, errorf(400, "APPID_MCHID_NOT_MATCH", "sp_appid %q is not bound to service provider %s", b.SpAppID, p.mchID)
	case b.Payer == nil || (b.Payer.SpOpenID == "") == (b.Payer.SubOpenID == ""):
		return 0, errorf(400, "PARAM_ERROR", "payer: give exactly one of sp_openid and sub_openid")
	case b.Payer.SubOpenID != "" && b.SubAppID == "":
		return 0, errorf(400, "PARAM_ERROR", "sub_appid is required with payer.sub_openid")
	}
	expire, e := p.checkPrepay(&b.prepayBody)
	if e != nil {
		return 0, e
	}
	ps, _ := b.profitSharing() // checked by checkPrepay
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.checkSub(b.SpMchID, b.SubMchID); e != nil {
		return 0, e
	}
	if b.SubAppID != "" && p.subMerchants[b.SubMchID] != b.SubAppID {
		return 0, errorf(400, "APPID_MCHID_NOT_MATCH", "sub_appid %q is not bound to sub-merchant %s", b.SubAppID, b.SubMchID)
	}
	openID, subPayer := b.Payer.SpOpenID, b.Payer.SubOpenID != ""
	if subPayer {
		openID = b.Payer.SubOpenID
	}
	if o, ok := p.orders[b.OutTradeNo]; ok {
		p.expire(o)
		switch {
		case o.state == "SUCCESS" || o.state == "REFUND":
			return 0, errorf(403, "ORDERPAID", "order %s is already paid", o.outTradeNo)
		case o.state == "CLOSED":
			return 0, errorf(403, "ORDER_CLOSED", "order %s is closed", o.outTradeNo)
		case o.subMchID != b.SubMchID || o.subAppID != b.SubAppID || o.subPayer != subPayer ||
			o.total != b.Amount.Total || o.openID != openID || o.description != b.Description ||
			o.attach != b.Attach || o.timeExpireText != b.TimeExpire || o.profitSharing != ps:
			return 0, errorf(403, "OUT_TRADE_NO_USED", "out_trade_no %s was used with other parameters", o.outTradeNo)
		}
		return 200, map[string]string{"prepay_id": o.prepayID}
	}
	o := &order{
		appID: b.SpAppID, description: b.Description, outTradeNo: b.OutTradeNo, attach: b.Attach,
		notifyURL: b.NotifyURL, openID: openID, total: b.Amount.Total,
		timeExpire: expire, timeExpireText: b.TimeExpire, state: "NOTPAY",
		prepayID: "wx" + p.now().In(chinaTime).Format("20060102150405") + randHex(20),
		subMchID: b.SubMchID, subAppID: b.SubAppID, subPayer: subPayer, profitSharing: ps,
	}
	p.orders[o.outTradeNo] = o
	return 200, map[string]string{"prepay_id": o.prepayID}
}

// partnerOrder finds a sub-merchant's order; the caller holds p.mu. An
// order of another sub-merchant does not exist for this one.
func (p *Platform) partnerOrder(no, spMchID, subMchID string) (*order, *apiError) {
	if e := p.checkSub(spMchID, subMchID); e != nil {
		return nil, e
	}
	o, ok := p.orders[no]
	if !ok || o.subMchID != subMchID {
		return nil, errorf(404, "ORDER_NOT_EXIST", "订单不存在 (out_trade_no %s of sub-merchant %s)", no, subMchID)
	}
	p.expire(o)
	return o, nil
}

func (p *Platform) partnerQuery(no, spMchID, subMchID string) (int, any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	o, e := p.partnerOrder(no, spMchID, subMchID)
	if e != nil {
		return 0, e
	}
	return 200, p.transactionJSON(o)
}

func (p *Platform) partnerClose(no string, body []byte) (int, any) {
	var b struct {
		SpMchID  string `json:"sp_mchid"`
		SubMchID string `json:"sub_mchid"`
	}
	if e := decodeStrict(body, &b); e != nil {
		return 0, e
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	o, e := p.partnerOrder(no, b.SpMchID, b.SubMchID)
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

// partnerTransaction rewrites a transaction in the partner shape; t is
// transactionJSON's direct one.
func (p *Platform) partnerTransaction(o *order, t map[string]any) map[string]any {
	delete(t, "appid")
	delete(t, "mchid")
	t["sp_appid"], t["sp_mchid"], t["sub_mchid"] = o.appID, p.mchID, o.subMchID
	if o.subAppID != "" {
		t["sub_appid"] = o.subAppID
	}
	if o.subPayer {
		t["payer"] = map[string]string{"sub_openid": o.openID}
	} else {
		t["payer"] = map[string]string{"sp_openid": o.openID}
	}
	return t
}

// checkRefundSub checks a refund request's sub_mchid against its order's
// (absent for a direct merchant's, required and equal for a provider's).
func (p *Platform) checkRefundSub(o *order, subMchID string) *apiError {
	switch {
	case !p.partner && subMchID != "":
		return errorf(403, "NO_AUTH", "sub_mchid given to a direct merchant %s", p.mchID)
	case p.partner && subMchID == "":
		return errorf(400, "PARAM_ERROR", "sub_mchid is required for a service provider's refund")
	case subMchID != o.subMchID:
		return errorf(404, "RESOURCE_NOT_EXISTS", "订单不存在 for sub-merchant %s", subMchID)
	}
	return nil
}

// refundMerchant names a refund notification's merchant: mchid for a
// direct merchant, sp_mchid and sub_mchid for a provider.
func (p *Platform) refundMerchant(r *refund, m map[string]any) {
	if p.partner {
		m["sp_mchid"], m["sub_mchid"] = p.mchID, r.o.subMchID
		return
	}
	m["mchid"] = p.mchID
}
