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
	assert.Contains(t, s, "2 × tea at the member price: ¥216.00 (saved ¥24.00)")
	assert.Regexp(t, `paid: points pending +available +0, pending +21600`, s)
	assert.Regexp(t, `points released +available +21600, pending +0`, s)
	assert.Contains(t, s, "paying ¥50.00 with points: ¥138.00 to pay")
	// The cups carried 80.00 of 188.00: 21.28 of the 50.00 in points.
	assert.Regexp(t, `refund_return +\+2128`, s)
	assert.Regexp(t, `cancel +\+0 +pending -5872`, s)
	assert.Regexp(t, `lots expired +available +0, pending +0`, s)
	assert.Regexp(t, `tier 2`, s)
}
