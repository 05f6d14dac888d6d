package membership

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/text/currency"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/internal/jsonenc"
)

// Config wires a membership Service.
type Config struct {
	// Store must share its transactor with the kernel's store.
	Store Store
	// RemindDays is how many days before a lot expires RunDue emits
	// "points.expiring" for it, once (7 by default).
	RemindDays int
	// TierChanged, when set, runs in the transaction that moves a member up
	// a tier (and on joining, for the first tier), so the tier's welcome
	// gift commits with it: minishop.New grants Tier.WelcomeGift as a coupon.
	TierChanged func(ctx context.Context, m *Member, to Tier) error
	Clock       commerce.Clock
	IDs         commerce.IDGenerator
}

// Source names the membership package in the adjustments it adds.
const Source = "membership"

// ExtensionKey carries Points to spend in commerce.Extensions.
const ExtensionKey = "points"

// Points is how many points the customer spends on an order.
type Points int64

// SpendPoints spends n points on a quote or checkout (see commerce.With).
func SpendPoints(n int64) commerce.Extension {
	return commerce.Extension{Key: ExtensionKey, Value: Points(n)}
}

// Errors. None is retryable (see commerce.Retryable): repeating the call
// unchanged meets the same refusal.
var (
	// ErrNotMember: the customer is not a member of the merchant's program
	// (KindNotFound; KindFailedPrecondition when a checkout spends points).
	// Not retryable.
	ErrNotMember = errors.New("not a member")
	// ErrInsufficientPoints: the member has fewer points than asked
	// (KindFailedPrecondition). Not retryable.
	ErrInsufficientPoints = errors.New("not enough points")
	// ErrNoProgram: the merchant runs no membership program (KindNotFound).
	// Not retryable.
	ErrNoProgram = errors.New("no membership program")
)

// Service runs membership programs: cards, tiers, member prices and points.
//
// It plugs into the kernel: PriceAdjuster (member prices, tier discounts,
// free shipping; before coupons), PointsAdjuster (points as payment; after
// coupons), CheckoutHook (spends the points in the checkout transaction)
// and OrderHook (joins, earns, settles, returns and claws back).
// minishop.New wires them.
type Service struct {
	store Store
	cfg   Config
	clock commerce.Clock
	ids   commerce.IDGenerator
}

// New validates cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, commerce.Invalid("membership.new", "store", "required")
	}
	if cfg.RemindDays == 0 {
		cfg.RemindDays = 7
	}
	s := &Service{store: cfg.Store, cfg: cfg, clock: cfg.Clock, ids: cfg.IDs}
	if s.clock == nil {
		s.clock = commerce.SystemClock()
	}
	if s.ids == nil {
		s.ids = commerce.UUIDv7()
	}
	return s, nil
}

func (s *Service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Microsecond) }

func wrap(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrInsufficientPoints):
		var ce *commerce.Error
		if errors.As(err, &ce) {
			return err
		}
		return &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Field: "points", Err: err}
	case errors.Is(err, ErrNotMember), errors.Is(err, ErrNoProgram):
		var ce *commerce.Error
		if errors.As(err, &ce) {
			return err
		}
		field := "customer"
		if errors.Is(err, ErrNoProgram) {
			field = "merchant_id"
		}
		return &commerce.Error{Op: op, Kind: commerce.KindNotFound, Field: field, Err: err}
	}
	return commerce.Wrap(op, err)
}

// emit writes an outbox event about customer's card, its payload p's
// members and the customer's ID.
func (s *Service) emit(ctx context.Context, merchant commerce.MerchantID, typ string, customer commerce.CustomerID, p *jsonenc.Object) error {
	p.String("customer_id", string(customer))
	b, err := p.JSON()
	if err != nil {
		return err
	}
	return s.store.AppendEvents(ctx, commerce.Event{ID: s.ids.NewUUID(), Type: typ, AggregateID: string(customer),
		MerchantID: merchant, Payload: b, Time: s.now()})
}

