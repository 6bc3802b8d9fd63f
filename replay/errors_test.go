package replay_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/binlog-replay/binlog-replay/replay"
)

// TestApplyErrorHidesValues checks that an ApplyError quotes the server's
// message without its values, keeping the code and the key name, unless
// LogValues is set.
func TestApplyErrorHidesValues(t *testing.T) {
	server := &mysql.MySQLError{Number: 1062, SQLState: [5]byte{'2', '3', '0', '0', '0'}, Message: "Duplicate entry 'secret' for key 'uk_email'"}
	ae := &replay.ApplyError{Seq: 7, Event: "WRITE_ROWS_EVENT at f:4", Table: "db.t",
		Err: fmt.Errorf("commit: %w", server)}
	got := ae.Error()
	if strings.Contains(got, "secret") || !strings.Contains(got, "Error 1062 (23000): Duplicate entry '?' for key 'uk_email'") ||
		!strings.Contains(got, "on table db.t") {
		t.Errorf("values hidden: %s", got)
	}
	ae.LogValues = true
	if got := ae.Error(); !strings.Contains(got, "Duplicate entry 'secret' for key 'uk_email'") {
		t.Errorf("LogValues: %s", got)
	}
}
