package coupons

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/internal/jsonenc"
)

// Config wires a coupons Service.
type Config struct {
	// Store keeps batches, coupons and codes; it must share its transactor
	// with the kernel's store (the same store value), so redemption commits
	// with the checkout.
	Store Store
	// Secret signs share, transfer, promoter and group tokens (HMAC-SHA256).
	// Set it (32 random bytes, kept across restarts and shared by every
	// process); a random one is made when empty, and tokens then die with
	// the process.
	Secret []byte
	// MiniStoreProfile switches on Mini Store's own batch limits (§4.1):
	// pay 20 %-100 % in steps of one point, at most 200 yuan off, a name of
	// at most 10 characters.
	MiniStoreProfile bool
	// RemindBefore is how long before a coupon ends RunDue emits its
	// "coupon.expiring" event; 24 hours by default.
	RemindBefore time.Duration
	// Limits bound the coupons of one order (DefaultLimits when zero).
	Limits Limits
	// ReduceRefunds picks the policy for a partial refund that takes an
	// order below a coupon's threshold: hold back the kept units' share of
	// that coupon (RefundPolicy). False keeps refunds as allocated.
	ReduceRefunds bool
	Clock         commerce.Clock
	IDs           commerce.IDGenerator
}

// Service runs coupon batches, claims, the wallet and redemption.
//
// It plugs into the kernel three ways, which minishop.New wires: Adjuster
// prices the chosen (or best) coupons into a quote; CheckoutHook redeems
// them in the checkout transaction; OrderHook releases them when an unpaid
// order is cancelled and returns them on a full refund before shipment.
type Service struct {
	store  Store
	secret []byte
	cfg    Config
	clock  commerce.Clock
	ids    commerce.IDGenerator
}

// New validates cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, commerce.Invalid("coupons.new", "store", "required")
	}
	s := &Service{store: cfg.Store, secret: cfg.Secret, cfg: cfg, clock: cfg.Clock, ids: cfg.IDs}
	if len(s.secret) == 0 {
		s.secret = make([]byte, 32)
		if _, err := rand.Read(s.secret); err != nil {
			return nil, err
		}
	}
	if s.cfg.RemindBefore == 0 {
		s.cfg.RemindBefore = 24 * time.Hour
	}
	if s.cfg.Limits == (Limits{}) {
		s.cfg.Limits = DefaultLimits
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

func wrapErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrSoldOut), errors.Is(err, ErrLimitReached), errors.Is(err, ErrCouponUnavailable), errors.Is(err, ErrCodeUsed):
		var ce *commerce.Error
		if errors.As(err, &ce) {
			return err
		}
		return &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Err: err}
	case errors.Is(err, ErrBadCode), errors.Is(err, ErrBadToken):
		var ce *commerce.Error
		if errors.As(err, &ce) {
			return err
		}
		field := "token"
		if errors.Is(err, ErrBadCode) {
			field = "code"
		}
		return &commerce.Error{Op: op, Kind: commerce.KindInvalid, Field: field, Err: err}
	}
	return commerce.Wrap(op, err)
}

// emit writes an outbox event about coupon c; extra (nil for none) holds
// the members its type adds to the payload.
func (s *Service) emit(ctx context.Context, typ string, c *Coupon, extra *jsonenc.Object) error {
	ev, err := s.event(typ, c, extra)
	if err != nil {
		return err
	}
	return s.store.AppendEvents(ctx, ev)
}

// event builds an outbox event about coupon c, its payload the members of
// every coupon event and extra's (nil for none).
func (s *Service) event(typ string, c *Coupon, extra *jsonenc.Object) (commerce.Event, error) {
	p := extra
	if p == nil {
		p = new(jsonenc.Object)
	}
	p.UUID("coupon_id", c.ID.UUID())
	p.UUID("batch_id", c.BatchID.UUID())
	p.String("customer_id", string(c.Customer))
	p.String("status", string(c.Status))
	p.Time("valid_until", c.ValidUntil)
	b, err := p.JSON()
	if err != nil {
		return commerce.Event{}, err
	}
	return commerce.Event{ID: s.ids.NewUUID(), Type: "coupon." + typ, AggregateID: c.ID.String(),
		MerchantID: c.MerchantID, Payload: b, Time: s.now()}, nil
}

// BatchParams describes a new batch. Money amounts must be in the shop's
// MaxBatchNameLen bounds a batch's name, in characters.
const MaxBatchNameLen = 50

