package gifting

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/minishop/minishop/commerce"
)

// LotteryParams sets up a lottery gift's draw.
type LotteryParams struct {
	// DrawAt is when RunDue draws if the giver has not drawn before.
	DrawAt time.Time
	// Eligibility says who may enter: Everyone (the default), Listed
	// (Allowed) or ByRule (Config.Rules[Rule]).
	Eligibility Eligibility
	Allowed     []commerce.CustomerID
	Rule        string
}

// MaxEntrants bounds a lottery's entrants (a WeChat group holds 500).
const MaxEntrants = 10000

// More errors. Neither is retryable (see commerce.Retryable).
var (
	// ErrNotEligible: the person may not enter this lottery, or did not win it
	// (KindFailedPrecondition). Not retryable.
	ErrNotEligible = errors.New("not eligible")
	// ErrAlreadyEntered: the person entered this lottery before
	// (KindConflict). Not retryable: the first entry stands.
	ErrAlreadyEntered = errors.New("already entered")
)

func (s *Service) checkKind(op string, p *SendParams) error {
	switch p.Kind {
	case Single:
		if p.Quantity != 1 {
			return commerce.Invalid(op, "quantity", "a gift to one friend is one item, not %d", p.Quantity)
		}
		if p.Group != "" || p.Lottery != nil {
			return commerce.Invalid(op, "kind", "a gift to one friend has no group or lottery")
		}
	case Group, Lottery:
		if p.Quantity < 1 || p.Quantity > commerce.MaxGiftSlots {
			what := "slots"
			if p.Kind == Lottery {
				what = "prizes"
			}
			return commerce.Invalid(op, "quantity", "%d %s: a %s gift has 1 to %d", p.Quantity, what, p.Kind, commerce.MaxGiftSlots)
		}
		if err := commerce.CheckKey(op, "group", p.Group, true, commerce.MaxKeyLen); err != nil {
			return err
		}
		if (p.Kind == Lottery) != (p.Lottery != nil) {
			return commerce.Invalid(op, "lottery", "set for a lottery gift, and only then")
		}
	default:
		return commerce.Invalid(op, "kind", "unknown kind %q", p.Kind)
	}
	if p.Free && len(p.Extensions) > 0 {
		return commerce.Invalid(op, "extensions", "a merchant-paid gift takes no coupons or points")
	}
	if l := p.Lottery; l != nil {
		switch {
		case l.DrawAt.IsZero() || !l.DrawAt.After(s.now()):
			return commerce.Invalid(op, "lottery.draw_at", "must be in the future")
		case l.Eligibility == "" || l.Eligibility == Everyone:
			l.Eligibility = Everyone
			if len(l.Allowed) > 0 || l.Rule != "" {
				return commerce.Invalid(op, "lottery.eligibility", "everyone may enter: no list or rule")
			}
		case l.Eligibility == Listed:
			if len(l.Allowed) == 0 || len(l.Allowed) > MaxEntrants {
				return commerce.Invalid(op, "lottery.allowed", "a listed lottery names 1 to %d people", MaxEntrants)
			}
			for i, c := range l.Allowed {
				if err := commerce.CheckCustomer(op, fmt.Sprintf("lottery.allowed[%d]", i), c); err != nil {
					return err
				}
			}
		case l.Eligibility == ByRule:
			if _, ok := s.cfg.Rules[l.Rule]; !ok {
				return commerce.Invalid(op, "lottery.rule", "no rule %q is registered (Config.Rules)", l.Rule)
			}
		default:
			return commerce.Invalid(op, "lottery.eligibility", "unknown eligibility %q", l.Eligibility)
		}
	}
	return nil
}

// newDraw commits to a random seed: its hash is public from now on.
func newDraw(p *LotteryParams) (*Draw, error) {
	seed := make([]byte, 32)
	if _, err := rand.Read(seed); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(seed)
	return &Draw{At: p.DrawAt.UTC().Truncate(time.Microsecond), Eligibility: p.Eligibility,
		Allowed: slices.Clone(p.Allowed), Rule: p.Rule, Seed: hex.EncodeToString(seed), SeedHash: hex.EncodeToString(sum[:])}, nil
}

