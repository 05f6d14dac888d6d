package promoter

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/currency"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
)

func testService() (*Service, *commercetest.Clock) {
	clock := commercetest.NewClock(commercetest.Epoch)
	return &Service{secret: []byte("secret"), clock: clock, cfg: Config{ShareLifetime: 30 * 24 * time.Hour, InviteLifetime: 15 * 24 * time.Hour}}, clock
}

func ids() (commerce.MerchantID, PromoterID, commerce.ProductID) {
	var m commerce.MerchantID
	var p commerce.ProductID
	u1, u2 := uuid.New(), uuid.New()
	_ = m.Scan(u1[:])
	_ = p.Scan(u2[:])
	return m, commerce.IDFrom[promoterTag](uuid.New()), p
}

func TestShareTokenRoundTrip(t *testing.T) {
	s, clock := testService()
	m, pid, prod := ids()
	tok, err := s.ShareToken(ShareParams{MerchantID: m, PromoterID: pid, Product: prod, Scene: SceneGroup})
	require.NoError(t, err)
	sh, err := s.VerifyShare(m, tok)
	require.NoError(t, err)
	assert.Equal(t, pid, sh.PromoterID)
	assert.Equal(t, prod, sh.Product)
	assert.Equal(t, TargetProduct, sh.Kind)
	assert.Equal(t, SceneGroup, sh.Scene)

	// Every single-bit change is caught.
	raw := []byte(tok)
	for i := range raw {
		bad := append([]byte(nil), raw...)
		bad[i] ^= 1
		_, err := s.VerifyShare(m, string(bad))
		assert.ErrorIs(t, err, ErrBadToken, "byte %d", i)
	}
	other, _, _ := ids()
	_, err = s.VerifyShare(other, tok)
	assert.ErrorIs(t, err, ErrBadToken, "another merchant")
	_, err = s.VerifyShare(m, s.Invite(m))
	assert.ErrorIs(t, err, ErrBadToken, "an invite is not a share link")
	forger := &Service{secret: []byte("guess"), clock: clock, cfg: s.cfg}
	ftok, _ := forger.ShareToken(ShareParams{MerchantID: m, PromoterID: pid, Scene: SceneGroup})
	_, err = s.VerifyShare(m, ftok)
	assert.ErrorIs(t, err, ErrBadToken, "signed with another secret")
	clock.Advance(30 * 24 * time.Hour)
	_, err = s.VerifyShare(m, tok)
	assert.ErrorIs(t, err, ErrBadToken, "expired")
}

func TestShareHalfUp(t *testing.T) {
	cny := func(m int64) commerce.Money { return commerce.FromMinor(m, currency.CNY) }
	for _, c := range []struct{ whole, num, den, want int64 }{
		{1000, 120000, 1000000, 120}, // 12 % of 10.00
		{1, 500000, 1000000, 1},      // 0.5 fen rounds up
		{1, 499999, 1000000, 0},
		{999, 1, 3, 333},
		{1000, 1, 3, 333},
		{1001, 1, 2, 501},
		{0, 5, 7, 0},
		{123, 5, 0, 0},
	} {
		assert.Equal(t, c.want, minor(share(cny(c.whole), c.num, c.den)), "%d × %d / %d", c.whole, c.num, c.den)
	}
}

// BenchmarkVerifyShare: verifying a share token (aim: under 5 µs).
func BenchmarkVerifyShare(b *testing.B) {
	s, _ := testService()
	m, pid, prod := ids()
	tok, _ := s.ShareToken(ShareParams{MerchantID: m, PromoterID: pid, Product: prod, Scene: SceneLive})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.VerifyShare(m, tok); err != nil {
			b.Fatal(err)
		}
	}
}
