package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	. "github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/gifting"
	"github.com/minishop/minishop/payment/fakepay"
)

// offKey is the Extensions key of the test's own adjuster: that many minor
// units off the order, split over the lines by what they cost, so group
// gift slots carry uneven shares.
const offKey = "storetest.off"

const groupStock = 5000

var offAdjuster = commerce.AdjusterFunc(func(ctx context.Context, q *commerce.Quote) ([]commerce.Adjustment, error) {
	off, _ := q.Extensions[offKey].(int64)
	if off == 0 {
		return nil, nil
	}
	amount := commerce.FromMinor(off, q.Currency)
	split, err := q.SplitByPayable(amount, nil)
	if err != nil {
		return nil, err
	}
	return []commerce.Adjustment{{Kind: commerce.KindDiscount, Target: commerce.TargetItems, Source: "storetest",
		Label: "test discount", Amount: amount, Split: split}}, nil
})

// newGroupEnv: a scarf in three colours (two at 199.00, one at 219.00),
// groupStock of each, payments through fakepay, and the test discount.
func newGroupEnv(t *testing.T, h Harness, rules map[string]func(context.Context, *gifting.Gift, commerce.CustomerID) (bool, error)) *giftEnv {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), store: h.New(t), clock: NewClock(Epoch)}
	fake := fakepay.New(fakepay.WithClock(e.clock.Now))
	engine, err := minishop.New(e.store, minishop.WithClock(e.clock), minishop.WithIDs(&SeqIDs{}), minishop.WithPayments(fake),
		minishop.WithCommerce(func(c *commerce.Config) { c.Adjusters = append(c.Adjusters, offAdjuster) }),
		minishop.WithGifting(func(c *gifting.Config) { c.Secret = []byte("gift secret"); c.Rules = rules }))
	require.NoError(t, err)
	e.svc = engine.Commerce
	ge := &giftEnv{env: e, engine: engine, gs: engine.Gifting, fake: fake}
	ge.shop = NewShop(t, e.svc, "丝巾店", freeShipping,
		ProductSpec{Title: "Silk scarf", Category: "apparel", Prices: []string{"199.00", "199.00", "219.00"}, Stock: groupStock})
	ge.m = ge.shop.Merchant.ID
	return ge
}

func (e *giftEnv) sendGroup(p gifting.SendParams) (*gifting.Gift, *commerce.Order) {
	e.t.Helper()
	if p.Kind == "" {
		p.Kind = gifting.Group
	}
	p.MerchantID, p.SKU = e.m, e.shop.SKU(0, 0)
	if p.Giver == "" {
		p.Giver = "giver"
	}
	if p.Group == "" {
		p.Group = "family-chat"
	}
	if p.IdempotencyKey == "" {
		p.IdempotencyKey = fmt.Sprintf("group-%d-%s", p.Quantity, p.Giver)
	}
	g, o, err := e.gs.Send(e.ctx, p)
	require.NoError(e.t, err)
	return g, o
}

func (e *giftEnv) claim(g *gifting.Gift, who string) (gifting.Slot, error) {
	return e.gs.Claim(e.ctx, gifting.ClaimParams{MerchantID: e.m, Token: e.token(g), Claimer: commerce.CustomerID(who), Address: *Address()})
}

func (e *giftEnv) order(id commerce.OrderID) *commerce.Order {
	e.t.Helper()
	o, err := e.svc.GetOrder(e.ctx, e.m, id)
	require.NoError(e.t, err)
	return o
}

func (e *giftEnv) gift(id gifting.GiftID) *gifting.Gift {
	e.t.Helper()
	g, err := e.store.GetGift(e.ctx, e.m, id)
	require.NoError(e.t, err)
	return g
}

// claimedPlusRefunded is what the claimed lines paid plus what refunds
// returned; it must equal what the order took.
func claimedPlusRefunded(o *commerce.Order) commerce.Money {
	sum := commerce.Zero(o.Currency)
	for i, l := range o.Lines {
		if o.Gift.Claims[i].Recipient != "" {
			sum = mustAdd(sum, l.Payable)
		}
	}
	return mustAdd(sum, o.Refunded())
}

