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
	// A group of three forms on the last payment.
	assert.Contains(t, s, "小王 opens a group and pays ¥70.00: order awaiting_group", "the leader's price")
	assert.Contains(t, s, "小李 opens the link (2 of 3 places left, 24h to go) and pays ¥80.00")
	assert.Contains(t, s, "not shippable: wang awaiting_group li awaiting_group")
	assert.Contains(t, s, "group formed with 3 members, orders move on to shipping: wang paid li paid zhao paid; tea stock 97")
	assert.Contains(t, s, "小孙 is too late:")
	assert.Contains(t, s, "the group is not open")
	// A group that fails at its deadline refunds every paid member once.
	assert.Contains(t, s, "RunDue 1 at the deadline: failed 1 group, refunded 2 group members")
	assert.Contains(t, s, "RunDue 2 at the deadline: nothing due")
	assert.Contains(t, s, "qian refunded, paid ¥70.00, 1 refund of ¥70.00 (channel: ¥70.00 back)")
	assert.Contains(t, s, "zhou refunded, paid ¥80.00, 1 refund of ¥80.00 (channel: ¥80.00 back)")
	assert.Contains(t, s, "2 refund calls to fakepay; tea stock back to 97 (97 before the group)")
	// A flash sale sells exactly its units.
	assert.Contains(t, s, "5 phones at ¥499.00 (list ¥999.00), 1 per customer, 4 pool rows; phone stock 295")
	assert.Contains(t, s, "a second is refused: campaigns.flash_checkout: lines[0].quantity: campaign limit reached")
	assert.Contains(t, s, "40 more buyers at once: sold exactly 5 of 5, 36 told sold out, 0 left in the pool; phone stock still 295")
	assert.Contains(t, s, "RunDue cancelled 2 orders; 2 back in the pool")
	assert.Contains(t, s, "RunDue closed 1 flash sale: 2 unsold back to stock, phone stock 297")
	// A bargain reaches its target and is bought there.
	assert.Contains(t, s, "campaigns.Cut plans [¥66.66 ¥53.33 ¥40.00 ¥26.67 ¥13.34]")
	assert.Contains(t, s, "buying before the target is refused")
	assert.Contains(t, s, "f1 taps again: campaigns.help: friend: already helped")
	assert.Contains(t, s, "friend f5 cuts ¥13.34 → ¥68.00")
	assert.Contains(t, s, "bargain reached at ¥68.00")
	assert.Contains(t, s, "小李 buys at the target price: pays ¥68.00, order paid, bargain bought; teapot stock 19")
	assert.Contains(t, s, "group.formed×1 group.failed×1 flash.closed×1")
	assert.Contains(t, s, "bargain.helped×5 bargain.reached×1 bargain.bought×1")
}
