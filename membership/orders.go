package membership

import (
	"context"
	"errors"
	"slices"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/internal/jsonenc"
)

// OrderHook follows the member's orders: on payment it joins the customer
// (when the program auto-joins), credits experience (upgrading the tier in
// the same transaction) and credits the order's points as pending; when
// the order settles (completed: received and the after-sales window closed)
// the pending points become available; a refund returns spent points pro
// rata to the lots they came from and takes back earned points pro rata
// (pending ones are cancelled; spent ones become a debt); cancelling an
// unpaid order returns all its points. Gift orders credit the giver (the
// order's customer), not the recipient.
func (s *Service) OrderHook() commerce.OrderHook {
	return commerce.OrderHookFunc(func(ctx context.Context, ch commerce.OrderChange) error {
		const op = "membership.order"
		o := ch.Order
		var err error
		switch {
		case ch.Action == commerce.ActionPay:
			err = s.paid(ctx, o)
		case ch.Action == commerce.ActionComplete:
			err = s.settled(ctx, o)
		case ch.Action == commerce.ActionCancel && o.PaidAt.IsZero():
			err = s.returnSpent(ctx, o)
		case ch.Action == commerce.ActionRefundOK:
			err = s.refunded(ctx, o, ch.Refund)
		}
		if errors.Is(err, errSkip) {
			return nil
		}
		return wrap(op, err)
	})
}

var errSkip = errors.New("not a member")

// program returns the order merchant's program, or errSkip without one.
func (s *Service) programOf(ctx context.Context, merchant commerce.MerchantID) (*Program, error) {
	p, err := s.store.GetProgram(ctx, merchant)
	if commerce.KindOf(err) == commerce.KindNotFound {
		return nil, errSkip
	}
	return p, err
}

// itemsPaid is what the order's lines cost after every discount: the
// amount paid without freight.
func itemsPaid(o *commerce.Order) int64 {
	var t int64
	for _, l := range o.Lines {
		// Payable is after every deduction, points included: points paid
		// earn nothing.
		v, _ := l.Payable.Minor()
		t += v
	}
	return t
}

func (s *Service) upgrade(ctx context.Context, p *Program, m *Member) error {
	level := p.LevelFor(m.Experience)
	if level <= m.Level {
		return nil
	}
	from := m.Level
	m.Level = level
	return s.announce(ctx, p, m, from)
}

// announce tells of m's move up from level from: TierChanged (the welcome
// gift) and "member.tier_changed".
func (s *Service) announce(ctx context.Context, p *Program, m *Member, from int) error {
	level := m.Level
	t := p.Tier(level)
	if s.cfg.TierChanged != nil {
		if err := s.cfg.TierChanged(ctx, m, t); err != nil {
			return err
		}
	}
	var ev jsonenc.Object
	ev.Int("from", int64(from))
	ev.Int("to", int64(level))
	ev.String("tier", t.Name)
	ev.String("welcome_gift", t.WelcomeGift)
	return s.emit(ctx, m.MerchantID, "member.tier_changed", m.Customer, &ev)
}

func (s *Service) paid(ctx context.Context, o *commerce.Order) error {
	// The program and the card in one read; a customer already a member
	// (most payments) needs nothing more to join.
	p, seen, _, err := s.store.ProgramAndMember(ctx, o.MerchantID, o.CustomerID, false)
	if commerce.KindOf(err) == commerce.KindNotFound {
		return errSkip
	}
	if err != nil {
		return err
	}
	if p.AutoJoin && seen == nil {
		if _, err := s.join(ctx, o.MerchantID, o.CustomerID); err != nil {
			return err
		}
	}
	paid := itemsPaid(o)
	// earn applies the payment to m: experience, a tier reached, pending
	// points; it returns the points and the level m had.
	earn := func(m *Member) (int64, int) {
		from := m.Level
		m.Experience += p.Experience.pointsFor(paid, o.Currency)
		m.Level = max(m.Level, p.LevelFor(m.Experience))
		pts := p.Earn.pointsFor(paid, o.Currency) + p.PerOrder
		if mult := p.Tier(m.Level).EarnMultiplier; mult.PPM() > 0 {
			pts = mult.OfMinorDown(pts)
		}
		if p.CapPerOrder > 0 {
			pts = min(pts, p.CapPerOrder)
		}
		if pts <= 0 {
			return 0, from
		}
		m.Pending += pts
		return pts, from
	}
	// record tells of a tier reached and records the pending points in a
	// lot and the ledger, m written or locked.
	record := func(m *Member, pts int64, from int) error {
		if m.Level > from {
			before := *m // as the tier was reached: before the points
			before.Pending -= pts
			if err := s.announce(ctx, p, &before, from); err != nil {
				return err
			}
		}
		if pts == 0 {
			return nil
		}
		lot := &Lot{ID: commerce.IDFrom[lotTag](s.ids.NewUUID()), MerchantID: o.MerchantID, Customer: o.CustomerID, OrderID: o.ID,
			Points: pts, Left: pts, Pending: true, Created: s.now()}
		if err := s.store.InsertLot(ctx, lot); err != nil {
			return err
		}
		if err := s.entry(ctx, m, &Entry{Kind: Earn, PendingPoints: pts, OrderID: o.ID, RequestID: "earn:" + o.ID.String(),
			Burns: []Burn{{Lot: lot.ID, Points: pts}}}); err != nil {
			return err
		}
		return s.emitPoints(ctx, m, "points.earned", o.ID, pts, true)
	}
	if seen != nil {
		var pts int64
		var from int
		m, saved, err := s.saveSeen(ctx, seen, func(m *Member) { pts, from = earn(m) })
		if err != nil {
			return err
		}
		if saved {
			return record(m, pts, from)
		}
	}
	err = s.withMember(ctx, o.MerchantID, o.CustomerID, func(m *Member) error {
		pts, from := earn(m)
		return record(m, pts, from)
	})
	if errors.Is(err, ErrNotMember) {
		return errSkip
	}
	return err
}