func mustAdd(a, b commerce.Money) commerce.Money {
	s, err := a.Add(b)
	if err != nil {
		panic(err)
	}
	return s
}

func testGroupGift(t *testing.T, h Harness) {
	e := newGroupEnv(t, h, nil)
	// 5 × 199.00 - 10.01 = 984.99: 98,499 fen over 5 slots is 19,699.8.
	g, o := e.sendGroup(gifting.SendParams{Quantity: 5, GiverName: "小王", Message: "新年快乐",
		Extensions: commerce.Extensions{offKey: int64(1001)}})
	require.Len(t, o.Lines, 5, "one line per slot")
	shares := map[string]int{}
	total := commerce.Zero(o.Currency)
	for _, l := range o.Lines {
		shares[l.Payable.String()]++
		total = mustAdd(total, l.Payable)
	}
	assert.Equal(t, map[string]int{"CNY 197.00": 4, "CNY 196.99": 1}, shares, "largest remainder")
	assert.True(t, total.Equal(o.Total), "slots sum to the total")
	assert.Equal(t, "CNY 984.99", o.Total.String())

	_, err := e.claim(g, "early")
	assert.ErrorIs(t, err, gifting.ErrGiftClosed, "not before payment")
	e.pay(o)
	v, err := e.gs.Open(e.ctx, e.m, e.token(g))
	require.NoError(t, err)
	assert.Equal(t, 5, v.Free)
	assert.Equal(t, gifting.Group, v.Kind)

	s1, err := e.claim(g, "阿姨")
	require.NoError(t, err)
	assert.Equal(t, 0, s1.Line, "first come, first served")
	again, err := e.claim(g, "阿姨")
	require.NoError(t, err, "the same claim again (a retry, a second tap) is answered with the slot")
	assert.Equal(t, s1.Line, again.Line, "one slot per person")
	elsewhere := *Address()
	elsewhere.Detail = "科技园路 2 号"
	_, err = e.gs.Claim(e.ctx, gifting.ClaimParams{MerchantID: e.m, Token: e.token(g), Claimer: "阿姨", Address: elsewhere})
	assert.ErrorIs(t, err, gifting.ErrAlreadyClaimed, "a second slot to another address")
	_, err = e.claim(g, "giver")
	assert.Equal(t, "claimer", fieldOf(err), "the giver cannot claim their own group gift")
	// The cousin wants the other colour.
	s2, err := e.gs.Claim(e.ctx, gifting.ClaimParams{MerchantID: e.m, Token: e.token(g), Claimer: "表妹", Address: *Address(), SKU: e.shop.SKU(0, 1)})
	require.NoError(t, err)
	_, err = e.gs.Claim(e.ctx, gifting.ClaimParams{MerchantID: e.m, Token: e.token(g), Claimer: "表哥", Address: *Address(), SKU: e.shop.SKU(0, 2)})
	assert.Equal(t, "to", fieldOf(err), "another price")
	_, err = e.claim(g, "叔叔")
	require.NoError(t, err)
	assert.EqualValues(t, groupStock-1, e.stock(0, 1), "the switched slot's unit moved")
	assert.EqualValues(t, groupStock-4, e.stock(0, 0))
	assert.Equal(t, e.shop.SKU(0, 1), e.order(o.ID).Lines[s2.Line].SKU)
	assert.Equal(t, commerce.StatusAwaitingRecipient, e.order(o.ID).Status, "claims go on until expiry or the last slot")

	e.advance(24*time.Hour + time.Second)
	_, err = e.claim(g, "late")
	assert.ErrorIs(t, err, gifting.ErrGiftClosed)
	runDue(t, e.engine, e.ctx)
	runDue(t, e.engine, e.ctx)

	gift := e.gift(g.ID)
	assert.Equal(t, gifting.Expired, gift.Status)
	assert.True(t, gift.Refunded)
	order := e.order(o.ID)
	assert.Equal(t, commerce.StatusPaid, order.Status, "the claimed slots ship")
	require.Len(t, order.Refunds, 1, "the unclaimed slots come back in one refund")
	assert.Equal(t, commerce.RefundSucceeded, order.Refunds[0].Status)
	assert.Len(t, order.Refunds[0].Lines, 2)
	assert.True(t, claimedPlusRefunded(order).Equal(order.Total), "claimed + refunded %s = paid %s", claimedPlusRefunded(order), order.Total)
	assert.EqualValues(t, groupStock-2, e.stock(0, 0), "two units back on sale")
	pays, err := e.engine.Payments.OrderPayments(e.ctx, e.m, o.ID)
	require.NoError(t, err)
	assert.True(t, pays[0].RefundedAmount().Equal(order.Refunded()), "through the payment channel")
	require.NotNil(t, order.Gift.Claims[s1.Line].Address)
	assert.Equal(t, commerce.CustomerID("阿姨"), order.Gift.Claims[s1.Line].Recipient)

	// After-sales: the cousin's own slot, to the giver's payment.
	_, err = e.gs.RequestAfterSales(e.ctx, e.m, g.ID, "stranger", commerce.RefundParams{All: true, IdempotencyKey: "as"})
	assert.Equal(t, "customer", fieldOf(err))
	r, err := e.gs.RequestAfterSales(e.ctx, e.m, g.ID, "表妹", commerce.RefundParams{All: true, IdempotencyKey: "as"})
	require.NoError(t, err)
	require.Len(t, r.Lines, 1)
	assert.Equal(t, s2.Line, r.Lines[0].Line)
	assert.True(t, r.Amount.Equal(order.Lines[s2.Line].Payable))
}

