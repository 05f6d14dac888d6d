package wechatpay_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/wechatpay"
	"github.com/minishop/minishop/payment/wechatpay/wechatpaytest"
)

// billDay is the China-time day the test clock starts in (2025-05-20
// 21:29:35 +08:00).
var billDay = time.Date(2025, 5, 20, 0, 0, 0, 0, time.UTC)

func yuanOf(s string) commerce.Money {
	m, err := wechatpay.ParseYuan(s)
	if err != nil {
		panic(err)
	}
	return m
}

// dayOfTrade pays three payments and refunds part of one, then moves the
// clock to 10:29 the next day, China time, when the bills are out.
func dayOfTrade(t *testing.T) *env {
	t.Helper()
	e := setup(t)
	ctx := t.Context()
	e.paid(t, "PAY20250520000001", 21600)
	e.paid(t, "PAY20250520000002", 9)  // a fee that rounds to nothing
	e.paid(t, "PAY20250520000003", 83) // 0.498 fen: rounds down to 0, 0.6 % of 84 would round up
	_, err := e.c.Refund(ctx, payment.RefundRequest{RefundNo: "REF20250520000001", PaymentNo: "PAY20250520000001",
		Amount: cny(10800), Total: cny(21600), Reason: "一件退货"})
	require.NoError(t, err)
	e.clock.Advance(13 * time.Hour)
	return e
}

