package wechatpay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
	"unicode/utf8"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/payment"
)

var _ payment.Transferer = (*Client)(nil)

// Merchant transfers (商家转账), the API WeChat Pay opened on 2025-01-15 in
// place of the batch transfers: a bill per payee, which the payee accepts
// in the Mini Program. A direct merchant calls
// /v3/fund-app/mch-transfer/transfer-bills; a service provider calls the
// /partner/ variant naming the sub-merchant (sub_mchid) the money leaves.
const (
	transferPath        = "/v3/fund-app/mch-transfer/transfer-bills"
	partnerTransferPath = "/v3/fund-app/mch-transfer/partner/transfer-bills"
)

// Transfer limits WeChat documents: at least 0.1 yuan a bill (the upper
// bound is the merchant's own setting on the merchant platform), and the
// payee's real name from 2,000 yuan on.
const (
	MinTransferFen      = 10
	TransferNameFromFen = 200_000
)

// CommissionScene is the transfer scene for commission (1005 佣金报酬: "paid
// to a provider of services such as sales, group leaders, hosts"), with the
// report lines that pass for it: 岗位类型 and 报酬说明. The scene page itself
// is not published; these are what merchants report working. A merchant
// whose scene id differs sets TransferRequest.Scene and Report.
const CommissionScene = "1005"

type (
	transferBillRequest struct {
		SubMchID        string               `json:"sub_mchid,omitempty"`
		AppID           string               `json:"appid"`
		OutBillNo       string               `json:"out_bill_no"`
		TransferSceneID string               `json:"transfer_scene_id"`
		OpenID          string               `json:"openid"`
		UserName        string               `json:"user_name,omitempty"`
		TransferAmount  int64                `json:"transfer_amount"`
		TransferRemark  string               `json:"transfer_remark"`
		NotifyURL       string               `json:"notify_url,omitempty"`
		ReportInfos     []transferReportInfo `json:"transfer_scene_report_infos"`
	}
	transferReportInfo struct {
		InfoType    string `json:"info_type"`
		InfoContent string `json:"info_content"`
	}
	// wireTransferBill is a bill as create, query and cancel answer it and
	// as an MCHTRANSFER.BILL.FINISHED notification's resource decrypts to.
	wireTransferBill struct {
		MchID          string `json:"mch_id"`
		MchIDAlt       string `json:"mchid"` // partner answers' spelling, as merchants report them
		SubMchID       string `json:"sub_mchid"`
		OutBillNo      string `json:"out_bill_no"`
		TransferBillNo string `json:"transfer_bill_no"`
		AppID          string `json:"appid"`
		State          string `json:"state"`
		TransferAmount *int64 `json:"transfer_amount"`
		FailReason     string `json:"fail_reason"`
		OpenID         string `json:"openid"`
		PackageInfo    string `json:"package_info"`
		CreateTime     string `json:"create_time"`
		UpdateTime     string `json:"update_time"`
	}
)

// TransferApp is the app whose openids a transfer from a pays: the
// sub-merchant's own app when it has one, this client's app otherwise.
func (c *Client) TransferApp(a payment.Account) string {
	if a.SubApp != "" {
		return a.SubApp
	}
	return c.cfg.AppID
}

// ValidateTransfer checks r as CreateTransfer does, without calling WeChat
// Pay.
func (c *Client) ValidateTransfer(r payment.TransferRequest) error {
	_, _, err := c.transferBody(r)
	return err
}

