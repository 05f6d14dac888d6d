package wechat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/minishop/minishop/storage"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/wechat"
)

func TestJobsRetryBackOffAndFail(t *testing.T) {
	w := newWorld(t)
	c := w.client(t)
	ctx := w.ctx
	for _, k := range []string{"ok", "flaky", "bad"} {
		require.NoError(t, c.Enqueue(ctx, "test_job", k, &wechat.TestJob{N: 1}))
		// An event delivered again finds its work queued.
		require.NoError(t, c.Enqueue(ctx, "test_job", k, &wechat.TestJob{N: 2}))
	}
	retry := wechat.Retry{First: time.Minute, Max: 4 * time.Minute, MaxAttempts: 4}
	tries := map[string]int{}
	do := func(ctx context.Context, rec *storage.Record, doc *wechat.TestJob) error {
		tries[rec.Key]++
		assert.Equal(t, 1, doc.N, "the first enqueue's document is kept")
		switch rec.Key {
		case "flaky":
			if tries["flaky"] < 3 {
				return fmt.Errorf("%w: busy", commerce.ErrUnavailable)
			}
		case "bad":
			return &commerce.Error{Kind: commerce.KindInvalid, Err: fmt.Errorf("refused")}
		}
		doc.N = 10
		return nil
	}
	n, err := wechat.Work(ctx, c, "test_job", retry, 10, do)
	require.NoError(t, err)
	assert.Equal(t, 2, n, "ok done, bad failed")
	rec, err := w.store.GetRecord(ctx, "test_job", "flaky")
	require.NoError(t, err)
	assert.Equal(t, wechat.StatusPending, rec.Status)
	wait := rec.Due.Sub(w.clock.Now())
	assert.True(t, wait > 50*time.Second && wait <= time.Minute, "first back-off about a minute, got %v", wait)

	// Nothing is due until the back-off has passed.
	n, err = wechat.Work(ctx, c, "test_job", retry, 10, do)
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.Equal(t, 1, tries["flaky"])
	w.clock.Advance(time.Minute)
	_, _ = wechat.Work(ctx, c, "test_job", retry, 10, do)
	rec, _ = w.store.GetRecord(ctx, "test_job", "flaky")
	wait = rec.Due.Sub(w.clock.Now())
	assert.True(t, wait > 100*time.Second && wait <= 2*time.Minute, "second back-off doubles, got %v", wait)
	w.clock.Advance(2 * time.Minute)
	n, _ = wechat.Work(ctx, c, "test_job", retry, 10, do)
	assert.Equal(t, 1, n)
	rec, _ = w.store.GetRecord(ctx, "test_job", "flaky")
	assert.Equal(t, wechat.StatusDone, rec.Status)
	var doc wechat.TestJob
	require.NoError(t, json.Unmarshal(rec.Doc, &doc))
	assert.Equal(t, 3, doc.Attempts)
	assert.Equal(t, 10, doc.N, "do's changes are saved")
	assert.Empty(t, doc.LastError)

	bad, _ := w.store.GetRecord(ctx, "test_job", "bad")
	assert.Equal(t, wechat.StatusFailed, bad.Status)
	require.NoError(t, json.Unmarshal(bad.Doc, &doc))
	assert.Contains(t, doc.LastError, "refused")
	failed, err := w.store.DueRecords(ctx, "test_job", wechat.StatusFailed, w.clock.Now().Add(time.Hour), 10)
	require.NoError(t, err)
	assert.Len(t, failed, 1, "a host finds what failed")

	require.NoError(t, wechat.Requeue(ctx, c, "test_job", "bad"))
	bad, _ = w.store.GetRecord(ctx, "test_job", "bad")
	assert.Equal(t, wechat.StatusPending, bad.Status)
}

func TestJobsGiveUpAfterMaxAttempts(t *testing.T) {
	w := newWorld(t)
	c := w.client(t)
	require.NoError(t, c.Enqueue(w.ctx, "test_job", "k", &wechat.TestJob{}))
	retry := wechat.Retry{First: time.Second, Max: time.Second, MaxAttempts: 3}
	for range 5 {
		_, err := wechat.Work(w.ctx, c, "test_job", retry, 10, func(context.Context, *storage.Record, *wechat.TestJob) error {
			return fmt.Errorf("%w: down", commerce.ErrUnavailable)
		})
		require.NoError(t, err)
		w.clock.Advance(2 * time.Second)
	}
	rec, _ := w.store.GetRecord(w.ctx, "test_job", "k")
	assert.Equal(t, wechat.StatusFailed, rec.Status)
	var doc wechat.TestJob
	require.NoError(t, json.Unmarshal(rec.Doc, &doc))
	assert.Equal(t, 3, doc.Attempts)
}

// Workers of several processes racing over the same due records never work
// on one record at once.
func TestJobsOneWorkerPerRecord(t *testing.T) {
	w := newWorld(t)
	clients := []*wechat.Client{w.client(t), w.client(t), w.client(t)}
	for i := range 40 {
		require.NoError(t, clients[0].Enqueue(w.ctx, "test_job", fmt.Sprint(i), &wechat.TestJob{}))
	}
	var mu sync.Mutex
	done := map[string]int{}
	var total atomic.Int64
	var wg sync.WaitGroup
	for g := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := wechat.Work(w.ctx, clients[g%3], "test_job", wechat.Retry{}, 100, func(_ context.Context, rec *storage.Record, _ *wechat.TestJob) error {
				mu.Lock()
				done[rec.Key]++
				mu.Unlock()
				return nil
			})
			assert.NoError(t, err)
			total.Add(int64(n))
		}()
	}
	wg.Wait()
	assert.Len(t, done, 40)
	for k, n := range done {
		assert.Equal(t, 1, n, "record %s worked %d times", k, n)
	}
	assert.EqualValues(t, 40, total.Load())
}
