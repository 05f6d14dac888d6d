package payment

import (
	"context"
	"errors"
	"time"

	"github.com/minishop/minishop/commerce"
)

// Transfers send money from a merchant's channel account to a person's
// balance at the channel (WeChat Pay: 商家转账, the transfer-bills API of
// 2025, not the retired batch API). The person accepts each one: the
// channel creates a bill, the host's Mini Program shows it to the payee
// with ClientParams, and the bill ends succeeded, failed or cancelled. The
// promoter package pays commission this way.

// TransferPurpose says what a transfer pays, so a channel can pick its own
// scene and report wording (WeChat: transfer_scene_id and
// transfer_scene_report_infos) when the request names none.
type TransferPurpose string

// Transfer purposes.
const (
	// PurposeCommission pays a promoter's commission (WeChat scene 1005,
	// 佣金报酬).
	PurposeCommission TransferPurpose = "commission"
)

// TransferInfo is one line of what a transfer is for, reported to the
// channel and not shown to the payee (WeChat: transfer_scene_report_infos,
// info_type and info_content).
type TransferInfo struct {
	Type, Content string
}

// TransferRequest asks a channel to send Amount to Payee. The channel is
// called outside transactions, keyed by BillNo: sent again with the same
// BillNo and the same fields it creates nothing new, and with other fields
// it is refused.
type TransferRequest struct {
	// Account is the merchant account the money leaves (its zero value is
	// the channel's own merchant).
	Account Account
	// BillNo is the merchant's number for the transfer (WeChat:
	// out_bill_no, at most 32 letters and digits), unique per channel.
	BillNo string
	// Payee is the person paid; WeChat pays a person's openid under the app
	// TransferApp names for the account.
	Payee  Payee
	Amount commerce.Money
	// Remark is shown to the payee (WeChat: transfer_remark, at most 32
	// characters).
	Remark  string
	Purpose TransferPurpose
	// Scene and Report override what Purpose picks (WeChat: the scene id
	// the merchant applied for, and its report lines).
	Scene  string
	Report []TransferInfo
}

// TransferState is a transfer's state at the channel.
type TransferState string

// Transfer states, WeChat's in order. Succeeded, failed and cancelled are
// final.
const (
	TransferAccepted     TransferState = "accepted"     // ACCEPTED: taken, not yet funded
	TransferProcessing   TransferState = "processing"   // PROCESSING: funds being locked
	TransferWaiting      TransferState = "waiting"      // WAIT_USER_CONFIRM: the payee must accept it
	TransferTransferring TransferState = "transferring" // TRANSFERING: accepted, moving
	TransferSucceeded    TransferState = "succeeded"    // SUCCESS
	TransferFailed       TransferState = "failed"       // FAIL (FailReason says why)
	TransferCancelling   TransferState = "cancelling"   // CANCELING
	TransferCancelled    TransferState = "cancelled"    // CANCELLED, and bills the payee never accepted in time
)

// Final reports whether s is an end state: nothing moves after it.
func (s TransferState) Final() bool {
	return s == TransferSucceeded || s == TransferFailed || s == TransferCancelled
}

// Transfer is a transfer as the channel sees it.
type Transfer struct {
	BillNo string
	// ProviderRef is the channel's number for it (WeChat:
	// transfer_bill_no).
	ProviderRef string
	State       TransferState
	FailReason  string
	// Amount and Payee are what the channel reports (zero and empty when
	// an answer carries none).
	Amount commerce.Money
	Payee  string
	// ClientParams, while the transfer waits for the payee, are what the
	// host's client passes to the channel's confirmation UI (WeChat Mini
	// Program: wx.requestMerchantTransfer's mchId, appId, package, and
	// subMchId and subAppId for a sub-merchant).
	ClientParams map[string]string
	// Merchant is the channel account the transfer belongs to (WeChat:
	// mch_id); the payout checks it against its own.
	Merchant         string
	Created, Updated time.Time
}

// Transferer is what a Provider implements to send transfers (as
// payment/wechatpay does). Every method is called outside database
// transactions.
type Transferer interface {
	// TransferApp is the app whose person payees (openids) the account
	// pays: a payee under another app cannot be paid by it.
	TransferApp(a Account) string
	// ValidateTransfer reports, naming the field, what the channel would
	// refuse of r, without calling it: a payout checks before it records
	// anything.
	ValidateTransfer(r TransferRequest) error
	// CreateTransfer creates the transfer. Called again with the same
	// BillNo and fields it must not create a second one, and must answer
	// with the transfer's current state (and ClientParams while waiting).
	CreateTransfer(ctx context.Context, r TransferRequest) (*Transfer, error)
	// QueryTransfer returns the transfer's state; an error of
	// commerce.KindNotFound when the channel has no such bill.
	QueryTransfer(ctx context.Context, a Account, billNo string) (*Transfer, error)
	// CancelTransfer asks the channel to cancel a transfer the payee has
	// not accepted; the answer is usually cancelling, final later.
	CancelTransfer(ctx context.Context, a Account, billNo string) (*Transfer, error)
}

// NotifyTransfer is the kind of a transfer's final-state notification
// (WeChat: MCHTRANSFER.BILL.FINISHED); Notification.Transfer carries it.
const NotifyTransfer NotificationKind = "transfer"

// TransferHandler applies a verified transfer notification, inside the
// transaction that logs it (Config.Transfers; the promoter package's
// ApplyTransfer). A transfer it knows nothing of is an error wrapping
// ErrUnknownTransfer: the notification is then logged as rejected.
type TransferHandler func(ctx context.Context, provider string, t *Transfer) (Outcome, error)

// ErrUnknownTransfer is wrapped by a TransferHandler's error for a bill it
// did not make.
var ErrUnknownTransfer = errors.New("no such transfer")

// applyTransfer applies a transfer notification inside the transaction.
func (s *Service) applyTransfer(ctx context.Context, provider string, t *Transfer) (Outcome, error) {
	if s.transfers == nil {
		return "", reject("transfer %s: no transfer handler is configured", t.BillNo)
	}
	if !t.State.Final() {
		return Duplicate, nil // only final states are notified; nothing to do
	}
	out, err := s.transfers(ctx, provider, t)
	if errors.Is(err, ErrUnknownTransfer) {
		return "", reject("transfer %s: %v", t.BillNo, err)
	}
	return out, err
}

// checkTransferNotification lists what a store could not keep of a
// transfer notification, for checkNotification.
func checkTransferNotification(op string, t *Transfer) []error {
	key := func(field, s string, max int) error {
		return commerce.CheckKey(op, "notification.transfer."+field, s, false, max)
	}
	return []error{
		key("bill_no", t.BillNo, MaxPaymentNoLen),
		key("provider_ref", t.ProviderRef, commerce.MaxKeyLen),
		key("state", string(t.State), MaxKindLen),
		key("payee", t.Payee, commerce.MaxKeyLen),
		key("merchant", t.Merchant, commerce.MaxKeyLen),
		commerce.CheckText(op, "notification.transfer.fail_reason", t.FailReason, false, len(t.FailReason)),
	}
}
