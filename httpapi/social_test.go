package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/campaigns"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/coupons"
	"github.com/minishop/minishop/httpapi"
	"github.com/minishop/minishop/membership"
	"github.com/minishop/minishop/promoter"
)

// people are the customers of these tests, each with an address of their
// own: no other customer's response may show it.
var people = map[string]*httpapi.Address{
	"amy": {Name: "安小美", Phone: "13800000001", Province: "浙江省", City: "杭州市", District: "西湖区", Detail: "龙井路 1 号"},
	"bo":  {Name: "薄一波", Phone: "13900000002", Province: "上海市", City: "上海市", District: "徐汇区", Detail: "天钥桥路 2 号"},
	"cy":  {Name: "陈晨宇", Phone: "13700000003", Province: "北京市", City: "北京市", District: "海淀区", Detail: "中关村大街 3 号"},
	"dan": {Name: "邓丹", Phone: "13600000004", Province: "广东省", City: "深圳市", District: "南山区", Detail: "科技园路 4 号"},
}

// as calls the customer API as who and decodes a reply of want into v.
func (s *shop) as(who string, want int, c call, v any) reply {
	s.t.Helper()
	c.who = "customer:" + who
	r := s.do(c)
	require.Equal(s.t, want, r.status, "%s %s: %s", c.method, c.path, r.body)
	if v != nil {
		r.decode(s.t, v)
	}
	return r
}

// buy checks out lines for who with their own address and pays.
func (s *shop) buy(who, key string, q httpapi.QuoteRequest) httpapi.Order {
	s.t.Helper()
	var o httpapi.Order
	s.as(who, http.StatusCreated, call{method: "POST", path: s.shopPath("/orders"), key: key,
		body: httpapi.CheckoutRequest{QuoteRequest: q, Address: people[who]}}, &o)
	s.pay(who, o)
	return o
}

// assertNoLeaks checks every reply a customer was given for the others'
// ids and personal data.
func (s *shop) assertNoLeaks(t *testing.T) {
	t.Helper()
	require.NotEmpty(t, s.replies)
	for who, bodies := range s.replies {
		for other, a := range people {
			if other == who {
				continue
			}
			for _, b := range bodies {
				for _, secret := range []string{a.Phone, a.Name, a.Detail, `"` + other + `"`} {
					assert.NotContains(t, b, secret, "%s was shown %s's data", who, other)
				}
			}
		}
	}
}

