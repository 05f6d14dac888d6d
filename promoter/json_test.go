package promoter_test

import (
	"encoding/json"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/promoter"
)

// Records stored before commerce.Rate held integer ppm; they must still
// load, with the same rates, and the current form must round-trip.
func TestRecordsLoadStoredRates(t *testing.T) {
	prod := commerce.IDFrom[struct{}](uuid.MustParse("0190f1a2-0000-7000-8000-000000000001")).String()

	var a promoter.Agency
	require.NoError(t, json.Unmarshal([]byte(`{"Name":"星火","PromoterShare":700000,"PaysItself":false,"Overrides":{"`+prod+`":125000},"Version":3}`), &a))
	assert.Equal(t, "70%", a.PromoterShare.String())
	require.Len(t, a.Overrides, 1)
	for id, r := range a.Overrides {
		assert.Equal(t, prod, id.String())
		assert.Equal(t, int64(125000), r.PPM())
	}
	assert.Equal(t, "星火", a.Name, "the other fields load as before")
	assert.Equal(t, int64(3), a.Version)
	b, err := json.Marshal(&a)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"PromoterShare":"70%"`)
	assert.Contains(t, string(b), `":"12.5%"}`)
	var back promoter.Agency
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, a, back)

	var noOverrides promoter.Agency
	require.NoError(t, json.Unmarshal([]byte(`{"PromoterShare":"10%","Overrides":null}`), &noOverrides))
	assert.Nil(t, noOverrides.Overrides)
	assert.Equal(t, int64(100000), noOverrides.PromoterShare.PPM())

	var p promoter.Plan
	require.NoError(t, json.Unmarshal([]byte(`{"Kind":"public","Rate":123456,"Version":2}`), &p))
	assert.Equal(t, "12.3456%", p.Rate.String())
	assert.Equal(t, promoter.Public, p.Kind)
	b, err = json.Marshal(&p)
	require.NoError(t, err)
	var pb promoter.Plan
	require.NoError(t, json.Unmarshal(b, &pb))
	assert.Equal(t, p, pb)

	var c promoter.Commission
	require.NoError(t, json.Unmarshal([]byte(`{"Line":1,"Rate":120000,"Amount":{"amount":"1.20","currency":"CNY"},"Status":20}`), &c))
	assert.Equal(t, "12%", c.Rate.String())
	assert.Equal(t, "CNY 1.20", c.Amount.String())
	assert.Equal(t, promoter.Pending, c.Status)

	// A rate that is neither form is an error, not a zero rate.
	require.Error(t, json.Unmarshal([]byte(`{"Rate":"twelve"}`), &p))
	require.Error(t, json.Unmarshal([]byte(`{"Rate":true}`), &p))
}
