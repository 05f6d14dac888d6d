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
	assert.Contains(t, s, "stock: champagne 9, indigo 10")
	assert.Contains(t, s, "(no price shown)")
	assert.Contains(t, s, "switches to indigo; stock: champagne 10, indigo 9")
	assert.Contains(t, s, "order paid, ships indigo to 李雷")
	assert.Contains(t, s, "tries to accept: gifting.accept: gift not open: the gift expired")
	assert.Contains(t, s, "order refunded, ¥199.00 back to 小王's payment through fakepay; stock: champagne 10, indigo 9")
	assert.Contains(t, s, "¥197.22 ¥197.22 ¥197.22 ¥197.23 ¥197.23", "uneven shares, largest remainder")
	assert.Contains(t, s, "王阿姨 taps again:")
	assert.Contains(t, s, "already claimed a slot of this gift")
	assert.Contains(t, s, "order paid; claimed ¥591.66 + refunded ¥394.46 = ¥986.12 paid; stock: champagne 8, indigo 8")
	assert.Regexp(t, `drawn at the set time: winners \[\S+ \S+\]\n   seed [0-9a-f]{64}`, s)
	assert.Contains(t, s, "gives the same winners ✔")
	assert.Contains(t, s, "both winners claim: order paid")
	assert.Contains(t, s, "gift.drawn")
	assert.Contains(t, s, "gift.sku_switched")
	assert.Contains(t, s, "gift.refunded")
}
