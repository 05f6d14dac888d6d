package wechat

import (
	"cmp"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/minishop/minishop/storage"
)

// KindPush is the record of a push applied, keyed by app id, sender,
// CreateTime, event and subject; it exists so a redelivery changes nothing.
const KindPush = "push"

// pushApplied is the status of a push record.
const pushApplied = "applied"

// DefaultMaxClockSkew is how far a push's timestamp may be from the
// client's clock, either side, before it is refused as a replay: WeChat
// sends its retries within a minute, and servers keep NTP time.
const DefaultMaxClockSkew = 5 * time.Minute

// MaxPushBody caps a push's body. Events are a few hundred bytes (three
// times that in compatible mode).
const MaxPushBody = 1 << 20

// PushConfig is the message-push configuration of the app, as set in its
// admin console (开发管理 → 消息推送).
type PushConfig struct {
	// Token signs every push: 3 to 32 letters and digits.
	Token string
	// EncodingAESKey (43 letters and digits) is the key of safe and
	// compatible mode. When set, unencrypted pushes are refused. Empty:
	// plaintext mode.
	EncodingAESKey string
	// PreviousAESKey is the key before the last change, tried when the
	// current one does not open a push, so pushes sealed under it during a
	// rotation are not lost. Empty when there is none.
	PreviousAESKey string
	// OriginalID is the app's original id (gh_…). When set, a push for
	// another ToUserName is refused; when empty, only the plain and the
	// encrypted ToUserName must agree.
	OriginalID string
	// MaxClockSkew bounds the distance between a push's timestamp and the
	// client's clock; default DefaultMaxClockSkew, at most an hour.
	MaxClockSkew time.Duration
	// Refused, when set, is told of every push answered with another status
	// than 200, with the reason (a *commerce.Error naming the field; the
	// error of the host's function for 500). It is called from the
	// handler's goroutines, so it must be safe for concurrent use, and it
	// must not block.
	Refused func(status int, err error)
}

// check validates cfg and returns its keys (current first).
func (cfg PushConfig) check() ([][]byte, error) {
	const op = "wechat.push_handler"
	if n := len(cfg.Token); n < 3 || n > 32 || badChar(cfg.Token, "") >= 0 {
		return nil, invalid(op, "token", "is not 3 to 32 letters and digits (%d characters)", n)
	}
	if cfg.MaxClockSkew < 0 || cfg.MaxClockSkew > time.Hour {
		return nil, invalid(op, "max_clock_skew", "%v is not between 0 and an hour", cfg.MaxClockSkew)
	}
	if cfg.OriginalID != "" && (!strings.HasPrefix(cfg.OriginalID, "gh_") || len(cfg.OriginalID) > 32) {
		return nil, invalid(op, "original_id", "%q is not an original id (gh_…)", truncate(cfg.OriginalID, 40))
	}
	var keys [][]byte
	for _, k := range []struct{ field, v string }{{"encoding_aes_key", cfg.EncodingAESKey}, {"previous_aes_key", cfg.PreviousAESKey}} {
		if k.v == "" {
			continue
		}
		// The key's length only: the key itself never goes into an error.
		if len(k.v) != 43 || badChar(k.v, "") >= 0 {
			return nil, invalid(op, k.field, "is not 43 letters and digits (%d characters)", len(k.v))
		}
		key, err := base64.StdEncoding.DecodeString(k.v + "=")
		if err != nil || len(key) != 32 {
			return nil, invalid(op, k.field, "does not decode to a 32-byte key")
		}
		keys = append(keys, key)
	}
	if cfg.EncodingAESKey == "" && cfg.PreviousAESKey != "" {
		return nil, invalid(op, "encoding_aes_key", "is empty while previous_aes_key is set")
	}
	return keys, nil
}

