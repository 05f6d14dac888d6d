package promoter_test

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/text/currency"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/promoter"
	"github.com/minishop/minishop/storage/memory"
)

// Attribution: a checkout through a promoter's link earns commission on
// the lines in a plan, on what they paid.
func ExampleService_CheckoutHook() {
	ctx := context.Background()
	engine, _ := minishop.New(memory.New(), minishop.WithClock(commercetest.NewClock(commercetest.Epoch)))
	m, _ := engine.Commerce.CreateMerchant(ctx, commerce.MerchantParams{Currency: "CNY", Profile: commerce.ShopProfile{Name: "茶"}})
	tea, _ := engine.Commerce.CreateProduct(ctx, commerce.ProductParams{MerchantID: m.ID, Title: "Longjing", Category: "tea",
		State: commerce.Listed, SKUs: []commerce.SKUParams{{Price: commercetest.CNY("88.80"), Stock: 10}}})
	_, _ = engine.Promoter.SetPlan(ctx, promoter.PlanParams{MerchantID: m.ID, ProductID: tea.ID, Kind: promoter.Public, Rate: commerce.MustPercent(15)})
	lily, _ := engine.Promoter.CreatePromoter(ctx, "Lily")
	link, _ := engine.Promoter.ShareToken(promoter.ShareParams{MerchantID: m.ID, PromoterID: lily.ID, Product: tea.ID, Scene: promoter.SceneGroup})

	o, err := engine.Commerce.Checkout(ctx, commerce.CheckoutParams{MerchantID: m.ID, CustomerID: "friend", IdempotencyKey: "k",
		Lines: []commerce.LineItem{{SKU: tea.SKUs[0].ID, Quantity: 1}}, ShippingAddress: commercetest.Address(),
		Extensions: commerce.With(promoter.Link(link))})
	if err != nil {
		panic(err)
	}
	_, _ = engine.Commerce.MarkPaid(ctx, commerce.MarkPaidParams{MerchantID: m.ID, OrderID: o.ID, PaymentRef: "p", Amount: o.Total})
	cs, _ := engine.Promoter.OrderCommissions(ctx, m.ID, o.ID)
	fmt.Println(cs[0].Scene, cs[0].Amount, cs[0].Status)
	// Output: group CNY 13.32 pending
}

// Settlement: when the after-sales window closes the commission settles,
// and the promoter's statement shows it.
func ExampleService_PromoterStatement() {
	ctx := context.Background()
	clock := commercetest.NewClock(commercetest.Epoch)
	engine, _ := minishop.New(memory.New(), minishop.WithClock(clock))
	m, _ := engine.Commerce.CreateMerchant(ctx, commerce.MerchantParams{Currency: "CNY", Profile: commerce.ShopProfile{Name: "茶"}})
	tea, _ := engine.Commerce.CreateProduct(ctx, commerce.ProductParams{MerchantID: m.ID, Title: "Longjing", Category: "tea",
		State: commerce.Listed, SKUs: []commerce.SKUParams{{Price: commercetest.CNY("100"), Stock: 10}}})
	_, _ = engine.Promoter.SetPlan(ctx, promoter.PlanParams{MerchantID: m.ID, ProductID: tea.ID, Kind: promoter.Public, Rate: commerce.MustPercent(10)})
	lily, _ := engine.Promoter.CreatePromoter(ctx, "Lily")
	link, _ := engine.Promoter.ShareToken(promoter.ShareParams{MerchantID: m.ID, PromoterID: lily.ID, Scene: promoter.SceneLive})
	o, _ := engine.Commerce.Checkout(ctx, commerce.CheckoutParams{MerchantID: m.ID, CustomerID: "fan", IdempotencyKey: "k",
		Lines: []commerce.LineItem{{SKU: tea.SKUs[0].ID, Quantity: 3}}, ShippingAddress: commercetest.Address(),
		Extensions: commerce.With(promoter.Link(link))})
	_, _ = engine.Commerce.MarkPaid(ctx, commerce.MarkPaidParams{MerchantID: m.ID, OrderID: o.ID, PaymentRef: "p", Amount: o.Total})
	_, _ = engine.Commerce.Ship(ctx, commerce.ShipParams{MerchantID: m.ID, OrderID: o.ID, Shipment: commerce.Shipment{Carrier: "SF", TrackingNo: "1"}})
	_, _ = engine.Commerce.ConfirmReceipt(ctx, m.ID, o.ID)

	clock.Advance(7*24*time.Hour + time.Second)
	_, _ = engine.RunDue(ctx)
	st, _ := engine.Promoter.PromoterStatement(ctx, lily.ID, currency.CNY, commercetest.Epoch, clock.Now())
	fmt.Println(st.Orders, "order: settled", st.Settled, "payout", st.Payout)
	// Output: 1 order: settled CNY 30.00 payout CNY 30.00
}
