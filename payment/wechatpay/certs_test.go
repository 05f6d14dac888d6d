package wechatpay_test

import (
	"context"
	"crypto/rsa"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/wechatpay"
	"github.com/minishop/minishop/payment/wechatpay/wechatpaytest"
)

var (
	certKey    = sync.OnceValue(func() *rsa.PrivateKey { return mustKey(2048) })
	rotatedKey = sync.OnceValue(func() *rsa.PrivateKey { return mustKey(2048) })
)

// setupMode starts a platform in mode and a client that keeps only the keys
// keep of the platform's configuration (none: it must download) and
// downloads certificates.
func setupMode(t testing.TB, mode wechatpaytest.Mode, keep []string, edit ...func(*wechatpay.Config)) *env {
	t.Helper()
	clock := newClock()
	p := wechatpaytest.Start(t, wechatpaytest.Options{
		APIv3Key:       testAPIv3Key,
		MerchantKey:    merchantKey(),
		PlatformKey:    platformKey(),
		PlatformSerial: testPlatformSerial,
		Mode:           mode,
		CertificateKey: certKey(),
		Now:            clock.Now,
	})
	cfg := p.Config("https://shop.example.com/wechatpay/notify")
	all := cfg.PlatformKeys
	cfg.PlatformKeys = map[string]*rsa.PublicKey{}
	for _, s := range keep {
		require.Contains(t, all, s)
		cfg.PlatformKeys[s] = all[s]
	}
	cfg.DownloadCertificates = true
	cfg.Now = clock.Now
	for _, e := range edit {
		e(&cfg)
	}
	c, err := wechatpay.New(cfg)
	require.NoError(t, err)
	return &env{p: p, c: c, cfg: cfg, clock: clock, notify: cfg.NotifyURL}
}

// downloads counts the platform's GET /v3/certificates requests.
func downloads(p *wechatpaytest.Platform) int {
	n := 0
	for _, r := range p.Requests() {
		if r.Method == http.MethodGet && r.URI == "/v3/certificates" {
			n++
		}
	}
	return n
}

// serialsOf lists the serials of keys, and the one requests name.
func serialsOf(keys []wechatpay.PlatformKey) (all []string, requested string) {
	for _, k := range keys {
		all = append(all, k.Serial)
		if k.Requested {
			requested = k.Serial
		}
	}
	return all, requested
}

// lastSerial is the Wechatpay-Serial of the platform's last request other
// than a certificate download.
func lastSerial(t testing.TB, p *wechatpaytest.Platform) string {
	t.Helper()
	reqs := p.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].URI != "/v3/certificates" {
			return reqs[i].Header.Get("Wechatpay-Serial")
		}
	}
	t.Fatalf("no request")
	return ""
}

// A client configured with no key downloads the certificates before its
// first call, verifies the list's signature with the certificate it lists
// (the bootstrap) and names that certificate in its requests.
func TestDownloadBootstrap(t *testing.T) {
	e := setupMode(t, wechatpaytest.CertificateMode, nil)
	assert.Empty(t, e.c.PlatformKeys())
	serial := e.p.CertificateSerials()[0]
	assert.Len(t, serial, 40)

	n := e.paid(t, "PAY20250520000001", 21600)
	reqs := e.p.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, "/v3/certificates", reqs[0].URI, "downloaded first")
	assert.Empty(t, reqs[0].Header.Get("Wechatpay-Serial"), "with nothing to name yet")
	assert.Equal(t, serial, reqs[1].Header.Get("Wechatpay-Serial"))

	keys := e.c.PlatformKeys()
	require.Len(t, keys, 1)
	k := keys[0]
	assert.Equal(t, serial, k.Serial)
	assert.True(t, k.Downloaded && k.Requested)
	assert.True(t, k.Key.Equal(&certKey().PublicKey))
	assert.Equal(t, e.clock.Now().Truncate(time.Second), k.EffectiveAt.UTC())
	assert.Equal(t, k.EffectiveAt.Add(5*365*24*time.Hour), k.ExpiresAt)

	got, err := e.c.ParseNotification(t.Context(), n.Request())
	require.NoError(t, err)
	assert.Equal(t, payment.TxSucceeded, got.Transaction.State)
	assert.Equal(t, 1, downloads(e.p), "once is enough")
}

