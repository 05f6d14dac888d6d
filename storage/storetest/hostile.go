package storetest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	. "github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/coupons"
	"github.com/minishop/minishop/gifting"
	"github.com/minishop/minishop/membership"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/fakepay"
	"github.com/minishop/minishop/promoter"
)

// The hostile-input conformance test: every entry point that takes a string
// gets the same hostile strings, and every store must answer alike: either
// KindInvalid naming the field, or accepted and read back byte-identical.
// What each string must get is fixed here by the kind of field (an id or
// key, or free text), not by what a store happens to do, so a store that
// differs fails.

// fieldClass is what a field holds, which decides what it accepts.
type fieldClass int

const (
	// classKey: ids, keys, references. No control characters and no
	// leading or trailing whitespace (MariaDB's PAD collations would match
	// "K2 " with "K2").
	classKey fieldClass = iota
	// classText: free text. Control characters and outer spaces are kept
	// as given; only what a store cannot keep (invalid UTF-8, NUL) and
	// overlong text is refused.
	classText
)

type hostileInput struct {
	name string
	s    string
	ok   func(fieldClass) bool // accepted in a field of this class
}

func always(fieldClass) bool     { return true }
func never(fieldClass) bool      { return false }
func textOnly(c fieldClass) bool { return c == classText }

// fitString is n characters of mixed widths: 3-byte Chinese, a 4-byte
// emoji, ASCII and a 2-byte letter, so a column sized in bytes, or in
// MySQL's 3-byte "utf8", is caught.
func fitString(n int) string {
	rs := []rune("中🎁aé")
	var b strings.Builder
	for i := range n {
		b.WriteRune(rs[i%len(rs)])
	}
	return b.String()
}

// hostileInputs are the strings every field gets. "pad" comes first so the
// padded variants after it find a record they could be confused with.
func hostileInputs(max int) []hostileInput {
	return []hostileInput{
		{"plain", "pad", always},
		{"trailing_space", "pad ", textOnly},
		{"leading_space", " pad", textOnly},
		{"invalid_utf8", "pa\xffd", never},
		{"encoded_surrogate", "pa\xed\xa0\x80d", never},
		{"nul", "pa\x00d", never},
		{"control", "pa\x01d", textOnly},
		{"newline", "pa\nd", textOnly},
		{"emoji", "🎁😀x", always},
		{"chinese", "张三", always},
		{"max", fitString(max), always},
		{"max+1", fitString(max + 1), never},
	}
}

// hostileCase is one field of one entry point. run feeds s and returns what
// the store gives back for it (read through another call than the one that
// wrote it, where minishop has one).
type hostileCase struct {
	name  string
	field string // the field a KindInvalid error must name
	class fieldClass
	max   int
	run   func(t *testing.T, i int, s string) (string, error)
}

type hostileEnv struct {
	*env
	engine *minishop.Engine
	fake   *fakepay.Provider
	secret []byte
	shop   *Shop
	m      commerce.MerchantID
	batch  *coupons.Batch
	seq    int
}

func (e *hostileEnv) next(prefix string) string {
	e.seq++
	return fmt.Sprintf("%s-%d", prefix, e.seq)
}

func newHostileEnv(t *testing.T, h Harness) *hostileEnv {
	t.Helper()
	e := &env{t: t, ctx: t.Context(), store: h.New(t), clock: NewClock(Epoch)}
	secret := []byte("hostile secret")
	fake := fakepay.New(fakepay.WithClock(e.clock.Now), fakepay.WithSecret(secret))
	engine, err := minishop.New(e.store, minishop.WithClock(e.clock), minishop.WithIDs(&SeqIDs{}), minishop.WithPayments(fake),
		minishop.WithCoupons(func(c *coupons.Config) { c.Secret = []byte("coupon secret") }),
		minishop.WithGifting(func(c *gifting.Config) { c.Secret = []byte("gift secret") }))
	require.NoError(t, err)
	e.svc = engine.Commerce
	he := &hostileEnv{env: e, engine: engine, fake: fake, secret: secret}
	he.shop = NewShop(t, e.svc, "边界店", freeShipping, ProductSpec{Title: "茶", Category: "home", Prices: []string{"10.00"}, Stock: 100000})
	he.m = he.shop.Merchant.ID
	he.batch, err = engine.Coupons.CreateBatch(e.ctx, coupons.BatchParams{MerchantID: he.m, Name: "满99减15", Kind: coupons.ThresholdOff,
		Amount: CNY("15"), MinAmount: CNY("99"), Total: 100000, PerPerson: 100000, Validity: coupons.Validity{Days: 7}, Activate: true})
	require.NoError(t, err)
	_, err = engine.Membership.SetProgram(e.ctx, membership.Program{MerchantID: he.m, Earn: membership.PointsPer{Points: 1, Per: CNY("1.00")},
		Tiers: []membership.Tier{{Level: 1, Name: "VIP1"}}})
	require.NoError(t, err)
	return he
}

