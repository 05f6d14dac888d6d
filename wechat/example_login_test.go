package wechat_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/storage/memory"
	"github.com/minishop/minishop/wechat"
	"github.com/minishop/minishop/wechat/wechattest"
)

// A customer opens the Mini Program: its wx.login code signs them in, the
// host hands the client a session token of its own for its API, and the
// phone number the client got from wx.getPhoneNumber is decrypted with the
// session key kept on the server.
func ExampleClient_Login() {
	ctx := context.Background()
	plat, err := wechattest.NewPlatform(wechattest.Options{})
	if err != nil {
		panic(err)
	}
	defer plat.Close()
	client, err := wechat.New(plat.Config(memory.New()))
	if err != nil {
		panic(err)
	}
	// The host's session secrets: the first signs, all verify.
	sessions, err := wechat.NewSessions(nil, wechat.SessionSecret{ID: "2026-12", Key: []byte("a 32-byte secret from a vault...")})
	if err != nil {
		panic(err)
	}

	// In the Mini Program: wx.login gives a code, sent to the host.
	user := plat.NewUser()
	code := plat.LoginCode(user)

	// On the host.
	login, err := client.Login(ctx, code)
	if err != nil {
		panic(err)
	}
	fmt.Println("first login:", login.New, "customer is the openid:", string(login.Customer) == user.OpenID)
	token, err := sessions.Issue(login, 2*time.Hour)
	if err != nil {
		panic(err)
	}

	// A later request of the client carries the token...
	claims, err := sessions.Verify(token)
	if err != nil {
		panic(err)
	}
	// ...and the data wx.getPhoneNumber gave it.
	encrypted, iv := plat.EncryptUserData(claims.OpenID, map[string]any{
		"phoneNumber": "13800138000", "purePhoneNumber": "13800138000", "countryCode": "86"})
	var phone struct {
		PurePhoneNumber string `json:"purePhoneNumber"`
		CountryCode     string `json:"countryCode"`
	}
	if err := client.DecryptUserData(ctx, claims.OpenID, encrypted, iv, &phone); err != nil {
		panic(err)
	}
	fmt.Printf("customer %v: +%s %s\n", claims.Customer == login.Customer, phone.CountryCode, phone.PurePhoneNumber)

	// Messages to the customer are addressed by openid.
	openid, err := client.OpenIDOf(ctx, login.Customer)
	if err != nil {
		panic(err)
	}
	fmt.Println("message to the login's openid:", openid == user.OpenID)

	// A code is good once.
	_, err = client.Login(ctx, code)
	var ae *wechat.APIError
	fmt.Println("code used again:", errors.Is(err, commerce.ErrInvalid), errors.As(err, &ae) && ae.Code == wechat.CodeCodeUsed)
	// Output:
	// first login: true customer is the openid: true
	// customer true: +86 13800138000
	// message to the login's openid: true
	// code used again: true true
}

// A customer taps the Mini Program's phone-number button
// (<button open-type="getPhoneNumber" bindgetphonenumber="...">): the
// event's code goes to the host, which exchanges it for the number they
// shared. A code is good once.
func ExampleClient_PhoneNumber() {
	ctx := context.Background()
	plat, err := wechattest.NewPlatform(wechattest.Options{})
	if err != nil {
		panic(err)
	}
	defer plat.Close()
	client, err := wechat.New(plat.Config(memory.New()))
	if err != nil {
		panic(err)
	}

	// In the Mini Program: the button's event carries a code.
	code := plat.PhoneCode(plat.NewUser(), "+852 61234567")

	// On the host.
	phone, err := client.PhoneNumber(ctx, code)
	if err != nil {
		panic(err)
	}
	fmt.Printf("+%s %s (%s)\n", phone.CountryCode, phone.PureNumber, phone.Number)

	_, err = client.PhoneNumber(ctx, code)
	var ce *commerce.Error
	fmt.Println("code used again:", errors.As(err, &ce) && ce.Kind == commerce.KindInvalid && ce.Field == "code")
	// Output:
	// +852 61234567 (+852 61234567)
	// code used again: true
}