func testGroupGiftAllClaimed(t *testing.T, h Harness) {
	e := newGroupEnv(t, h, nil)
	g, o := e.sendGroup(gifting.SendParams{Quantity: 3})
	e.pay(o)
	for _, who := range []string{"a", "b", "c"} {
		_, err := e.claim(g, who)
		require.NoError(t, err)
	}
	_, err := e.claim(g, "d")
	assert.ErrorIs(t, err, gifting.ErrNoSlot, "every slot is taken: the documented error")
	assert.NotErrorIs(t, err, gifting.ErrGiftClosed, "one answer per refusal")
	assert.Equal(t, commerce.KindFailedPrecondition, commerce.KindOf(err))
	assert.Equal(t, gifting.Accepted, e.gift(g.ID).Status)
	order := e.order(o.ID)
	assert.Equal(t, commerce.StatusPaid, order.Status, "ships without waiting for expiry")
	for i, c := range order.Gift.Claims {
		assert.NotEmpty(t, c.Recipient, "line %d", i)
	}
	e.advance(48 * time.Hour)
	runDue(t, e.engine, e.ctx)
	assert.Empty(t, e.order(o.ID).Refunds, "nothing to refund")
}

// testGroupGiftRace: 64 people race for 10 slots; one person races from 8
// goroutines.
func testGroupGiftRace(t *testing.T, h Harness) {
	e := newGroupEnv(t, h, nil)
	g, o := e.sendGroup(gifting.SendParams{Quantity: 10})
	e.pay(o)
	one, o1 := e.sendGroup(gifting.SendParams{Quantity: 3, Giver: "other-giver"})
	e.pay(o1)

	results := make([]error, 64)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() { _, results[i] = e.claim(g, fmt.Sprintf("member-%02d", i)) })
	}
	same := make([]error, 8)
	sameSlots := make([]gifting.Slot, 8)
	for i := range same {
		wg.Go(func() { sameSlots[i], same[i] = e.claim(one, "same-person") })
	}
	wg.Wait()
	won := 0
	for _, err := range results {
		switch {
		case err == nil:
			won++
		case errors.Is(err, gifting.ErrNoSlot): // the gift is open until its last slot goes
		default:
			t.Errorf("claim: %v", err)
		}
	}
	assert.Equal(t, 10, won, "exactly ten claims")
	order := e.order(o.ID)
	assert.Equal(t, commerce.StatusPaid, order.Status)
	seen := map[commerce.CustomerID]bool{}
	for _, c := range order.Gift.Claims {
		require.NotEmpty(t, c.Recipient)
		assert.False(t, seen[c.Recipient], "one slot per person")
		seen[c.Recipient] = true
	}
	lines := map[int]bool{}
	for i, err := range same {
		if assert.NoError(t, err, "tap %d: the same claim again is answered with the slot", i) {
			lines[sameSlots[i].Line] = true
		}
	}
	assert.Len(t, lines, 1, "one slot for one person however often they tap")
	slots, err := e.store.GiftSlots(e.ctx, e.m, one.ID)
	require.NoError(t, err)
	held := 0
	for _, sl := range slots {
		if sl.Claimer == "same-person" {
			held++
		}
	}
	assert.Equal(t, 1, held, "the gift shows the person once")
}

