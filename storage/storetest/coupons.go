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

	"golang.org/x/text/currency"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	. "github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/coupons"
)

func runCoupons(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"ClaimLimitsConcurrent", testClaimLimitsConcurrent},
		{"ClaimIdempotentConcurrent", testClaimIdempotentConcurrent},
		{"RedeemOnceConcurrent", testRedeemOnceConcurrent},
		{"BestCouponsConcurrent", testBestCouponsConcurrent},
		{"CheckoutReleaseReturn", testCouponCheckoutLifecycle},
		{"ReleaseRacingRunDue", testReleaseRacingRunDue},
		{"Codes", testCouponCodes},
		{"Transfer", testCouponTransfer},
		{"ExpiryAndReminders", testCouponExpiry},
		{"Channels", testCouponChannels},
		{"BadInput", testCouponBadInput},
		{"RefundBelowThreshold", testRefundBelowThreshold},
		{"BatchStatus", testBatchStatus},
		{"NearAPlace", testCouponNearAPlace},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

// couponEnv is a world with the Engine (coupons wired into checkout).
type couponEnv struct {
	*env
	engine *minishop.Engine
	cp     *coupons.Service
	shop   *Shop
}

func newCouponEnv(t *testing.T, h Harness, opts ...func(*coupons.Config)) *couponEnv {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), store: h.New(t), clock: NewClock(Epoch)}
	engine, err := minishop.New(e.store, minishop.WithClock(e.clock), minishop.WithIDs(&SeqIDs{}),
		minishop.WithCoupons(func(c *coupons.Config) {
			c.Secret = []byte("test secret")
			for _, o := range opts {
				o(c)
			}
		}))
	require.NoError(t, err)
	e.svc = engine.Commerce
	ce := &couponEnv{env: e, engine: engine, cp: engine.Coupons}
	ce.shop = NewShop(t, e.svc, "券店", commerce.ShippingRule{Flat: CNY("8"), FreeOver: CNY("199")},
		ProductSpec{Title: "茶", Prices: []string{"60.00"}, Stock: 100},
		ProductSpec{Title: "杯", Prices: []string{"40.00"}, Stock: 100})
	return ce
}

func (e *couponEnv) batch(p coupons.BatchParams) *coupons.Batch {
	e.t.Helper()
	p.MerchantID, p.Activate = e.shop.Merchant.ID, true
	if p.Name == "" {
		p.Name = "满99减15"
	}
	if p.Kind == "" {
		p.Kind, p.Amount, p.MinAmount = coupons.ThresholdOff, CNY("15"), CNY("99")
	}
	if p.Total == 0 {
		p.Total = 100
	}
	if p.Validity == (coupons.Validity{}) {
		p.Validity = coupons.Validity{Days: 7}
	}
	b, err := e.cp.CreateBatch(e.ctx, p)
	require.NoError(e.t, err)
	return b
}

func (e *couponEnv) claim(b *coupons.Batch, customer, req string) (*coupons.Coupon, error) {
	return e.cp.Claim(e.ctx, coupons.ClaimParams{MerchantID: b.MerchantID, BatchID: b.ID, Customer: commerce.CustomerID(customer), RequestID: req})
}

func (e *couponEnv) events(typ string) int {
	e.t.Helper()
	evs, err := e.store.ReadEvents(e.ctx, 0, 1000)
	require.NoError(e.t, err)
	n := 0
	for _, ev := range evs {
		if ev.Type == typ {
			n++
		}
	}
	return n
}

func (e *couponEnv) coupon(id coupons.CouponID) *coupons.Coupon {
	e.t.Helper()
	c, err := e.store.GetCoupon(e.ctx, e.shop.Merchant.ID, id)
	require.NoError(e.t, err)
	return c
}

