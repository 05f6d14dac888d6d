package promoter

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/payment"
)

// Ledger records commission in the payment settlement ledger, so a
// merchant's statement shows sales, fees and commission together. The
// payment service implements it (RecordCommission).
type Ledger interface {
	// RecordCommission moves amount of an order's settlement from the
	// merchant to party (negative: back from party), under ref.
	RecordCommission(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID, ref string, party payment.Party, amount commerce.Money) error
}

// Config wires a promoter Service.
type Config struct {
	// Commerce is the kernel whose orders earn commission.
	Commerce *commerce.Service
	// Store must share its transactor with the kernel's store.
	Store Store
	// Ledger, when set, receives settled commission and clawbacks.
	Ledger Ledger
	// Secret signs share and invite tokens (HMAC-SHA256): 32 random bytes
	// kept across restarts and shared by every process; a random one is
	// made when empty, and tokens then die with the process.
	Secret []byte
	// MaxSharers caps a merchant's own bound sharers (WeChat: 10).
	MaxSharers int
	// InviteLifetime is how long a sharer invite stays valid (15 days).
	InviteLifetime time.Duration
	// MinBinding is how long a sharer stays bound before it can be
	// unbound (a day).
	MinBinding time.Duration
	// ShareLifetime is how long a share link attributes orders (30 days).
	ShareLifetime time.Duration
	// LockWindow, when positive, locks a customer to the first promoter
	// whose link they bought through, for that long: later links of other
	// promoters do not take the sale. WeChat does not lock customers (the
	// last link wins, per order), which is the default.
	LockWindow time.Duration
	// Levels is how many individuals a sale pays: 1, the promoter who
	// made it. More would pay people on their recruits' sales, which
	// China's rules on pyramid selling forbid; New refuses it.
	Levels int
	// Payouts sends settled commission to the payees' balances by
	// transfer (Payout, RunDue); off when its Transferer is nil.
	Payouts PayoutConfig
	Clock   commerce.Clock
	IDs     commerce.IDGenerator
}

// Rate limits: a plan's commission rate is at most maxRate; an agency
// passes minShare to maxShare of its commission to its promoters.
var (
	maxRate  = commerce.MustPercent(90)
	minShare = commerce.MustPercent(10)
	maxShare = commerce.MustPercent(100)
)

// Service runs promoters, agencies, plans, attribution and commission.
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
	const op = "promoter.new"
	switch {
	case cfg.Commerce == nil:
		return nil, commerce.Invalid(op, "commerce", "required")
	case cfg.Store == nil:
		return nil, commerce.Invalid(op, "store", "required")
	case cfg.Levels > 1:
		return nil, &commerce.Error{Op: op, Kind: commerce.KindInvalid, Field: "levels",
			Err: fmt.Errorf("%w: %d levels would pay people on the sales of those they recruited; minishop pays only the promoter who made the sale", ErrRecruitment, cfg.Levels)}
	case cfg.Levels < 0 || cfg.MaxSharers < 0 || cfg.InviteLifetime < 0 || cfg.MinBinding < 0 || cfg.ShareLifetime < 0 || cfg.LockWindow < 0:
		return nil, commerce.Invalid(op, "config", "negative limit")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.InviteLifetime, 15*24*time.Hour)
	def(&cfg.MinBinding, 24*time.Hour)
	def(&cfg.ShareLifetime, 30*24*time.Hour)
	if cfg.MaxSharers == 0 {
		cfg.MaxSharers = 10
	}
	cfg.Levels = 1
	s := &Service{commerce: cfg.Commerce, store: cfg.Store, cfg: cfg, secret: cfg.Secret, clock: cfg.Clock, ids: cfg.IDs}
	if len(s.secret) == 0 {
		s.secret = make([]byte, 32)
		if _, err := rand.Read(s.secret); err != nil {
			return nil, err
		}
	}
	if err := s.checkPayoutConfig(op); err != nil {
		return nil, err
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

// event builds an outbox event "promoter.<typ>".
func (s *Service) event(merchant commerce.MerchantID, typ, aggregate string, payload map[string]any) (commerce.Event, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return commerce.Event{}, err
	}
	return commerce.Event{ID: s.ids.NewUUID(), Type: "promoter." + typ, AggregateID: aggregate, MerchantID: merchant, Payload: b, Time: s.now()}, nil
}

func (s *Service) emit(ctx context.Context, merchant commerce.MerchantID, typ, aggregate string, payload map[string]any) error {
	ev, err := s.event(merchant, typ, aggregate, payload)
	if err != nil {
		return err
	}
	return s.store.AppendEvents(ctx, ev)
}