// currency.
type BatchParams struct {
	MerchantID commerce.MerchantID
	Name       string
	Kind       Kind
	Amount     commerce.Money
	PercentOff commerce.Rate
	Cap        commerce.Money
	MinAmount  commerce.Money
	MinCount   int64
	BuyN, GetM int64
	Scope      Scope

	ClaimStart, ClaimEnd time.Time
	Validity             Validity
	PerPerson, Total     int64
	Channel              Channel
	Promoter             string
	Transferable         bool
	Shareable            bool
	Exclusive            bool
	StackGroup           string
	Priority             int
	// Near restricts claims to customers near a place (nil: anywhere).
	Near *Near
	// Activate makes the batch claimable at once; otherwise it is a draft.
	Activate bool
}

// Bounds of a percent-off coupon: more than nothing, at most all of it;
// Mini Store coupons take 1 % steps up to 80 % off (pay 20 % at least).
var (
	all             = commerce.MustPercent(100)
	miniStoreMaxOff = commerce.MustPercent(80)
	onePercent      = commerce.MustPercent(1)
)

// MaxScope is how many products or SKUs a batch's scope may list (Mini
// Store's product coupons allow 2,000).
const MaxScope = 2000

// CreateBatch validates p and stores a new batch.
func (s *Service) CreateBatch(ctx context.Context, p BatchParams) (*Batch, error) {
	const op = "coupons.create_batch"
	if err := commerce.CheckID(op, "merchant_id", p.MerchantID); err != nil {
		return nil, err
	}
	now := s.now()
	b := &Batch{ID: commerce.IDFrom[batchTag](s.ids.NewUUID()), MerchantID: p.MerchantID, Name: p.Name, Kind: p.Kind,
		Amount: p.Amount, PercentOff: p.PercentOff, Cap: p.Cap, MinAmount: p.MinAmount, MinCount: p.MinCount,
		BuyN: p.BuyN, GetM: p.GetM, Scope: p.Scope, ClaimStart: p.ClaimStart.UTC(), ClaimEnd: p.ClaimEnd.UTC(),
		Validity: p.Validity, PerPerson: p.PerPerson, Total: p.Total, Status: Draft, Channel: p.Channel,
		Promoter: p.Promoter, Transferable: p.Transferable, Shareable: p.Shareable, Exclusive: p.Exclusive,
		StackGroup: p.StackGroup, Priority: p.Priority, Created: now, Updated: now, Version: 1}
	if p.Near != nil {
		n := *p.Near
		b.Near = &n
	}
	b.Validity.Start, b.Validity.End = b.Validity.Start.UTC(), b.Validity.End.UTC()
	if p.Activate {
		b.Status = Active
	}
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.validateBatch(ctx, op, b); err != nil {
			return err
		}
		return s.store.CreateBatch(ctx, b)
	})
	if err != nil {
		return nil, wrapErr(op, err)
	}
	return b, nil
}

// catalog is what batch validation reads of the kernel's store.
type catalog interface {
	GetMerchant(ctx context.Context, id commerce.MerchantID) (*commerce.Merchant, error)
	ProductsBySKU(ctx context.Context, merchant commerce.MerchantID, skus []commerce.SKUID) ([]*commerce.Product, error)
	GetProduct(ctx context.Context, merchant commerce.MerchantID, id commerce.ProductID) (*commerce.Product, error)
}