func (e *hostileEnv) checkout(customer, key, note string) (*commerce.Order, error) {
	return e.svc.Checkout(e.ctx, commerce.CheckoutParams{MerchantID: e.m, CustomerID: commerce.CustomerID(customer),
		Lines: []commerce.LineItem{line(e.shop.SKU(0, 0), 1)}, IdempotencyKey: key, ShippingAddress: Address(), Note: note})
}

func (e *hostileEnv) mustCheckout(customer string) *commerce.Order {
	e.t.Helper()
	o, err := e.checkout(customer, e.next("key"), "")
	require.NoError(e.t, err)
	return o
}

func (e *hostileEnv) order(id commerce.OrderID) (*commerce.Order, error) {
	return e.svc.GetOrder(e.ctx, e.m, id)
}

// gift sends a merchant-paid gift, which is sent at once.
func (e *hostileEnv) gift(p gifting.SendParams) (*gifting.Gift, error) {
	p.MerchantID, p.SKU, p.Quantity, p.Free = e.m, e.shop.SKU(0, 0), 1, true
	if p.Giver == "" {
		p.Giver = commerce.CustomerID(e.next("giver"))
	}
	if p.IdempotencyKey == "" {
		p.IdempotencyKey = e.next("gift")
	}
	g, _, err := e.engine.Gifting.Send(e.ctx, p)
	return g, err
}

// signed is a fakepay notification request with body as given.
func (e *hostileEnv) signed(body []byte) *http.Request {
	req, err := http.NewRequest(http.MethodPost, "/notify/fakepay", bytes.NewReader(body))
	require.NoError(e.t, err)
	m := hmac.New(sha256.New, e.secret)
	m.Write(body)
	req.Header.Set(fakepay.SignatureHeader, hex.EncodeToString(m.Sum(nil)))
	return req
}

// paidAtChannel opens a payment for a fresh order and has the payer pay it
// at the channel, returning the transaction the channel reports, before
// any notification reached minishop.
func (e *hostileEnv) paidAtChannel() *payment.Transaction {
	e.t.Helper()
	o := e.mustCheckout(e.next("payer"))
	p, _, err := e.engine.Payments.Pay(e.ctx, payment.PayParams{MerchantID: e.m, OrderID: o.ID, Payer: "openid"})
	require.NoError(e.t, err)
	_, err = e.fake.Pay(p.PaymentNo)
	require.NoError(e.t, err)
	tx, err := e.fake.QueryPayment(e.ctx, payment.Account{}, p.PaymentNo)
	require.NoError(e.t, err)
	return tx
}

// paidOrder is a fresh order paid through the payment service, so it can
// be refunded.
func (e *hostileEnv) paidOrder() *commerce.Order {
	e.t.Helper()
	o := e.mustCheckout(e.next("paid"))
	p, _, err := e.engine.Payments.Pay(e.ctx, payment.PayParams{MerchantID: e.m, OrderID: o.ID, Payer: "openid"})
	require.NoError(e.t, err)
	req, err := e.fake.Pay(p.PaymentNo)
	require.NoError(e.t, err)
	_, err = e.engine.Payments.HandleNotification(e.ctx, "fakepay", req)
	require.NoError(e.t, err)
	return o
}

