package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/storage"
	"github.com/minishop/minishop/wechat"
)

var _ wechat.Store = (*Store)(nil)

// dueMicros stores a record's due time; zero (not scheduled) is 0.
func dueMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return micros(t)
}

func scanRecord(row scanner) (storage.Record, error) {
	var r storage.Record
	var due, updated int64
	var doc string
	if err := row.Scan(&r.Kind, &r.Key, &r.Status, &due, &r.Version, &updated, &doc); err != nil {
		return r, err
	}
	if due != 0 {
		r.Due = fromMicros(due)
	}
	r.Updated, r.Doc = fromMicros(updated), []byte(doc)
	return r, nil
}

const recordColumns = "kind, rkey, status, due_us, version, updated_us, doc"

// GetRecord implements wechat.Store.
func (s *Store) GetRecord(ctx context.Context, kind, key string) (storage.Record, error) {
	r, err := scanRecord(s.q(ctx).QueryRowContext(ctx, s.sql("SELECT "+recordColumns+" FROM {p}wechat_records WHERE kind = ? AND rkey = ?"), kind, key))
	if s.d.classify(err) == errNoRows {
		return r, fmt.Errorf("sqlstore: %s record %q: %w", kind, key, storage.ErrNotFound)
	}
	return r, s.translate(err)
}

// SaveRecord implements wechat.Store. The update is guarded by the version
// read, so of two writers of one version exactly one changes a row, on one
// node or across a cluster's.
func (s *Store) SaveRecord(ctx context.Context, r storage.Record) (int64, error) {
	if r.Version == 0 {
		// Insert-if-absent rather than a refused INSERT: on PostgreSQL a
		// refused statement aborts the transaction, and callers go on in it
		// after a conflict (an event fed again finds its record there).
		res, err := s.exec(ctx, s.d.insertIgnore("{p}wechat_records", recordColumns, "kind, rkey", "kind"),
			r.Kind, r.Key, r.Status, dueMicros(r.Due), 1, micros(r.Updated), string(r.Doc))
		if err != nil {
			return 0, s.translate(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return 0, s.translate(err)
		} else if n == 0 {
			return 0, fmt.Errorf("sqlstore: %s record %q exists: %w", r.Kind, r.Key, storage.ErrConflict)
		}
		return 1, nil
	}
	res, err := s.exec(ctx, "UPDATE {p}wechat_records SET status = ?, due_us = ?, version = ?, updated_us = ?, doc = ? WHERE kind = ? AND rkey = ? AND version = ?",
		r.Status, dueMicros(r.Due), r.Version+1, micros(r.Updated), string(r.Doc), r.Kind, r.Key, r.Version)
	if err != nil {
		return 0, s.translate(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return 0, s.translate(err)
	} else if n == 1 {
		return r.Version + 1, nil
	}
	// Nothing changed: the record moved on, or there is none.
	if _, err := s.GetRecord(ctx, r.Kind, r.Key); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("sqlstore: %s record %q is no longer at version %d: %w", r.Kind, r.Key, r.Version, storage.ErrConflict)
}

// DueRecords implements wechat.Store.
func (s *Store) DueRecords(ctx context.Context, kind, status string, before time.Time, limit int) ([]storage.Record, error) {
	return queryAll(ctx, s, fmt.Sprintf("SELECT "+recordColumns+" FROM {p}wechat_records WHERE kind = ? AND status = ? AND due_us <= ? ORDER BY due_us, rkey LIMIT %d", commerce.PageLimit(limit)),
		scanRecord, kind, status, dueMicros(before))
}

// RecordsBetween implements storage.Records: a range of the primary key.
func (s *Store) RecordsBetween(ctx context.Context, kind, from, to string, limit int) ([]storage.Record, error) {
	return queryAll(ctx, s, fmt.Sprintf("SELECT "+recordColumns+" FROM {p}wechat_records WHERE kind = ? AND rkey >= ? AND rkey < ? ORDER BY rkey LIMIT %d", commerce.PageLimit(limit)),
		scanRecord, kind, from, to)
}