// Winners is the draw, so anyone can re-run it from the revealed seed (hex)
// and the entrants in the order they entered. With no more entrants than
// prizes everyone wins, in entry order. Otherwise it is a Fisher-Yates
// shuffle cut after the prizes: for i = 0, 1, ... prizes-1 it swaps
// position i with position i + r mod (n - i), where r is the first 8 bytes
// (big-endian) of HMAC-SHA256(seed, "minishop-lottery" ‖ uint64 counter)
// with the counter counting from 0 over every value drawn, values at or
// above the largest multiple of n - i being drawn again so every position
// is equally likely; the winners are positions 0 to prizes-1.
func Winners(seedHex string, entrants []commerce.CustomerID, prizes int) ([]commerce.CustomerID, error) {
	seed, err := hex.DecodeString(seedHex)
	if err != nil || len(seed) == 0 {
		return nil, fmt.Errorf("gifting: seed is not hex")
	}
	pool := slices.Clone(entrants)
	if len(pool) <= prizes {
		return pool, nil
	}
	var counter uint64
	next := func() uint64 {
		mac := hmac.New(sha256.New, seed)
		mac.Write([]byte("minishop-lottery"))
		var c [8]byte
		binary.BigEndian.PutUint64(c[:], counter)
		counter++
		mac.Write(c[:])
		return binary.BigEndian.Uint64(mac.Sum(nil)[:8])
	}
	for i := range prizes {
		n := uint64(len(pool) - i)
		limit := (^uint64(0) / n) * n
		r := next()
		for r >= limit {
			r = next()
		}
		j := i + int(r%n)
		pool[i], pool[j] = pool[j], pool[i]
	}
	return pool[:prizes], nil
}

// VerifyDraw checks a revealed draw: the seed hashes to the commitment
// published at creation, and the winners are what Winners gives.
func VerifyDraw(d *Draw, prizes int) error {
	seed, err := hex.DecodeString(d.Seed)
	if err != nil {
		return fmt.Errorf("gifting: seed is not hex")
	}
	if sum := sha256.Sum256(seed); hex.EncodeToString(sum[:]) != d.SeedHash {
		return fmt.Errorf("gifting: the seed does not match the published hash")
	}
	w, err := Winners(d.Seed, d.Entrants, prizes)
	if err != nil {
		return err
	}
	if !slices.Equal(w, d.Winners) {
		return fmt.Errorf("gifting: the winners are not the draw's")
	}
	return nil
}

// Enter puts who into a lottery before its draw. The giver cannot enter
// their own lottery; entering twice is ErrAlreadyEntered.
func (s *Service) Enter(ctx context.Context, merchant commerce.MerchantID, token string, who commerce.CustomerID) error {
	const op = "gifting.enter"
	if err := commerce.CheckID(op, "merchant_id", merchant); err != nil {
		return err
	}
	if err := commerce.CheckCustomer(op, "customer", who); err != nil {
		return err
	}
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		g, err := s.gift(ctx, merchant, token)
		if err != nil {
			return err
		}
		if g.Kind != Lottery {
			return commerce.Invalid(op, "token", "the gift is not a lottery")
		}
		if err := s.eligible(ctx, op, g, who); err != nil {
			return err
		}
		return s.store.UpdateGift(ctx, merchant, g.ID, func(g *Gift) error {
			switch {
			case g.Status != Sent:
				return fmt.Errorf("%w: the gift is %s", ErrGiftClosed, g.Status)
			case !g.Draw.Drawn.IsZero() || !s.now().Before(g.Draw.At):
				return fmt.Errorf("%w: the lottery is drawn", ErrGiftClosed)
			case slices.Contains(g.Draw.Entrants, who):
				return &commerce.Error{Op: op, Kind: commerce.KindConflict, Field: "customer", Err: ErrAlreadyEntered}
			case len(g.Draw.Entrants) >= MaxEntrants:
				return &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Err: fmt.Errorf("%w: %d entrants already", ErrGiftClosed, MaxEntrants)}
			}
			g.Draw.Entrants = append(g.Draw.Entrants, who)
			return nil
		})
	})
	return tokenErr(op, err)
}

func (s *Service) eligible(ctx context.Context, op string, g *Gift, who commerce.CustomerID) error {
	if who == g.Giver {
		return &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Field: "customer", Err: fmt.Errorf("%w: the giver cannot enter their own lottery", ErrNotEligible)}
	}
	ok := true
	switch g.Draw.Eligibility {
	case Listed:
		ok = slices.Contains(g.Draw.Allowed, who)
	case ByRule:
		rule, found := s.cfg.Rules[g.Draw.Rule]
		if !found {
			return commerce.Errorf(op, commerce.KindInternal, "lottery rule %q is not registered", g.Draw.Rule)
		}
		var err error
		if ok, err = rule(ctx, g.Clone(), who); err != nil {
			return commerce.Wrap(op, err)
		}
	}
	if !ok {
		return &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Field: "customer", Err: fmt.Errorf("%w: %s may not enter this lottery", ErrNotEligible, who)}
	}
	return nil
}