// emitPoints writes a "points.*" event of an order's points; pending marks
// points earned and not yet released.
func (s *Service) emitPoints(ctx context.Context, m *Member, typ string, order commerce.OrderID, points int64, pending bool) error {
	var ev jsonenc.Object
	ev.UUID("order_id", order.UUID())
	ev.Int("points", points)
	if pending {
		ev.Bool("pending", true)
	}
	return s.emit(ctx, m.MerchantID, typ, m.Customer, &ev)
}

// SetProgram validates and stores the merchant's program.
func (s *Service) SetProgram(ctx context.Context, p Program) (*Program, error) {
	const op = "membership.set_program"
	if err := validate(op, &p); err != nil {
		return nil, err
	}
	p.Updated = s.now()
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		old, err := s.store.GetProgram(ctx, p.MerchantID)
		switch {
		case err == nil:
			p.Version, p.NextNumber = old.Version+1, old.NextNumber
		case commerce.KindOf(err) == commerce.KindNotFound:
			p.Version, p.NextNumber = 1, 1
		default:
			return err
		}
		return s.store.PutProgram(ctx, &p)
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	return &p, nil
}

// Bounds of a program's rates: a tier takes at most 90 % off; points pay
// at most all of an order.
var (
	maxDiscount = commerce.MustPercent(90)
	maxShare    = commerce.MustPercent(100)
)

func validate(op string, p *Program) error {
	fail := func(field, format string, args ...any) error { return commerce.Invalid(op, field, format, args...) }
	if p.MerchantID.IsZero() {
		return fail("merchant_id", "required")
	}
	if len(p.Tiers) > MaxTiers {
		return fail("tiers", "%d tiers, at most %d", len(p.Tiers), MaxTiers)
	}
	for i, t := range p.Tiers {
		f := fmt.Sprintf("tiers[%d]", i)
		switch {
		case t.Level != i+1:
			return fail(f+".level", "level %d out of order: tiers go 1, 2, ... without gaps", t.Level)
		case commerce.CheckText(op, f+".name", t.Name, true, 20) != nil:
			return commerce.CheckText(op, f+".name", t.Name, true, 20)
		case t.MinExperience < 0:
			return fail(f+".min_experience", "negative")
		case i > 0 && t.MinExperience <= p.Tiers[i-1].MinExperience:
			return fail(f+".min_experience", "%d is not above the previous tier's %d", t.MinExperience, p.Tiers[i-1].MinExperience)
		case t.KeepExperience < 0 || t.KeepExperience > t.MinExperience:
			return fail(f+".keep_experience", "must be between 0 and min_experience")
		case t.Discount.PPM() < 0 || t.Discount.PPM() > maxDiscount.PPM():
			return fail(f+".discount", "%s is outside 0%%..%s", t.Discount, maxDiscount)
		case t.EarnMultiplier.PPM() < 0:
			return fail(f+".earn_multiplier", "%s is negative", t.EarnMultiplier)
		}
	}
	for i, mp := range p.MemberPrices {
		f := fmt.Sprintf("member_prices[%d]", i)
		if mp.SKU.IsZero() {
			return fail(f+".sku", "required")
		}
		if mp.Level < 1 || mp.Level > len(p.Tiers) {
			return fail(f+".level", "no tier %d", mp.Level)
		}
		if !mp.Price.IsSet() || mp.Price.IsNegative() {
			return fail(f+".price", "required, not negative")
		}
		if _, err := mp.Price.Minor(); err != nil {
			return fail(f+".price", "%v", err)
		}
	}
	for _, c := range []struct {
		field string
		v     int64
	}{{"exp_per_order", p.ExpPerOrder}, {"per_order", p.PerOrder}, {"cap_per_order", p.CapPerOrder}, {"max_points", p.MaxPoints}} {
		if c.v < 0 {
			return fail(c.field, "negative")
		}
	}
	var cur currency.Unit // the one currency of the program's amounts
	for _, r := range []struct {
		field string
		rule  PointsPer
	}{{"experience", p.Experience}, {"earn", p.Earn}, {"redeem", p.Redeem}} {
		if r.rule.IsZero() {
			continue
		}
		if r.rule.Points <= 0 {
			return fail(r.field+".points", "%d points: a rule needs a positive number of points per amount, or neither", r.rule.Points)
		}
		if !r.rule.Per.IsSet() || !r.rule.Per.IsPositive() {
			return fail(r.field+".per", "a rule needs a positive amount the points are per")
		}
		if _, err := r.rule.Per.Minor(); err != nil {
			return fail(r.field+".per", "%v", err)
		}
		if cur != (currency.Unit{}) && r.rule.Per.Currency() != cur {
			return fail(r.field+".per", "%s is not in the program's other rules' currency %s", r.rule.Per, cur)
		}
		cur = r.rule.Per.Currency()
	}
	if p.MaxShare.PPM() < 0 || p.MaxShare.PPM() > maxShare.PPM() {
		return fail("max_share", "%s is outside 0%%..%s", p.MaxShare, maxShare)
	}
	if p.MinOrder.IsSet() && p.MinOrder.IsNegative() {
		return fail("min_order", "negative")
	}
	switch p.Expiry.Kind {
	case NeverExpire, EndOfNextYear:
	case AfterDays:
		if p.Expiry.Days < 1 {
			return fail("expiry.days", "must be positive")
		}
	case FixedDate:
		if p.Expiry.Date.IsZero() {
			return fail("expiry.date", "required")
		}
	default:
		return fail("expiry.kind", "unknown %q", p.Expiry.Kind)
	}
	switch p.Clawback {
	case "":
		p.Clawback = Debt
	case Debt:
	case Withhold:
		return fail("clawback", "withholding money from refunds is not offered yet; use debt")
	default:
		return fail("clawback", "unknown %q", p.Clawback)
	}
	if p.ExpiredLotDays < 0 {
		return fail("expired_lot_days", "negative")
	}
	return nil
}

