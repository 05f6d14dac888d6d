package wechat

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Events of the pushes a shop acts on.
const (
	// EventRemindShipping: an order of a Mini Program that shipped before
	// has waited more than 48 hours for its shipping info.
	EventRemindShipping = "trade_manage_remind_shipping"
	// EventOrderSettlement is pushed when an order's shipping info is
	// uploaded (EstimatedSettlementTime set) and again when it settles
	// (ConfirmReceiveTime, SettlementTime set).
	EventOrderSettlement = "trade_manage_order_settlement"
	// EventRemindAccessAPI: the app takes payments but has never uploaded
	// shipping info.
	EventRemindAccessAPI = "trade_manage_remind_access_api"
	// EventSubscribePopup: the customer answered a subscription popup.
	EventSubscribePopup = "subscribe_msg_popup_event"
	// EventSubscribeChange: the customer changed subscriptions in the
	// settings (only rejections are pushed).
	EventSubscribeChange = "subscribe_msg_change_event"
	// EventSubscribeSent: the delivery result of a subscription message.
	EventSubscribeSent = "subscribe_msg_sent_event"
)

// Message is a push of the platform, decrypted and parsed: the envelope,
// and the fields of the events minishop knows (zero when absent). Field
// names follow WeChat's; times are unix seconds.
type Message struct {
	ToUserName   string // the app's original id, gh_…
	FromUserName string // openid (a system account for some events)
	CreateTime   int64  // unix seconds
	MsgType      string // "event" for events
	Event        string // e.g. "trade_manage_order_settlement"
	// trade_manage_* events (unix seconds; zero when absent)
	TransactionID, MerchantID, SubMerchantID, MerchantTradeNo                         string
	PayTime, ShippedTime, EstimatedSettlementTime, ConfirmReceiveTime, SettlementTime int64
	// ConfirmReceiveMethod is 1 (auto) or 2 (by the buyer) as documented;
	// the community reports the meaning inverted at times, so a settlement
	// is a hint to confirm with get_order, not proof.
	ConfirmReceiveMethod int
	Msg                  string
	// subscribe_msg_popup_event / _change_event / _sent_event
	Subscriptions []SubscriptionChange
	Format        string // "json" or "xml"
	Raw           []byte // the decrypted message as received

	msgID string // MsgId of a customer's message (events have none)
}

// SubscriptionChange is one item of a subscription event's List.
type SubscriptionChange struct {
	TemplateID  string
	Status      string // SubscribeStatusString: "accept" or "reject" (sent events: empty)
	PopupScene  int
	MsgID       string // sent events
	ErrorCode   int    // sent events
	ErrorStatus string // sent events
}

// Formats of a push.
const (
	formatJSON = "json"
	formatXML  = "xml"
)

// sniff tells the format of a body by its first byte that is not white
// space: WeChat sends what the app chose in its settings, and nothing in
// the request says which.
func sniff(b []byte) string {
	b = bytes.TrimLeft(b, " \t\r\n")
	switch {
	case len(b) > 0 && b[0] == '{':
		return formatJSON
	case len(b) > 0 && b[0] == '<':
		return formatXML
	}
	return ""
}

// envelope is what a push's body carries besides the message: the
// ciphertext of safe and compatible mode, and the plain ToUserName beside
// it. One struct reads both formats.
type envelope struct{ ToUserName, Encrypt string }

// parseEnvelope reads the Encrypt and ToUserName of a safe or compatible
// mode body.
func parseEnvelope(body []byte) (envelope, error) {
	var w struct {
		XMLName    xml.Name `xml:"xml" json:"-"`
		ToUserName flexString
		Encrypt    flexString
	}
	err := decode(body, &w)
	return envelope{ToUserName: strings.TrimSpace(string(w.ToUserName)), Encrypt: strings.TrimSpace(string(w.Encrypt))}, err
}

// decode reads a JSON or an XML body into v, by its first byte.
func decode(body []byte, v any) error {
	switch sniff(body) {
	case formatJSON:
		return decodeJSON(body, v)
	case formatXML:
		return decodeXML(body, v)
	}
	return errors.New("is neither a JSON object nor XML")
}

