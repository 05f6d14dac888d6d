package sqlstore_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/minishop/minishop/storage/sqlstore"
)

// galeraEnv lists the DSNs of a Galera cluster's nodes, comma-separated
// (scripts/galera start prints them). The Galera run of the conformance
// suite spreads every store's connections over the nodes, as a host behind
// a load balancer would, so every concurrent test races across nodes.
const galeraEnv = "MINISHOP_GALERA_DSNS"

// galeraNodes returns the node DSNs, or skips the test.
func galeraNodes(t testing.TB) []*mysql.Config {
	t.Helper()
	env := os.Getenv(galeraEnv)
	if env == "" {
		t.Skipf("Galera tests skipped: start a cluster with scripts/galera start and set %s to the DSNs it prints", galeraEnv)
	}
	var out []*mysql.Config
	for _, dsn := range strings.Split(env, ",") {
		cfg, err := mysql.ParseDSN(strings.TrimSpace(dsn))
		if err != nil {
			t.Fatalf("%s: %q: %v", galeraEnv, dsn, err)
		}
		out = append(out, cfg)
	}
	if len(out) < 2 {
		t.Fatalf("%s: want the DSNs of at least two nodes, got %d", galeraEnv, len(out))
	}
	return out
}

// rotator is a driver.Connector that opens each new connection on the next
// node in turn.
type rotator struct {
	nodes []driver.Connector
	next  atomic.Uint64
}

func (r *rotator) Connect(ctx context.Context) (driver.Conn, error) {
	i := int(r.next.Add(1)-1) % len(r.nodes)
	// A database created on one node reaches the others a moment later:
	// wait for it rather than fail the connection.
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := r.nodes[i].Connect(ctx)
		var me *mysql.MySQLError
		if err == nil || !errors.As(err, &me) || me.Number != 1049 || time.Now().After(deadline) {
			return c, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *rotator) Driver() driver.Driver { return r.nodes[0].Driver() }

// galeraDBs returns one pool spread over every node on a new database (it
// is dropped when the test ends), and one pool per node on the same database.
func galeraDBs(t testing.TB) (spread *sql.DB, perNode []*sql.DB) {
	t.Helper()
	nodes := galeraNodes(t)
	admin, err := sql.Open("mysql", nodes[0].FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	name := randomName("minishop_test_")
	if _, err := admin.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		admin.Close()
		t.Fatalf("create database: %v", err)
	}
	r := &rotator{}
	for _, n := range nodes {
		cfg := n.Clone()
		cfg.DBName = name
		if cfg.Params == nil {
			cfg.Params = map[string]string{}
		}
		// Read-your-writes across nodes: a read waits until the node has
		// applied every write committed anywhere before it started. Tests
		// write through one connection and read through another.
		if _, ok := cfg.Params["wsrep_sync_wait"]; !ok {
			cfg.Params["wsrep_sync_wait"] = "1"
		}
		// Statements with arguments go in the text protocol, as OpenDB
		// asks of Galera hosts: a prepared SELECT can hide that another
		// node's write aborted the transaction (see forCluster).
		cfg.InterpolateParams = true
		c, err := mysql.NewConnector(cfg)
		if err != nil {
			t.Fatal(err)
		}
		r.nodes = append(r.nodes, c)
		db := sql.OpenDB(&rotator{nodes: []driver.Connector{c}})
		db.SetMaxOpenConns(10)
		perNode = append(perNode, db)
	}
	spread = sql.OpenDB(r)
	spread.SetMaxOpenConns(21) // a multiple of three: every node gets its share
	t.Cleanup(func() {
		spread.Close()
		for _, db := range perNode {
			db.Close()
		}
		if _, err := admin.Exec("DROP DATABASE " + name); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
		admin.Close()
	})
	return spread, perNode
}

// On a Galera node the store prepares nothing (see forCluster); on a plain
// MySQL or MariaDB server it still does.
func TestGaleraPreparesNothing(t *testing.T) {
	spread, _ := galeraDBs(t)
	s := openDB(t, spread, sqlstore.MySQL)
	if sqlstore.Prepares(s) {
		t.Error("a store on a Galera cluster prepares its statements")
	}
	if os.Getenv(mysqlEnv) != "" {
		if m := openDB(t, mysqlDB(t), sqlstore.MySQL); !sqlstore.Prepares(m) {
			t.Error("a store on a plain server stopped preparing its statements")
		}
	}
}

// A pool whose driver prepares statements (a DSN without
// interpolateParams=true) is refused on Galera, naming the setting, rather
// than run where a prepared statement can hide a lost transaction.
func TestGaleraRefusesPreparingPool(t *testing.T) {
	spread, _ := galeraDBs(t)
	var name string
	if err := spread.QueryRow("SELECT DATABASE()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	cfg := galeraNodes(t)[1].Clone()
	cfg.DBName = name
	cfg.InterpolateParams = false
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The database was created through another node: wait until it has
	// reached this one, or the store's probe cannot ask and opens as on a
	// server that is down (keeping its prepared statements).
	for deadline := time.Now().Add(10 * time.Second); db.Ping() != nil && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	_, err = sqlstore.OpenDB(context.Background(), db, sqlstore.MySQL, sqlstore.Options{NoMigrate: true})
	if err == nil || !strings.Contains(err.Error(), "interpolateParams=true") {
		t.Fatalf("OpenDB on a preparing Galera pool: %v, want a refusal naming interpolateParams=true", err)
	}
}

// In a transaction on a Galera node only the first statement makes the
// causal wait the session asks for (wsrep_sync_wait=1 in the harness's
// DSNs): a later one, made while the transaction holds row locks, would
// deadlock with the applier (see noCausalWait). Statements outside a
// transaction keep the wait, so reads after writes elsewhere still see them.
func TestGaleraCausalWaitOnlyFirstInTx(t *testing.T) {
	spread, _ := galeraDBs(t)
	s := openDB(t, spread, sqlstore.MySQL)
	ctx := context.Background()
	wait := func(ctx context.Context) int {
		t.Helper()
		var n int
		if err := sqlstore.QueryRow(ctx, s, "SELECT @@SESSION.wsrep_sync_wait").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got := wait(ctx); got != 1 {
		t.Fatalf("outside a transaction wsrep_sync_wait = %d, want the session's 1", got)
	}
	var seen []int
	err := s.InTx(ctx, func(ctx context.Context) error {
		seen = append(seen[:0], wait(ctx), wait(ctx), wait(ctx))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen[0] != 1 || seen[1] != 0 || seen[2] != 0 {
		t.Errorf("wsrep_sync_wait in a transaction = %v, want [1 0 0]", seen)
	}
	if got := wait(ctx); got != 1 {
		t.Errorf("after a transaction wsrep_sync_wait = %d, want the session's 1 again", got)
	}
}
