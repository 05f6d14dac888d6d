package wechatpaytest

import (
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Profit sharing (分账, /v3/profitsharing): the platform keeps, per
// payment opened with settle_info.profit_sharing, the frozen money and
// where it went, in fen:
//
//	unsplit = total − shared − unfrozen − refunded from the frozen funds
//
// A sharing order takes its receivers' amounts from unsplit at once and
// answers PROCESSING with every line PENDING; the next look at it (a query,
// or ShareOrder and Sharing) finishes it as WeChat does on its own time,
// unless HoldShares keeps it processing. Finishing pays each line (SUCCESS)
// or closes it (CLOSED, its money back in unsplit): NO_RELATION for a
// receiver not added first (receivers/add, per merchant or sub-merchant),
// or the reason set with RefuseReceiver. An order with unfreeze_unsplit,
// and an unfreeze (orders/unfreeze), release what is left to the merchant
// and end the payment's sharing; so does the end of the 30-day freeze
// period, by the platform's clock.
//
// The checks are WeChat's: a share no sooner than a minute after payment,
// 1 to 50 receivers a request and 50 requests a payment, no more than
// unsplit (403 NOT_ENOUGH), receivers other than the merchant itself at
// most the payment × its maximum ratio (30 % unless SetSharingRatio), a
// payment not opened for sharing refused ("非分账订单不支持分账"), and the
// same out_order_no with other fields refused. Names are decrypted with the
// platform key the request names in Wechatpay-Serial; a business
// receiver's must be given when it is added and, when SetMerchantName
// registered one, match it.
//
// Returns (return-orders) take back from a business receiver what a
// finished order paid it, at most 20 per order: PROCESSING, then SUCCESS on
// the next look (FAILED ACCOUNT_ABNORMAL when RefuseReceiver named the
// account with that reason). Received gives each receiver account's
// balance, so a test can hold WeChat's books against minishop's.
//
// Where WeChat's tables leave a refusal's code open (mismatched numbers,
// the ratio, timing) the platform answers 400 INVALID_REQUEST with WeChat's
// wording, a best reading.

const sharingRoute = "/v3/profitsharing/"

// Sharing limits, WeChat's.
const (
	maxShareReceivers  = 50
	maxSharesPerTx     = 50
	maxReturnsPerShare = 20
	defaultMaxRatio    = 3000 // ‱
	shareAfterPay      = time.Minute
	freezePeriod       = 30 * 24 * time.Hour
)

var receiverTypes = []string{"MERCHANT_ID", "PERSONAL_OPENID", "PERSONAL_SUB_OPENID"}

var relationTypes = []string{"SERVICE_PROVIDER", "STORE", "STAFF", "STORE_OWNER", "PARTNER", "HEADQUARTER",
	"BRAND", "DISTRIBUTOR", "USER", "SUPPLIER", "CUSTOM"}

// shareFunds is where a profit-sharing payment's money went, in fen.
type shareFunds struct {
	shared   int64  // to receivers, in lines not closed
	unfrozen int64  // released to the merchant, or being released
	refunded int64  // refunded from the frozen funds
	returned int64  // taken back from receivers to the merchant
	ended    string // why sharing ended ("" while it goes on)
	closing  bool   // an order with unfreeze_unsplit is processing
	requests int
	orders   []*shareOrder // oldest first
}

// ShareLine is one receiver of a sharing order on the platform.
type ShareLine struct {
	Type, Account string
	Name          string // decrypted, "" when none was sent
	Amount        int64  // fen
	Description   string
	Result        string // PENDING, SUCCESS, CLOSED
	FailReason    string
	DetailID      string
	Returned      int64 // fen taken back by returns not failed
	FinishedAt    time.Time
}

// ShareOrder is a snapshot of a sharing order or an unfreeze.
type ShareOrder struct {
	SubMchID, TransactionID, OutOrderNo, OrderID string
	AppID, SubAppID                              string
	State                                        string // PROCESSING, FINISHED
	Unfreeze                                     bool   // orders/unfreeze, not a sharing order
	UnfreezeUnsplit                              bool
	Description                                  string // an unfreeze's
	Receivers                                    []ShareLine
	CreatedAt, FinishedAt                        time.Time
}

type shareOrder struct {
	ShareOrder
	o *order
}

// ShareReturn is a snapshot of a share return.
type ShareReturn struct {
	SubMchID, OutOrderNo, OrderID, OutReturnNo, ReturnID string
	ReturnMchID, Description                             string
	Amount                                               int64  // fen
	Result                                               string // PROCESSING, SUCCESS, FAILED
	FailReason                                           string
	CreatedAt, FinishedAt                                time.Time
}

type shareReturn struct {
	ShareReturn
	s    *shareOrder
	line int
}

// Receiver is a receiver added with receivers/add.
type Receiver struct {
	SubMchID, AppID, SubAppID, Type, Account string
	Name                                     string // decrypted
	RelationType, CustomRelation             string
}

// Sharing is a snapshot of a profit-sharing payment's money, in fen.
type Sharing struct {
	TransactionID string
	Total         int64
	Unsplit       int64
	Shared        int64 // to receivers, pending or succeeded
	Unfrozen      int64 // released to the merchant
	Refunded      int64 // refunded from the frozen funds
	Returned      int64 // taken back from receivers
	Ended         string
	Orders        []ShareOrder
}

type shareBook struct {
	orders    map[string]*shareOrder  // by sub_mchid/out_order_no
	byID      map[string]*shareOrder  // by order_id
	returns   map[string]*shareReturn // by sub_mchid/out_return_no
	receivers map[string]*Receiver    // by sub_mchid/type/account
	refused   map[string]string       // account → fail_reason
	names     map[string]string       // merchant number → registered name
	ratios    map[string]int64        // sub_mchid ("" direct) → max ratio ‱
	received  map[string]int64        // receiver account → fen received less returned
	hold      bool
}

// sharing returns the book, made on first use. Callers hold p.mu.
func (p *Platform) sharing() *shareBook {
	b := &p.shares
	if b.orders == nil {
		b.orders, b.byID, b.returns = map[string]*shareOrder{}, map[string]*shareOrder{}, map[string]*shareReturn{}
		b.receivers, b.refused, b.names = map[string]*Receiver{}, map[string]string{}, map[string]string{}
		b.ratios, b.received = map[string]int64{}, map[string]int64{}
	}
	return b
}

// HoldShares keeps sharing orders, unfreezes and returns processing while
// hold is true; once released they finish when next looked at.
func (p *Platform) HoldShares(hold bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sharing().hold = hold
}

// RefuseReceiver makes WeChat close every later line paying account with
// reason (ACCOUNT_ABNORMAL, RECEIVER_HIGH_RISK,
// RECEIVER_REAL_NAME_NOT_VERIFIED, NO_AUTH…); ACCOUNT_ABNORMAL also fails
// returns from it. "" lifts it.
func (p *Platform) RefuseReceiver(account, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if reason == "" {
		delete(p.sharing().refused, account)
		return
	}
	p.sharing().refused[account] = reason
}

// SetSharingRatio sets the maximum ratio, in ten-thousandths, of the
// direct merchant ("") or of a sub-merchant (its merchant-configs
// max_ratio).
func (p *Platform) SetSharingRatio(subMchID string, ratio int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sharing().ratios[subMchID] = ratio
}

// SetMerchantName registers a merchant's full name, which adding it as a
// receiver must give. Merchants not registered take any name.
func (p *Platform) SetMerchantName(mchID, name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sharing().names[mchID] = name
}

// Received is what receiver account has been paid by sharing orders, less
// what returns took back, in fen.
func (p *Platform) Received(account string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.sharing()
	for _, s := range b.orders {
		p.observeShare(s)
	}
	for _, r := range b.returns {
		p.observeReturn(r)
	}
	return b.received[account]
}

// Receiver returns a receiver added for the direct merchant (subMchID "")
// or a sub-merchant.
func (p *Platform) Receiver(subMchID, typ, account string) (Receiver, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.sharing().receivers[subMchID+"/"+typ+"/"+account]
	if !ok {
		return Receiver{}, false
	}
	return *r, true
}

// ShareOrder returns a sharing order or unfreeze by its out_order_no.
func (p *Platform) ShareOrder(subMchID, outOrderNo string) (ShareOrder, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.sharing().orders[subMchID+"/"+outOrderNo]
	if !ok {
		return ShareOrder{}, false
	}
	p.observeShare(s)
	return s.snapshot(), true
}

// ShareReturn returns a share return by its out_return_no.
func (p *Platform) ShareReturn(subMchID, outReturnNo string) (ShareReturn, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.sharing().returns[subMchID+"/"+outReturnNo]
	if !ok {
		return ShareReturn{}, false
	}
	p.observeReturn(r)
	return r.ShareReturn, true
}

// Sharing returns a payment's profit-sharing funds by transaction_id;
// false for a payment the platform does not have or that was not opened
// for profit sharing.
func (p *Platform) Sharing(transactionID string) (Sharing, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	o, ok := p.byTxID[transactionID]
	if !ok || !o.profitSharing {
		return Sharing{}, false
	}
	f := p.funds(o)
	for _, s := range f.orders {
		p.observeShare(s)
	}
	for _, r := range p.sharing().returns {
		p.observeReturn(r)
	}
	out := Sharing{TransactionID: transactionID, Total: o.total, Unsplit: p.unsplit(o), Shared: f.shared, Unfrozen: f.unfrozen,
		Refunded: f.refunded, Returned: f.returned, Ended: f.ended}
	for _, s := range f.orders {
		out.Orders = append(out.Orders, s.snapshot())
	}
	return out, true
}

func (s *shareOrder) snapshot() ShareOrder {
	c := s.ShareOrder
	c.Receivers = slices.Clone(s.Receivers)
	return c
}

// funds returns a profit-sharing payment's funds, ending its sharing when
// the freeze period is over. Callers hold p.mu.
func (p *Platform) funds(o *order) *shareFunds {
	if o.share == nil {
		o.share = &shareFunds{}
	}
	f := o.share
	if f.ended == "" && !f.closing && !o.successTime.IsZero() && !p.now().Before(o.successTime.Add(freezePeriod)) {
		// WeChat unfreezes what is left to the merchant on its own.
		f.unfrozen += p.unsplitOf(o, f)
		f.ended = "分账期已过 (the 30-day freeze period ended; the rest was unfrozen to the merchant)"
	}
	return f
}

func (p *Platform) unsplitOf(o *order, f *shareFunds) int64 {
	return o.total - f.shared - f.unfrozen - f.refunded
}

// unsplit is what a payment has left to share. Callers hold p.mu.
func (p *Platform) unsplit(o *order) int64 {
	if !o.profitSharing || o.transactionID == "" {
		return 0
	}
	f := p.funds(o)
	if f.ended != "" {
		return 0
	}
	return p.unsplitOf(o, f)
}

// refundFrozen takes a refund of a profit-sharing payment from its frozen
// funds first, as WeChat does, and returns the part taken. Callers hold
// p.mu.
func (p *Platform) refundFrozen(o *order, amount int64) int64 {
	take := min(amount, p.unsplit(o))
	if take > 0 {
		o.share.refunded += take
	}
	return take
}

// refundClosed gives a closed refund's frozen part back: to the frozen
// funds while sharing goes on, to the merchant after. Callers hold p.mu.
func (p *Platform) refundClosed(r *refund) {
	if r.frozen == 0 {
		return
	}
	f := p.funds(r.o)
	f.refunded -= r.frozen
	if f.ended != "" {
		f.unfrozen += r.frozen
	}
	r.frozen = 0
}

// observeShare finishes a processing order unless shares are held.
// Callers hold p.mu.
func (p *Platform) observeShare(s *shareOrder) {
	b := p.sharing()
	if s.State != "PROCESSING" || b.hold {
		return
	}
	now := p.now()
	f := p.funds(s.o)
	for i := range s.Receivers {
		l := &s.Receivers[i]
		l.FinishedAt = now
		rc, added := b.receivers[s.SubMchID+"/"+l.Type+"/"+l.Account]
		reason := b.refused[l.Account]
		switch {
		case s.Unfreeze:
			l.Result = "SUCCESS" // the merchant's own funds, released
		case reason != "":
			l.Result, l.FailReason = "CLOSED", reason
		case !added || l.Type == "PERSONAL_OPENID" && rc.AppID != s.AppID || l.Type == "PERSONAL_SUB_OPENID" && rc.SubAppID != s.SubAppID:
			l.Result, l.FailReason = "CLOSED", "NO_RELATION"
		default:
			l.Result = "SUCCESS"
			b.received[l.Account] += l.Amount
		}
		if l.Result == "CLOSED" {
			f.shared -= l.Amount // the money stays frozen with the merchant
		}
	}
	if s.UnfreezeUnsplit {
		f.unfrozen += p.unsplitOf(s.o, f)
		f.closing, f.ended = false, "分账已完结 (an order unfroze the rest)"
	}
	s.State, s.FinishedAt = "FINISHED", now
}

// observeReturn settles a processing return unless shares are held.
// Callers hold p.mu.
func (p *Platform) observeReturn(r *shareReturn) {
	b := p.sharing()
	if r.Result != "PROCESSING" || b.hold {
		return
	}
	r.FinishedAt = p.now()
	if b.refused[r.ReturnMchID] == "ACCOUNT_ABNORMAL" {
		r.Result, r.FailReason = "FAILED", "ACCOUNT_ABNORMAL"
		r.s.Receivers[r.line].Returned -= r.Amount
		return
	}
	r.Result = "SUCCESS"
	b.received[r.ReturnMchID] -= r.Amount
	p.funds(r.s.o).returned += r.Amount
}

// routeSharing serves /v3/profitsharing/.
func (p *Platform) routeSharing(r *http.Request, body []byte) (int, any) {
	rest := strings.TrimPrefix(r.URL.Path, sharingRoute)
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodPost && rest == "orders":
		return p.createShare(body, r.Header.Values("Wechatpay-Serial"))
	case r.Method == http.MethodPost && rest == "orders/unfreeze":
		return p.unfreezeShare(body)
	case r.Method == http.MethodGet && strings.HasPrefix(rest, "orders/") && !strings.Contains(rest[len("orders/"):], "/"):
		if e := checkParams(q, "transaction_id", "sub_mchid"); e != nil {
			return 0, e
		}
		return p.queryShare(rest[len("orders/"):], q.Get("transaction_id"), q.Get("sub_mchid"))
	case r.Method == http.MethodPost && rest == "return-orders":
		return p.createReturn(body)
	case r.Method == http.MethodGet && strings.HasPrefix(rest, "return-orders/") && !strings.Contains(rest[len("return-orders/"):], "/"):
		if e := checkParams(q, "out_order_no", "sub_mchid"); e != nil {
			return 0, e
		}
		return p.queryReturn(rest[len("return-orders/"):], q.Get("out_order_no"), q.Get("sub_mchid"))
	case r.Method == http.MethodPost && rest == "receivers/add":
		return p.addReceiver(body, r.Header.Values("Wechatpay-Serial"))
	case r.Method == http.MethodGet && strings.HasPrefix(rest, "merchant-configs/"):
		if e := checkParams(q); e != nil {
			return 0, e
		}
		return p.merchantConfig(strings.TrimPrefix(rest, "merchant-configs/"))
	case r.Method == http.MethodGet && strings.HasPrefix(rest, "transactions/") && strings.HasSuffix(rest, "/amounts"):
		if e := checkParams(q); e != nil {
			return 0, e
		}
		return p.unsplitAmount(strings.TrimSuffix(strings.TrimPrefix(rest, "transactions/"), "/amounts"))
	}
	return 0, errorf(404, "NOT_FOUND", "no such API: %s %s", r.Method, r.URL.Path)
}

