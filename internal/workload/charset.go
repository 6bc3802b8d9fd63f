package workload

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/binlog-replay/binlog-replay/internal/workload/unit"

	"github.com/binlog-replay/binlog-replay/internal/workload/idset"

	"github.com/binlog-replay/binlog-replay/internal/workload/sqlvals"
)

// charsetGen is the Charset profile: utf8mb4 text with emoji, latin1 bytes
// (as _latin1 literals, and raw in statements sent under SET NAMES latin1),
// binary strings holding quotes, backslashes and NUL bytes (escaped, and raw
// in the statement text), NO_BACKSLASH_ESCAPES statements, string user
// variables, and tables and columns named with backticks, quotes, spaces,
// non-ASCII letters and reserved words.
type charsetGen struct {
	o      Options
	tables []csTable
}

// csTable is a Charset table: its (unquoted) name and writable columns with
// their kinds: "u" utf8mb4 text, "l" latin1 text, "b" binary, "i" integer.
type csTable struct {
	name  string
	cols  []string
	kinds string
}

func newCharsetGen(o Options) generator {
	return &charsetGen{o: o, tables: []csTable{
		{"cs_text", []string{"u", "ub", "l", "lt", "vb", "bl", "c8"}, "uullbbb"},
		{"select", []string{"order", "group", "key"}, "uii"},
		{"we`ird \"name\" 'q'", []string{"a`b", `c"d`, "e'f", "ünï cødé", "表", `back\slash`}, "iuulib"},
		{"latin1_tbl", []string{"s", "t"}, "ll"},
	}}
}

var charsetSchema = []string{
	`CREATE TABLE cs_text (
  id INT NOT NULL PRIMARY KEY,
  u VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NULL,
  ub VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  l VARCHAR(100) CHARACTER SET latin1 NULL,
  lt TEXT CHARACTER SET latin1 NULL,
  vb VARBINARY(100) NULL,
  bl BLOB NULL,
  c8 BINARY(8) NULL,
  KEY k_u (u)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
	"CREATE TABLE `select` (\n  `id` INT NOT NULL PRIMARY KEY,\n  `order` VARCHAR(100) NULL,\n" +
		"  `group` INT NULL,\n  `key` INT NULL,\n  KEY `index` (`order`)\n) ENGINE=InnoDB",
	"CREATE TABLE `we``ird \"name\" 'q'` (\n  `id` INT NOT NULL PRIMARY KEY,\n  `a``b` INT NULL,\n" +
		"  `c\"d` VARCHAR(100) NULL,\n  `e'f` VARCHAR(100) NULL,\n  `ünï cødé` VARCHAR(100) CHARACTER SET latin1 NULL,\n" +
		"  `表` INT NULL,\n  `back\\slash` VARBINARY(100) NULL,\n  UNIQUE KEY `u``k` (`a``b`)\n) ENGINE=InnoDB",
	`CREATE TABLE latin1_tbl (
  id INT NOT NULL PRIMARY KEY,
  s VARCHAR(100) NULL,
  t TEXT NULL
) ENGINE=InnoDB DEFAULT CHARSET=latin1`,
}

// specialStrings are text values with escapes that matter: quotes,
// backslashes before ordinary letters, \% and \_ (kept as two characters
// outside LIKE), NUL, ^Z, CR/LF and tabs.
var specialStrings = []string{
	"O'Brien", `back\slash`, `C:\new\table`, `50\% off\_x`, "nul\x00byte", "ctrl-z\x1a", "cr\r\nlf",
	"tab\there", `"double"`, "`tick`", "😀🐬𝄞", "",
}

func (g *charsetGen) setup(r *rand.Rand) []unit.Unit {
	var units []unit.Unit
	for _, q := range charsetSchema {
		units = append(units, unit.Auto(q))
	}
	for ti, t := range g.tables {
		var rows [][]string
		for id := 1; id <= g.o.Scale; id++ {
			rows = append(rows, csRow(r, t, id, ti == 2))
		}
		cols := append([]string{"id"}, t.cols...)
		units = append(units, unit.Tx(sqlvals.InsertRows(sqlvals.Ident(t.name), sqlvals.Idents(cols...), rows, 100)...))
	}
	return units
}

