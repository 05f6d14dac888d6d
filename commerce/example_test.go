package commerce_test

import (
	"context"
	"fmt"

	"golang.org/x/text/currency"
	"golang.org/x/text/language"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/storage/memory"
)

func ExampleParseMoney() {
	for _, s := range []string{"12.3", "CNY 12.30", "12.30 cny", "12.345", "USD 1"} {
		m, err := commerce.ParseMoney(s, currency.CNY)
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Println(m)
	}
	// With no currency given, the code in the input decides.
	m, _ := commerce.ParseMoney("JPY 1500", currency.Unit{})
	fmt.Println(m, m.Currency())
	// Output:
	// CNY 12.30
	// CNY 12.30
	// CNY 12.30
	// error: commerce.parse_money: money: "12.345": more than 2 decimal places for CNY
	// error: commerce.parse_money: money: "USD 1": currency USD, want CNY
	// JPY 1500 JPY
}

func ExampleAllocate() {
	// 100.00 in three equal parts: the spare fen goes to the first part.
	parts, _ := commerce.Allocate(commerce.MustParseMoney("100.00", currency.CNY), []int64{1, 1, 1})
	fmt.Println(parts)

	// A 10.00 discount over lines costing 36.90, 6.93 and 100.00, weighted
	// by their totals in fen: the parts add up to 10.00 exactly.
	parts, _ = commerce.Allocate(commerce.MustParseMoney("10.00", currency.CNY), []int64{3690, 693, 10000})
	fmt.Println(parts)
	sum, _ := commerce.Sum(currency.CNY, parts...)
	fmt.Println(sum)
	// Output:
	// [CNY 33.34 CNY 33.33 CNY 33.33]
	// [CNY 2.57 CNY 0.48 CNY 6.95]
	// CNY 10.00
}

func ExampleMoney_Format() {
	m := commerce.MustParseMoney("1234.5", currency.CNY)
	fmt.Println(m.Format(language.SimplifiedChinese))
	fmt.Println(m.Format(language.English))
	fmt.Println(m.Format(language.German))
	fmt.Println(m.Neg().Format(language.Chinese))
	fmt.Println(commerce.FromMinor(1500, currency.JPY).Format(language.Japanese))
	// Output:
	// ¥1,234.50
	// CN¥1,234.50
	// CN¥1.234,50
	// -¥1,234.50
	// ￥1,500
}

func ExampleService_Checkout() {
	ctx := context.Background()
	svc, err := commerce.New(commerce.Config{
		Store: memory.New(),
		Clock: commercetest.NewClock(commercetest.Epoch),
		IDs:   &commercetest.SeqIDs{},
	})
	if err != nil {
		panic(err)
	}
	shop, err := svc.CreateMerchant(ctx, commerce.MerchantParams{
		Currency: "CNY",
		Profile:  commerce.ShopProfile{Name: "茶铺"},
		Shipping: commerce.ShippingRule{
			Flat:     commerce.MustParseMoney("8.00", currency.CNY),
			FreeOver: commerce.MustParseMoney("99.00", currency.CNY),
		},
	})
	if err != nil {
		panic(err)
	}
	tea, err := svc.CreateProduct(ctx, commerce.ProductParams{
		MerchantID: shop.ID, Title: "Longjing tea", State: commerce.Listed,
		SKUs: []commerce.SKUParams{{Price: commerce.MustParseMoney("12.30", currency.CNY), Stock: 100}},
	})
	if err != nil {
		panic(err)
	}
	sku := tea.SKUs[0].ID

	if _, err := svc.AddToCart(ctx, commerce.CartParams{MerchantID: shop.ID, CustomerID: "wx-openid-1", SKU: sku, Quantity: 3}); err != nil {
		panic(err)
	}
	q, err := svc.Quote(ctx, commerce.QuoteParams{MerchantID: shop.ID, CustomerID: "wx-openid-1", FromCart: true})
	if err != nil {
		panic(err)
	}
	zh := language.SimplifiedChinese
	for _, l := range q.Lines {
		fmt.Printf("%s × %d at %s: %s\n", l.Title, l.Quantity, l.UnitPrice.Format(zh), l.Total.Format(zh))
	}
	fmt.Println("shipping:", q.Shipping.Format(zh))
	fmt.Println("total:", q.Total.Format(zh))

	o, err := svc.Checkout(ctx, commerce.CheckoutParams{FromCart: true,
		MerchantID: shop.ID, CustomerID: "wx-openid-1",
		IdempotencyKey: "checkout-1",
		ExpectedTotal:  q.Total, // fail if the price changed since the quote
		ShippingAddress: &commerce.Address{Name: "李雷", Phone: "13800000000",
			City: "深圳市", Detail: "科技园路 1 号"},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("order:", o.Status, o.Total.Format(zh))

	o, err = svc.MarkPaid(ctx, commerce.MarkPaidParams{MerchantID: shop.ID, OrderID: o.ID,
		PaymentRef: "4200001234", Amount: o.Total})
	if err != nil {
		panic(err)
	}
	fmt.Printf("order: %s, %s at %s\n", o.Status, o.Paid.Format(zh), o.PaidAt.Format("2006-01-02 15:04 MST"))

	p, _ := svc.GetProduct(ctx, shop.ID, tea.ID)
	fmt.Println("stock left:", p.SKUs[0].Stock)
	// Output:
	// Longjing tea × 3 at ¥12.30: ¥36.90
	// shipping: ¥8.00
	// total: ¥44.90
	// order: pending_payment ¥44.90
	// order: paid, ¥44.90 at 2026-01-01 02:00 UTC
	// stock left: 97
}
