package storetest

import (
	"fmt"
	"math/rand/v2"
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
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/fakepay"
	"github.com/minishop/minishop/storedvalue"
)

func runStoredValue(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"TopUpSpendRefund", testSVTopUpSpendRefund},
		{"SpendRace", testSVSpendRace},
		{"RefundRacingSpend", testSVRefundRacingSpend},
		{"TopUpRefundOnlyUnspent", testSVTopUpRefundUnspent},
		{"CancelReleases", testSVCancelReleases},
		{"BadInput", testSVBadInput},
		{"PhysicalCardSecrets", testSVPhysicalCard},
		{"RedeemRace", testSVRedeemRace},
		{"SecretGuessesPerCustomer", testSVGuessesPerCustomer},
		{"ECardSentToFriend", testSVECard},
		{"PrepaidRules", testSVRules},
		{"CardExpiry", testSVCardExpiry},
		{"InstrumentsAddUp", testSVInstrumentsAddUp},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

type svEnv struct {
	*env
	engine *minishop.Engine
	sv     *storedvalue.Service
	fake   *fakepay.Provider
	shop   *Shop
	m      commerce.MerchantID
	seq    atomic.Int64
	eBatch *storedvalue.CardBatch
}

// newSVEnv: a 100.00 top-up card (SKU 0,0) with a 20.00 bonus, tea at
// 60.00 and a cup at 7.00 (stock 1,000 each), paid through fakepay.
func newSVEnv(t *testing.T, h Harness) *svEnv {
	t.Helper()
	e := &env{t: t, ctx: t.Context(), store: h.New(t), clock: NewClock(Epoch)}
	fake := fakepay.New(fakepay.WithClock(e.clock.Now))
	engine, err := minishop.New(e.store, minishop.WithClock(e.clock), minishop.WithIDs(&SeqIDs{}), minishop.WithPayments(fake))
	require.NoError(t, err)
	e.svc = engine.Commerce
	se := &svEnv{env: e, engine: engine, sv: engine.StoredValue, fake: fake}
	se.shop = NewShop(t, e.svc, "储值店", freeShipping,
		ProductSpec{Title: "储值卡 100", Category: storedvalue.Category, Prices: []string{"100.00"}, Stock: 1000},
		ProductSpec{Title: "Longjing tea", Category: "tea", Prices: []string{"60.00"}, Stock: 1000},
		ProductSpec{Title: "Cup", Category: "tea", Prices: []string{"7.00"}, Stock: 1000},
		ProductSpec{Title: "礼品卡 200", Category: storedvalue.CardCategory, Prices: []string{"200.00"}, Stock: 1000},
		ProductSpec{Title: "储值 0", Category: storedvalue.Category, Prices: []string{"0.00"}, Stock: 1000})
	se.m = se.shop.Merchant.ID
	require.NoError(t, se.sv.SetTopUpPlan(e.ctx, storedvalue.TopUpPlan{MerchantID: se.m, SKU: se.shop.SKU(0, 0), Bonus: CNY("20.00")}))
	return se
}

func (e *svEnv) buy(customer string, sku commerce.SKUID, qty int64, exts ...commerce.Extension) (*commerce.Order, error) {
	return e.svc.Checkout(e.ctx, commerce.CheckoutParams{MerchantID: e.m, CustomerID: commerce.CustomerID(customer),
		Lines: []commerce.LineItem{{SKU: sku, Quantity: qty}}, ShippingAddress: Address(),
		IdempotencyKey: fmt.Sprintf("k%d", e.seq.Add(1)), Extensions: commerce.With(exts...)})
}

// pay pays the order's channel part through fakepay.
func (e *svEnv) pay(o *commerce.Order) {
	e.t.Helper()
	p, _, err := e.engine.Payments.Pay(e.ctx, payment.PayParams{MerchantID: o.MerchantID, OrderID: o.ID})
	require.NoError(e.t, err)
	require.Equal(e.t, o.Due().String(), p.Amount.String(), "the channel collects the order's due")
	req, err := e.fake.Pay(p.PaymentNo)
	require.NoError(e.t, err)
	_, err = e.engine.Payments.HandleNotification(e.ctx, "fakepay", req)
	require.NoError(e.t, err)
}

func (e *svEnv) topUp(customer string, qty int64) *commerce.Order {
	e.t.Helper()
	o, err := e.buy(customer, e.shop.SKU(0, 0), qty)
	require.NoError(e.t, err)
	e.pay(o)
	return o
}

// balance returns the account's principal and bonus, after checking that
// they are what its ledger sums to.
func (e *svEnv) balance(customer string) (string, string) {
	e.t.Helper()
	a, err := e.sv.Account(e.ctx, e.m, commerce.CustomerID(customer))
	require.NoError(e.t, err)
	p, b := e.sumStatement(a.Entries, func(after int64) ([]storedvalue.Entry, error) {
		return e.sv.Statement(e.ctx, e.m, commerce.CustomerID(customer), after, 100)
	})
	require.Equal(e.t, a.Principal.String(), p.String(), "principal is the ledger's sum")
	require.Equal(e.t, a.Bonus.String(), b.String(), "bonus is the ledger's sum")
	return a.Principal.String(), a.Bonus.String()
}

// cardBalance returns the card's balance, after checking that it is what
// the card's ledger sums to.
func (e *svEnv) cardBalance(number string) string {
	e.t.Helper()
	c, err := e.sv.GetCard(e.ctx, e.m, number)
	require.NoError(e.t, err)
	p, _ := e.sumStatement(c.Entries, func(after int64) ([]storedvalue.Entry, error) {
		return e.sv.CardStatement(e.ctx, e.m, number, after, 100)
	})
	require.Equal(e.t, c.Balance.String(), p.String(), "card %s: its balance is its ledger's sum", number)
	return c.Balance.String()
}

