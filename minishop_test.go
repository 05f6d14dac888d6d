package minishop_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/campaigns"
	"github.com/minishop/minishop/commerce"
	. "github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/coupons"
	"github.com/minishop/minishop/gifting"
	"github.com/minishop/minishop/membership"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/fakepay"
	"github.com/minishop/minishop/storage/memory"
)

// TestRunDueReport makes one of each thing RunDue does, all falling due
// before one run at T, and checks that the report counts each once, and
// that a second run finds nothing.
func TestRunDueReport(t *testing.T) {
	ctx := context.Background()
	clock := NewClock(Epoch)
	fake := fakepay.New(fakepay.WithClock(clock.Now))
	engine, err := minishop.New(memory.New(), minishop.WithClock(clock), minishop.WithIDs(&SeqIDs{}), minishop.WithPayments(fake),
		minishop.WithGifting(func(c *gifting.Config) { c.Secret = []byte("gift secret") }),
		minishop.WithCoupons(func(c *coupons.Config) { c.Secret = []byte("coupon secret") }))
	require.NoError(t, err)
	shop := NewShop(t, engine.Commerce, "店", commerce.ShippingRule{Flat: CNY("0")},
		ProductSpec{Title: "茶", Category: "tea", Prices: []string{"60.00"}, Stock: 100})
	m, sku := shop.Merchant.ID, shop.SKU(0, 0)
	T := Epoch.Add(30*24*time.Hour + time.Hour)
	at := func(when time.Time) { clock.Advance(when.Sub(clock.Now())) }
	buy := func(customer string) *commerce.Order {
		t.Helper()
		o, err := engine.Commerce.Checkout(ctx, commerce.CheckoutParams{MerchantID: m, CustomerID: commerce.CustomerID(customer), IdempotencyKey: "k",
			Lines: []commerce.LineItem{{SKU: sku, Quantity: 1}}, ShippingAddress: Address()})
		require.NoError(t, err)
		return o
	}
	startPay := func(o *commerce.Order) *payment.Payment {
		t.Helper()
		p, _, err := engine.Payments.Pay(ctx, payment.PayParams{MerchantID: m, OrderID: o.ID})
		require.NoError(t, err)
		return p
	}
	pay := func(o *commerce.Order) {
		t.Helper()
		req, err := fake.Pay(startPay(o).PaymentNo)
		require.NoError(t, err)
		_, err = engine.Payments.HandleNotification(ctx, "fakepay", req)
		require.NoError(t, err)
	}
	ship := func(o *commerce.Order) {
		t.Helper()
		_, err := engine.Commerce.Ship(ctx, commerce.ShipParams{MerchantID: m, OrderID: o.ID, Shipment: commerce.Shipment{Carrier: "SF", TrackingNo: "1"}})
		require.NoError(t, err)
	}

	// Points granted at the epoch expire after 30 days.
	_, err = engine.Membership.SetProgram(ctx, membership.Program{MerchantID: m, Earn: membership.PointsPer{Points: 1, Per: CNY("1.00")},
		Redeem: membership.PointsPer{Points: 1, Per: CNY("0.01")}, MaxShare: commerce.MustPercent(50),
		Expiry: membership.Expiry{Kind: membership.AfterDays, Days: 30}, Tiers: []membership.Tier{{Level: 1, Name: "VIP1"}}})
	require.NoError(t, err)
	_, err = engine.Membership.Join(ctx, m, "saver")
	require.NoError(t, err)
	_, err = engine.Membership.Adjust(ctx, membership.AdjustParams{MerchantID: m, Customer: "saver", Points: 100, RequestID: "grant"})
	require.NoError(t, err)

	// Received a day in: its after-sales window closed long before T.
	done := buy("done")
	pay(done)
	ship(done)
	_, err = engine.Commerce.ConfirmReceipt(ctx, m, done.ID)
	require.NoError(t, err)

	// Shipped just over 10 days before T: receipt is confirmed for the
	// customer.
	at(T.Add(-10*24*time.Hour - time.Minute))
	shipped := buy("shipped")
	pay(shipped)
	ship(shipped)

	// Coupons: one that ended a day before T, one that ends within the
	// day after it.
	batch, err := engine.Coupons.CreateBatch(ctx, coupons.BatchParams{MerchantID: m, Name: "减5", Kind: coupons.ThresholdOff, Amount: CNY("5"),
		MinAmount: CNY("100"), Total: 10, Validity: coupons.Validity{Days: 1}, Activate: true})
	require.NoError(t, err)
	at(T.Add(-2 * 24 * time.Hour))
	_, err = engine.Coupons.Claim(ctx, coupons.ClaimParams{MerchantID: m, BatchID: batch.ID, Customer: "late", RequestID: "c1"})
	require.NoError(t, err)

	// A gift sent and paid 25 hours before T: nobody accepted it in its
	// 24 hours.
	at(T.Add(-25 * time.Hour))
	_, gift, err := engine.Gifting.Send(ctx, gifting.SendParams{MerchantID: m, Giver: "giver", GiverName: "小王", SKU: sku, Quantity: 1, IdempotencyKey: "gift"})
	require.NoError(t, err)
	pay(gift)

	at(T.Add(-time.Hour))
	_, err = engine.Coupons.Claim(ctx, coupons.ClaimParams{MerchantID: m, BatchID: batch.ID, Customer: "soon", RequestID: "c2"})
	require.NoError(t, err)

	// Left unpaid, with a payment started at the channel, 31 minutes
	// before T: cancelled, and its payment closed at the channel.
	at(T.Add(-31 * time.Minute))
	startPay(buy("unpaid"))

	at(T)
	rep, err := engine.RunDue(ctx)
	require.NoError(t, err)
	assert.Equal(t, minishop.DueReport{OrdersCancelled: 1, OrdersReceived: 1, OrdersCompleted: 1, Payments: 1,
		CouponsExpired: 1, CouponsReminded: 1, PointLotsExpired: 1, GiftsExpired: 1}, rep)
	assert.Equal(t, "cancelled 1 order, received 1 order, completed 1 order, handled 1 payment task, expired 1 coupon, "+
		"reminded of 1 coupon, expired 1 points lot, expired 1 gift", rep.String())

	rep, err = engine.RunDue(ctx)
	require.NoError(t, err)
	assert.Equal(t, minishop.DueReport{}, rep, "everything was done once")
	assert.Equal(t, "nothing due", rep.String())
}

func TestDueReportString(t *testing.T) {
	r := minishop.DueReport{OrdersCancelled: 2, GiftsExpired: 1, PointLotsExpired: 3}
	assert.Equal(t, "cancelled 2 orders, expired 3 points lots, expired 1 gift", r.String(), "zeros left out, plurals")
	r = minishop.DueReport{Campaigns: campaigns.DueReport{GroupsFormed: 1, GroupsFailed: 2, MembersRefunded: 3, SalesClosed: 1}}
	assert.Equal(t, "formed 1 group, failed 2 groups, refunded 3 group members, closed 1 flash sale", r.String())
}
