package campaigns

import (
	"context"
	"errors"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/internal/records"
	"github.com/minishop/minishop/storage"
)

type (
	bargainActivityTag struct{}
	bargainTag         struct{}
)

// BargainActivityID identifies a bargaining activity; BargainID one
// customer's bargain of it.
type (
	BargainActivityID = commerce.ID[bargainActivityTag]
	BargainID         = commerce.ID[bargainTag]
)

// Limits of a bargaining activity.
const (
	MaxBargainHelpers   = 100
	MaxBargainTimeLimit = 30 * 24 * time.Hour
)

// BargainActivityParams creates a bargaining activity (砍价) on one SKU.
type BargainActivityParams struct {
	MerchantID commerce.MerchantID
	Title      string
	SKU        commerce.SKUID
	// Target is the price the helpers' cuts reach (the floor): below the
	// SKU's price by at least one minor unit per helper.
	Target commerce.Money
	// Helpers is how many friends' helps reach the target (1 to
	// MaxBargainHelpers).
	Helpers int
	// TimeLimit is how long a bargain runs from its start: helps and the
	// purchase must come within it (required).
	TimeLimit time.Duration
	// Window is when bargains may be started.
	Window Window
	// OneHelpPerActivity lets a friend help one bargain of the activity,
	// not one of each of their friends'.
	OneHelpPerActivity bool
	// BuyBeforeTarget lets the customer buy at the price reached so far;
	// otherwise only at the target.
	BuyBeforeTarget bool
}

// BargainActivity is a bargaining activity.
type BargainActivity struct {
	ID BargainActivityID
	BargainActivityParams
	Created time.Time
}

func (BargainActivity) Meta() (string, time.Time) { return "active", time.Time{} }

// BargainState is where a bargain is.
type BargainState string

// Bargain states: open (taking helps) → reached (at the target) → bought;
// open or reached → expired when its time runs out unbought.
const (
	BargainOpen    BargainState = "open"
	BargainReached BargainState = "reached"
	BargainBought  BargainState = "bought"
	BargainExpired BargainState = "expired"
)

// Help is one friend's cut.
type Help struct {
	Friend commerce.CustomerID
	Cut    commerce.Money
	At     time.Time
}

// Bargain is one customer's bargain.
type Bargain struct {
	ID         BargainID
	ActivityID BargainActivityID
	MerchantID commerce.MerchantID
	Customer   commerce.CustomerID
	SKU        commerce.SKUID
	// Start is the SKU's price when the bargain started, Target the
	// floor, Price what the customer pays now.
	Start, Target, Price commerce.Money
	Helpers              int
	Helps                []Help
	State                BargainState
	Created, ExpiresAt   time.Time
	// Order is the order buying it (pending or paid); zero when none.
	Order commerce.OrderID
	// Recheck is when RunDue looks again at a bargain past its time whose
	// order was still waiting for payment.
	Recheck time.Time `json:",omitempty"`
}

func (b Bargain) Meta() (string, time.Time) {
	if b.State == BargainOpen || b.State == BargainReached {
		if b.Recheck.After(b.ExpiresAt) {
			return statusOpen, b.Recheck
		}
		return statusOpen, b.ExpiresAt
	}
	return string(b.State), time.Time{}
}

// bargainOwner points at a customer's bargain of an activity.
type bargainOwner struct {
	Bargain BargainID `json:"bargain"`
}

func (bargainOwner) Meta() (string, time.Time) { return "", time.Time{} }

// bargainHelper marks a friend's help in an activity.
type bargainHelper struct {
	Bargain BargainID `json:"bargain"`
}

func (bargainHelper) Meta() (string, time.Time) { return "", time.Time{} }