// sumStatement reads a statement page by page and sums its principal and
// bonus, checking that it lists all n entries.
func (e *svEnv) sumStatement(n int64, page func(after int64) ([]storedvalue.Entry, error)) (commerce.Money, commerce.Money) {
	e.t.Helper()
	p, b := commerce.Zero(currency.CNY), commerce.Zero(currency.CNY)
	var after int64
	for {
		es, err := page(after)
		require.NoError(e.t, err)
		for _, en := range es {
			p, _ = p.Add(en.Principal)
			b, _ = b.Add(en.Bonus)
			after = en.Seq
		}
		if len(es) < 100 {
			break
		}
	}
	require.Equal(e.t, n, after, "every entry is in the statement")
	return p, b
}

// ledgerSum sums the order's settlement ledger.
func (e *svEnv) ledgerSum(o *commerce.Order) string {
	e.t.Helper()
	es, err := e.engine.Payments.Ledger(e.ctx, e.m, o.ID)
	require.NoError(e.t, err)
	sum := commerce.Zero(currency.CNY)
	for _, en := range es {
		sum, _ = sum.Add(en.Amount)
	}
	return sum.String()
}

func (e *svEnv) refundAll(o *commerce.Order, key string) (*commerce.Refund, error) {
	return e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: e.m, OrderID: o.ID, All: true, IdempotencyKey: key})
}

func testSVTopUpSpendRefund(t *testing.T, h Harness) {
	e := newSVEnv(t, h)
	top := e.topUp("amy", 1)
	got, err := e.svc.GetOrder(e.ctx, e.m, top.ID)
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusShipped, got.Status, "a paid top-up is delivered at once")
	require.NotNil(t, got.Shipment)
	assert.Equal(t, commerce.ShipVirtual, got.Shipment.Method, "as virtual goods, for WeChat's shipping info")
	p, b := e.balance("amy")
	assert.Equal(t, "CNY 100.00", p)
	assert.Equal(t, "CNY 20.00", b, "充100送20")

	// 60.00 of tea, 50.00 from the balance: bonus 50 × 20/120 = 8.33.
	o, err := e.buy("amy", e.shop.SKU(1, 0), 1, storedvalue.Pay(storedvalue.FromBalance(CNY("50.00"))))
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusPendingPayment, o.Status)
	assert.Equal(t, "CNY 10.00", o.Due().String())
	e.pay(o)
	p, b = e.balance("amy")
	assert.Equal(t, "CNY 58.33", p)
	assert.Equal(t, "CNY 11.67", b)
	assert.Equal(t, "CNY 60.00", e.ledgerSum(o), "the settlement ledger has the channel's 10.00 and the balance's 50.00")

	// A partial refund of the 60.00 order returns 50/60 of it to the
	// balance and the rest through the channel.
	r, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: e.m, OrderID: o.ID, All: true, IdempotencyKey: "r1"})
	require.NoError(t, err)
	require.Len(t, r.Tenders, 1)
	assert.Equal(t, "CNY 50.00", r.Tenders[0].String())
	assert.Equal(t, "CNY 10.00", r.Channel().String())
	pays, err := e.engine.Payments.OrderPayments(e.ctx, e.m, o.ID)
	require.NoError(t, err)
	require.Len(t, pays, 2, "the channel's payment and the balance's")
	for _, pay := range pays {
		assert.Equal(t, payment.Succeeded, pay.Status)
		if pay.Tender == 0 {
			assert.Equal(t, "CNY 10.00", pay.Amount.String())
			assert.Equal(t, "CNY 10.00", pay.RefundedAmount().String(), "the channel returned its part")
			continue
		}
		assert.Equal(t, 1, pay.Tender)
		assert.Equal(t, "storedvalue", pay.Provider)
		assert.Equal(t, o.Tenders[0].Ref, pay.ProviderRef, "the tender's instrument")
		assert.Equal(t, "CNY 50.00", pay.Amount.String())
		assert.True(t, pay.Fees.Channel.IsZero(), "no channel, no fee")
		require.Len(t, pay.Refunds, 1)
		assert.Equal(t, r.ID, pay.Refunds[0].ID, "the order's refund, its balance part")
		assert.Equal(t, payment.RefundSucceeded, pay.Refunds[0].Status)
		assert.Equal(t, "CNY 50.00", pay.RefundedAmount().String())
	}
	es, err := e.engine.Payments.Ledger(e.ctx, e.m, o.ID)
	require.NoError(t, err)
	for _, en := range es {
		assert.False(t, en.PaymentID.IsZero(), "ledger entry %s names its payment", en.Ref)
	}
	assert.Equal(t, "CNY 0.00", e.ledgerSum(o), "all of it back out of the ledger")
	p, b = e.balance("amy")
	assert.Equal(t, "CNY 100.00", p, "the spend came back as it went")
	assert.Equal(t, "CNY 20.00", b)

	// The whole balance pays a 60.00 order at checkout.
	o2, err := e.buy("amy", e.shop.SKU(1, 0), 1, storedvalue.Pay(storedvalue.FromBalance(CNY("60.00"))))
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusPaid, o2.Status, "nothing left for the channel")
	p, b = e.balance("amy")
	assert.Equal(t, "CNY 50.00", p)
	assert.Equal(t, "CNY 10.00", b)
}

