package target_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/binlog-replay/binlog-replay/internal/sandbox"
	"github.com/binlog-replay/binlog-replay/internal/target"
)

// TestCheckNothingLoggedPast: a GTID past the checkpoint's last refuses a
// resume keeping the source's GTIDs; when it has the pending transaction's
// sequence number under another server id (MariaDB logs a DDL it completes
// in crash recovery so), the refusal says so; the pending GTID itself is
// no obstacle, and neither is one no higher than the highest the source's
// binlogs logged in the domain before the checkpoint (they need not rise).
func TestCheckNothingLoggedPast(t *testing.T) {
	ctx := context.Background()
	conn := binlogConn(t)
	var own string
	if err := conn.QueryRowContext(ctx, "SELECT @@server_id").Scan(&own); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"SET SESSION gtid_domain_id=7, SESSION server_id=100, SESSION gtid_seq_no=10", "CREATE DATABASE a",
		"SET SESSION server_id=" + own + ", SESSION gtid_seq_no=11", "CREATE DATABASE b",
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	logged := "7-" + own + "-11"
	for _, c := range []struct {
		pending, want string
		highest       uint64
	}{
		{"7-100-11", target.LoggedPendingAsOwn, 0},
		{"7-100-15", target.LoggedPendingAsOwn, 0}, // the source's numbers have a gap
		{"7-" + own + "-12", "past the checkpoint's last transaction 7-100-10", 0},
		{"", "past the checkpoint's last transaction 7-100-10", 0},
		{"", "past the checkpoint's last transaction 7-100-10", 10},
		{"", "", 11}, // the source logged 11 before 10: the target logged it so
		{logged, "", 0},
	} {
		err := target.CheckNothingLoggedPast(ctx, conn, "7-100-10", c.pending, c.highest)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("pending %q: %v, want nil", c.pending, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), logged)):
			t.Errorf("pending %q: %v, want an error naming %s and saying %q", c.pending, err, logged, c.want)
		}
	}
}

// TestLoggedGTID: the GTID state holds the last GTID each domain and server
// id logged, which need not be its highest: a GTID below it is logged only
// if the binlog holds it (a statement logging a second event group takes
// the domain's next number after it), one above it is not.
func TestLoggedGTID(t *testing.T) {
	ctx := context.Background()
	conn := binlogConn(t)
	for _, q := range []string{
		"SET SESSION gtid_domain_id=7, SESSION server_id=100, SESSION gtid_seq_no=20", "CREATE DATABASE a",
		"SET SESSION gtid_seq_no=10", "CREATE DATABASE b", // 7-100-10, after 20
		"CREATE DATABASE c", // 7-100-21: the domain's next
		"SET SESSION gtid_domain_id=8, SESSION gtid_seq_no=30", "CREATE DATABASE d",
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for g, want := range map[string]bool{
		"7-100-21": true,  // the last
		"7-100-10": true,  // below the last, in the binlog
		"7-100-15": false, // below the last, not in the binlog
		"7-100-22": false, // above the last
		"7-101-21": false, // another server id
		"8-100-30": true,
		"8-100-29": false,
	} {
		got, err := target.LoggedGTID(ctx, conn, g)
		if err != nil || got != want {
			t.Errorf("LoggedGTID(%s) = %v, %v; want %v", g, got, err, want)
		}
	}

	// Five rotations later, 7-100-10 is in a file older than the five
	// newest, which LoggedGTID reads: it cannot tell, rather than say
	// "not logged" (nor can it for 7-100-15). The last is still told.
	for range 5 {
		if _, err := conn.ExecContext(ctx, "FLUSH NO_WRITE_TO_BINLOG BINARY LOGS"); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range []string{"7-100-10", "7-100-15"} {
		if got, err := target.LoggedGTID(ctx, conn, g); !errors.Is(err, target.ErrLoggedUnknown) {
			t.Errorf("LoggedGTID(%s), in no file read = %v, %v; want ErrLoggedUnknown", g, got, err)
		}
	}
	for _, g := range []string{"7-100-21", "8-100-30"} {
		if got, err := target.LoggedGTID(ctx, conn, g); err != nil || !got {
			t.Errorf("LoggedGTID(%s), the last = %v, %v; want true", g, got, err)
		}
	}
}

// binlogConn returns a connection to a throwaway server writing a binlog.
func binlogConn(t *testing.T) *sql.Conn {
	t.Helper()
	ctx := context.Background()
	s := sandbox.ForTest(t, sandbox.Options{Binlog: true})
	db, err := s.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
