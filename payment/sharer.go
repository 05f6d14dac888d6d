package payment

import (
	"context"
	"time"

	"github.com/minishop/minishop/commerce"
)

// Profit sharing (WeChat Pay: 分账) sends parts of a payment, frozen at the
// channel since it was paid, to other accounts: a promoter's or an agency's
// commission, a service provider's fee. A payment opened with profit
// sharing (CreateRequest.ProfitSharing) stays frozen until a sharing order
// takes its parts and the rest is unfrozen to the merchant, or until the
// channel's freeze period ends (WeChat: 30 days) and it unfreezes on its
// own. The channel answers a sharing order asynchronously: processing, then
// finished with each receiver succeeded or closed.

// ShareState is a sharing order's state at the channel.
type ShareState string

// Sharing order states (WeChat: PROCESSING, FINISHED).
const (
	ShareProcessing ShareState = "processing"
	ShareFinished   ShareState = "finished"
)

// ShareResultState is one receiver's outcome in a sharing order.
type ShareResultState string

// Receiver outcomes (WeChat: PENDING, SUCCESS, CLOSED).
const (
	SharePending   ShareResultState = "pending"
	ShareSucceeded ShareResultState = "succeeded"
	// ShareClosed: the channel did not pay the receiver (FailReason says
	// why); the money stays with the merchant.
	ShareClosed ShareResultState = "closed"
)

// Relation is what a receiver is to the merchant, which the channel asks
// when the receiver is added (WeChat: relation_type).
type Relation string

// Receiver relations (WeChat's names).
const (
	RelationServiceProvider Relation = "SERVICE_PROVIDER"
	RelationDistributor     Relation = "DISTRIBUTOR" // a promoter
	RelationPartner         Relation = "PARTNER"     // an agency
	RelationSupplier        Relation = "SUPPLIER"
)

// ShareReceiver is one receiver of a sharing order and what it gets.
type ShareReceiver struct {
	Payee    Payee
	Relation Relation
	Amount   commerce.Money
	// Description is shown to the receiver (WeChat: at most 80 characters).
	Description string
}

// ShareRequest asks a channel for a sharing order. Called again with the
// same OrderNo it creates nothing new.
type ShareRequest struct {
	Account Account
	// TransactionID is the channel's number for the payment shared
	// (Payment.ProviderRef).
	TransactionID string
	// OrderNo is the merchant's number for the sharing order (WeChat:
	// out_order_no, at most 64 characters of [0-9A-Za-z_-|*@]).
	OrderNo   string
	Receivers []ShareReceiver
	// UnfreezeRest releases what the order leaves unshared to the merchant
	// once it finishes (WeChat: unfreeze_unsplit).
	UnfreezeRest bool
	// Paid is what the payment took, against which the channel checks the
	// sharing limits (a receiver total over Paid × the merchant's maximum
	// ratio is refused).
	Paid commerce.Money
}

// ShareReceiverResult is one receiver's line as the channel reports it.
type ShareReceiverResult struct {
	Kind        PayeeKind
	Account     string
	Amount      commerce.Money
	Description string
	Result      ShareResultState
	// FailReason is why a closed receiver was not paid (WeChat:
	// ACCOUNT_ABNORMAL, NO_RELATION, RECEIVER_HIGH_RISK,
	// RECEIVER_REAL_NAME_NOT_VERIFIED, NO_AUTH).
	FailReason string
	DetailID   string
	Finished   time.Time
}

// ShareResult is a sharing order (or an unfreeze, which the channel
// answers as one) as the channel reports it.
type ShareResult struct {
	OrderNo       string
	TransactionID string
	// ProviderRef is the channel's number for the order (WeChat: order_id).
	ProviderRef string
	State       ShareState
	Receivers   []ShareReceiverResult
}

// ReturnState is a share return's state at the channel.
type ReturnState string

// Share return states (WeChat: PROCESSING, SUCCESS, FAILED).
const (
	ReturnProcessing ReturnState = "processing"
	ReturnSucceeded  ReturnState = "succeeded"
	ReturnFailed     ReturnState = "failed"
)

// ReturnRequest asks a channel to take back part of what a sharing order
// paid a business receiver (WeChat: 分账回退; a person's share cannot be
// taken back). Called again with the same ReturnNo it returns nothing
// twice.
type ReturnRequest struct {
	Account Account
	// OrderNo is the sharing order the money went out in.
	OrderNo string
	// ReturnNo is the merchant's number for the return (WeChat:
	// out_return_no, at most 64 characters).
	ReturnNo string
	// From is the business receiver's merchant number (WeChat:
	// return_mchid).
	From        string
	Amount      commerce.Money
	Description string
}

// ReturnResult is a share return as the channel reports it.
type ReturnResult struct {
	ReturnNo    string
	OrderNo     string
	ProviderRef string // WeChat: return_id
	State       ReturnState
	Amount      commerce.Money
	// FailReason is why it failed (WeChat: ACCOUNT_ABNORMAL,
	// BALANCE_NOT_ENOUGH, TIME_OUT_CLOSED).
	FailReason string
}

// Sharer is what a Provider implements for profit sharing (as
// payment/wechatpay does). Every method is called outside database
// transactions, keyed by the merchant's numbers so that a call repeated
// after a timeout acts once at the channel.
type Sharer interface {
	// ShareApps are the apps whose person payees (openids) the account's
	// sharing orders can pay, preferred first (WeChat: the merchant's or
	// provider's appid, PERSONAL_OPENID; a sub-merchant's sub_appid,
	// PERSONAL_SUB_OPENID).
	ShareApps(a Account) []string
	// ValidateShare reports, naming the field, what the channel would
	// refuse of r (its limits: receivers per order, the maximum ratio,
	// lengths, a receiver it cannot pay), without calling it: the payment
	// service checks before it records anything.
	ValidateShare(r ShareRequest) error
	// AddReceiver makes r's payee a receiver of the account's sharing
	// orders (WeChat: receivers/add, the name encrypted). Adding one again
	// is not an error.
	AddReceiver(ctx context.Context, a Account, r ShareReceiver) error
	// CreateShare creates the sharing order.
	CreateShare(ctx context.Context, r ShareRequest) (*ShareResult, error)
	// QueryShare returns a sharing order's (or an unfreeze's) state; an
	// error of commerce.KindNotFound when the channel has none.
	QueryShare(ctx context.Context, a Account, transactionID, orderNo string) (*ShareResult, error)
	// UnfreezeShare releases what is left of the payment to the merchant
	// under orderNo, a number of its own (WeChat: orders/unfreeze).
	UnfreezeShare(ctx context.Context, a Account, transactionID, orderNo, description string) (*ShareResult, error)
	// ReturnShare takes money back from a business receiver (WeChat's
	// return orders answer at once, though a result may still be
	// processing).
	ReturnShare(ctx context.Context, r ReturnRequest) (*ReturnResult, error)
	// QueryReturn returns a share return's state.
	QueryReturn(ctx context.Context, a Account, orderNo, returnNo string) (*ReturnResult, error)
}
