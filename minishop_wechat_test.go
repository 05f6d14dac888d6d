package minishop_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/currency"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/wechatpay"
	"github.com/minishop/minishop/payment/wechatpay/wechatpaytest"
	"github.com/minishop/minishop/storage/memory"
	"github.com/minishop/minishop/wechat"
	"github.com/minishop/minishop/wechat/wechattest"
)

// Without WithWeChat the Engine has no WeChat services and says so; with a
// bad configuration New names the field.
func TestWithWeChatWiring(t *testing.T) {
	e, err := minishop.New(memory.New())
	require.NoError(t, err)
	assert.Nil(t, e.WeChat)
	assert.Nil(t, e.Shipping)
	assert.Nil(t, e.Messages)
	_, err = e.PushHandler(nil)
	assert.ErrorIs(t, err, commerce.ErrFailedPrecondition)

	_, err = minishop.New(memory.New(), minishop.WithWeChat(minishop.WeChat{MiniProgram: wechat.Config{AppID: "not-an-app", Secret: "s"}}))
	var ce *commerce.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "app_id", ce.Field)

	plat := wechattest.Start(t, wechattest.Options{})
	e, err = minishop.New(memory.New(), minishop.WithWeChat(minishop.WeChat{MiniProgram: plat.Config(nil),
		Push: wechat.PushConfig{Token: "tok", EncodingAESKey: "short"}}))
	require.NoError(t, err, "the push configuration is checked by PushHandler")
	require.NotNil(t, e.WeChat)
	require.NotNil(t, e.Shipping)
	assert.Nil(t, e.Messages, "no templates, no message relay")
	_, err = e.PushHandler(nil)
	require.ErrorAs(t, err, &ce)
	assert.Contains(t, ce.Field, "encoding_aes_key")

	_, err = minishop.New(memory.New(), minishop.WithWeChat(minishop.WeChat{MiniProgram: plat.Config(nil),
		Messages: func(c *wechat.MessagesConfig) { c.Templates = []wechat.Template{{Event: "order.paid", ID: "T"}} }}))
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "templates[0].data", ce.Field)
}

// WeChat's shipping-info management does not see cross-border payments:
// an order paid through the cross-border client (named wechatpay_global,
// not among WeChat.PaymentProviders) ships without an upload, and the
// relay says why.
func TestCrossBorderSkipsShippingUpload(t *testing.T) {
	ctx := t.Context()
	mp := wechattest.Start(t, wechattest.Options{})
	pay := wechatpaytest.Start(t, wechatpaytest.Options{CrossBorder: true, AppID: mp.AppID()})
	client, err := wechatpay.New(pay.Config("https://shop.example.com/notify"))
	require.NoError(t, err)
	require.Equal(t, wechatpay.DefaultGlobalName, client.Name())
	e, err := minishop.New(memory.New(), minishop.WithPayments(client), minishop.WithWeChat(minishop.WeChat{MiniProgram: mp.Config(nil)}))
	require.NoError(t, err)
	m, err := e.Commerce.CreateMerchant(ctx, commerce.MerchantParams{Currency: "HKD", Profile: commerce.ShopProfile{Name: "維港茶莊"}})
	require.NoError(t, err)
	p, err := e.Commerce.CreateProduct(ctx, commerce.ProductParams{MerchantID: m.ID, Title: "Tieguanyin", Category: "tea", State: commerce.Listed,
		SKUs: []commerce.SKUParams{{Price: commerce.MustParseMoney("80.00", currency.HKD), Stock: 5}}})
	require.NoError(t, err)
	u := mp.NewUser()
	o, err := e.Commerce.Checkout(ctx, commerce.CheckoutParams{MerchantID: m.ID, CustomerID: commerce.CustomerID(u.OpenID), IdempotencyKey: "k",
		Lines: []commerce.LineItem{{SKU: p.SKUs[0].ID, Quantity: 1}}, ShippingAddress: commercetest.Address()})
	require.NoError(t, err)
	pp, _, err := e.Payments.Pay(ctx, payment.PayParams{MerchantID: m.ID, OrderID: o.ID, Payer: u.OpenID})
	require.NoError(t, err)
	n, err := pay.Pay(pp.PaymentNo)
	require.NoError(t, err)
	_, err = e.Payments.HandleNotification(ctx, client.Name(), n.Request())
	require.NoError(t, err)
	_, err = e.Commerce.Ship(ctx, commerce.ShipParams{MerchantID: m.ID, OrderID: o.ID, Shipment: commerce.Shipment{Carrier: "SF Express", TrackingNo: "SF1"}})
	require.NoError(t, err)
	_, err = e.Shipping.Run(ctx)
	require.NoError(t, err)
	rec, _, err := e.Shipping.Record(ctx, o.ID)
	require.NoError(t, err)
	assert.Equal(t, "not paid through WeChat Pay", rec.Skipped, "no upload for a cross-border payment")
	got, err := e.Payments.GetPayment(ctx, m.ID, pp.ID)
	require.NoError(t, err)
	_, uploaded := mp.ShippingOf(got.ProviderRef)
	assert.False(t, uploaded)
}
