package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/go-sql-driver/mysql"
)

// forCluster adapts the dialect to the server behind db: on a MariaDB
// Galera node (wsrep_on) statements run unprepared.
//
// Why: MariaDB 10.11's Galera loses a transaction that another node's
// write aborts (a brute-force abort, on a row lock the applier needs)
// while its client sits between statements, when the next statement is a
// prepared (COM_STMT_EXECUTE) SELECT: the SELECT answers, the transaction
// has been rolled back underneath, and COMMIT reports success. The text
// protocol reports the abort (error 1213) as it should, and InTx retries.
// Seen as 11 group-gift claims of 10 slots (and "slot taken under its
// lock": the statements after the SELECT ran outside the rolled-back
// transaction), lost points-ledger updates and orders cancelled twice
// over; a plain repro (48 clients decrementing one counter
// in UPDATE then prepared SELECT transactions over three nodes) loses a
// few decrements in most runs, none with the SELECT unprepared.
//
// The driver prepares too: a statement with arguments goes through
// COM_STMT_EXECUTE unless the DSN sets interpolateParams=true, which a host
// on Galera must therefore set. The store cannot change the DSN of a pool
// it is given, so it checks instead: it runs one statement with an argument
// and refuses to open when the server counted a prepare for it, rather than
// run on a pool that can lose committed work.
//
// A MySQL server (no wsrep_on variable) or a MariaDB without Galera keeps
// the prepared statements. The dialect is copied: the shared one stays.
func forCluster(ctx context.Context, db *sql.DB, d *dialect) (*dialect, error) {
	if d.name != MySQL || !d.prepare {
		return d, nil
	}
	var on sql.NullString
	var prepares bool
	// A node out of the primary component, or still joining, answers
	// 1047 for a while: the probe is retried then, for up to 10 seconds,
	// rather than taken for a server without Galera (which would keep
	// prepared statements on a cluster).
	err := probe(ctx, d, func() error {
		var me *mysql.MySQLError
		switch err := db.QueryRowContext(ctx, "SELECT @@wsrep_on").Scan(&on); {
		case errors.As(err, &me) && me.Number == 1193:
			on = sql.NullString{}
			return nil
		case err != nil:
			return err
		}
		if on.String != "1" && on.String != "ON" {
			return nil
		}
		var err error
		prepares, err = driverPrepares(ctx, db)
		return err
	})
	if err != nil {
		// The server cannot be asked (it is down: a store may be opened
		// before its database is up, with NoMigrate). The store keeps its
		// prepared statements, as for a server without Galera.
		return d, nil
	}
	if on.String != "1" && on.String != "ON" {
		return d, nil
	}
	if prepares {
		return nil, errors.New("sqlstore: galera: the pool prepares statements; open it with interpolateParams=true in the DSN " +
			"(on a Galera node a prepared statement can hide the abort of its transaction, and COMMIT then reports success)")
	}
	c := *d
	c.prepare = false
	c.galera = true
	return &c, nil
}

// noCausalWait is the MariaDB prefix that runs one statement without the
// causal wait a session's wsrep_sync_wait asks for.
//
// Why: the wait (a read waits until the node has applied every write
// committed anywhere before it) deadlocks with the node's applier when it
// is made in a transaction that already holds row locks. The applier needs
// a lock the transaction holds, to apply another node's committed write
// to the same row; the transaction's read waits for that write to be
// applied; MariaDB 10.11 does not break the wait to abort the transaction,
// so both sit until the causal read times out (30 s, reported as a lock
// wait timeout, 1205), with every local transaction queued on the rows
// behind them. Seen as checkouts of two SKUs over three nodes failing after
// 30 and 50 seconds under load. The wait at a transaction's first statement
// (and its BEGIN) is what read-your-writes needs: the transaction holds no
// lock yet, and every later statement sees at least what that one waited
// for. The prefix costs no round trip.
const noCausalWait = "SET STATEMENT wsrep_sync_wait=0 FOR "

// causal returns query as t's next statement on a Galera node: the first
// statement of a transaction as it is, later ones without the causal wait
// (see noCausalWait).
func (s *Store) causal(t *txState, query string) string {
	if t == nil || !s.d.galera {
		return query
	}
	if !t.sent {
		t.sent = true
		return query
	}
	return noCausalWait + query
}

// withSessionIsolation marks a MySQL dialect whose pool's sessions start
// in READ COMMITTED (a DSN with tx_isolation='READ-COMMITTED' on MariaDB,
// transaction_isolation on MySQL 8): InTx then asks nothing per
// transaction, where the driver would send SET TRANSACTION ISOLATION LEVEL
// in a round trip of its own before every BEGIN. Only READ COMMITTED is
// taken: a pool at REPEATABLE READ still gets READ COMMITTED per
// transaction. A failed probe changes nothing.
func withSessionIsolation(ctx context.Context, db *sql.DB, d *dialect) *dialect {
	if d.name != MySQL {
		return d
	}
	var level string
	err := db.QueryRowContext(ctx, "SELECT @@SESSION.tx_isolation").Scan(&level)
	if me := (*mysql.MySQLError)(nil); errors.As(err, &me) && me.Number == 1193 { // MySQL 8 has only the new name
		err = db.QueryRowContext(ctx, "SELECT @@SESSION.transaction_isolation").Scan(&level)
	}
	if err != nil || level != "READ-COMMITTED" {
		return d
	}
	c := *d
	c.sessionRC = true
	return &c
}

// driverPrepares reports whether a statement with an argument reaches the
// server as a prepared statement on db's connections: it compares the
// session's Com_stmt_prepare counter around one such statement, on one
// connection.
func driverPrepares(ctx context.Context, db *sql.DB) (bool, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	count := func() (int64, error) {
		var name string
		var n int64
		err := conn.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Com_stmt_prepare'").Scan(&name, &n)
		return n, err
	}
	before, err := count()
	if err != nil {
		return false, err
	}
	var one int
	if err := conn.QueryRowContext(ctx, "SELECT ?", 1).Scan(&one); err != nil {
		return false, err
	}
	after, err := count()
	if err != nil {
		return false, err
	}
	return after > before, nil
}

// probe runs fn until it succeeds, fails with other than a node not ready
// (1047) or an abort, or 10 seconds have passed, with the store's backoff.
// A server that cannot be reached fails at once, as any open would.
func probe(ctx context.Context, d *dialect, fn func() error) error {
	deadline := time.Now().Add(10 * time.Second)
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil {
			return nil
		}
		var me *mysql.MySQLError
		notReady := errors.As(err, &me) && me.Number == 1047
		if (!notReady && d.classify(err) != errRetryable) || ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(backoff(attempt))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}
