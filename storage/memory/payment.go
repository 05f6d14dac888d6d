package memory

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/storage"
)

var _ payment.Store = (*Store)(nil)

type paymentTables struct {
	byID map[payment.PaymentID]*payment.Payment
	byNo map[string]payment.PaymentID
	// byOrder lists each order's payments so OrderPayments, which every
	// payment, refund and settlement reads, costs the order's payments
	// rather than a scan of the store. A payment's order never changes.
	byOrder       map[commerce.OrderID][]payment.PaymentID
	ledger        []payment.LedgerEntry
	notifications []payment.NotificationRecord
}

func newPaymentTables() paymentTables {
	return paymentTables{byID: map[payment.PaymentID]*payment.Payment{}, byNo: map[string]payment.PaymentID{},
		byOrder: map[commerce.OrderID][]payment.PaymentID{}}
}

// appendLogged appends to *sl and logs how to undo it.
func appendLogged[T any](t *tx, sl *[]T, vs ...T) {
	n := len(*sl)
	*sl = append(*sl, vs...)
	t.undo = append(t.undo, func() { *sl = (*sl)[:n] })
}

// InsertPayment implements payment.Store.
func (s *Store) InsertPayment(ctx context.Context, p *payment.Payment) error {
	return s.do(ctx, func(t *tx) error {
		if _, ok := s.pay.byID[p.ID]; ok {
			return conflict("payment %s exists", p.ID)
		}
		if _, ok := s.pay.byNo[p.PaymentNo]; ok {
			return conflict("payment number %q exists", p.PaymentNo)
		}
		put(t, s.pay.byID, p.ID, p.Clone())
		put(t, s.pay.byNo, p.PaymentNo, p.ID)
		// A fresh slice, so undo's restoring the old one is exact.
		ids := append(append([]payment.PaymentID(nil), s.pay.byOrder[p.OrderID]...), p.ID)
		put(t, s.pay.byOrder, p.OrderID, ids)
		return nil
	})
}

// GetPayment implements payment.Store.
func (s *Store) GetPayment(ctx context.Context, merchant commerce.MerchantID, id payment.PaymentID) (*payment.Payment, error) {
	var out *payment.Payment
	err := s.do(ctx, func(t *tx) error {
		p, ok := s.pay.byID[id]
		if !ok || p.MerchantID != merchant {
			return notFound("payment", id)
		}
		out = p.Clone()
		return nil
	})
	return out, err
}

// PaymentByNo implements payment.Store.
func (s *Store) PaymentByNo(ctx context.Context, no string) (*payment.Payment, error) {
	var out *payment.Payment
	err := s.do(ctx, func(t *tx) error {
		id, ok := s.pay.byNo[no]
		if !ok {
			return fmt.Errorf("payment number %q: %w", no, storage.ErrNotFound)
		}
		out = s.pay.byID[id].Clone()
		return nil
	})
	return out, err
}

// OrderPayments implements payment.Store.
func (s *Store) OrderPayments(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID) ([]*payment.Payment, error) {
	var out []*payment.Payment
	err := s.do(ctx, func(t *tx) error {
		for _, id := range s.pay.byOrder[order] {
			if p := s.pay.byID[id]; p.MerchantID == merchant {
				out = append(out, p.Clone())
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].ID.Compare(out[j].ID) < 0 })
		return nil
	})
	return out, err
}

// UpdatePayment implements payment.Store.
func (s *Store) UpdatePayment(ctx context.Context, merchant commerce.MerchantID, id payment.PaymentID, fn func(*payment.Payment) error) error {
	return s.do(ctx, func(t *tx) error {
		p, ok := s.pay.byID[id]
		if !ok || p.MerchantID != merchant {
			return notFound("payment", id)
		}
		cp := p.Clone()
		if err := fn(cp); err != nil {
			return err
		}
		cp.ID, cp.MerchantID, cp.OrderID, cp.PaymentNo, cp.Provider = p.ID, p.MerchantID, p.OrderID, p.PaymentNo, p.Provider
		cp.Version = p.Version + 1
		put(t, s.pay.byID, id, cp.Clone())
		return nil
	})
}

