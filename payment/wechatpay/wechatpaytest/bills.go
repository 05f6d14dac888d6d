package wechatpaytest

import (
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// billDownloadPath is where download_url points.
const billDownloadPath = "/v3/billdownload/file"

// billTTL is how long a download_url works: WeChat Pay documents five
// minutes.
const billTTL = 5 * time.Minute

// DefaultFeeRatePPM is the merchant's fee rate unless Options.FeeRatePPM
// says otherwise: 0.6 %, WeChat Pay's rate for physical goods.
const DefaultFeeRatePPM = 6000

// BillTamper names a way to break the bills the platform serves
// (Platform.TamperBills), each a bill a client must refuse.
type BillTamper int

const (
	// BillWrongHash answers the application with a hash_value that is
	// not the file's.
	BillWrongHash BillTamper = iota + 1
	// BillTruncated serves the file cut after half its rows, before the
	// summary, with the hash of what is served: only reading it tells.
	BillTruncated
	// BillCutInTransit serves the file cut short, with the hash of the
	// whole file: the digest tells.
	BillCutInTransit
)

// TamperBills makes the platform break every following bill as t says; 0
// restores honest bills.
func (p *Platform) TamperBills(t BillTamper) {
	p.mu.Lock()
	p.billTamper = t
	p.mu.Unlock()
}

// DeleteOrder forgets the payment out_trade_no and its refunds, as if
// WeChat Pay had never had it: a test of what minishop has that the
// channel lacks.
func (p *Platform) DeleteOrder(no string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	o, ok := p.orders[no]
	if !ok {
		return false
	}
	delete(p.orders, no)
	delete(p.byTxID, o.transactionID)
	for k, r := range p.refunds {
		if r.o == o {
			delete(p.refunds, k)
		}
	}
	return true
}

// billFile is a generated bill waiting to be downloaded.
type billFile struct {
	data    []byte // as served (gzipped when asked)
	expires time.Time
}

// rawFile is an answer served as it is, unsigned: a bill download.
type rawFile struct{ data []byte }

// Trade bill layouts.
var (
	tradeColsAll = []string{"交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号", "商户订单号", "用户标识", "交易类型", "交易状态",
		"付款银行", "货币种类", "应结订单金额", "代金券金额", "微信退款单号", "商户退款单号", "退款金额", "充值券退款金额", "退款类型", "退款状态",
		"商品名称", "商户数据包", "手续费", "费率", "订单金额", "申请退款金额", "费率备注"}
	tradeColsSuccess = []string{"交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号", "商户订单号", "用户标识", "交易类型", "交易状态",
		"付款银行", "货币种类", "应结订单金额", "代金券金额", "商品名称", "商户数据包", "手续费", "费率", "订单金额", "费率备注"}
	tradeColsRefund = []string{"交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号", "商户订单号", "用户标识", "交易类型", "交易状态",
		"付款银行", "货币种类", "应结订单金额", "代金券金额", "退款申请时间", "退款成功时间", "微信退款单号", "商户退款单号", "退款金额", "充值券退款金额",
		"退款类型", "退款状态", "商品名称", "商户数据包", "手续费", "费率", "订单金额", "申请退款金额", "费率备注"}
	tradeSumAll     = []string{"总交易单数", "应结订单总金额", "退款总金额", "充值券退款总金额", "手续费总金额", "订单总金额", "申请退款总金额"}
	tradeSumSuccess = []string{"总交易单数", "应结订单总金额", "手续费总金额", "订单总金额"}
	fundCols        = []string{"记账时间", "微信支付业务单号", "资金流水单号", "业务名称", "业务类型", "收支类型", "收支金额(元)", "账户结余(元)", "资金变更提交申请人", "备注", "业务凭证号"}
	fundSum         = []string{"资金流水总笔数", "收入笔数", "收入金额", "支出笔数", "支出金额"}
)

// yuan writes fen as yuan with two decimals; fee5 writes fen with five, as
// the fee column has them.
func yuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s%d.%02d", sign, fen/100, fen%100)
}

func fee5(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s%d.%02d000", sign, fen/100, fen%100)
}

func billTime(t time.Time) string { return t.In(chinaTime).Format(time.DateTime) }

// feeOf is WeChat's fee on fen: the rate, rounded half-up to the fen.
func (p *Platform) feeOf(fen int64) int64 {
	return (fen*p.feeRatePPM + 500000) / 1000000
}

