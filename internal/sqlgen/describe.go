package sqlgen

import "github.com/binlog-replay/binlog-replay/redact"

// Describe shows s in an error: the start of its SQL (its
// literals replaced by ? unless logValues is set), the size of the
// BINLOG statement that passes its row events through, or what a check of
// rows (Stmt.Expect) is.
func Describe(s *Stmt, logValues bool) string {
	switch {
	case s.Expect != nil:
		return "the check of the rows the row event changes (SELECT ... FOR UPDATE)"
	case s.Events != nil:
		return redact.BinlogStatement(BinlogSize(s.Events))
	case logValues:
		return abbreviate(s.SQL, 200)
	}
	return abbreviate(redact.SQL(s.SQL), 200)
}

func abbreviate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
