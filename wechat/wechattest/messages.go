package wechattest

import (
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/wechat"
)

// SentMessage is a message the platform delivered to a user: a
// subscription message (Path /cgi-bin/message/subscribe/send) or a Service
// Account template message (/cgi-bin/message/template/send).
type SentMessage struct {
	Path       string
	OpenID     string
	TemplateID string
	Page       string            // subscription message: page; template message: miniprogram.pagepath
	Data       map[string]string // by key
	State      string            // miniprogram_state
	Lang       string
	URL        string
	AppID      string // template message: miniprogram.appid
	MsgID      int64
	Time       time.Time
}

type msgTemplate struct {
	fields   map[string]string // key → type
	longTerm bool
}

type messagesState struct {
	templates map[string]*msgTemplate
	credits   map[string]int  // openid:template → one-time acceptances not used
	longTerm  map[string]bool // openid:template → a long-term template on
	lastPush  map[string]int64
	sent      []SentMessage
	followers map[string]bool
	linked    map[string]bool           // Mini Programs bound to the Service Account
	clientMsg map[string]clientMsgEntry // openid:client_msg_id
	nextMsgID int64
}

type clientMsgEntry struct {
	msgID int64
	at    time.Time
}

func (p *Platform) messages() *messagesState {
	return stateOf(p, "messages", func() *messagesState {
		return &messagesState{templates: map[string]*msgTemplate{}, credits: map[string]int{},
			longTerm: map[string]bool{}, lastPush: map[string]int64{}, followers: map[string]bool{}, linked: map[string]bool{},
			clientMsg: map[string]clientMsgEntry{}, nextMsgID: 2000000000}
	})
}

// AddTemplate adds a message template of the app (a subscription template
// on a Mini Program, a template message's on a Service Account): its
// fields, key → type ("thing1": "thing"), and whether it is a long-term
// subscription.
func (p *Platform) AddTemplate(id string, fields map[string]string, longTerm bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cp := map[string]string{}
	for k, v := range fields {
		cp[k] = v
	}
	p.messages().templates[id] = &msgTemplate{fields: cp, longTerm: longTerm}
}

// Subscribe is the user accepting the template in the Mini Program's
// popup: one more message allowed (a long-term template: turned on). It
// returns the subscribe_msg_popup_event WeChat pushes. A user takes a
// second per popup, so two pushes of one user never share a CreateTime
// (WeChat's duplicate key).
func (p *Platform) Subscribe(openid, templateID string) wechat.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.messages()
	t := s.templates[templateID]
	if t != nil && t.longTerm {
		s.longTerm[openid+":"+templateID] = true
	} else {
		s.credits[openid+":"+templateID]++
	}
	return p.push(openid, wechat.EventSubscribePopup, wechat.SubscriptionChange{TemplateID: templateID, Status: "accept"})
}

// Unsubscribe is the user turning the template off in the settings: what
// was accepted is gone. It returns the subscribe_msg_change_event.
func (p *Platform) Unsubscribe(openid, templateID string) wechat.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.messages()
	delete(s.credits, openid+":"+templateID)
	delete(s.longTerm, openid+":"+templateID)
	return p.push(openid, wechat.EventSubscribeChange, wechat.SubscriptionChange{TemplateID: templateID, Status: "reject"})
}

// push builds a subscription push; p.mu is held.
func (p *Platform) push(openid, event string, ch wechat.SubscriptionChange) wechat.Message {
	s := p.messages()
	at := p.now().Unix()
	if last := s.lastPush[openid]; at <= last {
		at = last + 1
	}
	s.lastPush[openid] = at
	return wechat.Message{ToUserName: p.originalID, FromUserName: openid, CreateTime: at, MsgType: "event", Event: event,
		Subscriptions: []wechat.SubscriptionChange{ch}, Format: "json"}
}

// Credits is how many more messages of the template the user allows.
func (p *Platform) Credits(openid, templateID string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.messages().credits[openid+":"+templateID]
}

// Sent lists the messages the user received, oldest first (every user
// when openid is empty).
func (p *Platform) Sent(openid string) []SentMessage {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []SentMessage
	for _, m := range p.messages().sent {
		if openid == "" || m.OpenID == openid {
			out = append(out, m)
		}
	}
	return out
}

// Follow makes openid a follower of the Service Account (a user of it, if
// the platform did not know them).
func (p *Platform) Follow(openid string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.knows(openid) {
		p.users[openid] = &User{OpenID: openid}
	}
	p.messages().followers[openid] = true
}

// LinkMiniProgram binds a Mini Program to the Service Account, so its
// template messages may open it.
func (p *Platform) LinkMiniProgram(appid string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.messages().linked[appid] = true
}

type dataValue struct {
	Value string `json:"value"`
}

// checkData checks a message's data against its template as WeChat does:
// every key of the template, no other, each value valid for its type.
func checkData(t *msgTemplate, data map[string]dataValue) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range data {
		typ, ok := t.fields[k]
		if !ok {
			return nil, errf(47003, "argument invalid! data.%s not in the template", k)
		}
		if !strings.HasPrefix(k, typ) {
			return nil, errf(47003, "argument invalid! data.%s is a %s", k, typ)
		}
		if err := wechat.CheckField(k, v.Value); err != nil {
			var ce *commerce.Error
			msg := err.Error()
			if errors.As(err, &ce) && ce.Err != nil {
				msg = ce.Err.Error()
			}
			return nil, errf(47003, "argument invalid! data.%s.value invalid: %s", k, msg)
		}
		out[k] = v.Value
	}
	keys := make([]string, 0, len(t.fields))
	for k := range t.fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, ok := data[k]; !ok {
			return nil, errf(47003, "argument invalid! data.%s.value is empty", k)
		}
	}
	return out, nil
}