func TestTradeBill(t *testing.T) {
	e := dayOfTrade(t)
	ctx := t.Context()
	for _, gz := range []bool{false, true} {
		bill, err := e.c.TradeBill(ctx, wechatpay.TradeBillRequest{Date: billDay, NoGzip: !gz})
		require.NoError(t, err)
		assert.Equal(t, "2025-05-20", bill.Date)
		require.Len(t, bill.Rows, 4)
		pay, refund := bill.Rows[0], bill.Rows[3]
		assert.Equal(t, 2, pay.Line)
		assert.Equal(t, "PAY20250520000001", pay.OutTradeNo)
		assert.Equal(t, "SUCCESS", pay.TradeState)
		assert.Equal(t, "0", pay.SubMchID)
		assert.True(t, pay.OrderAmount.Equal(cny(21600)), pay.OrderAmount.String())
		assert.Equal(t, "1.30000", pay.Fee.Amount().StringFixed(5), "0.6 %% of 216.00 is 1.296, written with five decimals")
		assert.Equal(t, commerce.MustPercent(0.6), pay.Rate)
		assert.Equal(t, time.Date(2025, 5, 20, 21, 29, 35, 0, time.FixedZone("", 8*3600)).Unix(), pay.Time.Unix())
		o, _ := e.p.Order("PAY20250520000001")
		assert.Equal(t, o.TransactionID, pay.TransactionID)
		assert.True(t, bill.Rows[1].Fee.IsZero())

		assert.Equal(t, "REFUND", refund.TradeState)
		assert.Equal(t, "REF20250520000001", refund.OutRefundNo)
		assert.True(t, refund.RequestedRefund.Equal(cny(10800)))
		assert.True(t, refund.Fee.Equal(yuanOf("-0.65")), "half the fee given back: %s", refund.Fee)
		assert.Equal(t, 4, bill.Summary.Count)
		assert.True(t, bill.Summary.FeeTotal.Equal(yuanOf("0.65")))
		assert.True(t, bill.Summary.OrderTotal.Equal(cny(21692)))
	}
	// The download was a signed GET to the download path, answered
	// unsigned: the client took it without a signature to check.
	var downloads int
	for _, r := range e.p.Requests() {
		if strings.HasPrefix(r.URI, "/v3/billdownload/file?token=") {
			downloads++
			assert.Equal(t, 200, r.Status)
			assert.Contains(t, r.Header.Get("Authorization"), "WECHATPAY2-SHA256-RSA2048 ")
		}
		if strings.HasPrefix(r.URI, "/v3/bill/tradebill?") {
			assert.Contains(t, r.URI, "bill_date=2025-05-20")
		}
	}
	assert.Equal(t, 2, downloads)

	// The other layouts, by header name.
	succ, err := e.c.TradeBill(ctx, wechatpay.TradeBillRequest{Date: billDay, Type: wechatpay.BillSuccess})
	require.NoError(t, err)
	require.Len(t, succ.Rows, 3)
	assert.False(t, succ.Rows[0].SettlementRefund.IsSet(), "the SUCCESS layout has no refund columns")
	ref, err := e.c.TradeBill(ctx, wechatpay.TradeBillRequest{Date: billDay, Type: wechatpay.BillRefund})
	require.NoError(t, err)
	require.Len(t, ref.Rows, 1)
	assert.False(t, ref.Rows[0].RefundApplied.IsZero(), "the REFUND layout has the refund's times")

	_, err = e.c.TradeBill(ctx, wechatpay.TradeBillRequest{Date: billDay, Type: "RECHARGE"})
	require.Error(t, err)
	assert.Equal(t, commerce.KindInvalid, commerce.KindOf(err))
	_, err = e.c.TradeBill(ctx, wechatpay.TradeBillRequest{Date: billDay, Account: payment.Account{SubMerchant: "19x"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Account.SubMerchant")
}

func TestFundFlowBill(t *testing.T) {
	e := dayOfTrade(t)
	bill, err := e.c.FundFlowBill(t.Context(), wechatpay.FundFlowBillRequest{Date: billDay})
	require.NoError(t, err)
	// Three payments in, one fee out (the others round to nothing), one
	// refund out, half the fee back in.
	require.Len(t, bill.Rows, 6)
	assert.Equal(t, 4, bill.Summary.IncomeCount)
	assert.True(t, bill.Summary.Income.Equal(yuanOf("217.57")), bill.Summary.Income.String())
	assert.True(t, bill.Summary.Expense.Equal(yuanOf("109.30")), bill.Summary.Expense.String())
	last := bill.Rows[len(bill.Rows)-1]
	assert.True(t, last.Balance.Equal(yuanOf("108.27")), "the balance runs: %s", last.Balance)
	_, err = e.c.FundFlowBill(t.Context(), wechatpay.FundFlowBillRequest{Date: billDay, AccountType: wechatpay.AccountFees})
	require.ErrorIs(t, err, wechatpay.ErrNoStatement)
}

func TestBillAvailability(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	e.paid(t, "PAY20250520000001", 100)
	_, err := e.c.TradeBill(ctx, wechatpay.TradeBillRequest{Date: billDay})
	require.ErrorIs(t, err, payment.ErrBillNotReady, "today's bill is being made")
	assert.True(t, commerce.Retryable(err))
	e.clock.Advance(12 * time.Hour) // 09:29 next day, China time
	_, err = e.c.TradeBill(ctx, wechatpay.TradeBillRequest{Date: billDay})
	require.ErrorIs(t, err, payment.ErrBillNotReady)
	e.clock.Advance(time.Hour)
	_, err = e.c.TradeBill(ctx, wechatpay.TradeBillRequest{Date: billDay})
	require.NoError(t, err)

	// A day without trade: no bill, and the provider-neutral bill is empty.
	quiet := billDay.AddDate(0, 0, -1)
	_, err = e.c.TradeBill(ctx, wechatpay.TradeBillRequest{Date: quiet})
	require.ErrorIs(t, err, wechatpay.ErrNoStatement)
	assert.Equal(t, commerce.KindNotFound, commerce.KindOf(err))
	b, err := e.c.DayBill(ctx, payment.Account{}, quiet)
	require.NoError(t, err)
	assert.Empty(t, b.Lines)
	assert.Equal(t, "2025-05-19", b.Day)
	assert.Equal(t, 24*time.Hour, b.To.Sub(b.From))
}

func TestBillTampers(t *testing.T) {
	e := dayOfTrade(t)
	ctx := t.Context()
	for _, tc := range []struct {
		tamper wechatpaytest.BillTamper
		check  func(t *testing.T, err error)
	}{
		{wechatpaytest.BillWrongHash, func(t *testing.T, err error) {
			require.ErrorIs(t, err, wechatpay.ErrBillDigest)
			assert.Contains(t, err.Error(), "hash_value")
			assert.True(t, commerce.Retryable(err), "download it again")
		}},
		{wechatpaytest.BillCutInTransit, func(t *testing.T, err error) {
			require.ErrorIs(t, err, wechatpay.ErrBillDigest)
		}},
		{wechatpaytest.BillTruncated, func(t *testing.T, err error) {
			var be *wechatpay.BillError
			require.ErrorAs(t, err, &be)
			assert.Equal(t, 4, be.Line, "after the header and two rows")
			assert.Contains(t, err.Error(), "without its summary")
			assert.Equal(t, commerce.KindInvalid, commerce.KindOf(err))
		}},
	} {
		e.p.TamperBills(tc.tamper)
		for _, gz := range []bool{false, true} {
			bill, err := e.c.TradeBill(ctx, wechatpay.TradeBillRequest{Date: billDay, NoGzip: !gz})
			assert.Nil(t, bill)
			tc.check(t, err)
			fb, err := e.c.FundFlowBill(ctx, wechatpay.FundFlowBillRequest{Date: billDay, NoGzip: !gz})
			assert.Nil(t, fb)
			require.Error(t, err)
		}
	}
	e.p.TamperBills(0)
	_, err := e.c.TradeBill(ctx, wechatpay.TradeBillRequest{Date: billDay})
	require.NoError(t, err)
}

func TestBillDownloadStaysOnTheAPIHost(t *testing.T) {
	e := setup(t)
	for _, raw := range []string{
		"https://evil.example.com/v3/billdownload/file?token=x",
		strings.Replace(e.p.URL(), "https://", "http://", 1) + "/v3/billdownload/file?token=x",
		e.p.URL() + "/v3/pay/transactions/jsapi?token=x",
		"https://user@" + strings.TrimPrefix(e.p.URL(), "https://") + "/v3/billdownload/file?token=x",
		"",
	} {
		require.Error(t, e.c.CheckDownloadURL(raw), raw)
	}
	require.NoError(t, e.c.CheckDownloadURL(e.p.URL()+"/v3/billdownload/file?token=abc"))
}

func TestBillFaults(t *testing.T) {
	e := dayOfTrade(t)
	want, err := e.c.TradeBill(t.Context(), wechatpay.TradeBillRequest{Date: billDay})
	require.NoError(t, err)
	e.p.SetFaults(wechatpaytest.Fault{Prefix: "/v3/bill", Rate: 0.3})
	failures := 0
	for range 20 {
		got, err := e.c.TradeBill(t.Context(), wechatpay.TradeBillRequest{Date: billDay})
		if err != nil {
			require.True(t, commerce.Retryable(err), "%v", err)
			failures++
			continue
		}
		assert.Equal(t, want.Rows, got.Rows)
	}
	assert.Positive(t, failures)
}
