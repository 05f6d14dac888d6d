package campaigns

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/coupons"
	"github.com/minishop/minishop/internal/records"
	"github.com/minishop/minishop/storage"
)

// Store is what the campaigns keep: keyed records (activities, groups,
// flash-sale pools, bargains) on the kernel's transactor. storage/memory and
// storage/sqlstore implement it; storage/storetest holds the contract.
type Store interface {
	storage.Transactor
	storage.Records
}

// Config wires a campaigns Service.
type Config struct {
	// Commerce is the kernel whose checkouts and orders the campaigns ride.
	Commerce *commerce.Service
	// Store must share its transactor with the kernel's store.
	Store Store
	// Secret signs group and bargain share tokens (HMAC-SHA256): 32 random
	// bytes kept across restarts and shared by every process. A random one
	// is made when empty, and tokens then die with the process.
	Secret []byte
	Clock  commerce.Clock
	IDs    commerce.IDGenerator
}

// Errors, each wrapped in a *commerce.Error of the kind noted. None is
// retryable: asking again unchanged meets the same refusal.
var (
	// ErrGroupFull: every place of the group is taken (KindFailedPrecondition).
	ErrGroupFull = errors.New("the group is full")
	// ErrGroupClosed: the group is not open to join: not yet open, formed,
	// failed, closed or past its deadline (KindFailedPrecondition).
	ErrGroupClosed = errors.New("the group is not open")
	// ErrAlreadyMember: the customer holds a place in the group already
	// (KindConflict).
	ErrAlreadyMember = errors.New("already in the group")
	// ErrNotRunning: the activity or sale is outside its window
	// (KindFailedPrecondition).
	ErrNotRunning = errors.New("the campaign is not running")
	// ErrLimit: a per-customer or per-order limit would be passed
	// (KindFailedPrecondition).
	ErrLimit = errors.New("campaign limit reached")
	// ErrSoldOut: the flash sale's pool has not the units
	// (KindFailedPrecondition; errors.Is(err, commerce.ErrOutOfStock) too).
	ErrSoldOut = fmt.Errorf("flash sale sold out: %w", commerce.ErrOutOfStock)
	// ErrAlreadyHelped: the friend has helped this bargain (or, when the
	// activity says so, another bargain of it) already (KindConflict).
	ErrAlreadyHelped = errors.New("already helped")
	// ErrBargainClosed: the bargain is not open to help or to buy
	// (KindFailedPrecondition).
	ErrBargainClosed = errors.New("the bargain is not open")
	// ErrBadToken: a share token is malformed, forged or of another shop
	// (KindInvalid).
	ErrBadToken = errors.New("invalid share token")
)

// Service runs group buying, flash sales and bargaining on the kernel's
// checkout: its Adjuster prices the campaign lines, its CheckoutHook takes
// places, pool units and bargains inside the checkout transaction, its
// OrderHook follows the orders (paid, cancelled, refunded), and RunDue ends
// what time ends.
type Service struct {
	commerce *commerce.Service
	store    Store
	secret   []byte
	clock    commerce.Clock
	ids      commerce.IDGenerator
	// sales caches flash-sale terms (they never change once created) by
	// id, so a sale checkout does not read its sale.
	sales sync.Map
	// drained holds the pool shards (by record key) this process last saw
	// empty: a hint of which to read last, never a reason to skip one.
	drained sync.Map
}

// New validates cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	const op = "campaigns.new"
	if cfg.Commerce == nil {
		return nil, commerce.Invalid(op, "commerce", "required")
	}
	if cfg.Store == nil {
		return nil, commerce.Invalid(op, "store", "required")
	}
	s := &Service{commerce: cfg.Commerce, store: cfg.Store, secret: cfg.Secret, clock: cfg.Clock, ids: cfg.IDs}
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

// Record kinds. Each record is a JSON document under a key; Status and Due
// are what RunDue queries.
const (
	kindGroupActivity   = "campaign_group_activity"
	kindGroup           = "campaign_group"
	kindGroupJoins      = "campaign_group_joins" // groups a customer holds a place in, per activity
	kindFlashSale       = "campaign_flash_sale"
	kindFlashPool       = "campaign_flash_pool" // one shard of a sale SKU's units
	kindFlashBuyer      = "campaign_flash_buyer"
	kindFlashTake       = "campaign_flash_take" // what an order took from the pools
	kindBargainActivity = "campaign_bargain_act"
	kindBargain         = "campaign_bargain"
	kindBargainHelper   = "campaign_bargain_help" // a friend's help, per activity
	kindBargainOwner    = "campaign_bargain_own"  // a customer's bargain, per activity
)

