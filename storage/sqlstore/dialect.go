package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
)

// Dialect names the database behind a *sql.DB.
type Dialect string

// The dialects minishop speaks.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
	MySQL    Dialect = "mysql"
)

// errClass is what a driver error means to the store.
type errClass int

const (
	errOther     errClass = iota
	errNoRows             // the row asked for is not there
	errDuplicate          // a unique key already holds the value
	// errRetryable: the database refused or aborted the transaction to
	// resolve a conflict (serialization failure, deadlock, Galera
	// certification failure, lock timeout, busy database). Nothing of it was
	// applied, even when reported at COMMIT: running it again is safe.
	errRetryable
	// errUnavailable: the connection failed (refused, reset, closed, killed,
	// EOF), an operation timed out, the server is shutting down or not ready,
	// or the context ended. What was in flight may or may not have been
	// applied: a transaction that had not reached COMMIT was rolled back, but
	// an autocommit statement or a COMMIT may have taken effect.
	errUnavailable
)

// dialect is the one seam where the databases differ. Everything else is
// written once. Each field says why the dialects differ there.
type dialect struct {
	name Dialect
	// Placeholders: PostgreSQL numbers them ($1), the others use ?.
	numbered bool
	// Row locks for read-modify-write: SQLite has no FOR UPDATE, but its
	// transactions take the database write lock at BEGIN (_txlock=immediate),
	// which serializes writers just as well.
	forUpdate string
	// forShare is the shared row lock several readers may hold at once
	// while a FOR UPDATE waits for them all: FOR SHARE on PostgreSQL, LOCK
	// IN SHARE MODE on MySQL (MariaDB lacks FOR SHARE), nothing on SQLite
	// (see forUpdate).
	forShare string
	// IDs: PostgreSQL has a native uuid type and takes the text form; MySQL
	// BINARY(16) and SQLite BLOB take the 16 bytes.
	uuidText bool
	// prepare: cache prepared statements in the store. SQLite parses every
	// unprepared statement again; MySQL's driver turns each into prepare,
	// execute and close. pgx caches statements on its own.
	prepare bool
	// Insert-if-absent: ON CONFLICT DO NOTHING (PostgreSQL, SQLite) or a
	// no-op ON DUPLICATE KEY UPDATE (MySQL; INSERT IGNORE would also
	// swallow unrelated errors).
	insertIgnore func(table, cols, conflict, firstCol string) string
	// upsertMax is the upsert clause that keeps the greater of the stored
	// and the new value of col (a cursor only moves forward): GREATEST on
	// PostgreSQL and MySQL, the scalar MAX on SQLite.
	upsertMax func(table, conflict, col string) string
	// intArg is a placeholder for an integer where nothing around it gives
	// its type (a CASE branch): PostgreSQL would take it for text.
	intArg string
	// sessionRC: the pool's MySQL sessions are READ COMMITTED already (see
	// withSessionIsolation), so transactions ask for no level.
	sessionRC bool
	// galera: the server is a MariaDB Galera node (see forCluster), where a
	// transaction's statements after its first skip the causal wait.
	galera bool
}

var dialects = map[Dialect]*dialect{
	SQLite: {
		name: SQLite, forUpdate: "", forShare: "", prepare: true, intArg: "?",
		insertIgnore: func(table, cols, conflict, _ string) string {
			return "INSERT INTO " + table + " (" + cols + ") VALUES (" + marks(cols) + ") ON CONFLICT (" + conflict + ") DO NOTHING"
		},
		upsertMax: func(table, conflict, col string) string {
			return " ON CONFLICT (" + conflict + ") DO UPDATE SET " + col + " = MAX(" + table + "." + col + ", excluded." + col + ")"
		},
	},
	Postgres: {
		name: Postgres, numbered: true, forUpdate: " FOR UPDATE", forShare: " FOR SHARE", uuidText: true, intArg: "CAST(? AS BIGINT)",
		insertIgnore: func(table, cols, conflict, _ string) string {
			return "INSERT INTO " + table + " (" + cols + ") VALUES (" + marks(cols) + ") ON CONFLICT (" + conflict + ") DO NOTHING"
		},
		upsertMax: func(table, conflict, col string) string {
			return " ON CONFLICT (" + conflict + ") DO UPDATE SET " + col + " = GREATEST(" + table + "." + col + ", excluded." + col + ")"
		},
	},
	MySQL: {
		name: MySQL, forUpdate: " FOR UPDATE", forShare: " LOCK IN SHARE MODE", prepare: true, intArg: "?",
		insertIgnore: func(table, cols, _, firstCol string) string {
			return "INSERT INTO " + table + " (" + cols + ") VALUES (" + marks(cols) + ") ON DUPLICATE KEY UPDATE " + firstCol + " = " + firstCol
		},
		upsertMax: func(_, _, col string) string {
			return " ON DUPLICATE KEY UPDATE " + col + " = GREATEST(" + col + ", VALUES(" + col + "))"
		},
	},
}

