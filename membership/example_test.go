package membership_test

import (
	"context"
	"fmt"
	"time"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/membership"
	"github.com/minishop/minishop/storage/memory"
)

func setup(ctx context.Context) (*minishop.Engine, *commercetest.Clock, commerce.MerchantID, commerce.SKUID) {
	clock := commercetest.NewClock(commercetest.Epoch)
	engine, err := minishop.New(memory.New(), minishop.WithClock(clock))
	if err != nil {
		panic(err)
	}
	m, _ := engine.Commerce.CreateMerchant(ctx, commerce.MerchantParams{Currency: "CNY", Profile: commerce.ShopProfile{Name: "茶"}})
	p, _ := engine.Commerce.CreateProduct(ctx, commerce.ProductParams{MerchantID: m.ID, Title: "tea", State: commerce.Listed,
		SKUs: []commerce.SKUParams{{Price: commercetest.CNY("100.00"), Stock: 10}}})
	_, err = engine.Membership.SetProgram(ctx, membership.Program{MerchantID: m.ID, AutoJoin: true,
		Tiers:    []membership.Tier{{Level: 1, Name: "VIP1"}},
		Earn:     membership.PointsPer{Points: 1, Per: commercetest.CNY("1.00")}, // a point per yuan paid
		Redeem:   membership.PointsPer{Points: 1, Per: commercetest.CNY("0.01")}, // a point pays a fen
		MaxShare: commerce.MustPercent(50),
		Expiry:   membership.Expiry{Kind: membership.AfterDays, Days: 365}})
	if err != nil {
		panic(err)
	}
	return engine, clock, m.ID, p.SKUs[0].ID
}

// Points earned by an order wait until it settles: received, then the
// after-sales window closes.
func ExampleService_OrderHook_earning() {
	ctx := context.Background()
	engine, clock, m, sku := setup(ctx)
	o, _ := engine.Commerce.Checkout(ctx, commerce.CheckoutParams{MerchantID: m, CustomerID: "alice", IdempotencyKey: "k1",
		ShippingAddress: commercetest.Address(), Lines: []commerce.LineItem{{SKU: sku, Quantity: 2}}})
	_, _ = engine.Commerce.MarkPaid(ctx, commerce.MarkPaidParams{MerchantID: m, OrderID: o.ID, PaymentRef: "p1", Amount: o.Total})
	card, _ := engine.Membership.Card(ctx, m, "alice")
	fmt.Println("paid:", card.Available, "available,", card.Pending, "pending")
	_, _ = engine.Commerce.Ship(ctx, commerce.ShipParams{MerchantID: m, OrderID: o.ID})
	_, _ = engine.Commerce.ConfirmReceipt(ctx, m, o.ID)
	clock.Advance(8 * 24 * time.Hour)
	_, _ = engine.RunDue(ctx)
	card, _ = engine.Membership.Card(ctx, m, "alice")
	fmt.Println("settled:", card.Available, "available,", card.Pending, "pending")
	// Output:
	// paid: 0 available, 200 pending
	// settled: 200 available, 0 pending
}

// Points pay part of an order: the deduction is split across the lines
// and stored with the order; a refund brings the points back.
func ExampleSpendPoints() {
	ctx := context.Background()
	engine, _, m, sku := setup(ctx)
	_, _ = engine.Membership.Join(ctx, m, "alice")
	_, _ = engine.Membership.Adjust(ctx, membership.AdjustParams{MerchantID: m, Customer: "alice", Points: 3000, RequestID: "welcome"})
	o, err := engine.Commerce.Checkout(ctx, commerce.CheckoutParams{MerchantID: m, CustomerID: "alice", IdempotencyKey: "k1",
		ShippingAddress: commercetest.Address(), Lines: []commerce.LineItem{{SKU: sku, Quantity: 1}},
		Extensions: commerce.With(membership.SpendPoints(2500))})
	if err != nil {
		panic(err)
	}
	card, _ := engine.Membership.Card(ctx, m, "alice")
	fmt.Println(o.Adjustments[0].Label, "pay", o.Adjustments[0].Amount, "- to pay", o.Total, "- left", card.Available)
	_, _ = engine.Commerce.Cancel(ctx, m, o.ID, "")
	card, _ = engine.Membership.Card(ctx, m, "alice")
	fmt.Println("cancelled: back to", card.Available)
	// Output:
	// 2500 points pay CNY 25.00 - to pay CNY 75.00 - left 500
	// cancelled: back to 3000
}
