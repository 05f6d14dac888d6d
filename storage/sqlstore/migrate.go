package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"testing/fstest"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

//go:embed migrations
var migrationFiles embed.FS

// migration is one numbered schema change of a dialect.
type migration struct {
	version int
	name    string
	sql     string // with {p} in table names
}

func migrationsOf(d Dialect) ([]migration, error) {
	dir := path.Join("migrations", string(d))
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: no migrations for %s: %w", d, err)
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("sqlstore: migration file %s: want NNNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(migrationFiles, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// Migrations returns the dialect's migration files with the table prefix
// filled in, as an fs.FS of NNNN_name.sql files, for a host that applies
// schema changes with its own tool (goose, golang-migrate). The versions are
// the same on every dialect.
func Migrations(d Dialect, tablePrefix string) (fs.FS, error) {
	if tablePrefix == "" {
		tablePrefix = "minishop_"
	}
	if !prefixRE.MatchString(tablePrefix) {
		return nil, fmt.Errorf("sqlstore: table prefix %q: want letters, digits and _", tablePrefix)
	}
	ms, err := migrationsOf(d)
	if err != nil {
		return nil, err
	}
	// fstest.MapFS is the standard library's in-memory fs.FS; it imports
	// nothing of package testing.
	files := make(fstest.MapFS, len(ms))
	for _, m := range ms {
		files[m.name] = &fstest.MapFile{Data: []byte(strings.ReplaceAll(m.sql, "{p}", tablePrefix)), Mode: 0o444}
	}
	return files, nil
}

// statements splits a migration into statements at semicolons that end a
// line. minishop's migrations keep to that form.
func statements(sql string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(sql, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if strings.TrimSpace(cur.String()) != "" {
		out = append(out, cur.String())
	}
	return out
}

// Migrate applies the migrations the database lacks, in order, and records
// each in the {prefix}schema_migrations table. It is safe when several
// processes start at once, without advisory locks (which distributed
// PostgreSQL- and MySQL-compatible engines lack):
//
//   - On PostgreSQL and SQLite a migration runs in one transaction that
//     first inserts its version row: a second process blocks on that row's
//     unique key until the first commits, then finds the version applied.
//   - MySQL commits DDL at once, so its migrations are written idempotent
//     (CREATE TABLE IF NOT EXISTS...): two processes may both run one, both
//     succeed, and the version is recorded once. A statement that loses a
//     race to create the same table, index or column counts as done.
//
// Every step (the bookkeeping table, each migration) is retried within the
// retry budget when the database aborts it or the connection fails, as
// concurrent starts make happen: on MySQL the version rows' inserts can
// deadlock, and on Galera a DDL statement runs in total order isolation,
// aborting the transactions of other sessions that touch its table (1213).
// Retrying is safe because each step is idempotent: it checks its version
// again first.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrationsOf(s.d.name)
	if err != nil {
		return err
	}
	create := "CREATE TABLE IF NOT EXISTS {p}schema_migrations (version BIGINT PRIMARY KEY, name VARCHAR(255) NOT NULL, applied_us BIGINT NOT NULL)"
	err = s.retry(ctx, retryAlways, func() error {
		_, err := s.db.ExecContext(ctx, s.sql(create))
		if s.racedDDL(err) {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	for _, m := range ms {
		if err := s.retry(ctx, retryAlways, func() error { return s.apply(ctx, m) }); err != nil {
			return fmt.Errorf("sqlstore: migrate %s: %w", m.name, err)
		}
	}
	return nil
}

// racedDDL reports a DDL statement that lost a race to create the same
// object, which is harmless since the object is what the statement wanted:
// on PostgreSQL a concurrent CREATE TABLE IF NOT EXISTS colliding in the
// catalog (a unique violation in pg_type, or the table or its type existing
// by the time it is created); on MySQL the table, a column or an index
// existing already.
func (s *Store) racedDDL(err error) bool {
	var pe *pgconn.PgError
	var me *mysql.MySQLError
	switch s.d.name {
	case Postgres:
		return errors.As(err, &pe) && (pe.Code == "23505" || pe.Code == "42P07" || pe.Code == "42710" || pe.Code == "42701")
	case MySQL:
		// ER_TABLE_EXISTS_ERROR, ER_DUP_FIELDNAME, ER_DUP_KEYNAME
		return errors.As(err, &me) && (me.Number == 1050 || me.Number == 1060 || me.Number == 1061)
	}
	return false
}

func (s *Store) applied(ctx context.Context, q rawQuerier, version int) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, s.sql("SELECT COUNT(*) FROM {p}schema_migrations WHERE version = ?"), version).Scan(&n)
	return n > 0, err
}

// apply applies m unless the database has it. It is one attempt: Migrate
// retries it.
func (s *Store) apply(ctx context.Context, m migration) error {
	if done, err := s.applied(ctx, s.db, m.version); err != nil || done {
		return err
	}
	now := time.Now().UnixMicro()
	stmts := statements(strings.ReplaceAll(m.sql, "{p}", s.prefix))
	if s.d.name == MySQL {
		for _, st := range stmts {
			if _, err := s.db.ExecContext(ctx, st); err != nil && !s.racedDDL(err) {
				return err
			}
		}
		_, err := s.db.ExecContext(ctx, s.sql(s.d.insertIgnore("{p}schema_migrations", "version, name, applied_us", "version", "version")), m.version, m.name, now)
		return err
	}
	record := "INSERT INTO {p}schema_migrations (version, name, applied_us) VALUES (?, ?, ?)"
	var opts *sql.TxOptions
	if s.d.name != SQLite {
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	// The statements run on the raw transaction: DDL is run once, not worth
	// preparing.
	err := s.try(ctx, opts, func(ctx context.Context) error {
		tx := s.raw(ctx)
		if _, err := tx.ExecContext(ctx, s.sql(record), m.version, m.name, now); err != nil {
			return err
		}
		for _, st := range stmts {
			if _, err := tx.ExecContext(ctx, st); err != nil {
				return err
			}
		}
		return nil
	})
	if s.d.classify(err) == errDuplicate {
		return nil // another process applied it while we waited
	}
	return err
}
