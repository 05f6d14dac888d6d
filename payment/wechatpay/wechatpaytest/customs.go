package wechatpaytest

import (
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Customs declaration (报关) for a direct merchant's paid payments, on
// either kind of platform:
//
//	POST  /v3/global/customs/orders      declare (method NOT CONFIRMED)
//	GET   /v3/global/customs/orders      query
//	PATCH /v3/global/customs/orders      modify
//	POST  /v3/global/customs/redeclare   redeclare
//
// A declaration is keyed by the payment and the customs office. Its fees
// are in fen and order_fee must be transport_fee + product_fee. New
// declarations are PROCESSING until SetCustomsState settles them.

// CustomsRecord is a snapshot of a declaration on the platform.
type CustomsRecord struct {
	TransactionID, OutTradeNo, Customs, MerchantCustomsNo string
	State, Explanation                                    string
	Duty, OrderFee, TransportFee, ProductFee              *int64 // fen, as declared (nil: not declared)
	Declarations                                          int    // declare and redeclare calls accepted
	ModifiedAt                                            time.Time
}

type customsDecl struct {
	o   *order
	rec CustomsRecord
}

type customsBody struct {
	AppID             string `json:"appid"`
	MchID             string `json:"mchid"`
	OrderType         string `json:"order_type"`
	OrderNo           string `json:"order_no"`
	Customs           string `json:"customs"`
	MerchantCustomsNo string `json:"merchant_customs_no"`
	Duty              *int64 `json:"duty"`
	OrderFee          *int64 `json:"order_fee"`
	TransportFee      *int64 `json:"transport_fee"`
	ProductFee        *int64 `json:"product_fee"`
	SubOrderNo        string `json:"sub_order_no"` // accepted, not kept
}

// Customs returns the declaration of the payment with transaction_id txID
// at customs office customs, if there is one.
func (p *Platform) Customs(txID, customs string) (CustomsRecord, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	d, ok := p.customs[txID+"|"+customs]
	if !ok {
		return CustomsRecord{}, false
	}
	return d.rec, true
}

// SetCustomsState settles a declaration as customs would: SUCCESS, FAIL or
// EXCEPT (with an explanation), or SUBMITTED.
func (p *Platform) SetCustomsState(txID, customs, state, explanation string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	d, ok := p.customs[txID+"|"+customs]
	if ok {
		d.rec.State, d.rec.Explanation, d.rec.ModifiedAt = state, explanation, p.now().Truncate(time.Second)
	}
	return ok
}

func (p *Platform) routeCustoms(r *http.Request, body []byte) (int, any) {
	path := r.URL.Path
	if p.partner {
		return 0, errorf(403, "NO_AUTH", "wechatpaytest serves customs declarations for direct merchants only")
	}
	switch {
	case path == "/v3/global/customs/orders" && r.Method == http.MethodPost:
		return p.customsWrite(body, "declare")
	case path == "/v3/global/customs/orders" && r.Method == http.MethodPatch:
		return p.customsWrite(body, "modify")
	case path == "/v3/global/customs/redeclare" && r.Method == http.MethodPost:
		return p.customsWrite(body, "redeclare")
	case path == "/v3/global/customs/orders" && r.Method == http.MethodGet:
		return p.customsQuery(r.URL.Query())
	}
	return 0, errorf(404, "NOT_FOUND", "no such API: %s %s", r.Method, path)
}

// customsOrderLocked finds the paid order a declaration names. Callers
// hold p.mu.
func (p *Platform) customsOrderLocked(appID, mchID, typ, no string) (*order, *apiError) {
	switch {
	case mchID != p.mchID:
		return nil, errorf(400, "PARAM_ERROR", "mchid %q does not match the signing merchant", mchID)
	case appID != p.appID:
		return nil, errorf(400, "APPID_MCHID_NOT_MATCH", "appid %q is not bound to merchant %s", appID, p.mchID)
	case no == "":
		return nil, errorf(400, "PARAM_ERROR", "order_no is required")
	}
	var o *order
	var ok bool
	switch typ {
	case "TRANSACTION_ID":
		o, ok = p.byTxID[no]
	case "OUT_TRADE_NO":
		o, ok = p.orders[no]
	default:
		return nil, errorf(400, "PARAM_ERROR", "order_type %q must be TRANSACTION_ID or OUT_TRADE_NO", typ)
	}
	if !ok {
		return nil, errorf(404, "ORDER_NOT_EXIST", "订单不存在 (%s %s)", typ, no)
	}
	if o.transactionID == "" {
		return nil, errorf(400, "INVALID_REQUEST", "order %s is not paid", o.outTradeNo)
	}
	return o, nil
}

func customsJSON(d *customsDecl) map[string]any {
	m := map[string]any{
		"transaction_id": d.rec.TransactionID, "out_trade_no": d.rec.OutTradeNo, "customs": d.rec.Customs,
		"merchant_customs_no": d.rec.MerchantCustomsNo, "state": d.rec.State, "modify_time": wxTime(d.rec.ModifiedAt),
	}
	if d.rec.Explanation != "" {
		m["explanation"] = d.rec.Explanation
	}
	return m
}

func (p *Platform) customsWrite(body []byte, kind string) (int, any) {
	var b customsBody
	if e := decodeStrict(body, &b); e != nil {
		return 0, e
	}
	hasFees := b.Duty != nil || b.OrderFee != nil || b.TransportFee != nil || b.ProductFee != nil
	switch {
	case b.Customs == "":
		return 0, errorf(400, "PARAM_ERROR", "customs is required")
	case b.MerchantCustomsNo == "":
		return 0, errorf(400, "PARAM_ERROR", "merchant_customs_no is required")
	case kind == "redeclare" && hasFees:
		return 0, errorf(400, "PARAM_ERROR", "a redeclaration carries no fees")
	case (b.TransportFee == nil) != (b.ProductFee == nil), (b.TransportFee != nil) != (b.OrderFee != nil):
		return 0, errorf(400, "PARAM_ERROR", "order_fee, transport_fee and product_fee go together")
	case b.OrderFee != nil && *b.OrderFee != *b.TransportFee+*b.ProductFee:
		return 0, errorf(400, "PARAM_ERROR", "order_fee %d must equal transport_fee %d + product_fee %d", *b.OrderFee, *b.TransportFee, *b.ProductFee)
	case b.OrderFee != nil && (*b.TransportFee < 0 || *b.ProductFee < 0), b.Duty != nil && *b.Duty < 0:
		return 0, errorf(400, "PARAM_ERROR", "fees must not be negative")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	o, e := p.customsOrderLocked(b.AppID, b.MchID, b.OrderType, b.OrderNo)
	if e != nil {
		return 0, e
	}
	key := o.transactionID + "|" + b.Customs
	d, ok := p.customs[key]
	now := p.now().Truncate(time.Second)
	switch {
	case !ok && kind != "declare":
		return 0, errorf(404, "RESOURCE_NOT_EXISTS", "no declaration of %s at %s", o.outTradeNo, b.Customs)
	case !ok:
		d = &customsDecl{o: o, rec: CustomsRecord{TransactionID: o.transactionID, OutTradeNo: o.outTradeNo, Customs: b.Customs}}
		p.customs[key] = d
		fallthrough
	case kind == "redeclare":
		d.rec.State, d.rec.Explanation = "PROCESSING", ""
		d.rec.Declarations++
	case kind == "declare":
		// Declared again: the same declaration.
		return 200, customsJSON(d)
	}
	d.rec.MerchantCustomsNo, d.rec.ModifiedAt = b.MerchantCustomsNo, now
	if kind != "redeclare" {
		d.rec.Duty, d.rec.OrderFee, d.rec.TransportFee, d.rec.ProductFee = b.Duty, b.OrderFee, b.TransportFee, b.ProductFee
	}
	return 200, customsJSON(d)
}

func (p *Platform) customsQuery(q url.Values) (int, any) {
	offset, limit := 0, 20
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, errorf(400, "PARAM_ERROR", "offset %q", v)
		}
		offset = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 50 {
			return 0, errorf(400, "PARAM_ERROR", "limit %q must be 1 to 50", v)
		}
		limit = n
	}
	if q.Get("customs") == "" {
		return 0, errorf(400, "PARAM_ERROR", "customs is required")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	o, e := p.customsOrderLocked(q.Get("appid"), q.Get("mchid"), q.Get("order_type"), q.Get("order_no"))
	if e != nil {
		return 0, e
	}
	data := []map[string]any{}
	if d, ok := p.customs[o.transactionID+"|"+q.Get("customs")]; ok && offset == 0 {
		data = append(data, customsJSON(d))
	}
	return 200, map[string]any{"data": data, "count": len(data), "offset": offset, "limit": limit,
		"order_type": q.Get("order_type"), "order_no": q.Get("order_no")}
}
