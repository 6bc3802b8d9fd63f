package sqlgen

import "github.com/binlog-replay/binlog-replay/redact"

// Describe shows s in an error: the start of its SQL (its
// literals replaced by ? unless logValues is set), or the size of the
// BINLOG statement that passes its row events through.
func Describe(s *Stmt, logValues bool) string {
	switch {
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