// PushHandler returns the handler of the app's developer server URL. handle
// is called once per push, inside a store transaction (see the package
// documentation): its store writes commit with the push's record, it must
// have no effect outside the store (the transaction may run again), and it
// should be quick, as WeChat waits five seconds; work that calls out
// belongs in the outbox. An error from handle answers 500 and WeChat
// retries.
func (c *Client) PushHandler(cfg PushConfig, handle func(ctx context.Context, m *Message) error) (http.Handler, error) {
	keys, err := cfg.check()
	if err != nil {
		return nil, err
	}
	if handle == nil {
		return nil, invalid("wechat.push_handler", "handle", "is nil")
	}
	blocks := make([]cipher.Block, len(keys))
	for i, k := range keys {
		if blocks[i], err = aes.NewCipher(k); err != nil {
			return nil, fail("wechat.push_handler", err)
		}
	}
	return &pushHandler{c: c, token: cfg.Token, keys: keys, blocks: blocks, originalID: cfg.OriginalID,
		skew: cmp.Or(cfg.MaxClockSkew, DefaultMaxClockSkew), handle: handle, refused: cfg.Refused}, nil
}

type pushHandler struct {
	c          *Client
	token      string
	keys       [][]byte // current, then previous
	blocks     []cipher.Block
	originalID string
	skew       time.Duration
	handle     func(ctx context.Context, m *Message) error
	refused    func(status int, err error)
}

const pushOp = "wechat.push"

// refusal is an answer other than 200: its status, and the reason (safe to
// show: it never holds the Token, a key or the plaintext).
type refusal struct {
	status int
	err    error
	public string // the answer's text when err's may not be shown
}

func refuse(status int, field, format string, args ...any) *refusal {
	return &refusal{status: status, err: invalid(pushOp, field, format, args...)}
}

func (h *pushHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, ref := h.serve(r)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if ref != nil {
		if h.refused != nil {
			h.refused(ref.status, ref.err)
		}
		w.WriteHeader(ref.status)
		body = cmp.Or(ref.public, ref.err.Error())
	}
	_, _ = io.WriteString(w, body)
}

// serve answers r: the body of a 200 answer, or a refusal.
func (h *pushHandler) serve(r *http.Request) (string, *refusal) {
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query()
		if ref := h.verify(q.Get("timestamp"), q.Get("nonce"), q.Get("signature")); ref != nil {
			return "", ref
		}
		echo := q.Get("echostr")
		if echo == "" {
			return "", refuse(http.StatusBadRequest, "echostr", "is missing")
		}
		return echo, nil
	case http.MethodPost:
		m, ref := h.message(r)
		if ref != nil {
			return "", ref
		}
		if err := h.apply(r.Context(), m); err != nil {
			// The host's error may say anything: it goes to Refused only.
			return "", &refusal{status: http.StatusInternalServerError, err: err, public: "the push could not be applied; retry"}
		}
		return "success", nil
	}
	return "", refuse(http.StatusMethodNotAllowed, "method", "%s is neither GET nor POST", truncate(r.Method, 10))
}

// message verifies, decrypts and parses a POSTed push.
func (h *pushHandler) message(r *http.Request) (*Message, *refusal) {
	q := r.URL.Query()
	ts, nonce := q.Get("timestamp"), q.Get("nonce")
	if ref := h.verify(ts, nonce, q.Get("signature")); ref != nil {
		return nil, ref
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxPushBody+1))
	switch {
	case err != nil:
		return nil, refuse(http.StatusBadRequest, "body", "could not be read")
	case len(body) > MaxPushBody:
		return nil, refuse(http.StatusRequestEntityTooLarge, "body", "is larger than %d bytes", MaxPushBody)
	}
	m, ref := h.open(q, ts, nonce, body)
	if ref != nil {
		return nil, ref
	}
	if h.originalID != "" && m.ToUserName != h.originalID {
		return nil, refuse(http.StatusForbidden, "to_user_name", "%q is not this app's original id", truncate(m.ToUserName, 40))
	}
	return m, nil
}

