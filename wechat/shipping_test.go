package wechat_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/wechat"
	"github.com/minishop/minishop/wechat/wechattest"
)

const uploadPath = "/wxa/sec/order/upload_shipping_info"

// Each way of shipping reaches WeChat as its logistics type, the parcels
// as its shipping list, the payer as the payment's.
func TestShippingUploads(t *testing.T) {
	s := memoryShop(t)
	u := s.plat.NewUser()
	cases := []struct {
		name      string
		sh        commerce.Shipment
		logistics int
		mode      int
		parcels   []wechattest.ShippedParcel
	}{
		{"express", commerce.Shipment{Carrier: "YTO", TrackingNo: "YT100"}, 1, 1,
			[]wechattest.ShippedParcel{{TrackingNo: "YT100", ExpressCompany: "YTO", ItemDesc: "Longjing tea, 100 g ×2; Celadon tea cup"}}},
		{"SF with the receiver's masked phone", commerce.Shipment{Carrier: "SF", TrackingNo: "SF100"}, 1, 1,
			[]wechattest.ShippedParcel{{TrackingNo: "SF100", ExpressCompany: "SF", ItemDesc: "Longjing tea, 100 g ×2; Celadon tea cup", ReceiverContact: "138****0000"}}},
		{"split", commerce.Shipment{Parcels: []commerce.Parcel{{Carrier: "ZTO", TrackingNo: "Z1", Items: "tea"}, {Carrier: "JD", TrackingNo: "J2", Items: "cup"}}}, 1, 2,
			[]wechattest.ShippedParcel{{TrackingNo: "Z1", ExpressCompany: "ZTO", ItemDesc: "tea"}, {TrackingNo: "J2", ExpressCompany: "JD", ItemDesc: "cup"}}},
		{"same city", commerce.Shipment{Method: commerce.ShipSameCity}, 2, 1, []wechattest.ShippedParcel{{ItemDesc: "Longjing tea, 100 g ×2; Celadon tea cup"}}},
		{"virtual", commerce.Shipment{Method: commerce.ShipVirtual}, 3, 1, []wechattest.ShippedParcel{{ItemDesc: "Longjing tea, 100 g ×2; Celadon tea cup"}}},
		{"pickup", commerce.Shipment{Method: commerce.ShipPickup}, 4, 1, []wechattest.ShippedParcel{{ItemDesc: "Longjing tea, 100 g ×2; Celadon tea cup"}}},
	}
	for _, c := range cases {
		o, pay := s.buy(u, false)
		s.ship(o, c.sh)
		rep := s.runDue()
		assert.Equal(t, 1, rep.WeChatShipping, c.name)
		got, ok := s.plat.ShippingOf(pay.ProviderRef)
		require.True(t, ok)
		assert.Equal(t, 1, got.Uploads, c.name)
		assert.Equal(t, wechat.StateShipped, got.State, c.name)
		assert.Equal(t, c.logistics, got.LogisticsType, c.name)
		assert.Equal(t, c.mode, got.DeliveryMode, c.name)
		assert.True(t, got.AllDelivered, c.name)
		assert.Equal(t, c.parcels, got.List, c.name)
		rec, status, err := s.engine.Shipping.Record(s.ctx, o.ID)
		require.NoError(t, err)
		assert.Equal(t, wechat.StatusDone, status, c.name)
		assert.Equal(t, pay.ProviderRef, rec.Payment.TransactionID)
		assert.Equal(t, u.OpenID, rec.Uploaded.Payer.OpenID)
		assert.False(t, rec.UploadedAt.IsZero())
		assert.Equal(t, "+08:00", rec.Uploaded.UploadTime[len(rec.Uploaded.UploadTime)-6:], "upload_time in China time: %s", rec.Uploaded.UploadTime)
	}
	assert.Zero(t, s.runDue().WeChatShipping, "nothing more to do")
	assert.Equal(t, len(cases), s.plat.Calls(uploadPath))
}

// A group gift is one payment and a parcel for each claimer: one split
// upload.
func TestShippingGroupGiftParcels(t *testing.T) {
	s := memoryShop(t)
	u := s.plat.NewUser()
	o, pay := s.buy(u, false)
	var parcels []commerce.Parcel
	for i := range commerce.MaxParcels {
		parcels = append(parcels, commerce.Parcel{Carrier: "YD", TrackingNo: fmt.Sprint("YD", i), Items: fmt.Sprint("gift for friend ", i)})
	}
	s.ship(o, commerce.Shipment{Parcels: parcels})
	s.runDue()
	got, _ := s.plat.ShippingOf(pay.ProviderRef)
	assert.Equal(t, 1, got.Uploads)
	assert.Len(t, got.List, commerce.MaxParcels)
	assert.Equal(t, 2, got.DeliveryMode)
}

