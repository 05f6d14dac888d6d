package payment

import (
	"context"
	"net/http"
	"time"

	"github.com/shopspring/decimal"

	"github.com/minishop/minishop/commerce"
)

// Provider is a payment channel: WeChat Pay (payment/wechatpay), the fake
// channel for tests (payment/fakepay), or a host's own. minishop calls it
// only outside database transactions, always with an idempotency key
// (PaymentNo, RefundNo) so a call repeated after a crash or timeout acts
// once at the channel.
type Provider interface {
	// Name identifies the provider in payment records ("wechatpay").
	Name() string
	// CreatePayment opens a payment at the channel and returns what the
	// client needs to pay it. Called again with the same PaymentNo it must
	// not open a second payment.
	CreatePayment(ctx context.Context, r CreateRequest) (*Prepay, error)
	// QueryPayment asks the channel for a payment's state, for when a
	// notification is late or lost.
	QueryPayment(ctx context.Context, acct Account, paymentNo string) (*Transaction, error)
	// ClosePayment closes an unpaid payment so it can no longer be paid.
	ClosePayment(ctx context.Context, acct Account, paymentNo string) error
	// Refund asks the channel to return part or all of a paid payment.
	// Called again with the same RefundNo it must not refund twice.
	Refund(ctx context.Context, r RefundRequest) (*RefundResult, error)
	// QueryRefund asks the channel for a refund's state, for when its
	// notification is late or lost.
	QueryRefund(ctx context.Context, acct Account, refundNo string) (*RefundResult, error)
	// ParseNotification verifies an incoming HTTP notification (signature,
	// freshness, decryption) and returns it typed. It must reject anything
	// it cannot verify, and must not panic on any input.
	ParseNotification(ctx context.Context, r *http.Request) (*Notification, error)
}

// Account is the channel account a merchant is paid into. The zero Account
// is the channel's own merchant (a direct merchant, WeChat's mchid); a
// service provider's channel names the sub-merchant it acts for (WeChat's
// partner mode: sub_mchid, and sub_appid when the sub-merchant's own Mini
// Program takes the payment). Every call about a payment, refund,
// profit-sharing order or transfer carries the account it belongs to, so
// one channel serves direct and partner merchants at once.
type Account struct {
	SubMerchant string // WeChat: sub_mchid; empty for a direct merchant
	SubApp      string // WeChat: sub_appid; empty when the provider's app pays
}

// IsDirect reports whether a is the channel's own merchant.
func (a Account) IsDirect() bool { return a.SubMerchant == "" }

// AccountChecker is implemented by channels that can tell whether an
// Account is one they serve (a service provider's channel needs a
// sub-merchant; a direct merchant's takes none). SetAccount asks it, so a
// wrong account is refused when it is set, not when a customer pays.
type AccountChecker interface {
	CheckAccount(a Account) error
}

// CreateRequest asks a channel to open a payment. Amount comes from the
// order on the server, never from the client.
type CreateRequest struct {
	// Account is the merchant's account at the channel (zero: the channel's
	// own merchant).
	Account     Account
	PaymentNo   string // the merchant's payment number (WeChat: out_trade_no), unique per provider
	Description string // shown to the payer (WeChat: description, at most 127 characters)
	Amount      commerce.Money
	Payer       string // the payer's account at the channel (WeChat: openid under PayerApp)
	// PayerApp is the app Payer's openid belongs to, the one the customer
	// pays in; empty for the merchant's own (Account.SubApp when set, else
	// the channel's app). WeChat's partner mode sends the openid as
	// sub_openid or sp_openid by it and signs wx.requestPayment for it.
	PayerApp  string
	ExpiresAt time.Time // after this the channel refuses the payment; zero for the channel's default
	Attach    string    // echoed back in notifications
	// ProfitSharing opens the payment for profit sharing (WeChat:
	// settle_info.profit_sharing): the channel freezes the money until a
	// sharing order or an unfreeze releases it (see Sharer).
	ProfitSharing bool
}

// Prepay is a channel's answer to CreateRequest.
type Prepay struct {
	// PrepayID is the channel's handle on the open payment (WeChat: prepay_id).
	PrepayID string
	// ClientParams are the signed parameters the client passes to the
	// channel's payment UI (WeChat Mini Program: wx.requestPayment's appId,
	// timeStamp, nonceStr, package, signType, paySign).
	ClientParams map[string]string
}

