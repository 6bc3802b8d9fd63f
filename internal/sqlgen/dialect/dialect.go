// Package dialect bridges what a MySQL source logs and what a MariaDB
// target accepts: the target's collations with stand-ins for the MySQL 8
// ones it lacks, and MySQL 8's version comment for invisible columns.
package dialect

import (
	"regexp"

	"github.com/binlog-replay/binlog-replay/sqlscan"
)

// mysqlInvisible matches MySQL 8's version comment for an invisible
// column. MySQL writes it in the CREATE TABLE it logs for a table given a
// generated invisible primary key (`my_row_id` bigint unsigned NOT NULL
// AUTO_INCREMENT /*!80023 INVISIBLE */) and in SHOW CREATE TABLE output
// that users run again. MariaDB takes the INVISIBLE attribute but ignores
// every /*!NNNNN comment from 50700 to 99999 as MySQL-only, so without a
// rewrite the column would silently become visible on a MariaDB target:
// SELECT * and INSERT without a column list would then see one column more
// than on the source. (An invisible index is /*!80000 INVISIBLE */, which
// MariaDB has no syntax for; it is left alone.)
var mysqlInvisible = regexp.MustCompile(`(?i)/\*!80023\s+INVISIBLE\s*\*/`)

// InvisibleForMariaDB returns sql with each MySQL /*!80023 INVISIBLE */
// comment in its code (not inside a string literal or a plain comment)
// written as a plain INVISIBLE, and whether it changed anything.
func InvisibleForMariaDB(sql []byte) ([]byte, bool) {
	locs := mysqlInvisible.FindAllIndex(sql, -1)
	if locs == nil {
		return sql, false
	}
	values := sqlscan.ValueSpans(sql)
	out := make([]byte, 0, len(sql))
	last, changed := 0, false
	for _, loc := range locs {
		if inSpans(values, loc[0]) {
			continue
		}
		out = append(out, sql[last:loc[0]]...)
		out = append(out, " INVISIBLE "...)
		last, changed = loc[1], true
	}
	if !changed {
		return sql, false
	}
	return append(out, sql[last:]...), true
}

// inSpans reports whether offset i falls inside one of spans (sorted).
func inSpans(spans []sqlscan.Span, i int) bool {
	for _, s := range spans {
		if s.Start > i {
			return false
		}
		if i < s.End {
			return true
		}
	}
	return false
}
