package wechatpay

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/payment"
)

var _ payment.Sharer = (*Client)(nil)

// Profit sharing (分账): the same /v3/profitsharing paths serve a direct
// merchant and a service provider; the provider's calls name the
// sub-merchant (sub_mchid) whose payment is shared.
const (
	sharePath         = "/v3/profitsharing/orders"
	unfreezePath      = "/v3/profitsharing/orders/unfreeze"
	returnPath        = "/v3/profitsharing/return-orders"
	addReceiverPath   = "/v3/profitsharing/receivers/add"
	merchantRatioPath = "/v3/profitsharing/merchant-configs/"
	amountsPath       = "/v3/profitsharing/transactions/"
)

// Profit-sharing limits of a request's fields. The counts (receivers per
// order, orders per payment, returns per order) and the default maximum
// ratio are payment's: MaxShareReceivers, MaxSharesPerPayment,
// MaxReturnsPerShare, DefaultMaxShareRatio.
const (
	maxShareDescription  = 80
	maxReceiverNameRunes = 128 // a merchant's full registered name; WeChat gives no figure for the clear text
	maxCustomRelationLen = 10
)

// wechatRelations are WeChat's relation_type values; any other Relation is
// sent as CUSTOM with the Relation as custom_relation.
var wechatRelations = map[payment.Relation]bool{
	"SERVICE_PROVIDER": true, "STORE": true, "STAFF": true, "STORE_OWNER": true, "PARTNER": true,
	"HEADQUARTER": true, "BRAND": true, "DISTRIBUTOR": true, "USER": true, "SUPPLIER": true,
}

type (
	shareOrderRequest struct {
		SubMchID        string              `json:"sub_mchid,omitempty"`
		AppID           string              `json:"appid"`
		SubAppID        string              `json:"sub_appid,omitempty"`
		TransactionID   string              `json:"transaction_id"`
		OutOrderNo      string              `json:"out_order_no"`
		Receivers       []shareReceiverWire `json:"receivers"`
		UnfreezeUnsplit bool                `json:"unfreeze_unsplit"`
	}
	shareReceiverWire struct {
		Type        string `json:"type"`
		Account     string `json:"account"`
		Name        string `json:"name,omitempty"`
		Amount      int64  `json:"amount"`
		Description string `json:"description"`
	}
	// wireShareOrder is WeChat's OrdersEntity, the answer of create, query
	// and unfreeze.
	wireShareOrder struct {
		SubMchID      string `json:"sub_mchid"`
		TransactionID string `json:"transaction_id"`
		OutOrderNo    string `json:"out_order_no"`
		OrderID       string `json:"order_id"`
		State         string `json:"state"`
		Receivers     []struct {
			Type        string `json:"type"`
			Account     string `json:"account"`
			Amount      *int64 `json:"amount"`
			Description string `json:"description"`
			Result      string `json:"result"`
			FailReason  string `json:"fail_reason"`
			DetailID    string `json:"detail_id"`
			CreateTime  string `json:"create_time"`
			FinishTime  string `json:"finish_time"`
		} `json:"receivers"`
	}
	addReceiverRequest struct {
		SubMchID       string `json:"sub_mchid,omitempty"`
		AppID          string `json:"appid"`
		SubAppID       string `json:"sub_appid,omitempty"`
		Type           string `json:"type"`
		Account        string `json:"account"`
		Name           string `json:"name,omitempty"`
		RelationType   string `json:"relation_type"`
		CustomRelation string `json:"custom_relation,omitempty"`
	}
	returnOrderRequest struct {
		SubMchID    string `json:"sub_mchid,omitempty"`
		OutOrderNo  string `json:"out_order_no"`
		OutReturnNo string `json:"out_return_no"`
		ReturnMchID string `json:"return_mchid"`
		Amount      int64  `json:"amount"`
		Description string `json:"description"`
	}
	wireReturnOrder struct {
		SubMchID    string `json:"sub_mchid"`
		OrderID     string `json:"order_id"`
		OutOrderNo  string `json:"out_order_no"`
		OutReturnNo string `json:"out_return_no"`
		ReturnID    string `json:"return_id"`
		ReturnMchID string `json:"return_mchid"`
		Amount      *int64 `json:"amount"`
		Result      string `json:"result"`
		FailReason  string `json:"fail_reason"`
		CreateTime  string `json:"create_time"`
		FinishTime  string `json:"finish_time"`
	}
)

