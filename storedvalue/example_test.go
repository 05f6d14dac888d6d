package storedvalue_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/storage/memory"
	"github.com/minishop/minishop/storedvalue"
)

// A customer tops up 100.00 under a 充100送20 plan, then pays part of an
// order from the balance; the refund of that order returns the balance's
// part to the balance, as principal and bonus in the proportion spent.
func ExamplePay() {
	ctx := context.Background()
	engine, err := minishop.New(memory.New(), minishop.WithClock(commercetest.NewClock(commercetest.Epoch)), minishop.WithIDs(&commercetest.SeqIDs{}))
	if err != nil {
		panic(err)
	}
	c := engine.Commerce
	m, _ := c.CreateMerchant(ctx, commerce.MerchantParams{Currency: "CNY", Profile: commerce.ShopProfile{Name: "茶"}})
	card, _ := c.CreateProduct(ctx, commerce.ProductParams{MerchantID: m.ID, Title: "储值 100", Category: storedvalue.Category,
		State: commerce.Listed, SKUs: []commerce.SKUParams{{Price: commercetest.CNY("100.00"), Stock: 1000}}})
	tea, _ := c.CreateProduct(ctx, commerce.ProductParams{MerchantID: m.ID, Title: "Longjing tea", Category: "food",
		State: commerce.Listed, SKUs: []commerce.SKUParams{{Price: commercetest.CNY("60.00"), Stock: 10}}})
	if err := engine.StoredValue.SetTopUpPlan(ctx, storedvalue.TopUpPlan{MerchantID: m.ID, SKU: card.SKUs[0].ID, Bonus: commercetest.CNY("20.00")}); err != nil {
		panic(err)
	}
	balance := func() {
		a, _ := engine.StoredValue.Account(ctx, m.ID, "amy")
		fmt.Printf("  balance %s (principal %s, bonus %s)\n", a.Balance(), a.Principal, a.Bonus)
	}

	// The top-up is an order like any other, paid through the channel
	// (here by hand: without a payment service, MarkPaid).
	top, err := c.Checkout(ctx, commerce.CheckoutParams{MerchantID: m.ID, CustomerID: "amy", IdempotencyKey: "t1", ShippingAddress: commercetest.Address(),
		Lines: []commerce.LineItem{{SKU: card.SKUs[0].ID, Quantity: 1}}})
	if err != nil {
		panic(err)
	}
	if _, err := c.MarkPaid(ctx, commerce.MarkPaidParams{MerchantID: m.ID, OrderID: top.ID, PaymentRef: "wx-1", Amount: top.Due()}); err != nil {
		panic(err)
	}
	fmt.Println("topped up 100.00:")
	balance()

	o, err := c.Checkout(ctx, commerce.CheckoutParams{MerchantID: m.ID, CustomerID: "amy", IdempotencyKey: "o1",
		Lines: []commerce.LineItem{{SKU: tea.SKUs[0].ID, Quantity: 1}}, ShippingAddress: commercetest.Address(),
		Extensions: commerce.With(storedvalue.Pay(storedvalue.FromBalance(commercetest.CNY("50.00"))))})
	if err != nil {
		panic(err)
	}
	fmt.Printf("tea for %s, %s from the balance, %s through WeChat Pay:\n", o.Total, o.Tenders[0].Amount, o.Due())
	balance()
	if _, err := c.MarkPaid(ctx, commerce.MarkPaidParams{MerchantID: m.ID, OrderID: o.ID, PaymentRef: "wx-2", Amount: o.Due()}); err != nil {
		panic(err)
	}

	r, err := c.Refund(ctx, commerce.RefundParams{MerchantID: m.ID, OrderID: o.ID, All: true, IdempotencyKey: "r1"})
	if err != nil {
		panic(err)
	}
	fmt.Printf("refunded %s: %s to the balance, %s through the channel:\n", r.Amount, r.Tenders[0], r.Channel())
	balance()

	_, err = c.Checkout(ctx, commerce.CheckoutParams{MerchantID: m.ID, CustomerID: "amy", IdempotencyKey: "o2",
		Lines: []commerce.LineItem{{SKU: tea.SKUs[0].ID, Quantity: 3}}, ShippingAddress: commercetest.Address(),
		Extensions: commerce.With(storedvalue.Pay(storedvalue.FromBalance(commercetest.CNY("150.00"))))})
	fmt.Println(err)
	// Output:
	// topped up 100.00:
	//   balance CNY 120.00 (principal CNY 100.00, bonus CNY 20.00)
	// tea for CNY 60.00, CNY 50.00 from the balance, CNY 10.00 through WeChat Pay:
	//   balance CNY 70.00 (principal CNY 58.33, bonus CNY 11.67)
	// refunded CNY 60.00: CNY 50.00 to the balance, CNY 10.00 through the channel:
	//   balance CNY 120.00 (principal CNY 100.00, bonus CNY 20.00)
	// storedvalue.checkout: extensions.storedvalue[0]: the balance is too low: spend CNY 150.00, the balance is CNY 120.00
}

