package wechatpay

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/text/currency"

	"github.com/minishop/minishop/commerce"
)

// Customs declaration (报关): a paid payment's payment record is pushed to
// a customs office for cross-border e-commerce imports. WeChat's v3
// customs APIs live under /v3/global/customs/ on the client's host:
//
//	POST  /v3/global/customs/orders      declare (method NOT CONFIRMED)
//	GET   /v3/global/customs/orders      query
//	PATCH /v3/global/customs/orders      modify
//	POST  /v3/global/customs/redeclare   redeclare
//
// Only a direct merchant's client declares (the institutional fields of
// these APIs are not built). Fees are in CNY fen; order_fee is
// transport_fee + product_fee.

// Customs order types: which number a declaration names the payment by.
const (
	CustomsByTransactionID = "TRANSACTION_ID"
	CustomsByOutTradeNo    = "OUT_TRADE_NO"
)

const (
	customsOrdersPath    = "/v3/global/customs/orders"
	customsRedeclarePath = "/v3/global/customs/redeclare"
)

// CustomsRequest declares, modifies or redeclares a payment at a customs
// office.
type CustomsRequest struct {
	// TransactionID or PaymentNo names the payment (exactly one):
	// order_type TRANSACTION_ID or OUT_TRADE_NO, and order_no.
	TransactionID string
	PaymentNo     string
	// Customs is the customs office's code (e.g. SHANGHAI_ZS), as WeChat
	// lists them.
	Customs string
	// MerchantCustomsNo is the merchant's registration number at that
	// customs office (海关备案号).
	MerchantCustomsNo string
	// Duty, TransportFee and ProductFee are optional (zero Money when not
	// declared), in CNY; when a fee is given both are, and order_fee is
	// their sum. Redeclare sends none of them.
	Duty         commerce.Money
	TransportFee commerce.Money
	ProductFee   commerce.Money
}

// CustomsQuery asks for a payment's declarations.
type CustomsQuery struct {
	TransactionID string // or PaymentNo, exactly one
	PaymentNo     string
	Customs       string // the customs office (required by WeChat)
	Offset, Limit int    // paging; Limit 0 leaves it to WeChat
}

// CustomsDeclaration is a declaration as WeChat reports it.
type CustomsDeclaration struct {
	TransactionID     string
	PaymentNo         string
	Customs           string
	MerchantCustomsNo string
	// State is WeChat's: PROCESSING, SUBMITTED, SUCCESS, FAIL or EXCEPT
	// (the values as commonly listed; NOT CONFIRMED exhaustive).
	State       string
	Explanation string // why it failed, when it did
	ModifiedAt  time.Time
	// VerifyDepartment and DepartmentTradeID are the payment's
	// verification organisation and its trade number there, when WeChat
	// reports them.
	VerifyDepartment  string
	DepartmentTradeID string
}

type (
	customsBody struct {
		AppID             string `json:"appid"`
		MchID             string `json:"mchid"`
		OrderType         string `json:"order_type"`
		OrderNo           string `json:"order_no"`
		Customs           string `json:"customs"`
		MerchantCustomsNo string `json:"merchant_customs_no"`
		Duty              *int64 `json:"duty,omitempty"`
		OrderFee          *int64 `json:"order_fee,omitempty"`
		TransportFee      *int64 `json:"transport_fee,omitempty"`
		ProductFee        *int64 `json:"product_fee,omitempty"`
	}
	wireCustoms struct {
		TransactionID     string `json:"transaction_id"`
		OutTradeNo        string `json:"out_trade_no"`
		Customs           string `json:"customs"`
		MerchantCustomsNo string `json:"merchant_customs_no"`
		State             string `json:"state"`
		Explanation       string `json:"explanation"`
		ModifyTime        string `json:"modify_time"`
		VerifyDepartment  string `json:"verify_department"`
		DepartmentTradeID string `json:"department_trade_id"`
	}
)

// DeclareCustoms declares a paid payment at a customs office.
func (c *Client) DeclareCustoms(ctx context.Context, r CustomsRequest) (*CustomsDeclaration, error) {
	return c.customs(ctx, "wechatpay.declare_customs", http.MethodPost, customsOrdersPath, r, true)
}

// ModifyCustoms changes a declaration's merchant_customs_no, duty and
// fees.
func (c *Client) ModifyCustoms(ctx context.Context, r CustomsRequest) (*CustomsDeclaration, error) {
	return c.customs(ctx, "wechatpay.modify_customs", http.MethodPatch, customsOrdersPath, r, true)
}

// RedeclareCustoms pushes a declaration to customs again (after a FAIL or
// EXCEPT that was put right).
func (c *Client) RedeclareCustoms(ctx context.Context, r CustomsRequest) (*CustomsDeclaration, error) {
	return c.customs(ctx, "wechatpay.redeclare_customs", http.MethodPost, customsRedeclarePath, r, false)
}

func customsOrder(op, txID, paymentNo string) (typ, no string, err error) {
	switch {
	case (txID == "") == (paymentNo == ""):
		return "", "", commerce.Invalid(op, "TransactionID", "give exactly one of TransactionID and PaymentNo")
	case txID != "":
		if err := checkTransactionID(txID); err != nil {
			return "", "", commerce.Invalid(op, "TransactionID", "%v", err)
		}
		return CustomsByTransactionID, txID, nil
	}
	if err := checkOutTradeNo(paymentNo); err != nil {
		return "", "", commerce.Invalid(op, "PaymentNo", "%v", err)
	}
	return CustomsByOutTradeNo, paymentNo, nil
}

