package payment_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/wechatpay"
	"github.com/minishop/minishop/payment/wechatpay/wechatpaytest"
	"github.com/minishop/minishop/storage/memory"
)

// The day the worlds trade in: commercetest.Epoch is 10:00 on 2026-01-01,
// China time.
var tradeDay = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// billWorld is an Engine paying through a local WeChat Pay.
type billWorld struct {
	t        *testing.T
	ctx      context.Context
	clock    *commercetest.Clock
	platform *wechatpaytest.Platform
	client   *wechatpay.Client
	engine   *minishop.Engine
	shop     *commercetest.Shop
	orders   int
}

func newBillWorld(t *testing.T, opts wechatpaytest.Options, wrap ...func(*wechatpay.Client) payment.Provider) *billWorld {
	t.Helper()
	clock := commercetest.NewClock(commercetest.Epoch)
	opts.Now = clock.Now
	platform := wechatpaytest.Start(t, opts)
	cfg := platform.Config("")
	cfg.Now = clock.Now
	client, err := wechatpay.New(cfg)
	require.NoError(t, err)
	var prov payment.Provider = client
	for _, w := range wrap {
		prov = w(client)
	}
	engine, err := minishop.New(memory.New(), minishop.WithPayments(prov), minishop.WithClock(clock),
		minishop.WithIDs(&commercetest.SeqIDs{}))
	require.NoError(t, err)
	shop := commercetest.NewShop(t, engine.Commerce, "茶铺", commerce.ShippingRule{},
		commercetest.ProductSpec{Title: "龙井", Category: "food", Prices: []string{"88.00", "0.83"}, Stock: 1000})
	return &billWorld{t: t, ctx: context.Background(), clock: clock, platform: platform, client: client, engine: engine, shop: shop}
}

