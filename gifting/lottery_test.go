package gifting_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/gifting"
)

func entrants(n int) []commerce.CustomerID {
	out := make([]commerce.CustomerID, n)
	for i := range out {
		out[i] = commerce.CustomerID(fmt.Sprintf("p%d", i))
	}
	return out
}

func randomSeed(t testing.TB) string {
	b := make([]byte, 32)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// TestWinnersUniform: over many seeds each of 6 entrants wins one of 2
// prizes a third of the time, and every pair of winners is as likely.
func TestWinnersUniform(t *testing.T) {
	const draws = 30000
	people := entrants(6)
	wins := map[commerce.CustomerID]int{}
	pairs := map[string]int{}
	for range draws {
		w, err := gifting.Winners(randomSeed(t), people, 2)
		require.NoError(t, err)
		require.Len(t, w, 2)
		require.NotEqual(t, w[0], w[1])
		wins[w[0]]++
		wins[w[1]]++
		a, b := min(w[0], w[1]), max(w[0], w[1])
		pairs[string(a)+"+"+string(b)]++
	}
	for _, p := range people {
		assert.InDelta(t, float64(draws)/3, wins[p], draws*0.02, "%s wins a third of draws", p)
	}
	require.Len(t, pairs, 15)
	for pair, n := range pairs {
		assert.InDelta(t, float64(draws)/15, n, draws*0.015, pair)
	}
}

func TestWinnersDeterministic(t *testing.T) {
	seed := randomSeed(t)
	people := entrants(50)
	a, err := gifting.Winners(seed, people, 7)
	require.NoError(t, err)
	b, err := gifting.Winners(seed, people, 7)
	require.NoError(t, err)
	assert.Equal(t, a, b, "anyone re-running the seed gets the same winners")
	c, err := gifting.Winners(randomSeed(t), people, 7)
	require.NoError(t, err)
	assert.NotEqual(t, a, c)

	few, err := gifting.Winners(seed, entrants(3), 5)
	require.NoError(t, err)
	assert.Equal(t, entrants(3), few, "no more entrants than prizes: everyone wins")
	_, err = gifting.Winners("not hex", people, 1)
	assert.Error(t, err)
}

func TestVerifyDraw(t *testing.T) {
	seed := randomSeed(t)
	raw, _ := hex.DecodeString(seed)
	sum := sha256.Sum256(raw)
	people := entrants(10)
	w, err := gifting.Winners(seed, people, 3)
	require.NoError(t, err)
	d := &gifting.Draw{Seed: seed, SeedHash: hex.EncodeToString(sum[:]), Entrants: people, Winners: w}
	require.NoError(t, gifting.VerifyDraw(d, 3))

	forged := *d
	forged.Winners = []commerce.CustomerID{people[0], people[1], people[2]}
	if !assert.ObjectsAreEqual(forged.Winners, w) {
		assert.Error(t, gifting.VerifyDraw(&forged, 3), "other winners")
	}
	swapped := *d
	swapped.Seed = randomSeed(t)
	assert.ErrorContains(t, gifting.VerifyDraw(&swapped, 3), "published hash", "a seed chosen after the fact")
}