func (s *Service) settled(ctx context.Context, o *commerce.Order) error {
	p, seen, _, err := s.store.ProgramAndMember(ctx, o.MerchantID, o.CustomerID, false)
	if commerce.KindOf(err) == commerce.KindNotFound || err == nil && seen == nil {
		return errSkip
	}
	if err != nil {
		return err
	}
	lots, err := s.store.OrderLots(ctx, o.MerchantID, o.ID)
	if err != nil {
		return err
	}
	// A release of a lot's pending points, and the balance after it.
	type release struct {
		lot            *Lot
		got, available int64
	}
	// settle applies the completion to m: experience, a tier reached, the
	// order's pending lots made available (repaying debt first).
	var atTier Member // the member as the tier was reached: before the releases
	settle := func(m *Member) (int, []release) {
		from := m.Level
		m.Experience += p.ExpPerOrder
		m.Level = max(m.Level, p.LevelFor(m.Experience))
		atTier = *m
		now := s.now()
		var out []release
		for _, l := range lots {
			if !l.Pending {
				continue
			}
			l.Pending, l.ExpiresAt = false, p.expiresAt(now)
			m.Pending -= l.Left
			got := s.credit(m, l.Left)
			out = append(out, release{l, got, m.Available})
		}
		return from, out
	}
	// record tells of a tier reached and records each release, m written
	// or locked.
	record := func(m *Member, from int, rs []release) error {
		if m.Level > from {
			if err := s.announce(ctx, p, &atTier, from); err != nil {
				return err
			}
		}
		for _, r := range rs {
			if err := s.store.SaveLots(ctx, r.lot); err != nil {
				return err
			}
			at := *m // the balance as this release left it
			at.Available = r.available
			if err := s.entry(ctx, &at, &Entry{Kind: Release, Points: r.got, PendingPoints: -r.lot.Left, OrderID: o.ID,
				Burns: []Burn{{Lot: r.lot.ID, Points: r.lot.Left}}}); err != nil {
				return err
			}
			if err := s.emitPoints(ctx, m, "points.released", o.ID, r.lot.Left, false); err != nil {
				return err
			}
		}
		return nil
	}
	var from int
	var rs []release
	m, saved, err := s.saveSeen(ctx, seen, func(m *Member) { from, rs = settle(m) })
	if err != nil {
		return err
	}
	if saved {
		return record(m, from, rs)
	}
	if lots, err = s.store.OrderLots(ctx, o.MerchantID, o.ID); err != nil { // settle changed the copies read
		return err
	}
	return s.underLock(ctx, o, func(m *Member) error {
		from, rs := settle(m)
		return record(m, from, rs)
	})
}

// returnSpent gives back the share of the order's spent points that its
// refunds (or its cancellation) reached, to the lots they came from,
// cumulatively: after any number of refunds the points returned are the
// points spent × the refunded share of the points deduction, rounded, and a
// full refund returns exactly what was spent.
func (s *Service) returnSpent(ctx context.Context, o *commerce.Order) error {
	n, k := spentPoints(o)
	if n == 0 {
		return nil
	}
	p, entries, lots, err := s.ledgerOf(ctx, o)
	if err != nil {
		return err
	}
	apply := s.giveBack(p, o, n, k, entries, lots)
	if apply == nil {
		return nil
	}
	return s.underLock(ctx, o, func(m *Member) error {
		var w pointWrites
		if err := apply(ctx, m, &w); err != nil {
			return err
		}
		return s.flush(ctx, &w)
	})
}

