package gifting

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/minishop/minishop/commerce"
)

// Config wires a gifting Service.
type Config struct {
	// Commerce is the kernel whose gift orders this service sends.
	Commerce *commerce.Service
	// Store must share its transactor with the kernel's store.
	Store Store
	// Secret signs claim tokens (HMAC-SHA256): set 32 random bytes, kept
	// across restarts and shared by every process; a random one is made
	// when empty, and tokens then die with the process.
	Secret []byte
	// Lifetime is how long a sent gift waits for its recipient; 24 hours
	// by default (WeChat's rule G7).
	Lifetime time.Duration
	// NotGiftable lists product categories that cannot be gifted (WeChat:
	// jewellery and education/training, the default).
	NotGiftable []string
	// MaxPrice is the highest SKU price that can be gifted (10,000 yuan by
	// default, rule G1); in the shop's currency's major units.
	MaxPrice int64
	// Rules are the host's lottery eligibility rules by name (a lottery
	// with Eligibility ByRule names one): whether who may enter g.
	Rules map[string]func(ctx context.Context, g *Gift, who commerce.CustomerID) (bool, error)
	Clock commerce.Clock
	IDs   commerce.IDGenerator
}

// Default non-giftable categories (rule G1).
var DefaultNotGiftable = []string{"jewellery", "education"}

// Errors. None is retryable (see commerce.Retryable): repeating the call
// unchanged meets the same refusal.
var (
	// ErrNotGiftable: the product or SKU cannot be gifted
	// (KindFailedPrecondition). Not retryable.
	ErrNotGiftable = errors.New("not giftable")
	// ErrBadToken: the claim token is malformed, forged or for another gift
	// (KindInvalid). Not retryable.
	ErrBadToken = errors.New("invalid gift token")
	// ErrGiftClosed: the gift is no longer open (accepted, expired, unpaid)
	// (KindFailedPrecondition). Not retryable.
	ErrGiftClosed = errors.New("gift not open")
	// ErrNoSlot: every slot of the group gift is taken
	// (KindFailedPrecondition). Not retryable.
	ErrNoSlot = errors.New("no slot left")
	// ErrAlreadyClaimed: the person already holds a slot of this gift, with
	// another address or SKU (KindConflict; a repeat of the same claim
	// returns the slot). Not retryable.
	ErrAlreadyClaimed = errors.New("already claimed a slot of this gift")
)

// Service sends gifts; a gift to one friend: the giver buys one unit for a friend,
// payment sends the gift (a claim token for the host's gift card), the
// recipient opens it without seeing the price, may switch to another SKU of
// the same product at the same price, and accepts with their own address;
// a gift nobody accepts in time is refunded in full to the giver.
type Service struct {
	commerce *commerce.Service
	store    Store
	cfg      Config
	secret   []byte
	clock    commerce.Clock
	ids      commerce.IDGenerator
}

// New validates cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	const op = "gifting.new"
	if cfg.Commerce == nil {
		return nil, commerce.Invalid(op, "commerce", "required")
	}
	if cfg.Store == nil {
		return nil, commerce.Invalid(op, "store", "required")
	}
	if cfg.Lifetime == 0 {
		cfg.Lifetime = 24 * time.Hour
	}
	if cfg.Lifetime < 0 {
		return nil, commerce.Invalid(op, "lifetime", "negative")
	}
	if cfg.NotGiftable == nil {
		cfg.NotGiftable = DefaultNotGiftable
	}
	if cfg.MaxPrice == 0 {
		cfg.MaxPrice = 10000
	}
	s := &Service{commerce: cfg.Commerce, store: cfg.Store, cfg: cfg, secret: cfg.Secret, clock: cfg.Clock, ids: cfg.IDs}
	if len(s.secret) == 0 {
		s.secret = make([]byte, 32)
		if _, err := rand.Read(s.secret); err != nil {
			return nil, err
		}
	}
	if s.clock == nil {
		s.clock = commerce.SystemClock()
	}
	if s.ids == nil {
		s.ids = commerce.UUIDv7()
	}
	return s, nil
}

func (s *Service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Microsecond) }

