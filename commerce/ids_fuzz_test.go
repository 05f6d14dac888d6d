package commerce_test

import (
	"bytes"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/minishop/minishop/commerce"
)

// FuzzParseID: typed IDs arrive from outside (URLs, API bodies, tokens).
// ParseID and UnmarshalText must agree; an accepted ID's canonical text
// re-parses to the same ID and is what String and MarshalText write; a
// refused input leaves the ID it was decoded into unchanged (never half
// parsed) and returns the zero ID.
func FuzzParseID(f *testing.F) {
	u := uuid.MustParse("0190c3a1-7b2e-7c4d-8e5f-6a7b8c9d0e1f")
	for _, s := range []string{
		u.String(), "0190C3A1-7B2E-7C4D-8E5F-6A7B8C9D0E1F", "0190c3a17b2e7c4d8e5f6a7b8c9d0e1f",
		"{0190c3a1-7b2e-7c4d-8e5f-6a7b8c9d0e1f}", "urn:uuid:0190c3a1-7b2e-7c4d-8e5f-6a7b8c9d0e1f",
		"00000000-0000-0000-0000-000000000000", "", "0190c3a1-7b2e-7c4d-8e5f-6a7b8c9d0e1", "0190c3a1_7b2e_7c4d_8e5f_6a7b8c9d0e1f",
		"0190c3a1-7b2e-7c4d-8e5f-6a7b8c9d0e1g", "\x00", "０１９０",
	} {
		f.Add(s)
	}
	sentinel := commerce.IDFrom[struct{}](u)
	f.Fuzz(func(t *testing.T, s string) {
		id, err := commerce.ParseID[commerce.ID[struct{}]](s)
		into := sentinel
		uerr := into.UnmarshalText([]byte(s))
		if (err == nil) != (uerr == nil) {
			t.Fatalf("ParseID(%q) err=%v, UnmarshalText err=%v", s, err, uerr)
		}
		if err != nil {
			if !id.IsZero() {
				t.Fatalf("ParseID(%q) failed but returned %s", s, id)
			}
			if into != sentinel {
				t.Fatalf("UnmarshalText(%q) failed but changed the ID to %s", s, into)
			}
			return
		}
		if into != id {
			t.Fatalf("ParseID(%q) = %s, UnmarshalText = %s", s, id, into)
		}
		str := id.String()
		back, err := commerce.ParseID[commerce.ID[struct{}]](str)
		if err != nil || back != id {
			t.Fatalf("ParseID(%q) = %s, whose text re-parses to %s, %v", s, str, back, err)
		}
		txt, _ := id.MarshalText()
		if string(txt) != str || len(str) != 36 {
			t.Fatalf("MarshalText %q, String %q", txt, str)
		}
		b, err := json.Marshal(id)
		if err != nil {
			t.Fatal(err)
		}
		var fromJSON commerce.ID[struct{}]
		if err := json.Unmarshal(b, &fromJSON); err != nil || fromJSON != id {
			t.Fatalf("%s round-trips through JSON %s to %s, %v", id, b, fromJSON, err)
		}
		if id.Compare(back) != 0 {
			t.Fatalf("Compare(%s, itself) != 0", id)
		}
	})
}