// testGroupGiftRandom: random group gifts with random discounts and
// random claims; claimed plus refunded equals paid every time.
func testGroupGiftRandom(t *testing.T, h Harness) {
	n := randomRuns(1000)
	e := newGroupEnv(t, h, nil)
	rng := rand.New(rand.NewPCG(7, 11))
	type sent struct {
		g *gifting.Gift
		o *commerce.Order
	}
	gifts := make([]sent, n)
	for i := range gifts {
		slots := 1 + rng.IntN(6)
		off := rng.Int64N(int64(slots) * 19900)
		g, o := e.sendGroup(gifting.SendParams{Quantity: int64(slots), Giver: commerce.CustomerID(fmt.Sprintf("giver-%d", i)),
			Extensions: commerce.Extensions{offKey: off}})
		e.pay(o)
		for c := range rng.IntN(slots + 2) {
			_, err := e.claim(g, fmt.Sprintf("c%d", c))
			if err != nil && !errors.Is(err, gifting.ErrNoSlot) && !errors.Is(err, gifting.ErrGiftClosed) {
				t.Fatalf("claim: %v", err)
			}
		}
		gifts[i] = sent{g, o}
	}
	e.advance(25 * time.Hour)
	for range 3 {
		runDue(t, e.engine, e.ctx)
	}
	for _, s := range gifts {
		o := e.order(s.o.ID)
		if !assert.True(t, claimedPlusRefunded(o).Equal(o.Total), "order %s: claimed+refunded %s, paid %s", o.ID, claimedPlusRefunded(o), o.Total) {
			g := e.gift(s.g.ID)
			t.Logf("order %s claims %+v refunds %+v; gift %s refunded %v", o.Status, o.Gift.Claims, o.Refunds, g.Status, g.Refunded)
			return
		}
		assert.False(t, o.PendingRefunds())
	}
}

