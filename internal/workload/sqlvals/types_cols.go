package sqlvals

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// Column is one writable column of a Types table.
type Column struct {
	Name string
	Def  string
	// gen returns a random non-NULL SQL literal or expression.
	Gen func(r *rand.Rand) string
	// edges are the limit values; base row k takes edges[k] when it exists.
	Edges []string
	// zeros need the permissive sql_mode (zero or invalid dates, bad enums).
	Zeros []string
}

// TypeTable is a Types table: writable columns plus generated columns,
// invisible columns and keys that are declared but never written.
type TypeTable struct {
	Name  string
	Cols  []Column
	Extra []string
}

func intCol(name, def string, lo, hi int64, edges ...string) Column {
	return Column{Name: name, Def: def, Edges: edges,
		Gen: func(r *rand.Rand) string { return fmt.Sprint(lo + r.Int64N(hi-lo+1)) }}
}

// TypeTables returns the tables of the Types profile, one per type family.
func TypeTables() []TypeTable {
	return []TypeTable{intTable(), numTable(), timeTable(), strTable(), binTable(), miscTable()}
}

func intTable() TypeTable {
	return TypeTable{Name: "ty_int", Cols: []Column{
		intCol("ti", "TINYINT", -128, 127, "-128", "127", "0", "-1"),
		intCol("tu", "TINYINT UNSIGNED", 0, 255, "0", "255", "128"),
		intCol("si", "SMALLINT", -32768, 32767, "-32768", "32767", "0"),
		intCol("su", "SMALLINT UNSIGNED", 0, 65535, "0", "65535", "32768"),
		intCol("mi", "MEDIUMINT", -8388608, 8388607, "-8388608", "8388607", "0"),
		intCol("mu", "MEDIUMINT UNSIGNED", 0, 16777215, "0", "16777215", "8388608"),
		intCol("i", "INT", math.MinInt32, math.MaxInt32, "-2147483648", "2147483647", "0"),
		intCol("iu", "INT UNSIGNED", 0, math.MaxUint32, "0", "4294967295", "2147483648"),
		{Name: "bi", Def: "BIGINT", Edges: []string{"-9223372036854775808", "9223372036854775807", "0", "-1"},
			Gen: func(r *rand.Rand) string { return fmt.Sprint(int64(r.Uint64())) }},
		{Name: "bu", Def: "BIGINT UNSIGNED", Edges: []string{"0", "18446744073709551615", "9223372036854775808"},
			Gen: func(r *rand.Rand) string { return fmt.Sprint(r.Uint64()) }},
		intCol("inv", "INT INVISIBLE DEFAULT 42", -1000, 1000, "-1000", "1000"),
	}, Extra: []string{
		"g_sum BIGINT AS (COALESCE(ti,0) + COALESCE(si,0) + COALESCE(mi,0)) VIRTUAL",
		"g_bu VARCHAR(20) AS (CAST(bu AS CHAR)) STORED",
		"KEY k_g_sum (g_sum)",
	}}
}