// notFound names what was looked for in a not-found error.
func notFound(op, field string, err error) error {
	if errors.Is(err, storage.ErrNotFound) {
		return &commerce.Error{Op: op, Kind: commerce.KindNotFound, Field: field, Err: err}
	}
	return commerce.Wrap(op, err)
}

// refuse builds the error of a business refusal.
func refuse(op string, kind commerce.Kind, field string, sentinel error, format string, args ...any) error {
	return &commerce.Error{Op: op, Kind: kind, Field: field, Err: fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))}
}

// emit writes a campaign event to the kernel's outbox, in ctx's
// transaction.
func (s *Service) emit(ctx context.Context, typ string, aggregate string, merchant commerce.MerchantID, payload any) error {
	return records.Emit(ctx, s.commerce.Store(), s.ids.NewUUID(), typ, aggregate, merchant, s.now(), payload)
}

// Share tokens: the record's 16-byte id and 16 bytes of HMAC-SHA256 over
// the purpose, the shop and the id, base64url (43 characters). A token
// says which group or bargain a chat member opens; it carries no expiry of
// its own, the record's deadline is the one that counts.
func (s *Service) token(purpose string, merchant commerce.MerchantID, id [16]byte) string {
	b := make([]byte, 0, 32)
	b = append(b, id[:]...)
	b = append(b, s.mac(purpose, merchant, id)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Service) mac(purpose string, merchant commerce.MerchantID, id [16]byte) []byte {
	h := hmac.New(sha256.New, s.secret)
	h.Write([]byte(purpose))
	m := merchant.UUID()
	h.Write(m[:])
	h.Write(id[:])
	return h.Sum(nil)[:16]
}

func (s *Service) verify(op, purpose string, merchant commerce.MerchantID, tok string) ([16]byte, error) {
	var id [16]byte
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) != 32 {
		return id, &commerce.Error{Op: op, Kind: commerce.KindInvalid, Field: "token", Err: ErrBadToken}
	}
	copy(id[:], b[:16])
	if !hmac.Equal(b[16:], s.mac(purpose, merchant, id)) {
		return id, &commerce.Error{Op: op, Kind: commerce.KindInvalid, Field: "token", Err: ErrBadToken}
	}
	return id, nil
}

// Window is when a campaign runs: from Start (inclusive) to End
// (exclusive).
type Window struct {
	Start, End time.Time
}

func (w Window) validate(op, field string) error {
	switch {
	case w.Start.IsZero():
		return commerce.Invalid(op, field+".start", "required")
	case w.End.IsZero():
		return commerce.Invalid(op, field+".end", "required")
	case !w.End.After(w.Start):
		return commerce.Invalid(op, field+".end", "%s is not after start %s", w.End.Format(time.RFC3339), w.Start.Format(time.RFC3339))
	}
	return nil
}

// Contains reports whether t is inside the window.
func (w Window) Contains(t time.Time) bool { return !t.Before(w.Start) && t.Before(w.End) }

// metaCampaign is the order metadata key saying the order belongs to a
// campaign ("group", "flash", "bargain"): the order hook reads the
// campaign's record only for such orders.
const metaCampaign = "campaign"

// OrderHook follows campaign orders through the kernel's changes: a group
// order's payment takes its place (and may form the group), a cancelled or
// refunded one gives its place, its pool units or its bargain back.
func (s *Service) OrderHook() commerce.OrderHook {
	return commerce.OrderHookFunc(func(ctx context.Context, c commerce.OrderChange) error {
		kind := c.Order.Metadata[metaCampaign]
		if kind == "" {
			return nil
		}
		switch kind {
		case "group":
			return s.groupOrderChanged(ctx, c)
		case "flash":
			return s.flashOrderChanged(ctx, c)
		case "bargain":
			return s.bargainOrderChanged(ctx, c)
		}
		return nil
	})
}

// Adjuster prices the lines of a checkout that names a campaign (OpenGroup,
// JoinGroup, Flash, Buy): the campaign price as an adjustment on its line.
// It runs first in the pipeline, so member prices, coupons and points (where
// the campaign allows them) apply to what the campaign charges.
func (s *Service) Adjuster() commerce.Adjuster {
	return commerce.AdjusterFunc(func(ctx context.Context, q *commerce.Quote) ([]commerce.Adjustment, error) {
		switch v := q.Extensions[extKey].(type) {
		case nil:
			return nil, nil
		case groupChoice:
			return s.groupAdjust(ctx, q, v)
		case flashChoice:
			return s.flashAdjust(ctx, q, v)
		case bargainChoice:
			return s.bargainAdjust(ctx, q, v)
		default:
			return nil, commerce.Invalid("campaigns.price", "extensions."+extKey, "%T is not a campaign choice", v)
		}
	})
}

