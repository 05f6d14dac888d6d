package wechatpay_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/payment/wechatpay"
)

const allHeader = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"

const allSumHeader = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"

// sampleBill is an ALL trade bill: a payment whose product name has a
// comma, and a refund.
var sampleBill = allHeader + "\r\n" +
	"`2025-05-20 21:29:35,`wxd678efh567hg6787,`1900000109,`0,`,`4200000001202505200000000001,`PAY001,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`JSAPI,`SUCCESS,`OTHERS,`CNY,`216.00,`0.00,`0,`0,`0.00,`0.00,`,`,`龙井, 250g,`order=1,`1.29600,`0.60%,`216.00,`0.00,`\r\n" +
	"`2025-05-20 22:00:00,`wxd678efh567hg6787,`1900000109,`0,`,`4200000001202505200000000001,`PAY001,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`JSAPI,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`50300000012025,`REF001,`108.00,`0.00,`ORIGINAL,`PROCESSING,`龙井, 250g,`order=1,`-0.64800,`0.60%,`0.00,`108.00,`\r\n" +
	allSumHeader + "\r\n" +
	"`2,`216.00,`108.00,`0.00,`0.64800,`216.00,`108.00\r\n"

func parse(t *testing.T, s string) ([]wechatpay.TradeBillRow, *wechatpay.TradeBillSummary, error) {
	t.Helper()
	var rows []wechatpay.TradeBillRow
	sum, err := wechatpay.ParseTradeBill(strings.NewReader(s), func(r *wechatpay.TradeBillRow) error {
		rows = append(rows, *r)
		return nil
	})
	return rows, sum, err
}

func TestParseTradeBill(t *testing.T) {
	for name, text := range map[string]string{
		"crlf":      sampleBill,
		"lf":        strings.ReplaceAll(sampleBill, "\r\n", "\n"),
		"bom":       "\xef\xbb\xbf" + sampleBill,
		"no final":  strings.TrimSuffix(sampleBill, "\r\n"),
		"blank end": sampleBill + "\r\n\r\n",
	} {
		rows, sum, err := parse(t, text)
		require.NoError(t, err, name)
		require.Len(t, rows, 2, name)
		assert.Equal(t, "龙井, 250g", rows[0].Body, "%s: a comma inside a field stays in it", name)
		assert.Equal(t, "1.29600", rows[0].Fee.Amount().StringFixed(5), "%s: the fee is kept exactly, not rounded to 1.30", name)
		assert.Equal(t, "-0.648", rows[1].Fee.Amount().String(), name)
		assert.Equal(t, "REF001", rows[1].OutRefundNo)
		assert.Equal(t, 2, sum.Count)
		assert.Equal(t, 5, sum.Line)
	}
}

func TestParseTradeBillLegacyLayout(t *testing.T) {
	// An old merchant's layout: no 应结订单金额 or 代金券金额, totals
	// under their old names, columns in another order.
	text := "商户订单号,交易时间,微信订单号,商户号,交易状态,订单金额,手续费\n" +
		"`PAY1,`2024-01-02 03:04:05,`42001,`1900000109,`SUCCESS,`10.00,`0.06\n" +
		"总交易单数,总交易额,手续费总金额\n" +
		"`1,`10.00,`0.06\n"
	rows, sum, err := parse(t, text)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	assert.Equal(t, "PAY1", rows[0].OutTradeNo)
	assert.False(t, rows[0].SettlementTotal.IsSet())
	assert.Equal(t, "10", rows[0].OrderAmount.Amount().String())
	assert.Equal(t, "10", sum.SettlementTotal.Amount().String())
}

