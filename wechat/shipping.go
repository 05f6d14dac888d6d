package wechat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/storage"
)

// Record kinds of the shipping relay.
const (
	// KindShipping is an order's shipping info at WeChat, keyed
	// appid:order id.
	KindShipping = "shipping"
	// KindShippingPayment finds an order by its WeChat Pay transaction id,
	// keyed appid:transaction id.
	KindShippingPayment = "shipping_payment"
)

// Events the relay writes to the outbox.
const (
	EventSettlementEstimated = "wechat.settlement_estimated"
	EventOrderSettled        = "wechat.order_settled"
	EventShippingReminded    = "wechat.shipping_reminded"
	EventAccessReminded      = "wechat.access_reminded"
)

// Codes of the shipping service.
const (
	CodeReshipUsed   = 10060003 // the payment's one update was used
	CodeNotShippable = 10060004 // shipped, confirmed, completed or refunded already
)

// Order states of WeChat's shipping service (get_order).
const (
	StateUnshipped = 1
	StateShipped   = 2
	StateConfirmed = 3
	StateCompleted = 4
	StateRefunded  = 5
	// 6 is seen too (funds waiting to settle); states are kept as they come.
)

const opShipping = "wechat.shipping"

// ShippingOrders is what the relay reads of the kernel: *commerce.Service.
type ShippingOrders interface {
	Outbox
	GetOrder(ctx context.Context, merchant commerce.MerchantID, id commerce.OrderID) (*commerce.Order, error)
}

// EventWriter adds events to the outbox in the caller's transaction: the
// Engine's store.
type EventWriter interface {
	AppendEvents(ctx context.Context, events ...commerce.Event) error
}

// Payment is an order's WeChat Pay payment as the shipping service knows
// it.
type Payment struct {
	TransactionID string // WeChat Pay's transaction_id
	OutTradeNo    string // the merchant's out_trade_no
	OpenID        string // the payer, under the Mini Program
	PaidAt        time.Time
}

// ShippingConfig configures the relay.
type ShippingConfig struct {
	Orders ShippingOrders
	// Payment finds the order's succeeded WeChat Pay payment;
	// commerce.ErrNotFound when it was not paid through WeChat Pay (there
	// is nothing to upload). The Engine reads its payment service.
	Payment func(ctx context.Context, o *commerce.Order) (Payment, error)
	Events  EventWriter
	Retry   Retry
	// Consumer is the outbox consumer; default "wechat.shipping".
	Consumer string
	// Batch is how many events and records one step reads; default 100.
	Batch int
	// ReportAfter is how long after payment an unshipped order is
	// reported as a special order: default 36 hours, inside WeChat's 48;
	// negative for never.
	ReportAfter time.Duration
	// ReportDelay is the shipping date reported, after payment: default
	// 30 days; WeChat takes 15 to 330.
	ReportDelay time.Duration
	// Location is the time zone of upload_time; default China Standard
	// Time.
	Location *time.Location
}

// Shipping uploads shipping info from the outbox. Safe for concurrent use,
// by many processes over one store.
type Shipping struct {
	c   *Client
	cfg ShippingConfig
}

// NewShipping checks cfg and returns the relay of c's Mini Program.
func NewShipping(c *Client, cfg ShippingConfig) (*Shipping, error) {
	const op = "wechat.new_shipping"
	switch {
	case c == nil:
		return nil, invalid(op, "client", "is nil")
	case cfg.Orders == nil:
		return nil, invalid(op, "orders", "is nil")
	case cfg.Payment == nil:
		return nil, invalid(op, "payment", "is nil: the relay must know an order's WeChat Pay payment")
	case cfg.Events == nil:
		return nil, invalid(op, "events", "is nil")
	case cfg.Batch < 0 || cfg.Batch > 1000:
		return nil, invalid(op, "batch", "%d is not between 0 and 1000", cfg.Batch)
	case cfg.ReportDelay != 0 && (cfg.ReportDelay <= 15*24*time.Hour || cfg.ReportDelay > 330*24*time.Hour):
		return nil, invalid(op, "report_delay", "%v is not more than 15 and at most 330 days", cfg.ReportDelay)
	}
	if cfg.Consumer == "" {
		cfg.Consumer = "wechat.shipping"
	}
	if cfg.Batch == 0 {
		cfg.Batch = 100
	}
	if cfg.ReportAfter == 0 {
		cfg.ReportAfter = 36 * time.Hour
	}
	if cfg.ReportDelay == 0 {
		cfg.ReportDelay = 30 * 24 * time.Hour
	}
	if cfg.Location == nil {
		cfg.Location = time.FixedZone("CST", 8*3600)
	}
	return &Shipping{c: c, cfg: cfg}, nil
}

