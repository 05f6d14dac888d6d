package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The story runs end to end: each shop open or closed in its own zone at
// one instant, the nearest first with distances, the open one found, the
// holiday closing Hong Kong.
func TestStory(t *testing.T) {
	var out strings.Builder
	require.NoError(t, run(t.Context(), &out))
	s := out.String()
	t.Log(s)
	for _, want := range []string{
		"has 3 shops with a door",
		"Nanjing Road    Asia/Shanghai local Fri 23:30: closed, opens Sat 10:00",
		"Lujiazui Night  Asia/Shanghai local Fri 23:30: open, closes Sat 02:00",
		"Central         Asia/Hong_Kong local Fri 23:30: closed, opens Sun 08:00",
		"Nanjing Road    0.6 km",
		"Lujiazui Night  2.7 km",
		"Open now: Lujiazui Night, 2.7 km away",
		"Within 1,000 km: 2",
		"Central is open: false",
	} {
		assert.Contains(t, s, want)
	}
}
