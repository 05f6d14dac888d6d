package storedvalue

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"golang.org/x/text/currency"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/internal/records"
	"github.com/minishop/minishop/storage"
)

// Store is what the service needs: a transactor shared with the kernel's
// store and its records.
type Store interface {
	storage.Transactor
	storage.Records
}

// Config wires a Service.
type Config struct {
	// Commerce is the kernel whose checkouts and orders the balances ride.
	Commerce *commerce.Service
	// Store must share its transactor with the kernel's store.
	Store Store
	// Secret signs the links that send e-cards to friends and peppers the
	// hashes of physical cards' secrets (HMAC-SHA256): 32 random bytes kept
	// across restarts and shared by every process. A random one is made
	// when empty: links and physical cards then die with the process.
	Secret []byte
	// NoPrepaidRules turns off the limits of China's prepaid-card rules
	// (see rules.go), for a host outside mainland China.
	NoPrepaidRules bool
	Clock          commerce.Clock
	IDs            commerce.IDGenerator
}

// Errors, each wrapped in a *commerce.Error of the kind noted.
var (
	// ErrInsufficient: the balance holds less than the checkout asks to
	// spend (KindFailedPrecondition).
	ErrInsufficient = errors.New("the balance is too low")
	// ErrSpent: a top-up's refund would return principal the customer has
	// already spent (KindFailedPrecondition): only unspent principal goes
	// back.
	ErrSpent = errors.New("the top-up is spent")
	// ErrLimit: a balance or card would pass the prepaid-card rules' limit
	// (KindFailedPrecondition).
	ErrLimit = errors.New("over the prepaid-card limit")
	// ErrRealName: cards for 10,000.00 or more at once need the buyer's
	// real name (KindFailedPrecondition).
	ErrRealName = errors.New("the buyer's real name is needed")
	// ErrWrongSecret: the card's secret does not match (KindFailedPrecondition).
	ErrWrongSecret = errors.New("wrong card secret")
	// ErrLocked: too many wrong secrets for the card or by the customer;
	// try again later (KindFailedPrecondition).
	ErrLocked = errors.New("too many wrong secrets")
	// ErrCardUnusable: the card is not active (not yet sold, redeemed,
	// expired) or not the customer's (KindFailedPrecondition).
	ErrCardUnusable = errors.New("the card cannot be used")
)

// Category is the product category of top-up SKUs: an order of such a SKU
// is a top-up, credited to the buyer's balance when paid (and, having
// nothing to ship, virtual goods for the shipping-info rule).
const Category = "stored_value"

// Plugin is the name the service's tenders carry (commerce.Tender.Plugin).
const Plugin = "storedvalue"

const (
	kindAccount = "sv_account"
	kindEntry   = "sv_entry"
	kindPlan    = "sv_plan"
	kindTopUp   = "sv_topup" // what a top-up order credited
	kindSpend   = "sv_spend" // what an order spent
	extKey      = "storedvalue"
)