// Phases of an order's shipping record.
const (
	phaseWatch  = "watch"  // paid, not shipped: a special order is reported if it stays so
	phaseUpload = "upload" // shipped: the info is to upload
)

// ShippingRecord is an order's shipping info at WeChat, as the relay keeps
// it.
type ShippingRecord struct {
	Job
	Merchant commerce.MerchantID `json:"merchant"`
	Order    commerce.OrderID    `json:"order"`
	Phase    string              `json:"phase"`
	// Skipped says why nothing was uploaded (the order was not paid
	// through WeChat Pay, it was refunded before shipping).
	Skipped string  `json:"skipped,omitempty"`
	Payment Payment `json:"payment,omitzero"`
	// Uploaded is what WeChat took, and when.
	Uploaded   *ShippingUpload `json:"uploaded,omitempty"`
	UploadedAt time.Time       `json:"uploaded_at,omitzero"`
	// Unsure is set when an attempt's answer was lost: the next asks
	// WeChat what it has before uploading again.
	Unsure bool `json:"unsure,omitempty"`
	// WeChatState is the order_state get_order last answered.
	WeChatState int `json:"wechat_state,omitempty"`
	// SpecialReported is when the order was reported as a special order,
	// and SpecialUntil the shipping date reported.
	SpecialReported time.Time `json:"special_reported,omitzero"`
	SpecialUntil    time.Time `json:"special_until,omitzero"`
	// ReceiptNotified is when the buyer was reminded to confirm receipt.
	ReceiptNotified time.Time `json:"receipt_notified,omitzero"`
	// Settlement, from WeChat's pushes.
	EstimatedSettlement time.Time `json:"estimated_settlement,omitzero"`
	Settled             time.Time `json:"settled,omitzero"`
	ConfirmedReceipt    time.Time `json:"confirmed_receipt,omitzero"`
	ConfirmMethod       int       `json:"confirm_method,omitempty"`
}

func (s *Shipping) key(id string) string { return s.c.AppID() + ":" + id }

// Run feeds the outbox's new events into shipping records, then works the
// records that are due (uploads, special-order reports). It returns how
// many records it finished. Call it on a schedule, from any number of
// processes.
func (s *Shipping) Run(ctx context.Context) (int, error) {
	for {
		n, err := s.c.feed(ctx, s.cfg.Orders, s.cfg.Consumer, s.cfg.Batch, s.enqueue)
		if err != nil {
			return 0, fail(opShipping, err)
		}
		if n < s.cfg.Batch {
			break
		}
	}
	total := 0
	for {
		n, err := work(ctx, s.c, KindShipping, s.cfg.Retry, s.cfg.Batch, s.do)
		total += n
		if err != nil || n < s.cfg.Batch {
			return total, fail(opShipping, err)
		}
	}
}

// enqueue turns an order's payment into a watch and its shipping into an
// upload, in the event's transaction.
func (s *Shipping) enqueue(ctx context.Context, ev commerce.Event) error {
	if ev.Type != "order.paid" && ev.Type != "order.shipped" {
		return nil
	}
	var id commerce.OrderID
	if err := id.UnmarshalText([]byte(ev.AggregateID)); err != nil {
		return fmt.Errorf("order id %q: %w", ev.AggregateID, err)
	}
	key := s.key(id.String())
	for {
		rec, err := s.c.cfg.Store.GetRecord(ctx, KindShipping, key)
		if errors.Is(err, storage.ErrNotFound) {
			doc := &ShippingRecord{Merchant: ev.MerchantID, Order: id, Phase: phaseWatch}
			due := ev.Time.Add(s.cfg.ReportAfter)
			if ev.Type == "order.shipped" {
				doc.Phase, due = phaseUpload, s.c.Now()
			} else if s.cfg.ReportAfter < 0 {
				return nil
			}
			if err := s.index(ctx, ev.MerchantID, id); err != nil {
				return err
			}
			b, err := json.Marshal(doc)
			if err != nil {
				return err
			}
			_, err = s.c.cfg.Store.SaveRecord(ctx, storage.Record{Kind: KindShipping, Key: key, Status: StatusPending, Due: due, Doc: b, Updated: s.c.Now()})
			if errors.Is(err, storage.ErrConflict) {
				continue
			}
			return err
		}
		if err != nil {
			return err
		}
		var doc ShippingRecord
		if err := json.Unmarshal(rec.Doc, &doc); err != nil {
			return err
		}
		if ev.Type != "order.shipped" || doc.Phase == phaseUpload {
			return nil // an event seen before
		}
		doc.Phase, doc.Attempts, doc.LastError = phaseUpload, 0, ""
		if rec.Doc, err = json.Marshal(&doc); err != nil {
			return err
		}
		rec.Status, rec.Due, rec.Updated = StatusPending, s.c.Now(), s.c.Now()
		if _, err = s.c.cfg.Store.SaveRecord(ctx, rec); !errors.Is(err, storage.ErrConflict) {
			return err
		}
	}
}