func TestGiftStory(t *testing.T) {
	s := newShop(t)
	tin := s.tea.SKU(0, 0).String()
	var sent httpapi.SentGift
	s.as("amy", http.StatusCreated, call{method: "POST", path: s.shopPath("/gifts"), key: "g1",
		body: httpapi.SendGiftRequest{SKU: tin, Message: "生日快乐", GiverName: "Amy W.", NoCoupon: true}}, &sent)
	assert.Equal(t, "unpaid", sent.Gift.Status)
	assert.Empty(t, sent.Gift.Token, "no claim link before it is paid")
	assert.True(t, sent.Order.Gift)
	s.pay("amy", sent.Order)

	var g httpapi.Gift
	s.as("amy", http.StatusOK, call{method: "GET", path: s.shopPath("/gifts/%s", sent.Gift.ID)}, &g)
	require.Equal(t, "sent", g.Status)
	require.NotEmpty(t, g.Token)
	assert.True(t, g.Giver)

	// Bo opens the link and accepts with his own address.
	var link httpapi.GiftLink
	s.as("bo", http.StatusOK, call{method: "GET", path: s.shopPath("/gift-links/%s", g.Token)}, &link)
	assert.Equal(t, "Longjing tin", link.Title)
	assert.Equal(t, "Amy W.", link.GiverName)
	assert.Equal(t, "生日快乐", link.Message)
	assert.False(t, link.Yours, "bo did not send it")
	var own httpapi.GiftLink
	s.as("amy", http.StatusOK, call{method: "GET", path: s.shopPath("/gift-links/%s", g.Token)}, &own)
	assert.True(t, own.Yours, "amy sent it: her page shows the gift, not an accept form")
	s.as("bo", http.StatusNotFound, call{method: "GET", path: s.shopPath("/gifts/%s", g.ID)}, nil) // not his until accepted
	var mine httpapi.Gift
	s.as("bo", http.StatusOK, call{method: "POST", path: s.shopPath("/gift-links/%s/accept", g.Token),
		body: httpapi.AcceptGiftRequest{Address: people["bo"]}}, &mine)
	assert.Equal(t, "accepted", mine.Status)
	assert.False(t, mine.Giver)
	assert.Empty(t, mine.Token, "the recipient is not handed the claim link")

	// A second friend finds it taken; nothing changes.
	r := s.as("cy", http.StatusUnprocessableEntity, call{method: "POST", path: s.shopPath("/gift-links/%s/accept", g.Token),
		body: httpapi.AcceptGiftRequest{Address: people["cy"]}}, nil)
	assert.Equal(t, "failed_precondition", r.problem(t).Kind)
	s.as("cy", http.StatusNotFound, call{method: "GET", path: s.shopPath("/gifts/%s", g.ID)}, nil)

	// Amy sees it accepted, not where it goes; the merchant does.
	s.as("amy", http.StatusOK, call{method: "GET", path: s.shopPath("/gifts/%s", g.ID)}, &g)
	assert.True(t, g.Accepted)
	var o httpapi.Order
	s.as("amy", http.StatusOK, call{method: "GET", path: s.shopPath("/orders/%s", sent.Order.ID)}, &o)
	assert.Nil(t, o.ShippingAddress)
	r = s.do(call{method: "GET", path: s.adminPath("/orders/%s", sent.Order.ID), who: "operator:lin"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r.decode(t, &o)
	assert.Equal(t, people["bo"].Phone, o.ShippingAddress.Phone)

	var recv httpapi.List[httpapi.Gift]
	s.as("bo", http.StatusOK, call{method: "GET", path: s.shopPath("/gifts?role=received")}, &recv)
	require.Len(t, recv.Items, 1)
	assert.Equal(t, g.ID, recv.Items[0].ID)
	s.as("amy", http.StatusOK, call{method: "GET", path: s.shopPath("/gifts")}, &recv)
	require.Len(t, recv.Items, 1)
	s.as("amy", http.StatusBadRequest, call{method: "GET", path: s.shopPath("/gifts?role=all")}, nil)

	// A forged token opens nothing.
	s.as("bo", http.StatusBadRequest, call{method: "GET", path: s.shopPath("/gift-links/%s", strings.Repeat("A", len(g.Token)))}, nil)
	s.assertNoLeaks(t)
}

func TestGroupGiftClaims(t *testing.T) {
	s := newShop(t)
	var sent httpapi.SentGift
	s.as("amy", http.StatusCreated, call{method: "POST", path: s.shopPath("/gifts"), key: "g1",
		body: httpapi.SendGiftRequest{Kind: "group", SKU: s.tea.SKU(1, 0).String(), Quantity: 2, Group: "chat-1", GiverName: "Amy W.", NoCoupon: true}}, &sent)
	s.pay("amy", sent.Order)
	var g httpapi.Gift
	s.as("amy", http.StatusOK, call{method: "GET", path: s.shopPath("/gifts/%s", sent.Gift.ID)}, &g)
	require.NotEmpty(t, g.Token)

	var link httpapi.GiftLink
	s.as("bo", http.StatusOK, call{method: "GET", path: s.shopPath("/gift-links/%s", g.Token)}, &link)
	assert.Equal(t, 2, link.Slots)
	assert.Equal(t, 2, link.Free)
	assert.Empty(t, link.Options, "the other cup costs more: it is no option")

	claim := func(who string, want int, sku string) httpapi.ClaimedSlot {
		var slot httpapi.ClaimedSlot
		s.as(who, want, call{method: "POST", path: s.shopPath("/gift-links/%s/claim", g.Token),
			body: httpapi.AcceptGiftRequest{Address: people[who], SKU: sku}}, &slot)
		return slot
	}
	first := claim("bo", http.StatusOK, "")
	assert.Equal(t, people["bo"].Phone, first.Address.Phone, "the claimer sees their own address")
	assert.Equal(t, first.Line, claim("bo", http.StatusOK, "").Line, "a retried claim gets the same slot")
	second := claim("cy", http.StatusOK, "")
	assert.NotEqual(t, first.Line, second.Line)
	s.as("dan", http.StatusUnprocessableEntity, call{method: "POST", path: s.shopPath("/gift-links/%s/claim", g.Token),
		body: httpapi.AcceptGiftRequest{Address: people["dan"]}}, nil)
	s.as("amy", http.StatusUnprocessableEntity, call{method: "POST", path: s.shopPath("/gift-links/%s/claim", g.Token),
		body: httpapi.AcceptGiftRequest{Address: people["amy"]}}, nil)
	s.as("bo", http.StatusBadRequest, call{method: "POST", path: s.shopPath("/gift-links/%s/claim", g.Token), body: httpapi.AcceptGiftRequest{}}, nil)

	var o httpapi.Order
	s.as("amy", http.StatusOK, call{method: "GET", path: s.shopPath("/orders/%s", sent.Order.ID)}, &o)
	assert.Equal(t, "paid", o.Status, "both slots claimed: on to shipping")
	s.assertNoLeaks(t)
}

func TestGroupBuying(t *testing.T) {
	s := newShop(t)
	cup := s.tea.SKU(1, 0)
	a, err := s.engine.Campaigns.CreateGroupActivity(t.Context(), campaigns.GroupActivityParams{MerchantID: s.tea.Merchant.ID, Title: "两人团",
		Size: 2, TimeLimit: campaigns.DefaultGroupTimeLimit, Window: campaigns.Window{Start: time.Now().Add(-time.Hour), End: time.Now().Add(24 * time.Hour)},
		Items: []campaigns.GroupItem{{SKU: cup, GroupPrice: commercetest.CNY("20.00"), LeaderPrice: commercetest.CNY("18.00")}}})
	require.NoError(t, err)
	var act httpapi.GroupActivity
	s.as("amy", http.StatusOK, call{method: "GET", path: s.shopPath("/group-activities/%s", a.ID)}, &act)
	assert.Equal(t, commercetest.CNY("18.00"), act.Items[0].LeaderPrice)

	line := []httpapi.LineRequest{{SKU: cup.String(), Quantity: 1}}
	lead := s.buy("amy", "lead", httpapi.QuoteRequest{Lines: line, GroupActivity: a.ID.String(), DisplayName: "Amy W."})
	assert.Equal(t, commercetest.CNY("18.00"), lead.Total)
	var grp httpapi.Group
	s.as("amy", http.StatusOK, call{method: "GET", path: s.shopPath("/orders/%s/group", lead.ID)}, &grp)
	assert.Equal(t, "open", grp.State)
	assert.Equal(t, 1, grp.PlacesLeft)
	require.NotEmpty(t, grp.Link)

	var page httpapi.Group
	s.as("bo", http.StatusOK, call{method: "GET", path: s.shopPath("/groups/%s", grp.Link)}, &page)
	assert.Equal(t, grp.ID, page.ID)
	var q httpapi.Quote
	s.as("bo", http.StatusOK, call{method: "POST", path: s.shopPath("/quote"), body: httpapi.QuoteRequest{Lines: line, GroupLink: grp.Link}}, &q)
	assert.Equal(t, commercetest.CNY("20.00"), q.Total)
	s.as("bo", http.StatusBadRequest, call{method: "POST", path: s.shopPath("/quote"),
		body: httpapi.QuoteRequest{Lines: line, GroupLink: grp.Link, GroupActivity: a.ID.String()}}, nil)
	s.as("bo", http.StatusBadRequest, call{method: "POST", path: s.shopPath("/quote"), body: httpapi.QuoteRequest{Lines: line, GroupLink: "forged"}}, nil)
	s.buy("bo", "join", httpapi.QuoteRequest{Lines: line, GroupLink: grp.Link, DisplayName: "Bo"})

	s.as("cy", http.StatusOK, call{method: "GET", path: s.shopPath("/groups/%s", grp.Link)}, &page)
	assert.Equal(t, "formed", page.State)
	require.Len(t, page.Members, 2)
	assert.Equal(t, httpapi.GroupMember{Name: "Amy W.", Leader: true}, page.Members[0])
	s.as("cy", http.StatusNotFound, call{method: "GET", path: s.shopPath("/groups/forged")}, nil)
	s.as("cy", http.StatusNotFound, call{method: "GET", path: s.shopPath("/orders/%s/group", lead.ID)}, nil)
	s.assertNoLeaks(t)
}

func TestCouponWallet(t *testing.T) {
	s := newShop(t)
	ctx := t.Context()
	b, err := s.engine.Coupons.CreateBatch(ctx, coupons.BatchParams{MerchantID: s.tea.Merchant.ID, Name: "满50减10", Kind: coupons.ThresholdOff,
		Amount: commercetest.CNY("10.00"), MinAmount: commercetest.CNY("50.00"), Total: 5, Validity: coupons.Validity{Days: 7}, Shareable: true, Activate: true})
	require.NoError(t, err)
	var batch httpapi.CouponBatch
	s.as("bo", http.StatusOK, call{method: "GET", path: s.shopPath("/coupon-batches/%s", b.ID)}, &batch)
	assert.Equal(t, int64(5), *batch.Left)
	assert.Equal(t, "满50减10", batch.Name)

	var c, again httpapi.Coupon
	s.as("bo", http.StatusCreated, call{method: "POST", path: s.shopPath("/coupons"), key: "c1", body: httpapi.ClaimCouponRequest{Batch: b.ID.String()}}, &c)
	s.as("bo", http.StatusCreated, call{method: "POST", path: s.shopPath("/coupons"), key: "c1", body: httpapi.ClaimCouponRequest{Batch: b.ID.String()}}, &again)
	assert.Equal(t, c.ID, again.ID, "the same key claims once")
	assert.Equal(t, "valid", c.Status)
	s.as("bo", http.StatusBadRequest, call{method: "POST", path: s.shopPath("/coupons"), body: httpapi.ClaimCouponRequest{Batch: b.ID.String()}}, nil)

	var wallet httpapi.List[httpapi.Coupon]
	s.as("bo", http.StatusOK, call{method: "GET", path: s.shopPath("/coupons")}, &wallet)
	require.Len(t, wallet.Items, 1)
	assert.Equal(t, c.ID, wallet.Items[0].ID)
	s.as("bo", http.StatusOK, call{method: "GET", path: "/shops/" + s.other.Merchant.ID.String() + "/coupons"}, &wallet)
	assert.Empty(t, wallet.Items, "another shop's wallet page shows its coupons only")

	// The coupon prices the quote; bo shares the batch and cy claims by
	// his link.
	var q httpapi.Quote
	s.as("bo", http.StatusOK, call{method: "POST", path: s.shopPath("/quote"),
		body: httpapi.QuoteRequest{Lines: []httpapi.LineRequest{{SKU: s.tea.SKU(0, 0).String(), Quantity: 1}}, Coupon: c.ID}}, &q)
	assert.Equal(t, commercetest.CNY("90.00"), q.Total)
	var link httpapi.ShareLink
	s.as("bo", http.StatusOK, call{method: "POST", path: s.shopPath("/share-links"), body: httpapi.ShareLinkRequest{CouponBatch: b.ID.String()}}, &link)
	assert.Equal(t, "coupon_share", link.Kind)
	var cys httpapi.Coupon
	s.as("cy", http.StatusCreated, call{method: "POST", path: s.shopPath("/coupons"), key: "c2", body: httpapi.ClaimCouponRequest{Batch: b.ID.String(), Token: link.Token}}, &cys)
	got, err := s.engine.Coupons.Wallet(ctx, "cy", "")
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, commerce.CustomerID("bo"), got[0].SharedBy, "the claim records who shared")
	s.as("cy", http.StatusBadRequest, call{method: "POST", path: s.shopPath("/coupons"), key: "c3", body: httpapi.ClaimCouponRequest{Batch: b.ID.String(), Token: "forged"}}, nil)
	s.as("bo", http.StatusUnprocessableEntity, call{method: "POST", path: s.shopPath("/share-links"), body: httpapi.ShareLinkRequest{Product: s.tea.Products[0].ID.String()}}, nil)
	s.assertNoLeaks(t)
}

func TestMemberCard(t *testing.T) {
	s := newShop(t)
	m := s.tea.Merchant.ID
	_, err := s.engine.Membership.SetProgram(t.Context(), membership.Program{MerchantID: m, Earn: membership.PointsPer{Points: 1, Per: commercetest.CNY("1.00")},
		Tiers: []membership.Tier{{Level: 1, Name: "茶友"}, {Level: 2, Name: "茶客", MinExperience: 1000}}})
	require.NoError(t, err)
	s.as("bo", http.StatusNotFound, call{method: "GET", path: s.shopPath("/member")}, nil)
	var card httpapi.MemberCard
	s.as("bo", http.StatusOK, call{method: "POST", path: s.shopPath("/member")}, &card)
	assert.Equal(t, "茶友", card.Tier)
	assert.Positive(t, card.Number)
	s.buy("bo", "b1", httpapi.QuoteRequest{Lines: []httpapi.LineRequest{{SKU: s.tea.SKU(0, 0).String(), Quantity: 1}}, NoCoupon: true})
	s.as("bo", http.StatusOK, call{method: "GET", path: s.shopPath("/member")}, &card)
	assert.Equal(t, int64(100), card.Pending, "points wait for the order to settle")
	var st httpapi.List[httpapi.PointsEntry]
	s.as("bo", http.StatusOK, call{method: "GET", path: s.shopPath("/member/points")}, &st)
	require.Len(t, st.Items, 1)
	assert.Equal(t, "earn", st.Items[0].Kind)
	s.as("bo", http.StatusBadRequest, call{method: "GET", path: s.shopPath("/member/points?limit=0")}, nil)
	s.assertNoLeaks(t)
}

func TestPromoterLinks(t *testing.T) {
	s := newShop(t)
	ctx, m := t.Context(), s.tea.Merchant.ID
	lily, err := s.engine.Promoter.CreatePromoter(ctx, "Lily")
	require.NoError(t, err)
	require.NoError(t, s.engine.Promoter.AcceptInvite(ctx, m, s.engine.Promoter.Invite(m), lily.ID))
	_, err = s.engine.Promoter.SetPlan(ctx, promoter.PlanParams{MerchantID: m, ProductID: s.tea.Products[0].ID, Kind: promoter.Public, Rate: commerce.MustPercent(10)})
	require.NoError(t, err)
	s.promoters["lily"] = lily.ID

	var link httpapi.ShareLink
	s.as("lily", http.StatusOK, call{method: "POST", path: s.shopPath("/share-links"), body: httpapi.ShareLinkRequest{Product: s.tea.Products[0].ID.String()}}, &link)
	assert.Equal(t, "promoter", link.Kind)
	s.as("lily", http.StatusBadRequest, call{method: "POST", path: s.shopPath("/share-links"), body: httpapi.ShareLinkRequest{Product: "nope"}}, nil)
	s.buy("amy", "a1", httpapi.QuoteRequest{Lines: []httpapi.LineRequest{{SKU: s.tea.SKU(0, 0).String(), Quantity: 1}}, NoCoupon: true, PromoterLink: link.Token})

	r := s.do(call{method: "GET", path: s.adminPath("/promoters"), who: "operator:lin"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var sharers httpapi.List[httpapi.Sharer]
	r.decode(t, &sharers)
	require.Len(t, sharers.Items, 1)
	assert.Equal(t, "Lily", sharers.Items[0].Name)
	r = s.do(call{method: "GET", path: s.adminPath("/promoters/%s/statement", lily.ID), who: "operator:lin"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var st httpapi.PromoterStatement
	r.decode(t, &st)
	assert.Equal(t, 1, st.Orders)
	assert.Equal(t, commercetest.CNY("10.00"), st.Pending, "10 % of 100.00, pending until the order settles")
	r = s.do(call{method: "GET", path: s.adminPath("/promoters/%s/statement?from=yesterday", lily.ID), who: "operator:lin"})
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Equal(t, "from", r.problem(t).Field)
	r = s.do(call{method: "GET", path: "/merchants/" + s.other.Merchant.ID.String() + "/promoters/" + lily.ID.String() + "/statement", who: "operator:lin"})
	assert.Equal(t, http.StatusNotFound, r.status, "another merchant's statement")
	s.assertNoLeaks(t)
}