func (s *Service) validateBatch(ctx context.Context, op string, b *Batch) error {
	fail := func(field, format string, args ...any) error { return commerce.Invalid(op, field, format, args...) }
	if n := b.Near; n != nil {
		if err := n.Point.Check(op, "near.point"); err != nil {
			return err
		}
		if !(n.RadiusMeters > 0 && n.RadiusMeters <= MaxNearRadius) {
			return fail("near.radius_meters", "%v m: a radius is more than 0 and at most %d m", n.RadiusMeters, MaxNearRadius)
		}
	}
	if b.MerchantID.IsZero() {
		return fail("merchant_id", "required")
	}
	var cur commerce.Money
	if cat, ok := s.store.(catalog); ok {
		m, err := cat.GetMerchant(ctx, b.MerchantID)
		if err != nil {
			return err
		}
		cur = commerce.Zero(m.Currency)
		for i, pid := range append(append([]commerce.ProductID(nil), b.Scope.Products...), b.Scope.ExcludeProducts...) {
			if _, err := cat.GetProduct(ctx, b.MerchantID, pid); err != nil {
				return fail(fmt.Sprintf("scope.products[%d]", i), "no product %s at this merchant", pid)
			}
		}
		skus := append(append([]commerce.SKUID(nil), b.Scope.SKUs...), b.Scope.ExcludeSKUs...)
		if len(skus) > 0 {
			ps, err := cat.ProductsBySKU(ctx, b.MerchantID, skus)
			if err != nil {
				return err
			}
			known := map[commerce.SKUID]bool{}
			for _, p := range ps {
				for _, sku := range p.SKUs {
					known[sku.ID] = true
				}
			}
			for i, id := range skus {
				if !known[id] {
					return fail(fmt.Sprintf("scope.skus[%d]", i), "no sku %s at this merchant", id)
				}
			}
		}
	}
	if err := commerce.CheckText(op, "name", b.Name, true, MaxBatchNameLen); err != nil {
		return err
	}
	if err := commerce.CheckKey(op, "stack_group", b.StackGroup, false, commerce.MaxKeyLen); err != nil {
		return err
	}
	if err := commerce.CheckKey(op, "promoter", b.Promoter, false, commerce.MaxKeyLen); err != nil {
		return err
	}
	name := []rune(strings.TrimSpace(b.Name))
	switch {
	case s.cfg.MiniStoreProfile && len(name) > 10:
		return fail("name", "longer than 10 characters (Mini Store)")
	}
	money := func(field string, m commerce.Money, required bool) error {
		if !m.IsSet() {
			if required {
				return fail(field, "required")
			}
			return nil
		}
		if cur.IsSet() && m.Currency() != cur.Currency() {
			return fail(field, "%s is not in the shop's currency %s", m, cur.Currency())
		}
		if _, err := m.Minor(); err != nil {
			return fail(field, "%v", err)
		}
		if m.IsNegative() {
			return fail(field, "negative amount %s", m)
		}
		return nil
	}
	if err := money("min_amount", b.MinAmount, false); err != nil {
		return err
	}
	if err := money("cap", b.Cap, false); err != nil {
		return err
	}
	if b.MinCount < 0 {
		return fail("min_count", "negative")
	}
	if b.MinAmount.IsSet() && b.MinAmount.IsPositive() && b.MinCount > 0 {
		return fail("min_count", "a threshold is by amount or by item count, not both")
	}
	percent := func() error {
		if off := b.PercentOff.PPM(); off <= 0 || off > all.PPM() {
			return fail("percent_off", "%s is not above 0%% and at most %s", b.PercentOff, all)
		}
		if s.cfg.MiniStoreProfile && (b.PercentOff.PPM() > miniStoreMaxOff.PPM() || b.PercentOff.PPM()%onePercent.PPM() != 0) {
			return fail("percent_off", "Mini Store coupons pay 20 %%-100 %% in steps of one point")
		}
		return nil
	}
	switch b.Kind {
	case AmountOff, ThresholdOff:
		if err := money("amount", b.Amount, true); err != nil {
			return err
		}
		if !b.Amount.IsPositive() {
			return fail("amount", "must be positive")
		}
		if s.cfg.MiniStoreProfile && minor(b.Amount) > 20000 && b.Amount.Currency().String() == "CNY" {
			return fail("amount", "Mini Store coupons take at most 200 yuan off")
		}
		if b.Kind == ThresholdOff && !b.MinAmount.IsPositive() && b.MinCount == 0 {
			return fail("min_amount", "a threshold coupon needs min_amount or min_count")
		}
	case PercentOff:
		if err := percent(); err != nil {
			return err
		}
	case ItemsDiscount:
		if err := percent(); err != nil {
			return err
		}
		if b.MinCount < 1 {
			return fail("min_count", "an N-items discount needs N")
		}
	case FreeShipping:
	case BuyNGetM:
		if b.BuyN < 1 || b.GetM < 1 {
			return fail("buy_n", "buy N get M needs N >= 1 and M >= 1")
		}
	case ExchangePrice:
		if err := money("amount", b.Amount, true); err != nil {
			return err
		}
		if b.Scope.WholeShop() {
			return fail("scope", "an exchange coupon names the products bought at the exchange price")
		}
	default:
		return fail("kind", "unknown kind %q", b.Kind)
	}
	if n := len(b.Scope.Products) + len(b.Scope.SKUs); n > MaxScope {
		return fail("scope", "%d products and SKUs, at most %d", n, MaxScope)
	}
	if b.Total < 1 {
		return fail("total", "a batch needs a positive total")
	}
	if b.PerPerson < 0 {
		return fail("per_person", "negative")
	}
	if !b.ClaimEnd.IsZero() && !b.ClaimEnd.After(b.ClaimStart) {
		return fail("claim_end", "not after claim_start")
	}
	v := b.Validity
	switch {
	case v.Days < 0 || v.DelayDays < 0:
		return fail("validity.days", "negative")
	case v.Days == 0 && (v.Start.IsZero() || v.End.IsZero()):
		return fail("validity", "a fixed window needs start and end, or give days after claiming")
	case !v.End.IsZero() && !v.End.After(v.Start):
		return fail("validity.end", "not after validity.start")
	}
	switch b.Channel {
	case Open, CodesOnly, GrantOnly, GroupOnly:
	case PromoterOnly:
		if b.Promoter == "" {
			return fail("promoter", "a promoter-exclusive batch names its promoter")
		}
	default:
		return fail("channel", "unknown channel %q", b.Channel)
	}
	return nil
}