// feeShare is the fee fen returns of order fee on total when refunded
// refunds before it: the fee in proportion to the refunds up to and
// including it, less that of those before, each rounded half-up.
func feeShare(fee, total, before, fen int64) int64 {
	share := func(part int64) int64 { return (fee*part*2 + total) / (2 * total) }
	return share(before+fen) - share(before)
}

// event is a payment or refund as the bills list it.
type event struct {
	at     time.Time
	o      *order
	r      *refund // nil for the payment
	fee    int64   // the fee taken (payment) or given back (refund), positive
	sortBy string
}

// events returns every payment and refund the platform has, in time order,
// with their fees. Callers hold p.mu.
func (p *Platform) events() []event {
	var out []event
	refunds := map[*order][]*refund{}
	for _, r := range p.refunds {
		refunds[r.o] = append(refunds[r.o], r)
	}
	for _, o := range p.orders {
		if o.transactionID == "" {
			continue
		}
		fee := p.feeOf(o.total)
		out = append(out, event{at: o.successTime, o: o, fee: fee, sortBy: o.outTradeNo})
		rs := refunds[o]
		sort.Slice(rs, func(i, j int) bool {
			if !rs[i].created.Equal(rs[j].created) {
				return rs[i].created.Before(rs[j].created)
			}
			return rs[i].outRefundNo < rs[j].outRefundNo
		})
		var before int64
		for _, r := range rs {
			var share int64
			if r.status != "CLOSED" {
				share = feeShare(fee, o.total, before, r.amount)
				before += r.amount
			}
			out = append(out, event{at: r.created, o: o, r: r, fee: share, sortBy: r.outRefundNo})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].at.Equal(out[j].at) {
			return out[i].at.Before(out[j].at)
		}
		return out[i].sortBy < out[j].sortBy
	})
	return out
}

// csvBill writes a bill: the header, the rows (every field with its
// backtick), the summary header and the summary row, CRLF line ends.
func csvBill(cols []string, rows [][]string, sumCols []string, sum []string) []byte {
	var b bytes.Buffer
	b.WriteString(strings.Join(cols, ","))
	b.WriteString("\r\n")
	for _, r := range rows {
		b.WriteString("`")
		b.WriteString(strings.Join(r, ",`"))
		b.WriteString("\r\n")
	}
	b.WriteString(strings.Join(sumCols, ","))
	b.WriteString("\r\n`")
	b.WriteString(strings.Join(sum, ",`"))
	b.WriteString("\r\n")
	return b.Bytes()
}

// billDay checks bill_date and the availability rule against the
// platform's clock: a day's bills are made from 09:00 the next day, China
// time, and are ready at 10:00; before, the bill is being generated. At
// most three months back.
func (p *Platform) billDay(q url.Values) (time.Time, *apiError) {
	raw := q.Get("bill_date")
	day, err := time.ParseInLocation(time.DateOnly, raw, chinaTime)
	if err != nil || day.Format(time.DateOnly) != raw {
		return time.Time{}, errorf(400, "PARAM_ERROR", "bill_date %q must be yyyy-MM-dd", shorten(raw, 40))
	}
	now := p.now().In(chinaTime)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, chinaTime)
	switch {
	case day.After(today):
		return time.Time{}, errorf(400, "PARAM_ERROR", "bill_date %s is in the future", raw)
	case day.Before(today.AddDate(0, -3, 0)):
		return time.Time{}, errorf(400, "PARAM_ERROR", "bill_date %s is more than three months back", raw)
	case now.Before(day.AddDate(0, 0, 1).Add(10 * time.Hour)):
		return time.Time{}, errorf(400, "INVALID_REQUEST", "账单正在生成中 (the bill of %s is ready from 10:00 the next day)", raw)
	}
	return day, nil
}

// checkParams refuses parameters the API does not take, as a misspelt
// one would otherwise be ignored.
func checkParams(q url.Values, allowed ...string) *apiError {
	for k, v := range q {
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		if !ok {
			return errorf(400, "PARAM_ERROR", "unknown parameter %q", shorten(k, 40))
		}
		if len(v) > 1 {
			return errorf(400, "PARAM_ERROR", "parameter %s repeated", k)
		}
	}
	return nil
}