func testLotteryGift(t *testing.T, h Harness) {
	vip := func(_ context.Context, _ *gifting.Gift, who commerce.CustomerID) (bool, error) {
		return who != "outsider", nil
	}
	e := newGroupEnv(t, h, map[string]func(context.Context, *gifting.Gift, commerce.CustomerID) (bool, error){"members": vip})
	drawAt := Epoch.Add(2 * time.Hour)
	g, o := e.sendGroup(gifting.SendParams{Kind: gifting.Lottery, Quantity: 2,
		Lottery: &gifting.LotteryParams{DrawAt: drawAt, Eligibility: gifting.ByRule, Rule: "members"}})
	e.pay(o)
	v, err := e.gs.Open(e.ctx, e.m, e.token(g))
	require.NoError(t, err)
	require.NotNil(t, v.Lottery)
	published := v.Lottery.SeedHash
	assert.Len(t, published, 64)
	assert.Empty(t, v.Lottery.Seed, "the seed stays secret until the draw")
	assert.Empty(t, g.Draw.Seed, "Send does not hand the giver the seed")
	read, err := e.gs.GetGift(e.ctx, e.m, g.ID)
	require.NoError(t, err)
	assert.Empty(t, read.Draw.Seed, "nor does GetGift: the giver could pick when to draw")
	assert.Equal(t, published, read.Draw.SeedHash)
	sent, err := e.gs.SentGifts(e.ctx, e.m, "giver", gifting.GiftID{}, 10)
	require.NoError(t, err)
	require.Len(t, sent, 1)
	assert.Empty(t, sent[0].Draw.Seed, "nor the giver's list")
	stored, err := e.store.GetGift(e.ctx, e.m, g.ID)
	require.NoError(t, err)
	assert.NotEmpty(t, stored.Draw.Seed, "the store keeps it for the draw")

	tok := e.token(g)
	for i := range 6 {
		require.NoError(t, e.gs.Enter(e.ctx, e.m, tok, commerce.CustomerID(fmt.Sprintf("p%d", i))))
	}
	assert.ErrorIs(t, e.gs.Enter(e.ctx, e.m, tok, "p0"), gifting.ErrAlreadyEntered)
	assert.ErrorIs(t, e.gs.Enter(e.ctx, e.m, tok, "outsider"), gifting.ErrNotEligible)
	assert.ErrorIs(t, e.gs.Enter(e.ctx, e.m, tok, "giver"), gifting.ErrNotEligible)
	_, err = e.claim(g, "p0")
	assert.ErrorIs(t, err, gifting.ErrGiftClosed, "no claims before the draw")
	_, err = e.gs.DrawNow(e.ctx, e.m, g.ID, "p1")
	assert.Equal(t, "customer", fieldOf(err), "only the giver draws early")

	e.advance(2 * time.Hour)
	runDue(t, e.engine, e.ctx)
	assert.ErrorIs(t, e.gs.Enter(e.ctx, e.m, tok, "p9"), gifting.ErrGiftClosed, "drawn")
	drawn := e.gift(g.ID)
	require.NotNil(t, drawn.Draw)
	require.Len(t, drawn.Draw.Winners, 2)
	assert.Equal(t, gifting.Sent, drawn.Status)
	assert.Equal(t, published, drawn.Draw.SeedHash)
	seed, err := hex.DecodeString(drawn.Draw.Seed)
	require.NoError(t, err)
	sum := sha256.Sum256(seed)
	assert.Equal(t, published, hex.EncodeToString(sum[:]), "the revealed seed is the committed one")
	require.NoError(t, gifting.VerifyDraw(drawn.Draw, 2), "anyone can re-run the draw")
	v, err = e.gs.Open(e.ctx, e.m, tok)
	require.NoError(t, err)
	assert.Equal(t, drawn.Draw.Seed, v.Lottery.Seed, "revealed after the draw")

	var loser commerce.CustomerID
	for _, p := range drawn.Draw.Entrants {
		if p != drawn.Draw.Winners[0] && p != drawn.Draw.Winners[1] {
			loser = p
		}
	}
	_, err = e.claim(g, string(loser))
	assert.ErrorIs(t, err, gifting.ErrNotEligible, "only winners claim")
	for _, w := range drawn.Draw.Winners {
		_, err := e.claim(g, string(w))
		require.NoError(t, err)
	}
	assert.Equal(t, gifting.Accepted, e.gift(g.ID).Status)
	assert.Equal(t, commerce.StatusPaid, e.order(o.ID).Status)
}

