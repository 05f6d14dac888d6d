package payment_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"golang.org/x/text/language"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/fakepay"
	"github.com/minishop/minishop/storage/memory"
)

// A customer pays an order through a channel; the channel's notification
// reaches the host's HTTP endpoint and marks the order paid; a partial
// refund goes back through the same channel; the ledger says who gets what.
func ExampleService_Pay() {
	ctx := context.Background()
	channel := fakepay.New()
	engine, err := minishop.New(memory.New(), minishop.WithPayments(channel),
		minishop.WithClock(commercetest.NewClock(commercetest.Epoch)), minishop.WithIDs(&commercetest.SeqIDs{}))
	if err != nil {
		panic(err)
	}
	svc := engine.Commerce
	m, err := svc.CreateMerchant(ctx, commerce.MerchantParams{Currency: "CNY", Profile: commerce.ShopProfile{Name: "茶铺"}})
	if err != nil {
		panic(err)
	}
	tea, err := svc.CreateProduct(ctx, commerce.ProductParams{MerchantID: m.ID, Title: "Longjing tea", Category: "food",
		State: commerce.Listed, SKUs: []commerce.SKUParams{{Price: commercetest.CNY("88.00"), Stock: 10}}})
	if err != nil {
		panic(err)
	}
	order, err := svc.Checkout(ctx, commerce.CheckoutParams{MerchantID: m.ID, CustomerID: "alice",
		IdempotencyKey: "k1", ShippingAddress: commercetest.Address(),
		Lines: []commerce.LineItem{{SKU: tea.SKUs[0].ID, Quantity: 2}}})
	if err != nil {
		panic(err)
	}

	// The client asks to pay; the amount comes from the order.
	pay, prepay, err := engine.Payments.Pay(ctx, payment.PayParams{MerchantID: order.MerchantID, OrderID: order.ID, Payer: "openid-alice"})
	if err != nil {
		panic(err)
	}
	fmt.Println("pay", pay.Amount.Format(language.Chinese), "prepay", prepay.PrepayID != "")

	// The channel notifies the host's endpoint.
	notification, _ := channel.Pay(pay.PaymentNo)
	rec := httptest.NewRecorder()
	engine.Payments.NotificationHandler(channel.Name(), nil).ServeHTTP(rec, notification)
	order, _ = svc.GetOrder(ctx, order.MerchantID, order.ID)
	fmt.Println("notification", rec.Code, "order", order.Status)

	// One of the two units comes back.
	_, err = svc.Refund(ctx, commerce.RefundParams{MerchantID: order.MerchantID, OrderID: order.ID, IdempotencyKey: "r1",
		Items: []commerce.RefundItem{{Line: 0, Quantity: 1}}})
	if err != nil {
		panic(err)
	}
	ledger, _ := engine.Payments.Ledger(ctx, order.MerchantID, order.ID)
	for _, e := range ledger {
		from := "refund"
		if e.Ref == pay.PaymentNo {
			from = "payment"
		}
		fmt.Printf("%-8s %-9s %s\n", from, e.Party, e.Amount.Format(language.Chinese))
	}
	// Output:
	// pay ¥176.00 prepay true
	// notification 204 order paid
	// payment  merchant  ¥173.18
	// payment  channel   ¥1.06
	// payment  platform  ¥1.76
	// refund   merchant  -¥86.59
	// refund   channel   -¥0.53
	// refund   platform  -¥0.88
}