// SetBatchStatus moves a batch: draft to active, active and paused to each
// other, anything to voided (its coupons can no longer be used).
func (s *Service) SetBatchStatus(ctx context.Context, merchant commerce.MerchantID, id BatchID, to BatchStatus) (*Batch, error) {
	const op = "coupons.set_batch_status"
	if err := commerce.CheckID(op, "merchant_id", merchant); err != nil {
		return nil, err
	}
	var out *Batch
	err := s.store.UpdateBatch(ctx, merchant, id, func(b *Batch) error {
		ok := false
		switch to {
		case Active:
			ok = b.Status == Draft || b.Status == Paused
		case Paused:
			ok = b.Status == Active
		case Voided:
			ok = b.Status != Voided
		}
		if !ok {
			return commerce.Errorf(op, commerce.KindFailedPrecondition, "batch %s is %s; it cannot become %s", id, b.Status, to)
		}
		b.Status, b.Updated = to, s.now()
		out = b.Clone()
		return nil
	})
	return out, wrapErr(op, err)
}

// GetBatch returns a batch of the merchant.
func (s *Service) GetBatch(ctx context.Context, merchant commerce.MerchantID, id BatchID) (*Batch, error) {
	if err := commerce.CheckID("coupons.get_batch", "merchant_id", merchant); err != nil {
		return nil, err
	}
	b, err := s.store.GetBatch(ctx, merchant, id)
	return b, commerce.NotFoundAs("coupons.get_batch", "batch_id", err)
}

// validity computes a coupon's window when claimed at t.
func validity(b *Batch, t time.Time) (from, until time.Time) {
	v := b.Validity
	if v.Days <= 0 {
		return v.Start, v.End
	}
	from = t.AddDate(0, 0, v.DelayDays)
	if from.Before(v.Start) {
		from = v.Start // claimed before the window opens: counted from its start
	}
	until = from.AddDate(0, 0, v.Days)
	if !v.End.IsZero() && until.After(v.End) {
		until = v.End
	}
	return from, until
}

// ClaimParams asks for a coupon of a batch.
type ClaimParams struct {
	MerchantID commerce.MerchantID
	BatchID    BatchID
	Customer   commerce.CustomerID
	// RequestID makes the claim idempotent: the same request again returns
	// the same coupon, never a second one.
	RequestID string
	// Token is a share, promoter or group token when the claim comes
	// through one.
	Token string
	// Point is where the customer is (the host has it from
	// wx.getLocation): required by a batch restricted to near a place.
	Point *commerce.GeoPoint
}

