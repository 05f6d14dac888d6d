package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStory(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, filepath.Join(t.TempDir(), "shop.db")))
	s := out.String()
	assert.Contains(t, s, "per-person claim limit reached", "the third claim is over the limit")
	assert.Contains(t, s, "his coupon keeps her expiry (Dec 2 10:00)")
	// 68 + 38 = 106: the cup coupon (8) would leave 98, short of 99, so
	// 15 off wins, split 9.62 / 5.38 by price.
	assert.Contains(t, s, "满99减15     -¥15.00  [Longjing tea 100 g -¥9.62]  [Celadon cup -¥5.38]")
	assert.Contains(t, s, "to pay ¥99.00")
	assert.Contains(t, s, "order cancelled, its coupon released; Alice holds 2 valid coupons again")
	assert.Contains(t, s, "alice's wallet: expired transferred expired")
	assert.Regexp(t, `coupon.released +×1`, s)
	assert.Regexp(t, `coupon.expired +×3`, s)
}
