package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

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
	errRetryable          // serialization failure, deadlock, lock timeout, busy
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
}

var dialects = map[Dialect]*dialect{
	SQLite: {
		name: SQLite, forUpdate: "", forShare: "", prepare: true,
		insertIgnore: func(table, cols, conflict, _ string) string {
			return "INSERT INTO " + table + " (" + cols + ") VALUES (" + marks(cols) + ") ON CONFLICT (" + conflict + ") DO NOTHING"
		},
		upsertMax: func(table, conflict, col string) string {
			return " ON CONFLICT (" + conflict + ") DO UPDATE SET " + col + " = MAX(" + table + "." + col + ", excluded." + col + ")"
		},
	},
	Postgres: {
		name: Postgres, numbered: true, forUpdate: " FOR UPDATE", forShare: " FOR SHARE", uuidText: true,
		insertIgnore: func(table, cols, conflict, _ string) string {
			return "INSERT INTO " + table + " (" + cols + ") VALUES (" + marks(cols) + ") ON CONFLICT (" + conflict + ") DO NOTHING"
		},
		upsertMax: func(table, conflict, col string) string {
			return " ON CONFLICT (" + conflict + ") DO UPDATE SET " + col + " = GREATEST(" + table + "." + col + ", excluded." + col + ")"
		},
	},
	MySQL: {
		name: MySQL, forUpdate: " FOR UPDATE", forShare: " LOCK IN SHARE MODE", prepare: true,
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

// rebind rewrites ? placeholders to $1, $2... for PostgreSQL. minishop's SQL
// never has a ? inside a string literal.
func (d *dialect) rebind(q string) string {
	if !d.numbered {
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

// classify translates a driver error, in one place per dialect.
func (d *dialect) classify(err error) errClass {
	if err == nil {
		return errOther
	}
	if errors.Is(err, sql.ErrNoRows) {
		return errNoRows
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
			}
		}
	case MySQL:
		var e *mysql.MySQLError
		if errors.As(err, &e) {
			switch e.Number {
			case 1062: // ER_DUP_ENTRY
				return errDuplicate
			case 1213, 1205, 3572, 9007: // ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT, MySQL 8 NOWAIT, TiDB's optimistic write conflict
				return errRetryable
			}
		}
	}
	return errOther
}

func parseDialect(name Dialect) (*dialect, error) {
	d, ok := dialects[name]
	if !ok {
		return nil, fmt.Errorf("sqlstore: unknown dialect %q (want sqlite, postgres or mysql)", name)
	}
	return d, nil
}
