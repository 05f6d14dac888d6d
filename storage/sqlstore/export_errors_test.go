package sqlstore

import (
	"context"
	"time"
)

// ConnID returns the server's id of the connection that ctx's transaction
// runs on (or a pool connection): the tests kill exactly that one.
func ConnID(ctx context.Context, s *Store) (int64, error) {
	q := "SELECT CONNECTION_ID()"
	if s.d.name == Postgres {
		q = "SELECT pg_backend_pid()"
	}
	var id int64
	err := s.q(ctx).QueryRowContext(ctx, q).Scan(&id)
	return id, err
}

// Backoff is the pause InTx takes before attempt+1, for the raw-SQL
// baselines of the benchmarks, which retry as InTx does.
func Backoff(attempt int) time.Duration { return backoff(attempt) }
