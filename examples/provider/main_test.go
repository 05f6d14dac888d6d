package main

import (
	"bytes"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The whole story runs against the local platform and every figure adds
// up: ¥100.00 at A shared 2 % (¥2.00) to the provider and 10 % (¥10.00) to
// the promoter with ¥88.00 unfrozen, ¥50.00 at B paying ¥5.00 by transfer.
func TestProviderStory(t *testing.T) {
	var out bytes.Buffer
	db := filepath.Join(t.TempDir(), "shop.db")
	require.NoError(t, run(t.Context(), &out, db))
	s := out.String()

	for _, want := range []string{
		"💾 SQLite store at " + db,
		"service provider 1230000109 (云栈科技服务有限公司), app wxsp000000000000aa",
		"🤝 engine.Payments.SetSharingPlan: A's payments open frozen; at settlement 2% goes to the provider 1230000109",
		"   💳 paid; TRANSACTION.SUCCESS → handler answered 204\n",
		"Lily's commission ¥10.00 of ¥100.00, pending",
		"Lily's commission ¥5.00 of ¥50.00, pending",
		"shared ¥12.00 of ¥100.00; the rest, ¥88.00, unfrozen to A\n",
		"engine.Payments.Ledger of A's order, by party: merchant ¥87.40, channel ¥0.60, provider ¥2.00, promoter ¥10.00 = ¥100.00\n",
		"   1230000109                     received ¥2.00\n",
		"   oLily_in_merchant_A_app_00001  received ¥10.00\n",
		"B's commission ¥5.00 is settled: payable by transfer",
		"🔔 WeChat Pay posts MCHTRANSFER.BILL.FINISHED → handler answered 204\n",
		"   at 西湖茶庄: paid ¥10.00 (by profit sharing), owed ¥0.00\n",
		"   at 云南普洱铺: paid ¥5.00 (by transfer), owed ¥0.00\n",
		"🧾 engine.Payments.ReconcileDay of 2026-11-25, per sub-merchant:",
		"✅ Done: A sold ¥100.00: ¥2.00 to the provider and ¥10.00 to Lily by profit sharing, ¥88.00 unfrozen to A;\n" +
			"   B sold ¥50.00 and paid Lily ¥5.00 by transfer;",
	} {
		assert.Contains(t, s, want)
	}
	assert.NotContains(t, s, "host log", "every notification was accepted")

	for name, re := range map[string]string{
		// A pays in its own Mini Program: sub_appid and a sub_openid; the
		// payment is opened for profit sharing.
		"A's partner prepay": `engine\.Payments\.Pay opens ¥100\.00 at WeChat Pay for sub_mchid (16\d{8}) \(profit sharing: true\)\n` +
			`   partner prepay: sp_mchid=1230000109 sp_appid=wxsp000000000000aa sub_mchid=16\d{8} sub_appid=wxa000000000000a01 ` +
			`sub_openid=oZhang_in_merchant_A_app_0001 profit_sharing=true\n` +
			`   wx\.requestPayment in app wxa000000000000a01, package prepay_id=wx`,
		// B pays in the provider's app: no sub_appid, a sp_openid, not
		// frozen.
		"B's partner prepay": `engine\.Payments\.Pay opens ¥50\.00 at WeChat Pay for sub_mchid 17\d{8} \(profit sharing: false\)\n` +
			`   partner prepay: sp_mchid=1230000109 sp_appid=wxsp000000000000aa sub_mchid=17\d{8} sp_openid=oZhao_in_provider_app_000001\n` +
			`   wx\.requestPayment in app wxsp000000000000aa, package prepay_id=wx`,
		"settlement sends the share, the next run finds it finished": `engine\.RunDue #1: completed 2 orders, .*A's sharing order: processing\n` +
			`   engine\.RunDue #2: .*A's sharing order: finished\n`,
		"the share's lines succeeded": `out_order_no [0-9a-f]{32}: finished\n` +
			`      provider  1230000109 +¥2\.00  succeeded\n` +
			`      promoter  oLily_in_merchant_A_app_00001 +¥10\.00  succeeded\n`,
		"WeChat's book of the payment agrees":                                              `payment 4200\d+: shared ¥12\.00, unfrozen ¥88\.00, unsplit ¥0\.00\n`,
		"the transfer leaves from B's sub-merchant to the openid under the provider's app": `engine\.Promoter\.Payout: bill [0-9a-f]{32} of ¥5\.00 to oLily_in_provider_app_000001 from sub_mchid 17\d{8}, waiting\n`,
		"the Mini Program's parameters name the provider and B": `wx\.requestMerchantTransfer\(\{\n` +
			`     mchId:    "1230000109",\n` +
			`     subMchId: "17\d{8}",\n` +
			`     appId:    "wxsp000000000000aa",\n` +
			`     package:  "[^"]+",\n   \}\)\n`,
		"the transfer is paid": `MCHTRANSFER\.BILL\.FINISHED → handler answered 204\n   bill [0-9a-f]{32} is succeeded\n`,
	} {
		assert.Regexp(t, regexp.MustCompile(re), s, name)
	}

	// Reconciliation: each sub-merchant's bill lists its one payment,
	// which matches minishop's to the fen.
	recon := regexp.MustCompile(`(?m)^   (1[67]\d{8}): (.*)$`).FindAllStringSubmatch(s[strings.Index(s, "🧾"):], -1)
	require.Len(t, recon, 2, "one line per sub-merchant")
	for _, l := range recon {
		assert.Equal(t, "lines 1; matched 1, applied 0, channel-only 0, minishop-only 0, differences 0", l[2], l[1])
	}
	assert.Contains(t, s, "      paid ¥100.00 (WeChat ¥100.00), fees ¥0.60 (WeChat ¥0.60)\n")
	assert.Contains(t, s, "      paid ¥50.00 (WeChat ¥50.00), fees ¥0.30 (WeChat ¥0.30)\n")
	assert.Contains(t, s, "2 of 2 sub-merchant days reconciled")
}

// The database outlives the run: a second run onboards two more merchants
// beside the first and tells the same story with the same figures.
func TestProviderStoryRunsAgainOnTheSameDatabase(t *testing.T) {
	db := filepath.Join(t.TempDir(), "shop.db")
	for range 2 {
		var out bytes.Buffer
		require.NoError(t, run(t.Context(), &out, db))
		s := out.String()
		assert.Contains(t, s, "✅ Done: A sold ¥100.00: ¥2.00 to the provider and ¥10.00 to Lily by profit sharing, ¥88.00 unfrozen to A;")
		assert.Contains(t, s, "B sold ¥50.00 and paid Lily ¥5.00 by transfer;")
		assert.Contains(t, s, "   at 云南普洱铺: paid ¥5.00 (by transfer), owed ¥0.00\n")
	}
}
