package sqlstore_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/currency"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/payment"
	"github.com/minishop/minishop/storage/sqlstore"
)

// payment_times follows payments' paid and refund times, and migration
// 0014 fills it for payments stored before it from their documents, to the
// microsecond and whatever the offset the time was written in: delete the
// rows, run the migration's backfill again, and every payment is found at
// exactly the instants it was before.
func TestPaymentTimesBackfill(t *testing.T) {
	eachDialect(t, func(t *testing.T, d sqlstore.Dialect, open func(t *testing.T) *sqlstore.Store) {
		ctx := context.Background()
		store := open(t)
		china := time.FixedZone("CST", 8*3600)
		west := time.FixedZone("W", -(3*3600 + 30*60))
		times := []time.Time{
			time.Date(2026, 3, 9, 0, 0, 0, 0, china),                 // the first instant of a China day
			time.Date(2026, 3, 9, 23, 59, 59, 999999000, china),      // its last microsecond
			time.Date(2026, 3, 8, 20, 30, 0, 120000000, west),        // a fraction with trailing zeros cut
			time.Date(2026, 3, 8, 15, 0, 0, 1000, time.UTC),          // written with Z
			time.Date(2026, 3, 9, 12, 0, 0, 0, china).Add(time.Hour), // whole seconds
		}
		var ps []*payment.Payment
		for i, at := range times {
			id := scanID[payment.PaymentID]()
			p := &payment.Payment{ID: id, MerchantID: scanID[commerce.MerchantID](),
				OrderID: scanID[commerce.OrderID](), Provider: "wechatpay",
				PaymentNo: strings.ReplaceAll(id.String(), "-", ""), Amount: commerce.FromMinor(100, currency.CNY),
				Status: payment.Succeeded, PaidAt: at, Created: at, Updated: at}
			if i%2 == 1 {
				p.Status, p.PaidAt = payment.Pending, time.Time{}
				p.Refunds = []payment.Refund{{ID: scanID[commerce.RefundID](), RefundNo: "R" + p.PaymentNo[:20],
					Amount: p.Amount, Status: payment.RefundProcessing, Created: at, Updated: at}}
			}
			require.NoError(t, store.InsertPayment(ctx, p))
			ps = append(ps, p)
		}
		// Each payment alone in a span of one microsecond at its time.
		check := func(msg string) {
			t.Helper()
			for i, at := range times {
				got, err := store.PaymentsBetween(ctx, "wechatpay", at, at.Add(time.Microsecond), payment.PaymentID{}, 10)
				require.NoError(t, err)
				require.Len(t, got, 1, "%s: %s", msg, at)
				assert.Equal(t, ps[i].PaymentNo, got[0].PaymentNo, msg)
				got, err = store.PaymentsBetween(ctx, "wechatpay", at.Add(-time.Microsecond), at, payment.PaymentID{}, 10)
				require.NoError(t, err)
				assert.Empty(t, got, "%s: before %s", msg, at)
			}
		}
		check("as written")

		require.NoError(t, sqlstore.Exec(ctx, store, "DELETE FROM {p}payment_times"))
		files, err := sqlstore.Migrations(d, "zzp_")
		require.NoError(t, err)
		b, err := fs.ReadFile(files, "0014_payment_times.sql")
		require.NoError(t, err)
		sql := strings.ReplaceAll(string(b), "zzp_", "{p}")
		for _, st := range strings.Split(sql[strings.Index(sql, "INSERT"):], ";\n") {
			if st = strings.TrimSpace(st); st != "" {
				require.NoError(t, sqlstore.Exec(ctx, store, st))
				require.NoError(t, sqlstore.Exec(ctx, store, st), "the backfill is idempotent")
			}
		}
		check("backfilled")
	})
}

func scanID[ID any, P interface {
	*ID
	Scan(any) error
}]() ID {
	var id ID
	u := uuid.Must(uuid.NewV7())
	if err := P(&id).Scan(u[:]); err != nil {
		panic(err)
	}
	return id
}
