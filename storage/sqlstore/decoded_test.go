package sqlstore

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/membership"
)

func TestDecodedCopies(t *testing.T) {
	c := decoded[membership.Program]{clone: (*membership.Program).Clone}
	doc := `{"AutoJoin":true,"Tiers":[{"Level":1,"Name":"VIP1","ExcludeProducts":["0193a0a0-0000-7000-8000-000000000001"]}]}`
	first, err := c.get(doc, "membership program")
	require.NoError(t, err)
	require.Len(t, first.Tiers, 1)
	first.Tiers[0].Name = "changed"
	first.Tiers[0].ExcludeProducts[0] = commerce.ProductID{} // a different id
	first.AutoJoin = false

	second, err := c.get(doc, "membership program")
	require.NoError(t, err)
	assert.True(t, second.AutoJoin, "a read never sees another read's changes")
	assert.Equal(t, "VIP1", second.Tiers[0].Name)
	assert.Equal(t, "0193a0a0-0000-7000-8000-000000000001", second.Tiers[0].ExcludeProducts[0].String())
	second.Tiers[0].Name = "again"
	third, err := c.get(doc, "membership program")
	require.NoError(t, err)
	assert.Equal(t, "VIP1", third.Tiers[0].Name)

	_, err = c.get(`{"Tiers":`, "membership program")
	assert.ErrorContains(t, err, "sqlstore: membership program document: ")

	for i := range 2 * maxDecoded {
		_, err := c.get(fmt.Sprintf(`{"ExpPerOrder":%d}`, i), "membership program")
		require.NoError(t, err)
	}
	assert.LessOrEqual(t, len(c.byDoc), maxDecoded, "bounded")
	p, err := c.get(`{"ExpPerOrder":7}`, "membership program")
	require.NoError(t, err)
	assert.EqualValues(t, 7, p.ExpPerOrder)
}

// SQLite's placeholders carry a unary plus, so that table statistics
// (ANALYZE) never make a cached statement depend on its bound values.
func TestRebind(t *testing.T) {
	q := "SELECT a FROM t WHERE id = ? AND n + ? <= ? AND k IN (?, ?)"
	assert.Equal(t, "SELECT a FROM t WHERE id = +? AND n + +? <= +? AND k IN (+?, +?)", dialects[SQLite].rebind(q))
	assert.Equal(t, "SELECT a FROM t WHERE id = $1 AND n + $2 <= $3 AND k IN ($4, $5)", dialects[Postgres].rebind(q))
	assert.Equal(t, q, dialects[MySQL].rebind(q))
}
