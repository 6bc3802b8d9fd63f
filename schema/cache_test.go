package schema

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/binlog"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/txn"
)

// columnOrderDDL creates tables whose binlog column order is easy to get
// wrong: generated and invisible columns, columns added FIRST/AFTER, MariaDB
// system versioning (implicit and explicit periods) and long unique keys.
var columnOrderDDL = []string{
	`CREATE TABLE gen (a INT, v INT AS (a*2) VIRTUAL, s INT AS (a+1) STORED,
		h INT INVISIBLE DEFAULT 7, b VARCHAR(10), id INT PRIMARY KEY, UNIQUE KEY uv (v), bin BINARY(4))`,
	`ALTER TABLE gen ADD COLUMN f INT FIRST, ADD COLUMN g INT AFTER b`,
	`CREATE TABLE sv (id INT PRIMARY KEY, x INT) WITH SYSTEM VERSIONING`,
	`SET SESSION system_versioning_alter_history = KEEP`,
	`ALTER TABLE sv ADD COLUMN c INT`,
	`CREATE TABLE lu (id INT PRIMARY KEY, body TEXT, u2 BLOB, k INT, UNIQUE (body), UNIQUE (u2, k)) WITH SYSTEM VERSIONING`,
	`ALTER TABLE lu ADD COLUMN z INT`,
	`CREATE TABLE ex (id INT PRIMARY KEY, x INT,
		rs TIMESTAMP(6) GENERATED ALWAYS AS ROW START INVISIBLE,
		re TIMESTAMP(6) GENERATED ALWAYS AS ROW END INVISIBLE,
		PERIOD FOR SYSTEM_TIME (rs, re)) WITH SYSTEM VERSIONING`,
	`CREATE TABLE mem (id INT PRIMARY KEY, u INT, UNIQUE KEY (u) USING HASH) ENGINE=MEMORY`,
	`CREATE TABLE ih (id INT PRIMARY KEY, u INT, UNIQUE KEY (u) USING HASH) ENGINE=InnoDB`,
	`CREATE TABLE plain (id INT UNSIGNED PRIMARY KEY, e VARCHAR(20) COLLATE utf8mb4_general_ci,
		l VARCHAR(20) COLLATE utf8mb4_bin, UNIQUE KEY ue (e), UNIQUE KEY ul (l(5)))`,
}

var columnOrderDML = []string{
	`INSERT INTO gen (a, b, id, f, g, bin) VALUES (21, 'x', 1, 100, 200, 'ab')`,
	`UPDATE gen SET a = 22 WHERE id = 1`,
	`INSERT INTO sv (id, x, c) VALUES (1, 2, 3)`,
	`UPDATE sv SET x = 5`,
	`INSERT INTO lu (id, body, u2, k, z) VALUES (1, 'b', 'u', 3, 4)`,
	`INSERT INTO ex (id, x) VALUES (1, 1)`,
	`INSERT INTO mem VALUES (1, 1)`,
	`INSERT INTO ih VALUES (1, 1)`,
	`INSERT INTO plain VALUES (4294967295, 'A', 'b')`,
	`DELETE FROM gen`,
	`DELETE FROM sv`, `DELETE FROM lu`, `DELETE FROM ex`, `DELETE FROM mem`, `DELETE FROM ih`,
	`DELETE FROM plain`,
}

