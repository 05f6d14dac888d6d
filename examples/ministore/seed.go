package main

import (
	"context"
	"time"

	"golang.org/x/text/currency"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/campaigns"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/coupons"
	"github.com/minishop/minishop/membership"
	"github.com/minishop/minishop/promoter"
)

// demo is what the pages boot from (GET /demo.json): the shop and what
// it runs.
type demo struct {
	Merchant      string `json:"merchant"`
	Name          string `json:"name"`
	CouponBatch   string `json:"coupon_batch"`
	GroupActivity string `json:"group_activity"`
	Promoter      string `json:"promoter"`
	// OperatorToken is the console's bearer token (a demo has one
	// operator; a real console signs its staff in).
	OperatorToken string `json:"operator_token"`

	merchant commerce.MerchantID
	promoter promoter.PromoterID
	// skus is every SKU with its stock at seeding, for the load test's
	// invariants.
	skus map[commerce.SKUID]int64
}

// seed opens a new demo shop: each start has its own, so a run's figures
// and invariants are about its own orders.
func seed(ctx context.Context, e *minishop.Engine) (demo, error) {
	cny := func(s string) commerce.Money { return commerce.MustParseMoney(s, currency.CNY) }
	m, err := e.Commerce.CreateMerchant(ctx, commerce.MerchantParams{Currency: "CNY",
		Profile: commerce.ShopProfile{Name: "西湖茶舍", Introduction: "明前龙井、白茶与茶器", Contact: "400-800-1234"}})
	if err != nil {
		return demo{}, err
	}
	d := demo{Merchant: m.ID.String(), Name: m.Profile.Name, merchant: m.ID, skus: map[commerce.SKUID]int64{}}
	sku := func(price string, stock int64, attrs ...string) commerce.SKUParams {
		p := commerce.SKUParams{Price: cny(price), Stock: stock}
		for i := 0; i+1 < len(attrs); i += 2 {
			p.Attributes = append(p.Attributes, commerce.Attribute{Name: attrs[i], Value: attrs[i+1]})
		}
		return p
	}
	var products []*commerce.Product
	for _, p := range []commerce.ProductParams{
		{Title: "西湖龙井 明前特级", Category: "tea", Description: "狮峰山头采，手工炒制", SKUs: []commerce.SKUParams{sku("139.00", 500, "规格", "100 g"), sku("299.00", 200, "规格", "250 g")}},
		{Title: "福鼎白茶饼 2019", Category: "tea", Description: "寿眉压饼，357 g", SKUs: []commerce.SKUParams{sku("88.00", 800)}},
		{Title: "青瓷品茗杯", Category: "teaware", Description: "龙泉青瓷，80 ml", SKUs: []commerce.SKUParams{sku("45.00", 2000, "釉色", "梅子青"), sku("45.00", 2000, "釉色", "粉青")}},
		{Title: "紫砂石瓢壶", Category: "teaware", Description: "原矿朱泥，220 ml", SKUs: []commerce.SKUParams{sku("368.00", 100)}},
	} {
		p.MerchantID, p.State = m.ID, commerce.Listed
		prod, err := e.Commerce.CreateProduct(ctx, p)
		if err != nil {
			return demo{}, err
		}
		products = append(products, prod)
		for _, s := range prod.SKUs {
			d.skus[s.ID] = s.Stock
		}
	}
	b, err := e.Coupons.CreateBatch(ctx, coupons.BatchParams{MerchantID: m.ID, Name: "满100减15", Kind: coupons.ThresholdOff,
		Amount: cny("15.00"), MinAmount: cny("100.00"), Total: 100000, PerPerson: 1, Validity: coupons.Validity{Days: 30},
		Shareable: true, Transferable: true, Activate: true})
	if err != nil {
		return demo{}, err
	}
	d.CouponBatch = b.ID.String()
	if _, err := e.Membership.SetProgram(ctx, membership.Program{MerchantID: m.ID, AutoJoin: true,
		Earn: membership.PointsPer{Points: 1, Per: cny("1.00")}, Experience: membership.PointsPer{Points: 1, Per: cny("1.00")},
		Tiers: []membership.Tier{{Level: 1, Name: "茶友"}, {Level: 2, Name: "茶客", MinExperience: 500, Discount: commerce.MustPercent(5)}}}); err != nil {
		return demo{}, err
	}
	now := time.Now()
	cup := products[2].SKUs[0].ID
	a, err := e.Campaigns.CreateGroupActivity(ctx, campaigns.GroupActivityParams{MerchantID: m.ID, Title: "青瓷杯两人团", Size: 2,
		TimeLimit: campaigns.DefaultGroupTimeLimit, Window: campaigns.Window{Start: now.Add(-time.Hour), End: now.Add(30 * 24 * time.Hour)},
		Items: []campaigns.GroupItem{{SKU: cup, GroupPrice: cny("35.00"), LeaderPrice: cny("32.00")}}})
	if err != nil {
		return demo{}, err
	}
	d.GroupActivity = a.ID.String()
	lily, err := e.Promoter.CreatePromoter(ctx, "Lily 的茶话会")
	if err != nil {
		return demo{}, err
	}
	if err := e.Promoter.AcceptInvite(ctx, m.ID, e.Promoter.Invite(m.ID), lily.ID); err != nil {
		return demo{}, err
	}
	if _, err := e.Promoter.SetPlan(ctx, promoter.PlanParams{MerchantID: m.ID, ProductID: products[0].ID, Kind: promoter.Public,
		Rate: commerce.MustPercent(10)}); err != nil {
		return demo{}, err
	}
	d.promoter, d.Promoter = lily.ID, lily.ID.String()
	return d, nil
}
