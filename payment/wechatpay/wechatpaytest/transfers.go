package wechatpaytest

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Merchant transfers (商家转账, the transfer-bills API): the platform keeps
// each bill and its state machine as WeChat Pay documents it:
//
//	ACCEPTED → WAIT_USER_CONFIRM (with package_info) → SUCCESS | FAIL
//	any state before the payee accepts → CANCELING → CANCELLED
//	a bill not accepted within 24 hours → CANCELLED
//
// ConfirmTransfer and FailTransfer play the payee and WeChat; a
// cancellation and the 24-hour close take effect when the bill is next
// looked at (a query, or TransferBill), as WeChat finishes them on its own
// time. TransferNotification gives the MCHTRANSFER.BILL.FINISHED
// notification of a bill in a final state.
//
// A request is checked as WeChat does: out_bill_no, scene and its report
// lines (1000: 活动名称 and 奖励说明; 1005: 岗位类型 and 报酬说明; 1011:
// 赔付原因), at least 0.1 yuan, a remark of at most 32 characters, the
// payee's name from 2,000 yuan on (decrypted with the platform key the
// request names in Wechatpay-Serial), the app bound to the merchant or to
// the sub-merchant (AddSubMerchant), the limits set with SetTransferLimits.
// The same out_bill_no with the same fields answers with the same bill, and
// with other fields is refused. The error codes of the limit, state and
// mismatch refusals are not in WeChat's published tables: the platform
// answers 400 INVALID_REQUEST with WeChat's wording, a best reading.

// TransferLimits are the platform's limits on transfers, in fen; zero is
// no limit. WeChat sets the per-transfer range per merchant (a community
// report gives 0.1 to 200 yuan by default); daily caps for the new API are
// not published.
type TransferLimits struct {
	PerTransfer int64 // one bill
	PerDay      int64 // the merchant's bills of a day (China time), not failed or cancelled
	PerPayeeDay int64 // one openid's bills of a day
}

// TransferBill is a snapshot of a transfer bill on the platform.
type TransferBill struct {
	OutBillNo, TransferBillNo string
	SubMchID, AppID, OpenID   string
	Scene, Remark, UserName   string // UserName decrypted
	Amount                    int64  // fen
	State, FailReason         string // WeChat's state: ACCEPTED … SUCCESS, FAIL, CANCELLED
	PackageInfo, NotifyURL    string
	ReportInfos               []string // "type=content"
	CreatedAt, UpdatedAt      time.Time
	Perception                string
}

type bill struct {
	TransferBill
}

type transferBook struct {
	bills  map[string]*bill
	subs   map[string][]string // sub_mchid → its apps
	limits TransferLimits
	hold   bool
}

// book returns the transfer book, made on first use. Callers hold p.mu.
func (p *Platform) book() *transferBook {
	if p.xfer.bills == nil {
		p.xfer.bills, p.xfer.subs = map[string]*bill{}, map[string][]string{}
	}
	return &p.xfer
}

// transferScenes are the scenes the platform's merchant has, with the
// report lines each requires and the payee wordings it accepts (1005's are
// not published, so none is).
var transferScenes = map[string]struct{ reports, perceptions []string }{
	"1000": {[]string{"活动名称", "奖励说明"}, []string{"现金奖励", "活动奖励"}},
	"1005": {[]string{"岗位类型", "报酬说明"}, nil},
	"1011": {[]string{"赔付原因"}, []string{"退款", "商家赔付"}},
}

// SetTransferLimits replaces the transfer limits in force.
func (p *Platform) SetTransferLimits(l TransferLimits) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.book().limits = l
}

// HoldTransfers keeps new bills ACCEPTED (funds not yet locked, no
// package_info) while hold is true; once released, they move on to
// WAIT_USER_CONFIRM when next looked at.
func (p *Platform) HoldTransfers(hold bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.book().hold = hold
}

// TransferBill returns the bill out_bill_no, if the platform has it.
func (p *Platform) TransferBill(no string) (TransferBill, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b, ok := p.book().bills[no]
	if !ok {
		return TransferBill{}, false
	}
	p.observe(b)
	return b.snapshot(), true
}

