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
	assert.Contains(t, s, "stock: champagne 2, indigo 3")
	assert.Contains(t, s, "(no price shown)")
	assert.Contains(t, s, "switches to indigo; stock: champagne 3, indigo 2")
	assert.Contains(t, s, "order paid, ships indigo to 李雷")
	assert.Contains(t, s, "tries to accept: gifting.accept: gift not open: the gift expired")
	assert.Contains(t, s, "order refunded, ¥199.00 back to 小王's payment through fakepay; stock: champagne 3, indigo 2")
	assert.Contains(t, s, "gift.sku_switched")
	assert.Contains(t, s, "gift.refunded")
}
