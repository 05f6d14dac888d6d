package coupons_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/coupons"
)

// Batches stored before commerce.Rate held PercentOff in basis points; they
// must load with the same discount, and the current form round-trip.
func TestBatchLoadsStoredPercentOff(t *testing.T) {
	var b coupons.Batch
	require.NoError(t, json.Unmarshal([]byte(`{"Name":"8.5折","Kind":"percent_off","Amount":null,"PercentOff":1500,`+
		`"Cap":{"amount":"30.00","currency":"CNY"},"MinCount":0,"Total":100,"Status":"active","Version":4}`), &b))
	assert.Equal(t, commerce.MustPercent(15), b.PercentOff)
	assert.Equal(t, "8.5折", b.Name)
	assert.Equal(t, coupons.PercentOff, b.Kind)
	assert.Equal(t, "CNY 30.00", b.Cap.String())
	assert.Equal(t, int64(100), b.Total)
	assert.Equal(t, int64(4), b.Version)

	out, err := json.Marshal(&b)
	require.NoError(t, err)
	assert.Contains(t, string(out), `"PercentOff":"15%"`)
	var back coupons.Batch
	require.NoError(t, json.Unmarshal(out, &back))
	assert.Equal(t, b, back)

	var amountOff coupons.Batch
	require.NoError(t, json.Unmarshal([]byte(`{"Kind":"amount_off","PercentOff":0}`), &amountOff))
	assert.Equal(t, commerce.Rate{}, amountOff.PercentOff)
	require.NoError(t, json.Unmarshal([]byte(`{"Kind":"amount_off"}`), &amountOff))
	assert.Equal(t, commerce.Rate{}, amountOff.PercentOff)

	require.Error(t, json.Unmarshal([]byte(`{"PercentOff":"15"}`), &b), "a string without its unit")
	require.Error(t, json.Unmarshal([]byte(`{"PercentOff":15.5}`), &b), "a fraction of a basis point")
}
