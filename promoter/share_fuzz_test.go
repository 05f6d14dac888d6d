package promoter

import (
	"encoding/base64"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/minishop/minishop/commerce"
)

// FuzzVerifyShare: share tokens come from anyone's link. Verifying must
// not panic; a refused token is a KindInvalid ErrBadToken with no share;
// and a token that passes is exactly what sign makes of its fields (one
// encoding per token, and the fuzzer cannot forge the HMAC). A second half builds tokens from
// fuzzed fields: whatever ShareToken signs, VerifyShare gives back field
// for field, and a changed character is refused.
func FuzzVerifyShare(f *testing.F) {
	s, _ := testService()
	m, pid, prod := ids()
	for _, p := range []ShareParams{
		{MerchantID: m, PromoterID: pid, Product: prod, Scene: SceneGroup},
		{MerchantID: m, PromoterID: pid, Scene: SceneLive},
	} {
		tok, err := s.ShareToken(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tok, m.UUID().String(), pid.UUID().String(), uint8(0), uint8(1), int(0))
	}
	inv := s.Invite(m)
	f.Add(inv, "", "", uint8(1), uint8(2), int(3))
	f.Add("", "", "", uint8(2), uint8(0), int(0))
	f.Add("AAAA", "x", "y", uint8(3), uint8(9), int(-1))
	f.Add(base64.RawURLEncoding.EncodeToString(make([]byte, tokenBody+16)), "", "", uint8(0), uint8(0), int(0))

	f.Fuzz(func(t *testing.T, tok, merchantText, promoterText string, target, scene uint8, flip int) {
		sh, err := s.VerifyShare(m, tok)
		if err != nil {
			if sh != nil || !errors.Is(err, ErrBadToken) || commerce.KindOf(err) != commerce.KindInvalid {
				t.Fatalf("VerifyShare(%q) = %v, %v", tok, sh, err)
			}
		} else if raw, err := s.verify(tok); err != nil || s.sign(raw) != tok || sh.PromoterID != raw.promoter {
			t.Fatalf("VerifyShare accepted %q, which is not what its fields sign as (%v)", tok, err)
		}

		// Tokens from fuzzed fields round-trip.
		mu, err1 := uuid.Parse(merchantText)
		pu, err2 := uuid.Parse(promoterText)
		if err1 != nil || err2 != nil || mu == uuid.Nil || pu == uuid.Nil {
			return
		}
		p := ShareParams{PromoterID: commerce.IDFrom[promoterTag](pu)}
		_ = p.MerchantID.Scan(mu[:])
		p.Scene = scenes[1+int(scene)%(len(scenes)-1)]
		switch target % 3 {
		case 1:
			p.Product = prod
		case 2:
			_ = p.Coupon.Scan(pu[:])
		}
		tok2, err := s.ShareToken(p)
		if err != nil {
			t.Fatalf("ShareToken(%+v): %v", p, err)
		}
		got, err := s.VerifyShare(p.MerchantID, tok2)
		if err != nil {
			t.Fatalf("a fresh token does not verify: %v", err)
		}
		if got.PromoterID != p.PromoterID || got.Scene != p.Scene || got.Product != p.Product || got.Coupon != p.Coupon || got.MerchantID != p.MerchantID {
			t.Fatalf("signed %+v, verified %+v", p, got)
		}
		if flip < 0 {
			flip = -flip
		}
		b := []byte(tok2)
		i := flip % len(b)
		b[i] = "AB"[b[i]%2] // another base64 character
		if string(b) != tok2 {
			if _, err := s.VerifyShare(p.MerchantID, string(b)); err == nil {
				t.Fatalf("token changed at %d still verifies", i)
			}
		}
	})
}
