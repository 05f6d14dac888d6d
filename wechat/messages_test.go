package wechat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/storage/memory"
	"github.com/minishop/minishop/wechat"
	"github.com/minishop/minishop/wechat/wechattest"
)

const subscribePath = "/cgi-bin/message/subscribe/send"

var merchant, _ = commerce.ParseID[commerce.MerchantID]("0190a000-0000-7000-8000-000000000001")

// msgWorld is a shop's outbox (a commerce service over a memory store),
// the local Mini Program platform, and customers known on it.
type msgWorld struct {
	*world
	mem    *memory.Store
	svc    *commerce.Service
	mu     sync.Mutex
	openid map[commerce.CustomerID]string
	seq    int
}

func newMsgWorld(t testing.TB) *msgWorld {
	clock := commercetest.NewClock(commercetest.Epoch)
	mem := memory.New()
	w := &world{ctx: context.Background(), clock: clock, store: mem, plat: wechattest.Start(t, wechattest.Options{Now: clock.Now})}
	svc, err := commerce.New(commerce.Config{Store: mem, Clock: w.clock})
	require.NoError(t, err)
	w.plat.AddPage("pages/order/detail") // the page the tests' messages open
	return &msgWorld{world: w, mem: mem, svc: svc, openid: map[commerce.CustomerID]string{}}
}

// clientTB is world.client for tests and benchmarks.
func (w *msgWorld) clientTB(t testing.TB) *wechat.Client {
	cfg := w.plat.Config(w.store)
	cfg.Clock = w.clock
	c, err := wechat.New(cfg)
	require.NoError(t, err)
	return c
}

// customer registers a customer as a user of the Mini Program.
func (w *msgWorld) customer(name string) (commerce.CustomerID, string) {
	u := w.plat.NewUser()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.openid[commerce.CustomerID(name)] = u.OpenID
	return commerce.CustomerID(name), u.OpenID
}

func (w *msgWorld) openID(_ context.Context, c commerce.CustomerID) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if o, ok := w.openid[c]; ok {
		return o, nil
	}
	return "", &commerce.Error{Op: "test.openid", Kind: commerce.KindNotFound, Err: fmt.Errorf("no openid for %s", c)}
}

// emit writes an event into the outbox with a payload in the shape its
// package writes.
func (w *msgWorld) emit(t testing.TB, typ string, payload map[string]any) commerce.Event {
	b, err := json.Marshal(payload)
	require.NoError(t, err)
	w.seq++
	ev := commerce.Event{ID: uuid.New(), Type: typ, AggregateID: fmt.Sprint(w.seq), MerchantID: merchant, Payload: b, Time: w.clock.Now()}
	require.NoError(t, w.mem.InTx(w.ctx, func(ctx context.Context) error { return w.mem.AppendEvents(ctx, ev) }))
	return ev
}

func (w *msgWorld) relay(t testing.TB, cfg wechat.MessagesConfig, c ...*wechat.Client) *wechat.Messages {
	client := w.clientTB(t)
	if len(c) > 0 {
		client = c[0]
	}
	if cfg.Outbox == nil {
		cfg.Outbox = w.svc
	}
	if cfg.OpenID == nil {
		cfg.OpenID = w.openID
	}
	m, err := wechat.NewMessages(client, cfg)
	require.NoError(t, err)
	return m
}

// orderPaid is the template of the tests: order.paid to the buyer.
func orderPaid(id string) wechat.Template {
	return wechat.Template{Event: "order.paid", ID: id, Page: "pages/order/detail",
		Data: func(_ context.Context, ev commerce.Event) (wechat.Content, error) {
			f, err := wechat.ReadEvent(ev)
			if err != nil {
				return wechat.Content{}, err
			}
			return wechat.Content{Customer: f.Customer, Page: "pages/order/detail?id=" + f.OrderID,
				Fields: map[string]string{"character_string1": f.OrderID, "amount2": "¥" + f.Total.AmountText(), "thing3": "茶具"}}, nil
		}}
}

var paidFields = map[string]string{"character_string1": "character_string", "amount2": "amount", "thing3": "thing"}

func (w *msgWorld) paid(t testing.TB, customer commerce.CustomerID, order string) commerce.Event {
	return w.emit(t, "order.paid", map[string]any{"order_id": order, "customer_id": customer, "status": "paid",
		"total": commercetest.CNY("116.66")})
}

func run(t testing.TB, m *wechat.Messages, ctx context.Context) int {
	n, err := m.Run(ctx)
	require.NoError(t, err)
	return n
}

func delivery(t testing.TB, m *wechat.Messages, ctx context.Context, status string, ev commerce.Event) wechat.Delivery {
	ds, err := m.Deliveries(ctx, status, 1000)
	require.NoError(t, err)
	for _, d := range ds {
		if d.EventID == ev.ID {
			return d
		}
	}
	t.Fatalf("no %s delivery of event %s", status, ev.ID)
	return wechat.Delivery{}
}

