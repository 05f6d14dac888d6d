package promoter_test

import (
	"context"
	"fmt"
	"time"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/wechatpay"
	"github.com/minishop/minishop/payment/wechatpay/wechatpaytest"
	"github.com/minishop/minishop/promoter"
	"github.com/minishop/minishop/storage/memory"
)

// A payout by transfer: settled commission goes to the promoter's WeChat
// balance in one bill, which the promoter accepts in the Mini Program with
// the parameters the payout returns; the notification marks it paid, and
// the same commission is never paid again.
func ExampleService_Payout() {
	ctx := context.Background()
	clock := commercetest.NewClock(commercetest.Epoch)
	platform, _ := wechatpaytest.NewPlatform(wechatpaytest.Options{Now: clock.Now})
	defer platform.Close()
	cfg := platform.Config("")
	cfg.Now = clock.Now
	wp, _ := wechatpay.New(cfg)
	engine, _ := minishop.New(memory.New(), minishop.WithClock(clock),
		minishop.WithPromoter(func(c *promoter.Config) { c.Payouts = promoter.PayoutConfig{Transferer: wp} }))
	m, _ := engine.Commerce.CreateMerchant(ctx, commerce.MerchantParams{Currency: "CNY", Profile: commerce.ShopProfile{Name: "茶"}})
	tea, _ := engine.Commerce.CreateProduct(ctx, commerce.ProductParams{MerchantID: m.ID, Title: "Longjing", Category: "tea",
		State: commerce.Listed, SKUs: []commerce.SKUParams{{Price: commercetest.CNY("100"), Stock: 10}}})
	_, _ = engine.Promoter.SetPlan(ctx, promoter.PlanParams{MerchantID: m.ID, ProductID: tea.ID, Kind: promoter.Public, Rate: commerce.MustPercent(10)})
	lily, _ := engine.Promoter.CreatePromoter(ctx, "Lily")
	_, _ = engine.Promoter.SetPromoterPayees(ctx, lily.ID, []payment.Payee{{Kind: payment.PayeePerson, Account: "oLily_openid", App: platform.AppID()}})
	link, _ := engine.Promoter.ShareToken(promoter.ShareParams{MerchantID: m.ID, PromoterID: lily.ID, Scene: promoter.SceneGroup})
	o, _ := engine.Commerce.Checkout(ctx, commerce.CheckoutParams{MerchantID: m.ID, CustomerID: "fan", IdempotencyKey: "k",
		Lines: []commerce.LineItem{{SKU: tea.SKUs[0].ID, Quantity: 2}}, ShippingAddress: commercetest.Address(),
		Extensions: commerce.With(promoter.Link(link))})
	_, _ = engine.Commerce.MarkPaid(ctx, commerce.MarkPaidParams{MerchantID: m.ID, OrderID: o.ID, PaymentRef: "p", Amount: o.Total})
	_, _ = engine.Commerce.Ship(ctx, commerce.ShipParams{MerchantID: m.ID, OrderID: o.ID, Shipment: commerce.Shipment{Carrier: "SF", TrackingNo: "1"}})
	_, _ = engine.Commerce.ConfirmReceipt(ctx, m.ID, o.ID)
	clock.Advance(7*24*time.Hour + time.Second)
	_, _ = engine.RunDue(ctx) // settles the commission

	po, err := engine.Promoter.Payout(ctx, promoter.PayoutParams{MerchantID: m.ID, Promoter: lily.ID})
	if err != nil {
		panic(err)
	}
	fmt.Println("bill of", po.Amount, po.State, "- the Mini Program calls wx.requestMerchantTransfer with package set:", po.ClientParams["package"] != "")
	n, _ := platform.ConfirmTransfer(po.BillNo) // Lily accepts it
	note, _ := wp.ParseNotification(ctx, n.Request())
	_, _ = engine.Payments.ApplyNotification(ctx, "wechatpay", note)
	st, _ := engine.Promoter.PayoutStatement(ctx, promoter.PayoutParams{MerchantID: m.ID, Promoter: lily.ID})
	fmt.Println("paid", st.Paid, "owed", st.Owed)
	_, err = engine.Promoter.Payout(ctx, promoter.PayoutParams{MerchantID: m.ID, Promoter: lily.ID})
	fmt.Println("again:", err != nil)
	// Output:
	// bill of CNY 20.00 waiting - the Mini Program calls wx.requestMerchantTransfer with package set: true
	// paid CNY 20.00 owed CNY 0.00
	// again: true
}
