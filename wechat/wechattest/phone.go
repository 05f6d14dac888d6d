package wechattest

import (
	"net/http"
	"strings"
	"time"
)

// PhoneCodeTTL is how long a phone-number button's code can be exchanged,
// as WeChat's.
const PhoneCodeTTL = 5 * time.Minute

// phoneState is what getuserphonenumber remembers.
type phoneState struct {
	codes map[string]*phoneCode // by code
}

type phoneCode struct {
	openid                string
	number, pure, country string
	expires               time.Time
	used                  bool
}

func (p *Platform) phone() *phoneState {
	return stateOf(p, "phone", func() *phoneState { return &phoneState{codes: map[string]*phoneCode{}} })
}

// PhoneCode is what u's Mini Program gets from its phone-number button
// (the code of bindgetphonenumber) when u shares phone: a mainland number
// ("13800138000", country code 86) or one with its country code, a space
// and the number ("+852 61234567"). The server exchanges it once, within
// PhoneCodeTTL. It panics on a phone of neither form.
func (p *Platform) PhoneCode(u User, phone string) string {
	pc := &phoneCode{openid: u.OpenID, number: phone, pure: phone, country: "86"}
	if rest, ok := strings.CutPrefix(phone, "+"); ok {
		pc.country, pc.pure, _ = strings.Cut(rest, " ")
	}
	if !allDigits(pc.country) || !allDigits(pc.pure) {
		panic("wechattest: PhoneCode: " + phone + " is not a phone number (13800138000 or +852 61234567)")
	}
	code := randHex(32)
	p.mu.Lock()
	defer p.mu.Unlock()
	pc.expires = p.now().Add(PhoneCodeTTL)
	p.phone().codes[code] = pc
	return code
}

// allDigits reports whether s is one or more ASCII digits.
func allDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

func init() {
	// getuserphonenumber: the access token in the query, the code (and
	// optionally the user's openid) in the body. A code unknown, expired,
	// used, or given with another user's openid is 40029; it is spent once
	// answered.
	register("/wxa/business/getuserphonenumber", http.MethodPost, true, func(p *Platform, c *call) (any, error) {
		var in struct {
			Code   string `json:"code"`
			OpenID string `json:"openid"`
		}
		if err := c.decode(&in); err != nil {
			return nil, err
		}
		if in.Code == "" {
			return nil, errf(41008, "missing code")
		}
		if in.OpenID != "" && !p.knows(in.OpenID) {
			return nil, errf(40003, "invalid openid")
		}
		pc := p.phone().codes[in.Code]
		if pc == nil || pc.used || !p.now().Before(pc.expires) || !p.knows(pc.openid) ||
			in.OpenID != "" && in.OpenID != pc.openid {
			return nil, errf(40029, "invalid code")
		}
		pc.used = true
		return map[string]any{"phone_info": map[string]any{
			"phoneNumber": pc.number, "purePhoneNumber": pc.pure, "countryCode": pc.country,
			"watermark": map[string]any{"timestamp": p.now().Unix(), "appid": p.appID},
		}}, nil
	})
}