// Every event type the shop writes maps to its template and recipient,
// and each is sent once.
func TestMessagesEachEventType(t *testing.T) {
	w := newMsgWorld(t)
	buyer, buyerOID := w.customer("buyer")
	friend, friendOID := w.customer("friend")
	promoterCustomer, promoterOID := w.customer("promoter-customer")
	promoters := map[string]commerce.CustomerID{"p-1": promoterCustomer}

	thing := func(ev commerce.Event, to func(wechat.EventFacts) commerce.CustomerID, text string) (wechat.Content, error) {
		f, err := wechat.ReadEvent(ev)
		if err != nil {
			return wechat.Content{}, err
		}
		return wechat.Content{Customer: to(f), Fields: map[string]string{"thing1": text, "time2": f.Expires.Format("2006-01-02 15:04")}}, nil
	}
	customer := func(f wechat.EventFacts) commerce.CustomerID { return f.Customer }
	templates := []wechat.Template{
		orderPaid("T-paid"),
		{Event: "order.shipped", ID: "T-shipped", Data: func(_ context.Context, ev commerce.Event) (wechat.Content, error) {
			f, _ := wechat.ReadEvent(ev)
			return wechat.Content{Customer: f.Customer, Fields: map[string]string{"character_string1": f.OrderID, "phrase2": "已发货"}}, nil
		}},
		{Name: "gift-accepted-giver", Event: "gift.accepted", ID: "T-gift-accepted", Data: func(_ context.Context, ev commerce.Event) (wechat.Content, error) {
			return thing(ev, customer, "你的礼物已被领取")
		}},
		{Name: "gift-received", Event: "gift.accepted", ID: "T-gift-received", Data: func(_ context.Context, ev commerce.Event) (wechat.Content, error) {
			return thing(ev, func(f wechat.EventFacts) commerce.CustomerID { return f.Recipient }, "你收到一份礼物")
		}},
		{Event: "gift.expired", ID: "T-gift-expired", Data: func(_ context.Context, ev commerce.Event) (wechat.Content, error) {
			return thing(ev, customer, "礼物过期,已退款")
		}},
		{Event: "coupon.expiring", ID: "T-coupon", Data: func(_ context.Context, ev commerce.Event) (wechat.Content, error) {
			return thing(ev, customer, "优惠券即将过期")
		}},
		{Event: "points.expiring", ID: "T-points", Data: func(_ context.Context, ev commerce.Event) (wechat.Content, error) {
			f, _ := wechat.ReadEvent(ev)
			return wechat.Content{Customer: f.Customer, Fields: map[string]string{"number1": fmt.Sprint(f.Points), "date2": f.Expires.Format("2006年01月02日")}}, nil
		}},
		{Event: "promoter.commission_settled", ID: "T-commission", Data: func(_ context.Context, ev commerce.Event) (wechat.Content, error) {
			f, _ := wechat.ReadEvent(ev)
			return wechat.Content{Customer: promoters[f.Promoter], Fields: map[string]string{"amount1": f.Net.AmountText() + "元"}}, nil
		}},
	}
	fields := map[string]map[string]string{
		"T-paid": paidFields, "T-shipped": {"character_string1": "character_string", "phrase2": "phrase"},
		"T-gift-accepted": {"thing1": "thing", "time2": "time"}, "T-gift-received": {"thing1": "thing", "time2": "time"},
		"T-gift-expired": {"thing1": "thing", "time2": "time"}, "T-coupon": {"thing1": "thing", "time2": "time"},
		"T-points": {"number1": "number", "date2": "date"}, "T-commission": {"amount1": "amount"},
	}
	for id, f := range fields {
		w.plat.AddTemplate(id, f, false)
	}
	m := w.relay(t, wechat.MessagesConfig{Templates: templates})
	subscribe := func(openid string, ids ...string) {
		for _, id := range ids {
			_, err := m.HandlePush(w.ctx, ptr(w.plat.Subscribe(openid, id)))
			require.NoError(t, err)
		}
	}
	subscribe(buyerOID, "T-paid", "T-shipped", "T-gift-accepted", "T-gift-expired", "T-coupon", "T-points")
	subscribe(friendOID, "T-gift-received")
	subscribe(promoterOID, "T-commission")

	expires := commercetest.Epoch.Add(48 * time.Hour)
	w.paid(t, buyer, "o-1")
	w.emit(t, "order.created", map[string]any{"order_id": "o-1", "customer_id": buyer}) // no template: ignored
	w.emit(t, "order.shipped", map[string]any{"order_id": "o-1", "customer_id": buyer, "status": "shipped"})
	w.emit(t, "gift.accepted", map[string]any{"gift_id": "g-1", "order_id": "o-2", "giver": buyer, "status": "accepted", "recipient": friend, "expires_at": expires})
	w.emit(t, "gift.expired", map[string]any{"gift_id": "g-2", "order_id": "o-3", "giver": buyer, "status": "expired", "expires_at": expires})
	w.emit(t, "coupon.expiring", map[string]any{"coupon_id": "c-1", "batch_id": "b-1", "customer_id": buyer, "status": "active", "valid_until": expires})
	w.emit(t, "points.expiring", map[string]any{"lot_id": "l-1", "points": 120, "expires_at": expires, "customer_id": buyer})
	w.emit(t, "promoter.commission_settled", map[string]any{"order_id": "o-1", "line": 0, "promoter": "p-1", "agency": "", "net": commercetest.CNY("3.50")})

	assert.Equal(t, 8, run(t, m, w.ctx))
	assert.Zero(t, run(t, m, w.ctx), "nothing left")
	sent := w.plat.Sent("")
	require.Len(t, sent, 8)
	byTemplate := map[string]wechattest.SentMessage{}
	for _, s := range sent {
		byTemplate[s.TemplateID] = s
	}
	assert.Equal(t, buyerOID, byTemplate["T-paid"].OpenID)
	assert.Equal(t, map[string]string{"character_string1": "o-1", "amount2": "¥116.66", "thing3": "茶具"}, byTemplate["T-paid"].Data)
	assert.Equal(t, "pages/order/detail?id=o-1", byTemplate["T-paid"].Page)
	assert.Equal(t, buyerOID, byTemplate["T-gift-accepted"].OpenID)
	assert.Equal(t, friendOID, byTemplate["T-gift-received"].OpenID, "gift received goes to the friend")
	assert.Equal(t, expires.Format("2006-01-02 15:04"), byTemplate["T-coupon"].Data["time2"])
	assert.Equal(t, "120", byTemplate["T-points"].Data["number1"])
	assert.Equal(t, promoterOID, byTemplate["T-commission"].OpenID)
	assert.Equal(t, "3.50元", byTemplate["T-commission"].Data["amount1"])
	done, err := m.Deliveries(w.ctx, wechat.StatusDone, 100)
	require.NoError(t, err)
	for _, d := range done {
		assert.Equal(t, wechat.OutcomeSent, d.Outcome, d.Template)
		assert.Equal(t, 1, d.Credits)
	}
	c, err := m.Consent(w.ctx, buyerOID, "T-paid")
	require.NoError(t, err)
	assert.Equal(t, wechat.Consent{Credits: 0, Accepted: 1, Used: 1}, c)
}