// AgencyParams sets an agency's terms.
type AgencyParams struct {
	Name string
	// PromoterShare is the part of the agency's commission its promoters
	// get: 10 % to 100 %, unless PaysItself.
	PromoterShare commerce.Rate
	PaysItself    bool
	Overrides     map[commerce.ProductID]commerce.Rate
}

func (p *AgencyParams) validate(op string) error {
	if err := commerce.CheckText(op, "name", p.Name, true, commerce.MaxNameLen); err != nil {
		return err
	}
	share := func(field string, v commerce.Rate) error {
		if v.PPM() < minShare.PPM() || v.PPM() > maxShare.PPM() {
			return commerce.Invalid(op, field, "%s: an agency passes %s to %s of its commission to its promoters", v, minShare, maxShare)
		}
		return nil
	}
	if p.PaysItself {
		if p.PromoterShare != (commerce.Rate{}) || len(p.Overrides) > 0 {
			return commerce.Invalid(op, "promoter_share", "an agency that pays its promoters itself sets no share")
		}
		return nil
	}
	if err := share("promoter_share", p.PromoterShare); err != nil {
		return err
	}
	for prod, v := range p.Overrides {
		if err := share("overrides["+prod.String()+"]", v); err != nil {
			return err
		}
	}
	return nil
}

// overrides copies the caller's map (nil when empty: stores read back nil).
func overrides(m map[commerce.ProductID]commerce.Rate) map[commerce.ProductID]commerce.Rate {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}

// CreateAgency registers an agency.
func (s *Service) CreateAgency(ctx context.Context, p AgencyParams) (*Agency, error) {
	const op = "promoter.create_agency"
	if err := p.validate(op); err != nil {
		return nil, err
	}
	a := &Agency{ID: commerce.IDFrom[agencyTag](s.ids.NewUUID()), Name: p.Name, PromoterShare: p.PromoterShare, PaysItself: p.PaysItself,
		Overrides: overrides(p.Overrides), Created: s.now(), Version: 1}
	if err := s.store.InsertAgency(ctx, a); err != nil {
		return nil, commerce.Wrap(op, err)
	}
	return a, nil
}

// UpdateAgency changes an agency's terms; commission already earned keeps
// the terms of its sale.
func (s *Service) UpdateAgency(ctx context.Context, id AgencyID, p AgencyParams) (*Agency, error) {
	const op = "promoter.update_agency"
	if err := p.validate(op); err != nil {
		return nil, err
	}
	var out *Agency
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		return s.store.UpdateAgency(ctx, id, func(a *Agency) error {
			a.Name, a.PromoterShare, a.PaysItself, a.Overrides = p.Name, p.PromoterShare, p.PaysItself, overrides(p.Overrides)
			out = a.Clone()
			return nil
		})
	})
	if err != nil {
		return nil, commerce.Wrap(op, err)
	}
	return out, nil
}

// CreatePromoter registers a promoter.
func (s *Service) CreatePromoter(ctx context.Context, name string) (*Promoter, error) {
	const op = "promoter.create_promoter"
	if err := commerce.CheckText(op, "name", name, true, commerce.MaxNameLen); err != nil {
		return nil, err
	}
	p := &Promoter{ID: commerce.IDFrom[promoterTag](s.ids.NewUUID()), Name: name, Created: s.now(), Version: 1}
	if err := s.store.InsertPromoter(ctx, p); err != nil {
		return nil, commerce.Wrap(op, err)
	}
	return p, nil
}

// GetPromoter returns a promoter.
func (s *Service) GetPromoter(ctx context.Context, id PromoterID) (*Promoter, error) {
	p, err := s.store.GetPromoter(ctx, id)
	return p, commerce.NotFoundAs("promoter.get_promoter", "promoter", err)
}

// GetAgency returns an agency.
func (s *Service) GetAgency(ctx context.Context, id AgencyID) (*Agency, error) {
	a, err := s.store.GetAgency(ctx, id)
	return a, commerce.NotFoundAs("promoter.get_agency", "agency", err)
}

// MaxPayees is how many payees a promoter or an agency may have.
const MaxPayees = 20

// checkPayees validates a payee list: each payee, at most MaxPayees, and
// one person per app (which openid would a payout pick otherwise?).
func checkPayees(op string, payees []payment.Payee) error {
	if len(payees) > MaxPayees {
		return commerce.Invalid(op, "payees", "%d payees, at most %d", len(payees), MaxPayees)
	}
	apps := map[string]bool{}
	for i, p := range payees {
		if err := p.Validate(op, fmt.Sprintf("payees[%d]", i)); err != nil {
			return err
		}
		if p.Kind == payment.PayeePerson {
			if apps[p.App] {
				return commerce.Invalid(op, fmt.Sprintf("payees[%d].app", i), "a second openid under app %s", p.App)
			}
			apps[p.App] = true
		}
	}
	return nil
}

