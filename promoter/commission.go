package promoter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/currency"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/storage"
)

// shareKey is the Extensions key of a checkout's share token.
const shareKey = "promoter.share"

// SceneCoupon marks a sale attributed through a promoter's coupon.
const SceneCoupon Scene = "coupon"

// Order metadata the checkout hook writes: who the sale is attributed to,
// through which scene, and the attributed lines with their rates
// ("0:120000,2:50000"). The agency is the promoter's when the order is
// paid.
const (
	metaPromoter = "promoter"
	metaScene    = "promoter.scene"
	metaLines    = "promoter.lines"
)

// NoCommission is the order metadata key that keeps an order out of
// commission: a checkout hook that runs before the promoter's (a group buy
// whose activity pays none, say) or the host sets it to any non-empty
// value, and the order is attributed to no promoter.
const NoCommission = "promoter.no_commission"

// Link attributes a quote or checkout (see commerce.With) to the share
// link the customer came through, by its token.
func Link(token string) commerce.Extension {
	return commerce.Extension{Key: shareKey, Value: token}
}

// CheckoutHook attributes the order to a promoter, inside the checkout
// transaction: the share token the checkout carries (the last link wins,
// per order), or else the promoter of a coupon the order redeemed through a
// promoter's link. With Config.LockWindow a customer stays with the first
// promoter for the window. A line is attributed when its product is in a
// plan that lets the promoter earn now and the link covers it (a product
// link covers its product, a shop or coupon link every line). A forged,
// altered, expired or other merchant's token fails the checkout. The
// promoter's agency is read when the order is paid; a link or coupon naming
// someone who is not a promoter here earns nothing.
func (s *Service) CheckoutHook() commerce.CheckoutHook {
	return commerce.CheckoutHookFunc(func(ctx context.Context, c *commerce.CheckoutContext) error {
		const op = "promoter.attribute"
		o := c.Order
		if o.Metadata[NoCommission] != "" {
			return nil
		}
		var promoterID PromoterID
		scene, kind := SceneCoupon, TargetShop
		var product commerce.ProductID
		if tok, _ := c.Quote.Extensions[shareKey].(string); tok != "" {
			sh, err := s.VerifyShare(o.MerchantID, tok)
			if err != nil {
				// Named as the checkout's input it came in, like the
				// other plugins' extensions.
				return &commerce.Error{Op: op, Kind: commerce.KindOf(err), Field: "extensions." + shareKey, Err: err}
			}
			promoterID, scene, kind, product = sh.PromoterID, sh.Scene, sh.Kind, sh.Product
		} else if v := o.Metadata[metaPromoter]; v != "" {
			id, err := commerce.ParseID[PromoterID](v)
			if err != nil {
				return nil // a host's own promoter reference, not ours
			}
			promoterID = id
		} else {
			return nil
		}
		now := s.now()
		if s.cfg.LockWindow > 0 {
			locked, err := s.store.LockCustomer(ctx, o.MerchantID, o.CustomerID, promoterID, now, now.Add(s.cfg.LockWindow))
			if err != nil {
				return commerce.Wrap(op, err)
			}
			if locked != promoterID {
				promoterID, scene, kind = locked, SceneCoupon, TargetShop
			}
		}
		products := make([]commerce.ProductID, 0, len(o.Lines))
		for _, l := range o.Lines {
			products = append(products, l.Product)
		}
		plans, err := s.store.Plans(ctx, o.MerchantID, products)
		if err != nil {
			return commerce.Wrap(op, err)
		}
		// The promoter's agency matters only to a plan targeted at
		// agencies that does not list the promoter: read it then, so the
		// common checkout through a link costs one read (the plans).
		var agency *AgencyID
		agencyOf := func() (AgencyID, error) {
			if agency == nil {
				p, err := s.store.GetPromoter(ctx, promoterID)
				if err != nil {
					return AgencyID{}, err
				}
				agency = &p.AgencyID
			}
			return *agency, nil
		}
		var b strings.Builder
		for i, l := range o.Lines {
			if kind == TargetProduct && l.Product != product {
				continue
			}
			for _, plan := range plans {
				if plan.ProductID != l.Product {
					continue
				}
				ok := plan.allows(promoterID, AgencyID{}, now)
				if !ok && plan.Kind == Targeted && len(plan.Agencies) > 0 && !plan.Withdrawn {
					a, err := agencyOf()
					if errors.Is(err, storage.ErrNotFound) {
						break
					}
					if err != nil {
						return commerce.Wrap(op, err)
					}
					ok = plan.allows(promoterID, a, now)
				}
				if ok {
					if b.Len() > 0 {
						b.WriteByte(',')
					}
					b.WriteString(strconv.Itoa(i))
					b.WriteByte(':')
					b.WriteString(strconv.FormatInt(plan.Rate.PPM(), 10)) // ppm: orders stored before Rate hold them so
				}
			}
		}
		if o.Metadata == nil {
			o.Metadata = map[string]string{}
		}
		if b.Len() == 0 {
			return nil // nothing the promoter may earn on
		}
		o.Metadata[metaPromoter], o.Metadata[metaScene], o.Metadata[metaLines] = promoterID.String(), string(scene), b.String()
		return nil
	})
}