// index records the order's transaction id, so WeChat's pushes (which
// name the payment) find the order.
func (s *Shipping) index(ctx context.Context, merchant commerce.MerchantID, id commerce.OrderID) error {
	o, err := s.cfg.Orders.GetOrder(ctx, merchant, id)
	if err != nil {
		return err
	}
	p, err := s.cfg.Payment(ctx, o)
	if errors.Is(err, storage.ErrNotFound) || p.TransactionID == "" {
		return nil
	}
	if err != nil {
		return err
	}
	b, err := json.Marshal(map[string]string{"merchant": merchant.String(), "order": id.String()})
	if err != nil {
		return err
	}
	_, err = s.c.cfg.Store.SaveRecord(ctx, storage.Record{Kind: KindShippingPayment, Key: s.key(p.TransactionID), Status: StatusDone, Doc: b, Updated: s.c.Now()})
	if errors.Is(err, storage.ErrConflict) {
		return nil
	}
	return err
}

// do works one due record.
func (s *Shipping) do(ctx context.Context, rec *storage.Record, d *ShippingRecord) error {
	o, err := s.cfg.Orders.GetOrder(ctx, d.Merchant, d.Order)
	if err != nil {
		return err
	}
	if d.Payment.TransactionID == "" {
		p, err := s.cfg.Payment(ctx, o)
		if errors.Is(err, storage.ErrNotFound) {
			d.Skipped = "not paid through WeChat Pay"
			return nil
		}
		if err != nil {
			return err
		}
		if p.TransactionID == "" || p.OpenID == "" {
			return invalid(opShipping, "payment", "order %s: the payment has no transaction id or payer", d.Order)
		}
		d.Payment = p
	}
	if d.Phase == phaseWatch {
		return s.watch(ctx, o, d)
	}
	return s.upload(ctx, o, d)
}

// watch reports a paid order that has not shipped as a special order.
func (s *Shipping) watch(ctx context.Context, o *commerce.Order, d *ShippingRecord) error {
	if o.Status != commerce.StatusPaid && o.Status != commerce.StatusAwaitingRecipient {
		return nil // shipped (its event turns the record into an upload), or closed
	}
	if !d.SpecialReported.IsZero() {
		return nil
	}
	until := d.Payment.PaidAt
	if until.IsZero() {
		until = o.PaidAt
	}
	until = until.Add(s.cfg.ReportDelay)
	err := s.c.call(ctx, request{op: "wechat.special_order", method: http.MethodPost, path: "/wxa/sec/order/opspecialorder", token: true,
		body: map[string]any{"order_id": d.Payment.TransactionID, "type": 1, "delay_to": until.Unix()}}, nil)
	if err != nil {
		return err
	}
	d.SpecialReported, d.SpecialUntil = s.c.Now(), until
	return nil
}

// ShippingUpload is the body of upload_shipping_info.
type ShippingUpload struct {
	OrderKey       orderKey      `json:"order_key"`
	LogisticsType  int           `json:"logistics_type"`
	DeliveryMode   int           `json:"delivery_mode"`
	IsAllDelivered *bool         `json:"is_all_delivered,omitempty"`
	ShippingList   []shippedItem `json:"shipping_list"`
	UploadTime     string        `json:"upload_time"`
	Payer          struct {
		OpenID string `json:"openid"`
	} `json:"payer"`
}