// parseMessage parses a decrypted (or plaintext) message. It keeps raw as
// Message.Raw without copying.
func parseMessage(raw []byte) (*Message, error) {
	var w wireMessage
	if err := decode(raw, &w); err != nil {
		return nil, err
	}
	m := &Message{Raw: raw, Format: sniff(raw)}
	w.fill(m)
	return m, m.check()
}

// check refuses a message without its envelope.
func (m *Message) check() error {
	switch {
	case m.ToUserName == "":
		return errors.New("has no ToUserName")
	case m.FromUserName == "":
		return errors.New("has no FromUserName")
	case m.CreateTime <= 0:
		return errors.New("has no CreateTime")
	case m.MsgType == "":
		return errors.New("has no MsgType")
	case m.MsgType == "event" && m.Event == "":
		return errors.New("is an event without an Event")
	}
	for _, t := range []int64{m.PayTime, m.ShippedTime, m.EstimatedSettlementTime, m.ConfirmReceiveTime, m.SettlementTime} {
		if t < 0 {
			return errors.New("has a negative time")
		}
	}
	return nil
}

// decodeJSON decodes one JSON object; json.Unmarshal refuses anything
// after it.
func decodeJSON(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("is not valid JSON: %w", err)
	}
	return nil
}

// decodeXML decodes the <xml> element and refuses another element after
// it. encoding/xml neither fetches external entities nor expands custom
// ones.
func decodeXML(b []byte, v any) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("is not valid XML: %w", err)
	}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("is not valid XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return errors.New("has data after its <xml> element")
			}
		case xml.Comment:
		default:
			return errors.New("has data after its <xml> element")
		}
	}
}

// flexInt is a number that some pushes send as a JSON number and others as
// a string ("1620973045"), or an empty string when WeChat leaves a time
// out.
type flexInt int64

func (n *flexInt) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		s, err := jsonString(b)
		if err != nil {
			return err
		}
		return n.UnmarshalText(s)
	}
	return n.UnmarshalText(b)
}

// UnmarshalText reads XML text and the inside of a JSON string: optional
// white space around an optional minus and up to 18 digits.
func (n *flexInt) UnmarshalText(b []byte) error {
	s := bytes.TrimSpace(b)
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	var v int64
	for i, c := range s {
		if c < '0' || c > '9' || i >= 18 {
			return fmt.Errorf("%q is not a whole number", truncate(string(b), 24))
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		if len(s) == 0 {
			return errors.New(`"-" is not a whole number`)
		}
		v = -v
	}
	*n = flexInt(v)
	return nil
}

// jsonString is the content of the JSON string b: without a copy when it
// holds no escape, which is what pushes send (the decoder checked its
// syntax already).
func jsonString(b []byte) ([]byte, error) {
	if len(b) >= 2 && b[len(b)-1] == '"' && bytes.IndexByte(b, '\\') < 0 && utf8.Valid(b) {
		return b[1 : len(b)-1], nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	return []byte(s), nil
}

// flexString is a string that some pushes send as a number (merchant_id,
// MsgId).
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		return nil
	case len(b) > 0 && b[0] == '"':
		v, err := jsonString(b)
		*s = flexString(v)
		return err
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New("is neither a string nor a number")
	}
	*s = flexString(n)
	return nil
}

// subscriptionItem is one element of a List, in either format.
type subscriptionItem struct {
	TemplateID            flexString `json:"TemplateId" xml:"TemplateId"`
	SubscribeStatusString flexString `json:"SubscribeStatusString" xml:"SubscribeStatusString"`
	PopupScene            flexInt    `json:"PopupScene" xml:"PopupScene"`
	MsgID                 flexString `json:"MsgID" xml:"MsgID"`
	ErrorCode             flexInt    `json:"ErrorCode" xml:"ErrorCode"`
	ErrorStatus           flexString `json:"ErrorStatus" xml:"ErrorStatus"`
}

func (it subscriptionItem) change() SubscriptionChange {
	return SubscriptionChange{TemplateID: strings.TrimSpace(string(it.TemplateID)), Status: strings.TrimSpace(string(it.SubscribeStatusString)),
		PopupScene: int(it.PopupScene), MsgID: strings.TrimSpace(string(it.MsgID)), ErrorCode: int(it.ErrorCode),
		ErrorStatus: strings.TrimSpace(string(it.ErrorStatus))}
}

