package wechatpaytest

import (
	"bytes"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/minishop/minishop/payment/wechatpay"
)

// Defaults, taken from the examples in WeChat Pay's documentation.
const (
	DefaultMchID = "1900000109"
	DefaultAppID = "wxd678efh567hg6787"
)

// Options configure a Platform. Every field has a default, so Options{} is
// a working merchant.
type Options struct {
	MchID string // default DefaultMchID
	// ServiceProvider makes the platform a service provider's: MchID and
	// AppID are its sp_mchid and sp_appid, payments go through the partner
	// APIs for sub-merchants registered with AddSubMerchant.
	ServiceProvider bool
	AppID           string          // default DefaultAppID
	APIv3Key        string          // default: 32 random characters
	MerchantKey     *rsa.PrivateKey // the merchant's API key; default: a fresh 2048-bit key
	MerchantSerial  string          // default: 40 random hex digits
	PlatformKey     *rsa.PrivateKey // the WeChat Pay public key's private half; default: a fresh 2048-bit key
	PlatformSerial  string          // its public-key ID; default: PUB_KEY_ID_ and 32 random digits
	// Mode is which keys the platform signs with: PublicKeyMode (the
	// default, PlatformKey), CertificateMode (a platform certificate) or
	// MigrationMode (both). See Mode.
	Mode Mode
	// CertificateKey is the key of the first platform certificate, issued
	// at start in CertificateMode and MigrationMode; default: a fresh
	// 2048-bit key.
	CertificateKey *rsa.PrivateKey
	Now            func() time.Time
	// NotifyClient posts notifications in Deliver; default: a client with a
	// 10 s timeout (enough for http loopback notify URLs).
	NotifyClient *http.Client
	// FeeRatePPM is the merchant's fee rate in millionths, which the bills
	// charge per payment (rounded half-up to the fen) and give back in
	// proportion per refund; 0 means DefaultFeeRatePPM (0.6 %), negative
	// means none.
	FeeRatePPM int64

	// CrossBorder makes the platform a cross-border merchant's (境外支付,
	// see global.go): it serves the /v3/global/ APIs and refuses the
	// domestic ones with INVALID_REQUEST 暂不支持境外支付. With
	// ServiceProvider it is an institutional merchant's.
	CrossBorder bool
	// Rates are CNY per unit of a pricing currency, what Pay converts at
	// (rounded to 8 decimals, as exchange_rate.rate carries them); they
	// are added to DefaultRates, which they override.
	Rates map[string]decimal.Decimal
	// PayerCurrency is the currency payers pay in; default CNY.
	PayerCurrency string
	// MerchantCategoryCode is what Config puts in
	// wechatpay.Config.MerchantCategoryCode in cross-border mode; default
	// DefaultMerchantCategoryCode.
	MerchantCategoryCode string
}

// TB is the part of testing.TB that Start uses; *testing.T, *testing.B and
// *testing.F satisfy it. (Declared here so that programs that are not tests
// can import the package without pulling in package testing.)
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Platform is a running local WeChat Pay. It is safe for concurrent use.
type Platform struct {
	mchID, appID   string
	partner        bool
	apiV3Key       []byte
	merchantKey    *rsa.PrivateKey
	merchantSerial string
	platformKey    *rsa.PrivateKey
	platformSerial string
	now            func() time.Time
	notifyClient   *http.Client
	srv            *httptest.Server

	impostorOnce sync.Once
	impostor     *rsa.PrivateKey // signs forged notifications
	impostorErr  error

	mu           sync.Mutex
	orders       map[string]*order // by out_trade_no
	subMerchants map[string]string // a provider's sub_mchid → its sub_appid ("" for none)
	byTxID       map[string]*order // by transaction_id
	refunds      map[string]*refund
	xfer         transferBook // transfers.go
	shares       shareBook    // profitsharing.go
	requests     []Request
	respTamper   Tamper
	mode         Mode
	certs        []*platformCert // issued and not retired, oldest first
	certTamper   Tamper
	notifySeq    int
	faults       []Fault
	feeRatePPM   int64
	bills        map[string]*billFile // by download token
	billTamper   BillTamper
	rng          *rand.Rand
	closeServer  sync.Once
	global       globalBook              // global.go
	customs      map[string]*customsDecl // customs.go, by transaction_id|customs
}