// CheckoutHook takes what a campaign checkout holds, inside the checkout
// transaction: a place in a group, units of a flash sale's pool, the
// bargain being bought. It must run before the promoter's hook, which reads
// whether the campaign pays commission.
func (s *Service) CheckoutHook() commerce.CheckoutHook {
	return commerce.CheckoutHookFunc(func(ctx context.Context, c *commerce.CheckoutContext) error {
		switch v := c.Quote.Extensions[extKey].(type) {
		case nil:
			return nil
		case groupChoice:
			return s.groupCheckout(ctx, c, v)
		case flashChoice:
			return s.flashCheckout(ctx, c, v)
		case bargainChoice:
			return s.bargainCheckout(ctx, c, v)
		}
		return nil
	})
}

// extKey is the campaigns' key in commerce.Extensions: one campaign per
// checkout.
const extKey = "campaigns"

// markOrder tags a checkout's order as a campaign's, for the order hook.
func markOrder(o *commerce.Order, kind string) {
	if o.Metadata == nil {
		o.Metadata = map[string]string{}
	}
	o.Metadata[metaCampaign] = kind
}

// noCoupons keeps coupons off a campaign order that takes none: a
// coupon the customer chose is refused, naming it; otherwise the
// pipeline is told to pick none (it would apply the customer's best).
func noCoupons(op string, q *commerce.Quote) error {
	if sel, ok := q.Extensions[coupons.ExtensionKey].(coupons.Selection); ok && len(sel.Coupons) > 0 {
		return commerce.Invalid(op, "extensions."+coupons.ExtensionKey, "this campaign's orders take no coupons")
	}
	q.SetExtension(coupons.ExtensionKey, coupons.Selection{None: true})
	return nil
}

// oneLine checks that a campaign checkout buys one SKU of the campaign.
func oneLine(op string, q *commerce.Quote) error {
	if len(q.Lines) != 1 {
		return commerce.Invalid(op, "lines", "a %s checkout buys one SKU, %d lines given", op, len(q.Lines))
	}
	return nil
}

// lineDiscount is the adjustment that sells line i at unit price each.
func lineDiscount(q *commerce.Quote, i int, price commerce.Money, source, ref, label string) ([]commerce.Adjustment, error) {
	l := q.Lines[i]
	if price.Currency() != q.Currency {
		return nil, commerce.Errorf("campaigns.price", commerce.KindInternal, "campaign price in %s, the shop sells in %s", price.Currency(), q.Currency)
	}
	off, err := l.UnitPrice.Sub(price)
	if err != nil {
		return nil, err
	}
	if !off.IsPositive() {
		return nil, nil // the campaign's price is no lower than the price now
	}
	amount := off.Mul(l.Quantity)
	if c, _ := amount.Cmp(l.Payable); c > 0 {
		amount = l.Payable
	}
	split := make([]commerce.Money, len(q.Lines))
	for k := range split {
		split[k] = commerce.Zero(q.Currency)
	}
	split[i] = amount
	return []commerce.Adjustment{{Kind: commerce.KindDiscount, Target: commerce.TargetItems, Source: "campaigns",
		Ref: ref, Label: label, Amount: amount, Split: split}}, nil
}

// DueReport counts what one RunDue did.
type DueReport struct {
	GroupsFormed, GroupsFailed int
	// MembersRefunded counts the full refunds this run asked for members of
	// groups that failed (or of orders paid into a group that had ended).
	// Asking is idempotent, so runs racing each other each count a refund
	// that only one of them made; GroupsFormed and GroupsFailed count
	// exactly, by the run whose write ended the group.
	MembersRefunded int
	SalesClosed     int
	BargainsExpired int
}

// RunDue ends what time ends: groups past their deadline fail (every paid
// member refunded in full, exactly once) or, where the activity allows,
// form short; flash sales past their end close, their unsold units going
// back to the SKUs' stock; bargains past their window expire. A host calls
// it on a schedule (the Engine's RunDue does); it is safe from several
// processes at once. A record whose work fails stays due and is reported
// in the error; the others go on.
func (s *Service) RunDue(ctx context.Context) (DueReport, error) {
	var rep DueReport
	var errs []error
	if err := s.runGroups(ctx, &rep); err != nil {
		errs = append(errs, err)
	}
	if err := s.runFlash(ctx, &rep); err != nil {
		errs = append(errs, err)
	}
	if err := s.runBargains(ctx, &rep); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return rep, &commerce.Error{Op: "campaigns.run_due", Kind: commerce.KindOf(errs[0]), Err: errors.Join(errs...)}
	}
	return rep, nil
}
