package replay_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/filter"
	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/replay"
	"github.com/binlog-replay/binlog-replay/rewrite"
	"github.com/binlog-replay/binlog-replay/txn"
	"github.com/binlog-replay/binlog-replay/verify"
)

// shopTables are the tables of the shop database at the base.
var shopTables = []string{"orders", "customers", "notes"}

// shopSetup creates, before the base, the shop database (a table with a
// primary key and an auto-increment, one with a secondary key, one
// without a key) and another database.
func shopSetup(ctx context.Context, db *sql.DB) error {
	return replaytest.ExecAll(ctx, db,
		"CREATE DATABASE shop", "CREATE DATABASE other",
		"CREATE TABLE shop.orders (id INT AUTO_INCREMENT PRIMARY KEY, customer INT NOT NULL, amount DECIMAL(10,2), note VARCHAR(40), KEY (customer))",
		"CREATE TABLE shop.customers (id INT PRIMARY KEY, name VARCHAR(30), orders_count INT NOT NULL DEFAULT 0)",
		"CREATE TABLE shop.notes (v VARCHAR(20))",
		"CREATE TABLE other.t (id INT PRIMARY KEY, v INT)",
		"INSERT INTO shop.customers (id, name) SELECT seq, CONCAT('c', seq) FROM shop.seq_1_to_20",
		"INSERT INTO shop.orders (customer, amount) SELECT seq % 20 + 1, seq FROM shop.seq_1_to_100",
		"INSERT INTO other.t SELECT seq, seq FROM shop.seq_1_to_10")
}

// shopWork writes, in MIXED format, what a day of an application and its
// administrators logs: statements and row events, in the shop database
// (with and without it as the default database, qualified or not), DDL
// (one run without a default database), a trigger, CREATE TABLE ...
// SELECT, a string naming the database in DML, and writes to another
// database, one of them reading shop.
func shopWork(ctx context.Context, db *sql.DB) error {
	var stmts []string
	for i := 1; i <= 60; i++ {
		c := i%20 + 1
		stmts = append(stmts,
			"USE shop",
			fmt.Sprintf("INSERT INTO orders (customer, amount, note) VALUES (%d, %d.50, 'from shop.orders %d')", c, i, i),
			fmt.Sprintf("UPDATE customers SET orders_count = orders_count + 1 WHERE id = %d", c),
			fmt.Sprintf("INSERT INTO notes VALUES ('n%d')", i),
			"USE other",
			fmt.Sprintf("UPDATE shop.orders SET amount = amount + 1 WHERE id = %d LIMIT 1", i), // unsafe: logged in row format
			fmt.Sprintf("INSERT INTO t VALUES (%d, %d) ON DUPLICATE KEY UPDATE v = v + 1", 100+i, i))
		switch i {
		case 10:
			stmts = append(stmts, "USE shop", "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20))",
				"INSERT INTO items VALUES (1, 'a'), (2, 'b')", "ALTER TABLE items ADD COLUMN price INT DEFAULT 3")
		case 20:
			// An administrator's session without a default database
			// (dropping the default database leaves none).
			stmts = append(stmts, "CREATE DATABASE scratch", "USE scratch", "DROP DATABASE scratch",
				"ALTER TABLE shop.orders ADD COLUMN status TINYINT NOT NULL DEFAULT 0")
		case 25:
			stmts = append(stmts, "USE shop", "RENAME TABLE items TO articles",
				"CREATE INDEX by_name ON customers (name)",
				"CREATE TRIGGER count_notes BEFORE INSERT ON notes FOR EACH ROW SET NEW.v = CONCAT(NEW.v, '+')")
		case 30:
			stmts = append(stmts, "USE shop", "CREATE TABLE summary ENGINE=InnoDB SELECT customer, COUNT(*) AS n FROM orders GROUP BY customer",
				"UPDATE shop.orders o JOIN shop.customers c ON c.id = o.customer SET o.status = 1 WHERE c.orders_count > 3")
		case 40:
			// Another database's statement that reads shop: left out.
			stmts = append(stmts, "USE other", "INSERT INTO other.t SELECT id + 1000, orders_count FROM shop.customers")
		case 50:
			stmts = append(stmts, "USE shop", "DELETE FROM orders WHERE id % 7 = 0", "UPDATE orders SET status = 2 WHERE customer = 3")
		}
	}
	return replaytest.ExecAll(ctx, db, stmts...)
}