func ptr[T any](v T) *T { return &v }

func TestCheckField(t *testing.T) {
	ok := map[string][]string{
		"thing1":            {"茶具", strings.Repeat("好", 20), "Tea set, 2 pcs!"},
		"number2":           {"12", "3.5", "-4", strings.Repeat("9", 32)},
		"letter3":           {"abc", "ABC"},
		"symbol4":           {"%", "!?#"},
		"character_string5": {"2026010300001", "A-12_x"},
		"time6":             {"15:01", "2019年10月1日 15:01", "2019-10-01 15:01:05", "15:01~16:00"},
		"date7":             {"2019年10月1日", "2019-10-01", "2019-10-01 15:01", "2019年10月1日~2019年10月3日", "10月1日"},
		"amount8":           {"¥12.30", "12.30元", "100", "￥9999999999"},
		"phone_number9":     {"+86-10-12345678", "13800138000"},
		"car_number10":      {"粤A12345"},
		"name11":            {"张三", "Zhang San"},
		"phrase12":          {"已发货"},
	}
	for key, vals := range ok {
		for _, v := range vals {
			assert.NoError(t, wechat.CheckField(key, v), "%s = %q", key, v)
		}
	}
	bad := []struct{ key, value, want string }{
		{"thing1", strings.Repeat("茶", 23), "data.thing1: 23 characters, thing allows 20"},
		{"thing1", "", "data.thing1: empty"},
		{"number2", "12a", "is not allowed, number takes digits"},
		{"number2", "1.2.3", "is not a number"},
		{"letter3", "ab1", "is not allowed, letter takes letters"},
		{"symbol4", "%%%%%%", "6 characters, symbol allows 5"},
		{"symbol4", "a", "is not allowed"},
		{"character_string5", strings.Repeat("x", 33), "33 characters, character_string allows 32"},
		{"character_string5", "中文", "is not allowed"},
		{"time6", "25:00", "is not a time"},
		{"time6", "2019年10月1日", "is not a time"},
		{"date7", "15:01", "is not a date"},
		{"date7", "2019-13-01", "is not a date"},
		{"amount8", "12.345", "is not an amount"},
		{"amount8", "12345678901", "is not an amount"},
		{"amount8", "¥¥1", "is not an amount"},
		{"phone_number9", strings.Repeat("1", 18), "18 characters, phone_number allows 17"},
		{"car_number10", "粤A123456789", "characters, car_number allows 8"},
		{"name11", strings.Repeat("张", 11), "11 characters, name allows 10"},
		{"name11", "张San", "mixes"},
		{"phrase12", "ship", "phrase takes Chinese characters only"},
		{"phrase12", "已经发货了吧", "6 characters, phrase allows 5"},
		{"thing", "x", "not a field key"},
		{"colour1", "red", "not a field type"},
	}
	for _, b := range bad {
		err := wechat.CheckField(b.key, b.value)
		require.Error(t, err, "%s = %q", b.key, b.value)
		assert.Contains(t, err.Error(), b.want)
		assert.Equal(t, commerce.KindInvalid, commerce.KindOf(err))
		var ce *commerce.Error
		require.True(t, errors.As(err, &ce))
		assert.Equal(t, "data."+b.key, ce.Field)
	}
}