// refunded returns the spent points and takes back the earned points a
// succeeded refund reaches, reading the program, the order's ledger and
// its lots once and changing the member under one lock, its lots in one
// write and its entries in another.
func (s *Service) refunded(ctx context.Context, o *commerce.Order, r *commerce.Refund) error {
	p, entries, lots, err := s.ledgerOf(ctx, o)
	if err != nil {
		return err
	}
	var back change
	if n, k := spentPoints(o); n > 0 {
		back = s.giveBack(p, o, n, k, entries, lots)
	}
	claw := s.clawBack(p, o, r, entries, lots)
	if back == nil && claw == nil {
		return nil
	}
	return s.underLock(ctx, o, func(m *Member) error {
		var w pointWrites
		for _, c := range []change{back, claw} {
			if c == nil {
				continue
			}
			if err := c(ctx, m, &w); err != nil {
				return err
			}
		}
		return s.flush(ctx, &w)
	})
}

// A change applies a plan to the locked member, gathering its writes.
type change func(ctx context.Context, m *Member, w *pointWrites) error

// pointWrites gathers the lot saves and ledger entries of one change under
// the member's lock, so each goes in one statement when it ends.
type pointWrites struct {
	lots    []*Lot
	entries []*Entry
}

// entry stamps e with m as it is now (see Service.entry) and keeps it.
func (w *pointWrites) entry(s *Service, m *Member, e *Entry) {
	s.stamp(m, e)
	w.entries = append(w.entries, e)
}

// flush writes what w gathered.
func (s *Service) flush(ctx context.Context, w *pointWrites) error {
	if err := s.store.SaveLots(ctx, w.lots...); err != nil {
		return err
	}
	return s.store.AppendEntry(ctx, w.entries...)
}

// ledgerOf returns the program of o's merchant (errSkip when none), o's
// ledger entries, and in one read the lots o earned and those its spend
// burnt.
func (s *Service) ledgerOf(ctx context.Context, o *commerce.Order) (*Program, []*Entry, []*Lot, error) {
	p, err := s.programOf(ctx, o.MerchantID)
	if err != nil {
		return nil, nil, nil, err
	}
	entries, err := s.store.OrderEntries(ctx, o.MerchantID, o.ID)
	if err != nil {
		return nil, nil, nil, err
	}
	var burnt []LotID
	for _, e := range entries {
		if e.Kind == Spend {
			for _, b := range e.Burns {
				burnt = append(burnt, b.Lot)
			}
		}
	}
	lots, err := s.store.OrderLots(ctx, o.MerchantID, o.ID, burnt...)
	return p, entries, lots, err
}

// underLock runs apply on the order's customer's card under its lock; a
// customer who is no member is skipped.
func (s *Service) underLock(ctx context.Context, o *commerce.Order, apply func(*Member) error) error {
	err := s.withMember(ctx, o.MerchantID, o.CustomerID, apply)
	if errors.Is(err, ErrNotMember) {
		return errSkip
	}
	return err
}

// giveBack plans the return of the points order o spent (the k-th
// adjustment, n points) that its refunds reach and that entries do not
// show returned yet, to the lots they came from (among lots): what it
// returns applies the plan to the locked member, or is nil when nothing
// is due.
func (s *Service) giveBack(p *Program, o *commerce.Order, n int64, k int, entries []*Entry, lots []*Lot) change {
	target := n // cancelled before payment: everything
	if !o.PaidAt.IsZero() {
		var refunded, whole int64
		for _, l := range o.Lines {
			r, _ := l.RefundedAdjustments[k].Minor()
			a, _ := l.Adjustments[k].Minor()
			refunded += r
			whole += a
		}
		for _, r := range o.Refunds {
			if r.Status == commerce.RefundPending {
				// Pending refunds count in RefundedAdjustments; only
				// succeeded ones return points.
				for _, rl := range r.Lines {
					v, _ := rl.Adjustments[k].Minor()
					refunded -= v
				}
			}
		}
		if whole == 0 {
			return nil
		}
		target = (n*refunded + whole/2) / whole
	}
	var spend *Entry
	returned := map[LotID]int64{}
	var done int64
	for _, e := range entries {
		switch e.Kind {
		case Spend:
			spend = e
		case RefundReturn:
			for _, b := range e.Burns {
				returned[b.Lot] += b.Points
				done += b.Points
			}
		}
	}
	delta := target - done
	if spend == nil || delta <= 0 {
		return nil
	}
	byID := map[LotID]*Lot{}
	for _, l := range lots {
		byID[l.ID] = l
	}
	return func(ctx context.Context, m *Member, w *pointWrites) error {
		now := s.now()
		var burns []Burn
		var changed []*Lot
		var credited int64
		// Latest-burnt lot first: the points that went last come back first.
		for i := len(spend.Burns) - 1; i >= 0 && delta > 0; i-- {
			b := spend.Burns[i]
			back := min(b.Points-returned[b.Lot], delta)
			l := byID[b.Lot]
			if back <= 0 || l == nil {
				continue
			}
			delta -= back
			burns = append(burns, Burn{Lot: l.ID, Points: back})
			if l.Expired {
				if p.ExpiredLotDays == 0 {
					continue // the lot expired meanwhile: its points stay expired
				}
				l.Expired, l.ExpiresAt = false, now.AddDate(0, 0, p.ExpiredLotDays)
			}
			l.Left += back
			credited += back
			changed = append(changed, l)
		}
		if len(burns) == 0 {
			return nil
		}
		w.lots = append(w.lots, changed...)
		got := s.credit(m, credited)
		w.entry(s, m, &Entry{Kind: RefundReturn, Points: got, OrderID: o.ID, Burns: burns})
		return s.emitPoints(ctx, m, "points.returned", o.ID, credited, false)
	}
}

