// Package records keeps a package's documents in storage.Records: JSON
// documents read, changed and saved by compare-and-swap, each saying its
// status and when it is next due (what RunDue queries). The campaigns and
// stored-value packages keep their state so, on every store.
package records

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/storage"
)

// A Doc is a record's document: it says the record's status and when it
// is next due.
type Doc interface {
	Meta() (status string, due time.Time)
}

// ErrKeep tells Update to leave the record as it is.
var ErrKeep = errors.New("keep")

// Update reads the record of kind and key into a T, lets fn change it and
// saves it by compare-and-swap, reading and deciding again when another
// writer moved first (each conflict is another writer's success, so the
// loop ends). With create, a missing record starts as the zero T (fn sees
// fresh set); without, it is storage.ErrNotFound. fn returning ErrKeep
// saves nothing and returns the record as read.
func Update[T any, P interface {
	*T
	Doc
}](ctx context.Context, st storage.Records, kind, key string, now time.Time, create bool, fn func(p P, fresh bool) error) (P, error) {
	return UpdateFx(ctx, st, kind, key, now, create, func(p P, fresh bool, _ *Effects) error { return fn(p, fresh) })
}

// Effects are the writes a decision makes besides its record (events,
// other records). They run only once the record is saved: an attempt that
// lost the compare-and-swap leaves nothing behind, though it ran in the
// same transaction as the attempt that won.
type Effects []func() error

// Do adds f to run after the record is saved.
func (fx *Effects) Do(f func() error) { *fx = append(*fx, f) }

// UpdateFx is Update whose fn may add effects.
func UpdateFx[T any, P interface {
	*T
	Doc
}](ctx context.Context, st storage.Records, kind, key string, now time.Time, create bool, fn func(p P, fresh bool, fx *Effects) error) (P, error) {
	for {
		r, err := st.GetRecord(ctx, kind, key)
		fresh := false
		switch {
		case errors.Is(err, storage.ErrNotFound) && create:
			r, fresh = storage.Record{Kind: kind, Key: key}, true
		case err != nil:
			return nil, err
		}
		p := P(new(T))
		if !fresh {
			if err := json.Unmarshal(r.Doc, p); err != nil {
				return nil, fmt.Errorf("%s %s: %w", kind, key, err)
			}
		}
		var fx Effects
		if err := fn(p, fresh, &fx); err != nil {
			if err == ErrKeep {
				return p, nil
			}
			return nil, err
		}
		if r.Doc, err = json.Marshal(p); err != nil {
			return nil, err
		}
		r.Status, r.Due = p.Meta()
		r.Updated = now
		_, err = st.SaveRecord(ctx, r)
		if err == nil {
			for _, f := range fx {
				if err := f(); err != nil {
					return nil, err
				}
			}
			return p, nil
		}
		if !errors.Is(err, storage.ErrConflict) {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%w: %w", commerce.ErrUnavailable, err)
		}
	}
}

// Read returns the record of kind and key as a T.
func Read[T any](ctx context.Context, st storage.Records, kind, key string) (*T, error) {
	r, err := st.GetRecord(ctx, kind, key)
	if err != nil {
		return nil, err
	}
	p := new(T)
	if err := json.Unmarshal(r.Doc, p); err != nil {
		return nil, fmt.Errorf("%s %s: %w", kind, key, err)
	}
	return p, nil
}

// Between returns up to limit records of kind with from <= key < to, by
// key, as Ts.
func Between[T any](ctx context.Context, st storage.Records, kind, from, to string, limit int) ([]T, error) {
	rs, err := st.RecordsBetween(ctx, kind, from, to, limit)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(rs))
	for i, r := range rs {
		if err := json.Unmarshal(r.Doc, &out[i]); err != nil {
			return nil, fmt.Errorf("%s %s: %w", kind, r.Key, err)
		}
	}
	return out, nil
}

// Insert stores a new record; storage.ErrConflict when the key is taken.
func Insert(ctx context.Context, st storage.Records, kind, key string, now time.Time, d Doc) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	status, due := d.Meta()
	_, err = st.SaveRecord(ctx, storage.Record{Kind: kind, Key: key, Status: status, Due: due, Doc: b, Updated: now})
	return err
}

// Due calls fn for every record of kind with status due at or before now,
// in pages of the store's DueRecords, each record once (fn usually moves it
// on, out of the query; one it leaves is not seen again in this run). A
// record fn fails on does not stop the others: the errors are joined.
func Due(ctx context.Context, st storage.Records, kind, status string, now time.Time, fn func(r storage.Record) error) error {
	var errs []error
	seen := map[string]bool{}
	for {
		recs, err := st.DueRecords(ctx, kind, status, now, 200)
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		fresh := 0
		for _, r := range recs {
			if seen[r.Key] {
				continue
			}
			seen[r.Key] = true
			fresh++
			if err := fn(r); err != nil {
				errs = append(errs, err)
			}
		}
		if fresh == 0 || len(recs) < 200 {
			return errors.Join(errs...)
		}
	}
}

// Emit appends an outbox event whose payload is payload as JSON, in the
// caller's transaction.
func Emit(ctx context.Context, events interface {
	AppendEvents(context.Context, ...commerce.Event) error
}, id uuid.UUID, typ, aggregate string, merchant commerce.MerchantID, at time.Time, payload any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	return events.AppendEvents(ctx, commerce.Event{ID: id, Type: typ, AggregateID: aggregate, MerchantID: merchant, Payload: b, Time: at})
}
