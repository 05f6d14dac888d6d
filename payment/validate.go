package payment

import (
	"unicode/utf8"

	"github.com/minishop/minishop/commerce"
)

// Limits on what minishop keeps of a payment, so that every store can keep
// it as given (the narrowest columns are MySQL's; the migrations make every
// column at least this wide). Strings are counted in characters.
const (
	// MaxPaymentNoLen bounds payment and refund numbers: minishop makes
	// them 32 characters; WeChat Pay allows 6 to 32 (out_trade_no,
	// out_refund_no) and some channels 64.
	MaxPaymentNoLen = 64
	// MaxEventTypeLen bounds a channel's event type (WeChat:
	// TRANSACTION.SUCCESS).
	MaxEventTypeLen = 64
	// MaxProviderLen bounds a provider's name.
	MaxProviderLen = 64
	// MaxKindLen bounds a notification's kind ("payment", "refund").
	MaxKindLen = 16
	// MaxLedgerRefLen bounds a ledger entry's reference (a payment or
	// refund number, a commission's id).
	MaxLedgerRefLen = 64
	// MaxDescriptionLen bounds what the payer is shown (WeChat: 127).
	MaxDescriptionLen = 127
	// MaxReasonLen bounds a reason kept in the notification log or on a
	// refund: a channel's failure reason and minishop's own rejection
	// reasons are cut to it (with "…") rather than refused, since the
	// event they explain must still be recorded. It is the kernel's
	// MaxShortTextLen, so a refund's failure reason always fits the
	// kernel's own check.
	MaxReasonLen = commerce.MaxShortTextLen
)

// checkNotification validates a verified notification before anything is
// read or written for it. A channel's signature proves who sent it, not
// that every store can keep what it says: an id with a NUL, invalid UTF-8
// in a payer or an overlong number must be refused alike on every store, as
// KindInvalid naming the field (the HTTP handler answers 400), never left
// for a store to refuse as an internal error (500, and the channel would
// send it again forever). The result is n, or a copy of it with the
// channel's failure reason cut to MaxReasonLen.
func checkNotification(op, provider string, n *Notification) (*Notification, error) {
	key := func(field, s string, max int) error {
		return commerce.CheckKey(op, "notification."+field, s, false, max)
	}
	errs := []error{
		commerce.CheckKey(op, "provider", provider, true, MaxProviderLen),
		key("id", n.ID, commerce.MaxKeyLen),
		key("kind", string(n.Kind), MaxKindLen),
		key("event_type", n.EventType, MaxEventTypeLen),
	}
	if t := n.Transaction; t != nil {
		errs = append(errs,
			key("transaction.payment_no", t.PaymentNo, MaxPaymentNoLen),
			key("transaction.provider_ref", t.ProviderRef, commerce.MaxKeyLen),
			key("transaction.state", string(t.State), MaxKindLen),
			key("transaction.payer", t.Payer, commerce.MaxKeyLen),
			key("transaction.merchant", t.Merchant, commerce.MaxKeyLen),
			key("transaction.app", t.App, commerce.MaxKeyLen),
			key("transaction.account.sub_merchant", t.Account.SubMerchant, commerce.MaxKeyLen),
			key("transaction.account.sub_app", t.Account.SubApp, commerce.MaxKeyLen),
			commerce.CheckText(op, "notification.transaction.attach", t.Attach, false, commerce.MaxKeyLen))
	}
	if r := n.Refund; r != nil {
		errs = append(errs,
			key("refund.refund_no", r.RefundNo, MaxPaymentNoLen),
			key("refund.payment_no", r.PaymentNo, MaxPaymentNoLen),
			key("refund.provider_ref", r.ProviderRef, commerce.MaxKeyLen),
			key("refund.state", string(r.State), MaxKindLen),
			key("refund.account.sub_merchant", r.Account.SubMerchant, commerce.MaxKeyLen),
			// Any length is fine (cut below), but not what a store
			// cannot keep.
			commerce.CheckText(op, "notification.refund.reason", r.Reason, false, len(r.Reason)))
	}
	if t := n.Transfer; t != nil {
		errs = append(errs, checkTransferNotification(op, t)...)
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	if r := n.Refund; r != nil && utf8.RuneCountInString(r.Reason) > MaxReasonLen {
		cp, rcp := *n, *r
		rcp.Reason = boundReason(r.Reason)
		cp.Refund = &rcp
		return &cp, nil
	}
	return n, nil
}

// boundReason cuts a reason to MaxReasonLen characters, ending it with "…"
// when it was cut. Reasons minishop writes quote what they refuse; cut, a
// 3 MB rejection cannot fill the notification log (or overflow MySQL's
// TEXT).
func boundReason(s string) string {
	if utf8.RuneCountInString(s) <= MaxReasonLen {
		return s
	}
	r := []rune(s)
	return string(r[:MaxReasonLen-1]) + "…"
}

// checkPay validates PayParams' strings.
func checkPay(op string, p PayParams) error {
	for _, err := range []error{
		commerce.CheckKey(op, "provider", p.Provider, false, MaxProviderLen),
		commerce.CheckKey(op, "payer", p.Payer, false, commerce.MaxKeyLen),
		commerce.CheckKey(op, "payer_app", p.PayerApp, false, commerce.MaxKeyLen),
		commerce.CheckText(op, "description", p.Description, false, MaxDescriptionLen),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// checkLedgerRef validates a ledger reference given by a caller.
func checkLedgerRef(op, ref string) error {
	return commerce.CheckKey(op, "ref", ref, true, MaxLedgerRefLen)
}