// Claim gives the customer a coupon of an active batch inside its claim
// window, atomically against the per-person limit and the batch's total on
// every store. PromoterOnly batches need the promoter's token, GroupOnly
// ones a group token (one coupon per person per group); a share token
// records who shared.
func (s *Service) Claim(ctx context.Context, p ClaimParams) (*Coupon, error) {
	const op = "coupons.claim"
	if err := commerce.CheckID(op, "merchant_id", p.MerchantID); err != nil {
		return nil, err
	}
	var tok *token
	if p.Token != "" {
		t, err := s.verify(p.Token)
		if err != nil {
			return nil, wrapErr(op, err)
		}
		if t.Merchant != p.MerchantID.String() || t.Target != p.BatchID.String() || t.Kind == tokenTransfer {
			return nil, wrapErr(op, fmt.Errorf("%w: for another merchant or batch", ErrBadToken))
		}
		// The subject is signed by the host, yet it becomes a stored,
		// compared field (the coupon's group, promoter or sharer): it
		// obeys the same rules as a key given directly.
		if err := commerce.CheckKey(op, "token", t.Subject, false, commerce.MaxKeyLen); err != nil {
			return nil, err
		}
		tok = t
	}
	if p.Point != nil {
		if err := p.Point.Check(op, "point"); err != nil {
			return nil, err
		}
	}
	return s.claim(ctx, op, p, func(ctx context.Context, b *Batch, c *Coupon) error {
		if err := near(op, b, p.Point); err != nil {
			return err
		}
		switch {
		case b.Channel == CodesOnly || b.Channel == GrantOnly:
			return commerce.Errorf(op, commerce.KindFailedPrecondition, "batch %s is claimed by %s only", b.ID, b.Channel)
		case b.Channel == PromoterOnly && (tok == nil || tok.Kind != tokenPromoter || tok.Subject != b.Promoter):
			return wrapErr(op, fmt.Errorf("%w: batch %s is claimed through its promoter's link only", ErrBadToken, b.ID))
		case b.Channel == GroupOnly && (tok == nil || tok.Kind != tokenGroup):
			return wrapErr(op, fmt.Errorf("%w: batch %s is claimed with a group token only", ErrBadToken, b.ID))
		}
		if tok != nil {
			switch tok.Kind {
			case tokenShare:
				if !b.Shareable {
					return commerce.Errorf(op, commerce.KindFailedPrecondition, "batch %s is not shareable", b.ID)
				}
				c.SharedBy = commerce.CustomerID(tok.Subject)
			case tokenPromoter:
				c.Promoter = tok.Subject
			case tokenGroup:
				c.Group = tok.Subject // one per person per group: checked in claim
			}
		}
		return nil
	})
}

// near refuses a claim of a batch restricted to near a place from a
// customer who is farther, or who did not say where they are.
func near(op string, b *Batch, at *commerce.GeoPoint) error {
	n := b.Near
	if n == nil {
		return nil
	}
	place := n.Place
	if place == "" {
		place = "its place"
	}
	if at == nil {
		return &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Field: "point",
			Err: fmt.Errorf("batch %s is for customers within %.0f m of %s: say where the customer is", b.ID, n.RadiusMeters, place)}
	}
	if d := at.DistanceTo(n.Point); d > n.RadiusMeters {
		return &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Field: "point",
			Err: fmt.Errorf("the customer is %.0f m from %s; batch %s is for customers within %.0f m", d, place, b.ID, n.RadiusMeters)}
	}
	return nil
}

// claim runs a claim of any channel: idempotency, window, limits, insert,
// event. shape checks the channel and fills in the coupon's origin.
func (s *Service) claim(ctx context.Context, op string, p ClaimParams, shape func(context.Context, *Batch, *Coupon) error) (*Coupon, error) {
	if err := checkCustomer(op, "customer", p.Customer); err != nil {
		return nil, err
	}
	if err := commerce.CheckKey(op, "request_id", p.RequestID, true, commerce.MaxKeyLen); err != nil {
		return nil, err
	}
	var out *Coupon
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		if c, err := s.store.CouponByRequest(ctx, p.MerchantID, p.BatchID, p.Customer, p.RequestID); err == nil {
			out = c
			return nil
		} else if commerce.KindOf(err) != commerce.KindNotFound {
			return err
		}
		b, err := s.store.GetBatch(ctx, p.MerchantID, p.BatchID)
		if err != nil {
			return commerce.NotFoundAs(op, "batch_id", err)
		}
		now := s.now()
		switch {
		case b.Status != Active:
			return commerce.Errorf(op, commerce.KindFailedPrecondition, "batch %s is %s", b.ID, b.Status)
		case !b.ClaimStart.IsZero() && now.Before(b.ClaimStart):
			return commerce.Errorf(op, commerce.KindFailedPrecondition, "batch %s opens for claims at %s", b.ID, b.ClaimStart.Format(time.RFC3339))
		case !b.ClaimEnd.IsZero() && !now.Before(b.ClaimEnd):
			return commerce.Errorf(op, commerce.KindFailedPrecondition, "batch %s closed for claims at %s", b.ID, b.ClaimEnd.Format(time.RFC3339))
		}
		from, until := validity(b, now)
		if !until.After(now) {
			return commerce.Errorf(op, commerce.KindFailedPrecondition, "batch %s: a coupon claimed now would already be expired", b.ID)
		}
		c := &Coupon{ID: commerce.IDFrom[couponTag](s.ids.NewUUID()), BatchID: b.ID, MerchantID: b.MerchantID, Customer: p.Customer,
			Status: Valid, ValidFrom: from, ValidUntil: until, ClaimedAt: now, RequestID: p.RequestID, Version: 1}
		if err := shape(ctx, b, c); err != nil {
			return err
		}
		if err := s.store.TakeClaim(ctx, b.MerchantID, b.ID, p.Customer, b.PerPerson, b.Total); err != nil {
			return err
		}
		if c.Group != "" {
			// TakeClaim holds the customer's claim row of the batch until
			// commit, so the same customer's claims serialize here and the
			// count sees the one before: one coupon per person per group.
			n, err := s.store.CountGroupCoupons(ctx, b.MerchantID, b.ID, c.Customer, c.Group)
			if err != nil {
				return err
			}
			if n > 0 {
				return fmt.Errorf("%w: one coupon per person per group", ErrLimitReached)
			}
		}
		if err := s.store.InsertCoupon(ctx, c); err != nil {
			return err
		}
		out = c
		var extra jsonenc.Object
		extra.String("shared_by", string(c.SharedBy))
		extra.String("promoter", c.Promoter)
		extra.String("group", c.Group)
		extra.String("code", c.Code)
		extra.Bool("granted", c.Granted)
		return s.emit(ctx, "claimed", c, &extra)
	})
	if errors.Is(err, commerce.ErrConflict) {
		// A concurrent claim with the same request won: its coupon is ours.
		if c, ferr := s.store.CouponByRequest(ctx, p.MerchantID, p.BatchID, p.Customer, p.RequestID); ferr == nil {
			return c, nil
		}
	}
	if err != nil {
		return nil, wrapErr(op, err)
	}
	return out, nil
}

