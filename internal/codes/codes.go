// Package codes makes and checks the codes people type or read back:
// coupon claim codes and gift-card numbers. A code is random symbols of an
// unambiguous alphabet followed by one Luhn mod N check character, so a
// typo is caught before any lookup.
package codes

import (
	"crypto/rand"
	"fmt"
	"strings"
)

// Alphabet has no 0/O or 1/I: 32 symbols a person reads back without
// confusion. An even count is what the Luhn mod N check needs to catch
// every single-character typo.
const Alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"

func symbol(c byte) int { return strings.IndexByte(Alphabet, c) }

// Check is the Luhn mod N check character over s: it catches every single
// wrong character and every swap of two neighbours but one, "2Z" for "Z2"
// (the first and last symbols, like 0 and 9 in the decimal Luhn).
func Check(s string) byte {
	n := len(Alphabet)
	factor, sum := 2, 0
	for i := len(s) - 1; i >= 0; i-- {
		add := factor * symbol(s[i])
		factor = 3 - factor
		sum += add/n + add%n
	}
	return Alphabet[(n-sum%n)%n]
}

// Normalize uppercases a code and drops spaces and dashes (people type
// "abcd-efgh"), then checks its alphabet, its length (n random symbols and
// the check character) and its check character; its errors wrap bad, the
// caller's sentinel.
func Normalize(code string, n int, bad error) (string, error) {
	var b strings.Builder
	for _, r := range strings.ToUpper(code) {
		switch {
		case r == ' ' || r == '-':
		case r < 128 && symbol(byte(r)) >= 0:
			b.WriteRune(r)
		default:
			return "", fmt.Errorf("%w: %q is not a code character", bad, r)
		}
	}
	s := b.String()
	if len(s) != n+1 {
		return "", fmt.Errorf("%w: %d characters, want %d", bad, len(s), n+1)
	}
	if Check(s[:n]) != s[n] {
		return "", fmt.Errorf("%w: check character does not match (a typo?)", bad)
	}
	return s, nil
}

// New draws n random symbols (crypto/rand) and appends the check character.
func New(n int) (string, error) {
	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	out := make([]byte, n+1)
	for i, v := range buf {
		out[i] = Alphabet[int(v)%len(Alphabet)] // 256 = 8×32: uniform
	}
	out[n] = Check(string(out[:n]))
	return string(out), nil
}