type orderKey struct {
	OrderNumberType int    `json:"order_number_type"`
	TransactionID   string `json:"transaction_id,omitempty"`
	MchID           string `json:"mchid,omitempty"`
	OutTradeNo      string `json:"out_trade_no,omitempty"`
}

type shippedItem struct {
	TrackingNo     string   `json:"tracking_no,omitempty"`
	ExpressCompany string   `json:"express_company,omitempty"`
	ItemDesc       string   `json:"item_desc"`
	Contact        *contact `json:"contact,omitempty"`
}

type contact struct {
	ConsignorContact string `json:"consignor_contact,omitempty"`
	ReceiverContact  string `json:"receiver_contact,omitempty"`
}

// logisticsType is WeChat's number for a ship method.
func logisticsType(m commerce.ShipMethod) int {
	switch m {
	case commerce.ShipSameCity:
		return 2
	case commerce.ShipVirtual:
		return 3
	case commerce.ShipPickup:
		return 4
	}
	return 1
}

// uploadOf builds the upload of the order's shipment, or says what keeps
// it from WeChat.
func (s *Shipping) uploadOf(o *commerce.Order, p Payment) (*ShippingUpload, error) {
	if o.Shipment == nil {
		return nil, invalid(opShipping, "shipment", "order %s has shipped without a shipment", o.ID)
	}
	sh := *o.Shipment
	u := &ShippingUpload{OrderKey: orderKey{OrderNumberType: 2, TransactionID: p.TransactionID}, LogisticsType: logisticsType(sh.Method),
		DeliveryMode: 1}
	u.Payer.OpenID = p.OpenID
	desc := itemsOf(o)
	parcels := sh.ParcelList()
	if sh.Method != commerce.ShipExpress {
		u.ShippingList = []shippedItem{{ItemDesc: desc}}
		return u, nil
	}
	if len(parcels) == 0 {
		return nil, invalid(opShipping, "shipment.tracking_no", "order %s was shipped by express without a tracking number", o.ID)
	}
	for _, pc := range parcels {
		it := shippedItem{TrackingNo: pc.TrackingNo, ExpressCompany: pc.Carrier, ItemDesc: pc.Items}
		if it.ItemDesc == "" {
			it.ItemDesc = desc
		}
		if pc.Contact == "" && pc.Carrier == "SF" && o.ShippingAddress != nil {
			// SF's tracking needs the receiver's phone, masked.
			pc.Contact = maskPhone(o.ShippingAddress.Phone)
		}
		if pc.Contact != "" {
			it.Contact = &contact{ReceiverContact: pc.Contact}
		}
		u.ShippingList = append(u.ShippingList, it)
	}
	if len(parcels) > 1 {
		all := true
		u.DeliveryMode, u.IsAllDelivered = 2, &all
	}
	return u, nil
}

// maskPhone keeps a phone number's first three and last four digits, as
// WeChat asks of shipping contacts: 138****0000.
func maskPhone(phone string) string {
	r := []rune(phone)
	if len(r) < 8 {
		return ""
	}
	return string(r[:3]) + "****" + string(r[len(r)-4:])
}

// itemsOf describes the order's goods for WeChat's item_desc: the titles
// and quantities, cut to 120 characters.
func itemsOf(o *commerce.Order) string {
	var parts []string
	for _, l := range o.Lines {
		if l.Quantity > 1 {
			parts = append(parts, fmt.Sprintf("%s ×%d", l.Title, l.Quantity))
		} else {
			parts = append(parts, l.Title)
		}
	}
	d := strings.Join(parts, "; ")
	if r := []rune(d); len(r) > commerce.MaxParcelItemsLen {
		d = string(r[:commerce.MaxParcelItemsLen-1]) + "…"
	}
	if d == "" {
		d = "order " + o.ID.String()
	}
	return d
}

