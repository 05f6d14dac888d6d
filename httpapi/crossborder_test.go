package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/currency"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/coupons"
	"github.com/minishop/minishop/httpapi"
	"github.com/minishop/minishop/payment/fakepay"
)

// A yen shop over the API: prices and totals are whole yen on the wire,
// and once a CNY wallet paid through a converting channel the order shows
// what the payer paid beside its total.
func TestCrossBorderOrder(t *testing.T) {
	s := newShop(t, fakepay.WithExchange(currency.CNY, map[currency.Unit]decimal.Decimal{currency.JPY: decimal.RequireFromString("0.04812345")}))
	ctx := t.Context()
	m, err := s.engine.Commerce.CreateMerchant(ctx, commerce.MerchantParams{Currency: "JPY", Profile: commerce.ShopProfile{Name: "京都茶舗"}})
	require.NoError(t, err)
	p, err := s.engine.Commerce.CreateProduct(ctx, commerce.ProductParams{MerchantID: m.ID, Title: "Gyokuro", Category: "tea", State: commerce.Listed,
		SKUs: []commerce.SKUParams{{Price: commerce.MustParseMoney("1235", currency.JPY), Stock: 5}}})
	require.NoError(t, err)
	shop := "/shops/" + m.ID.String()

	r := s.do(call{method: "GET", path: shop + "/products/" + p.ID.String(), who: "customer:ken"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Contains(t, string(r.body), `"price":{"amount":"1235","currency":"JPY"}`, "whole yen: no minor digits on the wire")

	r = s.do(call{method: "POST", path: shop + "/orders", who: "customer:ken", key: "jp-1",
		body: httpapi.CheckoutRequest{QuoteRequest: httpapi.QuoteRequest{Lines: []httpapi.LineRequest{{SKU: p.SKUs[0].ID.String(), Quantity: 2}}, NoCoupon: true}, Address: address()}})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	var o httpapi.Order
	r.decode(t, &o)
	assert.Equal(t, commerce.MustParseMoney("2470", currency.JPY), o.Total)
	assert.Nil(t, o.PayerPaid, "not paid yet")

	r = s.do(call{method: "POST", path: shop + "/orders/" + o.ID + "/pay", who: "customer:ken"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var pay httpapi.Payment
	r.decode(t, &pay)
	assert.Equal(t, o.Total, pay.Amount, "the channel is asked for yen")
	note, err := s.fake.Pay(pay.PaymentNo)
	require.NoError(t, err)
	_, err = s.engine.Payments.HandleNotification(ctx, "fakepay", note)
	require.NoError(t, err)

	r = s.do(call{method: "GET", path: shop + "/orders/" + o.ID, who: "customer:ken"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r.decode(t, &o)
	assert.Equal(t, "paid", o.Status)
	assert.Equal(t, commerce.MustParseMoney("2470", currency.JPY), o.Total)
	require.NotNil(t, o.PayerPaid)
	assert.Equal(t, commerce.MustParseMoney("118.86", currency.CNY), *o.PayerPaid, "2470 × 0.04812345 = 118.8649…")
	assert.Contains(t, string(r.body), `"payer_paid":{"amount":"118.86","currency":"CNY"}`)
}

// A batch for customers near a store: its page says where and how near,
// a claim without the customer's point or from too far is refused naming
// "point", one from nearby gets the coupon.
func TestCouponNearAPlace(t *testing.T) {
	s := newShop(t)
	b, err := s.engine.Coupons.CreateBatch(t.Context(), coupons.BatchParams{MerchantID: s.tea.Merchant.ID, Name: "到店立减", Kind: coupons.AmountOff,
		Amount: commercetest.CNY("5"), Total: 10, Activate: true, Validity: coupons.Validity{Days: 7},
		Near: &coupons.Near{Point: commerce.GeoPoint{Latitude: 30.2590, Longitude: 120.1480}, RadiusMeters: 300, Place: "西湖店"}})
	require.NoError(t, err)
	r := s.do(call{method: "GET", path: s.shopPath("/coupon-batches/%s", b.ID), who: "customer:amy"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var v httpapi.CouponBatch
	r.decode(t, &v)
	require.NotNil(t, v.Near)
	assert.Equal(t, httpapi.Near{Point: httpapi.Point{Latitude: 30.2590, Longitude: 120.1480}, RadiusMeters: 300, Place: "西湖店"}, *v.Near)

	claim := func(who string, at *httpapi.Point) reply {
		return s.do(call{method: "POST", path: s.shopPath("/coupons"), who: "customer:" + who, key: "near-" + who,
			body: httpapi.ClaimCouponRequest{Batch: b.ID.String(), Point: at}})
	}
	for who, at := range map[string]*httpapi.Point{"bo": nil, "cy": {Latitude: 30.2700, Longitude: 120.1480}} {
		r := claim(who, at)
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s: %s", who, r.body)
		assert.Equal(t, "point", r.problem(t).Field)
	}
	r = claim("dan", &httpapi.Point{Latitude: 91, Longitude: 120})
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
	assert.Equal(t, "point.latitude", r.problem(t).Field)
	r = claim("amy", &httpapi.Point{Latitude: 30.2600, Longitude: 120.1490})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
}