// 10060001 (WeChat has not seen the payment yet) is retried with back-off
// until it has.
func TestShippingWaitsForThePayment(t *testing.T) {
	s := memoryShop(t)
	u := s.plat.NewUser()
	o, pay := s.buy(u, false)
	s.plat.RemovePayment(pay.ProviderRef)
	s.ship(o, commerce.Shipment{Carrier: "EMS", TrackingNo: "E1"})
	assert.Zero(t, s.runDue().WeChatShipping)
	rec, status, err := s.engine.Shipping.Record(s.ctx, o.ID)
	require.NoError(t, err)
	assert.Equal(t, wechat.StatusPending, status)
	assert.Contains(t, rec.LastError, "10060001")
	fen, _ := pay.Amount.Minor()
	s.plat.AddPayment(pay.ProviderRef, pay.PaymentNo, "1900000109", u.OpenID, fen)
	s.clock.Advance(2 * time.Second)
	assert.Equal(t, 1, s.runDue().WeChatShipping)
	got, _ := s.plat.ShippingOf(pay.ProviderRef)
	assert.Equal(t, 1, got.Uploads)
}

// When the answer of an upload is lost, the next attempt finds it at
// WeChat and does not upload again (that would spend the one update).
func TestShippingLostAnswerNotUploadedTwice(t *testing.T) {
	s := memoryShop(t)
	u := s.plat.NewUser()
	o, pay := s.buy(u, false)
	s.ship(o, commerce.Shipment{Carrier: "STO", TrackingNo: "ST1"})
	s.plat.Faults(1, 1, []wechattest.Fault{wechattest.FaultLostAnswer}, uploadPath)
	s.runDue()
	s.plat.Heal()
	got, _ := s.plat.ShippingOf(pay.ProviderRef)
	require.Equal(t, 1, got.Uploads, "the lost attempt went through")
	rec, _, _ := s.engine.Shipping.Record(s.ctx, o.ID)
	assert.True(t, rec.Unsure)
	s.clock.Advance(2 * time.Second)
	assert.Equal(t, 1, s.runDue().WeChatShipping)
	got, _ = s.plat.ShippingOf(pay.ProviderRef)
	assert.Equal(t, 1, got.Uploads, "not uploaded again")
	assert.Equal(t, 1, s.plat.Calls("/wxa/sec/order/get_order"))
	rec, status, _ := s.engine.Shipping.Record(s.ctx, o.ID)
	assert.Equal(t, wechat.StatusDone, status)
	assert.NotNil(t, rec.Uploaded)
}

// An upload WeChat refuses for good is listed for the host, with WeChat's
// answer, and sent again once fixed.
func TestShippingFailingAndRetry(t *testing.T) {
	s := memoryShop(t)
	u := s.plat.NewUser()
	o, pay := s.buy(u, false)
	s.ship(o, commerce.Shipment{Carrier: "NOPE", TrackingNo: "N1"}) // not a code of WeChat's list
	s.runDue()
	failing, err := s.engine.Shipping.Failing(s.ctx, 10)
	require.NoError(t, err)
	require.Len(t, failing, 1)
	assert.Equal(t, o.ID, failing[0].Order)
	assert.Contains(t, failing[0].LastError, "express_company")
	got, _ := s.plat.ShippingOf(pay.ProviderRef)
	assert.Zero(t, got.Uploads)

	wechattest.ExpressCompanies["NOPE"] = "a carrier WeChat learns of"
	defer delete(wechattest.ExpressCompanies, "NOPE")
	require.NoError(t, s.engine.Shipping.Retry(s.ctx, o.ID))
	assert.Equal(t, 1, s.runDue().WeChatShipping)
	got, _ = s.plat.ShippingOf(pay.ProviderRef)
	assert.Equal(t, 1, got.Uploads)
	failing, _ = s.engine.Shipping.Failing(s.ctx, 10)
	assert.Empty(t, failing)
}

// An express order without a tracking number cannot be uploaded: it fails
// with a clear error, nothing is sent.
func TestShippingExpressNeedsTracking(t *testing.T) {
	s := memoryShop(t)
	o, _ := s.buy(s.plat.NewUser(), false)
	s.ship(o, commerce.Shipment{})
	s.runDue()
	failing, _ := s.engine.Shipping.Failing(s.ctx, 10)
	require.Len(t, failing, 1)
	assert.Contains(t, failing[0].LastError, "tracking number")
	assert.Zero(t, s.plat.Calls(uploadPath))
}