// csRow returns literals for a row of t; unique makes the integer columns
// the id (the weird table has a unique key on one).
func csRow(r *rand.Rand, t csTable, id int, unique bool) []string {
	row := []string{fmt.Sprint(id)}
	for i := range t.cols {
		row = append(row, csValue(r, t.kinds[i], id, unique))
	}
	return row
}

// csValue returns a literal of kind for a session with default escaping.
func csValue(r *rand.Rand, kind byte, id int, unique bool) string {
	switch kind {
	case 'u':
		if r.IntN(4) == 0 {
			return sqlvals.Str(specialStrings[r.IntN(len(specialStrings))])
		}
		return sqlvals.OrNull(r, 8, sqlvals.Str(sqlvals.RandText(r, 30)))
	case 'l':
		if r.IntN(5) == 0 {
			return sqlvals.Str(specialStrings[r.IntN(len(specialStrings)-2)])
		}
		return sqlvals.OrNull(r, 8, sqlvals.Latin1Lit(sqlvals.RandLatin1(r, 60)))
	case 'b':
		b := append([]byte("'\"\\\x00"), sqlvals.RandPadded(r, 8)...)
		r.Shuffle(len(b), func(i, j int) { b[i], b[j] = b[j], b[i] })
		return sqlvals.OrNull(r, 8, sqlvals.HexLit(b[:min(len(b), 8)]))
	default:
		if unique {
			return fmt.Sprint(id)
		}
		return sqlvals.OrNull(r, 6, fmt.Sprint(r.IntN(1000)-500))
	}
}

func (g *charsetGen) session(s int, r *rand.Rand) txnSource {
	o := idset.Owner{S: s, N: g.o.Threads}
	cs := &charsetSession{g: g, r: r, alloc: idset.NewAlloc(o, g.o.Scale)}
	for range g.tables {
		ids := idset.New()
		for id := 1; id <= g.o.Scale; id++ {
			if o.Owns(id) {
				ids.Add(id)
			}
		}
		cs.rows = append(cs.rows, ids)
	}
	return cs
}

type charsetSession struct {
	g     *charsetGen
	r     *rand.Rand
	alloc *idset.Alloc
	rows  []*idset.Set
}

func (c *charsetSession) next(int) []unit.Unit {
	switch c.r.IntN(8) {
	case 0:
		return []unit.Unit{c.latin1Names()}
	case 1:
		return []unit.Unit{c.noBackslash()}
	case 2:
		return []unit.Unit{c.rawBytes()}
	case 3:
		return []unit.Unit{c.userVars()}
	}
	var stmts []string
	for range 1 + c.r.IntN(3) {
		stmts = append(stmts, c.op())
	}
	if len(stmts) > 1 && c.r.IntN(3) != 0 {
		return []unit.Unit{unit.Tx(stmts...)}
	}
	return []unit.Unit{unit.Auto(stmts...)}
}

// op inserts, updates or deletes a row of a random table.
func (c *charsetSession) op() string {
	r := c.r
	ti := r.IntN(len(c.g.tables))
	t, ids := c.g.tables[ti], c.rows[ti]
	name := sqlvals.Ident(t.name)
	if ids.Len() < 3 || r.IntN(4) == 0 {
		id := c.alloc.Fresh()
		ids.Add(id)
		return sqlvals.InsertRows(name, sqlvals.Idents(append([]string{"id"}, t.cols...)...), [][]string{csRow(r, t, id, ti == 2)}, 1)[0]
	}
	id := ids.Pick(r)
	switch r.IntN(4) {
	case 0:
		ids.Remove(id)
		return fmt.Sprintf("DELETE FROM %s WHERE %s=%d", name, sqlvals.Ident("id"), id)
	case 1:
		if ti == 0 {
			return fmt.Sprintf("UPDATE cs_text SET u=CONCAT(LEFT(u, 40), '😀'), l=CONCAT(LEFT(l, 40), _latin1 X'FF5C27'), "+
				"vb=CONCAT(LEFT(vb, 40), X'00275C22') WHERE id=%d", id)
		}
	}
	i := r.IntN(len(t.cols))
	return fmt.Sprintf("UPDATE %s SET %s=%s WHERE id=%d", name, sqlvals.Ident(t.cols[i]), csValue(r, t.kinds[i], id, ti == 2), id)
}

