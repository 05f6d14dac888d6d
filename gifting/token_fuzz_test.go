package gifting_test

import (
	"context"
	"errors"
	"testing"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/gifting"
	"github.com/minishop/minishop/storage/memory"
)

// FuzzOpenToken: a gift's claim token travels in a shared card, and
// anyone can send Open any string. Open must not panic; only the token of
// a gift this merchant sent opens it (the fuzzer, starting from a genuine
// token, cannot make another: 128-bit HMAC over the id), and the view is
// that gift's; a refused token is a KindInvalid ErrBadToken with no view.
// The world (a memory store with one sent gift) is built once per worker;
// a refused token never reaches the store.
func FuzzOpenToken(f *testing.F) {
	ctx := context.Background()
	engine, err := minishop.New(memory.New(), minishop.WithClock(commercetest.NewClock(commercetest.Epoch)),
		minishop.WithGifting(func(c *gifting.Config) { c.Secret = []byte("gift secret") }))
	if err != nil {
		f.Fatal(err)
	}
	m, err := engine.Commerce.CreateMerchant(ctx, commerce.MerchantParams{Currency: "CNY", Profile: commerce.ShopProfile{Name: "丝"}})
	if err != nil {
		f.Fatal(err)
	}
	scarf, err := engine.Commerce.CreateProduct(ctx, commerce.ProductParams{MerchantID: m.ID, Title: "Silk scarf", Category: "apparel",
		State: commerce.Listed, SKUs: []commerce.SKUParams{{Price: commercetest.CNY("199"), Stock: 5}}})
	if err != nil {
		f.Fatal(err)
	}
	g, o, err := engine.Gifting.Send(ctx, gifting.SendParams{MerchantID: m.ID, Giver: "wang", GiverName: "Wang",
		SKU: scarf.SKUs[0].ID, Quantity: 1, Message: "生日快乐", IdempotencyKey: "k1"})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := engine.Commerce.MarkPaid(ctx, commerce.MarkPaidParams{MerchantID: m.ID, OrderID: o.ID, PaymentRef: "p1", Amount: o.Total}); err != nil {
		f.Fatal(err)
	}
	genuine := engine.Gifting.Token(g)
	if engine.Gifting.Token(g) != genuine {
		f.Fatal("a gift's token is not stable")
	}
	f.Add(genuine)
	f.Add(genuine + "=")
	f.Add(genuine[:len(genuine)-1])
	f.Add("")
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("////////////////////////////////////////////")
	f.Fuzz(func(t *testing.T, tok string) {
		v, err := engine.Gifting.Open(ctx, m.ID, tok)
		if err != nil {
			if v != nil || !errors.Is(err, gifting.ErrBadToken) || commerce.KindOf(err) != commerce.KindInvalid {
				t.Fatalf("Open(%q) = %v, %v", tok, v, err)
			}
			if tok == genuine {
				t.Fatalf("the genuine token is refused: %v", err)
			}
			return
		}
		if tok != genuine {
			t.Fatalf("Open accepted %q, which is not the gift's token", tok)
		}
		if v.Gift != g.ID || v.GiverName != "Wang" {
			t.Fatalf("the token opened %+v", v)
		}
	})
}
