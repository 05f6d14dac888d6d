package locations

import (
	"encoding/json"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
)

// quickEntry reads what encoding/json reads, in any order and spacing
// (PostgreSQL's jsonb gives documents back so), and refuses the rest.
func TestQuickEntry(t *testing.T) {
	m, _ := commerce.ParseID[commerce.MerchantID](uuid.NewString())
	e := entry{ID: commerce.IDFrom[locationTag](uuid.New()), Merchant: m, Lat: -33.868820123456789, Lon: 151.2093, Gone: true}
	b, err := json.Marshal(e)
	require.NoError(t, err)
	got, ok := quickEntry(b)
	require.True(t, ok, "%s", b)
	assert.Equal(t, e, got)
	spaced := `{"m": "` + m.String() + `", "id": "` + e.ID.String() + `", "lat": -33.868820123456789, "lon": 151.2093, "gone": true}`
	got, ok = quickEntry([]byte(spaced))
	require.True(t, ok)
	assert.Equal(t, e, got)
	for _, bad := range []string{``, `{}`, `[1]`, `{"id":"x","m":"y","lat":1,"lon":2}`, `{"lat":1,"lon":2}`,
		`{"id":"` + e.ID.String() + `","m":"` + m.String() + `","lat":"1","lon":2}`,
		`{"id":"` + e.ID.String() + `","m":"` + m.String() + `","lat":1,"lon":2,"x":1}`,
		`{"id":"` + e.ID.String() + `","m":"` + m.String() + `","lat":1,"lon":2}x`} {
		_, ok := quickEntry([]byte(bad))
		assert.False(t, ok, bad)
	}
}