// Service keeps customers' prepaid balances at each merchant: top-ups paid
// through the payment channel (with a plan's bonus), spending at checkout
// as a tender of the order, and the ledger of every movement.
type Service struct {
	commerce *commerce.Service
	store    Store
	secret   []byte
	noRules  bool
	clock    commerce.Clock
	ids      commerce.IDGenerator
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	const op = "storedvalue.new"
	if cfg.Commerce == nil {
		return nil, commerce.Invalid(op, "commerce", "required")
	}
	if cfg.Store == nil {
		return nil, commerce.Invalid(op, "store", "required")
	}
	s := &Service{commerce: cfg.Commerce, store: cfg.Store, secret: cfg.Secret, noRules: cfg.NoPrepaidRules, clock: cfg.Clock, ids: cfg.IDs}
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

// Account is a customer's balance at a merchant. Principal is what the
// customer paid in and has not spent; Bonus what top-up plans added. They
// are kept apart because a top-up's refund returns principal only.
type Account struct {
	MerchantID commerce.MerchantID
	CustomerID commerce.CustomerID
	Principal  commerce.Money
	Bonus      commerce.Money
	// Pending is what top-ups checked out and not yet paid will add
	// (principal and bonus): it counts against the balance's limit.
	Pending commerce.Money `json:",omitempty"`
	// Entries counts the account's ledger entries (numbered from 1).
	Entries int64
	Created time.Time
	Updated time.Time
}

// Meta implements records.Doc.
func (Account) Meta() (string, time.Time) { return "", time.Time{} }

// newAccount is an account with nothing in it, created at now.
func newAccount(m commerce.MerchantID, c commerce.CustomerID, cur currency.Unit, now time.Time) *Account {
	return &Account{MerchantID: m, CustomerID: c, Principal: commerce.Zero(cur), Bonus: commerce.Zero(cur), Created: now}
}

// Balance is what the account can spend: principal and bonus.
func (a *Account) Balance() commerce.Money {
	b, _ := a.Principal.Add(a.Bonus)
	return b
}

// EntryKind says what moved money in or out of an account.
type EntryKind string

// The entry kinds.
const (
	EntryToppedUp     EntryKind = "topped_up"     // a top-up was paid: principal and its bonus in
	EntryTopUpRefund  EntryKind = "topup_refund"  // a top-up's refund took its principal back out, and forfeited bonus
	EntryRefundFailed EntryKind = "refund_failed" // that refund failed: put back
	EntrySpent        EntryKind = "spent"         // a checkout paid with the balance
	EntryReleased     EntryKind = "released"      // the order was cancelled unpaid: all of it back
	EntryRefunded     EntryKind = "refunded"      // the order's refund gave part back
	EntryRedeemed     EntryKind = "redeemed"      // a gift card's value moved in (on the card: out)
	EntryIssued       EntryKind = "issued"        // a card was made with its face value
	EntryVoided       EntryKind = "voided"        // a card's order was refunded: its value is gone
	EntryLost         EntryKind = "lost"          // a card reported lost: its value moved to a new card
)

// Entry is one movement of an account or a card; Principal and Bonus are
// signed (a card has principal only). An account's or card's balance is
// the sum of its entries.
type Entry struct {
	Seq       int64
	Kind      EntryKind
	Principal commerce.Money
	Bonus     commerce.Money
	OrderID   commerce.OrderID `json:",omitempty"`
	At        time.Time
}

// Meta implements records.Doc.
func (Entry) Meta() (string, time.Time) { return "", time.Time{} }

func accountKey(m commerce.MerchantID, c commerce.CustomerID) string {
	return m.String() + ":" + string(c)
}

func entryKey(account string, seq int64) string {
	return account + ":" + fmt.Sprintf("%012d", seq)
}

// Account returns the customer's account at the merchant: a zero balance
// when the customer never topped up.
func (s *Service) Account(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID) (*Account, error) {
	const op = "storedvalue.account"
	if err := commerce.CheckID(op, "merchant_id", merchant); err != nil {
		return nil, err
	}
	if customer == "" {
		return nil, commerce.Invalid(op, "customer_id", "required")
	}
	a, err := records.Read[Account](ctx, s.store, kindAccount, accountKey(merchant, customer))
	if errors.Is(err, storage.ErrNotFound) {
		cur, err := s.currency(ctx, op, merchant)
		if err != nil {
			return nil, err
		}
		return newAccount(merchant, customer, cur, time.Time{}), nil
	}
	return a, commerce.Wrap(op, err)
}

func (s *Service) currency(ctx context.Context, op string, merchant commerce.MerchantID) (currency.Unit, error) {
	m, err := s.commerce.GetMerchant(ctx, merchant)
	if err != nil {
		return currency.Unit{}, commerce.Wrap(op, err)
	}
	return m.Currency, nil
}

// Statement returns the account's entries after seq after, oldest first, at
// most limit (commerce.PageLimit).
func (s *Service) Statement(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, after int64, limit int) ([]Entry, error) {
	const op = "storedvalue.statement"
	a, err := s.Account(ctx, merchant, customer)
	if err != nil {
		return nil, err
	}
	return s.entries(ctx, op, accountKey(merchant, customer), a.Entries, after, limit)
}

// entries reads the ledger entries of owner (an account or "card:" and a
// card's number), which has n, after seq after, at most limit.
func (s *Service) entries(ctx context.Context, op, owner string, n, after int64, limit int) ([]Entry, error) {
	after = max(after, 0)
	if after >= n {
		return nil, nil
	}
	// The keys sort by sequence number: one range read.
	out, err := records.Between[Entry](ctx, s.store, kindEntry, entryKey(owner, after+1), entryKey(owner, n+1), limit)
	return out, commerce.Wrap(op, err)
}

// move changes the account by the principal and bonus (signed) decide
// returns for it as read, under its compare-and-swap (decide runs again
// when another writer moved first, and may refuse), and writes the ledger
// entry and the event once the account is saved.
func (s *Service) move(ctx context.Context, merchant commerce.MerchantID, customer commerce.CustomerID, kind EntryKind, order commerce.OrderID,
	decide func(a *Account) (principal, bonus commerce.Money, err error)) (*Account, error) {
	key := accountKey(merchant, customer)
	now := s.now()
	return records.UpdateFx(ctx, s.store, kindAccount, key, now, true, func(a *Account, fresh bool, fx *records.Effects) error {
		if fresh {
			cur, err := s.currency(ctx, "storedvalue."+string(kind), merchant)
			if err != nil {
				return err
			}
			*a = *newAccount(merchant, customer, cur, now)
		}
		principal, bonus, err := decide(a)
		if err != nil {
			return err
		}
		if a.Principal, err = a.Principal.Add(principal); err != nil {
			return err
		}
		if a.Bonus, err = a.Bonus.Add(bonus); err != nil {
			return err
		}
		if a.Principal.IsNegative() || a.Bonus.IsNegative() {
			return commerce.Errorf("storedvalue."+string(kind), commerce.KindInternal, "account %s would go to %s + %s", key, a.Principal, a.Bonus)
		}
		a.Entries++
		a.Updated = now
		e := Entry{Seq: a.Entries, Kind: kind, Principal: principal, Bonus: bonus, OrderID: order, At: now}
		fx.Do(func() error {
			if err := records.Insert(ctx, s.store, kindEntry, entryKey(key, e.Seq), now, e); err != nil {
				return err
			}
			return s.emit(ctx, "storedvalue."+string(kind), key, merchant, map[string]any{"customer_id": customer,
				"order_id": order, "principal": principal, "bonus": bonus, "seq": e.Seq})
		})
		return nil
	})
}

// emit writes an outbox event in the caller's transaction.
func (s *Service) emit(ctx context.Context, typ, aggregate string, merchant commerce.MerchantID, payload any) error {
	return records.Emit(ctx, s.commerce.Store(), s.ids.NewUUID(), typ, aggregate, merchant, s.now(), payload)
}

// proportion is floor(part × num / den) in minor units, in part's
// currency, for 0 ≤ num ≤ den: the bonus share of a movement.
func proportion(part, num, den commerce.Money) commerce.Money {
	p, _ := part.Minor()
	n, _ := num.Minor()
	d, _ := den.Minor()
	if d <= 0 || n <= 0 || p <= 0 {
		return commerce.Zero(part.Currency())
	}
	return commerce.FromMinor(commerce.MulDivFloor(n, p, d), part.Currency())
}