// A merchant with only the WeChat Pay public key gets an empty list: not an
// error when the public key is configured; without it, the client says
// what to configure.
func TestPublicKeyOnlyMerchant(t *testing.T) {
	t.Run("public key configured", func(t *testing.T) {
		e := setupMode(t, wechatpaytest.PublicKeyMode, []string{testPlatformSerial})
		require.NoError(t, e.c.RefreshCertificates(t.Context()))
		all, requested := serialsOf(e.c.PlatformKeys())
		assert.Equal(t, []string{testPlatformSerial}, all)
		assert.Equal(t, testPlatformSerial, requested)
		e.paid(t, "PAY20250520000001", 100)
		assert.Equal(t, 1, downloads(e.p))
	})
	t.Run("nothing configured", func(t *testing.T) {
		e := setupMode(t, wechatpaytest.PublicKeyMode, nil)
		err := e.c.RefreshCertificates(t.Context())
		require.ErrorIs(t, err, wechatpay.ErrVerification)
		assert.ErrorContains(t, err, "public-key mode")
		assert.ErrorContains(t, err, "Config.PlatformKeys")
		assert.Empty(t, e.c.PlatformKeys())
		_, err = e.c.CreatePayment(t.Context(), createReq("PAY20250520000001", 100))
		require.ErrorIs(t, err, wechatpay.ErrVerification)
	})
}

// A rotation: WeChat lists a second certificate and signs with it. The
// client learns it from the first answer signed with it (one download),
// names the newest certificate from then on, and drops the old one once it
// is retired.
func TestCertificateRotation(t *testing.T) {
	e := setupMode(t, wechatpaytest.CertificateMode, nil)
	ctx := t.Context()
	require.NoError(t, e.c.RefreshCertificates(ctx))
	old := e.p.CertificateSerials()[0]
	_, err := e.c.CreatePayment(ctx, createReq("PAY20250520000001", 100))
	require.NoError(t, err)
	assert.Equal(t, old, lastSerial(t, e.p))

	// (A rotation comes long after the first download; and downloads an
	// unknown serial causes keep a minimum distance from the last one.)
	e.clock.Advance(time.Hour)
	fresh, err := e.p.RotateCertificate(rotatedKey())
	require.NoError(t, err)
	assert.Equal(t, []string{old, fresh}, e.p.CertificateSerials())

	// The answer comes signed with the new certificate.
	_, err = e.c.QueryPayment(ctx, payment.Account{}, "PAY20250520000001")
	require.NoError(t, err)
	assert.Equal(t, 2, downloads(e.p), "the unknown serial caused one download")
	assert.Equal(t, old, lastSerial(t, e.p), "that request was sent before the download")
	all, requested := serialsOf(e.c.PlatformKeys())
	assert.ElementsMatch(t, []string{old, fresh}, all)
	assert.Equal(t, fresh, requested, "the newest effective certificate")

	_, err = e.c.QueryPayment(ctx, payment.Account{}, "PAY20250520000001")
	require.NoError(t, err)
	assert.Equal(t, fresh, lastSerial(t, e.p))
	assert.Equal(t, 2, downloads(e.p))

	// Sensitive fields follow: encrypted with the new certificate's key.
	ct, serial, err := e.c.Encrypt("张三")
	require.NoError(t, err)
	assert.Equal(t, fresh, serial)
	got, err := e.p.DecryptSensitive(serial, ct)
	require.NoError(t, err)
	assert.Equal(t, "张三", got)

	require.Error(t, e.p.RetireCertificate(fresh), "the signing certificate stays")
	require.NoError(t, e.p.RetireCertificate(old))
	require.NoError(t, e.c.RefreshCertificates(ctx))
	all, _ = serialsOf(e.c.PlatformKeys())
	assert.Equal(t, []string{fresh}, all, "no longer listed: dropped")
	// A message still signed by the retired certificate is refused.
	body := envelope(t, "TRANSACTION.SUCCESS", "transaction", map[string]any{"mchid": e.cfg.MchID})
	_, err = e.c.ParseNotification(ctx, signedRequest(t, certKey(), old, e.clock.Now(), body))
	require.ErrorIs(t, err, wechatpay.ErrVerification)
}