// TransferBills returns every bill, by out_bill_no.
func (p *Platform) TransferBills() []TransferBill {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]TransferBill, 0, len(p.book().bills))
	for _, b := range p.book().bills {
		p.observe(b)
		out = append(out, b.snapshot())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OutBillNo < out[j].OutBillNo })
	return out
}

func (b *bill) snapshot() TransferBill {
	s := b.TransferBill
	s.ReportInfos = slices.Clone(b.ReportInfos)
	return s
}

// observe moves a bill on as time and WeChat would: a held bill to
// WAIT_USER_CONFIRM, one not accepted within 24 hours to CANCELLED, a
// cancellation to its end. Callers hold p.mu.
func (p *Platform) observe(b *bill) {
	now := p.now()
	if b.State == "ACCEPTED" && !p.book().hold {
		b.State, b.PackageInfo, b.UpdatedAt = "WAIT_USER_CONFIRM", "ABBQO+oYAAABAAAAAAA"+randAlnum(40)+"=", now
	}
	switch b.State {
	case "ACCEPTED", "PROCESSING", "WAIT_USER_CONFIRM":
		if !now.Before(b.CreatedAt.Add(24 * time.Hour)) {
			b.State, b.FailReason, b.PackageInfo, b.UpdatedAt = "CANCELLED", "", "", now
		}
	case "CANCELING":
		b.State, b.PackageInfo, b.UpdatedAt = "CANCELLED", "", now
	}
}

// ConfirmTransfer plays the payee accepting a waiting bill in the Mini
// Program: it becomes SUCCESS, and the notification WeChat would post is
// returned.
func (p *Platform) ConfirmTransfer(no string) (*Notification, error) {
	return p.finishTransfer(no, "SUCCESS", "")
}

// FailTransfer ends a bill in FAIL with reason (WeChat's codes, such as
// PAYEE_ACCOUNT_ABNORMAL or REAL_NAME_CHECK_FAIL) and returns the
// notification.
func (p *Platform) FailTransfer(no, reason string) (*Notification, error) {
	if reason == "" {
		return nil, fmt.Errorf("wechatpaytest: a failed transfer needs a reason")
	}
	return p.finishTransfer(no, "FAIL", reason)
}

func (p *Platform) finishTransfer(no, state, reason string) (*Notification, error) {
	p.mu.Lock()
	b, ok := p.book().bills[no]
	if !ok {
		p.mu.Unlock()
		return nil, fmt.Errorf("wechatpaytest: no transfer bill %s", no)
	}
	p.observe(b)
	switch {
	case state == "SUCCESS" && b.State != "WAIT_USER_CONFIRM" && b.State != "TRANSFERING",
		state == "FAIL" && (b.State == "SUCCESS" || b.State == "FAIL" || b.State == "CANCELLED" || b.State == "CANCELING"):
		st := b.State
		p.mu.Unlock()
		return nil, fmt.Errorf("wechatpaytest: transfer bill %s is %s", no, st)
	}
	b.State, b.FailReason, b.PackageInfo, b.UpdatedAt = state, reason, "", p.now()
	p.mu.Unlock()
	return p.TransferNotification(no)
}

// TransferNotification returns the MCHTRANSFER.BILL.FINISHED notification
// of a bill in a final state (SUCCESS, FAIL, CANCELLED), as WeChat posts
// it (again, for a retry).
func (p *Platform) TransferNotification(no string) (*Notification, error) {
	p.mu.Lock()
	b, ok := p.book().bills[no]
	if !ok {
		p.mu.Unlock()
		return nil, fmt.Errorf("wechatpaytest: no transfer bill %s", no)
	}
	p.observe(b)
	if b.State != "SUCCESS" && b.State != "FAIL" && b.State != "CANCELLED" {
		st := b.State
		p.mu.Unlock()
		return nil, fmt.Errorf("wechatpaytest: transfer bill %s is %s, not final", no, st)
	}
	resource := map[string]any{
		"out_bill_no": b.OutBillNo, "transfer_bill_no": b.TransferBillNo, "state": b.State, "mch_id": p.mchID,
		"transfer_amount": b.Amount, "openid": b.OpenID, "create_time": wxTime(b.CreatedAt), "update_time": wxTime(b.UpdatedAt),
	}
	if b.SubMchID != "" {
		resource["sub_mchid"] = b.SubMchID
	}
	if b.FailReason != "" {
		resource["fail_reason"] = b.FailReason
	}
	url := b.NotifyURL
	p.mu.Unlock()
	if url == "" {
		url = "https://merchant.example.com/wechatpay/notify"
	}
	s, err := p.newSpec(url, "MCHTRANSFER.BILL.FINISHED", "商家转账单据终态通知", "mch_payment", resource)
	if err != nil {
		return nil, err
	}
	return p.build(s)
}

