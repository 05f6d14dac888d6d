package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	. "github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/gifting"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/fakepay"
)

func runGifting(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"OneToOne", testGiftOneToOne},
		{"ExpiryRefundsThroughPayment", testGiftExpiryRefund},
		{"AcceptRacingExpiry", testGiftAcceptRacingExpiry},
		{"SwitchRacingLastUnit", testGiftSwitchRace},
		{"BadInput", testGiftBadInput},
		{"GroupGift", testGroupGift},
		{"GroupGiftAllClaimed", testGroupGiftAllClaimed},
		{"GroupGiftRace", testGroupGiftRace},
		{"GroupClaimRacingExpiry", testGroupClaimRacingExpiry},
		{"GroupGiftRandom", testGroupGiftRandom},
		{"Lottery", testLotteryGift},
		{"LotteryFewEntrants", testLotteryFewEntrants},
		{"FreeGift", testFreeGift},
		{"GroupGiftBadInput", testGroupGiftBadInput},
		{"Reads", testGiftReads},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

type giftEnv struct {
	*env
	engine *minishop.Engine
	gs     *gifting.Service
	fake   *fakepay.Provider
	shop   *Shop
	m      commerce.MerchantID
}

// newGiftEnv: a scarf in three colours (two at 199.00, one at 219.00) and
// a ring in the jewellery category, with payments through fakepay.
func newGiftEnv(t *testing.T, h Harness) *giftEnv {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), store: h.New(t), clock: NewClock(Epoch)}
	fake := fakepay.New(fakepay.WithClock(e.clock.Now))
	engine, err := minishop.New(e.store, minishop.WithClock(e.clock), minishop.WithIDs(&SeqIDs{}), minishop.WithPayments(fake),
		minishop.WithGifting(func(c *gifting.Config) { c.Secret = []byte("gift secret") }))
	require.NoError(t, err)
	e.svc = engine.Commerce
	ge := &giftEnv{env: e, engine: engine, gs: engine.Gifting, fake: fake}
	ge.shop = NewShop(t, e.svc, "丝巾店", freeShipping,
		ProductSpec{Title: "Silk scarf", Category: "apparel", Prices: []string{"199.00", "199.00", "219.00"}, Stock: 5},
		ProductSpec{Title: "Jade ring", Category: "jewellery", Prices: []string{"99.00"}, Stock: 5},
		ProductSpec{Title: "Cashmere coat", Category: "apparel", Prices: []string{"12000.00"}, Stock: 5})
	ge.m = ge.shop.Merchant.ID
	return ge
}

func (e *giftEnv) send(giver, key string) (*gifting.Gift, *commerce.Order) {
	e.t.Helper()
	g, o, err := e.gs.Send(e.ctx, gifting.SendParams{MerchantID: e.m, Giver: commerce.CustomerID(giver), GiverName: "小王",
		SKU: e.shop.SKU(0, 0), Quantity: 1, Message: "生日快乐 🎂", IdempotencyKey: key})
	require.NoError(e.t, err)
	return g, o
}

// pay pays the gift order through the payment service and fakepay.
func (e *giftEnv) pay(o *commerce.Order) {
	e.t.Helper()
	p, _, err := e.engine.Payments.Pay(e.ctx, payment.PayParams{MerchantID: o.MerchantID, OrderID: o.ID})
	require.NoError(e.t, err)
	req, err := e.fake.Pay(p.PaymentNo)
	require.NoError(e.t, err)
	_, err = e.engine.Payments.HandleNotification(e.ctx, "fakepay", req)
	require.NoError(e.t, err)
}

func (e *giftEnv) stock(p, k int) int64 {
	e.t.Helper()
	prod, err := e.svc.GetProduct(e.ctx, e.m, e.shop.Products[p].ID)
	require.NoError(e.t, err)
	return prod.SKUs[k].Stock
}

func (e *giftEnv) token(g *gifting.Gift) string { return e.gs.Token(g) }

