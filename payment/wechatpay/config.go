package wechatpay

import (
	"crypto/rsa"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/minishop/minishop/commerce"
)

// DefaultBaseURL is WeChat Pay's API host. api2.mch.weixin.qq.com is the
// documented backup.
const DefaultBaseURL = "https://api.mch.weixin.qq.com"

// DefaultGlobalBaseURL is WeChat Pay's cross-border (境外支付) API host, the
// default BaseURL when Config.CrossBorder is set. Its payment APIs are
// under /v3/global/.
const DefaultGlobalBaseURL = "https://apihk.mch.weixin.qq.com"

// DefaultMaxSkew is how far a signed response or notification's timestamp
// may be from the local clock: WeChat's SDKs use five minutes.
const DefaultMaxSkew = 5 * time.Minute

// Key sizes. WeChat Pay's scheme is named RSA2048; smaller keys are refused
// as unsafe and larger than 4096 bits as not WeChat's (and costly to verify
// for whoever can make us verify).
const (
	minKeyBits = 2048
	maxKeyBits = 4096
)

// Config is a merchant's WeChat Pay account; see the package documentation
// for where each value comes from.
type Config struct {
	// Name is the provider's name in payment records (default DefaultName,
	// or DefaultGlobalName with CrossBorder): a process that takes
	// payments both as a direct merchant and as a service provider runs
	// two clients under two names.
	Name string
	// CrossBorder makes the client a cross-border merchant's (境外支付): it
	// talks to DefaultGlobalBaseURL's /v3/global/ APIs, prices payments in
	// any of WeChat's pricing currencies (the payer pays in CNY at WeChat's
	// rate) and reports the payer's side as Transaction.Exchange and
	// RefundResult.Exchange. With ServiceProvider it is an institutional
	// merchant's (sp_mchid, sub_mchid). See "Cross-border" in the package
	// documentation.
	CrossBorder bool
	// MerchantCategoryCode is the merchant's four-digit MCC (e.g. "4111"),
	// which every cross-border order carries (merchant_category_code).
	// Required with CrossBorder, refused without it.
	MerchantCategoryCode string
	// ServiceProvider: MchID and AppID are a service provider's (sp_mchid,
	// sp_appid), and every payment is made for one of its sub-merchants
	// through the partner APIs (payment.Account names it, set per merchant
	// with payment.Service.SetAccount). The keys and certificates are the
	// service provider's.
	ServiceProvider bool
	MchID           string          // merchant number (商户号); the service provider's in partner mode
	AppID           string          // Mini Program / Official Account app id the payers' openids belong to
	SerialNo        string          // merchant API certificate serial number
	PrivateKey      *rsa.PrivateKey // merchant API private key (apiclient_key.pem)
	APIv3Key        string          // APIv3 key, exactly 32 bytes

	// PlatformKeys are WeChat Pay's verification keys by platform
	// certificate serial or WeChat Pay public-key ID, exactly as WeChat
	// sends them in Wechatpay-Serial. Requests name one of them in their
	// own Wechatpay-Serial (see the package documentation for which). New
	// copies the map. These keys stay in force for the client's life: a
	// public key does not expire, and a configured certificate is the
	// host's to replace. May be empty when DownloadCertificates is set.
	PlatformKeys map[string]*rsa.PublicKey

	// DownloadCertificates makes the client fetch WeChat Pay's platform
	// certificates from GET /v3/certificates (decrypted with the APIv3
	// key) before its first use, again every RefreshCertificatesEvery, and
	// when a response or notification names a serial it does not have. See
	// "Platform certificates" in the package documentation.
	DownloadCertificates bool
	// RefreshCertificatesEvery is how old the downloaded certificates may
	// grow before the next call downloads them again: default
	// DefaultRefreshCertificatesEvery, at least MinRefreshCertificatesEvery.
	// Only with DownloadCertificates.
	RefreshCertificatesEvery time.Duration

	NotifyURL string // HTTPS, no query; http only for loopback hosts

	// MaxSharingRatio is the largest share of a payment ValidateShare lets
	// go to receivers other than the merchant itself: WeChat's default 30 %
	// (payment.DefaultMaxShareRatio) unless set. A merchant that agreed another
	// ratio with WeChat sets it; a service provider's sub-merchants have
	// theirs at WeChat (Client.SharingRatio), which WeChat enforces.
	MaxSharingRatio commerce.Rate

	BaseURL    string           // default DefaultBaseURL (DefaultGlobalBaseURL with CrossBorder)
	HTTPClient *http.Client     // default: 30 s timeout, no redirects
	Now        func() time.Time // default time.Now
	MaxSkew    time.Duration    // default DefaultMaxSkew
}