func (c *Client) customs(ctx context.Context, op, method, path string, r CustomsRequest, fees bool) (*CustomsDeclaration, error) {
	if c.partner() {
		return nil, commerce.Invalid(op, "Config.ServiceProvider", "customs declaration is built for direct merchants only")
	}
	typ, no, err := customsOrder(op, r.TransactionID, r.PaymentNo)
	if err != nil {
		return nil, err
	}
	if err := checkToken(r.Customs, 32); err != nil {
		return nil, commerce.Invalid(op, "Customs", "%v", err)
	}
	if err := checkToken(r.MerchantCustomsNo, 20); err != nil {
		return nil, commerce.Invalid(op, "MerchantCustomsNo", "%v", err)
	}
	body := customsBody{AppID: c.cfg.AppID, MchID: c.cfg.MchID, OrderType: typ, OrderNo: no,
		Customs: r.Customs, MerchantCustomsNo: r.MerchantCustomsNo}
	if fees {
		if body.Duty, err = optionalFen(r.Duty); err != nil {
			return nil, commerce.Invalid(op, "Duty", "%v", err)
		}
		if body.TransportFee, err = optionalFen(r.TransportFee); err != nil {
			return nil, commerce.Invalid(op, "TransportFee", "%v", err)
		}
		if body.ProductFee, err = optionalFen(r.ProductFee); err != nil {
			return nil, commerce.Invalid(op, "ProductFee", "%v", err)
		}
		switch {
		case (body.TransportFee == nil) != (body.ProductFee == nil):
			return nil, commerce.Invalid(op, "TransportFee", "give both TransportFee and ProductFee (order_fee is their sum), or neither")
		case body.TransportFee != nil:
			sum := *body.TransportFee + *body.ProductFee
			body.OrderFee = &sum
		}
	} else if r.Duty.IsSet() || r.TransportFee.IsSet() || r.ProductFee.IsSet() {
		return nil, commerce.Invalid(op, "Duty", "a redeclaration carries no fees")
	}
	var w wireCustoms
	if err := c.call(ctx, method, path, "", body, &w); err != nil {
		return nil, wrapCall(op, err)
	}
	d, err := toCustoms(&w)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return d, nil
}

// QueryCustoms lists a payment's declarations at a customs office.
func (c *Client) QueryCustoms(ctx context.Context, q CustomsQuery) ([]CustomsDeclaration, error) {
	const op = "wechatpay.query_customs"
	if c.partner() {
		return nil, commerce.Invalid(op, "Config.ServiceProvider", "customs declaration is built for direct merchants only")
	}
	typ, no, err := customsOrder(op, q.TransactionID, q.PaymentNo)
	if err != nil {
		return nil, err
	}
	if err := checkToken(q.Customs, 32); err != nil {
		return nil, commerce.Invalid(op, "Customs", "%v", err)
	}
	if q.Offset < 0 || q.Limit < 0 {
		return nil, commerce.Invalid(op, "Offset", "negative paging (%d, %d)", q.Offset, q.Limit)
	}
	v := url.Values{"appid": {c.cfg.AppID}, "mchid": {c.cfg.MchID}, "order_type": {typ}, "order_no": {no}, "customs": {q.Customs},
		"offset": {strconv.Itoa(q.Offset)}}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var w struct {
		Data []wireCustoms `json:"data"`
	}
	if err := c.call(ctx, http.MethodGet, customsOrdersPath, v.Encode(), nil, &w); err != nil {
		return nil, wrapCall(op, err)
	}
	out := make([]CustomsDeclaration, 0, len(w.Data))
	for i := range w.Data {
		d, err := toCustoms(&w.Data[i])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, *d)
	}
	return out, nil
}

// optionalFen is an optional customs amount in fen: nil when not set, and
// zero allowed (a zero duty is declared as 0).
func optionalFen(m commerce.Money) (*int64, error) {
	if !m.IsSet() {
		return nil, nil
	}
	if m.Currency() != currency.CNY {
		return nil, fmt.Errorf("%s: customs amounts are in CNY", m)
	}
	fen, err := m.Minor()
	if err != nil {
		return nil, err
	}
	if fen < 0 {
		return nil, fmt.Errorf("%s: negative", m)
	}
	return &fen, nil
}

func toCustoms(w *wireCustoms) (*CustomsDeclaration, error) {
	if w.State == "" {
		return nil, errors.New("customs declaration without state")
	}
	d := &CustomsDeclaration{TransactionID: w.TransactionID, PaymentNo: w.OutTradeNo, Customs: w.Customs,
		MerchantCustomsNo: w.MerchantCustomsNo, State: w.State, Explanation: w.Explanation,
		VerifyDepartment: w.VerifyDepartment, DepartmentTradeID: w.DepartmentTradeID}
	if w.ModifyTime != "" {
		t, err := time.Parse(time.RFC3339, w.ModifyTime)
		if err != nil {
			return nil, fmt.Errorf("customs modify_time %q is not RFC 3339", truncate(w.ModifyTime, 40))
		}
		d.ModifiedAt = t
	}
	return d, nil
}
