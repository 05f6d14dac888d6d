package wechatpay_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"log"
	"time"

	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/wechatpay"
	"github.com/minishop/minishop/payment/wechatpay/wechatpaytest"
)

// A merchant in certificate mode configures no platform key: the client
// downloads WeChat Pay's certificates (decrypting them with the APIv3 key)
// and keeps them fresh while it runs. When WeChat Pay rotates its
// certificate, the first answer signed with the new one makes the client
// download once more, and from then on it names the new certificate.
func Example_certificateRotation() {
	ctx := context.Background()
	var now = time.Date(2026, 5, 20, 2, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	platform, err := wechatpaytest.NewPlatform(wechatpaytest.Options{Mode: wechatpaytest.CertificateMode, Now: clock})
	if err != nil {
		log.Fatal(err)
	}
	defer platform.Close()
	cfg := platform.Config("https://shop.example.com/wechatpay/notify")
	cfg.PlatformKeys = nil // nothing configured: download them
	cfg.DownloadCertificates = true
	cfg.RefreshCertificatesEvery = 12 * time.Hour
	cfg.Now = clock
	client, err := wechatpay.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := client.CreatePayment(ctx, payment.CreateRequest{PaymentNo: "ROTATE0000000001", Description: "茶叶",
		Amount: cny(88_00), Payer: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}); err != nil {
		log.Fatal(err)
	}
	fmt.Println("trusted at first:", len(client.PlatformKeys()), "certificate")

	now = now.Add(time.Hour)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		log.Fatal(err)
	}
	fresh, err := platform.RotateCertificate(key)
	if err != nil {
		log.Fatal(err)
	}
	// WeChat Pay signs this answer with the new certificate.
	if _, err := client.QueryPayment(ctx, payment.Account{}, "ROTATE0000000001"); err != nil {
		log.Fatal(err)
	}
	for _, k := range client.PlatformKeys() {
		if k.Requested {
			fmt.Println("requests now name the new certificate:", k.Serial == fresh)
		}
	}
	fmt.Println("trusted after the rotation:", len(client.PlatformKeys()), "certificates")
	// Output:
	// trusted at first: 1 certificate
	// requests now name the new certificate: true
	// trusted after the rotation: 2 certificates
}