// checkCustomer is the kernel's check of a customer ID, so a coupon's
// customer is refused or kept alike on every store.
func checkCustomer(op, field string, c commerce.CustomerID) error {
	return commerce.CheckCustomer(op, field, c)
}

// GrantParams gives a customer a coupon on the merchant's initiative.
type GrantParams struct {
	MerchantID commerce.MerchantID
	BatchID    BatchID
	Customer   commerce.CustomerID
	RequestID  string
}

// Grant gives a customer a coupon of any active batch (compensation, a
// member's opening gift), within the batch's limits, idempotent by request.
func (s *Service) Grant(ctx context.Context, p GrantParams) (*Coupon, error) {
	if err := commerce.CheckID("coupons.grant", "merchant_id", p.MerchantID); err != nil {
		return nil, err
	}
	return s.claim(ctx, "coupons.grant", ClaimParams{MerchantID: p.MerchantID, BatchID: p.BatchID, Customer: p.Customer, RequestID: p.RequestID},
		func(_ context.Context, b *Batch, c *Coupon) error { c.Granted = true; return nil })
}

// Wallet returns a customer's coupons across merchants (Cards & Offers),
// soonest expiry first, filtered by status when set. Coupons past their
// validity that RunDue has not reached yet show as expired.
func (s *Service) Wallet(ctx context.Context, customer commerce.CustomerID, status Status) ([]*Coupon, error) {
	const op = "coupons.wallet"
	if err := checkCustomer(op, "customer", customer); err != nil {
		return nil, err
	}
	query := status
	if status == Expired {
		query = "" // valid ones past their end are expired too
	}
	cs, err := s.store.CustomerCoupons(ctx, customer, query, 1000)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	now := s.now()
	out := cs[:0]
	for _, c := range cs {
		if c.Status == Valid && !now.Before(c.ValidUntil) {
			c.Status = Expired
		}
		if status == "" || c.Status == status {
			out = append(out, c)
		}
	}
	return out, nil
}

// token kinds.
const (
	tokenShare    = "s"
	tokenTransfer = "t"
	tokenPromoter = "p"
	tokenGroup    = "g"
)

type token struct {
	Kind     string
	Merchant string
	Target   string // batch or coupon
	Subject  string // sharer, giver, promoter or group
	Expires  int64
}

// sign makes a token: its fields, then a 128-bit HMAC-SHA256 over them.
func (s *Service) sign(t token) string {
	payload := strings.Join([]string{t.Kind, t.Merchant, t.Target, t.Subject, strconv.FormatInt(t.Expires, 10)}, "\n")
	mac := hmac.New(sha256.New, s.secret)
	mac.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:16])
}