const transferRoute = "/v3/fund-app/mch-transfer/"

// routeTransfer serves the transfer-bills API, direct and partner.
func (p *Platform) routeTransfer(r *http.Request, body []byte) (int, any) {
	rest := strings.TrimPrefix(r.URL.Path, transferRoute)
	rest, partner := strings.CutPrefix(rest, "partner/")
	switch {
	case rest == "transfer-bills" && r.Method == http.MethodPost:
		return p.createBill(body, partner, r.Header.Values("Wechatpay-Serial"))
	case strings.HasPrefix(rest, "transfer-bills/out-bill-no/"):
		no := strings.TrimPrefix(rest, "transfer-bills/out-bill-no/")
		if n, ok := strings.CutSuffix(no, "/cancel"); ok && r.Method == http.MethodPost && !strings.Contains(n, "/") {
			var b struct {
				SubMchID string `json:"sub_mchid"`
			}
			if e := decodeStrict(body, &b); e != nil {
				return 0, e
			}
			return p.cancelBill(n, partner, b.SubMchID)
		}
		if r.Method == http.MethodGet && !strings.Contains(no, "/") {
			return p.queryBill(no, partner, r.URL.Query().Get("sub_mchid"))
		}
	}
	return 0, errorf(404, "NOT_FOUND", "no such API: %s %s", r.Method, r.URL.Path)
}

type billBody struct {
	SubMchID        string `json:"sub_mchid"`
	AppID           string `json:"appid"`
	OutBillNo       string `json:"out_bill_no"`
	TransferSceneID string `json:"transfer_scene_id"`
	OpenID          string `json:"openid"`
	UserName        string `json:"user_name"`
	TransferAmount  int64  `json:"transfer_amount"`
	TransferRemark  string `json:"transfer_remark"`
	NotifyURL       string `json:"notify_url"`
	Perception      string `json:"user_recv_perception"`
	ReportInfos     []struct {
		InfoType    string `json:"info_type"`
		InfoContent string `json:"info_content"`
	} `json:"transfer_scene_report_infos"`
	UserRecvStyle *struct {
		Type string `json:"type"`
	} `json:"user_recv_style"`
}