// notify delivers n through the payment service's HTTP path, signed by
// fakepay. JSON cannot carry invalid UTF-8 (encoding and decoding both turn
// it into U+FFFD), so a notification holding some goes to ApplyNotification
// directly, as a host's own provider could hand it over.
func (e *hostileEnv) notify(n *payment.Notification) (payment.Outcome, error) {
	fields := []string{n.ID, n.EventType}
	if t := n.Transaction; t != nil {
		fields = append(fields, t.PaymentNo, t.ProviderRef)
	}
	if r := n.Refund; r != nil {
		fields = append(fields, r.RefundNo, r.PaymentNo, r.Reason)
	}
	for _, f := range fields {
		if !utf8.ValidString(f) {
			return e.engine.Payments.ApplyNotification(e.ctx, "fakepay", n)
		}
	}
	req, err := e.fake.Notification(n)
	require.NoError(e.t, err)
	return e.engine.Payments.HandleNotification(e.ctx, "fakepay", req)
}

// logged returns the notification log's record of notification id for a
// payment number.
func (e *hostileEnv) logged(paymentNo, id string) (payment.NotificationRecord, error) {
	recs, err := e.engine.Payments.Notifications(e.ctx, paymentNo)
	if err != nil {
		return payment.NotificationRecord{}, err
	}
	for _, r := range recs {
		if r.NotificationID == id {
			return r, nil
		}
	}
	return payment.NotificationRecord{}, fmt.Errorf("no notification %q logged for %q (%d records)", id, paymentNo, len(recs))
}

