package wechatpay

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
	"golang.org/x/text/currency"

	"github.com/minishop/minishop/commerce"
)

// BillError is a bill file that does not read as WeChat Pay writes bills:
// a malformed field, a row of the wrong width, a summary that disagrees
// with the rows, a file cut short. It names the line (1-based, the header
// is line 1) and, for a field, the column. It is KindInvalid: the same file
// is refused again.
type BillError struct {
	Line   int
	Column string // the column's header name, when one field is at fault
	Err    error
}

func (e *BillError) Error() string {
	if e.Column != "" {
		return fmt.Sprintf("wechatpay: bill line %d, column %s: %v", e.Line, e.Column, e.Err)
	}
	return fmt.Sprintf("wechatpay: bill line %d: %v", e.Line, e.Err)
}

func (e *BillError) Unwrap() error { return e.Err }

// ErrorKind makes a BillError KindInvalid for commerce.KindOf.
func (e *BillError) ErrorKind() commerce.Kind { return commerce.KindInvalid }

func billErr(line int, column, format string, args ...any) error {
	return &BillError{Line: line, Column: column, Err: fmt.Errorf(format, args...)}
}

// maxBillLine bounds one line of a bill. WeChat's lines are a few hundred
// bytes (the longest fields are the 商品名称 and 商户数据包 the merchant
// sent, 127 and 128 characters); the bound keeps a broken file from being
// read as one endless line.
const maxBillLine = 64 << 10

// TradeBillRow is one detail row of a trade bill (交易账单). Columns a
// bill's layout lacks are left zero (amounts unset): the SUCCESS bill has
// no refund columns, old merchants' bills lack 应结订单金额 and 代金券金额,
// and only the REFUND bill has the refund times.
//
// Amounts are exact yuan as written, commerce.Money in CNY: Fee keeps the
// five decimals WeChat writes (0.01000), never rounded on reading, so that
// a fee of a fraction of a fen shows rather than vanishes.
type TradeBillRow struct {
	Line          int       // line in the file
	Time          time.Time // 交易时间, China time
	AppID         string    // 公众账号ID
	MchID         string    // 商户号
	SubMchID      string    // 特约商户号 ("0" for a direct merchant)
	DeviceInfo    string    // 设备号
	TransactionID string    // 微信订单号
	OutTradeNo    string    // 商户订单号
	OpenID        string    // 用户标识
	TradeType     string    // 交易类型 (JSAPI...)
	TradeState    string    // 交易状态: SUCCESS, REFUND, REVOKED
	BankType      string    // 付款银行
	Currency      string    // 货币种类
	// SettlementTotal is 应结订单金额: the order amount less the vouchers
	// WeChat does not settle; CouponAmount is 代金券金额.
	SettlementTotal, CouponAmount commerce.Money
	// RefundApplied and RefundSucceeded are 退款申请时间 and 退款成功时间
	// (REFUND bills only; zero when empty).
	RefundApplied, RefundSucceeded time.Time
	RefundID, OutRefundNo          string // 微信退款单号, 商户退款单号
	// SettlementRefund is 退款金额; RechargeCouponRefund 充值券退款金额.
	SettlementRefund, RechargeCouponRefund commerce.Money
	RefundType, RefundStatus               string         // 退款类型, 退款状态 (as when the refund was asked for)
	Body, Attach                           string         // 商品名称, 商户数据包
	Fee                                    commerce.Money // 手续费: positive on payments, negative on refunds
	Rate                                   commerce.Rate  // 费率, 0.60%
	// OrderAmount is 订单金额 (amount.total); RequestedRefund 申请退款金额
	// (amount.refund).
	OrderAmount, RequestedRefund commerce.Money
	RateNote                     string // 费率备注
}

// TradeBillSummary is a trade bill's summary row, checked against the rows
// when read. Totals the layout lacks are unset.
type TradeBillSummary struct {
	Line  int
	Count int // 总交易单数
	// SettlementTotal is 应结订单总金额 (older bills: 总交易额).
	SettlementTotal      commerce.Money
	RefundTotal          commerce.Money // 退款总金额 (older: 总退款金额)
	RechargeCouponRefund commerce.Money // 充值券退款总金额 (older: 总代金券或立减优惠退款金额)
	FeeTotal             commerce.Money // 手续费总金额
	OrderTotal           commerce.Money // 订单总金额
	RequestedRefundTotal commerce.Money // 申请退款总金额
}