// A field over its type's limit fails the delivery, visibly, without a
// call to WeChat and without spending the credit.
func TestMessagesInvalidFieldFailsDelivery(t *testing.T) {
	w := newMsgWorld(t)
	buyer, oid := w.customer("buyer")
	w.plat.AddTemplate("T-paid", paidFields, false)
	tpl := orderPaid("T-paid")
	data := tpl.Data
	tpl.Data = func(ctx context.Context, ev commerce.Event) (wechat.Content, error) {
		c, err := data(ctx, ev)
		c.Fields["thing3"] = strings.Repeat("茶", 23)
		return c, err
	}
	m := w.relay(t, wechat.MessagesConfig{Templates: []wechat.Template{tpl}})
	require.NoError(t, m.Accepted(w.ctx, oid, "T-paid"))
	w.plat.Subscribe(oid, "T-paid")
	ev := w.paid(t, buyer, "o-1")
	assert.Equal(t, 1, run(t, m, w.ctx))
	failing, err := m.Failing(w.ctx, 10)
	require.NoError(t, err)
	require.Len(t, failing, 1)
	assert.Equal(t, ev.ID, failing[0].EventID)
	assert.Contains(t, failing[0].LastError, "data.thing3: 23 characters, thing allows 20")
	assert.Zero(t, w.plat.Calls(subscribePath))
	c, _ := m.Consent(w.ctx, oid, "T-paid")
	assert.Equal(t, 1, c.Credits, "the credit is kept")
	w.clock.Advance(time.Hour)
	assert.Zero(t, run(t, m, w.ctx), "a failed delivery is not retried")

	// The host fixes the template and asks again.
	tpl.Data = data
	m = w.relay(t, wechat.MessagesConfig{Templates: []wechat.Template{tpl}})
	require.NoError(t, m.Retry(w.ctx, failing[0].Key))
	assert.Equal(t, 1, run(t, m, w.ctx))
	assert.Len(t, w.plat.Sent(oid), 1)
}

// A customer without a credit gets nothing: the delivery waits
// ConsentWait for an acceptance reported late, then is skipped, with its
// reason.
func TestMessagesWithoutConsentSkipped(t *testing.T) {
	w := newMsgWorld(t)
	late, lateOID := w.customer("late")
	never, _ := w.customer("never")
	w.plat.AddTemplate("T-paid", paidFields, false)
	m := w.relay(t, wechat.MessagesConfig{Templates: []wechat.Template{orderPaid("T-paid")}, ConsentWait: time.Minute,
		Retry: wechat.Retry{First: 20 * time.Second}})
	evLate := w.paid(t, late, "o-1")
	evNever := w.paid(t, never, "o-2")
	assert.Zero(t, run(t, m, w.ctx))
	assert.Zero(t, w.plat.Calls(subscribePath), "no send without a credit")

	// The client reports the acceptance made while paying.
	w.plat.Subscribe(lateOID, "T-paid")
	require.NoError(t, m.Accepted(w.ctx, lateOID, "T-paid"))
	for range 4 {
		w.clock.Advance(20 * time.Second)
		run(t, m, w.ctx)
	}
	assert.Len(t, w.plat.Sent(lateOID), 1)
	assert.Equal(t, wechat.OutcomeSent, delivery(t, m, w.ctx, wechat.StatusDone, evLate).Outcome)
	d := delivery(t, m, w.ctx, wechat.StatusDone, evNever)
	assert.Equal(t, wechat.OutcomeSkipped, d.Outcome)
	assert.Contains(t, d.Reason, "no subscription")
	assert.Equal(t, 1, w.plat.Calls(subscribePath))
}

// 43101 is final: the credit the relay counted is spent, nothing retried.
func TestMessagesRefusedIsFinal(t *testing.T) {
	w := newMsgWorld(t)
	buyer, oid := w.customer("buyer")
	w.plat.AddTemplate("T-paid", paidFields, false)
	m := w.relay(t, wechat.MessagesConfig{Templates: []wechat.Template{orderPaid("T-paid")}})
	// The client says accepted; WeChat holds no subscription (rejected
	// since, without a push reaching the host).
	require.NoError(t, m.Accepted(w.ctx, oid, "T-paid"))
	w.paid(t, buyer, "o-1")
	assert.Equal(t, 1, run(t, m, w.ctx))
	failing, err := m.Failing(w.ctx, 10)
	require.NoError(t, err)
	require.Len(t, failing, 1)
	assert.Contains(t, failing[0].LastError, "43101")
	w.clock.Advance(24 * time.Hour)
	run(t, m, w.ctx)
	assert.Equal(t, 1, w.plat.Calls(subscribePath), "not retried")
	c, _ := m.Consent(w.ctx, oid, "T-paid")
	assert.Equal(t, wechat.Consent{Accepted: 1, Used: 1}, c, "the credit is not given back")
}

// Busy, quota and server errors are retried with back-off under the same
// credit, until the message goes, once.
func TestMessagesRetryWhenBusy(t *testing.T) {
	for _, f := range []wechattest.Fault{wechattest.FaultBusy, wechattest.FaultRateLimit, wechattest.FaultServerError} {
		t.Run(string(f), func(t *testing.T) {
			w := newMsgWorld(t)
			buyer, oid := w.customer("buyer")
			w.plat.AddTemplate("T-paid", paidFields, false)
			m := w.relay(t, wechat.MessagesConfig{Templates: []wechat.Template{orderPaid("T-paid")}, Retry: wechat.Retry{First: time.Minute}})
			_, err := m.HandlePush(w.ctx, ptr(w.plat.Subscribe(oid, "T-paid")))
			require.NoError(t, err)
			ev := w.paid(t, buyer, "o-1")
			w.plat.Faults(1, 1, []wechattest.Fault{f}, subscribePath)
			assert.Zero(t, run(t, m, w.ctx))
			d := delivery(t, m, w.ctx, wechat.StatusPending, ev)
			assert.NotEmpty(t, d.LastError)
			assert.True(t, d.Due.After(w.clock.Now().Add(50*time.Second)), "backed off")
			assert.Zero(t, run(t, m, w.ctx), "not due yet")
			w.plat.Heal()
			w.clock.Advance(time.Minute)
			assert.Equal(t, 1, run(t, m, w.ctx))
			assert.Len(t, w.plat.Sent(oid), 1)
			d = delivery(t, m, w.ctx, wechat.StatusDone, ev)
			assert.Equal(t, 1, d.Credits, "one credit for all the attempts")
			assert.Equal(t, 2, d.Attempts)
		})
	}
}