// paymentsWhere returns up to limit payments matching keep, oldest first.
func (s *Store) paymentsWhere(ctx context.Context, limit int, keep func(*payment.Payment) bool) ([]*payment.Payment, error) {
	var out []*payment.Payment
	err := s.do(ctx, func(t *tx) error {
		for _, p := range s.pay.byID {
			if keep(p) {
				out = append(out, p.Clone())
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].ID.Compare(out[j].ID) < 0 })
		if n := commerce.PageLimit(limit); len(out) > n {
			out = out[:n]
		}
		return nil
	})
	return out, err
}

// PaymentsToClose implements payment.Store.
func (s *Store) PaymentsToClose(ctx context.Context, limit int) ([]*payment.Payment, error) {
	return s.paymentsWhere(ctx, limit, func(p *payment.Payment) bool { return p.CloseAtProvider })
}

// PendingRefunds implements payment.Store.
func (s *Store) PendingRefunds(ctx context.Context, limit int) ([]*payment.Payment, error) {
	return s.paymentsWhere(ctx, limit, func(p *payment.Payment) bool {
		for _, r := range p.Refunds {
			if r.Status == payment.RefundProcessing && !r.Submitted {
				return true
			}
		}
		return false
	})
}

// RefundingOrders implements payment.Store.
func (s *Store) RefundingOrders(ctx context.Context, before time.Time, after commerce.OrderID, limit int) ([]commerce.OrderRef, error) {
	var refs []commerce.OrderRef
	err := s.do(ctx, func(t *tx) error {
		for id, o := range s.orders {
			since := o.PendingRefundSince()
			if since.IsZero() || since.After(before) || (!after.IsZero() && id.Compare(after) <= 0) {
				continue
			}
			refs = append(refs, commerce.OrderRef{MerchantID: o.MerchantID, ID: id})
		}
		return nil
	})
	sort.Slice(refs, func(i, j int) bool { return refs[i].ID.Compare(refs[j].ID) < 0 })
	if len(refs) > max(limit, 1) {
		refs = refs[:max(limit, 1)]
	}
	return refs, err
}

// AppendLedger implements payment.Store.
func (s *Store) AppendLedger(ctx context.Context, entries ...payment.LedgerEntry) error {
	return s.do(ctx, func(t *tx) error {
		appendLogged(t, &s.pay.ledger, entries...)
		return nil
	})
}

// Ledger implements payment.Store.
func (s *Store) Ledger(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID) ([]payment.LedgerEntry, error) {
	var out []payment.LedgerEntry
	err := s.do(ctx, func(t *tx) error {
		for _, e := range s.pay.ledger {
			if e.MerchantID == merchant && e.OrderID == order {
				out = append(out, e)
			}
		}
		return nil
	})
	return out, err
}

// RecordNotification implements payment.Store.
func (s *Store) RecordNotification(ctx context.Context, n payment.NotificationRecord) error {
	return s.do(ctx, func(t *tx) error {
		appendLogged(t, &s.pay.notifications, n)
		return nil
	})
}

// Notifications implements payment.Store.
func (s *Store) Notifications(ctx context.Context, paymentNo string) ([]payment.NotificationRecord, error) {
	var out []payment.NotificationRecord
	err := s.do(ctx, func(t *tx) error {
		for _, n := range s.pay.notifications {
			if n.PaymentNo == paymentNo {
				out = append(out, n)
			}
		}
		return nil
	})
	return out, err
}

// PaymentsBetween implements payment.Store.
func (s *Store) PaymentsBetween(ctx context.Context, provider string, from, to time.Time, after payment.PaymentID, limit int) ([]*payment.Payment, error) {
	in := func(t time.Time) bool { return !t.Before(from) && t.Before(to) }
	return s.paymentsWhere(ctx, limit, func(p *payment.Payment) bool {
		if p.Provider != provider || (!after.IsZero() && p.ID.Compare(after) <= 0) {
			return false
		}
		if p.Status == payment.Succeeded && in(p.PaidAt) {
			return true
		}
		for _, r := range p.Refunds {
			if in(r.Created) {
				return true
			}
		}
		return false
	})
}