// checkSharingSub checks a request's sub_mchid: none for a direct merchant,
// a registered sub-merchant for a provider. Callers hold p.mu.
func (p *Platform) checkSharingSub(sub string) *apiError {
	switch _, ok := p.subMerchants[sub]; {
	case !p.partner && sub != "":
		return errorf(400, "PARAM_ERROR", "sub_mchid is a service provider's parameter; merchant %s is direct", p.mchID)
	case p.partner && sub == "":
		return errorf(400, "PARAM_ERROR", "sub_mchid is required")
	case p.partner && !ok:
		return errorf(400, "INVALID_REQUEST", "特约商户号 %q 与服务商 %s 不存在受理关系", sub, p.mchID)
	}
	return nil
}

// self is the merchant a sub_mchid's payments are paid into.
func (p *Platform) self(sub string) string {
	if sub == "" {
		return p.mchID
	}
	return sub
}

// checkReceiverApp checks a receiver's type and account and the app its
// openid needs. Callers hold p.mu.
func (p *Platform) checkReceiverApp(typ, account, appID, subAppID, sub string) *apiError {
	switch {
	case !slices.Contains(receiverTypes, typ):
		return errorf(400, "PARAM_ERROR", "type %q is not MERCHANT_ID, PERSONAL_OPENID or PERSONAL_SUB_OPENID", typ)
	case typ == "MERCHANT_ID" && !validNo(account, 1, 32, ""):
		return errorf(400, "PARAM_ERROR", "account %q is not a merchant number", account)
	case typ != "MERCHANT_ID" && !validNo(account, 1, 128, "_-"):
		return errorf(400, "PARAM_ERROR", "account %q is not an openid", account)
	case typ == "MERCHANT_ID" && strings.Trim(account, "0123456789") != "":
		return errorf(400, "PARAM_ERROR", "account %q is not a merchant number", account)
	case typ == "PERSONAL_OPENID" && appID == "":
		return errorf(400, "PARAM_ERROR", "appid is required with a PERSONAL_OPENID receiver")
	case typ == "PERSONAL_SUB_OPENID" && subAppID == "":
		return errorf(400, "PARAM_ERROR", "sub_appid is required with a PERSONAL_SUB_OPENID receiver")
	}
	return nil
}