func (p *Platform) tradeBill(q url.Values) (int, any) {
	if e := checkParams(q, "bill_date", "bill_type", "tar_type", "sub_mchid"); e != nil {
		return 0, e
	}
	typ := q.Get("bill_type")
	if typ == "" {
		typ = "ALL"
	}
	cols, sumCols := tradeColsAll, tradeSumAll
	switch typ {
	case "ALL":
	case "SUCCESS":
		cols, sumCols = tradeColsSuccess, tradeSumSuccess
	case "REFUND":
		cols = tradeColsRefund
	default:
		return 0, errorf(400, "PARAM_ERROR", "bill_type %q must be ALL, SUCCESS or REFUND", shorten(typ, 40))
	}
	// A service provider asks for one sub-merchant's bill (sub_mchid) or
	// for all of them; each line names its sub-merchant in 特约商户号.
	sub := q.Get("sub_mchid")
	if sub != "" && !p.partner {
		return 0, errorf(400, "PARAM_ERROR", "sub_mchid %q: merchant %s is not a service provider", shorten(sub, 40), p.mchID)
	}
	if sub != "" {
		p.mu.Lock()
		_, known := p.subMerchants[sub]
		p.mu.Unlock()
		if !known {
			return 0, errorf(400, "PARAM_ERROR", "sub_mchid %q is not a sub-merchant of %s", shorten(sub, 40), p.mchID)
		}
	}
	gz, e := tarType(q)
	if e != nil {
		return 0, e
	}
	day, e := p.billDay(q)
	if e != nil {
		return 0, e
	}
	end := day.AddDate(0, 0, 1)
	p.mu.Lock()
	defer p.mu.Unlock()
	rate := fmt.Sprintf("%d.%02d%%", p.feeRatePPM/10000, p.feeRatePPM%10000/100)
	var rows [][]string
	totals := map[string]int64{}
	for _, ev := range p.events() {
		if ev.at.Before(day) || !ev.at.Before(end) || (typ == "SUCCESS" && ev.r != nil) || (typ == "REFUND" && ev.r == nil) {
			continue
		}
		o := ev.o
		if sub != "" && o.subMchID != sub {
			continue
		}
		subCol := "0"
		if o.subMchID != "" {
			subCol = o.subMchID
		}
		v := map[string]string{"交易时间": billTime(ev.at), "公众账号ID": o.appID, "商户号": p.mchID, "特约商户号": subCol, "设备号": "",
			"微信订单号": o.transactionID, "商户订单号": o.outTradeNo, "用户标识": o.openID, "交易类型": "JSAPI", "付款银行": "OTHERS",
			"货币种类": "CNY", "代金券金额": "0.00", "充值券退款金额": "0.00", "商品名称": o.description, "商户数据包": o.attach,
			"费率": rate, "费率备注": ""}
		var settle, refundAmt, feeFen, orderAmt int64
		if ev.r == nil {
			settle, feeFen, orderAmt = o.total, ev.fee, o.total
			v["交易状态"], v["微信退款单号"], v["商户退款单号"], v["退款类型"], v["退款状态"] = "SUCCESS", "0", "0", "", ""
		} else {
			refundAmt, feeFen = ev.r.amount, -ev.fee
			v["交易状态"], v["微信退款单号"], v["商户退款单号"], v["退款类型"] = "REFUND", ev.r.refundID, ev.r.outRefundNo, "ORIGINAL"
			// Written when the refund is asked for, never updated.
			v["退款状态"] = "PROCESSING"
			v["退款申请时间"] = billTime(ev.r.created)
			if !ev.r.success.IsZero() {
				v["退款成功时间"] = billTime(ev.r.success)
			}
		}
		v["应结订单金额"], v["退款金额"], v["手续费"], v["订单金额"], v["申请退款金额"] = yuan(settle), yuan(refundAmt), fee5(feeFen), yuan(orderAmt), yuan(refundAmt)
		totals["settle"] += settle
		totals["refund"] += refundAmt
		totals["fee"] += feeFen
		totals["order"] += orderAmt
		row := make([]string, len(cols))
		for i, c := range cols {
			row[i] = v[c]
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return 0, errorf(400, "NO_STATEMENT_EXIST", "当日无交易，账单不存在 (%s)", day.Format(time.DateOnly))
	}
	sumV := map[string]string{"总交易单数": strconv.Itoa(len(rows)), "应结订单总金额": yuan(totals["settle"]), "退款总金额": yuan(totals["refund"]),
		"充值券退款总金额": "0.00", "手续费总金额": fee5(totals["fee"]), "订单总金额": yuan(totals["order"]), "申请退款总金额": yuan(totals["refund"])}
	sum := make([]string, len(sumCols))
	for i, c := range sumCols {
		sum[i] = sumV[c]
	}
	return p.offerBill(csvBill(cols, rows, sumCols, sum), gz)
}

func (p *Platform) fundFlowBill(q url.Values) (int, any) {
	if e := checkParams(q, "bill_date", "account_type", "tar_type"); e != nil {
		return 0, e
	}
	acct := q.Get("account_type")
	switch acct {
	case "", "BASIC", "OPERATION", "FEES":
	default:
		return 0, errorf(400, "PARAM_ERROR", "account_type %q must be BASIC, OPERATION or FEES", shorten(acct, 40))
	}
	gz, e := tarType(q)
	if e != nil {
		return 0, e
	}
	day, e := p.billDay(q)
	if e != nil {
		return 0, e
	}
	end := day.AddDate(0, 0, 1)
	p.mu.Lock()
	defer p.mu.Unlock()
	var rows [][]string
	var balance, inN, outN, in, out int64
	flow := 0
	add := func(at time.Time, txID, name, typ string, income bool, fen int64, voucher string) {
		if fen == 0 {
			return
		}
		if income {
			balance += fen
		} else {
			balance -= fen
		}
		flow++
		if at.Before(day) || !at.Before(end) || (acct != "" && acct != "BASIC") {
			return
		}
		dir := "支出"
		if income {
			dir, inN, in = "收入", inN+1, in+fen
		} else {
			outN, out = outN+1, out+fen
		}
		rows = append(rows, []string{billTime(at), txID, fmt.Sprintf("%s%010d", at.In(chinaTime).Format("20060102"), flow),
			name, typ, dir, yuan(fen), yuan(balance), "system", "", voucher})
	}
	// The basic account takes every payment and pays every refund and fee.
	for _, ev := range p.events() {
		if ev.r == nil {
			add(ev.at, ev.o.transactionID, "交易", "交易", true, ev.o.total, ev.o.outTradeNo)
			add(ev.at, ev.o.transactionID, "扣除交易手续费", "扣除交易手续费", false, ev.fee, ev.o.outTradeNo)
		} else {
			add(ev.at, ev.r.refundID, "退款", "退款", false, ev.r.amount, ev.r.outRefundNo)
			add(ev.at, ev.r.refundID, "退还手续费", "退还手续费", true, ev.fee, ev.r.outRefundNo)
		}
	}
	if len(rows) == 0 {
		return 0, errorf(400, "NO_STATEMENT_EXIST", "当日无资金流水，账单不存在 (%s)", day.Format(time.DateOnly))
	}
	sum := []string{strconv.Itoa(len(rows)), strconv.FormatInt(inN, 10), yuan(in), strconv.FormatInt(outN, 10), yuan(out)}
	return p.offerBill(csvBill(fundCols, rows, fundSum, sum), gz)
}

func tarType(q url.Values) (bool, *apiError) {
	switch t := q.Get("tar_type"); t {
	case "":
		return false, nil
	case "GZIP":
		return true, nil
	default:
		return false, errorf(400, "PARAM_ERROR", "tar_type %q must be GZIP or absent", shorten(t, 40))
	}
}

// offerBill keeps a bill for download and answers the application with
// its hash and download_url, broken as TamperBills says. Callers hold
// p.mu.
func (p *Platform) offerBill(csv []byte, gz bool) (int, any) {
	served := csv
	switch p.billTamper {
	case BillTruncated:
		lines := bytes.SplitAfter(csv, []byte("\n"))
		served = bytes.Join(lines[:1+(len(lines)-3)/2], nil)
		csv = served
	case BillCutInTransit:
		served = csv[:len(csv)/2]
	}
	sum := sha1.Sum(csv)
	hash := hex.EncodeToString(sum[:])
	if p.billTamper == BillWrongHash {
		other := sha1.Sum(append([]byte("x"), csv...))
		hash = hex.EncodeToString(other[:])
	}
	if gz {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		_, _ = w.Write(served)
		_ = w.Close()
		served = b.Bytes()
	}
	if p.bills == nil {
		p.bills = map[string]*billFile{}
	}
	now := p.now()
	for k, f := range p.bills {
		if !now.Before(f.expires) {
			delete(p.bills, k)
		}
	}
	token := randAlnum(40)
	p.bills[token] = &billFile{data: served, expires: now.Add(billTTL)}
	return 200, map[string]string{"hash_type": "SHA1", "hash_value": hash,
		"download_url": p.srv.URL + billDownloadPath + "?token=" + token}
}

func (p *Platform) billDownload(q url.Values) (int, any) {
	if e := checkParams(q, "token"); e != nil {
		return 0, e
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	f, ok := p.bills[q.Get("token")]
	if !ok || !p.now().Before(f.expires) {
		return 0, errorf(400, "INVALID_REQUEST", "download_url is unknown or expired (valid %s); apply for the bill again", billTTL)
	}
	return 200, rawFile{data: f.data}
}
