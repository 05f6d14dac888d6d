package fakepay

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/shopspring/decimal"
	"golang.org/x/text/currency"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/payment"
)

// SignatureHeader carries the HMAC-SHA256 of a notification's body.
const SignatureHeader = "Fakepay-Signature"

// RefundMode says how the channel answers refunds.
type RefundMode int

// Refund modes.
const (
	// RefundAtOnce answers refunds succeeded in the response.
	RefundAtOnce RefundMode = iota
	// RefundLater answers processing; CompleteRefund sends the outcome.
	RefundLater
	// RefundRefused answers failed in the response.
	RefundRefused
)

// Provider is the fake channel. The zero value is not usable; call New.
type Provider struct {
	name   string
	secret []byte
	clock  func() time.Time

	mu         sync.Mutex
	payments   map[string]*payment.Transaction
	refunds    map[string]*payment.RefundResult
	refundsOf  map[string][]string // payment number -> its refund numbers
	refundMode RefundMode
	failNext   map[string]error
	seq        int
	calls      map[string]int
	// payer and rates play a cross-border channel (WithExchange).
	payer currency.Unit
	rates map[currency.Unit]decimal.Decimal
}

var _ payment.Provider = (*Provider)(nil)

// Option configures a Provider.
type Option func(*Provider)

// WithName names the provider ("fakepay" by default).
func WithName(name string) Option { return func(p *Provider) { p.name = name } }

// WithClock sets the clock stamped on payments and refunds.
func WithClock(now func() time.Time) Option { return func(p *Provider) { p.clock = now } }

// WithSecret sets the key notifications are signed with.
func WithSecret(secret []byte) Option { return func(p *Provider) { p.secret = secret } }

// WithRefundMode sets how refunds are answered.
func WithRefundMode(m RefundMode) Option { return func(p *Provider) { p.refundMode = m } }

// WithExchange plays a cross-border channel: a payment in a currency of
// rates is paid in payer (CNY, say) at its rate (payer units per unit),
// rounded half up to payer's minor unit, and reports that side in
// Transaction.Exchange; its refunds report theirs at the payment's rate,
// cumulatively, so that refunding everything returns exactly what the
// payer paid.
func WithExchange(payer currency.Unit, rates map[currency.Unit]decimal.Decimal) Option {
	return func(p *Provider) { p.payer, p.rates = payer, rates }
}

// exchange is the payer's side of amount at its rate, or nil when the
// channel does not convert it.
func (p *Provider) exchange(amount commerce.Money) *payment.Exchange {
	rate, ok := p.rates[amount.Currency()]
	if !ok || amount.Currency() == p.payer {
		return nil
	}
	payer := commerce.NewMoney(amount.Amount().Mul(rate), p.payer).Round()
	return &payment.Exchange{Payer: payer, Rate: rate, RateType: "SETTLEMENT_RATE"}
}

// refundExchange is the payer's side of a refund of amount that follows
// refunds of done, of payment t: the difference of the cumulative shares,
// so the shares of a full refund add up to the payer's payment.
func refundExchange(t *payment.Transaction, done, amount commerce.Money) *payment.Exchange {
	if t.Exchange == nil {
		return nil
	}
	payer := t.Exchange.Payer
	share := func(m commerce.Money) commerce.Money {
		return commerce.NewMoney(payer.Amount().Mul(m.Amount()).Div(t.Amount.Amount()), payer.Currency()).Round()
	}
	after, _ := done.Add(amount)
	back, _ := share(after).Sub(share(done))
	return &payment.Exchange{Payer: back, Rate: t.Exchange.Rate, RateType: t.Exchange.RateType}
}