// attribution reads what the checkout hook wrote: the line → rate map.
func attribution(o *commerce.Order) (PromoterID, Scene, map[int]commerce.Rate, bool) {
	lines := o.Metadata[metaLines]
	if lines == "" {
		return PromoterID{}, "", nil, false
	}
	pid, err := commerce.ParseID[PromoterID](o.Metadata[metaPromoter])
	if err != nil {
		return PromoterID{}, "", nil, false
	}
	rates := map[int]commerce.Rate{}
	for _, part := range strings.Split(lines, ",") {
		i, r, ok := strings.Cut(part, ":")
		line, err1 := strconv.Atoi(i)
		rate, err2 := strconv.ParseInt(r, 10, 64)
		if !ok || err1 != nil || err2 != nil || line < 0 || line >= len(o.Lines) {
			return PromoterID{}, "", nil, false
		}
		rates[line] = commerce.PPM(rate)
	}
	return pid, Scene(o.Metadata[metaScene]), rates, true
}

// attributed reports whether the checkout hook attributed o to a promoter:
// only such an order can have commissions (create makes them from the
// attribution), so the others' refunds and completion read none.
func attributed(o *commerce.Order) bool {
	_, _, _, ok := attribution(o)
	return ok
}

// share returns round_half_up(whole × num / den) in minor units (zero
// when den is zero: a line that paid nothing).
func share(whole commerce.Money, num, den int64) commerce.Money {
	if den == 0 {
		return commerce.Zero(whole.Currency())
	}
	return commerce.FromMinor(commerce.MulDivHalfUp(minor(whole), num, den), whole.Currency())
}

func minor(m commerce.Money) int64 { v, _ := m.Minor(); return v }

func sub(a, b commerce.Money) commerce.Money { d, _ := a.Sub(b); return d }

func add(a, b commerce.Money) commerce.Money { d, _ := a.Add(b); return d }

// OrderHook runs commission along the order, in the order's transactions:
// payment creates the pending commission of every attributed line;
// refunds take back the refunded share (cancelling a line's commission
// refunded in full before settlement, clawing back after it); completion
// (the after-sales window closed) settles it into the payment ledger.
func (s *Service) OrderHook() commerce.OrderHook {
	return commerce.OrderHookFunc(func(ctx context.Context, ch commerce.OrderChange) error {
		switch ch.Action {
		case commerce.ActionPay:
			return s.create(ctx, ch.Order)
		case commerce.ActionRefundOK:
			return s.reverse(ctx, ch.Order)
		case commerce.ActionComplete:
			return s.settle(ctx, ch.Order)
		}
		return nil
	})
}

