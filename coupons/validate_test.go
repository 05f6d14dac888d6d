package coupons_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/coupons"
	"github.com/minishop/minishop/storage/memory"
)

// Mini Store's own limits (§4.1) hold only with the profile switched on;
// the sane rules hold always.
func TestMiniStoreProfile(t *testing.T) {
	ctx := context.Background()
	for _, profile := range []bool{false, true} {
		engine, err := minishop.New(memory.New(), minishop.WithCoupons(func(c *coupons.Config) { c.MiniStoreProfile = profile }))
		require.NoError(t, err)
		m, err := engine.Commerce.CreateMerchant(ctx, commerce.MerchantParams{Currency: "CNY", Profile: commerce.ShopProfile{Name: "店"}})
		require.NoError(t, err)
		create := func(p coupons.BatchParams) error {
			p.MerchantID, p.Total, p.Validity = m.ID, 10, coupons.Validity{Days: 3}
			if p.Name == "" {
				p.Name = "券"
			}
			_, err := engine.Coupons.CreateBatch(ctx, p)
			return err
		}
		cases := []struct {
			name      string
			p         coupons.BatchParams
			miniStore bool // refused only under the profile
			field     string
		}{
			{"pay 19 %", coupons.BatchParams{Kind: coupons.PercentOff, PercentOff: commerce.MustPercent(81)}, true, "percent_off"},
			{"pay 85.5 %", coupons.BatchParams{Kind: coupons.PercentOff, PercentOff: commerce.MustPercent(14.5)}, true, "percent_off"},
			{"pay 85 %", coupons.BatchParams{Kind: coupons.PercentOff, PercentOff: commerce.MustPercent(15)}, false, ""},
			{"201 yuan off", coupons.BatchParams{Kind: coupons.AmountOff, Amount: commercetest.CNY("201")}, true, "amount"},
			{"200 yuan off", coupons.BatchParams{Kind: coupons.AmountOff, Amount: commercetest.CNY("200")}, false, ""},
			{"11 characters", coupons.BatchParams{Name: "一二三四五六七八九十一", Kind: coupons.AmountOff, Amount: commercetest.CNY("5")}, true, "name"},
			{"10 characters", coupons.BatchParams{Name: "一二三四五六七八九十", Kind: coupons.AmountOff, Amount: commercetest.CNY("5")}, false, ""},
			{"both thresholds", coupons.BatchParams{Kind: coupons.ThresholdOff, Amount: commercetest.CNY("5"), MinAmount: commercetest.CNY("50"), MinCount: 2}, false, "min_count"},
			{"zero off", coupons.BatchParams{Kind: coupons.AmountOff, Amount: commercetest.CNY("0")}, false, "amount"},
			{"pay more than 100 %", coupons.BatchParams{Kind: coupons.PercentOff, PercentOff: commerce.PPM(-10000)}, false, "percent_off"},
		}
		for _, c := range cases {
			err := create(c.p)
			refused := c.field != "" && (!c.miniStore || profile)
			if !refused {
				assert.NoError(t, err, "%s (profile %v)", c.name, profile)
				continue
			}
			require.Error(t, err, "%s (profile %v)", c.name, profile)
			var ce *commerce.Error
			require.True(t, errors.As(err, &ce), "%v", err)
			assert.Equal(t, c.field, ce.Field, "%s: %v", c.name, err)
		}
	}
}
