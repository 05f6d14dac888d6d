package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/minishop/minishop/storage/sqlstore"
	"github.com/minishop/minishop/storage/storetest"
)

// BenchmarkClaim measures coupon claims through the Engine on each dialect
// against a raw baseline: hand-written SQL doing the row work of a claim in
// one transaction, on a fresh store of the same dialect, with the same
// workers, shape and number of claims.
//
//	go test -run x -bench Claim ./storage/sqlstore
//
// PostgreSQL and MySQL run when MINISHOP_POSTGRES_DSN / MINISHOP_MYSQL_DSN
// are set. Each sub-benchmark reports claims/s (minishop, the timed part),
// raw-claims/s (the baseline, timed by hand after the timer stopped) and
// ratio = claims/s / raw-claims/s; allocs/op is minishop's alone.
func BenchmarkClaim(b *testing.B) {
	hs := harnesses()
	for _, name := range []string{"SQLite", "Postgres", "MySQL"} {
		b.Run(name, func(b *testing.B) {
			skipBenchWithoutServer(b, name)
			for _, shape := range []storetest.Shape{storetest.Spread, storetest.Hot} {
				for _, workers := range []int{1, 8} {
					b.Run(fmt.Sprintf("%s/goroutines=%d", shape, workers), func(b *testing.B) {
						benchClaimVersusRaw(b, hs[name], shape, workers)
					})
				}
			}
		})
	}
}

// BenchmarkCheckoutCoupons measures checkout through the Engine with two
// coupons applied (chosen, or picked as the best) against the same
// checkout without coupons; see storetest.BenchCheckoutCoupons.
//
//	go test -run x -bench CheckoutCoupons ./storage/sqlstore
//
// Each sub-benchmark reports orders/s; those using coupons also report
// none-orders/s (the same orders with coupons.Select(), on a fresh store,
// timed by hand) and overhead-%.
func BenchmarkCheckoutCoupons(b *testing.B) {
	hs := harnesses()
	for _, name := range []string{"SQLite", "Postgres"} {
		b.Run(name, func(b *testing.B) {
			skipBenchWithoutServer(b, name)
			for _, mode := range storetest.CouponModes {
				for _, buyers := range []int{1, 8} {
					b.Run(fmt.Sprintf("%s/buyers=%d", mode, buyers), func(b *testing.B) {
						storetest.BenchCheckoutCoupons(b, hs[name], mode, buyers)
					})
				}
			}
		})
	}
}

func benchClaimVersusRaw(b *testing.B, h storetest.Harness, shape storetest.Shape, workers int) {
	var mini *sqlstore.Store
	capture := storetest.Harness{New: func(t testing.TB) storetest.Store {
		mini = h.New(t).(*sqlstore.Store)
		return mini
	}}
	rate, cb := storetest.BenchClaimRate(b, capture, shape, workers)
	if b.Failed() || mini == nil || cb == nil {
		return
	}
	// The baseline writes minishop's coupon document, copied once from the
	// run above.
	tpl, err := readCouponTemplate(mini)
	if err != nil {
		b.Fatalf("read coupon template: %v", err)
	}
	raw := newRawClaims(b, h, shape, workers, cb.PerWorker, tpl)
	rawRate := raw.run(b)
	b.ReportMetric(rawRate, "raw-claims/s")
	b.ReportMetric(rate/rawRate, "ratio")
}

// couponTemplate is what the baseline writes into every coupon row.
type couponTemplate struct {
	status     string
	validUntil int64
	doc        string
}

func readCouponTemplate(s *sqlstore.Store) (*couponTemplate, error) {
	t := &couponTemplate{}
	err := s.DB().QueryRowContext(context.Background(), "SELECT status, valid_until_us, doc FROM "+prefix+"coupons LIMIT 1").
		Scan(&t.status, &t.validUntil, &t.doc)
	return t, err
}

// rawClaims is the claim baseline: a fresh store with the batches of
// storetest.NewClaimBench, claimed from with hand-written SQL on the
// store's own *sql.DB.
type rawClaims struct {
	*rawShop // the dialect's ids, placeholders and retry rule
	cb       *storetest.ClaimBench
	tpl      *couponTemplate
	merchant any
	batches  []any

	insertClaim, incClaim, incBatch, insertCoupon string
}