// CreateBargainActivity validates p and stores the activity.
func (s *Service) CreateBargainActivity(ctx context.Context, p BargainActivityParams) (*BargainActivity, error) {
	const op = "campaigns.create_bargain_activity"
	if err := commerce.CheckID(op, "merchant_id", p.MerchantID); err != nil {
		return nil, err
	}
	if err := commerce.CheckText(op, "title", p.Title, true, commerce.MaxNameLen); err != nil {
		return nil, err
	}
	switch {
	case p.Helpers < 1 || p.Helpers > MaxBargainHelpers:
		return nil, commerce.Invalid(op, "helpers", "%d is outside [1, %d]", p.Helpers, MaxBargainHelpers)
	case p.TimeLimit <= 0:
		return nil, commerce.Invalid(op, "time_limit", "%s: required and positive", p.TimeLimit)
	case p.TimeLimit > MaxBargainTimeLimit:
		return nil, commerce.Invalid(op, "time_limit", "%s: at most %s", p.TimeLimit, MaxBargainTimeLimit)
	}
	if err := p.Window.validate(op, "window"); err != nil {
		return nil, err
	}
	price, err := s.skuPrice(ctx, op, "sku", p.MerchantID, p.SKU)
	if err != nil {
		return nil, err
	}
	if err := bargainTarget(op, p.Target, price, p.Helpers); err != nil {
		return nil, err
	}
	a := &BargainActivity{ID: commerce.IDFrom[bargainActivityTag](s.ids.NewUUID()), BargainActivityParams: p, Created: s.now()}
	if err := records.Insert(ctx, s.store, kindBargainActivity, a.ID.String(), a.Created, a); err != nil {
		return nil, commerce.Wrap(op, err)
	}
	return a, nil
}

// bargainTarget checks a target against the price: a campaign price, with
// at least a minor unit of cut per helper.
func bargainTarget(op string, target, price commerce.Money, helpers int) error {
	if err := campaignPrice(op, "target", target, price); err != nil {
		return err
	}
	t, _ := target.Minor()
	p, _ := price.Minor()
	if p-t < int64(helpers) {
		return commerce.Invalid(op, "target", "%s leaves %d minor units to cut, fewer than the %d helpers", target, p-t, helpers)
	}
	return nil
}

// BargainActivity returns an activity.
func (s *Service) BargainActivity(ctx context.Context, merchant commerce.MerchantID, id BargainActivityID) (*BargainActivity, error) {
	a, err := records.Read[BargainActivity](ctx, s.store, kindBargainActivity, id.String())
	if err == nil && a.MerchantID != merchant {
		err = storage.ErrNotFound
	}
	if err != nil {
		return nil, notFound("campaigns.bargain_activity", "activity_id", err)
	}
	return a, nil
}

// StartBargain starts the customer's bargain of an activity at the SKU's
// price now. A customer has one bargain per activity: starting again
// while it runs returns it (a retry is safe); after it expired, a new one
// starts.
func (s *Service) StartBargain(ctx context.Context, merchant commerce.MerchantID, activity BargainActivityID, customer commerce.CustomerID) (*Bargain, error) {
	const op = "campaigns.start_bargain"
	if err := commerce.CheckCustomer(op, "customer", customer); err != nil {
		return nil, err
	}
	a, err := s.BargainActivity(ctx, merchant, activity)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if !a.Window.Contains(now) {
		return nil, refuse(op, commerce.KindFailedPrecondition, "activity_id", ErrNotRunning, "activity %s runs %s to %s", a.ID,
			a.Window.Start.Format(time.RFC3339), a.Window.End.Format(time.RFC3339))
	}
	price, err := s.skuPrice(ctx, op, "sku", merchant, a.SKU)
	if err != nil {
		return nil, err
	}
	if err := bargainTarget(op, a.Target, price, a.Helpers); err != nil {
		return nil, err // the SKU's price fell since the activity was made
	}
	var b *Bargain
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		b = nil
		_, err := records.UpdateFx(ctx, s.store, kindBargainOwner, a.ID.String()+":"+string(customer), now, true, func(ow *bargainOwner, fresh bool, fx *records.Effects) error {
			b = nil
			if !fresh {
				cur, err := records.Read[Bargain](ctx, s.store, kindBargain, ow.Bargain.String())
				if err != nil {
					return err
				}
				if cur.State != BargainExpired {
					b = cur
					return records.ErrKeep
				}
			}
			b = &Bargain{ID: commerce.IDFrom[bargainTag](s.ids.NewUUID()), ActivityID: a.ID, MerchantID: merchant, Customer: customer,
				SKU: a.SKU, Start: price, Target: a.Target, Price: price, Helpers: a.Helpers, State: BargainOpen,
				Created: now, ExpiresAt: now.Add(a.TimeLimit)}
			ow.Bargain = b.ID
			nb := b
			fx.Do(func() error {
				if err := records.Insert(ctx, s.store, kindBargain, nb.ID.String(), now, nb); err != nil {
					return err
				}
				return s.emit(ctx, "bargain.started", nb.ID.String(), merchant, bargainEvent{BargainID: nb.ID, Customer: customer, Price: nb.Price})
			})
			return nil
		})
		return err
	})
	if err != nil {
		return nil, commerce.Wrap(op, err)
	}
	return b, nil
}