// pointInTime is a scenario whose source has gone on past the point to
// restore (a DROP TABLE of shop.orders, then more writes), with a
// reference server holding the source as it was just before the DROP.
type pointInTime struct {
	*replaytest.Scenario
	// Reference is the source at the point, Drop the GTID of the DROP.
	Reference *sql.DB
	Drop      txn.GTID
}

// newPointInTime runs setup and work into a scenario, snapshots the source
// as the reference, then drops shop.orders and writes on.
func newPointInTime(t *testing.T, setup, work func(ctx context.Context, db *sql.DB) error) *pointInTime {
	t.Helper()
	ctx := context.Background()
	sc := replaytest.New(t, "MIXED", setup, work)
	dir := filepath.Join(t.TempDir(), "point")
	if err := sc.Source.Snapshot(ctx, dir); err != nil {
		t.Fatal(err)
	}
	ref := sandbox.ForTest(t, sandbox.Options{FromDatadir: dir})
	refDB, err := ref.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { refDB.Close() })
	conn, err := sc.SourceDB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var gtid string
	if _, err := conn.ExecContext(ctx, "DROP TABLE shop.orders"); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRowContext(ctx, "SELECT @@last_gtid").Scan(&gtid); err != nil {
		t.Fatal(err)
	}
	p := &pointInTime{Scenario: sc, Reference: refDB}
	if p.Drop, err = txn.ParseGTID(gtid); err != nil {
		t.Fatal(err)
	}
	if err := replaytest.ExecAll(ctx, sc.SourceDB, "INSERT INTO shop.customers (id, name) VALUES (99, 'late')", "FLUSH BINARY LOGS"); err != nil {
		t.Fatal(err)
	}
	if sc.Files, err = sc.Source.BinlogFiles(); err != nil {
		t.Fatal(err)
	}
	return p
}

// restoreSide copies, on a target restored from the base, the tables of
// shop into the database side (as an operator restores the backup of
// shop, or of some of its tables, under another name on a running
// server).
func restoreSide(t *testing.T, db *sql.DB, side string, tables ...string) {
	t.Helper()
	stmts := []string{"CREATE DATABASE " + side}
	for _, tb := range tables {
		stmts = append(stmts, fmt.Sprintf("CREATE TABLE %s.%s LIKE shop.%s", side, tb, tb),
			fmt.Sprintf("INSERT INTO %s.%s SELECT * FROM shop.%s", side, tb, tb))
	}
	if err := replaytest.ExecAll(context.Background(), db, stmts...); err != nil {
		t.Fatal(err)
	}
}

// checksums returns the digests of every table of the databases dbs.
func checksums(t *testing.T, db *sql.DB, dbs ...string) map[string]string {
	t.Helper()
	sums, err := verify.Checksum(context.Background(), db, verify.Options{Databases: dbs})
	if err != nil {
		t.Fatal(err)
	}
	return sums
}

// requireSideEqual compares, table by table, the target's side database
// with the reference's shop, and fails unless every table is equal and
// the report lists want (shop's tables at the point).
func requireSideEqual(t *testing.T, target, reference *sql.DB, side string, opts verify.Options, want ...string) {
	t.Helper()
	opts.TargetNames = map[string]string{"shop": side}
	rep, err := verify.Compare(context.Background(), target, reference, opts)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tr := range rep.Tables {
		got = append(got, tr.Table)
	}
	if !rep.Equal() || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("the target's %s differs from the source's shop at the point (tables %v, want %v):\n%s", side, got, want, rep)
	}
}