// create records the pending commissions of a paid order.
func (s *Service) create(ctx context.Context, o *commerce.Order) error {
	pid, scene, rates, ok := attribution(o)
	if !ok {
		return nil
	}
	p, err := s.store.GetPromoter(ctx, pid)
	if errors.Is(err, storage.ErrNotFound) {
		return nil // a coupon naming someone who is not a promoter here
	}
	if err != nil {
		return err
	}
	aid := p.AgencyID // the agency the promoter is bound to when the order is paid
	var agency *Agency
	if !aid.IsZero() && scene != SceneOwnLive {
		a, err := s.store.GetAgency(ctx, aid)
		if err != nil {
			return err
		}
		agency = a
	}
	now := s.now()
	cs := make([]*Commission, 0, len(rates))
	for i, l := range o.Lines {
		rate, ok := rates[i]
		if !ok {
			continue
		}
		amount := rate.Of(l.Payable)
		zero := commerce.Zero(o.Currency)
		c := &Commission{ID: commerce.IDFrom[commissionTag](s.ids.NewUUID()), MerchantID: o.MerchantID, OrderID: o.ID, Line: i,
			ProductID: l.Product, Customer: o.CustomerID, PromoterID: pid, Scene: scene, Rate: rate, Base: l.Payable,
			Amount: amount, AgencyPart: zero, PromoterPart: amount, Reversed: zero, ReversedAgency: zero, Clawed: zero, ClawedAgency: zero,
			Status: Pending, Created: now, Version: 1}
		if agency != nil {
			c.AgencyID = agency.ID
			if agency.PaysItself {
				c.AgencyPays, c.AgencyPart, c.PromoterPart = true, amount, zero
			} else {
				pshare := agency.PromoterShare
				if v, ok := agency.Overrides[l.Product]; ok {
					pshare = v
				}
				c.PromoterPart = pshare.Of(amount)
				c.AgencyPart = sub(amount, c.PromoterPart)
			}
		}
		cs = append(cs, c)
	}
	if err := s.store.InsertCommissions(ctx, cs); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return nil // created before: the payment was applied twice
		}
		return err
	}
	total := commerce.Zero(o.Currency)
	for _, c := range cs {
		total = add(total, c.Amount)
	}
	ev1, err := s.event(o.MerchantID, "attributed", o.ID.String(), map[string]any{"order_id": o.ID, "promoter": pid, "agency": aid, "scene": scene, "lines": len(cs)})
	if err != nil {
		return err
	}
	ev2, err := s.event(o.MerchantID, "commission_pending", o.ID.String(), map[string]any{"order_id": o.ID, "promoter": pid, "amount": total})
	if err != nil {
		return err
	}
	return s.store.AppendEvents(ctx, ev1, ev2)
}

// reverse takes back, after a refund succeeded, each attributed line's
// share of what refunds returned of it so far: round_half_up(Amount ×
// refunded / paid) cumulatively, everything once the line is refunded in
// full, so partial refunds never drift. Before settlement that reduces the
// commission (and a line refunded in full cancels it); after settlement it
// is a clawback, recorded against the party in the ledger.
func (s *Service) reverse(ctx context.Context, o *commerce.Order) error {
	if !attributed(o) {
		return nil
	}
	cs, err := s.store.OrderCommissions(ctx, o.MerchantID, o.ID)
	if err != nil || len(cs) == 0 {
		return err
	}
	refunded := make([]commerce.Money, len(o.Lines))
	units := make([]int64, len(o.Lines))
	for i := range refunded {
		refunded[i] = commerce.Zero(o.Currency)
	}
	for _, r := range o.Refunds {
		if r.Status != commerce.RefundSucceeded {
			continue
		}
		for _, rl := range r.Lines {
			refunded[rl.Line] = add(refunded[rl.Line], rl.Amount)
			units[rl.Line] += rl.Quantity
		}
	}
	for _, c := range cs {
		l := o.Lines[c.Line]
		full := units[c.Line] >= l.Quantity
		target, targetAgency := c.Amount, c.AgencyPart
		if !full {
			paid := minor(l.Payable)
			target = share(c.Amount, minor(refunded[c.Line]), paid)
			targetAgency = share(c.AgencyPart, minor(refunded[c.Line]), paid)
		}
		if _, _, ok := c.reversal(target, targetAgency, full); !ok {
			continue // nothing more to take back: no write
		}
		var changed *Commission
		err := s.store.UpdateCommission(ctx, c.MerchantID, c.ID, func(c *Commission) error {
			delta, deltaAgency, ok := c.reversal(target, targetAgency, full)
			if !ok {
				return nil
			}
			switch c.Status {
			case Pending:
				c.Reversed, c.ReversedAgency = add(c.Reversed, delta), add(c.ReversedAgency, deltaAgency)
				if full {
					c.Status, c.CancelledAt = Cancelled, s.now()
				}
			case Settled:
				c.Clawed, c.ClawedAgency = add(c.Clawed, delta), add(c.ClawedAgency, deltaAgency)
				if err := s.record(ctx, c, deltaAgency.Neg(), sub(delta, deltaAgency).Neg(), "clawback"); err != nil {
					return err
				}
				if err := s.returnShared(ctx, c, delta, deltaAgency); err != nil {
					return err
				}
			default:
				return nil
			}
			changed = c.Clone()
			return nil
		})
		if err != nil {
			return err
		}
		if changed == nil {
			continue
		}
		typ := "commission_reduced"
		switch {
		case changed.Status == Cancelled:
			typ = "commission_cancelled"
		case changed.Status == Settled:
			typ = "commission_clawed_back"
		}
		if err := s.emit(ctx, o.MerchantID, typ, changed.ID.String(), map[string]any{"order_id": o.ID, "line": changed.Line,
			"promoter": changed.PromoterID, "net": changed.Net()}); err != nil {
			return err
		}
	}
	return nil
}