// bargainEvent is the payload of the bargain.* events.
type bargainEvent struct {
	BargainID BargainID           `json:"bargain_id"`
	Customer  commerce.CustomerID `json:"customer_id,omitempty"`
	Friend    commerce.CustomerID `json:"friend_id,omitempty"`
	Cut       *commerce.Money     `json:"cut,omitempty"`
	Price     commerce.Money      `json:"price"`
}

// Bargain returns a bargain.
func (s *Service) Bargain(ctx context.Context, merchant commerce.MerchantID, id BargainID) (*Bargain, error) {
	b, err := records.Read[Bargain](ctx, s.store, kindBargain, id.String())
	if err == nil && b.MerchantID != merchant {
		err = storage.ErrNotFound
	}
	if err != nil {
		return nil, notFound("campaigns.bargain", "bargain_id", err)
	}
	return b, nil
}

// BargainToken returns the bargain's share link token.
func (s *Service) BargainToken(b *Bargain) string {
	return s.token("bargain", b.MerchantID, b.ID.UUID())
}

// BargainByToken verifies a share token and returns its bargain.
func (s *Service) BargainByToken(ctx context.Context, merchant commerce.MerchantID, token string) (*Bargain, error) {
	id, err := s.verify("campaigns.bargain_by_token", "bargain", merchant, token)
	if err != nil {
		return nil, err
	}
	return s.Bargain(ctx, merchant, commerce.IDFrom[bargainTag](id))
}

// Cut is the k-th help's cut (k from 0) of a bargain that has remaining
// minor units left to cut with helpers helps to go, in minor units:
//
//	cut = min(max(1, ⌊2·remaining / (left+1)⌋), remaining − (left−1))
//
// where left = helpers − k. Each cut is about twice the average of what is
// left, so early helps cut most (what makes a friend's help feel worth it)
// and later ones less; every cut is at least one minor unit, the cuts never
// leave less than one unit for each help still to come, and the last help
// takes exactly what is left: the cuts reach the target to the fen, never
// past it. The rule is deterministic, so the price after any number of
// helps is known in advance.
func Cut(remaining int64, left int) int64 {
	if left <= 1 {
		return remaining
	}
	c := 2 * remaining / int64(left+1)
	c = max(c, 1)
	return min(c, remaining-int64(left-1))
}

