package sqlstore

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/minishop/minishop/commerce"
)

var _ commerce.OrderPlacer = (*Store)(nil)

// PlaceOrder implements commerce.OrderPlacer: the order's INSERT, the
// guarded stock UPDATE and the transaction's outbox events, with any writes
// held back (see writeLater), go to the server in one pipeline on
// PostgreSQL, in a transaction InTx owns: one round trip where they would
// take three or more, with the SKU rows locked last. Elsewhere they run one
// by one.
func (s *Store) PlaceOrder(ctx context.Context, o *commerce.Order, stock []commerce.StockChange) error {
	ins, err := s.orderInsert(o)
	if err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, q querier) error {
		t := s.txFrom(ctx)
		if len(stock) == 0 {
			// No SKU stock to take (every line's units come from a
			// plugin's pool): the order and the events still travel
			// together.
			if t == nil {
				_, err := q.ExecContext(ctx, s.sql(ins.query), ins.args...)
				return err
			}
			_, err := s.flush(ctx, t, append([]statement{ins}, s.takeEvents(t)...)...)
			return err
		}
		affected, err := s.flush(ctx, t, append([]statement{ins, s.stockUpdate(o.MerchantID, stock)}, s.takeEvents(t)...)...)
		if err != nil {
			return err
		}
		if affected[1] != int64(len(stock)) {
			return s.shortStock(ctx, q, o.MerchantID, stock)
		}
		return nil
	})
}

// deferred is a write held back until the transaction's next statement
// (see writeLater); check judges the rows it changed.
type deferred struct {
	statement
	check func(affected int64) error
}

// writeLater holds st back, on PostgreSQL in a transaction InTx owns, to
// be sent with the transaction's next statement in one pipeline; it
// reports false elsewhere, where the caller runs st itself. For writes
// whose outcome nothing in the transaction waits for (a ledger entry, the
// points lots a spend burnt): a held write that fails fails the statement
// it travels with, so the transaction fails as it would have. Reads see
// every held write: they are sent first.
func (s *Store) writeLater(ctx context.Context, st statement, check func(affected int64) error) bool {
	t := s.txFrom(ctx)
	if t == nil || t.conn == nil {
		return false
	}
	t.later = append(t.later, deferred{st, check})
	return true
}

// flush sends t's held writes, then statements, in one pipeline (one by
// one where the driver cannot pipeline), checks the held writes, and
// returns the rows each of statements changed.
func (s *Store) flush(ctx context.Context, t *txState, statements ...statement) ([]int64, error) {
	later := t.later
	t.later = nil
	all := make([]statement, 0, len(later)+len(statements))
	for _, d := range later {
		all = append(all, d.statement)
	}
	all = append(all, statements...)
	affected, err := s.pipeline(ctx, t, all)
	if errors.Is(err, errNoPipeline) {
		// No pipeline (another dialect, a wrapped driver): one by one,
		// through the statement cache.
		c := conn{s: s, tx: t.tx, st: t}
		for i, st := range all {
			res, err := c.ExecContext(ctx, s.sql(st.query), st.args...)
			if affected[i], err = rowsAffected(res, err); err != nil {
				return nil, err
			}
		}
	} else if err != nil {
		if len(later) > 0 {
			t.failed = err // as below
		}
		return nil, err
	}
	for i, d := range later {
		if err := d.check(affected[i]); err != nil {
			// The statement that carried the write reports it, but its
			// caller may take the error for its own (a read's "not
			// found"): the transaction is doomed whatever it does next.
			t.failed = err
			return nil, err
		}
	}
	return affected[len(later):], nil
}

// pipelined is the result of a statement sent in a pipeline.
type pipelined int64

func (n pipelined) LastInsertId() (int64, error) {
	return 0, errors.New("sqlstore: no insert id from a pipeline")
}
func (n pipelined) RowsAffected() (int64, error) { return int64(n), nil }

// errNoPipeline: the connection's driver is not pgx's, nothing was sent.
var errNoPipeline = errors.New("sqlstore: the connection cannot pipeline")

// pipeline sends statements in one round trip on t's connection (pgx's
// batch: the server runs them in order in t's transaction) and returns the
// rows each changed, or the first failure, after which the server has run
// nothing more and the transaction is aborted.
func (s *Store) pipeline(ctx context.Context, t *txState, statements []statement) ([]int64, error) {
	affected := make([]int64, len(statements))
	if t.conn == nil {
		return affected, errNoPipeline
	}
	err := t.conn.Raw(func(dc any) error {
		c, ok := dc.(interface{ Conn() *pgx.Conn })
		if !ok {
			return errNoPipeline
		}
		b := &pgx.Batch{}
		for _, st := range statements {
			b.Queue(s.sql(st.query), st.args...)
		}
		res := c.Conn().SendBatch(ctx, b)
		for i := range statements {
			tag, err := res.Exec()
			if err != nil {
				res.Close()
				return err
			}
			affected[i] = tag.RowsAffected()
		}
		return res.Close()
	})
	if err != nil && !errors.Is(err, errNoPipeline) {
		err = s.translate(err)
	}
	return affected, err
}