// DrawNow lets the giver draw their lottery before its draw time.
func (s *Service) DrawNow(ctx context.Context, merchant commerce.MerchantID, id GiftID, by commerce.CustomerID) (*Gift, error) {
	const op = "gifting.draw"
	if err := commerce.CheckID(op, "merchant_id", merchant); err != nil {
		return nil, err
	}
	if err := commerce.CheckCustomer(op, "by", by); err != nil {
		return nil, err
	}
	var out *Gift
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		return s.store.UpdateGift(ctx, merchant, id, func(g *Gift) error {
			switch {
			case g.Kind != Lottery:
				return commerce.Invalid(op, "gift", "not a lottery")
			case g.Giver != by:
				return &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Field: "customer", Err: errors.New("only the giver draws early")}
			case g.Status != Sent || !g.Draw.Drawn.IsZero():
				return &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Err: fmt.Errorf("%w: the lottery is %s", ErrGiftClosed, drawState(g))}
			}
			if err := s.draw(ctx, g); err != nil {
				return err
			}
			out = g.Clone()
			return nil
		})
	})
	if err != nil {
		return nil, commerce.Wrap(op, err)
	}
	return out, nil
}

func drawState(g *Gift) string {
	if g.Draw != nil && !g.Draw.Drawn.IsZero() {
		return "drawn"
	}
	return string(g.Status)
}

// draw picks the winners of a locked lottery gift. Winners then have the
// gift's lifetime to claim; with no entrants it expires at once.
func (s *Service) draw(ctx context.Context, g *Gift) error {
	now := s.now()
	w, err := Winners(g.Draw.Seed, g.Draw.Entrants, g.Slots)
	if err != nil {
		return err
	}
	g.Draw.Winners, g.Draw.Drawn = w, now
	g.ExpiresAt = now.Add(g.Lifetime)
	if len(w) == 0 {
		g.ExpiresAt = now
	}
	return s.emit(ctx, g, "drawn", map[string]any{"seed": g.Draw.Seed, "seed_hash": g.Draw.SeedHash,
		"entrants": len(g.Draw.Entrants), "winners": w})
}

// ClaimParams claims a slot of a group gift or a lottery prize.
type ClaimParams struct {
	MerchantID commerce.MerchantID
	Token      string
	Claimer    commerce.CustomerID
	Address    commerce.Address
	// SKU optionally picks another SKU of the same product at the same
	// price for this slot.
	SKU commerce.SKUID
}

// Claim gives the claimer a slot of a group gift (first come, first
// served, one per person; the giver cannot claim their own) or, for a
// lottery winner, their prize, with their address and optionally another
// SKU of the same product at the same price. The last slot claimed sends
// the gift's order on to be shipped; a lottery whose winners have all
// claimed closes at once, and RunDue refunds the prizes nobody won.
//
// A claim is safe to retry: a claimer who already holds a slot, with the
// same address (and SKU, when one is named), gets that slot back, even
// once the gift has closed because that claim took its last slot. Another
// address is refused as already claimed.
func (s *Service) Claim(ctx context.Context, p ClaimParams) (Slot, error) {
	const op = "gifting.claim"
	if err := commerce.CheckID(op, "merchant_id", p.MerchantID); err != nil {
		return Slot{}, err
	}
	if err := commerce.CheckCustomer(op, "claimer", p.Claimer); err != nil {
		return Slot{}, err
	}
	if err := p.Address.Validate(op, "address"); err != nil {
		return Slot{}, err
	}
	var slot Slot
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		g, err := s.gift(ctx, p.MerchantID, p.Token)
		if err != nil {
			return err
		}
		if !g.Shared() {
			return commerce.Invalid(op, "token", "a gift to one friend is accepted (Accept), not claimed")
		}
		now := s.now()
		var locked *Gift
		sl, free, err := s.store.ClaimSlot(ctx, p.MerchantID, g.ID, p.Claimer, p.Address, now, func(g *Gift) error {
			locked = g
			switch {
			case g.Status == Accepted:
				// The last slot's claim closed the gift: every slot is taken.
				return fmt.Errorf("%w: all %d slots are claimed", ErrNoSlot, g.Slots)
			case g.Status != Sent:
				return fmt.Errorf("%w: the gift is %s", ErrGiftClosed, g.Status)
			case g.Kind == Lottery && g.Draw.Drawn.IsZero():
				return fmt.Errorf("%w: the lottery is not drawn yet", ErrGiftClosed)
			case !now.Before(g.ExpiresAt):
				return fmt.Errorf("%w: the gift expired at %s", ErrGiftClosed, g.ExpiresAt.Format(time.RFC3339))
			case p.Claimer == g.Giver:
				return &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Field: "claimer", Err: errors.New("the giver cannot claim their own gift")}
			case g.Kind == Lottery && !slices.Contains(g.Draw.Winners, p.Claimer):
				return &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Field: "claimer", Err: fmt.Errorf("%w: %s did not win", ErrNotEligible, p.Claimer)}
			}
			return nil
		})
		if err != nil {
			return err
		}
		slot = sl
		if !p.SKU.IsZero() {
			o, err := s.commerce.GetOrder(ctx, p.MerchantID, g.OrderID)
			if err != nil {
				return err
			}
			if o.Lines[sl.Line].SKU != p.SKU {
				if _, err := s.commerce.SwitchGiftSKU(ctx, commerce.SwitchGiftSKUParams{MerchantID: p.MerchantID, OrderID: g.OrderID, Line: sl.Line, To: p.SKU}); err != nil {
					return err
				}
			}
		}
		if err := s.emit(ctx, locked, "accepted", map[string]any{"recipient": p.Claimer, "line": sl.Line, "sku": p.SKU}); err != nil {
			return err
		}
		switch {
		case free == 0:
			return s.closeClaims(ctx, locked)
		case locked.Kind == Lottery && locked.Slots-free == len(locked.Draw.Winners):
			// Every winner claimed: close now rather than at expiry.
			return s.store.UpdateGift(ctx, p.MerchantID, g.ID, func(g *Gift) error {
				g.ExpiresAt = now
				return nil
			})
		}
		return nil
	})
	if err != nil && (errors.Is(err, ErrAlreadyClaimed) || errors.Is(err, ErrGiftClosed) || errors.Is(err, ErrNoSlot)) {
		if sl, ok := s.claimed(ctx, p); ok {
			return sl, nil // a retry of a claim that went through
		}
	}
	if err != nil {
		var ce *commerce.Error
		switch {
		case errors.As(err, &ce):
		case errors.Is(err, ErrAlreadyClaimed):
			err = &commerce.Error{Op: op, Kind: commerce.KindConflict, Field: "claimer", Err: err}
		case errors.Is(err, ErrNoSlot):
			err = &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Err: err}
		}
		return Slot{}, tokenErr(op, err)
	}
	return slot, nil
}