// SetPromoterPayees replaces the accounts a promoter's commission can be
// sent to.
func (s *Service) SetPromoterPayees(ctx context.Context, id PromoterID, payees []payment.Payee) (*Promoter, error) {
	const op = "promoter.set_promoter_payees"
	if err := checkPayees(op, payees); err != nil {
		return nil, err
	}
	var out *Promoter
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		return s.store.UpdatePromoter(ctx, id, func(p *Promoter) error {
			p.Payees = slices.Clone(payees)
			out = p.Clone()
			return nil
		})
	})
	if err != nil {
		return nil, commerce.Wrap(op, err)
	}
	return out, nil
}

// SetAgencyPayees replaces the accounts an agency's commission can be sent
// to.
func (s *Service) SetAgencyPayees(ctx context.Context, id AgencyID, payees []payment.Payee) (*Agency, error) {
	const op = "promoter.set_agency_payees"
	if err := checkPayees(op, payees); err != nil {
		return nil, err
	}
	var out *Agency
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		return s.store.UpdateAgency(ctx, id, func(a *Agency) error {
			a.Payees = slices.Clone(payees)
			out = a.Clone()
			return nil
		})
	})
	if err != nil {
		return nil, commerce.Wrap(op, err)
	}
	return out, nil
}

// BindToAgency binds a promoter to an agency. A promoter has at most one
// agency, and only agencies (businesses) bind promoters: no individual
// earns on another's sales.
func (s *Service) BindToAgency(ctx context.Context, agency AgencyID, promoter PromoterID) error {
	const op = "promoter.bind_agency"
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		a, err := s.store.GetAgency(ctx, agency)
		if err != nil {
			return err
		}
		return s.store.UpdatePromoter(ctx, promoter, func(p *Promoter) error {
			switch {
			case p.AgencyID == a.ID:
				return nil
			case !p.AgencyID.IsZero():
				return &commerce.Error{Op: op, Kind: commerce.KindConflict, Field: "promoter", Err: fmt.Errorf("bound to agency %s: it unbinds first", p.AgencyID)}
			}
			p.AgencyID, p.AgencyBound = a.ID, s.now()
			return s.emit(ctx, commerce.MerchantID{}, "bound", p.ID.String(), map[string]any{"promoter": p.ID, "agency": a.ID})
		})
	})
	return commerce.Wrap(op, err)
}

// UnbindFromAgency releases a promoter from its agency.
func (s *Service) UnbindFromAgency(ctx context.Context, agency AgencyID, promoter PromoterID) error {
	const op = "promoter.unbind_agency"
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		return s.store.UpdatePromoter(ctx, promoter, func(p *Promoter) error {
			if p.AgencyID != agency {
				return &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Field: "promoter", Err: fmt.Errorf("not bound to agency %s", agency)}
			}
			p.AgencyID, p.AgencyBound = AgencyID{}, time.Time{}
			return s.emit(ctx, commerce.MerchantID{}, "unbound", p.ID.String(), map[string]any{"promoter": p.ID, "agency": agency})
		})
	})
	return commerce.Wrap(op, err)
}

// AcceptInvite binds a promoter as the merchant's own sharer with an
// invite token (Invite), within the merchant's cap.
func (s *Service) AcceptInvite(ctx context.Context, merchant commerce.MerchantID, token string, promoter PromoterID) error {
	const op = "promoter.accept_invite"
	if err := commerce.CheckID(op, "merchant_id", merchant); err != nil {
		return err
	}
	t, err := s.verify(token)
	if err == nil && (t.kind != targetInvite || t.merchant != merchant) {
		err = fmt.Errorf("%w: not an invite of this merchant", ErrBadToken)
	}
	if err != nil {
		return &commerce.Error{Op: op, Kind: commerce.KindInvalid, Field: "token", Err: err}
	}
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		if _, err := s.store.GetPromoter(ctx, promoter); err != nil {
			return err
		}
		if err := s.store.BindSharer(ctx, Sharer{MerchantID: merchant, PromoterID: promoter, BoundAt: s.now()}, s.cfg.MaxSharers); err != nil {
			return err
		}
		return s.emit(ctx, merchant, "bound", promoter.String(), map[string]any{"promoter": promoter, "merchant": merchant})
	})
	return wrapCap(op, err)
}