// TestRewriteDB restores shop from the base into shop_r on a target that
// also holds shop (and another database) as they were at the base, and
// rolls it forward with --rewrite-db shop=shop_r to just before the DROP
// TABLE: shop_r must equal the source's shop at that point, table by
// table, and nothing else on the target may change. With --tables
// shop.orders, only orders is restored and rolled forward.
func TestRewriteDB(t *testing.T) {
	p := newPointInTime(t, shopSetup, shopWork)
	for _, c := range []struct {
		name    string
		set     func(o *replay.Options)
		restore []string
		verify  verify.Options
		want    []string
	}{
		{"databases", func(o *replay.Options) { o.Select.Databases = []string{"shop"} }, shopTables,
			verify.Options{Databases: []string{"shop"}}, []string{"articles", "customers", "notes", "orders", "summary"}},
		{"tables", func(o *replay.Options) { o.Select.Tables = []string{"shop.orders"} }, []string{"orders"},
			verify.Options{Tables: []string{"shop.orders"}}, []string{"orders"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tgt, db := p.Target(t)
			restoreSide(t, db, "shop_r", c.restore...)
			before := checksums(t, db, "shop", "other")
			o := opts(4)
			o.Files, o.TargetDSN, o.Select.StartPosition = p.Files, tgt.DSN(""), p.Start
			o.Select.StopBeforeGTID, o.Select.RewriteDB = p.Drop, rewrite.Rules{{From: "shop", To: "shop_r"}}
			c.set(&o)
			var log strings.Builder
			sum, err := replay.Run(context.Background(), o, &log)
			if err != nil {
				t.Fatalf("replay: %v\nlog:\n%s", err, log.String())
			}
			if !strings.Contains(sum.StopReason, "stopped before GTID "+p.Drop.String()) || sum.SourceGTIDs {
				t.Fatalf("stop %q, source GTIDs %v: want a stop before the DROP, with the target's own GTIDs", sum.StopReason, sum.SourceGTIDs)
			}
			t.Logf("applied %d transactions; stop: %s", sum.Applied, sum.StopReason)
			requireSideEqual(t, db, p.Reference, "shop_r", c.verify, c.want...)
			if got := tablesOf(t, db, "shop_r"); strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Fatalf("shop_r holds %v, want %v", got, c.want)
			}
			requireSums(t, before, checksums(t, db, "shop", "other"), "shop and other (the replay wrote outside shop_r)")
		})
	}
}

// TestRewriteDBTablesAlone refuses --rewrite-db with --tables when the
// side database holds another table: a statement on orders that reads it
// would read its restored copy, not one rolled forward.
func TestRewriteDBTablesAlone(t *testing.T) {
	sc := replaytest.New(t, "MIXED", shopSetup, refusedWork)
	tgt, db := sc.Target(t)
	restoreSide(t, db, "shop_r", "orders", "customers")
	o := opts(2)
	o.Files, o.TargetDSN, o.Select.StartPosition = sc.Files, tgt.DSN(""), sc.Start
	o.Select.Tables, o.Select.RewriteDB = []string{"shop.orders"}, rewrite.Rules{{From: "shop", To: "shop_r"}}
	sum, err := replay.Run(context.Background(), o, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "holds shop_r.customers, which --tables does not name") || sum != nil && sum.Applied > 0 {
		t.Fatalf("replay: %v (summary %+v), want a refusal naming shop_r.customers", err, sum)
	}
}

