package wechat

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/minishop/minishop/commerce"
)

// PhoneNumber is the phone number a customer shared with the Mini Program
// through its phone-number button (<button open-type="getPhoneNumber">), as
// WeChat answers it. It is the customer's personal data: minishop keeps it
// nowhere and puts it in no error.
type PhoneNumber struct {
	// Number is the number as the customer bound it to WeChat: with its
	// country code for a number outside mainland China ("+852 61234567"),
	// with or without it for a mainland one ("13800138000").
	Number string
	// PureNumber is the number without its country code, digits only
	// ("13800138000").
	PureNumber string
	// CountryCode is the country calling code without its "+", digits only
	// ("86" for mainland China).
	CountryCode string
}

// maxPhoneField bounds each field of WeChat's phone answer: the longest
// international number is 15 digits.
const maxPhoneField = 32

type phoneBody struct {
	Code string `json:"code"`
}

// PhoneNumber exchanges the code of a phone-number button's
// bindgetphonenumber event (wxa/business/getuserphonenumber, with the
// access token) for the customer's phone number, and checks that WeChat
// watermarked it for this app. The code takes the form Login's does (up to
// MaxLoginCodeLen characters of base64); anything else is KindInvalid for
// field "code" before WeChat is asked.
//
// A code is good once, within five minutes: an unknown, expired or used
// one is KindInvalid for field "code"; a busy platform is KindUnavailable.
// The call is not retried but once with a fresh access token (a code
// answered 40001 or 42001 is not spent): WeChat may spend a code whose
// answer is lost, so a failed exchange is tried again by the host with the
// same code, which answers KindInvalid if it was spent, or by the
// customer tapping the button again. A number watermarked for another app
// is KindInternal (the client talks to the wrong platform).
func (c *Client) PhoneNumber(ctx context.Context, code string) (PhoneNumber, error) {
	const op = "wechat.phone_number"
	if err := checkCode(op, code, "getPhoneNumber"); err != nil {
		return PhoneNumber{}, err
	}
	var out struct {
		Info *struct {
			PhoneNumber     string `json:"phoneNumber"`
			PurePhoneNumber string `json:"purePhoneNumber"`
			CountryCode     string `json:"countryCode"`
			Watermark       *struct {
				AppID string `json:"appid"`
			} `json:"watermark"`
		} `json:"phone_info"`
	}
	err := c.call(ctx, request{op: op, method: http.MethodPost, path: "/wxa/business/getuserphonenumber", token: true,
		body: phoneBody{Code: code}}, &out)
	if err != nil {
		return PhoneNumber{}, phoneError(op, err)
	}
	// Whose number it is comes first; the errors never repeat the number.
	info := out.Info
	switch {
	case info == nil:
		return PhoneNumber{}, fail(op, fmt.Errorf("%w: the answer has no phone_info", commerce.ErrUnavailable))
	case info.Watermark == nil:
		return PhoneNumber{}, &commerce.Error{Op: op, Kind: commerce.KindInternal,
			Err: errors.New("the phone number has no watermark")}
	case info.Watermark.AppID != c.cfg.AppID:
		return PhoneNumber{}, &commerce.Error{Op: op, Kind: commerce.KindInternal,
			Err: fmt.Errorf("the phone number is watermarked for another app (%s), not %s", truncate(info.Watermark.AppID, 40), c.cfg.AppID)}
	case !phoneDigits(info.PurePhoneNumber) || !phoneDigits(info.CountryCode) ||
		info.PhoneNumber == "" || len(info.PhoneNumber) > maxPhoneField:
		return PhoneNumber{}, fail(op, fmt.Errorf("%w: the answer's phone number is not of WeChat's form", commerce.ErrUnavailable))
	}
	return PhoneNumber{Number: info.PhoneNumber, PureNumber: info.PurePhoneNumber, CountryCode: info.CountryCode}, nil
}

// phoneError says what a refused exchange means.
func phoneError(op string, err error) error {
	var ae *APIError
	if !errors.As(err, &ae) {
		return err
	}
	switch ae.Code {
	case CodeInvalidCode, CodeCodeUsed:
		return &commerce.Error{Op: op, Kind: commerce.KindInvalid, Field: "code",
			Err: fmt.Errorf("unknown, expired or used already (a phone-number code is good once, within five minutes): %w", ae)}
	case CodeBusy:
		return &commerce.Error{Op: op, Kind: commerce.KindUnavailable,
			Err: fmt.Errorf("WeChat is busy: %w", ae)}
	}
	return err
}

// phoneDigits reports whether s is 1 to maxPhoneField ASCII digits.
func phoneDigits(s string) bool {
	return s != "" && len(s) <= maxPhoneField && digits(s) == len(s)
}