// expiresAt is when points credited at t expire under the program.
func (p *Program) expiresAt(t time.Time) time.Time {
	switch p.Expiry.Kind {
	case AfterDays:
		return t.AddDate(0, 0, p.Expiry.Days)
	case EndOfNextYear:
		return time.Date(t.Year()+2, 1, 1, 0, 0, 0, 0, time.UTC)
	case FixedDate:
		return p.Expiry.Date
	}
	return time.Time{}
}

// Program returns the merchant's program.
func (s *Service) Program(ctx context.Context, merchant commerce.MerchantID) (*Program, error) {
	if err := commerce.CheckID("membership.program", "merchant_id", merchant); err != nil {
		return nil, err
	}
	p, err := s.store.GetProgram(ctx, merchant)
	if commerce.KindOf(err) == commerce.KindNotFound {
		return nil, wrap("membership.program", fmt.Errorf("%w: merchant %s", ErrNoProgram, merchant))
	}
	return p, wrap("membership.program", err)
}

// Join makes the customer a member (once: joining again returns the card).
func (s *Service) Join(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID) (*Member, error) {
	const op = "membership.join"
	if err := commerce.CheckID(op, "merchant_id", merchant); err != nil {
		return nil, err
	}
	if err := commerce.CheckCustomer(op, "customer", customer); err != nil {
		return nil, err
	}
	var m *Member
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		var err error
		m, err = s.join(ctx, merchant, customer)
		return err
	})
	return m, wrap(op, err)
}

func (s *Service) join(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID) (*Member, error) {
	if m, err := s.store.GetMember(ctx, merchant, customer); err == nil {
		return m, nil
	} else if commerce.KindOf(err) != commerce.KindNotFound {
		return nil, err
	}
	p, err := s.store.GetProgram(ctx, merchant)
	if commerce.KindOf(err) == commerce.KindNotFound {
		return nil, fmt.Errorf("%w: merchant %s", ErrNoProgram, merchant)
	}
	if err != nil {
		return nil, err
	}
	n, err := s.store.TakeMemberNumber(ctx, merchant)
	if err != nil {
		return nil, err
	}
	now := s.now()
	m := &Member{MerchantID: merchant, Customer: customer, Number: n, Level: p.LevelFor(0), JoinedAt: now, Updated: now, Version: 1}
	if p.ReviewMonths > 0 {
		m.NextReview = now.AddDate(0, p.ReviewMonths, 0)
	}
	if err := s.store.CreateMember(ctx, m); err != nil {
		return nil, err
	}
	if m.Level > 0 && s.cfg.TierChanged != nil {
		if err := s.cfg.TierChanged(ctx, m, p.Tier(m.Level)); err != nil {
			return nil, err
		}
	}
	var ev jsonenc.Object
	ev.Int("number", n)
	ev.Int("level", int64(m.Level))
	return m, s.emit(ctx, merchant, "member.joined", customer, &ev)
}