// testSVSpendRace: 32 checkouts at once, each spending 7.00 of a 100.00
// balance (a cup the balance pays in full): exactly 14 succeed.
func testSVSpendRace(t *testing.T, h Harness) {
	e := newSVEnv(t, h)
	require.NoError(t, e.sv.SetTopUpPlan(e.ctx, storedvalue.TopUpPlan{MerchantID: e.m, SKU: e.shop.SKU(0, 0), Bonus: CNY("0.00")}))
	e.topUp("bo", 1)
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			_, err := e.buy("bo", e.shop.SKU(2, 0), 1, storedvalue.Pay(storedvalue.FromBalance(CNY("7.00"))))
			switch {
			case err == nil:
				ok.Add(1)
			case assert.ErrorIs(t, err, storedvalue.ErrInsufficient):
				refused.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(14), ok.Load(), "100.00 pays 14 cups of 7.00")
	assert.Equal(t, int64(18), refused.Load())
	p, b := e.balance("bo")
	assert.Equal(t, "CNY 2.00", p)
	assert.Equal(t, "CNY 0.00", b)
}

// testSVRefundRacingSpend: an order's refund back to the balance races
// checkouts spending it; the balance never goes below zero and ends at
// what the ledger says.
func testSVRefundRacingSpend(t *testing.T, h Harness) {
	e := newSVEnv(t, h)
	e.topUp("cy", 1) // 100.00 + 20.00
	o, err := e.buy("cy", e.shop.SKU(1, 0), 1, storedvalue.Pay(storedvalue.FromBalance(CNY("60.00"))))
	require.NoError(t, err)
	require.Equal(t, commerce.StatusPaid, o.Status)
	var spent atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		_, err := e.refundAll(o, "back")
		assert.NoError(t, err)
	})
	for range 12 {
		wg.Go(func() {
			_, err := e.buy("cy", e.shop.SKU(2, 0), 1, storedvalue.Pay(storedvalue.FromBalance(CNY("7.00"))))
			if err == nil {
				spent.Add(700)
			} else {
				assert.ErrorIs(t, err, storedvalue.ErrInsufficient)
			}
		})
	}
	wg.Wait()
	a, err := e.sv.Account(e.ctx, e.m, "cy")
	require.NoError(t, err)
	e.balance("cy")
	left, _ := a.Balance().Minor()
	assert.Equal(t, int64(120_00-spent.Load()), left, "the refund came back in full, the spends went out")
	assert.GreaterOrEqual(t, left, int64(0))
}

func testSVTopUpRefundUnspent(t *testing.T, h Harness) {
	e := newSVEnv(t, h)
	top := e.topUp("di", 1)
	_, err := e.buy("di", e.shop.SKU(1, 0), 1, storedvalue.Pay(storedvalue.FromBalance(CNY("60.00"))))
	require.NoError(t, err)
	p0, b0 := e.balance("di") // 100 - 50.00 principal, 20 - 10.00 bonus
	assert.Equal(t, "CNY 50.00", p0)

	_, err = e.refundAll(top, "all")
	require.ErrorIs(t, err, storedvalue.ErrSpent, "50.00 of the 100.00 is spent")
	p, b := e.balance("di")
	assert.Equal(t, p0, p, "nothing changed")
	assert.Equal(t, b0, b)
	got, err := e.svc.GetOrder(e.ctx, e.m, top.ID)
	require.NoError(t, err)
	assert.Empty(t, got.Refunds)

	// Two top-ups later, the first top-up's refund returns its 100.00 and
	// forfeits its 20.00 bonus, never more than it paid.
	second := e.topUp("di", 1)
	_, err = e.refundAll(top, "all2")
	require.NoError(t, err)
	p, b = e.balance("di")
	assert.Equal(t, "CNY 50.00", p)
	assert.Equal(t, "CNY 10.00", b)
	pays, err := e.engine.Payments.OrderPayments(e.ctx, e.m, top.ID)
	require.NoError(t, err)
	assert.Equal(t, "CNY 100.00", pays[0].RefundedAmount().String())
	_ = second
}

func testSVCancelReleases(t *testing.T, h Harness) {
	e := newSVEnv(t, h)
	e.topUp("ed", 1)
	o, err := e.buy("ed", e.shop.SKU(1, 0), 1, storedvalue.Pay(storedvalue.FromBalance(CNY("30.00"))))
	require.NoError(t, err)
	p, _ := e.balance("ed")
	assert.Equal(t, "CNY 75.00", p)
	_, err = e.svc.Cancel(e.ctx, e.m, o.ID, "changed my mind")
	require.NoError(t, err)
	p, b := e.balance("ed")
	assert.Equal(t, "CNY 100.00", p, "a cancelled order gives its spend back")
	assert.Equal(t, "CNY 20.00", b)

	// An unpaid order RunDue cancels gives it back too.
	_, err = e.buy("ed", e.shop.SKU(1, 0), 1, storedvalue.Pay(storedvalue.FromBalance(CNY("30.00"))))
	require.NoError(t, err)
	e.advance(48 * 3600 * 1e9)
	_, err = e.engine.RunDue(e.ctx)
	require.NoError(t, err)
	p, b = e.balance("ed")
	assert.Equal(t, "CNY 100.00", p)
	assert.Equal(t, "CNY 20.00", b)
}