// After a lost answer the message may have arrived: it is sent again only
// under a second acceptance, so WeChat sees at most one message per
// acceptance.
func TestMessagesLostAnswer(t *testing.T) {
	for _, credits := range []int{1, 2} {
		t.Run(fmt.Sprint(credits, " credits"), func(t *testing.T) {
			w := newMsgWorld(t)
			buyer, oid := w.customer("buyer")
			w.plat.AddTemplate("T-paid", paidFields, false)
			m := w.relay(t, wechat.MessagesConfig{Templates: []wechat.Template{orderPaid("T-paid")}, Retry: wechat.Retry{First: time.Second}})
			for range credits {
				_, err := m.HandlePush(w.ctx, ptr(w.plat.Subscribe(oid, "T-paid")))
				require.NoError(t, err)
			}
			ev := w.paid(t, buyer, "o-1")
			w.plat.Faults(1, 1, []wechattest.Fault{wechattest.FaultLostAnswer}, subscribePath)
			run(t, m, w.ctx)
			w.plat.Heal()
			w.clock.Advance(time.Minute)
			run(t, m, w.ctx)
			d := delivery(t, m, w.ctx, wechat.StatusDone, ev)
			assert.Equal(t, 1, d.LostSends)
			assert.Len(t, w.plat.Sent(oid), credits, "one message per acceptance")
			assert.Equal(t, credits, d.Credits)
			if credits == 1 {
				assert.Equal(t, wechat.OutcomeUnconfirmed, d.Outcome)
			} else {
				assert.Equal(t, wechat.OutcomeSent, d.Outcome)
			}
			assert.Zero(t, w.plat.Credits(oid, "T-paid"))
		})
	}
}

// ackOnce fails acknowledgements until told, so the outbox delivers its
// events again.
type failingAcks struct {
	wechat.Outbox
	mu    sync.Mutex
	fails int
}

func (f *failingAcks) AckEvents(ctx context.Context, consumer string, seq uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fails > 0 {
		f.fails--
		return fmt.Errorf("%w: the store went away", commerce.ErrUnavailable)
	}
	return f.Outbox.AckEvents(ctx, consumer, seq)
}

// An event the outbox delivers twice is one message.
func TestMessagesEventDeliveredTwice(t *testing.T) {
	w := newMsgWorld(t)
	buyer, oid := w.customer("buyer")
	w.plat.AddTemplate("T-paid", paidFields, false)
	box := &failingAcks{Outbox: w.svc, fails: 1}
	m := w.relay(t, wechat.MessagesConfig{Templates: []wechat.Template{orderPaid("T-paid")}, Outbox: box})
	for range 3 {
		w.plat.Subscribe(oid, "T-paid")
		require.NoError(t, m.Accepted(w.ctx, oid, "T-paid"))
	}
	w.paid(t, buyer, "o-1")
	_, err := m.Run(w.ctx)
	require.Error(t, err, "the acknowledgement failed")
	assert.Equal(t, 1, run(t, m, w.ctx), "the event comes again; its delivery was queued")
	assert.Zero(t, run(t, m, w.ctx))
	assert.Len(t, w.plat.Sent(oid), 1)
	c, _ := m.Consent(w.ctx, oid, "T-paid")
	assert.Equal(t, 2, c.Credits)
}

// Three processes relaying over one store send each message once, and
// spend each credit once.
func TestMessagesConcurrentRelays(t *testing.T) {
	w := newMsgWorld(t)
	w.plat.AddTemplate("T-paid", paidFields, false)
	var relays []*wechat.Messages
	for range 3 {
		relays = append(relays, w.relay(t, wechat.MessagesConfig{Templates: []wechat.Template{orderPaid("T-paid")}, Batch: 7, ConsentWait: -1}))
	}
	const customers, orders = 6, 5
	var oids []string
	for i := range customers {
		c, oid := w.customer(fmt.Sprint("c", i))
		oids = append(oids, oid)
		// Customer i accepted i times: some orders get no message.
		for range i {
			w.plat.Subscribe(oid, "T-paid")
			require.NoError(t, relays[i%3].Accepted(w.ctx, oid, "T-paid"))
		}
		for j := range orders {
			w.paid(t, c, fmt.Sprintf("o-%d-%d", i, j))
		}
	}
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				_, err := relays[g%3].Run(w.ctx)
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	run(t, relays[0], w.ctx)
	orderSeen := map[string]int{}
	for i, oid := range oids {
		sent := w.plat.Sent(oid)
		assert.Len(t, sent, min(i, orders), "customer %d", i)
		for _, s := range sent {
			orderSeen[s.Data["character_string1"]]++
		}
		c, err := relays[0].Consent(w.ctx, oid, "T-paid")
		require.NoError(t, err)
		assert.Equal(t, i-min(i, orders), c.Credits)
		assert.Equal(t, min(i, orders), c.Used)
	}
	for o, n := range orderSeen {
		assert.Equal(t, 1, n, "order %s", o)
	}
	done, err := relays[0].Deliveries(w.ctx, wechat.StatusDone, 1000)
	require.NoError(t, err)
	assert.Len(t, done, customers*orders)
	assert.Zero(t, len(w.plat.Requests())-w.plat.Calls(subscribePath)-w.plat.Calls("/cgi-bin/stable_token"))
}

