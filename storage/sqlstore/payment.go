package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/payment"
)

var _ payment.Store = (*Store)(nil)

func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

// refundDue is the indexed form of "a refund waits to reach the channel".
func refundDue(p *payment.Payment) bool {
	for _, r := range p.Refunds {
		if r.Status == payment.RefundProcessing && !r.Submitted {
			return true
		}
	}
	return false
}

// InsertPayment implements payment.Store.
func (s *Store) InsertPayment(ctx context.Context, p *payment.Payment) error {
	doc, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, q querier) error {
		_, err = q.ExecContext(ctx, s.sql("INSERT INTO {p}payments (id, merchant_id, order_id, payment_no, status, close_at_provider, refund_due, version, created_us, updated_us, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
			s.d.id(p.ID.UUID()), s.d.id(p.MerchantID.UUID()), s.d.id(p.OrderID.UUID()), p.PaymentNo, string(p.Status),
			flag(p.CloseAtProvider), flag(refundDue(p)), p.Version, micros(p.Created), micros(p.Updated), string(doc))
		if err != nil {
			return err
		}
		if times := paymentTimes(p); len(times) > 0 {
			return s.setPaymentTimes(ctx, q, p, times)
		}
		return nil
	})
}

// paymentTime is one instant a channel's statement lists a payment at: when
// it was paid (ref "") or when one of its refunds was asked for (ref: the
// refund number).
type paymentTime struct {
	ref string
	at  int64
}

// paymentTimes are the rows of payment_times for p: the index of
// PaymentsBetween.
func paymentTimes(p *payment.Payment) []paymentTime {
	var out []paymentTime
	if p.Status == payment.Succeeded {
		out = append(out, paymentTime{"", micros(p.PaidAt)})
	}
	for _, r := range p.Refunds {
		out = append(out, paymentTime{r.RefundNo, micros(r.Created)})
	}
	return out
}

// setPaymentTimes replaces p's rows of payment_times, under the payment's
// row lock, in its transaction, so they always agree with the document.
func (s *Store) setPaymentTimes(ctx context.Context, q querier, p *payment.Payment, times []paymentTime) error {
	if _, err := q.ExecContext(ctx, s.sql("DELETE FROM {p}payment_times WHERE payment_id = ?"), s.d.id(p.ID.UUID())); err != nil {
		return err
	}
	for _, t := range times {
		_, err := q.ExecContext(ctx, s.sql("INSERT INTO {p}payment_times (payment_id, ref, provider, at_us) VALUES (?, ?, ?, ?)"),
			s.d.id(p.ID.UUID()), t.ref, p.Provider, t.at)
		if err != nil {
			return err
		}
	}
	return nil
}

// PaymentsBetween implements payment.Store.
func (s *Store) PaymentsBetween(ctx context.Context, provider string, from, to time.Time, after payment.PaymentID, limit int) ([]*payment.Payment, error) {
	return s.listPayments(ctx, "id IN (SELECT payment_id FROM {p}payment_times WHERE provider = ? AND at_us >= ? AND at_us < ?) AND id > ?", limit,
		provider, micros(from), micros(to), s.d.id(after.UUID()))
}

func scanPayment(row scanner) (*payment.Payment, error) {
	var doc string
	var version int64
	if err := row.Scan(&doc, &version); err != nil {
		return nil, err
	}
	p := &payment.Payment{}
	if err := json.Unmarshal([]byte(doc), p); err != nil {
		return nil, fmt.Errorf("sqlstore: payment document: %w", err)
	}
	p.Version = version
	return p, nil
}

func (s *Store) getPayment(ctx context.Context, q querier, what string, lock string, where string, args ...any) (*payment.Payment, error) {
	p, err := scanPayment(q.QueryRowContext(ctx, s.sql("SELECT doc, version FROM {p}payments WHERE "+where+lock), args...))
	if s.d.classify(err) == errNoRows {
		return nil, notFound("payment", what)
	}
	return p, s.translate(err)
}

