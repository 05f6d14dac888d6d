package sqlstore_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/gifting"
	"github.com/minishop/minishop/storage/sqlstore"
	"github.com/minishop/minishop/storage/storetest"
)

// groupSlots is the size of the benchmark's hot group gift: one iteration
// claims every slot of one gift.
const groupSlots = 1000

// BenchmarkGroupGiftClaims measures claims of one hot group gift of 1,000
// slots through sqlstore's ClaimSlot on each dialect: 1,000 distinct
// claimers spread over the workers, each claim reading the gift under its
// shared lock, checking it is still sent, and taking the lowest free slot.
// The raw baseline does only the slot's row work, by hand, on a fresh store
// of the same dialect: in one transaction, SELECT the lowest free line FOR
// UPDATE SKIP LOCKED (no lock clause on SQLite) and UPDATE it, with no read
// of the gift, no check of the claimer and no count of the free slots.
//
//	go test -run x -bench GroupGiftClaims -benchtime 1x ./storage/sqlstore
//
// PostgreSQL and MySQL run when MINISHOP_POSTGRES_DSN / MINISHOP_MYSQL_DSN
// are set. Each sub-benchmark reports claims/s (minishop, timed by hand
// around the claims, each iteration one full gift), raw-claims/s and
// ratio = claims/s / raw-claims/s.
func BenchmarkGroupGiftClaims(b *testing.B) {
	hs := harnesses()
	for _, name := range []string{"SQLite", "Postgres", "MySQL"} {
		b.Run(name, func(b *testing.B) {
			skipBenchWithoutServer(b, name)
			for _, workers := range []int{8, 32} {
				b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
					benchGroupClaims(b, hs[name], workers)
				})
			}
		})
	}
}

func benchGroupClaims(b *testing.B, h storetest.Harness, workers int) {
	ctx := context.Background()
	store := h.New(b).(*sqlstore.Store)
	merchant := newBenchID[commerce.MerchantID]()
	addr := *commercetest.Address()
	check := func(g *gifting.Gift) error {
		if g.Status != gifting.Sent {
			return errors.New("gift not open for claims")
		}
		return nil
	}
	var elapsed time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		g := benchGroupGift(b, store, merchant)
		b.StartTimer()
		start := time.Now()
		claimed := claimAll(b, workers, func(claimer string) error {
			_, _, err := store.ClaimSlot(ctx, g.MerchantID, g.ID, commerce.CustomerID(claimer), addr, time.Now(), check)
			return err
		})
		elapsed += time.Since(start)
		b.StopTimer()
		verifyGroupGift(b, store, g, claimed)
		b.StartTimer()
	}
	b.StopTimer()
	if b.Failed() {
		return
	}
	rate := float64(b.N*groupSlots) / elapsed.Seconds()
	b.ReportMetric(rate, "claims/s")
	rawRate := rawGroupClaims(b, h, workers, b.N)
	if b.Failed() {
		return
	}
	b.ReportMetric(rawRate, "raw-claims/s")
	b.ReportMetric(rate/rawRate, "ratio")
}

// benchGroupGift stores a sent group gift of groupSlots slots, open for a
// day.
func benchGroupGift(b *testing.B, store *sqlstore.Store, merchant commerce.MerchantID) *gifting.Gift {
	b.Helper()
	now := time.Now()
	g := &gifting.Gift{
		ID: newBenchID[gifting.GiftID](), MerchantID: merchant, OrderID: newBenchID[commerce.OrderID](), Kind: gifting.Group, Group: "bench-group", Slots: groupSlots,
		Giver: "giver", GiverName: "Giver", Message: "大家好", Status: gifting.Sent, Lifetime: 24 * time.Hour,
		ExpiresAt: now.Add(24 * time.Hour), Created: now, SentAt: now, Version: 1,
	}
	if err := store.InsertGift(context.Background(), g); err != nil {
		b.Fatalf("insert gift: %v", err)
	}
	return g
}