// New returns a fake channel with a fresh signing secret.
func New(opts ...Option) *Provider {
	p := &Provider{name: "fakepay", secret: []byte("fakepay-secret"), clock: time.Now,
		payments: map[string]*payment.Transaction{}, refunds: map[string]*payment.RefundResult{},
		refundsOf: map[string][]string{},
		failNext:  map[string]error{}, calls: map[string]int{}}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Name implements payment.Provider.
func (p *Provider) Name() string { return p.name }

// SetRefundMode changes how later refunds are answered.
func (p *Provider) SetRefundMode(m RefundMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refundMode = m
}

// FailNext makes the next call of the named method ("CreatePayment",
// "QueryPayment", "ClosePayment", "Refund", "QueryRefund") return err, as a
// channel outage.
func (p *Provider) FailNext(method string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failNext[method] = err
}

// Calls returns how many times the named method was called.
func (p *Provider) Calls(method string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[method]
}

func (p *Provider) enter(method string) error {
	p.calls[method]++
	if err, ok := p.failNext[method]; ok {
		delete(p.failNext, method)
		return err
	}
	return nil
}

func (p *Provider) nextRef(prefix string) string {
	p.seq++
	return fmt.Sprintf("%s%010d", prefix, p.seq)
}

// CreatePayment implements payment.Provider. The same number again returns
// the same prepay id, as WeChat Pay does for a repeated out_trade_no.
func (p *Provider) CreatePayment(ctx context.Context, r payment.CreateRequest) (*payment.Prepay, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.enter("CreatePayment"); err != nil {
		return nil, err
	}
	if r.PaymentNo == "" || !r.Amount.IsPositive() {
		return nil, errors.New("fakepay: payment number and a positive amount are required")
	}
	t, ok := p.payments[r.PaymentNo]
	if ok && !t.Amount.Equal(r.Amount) {
		return nil, fmt.Errorf("fakepay: payment %s exists with amount %s", r.PaymentNo, t.Amount)
	}
	if !ok {
		t = &payment.Transaction{PaymentNo: r.PaymentNo, State: payment.TxPending, Amount: r.Amount, Payer: r.Payer, Attach: r.Attach, Account: r.Account}
		p.payments[r.PaymentNo] = t
	}
	prepay := "fp_prepay_" + r.PaymentNo
	return &payment.Prepay{PrepayID: prepay, ClientParams: map[string]string{"prepay_id": prepay, "amount": r.Amount.String()}}, nil
}

// QueryPayment implements payment.Provider.
func (p *Provider) QueryPayment(ctx context.Context, acct payment.Account, no string) (*payment.Transaction, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.enter("QueryPayment"); err != nil {
		return nil, err
	}
	t, ok := p.payments[no]
	if !ok || t.Account != acct {
		return nil, fmt.Errorf("fakepay: no payment %s for account %+v", no, acct)
	}
	cp := *t
	return &cp, nil
}

// ClosePayment implements payment.Provider.
func (p *Provider) ClosePayment(ctx context.Context, acct payment.Account, no string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.enter("ClosePayment"); err != nil {
		return err
	}
	t, ok := p.payments[no]
	if !ok || t.Account != acct {
		return fmt.Errorf("fakepay: no payment %s for account %+v", no, acct)
	}
	if t.State == payment.TxSucceeded {
		return fmt.Errorf("fakepay: payment %s is paid", no)
	}
	t.State = payment.TxClosed
	return nil
}

// Refund implements payment.Provider.
func (p *Provider) Refund(ctx context.Context, r payment.RefundRequest) (*payment.RefundResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.enter("Refund"); err != nil {
		return nil, err
	}
	if prev, ok := p.refunds[r.RefundNo]; ok {
		cp := *prev
		return &cp, nil
	}
	t, ok := p.payments[r.PaymentNo]
	if !ok || t.State != payment.TxSucceeded || t.Account != r.Account {
		return nil, fmt.Errorf("fakepay: payment %s of account %+v is not paid", r.PaymentNo, r.Account)
	}
	done := commerce.Zero(t.Amount.Currency())
	for _, no := range p.refundsOf[r.PaymentNo] {
		if prev := p.refunds[no]; prev.State != payment.RefundFailed {
			done, _ = done.Add(prev.Amount)
		}
	}
	if after, err := done.Add(r.Amount); err != nil {
		return nil, err
	} else if c, _ := after.Cmp(t.Amount); c > 0 {
		return nil, fmt.Errorf("fakepay: refunds of %s exceed the payment of %s", after, t.Amount)
	}
	res := &payment.RefundResult{RefundNo: r.RefundNo, PaymentNo: r.PaymentNo, ProviderRef: p.nextRef("fp_refund_"),
		Amount: r.Amount, At: p.clock(), Account: r.Account, Exchange: refundExchange(t, done, r.Amount)}
	switch p.refundMode {
	case RefundAtOnce:
		res.State = payment.RefundSucceeded
	case RefundLater:
		res.State = payment.RefundProcessing
	case RefundRefused:
		res.State, res.Reason = payment.RefundFailed, "refused by fakepay"
	}
	p.refunds[r.RefundNo] = res
	p.refundsOf[r.PaymentNo] = append(p.refundsOf[r.PaymentNo], r.RefundNo)
	cp := *res
	return &cp, nil
}

// QueryRefund implements payment.Provider.
func (p *Provider) QueryRefund(ctx context.Context, acct payment.Account, refundNo string) (*payment.RefundResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.enter("QueryRefund"); err != nil {
		return nil, err
	}
	r, ok := p.refunds[refundNo]
	if !ok || r.Account != acct {
		return nil, fmt.Errorf("fakepay: no refund %s for account %+v", refundNo, acct)
	}
	cp := *r
	return &cp, nil
}

// Pay has the payer pay the payment in full and returns the channel's
// success notification, ready for the host's notification handler.
func (p *Provider) Pay(no string) (*http.Request, error) {
	p.mu.Lock()
	t, ok := p.payments[no]
	if !ok {
		p.mu.Unlock()
		return nil, fmt.Errorf("fakepay: no payment %s", no)
	}
	if t.State == payment.TxPending {
		t.State, t.ProviderRef, t.PaidAt = payment.TxSucceeded, p.nextRef("fp_tx_"), p.clock().UTC().Truncate(time.Second)
		t.Exchange = p.exchange(t.Amount)
	}
	cp := *t
	p.mu.Unlock()
	if cp.State != payment.TxSucceeded {
		return nil, fmt.Errorf("fakepay: payment %s is %s", no, cp.State)
	}
	return p.Notification(&payment.Notification{Kind: payment.NotifyPayment, EventType: "TRANSACTION.SUCCESS", Transaction: &cp})
}

// Fail has the payer's payment fail (a declined card, insufficient
// balance) and returns the channel's notification of it.
func (p *Provider) Fail(no string) (*http.Request, error) {
	p.mu.Lock()
	t, ok := p.payments[no]
	if !ok {
		p.mu.Unlock()
		return nil, fmt.Errorf("fakepay: no payment %s", no)
	}
	if t.State != payment.TxPending {
		p.mu.Unlock()
		return nil, fmt.Errorf("fakepay: payment %s is %s", no, t.State)
	}
	t.State = payment.TxFailed
	cp := *t
	p.mu.Unlock()
	return p.Notification(&payment.Notification{Kind: payment.NotifyPayment, EventType: "TRANSACTION.PAYERROR", Transaction: &cp})
}

// CompleteRefund settles a refund answered processing and returns the
// notification of its outcome.
func (p *Provider) CompleteRefund(refundNo string, succeed bool) (*http.Request, error) {
	p.mu.Lock()
	r, ok := p.refunds[refundNo]
	if !ok {
		p.mu.Unlock()
		return nil, fmt.Errorf("fakepay: no refund %s", refundNo)
	}
	if r.State == payment.RefundProcessing {
		r.State, r.At = payment.RefundSucceeded, p.clock()
		if !succeed {
			r.State, r.Reason = payment.RefundFailed, "account closed"
		}
	}
	cp := *r
	p.mu.Unlock()
	event := "REFUND.SUCCESS"
	if cp.State == payment.RefundFailed {
		event = "REFUND.ABNORMAL"
	}
	return p.Notification(&payment.Notification{Kind: payment.NotifyRefund, EventType: event, Refund: &cp})
}

// wire is a notification's body.
type wire struct {
	ID          string                `json:"id"`
	Kind        string                `json:"kind"`
	EventType   string                `json:"event_type"`
	Transaction *payment.Transaction  `json:"transaction,omitempty"`
	Refund      *payment.RefundResult `json:"refund,omitempty"`
}

// Notification signs n as the channel would and returns it as an HTTP
// request. Tests use it to forge notifications the channel never sent (an
// altered amount, an unknown payment) that still pass verification, to
// check the service's own checks.
func (p *Provider) Notification(n *payment.Notification) (*http.Request, error) {
	p.mu.Lock()
	id := n.ID
	if id == "" {
		id = p.nextRef("fp_notify_")
	}
	p.mu.Unlock()
	body, err := json.Marshal(wire{ID: id, Kind: string(n.Kind), EventType: n.EventType, Transaction: n.Transaction, Refund: n.Refund})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, "/notify/"+p.name, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, p.sign(body))
	return req, nil
}

func (p *Provider) sign(body []byte) string {
	m := hmac.New(sha256.New, p.secret)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// ParseNotification implements payment.Provider: it checks the signature
// over the exact body and decodes it.
func (p *Provider) ParseNotification(ctx context.Context, r *http.Request) (*payment.Notification, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("fakepay: read notification: %w", err)
	}
	want, err := hex.DecodeString(r.Header.Get(SignatureHeader))
	if err != nil || !hmac.Equal(want, mustHex(p.sign(body))) {
		return nil, errors.New("fakepay: notification signature does not verify")
	}
	var w wire
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, fmt.Errorf("fakepay: notification body: %w", err)
	}
	n := &payment.Notification{ID: w.ID, Kind: payment.NotificationKind(w.Kind), EventType: w.EventType, Transaction: w.Transaction, Refund: w.Refund}
	switch {
	case n.Kind == payment.NotifyPayment && n.Transaction != nil, n.Kind == payment.NotifyRefund && n.Refund != nil:
		return n, nil
	}
	return nil, fmt.Errorf("fakepay: notification %q of kind %q has no body", w.ID, w.Kind)
}

func mustHex(s string) []byte {
	b, _ := hex.DecodeString(s)
	return b
}
