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
	assert.Contains(t, s, "1. 小美 tops up ¥100.00 under 充100送20 through WeChat Pay: balance ¥120.00 (principal ¥100.00 + bonus ¥20.00)")
	assert.Contains(t, s, ", ¥200.00, held by 小美, no expiry (a registered card)")
	assert.Contains(t, s, "小明 accepts it: held by 小明; the link again: storedvalue.accept_card: token: the card cannot be used")
	assert.Contains(t, s, "小明 redeems it into his balance: ¥200.00 (principal ¥200.00 + bonus ¥0.00)")
	assert.Contains(t, s, "3. 小美 buys tea for ¥120.00: ¥90.00 from her balance, ¥30.00 through WeChat Pay (payment of ¥30.00); balance ¥30.00 (principal ¥25.00 + bonus ¥5.00)")
	assert.Contains(t, s, "4. one tin back, ¥60.00: ¥45.00 to the balance, ¥15.00 to WeChat Pay; balance ¥75.00 (principal ¥62.50 + bonus ¥12.50)")
	assert.Contains(t, s, "the other, ¥60.00: ¥45.00 to the balance, ¥15.00 to WeChat Pay; balance ¥120.00 (principal ¥100.00 + bonus ¥20.00), as before the order")
	assert.Contains(t, s, "the order's payments: fakepay ¥30.00 (refunded ¥30.00); storedvalue ¥90.00 (refunded ¥90.00);")
	assert.Contains(t, s, "her statement: topped_up ¥100.00/¥20.00; spent -¥75.00/-¥15.00; refunded ¥37.50/¥7.50; refunded ¥37.50/¥7.50;")
	assert.Contains(t, s, "redeemed before it is sold: storedvalue.redeem_card: number: the card cannot be used")
	assert.Contains(t, s, "5 wrong secrets, the last: storedvalue.redeem_card: secret: wrong card secret")
	assert.Contains(t, s, "the right one now: storedvalue.redeem_card: secret: too many wrong secrets")
	assert.Contains(t, s, "an hour later 小刚 redeems it: balance ¥500.00")
	assert.Contains(t, s, "an anonymous card of ¥2,000.00: storedvalue.create_card_batch: face: over the prepaid-card limit")
	assert.Contains(t, s, "on her balance: storedvalue.checkout: lines: over the prepaid-card limit")
}