// checkApps checks appid and sub_appid against the merchant's and the
// sub-merchant's apps. Callers hold p.mu.
func (p *Platform) checkApps(appID, subAppID, sub string) *apiError {
	switch {
	case appID != "" && appID != p.appID:
		return errorf(400, "APPID_MCHID_NOT_MATCH", "appid %q is not bound to merchant %s", appID, p.mchID)
	case subAppID != "" && !p.partner:
		return errorf(400, "PARAM_ERROR", "sub_appid is a service provider's parameter")
	case subAppID != "" && p.subMerchants[sub] != subAppID:
		return errorf(400, "APPID_MCHID_NOT_MATCH", "sub_appid %q is not bound to sub-merchant %s", subAppID, sub)
	}
	return nil
}

func validText(s string, minLen, maxLen int) bool {
	n := utf8.RuneCountInString(s)
	return utf8.ValidString(s) && n >= minLen && n <= maxLen
}

type shareBody struct {
	SubMchID        string `json:"sub_mchid"`
	AppID           string `json:"appid"`
	SubAppID        string `json:"sub_appid"`
	TransactionID   string `json:"transaction_id"`
	OutOrderNo      string `json:"out_order_no"`
	UnfreezeUnsplit *bool  `json:"unfreeze_unsplit"`
	Receivers       []struct {
		Type        string `json:"type"`
		Account     string `json:"account"`
		Name        string `json:"name"`
		Amount      int64  `json:"amount"`
		Description string `json:"description"`
	} `json:"receivers"`
}