// TestTableMapColumnOrder checks, on a real MariaDB binlog, that Cache gives
// the columns in table-map order: same count, same names (with
// binlog_row_metadata=FULL) and values at the expected positions.
func TestTableMapColumnOrder(t *testing.T) {
	ctx := context.Background()
	s := sandbox.ForTest(t, sandbox.Options{Binlog: true})
	db := openDB(t, s, "")
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	run := func(stmts ...string) {
		t.Helper()
		for _, q := range stmts {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	run("CREATE DATABASE d", "USE d")
	run(columnOrderDDL...)
	run(columnOrderDML...) // table maps without column names
	run("SET GLOBAL binlog_row_metadata = FULL")
	run(columnOrderDML...) // table maps with column names
	run("FLUSH BINARY LOGS")

	cache := NewCache(db)
	seen := map[string]int{} // table -> row events checked
	withNames := 0
	forEachRowsEvent(t, s, func(r *txn.Rows) {
		if r.Table.Schema != "d" {
			return
		}
		tab, err := cache.Table(ctx, r.Table.Schema, r.Table.Table)
		if err != nil {
			t.Fatalf("Table(%s): %v", r.Table.Table, err)
		}
		checkRowsAgainst(t, r, tab)
		seen[r.Table.Table]++
		if r.Table.ColumnNames != nil {
			withNames++
		}
	})
	for _, name := range []string{"gen", "sv", "lu", "ex", "mem", "ih", "plain"} {
		if seen[name] < 2 {
			t.Errorf("table %s: %d row events checked, want >= 2", name, seen[name])
		}
	}
	if withNames == 0 {
		t.Error("no table map carried column names: binlog_row_metadata=FULL not in effect")
	}
	t.Logf("row events checked per table: %v (%d with column names)", seen, withNames)
}

// checkRowsAgainst compares one row event with the cached definition.
func checkRowsAgainst(t *testing.T, r *txn.Rows, tab *Table) {
	t.Helper()
	name := r.Table.Table
	if len(r.Table.ColumnTypes) != len(tab.Columns) {
		t.Fatalf("%s: table map has %d columns, cache %d: %v", name, len(r.Table.ColumnTypes), len(tab.Columns), columnNames(tab))
	}
	for i, cn := range r.Table.ColumnNames {
		if !strings.EqualFold(cn, tab.Columns[i].Name) {
			t.Errorf("%s: column %d is %q in the table map, %q in the cache", name, i, cn, tab.Columns[i].Name)
		}
	}
	if len(r.Rows) == 0 || !r.Decoded {
		t.Fatalf("%s: no decoded rows", name)
	}
	img := r.Rows[len(r.Rows)-1] // an after image for updates
	val := func(col string) any { return img[tab.ColumnIndex(col)] }
	switch name {
	case "gen": // a is 21 or 22 (or the deleted row's 22): v = 2a, s = a+1, h = 7
		a, _ := val("a").(int64)
		if val("v") != 2*a || val("s") != a+1 || val("h") != int64(7) || val("f") != int64(100) || val("g") != int64(200) {
			t.Errorf("gen: values not where the cache puts them: %v (columns %v)", img, columnNames(tab))
		}
	case "sv", "lu", "ih": // the hidden columns come last
		if n := len(tab.Columns); !tab.Columns[n-1].Hidden {
			t.Errorf("%s: last column %q not hidden", name, tab.Columns[n-1].Name)
		}
	case "plain":
		if v := val("id"); v != int64(-1) && v != uint64(4294967295) {
			t.Errorf("plain.id = %v (%T)", v, v)
		}
	}
}

func must(w []byte, ok bool) []byte {
	if !ok {
		return []byte("unknown")
	}
	return w
}

func columnNames(tab *Table) []string {
	var names []string
	for _, c := range tab.Columns {
		n := c.Name
		if c.Hidden {
			n += "(hidden)"
		}
		names = append(names, n)
	}
	return names
}

// forEachRowsEvent reads the server's binlogs and calls f for every decoded
// row event.
func forEachRowsEvent(t *testing.T, s *sandbox.Server, f func(*txn.Rows)) {
	t.Helper()
	files, err := s.BinlogFiles()
	if err != nil {
		t.Fatal(err)
	}
	r, err := binlog.NewReader(files, binlog.Options{DecodeRows: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		tx, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("read binlog: %v", err)
		}
		for _, ev := range tx.Events {
			if ev.Kind == txn.EventRows {
				f(ev.Rows)
			}
		}
	}
}

func openDB(t *testing.T, s *sandbox.Server, name string) *sql.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := s.Open(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestCacheDefinitions checks what Cache reads: column attributes, keys,
// foreign keys both ways, triggers, missing tables and invalidation.
func TestCacheDefinitions(t *testing.T) {
	ctx := context.Background()
	s := sandbox.ForTest(t, sandbox.Options{})
	db := openDB(t, s, "")
	for _, q := range []string{
		"CREATE DATABASE d",
		`CREATE TABLE d.p (a INT, b INT, code VARCHAR(10) COLLATE utf8mb4_general_ci NOT NULL,
			PRIMARY KEY (a, b), UNIQUE KEY uc (code), KEY ba (b, a))`,
		`CREATE TABLE d.c (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, pb INT, pa INT,
			pcode VARCHAR(10) COLLATE utf8mb4_general_ci, bin BINARY(6), name VARCHAR(40) COLLATE utf8mb4_bin,
			UNIQUE KEY un (name(8), bin),
			CONSTRAINT fk1 FOREIGN KEY (pb, pa) REFERENCES d.p (b, a) ON DELETE CASCADE,
			CONSTRAINT fk2 FOREIGN KEY (pcode) REFERENCES d.p (code) ON UPDATE SET NULL)`,
		"CREATE TRIGGER d.trg BEFORE INSERT ON d.c FOR EACH ROW SET NEW.pa = NEW.pa",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	cache := NewCache(db)
	c, err := cache.Table(ctx, "d", "c")
	if err != nil {
		t.Fatal(err)
	}
	if got := columnNames(c); !slices.Equal(got, []string{"id", "pb", "pa", "pcode", "bin", "name"}) {
		t.Errorf("columns %v", got)
	}
	id, pcode, bin, name := c.Columns[0], c.Columns[3], c.Columns[4], c.Columns[5]
	if !id.Unsigned || id.Nullable || id.DataType != "bigint" || !id.AutoIncrement || c.Columns[1].AutoIncrement {
		t.Errorf("id: %+v", id)
	}
	if !pcode.CaseInsensitive || pcode.Charset != "utf8mb4" || !pcode.Nullable || pcode.CharMaxLen != 10 || !pcode.IsText() {
		t.Errorf("pcode: %+v", pcode)
	}
	if bin.BinaryPadLen != 6 || bin.IsText() {
		t.Errorf("bin: %+v", bin)
	}
	if name.CaseInsensitive || name.Collation != "utf8mb4_bin" || name.Weights != nil {
		t.Errorf("name: %+v", name)
	}
	if w := pcode.Weights; w == nil || w.Name != "utf8mb4_general_ci" || w.Inexact || w.SingleByte {
		t.Errorf("pcode weights: %+v", w)
	} else if a, _ := w.Weight('a'); string(a) != string(must(w.Weight('Á'))) || string(a) == string(must(w.Weight('b'))) {
		t.Errorf("pcode weights: a=%x Á=%x b=%x", a, must(w.Weight('Á')), must(w.Weight('b')))
	}
	wantIdx := fmt.Sprint([]Index{
		{Name: "PRIMARY", Primary: true, Unique: true, Columns: []int{0}, Prefix: []int{0}},
		{Name: "un", Unique: true, Columns: []int{5, 4}, Prefix: []int{8, 0}},
	})
	if got := fmt.Sprint(c.Indexes); got != wantIdx {
		t.Errorf("indexes %s, want %s", got, wantIdx)
	}
	if !c.HasTriggers || len(c.ReferencedBy) != 0 {
		t.Errorf("HasTriggers %v, ReferencedBy %v", c.HasTriggers, c.ReferencedBy)
	}
	wantFK := fmt.Sprint([]ForeignKey{
		{Name: "fk1", Schema: "d", Table: "c", ColumnNames: []string{"pb", "pa"}, Columns: []int{1, 2},
			RefSchema: "d", RefTable: "p", RefColumns: []string{"b", "a"}, OnDelete: "CASCADE", OnUpdate: "RESTRICT"},
		{Name: "fk2", Schema: "d", Table: "c", ColumnNames: []string{"pcode"}, Columns: []int{3},
			RefSchema: "d", RefTable: "p", RefColumns: []string{"code"}, OnDelete: "RESTRICT", OnUpdate: "SET NULL"},
	})
	if got := fmt.Sprint(c.ForeignKeys); got != wantFK {
		t.Errorf("foreign keys\n%s, want\n%s", got, wantFK)
	}

	p, err := cache.Table(ctx, "d", "p")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.ReferencedBy) != 2 || p.HasTriggers || len(p.ForeignKeys) != 0 ||
		!p.ReferencedBy[0].ChangesChildren(true) || p.ReferencedBy[0].ChangesChildren(false) ||
		!p.ReferencedBy[1].ChangesChildren(false) {
		t.Errorf("parent: ReferencedBy %+v HasTriggers %v ForeignKeys %v", p.ReferencedBy, p.HasTriggers, p.ForeignKeys)
	}
	if pk := p.PrimaryKey(); pk == nil || !slices.Equal(pk.Columns, []int{0, 1}) {
		t.Errorf("parent primary key %+v", pk)
	}

	if _, err := cache.Table(ctx, "d", "nope"); !errors.Is(err, ErrNoTable) {
		t.Errorf("missing table: %v, want ErrNoTable", err)
	}
	if again, _ := cache.Table(ctx, "d", "c"); again != c {
		t.Error("second Table call did not come from the cache")
	}

	checkInvalidate(t, db, cache)
	if stale := c; len(stale.Columns) != 6 {
		t.Errorf("a Table handed out was modified: %d columns", len(stale.Columns))
	}
}

// checkInvalidate runs DDL on the tables of TestCacheDefinitions: after each
// DDL and Invalidate of the tables it names, the cache must agree with a
// fresh one, for every table, foreign keys included.
func checkInvalidate(t *testing.T, db *sql.DB, cache *Cache) {
	t.Helper()
	ctx := context.Background()
	steps := []struct {
		ddl        string
		invalidate []string
	}{
		{"CREATE TABLE d.g (id INT PRIMARY KEY, pc VARCHAR(10) COLLATE utf8mb4_general_ci)", []string{"g"}},
		{"ALTER TABLE d.g ADD CONSTRAINT fk3 FOREIGN KEY (pc) REFERENCES d.p (code) ON DELETE SET NULL", []string{"g"}},
		{"ALTER TABLE d.c ADD COLUMN extra INT FIRST", []string{"c"}},
		{"RENAME TABLE d.p TO d.p2", []string{"p", "p2"}},
		{"ALTER TABLE d.p2 RENAME COLUMN code TO code2", []string{"p2"}},
		{"ALTER TABLE d.c DROP FOREIGN KEY fk1", []string{"c"}},
		{"DROP TABLE d.g", []string{"g"}},
	}
	for _, st := range steps {
		if _, err := db.ExecContext(ctx, st.ddl); err != nil {
			t.Fatalf("%s: %v", st.ddl, err)
		}
		for _, name := range st.invalidate {
			cache.Invalidate("d", name)
		}
		fresh := NewCache(db)
		for _, name := range []string{"p", "p2", "c", "g"} {
			got, err1 := cache.Table(ctx, "d", name)
			want, err2 := fresh.Table(ctx, "d", name)
			if fmt.Sprint(err1) != fmt.Sprint(err2) || fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
				t.Errorf("after %q: cached %s:\n%+v %v\nfresh:\n%+v %v", st.ddl, name, got, err1, want, err2)
			}
		}
	}
	c2, _ := cache.Table(ctx, "d", "c")
	p2, _ := cache.Table(ctx, "d", "p2")
	if c2 == nil || p2 == nil || len(c2.ForeignKeys) != 1 || c2.ForeignKeys[0].RefTable != "p2" ||
		c2.ForeignKeys[0].RefColumns[0] != "code2" || c2.ForeignKeys[0].Columns[0] != 4 || len(p2.ReferencedBy) != 1 {
		t.Errorf("at the end: c %+v\np2 %+v", c2, p2)
	}
}

// TestCacheConcurrent reads and invalidates from many goroutines (run with
// -race).
func TestCacheConcurrent(t *testing.T) {
	ctx := context.Background()
	s := sandbox.ForTest(t, sandbox.Options{})
	db := openDB(t, s, "")
	for _, q := range []string{"CREATE DATABASE d", "CREATE TABLE d.t1 (id INT PRIMARY KEY)",
		"CREATE TABLE d.t2 (id INT PRIMARY KEY, r INT, FOREIGN KEY (r) REFERENCES d.t1 (id))"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	cache := NewCache(db)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				name := []string{"t1", "t2"}[i%2]
				tab, err := cache.Table(ctx, "d", name)
				if err != nil {
					errs <- err
					return
				}
				if (name == "t1") != (len(tab.ReferencedBy) == 1) || (name == "t2") != (len(tab.ForeignKeys) == 1) {
					errs <- fmt.Errorf("%s: foreign keys %v, referenced by %v", name, tab.ForeignKeys, tab.ReferencedBy)
					return
				}
				if i%10 == g {
					cache.Invalidate("d", name)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestCacheShape checks that Shape reads a table's columns, hidden ones
// included, and its triggers, without its weights; that Table built on it
// leaves it as it was; that Shape hands out the full Table once read; and
// that both see a change after Invalidate.
func TestCacheShape(t *testing.T) {
	ctx := context.Background()
	s := sandbox.ForTest(t, sandbox.Options{})
	db := openDB(t, s, "")
	for _, q := range []string{
		"CREATE DATABASE d",
		"CREATE TABLE d.t (id INT PRIMARY KEY, v VARCHAR(10) COLLATE utf8mb4_general_ci, b BLOB, UNIQUE KEY ub (b))",
		"CREATE TRIGGER d.trg BEFORE INSERT ON d.t FOR EACH ROW SET NEW.v = NEW.v",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	cache := NewCache(db)
	shape, err := cache.Shape(ctx, "d", "t")
	if err != nil {
		t.Fatal(err)
	}
	// id, v, b and the hidden DB_ROW_HASH_1 of the long unique key on b.
	if n := len(shape.Columns); n != 4 || !shape.Columns[3].Hidden || shape.Columns[1].Weights != nil || !shape.HasTriggers {
		t.Fatalf("shape: %d columns, last hidden %v, weights %v, triggers %v; want 4, hidden, none, true",
			n, n == 4 && shape.Columns[3].Hidden, shape.Columns[1].Weights != nil, shape.HasTriggers)
	}
	full, err := cache.Table(ctx, "d", "t")
	if err != nil {
		t.Fatal(err)
	}
	if len(full.Columns) != len(shape.Columns) || full.Columns[1].Weights == nil || !full.HasTriggers {
		t.Fatalf("table: %d columns, weights %v, triggers %v", len(full.Columns), full.Columns[1].Weights != nil, full.HasTriggers)
	}
	if shape.Columns[1].Weights != nil {
		t.Fatal("Table, built on the shape read before, wrote the weights into the shape handed out")
	}
	if again, err := cache.Shape(ctx, "d", "t"); err != nil || again.Columns[1].Weights == nil {
		t.Fatalf("shape after Table: %v, weights read %v; want the full Table", err, err == nil && again.Columns[1].Weights != nil)
	}
	if _, err := db.ExecContext(ctx, "ALTER TABLE d.t ADD COLUMN w INT"); err != nil {
		t.Fatal(err)
	}
	cache.Invalidate("d", "t")
	if shape, err = cache.Shape(ctx, "d", "t"); err != nil || len(shape.Columns) != 5 {
		t.Fatalf("shape after invalidation: %v, %d columns; want 5", err, len(shape.Columns))
	}
	if full, err = cache.Table(ctx, "d", "t"); err != nil || len(full.Columns) != 5 || full.Columns[1].Weights == nil {
		t.Fatalf("table after invalidation: %v, %+v; want 5 columns with weights", err, full)
	}
	if _, err := cache.Shape(ctx, "d", "missing"); !errors.Is(err, ErrNoTable) {
		t.Fatalf("missing table: %v; want ErrNoTable", err)
	}
}