// maxSharingRatio is the ratio ValidateShare holds a request to.
func (c *Client) maxSharingRatio() commerce.Rate {
	if c.cfg.MaxSharingRatio.PPM() == 0 {
		return payment.DefaultMaxShareRatio
	}
	return c.cfg.MaxSharingRatio
}

// self is the merchant number the account's payments are paid into: a
// share to it is not counted against the maximum ratio.
func (c *Client) self(a payment.Account) string {
	if a.IsDirect() {
		return c.cfg.MchID
	}
	return a.SubMerchant
}

// ShareApps are the apps whose openids the account's sharing orders pay:
// the sub-merchant's own app first when it has one (PERSONAL_SUB_OPENID;
// its customers are known there), then this client's (PERSONAL_OPENID).
func (c *Client) ShareApps(a payment.Account) []string {
	if c.partner() && a.SubApp != "" {
		return []string{a.SubApp, c.cfg.AppID}
	}
	return []string{c.cfg.AppID}
}

// receiverType maps a payee to WeChat's receiver type: a business is a
// MERCHANT_ID; a person is an openid under the app the account pays in,
// PERSONAL_OPENID under the merchant's (the provider's) app and
// PERSONAL_SUB_OPENID under the sub-merchant's own. field prefixes the
// error's field.
func (c *Client) receiverType(op, field string, a payment.Account, p payment.Payee) (string, error) {
	switch p.Kind {
	case payment.PayeeBusiness:
		if err := checkDigits(p.Account, 32); err != nil {
			return "", commerce.Invalid(op, field+".Account", "%v (a business receiver is its merchant number)", err)
		}
		if p.App != "" {
			return "", commerce.Invalid(op, field+".App", "a business is known by its merchant number, not under an app")
		}
		// receivers/add requires the full registered name; sharing orders
		// name receivers added before, so it is required of both.
		if err := checkText(p.Name, 1, maxReceiverNameRunes); err != nil {
			return "", commerce.Invalid(op, field+".Name", "%v (a business receiver's full registered name)", err)
		}
		return "MERCHANT_ID", nil
	case payment.PayeePerson:
		if err := checkOpenID(p.Account); err != nil {
			return "", commerce.Invalid(op, field+".Account", "%v", err)
		}
		if err := checkText(p.Name, 0, 64); err != nil {
			return "", commerce.Invalid(op, field+".Name", "%v", err)
		}
		switch {
		case p.App == c.cfg.AppID:
			return "PERSONAL_OPENID", nil
		case c.partner() && a.SubApp != "" && p.App == a.SubApp:
			return "PERSONAL_SUB_OPENID", nil
		case c.partner() && a.SubApp != "":
			return "", commerce.Invalid(op, field+".App", "openid under app %q, but this account shares to openids under %q or %q", p.App, c.cfg.AppID, a.SubApp)
		}
		return "", commerce.Invalid(op, field+".App", "openid under app %q, but this account shares to openids under %q", p.App, c.cfg.AppID)
	}
	return "", commerce.Invalid(op, field+".Kind", "%q is not %q or %q", p.Kind, payment.PayeePerson, payment.PayeeBusiness)
}

// ValidateShare checks r as CreateShare does, without calling WeChat Pay:
// the account, the numbers, 1 to 50 receivers each of a kind and app the
// account can pay, amounts in positive whole fen, descriptions of 1 to 80
// characters, and the receivers' total against Paid × the maximum ratio
// (Config.MaxSharingRatio; shares to the merchant itself do not count).
func (c *Client) ValidateShare(r payment.ShareRequest) error {
	_, err := c.shareBody(r)
	return err
}

