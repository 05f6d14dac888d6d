package storedvalue

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/internal/codes"
	"github.com/minishop/minishop/internal/records"
	"github.com/minishop/minishop/storage"
)

// CardCategory is the product category of e-card SKUs: an order of such a
// SKU, paid through the channel, issues the SKU's batch's cards to the
// buyer.
const CardCategory = "gift_card"

// CardNumberLength is the random part of a card number; one check
// character follows (the alphabet and check of coupon codes): 12 symbols of
// 5 bits, 2^60 numbers.
const CardNumberLength = 12

// SecretDigits is the length of a physical card's secret, printed under
// the scratch-off: 10^8 secrets, with at most cardTries wrong ones per card
// per lock and customerTries per customer per hour, so guessing one takes
// years.
const SecretDigits = 8

const (
	kindBatch     = "sv_card_batch"
	kindCard      = "sv_card"
	kindCardSKU   = "sv_card_sku"   // the batch an e-card SKU issues
	kindCardOrder = "sv_card_order" // the cards an order issued
	kindGuesses   = "sv_guesses"    // a customer's wrong secrets this hour

	cardTries     = 5
	cardLock      = time.Hour
	customerTries = 10

	// MaxIssue bounds one IssueCards call.
	MaxIssue = 10_000
	// ReminderLead is how long before a card expires RunDue sends the
	// expiring reminder.
	ReminderLead = 7 * 24 * time.Hour
)

// CardKind says how a card reaches its holder.
type CardKind string

const (
	// CardPhysical is printed with a number and a secret, activated when
	// sold, and redeemed or bound by whoever holds the secret.
	CardPhysical CardKind = "physical"
	// CardElectronic is bought in the shop and held by the buyer, who may
	// send it to a friend.
	CardElectronic CardKind = "electronic"
)

type cardBatchTag struct{}

// CardBatchID identifies a card batch.
type CardBatchID = commerce.ID[cardBatchTag]

// CardBatchParams creates a batch of gift cards.
type CardBatchParams struct {
	MerchantID commerce.MerchantID
	Title      string
	Kind       CardKind
	Face       commerce.Money
	// Validity is how long a card lasts from activation; 0 for no expiry.
	Validity time.Duration
	// SKU is the e-card SKU that sells the batch (a product of category
	// CardCategory); electronic batches only.
	SKU commerce.SKUID
}

// CardBatch is a merchant's batch of cards of one face value.
type CardBatch struct {
	ID CardBatchID
	CardBatchParams
	Created time.Time
}

// Meta implements records.Doc.
func (CardBatch) Meta() (string, time.Time) { return "", time.Time{} }

// CardState is where a card is in its life.
type CardState string

const (
	CardInactive CardState = "inactive" // printed, not yet sold
	CardActive   CardState = "active"   // may be used or redeemed
	CardRedeemed CardState = "redeemed" // its value went to a balance
	CardVoided   CardState = "voided"   // its order was refunded
	CardExpired  CardState = "expired"
	CardLost     CardState = "lost" // reported lost: its value moved to a new card
)

// Card is one gift card.
type Card struct {
	Number     string
	MerchantID commerce.MerchantID
	BatchID    CardBatchID
	Kind       CardKind
	Face       commerce.Money
	Balance    commerce.Money
	// Entries counts the card's ledger entries (CardStatement).
	Entries int64
	State   CardState
	// Holder is the customer the card is registered to; empty for a
	// physical card nobody has bound.
	Holder    commerce.CustomerID `json:",omitempty"`
	ExpiresAt time.Time           `json:",omitempty"`
	Reminded  bool                `json:",omitempty"`
	OrderID   commerce.OrderID    `json:",omitempty"` // the order an e-card was bought in
	// Sending is the open invitation to a friend, if any.
	Sending *CardSending `json:",omitempty"`

	SecretHash  string    `json:",omitempty"`
	Failures    int       `json:",omitempty"`
	LockedUntil time.Time `json:",omitempty"`
	Created     time.Time
	Activated   time.Time `json:",omitempty"`
}

// CardSending is an e-card on its way to a friend.
type CardSending struct {
	From    commerce.CustomerID
	Message string
	Nonce   string
	At      time.Time
}

// Meta implements records.Doc: an active card that expires is due for its
// reminder, then for its expiry.
func (c Card) Meta() (string, time.Time) {
	if c.State != CardActive || c.ExpiresAt.IsZero() {
		return string(c.State), time.Time{}
	}
	if !c.Reminded {
		return "remind", c.ExpiresAt.Add(-ReminderLead)
	}
	return "expire", c.ExpiresAt
}

// view is the card as callers see it: never its secret's hash.
func (c *Card) view() *Card {
	cp := *c
	cp.SecretHash = ""
	if c.Sending != nil {
		snd := *c.Sending
		snd.Nonce = ""
		cp.Sending = &snd
	}
	return &cp
}

