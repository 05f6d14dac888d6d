package wechattest

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/minishop/minishop/wechat"
)

// PushMode is the message-push mode of the app's settings.
type PushMode uint8

const (
	// PushSafe (the zero value, as WeChat recommends): the body is
	// ToUserName and Encrypt, and the query carries msg_signature.
	PushSafe PushMode = iota
	// PushPlain: the message as it is, signed by the query's signature
	// (which does not cover the body).
	PushPlain
	// PushCompatible: the message's fields and Encrypt side by side.
	PushCompatible
)

// PushFormat is the data format of the app's settings.
type PushFormat uint8

const (
	PushJSON PushFormat = iota
	PushXML
)

// Tamper is a way a push is spoiled, for the tests of refusals. Except
// TamperSignature, TamperMsgSignature and TamperBody, the spoiled push is
// signed as WeChat would sign it: only the decryption can tell.
type Tamper uint8

const (
	TamperNone         Tamper = iota
	TamperSignature           // the query's signature is made with another token
	TamperMsgSignature        // msg_signature is made with another token
	TamperBody                // Encrypt changed after signing
	TamperPadding             // the PKCS#7 padding is wrong
	TamperLength              // the sealed length runs past the plaintext
	TamperBase64              // Encrypt is not base64
	TamperTruncate            // Encrypt lost its last 16 bytes (base64 still valid)
)

// PushOptions say how a push is sealed and sent: the app's settings
// (Mode, Format, Token, EncodingAESKey) and, for refusal tests, what to
// change.
type PushOptions struct {
	Mode           PushMode
	Format         PushFormat
	Token          string
	EncodingAESKey string // required in safe and compatible mode
	// NumbersAsStrings sends JSON numbers as strings ("CreateTime":
	// "1620973045"), as some pushes do.
	NumbersAsStrings bool

	Time   time.Time // the query's timestamp; default the platform's clock
	Nonce  string    // default random digits
	AppID  string    // the app id sealed after the message; default the platform's
	Tamper Tamper
	// Rewrite, when set, replaces the base64 Encrypt before it is signed.
	Rewrite func(encrypt string) string
}

// Field is one field of a pushed message. Value is a string, an integer,
// or []Fields for a subscription event's List (Wrap names its XML
// wrapper, e.g. SubscribeMsgPopupEvent).
type Field struct {
	Name  string
	Value any
	Wrap  string
}

// Fields is a message as WeChat lays it out, in order.
type Fields []Field

// SystemOpenID is the FromUserName of the trade_manage events the
// platform pushes: WeChat sends them from a system account, whose id is
// not documented; this one stands in for it.
const SystemOpenID = "o_trade_manage_system_000000"

// pusher is a typed event the platform can push.
type pusher interface {
	pushFields(p *Platform) (Fields, error)
}

// envelope is the common head of every event.
func (p *Platform) envelope(from string, at time.Time, event string) Fields {
	if at.IsZero() {
		at = p.now()
	}
	return Fields{{Name: "ToUserName", Value: p.originalID}, {Name: "FromUserName", Value: from},
		{Name: "CreateTime", Value: at.Unix()}, {Name: "MsgType", Value: "event"}, {Name: "Event", Value: event}}
}

// unix adds a time field unless t is zero (the event leaves it out).
func (f Fields) unix(name string, t time.Time) Fields {
	if t.IsZero() {
		return f
	}
	return append(f, Field{Name: name, Value: t.Unix()})
}

// OrderSettlement is a trade_manage_order_settlement event: pushed when the
// shipping info of a payment is uploaded (EstimatedSettlementTime) and when
// the order settles (ConfirmReceiveMethod, ConfirmReceiveTime,
// SettlementTime). Zero times are left out.
type OrderSettlement struct {
	From                                                      string    // default SystemOpenID
	CreateTime                                                time.Time // default the platform's clock
	TransactionID, MerchantID, SubMerchantID, MerchantTradeNo string
	PayTime, ShippedTime, EstimatedSettlementTime             time.Time
	ConfirmReceiveMethod                                      int // 1 auto, 2 by the buyer
	ConfirmReceiveTime, SettlementTime                        time.Time
	Msg                                                       string
}

