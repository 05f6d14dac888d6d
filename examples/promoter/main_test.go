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
	assert.Contains(t, s, "pays ¥256.00 → commission ¥30.72 (agency ¥9.22, Lily ¥21.50), pending")
	assert.Contains(t, s, "pays ¥108.00 → commission ¥12.96 (agency ¥3.89, Lily ¥9.07), pending", "12 % of what was paid after the coupon")
	assert.Contains(t, s, "¥15.36 of the commission goes back (agency ¥4.61), leaving ¥15.36")
	assert.Contains(t, s, "RunDue (completed 2 orders) settles: settled and settled")
	assert.Contains(t, s, "Lily:   2 orders, settled ¥19.82, pending ¥0.00, clawbacks ¥0.00, payout ¥19.82")
	assert.Contains(t, s, "agency: 2 orders, settled ¥8.50, pending ¥0.00, clawbacks ¥0.00, payout ¥8.50")
	assert.Contains(t, s, "promoter      ¥10.75")
	assert.Contains(t, s, "agency         ¥4.61")
}