// latin1Names sends raw latin1 bytes in the statement text of a SET NAMES
// latin1 session, into latin1 and utf8mb4 columns.
func (c *charsetSession) latin1Names() unit.Unit {
	id := c.alloc.Fresh()
	c.rows[0].Add(id)
	l1, l2 := string(sqlvals.RandLatin1(c.r, 40)), string(sqlvals.RandLatin1(c.r, 40))
	return unit.Tx(
		fmt.Sprintf("INSERT INTO cs_text (id, u, l, lt) VALUES (%d, %s, %s, %s)", id, sqlvals.StrRaw(l1), sqlvals.StrRaw(l2), sqlvals.StrRaw(l1+l2)),
		fmt.Sprintf("UPDATE latin1_tbl SET s=%s WHERE id=%d", sqlvals.StrRaw(l2), 1+c.r.IntN(c.g.o.Scale)),
	).With(unit.Env{Charset: "latin1"})
}

// noBackslash writes strings with backslashes under NO_BACKSLASH_ESCAPES,
// where they are ordinary characters.
func (c *charsetSession) noBackslash() unit.Unit {
	id := c.alloc.Fresh()
	c.rows[0].Add(id)
	s1 := specialStrings[c.r.IntN(4)] + `\n\0\'`
	return unit.Auto(
		fmt.Sprintf("INSERT INTO cs_text (id, u, ub, l) VALUES (%d, %s, %s, %s)", id,
			sqlvals.StrNoBackslash(s1), sqlvals.StrNoBackslash(`\`+sqlvals.RandText(c.r, 10)), sqlvals.StrNoBackslash(`a\b'c`)),
	).With(unit.Env{SQLMode: unit.DefaultSQLMode + ",NO_BACKSLASH_ESCAPES"})
}

// rawBytes sends NUL, control and non-UTF-8 bytes raw inside _binary
// literals of the statement text.
func (c *charsetSession) rawBytes() unit.Unit {
	id := c.alloc.Fresh()
	c.rows[0].Add(id)
	b := string(append([]byte("a\x00b'c\\d\x1a\xff\xfe\r\n"), sqlvals.RandBytes(c.r, 10)...))
	return unit.Auto(fmt.Sprintf("INSERT INTO cs_text (id, u, vb, bl, c8) VALUES (%d, %s, _binary %s, _binary %s, _binary %s)",
		id, `'50\% off\_x \q'`, sqlvals.StrRaw(b), sqlvals.StrRaw(b+b), sqlvals.StrRaw(b[:3])))
}

// userVars carries latin1, binary and utf8mb4 values in user variables.
func (c *charsetSession) userVars() unit.Unit {
	id := c.alloc.Fresh()
	c.rows[0].Add(id)
	return unit.Tx(
		fmt.Sprintf("SET @l := %s, @b := %s, @u := %s", sqlvals.Latin1Lit(sqlvals.RandLatin1(c.r, 20)),
			sqlvals.HexLit([]byte("\x00'\\\"\xff")), sqlvals.Str(strings.Repeat("😀", 1+c.r.IntN(5)))),
		fmt.Sprintf("INSERT INTO cs_text (id, u, l, vb) VALUES (%d, @u, @l, @b)", id),
	)
}
