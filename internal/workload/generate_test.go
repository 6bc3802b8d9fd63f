package workload

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/workload/unit"

	"github.com/binlog-replay/binlog-replay/internal/workload/sqlvals"
)

// plan returns every statement Setup and Run would send for o, in order,
// with session boundaries and unit flags, without a server.
func plan(o Options) []string {
	o = o.withDefaults()
	if o.Format == "" {
		o.Format = FormatRow
	}
	g := generators[o.Profile](o)
	var out []string
	add := func(units []unit.Unit) {
		for _, u := range units {
			out = append(out, "-- unit", u.Env.Resolved().SQLMode, u.Env.Resolved().TimeZone)
			out = append(out, u.Stmts...)
		}
	}
	add(g.setup(newRand(o.Seed, 0)))
	var srcs []txnSource
	for s := 0; s < o.Threads; s++ {
		srcs = append(srcs, g.session(s, newRand(o.Seed, s+1)))
	}
	for i := 0; i < o.Txns; i++ {
		out = append(out, "-- txn")
		add(srcs[i%o.Threads].next(i))
	}
	return out
}

func TestPlansAreDeterministic(t *testing.T) {
	for _, p := range Profiles() {
		t.Run(string(p), func(t *testing.T) {
			o := Options{Profile: p, Seed: 42, Scale: 12, Txns: 60}
			a, b := plan(o), plan(o)
			if !slices.Equal(a, b) {
				t.Fatalf("two plans with seed 42 differ")
			}
			o.Seed = 43
			if c := plan(o); slices.Equal(a, c) {
				t.Fatalf("plans with seeds 42 and 43 are equal")
			}
			o.Threads = 3
			if d := plan(o); len(d) == 0 {
				t.Fatalf("empty plan with 3 threads")
			}
		})
	}
}

// TestPlansCoverHazards checks that each profile's plan holds the
// statements its documentation promises.
func TestPlansCoverHazards(t *testing.T) {
	want := map[Profile][]string{
		Types: {"DECIMAL(65,30)", "'-838:59:59.000000'", "18446744073709551615", "'0000-00-00'",
			"INVISIBLE", "VIRTUAL", "STORED", "INET6", "UUID", "BIT(64)", "_latin1 X'", "+05:30", "NOW(6)",
			"DELETE FROM", unit.PermissiveSQLMode},
		OLTP:        {"UPDATE `sbtest", "SET k=k+1", "DELETE FROM `sbtest", "INSERT INTO `sbtest"},
		OLTPSpecial: {"UPDATE `sbtest", "SET k=k+1", "WHERE id=15", "WHERE id=16"},
		HotRows:     {"WHERE id=1", "WHERE id=2"},
		UniqueChurn: {"SET id=id+1000", "ORDER BY id DESC", "@ea", "nick=NULL", "tmp-"},
		ForeignKeys: {"ON DELETE CASCADE", "ON UPDATE CASCADE", "DELETE FROM fk_parent", "UPDATE fk_parent SET id=",
			"LAST_INSERT_ID()", "-- fk0"},
		DDL: {"ADD COLUMN", "DROP COLUMN", "MODIFY", "RENAME TABLE", "CREATE TABLE `d0_copy` AS SELECT",
			"DROP TABLE", "CREATE INDEX", "TRUNCATE", "CREATE TEMPORARY TABLE", "DROP PRIMARY KEY", "ADD PRIMARY KEY"},
		NoPK:     {"DELETE FROM np_plain WHERE", "UPDATE np_idx", "LIMIT 1"},
		Triggers: {"AFTER INSERT", "AFTER UPDATE", "AFTER DELETE", "UPDATE tr_items", "DELETE FROM tr_items"},
		BigTxn:   {"UPDATE bt_big SET k=k+7", "DELETE FROM bt_big WHERE id % 5 = 1"},
		Charset:  {"😀", "SET @l", "_binary '", "`we``ird \"name\" 'q'`", "`select`", "NO_BACKSLASH_ESCAPES"},
		GapLocks: {"DELETE FROM gl_rows WHERE k BETWEEN", "FOR UPDATE", "SET k=k+5"},
	}
	for _, p := range Profiles() {
		t.Run(string(p), func(t *testing.T) {
			o := Options{Profile: p, Seed: 1, Scale: 30, Txns: 200}
			steps := plan(o)
			text := strings.Join(steps, "\n")
			if p == ForeignKeys { // foreign_key_checks=0 units are visible only in their env
				text += "\n" + fkChecksMarker(o)
			}
			for _, w := range want[p] {
				if !strings.Contains(text, w) {
					t.Errorf("plan lacks %q", w)
				}
			}
			if strings.Contains(text, "UUID()") || strings.Contains(text, "RAND()") {
				t.Errorf("plan without RealClock uses UUID() or RAND()")
			}
		})
	}
}