// reversal is what c still has to give back to reach target (and
// targetAgency of the agency's part), and whether there is anything to do:
// an amount, or a pending commission whose line is refunded in full (it is
// cancelled even when it earned nothing). Refunds never give back what an
// earlier one took.
func (c *Commission) reversal(target, targetAgency commerce.Money, full bool) (delta, deltaAgency commerce.Money, ok bool) {
	delta = sub(target, add(c.Reversed, c.Clawed))
	deltaAgency = sub(targetAgency, add(c.ReversedAgency, c.ClawedAgency))
	switch {
	case delta.IsNegative() || deltaAgency.IsNegative():
		return delta, deltaAgency, false
	case c.Status == Pending:
		return delta, deltaAgency, full || !delta.IsZero() || !deltaAgency.IsZero()
	case c.Status == Settled:
		return delta, deltaAgency, !delta.IsZero() || !deltaAgency.IsZero()
	}
	return delta, deltaAgency, false
}

// settle makes an order's pending commissions final and payable.
func (s *Service) settle(ctx context.Context, o *commerce.Order) error {
	if !attributed(o) {
		return nil
	}
	cs, err := s.store.OrderCommissions(ctx, o.MerchantID, o.ID)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c.Status != Pending {
			continue
		}
		var settled *Commission
		err := s.store.UpdateCommission(ctx, c.MerchantID, c.ID, func(c *Commission) error {
			if c.Status != Pending {
				return nil
			}
			c.Status, c.SettledAt = Settled, s.now()
			agency := sub(c.AgencyPart, c.ReversedAgency)
			promoter := sub(sub(c.Amount, c.Reversed), agency)
			if err := s.record(ctx, c, agency, promoter, "commission"); err != nil {
				return err
			}
			settled = c.Clone()
			return nil
		})
		if err != nil {
			return err
		}
		if settled != nil {
			if err := s.share(ctx, settled); err != nil {
				return err
			}
			if err := s.notePayable(ctx, settled); err != nil {
				return err
			}
			if err := s.emit(ctx, o.MerchantID, "commission_settled", settled.ID.String(), map[string]any{"order_id": o.ID,
				"line": settled.Line, "promoter": settled.PromoterID, "agency": settled.AgencyID, "net": settled.Net()}); err != nil {
				return err
			}
		}
	}
	return nil
}

// record writes a commission movement to the payment ledger.
func (s *Service) record(ctx context.Context, c *Commission, agency, promoter commerce.Money, what string) error {
	if s.cfg.Ledger == nil {
		return nil
	}
	// The commission names its promoter and agency; the ledger's ref
	// names the commission (and fits its 64 characters).
	ref := what + ":" + c.ID.String()
	if !agency.IsZero() {
		if err := s.cfg.Ledger.RecordCommission(ctx, c.MerchantID, c.OrderID, ref, payment.PartyAgency, agency); err != nil {
			return err
		}
	}
	if !promoter.IsZero() {
		return s.cfg.Ledger.RecordCommission(ctx, c.MerchantID, c.OrderID, ref, payment.PartyPromoter, promoter)
	}
	return nil
}