func (e OrderSettlement) pushFields(p *Platform) (Fields, error) {
	if err := tradeIDs(e.TransactionID, e.MerchantID, e.MerchantTradeNo); err != nil {
		return nil, err
	}
	if e.ConfirmReceiveMethod < 0 || e.ConfirmReceiveMethod > 2 {
		return nil, fmt.Errorf("wechattest: confirm_receive_method %d is not 1 or 2", e.ConfirmReceiveMethod)
	}
	f := append(p.envelope(orDefault(e.From, SystemOpenID), e.CreateTime, wechat.EventOrderSettlement),
		tradeFields(e.TransactionID, e.MerchantID, e.SubMerchantID, e.MerchantTradeNo)...)
	f = f.unix("pay_time", e.PayTime).unix("shipped_time", e.ShippedTime).unix("estimated_settlement_time", e.EstimatedSettlementTime)
	if e.ConfirmReceiveMethod != 0 {
		f = append(f, Field{Name: "confirm_receive_method", Value: e.ConfirmReceiveMethod})
	}
	f = f.unix("confirm_receive_time", e.ConfirmReceiveTime).unix("settlement_time", e.SettlementTime)
	return append(f, Field{Name: "msg", Value: e.Msg}), nil
}

// RemindShipping is a trade_manage_remind_shipping event: a payment waits
// for its shipping info.
type RemindShipping struct {
	From                                                      string    // default SystemOpenID
	CreateTime                                                time.Time // default the platform's clock
	TransactionID, MerchantID, SubMerchantID, MerchantTradeNo string
	PayTime                                                   time.Time
	Msg                                                       string
}

func (e RemindShipping) pushFields(p *Platform) (Fields, error) {
	if err := tradeIDs(e.TransactionID, e.MerchantID, e.MerchantTradeNo); err != nil {
		return nil, err
	}
	f := append(p.envelope(orDefault(e.From, SystemOpenID), e.CreateTime, wechat.EventRemindShipping),
		tradeFields(e.TransactionID, e.MerchantID, e.SubMerchantID, e.MerchantTradeNo)...)
	return append(f.unix("pay_time", e.PayTime), Field{Name: "msg", Value: e.Msg}), nil
}

// RemindAccessAPI is a trade_manage_remind_access_api event.
type RemindAccessAPI struct {
	From       string    // default SystemOpenID
	CreateTime time.Time // default the platform's clock
	Msg        string
}

func (e RemindAccessAPI) pushFields(p *Platform) (Fields, error) {
	return append(p.envelope(orDefault(e.From, SystemOpenID), e.CreateTime, wechat.EventRemindAccessAPI),
		Field{Name: "msg", Value: e.Msg}), nil
}

func tradeIDs(txn, mch, tradeNo string) error {
	switch {
	case txn == "":
		return errors.New("wechattest: transaction_id is empty")
	case mch == "":
		return errors.New("wechattest: merchant_id is empty")
	case tradeNo == "":
		return errors.New("wechattest: merchant_trade_no is empty")
	}
	return nil
}

func tradeFields(txn, mch, sub, tradeNo string) Fields {
	f := Fields{{Name: "transaction_id", Value: txn}, {Name: "merchant_id", Value: mch}}
	if sub != "" {
		f = append(f, Field{Name: "sub_merchant_id", Value: sub})
	}
	return append(f, Field{Name: "merchant_trade_no", Value: tradeNo})
}

// SubscriptionItem is one element of a subscription event's List.
type SubscriptionItem struct {
	TemplateID  string
	Status      string // "accept" or "reject"; empty in sent events
	PopupScene  int    // popup events
	MsgID       string // sent events
	ErrorCode   int    // sent events
	ErrorStatus string // sent events
}

// SubscriptionEvent is a subscribe_msg_popup_event, _change_event or
// _sent_event of a user of the app.
type SubscriptionEvent struct {
	Event      string // wechat.EventSubscribePopup, EventSubscribeChange or EventSubscribeSent
	OpenID     string
	CreateTime time.Time // default the platform's clock
	List       []SubscriptionItem
}

func (e SubscriptionEvent) pushFields(p *Platform) (Fields, error) {
	wrap := map[string]string{wechat.EventSubscribePopup: "SubscribeMsgPopupEvent",
		wechat.EventSubscribeChange: "SubscribeMsgChangeEvent", wechat.EventSubscribeSent: "SubscribeMsgSentEvent"}[e.Event]
	p.mu.Lock()
	known := p.knows(e.OpenID)
	p.mu.Unlock()
	switch {
	case wrap == "":
		return nil, fmt.Errorf("wechattest: %q is not a subscription event", e.Event)
	case !known:
		return nil, fmt.Errorf("wechattest: %q is not a user of the app", e.OpenID)
	case len(e.List) == 0:
		return nil, errors.New("wechattest: the List is empty")
	}
	var items []Fields
	for _, it := range e.List {
		if it.TemplateID == "" {
			return nil, errors.New("wechattest: a TemplateId is empty")
		}
		f := Fields{{Name: "TemplateId", Value: it.TemplateID}}
		switch e.Event {
		case wechat.EventSubscribePopup, wechat.EventSubscribeChange:
			if it.Status != "reject" && (it.Status != "accept" || e.Event == wechat.EventSubscribeChange) {
				return nil, fmt.Errorf("wechattest: %s cannot carry status %q", e.Event, it.Status)
			}
			f = append(f, Field{Name: "SubscribeStatusString", Value: it.Status})
			if e.Event == wechat.EventSubscribePopup {
				f = append(f, Field{Name: "PopupScene", Value: it.PopupScene})
			}
		default:
			f = append(f, Field{Name: "MsgID", Value: it.MsgID}, Field{Name: "ErrorCode", Value: it.ErrorCode},
				Field{Name: "ErrorStatus", Value: it.ErrorStatus})
		}
		items = append(items, f)
	}
	return append(p.envelope(e.OpenID, e.CreateTime, e.Event), Field{Name: "List", Value: items, Wrap: wrap}), nil
}