// Card returns the member's card: tier, points available and pending,
// experience. It reads one row, however long the member's history.
func (s *Service) Card(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID) (*Member, error) {
	if err := commerce.CheckID("membership.card", "merchant_id", merchant); err != nil {
		return nil, err
	}
	if err := commerce.CheckCustomer("membership.card", "customer", customer); err != nil {
		return nil, err
	}
	m, err := s.store.GetMember(ctx, merchant, customer)
	if commerce.KindOf(err) == commerce.KindNotFound {
		return nil, wrap("membership.card", fmt.Errorf("%w: %s at merchant %s", ErrNotMember, customer, merchant))
	}
	return m, wrap("membership.card", err)
}

// Statement returns a page of the member's ledger, oldest first, each entry
// with the running balance after it.
func (s *Service) Statement(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, after EntryID, limit int) ([]*Entry, error) {
	if err := commerce.CheckID("membership.statement", "merchant_id", merchant); err != nil {
		return nil, err
	}
	if err := commerce.CheckCustomer("membership.statement", "customer", customer); err != nil {
		return nil, err
	}
	es, err := s.store.Entries(ctx, merchant, customer, after, limit)
	return es, wrap("membership.statement", err)
}

// AdjustParams is a merchant's correction of a member's points.
type AdjustParams struct {
	MerchantID commerce.MerchantID
	Customer   commerce.CustomerID
	Points     int64 // positive credits a lot, negative takes points
	RequestID  string
	Note       string
}

// Adjust credits or takes points by hand, idempotent by request id: the
// same request again changes nothing; the same id with other content is an
// error.
func (s *Service) Adjust(ctx context.Context, p AdjustParams) (*Entry, error) {
	const op = "membership.adjust"
	if err := commerce.CheckID(op, "merchant_id", p.MerchantID); err != nil {
		return nil, err
	}
	if p.Points == 0 {
		return nil, commerce.Invalid(op, "points", "zero")
	}
	for _, err := range []error{
		commerce.CheckCustomer(op, "customer", p.Customer),
		commerce.CheckKey(op, "request_id", p.RequestID, true, commerce.MaxKeyLen),
		commerce.CheckText(op, "note", p.Note, false, commerce.MaxShortTextLen),
	} {
		if err != nil {
			return nil, err
		}
	}
	var out *Entry
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		if prev, err := s.store.EntryByRequest(ctx, p.MerchantID, p.Customer, p.RequestID); err == nil {
			if prev.Kind != Adjust || prev.Points != p.Points || prev.Note != p.Note {
				return commerce.Invalid(op, "request_id", "already used for another change (%s %+d)", prev.Kind, prev.Points)
			}
			out = prev
			return nil
		}
		prog, err := s.store.GetProgram(ctx, p.MerchantID)
		if err != nil {
			return err
		}
		return s.withMember(ctx, p.MerchantID, p.Customer, func(m *Member) error {
			now := s.now()
			e := &Entry{Kind: Adjust, RequestID: p.RequestID, Note: p.Note}
			if p.Points > 0 {
				lot := &Lot{ID: commerce.IDFrom[lotTag](s.ids.NewUUID()), MerchantID: p.MerchantID, Customer: p.Customer,
					Points: p.Points, Left: p.Points, ExpiresAt: prog.expiresAt(now), Created: now}
				if err := s.store.InsertLot(ctx, lot); err != nil {
					return err
				}
				e.Points = s.credit(m, p.Points)
				e.Burns = []Burn{{Lot: lot.ID, Points: p.Points}}
			} else {
				burns, err := s.burn(ctx, m, -p.Points, nil)
				if err != nil {
					return err
				}
				e.Points, e.Burns = p.Points, burns
			}
			out = e
			return s.entry(ctx, m, e)
		})
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	return out, nil
}