// NewPlatform starts a platform. Close it when done.
func NewPlatform(opts Options) (*Platform, error) {
	p := &Platform{
		mchID:          opts.MchID,
		partner:        opts.ServiceProvider,
		subMerchants:   map[string]string{},
		appID:          opts.AppID,
		apiV3Key:       []byte(opts.APIv3Key),
		merchantKey:    opts.MerchantKey,
		merchantSerial: opts.MerchantSerial,
		platformKey:    opts.PlatformKey,
		platformSerial: opts.PlatformSerial,
		mode:           opts.Mode,
		now:            opts.Now,
		notifyClient:   opts.NotifyClient,
		orders:         map[string]*order{},
		byTxID:         map[string]*order{},
		refunds:        map[string]*refund{},
		customs:        map[string]*customsDecl{},
		rng:            rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		feeRatePPM:     opts.FeeRatePPM,
	}
	switch {
	case p.feeRatePPM == 0:
		p.feeRatePPM = DefaultFeeRatePPM
	case p.feeRatePPM < 0:
		p.feeRatePPM = 0
	}
	if p.mchID == "" {
		p.mchID = DefaultMchID
	}
	if p.appID == "" {
		p.appID = DefaultAppID
	}
	if len(p.apiV3Key) == 0 {
		p.apiV3Key = []byte(randAlnum(32))
	}
	if len(p.apiV3Key) != 32 {
		return nil, fmt.Errorf("wechatpaytest: APIv3Key must be 32 bytes, got %d", len(p.apiV3Key))
	}
	var err error
	if p.merchantKey == nil {
		if p.merchantKey, err = newKey(); err != nil {
			return nil, err
		}
	}
	if p.platformKey == nil {
		if p.platformKey, err = newKey(); err != nil {
			return nil, err
		}
	}
	if p.merchantSerial == "" {
		p.merchantSerial = strings.ToUpper(randHex(40))
	}
	if p.platformSerial == "" {
		p.platformSerial = "PUB_KEY_ID_" + randDigits(32)
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.notifyClient == nil {
		p.notifyClient = &http.Client{Timeout: 10 * time.Second}
	}
	switch p.mode {
	case PublicKeyMode:
	case CertificateMode, MigrationMode:
		key := opts.CertificateKey
		if key == nil {
			if key, err = newKey(); err != nil {
				return nil, err
			}
		}
		c, err := newCertificate(key, p.now(), p.mchID)
		if err != nil {
			return nil, err
		}
		p.certs = append(p.certs, c)
	default:
		return nil, fmt.Errorf("wechatpaytest: unknown mode %s", p.mode)
	}
	if err := p.global.init(opts); err != nil {
		return nil, err
	}
	p.srv = httptest.NewTLSServer(http.HandlerFunc(p.serve))
	return p, nil
}

// Start is NewPlatform for tests: it fails t on error and closes the
// platform when the test ends.
func Start(t TB, opts Options) *Platform {
	t.Helper()
	p, err := NewPlatform(opts)
	if err != nil {
		t.Fatalf("wechatpaytest: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// Close shuts the server down.
func (p *Platform) Close() { p.closeServer.Do(p.srv.Close) }

// URL is the platform's base URL (https://127.0.0.1:port).
func (p *Platform) URL() string { return p.srv.URL }

// HTTPClient returns a client that trusts the platform's TLS certificate.
func (p *Platform) HTTPClient() *http.Client { return p.srv.Client() }

// MchID returns the merchant number the platform serves.
func (p *Platform) MchID() string { return p.mchID }

// AppID returns the app the platform accepts payers of.
func (p *Platform) AppID() string { return p.appID }

// PlatformSerial returns the WeChat Pay public-key ID (PUB_KEY_ID_…), the
// key the platform signs with in PublicKeyMode. The certificates are
// CertificateSerials.
func (p *Platform) PlatformSerial() string { return p.platformSerial }

// Config returns the merchant's complete wechatpay.Config for this
// platform: credentials, the platform's verification keys in force in the
// current mode (the public key, the certificates, or both), BaseURL and an
// HTTPClient that trusts the test certificate. A test of certificate
// download clears PlatformKeys and sets DownloadCertificates instead. notifyURL is where the
// merchant wants notifications ("" gives a placeholder, fine when tests
// hand notifications over with Notification.Request instead of Deliver).
func (p *Platform) Config(notifyURL string) wechatpay.Config {
	if notifyURL == "" {
		notifyURL = "https://merchant.example.com/wechatpay/notify"
	}
	p.mu.Lock()
	keys := p.platformKeysLocked()
	p.mu.Unlock()
	var mcc string
	if p.global.on {
		mcc = p.global.mcc
	}
	return wechatpay.Config{
		CrossBorder:          p.global.on,
		MerchantCategoryCode: mcc,
		ServiceProvider:      p.partner,
		MchID:                p.mchID,
		AppID:                p.appID,
		SerialNo:             p.merchantSerial,
		PrivateKey:           p.merchantKey,
		APIv3Key:             string(p.apiV3Key),
		PlatformKeys:         keys,
		NotifyURL:            notifyURL,
		BaseURL:              p.srv.URL,
		HTTPClient:           p.srv.Client(),
	}
}

// Request is an API request the platform received, for assertions.
type Request struct {
	Method string
	URI    string // path and query as sent
	Header http.Header
	Body   []byte
	Status int    // the status answered
	Code   string // the error code answered, if any
}

// Requests returns the requests received so far, oldest first.
func (p *Platform) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Request, len(p.requests))
	copy(out, p.requests)
	return out
}

// TamperResponses makes the platform break every following answer in the
// way t names, to test that a client refuses it: TamperBody (body changed
// after signing: a digit altered, or a space added), TamperSignature (signed
// by another key), TamperSerial (a serial the merchant does not know),
// TamperStale (signed ten minutes ago) or TamperUnsigned (no signature
// headers). 0 restores honest answers.
func (p *Platform) TamperResponses(t Tamper) error {
	switch t {
	case 0, TamperBody, TamperSignature, TamperSerial, TamperStale, TamperUnsigned:
	default:
		return fmt.Errorf("wechatpaytest: %s does not apply to responses", t)
	}
	p.mu.Lock()
	p.respTamper = t
	p.mu.Unlock()
	return nil
}

// Fault makes the platform fail a share of the calls whose path starts
// with Prefix ("" for every call) with HTTP 500 SYSTEM_ERROR, as WeChat Pay
// does under load. Lost faults let the call take effect first, so only its
// answer is lost: the caller must find out what happened by asking again.
type Fault struct {
	Prefix string
	Rate   float64 // 0 to 1
	Lost   bool
}

// SetFaults replaces the faults in force; none restores a healthy
// platform. The first fault whose prefix matches a call decides it.
func (p *Platform) SetFaults(faults ...Fault) {
	p.mu.Lock()
	p.faults = append([]Fault(nil), faults...)
	p.mu.Unlock()
}

// fault reports whether the call to path fails, and how.
func (p *Platform) fault(path string) (Fault, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.faults {
		if strings.HasPrefix(path, f.Prefix) {
			return f, p.rng.Float64() < f.Rate
		}
	}
	return Fault{}, false
}

// apiError is an error answer.
type apiError struct {
	status  int
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// serve authenticates a request, routes it and signs the answer.
func (p *Platform) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
	rec := Request{Method: r.Method, URI: r.RequestURI, Header: r.Header.Clone(), Body: body}
	var status int
	var answer any
	switch {
	case err != nil || len(body) > 1<<20:
		answer = errorf(400, "PARAM_ERROR", "request body unreadable or over 1 MiB")
	default:
		if aerr := p.authenticate(r, body); aerr != nil {
			answer = aerr
		} else if aerr := p.checkSerial(r); aerr != nil {
			answer = aerr
		} else if f, ok := p.fault(r.URL.Path); !ok {
			status, answer = p.route(r, body)
		} else if f.Lost {
			// The call takes effect and its answer is lost on the way back.
			p.route(r, body)
			answer = errorf(500, "SYSTEM_ERROR", "injected fault (the call took effect)")
		} else {
			answer = errorf(500, "SYSTEM_ERROR", "injected fault")
		}
	}
	if e, ok := answer.(*apiError); ok {
		status, rec.Code = e.status, e.Code
	}
	if status == 0 {
		status = http.StatusOK
	}
	rec.Status = status
	p.mu.Lock()
	p.requests = append(p.requests, rec)
	tamper := p.respTamper
	signer, serial := p.answerSignerLocked(r.Header.Get("Wechatpay-Serial"))
	p.mu.Unlock()
	p.respond(w, status, answer, tamper, signer, serial)
}

func (p *Platform) route(r *http.Request, body []byte) (int, any) {
	const txPrefix = "/v3/pay/transactions/out-trade-no/"
	const refundPath = "/v3/refund/domestic/refunds"
	path := r.URL.Path
	if r.Method == http.MethodPost && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		return 0, errorf(400, "PARAM_ERROR", "Content-Type must be application/json")
	}
	if strings.HasPrefix(path, "/v3/global/customs/") {
		return p.routeCustoms(r, body)
	}
	if p.global.on {
		return p.routeGlobal(r, body)
	}
	if status, answer, ok := p.routePartner(r, body); ok {
		return status, answer
	}
	switch {
	case strings.HasPrefix(path, sharingRoute):
		return p.routeSharing(r, body)
	case r.Method == http.MethodPost && path == "/v3/pay/transactions/jsapi":
		return p.jsapi(body)
	case strings.HasPrefix(path, txPrefix):
		rest := strings.TrimPrefix(path, txPrefix)
		if no, ok := strings.CutSuffix(rest, "/close"); ok && r.Method == http.MethodPost && !strings.Contains(no, "/") {
			return p.closeOrder(no, body)
		}
		if r.Method == http.MethodGet && !strings.Contains(rest, "/") {
			return p.queryOrder(rest, r.URL.Query().Get("mchid"))
		}
	case r.Method == http.MethodGet && path == "/v3/certificates":
		return p.certificates()
	case strings.HasPrefix(path, transferRoute):
		return p.routeTransfer(r, body)
	case r.Method == http.MethodPost && path == refundPath:
		return p.createRefund(body)
	case r.Method == http.MethodGet && strings.HasPrefix(path, refundPath+"/"):
		no := strings.TrimPrefix(path, refundPath+"/")
		if !strings.Contains(no, "/") {
			return p.queryRefund(no, r.URL.Query().Get("sub_mchid"))
		}
	case r.Method == http.MethodGet && path == "/v3/bill/tradebill":
		return p.tradeBill(r.URL.Query())
	case r.Method == http.MethodGet && path == "/v3/bill/fundflowbill":
		return p.fundFlowBill(r.URL.Query())
	case r.Method == http.MethodGet && path == billDownloadPath:
		return p.billDownload(r.URL.Query())
	}
	return 0, errorf(404, "NOT_FOUND", "no such API: %s %s", r.Method, path)
}

// authenticate checks the Authorization header as WeChat Pay does.
func (p *Platform) authenticate(r *http.Request, body []byte) *apiError {
	fail := func(format string, args ...any) *apiError {
		return errorf(401, "SIGN_ERROR", format, args...)
	}
	scheme, rest, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if scheme != "WECHATPAY2-SHA256-RSA2048" {
		return fail("Authorization must use WECHATPAY2-SHA256-RSA2048")
	}
	params := map[string]string{}
	for _, kv := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return fail("Authorization parameter %q is not key=\"value\"", kv)
		}
		if _, dup := params[k]; dup {
			return fail("Authorization parameter %s repeated", k)
		}
		params[k] = v[1 : len(v)-1]
	}
	for _, k := range []string{"mchid", "nonce_str", "timestamp", "serial_no", "signature"} {
		if params[k] == "" {
			return fail("Authorization lacks %s", k)
		}
	}
	if params["mchid"] != p.mchID {
		return fail("mchid %q is not this merchant", params["mchid"])
	}
	if params["serial_no"] != p.merchantSerial {
		return fail("serial_no %q is not the merchant's API certificate", params["serial_no"])
	}
	ts, err := strconv.ParseInt(params["timestamp"], 10, 64)
	if err != nil {
		return fail("timestamp %q is not Unix seconds", params["timestamp"])
	}
	if d := p.now().Sub(time.Unix(ts, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fail("timestamp %d is %s from the platform's clock", ts, d)
	}
	sig, err := base64.StdEncoding.DecodeString(params["signature"])
	if err != nil {
		return fail("signature is not base64")
	}
	msg := r.Method + "\n" + r.RequestURI + "\n" + params["timestamp"] + "\n" + params["nonce_str"] + "\n" + string(body) + "\n"
	if err := verifySHA256RSA(&p.merchantKey.PublicKey, msg, sig); err != nil {
		return fail("signature does not match the request (message %q)", shorten(msg, 200))
	}
	return nil
}