func testGiftOneToOne(t *testing.T, h Harness) {
	e := newGiftEnv(t, h)
	g, o := e.send("giver", "g1")
	assert.Equal(t, gifting.Unpaid, g.Status)
	assert.Nil(t, o.ShippingAddress, "a gift order has no address")
	tok := e.token(g)
	_, err := e.gs.Open(e.ctx, e.m, tok)
	assert.ErrorIs(t, err, gifting.ErrGiftClosed, "not sent before payment")

	e.pay(o)
	v, err := e.gs.Open(e.ctx, e.m, tok)
	require.NoError(t, err)
	assert.Equal(t, gifting.Sent, v.Status)
	assert.Equal(t, "Silk scarf", v.Title)
	assert.Equal(t, "生日快乐 🎂", v.Message)
	assert.Equal(t, "小王", v.GiverName)
	assert.Equal(t, Epoch.Add(24*time.Hour), v.ExpiresAt)
	require.Len(t, v.Options, 1, "the other colour at the same price, not the dearer one")
	assert.Equal(t, e.shop.SKU(0, 1), v.Options[0].SKU)

	// The friend prefers the other colour: the unit moves with the switch.
	require.NoError(t, e.gs.SwitchSKU(e.ctx, e.m, tok, e.shop.SKU(0, 1)))
	assert.EqualValues(t, 5, e.stock(0, 0))
	assert.EqualValues(t, 4, e.stock(0, 1))
	err = e.gs.SwitchSKU(e.ctx, e.m, tok, e.shop.SKU(0, 2))
	assert.Equal(t, "to", fieldOf(err), "another price")
	err = e.gs.SwitchSKU(e.ctx, e.m, tok, e.shop.SKU(1, 0))
	assert.Equal(t, "to", fieldOf(err), "another product")

	got, err := e.gs.Accept(e.ctx, e.m, tok, "friend", *Address())
	require.NoError(t, err)
	assert.Equal(t, gifting.Accepted, got.Status)
	order, err := e.svc.GetOrder(e.ctx, e.m, o.ID)
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusPaid, order.Status, "the order follows the normal flow now")
	assert.Equal(t, commerce.CustomerID("friend"), order.Gift.Recipient)
	assert.Equal(t, e.shop.SKU(0, 1), order.Lines[0].SKU)
	require.NotNil(t, order.ShippingAddress)

	_, err = e.gs.Accept(e.ctx, e.m, tok, "someone-else", *Address())
	assert.ErrorIs(t, err, gifting.ErrGiftClosed, "accepted once: no passing it on")
	err = e.gs.SwitchSKU(e.ctx, e.m, tok, e.shop.SKU(0, 0))
	assert.ErrorIs(t, err, gifting.ErrGiftClosed, "the SKU is fixed once accepted")

	// After-sales belong to the recipient; the money goes to the giver's payment.
	_, err = e.gs.RequestAfterSales(e.ctx, e.m, g.ID, "giver", commerce.RefundParams{All: true, IdempotencyKey: "r1"})
	assert.Equal(t, "customer", fieldOf(err))
	_, err = e.gs.RequestAfterSales(e.ctx, e.m, g.ID, "friend", commerce.RefundParams{All: true, IdempotencyKey: "r1"})
	require.NoError(t, err)
	pays, err := e.engine.Payments.OrderPayments(e.ctx, e.m, o.ID)
	require.NoError(t, err)
	require.Len(t, pays, 1)
	assert.Equal(t, "CNY 199.00", pays[0].RefundedAmount().String())
}

func testGiftExpiryRefund(t *testing.T, h Harness) {
	e := newGiftEnv(t, h)
	g, o := e.send("giver", "g1")
	e.pay(o)
	assert.EqualValues(t, 4, e.stock(0, 0))
	e.advance(24*time.Hour + time.Second)
	_, err := e.gs.Accept(e.ctx, e.m, e.token(g), "friend", *Address())
	assert.ErrorIs(t, err, gifting.ErrGiftClosed, "one second after expiry nobody can accept")

	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { _, _ = e.engine.RunDue(e.ctx) })
	}
	wg.Wait()
	gift, err := e.store.GetGift(e.ctx, e.m, g.ID)
	require.NoError(t, err)
	assert.Equal(t, gifting.Expired, gift.Status)
	assert.True(t, gift.Refunded)
	order, err := e.svc.GetOrder(e.ctx, e.m, o.ID)
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusRefunded, order.Status)
	assert.Equal(t, "CNY 199.00", order.Refunded().String(), "refunded in full")
	require.Len(t, order.Refunds, 1, "refunded once however many RunDue ran")
	assert.EqualValues(t, 5, e.stock(0, 0), "stock back")
	pays, err := e.engine.Payments.OrderPayments(e.ctx, e.m, o.ID)
	require.NoError(t, err)
	assert.Equal(t, "CNY 199.00", pays[0].RefundedAmount().String(), "through the payment channel")
}