// GetPayment implements payment.Store.
func (s *Store) GetPayment(ctx context.Context, merchant commerce.MerchantID, id payment.PaymentID) (*payment.Payment, error) {
	return s.getPayment(ctx, s.q(ctx), id.String(), "", "id = ? AND merchant_id = ?", s.d.id(id.UUID()), s.d.id(merchant.UUID()))
}

// PaymentByNo implements payment.Store.
func (s *Store) PaymentByNo(ctx context.Context, no string) (*payment.Payment, error) {
	return s.getPayment(ctx, s.q(ctx), fmt.Sprintf("number %q", no), "", "payment_no = ?", no)
}

func (s *Store) listPayments(ctx context.Context, where string, limit int, args ...any) ([]*payment.Payment, error) {
	return queryAll(ctx, s, fmt.Sprintf("SELECT doc, version FROM {p}payments WHERE %s ORDER BY id LIMIT %d", where, commerce.PageLimit(limit)),
		scanPayment, args...)
}

// OrderPayments implements payment.Store.
func (s *Store) OrderPayments(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID) ([]*payment.Payment, error) {
	return s.listPayments(ctx, "merchant_id = ? AND order_id = ?", 1000, s.d.id(merchant.UUID()), s.d.id(order.UUID()))
}

// PaymentsToClose implements payment.Store.
func (s *Store) PaymentsToClose(ctx context.Context, limit int) ([]*payment.Payment, error) {
	return s.listPayments(ctx, "close_at_provider = 1", limit)
}

// PendingRefunds implements payment.Store.
func (s *Store) PendingRefunds(ctx context.Context, limit int) ([]*payment.Payment, error) {
	return s.listPayments(ctx, "refund_due = 1", limit)
}

// RefundingOrders implements payment.Store.
func (s *Store) RefundingOrders(ctx context.Context, before time.Time, after commerce.OrderID, limit int) ([]commerce.OrderRef, error) {
	return queryAll(ctx, s, fmt.Sprintf("SELECT merchant_id, order_id FROM {p}order_refunds WHERE since_us <= ? AND order_id > ? ORDER BY order_id LIMIT %d", max(limit, 1)),
		func(row scanner) (commerce.OrderRef, error) {
			var r commerce.OrderRef
			err := row.Scan(&r.MerchantID, &r.ID)
			return r, err
		}, micros(before), s.d.id(after.UUID()))
}

// UpdatePayment implements payment.Store.
func (s *Store) UpdatePayment(ctx context.Context, merchant commerce.MerchantID, id payment.PaymentID, fn func(*payment.Payment) error) error {
	return s.write(ctx, func(ctx context.Context, q querier) error {
		p, err := s.getPayment(ctx, q, id.String(), s.d.forUpdate, "id = ? AND merchant_id = ?", s.d.id(id.UUID()), s.d.id(merchant.UUID()))
		if err != nil {
			return err
		}
		orig := *p
		times := paymentTimes(p)
		if err := fn(p); err != nil {
			return err
		}
		p.ID, p.MerchantID, p.OrderID, p.PaymentNo, p.Provider = orig.ID, orig.MerchantID, orig.OrderID, orig.PaymentNo, orig.Provider
		p.Version = orig.Version + 1
		doc, err := json.Marshal(p)
		if err != nil {
			return err
		}
		_, err = q.ExecContext(ctx, s.sql("UPDATE {p}payments SET status = ?, close_at_provider = ?, refund_due = ?, version = ?, updated_us = ?, doc = ? WHERE id = ?"),
			string(p.Status), flag(p.CloseAtProvider), flag(refundDue(p)), p.Version, micros(p.Updated), string(doc), s.d.id(id.UUID()))
		if err != nil {
			return err
		}
		// payment_times follows the paid time and the refunds, written
		// only when they change, not on every update.
		if now := paymentTimes(p); !slices.Equal(times, now) {
			return s.setPaymentTimes(ctx, q, p, now)
		}
		return nil
	})
}