// UnbindSharer releases one of the merchant's sharers, not within
// MinBinding of binding.
func (s *Service) UnbindSharer(ctx context.Context, merchant commerce.MerchantID, promoter PromoterID) error {
	const op = "promoter.unbind_sharer"
	if err := commerce.CheckID(op, "merchant_id", merchant); err != nil {
		return err
	}
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.store.UnbindSharer(ctx, merchant, promoter, s.now().Add(-s.cfg.MinBinding)); err != nil {
			return err
		}
		return s.emit(ctx, merchant, "unbound", promoter.String(), map[string]any{"promoter": promoter, "merchant": merchant})
	})
	return wrapCap(op, err)
}

func wrapCap(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrSharerCap), errors.Is(err, ErrTooSoon):
		return &commerce.Error{Op: op, Kind: commerce.KindFailedPrecondition, Field: "promoter", Err: err}
	}
	return commerce.Wrap(op, err)
}

// Sharers lists the merchant's own sharers.
func (s *Service) Sharers(ctx context.Context, merchant commerce.MerchantID) ([]Sharer, error) {
	if err := commerce.CheckID("promoter.sharers", "merchant_id", merchant); err != nil {
		return nil, err
	}
	out, err := s.store.Sharers(ctx, merchant)
	return out, commerce.Wrap("promoter.sharers", err)
}

// PlanParams puts a product into promotion.
type PlanParams struct {
	MerchantID commerce.MerchantID
	ProductID  commerce.ProductID
	Kind       PlanKind
	Rate       commerce.Rate // 0 % to 90 %
	Promoters  []PromoterID
	Agencies   []AgencyID
	Start, End time.Time
	Withdrawn  bool
}

// SetPlan creates or replaces a product's promotion plan. Lines already
// sold keep the rate of their sale.
func (s *Service) SetPlan(ctx context.Context, p PlanParams) (*Plan, error) {
	const op = "promoter.set_plan"
	if err := commerce.CheckID(op, "merchant_id", p.MerchantID); err != nil {
		return nil, err
	}
	switch {
	case p.Rate.PPM() < 0 || p.Rate.PPM() > maxRate.PPM():
		return nil, commerce.Invalid(op, "rate", "%s: a commission rate is 0%% to %s", p.Rate, maxRate)
	case p.Kind == Public && (len(p.Promoters) > 0 || len(p.Agencies) > 0):
		return nil, commerce.Invalid(op, "kind", "a public plan lists no one")
	case p.Kind == Targeted && len(p.Promoters)+len(p.Agencies) == 0:
		return nil, commerce.Invalid(op, "promoters", "a targeted plan lists promoters or agencies")
	case p.Kind == Exclusive && (len(p.Promoters) == 0 || len(p.Agencies) > 0):
		return nil, commerce.Invalid(op, "promoters", "an exclusive plan names its promoters, and no agency")
	case p.Kind != Public && p.Kind != Targeted && p.Kind != Exclusive:
		return nil, commerce.Invalid(op, "kind", "unknown plan kind %q", p.Kind)
	case p.Kind != Exclusive && (!p.Start.IsZero() || !p.End.IsZero()):
		return nil, commerce.Invalid(op, "start", "only an exclusive plan has a window")
	case !p.End.IsZero() && !p.End.After(p.Start):
		return nil, commerce.Invalid(op, "end", "before its start")
	}
	plan := &Plan{MerchantID: p.MerchantID, ProductID: p.ProductID, Kind: p.Kind, Rate: p.Rate,
		Promoters: slices.Clone(p.Promoters), Agencies: slices.Clone(p.Agencies),
		Start: p.Start.UTC().Truncate(time.Microsecond), End: p.End.UTC().Truncate(time.Microsecond), Withdrawn: p.Withdrawn, Updated: s.now()}
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		if _, err := s.commerce.GetProduct(ctx, p.MerchantID, p.ProductID); err != nil {
			return err
		}
		return s.store.PutPlan(ctx, plan)
	})
	if err != nil {
		return nil, commerce.Wrap(op, err)
	}
	return plan, nil
}

// allows reports whether plan lets promoter (of agency) earn on a sale at now.
func (p *Plan) allows(promoter PromoterID, agency AgencyID, now time.Time) bool {
	if p.Withdrawn {
		return false
	}
	switch p.Kind {
	case Public:
		return true
	case Targeted:
		return slices.Contains(p.Promoters, promoter) || (!agency.IsZero() && slices.Contains(p.Agencies, agency))
	case Exclusive:
		return slices.Contains(p.Promoters, promoter) && !now.Before(p.Start) && (p.End.IsZero() || now.Before(p.End))
	}
	return false
}