// flexList is a JSON List: an object when it holds one element, an array
// otherwise (a known quirk of the JSON pushes).
type flexList []subscriptionItem

func (l *flexList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimLeft(b, " \t\r\n")
	switch {
	case string(b) == "null":
		return nil
	case len(b) > 0 && b[0] == '{':
		var it subscriptionItem
		if err := json.Unmarshal(b, &it); err != nil {
			return err
		}
		*l = flexList{it}
		return nil
	}
	var items []subscriptionItem
	if err := json.Unmarshal(b, &items); err != nil {
		return err
	}
	*l = items
	return nil
}

// wireMessage is a message in either format: encoding/json matches names
// without regard to case (MsgId, MsgID) and reads the List; encoding/xml
// reads the List from the wrapper that names the event
// (<SubscribeMsgPopupEvent><List>…</List><List>…</List></SubscribeMsgPopupEvent>).
// Values are trimmed, for XML's CDATA.
type wireMessage struct {
	XMLName      xml.Name `xml:"xml" json:"-"`
	ToUserName   flexString
	FromUserName flexString
	CreateTime   flexInt
	MsgType      flexString
	Event        flexString
	MsgID        flexString `json:"MsgId" xml:"MsgId"`

	TransactionID           flexString `json:"transaction_id" xml:"transaction_id"`
	MerchantID              flexString `json:"merchant_id" xml:"merchant_id"`
	SubMerchantID           flexString `json:"sub_merchant_id" xml:"sub_merchant_id"`
	MerchantTradeNo         flexString `json:"merchant_trade_no" xml:"merchant_trade_no"`
	PayTime                 flexInt    `json:"pay_time" xml:"pay_time"`
	ShippedTime             flexInt    `json:"shipped_time" xml:"shipped_time"`
	EstimatedSettlementTime flexInt    `json:"estimated_settlement_time" xml:"estimated_settlement_time"`
	ConfirmReceiveTime      flexInt    `json:"confirm_receive_time" xml:"confirm_receive_time"`
	SettlementTime          flexInt    `json:"settlement_time" xml:"settlement_time"`
	ConfirmReceiveMethod    flexInt    `json:"confirm_receive_method" xml:"confirm_receive_method"`
	Msg                     flexString `json:"msg" xml:"msg"`

	List   flexList `xml:"-"`
	Popup  *xmlList `xml:"SubscribeMsgPopupEvent" json:"-"`
	Change *xmlList `xml:"SubscribeMsgChangeEvent" json:"-"`
	Sent   *xmlList `xml:"SubscribeMsgSentEvent" json:"-"`
}

// xmlList is the wrapper of a subscription event's items in XML.
type xmlList struct {
	List []subscriptionItem `xml:"List"`
}

func (w *wireMessage) fill(m *Message) {
	t := func(s flexString) string { return strings.TrimSpace(string(s)) }
	m.ToUserName, m.FromUserName, m.CreateTime = t(w.ToUserName), t(w.FromUserName), int64(w.CreateTime)
	m.MsgType, m.Event, m.msgID = t(w.MsgType), t(w.Event), t(w.MsgID)
	m.TransactionID, m.MerchantID, m.SubMerchantID, m.MerchantTradeNo = t(w.TransactionID), t(w.MerchantID), t(w.SubMerchantID), t(w.MerchantTradeNo)
	m.PayTime, m.ShippedTime, m.EstimatedSettlementTime = int64(w.PayTime), int64(w.ShippedTime), int64(w.EstimatedSettlementTime)
	m.ConfirmReceiveTime, m.SettlementTime, m.ConfirmReceiveMethod = int64(w.ConfirmReceiveTime), int64(w.SettlementTime), int(w.ConfirmReceiveMethod)
	m.Msg = t(w.Msg)
	m.Subscriptions = changes(w.List)
	// An XML push carries one wrapper, named after its event.
	for _, l := range []*xmlList{w.Popup, w.Change, w.Sent} {
		if l != nil {
			m.Subscriptions = append(m.Subscriptions, changes(l.List)...)
		}
	}
}

func changes(items []subscriptionItem) []SubscriptionChange {
	if len(items) == 0 {
		return nil
	}
	out := make([]SubscriptionChange, len(items))
	for i, it := range items {
		out[i] = it.change()
	}
	return out
}
