package wechatpaytest

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Tamper names a way to break a notification (Platform.Tamper) or the
// platform's answers (Platform.TamperResponses). Each produces something a
// correct client must refuse, and each breaks exactly one thing: the rest is
// signed and encrypted properly, so a refusal shows that one check works.
type Tamper int

const (
	// TamperBody changes the body after it was signed (for notifications:
	// the summary; the resource still decrypts).
	TamperBody Tamper = iota + 1
	// TamperSignature signs with a key that is not the platform's, under
	// the platform's serial.
	TamperSignature
	// TamperSerial signs with the platform's key but names a serial the
	// merchant has no key for; a client that falls back to another key
	// would accept it.
	TamperSerial
	// TamperStale signs properly, ten minutes ago: a replay.
	TamperStale
	// TamperSignatureType sets Wechatpay-Signature-Type to something other
	// than WECHATPAY2-SHA256-RSA2048.
	TamperSignatureType
	// TamperAlgorithm labels the resource AEAD_AES_128_GCM (the ciphertext
	// is unchanged and would decrypt).
	TamperAlgorithm
	// TamperGCMTag flips a bit of the GCM tag, then signs.
	TamperGCMTag
	// TamperAPIv3Key encrypts the resource with a key other than the
	// merchant's APIv3 key, then signs.
	TamperAPIv3Key
	// TamperUnsigned leaves the Wechatpay-* signature headers out
	// (responses only).
	TamperUnsigned
)

var tamperNames = map[Tamper]string{
	TamperBody: "TamperBody", TamperSignature: "TamperSignature", TamperSerial: "TamperSerial",
	TamperStale: "TamperStale", TamperSignatureType: "TamperSignatureType", TamperAlgorithm: "TamperAlgorithm",
	TamperGCMTag: "TamperGCMTag", TamperAPIv3Key: "TamperAPIv3Key", TamperUnsigned: "TamperUnsigned",
}

func (t Tamper) String() string {
	if n, ok := tamperNames[t]; ok {
		return n
	}
	return "Tamper(" + strconv.Itoa(int(t)) + ")"
}

// NotificationTampers lists the tampers that apply to notifications, for
// table tests.
func NotificationTampers() []Tamper {
	return []Tamper{TamperBody, TamperSignature, TamperSerial, TamperStale,
		TamperSignatureType, TamperAlgorithm, TamperGCMTag, TamperAPIv3Key}
}

// Notification is a signed notification as WeChat Pay posts it.
type Notification struct {
	URL    string      // the notify_url it is for
	Header http.Header // Wechatpay-Timestamp, -Nonce, -Signature, -Serial, -Signature-Type, Content-Type
	Body   []byte

	spec notifySpec
}

// Request returns a fresh POST request carrying the notification, ready for
// wechatpay.Client.ParseNotification.
func (n *Notification) Request() *http.Request {
	req, err := http.NewRequest(http.MethodPost, n.URL, bytes.NewReader(n.Body))
	if err != nil {
		req, _ = http.NewRequest(http.MethodPost, "https://merchant.example.com/wechatpay/notify", bytes.NewReader(n.Body))
	}
	req.Header = n.Header.Clone()
	return req
}

// notifySpec is everything a notification is built from, so Tamper can
// rebuild it with one thing changed.
type notifySpec struct {
	url          string
	id           string
	eventType    string
	summary      string
	originalType string
	createTime   time.Time
	plaintext    []byte

	signedAt  time.Time
	signer    *rsa.PrivateKey
	serial    string
	sigType   string
	algorithm string
	key       []byte
	badTag    bool
	alterBody bool
}

func (p *Platform) newSpec(url, eventType, summary, originalType string, resource any) (notifySpec, error) {
	plain, err := json.Marshal(resource)
	if err != nil {
		return notifySpec{}, err
	}
	now := p.now()
	signer, serial := p.notifySigner()
	return notifySpec{
		url: url, id: randUUID(), eventType: eventType, summary: summary, originalType: originalType,
		createTime: now, plaintext: plain, signedAt: now, signer: signer, serial: serial,
		sigType: "WECHATPAY2-SHA256-RSA2048", algorithm: "AEAD_AES_256_GCM", key: p.apiV3Key,
	}, nil
}