// Client is a WeChat Pay API v3 merchant client; it implements
// payment.Provider. It is safe for concurrent use.
type Client struct {
	name    string
	cfg     Config
	base    string // BaseURL without a trailing slash
	http    *http.Client
	now     func() time.Time
	maxSkew time.Duration
	ua      string

	configured map[string]*rsa.PublicKey // Config.PlatformKeys, a copy
	download   bool                      // Config.DownloadCertificates
	every      time.Duration             // Config.RefreshCertificatesEvery, defaulted
	keys       atomic.Pointer[keySet]    // the keys in force, swapped whole
	refresh    refresher
}

// New checks cfg and returns a client for it. Every mistake is reported with
// the field's name, since a misconfigured payment channel otherwise fails
// only when a customer tries to pay.
func New(cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Client{
		name:       cfg.Name,
		cfg:        cfg,
		base:       strings.TrimSuffix(cfg.BaseURL, "/"),
		http:       cfg.HTTPClient,
		now:        cfg.Now,
		maxSkew:    cfg.MaxSkew,
		ua:         userAgent,
		configured: maps.Clone(cfg.PlatformKeys),
		download:   cfg.DownloadCertificates,
		every:      cfg.RefreshCertificatesEvery,
	}
	if c.every == 0 {
		c.every = DefaultRefreshCertificatesEvery
	}
	c.keys.Store(newKeySet(c.configured, nil, time.Time{}))
	if c.base == "" {
		c.base = DefaultBaseURL
		if cfg.CrossBorder {
			c.base = DefaultGlobalBaseURL
		}
	}
	if c.name == "" {
		c.name = DefaultName
		if cfg.CrossBorder {
			c.name = DefaultGlobalName
		}
	}
	if c.http == nil {
		c.http = &http.Client{
			Timeout: 30 * time.Second,
			// WeChat Pay does not redirect; a redirect would lead to a URL
			// the request was not signed for. The 3XX is reported instead.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.maxSkew == 0 {
		c.maxSkew = DefaultMaxSkew
	}
	c.cfg.PlatformKeys = c.configured
	return c, nil
}

// publicKeyIDPrefix starts the ID of every WeChat Pay public key; platform
// certificate serials are hex.
const publicKeyIDPrefix = "PUB_KEY_ID_"

// configError names the field at fault, as a commerce KindInvalid error so
// a host's error handling treats it like any other invalid input.
func configError(field, format string, args ...any) error {
	return commerce.Invalid("wechatpay.new", "Config."+field, format, args...)
}

func (cfg *Config) validate() error {
	if cfg.Name != "" {
		if err := checkToken(cfg.Name, 32); err != nil {
			return configError("Name", "%v", err)
		}
	}
	if err := checkDigits(cfg.MchID, 32); err != nil {
		return configError("MchID", "%v", err)
	}
	if err := checkToken(cfg.AppID, 32); err != nil {
		return configError("AppID", "%v", err)
	}
	if err := checkToken(cfg.SerialNo, 64); err != nil {
		return configError("SerialNo", "%v", err)
	}
	switch {
	case cfg.CrossBorder:
		if err := checkMCC(cfg.MerchantCategoryCode); err != nil {
			return configError("MerchantCategoryCode", "%v (cross-border orders carry merchant_category_code)", err)
		}
	case cfg.MerchantCategoryCode != "":
		return configError("MerchantCategoryCode", "set (%q) without CrossBorder: only cross-border orders carry one", cfg.MerchantCategoryCode)
	}
	if cfg.PrivateKey == nil {
		return configError("PrivateKey", "missing (the merchant API private key, apiclient_key.pem)")
	}
	if err := checkKeySize(&cfg.PrivateKey.PublicKey); err != nil {
		return configError("PrivateKey", "%v", err)
	}
	if err := cfg.PrivateKey.Validate(); err != nil {
		return configError("PrivateKey", "invalid RSA key: %v", err)
	}
	if n := len(cfg.APIv3Key); n != 32 {
		return configError("APIv3Key", "must be exactly 32 bytes (it is the AES-256 key of notifications), got %d", n)
	}
	if len(cfg.PlatformKeys) == 0 && !cfg.DownloadCertificates {
		return configError("PlatformKeys", "none given and DownloadCertificates not set: responses and notifications could not be verified")
	}
	switch every := cfg.RefreshCertificatesEvery; {
	case every != 0 && !cfg.DownloadCertificates:
		return configError("RefreshCertificatesEvery", "set (%s) without DownloadCertificates", every)
	case every < 0:
		return configError("RefreshCertificatesEvery", "negative (%s)", every)
	case every > 0 && every < MinRefreshCertificatesEvery:
		return configError("RefreshCertificatesEvery", "%s is under the minimum %s (downloading more often only loads WeChat Pay)", every, MinRefreshCertificatesEvery)
	}
	for serial, key := range cfg.PlatformKeys {
		if err := checkToken(serial, 64); err != nil {
			return configError("PlatformKeys", "serial %q: %v", serial, err)
		}
		if key == nil {
			return configError("PlatformKeys", "serial %q: nil key", serial)
		}
		if err := checkKeySize(key); err != nil {
			return configError("PlatformKeys", "serial %q: %v", serial, err)
		}
	}
	if err := checkEndpoint(cfg.NotifyURL, true); err != nil {
		return configError("NotifyURL", "%v", err)
	}
	if cfg.BaseURL != "" {
		if err := checkEndpoint(cfg.BaseURL, false); err != nil {
			return configError("BaseURL", "%v", err)
		}
	}
	if r := cfg.MaxSharingRatio.PPM(); r < 0 || r > 1_000_000 {
		return configError("MaxSharingRatio", "%s is not 0 %% to 100 %%", cfg.MaxSharingRatio)
	}
	if cfg.MaxSkew < 0 {
		return configError("MaxSkew", "negative (%s)", cfg.MaxSkew)
	}
	return nil
}

// checkMCC accepts a merchant category code: exactly four digits.
func checkMCC(s string) error {
	if s == "" {
		return fmt.Errorf("missing")
	}
	if len(s) != 4 {
		return fmt.Errorf("%q must be exactly 4 digits", truncate(s, 16))
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return fmt.Errorf("%q must be exactly 4 digits", s)
		}
	}
	return nil
}

