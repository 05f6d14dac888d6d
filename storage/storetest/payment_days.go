package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/currency"

	"github.com/minishop/minishop/commerce"
	. "github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/payment"
)

// paymentDaysSuite is the contract of payment.Store.PaymentsBetween, which
// the payment service's ReconcileDay pages through to find what a
// channel's daily statement should list: payments paid in the span, and
// payments with a refund asked for in it, of one provider, exactly at the
// boundaries, following every update.
func paymentDaysSuite(t *testing.T, h Harness) {
	ctx := context.Background()
	china := time.FixedZone("CST", 8*3600)
	from := time.Date(2026, 3, 9, 0, 0, 0, 0, china)
	to := from.AddDate(0, 0, 1)
	merchant := newID[commerce.MerchantID]()
	mk := func(s payment.Store, provider string, status payment.Status, paid time.Time, refunds ...time.Time) *payment.Payment {
		t.Helper()
		id := newID[payment.PaymentID]()
		p := &payment.Payment{ID: id, MerchantID: merchant, OrderID: newID[commerce.OrderID](), Provider: provider,
			PaymentNo: id.UUID().String()[:8] + id.UUID().String()[24:], Amount: commerce.FromMinor(1000, currency.CNY),
			Status: status, PaidAt: paid, Created: Epoch, Updated: Epoch}
		for i, c := range refunds {
			rid := newID[commerce.RefundID]()
			p.Refunds = append(p.Refunds, payment.Refund{ID: rid, RefundNo: p.PaymentNo + "R" + string(rune('0'+i)),
				Amount: commerce.FromMinor(100, currency.CNY), Status: payment.RefundSucceeded, Created: c, Updated: c})
		}
		require.NoError(t, s.InsertPayment(ctx, p))
		return p
	}
	nos := func(ps []*payment.Payment) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.PaymentNo)
		}
		return out
	}
	sorted := func(ps ...*payment.Payment) []string {
		slices.SortFunc(ps, func(a, b *payment.Payment) int { return a.ID.Compare(b.ID) })
		return nos(ps)
	}

	t.Run("Boundaries", func(t *testing.T) {
		s := h.New(t)
		atStart := mk(s, "wechatpay", payment.Succeeded, from)
		lastMicro := mk(s, "wechatpay", payment.Succeeded, to.Add(-time.Microsecond))
		mk(s, "wechatpay", payment.Succeeded, to)                     // the next day's
		mk(s, "wechatpay", payment.Succeeded, from.Add(-time.Second)) // the day before's
		mk(s, "wechatpay", payment.Pending, time.Time{})              // not paid
		mk(s, "fakepay", payment.Succeeded, from.Add(time.Hour))      // another provider
		// Paid the day before, refunded today: the statement lists the refund.
		refunded := mk(s, "wechatpay", payment.Succeeded, from.Add(-48*time.Hour), from.Add(-time.Hour), from.Add(3*time.Hour).UTC())
		// A refund after the span does not bring it in.
		mk(s, "wechatpay", payment.Succeeded, from.Add(-48*time.Hour), to.Add(time.Minute))
		got, err := s.PaymentsBetween(ctx, "wechatpay", from, to, payment.PaymentID{}, 100)
		require.NoError(t, err)
		assert.Equal(t, sorted(atStart, lastMicro, refunded), nos(got))
		for _, p := range got {
			if p.ID == refunded.ID {
				require.Len(t, p.Refunds, 2, "the whole payment comes back")
			}
		}
	})

	t.Run("Paging", func(t *testing.T) {
		s := h.New(t)
		var want []*payment.Payment
		for i := range 7 {
			want = append(want, mk(s, "wechatpay", payment.Succeeded, from.Add(time.Duration(i)*time.Hour)))
		}
		// Two times in the span (paid and refunded): listed once.
		want = append(want, mk(s, "wechatpay", payment.Succeeded, from.Add(time.Minute), from.Add(2*time.Minute), from.Add(3*time.Minute)))
		var got []*payment.Payment
		var after payment.PaymentID
		for {
			page, err := s.PaymentsBetween(ctx, "wechatpay", from, to, after, 3)
			require.NoError(t, err)
			require.LessOrEqual(t, len(page), 3)
			got = append(got, page...)
			if len(page) < 3 {
				break
			}
			after = page[len(page)-1].ID
		}
		assert.Equal(t, sorted(want...), nos(got))
	})

	t.Run("FollowsUpdates", func(t *testing.T) {
		s := h.New(t)
		p := mk(s, "wechatpay", payment.Pending, time.Time{})
		between := func() []string {
			got, err := s.PaymentsBetween(ctx, "wechatpay", from, to, payment.PaymentID{}, 100)
			require.NoError(t, err)
			return nos(got)
		}
		assert.Empty(t, between())
		// Paid the day after: still not in the span.
		require.NoError(t, s.UpdatePayment(ctx, merchant, p.ID, func(p *payment.Payment) error {
			p.Status, p.PaidAt = payment.Succeeded, to.Add(time.Hour)
			return nil
		}))
		assert.Empty(t, between())
		// A refund asked for in the span brings it in.
		require.NoError(t, s.UpdatePayment(ctx, merchant, p.ID, func(p *payment.Payment) error {
			p.Refunds = append(p.Refunds, payment.Refund{ID: newID[commerce.RefundID](), RefundNo: "R1", Amount: p.Amount,
				Status: payment.RefundProcessing, Created: from.Add(time.Hour), Updated: from.Add(time.Hour)})
			return nil
		}))
		assert.Equal(t, []string{p.PaymentNo}, between())
		// A failed update changes nothing.
		err := s.UpdatePayment(ctx, merchant, p.ID, func(p *payment.Payment) error {
			p.Refunds = nil
			return commerce.ErrConflict
		})
		require.ErrorIs(t, err, commerce.ErrConflict)
		assert.Equal(t, []string{p.PaymentNo}, between())
		// Rolled back with its transaction: nothing left behind.
		q := mk(s, "wechatpay", payment.Pending, time.Time{})
		err = s.InTx(ctx, func(ctx context.Context) error {
			if err := s.UpdatePayment(ctx, merchant, q.ID, func(p *payment.Payment) error {
				p.Status, p.PaidAt = payment.Succeeded, from.Add(time.Hour)
				return nil
			}); err != nil {
				return err
			}
			return commerce.ErrConflict
		})
		require.ErrorIs(t, err, commerce.ErrConflict)
		assert.Equal(t, []string{p.PaymentNo}, between())
	})
}
