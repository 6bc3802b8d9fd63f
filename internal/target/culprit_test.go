package target

import (
	"errors"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/binlog-replay/binlog-replay/internal/sqlgen"
)

// TestCulprit: the statement of a failed packet that an error names by
// its code, whatever its place in the packet.
func TestCulprit(t *testing.T) {
	gtid := &sqlgen.Stmt{SQL: "SET SESSION gtid_domain_id=1, SESSION server_id=7;\nSET SESSION gtid_seq_no=3"}
	use := &sqlgen.Stmt{SQL: "USE `db`"}
	set := &sqlgen.Stmt{SQL: "SET INSERT_ID=5"}
	batched := []*sqlgen.Stmt{gtid, set, use}
	for _, c := range []struct {
		code uint16
		want *sqlgen.Stmt
	}{
		{errBadDB, use},
		{errGTIDSwitch, gtid},
		{1062, nil},
	} {
		if got := culprit(batched, &mysql.MySQLError{Number: c.code}); got != c.want {
			t.Errorf("error %d: culprit %v, want %v", c.code, got, c.want)
		}
	}
	if got := culprit(batched, errors.New("not a server error")); got != nil {
		t.Errorf("a client error: culprit %v, want none", got)
	}
}