func (e *hostileEnv) cases() []hostileCase {
	ctx := e.ctx
	cp, ms, gs, ps, pay := e.engine.Coupons, e.engine.Membership, e.engine.Gifting, e.engine.Promoter, e.engine.Payments
	return []hostileCase{
		// The kernel.
		{"commerce.Checkout", "customer_id", classKey, commerce.MaxKeyLen, func(t *testing.T, i int, s string) (string, error) {
			o, err := e.checkout(s, "k", "")
			if err != nil {
				return "", err
			}
			got, err := e.order(o.ID)
			if err != nil {
				return "", err
			}
			return string(got.CustomerID), nil
		}},
		{"commerce.Checkout", "idempotency_key", classKey, commerce.MaxKeyLen, func(t *testing.T, i int, s string) (string, error) {
			o, err := e.checkout("idem", s, "")
			if err != nil {
				return "", err
			}
			got, err := e.order(o.ID)
			if err != nil {
				return "", err
			}
			return got.IdempotencyKey, nil
		}},
		{"commerce.Checkout", "note", classText, commerce.MaxShortTextLen, func(t *testing.T, i int, s string) (string, error) {
			o, err := e.checkout("note", e.next("note"), s)
			if err != nil {
				return "", err
			}
			got, err := e.order(o.ID)
			if err != nil {
				return "", err
			}
			return got.Note, nil
		}},
		{"commerce.AddToCart", "customer_id", classKey, commerce.MaxKeyLen, func(t *testing.T, i int, s string) (string, error) {
			_, err := e.svc.AddToCart(ctx, commerce.CartParams{MerchantID: e.m, CustomerID: commerce.CustomerID(s), SKU: e.shop.SKU(0, 0), Quantity: int64(i + 1)})
			if err != nil {
				return "", err
			}
			c, err := e.svc.GetCart(ctx, e.m, commerce.CustomerID(s))
			if err != nil {
				return "", err
			}
			if len(c.Lines) != 1 || c.Lines[0].Quantity != int64(i+1) {
				return "", fmt.Errorf("cart of %q holds %+v, not its own line", s, c.Lines)
			}
			return string(c.CustomerID), nil
		}},
		{"commerce.MarkPaid", "payment_ref", classKey, commerce.MaxKeyLen, func(t *testing.T, i int, s string) (string, error) {
			o := e.mustCheckout(e.next("paid"))
			if _, err := e.svc.MarkPaid(ctx, commerce.MarkPaidParams{MerchantID: e.m, OrderID: o.ID, PaymentRef: s, Amount: o.Total}); err != nil {
				return "", err
			}
			got, err := e.order(o.ID)
			if err != nil {
				return "", err
			}
			return got.PaymentRef, nil
		}},
		{"commerce.AckEvents", "consumer", classKey, commerce.MaxKeyLen, func(t *testing.T, i int, s string) (string, error) {
			if err := e.svc.AckEvents(ctx, s, uint64(i+1)); err != nil {
				return "", err
			}
			// A consumer's position is its own: one acknowledged at i+1
			// polls from there, not from another consumer's.
			evs, err := e.svc.PollEvents(ctx, s, 1)
			if err != nil {
				return "", err
			}
			if len(evs) == 0 || evs[0].Seq != uint64(i+2) {
				return "", fmt.Errorf("consumer %q polls %v, want event %d next", s, evs, i+2)
			}
			return s, nil
		}},

		{"commerce.Checkout", "metadata[k]", classText, commerce.MaxTextLen, func(t *testing.T, i int, s string) (string, error) {
			o, err := e.svc.Checkout(ctx, commerce.CheckoutParams{MerchantID: e.m, CustomerID: "meta", Lines: []commerce.LineItem{line(e.shop.SKU(0, 0), 1)},
				IdempotencyKey: e.next("meta"), ShippingAddress: Address(), Metadata: map[string]string{"k": s}})
			if err != nil {
				return "", err
			}
			got, err := e.order(o.ID)
			if err != nil {
				return "", err
			}
			return got.Metadata["k"], nil
		}},
		{"commerce.Cancel", "reason", classText, commerce.MaxShortTextLen, func(t *testing.T, i int, s string) (string, error) {
			o := e.mustCheckout(e.next("cancel"))
			if _, err := e.svc.Cancel(ctx, e.m, o.ID, s); err != nil {
				return "", err
			}
			got, err := e.order(o.ID)
			if err != nil {
				return "", err
			}
			return got.CancelReason, nil
		}},
		{"commerce.Ship", "shipment.tracking_no", classText, commerce.MaxKeyLen, func(t *testing.T, i int, s string) (string, error) {
			o := e.mustCheckout(e.next("ship"))
			_, err := e.svc.MarkPaid(ctx, commerce.MarkPaidParams{MerchantID: e.m, OrderID: o.ID, PaymentRef: e.next("ref"), Amount: o.Total})
			require.NoError(t, err)
			if _, err := e.svc.Ship(ctx, commerce.ShipParams{MerchantID: e.m, OrderID: o.ID, Shipment: commerce.Shipment{Carrier: "顺丰", TrackingNo: s}}); err != nil {
				return "", err
			}
			got, err := e.order(o.ID)
			if err != nil {
				return "", err
			}
			return got.Shipment.TrackingNo, nil
		}},
		{"commerce.Refund", "reason", classText, commerce.MaxShortTextLen, func(t *testing.T, i int, s string) (string, error) {
			o := e.paidOrder()
			r, err := e.svc.Refund(ctx, commerce.RefundParams{All: true, MerchantID: e.m, OrderID: o.ID, Reason: s, IdempotencyKey: "r"})
			if err != nil {
				return "", err
			}
			got, err := e.order(o.ID)
			if err != nil {
				return "", err
			}
			for _, x := range got.Refunds {
				if x.ID == r.ID {
					return x.Reason, nil
				}
			}
			return "", fmt.Errorf("refund %s not on the order", r.ID)
		}},

		// Reads take the same rules: a store never sees what a write
		// would have refused.
		{"commerce.GetCart", "customer_id", classKey, commerce.MaxKeyLen, func(t *testing.T, i int, s string) (string, error) {
			_, err := e.svc.GetCart(ctx, e.m, commerce.CustomerID(s))
			return s, err
		}},
		{"commerce.ListOrders", "customer", classKey, commerce.MaxKeyLen, func(t *testing.T, i int, s string) (string, error) {
			_, err := e.svc.ListOrders(ctx, e.m, commerce.OrderQuery{Customer: commerce.CustomerID(s)})
			return s, err
		}},
		{"membership.Card", "customer", classKey, commerce.MaxKeyLen, func(t *testing.T, i int, s string) (string, error) {
			_, err := ms.Card(ctx, e.m, commerce.CustomerID(s))
			if errors.Is(err, membership.ErrNotMember) {
				err = nil
			}
			return s, err
		}},

		// Coupons.
		{"coupons.Claim", "customer", classKey, commerce.MaxKeyLen, func(t *testing.T, i int, s string) (string, error) {
			c, err := cp.Claim(ctx, coupons.ClaimParams{MerchantID: e.m, BatchID: e.batch.ID, Customer: commerce.CustomerID(s), RequestID: "r"})
			if err != nil {
				return "", err
			}
			w, err := cp.Wallet(ctx, commerce.CustomerID(s), "")
			if err != nil {
				return "", err
			}
			if len(w) != 1 || w[0].ID != c.ID {
				return "", fmt.Errorf("wallet of %q holds %d coupons, not its own one", s, len(w))
			}
			return string(w[0].Customer), nil
		}},
		{"coupons.Claim", "request_id", classKey, commerce.MaxKeyLen, func(t *testing.T, i int, s string) (string, error) {
			before, err := cp.Wallet(ctx, "claims", "")
			require.NoError(t, err)
			c, err := cp.Claim(ctx, coupons.ClaimParams{MerchantID: e.m, BatchID: e.batch.ID, Customer: "claims", RequestID: s})
			if err != nil {
				return "", err
			}
			w, err := cp.Wallet(ctx, "claims", "")
			if err != nil {
				return "", err
			}
			if len(w) != len(before)+1 {
				return "", fmt.Errorf("request %q: %d coupons after %d and a new request", s, len(w), len(before))
			}
			for _, x := range w {
				if x.ID == c.ID {
					return x.RequestID, nil
				}
			}
			return "", fmt.Errorf("coupon %s not in the wallet", c.ID)
		}},
		{"coupons.Wallet", "customer", classKey, commerce.MaxKeyLen, func(t *testing.T, i int, s string) (string, error) {
			_, err := cp.Wallet(ctx, commerce.CustomerID(s), "")
			return s, err
		}},
		{"coupons.CreateBatch", "name", classText, 50, func(t *testing.T, i int, s string) (string, error) {
			b, err := cp.CreateBatch(ctx, coupons.BatchParams{MerchantID: e.m, Name: s, Kind: coupons.ThresholdOff,
				Amount: CNY("15"), MinAmount: CNY("99"), Total: 10, Validity: coupons.Validity{Days: 7}})
			if err != nil {
				return "", err
			}
			got, err := cp.GetBatch(ctx, e.m, b.ID)
			if err != nil {
				return "", err
			}
			return got.Name, nil
		}},

		// Membership.
		{"membership.Join", "customer", classKey, commerce.MaxKeyLen, func(t *testing.T, i int, s string) (string, error) {
			if _, err := ms.Join(ctx, e.m, commerce.CustomerID(s)); err != nil {
				return "", err
			}
			if _, err := ms.Adjust(ctx, membership.AdjustParams{MerchantID: e.m, Customer: commerce.CustomerID(s), Points: int64(i + 1), RequestID: "join"}); err != nil {
				return "", err
			}
			m, err := ms.Card(ctx, e.m, commerce.CustomerID(s))
			if err != nil {
				return "", err
			}
			if m.Available != int64(i+1) {
				return "", fmt.Errorf("card of %q shows %d points, not its own %d", s, m.Available, i+1)
			}
			return string(m.Customer), nil
		}},
		{"membership.Adjust", "request_id", classKey, commerce.MaxKeyLen, func(t *testing.T, i int, s string) (string, error) {
			return e.adjust(t, "adjust-req", s, "")
		}},
		{"membership.Adjust", "note", classText, commerce.MaxShortTextLen, func(t *testing.T, i int, s string) (string, error) {
			return e.adjust(t, "adjust-note", e.next("req"), s)
		}},

		// Gifting.
		{"gifting.Send", "giver_name", classText, 64, func(t *testing.T, i int, s string) (string, error) {
			g, err := e.gift(gifting.SendParams{GiverName: s})
			if err != nil {
				return "", err
			}
			v, err := gs.Open(ctx, e.m, gs.Token(g))
			if err != nil {
				return "", err
			}
			return v.GiverName, nil
		}},
		{"gifting.Send", "message", classText, gifting.MaxMessage, func(t *testing.T, i int, s string) (string, error) {
			g, err := e.gift(gifting.SendParams{Message: s})
			if err != nil {
				return "", err
			}
			v, err := gs.Open(ctx, e.m, gs.Token(g))
			if err != nil {
				return "", err
			}
			return v.Message, nil
		}},
		{"gifting.Send", "giver", classKey, commerce.MaxKeyLen, func(t *testing.T, i int, s string) (string, error) {
			g, err := e.gift(gifting.SendParams{Giver: commerce.CustomerID(s)})
			if err != nil {
				return "", err
			}
			got, err := e.store.GetGift(ctx, e.m, g.ID)
			if err != nil {
				return "", err
			}
			return string(got.Giver), nil
		}},
		{"gifting.Accept", "recipient", classKey, commerce.MaxKeyLen, func(t *testing.T, i int, s string) (string, error) {
			g, err := e.gift(gifting.SendParams{})
			require.NoError(t, err)
			if _, err := gs.Accept(ctx, e.m, gs.Token(g), commerce.CustomerID(s), *Address()); err != nil {
				return "", err
			}
			got, err := e.store.GetGift(ctx, e.m, g.ID)
			if err != nil {
				return "", err
			}
			return string(got.Recipient), nil
		}},

		{"gifting.Claim", "claimer", classKey, commerce.MaxKeyLen, func(t *testing.T, i int, s string) (string, error) {
			g, err := e.gift(gifting.SendParams{Kind: gifting.Group, Group: "chat"})
			if err == nil && g.Kind != gifting.Group {
				err = fmt.Errorf("kind %s", g.Kind)
			}
			require.NoError(t, err)
			slot, err := gs.Claim(ctx, gifting.ClaimParams{MerchantID: e.m, Token: gs.Token(g), Claimer: commerce.CustomerID(s), Address: *Address()})
			if err != nil {
				return "", err
			}
			return string(slot.Claimer), nil
		}},
		{"gifting.Send", "group", classKey, commerce.MaxKeyLen, func(t *testing.T, i int, s string) (string, error) {
			g, err := e.gift(gifting.SendParams{Kind: gifting.Group, Group: s})
			if err != nil {
				return "", err
			}
			got, err := e.store.GetGift(ctx, e.m, g.ID)
			if err != nil {
				return "", err
			}
			return got.Group, nil
		}},

		// Promoter.
		{"promoter.CreatePromoter", "name", classText, commerce.MaxNameLen, func(t *testing.T, i int, s string) (string, error) {
			p, err := ps.CreatePromoter(ctx, s)
			if err != nil {
				return "", err
			}
			got, err := e.store.GetPromoter(ctx, p.ID)
			if err != nil {
				return "", err
			}
			return got.Name, nil
		}},
		{"promoter.CreateAgency", "name", classText, commerce.MaxNameLen, func(t *testing.T, i int, s string) (string, error) {
			a, err := ps.CreateAgency(ctx, promoter.AgencyParams{Name: s, PromoterShare: commerce.MustPercent(50)})
			if err != nil {
				return "", err
			}
			got, err := e.store.GetAgency(ctx, a.ID)
			if err != nil {
				return "", err
			}
			return got.Name, nil
		}},

		// Payment.
		{"payment.Pay", "payer", classKey, commerce.MaxKeyLen, func(t *testing.T, i int, s string) (string, error) {
			o := e.mustCheckout(e.next("pay"))
			p, _, err := pay.Pay(ctx, payment.PayParams{MerchantID: e.m, OrderID: o.ID, Payer: s})
			if err != nil {
				return "", err
			}
			got, err := pay.GetPayment(ctx, e.m, p.ID)
			if err != nil {
				return "", err
			}
			return got.Payer, nil
		}},
		{"payment.Pay", "description", classText, 127, func(t *testing.T, i int, s string) (string, error) {
			o := e.mustCheckout(e.next("desc"))
			_, _, err := pay.Pay(ctx, payment.PayParams{MerchantID: e.m, OrderID: o.ID, Payer: "openid", Description: s})
			return s, err
		}},

		// Notifications from the channel: verified, but their content is
		// still outside input.
		{"payment.HandleNotification", "notification.id", classKey, commerce.MaxKeyLen, func(t *testing.T, i int, s string) (string, error) {
			tx := e.paidAtChannel()
			out, err := e.notify(&payment.Notification{ID: s, Kind: payment.NotifyPayment, EventType: "TRANSACTION.SUCCESS", Transaction: tx})
			if err != nil {
				return "", err
			}
			if out != payment.Applied {
				return "", fmt.Errorf("outcome %s", out)
			}
			rec, err := e.logged(tx.PaymentNo, s)
			return rec.NotificationID, err
		}},
		{"payment.HandleNotification", "notification.event_type", classKey, payment.MaxEventTypeLen, func(t *testing.T, i int, s string) (string, error) {
			tx := e.paidAtChannel()
			id := e.next("evt")
			if _, err := e.notify(&payment.Notification{ID: id, Kind: payment.NotifyPayment, EventType: s, Transaction: tx}); err != nil {
				return "", err
			}
			rec, err := e.logged(tx.PaymentNo, id)
			return rec.EventType, err
		}},
		{"payment.HandleNotification", "notification.transaction.payment_no", classKey, payment.MaxPaymentNoLen, func(t *testing.T, i int, s string) (string, error) {
			// No such payment: a well-formed number is rejected and logged
			// as evidence; a malformed one is refused before the log.
			id := e.next("unknown")
			_, err := e.notify(&payment.Notification{ID: id, Kind: payment.NotifyPayment, EventType: "TRANSACTION.SUCCESS",
				Transaction: &payment.Transaction{PaymentNo: s, ProviderRef: "fp_tx", State: payment.TxSucceeded, Amount: CNY("10.00")}})
			if !errors.Is(err, payment.ErrRejected) {
				return "", err
			}
			rec, err := e.logged(s, id)
			return rec.PaymentNo, err
		}},
		{"payment.HandleNotification", "notification.transaction.provider_ref", classKey, commerce.MaxKeyLen, func(t *testing.T, i int, s string) (string, error) {
			tx := e.paidAtChannel()
			tx.ProviderRef = s
			if _, err := e.notify(&payment.Notification{Kind: payment.NotifyPayment, EventType: "TRANSACTION.SUCCESS", Transaction: tx}); err != nil {
				return "", err
			}
			p, err := e.store.PaymentByNo(ctx, tx.PaymentNo)
			if err != nil {
				return "", err
			}
			return p.ProviderRef, nil
		}},
		{"payment.HandleNotification", "notification.refund.refund_no", classKey, payment.MaxPaymentNoLen, func(t *testing.T, i int, s string) (string, error) {
			tx := e.paidAtChannel()
			id := e.next("refund")
			_, err := e.notify(&payment.Notification{ID: id, Kind: payment.NotifyRefund, EventType: "REFUND.SUCCESS",
				Refund: &payment.RefundResult{RefundNo: s, PaymentNo: tx.PaymentNo, State: payment.RefundSucceeded, Amount: CNY("10.00")}})
			if !errors.Is(err, payment.ErrRejected) {
				return "", err
			}
			rec, err := e.logged(tx.PaymentNo, id)
			return rec.RefundNo, err
		}},
	}
}

