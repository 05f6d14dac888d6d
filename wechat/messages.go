package wechat

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/storage"
)

// Record kinds of the messages.
const (
	// KindMessageDelivery is one event's message for one template, keyed
	// appid:event id:template name.
	KindMessageDelivery = "message_delivery"
	// KindMessageConsent is a customer's acceptances of one template,
	// keyed appid:openid:template id.
	KindMessageConsent = "message_consent"
)

// Outcomes of a finished delivery (Delivery.Outcome).
const (
	OutcomeSent        = "sent"         // the subscription message was sent
	OutcomeSentAccount = "sent_account" // the Service Account's template message was sent
	OutcomeSkipped     = "skipped"      // nothing sent: no consent, or the template's Data said so
	// OutcomeUnconfirmed: an answer was lost, so the message may have
	// arrived; it was not sent again (no second credit, or too late for
	// the template message's duplicate check).
	OutcomeUnconfirmed = "unconfirmed"
)

// Channels a delivery goes through.
const (
	channelSubscribe = "subscribe"
	channelAccount   = "account"
)

const opMessages = "wechat.messages"

// accountDedupe is how long template/send drops a second message with the
// same openid and client_msg_id.
const accountDedupe = 10 * time.Minute

// MessagesConfig configures the relay.
type MessagesConfig struct {
	// Outbox is the kernel's (*commerce.Service).
	Outbox Outbox
	// OpenID tells who an event's customer is on the Mini Program.
	OpenID func(ctx context.Context, customer commerce.CustomerID) (string, error)
	// Templates map event types to messages; an event type may have
	// several (the giver and the recipient of a gift).
	Templates []Template
	Retry     Retry
	// Consumer is the outbox consumer; default "wechat.messages".
	Consumer string
	// Batch is how many events and deliveries one step reads; default 100.
	Batch int
	// ConsentWait is how long after its event a delivery waits for a
	// credit; default two minutes, negative for none.
	ConsentWait time.Duration
	// MiniProgramState (developer, trial, formal) and Lang (zh_CN, en_US,
	// zh_HK, zh_TW) of the subscription messages; WeChat's defaults when
	// empty (formal, zh_CN).
	MiniProgramState, Lang string

	// ServiceAccount is the merchant's Service Account, bound to the Mini
	// Program, for templates with an AccountTemplate; Follower tells
	// whether a customer follows it and their openid there.
	ServiceAccount *Client
	Follower       func(ctx context.Context, customer commerce.CustomerID) (openid string, ok bool, err error)
}

// Template is one message sent for one event type.
type Template struct {
	// Name names the message among Templates and in its delivery's key
	// (so renaming it sends again); default ID.
	Name string
	// Event is the outbox event type: "order.paid".
	Event string
	// ID is the subscription-message template id; LongTerm marks a
	// long-term template (no credit needed, only an acceptance not
	// rejected since).
	ID       string
	LongTerm bool
	// Page is the Mini Program page the message opens (index?foo=bar);
	// Content.Page overrides it.
	Page string
	// Data builds the message from the event. It must decide the same way
	// each time it is asked (a delivery retried asks again).
	Data func(ctx context.Context, ev commerce.Event) (Content, error)
	// Account, when set, is sent through the Service Account instead when
	// the customer holds no credit and follows it.
	Account *AccountTemplate
}

// AccountTemplate is a Service Account template message.
type AccountTemplate struct {
	ID string
	// URL is a web page the message opens when the Mini Program cannot
	// be; optional.
	URL string
}

// Content is one message: its recipient, fields and page.
type Content struct {
	Customer commerce.CustomerID
	// Fields are the subscription message's data, by key: "thing1": "茶具".
	Fields map[string]string
	// AccountFields are the template message's; default Fields.
	AccountFields map[string]string
	Page          string
	// Skip, when set, sends nothing, for this reason (a gift order's
	// "paid" message, say).
	Skip string
}

// Messages relays outbox events as messages. Safe for concurrent use, by
// many processes over one store.
type Messages struct {
	c       *Client
	cfg     MessagesConfig
	byEvent map[string][]*Template
	byName  map[string]*Template
	long    map[string]bool // long-term template ids
}