// upload sends the order's shipping info once as WeChat sees it.
func (s *Shipping) upload(ctx context.Context, o *commerce.Order, d *ShippingRecord) error {
	if d.Uploaded != nil {
		return nil
	}
	u, err := s.uploadOf(o, d.Payment)
	if err != nil {
		return err
	}
	if d.Unsure {
		// The last attempt may have gone through: ask before sending
		// again (WeChat would count a second upload as the one update).
		w, err := s.WeChatOrder(ctx, d.Payment.TransactionID)
		if err != nil {
			return err
		}
		d.WeChatState = w.State
		if w.State != StateUnshipped && w.Shipping.matches(u) {
			d.Uploaded, d.UploadedAt, d.Unsure = u, s.c.Now(), false
			return nil
		}
	}
	u.UploadTime = s.c.Now().In(s.cfg.Location).Format("2006-01-02T15:04:05.000-07:00")
	err = s.c.call(ctx, request{op: "wechat.upload_shipping_info", method: http.MethodPost, path: "/wxa/sec/order/upload_shipping_info",
		token: true, body: u}, nil)
	var ae *APIError
	switch {
	case err == nil:
		d.Uploaded, d.UploadedAt, d.Unsure = u, s.c.Now(), false
		d.WeChatState = StateShipped
		return nil
	case errors.As(err, &ae) && ae.HTTPStatus == http.StatusOK && ae.Code == CodeNotShippable:
		// Shipped already (an answer lost before minishop knew), or
		// closed: WeChat's record decides.
		w, gerr := s.WeChatOrder(ctx, d.Payment.TransactionID)
		if gerr != nil {
			return gerr
		}
		d.WeChatState = w.State
		if w.Shipping.matches(u) {
			d.Uploaded, d.UploadedAt, d.Unsure = u, s.c.Now(), false
			return nil
		}
		return &commerce.Error{Op: opShipping, Kind: commerce.KindFailedPrecondition, Err: fmt.Errorf("WeChat holds the payment in state %d with other shipping info: %w", w.State, err)}
	case errors.As(err, &ae) && ae.HTTPStatus == http.StatusOK:
		return err // WeChat answered: nothing was uploaded
	}
	d.Unsure = true // no answer, or a server error: it may have gone through
	return err
}

// WeChatOrder is a payment's shipping state at WeChat (get_order).
type WeChatOrder struct {
	TransactionID   string         `json:"transaction_id"`
	MerchantID      string         `json:"merchant_id"`
	MerchantTradeNo string         `json:"merchant_trade_no"`
	OpenID          string         `json:"openid"`
	PaidAmount      int64          `json:"paid_amount"` // fen
	State           int            `json:"order_state"`
	InComplaint     bool           `json:"in_complaint"`
	Shipping        WeChatShipping `json:"shipping"`
}

// WeChatShipping is the shipping info WeChat holds for a payment.
type WeChatShipping struct {
	DeliveryMode   int  `json:"delivery_mode"`
	LogisticsType  int  `json:"logistics_type"`
	FinishShipping bool `json:"finish_shipping"`
	List           []struct {
		TrackingNo     string `json:"tracking_no"`
		ExpressCompany string `json:"express_company"`
	} `json:"shipping_list"`
}

// matches reports whether WeChat holds the upload u.
func (w *WeChatShipping) matches(u *ShippingUpload) bool {
	if w.LogisticsType != u.LogisticsType || len(w.List) != len(u.ShippingList) {
		return false
	}
	for i, it := range u.ShippingList {
		if w.List[i].TrackingNo != it.TrackingNo || w.List[i].ExpressCompany != it.ExpressCompany {
			return false
		}
	}
	return true
}

// WeChatOrder asks WeChat for a payment's shipping state, to reconcile.
func (s *Shipping) WeChatOrder(ctx context.Context, transactionID string) (WeChatOrder, error) {
	var out struct {
		Order WeChatOrder `json:"order"`
	}
	if transactionID == "" {
		return out.Order, invalid("wechat.get_order", "transaction_id", "is empty")
	}
	err := s.c.call(ctx, request{op: "wechat.get_order", method: http.MethodPost, path: "/wxa/sec/order/get_order", token: true,
		body: map[string]string{"transaction_id": transactionID}}, &out)
	return out.Order, err
}

// Record returns the order's shipping record.
func (s *Shipping) Record(ctx context.Context, order commerce.OrderID) (ShippingRecord, string, error) {
	rec, err := s.c.cfg.Store.GetRecord(ctx, KindShipping, s.key(order.String()))
	if err != nil {
		return ShippingRecord{}, "", fail(opShipping, err)
	}
	var d ShippingRecord
	return d, rec.Status, fail(opShipping, json.Unmarshal(rec.Doc, &d))
}

