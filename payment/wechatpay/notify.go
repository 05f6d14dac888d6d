package wechatpay

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/payment"
)

// The only cipher API v3 uses for notification resources.
const resourceAlgorithm = "AEAD_AES_256_GCM"

const notifyOp = "wechatpay.parse_notification"

type (
	notificationEnvelope struct {
		ID           string             `json:"id"`
		CreateTime   json.RawMessage    `json:"create_time"`
		EventType    string             `json:"event_type"`
		ResourceType string             `json:"resource_type"`
		Summary      string             `json:"summary"`
		Resource     *encryptedResource `json:"resource"`
	}
	encryptedResource struct {
		Algorithm      string `json:"algorithm"`
		Ciphertext     string `json:"ciphertext"`
		AssociatedData string `json:"associated_data"`
		Nonce          string `json:"nonce"`
		OriginalType   string `json:"original_type"`
	}
)

// ParseNotification verifies a notification WeChat Pay posted to NotifyURL
// and returns it decoded: TRANSACTION.* events as a payment notification
// with Transaction set, REFUND.* events as a refund notification with Refund
// set, MCHTRANSFER.* events (a transfer bill's final state) as a transfer
// notification with Transfer set. Any other event type is an error, so nothing unexpected is silently
// acknowledged.
//
// Nothing is believed before the signature over the exact body bytes has
// been checked with the configured key named by Wechatpay-Serial (under
// Wechatpay-Signature-Type WECHATPAY2-SHA256-RSA2048, when the header is
// sent) and the timestamp found fresh; then the resource must decrypt
// (AEAD_AES_256_GCM with the APIv3 key) and name this merchant.
// Authentication failures wrap ErrVerification. The envelope's create_time
// must be RFC 3339 and becomes Notification.CreatedAt; a notification
// without one, or with another format, is refused with a KindInvalid
// *commerce.Error naming the field create_time. The body is read up to
// 1 MiB. It never panics.
//
// A valid notification may arrive more than once (WeChat retries until
// acknowledged); act on it idempotently. Reply with NotificationAck.
func (c *Client) ParseNotification(ctx context.Context, r *http.Request) (*payment.Notification, error) {
	const op = notifyOp
	if ctx != nil {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	if r == nil || r.Body == nil {
		return nil, fmt.Errorf("%s: no request body", op)
	}
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("%s: method %s, WeChat Pay posts notifications", op, truncate(r.Method, 16))
	}
	body, err := readCapped(r.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: reading body: %w", op, err)
	}
	if err := checkSignatureType(r.Header); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if err := c.verify(ctx, r.Header, body); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	n, err := c.decodeNotification(body)
	if err != nil {
		var ce *commerce.Error
		if errors.As(err, &ce) {
			return nil, err // names op and the field already
		}
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return n, nil
}

// checkSignatureType applies the one rule that is the notifications' own: a
// notification may name its signature suite in Wechatpay-Signature-Type,
// and API v3 defines one, WECHATPAY2-SHA256-RSA2048. An absent header means
// that one; any other value (or several) is refused rather than verified
// some other way. Responses are not checked for it (see verify).
func checkSignatureType(h http.Header) error {
	if t := h.Values(hdrSigType); len(t) > 0 {
		if len(t) != 1 || t[0] != authScheme {
			return verifyErr("%s %q is not %s", hdrSigType, truncate(strings.Join(t, ","), 64), authScheme)
		}
	}
	return nil
}

// decodeNotification decodes a verified notification body.
func (c *Client) decodeNotification(body []byte) (*payment.Notification, error) {
	var env notificationEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("body is not a notification: %w", err)
	}
	if env.ID == "" {
		return nil, errors.New("notification has no id")
	}
	created, err := parseCreateTime(env.CreateTime)
	if err != nil {
		return nil, commerce.Invalid(notifyOp, "create_time", "notification %s: %v", env.ID, err)
	}
	n := &payment.Notification{ID: env.ID, EventType: env.EventType, CreatedAt: created}
	var originalType string
	switch {
	case strings.HasPrefix(env.EventType, "TRANSACTION."):
		n.Kind, originalType = payment.NotifyPayment, "transaction"
	case strings.HasPrefix(env.EventType, "REFUND."):
		n.Kind, originalType = payment.NotifyRefund, "refund"
	case strings.HasPrefix(env.EventType, "MCHTRANSFER."):
		n.Kind, originalType = payment.NotifyTransfer, "mch_payment"
	default:
		return nil, fmt.Errorf("notification %s: unsupported event_type %q", env.ID, truncate(env.EventType, 64))
	}
	if env.ResourceType != "encrypt-resource" {
		return nil, fmt.Errorf("notification %s: resource_type %q, want encrypt-resource", env.ID, truncate(env.ResourceType, 64))
	}
	if env.Resource == nil {
		return nil, fmt.Errorf("notification %s: no resource", env.ID)
	}
	if t := env.Resource.OriginalType; t != "" && t != originalType {
		return nil, fmt.Errorf("notification %s: %s carries a %q resource, want %q", env.ID, env.EventType, truncate(t, 32), originalType)
	}
	plain, err := decryptResource([]byte(c.cfg.APIv3Key), env.Resource)
	if err != nil {
		return nil, fmt.Errorf("notification %s: %w", env.ID, err)
	}
	switch n.Kind {
	case payment.NotifyPayment:
		var w wireTransaction
		if err := json.Unmarshal(plain, &w); err != nil {
			return nil, fmt.Errorf("notification %s: transaction: %w", env.ID, err)
		}
		mch, app := c.merchantOf(&w)
		if mch != c.cfg.MchID {
			return nil, fmt.Errorf("notification %s: for merchant %q, this is %q", env.ID, truncate(mch, 32), c.cfg.MchID)
		}
		// A payment under another app of the same merchant is not one this
		// client opened: its openid and order numbers mean something else.
		if app != c.cfg.AppID {
			return nil, fmt.Errorf("notification %s: for app %q, this is %q", env.ID, truncate(app, 32), c.cfg.AppID)
		}
		// A partner notification names its sub-merchant; the payment
		// service checks it is the payment's.
		if c.partner() && w.SubMchID == "" {
			return nil, fmt.Errorf("notification %s: a service provider's transaction without sub_mchid", env.ID)
		}
		if n.Transaction, err = c.toTransaction(&w); err != nil {
			return nil, fmt.Errorf("notification %s: %w", env.ID, err)
		}
	case payment.NotifyRefund:
		var w wireRefund
		if err := json.Unmarshal(plain, &w); err != nil {
			return nil, fmt.Errorf("notification %s: refund: %w", env.ID, err)
		}
		mch := w.MchID
		if c.partner() {
			mch = w.SpMchID
			if w.SubMchID == "" {
				return nil, fmt.Errorf("notification %s: a service provider's refund without sub_mchid", env.ID)
			}
		}
		if mch != c.cfg.MchID {
			return nil, fmt.Errorf("notification %s: for merchant %q, this is %q", env.ID, truncate(mch, 32), c.cfg.MchID)
		}
		if n.Refund, err = c.toRefundResult(&w, w.RefundStatus); err != nil {
			return nil, fmt.Errorf("notification %s: %w", env.ID, err)
		}
	case payment.NotifyTransfer:
		if n.Transfer, err = c.decodeTransfer(env.ID, plain); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// parseCreateTime reads a notification's create_time: a JSON string in
// RFC 3339 (WeChat writes 2015-05-20T13:29:35+08:00). A notification
// without one, or with a time in any other form, is refused: WeChat always
// sends it so, and a time that must be guessed at is not one to record.
func parseCreateTime(raw json.RawMessage) (time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, errors.New("missing")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, fmt.Errorf("%s is not an RFC 3339 time string", truncate(string(raw), 40))
	}
	if s == "" {
		return time.Time{}, errors.New("missing")
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", truncate(s, 40))
	}
	return t, nil
}

// decryptResource opens a notification resource: AES-256-GCM with the
// APIv3 key, the resource's nonce (12 bytes) and associated data, over the
// base64 ciphertext with the 16-byte tag at its end. Any other algorithm is
// refused rather than guessed at.
func decryptResource(key []byte, r *encryptedResource) ([]byte, error) {
	if r.Algorithm != resourceAlgorithm {
		return nil, verifyErr("resource algorithm %q, want %s", truncate(r.Algorithm, 32), resourceAlgorithm)
	}
	if len(r.Nonce) != 12 {
		return nil, verifyErr("resource nonce is %d bytes, want 12", len(r.Nonce))
	}
	ct, err := base64.StdEncoding.DecodeString(r.Ciphertext)
	if err != nil {
		return nil, verifyErr("resource ciphertext is not base64")
	}
	if len(ct) < 16 {
		return nil, verifyErr("resource ciphertext is shorter than the GCM tag")
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("APIv3 key is %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("APIv3 key: %w", err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	plain, err := gcm.Open(nil, []byte(r.Nonce), ct, []byte(r.AssociatedData))
	if err != nil {
		return nil, verifyErr("resource does not decrypt with the APIv3 key (tampered, or another key)")
	}
	return plain, nil
}

// NotificationAck answers WeChat Pay's notification request the way WeChat
// reads it: the status code decides. A nil err (the notification was
// verified and handled, or was a duplicate already handled) gets 200 with
// no body, and WeChat stops. Anything else gets {"code":"FAIL","message":…}
// with 401 for notifications that failed verification and 500 otherwise, and
// WeChat retries (15 s, 15 s, 30 s, 3 m … for about 24 hours).
//
// The message is generic on purpose: the endpoint is public, and error
// details are for the host's logs, not for whoever posted.
func NotificationAck(w http.ResponseWriter, err error) {
	if err == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	status, msg := http.StatusInternalServerError, "notification not processed"
	if errors.Is(err, ErrVerification) {
		status, msg = http.StatusUnauthorized, "notification verification failed"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}{"FAIL", msg})
}