// tablesOf lists the tables of database db, sorted.
func tablesOf(t *testing.T, db *sql.DB, name string) []string {
	t.Helper()
	return queryStrings(t, db, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME", name)
}

// refusedWork is shopWork with, in its middle, a view whose definition
// names shop: it cannot be renamed with certainty.
func refusedWork(ctx context.Context, db *sql.DB) error {
	if err := replaytest.ExecAll(ctx, db, "USE shop", "INSERT INTO orders (customer, amount) VALUES (1, 1)",
		"UPDATE customers SET orders_count = 7 WHERE id = 2"); err != nil {
		return err
	}
	if err := replaytest.ExecAll(ctx, db, "USE shop", "CREATE VIEW big AS SELECT * FROM shop.orders WHERE amount > 50"); err != nil {
		return err
	}
	return replaytest.ExecAll(ctx, db, "USE shop", "INSERT INTO orders (customer, amount) VALUES (2, 2)")
}

// TestRewriteDBRefuses replays binlogs holding a DDL that cannot be
// renamed with certainty: from files the replay is refused before
// anything is applied, naming the transaction (file, position, GTID) and
// the flag that skips it; from a source server it stops before it, the
// transactions before it applied and nothing of it. Skipping it with
// --exclude-gtids, the replay goes through.
func TestRewriteDBRefuses(t *testing.T) {
	sc := replaytest.New(t, "MIXED", shopSetup, refusedWork)
	var view *txn.Txn
	for _, tx := range scenarioTxns(t, sc) {
		for _, e := range tx.Events {
			if e.Kind == txn.EventQuery && strings.Contains(string(e.Query.SQL), "VIEW") {
				view = tx
			}
		}
	}
	if view == nil {
		t.Fatal("the binlogs hold no CREATE VIEW")
	}
	run := func(t *testing.T, o replay.Options) (*sql.DB, map[string]string, *replay.Summary, error) {
		tgt, db := sc.Target(t)
		restoreSide(t, db, "shop_r", shopTables...)
		before := checksums(t, db, "shop_r")
		o.TargetDSN, o.Select.Databases, o.Select.RewriteDB = tgt.TCPDSN(""), []string{"shop"}, rewrite.Rules{{From: "shop", To: "shop_r"}}
		sum, err := replay.Run(context.Background(), o, io.Discard)
		return db, before, sum, err
	}
	want := []string{view.Start.String(), "GTID " + view.GTID.String(), "defines a view whose text names `shop`",
		fmt.Sprintf("--exclude-gtids %d-%d-%d..%d", view.GTID.Domain, view.GTID.Server, view.GTID.Seq, view.GTID.Seq)}
	t.Run("files", func(t *testing.T) {
		o := opts(4)
		o.Files, o.Select.StartPosition = sc.Files, sc.Start
		db, before, sum, err := run(t, o)
		var refused *replay.RewriteRefusedError
		if !errors.As(err, &refused) || refused.Total != 1 {
			t.Fatalf("replay: %v, want a *RewriteRefusedError naming one transaction", err)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("the refusal does not say %q:\n%v", w, err)
			}
		}
		if sum != nil && sum.Applied != 0 {
			t.Fatalf("%d transactions applied", sum.Applied)
		}
		if cp, err := replay.ReadCheckpoint(context.Background(), db); err != nil || cp != nil {
			t.Fatalf("checkpoint %+v (%v): the refused replay left one", cp, err)
		}
		requireSums(t, before, checksums(t, db, "shop_r"), "shop_r")
	})
	t.Run("source", func(t *testing.T) {
		o := sourceOpts(sc, 4)
		o.Select.StartPosition = sc.Start
		db, _, sum, err := run(t, o)
		var rerr *rewrite.Error
		if !errors.As(err, &rerr) || sum == nil || sum.Next != view.Start {
			t.Fatalf("replay: %v (summary %+v), want a *rewrite.Error and the checkpoint at the view, %s", err, sum, view.Start)
		}
		cp, err := replay.ReadCheckpoint(context.Background(), db)
		if err != nil || cp == nil || cp.Next != view.Start || cp.RewriteDB != "shop=shop_r" {
			t.Fatalf("checkpoint %+v (%v), want the view's start and the rules", cp, err)
		}
		var n int
		if err := db.QueryRow("SELECT orders_count FROM shop_r.customers WHERE id = 2").Scan(&n); err != nil || n != 7 {
			t.Fatalf("shop_r.customers id 2: %d (%v): the transactions before the view were not applied", n, err)
		}
		if views := queryStrings(t, db, "SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA IN ('shop', 'shop_r')"); len(views) != 0 {
			t.Fatalf("views %v: the refused transaction was applied", views)
		}
	})
	t.Run("skipped", func(t *testing.T) {
		o := opts(4)
		o.Files, o.Select.StartPosition = sc.Files, sc.Start
		o.Select.ExcludeGTIDs.Ranges = append(o.Select.ExcludeGTIDs.Ranges, rangeOf(view.GTID))
		db, _, sum, err := run(t, o)
		if err != nil || sum.Skipped != 1 {
			t.Fatalf("replay: %v (summary %+v), want the view skipped alone", err, sum)
		}
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM shop_r.orders").Scan(&n); err != nil || n != 102 {
			t.Fatalf("shop_r.orders: %d rows (%v), want 102", n, err)
		}
	})
}

// requireSums fails unless the digests are the same.
func requireSums(t *testing.T, before, after map[string]string, what string) {
	t.Helper()
	if len(before) != len(after) {
		t.Fatalf("%s: %d tables before, %d after", what, len(before), len(after))
	}
	for name, sum := range before {
		if after[name] != sum {
			t.Fatalf("%s changed: %s", what, name)
		}
	}
}

// rangeOf is the --exclude-gtids range naming the MariaDB GTID g alone.
func rangeOf(g txn.GTID) filter.GTIDRange {
	return filter.GTIDRange{Domain: g.Domain, Server: g.Server, First: g.Seq, Last: g.Seq}
}