// FundFlowRow is one detail row of a fund-flow bill (资金账单).
type FundFlowRow struct {
	Line          int
	Time          time.Time      // 记账时间, China time
	TransactionID string         // 微信支付业务单号
	FlowID        string         // 资金流水单号
	BizName       string         // 业务名称
	BizType       string         // 业务类型
	Income        bool           // 收支类型: 收入 (true) or 支出
	Amount        commerce.Money // 收支金额(元), positive
	Balance       commerce.Money // 账户结余(元)
	Applicant     string         // 资金变更提交申请人
	Note          string         // 备注
	VoucherNo     string         // 业务凭证号
}

// FundFlowSummary is a fund-flow bill's summary row, checked against the
// rows when read.
type FundFlowSummary struct {
	Line         int
	Count        int            // 资金流水总笔数
	IncomeCount  int            // 收入笔数
	Income       commerce.Money // 收入金额
	ExpenseCount int            // 支出笔数
	Expense      commerce.Money // 支出金额
}

// Trade bill columns, by header name.
const (
	colTime            = "交易时间"
	colAppID           = "公众账号ID"
	colMchID           = "商户号"
	colSubMchID        = "特约商户号"
	colDevice          = "设备号"
	colTransactionID   = "微信订单号"
	colOutTradeNo      = "商户订单号"
	colOpenID          = "用户标识"
	colTradeType       = "交易类型"
	colTradeState      = "交易状态"
	colBank            = "付款银行"
	colCurrency        = "货币种类"
	colSettlement      = "应结订单金额"
	colCoupon          = "代金券金额"
	colRefundApplied   = "退款申请时间"
	colRefundSucceeded = "退款成功时间"
	colRefundID        = "微信退款单号"
	colOutRefundNo     = "商户退款单号"
	colRefund          = "退款金额"
	colRechargeRefund  = "充值券退款金额"
	colRefundType      = "退款类型"
	colRefundStatus    = "退款状态"
	colBody            = "商品名称"
	colAttach          = "商户数据包"
	colFee             = "手续费"
	colRate            = "费率"
	colOrderAmount     = "订单金额"
	colRequestedRefund = "申请退款金额"
	colRateNote        = "费率备注"
)

// Trade bill summary columns. Older bills name some totals differently.
const (
	sumCount           = "总交易单数"
	sumSettlement      = "应结订单总金额"
	sumSettlementOld   = "总交易额"
	sumRefund          = "退款总金额"
	sumRefundOld       = "总退款金额"
	sumRecharge        = "充值券退款总金额"
	sumRechargeOld     = "总代金券或立减优惠退款金额"
	sumFee             = "手续费总金额"
	sumOrder           = "订单总金额"
	sumRequestedRefund = "申请退款总金额"
)

// Fund-flow bill columns.
const (
	ffTime        = "记账时间"
	ffTransaction = "微信支付业务单号"
	ffFlowID      = "资金流水单号"
	ffBizName     = "业务名称"
	ffBizType     = "业务类型"
	ffDirection   = "收支类型"
	ffAmount      = "收支金额(元)"
	ffBalance     = "账户结余(元)"
	ffApplicant   = "资金变更提交申请人"
	ffNote        = "备注"
	ffVoucher     = "业务凭证号"

	ffSumCount        = "资金流水总笔数"
	ffSumIncomeCount  = "收入笔数"
	ffSumIncome       = "收入金额"
	ffSumExpenseCount = "支出笔数"
	ffSumExpense      = "支出金额"
)

// billLines reads a bill line by line: a UTF-8 byte-order mark at the start
// and CR before LF are dropped, lines are numbered from 1.
type billLines struct {
	r    *bufio.Reader
	n    int
	line []byte
}