// NewMessages checks cfg and returns the relay of c's Mini Program.
func NewMessages(c *Client, cfg MessagesConfig) (*Messages, error) {
	const op = "wechat.new_messages"
	switch {
	case c == nil:
		return nil, invalid(op, "client", "is nil")
	case cfg.Outbox == nil:
		return nil, invalid(op, "outbox", "is nil")
	case cfg.OpenID == nil:
		return nil, invalid(op, "open_id", "is nil: the relay must know who a customer is on WeChat")
	case cfg.Batch < 0 || cfg.Batch > 1000:
		return nil, invalid(op, "batch", "%d is not between 0 and 1000", cfg.Batch)
	case (cfg.ServiceAccount == nil) != (cfg.Follower == nil):
		return nil, invalid(op, "follower", "the Service Account and Follower come together")
	}
	switch cfg.MiniProgramState {
	case "", "developer", "trial", "formal":
	default:
		return nil, invalid(op, "miniprogram_state", "%q is not developer, trial or formal", truncate(cfg.MiniProgramState, 20))
	}
	switch cfg.Lang {
	case "", "zh_CN", "en_US", "zh_HK", "zh_TW":
	default:
		return nil, invalid(op, "lang", "%q is not zh_CN, en_US, zh_HK or zh_TW", truncate(cfg.Lang, 20))
	}
	if cfg.Consumer == "" {
		cfg.Consumer = "wechat.messages"
	}
	if cfg.Batch == 0 {
		cfg.Batch = 100
	}
	if cfg.ConsentWait == 0 {
		cfg.ConsentWait = 2 * time.Minute
	}
	m := &Messages{c: c, cfg: cfg, byEvent: map[string][]*Template{}, byName: map[string]*Template{}, long: map[string]bool{}}
	for i := range cfg.Templates {
		t := cfg.Templates[i]
		field := "templates[" + strconv.Itoa(i) + "]"
		if t.Name == "" {
			t.Name = t.ID
		}
		switch {
		case t.Event == "":
			return nil, invalid(op, field+".event", "is empty")
		case t.ID == "" && t.Account == nil:
			return nil, invalid(op, field+".id", "is empty, and there is no Service Account template")
		case t.Data == nil:
			return nil, invalid(op, field+".data", "is nil")
		case t.Name == "" || len(t.Name) > 64:
			return nil, invalid(op, field+".name", "%q is not a name of 1 to 64 bytes", truncate(t.Name, 70))
		case m.byName[t.Name] != nil:
			return nil, invalid(op, field+".name", "%q is used twice", t.Name)
		case len(t.ID) > 128:
			return nil, invalid(op, field+".id", "longer than 128 bytes")
		case t.Account != nil && (t.Account.ID == "" || len(t.Account.ID) > 128):
			return nil, invalid(op, field+".account.id", "is not a template id")
		case t.Account != nil && cfg.ServiceAccount == nil:
			return nil, invalid(op, field+".account", "needs MessagesConfig.ServiceAccount")
		}
		m.byName[t.Name] = &t
		m.byEvent[t.Event] = append(m.byEvent[t.Event], &t)
		if t.LongTerm {
			m.long[t.ID] = true
		}
	}
	return m, nil
}

// Run feeds the outbox's new events into deliveries, then works the
// deliveries that are due. It returns how many deliveries it finished
// (sent, skipped or failed). Call it on a schedule, from any number of
// processes.
func (m *Messages) Run(ctx context.Context) (int, error) {
	for {
		n, err := m.c.feed(ctx, m.cfg.Outbox, m.cfg.Consumer, m.cfg.Batch, m.enqueue)
		if err != nil {
			return 0, fail(opMessages, err)
		}
		if n < m.cfg.Batch {
			break
		}
	}
	total := 0
	for {
		n, err := work(ctx, m.c, KindMessageDelivery, m.cfg.Retry, m.cfg.Batch, m.deliver)
		total += n
		if err != nil || n < m.cfg.Batch {
			return total, fail(opMessages, err)
		}
	}
}

