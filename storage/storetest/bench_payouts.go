package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/promoter"
)

// BenchPayoutRun measures a payout run against the local WeChat Pay
// platform: commissions settled commissions of NewSettleBench's shop (8
// promoters, 7.20 each) are paid by promoter.Service.RunDue (claimed for
// one bill per promoter, the bills created over HTTPS with signatures
// checked both ways), each payee accepts, and the notifications mark every
// commission paid. Setup (orders, settlement) runs with the timer stopped.
// It reports commissions/s and µs/commission.
func BenchPayoutRun(b *testing.B, h Harness, commissions int) {
	b.Helper()
	ctx := context.Background()
	var clock *commercetest.Clock
	wp, client := localWeChatPay(b, &clock)
	payouts := minishop.WithPromoter(func(c *promoter.Config) {
		c.Payouts = promoter.PayoutConfig{Transferer: client, Every: time.Hour,
			MaxPerTransfer: commercetest.CNY("1000000"), MaxPerDay: commercetest.CNY("1000000")}
	})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r := NewSettleBench(b, h.New(b), commissions, payouts)
		clock = r.Clock
		for w, p := range r.Promoters {
			_, err := r.Engine.Promoter.SetPromoterPayees(ctx, p.ID, []payment.Payee{{Kind: payment.PayeePerson,
				Account: fmt.Sprintf("oBench%d_%d", i, w), App: wp.AppID(), Name: "推广员"}})
			if err != nil {
				b.Fatal(err)
			}
		}
		r.Clock.Advance(8 * 24 * time.Hour)
		for {
			rep, err := r.Engine.Commerce.RunDue(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if rep.Completed == 0 {
				break
			}
		}
		b.StartTimer()
		n, err := r.Engine.Promoter.RunDue(ctx)
		if err != nil || n != len(r.Promoters) {
			b.Fatalf("RunDue: %d payouts, %v", n, err)
		}
		for _, p := range r.Promoters {
			st, err := r.Engine.Promoter.PayoutStatement(ctx, promoter.PayoutParams{MerchantID: r.Shop.Merchant.ID, Promoter: p.ID})
			if err != nil || st.Open == nil {
				b.Fatalf("promoter %s: no payout: %v", p.ID, err)
			}
			note, err := wp.ConfirmTransfer(st.Open.BillNo)
			if err != nil {
				b.Fatal(err)
			}
			got, err := client.ParseNotification(ctx, note.Request())
			if err != nil {
				b.Fatal(err)
			}
			if _, err := r.Engine.Payments.ApplyNotification(ctx, "wechatpay", got); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		var paid commerce.Money
		for _, p := range r.Promoters {
			st, err := r.Engine.Promoter.PayoutStatement(ctx, promoter.PayoutParams{MerchantID: r.Shop.Merchant.ID, Promoter: p.ID})
			if err != nil || !st.Owed.IsZero() || st.Open != nil {
				b.Fatalf("promoter %s: owed %v, open %v: %v", p.ID, st.Owed, st.Open, err)
			}
			if paid.IsSet() {
				paid, _ = paid.Add(st.Paid)
			} else {
				paid = st.Paid
			}
		}
		if want := commerce.FromMinor(int64(commissions)*720, paid.Currency()); !paid.Equal(want) {
			b.Fatalf("paid %s, want %s", paid, want)
		}
	}
	total := float64(b.N * commissions)
	b.ReportMetric(total/b.Elapsed().Seconds(), "commissions/s")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/total, "µs/commission")
}
