package workload

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// column is one writable column of a Types table.
type column struct {
	name string
	def  string
	// gen returns a random non-NULL SQL literal or expression.
	gen func(r *rand.Rand) string
	// edges are the limit values; base row k takes edges[k] when it exists.
	edges []string
	// zeros need the permissive sql_mode (zero or invalid dates, bad enums).
	zeros []string
}

// typeTable is a Types table: writable columns plus generated columns,
// invisible columns and keys that are declared but never written.
type typeTable struct {
	name  string
	cols  []column
	extra []string
}

func intCol(name, def string, lo, hi int64, edges ...string) column {
	return column{name: name, def: def, edges: edges,
		gen: func(r *rand.Rand) string { return fmt.Sprint(lo + r.Int64N(hi-lo+1)) }}
}

func typeTables() []typeTable {
	return []typeTable{intTable(), numTable(), timeTable(), strTable(), binTable(), miscTable()}
}

func intTable() typeTable {
	return typeTable{name: "ty_int", cols: []column{
		intCol("ti", "TINYINT", -128, 127, "-128", "127", "0", "-1"),
		intCol("tu", "TINYINT UNSIGNED", 0, 255, "0", "255", "128"),
		intCol("si", "SMALLINT", -32768, 32767, "-32768", "32767", "0"),
		intCol("su", "SMALLINT UNSIGNED", 0, 65535, "0", "65535", "32768"),
		intCol("mi", "MEDIUMINT", -8388608, 8388607, "-8388608", "8388607", "0"),
		intCol("mu", "MEDIUMINT UNSIGNED", 0, 16777215, "0", "16777215", "8388608"),
		intCol("i", "INT", math.MinInt32, math.MaxInt32, "-2147483648", "2147483647", "0"),
		intCol("iu", "INT UNSIGNED", 0, math.MaxUint32, "0", "4294967295", "2147483648"),
		{name: "bi", def: "BIGINT", edges: []string{"-9223372036854775808", "9223372036854775807", "0", "-1"},
			gen: func(r *rand.Rand) string { return fmt.Sprint(int64(r.Uint64())) }},
		{name: "bu", def: "BIGINT UNSIGNED", edges: []string{"0", "18446744073709551615", "9223372036854775808"},
			gen: func(r *rand.Rand) string { return fmt.Sprint(r.Uint64()) }},
		intCol("inv", "INT INVISIBLE DEFAULT 42", -1000, 1000, "-1000", "1000"),
	}, extra: []string{
		"g_sum BIGINT AS (COALESCE(ti,0) + COALESCE(si,0) + COALESCE(mi,0)) VIRTUAL",
		"g_bu VARCHAR(20) AS (CAST(bu AS CHAR)) STORED",
		"KEY k_g_sum (g_sum)",
	}}
}