// Failing lists the orders whose shipping info WeChat refused for good
// (or that kept failing), with the last error, for the host to fix and
// Retry.
func (s *Shipping) Failing(ctx context.Context, limit int) ([]ShippingRecord, error) {
	return s.records(ctx, StatusFailed, limit)
}

// Pending lists the records still to work, earliest due first.
func (s *Shipping) Pending(ctx context.Context, limit int) ([]ShippingRecord, error) {
	return s.records(ctx, StatusPending, limit)
}

func (s *Shipping) records(ctx context.Context, status string, limit int) ([]ShippingRecord, error) {
	recs, err := s.c.cfg.Store.DueRecords(ctx, KindShipping, status, farFuture, commerce.PageLimit(limit))
	if err != nil {
		return nil, fail(opShipping, err)
	}
	out := make([]ShippingRecord, len(recs))
	for i, r := range recs {
		if err := json.Unmarshal(r.Doc, &out[i]); err != nil {
			return nil, fail(opShipping, err)
		}
	}
	return out, nil
}

// farFuture lists records whatever their due time (done and failed ones
// have none).
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// Retry makes a failed upload due again.
func (s *Shipping) Retry(ctx context.Context, order commerce.OrderID) error {
	return fail(opShipping, requeue[ShippingRecord](ctx, s.c, KindShipping, s.key(order.String())))
}

// ConfirmReceived asks WeChat to remind the buyer to confirm receipt of an
// express order received at the given time (notify_confirm_receive); WeChat
// takes it once per order, and so does minishop.
func (s *Shipping) ConfirmReceived(ctx context.Context, order commerce.OrderID, received time.Time) error {
	const op = "wechat.notify_confirm_receive"
	key := s.key(order.String())
	for {
		rec, err := s.c.cfg.Store.GetRecord(ctx, KindShipping, key)
		if err != nil {
			return fail(op, err)
		}
		var d ShippingRecord
		if err := json.Unmarshal(rec.Doc, &d); err != nil {
			return fail(op, err)
		}
		switch {
		case !d.ReceiptNotified.IsZero():
			return nil
		case d.Uploaded == nil:
			return &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Err: fmt.Errorf("order %s: its shipping info is not uploaded yet", order)}
		case d.Uploaded.LogisticsType != 1:
			return &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Err: fmt.Errorf("order %s did not ship by express", order)}
		case !received.After(d.UploadedAt.Add(-time.Minute)):
			return invalid(op, "received", "%v is before the order shipped", received)
		}
		err = s.c.call(ctx, request{op: op, method: http.MethodPost, path: "/wxa/sec/order/notify_confirm_receive", token: true,
			body: map[string]any{"transaction_id": d.Payment.TransactionID, "received_time": received.Unix()}}, nil)
		if err != nil {
			return err
		}
		d.ReceiptNotified = s.c.Now()
		if rec.Doc, err = json.Marshal(&d); err != nil {
			return fail(op, err)
		}
		rec.Updated = s.c.Now()
		if _, err = s.c.cfg.Store.SaveRecord(ctx, rec); !errors.Is(err, storage.ErrConflict) {
			return fail(op, err)
		}
	}
}

// CheckManaged asks WeChat whether the Mini Program is under shipping-info
// management (is_trade_managed): a host calls it at start-up, and runs the
// relay when it is.
func (s *Shipping) CheckManaged(ctx context.Context) (bool, error) {
	var out struct {
		Managed bool `json:"is_trade_managed"`
	}
	err := s.c.call(ctx, request{op: "wechat.is_trade_managed", method: http.MethodPost, path: "/wxa/sec/order/is_trade_managed", token: true,
		body: map[string]string{"appid": s.c.AppID()}}, &out)
	return out.Managed, err
}

// SetJumpPath sets the Mini Program page WeChat's shipping and
// confirmation messages open (set_msg_jump_path), one for the account;
// WeChat appends the payment's transaction_id, merchant_id and
// merchant_trade_no to it.
func (s *Shipping) SetJumpPath(ctx context.Context, path string) error {
	const op = "wechat.set_msg_jump_path"
	if err := checkPage(op, "path", path); err != nil {
		return err
	}
	return s.c.call(ctx, request{op: op, method: http.MethodPost, path: "/wxa/sec/order/set_msg_jump_path", token: true,
		body: map[string]string{"path": path}}, nil)
}