// decryptName opens an encrypted name, which needs its key named in
// Wechatpay-Serial.
func (p *Platform) decryptName(field, cipherText string, serial []string) (string, *apiError) {
	if cipherText == "" {
		return "", nil
	}
	if len(serial) != 1 {
		return "", errorf(400, "PARAM_ERROR", "%s is encrypted: name its key in Wechatpay-Serial", field)
	}
	name, err := p.DecryptSensitive(serial[0], cipherText)
	if err != nil {
		return "", errorf(400, "PARAM_ERROR", "%s: %v", field, err)
	}
	return name, nil
}

func (p *Platform) createShare(body []byte, serial []string) (int, any) {
	var b shareBody
	if e := decodeStrict(body, &b); e != nil {
		return 0, e
	}
	switch {
	case !validNo(b.TransactionID, 1, 32, ""):
		return 0, errorf(400, "PARAM_ERROR", "transaction_id %q must be 1-32 digits and letters", b.TransactionID)
	case !validNo(b.OutOrderNo, 1, 64, "_-|*@"):
		return 0, errorf(400, "PARAM_ERROR", "out_order_no %q must be 1-64 of 0-9a-zA-Z_-|*@", b.OutOrderNo)
	case b.UnfreezeUnsplit == nil:
		return 0, errorf(400, "PARAM_ERROR", "unfreeze_unsplit is required")
	case len(b.Receivers) == 0 || len(b.Receivers) > maxShareReceivers:
		return 0, errorf(400, "PARAM_ERROR", "receivers: %d, 1 to %d allowed", len(b.Receivers), maxShareReceivers)
	}
	p.mu.Lock()
	e := p.checkSharingSub(b.SubMchID)
	if e == nil {
		e = p.checkApps(b.AppID, b.SubAppID, b.SubMchID)
	}
	for i := 0; e == nil && i < len(b.Receivers); i++ {
		rc := b.Receivers[i]
		e = p.checkReceiverApp(rc.Type, rc.Account, b.AppID, b.SubAppID, b.SubMchID)
		switch {
		case e != nil:
		case rc.Amount <= 0:
			e = errorf(400, "PARAM_ERROR", "receivers[%d].amount must be a positive number of fen", i)
		case !validText(rc.Description, 1, 80):
			e = errorf(400, "PARAM_ERROR", "receivers[%d].description must be 1-80 characters", i)
		}
	}
	p.mu.Unlock()
	if e != nil {
		return 0, e
	}
	lines := make([]ShareLine, len(b.Receivers))
	var sum, others int64
	for i, rc := range b.Receivers {
		name, e := p.decryptName("receivers.name", rc.Name, serial)
		if e != nil {
			return 0, e
		}
		lines[i] = ShareLine{Type: rc.Type, Account: rc.Account, Name: name, Amount: rc.Amount, Description: rc.Description,
			Result: "PENDING", DetailID: "3601" + randDigits(26)}
		sum += rc.Amount
		if !(rc.Type == "MERCHANT_ID" && rc.Account == p.self(b.SubMchID)) {
			others += rc.Amount
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	book := p.sharing()
	key := b.SubMchID + "/" + b.OutOrderNo
	if old, ok := book.orders[key]; ok {
		same := !old.Unfreeze && old.TransactionID == b.TransactionID && old.AppID == b.AppID && old.SubAppID == b.SubAppID &&
			old.UnfreezeUnsplit == *b.UnfreezeUnsplit && len(old.Receivers) == len(lines)
		for i := 0; same && i < len(lines); i++ {
			o, n := old.Receivers[i], lines[i]
			same = o.Type == n.Type && o.Account == n.Account && o.Name == n.Name && o.Amount == n.Amount && o.Description == n.Description
		}
		if !same {
			return 0, errorf(400, "INVALID_REQUEST", "out_order_no %s: 商户分账单号已存在但参数不一致", b.OutOrderNo)
		}
		return 200, p.shareJSON(old) // the same order: answered as it stands, not moved on
	}
	o, e := p.shareableTx(b.TransactionID, b.SubMchID)
	if e != nil {
		return 0, e
	}
	f := p.funds(o)
	switch {
	case f.requests >= maxSharesPerTx:
		return 0, errorf(400, "INVALID_REQUEST", "transaction %s: 单笔订单最多分账%d次", o.transactionID, maxSharesPerTx)
	case sum > p.unsplitOf(o, f):
		return 0, errorf(403, "NOT_ENOUGH", "分账金额不足: %d fen asked, %d fen unsplit", sum, p.unsplitOf(o, f))
	}
	ratio, ok := book.ratios[b.SubMchID]
	if !ok {
		ratio = defaultMaxRatio
	}
	for _, s := range f.orders {
		for _, l := range s.Receivers {
			if !s.Unfreeze && l.Result != "CLOSED" && !(l.Type == "MERCHANT_ID" && l.Account == p.self(s.SubMchID)) {
				others += l.Amount
			}
		}
	}
	if others > o.total*ratio/10000 {
		return 0, errorf(400, "INVALID_REQUEST", "分账金额超出最大分账比例: %d fen to others of a %d fen payment, at most %d‱", others, o.total, ratio)
	}
	now := p.now()
	s := &shareOrder{ShareOrder: ShareOrder{SubMchID: b.SubMchID, TransactionID: b.TransactionID, OutOrderNo: b.OutOrderNo,
		OrderID: "3008450740201411110007820472" + randDigits(4), AppID: b.AppID, SubAppID: b.SubAppID, State: "PROCESSING",
		UnfreezeUnsplit: *b.UnfreezeUnsplit, Receivers: lines, CreatedAt: now}, o: o}
	f.shared += sum
	f.requests++
	f.closing = s.UnfreezeUnsplit
	f.orders = append(f.orders, s)
	book.orders[key], book.byID[s.OrderID] = s, s
	return 200, p.shareJSON(s)
}

// shareableTx finds a payment of sub that can be shared now. Callers hold
// p.mu.
func (p *Platform) shareableTx(txID, sub string) (*order, *apiError) {
	o, ok := p.byTxID[txID]
	if !ok || o.subMchID != sub {
		return nil, errorf(404, "RESOURCE_NOT_EXISTS", "记录不存在 (transaction_id %s)", txID)
	}
	if !o.profitSharing {
		return nil, errorf(400, "INVALID_REQUEST", "非分账订单不支持分账 (transaction %s was not opened with settle_info.profit_sharing)", txID)
	}
	f := p.funds(o)
	switch {
	case f.ended != "":
		return nil, errorf(400, "INVALID_REQUEST", "transaction %s: %s", txID, f.ended)
	case f.closing:
		return nil, errorf(400, "INVALID_REQUEST", "transaction %s: 分账已完结 (an order unfreezing the rest is processing)", txID)
	case p.now().Before(o.successTime.Add(shareAfterPay)):
		return nil, errorf(400, "INVALID_REQUEST", "transaction %s: 订单处理中，请在支付成功1分钟后再请求分账", txID)
	}
	return o, nil
}

// shareJSON is an OrdersEntity. Callers hold p.mu.
func (p *Platform) shareJSON(s *shareOrder) map[string]any {
	var lines []map[string]any
	for _, l := range s.Receivers {
		m := map[string]any{"type": l.Type, "account": l.Account, "amount": l.Amount, "description": l.Description,
			"result": l.Result, "detail_id": l.DetailID, "create_time": wxTime(s.CreatedAt)}
		if l.FailReason != "" {
			m["fail_reason"] = l.FailReason
		}
		if !l.FinishedAt.IsZero() {
			m["finish_time"] = wxTime(l.FinishedAt)
		}
		lines = append(lines, m)
	}
	m := map[string]any{"transaction_id": s.TransactionID, "out_order_no": s.OutOrderNo, "order_id": s.OrderID,
		"state": s.State, "receivers": lines}
	if s.SubMchID != "" {
		m["sub_mchid"] = s.SubMchID
	}
	return m
}

func (p *Platform) queryShare(no, txID, sub string) (int, any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.checkSharingSub(sub); e != nil {
		return 0, e
	}
	if txID == "" {
		return 0, errorf(400, "PARAM_ERROR", "transaction_id is required")
	}
	s, ok := p.sharing().orders[sub+"/"+no]
	if !ok || s.TransactionID != txID {
		return 0, errorf(404, "RESOURCE_NOT_EXISTS", "记录不存在 (out_order_no %s of transaction %s)", no, txID)
	}
	p.observeShare(s)
	return 200, p.shareJSON(s)
}

func (p *Platform) unfreezeShare(body []byte) (int, any) {
	var b struct {
		SubMchID      string `json:"sub_mchid"`
		TransactionID string `json:"transaction_id"`
		OutOrderNo    string `json:"out_order_no"`
		Description   string `json:"description"`
	}
	if e := decodeStrict(body, &b); e != nil {
		return 0, e
	}
	switch {
	case !validNo(b.TransactionID, 1, 32, ""):
		return 0, errorf(400, "PARAM_ERROR", "transaction_id %q must be 1-32 digits and letters", b.TransactionID)
	case !validNo(b.OutOrderNo, 1, 64, "_-|*@"):
		return 0, errorf(400, "PARAM_ERROR", "out_order_no %q must be 1-64 of 0-9a-zA-Z_-|*@", b.OutOrderNo)
	case !validText(b.Description, 1, 80):
		return 0, errorf(400, "PARAM_ERROR", "description must be 1-80 characters")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.checkSharingSub(b.SubMchID); e != nil {
		return 0, e
	}
	book := p.sharing()
	key := b.SubMchID + "/" + b.OutOrderNo
	if old, ok := book.orders[key]; ok {
		if !old.Unfreeze || old.TransactionID != b.TransactionID || old.Description != b.Description {
			return 0, errorf(400, "INVALID_REQUEST", "out_order_no %s: 商户分账单号已存在但参数不一致", b.OutOrderNo)
		}
		return 200, p.shareJSON(old)
	}
	o, e := p.shareableTx(b.TransactionID, b.SubMchID)
	if e != nil {
		return 0, e
	}
	f := p.funds(o)
	rest := p.unsplitOf(o, f)
	now := p.now()
	s := &shareOrder{ShareOrder: ShareOrder{SubMchID: b.SubMchID, TransactionID: b.TransactionID, OutOrderNo: b.OutOrderNo,
		OrderID: "3008450740201411110007820472" + randDigits(4), State: "PROCESSING", Unfreeze: true, Description: b.Description,
		Receivers: []ShareLine{{Type: "MERCHANT_ID", Account: p.self(b.SubMchID), Amount: rest, Description: "解冻给分账方",
			Result: "PENDING", DetailID: "3601" + randDigits(26)}}, CreatedAt: now}, o: o}
	f.unfrozen += rest
	f.ended = "订单已解冻 (an unfreeze released the rest to the merchant)"
	f.orders = append(f.orders, s)
	book.orders[key], book.byID[s.OrderID] = s, s
	return 200, p.shareJSON(s)
}

func (p *Platform) createReturn(body []byte) (int, any) {
	var b struct {
		SubMchID    string `json:"sub_mchid"`
		OrderID     string `json:"order_id"`
		OutOrderNo  string `json:"out_order_no"`
		OutReturnNo string `json:"out_return_no"`
		ReturnMchID string `json:"return_mchid"`
		Amount      int64  `json:"amount"`
		Description string `json:"description"`
	}
	if e := decodeStrict(body, &b); e != nil {
		return 0, e
	}
	switch {
	case b.OrderID == "" && b.OutOrderNo == "":
		return 0, errorf(400, "PARAM_ERROR", "give order_id or out_order_no")
	case b.OutOrderNo != "" && !validNo(b.OutOrderNo, 1, 64, "_-|*@"):
		return 0, errorf(400, "PARAM_ERROR", "out_order_no %q must be 1-64 of 0-9a-zA-Z_-|*@", b.OutOrderNo)
	case !validNo(b.OutReturnNo, 1, 64, "_-|*@"):
		return 0, errorf(400, "PARAM_ERROR", "out_return_no %q must be 1-64 of 0-9a-zA-Z_-|*@", b.OutReturnNo)
	case !validNo(b.ReturnMchID, 1, 32, "") || strings.Trim(b.ReturnMchID, "0123456789") != "":
		return 0, errorf(400, "PARAM_ERROR", "return_mchid %q is not a merchant number", b.ReturnMchID)
	case b.Amount <= 0:
		return 0, errorf(400, "PARAM_ERROR", "amount must be a positive number of fen")
	case !validText(b.Description, 1, 80):
		return 0, errorf(400, "PARAM_ERROR", "description must be 1-80 characters")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.checkSharingSub(b.SubMchID); e != nil {
		return 0, e
	}
	book := p.sharing()
	s, ok := book.orders[b.SubMchID+"/"+b.OutOrderNo]
	if b.OrderID != "" {
		s, ok = book.byID[b.OrderID]
	}
	if !ok || s.SubMchID != b.SubMchID || b.OutOrderNo != "" && s.OutOrderNo != b.OutOrderNo || s.Unfreeze {
		return 0, errorf(404, "RESOURCE_NOT_EXISTS", "记录不存在 (sharing order %s%s)", b.OutOrderNo, b.OrderID)
	}
	key := b.SubMchID + "/" + b.OutReturnNo
	if old, ok := book.returns[key]; ok {
		if old.s != s || old.ReturnMchID != b.ReturnMchID || old.Amount != b.Amount || old.Description != b.Description {
			return 0, errorf(400, "INVALID_REQUEST", "out_return_no %s: 商户回退单号已存在但参数不一致", b.OutReturnNo)
		}
		return 200, p.returnJSON(old)
	}
	p.observeShare(s)
	line := slices.IndexFunc(s.Receivers, func(l ShareLine) bool {
		return l.Type == "MERCHANT_ID" && l.Account == b.ReturnMchID && l.Result == "SUCCESS"
	})
	n := 0
	for _, r := range book.returns {
		if r.s == s {
			n++
		}
	}
	switch {
	case s.State != "FINISHED":
		return 0, errorf(400, "INVALID_REQUEST", "sharing order %s is processing: 分账单未完成，不能回退", s.OutOrderNo)
	case line < 0:
		return 0, errorf(400, "INVALID_REQUEST", "return_mchid %s: 回退方不是该分账单的分账成功的商户接收方", b.ReturnMchID)
	case n >= maxReturnsPerShare:
		return 0, errorf(400, "INVALID_REQUEST", "sharing order %s: 单笔分账单最多回退%d次", s.OutOrderNo, maxReturnsPerShare)
	case b.Amount > s.Receivers[line].Amount-s.Receivers[line].Returned:
		return 0, errorf(400, "INVALID_REQUEST", "回退金额超过可回退金额: %d fen asked, %d fen can be returned",
			b.Amount, s.Receivers[line].Amount-s.Receivers[line].Returned)
	}
	r := &shareReturn{ShareReturn: ShareReturn{SubMchID: b.SubMchID, OutOrderNo: s.OutOrderNo, OrderID: s.OrderID,
		OutReturnNo: b.OutReturnNo, ReturnID: "3008450740201411110007820472" + randDigits(4), ReturnMchID: b.ReturnMchID,
		Description: b.Description, Amount: b.Amount, Result: "PROCESSING", CreatedAt: p.now()}, s: s, line: line}
	s.Receivers[line].Returned += b.Amount
	book.returns[key] = r
	return 200, p.returnJSON(r)
}

// returnJSON is a return order as create and query answer it.
func (p *Platform) returnJSON(r *shareReturn) map[string]any {
	m := map[string]any{"order_id": r.OrderID, "out_order_no": r.OutOrderNo, "out_return_no": r.OutReturnNo,
		"return_id": r.ReturnID, "return_mchid": r.ReturnMchID, "amount": r.Amount, "description": r.Description,
		"result": r.Result, "create_time": wxTime(r.CreatedAt)}
	if r.SubMchID != "" {
		m["sub_mchid"] = r.SubMchID
	}
	if r.FailReason != "" {
		m["fail_reason"] = r.FailReason
	}
	if !r.FinishedAt.IsZero() {
		m["finish_time"] = wxTime(r.FinishedAt)
	}
	return m
}

func (p *Platform) queryReturn(no, outOrderNo, sub string) (int, any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.checkSharingSub(sub); e != nil {
		return 0, e
	}
	if outOrderNo == "" {
		return 0, errorf(400, "PARAM_ERROR", "out_order_no is required")
	}
	r, ok := p.sharing().returns[sub+"/"+no]
	if !ok || r.OutOrderNo != outOrderNo {
		return 0, errorf(404, "RESOURCE_NOT_EXISTS", "记录不存在 (out_return_no %s of sharing order %s)", no, outOrderNo)
	}
	p.observeReturn(r)
	return 200, p.returnJSON(r)
}

func (p *Platform) addReceiver(body []byte, serial []string) (int, any) {
	var b struct {
		SubMchID       string `json:"sub_mchid"`
		AppID          string `json:"appid"`
		SubAppID       string `json:"sub_appid"`
		Type           string `json:"type"`
		Account        string `json:"account"`
		Name           string `json:"name"`
		RelationType   string `json:"relation_type"`
		CustomRelation string `json:"custom_relation"`
	}
	if e := decodeStrict(body, &b); e != nil {
		return 0, e
	}
	switch {
	case b.AppID == "":
		return 0, errorf(400, "PARAM_ERROR", "appid is required")
	case !slices.Contains(relationTypes, b.RelationType):
		return 0, errorf(400, "PARAM_ERROR", "relation_type %q is not one of WeChat's", b.RelationType)
	case (b.RelationType == "CUSTOM") != (b.CustomRelation != ""):
		return 0, errorf(400, "PARAM_ERROR", "custom_relation goes with relation_type CUSTOM, and only with it")
	case !validText(b.CustomRelation, 0, 10):
		return 0, errorf(400, "PARAM_ERROR", "custom_relation longer than 10 characters")
	case b.Type == "MERCHANT_ID" && b.Name == "":
		return 0, errorf(400, "PARAM_ERROR", "name is required for a MERCHANT_ID receiver (its full registered name)")
	}
	p.mu.Lock()
	e := p.checkSharingSub(b.SubMchID)
	if e == nil {
		e = p.checkApps(b.AppID, b.SubAppID, b.SubMchID)
	}
	if e == nil {
		e = p.checkReceiverApp(b.Type, b.Account, b.AppID, b.SubAppID, b.SubMchID)
	}
	p.mu.Unlock()
	if e != nil {
		return 0, e
	}
	name, e := p.decryptName("name", b.Name, serial)
	if e != nil {
		return 0, e
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	book := p.sharing()
	if want, ok := book.names[b.Account]; ok && b.Type == "MERCHANT_ID" && want != name {
		return 0, errorf(400, "PARAM_ERROR", "分账接收方全称不匹配: %q is not the registered name of merchant %s", name, b.Account)
	}
	book.receivers[b.SubMchID+"/"+b.Type+"/"+b.Account] = &Receiver{SubMchID: b.SubMchID, AppID: b.AppID, SubAppID: b.SubAppID,
		Type: b.Type, Account: b.Account, Name: name, RelationType: b.RelationType, CustomRelation: b.CustomRelation}
	m := map[string]any{"type": b.Type, "account": b.Account, "relation_type": b.RelationType}
	if b.SubMchID != "" {
		m["sub_mchid"] = b.SubMchID
	}
	if b.CustomRelation != "" {
		m["custom_relation"] = b.CustomRelation
	}
	return 200, m
}

func (p *Platform) merchantConfig(sub string) (int, any) {
	if !p.partner {
		return 0, errorf(403, "NO_AUTH", "merchant-configs is a service provider's API; merchant %s is direct", p.mchID)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.checkSharingSub(sub); e != nil {
		return 0, e
	}
	ratio, ok := p.sharing().ratios[sub]
	if !ok {
		ratio = defaultMaxRatio
	}
	return 200, map[string]any{"sub_mchid": sub, "max_ratio": ratio}
}

func (p *Platform) unsplitAmount(txID string) (int, any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	o, ok := p.byTxID[txID]
	if !ok {
		return 0, errorf(404, "RESOURCE_NOT_EXISTS", "记录不存在 (transaction_id %s)", txID)
	}
	if o.share != nil {
		for _, s := range o.share.orders {
			p.observeShare(s)
		}
	}
	return 200, map[string]any{"transaction_id": txID, "unsplit_amount": p.unsplit(o)}
}