func marks(cols string) string {
	n := strings.Count(cols, ",") + 1
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// rebind rewrites ? placeholders to $1, $2... for PostgreSQL, and to +?
// for SQLite. minishop's SQL never has a ? inside a string literal.
//
// Why +? on SQLite: modernc's SQLite is built with STAT4, and once a host
// runs ANALYZE (or PRAGMA optimize) the planner looks at the values bound
// to bare parameters compared with indexed columns, marks such a statement
// as depending on them, and prepares it again whenever they change: every
// execution of a cached statement, which measured 35-45 % fewer checkouts
// per second. The unary plus (a no-op on every value) hides the value from
// the planner, as SQLite's query planner stability guarantee would, so a
// statement is planned once from the table statistics and stays prepared;
// indexes are used as before, as the plus is on the value side.
func (d *dialect) rebind(q string) string {
	switch {
	case d.name == SQLite:
		return strings.ReplaceAll(q, "?", "+?")
	case !d.numbered:
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// id turns a UUID into the argument its column takes.
func (d *dialect) id(u uuid.UUID) any {
	if d.uuidText {
		return u.String()
	}
	b := u // copy: the driver may keep the slice
	return b[:]
}

// classify translates a driver error, in one place per dialect: the
// server's codes first (a server error may wrap nothing else), then the
// failures every driver shares.
func (d *dialect) classify(err error) errClass {
	if err == nil {
		return errOther
	}
	if errors.Is(err, sql.ErrNoRows) {
		return errNoRows
	}
	if errors.Is(err, errStale) {
		return errRetryable
	}
	switch d.name {
	case SQLite:
		var e *sqlite.Error
		if errors.As(err, &e) {
			switch code := e.Code(); {
			case code == 2067 || code == 1555: // SQLITE_CONSTRAINT_UNIQUE, _PRIMARYKEY
				return errDuplicate
			case code&0xff == 5 || code&0xff == 6: // SQLITE_BUSY, SQLITE_LOCKED and their extended codes
				return errRetryable
			case code == 9: // SQLITE_INTERRUPT: what a context ending mid-statement gives
				return errUnavailable
			}
		}
	case Postgres:
		var e *pgconn.PgError
		if errors.As(err, &e) {
			switch e.Code {
			case "23505": // unique_violation
				return errDuplicate
			case "40001", "40P01", "55P03": // serialization_failure, deadlock_detected, lock_not_available
				return errRetryable
			case "57014", // query_canceled: statement_timeout, or the cancel request a context ending sends
				"57P01", "57P02", "57P03", "57P05", // admin_shutdown, crash_shutdown, cannot_connect_now, idle_session_timeout
				"25P03", // idle_in_transaction_session_timeout
				"40003", // statement_completion_unknown
				"53300": // too_many_connections
				return errUnavailable
			}
			if strings.HasPrefix(e.Code, "08") { // connection_exception and its subclasses
				return errUnavailable
			}
			return errOther
		}
		// pgconn's own failures: a failed dial, a timeout, and errors it
		// raised before sending anything (a closed connection).
		var ce *pgconn.ConnectError
		if errors.As(err, &ce) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) {
			return errUnavailable
		}
	case MySQL:
		var e *mysql.MySQLError
		if errors.As(err, &e) {
			switch e.Number {
			case 1062: // ER_DUP_ENTRY
				return errDuplicate
			case 1213, 1205, 3572, 9007: // ER_LOCK_DEADLOCK (Galera's certification failure too), ER_LOCK_WAIT_TIMEOUT, MySQL 8 NOWAIT, TiDB's optimistic write conflict
				return errRetryable
			case 1040, // ER_CON_COUNT_ERROR: too many connections
				1047,                   // ER_UNKNOWN_COM_ERROR: a Galera node not synced or out of the primary component ("WSREP has not yet prepared node")
				1053,                   // ER_SERVER_SHUTDOWN
				1152, 1158, 1159, 1160, // ER_ABORTING_CONNECTION, ER_NET_READ_ERROR, ER_NET_READ_INTERRUPTED, ER_NET_ERROR_ON_WRITE
				1161,       // ER_NET_WRITE_INTERRUPTED
				1317,       // ER_QUERY_INTERRUPTED: KILL QUERY
				1927,       // ER_CONNECTION_KILLED (MariaDB)
				1969,       // ER_STATEMENT_TIMEOUT (MariaDB max_statement_time)
				3024, 4031: // ER_QUERY_TIMEOUT (MySQL max_execution_time), ER_CLIENT_INTERACTION_TIMEOUT
				return errUnavailable
			}
			return errOther
		}
		if errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, mysql.ErrPktSync) {
			return errUnavailable // the driver's word for a connection that broke mid-exchange
		}
	}
	if connectionFailed(err) {
		return errUnavailable
	}
	return errOther
}

// connectionFailed reports the failures every driver shares: the context
// ended, database/sql or the driver found the connection unusable, or the
// network failed (refused, reset, timed out, closed, name lookup failed).
func connectionFailed(err error) bool {
	for _, target := range []error{
		context.Canceled, context.DeadlineExceeded, os.ErrDeadlineExceeded,
		driver.ErrBadConn, sql.ErrConnDone, sql.ErrTxDone, net.ErrClosed,
		io.EOF, io.ErrUnexpectedEOF,
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE,
		syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ENETDOWN,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	// Not any net.Error: syscall.Errno implements it too, and a missing
	// SQLite file is no network failure.
	var op *net.OpError
	var dns *net.DNSError
	var ne net.Error
	return errors.As(err, &op) || errors.As(err, &dns) || errors.As(err, &ne) && ne.Timeout()
}

func parseDialect(name Dialect) (*dialect, error) {
	d, ok := dialects[name]
	if !ok {
		return nil, fmt.Errorf("sqlstore: unknown dialect %q (want sqlite, postgres or mysql)", name)
	}
	return d, nil
}