func testSVBadInput(t *testing.T, h Harness) {
	e := newSVEnv(t, h)
	e.topUp("fay", 1)
	stock := func() int64 {
		p, err := e.svc.GetProduct(e.ctx, e.m, e.shop.Products[1].ID)
		require.NoError(t, err)
		return p.SKUs[0].Stock
	}
	before := stock()
	field := func(err error) string {
		var ce *commerce.Error
		require.ErrorAs(t, err, &ce)
		return ce.Field
	}
	cases := []struct {
		name string
		qty  int64
		ext  commerce.Extension
		kind error
	}{
		{"more than the balance", 3, storedvalue.Pay(storedvalue.FromBalance(CNY("120.01"))), storedvalue.ErrInsufficient},
		{"more than the order", 1, storedvalue.Pay(storedvalue.FromBalance(CNY("60.01"))), commerce.ErrInvalid},
		{"zero", 1, storedvalue.Pay(storedvalue.FromBalance(CNY("0.00"))), commerce.ErrInvalid},
		{"unset", 1, storedvalue.Pay(storedvalue.FromBalance(commerce.Money{})), commerce.ErrInvalid},
	}
	for _, tc := range cases {
		_, err := e.buy("fay", e.shop.SKU(1, 0), tc.qty, tc.ext)
		require.ErrorIs(t, err, tc.kind, tc.name)
		assert.Equal(t, "extensions.storedvalue[0]", field(err), tc.name)
	}
	_, err := e.buy("fay", e.shop.SKU(4, 0), 1)
	require.ErrorIs(t, err, commerce.ErrInvalid, "a top-up of 0")
	assert.Equal(t, "lines", field(err))
	_, err = e.buy("nobody", e.shop.SKU(1, 0), 1, storedvalue.Pay(storedvalue.FromBalance(CNY("1.00"))))
	require.ErrorIs(t, err, storedvalue.ErrInsufficient, "no account, no balance")
	_, err = e.buy("fay", e.shop.SKU(0, 0), 1, storedvalue.Pay(storedvalue.FromBalance(CNY("1.00"))))
	require.ErrorIs(t, err, commerce.ErrInvalid, "a top-up is not paid from the balance")
	_, err = e.svc.Checkout(e.ctx, commerce.CheckoutParams{MerchantID: e.m, CustomerID: "fay", ShippingAddress: Address(), IdempotencyKey: "mix",
		Lines: []commerce.LineItem{{SKU: e.shop.SKU(0, 0), Quantity: 1}, {SKU: e.shop.SKU(1, 0), Quantity: 1}}})
	require.ErrorIs(t, err, commerce.ErrInvalid)
	assert.Equal(t, "lines", field(err))
	err = e.sv.SetTopUpPlan(e.ctx, storedvalue.TopUpPlan{MerchantID: e.m, SKU: e.shop.SKU(1, 0), Bonus: CNY("1.00")})
	require.ErrorIs(t, err, commerce.ErrInvalid, "tea is not a top-up")
	err = e.sv.SetTopUpPlan(e.ctx, storedvalue.TopUpPlan{MerchantID: e.m, SKU: e.shop.SKU(0, 0), Bonus: CNY("-1.00")})
	require.ErrorIs(t, err, commerce.ErrInvalid)
	assert.Equal(t, "bonus", field(err))

	assert.Equal(t, before, stock(), "nothing sold")
	p, b := e.balance("fay")
	assert.Equal(t, "CNY 100.00", p, "nothing spent")
	assert.Equal(t, "CNY 20.00", b)
}

// physicalBatch: cards of 500.00 that last three years.
func (e *svEnv) physicalBatch() *storedvalue.CardBatch {
	e.t.Helper()
	b, err := e.sv.CreateCardBatch(e.ctx, storedvalue.CardBatchParams{MerchantID: e.m, Title: "茶礼卡", Kind: storedvalue.CardPhysical,
		Face: CNY("500.00"), Validity: 3 * 365 * 24 * time.Hour})
	require.NoError(e.t, err)
	return b
}

// eCards buys n e-cards of 200.00 for customer and returns them.
func (e *svEnv) eCards(customer string, n int64) []*storedvalue.Card {
	e.t.Helper()
	if e.eBatch == nil {
		b, err := e.sv.CreateCardBatch(e.ctx, storedvalue.CardBatchParams{MerchantID: e.m, Title: "礼品卡", Kind: storedvalue.CardElectronic,
			Face: CNY("200.00"), SKU: e.shop.SKU(3, 0)})
		require.NoError(e.t, err)
		e.eBatch = b
	}
	o, err := e.buy(customer, e.shop.SKU(3, 0), n)
	require.NoError(e.t, err)
	e.pay(o)
	cards, err := e.sv.OrderCards(e.ctx, e.m, o.ID)
	require.NoError(e.t, err)
	require.Len(e.t, cards, int(n))
	return cards
}