func normalizeCard(op, field, number string) (string, error) {
	n, err := codes.Normalize(number, CardNumberLength, commerce.ErrInvalid)
	if err != nil {
		return "", &commerce.Error{Op: op, Kind: commerce.KindInvalid, Field: field, Err: fmt.Errorf("card number: %w", err)}
	}
	return n, nil
}

// CreateCardBatch creates a batch. Under the prepaid rules a physical
// (anonymous) card is worth at most 1,000.00 and lasts three years or
// more, or has no expiry; an e-card (registered to its buyer) at most
// 5,000.00, with no expiry.
func (s *Service) CreateCardBatch(ctx context.Context, p CardBatchParams) (*CardBatch, error) {
	const op = "storedvalue.create_card_batch"
	if err := commerce.CheckID(op, "merchant_id", p.MerchantID); err != nil {
		return nil, err
	}
	if err := commerce.CheckText(op, "title", p.Title, true, commerce.MaxShortTextLen); err != nil {
		return nil, err
	}
	cur, err := s.currency(ctx, op, p.MerchantID)
	if err != nil {
		return nil, err
	}
	if !p.Face.IsPositive() || p.Face.Currency() != cur {
		return nil, commerce.Invalid(op, "face", "%s is not a positive amount in %s", p.Face, cur)
	}
	if p.Validity < 0 {
		return nil, commerce.Invalid(op, "validity", "%s is negative", p.Validity)
	}
	rules := s.rulesApply(cur)
	switch p.Kind {
	case CardPhysical:
		if p.SKU != (commerce.SKUID{}) {
			return nil, commerce.Invalid(op, "sku", "a physical card is sold over the counter and activated, not through a SKU")
		}
		if rules && overLimit(p.Face, anonymousLimitFen) {
			return nil, refuse(op, "face", ErrLimit, "%s: an anonymous prepaid card holds at most 1,000.00", p.Face)
		}
		if rules && p.Validity > 0 && p.Validity < anonymousValidity {
			return nil, refuse(op, "validity", ErrLimit, "%s: an anonymous prepaid card lasts at least three years", p.Validity)
		}
	case CardElectronic:
		prod, err := s.commerce.ProductBySKU(ctx, p.MerchantID, p.SKU)
		if err != nil {
			return nil, &commerce.Error{Op: op, Kind: commerce.KindOf(err), Field: "sku", Err: err}
		}
		if prod.Category != CardCategory {
			return nil, commerce.Invalid(op, "sku", "%s is a %q product, not an e-card (category %q)", p.SKU, prod.Category, CardCategory)
		}
		if rules && overLimit(p.Face, registeredLimitFen) {
			return nil, refuse(op, "face", ErrLimit, "%s: a registered prepaid card holds at most 5,000.00", p.Face)
		}
		if rules && p.Validity > 0 {
			return nil, refuse(op, "validity", ErrLimit, "a registered prepaid card has no expiry")
		}
	default:
		return nil, commerce.Invalid(op, "kind", "%q: want %q or %q", p.Kind, CardPhysical, CardElectronic)
	}
	b := &CardBatch{ID: commerce.IDFrom[cardBatchTag](s.ids.NewUUID()), CardBatchParams: p, Created: s.now()}
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		if err := records.Insert(ctx, s.store, kindBatch, b.ID.String(), b.Created, b); err != nil {
			return err
		}
		if p.Kind != CardElectronic {
			return nil
		}
		_, err := records.Update(ctx, s.store, kindCardSKU, p.MerchantID.String()+":"+p.SKU.String(), b.Created, true, func(v *skuBatch, _ bool) error {
			v.Batch = b.ID
			return nil
		})
		return err
	})
	if err != nil {
		return nil, commerce.Wrap(op, err)
	}
	return b, nil
}

type skuBatch struct {
	Batch CardBatchID `json:"batch"`
}

func (skuBatch) Meta() (string, time.Time) { return "", time.Time{} }

func (s *Service) batch(ctx context.Context, op string, merchant commerce.MerchantID, id CardBatchID) (*CardBatch, error) {
	b, err := records.Read[CardBatch](ctx, s.store, kindBatch, id.String())
	if err == nil && b.MerchantID != merchant {
		err = storage.ErrNotFound
	}
	if err != nil {
		return nil, &commerce.Error{Op: op, Kind: commerce.KindOf(err), Field: "batch_id", Err: err}
	}
	return b, nil
}

// PrintedCard is what is printed on a physical card: its number and its
// secret, which IssueCards returns once and minishop never shows again.
type PrintedCard struct {
	Number string
	Secret string
}