// HandlePush applies WeChat's shipping pushes, in the push's transaction
// (PushHandler applies each push once): it reports whether m was one.
func (s *Shipping) HandlePush(ctx context.Context, m *Message) (bool, error) {
	switch m.Event {
	case EventOrderSettlement, EventRemindShipping:
	case EventRemindAccessAPI:
		return true, fail(opShipping, s.cfg.Events.AppendEvents(ctx, s.event(EventAccessReminded, s.c.AppID(), commerce.MerchantID{}, map[string]any{"app_id": s.c.AppID(), "msg": m.Msg})))
	default:
		return false, nil
	}
	order, merchant, err := s.orderOf(ctx, m.TransactionID)
	if errors.Is(err, storage.ErrNotFound) {
		// A payment minishop did not take (another system's, a test
		// payment): nothing of minishop's to change.
		return true, nil
	}
	if err != nil {
		return true, fail(opShipping, err)
	}
	payload := map[string]any{"order_id": order, "transaction_id": m.TransactionID, "merchant_trade_no": m.MerchantTradeNo}
	if m.Event == EventRemindShipping {
		payload["pay_time"] = unixTime(m.PayTime)
		return true, fail(opShipping, s.cfg.Events.AppendEvents(ctx, s.event(EventShippingReminded, order.String(), merchant, payload)))
	}
	// Settlement: pushed at shipping with the estimate, then when it
	// settles. WeChat's times are hints (sometimes empty); an empty one
	// leaves what is kept.
	typ := EventSettlementEstimated
	key := s.key(order.String())
	for {
		rec, err := s.c.cfg.Store.GetRecord(ctx, KindShipping, key)
		if err != nil {
			return true, fail(opShipping, err)
		}
		var d ShippingRecord
		if err := json.Unmarshal(rec.Doc, &d); err != nil {
			return true, fail(opShipping, err)
		}
		if t := unixTime(m.EstimatedSettlementTime); !t.IsZero() {
			d.EstimatedSettlement = t
		}
		if t := unixTime(m.SettlementTime); !t.IsZero() {
			d.Settled, typ = t, EventOrderSettled
		}
		if t := unixTime(m.ConfirmReceiveTime); !t.IsZero() {
			d.ConfirmedReceipt, d.ConfirmMethod = t, m.ConfirmReceiveMethod
		}
		if rec.Doc, err = json.Marshal(&d); err != nil {
			return true, fail(opShipping, err)
		}
		rec.Updated = s.c.Now()
		if _, err = s.c.cfg.Store.SaveRecord(ctx, rec); errors.Is(err, storage.ErrConflict) {
			continue
		} else if err != nil {
			return true, fail(opShipping, err)
		}
		payload["estimated_settlement"], payload["settled"] = d.EstimatedSettlement, d.Settled
		payload["confirmed_receipt"], payload["confirm_method"] = d.ConfirmedReceipt, d.ConfirmMethod
		return true, fail(opShipping, s.cfg.Events.AppendEvents(ctx, s.event(typ, order.String(), merchant, payload)))
	}
}

func unixTime(s int64) time.Time {
	if s <= 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

// orderOf finds the order a transaction id paid.
func (s *Shipping) orderOf(ctx context.Context, txn string) (commerce.OrderID, commerce.MerchantID, error) {
	var id commerce.OrderID
	var m commerce.MerchantID
	if txn == "" {
		return id, m, storage.ErrNotFound
	}
	rec, err := s.c.cfg.Store.GetRecord(ctx, KindShippingPayment, s.key(txn))
	if err != nil {
		return id, m, err
	}
	var doc struct{ Merchant, Order string }
	if err := json.Unmarshal(rec.Doc, &doc); err != nil {
		return id, m, err
	}
	return id, m, errors.Join(id.UnmarshalText([]byte(doc.Order)), m.UnmarshalText([]byte(doc.Merchant)))
}

func (s *Shipping) event(typ, aggregate string, merchant commerce.MerchantID, payload map[string]any) commerce.Event {
	b, _ := json.Marshal(payload)
	return commerce.Event{ID: uuid.New(), Type: typ, AggregateID: aggregate, MerchantID: merchant, Payload: b, Time: s.c.Now()}
}
