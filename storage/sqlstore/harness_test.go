package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/minishop/minishop/storage/sqlstore"
	"github.com/minishop/minishop/storage/storetest"
)

// The PostgreSQL and MySQL runs need a server; they read these variables
// and skip, saying how to enable them, when they are not set.
const (
	pgEnv    = "MINISHOP_POSTGRES_DSN"
	mysqlEnv = "MINISHOP_MYSQL_DSN"
)

func randomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// sqliteStore opens a fresh SQLite file in the test's temporary directory.
func sqliteStore(t testing.TB) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "minishop.db"), sqlstore.Options{})
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// postgresDB opens a connection pool whose search_path is a new schema,
// dropped when the test ends, so runs never see each other's data.
func postgresDB(t testing.TB) *sql.DB {
	t.Helper()
	dsn := os.Getenv(pgEnv)
	if dsn == "" {
		t.Skipf("PostgreSQL tests skipped: set %s (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run them", pgEnv)
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema := randomName("minishop_test_")
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("%s: %v", pgEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(20)
	t.Cleanup(func() {
		db.Close()
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	return db
}

// mysqlDB opens a connection pool on a new database, dropped when the test ends.
func mysqlDB(t testing.TB) *sql.DB {
	t.Helper()
	dsn := os.Getenv(mysqlEnv)
	if dsn == "" {
		t.Skipf("MySQL tests skipped: set %s (e.g. root@tcp(127.0.0.1:3306)/test) to run them", mysqlEnv)
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("%s: %v", mysqlEnv, err)
	}
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	name := randomName("minishop_test_")
	if _, err := admin.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		admin.Close()
		t.Fatalf("create database: %v", err)
	}
	cfg.DBName = name
	// Sessions start in READ COMMITTED, as the store's documentation
	// advises, so transactions need no SET TRANSACTION of their own (the
	// Galera runs keep the per-transaction level).
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params[isolationVar(t, admin)] = "'READ-COMMITTED'"
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(20)
	t.Cleanup(func() {
		db.Close()
		if _, err := admin.Exec("DROP DATABASE " + name); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
		admin.Close()
	})
	return db
}

// isolationVar is the server's name of the session's isolation level:
// tx_isolation on MariaDB, transaction_isolation on MySQL 8.
func isolationVar(t testing.TB, db *sql.DB) string {
	var level string
	if err := db.QueryRow("SELECT @@SESSION.tx_isolation").Scan(&level); err == nil {
		return "tx_isolation"
	}
	return "transaction_isolation"
}

func openDB(t testing.TB, db *sql.DB, d sqlstore.Dialect) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.OpenDB(context.Background(), db, d, sqlstore.Options{})
	if err != nil {
		t.Fatalf("open %s: %v", d, err)
	}
	return s
}

// harnesses returns one storetest harness per dialect.
func harnesses() map[string]storetest.Harness {
	return map[string]storetest.Harness{
		"SQLite":   {New: func(t testing.TB) storetest.Store { return sqliteStore(t) }},
		"Postgres": {New: func(t testing.TB) storetest.Store { return openDB(t, postgresDB(t), sqlstore.Postgres) }},
		"MySQL":    {New: func(t testing.TB) storetest.Store { return openDB(t, mysqlDB(t), sqlstore.MySQL) }},
		"Galera": {New: func(t testing.TB) storetest.Store {
			spread, _ := galeraDBs(t)
			return openDB(t, spread, sqlstore.MySQL)
		}},
	}
}

func TestConformance(t *testing.T) {
	for name, h := range harnesses() {
		t.Run(name, func(t *testing.T) {
			skipWithoutServer(t, name)
			storetest.Run(t, h)
		})
	}
}

// skipWithoutServer skips a whole dialect run up front (one message, not
// one per test) when its DSN is unset.
func skipWithoutServer(t *testing.T, name string) {
	env := map[string]string{"Postgres": pgEnv, "MySQL": mysqlEnv, "Galera": galeraEnv}[name]
	if env != "" && os.Getenv(env) == "" {
		t.Skipf("%s tests skipped: set %s to run them (see README)", name, env)
	}
}

var _ = fmt.Sprint
var _ = strings.TrimSpace
