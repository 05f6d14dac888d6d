package wechat_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/fakepay"
	"github.com/minishop/minishop/storage/memory"
	"github.com/minishop/minishop/wechat"
	"github.com/minishop/minishop/wechat/wechattest"
)

// shop is a Mini Program shop on an Engine wired to the local platform,
// paying through fakepay (whose payments the platform is told of, as
// WeChat Pay's reach WeChat).
type shop struct {
	t      testing.TB
	ctx    context.Context
	clock  *commercetest.Clock
	plat   *wechattest.Platform
	fake   *fakepay.Provider
	engine *minishop.Engine
	shop   *commercetest.Shop
	n      int
}

func newShop(t testing.TB, store minishop.Store, edit ...func(*minishop.WeChat)) *shop {
	clock := commercetest.NewClock(commercetest.Epoch)
	plat := wechattest.Start(t, wechattest.Options{Now: clock.Now})
	fake := fakepay.New(fakepay.WithClock(clock.Now))
	cfg := plat.Config(nil)
	w := minishop.WeChat{MiniProgram: cfg, PaymentProviders: []string{fake.Name()},
		Shipping: func(c *wechat.ShippingConfig) {
			c.Retry = wechat.Retry{First: time.Second, Max: 10 * time.Second, MaxAttempts: 50}
		}}
	for _, e := range edit {
		e(&w)
	}
	engine, err := minishop.New(store, minishop.WithClock(clock), minishop.WithPayments(fake), minishop.WithWeChat(w))
	require.NoError(t, err)
	s := &shop{t: t, ctx: context.Background(), clock: clock, plat: plat, fake: fake, engine: engine}
	s.shop = commercetest.NewShop(t, engine.Commerce, "西湖茶舍", commerce.ShippingRule{},
		commercetest.ProductSpec{Title: "Longjing tea, 100 g", Prices: []string{"139.00"}, Stock: 10000},
		commercetest.ProductSpec{Title: "Celadon tea cup", Prices: []string{"38.50"}, Stock: 10000})
	return s
}

func memoryShop(t testing.TB, edit ...func(*minishop.WeChat)) *shop {
	return newShop(t, memory.New(), edit...)
}

// buy checks out two lines for the user and pays, the payment reaching
// the platform's shipping service.
func (s *shop) buy(u wechattest.User, gift bool) (*commerce.Order, *payment.Payment) {
	s.t.Helper()
	s.n++
	p := commerce.CheckoutParams{MerchantID: s.shop.Merchant.ID, CustomerID: commerce.CustomerID(u.OpenID),
		IdempotencyKey: fmt.Sprint("k", s.n), ShippingAddress: commercetest.Address(),
		Lines: []commerce.LineItem{{SKU: s.shop.SKU(0, 0), Quantity: 2}, {SKU: s.shop.SKU(1, 0), Quantity: 1}}}
	if gift {
		p.ShippingAddress, p.Gift = nil, &commerce.Gift{Message: "for you"}
	}
	o, err := s.engine.Commerce.Checkout(s.ctx, p)
	require.NoError(s.t, err)
	pay, _, err := s.engine.Payments.Pay(s.ctx, payment.PayParams{MerchantID: o.MerchantID, OrderID: o.ID, Payer: u.OpenID})
	require.NoError(s.t, err)
	req, err := s.fake.Pay(pay.PaymentNo)
	require.NoError(s.t, err)
	rec := httptest.NewRecorder()
	s.engine.Payments.NotificationHandler(s.fake.Name(), nil).ServeHTTP(rec, req)
	require.Equal(s.t, http.StatusNoContent, rec.Code)
	pay, err = s.engine.Payments.GetPayment(s.ctx, o.MerchantID, pay.ID)
	require.NoError(s.t, err)
	fen, err := pay.Amount.Minor()
	require.NoError(s.t, err)
	s.plat.AddPayment(pay.ProviderRef, pay.PaymentNo, "1900000109", u.OpenID, fen)
	o, err = s.engine.Commerce.GetOrder(s.ctx, o.MerchantID, o.ID)
	require.NoError(s.t, err)
	return o, pay
}

func (s *shop) ship(o *commerce.Order, sh commerce.Shipment) *commerce.Order {
	s.t.Helper()
	o, err := s.engine.Commerce.Ship(s.ctx, commerce.ShipParams{MerchantID: o.MerchantID, OrderID: o.ID, Shipment: sh})
	require.NoError(s.t, err)
	return o
}

// runDue runs the Engine's scheduled work, which must succeed.
func (s *shop) runDue() minishop.DueReport {
	s.t.Helper()
	rep, err := s.engine.RunDue(s.ctx)
	require.NoError(s.t, err)
	return rep
}