func testSVPhysicalCard(t *testing.T, h Harness) {
	e := newSVEnv(t, h)
	b := e.physicalBatch()
	printed, err := e.sv.IssueCards(e.ctx, e.m, b.ID, 2)
	require.NoError(t, err)
	require.Len(t, printed, 2)
	assert.NotEqual(t, printed[0].Number, printed[1].Number)
	assert.Len(t, printed[0].Secret, storedvalue.SecretDigits)
	card, err := e.sv.GetCard(e.ctx, e.m, printed[0].Number)
	require.NoError(t, err)
	assert.Empty(t, card.SecretHash, "the secret's hash never leaves the service")
	assert.Equal(t, storedvalue.CardInactive, card.State)

	redeem := func(who, secret string) error {
		_, err := e.sv.RedeemCard(e.ctx, storedvalue.RedeemParams{MerchantID: e.m, Customer: commerce.CustomerID(who), Number: printed[0].Number, Secret: secret})
		return err
	}
	require.ErrorIs(t, redeem("gus", printed[0].Secret), storedvalue.ErrCardUnusable, "not yet sold")
	_, err = e.sv.ActivateCard(e.ctx, e.m, printed[0].Number)
	require.NoError(t, err)

	wrong := "00000000"
	if wrong == printed[0].Secret {
		wrong = "00000001"
	}
	for range 5 {
		require.ErrorIs(t, redeem("gus", wrong), storedvalue.ErrWrongSecret)
	}
	require.ErrorIs(t, redeem("hal", printed[0].Secret), storedvalue.ErrLocked, "five wrong secrets lock the card for everyone")
	e.advance(time.Hour + time.Second)
	a, err := e.sv.RedeemCard(e.ctx, storedvalue.RedeemParams{MerchantID: e.m, Customer: "hal", Number: strings.ToLower(printed[0].Number[:4]) + "-" + printed[0].Number[4:], Secret: printed[0].Secret})
	require.NoError(t, err, "numbers are typed in any case, with dashes")
	assert.Equal(t, "CNY 500.00", a.Principal.String())
	require.ErrorIs(t, redeem("hal", printed[0].Secret), storedvalue.ErrCardUnusable, "redeemed once")
	p, _ := e.balance("hal")
	assert.Equal(t, "CNY 500.00", p)
	assert.Equal(t, "CNY 0.00", e.cardBalance(printed[0].Number), "issued 500.00, redeemed 500.00")

	// Another shop's card is not this shop's to redeem.
	other := NewShop(t, e.svc, "别家", freeShipping, ProductSpec{Title: "x", Category: "tea", Prices: []string{"1.00"}, Stock: 1})
	ob, err := e.sv.CreateCardBatch(e.ctx, storedvalue.CardBatchParams{MerchantID: other.Merchant.ID, Title: "别家卡", Kind: storedvalue.CardPhysical, Face: CNY("50.00")})
	require.NoError(t, err)
	theirs, err := e.sv.IssueCards(e.ctx, other.Merchant.ID, ob.ID, 1)
	require.NoError(t, err)
	_, err = e.sv.ActivateCard(e.ctx, other.Merchant.ID, theirs[0].Number)
	require.NoError(t, err)
	_, err = e.sv.RedeemCard(e.ctx, storedvalue.RedeemParams{MerchantID: e.m, Customer: "hal", Number: theirs[0].Number, Secret: theirs[0].Secret})
	require.ErrorIs(t, err, commerce.ErrNotFound, "a card of another shop")

	// A typo in the number is caught by its check character.
	typo := []byte(printed[1].Number)
	typo[3] = map[bool]byte{true: '2', false: '3'}[typo[3] != '2']
	_, err = e.sv.RedeemCard(e.ctx, storedvalue.RedeemParams{MerchantID: e.m, Customer: "hal", Number: string(typo), Secret: printed[1].Secret})
	require.ErrorIs(t, err, commerce.ErrInvalid)
	var ce *commerce.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "number", ce.Field)
}

// testSVRedeemRace: 16 customers redeem one card at once: one balance is
// credited, once.
func testSVRedeemRace(t *testing.T, h Harness) {
	e := newSVEnv(t, h)
	printed, err := e.sv.IssueCards(e.ctx, e.m, e.physicalBatch().ID, 1)
	require.NoError(t, err)
	_, err = e.sv.ActivateCard(e.ctx, e.m, printed[0].Number)
	require.NoError(t, err)
	var ok atomic.Int64
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			_, err := e.sv.RedeemCard(e.ctx, storedvalue.RedeemParams{MerchantID: e.m, Customer: commerce.CustomerID(fmt.Sprintf("r%d", i)),
				Number: printed[0].Number, Secret: printed[0].Secret})
			if err == nil {
				ok.Add(1)
			} else {
				assert.ErrorIs(t, err, storedvalue.ErrCardUnusable)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(1), ok.Load())
	var total int64
	for i := range 16 {
		p, _ := e.balance(fmt.Sprintf("r%d", i))
		if p != "CNY 0.00" {
			total++
			assert.Equal(t, "CNY 500.00", p)
		}
	}
	assert.Equal(t, int64(1), total, "one balance credited")
}

// testSVGuessesPerCustomer: a customer's wrong secrets over many cards are
// bounded too: the 11th in an hour is refused even with the right secret.
func testSVGuessesPerCustomer(t *testing.T, h Harness) {
	e := newSVEnv(t, h)
	b := e.physicalBatch()
	printed, err := e.sv.IssueCards(e.ctx, e.m, b.ID, 4)
	require.NoError(t, err)
	for _, c := range printed {
		_, err := e.sv.ActivateCard(e.ctx, e.m, c.Number)
		require.NoError(t, err)
	}
	tries := 0
	for _, c := range printed[:3] {
		for range 4 { // under the card's lock
			if tries == 10 {
				break
			}
			secret := "12345678"
			if secret == c.Secret {
				secret = "87654321"
			}
			_, err := e.sv.BindCard(e.ctx, e.m, "ivy", c.Number, secret)
			require.ErrorIs(t, err, storedvalue.ErrWrongSecret)
			tries++
		}
	}
	_, err = e.sv.BindCard(e.ctx, e.m, "ivy", printed[3].Number, printed[3].Secret)
	require.ErrorIs(t, err, storedvalue.ErrLocked, "ten wrong secrets this hour")
	_, err = e.sv.BindCard(e.ctx, e.m, "jo", printed[3].Number, printed[3].Secret)
	require.NoError(t, err, "another customer is not locked out")
	e.advance(time.Hour)
	_, err = e.sv.BindCard(e.ctx, e.m, "ivy", printed[2].Number, printed[2].Secret)
	require.NoError(t, err, "the next hour ivy may try again")
}