// checkPage refuses a page the released Mini Program does not have (see
// AddPage); p.mu is held.
func (p *Platform) checkPage(page string) error {
	path, _, _ := strings.Cut(page, "?")
	if page != "" && !p.codes().pages[strings.TrimPrefix(path, "/")] {
		return errf(41030, "invalid page")
	}
	return nil
}

// messageTo checks a message's user and template; p.mu is held.
func (p *Platform) messageTo(openid, templateID string) (*messagesState, *msgTemplate, error) {
	s := p.messages()
	t := s.templates[templateID]
	switch {
	case !p.knows(openid):
		return nil, nil, errf(40003, "invalid openid")
	case t == nil:
		return nil, nil, errf(40037, "invalid template_id")
	}
	return s, t, nil
}

func init() {
	register("/cgi-bin/message/subscribe/send", http.MethodPost, true, func(p *Platform, c *call) (any, error) {
		var in struct {
			ToUser     string               `json:"touser"`
			TemplateID string               `json:"template_id"`
			Page       string               `json:"page"`
			Data       map[string]dataValue `json:"data"`
			State      string               `json:"miniprogram_state"`
			Lang       string               `json:"lang"`
		}
		if err := c.decode(&in); err != nil {
			return nil, err
		}
		s, t, err := p.messageTo(in.ToUser, in.TemplateID)
		if err != nil {
			return nil, err
		}
		switch in.State {
		case "", "developer", "trial", "formal":
		default:
			return nil, errf(47003, "argument invalid! miniprogram_state")
		}
		switch in.Lang {
		case "", "zh_CN", "en_US", "zh_HK", "zh_TW":
		default:
			return nil, errf(47003, "argument invalid! lang")
		}
		if err := p.checkPage(in.Page); err != nil {
			return nil, err
		}
		data, err := checkData(t, in.Data)
		if err != nil {
			return nil, err
		}
		key := in.ToUser + ":" + in.TemplateID
		switch {
		case t.longTerm && !s.longTerm[key]:
			return nil, errf(43101, "user refuse to accept the msg")
		case !t.longTerm && s.credits[key] <= 0:
			return nil, errf(43101, "user refuse to accept the msg")
		case !t.longTerm:
			s.credits[key]--
		}
		s.nextMsgID++
		s.sent = append(s.sent, SentMessage{Path: c.r.URL.Path, OpenID: in.ToUser, TemplateID: in.TemplateID, Page: in.Page, Data: data,
			State: in.State, Lang: in.Lang, MsgID: s.nextMsgID, Time: p.now()})
		return map[string]any{"msgid": s.nextMsgID}, nil
	})
	register("/cgi-bin/message/template/send", http.MethodPost, true, func(p *Platform, c *call) (any, error) {
		var in struct {
			ToUser      string `json:"touser"`
			TemplateID  string `json:"template_id"`
			URL         string `json:"url"`
			MiniProgram *struct {
				AppID    string `json:"appid"`
				PagePath string `json:"pagepath"`
			} `json:"miniprogram"`
			ClientMsgID string               `json:"client_msg_id"`
			Data        map[string]dataValue `json:"data"`
		}
		if err := c.decode(&in); err != nil {
			return nil, err
		}
		s, t, err := p.messageTo(in.ToUser, in.TemplateID)
		switch {
		case err != nil:
			return nil, err
		case !s.followers[in.ToUser]:
			return nil, errf(43004, "require subscribe")
		case len(in.ClientMsgID) > 64:
			return nil, errf(45067, "clientmsgid size out of limit")
		case in.URL != "" && !strings.HasPrefix(in.URL, "http://") && !strings.HasPrefix(in.URL, "https://"):
			return nil, errf(40039, "invalid url")
		}
		page := ""
		if mp := in.MiniProgram; mp != nil {
			if !s.linked[mp.AppID] {
				return nil, errf(40013, "invalid appid: the Mini Program is not bound to the account")
			}
			page = mp.PagePath
		}
		data, err := checkData(t, in.Data)
		if err != nil {
			return nil, err
		}
		// One message per openid and client_msg_id within ten minutes.
		dedupe := in.ToUser + ":" + in.ClientMsgID
		if e, ok := s.clientMsg[dedupe]; ok && in.ClientMsgID != "" && p.now().Sub(e.at) < 10*time.Minute {
			return map[string]any{"msgid": e.msgID}, nil
		}
		s.nextMsgID++
		if in.ClientMsgID != "" {
			s.clientMsg[dedupe] = clientMsgEntry{msgID: s.nextMsgID, at: p.now()}
		}
		m := SentMessage{Path: c.r.URL.Path, OpenID: in.ToUser, TemplateID: in.TemplateID, Page: page, Data: data, URL: in.URL,
			MsgID: s.nextMsgID, Time: p.now()}
		if in.MiniProgram != nil {
			m.AppID = in.MiniProgram.AppID
		}
		s.sent = append(s.sent, m)
		return map[string]any{"msgid": s.nextMsgID}, nil
	})
}