func newBillLines(r io.Reader) *billLines {
	return &billLines{r: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the next line, or io.EOF after the last.
func (b *billLines) next() ([]byte, error) {
	b.line = b.line[:0]
	for {
		chunk, err := b.r.ReadSlice('\n')
		b.line = append(b.line, chunk...)
		if len(b.line) > maxBillLine {
			return nil, billErr(b.n+1, "", "longer than %d bytes", maxBillLine)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(b.line) == 0 {
			return nil, io.EOF
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		break
	}
	b.n++
	l := bytes.TrimSuffix(b.line, []byte("\n"))
	l = bytes.TrimSuffix(l, []byte("\r"))
	if b.n == 1 {
		l = bytes.TrimPrefix(l, []byte("\xef\xbb\xbf"))
	}
	if !utf8.Valid(l) {
		return nil, billErr(b.n, "", "not valid UTF-8")
	}
	return l, nil
}

// headerFields splits a header row (names without backticks).
func headerFields(line []byte, n int) ([]string, map[string]int, error) {
	names := strings.Split(string(line), ",")
	idx := make(map[string]int, len(names))
	for i, name := range names {
		name = strings.TrimSpace(name)
		names[i] = name
		if name == "" {
			return nil, nil, billErr(n, "", "header column %d has no name", i+1)
		}
		if _, dup := idx[name]; dup {
			return nil, nil, billErr(n, name, "header names the column twice")
		}
		idx[name] = i
	}
	return names, idx, nil
}

// valueFields splits a detail or summary row: every field starts with one
// backtick (WeChat's guard against spreadsheets reading ids as numbers),
// which is removed. Fields are split at a comma followed by a backtick, so
// a comma inside a field (a product name) stays in it.
func valueFields(line []byte, n int, want int, dst []string) ([]string, error) {
	if len(line) == 0 || line[0] != '`' {
		return nil, billErr(n, "", "row does not start with a backtick")
	}
	dst = dst[:0]
	rest := line[1:]
	for {
		i := bytes.Index(rest, []byte(",`"))
		if i < 0 {
			dst = append(dst, string(rest))
			break
		}
		dst = append(dst, string(rest[:i]))
		rest = rest[i+2:]
	}
	if len(dst) != want {
		return nil, billErr(n, "", "%d fields, the header has %d", len(dst), want)
	}
	return dst, nil
}

// parseYuan reads an amount in yuan as WeChat writes it: an optional minus,
// digits, an optional fraction of up to 8 digits. "" is zero (WeChat leaves
// some amounts of some rows empty). It is exact: the result carries the
// digits written.
func parseYuan(s string) (commerce.Money, error) {
	if s == "" {
		return commerce.Zero(currency.CNY), nil
	}
	neg := false
	t := s
	if t[0] == '-' {
		neg, t = true, t[1:]
	}
	whole, frac, dot := strings.Cut(t, ".")
	if whole == "" || (dot && frac == "") || len(frac) > 8 || len(whole)+len(frac) > 18 {
		return commerce.Money{}, fmt.Errorf("%q is not an amount in yuan", truncate(s, 40))
	}
	var coef int64
	for _, part := range []string{whole, frac} {
		for i := 0; i < len(part); i++ {
			c := part[i]
			if c < '0' || c > '9' {
				return commerce.Money{}, fmt.Errorf("%q is not an amount in yuan", truncate(s, 40))
			}
			coef = coef*10 + int64(c-'0')
		}
	}
	if neg {
		coef = -coef
	}
	return commerce.NewMoney(decimal.New(coef, -int32(len(frac))), currency.CNY), nil
}

// parseChinaTime reads "2006-01-02 15:04:05" in China time; "" is zero.
func parseChinaTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation(time.DateTime, s, chinaTime)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a time yyyy-MM-dd HH:mm:ss", truncate(s, 40))
	}
	return t, nil
}

// table is the shape both bills share: a header, detail rows, a summary
// header whose first name is summaryFirst, one summary row, nothing after
// but empty lines.
type table struct {
	lines        *billLines
	summaryFirst string
	names        []string
	idx          map[string]int
	fields       []string
}

func (t *table) header(kind string, required ...string) error {
	line, err := t.lines.next()
	if err == io.EOF {
		return billErr(1, "", "empty file: no %s header", kind)
	}
	if err != nil {
		return err
	}
	if t.names, t.idx, err = headerFields(line, t.lines.n); err != nil {
		return err
	}
	for _, c := range required {
		if _, ok := t.idx[c]; !ok {
			return billErr(1, c, "missing from the header: not a %s", kind)
		}
	}
	return nil
}

// row returns the next detail row's fields, or the summary header's names
// and true when the detail rows are over.
func (t *table) row() (fields []string, summary bool, err error) {
	for {
		line, err := t.lines.next()
		if err == io.EOF {
			return nil, false, billErr(t.lines.n+1, "", "the file ends without its summary (cut short?)")
		}
		if err != nil {
			return nil, false, err
		}
		if len(line) == 0 {
			return nil, false, billErr(t.lines.n, "", "empty line among the rows")
		}
		if line[0] != '`' {
			first, _, _ := strings.Cut(string(line), ",")
			if strings.TrimSpace(first) != t.summaryFirst {
				return nil, false, billErr(t.lines.n, "", "neither a row (no backtick) nor the summary header (%s)", t.summaryFirst)
			}
			names, _, err := headerFields(line, t.lines.n)
			if err != nil {
				return nil, false, err
			}
			return names, true, nil
		}
		t.fields, err = valueFields(line, t.lines.n, len(t.names), t.fields)
		return t.fields, false, err
	}
}

// summary reads the summary row for the summary header names and checks
// nothing follows.
func (t *table) summary(names []string) ([]string, int, error) {
	line, err := t.lines.next()
	if err == io.EOF {
		return nil, 0, billErr(t.lines.n+1, "", "the file ends after the summary header, without the summary row (cut short?)")
	}
	if err != nil {
		return nil, 0, err
	}
	n := t.lines.n
	fields, err := valueFields(line, n, len(names), nil)
	if err != nil {
		return nil, 0, err
	}
	for {
		line, err := t.lines.next()
		if err == io.EOF {
			return fields, n, nil
		}
		if err != nil {
			return nil, 0, err
		}
		if len(bytes.TrimSpace(line)) != 0 {
			return nil, 0, billErr(t.lines.n, "", "data after the summary row")
		}
	}
}

// get returns the field of column c, "" when the layout lacks it.
func (t *table) get(fields []string, c string) string {
	if i, ok := t.idx[c]; ok {
		return fields[i]
	}
	return ""
}

func (t *table) has(c string) bool { _, ok := t.idx[c]; return ok }

// money reads column c: unset when the layout lacks it.
func (t *table) money(fields []string, line int, c string) (commerce.Money, error) {
	i, ok := t.idx[c]
	if !ok {
		return commerce.Money{}, nil
	}
	m, err := parseYuan(fields[i])
	if err != nil {
		return m, &BillError{Line: line, Column: c, Err: err}
	}
	return m, nil
}

func (t *table) time(fields []string, line int, c string) (time.Time, error) {
	v, err := parseChinaTime(t.get(fields, c))
	if err != nil {
		return v, &BillError{Line: line, Column: c, Err: err}
	}
	return v, nil
}

// sums keeps the running totals of a bill's amount columns.
type sums map[string]commerce.Money

func (s sums) add(c string, m commerce.Money) {
	if !m.IsSet() {
		return
	}
	if cur, ok := s[c]; ok {
		m, _ = cur.Add(m) // both CNY
	}
	s[c] = m
}

func (s sums) get(c string) commerce.Money {
	if m, ok := s[c]; ok {
		return m
	}
	return commerce.Zero(currency.CNY)
}

// checkTotal compares a summary total with the rows' sum exactly.
func checkTotal(line int, name string, written commerce.Money, sum commerce.Money) error {
	if !written.Equal(sum) {
		return billErr(line, name, "the summary says %s, the rows add up to %s (an inconsistent or cut file)", written.Amount(), sum.Amount())
	}
	return nil
}

// ParseTradeBill reads a trade bill (any layout: ALL, SUCCESS, REFUND, and
// older merchants' layouts), by column name, calling fn for each detail row
// in order (the row is reused after fn returns: copy it to keep it), then
// reads the summary and checks it against the rows: the count and every
// total the layout has, exactly. A file cut short, a row of the wrong
// width, a malformed field, anything after the summary, or a summary that
// disagrees is a *BillError naming the line; an error from fn stops the
// reading and is returned as it is. It reads as it goes, holding one row
// at a time.
func ParseTradeBill(r io.Reader, fn func(*TradeBillRow) error) (*TradeBillSummary, error) {
	t := &table{lines: newBillLines(r), summaryFirst: sumCount}
	if err := t.header("trade bill", colTime, colMchID, colTransactionID, colOutTradeNo, colTradeState); err != nil {
		return nil, err
	}
	if !t.has(colSettlement) && !t.has(colOrderAmount) {
		return nil, billErr(1, colSettlement, "missing from the header, as is %s: no amount to read", colOrderAmount)
	}
	total := sums{}
	count := 0
	var row TradeBillRow
	amounts := []struct {
		col string
		dst *commerce.Money
	}{
		{colSettlement, &row.SettlementTotal}, {colCoupon, &row.CouponAmount}, {colRefund, &row.SettlementRefund},
		{colRechargeRefund, &row.RechargeCouponRefund}, {colFee, &row.Fee}, {colOrderAmount, &row.OrderAmount},
		{colRequestedRefund, &row.RequestedRefund},
	}
	for {
		f, isSummary, err := t.row()
		if err != nil {
			return nil, err
		}
		if isSummary {
			return t.tradeSummary(f, count, total)
		}
		n := t.lines.n
		row = TradeBillRow{Line: n,
			AppID: t.get(f, colAppID), MchID: t.get(f, colMchID), SubMchID: t.get(f, colSubMchID), DeviceInfo: t.get(f, colDevice),
			TransactionID: t.get(f, colTransactionID), OutTradeNo: t.get(f, colOutTradeNo), OpenID: t.get(f, colOpenID),
			TradeType: t.get(f, colTradeType), TradeState: t.get(f, colTradeState), BankType: t.get(f, colBank),
			Currency: t.get(f, colCurrency), RefundID: t.get(f, colRefundID), OutRefundNo: t.get(f, colOutRefundNo),
			RefundType: t.get(f, colRefundType), RefundStatus: t.get(f, colRefundStatus), Body: t.get(f, colBody),
			Attach: t.get(f, colAttach), RateNote: t.get(f, colRateNote)}
		if row.Time, err = t.time(f, n, colTime); err != nil {
			return nil, err
		}
		if row.Time.IsZero() {
			return nil, billErr(n, colTime, "empty")
		}
		if row.RefundApplied, err = t.time(f, n, colRefundApplied); err != nil {
			return nil, err
		}
		if row.RefundSucceeded, err = t.time(f, n, colRefundSucceeded); err != nil {
			return nil, err
		}
		if row.OutTradeNo == "" {
			return nil, billErr(n, colOutTradeNo, "empty")
		}
		if row.TradeState == "" {
			return nil, billErr(n, colTradeState, "empty")
		}
		for _, a := range amounts {
			if *a.dst, err = t.money(f, n, a.col); err != nil {
				return nil, err
			}
			total.add(a.col, *a.dst)
		}
		if v := t.get(f, colRate); v != "" {
			if row.Rate, err = commerce.ParseRate(v); err != nil {
				return nil, &BillError{Line: n, Column: colRate, Err: fmt.Errorf("%q is not a rate such as 0.60%%", truncate(v, 40))}
			}
		}
		count++
		if err := fn(&row); err != nil {
			return nil, err
		}
	}
}

func (t *table) tradeSummary(names []string, count int, total sums) (*TradeBillSummary, error) {
	f, n, err := t.summary(names)
	if err != nil {
		return nil, err
	}
	s := &TradeBillSummary{Line: n}
	sawCount := false
	for i, name := range names {
		v := f[i]
		var dst *commerce.Money
		var col string
		switch name {
		case sumCount:
			c, err := strconv.Atoi(v)
			if err != nil || c < 0 {
				return nil, billErr(n, name, "%q is not a count", truncate(v, 40))
			}
			if c != count {
				return nil, billErr(n, name, "the summary counts %d rows, the file has %d (an inconsistent or cut file)", c, count)
			}
			s.Count, sawCount = c, true
			continue
		case sumSettlement:
			dst, col = &s.SettlementTotal, colSettlement
		case sumSettlementOld:
			dst, col = &s.SettlementTotal, colSettlement
			if !t.has(colSettlement) {
				col = colOrderAmount
			}
		case sumRefund, sumRefundOld:
			dst, col = &s.RefundTotal, colRefund
		case sumRecharge, sumRechargeOld:
			dst, col = &s.RechargeCouponRefund, colRechargeRefund
		case sumFee:
			dst, col = &s.FeeTotal, colFee
		case sumOrder:
			dst, col = &s.OrderTotal, colOrderAmount
		case sumRequestedRefund:
			dst, col = &s.RequestedRefundTotal, colRequestedRefund
		default:
			continue // a total minishop does not know: not checked
		}
		m, err := parseYuan(v)
		if err != nil {
			return nil, &BillError{Line: n, Column: name, Err: err}
		}
		*dst = m
		if t.has(col) {
			if err := checkTotal(n, name, m, total.get(col)); err != nil {
				return nil, err
			}
		}
	}
	if !sawCount {
		return nil, billErr(n, sumCount, "missing from the summary")
	}
	return s, nil
}

// ParseFundFlowBill reads a fund-flow bill by column name, calling fn for
// each detail row (reused after fn returns), then checks the summary: the
// count, the income and expense counts and amounts, exactly. Errors are as
// ParseTradeBill's.
func ParseFundFlowBill(r io.Reader, fn func(*FundFlowRow) error) (*FundFlowSummary, error) {
	t := &table{lines: newBillLines(r), summaryFirst: ffSumCount}
	if err := t.header("fund-flow bill", ffTime, ffDirection, ffAmount); err != nil {
		return nil, err
	}
	var row FundFlowRow
	count, inCount, outCount := 0, 0, 0
	in, out := commerce.Zero(currency.CNY), commerce.Zero(currency.CNY)
	for {
		f, isSummary, err := t.row()
		if err != nil {
			return nil, err
		}
		if isSummary {
			return t.fundFlowSummary(f, count, inCount, outCount, in, out)
		}
		n := t.lines.n
		row = FundFlowRow{Line: n, TransactionID: t.get(f, ffTransaction), FlowID: t.get(f, ffFlowID),
			BizName: t.get(f, ffBizName), BizType: t.get(f, ffBizType), Applicant: t.get(f, ffApplicant),
			Note: t.get(f, ffNote), VoucherNo: t.get(f, ffVoucher)}
		if row.Time, err = t.time(f, n, ffTime); err != nil {
			return nil, err
		}
		if row.Time.IsZero() {
			return nil, billErr(n, ffTime, "empty")
		}
		switch d := t.get(f, ffDirection); d {
		case "收入":
			row.Income = true
		case "支出":
		default:
			return nil, billErr(n, ffDirection, "%q is neither 收入 nor 支出", truncate(d, 40))
		}
		if row.Amount, err = t.money(f, n, ffAmount); err != nil {
			return nil, err
		}
		if row.Amount.IsNegative() {
			return nil, billErr(n, ffAmount, "negative (the direction is in %s)", ffDirection)
		}
		if row.Balance, err = t.money(f, n, ffBalance); err != nil {
			return nil, err
		}
		count++
		if row.Income {
			inCount++
			in, _ = in.Add(row.Amount)
		} else {
			outCount++
			out, _ = out.Add(row.Amount)
		}
		if err := fn(&row); err != nil {
			return nil, err
		}
	}
}

func (t *table) fundFlowSummary(names []string, count, inCount, outCount int, in, out commerce.Money) (*FundFlowSummary, error) {
	f, n, err := t.summary(names)
	if err != nil {
		return nil, err
	}
	s := &FundFlowSummary{Line: n}
	seen := map[string]bool{}
	for i, name := range names {
		v := f[i]
		switch name {
		case ffSumCount, ffSumIncomeCount, ffSumExpenseCount:
			c, err := strconv.Atoi(v)
			if err != nil || c < 0 {
				return nil, billErr(n, name, "%q is not a count", truncate(v, 40))
			}
			want, dst := count, &s.Count
			if name == ffSumIncomeCount {
				want, dst = inCount, &s.IncomeCount
			} else if name == ffSumExpenseCount {
				want, dst = outCount, &s.ExpenseCount
			}
			if c != want {
				return nil, billErr(n, name, "the summary counts %d, the rows %d (an inconsistent or cut file)", c, want)
			}
			*dst = c
		case ffSumIncome, ffSumExpense:
			m, err := parseYuan(v)
			if err != nil {
				return nil, &BillError{Line: n, Column: name, Err: err}
			}
			sum, dst := in, &s.Income
			if name == ffSumExpense {
				sum, dst = out, &s.Expense
			}
			if err := checkTotal(n, name, m, sum); err != nil {
				return nil, err
			}
			*dst = m
		default:
			continue
		}
		seen[name] = true
	}
	if !seen[ffSumCount] {
		return nil, billErr(n, ffSumCount, "missing from the summary")
	}
	return s, nil
}