// Orders not paid through the configured channels are not uploaded.
func TestShippingSkipsOtherPayments(t *testing.T) {
	s := memoryShop(t, func(w *minishop.WeChat) { w.PaymentProviders = []string{"wechatpay"} })
	o, _ := s.buy(s.plat.NewUser(), false)
	s.ship(o, commerce.Shipment{Carrier: "SF", TrackingNo: "SF1"})
	assert.Equal(t, 1, s.runDue().WeChatShipping)
	rec, status, err := s.engine.Shipping.Record(s.ctx, o.ID)
	require.NoError(t, err)
	assert.Equal(t, wechat.StatusDone, status)
	assert.Equal(t, "not paid through WeChat Pay", rec.Skipped)
	assert.Zero(t, s.plat.Calls(uploadPath))
}

// A gift waiting for its recipient, or any order still unshipped 36 hours
// after payment, is reported as a special order once; one that ships in
// time is not.
func TestShippingSpecialOrders(t *testing.T) {
	s := memoryShop(t)
	u := s.plat.NewUser()
	gift, giftPay := s.buy(u, true)
	require.Equal(t, commerce.StatusAwaitingRecipient, gift.Status)
	late, latePay := s.buy(u, false)
	quick, quickPay := s.buy(u, false)
	s.runDue()
	s.clock.Advance(time.Hour)
	s.ship(quick, commerce.Shipment{Carrier: "SF", TrackingNo: "SF1"})
	s.runDue()
	s.clock.Advance(35 * time.Hour)
	s.runDue()
	s.runDue()
	for _, c := range []struct {
		txn     string
		special bool
	}{{giftPay.ProviderRef, true}, {latePay.ProviderRef, true}, {quickPay.ProviderRef, false}} {
		got, _ := s.plat.ShippingOf(c.txn)
		assert.Equal(t, c.special, !got.Special.IsZero(), c.txn)
		if c.special {
			assert.Equal(t, 1, got.SpecialType, "a presale-type report")
			assert.WithinDuration(t, giftPay.PaidAt.Add(30*24*time.Hour), got.Special, time.Second)
		}
	}
	assert.Equal(t, 2, s.plat.Calls("/wxa/sec/order/opspecialorder"), "each reported once")
	rec, _, _ := s.engine.Shipping.Record(s.ctx, late.ID)
	assert.False(t, rec.SpecialReported.IsZero())

	// The late order ships after all: its info is uploaded.
	s.ship(late, commerce.Shipment{Carrier: "SF", TrackingNo: "SF2"})
	s.runDue()
	got, _ := s.plat.ShippingOf(latePay.ProviderRef)
	assert.Equal(t, 1, got.Uploads)
	_ = gift
}

// WeChat's settlement pushes are kept on the order's record and announced
// once in the outbox, however often WeChat delivers them; a reminder is an
// event for the host.
func TestShippingSettlementPush(t *testing.T) {
	const token, key = "shoptoken", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	s := memoryShop(t, func(w *minishop.WeChat) { w.Push = wechat.PushConfig{Token: token, EncodingAESKey: key} })
	u := s.plat.NewUser()
	o, pay := s.buy(u, false)
	s.ship(o, commerce.Shipment{Carrier: "SF", TrackingNo: "SF1"})
	s.runDue()
	h, err := s.engine.PushHandler(nil)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	opts := wechattest.PushOptions{Token: token, EncodingAESKey: key}

	shipped := s.clock.Now()
	push := func(m any) {
		t.Helper()
		status, body, err := s.plat.Push(srv.URL, m, opts)
		require.NoError(t, err)
		require.Equal(t, 200, status, body)
	}
	estimate := wechattest.OrderSettlement{TransactionID: pay.ProviderRef, MerchantID: "1900000109", MerchantTradeNo: pay.PaymentNo,
		PayTime: pay.PaidAt, ShippedTime: shipped, EstimatedSettlementTime: shipped.Add(10 * 24 * time.Hour)}
	push(estimate)
	push(estimate) // redelivered
	s.clock.Advance(3 * 24 * time.Hour)
	s.plat.ConfirmReceipt(pay.ProviderRef)
	s.plat.Settle(pay.ProviderRef)
	settled := estimate
	settled.EstimatedSettlementTime = time.Time{}
	settled.ConfirmReceiveMethod, settled.ConfirmReceiveTime, settled.SettlementTime = 2, s.clock.Now(), s.clock.Now()
	push(settled)
	push(wechattest.RemindShipping{TransactionID: pay.ProviderRef, MerchantID: "1900000109", MerchantTradeNo: pay.PaymentNo, PayTime: pay.PaidAt, Msg: "请尽快发货"})

	rec, _, err := s.engine.Shipping.Record(s.ctx, o.ID)
	require.NoError(t, err)
	assert.Equal(t, shipped.Add(10*24*time.Hour).Truncate(time.Second), rec.EstimatedSettlement)
	assert.Equal(t, s.clock.Now().Truncate(time.Second), rec.Settled)
	assert.Equal(t, 2, rec.ConfirmMethod)

	evs, err := s.engine.Commerce.ReadEvents(s.ctx, 0, 1000)
	require.NoError(t, err)
	count := map[string]int{}
	for _, ev := range evs {
		if strings.HasPrefix(ev.Type, "wechat.") {
			count[ev.Type]++
			assert.Equal(t, o.ID.String(), ev.AggregateID)
			var p map[string]any
			require.NoError(t, json.Unmarshal(ev.Payload, &p))
			assert.Equal(t, pay.ProviderRef, p["transaction_id"])
		}
	}
	assert.Equal(t, map[string]int{wechat.EventSettlementEstimated: 1, wechat.EventOrderSettled: 1, wechat.EventShippingReminded: 1}, count)
}