func TestParseTradeBillRefusals(t *testing.T) {
	lines := strings.Split(strings.TrimSuffix(sampleBill, "\r\n"), "\r\n")
	join := func(ls ...string) string { return strings.Join(ls, "\r\n") + "\r\n" }
	for _, tc := range []struct {
		name   string
		text   string
		line   int
		column string
		msg    string
	}{
		{"empty", "", 1, "", "empty file"},
		{"not a bill", "a,b,c\n`1,`2,`3\n", 1, "交易时间", "not a trade bill"},
		{"cut before the summary", join(lines[:2]...), 3, "", "without its summary"},
		{"cut after the summary header", join(lines[:4]...), 5, "", "without the summary row"},
		{"count", join(lines[0], lines[1], lines[3], lines[4]), 4, "总交易单数", "counts 2 rows, the file has 1"},
		{"total", join(lines[0], lines[1], lines[2], lines[3], strings.Replace(lines[4], "`108.00", "`108.01", 1)), 5, "退款总金额", "add up to 108"},
		{"fee total", join(lines[0], lines[1], lines[2], lines[3], strings.Replace(lines[4], "0.64800", "0.65", 1)), 5, "手续费总金额", "0.648"},
		{"amount", join(lines[0], strings.Replace(lines[1], "`216.00", "`2l6.00", 1), lines[2], lines[3], lines[4]), 2, "应结订单金额", "not an amount"},
		{"time", join(lines[0], strings.Replace(lines[1], "2025-05-20 21:29:35", "2025/05/20", 1), lines[2], lines[3], lines[4]), 2, "交易时间", "not a time"},
		{"rate", join(lines[0], strings.Replace(lines[1], "`0.60%", "`0.6", 1), lines[2], lines[3], lines[4]), 2, "费率", "not a rate"},
		{"width", join(lines[0], strings.Replace(lines[1], ",`JSAPI", "", 1), lines[2], lines[3], lines[4]), 2, "", "26 fields, the header has 27"},
		{"no backtick", join(lines[0], strings.TrimPrefix(lines[1], "`"), lines[2], lines[3], lines[4]), 2, "", "neither a row"},
		{"after summary", join(append(lines, "`1")...), 6, "", "data after the summary"},
		{"empty row", join(lines[0], "", lines[1]), 2, "", "empty line"},
		{"invalid utf-8", join(lines[0], strings.Replace(lines[1], "龙井", "\xff", 1)), 2, "", "UTF-8"},
		{"duplicate column", join(lines[0]+",费率", lines[1]), 1, "费率", "twice"},
	} {
		_, _, err := parse(t, tc.text)
		var be *wechatpay.BillError
		require.ErrorAs(t, err, &be, tc.name)
		assert.Equal(t, tc.line, be.Line, "%s: %v", tc.name, err)
		assert.Equal(t, tc.column, be.Column, "%s: %v", tc.name, err)
		assert.Contains(t, err.Error(), tc.msg, tc.name)
	}
	// A row longer than any WeChat writes is refused before it is held.
	_, _, err := parse(t, allHeader+"\n`"+strings.Repeat("x", 70<<10)+"\n")
	require.ErrorContains(t, err, "longer than")
	// An error of the caller's stops the reading and comes back as it is.
	stop := fmt.Errorf("enough")
	_, err = wechatpay.ParseTradeBill(strings.NewReader(sampleBill), func(*wechatpay.TradeBillRow) error { return stop })
	require.ErrorIs(t, err, stop)
}

func TestParseFundFlowBill(t *testing.T) {
	text := "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额(元),账户结余(元),资金变更提交申请人,备注,业务凭证号\n" +
		"`2025-05-20 21:29:35,`4200001,`F1,`交易,`交易,`收入,`216.00,`216.00,`system,`,`PAY1\n" +
		"`2025-05-20 21:29:35,`4200001,`F2,`扣除交易手续费,`扣除交易手续费,`支出,`1.30,`214.70,`system,`,`PAY1\n" +
		"资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额\n" +
		"`2,`1,`216.00,`1,`1.30\n"
	var rows []wechatpay.FundFlowRow
	sum, err := wechatpay.ParseFundFlowBill(strings.NewReader(text), func(r *wechatpay.FundFlowRow) error {
		rows = append(rows, *r)
		return nil
	})
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.True(t, rows[0].Income)
	assert.False(t, rows[1].Income)
	assert.Equal(t, "214.7", rows[1].Balance.Amount().String())
	assert.Equal(t, 1, sum.ExpenseCount)

	_, err = wechatpay.ParseFundFlowBill(strings.NewReader(strings.Replace(text, "`1.30\n", "`1.31\n", 1)), func(*wechatpay.FundFlowRow) error { return nil })
	require.ErrorContains(t, err, "支出金额")
	_, err = wechatpay.ParseFundFlowBill(strings.NewReader(strings.Replace(text, "`收入", "`入账", 1)), func(*wechatpay.FundFlowRow) error { return nil })
	require.ErrorContains(t, err, "neither 收入 nor 支出")
}

// writeTradeBill writes rows and a summary in the ALL layout: the test's
// own writer, for round trips.
func writeTradeBill(rows []wechatpay.TradeBillRow, sum *wechatpay.TradeBillSummary) []byte {
	var b bytes.Buffer
	b.WriteString(allHeader + "\n")
	amt := func(m interface{ AmountText() string }) string { return m.AmountText() }
	for _, r := range rows {
		rate := ""
		if r.Rate.PPM() != 0 {
			rate = r.Rate.String()
		}
		f := []string{r.Time.Format("2006-01-02 15:04:05"), r.AppID, r.MchID, r.SubMchID, r.DeviceInfo, r.TransactionID, r.OutTradeNo,
			r.OpenID, r.TradeType, r.TradeState, r.BankType, r.Currency, amt(r.SettlementTotal), amt(r.CouponAmount), r.RefundID,
			r.OutRefundNo, amt(r.SettlementRefund), amt(r.RechargeCouponRefund), r.RefundType, r.RefundStatus, r.Body, r.Attach,
			r.Fee.Amount().String(), rate, amt(r.OrderAmount), amt(r.RequestedRefund), r.RateNote}
		b.WriteString("`" + strings.Join(f, ",`") + "\n")
	}
	b.WriteString(allSumHeader + "\n")
	f := []string{fmt.Sprint(sum.Count), amt(sum.SettlementTotal), amt(sum.RefundTotal), amt(sum.RechargeCouponRefund),
		sum.FeeTotal.Amount().String(), amt(sum.OrderTotal), amt(sum.RequestedRefundTotal)}
	b.WriteString("`" + strings.Join(f, ",`") + "\n")
	return b.Bytes()
}