func testLotteryFewEntrants(t *testing.T, h Harness) {
	e := newGroupEnv(t, h, nil)
	g, o := e.sendGroup(gifting.SendParams{Kind: gifting.Lottery, Quantity: 3,
		Lottery: &gifting.LotteryParams{DrawAt: Epoch.Add(time.Hour), Eligibility: gifting.Listed, Allowed: []commerce.CustomerID{"x", "y", "z"}}})
	e.pay(o)
	tok := e.token(g)
	assert.ErrorIs(t, e.gs.Enter(e.ctx, e.m, tok, "w"), gifting.ErrNotEligible, "not on the list")
	require.NoError(t, e.gs.Enter(e.ctx, e.m, tok, "x"))
	require.NoError(t, e.gs.Enter(e.ctx, e.m, tok, "y"))
	drawn, err := e.gs.DrawNow(e.ctx, e.m, g.ID, "giver")
	require.NoError(t, err)
	assert.Equal(t, []commerce.CustomerID{"x", "y"}, drawn.Draw.Winners, "no more entrants than prizes: everyone wins")
	for _, w := range []string{"x", "y"} {
		_, err := e.claim(g, w)
		require.NoError(t, err)
	}
	// Both winners claimed: the lottery closes now, the third prize comes back.
	runDue(t, e.engine, e.ctx)
	order := e.order(o.ID)
	assert.Equal(t, commerce.StatusPaid, order.Status)
	require.Len(t, order.Refunds, 1)
	assert.Len(t, order.Refunds[0].Lines, 1)
	assert.True(t, claimedPlusRefunded(order).Equal(order.Total))
}

func testFreeGift(t *testing.T, h Harness) {
	e := newGroupEnv(t, h, nil)
	g, o, err := e.gs.Send(e.ctx, gifting.SendParams{MerchantID: e.m, Giver: "shop-owner", GiverName: "丝巾店", SKU: e.shop.SKU(0, 0),
		Quantity: 1, Free: true, IdempotencyKey: "free-1"})
	require.NoError(t, err)
	assert.True(t, o.Total.IsZero(), "nobody pays")
	assert.Equal(t, gifting.Sent, g.Status, "sent at once")
	_, err = e.gs.Accept(e.ctx, e.m, e.token(g), "lucky-fan", *Address())
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusPaid, e.order(o.ID).Status)

	// A free group gift nobody fully claims: the rest comes back as stock.
	fg, fo := e.sendGroup(gifting.SendParams{Quantity: 4, Free: true, Giver: "shop-owner"})
	assert.Equal(t, gifting.Sent, fg.Status)
	_, err = e.claim(fg, "fan-1")
	require.NoError(t, err)
	before := e.stock(0, 0)
	e.advance(25 * time.Hour)
	runDue(t, e.engine, e.ctx)
	order := e.order(fo.ID)
	assert.Equal(t, commerce.StatusPaid, order.Status)
	require.Len(t, order.Refunds, 1)
	assert.Equal(t, commerce.RefundSucceeded, order.Refunds[0].Status, "a refund of nothing needs no channel")
	assert.EqualValues(t, before+3, e.stock(0, 0))
	_, _, err = e.gs.Send(e.ctx, gifting.SendParams{MerchantID: e.m, Giver: "shop-owner", SKU: e.shop.SKU(0, 0), Quantity: 1, Free: true,
		IdempotencyKey: "free-2", Extensions: commerce.Extensions{offKey: int64(1)}})
	assert.Equal(t, "extensions", fieldOf(err))
}

