package wechat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/storage"
)

// Outbox is where the relays read the shop's events: *commerce.Service.
// Events come at least once; a relay turns each into records keyed so that
// a redelivered event finds its record already there.
type Outbox interface {
	PollEvents(ctx context.Context, consumer string, limit int) ([]commerce.Event, error)
	AckEvents(ctx context.Context, consumer string, seq uint64) error
}

// Statuses of the records a relay works through (an upload, a message).
const (
	// StatusPending: the work is due at the record's Due time.
	StatusPending = "pending"
	// StatusDone: the work is done; Due is cleared.
	StatusDone = "done"
	// StatusFailed: the platform refused the work for good, or it kept
	// failing for Retry.MaxAttempts; it waits for the host (fix the cause,
	// then ask for it again).
	StatusFailed = "failed"
)

// Retry is how a relay retries work the platform could not take: after
// attempt n it waits First·2^(n-1), at most Max, with a random tenth off
// so a fleet of processes does not retry in step; after MaxAttempts the
// record is failed.
type Retry struct {
	First       time.Duration // default 10 s
	Max         time.Duration // default 1 h
	MaxAttempts int           // default 20: about 16 hours of trying
}

func (r Retry) withDefaults() Retry {
	if r.First <= 0 {
		r.First = 10 * time.Second
	}
	if r.Max <= 0 {
		r.Max = time.Hour
	}
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = 20
	}
	return r
}

// after is the wait following the attempt-th failed attempt (from 1).
func (r Retry) after(attempt int) time.Duration {
	d := r.First
	for i := 1; i < attempt && d < r.Max; i++ {
		d *= 2
	}
	d = min(d, r.Max)
	return d - time.Duration(rand.Int64N(int64(d)/10+1))
}

// jobLease is how long a process holds a record it is working on before
// another process may take it: the work is one or two API calls with a
// 10 s timeout each.
const jobLease = time.Minute

// Job is the common part of a relay record's document: how the work went.
// Each relay's document embeds it beside its own fields.
type Job struct {
	Attempts  int       `json:"attempts,omitempty"`
	LastTry   time.Time `json:"last_try,omitzero"`
	LastError string    `json:"last_error,omitempty"` // the platform's answer or the failure, never a secret
	Done      time.Time `json:"done,omitzero"`
}

// job is a relay record's document: Job plus the relay's own fields.
type job interface {
	state() *Job
}

func (j *Job) state() *Job { return j }

// feed reads up to limit of the outbox's events for consumer, lets enqueue
// write each one's records (in one transaction per event, so an event is
// enqueued whole or not at all) and acknowledges them. enqueue must
// tolerate an event it has seen: a record already there is not an error.
// It returns how many events it read.
func (c *Client) feed(ctx context.Context, box Outbox, consumer string, limit int, enqueue func(ctx context.Context, ev commerce.Event) error) (int, error) {
	evs, err := box.PollEvents(ctx, consumer, limit)
	if err != nil || len(evs) == 0 {
		return 0, err
	}
	for i, ev := range evs {
		if err := c.cfg.Store.InTx(ctx, func(ctx context.Context) error { return enqueue(ctx, ev) }); err != nil {
			if i > 0 {
				err = errors.Join(err, box.AckEvents(ctx, consumer, evs[i-1].Seq))
			}
			return i, fmt.Errorf("event %d (%s): %w", ev.Seq, ev.Type, err)
		}
	}
	return len(evs), box.AckEvents(ctx, consumer, evs[len(evs)-1].Seq)
}

// enqueue inserts a pending record of kind under key, due now, unless one
// is there: an event delivered again finds its work already queued.
func (c *Client) enqueue(ctx context.Context, kind, key string, doc job) error {
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	_, err = c.cfg.Store.SaveRecord(ctx, storage.Record{Kind: kind, Key: key, Status: StatusPending, Due: c.Now(), Doc: b})
	if errors.Is(err, storage.ErrConflict) {
		return nil
	}
	return err
}

// work runs the records of kind that are due, up to limit, each through
// do. A record is taken by a compare-and-swap that moves its Due a lease
// ahead, so two processes never work on it at once and a process that dies
// mid-work leaves it to be taken again when the lease ends (at least once:
// do must find out whether a previous attempt went through when that
// matters). do reads and updates the document in place; it returns nil
// when the work is done, a retryable error (commerce.Retryable) to try
// again later, any other error to fail the record. work returns how many
// records it finished (done or failed) and the first error of its own
// (the store's), not the platform's: those are in the records.
func work[D any, P interface {
	*D
	job
}](ctx context.Context, c *Client, kind string, retry Retry, limit int, do func(ctx context.Context, rec *storage.Record, doc P) error) (int, error) {
	retry = retry.withDefaults()
	now := c.Now()
	recs, err := c.cfg.Store.DueRecords(ctx, kind, StatusPending, now, commerce.PageLimit(limit))
	if err != nil {
		return 0, err
	}
	finished := 0
	for _, rec := range recs {
		doc := P(new(D))
		if err := json.Unmarshal(rec.Doc, doc); err != nil {
			return finished, fmt.Errorf("record %s/%s: %w", kind, rec.Key, err)
		}
		// Take it.
		rec.Due = now.Add(jobLease)
		if rec.Version, err = c.cfg.Store.SaveRecord(ctx, rec); err != nil {
			if errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrNotFound) {
				continue // another process took it
			}
			return finished, err
		}
		derr := do(ctx, &rec, doc)
		if errors.Is(derr, storage.ErrConflict) {
			// The record moved under this worker (its lease ran out, or a
			// push changed it; on a cluster a node saw the change first):
			// its state is the other writer's, due again as that writer
			// left it, not a failure of the work.
			continue
		}
		st := doc.state()
		st.Attempts++
		st.LastTry = c.Now()
		switch {
		case derr == nil:
			st.LastError, st.Done = "", st.LastTry
			rec.Status, rec.Due = StatusDone, time.Time{}
		case commerce.Retryable(derr) && st.Attempts < retry.MaxAttempts:
			st.LastError = truncate(derr.Error(), 500)
			rec.Due = st.LastTry.Add(retry.after(st.Attempts))
		default:
			st.LastError = truncate(derr.Error(), 500)
			rec.Status, rec.Due = StatusFailed, time.Time{}
		}
		if rec.Doc, err = json.Marshal(doc); err != nil {
			return finished, err
		}
		if _, err := c.cfg.Store.SaveRecord(ctx, rec); err != nil {
			if errors.Is(err, storage.ErrConflict) {
				continue // the lease ran out and another process took over
			}
			return finished, err
		}
		if rec.Status != StatusPending {
			finished++
		}
	}
	return finished, nil
}

// requeue makes a failed (or done) record of kind pending again, due now,
// with its attempts reset, for a host that fixed what made it fail.
func requeue[D any, P interface {
	*D
	job
}](ctx context.Context, c *Client, kind, key string) error {
	for {
		rec, err := c.cfg.Store.GetRecord(ctx, kind, key)
		if err != nil {
			return err
		}
		if rec.Status == StatusPending {
			return nil
		}
		doc := P(new(D))
		if err := json.Unmarshal(rec.Doc, doc); err != nil {
			return err
		}
		st := doc.state()
		st.Attempts, st.Done = 0, time.Time{}
		if rec.Doc, err = json.Marshal(doc); err != nil {
			return err
		}
		rec.Status, rec.Due = StatusPending, c.Now()
		if _, err = c.cfg.Store.SaveRecord(ctx, rec); !errors.Is(err, storage.ErrConflict) {
			return err
		}
	}
}