// claimAll runs groupSlots claims by distinct claimers, spread over the
// workers, and returns how many succeeded; any failure fails b.
func claimAll(b *testing.B, workers int, claim func(claimer string) error) int {
	var mu sync.Mutex
	claimed := 0
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			ok := 0
			for i := w; i < groupSlots; i += workers {
				if err := claim(fmt.Sprintf("claimer-%04d", i)); err != nil {
					b.Errorf("claim %d: %v", i, err)
					return
				}
				ok++
			}
			mu.Lock()
			claimed += ok
			mu.Unlock()
		})
	}
	wg.Wait()
	return claimed
}

// verifyGroupGift fails b unless every slot of g was claimed, each by one
// claimer, as claimed claims said.
func verifyGroupGift(b *testing.B, store *sqlstore.Store, g *gifting.Gift, claimed int) {
	b.Helper()
	slots, err := store.GiftSlots(context.Background(), g.MerchantID, g.ID)
	if err != nil {
		b.Fatalf("gift slots: %v", err)
	}
	seen := map[commerce.CustomerID]bool{}
	for _, sl := range slots {
		if sl.Claimer != "" {
			seen[sl.Claimer] = true
		}
	}
	if claimed != groupSlots || len(slots) != groupSlots || len(seen) != groupSlots {
		b.Fatalf("%d claims succeeded, %d slots, %d distinct claimers: want %d of each", claimed, len(slots), len(seen), groupSlots)
	}
}

// newBenchID returns a new ID of any of the typed IDs, whose tag types are
// their packages' own.
func newBenchID[ID any, P interface {
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

// rawGroupClaims claims gifts gifts of groupSlots slots on a fresh store of
// h's dialect with hand-written SQL and returns claims/s.
func rawGroupClaims(b *testing.B, h storetest.Harness, workers, gifts int) float64 {
	b.Helper()
	ctx := context.Background()
	store := h.New(b).(*sqlstore.Store)
	r := &rawShop{db: store.DB(), dialect: store.Dialect()}
	lock, hint := " FOR UPDATE SKIP LOCKED", ""
	switch r.dialect {
	case sqlstore.SQLite:
		lock = ""
	case sqlstore.MySQL:
		hint = " FORCE INDEX (PRIMARY)" // as sqlstore does: without it MariaDB locks every free line
	}
	pick := r.rebind("SELECT line FROM " + prefix + "gift_slots" + hint + " WHERE gift_id = ? AND claimer IS NULL ORDER BY line LIMIT 1" + lock)
	take := r.rebind("UPDATE " + prefix + "gift_slots SET claimer = ?, address = ?, claimed_us = ? WHERE gift_id = ? AND line = ? AND claimer IS NULL")
	address, err := json.Marshal(commercetest.Address())
	if err != nil {
		b.Fatal(err)
	}
	merchant := newBenchID[commerce.MerchantID]()
	var elapsed time.Duration
	for range gifts {
		g := benchGroupGift(b, store, merchant)
		gift := r.id(g.ID.UUID())
		start := time.Now()
		claimed := claimAll(b, workers, func(claimer string) error {
			return r.claimSlot(ctx, pick, take, gift, claimer, string(address))
		})
		elapsed += time.Since(start)
		verifyGroupGift(b, store, g, claimed)
	}
	return float64(gifts*groupSlots) / elapsed.Seconds()
}

var errRawNoSlot = errors.New("raw: no free slot")

// claimSlot is one claim's row work in one transaction, with the options
// and retries sqlstore's InTx uses.
func (r *rawShop) claimSlot(ctx context.Context, pick, take string, gift any, claimer, address string) error {
	var opts *sql.TxOptions
	if r.dialect != sqlstore.SQLite {
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	start := time.Now() // sqlstore.DefaultRetryBudget from here, as InTx
	for attempt := 1; ; attempt++ {
		err := r.trySlot(ctx, opts, pick, take, gift, claimer, address)
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

func (r *rawShop) trySlot(ctx context.Context, opts *sql.TxOptions, pick, take string, gift any, claimer, address string) (err error) {
	tx, err := r.db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var line int
	if err := tx.QueryRowContext(ctx, pick, gift).Scan(&line); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return errRawNoSlot
		}
		return err
	}
	if n, err := rowsAffected(tx.ExecContext(ctx, take, claimer, address, time.Now().UnixMicro(), gift, line)); err != nil {
		return err
	} else if n != 1 {
		return errRawNoSlot
	}
	return tx.Commit()
}
