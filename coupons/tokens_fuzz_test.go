package coupons

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/internal/codes"
)

// FuzzNormalizeCode: claim codes are typed by people. NormalizeCode must
// not panic; what it accepts is CodeLength+1 characters of the code
// alphabet with a matching check character, is a fixed point (normalizing
// it again gives itself), and every single-character substitution of it is
// refused; what it refuses is an ErrBadCode with no code.
func FuzzNormalizeCode(f *testing.F) {
	c, err := newCode()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{c, strings.ToLower(c), c[:4] + "-" + c[4:], " " + c + " ", c[:CodeLength], c + "2",
		"", "-", "0000000000O", "ABCDEFGHJKL", "é" + c, "\x00", strings.Repeat("2", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := NormalizeCode(s)
		if err != nil {
			if n != "" || !errors.Is(err, ErrBadCode) {
				t.Fatalf("NormalizeCode(%q) = %q, %v", s, n, err)
			}
			return
		}
		if len(n) != CodeLength+1 || codes.Check(n[:CodeLength]) != n[CodeLength] {
			t.Fatalf("NormalizeCode(%q) = %q: wrong length or check character", s, n)
		}
		for i := range len(n) {
			if !strings.ContainsRune(codes.Alphabet, rune(n[i])) {
				t.Fatalf("NormalizeCode(%q) = %q: %q is not in the alphabet", s, n, n[i])
			}
		}
		if again, err := NormalizeCode(n); err != nil || again != n {
			t.Fatalf("NormalizeCode(%q) = %q, which normalizes to %q, %v", s, n, again, err)
		}
		// One typo, at a position and to a symbol the input picks, is caught.
		pos, sym := len(s)%len(n), codes.Alphabet[len(s)%len(codes.Alphabet)]
		if n[pos] != sym {
			typo := n[:pos] + string(sym) + n[pos+1:]
			if _, err := NormalizeCode(typo); err == nil {
				t.Fatalf("typo %q of %q passes", typo, n)
			}
		}
	})
}

// FuzzVerifyToken: share, promoter, group and transfer tokens travel in
// links. verify must not panic; it refuses with ErrBadToken and no token,
// and a token it accepts is exactly what sign makes of its fields (one
// encoding per token: no altered or re-encoded token passes, and the
// fuzzer cannot forge the HMAC); and a token signed from fuzzed fields verifies
// back to exactly those fields when none holds the field separator, and is
// refused when one does (so fields never shift into each other), as is an
// expired or over-long one.
func FuzzVerifyToken(f *testing.F) {
	clock := commercetest.NewClock(commercetest.Epoch)
	s := &Service{secret: []byte("test secret"), clock: clock}
	for _, tk := range []token{
		{Kind: tokenShare, Merchant: "m", Target: "b", Subject: "alice"},
		{Kind: tokenTransfer, Merchant: "m", Target: "c", Subject: "bob", Expires: clock.Now().Add(24 * time.Hour).Unix()},
	} {
		tok := s.sign(tk)
		f.Add(tok, tk.Kind, tk.Merchant, tk.Target, tk.Subject, tk.Expires)
	}
	f.Add("", "", "", "", "", int64(0))
	f.Add(".", "p", "m\nx", "b", "s", int64(-1))
	f.Add("a.b.c", "g", "m", "b", "s\n", int64(1))
	// Small seeds only: the minimizer runs an interesting input thousands
	// of times per byte, and a long seed made this target crawl.
	f.Add("AAAA.AAAA", "s", "", "", "", int64(1<<62))
	f.Fuzz(func(t *testing.T, tok, kind, merchant, target, subject string, expires int64) {
		got, err := s.verify(tok)
		if err != nil {
			if got != nil || !errors.Is(err, ErrBadToken) {
				t.Fatalf("verify(%q) = %+v, %v", tok, got, err)
			}
		} else if again := s.sign(*got); again != tok {
			t.Fatalf("verify accepted %q, but its fields sign as %q", tok, again)
		}

		tk := token{Kind: kind, Merchant: merchant, Target: target, Subject: subject, Expires: expires}
		signed := s.sign(tk)
		back, err := s.verify(signed)
		sep := strings.Contains(kind+merchant+target+subject, "\n")
		live := expires == 0 || clock.Now().Unix() < expires
		long := len(signed) > 1024 // verify reads no longer token
		switch {
		case sep || !live || long:
			if err == nil {
				t.Fatalf("token of %+v verified as %+v", tk, back)
			}
		case err != nil:
			t.Fatalf("token of %+v does not verify: %v", tk, err)
		case *back != tk:
			t.Fatalf("signed %+v, verified %+v", tk, *back)
		}
	})
}