// fkChecksMarker returns "-- fk0" if some ForeignKeys unit runs with
// foreign_key_checks=0.
func fkChecksMarker(o Options) string {
	o = o.withDefaults()
	g := generators[o.Profile](o)
	g.setup(newRand(o.Seed, 0))
	src := g.session(0, newRand(o.Seed, 1))
	for i := 0; i < o.Txns; i++ {
		for _, u := range src.next(i) {
			if u.Env.NoFKChecks {
				return "-- fk0"
			}
		}
	}
	return ""
}

func TestStatementFormatAvoidsUnsafe(t *testing.T) {
	for _, p := range Profiles() {
		o := Options{Profile: p, Seed: 5, Scale: 30, Txns: 200, Format: FormatStatement, RealClock: true}
		for _, q := range plan(o) {
			if strings.Contains(q, "LIMIT") || strings.Contains(q, "UUID()") {
				t.Errorf("%s: statement-format plan has unsafe %q", p, unit.Clip(q))
			}
		}
	}
}

func TestBigRows(t *testing.T) {
	if got := BigRows(0); got < 100000 {
		t.Errorf("BigRows(default) = %d, want >= 100000", got)
	}
	o := Options{Profile: BigTxn, Seed: 1, Scale: 4, Txns: 3}
	rows := 0
	for _, q := range plan(o) {
		if strings.HasPrefix(q, "INSERT INTO bt_big") {
			rows += strings.Count(q, "), (") + 1
		}
	}
	if want := 4 + BigRows(4); rows != want {
		t.Errorf("bt_big rows inserted = %d, want %d", rows, want)
	}
}

func TestQuoting(t *testing.T) {
	cases := []struct{ got, want string }{
		{sqlvals.Ident("a`b"), "`a``b`"},
		{sqlvals.Str("it's \\ \x00\n\r\x1a"), `'it\'s \\ \0\n\r\Z'`},
		{sqlvals.StrRaw("a'b\\\x00"), "'a''b\\\\\x00'"},
		{sqlvals.StrNoBackslash(`a\'b`), `'a\''b'`},
		{sqlvals.HexLit([]byte{0, 0xff}), "X'00ff'"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestValidate(t *testing.T) {
	if err := (Options{Profile: "nope"}).Validate(); err == nil {
		t.Error("unknown profile accepted")
	}
	if err := (Options{Profile: OLTP, Format: "rows"}).Validate(); err == nil {
		t.Error("unknown format accepted")
	}
	if err := (Options{Profile: OLTP, Format: "mixed"}).Validate(); err != nil {
		t.Errorf("lower-case format refused: %v", err)
	}
}

func TestTxnTimestamp(t *testing.T) {
	a, b := TxnTimestamp(0), TxnTimestamp(1)
	if a.Year() != 2024 || !b.After(a) || b.Sub(a) > 2*time.Second {
		t.Errorf("TxnTimestamp(0) = %v, TxnTimestamp(1) = %v", a, b)
	}
	sec, micros := unit.FixedClock(unit.RunEpoch+1, 0)
	if got := time.Unix(sec, micros*1000).UTC(); !got.Equal(b) {
		t.Errorf("TxnTimestamp(1) = %v, session clock %v", b, got)
	}
}

func TestTypesTableIndex(t *testing.T) {
	g := newTypesGen(Options{}.withDefaults()).(*typesGen)
	for _, name := range []string{"ty_time", "ty_misc"} {
		if got := g.tables[g.tableIndex(name)].Name; got != name {
			t.Errorf("tableIndex(%q) names %q", name, got)
		}
	}
}

// TestSpecialDistribution draws ids as sysbench's special distribution
// does: about three in four in a window of under 1% of the range past its
// middle, the rest a bell over the whole range, every one in range.
func TestSpecialDistribution(t *testing.T) {
	const n, draws = 20000, 100000
	r := newRand(1, 0)
	hot, counts := 0, map[int]int{}
	for range draws {
		id := specialID(r, n)
		if id < 1 || id > n {
			t.Fatalf("id %d out of [1, %d]", id, n)
		}
		counts[id]++
		if id > n/2-n/200 && id <= n/2+n/200 {
			hot++
		}
	}
	if share := float64(hot) / draws; share < 0.74 || share > 0.78 {
		t.Errorf("%.3f of the draws in the middle 1%%, want about 0.76", share)
	}
	if len(counts) < n/10 {
		t.Errorf("%d distinct ids of %d drawn", len(counts), n)
	}
	if got := specialID(r, 1); got != 1 {
		t.Errorf("specialID(1) = %d", got)
	}
}
