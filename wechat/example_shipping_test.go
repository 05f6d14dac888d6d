package wechat_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/fakepay"
	"github.com/minishop/minishop/storage/memory"
	"github.com/minishop/minishop/wechat/wechattest"
)

// An order paid through WeChat Pay ships; the Engine's RunDue uploads its
// shipping info, which WeChat needs before it releases the money.
func ExampleShipping() {
	ctx := context.Background()
	plat, _ := wechattest.NewPlatform(wechattest.Options{})
	defer plat.Close()
	pay := fakepay.New() // stands for WeChat Pay here
	engine, _ := minishop.New(memory.New(), minishop.WithPayments(pay), minishop.WithWeChat(minishop.WeChat{
		MiniProgram: plat.Config(nil), PaymentProviders: []string{pay.Name()}}))

	m, _ := engine.Commerce.CreateMerchant(ctx, commerce.MerchantParams{Currency: "CNY", Profile: commerce.ShopProfile{Name: "茶舍"}})
	tea, _ := engine.Commerce.CreateProduct(ctx, commerce.ProductParams{MerchantID: m.ID, Title: "龙井", State: commerce.Listed,
		SKUs: []commerce.SKUParams{{Price: commerce.MustParseMoney("139.00", m.Currency), Stock: 5}}})
	buyer := plat.NewUser()
	o, _ := engine.Commerce.Checkout(ctx, commerce.CheckoutParams{MerchantID: m.ID, CustomerID: commerce.CustomerID(buyer.OpenID),
		IdempotencyKey: "c1", Lines: []commerce.LineItem{{SKU: tea.SKUs[0].ID, Quantity: 2}},
		ShippingAddress: &commerce.Address{Name: "李雷", Phone: "13800001234", Detail: "龙井路 1 号"}})
	p, _, _ := engine.Payments.Pay(ctx, payment.PayParams{MerchantID: m.ID, OrderID: o.ID, Payer: buyer.OpenID})
	req, _ := pay.Pay(p.PaymentNo)
	engine.Payments.NotificationHandler(pay.Name(), nil).ServeHTTP(httptest.NewRecorder(), req)
	p, _ = engine.Payments.GetPayment(ctx, m.ID, p.ID)
	plat.AddPayment(p.ProviderRef, p.PaymentNo, "1900000109", buyer.OpenID, 27800)

	_, _ = engine.Commerce.Ship(ctx, commerce.ShipParams{MerchantID: m.ID, OrderID: o.ID,
		Shipment: commerce.Shipment{Carrier: "SF", TrackingNo: "SF1234567890"}})
	rep, _ := engine.RunDue(ctx)
	fmt.Println(rep)
	held, _ := plat.ShippingOf(p.ProviderRef)
	fmt.Println(held.List[0].ExpressCompany, held.List[0].TrackingNo, held.List[0].ItemDesc, held.List[0].ReceiverContact, held.Uploads)
	// Output:
	// finished 1 WeChat shipping record
	// SF SF1234567890 龙井 ×2 138****1234 1
}