// transferBody checks r and returns the request body (user_name still in
// clear) and its path.
func (c *Client) transferBody(r payment.TransferRequest) (*transferBillRequest, string, error) {
	const op = "wechatpay.create_transfer"
	if err := checkAccount(r.Account); err != nil {
		return nil, "", commerce.Invalid(op, "Account", "%v", err)
	}
	if err := checkOutBillNo(r.BillNo); err != nil {
		return nil, "", commerce.Invalid(op, "BillNo", "%v", err)
	}
	fen, err := toFen(r.Amount)
	if err != nil {
		return nil, "", commerce.Invalid(op, "Amount", "%v", err)
	}
	if fen < MinTransferFen {
		return nil, "", commerce.Invalid(op, "Amount", "%s: WeChat Pay transfers at least 0.10 yuan", r.Amount)
	}
	app := c.TransferApp(r.Account)
	switch p := r.Payee; {
	case p.Kind != payment.PayeePerson:
		return nil, "", commerce.Invalid(op, "Payee.Kind", "%q: a transfer goes to a person's balance (an openid), not a business", p.Kind)
	case p.App != app:
		return nil, "", commerce.Invalid(op, "Payee.App", "openid under app %q, but this account pays openids under %q", p.App, app)
	}
	if err := checkOpenID(r.Payee.Account); err != nil {
		return nil, "", commerce.Invalid(op, "Payee.Account", "%v", err)
	}
	if err := checkText(r.Payee.Name, 0, 64); err != nil {
		return nil, "", commerce.Invalid(op, "Payee.Name", "%v", err)
	}
	if fen >= TransferNameFromFen && r.Payee.Name == "" {
		return nil, "", commerce.Invalid(op, "Payee.Name", "required: WeChat Pay checks the payee's real name on a transfer of 2,000 yuan or more (this is %s)", r.Amount)
	}
	if err := checkText(r.Remark, 1, 32); err != nil {
		return nil, "", commerce.Invalid(op, "Remark", "%v (shown to the payee)", err)
	}
	scene, report := r.Scene, r.Report
	if scene == "" {
		switch r.Purpose {
		case payment.PurposeCommission:
			scene = CommissionScene
		default:
			return nil, "", commerce.Invalid(op, "Scene", "required: no scene for purpose %q", r.Purpose)
		}
	}
	if err := checkDigits(scene, 16); err != nil {
		return nil, "", commerce.Invalid(op, "Scene", "%v", err)
	}
	if len(report) == 0 && scene == CommissionScene {
		report = []payment.TransferInfo{{Type: "岗位类型", Content: "推广员"}, {Type: "报酬说明", Content: r.Remark}}
	}
	if len(report) == 0 || len(report) > 10 {
		return nil, "", commerce.Invalid(op, "Report", "%d lines: scene %s needs its report lines (1 to 10)", len(report), scene)
	}
	req := &transferBillRequest{SubMchID: r.Account.SubMerchant, AppID: app, OutBillNo: r.BillNo, TransferSceneID: scene,
		OpenID: r.Payee.Account, UserName: r.Payee.Name, TransferAmount: fen, TransferRemark: r.Remark, NotifyURL: c.cfg.NotifyURL}
	for i, info := range report {
		if err := checkText(info.Type, 1, 15); err != nil {
			return nil, "", commerce.Invalid(op, fmt.Sprintf("Report[%d].Type", i), "%v", err)
		}
		if err := checkText(info.Content, 1, 32); err != nil {
			return nil, "", commerce.Invalid(op, fmt.Sprintf("Report[%d].Content", i), "%v", err)
		}
		req.ReportInfos = append(req.ReportInfos, transferReportInfo{InfoType: info.Type, InfoContent: info.Content})
	}
	path := transferPath
	if !r.Account.IsDirect() {
		path = partnerTransferPath
	}
	return req, path, nil
}

// CreateTransfer creates a transfer bill after checking everything WeChat
// would refuse (see ValidateTransfer); a payee's name travels encrypted
// (RSA-OAEP with the platform key named in Wechatpay-Serial). The answer is
// usually waiting, with ClientParams for wx.requestMerchantTransfer.
//
// WeChat keys the bill on out_bill_no: the same number with the same fields
// answers with the same bill, with other fields it is refused. After an
// error answer or none, the caller must not switch to a new number for the
// same money: QueryTransfer first, and send the same request again when
// WeChat has no such bill.
func (c *Client) CreateTransfer(ctx context.Context, r payment.TransferRequest) (*payment.Transfer, error) {
	const op = "wechatpay.create_transfer"
	req, path, err := c.transferBody(r)
	if err != nil {
		return nil, err
	}
	serial := "" // the key set's choice unless a field is encrypted
	if req.UserName != "" {
		if req.UserName, serial, err = c.encrypt(req.UserName); err != nil {
			return nil, fmt.Errorf("%s: encrypting user_name: %w", op, err)
		}
	}
	var w wireTransferBill
	if err := c.callSerial(ctx, serial, http.MethodPost, path, "", req, &w); err != nil {
		return nil, wrapCall(op, err)
	}
	if w.OutBillNo != r.BillNo {
		return nil, fmt.Errorf("%s: answer is for out_bill_no %q, asked for %q", op, truncate(w.OutBillNo, 40), r.BillNo)
	}
	t, err := c.toTransfer(&w, r.Account, req.AppID)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if !t.Amount.IsSet() {
		t.Amount = r.Amount
	}
	if t.Payee == "" {
		t.Payee = r.Payee.Account
	}
	return t, nil
}

