package campaigns_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/text/currency"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/campaigns"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/storage/memory"
)

// Cut spreads what is left to cut over the helps to come: early helps cut
// most, every help cuts at least a fen, and the last one takes exactly
// what is left, so the cuts always sum to the remaining amount.
func ExampleCut() {
	remaining, helpers := int64(200_00), 5 // 268.00 down to 68.00, in fen
	var sum int64
	for k := range helpers {
		c := campaigns.Cut(remaining-sum, helpers-k)
		sum += c
		fmt.Printf("help %d cuts %s\n", k+1, commerce.FromMinor(c, currency.CNY))
	}
	fmt.Println("cut in all:", commerce.FromMinor(sum, currency.CNY))
	// A bargain with more helpers than fen to cut still cuts a fen each.
	fmt.Println(campaigns.Cut(3, 3), campaigns.Cut(2, 2), campaigns.Cut(1, 1))
	// Output:
	// help 1 cuts CNY 66.66
	// help 2 cuts CNY 53.33
	// help 3 cuts CNY 40.00
	// help 4 cuts CNY 26.67
	// help 5 cuts CNY 13.34
	// cut in all: CNY 200.00
	// 1 1 1
}

// shop opens a shop on the memory store, on a stopped clock and with
// sequential ids, selling tea at 100.00.
func shop(ctx context.Context) (*minishop.Engine, *commercetest.Clock, commerce.MerchantID, commerce.SKUID) {
	clock := commercetest.NewClock(commercetest.Epoch)
	engine, err := minishop.New(memory.New(), minishop.WithClock(clock), minishop.WithIDs(&commercetest.SeqIDs{}),
		minishop.WithCampaigns(func(c *campaigns.Config) { c.Secret = []byte("keep this secret across restarts") }))
	if err != nil {
		panic(err)
	}
	m, _ := engine.Commerce.CreateMerchant(ctx, commerce.MerchantParams{Currency: "CNY", Profile: commerce.ShopProfile{Name: "茶"}})
	tea, err := engine.Commerce.CreateProduct(ctx, commerce.ProductParams{MerchantID: m.ID, Title: "Longjing tea", Category: "food",
		State: commerce.Listed, SKUs: []commerce.SKUParams{{Price: commercetest.CNY("100.00"), Stock: 10}}})
	if err != nil {
		panic(err)
	}
	return engine, clock, m.ID, tea.SKUs[0].ID
}

// buy checks out one unit for a customer and pays it (by hand here; with
// payments wired, the channel's notification does it).
func buy(ctx context.Context, engine *minishop.Engine, m commerce.MerchantID, who commerce.CustomerID, sku commerce.SKUID, ext commerce.Extension) *commerce.Order {
	o, err := engine.Commerce.Checkout(ctx, commerce.CheckoutParams{MerchantID: m, CustomerID: who, IdempotencyKey: "k-" + string(who),
		Lines: []commerce.LineItem{{SKU: sku, Quantity: 1}}, ShippingAddress: commercetest.Address(), Extensions: commerce.With(ext)})
	if err != nil {
		panic(err)
	}
	if o, err = engine.Commerce.MarkPaid(ctx, commerce.MarkPaidParams{MerchantID: m, OrderID: o.ID, PaymentRef: "pay-" + string(who), Amount: o.Total}); err != nil {
		panic(err)
	}
	return o
}

// A group of three: the leader opens it at the leader's price and shares
// its token; two friends join through it, and the last payment forms the
// group, moving every member's order on from awaiting_group to paid.
func ExampleOpenGroup() {
	ctx := context.Background()
	engine, clock, m, tea := shop(ctx)
	cs := engine.Campaigns
	a, err := cs.CreateGroupActivity(ctx, campaigns.GroupActivityParams{MerchantID: m, Title: "三人团", Size: 3,
		TimeLimit: campaigns.DefaultGroupTimeLimit, Window: campaigns.Window{Start: clock.Now(), End: clock.Now().Add(7 * 24 * time.Hour)},
		Items: []campaigns.GroupItem{{SKU: tea, GroupPrice: commercetest.CNY("80.00"), LeaderPrice: commercetest.CNY("70.00")}}})
	if err != nil {
		panic(err)
	}
	lead := buy(ctx, engine, m, "wang", tea, campaigns.OpenGroup(a.ID, "小王"))
	fmt.Println("leader pays", lead.Total, "-", lead.Status)
	id, _ := commerce.ParseID[campaigns.GroupID](lead.Group.ID)
	g, _ := cs.Group(ctx, m, id)
	token := cs.GroupToken(g) // the share link sent to a chat

	var orders = []*commerce.Order{lead}
	for _, friend := range []commerce.CustomerID{"li", "zhao"} {
		g, err := cs.GroupByToken(ctx, m, token)
		if err != nil {
			panic(err)
		}
		page, _ := cs.GroupPage(ctx, m, g.ID)
		o := buy(ctx, engine, m, friend, g.SKU, campaigns.JoinGroup(g.ID, string(friend)))
		fmt.Println(friend, "sees", page.PlacesLeft, "places left and pays", o.Total)
		orders = append(orders, o)
	}
	g, _ = cs.Group(ctx, m, id)
	fmt.Println("group", g.State)
	for _, o := range orders {
		o, _ = engine.Commerce.GetOrder(ctx, m, o.ID)
		fmt.Println(o.CustomerID, o.Status)
	}
	// Output:
	// leader pays CNY 70.00 - awaiting_group
	// li sees 2 places left and pays CNY 80.00
	// zhao sees 1 places left and pays CNY 80.00
	// group formed
	// wang paid
	// li paid
	// zhao paid
}