// Help records a friend's help on the bargain the share token names: one
// help per friend per bargain (and, when the activity says so, per
// activity), never by the bargain's owner, while the bargain is open. It
// returns the bargain after the cut.
func (s *Service) Help(ctx context.Context, merchant commerce.MerchantID, token string, friend commerce.CustomerID) (*Bargain, error) {
	const op = "campaigns.help"
	if err := commerce.CheckCustomer(op, "friend", friend); err != nil {
		return nil, err
	}
	id, err := s.verify(op, "bargain", merchant, token)
	if err != nil {
		return nil, err
	}
	cur, err := s.Bargain(ctx, merchant, commerce.IDFrom[bargainTag](id))
	if err != nil {
		return nil, err
	}
	a, err := s.BargainActivity(ctx, merchant, cur.ActivityID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var b *Bargain
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		if a.OneHelpPerActivity {
			err := records.Insert(ctx, s.store, kindBargainHelper, a.ID.String()+":"+string(friend), now, bargainHelper{Bargain: cur.ID})
			if errors.Is(err, storage.ErrConflict) {
				return refuse(op, commerce.KindConflict, "friend", ErrAlreadyHelped, "%s has helped a bargain of activity %s", friend, a.ID)
			}
			if err != nil {
				return err
			}
		}
		var err error
		b, err = records.UpdateFx(ctx, s.store, kindBargain, cur.ID.String(), now, false, func(b *Bargain, _ bool, fx *records.Effects) error {
			switch {
			case b.Customer == friend:
				return commerce.Invalid(op, "friend", "the bargain's owner cannot help it")
			case b.State != BargainOpen || !now.Before(b.ExpiresAt):
				return refuse(op, commerce.KindFailedPrecondition, "token", ErrBargainClosed, "bargain %s is %s", b.ID, b.State)
			}
			for _, h := range b.Helps {
				if h.Friend == friend {
					return refuse(op, commerce.KindConflict, "friend", ErrAlreadyHelped, "%s has helped bargain %s", friend, b.ID)
				}
			}
			price, _ := b.Price.Minor()
			target, _ := b.Target.Minor()
			cut := commerce.FromMinor(Cut(price-target, b.Helpers-len(b.Helps)), b.Price.Currency())
			b.Price, _ = b.Price.Sub(cut)
			b.Helps = append(b.Helps, Help{Friend: friend, Cut: cut, At: now})
			if len(b.Helps) == b.Helpers {
				b.State = BargainReached
			}
			fx.Do(func() error {
				return s.emit(ctx, "bargain.helped", b.ID.String(), merchant, bargainEvent{BargainID: b.ID, Friend: friend, Cut: &cut, Price: b.Price})
			})
			if b.State == BargainReached {
				fx.Do(func() error {
					return s.emit(ctx, "bargain.reached", b.ID.String(), merchant, bargainEvent{BargainID: b.ID, Customer: b.Customer, Price: b.Price})
				})
				return nil
			}
			return nil
		})
		return err
	})
	if err != nil {
		return nil, commerce.Wrap(op, err)
	}
	return b, nil
}

// bargainChoice is a checkout's bargain input.
type bargainChoice struct{ bargain BargainID }

// Buy makes a checkout buy the bargain's SKU at the price it reached.
func Buy(bargain BargainID) commerce.Extension {
	return commerce.Extension{Key: extKey, Value: bargainChoice{bargain: bargain}}
}

// buyable checks that the quote's customer may buy the bargain now.
func (s *Service) buyable(op string, q *commerce.Quote, b *Bargain, a *BargainActivity, now time.Time) error {
	switch {
	case b.Customer != q.CustomerID:
		return commerce.Errorf(op, commerce.KindFailedPrecondition, "bargain %s is another customer's", b.ID)
	case b.State == BargainOpen && !a.BuyBeforeTarget:
		return refuse(op, commerce.KindFailedPrecondition, "extensions.campaigns", ErrBargainClosed, "bargain %s has not reached its target (%d of %d helps)", b.ID, len(b.Helps), b.Helpers)
	case b.State != BargainOpen && b.State != BargainReached || !now.Before(b.ExpiresAt):
		return refuse(op, commerce.KindFailedPrecondition, "extensions.campaigns", ErrBargainClosed, "bargain %s is %s", b.ID, b.State)
	case len(q.Lines) != 1 || q.Lines[0].SKU != b.SKU || q.Lines[0].Quantity != 1:
		return commerce.Invalid(op, "lines", "a bargain buys one unit of SKU %s", b.SKU)
	}
	return nil
}