// QueryTransfer asks WeChat Pay for a bill by its out_bill_no (bills of
// the last 30 days). A bill WeChat does not have is an *APIError of
// commerce.KindNotFound. The answer carries no package_info: to show a
// waiting bill again, send CreateTransfer with the same request.
func (c *Client) QueryTransfer(ctx context.Context, a payment.Account, billNo string) (*payment.Transfer, error) {
	const op = "wechatpay.query_transfer"
	if err := checkAccount(a); err != nil {
		return nil, commerce.Invalid(op, "Account", "%v", err)
	}
	if err := checkOutBillNo(billNo); err != nil {
		return nil, commerce.Invalid(op, "billNo", "%v", err)
	}
	path, query := transferPath+"/out-bill-no/"+url.PathEscape(billNo), ""
	if !a.IsDirect() {
		path, query = partnerTransferPath+"/out-bill-no/"+url.PathEscape(billNo), "sub_mchid="+url.QueryEscape(a.SubMerchant)
	}
	var w wireTransferBill
	if err := c.call(ctx, http.MethodGet, path, query, nil, &w); err != nil {
		return nil, wrapCall(op, err)
	}
	if w.MchID == "" {
		w.MchID = w.MchIDAlt
	}
	if w.OutBillNo != billNo || w.MchID != "" && w.MchID != c.cfg.MchID || w.SubMchID != a.SubMerchant {
		return nil, fmt.Errorf("%s: answer is for out_bill_no %q of merchant %q/%q, asked for %q of %q/%q",
			op, truncate(w.OutBillNo, 40), truncate(w.MchID, 32), truncate(w.SubMchID, 32), billNo, c.cfg.MchID, a.SubMerchant)
	}
	t, err := c.toTransfer(&w, a, c.TransferApp(a))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return t, nil
}

// CancelTransfer asks WeChat Pay to cancel a bill the payee has not
// accepted. The answer is usually cancelling; the notification (or a
// query) brings cancelled. WeChat refuses to cancel an accepted bill.
func (c *Client) CancelTransfer(ctx context.Context, a payment.Account, billNo string) (*payment.Transfer, error) {
	const op = "wechatpay.cancel_transfer"
	if err := checkAccount(a); err != nil {
		return nil, commerce.Invalid(op, "Account", "%v", err)
	}
	if err := checkOutBillNo(billNo); err != nil {
		return nil, commerce.Invalid(op, "billNo", "%v", err)
	}
	path := transferPath + "/out-bill-no/" + url.PathEscape(billNo) + "/cancel"
	body := map[string]string{} // WeChat takes an empty object
	if !a.IsDirect() {
		path = partnerTransferPath + "/out-bill-no/" + url.PathEscape(billNo) + "/cancel"
		body["sub_mchid"] = a.SubMerchant
	}
	var w wireTransferBill
	if err := c.call(ctx, http.MethodPost, path, "", body, &w); err != nil {
		return nil, wrapCall(op, err)
	}
	if w.OutBillNo != billNo {
		return nil, fmt.Errorf("%s: answer is for out_bill_no %q, asked for %q", op, truncate(w.OutBillNo, 40), billNo)
	}
	t, err := c.toTransfer(&w, a, c.TransferApp(a))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return t, nil
}

var transferStates = map[string]payment.TransferState{
	"ACCEPTED":          payment.TransferAccepted,
	"PROCESSING":        payment.TransferProcessing,
	"WAIT_USER_CONFIRM": payment.TransferWaiting,
	"TRANSFERING":       payment.TransferTransferring,
	"SUCCESS":           payment.TransferSucceeded,
	"FAIL":              payment.TransferFailed,
	"CANCELING":         payment.TransferCancelling,
	"CANCELLED":         payment.TransferCancelled,
}