// saveSeen applies change to a copy of seen, the card as this transaction
// read it with the program, without a lock, and writes it with one write
// guarded by its version (see spendSeen): false, nothing written, when the
// member changed meanwhile and the caller must take the locked path.
func (s *Service) saveSeen(ctx context.Context, seen *Member, change func(*Member)) (*Member, bool, error) {
	m := *seen
	m.Updated = s.now()
	change(&m)
	saved, err := s.store.SaveMember(ctx, &m)
	return &m, saved, err
}

// clawBack takes back the share of the order's earned points its refunds
// reached, cumulatively like returnSpent: pending points are cancelled;
// available ones are taken from the lot, and what was already spent becomes
// a debt repaid by future earnings. Experience goes back pro rata too.
func (s *Service) clawBack(p *Program, o *commerce.Order, r *commerce.Refund, entries []*Entry, lots []*Lot) change {
	lots = slices.DeleteFunc(slices.Clone(lots), func(l *Lot) bool { return l.OrderID != o.ID }) // the ones o earned
	var earned int64
	for _, l := range lots {
		earned += l.Points
	}
	var refunded, whole int64
	for _, l := range o.Lines {
		v, _ := l.Payable.Minor()
		whole += v
	}
	for _, rf := range o.Refunds {
		if rf.Status == commerce.RefundSucceeded {
			for _, rl := range rf.Lines {
				v, _ := rl.Amount.Minor()
				refunded += v
			}
		}
	}
	if whole == 0 {
		return nil
	}
	target := (earned*refunded + whole/2) / whole
	var done int64
	for _, e := range entries {
		if e.Kind == ClawbackKind || e.Kind == Cancel {
			for _, b := range e.Burns {
				done += b.Points
			}
		}
	}
	delta := target - done
	var expBack int64
	if r != nil {
		var refunded int64
		for _, rl := range r.Lines {
			v, _ := rl.Amount.Minor()
			refunded += v
		}
		expBack = p.Experience.pointsFor(refunded, o.Currency)
	}
	if delta <= 0 && expBack == 0 {
		return nil // nothing to take back
	}
	return func(ctx context.Context, m *Member, w *pointWrites) error {
		m.Experience = max(0, m.Experience-expBack)
		for _, l := range lots {
			if delta <= 0 {
				break
			}
			take := min(delta, l.Points-clawed(entries, l.ID))
			if take <= 0 {
				continue
			}
			delta -= take
			e := &Entry{OrderID: o.ID, Burns: []Burn{{Lot: l.ID, Points: take}}}
			if l.Pending {
				l.Left -= take
				m.Pending -= take
				e.Kind, e.PendingPoints = Cancel, -take
			} else {
				fromLot := min(take, l.Left)
				l.Left -= fromLot
				m.Available -= fromLot
				m.Debt += take - fromLot // spent already: repaid by future earnings
				e.Kind, e.Points = ClawbackKind, -fromLot
				if take > fromLot {
					e.Note = "debt"
				}
			}
			w.lots = append(w.lots, l)
			w.entry(s, m, e)
			if err := s.emitPoints(ctx, m, "points.clawed_back", o.ID, take, false); err != nil {
				return err
			}
		}
		return nil
	}
}

func clawed(entries []*Entry, lot LotID) int64 {
	var n int64
	for _, e := range entries {
		if e.Kind == ClawbackKind || e.Kind == Cancel {
			for _, b := range e.Burns {
				if b.Lot == lot {
					n += b.Points
				}
			}
		}
	}
	return n
}