// storedEvent is the event a delivery was made for, kept whole so Data can
// be asked again on a retry.
type storedEvent struct {
	ID          uuid.UUID           `json:"id"`
	Seq         uint64              `json:"seq"`
	Type        string              `json:"type"`
	AggregateID string              `json:"aggregate_id"`
	MerchantID  commerce.MerchantID `json:"merchant_id"`
	Payload     json.RawMessage     `json:"payload,omitempty"`
	Time        time.Time           `json:"time"`
}

// deliveryDoc is a delivery record's document.
type deliveryDoc struct {
	Job
	Event    storedEvent         `json:"event"`
	Template string              `json:"template"`
	Customer commerce.CustomerID `json:"customer,omitempty"`
	OpenID   string              `json:"openid,omitempty"`
	Channel  string              `json:"channel,omitempty"`
	// Credits counts the credits this delivery consumed; Held says the
	// last is not yet spent on a send that may have arrived.
	Credits int  `json:"credits,omitempty"`
	Held    bool `json:"held,omitempty"`
	// InFlight: a send was started and its answer is not known (a crash,
	// a lost answer). The next attempt counts it as maybe arrived.
	InFlight bool `json:"in_flight,omitempty"`
	// Lost counts the sends whose answer was lost.
	Lost        int       `json:"lost,omitempty"`
	ClientMsgID string    `json:"client_msg_id,omitempty"`
	FirstSend   time.Time `json:"first_send,omitzero"`
	MsgID       int64     `json:"msg_id,omitempty"`
	Outcome     string    `json:"outcome,omitempty"`
	Reason      string    `json:"reason,omitempty"`
}

func (m *Messages) deliveryKey(ev uuid.UUID, template string) string {
	return m.c.AppID() + ":" + ev.String() + ":" + template
}