func testSVECard(t *testing.T, h Harness) {
	e := newSVEnv(t, h)
	cards := e.eCards("kim", 1)
	c := cards[0]
	bought, err := e.svc.GetOrder(e.ctx, e.m, c.OrderID)
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusShipped, bought.Status, "an e-card order is delivered when paid")
	assert.Equal(t, storedvalue.CardActive, c.State)
	assert.Equal(t, commerce.CustomerID("kim"), c.Holder)
	assert.True(t, c.ExpiresAt.IsZero(), "a registered card has no expiry")

	_, err = e.sv.SendCard(e.ctx, e.m, "lee", c.Number, "生日快乐")
	require.ErrorIs(t, err, storedvalue.ErrCardUnusable, "only the holder sends it")
	token, err := e.sv.SendCard(e.ctx, e.m, "kim", c.Number, "生日快乐")
	require.NoError(t, err)
	_, err = e.sv.AcceptCard(e.ctx, e.m, "lee", token+"x")
	require.ErrorIs(t, err, commerce.ErrInvalid, "a forged link")
	got, err := e.sv.AcceptCard(e.ctx, e.m, "lee", token)
	require.NoError(t, err)
	assert.Equal(t, commerce.CustomerID("lee"), got.Holder)
	_, err = e.sv.AcceptCard(e.ctx, e.m, "max", token)
	require.ErrorIs(t, err, storedvalue.ErrCardUnusable, "a link accepts once")

	_, err = e.buy("kim", e.shop.SKU(1, 0), 1, storedvalue.Pay(storedvalue.FromCard(c.Number, CNY("10.00"))))
	require.ErrorIs(t, err, storedvalue.ErrCardUnusable, "kim gave it away")
	// lee pays 60.00 of tea: 50.00 from the card, 10.00 through the channel.
	o, err := e.buy("lee", e.shop.SKU(1, 0), 1, storedvalue.Pay(storedvalue.FromCard(c.Number, CNY("50.00"))))
	require.NoError(t, err)
	e.pay(o)
	assert.Equal(t, "CNY 150.00", e.cardBalance(c.Number))
	r, err := e.refundAll(o, "r")
	require.NoError(t, err)
	assert.Equal(t, "CNY 50.00", r.Tenders[0].String())
	assert.Equal(t, "CNY 200.00", e.cardBalance(c.Number), "the refund went back to the card")

	// A registered card reported lost: its value moves to a new card.
	_, err = e.sv.ReportCardLost(e.ctx, e.m, "kim", c.Number)
	require.ErrorIs(t, err, storedvalue.ErrCardUnusable, "only its holder reports it")
	renewed, err := e.sv.ReportCardLost(e.ctx, e.m, "lee", c.Number)
	require.NoError(t, err)
	assert.NotEqual(t, c.Number, renewed.Number)
	assert.Equal(t, commerce.CustomerID("lee"), renewed.Holder)
	assert.Equal(t, "CNY 200.00", e.cardBalance(renewed.Number))
	assert.Equal(t, "CNY 0.00", e.cardBalance(c.Number))
	_, err = e.buy("lee", e.shop.SKU(1, 0), 1, storedvalue.Pay(storedvalue.FromCard(c.Number, CNY("10.00"))))
	require.ErrorIs(t, err, storedvalue.ErrCardUnusable, "the lost card pays no more")
	printed, err := e.sv.IssueCards(e.ctx, e.m, e.physicalBatch().ID, 1)
	require.NoError(t, err)
	_, err = e.sv.ActivateCard(e.ctx, e.m, printed[0].Number)
	require.NoError(t, err)
	_, err = e.sv.ReportCardLost(e.ctx, e.m, "lee", printed[0].Number)
	require.ErrorIs(t, err, storedvalue.ErrCardUnusable, "an anonymous card is not reported lost")

	// The e-card order cannot be refunded once its card was given away;
	// an unused one can, and is voided.
	more := e.eCards("kim", 2)
	order := more[0].OrderID
	_, err = e.sv.SendCard(e.ctx, e.m, "kim", more[0].Number, "")
	require.NoError(t, err)
	_, err = e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: e.m, OrderID: order, All: true, IdempotencyKey: "all"})
	require.ErrorIs(t, err, storedvalue.ErrSpent)
	_, err = e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: e.m, OrderID: order, Items: []commerce.RefundItem{{Line: 0, Quantity: 1}}, IdempotencyKey: "one"})
	require.NoError(t, err)
	left, err := e.sv.OrderCards(e.ctx, e.m, order)
	require.NoError(t, err)
	assert.Equal(t, storedvalue.CardActive, left[0].State, "the card on its way to a friend stays")
	assert.Equal(t, storedvalue.CardVoided, left[1].State)
	assert.Equal(t, "CNY 0.00", e.cardBalance(left[1].Number))
	assert.Equal(t, "CNY 200.00", e.cardBalance(left[0].Number))
}

