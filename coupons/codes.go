package coupons

import (
	"context"
	"errors"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/internal/codes"
)

// CodeLength is the random part of a code; one check character follows.
// 10 symbols of 5 bits: 2^50 codes, so guessing one is hopeless.
const CodeLength = 10

// MaxCodes bounds one GenerateCodes call.
const MaxCodes = 100_000

// NormalizeCode uppercases a code and drops spaces and dashes (people type
// "abcd-efgh"), then checks its alphabet, length and check character, so a
// typo is caught before any lookup.
func NormalizeCode(code string) (string, error) {
	return codes.Normalize(code, CodeLength, ErrBadCode)
}

func newCode() (string, error) { return codes.New(CodeLength) }

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