// FuzzMoneyJSON: Money arrives as JSON from outside (a host's API, a
// channel's notification) as well as from stored documents, through two
// decoders (a fast path for MarshalJSON's exact form and encoding/json for
// the rest). A decoded amount re-encodes canonically and decodes back
// equal, in whole minor units of its currency; a refused document leaves the
// Money it was decoded into unchanged.
func FuzzMoneyJSON(f *testing.F) {
	for _, s := range []string{
		`{"amount":"12.30","currency":"CNY"}`, `{"currency":"CNY","amount":"12.30"}`, `{"amount":"12.3","currency":"CNY"}`,
		`{"amount": "12.30", "currency": "CNY"}`, `{"amount":"1500","currency":"JPY"}`, `{"amount":"1.234","currency":"BHD"}`,
		`{"amount":"12.345","currency":"CNY"}`, `{"amount":12.30,"currency":"CNY"}`, `{"amount":"1e3","currency":"CNY"}`,
		`{"amount":"1e3000000","currency":"CNY"}`, `{"amount":"-0.00","currency":"CNY"}`, `{"amount":"","currency":"CNY"}`,
		`{"amount":"12.30","currency":"XYZ"}`, `{"amount":"12.30","currency":"cny"}`, `{"amount":"12.30"}`, `{}`, `null`, `[]`, `"12.30"`,
		`{"amount":"92233720368547758.07","currency":"CNY"}`, `{"amount":"92233720368547758.08","currency":"CNY"}`,
		`{"amount":"1\u0032.30","currency":"CNY"}`, `{"amount":"12.30","currency":"CNY","x":1}`, `{"amount":"12.30","currency":"CNY"`,
		`{"amount":"12.30","amount":"99.00","currency":"CNY"}`, `{"amount":"12.30","currency":"CNY"}  `,
	} {
		f.Add([]byte(s))
	}
	sentinel := commerce.MustParseMoney("USD 7.77", noCur)
	f.Fuzz(func(t *testing.T, b []byte) {
		m := sentinel
		if err := json.Unmarshal(b, &m); err != nil {
			if !m.Equal(sentinel) {
				t.Fatalf("Unmarshal(%q) failed (%v) but changed the Money to %s", b, err, m)
			}
			return
		}
		if !m.IsSet() {
			return // null
		}
		// Stored documents may hold digits below the minor unit (an
		// unrounded share), so JSON keeps them; but the amount is always
		// within int64 minor units once truncated.
		whole := m.Amount().Equal(m.Amount().Truncate(commerce.MinorDigits(m.Currency())))
		if _, err := commerce.NewMoney(m.Amount().Truncate(commerce.MinorDigits(m.Currency())), m.Currency()).Minor(); err != nil {
			t.Fatalf("Unmarshal(%q) = %s, beyond int64 minor units: %v", b, m, err)
		}
		enc, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var back commerce.Money
		if err := json.Unmarshal(enc, &back); err != nil || !back.Equal(m) {
			t.Fatalf("%s re-encodes as %s, which decodes to %s, %v", m, enc, back, err)
		}
		enc2, _ := json.Marshal(back)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not canonical: %s then %s", enc, enc2)
		}
		// What JSON accepts in whole minor units, ParseMoney accepts as the
		// same amount: one notion of an amount. Finer amounts ParseMoney
		// refuses rather than rounds.
		p, err := commerce.ParseMoney(m.String(), noCur)
		switch {
		case whole && (err != nil || !p.Equal(m)):
			t.Fatalf("JSON gave %s, ParseMoney of its text gives %s, %v", m, p, err)
		case !whole && err == nil:
			t.Fatalf("JSON gave %s below the minor unit, ParseMoney accepted it as %s", m, p)
		}
	})
}

// TestUUIDv7 checks the default generator: version 7, RFC 9562 variant,
// the current time in the first 48 bits, and IDs from every generator
// strictly increasing and never repeated, across refills of the random
// buffer and under concurrency.
func TestUUIDv7(t *testing.T) {
	gens := []commerce.IDGenerator{commerce.UUIDv7(), commerce.UUIDv7()}
	const per = 3000
	got := make([][]uuid.UUID, 4)
	var wg sync.WaitGroup
	for w := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				got[w] = append(got[w], gens[w%2].NewUUID())
			}
		}()
	}
	wg.Wait()
	seen := map[uuid.UUID]bool{}
	for _, ids := range got {
		for i, u := range ids {
			if u.Version() != 7 || u.Variant() != uuid.RFC4122 {
				t.Fatalf("%s: version %d, variant %s", u, u.Version(), u.Variant())
			}
			if ms := time.UnixMilli(int64(u[0])<<40 | int64(u[1])<<32 | int64(u[2])<<24 | int64(u[3])<<16 | int64(u[4])<<8 | int64(u[5])); time.Since(ms).Abs() > time.Minute {
				t.Fatalf("%s says %s", u, ms)
			}
			if i > 0 && bytes.Compare(ids[i-1][:8], u[:8]) >= 0 {
				t.Fatalf("%s after %s: not increasing", u, ids[i-1])
			}
			if seen[u] {
				t.Fatalf("%s made twice", u)
			}
			seen[u] = true
		}
	}
}
