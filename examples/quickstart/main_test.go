package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The story runs twice on one database file: the second run opens another
// shop beside the first, and its outbox relay starts after the events the
// first run acknowledged.
func TestQuickstartRunsTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shop.db")
	var first, second bytes.Buffer
	require.NoError(t, run(context.Background(), &first, path))
	require.NoError(t, run(context.Background(), &second, path))

	for _, out := range []string{first.String(), second.String()} {
		assert.Contains(t, out, "to pay ¥216.00")
		assert.Contains(t, out, "stock back to 4")
		assert.Regexp(t, `paid ¥216.00 through fakepay`, out)
		assert.Regexp(t, `merchant +¥212.54`, out, "216.00 less 0.6 % channel fee and 1 % platform fee")
		assert.Regexp(t, `channel +¥1.30`, out)
		assert.Contains(t, out, "order.completed")
		assert.Contains(t, out, "order.cancelled")
	}
	assert.NotContains(t, first.String(), "opened again")
	assert.Contains(t, second.String(), "earlier runs relayed 7 events")
	seqs := regexp.MustCompile(`#(\d+) order\.`).FindAllStringSubmatch(second.String(), -1)
	require.Len(t, seqs, 7, "the second run relays its own seven events")
	assert.Equal(t, "8", seqs[0][1], "the relay resumes after the first run's events")
}