// notify_confirm_receive is sent once per express order, after its upload.
func TestShippingConfirmReceived(t *testing.T) {
	s := memoryShop(t)
	o, pay := s.buy(s.plat.NewUser(), false)
	err := s.engine.Shipping.ConfirmReceived(s.ctx, o.ID, s.clock.Now())
	require.Error(t, err, "no record yet")
	s.ship(o, commerce.Shipment{Carrier: "SF", TrackingNo: "SF1"})
	s.runDue()
	s.clock.Advance(24 * time.Hour)
	require.NoError(t, s.engine.Shipping.ConfirmReceived(s.ctx, o.ID, s.clock.Now()))
	require.NoError(t, s.engine.Shipping.ConfirmReceived(s.ctx, o.ID, s.clock.Now()), "a second call is a no-op")
	assert.Equal(t, 1, s.plat.Calls("/wxa/sec/order/notify_confirm_receive"))
	got, _ := s.plat.ShippingOf(pay.ProviderRef)
	assert.True(t, got.ConfirmNotified)

	v, _ := s.buy(s.plat.NewUser(), false)
	s.ship(v, commerce.Shipment{Method: commerce.ShipVirtual})
	s.runDue()
	err = s.engine.Shipping.ConfirmReceived(s.ctx, v.ID, s.clock.Now())
	assert.ErrorIs(t, err, commerce.ErrFailedPrecondition, "only express")
}

// is_trade_managed at start-up, the jump path of WeChat's messages.
func TestShippingManagedAndJumpPath(t *testing.T) {
	s := memoryShop(t)
	managed, err := s.engine.Shipping.CheckManaged(s.ctx)
	require.NoError(t, err)
	assert.True(t, managed)
	s.plat.SetTradeManaged(false)
	managed, err = s.engine.Shipping.CheckManaged(s.ctx)
	require.NoError(t, err)
	assert.False(t, managed)

	require.NoError(t, s.engine.Shipping.SetJumpPath(s.ctx, "pages/order/detail"))
	assert.Equal(t, "pages/order/detail", s.plat.JumpPath())
	err = s.engine.Shipping.SetJumpPath(s.ctx, "/pages/order/detail")
	var ce *commerce.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "path", ce.Field)
}

// Relays of three processes over one store upload each order once.
func TestShippingConcurrentRelays(t *testing.T) {
	s := memoryShop(t)
	var others []*minishop.Engine
	for range 2 {
		cfg := s.plat.Config(nil)
		e, err := minishop.New(s.engine.WeChat.Store().(minishop.Store), minishop.WithClock(s.clock), minishop.WithPayments(s.fake),
			minishop.WithWeChat(minishop.WeChat{MiniProgram: cfg, PaymentProviders: []string{s.fake.Name()}}))
		require.NoError(t, err)
		others = append(others, e)
	}
	var txns []string
	for range 30 {
		o, pay := s.buy(s.plat.NewUser(), false)
		s.ship(o, commerce.Shipment{Carrier: "ZTO", TrackingNo: "Z" + pay.PaymentNo})
		txns = append(txns, pay.ProviderRef)
	}
	done := make(chan int, 3)
	for _, e := range append(others, s.engine) {
		go func() {
			rep, err := e.RunDue(s.ctx)
			assert.NoError(t, err)
			done <- rep.WeChatShipping
		}()
	}
	total := <-done + <-done + <-done
	assert.Equal(t, 30, total)
	for _, txn := range txns {
		got, _ := s.plat.ShippingOf(txn)
		assert.Equal(t, 1, got.Uploads, txn)
	}
	assert.Equal(t, 30, s.plat.Calls(uploadPath))
}