// IssueCards makes n inactive cards of a physical batch, to be printed.
func (s *Service) IssueCards(ctx context.Context, merchant commerce.MerchantID, batch CardBatchID, n int) ([]PrintedCard, error) {
	const op = "storedvalue.issue_cards"
	if err := commerce.CheckID(op, "merchant_id", merchant); err != nil {
		return nil, err
	}
	if n < 1 || n > MaxIssue {
		return nil, commerce.Invalid(op, "n", "%d cards: want 1..%d", n, MaxIssue)
	}
	b, err := s.batch(ctx, op, merchant, batch)
	if err != nil {
		return nil, err
	}
	if b.Kind != CardPhysical {
		return nil, commerce.Invalid(op, "batch_id", "batch %s is of e-cards, issued when bought", batch)
	}
	out := make([]PrintedCard, 0, n)
	for len(out) < n {
		number, err := codes.New(CardNumberLength)
		if err != nil {
			return nil, commerce.Wrap(op, err)
		}
		secret, err := newSecret()
		if err != nil {
			return nil, commerce.Wrap(op, err)
		}
		now := s.now()
		c := &Card{Number: number, MerchantID: merchant, BatchID: b.ID, Kind: CardPhysical, Face: b.Face, Balance: b.Face,
			State: CardInactive, SecretHash: s.hashSecret(number, secret), Created: now}
		err = s.insertCard(ctx, c)
		if errors.Is(err, storage.ErrConflict) {
			continue // a number drawn twice: draw again
		}
		if err != nil {
			return nil, commerce.Wrap(op, err)
		}
		out = append(out, PrintedCard{Number: number, Secret: secret})
	}
	return out, nil
}

func newSecret() (string, error) {
	var buf [8]byte
	if _, err := rand.Read(buf[:]); err != nil {
		return "", err
	}
	var v uint64
	for _, b := range buf {
		v = v<<8 | uint64(b)
	}
	return fmt.Sprintf("%08d", v%100_000_000), nil
}

// hashSecret is the stored form of a card's secret: HMAC-SHA256 under the
// service's secret over the number and the secret.
func (s *Service) hashSecret(number, secret string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("card-secret:" + number + ":" + secret))
	return hex.EncodeToString(m.Sum(nil))
}

// GetCard returns a card of the merchant.
func (s *Service) GetCard(ctx context.Context, merchant commerce.MerchantID, number string) (*Card, error) {
	const op = "storedvalue.get_card"
	c, err := s.card(ctx, op, "number", merchant, number)
	if err != nil {
		return nil, err
	}
	return c.view(), nil
}

func (s *Service) card(ctx context.Context, op, field string, merchant commerce.MerchantID, number string) (*Card, error) {
	n, err := normalizeCard(op, field, number)
	if err != nil {
		return nil, err
	}
	c, err := records.Read[Card](ctx, s.store, kindCard, n)
	if err == nil && c.MerchantID != merchant {
		err = fmt.Errorf("card %s is not this shop's: %w", n, storage.ErrNotFound)
	}
	if err != nil {
		return nil, &commerce.Error{Op: op, Kind: commerce.KindOf(err), Field: field, Err: err}
	}
	return c, nil
}

// updateCard changes the merchant's card under its compare-and-swap.
func (s *Service) updateCard(ctx context.Context, op, field string, merchant commerce.MerchantID, number string, fn func(c *Card, fx *records.Effects) error) (*Card, error) {
	n, err := normalizeCard(op, field, number)
	if err != nil {
		return nil, err
	}
	c, err := records.UpdateFx(ctx, s.store, kindCard, n, s.now(), false, func(c *Card, _ bool, fx *records.Effects) error {
		if c.MerchantID != merchant {
			return fmt.Errorf("card %s is not this shop's: %w", n, storage.ErrNotFound)
		}
		return fn(c, fx)
	})
	if err != nil {
		var ce *commerce.Error
		if errors.As(err, &ce) {
			return nil, err
		}
		return nil, &commerce.Error{Op: op, Kind: commerce.KindOf(err), Field: field, Err: err}
	}
	return c, nil
}

// ActivateCard activates a physical card when it is sold: from now it may
// be redeemed or bound, and its validity runs.
func (s *Service) ActivateCard(ctx context.Context, merchant commerce.MerchantID, number string) (*Card, error) {
	const op = "storedvalue.activate_card"
	return s.startCard(ctx, op, merchant, number, "activated", func(c *Card) error {
		if c.State == CardActive {
			return records.ErrKeep
		}
		if c.State != CardInactive {
			return refuse(op, "number", ErrCardUnusable, "card %s is %s", c.Number, c.State)
		}
		return nil
	})
}