func testGiftAcceptRacingExpiry(t *testing.T, h Harness) {
	for _, late := range []bool{false, true} {
		e := newGiftEnv(t, h)
		g, o := e.send("giver", "g1")
		e.pay(o)
		if late {
			e.advance(24 * time.Hour)
		} else {
			e.advance(24*time.Hour - time.Microsecond)
		}
		var accepted atomic.Int32
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Go(func() {
				if _, err := e.gs.Accept(e.ctx, e.m, e.token(g), commerce.CustomerID(fmt.Sprintf("friend-%d", i)), *Address()); err == nil {
					accepted.Add(1)
				}
			})
			wg.Go(func() { _, _ = e.engine.RunDue(e.ctx) })
		}
		wg.Wait()
		order, err := e.svc.GetOrder(e.ctx, e.m, o.ID)
		require.NoError(t, err)
		gift, err := e.store.GetGift(e.ctx, e.m, g.ID)
		require.NoError(t, err)
		if late {
			assert.EqualValues(t, 0, accepted.Load(), "at its expiry the gift is gone")
			assert.Equal(t, gifting.Expired, gift.Status)
			assert.Len(t, order.Refunds, 1)
		} else {
			assert.EqualValues(t, 1, accepted.Load(), "one recipient")
			assert.Equal(t, gifting.Accepted, gift.Status)
			assert.Empty(t, order.Refunds, "no refund when acceptance won")
		}
	}
}

func testGiftSwitchRace(t *testing.T, h Harness) {
	e := newGiftEnv(t, h)
	_, err := e.svc.AdjustStock(e.ctx, e.m, e.shop.SKU(0, 1), -4) // one unit of the other colour left
	require.NoError(t, err)
	var toks []string
	for i := range 4 {
		g, o := e.send(fmt.Sprintf("giver-%d", i), "g")
		e.pay(o)
		toks = append(toks, e.token(g))
	}
	var ok atomic.Int32
	var wg sync.WaitGroup
	for _, tok := range toks {
		wg.Go(func() {
			err := e.gs.SwitchSKU(e.ctx, e.m, tok, e.shop.SKU(0, 1))
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, commerce.ErrOutOfStock):
			default:
				t.Errorf("switch: %v", err)
			}
		})
	}
	wg.Wait()
	assert.EqualValues(t, 1, ok.Load(), "one switch gets the last unit")
	assert.EqualValues(t, 0, e.stock(0, 1))
	assert.EqualValues(t, 2, e.stock(0, 0), "5 - 4 gifts + 1 switched away")
}

func testGiftBadInput(t *testing.T, h Harness) {
	e := newGiftEnv(t, h)
	send := func(mut func(*gifting.SendParams)) error {
		p := gifting.SendParams{MerchantID: e.m, Giver: "giver", SKU: e.shop.SKU(0, 0), Quantity: 1, IdempotencyKey: "k"}
		mut(&p)
		_, _, err := e.gs.Send(e.ctx, p)
		return err
	}
	assert.Equal(t, "message", fieldOf(send(func(p *gifting.SendParams) { p.Message = strings.Repeat("福", 101) })))
	assert.NoError(t, send(func(p *gifting.SendParams) { p.Message = strings.Repeat("福", 100); p.IdempotencyKey = "ok" }),
		"100 characters are fine, however many bytes")
	assert.ErrorIs(t, send(func(p *gifting.SendParams) { p.SKU = e.shop.SKU(1, 0) }), gifting.ErrNotGiftable, "jewellery")
	assert.ErrorIs(t, send(func(p *gifting.SendParams) { p.SKU = e.shop.SKU(2, 0) }), gifting.ErrNotGiftable, "over 10,000")
	assert.Equal(t, "quantity", fieldOf(send(func(p *gifting.SendParams) { p.Quantity = 2 })))

	g, o := e.send("giver", "g1")
	e.pay(o)
	tok := e.token(g)
	_, err := e.gs.Accept(e.ctx, e.m, tok, "friend", commerce.Address{})
	assert.ErrorIs(t, err, commerce.ErrInvalid, "an address is required")
	_, err = e.gs.Accept(e.ctx, e.m, tok, "giver", *Address())
	assert.Equal(t, "recipient", fieldOf(err), "the giver does not accept their own gift")
	for name, bad := range map[string]string{"garbage": "not-a-token", "forged": tok[:len(tok)-2] + "AA", "empty": ""} {
		_, err = e.gs.Open(e.ctx, e.m, bad)
		assert.ErrorIs(t, err, gifting.ErrBadToken, name)
		assert.Equal(t, "token", fieldOf(err), name)
	}
	other := NewShop(t, e.svc, "别家", freeShipping, ProductSpec{Title: "x", Prices: []string{"1"}, Stock: 1})
	_, err = e.gs.Open(e.ctx, other.Merchant.ID, tok)
	assert.ErrorIs(t, err, gifting.ErrBadToken, "a token for another merchant's gift")
	gift, err := e.store.GetGift(e.ctx, e.m, g.ID)
	require.NoError(t, err)
	assert.Equal(t, gifting.Sent, gift.Status, "nothing changed")
}