// A group that has not formed by its deadline fails when RunDue runs:
// every paid member is refunded in full, once however often it runs, and
// the stock comes back.
func ExampleService_RunDue() {
	ctx := context.Background()
	engine, clock, m, tea := shop(ctx)
	a, _ := engine.Campaigns.CreateGroupActivity(ctx, campaigns.GroupActivityParams{MerchantID: m, Title: "三人团", Size: 3,
		TimeLimit: campaigns.DefaultGroupTimeLimit, Window: campaigns.Window{Start: clock.Now(), End: clock.Now().Add(7 * 24 * time.Hour)},
		Items: []campaigns.GroupItem{{SKU: tea, GroupPrice: commercetest.CNY("80.00"), LeaderPrice: commercetest.CNY("70.00")}}})
	lead := buy(ctx, engine, m, "qian", tea, campaigns.OpenGroup(a.ID, "小钱"))
	id, _ := commerce.ParseID[campaigns.GroupID](lead.Group.ID)
	member := buy(ctx, engine, m, "zhou", tea, campaigns.JoinGroup(id, "小周"))

	clock.Advance(campaigns.DefaultGroupTimeLimit)
	for range 2 {
		rep, _ := engine.RunDue(ctx)
		fmt.Println(rep)
	}
	g, _ := engine.Campaigns.Group(ctx, m, id)
	fmt.Println("group", g.State)
	for _, o := range []*commerce.Order{lead, member} {
		o, _ = engine.Commerce.GetOrder(ctx, m, o.ID)
		fmt.Println(o.CustomerID, o.Status, len(o.Refunds), "refund of", o.Refunded())
	}
	p, _ := engine.Commerce.ProductBySKU(ctx, m, tea)
	fmt.Println("stock", p.SKUs[0].Stock)
	// Output:
	// failed 1 group, refunded 2 group members
	// nothing due
	// group failed
	// qian refunded 1 refund of CNY 70.00
	// zhou refunded 1 refund of CNY 80.00
	// stock 10
}

// A flash sale sets units aside at the sale price; a customer's limit
// holds, and once the units are gone the next buyer is told so.
func ExampleFlash() {
	ctx := context.Background()
	engine, clock, m, tea := shop(ctx)
	sale, err := engine.Campaigns.CreateFlashSale(ctx, campaigns.FlashSaleParams{MerchantID: m, Title: "10点场",
		Window: campaigns.Window{Start: clock.Now(), End: clock.Now().Add(time.Hour)},
		Items:  []campaigns.FlashItem{{SKU: tea, Price: commercetest.CNY("49.00"), Units: 2, PerCustomer: 1}}})
	if err != nil {
		panic(err)
	}
	p, _ := engine.Commerce.ProductBySKU(ctx, m, tea)
	fmt.Println("set aside 2; stock", p.SKUs[0].Stock)
	for _, who := range []commerce.CustomerID{"a", "a", "b", "c"} {
		o, err := engine.Commerce.Checkout(ctx, commerce.CheckoutParams{MerchantID: m, CustomerID: who, IdempotencyKey: fmt.Sprint(clock.Now().UnixNano()),
			Lines: []commerce.LineItem{{SKU: tea, Quantity: 1}}, ShippingAddress: commercetest.Address(), Extensions: commerce.With(campaigns.Flash(sale.ID))})
		clock.Advance(time.Second)
		switch {
		case err == nil:
			fmt.Println(who, "buys at", o.Total)
		case errors.Is(err, campaigns.ErrLimit):
			fmt.Println(who, "is at their limit")
		case errors.Is(err, campaigns.ErrSoldOut):
			fmt.Println(who, "finds it sold out")
		default:
			panic(err)
		}
	}
	// Output:
	// set aside 2; stock 8
	// a buys at CNY 49.00
	// a is at their limit
	// b buys at CNY 49.00
	// c finds it sold out
}

// A bargain: friends help through its share token, each once, and the
// cuts reach the target exactly; the owner buys at the target price.
func ExampleService_Help() {
	ctx := context.Background()
	engine, clock, m, tea := shop(ctx)
	cs := engine.Campaigns
	a, err := cs.CreateBargainActivity(ctx, campaigns.BargainActivityParams{MerchantID: m, Title: "砍价", SKU: tea,
		Target: commercetest.CNY("60.00"), Helpers: 3, TimeLimit: 24 * time.Hour,
		Window: campaigns.Window{Start: clock.Now(), End: clock.Now().Add(7 * 24 * time.Hour)}})
	if err != nil {
		panic(err)
	}
	b, _ := cs.StartBargain(ctx, m, a.ID, "li")
	token := cs.BargainToken(b)
	for _, friend := range []commerce.CustomerID{"f1", "f1", "f2", "f3"} {
		b, err = cs.Help(ctx, m, token, friend)
		if errors.Is(err, campaigns.ErrAlreadyHelped) {
			fmt.Println(friend, "has helped already")
			continue
		}
		fmt.Println(friend, "cuts", b.Helps[len(b.Helps)-1].Cut, "to", b.Price)
	}
	o := buy(ctx, engine, m, "li", tea, campaigns.Buy(b.ID))
	b, _ = cs.Bargain(ctx, m, b.ID)
	fmt.Println("li pays", o.Total, "- bargain", b.State)
	// Output:
	// f1 cuts CNY 20.00 to CNY 80.00
	// f1 has helped already
	// f2 cuts CNY 13.33 to CNY 66.67
	// f3 cuts CNY 6.67 to CNY 60.00
	// li pays CNY 60.00 - bargain bought
}