func (m *Messages) enqueue(ctx context.Context, ev commerce.Event) error {
	for _, t := range m.byEvent[ev.Type] {
		// An event delivered again is looked for first: a refused insert
		// would abort a PostgreSQL transaction.
		if _, err := m.c.cfg.Store.GetRecord(ctx, KindMessageDelivery, m.deliveryKey(ev.ID, t.Name)); err == nil {
			continue
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		doc := &deliveryDoc{Template: t.Name, Event: storedEvent{ID: ev.ID, Seq: ev.Seq, Type: ev.Type, AggregateID: ev.AggregateID,
			MerchantID: ev.MerchantID, Payload: ev.Payload, Time: ev.Time}}
		if err := m.c.enqueue(ctx, KindMessageDelivery, m.deliveryKey(ev.ID, t.Name), doc); err != nil {
			return err
		}
	}
	return nil
}

// errWaiting is the retryable answer of a delivery waiting for consent.
var errWaiting = fmt.Errorf("%w: waiting for the customer's subscription", commerce.ErrUnavailable)

// deliver is one attempt at a delivery; see the package doc for the rules.
func (m *Messages) deliver(ctx context.Context, rec *storage.Record, d *deliveryDoc) error {
	t := m.byName[d.Template]
	if t == nil {
		return invalid(opMessages, "template", "%q is no longer configured", d.Template)
	}
	ev := commerce.Event{ID: d.Event.ID, Seq: d.Event.Seq, Type: d.Event.Type, AggregateID: d.Event.AggregateID,
		MerchantID: d.Event.MerchantID, Payload: d.Event.Payload, Time: d.Event.Time}
	if d.InFlight {
		// The last send may have arrived: its credit is spent.
		d.InFlight, d.Held = false, false
		d.Lost++
	}
	content, err := t.Data(ctx, ev)
	if err != nil {
		return fail(opMessages, err)
	}
	if content.Skip != "" {
		d.Outcome, d.Reason = OutcomeSkipped, truncate(content.Skip, 200)
		return nil
	}
	if err := commerce.CheckCustomer(opMessages, "customer", content.Customer); err != nil {
		return err
	}
	d.Customer = content.Customer
	if d.Channel == channelAccount {
		return m.sendAccount(ctx, rec, d, t, content)
	}
	if d.Lost > 0 && t.LongTerm {
		// No credit stands behind a resend of a long-term message.
		d.Outcome, d.Reason = OutcomeUnconfirmed, "the answer to the send was lost; not sent again"
		return nil
	}
	if t.ID != "" {
		fields, err := checkFields(content.Fields)
		if err != nil {
			return err
		}
		openid, err := m.cfg.OpenID(ctx, content.Customer)
		if commerce.KindOf(err) == commerce.KindNotFound || err == nil && openid == "" {
			d.Outcome, d.Reason = OutcomeSkipped, "the customer has no openid"
			return nil
		}
		if err != nil {
			return fail(opMessages, err)
		}
		d.OpenID = openid
		// A token is at hand before the send is marked in flight, so a
		// failure to get one is not taken for a lost answer.
		if _, err := m.c.accessToken(ctx); err != nil {
			return fail(opMessages, err)
		}
		ok, err := m.take(ctx, rec, d, t)
		if err != nil {
			return err
		}
		if ok {
			return m.sendSubscribe(ctx, rec, d, t, content, fields)
		}
	}
	if d.Lost > 0 {
		d.Outcome, d.Reason = OutcomeUnconfirmed, "the answer to the send was lost and the customer holds no second credit: not sent again"
		return nil
	}
	if t.ID != "" && m.cfg.ConsentWait > 0 && m.c.Now().Before(ev.Time.Add(m.cfg.ConsentWait)) {
		return errWaiting
	}
	if t.Account != nil {
		openid, follows, err := m.cfg.Follower(ctx, content.Customer)
		if err != nil {
			return fail(opMessages, err)
		}
		if follows && openid != "" {
			d.Channel, d.OpenID = channelAccount, openid
			return m.sendAccount(ctx, rec, d, t, content)
		}
	}
	d.Outcome, d.Reason = OutcomeSkipped, "the customer holds no subscription to "+t.Name
	if t.LongTerm {
		d.Reason = "the customer has not accepted " + t.Name + ", or rejected it"
	}
	return nil
}

// take makes sure the delivery holds a credit to send under: the one it
// holds, or one consumed now, in one transaction with the delivery marked
// as holding it and in flight (the send follows). A long-term template
// needs an acceptance not rejected since. ok is false when there is none.
func (m *Messages) take(ctx context.Context, rec *storage.Record, d *deliveryDoc, t *Template) (bool, error) {
	d.Channel = channelSubscribe
	if d.Held {
		d.InFlight = true
		if err := m.saveDelivery(ctx, rec, d); err != nil {
			d.InFlight = false
			return false, err
		}
		return true, nil
	}
	key, err := m.consentKey(d.OpenID, t.ID)
	if err != nil {
		return false, err
	}
	for {
		// Changes are made on copies and kept only once committed.
		var nrec storage.Record
		var nd deliveryDoc
		consentLost := false
		err := m.c.cfg.Store.InTx(ctx, func(ctx context.Context) error {
			nrec, nd, consentLost = *rec, *d, false
			crec, doc, err := m.consent(ctx, key)
			if err != nil || crec.Version == 0 {
				return err
			}
			switch {
			case t.LongTerm && (doc.Accepted == 0 || doc.Rejected):
				return nil
			case !t.LongTerm && doc.Credits <= 0:
				return nil
			case !t.LongTerm:
				doc.Credits--
				doc.Used++
				if err := m.saveConsent(ctx, crec, doc); err != nil {
					consentLost = errors.Is(err, storage.ErrConflict)
					return err
				}
				nd.Credits++
				nd.Held = true
			}
			nd.InFlight = true
			return m.saveDelivery(ctx, &nrec, &nd)
		})
		switch {
		case consentLost:
			continue // another delivery or an acceptance moved first: read again
		case errors.Is(err, storage.ErrConflict):
			// The lease ran out and another process took the delivery
			// over: it decides.
			return false, fmt.Errorf("%w: the delivery was taken over", commerce.ErrUnavailable)
		case err != nil:
			return false, err
		}
		*rec, *d = nrec, nd
		return d.InFlight, nil
	}
}

// saveDelivery writes the delivery as it stands, so what a crash leaves is
// known; rec moves to the new version.
func (m *Messages) saveDelivery(ctx context.Context, rec *storage.Record, d *deliveryDoc) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	rec.Doc, rec.Updated = b, m.c.Now()
	v, err := m.c.cfg.Store.SaveRecord(ctx, *rec)
	if err != nil {
		return err
	}
	rec.Version = v
	return nil
}