// An e-card bought in the shop is sent to a friend, who accepts it into
// his wallet once and redeems it into his balance.
func ExampleService_SendCard() {
	ctx := context.Background()
	engine, err := minishop.New(memory.New(), minishop.WithClock(commercetest.NewClock(commercetest.Epoch)), minishop.WithIDs(&commercetest.SeqIDs{}),
		minishop.WithStoredValue(func(c *storedvalue.Config) { c.Secret = []byte("keep this secret across restarts") }))
	if err != nil {
		panic(err)
	}
	c, sv := engine.Commerce, engine.StoredValue
	m, _ := c.CreateMerchant(ctx, commerce.MerchantParams{Currency: "CNY", Profile: commerce.ShopProfile{Name: "茶"}})
	ecard, _ := c.CreateProduct(ctx, commerce.ProductParams{MerchantID: m.ID, Title: "礼品卡 200", Category: storedvalue.CardCategory,
		State: commerce.Listed, SKUs: []commerce.SKUParams{{Price: commercetest.CNY("200.00"), Stock: 100}}})
	if _, err := sv.CreateCardBatch(ctx, storedvalue.CardBatchParams{MerchantID: m.ID, Title: "礼品卡", Kind: storedvalue.CardElectronic,
		Face: commercetest.CNY("200.00"), SKU: ecard.SKUs[0].ID}); err != nil {
		panic(err)
	}
	o, err := c.Checkout(ctx, commerce.CheckoutParams{MerchantID: m.ID, CustomerID: "amy", IdempotencyKey: "c1", ShippingAddress: commercetest.Address(),
		Lines: []commerce.LineItem{{SKU: ecard.SKUs[0].ID, Quantity: 1}}})
	if err != nil {
		panic(err)
	}
	if _, err := c.MarkPaid(ctx, commerce.MarkPaidParams{MerchantID: m.ID, OrderID: o.ID, PaymentRef: "wx-1", Amount: o.Due()}); err != nil {
		panic(err)
	}
	cards, _ := sv.OrderCards(ctx, m.ID, o.ID)
	fmt.Println("bought:", cards[0].Balance, "held by", cards[0].Holder)

	token, err := sv.SendCard(ctx, m.ID, "amy", cards[0].Number, "生日快乐")
	if err != nil {
		panic(err)
	}
	got, err := sv.AcceptCard(ctx, m.ID, "bob", token)
	if err != nil {
		panic(err)
	}
	fmt.Println("accepted: held by", got.Holder)
	_, err = sv.AcceptCard(ctx, m.ID, "cat", token)
	fmt.Println("again:", errors.Is(err, storedvalue.ErrCardUnusable))

	a, err := sv.RedeemCard(ctx, storedvalue.RedeemParams{MerchantID: m.ID, Customer: "bob", Number: cards[0].Number})
	if err != nil {
		panic(err)
	}
	fmt.Println("bob's balance:", a.Balance())
	// Output:
	// bought: CNY 200.00 held by amy
	// accepted: held by bob
	// again: true
	// bob's balance: CNY 200.00
}