func numTable() TypeTable {
	return TypeTable{Name: "ty_num", Cols: []Column{
		{Name: "d65", Def: "DECIMAL(65,30)", Gen: randDecimal, Edges: []string{
			"99999999999999999999999999999999999.999999999999999999999999999999",
			"-99999999999999999999999999999999999.999999999999999999999999999999",
			"0", "0.000000000000000000000000000001", "-0.000000000000000000000000000001"}},
		{Name: "d10", Def: "DECIMAL(10,2)", Edges: []string{"99999999.99", "-99999999.99", "0.01"},
			Gen: func(r *rand.Rand) string { return fmt.Sprintf("%.2f", (r.Float64()*2-1)*1e8*0.99) }},
		{Name: "d20", Def: "DECIMAL(20,0) UNSIGNED", Edges: []string{"99999999999999999999", "0"},
			Gen: func(r *rand.Rand) string { return fmt.Sprint(r.Uint64()) }},
		{Name: "f", Def: "FLOAT", Edges: []string{"3.40282e38", "-3.40282e38", "1.17549e-38", "0", "-1.5"},
			Gen: func(r *rand.Rand) string {
				return fmt.Sprintf("%.6g", (r.Float64()*2-1)*math.Pow(10, float64(r.IntN(70)-35)))
			}},
		{Name: "db", Def: "DOUBLE", Edges: []string{"1.7976931348623157e308", "-1.7976931348623157e308",
			"2.2250738585072014e-308", "5e-324", "0"},
			Gen: func(r *rand.Rand) string {
				return fmt.Sprintf("%.17g", (r.Float64()*2-1)*math.Pow(10, float64(r.IntN(600)-300)))
			}},
		{Name: "b1", Def: "BIT(1)", Edges: []string{"b'0'", "b'1'"},
			Gen: func(r *rand.Rand) string { return fmt.Sprintf("b'%d'", r.IntN(2)) }},
		{Name: "b10", Def: "BIT(10)", Edges: []string{"b'0'", "b'1111111111'"},
			Gen: func(r *rand.Rand) string { return fmt.Sprintf("b'%b'", r.IntN(1024)) }},
		{Name: "b64", Def: "BIT(64)", Edges: []string{"b'0'", "b'" + strings.Repeat("1", 64) + "'",
			"b'1" + strings.Repeat("0", 63) + "'"},
			Gen: func(r *rand.Rand) string { return fmt.Sprintf("b'%b'", r.Uint64()) }},
	}}
}

// randDecimal returns a random DECIMAL(65,30) literal.
func randDecimal(r *rand.Rand) string {
	var b strings.Builder
	if r.IntN(2) == 0 {
		b.WriteByte('-')
	}
	b.WriteByte(byte('1' + r.IntN(9)))
	for range r.IntN(35) {
		b.WriteByte(byte('0' + r.IntN(10)))
	}
	b.WriteByte('.')
	for range 1 + r.IntN(30) {
		b.WriteByte(byte('0' + r.IntN(10)))
	}
	return b.String()
}

