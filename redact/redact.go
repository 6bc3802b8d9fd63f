// Package redact keeps data values out of what the tool prints: the
// literals of logged SQL, the row values of binlog events and the values
// servers quote in their error messages. Every message that could carry
// such values goes through it unless the user asked for them
// (--log-values); table, column and key names stay visible, so that the
// message still says what to fix.
package redact

import (
	"fmt"
	"strings"

	"github.com/binlog-replay/binlog-replay/sqlscan"
)

// Mark replaces each value left out.
const Mark = "?"

// SQL returns sql with every string and number literal and every comment
// (but the code of executable comments) replaced by Mark, e.g.
// "INSERT INTO t VALUES (?, ?)". Identifiers and keywords are kept.
func SQL(sql string) string {
	spans := sqlscan.ValueSpans([]byte(sql))
	if len(spans) == 0 {
		return sql
	}
	var b strings.Builder
	last := 0
	for _, sp := range spans {
		b.WriteString(sql[last:sp.Start])
		b.WriteString(Mark)
		last = sp.End
	}
	b.WriteString(sql[last:])
	return b.String()
}

// BinlogStatement describes a BINLOG statement of n bytes (row events in
// base64) without its content.
func BinlogStatement(n int) string {
	return fmt.Sprintf("BINLOG statement (%d bytes)", n)
}

// namesOnly are the server errors whose messages quote only names (of
// users, tables, columns, keys, collations) and numbers: they are kept whole.
var namesOnly = map[uint16]bool{
	1007: true, 1008: true, 1032: true, 1044: true, 1045: true, 1048: true, // db exists/missing, record not found, access, NULL column
	1049: true, 1050: true, 1051: true, 1053: true, 1054: true, 1060: true, // unknown db, table exists/unknown, shutdown, unknown/dup column
	1061: true, 1091: true, 1094: true, 1115: true, 1136: true, 1142: true, // dup key name, can't drop, thread id, charset, column count, denied
	1143: true, 1146: true, 1153: true, 1205: true, 1213: true, 1216: true, // denied, no table, packet, lock wait, deadlock, FK
	1217: true, 1227: true, 1264: true, 1265: true, 1273: true, 1290: true, // FK, privilege, out of range, truncated, collation, read-only
	1305: true, 1359: true, 1360: true, 1364: true, 1406: true, 1451: true, // routine, trigger, no default, too long, FK
	1452: true, 1927: true, 3819: true, 4025: true, // FK, connection killed, CHECK constraints
}

// ServerMessage returns msg, the message of server error code, with the
// values it may quote replaced by Mark: "Duplicate entry 'x' for key
// 'PRIMARY'" becomes "Duplicate entry '?' for key 'PRIMARY'". Messages of
// errors known to quote only names are returned whole; in those of other
// errors, everything from the first single quote to the last is replaced
// (a value may itself hold quotes), except what follows the value in the
// usual "... 'value' for key 'name'", "... for column ...", "... at line
// N" shapes.
func ServerMessage(code uint16, msg string) string {
	if namesOnly[code] {
		return msg
	}
	start := strings.IndexByte(msg, '\'')
	if start < 0 {
		return msg
	}
	end := -1
	for _, tail := range []string{"' for ", "' at line "} {
		if i := strings.LastIndex(msg, tail); i > start {
			end = i
			break
		}
	}
	if end < 0 {
		end = strings.LastIndexByte(msg, '\'')
	}
	if end <= start {
		return msg[:start+1] + Mark
	}
	return msg[:start+1] + Mark + msg[end:]
}

// Text returns text, free-form output such as a client's error lines,
// with everything from the first single quote to the last on each line
// replaced by Mark.
func Text(text string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		start, end := strings.IndexByte(l, '\''), strings.LastIndexByte(l, '\'')
		switch {
		case start < 0:
		case end == start:
			lines[i] = l[:start+1] + Mark
		default:
			lines[i] = l[:start+1] + Mark + l[end:]
		}
	}
	return strings.Join(lines, "\n")
}