// verify checks the signature of the query and the timestamp's freshness.
func (h *pushHandler) verify(ts, nonce, sig string) *refusal {
	switch {
	case sig == "":
		return refuse(http.StatusUnauthorized, "signature", "is missing")
	case ts == "":
		return refuse(http.StatusBadRequest, "timestamp", "is missing")
	case nonce == "":
		return refuse(http.StatusBadRequest, "nonce", "is missing")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sec <= 0 {
		return refuse(http.StatusBadRequest, "timestamp", "%q is not unix seconds", truncate(ts, 24))
	}
	if !signed(sig, h.token, ts, nonce) {
		return refuse(http.StatusUnauthorized, "signature", "does not match")
	}
	// Checked after the signature, so only a signed timestamp is judged.
	at := time.Unix(sec, 0)
	if now := h.c.Now(); at.Before(now.Add(-h.skew)) || at.After(now.Add(h.skew)) {
		return refuse(http.StatusUnauthorized, "timestamp", "is more than %v from the server's clock: a replay, or a clock to set right", h.skew)
	}
	return nil
}

// open turns a POST body into its message: decrypted in safe and
// compatible mode, as it came in plaintext mode.
func (h *pushHandler) open(q url.Values, ts, nonce string, body []byte) (*Message, *refusal) {
	if len(h.keys) == 0 {
		m, err := parseMessage(body)
		if err != nil {
			if e, eerr := parseEnvelope(body); eerr == nil && e.Encrypt != "" {
				return nil, refuse(http.StatusBadRequest, "encrypt", "the push is encrypted, but no EncodingAESKey is configured")
			}
			return nil, refuse(http.StatusBadRequest, "body", "%v", err)
		}
		return m, nil
	}
	e, err := parseEnvelope(body)
	switch {
	case err != nil:
		return nil, refuse(http.StatusBadRequest, "body", "%v", err)
	case e.Encrypt == "":
		return nil, refuse(http.StatusForbidden, "encrypt", "is missing: safe mode is required and the push is not encrypted")
	case q.Get("encrypt_type") != "" && q.Get("encrypt_type") != "aes":
		return nil, refuse(http.StatusBadRequest, "encrypt_type", "%q is not aes", truncate(q.Get("encrypt_type"), 16))
	case q.Get("msg_signature") == "":
		return nil, refuse(http.StatusUnauthorized, "msg_signature", "is missing")
	case !signed(q.Get("msg_signature"), h.token, ts, nonce, e.Encrypt):
		return nil, refuse(http.StatusUnauthorized, "msg_signature", "does not match")
	}
	sealed, err := base64.StdEncoding.DecodeString(e.Encrypt)
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "encrypt", "is not base64")
	}
	if len(sealed) == 0 || len(sealed)%pushBlock != 0 {
		return nil, refuse(http.StatusBadRequest, "encrypt", "is %d bytes, not a multiple of %d", len(sealed), pushBlock)
	}
	var raw []byte
	for i, b := range h.blocks {
		if raw = openPush(b, h.keys[i][:aes.BlockSize], sealed, h.c.AppID()); raw != nil {
			break
		}
	}
	if raw == nil {
		// One answer for a bad padding, a bad length and another app's id,
		// so the answers are no padding oracle. (CBC has no integrity: a
		// holder of the Token could still alter a message blindly. The
		// Token is what keeps forgers out, as WeChat designed it.)
		return nil, refuse(http.StatusForbidden, "encrypt", "does not open to a message for this app (another key or app id)")
	}
	m, err := parseMessage(raw)
	if err != nil {
		// What is wrong is told to Refused only: quoting the plaintext back
		// would make the answers a decryption oracle.
		ref := refuse(http.StatusBadRequest, "encrypt", "the decrypted message %v", err)
		ref.public = pushOp + ": encrypt: the decrypted message is malformed"
		return nil, ref
	}
	if e.ToUserName != "" && e.ToUserName != m.ToUserName {
		return nil, refuse(http.StatusForbidden, "to_user_name", "the plain ToUserName is not the encrypted one")
	}
	return m, nil
}