// toTransfer maps a verified bill; app is the app the bill pays under (for
// the confirmation parameters).
func (c *Client) toTransfer(w *wireTransferBill, a payment.Account, app string) (*payment.Transfer, error) {
	if w.OutBillNo == "" {
		return nil, errors.New("transfer bill has no out_bill_no")
	}
	st, ok := transferStates[w.State]
	if !ok {
		return nil, fmt.Errorf("transfer %s: unknown state %q", w.OutBillNo, truncate(w.State, 32))
	}
	if w.MchID == "" {
		w.MchID = w.MchIDAlt
	}
	t := &payment.Transfer{BillNo: w.OutBillNo, ProviderRef: w.TransferBillNo, State: st, FailReason: w.FailReason,
		Payee: w.OpenID, Merchant: w.MchID}
	if t.Merchant == "" {
		t.Merchant = c.cfg.MchID
	}
	if w.TransferAmount != nil {
		m, err := fromFen(*w.TransferAmount, "CNY")
		if err != nil {
			return nil, fmt.Errorf("transfer %s: transfer_amount: %w", w.OutBillNo, err)
		}
		t.Amount = m
	}
	for _, tm := range []struct {
		s   string
		dst *time.Time
	}{{w.CreateTime, &t.Created}, {w.UpdateTime, &t.Updated}} {
		if tm.s == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339, tm.s)
		if err != nil {
			return nil, fmt.Errorf("transfer %s: time %q is not RFC 3339", w.OutBillNo, truncate(tm.s, 40))
		}
		*tm.dst = v
	}
	if st == payment.TransferFailed && t.FailReason == "" {
		t.FailReason = "FAIL: WeChat Pay gave no reason"
	}
	if st == payment.TransferWaiting && w.PackageInfo != "" {
		if !utf8.ValidString(w.PackageInfo) || len(w.PackageInfo) > 2048 {
			return nil, fmt.Errorf("transfer %s: package_info is not text of at most 2048 bytes", w.OutBillNo)
		}
		// wx.requestMerchantTransfer: the merchant and the app of the
		// payee's openid; a sub-merchant's bill names the sub-merchant,
		// and its own app as subAppId.
		t.ClientParams = map[string]string{"mchId": c.cfg.MchID, "package": w.PackageInfo}
		switch {
		case a.IsDirect():
			t.ClientParams["appId"] = app
		case a.SubApp != "":
			t.ClientParams["subMchId"], t.ClientParams["subAppId"] = a.SubMerchant, a.SubApp
		default:
			t.ClientParams["subMchId"], t.ClientParams["appId"] = a.SubMerchant, app
		}
	}
	return t, nil
}

// decodeTransfer reads an MCHTRANSFER.BILL.FINISHED resource (a final
// state: SUCCESS, FAIL or CANCELLED) for this merchant.
func (c *Client) decodeTransfer(id string, plain []byte) (*payment.Transfer, error) {
	var w wireTransferBill
	if err := json.Unmarshal(plain, &w); err != nil {
		return nil, fmt.Errorf("notification %s: transfer bill: %w", id, err)
	}
	if w.MchID == "" {
		w.MchID = w.MchIDAlt
	}
	if w.MchID != c.cfg.MchID {
		return nil, fmt.Errorf("notification %s: for merchant %q, this is %q", id, truncate(w.MchID, 32), c.cfg.MchID)
	}
	t, err := c.toTransfer(&w, payment.Account{SubMerchant: w.SubMchID}, "")
	if err != nil {
		return nil, fmt.Errorf("notification %s: %w", id, err)
	}
	if !t.State.Final() {
		return nil, fmt.Errorf("notification %s: transfer %s is %s, not final", id, t.BillNo, w.State)
	}
	return t, nil
}

// checkOutBillNo applies out_bill_no's rule: at most 32 digits and letters.
func checkOutBillNo(s string) error { return checkNo(s, 1, 32, "", "out_bill_no") }

// checkAccount checks a sub-merchant account's numbers.
func checkAccount(a payment.Account) error {
	if a.IsDirect() {
		if a.SubApp != "" {
			return errors.New("a sub_appid without a sub_mchid")
		}
		return nil
	}
	if err := checkDigits(a.SubMerchant, 32); err != nil {
		return fmt.Errorf("sub_mchid: %v", err)
	}
	if a.SubApp != "" {
		if err := checkToken(a.SubApp, 32); err != nil {
			return fmt.Errorf("sub_appid: %v", err)
		}
	}
	return nil
}
