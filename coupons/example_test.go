package coupons_test

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/text/language"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/coupons"
	"github.com/minishop/minishop/storage/memory"
)

func shop(ctx context.Context) (*minishop.Engine, *commerce.Merchant, *commerce.Product) {
	engine, err := minishop.New(memory.New(), minishop.WithClock(commercetest.NewClock(commercetest.Epoch)))
	if err != nil {
		panic(err)
	}
	m, err := engine.Commerce.CreateMerchant(ctx, commerce.MerchantParams{Currency: "CNY", Profile: commerce.ShopProfile{Name: "茶坊"}})
	if err != nil {
		panic(err)
	}
	p, err := engine.Commerce.CreateProduct(ctx, commerce.ProductParams{MerchantID: m.ID, Title: "tea", State: commerce.Listed,
		SKUs: []commerce.SKUParams{{Price: commercetest.CNY("60.00"), Stock: 10}}})
	if err != nil {
		panic(err)
	}
	return engine, m, p
}

// A merchant creates a 满减 batch valid 7 days after claiming, 2 per
// person; a customer claims; the same request again returns the same
// coupon; a third claim is over the limit.
func ExampleService_Claim() {
	ctx := context.Background()
	engine, m, _ := shop(ctx)
	b, err := engine.Coupons.CreateBatch(ctx, coupons.BatchParams{MerchantID: m.ID, Name: "满99减15", Kind: coupons.ThresholdOff,
		Amount: commercetest.CNY("15"), MinAmount: commercetest.CNY("99"), Validity: coupons.Validity{Days: 7},
		PerPerson: 2, Total: 1000, Activate: true})
	if err != nil {
		panic(err)
	}
	claim := func(req string) (*coupons.Coupon, error) {
		return engine.Coupons.Claim(ctx, coupons.ClaimParams{MerchantID: m.ID, BatchID: b.ID, Customer: "alice", RequestID: req})
	}
	c1, _ := claim("r1")
	again, _ := claim("r1")
	_, _ = claim("r2")
	_, err = claim("r3")
	fmt.Println("valid until", c1.ValidUntil.Format(time.DateOnly))
	fmt.Println("same request, same coupon:", again.ID == c1.ID)
	fmt.Println("third claim over the limit:", err != nil)
	// Output:
	// valid until 2026-01-08
	// same request, same coupon: true
	// third claim over the limit: true
}

// Without a selection, pricing applies the combination of the customer's
// coupons that saves the most. One tea (60.00) misses the 100 threshold, so
// the exclusive 18 off beats the 5 off the tea; two teas (120.00) take the
// item coupon first, then 20 off over 100 on what is left: 25 off in all,
// more than 18 alone.
func ExampleService_Adjuster() {
	ctx := context.Background()
	engine, m, tea := shop(ctx)
	batch := func(p coupons.BatchParams) *coupons.Batch {
		p.MerchantID, p.Total, p.Validity, p.Activate = m.ID, 100, coupons.Validity{Days: 7}, true
		b, err := engine.Coupons.CreateBatch(ctx, p)
		if err != nil {
			panic(err)
		}
		_, err = engine.Coupons.Claim(ctx, coupons.ClaimParams{MerchantID: m.ID, BatchID: b.ID, Customer: "alice", RequestID: p.Name})
		if err != nil {
			panic(err)
		}
		return b
	}
	batch(coupons.BatchParams{Name: "满100减20", Kind: coupons.ThresholdOff, Amount: commercetest.CNY("20"), MinAmount: commercetest.CNY("100")})
	batch(coupons.BatchParams{Name: "tea 5 off", Kind: coupons.AmountOff, Amount: commercetest.CNY("5"),
		Scope: coupons.Scope{Products: []commerce.ProductID{tea.ID}}})
	batch(coupons.BatchParams{Name: "18 off alone", Kind: coupons.AmountOff, Amount: commercetest.CNY("18"), Exclusive: true})

	for _, qty := range []int64{1, 2} {
		q, err := engine.Commerce.Quote(ctx, commerce.QuoteParams{MerchantID: m.ID, CustomerID: "alice",
			Lines: []commerce.LineItem{{SKU: tea.SKUs[0].ID, Quantity: qty}}})
		if err != nil {
			panic(err)
		}
		fmt.Printf("%d tea (%s):", qty, q.Subtotal.Format(language.Chinese))
		for _, a := range q.Adjustments {
			fmt.Printf(" %s -%s;", a.Label, a.Amount.Format(language.Chinese))
		}
		fmt.Printf(" pay %s\n", q.Total.Format(language.Chinese))
	}
	// Output:
	// 1 tea (¥60.00): 18 off alone -¥18.00; pay ¥42.00
	// 2 tea (¥120.00): tea 5 off -¥5.00; 满100减20 -¥20.00; pay ¥95.00
}