func (s *Service) verify(tok string) (*token, error) {
	body, sig, ok := strings.Cut(tok, ".")
	if !ok || len(tok) > 1024 {
		return nil, fmt.Errorf("%w: malformed", ErrBadToken)
	}
	payload, err1 := base64.RawURLEncoding.Strict().DecodeString(body)
	got, err2 := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("%w: malformed", ErrBadToken)
	}
	mac := hmac.New(sha256.New, s.secret)
	mac.Write(payload)
	if !hmac.Equal(got, mac.Sum(nil)[:16]) {
		return nil, fmt.Errorf("%w: signature does not verify", ErrBadToken)
	}
	f := strings.Split(string(payload), "\n")
	if len(f) != 5 {
		return nil, fmt.Errorf("%w: malformed", ErrBadToken)
	}
	exp, err := strconv.ParseInt(f[4], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: malformed", ErrBadToken)
	}
	if exp != 0 && s.now().Unix() >= exp {
		return nil, fmt.Errorf("%w: expired", ErrBadToken)
	}
	return &token{Kind: f[0], Merchant: f[1], Target: f[2], Subject: f[3], Expires: exp}, nil
}

// ShareToken is what a customer shares so friends claim their own copies
// of a shareable batch; claims through it record the sharer.
func (s *Service) ShareToken(merchant commerce.MerchantID, batch BatchID, sharer commerce.CustomerID) string {
	return s.sign(token{Kind: tokenShare, Merchant: merchant.String(), Target: batch.String(), Subject: string(sharer)})
}

// PromoterToken is a promoter's link to a batch; PromoterOnly batches are
// claimed only through their promoter's.
func (s *Service) PromoterToken(merchant commerce.MerchantID, batch BatchID, promoter string) string {
	return s.sign(token{Kind: tokenPromoter, Merchant: merchant.String(), Target: batch.String(), Subject: promoter})
}

// GroupToken binds a batch to a chat group the host names; GroupOnly
// batches are claimed only with one, once per person per group.
func (s *Service) GroupToken(merchant commerce.MerchantID, batch BatchID, group string) string {
	return s.sign(token{Kind: tokenGroup, Merchant: merchant.String(), Target: batch.String(), Subject: group})
}

// TransferToken lets the holder of a valid coupon of a transferable batch
// hand it to a friend. The token is good for 24 hours and for the coupon as
// it is now: once the coupon is used or handed on, it is worthless.
func (s *Service) TransferToken(ctx context.Context, merchant commerce.MerchantID, coupon CouponID, giver commerce.CustomerID) (string, error) {
	const op = "coupons.transfer_token"
	if err := commerce.CheckID(op, "merchant_id", merchant); err != nil {
		return "", err
	}
	if err := checkCustomer(op, "giver", giver); err != nil {
		return "", err
	}
	c, err := s.store.GetCoupon(ctx, merchant, coupon)
	if err != nil {
		return "", wrapErr(op, err)
	}
	if c.Customer != giver {
		return "", wrapErr(op, fmt.Errorf("%w: coupon %s is not %s's", ErrCouponUnavailable, coupon, giver))
	}
	b, err := s.store.GetBatch(ctx, merchant, c.BatchID)
	if err != nil {
		return "", wrapErr(op, err)
	}
	if !b.Transferable {
		return "", commerce.Errorf(op, commerce.KindFailedPrecondition, "batch %s is not transferable", b.ID)
	}
	if !c.UsableAt(s.now()) && !(c.Status == Valid && s.now().Before(c.ValidFrom)) {
		return "", wrapErr(op, fmt.Errorf("%w: coupon %s is %s", ErrCouponUnavailable, coupon, c.Status))
	}
	return s.sign(token{Kind: tokenTransfer, Merchant: merchant.String(), Target: coupon.String(), Subject: string(giver),
		Expires: s.now().Add(24 * time.Hour).Unix()}), nil
}