func (s *Service) bargainAdjust(ctx context.Context, q *commerce.Quote, v bargainChoice) ([]commerce.Adjustment, error) {
	const op = "campaigns.bargain_price"
	b, err := s.Bargain(ctx, q.MerchantID, v.bargain)
	if err != nil {
		return nil, err
	}
	a, err := s.BargainActivity(ctx, q.MerchantID, b.ActivityID)
	if err != nil {
		return nil, err
	}
	if err := s.buyable(op, q, b, a, s.now()); err != nil {
		return nil, err
	}
	if err := noCoupons(op, q); err != nil {
		return nil, err
	}
	return lineDiscount(q, 0, b.Price, "campaigns", b.ID.String(), "bargain")
}

// bargainCheckout ties the order to the bargain: one live order per
// bargain.
func (s *Service) bargainCheckout(ctx context.Context, c *commerce.CheckoutContext, v bargainChoice) error {
	const op = "campaigns.bargain_checkout"
	if err := allowed(op, c.Quote, false, false); err != nil {
		return err
	}
	now := s.now()
	_, err := records.Update(ctx, s.store, kindBargain, v.bargain.String(), now, false, func(b *Bargain, _ bool) error {
		a, err := s.BargainActivity(ctx, b.MerchantID, b.ActivityID)
		if err != nil {
			return err
		}
		if err := s.buyable(op, c.Quote, b, a, now); err != nil {
			return err
		}
		if !b.Order.IsZero() {
			return commerce.Errorf(op, commerce.KindConflict, "bargain %s is being bought by order %s", b.ID, b.Order)
		}
		b.Order = c.Order.ID
		return nil
	})
	if err != nil {
		return commerce.Wrap(op, err)
	}
	markOrder(c.Order, "bargain")
	c.Order.Metadata[metaBargain] = v.bargain.String()
	return nil
}

const metaBargain = "campaign.bargain"

// bargainOrderChanged marks the bargain bought when its order is paid, and
// free to buy again when the order is cancelled unpaid.
func (s *Service) bargainOrderChanged(ctx context.Context, c commerce.OrderChange) error {
	const op = "campaigns.bargain_order"
	if c.Action != commerce.ActionPay && c.Action != commerce.ActionCancel {
		return nil
	}
	_, err := records.UpdateFx(ctx, s.store, kindBargain, c.Order.Metadata[metaBargain], s.now(), false, func(b *Bargain, _ bool, fx *records.Effects) error {
		if b.Order != c.Order.ID {
			return records.ErrKeep
		}
		if c.Action == commerce.ActionPay {
			b.State = BargainBought
			fx.Do(func() error {
				return s.emit(ctx, "bargain.bought", b.ID.String(), b.MerchantID, bargainEvent{BargainID: b.ID, Customer: b.Customer, Price: b.Price})
			})
			return nil
		}
		b.Order = commerce.OrderID{}
		return nil
	})
	return commerce.Wrap(op, err)
}

// runBargains expires the bargains past their time that were not bought.
// One with an order still waiting for payment waits for that order.
func (s *Service) runBargains(ctx context.Context, rep *DueReport) error {
	now := s.now()
	return records.Due(ctx, s.store, kindBargain, statusOpen, now, func(r storage.Record) error {
		expired := false
		_, err := records.UpdateFx(ctx, s.store, kindBargain, r.Key, now, false, func(b *Bargain, _ bool, fx *records.Effects) error {
			expired = false
			if b.State != BargainOpen && b.State != BargainReached || now.Before(b.ExpiresAt) {
				return records.ErrKeep
			}
			if !b.Order.IsZero() {
				b.Recheck = now.Add(time.Hour) // look again once the order is paid or cancelled
				return nil
			}
			b.State, expired = BargainExpired, true
			fx.Do(func() error {
				return s.emit(ctx, "bargain.expired", b.ID.String(), b.MerchantID, bargainEvent{BargainID: b.ID, Customer: b.Customer, Price: b.Price})
			})
			return nil
		})
		if expired {
			rep.BargainsExpired++
		}
		return commerce.Wrap("campaigns.run_due", err)
	})
}