// Statement is one promoter's or agency's account for a period: the
// commission of the orders attributed in it, by status, as their part.
type Statement struct {
	PromoterID PromoterID
	AgencyID   AgencyID
	// MerchantID is set on a statement of one merchant's orders
	// (MerchantStatement); zero when it spans every merchant.
	MerchantID commerce.MerchantID
	From, To   time.Time
	// Orders counts the attributed orders.
	Orders int
	// Pending waits for its orders to settle (less what refunds took
	// back); Settled is payable (before clawbacks); Cancelled is what
	// refunds took back before settlement, in part or in full.
	Pending, Settled, Cancelled commerce.Money
	// Clawbacks are taken back from settled commission by later refunds,
	// owed from the next payout; Payout is Settled - Clawbacks.
	Clawbacks, Payout commerce.Money
}

// PromoterStatement is a promoter's statement for [from, to).
func (s *Service) PromoterStatement(ctx context.Context, promoter PromoterID, cur currency.Unit, from, to time.Time) (*Statement, error) {
	st := newStatement(cur, from, to)
	st.PromoterID = promoter
	err := s.statement(ctx, st, CommissionQuery{Promoter: promoter, From: from, To: to}, func(c *Commission) (part, reversed, clawed commerce.Money) {
		return sub(c.Amount, c.AgencyPart), sub(c.Reversed, c.ReversedAgency), sub(c.Clawed, c.ClawedAgency)
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// MerchantStatement is a promoter's statement for [from, to) counting
// only the orders of merchant: what that merchant's console may show of a
// promoter who also sells for other shops.
func (s *Service) MerchantStatement(ctx context.Context, merchant commerce.MerchantID, promoter PromoterID, cur currency.Unit, from, to time.Time) (*Statement, error) {
	if err := commerce.CheckID("promoter.merchant_statement", "merchant", merchant); err != nil {
		return nil, err
	}
	st := newStatement(cur, from, to)
	st.PromoterID, st.MerchantID = promoter, merchant
	err := s.statement(ctx, st, CommissionQuery{Promoter: promoter, From: from, To: to}, func(c *Commission) (part, reversed, clawed commerce.Money) {
		return sub(c.Amount, c.AgencyPart), sub(c.Reversed, c.ReversedAgency), sub(c.Clawed, c.ClawedAgency)
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// AgencyStatement is an agency's statement for [from, to).
func (s *Service) AgencyStatement(ctx context.Context, agency AgencyID, cur currency.Unit, from, to time.Time) (*Statement, error) {
	st := newStatement(cur, from, to)
	st.AgencyID = agency
	err := s.statement(ctx, st, CommissionQuery{Agency: agency, From: from, To: to}, func(c *Commission) (part, reversed, clawed commerce.Money) {
		return c.AgencyPart, c.ReversedAgency, c.ClawedAgency
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// statementPage is how many commissions a statement reads at a time: a
// busy promoter's month is summed without holding it all in memory.
const statementPage = 1000

// statement sums the commissions q selects into st, a page at a time.
// Pages follow the store's (created, ID) order, so each commission is
// counted once even while new ones are written.
func (s *Service) statement(ctx context.Context, st *Statement, q CommissionQuery, part func(*Commission) (commerce.Money, commerce.Money, commerce.Money)) error {
	const op = "promoter.statement"
	if err := checkCommissionQuery(op, q); err != nil {
		return err
	}
	q.Limit = statementPage
	orders := map[commerce.OrderID]bool{}
	for {
		cs, err := s.store.Commissions(ctx, q)
		if err != nil {
			return commerce.Wrap(op, err)
		}
		st.add(cs, orders, part)
		if len(cs) < q.Limit {
			break
		}
		q.After = cs[len(cs)-1].ID
	}
	st.Orders = len(orders)
	st.Payout = sub(st.Settled, st.Clawbacks)
	return nil
}

// checkCommissionQuery validates what a commission listing selects.
func checkCommissionQuery(op string, q CommissionQuery) error {
	switch {
	case q.Promoter.IsZero() == q.Agency.IsZero():
		return commerce.Invalid(op, "promoter", "want a promoter or an agency, not both or neither")
	case !q.To.After(q.From):
		return commerce.Invalid(op, "to", "%s is not after from %s", q.To.Format(time.RFC3339Nano), q.From.Format(time.RFC3339Nano))
	case q.Limit < 0 || q.Limit > maxCommissionPage:
		return commerce.Invalid(op, "limit", "%d: a page holds 1 to %d commissions (0 for %d)", q.Limit, maxCommissionPage, commerce.PageLimit(0))
	}
	return nil
}

// maxCommissionPage is the largest page Commissions returns, the stores'
// cap (commerce.PageLimit).
const maxCommissionPage = 1000

// CommissionPage is one page of a commission listing.
type CommissionPage struct {
	Commissions []*Commission
	// Next is the After of the next page; zero when this page is the last.
	Next CommissionID
}

// Commissions pages through a promoter's or an agency's commissions
// created in [q.From, q.To), oldest first then by ID, every merchant's:
// pass a page's Next as the next query's After. Paging returns each
// commission once, in a stable order, while new ones are written. A full
// page may be followed by an empty one.
func (s *Service) Commissions(ctx context.Context, q CommissionQuery) (*CommissionPage, error) {
	const op = "promoter.commissions"
	if err := checkCommissionQuery(op, q); err != nil {
		return nil, err
	}
	limit := commerce.PageLimit(q.Limit)
	q.Limit = limit
	cs, err := s.store.Commissions(ctx, q)
	switch {
	case errors.Is(err, storage.ErrNotFound) && !q.After.IsZero():
		// The cursor names no commission: a bad request, not a missing
		// record the caller asked for.
		return nil, &commerce.Error{Op: op, Kind: commerce.KindInvalid, Field: "after", Err: fmt.Errorf("no commission %s to page after", q.After)}
	case err != nil:
		return nil, commerce.Wrap(op, err)
	}
	page := &CommissionPage{Commissions: cs}
	if len(cs) == limit {
		page.Next = cs[len(cs)-1].ID
	}
	if page.Commissions == nil {
		page.Commissions = []*Commission{}
	}
	return page, nil
}

// OrderCommissions returns an order's commissions, by line: empty when the
// order earned none (or is not the merchant's).
func (s *Service) OrderCommissions(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID) ([]*Commission, error) {
	const op = "promoter.order_commissions"
	if err := commerce.CheckID(op, "merchant_id", merchant); err != nil {
		return nil, err
	}
	cs, err := s.store.OrderCommissions(ctx, merchant, order)
	if err != nil {
		return nil, commerce.Wrap(op, err)
	}
	if cs == nil {
		cs = []*Commission{}
	}
	return cs, nil
}

func newStatement(cur currency.Unit, from, to time.Time) *Statement {
	z := commerce.Zero(cur)
	return &Statement{From: from, To: to, Pending: z, Settled: z, Cancelled: z, Clawbacks: z, Payout: z}
}

func (st *Statement) add(cs []*Commission, orders map[commerce.OrderID]bool, part func(*Commission) (commerce.Money, commerce.Money, commerce.Money)) {
	for _, c := range cs {
		if c.Amount.Currency() != st.Pending.Currency() || (!st.MerchantID.IsZero() && c.MerchantID != st.MerchantID) {
			continue
		}
		orders[c.OrderID] = true
		whole, reversed, clawed := part(c)
		switch c.Status {
		case Pending:
			// A partial refund before settlement took reversed back: it
			// is cancelled now, whatever becomes of the rest.
			st.Pending = add(st.Pending, sub(whole, reversed))
			st.Cancelled = add(st.Cancelled, reversed)
		case Settled:
			st.Settled = add(st.Settled, sub(whole, reversed))
			st.Cancelled = add(st.Cancelled, reversed)
			st.Clawbacks = add(st.Clawbacks, clawed)
		case Cancelled:
			st.Cancelled = add(st.Cancelled, whole)
		}
	}
}
