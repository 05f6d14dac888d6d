package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/coupons"
	"github.com/minishop/minishop/gifting"
	"github.com/minishop/minishop/membership"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/promoter"
	"github.com/minishop/minishop/wechat"
)

// Store is everything a minishop store implements.
type Store interface {
	commerce.Store
	payment.Store
	coupons.Store
	membership.Store
	gifting.Store
	promoter.Store
	wechat.Store
}

// Harness describes the implementation under test.
type Harness struct {
	// New returns a fresh, empty store that no other call's store can see
	// (its own database, schema or table prefix). Cleanup goes through t.
	New func(t testing.TB) Store
	// Concurrency is how many goroutines the concurrent tests start; 16
	// when zero. A store with a small connection pool may ask for fewer.
	Concurrency int
}

// Run runs the whole suite against h.
func Run(t *testing.T, h Harness) {
	if h.Concurrency == 0 {
		h.Concurrency = 16
	}
	t.Run("Commerce", func(t *testing.T) { runCommerce(t, h) })
	t.Run("Retries", func(t *testing.T) { runRetries(t, h) })
	t.Run("Payment", func(t *testing.T) { runPayment(t, h) })
	t.Run("PaymentDays", func(t *testing.T) { paymentDaysSuite(t, h) })
	t.Run("Coupons", func(t *testing.T) { runCoupons(t, h) })
	t.Run("CouponStore", func(t *testing.T) {
		couponStoreSuite(t, func(t *testing.T) coupons.Store { return h.New(t) })
	})
	t.Run("Membership", func(t *testing.T) { runMembership(t, h) })
	t.Run("MembershipStore", func(t *testing.T) { membershipStoreSuite(t, func(t *testing.T) membership.Store { return h.New(t) }) })
	t.Run("Gifting", func(t *testing.T) { runGifting(t, h) })
	t.Run("GiftingStore", func(t *testing.T) { giftingStoreSuite(t, func(t *testing.T) gifting.Store { return h.New(t) }) })
	t.Run("Promoter", func(t *testing.T) { runPromoter(t, h) })
	t.Run("Payouts", func(t *testing.T) { runPayouts(t, h) })
	t.Run("PromoterStore", func(t *testing.T) { promoterStoreSuite(t, func(t *testing.T) promoter.Store { return h.New(t) }) })
	t.Run("PartnerPayments", func(t *testing.T) { runPartner(t, h) })
	t.Run("CrossBorder", func(t *testing.T) { runCrossBorder(t, h) })
	t.Run("ProfitSharing", func(t *testing.T) { runSharing(t, h) })
	t.Run("WechatStore", func(t *testing.T) { wechatStoreSuite(t, h) })
	t.Run("WechatMessages", func(t *testing.T) { runWechatMessages(t, h) })
	t.Run("WechatShipping", func(t *testing.T) { runWechatShipping(t, h) })
	t.Run("Campaigns", func(t *testing.T) { runCampaigns(t, h) })
	t.Run("StoredValue", func(t *testing.T) { runStoredValue(t, h) })
	t.Run("Locations", func(t *testing.T) { runLocations(t, h) })
	t.Run("Races", func(t *testing.T) { runRaces(t, h) })
	t.Run("HostileInput", func(t *testing.T) { runHostile(t, h) })
	t.Run("ErrorWalk", func(t *testing.T) { testErrorWalk(t, h) })
}

// env is one test's world: a fresh store, a manual clock, sequential IDs and
// a commerce service over them.
type env struct {
	t     *testing.T
	ctx   context.Context
	store Store
	clock *commercetest.Clock
	svc   *commerce.Service
}

func newEnv(t *testing.T, h Harness, cfg commerce.Config) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), store: h.New(t), clock: commercetest.NewClock(commercetest.Epoch)}
	cfg.Store, cfg.Clock = e.store, e.clock
	if cfg.IDs == nil {
		cfg.IDs = &commercetest.SeqIDs{}
	}
	svc, err := commerce.New(cfg)
	if err != nil {
		t.Fatalf("commerce.New: %v", err)
	}
	e.svc = svc
	return e
}

func (e *env) advance(d time.Duration) { e.clock.Advance(d) }

// sameJSON asserts that two values encode to the same JSON. Money encodes as
// its exact decimal text, so two amounts that are Equal (12.30 read back from
// integer fen, 12.30 computed) compare equal even when their decimal
// representations differ inside.
func sameJSON(t *testing.T, want, got any, msg ...any) {
	t.Helper()
	w, err := json.Marshal(want)
	require.NoError(t, err)
	g, err := json.Marshal(got)
	require.NoError(t, err)
	assert.JSONEq(t, string(w), string(g), msg...)
}

// sameOrder asserts that got is want, field by field.
func sameOrder(t *testing.T, want, got *commerce.Order, msg ...any) {
	t.Helper()
	sameJSON(t, want, got, msg...)
	assert.Equal(t, want.Currency, got.Currency, msg...) // currency.Unit has no JSON form
}

// runDue runs the Engine's scheduled work, which must succeed, and returns
// what it did.
func runDue(t testing.TB, e *minishop.Engine, ctx context.Context) minishop.DueReport {
	t.Helper()
	rep, err := e.RunDue(ctx)
	require.NoError(t, err)
	return rep
}