// RandTime returns a random instant between the start of year from and
// the end of year to, in UTC.
func RandTime(r *rand.Rand, from, to int) time.Time {
	lo := time.Date(from, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	hi := time.Date(to+1, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	return time.Unix(lo+r.Int64N(hi-lo), int64(r.IntN(1e6))*1000).UTC()
}

// QuotedTime returns t formatted with layout as a string literal.
func QuotedTime(t time.Time, layout string) string { return "'" + t.Format(layout) + "'" }

// Layouts of date and time literals.
const (
	layoutDate = "2006-01-02"
	layoutDT   = "2006-01-02 15:04:05"
	// LayoutDT6 is DATETIME(6).
	LayoutDT6 = "2006-01-02 15:04:05.000000"
)

// randTimeOfDay returns a random TIME value, negative half the time.
func randTimeOfDay(r *rand.Rand, frac bool) string {
	sign := ""
	if r.IntN(2) == 0 {
		sign = "-"
	}
	s := fmt.Sprintf("%s%d:%02d:%02d", sign, r.IntN(838), r.IntN(60), r.IntN(60))
	if frac {
		s += fmt.Sprintf(".%06d", r.IntN(1e6))
	}
	return "'" + s + "'"
}

func timeTable() TypeTable {
	return TypeTable{Name: "ty_time", Cols: []Column{
		{Name: "d", Def: "DATE", Edges: []string{"'1000-01-01'", "'9999-12-31'", "'1970-01-01'", "'2000-02-29'"},
			Gen:   func(r *rand.Rand) string { return QuotedTime(RandTime(r, 1000, 9999), layoutDate) },
			Zeros: []string{"'0000-00-00'", "'2020-00-15'", "'2021-02-31'"}},
		{Name: "t6", Def: "TIME(6)", Edges: []string{"'-838:59:59.000000'", "'838:59:59.000000'",
			"'00:00:00.000000'", "'-00:00:00.000001'"},
			Gen: func(r *rand.Rand) string { return randTimeOfDay(r, true) }},
		{Name: "t0", Def: "TIME", Edges: []string{"'-838:59:59'", "'838:59:59'", "'00:00:00'"},
			Gen: func(r *rand.Rand) string { return randTimeOfDay(r, false) }},
		{Name: "dt6", Def: "DATETIME(6)", Edges: []string{"'1000-01-01 00:00:00.000000'",
			"'9999-12-31 23:59:59.999999'", "'1970-01-01 00:00:00.000001'"},
			Gen:   func(r *rand.Rand) string { return QuotedTime(RandTime(r, 1000, 9999), LayoutDT6) },
			Zeros: []string{"'0000-00-00 00:00:00'", "'2019-04-31 12:00:00.5'"}},
		{Name: "dt0", Def: "DATETIME", Edges: []string{"'1000-01-01 00:00:00'", "'9999-12-31 23:59:59'"},
			Gen:   func(r *rand.Rand) string { return QuotedTime(RandTime(r, 1000, 9999), layoutDT) },
			Zeros: []string{"'2021-02-00 10:00:00'", "'0000-00-00 00:00:00'"}},
		{Name: "ts6", Def: "TIMESTAMP(6) NULL DEFAULT NULL", Edges: []string{"FROM_UNIXTIME(1)",
			"FROM_UNIXTIME(2147483647.999999)", "FROM_UNIXTIME(1000000000.123456)"},
			Gen:   func(r *rand.Rand) string { return QuotedTime(RandTime(r, 1971, 2037), LayoutDT6) },
			Zeros: []string{"'0000-00-00 00:00:00'"}},
		{Name: "ts0", Def: "TIMESTAMP NULL DEFAULT NULL", Edges: []string{"FROM_UNIXTIME(1)",
			"FROM_UNIXTIME(2147483647)"},
			Gen: func(r *rand.Rand) string { return QuotedTime(RandTime(r, 1971, 2037), layoutDT) }},
		{Name: "y", Def: "YEAR", Edges: []string{"1901", "2155", "0000"},
			Gen: func(r *rand.Rand) string { return fmt.Sprint(1901 + r.IntN(255)) }},
	}, Extra: []string{
		"upd TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)",
		"created DATETIME(6) DEFAULT CURRENT_TIMESTAMP(6)",
		"g_day INT AS (DAYOFMONTH(d)) VIRTUAL",
	}}
}

func strTable() TypeTable {
	latin1 := func(n int) func(r *rand.Rand) string {
		return func(r *rand.Rand) string { return Latin1Lit(RandLatin1(r, n)) }
	}
	text := func(n int) func(r *rand.Rand) string {
		return func(r *rand.Rand) string { return Str(RandText(r, n)) }
	}
	high := make([]byte, 128)
	for i := range high {
		high[i] = byte(0x80 + i)
	}
	return TypeTable{Name: "ty_str", Cols: []Column{
		{Name: "c", Def: "CHAR(20) CHARACTER SET utf8mb4", Gen: text(20),
			Edges: []string{"''", Str(strings.Repeat("😀", 20)), "'trailing  '"}},
		{Name: "vc", Def: "VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
			Gen: func(r *rand.Rand) string {
				return Str(RandText(r, 100) + strings.Repeat(" ", r.IntN(3)))
			},
			Edges: []string{"''", Str(strings.Repeat("𝄞", 255)), "'   '"}},
		{Name: "tx", Def: "TEXT CHARACTER SET utf8mb4", Gen: text(300),
			Edges: []string{"''", Str(strings.Repeat("😀", 16383))}},
		{Name: "tt", Def: "TINYTEXT CHARACTER SET utf8mb4", Gen: text(60)},
		{Name: "mt", Def: "MEDIUMTEXT CHARACTER SET utf8mb4", Gen: text(500),
			Edges: []string{Str(strings.Repeat("0123456789", 7000))}},
		{Name: "lc", Def: "CHAR(20) CHARACTER SET latin1", Gen: latin1(20),
			Edges: []string{Latin1Lit(high[:20]), Latin1Lit(high[108:])}},
		{Name: "lvc", Def: "VARCHAR(255) CHARACTER SET latin1", Gen: latin1(255),
			Edges: []string{Latin1Lit(high), "''"}},
		{Name: "ltx", Def: "TEXT CHARACTER SET latin1 COLLATE latin1_bin", Gen: latin1(1000),
			Edges: []string{Latin1Lit(high)}},
		{Name: "sinv", Def: "VARCHAR(10) INVISIBLE DEFAULT 'hidden'", Gen: text(10)},
	}, Extra: []string{
		"g_len INT AS (CHAR_LENGTH(vc)) STORED",
		"g_up VARCHAR(255) CHARACTER SET latin1 AS (UPPER(lvc)) VIRTUAL",
		"KEY k_g_len (g_len)",
	}}
}

// RandPadded returns up to n random bytes ending in 0x00 bytes more often
// than not.
func RandPadded(r *rand.Rand, n int) []byte {
	b := RandBytes(r, r.IntN(n+1))
	if len(b) > 0 && r.IntN(3) != 0 {
		for i := len(b) - 1 - r.IntN(len(b)); i < len(b); i++ {
			b[i] = 0
		}
	}
	return b
}

func binTable() TypeTable {
	blob := func(n int) func(r *rand.Rand) string {
		return func(r *rand.Rand) string { return HexLit(RandPadded(r, n)) }
	}
	return TypeTable{Name: "ty_bin", Cols: []Column{
		{Name: "b8", Def: "BINARY(8)", Gen: blob(8), Edges: []string{HexLit(make([]byte, 8)),
			"X'FFFFFFFFFFFFFFFF'", "X'41'", "X''", "X'4100420000000000'"}},
		{Name: "vb", Def: "VARBINARY(64)", Gen: blob(64), Edges: []string{"X''", "X'00'", "X'610000'", "'a''b\\\\c'"}},
		{Name: "tb", Def: "TINYBLOB", Gen: blob(255)},
		{Name: "bl", Def: "BLOB", Gen: blob(2000), Edges: []string{HexLit(make([]byte, 65535))}},
		{Name: "mb", Def: "MEDIUMBLOB", Gen: blob(300), Edges: []string{HexLit(make([]byte, 70000))}},
		{Name: "lb", Def: "LONGBLOB", Gen: blob(300)},
	}}
}

func miscTable() TypeTable {
	enums := []string{"'a'", "'b'", "'c d'", "'é'", "''", "2"}
	sets := []string{"''", "'x'", "'y,z'", "'x,y,z,w'", "'w,x'", "5"}
	return TypeTable{Name: "ty_misc", Cols: []Column{
		{Name: "e", Def: "ENUM('a','b','c d','é','')", Edges: enums[:5], Zeros: []string{"'zzz'"},
			Gen: func(r *rand.Rand) string { return enums[r.IntN(len(enums))] }},
		{Name: "st", Def: "SET('x','y','z','w')", Edges: sets[:4], Zeros: []string{"'x,nope'"},
			Gen: func(r *rand.Rand) string { return sets[r.IntN(len(sets))] }},
		{Name: "j", Def: "JSON", Gen: func(r *rand.Rand) string { return Str(randJSON(r, 3)) },
			Edges: []string{"'{}'", "'[]'", "'null'", `'"\\u00e9😀"'`, "'1.5e300'",
				"'" + strings.Repeat("[", 30) + strings.Repeat("]", 30) + "'"}},
		{Name: "g", Def: "GEOMETRY", Gen: randGeometry, Edges: []string{
			"ST_GeomFromText('POINT(0 0)')", "ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0),(2 2,4 2,4 4,2 2))')",
			"ST_GeomFromText('POINT(1 2)', 4326)"}},
		{Name: "p", Def: "POINT", Edges: []string{"POINT(-1.7976931348623157e308, 1.7976931348623157e308)"},
			Gen: func(r *rand.Rand) string {
				return fmt.Sprintf("POINT(%.9g, %.9g)", r.NormFloat64()*100, r.NormFloat64()*100)
			}},
		{Name: "pg", Def: "POLYGON", Gen: randPolygon},
		{Name: "u", Def: "UUID", Gen: randUUID, Edges: []string{"'00000000-0000-0000-0000-000000000000'",
			"'ffffffff-ffff-ffff-ffff-ffffffffffff'"}},
		{Name: "ip6", Def: "INET6", Gen: randINET6, Edges: []string{"'::'", "'::1'", "'::ffff:192.0.2.1'",
			"'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'"}},
		{Name: "ip4", Def: "INET4", Edges: []string{"'0.0.0.0'", "'255.255.255.255'"},
			Gen: func(r *rand.Rand) string {
				return fmt.Sprintf("'%d.%d.%d.%d'", r.IntN(256), r.IntN(256), r.IntN(256), r.IntN(256))
			}},
	}, Extra: []string{
		"g_k VARCHAR(64) AS (LEFT(JSON_UNQUOTE(JSON_EXTRACT(j, '$.k')), 64)) VIRTUAL",
	}}
}

// randJSON returns a random JSON document nested up to depth levels.
func randJSON(r *rand.Rand, depth int) string {
	switch k := r.IntN(8); {
	case depth == 0 || k < 3:
		scalars := []string{"null", "true", "false", "0", "-1.25e-10", "18446744073709551615",
			`"x"`, `"é😀\"q\\"`, `""`}
		return scalars[r.IntN(len(scalars))]
	case k < 5:
		parts := make([]string, r.IntN(4))
		for i := range parts {
			parts[i] = randJSON(r, depth-1)
		}
		return "[" + strings.Join(parts, ",") + "]"
	default:
		parts := make([]string, r.IntN(4))
		for i := range parts {
			parts[i] = fmt.Sprintf(`"%s":%s`, []string{"k", "a", "ü", "b c"}[i], randJSON(r, depth-1))
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
}

func randGeometry(r *rand.Rand) string {
	switch r.IntN(3) {
	case 0:
		return fmt.Sprintf("ST_GeomFromText('POINT(%d %d)')", r.IntN(1000)-500, r.IntN(1000)-500)
	case 1:
		return fmt.Sprintf("ST_GeomFromText('LINESTRING(0 0,%d %d,%d 3)')", r.IntN(100), r.IntN(100), r.IntN(100))
	default:
		return randPolygon(r)
	}
}

func randPolygon(r *rand.Rand) string {
	x, y, d := r.IntN(100), r.IntN(100), 1+r.IntN(50)
	return fmt.Sprintf("ST_GeomFromText('POLYGON((%d %d,%d %d,%d %d,%d %d))')",
		x, y, x+d, y, x+d, y+d, x, y)
}

func randUUID(r *rand.Rand) string {
	b := RandBytes(r, 16)
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("'%x-%x-%x-%x-%x'", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func randINET6(r *rand.Rand) string {
	parts := make([]string, 8)
	for i := range parts {
		parts[i] = fmt.Sprintf("%x", r.IntN(1<<16))
	}
	return "'" + strings.Join(parts, ":") + "'"
}

// ColumnList returns "id" and the writable columns, quoted.
func (t TypeTable) ColumnList() []string {
	cols := []string{"id"}
	for _, c := range t.Cols {
		cols = append(cols, Ident(c.Name))
	}
	return cols
}
