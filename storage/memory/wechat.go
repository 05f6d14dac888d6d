package memory

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/storage"
	"github.com/minishop/minishop/wechat"
)

var _ wechat.Store = (*Store)(nil)

type recordKey struct{ kind, key string }

// GetRecord implements wechat.Store.
func (s *Store) GetRecord(ctx context.Context, kind, key string) (storage.Record, error) {
	var out storage.Record
	err := s.do(ctx, func(t *tx) error {
		r, ok := s.records[recordKey{kind, key}]
		if !ok {
			return fmt.Errorf("%s record %q: %w", kind, key, storage.ErrNotFound)
		}
		out = r
		out.Doc = slices.Clone(r.Doc)
		return nil
	})
	return out, err
}

// SaveRecord implements wechat.Store.
func (s *Store) SaveRecord(ctx context.Context, r storage.Record) (int64, error) {
	var v int64
	err := s.do(ctx, func(t *tx) error {
		k := recordKey{r.Kind, r.Key}
		old, had := s.records[k]
		switch {
		case r.Version == 0 && had:
			return conflict("%s record %q exists", r.Kind, r.Key)
		case r.Version != 0 && !had:
			return fmt.Errorf("%s record %q: %w", r.Kind, r.Key, storage.ErrNotFound)
		case r.Version != 0 && old.Version != r.Version:
			return conflict("%s record %q is at version %d, not %d", r.Kind, r.Key, old.Version, r.Version)
		}
		r.Version++
		r.Doc = slices.Clone(r.Doc)
		if !had {
			s.indexRecordKey(t, r.Kind, r.Key)
		}
		put(t, s.records, k, r)
		v = r.Version
		return nil
	})
	return v, err
}

// DueRecords implements wechat.Store.
func (s *Store) DueRecords(ctx context.Context, kind, status string, before time.Time, limit int) ([]storage.Record, error) {
	var out []storage.Record
	err := s.do(ctx, func(t *tx) error {
		for k, r := range s.records {
			if k.kind == kind && r.Status == status && !r.Due.After(before) {
				r.Doc = slices.Clone(r.Doc)
				out = append(out, r)
			}
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Due.Equal(out[j].Due) {
			return out[i].Due.Before(out[j].Due)
		}
		return out[i].Key < out[j].Key
	})
	if limit = commerce.PageLimit(limit); len(out) > limit {
		out = out[:limit]
	}
	return out, err
}

// RecordsBetween implements storage.Records, from the kind's ordered keys.
func (s *Store) RecordsBetween(ctx context.Context, kind, from, to string, limit int) ([]storage.Record, error) {
	var out []storage.Record
	err := s.do(ctx, func(t *tx) error {
		keys := s.recordKeys[kind]
		i, _ := slices.BinarySearch(keys, from)
		for ; i < len(keys) && keys[i] < to && len(out) < commerce.PageLimit(limit); i++ {
			r := s.records[recordKey{kind, keys[i]}]
			r.Doc = slices.Clone(r.Doc)
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

// indexRecordKey adds a new record's key to its kind's ordered keys, and
// logs how to take it out again.
func (s *Store) indexRecordKey(t *tx, kind, key string) {
	keys := s.recordKeys[kind]
	i, _ := slices.BinarySearch(keys, key)
	s.recordKeys[kind] = slices.Insert(keys, i, key)
	t.undo = append(t.undo, func() {
		keys := s.recordKeys[kind]
		if i, ok := slices.BinarySearch(keys, key); ok {
			s.recordKeys[kind] = slices.Delete(keys, i, i+1)
		}
	})
}