// 50 goroutines verifying notifications signed by a certificate the client
// does not know yet: exactly one download, and every one verifies.
func TestUnknownSerialDownloadsOnce(t *testing.T) {
	e := setupMode(t, wechatpaytest.CertificateMode, nil)
	ctx := t.Context()
	_, err := e.c.CreatePayment(ctx, createReq("PAY20250520000001", 21600))
	require.NoError(t, err)
	e.clock.Advance(time.Hour)
	_, err = e.p.RotateCertificate(rotatedKey())
	require.NoError(t, err)
	n, err := e.p.Pay("PAY20250520000001")
	require.NoError(t, err)
	require.Equal(t, 1, downloads(e.p))

	var wg sync.WaitGroup
	errs := make([]error, 50)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = e.c.ParseNotification(ctx, n.Request())
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, 2, downloads(e.p))
}

// Serials a forger makes up cost WeChat Pay at most one download per
// MinRefreshCertificatesEvery, however many arrive at once.
func TestForgedSerialsCannotHammer(t *testing.T) {
	e := setupMode(t, wechatpaytest.CertificateMode, nil)
	ctx := t.Context()
	n := e.paid(t, "PAY20250520000001", 21600)
	require.Equal(t, 1, downloads(e.p))
	e.clock.Advance(wechatpay.MinRefreshCertificatesEvery)

	forge := func(count int) {
		t.Helper()
		var wg sync.WaitGroup
		var accepted atomic.Int32
		for range count {
			wg.Go(func() {
				bad, err := e.p.Tamper(n, wechatpaytest.TamperSerial)
				if err != nil {
					panic(err)
				}
				_, err = e.c.ParseNotification(ctx, bad.Request())
				if !errors.Is(err, wechatpay.ErrVerification) {
					accepted.Add(1)
				}
			})
		}
		wg.Wait()
		require.Zero(t, accepted.Load(), "a made-up serial is never accepted")
	}
	forge(50)
	assert.Equal(t, 2, downloads(e.p), "one download for 50 forgeries")
	e.clock.Advance(30 * time.Second)
	forge(10)
	assert.Equal(t, 2, downloads(e.p), "none within the minimum interval")
	e.clock.Advance(30 * time.Second)
	forge(10)
	assert.Equal(t, 3, downloads(e.p), "one again after it")

	// The error says why no download happened.
	bad, err := e.p.Tamper(n, wechatpaytest.TamperSerial)
	require.NoError(t, err)
	_, err = e.c.ParseNotification(ctx, bad.Request())
	assert.ErrorContains(t, err, "less than 1m0s ago")

	// Probes and malformed messages never download.
	probe := n.Request()
	probe.Header.Set("Wechatpay-Serial", "PUB_KEY_ID_0114232019112100000000000000000009")
	probe.Header.Set("Wechatpay-Signature", "WECHATPAY/SIGNTEST/"+probe.Header.Get("Wechatpay-Signature")[19:])
	e.clock.Advance(time.Minute)
	_, err = e.c.ParseNotification(ctx, probe)
	require.ErrorIs(t, err, wechatpay.ErrVerification)
	assert.ErrorContains(t, err, "probe")
	stale, err := e.p.Tamper(n, wechatpaytest.TamperStale)
	require.NoError(t, err)
	stale.Header.Set("Wechatpay-Serial", "5157F09EFDC096DE15EBE81A47057A7232F1B8E1")
	_, err = e.c.ParseNotification(ctx, stale.Request())
	require.ErrorIs(t, err, wechatpay.ErrVerification)
	assert.Equal(t, 3, downloads(e.p))
}

// Without DownloadCertificates an unknown serial is refused outright, as
// before: nothing is downloaded, not even after a rotation.
func TestNoDownloadWithoutTheOption(t *testing.T) {
	e := setupMode(t, wechatpaytest.CertificateMode, nil)
	cfg := e.p.Config(e.notify) // the certificate, configured
	cfg.Now = e.clock.Now
	c, err := wechatpay.New(cfg)
	require.NoError(t, err)
	ctx := t.Context()
	_, err = c.CreatePayment(ctx, createReq("PAY20250520000001", 100))
	require.NoError(t, err)
	_, err = e.p.RotateCertificate(rotatedKey())
	require.NoError(t, err)
	_, err = c.QueryPayment(ctx, payment.Account{}, "PAY20250520000001")
	require.ErrorIs(t, err, wechatpay.ErrVerification)
	assert.ErrorContains(t, err, "names no configured platform key")
	assert.Zero(t, downloads(e.p))
}