type subscribeBody struct {
	ToUser     string           `json:"touser"`
	TemplateID string           `json:"template_id"`
	Page       string           `json:"page,omitempty"`
	Data       map[string]value `json:"data"`
	State      string           `json:"miniprogram_state,omitempty"`
	Lang       string           `json:"lang,omitempty"`
}

type value struct {
	Value string `json:"value"`
}

func checkFields(fields map[string]string) (map[string]value, error) {
	if len(fields) == 0 {
		return nil, invalid(opMessages, "data", "no fields")
	}
	out := make(map[string]value, len(fields))
	for k, v := range fields {
		if err := CheckField(k, v); err != nil {
			return nil, err
		}
		out[k] = value{v}
	}
	return out, nil
}

func (m *Messages) sendSubscribe(ctx context.Context, rec *storage.Record, d *deliveryDoc, t *Template, content Content, fields map[string]value) error {
	page := content.Page
	if page == "" {
		page = t.Page
	}
	body := subscribeBody{ToUser: d.OpenID, TemplateID: t.ID, Page: page, Data: fields, State: m.cfg.MiniProgramState, Lang: m.cfg.Lang}
	err := m.c.call(ctx, request{op: "wechat.subscribe_send", method: http.MethodPost, path: "/cgi-bin/message/subscribe/send", body: body, token: true}, nil)
	return m.answered(d, err, OutcomeSent)
}

// answered reads a send's result. An answer of the platform's, error or
// not, says whether the message went (an HTTP 5xx comes from WeChat's
// gateway before the work); no answer leaves the send in flight.
func (m *Messages) answered(d *deliveryDoc, err error, outcome string) error {
	var ae *APIError
	switch {
	case err == nil:
		d.Held, d.InFlight, d.Outcome, d.Reason = false, false, outcome, ""
		return nil
	case errors.As(err, &ae):
		d.InFlight = false
		if ae.Code == CodeRefused {
			d.Held = false // the credit is spent: WeChat knows of none
		}
		return err
	}
	return err
}

type accountBody struct {
	ToUser      string           `json:"touser"`
	TemplateID  string           `json:"template_id"`
	URL         string           `json:"url,omitempty"`
	MiniProgram *miniProgramJump `json:"miniprogram,omitempty"`
	ClientMsgID string           `json:"client_msg_id"`
	Data        map[string]value `json:"data"`
}

type miniProgramJump struct {
	AppID    string `json:"appid"`
	PagePath string `json:"pagepath,omitempty"`
}

// sendAccount sends the Service Account's template message. It carries a
// client_msg_id from the delivery's key: WeChat sends one message per
// openid and client_msg_id within ten minutes, so a send whose answer was
// lost is sent again within that time, and not after.
func (m *Messages) sendAccount(ctx context.Context, rec *storage.Record, d *deliveryDoc, t *Template, content Content) error {
	if d.Lost > 0 && m.c.Now().Sub(d.FirstSend) >= accountDedupe-jobLease {
		d.Outcome, d.Reason = OutcomeUnconfirmed, "the answer to the template message was lost and WeChat's duplicate check has lapsed: not sent again"
		return nil
	}
	src := content.AccountFields
	if src == nil {
		src = content.Fields
	}
	fields, err := checkFields(src)
	if err != nil {
		return err
	}
	page := content.Page
	if page == "" {
		page = t.Page
	}
	if d.ClientMsgID == "" {
		sum := sha256.Sum256([]byte(rec.Key))
		d.ClientMsgID = hex.EncodeToString(sum[:16])
	}
	if _, err := m.cfg.ServiceAccount.accessToken(ctx); err != nil {
		return fail(opMessages, err)
	}
	if d.FirstSend.IsZero() {
		d.FirstSend = m.c.Now()
	}
	d.InFlight = true
	if err := m.saveDelivery(ctx, rec, d); err != nil {
		d.InFlight = false
		return err
	}
	body := accountBody{ToUser: d.OpenID, TemplateID: t.Account.ID, URL: t.Account.URL, ClientMsgID: d.ClientMsgID, Data: fields,
		MiniProgram: &miniProgramJump{AppID: m.c.AppID(), PagePath: page}}
	var out struct {
		MsgID int64 `json:"msgid"`
	}
	err = m.cfg.ServiceAccount.call(ctx, request{op: "wechat.template_send", method: http.MethodPost, path: "/cgi-bin/message/template/send", body: body, token: true}, &out)
	if err == nil {
		d.MsgID = out.MsgID
	}
	return m.answered(d, err, OutcomeSentAccount)
}