func testGroupGiftBadInput(t *testing.T, h Harness) {
	e := newGroupEnv(t, h, nil)
	send := func(mut func(*gifting.SendParams)) error {
		p := gifting.SendParams{MerchantID: e.m, Kind: gifting.Group, Group: "chat", Giver: "giver", SKU: e.shop.SKU(0, 0), Quantity: 3, IdempotencyKey: "k"}
		mut(&p)
		_, _, err := e.gs.Send(e.ctx, p)
		return err
	}
	assert.Equal(t, "quantity", fieldOf(send(func(p *gifting.SendParams) { p.Kind, p.Quantity = gifting.Lottery, 0 })), "a lottery with zero prizes")
	assert.Equal(t, "quantity", fieldOf(send(func(p *gifting.SendParams) { p.Quantity = commerce.MaxGiftSlots + 1 })))
	assert.Equal(t, "group", fieldOf(send(func(p *gifting.SendParams) { p.Group = "" })))
	assert.Equal(t, "lottery", fieldOf(send(func(p *gifting.SendParams) { p.Kind = gifting.Lottery })), "a lottery needs its draw")
	assert.Equal(t, "lottery.draw_at", fieldOf(send(func(p *gifting.SendParams) {
		p.Kind, p.Lottery = gifting.Lottery, &gifting.LotteryParams{DrawAt: Epoch.Add(-time.Minute)}
	})))
	assert.Equal(t, "lottery.rule", fieldOf(send(func(p *gifting.SendParams) {
		p.Kind, p.Lottery = gifting.Lottery, &gifting.LotteryParams{DrawAt: Epoch.Add(time.Hour), Eligibility: gifting.ByRule, Rule: "nope"}
	})))
	assert.Equal(t, "kind", fieldOf(send(func(p *gifting.SendParams) { p.Kind = "party" })))
	assert.Equal(t, "kind", fieldOf(send(func(p *gifting.SendParams) { p.Kind, p.Quantity = gifting.Single, 1 })), "one friend, no group")

	g, o := e.sendGroup(gifting.SendParams{Quantity: 2})
	e.pay(o)
	_, err := e.gs.Accept(e.ctx, e.m, e.token(g), "friend", *Address())
	assert.Equal(t, "token", fieldOf(err), "a group gift is claimed, not accepted")
	single, so := e.send("giver", "single")
	e.pay(so)
	_, err = e.claim(single, "friend")
	assert.Equal(t, "token", fieldOf(err), "a one-friend gift is accepted, not claimed")
	_, err = e.gs.Claim(e.ctx, gifting.ClaimParams{MerchantID: e.m, Token: e.token(g), Claimer: "friend"})
	assert.Equal(t, "address.name", fieldOf(err), "a claim needs an address")
	slots, err := e.store.GiftSlots(e.ctx, e.m, g.ID)
	require.NoError(t, err)
	for _, s := range slots {
		assert.Empty(t, s.Claimer, "nothing taken by refused claims")
	}
	_, err = e.gs.Claim(e.ctx, gifting.ClaimParams{MerchantID: e.m, Token: e.token(g) + "x", Claimer: "friend", Address: *Address()})
	assert.ErrorIs(t, err, gifting.ErrBadToken)
}

// testGroupClaimRacingExpiry: claims and RunDue race at the expiry
// boundary; a claim counts only if it beat the expiry, and claimed plus
// refunded is what was paid either way.
func testGroupClaimRacingExpiry(t *testing.T, h Harness) {
	for _, late := range []bool{false, true} {
		e := newGroupEnv(t, h, nil)
		g, o := e.sendGroup(gifting.SendParams{Quantity: 6, Extensions: commerce.Extensions{offKey: int64(777)}})
		e.pay(o)
		if late {
			e.advance(24 * time.Hour)
		} else {
			e.advance(24*time.Hour - time.Microsecond)
		}
		var wg sync.WaitGroup
		won := make([]bool, 4)
		for i := range won {
			wg.Go(func() {
				_, err := e.claim(g, fmt.Sprintf("m%d", i))
				won[i] = err == nil
			})
			wg.Go(func() { _, _ = e.engine.RunDue(e.ctx) })
		}
		wg.Wait()
		if !late {
			e.advance(time.Hour)
		}
		runDue(t, e.engine, e.ctx)
		order := e.order(o.ID)
		claimed := 0
		for _, c := range order.Gift.Claims {
			if c.Recipient != "" {
				claimed++
			}
		}
		wins := 0
		for _, w := range won {
			if w {
				wins++
			}
		}
		assert.Equal(t, wins, claimed, "every successful claim ships, no other")
		if late {
			assert.Zero(t, wins, "at its expiry the gift is closed")
			assert.Equal(t, commerce.StatusRefunded, order.Status)
		} else {
			assert.Equal(t, 4, wins)
		}
		assert.True(t, claimedPlusRefunded(order).Equal(order.Total), "claimed + refunded = paid")
		require.Len(t, order.Refunds, 1, "one refund however many RunDue ran")
	}
}
