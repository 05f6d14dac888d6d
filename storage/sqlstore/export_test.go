package sqlstore

import "context"

// Exec runs q (with {p} and ? placeholders) in ctx's transaction, or on the
// database: the dialect tests use it to make row locks and deadlocks happen.
func Exec(ctx context.Context, s *Store, q string, args ...any) error {
	_, err := s.q(ctx).ExecContext(ctx, s.sql(q), args...)
	return err
}

// Prepares reports whether s runs its statements prepared.
func Prepares(s *Store) bool { return s.d.prepare }

// AsksIsolation reports whether s's transactions ask for READ COMMITTED
// each (rather than rely on the session's level).
func AsksIsolation(s *Store) bool { return s.txOptions() != nil }

// QueryRow runs q (with {p} and ? placeholders) in ctx's transaction, or on
// the database.
func QueryRow(ctx context.Context, s *Store, q string, args ...any) row {
	return s.q(ctx).QueryRowContext(ctx, s.sql(q), args...)
}
