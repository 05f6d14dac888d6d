package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The story runs end to end and says what each shop's money did: the
// shop's currency to its own minor unit, the wallet's CNY at the rate the
// local WeChat Pay applied (HKD 0.92, JPY 0.048), the refund's CNY at the
// payment's rate, a NOT_ENOUGH refund sent again by RunDue.
func TestStory(t *testing.T) {
	var out strings.Builder
	require.NoError(t, run(t.Context(), &out))
	s := out.String()
	for _, want := range []string{
		"checks out HK$172.35 (WeChat Pay is asked for amount.total 17235 HKD",
		"Paid HK$172.35: the wallet was charged ¥158.56 at 0.92 CNY per HKD",
		"Refund succeeded: HK$80.00 back, the wallet got ¥73.60",
		"checks out ￥2,970 (WeChat Pay is asked for amount.total 2970 JPY",
		"the wallet was charged ¥142.56 at 0.048 CNY per JPY",
		"NOT_ENOUGH",
		"Refund succeeded: ￥1,235 back, the wallet got ¥59.28",
		"The ledger stays in JPY: merchant ￥2,922 channel ￥18 platform ￥30",
	} {
		assert.Contains(t, s, want)
	}
	assert.NotContains(t, s, "￥2,970.", "yen have no minor digits")
}