// Downloaded certificates are refreshed when RefreshCertificatesEvery has
// passed, on the next call; a failed refresh keeps the keys in force and
// the call goes on.
func TestPeriodicRefresh(t *testing.T) {
	e := setupMode(t, wechatpaytest.CertificateMode, nil, func(c *wechatpay.Config) {
		c.RefreshCertificatesEvery = time.Hour
	})
	ctx := t.Context()
	query := func() {
		t.Helper()
		_, err := e.c.QueryRefund(ctx, payment.Account{}, "REF-UNKNOWN-0001")
		require.Equal(t, "RESOURCE_NOT_EXISTS", apiError(t, err).Code)
	}
	query()
	require.Equal(t, 1, downloads(e.p))
	e.clock.Advance(59 * time.Minute)
	query()
	assert.Equal(t, 1, downloads(e.p))
	e.clock.Advance(time.Minute)
	query()
	assert.Equal(t, 2, downloads(e.p), "due after an hour")

	e.p.SetFaults(wechatpaytest.Fault{Prefix: "/v3/certificates", Rate: 1})
	e.clock.Advance(time.Hour)
	query() // the refresh fails; the call does not
	assert.Equal(t, 3, downloads(e.p))
	query()
	assert.Equal(t, 3, downloads(e.p), "a failed refresh is not retried within the minimum interval")
	assert.Len(t, e.c.PlatformKeys(), 1)
	err := e.c.RefreshCertificates(ctx)
	assert.Equal(t, "SYSTEM_ERROR", apiError(t, err).Code, "an explicit refresh always asks, and reports")
	e.p.SetFaults()
	e.clock.Advance(time.Minute)
	query()
	assert.Equal(t, 5, downloads(e.p))
	query()
	assert.Equal(t, 5, downloads(e.p), "fresh again")
}

// The default cadence is twelve hours.
func TestDefaultRefreshCadence(t *testing.T) {
	e := setupMode(t, wechatpaytest.CertificateMode, nil)
	require.NoError(t, e.c.RefreshCertificates(t.Context()))
	e.clock.Advance(wechatpay.DefaultRefreshCertificatesEvery - time.Second)
	e.paid(t, "PAY20250520000001", 100)
	assert.Equal(t, 1, downloads(e.p))
	e.clock.Advance(time.Second)
	_, err := e.c.QueryPayment(t.Context(), payment.Account{}, "PAY20250520000001")
	require.NoError(t, err)
	assert.Equal(t, 2, downloads(e.p))
}

func TestCertificateConfig(t *testing.T) {
	base := func() wechatpay.Config {
		return wechatpay.Config{
			MchID: "1900000109", AppID: "wxd678efh567hg6787", SerialNo: "3775B6A45ACD588826D15E583A95F5DD",
			PrivateKey: merchantKey(), APIv3Key: testAPIv3Key, NotifyURL: "https://shop.example.com/notify",
			DownloadCertificates: true,
		}
	}
	_, err := wechatpay.New(base())
	require.NoError(t, err, "no keys are needed when they are downloaded")
	for name, tc := range map[string]struct {
		edit  func(*wechatpay.Config)
		field string
	}{
		"too often": {func(c *wechatpay.Config) { c.RefreshCertificatesEvery = 30 * time.Second }, "Config.RefreshCertificatesEvery"},
		"negative":  {func(c *wechatpay.Config) { c.RefreshCertificatesEvery = -time.Hour }, "Config.RefreshCertificatesEvery"},
		"without download": {func(c *wechatpay.Config) {
			c.DownloadCertificates, c.RefreshCertificatesEvery = false, time.Hour
			c.PlatformKeys = map[string]*rsa.PublicKey{testPlatformSerial: &platformKey().PublicKey}
		}, "Config.RefreshCertificatesEvery"},
		"no keys at all": {func(c *wechatpay.Config) { c.DownloadCertificates = false }, "Config.PlatformKeys"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := base()
			tc.edit(&cfg)
			_, err := wechatpay.New(cfg)
			assert.ErrorContains(t, err, tc.field)
			var ce *commerce.Error
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.field, ce.Field)
			assert.Equal(t, commerce.KindInvalid, commerce.KindOf(err))
		})
	}
	cfg := base()
	cfg.RefreshCertificatesEvery = wechatpay.MinRefreshCertificatesEvery
	_, err = wechatpay.New(cfg)
	require.NoError(t, err)
}