// claimed returns the slot p.Claimer already holds with p's address (and
// SKU, when p names one): the answer to a retried claim whose first attempt
// committed but whose reply was lost.
func (s *Service) claimed(ctx context.Context, p ClaimParams) (Slot, bool) {
	g, err := s.gift(ctx, p.MerchantID, p.Token)
	if err != nil {
		return Slot{}, false
	}
	slots, err := s.store.GiftSlots(ctx, p.MerchantID, g.ID)
	if err != nil {
		return Slot{}, false
	}
	for _, sl := range slots {
		if sl.Claimer != p.Claimer || sl.Address == nil || *sl.Address != p.Address {
			continue
		}
		if !p.SKU.IsZero() {
			o, err := s.commerce.GetOrder(ctx, p.MerchantID, g.OrderID)
			if err != nil || sl.Line >= len(o.Lines) || o.Lines[sl.Line].SKU != p.SKU {
				return Slot{}, false
			}
		}
		return sl, true
	}
	return Slot{}, false
}

// closeClaims ends the claiming of a group gift or lottery whose every
// slot is claimed: the order learns its claimers and goes on to be
// shipped, and the gift is accepted.
func (s *Service) closeClaims(ctx context.Context, g *Gift) error {
	if err := s.assign(ctx, g); err != nil {
		return err
	}
	return s.store.UpdateGift(ctx, g.MerchantID, g.ID, func(g *Gift) error {
		g.Status, g.AcceptedAt, g.Refunded = Accepted, s.now(), true
		return nil
	})
}

// assign tells the order who claimed which slot (nothing when nobody did).
func (s *Service) assign(ctx context.Context, g *Gift) error {
	slots, err := s.store.GiftSlots(ctx, g.MerchantID, g.ID)
	if err != nil {
		return err
	}
	claims := map[int]commerce.GiftClaim{}
	for _, sl := range slots {
		if sl.Claimer != "" {
			claims[sl.Line] = commerce.GiftClaim{Recipient: sl.Claimer, Address: sl.Address}
		}
	}
	if len(claims) == 0 {
		return nil
	}
	_, err = s.commerce.AssignGiftLines(ctx, commerce.AssignGiftLinesParams{MerchantID: g.MerchantID, OrderID: g.OrderID, Claims: claims})
	return err
}

// unclaimed lists the order lines of a closed group gift that nobody claimed.
func (s *Service) unclaimed(ctx context.Context, g *Gift) ([]commerce.RefundItem, error) {
	slots, err := s.store.GiftSlots(ctx, g.MerchantID, g.ID)
	if err != nil {
		return nil, err
	}
	var items []commerce.RefundItem
	for _, sl := range slots {
		if sl.Claimer == "" {
			items = append(items, commerce.RefundItem{Line: sl.Line, Quantity: 1})
		}
	}
	return items, nil
}