// shareBody checks r and returns the request body, person names still in
// clear.
func (c *Client) shareBody(r payment.ShareRequest) (*shareOrderRequest, error) {
	const op = "wechatpay.create_share"
	if err := c.CheckAccount(r.Account); err != nil {
		return nil, commerce.Invalid(op, "Account", "%v", err)
	}
	if err := checkShareTx(r.TransactionID); err != nil {
		return nil, commerce.Invalid(op, "TransactionID", "%v", err)
	}
	if err := checkOutOrderNo(r.OrderNo); err != nil {
		return nil, commerce.Invalid(op, "OrderNo", "%v", err)
	}
	if n := len(r.Receivers); n == 0 || n > payment.MaxShareReceivers {
		return nil, commerce.Invalid(op, "Receivers", "%d receivers: WeChat Pay takes 1 to %d per sharing order", n, payment.MaxShareReceivers)
	}
	paid, err := toFen(r.Paid)
	if err != nil {
		return nil, commerce.Invalid(op, "Paid", "%v", err)
	}
	req := &shareOrderRequest{SubMchID: r.Account.SubMerchant, AppID: c.cfg.AppID, TransactionID: r.TransactionID,
		OutOrderNo: r.OrderNo, UnfreezeUnsplit: r.UnfreezeRest}
	self := c.self(r.Account)
	seen := map[string]bool{}
	var total, others int64
	for i, rc := range r.Receivers {
		field := fmt.Sprintf("Receivers[%d]", i)
		typ, err := c.receiverType(op, field+".Payee", r.Account, rc.Payee)
		if err != nil {
			return nil, err
		}
		// Two lines for one receiver would leave its result ambiguous in
		// the answer (which names receivers by account, not by line).
		if key := typ + ":" + rc.Payee.Account; seen[key] {
			return nil, commerce.Invalid(op, field+".Payee.Account", "%s appears twice in the order", rc.Payee.Account)
		} else {
			seen[key] = true
		}
		fen, err := toFen(rc.Amount)
		if err != nil {
			return nil, commerce.Invalid(op, field+".Amount", "%v", err)
		}
		if err := checkText(rc.Description, 1, maxShareDescription); err != nil {
			return nil, commerce.Invalid(op, field+".Description", "%v (shown to the receiver)", err)
		}
		if rc.Relation != "" {
			if _, _, err := relationOf(rc.Relation); err != nil {
				return nil, commerce.Invalid(op, field+".Relation", "%v", err)
			}
		}
		if typ == "PERSONAL_SUB_OPENID" {
			req.SubAppID = r.Account.SubApp
		}
		w := shareReceiverWire{Type: typ, Account: rc.Payee.Account, Amount: fen, Description: rc.Description}
		if typ != "MERCHANT_ID" {
			// A person's name is optional and, when sent, checked
			// against the openid's real name; a business's was checked
			// when it was added.
			w.Name = rc.Payee.Name
		}
		req.Receivers = append(req.Receivers, w)
		total += fen
		if !(typ == "MERCHANT_ID" && rc.Payee.Account == self) {
			others += fen
		}
	}
	if total > paid {
		return nil, commerce.Invalid(op, "Receivers", "they total %s, more than the payment's %s", fenText(total), r.Paid)
	}
	ratio := c.maxSharingRatio()
	if limit := ratio.OfMinorDown(paid); others > limit {
		return nil, commerce.Invalid(op, "Receivers", "%s to receivers other than the merchant is over %s of the payment's %s (%s)",
			fenText(others), ratio, r.Paid, fenText(limit))
	}
	return req, nil
}

// relationOf maps a Relation to relation_type and custom_relation.
func relationOf(r payment.Relation) (typ, custom string, err error) {
	switch {
	case r == "":
		return "", "", errors.New("missing (WeChat asks what the receiver is to the merchant)")
	case wechatRelations[r]:
		return string(r), "", nil
	case r == "CUSTOM":
		return "", "", errors.New("CUSTOM needs the relation itself: give it as the Relation")
	}
	if err := checkText(string(r), 1, maxCustomRelationLen); err != nil {
		return "", "", fmt.Errorf("%q is not one of WeChat's relations and not a custom one: %v", r, err)
	}
	return "CUSTOM", string(r), nil
}

// encryptNames encrypts every name in place and returns the serial of the
// key used, "" when there is none. All names must go under one key: the
// request names a single one.
func (c *Client) encryptNames(names ...*string) (string, error) {
	serial := ""
	for _, n := range names {
		if *n == "" {
			continue
		}
		ct, s, err := c.encrypt(*n)
		if err != nil {
			return "", err
		}
		if serial != "" && s != serial {
			return "", fmt.Errorf("the platform key changed between names (%s, %s); try again", serial, s)
		}
		*n, serial = ct, s
	}
	return serial, nil
}