// consentDoc is a customer's acceptances of one template.
type consentDoc struct {
	Credits  int  `json:"credits"`            // acceptances not yet used
	Accepted int  `json:"accepted"`           // acceptances recorded
	Used     int  `json:"used"`               // credits consumed by sends
	Rejected bool `json:"rejected,omitempty"` // rejected in the settings since
	// Pushes are the last popup pushes applied, so one pushed again
	// counts once.
	Pushes   []string    `json:"pushes,omitempty"`
	LastSent *sentResult `json:"last_sent,omitempty"`
}

// sentResult is a subscribe_msg_sent_event's report.
type sentResult struct {
	MsgID       string    `json:"msg_id"`
	ErrorCode   int       `json:"error_code"`
	ErrorStatus string    `json:"error_status,omitempty"`
	At          time.Time `json:"at"`
}

func (m *Messages) consentKey(openid, template string) (string, error) {
	switch {
	case openid == "" || len(openid) > 64:
		return "", invalid(opMessages, "openid", "%q is not an openid", truncate(openid, 70))
	case template == "" || len(template) > 100:
		return "", invalid(opMessages, "template_id", "%q is not a template id", truncate(template, 110))
	}
	return m.c.AppID() + ":" + openid + ":" + template, nil
}

// consent reads a consent record; a missing one comes back with version 0.
func (m *Messages) consent(ctx context.Context, key string) (storage.Record, *consentDoc, error) {
	rec, err := m.c.cfg.Store.GetRecord(ctx, KindMessageConsent, key)
	doc := &consentDoc{}
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return storage.Record{Kind: KindMessageConsent, Key: key}, doc, nil
	case err != nil:
		return rec, nil, err
	}
	if err := json.Unmarshal(rec.Doc, doc); err != nil {
		return rec, nil, fmt.Errorf("consent record %s: %w", key, err)
	}
	return rec, doc, nil
}

func (m *Messages) saveConsent(ctx context.Context, rec storage.Record, doc *consentDoc) error {
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	rec.Doc, rec.Updated = b, m.c.Now()
	_, err = m.c.cfg.Store.SaveRecord(ctx, rec)
	return err
}

// changeConsent applies change to the consent record of (openid,
// template) by compare-and-swap, reading again on a conflict. change
// returns false to leave the record as it is.
func (m *Messages) changeConsent(ctx context.Context, openid, template string, change func(*consentDoc) bool) error {
	key, err := m.consentKey(openid, template)
	if err != nil {
		return err
	}
	for {
		rec, doc, err := m.consent(ctx, key)
		if err != nil {
			return fail(opMessages, err)
		}
		if !change(doc) {
			return nil
		}
		if err := m.saveConsent(ctx, rec, doc); !errors.Is(err, storage.ErrConflict) {
			return fail(opMessages, err)
		}
	}
}

func (m *Messages) accept(doc *consentDoc, template string) {
	doc.Accepted++
	doc.Rejected = false
	if !m.long[template] {
		doc.Credits++
	}
}

