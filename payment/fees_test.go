package payment

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/currency"

	"github.com/minishop/minishop/commerce"
)

func cny(s string) commerce.Money { return commerce.MustParseMoney(s, currency.CNY) }

func order(total string, lines ...commerce.OrderLine) *commerce.Order {
	return &commerce.Order{Currency: currency.CNY, Total: cny(total), Lines: lines}
}

func TestOrderFees(t *testing.T) {
	f := FeeSchedule{Channel: commerce.MustPercent(0.6), Platform: commerce.MustPercent(1),
		PlatformByCategory: map[string]commerce.Rate{"books": {}, "jewellery": commerce.MustPercent(2)}}
	cases := []struct {
		name              string
		o                 *commerce.Order
		channel, platform string
	}{
		// 0.6 % of 0.83 = 0.00498 -> 0.00: tiny orders pay no fee.
		{"tiny", order("0.83", commerce.OrderLine{Category: "home", Payable: cny("0.83")}), "0.00", "0.01"},
		// 0.6 % of 216.00 = 1.296 -> 1.30 (half-up to the fen).
		{"rounds half-up", order("216.00", commerce.OrderLine{Category: "home", Payable: cny("216.00")}), "1.30", "2.16"},
		// Each line at its category's rate, summed exactly, rounded once:
		// 1 % of 33.35 + 0 % of 50 + 2 % of 10.25 = 0.3335 + 0.205 = 0.5385 -> 0.54.
		{"by category", order("93.60",
			commerce.OrderLine{Category: "home", Payable: cny("33.35")},
			commerce.OrderLine{Category: "books", Payable: cny("50.00")},
			commerce.OrderLine{Category: "jewellery", Payable: cny("10.25")}), "0.56", "0.54"},
		// Shipping (total above the lines) pays the default platform rate:
		// 1 % of (50.00 + 8.00) books at 0 % -> 0.08.
		{"shipping at default", order("58.00", commerce.OrderLine{Category: "books", Payable: cny("50.00")}), "0.35", "0.08"},
		{"free order", order("0.00", commerce.OrderLine{Category: "home", Payable: cny("0.00")}), "0.00", "0.00"},
	}
	for _, c := range cases {
		fees, err := f.OrderFees(c.o)
		require.NoError(t, err, c.name)
		assert.Equal(t, "CNY "+c.channel, fees.Channel.String(), c.name)
		assert.Equal(t, "CNY "+c.platform, fees.Platform.String(), c.name)
	}
}

func TestFeeScheduleValidate(t *testing.T) {
	assert.NoError(t, DefaultFees().Validate())
	for _, bad := range []FeeSchedule{{Channel: commerce.PPM(-1)}, {Platform: commerce.PPM(1_000_001)}, {PlatformByCategory: map[string]commerce.Rate{"food": commerce.PPM(-5)}}} {
		err := bad.Validate()
		require.Error(t, err)
		assert.ErrorIs(t, err, commerce.ErrInvalid)
	}
	var e *commerce.Error
	require.ErrorAs(t, FeeSchedule{PlatformByCategory: map[string]commerce.Rate{"food": commerce.PPM(-5)}}.Validate(), &e)
	assert.Equal(t, "platform_by_category[food]", e.Field)
}

// Refunds in any number of parts return fees that sum exactly to the fee
// when the payment is refunded in full, never return more, and every
// ledger split of a refund sums to the refund.
func TestRefundEntriesNeverDrift(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		paidMinor := r.Int64N(1_000_000) + 1
		p := &Payment{Amount: commerce.FromMinor(paidMinor, currency.CNY), Status: Succeeded}
		p.Fees = Fees{Channel: commerce.PPM(6000).Of(p.Amount), Platform: commerce.PPM(10000).Of(p.Amount)}
		sum := paymentEntries(p)
		left := paidMinor
		for left > 0 {
			part := r.Int64N(left) + 1
			if r.IntN(4) == 0 {
				part = left
			}
			left -= part
			ref := &Refund{Amount: commerce.FromMinor(part, currency.CNY), Status: RefundProcessing}
			entries := refundEntries(p, ref)
			total := commerce.Zero(currency.CNY)
			for _, e := range entries {
				total, _ = total.Add(e.Amount)
				if e.Party != PartyMerchant {
					assert.False(t, e.Amount.IsPositive(), "a refund never charges a fee")
				}
			}
			require.Equal(t, ref.Amount.Neg().String(), total.String(), "the entries of a refund sum to the refund")
			sum = append(sum, entries...)
			ref.Status = RefundSucceeded
			p.Refunds = append(p.Refunds, *ref)
		}
		byParty := map[Party]commerce.Money{}
		for _, e := range sum {
			if _, ok := byParty[e.Party]; !ok {
				byParty[e.Party] = commerce.Zero(currency.CNY)
			}
			byParty[e.Party], _ = byParty[e.Party].Add(e.Amount)
		}
		for party, m := range byParty {
			require.True(t, m.IsZero(), "paid %d in %d refunds: %s keeps %s", paidMinor, len(p.Refunds), party, m)
		}
	}
}

func TestProrate(t *testing.T) {
	assert.Equal(t, "CNY 0.35", prorate(cny("0.70"), cny("50.00"), cny("100.00")).String())
	assert.Equal(t, "CNY 0.01", prorate(cny("0.01"), cny("50.00"), cny("100.00")).String(), "half-up")
	assert.Equal(t, "CNY 0.00", prorate(cny("0.70"), cny("1.00"), cny("0.00")).String(), "nothing paid")
}