// AddReceiver adds r's payee as a receiver of the account's sharing
// orders (receivers/add). A business's full registered name is required
// and, like a person's optional name, travels encrypted. WeChat answers a
// receiver added before as it did the first time.
func (c *Client) AddReceiver(ctx context.Context, a payment.Account, r payment.ShareReceiver) error {
	const op = "wechatpay.add_receiver"
	if err := c.CheckAccount(a); err != nil {
		return commerce.Invalid(op, "Account", "%v", err)
	}
	typ, err := c.receiverType(op, "Payee", a, r.Payee)
	if err != nil {
		return err
	}
	rel, custom, err := relationOf(r.Relation)
	if err != nil {
		return commerce.Invalid(op, "Relation", "%v", err)
	}
	req := addReceiverRequest{SubMchID: a.SubMerchant, AppID: c.cfg.AppID, Type: typ, Account: r.Payee.Account,
		Name: r.Payee.Name, RelationType: rel, CustomRelation: custom}
	if typ == "PERSONAL_SUB_OPENID" {
		req.SubAppID = a.SubApp
	}
	serial, err := c.encryptNames(&req.Name)
	if err != nil {
		return fmt.Errorf("%s: encrypting name: %w", op, err)
	}
	var w struct {
		SubMchID string `json:"sub_mchid"`
		Type     string `json:"type"`
		Account  string `json:"account"`
	}
	if err := c.callSerial(ctx, serial, http.MethodPost, addReceiverPath, "", req, &w); err != nil {
		return wrapCall(op, err)
	}
	if w.Type != typ || w.Account != r.Payee.Account || w.SubMchID != "" && w.SubMchID != a.SubMerchant {
		return fmt.Errorf("%s: answer is for %s %q of %q, asked for %s %q of %q", op, truncate(w.Type, 24), truncate(w.Account, 64),
			truncate(w.SubMchID, 32), typ, r.Payee.Account, a.SubMerchant)
	}
	return nil
}

// CreateShare creates a sharing order after checking everything WeChat
// would refuse (see ValidateShare). The answer is usually processing:
// QueryShare until it is finished, since WeChat notifies the receivers,
// not the merchant. The same OrderNo with the same receivers answers with
// the same order; with others WeChat refuses it.
//
// WeChat refuses a share sooner than about a minute after the payment, a
// payment not opened for profit sharing (CreateRequest.ProfitSharing), one
// whose freeze period (30 days) has ended, and more than the payment has
// left unshared (403 NOT_ENOUGH).
func (c *Client) CreateShare(ctx context.Context, r payment.ShareRequest) (*payment.ShareResult, error) {
	const op = "wechatpay.create_share"
	req, err := c.shareBody(r)
	if err != nil {
		return nil, err
	}
	names := make([]*string, len(req.Receivers))
	for i := range req.Receivers {
		names[i] = &req.Receivers[i].Name
	}
	serial, err := c.encryptNames(names...)
	if err != nil {
		return nil, fmt.Errorf("%s: encrypting names: %w", op, err)
	}
	var w wireShareOrder
	if err := c.callSerial(ctx, serial, http.MethodPost, sharePath, "", req, &w); err != nil {
		return nil, wrapCall(op, err)
	}
	return c.toShare(op, &w, r.Account, r.TransactionID, r.OrderNo)
}

// QueryShare asks WeChat Pay for a sharing order or an unfreeze by the
// merchant's number. One WeChat does not have is an *APIError of
// commerce.KindNotFound.
func (c *Client) QueryShare(ctx context.Context, a payment.Account, transactionID, orderNo string) (*payment.ShareResult, error) {
	const op = "wechatpay.query_share"
	if err := c.CheckAccount(a); err != nil {
		return nil, commerce.Invalid(op, "Account", "%v", err)
	}
	if err := checkShareTx(transactionID); err != nil {
		return nil, commerce.Invalid(op, "transactionID", "%v", err)
	}
	if err := checkOutOrderNo(orderNo); err != nil {
		return nil, commerce.Invalid(op, "orderNo", "%v", err)
	}
	query := withSubMerchant(a, "transaction_id="+url.QueryEscape(transactionID))
	var w wireShareOrder
	if err := c.call(ctx, http.MethodGet, sharePath+"/"+url.PathEscape(orderNo), query, nil, &w); err != nil {
		return nil, wrapCall(op, err)
	}
	return c.toShare(op, &w, a, transactionID, orderNo)
}

