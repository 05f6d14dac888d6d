package promoter

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/coupons"
)

// TargetKind is what a share link points at.
type TargetKind byte

// Share targets; an invite binds a merchant's sharer.
const (
	TargetProduct TargetKind = 1
	TargetCoupon  TargetKind = 2
	TargetShop    TargetKind = 3
	targetInvite  TargetKind = 4
)

var scenes = []Scene{"", SceneLive, SceneGroup, SceneVideo, SceneCard, SceneQR, SceneOwnLive}

func sceneCode(sc Scene) (byte, bool) {
	for i, v := range scenes {
		if v == sc && i > 0 {
			return byte(i), true
		}
	}
	return 0, false
}

// ShareParams asks for a share link's token.
type ShareParams struct {
	MerchantID commerce.MerchantID
	PromoterID PromoterID
	// Exactly one target: a product, a coupon batch, or (neither) the shop.
	Product commerce.ProductID
	Coupon  coupons.BatchID
	Scene   Scene
}

// Share is what a verified share token says.
type Share struct {
	MerchantID commerce.MerchantID
	PromoterID PromoterID
	Kind       TargetKind
	Product    commerce.ProductID // TargetProduct
	Coupon     coupons.BatchID    // TargetCoupon
	Scene      Scene
	Expires    time.Time
}

// token is the signed layout: kind, merchant, promoter, target, scene,
// expiry (Unix seconds), then the first 16 bytes of HMAC-SHA256 over all of
// it. Every field has a fixed size, so no two tokens sign the same bytes.
type token struct {
	kind     TargetKind
	merchant commerce.MerchantID
	promoter PromoterID
	target   uuid.UUID
	scene    byte
	expires  int64
}

const tokenBody = 1 + 16 + 16 + 16 + 1 + 8

func (s *Service) sign(t token) string {
	var b [tokenBody + 16]byte
	b[0] = byte(t.kind)
	m, p := t.merchant.UUID(), t.promoter.UUID()
	copy(b[1:], m[:])
	copy(b[17:], p[:])
	copy(b[33:], t.target[:])
	b[49] = t.scene
	binary.BigEndian.PutUint64(b[50:], uint64(t.expires))
	mac := hmac.New(sha256.New, s.secret)
	mac.Write(b[:tokenBody])
	copy(b[tokenBody:], mac.Sum(nil)[:16])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// verify checks a token's form, signature and expiry.
func (s *Service) verify(tok string) (token, error) {
	var t token
	if base64.RawURLEncoding.DecodedLen(len(tok)) != tokenBody+16 {
		return t, fmt.Errorf("%w: malformed", ErrBadToken)
	}
	var b [tokenBody + 16]byte
	if n, err := base64.RawURLEncoding.Strict().Decode(b[:], []byte(tok)); err != nil || n != len(b) {
		return t, fmt.Errorf("%w: malformed", ErrBadToken)
	}
	mac := hmac.New(sha256.New, s.secret)
	mac.Write(b[:tokenBody])
	if !hmac.Equal(b[tokenBody:], mac.Sum(nil)[:16]) {
		return t, fmt.Errorf("%w: signature does not verify", ErrBadToken)
	}
	t.kind, t.scene = TargetKind(b[0]), b[49]
	if t.merchant.Scan(b[1:17]) != nil || t.promoter.Scan(b[17:33]) != nil {
		return t, fmt.Errorf("%w: malformed", ErrBadToken)
	}
	t.target = uuid.UUID(b[33:49])
	t.expires = int64(binary.BigEndian.Uint64(b[50:]))
	if s.clock.Now().Unix() >= t.expires {
		return t, fmt.Errorf("%w: expired at %s", ErrBadToken, time.Unix(t.expires, 0).UTC().Format(time.RFC3339))
	}
	return t, nil
}

// ShareToken returns the token of a promoter's share link: signed, so it
// can be neither forged nor altered, and valid for Config.ShareLifetime.
func (s *Service) ShareToken(p ShareParams) (string, error) {
	const op = "promoter.share_token"
	code, ok := sceneCode(p.Scene)
	switch {
	case p.MerchantID.IsZero():
		return "", commerce.Invalid(op, "merchant_id", "required")
	case p.PromoterID.IsZero():
		return "", commerce.Invalid(op, "promoter_id", "required")
	case !ok:
		return "", commerce.Invalid(op, "scene", "unknown scene %q", p.Scene)
	case !p.Product.IsZero() && !p.Coupon.IsZero():
		return "", commerce.Invalid(op, "coupon", "a link points at a product or a coupon, not both")
	}
	t := token{kind: TargetShop, merchant: p.MerchantID, promoter: p.PromoterID, scene: code,
		expires: s.clock.Now().Add(s.cfg.ShareLifetime).Unix()}
	switch {
	case !p.Product.IsZero():
		t.kind, t.target = TargetProduct, p.Product.UUID()
	case !p.Coupon.IsZero():
		t.kind, t.target = TargetCoupon, p.Coupon.UUID()
	}
	return s.sign(t), nil
}

// VerifyShare checks a share token for a merchant: signature, expiry, and
// that it is a share link of this merchant.
func (s *Service) VerifyShare(merchant commerce.MerchantID, tok string) (*Share, error) {
	t, err := s.verify(tok)
	if err == nil && (t.kind < TargetProduct || t.kind > TargetShop || int(t.scene) >= len(scenes) || t.scene == 0) {
		err = fmt.Errorf("%w: not a share link", ErrBadToken)
	}
	if err == nil && t.merchant != merchant {
		err = fmt.Errorf("%w: a link of another merchant", ErrBadToken)
	}
	if err != nil {
		return nil, &commerce.Error{Op: "promoter.verify_share", Kind: commerce.KindInvalid, Field: "token", Err: err}
	}
	sh := &Share{MerchantID: merchant, PromoterID: t.promoter, Kind: t.kind, Scene: scenes[t.scene], Expires: time.Unix(t.expires, 0).UTC()}
	switch t.kind {
	case TargetProduct:
		_ = sh.Product.Scan(t.target[:])
	case TargetCoupon:
		_ = sh.Coupon.Scan(t.target[:])
	}
	return sh, nil
}

// Invite returns a token that binds one promoter as the merchant's sharer
// (AcceptInvite), valid for Config.InviteLifetime (15 days).
func (s *Service) Invite(merchant commerce.MerchantID) string {
	return s.sign(token{kind: targetInvite, merchant: merchant, scene: 0, expires: s.clock.Now().Add(s.cfg.InviteLifetime).Unix()})
}