// A list that does not check out changes nothing.
func TestBrokenCertificateListsAreRefused(t *testing.T) {
	for _, tamper := range []wechatpaytest.Tamper{
		wechatpaytest.TamperAPIv3Key, wechatpaytest.TamperGCMTag, wechatpaytest.TamperAlgorithm, wechatpaytest.TamperSerial,
	} {
		t.Run("list "+tamper.String(), func(t *testing.T) {
			e := setupMode(t, wechatpaytest.CertificateMode, nil)
			require.NoError(t, e.p.TamperCertificates(tamper))
			err := e.c.RefreshCertificates(t.Context())
			require.ErrorIs(t, err, wechatpay.ErrVerification)
			assert.ErrorContains(t, err, "data[0]")
			assert.Empty(t, e.c.PlatformKeys())
		})
	}
	for _, tamper := range []wechatpaytest.Tamper{
		wechatpaytest.TamperBody, wechatpaytest.TamperSignature, wechatpaytest.TamperSerial, wechatpaytest.TamperStale, wechatpaytest.TamperUnsigned,
	} {
		t.Run("answer "+tamper.String(), func(t *testing.T) {
			e := setupMode(t, wechatpaytest.CertificateMode, nil)
			require.NoError(t, e.c.RefreshCertificates(t.Context()))
			before := e.c.PlatformKeys()
			_, err := e.p.RotateCertificate(rotatedKey())
			require.NoError(t, err)
			require.NoError(t, e.p.TamperResponses(tamper))
			err = e.c.RefreshCertificates(t.Context())
			require.ErrorIs(t, err, wechatpay.ErrVerification)
			assert.Equal(t, before, e.c.PlatformKeys(), "the keys in force are untouched")
		})
	}
	t.Run("a configured key WeChat contradicts", func(t *testing.T) {
		e := setupMode(t, wechatpaytest.CertificateMode, nil)
		serial := e.p.CertificateSerials()[0]
		cfg := e.cfg
		cfg.PlatformKeys = map[string]*rsa.PublicKey{serial: &strangerKey().PublicKey}
		c, err := wechatpay.New(cfg)
		require.NoError(t, err)
		err = c.RefreshCertificates(t.Context())
		assert.ErrorContains(t, err, "Config.PlatformKeys")
	})
}

// Certificates expire after five years and drop out, at once for
// verification and from the set at the next download; configured keys stay.
func TestExpiredCertificatesDropOut(t *testing.T) {
	e := setupMode(t, wechatpaytest.CertificateMode, nil)
	ctx := t.Context()
	old := e.p.CertificateSerials()[0]
	pem, ok := e.p.Certificate(old)
	require.True(t, ok)
	configuredSerial, configuredKey, err := wechatpay.ParseCertificate(pem)
	require.NoError(t, err)
	require.Equal(t, old, configuredSerial)
	require.NoError(t, e.c.RefreshCertificates(ctx))

	e.clock.Advance(4 * 365 * 24 * time.Hour)
	fresh, err := e.p.RotateCertificate(rotatedKey())
	require.NoError(t, err)
	require.NoError(t, e.c.RefreshCertificates(ctx))
	all, _ := serialsOf(e.c.PlatformKeys())
	assert.ElementsMatch(t, []string{old, fresh}, all)
	// The same old certificate, configured by the host, stays: its dates
	// are the host's business.
	cfg := e.cfg
	cfg.PlatformKeys = map[string]*rsa.PublicKey{configuredSerial: configuredKey}
	configured, err := wechatpay.New(cfg)
	require.NoError(t, err)
	require.NoError(t, configured.RefreshCertificates(ctx))

	e.clock.Advance(365*24*time.Hour + time.Hour)
	all, requested := serialsOf(e.c.PlatformKeys())
	assert.Equal(t, []string{fresh}, all, "expired: out of force before any download")
	assert.Equal(t, fresh, requested)
	body := envelope(t, "TRANSACTION.SUCCESS", "transaction", map[string]any{"mchid": e.cfg.MchID})
	_, err = e.c.ParseNotification(ctx, signedRequest(t, certKey(), old, e.clock.Now(), body))
	require.ErrorIs(t, err, wechatpay.ErrVerification)
	assert.ErrorContains(t, err, "names no platform key in force")
	assert.Equal(t, 4, downloads(e.p), "one due download, none for the expired serial")

	require.NoError(t, configured.RefreshCertificates(ctx))
	keys := configured.PlatformKeys()
	all, requested = serialsOf(keys)
	assert.ElementsMatch(t, []string{old, fresh}, all)
	assert.Equal(t, fresh, requested, "the newest downloaded certificate")
	for _, k := range keys {
		assert.Equal(t, k.Serial == fresh, k.Downloaded)
	}
}