// withMember locks the member and runs fn on it; ErrNotMember when the
// customer is not one.
func (s *Service) withMember(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, fn func(*Member) error) error {
	err := s.store.UpdateMember(ctx, merchant, customer, func(m *Member) error {
		m.Updated = s.now()
		return fn(m)
	})
	if commerce.KindOf(err) == commerce.KindNotFound && !errors.Is(err, ErrNoProgram) {
		if _, gerr := s.store.GetMember(ctx, merchant, customer); commerce.KindOf(gerr) == commerce.KindNotFound {
			return fmt.Errorf("%w: %s at merchant %s", ErrNotMember, customer, merchant)
		}
	}
	return err
}

// credit adds available points, repaying debt first; it returns what
// reached the balance.
func (s *Service) credit(m *Member, n int64) int64 {
	repay := min(m.Debt, n)
	m.Debt -= repay
	m.Available += n - repay
	return n - repay
}

// burn takes n available points from the member's open lots, earliest
// expiry first: lots, when the caller read them with m (see spendSeen),
// else the store's.
func (s *Service) burn(ctx context.Context, m *Member, n int64, lots []*Lot) ([]Burn, error) {
	if m.Available < n {
		return nil, fmt.Errorf("%w: %d asked, %d available", ErrInsufficientPoints, n, m.Available)
	}
	var err error
	if lots == nil {
		if lots, err = s.store.MemberLots(ctx, m.MerchantID, m.Customer, true); err != nil {
			return nil, err
		}
	}
	// Lots past their date are expired here, under the member's lock, even
	// if RunDue has not reached them: expired points never pay.
	if lots, err = s.expireDue(ctx, m, lots); err != nil {
		return nil, err
	}
	if m.Available < n {
		return nil, fmt.Errorf("%w: %d asked, %d available", ErrInsufficientPoints, n, m.Available)
	}
	var burns []Burn
	var changed []*Lot
	left := n
	for _, l := range lots {
		if left == 0 {
			break
		}
		take := min(l.Left, left)
		l.Left -= take
		left -= take
		burns = append(burns, Burn{Lot: l.ID, Points: take})
		changed = append(changed, l)
	}
	if left > 0 {
		return nil, fmt.Errorf("%w: the lots hold %d fewer points than the balance", ErrInsufficientPoints, left)
	}
	m.Available -= n
	return burns, s.store.SaveLots(ctx, changed...)
}

// entry stamps and appends a ledger entry of m (after m's balances
// changed).
func (s *Service) entry(ctx context.Context, m *Member, e *Entry) error {
	s.stamp(m, e)
	return s.store.AppendEntry(ctx, e)
}

// stamp gives e its id, member, time and m's balance now.
func (s *Service) stamp(m *Member, e *Entry) {
	e.ID = commerce.IDFrom[entryTag](s.ids.NewUUID())
	e.MerchantID, e.Customer, e.Balance, e.Time = m.MerchantID, m.Customer, m.Available, s.now()
}

// review runs the programs' tier reviews that are due: a member whose
// experience earned since the last review is below their tier's
// KeepExperience moves down to the highest tier whose KeepExperience it
// meets (never below the first tier). The next review is ReviewMonths on.
func (s *Service) review(ctx context.Context, now time.Time) error {
	for {
		due, err := s.store.DueReviews(ctx, now, 100)
		if err != nil || len(due) == 0 {
			return err
		}
		for _, d := range due {
			err := s.store.InTx(ctx, func(ctx context.Context) error {
				p, err := s.store.GetProgram(ctx, d.MerchantID)
				if err != nil {
					return err
				}
				return s.withMember(ctx, d.MerchantID, d.Customer, func(m *Member) error {
					if m.NextReview.IsZero() || m.NextReview.After(now) {
						return nil // reviewed by another process meanwhile
					}
					earned := m.Experience - m.ReviewExperience
					m.ReviewExperience, m.NextReview = m.Experience, time.Time{}
					if p.ReviewMonths > 0 {
						m.NextReview = now.AddDate(0, p.ReviewMonths, 0)
					}
					if m.Level == 0 || earned >= p.Tier(m.Level).KeepExperience {
						return nil
					}
					to := m.Level
					for to > 1 && p.Tier(to).KeepExperience > earned {
						to--
					}
					if to == m.Level {
						return nil
					}
					from := m.Level
					m.Level = to
					var ev jsonenc.Object
					ev.Int("from", int64(from))
					ev.Int("to", int64(to))
					ev.String("tier", p.Tier(to).Name)
					ev.Bool("review", true)
					ev.Int("earned", earned)
					return s.emit(ctx, m.MerchantID, "member.tier_changed", m.Customer, &ev)
				})
			})
			if err != nil {
				return err
			}
		}
		if len(due) < 100 {
			return nil
		}
	}
}