// UnfreezeShare releases what the payment has left unshared to the
// merchant, under orderNo (a number of the merchant's, like a sharing
// order's). It ends the payment's sharing: WeChat takes no sharing order
// after it. The answer is an order to query like a sharing one.
func (c *Client) UnfreezeShare(ctx context.Context, a payment.Account, transactionID, orderNo, description string) (*payment.ShareResult, error) {
	const op = "wechatpay.unfreeze_share"
	if err := c.CheckAccount(a); err != nil {
		return nil, commerce.Invalid(op, "Account", "%v", err)
	}
	if err := checkShareTx(transactionID); err != nil {
		return nil, commerce.Invalid(op, "transactionID", "%v", err)
	}
	if err := checkOutOrderNo(orderNo); err != nil {
		return nil, commerce.Invalid(op, "orderNo", "%v", err)
	}
	if err := checkText(description, 1, maxShareDescription); err != nil {
		return nil, commerce.Invalid(op, "description", "%v", err)
	}
	req := struct {
		SubMchID      string `json:"sub_mchid,omitempty"`
		TransactionID string `json:"transaction_id"`
		OutOrderNo    string `json:"out_order_no"`
		Description   string `json:"description"`
	}{a.SubMerchant, transactionID, orderNo, description}
	var w wireShareOrder
	if err := c.call(ctx, http.MethodPost, unfreezePath, "", req, &w); err != nil {
		return nil, wrapCall(op, err)
	}
	return c.toShare(op, &w, a, transactionID, orderNo)
}

// ReturnShare asks WeChat Pay to take money back from a business receiver
// of a sharing order (a person's share cannot be returned): at most what
// it received there less earlier returns, at most 20 returns an order. The
// same ReturnNo answers with the same return.
func (c *Client) ReturnShare(ctx context.Context, r payment.ReturnRequest) (*payment.ReturnResult, error) {
	const op = "wechatpay.return_share"
	if err := c.CheckAccount(r.Account); err != nil {
		return nil, commerce.Invalid(op, "Account", "%v", err)
	}
	if err := checkOutOrderNo(r.OrderNo); err != nil {
		return nil, commerce.Invalid(op, "OrderNo", "%v", err)
	}
	if err := checkOutReturnNo(r.ReturnNo); err != nil {
		return nil, commerce.Invalid(op, "ReturnNo", "%v", err)
	}
	if err := checkDigits(r.From, 32); err != nil {
		return nil, commerce.Invalid(op, "From", "%v (the business receiver's merchant number)", err)
	}
	fen, err := toFen(r.Amount)
	if err != nil {
		return nil, commerce.Invalid(op, "Amount", "%v", err)
	}
	if err := checkText(r.Description, 1, maxShareDescription); err != nil {
		return nil, commerce.Invalid(op, "Description", "%v", err)
	}
	req := returnOrderRequest{SubMchID: r.Account.SubMerchant, OutOrderNo: r.OrderNo, OutReturnNo: r.ReturnNo,
		ReturnMchID: r.From, Amount: fen, Description: r.Description}
	var w wireReturnOrder
	if err := c.call(ctx, http.MethodPost, returnPath, "", req, &w); err != nil {
		return nil, wrapCall(op, err)
	}
	return toReturn(op, &w, r.Account, r.OrderNo, r.ReturnNo)
}

// QueryReturn asks WeChat Pay for a share return by its number.
func (c *Client) QueryReturn(ctx context.Context, a payment.Account, orderNo, returnNo string) (*payment.ReturnResult, error) {
	const op = "wechatpay.query_return"
	if err := c.CheckAccount(a); err != nil {
		return nil, commerce.Invalid(op, "Account", "%v", err)
	}
	if err := checkOutOrderNo(orderNo); err != nil {
		return nil, commerce.Invalid(op, "orderNo", "%v", err)
	}
	if err := checkOutReturnNo(returnNo); err != nil {
		return nil, commerce.Invalid(op, "returnNo", "%v", err)
	}
	query := withSubMerchant(a, "out_order_no="+url.QueryEscape(orderNo))
	var w wireReturnOrder
	if err := c.call(ctx, http.MethodGet, returnPath+"/"+url.PathEscape(returnNo), query, nil, &w); err != nil {
		return nil, wrapCall(op, err)
	}
	return toReturn(op, &w, a, orderNo, returnNo)
}