// AppendLedger implements payment.Store.
func (s *Store) AppendLedger(ctx context.Context, entries ...payment.LedgerEntry) error {
	return s.write(ctx, func(ctx context.Context, q querier) error {
		for _, e := range entries {
			minor, err := e.Amount.Minor()
			if err != nil {
				return fmt.Errorf("sqlstore: ledger entry %s: %w", e.ID, err)
			}
			_, err = q.ExecContext(ctx, s.sql("INSERT INTO {p}payment_ledger (id, merchant_id, order_id, payment_id, ref, party, amount_minor, currency, time_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
				s.d.id(e.ID.UUID()), s.d.id(e.MerchantID.UUID()), s.d.id(e.OrderID.UUID()), s.d.id(e.PaymentID.UUID()),
				e.Ref, string(e.Party), minor, e.Amount.Currency().String(), micros(e.Time))
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// Ledger implements payment.Store.
func (s *Store) Ledger(ctx context.Context, merchant commerce.MerchantID, order commerce.OrderID) ([]payment.LedgerEntry, error) {
	rows, err := s.q(ctx).QueryContext(ctx, s.sql("SELECT id, merchant_id, order_id, payment_id, ref, party, amount_minor, currency, time_us FROM {p}payment_ledger WHERE merchant_id = ? AND order_id = ? ORDER BY time_us, id"),
		s.d.id(merchant.UUID()), s.d.id(order.UUID()))
	if err != nil {
		return nil, s.translate(err)
	}
	defer rows.Close()
	var out []payment.LedgerEntry
	for rows.Next() {
		var e payment.LedgerEntry
		var party, cur string
		var minor, t int64
		if err := rows.Scan(&e.ID, &e.MerchantID, &e.OrderID, &e.PaymentID, &e.Ref, &party, &minor, &cur, &t); err != nil {
			return nil, err
		}
		unit, err := commerce.ParseCurrency(cur)
		if err != nil {
			return nil, err
		}
		e.Party, e.Amount, e.Time = payment.Party(party), commerce.FromMinor(minor, unit), fromMicros(t)
		out = append(out, e)
	}
	return out, s.translate(rows.Err())
}

// RecordNotification implements payment.Store.
func (s *Store) RecordNotification(ctx context.Context, n payment.NotificationRecord) error {
	_, err := s.exec(ctx, "INSERT INTO {p}payment_notifications (id, provider, notification_id, kind, event_type, payment_no, refund_no, outcome, reason, time_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		s.d.id(n.ID.UUID()), n.Provider, n.NotificationID, string(n.Kind), n.EventType, n.PaymentNo, n.RefundNo, string(n.Outcome), n.Reason, micros(n.Time))
	return s.translate(err)
}

// Notifications implements payment.Store.
func (s *Store) Notifications(ctx context.Context, paymentNo string) ([]payment.NotificationRecord, error) {
	rows, err := s.q(ctx).QueryContext(ctx, s.sql("SELECT id, provider, notification_id, kind, event_type, payment_no, refund_no, outcome, reason, time_us FROM {p}payment_notifications WHERE payment_no = ? ORDER BY time_us, id"), paymentNo)
	if err != nil {
		return nil, s.translate(err)
	}
	defer rows.Close()
	var out []payment.NotificationRecord
	for rows.Next() {
		var n payment.NotificationRecord
		var kind, outcome string
		var t int64
		if err := rows.Scan(&n.ID, &n.Provider, &n.NotificationID, &kind, &n.EventType, &n.PaymentNo, &n.RefundNo, &outcome, &n.Reason, &t); err != nil {
			return nil, err
		}
		n.Kind, n.Outcome, n.Time = payment.NotificationKind(kind), payment.Outcome(outcome), fromMicros(t)
		out = append(out, n)
	}
	return out, s.translate(rows.Err())
}
