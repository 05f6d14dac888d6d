package coupons

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"github.com/minishop/minishop/commerce"
)

// codeAlphabet has no 0/O or 1/I: 32 symbols a person reads back without
// confusion. An even count is what the Luhn mod N check needs to catch
// every single-character typo.
const codeAlphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"

// CodeLength is the random part of a code; one check character follows.
// 10 symbols of 5 bits: 2^50 codes, so guessing one is hopeless.
const CodeLength = 10

// MaxCodes bounds one GenerateCodes call.
const MaxCodes = 100_000

func symbol(c byte) int { return strings.IndexByte(codeAlphabet, c) }

// checkChar is the Luhn mod N check character over s: it catches every
// single wrong character and every swap of two neighbours but one, "2Z" for
// "Z2" (the first and last symbols, like 0 and 9 in the decimal Luhn).
func checkChar(s string) byte {
	n := len(codeAlphabet)
	factor, sum := 2, 0
	for i := len(s) - 1; i >= 0; i-- {
		add := factor * symbol(s[i])
		factor = 3 - factor
		sum += add/n + add%n
	}
	return codeAlphabet[(n-sum%n)%n]
}

// NormalizeCode uppercases a code and drops spaces and dashes (people type
// "abcd-efgh"), then checks its alphabet, length and check character, so a
// typo is caught before any lookup.
func NormalizeCode(code string) (string, error) {
	var b strings.Builder
	for _, r := range strings.ToUpper(code) {
		switch {
		case r == ' ' || r == '-':
		case r < 128 && symbol(byte(r)) >= 0:
			b.WriteRune(r)
		default:
			return "", fmt.Errorf("%w: %q is not a code character", ErrBadCode, r)
		}
	}
	s := b.String()
	if len(s) != CodeLength+1 {
		return "", fmt.Errorf("%w: %d characters, want %d", ErrBadCode, len(s), CodeLength+1)
	}
	if checkChar(s[:CodeLength]) != s[CodeLength] {
		return "", fmt.Errorf("%w: check character does not match (a typo?)", ErrBadCode)
	}
	return s, nil
}

func newCode() (string, error) {
	var buf [CodeLength]byte
	if _, err := rand.Read(buf[:]); err != nil {
		return "", err
	}
	out := make([]byte, CodeLength+1)
	for i, v := range buf {
		out[i] = codeAlphabet[int(v)%len(codeAlphabet)] // 256 = 8×32: uniform
	}
	out[CodeLength] = checkChar(string(out[:CodeLength]))
	return string(out), nil
}

// GenerateCodes makes n unique claim codes for a batch (crypto/rand over an
// unambiguous alphabet, with a check character) and stores them; each
// claims one coupon. The batch's Total still bounds the claims.
func (s *Service) GenerateCodes(ctx context.Context, merchant commerce.MerchantID, batch BatchID, n int) ([]string, error) {
	const op = "coupons.generate_codes"
	if err := commerce.CheckID(op, "merchant_id", merchant); err != nil {
		return nil, err
	}
	if n < 1 || n > MaxCodes {
		return nil, commerce.Invalid(op, "n", "%d codes: want 1..%d", n, MaxCodes)
	}
	b, err := s.store.GetBatch(ctx, merchant, batch)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	if b.Status == Voided {
		return nil, commerce.Errorf(op, commerce.KindFailedPrecondition, "batch %s is voided", batch)
	}
	var out []string
	for len(out) < n {
		chunk := make([]Code, 0, min(1000, n-len(out)))
		seen := map[string]bool{}
		for len(chunk) < cap(chunk) {
			c, err := newCode()
			if err != nil {
				return nil, wrapErr(op, err)
			}
			if !seen[c] {
				seen[c] = true
				chunk = append(chunk, Code{Code: c, BatchID: batch, MerchantID: merchant})
			}
		}
		err := s.store.InsertCodes(ctx, chunk)
		if errors.Is(err, commerce.ErrConflict) {
			continue // a collision with an existing code: draw the chunk again
		}
		if err != nil {
			return nil, wrapErr(op, err)
		}
		for _, c := range chunk {
			out = append(out, c.Code)
		}
	}
	return out, nil
}

// ClaimCodeParams redeems a claim code into a coupon.
type ClaimCodeParams struct {
	Code      string
	Customer  commerce.CustomerID
	RequestID string
}

// ClaimCode gives the customer the coupon a code stands for. A code claims
// once; the same customer repeating the request gets the same coupon.
func (s *Service) ClaimCode(ctx context.Context, p ClaimCodeParams) (*Coupon, error) {
	const op = "coupons.claim_code"
	code, err := NormalizeCode(p.Code)
	if err != nil {
		return nil, &commerce.Error{Op: op, Kind: commerce.KindInvalid, Field: "code", Err: err}
	}
	if err := checkCustomer(op, "customer", p.Customer); err != nil {
		return nil, err
	}
	if err := commerce.CheckKey(op, "request_id", p.RequestID, true, commerce.MaxKeyLen); err != nil {
		return nil, err
	}
	var out *Coupon
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		id := commerce.IDFrom[couponTag](s.ids.NewUUID())
		c, err := s.store.TakeCode(ctx, code, id)
		if errors.Is(err, ErrCodeUsed) {
			// Claimed before: by this customer (a retried request) or not.
			mine, werr := s.store.CustomerCoupons(ctx, p.Customer, "", 1000)
			if werr != nil {
				return werr
			}
			for _, m := range mine {
				if m.Code == code {
					out = m
					return nil
				}
			}
			return err
		}
		if err != nil {
			return err
		}
		out, err = s.claim(ctx, op, ClaimParams{MerchantID: c.MerchantID, BatchID: c.BatchID, Customer: p.Customer, RequestID: p.RequestID},
			func(_ context.Context, b *Batch, cp *Coupon) error {
				if b.Channel != Open && b.Channel != CodesOnly {
					return commerce.Errorf(op, commerce.KindFailedPrecondition, "batch %s is not claimed with codes", b.ID)
				}
				cp.ID, cp.Code = id, code
				return nil
			})
		if err == nil && out.ID != id {
			// The request ID was used before for another coupon of the
			// batch: this code must not be spent on it.
			return commerce.Invalid(op, "request_id", "already used for coupon %s", out.ID)
		}
		return err
	})
	if err != nil {
		return nil, wrapErr(op, err)
	}
	return out, nil
}
