package sqlstore_test

import (
	"context"
	"database/sql"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/minishop/minishop/storage/sqlstore"
)

// opener opens a store, as one process starting would.
type opener func(ctx context.Context) (*sqlstore.Store, error)

// Three processes starting at once on one fresh database, each with its own
// connection pool (on Galera, each on its own node), all open the store and
// record every migration once. Ten trials in a row, each on a new database:
// the races are timing-dependent, and one lucky trial proves little.
func TestMigrateConcurrentTrials(t *testing.T) {
	const trials, procs = 10, 3
	engines := map[string]func(t *testing.T) (sqlstore.Dialect, []opener){
		"SQLite": func(t *testing.T) (sqlstore.Dialect, []opener) {
			path := filepath.Join(t.TempDir(), "m.db")
			var out []opener
			for range procs {
				out = append(out, func(ctx context.Context) (*sqlstore.Store, error) {
					return sqlstore.Open(ctx, path, sqlstore.Options{})
				})
			}
			return sqlstore.SQLite, out
		},
		"Postgres": func(t *testing.T) (sqlstore.Dialect, []opener) {
			return sqlstore.Postgres, openers(sqlstore.Postgres, postgresPools(t, procs))
		},
		"MySQL": func(t *testing.T) (sqlstore.Dialect, []opener) {
			return sqlstore.MySQL, openers(sqlstore.MySQL, mysqlPools(t, procs))
		},
		"Galera": func(t *testing.T) (sqlstore.Dialect, []opener) {
			_, nodes := galeraDBs(t)
			return sqlstore.MySQL, openers(sqlstore.MySQL, nodes[:min(procs, len(nodes))])
		},
	}
	for name, engine := range engines {
		t.Run(name, func(t *testing.T) {
			skipWithoutServer(t, name)
			ctx := context.Background()
			ok := 0
			for trial := range trials {
				d, opens := engine(t)
				stores := make([]*sqlstore.Store, len(opens))
				errs := make([]error, len(opens))
				start := make(chan struct{})
				var wg sync.WaitGroup
				for i, o := range opens {
					wg.Go(func() {
						<-start
						stores[i], errs[i] = o(ctx)
					})
				}
				close(start)
				wg.Wait()
				opened := true
				for i, err := range errs {
					if err != nil {
						t.Errorf("trial %d: store %d failed to open: %v", trial, i, err)
						opened = false
						continue
					}
					t.Cleanup(func() { stores[i].Close() })
				}
				if !opened {
					continue
				}
				if checkVersions(t, ctx, stores[0], d) {
					ok++
				}
			}
			t.Logf("%s: %d of %d trials opened all %d stores with every version recorded once", name, ok, trials, procs)
		})
	}
}

func openers(d sqlstore.Dialect, dbs []*sql.DB) []opener {
	var out []opener
	for _, db := range dbs {
		out = append(out, func(ctx context.Context) (*sqlstore.Store, error) {
			return sqlstore.OpenDB(ctx, db, d, sqlstore.Options{})
		})
	}
	return out
}

// checkVersions reports whether the store's database records each of the
// dialect's migrations exactly once.
func checkVersions(t *testing.T, ctx context.Context, s *sqlstore.Store, d sqlstore.Dialect) bool {
	t.Helper()
	files, err := sqlstore.Migrations(d, "")
	require.NoError(t, err)
	names, err := fs.Glob(files, "*.sql")
	require.NoError(t, err)
	rows, err := s.DB().QueryContext(ctx, "SELECT version, COUNT(*) FROM minishop_schema_migrations GROUP BY version")
	require.NoError(t, err)
	defer rows.Close()
	good, versions := true, 0
	for rows.Next() {
		var v, n int
		require.NoError(t, rows.Scan(&v, &n))
		if n != 1 {
			t.Errorf("version %d recorded %d times", v, n)
			good = false
		}
		versions++
	}
	require.NoError(t, rows.Err())
	if versions != len(names) {
		t.Errorf("%d versions recorded, want %d", versions, len(names))
		good = false
	}
	return good
}

// postgresPools returns n connection pools on one new schema, as n
// processes would have.
func postgresPools(t *testing.T, n int) []*sql.DB {
	first := postgresDB(t)
	var schema string
	require.NoError(t, first.QueryRow("SELECT current_schema()").Scan(&schema))
	u, err := url.Parse(os.Getenv(pgEnv))
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	out := []*sql.DB{first}
	for len(out) < n {
		db, err := sql.Open("pgx", u.String())
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() }) // before the schema is dropped
		out = append(out, db)
	}
	return out
}

// mysqlPools returns n connection pools on one new database.
func mysqlPools(t *testing.T, n int) []*sql.DB {
	first := mysqlDB(t)
	var name string
	require.NoError(t, first.QueryRow("SELECT DATABASE()").Scan(&name))
	cfg, err := mysql.ParseDSN(os.Getenv(mysqlEnv))
	require.NoError(t, err)
	cfg.DBName = name
	out := []*sql.DB{first}
	for len(out) < n {
		db, err := sql.Open("mysql", cfg.FormatDSN())
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() }) // before the database is dropped
		out = append(out, db)
	}
	return out
}