// AcceptTransfer gives the friend the coupon the token hands on: the
// giver's coupon becomes Transferred and the friend holds a new coupon with
// the same validity (the original expiry stays; a transfer does not
// restart an "N days after claiming" clock). Accepting twice with the same
// request returns the same coupon; a second friend finds it gone.
func (s *Service) AcceptTransfer(ctx context.Context, tok string, friend commerce.CustomerID, requestID string) (*Coupon, error) {
	const op = "coupons.accept_transfer"
	if err := checkCustomer(op, "customer", friend); err != nil {
		return nil, err
	}
	if err := commerce.CheckKey(op, "request_id", requestID, true, commerce.MaxKeyLen); err != nil {
		return nil, err
	}
	t, err := s.verify(tok)
	if err == nil && t.Kind != tokenTransfer {
		err = fmt.Errorf("%w: not a transfer token", ErrBadToken)
	}
	if err != nil {
		return nil, wrapErr(op, err)
	}
	var merchant commerce.MerchantID
	var id CouponID
	if merchant.UnmarshalText([]byte(t.Merchant)) != nil || id.UnmarshalText([]byte(t.Target)) != nil {
		return nil, wrapErr(op, fmt.Errorf("%w: malformed", ErrBadToken))
	}
	if commerce.CustomerID(t.Subject) == friend {
		return nil, commerce.Invalid(op, "customer", "a coupon cannot be handed to its own holder")
	}
	var out *Coupon
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		giverCoupon, err := s.store.GetCoupon(ctx, merchant, id)
		if err != nil {
			return err
		}
		if prev, err := s.store.CouponByRequest(ctx, merchant, giverCoupon.BatchID, friend, requestID); err == nil {
			out = prev
			return nil
		}
		var moved *Coupon
		err = s.store.UpdateCoupon(ctx, merchant, id, func(c *Coupon) error {
			if c.Customer != commerce.CustomerID(t.Subject) || c.Status != Valid || !s.now().Before(c.ValidUntil) {
				return fmt.Errorf("%w: coupon %s was used, handed on or expired", ErrCouponUnavailable, id)
			}
			c.Status = Transferred
			moved = c.Clone()
			return nil
		})
		if err != nil {
			return err
		}
		c := moved.Clone()
		c.ID = commerce.IDFrom[couponTag](s.ids.NewUUID())
		c.Customer, c.Status, c.RequestID, c.ClaimedAt = friend, Valid, requestID, s.now()
		c.TransferredFrom, c.SharedBy, c.Reminded, c.Version = id, commerce.CustomerID(t.Subject), false, 1
		if err := s.store.InsertCoupon(ctx, c); err != nil {
			return err
		}
		out = c
		var extra jsonenc.Object
		extra.UUID("from_coupon", id.UUID())
		extra.String("from", t.Subject)
		return s.emit(ctx, "transferred", c, &extra)
	})
	if err != nil {
		return nil, wrapErr(op, err)
	}
	return out, nil
}

// RunDue expires coupons past their validity and emits "coupon.expiring"
// once per coupon RemindBefore ahead. Each coupon changes in its own guarded
// update, so several processes running it at once change each coupon once.
// It returns how many it expired and reminded.
func (s *Service) RunDue(ctx context.Context) (expired, reminded int, err error) {
	const op = "coupons.run_due"
	now := s.now()
	for {
		due, err := s.store.DueCoupons(ctx, now, false, 100)
		if err != nil {
			return expired, reminded, wrapErr(op, err)
		}
		n := 0
		for _, d := range due {
			changed := false
			err := s.store.InTx(ctx, func(ctx context.Context) error {
				var c *Coupon
				changed = false // a retried transaction starts over
				err := s.store.UpdateCoupon(ctx, d.MerchantID, d.ID, func(x *Coupon) error {
					if x.Status != Valid || now.Before(x.ValidUntil) {
						return nil
					}
					x.Status, changed = Expired, true
					c = x.Clone()
					return nil
				})
				if err != nil || !changed {
					return err
				}
				return s.emit(ctx, "expired", c, nil)
			})
			if err != nil {
				return expired, reminded, wrapErr(op, err)
			}
			if changed {
				expired++
				n++
			}
		}
		if n == 0 || len(due) < 100 {
			break
		}
	}
	soon, err := s.store.DueCoupons(ctx, now.Add(s.cfg.RemindBefore), true, 1000)
	if err != nil {
		return expired, reminded, wrapErr(op, err)
	}
	for _, d := range soon {
		changed := false
		err := s.store.InTx(ctx, func(ctx context.Context) error {
			var c *Coupon
			changed = false // a retried transaction starts over
			err := s.store.UpdateCoupon(ctx, d.MerchantID, d.ID, func(x *Coupon) error {
				if x.Reminded || x.Status != Valid || !now.Before(x.ValidUntil) {
					return nil
				}
				x.Reminded, changed = true, true
				c = x.Clone()
				return nil
			})
			if err != nil || !changed {
				return err
			}
			return s.emit(ctx, "expiring", c, nil)
		})
		if err != nil {
			return expired, reminded, wrapErr(op, err)
		}
		if changed {
			reminded++
		}
	}
	return expired, reminded, nil
}