// 64 goroutines from 20 customers claim a batch of 10 with 2 per person:
// exactly 10 coupons, nobody above 2.
func testClaimLimitsConcurrent(t *testing.T, h Harness) {
	e := newCouponEnv(t, h)
	b := e.batch(coupons.BatchParams{Total: 10, PerPerson: 2})
	var mu sync.Mutex
	per := map[string]int{}
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			customer := fmt.Sprintf("c%d", i%20)
			_, err := e.claim(b, customer, fmt.Sprintf("r%d", i))
			switch {
			case err == nil:
				mu.Lock()
				per[customer]++
				mu.Unlock()
			case errors.Is(err, coupons.ErrSoldOut), errors.Is(err, coupons.ErrLimitReached):
			default:
				t.Errorf("claim %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	total := 0
	for c, n := range per {
		assert.LessOrEqual(t, n, 2, "customer %s holds %d", c, n)
		total += n
	}
	assert.Equal(t, 10, total)
	got, err := e.cp.GetBatch(e.ctx, b.MerchantID, b.ID)
	require.NoError(t, err)
	assert.EqualValues(t, 10, got.Claimed)
	assert.Equal(t, 10, e.events("coupon.claimed"))
}

func testClaimIdempotentConcurrent(t *testing.T, h Harness) {
	e := newCouponEnv(t, h)
	b := e.batch(coupons.BatchParams{Total: 10, PerPerson: 5})
	ids := make([]coupons.CouponID, h.Concurrency)
	var wg sync.WaitGroup
	for i := range h.Concurrency {
		wg.Go(func() {
			c, err := e.claim(b, "alice", "same-request")
			if assert.NoError(t, err) {
				ids[i] = c.ID
			}
		})
	}
	wg.Wait()
	for _, id := range ids {
		assert.Equal(t, ids[0], id, "the same request gives the same coupon")
	}
	w, err := e.cp.Wallet(e.ctx, "alice", "")
	require.NoError(t, err)
	assert.Len(t, w, 1)
	got, err := e.cp.GetBatch(e.ctx, b.MerchantID, b.ID)
	require.NoError(t, err)
	assert.EqualValues(t, 1, got.Claimed)
}

func (e *couponEnv) buy(customer, key string, ext commerce.Extensions) (*commerce.Order, error) {
	return e.svc.Checkout(e.ctx, commerce.CheckoutParams{MerchantID: e.shop.Merchant.ID, CustomerID: commerce.CustomerID(customer),
		IdempotencyKey: key, ShippingAddress: Address(), Extensions: ext,
		Lines: []commerce.LineItem{{SKU: e.shop.SKU(0, 0), Quantity: 1}, {SKU: e.shop.SKU(1, 0), Quantity: 1}}})
}

// One coupon in many concurrent checkouts: exactly one order uses it.
func testRedeemOnceConcurrent(t *testing.T, h Harness) {
	e := newCouponEnv(t, h)
	b := e.batch(coupons.BatchParams{})
	c, err := e.claim(b, "alice", "r1")
	require.NoError(t, err)
	var used, plain, refused atomic.Int32
	var wg sync.WaitGroup
	n := max(h.Concurrency, 32)
	for i := range n {
		wg.Go(func() {
			o, err := e.buy("alice", fmt.Sprintf("k%d", i), commerce.With(coupons.Select(c.ID)))
			switch {
			case err == nil && len(o.Adjustments) == 1:
				used.Add(1)
			case err == nil:
				plain.Add(1)
			case errors.Is(err, coupons.ErrCouponUnavailable):
				refused.Add(1)
				assert.Equal(t, commerce.KindFailedPrecondition, commerce.KindOf(err), "checkout %d: %v", i, err)
				assert.False(t, commerce.Retryable(err), "checkout %d: the coupon stays used: %v", i, err)
			default:
				t.Errorf("checkout %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	assert.EqualValues(t, 1, used.Load(), "exactly one order uses the coupon")
	assert.EqualValues(t, 0, plain.Load(), "a chosen coupon is never silently dropped")
	assert.EqualValues(t, n-1, refused.Load(), "every other checkout is told the named coupon is gone")
	cp := e.coupon(c.ID)
	assert.Equal(t, coupons.Used, cp.Status)
	assert.Equal(t, 1, e.events("coupon.redeemed"))
}

// One customer holds four coupons and runs concurrent checkouts naming
// none: each checkout picks the best coupon still usable, so a coupon
// redeemed by a concurrent checkout is re-picked from what is left, never
// a failure. Every checkout succeeds, each coupon serves one order, an order
// with a coupon costs exactly that coupon less, and the others pay full
// price.
func testBestCouponsConcurrent(t *testing.T, h Harness) {
	e := newCouponEnv(t, h)
	// Exclusive, so each order takes one coupon; the amounts differ, so all
	// checkouts want the same one first (the most contention) and an
	// order's total tells which coupon it took.
	amounts := map[coupons.CouponID]string{}
	for i, off := range []string{"15", "12", "10", "8"} {
		b := e.batch(coupons.BatchParams{Name: "减" + off, Kind: coupons.ThresholdOff, Amount: CNY(off), MinAmount: CNY("99"), Exclusive: true})
		c, err := e.claim(b, "alice", fmt.Sprintf("r%d", i))
		require.NoError(t, err)
		amounts[c.ID] = off
	}
	const full = "CNY 108.00" // 60 + 40 + 8 delivery
	n := max(h.Concurrency, 16)
	orders := make([]*commerce.Order, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			o, err := e.buy("alice", fmt.Sprintf("k%d", i), nil)
			if assert.NoError(t, err, "checkout %d: the customer named no coupon", i) {
				orders[i] = o
			}
		})
	}
	wg.Wait()
	byCoupon := map[coupons.CouponID]commerce.OrderID{}
	withCoupon := 0
	for i, o := range orders {
		if o == nil {
			continue
		}
		got, err := e.svc.GetOrder(e.ctx, o.MerchantID, o.ID)
		require.NoError(t, err)
		sameOrder(t, o, got, "checkout %d: the order returned is the order stored", i)
		if len(o.Adjustments) == 0 {
			assert.Equal(t, full, o.Total.String(), "checkout %d without a coupon pays full price", i)
			continue
		}
		require.Len(t, o.Adjustments, 1, "checkout %d: exclusive coupons", i)
		var id coupons.CouponID
		require.NoError(t, id.UnmarshalText([]byte(o.Adjustments[0].Ref)))
		off, ok := amounts[id]
		require.True(t, ok, "checkout %d used coupon %s", i, id)
		assert.Equal(t, "CNY "+off+".00", o.Adjustments[0].Amount.String(), "checkout %d", i)
		want, err := CNY("108").Sub(CNY(off))
		require.NoError(t, err)
		assert.True(t, want.Equal(o.Total), "checkout %d with coupon %s (%s off) totals %s", i, id, off, o.Total)
		prev, dup := byCoupon[id]
		assert.False(t, dup, "coupon %s serves orders %s and %s", id, prev, o.ID)
		byCoupon[id] = o.ID
		withCoupon++
	}
	assert.Equal(t, len(amounts), withCoupon, "every coupon serves one order")
	for id := range amounts {
		cp := e.coupon(id)
		assert.Equal(t, coupons.Used, cp.Status, "coupon %s", id)
		assert.Equal(t, byCoupon[id], cp.OrderID, "coupon %s is redeemed by the order priced with it", id)
	}
	assert.Equal(t, len(amounts), e.events("coupon.redeemed"))
	assert.Equal(t, n, e.events("order.created"))
}

func testCouponCheckoutLifecycle(t *testing.T, h Harness) {
	e := newCouponEnv(t, h)
	order := e.batch(coupons.BatchParams{})
	item := e.batch(coupons.BatchParams{Name: "茶减5", Kind: coupons.AmountOff, Amount: CNY("5"),
		Scope: coupons.Scope{Products: []commerce.ProductID{e.shop.Products[0].ID}}})
	c1, err := e.claim(order, "alice", "r1")
	require.NoError(t, err)
	c2, err := e.claim(item, "alice", "r2")
	require.NoError(t, err)

	// No selection: the best combination. 60 + 40 = 100 (+8 delivery). The
	// tea coupon (5 off) would leave 95, short of the 99 threshold, so the
	// best is the order coupon alone: 15 off.
	q, err := e.svc.Quote(e.ctx, commerce.QuoteParams{MerchantID: e.shop.Merchant.ID, CustomerID: "alice",
		Lines: []commerce.LineItem{{SKU: e.shop.SKU(0, 0), Quantity: 1}, {SKU: e.shop.SKU(1, 0), Quantity: 1}}})
	require.NoError(t, err)
	require.Len(t, q.Adjustments, 1)
	assert.Equal(t, "CNY 15.00", q.Adjustments[0].Amount.String())
	assert.Equal(t, c1.ID.String(), q.Adjustments[0].Ref)

	// Choosing the order coupon alone takes 15 off, split 9/6 by price.
	o, err := e.buy("alice", "k1", commerce.With(coupons.Select(c1.ID)))
	require.NoError(t, err)
	require.Len(t, o.Adjustments, 1)
	assert.Equal(t, "CNY 15.00", o.Adjustments[0].Amount.String())
	assert.Equal(t, "CNY 9.00", o.Lines[0].Adjustments[0].String())
	assert.Equal(t, "CNY 6.00", o.Lines[1].Adjustments[0].String())
	assert.Equal(t, "CNY 93.00", o.Total.String(), "100 - 15 + 8 delivery")
	assert.Equal(t, coupons.Used, e.coupon(c1.ID).Status)
	assert.Equal(t, o.ID, e.coupon(c1.ID).OrderID)

	// Cancelled before payment: the coupon comes back, once.
	_, err = e.svc.Cancel(e.ctx, o.MerchantID, o.ID, "")
	require.NoError(t, err)
	assert.Equal(t, coupons.Valid, e.coupon(c1.ID).Status)
	assert.Equal(t, 1, e.events("coupon.released"))

	// Paid, then refunded in full before shipping: returned to the wallet.
	o, err = e.buy("alice", "k2", commerce.With(coupons.Select(c1.ID)))
	require.NoError(t, err)
	o, err = e.svc.MarkPaid(e.ctx, commerce.MarkPaidParams{MerchantID: o.MerchantID, OrderID: o.ID, PaymentRef: "p1", Amount: o.Total})
	require.NoError(t, err)
	_, err = e.svc.Refund(e.ctx, commerce.RefundParams{All: true, MerchantID: o.MerchantID, OrderID: o.ID, IdempotencyKey: "all"})
	require.NoError(t, err)
	assert.Equal(t, coupons.Valid, e.coupon(c1.ID).Status)
	assert.Equal(t, 1, e.events("coupon.returned"))

	// A partial refund keeps the coupon used.
	o, err = e.buy("alice", "k3", commerce.With(coupons.Select(c2.ID)))
	require.NoError(t, err)
	o, err = e.svc.MarkPaid(e.ctx, commerce.MarkPaidParams{MerchantID: o.MerchantID, OrderID: o.ID, PaymentRef: "p2", Amount: o.Total})
	require.NoError(t, err)
	_, err = e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: o.MerchantID, OrderID: o.ID, IdempotencyKey: "part",
		Items: []commerce.RefundItem{{Line: 1, Quantity: 1}}})
	require.NoError(t, err)
	assert.Equal(t, coupons.Used, e.coupon(c2.ID).Status)
	got, err := e.svc.GetOrder(e.ctx, o.MerchantID, o.ID)
	require.NoError(t, err)
	assert.Equal(t, "CNY 40.00", got.Refunded().String(), "the cup carried none of the tea coupon")
}

// An unpaid order's timeout (RunDue) races the customer's cancel: the
// coupon is released exactly once.
func testReleaseRacingRunDue(t *testing.T, h Harness) {
	e := newCouponEnv(t, h)
	b := e.batch(coupons.BatchParams{})
	c, err := e.claim(b, "alice", "r1")
	require.NoError(t, err)
	o, err := e.buy("alice", "k1", commerce.With(coupons.Select(c.ID)))
	require.NoError(t, err)
	e.advance(31 * time.Minute)
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = e.engine.RunDue(e.ctx) })
	wg.Go(func() { _, _ = e.svc.Cancel(e.ctx, o.MerchantID, o.ID, "") })
	wg.Wait()
	assert.Equal(t, coupons.Valid, e.coupon(c.ID).Status)
	assert.Equal(t, 1, e.events("coupon.released"))
}

func testCouponCodes(t *testing.T, h Harness) {
	e := newCouponEnv(t, h)
	b := e.batch(coupons.BatchParams{Channel: coupons.CodesOnly, Total: 3})
	codes, err := e.cp.GenerateCodes(e.ctx, b.MerchantID, b.ID, 5)
	require.NoError(t, err)
	require.Len(t, codes, 5)
	_, err = e.claim(b, "alice", "direct")
	assert.ErrorIs(t, err, commerce.ErrFailedPrecondition, "a codes-only batch is not claimed directly")

	c, err := e.cp.ClaimCode(e.ctx, coupons.ClaimCodeParams{Code: codes[0], Customer: "alice", RequestID: "r1"})
	require.NoError(t, err)
	assert.Equal(t, codes[0], c.Code)
	again, err := e.cp.ClaimCode(e.ctx, coupons.ClaimCodeParams{Code: codes[0], Customer: "alice", RequestID: "r1"})
	require.NoError(t, err)
	assert.Equal(t, c.ID, again.ID, "the same request gives the same coupon")
	_, err = e.cp.ClaimCode(e.ctx, coupons.ClaimCodeParams{Code: codes[0], Customer: "bob", RequestID: "r1"})
	assert.ErrorIs(t, err, coupons.ErrCodeUsed)

	typo := []byte(codes[1])
	typo[3] = map[bool]byte{true: 'A', false: 'B'}[typo[3] != 'A']
	_, err = e.cp.ClaimCode(e.ctx, coupons.ClaimCodeParams{Code: string(typo), Customer: "bob", RequestID: "r2"})
	assert.ErrorIs(t, err, coupons.ErrBadCode)
	assert.Equal(t, "code", fieldOf(err))

	// The batch's total still bounds code claims: 3 of 5 codes.
	for i, code := range codes[1:] {
		_, err := e.cp.ClaimCode(e.ctx, coupons.ClaimCodeParams{Code: code, Customer: commerce.CustomerID(fmt.Sprintf("c%d", i)), RequestID: "r"})
		if i < 2 {
			require.NoError(t, err)
		} else {
			require.ErrorIs(t, err, coupons.ErrSoldOut)
		}
	}
}

func testCouponTransfer(t *testing.T, h Harness) {
	e := newCouponEnv(t, h)
	b := e.batch(coupons.BatchParams{Transferable: true})
	c, err := e.claim(b, "alice", "r1")
	require.NoError(t, err)
	_, err = e.cp.TransferToken(e.ctx, b.MerchantID, c.ID, "mallory")
	assert.ErrorIs(t, err, coupons.ErrCouponUnavailable, "only the holder hands a coupon on")
	tok, err := e.cp.TransferToken(e.ctx, b.MerchantID, c.ID, "alice")
	require.NoError(t, err)
	e.advance(2 * time.Hour)
	got, err := e.cp.AcceptTransfer(e.ctx, tok, "bob", "t1")
	require.NoError(t, err)
	assert.Equal(t, commerce.CustomerID("bob"), got.Customer)
	assert.Equal(t, c.ValidUntil, got.ValidUntil, "the original expiry stays")
	assert.Equal(t, coupons.Transferred, e.coupon(c.ID).Status)
	again, err := e.cp.AcceptTransfer(e.ctx, tok, "bob", "t1")
	require.NoError(t, err)
	assert.Equal(t, got.ID, again.ID)
	_, err = e.cp.AcceptTransfer(e.ctx, tok, "carol", "t2")
	assert.ErrorIs(t, err, coupons.ErrCouponUnavailable, "a coupon is handed on once")

	nb := e.batch(coupons.BatchParams{})
	nc, err := e.claim(nb, "alice", "r2")
	require.NoError(t, err)
	_, err = e.cp.TransferToken(e.ctx, nb.MerchantID, nc.ID, "alice")
	assert.ErrorIs(t, err, commerce.ErrFailedPrecondition, "the batch is not transferable")
}

func testCouponExpiry(t *testing.T, h Harness) {
	e := newCouponEnv(t, h)
	b := e.batch(coupons.BatchParams{Validity: coupons.Validity{Days: 2}})
	c, err := e.claim(b, "alice", "r1")
	require.NoError(t, err)
	assert.Equal(t, e.clock.Now().AddDate(0, 0, 2), c.ValidUntil)

	e.advance(25 * time.Hour) // less than a day left: reminded once
	ex, rem, err := e.cp.RunDue(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, 0, ex)
	assert.Equal(t, 1, rem)
	_, rem, err = e.cp.RunDue(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, 0, rem, "reminded once")

	e.advance(24 * time.Hour)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { _, _, _ = e.cp.RunDue(e.ctx) })
	}
	wg.Wait()
	assert.Equal(t, coupons.Expired, e.coupon(c.ID).Status)
	assert.Equal(t, 1, e.events("coupon.expired"), "expired once however many RunDue ran")
	assert.Equal(t, 1, e.events("coupon.expiring"))
	w, err := e.cp.Wallet(e.ctx, "alice", coupons.Expired)
	require.NoError(t, err)
	assert.Len(t, w, 1)
}