// Accepted records acceptances the client reports: the template ids
// wx.requestSubscribeMessage answered "accept" for. Each is one credit.
func (m *Messages) Accepted(ctx context.Context, openid string, templateIDs ...string) error {
	for _, id := range templateIDs {
		if err := m.changeConsent(ctx, openid, id, func(doc *consentDoc) bool { m.accept(doc, id); return true }); err != nil {
			return err
		}
	}
	return nil
}

// maxPushesKept bounds the popup pushes a consent record remembers.
const maxPushesKept = 16

// HandlePush applies a subscription push: acceptances in the popup
// (subscribe_msg_popup_event) become credits, a rejection in the settings
// (subscribe_msg_change_event) clears the template's credits and turns a
// long-term template off, and a delivery report (subscribe_msg_sent_event)
// is kept on the consent record. It reports whether msg was a
// subscription push. A popup push delivered again counts once.
func (m *Messages) HandlePush(ctx context.Context, msg *Message) (bool, error) {
	if msg == nil {
		return false, nil
	}
	openid := msg.FromUserName
	for _, s := range msg.Subscriptions {
		var change func(*consentDoc) bool
		switch msg.Event {
		case EventSubscribePopup:
			seen := strconv.FormatInt(msg.CreateTime, 10) + ":" + strconv.Itoa(s.PopupScene)
			change = func(doc *consentDoc) bool {
				for _, p := range doc.Pushes {
					if p == seen {
						return false
					}
				}
				doc.Pushes = append(doc.Pushes, seen)
				if len(doc.Pushes) > maxPushesKept {
					doc.Pushes = doc.Pushes[len(doc.Pushes)-maxPushesKept:]
				}
				switch s.Status {
				case "accept":
					m.accept(doc, s.TemplateID)
				case "reject":
					if m.long[s.TemplateID] {
						doc.Rejected = true
					}
				}
				return true
			}
		case EventSubscribeChange:
			change = func(doc *consentDoc) bool {
				switch s.Status {
				case "reject":
					doc.Credits, doc.Rejected = 0, true
				case "accept":
					doc.Rejected = false
				default:
					return false
				}
				return true
			}
		case EventSubscribeSent:
			change = func(doc *consentDoc) bool {
				doc.LastSent = &sentResult{MsgID: s.MsgID, ErrorCode: s.ErrorCode, ErrorStatus: s.ErrorStatus, At: time.Unix(msg.CreateTime, 0).UTC()}
				return true
			}
		default:
			return false, nil
		}
		if err := m.changeConsent(ctx, openid, s.TemplateID, change); err != nil {
			return true, err
		}
	}
	switch msg.Event {
	case EventSubscribePopup, EventSubscribeChange, EventSubscribeSent:
		return true, nil
	}
	return false, nil
}

// Consent is what the relay knows of a customer's subscription to a
// template.
type Consent struct {
	Credits, Accepted, Used int
	Rejected                bool
}

// Consent returns the customer's credits for the template.
func (m *Messages) Consent(ctx context.Context, openid, templateID string) (Consent, error) {
	key, err := m.consentKey(openid, templateID)
	if err != nil {
		return Consent{}, err
	}
	_, doc, err := m.consent(ctx, key)
	if err != nil {
		return Consent{}, fail(opMessages, err)
	}
	return Consent{Credits: doc.Credits, Accepted: doc.Accepted, Used: doc.Used, Rejected: doc.Rejected}, nil
}

// Delivery is one event's message for one template, as the host sees it.
type Delivery struct {
	Key       string // for Retry
	Status    string // StatusPending, StatusDone, StatusFailed
	Outcome   string // once done: OutcomeSent...
	Reason    string // why it was skipped or unconfirmed
	EventID   uuid.UUID
	EventType string
	Template  string
	Customer  commerce.CustomerID
	OpenID    string // on the Mini Program, or the Service Account for a template message
	// Credits is how many acceptances the delivery consumed: 2 when an
	// answer was lost and it was sent again under a second one.
	Credits   int
	LostSends int
	Attempts  int
	LastError string
	Due       time.Time
	Done      time.Time
}