// The switch from certificates to the public key: both are in force,
// requests name the public key, and notifications signed by either are
// accepted, chosen by Wechatpay-Serial.
func TestMigrationToPublicKey(t *testing.T) {
	e := setupMode(t, wechatpaytest.MigrationMode, []string{testPlatformSerial})
	ctx := t.Context()
	require.NoError(t, e.c.RefreshCertificates(ctx))
	cert := e.p.CertificateSerials()[0]
	all, requested := serialsOf(e.c.PlatformKeys())
	assert.ElementsMatch(t, []string{cert, testPlatformSerial}, all)
	assert.Equal(t, testPlatformSerial, requested)

	_, err := e.c.CreatePayment(ctx, createReq("PAY20250520000001", 100))
	require.NoError(t, err)
	assert.Equal(t, testPlatformSerial, lastSerial(t, e.p))
	_, err = e.c.CreatePayment(ctx, createReq("PAY20250520000002", 100))
	require.NoError(t, err)
	var signers []string
	for _, no := range []string{"PAY20250520000001", "PAY20250520000002"} {
		n, err := e.p.Pay(no)
		require.NoError(t, err)
		signers = append(signers, n.Header.Get("Wechatpay-Serial"))
		_, err = e.c.ParseNotification(ctx, n.Request())
		require.NoError(t, err)
	}
	assert.ElementsMatch(t, []string{cert, testPlatformSerial}, signers, "one by each")

	ct, serial, err := e.c.Encrypt("李四")
	require.NoError(t, err)
	assert.Equal(t, testPlatformSerial, serial, "the public key, as WeChat expects during the switch")
	got, err := e.p.DecryptSensitive(serial, ct)
	require.NoError(t, err)
	assert.Equal(t, "李四", got)
	assert.Equal(t, 1, downloads(e.p))

	// The switch completes: no certificates listed, the public key stays.
	require.NoError(t, e.p.SetMode(wechatpaytest.PublicKeyMode))
	require.NoError(t, e.c.RefreshCertificates(ctx))
	all, _ = serialsOf(e.c.PlatformKeys())
	assert.Equal(t, []string{testPlatformSerial}, all)
}

// A client that only downloads certificates cannot verify what WeChat signs
// with the public key: the public key is the host's to configure.
func TestMigrationNeedsThePublicKeyConfigured(t *testing.T) {
	e := setupMode(t, wechatpaytest.CertificateMode, nil)
	ctx := t.Context()
	for _, no := range []string{"PAY20250520000001", "PAY20250520000002"} {
		_, err := e.c.CreatePayment(ctx, createReq(no, 100))
		require.NoError(t, err)
	}
	require.NoError(t, e.p.SetMode(wechatpaytest.MigrationMode))
	_, err := e.c.QueryPayment(ctx, payment.Account{}, "PAY20250520000001")
	require.NoError(t, err, "answers still come signed with the certificate, since requests do not name the public key")
	e.clock.Advance(wechatpay.MinRefreshCertificatesEvery)

	byCert, err := e.p.Pay("PAY20250520000001")
	require.NoError(t, err)
	byPublicKey, err := e.p.Pay("PAY20250520000002")
	require.NoError(t, err)
	require.Equal(t, testPlatformSerial, byPublicKey.Header.Get("Wechatpay-Serial"))
	_, err = e.c.ParseNotification(ctx, byCert.Request())
	require.NoError(t, err)
	_, err = e.c.ParseNotification(ctx, byPublicKey.Request())
	require.ErrorIs(t, err, wechatpay.ErrVerification)
	assert.ErrorContains(t, err, "even after downloading")
	assert.Equal(t, 2, downloads(e.p), "it looked once")

	require.Error(t, e.p.SetMode(wechatpaytest.Mode(7)))
	_, err = e.p.RotateCertificate(nil)
	require.Error(t, err, "no rotation during the switch")
}