// startCard makes a card active for a term of its batch's validity from
// now once check lets it (records.ErrKeep: the card stays as it is), and
// writes the event "storedvalue.card_<what>".
func (s *Service) startCard(ctx context.Context, op string, merchant commerce.MerchantID, number, what string, check func(*Card) error) (*Card, error) {
	var b *CardBatch
	c, err := s.updateCard(ctx, op, "number", merchant, number, func(c *Card, fx *records.Effects) error {
		if err := check(c); err != nil {
			return err
		}
		var err error
		if b == nil {
			if b, err = s.batch(ctx, op, merchant, c.BatchID); err != nil {
				return err
			}
		}
		now := s.now()
		c.State, c.Reminded, c.ExpiresAt = CardActive, false, time.Time{}
		if c.Activated.IsZero() {
			c.Activated = now
		}
		if b.Validity > 0 {
			c.ExpiresAt = now.Add(b.Validity)
		}
		fx.Do(func() error { return s.cardEvent(ctx, what, c) })
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c.view(), nil
}

// ReactivateCard gives an expired card that still holds money a new term
// of its batch's validity from now: China's prepaid-card rules ask the
// issuer to reactivate or exchange a card that expired with a balance, so
// the money is never lost to the date. A card that is active is returned
// as it is; an expired card with nothing left, or a card in any other
// state, is refused (ErrCardUnusable).
func (s *Service) ReactivateCard(ctx context.Context, merchant commerce.MerchantID, number string) (*Card, error) {
	const op = "storedvalue.reactivate_card"
	return s.startCard(ctx, op, merchant, number, "reactivated", func(c *Card) error {
		switch {
		case c.State == CardActive:
			return records.ErrKeep
		case c.State != CardExpired:
			return refuse(op, "number", ErrCardUnusable, "card %s is %s, not expired", c.Number, c.State)
		case !c.Balance.IsPositive():
			return refuse(op, "number", ErrCardUnusable, "card %s expired with nothing left", c.Number)
		}
		return nil
	})
}

// cardMoved counts a change of the card's balance by amount as its next
// ledger entry, written with fx once the card is saved.
func (s *Service) cardMoved(ctx context.Context, c *Card, fx *records.Effects, kind EntryKind, amount commerce.Money, order commerce.OrderID) {
	c.Entries++
	e := Entry{Seq: c.Entries, Kind: kind, Principal: amount, Bonus: commerce.Zero(amount.Currency()), OrderID: order, At: s.now()}
	fx.Do(func() error {
		return records.Insert(ctx, s.store, kindEntry, entryKey("card:"+c.Number, e.Seq), e.At, e)
	})
}

// insertCard stores a new card with its issue entry; storage.ErrConflict
// when its number is taken.
func (s *Service) insertCard(ctx context.Context, c *Card) error {
	c.Entries = 1
	return s.store.InTx(ctx, func(ctx context.Context) error {
		if err := records.Insert(ctx, s.store, kindCard, c.Number, c.Created, c); err != nil {
			return err
		}
		e := Entry{Seq: 1, Kind: EntryIssued, Principal: c.Face, Bonus: commerce.Zero(c.Face.Currency()), OrderID: c.OrderID, At: c.Created}
		return records.Insert(ctx, s.store, kindEntry, entryKey("card:"+c.Number, 1), c.Created, e)
	})
}

// CardStatement returns the card's ledger entries after seq after, oldest
// first, at most limit (commerce.PageLimit).
func (s *Service) CardStatement(ctx context.Context, merchant commerce.MerchantID, number string, after int64, limit int) ([]Entry, error) {
	const op = "storedvalue.card_statement"
	c, err := s.card(ctx, op, "number", merchant, number)
	if err != nil {
		return nil, err
	}
	return s.entries(ctx, op, "card:"+c.Number, c.Entries, after, limit)
}

func (s *Service) cardEvent(ctx context.Context, what string, c *Card) error {
	return s.emit(ctx, "storedvalue.card_"+what, c.Number, c.MerchantID, map[string]any{"number": c.Number, "batch_id": c.BatchID,
		"holder": c.Holder, "balance": c.Balance, "state": c.State})
}

// checkSecret judges a physical card's secret: a wrong one counts against
// the card (cardTries, then locked for cardLock) and the customer
// (customerTries an hour), in its own transaction, so the count stays when
// the caller's fails.
func (s *Service) checkSecret(ctx context.Context, op string, merchant commerce.MerchantID, customer commerce.CustomerID, number, secret string) error {
	now := s.now()
	hour := now.Truncate(time.Hour)
	gk := accountKey(merchant, customer)
	g, err := records.Read[guesses](ctx, s.store, kindGuesses, gk)
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		return commerce.Wrap(op, err)
	case g.Hour.Equal(hour) && g.Wrong >= customerTries:
		return refuse(op, "secret", ErrLocked, "%d wrong card secrets this hour; try again after %s", g.Wrong, hour.Add(time.Hour).Format(time.RFC3339))
	}
	c, err := s.card(ctx, op, "number", merchant, number)
	if err != nil {
		return err
	}
	if now.Before(c.LockedUntil) {
		return refuse(op, "secret", ErrLocked, "card %s is locked after %d wrong secrets until %s", c.Number, cardTries, c.LockedUntil.Format(time.RFC3339))
	}
	if c.SecretHash != "" && hmac.Equal([]byte(c.SecretHash), []byte(s.hashSecret(c.Number, strings.TrimSpace(secret)))) {
		return nil
	}
	err = s.store.InTx(context.WithoutCancel(ctx), func(ctx context.Context) error {
		if _, err := s.updateCard(ctx, op, "number", merchant, c.Number, func(c *Card, _ *records.Effects) error {
			c.Failures++
			if c.Failures >= cardTries {
				c.Failures, c.LockedUntil = 0, now.Add(cardLock)
			}
			return nil
		}); err != nil {
			return err
		}
		_, err := records.Update(ctx, s.store, kindGuesses, gk, now, true, func(g *guesses, _ bool) error {
			if !g.Hour.Equal(hour) {
				g.Hour, g.Wrong = hour, 0
			}
			g.Wrong++
			return nil
		})
		return err
	})
	if err != nil {
		return commerce.Wrap(op, err)
	}
	return refuse(op, "secret", ErrWrongSecret, "card %s", c.Number)
}

type guesses struct {
	Hour  time.Time `json:"hour"`
	Wrong int       `json:"wrong"`
}

func (guesses) Meta() (string, time.Time) { return "", time.Time{} }

// BindCard registers a physical card to the customer who knows its secret,
// who may then pay with it (FromCard) without redeeming it.
func (s *Service) BindCard(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, number, secret string) (*Card, error) {
	const op = "storedvalue.bind_card"
	if err := commerce.CheckID(op, "merchant_id", merchant); err != nil {
		return nil, err
	}
	if customer == "" {
		return nil, commerce.Invalid(op, "customer_id", "required")
	}
	if err := s.checkSecret(ctx, op, merchant, customer, number, secret); err != nil {
		return nil, err
	}
	c, err := s.updateCard(ctx, op, "number", merchant, number, func(c *Card, fx *records.Effects) error {
		if c.Holder == customer && c.State == CardActive {
			return records.ErrKeep
		}
		if err := usable(op, "number", c, s.now()); err != nil {
			return err
		}
		if c.Holder != "" {
			return refuse(op, "number", ErrCardUnusable, "card %s is bound to another customer", c.Number)
		}
		c.Holder = customer
		fx.Do(func() error { return s.cardEvent(ctx, "bound", c) })
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c.view(), nil
}

func usable(op, field string, c *Card, now time.Time) error {
	switch {
	case c.State != CardActive:
		return refuse(op, field, ErrCardUnusable, "card %s is %s", c.Number, c.State)
	case !c.ExpiresAt.IsZero() && !now.Before(c.ExpiresAt):
		return refuse(op, field, ErrCardUnusable, "card %s expired at %s", c.Number, c.ExpiresAt.Format(time.RFC3339))
	}
	return nil
}

// RedeemParams moves a card's value into a balance.
type RedeemParams struct {
	MerchantID commerce.MerchantID
	Customer   commerce.CustomerID
	Number     string
	// Secret is a physical card's secret; a card the customer holds needs
	// none.
	Secret string
}

// RedeemCard moves what is left on the card into the customer's balance,
// as principal, once: a card redeemed concurrently many times credits one
// balance once, and the others are refused.
func (s *Service) RedeemCard(ctx context.Context, p RedeemParams) (*Account, error) {
	const op = "storedvalue.redeem_card"
	if err := commerce.CheckID(op, "merchant_id", p.MerchantID); err != nil {
		return nil, err
	}
	if p.Customer == "" {
		return nil, commerce.Invalid(op, "customer", "required")
	}
	cur, err := s.card(ctx, op, "number", p.MerchantID, p.Number)
	if err != nil {
		return nil, err
	}
	if cur.Holder != p.Customer {
		if cur.Holder != "" || cur.Kind != CardPhysical {
			return nil, refuse(op, "number", ErrCardUnusable, "card %s is not %s's", cur.Number, p.Customer)
		}
		if err := s.checkSecret(ctx, op, p.MerchantID, p.Customer, cur.Number, p.Secret); err != nil {
			return nil, err
		}
	}
	var out *Account
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		var value commerce.Money
		_, err := s.updateCard(ctx, op, "number", p.MerchantID, cur.Number, func(c *Card, fx *records.Effects) error {
			if err := usable(op, "number", c, s.now()); err != nil {
				return err
			}
			if c.Holder != "" && c.Holder != p.Customer {
				return refuse(op, "number", ErrCardUnusable, "card %s is not %s's", c.Number, p.Customer)
			}
			value = c.Balance
			s.cardMoved(ctx, c, fx, EntryRedeemed, value.Neg(), commerce.OrderID{})
			c.Balance, c.State, c.Holder, c.Sending = commerce.Zero(c.Balance.Currency()), CardRedeemed, p.Customer, nil
			fx.Do(func() error { return s.cardEvent(ctx, "redeemed", c) })
			return nil
		})
		if err != nil {
			return err
		}
		out, err = s.move(ctx, p.MerchantID, p.Customer, EntryRedeemed, commerce.OrderID{}, func(a *Account) (commerce.Money, commerce.Money, error) {
			if s.rulesApply(value.Currency()) {
				if after, _ := a.Balance().Add(value); overLimit(after, registeredLimitFen) {
					return commerce.Money{}, commerce.Money{}, refuse(op, "number", ErrLimit, "a balance of %s with the card's %s would pass the 5,000.00 a registered prepaid account may hold", a.Balance(), value)
				}
			}
			return value, commerce.Zero(value.Currency()), nil
		})
		return err
	})
	if err != nil {
		return nil, commerce.Wrap(op, err)
	}
	return out, nil
}

// SendCard starts sending an e-card the customer holds to a friend and
// returns the link's token (for a share card in chat); the friend accepts
// it with AcceptCard. Sending again replaces the earlier link.
func (s *Service) SendCard(ctx context.Context, merchant commerce.MerchantID, from commerce.CustomerID, number, message string) (string, error) {
	const op = "storedvalue.send_card"
	if err := commerce.CheckText(op, "message", message, false, commerce.MaxShortTextLen); err != nil {
		return "", err
	}
	var nonce [12]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return "", commerce.Wrap(op, err)
	}
	c, err := s.updateCard(ctx, op, "number", merchant, number, func(c *Card, fx *records.Effects) error {
		if err := usable(op, "number", c, s.now()); err != nil {
			return err
		}
		if c.Holder != from || from == "" {
			return refuse(op, "number", ErrCardUnusable, "card %s is not %s's", c.Number, from)
		}
		c.Sending = &CardSending{From: from, Message: message, Nonce: base64.RawURLEncoding.EncodeToString(nonce[:]), At: s.now()}
		fx.Do(func() error { return s.cardEvent(ctx, "sent", c) })
		return nil
	})
	if err != nil {
		return "", err
	}
	return s.cardToken(c.Number, c.Sending.Nonce), nil
}