// checkSerial applies WeChat Pay's rule for the request's Wechatpay-Serial,
// which names the platform key the merchant verifies answers with: absent,
// WeChat signs with its platform certificate as before; present, it must be
// a key WeChat Pay has for this merchant in its mode (the public-key ID, a
// platform certificate in force, or either during the migration), or the
// request is refused with 400 INVALID_REQUEST. It runs after the
// signature check, so only the merchant learns which serials are wrong.
func (p *Platform) checkSerial(r *http.Request) *apiError {
	v := r.Header.Values("Wechatpay-Serial")
	switch {
	case len(v) == 0:
		return nil
	case len(v) > 1:
		return errorf(400, "INVALID_REQUEST", "Wechatpay-Serial header repeated")
	}
	p.mu.Lock()
	_, ok := p.keyLocked(v[0])
	p.mu.Unlock()
	if !ok {
		return errorf(400, "INVALID_REQUEST", "Wechatpay-Serial %q is not a platform certificate serial or WeChat Pay public-key ID of merchant %s",
			shorten(v[0], 64), p.mchID)
	}
	return nil
}

// respond writes answer (an *apiError, a JSON value, or nil for 204),
// signed with signer under serial, broken as tamper says.
func (p *Platform) respond(w http.ResponseWriter, status int, answer any, tamper Tamper, signer *rsa.PrivateKey, serial string) {
	if f, ok := answer.(rawFile); ok {
		// A bill download: WeChat Pay signs no file (the apply answer's
		// hash_value stands for it).
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Request-ID", strings.ToUpper(randHex(32)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(f.data)
		return
	}
	var body []byte
	if answer != nil {
		var err error
		if body, err = json.Marshal(answer); err != nil {
			status, body = 500, []byte(`{"code":"SYSTEM_ERROR","message":"encoding the answer failed"}`)
		}
	}
	if status == 0 {
		status = http.StatusOK
	}
	h := w.Header()
	h.Set("Request-ID", strings.ToUpper(randHex(32)))
	if body != nil {
		h.Set("Content-Type", "application/json; charset=utf-8")
	}
	if tamper != TamperUnsigned {
		signedAt := p.now()
		switch tamper {
		case TamperStale:
			signedAt = signedAt.Add(-10 * time.Minute)
		case TamperSerial:
			serial = "PUB_KEY_ID_" + randDigits(32)
		case TamperSignature:
			if k, err := p.impostorKey(); err == nil {
				signer = k
			}
		}
		ts, nonce := strconv.FormatInt(signedAt.Unix(), 10), randAlnum(32)
		sig, err := signSHA256RSA(signer, ts+"\n"+nonce+"\n"+string(body)+"\n")
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		h.Set("Wechatpay-Timestamp", ts)
		h.Set("Wechatpay-Nonce", nonce)
		h.Set("Wechatpay-Signature", sig)
		h.Set("Wechatpay-Serial", serial)
	}
	if tamper == TamperBody && len(body) > 0 {
		body = alter(body)
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// alter changes the last digit in b (an amount, an id, a timestamp), or adds
// a space when there is none: the JSON still parses, only the signature can
// tell.
func alter(b []byte) []byte {
	out := bytes.Clone(b)
	for i := len(out) - 1; i >= 0; i-- {
		if out[i] >= '0' && out[i] <= '9' {
			out[i] = '0' + (out[i]-'0'+1)%10
			return out
		}
	}
	return append(out, ' ')
}

func (p *Platform) impostorKey() (*rsa.PrivateKey, error) {
	p.impostorOnce.Do(func() { p.impostor, p.impostorErr = newKey() })
	return p.impostor, p.impostorErr
}

var errNoOrder = errors.New("wechatpaytest: no such order")

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