func TestMessagesHandlePush(t *testing.T) {
	w := newMsgWorld(t)
	_, oid := w.customer("buyer")
	w.plat.AddTemplate("T-paid", paidFields, false)
	m := w.relay(t, wechat.MessagesConfig{Templates: []wechat.Template{orderPaid("T-paid")}})
	push := w.plat.Subscribe(oid, "T-paid")
	for range 3 { // WeChat pushes again when the answer is slow
		ok, err := m.HandlePush(w.ctx, &push)
		require.NoError(t, err)
		assert.True(t, ok)
	}
	_, err := m.HandlePush(w.ctx, ptr(w.plat.Subscribe(oid, "T-paid")))
	require.NoError(t, err)
	c, _ := m.Consent(w.ctx, oid, "T-paid")
	assert.Equal(t, 2, c.Credits, "a push delivered again counts once")

	// A reject in the popup gives nothing.
	rej := wechat.Message{FromUserName: oid, CreateTime: push.CreateTime + 100, MsgType: "event", Event: wechat.EventSubscribePopup,
		Subscriptions: []wechat.SubscriptionChange{{TemplateID: "T-paid", Status: "reject"}}}
	_, err = m.HandlePush(w.ctx, &rej)
	require.NoError(t, err)
	c, _ = m.Consent(w.ctx, oid, "T-paid")
	assert.Equal(t, 2, c.Credits)

	// Turned off in the settings: every credit gone.
	ok, err := m.HandlePush(w.ctx, ptr(w.plat.Unsubscribe(oid, "T-paid")))
	require.NoError(t, err)
	assert.True(t, ok)
	c, _ = m.Consent(w.ctx, oid, "T-paid")
	assert.Equal(t, wechat.Consent{Accepted: 2, Rejected: true}, c)

	sent := wechat.Message{FromUserName: oid, CreateTime: 1, MsgType: "event", Event: wechat.EventSubscribeSent,
		Subscriptions: []wechat.SubscriptionChange{{TemplateID: "T-paid", MsgID: "123", ErrorCode: 0, ErrorStatus: "success"}}}
	ok, err = m.HandlePush(w.ctx, &sent)
	require.NoError(t, err)
	assert.True(t, ok)

	ok, err = m.HandlePush(w.ctx, &wechat.Message{FromUserName: oid, MsgType: "event", Event: "trade_manage_remind_shipping"})
	require.NoError(t, err)
	assert.False(t, ok, "not a subscription push")
	_, err = m.HandlePush(w.ctx, &wechat.Message{FromUserName: "", Event: wechat.EventSubscribePopup,
		Subscriptions: []wechat.SubscriptionChange{{TemplateID: "T-paid", Status: "accept"}}})
	assert.Equal(t, commerce.KindInvalid, commerce.KindOf(err), "a push without its user")
}

// A long-term template needs an acceptance not rejected since, and no
// credit.
func TestMessagesLongTerm(t *testing.T) {
	w := newMsgWorld(t)
	buyer, oid := w.customer("buyer")
	w.plat.AddTemplate("T-long", paidFields, true)
	tpl := orderPaid("T-long")
	tpl.LongTerm = true
	m := w.relay(t, wechat.MessagesConfig{Templates: []wechat.Template{tpl}, ConsentWait: -1})
	w.paid(t, buyer, "o-0")
	run(t, m, w.ctx)
	assert.Empty(t, w.plat.Sent(oid), "never accepted")
	_, err := m.HandlePush(w.ctx, ptr(w.plat.Subscribe(oid, "T-long")))
	require.NoError(t, err)
	for i := range 3 {
		w.paid(t, buyer, fmt.Sprint("o-", i+1))
	}
	run(t, m, w.ctx)
	assert.Len(t, w.plat.Sent(oid), 3, "one acceptance, many messages")
	_, err = m.HandlePush(w.ctx, ptr(w.plat.Unsubscribe(oid, "T-long")))
	require.NoError(t, err)
	ev := w.paid(t, buyer, "o-9")
	run(t, m, w.ctx)
	assert.Len(t, w.plat.Sent(oid), 3)
	assert.Equal(t, wechat.OutcomeSkipped, delivery(t, m, w.ctx, wechat.StatusDone, ev).Outcome)
}

const saAppID = "wx00112233445566ff"