// pay checks out qty of SKU sku and pays it at WeChat Pay; the notification
// reaches minishop unless lost.
func (w *billWorld) pay(sku int, qty int64, lost bool) *payment.Payment {
	w.t.Helper()
	w.orders++
	o, err := w.engine.Commerce.Checkout(w.ctx, commerce.CheckoutParams{MerchantID: w.shop.Merchant.ID, CustomerID: "alice",
		IdempotencyKey: fmt.Sprintf("k%d", w.orders), ShippingAddress: commercetest.Address(),
		Lines: []commerce.LineItem{{SKU: w.shop.SKU(0, sku), Quantity: qty}}})
	require.NoError(w.t, err)
	p, _, err := w.engine.Payments.Pay(w.ctx, payment.PayParams{MerchantID: o.MerchantID, OrderID: o.ID, Payer: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"})
	require.NoError(w.t, err)
	n, err := w.platform.Pay(p.PaymentNo)
	require.NoError(w.t, err)
	if !lost {
		_, err = w.engine.Payments.HandleNotification(w.ctx, "wechatpay", n.Request())
		require.NoError(w.t, err)
	}
	w.clock.Advance(time.Minute)
	got, err := w.engine.Payments.GetPayment(w.ctx, p.MerchantID, p.ID)
	require.NoError(w.t, err)
	return got
}

// refundHalf refunds one of the order's units; WeChat finishes it and
// notifies.
func (w *billWorld) refundOne(p *payment.Payment) {
	w.t.Helper()
	_, err := w.engine.Commerce.Refund(w.ctx, commerce.RefundParams{MerchantID: p.MerchantID, OrderID: p.OrderID,
		IdempotencyKey: "r-" + p.PaymentNo, Items: []commerce.RefundItem{{Line: 0, Quantity: 1}}})
	require.NoError(w.t, err)
	got, err := w.engine.Payments.GetPayment(w.ctx, p.MerchantID, p.ID)
	require.NoError(w.t, err)
	r := got.Refunds[len(got.Refunds)-1]
	n, err := w.platform.FinishRefund(r.RefundNo, "SUCCESS")
	require.NoError(w.t, err)
	_, err = w.engine.Payments.HandleNotification(w.ctx, "wechatpay", n.Request())
	require.NoError(w.t, err)
	w.clock.Advance(time.Minute)
}

// billsOut moves the clock to 10:01 the day after the trading day, China
// time, when WeChat Pay's bills are out.
func (w *billWorld) billsOut() { w.clock.Set(time.Date(2026, 1, 2, 2, 1, 0, 0, time.UTC)) }

func (w *billWorld) status(p *payment.Payment) payment.Status {
	w.t.Helper()
	got, err := w.engine.Payments.GetPayment(w.ctx, p.MerchantID, p.ID)
	require.NoError(w.t, err)
	return got.Status
}

// summary lists a report's items as "list kind payment[/refund]" in a
// stable order, for comparisons.
func summary(rep *payment.DayReport) []string {
	var out []string
	for name, list := range map[string][]payment.BillItem{"matched": rep.Matched, "applied": rep.Applied,
		"channel-only": rep.ChannelOnly, "minishop-only": rep.MinishopOnly, "difference": rep.Differences} {
		for _, it := range list {
			out = append(out, name+" "+string(it.Kind)+" "+it.PaymentNo+"/"+it.RefundNo)
		}
	}
	sort.Strings(out)
	return out
}

func TestReconcileDay(t *testing.T) {
	w := newBillWorld(t, wechatpaytest.Options{})
	matched := w.pay(0, 2, false)  // 176.00, fee 1.06
	lost := w.pay(0, 1, true)      // its notification never came
	refunded := w.pay(0, 2, false) // then one of two units refunded
	gone := w.pay(1, 1, false)     // WeChat Pay loses its record
	w.refundOne(refunded)
	refunded, err := w.engine.Payments.GetPayment(w.ctx, refunded.MerchantID, refunded.ID)
	require.NoError(t, err)
	require.True(t, w.platform.DeleteOrder(gone.PaymentNo))
	// A payment at WeChat Pay that minishop never opened.
	_, err = w.client.CreatePayment(w.ctx, payment.CreateRequest{PaymentNo: "STRANGER0000000001", Description: "not ours",
		Amount: commerce.FromMinor(500, matched.Amount.Currency()), Payer: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"})
	require.NoError(t, err)
	_, err = w.platform.Pay("STRANGER0000000001")
	require.NoError(t, err)

	// Before 10:00 the next day, China time, the bill is not ready.
	w.clock.Set(time.Date(2026, 1, 2, 1, 30, 0, 0, time.UTC))
	_, err = w.engine.Payments.ReconcileDay(w.ctx, "wechatpay", payment.Account{}, tradeDay)
	require.ErrorIs(t, err, payment.ErrBillNotReady)
	assert.True(t, commerce.Retryable(err))
	assert.Equal(t, payment.Pending, w.status(lost), "nothing applied")

	w.billsOut()
	rep, err := w.engine.Payments.ReconcileDay(w.ctx, "wechatpay", payment.Account{}, tradeDay)
	require.NoError(t, err)
	assert.Equal(t, "2026-01-01", rep.Day)
	assert.Equal(t, []string{
		"applied payment " + lost.PaymentNo + "/",
		"channel-only payment STRANGER0000000001/",
		"matched payment " + matched.PaymentNo + "/",
		"matched payment " + refunded.PaymentNo + "/",
		"matched refund " + refunded.PaymentNo + "/" + refunded.Refunds[0].RefundNo,
		"minishop-only payment " + gone.PaymentNo + "/",
	}, summary(rep))
	assert.Equal(t, payment.Succeeded, w.status(lost), "the lost notification's payment is applied, as the channel's query said")
	order, err := w.engine.Commerce.GetOrder(w.ctx, lost.MerchantID, lost.OrderID)
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusPaid, order.Status)
	require.Len(t, rep.Applied, 1)
	assert.True(t, rep.Applied[0].Channel.Equal(lost.Amount))

	// Totals to the fen: the bill has the four payments it knows and the
	// refund; fees are WeChat's 0.6 % per payment less what the refund
	// gave back, equal to minishop's.
	cny := func(fen int64) commerce.Money { return commerce.FromMinor(fen, matched.Amount.Currency()) }
	assert.Equal(t, 5, rep.Totals.Lines)
	assert.True(t, rep.Totals.ChannelPaid.Equal(cny(17600+8800+17600+500)), rep.Totals.ChannelPaid.String())
	assert.True(t, rep.Totals.ChannelRefunded.Equal(cny(8800)))
	assert.True(t, rep.Totals.ChannelFees.Equal(cny(106+53+106+3-53)), rep.Totals.ChannelFees.String())
	assert.True(t, rep.Totals.Paid.Equal(cny(17600+8800+17600+83)), rep.Totals.Paid.String())
	assert.True(t, rep.Totals.Refunded.Equal(cny(8800)))
	assert.True(t, rep.Totals.Fees.Equal(cny(106+53+106+0-53)), rep.Totals.Fees.String())

	// Again: nothing is applied twice; what was applied now matches.
	ledger, err := w.engine.Payments.Ledger(w.ctx, lost.MerchantID, lost.OrderID)
	require.NoError(t, err)
	again, err := w.engine.Payments.ReconcileDay(w.ctx, "wechatpay", payment.Account{}, tradeDay)
	require.NoError(t, err)
	assert.Empty(t, again.Applied)
	assert.Contains(t, summary(again), "matched payment "+lost.PaymentNo+"/")
	assert.Len(t, again.Matched, len(rep.Matched)+1)
	assert.Equal(t, rep.Totals, again.Totals)
	ledger2, err := w.engine.Payments.Ledger(w.ctx, lost.MerchantID, lost.OrderID)
	require.NoError(t, err)
	assert.Len(t, ledger2, len(ledger))

	// A day without trade: an empty report.
	quiet, err := w.engine.Payments.ReconcileDay(w.ctx, "wechatpay", payment.Account{}, tradeDay.AddDate(0, 0, -1))
	require.NoError(t, err)
	assert.Empty(t, summary(quiet))
}

// A channel charging another rate than minishop's schedule: every fee is
// a difference, to the fen, and nothing else is.
func TestReconcileDayFeeDifferences(t *testing.T) {
	w := newBillWorld(t, wechatpaytest.Options{FeeRatePPM: 10000})
	a := w.pay(0, 2, false)
	w.pay(1, 1, false) // 0.83: 1 % rounds to 0.01, 0.6 % to 0.00
	w.billsOut()
	rep, err := w.engine.Payments.ReconcileDay(w.ctx, "wechatpay", payment.Account{}, tradeDay)
	require.NoError(t, err)
	require.Len(t, rep.Differences, 2)
	assert.Empty(t, rep.Matched)
	d := rep.Differences[0]
	assert.Equal(t, a.PaymentNo, d.PaymentNo)
	assert.Equal(t, "1.76", d.ChannelFee.Amount().String())
	assert.Equal(t, "1.06", d.MinishopFee.Amount().String())
	assert.Contains(t, d.Note, "fee 1.76 at the channel, 1.06 in minishop")
}

// alteredBills changes one line's amount of the statement: the channel
// says it took another amount than minishop's payment.
type alteredBills struct {
	*wechatpay.Client
	no    string
	delta int64
}

func (a alteredBills) DayBill(ctx context.Context, acct payment.Account, day time.Time) (*payment.Bill, error) {
	b, err := a.Client.DayBill(ctx, acct, day)
	if err != nil {
		return nil, err
	}
	for i := range b.Lines {
		if b.Lines[i].PaymentNo == a.no && b.Lines[i].Kind == payment.BillPayment {
			b.Lines[i].Amount, _ = b.Lines[i].Amount.Add(commerce.FromMinor(a.delta, b.Lines[i].Amount.Currency()))
		}
	}
	return b, nil
}

func TestReconcileDayAmountDifference(t *testing.T) {
	alt := &alteredBills{delta: 1}
	w := newBillWorld(t, wechatpaytest.Options{}, func(c *wechatpay.Client) payment.Provider { alt.Client = c; return alt })
	p := w.pay(0, 1, false)
	alt.no = p.PaymentNo
	w.billsOut()
	rep, err := w.engine.Payments.ReconcileDay(w.ctx, "wechatpay", payment.Account{}, tradeDay)
	require.NoError(t, err)
	require.Len(t, rep.Differences, 1)
	assert.Contains(t, rep.Differences[0].Note, "amount CNY 88.01 at the channel, CNY 88.00 in minishop")
	assert.True(t, rep.Totals.ChannelPaid.Equal(commerce.FromMinor(8801, p.Amount.Currency())))
	assert.True(t, rep.Totals.Paid.Equal(p.Amount))
}

// A bill that fails its digest or is cut short: a clear error, and nothing
// applied (the lost notification's payment stays pending).
func TestReconcileDayRefusesBrokenBills(t *testing.T) {
	w := newBillWorld(t, wechatpaytest.Options{})
	w.pay(0, 1, false)
	lost := w.pay(0, 3, true)
	w.pay(0, 2, false)
	w.billsOut()
	for _, tc := range []struct {
		tamper wechatpaytest.BillTamper
		msg    string
	}{
		{wechatpaytest.BillWrongHash, "digest mismatch"},
		{wechatpaytest.BillTruncated, "without its summary (cut short?)"},
	} {
		w.platform.TamperBills(tc.tamper)
		rep, err := w.engine.Payments.ReconcileDay(w.ctx, "wechatpay", payment.Account{}, tradeDay)
		require.Error(t, err)
		assert.Nil(t, rep)
		assert.Contains(t, err.Error(), tc.msg)
		assert.Equal(t, payment.Pending, w.status(lost), "%s: nothing applied", tc.tamper)
	}
	w.platform.TamperBills(0)
	rep, err := w.engine.Payments.ReconcileDay(w.ctx, "wechatpay", payment.Account{}, tradeDay)
	require.NoError(t, err)
	assert.Len(t, rep.Applied, 1)
}

// WeChat Pay failing 30 % of the bill calls (apply and download): asked
// again until it answers, the report is the one a healthy platform gives.
func TestReconcileDayUnderFaults(t *testing.T) {
	w := newBillWorld(t, wechatpaytest.Options{})
	var ps []*payment.Payment
	for i := range 12 {
		ps = append(ps, w.pay(i%2, int64(1+i%3), i%4 == 3))
	}
	w.refundOne(ps[0])
	w.billsOut()
	w.platform.SetFaults(wechatpaytest.Fault{Prefix: "/v3/bill", Rate: 0.3}, wechatpaytest.Fault{Prefix: "/v3/pay", Rate: 0.3})
	// Asked until it answers, and again until some call has failed, so
	// the faults are seen to bite; every answer has the same totals.
	var reps []*payment.DayReport
	failures := 0
	for attempt := 0; len(reps) == 0 || failures == 0; attempt++ {
		require.Less(t, attempt, 200, "never answered")
		rep, err := w.engine.Payments.ReconcileDay(w.ctx, "wechatpay", payment.Account{}, tradeDay)
		if err != nil {
			require.True(t, commerce.Retryable(err), "%v", err)
			failures++
			continue
		}
		reps = append(reps, rep)
	}
	t.Logf("%d failed attempts, %d answers", failures, len(reps))
	w.platform.SetFaults()
	healthy, err := w.engine.Payments.ReconcileDay(w.ctx, "wechatpay", payment.Account{}, tradeDay)
	require.NoError(t, err)
	// What the attempts applied (some before a later call failed) is
	// matched now; everything else is as it was.
	assert.Empty(t, healthy.Applied)
	assert.Len(t, healthy.Matched, 12+1)
	for _, r := range reps {
		assert.Equal(t, healthy.Totals, r.Totals)
		assert.Len(t, append(r.Matched, r.Applied...), 12+1)
	}
	for _, p := range ps {
		assert.Equal(t, payment.Succeeded, w.status(p))
		ledger, err := w.engine.Payments.Ledger(w.ctx, p.MerchantID, p.OrderID)
		require.NoError(t, err)
		assert.Len(t, ledger, map[bool]int{true: 6, false: 3}[p.ID == ps[0].ID], "applied once: %s", p.PaymentNo)
	}
}

// A provider without statements.
func TestReconcileDayNeedsABillSource(t *testing.T) {
	engine, err := minishop.New(memory.New(), minishop.WithPayments(fakeProvider{}))
	require.NoError(t, err)
	_, err = engine.Payments.ReconcileDay(context.Background(), "fake", payment.Account{}, tradeDay)
	require.Error(t, err)
	assert.Equal(t, commerce.KindFailedPrecondition, commerce.KindOf(err))
}

type fakeProvider struct{ payment.Provider }

func (fakeProvider) Name() string { return "fake" }