func (p *Platform) build(s notifySpec) (*Notification, error) {
	nonce := randAlnum(12)
	sealed, err := sealGCM(s.key, nonce, s.originalType, s.plaintext)
	if err != nil {
		return nil, fmt.Errorf("wechatpaytest: encrypting: %w", err)
	}
	if s.badTag {
		sealed[len(sealed)-1] ^= 0x01 // the last byte is the tag's
	}
	ct := base64.StdEncoding.EncodeToString(sealed)
	envelope := func(summary string) ([]byte, error) {
		return json.Marshal(map[string]any{
			"id":            s.id,
			"create_time":   wxTime(s.createTime),
			"resource_type": "encrypt-resource",
			"event_type":    s.eventType,
			"summary":       summary,
			"resource": map[string]string{
				"original_type":   s.originalType,
				"algorithm":       s.algorithm,
				"ciphertext":      ct,
				"associated_data": s.originalType,
				"nonce":           nonce,
			},
		})
	}
	body, err := envelope(s.summary)
	if err != nil {
		return nil, err
	}
	ts, sigNonce := strconv.FormatInt(s.signedAt.Unix(), 10), randAlnum(32)
	sig, err := signSHA256RSA(s.signer, ts+"\n"+sigNonce+"\n"+string(body)+"\n")
	if err != nil {
		return nil, err
	}
	if s.alterBody {
		if body, err = envelope(s.summary + " (altered)"); err != nil {
			return nil, err
		}
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Wechatpay-Timestamp", ts)
	h.Set("Wechatpay-Nonce", sigNonce)
	h.Set("Wechatpay-Signature", sig)
	h.Set("Wechatpay-Serial", s.serial)
	h.Set("Wechatpay-Signature-Type", s.sigType)
	return &Notification{URL: s.url, Header: h, Body: body, spec: s}, nil
}

// Tamper returns a copy of n broken in the way t names, signed now (or ten
// minutes ago for TamperStale). The original is untouched.
func (p *Platform) Tamper(n *Notification, t Tamper) (*Notification, error) {
	s := n.spec
	s.signedAt = p.now()
	switch t {
	case TamperBody:
		s.alterBody = true
	case TamperSignature:
		k, err := p.impostorKey()
		if err != nil {
			return nil, err
		}
		s.signer = k
	case TamperSerial:
		s.serial = "PUB_KEY_ID_" + randDigits(32)
	case TamperStale:
		s.signedAt = s.signedAt.Add(-10 * time.Minute)
	case TamperSignatureType:
		s.sigType = "WECHATPAY2-SHA256-RSA4096"
	case TamperAlgorithm:
		s.algorithm = "AEAD_AES_128_GCM"
	case TamperGCMTag:
		s.badTag = true
	case TamperAPIv3Key:
		s.key = []byte(randAlnum(32))
	default:
		return nil, fmt.Errorf("wechatpaytest: %s does not apply to notifications", t)
	}
	return p.build(s)
}

// Pay plays the payer: the unpaid order out_trade_no becomes SUCCESS (with
// a transaction_id and success_time) and the TRANSACTION.SUCCESS
// notification WeChat Pay would post is returned. Send it with Deliver or
// hand Notification.Request to the client.
func (p *Platform) Pay(outTradeNo string) (*Notification, error) {
	p.mu.Lock()
	o, ok := p.orders[outTradeNo]
	if !ok {
		p.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", errNoOrder, outTradeNo)
	}
	p.expire(o)
	if o.state != "NOTPAY" {
		p.mu.Unlock()
		return nil, fmt.Errorf("wechatpaytest: order %s is %s, not payable", outTradeNo, o.state)
	}
	if o.g != nil {
		if err := p.global.settle(o.g, o.total); err != nil {
			p.mu.Unlock()
			return nil, err
		}
	}
	o.state = "SUCCESS"
	o.transactionID = "4200" + randDigits(24)
	o.successTime = p.now().Truncate(time.Second)
	p.byTxID[o.transactionID] = o
	resource := p.transactionJSON(o)
	url := o.notifyURL
	p.mu.Unlock()
	s, err := p.newSpec(url, "TRANSACTION.SUCCESS", "支付成功", "transaction", resource)
	if err != nil {
		return nil, err
	}
	return p.build(s)
}

// FinishRefund settles a PROCESSING refund with status SUCCESS, ABNORMAL or
// CLOSED and returns the REFUND.* notification WeChat Pay would post. A
// CLOSED refund gives its amount back to the refundable balance.
func (p *Platform) FinishRefund(outRefundNo, status string) (*Notification, error) {
	switch status {
	case "SUCCESS", "ABNORMAL", "CLOSED":
	default:
		return nil, fmt.Errorf("wechatpaytest: refund status %q, want SUCCESS, ABNORMAL or CLOSED", status)
	}
	p.mu.Lock()
	r, ok := p.refunds[outRefundNo]
	if !ok {
		p.mu.Unlock()
		return nil, fmt.Errorf("wechatpaytest: no refund %s", outRefundNo)
	}
	if r.status != "PROCESSING" {
		p.mu.Unlock()
		return nil, fmt.Errorf("wechatpaytest: refund %s is %s already", outRefundNo, r.status)
	}
	r.status = status
	resource := map[string]any{
		"out_trade_no":          r.o.outTradeNo,
		"transaction_id":        r.o.transactionID,
		"out_refund_no":         r.outRefundNo,
		"refund_id":             r.refundID,
		"refund_status":         status,
		"user_received_account": "支付用户零钱",
		"amount": map[string]int64{
			"total": r.o.total, "refund": r.amount, "payer_total": r.o.total, "payer_refund": r.amount,
		},
	}
	if r.o.g != nil {
		resource["amount"] = p.globalRefundAmount(r)
	}
	p.refundMerchant(r, resource)
	switch status {
	case "SUCCESS":
		r.success = p.now().Truncate(time.Second)
		resource["success_time"] = wxTime(r.success)
	case "CLOSED":
		r.o.refunded -= r.amount
		if r.o.g != nil {
			r.o.g.payerRefunded -= r.payerRefund
		}
		p.refundClosed(r)
	}
	url := r.notifyURL
	if url == "" {
		url = r.o.notifyURL
	}
	p.mu.Unlock()
	summary := map[string]string{"SUCCESS": "退款成功", "ABNORMAL": "退款异常", "CLOSED": "退款关闭"}[status]
	s, err := p.newSpec(url, "REFUND."+status, summary, "refund", resource)
	if err != nil {
		return nil, err
	}
	return p.build(s)
}

// Deliver posts n to its notify URL as WeChat Pay does and returns the
// merchant's answer: status code and body. WeChat reads the status only
// (2XX: done; anything else: retry later); so does the caller.
func (p *Platform) Deliver(ctx context.Context, n *Notification) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.URL, bytes.NewReader(n.Body))
	if err != nil {
		return 0, nil, fmt.Errorf("wechatpaytest: notify_url %q: %w", n.URL, err)
	}
	req.Header = n.Header.Clone()
	req.Header.Set("User-Agent", "Mozilla/4.0") // as WeChat Pay's notifier identifies itself
	resp, err := p.notifyClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("wechatpaytest: delivering to %s: %w", n.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, body, err
}

func randUUID() string {
	h := randHex(32)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