// A customer without a credit who follows the Service Account gets its
// template message, opening the Mini Program; a lost answer is sent again
// with the same client_msg_id, which WeChat sends once.
func TestMessagesServiceAccount(t *testing.T) {
	w := newMsgWorld(t)
	buyer, _ := w.customer("buyer")
	other, _ := w.customer("other")
	sa := wechattest.Start(t, wechattest.Options{AppID: saAppID, Now: w.clock.Now})
	sa.AddTemplate("SA-paid", map[string]string{"character_string1": "character_string", "amount2": "amount"}, false)
	sa.LinkMiniProgram(w.plat.AppID())
	sa.Follow("sa-openid-buyer")
	saCfg := sa.Config(w.store)
	saCfg.Clock = w.clock
	saClient, err := wechat.New(saCfg)
	require.NoError(t, err)
	w.plat.AddTemplate("T-paid", paidFields, false)
	tpl := orderPaid("T-paid")
	data := tpl.Data
	tpl.Data = func(ctx context.Context, ev commerce.Event) (wechat.Content, error) {
		c, err := data(ctx, ev)
		c.AccountFields = map[string]string{"character_string1": c.Fields["character_string1"], "amount2": c.Fields["amount2"]}
		return c, err
	}
	tpl.Account = &wechat.AccountTemplate{ID: "SA-paid"}
	m := w.relay(t, wechat.MessagesConfig{Templates: []wechat.Template{tpl}, ConsentWait: -1, Retry: wechat.Retry{First: time.Second},
		ServiceAccount: saClient, Follower: func(_ context.Context, c commerce.CustomerID) (string, bool, error) {
			if c == buyer {
				return "sa-openid-buyer", true, nil
			}
			return "", false, nil
		}})
	ev := w.paid(t, buyer, "o-1")
	evOther := w.paid(t, other, "o-2")
	sa.Faults(1, 1, []wechattest.Fault{wechattest.FaultLostAnswer}, "/cgi-bin/message/template/send")
	run(t, m, w.ctx)
	sa.Heal()
	w.clock.Advance(time.Minute)
	run(t, m, w.ctx)
	got := sa.Sent("sa-openid-buyer")
	require.Len(t, got, 1, "one template message for two sends")
	assert.Equal(t, w.plat.AppID(), got[0].AppID)
	assert.Equal(t, "pages/order/detail?id=o-1", got[0].Page)
	assert.Equal(t, "¥116.66", got[0].Data["amount2"])
	d := delivery(t, m, w.ctx, wechat.StatusDone, ev)
	assert.Equal(t, wechat.OutcomeSentAccount, d.Outcome)
	assert.Equal(t, "sa-openid-buyer", d.OpenID)
	assert.Equal(t, 2, sa.Calls("/cgi-bin/message/template/send"))
	assert.Empty(t, w.plat.Sent(""))
	assert.Equal(t, wechat.OutcomeSkipped, delivery(t, m, w.ctx, wechat.StatusDone, evOther).Outcome, "not a follower")
}

// The platform checks a subscription message as WeChat does.
func TestPlatformChecksSubscribeSend(t *testing.T) {
	w := newMsgWorld(t)
	_, oid := w.customer("buyer")
	w.plat.AddTemplate("T-paid", paidFields, false)
	w.plat.AddPage("pages/order/detail")
	c := w.client(t)
	tok, err := c.AccessToken(w.ctx)
	require.NoError(t, err)
	good := func() map[string]any {
		return map[string]any{"touser": oid, "template_id": "T-paid", "page": "pages/order/detail?id=1",
			"data": map[string]any{"character_string1": map[string]string{"value": "o-1"}, "amount2": map[string]string{"value": "¥1.00"},
				"thing3": map[string]string{"value": "茶具"}}}
	}
	post := func(body map[string]any) int {
		b, _ := json.Marshal(body)
		resp, err := http.Post(w.plat.URL()+subscribePath+"?access_token="+tok, "application/json", bytes.NewReader(b))
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out struct {
			Code int `json:"errcode"`
		}
		require.NoError(t, json.Unmarshal(raw, &out))
		return out.Code
	}
	cases := []struct {
		name string
		edit func(map[string]any)
		code int
	}{
		{"no credit", func(map[string]any) {}, 43101},
		{"unknown openid", func(b map[string]any) { b["touser"] = "oNobody" }, 40003},
		{"unknown template", func(b map[string]any) { b["template_id"] = "T-x" }, 40037},
		{"missing key", func(b map[string]any) { delete(b["data"].(map[string]any), "thing3") }, 47003},
		{"extra key", func(b map[string]any) { b["data"].(map[string]any)["thing9"] = map[string]string{"value": "x"} }, 47003},
		{"thing too long", func(b map[string]any) {
			b["data"].(map[string]any)["thing3"] = map[string]string{"value": strings.Repeat("茶", 21)}
		}, 47003},
		{"unknown page", func(b map[string]any) { b["page"] = "pages/nowhere" }, 41030},
		{"bad state", func(b map[string]any) { b["miniprogram_state"] = "beta" }, 47003},
		{"bad lang", func(b map[string]any) { b["lang"] = "fr_FR" }, 47003},
		{"unknown field", func(b map[string]any) { b["color"] = "red" }, 47001},
	}
	for _, tc := range cases {
		b := good()
		tc.edit(b)
		assert.Equal(t, tc.code, post(b), tc.name)
	}
	w.plat.Subscribe(oid, "T-paid")
	assert.Zero(t, post(good()))
	assert.Equal(t, 43101, post(good()), "one message per acceptance")
}

