package wechatpay_test

import (
	"context"
	"fmt"
	"log"
	"maps"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/currency"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/payment/wechatpay"
	"github.com/minishop/minishop/payment/wechatpay/wechatpaytest"
)

// A Mini Program payment from prepay to confirmation, against the local
// WeChat Pay platform in wechatpaytest (a real deployment builds Config from
// the merchant's credentials instead, see the package documentation).
func Example_miniProgramPayment() {
	ctx := context.Background()
	platform, err := wechatpaytest.NewPlatform(wechatpaytest.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer platform.Close()

	client, err := wechatpay.New(platform.Config("https://shop.example.com/wechatpay/notify"))
	if err != nil {
		log.Fatal(err)
	}

	// 1. The server opens the payment for the order's amount.
	prepay, err := client.CreatePayment(ctx, payment.CreateRequest{
		PaymentNo:   "PAY20250520000001",
		Description: "minishop - 2 items",
		Amount:      commerce.MustParseMoney("216.00", currency.CNY),
		Payer:       "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
	})
	if err != nil {
		log.Fatal(err)
	}

	// 2. The Mini Program passes these to wx.requestPayment unchanged.
	fmt.Println("wx.requestPayment:", strings.Join(slices.Sorted(maps.Keys(prepay.ClientParams)), ", "))
	fmt.Println("package is the prepay_id:", prepay.ClientParams["package"] == "prepay_id="+prepay.PrepayID)

	// 3. The customer pays; WeChat Pay posts a notification to NotifyURL.
	notification, err := platform.Pay("PAY20250520000001")
	if err != nil {
		log.Fatal(err)
	}

	// 4. The host's notification handler verifies and decrypts it.
	n, err := client.ParseNotification(ctx, notification.Request())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("notification:", n.EventType, n.Kind)
	fmt.Println("paid:", n.Transaction.PaymentNo, n.Transaction.State, n.Transaction.Amount)

	// 5. When in doubt, ask WeChat Pay.
	tx, err := client.QueryPayment(ctx, payment.Account{}, "PAY20250520000001")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("query:", tx.State, tx.Amount)

	// Output:
	// wx.requestPayment: appId, nonceStr, package, paySign, signType, timeStamp
	// package is the prepay_id: true
	// notification: TRANSACTION.SUCCESS payment
	// paid: PAY20250520000001 succeeded CNY 216.00
	// query: succeeded CNY 216.00
}

// A service provider takes a payment for its sub-merchant, in the
// sub-merchant's own Mini Program.
func Example_serviceProvider() {
	ctx := context.Background()
	platform, err := wechatpaytest.NewPlatform(wechatpaytest.Options{ServiceProvider: true, MchID: "1230000109", AppID: "wxsp000000000000aa"})
	if err != nil {
		log.Fatal(err)
	}
	defer platform.Close()
	platform.AddSubMerchant("1900000111", "wx8888888888888888")

	cfg := platform.Config("https://provider.example.com/wechatpay/notify")
	cfg.Name = "wechatpay_sp"
	client, err := wechatpay.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	shop := payment.Account{SubMerchant: "1900000111", SubApp: "wx8888888888888888"}
	prepay, err := client.CreatePayment(ctx, payment.CreateRequest{
		Account:     shop,
		PaymentNo:   "PAY20250520000002",
		Description: "茶具",
		Amount:      commerce.MustParseMoney("88.00", currency.CNY),
		Payer:       "oSubOpenID_0000000000000000a", // under the sub-merchant's app
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("signed for app:", prepay.ClientParams["appId"])

	notification, err := platform.Pay("PAY20250520000002")
	if err != nil {
		log.Fatal(err)
	}
	n, err := client.ParseNotification(ctx, notification.Request())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("paid to sub-merchant:", n.Transaction.Account.SubMerchant, n.Transaction.Amount)

	// Output:
	// signed for app: wx8888888888888888
	// paid to sub-merchant: 1900000111 CNY 88.00
}

// A payment opened for profit sharing, a promoter's commission shared from
// it, and the rest unfrozen to the merchant. The sharer polls: WeChat Pay
// notifies the receiver, not the merchant.
func Example_profitSharing() {
	ctx := context.Background()
	now := time.Date(2025, 5, 20, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	platform, err := wechatpaytest.NewPlatform(wechatpaytest.Options{Now: clock})
	if err != nil {
		log.Fatal(err)
	}
	defer platform.Close()
	cfg := platform.Config("")
	cfg.Now = clock
	client, err := wechatpay.New(cfg)
	if err != nil {
		log.Fatal(err)
	}

	_, err = client.CreatePayment(ctx, payment.CreateRequest{PaymentNo: "PAY20250520000002", Description: "minishop - 1 item",
		Amount: commerce.MustParseMoney("100.00", currency.CNY), Payer: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", ProfitSharing: true})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := platform.Pay("PAY20250520000002"); err != nil {
		log.Fatal(err)
	}
	order, _ := platform.Order("PAY20250520000002")
	now = now.Add(2 * time.Minute) // WeChat shares no sooner than a minute after payment

	promoter := payment.ShareReceiver{
		Payee:    payment.Payee{Kind: payment.PayeePerson, Account: "oPromoter_000000000000000001", App: cfg.AppID},
		Relation: payment.RelationDistributor, Amount: commerce.MustParseMoney("12.00", currency.CNY), Description: "推广佣金",
	}
	if err := client.AddReceiver(ctx, payment.Account{}, promoter); err != nil {
		log.Fatal(err)
	}
	share, err := client.CreateShare(ctx, payment.ShareRequest{TransactionID: order.TransactionID, OrderNo: "SHARE20250520000002",
		Receivers: []payment.ShareReceiver{promoter}, UnfreezeRest: true, Paid: commerce.MustParseMoney("100.00", currency.CNY)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created:", share.State)
	share, err = client.QueryShare(ctx, payment.Account{}, order.TransactionID, "SHARE20250520000002")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("queried:", share.State, share.Receivers[0].Result, share.Receivers[0].Amount)
	left, err := client.Unsplit(ctx, payment.Account{}, order.TransactionID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("left to share:", left)

	// Output:
	// created: processing
	// queried: finished succeeded CNY 12.00
	// left to share: CNY 0.00
}