func (s *Service) emit(ctx context.Context, g *Gift, typ string, extra map[string]any) error {
	payload := map[string]any{"gift_id": g.ID, "order_id": g.OrderID, "giver": g.Giver, "status": g.Status}
	for k, v := range extra {
		payload[k] = v
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	return s.store.AppendEvents(ctx, commerce.Event{ID: s.ids.NewUUID(), Type: "gift." + typ, AggregateID: g.ID.String(),
		MerchantID: g.MerchantID, Payload: b, Time: s.now()})
}

// SendParams buys a gift.
type SendParams struct {
	MerchantID commerce.MerchantID
	// Kind is Single (the default), Group or Lottery.
	Kind      Kind
	Giver     commerce.CustomerID
	GiverName string
	SKU       commerce.SKUID
	// Quantity is 1 for a gift to one friend (one friend, one item: rule
	// G3); for a group gift the number of slots, for a lottery the number
	// of prizes (1 to commerce.MaxGiftSlots).
	Quantity int64
	// Group is the host's chat group id (Group and Lottery).
	Group   string
	Message string
	// Free makes a merchant-paid gift: nobody pays, the order's total is
	// zero and the gift is sent at once. Extensions must then be empty.
	Free bool
	// Lottery sets up a lottery's draw (Kind Lottery).
	Lottery *LotteryParams
	// IdempotencyKey makes the checkout safe to retry.
	IdempotencyKey string
	// Extensions carries coupons or points for the giver's checkout.
	Extensions commerce.Extensions
	Metadata   map[string]string
}

// MaxMessage is the longest blessing, in characters (WeChat's wishmessage).
const MaxMessage = 100

// MaxGiverName bounds the name a giver signs a gift with, in characters.
const MaxGiverName = 64

// Send checks the SKU can be gifted and checks out the gift order for the
// giver, with the gift, in one transaction. The order has no address; once
// paid (MarkPaid or a payment notification) the gift is sent and Token
// gives its claim token.
func (s *Service) Send(ctx context.Context, p SendParams) (*Gift, *commerce.Order, error) {
	const op = "gifting.send"
	if err := commerce.CheckID(op, "merchant_id", p.MerchantID); err != nil {
		return nil, nil, err
	}
	if p.Kind == "" {
		p.Kind = Single
	}
	if err := s.checkKind(op, &p); err != nil {
		return nil, nil, err
	}
	for _, err := range []error{
		commerce.CheckCustomer(op, "giver", p.Giver),
		commerce.CheckText(op, "giver_name", p.GiverName, false, MaxGiverName),
		commerce.CheckText(op, "message", p.Message, false, MaxMessage),
	} {
		if err != nil {
			return nil, nil, err
		}
	}
	var g *Gift
	var order *commerce.Order
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.giftable(ctx, op, p.MerchantID, p.SKU); err != nil {
			return err
		}
		cg := &commerce.Gift{Message: p.Message, MerchantPaid: p.Free}
		if p.Kind != Single {
			cg.Slots = int(p.Quantity)
		}
		o, err := s.commerce.Checkout(ctx, commerce.CheckoutParams{MerchantID: p.MerchantID, CustomerID: p.Giver,
			Lines: []commerce.LineItem{{SKU: p.SKU, Quantity: p.Quantity}}, IdempotencyKey: p.IdempotencyKey,
			Gift: cg, Extensions: p.Extensions, Metadata: p.Metadata})
		if err != nil {
			return err
		}
		order = o
		if prev, err := s.store.GiftByOrder(ctx, p.MerchantID, o.ID); err == nil {
			g = prev // a retried Send: the same gift
			return nil
		}
		now := s.now()
		g = &Gift{ID: commerce.IDFrom[giftTag](s.ids.NewUUID()), MerchantID: p.MerchantID, OrderID: o.ID, Kind: p.Kind,
			Group: p.Group, Free: p.Free, Giver: p.Giver, GiverName: p.GiverName, Message: p.Message, Status: Unpaid,
			Lifetime: s.cfg.Lifetime, Created: now, Version: 1}
		if p.Kind != Single {
			g.Slots = int(p.Quantity)
		}
		if p.Kind == Lottery {
			if g.Draw, err = newDraw(p.Lottery); err != nil {
				return err
			}
		}
		if err := s.store.InsertGift(ctx, g); err != nil {
			return err
		}
		if !p.Free {
			return nil
		}
		// Nobody pays a merchant's gift: it is sent now (the order hook
		// turns the zero payment into the gift's sending).
		if _, err := s.commerce.MarkPaid(ctx, commerce.MarkPaidParams{MerchantID: p.MerchantID, OrderID: o.ID,
			PaymentRef: "merchant-gift:" + g.ID.String(), Amount: o.Due()}); err != nil {
			return err
		}
		g, err = s.store.GetGift(ctx, p.MerchantID, g.ID)
		return err
	})
	if err != nil {
		return nil, nil, commerce.Wrap(op, err)
	}
	return sealed(g), order, nil
}

// giftable refuses categories the config excludes and SKUs over MaxPrice.
func (s *Service) giftable(ctx context.Context, op string, merchant commerce.MerchantID, sku commerce.SKUID) error {
	p, err := s.commerce.ProductBySKU(ctx, merchant, sku)
	if err != nil {
		return err
	}
	if slices.Contains(s.cfg.NotGiftable, p.Category) {
		return &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Field: "sku",
			Err: fmt.Errorf("%w: %q is in category %s", ErrNotGiftable, p.Title, p.Category)}
	}
	k, _ := p.SKU(sku)
	if k.Price.Amount().Cmp(decimal.NewFromInt(s.cfg.MaxPrice)) > 0 {
		return &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Field: "sku",
			Err: fmt.Errorf("%w: priced over %d", ErrNotGiftable, s.cfg.MaxPrice)}
	}
	return nil
}

// Token returns the claim token of a sent gift, for the gift card: 128 bits
// of the gift's id signed with HMAC-SHA256, so it can be neither guessed
// nor altered, and is the same however often it is asked for.
func (s *Service) Token(g *Gift) string {
	mac := hmac.New(sha256.New, s.secret)
	u := g.ID.UUID()
	mac.Write(u[:])
	return base64.RawURLEncoding.EncodeToString(append(u[:], mac.Sum(nil)[:16]...))
}

// gift resolves a claim token to its gift.
func (s *Service) gift(ctx context.Context, merchant commerce.MerchantID, token string) (*Gift, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("%w: malformed", ErrBadToken)
	}
	mac := hmac.New(sha256.New, s.secret)
	mac.Write(b[:16])
	if !hmac.Equal(b[16:], mac.Sum(nil)[:16]) {
		return nil, fmt.Errorf("%w: signature does not verify", ErrBadToken)
	}
	var id GiftID
	if err := id.Scan(b[:16]); err != nil {
		return nil, fmt.Errorf("%w: malformed", ErrBadToken)
	}
	g, err := s.store.GetGift(ctx, merchant, id)
	if commerce.KindOf(err) == commerce.KindNotFound {
		return nil, fmt.Errorf("%w: no such gift at this merchant", ErrBadToken)
	}
	return g, err
}

func tokenErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrBadToken):
		return &commerce.Error{Op: op, Kind: commerce.KindInvalid, Field: "token", Err: err}
	case errors.Is(err, ErrGiftClosed):
		return &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Err: err}
	}
	return commerce.Wrap(op, err)
}