// SharingRatio is the largest share of a payment the account may send to
// others: a sub-merchant's as WeChat Pay has it (merchant-configs, in
// ten-thousandths), a direct merchant's as configured (WeChat publishes no
// query for it).
func (c *Client) SharingRatio(ctx context.Context, a payment.Account) (commerce.Rate, error) {
	const op = "wechatpay.sharing_ratio"
	if err := c.CheckAccount(a); err != nil {
		return commerce.Rate{}, commerce.Invalid(op, "Account", "%v", err)
	}
	if a.IsDirect() {
		return c.maxSharingRatio(), nil
	}
	var w struct {
		SubMchID string `json:"sub_mchid"`
		MaxRatio *int64 `json:"max_ratio"`
	}
	if err := c.call(ctx, http.MethodGet, merchantRatioPath+url.PathEscape(a.SubMerchant), "", nil, &w); err != nil {
		return commerce.Rate{}, wrapCall(op, err)
	}
	switch {
	case w.SubMchID != a.SubMerchant:
		return commerce.Rate{}, fmt.Errorf("%s: answer is for sub_mchid %q, asked for %q", op, truncate(w.SubMchID, 32), a.SubMerchant)
	case w.MaxRatio == nil || *w.MaxRatio < 0 || *w.MaxRatio > 10_000:
		return commerce.Rate{}, fmt.Errorf("%s: max_ratio missing or not 0 to 10000", op)
	}
	return commerce.PPM(*w.MaxRatio * 100), nil // ‱ to ppm
}

// Unsplit is what a payment has left to share (transactions/{id}/amounts):
// paid, less what was shared, unfrozen or refunded from the frozen funds.
func (c *Client) Unsplit(ctx context.Context, a payment.Account, transactionID string) (commerce.Money, error) {
	const op = "wechatpay.unsplit"
	if err := c.CheckAccount(a); err != nil {
		return commerce.Money{}, commerce.Invalid(op, "Account", "%v", err)
	}
	if err := checkShareTx(transactionID); err != nil {
		return commerce.Money{}, commerce.Invalid(op, "transactionID", "%v", err)
	}
	var w struct {
		TransactionID string `json:"transaction_id"`
		UnsplitAmount *int64 `json:"unsplit_amount"`
	}
	if err := c.call(ctx, http.MethodGet, amountsPath+url.PathEscape(transactionID)+"/amounts", "", nil, &w); err != nil {
		return commerce.Money{}, wrapCall(op, err)
	}
	if w.TransactionID != transactionID || w.UnsplitAmount == nil {
		return commerce.Money{}, fmt.Errorf("%s: answer is for transaction_id %q (unsplit_amount given: %t), asked for %q",
			op, truncate(w.TransactionID, 40), w.UnsplitAmount != nil, transactionID)
	}
	m, err := fromFen(*w.UnsplitAmount, "CNY")
	if err != nil {
		return commerce.Money{}, fmt.Errorf("%s: unsplit_amount: %w", op, err)
	}
	return m, nil
}

var shareStates = map[string]payment.ShareState{"PROCESSING": payment.ShareProcessing, "FINISHED": payment.ShareFinished}

var shareResults = map[string]payment.ShareResultState{
	"PENDING": payment.SharePending, "SUCCESS": payment.ShareSucceeded, "CLOSED": payment.ShareClosed,
}

var returnStates = map[string]payment.ReturnState{
	"PROCESSING": payment.ReturnProcessing, "SUCCESS": payment.ReturnSucceeded, "FAILED": payment.ReturnFailed,
}

