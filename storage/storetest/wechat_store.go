package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	. "github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/storage"
)

// wechatStoreSuite is the contract of wechat.Store: keyed records saved by
// compare-and-swap on their version, and the due-work index.
func wechatStoreSuite(t *testing.T, h Harness) {
	ctx := context.Background()
	at := func(min int) time.Time { return Epoch.Add(time.Duration(min) * time.Minute) }

	t.Run("InsertGetUpdate", func(t *testing.T) {
		s := h.New(t)
		_, err := s.GetRecord(ctx, "token", "wx1")
		require.ErrorIs(t, err, storage.ErrNotFound)
		v, err := s.SaveRecord(ctx, storage.Record{Kind: "token", Key: "wx1", Status: "fresh", Due: at(5), Doc: []byte(`{"a":"令牌"}`), Updated: at(0)})
		require.NoError(t, err)
		assert.Equal(t, int64(1), v)
		_, err = s.SaveRecord(ctx, storage.Record{Kind: "token", Key: "wx1", Doc: []byte(`{}`)})
		require.ErrorIs(t, err, storage.ErrConflict, "a second insert of one key")
		// The same key under another kind is another record.
		_, err = s.SaveRecord(ctx, storage.Record{Kind: "session", Key: "wx1", Doc: []byte(`{}`), Updated: at(0)})
		require.NoError(t, err)

		r, err := s.GetRecord(ctx, "token", "wx1")
		require.NoError(t, err)
		assert.Equal(t, "fresh", r.Status)
		assert.True(t, at(5).Equal(r.Due), "due %v", r.Due)
		assert.True(t, at(0).Equal(r.Updated))
		assert.Equal(t, int64(1), r.Version)
		assert.JSONEq(t, `{"a":"令牌"}`, string(r.Doc))

		r.Status, r.Due, r.Doc, r.Updated = "", time.Time{}, []byte(`{"a":"b"}`), at(1)
		v, err = s.SaveRecord(ctx, r)
		require.NoError(t, err)
		assert.Equal(t, int64(2), v)
		_, err = s.SaveRecord(ctx, r) // still at version 1
		require.ErrorIs(t, err, storage.ErrConflict, "a save from a stale version")
		got, err := s.GetRecord(ctx, "token", "wx1")
		require.NoError(t, err)
		assert.Equal(t, int64(2), got.Version)
		assert.True(t, got.Due.IsZero(), "an unscheduled record has a zero Due, got %v", got.Due)
		assert.JSONEq(t, `{"a":"b"}`, string(got.Doc))

		_, err = s.SaveRecord(ctx, storage.Record{Kind: "token", Key: "nobody", Version: 3, Doc: []byte(`{}`)})
		require.ErrorIs(t, err, storage.ErrNotFound, "an update of a record that does not exist")
	})

	t.Run("CopiesDocuments", func(t *testing.T) {
		s := h.New(t)
		doc := []byte(`{"n":1}`)
		_, err := s.SaveRecord(ctx, storage.Record{Kind: "k", Key: "a", Doc: doc, Updated: at(0)})
		require.NoError(t, err)
		doc[6] = '9'
		r, err := s.GetRecord(ctx, "k", "a")
		require.NoError(t, err)
		r.Doc[6] = '8'
		again, err := s.GetRecord(ctx, "k", "a")
		require.NoError(t, err)
		assert.Equal(t, `{"n":1}`, string(again.Doc))
	})

	t.Run("LongKeys", func(t *testing.T) {
		s := h.New(t)
		key := strings.Repeat("码", storage.MaxRecordKeyLen)
		kind := strings.Repeat("k", storage.MaxRecordKindLen)
		_, err := s.SaveRecord(ctx, storage.Record{Kind: kind, Key: key, Status: strings.Repeat("s", storage.MaxRecordStatusLen), Doc: []byte(`{}`), Updated: at(0)})
		require.NoError(t, err)
		r, err := s.GetRecord(ctx, kind, key)
		require.NoError(t, err)
		assert.Equal(t, key, r.Key)
		_, err = s.GetRecord(ctx, kind, key[:len(key)-3])
		require.ErrorIs(t, err, storage.ErrNotFound, "a key is matched whole")
	})

	t.Run("DueRecords", func(t *testing.T) {
		s := h.New(t)
		save := func(kind, key, status string, due time.Time) {
			_, err := s.SaveRecord(ctx, storage.Record{Kind: kind, Key: key, Status: status, Due: due, Doc: []byte(`{}`), Updated: at(0)})
			require.NoError(t, err)
		}
		save("shipping", "c", "pending", at(3))
		save("shipping", "a", "pending", at(3))
		save("shipping", "b", "pending", at(1))
		save("shipping", "late", "pending", at(9))
		save("shipping", "done", "done", at(1))
		save("message", "m", "pending", at(1))
		keys := func(rs []storage.Record) []string {
			var out []string
			for _, r := range rs {
				out = append(out, r.Key)
			}
			return out
		}
		rs, err := s.DueRecords(ctx, "shipping", "pending", at(3), 10)
		require.NoError(t, err)
		assert.Equal(t, []string{"b", "a", "c"}, keys(rs), "earliest due first, then by key; only the kind and status asked for")
		rs, err = s.DueRecords(ctx, "shipping", "pending", at(3), 2)
		require.NoError(t, err)
		assert.Equal(t, []string{"b", "a"}, keys(rs))
		rs, err = s.DueRecords(ctx, "shipping", "pending", at(0), 10)
		require.NoError(t, err)
		assert.Empty(t, rs)
		rs, err = s.DueRecords(ctx, "shipping", "done", at(100), 10)
		require.NoError(t, err)
		assert.Equal(t, []string{"done"}, keys(rs))
	})

	t.Run("RecordsBetween", func(t *testing.T) {
		s := h.New(t)
		for _, k := range []string{"acct:1:000000000003", "acct:1:000000000001", "acct:1:000000000002", "acct:10:000000000001", "acct:2:000000000001", "acct:1:"} {
			_, err := s.SaveRecord(ctx, storage.Record{Kind: "entry", Key: k, Doc: []byte(`{"k":"` + k + `"}`), Updated: at(0)})
			require.NoError(t, err)
		}
		_, err := s.SaveRecord(ctx, storage.Record{Kind: "other", Key: "acct:1:000000000002", Doc: []byte(`{}`), Updated: at(0)})
		require.NoError(t, err)
		keys := func(rs []storage.Record) []string {
			var out []string
			for _, r := range rs {
				out = append(out, r.Key)
			}
			return out
		}
		rs, err := s.RecordsBetween(ctx, "entry", "acct:1:000000000001", "acct:1:000000000004", 10)
		require.NoError(t, err)
		assert.Equal(t, []string{"acct:1:000000000001", "acct:1:000000000002", "acct:1:000000000003"}, keys(rs), "by key; from included, to not; only the kind asked for")
		assert.JSONEq(t, `{"k":"acct:1:000000000002"}`, string(rs[1].Doc))
		rs, err = s.RecordsBetween(ctx, "entry", "acct:1:000000000002", "acct:1:000000000003", 10)
		require.NoError(t, err)
		assert.Equal(t, []string{"acct:1:000000000002"}, keys(rs), "to is excluded")
		rs, err = s.RecordsBetween(ctx, "entry", "acct:1:", "acct:1;", 2)
		require.NoError(t, err)
		assert.Equal(t, []string{"acct:1:", "acct:1:000000000001"}, keys(rs), "limit; a prefix range holds no other account's keys")
		rs, err = s.RecordsBetween(ctx, "entry", "acct:3", "acct:4", 10)
		require.NoError(t, err)
		assert.Empty(t, rs)
	})

	t.Run("RolledBack", func(t *testing.T) {
		s := h.New(t)
		_, err := s.SaveRecord(ctx, storage.Record{Kind: "k", Key: "kept", Doc: []byte(`{"v":1}`), Updated: at(0)})
		require.NoError(t, err)
		boom := errors.New("boom")
		err = s.InTx(ctx, func(ctx context.Context) error {
			if _, err := s.SaveRecord(ctx, storage.Record{Kind: "k", Key: "new", Doc: []byte(`{}`), Updated: at(0)}); err != nil {
				return err
			}
			r, err := s.GetRecord(ctx, "k", "kept")
			if err != nil {
				return err
			}
			r.Doc = []byte(`{"v":2}`)
			if _, err := s.SaveRecord(ctx, r); err != nil {
				return err
			}
			if r, err := s.GetRecord(ctx, "k", "new"); err != nil || r.Version != 1 {
				return fmt.Errorf("a transaction reads its own insert: %v %v", r, err)
			}
			return boom
		})
		require.ErrorIs(t, err, boom)
		_, err = s.GetRecord(ctx, "k", "new")
		require.ErrorIs(t, err, storage.ErrNotFound)
		r, err := s.GetRecord(ctx, "k", "kept")
		require.NoError(t, err)
		assert.Equal(t, int64(1), r.Version)
		assert.Equal(t, `{"v":1}`, string(r.Doc))
		rs, err := s.RecordsBetween(ctx, "k", "", "~", 10)
		require.NoError(t, err)
		require.Len(t, rs, 1, "a range read does not see a rolled-back insert")
		assert.Equal(t, "kept", rs[0].Key)
	})

	// Counters kept in a record (subscription credits) rest on the
	// compare-and-swap: racing read-modify-save loops lose no increment,
	// and each version is won by exactly one writer.
	// A taken key refuses the insert without spoiling the transaction: a
	// relay fed an event again finds its record there and goes on.
	t.Run("ConflictKeepsTransaction", func(t *testing.T) {
		s := h.New(t)
		_, err := s.SaveRecord(ctx, storage.Record{Kind: "k", Key: "taken", Doc: []byte(`{"v":1}`), Updated: at(0)})
		require.NoError(t, err)
		err = s.InTx(ctx, func(ctx context.Context) error {
			_, err := s.SaveRecord(ctx, storage.Record{Kind: "k", Key: "taken", Doc: []byte(`{"v":2}`), Updated: at(0)})
			if !errors.Is(err, storage.ErrConflict) {
				return fmt.Errorf("insert of a taken key: %v, want ErrConflict", err)
			}
			_, err = s.SaveRecord(ctx, storage.Record{Kind: "k", Key: "after", Doc: []byte(`{}`), Updated: at(0)})
			return err
		})
		require.NoError(t, err)
		r, err := s.GetRecord(ctx, "k", "taken")
		require.NoError(t, err)
		assert.JSONEq(t, `{"v":1}`, string(r.Doc), "the taken record is unchanged")
		_, err = s.GetRecord(ctx, "k", "after")
		require.NoError(t, err, "the write after the conflict committed")
	})
	t.Run("RacingSaves", func(t *testing.T) {
		s := h.New(t)
		_, err := s.SaveRecord(ctx, storage.Record{Kind: "credit", Key: "c", Doc: []byte("0"), Updated: at(0)})
		require.NoError(t, err)
		n := h.Concurrency
		const each = 5
		var mu sync.Mutex
		won := map[int64]int{}
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for done := 0; done < each; {
					r, err := s.GetRecord(ctx, "credit", "c")
					if err != nil {
						errs <- err
						return
					}
					v, _ := strconv.Atoi(string(r.Doc))
					r.Doc = []byte(strconv.Itoa(v + 1))
					nv, err := s.SaveRecord(ctx, r)
					switch {
					case errors.Is(err, storage.ErrConflict), errors.Is(err, storage.ErrUnavailable):
						continue
					case err != nil:
						errs <- err
						return
					}
					mu.Lock()
					won[nv]++
					mu.Unlock()
					done++
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		r, err := s.GetRecord(ctx, "credit", "c")
		require.NoError(t, err)
		assert.Equal(t, strconv.Itoa(n*each), string(r.Doc), "no increment lost")
		assert.Equal(t, int64(n*each+1), r.Version)
		for v, k := range won {
			assert.Equal(t, 1, k, "version %d saved by %d writers", v, k)
		}
		assert.Len(t, won, n*each)
	})
}
