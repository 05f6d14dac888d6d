package memory_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/minishop/minishop/commerce"

	"github.com/minishop/minishop/storage/memory"
	"github.com/minishop/minishop/storage/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		New: func(t testing.TB) storetest.Store { return memory.New() },
	})
}

// TestEventsAcrossChunks: the outbox is kept in chunks; reading pages that
// straddle them gives every event once, in Seq order.
func TestEventsAcrossChunks(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	const n = 2500
	for i := 0; i < n; i += 100 {
		err := s.InTx(ctx, func(ctx context.Context) error {
			for j := 0; j < 100; j++ {
				if err := s.AppendEvents(ctx, commerce.Event{Type: "t", AggregateID: strconv.Itoa(i + j)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var after uint64
	for after < n {
		page, err := s.ReadEvents(ctx, after, 333)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			t.Fatalf("no events after %d", after)
		}
		for _, e := range page {
			if e.Seq != after+1 || e.AggregateID != strconv.Itoa(int(after)) {
				t.Fatalf("event %d: seq %d, aggregate %s", after+1, e.Seq, e.AggregateID)
			}
			after = e.Seq
		}
	}
}