func checkKeySize(k *rsa.PublicKey) error {
	if k.N == nil {
		return fmt.Errorf("RSA key has no modulus")
	}
	if bits := k.N.BitLen(); bits < minKeyBits || bits > maxKeyBits {
		return fmt.Errorf("RSA key is %d bits, want %d to %d", bits, minKeyBits, maxKeyBits)
	}
	return nil
}

func checkDigits(s string, max int) error {
	if s == "" {
		return fmt.Errorf("missing")
	}
	if len(s) > max {
		return fmt.Errorf("%q is longer than %d characters", s, max)
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return fmt.Errorf("%q must be digits only", s)
		}
	}
	return nil
}

// checkToken accepts the identifiers WeChat issues (app ids, serials,
// PUB_KEY_ID_…): letters, digits and underscores. Anything else would also
// break the quoted Authorization header.
func checkToken(s string, max int) error {
	if s == "" {
		return fmt.Errorf("missing")
	}
	if len(s) > max {
		return fmt.Errorf("%q is longer than %d characters", s, max)
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_') {
			return fmt.Errorf("%q may contain only letters, digits and underscores", s)
		}
	}
	return nil
}

// checkEndpoint enforces WeChat's rules for notify_url (HTTPS, at most 255
// characters, no query) and the same transport rule for the API host.
// Plain http is allowed for loopback hosts only, so local test platforms
// work while a real deployment cannot leak payment data in clear text.
func checkEndpoint(raw string, notify bool) error {
	if raw == "" {
		return fmt.Errorf("missing")
	}
	if len(raw) > 255 {
		return fmt.Errorf("longer than 255 characters")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL: %v", err)
	}
	if u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("%q has no host", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return fmt.Errorf("%q must use https (http is allowed only for loopback hosts)", raw)
		}
	default:
		return fmt.Errorf("%q must be an https URL", raw)
	}
	if u.User != nil {
		return fmt.Errorf("%q must not carry user information", raw)
	}
	if u.RawQuery != "" || u.ForceQuery {
		return fmt.Errorf("%q must not have a query string", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("%q must not have a fragment", raw)
	}
	if !notify && u.Path != "" && u.Path != "/" {
		// Requests are signed over the path WeChat sees; a prefix would be
		// signed but not seen (or the other way round).
		return fmt.Errorf("%q must be a bare host without a path", raw)
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