func testSVRules(t *testing.T, h Harness) {
	e := newSVEnv(t, h)
	field := func(err error) string {
		var ce *commerce.Error
		require.ErrorAs(t, err, &ce)
		return ce.Field
	}
	_, err := e.sv.CreateCardBatch(e.ctx, storedvalue.CardBatchParams{MerchantID: e.m, Title: "大额", Kind: storedvalue.CardPhysical, Face: CNY("1000.01")})
	require.ErrorIs(t, err, storedvalue.ErrLimit, "an anonymous card holds at most 1,000.00")
	assert.Equal(t, "face", field(err))
	_, err = e.sv.CreateCardBatch(e.ctx, storedvalue.CardBatchParams{MerchantID: e.m, Title: "一年", Kind: storedvalue.CardPhysical, Face: CNY("100.00"), Validity: 365 * 24 * time.Hour})
	require.ErrorIs(t, err, storedvalue.ErrLimit, "an anonymous card lasts three years or more")
	assert.Equal(t, "validity", field(err))
	_, err = e.sv.CreateCardBatch(e.ctx, storedvalue.CardBatchParams{MerchantID: e.m, Title: "e", Kind: storedvalue.CardElectronic, Face: CNY("100.00"),
		SKU: e.shop.SKU(3, 0), Validity: 5 * 365 * 24 * time.Hour})
	require.ErrorIs(t, err, storedvalue.ErrLimit, "a registered card has no expiry")
	_, err = e.sv.CreateCardBatch(e.ctx, storedvalue.CardBatchParams{MerchantID: e.m, Title: "e", Kind: storedvalue.CardElectronic, Face: CNY("100.00"), SKU: e.shop.SKU(1, 0)})
	require.ErrorIs(t, err, commerce.ErrInvalid, "tea is not an e-card")
	assert.Equal(t, "sku", field(err))

	// 42 top-ups of 100.00 with 20.00 each: 5,040.00, past the 5,000.00 a
	// registered balance may hold; 41 (4,920.00) is not, and then one
	// more is refused while it is unpaid.
	_, err = e.buy("ned", e.shop.SKU(0, 0), 42)
	require.ErrorIs(t, err, storedvalue.ErrLimit)
	assert.Equal(t, "lines", field(err))
	o, err := e.buy("ned", e.shop.SKU(0, 0), 41)
	require.NoError(t, err)
	_, err = e.buy("ned", e.shop.SKU(0, 0), 1)
	require.ErrorIs(t, err, storedvalue.ErrLimit, "the unpaid top-up counts")
	_, err = e.svc.Cancel(e.ctx, e.m, o.ID, "")
	require.NoError(t, err)
	e.topUp("ned", 1)
	p, b := e.balance("ned")
	assert.Equal(t, "CNY 100.00", p, "the cancelled top-up no longer counts")
	assert.Equal(t, "CNY 20.00", b)

	// Cards for 10,000.00 at once need a real name.
	_, err = e.sv.CreateCardBatch(e.ctx, storedvalue.CardBatchParams{MerchantID: e.m, Title: "礼品卡", Kind: storedvalue.CardElectronic, Face: CNY("200.00"), SKU: e.shop.SKU(3, 0)})
	require.NoError(t, err)
	_, err = e.buy("ned", e.shop.SKU(3, 0), 50)
	require.ErrorIs(t, err, storedvalue.ErrRealName)
	_, err = e.buy("ned", e.shop.SKU(3, 0), 49)
	require.NoError(t, err)

	// A host outside mainland China turns the rules off.
	free := &env{t: t, ctx: t.Context(), store: h.New(t), clock: NewClock(Epoch)}
	engine, err := minishop.New(free.store, minishop.WithClock(free.clock), minishop.WithStoredValue(func(c *storedvalue.Config) { c.NoPrepaidRules = true }))
	require.NoError(t, err)
	shop := NewShop(t, engine.Commerce, "HK", freeShipping,
		ProductSpec{Title: "top-up", Category: storedvalue.Category, Prices: []string{"100.00"}, Stock: 1000})
	_, err = engine.StoredValue.CreateCardBatch(t.Context(), storedvalue.CardBatchParams{MerchantID: shop.Merchant.ID, Title: "big", Kind: storedvalue.CardPhysical, Face: CNY("2000.00")})
	require.NoError(t, err)
	_, err = engine.Commerce.Checkout(t.Context(), commerce.CheckoutParams{MerchantID: shop.Merchant.ID, CustomerID: "ola", ShippingAddress: Address(),
		IdempotencyKey: "big", Lines: []commerce.LineItem{{SKU: shop.SKU(0, 0), Quantity: 60}}})
	require.NoError(t, err)
}

func testSVCardExpiry(t *testing.T, h Harness) {
	e := newSVEnv(t, h)
	printed, err := e.sv.IssueCards(e.ctx, e.m, e.physicalBatch().ID, 2)
	require.NoError(t, err)
	_, err = e.sv.ActivateCard(e.ctx, e.m, printed[0].Number)
	require.NoError(t, err)
	_, err = e.sv.BindCard(e.ctx, e.m, "pat", printed[0].Number, printed[0].Secret)
	require.NoError(t, err)
	life := 3 * 365 * 24 * time.Hour
	e.advance(life - storedvalue.ReminderLead - time.Second)
	rep, err := e.engine.RunDue(e.ctx)
	require.NoError(t, err)
	assert.Zero(t, rep.StoredValue.CardsReminded, "not yet")
	e.advance(2 * time.Second)
	rep, err = e.engine.RunDue(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.StoredValue.CardsReminded)
	rep, err = e.engine.RunDue(e.ctx)
	require.NoError(t, err)
	assert.Zero(t, rep.StoredValue.CardsReminded, "reminded once")
	// Still usable in its last week.
	o, err := e.buy("pat", e.shop.SKU(2, 0), 1, storedvalue.Pay(storedvalue.FromCard(printed[0].Number, CNY("7.00"))))
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusPaid, o.Status)
	e.advance(storedvalue.ReminderLead)
	rep, err = e.engine.RunDue(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.StoredValue.CardsExpired)
	c, err := e.sv.GetCard(e.ctx, e.m, printed[0].Number)
	require.NoError(t, err)
	assert.Equal(t, storedvalue.CardExpired, c.State)
	assert.Equal(t, "CNY 493.00", c.Balance.String())
	_, err = e.buy("pat", e.shop.SKU(2, 0), 1, storedvalue.Pay(storedvalue.FromCard(printed[0].Number, CNY("7.00"))))
	require.ErrorIs(t, err, storedvalue.ErrCardUnusable)

	// Expired with money left: reactivated for a new term on request.
	c, err = e.sv.ReactivateCard(e.ctx, e.m, printed[0].Number)
	require.NoError(t, err)
	assert.Equal(t, storedvalue.CardActive, c.State)
	assert.Equal(t, "CNY 493.00", c.Balance.String(), "the money is kept")
	assert.True(t, c.ExpiresAt.After(e.clock.Now().Add(3*364*24*time.Hour)), "a new term of the batch's validity: %s", c.ExpiresAt)
	o, err = e.buy("pat", e.shop.SKU(2, 0), 1, storedvalue.Pay(storedvalue.FromCard(printed[0].Number, CNY("7.00"))))
	require.NoError(t, err)
	assert.Equal(t, commerce.StatusPaid, o.Status, "spendable again")
	again, err := e.sv.ReactivateCard(e.ctx, e.m, printed[0].Number)
	require.NoError(t, err, "an active card is returned as it is")
	assert.Equal(t, c.ExpiresAt, again.ExpiresAt)
	_, err = e.sv.ReactivateCard(e.ctx, e.m, printed[1].Number)
	require.ErrorIs(t, err, storedvalue.ErrCardUnusable, "an inactive card is activated, not reactivated")
	types := map[string]int{}
	evs, err := e.svc.ReadEvents(e.ctx, 0, 1000)
	require.NoError(t, err)
	for _, ev := range evs {
		types[ev.Type]++
	}
	assert.Equal(t, 1, types["storedvalue.card_expiring"])
	assert.Equal(t, 1, types["storedvalue.card_expired"])
	assert.Equal(t, 1, types["storedvalue.card_reactivated"])
}

