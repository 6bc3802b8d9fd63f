package verify_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/verify"
)

// pair is a target and a reference server. The target is used with the
// sandbox DSN (client-side interpolated parameters), the reference with
// server-side prepared statements, so both query paths are exercised.
type pair struct {
	target, ref *sql.DB
}

func newPair(t *testing.T) *pair {
	t.Helper()
	ts := sandbox.ForTest(t, sandbox.Options{})
	rs := sandbox.ForTest(t, sandbox.Options{})
	target := openDSN(t, ts.DSN(""))
	ref := openDSN(t, strings.Replace(rs.DSN(""), "interpolateParams=true", "interpolateParams=false", 1))
	return &pair{target: target, ref: ref}
}

func openDSN(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.PingContext(t.Context()); err != nil {
		t.Fatalf("ping %s: %v", dsn, err)
	}
	return db
}

func exec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.ExecContext(t.Context(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// setup creates database name on both servers, runs common on both, then
// onTarget and onRef on their side; "$db" in a statement stands for name.
func (p *pair) setup(t *testing.T, name string, common, onTarget, onRef []string) {
	t.Helper()
	for _, db := range []*sql.DB{p.target, p.ref} {
		exec(t, db, "DROP DATABASE IF EXISTS "+name, "CREATE DATABASE "+name)
	}
	prefix := func(stmts []string) []string {
		out := make([]string, len(stmts))
		for i, s := range stmts {
			out[i] = strings.ReplaceAll(s, "$db", name)
		}
		return out
	}
	exec(t, p.target, prefix(common)...)
	exec(t, p.ref, prefix(common)...)
	exec(t, p.target, prefix(onTarget)...)
	exec(t, p.ref, prefix(onRef)...)
}

func (p *pair) compare(t *testing.T, opts verify.Options) *verify.Report {
	t.Helper()
	r, err := verify.Compare(t.Context(), p.target, p.ref, opts)
	if err != nil {
		t.Fatalf("Compare: %v", err)
	}
	return r
}

// table returns the report of db.name, failing the test if absent.
func table(t *testing.T, r *verify.Report, db, name string) verify.TableReport {
	t.Helper()
	for _, tr := range r.Tables {
		if tr.Schema == db && tr.Table == name {
			return tr
		}
	}
	t.Fatalf("no report for %s.%s in:\n%s", db, name, r)
	return verify.TableReport{}
}

// expectOnly checks that db.name has status want and every other table is
// Equal.
func expectOnly(t *testing.T, r *verify.Report, db, name string, want verify.Status) verify.TableReport {
	t.Helper()
	tr := table(t, r, db, name)
	if tr.Status != want {
		t.Errorf("%s.%s: status %v, want %v; report:\n%s", db, name, tr.Status, want, r)
	}
	for _, o := range r.Tables {
		if o.Table != name && o.Status != verify.Equal {
			t.Errorf("%s.%s: status %v, want equal", o.Schema, o.Table, o.Status)
		}
	}
	if r.Equal() {
		t.Errorf("Equal() is true with %s.%s %v", db, name, want)
	}
	if !strings.Contains(r.String(), "`"+name+"`") {
		t.Errorf("String() does not name %s:\n%s", name, r)
	}
	return tr
}

// hasSample reports whether tr names a row whose key contains key with kind.
func hasSample(tr verify.TableReport, kind verify.RowDiffKind, key string) bool {
	for _, s := range tr.SampleRows {
		if s.Kind == kind && strings.Contains(s.Key, key) {
			return true
		}
	}
	return false
}

// baseSchema is a variety of tables and types, identical on both sides.
var baseSchema = []string{
	"CREATE TABLE $db.blobs (id INT PRIMARY KEY, data LONGBLOB)",
	"INSERT INTO $db.blobs SELECT seq, REPEAT(UNHEX('00FF7F80'), 300 + seq) FROM $db.seq_1_to_20",
	"CREATE TABLE $db.nums (id BIGINT UNSIGNED PRIMARY KEY, d DOUBLE, f FLOAT, n DECIMAL(30,10), b BIT(9), y YEAR)",
	"INSERT INTO $db.nums VALUES (18446744073709551615, 0.3, 0.1, 12345678901234567890.0123456789, b'101010101', 2024)," +
		" (1, 1e-300, -3.4e38, -0.0000000001, b'0', 1901), (2, NULL, NULL, NULL, NULL, NULL)",
	"CREATE TABLE $db.texts (id INT PRIMARY KEY, s VARCHAR(50) NULL, t TEXT, e ENUM('x','y','z'), st SET('a','b'))",
	"INSERT INTO $db.texts VALUES (1, '', 'a#b', 'y', 'a,b'), (2, NULL, '#', 'x', ''), (3, 'NULL', NULL, NULL, NULL)",
	"CREATE TABLE $db.times (id INT PRIMARY KEY, d DATE, dt DATETIME(6), ts TIMESTAMP(3) NULL, tm TIME)",
	"INSERT INTO $db.times VALUES (1, '2024-02-29', '2024-02-29 23:59:59.999999', '2024-03-31 01:30:00.125', '-838:59:59')",
}

func TestCompare(t *testing.T) {
	p := newPair(t)

	t.Run("identical", func(t *testing.T) {
		p.setup(t, "v_same", baseSchema, nil, nil)
		r := p.compare(t, verify.Options{Databases: []string{"v_same"}})
		if !r.Equal() || len(r.Tables) != 4 {
			t.Fatalf("want 4 equal tables, got:\n%s%+v", r, r.Tables)
		}
		if tr := table(t, r, "v_same", "nums"); tr.RowsTarget != 3 || tr.RowsReference != 3 || tr.Key != "PRIMARY" {
			t.Errorf("nums: %+v", tr)
		}
	})

	t.Run("blob byte", func(t *testing.T) {
		p.setup(t, "v_blob", baseSchema,
			[]string{"UPDATE $db.blobs SET data = INSERT(data, 700, 1, UNHEX('01')) WHERE id = 13"}, nil)
		tr := expectOnly(t, p.compare(t, verify.Options{Databases: []string{"v_blob"}}), "v_blob", "blobs", verify.DataDiffers)
		if !hasSample(tr, verify.RowChanged, "id=13") || len(tr.SampleRows) != 1 {
			t.Errorf("want one sample: changed id=13, got %+v", tr.SampleRows)
		}
	})

	t.Run("double last digit", func(t *testing.T) {
		p.setup(t, "v_double", baseSchema,
			[]string{"UPDATE $db.nums SET d = 0.1e0 + 0.2e0 WHERE id = 18446744073709551615"}, nil)
		tr := expectOnly(t, p.compare(t, verify.Options{Databases: []string{"v_double"}}), "v_double", "nums", verify.DataDiffers)
		if !hasSample(tr, verify.RowChanged, "id=18446744073709551615") {
			t.Errorf("want changed id=18446744073709551615, got %+v", tr.SampleRows)
		}
	})

	t.Run("float last bit", func(t *testing.T) {
		// 0.1 and 0.10000001 are neighbouring FLOATs that both print as 0.1.
		p.setup(t, "v_float", baseSchema,
			[]string{"UPDATE $db.nums SET f = 0.10000001 WHERE id = 18446744073709551615"}, nil)
		expectOnly(t, p.compare(t, verify.Options{Databases: []string{"v_float"}}), "v_float", "nums", verify.DataDiffers)
	})

	t.Run("missing row", func(t *testing.T) {
		p.setup(t, "v_missing", baseSchema, []string{"DELETE FROM $db.blobs WHERE id = 7"}, nil)
		tr := expectOnly(t, p.compare(t, verify.Options{Databases: []string{"v_missing"}}), "v_missing", "blobs", verify.DataDiffers)
		if tr.RowsTarget != 19 || tr.RowsReference != 20 || !hasSample(tr, verify.RowMissing, "id=7") {
			t.Errorf("want 19/20 rows and missing id=7, got %d/%d %+v", tr.RowsTarget, tr.RowsReference, tr.SampleRows)
		}
	})

	t.Run("extra row", func(t *testing.T) {
		p.setup(t, "v_extra", baseSchema, []string{"INSERT INTO $db.texts VALUES (4, 'x', 'y', 'z', 'b')"}, nil)
		tr := expectOnly(t, p.compare(t, verify.Options{Databases: []string{"v_extra"}}), "v_extra", "texts", verify.DataDiffers)
		if !hasSample(tr, verify.RowExtra, "id=4") {
			t.Errorf("want extra id=4, got %+v", tr.SampleRows)
		}
	})

	t.Run("NULL vs empty string", func(t *testing.T) {
		p.setup(t, "v_null", baseSchema, []string{"UPDATE $db.texts SET s = '' WHERE id = 2"}, nil)
		tr := expectOnly(t, p.compare(t, verify.Options{Databases: []string{"v_null"}}), "v_null", "texts", verify.DataDiffers)
		if !hasSample(tr, verify.RowChanged, "id=2") {
			t.Errorf("want changed id=2, got %+v", tr.SampleRows)
		}
	})

	t.Run("NULL vs text NULL", func(t *testing.T) {
		p.setup(t, "v_nulltext", baseSchema, []string{"UPDATE $db.texts SET s = NULL WHERE id = 3"}, nil)
		expectOnly(t, p.compare(t, verify.Options{Databases: []string{"v_nulltext"}}), "v_nulltext", "texts", verify.DataDiffers)
	})

	t.Run("NULL moves to another column", func(t *testing.T) {
		// CONCAT_WS skips NULLs: only the ISNULL flags tell these apart.
		p.setup(t, "v_nullshift",
			[]string{"CREATE TABLE $db.s (id INT PRIMARY KEY, a VARCHAR(10), b VARCHAR(10))"},
			[]string{"INSERT INTO $db.s VALUES (1, NULL, 'x')"},
			[]string{"INSERT INTO $db.s VALUES (1, 'x', NULL)"})
		expectOnly(t, p.compare(t, verify.Options{Databases: []string{"v_nullshift"}}), "v_nullshift", "s", verify.DataDiffers)
	})

	t.Run("separator shift", func(t *testing.T) {
		// ('a#b', NULL...) against ('a', '#b'...) would collide without HEX.
		p.setup(t, "v_sep",
			[]string{"CREATE TABLE $db.s (id INT PRIMARY KEY, a VARCHAR(10), b VARCHAR(10))"},
			[]string{"INSERT INTO $db.s VALUES (1, 'a#', 'b')"},
			[]string{"INSERT INTO $db.s VALUES (1, 'a', '#b')"})
		expectOnly(t, p.compare(t, verify.Options{Databases: []string{"v_sep"}}), "v_sep", "s", verify.DataDiffers)
	})

	t.Run("column collation", func(t *testing.T) {
		p.setup(t, "v_coll", baseSchema,
			[]string{"ALTER TABLE $db.texts MODIFY s VARCHAR(50) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL"},
			[]string{"ALTER TABLE $db.texts MODIFY s VARCHAR(50) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NULL"})
		tr := expectOnly(t, p.compare(t, verify.Options{Databases: []string{"v_coll"}}), "v_coll", "texts", verify.SchemaDiffers)
		if !strings.Contains(tr.Detail, "collation") || !strings.Contains(tr.Detail, "`s`") {
			t.Errorf("detail does not name the column collation: %q", tr.Detail)
		}
	})

	t.Run("column default", func(t *testing.T) {
		p.setup(t, "v_def", baseSchema, []string{"ALTER TABLE $db.texts ALTER s SET DEFAULT 'a'"},
			[]string{"ALTER TABLE $db.texts ALTER s SET DEFAULT 'b'"})
		tr := expectOnly(t, p.compare(t, verify.Options{Databases: []string{"v_def"}}), "v_def", "texts", verify.SchemaDiffers)
		if !strings.Contains(tr.Detail, "default") || !strings.Contains(tr.Detail, "`s`") {
			t.Errorf("detail does not name the column default: %q", tr.Detail)
		}
	})

	t.Run("on update", func(t *testing.T) {
		p.setup(t, "v_onupd", baseSchema, []string{"ALTER TABLE $db.times MODIFY ts TIMESTAMP(3) NULL DEFAULT NULL ON UPDATE CURRENT_TIMESTAMP(3)"}, nil)
		tr := expectOnly(t, p.compare(t, verify.Options{Databases: []string{"v_onupd"}}), "v_onupd", "times", verify.SchemaDiffers)
		if !strings.Contains(tr.Detail, "on update") {
			t.Errorf("detail does not name the ON UPDATE: %q", tr.Detail)
		}
	})

	t.Run("stored objects", func(t *testing.T) {
		p.setup(t, "v_obj", baseSchema,
			[]string{"CREATE PROCEDURE $db.p() SELECT 1", "CREATE TRIGGER $db.tr BEFORE INSERT ON $db.texts FOR EACH ROW SET NEW.s = 'a'"},
			[]string{"CREATE PROCEDURE $db.p() SELECT 2", "CREATE VIEW $db.v AS SELECT id FROM $db.texts"})
		tr := expectOnly(t, p.compare(t, verify.Options{Databases: []string{"v_obj"}}), "v_obj", verify.ObjectsTable, verify.SchemaDiffers)
		for _, want := range []string{"procedure `p`: defined otherwise", "trigger `tr`: missing in reference", "view `v`: missing in target"} {
			if !strings.Contains(tr.Detail, want) {
				t.Errorf("detail lacks %q: %q", want, tr.Detail)
			}
		}
	})

	t.Run("index differs", func(t *testing.T) {
		p.setup(t, "v_idx", baseSchema, []string{"ALTER TABLE $db.times ADD UNIQUE KEY u (dt, id)"},
			[]string{"ALTER TABLE $db.times ADD UNIQUE KEY u (dt)"})
		tr := expectOnly(t, p.compare(t, verify.Options{Databases: []string{"v_idx"}}), "v_idx", "times", verify.SchemaDiffers)
		if !strings.Contains(tr.Detail, "index `u`") {
			t.Errorf("detail does not name index u: %q", tr.Detail)
		}
		tsum, err := verify.Checksum(t.Context(), p.target, verify.Options{Tables: []string{"v_idx.times"}})
		if err != nil {
			t.Fatal(err)
		}
		rsum, err := verify.Checksum(t.Context(), p.ref, verify.Options{Tables: []string{"v_idx.times"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(tsum) != 1 || tsum["v_idx.times"] == rsum["v_idx.times"] {
			t.Errorf("Checksum ignores the index: %v %v", tsum, rsum)
		}
	})

	t.Run("missing table in target", func(t *testing.T) {
		p.setup(t, "v_mt", baseSchema, []string{"DROP TABLE $db.times"}, nil)
		expectOnly(t, p.compare(t, verify.Options{Databases: []string{"v_mt"}}), "v_mt", "times", verify.MissingInTarget)
	})

	t.Run("missing table in reference", func(t *testing.T) {
		p.setup(t, "v_mr", baseSchema, nil, []string{"DROP TABLE $db.times"})
		expectOnly(t, p.compare(t, verify.Options{Databases: []string{"v_mr"}}), "v_mr", "times", verify.MissingInReference)
	})

	t.Run("missing database", func(t *testing.T) {
		p.setup(t, "v_md", []string{"CREATE TABLE $db.x (id INT PRIMARY KEY)"}, nil, nil)
		exec(t, p.target, "DROP DATABASE v_md")
		expectOnly(t, p.compare(t, verify.Options{Databases: []string{"v_md"}}), "v_md", "x", verify.MissingInTarget)
	})
}

// equalSchemas are tables that must compare Equal when built identically.
var equalSchemas = []string{
	// No key at all, with duplicate rows.
	"CREATE TABLE $db.nokey (a INT, b VARCHAR(10))",
	"INSERT INTO $db.nokey VALUES (1, 'x'), (1, 'x'), (1, 'x'), (2, NULL), (2, NULL)",
	// Composite key over int, latin1 string and datetime.
	"CREATE TABLE $db.composite (a INT NOT NULL, b VARCHAR(20) CHARACTER SET latin1 NOT NULL, c DATETIME NOT NULL, v INT," +
		" PRIMARY KEY (a, b, c))",
	"INSERT INTO $db.composite SELECT seq % 3, CONCAT('k', seq % 7, CHAR(233)), '2024-01-01' + INTERVAL seq % 5 DAY, seq" +
		" FROM $db.seq_1_to_105",
	// Unique key instead of a primary key, unsigned.
	"CREATE TABLE $db.uniq (u BIGINT UNSIGNED NOT NULL, w INT, UNIQUE KEY uk (u))",
	"INSERT INTO $db.uniq SELECT 18446744073709551615 - seq * 1000, seq FROM $db.seq_1_to_50",
	// Emoji in a utf8mb4 key and latin1 content.
	"CREATE TABLE $db.intl (k VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci PRIMARY KEY," +
		" l VARCHAR(20) CHARACTER SET latin1, e ENUM('b','a') NOT NULL, UNIQUE KEY ue (e, k))",
	"INSERT INTO $db.intl VALUES ('😀', 'café', 'a'), ('a😀b', 'naïve', 'b'), ('Ä', 'ÿ', 'a'), ('z', NULL, 'b'), ('b ', '', 'a')",
	// A key over every kind of column chunk bounds are carried in; the
	// leading columns repeat so every level of the composite bound is used.
	"CREATE TABLE $db.oddkeys (d DATE NOT NULL, tm TIME(3) NOT NULL, n DECIMAL(12,4) NOT NULL, f DOUBLE NOT NULL," +
		" fl FLOAT NOT NULL, e ENUM('z','a','m') NOT NULL, b BIT(4) NOT NULL, y YEAR NOT NULL, bn VARBINARY(8) NOT NULL," +
		" PRIMARY KEY (d, tm, n, f, fl, e, b, y, bn))",
	"INSERT INTO $db.oddkeys SELECT IF(seq % 4 = 0, '0000-00-00', '2024-01-01' + INTERVAL seq % 3 DAY)," +
		" SEC_TO_TIME(seq % 5 - 2.5), (seq % 3) / 7, (seq % 2) * 0.1e0, (seq % 2) / 3, 1 + seq % 3, seq % 2," +
		" 2000 + seq % 2, UNHEX(LPAD(HEX(seq), 8, '0')) FROM $db.seq_1_to_200",
	// Many chunks.
	"CREATE TABLE $db.big (id INT PRIMARY KEY, v VARCHAR(40))",
	"INSERT INTO $db.big SELECT seq, MD5(seq) FROM $db.seq_1_to_1000",
}

func TestCompareEqual(t *testing.T) {
	p := newPair(t)
	p.setup(t, "v_eq", equalSchemas, nil, nil)
	progress := make(map[string]int)
	r := p.compare(t, verify.Options{Databases: []string{"v_eq"}, ChunkSize: 7,
		Progress: func(db, table string, rows int64) { progress[table]++ }})
	if !r.Equal() {
		t.Fatalf("identical databases differ:\n%s", r)
	}
	want := map[string]struct {
		rows int64
		key  string
	}{
		"nokey": {5, ""}, "composite": {105, "PRIMARY"}, "uniq": {50, "uk"}, "intl": {5, "PRIMARY"}, "big": {1000, "PRIMARY"},
		"oddkeys": {200, "PRIMARY"},
	}
	for name, w := range want {
		tr := table(t, r, "v_eq", name)
		if tr.RowsTarget != w.rows || tr.RowsReference != w.rows || tr.Key != w.key {
			t.Errorf("%s: rows %d/%d key %q, want %d rows key %q", name, tr.RowsTarget, tr.RowsReference, tr.Key, w.rows, w.key)
		}
	}
	if progress["big"] < 1000/7 || progress["composite"] < 105/7 || progress["oddkeys"] < 200/7 {
		t.Errorf("want > 3 chunks per table, progress calls: %v", progress)
	}

	tsum, err := verify.Checksum(t.Context(), p.target, verify.Options{Databases: []string{"v_eq"}})
	if err != nil {
		t.Fatalf("Checksum target: %v", err)
	}
	rsum, err := verify.Checksum(t.Context(), p.ref, verify.Options{Databases: []string{"v_eq"}})
	if err != nil {
		t.Fatalf("Checksum reference: %v", err)
	}
	if len(tsum) != len(want) || fmt.Sprint(tsum) != fmt.Sprint(rsum) {
		t.Errorf("checksums differ or miss tables:\n target %v\nreference %v", tsum, rsum)
	}
}

func TestCompareChunks(t *testing.T) {
	p := newPair(t)
	// Differences in one middle chunk, at a chunk bound and past the end.
	p.setup(t, "v_chunks", equalSchemas, []string{
		"DELETE FROM $db.big WHERE id = 70", // the upper bound of chunk 10 at size 7
		"UPDATE $db.big SET v = 'changed' WHERE id = 500",
		"INSERT INTO $db.big VALUES (5000, 'past the end')",
		"UPDATE $db.composite SET v = -1 WHERE a = 1 AND b = CONCAT('k3', CHAR(233)) AND c = '2024-01-04'",
		"UPDATE $db.intl SET l = 'cafe' WHERE k = '😀'",
		"DELETE FROM $db.oddkeys WHERE bn = UNHEX('00000064')",
	}, nil)
	r := p.compare(t, verify.Options{Databases: []string{"v_chunks"}, ChunkSize: 7})

	big := table(t, r, "v_chunks", "big")
	if big.Status != verify.DataDiffers || len(big.Chunks) != 3 {
		t.Fatalf("big: want 3 differing chunks, got %v %+v", big.Status, big.Chunks)
	}
	for _, s := range []struct {
		kind verify.RowDiffKind
		key  string
	}{{verify.RowMissing, "id=70"}, {verify.RowChanged, "id=500"}, {verify.RowExtra, "id=5000"}} {
		if !hasSample(big, s.kind, s.key) {
			t.Errorf("big: no sample %s %s in %+v", s.kind, s.key, big.SampleRows)
		}
	}
	if last := big.Chunks[2]; last.Upper != "" || last.RowsTarget != last.RowsReference+1 {
		t.Errorf("big: last chunk %+v, want open upper bound and one extra row", last)
	}

	comp := table(t, r, "v_chunks", "composite")
	if comp.Status != verify.DataDiffers || len(comp.Chunks) != 1 || !hasSample(comp, verify.RowChanged, "b=0x6B33E9") {
		t.Errorf("composite: want one chunk with changed b=0x6B33E9, got %+v", comp)
	}
	intl := table(t, r, "v_chunks", "intl")
	if intl.Status != verify.DataDiffers || !hasSample(intl, verify.RowChanged, `k="😀"`) {
		t.Errorf("intl: want changed k=\"😀\", got %+v", intl)
	}
	odd := table(t, r, "v_chunks", "oddkeys")
	if odd.Status != verify.DataDiffers || len(odd.Chunks) != 1 || !hasSample(odd, verify.RowMissing, "bn=0x00000064") ||
		odd.RowsTarget != 199 || odd.RowsReference != 200 {
		t.Errorf("oddkeys: want one chunk with bn=0x00000064 missing, got %+v", odd)
	}
	for _, name := range []string{"nokey", "uniq"} {
		if tr := table(t, r, "v_chunks", name); tr.Status != verify.Equal {
			t.Errorf("%s: %v, want equal", name, tr.Status)
		}
	}
	tsum, err := verify.Checksum(t.Context(), p.target, verify.Options{Tables: []string{"v_chunks.big", "v_chunks.uniq"}})
	if err != nil {
		t.Fatal(err)
	}
	rsum, err := verify.Checksum(t.Context(), p.ref, verify.Options{Tables: []string{"v_chunks.big", "v_chunks.uniq"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(tsum) != 2 || tsum["v_chunks.big"] == rsum["v_chunks.big"] || tsum["v_chunks.uniq"] != rsum["v_chunks.uniq"] {
		t.Errorf("checksums: target %v, reference %v; want big to differ, uniq equal", tsum, rsum)
	}
}

func TestCompareNoKeyMultiset(t *testing.T) {
	p := newPair(t)
	schema := []string{"CREATE TABLE $db.dup (a INT, b VARCHAR(10))"}
	cases := []struct{ name, target, ref string }{
		// Same count, one duplicated row swapped for another.
		{"v_dup1", "(1,'x'),(1,'x'),(2,'y')", "(1,'x'),(2,'y'),(2,'y')"},
		// Pairs cancel under BIT_XOR: only SUM tells these apart.
		{"v_dup2", "(1,'x'),(1,'x')", "(2,'y'),(2,'y')"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p.setup(t, c.name, schema,
				[]string{"INSERT INTO $db.dup VALUES " + c.target},
				[]string{"INSERT INTO $db.dup VALUES " + c.ref})
			tr := expectOnly(t, p.compare(t, verify.Options{Databases: []string{c.name}}), c.name, "dup", verify.DataDiffers)
			if tr.RowsTarget != tr.RowsReference {
				t.Errorf("counts differ (%d, %d): the test wants equal counts", tr.RowsTarget, tr.RowsReference)
			}
		})
	}
}

func TestCompareTablesFilter(t *testing.T) {
	p := newPair(t)
	p.setup(t, "v_filter", baseSchema, []string{"DELETE FROM $db.blobs"}, nil)
	r := p.compare(t, verify.Options{Tables: []string{"v_filter.texts", "v_filter.nums"}})
	if !r.Equal() || len(r.Tables) != 2 {
		t.Errorf("want nums and texts equal, got:\n%s", r)
	}
	_, err := verify.Compare(context.Background(), p.target, p.ref, verify.Options{Tables: []string{"v_filter.nope"}})
	if err == nil {
		t.Errorf("Compare of a table on neither server: no error")
	}
}

func TestCompareAllDatabases(t *testing.T) {
	p := newPair(t)
	p.setup(t, "v_all1", []string{"CREATE TABLE $db.t (id INT PRIMARY KEY)"}, nil, nil)
	p.setup(t, "v_all2", []string{"CREATE TABLE $db.t (id INT PRIMARY KEY)"}, []string{"INSERT INTO $db.t VALUES (1)"}, nil)
	exec(t, p.target, "CREATE DATABASE binlog_replay", "CREATE TABLE binlog_replay.progress (id INT)")
	r := p.compare(t, verify.Options{})
	if len(r.Tables) != 2 {
		t.Fatalf("want exactly v_all1.t and v_all2.t (no system or tool tables), got:\n%+v", r.Tables)
	}
	expectOnly(t, r, "v_all2", "t", verify.DataDiffers)
}

// TestSessionRestored checks that Compare and Checksum give the caller's
// connections back with their own time_zone and sql_mode, on both query
// paths (interpolated and prepared).
func TestSessionRestored(t *testing.T) {
	p := newPair(t)
	p.setup(t, "v_sess", []string{"CREATE TABLE $db.t (id INT PRIMARY KEY, ts TIMESTAMP NULL)"}, nil, nil)
	state := func(db *sql.DB) string {
		var id int64
		var tz, mode string
		err := db.QueryRowContext(t.Context(), "SELECT CONNECTION_ID(), @@session.time_zone, @@session.sql_mode").Scan(&id, &tz, &mode)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("conn %d tz %s mode %s", id, tz, mode)
	}
	for _, db := range []*sql.DB{p.target, p.ref} {
		db.SetMaxOpenConns(1)
		exec(t, db, "SET SESSION time_zone = '+05:00', sql_mode = 'ANSI_QUOTES,PAD_CHAR_TO_FULL_LENGTH'")
	}
	before := []string{state(p.target), state(p.ref)}
	if _, err := verify.Compare(t.Context(), p.target, p.ref, verify.Options{Databases: []string{"v_sess"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := verify.Checksum(t.Context(), p.ref, verify.Options{Databases: []string{"v_sess"}}); err != nil {
		t.Fatal(err)
	}
	after := []string{state(p.target), state(p.ref)}
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("session changed:\nbefore %v\n after %v", before, after)
	}
}

// TestTimeZoneIndependent checks that TIMESTAMP columns compare by instant
// when the servers run in different time zones.
func TestTimeZoneIndependent(t *testing.T) {
	ts := sandbox.ForTest(t, sandbox.Options{Args: []string{"--default-time-zone=+03:00"}})
	rs := sandbox.ForTest(t, sandbox.Options{})
	p := &pair{target: openDSN(t, ts.DSN("")), ref: openDSN(t, rs.DSN(""))}
	p.setup(t, "v_tz", []string{
		"CREATE TABLE $db.t (ts TIMESTAMP(6) NOT NULL PRIMARY KEY, v INT)",
		"INSERT INTO $db.t SELECT FROM_UNIXTIME(1700000000.5 + seq * 3600), seq FROM $db.seq_1_to_30",
	}, nil, nil)
	r := p.compare(t, verify.Options{Databases: []string{"v_tz"}, ChunkSize: 4})
	if !r.Equal() || table(t, r, "v_tz", "t").RowsReference != 30 {
		t.Errorf("same instants in two time zones differ:\n%s", r)
	}
	exec(t, p.target, "UPDATE v_tz.t SET v = 0 WHERE ts = FROM_UNIXTIME(1700000000.5 + 7 * 3600)")
	tr := expectOnly(t, p.compare(t, verify.Options{Databases: []string{"v_tz"}, ChunkSize: 4}), "v_tz", "t", verify.DataDiffers)
	if !hasSample(tr, verify.RowChanged, "ts=2023-11-15 05:13:20.500000") {
		t.Errorf("want changed row at 2023-11-15 05:13:20.500000 UTC, got %+v", tr.SampleRows)
	}
}

// TestTargetNames compares a reference database with a database of
// another name on the target (a replay with --rewrite-db): the target's
// database of the reference's name, which differs, is not looked at.
func TestTargetNames(t *testing.T) {
	p := newPair(t)
	rows := []string{
		"CREATE TABLE $db.k (id INT PRIMARY KEY, v VARCHAR(10))",
		"INSERT INTO $db.k VALUES (1, 'a'), (2, 'b'), (3, 'c')",
		"CREATE TABLE $db.nokey (v INT)",
		"INSERT INTO $db.nokey VALUES (1), (1), (2)",
	}
	p.setup(t, "tn", rows, []string{"DELETE FROM $db.k"}, nil) // the target's tn differs: not compared
	exec(t, p.target, "DROP DATABASE IF EXISTS tn_side", "CREATE DATABASE tn_side")
	for _, s := range rows {
		exec(t, p.target, strings.ReplaceAll(s, "$db", "tn_side"))
	}
	opts := verify.Options{Databases: []string{"tn"}, TargetNames: map[string]string{"tn": "tn_side"}, ChunkSize: 2}
	if r := p.compare(t, opts); !r.Equal() || len(r.Tables) != 2 || r.Tables[0].TargetSchema != "tn_side" {
		t.Fatalf("tn against tn_side: %+v\n%s", r.Tables, r)
	}
	exec(t, p.target, "UPDATE tn_side.k SET v = 'x' WHERE id = 2", "INSERT INTO tn_side.nokey VALUES (3)")
	r := p.compare(t, opts)
	if r.Equal() || len(r.Differences()) != 2 || len(r.Tables[0].SampleRows) != 1 ||
		!strings.Contains(r.String(), "`tn`.`k` (on the target `tn_side`.`k`): data differs") {
		t.Fatalf("after changing tn_side: %+v\n%s", r.Tables, r)
	}
	if _, err := verify.Compare(t.Context(), p.target, p.ref, verify.Options{TargetNames: map[string]string{"tn": "tn_side"}}); err == nil {
		t.Fatal("TargetNames without Databases or Tables was accepted")
	}
}

// TestCompareSequences: a MariaDB sequence is compared like a table (its
// one row is its state): a sequence left behind on the target would hand
// out values the source already gave.
func TestCompareSequences(t *testing.T) {
	p := newPair(t)
	schema := []string{"CREATE SEQUENCE $db.s START WITH 1 INCREMENT BY 1 NOCACHE"}
	p.setup(t, "v_seq_eq", schema, []string{"SELECT NEXTVAL($db.s)"}, []string{"SELECT NEXTVAL($db.s)"})
	if r := p.compare(t, verify.Options{Databases: []string{"v_seq_eq"}}); !r.Equal() || len(r.Tables) != 1 {
		t.Errorf("want the sequence compared and equal, got:\n%s", r)
	}
	p.setup(t, "v_seq", schema, []string{"SELECT NEXTVAL($db.s)"}, []string{"SELECT NEXTVAL($db.s)", "SELECT NEXTVAL($db.s)"})
	expectOnly(t, p.compare(t, verify.Options{Databases: []string{"v_seq"}}), "v_seq", "s", verify.DataDiffers)
}