// TxState is a payment's state at the channel.
type TxState string

// Transaction states, as channels report them.
const (
	TxPending   TxState = "pending"   // not paid yet (WeChat NOTPAY, USERPAYING)
	TxSucceeded TxState = "succeeded" // paid (WeChat SUCCESS, and REFUND: paid then refunded)
	TxFailed    TxState = "failed"    // the payer's payment failed (WeChat PAYERROR)
	TxClosed    TxState = "closed"    // closed unpaid (WeChat CLOSED, REVOKED)
)

// Transaction is a payment as the channel sees it.
type Transaction struct {
	PaymentNo   string
	ProviderRef string // the channel's transaction id (WeChat: transaction_id)
	State       TxState
	// Amount is what the payment was for, as the channel reports it (WeChat:
	// amount.total); the service compares it with the order. A channel
	// voucher may have paid part of it (WeChat: payer_total is then less).
	Amount commerce.Money
	Payer  string
	PaidAt time.Time
	Attach string
	// Merchant and App are the channel account the payment belongs to
	// (WeChat: mchid, appid); the service rejects notifications for another.
	Merchant string
	App      string
	// Account is the sub-merchant the channel says the payment belongs to
	// (zero for a direct merchant's); the service rejects a notification
	// whose account is not the payment's.
	Account Account
	// Exchange is what the payer paid in their own currency when it is not
	// Amount's (cross-border WeChat Pay: payer_total in payer_currency, and
	// the exchange rate); nil otherwise.
	Exchange *Exchange
}

// Exchange is a cross-border payment's or refund's other side: what the
// payer paid, or got back, in their own currency, and the rate the channel
// applied. minishop records it as the channel reports it and never
// converts money itself: amounts in two currencies are never added.
type Exchange struct {
	// Payer is the amount in the payer's currency (cross-border WeChat
	// Pay: payer_total in payer_currency, CNY for a mainland wallet; for a
	// refund, payer_refund).
	Payer commerce.Money
	// Rate is how many units of Payer's currency one unit of the payment's
	// currency cost (cross-border WeChat Pay: exchange_rate.rate / 10^8);
	// zero when the channel reports none. RateType is the channel's name
	// for it (WeChat: SETTLEMENT_RATE).
	Rate     decimal.Decimal
	RateType string `json:",omitempty"`
}

// RefundRequest asks a channel for a refund.
type RefundRequest struct {
	Account     Account // the payment's account at the channel
	RefundNo    string  // the merchant's refund number (WeChat: out_refund_no), unique
	PaymentNo   string
	ProviderRef string         // the channel's transaction id, when known
	Amount      commerce.Money // to return now
	Total       commerce.Money // what the payment took
	Reason      string
}

// RefundState is a refund's state at the channel.
type RefundState string

// Refund states.
const (
	RefundProcessing RefundState = "processing"
	RefundSucceeded  RefundState = "succeeded"
	RefundFailed     RefundState = "failed" // WeChat CLOSED or ABNORMAL
)

// RefundResult is a refund as the channel sees it.
type RefundResult struct {
	RefundNo    string
	PaymentNo   string
	ProviderRef string // the channel's refund id (WeChat: refund_id)
	State       RefundState
	Amount      commerce.Money // refunded (WeChat: amount.refund)
	Reason      string         // why it failed, when it did
	At          time.Time
	// Account is the sub-merchant the channel says the refund belongs to
	// (zero for a direct merchant's).
	Account Account
	// Exchange is what the payer got back in their own currency when it is
	// not Amount's (cross-border WeChat Pay refunds at the payment's rate);
	// nil otherwise.
	Exchange *Exchange
}

// NotificationKind says what a notification reports.
type NotificationKind string

// Notification kinds.
const (
	NotifyPayment NotificationKind = "payment"
	NotifyRefund  NotificationKind = "refund"
)

// Notification is a verified, decoded notification from a channel.
type Notification struct {
	ID        string // the channel's notification id (WeChat: id)
	Kind      NotificationKind
	EventType string // the channel's own name (WeChat: TRANSACTION.SUCCESS, REFUND.SUCCESS...)
	// CreatedAt is when the channel created the notification (WeChat:
	// create_time, which payment/wechatpay requires); zero when the
	// channel reports no time.
	CreatedAt   time.Time
	Transaction *Transaction // for NotifyPayment
	Refund      *RefundResult
	Transfer    *Transfer // for NotifyTransfer
}