// Verification runs concurrently with refreshes and never sees half a key
// set (run with -race).
func TestVerifyDuringRefresh(t *testing.T) {
	e := setupMode(t, wechatpaytest.CertificateMode, nil)
	n := e.paid(t, "PAY20250520000001", 21600)
	ctx := t.Context()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var failures atomic.Int32
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := e.c.ParseNotification(ctx, n.Request()); err != nil {
					failures.Add(1)
				}
				_ = e.c.PlatformKeys()
			}
		})
	}
	for range 10 {
		require.NoError(t, e.c.RefreshCertificates(ctx))
	}
	close(stop)
	wg.Wait()
	assert.Zero(t, failures.Load())
}

// gate holds certificate downloads until released, to test callers that
// wait for one.
type gate struct {
	next    http.RoundTripper
	arrived chan struct{}
	release chan struct{}
}

func (g *gate) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == "/v3/certificates" {
		g.arrived <- struct{}{}
		<-g.release
	}
	return g.next.RoundTrip(r)
}

// A caller that gives up waiting does not fail the download for the
// others waiting for it.
func TestWaiterGivingUp(t *testing.T) {
	g := &gate{arrived: make(chan struct{}, 1), release: make(chan struct{})}
	e := setupMode(t, wechatpaytest.CertificateMode, nil, func(c *wechatpay.Config) {
		hc := *c.HTTPClient
		g.next = hc.Transport
		hc.Transport = g
		c.HTTPClient = &hc
	})
	ctx, cancel := context.WithCancel(t.Context())
	first := make(chan error, 1)
	go func() { first <- e.c.RefreshCertificates(ctx) }()
	<-g.arrived
	second := make(chan error, 1)
	go func() { second <- e.c.RefreshCertificates(t.Context()) }()
	cancel()
	err := <-first
	require.ErrorIs(t, err, context.Canceled)
	close(g.release)
	require.NoError(t, <-second)
	assert.Len(t, e.c.PlatformKeys(), 1)
	assert.Equal(t, 1, downloads(e.p), "the second caller joined the first download")
}

// A client whose only key is a certificate WeChat has retired still
// downloads its successor: the refused request is asked again naming no
// key, and the answer verifies with the certificate it lists.
func TestRetiredConfiguredCertificate(t *testing.T) {
	e := setupMode(t, wechatpaytest.CertificateMode, nil)
	ctx := t.Context()
	old := e.p.CertificateSerials()[0]
	cfg := e.p.Config(e.notify)
	cfg.Now = e.clock.Now
	cfg.DownloadCertificates = true
	c, err := wechatpay.New(cfg)
	require.NoError(t, err)

	e.clock.Advance(time.Hour)
	fresh, err := e.p.RotateCertificate(rotatedKey())
	require.NoError(t, err)
	require.NoError(t, e.p.RetireCertificate(old))

	_, err = c.CreatePayment(ctx, createReq("PAY20250520000001", 100))
	require.NoError(t, err)
	reqs := e.p.Requests()
	require.Len(t, reqs, 3)
	assert.Equal(t, []string{old, ""}, []string{reqs[0].Header.Get("Wechatpay-Serial"), reqs[1].Header.Get("Wechatpay-Serial")})
	assert.Equal(t, []int{400, 200}, []int{reqs[0].Status, reqs[1].Status})
	assert.Equal(t, fresh, reqs[2].Header.Get("Wechatpay-Serial"))
	assert.Equal(t, 200, reqs[2].Status)
}
