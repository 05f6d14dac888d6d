package wechatpay_test

import (
	"crypto/rsa"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/payment/wechatpay"
)

func validConfig() wechatpay.Config {
	return wechatpay.Config{
		MchID:        "1900000109",
		AppID:        "wxd678efh567hg6787",
		SerialNo:     "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
		PrivateKey:   merchantKey(),
		APIv3Key:     testAPIv3Key,
		PlatformKeys: map[string]*rsa.PublicKey{testPlatformSerial: &platformKey().PublicKey},
		NotifyURL:    "https://shop.example.com/wechatpay/notify",
	}
}

func TestNewValidatesEveryField(t *testing.T) {
	small := mustKey(1024)
	cases := []struct {
		name  string
		edit  func(*wechatpay.Config)
		field string
	}{
		{"no mchid", func(c *wechatpay.Config) { c.MchID = "" }, "Config.MchID"},
		{"mchid letters", func(c *wechatpay.Config) { c.MchID = "19000x0109" }, "Config.MchID"},
		{"no appid", func(c *wechatpay.Config) { c.AppID = "" }, "Config.AppID"},
		{"appid quote", func(c *wechatpay.Config) { c.AppID = `wx"1` }, "Config.AppID"},
		{"no serial", func(c *wechatpay.Config) { c.SerialNo = "" }, "Config.SerialNo"},
		{"no private key", func(c *wechatpay.Config) { c.PrivateKey = nil }, "Config.PrivateKey"},
		{"1024-bit private key", func(c *wechatpay.Config) { c.PrivateKey = small }, "Config.PrivateKey"},
		{"short APIv3 key", func(c *wechatpay.Config) { c.APIv3Key = testAPIv3Key[:31] }, "Config.APIv3Key"},
		{"long APIv3 key", func(c *wechatpay.Config) { c.APIv3Key = testAPIv3Key + "x" }, "Config.APIv3Key"},
		{"no platform keys", func(c *wechatpay.Config) { c.PlatformKeys = nil }, "Config.PlatformKeys"},
		{"nil platform key", func(c *wechatpay.Config) { c.PlatformKeys = map[string]*rsa.PublicKey{"S": nil} }, "Config.PlatformKeys"},
		{"small platform key", func(c *wechatpay.Config) { c.PlatformKeys = map[string]*rsa.PublicKey{"S": &small.PublicKey} }, "Config.PlatformKeys"},
		{"empty platform serial", func(c *wechatpay.Config) {
			c.PlatformKeys = map[string]*rsa.PublicKey{"": &platformKey().PublicKey}
		}, "Config.PlatformKeys"},
		{"no notify url", func(c *wechatpay.Config) { c.NotifyURL = "" }, "Config.NotifyURL"},
		{"http notify url", func(c *wechatpay.Config) { c.NotifyURL = "http://shop.example.com/notify" }, "Config.NotifyURL"},
		{"notify url with query", func(c *wechatpay.Config) { c.NotifyURL = "https://shop.example.com/notify?x=1" }, "Config.NotifyURL"},
		{"notify url with empty query", func(c *wechatpay.Config) { c.NotifyURL = "https://shop.example.com/notify?" }, "Config.NotifyURL"},
		{"notify url relative", func(c *wechatpay.Config) { c.NotifyURL = "/notify" }, "Config.NotifyURL"},
		{"notify url ftp", func(c *wechatpay.Config) { c.NotifyURL = "ftp://shop.example.com/notify" }, "Config.NotifyURL"},
		{"base url http", func(c *wechatpay.Config) { c.BaseURL = "http://api.mch.weixin.qq.com" }, "Config.BaseURL"},
		{"base url with path", func(c *wechatpay.Config) { c.BaseURL = "https://proxy.example.com/wxpay" }, "Config.BaseURL"},
		{"negative skew", func(c *wechatpay.Config) { c.MaxSkew = -time.Second }, "Config.MaxSkew"},
		{"sharing ratio over 100 %", func(c *wechatpay.Config) { c.MaxSharingRatio = commerce.PPM(1_000_001) }, "Config.MaxSharingRatio"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := validConfig()
			tc.edit(&cfg)
			c, err := wechatpay.New(cfg)
			require.Error(t, err)
			assert.Nil(t, c)
			assert.Contains(t, err.Error(), tc.field)
			var ce *commerce.Error
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.field, ce.Field)
			assert.Equal(t, commerce.KindInvalid, commerce.KindOf(err))
		})
	}
}

func TestNewAcceptsLoopbackHTTPOnly(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:8080/notify", "http://localhost/wx/notify", "http://[::1]:9000/n", "https://shop.example.com/n"} {
		cfg := validConfig()
		cfg.NotifyURL = u
		cfg.BaseURL = "http://127.0.0.1:1"
		_, err := wechatpay.New(cfg)
		assert.NoError(t, err, u)
	}
}

func TestNewCopiesPlatformKeys(t *testing.T) {
	e := setup(t)
	// Changing the caller's map afterwards does not change the client.
	e.cfg.PlatformKeys[testPlatformSerial] = &strangerKey().PublicKey
	n := e.paid(t, "PAY20250520000001", 100)
	_, err := e.c.ParseNotification(t.Context(), n.Request())
	require.NoError(t, err)
}