func (p *Platform) createBill(body []byte, partner bool, serial []string) (int, any) {
	var b billBody
	if e := decodeStrict(body, &b); e != nil {
		return 0, e
	}
	if !partner && b.SubMchID != "" {
		return 0, errorf(400, "PARAM_ERROR", "sub_mchid is a parameter of the partner API only")
	}
	p.mu.Lock()
	book := p.book()
	apps, subOK := book.subs[b.SubMchID]
	limits := book.limits
	p.mu.Unlock()
	switch {
	case partner && b.SubMchID == "":
		return 0, errorf(400, "PARAM_ERROR", "sub_mchid is required")
	case partner && !subOK:
		return 0, errorf(403, "NO_AUTH", "sub_mchid %s is not a sub-merchant of service provider %s", b.SubMchID, p.mchID)
	case b.AppID != p.appID && !(partner && slices.Contains(apps, b.AppID)):
		return 0, errorf(400, "APPID_MCHID_NOT_MATCH", "appid %q is not bound to merchant %s", b.AppID, p.mchID)
	case !validNo(b.OutBillNo, 1, 32, ""):
		return 0, errorf(400, "PARAM_ERROR", "out_bill_no %q must be 1-32 digits and letters", b.OutBillNo)
	case !validNo(b.OpenID, 1, 128, "_-"):
		return 0, errorf(400, "PARAM_ERROR", "openid %q is not an openid", b.OpenID)
	case b.TransferAmount < 10:
		return 0, errorf(400, "PARAM_ERROR", "transfer_amount %d: 转账金额不能低于0.1元", b.TransferAmount)
	case limits.PerTransfer > 0 && b.TransferAmount > limits.PerTransfer:
		return 0, errorf(400, "INVALID_REQUEST", "transfer_amount %d: 超过单笔转账上下限 (%d fen)", b.TransferAmount, limits.PerTransfer)
	case b.TransferRemark == "" || !utf8.ValidString(b.TransferRemark) || utf8.RuneCountInString(b.TransferRemark) > 32:
		return 0, errorf(400, "PARAM_ERROR", "transfer_remark must be 1-32 characters")
	case len(b.NotifyURL) > 256:
		return 0, errorf(400, "PARAM_ERROR", "notify_url longer than 256 characters")
	case b.TransferAmount >= 200_000 && b.UserName == "":
		return 0, errorf(400, "PARAM_ERROR", "user_name: 转账金额>=2000元时，收款用户姓名必填")
	case b.UserRecvStyle != nil && b.UserRecvStyle.Type != "CONFIRM_PAGE" && b.UserRecvStyle.Type != "RED_PACKET":
		return 0, errorf(400, "PARAM_ERROR", "user_recv_style.type %q", b.UserRecvStyle.Type)
	}
	if msg := checkNotifyURL(b.NotifyURL, false); msg != "" {
		return 0, errorf(400, "PARAM_ERROR", "notify_url: %s", msg)
	}
	scene, ok := transferScenes[b.TransferSceneID]
	if !ok {
		return 0, errorf(403, "NO_AUTH", "transfer_scene_id %q: 商户未开通该转账场景", b.TransferSceneID)
	}
	if b.Perception != "" && !slices.Contains(scene.perceptions, b.Perception) {
		return 0, errorf(400, "INVALID_REQUEST", "user_recv_perception %q: 暂不支持展示当前传入的用户收款感知", b.Perception)
	}
	var infos []string
	for _, in := range b.ReportInfos {
		if utf8.RuneCountInString(in.InfoType) > 15 || in.InfoContent == "" || utf8.RuneCountInString(in.InfoContent) > 32 {
			return 0, errorf(400, "PARAM_ERROR", "transfer_scene_report_infos: info_type at most 15, info_content 1-32 characters")
		}
		infos = append(infos, in.InfoType+"="+in.InfoContent)
	}
	var types []string
	for _, in := range b.ReportInfos {
		types = append(types, in.InfoType)
	}
	slices.Sort(types)
	want := slices.Clone(scene.reports)
	slices.Sort(want)
	if !slices.Equal(types, want) {
		return 0, errorf(400, "PARAM_ERROR", "transfer_scene_report_infos %v: 需传入转账场景报备信息 %v for scene %s", types, scene.reports, b.TransferSceneID)
	}
	name := ""
	if b.UserName != "" {
		if len(serial) != 1 {
			return 0, errorf(400, "PARAM_ERROR", "user_name is encrypted: name its key in Wechatpay-Serial")
		}
		var err error
		if name, err = p.DecryptSensitive(serial[0], b.UserName); err != nil {
			return 0, errorf(400, "PARAM_ERROR", "user_name: %v", err)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	book = p.book()
	if old, ok := book.bills[b.OutBillNo]; ok {
		if old.SubMchID != b.SubMchID || old.AppID != b.AppID || old.OpenID != b.OpenID || old.Amount != b.TransferAmount ||
			old.Remark != b.TransferRemark || old.Scene != b.TransferSceneID || old.UserName != name || old.Perception != b.Perception ||
			!slices.Equal(old.ReportInfos, infos) {
			return 0, errorf(400, "INVALID_REQUEST", "out_bill_no %s: 商户单号已存在但信息不一致", b.OutBillNo)
		}
		p.observe(old)
		return 200, p.billAnswer(old)
	}
	now := p.now()
	if limits.PerDay > 0 || limits.PerPayeeDay > 0 {
		day := now.In(chinaTime).Format("2006-01-02")
		var all, payee int64
		for _, o := range book.bills {
			p.observe(o)
			if o.CreatedAt.In(chinaTime).Format("2006-01-02") != day || o.State == "FAIL" || o.State == "CANCELLED" {
				continue
			}
			all += o.Amount
			if o.OpenID == b.OpenID {
				payee += o.Amount
			}
		}
		if limits.PerDay > 0 && all+b.TransferAmount > limits.PerDay {
			return 0, errorf(400, "INVALID_REQUEST", "超过商户单日转账额度: %d of %d fen used today", all, limits.PerDay)
		}
		if limits.PerPayeeDay > 0 && payee+b.TransferAmount > limits.PerPayeeDay {
			return 0, errorf(400, "INVALID_REQUEST", "超过用户单日收款额度: %d of %d fen received today", payee, limits.PerPayeeDay)
		}
	}
	nb := &bill{TransferBill{OutBillNo: b.OutBillNo, TransferBillNo: "1330" + randDigits(36), SubMchID: b.SubMchID, AppID: b.AppID,
		OpenID: b.OpenID, Scene: b.TransferSceneID, Remark: b.TransferRemark, UserName: name, Amount: b.TransferAmount,
		State: "ACCEPTED", NotifyURL: b.NotifyURL, ReportInfos: infos, CreatedAt: now, UpdatedAt: now, Perception: b.Perception}}
	book.bills[nb.OutBillNo] = nb
	p.observe(nb)
	return 200, p.billAnswer(nb)
}

// billAnswer is a create answer. Callers hold p.mu.
func (p *Platform) billAnswer(b *bill) map[string]any {
	m := map[string]any{"out_bill_no": b.OutBillNo, "transfer_bill_no": b.TransferBillNo, "create_time": wxTime(b.CreatedAt), "state": b.State}
	if b.SubMchID != "" {
		m["sub_mchid"] = b.SubMchID
	}
	if b.State == "WAIT_USER_CONFIRM" {
		m["package_info"] = b.PackageInfo
	}
	if b.FailReason != "" {
		m["fail_reason"] = b.FailReason
	}
	return m
}

// findBill returns the bill no of the direct merchant (sub "") or of
// sub-merchant sub. Callers hold p.mu.
func (p *Platform) findBill(no string, partner bool, sub string) (*bill, *apiError) {
	if partner && sub == "" {
		return nil, errorf(400, "PARAM_ERROR", "sub_mchid is required")
	}
	b, ok := p.book().bills[no]
	if !ok || b.SubMchID != sub {
		return nil, errorf(404, "NOT_FOUND", "记录不存在 (out_bill_no %s)", no)
	}
	p.observe(b)
	return b, nil
}

func (p *Platform) queryBill(no string, partner bool, sub string) (int, any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b, e := p.findBill(no, partner, sub)
	if e != nil {
		return 0, e
	}
	m := map[string]any{
		"mch_id": p.mchID, "out_bill_no": b.OutBillNo, "transfer_bill_no": b.TransferBillNo, "appid": b.AppID, "state": b.State,
		"transfer_amount": b.Amount, "transfer_remark": b.Remark, "openid": b.OpenID,
		"create_time": wxTime(b.CreatedAt), "update_time": wxTime(b.UpdatedAt),
	}
	if b.SubMchID != "" {
		m["sub_mchid"] = b.SubMchID
	}
	if b.FailReason != "" {
		m["fail_reason"] = b.FailReason
	}
	return 200, m
}

func (p *Platform) cancelBill(no string, partner bool, sub string) (int, any) {
	if !partner && sub != "" {
		return 0, errorf(400, "PARAM_ERROR", "sub_mchid is a parameter of the partner API only")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	b, e := p.findBill(no, partner, sub)
	if e != nil {
		return 0, e
	}
	switch b.State {
	case "ACCEPTED", "PROCESSING", "WAIT_USER_CONFIRM":
		b.State, b.PackageInfo, b.UpdatedAt = "CANCELING", "", p.now()
	case "CANCELING", "CANCELLED":
	default:
		return 0, errorf(400, "INVALID_REQUEST", "out_bill_no %s is %s: 当前状态不支持撤销", no, b.State)
	}
	m := map[string]any{"out_bill_no": b.OutBillNo, "transfer_bill_no": b.TransferBillNo, "state": b.State, "update_time": wxTime(b.UpdatedAt)}
	if b.SubMchID != "" {
		m["sub_mchid"] = b.SubMchID
	}
	return 200, m
}