func (e *hostileEnv) adjust(t *testing.T, customer, req, note string) (string, error) {
	if _, err := e.engine.Membership.Join(e.ctx, e.m, commerce.CustomerID(customer)); err != nil {
		return "", err
	}
	en, err := e.engine.Membership.Adjust(e.ctx, membership.AdjustParams{MerchantID: e.m, Customer: commerce.CustomerID(customer), Points: 1, RequestID: req, Note: note})
	if err != nil {
		return "", err
	}
	st, err := e.engine.Membership.Statement(e.ctx, e.m, commerce.CustomerID(customer), membership.EntryID{}, 1000)
	if err != nil {
		return "", err
	}
	for _, x := range st {
		if x.ID == en.ID {
			if note != "" {
				return x.Note, nil
			}
			return x.RequestID, nil
		}
	}
	return "", fmt.Errorf("entry %s not in the statement", en.ID)
}

func testHostileStrings(t *testing.T, h Harness) {
	e := newHostileEnv(t, h)
	differ := 0
	total := 0
	for _, c := range e.cases() {
		for i, in := range hostileInputs(c.max) {
			total++
			name := c.name + "/" + c.field + "/" + in.name
			ok := t.Run(name, func(t *testing.T) {
				e.t = t
				got, err := c.run(t, i, in.s)
				t.Logf("outcome %s: %s", name, outcome(in.s, got, err))
				if in.ok(c.class) {
					if assert.NoError(t, err, "%q must be accepted", in.s) {
						assert.True(t, got == in.s, "read back %q, wrote %q", got, in.s)
					}
					return
				}
				if !assert.Error(t, err, "%q must be refused", in.s) {
					return
				}
				assert.Equal(t, commerce.KindInvalid, commerce.KindOf(err), "%q: %v", in.s, err)
				var ce *commerce.Error
				if assert.ErrorAs(t, err, &ce) {
					assert.Equal(t, c.field, ce.Field, "%q: %v", in.s, err)
				}
			})
			if !ok {
				differ++
			}
		}
	}
	if differ > 0 {
		t.Logf("%d of %d hostile string cases differ from the expected answer", differ, total)
	}
}