// Neither the AppSecret nor the access token appears in what the relay
// keeps or reports.
func TestMessagesKeepNoSecrets(t *testing.T) {
	w := newMsgWorld(t)
	buyer, oid := w.customer("buyer")
	w.plat.AddTemplate("T-paid", paidFields, false)
	m := w.relay(t, wechat.MessagesConfig{Templates: []wechat.Template{orderPaid("T-paid")}, Retry: wechat.Retry{First: time.Second, MaxAttempts: 2}})
	require.NoError(t, m.Accepted(w.ctx, oid, "T-paid"))
	w.paid(t, buyer, "o-1")
	w.paid(t, buyer, "o-2")
	w.plat.Faults(0.5, 3, nil, subscribePath)
	for range 5 {
		run(t, m, w.ctx)
		w.clock.Advance(time.Minute)
	}
	tok, err := w.client(t).AccessToken(w.ctx)
	require.NoError(t, err)
	var seen strings.Builder
	for _, st := range []string{wechat.StatusPending, wechat.StatusDone, wechat.StatusFailed} {
		recs, err := w.store.DueRecords(w.ctx, wechat.KindMessageDelivery, st, w.clock.Now().Add(time.Hour), 100)
		require.NoError(t, err)
		for _, r := range recs {
			seen.Write(r.Doc)
		}
		ds, _ := m.Deliveries(w.ctx, st, 100)
		for _, d := range ds {
			seen.WriteString(d.LastError + d.Reason)
		}
	}
	c, _ := w.store.GetRecord(w.ctx, wechat.KindMessageConsent, w.plat.AppID()+":"+oid+":T-paid")
	seen.Write(c.Doc)
	require.NotEmpty(t, seen.String())
	assert.NotContains(t, seen.String(), w.plat.Secret())
	assert.NotContains(t, seen.String(), tok)
}

func TestNewMessagesChecksConfig(t *testing.T) {
	w := newMsgWorld(t)
	c := w.client(t)
	ok := wechat.MessagesConfig{Outbox: w.svc, OpenID: w.openID, Templates: []wechat.Template{orderPaid("T")}}
	for name, edit := range map[string]func(*wechat.MessagesConfig){
		"open_id":           func(c *wechat.MessagesConfig) { c.OpenID = nil },
		"outbox":            func(c *wechat.MessagesConfig) { c.Outbox = nil },
		"templates[1].name": func(c *wechat.MessagesConfig) { c.Templates = append(c.Templates, orderPaid("T")) },
		"templates[0].data": func(c *wechat.MessagesConfig) { c.Templates = []wechat.Template{{Event: "order.paid", ID: "T"}} },
		"templates[0].event": func(c *wechat.MessagesConfig) {
			c.Templates = []wechat.Template{{ID: "T", Data: orderPaid("T").Data}}
		},
		"templates[0].account": func(c *wechat.MessagesConfig) {
			t := orderPaid("T")
			t.Account = &wechat.AccountTemplate{ID: "SA"}
			c.Templates = []wechat.Template{t}
		},
		"miniprogram_state": func(c *wechat.MessagesConfig) { c.MiniProgramState = "beta" },
		"lang":              func(c *wechat.MessagesConfig) { c.Lang = "fr" },
	} {
		cfg := ok
		cfg.Templates = append([]wechat.Template(nil), ok.Templates...)
		edit(&cfg)
		_, err := wechat.NewMessages(c, cfg)
		var ce *commerce.Error
		require.True(t, errors.As(err, &ce), name)
		assert.Equal(t, name, ce.Field)
	}
	_, err := wechat.NewMessages(c, ok)
	assert.NoError(t, err)
}

// A customer the host knows no openid for is skipped, not failed.
func TestMessagesCustomerWithoutOpenID(t *testing.T) {
	w := newMsgWorld(t)
	w.plat.AddTemplate("T-paid", paidFields, false)
	m := w.relay(t, wechat.MessagesConfig{Templates: []wechat.Template{orderPaid("T-paid")}})
	ev := w.paid(t, "stranger", "o-1")
	assert.Equal(t, 1, run(t, m, w.ctx))
	d := delivery(t, m, w.ctx, wechat.StatusDone, ev)
	assert.Equal(t, wechat.OutcomeSkipped, d.Outcome)
	assert.Contains(t, d.Reason, "no openid")
	assert.Zero(t, w.plat.Calls(subscribePath))
}

// Acceptances come through the push handler: a popup push, delivered
// again, is one credit, and one message goes.
func TestMessagesAcceptancesPushed(t *testing.T) {
	w := newMsgWorld(t)
	buyer, oid := w.customer("buyer")
	w.plat.AddTemplate("T-paid", paidFields, false)
	m := w.relay(t, wechat.MessagesConfig{Templates: []wechat.Template{orderPaid("T-paid")}})
	key := wechattest.NewEncodingAESKey()
	h, err := w.clientTB(t).PushHandler(wechat.PushConfig{Token: "pushtoken", EncodingAESKey: key},
		func(ctx context.Context, msg *wechat.Message) error { _, err := m.HandlePush(ctx, msg); return err })
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	pushed := w.plat.Subscribe(oid, "T-paid") // the credit on WeChat's side
	ev := wechattest.SubscriptionEvent{Event: pushed.Event, OpenID: oid, CreateTime: time.Unix(pushed.CreateTime, 0),
		List: []wechattest.SubscriptionItem{{TemplateID: "T-paid", Status: "accept"}}}
	for range 2 {
		status, body, err := w.plat.Push(srv.URL, ev, wechattest.PushOptions{Token: "pushtoken", EncodingAESKey: key})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status, body)
	}
	c, err := m.Consent(w.ctx, oid, "T-paid")
	require.NoError(t, err)
	assert.Equal(t, 1, c.Credits)
	w.paid(t, buyer, "o-1")
	w.paid(t, buyer, "o-2")
	w.clock.Advance(time.Hour)
	run(t, m, w.ctx)
	w.clock.Advance(time.Hour)
	run(t, m, w.ctx)
	assert.Len(t, w.plat.Sent(oid), 1)
}
