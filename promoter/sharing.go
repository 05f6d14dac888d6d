package promoter

import (
	"context"
	"fmt"
	"strings"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/payment"
)

// CommissionSharer is what a Ledger implements when it can pay settled
// commission by profit sharing on the order's payment (the payment
// service: a merchant with a payment.SharingPlan). ShareCommission reports
// false when the order's payment is not shared; the commission is then
// left for payouts by transfer.
type CommissionSharer interface {
	ShareCommission(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID, lines []payment.ShareLine) (bool, error)
	// ReturnShare asks for amount of a shared commission part back after
	// a refund; false when the channel cannot take it back (a person's
	// share): the clawback then stays a debt.
	ReturnShare(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID, source string, amount commerce.Money) (bool, error)
}

// returnShared asks for the clawed-back parts of a commission paid by
// profit sharing back from their receivers, where the channel can take
// them back (a business's); the rest stays a debt.
func (s *Service) returnShared(ctx context.Context, c *Commission, delta, deltaAgency commerce.Money) error {
	sharer, ok := s.cfg.Ledger.(CommissionSharer)
	if !ok {
		return nil
	}
	for _, part := range []struct {
		agency bool
		amount commerce.Money
	}{{true, deltaAgency}, {false, sub(delta, deltaAgency)}} {
		if !part.amount.IsPositive() {
			continue
		}
		if _, err := sharer.ReturnShare(ctx, c.MerchantID, c.OrderID, shareSource(c.ID, part.agency), part.amount); err != nil {
			return err
		}
	}
	return nil
}

// shareBill marks a commission part claimed by a sharing order (in
// PayoutShare.Bill): no payout claims it while the order runs.
const shareBill = "profit-sharing"

// shareSource is a commission part's Source on a sharing line.
func shareSource(id CommissionID, agency bool) string {
	if agency {
		return "commission:" + id.String() + ":agency"
	}
	return "commission:" + id.String() + ":promoter"
}

// share puts a just-settled commission's parts on the order's sharing
// order, when its payment is shared, and marks them claimed; in the
// settling transaction, so a share that the channel would refuse (no
// payee it can pay, over the sharable amount) fails the settlement, naming
// why, and nothing is recorded.
func (s *Service) share(ctx context.Context, c *Commission) error {
	sharer, ok := s.cfg.Ledger.(CommissionSharer)
	if !ok {
		return nil
	}
	var lines []payment.ShareLine
	add := func(agency bool, ref string, payees []payment.Payee) {
		net, _ := c.part(agency)
		if !net.IsPositive() {
			return
		}
		party := payment.PartyPromoter
		if agency {
			party = payment.PartyAgency
		}
		lines = append(lines, payment.ShareLine{Party: party, Ref: ref, Source: shareSource(c.ID, agency), Payees: payees,
			Amount: net, Description: "推广佣金"})
	}
	if !c.AgencyID.IsZero() {
		a, err := s.store.GetAgency(ctx, c.AgencyID)
		if err != nil {
			return err
		}
		add(true, c.AgencyID.String(), a.Payees)
	}
	p, err := s.store.GetPromoter(ctx, c.PromoterID)
	if err != nil {
		return err
	}
	add(false, c.PromoterID.String(), p.Payees)
	if len(lines) == 0 {
		return nil
	}
	shared, err := sharer.ShareCommission(ctx, c.MerchantID, c.OrderID, lines)
	if err != nil || !shared {
		return err
	}
	return s.store.UpdateCommission(ctx, c.MerchantID, c.ID, func(c *Commission) error {
		for _, l := range lines {
			_, sh := c.part(l.Party == payment.PartyAgency)
			sh.Bill, sh.Claimed = shareBill, l.Amount
		}
		return nil
	})
}

// ApplyShare records the end of a commission line of a sharing order
// (payment.Config.Shares; minishop.New wires it), in the payment service's
// transaction: a line paid counts as paid to its payee, a closed one is
// released (owed again) and counted as failed.
func (s *Service) ApplyShare(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID, l payment.ShareLine) error {
	rest, ok := strings.CutPrefix(l.Source, "commission:")
	if !ok {
		return nil // not a commission line
	}
	idText, part, _ := strings.Cut(rest, ":")
	id, err := commerce.ParseID[CommissionID](idText)
	if err != nil {
		return fmt.Errorf("promoter: share line source %q: %w", l.Source, err)
	}
	agency := part == "agency"
	paid := l.Result == payment.ShareSucceeded
	// A negative line is a return: the receiver gave back what a
	// clawback took, so what it was paid shrinks.
	back := l.Amount.IsNegative()
	var c *Commission
	err = s.store.UpdateCommission(ctx, merchant, id, func(cm *Commission) error {
		_, sh := cm.part(agency)
		if back {
			sh.Paid = add(orZero(sh.Paid, l.Amount.Currency()), l.Amount)
			c = cm.Clone()
			return nil
		}
		if sh.Bill != shareBill {
			return fmt.Errorf("promoter: commission %s part is claimed by %q, not a sharing order", cm.ID, sh.Bill)
		}
		if paid {
			sh.Paid = add(orZero(sh.Paid, l.Amount.Currency()), l.Amount)
		}
		sh.Bill, sh.Claimed = "", commerce.Money{}
		c = cm.Clone()
		return nil
	})
	if err != nil {
		return err
	}
	var pid PromoterID
	var aid AgencyID
	if agency {
		aid = c.AgencyID
	} else {
		pid = c.PromoterID
	}
	pa, err := s.loadPayee(ctx, merchant, pid, aid)
	if err != nil {
		return err
	}
	if paid {
		pa.Paid = add(pa.Paid, l.Amount)
	} else {
		pa.Failed = add(pa.Failed, l.Amount)
	}
	if err := s.savePayee(ctx, pa); err != nil {
		return err
	}
	typ := "commission_shared"
	switch {
	case back:
		typ = "commission_share_returned"
	case !paid:
		typ = "commission_share_closed"
	}
	return s.emit(ctx, merchant, typ, c.ID.String(), map[string]any{"order_id": order, "promoter": pid, "agency": aid,
		"amount": l.Amount, "reason": l.FailReason})
}