// cardToken is number.nonce.mac: 16 bytes of HMAC-SHA256 over the number
// and the sending's nonce, base64url.
func (s *Service) cardToken(number, nonce string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("card-send:" + number + ":" + nonce))
	return number + "." + nonce + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// AcceptCard takes an e-card sent with SendCard into the friend's wallet:
// it is then theirs to pay with or redeem. A link accepts once.
func (s *Service) AcceptCard(ctx context.Context, merchant commerce.MerchantID, to commerce.CustomerID, token string) (*Card, error) {
	const op = "storedvalue.accept_card"
	if to == "" {
		return nil, commerce.Invalid(op, "customer_id", "required")
	}
	number, nonce, ok := strings.Cut(token, ".")
	if ok {
		nonce, _, ok = strings.Cut(nonce, ".")
	}
	if !ok || !hmac.Equal([]byte(s.cardToken(number, nonce)), []byte(token)) {
		return nil, commerce.Invalid(op, "token", "not a card link of this shop")
	}
	c, err := s.updateCard(ctx, op, "token", merchant, number, func(c *Card, fx *records.Effects) error {
		if c.Sending == nil || c.Sending.Nonce != nonce {
			if c.Holder == to {
				return records.ErrKeep // accepted already
			}
			return refuse(op, "token", ErrCardUnusable, "the link of card %s was used or replaced", c.Number)
		}
		if err := usable(op, "token", c, s.now()); err != nil {
			return err
		}
		c.Holder, c.Sending = to, nil
		fx.Do(func() error { return s.cardEvent(ctx, "accepted", c) })
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c.view(), nil
}

// spendCard takes amount from a card the customer holds.
func (s *Service) spendCard(ctx context.Context, op, field string, o *commerce.Order, number string, amount commerce.Money) error {
	_, err := s.updateCard(ctx, op, field, o.MerchantID, number, func(c *Card, fx *records.Effects) error {
		if err := usable(op, field, c, s.now()); err != nil {
			return err
		}
		if c.Holder != o.CustomerID {
			return refuse(op, field, ErrCardUnusable, "card %s is not %s's", c.Number, o.CustomerID)
		}
		if cmp, _ := amount.Cmp(c.Balance); cmp > 0 {
			return refuse(op, field, ErrInsufficient, "spend %s, card %s holds %s", amount, c.Number, c.Balance)
		}
		c.Balance, _ = c.Balance.Sub(amount)
		s.cardMoved(ctx, c, fx, EntrySpent, amount.Neg(), o.ID)
		fx.Do(func() error { return s.cardEvent(ctx, "spent", c) })
		return nil
	})
	return err
}

// creditCard gives a card back what an order spent of it.
func (s *Service) creditCard(ctx context.Context, op string, o *commerce.Order, number string, amount commerce.Money, kind EntryKind) error {
	_, err := s.updateCard(ctx, op, "card", o.MerchantID, number, func(c *Card, fx *records.Effects) error {
		c.Balance, _ = c.Balance.Add(amount)
		s.cardMoved(ctx, c, fx, kind, amount, o.ID)
		fx.Do(func() error { return s.cardEvent(ctx, string(kind), c) })
		return nil
	})
	return err
}

// cardsCheckout marks an e-card order, refusing, under the prepaid rules,
// cards for 10,000.00 or more at once.
func (s *Service) cardsCheckout(ctx context.Context, op string, o *commerce.Order) error {
	if s.rulesApply(o.Currency) && overLimit(o.Total, realNameFen-1) {
		return refuse(op, "lines", ErrRealName, "cards for %s at once: the buyer's real name and identity document are needed from 10,000.00", o.Total)
	}
	mark(o, "cards")
	return nil
}

// cardOrder lists the cards an order issued.
type cardOrder struct {
	Cards []string `json:"cards"`
	// Voided lists the cards each refund voided, so a failed refund
	// gives them back.
	Voided map[string][]string `json:"voided,omitempty"`
}

func (cardOrder) Meta() (string, time.Time) { return "", time.Time{} }

// cardsChanged issues a paid order's e-cards to the buyer, and voids the
// cards a refund takes back: only cards the buyer still holds, unspent
// and unsent (ErrSpent otherwise).
func (s *Service) cardsChanged(ctx context.Context, c commerce.OrderChange) error {
	const op = "storedvalue.cards"
	o := c.Order
	now := s.now()
	switch {
	case c.Action == commerce.ActionPay:
		var issued cardOrder
		for _, l := range o.Lines {
			sb, err := records.Read[skuBatch](ctx, s.store, kindCardSKU, o.MerchantID.String()+":"+l.SKU.String())
			if err != nil {
				return commerce.Wrap(op, fmt.Errorf("e-card SKU %s has no batch: %w", l.SKU, err))
			}
			b, err := s.batch(ctx, op, o.MerchantID, sb.Batch)
			if err != nil {
				return err
			}
			for range l.Quantity {
				var number string
				for {
					if number, err = codes.New(CardNumberLength); err != nil {
						return err
					}
					card := &Card{Number: number, MerchantID: o.MerchantID, BatchID: b.ID, Kind: CardElectronic, Face: b.Face, Balance: b.Face,
						State: CardActive, Holder: o.CustomerID, OrderID: o.ID, Created: now, Activated: now}
					if b.Validity > 0 {
						card.ExpiresAt = now.Add(b.Validity)
					}
					err = s.insertCard(ctx, card)
					if errors.Is(err, storage.ErrConflict) {
						continue
					}
					if err != nil {
						return commerce.Wrap(op, err)
					}
					if err := s.cardEvent(ctx, "issued", card); err != nil {
						return err
					}
					break
				}
				issued.Cards = append(issued.Cards, number)
			}
		}
		if err := records.Insert(ctx, s.store, kindCardOrder, o.ID.String(), now, issued); err != nil {
			return commerce.Wrap(op, err)
		}
		return s.shipVirtual(ctx, op, o)
	case c.Action == commerce.ActionRefund && c.Refund != nil:
		issued, err := records.Read[cardOrder](ctx, s.store, kindCardOrder, o.ID.String())
		if err != nil {
			return commerce.Wrap(op, err)
		}
		var took []string
		var want int64
		for _, rl := range c.Refund.Lines {
			want += rl.Quantity
		}
		for _, number := range issued.Cards {
			if want == 0 {
				break
			}
			voided := false
			_, err := s.updateCard(ctx, op, "order_id", o.MerchantID, number, func(card *Card, fx *records.Effects) error {
				voided = false
				if card.State != CardActive || card.Holder != o.CustomerID || card.Sending != nil || !card.Balance.Equal(card.Face) {
					return records.ErrKeep
				}
				card.State, voided = CardVoided, true
				s.cardMoved(ctx, card, fx, EntryVoided, card.Balance.Neg(), o.ID)
				card.Balance = commerce.Zero(card.Balance.Currency())
				fx.Do(func() error { return s.cardEvent(ctx, "voided", card) })
				return nil
			})
			if err != nil {
				return err
			}
			if voided {
				want--
				took = append(took, number)
			}
		}
		if want > 0 {
			return refuse(op, "order_id", ErrSpent, "%d of the refunded cards are spent, sent or redeemed", want)
		}
		_, err = records.Update(ctx, s.store, kindCardOrder, o.ID.String(), now, false, func(d *cardOrder, _ bool) error {
			if d.Voided == nil {
				d.Voided = map[string][]string{}
			}
			d.Voided[c.Refund.ID.String()] = took
			return nil
		})
		return commerce.Wrap(op, err)
	case c.Action == commerce.ActionRefundFail && c.Refund != nil:
		var back []string
		_, err := records.Update(ctx, s.store, kindCardOrder, o.ID.String(), now, false, func(d *cardOrder, _ bool) error {
			back = d.Voided[c.Refund.ID.String()]
			if back == nil {
				return records.ErrKeep
			}
			delete(d.Voided, c.Refund.ID.String())
			return nil
		})
		if err != nil {
			return commerce.Wrap(op, err)
		}
		for _, number := range back {
			if _, err := s.updateCard(ctx, op, "order_id", o.MerchantID, number, func(card *Card, fx *records.Effects) error {
				card.State = CardActive
				card.Balance = card.Face // a card is voided only unspent
				s.cardMoved(ctx, card, fx, EntryRefundFailed, card.Face, o.ID)
				return nil
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

// refuse builds the error of a business refusal.
func refuse(op, field string, sentinel error, format string, args ...any) error {
	return &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Field: field, Err: errorf(sentinel, format, args...)}
}

// DueReport counts what one RunDue did.
type DueReport struct {
	// CardsReminded are cards that expire within ReminderLead, whose
	// holders were told ("storedvalue.card_expiring"); CardsExpired
	// reached their date with value left ("storedvalue.card_expired").
	CardsReminded, CardsExpired int
}

// RunDue sends the reminders of cards about to expire and expires cards
// past their date. Safe from several processes at once: each card moves
// on by compare-and-swap, once.
func (s *Service) RunDue(ctx context.Context) (DueReport, error) {
	const op = "storedvalue.run_due"
	var rep DueReport
	now := s.now()
	step := func(status string, count *int, apply func(c *Card) (string, bool)) error {
		return records.Due(ctx, s.store, kindCard, status, now, func(r storage.Record) error {
			moved := false
			err := s.store.InTx(ctx, func(ctx context.Context) error {
				moved = false
				_, err := records.UpdateFx(ctx, s.store, kindCard, r.Key, now, false, func(c *Card, _ bool, fx *records.Effects) error {
					moved = false
					st, due := c.Meta()
					if st != status || due.After(now) {
						return records.ErrKeep // moved on by another run
					}
					what, ok := apply(c)
					if !ok {
						return records.ErrKeep
					}
					moved = true
					fx.Do(func() error { return s.cardEvent(ctx, what, c) })
					return nil
				})
				return err
			})
			if err != nil {
				return commerce.Wrap(op, err)
			}
			if moved {
				*count++
			}
			return nil
		})
	}
	err := step("remind", &rep.CardsReminded, func(c *Card) (string, bool) {
		c.Reminded = true
		return "expiring", true
	})
	err2 := step("expire", &rep.CardsExpired, func(c *Card) (string, bool) {
		c.State = CardExpired
		return "expired", true
	})
	return rep, errors.Join(err, err2)
}

// OrderCards returns the e-cards a paid order issued, as they are now.
func (s *Service) OrderCards(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID) ([]*Card, error) {
	const op = "storedvalue.order_cards"
	if err := commerce.CheckID(op, "merchant_id", merchant); err != nil {
		return nil, err
	}
	d, err := records.Read[cardOrder](ctx, s.store, kindCardOrder, order.String())
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, commerce.Wrap(op, err)
	}
	out := make([]*Card, 0, len(d.Cards))
	for _, n := range d.Cards {
		c, err := s.card(ctx, op, "order_id", merchant, n)
		if err != nil {
			return nil, err
		}
		out = append(out, c.view())
	}
	return out, nil
}

// ReportCardLost stops a registered card (one a customer holds: an e-card,
// or a physical card they bound) that its holder reports lost, and moves
// what is left on it to a new card of the same batch for the holder, as
// the prepaid rules require for registered cards (an anonymous card cannot
// be reported lost). It returns the new card.
func (s *Service) ReportCardLost(ctx context.Context, merchant commerce.MerchantID, holder commerce.CustomerID, number string) (*Card, error) {
	const op = "storedvalue.report_card_lost"
	if holder == "" {
		return nil, commerce.Invalid(op, "customer_id", "required")
	}
	var fresh *Card
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		fresh = nil
		_, err := s.updateCard(ctx, op, "number", merchant, number, func(c *Card, fx *records.Effects) error {
			if c.Holder == "" {
				return refuse(op, "number", ErrCardUnusable, "card %s is anonymous: only a registered card is reported lost", c.Number)
			}
			if c.Holder != holder {
				return refuse(op, "number", ErrCardUnusable, "card %s is not %s's", c.Number, holder)
			}
			if c.State != CardActive {
				return refuse(op, "number", ErrCardUnusable, "card %s is %s", c.Number, c.State)
			}
			now := s.now()
			n, err := codes.New(CardNumberLength)
			if err != nil {
				return err
			}
			fresh = &Card{Number: n, MerchantID: c.MerchantID, BatchID: c.BatchID, Kind: c.Kind, Face: c.Balance, Balance: c.Balance,
				State: CardActive, Holder: holder, ExpiresAt: c.ExpiresAt, Created: now, Activated: now}
			s.cardMoved(ctx, c, fx, EntryLost, c.Balance.Neg(), commerce.OrderID{})
			c.Balance, c.State, c.Sending = commerce.Zero(c.Balance.Currency()), CardLost, nil
			fx.Do(func() error { return s.cardEvent(ctx, "lost", c) })
			return nil
		})
		if err != nil {
			return err
		}
		if err := s.insertCard(ctx, fresh); err != nil {
			return err
		}
		return s.cardEvent(ctx, "issued", fresh)
	})
	if err != nil {
		return nil, commerce.Wrap(op, err)
	}
	return fresh.view(), nil
}
