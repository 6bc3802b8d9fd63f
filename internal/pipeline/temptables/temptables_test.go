package temptables

import (
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/target"
	"github.com/binlog-replay/binlog-replay/txn"
)

// TestTempTablesLostNamesPending: the refusal to resume where temporary
// tables are open says what the target holds, and names the transaction
// the checkpoint holds as pending, whose outcome the refused resume
// cannot settle.
func TestTempTablesLostNamesPending(t *testing.T) {
	cp := &target.Checkpoint{Next: txn.Position{File: "mysql-bin.000002", Offset: 117936}, State: target.StateRunning,
		TempTables: "soak.tmp_s0 (session 7)"}
	msg := Lost(cp).Error()
	for _, want := range []string{"cannot resume at mysql-bin.000002:117936", "soak.tmp_s0 (session 7)",
		"the target holds every transaction before mysql-bin.000002:117936"} {
		if !strings.Contains(msg, want) {
			t.Errorf("no transaction pending: %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "MAY HOLD PART") {
		t.Errorf("no transaction pending: %q names one", msg)
	}
	for _, state := range []string{target.StateDDL, target.StateNonTrans} {
		cp.State = state
		cp.Pending = target.Pending{Start: cp.Next, GTID: "0-1-310", What: "soak.m (MyISAM)"}
		msg := Lost(cp).Error()
		if !strings.Contains(msg, "MAY HOLD PART OF THE TRANSACTION AT mysql-bin.000002:117936 (GTID 0-1-310)") ||
			!strings.Contains(msg, "soak.m (MyISAM)") {
			t.Errorf("state %s: %q does not name the pending transaction", state, msg)
		}
	}
}