// signed reports whether sig (lowercase hex, as WeChat sends) is the sha1
// of the sorted parts, joined: the signature over the Token, timestamp and
// nonce; msg_signature over Encrypt as well. The comparison takes constant
// time.
func signed(sig string, parts ...string) bool {
	var got [sha1.Size]byte
	if len(sig) != 2*sha1.Size || strings.ToLower(sig) != sig {
		return false
	}
	if _, err := hex.Decode(got[:], []byte(sig)); err != nil {
		return false
	}
	slices.Sort(parts)
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	joined := make([]byte, 0, n)
	for _, p := range parts {
		joined = append(joined, p...)
	}
	want := sha1.Sum(joined)
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// pushBlock is the PKCS#7 block size of WeChat's message encryption: 32,
// not AES's 16.
const pushBlock = 32

// openPush decrypts sealed (a multiple of 32 bytes) with AES-256-CBC, the
// IV being the key's first 16 bytes, and returns the message if the
// plaintext is random(16) ‖ length(4, big endian) ‖ message ‖ appid with
// a valid padding; nil otherwise.
func openPush(b cipher.Block, iv, sealed []byte, appid string) []byte {
	pt := make([]byte, len(sealed))
	cipher.NewCBCDecrypter(b, iv).CryptBlocks(pt, sealed)
	pt, ok := unpad(pt, pushBlock)
	if !ok {
		return nil
	}
	if len(pt) < 20 {
		return nil
	}
	size := binary.BigEndian.Uint32(pt[16:20])
	if uint64(size) > uint64(len(pt)-20) {
		return nil
	}
	msg, id := pt[20:20+size], pt[20+size:]
	if subtle.ConstantTimeCompare(id, []byte(appid)) != 1 {
		return nil
	}
	return msg
}

// apply runs handle once for m: the push's record and handle's writes
// commit together, and a push already recorded is not applied again.
func (h *pushHandler) apply(ctx context.Context, m *Message) error {
	st := h.c.Store()
	doc, err := json.Marshal(pushDoc{Event: cmp.Or(m.Event, m.MsgType), From: m.FromUserName, CreateTime: m.CreateTime, Format: m.Format})
	if err != nil {
		return fail(pushOp, err)
	}
	rec := storage.Record{Kind: KindPush, Key: pushKey(h.c.AppID(), m), Status: pushApplied, Doc: doc, Updated: h.c.Now()}
	dup := false
	err = st.InTx(ctx, func(ctx context.Context) error {
		dup = false
		if _, err := st.SaveRecord(ctx, rec); err != nil {
			if errors.Is(err, storage.ErrConflict) {
				dup = true // applied before: nothing to do, nothing to keep
			}
			return err
		}
		return h.handle(ctx, m)
	})
	if dup {
		return nil
	}
	return fail(pushOp, err)
}

// pushDoc is a push record's document: what was applied, for an operator.
type pushDoc struct {
	Event      string `json:"event"`
	From       string `json:"from"`
	CreateTime int64  `json:"create_time"`
	Format     string `json:"format"`
}

// pushKey is the key of m's record: WeChat says to tell pushes apart by
// FromUserName and CreateTime, but the trade events come from one system
// account, so two orders settling in one second differ only by their
// transaction: the event and its subject (the message id, the transaction,
// the subscription items) are part of the key. A key that would be too long
// or ambiguous is hashed.
func pushKey(appid string, m *Message) string {
	parts := []string{m.FromUserName, strconv.FormatInt(m.CreateTime, 10), cmp.Or(m.Event, m.MsgType)}
	if m.msgID != "" {
		parts = append(parts, "m"+m.msgID)
	}
	if m.TransactionID != "" || m.MerchantTradeNo != "" {
		parts = append(parts, "t"+m.TransactionID, "n"+m.MerchantTradeNo)
	}
	for _, s := range m.Subscriptions {
		parts = append(parts, "s"+s.TemplateID+"/"+s.Status+"/"+s.MsgID)
	}
	key := appid + ":" + strings.Join(parts, ":")
	plain := len(key) <= storage.MaxRecordKeyLen
	for _, p := range parts {
		plain = plain && !strings.Contains(p, ":")
	}
	if plain {
		return key
	}
	sum := sha256.New()
	for _, p := range parts {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(p)))
		sum.Write(n[:])
		sum.Write([]byte(p))
	}
	return appid + ":sha256:" + hex.EncodeToString(sum.Sum(nil))
}
