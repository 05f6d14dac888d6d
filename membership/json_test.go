package membership

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/currency"

	"github.com/minishop/minishop/commerce"
)

func cny(s string) commerce.Money { return commerce.MustParseMoney(s, currency.CNY) }

// A program stored before Rate and PointsPer loads with the same figures.
func TestProgramLoadsStoredForm(t *testing.T) {
	old := `{"AutoJoin":true,"Tiers":[{"Level":1,"Name":"VIP1","DiscountBP":0,"EarnMultiplierBP":10000},` +
		`{"Level":2,"Name":"VIP2","MinExperience":100,"DiscountBP":550,"EarnMultiplierBP":15000}],` +
		`"ExpFenPerPoint":100,"ExpPerOrder":2,"FenPerPoint":50,"PerOrder":3,"CapPerOrder":0,` +
		`"PointsPerFen":10,"MinOrder":{"amount":"10.05","currency":"CNY"},"MaxPoints":900,"MaxShareBP":5000,"Version":7}`
	var p Program
	require.NoError(t, json.Unmarshal([]byte(old), &p))
	assert.Equal(t, PointsPer{Points: 1, Per: cny("1.00")}.Per.String(), p.Experience.Per.String())
	assert.Equal(t, int64(1), p.Experience.Points)
	assert.Equal(t, int64(1), p.Earn.Points)
	assert.Equal(t, "CNY 0.50", p.Earn.Per.String())
	assert.Equal(t, int64(10), p.Redeem.Points)
	assert.Equal(t, "CNY 0.01", p.Redeem.Per.String())
	assert.Equal(t, "50%", p.MaxShare.String())
	require.Len(t, p.Tiers, 2)
	assert.Equal(t, "0%", p.Tiers[0].Discount.String())
	assert.Equal(t, "100%", p.Tiers[0].EarnMultiplier.String())
	assert.Equal(t, "5.5%", p.Tiers[1].Discount.String())
	assert.Equal(t, "150%", p.Tiers[1].EarnMultiplier.String())
	assert.Equal(t, int64(2), p.ExpPerOrder)
	assert.Equal(t, int64(3), p.PerOrder)
	assert.Equal(t, int64(900), p.MaxPoints)
	assert.Equal(t, int64(7), p.Version)
	require.NoError(t, validate("test", &Program{MerchantID: mustMerchant(t),
		Tiers: p.Tiers, Experience: p.Experience, Earn: p.Earn, Redeem: p.Redeem, MaxShare: p.MaxShare, MinOrder: p.MinOrder}),
		"what loads is a valid program")

	// The same figures as before: 50 fen a point, 10 points a fen.
	assert.Equal(t, int64(1999/50), p.Earn.pointsFor(1999, currency.CNY))
	assert.Equal(t, int64(1999/100), p.Experience.pointsFor(1999, currency.CNY))
	v, whole := p.Redeem.value(120)
	assert.True(t, whole)
	assert.Equal(t, int64(12), v)
	_, whole = p.Redeem.value(125)
	assert.False(t, whole)

	// Rules off stay off; the currency comes from a member price without a MinOrder.
	var off Program
	require.NoError(t, json.Unmarshal([]byte(`{"FenPerPoint":0,"PointsPerFen":0,"ExpFenPerPoint":0,"MaxShareBP":0,`+
		`"MemberPrices":[{"Level":1,"Price":{"amount":"5","currency":"JPY"}}],"Tiers":null}`), &off))
	assert.True(t, off.Earn.IsZero())
	assert.True(t, off.Redeem.IsZero())
	assert.True(t, off.Experience.IsZero())
	assert.Equal(t, commerce.Rate{}, off.MaxShare)
	var jpy Program
	require.NoError(t, json.Unmarshal([]byte(`{"FenPerPoint":100,"MemberPrices":[{"Level":1,"Price":{"amount":"5","currency":"JPY"}}]}`), &jpy))
	assert.Equal(t, "JPY 100", jpy.Earn.Per.String())

	// The current form round-trips, and writes none of the old fields.
	b, err := json.Marshal(&p)
	require.NoError(t, err)
	for _, gone := range []string{"BP", "FenPerPoint", "PointsPerFen"} {
		assert.NotContains(t, string(b), gone)
	}
	assert.Contains(t, string(b), `"Discount":"5.5%"`)
	var back Program
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, p, back)

	require.Error(t, json.Unmarshal([]byte(`{"MaxShare":5000}`), &back), "a rate without its unit")
	require.Error(t, json.Unmarshal([]byte(`{"Tiers":[{"Discount":500}]}`), &back), "a rate without its unit")
}

func TestPointsPer(t *testing.T) {
	earn := PointsPer{Points: 3, Per: cny("2.00")} // 3 points per 2 yuan
	assert.Equal(t, int64(0), earn.pointsFor(66, currency.CNY))
	assert.Equal(t, int64(1), earn.pointsFor(67, currency.CNY), "rounded down: 1.005")
	assert.Equal(t, int64(15), earn.pointsFor(1000, currency.CNY))
	assert.Equal(t, int64(0), earn.pointsFor(1000, currency.USD), "another currency earns nothing")
	assert.Equal(t, int64(0), PointsPer{}.pointsFor(1000, currency.CNY))
	assert.Equal(t, int64(math.MaxInt64), PointsPer{Points: math.MaxInt64, Per: cny("0.01")}.pointsFor(math.MaxInt64, currency.CNY), "saturates")

	redeem := PointsPer{Points: 100, Per: cny("1.00")} // 100 points pay a yuan: 1 point a fen
	v, whole := redeem.value(250)
	assert.True(t, whole)
	assert.Equal(t, int64(250), v)
	coarse := PointsPer{Points: 3, Per: cny("0.02")} // 3 points pay 2 fen
	v, whole = coarse.value(6)
	assert.True(t, whole)
	assert.Equal(t, int64(4), v)
	_, whole = coarse.value(4)
	assert.False(t, whole, "4 points pay 2.67 fen")
	_, whole = PointsPer{}.value(4)
	assert.False(t, whole)
}

func mustMerchant(t *testing.T) commerce.MerchantID {
	var id commerce.MerchantID
	require.NoError(t, id.UnmarshalText([]byte("0190f1a2-0000-7000-8000-000000000001")))
	return id
}