// testHostileNotificationBodies: bodies a channel's verification lets
// through (signed) but whose content minishop must refuse as invalid,
// never a 500.
func testHostileNotificationBodies(t *testing.T, h Harness) {
	e := newHostileEnv(t, h)
	tx := e.paidAtChannel()
	for _, amount := range []string{"1e1000000", "1e3000000", "-1e-1000000", "10.001", "99999999999999999999999", strings.Repeat("9", 100)} {
		t.Run("amount="+amount[:min(len(amount), 20)], func(t *testing.T) {
			e.t = t
			body := fmt.Sprintf(`{"id":"n-%s","kind":"payment","event_type":"TRANSACTION.SUCCESS","transaction":{"PaymentNo":%q,"ProviderRef":"fp_tx_1","State":"succeeded","Amount":{"amount":%q,"currency":"CNY"}}}`,
				amount[:min(len(amount), 20)], tx.PaymentNo, amount)
			rec := &statusRecorder{header: http.Header{}}
			e.engine.Payments.NotificationHandler("fakepay", nil).ServeHTTP(rec, e.signed([]byte(body)))
			assert.Equal(t, http.StatusBadRequest, rec.status)
			_, err := e.engine.Payments.HandleNotification(e.ctx, "fakepay", e.signed([]byte(body)))
			assert.Equal(t, commerce.KindInvalid, commerce.KindOf(err), "%v", err)
		})
	}
}