func numTable() typeTable {
	return typeTable{name: "ty_num", cols: []column{
		{name: "d65", def: "DECIMAL(65,30)", gen: randDecimal, edges: []string{
			"99999999999999999999999999999999999.999999999999999999999999999999",
			"-99999999999999999999999999999999999.999999999999999999999999999999",
			"0", "0.000000000000000000000000000001", "-0.000000000000000000000000000001"}},
		{name: "d10", def: "DECIMAL(10,2)", edges: []string{"99999999.99", "-99999999.99", "0.01"},
			gen: func(r *rand.Rand) string { return fmt.Sprintf("%.2f", (r.Float64()*2-1)*1e8*0.99) }},
		{name: "d20", def: "DECIMAL(20,0) UNSIGNED", edges: []string{"99999999999999999999", "0"},
			gen: func(r *rand.Rand) string { return fmt.Sprint(r.Uint64()) }},
		{name: "f", def: "FLOAT", edges: []string{"3.40282e38", "-3.40282e38", "1.17549e-38", "0", "-1.5"},
			gen: func(r *rand.Rand) string {
				return fmt.Sprintf("%.6g", (r.Float64()*2-1)*math.Pow(10, float64(r.IntN(70)-35)))
			}},
		{name: "db", def: "DOUBLE", edges: []string{"1.7976931348623157e308", "-1.7976931348623157e308",
			"2.2250738585072014e-308", "5e-324", "0"},
			gen: func(r *rand.Rand) string {
				return fmt.Sprintf("%.17g", (r.Float64()*2-1)*math.Pow(10, float64(r.IntN(600)-300)))
			}},
		{name: "b1", def: "BIT(1)", edges: []string{"b'0'", "b'1'"},
			gen: func(r *rand.Rand) string { return fmt.Sprintf("b'%d'", r.IntN(2)) }},
		{name: "b10", def: "BIT(10)", edges: []string{"b'0'", "b'1111111111'"},
			gen: func(r *rand.Rand) string { return fmt.Sprintf("b'%b'", r.IntN(1024)) }},
		{name: "b64", def: "BIT(64)", edges: []string{"b'0'", "b'" + strings.Repeat("1", 64) + "'",
			"b'1" + strings.Repeat("0", 63) + "'"},
			gen: func(r *rand.Rand) string { return fmt.Sprintf("b'%b'", r.Uint64()) }},
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

// randTime returns a random instant between the start of year from and
// the end of year to, in UTC.
func randTime(r *rand.Rand, from, to int) time.Time {
	lo := time.Date(from, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	hi := time.Date(to+1, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	return time.Unix(lo+r.Int64N(hi-lo), int64(r.IntN(1e6))*1000).UTC()
}

func quotedTime(t time.Time, layout string) string { return "'" + t.Format(layout) + "'" }

const (
	layoutDate = "2006-01-02"
	layoutDT   = "2006-01-02 15:04:05"
	layoutDT6  = "2006-01-02 15:04:05.000000"
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

func timeTable() typeTable {
	return typeTable{name: "ty_time", cols: []column{
		{name: "d", def: "DATE", edges: []string{"'1000-01-01'", "'9999-12-31'", "'1970-01-01'", "'2000-02-29'"},
			gen:   func(r *rand.Rand) string { return quotedTime(randTime(r, 1000, 9999), layoutDate) },
			zeros: []string{"'0000-00-00'", "'2020-00-15'", "'2021-02-31'"}},
		{name: "t6", def: "TIME(6)", edges: []string{"'-838:59:59.000000'", "'838:59:59.000000'",
			"'00:00:00.000000'", "'-00:00:00.000001'"},
			gen: func(r *rand.Rand) string { return randTimeOfDay(r, true) }},
		{name: "t0", def: "TIME", edges: []string{"'-838:59:59'", "'838:59:59'", "'00:00:00'"},
			gen: func(r *rand.Rand) string { return randTimeOfDay(r, false) }},
		{name: "dt6", def: "DATETIME(6)", edges: []string{"'1000-01-01 00:00:00.000000'",
			"'9999-12-31 23:59:59.999999'", "'1970-01-01 00:00:00.000001'"},
			gen:   func(r *rand.Rand) string { return quotedTime(randTime(r, 1000, 9999), layoutDT6) },
			zeros: []string{"'0000-00-00 00:00:00'", "'2019-04-31 12:00:00.5'"}},
		{name: "dt0", def: "DATETIME", edges: []string{"'1000-01-01 00:00:00'", "'9999-12-31 23:59:59'"},
			gen:   func(r *rand.Rand) string { return quotedTime(randTime(r, 1000, 9999), layoutDT) },
			zeros: []string{"'2021-02-00 10:00:00'", "'0000-00-00 00:00:00'"}},
		{name: "ts6", def: "TIMESTAMP(6) NULL DEFAULT NULL", edges: []string{"FROM_UNIXTIME(1)",
			"FROM_UNIXTIME(2147483647.999999)", "FROM_UNIXTIME(1000000000.123456)"},
			gen:   func(r *rand.Rand) string { return quotedTime(randTime(r, 1971, 2037), layoutDT6) },
			zeros: []string{"'0000-00-00 00:00:00'"}},
		{name: "ts0", def: "TIMESTAMP NULL DEFAULT NULL", edges: []string{"FROM_UNIXTIME(1)",
			"FROM_UNIXTIME(2147483647)"},
			gen: func(r *rand.Rand) string { return quotedTime(randTime(r, 1971, 2037), layoutDT) }},
		{name: "y", def: "YEAR", edges: []string{"1901", "2155", "0000"},
			gen: func(r *rand.Rand) string { return fmt.Sprint(1901 + r.IntN(255)) }},
	}, extra: []string{
		"upd TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)",
		"created DATETIME(6) DEFAULT CURRENT_TIMESTAMP(6)",
		"g_day INT AS (DAYOFMONTH(d)) VIRTUAL",
	}}
}

func strTable() typeTable {
	latin1 := func(n int) func(r *rand.Rand) string {
		return func(r *rand.Rand) string { return latin1Lit(randLatin1(r, n)) }
	}
	text := func(n int) func(r *rand.Rand) string {
		return func(r *rand.Rand) string { return str(randText(r, n)) }
	}
	high := make([]byte, 128)
	for i := range high {
		high[i] = byte(0x80 + i)
	}
	return typeTable{name: "ty_str", cols: []column{
		{name: "c", def: "CHAR(20) CHARACTER SET utf8mb4", gen: text(20),
			edges: []string{"''", str(strings.Repeat("😀", 20)), "'trailing  '"}},
		{name: "vc", def: "VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
			gen:   func(r *rand.Rand) string { return str(randText(r, 100) + strings.Repeat(" ", r.IntN(3))) },
			edges: []string{"''", str(strings.Repeat("𝄞", 255)), "'   '"}},
		{name: "tx", def: "TEXT CHARACTER SET utf8mb4", gen: text(300),
			edges: []string{"''", str(strings.Repeat("😀", 16383))}},
		{name: "tt", def: "TINYTEXT CHARACTER SET utf8mb4", gen: text(60)},
		{name: "mt", def: "MEDIUMTEXT CHARACTER SET utf8mb4", gen: text(500),
			edges: []string{str(strings.Repeat("0123456789", 7000))}},
		{name: "lc", def: "CHAR(20) CHARACTER SET latin1", gen: latin1(20),
			edges: []string{latin1Lit(high[:20]), latin1Lit(high[108:])}},
		{name: "lvc", def: "VARCHAR(255) CHARACTER SET latin1", gen: latin1(255),
			edges: []string{latin1Lit(high), "''"}},
		{name: "ltx", def: "TEXT CHARACTER SET latin1 COLLATE latin1_bin", gen: latin1(1000),
			edges: []string{latin1Lit(high)}},
		{name: "sinv", def: "VARCHAR(10) INVISIBLE DEFAULT 'hidden'", gen: text(10)},
	}, extra: []string{
		"g_len INT AS (CHAR_LENGTH(vc)) STORED",
		"g_up VARCHAR(255) CHARACTER SET latin1 AS (UPPER(lvc)) VIRTUAL",
		"KEY k_g_len (g_len)",
	}}
}

// randPadded returns up to n random bytes ending in 0x00 bytes more often
// than not.
func randPadded(r *rand.Rand, n int) []byte {
	b := randBytes(r, r.IntN(n+1))
	if len(b) > 0 && r.IntN(3) != 0 {
		for i := len(b) - 1 - r.IntN(len(b)); i < len(b); i++ {
			b[i] = 0
		}
	}
	return b
}

func binTable() typeTable {
	blob := func(n int) func(r *rand.Rand) string {
		return func(r *rand.Rand) string { return hexLit(randPadded(r, n)) }
	}
	return typeTable{name: "ty_bin", cols: []column{
		{name: "b8", def: "BINARY(8)", gen: blob(8), edges: []string{hexLit(make([]byte, 8)),
			"X'FFFFFFFFFFFFFFFF'", "X'41'", "X''", "X'4100420000000000'"}},
		{name: "vb", def: "VARBINARY(64)", gen: blob(64), edges: []string{"X''", "X'00'", "X'610000'", "'a''b\\\\c'"}},
		{name: "tb", def: "TINYBLOB", gen: blob(255)},
		{name: "bl", def: "BLOB", gen: blob(2000), edges: []string{hexLit(make([]byte, 65535))}},
		{name: "mb", def: "MEDIUMBLOB", gen: blob(300), edges: []string{hexLit(make([]byte, 70000))}},
		{name: "lb", def: "LONGBLOB", gen: blob(300)},
	}}
}

func miscTable() typeTable {
	enums := []string{"'a'", "'b'", "'c d'", "'é'", "''", "2"}
	sets := []string{"''", "'x'", "'y,z'", "'x,y,z,w'", "'w,x'", "5"}
	return typeTable{name: "ty_misc", cols: []column{
		{name: "e", def: "ENUM('a','b','c d','é','')", edges: enums[:5], zeros: []string{"'zzz'"},
			gen: func(r *rand.Rand) string { return enums[r.IntN(len(enums))] }},
		{name: "st", def: "SET('x','y','z','w')", edges: sets[:4], zeros: []string{"'x,nope'"},
			gen: func(r *rand.Rand) string { return sets[r.IntN(len(sets))] }},
		{name: "j", def: "JSON", gen: func(r *rand.Rand) string { return str(randJSON(r, 3)) },
			edges: []string{"'{}'", "'[]'", "'null'", `'"\\u00e9😀"'`, "'1.5e300'",
				"'" + strings.Repeat("[", 30) + strings.Repeat("]", 30) + "'"}},
		{name: "g", def: "GEOMETRY", gen: randGeometry, edges: []string{
			"ST_GeomFromText('POINT(0 0)')", "ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0),(2 2,4 2,4 4,2 2))')",
			"ST_GeomFromText('POINT(1 2)', 4326)"}},
		{name: "p", def: "POINT", edges: []string{"POINT(-1.7976931348623157e308, 1.7976931348623157e308)"},
			gen: func(r *rand.Rand) string {
				return fmt.Sprintf("POINT(%.9g, %.9g)", r.NormFloat64()*100, r.NormFloat64()*100)
			}},
		{name: "pg", def: "POLYGON", gen: randPolygon},
		{name: "u", def: "UUID", gen: randUUID, edges: []string{"'00000000-0000-0000-0000-000000000000'",
			"'ffffffff-ffff-ffff-ffff-ffffffffffff'"}},
		{name: "ip6", def: "INET6", gen: randINET6, edges: []string{"'::'", "'::1'", "'::ffff:192.0.2.1'",
			"'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'"}},
		{name: "ip4", def: "INET4", edges: []string{"'0.0.0.0'", "'255.255.255.255'"},
			gen: func(r *rand.Rand) string {
				return fmt.Sprintf("'%d.%d.%d.%d'", r.IntN(256), r.IntN(256), r.IntN(256), r.IntN(256))
			}},
	}, extra: []string{
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
	b := randBytes(r, 16)
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