func testCouponChannels(t *testing.T, h Harness) {
	e := newCouponEnv(t, h)
	m := e.shop.Merchant.ID
	promo := e.batch(coupons.BatchParams{Channel: coupons.PromoterOnly, Promoter: "p-lily"})
	_, err := e.claim(promo, "alice", "r1")
	assert.ErrorIs(t, err, coupons.ErrBadToken)
	_, err = e.cp.Claim(e.ctx, coupons.ClaimParams{MerchantID: m, BatchID: promo.ID, Customer: "alice", RequestID: "r1",
		Token: e.cp.PromoterToken(m, promo.ID, "p-other")})
	assert.ErrorIs(t, err, coupons.ErrBadToken, "another promoter's link")
	c, err := e.cp.Claim(e.ctx, coupons.ClaimParams{MerchantID: m, BatchID: promo.ID, Customer: "alice", RequestID: "r1",
		Token: e.cp.PromoterToken(m, promo.ID, "p-lily")})
	require.NoError(t, err)
	assert.Equal(t, "p-lily", c.Promoter)
	o, err := e.buy("alice", "k1", commerce.With(coupons.Select(c.ID)))
	require.NoError(t, err)
	assert.Equal(t, "p-lily", o.Metadata["promoter"], "the redeeming order is attributed")

	group := e.batch(coupons.BatchParams{Channel: coupons.GroupOnly, PerPerson: 5})
	tok := e.cp.GroupToken(m, group.ID, "chat-42")
	_, err = e.cp.Claim(e.ctx, coupons.ClaimParams{MerchantID: m, BatchID: group.ID, Customer: "bob", RequestID: "g1", Token: tok})
	require.NoError(t, err)
	_, err = e.cp.Claim(e.ctx, coupons.ClaimParams{MerchantID: m, BatchID: group.ID, Customer: "bob", RequestID: "g2", Token: tok})
	assert.ErrorIs(t, err, coupons.ErrLimitReached, "one per person per group")
	_, err = e.cp.Claim(e.ctx, coupons.ClaimParams{MerchantID: m, BatchID: group.ID, Customer: "bob", RequestID: "g3",
		Token: e.cp.GroupToken(m, group.ID, "chat-7")})
	require.NoError(t, err, "another group")
	// The same person racing for a group's coupon with different requests
	// gets one.
	var got atomic.Int32
	var wg sync.WaitGroup
	tok9 := e.cp.GroupToken(m, group.ID, "chat-9")
	for i := range h.Concurrency {
		wg.Go(func() {
			_, err := e.cp.Claim(e.ctx, coupons.ClaimParams{MerchantID: m, BatchID: group.ID, Customer: "erin",
				RequestID: fmt.Sprintf("race-%d", i), Token: tok9})
			if err == nil {
				got.Add(1)
			} else if !errors.Is(err, coupons.ErrLimitReached) {
				t.Errorf("group claim %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	assert.EqualValues(t, 1, got.Load(), "one coupon per person per group under concurrency")
	_, err = e.cp.Claim(e.ctx, coupons.ClaimParams{MerchantID: m, BatchID: group.ID, Customer: "bob", RequestID: "g4", Token: tok + "x"})
	assert.ErrorIs(t, err, coupons.ErrBadToken)

	shared := e.batch(coupons.BatchParams{Shareable: true})
	c, err = e.cp.Claim(e.ctx, coupons.ClaimParams{MerchantID: m, BatchID: shared.ID, Customer: "carol", RequestID: "s1",
		Token: e.cp.ShareToken(m, shared.ID, "alice")})
	require.NoError(t, err)
	assert.Equal(t, commerce.CustomerID("alice"), c.SharedBy)

	grant := e.batch(coupons.BatchParams{Channel: coupons.GrantOnly})
	_, err = e.claim(grant, "dave", "r1")
	assert.ErrorIs(t, err, commerce.ErrFailedPrecondition)
	c, err = e.cp.Grant(e.ctx, coupons.GrantParams{MerchantID: m, BatchID: grant.ID, Customer: "dave", RequestID: "sorry-1"})
	require.NoError(t, err)
	assert.True(t, c.Granted)
}

func testCouponBadInput(t *testing.T, h Harness) {
	e := newCouponEnv(t, h)
	m := e.shop.Merchant.ID
	base := func() coupons.BatchParams {
		return coupons.BatchParams{MerchantID: m, Name: "券", Kind: coupons.AmountOff, Amount: CNY("5"), Total: 10,
			Validity: coupons.Validity{Days: 3}}
	}
	cases := map[string]func(*coupons.BatchParams){
		"amount":                 func(p *coupons.BatchParams) { p.Amount = CNY("-1") },
		"name":                   func(p *coupons.BatchParams) { p.Name = " " },
		"percent_off":            func(p *coupons.BatchParams) { p.Kind, p.PercentOff = coupons.PercentOff, commerce.PPM(1_000_100) },
		"min_count":              func(p *coupons.BatchParams) { p.Kind, p.MinAmount, p.MinCount = coupons.ThresholdOff, CNY("10"), 2 },
		"claim_end":              func(p *coupons.BatchParams) { p.ClaimStart, p.ClaimEnd = Epoch, Epoch.Add(-time.Hour) },
		"validity.end":           func(p *coupons.BatchParams) { p.Validity = coupons.Validity{Start: Epoch, End: Epoch} },
		"scope.products[0]":      func(p *coupons.BatchParams) { p.Scope.Products = []commerce.ProductID{{}} },
		"total":                  func(p *coupons.BatchParams) { p.Total = 0 },
		"kind":                   func(p *coupons.BatchParams) { p.Kind = "magic" },
		"promoter":               func(p *coupons.BatchParams) { p.Channel = coupons.PromoterOnly },
		"amount (currency)":      func(p *coupons.BatchParams) { p.Amount = commerce.MustParseMoney("5", currency.USD) },
		"buy_n":                  func(p *coupons.BatchParams) { p.Kind = coupons.BuyNGetM },
		"scope (exchange item)":  func(p *coupons.BatchParams) { p.Kind = coupons.ExchangePrice },
		"validity (no days)":     func(p *coupons.BatchParams) { p.Validity = coupons.Validity{} },
		"per_person (negative)":  func(p *coupons.BatchParams) { p.PerPerson = -1 },
		"min_amount (negative)":  func(p *coupons.BatchParams) { p.Kind, p.MinAmount = coupons.ThresholdOff, CNY("-5") },
		"merchant_id (required)": func(p *coupons.BatchParams) { p.MerchantID = commerce.MerchantID{} },
	}
	for name, mutate := range cases {
		p := base()
		mutate(&p)
		_, err := e.cp.CreateBatch(e.ctx, p)
		require.Error(t, err, name)
		field, _, _ := strings.Cut(name, " ")
		assert.Equal(t, field, fieldOf(err), "%s: %v", name, err)
	}
	bs, err := e.store.ListBatches(e.ctx, m, coupons.BatchID{}, 100)
	require.NoError(t, err)
	assert.Empty(t, bs, "nothing written")

	// Another merchant's coupon, another customer's coupon.
	b := e.batch(coupons.BatchParams{})
	c, err := e.claim(b, "alice", "r1")
	require.NoError(t, err)
	_, err = e.buy("bob", "k1", commerce.With(coupons.Select(c.ID)))
	assert.ErrorIs(t, err, coupons.ErrCouponUnavailable)
	other := NewShop(t, e.svc, "别家", freeShipping, ProductSpec{Title: "x", Prices: []string{"100"}, Stock: 5})
	_, err = e.svc.Checkout(e.ctx, commerce.CheckoutParams{MerchantID: other.Merchant.ID, CustomerID: "alice", IdempotencyKey: "k2",
		ShippingAddress: Address(), Extensions: commerce.With(coupons.Select(c.ID)), Lines: []commerce.LineItem{{SKU: other.SKU(0, 0), Quantity: 1}}})
	assert.ErrorIs(t, err, commerce.ErrNotFound, "a coupon of another merchant is not found at this one")
	_, err = e.cp.Claim(e.ctx, coupons.ClaimParams{MerchantID: m, BatchID: b.ID, Customer: "", RequestID: "r"})
	assert.Equal(t, "customer", fieldOf(err))
	_, err = e.cp.Claim(e.ctx, coupons.ClaimParams{MerchantID: m, BatchID: b.ID, Customer: "x", RequestID: ""})
	assert.Equal(t, "request_id", fieldOf(err))
	_, err = e.cp.ClaimCode(e.ctx, coupons.ClaimCodeParams{Code: "", Customer: "x", RequestID: "r"})
	assert.Equal(t, "code", fieldOf(err))
}

// Both threshold policies on one order: 60 + 40 with 15 off over 99 (split
// 9 / 6) and 8.00 delivery, paid 93.00. Refunding the cup leaves the tea
// alone, below 99.
func testRefundBelowThreshold(t *testing.T, h Harness) {
	for _, reduce := range []bool{false, true} {
		e := newCouponEnv(t, h, func(c *coupons.Config) { c.ReduceRefunds = reduce })
		b := e.batch(coupons.BatchParams{})
		c, err := e.claim(b, "alice", "r1")
		require.NoError(t, err)
		o, err := e.buy("alice", "k1", commerce.With(coupons.Select(c.ID)))
		require.NoError(t, err)
		o, err = e.svc.MarkPaid(e.ctx, commerce.MarkPaidParams{MerchantID: o.MerchantID, OrderID: o.ID, PaymentRef: "p1", Amount: o.Total})
		require.NoError(t, err)
		require.Equal(t, "CNY 93.00", o.Total.String())
		cup, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: o.MerchantID, OrderID: o.ID, IdempotencyKey: "cup",
			Items: []commerce.RefundItem{{Line: 1, Quantity: 1}}})
		require.NoError(t, err)
		tea, err := e.svc.Refund(e.ctx, commerce.RefundParams{All: true, MerchantID: o.MerchantID, OrderID: o.ID, IdempotencyKey: "tea"})
		require.NoError(t, err)
		if reduce {
			// The tea kept is no longer worth the coupon: its 9.00 share is
			// held back, and given back when the tea comes back too.
			assert.Equal(t, "CNY 25.00", cup.Amount.String(), "34.00 less the tea's 9.00 share")
			assert.Equal(t, "CNY 9.00", cup.Withheld.String())
			assert.Equal(t, "CNY 68.00", tea.Amount.String(), "51.00 + the 9.00 held + 8.00 delivery")
		} else {
			assert.Equal(t, "CNY 34.00", cup.Amount.String(), "as allocated: 40.00 less its 6.00 share")
			assert.Equal(t, "CNY 59.00", tea.Amount.String(), "51.00 + 8.00 delivery")
		}
		got, err := e.svc.GetOrder(e.ctx, o.MerchantID, o.ID)
		require.NoError(t, err)
		assert.Equal(t, "CNY 93.00", got.Refunded().String(), "a full refund returns everything paid, either way")
	}
}

// Paused batches take no claims but their coupons still work; voided
// batches' coupons no longer work; a draft cannot be claimed.
func testBatchStatus(t *testing.T, h Harness) {
	e := newCouponEnv(t, h)
	b := e.batch(coupons.BatchParams{})
	c, err := e.claim(b, "alice", "r1")
	require.NoError(t, err)
	_, err = e.cp.SetBatchStatus(e.ctx, b.MerchantID, b.ID, coupons.Paused)
	require.NoError(t, err)
	_, err = e.claim(b, "bob", "r1")
	assert.ErrorIs(t, err, commerce.ErrFailedPrecondition, "paused: no claims")
	q, err := e.svc.Quote(e.ctx, commerce.QuoteParams{MerchantID: e.shop.Merchant.ID, CustomerID: "alice", Extensions: commerce.With(coupons.Select(c.ID)),
		Lines: []commerce.LineItem{{SKU: e.shop.SKU(0, 0), Quantity: 1}, {SKU: e.shop.SKU(1, 0), Quantity: 1}}})
	require.NoError(t, err)
	assert.Len(t, q.Adjustments, 1, "a paused batch's coupons still work")
	_, err = e.cp.SetBatchStatus(e.ctx, b.MerchantID, b.ID, coupons.Active)
	require.NoError(t, err)
	_, err = e.claim(b, "bob", "r1")
	require.NoError(t, err)
	_, err = e.cp.SetBatchStatus(e.ctx, b.MerchantID, b.ID, coupons.Voided)
	require.NoError(t, err)
	_, err = e.buy("alice", "k1", commerce.With(coupons.Select(c.ID)))
	assert.ErrorIs(t, err, coupons.ErrCouponUnavailable, "a voided batch's coupons no longer work")
	_, err = e.cp.SetBatchStatus(e.ctx, b.MerchantID, b.ID, coupons.Active)
	assert.ErrorIs(t, err, commerce.ErrFailedPrecondition, "voided is final")

	d, err := e.cp.CreateBatch(e.ctx, coupons.BatchParams{MerchantID: e.shop.Merchant.ID, Name: "draft", Kind: coupons.AmountOff,
		Amount: CNY("1"), Total: 5, Validity: coupons.Validity{Days: 1}})
	require.NoError(t, err)
	assert.Equal(t, coupons.Draft, d.Status)
	_, err = e.claim(d, "alice", "r9")
	assert.ErrorIs(t, err, commerce.ErrFailedPrecondition, "a draft takes no claims")
}

// A shop with a door shows its coupon to customers nearby: a batch
// restricted to 500 m of the store is claimed from 400 m, refused from
// 2 km and from a customer who does not say where they are, and keeps
// its restriction through the store; a radius of 0 or 20,000 km, or a
// latitude of 91, names its field.
func testCouponNearAPlace(t *testing.T, h Harness) {
	e := newCouponEnv(t, h)
	store := commerce.GeoPoint{Latitude: 31.2397, Longitude: 121.4998} // Lujiazui
	b := e.batch(coupons.BatchParams{Total: 10, Near: &coupons.Near{Point: store, RadiusMeters: 500, Place: "陆家嘴店"}})
	got, err := e.cp.GetBatch(e.ctx, b.MerchantID, b.ID)
	require.NoError(t, err)
	require.NotNil(t, got.Near, "the restriction is stored")
	assert.Equal(t, *b.Near, *got.Near)

	claim := func(customer string, at *commerce.GeoPoint) error {
		_, err := e.cp.Claim(e.ctx, coupons.ClaimParams{MerchantID: b.MerchantID, BatchID: b.ID, Customer: commerce.CustomerID(customer),
			RequestID: "near-" + customer, Point: at})
		return err
	}
	near := commerce.GeoPoint{Latitude: 31.2397 + 0.0036, Longitude: 121.4998} // ≈ 400 m north
	far := commerce.GeoPoint{Latitude: 31.2397 + 0.018, Longitude: 121.4998}   // ≈ 2 km north
	require.Less(t, store.DistanceTo(near), 500.0)
	require.NoError(t, claim("near", &near))
	err = claim("far", &far)
	require.Error(t, err)
	assert.Equal(t, commerce.KindFailedPrecondition, commerce.KindOf(err))
	assert.Equal(t, "point", fieldOf(err))
	assert.Contains(t, err.Error(), "陆家嘴店")
	err = claim("nowhere", nil)
	assert.Equal(t, commerce.KindFailedPrecondition, commerce.KindOf(err))
	assert.Equal(t, "point", fieldOf(err), "a customer who does not say where they are")
	err = claim("lost", &commerce.GeoPoint{Latitude: 91, Longitude: 121})
	assert.Equal(t, commerce.KindInvalid, commerce.KindOf(err))
	assert.Equal(t, "point.latitude", fieldOf(err))
	for who, want := range map[string]int{"near": 1, "far": 0, "nowhere": 0, "lost": 0} {
		w, err := e.cp.Wallet(e.ctx, commerce.CustomerID(who), "")
		require.NoError(t, err)
		assert.Len(t, w, want, "%s's wallet: only the customer nearby holds one", who)
	}
	got, err = e.cp.GetBatch(e.ctx, b.MerchantID, b.ID)
	require.NoError(t, err)
	assert.EqualValues(t, 1, got.Claimed, "refused claims take nothing from the batch")

	for _, c := range []struct {
		near  coupons.Near
		field string
	}{
		{coupons.Near{Point: store, RadiusMeters: 0}, "near.radius_meters"},
		{coupons.Near{Point: store, RadiusMeters: 20_000_000}, "near.radius_meters"},
		{coupons.Near{Point: commerce.GeoPoint{Latitude: 91}, RadiusMeters: 500}, "near.point.latitude"},
	} {
		_, err := e.cp.CreateBatch(e.ctx, coupons.BatchParams{MerchantID: e.shop.Merchant.ID, Name: "near", Kind: coupons.AmountOff,
			Amount: CNY("5"), Total: 10, Validity: coupons.Validity{Days: 7}, Near: &c.near})
		assert.Equal(t, commerce.KindInvalid, commerce.KindOf(err), c.field)
		assert.Equal(t, c.field, fieldOf(err))
	}
}