// testHostileRefundReason: a channel's failure reason of any length is
// kept, cut to payment.MaxReasonLen, on the payment's refund and the
// kernel's, on every store (MySQL's TEXT holds 64 KiB; the log must not
// grow by what a channel chose to send).
func testHostileRefundReason(t *testing.T, h Harness) {
	e := newHostileEnv(t, h)
	e.fake.SetRefundMode(fakepay.RefundLater)
	o := e.paidOrder()
	r, err := e.svc.Refund(e.ctx, commerce.RefundParams{All: true, MerchantID: e.m, OrderID: o.ID, IdempotencyKey: "r", Reason: "不想要了"})
	require.NoError(t, err)
	pays, err := e.engine.Payments.OrderPayments(e.ctx, e.m, o.ID)
	require.NoError(t, err)
	require.Len(t, pays, 1)
	require.Len(t, pays[0].Refunds, 1)
	reason := strings.Repeat("理由", 50000) // 300 KB, under fakepay's 1 MiB body limit
	out, err := e.notify(&payment.Notification{Kind: payment.NotifyRefund, EventType: "REFUND.ABNORMAL", Refund: &payment.RefundResult{
		RefundNo: pays[0].Refunds[0].RefundNo, PaymentNo: pays[0].PaymentNo, State: payment.RefundFailed, Reason: reason}})
	require.NoError(t, err)
	assert.Equal(t, payment.Applied, out)
	want := string([]rune(reason)[:payment.MaxReasonLen-1]) + "…"
	got, err := e.order(o.ID)
	require.NoError(t, err)
	kr, ok := got.Refund(r.ID)
	require.True(t, ok)
	assert.Equal(t, commerce.RefundFailed, kr.Status)
	assert.Equal(t, want, kr.FailureReason)
	p, err := e.engine.Payments.GetPayment(e.ctx, e.m, pays[0].ID)
	require.NoError(t, err)
	assert.Equal(t, want, p.Refunds[0].FailureReason)
}

func runHostile(t *testing.T, h Harness) {
	t.Run("Strings", func(t *testing.T) { testHostileStrings(t, h) })
	t.Run("NotificationBodies", func(t *testing.T) { testHostileNotificationBodies(t, h) })
	t.Run("RefundReason", func(t *testing.T) { testHostileRefundReason(t, h) })
}

// outcome summarises an answer, so runs on different stores can be
// compared line by line.
func outcome(in, got string, err error) string {
	var ce *commerce.Error
	switch {
	case err == nil && got == in:
		return "accepted"
	case err == nil:
		return "accepted, read back different"
	case errors.As(err, &ce):
		return fmt.Sprintf("%s field=%q", ce.Kind, ce.Field)
	default:
		return commerce.KindOf(err).String()
	}
}