// FuzzParseTradeBill: no input panics; an ALL bill that is accepted and
// written again by the test's writer reads back to the same rows.
func FuzzParseTradeBill(f *testing.F) {
	f.Add([]byte(sampleBill))
	f.Add([]byte(strings.ReplaceAll(sampleBill, "\r\n", "\n")))
	f.Add([]byte("交易时间,商户号,微信订单号,商户订单号,交易状态,订单金额\n`2024-01-01 00:00:00,`1,`2,`3,`SUCCESS,`1.00\n总交易单数\n`1\n"))
	f.Add([]byte(allHeader + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var rows []wechatpay.TradeBillRow
		sum, err := wechatpay.ParseTradeBill(bytes.NewReader(data), func(r *wechatpay.TradeBillRow) error {
			rows = append(rows, *r)
			return nil
		})
		if err != nil {
			var be *wechatpay.BillError
			require.ErrorAs(t, err, &be)
			return
		}
		require.Equal(t, len(rows), sum.Count)
		if !bytes.HasPrefix(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), []byte(allHeader+"\n")) &&
			!bytes.HasPrefix(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), []byte(allHeader+"\r\n")) {
			return // another layout: the writer knows only ALL
		}
		for _, r := range rows {
			if strings.Contains(r.Body+r.Attach+r.RateNote, ",`") || r.Rate.PPM() == 0 && strings.Contains(string(data), "`0%") {
				return
			}
		}
		again := writeTradeBill(rows, sum)
		var rows2 []wechatpay.TradeBillRow
		sum2, err := wechatpay.ParseTradeBill(bytes.NewReader(again), func(r *wechatpay.TradeBillRow) error {
			rows2 = append(rows2, *r)
			return nil
		})
		require.NoError(t, err, "written again:\n%s", again)
		require.Len(t, rows2, len(rows))
		for i := range rows {
			a, b := rows[i], rows2[i]
			a.Line, b.Line = 0, 0
			assert.Equal(t, fmt.Sprintf("%+v", a), fmt.Sprintf("%+v", b))
		}
		assert.Equal(t, sum.Count, sum2.Count)
	})
}

// bigTradeBill is an ALL bill of n rows: payments, every tenth followed by
// a refund of half.
func bigTradeBill(n int) []byte {
	var b bytes.Buffer
	b.WriteString(allHeader + "\r\n")
	var settle, refund, fee int64
	for i := 0; i < n; i++ {
		fen := int64(1000 + i%5000)
		f := (fen*6000 + 500000) / 1000000
		if i%10 == 9 {
			half := fen / 2
			share := (f*half*2 + fen) / (2 * fen)
			fmt.Fprintf(&b, "`2025-05-20 12:%02d:%02d,`wxd678efh567hg6787,`1900000109,`0,`,`42%026d,`PAY%012d,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`JSAPI,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`50%026d,`REF%012d,`%d.%02d,`0.00,`ORIGINAL,`PROCESSING,`茶叶 礼盒,`order,`-%d.%02d000,`0.60%%,`0.00,`%d.%02d,`\r\n",
				i/60%60, i%60, i-1, i-1, i, i, half/100, half%100, share/100, share%100, half/100, half%100)
			refund += half
			fee -= share
			continue
		}
		fmt.Fprintf(&b, "`2025-05-20 12:%02d:%02d,`wxd678efh567hg6787,`1900000109,`0,`,`42%026d,`PAY%012d,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`JSAPI,`SUCCESS,`OTHERS,`CNY,`%d.%02d,`0.00,`0,`0,`0.00,`0.00,`,`,`茶叶 礼盒,`order,`%d.%02d000,`0.60%%,`%d.%02d,`0.00,`\r\n",
			i/60%60, i%60, i, i, fen/100, fen%100, f/100, f%100, fen/100, fen%100)
		settle += fen
		fee += f
	}
	y := func(fen int64) string {
		s := ""
		if fen < 0 {
			s, fen = "-", -fen
		}
		return fmt.Sprintf("%s%d.%02d", s, fen/100, fen%100)
	}
	fmt.Fprintf(&b, "%s\r\n`%d,`%s,`%s,`0.00,`%s000,`%s,`%s\r\n", allSumHeader, n, y(settle), y(refund), y(fee), y(settle), y(refund))
	return b.Bytes()
}

func TestBigTradeBillReads(t *testing.T) {
	sum, err := wechatpay.ParseTradeBill(bytes.NewReader(bigTradeBill(1000)), func(*wechatpay.TradeBillRow) error { return nil })
	require.NoError(t, err)
	assert.Equal(t, 1000, sum.Count)
}

// BenchmarkParseTradeBill reads a 100,000-row trade bill; run with
// -benchmem for the memory per bill (the parser holds one row at a time).
func BenchmarkParseTradeBill(b *testing.B) {
	const n = 100_000
	data := bigTradeBill(n)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := wechatpay.ParseTradeBill(bytes.NewReader(data), func(*wechatpay.TradeBillRow) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