// expireDue expires the member's open lots past their date (the caller
// holds the member's lock) and returns the lots still open.
func (s *Service) expireDue(ctx context.Context, m *Member, lots []*Lot) ([]*Lot, error) {
	now := s.now()
	open := lots[:0]
	for _, l := range lots {
		if l.ExpiresAt.IsZero() || l.ExpiresAt.After(now) {
			open = append(open, l)
			continue
		}
		pts := l.Left
		l.Left, l.Expired = 0, true
		m.Available -= pts
		if err := s.store.SaveLots(ctx, l); err != nil {
			return nil, err
		}
		if err := s.entry(ctx, m, &Entry{Kind: Expire, Points: -pts, Burns: []Burn{{Lot: l.ID, Points: pts}}}); err != nil {
			return nil, err
		}
		var ev jsonenc.Object
		ev.UUID("lot_id", l.ID.UUID())
		ev.Int("points", pts)
		if err := s.emit(ctx, m.MerchantID, "points.expired", m.Customer, &ev); err != nil {
			return nil, err
		}
	}
	return open, nil
}

// RunDue expires lots past their date (spending expires them too, so a
// late RunDue never lets expired points pay) and emits "points.expiring"
// once per lot RemindDays ahead. Each lot changes under its
// member's lock, so several processes running it at once expire each lot
// once. It returns how many lots it expired.
func (s *Service) RunDue(ctx context.Context) (int, error) {
	const op = "membership.run_due"
	now := s.now()
	expired := 0
	for {
		due, err := s.store.DueLots(ctx, now, false, 100)
		if err != nil {
			return expired, wrap(op, err)
		}
		n := 0
		for _, d := range due {
			got := 0 // set by the attempt that commits
			err := s.store.InTx(ctx, func(ctx context.Context) error {
				got = 0 // a retried transaction starts over
				return s.withMember(ctx, d.MerchantID, d.Customer, func(m *Member) error {
					lots, err := s.store.MemberLots(ctx, m.MerchantID, m.Customer, true)
					if err != nil {
						return err
					}
					open, err := s.expireDue(ctx, m, lots)
					got = len(lots) - len(open)
					return err
				})
			})
			if err != nil {
				return expired, wrap(op, err)
			}
			n += got
		}
		expired += n
		if n == 0 || len(due) < 100 {
			break
		}
	}
	if err := s.review(ctx, now); err != nil {
		return expired, wrap(op, err)
	}
	// Reminders: once per lot, RemindDays ahead.
	soon, err := s.store.DueLots(ctx, now.AddDate(0, 0, s.cfg.RemindDays), true, 1000)
	if err != nil {
		return expired, wrap(op, err)
	}
	for _, d := range soon {
		err := s.store.InTx(ctx, func(ctx context.Context) error {
			return s.withMember(ctx, d.MerchantID, d.Customer, func(m *Member) error {
				lots, err := s.store.MemberLots(ctx, m.MerchantID, m.Customer, true)
				if err != nil {
					return err
				}
				for _, l := range lots {
					if l.ID != d.ID || l.Reminded || !l.ExpiresAt.After(now) {
						continue
					}
					l.Reminded = true
					if err := s.store.SaveLots(ctx, l); err != nil {
						return err
					}
					var ev jsonenc.Object
					ev.UUID("lot_id", l.ID.UUID())
					ev.Int("points", l.Left)
					ev.Time("expires_at", l.ExpiresAt)
					return s.emit(ctx, m.MerchantID, "points.expiring", m.Customer, &ev)
				}
				return nil
			})
		})
		if err != nil {
			return expired, wrap(op, err)
		}
	}
	return expired, nil
}