// testSVInstrumentsAddUp: random orders paid by one to three instruments
// (the balance, two e-cards) and the channel, each refunded in random
// partial refunds until nothing is left: every refund's parts sum to it,
// no instrument gets back more than it paid, and in the end the balance,
// its ledger and the cards are back where they started.
func testSVInstrumentsAddUp(t *testing.T, h Harness) {
	e := newSVEnv(t, h)
	e.topUp("quin", 5)
	cards := e.eCards("quin", 2)
	rng := rand.New(rand.NewPCG(3, 5))
	startP, startB := e.balance("quin")
	// 200 orders through every store; the kernel's own property test
	// (commerce TestTenderRefundsAddUp) runs 1,000 over the split alone.
	for n := range 200 {
		qty := int64(1 + rng.IntN(3))
		total := 60_00 * qty
		var parts []storedvalue.Part
		left := total
		for k, which := range rng.Perm(3)[:1+rng.IntN(3)] {
			if left < 1 {
				break
			}
			most := min(left, 200_00)
			amt := 1 + rng.Int64N(most)
			if k == 0 && rng.IntN(4) == 0 {
				amt = most
			}
			left -= amt
			m := commerce.FromMinor(amt, currency.CNY)
			if which == 0 {
				parts = append(parts, storedvalue.FromBalance(m))
			} else {
				parts = append(parts, storedvalue.FromCard(cards[which-1].Number, m))
			}
		}
		o, err := e.buy("quin", e.shop.SKU(1, 0), qty, storedvalue.Pay(parts...))
		require.NoError(t, err, "order %d", n)
		if o.Status == commerce.StatusPendingPayment {
			e.pay(o)
		}
		back := make([]int64, len(o.Tenders))
		channel := int64(0)
		for k := 0; ; k++ {
			cur, err := e.svc.GetOrder(e.ctx, e.m, o.ID)
			require.NoError(t, err)
			if cur.Status == commerce.StatusRefunded {
				break
			}
			rest := cur.Lines[0].Quantity - cur.Lines[0].RefundedQuantity
			q := 1 + rng.Int64N(rest)
			r, err := e.svc.Refund(e.ctx, commerce.RefundParams{MerchantID: e.m, OrderID: o.ID, Items: []commerce.RefundItem{{Line: 0, Quantity: q}},
				IdempotencyKey: fmt.Sprintf("r%d", k)})
			require.NoError(t, err, "order %d refund %d", n, k)
			sum, _ := r.Channel().Minor()
			channel += sum
			for i, tp := range r.Tenders {
				v, _ := tp.Minor()
				back[i] += v
				sum += v
				paid, _ := o.Tenders[i].Amount.Minor()
				require.LessOrEqual(t, back[i], paid, "order %d tender %d", n, i)
			}
			amount, _ := r.Amount.Minor()
			require.Equal(t, amount, sum, "order %d refund %d: parts add up", n, k)
		}
		due, _ := o.Due().Minor()
		require.Equal(t, due, channel, "order %d: the channel gave back what it took", n)
		pays, err := e.engine.Payments.OrderPayments(e.ctx, e.m, o.ID)
		require.NoError(t, err)
		tenders := 0
		for _, pay := range pays {
			if pay.Tender == 0 {
				continue
			}
			tenders++
			require.Equal(t, o.Tenders[pay.Tender-1].Amount.String(), pay.Amount.String(), "order %d: a payment per tender", n)
			require.Equal(t, pay.Amount.String(), pay.RefundedAmount().String(), "order %d: the tender's payment is refunded in full", n)
		}
		require.Equal(t, len(o.Tenders), tenders, "order %d", n)
		// Stored line by line: each refund's lines carry its tender parts.
		final, err := e.svc.GetOrder(e.ctx, e.m, o.ID)
		require.NoError(t, err)
		for k, r := range final.Refunds {
			for i, part := range r.Tenders {
				lines := commerce.Zero(currency.CNY)
				for _, rl := range r.Lines {
					lines, _ = lines.Add(rl.Tenders[i])
				}
				if r.Shipping.IsZero() {
					require.Equal(t, part.String(), lines.String(), "order %d refund %d tender %d: its lines add up", n, k, i)
				}
			}
		}
		require.Equal(t, "CNY 0.00", e.ledgerSum(o), "order %d: the ledger is back to zero", n)
	}
	p, b := e.balance("quin")
	assert.Equal(t, startP, p, "the balance is back where it started")
	assert.Equal(t, startB, b)
	for _, c := range cards {
		assert.Equal(t, "CNY 200.00", e.cardBalance(c.Number))
	}
}