// toShare maps a verified OrdersEntity, which must be the order asked for.
func (c *Client) toShare(op string, w *wireShareOrder, a payment.Account, transactionID, orderNo string) (*payment.ShareResult, error) {
	if w.OutOrderNo != orderNo || w.TransactionID != transactionID || w.SubMchID != "" && w.SubMchID != a.SubMerchant {
		return nil, fmt.Errorf("%s: answer is for out_order_no %q of transaction %q (sub-merchant %q), asked for %q of %q (%q)",
			op, truncate(w.OutOrderNo, 64), truncate(w.TransactionID, 40), truncate(w.SubMchID, 32), orderNo, transactionID, a.SubMerchant)
	}
	st, ok := shareStates[w.State]
	if !ok {
		return nil, fmt.Errorf("%s: sharing order %s: unknown state %q", op, orderNo, truncate(w.State, 32))
	}
	res := &payment.ShareResult{OrderNo: w.OutOrderNo, TransactionID: w.TransactionID, ProviderRef: w.OrderID, State: st}
	for i, rc := range w.Receivers {
		line := payment.ShareReceiverResult{Account: rc.Account, Description: rc.Description, FailReason: rc.FailReason, DetailID: rc.DetailID}
		switch rc.Type {
		case "MERCHANT_ID":
			line.Kind = payment.PayeeBusiness
		case "PERSONAL_OPENID", "PERSONAL_SUB_OPENID":
			line.Kind = payment.PayeePerson
		default:
			return nil, fmt.Errorf("%s: sharing order %s: receivers[%d]: unknown type %q", op, orderNo, i, truncate(rc.Type, 32))
		}
		if line.Result, ok = shareResults[rc.Result]; !ok {
			return nil, fmt.Errorf("%s: sharing order %s: receivers[%d]: unknown result %q", op, orderNo, i, truncate(rc.Result, 32))
		}
		if rc.Amount == nil {
			return nil, fmt.Errorf("%s: sharing order %s: receivers[%d]: no amount", op, orderNo, i)
		}
		m, err := fromFen(*rc.Amount, "CNY")
		if err != nil {
			return nil, fmt.Errorf("%s: sharing order %s: receivers[%d]: %w", op, orderNo, i, err)
		}
		line.Amount = m
		if rc.FinishTime != "" {
			if line.Finished, err = time.Parse(time.RFC3339, rc.FinishTime); err != nil {
				return nil, fmt.Errorf("%s: sharing order %s: receivers[%d]: finish_time %q is not RFC 3339", op, orderNo, i, truncate(rc.FinishTime, 40))
			}
		}
		if line.Result == payment.ShareClosed && line.FailReason == "" {
			line.FailReason = "CLOSED: WeChat Pay gave no reason"
		}
		res.Receivers = append(res.Receivers, line)
	}
	return res, nil
}

func toReturn(op string, w *wireReturnOrder, a payment.Account, orderNo, returnNo string) (*payment.ReturnResult, error) {
	if w.OutReturnNo != returnNo || w.OutOrderNo != "" && w.OutOrderNo != orderNo || w.SubMchID != "" && w.SubMchID != a.SubMerchant {
		return nil, fmt.Errorf("%s: answer is for out_return_no %q of order %q (sub-merchant %q), asked for %q of %q (%q)",
			op, truncate(w.OutReturnNo, 64), truncate(w.OutOrderNo, 64), truncate(w.SubMchID, 32), returnNo, orderNo, a.SubMerchant)
	}
	st, ok := returnStates[w.Result]
	if !ok {
		return nil, fmt.Errorf("%s: return %s: unknown result %q", op, returnNo, truncate(w.Result, 32))
	}
	if w.Amount == nil {
		return nil, fmt.Errorf("%s: return %s: no amount", op, returnNo)
	}
	m, err := fromFen(*w.Amount, "CNY")
	if err != nil {
		return nil, fmt.Errorf("%s: return %s: amount: %w", op, returnNo, err)
	}
	res := &payment.ReturnResult{ReturnNo: w.OutReturnNo, OrderNo: orderNo, ProviderRef: w.ReturnID, State: st, Amount: m, FailReason: w.FailReason}
	if st == payment.ReturnFailed && res.FailReason == "" {
		res.FailReason = "FAILED: WeChat Pay gave no reason"
	}
	return res, nil
}

// checkOutOrderNo applies out_order_no's rule: at most 64 of digits,
// letters and _-|*@.
func checkOutOrderNo(s string) error { return checkNo(s, 1, 64, "_-|*@", "out_order_no") }

// checkOutReturnNo applies out_return_no's rule, the same as out_order_no's.
func checkOutReturnNo(s string) error { return checkNo(s, 1, 64, "_-|*@", "out_return_no") }

// checkShareTx requires a transaction_id: sharing names the payment by
// WeChat's number only.
func checkShareTx(s string) error {
	if s == "" {
		return errors.New("missing (the payment's transaction_id, Payment.ProviderRef)")
	}
	return checkTransactionID(s)
}

// fenText writes fen as yuan for messages.
func fenText(fen int64) string {
	return "CNY " + strconv.FormatInt(fen/100, 10) + "." + fmt.Sprintf("%02d", fen%100)
}

// withSubMerchant puts a sub-merchant's sub_mchid before query, as the
// partner variants of the profit-sharing queries take it.
func withSubMerchant(a payment.Account, query string) string {
	if a.IsDirect() {
		return query
	}
	return "sub_mchid=" + url.QueryEscape(a.SubMerchant) + "&" + query
}
