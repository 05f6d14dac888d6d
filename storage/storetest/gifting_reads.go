package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	. "github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/gifting"
)

// testGiftReads: the plain reads write nothing, show a gift as stored
// (ExpiresAt once paid, without Open), and page a giver's sent gifts and a
// recipient's received ones (accepted one-friend gifts and held slots of
// group gifts) exactly once each, in id order.
func testGiftReads(t *testing.T, h Harness) {
	e := newGiftEnv(t, h)
	g1, o1 := e.send("giver", "r1")
	got, err := e.gs.GetGift(e.ctx, e.m, g1.ID)
	require.NoError(t, err)
	assert.Equal(t, gifting.Unpaid, got.Status)
	assert.True(t, got.ExpiresAt.IsZero(), "no expiry before payment")
	assert.Equal(t, g1.ID, got.ID, "Send returns the gift as stored")
	assert.Equal(t, g1.Version, got.Version)
	e.pay(o1)
	events, err := e.svc.ReadEvents(e.ctx, 0, 1000)
	require.NoError(t, err)
	got, err = e.gs.GetGift(e.ctx, e.m, g1.ID)
	require.NoError(t, err)
	assert.Equal(t, gifting.Sent, got.Status)
	assert.True(t, got.ExpiresAt.Equal(e.clock.Now().Add(24*time.Hour)), "ExpiresAt after payment: %v", got.ExpiresAt)
	assert.False(t, got.Opened, "reading is not opening")
	byOrder, err := e.gs.GiftByOrder(e.ctx, e.m, o1.ID)
	require.NoError(t, err)
	assert.Equal(t, g1.ID, byOrder.ID)
	after, err := e.svc.ReadEvents(e.ctx, 0, 1000)
	require.NoError(t, err)
	assert.Len(t, after, len(events), "the reads wrote no event")

	// More gifts: two more from the giver (one a group gift), one from
	// someone else, one at another merchant.
	g2, o2 := e.send("giver", "r2")
	e.pay(o2)
	g3, o3, err := e.gs.Send(e.ctx, gifting.SendParams{MerchantID: e.m, Giver: "giver", SKU: e.shop.SKU(0, 0), Quantity: 2,
		Kind: gifting.Group, Group: "chat", IdempotencyKey: "r3"})
	require.NoError(t, err)
	e.pay(o3)
	other, _ := e.send("someone-else", "r4")
	elsewhere := NewShop(t, e.svc, "别家", freeShipping, ProductSpec{Title: "tea", Category: "tea", Prices: []string{"1.00"}, Stock: 5})
	_, _, err = e.gs.Send(e.ctx, gifting.SendParams{MerchantID: elsewhere.Merchant.ID, Giver: "giver", SKU: elsewhere.SKU(0, 0), Quantity: 1, IdempotencyKey: "r5"})
	require.NoError(t, err)

	page1, err := e.gs.SentGifts(e.ctx, e.m, "giver", gifting.GiftID{}, 2)
	require.NoError(t, err)
	page2, err := e.gs.SentGifts(e.ctx, e.m, "giver", page1[len(page1)-1].ID, 2)
	require.NoError(t, err)
	assert.Equal(t, []gifting.GiftID{g1.ID, g2.ID}, ids(page1))
	assert.Equal(t, []gifting.GiftID{g3.ID}, ids(page2), "the rest, and not the other giver's or merchant's")
	mine, err := e.gs.SentGifts(e.ctx, e.m, "someone-else", gifting.GiftID{}, 10)
	require.NoError(t, err)
	assert.Equal(t, []gifting.GiftID{other.ID}, ids(mine))

	// The friend accepts g2 and claims a slot of g3; a cousin claims g3's other slot.
	_, err = e.gs.Accept(e.ctx, e.m, e.token(g2), "friend", *Address())
	require.NoError(t, err)
	_, err = e.claim(g3, "friend")
	require.NoError(t, err)
	_, err = e.claim(g3, "cousin")
	require.NoError(t, err)
	received, err := e.gs.ReceivedGifts(e.ctx, e.m, "friend", gifting.GiftID{}, 10)
	require.NoError(t, err)
	assert.Equal(t, []gifting.GiftID{g2.ID, g3.ID}, ids(received))
	assert.Equal(t, commerce.CustomerID("friend"), received[0].Recipient)
	received, err = e.gs.ReceivedGifts(e.ctx, e.m, "friend", g2.ID, 10)
	require.NoError(t, err)
	assert.Equal(t, []gifting.GiftID{g3.ID}, ids(received), "paged after g2")
	received, err = e.gs.ReceivedGifts(e.ctx, e.m, "cousin", gifting.GiftID{}, 10)
	require.NoError(t, err)
	assert.Equal(t, []gifting.GiftID{g3.ID}, ids(received))
	received, err = e.gs.ReceivedGifts(e.ctx, e.m, "stranger", gifting.GiftID{}, 10)
	require.NoError(t, err)
	assert.Empty(t, received)

	// Bad input names its field; an unknown gift is not found, naming it.
	_, err = e.gs.GetGift(e.ctx, e.m, gifting.GiftID{})
	assert.Equal(t, "gift_id", fieldOf(err))
	_, err = e.gs.GetGift(e.ctx, e.m, newID[gifting.GiftID]())
	assert.Equal(t, commerce.KindNotFound, commerce.KindOf(err))
	assert.Equal(t, "gift_id", fieldOf(err))
	_, err = e.gs.GetGift(e.ctx, elsewhere.Merchant.ID, g1.ID)
	assert.Equal(t, commerce.KindNotFound, commerce.KindOf(err), "another merchant's gift")
	_, err = e.gs.GiftByOrder(e.ctx, e.m, newID[commerce.OrderID]())
	assert.Equal(t, "order_id", fieldOf(err))
	_, err = e.gs.SentGifts(e.ctx, e.m, "giver", gifting.GiftID{}, 0)
	assert.Equal(t, "limit", fieldOf(err))
	_, err = e.gs.SentGifts(e.ctx, e.m, "giver", gifting.GiftID{}, gifting.MaxGiftPage+1)
	assert.Equal(t, "limit", fieldOf(err))
	_, err = e.gs.ReceivedGifts(e.ctx, e.m, "", gifting.GiftID{}, 10)
	assert.Equal(t, "recipient", fieldOf(err))
}

func ids(gs []*gifting.Gift) []gifting.GiftID {
	out := make([]gifting.GiftID, len(gs))
	for i, g := range gs {
		out[i] = g.ID
	}
	return out
}