// Failing lists deliveries that failed for good (a field WeChat refuses, a
// 43101, attempts run out), oldest first. Fix the cause, then Retry.
func (m *Messages) Failing(ctx context.Context, limit int) ([]Delivery, error) {
	return m.Deliveries(ctx, StatusFailed, limit)
}

// Deliveries lists deliveries of the given status.
func (m *Messages) Deliveries(ctx context.Context, status string, limit int) ([]Delivery, error) {
	recs, err := m.c.cfg.Store.DueRecords(ctx, KindMessageDelivery, status, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), commerce.PageLimit(limit))
	if err != nil {
		return nil, fail(opMessages, err)
	}
	out := make([]Delivery, 0, len(recs))
	for _, r := range recs {
		var d deliveryDoc
		if err := json.Unmarshal(r.Doc, &d); err != nil {
			return nil, fail(opMessages, fmt.Errorf("delivery %s: %w", r.Key, err))
		}
		out = append(out, Delivery{Key: r.Key, Status: r.Status, Outcome: d.Outcome, Reason: d.Reason, EventID: d.Event.ID, EventType: d.Event.Type,
			Template: d.Template, Customer: d.Customer, OpenID: d.OpenID, Credits: d.Credits, LostSends: d.Lost, Attempts: d.Attempts,
			LastError: d.LastError, Due: r.Due, Done: d.Done})
	}
	return out, nil
}

// Retry makes a failed delivery due again, its attempts reset. A
// delivery refused 43101 needs a new credit; one whose answer was lost
// counts that send as arrived.
func (m *Messages) Retry(ctx context.Context, key string) error {
	return fail(opMessages, requeue[deliveryDoc](ctx, m.c, KindMessageDelivery, key))
}

// EventFacts are what the shop's events say that a template's Data needs,
// read from the payloads the kernel and its packages write. Who a message
// goes to is the host's call; the usual recipients:
//
//	order.paid, order.shipped...     Customer, the buyer (a gift order's giver)
//	gift.sent, gift.expired          Customer, the giver
//	gift.accepted                    Customer, the giver; Recipient, the friend who accepted
//	coupon.expiring                  Customer, the coupon's holder
//	points.expiring                  Customer, the member
//	promoter.commission_settled      Promoter: the host knows which customer a promoter is
type EventFacts struct {
	Customer  commerce.CustomerID
	Recipient commerce.CustomerID
	OrderID   string
	Total     commerce.Money // order.*
	Gift      bool           // order.*: a gift order
	Points    int64          // points.*
	// Expires is a gift's expires_at, a coupon's valid_until, a points
	// lot's expires_at.
	Expires  time.Time
	Promoter string
	Net      commerce.Money // promoter.commission_settled: the promoter's part
}

// ReadEvent reads ev's facts.
func ReadEvent(ev commerce.Event) (EventFacts, error) {
	var p struct {
		Customer   commerce.CustomerID `json:"customer_id"`
		Giver      commerce.CustomerID `json:"giver"`
		Recipient  commerce.CustomerID `json:"recipient"`
		OrderID    string              `json:"order_id"`
		Total      commerce.Money      `json:"total"`
		Gift       bool                `json:"gift"`
		Points     int64               `json:"points"`
		ExpiresAt  time.Time           `json:"expires_at"`
		ValidUntil time.Time           `json:"valid_until"`
		Promoter   string              `json:"promoter"`
		Net        commerce.Money      `json:"net"`
	}
	if err := json.Unmarshal(ev.Payload, &p); err != nil {
		return EventFacts{}, invalid(opMessages, "payload", "event %s (%s): %v", ev.ID, ev.Type, err)
	}
	f := EventFacts{Customer: p.Customer, Recipient: p.Recipient, OrderID: p.OrderID, Total: p.Total, Gift: p.Gift, Points: p.Points,
		Expires: p.ExpiresAt, Promoter: p.Promoter, Net: p.Net}
	if f.Customer == "" {
		f.Customer = p.Giver
	}
	if f.Expires.IsZero() {
		f.Expires = p.ValidUntil
	}
	return f, nil
}
