package gifting_test

import (
	"context"
	"fmt"
	"time"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/gifting"
	"github.com/minishop/minishop/storage/memory"
)

// The one-to-one flow: the giver pays, the friend opens the gift without
// seeing the price, switches colour and accepts with an address.
func ExampleService_Accept() {
	ctx := context.Background()
	engine, _ := minishop.New(memory.New(), minishop.WithClock(commercetest.NewClock(commercetest.Epoch)))
	m, _ := engine.Commerce.CreateMerchant(ctx, commerce.MerchantParams{Currency: "CNY", Profile: commerce.ShopProfile{Name: "丝"}})
	scarf, _ := engine.Commerce.CreateProduct(ctx, commerce.ProductParams{MerchantID: m.ID, Title: "Silk scarf", Category: "apparel",
		State: commerce.Listed, SKUs: []commerce.SKUParams{
			{Attributes: []commerce.Attribute{{Name: "colour", Value: "red"}}, Price: commercetest.CNY("199"), Stock: 5},
			{Attributes: []commerce.Attribute{{Name: "colour", Value: "blue"}}, Price: commercetest.CNY("199"), Stock: 5}}})

	g, o, err := engine.Gifting.Send(ctx, gifting.SendParams{MerchantID: m.ID, Giver: "wang", GiverName: "Wang",
		SKU: scarf.SKUs[0].ID, Quantity: 1, Message: "Happy birthday", IdempotencyKey: "k1"})
	if err != nil {
		panic(err)
	}
	// Paid here by hand; with payments wired, the channel's notification does it.
	_, _ = engine.Commerce.MarkPaid(ctx, commerce.MarkPaidParams{MerchantID: m.ID, OrderID: o.ID, PaymentRef: "p1", Amount: o.Total})
	token := engine.Gifting.Token(g)

	v, _ := engine.Gifting.Open(ctx, m.ID, token)
	fmt.Println(v.GiverName, "sends", v.Title, v.Attributes[0].Value, "-", v.Message, "- options:", len(v.Options))
	_ = engine.Gifting.SwitchSKU(ctx, m.ID, token, v.Options[0].SKU)
	_, err = engine.Gifting.Accept(ctx, m.ID, token, "li", *commercetest.Address())
	if err != nil {
		panic(err)
	}
	order, _ := engine.Commerce.GetOrder(ctx, m.ID, o.ID)
	fmt.Println(order.Status, order.Lines[0].Attributes[0].Value, "to", order.ShippingAddress.Name)
	// Output:
	// Wang sends Silk scarf red - Happy birthday - options: 1
	// paid blue to 李雷
}

// A group gift: five scarves for a family chat, first come first served;
// three relatives claim with their own addresses, and at expiry the two
// slots nobody took go back to the giver, to the fen.
func ExampleService_Claim() {
	ctx := context.Background()
	clock := commercetest.NewClock(commercetest.Epoch)
	engine, _ := minishop.New(memory.New(), minishop.WithClock(clock))
	m, _ := engine.Commerce.CreateMerchant(ctx, commerce.MerchantParams{Currency: "CNY", Profile: commerce.ShopProfile{Name: "丝"}})
	scarf, _ := engine.Commerce.CreateProduct(ctx, commerce.ProductParams{MerchantID: m.ID, Title: "Silk scarf", Category: "apparel",
		State: commerce.Listed, SKUs: []commerce.SKUParams{{Price: commercetest.CNY("199"), Stock: 50}}})

	g, o, err := engine.Gifting.Send(ctx, gifting.SendParams{MerchantID: m.ID, Kind: gifting.Group, Group: "family-chat",
		Giver: "wang", SKU: scarf.SKUs[0].ID, Quantity: 5, Message: "新年快乐", IdempotencyKey: "k1"})
	if err != nil {
		panic(err)
	}
	_, _ = engine.Commerce.MarkPaid(ctx, commerce.MarkPaidParams{MerchantID: m.ID, OrderID: o.ID, PaymentRef: "p1", Amount: o.Total})
	token := engine.Gifting.Token(g) // shared into the chat group
	for _, who := range []commerce.CustomerID{"aunt", "cousin", "uncle"} {
		slot, err := engine.Gifting.Claim(ctx, gifting.ClaimParams{MerchantID: m.ID, Token: token, Claimer: who, Address: *commercetest.Address()})
		if err != nil {
			panic(err)
		}
		fmt.Println(who, "took slot", slot.Line)
	}
	clock.Advance(25 * time.Hour)
	_, _ = engine.RunDue(ctx)
	order, _ := engine.Commerce.GetOrder(ctx, m.ID, o.ID)
	fmt.Println(order.Status, "- paid", order.Total, "- refunded", order.Refunded())
	// Output:
	// aunt took slot 0
	// cousin took slot 1
	// uncle took slot 2
	// paid - paid CNY 995.00 - refunded CNY 398.00
}