func newRawClaims(b *testing.B, h storetest.Harness, shape storetest.Shape, workers, perWorker int, tpl *couponTemplate) *rawClaims {
	b.Helper()
	store := h.New(b).(*sqlstore.Store)
	cb := storetest.NewClaimBench(b, store, shape, workers, perWorker)
	r := &rawClaims{rawShop: &rawShop{db: store.DB(), dialect: store.Dialect()}, cb: cb, tpl: tpl}
	r.merchant = r.id(cb.Shop.Merchant.ID.UUID())
	for _, bt := range cb.Batches {
		r.batches = append(r.batches, r.id(bt.ID.UUID()))
	}
	// Insert-if-absent as sqlstore writes it per dialect.
	ignore := " ON CONFLICT (batch_id, customer_id) DO NOTHING"
	if r.dialect == sqlstore.MySQL {
		ignore = " ON DUPLICATE KEY UPDATE n = n"
	}
	r.insertClaim = r.rebind("INSERT INTO " + prefix + "coupon_claims (batch_id, customer_id, merchant_id, n) VALUES (?, ?, ?, ?)" + ignore)
	r.incClaim = "UPDATE " + prefix + "coupon_claims SET n = n + 1 WHERE batch_id = ? AND customer_id = ?"
	if shape == storetest.Spread {
		r.incClaim += " AND n < ?" // PerPerson 1; the hot batch has no per-person limit
	}
	r.incClaim = r.rebind(r.incClaim)
	r.incBatch = r.rebind("UPDATE " + prefix + "coupon_batches SET claimed = claimed + 1 WHERE id = ? AND merchant_id = ? AND claimed < ?")
	r.insertCoupon = r.rebind("INSERT INTO " + prefix + "coupons (id, merchant_id, batch_id, customer_id, status, valid_until_us, reminded, request_id, grp, order_id, used_at_us, version, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?)")
	return r
}

var errRawLimit = errors.New("raw: per-person limit reached")

// run makes the claims of storetest.ClaimBench.Run concurrently and returns
// claims/s, counting refused claims in the hot shape as attempts. It fails
// b unless exactly the claims the shape wants succeeded and the rows add up.
func (r *rawClaims) run(b *testing.B) float64 {
	b.Helper()
	ctx := context.Background()
	cb := r.cb
	var mu sync.Mutex
	claimed := 0
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < cb.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch, total := r.batches[0], cb.HotTotal()
			if cb.Shape == storetest.Spread {
				batch, total = r.batches[w], int64(cb.PerWorker)
			}
			ok := 0
			for i := 0; i < cb.PerWorker; i++ {
				err := r.claim(ctx, batch, string(storetest.ClaimCustomer(w, i)), storetest.ClaimRequest(w, i), total)
				switch {
				case err == nil:
					ok++
				case cb.Shape == storetest.Hot && errors.Is(err, errSoldOut):
				default:
					b.Errorf("raw claim: %v", err)
					return
				}
			}
			mu.Lock()
			claimed += ok
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if b.Failed() {
		return 0
	}
	var rows, sum, most int64
	if err := r.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+prefix+"coupons").Scan(&rows); err != nil {
		b.Fatal(err)
	}
	if err := r.db.QueryRowContext(ctx, "SELECT COALESCE(SUM(claimed), 0), COALESCE(MAX(claimed - total), 0) FROM "+prefix+"coupon_batches").Scan(&sum, &most); err != nil {
		b.Fatal(err)
	}
	if want := cb.Want(); claimed != want || rows != int64(want) || sum != int64(want) || most > 0 {
		b.Fatalf("raw %s: %d claims succeeded (%d coupon rows, %d counted), want %d; a batch %d over its total",
			cb.Shape, claimed, rows, sum, want, most)
	}
	return float64(cb.Attempts()) / elapsed.Seconds()
}

// claim is one claim's row work in one transaction, with the options and
// retries sqlstore's InTx uses.
func (r *rawClaims) claim(ctx context.Context, batch any, customer, request string, total int64) error {
	var opts *sql.TxOptions
	if r.dialect != sqlstore.SQLite {
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	start := time.Now() // sqlstore.DefaultRetryBudget from here, as InTx
	for attempt := 1; ; attempt++ {
		err := r.try(ctx, opts, batch, customer, request, total)
		if err == nil || !r.retryable(err) {
			return err
		}
		wait := sqlstore.Backoff(attempt)
		if time.Since(start)+wait > sqlstore.DefaultRetryBudget {
			return fmt.Errorf("raw: gave up after %d attempts: %w", attempt, err)
		}
		time.Sleep(wait)
	}
}

func (r *rawClaims) try(ctx context.Context, opts *sql.TxOptions, batch any, customer, request string, total int64) (err error) {
	tx, err := r.db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if _, err := tx.ExecContext(ctx, r.insertClaim, batch, customer, r.merchant, 0); err != nil {
		return err
	}
	args := []any{batch, customer}
	if r.cb.Shape == storetest.Spread {
		args = append(args, 1)
	}
	if n, err := rowsAffected(tx.ExecContext(ctx, r.incClaim, args...)); err != nil {
		return err
	} else if n != 1 {
		return errRawLimit
	}
	if n, err := rowsAffected(tx.ExecContext(ctx, r.incBatch, batch, r.merchant, total)); err != nil {
		return err
	} else if n != 1 {
		return errSoldOut
	}
	_, err = tx.ExecContext(ctx, r.insertCoupon, r.id(uuid.Must(uuid.NewV7())), r.merchant, batch, customer, r.tpl.status,
		r.tpl.validUntil, 0, request, "", 1, r.tpl.doc)
	if err != nil {
		return err
	}
	return tx.Commit()
}

func rowsAffected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