func randDigits(n int) string {
	b := []byte(randHex(n))
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	return string(b[:n])
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// NewEncodingAESKey returns a random EncodingAESKey (43 letters and
// digits), as the admin console generates.
func NewEncodingAESKey() string { return randAlnum(43) }

// PushSignature is the signature of a push: the hex sha1 of the sorted
// parts (Token, timestamp, nonce; and Encrypt for msg_signature).
func PushSignature(parts ...string) string {
	parts = slices.Clone(parts)
	sort.Strings(parts)
	s := sha1.Sum([]byte(strings.Join(parts, "")))
	return hex.EncodeToString(s[:])
}

// Push sends m to the developer server at url as WeChat pushes it and
// returns the answer's status and body. m is a typed event
// (OrderSettlement, RemindShipping, RemindAccessAPI, SubscriptionEvent),
// Fields, a map[string]any of fields (sorted by name), or the message's
// bytes ([]byte or string) sent as they are.
func (p *Platform) Push(url string, m any, o PushOptions) (status int, body string, err error) {
	req, err := p.PushRequest(url, m, o)
	if err != nil {
		return 0, "", err
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b), err
}

// PushRequest is the request Push would send, for a handler driven
// directly or a request changed by the test.
func (p *Platform) PushRequest(target string, m any, o PushOptions) (*http.Request, error) {
	msg, fields, err := p.encodeMessage(m, o)
	if err != nil {
		return nil, err
	}
	// The admin console takes nothing else.
	if n := len(o.Token); n < 3 || n > 32 || !onlyChars(o.Token, "") {
		return nil, errors.New("wechattest: push: the Token is not 3 to 32 letters and digits")
	}
	at := o.Time
	if at.IsZero() {
		at = p.now()
	}
	ts, nonce := strconv.FormatInt(at.Unix(), 10), o.Nonce
	if nonce == "" {
		nonce = randDigits(10)
	}
	signer := func(tamper Tamper) string {
		if o.Tamper == tamper {
			return o.Token + "x"
		}
		return o.Token
	}
	q := url.Values{"signature": {PushSignature(signer(TamperSignature), ts, nonce)}, "timestamp": {ts}, "nonce": {nonce}}
	body := msg
	if o.Mode != PushPlain {
		if o.Mode == PushCompatible && fields == nil {
			return nil, errors.New("wechattest: push: compatible mode needs fields, not bytes")
		}
		enc, err := p.seal(msg, o)
		if err != nil {
			return nil, err
		}
		if o.Rewrite != nil {
			enc = o.Rewrite(enc)
		}
		q.Set("encrypt_type", "aes")
		q.Set("msg_signature", PushSignature(signer(TamperMsgSignature), ts, nonce, enc))
		if o.Tamper == TamperBody {
			enc = flipBase64(enc)
		}
		outer := Fields{{Name: "ToUserName", Value: p.originalID}, {Name: "Encrypt", Value: enc}}
		if o.Mode == PushCompatible {
			outer = append(slices.Clone(fields), Field{Name: "Encrypt", Value: enc})
		}
		body = encode(outer, o)
	}
	req, err := http.NewRequest(http.MethodPost, target+"?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	ct := "application/json"
	if o.Format == PushXML {
		ct = "text/xml"
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("User-Agent", "Mozilla/4.0")
	return req, nil
}

// VerifyRequest is the GET WeChat sends when the developer server URL is
// saved: signed with token at the platform's clock, with echostr to echo.
func (p *Platform) VerifyRequest(target, token, echostr string) (*http.Request, error) {
	ts, nonce := strconv.FormatInt(p.now().Unix(), 10), randDigits(10)
	q := url.Values{"signature": {PushSignature(token, ts, nonce)}, "timestamp": {ts}, "nonce": {nonce}, "echostr": {echostr}}
	return http.NewRequest(http.MethodGet, target+"?"+q.Encode(), nil)
}

// encodeMessage lays m out in o's format; fields is nil for bytes given.
func (p *Platform) encodeMessage(m any, o PushOptions) ([]byte, Fields, error) {
	var f Fields
	switch v := m.(type) {
	case []byte:
		return v, nil, nil
	case string:
		return []byte(v), nil, nil
	case Fields:
		f = v
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			f = append(f, Field{Name: k, Value: v[k]})
		}
	case pusher:
		var err error
		if f, err = v.pushFields(p); err != nil {
			return nil, nil, err
		}
	default:
		return nil, nil, fmt.Errorf("wechattest: push: cannot push a %T", m)
	}
	return encode(f, o), f, nil
}

// encode writes fields as JSON (a List of one element as an object, as
// WeChat does) or as XML.
func encode(f Fields, o PushOptions) []byte {
	var b bytes.Buffer
	if o.Format == PushXML {
		b.WriteString("<xml>")
		writeXML(&b, f)
		b.WriteString("</xml>")
		return b.Bytes()
	}
	writeJSON(&b, f, o.NumbersAsStrings)
	return b.Bytes()
}

func writeJSON(b *bytes.Buffer, f Fields, numbersAsStrings bool) {
	b.WriteByte('{')
	for i, fd := range f {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(fd.Name)
		b.Write(k)
		b.WriteByte(':')
		switch v := fd.Value.(type) {
		case []Fields:
			if len(v) == 1 {
				writeJSON(b, v[0], numbersAsStrings)
				continue
			}
			b.WriteByte('[')
			for j, it := range v {
				if j > 0 {
					b.WriteByte(',')
				}
				writeJSON(b, it, numbersAsStrings)
			}
			b.WriteByte(']')
		case string:
			s, _ := json.Marshal(v)
			b.Write(s)
		default:
			s, _ := json.Marshal(v)
			if numbersAsStrings {
				s, _ = json.Marshal(string(s))
			}
			b.Write(s)
		}
	}
	b.WriteByte('}')
}

func writeXML(b *bytes.Buffer, f Fields) {
	for _, fd := range f {
		if items, ok := fd.Value.([]Fields); ok {
			b.WriteString("<" + fd.Wrap + ">")
			for _, it := range items {
				b.WriteString("<" + fd.Name + ">")
				writeXML(b, it)
				b.WriteString("</" + fd.Name + ">")
			}
			b.WriteString("</" + fd.Wrap + ">")
			continue
		}
		b.WriteString("<" + fd.Name + ">")
		if s, ok := fd.Value.(string); ok {
			b.WriteString("<![CDATA[" + strings.ReplaceAll(s, "]]>", "]]]]><![CDATA[>") + "]]>")
		} else {
			fmt.Fprint(b, fd.Value)
		}
		b.WriteString("</" + fd.Name + ">")
	}
}

// seal encrypts msg as WeChat does: random(16) ‖ length(4, big endian) ‖
// msg ‖ appid, PKCS#7-padded to 32 bytes, AES-256-CBC with the key's first
// 16 bytes as IV, base64.
func (p *Platform) seal(msg []byte, o PushOptions) (string, error) {
	if len(o.EncodingAESKey) != 43 || !onlyChars(o.EncodingAESKey, "") {
		return "", errors.New("wechattest: push: the EncodingAESKey is not 43 letters and digits")
	}
	key, err := base64.StdEncoding.DecodeString(o.EncodingAESKey + "=")
	if err != nil {
		return "", fmt.Errorf("wechattest: push: the EncodingAESKey is not base64: %w", err)
	}
	appid := orDefault(o.AppID, p.appID)
	pt := make([]byte, 20, 20+len(msg)+len(appid)+32)
	_, _ = rand.Read(pt[:16])
	size := uint32(len(msg))
	if o.Tamper == TamperLength {
		size += uint32(len(appid)) + 1
	}
	binary.BigEndian.PutUint32(pt[16:20], size)
	pt = append(append(pt, msg...), appid...)
	pad := 32 - len(pt)%32
	pt = append(pt, bytes.Repeat([]byte{byte(pad)}, pad)...)
	if o.Tamper == TamperPadding {
		if pad >= 2 {
			pt[len(pt)-pad] ^= 1 // one pad byte unlike the others
		} else {
			pt[len(pt)-1] = 33
		}
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	ct := make([]byte, len(pt))
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(ct, pt)
	switch o.Tamper {
	case TamperTruncate:
		ct = ct[:len(ct)-16]
	case TamperBase64:
		return base64.StdEncoding.EncodeToString(ct)[:8] + "*" + base64.StdEncoding.EncodeToString(ct)[9:], nil
	}
	return base64.StdEncoding.EncodeToString(ct), nil
}

// flipBase64 changes one character in the middle of s to another base64
// character.
func flipBase64(s string) string {
	b := []byte(s)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}
